package platform

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"itdr-onboard/internal/httpx"
)

// RetryPolicy tunes timeouts, retries and the response size bound. Zero
// fields take the defaults (30 s per attempt, 2 min overall, backoff
// 200 ms…10 s with jitter, 8 MiB).
type RetryPolicy = httpx.Policy

// Error codes (docs/platform-api.md).
const (
	CodeUnauthorized        = "unauthorized"
	CodeForbidden           = "forbidden"
	CodeNotFound            = "not_found"
	CodeInvalidRequest      = "invalid_request"
	CodeTenantAlreadyMapped = "tenant_already_mapped"
	CodeConsentMissing      = "consent_missing"
	CodeRateLimited         = "rate_limited"
	CodeInternal            = "internal"
	CodeUnavailable         = "unavailable"
)

// maxPages bounds AllOrganizations.
const maxPages = 1000

// Client talks to the ITDR platform API.
type Client struct {
	hc      *http.Client
	base    string
	apiKey  string
	authHdr *secret // "Basic base64(key:secret)"; a pointer so fmt prints an address
	pol     httpx.Policy

	app *appMemo // the app document is static: read once per client
}

type appMemo struct {
	mu sync.Mutex
	v  *App
}

// secret hides its value from fmt.
type secret struct{ v string }

func (*secret) String() string   { return "[redacted]" }
func (*secret) GoString() string { return "[redacted]" }

// New returns a client for baseURL (endpoints.Platform). The API secret is
// kept only inside the Authorization header value and never appears in
// errors or String().
func New(hc *http.Client, baseURL, apiKey, apiSecret string) *Client {
	return &Client{
		hc:      hc,
		app:     &appMemo{},
		base:    strings.TrimRight(baseURL, "/"),
		apiKey:  apiKey,
		authHdr: &secret{"Basic " + base64.StdEncoding.EncodeToString([]byte(apiKey+":"+apiSecret))},
	}
}

// SetRetryPolicy replaces the retry policy (tests inject Sleep and Now).
func (c *Client) SetRetryPolicy(p RetryPolicy) { c.pol = p }

// String shows the base URL and a key prefix, never the secret.
func (c Client) String() string {
	k := c.apiKey
	if len(k) > 6 {
		k = k[:6] + "…"
	}
	return "platform.Client{" + c.base + ", key " + k + "}"
}

// GoString is String (so %#v cannot print the secret either).
func (c Client) GoString() string { return c.String() }

type req struct {
	method  string
	path    string // "/v1/integrations" (names the call)
	query   url.Values
	body    any
	write   bool
	recheck func(context.Context) (bool, error)
}

func (c *Client) send(ctx context.Context, r req) (*httpx.Response, error) {
	u := c.base + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	var body []byte
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return nil, fmt.Errorf("platform: %s %s: encoding body: %w", r.method, r.path, err)
		}
		body = b
	}
	call := r.method + " " + r.path
	resp, err := httpx.Do(ctx, c.hc, c.pol, httpx.Request{
		Method: r.method,
		URL:    u,
		Call:   call,
		Header: http.Header{"Content-Type": {"application/json; charset=utf-8"}},
		Body:   body,
		Authorize: func(_ context.Context, hr *http.Request) error {
			hr.Header.Set("Authorization", c.authHdr.v)
			return nil
		},
		Idempotent: !r.write,
		Recheck:    r.recheck,
		ParseError: func(resp *httpx.Response) error { return ParseError(call, resp.Status, resp.Header, resp.Body) },
	})
	if err == nil || errors.Is(err, httpx.ErrAlreadyDone) {
		return resp, err
	}
	var pe *Error
	if errors.As(err, &pe) {
		return resp, err
	}
	return resp, fmt.Errorf("platform: %w", err)
}

