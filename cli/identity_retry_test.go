package cli

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func noSleep(context.Context, time.Duration) error { return nil }

func TestIdentityRetryRetriesTransientIdentityCallsOnly(t *testing.T) {
	var calls atomic.Int32
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, string(b))
		if strings.HasPrefix(r.URL.Path, "/graph/") || n <= 2 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	rt := newIdentityRetry(http.DefaultTransport, srv.URL, srv.URL+"/graph", srv.URL+"/exchange", srv.URL+"/platform")
	rt.sleep = noSleep
	hc := &http.Client{Transport: rt}

	// A token POST: retried with its body replayed until it succeeds.
	resp, err := hc.Post(srv.URL+"/tenant/oauth2/v2.0/token", "application/x-www-form-urlencoded", strings.NewReader("grant_type=x&device_code=d"))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("token: %v %v", resp, err)
	}
	resp.Body.Close()
	if calls.Load() != 3 {
		t.Fatalf("%d attempts, want 3", calls.Load())
	}
	for _, b := range bodies {
		if b != "grant_type=x&device_code=d" {
			t.Fatalf("body not replayed: %q", b)
		}
	}
	// Graph (its client retries itself): one attempt, the 503 comes back.
	calls.Store(10)
	resp, err = hc.Get(srv.URL + "/graph/v1.0/me")
	if err != nil || resp.StatusCode != 503 || calls.Load() != 11 {
		t.Fatalf("graph: %v %v after %d", resp, err, calls.Load()-10)
	}
	resp.Body.Close()
}

func TestIdentityRetryGivesUpAndBoundsTheBody(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.URL.Path == "/t/big" {
			w.Write([]byte(strings.Repeat("x", maxIdentityBody+10)))
			return
		}
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	rt := newIdentityRetry(http.DefaultTransport, srv.URL)
	rt.sleep = noSleep
	hc := &http.Client{Transport: rt}
	// A Retry-After beyond the bound: returned at once for the caller to report.
	resp, err := hc.Get(srv.URL + "/t/v2.0/.well-known/openid-configuration")
	if err != nil || resp.StatusCode != 429 || calls.Load() != 1 {
		t.Fatalf("throttled: %v %v after %d", resp, err, calls.Load())
	}
	resp.Body.Close()
	resp, err = hc.Get(srv.URL + "/t/big")
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !errors.Is(err, errIdentityTooLarge) {
		t.Fatalf("oversized body: %v", err)
	}
}

func TestIdentityRetryStopsWhenCancelled(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	rt := newIdentityRetry(http.DefaultTransport, srv.URL)
	ctx, cancel := context.WithCancel(context.Background())
	rt.sleep = func(context.Context, time.Duration) error { cancel(); return context.Canceled }
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/t/x", nil)
	if _, err := (&http.Client{Transport: rt}).Do(req); err == nil {
		t.Fatal("no error after cancel")
	}
}
