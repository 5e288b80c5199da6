package sim

import (
	"net/http"
	"strings"
)

// Resources other than Graph and Exchange that every real tenant has. The
// identity platform issues tokens for them (AADSTS500011 only for a resource
// that is not in the tenant).
const (
	// simARMResource is Azure Resource Manager's resource as the Azure CLI
	// asks for it (scope https://management.core.windows.net//.default).
	simARMResource = "https://management.core.windows.net/"
	// simARMResourceAlt is ARM's other identifier URI.
	simARMResourceAlt = "https://management.azure.com/"
	simARMAppID       = "797f4846-ba00-4fd7-ba43-dac1f8f63013" // Windows Azure Service Management API
	// simManageResource is the Office 365 Management APIs (m365-api.md §5).
	simManageResource = "https://manage.office.com"
	simManageAppID    = "c5393580-f805-4401-95e8-94b7a6ef2fc2"
)

// simResources maps a requested resource (lower case, no trailing slash) or
// its application id to the resource the token is for.
var simResources = map[string]string{
	simGraphResource:                      simGraphResource,
	simGraphAppID:                         simGraphResource,
	simExchangeResource:                   simExchangeResource,
	simExchangeAppID:                      simExchangeResource,
	"https://management.core.windows.net": simARMResource,
	"https://management.azure.com":        simARMResourceAlt,
	simARMAppID:                           simARMResource,
	simManageResource:                     simManageResource,
	simManageAppID:                        simManageResource,
}

func init() {
	simDefaultScp[simARMResource] = "user_impersonation"
	simDefaultScp[simARMResourceAlt] = "user_impersonation"
	simDefaultScp[simManageResource] = "ActivityFeed.Read ActivityFeed.ReadDlp ServiceHealth.Read"
}

// armAudiences are accepted on ARM bearer tokens.
var armAudiences = []string{"https://management.core.windows.net", "https://management.azure.com", simARMAppID}

// serveARM is the part of Azure Resource Manager a sign-in tool touches:
// GET /subscriptions and GET /tenants (learn.microsoft.com/rest/api/resources
// /subscriptions/list and /tenants/list, api-version 2022-12-01). The
// simulated tenant has no Azure subscription; /tenants lists the tenant.
// Errors have ARM's CloudError shape {"error":{"code","message"}}.
func (st *State) serveARM(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	reqID := simNewGUID()
	h.Set("x-ms-request-id", reqID)
	h.Set("x-ms-correlation-request-id", reqID)
	h.Set("x-ms-routing-request-id", "SIMULATOR:"+reqID)
	if cid := r.Header.Get("x-ms-client-request-id"); cid != "" {
		h.Set("x-ms-client-request-id", cid)
	}
	fail := func(status int, code, msg string) {
		simWriteJSON(w, status, map[string]any{"error": map[string]any{"code": code, "message": msg}})
	}
	p := strings.ToLower(strings.Trim(r.URL.Path, "/"))
	if p != "subscriptions" && p != "tenants" {
		fail(http.StatusNotFound, "InvalidResourceType", "The resource type '"+simClip(p, 80)+"' could not be found. The simulator's Azure Resource Manager serves /subscriptions and /tenants only.")
		return
	}
	if r.Method != http.MethodGet {
		fail(http.StatusMethodNotAllowed, "MethodNotAllowed", "The requested method is not allowed; use GET.")
		return
	}
	if r.URL.Query().Get("api-version") == "" {
		fail(http.StatusBadRequest, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.")
		return
	}
	auth := r.Header.Get("Authorization")
	if len(auth) < 8 || !strings.EqualFold(auth[:7], "bearer ") || st.Tokens == nil {
		h.Set("WWW-Authenticate", `Bearer authorization_uri="https://login.windows.net/`+st.tenantID+`", error="invalid_token", error_description="The authentication failed because of missing 'Authorization' header."`)
		fail(http.StatusUnauthorized, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
		return
	}
	pr, fault := st.bearer(auth, armAudiences, "")
	switch fault {
	case tokenUnknown:
		fail(http.StatusUnauthorized, "InvalidAuthenticationToken", "The access token is invalid.")
		return
	case tokenExpired:
		fail(http.StatusUnauthorized, "ExpiredAuthenticationToken", "The access token expiry UTC time is earlier than current UTC time.")
		return
	case tokenWrongAudience:
		fail(http.StatusUnauthorized, "InvalidAuthenticationTokenAudience", "The access token has been obtained for wrong audience or resource. It should exactly match with one of the allowed audiences 'https://management.core.windows.net/','https://management.azure.com/'.")
		return
	}
	if p == "subscriptions" {
		simWriteJSON(w, http.StatusOK, map[string]any{"value": []any{}, "count": map[string]any{"type": "Total", "value": 0}})
		return
	}
	st.mu.Lock()
	tid, name, domain := st.tenantID, st.tenantName, st.initialDomain
	st.mu.Unlock()
	tenants := []any{}
	if strings.EqualFold(pr.TenantID, tid) {
		tenants = append(tenants, map[string]any{
			"id": "/tenants/" + tid, "tenantId": tid, "countryCode": "US", "displayName": name,
			"domains": []string{domain}, "tenantCategory": "Home", "defaultDomain": domain, "tenantType": "AAD",
		})
	}
	simWriteJSON(w, http.StatusOK, map[string]any{"value": tenants})
}

// manageAudiences are accepted on Office 365 Management API tokens.
var manageAudiences = []string{simManageResource, simManageAppID}

// serveManage answers the Office 365 Management Activity API's subscription
// list (m365-api.md §5: GET /api/v1.0/{tenant}/activity/feed/subscriptions
// /list → [] when nothing is subscribed); everything else is 404.
func (st *State) serveManage(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, code, msg string) {
		simWriteJSON(w, status, map[string]any{"error": map[string]any{"code": code, "message": msg}})
	}
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(segs) != 7 || segs[0] != "api" || segs[1] != "v1.0" || strings.Join(segs[3:], "/") != "activity/feed/subscriptions/list" {
		fail(http.StatusNotFound, "AF404", "The simulator's Office 365 Management Activity API serves subscriptions/list only.")
		return
	}
	auth := r.Header.Get("Authorization")
	if len(auth) < 8 || !strings.EqualFold(auth[:7], "bearer ") || st.Tokens == nil {
		fail(http.StatusUnauthorized, "AF10001", "The permission set () sent in the request does not include the expected permission.")
		return
	}
	if _, fault := st.bearer(auth, manageAudiences, ""); fault != tokenOK {
		fail(http.StatusUnauthorized, "AF10001", "The access token is not valid for the Office 365 Management APIs.")
		return
	}
	if !strings.EqualFold(segs[2], st.tenantID) {
		fail(http.StatusForbidden, "AF10002", "The tenant ID in the request does not match the token's tenant.")
		return
	}
	simWriteJSON(w, http.StatusOK, []any{})
}
