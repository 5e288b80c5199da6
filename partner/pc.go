// Package partner is the MSP side of onboarding over GDAP: the Partner
// Center client (customers, application consents), discovery of which
// customers the signed-in partner user can onboard (lanes, computed from the
// partner tenant only), and the per-customer consent bootstrap. It never
// prints and never imports bubbletea; docs/gdap.md explains every rule.
package partner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"itdr-onboard/internal/httpx"
)

// TokenFunc returns an access token.
type TokenFunc func(ctx context.Context) (string, error)

// Grant is one entry of applicationGrants: a resource app and a comma
// separated list of delegated permission names.
type Grant struct {
	EnterpriseApplicationID string `json:"enterpriseApplicationId"`
	Scope                   string `json:"scope"`
}

// Resource app ids.
const (
	GraphAppID    = "00000003-0000-0000-c000-000000000000"
	ExchangeAppID = "00000002-0000-0ff1-ce00-000000000000"
)

// GraphScopes are the delegated Microsoft Graph permissions the per-tenant
// pipeline needs in a customer tenant (docs/gdap.md "The onboarding app").
var GraphScopes = []string{
	"Application.ReadWrite.All",
	"AppRoleAssignment.ReadWrite.All",
	"DelegatedPermissionGrant.ReadWrite.All",
	"RoleManagement.ReadWrite.Directory",
	"Directory.Read.All",
}

// DefaultGrants is what the consent bootstrap pushes into a customer.
func DefaultGrants() []Grant {
	return []Grant{
		{EnterpriseApplicationID: GraphAppID, Scope: strings.Join(GraphScopes, ",")},
		{EnterpriseApplicationID: ExchangeAppID, Scope: "Exchange.Manage"},
	}
}

// Customer is a Partner Center customer (GET /v1/customers).
type Customer struct {
	ID             string `json:"id"`
	CompanyProfile struct {
		TenantID    string `json:"tenantId"`
		Domain      string `json:"domain"`
		CompanyName string `json:"companyName"`
	} `json:"companyProfile"`
	RelationshipToPartner string `json:"relationshipToPartner"`
}

// TenantID is the customer's tenant.
func (c Customer) TenantID() string {
	if c.CompanyProfile.TenantID != "" {
		return strings.ToLower(c.CompanyProfile.TenantID)
	}
	return strings.ToLower(c.ID)
}

// Error is a Partner Center error response.
type Error struct {
	Call        string
	Status      int
	Code        int
	Description string
	RequestID   string
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("partner center: %s: HTTP %d", e.Call, e.Status)
	if e.Code != 0 && e.Code != e.Status {
		msg += fmt.Sprintf(" (code %d)", e.Code)
	}
	if e.Description != "" {
		msg += ": " + e.Description
	}
	if e.RequestID != "" {
		msg += " (request id " + e.RequestID + ")"
	}
	if e.MFARequired() {
		msg += " — Partner Center requires multi-factor authentication: sign in again with MFA (partner sign-in)."
	}
	return msg
}

// MFARequired: App+User calls without an MFA claim get 401 with error code
// 900421 (Partner Center MFA enforcement, 2026).
func (e *Error) MFARequired() bool { return e != nil && e.Code == 900421 }

// AlreadyExists: the consent is already in place ("Permission entry already
// exists"), which the bootstrap treats as success.
func (e *Error) AlreadyExists() bool {
	return e != nil && strings.Contains(strings.ToLower(e.Description), "already exists")
}

// AsError unwraps a Partner Center error.
func AsError(err error) (*Error, bool) {
	var pe *Error
	ok := errors.As(err, &pe)
	return pe, ok
}

// PartnerCenter is the Partner Center REST client (App+User).
type PartnerCenter struct {
	hc    *http.Client
	base  string
	token TokenFunc
	Pol   httpx.Policy
}

// NewPartnerCenter returns a client for baseURL (endpoints.PartnerCenter).
func NewPartnerCenter(hc *http.Client, baseURL string, token TokenFunc) *PartnerCenter {
	return &PartnerCenter{hc: hc, base: strings.TrimRight(baseURL, "/"), token: token}
}

