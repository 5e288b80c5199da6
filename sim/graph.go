package sim

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Graph audiences accepted on bearer tokens.
var grAudiences = []string{"https://graph.microsoft.com", AppIDMicrosoftGraph}

type grBaseKey struct{}

// grCtx is one Graph request being served.
type grCtx struct {
	st      *State
	w       http.ResponseWriter
	r       *http.Request
	reqID   string
	base    string // scheme://host[/prefix] the client used, without /v1.0
	path    string // path after /v1.0, no leading slash
	p       Principal
	user    *stUser
	foreign bool // the token was issued in another tenant
	selects []string
}

// grSegments are Graph's path segment names, matched case-insensitively:
// "Resource paths are case insensitive" and so are query option names
// (learn.microsoft.com/graph/use-the-api "Query parameters": "The values of
// query parameters ... $ prefixed query parameter names are case
// insensitive"; OData 4.01 §5.1.1.1 Case Sensitivity of System Query
// Options).
var grSegments = func() map[string]string {
	m := map[string]string{}
	for _, s := range []string{"organization", "me", "transitiveMemberOf", "memberOf", "microsoft.graph.directoryRole",
		"roleManagement", "directory", "roleEligibilityScheduleInstances", "filterByCurrentUser(on='principal')",
		"subscribedSkus", "subscriptions", "users", "reports", "authenticationMethods", "userRegistrationDetails",
		"auditLogs", "directoryAudits", "signIns", "deletedItems", "microsoft.graph.servicePrincipal", "roleAssignments",
		"oauth2PermissionGrants", "servicePrincipals", "appRoleAssignedTo", "appRoleAssignments", "$batch",
		"tenantRelationships", "delegatedAdminRelationships", "delegatedAdminCustomers", "accessAssignments",
		"contracts", "applications", "groups", "domains", "security", "alerts_v2", "$count"} {
		m[strings.ToLower(s)] = s
	}
	return m
}()

var grAltKeyPrefixRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?i)^(servicePrincipals|applications)\((appId)=`) })

// grCanonicalPath spells every known segment the way the routes do; ids and
// unknown segments are left as they are.
func grCanonicalPath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if c, ok := grSegments[strings.ToLower(s)]; ok {
			segs[i] = c
			continue
		}
		if m := grAltKeyPrefixRE().FindStringSubmatch(s); m != nil {
			name := grSegments[strings.ToLower(m[1])]
			segs[i] = name + "(appId=" + s[len(m[0]):]
		}
	}
	return strings.Join(segs, "/")
}

// grCanonicalQuery lower-cases the names of $-prefixed query options.
func grCanonicalQuery(r *http.Request) {
	if !strings.Contains(r.URL.RawQuery, "$") && !strings.Contains(r.URL.RawQuery, "%24") {
		return
	}
	vals := r.URL.Query()
	changed := false
	for k, v := range vals {
		if strings.HasPrefix(k, "$") && k != strings.ToLower(k) {
			delete(vals, k)
			vals[strings.ToLower(k)] = append(vals[strings.ToLower(k)], v...)
			changed = true
		}
	}
	if changed {
		r.URL.RawQuery = stEncodeODataQuery(vals)
	}
}

// GraphHandler serves Microsoft Graph v1.0 (mounted with its prefix stripped:
// it sees /v1.0/...).
func (st *State) GraphHandler() http.Handler { return http.HandlerFunc(st.serveGraph) }

// stRequestBase is the absolute base the client used for this handler
// (scheme://host plus any prefix a parent mux stripped).
func stRequestBase(r *http.Request) string {
	scheme := "https"
	if r.TLS == nil && !strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "http"
	}
	prefix := ""
	if u, err := url.ParseRequestURI(r.RequestURI); err == nil && strings.HasSuffix(u.Path, r.URL.Path) {
		prefix = strings.TrimSuffix(u.Path, r.URL.Path)
	}
	host := r.Host
	if host == "" {
		host = "localhost"
	}
	return scheme + "://" + host + strings.TrimRight(prefix, "/")
}

func (st *State) serveGraph(w http.ResponseWriter, r *http.Request) {
	c := &grCtx{st: st, w: w, r: r, reqID: simNewGUID()}
	if b, ok := r.Context().Value(grBaseKey{}).(string); ok {
		c.base = b
	} else {
		c.base = stRequestBase(r)
	}
	cid := r.Header.Get("client-request-id")
	if cid == "" {
		cid = c.reqID
	}
	h := w.Header()
	h.Set("request-id", c.reqID)
	h.Set("client-request-id", cid)
	h.Set("x-ms-ags-diagnostic", `{"ServerInfo":{"DataCenter":"Simulator","Slice":"E","Ring":"1","ScaleUnit":"000","RoleInstance":"SIM"}}`)
	h.Set("Cache-Control", "no-cache")
	// Graph's response headers (learn.microsoft.com/graph/best-practices-
	// concept "Reliability and support": request-id, client-request-id;
	// OData 4.0 §8.1.5 OData-Version; x-ms-resource-unit, the throttling
	// cost, learn.microsoft.com/graph/throttling-limits).
	h.Set("OData-Version", "4.0")
	h.Set("x-ms-resource-unit", "1")
	h.Set("Strict-Transport-Security", "max-age=31536000")

	p := r.URL.Path
	if len(p) >= 6 && strings.EqualFold(p[:6], "/v1.0/") {
		p = "/v1.0/" + grCanonicalPath(p[6:])
	}
	r2 := new(http.Request)
	*r2 = *r
	r2.URL = new(url.URL)
	*r2.URL = *r.URL
	grCanonicalQuery(r2)
	c.r, r = r2, r2
	if !strings.HasPrefix(p, "/v1.0/") {
		c.err(http.StatusNotFound, "Request_ResourceNotFound", "Resource not found for the segment '"+strings.Trim(p, "/")+"'. Only /v1.0 is available.")
		return
	}
	c.path = strings.Trim(strings.TrimPrefix(p, "/v1.0/"), "/")

	if !c.authenticate() {
		return
	}
	if c.path == "$batch" {
		c.serve(byMethod{http.MethodPost: c.batch})
		return
	}
	// Render under the lock, write to the network after it is released.
	buf, unlock := st.lockForResponse(w)
	defer unlock()
	c.w = buf
	c.user = st.userByID(c.p.ObjectID)
	if c.user == nil && c.p.UPN != "" {
		c.user = st.userByUPN(c.p.UPN)
	}
	if c.user == nil {
		c.user = st.delegatedUser(c.p)
	}
	if c.user == nil {
		c.err(http.StatusUnauthorized, "InvalidAuthenticationToken", "The user in the access token does not exist in the directory.")
		return
	}
	c.foreign = !strings.EqualFold(c.p.TenantID, st.tenantID)
	if c.user.gdap != nil && (c.path == "me" || strings.HasPrefix(c.path, "me/")) {
		// A partner user is not a user object in the customer directory
		// (gdap.md §1.3, PC9): /me does not resolve.
		c.objectNotFound(c.p.ObjectID)
		return
	}
	c.route()
}

// authenticate validates the bearer token; it writes the 401 itself.
func (c *grCtx) authenticate() bool {
	auth := c.r.Header.Get("Authorization")
	fail := func(msg string) bool {
		c.w.Header().Set("WWW-Authenticate", `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`)
		c.err(http.StatusUnauthorized, "InvalidAuthenticationToken", msg)
		return false
	}
	if strings.TrimSpace(auth) == "" {
		return fail("Access token is empty.")
	}
	if len(auth) < 7 || !strings.EqualFold(auth[:7], "bearer ") {
		return fail("Access token validation failure. Invalid audience.")
	}
	if c.st.Tokens == nil {
		return fail("Access token validation failure.")
	}
	p, fault := c.st.bearer(auth, grAudiences, c.base)
	switch fault {
	case tokenUnknown:
		// Graph's texts: a string that is not a JWS at all gets IDX14100; a
		// well-formed token Graph cannot validate gets the generic failure.
		if strings.Count(strings.TrimSpace(auth[7:]), ".") == 2 {
			return fail("Access token validation failure. Invalid signature.")
		}
		return fail("IDX14100: JWT is not well formed, there are no dots (.).")
	case tokenExpired:
		return fail("Lifetime validation failed, the token is expired.")
	case tokenWrongAudience:
		return fail("Access token validation failure. Invalid audience.")
	}
	c.p = p
	return true
}

// tokenFault is why a resource refuses a bearer token.
type tokenFault int

const (
	tokenOK tokenFault = iota
	tokenUnknown
	tokenExpired
	tokenWrongAudience
)

// bearer looks up the Authorization header's token and checks it is for
// one of audiences (or base) and not expired. Each resource words the
// refusal its own way.
func (st *State) bearer(auth string, audiences []string, base string) (Principal, tokenFault) {
	p, ok := st.Tokens.Lookup(auth)
	if !ok {
		if _, known := st.Tokens.Inspect(auth); known {
			return Principal{}, tokenExpired
		}
		return Principal{}, tokenUnknown
	}
	if !stAudienceOK(p.Audience, audiences, base) {
		return Principal{}, tokenWrongAudience
	}
	if !p.Expires.IsZero() && !st.now().Before(p.Expires) {
		return Principal{}, tokenExpired
	}
	return p, tokenOK
}

func stAudienceOK(aud string, want []string, base string) bool {
	a := strings.TrimRight(strings.TrimSpace(aud), "/")
	for _, w := range want {
		if strings.EqualFold(a, w) {
			return true
		}
	}
	return base != "" && strings.EqualFold(a, strings.TrimRight(base, "/"))
}

// ---- responses ----

func (c *grCtx) writeJSON(status int, v any) {
	c.w.Header().Set("Content-Type", "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8")
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"InternalServerError","message":"encoding failed"}}`)
	}
	c.w.WriteHeader(status)
	_, _ = c.w.Write(b)
}

