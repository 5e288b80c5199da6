package budget

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock moves only when Advance is called; After registers a timer and
// announces its duration on registered, so a test knows a waiter is parked.
type fakeClock struct {
	mu         sync.Mutex
	now        time.Time
	timers     []fakeTimer
	registered chan time.Duration
}

type fakeTimer struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC), registered: make(chan time.Duration, 100)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) (<-chan time.Time, func()) {
	c.mu.Lock()
	ch := make(chan time.Time, 1)
	c.timers = append(c.timers, fakeTimer{at: c.now.Add(d), ch: ch})
	c.mu.Unlock()
	c.registered <- d
	return ch, func() {}
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	keep := c.timers[:0]
	for _, t := range c.timers {
		if !t.at.After(c.now) {
			t.ch <- c.now
			continue
		}
		keep = append(keep, t)
	}
	c.timers = keep
}

// parked waits (bounded) until a waiter registers a timer and returns its
// duration.
func parked(t *testing.T, c *fakeClock) time.Duration {
	t.Helper()
	select {
	case d := <-c.registered:
		return d
	case <-time.After(10 * time.Second):
		t.Fatal("no waiter parked on the clock")
		return 0
	}
}

var platformKey = []Key{{Kind: Platform, Scope: "https://platform"}}

// TestSlidingWindowBound drives 20 workers sending 600 platform requests with
// random latencies (1–900 ms, arrival anywhere inside it) through TryAcquire
// on simulated time, and checks what the service would count: never more
// than 60 arrivals in any 60 s window, however the latencies fall — and that
// the budget is not wasted: the run takes no longer than its bound (one
// window per 60 requests, plus a request's latency each).
func TestSlidingWindowBound(t *testing.T) {
	t.Parallel()
	for seed := uint64(1); seed <= 5; seed++ {
		clk := newFakeClock()
		s := NewSet(clk, nil)
		rng := rand.New(rand.NewPCG(seed, 7))
		const workers, total = 20, 600
		type flight struct {
			end     time.Time
			release func()
		}
		var (
			arrivals []time.Time
			inFlight []flight
			sent     int
			start    = clk.Now()
			maxLat   = 900 * time.Millisecond
		)
		ready := workers
		for sent < total || len(inFlight) > 0 {
			now := clk.Now()
			// Responses due now come back.
			keep := inFlight[:0]
			for _, f := range inFlight {
				if !f.end.After(now) {
					f.release()
					ready++
					continue
				}
				keep = append(keep, f)
			}
			inFlight = keep
			next := time.Duration(1 << 62)
			for ready > 0 && sent < total {
				rel, wait, blocked := s.TryAcquire(platformKey, Cost{Requests: 1})
				if rel == nil {
					if !blocked && wait > 0 {
						next = min(next, wait)
					}
					break
				}
				lat := time.Duration(1+rng.IntN(int(maxLat/time.Millisecond))) * time.Millisecond
				arrivals = append(arrivals, now.Add(time.Duration(rng.Int64N(int64(lat)+1))))
				inFlight = append(inFlight, flight{end: now.Add(lat), release: rel})
				ready--
				sent++
			}
			for _, f := range inFlight {
				next = min(next, f.end.Sub(now))
			}
			if next == time.Duration(1<<62) {
				break
			}
			clk.Advance(next)
		}
		if sent != total {
			t.Fatalf("seed %d: sent %d of %d", seed, sent, total)
		}
		sort.Slice(arrivals, func(i, j int) bool { return arrivals[i].Before(arrivals[j]) })
		if m := maxInWindow(arrivals, time.Minute); m > 60 {
			t.Fatalf("seed %d: the service saw %d requests in one 60 s window (limit 60)", seed, m)
		}
		took := clk.Now().Sub(start)
		bound := time.Duration(total/60) * (time.Minute + maxLat)
		if took > bound {
			t.Fatalf("seed %d: %d requests took %v, more than the bound %v: the budget is wasted", seed, total, took, bound)
		}
		if took < time.Duration(total/60-1)*time.Minute {
			t.Fatalf("seed %d: %d requests in %v: faster than 60 per minute allows", seed, total, took)
		}
	}
}

// maxInWindow is the largest number of times in any window (a, a+w]; times
// sorted. Same rule as the platform: a hit exactly w ago has left.
func maxInWindow(ts []time.Time, w time.Duration) int {
	best, j := 0, 0
	for i := range ts {
		for !ts[j].After(ts[i].Add(-w)) {
			j++
		}
		best = max(best, i-j+1)
	}
	return best
}

