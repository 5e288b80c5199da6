package httpx

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// admitTransport is an Admitter: Admit records when it returned, RoundTrip
// what it saw.
type admitTransport struct {
	mu        sync.Mutex
	admitted  time.Time
	deadline  time.Time
	marked    bool
	released  bool
	order     []string
	admitErr  error
	authorize bool
}

func (a *admitTransport) Admit(ctx context.Context, r *http.Request) (func(), error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.authorize = r.Header.Get("Authorization") != ""
	if a.admitErr != nil {
		return nil, a.admitErr
	}
	a.order = append(a.order, "admit")
	a.admitted = time.Now()
	return func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		if !a.released {
			a.order = append(a.order, "release")
		}
		a.released = true
	}, nil
}

func (a *admitTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.order = append(a.order, "send")
	a.deadline, _ = r.Context().Deadline()
	a.marked = Admitted(r.Context())
	return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("{}")), Request: r}, nil
}

// TestAdmitBeforeTheAttemptClock: a budget's wait comes before the attempt's
// timeout starts, sees the request authorized, and the slot is released once
// the answer is back; the transport is told the request was admitted.
func TestAdmitBeforeTheAttemptClock(t *testing.T) {
	t.Parallel()
	at := &admitTransport{}
	hc := &http.Client{Transport: at}
	_, err := Do(context.Background(), hc, Policy{AttemptTimeout: time.Hour}, Request{Method: "GET", URL: "https://x.test/a", Call: "GET /a",
		Authorize: func(ctx context.Context, r *http.Request) error {
			r.Header.Set("Authorization", "Bearer t")
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	if !at.authorize {
		t.Error("Admit saw the request without its Authorization header (the Graph budget needs the token's tenant)")
	}
	if at.deadline.Before(at.admitted.Add(time.Hour)) {
		t.Errorf("attempt deadline %v starts before admission at %v + 1h", at.deadline, at.admitted)
	}
	if !at.marked {
		t.Error("the transport was not told the request was admitted")
	}
	if got := strings.Join(at.order, ","); got != "admit,send,release" {
		t.Errorf("order = %s, want admit,send,release", got)
	}
}

// TestAdmitCancelled: a wait for the budget ended by the context is not
// retried and names the budget.
func TestAdmitCancelled(t *testing.T) {
	t.Parallel()
	at := &admitTransport{admitErr: context.Canceled}
	_, err := Do(context.Background(), &http.Client{Transport: at}, Policy{}, Request{Method: "GET", URL: "https://x.test/a", Call: "GET /a", Idempotent: true})
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "waiting for the request budget") {
		t.Fatalf("err = %v", err)
	}
	if len(at.order) != 0 {
		t.Fatalf("sent anyway: %v", at.order)
	}
}