func (c *grCtx) err(status int, code, msg string) {
	cid := c.w.Header().Get("client-request-id")
	c.writeJSON(status, map[string]any{"error": map[string]any{
		"code":    code,
		"message": msg,
		"innerError": map[string]any{
			"date":              c.st.now().UTC().Format("2006-01-02T15:04:05"),
			"request-id":        c.reqID,
			"client-request-id": cid,
		},
	}})
}

func (c *grCtx) methodNotAllowed() {
	c.err(http.StatusMethodNotAllowed, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
}

func (c *grCtx) notFoundSegment() {
	seg := c.path
	if i := strings.LastIndex(seg, "/"); i >= 0 {
		seg = seg[i+1:]
	}
	c.err(http.StatusNotFound, "Request_ResourceNotFound", "Resource not found for the segment '"+seg+"'.")
}

func (c *grCtx) objectNotFound(id string) {
	c.err(http.StatusNotFound, "Request_ResourceNotFound", "Resource '"+id+"' does not exist or one of its queried reference-property objects are not present.")
}

func (c *grCtx) denied() {
	c.err(http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
}

// contextURL is @odata.context; with $select the entity set carries the
// selected properties, as Graph does: "#users(id,displayName)/$entity"
// (OData 4.01 Protocol §10 Context URL, "Projected Entity").
func (c *grCtx) contextURL(frag string) string {
	if len(c.selects) > 0 && !strings.Contains(frag, "(") {
		sel := "(" + strings.Join(c.selects, ",") + ")"
		if i := strings.Index(frag, "/$entity"); i >= 0 {
			frag = frag[:i] + sel + frag[i:]
		} else {
			frag += sel
		}
	}
	return c.base + "/v1.0/$metadata#" + frag
}

func (c *grCtx) entity(status int, frag string, obj map[string]any) {
	obj["@odata.context"] = c.contextURL(frag)
	c.writeJSON(status, obj)
}

// requireRoles writes 403 unless the caller holds one of the roles in this tenant.
func (c *grCtx) requireRoles(roles ...string) bool {
	if c.foreign || !(c.st.hasAnyRole(c.user.ID, roles...) || c.user.hasGDAPRole(roles...)) {
		c.denied()
		return false
	}
	return true
}

func (c *grCtx) decodeBody(v any) bool {
	b, err := io.ReadAll(io.LimitReader(c.r.Body, 1<<20))
	if err == nil {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		c.err(http.StatusBadRequest, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.")
		return false
	}
	return true
}

// ---- OData query ----

type grClause struct {
	prop  string
	value any // string or bool
}

type grQuery struct {
	filter  []grClause
	selects []string
	top     int
	skip    int
}

var grClauseRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^\s*([A-Za-z][A-Za-z0-9]*)\s+eq\s+('(?:[^']|'')*'|true|false|[0-9a-fA-F-]{36})\s*$`)
})
var grAndRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?i)\s+and\s+`) })

// parseQuery parses $filter/$select/$top/$skiptoken; it writes 400 itself.
func (c *grCtx) parseQuery(resource string, filterable ...string) (grQuery, bool) {
	var q grQuery
	vals := c.r.URL.Query()
	if f := strings.TrimSpace(vals.Get("$filter")); f != "" {
		for _, part := range stSplitOutsideQuotes(f, grAndRE()) {
			m := grClauseRE().FindStringSubmatch(part)
			if m == nil {
				c.err(http.StatusBadRequest, "BadRequest", "Invalid filter clause: The query specified in the URI is not valid.")
				return q, false
			}
			ok := false
			for _, p := range filterable {
				if strings.EqualFold(p, m[1]) {
					m[1], ok = p, true
				}
			}
			if !ok {
				c.err(http.StatusBadRequest, "BadRequest", "Unsupported or invalid query filter clause specified for property '"+m[1]+"' of resource '"+resource+"'.")
				return q, false
			}
			var v any
			switch {
			case m[2] == "true":
				v = true
			case m[2] == "false":
				v = false
			case strings.HasPrefix(m[2], "'"):
				v = strings.ReplaceAll(m[2][1:len(m[2])-1], "''", "'")
			default:
				v = m[2]
			}
			q.filter = append(q.filter, grClause{prop: m[1], value: v})
		}
	}
	if s := vals.Get("$select"); s != "" {
		for _, f := range strings.Split(s, ",") {
			if f = strings.TrimSpace(f); f != "" {
				q.selects = append(q.selects, f)
			}
		}
		c.selects = q.selects
	}
	if t := vals.Get("$top"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 1 {
			c.err(http.StatusBadRequest, "BadRequest", "Invalid value '"+t+"' for $top query option found.")
			return q, false
		}
		if n > 999 {
			c.err(http.StatusBadRequest, "Request_UnsupportedQuery", "Invalid page size specified: '"+t+"'. Must be between 1 and 999 inclusive.")
			return q, false
		}
		q.top = n
	}
	if s := vals.Get("$skiptoken"); s != "" {
		b, err := base64.RawURLEncoding.DecodeString(s)
		n, err2 := strconv.Atoi(strings.TrimPrefix(string(b), "skip:"))
		if err != nil || err2 != nil || !strings.HasPrefix(string(b), "skip:") || n < 0 {
			c.err(http.StatusBadRequest, "Request_BadRequest", "Invalid paging token.")
			return q, false
		}
		q.skip = n
	}
	return q, true
}

// stSplitOutsideQuotes splits s on sep matches that are not inside '...'.
func stSplitOutsideQuotes(s string, sep *regexp.Regexp) []string {
	var parts []string
	start := 0
	for _, loc := range sep.FindAllStringIndex(s, -1) {
		if strings.Count(s[:loc[0]], "'")%2 == 1 {
			continue
		}
		parts = append(parts, s[start:loc[0]])
		start = loc[1]
	}
	return append(parts, s[start:])
}

func (q grQuery) match(item map[string]any) bool {
	for _, cl := range q.filter {
		v, ok := item[cl.prop]
		if !ok {
			return false
		}
		switch want := cl.value.(type) {
		case bool:
			if b, ok := v.(bool); !ok || b != want {
				return false
			}
		case string:
			s, ok := v.(string)
			if !ok || !strings.EqualFold(s, want) {
				return false
			}
		}
	}
	return true
}

func (q grQuery) project(item map[string]any) map[string]any {
	if len(q.selects) == 0 {
		return item
	}
	out := map[string]any{}
	for k, v := range item {
		if strings.HasPrefix(k, "@odata.") {
			out[k] = v
		}
	}
	for _, s := range q.selects {
		for k, v := range item {
			if strings.EqualFold(k, s) {
				out[k] = v
			}
		}
	}
	return out
}

// list filters, pages (pageSize > 0: server-driven paging with
// @odata.nextLink) and writes a collection.
func (c *grCtx) list(frag string, q grQuery, items []map[string]any, pageSize int) {
	c.listLazy(frag, q, len(items), func(i int) map[string]any { return items[i] }, pageSize)
}

// listLazy is list over n items built by item(i): without a $filter only
// the served page is built, so a large report costs a page per page, not
// the whole report per page (Graph's own cost is in the latency fault).
func (c *grCtx) listLazy(frag string, q grQuery, n int, item func(int) map[string]any, pageSize int) {
	var matched []map[string]any
	if len(q.filter) == 0 {
		size := n
		if q.top > 0 {
			size = q.top
		} else if pageSize > 0 {
			size = pageSize
		}
		start := min(q.skip, n)
		end := min(start+size, n)
		matched = make([]map[string]any, n) // only [start, end) is built
		for i := start; i < end; i++ {
			matched[i] = item(i)
		}
	} else {
		for i := 0; i < n; i++ {
			if it := item(i); q.match(it) {
				matched = append(matched, it)
			}
		}
	}
	size := len(matched)
	if q.top > 0 {
		size = q.top
	} else if pageSize > 0 {
		size = pageSize
	}
	start := min(q.skip, len(matched))
	end := min(start+size, len(matched))
	page := make([]map[string]any, 0, end-start)
	for _, it := range matched[start:end] {
		page = append(page, q.project(it))
	}
	out := map[string]any{"@odata.context": c.contextURL(frag), "value": page}
	if (pageSize > 0 || q.top > 0 || q.skip > 0) && end < len(matched) {
		vals := c.r.URL.Query()
		vals.Set("$skiptoken", base64.RawURLEncoding.EncodeToString([]byte("skip:"+strconv.Itoa(end))))
		out["@odata.nextLink"] = c.base + "/v1.0/" + c.path + "?" + stEncodeODataQuery(vals)
	}
	if c.r.URL.Query().Get("$count") == "true" {
		out["@odata.count"] = len(matched)
	}
	c.writeJSON(http.StatusOK, out)
}

// stEncodeODataQuery encodes a query keeping '$' readable, like Graph does.
func stEncodeODataQuery(v url.Values) string {
	return strings.ReplaceAll(v.Encode(), "%24", "$")
}

// ---- routing ----

var grSPAltKeyRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^servicePrincipals\(appId='([^']*)'\)$`) })