// TestAcquireWaitsForTheWindow: the 61st request waits until the first one's
// response is a minute old, and not a moment longer.
func TestAcquireWaitsForTheWindow(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	s := NewSet(clk, nil)
	ctx := context.Background()
	for i := 0; i < 60; i++ {
		rel, err := s.Acquire(ctx, platformKey, Cost{Requests: 1})
		if err != nil {
			t.Fatal(err)
		}
		clk.Advance(100 * time.Millisecond) // each answered 100 ms later
		rel()
	}
	firstEnd := clk.Now().Add(-59 * 100 * time.Millisecond)
	u := s.Usage()
	if len(u) != 1 || u[0].InUse != 60 || u[0].Limit != 60 || u[0].Window != time.Minute {
		t.Fatalf("usage = %+v, want 60/60 per minute", u)
	}
	got := make(chan time.Time)
	go func() {
		rel, err := s.Acquire(ctx, platformKey, Cost{Requests: 1})
		if err != nil {
			t.Error(err)
		}
		rel()
		got <- clk.Now()
	}()
	d := parked(t, clk)
	if want := firstEnd.Add(time.Minute).Sub(clk.Now()); d != want {
		t.Fatalf("waiter parked for %v, want %v (first response + 1 min)", d, want)
	}
	if u := s.Usage(); u[0].Waiting != 1 {
		t.Fatalf("usage waiting = %d, want 1", u[0].Waiting)
	}
	clk.Advance(d - time.Millisecond)
	// Woken early by nothing: still parked, re-parks on a timer.
	select {
	case at := <-got:
		t.Fatalf("admitted at %v, before the window had room", at)
	default:
	}
	clk.Advance(time.Millisecond)
	if at := <-got; !at.Equal(firstEnd.Add(time.Minute)) {
		t.Fatalf("admitted at %v, want %v", at, firstEnd.Add(time.Minute))
	}

}

// TestInFlightHoldsItsPlace: a request whose answer has not come back still
// counts, so the 3rd of a 2-per-window budget waits for a release, then for
// the window.
func TestInFlightHoldsItsPlace(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	s := NewSet(clk, map[Kind][]Limit{Platform: {{Unit: Requests, N: 2, Window: 10 * time.Second}}})
	ctx := context.Background()
	r1, _ := s.Acquire(ctx, platformKey, Cost{Requests: 1})
	r2, _ := s.Acquire(ctx, platformKey, Cost{Requests: 1})
	if rel, wait, blocked := s.TryAcquire(platformKey, Cost{Requests: 1}); rel != nil || !blocked || wait != 0 {
		t.Fatalf("TryAcquire with both in flight = (%v, %v, %v), want blocked", rel != nil, wait, blocked)
	}
	clk.Advance(time.Hour) // an hour in flight: still counted
	if rel, _, blocked := s.TryAcquire(platformKey, Cost{Requests: 1}); rel != nil || !blocked {
		t.Fatal("a request in flight for an hour no longer counted")
	}
	r1()
	_, wait, blocked := s.TryAcquire(platformKey, Cost{Requests: 1})
	if blocked || wait != 10*time.Second {
		t.Fatalf("after one answer: wait %v blocked %v, want 10s after that answer", wait, blocked)
	}
	r2()
	r1() // twice is harmless
	clk.Advance(10 * time.Second)
	for i := 0; i < 2; i++ {
		if rel, _, _ := s.TryAcquire(platformKey, Cost{Requests: 1}); rel == nil {
			t.Fatalf("request %d refused with the window empty", i+1)
		}
	}
}

// TestAcquireCancelled: a waiter whose context ends gets its error and stops
// being counted as waiting.
func TestAcquireCancelled(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	s := NewSet(clk, map[Kind][]Limit{Platform: {{Unit: Requests, N: 1, Window: time.Minute}}})
	rel, _ := s.Acquire(context.Background(), platformKey, Cost{Requests: 1})
	rel()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error)
	go func() {
		_, err := s.Acquire(ctx, platformKey, Cost{Requests: 1})
		errc <- err
	}()
	parked(t, clk)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if u := s.Usage(); u[0].Waiting != 0 {
		t.Fatalf("waiting = %d after cancel", u[0].Waiting)
	}
}

// roundTripFunc is a fake next transport.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func resp(status int, h http.Header) *http.Response {
	if h == nil {
		h = http.Header{}
	}
	return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(strings.NewReader("{}"))}
}

