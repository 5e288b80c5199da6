package sim

import (
	"bytes"
	"encoding/json"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Fault kinds.
const (
	FaultLatency          = "latency"
	Fault429              = "429"
	Fault500              = "500"
	Fault503              = "503"
	FaultReset            = "reset"
	FaultSlowBody         = "slow-body"
	FaultExchangeThrottle = "exchange-throttle"
	// FaultRace: another client (another run, technician or state dir)
	// sends the same write just before this one. The simulator serves the
	// request once as that other client (its answer discarded), then
	// serves it as sent, which now meets the service's own answer to a
	// duplicate ("already exists", or 404 for a delete). Only writes (not
	// GET/HEAD) get it.
	FaultRace = "race"
)

// FaultKinds lists every fault kind a scenario may use.
func FaultKinds() []string {
	return []string{FaultLatency, Fault429, Fault503, Fault500, FaultReset, FaultSlowBody, FaultExchangeThrottle, FaultRace}
}

// simFaults decides, in request order and with one seeded RNG, which faults
// a request gets. Error faults are answered before the handler runs, so a
// faulted write is never applied.
type simFaults struct {
	mu    sync.Mutex
	rng   *rand.Rand
	specs []FaultSpec
	fired []int
}

func simNewFaults(seed int64, specs []FaultSpec) *simFaults {
	return &simFaults{
		rng:   rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x9e3779b97f4a7c15)),
		specs: append([]FaultSpec(nil), specs...),
		fired: make([]int, len(specs)),
	}
}

// simFaultPlan is what happens to one request.
type simFaultPlan struct {
	latency time.Duration
	err     *FaultSpec // 429 | 500 | 503 | reset | exchange-throttle
	slow    *FaultSpec
	race    bool
	names   []string
}

// simBrowserPage reports paths a browser shows to a person: faults only hit
// them when the fault's path names them explicitly.
func simBrowserPage(p string) bool {
	lp := strings.ToLower(p)
	return lp == "/devicelogin" || strings.HasSuffix(lp, "/oauth2/v2.0/authorize") || strings.HasSuffix(lp, "/adminconsent")
}

func simFaultPathMatch(pattern, full, rel string) bool {
	pat := strings.ToLower(pattern)
	for _, c := range []string{full, rel} {
		c = strings.ToLower(c)
		if ok, _ := path.Match(pat, c); ok {
			return true
		}
		if strings.HasPrefix(c, pat) {
			return true
		}
	}
	return false
}

func (f *simFaults) decide(group, method, full, rel string) simFaultPlan {
	var plan simFaultPlan
	if len(f.specs) == 0 {
		return plan
	}
	browser := simBrowserPage(full)
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.specs {
		sp := &f.specs[i]
		if sp.Group != "" && sp.Group != group {
			continue
		}
		if sp.Method != "" && !strings.EqualFold(sp.Method, method) {
			continue
		}
		if sp.Path != "" && !simFaultPathMatch(sp.Path, full, rel) {
			continue
		}
		if browser && sp.Path == "" {
			continue
		}
		if sp.Count > 0 && f.fired[i] >= sp.Count {
			continue
		}
		if sp.Kind == FaultRace && (plan.race || method == http.MethodGet || method == http.MethodHead) {
			continue // only writes race, once
		}
		if sp.Kind != FaultLatency && sp.Kind != FaultSlowBody && sp.Kind != FaultRace && plan.err != nil {
			continue // one error per request
		}
		if sp.Rate > 0 && sp.Rate < 1 && f.rng.Float64() >= sp.Rate {
			continue
		}
		switch sp.Kind {
		case FaultLatency:
			d := sp.Latency.D()
			if j := sp.Jitter.D(); j > 0 {
				d += time.Duration(f.rng.Int64N(int64(j) + 1))
			}
			plan.latency += d
		case FaultSlowBody:
			if plan.slow != nil {
				continue
			}
			plan.slow = sp
		case FaultRace:
			plan.race = true
		default:
			plan.err = sp
		}
		f.fired[i]++
		plan.names = append(plan.names, sp.Kind)
	}
	return plan
}