// byMethod maps an HTTP method to the handler for it.
type byMethod map[string]func()

// serve calls the handler for the request's method, or answers 405 the
// way Graph does.
func (c *grCtx) serve(h byMethod) {
	if f := h[c.r.Method]; f != nil {
		f()
		return
	}
	c.methodNotAllowed()
}

func (c *grCtx) route() {
	segs := strings.Split(c.path, "/")
	get := c.r.Method == http.MethodGet
	if c.foreign && !(get && (c.path == "organization" || c.path == "me" || c.path == "me/transitiveMemberOf/microsoft.graph.directoryRole")) {
		// A token from another tenant sees that tenant, not this one.
		c.denied()
		return
	}
	switch {
	case c.path == "organization":
		c.serve(byMethod{http.MethodGet: c.organization})
	case c.path == "me":
		c.serve(byMethod{http.MethodGet: c.me})
	case c.path == "me/transitiveMemberOf/microsoft.graph.directoryRole" || c.path == "me/memberOf/microsoft.graph.directoryRole":
		c.serve(byMethod{http.MethodGet: c.myDirectoryRoles})
	case c.path == "roleManagement/directory/roleEligibilityScheduleInstances/filterByCurrentUser(on='principal')":
		c.serve(byMethod{http.MethodGet: c.myEligibilities})
	case c.path == "subscribedSkus":
		c.serve(byMethod{http.MethodGet: c.subscribedSkus})
	case c.path == "directory/subscriptions":
		c.serve(byMethod{http.MethodGet: c.companySubscriptions})
	case c.path == "users":
		c.serve(byMethod{http.MethodGet: c.users})
	case c.path == "reports/authenticationMethods/userRegistrationDetails":
		c.serve(byMethod{http.MethodGet: c.registrationDetails})
	case c.path == "auditLogs/directoryAudits":
		c.serve(byMethod{http.MethodGet: c.directoryAudits})
	case c.path == "directory/deletedItems/microsoft.graph.servicePrincipal":
		c.serve(byMethod{http.MethodGet: c.deletedSPs})
	case c.path == "roleManagement/directory/roleAssignments":
		c.serve(byMethod{http.MethodGet: c.listRoleAssignments, http.MethodPost: c.createRoleAssignment})
	case len(segs) == 4 && strings.HasPrefix(c.path, "roleManagement/directory/roleAssignments/"):
		id := segs[3]
		c.serve(byMethod{
			http.MethodGet:    func() { c.getRoleAssignment(id) },
			http.MethodDelete: func() { c.deleteRoleAssignment(id) },
		})
	case c.path == "oauth2PermissionGrants":
		c.serve(byMethod{http.MethodGet: c.listGrants, http.MethodPost: c.createGrant})
	case len(segs) == 2 && segs[0] == "oauth2PermissionGrants":
		id := segs[1]
		c.serve(byMethod{
			http.MethodGet:    func() { c.getGrant(id) },
			http.MethodPatch:  func() { c.patchGrant(id) },
			http.MethodDelete: func() { c.deleteGrant(id) },
		})
	case c.path == "servicePrincipals":
		c.serve(byMethod{http.MethodGet: c.listSPs, http.MethodPost: c.createSP})
	case strings.HasPrefix(segs[0], "servicePrincipals"):
		c.routeSP(segs)
	default:
		c.notFoundSegment()
	}
}

