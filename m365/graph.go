package m365

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"itdr-onboard/internal/httpx"
)

// RetryPolicy tunes timeouts, retries and the response size bound of a
// client. Zero fields take the defaults (30 s per attempt, 2 min overall,
// backoff 200 ms…10 s with jitter, 8 MiB).
type RetryPolicy = httpx.Policy

// maxPages bounds how many @odata.nextLink pages one listing follows.
const maxPages = 5000

// Graph is a Microsoft Graph v1.0 client.
type Graph struct {
	hc    *http.Client
	base  string // https://graph.microsoft.com/v1.0
	root  *url.URL
	token TokenFunc
	pol   httpx.Policy

	// The signed-in user and the tenant do not change during a run: read
	// each once.
	meMu, orgMu sync.Mutex
	me          *User
	org         *Organization
	reads       *readCache
	readsOnce   sync.Once
}

// NewGraph returns a client for baseURL (endpoints.Graph); requests go to
// baseURL+"/v1.0/...".
func NewGraph(hc *http.Client, baseURL string, token TokenFunc) *Graph {
	base := strings.TrimRight(baseURL, "/")
	root, _ := url.Parse(base)
	return &Graph{hc: hc, base: base + "/v1.0", root: root, token: token}
}

// SetRetryPolicy replaces the retry policy (tests inject Sleep and Now).
func (g *Graph) SetRetryPolicy(p RetryPolicy) { g.pol = p }

// String never shows a token.
func (g *Graph) String() string { return "m365.Graph{" + g.base + "}" }

func bearer(service string, token TokenFunc) func(ctx context.Context, r *http.Request) error {
	return func(ctx context.Context, r *http.Request) error {
		if token == nil {
			return fmt.Errorf("no %s token source", service)
		}
		t, err := token(ctx)
		if err != nil {
			return fmt.Errorf("getting a %s token: %w", service, err)
		}
		r.Header.Set("Authorization", "Bearer "+t)
		return nil
	}
}

type graphReq struct {
	method string
	path   string     // "/servicePrincipals" (under /v1.0); names the call
	query  url.Values // nil for none
	url    string     // absolute URL (a nextLink); overrides path+query
	body   any
	header http.Header
	// write marks a non-idempotent request; recheck then guards retries.
	write   bool
	recheck func(ctx context.Context) (bool, error)
	// scoped: a write changes only the cached reads under stale (key
	// prefixes); otherwise it drops every cached read.
	scoped bool
	stale  []string
}

func (g *Graph) call(r graphReq) string { return r.method + " " + r.path }

func (g *Graph) send(ctx context.Context, r graphReq) (*httpx.Response, error) {
	u := r.url
	if u == "" {
		u = g.base + r.path
		if len(r.query) > 0 {
			u += "?" + encodeQuery(r.query)
		}
	} else if err := g.sameOrigin(u); err != nil {
		return nil, err
	}
	if r.method != http.MethodGet {
		// A write (and the look-ups its retries make) makes every cached
		// read stale: drop them before and after it.
		g.cache().invalidate(r.scoped, r.stale...)
		defer g.cache().invalidate(r.scoped, r.stale...)
	}
	var body []byte
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return nil, fmt.Errorf("graph: %s: encoding body: %w", g.call(r), err)
		}
		body = b
	}
	call := g.call(r)
	resp, err := httpx.Do(ctx, g.hc, g.pol, httpx.Request{
		Method:     r.method,
		URL:        u,
		Call:       call,
		Header:     r.header,
		Body:       body,
		Authorize:  bearer(ServiceGraph, g.token),
		Idempotent: !r.write,
		Recheck:    r.recheck,
		ParseError: func(resp *httpx.Response) error {
			e := ParseGraphError(call, resp.Status, resp.Header, resp.Body)
			if e.RequestID == "" {
				e.RequestID = resp.RequestID
			}
			return e
		},
	})
	if errors.Is(err, httpx.ErrAlreadyDone) {
		return resp, err
	}
	return resp, wrapErr(ServiceGraph, err)
}

