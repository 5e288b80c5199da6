package budget

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"itdr-onboard/internal/httpx"
)

// Upstream says which budget the requests under Base draw from.
type Upstream struct {
	Kind Kind
	// Base is the service's base URL (scheme, host and path prefix), as in
	// endpoints.Endpoints.
	Base string
}

type upstream struct {
	kind       Kind
	scheme     string
	host, path string
	base       string
}

// Transport wraps next so that every request to one of ups first draws from
// its budgets in s, and a throttled answer pauses them. Requests to other
// hosts (the identity platform, which MSAL paces itself) pass straight
// through.
func Transport(s *Set, ups []Upstream, next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	t := &transport{set: s, next: next}
	for _, u := range ups {
		pu, err := url.Parse(strings.TrimSuffix(u.Base, "/"))
		if err != nil || u.Base == "" || pu.Host == "" {
			continue
		}
		t.ups = append(t.ups, upstream{kind: u.Kind, scheme: pu.Scheme, host: strings.ToLower(pu.Host), path: pu.Path, base: u.Base})
	}
	return t
}

type transport struct {
	set  *Set
	ups  []upstream
	next http.RoundTripper
}

// CloseIdleConnections passes on to the wrapped transport.
func (t *transport) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

func (t *transport) match(u *url.URL) (upstream, string, bool) {
	best, bestLen, rel := upstream{}, -1, ""
	for _, up := range t.ups {
		if !strings.EqualFold(u.Scheme, up.scheme) || strings.ToLower(u.Host) != up.host {
			continue
		}
		if u.Path != up.path && !strings.HasPrefix(u.Path, up.path+"/") {
			continue
		}
		if len(up.path) > bestLen {
			best, bestLen, rel = up, len(up.path), strings.TrimPrefix(u.Path, up.path)
		}
	}
	return best, rel, bestLen >= 0
}

// classify names the budgets a request draws from and (withCost) its cost.
func (t *transport) classify(req *http.Request, withCost bool) (Kind, []Key, Cost, bool) {
	up, rel, ok := t.match(req.URL)
	if !ok {
		return "", nil, Cost{}, false
	}
	switch up.kind {
	case Graph:
		cost := Cost{Requests: 1}
		if withCost {
			cost = graphCost(req, rel)
		}
		return Graph, []Key{{Kind: Graph, Scope: up.base}, {Kind: GraphTenant, Scope: tokenTenant(req.Header.Get("Authorization"))}}, cost, true
	case Exchange:
		return Exchange, []Key{{Kind: Exchange, Scope: exchangeTenant(rel)}}, Cost{Requests: 1}, true
	}
	return up.kind, []Key{{Kind: up.kind, Scope: up.base}}, Cost{Requests: 1}, true
}

// Admit waits for the budgets of r (httpx.Admitter): the retry loop calls it
// before an attempt's timeout starts, so a wait for the budget never counts
// as a slow service.
func (t *transport) Admit(ctx context.Context, r *http.Request) (func(), error) {
	_, keys, cost, ok := t.classify(r, true)
	if !ok {
		return func() {}, nil
	}
	return t.set.Acquire(ctx, keys, cost)
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	admitted := httpx.Admitted(req.Context())
	kind, keys, cost, ok := t.classify(req, !admitted)
	if !ok {
		return t.next.RoundTrip(req)
	}
	release := func() {}
	if !admitted {
		var err error
		release, err = t.set.Acquire(req.Context(), keys, cost)
		if err != nil {
			if req.Body != nil {
				req.Body.Close()
			}
			return nil, err
		}
	}
	resp, err := t.next.RoundTrip(req)
	release()
	if resp != nil {
		t.throttled(kind, keys, resp)
	}
	return resp, err
}

// MaxPause is the longest wait a throttled answer imposes on every worker:
// the retry loop's budget (httpx.DefaultBudget). A service asking for longer
// gets its call given up by the retry loop, and the others go on.
const MaxPause = httpx.DefaultBudget

// minThrottlePause is how long a 429 without a usable wait pauses its budget
// (Graph's conditional-access APIs send none; Graph keeps counting while a
// client is throttled, so an immediate retry only prolongs it).
const minThrottlePause = time.Second

// throttled pauses the budget a throttled answer names.
func (t *transport) throttled(kind Kind, keys []Key, resp *http.Response) {
	now := t.set.clock.Now()
	h := resp.Header
	key := keys[0]
	if kind == Graph {
		// x-ms-throttle-scope: <Tenant_Application|Tenant|Application>/<Read|Write|ReadWrite>/<appId>/<tenantId>
		scope := strings.ToLower(h.Get("x-ms-throttle-scope"))
		switch {
		case strings.HasPrefix(scope, "application/"):
			key = keys[0]
		case scope != "" || resp.StatusCode == http.StatusTooManyRequests:
			key = keys[1]
		}
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		wait := httpx.RetryAfter(h, now)
		if wait <= 0 {
			if resp.StatusCode != http.StatusTooManyRequests {
				return
			}
			wait = minThrottlePause
		}
		if wait > MaxPause {
			// Nobody waits that long (the retry loop gives that call up,
			// docs/errors.md): holding every other request for it would
			// turn one refused read into a stalled run.
			return
		}
		t.set.Pause(key, now.Add(wait), "HTTP "+strconv.Itoa(resp.StatusCode)+" Retry-After")
		return
	}
	// Exchange says how much is left before it throttles.
	if kind == Exchange && strings.TrimSpace(h.Get("Rate-Limit-Remaining")) == "0" {
		if wait := httpx.RetryAfter(http.Header{"Rate-Limit-Reset": h.Values("Rate-Limit-Reset")}, now); wait > 0 && wait <= MaxPause {
			t.set.Pause(key, now.Add(wait), "Rate-Limit-Remaining 0")
		}
	}
}

