package conformance

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"itdr-onboard/m365"
	"itdr-onboard/platform"
	"itdr-onboard/sim"
)

// errCase is one error response and what the wizard's own parser must
// make of it.
type errCase struct {
	capture
	resp  resp
	check func(t *testing.T, r resp)
}

// graphErrorCaptures provokes the Graph errors the wizard handles.
func graphErrorCaptures(t *testing.T) []errCase {
	var out []errCase
	add := func(name string, r resp, status int, check func(*m365.APIError) string) {
		t.Helper()
		r.want(t, "graph "+name, status)
		out = append(out, errCase{capture{name: "graph error " + name, body: r.body, fields: specGraphError}, r, func(t *testing.T, r resp) {
			ae := m365.ParseGraphError("GET /x", r.status, r.header, r.body)
			var b struct {
				Error struct {
					Code  string `json:"code"`
					Inner struct {
						RequestID string `json:"request-id"`
					} `json:"innerError"`
				} `json:"error"`
			}
			_ = json.Unmarshal(r.body, &b)
			if hid := r.header.Get("request-id"); hid == "" || hid != b.Error.Inner.RequestID || ae.RequestID != hid {
				t.Errorf("graph error %s: request-id header %q, innerError.request-id %q, parsed %q: want all equal", name, hid, b.Error.Inner.RequestID, ae.RequestID)
			}
			if ae.Code != b.Error.Code || ae.Status != status {
				t.Errorf("graph error %s: parsed %+v", name, ae)
			}
			if msg := check(ae); msg != "" {
				t.Errorf("graph error %s: %s (parsed %+v)", name, msg, ae)
			}
		}})
	}
	e := start(t, "typical", func(sc *sim.Scenario) {
		sc.Faults = []sim.FaultSpec{{Group: sim.GroupGraph, Path: "/v1.0/subscribedSkus", Kind: sim.Fault429, RetryAfter: 7, Count: 1}}
	})
	add("404 Request_ResourceNotFound", e.graph("GET", "/servicePrincipals/0a0b0c0d-0000-4000-8000-000000000001", nil), 404, func(ae *m365.APIError) string {
		if !m365.IsNotFound(ae) || ae.Code != "Request_ResourceNotFound" {
			return "not recognised as not found"
		}
		return ""
	})
	add("409 existing service principal", e.graph("POST", "/servicePrincipals", map[string]string{"appId": graphAppID}), 409, func(ae *m365.APIError) string {
		if !m365.IsConflict(ae) {
			return "not recognised as a conflict"
		}
		return ""
	})
	add("429 throttled", e.graph("GET", "/subscribedSkus", nil), 429, func(ae *m365.APIError) string {
		if !m365.IsThrottled(ae) || ae.RetryAfter.Seconds() != 7 {
			return "not throttled with Retry-After 7 s"
		}
		return ""
	})
	e.graph("GET", "/subscribedSkus", nil).want(t, "graph after the fault", 200)
	add("401 no token", e.do("GET", e.srv.Endpoints().Graph+"/v1.0/me", nil, nil), 401, func(ae *m365.APIError) string {
		if ae.Code != "InvalidAuthenticationToken" {
			return "want InvalidAuthenticationToken"
		}
		return ""
	})

	ng := start(t, "not-global-admin", nil)
	add("403 Authorization_RequestDenied", ng.graph("POST", "/servicePrincipals", map[string]string{"appId": platformAppID}), 403, func(ae *m365.APIError) string {
		if !m365.IsForbidden(ae) {
			return "not recognised as forbidden"
		}
		return ""
	})
	sd := start(t, "sp-soft-deleted", nil)
	add("400 AADSTS650051", sd.graph("POST", "/servicePrincipals", map[string]string{"appId": platformAppID}), 400, func(ae *m365.APIError) string {
		if m365.AADSTSCode(ae) != 650051 {
			return "AADSTS650051 not found in the message"
		}
		return ""
	})
	return out
}