// sameOrigin refuses nextLinks that would send the token elsewhere.
func (g *Graph) sameOrigin(link string) error {
	u, err := url.Parse(link)
	if err != nil || g.root == nil || !strings.EqualFold(u.Scheme, g.root.Scheme) || !strings.EqualFold(u.Host, g.root.Host) {
		return fmt.Errorf("graph: refusing to follow a next page link to another host")
	}
	return nil
}

// encodeQuery encodes like url.Values.Encode but keeps "$" and "," readable
// (Graph accepts both forms) and encodes spaces as %20.
func encodeQuery(q url.Values) string {
	s := q.Encode()
	s = strings.ReplaceAll(s, "%24", "$")
	s = strings.ReplaceAll(s, "%2C", ",")
	return strings.ReplaceAll(s, "+", "%20")
}

// odataQuote quotes a string literal for $filter.
func odataQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func (g *Graph) getJSON(ctx context.Context, path string, query url.Values, header http.Header, out any) (string, error) {
	r := graphReq{method: http.MethodGet, path: path, query: query, header: header}
	resp, err := g.send(ctx, r)
	if err != nil {
		return "", err
	}
	if err := decodeJSON(resp.Body, out); err != nil {
		return resp.RequestID, fmt.Errorf("graph: %s: decoding response (request id %s): %w", g.call(r), resp.RequestID, err)
	}
	return resp.RequestID, nil
}

func decodeJSON(b []byte, out any) error {
	if out == nil {
		return nil
	}
	return json.NewDecoder(bytes.NewReader(b)).Decode(out)
}

// graphPage is one page of a Graph collection.
type graphPage[T any] struct {
	Value    []T    `json:"value"`
	NextLink string `json:"@odata.nextLink"`
}

// DecodeGraphCollection decodes one page of a Graph collection response:
// its items and the @odata.nextLink ("" on the last page). Unknown fields
// are ignored; a missing "value" is an error.
func DecodeGraphCollection[T any](body []byte) ([]T, string, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, "", err
	}
	if raw == nil {
		return nil, "", errors.New("collection response is null")
	}
	value, ok := raw["value"]
	if !ok {
		return nil, "", errors.New(`collection response has no "value"`)
	}
	var items []T
	if err := json.Unmarshal(value, &items); err != nil {
		return nil, "", fmt.Errorf(`"value": %w`, err)
	}
	var next string
	if nl, ok := raw["@odata.nextLink"]; ok {
		if err := json.Unmarshal(nl, &next); err != nil {
			return nil, "", fmt.Errorf(`"@odata.nextLink": %w`, err)
		}
	}
	return items, next, nil
}

// eachPage lists a collection, calling fn for every page.
func eachPage[T any](ctx context.Context, g *Graph, path string, query url.Values, header http.Header, fn func([]T) error) (string, error) {
	r := graphReq{method: http.MethodGet, path: path, query: query, header: header}
	seen := map[string]bool{}
	var reqID string
	for page := 0; ; page++ {
		if page >= maxPages {
			return reqID, fmt.Errorf("graph: %s: more than %d pages; giving up", g.call(r), maxPages)
		}
		resp, err := g.send(ctx, r)
		if err != nil {
			return reqID, err
		}
		reqID = resp.RequestID
		items, next, err := DecodeGraphCollection[T](resp.Body)
		if err != nil {
			return reqID, fmt.Errorf("graph: %s: decoding page %d (request id %s): %w", g.call(r), page+1, reqID, err)
		}
		if err := fn(items); err != nil {
			return reqID, err
		}
		if next == "" {
			return reqID, nil
		}
		if seen[next] {
			return reqID, fmt.Errorf("graph: %s: next page link repeats; giving up (request id %s)", g.call(r), reqID)
		}
		seen[next] = true
		r.url = next
	}
}