// ParseError builds an *Error from a non-2xx response. It never fails.
func ParseError(call string, status int, header http.Header, body []byte) *Error {
	e := &Error{Status: status, Call: call}
	var eb struct {
		Error *Error `json:"error"`
	}
	if json.Unmarshal(body, &eb) == nil && eb.Error != nil {
		e.Code = eb.Error.Code
		e.Message = clip(eb.Error.Message)
		e.RequestID = eb.Error.RequestID
		e.OrganizationID = eb.Error.OrganizationID
		e.OrganizationName = eb.Error.OrganizationName
	} else if len(body) > 0 {
		e.Message = clip(string(body))
	}
	if e.RequestID == "" && header != nil {
		e.RequestID = header.Get("X-Request-Id")
	}
	if e.Code == "" {
		e.Code = strings.ToLower(strings.ReplaceAll(http.StatusText(status), " ", "_"))
		if e.Code == "" {
			e.Code = "http_" + strconv.Itoa(status)
		}
	}
	return e
}

func clip(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	if len(s) > 2000 {
		s = s[:2000] + "…"
	}
	return s
}

func (c *Client) getJSON(ctx context.Context, path string, query url.Values, out any) (string, error) {
	resp, err := c.send(ctx, req{method: http.MethodGet, path: path, query: query})
	if err != nil {
		return "", err
	}
	if err := DecodeObject(resp.Body, out); err != nil {
		return resp.RequestID, fmt.Errorf("platform: GET %s: decoding response (request id %s): %w", path, resp.RequestID, err)
	}
	return resp.RequestID, nil
}

// DecodeObject decodes a platform response body into out, ignoring unknown
// fields. An empty body is an error.
func DecodeObject(body []byte, out any) error {
	if len(strings.TrimSpace(string(body))) == 0 {
		return errors.New("empty response body")
	}
	return json.Unmarshal(body, out)
}

func asError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// IsNotFound reports a 404.
func IsNotFound(err error) bool {
	e, ok := asError(err)
	return ok && (e.Status == http.StatusNotFound || e.Code == CodeNotFound)
}

// IsInvalidRequest reports a 400 (a parameter the platform refuses, such
// as a changed_since cursor it no longer takes).
func IsInvalidRequest(err error) bool {
	e, ok := asError(err)
	return ok && (e.Status == http.StatusBadRequest || e.Code == CodeInvalidRequest)
}

// IsUnauthorized reports a missing or wrong API key (401).
func IsUnauthorized(err error) bool {
	e, ok := asError(err)
	return ok && (e.Status == http.StatusUnauthorized || e.Code == CodeUnauthorized)
}

// IsForbidden reports a 403.
func IsForbidden(err error) bool {
	e, ok := asError(err)
	return ok && (e.Status == http.StatusForbidden || e.Code == CodeForbidden)
}

// IsTenantAlreadyMapped reports the 409 for a tenant mapped to another
// organization; the *Error carries OrganizationID/OrganizationName.
func IsTenantAlreadyMapped(err error) bool {
	e, ok := asError(err)
	return ok && e.Code == CodeTenantAlreadyMapped
}

// IsConsentMissing reports the 409 for a tenant where the platform cannot
// obtain an app-only token yet.
func IsConsentMissing(err error) bool {
	e, ok := asError(err)
	return ok && e.Code == CodeConsentMissing
}

// Account returns the API key's account and subscriptions.
func (c *Client) Account(ctx context.Context) (Account, error) {
	var a Account
	_, err := c.getJSON(ctx, "/v1/account", nil, &a)
	return a, err
}

// App returns what the platform needs granted in a tenant.
func (c *Client) App(ctx context.Context) (App, error) {
	c.app.mu.Lock()
	defer c.app.mu.Unlock()
	if c.app.v != nil {
		return *c.app.v, nil
	}
	var a App
	_, err := c.getJSON(ctx, "/v1/m365/app", nil, &a)
	if err == nil {
		c.app.v = &a
	}
	return a, err
}