var ups = []Upstream{
	{Kind: Platform, Base: "https://sim.test/platform"},
	{Kind: Graph, Base: "https://sim.test/graph"},
	{Kind: Exchange, Base: "https://sim.test/exchange"},
	{Kind: PartnerCenter, Base: "https://pc.test"},
}

func get(t *testing.T, c *http.Client, u string, hdr ...string) (*http.Response, error) {
	t.Helper()
	r, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	return c.Do(r)
}

// TestRetryAfterPausesEveryone: one worker's 429 with Retry-After holds the
// platform budget for every worker until then; other upstreams go on.
func TestRetryAfterPausesEveryone(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	s := NewSet(clk, nil)
	var mu sync.Mutex
	calls := 0
	next := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == 1 {
			return resp(http.StatusTooManyRequests, http.Header{"Retry-After": {"30"}}), nil
		}
		return resp(http.StatusOK, nil), nil
	})
	c := &http.Client{Transport: Transport(s, ups, next)}
	r, err := get(t, c, "https://sim.test/platform/v1/account")
	if err != nil || r.StatusCode != 429 {
		t.Fatalf("first call: %v %v", r, err)
	}
	pausedAt := clk.Now()
	u := s.Usage()
	if len(u) != 1 || !u[0].PausedUntil.Equal(pausedAt.Add(30*time.Second)) || !strings.Contains(u[0].PauseReason, "429") {
		t.Fatalf("usage after 429 = %+v, want paused 30 s", u)
	}
	// Graph is another budget: not held.
	if r, err := get(t, c, "https://sim.test/graph/v1.0/organization"); err != nil || r.StatusCode != 200 {
		t.Fatalf("graph during the platform pause: %v %v", r, err)
	}
	done := make(chan time.Time)
	go func() {
		r, err := get(t, c, "https://sim.test/platform/v1/organizations")
		if err != nil || r.StatusCode != 200 {
			t.Errorf("second worker: %v %v", r, err)
		}
		done <- clk.Now()
	}()
	if d := parked(t, clk); d != 30*time.Second {
		t.Fatalf("second worker parked for %v, want 30s", d)
	}
	clk.Advance(30 * time.Second)
	if at := <-done; at.Before(pausedAt.Add(30 * time.Second)) {
		t.Fatalf("second worker sent at %v, inside the pause", at)
	}
}

func jwt(claims string) string {
	return "Bearer eyJhbGciOiJub25lIn0." + base64.RawURLEncoding.EncodeToString([]byte(claims)) + ".sig"
}

// TestGraphThrottleScope: a 429 naming Tenant_Application pauses that
// tenant's Graph budget only; Application pauses the app's for every tenant.
func TestGraphThrottleScope(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	s := NewSet(clk, nil)
	scope := "Tenant_Application/ReadWrite/app/t1"
	next := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if strings.HasSuffix(r.URL.Path, "/throttle") {
			return resp(http.StatusTooManyRequests, http.Header{"Retry-After": {"5"}, "X-Ms-Throttle-Scope": {scope}}), nil
		}
		return resp(http.StatusOK, nil), nil
	})
	c := &http.Client{Transport: Transport(s, ups, next)}
	t1, t2 := jwt(`{"tid":"T1"}`), jwt(`{"tid":"t2"}`)
	if _, err := get(t, c, "https://sim.test/graph/v1.0/throttle", "Authorization", t1); err != nil {
		t.Fatal(err)
	}
	if rel, _, _ := s.TryAcquire([]Key{{Kind: GraphTenant, Scope: "t2"}}, Cost{Requests: 1, ResourceUnits: 1}); rel == nil {
		t.Fatal("tenant t2 held by t1's throttle")
	}
	if rel, wait, _ := s.TryAcquire([]Key{{Kind: GraphTenant, Scope: "t1"}}, Cost{Requests: 1, ResourceUnits: 1}); rel != nil || wait != 5*time.Second {
		t.Fatalf("tenant t1 after its throttle: admitted %v wait %v, want held 5s", rel != nil, wait)
	}
	scope = "Application/Read/app/t2"
	if _, err := get(t, c, "https://sim.test/graph/v1.0/throttle", "Authorization", t2); err != nil {
		t.Fatal(err)
	}
	if rel, wait, _ := s.TryAcquire([]Key{{Kind: Graph, Scope: "https://sim.test/graph"}}, Cost{Requests: 1}); rel != nil || wait != 5*time.Second {
		t.Fatalf("graph app after an Application throttle: admitted %v wait %v", rel != nil, wait)
	}
}

