package sim

import (
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

type pfPerm struct {
	ResourceAppID string
	ResourceName  string
	Permission    string
}

type pfOrg struct {
	ID        string
	Name      string
	Key       string
	lname     string
	CreatedAt time.Time
}

type pfIntegration struct {
	ID        string
	TenantID  string
	OrgID     string
	CreatedAt time.Time
	// seeded: present at start (the scenario's integrations); its health is
	// read from this state even when State.TenantState knows the tenant.
	seeded bool
	// fp is the integration's fields as last read (pfView) but for
	// last_checked_at and last_event_at, which move without a change;
	// changed is the account's change sequence when fp last changed
	// (`changed_since`, docs/platform-api.md).
	fp      string
	changed int64
}

// pfTombstone is a deleted integration, kept for `changed_since`.
type pfTombstone struct {
	ID, TenantID string
	seq          int64
}

type pfState struct {
	key, secret  string
	accountID    string
	accountName  string
	user         string
	role         string
	subscription string
	expiresAt    time.Time

	perms        []pfPerm
	orgs         []*pfOrg // sorted by name (case-insensitive), then id
	orgByID      map[string]*pfOrg
	integrations []*pfIntegration
	nextInt      int
	// changeSeq counts the account's integration changes (creations,
	// changes seen at a read, deletions): a list's cursor is its value.
	changeSeq    int64
	deleted      []pfTombstone
	healthyAfter time.Duration
	hits         []time.Time // authenticated requests in the last minute
}

// pfDefaultAuthority is the identity host in admin_consent_url unless
// State.AuthorityURL says otherwise.
const pfDefaultAuthority = "https://login.microsoftonline.com"

func (st *State) pfInit(sc *Scenario) error {
	ps := &st.pf
	sp := sc.Platform
	ps.key = stDefault(sp.APIKey, DefaultPlatformAPIKey)
	ps.secret = stDefault(sp.APISecret, DefaultPlatformAPISecret)
	ps.accountID = "acc_" + stNameGUID("account", ps.key)[:8]
	ps.accountName = stDefault(sp.Account.Name, "Northwind MSP")
	ps.user = stDefault(sp.Account.User, "tech@northwind-msp.example")
	ps.role = strings.ToLower(stDefault(sp.Account.Role, "admin"))
	if ps.role != "admin" && ps.role != "user" {
		return fmt.Errorf("sim: platform.account.role %q: want admin or user", sp.Account.Role)
	}
	ps.subscription = strings.ToLower(stDefault(sp.Account.Subscription, "active"))
	switch ps.subscription {
	case "active":
		ps.expiresAt = st.created.Add(365 * 24 * time.Hour)
	case "trial":
		ps.expiresAt = st.created.Add(14 * 24 * time.Hour)
	case "expired":
		ps.expiresAt = st.created.Add(-10 * 24 * time.Hour)
	case "cancelled":
		ps.expiresAt = st.created.Add(-30 * 24 * time.Hour)
	default:
		return fmt.Errorf("sim: platform.account.subscription %q: want active, trial, expired or cancelled", sp.Account.Subscription)
	}
	if sp.Account.ExpiresAt != "" {
		t, err := time.Parse(time.RFC3339, sp.Account.ExpiresAt)
		if err != nil {
			return fmt.Errorf("sim: platform.account.expires_at %q is not RFC 3339", sp.Account.ExpiresAt)
		}
		ps.expiresAt = t
	}
	if sp.Account.ExpiresIn != 0 {
		ps.expiresAt = st.created.Add(sp.Account.ExpiresIn.D())
	}
	// 0 is "healthy as soon as mapped": scenario files that leave
	// healthy_after out get the default from ParseScenario.
	ps.healthyAfter = max(sp.HealthyAfter.D(), 0)

	// The app's application permissions.
	add := func(resApp, perm string) error {
		resApp = strings.TrimSpace(resApp)
		var res *stSP
		for _, s := range st.sps {
			if strings.EqualFold(s.AppID, resApp) || strings.EqualFold(s.DisplayName, resApp) {
				res = s
			}
		}
		if res == nil {
			return fmt.Errorf("sim: platform.app.application_permissions: unknown resource %q", resApp)
		}
		for _, p := range ps.perms {
			if p.ResourceAppID == res.AppID && p.Permission == perm {
				return nil
			}
		}
		ps.perms = append(ps.perms, pfPerm{ResourceAppID: res.AppID, ResourceName: res.DisplayName, Permission: perm})
		return nil
	}
	if len(sp.App.ApplicationPermissions) == 0 {
		for _, p := range []PermissionSpec{
			{AppIDMicrosoftGraph, "AuditLog.Read.All"}, {AppIDMicrosoftGraph, "Directory.Read.All"},
			{AppIDMicrosoftGraph, "Reports.Read.All"}, {AppIDMicrosoftGraph, "Policy.Read.All"},
			{AppIDExchangeOnline, "Exchange.ManageAsApp"}, {AppIDManagementAPIs, "ActivityFeed.Read"},
		} {
			_ = add(p.ResourceAppID, p.Permission)
		}
	} else {
		for _, p := range sp.App.ApplicationPermissions {
			res, perm := p.ResourceAppID, p.Permission
			if res == "" {
				if i := strings.LastIndex(perm, ":"); i >= 0 {
					res, perm = perm[:i], perm[i+1:]
				}
			}
			if err := add(res, strings.TrimSpace(perm)); err != nil {
				return err
			}
		}
	}
	if st.consentMode == "invalid-permissions" {
		_ = add(AppIDManagementAPIs, "ActivityReports.Read")
	}

	// Organizations.
	ps.orgByID = map[string]*pfOrg{}
	addOrg := func(o *pfOrg) error {
		if _, dup := ps.orgByID[o.ID]; dup {
			return fmt.Errorf("sim: platform.organizations: duplicate id %q", o.ID)
		}
		o.lname = strings.ToLower(o.Name)
		ps.orgByID[o.ID] = o
		ps.orgs = append(ps.orgs, o)
		return nil
	}
	for i, o := range sp.Organizations {
		id := stDefault(o.ID, fmt.Sprintf("org_%d", i+1))
		if strings.TrimSpace(o.Name) == "" {
			return fmt.Errorf("sim: platform.organizations[%d]: name is empty", i)
		}
		key := stDefault(o.Key, pfKey(o.Name))
		if err := addOrg(&pfOrg{ID: id, Name: o.Name, Key: key, CreatedAt: st.created.Add(-time.Duration(500-i%500) * 24 * time.Hour)}); err != nil {
			return err
		}
	}
	for i := 1; i <= sp.GeneratedOrganizations; i++ {
		name := fmt.Sprintf("Customer %05d", i)
		if err := addOrg(&pfOrg{ID: fmt.Sprintf("org_c%05d", i), Name: name, Key: fmt.Sprintf("customer-%05d", i), CreatedAt: st.created.Add(-time.Duration(i) * time.Hour)}); err != nil {
			return err
		}
	}
	sort.SliceStable(ps.orgs, func(i, j int) bool {
		if ps.orgs[i].lname != ps.orgs[j].lname {
			return ps.orgs[i].lname < ps.orgs[j].lname
		}
		return ps.orgs[i].ID < ps.orgs[j].ID
	})

	// Integrations present at start.
	for i, in := range sp.Integrations {
		tid := strings.ToLower(strings.TrimSpace(in.TenantID))
		if !simIsGUID(tid) {
			return fmt.Errorf("sim: platform.integrations[%d]: tenant_id %q is not a GUID", i, in.TenantID)
		}
		if ps.orgByID[in.OrganizationID] == nil {
			return fmt.Errorf("sim: platform.integrations[%d]: organization %q does not exist", i, in.OrganizationID)
		}
		if st.pfIntegrationForTenant(tid) != nil {
			return fmt.Errorf("sim: platform.integrations[%d]: tenant %s is mapped twice", i, tid)
		}
		created := st.created
		switch in.Status {
		case "", "pending":
		case "healthy", "unhealthy":
			created = st.created.Add(-ps.healthyAfter - 24*time.Hour)
		default:
			return fmt.Errorf("sim: platform.integrations[%d]: status %q: want pending, healthy or unhealthy", i, in.Status)
		}
		ps.nextInt++
		ps.integrations = append(ps.integrations, &pfIntegration{ID: fmt.Sprintf("int_%d", ps.nextInt), TenantID: tid, OrgID: in.OrganizationID, CreatedAt: created, seeded: true})
	}
	return nil
}

func pfKey(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimRight(b.String(), "-")
}

func (st *State) pfIntegrationForTenant(tid string) *pfIntegration {
	for _, in := range st.pf.integrations {
		if strings.EqualFold(in.TenantID, tid) {
			return in
		}
	}
	return nil
}

// ---- HTTP ----

type pfCtx struct {
	st    *State
	w     http.ResponseWriter
	r     *http.Request
	reqID string
}

// PlatformHandler serves the ITDR platform API (docs/platform-api.md),
// mounted with its prefix stripped: it sees /v1/...
func (st *State) PlatformHandler() http.Handler { return http.HandlerFunc(st.servePlatform) }

func (c *pfCtx) writeJSON(status int, v any) {
	c.w.Header().Set("Content-Type", "application/json; charset=utf-8")
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"internal","message":"encoding failed"}}`)
	}
	c.w.WriteHeader(status)
	_, _ = c.w.Write(b)
}

func (c *pfCtx) err(status int, code, msg string, extra ...string) {
	e := map[string]any{"code": code, "message": msg, "request_id": c.reqID}
	for i := 0; i+1 < len(extra); i += 2 {
		e[extra[i]] = extra[i+1]
	}
	c.writeJSON(status, map[string]any{"error": e})
}

func (st *State) servePlatform(w http.ResponseWriter, r *http.Request) {
	c := &pfCtx{st: st, w: w, r: r, reqID: "req_" + strings.ReplaceAll(simNewGUID(), "-", "")}
	w.Header().Set("X-Request-Id", c.reqID)

	key, secret, ok := r.BasicAuth()
	ps := &st.pf
	if !ok || subtle.ConstantTimeCompare([]byte(key), []byte(ps.key)) != 1 || subtle.ConstantTimeCompare([]byte(secret), []byte(ps.secret)) != 1 {
		w.Header().Set("WWW-Authenticate", `Basic realm="itdr-platform"`)
		c.err(http.StatusUnauthorized, "unauthorized", "missing or invalid API key and secret")
		return
	}

	// Render under the lock, write to the network after it is released.
	buf, unlock := st.lockForResponse(w)
	defer unlock()
	c.w = buf
	if wait, limited := st.pfRateLimitLocked(); limited {
		w.Header().Set("Retry-After", strconv.Itoa(wait))
		c.err(http.StatusTooManyRequests, "rate_limited", fmt.Sprintf("rate limit of %d requests per minute exceeded; retry after %d s", st.PlatformRateLimit, wait))
		return
	}

	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	m := r.Method
	switch {
	case len(segs) == 2 && segs[0] == "v1" && segs[1] == "account":
		if c.method(m, http.MethodGet) {
			c.account()
		}
	case len(segs) == 3 && segs[0] == "v1" && segs[1] == "m365" && segs[2] == "app":
		if c.method(m, http.MethodGet) {
			c.app()
		}
	case len(segs) == 2 && segs[0] == "v1" && segs[1] == "organizations":
		if c.method(m, http.MethodGet) {
			c.listOrgs()
		}
	case len(segs) == 3 && segs[0] == "v1" && segs[1] == "organizations":
		if c.method(m, http.MethodGet) {
			o := ps.orgByID[segs[2]]
			if o == nil {
				c.err(http.StatusNotFound, "not_found", "organization "+segs[2]+" does not exist")
				return
			}
			c.writeJSON(http.StatusOK, st.pfOrgJSON(o))
		}
	case len(segs) == 2 && segs[0] == "v1" && segs[1] == "integrations":
		switch m {
		case http.MethodGet:
			c.listIntegrations()
		case http.MethodPost:
			c.createIntegration()
		default:
			c.method(m)
		}
	case len(segs) == 3 && segs[0] == "v1" && segs[1] == "integrations":
		in := st.pfIntegrationByID(segs[2])
		switch m {
		case http.MethodGet, http.MethodDelete:
		default:
			c.method(m)
			return
		}
		if in == nil {
			c.err(http.StatusNotFound, "not_found", "integration "+segs[2]+" does not exist")
			return
		}
		if m == http.MethodGet {
			c.writeJSON(http.StatusOK, st.pfView(in))
			return
		}
		st.pfDeleteIntegration(in)
		st.recordLocked("platform", "DELETE /v1/integrations", "tenant="+in.TenantID+" organization="+in.OrgID, c.reqID)
		c.w.WriteHeader(http.StatusNoContent)
	default:
		c.err(http.StatusNotFound, "not_found", "no such endpoint: "+r.Method+" "+r.URL.Path)
	}
}

// method writes 405 unless m is one of allowed.
func (c *pfCtx) method(m string, allowed ...string) bool {
	for _, a := range allowed {
		if m == a {
			return true
		}
	}
	c.err(http.StatusMethodNotAllowed, "invalid_request", "method "+m+" is not allowed here")
	return false
}

// pfRateLimitLocked applies the sliding-window limit; it returns the seconds
// to wait when the request is refused.
func (st *State) pfRateLimitLocked() (int, bool) {
	limit := st.PlatformRateLimit
	if limit <= 0 {
		return 0, false
	}
	now := st.now()
	ps := &st.pf
	cut := 0
	for cut < len(ps.hits) && !ps.hits[cut].After(now.Add(-time.Minute)) {
		cut++
	}
	ps.hits = ps.hits[cut:]
	if len(ps.hits) >= limit {
		wait := int(math.Ceil(ps.hits[0].Add(time.Minute).Sub(now).Seconds()))
		return max(wait, 1), true
	}
	ps.hits = append(ps.hits, now)
	return 0, false
}

func (c *pfCtx) account() {
	ps := &c.st.pf
	exp := ps.expiresAt.UTC().Format(time.RFC3339)
	c.writeJSON(http.StatusOK, map[string]any{
		"id": ps.accountID, "name": ps.accountName, "user": ps.user, "role": ps.role,
		"subscriptions": []any{map[string]any{"product": "itdr", "status": ps.subscription, "expires_at": exp}},
	})
}

func (c *pfCtx) app() {
	st := c.st
	perms := make([]any, 0, len(st.pf.perms))
	for _, p := range st.pf.perms {
		perms = append(perms, map[string]any{"resource_app_id": p.ResourceAppID, "resource_display_name": p.ResourceName, "permission": p.Permission})
	}
	authority := strings.TrimRight(st.AuthorityURL, "/")
	if simPublicBase(c.r) != "" {
		// Reached through the proxy under the platform's production host:
		// its consent URLs name Microsoft's login host, as the real one's do.
		authority = pfDefaultAuthority
	}
	if authority == "" {
		authority = pfDefaultAuthority
	}
	roles := append([]string(nil), PlatformExchangeRoles...)
	c.writeJSON(http.StatusOK, map[string]any{
		"app_id":                  st.platformAppID,
		"display_name":            st.platformAppName,
		"application_permissions": perms,
		"delegated_permissions": []any{map[string]any{
			"resource_app_id": AppIDMicrosoftGraph, "resource_display_name": "Microsoft Graph", "scopes": []string{"User.Read"},
		}},
		"directory_roles": []any{
			map[string]any{"template_id": RoleExchangeAdministrator, "display_name": "Exchange Administrator"},
			map[string]any{"template_id": RoleOrgBrandingAdministrator, "display_name": "Organization Branding Administrator"},
		},
		"exchange_role_group": OrganizationManagement,
		"exchange_roles":      roles,
		"admin_consent_url":   authority + "/{tenant}/adminconsent?client_id=" + url.QueryEscape(st.platformAppID),
	})
}

func (st *State) pfOrgJSON(o *pfOrg) map[string]any {
	tid := ""
	for _, in := range st.pf.integrations {
		if in.OrgID == o.ID {
			tid = in.TenantID
		}
	}
	return map[string]any{"id": o.ID, "name": o.Name, "key": o.Key, "created_at": o.CreatedAt.UTC().Format(time.RFC3339), "identity_provider_tenant_id": tid}
}

func (c *pfCtx) paging() (limit, offset int, ok bool) {
	return c.pagingToken(c.r.URL.Query().Get("page_token"))
}

// pagingToken is paging with the page token t ("o:<offset>").
func (c *pfCtx) pagingToken(t string) (limit, offset int, ok bool) {
	q := c.r.URL.Query()
	limit = 50
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			c.err(http.StatusBadRequest, "invalid_request", "limit must be an integer from 1 to 500")
			return 0, 0, false
		}
		limit = n
	}
	if t != "" {
		b, err := base64.RawURLEncoding.DecodeString(t)
		s := string(b)
		n, err2 := strconv.Atoi(strings.TrimPrefix(s, "o:"))
		if err != nil || err2 != nil || !strings.HasPrefix(s, "o:") || n < 0 {
			c.err(http.StatusBadRequest, "invalid_request", "page_token is not valid")
			return 0, 0, false
		}
		offset = n
	}
	return limit, offset, true
}

// pagingCursor is paging for GET /v1/integrations, whose page tokens also
// carry the listing's cursor ("o:<offset>;s:<seq>"); listing is -1 on a
// first page.
func (c *pfCtx) pagingCursor() (limit, offset int, listing int64, ok bool) {
	t := c.r.URL.Query().Get("page_token")
	listing = -1
	if b, err := base64.RawURLEncoding.DecodeString(t); t != "" && err == nil {
		if o, seq, found := strings.Cut(string(b), ";s:"); found {
			n, err := strconv.ParseInt(seq, 10, 64)
			if err != nil || n < 0 || n > c.st.pf.changeSeq {
				c.err(http.StatusBadRequest, "invalid_request", "page_token is not valid")
				return 0, 0, 0, false
			}
			listing, t = n, base64.RawURLEncoding.EncodeToString([]byte(o))
		}
	}
	limit, offset, ok = c.pagingToken(t)
	return limit, offset, listing, ok
}

func (c *pfCtx) listOrgs() {
	limit, offset, ok := c.paging()
	if !ok {
		return
	}
	name := strings.ToLower(strings.TrimSpace(c.r.URL.Query().Get("name")))
	var matched []*pfOrg
	if name == "" {
		matched = c.st.pf.orgs
	} else {
		for _, o := range c.st.pf.orgs {
			if strings.Contains(o.lname, name) {
				matched = append(matched, o)
			}
		}
	}
	start := min(offset, len(matched))
	end := min(start+limit, len(matched))
	page := make([]any, 0, end-start)
	for _, o := range matched[start:end] {
		page = append(page, c.st.pfOrgJSON(o))
	}
	next := ""
	if end < len(matched) {
		next = base64.RawURLEncoding.EncodeToString([]byte("o:" + strconv.Itoa(end)))
	}
	c.writeJSON(http.StatusOK, map[string]any{
		"organizations": page,
		"pagination":    map[string]any{"next_page_token": next, "total": len(matched)},
	})
}

// listIntegrations is GET /v1/integrations: with tenant_id the zero-or-one
// list of that tenant; without it every integration of the account, paged
// (limit, page_token), optionally filtered by status (comma-separated),
// sorted by created_at then id (docs/platform-api.md) — one request per
// interval watches a whole batch. changed_since=<cursor> keeps only the
// integrations created or changed since the answer that gave the cursor
// (and names those deleted since on the first page); every answer carries
// the cursor for the next call, the same on every page of one listing.
func (c *pfCtx) listIntegrations() {
	q := c.r.URL.Query()
	tid := strings.TrimSpace(q.Get("tenant_id"))
	limit, offset, listing, ok := c.pagingCursor()
	if !ok {
		return
	}
	want := map[string]bool{}
	if s := strings.TrimSpace(q.Get("status")); s != "" {
		for _, v := range strings.Split(s, ",") {
			v = strings.TrimSpace(v)
			switch v {
			case "pending", "healthy", "unhealthy":
				want[v] = true
			default:
				c.err(http.StatusBadRequest, "invalid_request", "status must be pending, healthy or unhealthy (comma-separated); got "+strconv.Quote(v))
				return
			}
		}
	}
	ps := &c.st.pf
	since := int64(-1)
	if s := q.Get("changed_since"); s != "" {
		n, ok := pfCursorSeq(s)
		if !ok || n > ps.changeSeq {
			c.err(http.StatusBadRequest, "invalid_request", "changed_since is not a cursor of this account: list without it for a new one")
			return
		}
		since = n
	}
	all := append([]*pfIntegration(nil), ps.integrations...)
	sort.SliceStable(all, func(i, j int) bool {
		if !all[i].CreatedAt.Equal(all[j].CreatedAt) {
			return all[i].CreatedAt.Before(all[j].CreatedAt)
		}
		return pfIntNum(all[i].ID) < pfIntNum(all[j].ID)
	})
	// Every integration is read (a change is seen when its fields differ
	// from the last read) before the cursor is taken, so a change after
	// this answer has a later sequence than its cursor.
	views := make([]pfIntegrationJSON, len(all))
	for i, in := range all {
		views[i] = c.st.pfView(in)
	}
	if listing < 0 {
		listing = ps.changeSeq
	}
	matched := []any{}
	for i, in := range all {
		if tid != "" && !strings.EqualFold(in.TenantID, tid) {
			continue
		}
		if in.changed <= since {
			continue
		}
		v := views[i]
		if len(want) > 0 && !want[v.Status] {
			continue
		}
		matched = append(matched, v)
	}
	start := min(offset, len(matched))
	end := min(start+limit, len(matched))
	next := ""
	if end < len(matched) {
		next = base64.RawURLEncoding.EncodeToString([]byte("o:" + strconv.Itoa(end) + ";s:" + strconv.FormatInt(listing, 10)))
	}
	out := map[string]any{
		"integrations": matched[start:end],
		"pagination":   map[string]any{"next_page_token": next, "total": len(matched)},
		"cursor":       pfCursor(listing),
	}
	if since >= 0 {
		deleted := []map[string]string{}
		if offset == 0 {
			for _, d := range ps.deleted {
				if d.seq > since && (tid == "" || strings.EqualFold(d.TenantID, tid)) {
					deleted = append(deleted, map[string]string{"id": d.ID, "tenant_id": d.TenantID})
				}
			}
		}
		out["deleted"] = deleted
	}
	c.writeJSON(http.StatusOK, out)
}

// pfView is the integration as read now; a read that finds its fields
// changed (status, reason, first data …; not last_checked_at or
// last_event_at) advances the account's change sequence. Callers hold st.mu.
func (st *State) pfView(in *pfIntegration) pfIntegrationJSON {
	v := st.pfIntegrationView(in)
	t := func(p *time.Time) string {
		if p == nil {
			return ""
		}
		return p.UTC().Format(time.RFC3339Nano)
	}
	fp := strings.Join([]string{v.OrganizationID, v.OrganizationName, v.Status, v.ReasonCode, v.Reason,
		t(v.FirstDataAt), t(&v.ExpectedFirstDataAt), t(v.FirstEventAt)}, "\x00")
	if fp != in.fp {
		st.pf.changeSeq++
		in.fp, in.changed = fp, st.pf.changeSeq
	}
	return v
}

// pfCursor and pfCursorSeq encode and decode a changed_since cursor.
func pfCursor(seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("s:" + strconv.FormatInt(seq, 10)))
}

func pfCursorSeq(s string) (int64, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || !strings.HasPrefix(string(b), "s:") {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimPrefix(string(b), "s:"), 10, 64)
	return n, err == nil && n >= 0
}

// pfIntNum orders ids int_2 before int_10.
func pfIntNum(id string) int {
	n, err := strconv.Atoi(strings.TrimPrefix(id, "int_"))
	if err != nil {
		return math.MaxInt
	}
	return n
}

func (c *pfCtx) createIntegration() {
	st := c.st
	ps := &st.pf
	if ps.role != "admin" {
		c.err(http.StatusForbidden, "forbidden", "mapping a tenant needs an admin user; "+ps.user+" has role "+ps.role)
		return
	}
	if !st.pfSubscriptionUsable() {
		c.err(http.StatusForbidden, "forbidden", "the account has no active itdr subscription (status "+ps.subscription+")")
		return
	}
	var body struct {
		TenantID       string `json:"tenant_id"`
		OrganizationID string `json:"organization_id"`
		Type           string `json:"type"`
	}
	b, err := io.ReadAll(io.LimitReader(c.r.Body, 1<<20))
	if err == nil {
		err = json.Unmarshal(b, &body)
	}
	if err != nil {
		c.err(http.StatusBadRequest, "invalid_request", "the body is not valid JSON")
		return
	}
	tid := strings.ToLower(strings.TrimSpace(body.TenantID))
	switch {
	case !simIsGUID(tid):
		c.err(http.StatusBadRequest, "invalid_request", "tenant_id must be a GUID")
		return
	case body.OrganizationID == "":
		c.err(http.StatusBadRequest, "invalid_request", "organization_id is required")
		return
	case body.Type != "microsoft_365":
		c.err(http.StatusBadRequest, "invalid_request", "type must be \"microsoft_365\"")
		return
	}
	org := ps.orgByID[body.OrganizationID]
	if org == nil {
		c.err(http.StatusNotFound, "not_found", "organization "+body.OrganizationID+" does not exist")
		return
	}
	if in := st.pfIntegrationForTenant(tid); in != nil {
		if in.OrgID == org.ID {
			c.writeJSON(http.StatusOK, st.pfView(in))
			return
		}
		other := ps.orgByID[in.OrgID]
		c.err(http.StatusConflict, "tenant_already_mapped", "tenant "+tid+" is already mapped to organization "+other.Name,
			"organization_id", other.ID, "organization_name", other.Name)
		return
	}
	if problem, known := st.pfConsentFor(tid); !known || problem != "" {
		c.err(http.StatusConflict, "consent_missing", "the platform cannot obtain an app-only token in tenant "+tid+": grant admin consent to "+st.platformAppName+" first")
		return
	}
	ps.nextInt++
	in := &pfIntegration{ID: fmt.Sprintf("int_%d", ps.nextInt), TenantID: tid, OrgID: org.ID, CreatedAt: st.now()}
	ps.integrations = append(ps.integrations, in)
	st.recordLocked("platform", "POST /v1/integrations", "tenant="+tid+" organization="+org.ID, c.reqID)
	c.w.Header().Set("Location", stRequestBase(c.r)+"/v1/integrations/"+in.ID)
	c.writeJSON(http.StatusCreated, st.pfView(in))
}

func (st *State) pfSubscriptionUsable() bool {
	switch st.pf.subscription {
	case "active":
		return true
	case "trial":
		return st.now().Before(st.pf.expiresAt)
	}
	return false
}

func (st *State) pfIntegrationByID(id string) *pfIntegration {
	for _, in := range st.pf.integrations {
		if in.ID == id {
			return in
		}
	}
	return nil
}

func (st *State) pfDeleteIntegration(in *pfIntegration) {
	st.pf.changeSeq++
	st.pf.deleted = append(st.pf.deleted, pfTombstone{ID: in.ID, TenantID: in.TenantID, seq: st.pf.changeSeq})
	kept := st.pf.integrations[:0]
	for _, x := range st.pf.integrations {
		if x != in {
			kept = append(kept, x)
		}
	}
	st.pf.integrations = kept
}