func listAll[T any](ctx context.Context, g *Graph, path string, query url.Values, header http.Header) ([]T, string, error) {
	var all []T
	id, err := eachPage(ctx, g, path, query, header, func(items []T) error {
		all = append(all, items...)
		return nil
	})
	return all, id, err
}

func eventual() http.Header { return http.Header{"ConsistencyLevel": {"eventual"}} }

// Organization returns the tenant (GET /organization, value[0]).
func (g *Graph) Organization(ctx context.Context) (Organization, error) {
	g.orgMu.Lock()
	defer g.orgMu.Unlock()
	if g.org != nil {
		return *g.org, nil
	}
	var page graphPage[Organization]
	id, err := g.getJSON(ctx, "/organization", nil, nil, &page)
	if err != nil {
		return Organization{}, err
	}
	if len(page.Value) == 0 {
		return Organization{}, fmt.Errorf("graph: GET /organization returned no organization (request id %s)", id)
	}
	g.org = &page.Value[0]
	return page.Value[0], nil
}

// Me returns the signed-in user.
func (g *Graph) Me(ctx context.Context) (User, error) {
	g.meMu.Lock()
	defer g.meMu.Unlock()
	if g.me != nil {
		return *g.me, nil
	}
	var u User
	_, err := g.getJSON(ctx, "/me", url.Values{"$select": {"id,displayName,userPrincipalName"}}, nil, &u)
	if err == nil {
		g.me = &u
	}
	return u, err
}

// MyActiveDirectoryRoles lists the activated directory roles the signed-in
// user holds, directly or through groups.
func (g *Graph) MyActiveDirectoryRoles(ctx context.Context) ([]DirectoryRole, error) {
	roles, _, err := listAll[DirectoryRole](ctx, g, "/me/transitiveMemberOf/microsoft.graph.directoryRole", nil, eventual())
	return roles, err
}

// MyEligibleRoles lists the signed-in user's PIM eligibilities.
func (g *Graph) MyEligibleRoles(ctx context.Context) ([]RoleEligibility, error) {
	r, _, err := listAll[RoleEligibility](ctx, g, "/roleManagement/directory/roleEligibilityScheduleInstances/filterByCurrentUser(on='principal')", nil, nil)
	return r, err
}

// SubscribedSkus lists the tenant's subscriptions.
func (g *Graph) SubscribedSkus(ctx context.Context) ([]SKU, error) {
	s, _, err := listAll[SKU](ctx, g, "/subscribedSkus", nil, nil)
	return s, err
}

// DirectorySubscriptions lists the tenant's commercial subscriptions with
// their lifecycle dates (GET /directory/subscriptions, Organization.Read.All).
func (g *Graph) DirectorySubscriptions(ctx context.Context) ([]CompanySubscription, error) {
	s, _, err := listAll[CompanySubscription](ctx, g, "/directory/subscriptions", nil, nil)
	return s, err
}

const spSelect = "id,appId,displayName,appRoles,oauth2PermissionScopes"

// ServicePrincipalByAppID returns the tenant's service principal for an
// application, or nil, nil when there is none.
func (g *Graph) ServicePrincipalByAppID(ctx context.Context, appID string) (*ServicePrincipal, error) {
	key := spKey(appID)
	v, ok, gen := g.cache().get(ctx, key)
	if ok {
		if v == nil {
			return nil, nil
		}
		sp := v.(ServicePrincipal)
		return &sp, nil
	}
	q := url.Values{"$filter": {"appId eq " + odataQuote(appID)}, "$select": {spSelect}}
	sps, id, err := listAll[ServicePrincipal](ctx, g, "/servicePrincipals", q, nil)
	if err != nil {
		return nil, err
	}
	for i := range sps {
		if strings.EqualFold(sps[i].AppID, appID) {
			sp := sps[i]
			sp.RequestID = id
			g.cache().put(key, sp, gen)
			return &sp, nil
		}
	}
	g.cache().put(key, nil, gen)
	return nil, nil
}