// TestExchangeRateLimitRemaining: Exchange answering Rate-Limit-Remaining 0
// holds that tenant's Exchange budget until Rate-Limit-Reset.
func TestExchangeRateLimitRemaining(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	s := NewSet(clk, nil)
	next := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return resp(http.StatusOK, http.Header{"Rate-Limit-Remaining": {"0"}, "Rate-Limit-Reset": {"12"}}), nil
	})
	c := &http.Client{Transport: Transport(s, ups, next)}
	r, _ := http.NewRequest(http.MethodPost, "https://sim.test/exchange/adminapi/beta/TenantA/InvokeCommand", strings.NewReader("{}"))
	if _, err := c.Do(r); err != nil {
		t.Fatal(err)
	}
	if _, wait, _ := s.TryAcquire([]Key{{Kind: Exchange, Scope: "tenanta"}}, Cost{Requests: 1}); wait != 12*time.Second {
		t.Fatalf("tenanta wait = %v, want 12s", wait)
	}
	if rel, _, _ := s.TryAcquire([]Key{{Kind: Exchange, Scope: "tenantb"}}, Cost{Requests: 1}); rel == nil {
		t.Fatal("tenantb held by tenanta's reset")
	}
}

// TestTransportRoutesByBase: each upstream draws from its own budget, the
// identity host from none.
func TestTransportRoutesByBase(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	s := NewSet(clk, nil)
	c := &http.Client{Transport: Transport(s, ups, roundTripFunc(func(*http.Request) (*http.Response, error) { return resp(200, nil), nil }))}
	for _, u := range []string{
		"https://sim.test/platform/v1/account", "https://sim.test/graph/v1.0/users?$top=999",
		"https://sim.test/exchange/adminapi/beta/t9/InvokeCommand", "https://pc.test/v1/customers/x/applicationconsents",
		"https://sim.test/identity/organizations/oauth2/v2.0/token", "https://sim.test/platformx/v1/account",
	} {
		if _, err := get(t, c, u, "Authorization", jwt(`{"tid":"t9"}`)); err != nil {
			t.Fatal(err)
		}
	}
	got := map[Kind]int64{}
	var scopes []string
	for _, u := range s.Usage() {
		got[u.Key.Kind] += u.Admitted
		scopes = append(scopes, string(u.Key.Kind)+":"+u.Key.Scope)
	}
	want := map[Kind]int64{Platform: 1, Graph: 1, GraphTenant: 1, Exchange: 1, PartnerCenter: 1}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s admitted %d, want %d (budgets %v)", k, got[k], n, scopes)
		}
	}
	if len(got) != len(want) {
		t.Errorf("budgets %v, want exactly %v", scopes, want)
	}
	if strings.Join(scopes, " ") != "platform:https://sim.test/platform partner-center:https://pc.test graph:https://sim.test/graph graph-tenant:t9 exchange:t9" {
		t.Errorf("usage order/scopes = %v", scopes)
	}
}

// TestGraphCost follows Microsoft's resource-unit table.
func TestGraphCost(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		method, url string
		want        Cost
	}{
		{"GET", "/v1.0/organization", Cost{1, 1, 0}},
		{"GET", "/v1.0/users?$filter=x&$top=999", Cost{1, 2, 0}},
		{"GET", "/v1.0/users?$select=id&$top=5", Cost{1, 1, 0}}, // 2 −1 −1, at least 1
		{"GET", "/v1.0/subscribedSkus", Cost{1, 3, 0}},
		{"GET", "/beta/servicePrincipals/abc/appRoleAssignments?$expand=x", Cost{1, 3, 0}},
		{"GET", "/v1.0/oauth2PermissionGrants?$filter=clientId eq 'x'", Cost{1, 2, 0}},
		{"POST", "/v1.0/servicePrincipals", Cost{1, 1, 1}},
		{"DELETE", "/v1.0/oauth2PermissionGrants/x", Cost{1, 1, 1}},
	} {
		u, _ := url.Parse("https://g" + c.url)
		r := &http.Request{Method: c.method, URL: u}
		if got := graphCost(r, u.Path); got != c.want {
			t.Errorf("%s %s: cost %+v, want %+v", c.method, c.url, got, c.want)
		}
	}
	body := `{"requests":[{"id":"1","method":"GET","url":"/subscribedSkus"},{"id":"2","method":"POST","url":"/servicePrincipals"},{"id":"3","method":"GET","url":"/users?$select=id"}]}`
	r, _ := http.NewRequest(http.MethodPost, "https://g/v1.0/$batch", strings.NewReader(body))
	if got, want := graphCost(r, "/v1.0/$batch"), (Cost{3, 5, 1}); got != want {
		t.Errorf("$batch cost %+v, want %+v", got, want)
	}
	rest, _ := io.ReadAll(r.Body)
	if string(rest) != body {
		t.Errorf("$batch body after costing = %q, want it intact", rest)
	}
}

