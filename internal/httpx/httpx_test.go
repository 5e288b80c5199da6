package httpx

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"itdr-onboard/internal/testutil"
)

// fakeClock is a clock that only moves when the fake Sleep is called.
type fakeClock struct{ testutil.FakeClock }

func newFakeClock() *fakeClock { return &fakeClock{} }

func (c *fakeClock) policy() Policy {
	return Policy{Sleep: c.Sleep, Now: c.Now, Jitter: func(d time.Duration) time.Duration { return d }}
}

func TestBackoffCapped(t *testing.T) {
	p := Policy{}
	want := []time.Duration{200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond,
		1600 * time.Millisecond, 3200 * time.Millisecond, 6400 * time.Millisecond, 10 * time.Second, 10 * time.Second}
	for i, w := range want {
		if got := p.Backoff(i + 1); got != w {
			t.Errorf("Backoff(%d) = %v, want %v", i+1, got, w)
		}
	}
	if got := p.Backoff(500); got != 10*time.Second {
		t.Errorf("Backoff(500) = %v", got)
	}
}

func TestDefaultJitterWithinHalfToFull(t *testing.T) {
	for range 200 {
		d := halfJitter(time.Second)
		if d < 500*time.Millisecond || d > time.Second {
			t.Fatalf("jitter %v out of [0.5s,1s]", d)
		}
	}
}

func TestRetryAfterParsing(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		h    http.Header
		want time.Duration
	}{
		{http.Header{"Retry-After": {"7"}}, 7 * time.Second},
		{http.Header{"Retry-After": {now.Add(90 * time.Second).Format(http.TimeFormat)}}, 90 * time.Second},
		{http.Header{"Retry-After": {now.Add(-time.Minute).Format(http.TimeFormat)}}, 0},
		{http.Header{"Retry-After": {"soon"}}, 0},
		{http.Header{"Retry-After": {"-3"}}, 0},
		{http.Header{"Rate-Limit-Reset": {"3"}}, 3 * time.Second},
		{http.Header{"Rate-Limit-Reset": {now.Add(4 * time.Second).Format(time.RFC3339)}}, 4 * time.Second},
		{http.Header{}, 0},
	}
	for i, c := range cases {
		if got := RetryAfter(c.h, now); got != c.want {
			t.Errorf("case %d %v: got %v want %v", i, c.h, got, c.want)
		}
	}
}

func TestRetries503ThenSuccess(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.WriteHeader(503)
			return
		}
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	clk := newFakeClock()
	resp, err := Do(context.Background(), srv.Client(), clk.policy(), Request{Method: "GET", URL: srv.URL, Call: "GET /x", Idempotent: true})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Attempts != 2 || string(resp.Body) != `{"ok":true}` {
		t.Fatalf("attempts %d body %q", resp.Attempts, resp.Body)
	}
	if s := clk.Sleeps(); len(s) != 1 || s[0] != 200*time.Millisecond {
		t.Fatalf("sleeps %v, want [200ms]", s)
	}
}

func TestHonours429RetryAfter(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= 2 {
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(429)
			return
		}
		w.WriteHeader(204)
	}))
	defer srv.Close()
	clk := newFakeClock()
	// Non-idempotent without recheck: a 429 is still retried (not acted on).
	resp, err := Do(context.Background(), srv.Client(), clk.policy(), Request{Method: "POST", URL: srv.URL, Call: "POST /x", Body: []byte("{}")})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Attempts != 3 {
		t.Fatalf("attempts %d", resp.Attempts)
	}
	s := clk.Sleeps()
	if len(s) != 2 || s[0] != 7*time.Second || s[1] != 7*time.Second {
		t.Fatalf("sleeps %v, want [7s 7s]", s)
	}
}

func TestWriteWithoutRecheckNotRetriedOn503(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(503)
	}))
	defer srv.Close()
	clk := newFakeClock()
	_, err := Do(context.Background(), srv.Client(), clk.policy(), Request{Method: "POST", URL: srv.URL, Call: "POST /x", Body: []byte("{}")})
	var se *StatusError
	if !errors.As(err, &se) || se.Status != 503 {
		t.Fatalf("err %v", err)
	}
	if n.Load() != 1 {
		t.Fatalf("%d requests, want 1", n.Load())
	}
}