// routeSP serves servicePrincipals/{id}[/...] and servicePrincipals(appId='…')[/...].
func (c *grCtx) routeSP(segs []string) {
	var sp *stSP
	var key string
	rest := segs[1:]
	if mm := grSPAltKeyRE().FindStringSubmatch(segs[0]); mm != nil {
		key = mm[1]
		sp = c.st.liveSPByAppID(key)
	} else if segs[0] == "servicePrincipals" && len(segs) >= 2 {
		key = segs[1]
		sp = c.st.liveSPByID(key)
		rest = segs[2:]
	} else {
		c.notFoundSegment()
		return
	}
	if sp == nil {
		c.objectNotFound(key)
		return
	}
	switch {
	case len(rest) == 0:
		c.serve(byMethod{
			http.MethodGet:    func() { c.getSP(sp) },
			http.MethodDelete: func() { c.deleteSP(sp) },
		})
	case len(rest) == 1 && (rest[0] == "appRoleAssignedTo" || rest[0] == "appRoleAssignments"):
		byResource := rest[0] == "appRoleAssignedTo"
		c.serve(byMethod{
			http.MethodGet:  func() { c.listAppRoleAssignments(sp, byResource) },
			http.MethodPost: func() { c.createAppRoleAssignment(sp, byResource) },
		})
	case len(rest) == 2 && (rest[0] == "appRoleAssignedTo" || rest[0] == "appRoleAssignments"):
		c.serve(byMethod{http.MethodDelete: func() { c.deleteAppRoleAssignment(sp, rest[0] == "appRoleAssignedTo", rest[1]) }})
	default:
		c.notFoundSegment()
	}
}

func (c *grCtx) me() {
	q, ok := c.parseQuery("user")
	if !ok {
		return
	}
	c.entity(http.StatusOK, "users/$entity", q.project(c.st.grUserJSON(c.user)))
}

func (c *grCtx) getSP(sp *stSP) {
	q, ok := c.parseQuery("servicePrincipal")
	if !ok {
		return
	}
	c.entity(http.StatusOK, "servicePrincipals/$entity", q.project(c.st.grSPJSON(sp, false)))
}

// ---- tenant, me, roles ----

func (c *grCtx) organization() {
	st := c.st
	var org map[string]any
	if c.foreign {
		dom := strings.ToLower(c.user.UPN[strings.LastIndex(c.user.UPN, "@")+1:])
		label := strings.SplitN(dom, ".", 2)[0]
		org = map[string]any{
			"id": c.p.TenantID, "displayName": label, "tenantType": "AAD", "countryLetterCode": "US",
			"onPremisesSyncEnabled": nil, "createdDateTime": "2019-03-01T10:00:00Z", "businessPhones": []any{},
			"verifiedDomains": []any{
				map[string]any{"capabilities": "Email, OfficeCommunicationsOnline", "isDefault": true, "isInitial": false, "name": dom, "type": "Managed"},
				map[string]any{"capabilities": "Email, OfficeCommunicationsOnline", "isDefault": false, "isInitial": true, "name": label + ".onmicrosoft.com", "type": "Managed"},
			},
			"assignedPlans": []any{},
		}
	} else {
		var plans []any
		for _, k := range st.skus {
			for _, p := range k.Plans {
				// assignedPlan.capabilityStatus follows the SKU's state; a
				// plan that is not provisioned is not Enabled.
				status := k.Capability
				if p.Status != "Success" && status == "Enabled" {
					status = "Suspended"
				}
				service := stPlanService(p.Name)
				plans = append(plans, map[string]any{"assignedDateTime": st.created.Add(-200 * 24 * time.Hour).UTC().Format(time.RFC3339), "capabilityStatus": status, "service": service, "servicePlanId": p.ID})
			}
		}
		if plans == nil {
			plans = []any{}
		}
		org = map[string]any{
			"id": st.tenantID, "displayName": st.tenantName, "tenantType": "AAD", "countryLetterCode": "US",
			"onPremisesSyncEnabled": nil, "onPremisesLastSyncDateTime": nil, "createdDateTime": st.created.Add(-700 * 24 * time.Hour).UTC().Format(time.RFC3339),
			"businessPhones": []any{}, "city": nil, "country": nil, "deletedDateTime": nil, "partnerTenantType": nil,
			"preferredLanguage": "en", "technicalNotificationMails": []any{"admin@" + st.initialDomain},
			"verifiedDomains": []any{
				map[string]any{"capabilities": "Email, OfficeCommunicationsOnline", "isDefault": true, "isInitial": true, "name": st.initialDomain, "type": "Managed"},
			},
			"assignedPlans": plans,
		}
	}
	q, ok := c.parseQuery("organization")
	if !ok {
		return
	}
	c.list("organization", q, []map[string]any{org}, 0)
}

func (st *State) grUserJSON(u *stUser) map[string]any {
	given, sur := u.DisplayName, ""
	if i := strings.LastIndex(u.DisplayName, " "); i > 0 {
		given, sur = u.DisplayName[:i], u.DisplayName[i+1:]
	}
	lic := []any{}
	if u.Licensed && len(st.skus) > 0 {
		lic = append(lic, map[string]any{"disabledPlans": []any{}, "skuId": st.skus[0].SkuID})
	}
	return map[string]any{
		"id": u.ID, "userPrincipalName": u.UPN, "displayName": u.DisplayName, "givenName": given, "surname": sur,
		"mail": u.UPN, "businessPhones": []any{}, "jobTitle": nil, "mobilePhone": nil, "officeLocation": nil,
		"preferredLanguage": "en-US", "accountEnabled": u.Enabled, "assignedLicenses": lic, "userType": "Member",
	}
}

func (c *grCtx) myDirectoryRoles() {
	q, ok := c.parseQuery("directoryRole", "displayName", "roleTemplateId", "id")
	if !ok {
		return
	}
	seen := map[string]bool{}
	var items []map[string]any
	for _, tid := range c.st.activeRoles(c.user.ID) {
		if seen[tid] {
			continue
		}
		seen[tid] = true
		def, _ := stRoleByTemplate(tid)
		items = append(items, map[string]any{
			"@odata.type": "#microsoft.graph.directoryRole", "id": stNameGUID("directoryRole/"+c.p.TenantID, tid),
			"deletedDateTime": nil, "description": def.Description, "displayName": def.DisplayName, "roleTemplateId": tid,
		})
	}
	c.list("directoryRoles", q, items, 0)
}

func (c *grCtx) myEligibilities() {
	q, ok := c.parseQuery("unifiedRoleEligibilityScheduleInstance", "roleDefinitionId", "principalId")
	if !ok {
		return
	}
	var items []map[string]any
	for _, tid := range c.user.Eligible {
		id := stNameGUID("eligibility", c.user.ID+tid)
		items = append(items, map[string]any{
			"id": id, "principalId": c.user.ID, "roleDefinitionId": tid, "directoryScopeId": "/", "appScopeId": nil,
			"startDateTime": c.st.created.Add(-90 * 24 * time.Hour).UTC().Format(time.RFC3339), "endDateTime": nil,
			"memberType": "Direct", "roleEligibilityScheduleId": stNameGUID("eligibilitySchedule", c.user.ID+tid),
		})
	}
	c.list("Collection(unifiedRoleEligibilityScheduleInstance)", q, items, 0)
}

