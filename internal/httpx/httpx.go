// Package httpx is the one retry loop shared by the Microsoft 365 and the
// ITDR platform clients: per-attempt deadlines, an overall retry budget,
// capped exponential backoff with jitter, Retry-After handling, a response
// size bound and a re-check hook so that writes are never made twice.
//
// It never logs, and its errors never contain request headers (the
// Authorization header in particular) or request bodies.
package httpx

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Version is reported in the User-Agent header (itdr-onboard/<Version>).
// The cli sets it from the build version.
var Version = "dev"

// UserAgent returns the User-Agent every request carries.
func UserAgent() string { return "itdr-onboard/" + Version }

// Defaults.
const (
	DefaultAttemptTimeout = 30 * time.Second
	DefaultBudget         = 2 * time.Minute
	DefaultBaseDelay      = 200 * time.Millisecond
	DefaultMaxDelay       = 10 * time.Second
	DefaultMaxAttempts    = 12
	DefaultMaxBody        = 8 << 20
)

// Policy tunes the retry loop. Zero fields take the defaults above.
type Policy struct {
	// AttemptTimeout bounds one attempt (request and reading the body).
	AttemptTimeout time.Duration
	// Budget bounds the whole call including all retries and waits.
	Budget time.Duration
	// BaseDelay and MaxDelay shape the exponential backoff.
	BaseDelay, MaxDelay time.Duration
	// MaxAttempts bounds the number of attempts.
	MaxAttempts int
	// MaxBody is the largest response body accepted, in bytes.
	MaxBody int64
	// Sleep waits d or until ctx is done. Tests inject a fake.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock used for the budget. Tests inject a fake.
	Now func() time.Time
	// Jitter maps a backoff delay to the delay actually waited. Default:
	// uniformly random in [d/2, d].
	Jitter func(d time.Duration) time.Duration
}

func (p Policy) withDefaults() Policy {
	if p.AttemptTimeout <= 0 {
		p.AttemptTimeout = DefaultAttemptTimeout
	}
	if p.Budget <= 0 {
		p.Budget = DefaultBudget
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = DefaultBaseDelay
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = DefaultMaxDelay
	}
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = DefaultMaxAttempts
	}
	if p.MaxBody <= 0 {
		p.MaxBody = DefaultMaxBody
	}
	if p.Sleep == nil {
		p.Sleep = SleepContext
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.Jitter == nil {
		p.Jitter = halfJitter
	}
	return p
}

// SleepContext waits d or until ctx is done.
func SleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func halfJitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	half := d / 2
	return half + time.Duration(binary.LittleEndian.Uint64(b[:])%uint64(d-half+1))
}

// Backoff returns the delay before retry number n (n = 1 for the first
// retry) without jitter: base·2^(n-1), capped.
func (p Policy) Backoff(n int) time.Duration {
	p = p.withDefaults()
	d := p.BaseDelay
	for i := 1; i < n; i++ {
		d *= 2
		if d >= p.MaxDelay {
			return p.MaxDelay
		}
	}
	if d > p.MaxDelay {
		d = p.MaxDelay
	}
	return d
}

// Request is one logical call.
type Request struct {
	Method string
	URL    string
	// Call names the call in errors: "POST /servicePrincipals". It must hold
	// no query values.
	Call   string
	Header http.Header
	Body   []byte
	// Authorize sets credentials on each attempt (a fresh token each time).
	Authorize func(ctx context.Context, r *http.Request) error
	// Idempotent requests are retried as they are on any transient failure.
	// Other requests are retried after a 429 (the service did not act on
	// them) and, when Recheck is set, after other transient failures once
	// Recheck has reported that the write did not happen.
	Idempotent bool
	// Recheck looks for the effect of a write before it is retried. It returns
	// done=true when the write turns out to have happened; Do then returns
	// ErrAlreadyDone and the caller returns what Recheck found.
	Recheck func(ctx context.Context) (done bool, err error)
	// ParseError turns a non-2xx response into a typed error (which should
	// include the request id).
	ParseError func(r *Response) error
}

// Response is a completed HTTP exchange with the body read.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	// RequestID is the service's request id (request-id or X-Request-Id
	// header), or the client-request-id sent when the service gave none.
	RequestID string
	// Attempts is how many attempts were made (1 = no retry).
	Attempts int
}

// ErrAlreadyDone is returned by Do when Recheck found that a write had
// already taken effect.
var ErrAlreadyDone = errors.New("httpx: write already took effect")

// ErrTooLarge is wrapped by the error for responses over the size bound.
var ErrTooLarge = errors.New("response too large")

// RetryError reports that the retries ran out (attempts or budget).
type RetryError struct {
	Call     string
	Attempts int
	// Reason says why no further attempt was made.
	Reason string
	// Last is the last attempt's error (an API error with its request id,
	// or a TransportError).
	Last error
}