func TestRecheckStopsDuplicateWrite(t *testing.T) {
	var posts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		posts.Add(1)
		w.WriteHeader(502)
	}))
	defer srv.Close()
	clk := newFakeClock()
	checks := 0
	_, err := Do(context.Background(), srv.Client(), clk.policy(), Request{Method: "POST", URL: srv.URL, Call: "POST /x", Body: []byte("{}"),
		Recheck: func(context.Context) (bool, error) { checks++; return true, nil }})
	if !errors.Is(err, ErrAlreadyDone) {
		t.Fatalf("err %v", err)
	}
	if posts.Load() != 1 || checks != 1 {
		t.Fatalf("posts %d checks %d", posts.Load(), checks)
	}
}

func TestRecheckAbsentRetries(t *testing.T) {
	var posts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if posts.Add(1) == 1 {
			w.WriteHeader(500)
			return
		}
		w.WriteHeader(201)
	}))
	defer srv.Close()
	clk := newFakeClock()
	checks := 0
	resp, err := Do(context.Background(), srv.Client(), clk.policy(), Request{Method: "POST", URL: srv.URL, Call: "POST /x", Body: []byte("{}"),
		Recheck: func(context.Context) (bool, error) { checks++; return false, nil }})
	if err != nil || resp.Status != 201 || posts.Load() != 2 || checks != 1 {
		t.Fatalf("err %v status %v posts %d checks %d", err, resp, posts.Load(), checks)
	}
}

func TestConnectionResetThenSuccess(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			hj := w.(http.Hijacker)
			conn, _, err := hj.Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			if tc, ok := conn.(*net.TCPConn); ok {
				_ = tc.SetLinger(0) // RST instead of FIN
			}
			_ = conn.Close()
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	defer srv.Close()
	clk := newFakeClock()
	resp, err := Do(context.Background(), srv.Client(), clk.policy(), Request{Method: "GET", URL: srv.URL, Call: "GET /x", Idempotent: true})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Attempts != 2 || string(resp.Body) != "ok" {
		t.Fatalf("attempts %d body %q", resp.Attempts, resp.Body)
	}
}

func TestAttemptTimeoutRetried(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			<-r.Context().Done() // hang until the client gives up on this attempt
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	defer srv.Close()
	clk := newFakeClock()
	pol := clk.policy()
	pol.AttemptTimeout = 50 * time.Millisecond
	resp, err := Do(context.Background(), srv.Client(), pol, Request{Method: "GET", URL: srv.URL, Call: "GET /x", Idempotent: true})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Attempts != 2 {
		t.Fatalf("attempts %d", resp.Attempts)
	}
}

func TestBudgetExhaustedNamesCallAndRequestID(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("request-id", "rid-"+string(rune('0'+n.Add(1))))
		w.WriteHeader(503)
	}))
	defer srv.Close()
	clk := newFakeClock()
	pol := clk.policy()
	pol.MaxAttempts = 100
	_, err := Do(context.Background(), srv.Client(), pol, Request{Method: "GET", URL: srv.URL, Call: "GET /things", Idempotent: true})
	var re *RetryError
	if !errors.As(err, &re) {
		t.Fatalf("want RetryError, got %v", err)
	}
	var total time.Duration
	for _, s := range clk.Sleeps() {
		total += s
	}
	if total > 2*time.Minute {
		t.Fatalf("slept %v, beyond the 2m budget", total)
	}
	last := "rid-" + string(rune('0'+n.Load()))
	msg := err.Error()
	if !strings.Contains(msg, "GET /things") || !strings.Contains(msg, last) || !strings.Contains(msg, "budget") {
		t.Fatalf("error %q should name the call, the budget and the last request id %s", msg, last)
	}
}

func TestRetryAfterBeyondBudgetGivesUp(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(429)
	}))
	defer srv.Close()
	clk := newFakeClock()
	_, err := Do(context.Background(), srv.Client(), clk.policy(), Request{Method: "GET", URL: srv.URL, Call: "GET /x", Idempotent: true})
	var re *RetryError
	if !errors.As(err, &re) || n.Load() != 1 || len(clk.Sleeps()) != 0 {
		t.Fatalf("err %v requests %d sleeps %v", err, n.Load(), clk.Sleeps())
	}
}