func (c *grCtx) subscribedSkus() {
	q, ok := c.parseQuery("subscribedSku")
	if !ok {
		return
	}
	var items []map[string]any
	for _, k := range c.st.skus {
		plans := []any{}
		for _, p := range k.Plans {
			plans = append(plans, map[string]any{"servicePlanId": p.ID, "servicePlanName": p.Name, "provisioningStatus": p.Status, "appliesTo": p.AppliesTo})
		}
		items = append(items, map[string]any{
			"id": c.st.tenantID + "_" + k.SkuID, "accountId": c.st.tenantID, "accountName": c.st.tenantName,
			"skuId": k.SkuID, "skuPartNumber": k.PartNumber, "appliesTo": "User", "capabilityStatus": k.Capability,
			"consumedUnits": k.Consumed, "subscriptionIds": []any{stNameGUID("subscription", c.st.tenantID+k.PartNumber)},
			"prepaidUnits": stPrepaidUnits(k),
			"servicePlans": plans,
		})
	}
	c.list("subscribedSkus", q, items, 0)
}

// stPrepaidUnits puts the scenario's units in the licenseUnitsDetail bucket
// of the SKU's state (learn.microsoft.com/graph/api/resources/licenseunitsdetail):
// a subscription in its grace period has warning units, a suspended one
// suspended units, a cancelled one lockedOut units, a deleted one none.
func stPrepaidUnits(k stSKU) map[string]any {
	u := map[string]any{"enabled": 0, "suspended": 0, "warning": 0, "lockedOut": 0}
	switch k.Capability {
	case "Warning":
		u["warning"] = k.Enabled
	case "Suspended":
		u["suspended"] = k.Enabled
	case "LockedOut":
		u["lockedOut"] = k.Enabled
	case "Deleted":
	default:
		u["enabled"] = k.Enabled
	}
	return u
}

// companySubscriptions serves GET /directory/subscriptions: one commercial
// subscription per SKU (learn.microsoft.com/graph/api/resources/companysubscription),
// its status the SKU's state and nextLifecycleDateTime when it moves on.
func (c *grCtx) companySubscriptions() {
	q, ok := c.parseQuery("companySubscription", "skuId", "status", "id")
	if !ok {
		return
	}
	var items []map[string]any
	for _, k := range c.st.skus {
		var next any
		if !k.NextLifecycle.IsZero() {
			next = k.NextLifecycle.UTC().Format(time.RFC3339)
		}
		plans := []any{}
		for _, p := range k.Plans {
			plans = append(plans, map[string]any{"servicePlanId": p.ID, "servicePlanName": p.Name, "provisioningStatus": p.Status, "appliesTo": p.AppliesTo})
		}
		id := stNameGUID("subscription", c.st.tenantID+k.PartNumber)
		items = append(items, map[string]any{
			"id": id, "commerceSubscriptionId": stNameGUID("commerceSubscription", id),
			"createdDateTime": c.st.created.Add(-300 * 24 * time.Hour).UTC().Format(time.RFC3339),
			"isTrial":         false, "nextLifecycleDateTime": next, "ownerId": nil, "ownerTenantId": nil, "ownerType": nil,
			"serviceStatus": plans, "skuId": k.SkuID, "skuPartNumber": k.PartNumber, "status": k.Capability, "totalLicenses": k.Enabled,
		})
	}
	c.list("directory/subscriptions", q, items, 0)
}

func (c *grCtx) users() {
	q, ok := c.parseQuery("user", "accountEnabled", "userPrincipalName", "id", "displayName", "userType")
	if !ok {
		return
	}
	var items []map[string]any
	for _, u := range c.st.users {
		if u.HomeTenant != "" {
			continue
		}
		items = append(items, c.st.grUserJSON(u))
	}
	c.list("users", q, items, 100)
}

func (c *grCtx) registrationDetails() {
	q, ok := c.parseQuery("userRegistrationDetails", "isMfaRegistered", "isMfaCapable", "isAdmin", "userPrincipalName", "id")
	if !ok {
		return
	}
	var users []*stUser
	for _, u := range c.st.users {
		if u.HomeTenant == "" {
			users = append(users, u)
		}
	}
	row := func(i int) map[string]any {
		u := users[i]
		methods := []any{}
		def := "none"
		if u.MFA {
			methods = []any{"microsoftAuthenticatorPush", "softwareOneTimePasscode"}
			def = "microsoftAuthenticatorPush"
		}
		return map[string]any{
			"id": u.ID, "userPrincipalName": u.UPN, "userDisplayName": u.DisplayName, "userType": "member",
			"isAdmin": len(c.st.activeRoles(u.ID)) > 0, "isMfaCapable": u.MFA, "isMfaRegistered": u.MFA,
			"isPasswordlessCapable": false, "isSsprCapable": u.MFA, "isSsprEnabled": true, "isSsprRegistered": u.MFA,
			"isSystemPreferredAuthenticationMethodEnabled": true, "methodsRegistered": methods, "defaultMfaMethod": def,
			"lastUpdatedDateTime": c.st.created.Add(-time.Hour).UTC().Format(time.RFC3339),
		}
	}
	c.listLazy("reports/authenticationMethods/userRegistrationDetails", q, len(users), row, 100)
}

// ---- service principals ----

func (st *State) grSPJSON(sp *stSP, deleted bool) map[string]any {
	roles := []any{}
	for _, r := range sp.AppRoles {
		roles = append(roles, map[string]any{"allowedMemberTypes": []any{"Application"}, "description": r.Description, "displayName": r.DisplayName, "id": r.ID, "isEnabled": true, "origin": "Application", "value": r.Value})
	}
	scopes := []any{}
	for _, s := range sp.Scopes {
		scopes = append(scopes, map[string]any{"adminConsentDescription": s.DisplayName, "adminConsentDisplayName": s.DisplayName, "id": s.ID, "isEnabled": true, "type": "Admin", "value": s.Value})
	}
	obj := map[string]any{
		"id": sp.ID, "appId": sp.AppID, "displayName": sp.DisplayName, "appDisplayName": sp.DisplayName,
		"appOwnerOrganizationId": sp.OwnerTenantID, "accountEnabled": true, "servicePrincipalType": "Application",
		"servicePrincipalNames": []any{sp.AppID}, "signInAudience": "AzureADMultipleOrgs", "tags": []any{},
		"appRoles": roles, "oauth2PermissionScopes": scopes, "deletedDateTime": nil,
		"createdDateTime": sp.CreatedAt.UTC().Format(time.RFC3339),
	}
	if deleted {
		obj["@odata.type"] = "#microsoft.graph.servicePrincipal"
		obj["deletedDateTime"] = sp.DeletedAt.UTC().Format(time.RFC3339)
	}
	return obj
}

func (c *grCtx) listSPs() {
	q, ok := c.parseQuery("servicePrincipal", "appId", "displayName", "id", "servicePrincipalType")
	if !ok {
		return
	}
	var items []map[string]any
	for _, sp := range c.st.sps {
		items = append(items, c.st.grSPJSON(sp, false))
	}
	c.list("servicePrincipals", q, items, 100)
}