// tokenTenant is the tid claim of a bearer token ("" when it has none). The
// token is decoded, not verified: the claim only picks a budget.
func tokenTenant(authz string) string {
	tok, ok := strings.CutPrefix(authz, "Bearer ")
	if !ok {
		return ""
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return ""
	}
	var c struct {
		Tid string `json:"tid"`
	}
	if json.Unmarshal(b, &c) != nil {
		return ""
	}
	return strings.ToLower(c.Tid)
}

// exchangeTenant is the tenant of an admin API path:
// /adminapi/beta/{tenant}/InvokeCommand.
func exchangeTenant(rel string) string {
	segs := strings.Split(strings.Trim(rel, "/"), "/")
	for i := 0; i+2 < len(segs); i++ {
		if strings.EqualFold(segs[i], "adminapi") {
			return strings.ToLower(segs[i+2])
		}
	}
	return ""
}

// maxBatchBody bounds the $batch body read to cost it.
const maxBatchBody = 1 << 20

// graphCost is a Graph request's cost: resource units after Microsoft's
// table for identity and access (gdap.md §2.1: default 1; writes 1 and one
// write; some reads 2 or 3; $select −1, $expand +1, $top under 20 −1; at
// least 1). A $batch costs the sum of its requests.
func graphCost(req *http.Request, rel string) Cost {
	p := graphPath(rel)
	if req.Method == http.MethodPost && p == "/$batch" {
		if c, ok := batchCost(req); ok {
			return c
		}
		return Cost{Requests: 1, ResourceUnits: 1}
	}
	return requestCost(req.Method, p, req.URL.Query())
}

// graphPath drops the version segment: /v1.0/users → /users.
func graphPath(rel string) string {
	rel = "/" + strings.TrimLeft(rel, "/")
	for _, v := range []string{"/v1.0", "/beta"} {
		if r, ok := strings.CutPrefix(rel, v); ok && (r == "" || r[0] == '/') {
			return r
		}
	}
	return rel
}

func requestCost(method, p string, q url.Values) Cost {
	if method != http.MethodGet && method != http.MethodHead {
		return Cost{Requests: 1, ResourceUnits: 1, Writes: 1}
	}
	ru := 1
	segs := strings.Split(strings.Trim(strings.ToLower(p), "/"), "/")
	switch {
	case len(segs) == 1 && segs[0] == "oauth2permissiongrants":
		ru = 2
	case len(segs) == 3 && segs[0] == "serviceprincipals" && segs[2] == "approleassignments":
		ru = 2
	case len(segs) == 1 && segs[0] == "subscribedskus":
		ru = 3
	case len(segs) == 2 && segs[0] == "me" && segs[1] == "transitivememberof":
		ru = 2
	case len(segs) == 1 && segs[0] == "users":
		ru = 2
	}
	if q.Get("$select") != "" {
		ru--
	}
	if q.Get("$expand") != "" {
		ru++
	}
	if top, err := strconv.Atoi(q.Get("$top")); err == nil && top < 20 {
		ru--
	}
	return Cost{Requests: 1, ResourceUnits: max(ru, 1)}
}

// batchCost reads a $batch body (leaving it for the request) and sums its
// requests' costs.
func batchCost(req *http.Request) (Cost, bool) {
	var b []byte
	switch {
	case req.GetBody != nil:
		rc, err := req.GetBody()
		if err != nil {
			return Cost{}, false
		}
		b, err = io.ReadAll(io.LimitReader(rc, maxBatchBody+1))
		rc.Close()
		if err != nil {
			return Cost{}, false
		}
	case req.Body != nil:
		var err error
		b, err = io.ReadAll(io.LimitReader(req.Body, maxBatchBody+1))
		rest := req.Body
		req.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(b), rest), rest}
		if err != nil {
			return Cost{}, false
		}
	default:
		return Cost{}, false
	}
	if len(b) > maxBatchBody {
		return Cost{}, false
	}
	var batch struct {
		Requests []struct {
			Method string `json:"method"`
			URL    string `json:"url"`
		} `json:"requests"`
	}
	if json.Unmarshal(b, &batch) != nil || len(batch.Requests) == 0 {
		return Cost{}, false
	}
	var c Cost
	for _, r := range batch.Requests {
		u, err := url.Parse(r.URL)
		if err != nil {
			u = &url.URL{Path: r.URL}
		}
		rc := requestCost(strings.ToUpper(r.Method), graphPath(u.Path), u.Query())
		c.Requests += rc.Requests
		c.ResourceUnits += rc.ResourceUnits
		c.Writes += rc.Writes
	}
	return c, true
}