func (e *RetryError) Error() string {
	return fmt.Sprintf("%s: gave up after %d attempts (%s): %v", e.Call, e.Attempts, e.Reason, e.Last)
}

func (e *RetryError) Unwrap() error { return e.Last }

// TransportError is a failure below HTTP (reset, timeout, refused). It
// names the call and the client-request-id sent, never the URL's query.
type TransportError struct {
	Call            string
	ClientRequestID string
	Err             error
	Timeout         bool
}

func (e *TransportError) Error() string {
	what := e.Err.Error()
	if e.Timeout {
		what = "timed out: " + what
	}
	return fmt.Sprintf("%s: %s (client-request-id %s)", e.Call, what, e.ClientRequestID)
}

func (e *TransportError) Unwrap() error { return e.Err }

// StatusError is the fallback error for a non-2xx response when the request
// has no ParseError.
type StatusError struct {
	Call      string
	Status    int
	RequestID string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s: HTTP %d (request id %s)", e.Call, e.Status, e.RequestID)
}

// NewUUID returns a random (version 4) UUID.
func NewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// RetryableStatus reports whether a status is transient.
func RetryableStatus(s int) bool {
	switch s {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// Do runs req with retries. It returns the final response for every
// completed HTTP exchange; err is nil only for a 2xx. A non-2xx final
// response comes back together with req.ParseError's error.
func Do(ctx context.Context, hc *http.Client, pol Policy, req Request) (*Response, error) {
	pol = pol.withDefaults()
	if hc == nil {
		hc = http.DefaultClient
	}
	if req.ParseError == nil {
		req.ParseError = func(r *Response) error {
			return &StatusError{Call: req.Call, Status: r.Status, RequestID: r.RequestID}
		}
	}
	start := pol.Now()
	deadline := start.Add(pol.Budget)
	var lastErr error
	for attempt := 1; ; attempt++ {
		resp, err, retryAfter, transient := once(ctx, hc, pol, req)
		if resp != nil {
			resp.Attempts = attempt
		}
		if err == nil {
			return resp, nil
		}
		if ctx.Err() != nil {
			return resp, fmt.Errorf("%s: %w", req.Call, ctx.Err())
		}
		if !transient {
			return resp, err
		}
		lastErr = err
		throttled := resp != nil && resp.Status == http.StatusTooManyRequests
		if !req.Idempotent && !throttled && req.Recheck == nil {
			// A write that may or may not have happened and no way to check.
			return resp, err
		}
		if attempt >= pol.MaxAttempts {
			return resp, &RetryError{Call: req.Call, Attempts: attempt, Reason: "attempt limit reached", Last: lastErr}
		}
		wait := retryAfter
		if wait <= 0 {
			wait = pol.Jitter(pol.Backoff(attempt))
		}
		if pol.Now().Add(wait).After(deadline) {
			reason := "retry budget of " + pol.Budget.String() + " spent"
			if retryAfter > 0 {
				reason = "service asked to wait " + retryAfter.String() + ", beyond the retry budget"
			}
			return resp, &RetryError{Call: req.Call, Attempts: attempt, Reason: reason, Last: lastErr}
		}
		if err := pol.Sleep(ctx, wait); err != nil {
			return resp, fmt.Errorf("%s: %w (last error: %v)", req.Call, err, lastErr)
		}
		// A 429 was not acted on, so only other failures need the re-check.
		if !req.Idempotent && req.Recheck != nil && !throttled {
			done, rerr := req.Recheck(ctx)
			if rerr != nil {
				return resp, fmt.Errorf("%s: checking whether the write happened before retrying: %w (last error: %v)", req.Call, rerr, lastErr)
			}
			if done {
				return resp, ErrAlreadyDone
			}
		}
	}
}

// once makes one attempt. transient says whether the failure may be retried;
// retryAfter is the wait the service asked for (0 when none).
func once(ctx context.Context, hc *http.Client, pol Policy, req Request) (resp *Response, err error, retryAfter time.Duration, transient bool) {
	var body io.Reader
	if req.Body != nil {
		body = bytes.NewReader(req.Body)
	}
	hr, err := http.NewRequestWithContext(ctx, req.Method, req.URL, body)
	if err != nil {
		return nil, fmt.Errorf("%s: building request: %v", req.Call, stripURL(err)), 0, false
	}
	for k, vs := range req.Header {
		for _, v := range vs {
			hr.Header.Add(k, v)
		}
	}
	crid := NewUUID()
	hr.Header.Set("client-request-id", crid)
	hr.Header.Set("User-Agent", UserAgent())
	if hr.Header.Get("Accept") == "" {
		hr.Header.Set("Accept", "application/json")
	}
	if req.Body != nil && hr.Header.Get("Content-Type") == "" {
		hr.Header.Set("Content-Type", "application/json")
	}
	if req.Authorize != nil {
		authCtx, cancel := context.WithTimeout(ctx, pol.AttemptTimeout)
		err := req.Authorize(authCtx, hr)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", req.Call, err), 0, false
		}
	}
	// Wait for the upstream's shared budget before the attempt's clock
	// starts: a wait for the budget is not a slow service.
	release := func() {}
	if ad, ok := hc.Transport.(Admitter); ok {
		rel, err := ad.Admit(ctx, hr)
		if err != nil {
			return nil, fmt.Errorf("%s: waiting for the request budget: %w", req.Call, err), 0, false
		}
		release = rel
		ctx = context.WithValue(ctx, admittedKey{}, true)
	}
	defer release()
	actx, cancel := context.WithTimeout(ctx, pol.AttemptTimeout)
	defer cancel()
	hr = hr.WithContext(actx)
	hresp, err := hc.Do(hr)
	release() // the answer is back (or the request failed): its window starts
	if err != nil {
		te := &TransportError{Call: req.Call, ClientRequestID: crid, Err: stripURL(err)}
		if ctx.Err() != nil {
			return nil, te, 0, false
		}
		te.Timeout = actx.Err() != nil || isTimeout(err)
		return nil, te, 0, te.Timeout || isTransientNetErr(err)
	}
	defer hresp.Body.Close()
	b, rerr := io.ReadAll(io.LimitReader(hresp.Body, pol.MaxBody+1))
	r := &Response{Status: hresp.StatusCode, Header: hresp.Header, RequestID: requestID(hresp.Header, crid)}
	if rerr != nil {
		te := &TransportError{Call: req.Call, ClientRequestID: crid, Err: fmt.Errorf("reading response (HTTP %d): %w", hresp.StatusCode, stripURL(rerr))}
		if ctx.Err() != nil {
			return nil, te, 0, false
		}
		te.Timeout = actx.Err() != nil || isTimeout(rerr)
		return nil, te, 0, true
	}
	if int64(len(b)) > pol.MaxBody {
		return r, fmt.Errorf("%s: HTTP %d response is larger than %d bytes; refused (request id %s): %w",
			req.Call, hresp.StatusCode, pol.MaxBody, r.RequestID, ErrTooLarge), 0, false
	}
	r.Body = b
	if r.Status >= 200 && r.Status < 300 {
		return r, nil, 0, false
	}
	perr := req.ParseError(r)
	if RetryableStatus(r.Status) {
		return r, perr, RetryAfter(hresp.Header, pol.Now()), true
	}
	return r, perr, 0, false
}

// Admitter is a transport that makes requests wait for a shared budget
// (internal/budget). Do admits each attempt before its timeout starts and
// releases it when the answer is back; the transport then lets the admitted
// request through without waiting again (Admitted).
type Admitter interface {
	Admit(ctx context.Context, r *http.Request) (release func(), err error)
}

type admittedKey struct{}

// Admitted reports whether Do already admitted the request carrying ctx.
func Admitted(ctx context.Context) bool {
	v, _ := ctx.Value(admittedKey{}).(bool)
	return v
}

func requestID(h http.Header, fallback string) string {
	for _, k := range []string{"request-id", "X-Request-Id", "X-Ms-Request-Id"} {
		if v := h.Get(k); v != "" {
			return v
		}
	}
	return fallback
}

// RetryAfter reads Retry-After (seconds or HTTP date) or, failing that,
// Exchange's Rate-Limit-Reset (seconds, HTTP date or RFC 3339 time).
// It returns 0 when neither is present or usable.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	for _, k := range []string{"Retry-After", "Rate-Limit-Reset"} {
		if d := parseWait(h.Get(k), now); d > 0 {
			return d
		}
	}
	return 0
}

func parseWait(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		if n <= 0 || n > 24*3600 {
			return 0
		}
		return time.Duration(n * float64(time.Second))
	}
	for _, layout := range []string{http.TimeFormat, time.RFC1123, time.RFC850, time.ANSIC, time.RFC3339} {
		if t, err := time.Parse(layout, v); err == nil {
			if d := t.Sub(now); d > 0 {
				return d
			}
			return 0
		}
	}
	return 0
}

// stripURL removes the URL (which may carry query values) from *url.Error.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func isTransientNetErr(err error) bool {
	switch {
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return true
	}
	var de *net.DNSError
	if errors.As(err, &de) {
		return de.IsTemporary || de.IsTimeout
	}
	msg := err.Error()
	return strings.Contains(msg, "connection reset") || strings.Contains(msg, "server closed idle connection") ||
		strings.Contains(msg, "broken pipe")
}