func (c *grCtx) deletedSPs() {
	q, ok := c.parseQuery("servicePrincipal", "appId", "displayName", "id")
	if !ok {
		return
	}
	var items []map[string]any
	for _, sp := range c.st.deleted {
		items = append(items, c.st.grSPJSON(sp, true))
	}
	c.list("directory/deletedItems/microsoft.graph.servicePrincipal", q, items, 100)
}

var grAppWriters = []string{RoleGlobalAdministrator, RoleApplicationAdministrator, RoleCloudAppAdministrator}

func (c *grCtx) createSP() {
	if !c.requireRoles(grAppWriters...) {
		return
	}
	var body struct {
		AppID string `json:"appId"`
	}
	if !c.decodeBody(&body) {
		return
	}
	appID := strings.ToLower(strings.TrimSpace(body.AppID))
	if !simIsGUID(appID) {
		c.err(http.StatusBadRequest, "Request_BadRequest", "Invalid value specified for property 'appId' of resource 'ServicePrincipal'.")
		return
	}
	sp, cerr := c.st.createSPLocked(appID)
	if cerr != nil {
		c.err(cerr.status, cerr.code, cerr.message)
		return
	}
	c.st.recordLocked("graph", "POST /servicePrincipals", "appId="+appID, c.reqID)
	c.w.Header().Set("Location", c.base+"/v1.0/servicePrincipals/"+sp.ID)
	c.entity(http.StatusCreated, "servicePrincipals/$entity", c.st.grSPJSON(sp, false))
}

// stGraphError is a Graph error decided by the state.
type stGraphError struct {
	status  int
	code    string
	message string
	aadsts  int // the AADSTS code inside message, when any
}

// createSPLocked creates the service principal of an application, applying
// the scenario's consent behaviour. Callers hold st.mu.
func (st *State) createSPLocked(appID string) (*stSP, *stGraphError) {
	st.tickLocked()
	if st.liveSPByAppID(appID) != nil {
		return nil, &stGraphError{status: http.StatusConflict, code: "Request_MultipleObjectsWithSameKeyValue", message: "Another object with the same value for property servicePrincipalNames already exists."}
	}
	if appID == st.platformAppID {
		switch st.consentMode {
		case "invalid-permissions":
			return nil, &stGraphError{status: http.StatusBadRequest, code: "Request_BadRequest", aadsts: 650051, message: st.invalidPermissionsMessage()}
		case "sp-soft-deleted":
			if !st.consentPurged {
				if st.consentAttempt.IsZero() {
					st.consentAttempt = st.now()
				}
				st.tickLocked()
				if !st.consentPurged {
					return nil, &stGraphError{status: http.StatusBadRequest, code: "Request_BadRequest", aadsts: 650051, message: st.softDeletedMessage()}
				}
			}
		}
	}
	name := st.appDisplayName(appID)
	if name == "" {
		for _, d := range st.deleted {
			if strings.EqualFold(d.AppID, appID) {
				name = d.DisplayName
			}
		}
	}
	if name == "" {
		return nil, &stGraphError{status: http.StatusBadRequest, code: "Request_BadRequest", message: "The appId '" + appID + "' of the service principal does not reference a valid application object."}
	}
	sp := &stSP{ID: st.newGUID(), AppID: appID, DisplayName: name, OwnerTenantID: stPlatformVendorTenant, CreatedAt: st.now()}
	st.sps = append(st.sps, sp)
	return sp, nil
}

func (st *State) softDeletedMessage() string {
	return fmt.Sprintf("AADSTS650051: Consent action for Application '%s' failed due to the following error: The '%s' service principal name is already present for the tenant '%s'. paramName: ServicePrincipalName, paramValue: '%s', objectType: System.String", st.platformAppID, st.platformAppID, st.tenantID, st.platformAppID)
}

func (st *State) invalidPermissionsMessage() string {
	return fmt.Sprintf("AADSTS650051: Application '%s' is requesting permissions that are either invalid or out of date. Claim is invalid: ActivityReports.Read does not exist on resource 'Office 365 Management APIs'", st.platformAppID)
}

func (c *grCtx) deleteSP(sp *stSP) {
	if !c.requireRoles(grAppWriters...) {
		return
	}
	for _, r := range stResourceSPs() {
		if strings.EqualFold(r.AppID, sp.AppID) {
			c.err(http.StatusBadRequest, "Request_BadRequest", "Cannot delete a Microsoft first-party service principal.")
			return
		}
	}
	st := c.st
	st.deleteSPLocked(sp)
	st.recordLocked("graph", "DELETE /servicePrincipals", "appId="+sp.AppID, c.reqID)
	c.w.WriteHeader(http.StatusNoContent)
}

func (st *State) deleteSPLocked(sp *stSP) {
	kept := st.sps[:0]
	for _, s := range st.sps {
		if s != sp {
			kept = append(kept, s)
		}
	}
	st.sps = kept
	sp.DeletedAt = st.now()
	st.deleted = append(st.deleted, sp)
	ra := st.roleAssigns[:0]
	for _, a := range st.roleAssigns {
		if !strings.EqualFold(a.PrincipalID, sp.ID) {
			ra = append(ra, a)
		}
	}
	st.roleAssigns = ra
	ara := st.appRoleAssigns[:0]
	for _, a := range st.appRoleAssigns {
		if !strings.EqualFold(a.PrincipalID, sp.ID) && !strings.EqualFold(a.ResourceID, sp.ID) {
			ara = append(ara, a)
		}
	}
	st.appRoleAssigns = ara
	gs := st.grants[:0]
	for _, g := range st.grants {
		if !strings.EqualFold(g.ClientID, sp.ID) && !strings.EqualFold(g.ResourceID, sp.ID) {
			gs = append(gs, g)
		}
	}
	st.grants = gs
}

// ---- directory role assignments ----

var grRoleWriters = []string{RoleGlobalAdministrator, RolePrivilegedRoleAdministrator}

func grRoleAssignmentJSON(a *stRoleAssignment) map[string]any {
	return map[string]any{"id": a.ID, "principalId": a.PrincipalID, "roleDefinitionId": a.RoleDefinitionID, "directoryScopeId": a.DirectoryScopeID, "appScopeId": nil, "condition": nil}
}

func (c *grCtx) listRoleAssignments() {
	q, ok := c.parseQuery("unifiedRoleAssignment", "principalId", "roleDefinitionId", "directoryScopeId", "id")
	if !ok {
		return
	}
	var items []map[string]any
	for _, a := range c.st.roleAssigns {
		items = append(items, grRoleAssignmentJSON(a))
	}
	c.list("roleManagement/directory/roleAssignments", q, items, 0)
}

func (c *grCtx) getRoleAssignment(id string) {
	for _, a := range c.st.roleAssigns {
		if a.ID == id {
			c.entity(http.StatusOK, "roleManagement/directory/roleAssignments/$entity", grRoleAssignmentJSON(a))
			return
		}
	}
	c.objectNotFound(id)
}