// Organizations returns one page of organizations whose name contains
// nameFilter (case-insensitive). limit ≤ 0 uses the server default.
func (c *Client) Organizations(ctx context.Context, nameFilter, pageToken string, limit int) (OrganizationPage, error) {
	q := url.Values{}
	if nameFilter != "" {
		q.Set("name", nameFilter)
	}
	if pageToken != "" {
		q.Set("page_token", pageToken)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(min(limit, 500)))
	}
	var p OrganizationPage
	_, err := c.getJSON(ctx, "/v1/organizations", q, &p)
	return p, err
}

// AllOrganizations follows the pages of Organizations (500 per page).
func (c *Client) AllOrganizations(ctx context.Context, nameFilter string) ([]Organization, error) {
	var all []Organization
	token := ""
	seen := map[string]bool{}
	for page := 0; ; page++ {
		if page >= maxPages {
			return all, fmt.Errorf("platform: GET /v1/organizations: more than %d pages; giving up", maxPages)
		}
		p, err := c.Organizations(ctx, nameFilter, token, 500)
		if err != nil {
			return all, err
		}
		all = append(all, p.Organizations...)
		next := p.Pagination.NextPageToken
		if next == "" {
			return all, nil
		}
		if seen[next] {
			return all, fmt.Errorf("platform: GET /v1/organizations: page token %q repeats; giving up", next)
		}
		seen[next] = true
		token = next
	}
}

// Organization returns one organization; unknown ids give an error for
// which IsNotFound is true.
func (c *Client) Organization(ctx context.Context, id string) (Organization, error) {
	var o Organization
	_, err := c.getJSON(ctx, "/v1/organizations/"+url.PathEscape(id), nil, &o)
	return o, err
}

// Integrations returns one page of every integration of the account,
// keeping only the given statuses (none: all). limit ≤ 0 uses the server
// default. One request covers up to 500 tenants: a batch polls its health
// with it (docs/platform-api.md).
func (c *Client) Integrations(ctx context.Context, statuses []string, pageToken string, limit int) (IntegrationPage, error) {
	return c.integrationsPage(ctx, statuses, "", pageToken, limit)
}

func (c *Client) integrationsPage(ctx context.Context, statuses []string, since, pageToken string, limit int) (IntegrationPage, error) {
	q := url.Values{}
	if len(statuses) > 0 {
		q.Set("status", strings.Join(statuses, ","))
	}
	if since != "" {
		q.Set("changed_since", since)
	}
	if pageToken != "" {
		q.Set("page_token", pageToken)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(min(limit, 500)))
	}
	var p IntegrationPage
	id, err := c.getJSON(ctx, "/v1/integrations", q, &p)
	for i := range p.Integrations {
		p.Integrations[i].RequestID = id
	}
	return p, err
}

// AllIntegrations follows the pages of Integrations (500 per page): one
// request for up to 500 integrations.
func (c *Client) AllIntegrations(ctx context.Context, statuses ...string) ([]Integration, error) {
	ch, err := c.allPages(ctx, statuses, "")
	return ch.Integrations, err
}

// IntegrationChanges returns the integrations created or changed since
// cursor — status, reason, first data; not last_checked_at or
// last_event_at — and those deleted since, following the pages (500 per
// page), with the cursor for the next call. cursor "" lists every
// integration (Full) and starts the chain. While nothing changes, a call
// is one request whose answer is empty however many integrations the
// account has: a batch polls its health with it (docs/platform-api.md).
func (c *Client) IntegrationChanges(ctx context.Context, cursor string) (IntegrationChanges, error) {
	return c.allPages(ctx, nil, cursor)
}