func (g *Graph) cache() *readCache {
	g.readsOnce.Do(func() { g.reads = newReadCache() })
	return g.reads
}

// CreateServicePrincipal creates the service principal of a (multi-tenant)
// application. A retry happens only after a lookup shows it absent; if it
// exists (after a lost response or a 409), the existing one is returned.
func (g *Graph) CreateServicePrincipal(ctx context.Context, appID string) (ServicePrincipal, error) {
	var found *ServicePrincipal
	lookup := func(ctx context.Context) (bool, error) {
		sp, err := g.ServicePrincipalByAppID(ctx, appID)
		found = sp
		return sp != nil, err
	}
	resp, err := g.send(ctx, graphReq{method: http.MethodPost, path: "/servicePrincipals",
		body: map[string]string{"appId": appID}, write: true, recheck: lookup,
		scoped: true, stale: []string{spKey(appID)}})
	if ok, conflict, werr := resolveWrite(ctx, retried(resp), err, lookup); ok && found != nil {
		sp := *found
		sp.Found = conflict
		return sp, nil
	} else if werr != nil {
		return ServicePrincipal{}, werr
	}
	var sp ServicePrincipal
	if err := decodeJSON(resp.Body, &sp); err != nil {
		return ServicePrincipal{}, fmt.Errorf("graph: POST /servicePrincipals: decoding response (request id %s): %w", resp.RequestID, err)
	}
	sp.RequestID = resp.RequestID
	// The response answers the reads that would follow: the service
	// principal exists (with this id), and being new it holds no directory
	// roles, application permissions or delegated grants.
	c := g.cache()
	c.set(spKey(appID), sp)
	if sp.ID != "" {
		c.set(raKey(sp.ID), []RoleAssignment{})
		c.set(araKey(sp.ID), []AppRoleAssignment{})
		c.set(o2Key(sp.ID), []OAuth2PermissionGrant{})
	}
	return sp, nil
}

// Cache keys of the reads a write's response can answer.
func spKey(appID string) string      { return "sp:" + strings.ToLower(appID) }
func raKey(principal string) string  { return "ra:" + strings.ToLower(principal) }
func araKey(principal string) string { return "ara:" + strings.ToLower(principal) }
func o2Key(client string) string     { return "o2:" + strings.ToLower(client) }

// cachedList serves a list read from the cache, or reads it and stores it.
func cachedList[T any](ctx context.Context, g *Graph, key, path string, q url.Values) ([]T, error) {
	v, ok, gen := g.cache().get(ctx, key)
	if ok {
		return slices.Clone(v.([]T)), nil
	}
	out, _, err := listAll[T](ctx, g, path, q, nil)
	if err != nil {
		return nil, err
	}
	g.cache().put(key, slices.Clone(out), gen)
	return out, nil
}

// errAlreadyThere: the write found its object already there (a retry or a
// conflict); what else the list holds is unknown, so the entry is dropped.
var errAlreadyThere = errors.New("already there")

// foldCreated adds a created object to a cached list (a write's own
// response), or drops the entry when the write's outcome is unknown.
func foldCreated[T any](g *Graph, key string, created T, err error) {
	if err != nil {
		g.cache().invalidate(true, key)
		return
	}
	g.cache().fold(key, func(v any) any { return append(slices.Clone(v.([]T)), created) })
}

// resolveWrite handles the outcome of a guarded write: exists=true when
// the object turned out to exist already (found by the re-check before a
// retry, or looked up after a conflict); otherwise err is the write's error
// (nil on success). found=true when the service answered "already exists"
// to the first attempt: nothing of this call can have made the object, so
// another run or technician did (a conflict after a retry may be this
// call's own earlier attempt, and so is what the re-check before a retry
// finds: those are not found).
func resolveWrite(ctx context.Context, retried bool, err error, lookup func(context.Context) (bool, error)) (exists, found bool, _ error) {
	if err == nil {
		return false, false, nil
	}
	if errors.Is(err, httpx.ErrAlreadyDone) {
		return true, false, nil
	}
	if IsConflict(err) {
		if ok, lerr := lookup(ctx); lerr == nil && ok {
			return true, !retried, nil
		}
	}
	return false, false, err
}