func TestTokenTenant(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		jwt(`{"tid":"ABC","oid":"x"}`): "abc",
		jwt(`{"oid":"x"}`):             "",
		"Bearer opaque":                "",
		"Basic a2V5OnNlY3JldA==":       "",
		"":                             "",
		"Bearer a.!!!.c":               "",
	} {
		if got := tokenTenant(in); got != want {
			t.Errorf("tokenTenant(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestIdleTenantBudgetsDropped: per-tenant budgets that hold nothing are
// forgotten (1,000 tenants' budgets do not pile up); the shared ones stay.
func TestIdleTenantBudgetsDropped(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	s := NewSet(clk, nil)
	for i := 0; i < 1000; i++ {
		rel, _, _ := s.TryAcquire([]Key{{Kind: Graph, Scope: "g"}, {Kind: GraphTenant, Scope: string(rune('a' + i%26))}}, Cost{Requests: 1, ResourceUnits: 1})
		rel()
	}
	if n := len(s.Usage()); n != 27 {
		t.Fatalf("%d budgets in use, want 27", n)
	}
	clk.Advance(time.Minute)
	u := s.Usage()
	if len(u) != 1 || u[0].Key.Kind != Graph || u[0].Admitted != 1000 {
		t.Fatalf("after a minute idle: %+v, want only the app's Graph budget (1000 admitted)", u)
	}
	if sum := s.Summary(); len(sum) != 1 || sum[0].Key.Scope != "" {
		t.Fatalf("summary = %+v", sum)
	}
}

// TestLongRetryAfterNotImposed: a Retry-After beyond MaxPause (the retry
// loop gives that call up) does not hold every other request for it.
func TestLongRetryAfterNotImposed(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	s := NewSet(clk, nil)
	c := &http.Client{Transport: Transport(s, ups, roundTripFunc(func(*http.Request) (*http.Response, error) {
		return resp(http.StatusTooManyRequests, http.Header{"Retry-After": {"900"}}), nil
	}))}
	if _, err := get(t, c, "https://sim.test/graph/v1.0/subscribedSkus", "Authorization", jwt(`{"tid":"t1"}`)); err != nil {
		t.Fatal(err)
	}
	if rel, wait, _ := s.TryAcquire([]Key{{Kind: GraphTenant, Scope: "t1"}}, Cost{Requests: 1, ResourceUnits: 1}); rel == nil {
		t.Fatalf("tenant held %v by a 15-minute Retry-After", wait)
	}
}

// A finished tenant's budgets are dropped once their windows have emptied
// even when nothing reads Usage (a batch in plain or JSON mode): the set
// holds the budgets of the last few minutes' tenants, not of every tenant
// the run has seen.
func TestFinishedTenantBudgetsDroppedWithoutUsage(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	s := NewSet(clk, nil)
	held := func() int {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.buckets)
	}
	for i := 0; i < 300; i++ {
		tenant := fmt.Sprintf("tenant-%03d", i)
		for _, k := range []Key{{Kind: GraphTenant, Scope: tenant}, {Kind: Exchange, Scope: tenant}} {
			rel, _, _ := s.TryAcquire([]Key{{Kind: Graph, Scope: "app"}, k}, Cost{Requests: 1, ResourceUnits: 1, Writes: 1})
			rel()
		}
		clk.Advance(time.Second) // one tenant a second, as a batch at the platform's pace
	}
	// The longest per-tenant window is 150 s (Graph writes per tenant):
	// the tenants of about the last 150 s are held, not all 300.
	if n := held(); n > 2*(150+int(sweepEvery/time.Second))+2 {
		t.Fatalf("%d budgets held after 300 tenants one a second, want those of the last ~160 s only", n)
	}
	clk.Advance(10 * time.Minute)
	rel, _, _ := s.TryAcquire([]Key{{Kind: Platform, Scope: "acc"}}, Cost{Requests: 1})
	rel()
	if n := held(); n != 2 {
		t.Fatalf("%d budgets held long after every tenant ended, want 2 (the app's Graph and the platform's)", n)
	}
}