func (c *Client) allPages(ctx context.Context, statuses []string, since string) (IntegrationChanges, error) {
	out := IntegrationChanges{Full: since == ""}
	token := ""
	seen := map[string]bool{}
	for page := 0; ; page++ {
		if page >= maxPages {
			return out, fmt.Errorf("platform: GET /v1/integrations: more than %d pages; giving up", maxPages)
		}
		p, err := c.integrationsPage(ctx, statuses, since, token, 500)
		if err != nil {
			return out, err
		}
		out.Integrations = append(out.Integrations, p.Integrations...)
		out.Deleted = append(out.Deleted, p.Deleted...)
		if page == 0 {
			out.Cursor = p.Cursor
		}
		next := p.Pagination.NextPageToken
		if next == "" {
			return out, nil
		}
		if seen[next] {
			return out, fmt.Errorf("platform: GET /v1/integrations: page token %q repeats; giving up", next)
		}
		seen[next] = true
		token = next
	}
}

// IntegrationForTenant returns the integration of a tenant, or nil, nil.
func (c *Client) IntegrationForTenant(ctx context.Context, tenantID string) (*Integration, error) {
	var out struct {
		Integrations []Integration `json:"integrations"`
	}
	id, err := c.getJSON(ctx, "/v1/integrations", url.Values{"tenant_id": {tenantID}}, &out)
	if err != nil {
		return nil, err
	}
	for i := range out.Integrations {
		if strings.EqualFold(out.Integrations[i].TenantID, tenantID) {
			in := out.Integrations[i]
			in.RequestID = id
			return &in, nil
		}
	}
	return nil, nil
}

// CreateIntegration maps a tenant to an organization. Mapping the tenant to
// the same organization again returns the existing integration. Before a
// retry it checks whether an earlier attempt already created it. A tenant
// mapped to another organization gives an error for which
// IsTenantAlreadyMapped is true.
func (c *Client) CreateIntegration(ctx context.Context, tenantID, organizationID string) (Integration, error) {
	var found *Integration
	lookup := func(ctx context.Context) (bool, error) {
		in, err := c.IntegrationForTenant(ctx, tenantID)
		if err != nil {
			return false, err
		}
		if in != nil && in.OrganizationID == organizationID {
			found = in
			return true, nil
		}
		return false, nil
	}
	body := map[string]string{"tenant_id": tenantID, "organization_id": organizationID, "type": "microsoft_365"}
	resp, err := c.send(ctx, req{method: http.MethodPost, path: "/v1/integrations", body: body, write: true, recheck: lookup})
	if errors.Is(err, httpx.ErrAlreadyDone) && found != nil {
		return *found, nil
	}
	first := resp != nil && resp.Attempts <= 1
	if err != nil {
		if IsTenantAlreadyMapped(err) {
			// A retried create that did land answers 409 on the next try;
			// on the first try another run mapped it meanwhile (found).
			if ok, lerr := lookup(ctx); lerr == nil && ok {
				in := *found
				in.Found = first
				return in, nil
			}
		}
		return Integration{}, err
	}
	var in Integration
	if err := DecodeObject(resp.Body, &in); err != nil {
		return Integration{}, fmt.Errorf("platform: POST /v1/integrations: decoding response (request id %s): %w", resp.RequestID, err)
	}
	in.RequestID = resp.RequestID
	// 200 (not 201) is the existing integration (docs/platform-api.md):
	// found, unless an earlier attempt of this call may have made it.
	in.Found = resp.Status == http.StatusOK && first
	return in, nil
}

// Integration returns one integration (its status and reason).
func (c *Client) Integration(ctx context.Context, id string) (Integration, error) {
	var in Integration
	rid, err := c.getJSON(ctx, "/v1/integrations/"+url.PathEscape(id), nil, &in)
	in.RequestID = rid
	return in, err
}

// DeleteIntegration unmaps a tenant. A 404 after a retry counts as done.
func (c *Client) DeleteIntegration(ctx context.Context, id string) error {
	resp, err := c.send(ctx, req{method: http.MethodDelete, path: "/v1/integrations/" + url.PathEscape(id)})
	if err != nil && IsNotFound(err) && resp != nil && resp.Attempts > 1 {
		return nil
	}
	return err
}