// retried reports a response that took more than one attempt.
func retried(resp *httpx.Response) bool { return resp != nil && resp.Attempts > 1 }

// deleteReq deletes a resource. DELETE is idempotent: a 404 after a retry
// means an earlier attempt succeeded.
func (g *Graph) deleteReq(ctx context.Context, path string) error {
	resp, err := g.send(ctx, graphReq{method: http.MethodDelete, path: path})
	if err != nil && IsNotFound(err) && resp != nil && resp.Attempts > 1 {
		return nil
	}
	return err
}

// DeleteServicePrincipal deletes (soft-deletes) a service principal.
func (g *Graph) DeleteServicePrincipal(ctx context.Context, id string) error {
	return g.deleteReq(ctx, "/servicePrincipals/"+url.PathEscape(id))
}

// DeletedServicePrincipals lists soft-deleted service principals of an app.
func (g *Graph) DeletedServicePrincipals(ctx context.Context, appID string) ([]DeletedServicePrincipal, error) {
	q := url.Values{"$filter": {"appId eq " + odataQuote(appID)}}
	d, _, err := listAll[DeletedServicePrincipal](ctx, g, "/directory/deletedItems/microsoft.graph.servicePrincipal", q, nil)
	return d, err
}

// RoleAssignments lists the directory role assignments of a principal.
func (g *Graph) RoleAssignments(ctx context.Context, principalID string) ([]RoleAssignment, error) {
	q := url.Values{"$filter": {"principalId eq " + odataQuote(principalID)}}
	return cachedList[RoleAssignment](ctx, g, raKey(principalID), "/roleManagement/directory/roleAssignments", q)
}

// CreateRoleAssignment puts a principal into a directory role (tenant-wide
// scope "/"). roleDefinitionID may be the role template id. Retries and
// conflicts are resolved by looking the assignment up.
func (g *Graph) CreateRoleAssignment(ctx context.Context, principalID, roleDefinitionID string) (RoleAssignment, error) {
	var found *RoleAssignment
	lookup := func(ctx context.Context) (bool, error) {
		q := url.Values{"$filter": {"principalId eq " + odataQuote(principalID)}}
		ras, id, err := listAll[RoleAssignment](ctx, g, "/roleManagement/directory/roleAssignments", q, nil)
		if err != nil {
			return false, err
		}
		for _, ra := range ras {
			if strings.EqualFold(ra.RoleDefinitionID, roleDefinitionID) && strings.EqualFold(ra.PrincipalID, principalID) &&
				(ra.DirectoryScopeID == "/" || ra.DirectoryScopeID == "") {
				ra.RequestID = id
				found = &ra
				return true, nil
			}
		}
		return false, nil
	}
	body := map[string]string{
		"@odata.type":      "#microsoft.graph.unifiedRoleAssignment",
		"roleDefinitionId": roleDefinitionID,
		"principalId":      principalID,
		"directoryScopeId": "/",
	}
	resp, err := g.send(ctx, graphReq{method: http.MethodPost, path: "/roleManagement/directory/roleAssignments",
		body: body, write: true, recheck: lookup, scoped: true})
	if ok, conflict, werr := resolveWrite(ctx, retried(resp), err, lookup); ok && found != nil {
		foldCreated(g, raKey(principalID), *found, errAlreadyThere)
		ra := *found
		ra.Found = conflict
		return ra, nil
	} else if werr != nil {
		foldCreated(g, raKey(principalID), RoleAssignment{}, werr)
		return RoleAssignment{}, werr
	}
	var ra RoleAssignment
	if err := decodeJSON(resp.Body, &ra); err != nil {
		foldCreated(g, raKey(principalID), ra, err)
		return RoleAssignment{}, fmt.Errorf("graph: POST /roleManagement/directory/roleAssignments: decoding response (request id %s): %w", resp.RequestID, err)
	}
	ra.RequestID = resp.RequestID
	foldCreated(g, raKey(principalID), ra, nil)
	return ra, nil
}