func (c *grCtx) createRoleAssignment() {
	if !c.requireRoles(grRoleWriters...) {
		return
	}
	var body struct {
		RoleDefinitionID string `json:"roleDefinitionId"`
		PrincipalID      string `json:"principalId"`
		DirectoryScopeID string `json:"directoryScopeId"`
	}
	if !c.decodeBody(&body) {
		return
	}
	st := c.st
	def, ok := stRoleByTemplate(strings.TrimSpace(body.RoleDefinitionID))
	if !ok {
		c.objectNotFound(body.RoleDefinitionID)
		return
	}
	pid := strings.ToLower(strings.TrimSpace(body.PrincipalID))
	if u := st.userByID(pid); (u == nil || u.HomeTenant != "") && st.liveSPByID(pid) == nil {
		c.objectNotFound(body.PrincipalID)
		return
	}
	scope := body.DirectoryScopeID
	if scope == "" {
		scope = "/"
	}
	if scope != "/" {
		c.err(http.StatusBadRequest, "Request_BadRequest", "Only tenant-wide directory scope '/' is supported.")
		return
	}
	for _, a := range st.roleAssigns {
		if strings.EqualFold(a.PrincipalID, pid) && strings.EqualFold(a.RoleDefinitionID, def.TemplateID) && a.DirectoryScopeID == scope {
			// Microsoft answers a duplicate unifiedRoleAssignment with 400
			// Request_BadRequest, not 409 (docs/simulator-fidelity.md).
			c.err(http.StatusBadRequest, "Request_BadRequest", "A conflicting object with one or more of the specified property values is present in the directory.")
			return
		}
	}
	a := &stRoleAssignment{ID: st.newOpaqueID(), PrincipalID: pid, RoleDefinitionID: def.TemplateID, DirectoryScopeID: scope}
	st.roleAssigns = append(st.roleAssigns, a)
	st.recordLocked("graph", "POST /roleManagement/directory/roleAssignments", "principal="+pid+" role="+def.DisplayName, c.reqID)
	c.w.Header().Set("Location", c.base+"/v1.0/roleManagement/directory/roleAssignments/"+a.ID)
	c.entity(http.StatusCreated, "roleManagement/directory/roleAssignments/$entity", grRoleAssignmentJSON(a))
}

