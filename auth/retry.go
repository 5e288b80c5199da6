package auth

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"syscall"
	"time"

	"itdr-onboard/internal/httpx"
)

// retryTransport retries identity-platform requests that the server did not
// act on or that failed in transit: 429 and 5xx (honouring Retry-After,
// capped), connection resets and refused connections. MSAL ends a
// device-code poll, a refresh or an endpoint lookup on the first such
// failure, so without this one throttled poll would end the sign-in.
//
// Identity requests are small forms, so the body is buffered and replayed.
// Retrying is safe: a device-code poll and a refresh are repeatable, and an
// authorization code that did reach the server fails cleanly with
// invalid_grant on the retry (it is never redeemed twice).
type retryTransport struct {
	next     http.RoundTripper
	attempts int
	base     time.Duration
	max      time.Duration
	sleep    func(ctx context.Context, d time.Duration) error
}

func newRetryTransport(next http.RoundTripper) *retryTransport {
	if next == nil {
		next = http.DefaultTransport
	}
	return &retryTransport{next: next, attempts: 6, base: 200 * time.Millisecond, max: 5 * time.Second, sleep: httpx.SleepContext}
}

func (t *retryTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil && r.Body != http.NoBody {
		b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	delay := t.base
	for i := 1; ; i++ {
		req := r.Clone(r.Context())
		if body != nil {
			req.Body = io.NopCloser(bytes.NewReader(body))
			req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
			req.ContentLength = int64(len(body))
		}
		resp, err := t.next.RoundTrip(req)
		wait, retry := t.shouldRetry(resp, err)
		if !retry || i >= t.attempts || r.Context().Err() != nil {
			return resp, err
		}
		if resp != nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
		}
		if wait <= 0 {
			wait = delay/2 + rand.N(delay/2+1)
			delay = min(delay*2, t.max)
		}
		if err := t.sleep(r.Context(), min(wait, 10*time.Second)); err != nil {
			return nil, err
		}
	}
}

func (t *retryTransport) shouldRetry(resp *http.Response, err error) (time.Duration, bool) {
	if err != nil {
		return 0, transientNetErr(err)
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return httpx.RetryAfter(resp.Header, time.Now()), true
	}
	return 0, false
}

func transientNetErr(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
