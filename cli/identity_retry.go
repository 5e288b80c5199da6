package cli

// Issue 7: retries for the identity platform. Graph, Exchange and the
// platform retry inside their clients (internal/httpx); the identity calls
// go through MSAL and auth.ResolveTenant, which do not retry, so a single
// 429, 5xx or connection reset would fail the sign-in. This transport,
// installed by wire() for requests under the authority only, retries them:
// every identity request is safe to repeat (metadata GETs; token requests,
// where a repeated device-code poll or refresh is harmless and a reused
// authorization code is refused by the server, never applied twice).

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	"itdr-onboard/internal/httpx"
)

type identityRetry struct {
	next http.RoundTripper
	// identity reports whether a request goes to the identity platform.
	identity func(*http.Request) bool
	attempts int
	base     time.Duration
	maxWait  time.Duration
	sleep    func(ctx context.Context, d time.Duration) error
}

func newIdentityRetry(next http.RoundTripper, authority string, others ...string) *identityRetry {
	if next == nil {
		next = http.DefaultTransport
	}
	authority = strings.TrimRight(authority, "/")
	return &identityRetry{
		next: next,
		identity: func(r *http.Request) bool {
			u := r.URL.Scheme + "://" + r.URL.Host + r.URL.Path
			if !strings.HasPrefix(u, authority+"/") {
				return false
			}
			// The simulator serves every service on one host: a longer
			// service base wins.
			for _, o := range others {
				if o = strings.TrimRight(o, "/"); o != "" && len(o) > len(authority) && strings.HasPrefix(u, o+"/") {
					return false
				}
			}
			return true
		},
		attempts: 5, base: 250 * time.Millisecond, maxWait: 30 * time.Second, sleep: httpx.SleepContext,
	}
}

func (t *identityRetry) RoundTrip(r *http.Request) (*http.Response, error) {
	if !t.identity(r) || (r.Body != nil && r.Body != http.NoBody && r.GetBody == nil) {
		return t.next.RoundTrip(r)
	}
	for attempt := 1; ; attempt++ {
		req := r
		if attempt > 1 && r.GetBody != nil {
			b, err := r.GetBody()
			if err != nil {
				return nil, err
			}
			req = r.Clone(r.Context())
			req.Body = b
		}
		resp, err := t.next.RoundTrip(req)
		last := attempt >= t.attempts || r.Context().Err() != nil
		var wait time.Duration
		switch {
		case err != nil:
			if last || !transientNetErr(err) {
				return resp, err
			}
		case httpx.RetryableStatus(resp.StatusCode):
			wait = httpx.RetryAfter(resp.Header, time.Now())
			if last || wait > t.maxWait {
				// The caller reports the failure (or the throttling).
				resp.Body = &boundedBody{rc: resp.Body, left: maxIdentityBody}
				return resp, nil
			}
			// Drain so the connection can be reused.
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
			resp.Body.Close()
		default:
			resp.Body = &boundedBody{rc: resp.Body, left: maxIdentityBody}
			return resp, nil
		}
		if wait <= 0 {
			d := t.base << (attempt - 1)
			wait = d/2 + rand.N(d/2+1)
		}
		if err := t.sleep(r.Context(), wait); err != nil {
			return nil, err
		}
	}
}

func transientNetErr(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	switch {
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.EPIPE),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "connection reset") || strings.Contains(msg, "server closed idle connection") ||
		strings.Contains(msg, "broken pipe")
}

// CloseIdleConnections forwards to the wrapped transport.
func (t *identityRetry) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// maxIdentityBody bounds an identity response (tokens and metadata are a few
// KiB; MSAL reads bodies whole).
const maxIdentityBody = 1 << 20

// errIdentityTooLarge is returned when an identity response exceeds the bound.
var errIdentityTooLarge = errors.New("identity platform response larger than 1 MiB; refused")

type boundedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *boundedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One byte more than allowed tells "exactly at the bound" from "over".
		var one [1]byte
		if n, _ := b.rc.Read(one[:]); n > 0 {
			return 0, errIdentityTooLarge
		}
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *boundedBody) Close() error { return b.rc.Close() }