// DeleteRoleAssignment removes a directory role assignment.
func (g *Graph) DeleteRoleAssignment(ctx context.Context, id string) error {
	return g.deleteReq(ctx, "/roleManagement/directory/roleAssignments/"+url.PathEscape(id))
}

// AppRoleAssignments lists the application permissions granted to a
// service principal.
func (g *Graph) AppRoleAssignments(ctx context.Context, principalSPID string) ([]AppRoleAssignment, error) {
	return cachedList[AppRoleAssignment](ctx, g, araKey(principalSPID), "/servicePrincipals/"+url.PathEscape(principalSPID)+"/appRoleAssignments", nil)
}

// GrantAppRole grants an application permission (app role appRoleID of the
// resource service principal) to a client service principal.
func (g *Graph) GrantAppRole(ctx context.Context, resourceSPID, principalSPID, appRoleID string) (AppRoleAssignment, error) {
	var found *AppRoleAssignment
	lookup := func(ctx context.Context) (bool, error) {
		as, id, err := listAll[AppRoleAssignment](ctx, g, "/servicePrincipals/"+url.PathEscape(principalSPID)+"/appRoleAssignments", nil, nil)
		if err != nil {
			return false, err
		}
		for _, a := range as {
			if strings.EqualFold(a.ResourceID, resourceSPID) && strings.EqualFold(a.AppRoleID, appRoleID) {
				a.RequestID = id
				found = &a
				return true, nil
			}
		}
		return false, nil
	}
	body := map[string]string{"principalId": principalSPID, "resourceId": resourceSPID, "appRoleId": appRoleID}
	path := "/servicePrincipals/" + url.PathEscape(resourceSPID) + "/appRoleAssignedTo"
	resp, err := g.send(ctx, graphReq{method: http.MethodPost, path: path, body: body, write: true, recheck: lookup, scoped: true})
	key := araKey(principalSPID)
	if ok, conflict, werr := resolveWrite(ctx, retried(resp), err, lookup); ok && found != nil {
		foldCreated(g, key, *found, errAlreadyThere)
		a := *found
		a.Found = conflict
		return a, nil
	} else if werr != nil {
		foldCreated(g, key, AppRoleAssignment{}, werr)
		return AppRoleAssignment{}, werr
	}
	var a AppRoleAssignment
	if err := decodeJSON(resp.Body, &a); err != nil {
		foldCreated(g, key, a, err)
		return AppRoleAssignment{}, fmt.Errorf("graph: POST %s: decoding response (request id %s): %w", path, resp.RequestID, err)
	}
	a.RequestID = resp.RequestID
	foldCreated(g, key, a, nil)
	return a, nil
}

// RevokeAppRole removes an application permission grant.
func (g *Graph) RevokeAppRole(ctx context.Context, resourceSPID, assignmentID string) error {
	return g.deleteReq(ctx, "/servicePrincipals/"+url.PathEscape(resourceSPID)+"/appRoleAssignedTo/"+url.PathEscape(assignmentID))
}

// OAuth2PermissionGrants lists the delegated permission grants of a client
// service principal.
func (g *Graph) OAuth2PermissionGrants(ctx context.Context, clientSPID string) ([]OAuth2PermissionGrant, error) {
	q := url.Values{"$filter": {"clientId eq " + odataQuote(clientSPID)}}
	return cachedList[OAuth2PermissionGrant](ctx, g, o2Key(clientSPID), "/oauth2PermissionGrants", q)
}