// serve applies the faults for one request and, unless an error fault
// answered it, runs next. It returns the fault names for the request log.
func (f *simFaults) serve(w *simStatusWriter, r *http.Request, group, rel string, now func() time.Time, next func(http.ResponseWriter)) string {
	plan := f.decide(group, r.Method, r.URL.Path, rel)
	name := strings.Join(plan.names, "+")
	if plan.latency > 0 {
		t := time.NewTimer(plan.latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
	}
	if plan.race {
		// The other client's identical write lands first (same body,
		// credentials and path); its answer goes nowhere.
		if rb, ok := r.Body.(*simReplayBody); ok {
			next(&grRecorder{h: http.Header{}})
			rb.rewind()
		}
	}
	if plan.err != nil {
		if plan.err.Kind == FaultReset {
			simResetConn(w)
			return name
		}
		simFaultRespond(w, r, group, plan.err, now())
		return name
	}
	if plan.slow != nil {
		sw := &simSlowWriter{grRecorder: grRecorder{h: w.Header().Clone()}, w: w}
		next(sw)
		sw.finish(r, plan.slow.Latency.D())
		return name
	}
	next(w)
	return name
}

// hasRace reports whether any fault may make a write race.
func (f *simFaults) hasRace() bool {
	for _, sp := range f.specs {
		if sp.Kind == FaultRace {
			return true
		}
	}
	return false
}

// simReplayBody is a request body read in full so that a raced write can
// be served twice.
type simReplayBody struct {
	b []byte
	r *bytes.Reader
}

func simNewReplayBody(body io.ReadCloser) *simReplayBody {
	var b []byte
	if body != nil {
		b, _ = io.ReadAll(io.LimitReader(body, 8<<20))
		_ = body.Close()
	}
	return &simReplayBody{b: b, r: bytes.NewReader(b)}
}

func (rb *simReplayBody) Read(p []byte) (int, error) { return rb.r.Read(p) }
func (rb *simReplayBody) Close() error               { return nil }
func (rb *simReplayBody) rewind()                    { rb.r = bytes.NewReader(rb.b) }

// simResetConn hijacks the connection and closes the TCP socket with
// SO_LINGER 0, so the client sees a reset.
func simResetConn(w *simStatusWriter) {
	conn, _, err := w.Hijack()
	if err != nil {
		// Cannot hijack: the best we can do is abort the handler.
		panic(http.ErrAbortHandler)
	}
	raw := conn
	if nc, ok := conn.(interface{ NetConn() net.Conn }); ok {
		raw = nc.NetConn()
	}
	if tc, ok := raw.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = raw.Close()
}

func simRetryAfter(sp *FaultSpec, def int) int {
	if sp.RetryAfter > 0 {
		return sp.RetryAfter
	}
	return def
}

// simFaultRespond writes the error response of a fault in the shape of the
// endpoint group.
func simFaultRespond(w http.ResponseWriter, r *http.Request, group string, sp *FaultSpec, now time.Time) {
	status := http.StatusTooManyRequests
	switch sp.Kind {
	case Fault500:
		status = http.StatusInternalServerError
	case Fault503:
		status = http.StatusServiceUnavailable
	}
	retry := 0
	if status == http.StatusTooManyRequests {
		retry = simRetryAfter(sp, 1)
	} else if status == http.StatusServiceUnavailable {
		retry = simRetryAfter(sp, 0)
	}
	h := w.Header()
	if retry > 0 {
		h.Set("Retry-After", strconv.Itoa(retry))
	}
	reqID := simNewGUID()
	var body any
	switch group {
	case GroupGraph:
		code, msg := "TooManyRequests", "Please retry again later."
		switch status {
		case 500:
			code, msg = "generalException", "An internal server error occurred."
		case 503:
			code, msg = "serviceNotAvailable", "The service is temporarily unavailable. Please retry later."
		}
		h.Set("request-id", reqID)
		h.Set("client-request-id", simOr(r.Header.Get("client-request-id"), reqID))
		body = map[string]any{"error": map[string]any{
			"code": code, "message": msg,
			"innerError": map[string]any{"code": strconv.Itoa(status), "date": now.UTC().Format("2006-01-02T15:04:05"), "message": msg, "request-id": reqID, "client-request-id": simOr(r.Header.Get("client-request-id"), reqID), "status": strconv.Itoa(status)},
		}}
	case GroupExchange:
		code, msg := "TooManyRequests", "The request was throttled. Please retry later."
		switch status {
		case 500:
			code, msg = "InternalServerError", "Error executing cmdlet"
		case 503:
			code, msg = "ServiceUnavailable", "The service is temporarily unavailable."
		}
		if status == http.StatusTooManyRequests {
			h.Set("Rate-Limit-Remaining", "0")
			h.Set("Rate-Limit-Reset", now.Add(time.Duration(retry)*time.Second).UTC().Format(time.RFC3339))
		}
		h.Set("request-id", reqID)
		body = map[string]any{"error": map[string]any{"code": code, "message": msg}}
	case GroupPlatform:
		code, msg := "rate_limited", "Too many requests: the limit is 60 requests per minute."
		switch status {
		case 500:
			code, msg = "internal", "Internal error."
		case 503:
			code, msg = "unavailable", "The service is temporarily unavailable."
		}
		h.Set("X-Request-Id", reqID)
		body = map[string]any{"error": map[string]any{"code": code, "message": msg, "request_id": reqID}}
	default:
		code, msg, aad := "temporarily_unavailable", "The server is temporarily too busy to handle the request. Please retry.", 50196
		if status != http.StatusTooManyRequests {
			aad, msg = 90033, "A transient error has occurred. Please try again."
		}
		body = simAADBody(code, aad, msg, r, now)
	}
	b, _ := json.Marshal(body)
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// simSlowWriter buffers the handler's response and then writes it to w in
// ten pieces spread over the fault's latency.
type simSlowWriter struct {
	grRecorder
	w http.ResponseWriter
}

func (s *simSlowWriter) Flush() {}

func (s *simSlowWriter) finish(r *http.Request, total time.Duration) {
	if total <= 0 {
		total = 500 * time.Millisecond
	}
	dst := s.w.Header()
	for k, v := range s.h {
		dst[k] = v
	}
	dst.Del("Content-Length")
	if s.code == 0 {
		s.code = http.StatusOK
	}
	body := s.buf.Bytes()
	if len(body) == 0 {
		// No body to dribble (a 204 to a DELETE): the whole answer is
		// late instead, so the request is still in flight meanwhile.
		t := time.NewTimer(total)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	s.w.WriteHeader(s.code)
	const pieces = 10
	step := (len(body) + pieces - 1) / pieces
	if step == 0 {
		step = 1
	}
	fl, _ := s.w.(http.Flusher)
	for off := 0; off < len(body); off += step {
		end := min(off+step, len(body))
		if _, err := s.w.Write(body[off:end]); err != nil {
			return
		}
		if fl != nil {
			fl.Flush()
		}
		if end < len(body) {
			t := time.NewTimer(total / pieces)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
	}
}

func simOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func simDiscardLogger() *log.Logger { return log.New(io.Discard, "", 0) }