func TestAttemptLimit(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(500)
	}))
	defer srv.Close()
	clk := newFakeClock()
	pol := clk.policy()
	pol.MaxAttempts = 3
	_, err := Do(context.Background(), srv.Client(), pol, Request{Method: "GET", URL: srv.URL, Call: "GET /x", Idempotent: true})
	var re *RetryError
	if !errors.As(err, &re) || re.Attempts != 3 || n.Load() != 3 {
		t.Fatalf("err %v requests %d", err, n.Load())
	}
}

func TestNonRetryableStatusReturnsAtOnce(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(403)
	}))
	defer srv.Close()
	clk := newFakeClock()
	resp, err := Do(context.Background(), srv.Client(), clk.policy(), Request{Method: "GET", URL: srv.URL, Call: "GET /x", Idempotent: true})
	if err == nil || resp == nil || resp.Status != 403 || n.Load() != 1 {
		t.Fatalf("err %v resp %+v n %d", err, resp, n.Load())
	}
}

func TestSizeBound(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		_, _ = w.Write([]byte(strings.Repeat("x", 1025)))
	}))
	defer srv.Close()
	clk := newFakeClock()
	pol := clk.policy()
	pol.MaxBody = 1024
	_, err := Do(context.Background(), srv.Client(), pol, Request{Method: "GET", URL: srv.URL, Call: "GET /big", Idempotent: true})
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "GET /big") || n.Load() != 1 {
		t.Fatalf("err %v n %d", err, n.Load())
	}
	pol.MaxBody = 1025
	if _, err := Do(context.Background(), srv.Client(), pol, Request{Method: "GET", URL: srv.URL, Call: "GET /big", Idempotent: true}); err != nil {
		t.Fatalf("exactly at the bound: %v", err)
	}
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestHeaders(t *testing.T) {
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		w.WriteHeader(204)
	}))
	defer srv.Close()
	Version = "1.2.3"
	defer func() { Version = "dev" }()
	_, err := Do(context.Background(), srv.Client(), Policy{}, Request{Method: "GET", URL: srv.URL, Call: "GET /x", Idempotent: true,
		Authorize: func(_ context.Context, r *http.Request) error { r.Header.Set("Authorization", "Bearer T"); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if !uuidRE.MatchString(got.Get("client-request-id")) {
		t.Errorf("client-request-id %q", got.Get("client-request-id"))
	}
	if got.Get("User-Agent") != "itdr-onboard/1.2.3" || got.Get("Authorization") != "Bearer T" {
		t.Errorf("headers %v", got)
	}
}

func TestTransportErrorHidesQueryAndAuth(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close() // nothing listens: connection refused
	_, err = Do(context.Background(), http.DefaultClient, Policy{}, Request{Method: "GET", URL: "http://" + addr + "/x?code=SECRETCODE",
		Call: "GET /x", Idempotent: true,
		Authorize: func(_ context.Context, r *http.Request) error {
			r.Header.Set("Authorization", "Bearer SECRETTOKEN")
			return nil
		}})
	var te *TransportError
	if !errors.As(err, &te) {
		t.Fatalf("err %T %v", err, err)
	}
	if s := err.Error(); strings.Contains(s, "SECRET") || !strings.Contains(s, "GET /x") || !strings.Contains(s, te.ClientRequestID) {
		t.Fatalf("error %q", s)
	}
}

func TestCancelDuringWait(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	pol := Policy{Sleep: func(ctx context.Context, d time.Duration) error { cancel(); return ctx.Err() }}
	_, err := Do(ctx, srv.Client(), pol, Request{Method: "GET", URL: srv.URL, Call: "GET /x", Idempotent: true})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
}

func TestThrottledWriteRetriedWithoutRecheck(t *testing.T) {
	var posts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if posts.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(429)
			return
		}
		w.WriteHeader(201)
	}))
	defer srv.Close()
	clk := newFakeClock()
	checks := 0
	resp, err := Do(context.Background(), srv.Client(), clk.policy(), Request{Method: "POST", URL: srv.URL, Call: "POST /x", Body: []byte("{}"),
		Recheck: func(context.Context) (bool, error) { checks++; return true, nil }})
	if err != nil || resp.Status != 201 || posts.Load() != 2 || checks != 0 {
		t.Fatalf("err %v posts %d checks %d", err, posts.Load(), checks)
	}
}