func (c *grCtx) deleteRoleAssignment(id string) {
	if !c.requireRoles(grRoleWriters...) {
		return
	}
	st := c.st
	for i, a := range st.roleAssigns {
		if a.ID == id {
			st.roleAssigns = append(st.roleAssigns[:i:i], st.roleAssigns[i+1:]...)
			def, _ := stRoleByTemplate(a.RoleDefinitionID)
			st.recordLocked("graph", "DELETE /roleManagement/directory/roleAssignments", "principal="+a.PrincipalID+" role="+def.DisplayName, c.reqID)
			c.w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	c.objectNotFound(id)
}

// ---- app role assignments ----

func (st *State) grAppRoleAssignmentJSON(a *stAppRoleAssignment) map[string]any {
	return map[string]any{
		"id": a.ID, "appRoleId": a.AppRoleID, "principalId": a.PrincipalID, "principalType": a.PrincipalType,
		"principalDisplayName": a.PrincipalDisplayName, "resourceId": a.ResourceID, "resourceDisplayName": a.ResourceDisplayName,
		"createdDateTime": a.CreatedAt.UTC().Format(time.RFC3339), "deletedDateTime": nil,
	}
}

func (c *grCtx) listAppRoleAssignments(sp *stSP, byResource bool) {
	q, ok := c.parseQuery("appRoleAssignment", "principalId", "resourceId", "appRoleId")
	if !ok {
		return
	}
	var items []map[string]any
	for _, a := range c.st.appRoleAssigns {
		if (byResource && strings.EqualFold(a.ResourceID, sp.ID)) || (!byResource && strings.EqualFold(a.PrincipalID, sp.ID)) {
			items = append(items, c.st.grAppRoleAssignmentJSON(a))
		}
	}
	frag := "servicePrincipals('" + sp.ID + "')/appRoleAssignments"
	if byResource {
		frag = "servicePrincipals('" + sp.ID + "')/appRoleAssignedTo"
	}
	c.list(frag, q, items, 100)
}

func (c *grCtx) createAppRoleAssignment(sp *stSP, byResource bool) {
	if !c.requireRoles(RoleGlobalAdministrator, RolePrivilegedRoleAdministrator, RoleApplicationAdministrator, RoleCloudAppAdministrator) {
		return
	}
	var body struct {
		PrincipalID string `json:"principalId"`
		ResourceID  string `json:"resourceId"`
		AppRoleID   string `json:"appRoleId"`
	}
	if !c.decodeBody(&body) {
		return
	}
	pid, rid := strings.ToLower(strings.TrimSpace(body.PrincipalID)), strings.ToLower(strings.TrimSpace(body.ResourceID))
	if byResource && rid != strings.ToLower(sp.ID) || !byResource && pid != strings.ToLower(sp.ID) {
		c.err(http.StatusBadRequest, "Request_BadRequest", "The resourceId/principalId in the request body does not match the service principal in the request URL.")
		return
	}
	a, gerr := c.st.assignAppRoleLocked(pid, rid, strings.ToLower(strings.TrimSpace(body.AppRoleID)))
	if gerr != nil {
		c.err(gerr.status, gerr.code, gerr.message)
		return
	}
	res := c.st.liveSPByID(rid)
	role, _ := res.appRole(a.AppRoleID)
	c.st.recordLocked("graph", "POST /servicePrincipals/appRoleAssignedTo", "principal="+pid+" permission="+res.DisplayName+":"+role.Value, c.reqID)
	c.entity(http.StatusCreated, "servicePrincipals('"+sp.ID+"')/"+map[bool]string{true: "appRoleAssignedTo", false: "appRoleAssignments"}[byResource]+"/$entity", c.st.grAppRoleAssignmentJSON(a))
}

// assignAppRoleLocked grants an application permission. Callers hold st.mu.
func (st *State) assignAppRoleLocked(principalID, resourceID, appRoleID string) (*stAppRoleAssignment, *stGraphError) {
	res := st.liveSPByID(resourceID)
	if res == nil {
		return nil, &stGraphError{status: http.StatusNotFound, code: "Request_ResourceNotFound", message: "Resource '" + resourceID + "' does not exist or one of its queried reference-property objects are not present."}
	}
	principal := st.liveSPByID(principalID)
	ptype, pname := "ServicePrincipal", ""
	if principal != nil {
		pname = principal.DisplayName
	} else if u := st.userByID(principalID); u != nil && u.HomeTenant == "" {
		ptype, pname = "User", u.DisplayName
	} else {
		return nil, &stGraphError{status: http.StatusNotFound, code: "Request_ResourceNotFound", message: "Resource '" + principalID + "' does not exist or one of its queried reference-property objects are not present."}
	}
	role, ok := res.appRole(appRoleID)
	if !ok || !strings.EqualFold(role.ID, appRoleID) {
		return nil, &stGraphError{status: http.StatusBadRequest, code: "Request_BadRequest", message: "Permission being assigned was not found on application '" + res.AppID + "'."}
	}
	for _, a := range st.appRoleAssigns {
		if strings.EqualFold(a.PrincipalID, principalID) && strings.EqualFold(a.ResourceID, resourceID) && strings.EqualFold(a.AppRoleID, role.ID) {
			// A duplicate app role assignment is 400 Request_BadRequest
			// (docs/simulator-fidelity.md), unlike a duplicate grant (409).
			return nil, &stGraphError{status: http.StatusBadRequest, code: "Request_BadRequest", message: "Permission being assigned already exists on the object"}
		}
	}
	a := &stAppRoleAssignment{ID: st.newOpaqueID(), AppRoleID: role.ID, PrincipalID: principalID, PrincipalType: ptype, PrincipalDisplayName: pname, ResourceID: res.ID, ResourceDisplayName: res.DisplayName, CreatedAt: st.now()}
	st.appRoleAssigns = append(st.appRoleAssigns, a)
	return a, nil
}

func (c *grCtx) deleteAppRoleAssignment(sp *stSP, byResource bool, id string) {
	if !c.requireRoles(RoleGlobalAdministrator, RolePrivilegedRoleAdministrator, RoleApplicationAdministrator, RoleCloudAppAdministrator) {
		return
	}
	st := c.st
	for i, a := range st.appRoleAssigns {
		if a.ID != id {
			continue
		}
		if byResource && !strings.EqualFold(a.ResourceID, sp.ID) || !byResource && !strings.EqualFold(a.PrincipalID, sp.ID) {
			break
		}
		st.appRoleAssigns = append(st.appRoleAssigns[:i:i], st.appRoleAssigns[i+1:]...)
		st.recordLocked("graph", "DELETE /servicePrincipals/appRoleAssignedTo", "principal="+a.PrincipalID+" appRoleId="+a.AppRoleID, c.reqID)
		c.w.WriteHeader(http.StatusNoContent)
		return
	}
	c.objectNotFound(id)
}

// ---- oauth2PermissionGrants ----

func grGrantJSON(g *stGrant) map[string]any {
	var pid any
	if g.PrincipalID != "" {
		pid = g.PrincipalID
	}
	return map[string]any{"id": g.ID, "clientId": g.ClientID, "consentType": g.ConsentType, "principalId": pid, "resourceId": g.ResourceID, "scope": g.Scope}
}

func (c *grCtx) listGrants() {
	q, ok := c.parseQuery("oAuth2PermissionGrant", "clientId", "resourceId", "consentType", "principalId", "id")
	if !ok {
		return
	}
	var items []map[string]any
	for _, g := range c.st.grants {
		items = append(items, grGrantJSON(g))
	}
	c.list("oauth2PermissionGrants", q, items, 100)
}

func (c *grCtx) findGrant(id string) (int, *stGrant) {
	for i, g := range c.st.grants {
		if g.ID == id {
			return i, g
		}
	}
	return -1, nil
}

func (c *grCtx) getGrant(id string) {
	if _, g := c.findGrant(id); g != nil {
		c.entity(http.StatusOK, "oauth2PermissionGrants/$entity", grGrantJSON(g))
		return
	}
	c.objectNotFound(id)
}

var grGrantWriters = []string{RoleGlobalAdministrator, RolePrivilegedRoleAdministrator, RoleApplicationAdministrator, RoleCloudAppAdministrator}

func (c *grCtx) createGrant() {
	if !c.requireRoles(grGrantWriters...) {
		return
	}
	var body struct {
		ClientID    string  `json:"clientId"`
		ConsentType string  `json:"consentType"`
		PrincipalID *string `json:"principalId"`
		ResourceID  string  `json:"resourceId"`
		Scope       string  `json:"scope"`
	}
	if !c.decodeBody(&body) {
		return
	}
	pid := ""
	if body.PrincipalID != nil {
		pid = strings.ToLower(*body.PrincipalID)
	}
	g, gerr := c.st.grantLocked(strings.ToLower(body.ClientID), body.ConsentType, pid, strings.ToLower(body.ResourceID), body.Scope)
	if gerr != nil {
		c.err(gerr.status, gerr.code, gerr.message)
		return
	}
	c.st.recordLocked("graph", "POST /oauth2PermissionGrants", "client="+g.ClientID+" scope="+g.Scope, c.reqID)
	c.entity(http.StatusCreated, "oauth2PermissionGrants/$entity", grGrantJSON(g))
}

// grantLocked creates a delegated permission grant. Callers hold st.mu.
func (st *State) grantLocked(clientID, consentType, principalID, resourceID, scope string) (*stGrant, *stGraphError) {
	bad := func(msg string) (*stGrant, *stGraphError) {
		return nil, &stGraphError{status: http.StatusBadRequest, code: "Request_BadRequest", message: msg}
	}
	if st.liveSPByID(clientID) == nil {
		return nil, &stGraphError{status: http.StatusNotFound, code: "Request_ResourceNotFound", message: "Resource '" + clientID + "' does not exist or one of its queried reference-property objects are not present."}
	}
	if st.liveSPByID(resourceID) == nil {
		return nil, &stGraphError{status: http.StatusNotFound, code: "Request_ResourceNotFound", message: "Resource '" + resourceID + "' does not exist or one of its queried reference-property objects are not present."}
	}
	switch consentType {
	case "AllPrincipals":
		if principalID != "" {
			return bad("principalId must be null when consentType is AllPrincipals.")
		}
	case "Principal":
		if u := st.userByID(principalID); u == nil || u.HomeTenant != "" {
			return bad("Invalid value specified for property 'principalId' of resource 'OAuth2PermissionGrant'.")
		}
	default:
		return bad("Invalid value specified for property 'consentType' of resource 'OAuth2PermissionGrant'.")
	}
	scope = strings.Join(strings.Fields(scope), " ")
	if scope == "" {
		return bad("Invalid value specified for property 'scope' of resource 'OAuth2PermissionGrant'.")
	}
	for _, g := range st.grants {
		if g.ClientID == clientID && g.ResourceID == resourceID && g.ConsentType == consentType && g.PrincipalID == principalID {
			return nil, &stGraphError{status: http.StatusConflict, code: "Request_MultipleObjectsWithSameKeyValue", message: "Permission entry already exists."}
		}
	}
	g := &stGrant{ID: st.newOpaqueID(), ClientID: clientID, ConsentType: consentType, PrincipalID: principalID, ResourceID: resourceID, Scope: scope}
	st.grants = append(st.grants, g)
	return g, nil
}

func (c *grCtx) patchGrant(id string) {
	if !c.requireRoles(grGrantWriters...) {
		return
	}
	_, g := c.findGrant(id)
	if g == nil {
		c.objectNotFound(id)
		return
	}
	var body struct {
		Scope *string `json:"scope"`
	}
	if !c.decodeBody(&body) {
		return
	}
	if body.Scope != nil {
		g.Scope = strings.Join(strings.Fields(*body.Scope), " ")
		c.st.recordLocked("graph", "PATCH /oauth2PermissionGrants", "client="+g.ClientID+" scope="+g.Scope, c.reqID)
	}
	c.w.WriteHeader(http.StatusNoContent)
}

func (c *grCtx) deleteGrant(id string) {
	if !c.requireRoles(grGrantWriters...) {
		return
	}
	i, g := c.findGrant(id)
	if g == nil {
		c.objectNotFound(id)
		return
	}
	c.st.grants = append(c.st.grants[:i:i], c.st.grants[i+1:]...)
	c.st.recordLocked("graph", "DELETE /oauth2PermissionGrants", "client="+g.ClientID, c.reqID)
	c.w.WriteHeader(http.StatusNoContent)
}

// ---- helpers for other files ----

// withGraphBase carries the outer request's base into batched sub-requests.
func withGraphBase(ctx context.Context, base string) context.Context {
	return context.WithValue(ctx, grBaseKey{}, base)
}