func scopeSet(s string) map[string]bool {
	m := map[string]bool{}
	for _, f := range strings.Fields(s) {
		m[strings.ToLower(f)] = true
	}
	return m
}

// CreateOAuth2PermissionGrant grants delegated scopes (space separated) of
// a resource to a client tenant-wide (consentType AllPrincipals). An
// existing tenant-wide grant that already holds every scope is returned
// instead of creating a second one.
func (g *Graph) CreateOAuth2PermissionGrant(ctx context.Context, clientSPID, resourceSPID, scope string) (OAuth2PermissionGrant, error) {
	var found *OAuth2PermissionGrant
	want := scopeSet(scope)
	lookup := func(ctx context.Context) (bool, error) {
		q := url.Values{"$filter": {"clientId eq " + odataQuote(clientSPID)}}
		gs, id, err := listAll[OAuth2PermissionGrant](ctx, g, "/oauth2PermissionGrants", q, nil)
		if err != nil {
			return false, err
		}
		for _, gr := range gs {
			if !strings.EqualFold(gr.ResourceID, resourceSPID) || !strings.EqualFold(gr.ConsentType, "AllPrincipals") {
				continue
			}
			have := scopeSet(gr.Scope)
			all := true
			for s := range want {
				if !have[s] {
					all = false
				}
			}
			if all {
				gr.RequestID = id
				found = &gr
				return true, nil
			}
		}
		return false, nil
	}
	body := map[string]string{"clientId": clientSPID, "consentType": "AllPrincipals", "resourceId": resourceSPID, "scope": scope}
	resp, err := g.send(ctx, graphReq{method: http.MethodPost, path: "/oauth2PermissionGrants", body: body, write: true, recheck: lookup, scoped: true})
	key := o2Key(clientSPID)
	if ok, conflict, werr := resolveWrite(ctx, retried(resp), err, lookup); ok && found != nil {
		foldCreated(g, key, *found, errAlreadyThere)
		gr := *found
		gr.Found = conflict
		return gr, nil
	} else if werr != nil {
		foldCreated(g, key, OAuth2PermissionGrant{}, werr)
		return OAuth2PermissionGrant{}, werr
	}
	var gr OAuth2PermissionGrant
	if err := decodeJSON(resp.Body, &gr); err != nil {
		foldCreated(g, key, gr, err)
		return OAuth2PermissionGrant{}, fmt.Errorf("graph: POST /oauth2PermissionGrants: decoding response (request id %s): %w", resp.RequestID, err)
	}
	gr.RequestID = resp.RequestID
	foldCreated(g, key, gr, nil)
	return gr, nil
}

// CountBillableUsers counts enabled users holding at least one licence.
func (g *Graph) CountBillableUsers(ctx context.Context) (int, error) {
	type user struct {
		ID               string            `json:"id"`
		AssignedLicenses []json.RawMessage `json:"assignedLicenses"`
	}
	q := url.Values{"$filter": {"accountEnabled eq true"}, "$select": {"id,assignedLicenses"}, "$top": {"999"}}
	n := 0
	_, err := eachPage(ctx, g, "/users", q, nil, func(us []user) error {
		for _, u := range us {
			if len(u.AssignedLicenses) > 0 {
				n++
			}
		}
		return nil
	})
	return n, err
}

// MFARegistration counts users registered for MFA and all users listed in
// the authentication methods registration report.
func (g *Graph) MFARegistration(ctx context.Context) (registered, total int, err error) {
	type detail struct {
		ID              string `json:"id"`
		IsMfaRegistered bool   `json:"isMfaRegistered"`
	}
	_, err = eachPage(ctx, g, "/reports/authenticationMethods/userRegistrationDetails", nil, nil, func(ds []detail) error {
		for _, d := range ds {
			total++
			if d.IsMfaRegistered {
				registered++
			}
		}
		return nil
	})
	return registered, total, err
}