// exchangeErrorCaptures provokes the InvokeCommand errors the wizard handles.
func exchangeErrorCaptures(t *testing.T) []errCase {
	var out []errCase
	add := func(name string, r resp, status int, fs []Field, check func(*m365.APIError) string) {
		t.Helper()
		r.want(t, "exchange "+name, status)
		out = append(out, errCase{capture{name: "exchange error " + name, body: r.body, fields: fs}, r, func(t *testing.T, r resp) {
			ae := m365.ParseExchangeError("InvokeCommand X", r.status, r.header, r.body)
			if ae.RequestID == "" || ae.RequestID != r.header.Get("request-id") {
				t.Errorf("exchange error %s: request id %q, header %q", name, ae.RequestID, r.header.Get("request-id"))
			}
			if msg := check(ae); msg != "" {
				t.Errorf("exchange error %s: %s (parsed %+v)", name, msg, ae)
			}
		}})
	}
	e := start(t, "typical", func(sc *sim.Scenario) {
		sc.Faults = []sim.FaultSpec{{Group: sim.GroupExchange, Kind: sim.FaultExchangeThrottle, RetryAfter: 3, Count: 1}}
	})
	r := e.exo("Get-OrganizationConfig", nil)
	add("429 throttled", r, 429, specExoPlainError, func(ae *m365.APIError) string {
		if !m365.IsThrottled(ae) || ae.RetryAfter.Seconds() != 3 {
			return "not throttled with Retry-After 3 s"
		}
		return ""
	})
	if r.header.Get("Rate-Limit-Remaining") == "" || r.header.Get("Rate-Limit-Reset") == "" {
		t.Errorf("exchange throttling without Rate-Limit-Remaining/Rate-Limit-Reset: %v", r.header)
	}
	add("already customized", e.exo("Enable-OrganizationCustomization", nil), 400, specExoCmdletError, func(ae *m365.APIError) string {
		if !strings.Contains(ae.Message, "already enabled for customization") || ae.ExceptionType == "" {
			return "the client would not see \"already enabled\""
		}
		return ""
	})
	add("role assignment exists", e.exo("New-ManagementRoleAssignment", map[string]any{"Role": "Mail Recipients", "SecurityGroup": orgManagement}), 400, specExoCmdletError, func(ae *m365.APIError) string {
		if !m365.IsConflict(ae) {
			return "not recognised as a conflict"
		}
		return ""
	})
	add("not found", e.exo("Remove-ManagementRoleAssignment", map[string]any{"Identity": "No Such Assignment"}), 404, specExoCmdletError, func(ae *m365.APIError) string {
		if !m365.IsNotFound(ae) || !strings.HasSuffix(ae.ExceptionType, "ManagementObjectNotFoundException") {
			return "not recognised as not found"
		}
		return ""
	})
	d := start(t, "dehydrated", nil)
	add("dehydrated", d.exo("New-ManagementRoleAssignment", map[string]any{"Role": "Audit Logs", "SecurityGroup": orgManagement}), 400, specExoCmdletError, func(ae *m365.APIError) string {
		if !m365.IsDehydrated(ae) {
			return "not recognised as dehydrated"
		}
		return ""
	})
	return out
}

// platformErrorCaptures provokes the platform errors the wizard handles.
func platformErrorCaptures(t *testing.T) []errCase {
	var out []errCase
	add := func(name string, r resp, status int, fs []Field, check func(*platform.Error) string) {
		t.Helper()
		r.want(t, "platform "+name, status)
		out = append(out, errCase{capture{name: "platform error " + name, body: r.body, fields: fs}, r, func(t *testing.T, r resp) {
			pe := platform.ParseError("X /v1/x", r.status, r.header, r.body)
			var b struct {
				Error struct {
					RequestID string `json:"request_id"`
				} `json:"error"`
			}
			_ = json.Unmarshal(r.body, &b)
			if hid := r.header.Get("X-Request-Id"); hid == "" || hid != b.Error.RequestID || pe.RequestID != hid {
				t.Errorf("platform error %s: X-Request-Id %q, body request_id %q, parsed %q: want all equal", name, hid, b.Error.RequestID, pe.RequestID)
			}
			if msg := check(pe); msg != "" {
				t.Errorf("platform error %s: %s (parsed %+v)", name, msg, pe)
			}
		}})
	}
	e := start(t, "typical", func(sc *sim.Scenario) {
		sc.Faults = []sim.FaultSpec{{Group: sim.GroupPlatform, Path: "/v1/account", Kind: sim.Fault429, RetryAfter: 2, Count: 1}}
	})
	r := e.platform("GET", "/v1/account", nil)
	add("429 rate_limited", r, 429, specPlatformError, func(pe *platform.Error) string {
		if pe.Code != platform.CodeRateLimited || r.header.Get("Retry-After") != "2" {
			return "want rate_limited with Retry-After 2"
		}
		return ""
	})
	add("401 unauthorized", e.do("GET", e.srv.Endpoints().Platform+"/v1/account", http.Header{"Authorization": {"Basic aGtfZGVtbzp3cm9uZw=="}}, nil), 401, specPlatformError, func(pe *platform.Error) string {
		if !platform.IsUnauthorized(pe) {
			return "not recognised as unauthorized"
		}
		return ""
	})
	add("404 not_found", e.platform("GET", "/v1/integrations/int_404", nil), 404, specPlatformError, func(pe *platform.Error) string {
		if !platform.IsNotFound(pe) {
			return "not recognised as not found"
		}
		return ""
	})
	body := map[string]string{"tenant_id": tenantID, "organization_id": "org_contoso", "type": "microsoft_365"}
	add("409 consent_missing", e.platform("POST", "/v1/integrations", body), 409, specPlatformError, func(pe *platform.Error) string {
		if !platform.IsConsentMissing(pe) {
			return "not recognised as consent_missing"
		}
		return ""
	})
	m := start(t, "already-mapped", nil)
	add("409 tenant_already_mapped", m.platform("POST", "/v1/integrations", body), 409, specAlreadyMapped, func(pe *platform.Error) string {
		if !platform.IsTenantAlreadyMapped(pe) || pe.OrganizationID != "org_fabrikam" || pe.OrganizationName != "Fabrikam Inc" {
			return "want tenant_already_mapped naming org_fabrikam / Fabrikam Inc"
		}
		return ""
	})
	return out
}

func TestErrorShapes(t *testing.T) {
	var all []errCase
	all = append(all, graphErrorCaptures(t)...)
	all = append(all, exchangeErrorCaptures(t)...)
	all = append(all, platformErrorCaptures(t)...)
	if len(all) != 16 {
		t.Fatalf("captured %d error responses, want 16", len(all))
	}
	for _, c := range all {
		conform(t, c.capture)
		c.check(t, c.resp)
	}
}
