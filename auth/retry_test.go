package auth

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestRetryTransportReplaysThrottledForm(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if string(b) != "grant_type=device_code&device_code=x" {
			t.Errorf("attempt %d body %q", n.Load(), b)
		}
		switch n.Add(1) {
		case 1:
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(429)
		case 2:
			w.WriteHeader(503)
		default:
			w.Write([]byte(`{"access_token":"t"}`))
		}
	}))
	defer srv.Close()
	rt := newRetryTransport(nil)
	var waits []time.Duration
	rt.sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	hc := &http.Client{Transport: rt}
	resp, err := hc.Post(srv.URL, "application/x-www-form-urlencoded", strings.NewReader("grant_type=device_code&device_code=x"))
	if err != nil || resp.StatusCode != 200 || n.Load() != 3 {
		t.Fatalf("resp %v err %v attempts %d", resp, err, n.Load())
	}
	if len(waits) != 2 || waits[0] != 2*time.Second {
		t.Fatalf("waits %v: the first must honour Retry-After", waits)
	}
}

func TestRetryTransportGivesUpAndPassesClientErrors(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if r.URL.Path == "/bad" {
			w.WriteHeader(400)
			return
		}
		w.WriteHeader(503)
	}))
	defer srv.Close()
	rt := newRetryTransport(nil)
	rt.sleep = func(context.Context, time.Duration) error { return nil }
	hc := &http.Client{Transport: rt}
	resp, err := hc.Get(srv.URL + "/bad")
	if err != nil || resp.StatusCode != 400 || n.Load() != 1 {
		t.Fatalf("400 must not be retried: %v %v %d", resp, err, n.Load())
	}
	n.Store(0)
	resp, err = hc.Get(srv.URL + "/down")
	if err != nil || resp.StatusCode != 503 || n.Load() != int32(rt.attempts) {
		t.Fatalf("want %d attempts then the 503, got %v %v %d", rt.attempts, resp, err, n.Load())
	}
}