func (p *PartnerCenter) send(ctx context.Context, method, path, call string, header http.Header, body any, idempotent bool) (*httpx.Response, error) {
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return nil, err
		}
	}
	h := http.Header{"Accept": {"application/json"}, "MS-CorrelationId": {httpx.NewUUID()}, "MS-RequestId": {httpx.NewUUID()}}
	for k, v := range header {
		h[k] = v
	}
	if b != nil {
		h.Set("Content-Type", "application/json")
	}
	u := path
	if !strings.HasPrefix(u, "https://") {
		u = p.base + path
	}
	return httpx.Do(ctx, p.hc, p.Pol, httpx.Request{
		Method: method, URL: u, Call: call, Header: h, Body: b, Idempotent: idempotent,
		Authorize: func(ctx context.Context, r *http.Request) error {
			if p.token == nil {
				return errors.New("no Partner Center token source")
			}
			t, err := p.token(ctx)
			if err != nil {
				return fmt.Errorf("getting a Partner Center token: %w", err)
			}
			r.Header.Set("Authorization", "Bearer "+t)
			return nil
		},
		ParseError: func(r *httpx.Response) error {
			e := &Error{Call: call, Status: r.Status, RequestID: r.RequestID}
			var body struct {
				Code        json.Number `json:"code"`
				Description string      `json:"description"`
			}
			if json.Unmarshal(r.Body, &body) == nil {
				if n, err := body.Code.Int64(); err == nil {
					e.Code = int(n)
				}
				e.Description = body.Description
			}
			return e
		},
	})
}

// Customers lists the partner's Partner Center customers, following the
// continuation links Partner Center documents for paged collections.
func (p *PartnerCenter) Customers(ctx context.Context) ([]Customer, error) {
	var all []Customer
	path := "/v1/customers?" + url.Values{"size": {"500"}}.Encode()
	var header http.Header
	for page := 0; page < 1000; page++ {
		resp, err := p.send(ctx, http.MethodGet, path, "GET /v1/customers", header, nil, true)
		if err != nil {
			return nil, err
		}
		var out struct {
			Items []Customer `json:"items"`
			Links struct {
				Next *struct {
					URI     string `json:"uri"`
					Headers []struct {
						Key   string `json:"key"`
						Value string `json:"value"`
					} `json:"headers"`
				} `json:"next"`
			} `json:"links"`
		}
		if err := json.Unmarshal(resp.Body, &out); err != nil {
			return nil, fmt.Errorf("partner center: GET /v1/customers: decoding: %w", err)
		}
		all = append(all, out.Items...)
		if out.Links.Next == nil || out.Links.Next.URI == "" {
			return all, nil
		}
		path = out.Links.Next.URI
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		header = http.Header{}
		for _, h := range out.Links.Next.Headers {
			header.Set(h.Key, h.Value)
		}
	}
	return nil, errors.New("partner center: GET /v1/customers: more than 1000 pages; giving up")
}

// Consent pushes the onboarding app's delegated grants into a customer
// (POST /v1/customers/{tenant}/applicationconsents). already is true when
// Partner Center answered "Permission entry already exists" (success).
// A 429 is retried after its Retry-After (the API allows 50 requests per
// second per application).
func (p *PartnerCenter) Consent(ctx context.Context, tenantID, appID, displayName string, grants []Grant) (already bool, err error) {
	body := map[string]any{"applicationId": appID, "applicationGrants": grants}
	if displayName != "" {
		body["displayName"] = displayName
	}
	_, err = p.send(ctx, http.MethodPost, "/v1/customers/"+url.PathEscape(tenantID)+"/applicationconsents",
		"POST /v1/customers/{tenant}/applicationconsents", nil, body, false)
	if pe, ok := AsError(err); ok && pe.AlreadyExists() {
		return true, nil
	}
	return false, err
}
