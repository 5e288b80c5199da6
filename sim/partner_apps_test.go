package sim

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// ptSignInAs runs the device code grant at the partner authority with a
// client id; it returns the token response.
func ptSignInAs(t *testing.T, s *PartnerServer, client, scope string) ptResp {
	t.Helper()
	dc := ptDo(t, s, "POST", "/organizations/oauth2/v2.0/devicecode", "", nil, url.Values{"client_id": {client}, "scope": {scope + " offline_access openid profile"}})
	if dc.status != 200 {
		t.Fatalf("devicecode: %d %s", dc.status, dc.raw)
	}
	return ptDo(t, s, "POST", "/organizations/oauth2/v2.0/token", "", nil, url.Values{
		"client_id": {client}, "grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {dc.body["device_code"].(string)}, "scope": {scope + " offline_access openid profile"}})
}

// ptAdminScopes are the Graph permissions partner setup asks for by name.
const ptAdminScopes = "https://graph.microsoft.com/Application.ReadWrite.All https://graph.microsoft.com/DelegatedPermissionGrant.ReadWrite.All https://graph.microsoft.com/Directory.Read.All"

func ptErr(r ptResp) (string, string) {
	e, _ := r.body["error"].(map[string]any)
	code, _ := e["code"].(string)
	msg, _ := e["message"].(string)
	return code, msg
}

func ptAADCodes(r ptResp) []any {
	codes, _ := r.body["error_codes"].([]any)
	return codes
}

// Conformance of the partner tenant's registrations with Microsoft Graph
// v1.0 (application-post-applications: 201 + Location + the object;
// application-update: 204; oauth2permissiongrant-post: 201, -update: 204;
// servicePrincipal create: 400 "…does not reference a valid application
// object" until the app replicated, msgraph-sdk-dotnet#3108; 409 for a
// second one; writes need an application administrator role,
// grant-admin-consent prerequisites).
func TestPartnerApplicationsConformance(t *testing.T) {
	t.Parallel()
	sc := GeneratePartnerScenario(3, 5)
	sc.Partner.App = PartnerAppAbsent
	sc.AppReplication = Duration(10 * time.Second)
	sc.Partner.Users = append(sc.Partner.Users, PartnerUserSpec{UPN: "reader@msp-demo.onmicrosoft.com", MFA: true})
	s, clk := ptStart(t, sc)
	// Graph CLI with /.default carries no write permission here (never
	// consented in this tenant): writes are refused; named scopes work.
	def := ptSignInAs(t, s, simGraphCLIClientID, "https://graph.microsoft.com/.default")
	if def.status != 200 || ptClaims(t, def.body["access_token"].(string))["scp"] != "User.Read" {
		t.Fatalf("Graph CLI /.default: %d %s", def.status, def.raw)
	}
	if r := ptDo(t, s, "POST", "/graph/v1.0/applications", def.body["access_token"].(string), map[string]any{"displayName": "x"}, nil); r.status != 403 {
		t.Fatalf("write with User.Read only: %d %s", r.status, r.raw)
	}
	tok := ptSignInAs(t, s, simGraphCLIClientID, ptAdminScopes)
	if tok.status != 200 {
		t.Fatalf("Graph CLI sign-in: %d %s", tok.status, tok.raw)
	}
	at := tok.body["access_token"].(string)

	// Not registered: nothing by appId, nothing by name.
	if r := ptDo(t, s, "GET", "/graph/v1.0/applications?$filter="+url.QueryEscape("appId eq '"+sc.Partner.AppID+"'"), at, nil, nil); r.status != 200 || len(r.body["value"].([]any)) != 0 {
		t.Fatalf("list by appId: %d %s", r.status, r.raw)
	}
	if r := ptDo(t, s, "GET", "/graph/v1.0/applications?$filter="+url.QueryEscape("startswith(displayName,'x')"), at, nil, nil); r.status != 400 {
		t.Fatalf("unsupported filter: %d %s", r.status, r.raw)
	}
	// Create: 201, Location, the object with a new appId.
	cr := ptDo(t, s, "POST", "/graph/v1.0/applications", at, map[string]any{"displayName": "ITDR Onboarding", "signInAudience": "AzureADMultipleOrgs",
		"isFallbackPublicClient": true, "publicClient": map[string]any{"redirectUris": []string{"http://localhost"}},
		"requiredResourceAccess": []any{map[string]any{"resourceAppId": "00000002-0000-0ff1-ce00-000000000000",
			"resourceAccess": []any{map[string]any{"id": "ab4f2b77-0b06-4fc1-a9de-02113fc2ab7c", "type": "Scope"}}}}}, nil)
	if cr.status != 201 || !strings.HasSuffix(cr.header.Get("Location"), "/applications/"+cr.body["id"].(string)) || cr.body["signInAudience"] != "AzureADMultipleOrgs" || cr.body["isFallbackPublicClient"] != true {
		t.Fatalf("create: %d %v %s", cr.status, cr.header, cr.raw)
	}
	appID, objID := cr.body["appId"].(string), cr.body["id"].(string)
	if r := ptDo(t, s, "POST", "/graph/v1.0/applications", at, map[string]any{"signInAudience": "AzureADMultipleOrgs"}, nil); r.status != 400 {
		t.Fatalf("create without displayName: %d %s", r.status, r.raw)
	}
	// Its service principal: not yet (replication), then 201, then 409.
	sp := ptDo(t, s, "POST", "/graph/v1.0/servicePrincipals", at, map[string]any{"appId": appID}, nil)
	if code, msg := ptErr(sp); sp.status != 400 || code != "Request_BadRequest" || !strings.Contains(msg, "does not reference a valid application object") {
		t.Fatalf("SP before replication: %d %s", sp.status, sp.raw)
	}
	clk.add(11 * time.Second)
	sp = ptDo(t, s, "POST", "/graph/v1.0/servicePrincipals", at, map[string]any{"appId": appID}, nil)
	if sp.status != 201 || sp.body["appId"] != appID {
		t.Fatalf("SP: %d %s", sp.status, sp.raw)
	}
	if r := ptDo(t, s, "POST", "/graph/v1.0/servicePrincipals", at, map[string]any{"appId": appID}, nil); r.status != 409 {
		t.Fatalf("second SP: %d %s", r.status, r.raw)
	}
	// PATCH: 204; an unknown id: 404 with Graph's wording.
	if r := ptDo(t, s, "PATCH", "/graph/v1.0/applications/"+objID, at, map[string]any{"signInAudience": "AzureADMyOrg"}, nil); r.status != 204 || r.raw != "" {
		t.Fatalf("patch: %d %s", r.status, r.raw)
	}
	if r := ptDo(t, s, "PATCH", "/graph/v1.0/applications/"+objID, at, map[string]any{"signInAudience": "Everyone"}, nil); r.status != 400 {
		t.Fatalf("patch bad audience: %d %s", r.status, r.raw)
	}
	if r := ptDo(t, s, "PATCH", "/graph/v1.0/applications/00000000-0000-4000-8000-000000000000", at, map[string]any{"signInAudience": "AzureADMyOrg"}, nil); r.status != 404 {
		t.Fatalf("patch unknown: %d %s", r.status, r.raw)
	} else if _, msg := ptErr(r); !strings.Contains(msg, "does not exist or one of its queried reference-property objects are not present") {
		t.Fatalf("patch unknown message: %s", r.raw)
	}
	got := ptDo(t, s, "GET", "/graph/v1.0/applications?$filter="+url.QueryEscape("appId eq '"+appID+"'"), at, nil, nil)
	if v := got.body["value"].([]any); len(v) != 1 || v[0].(map[string]any)["signInAudience"] != "AzureADMyOrg" {
		t.Fatalf("read back: %s", got.raw)
	}
	// Grants: the Exchange resource's SP, a grant (201), a duplicate (409),
	// PATCH (204), an unknown scope (400).
	res := ptDo(t, s, "GET", "/graph/v1.0/servicePrincipals?$filter="+url.QueryEscape("appId eq '00000002-0000-0ff1-ce00-000000000000'"), at, nil, nil)
	rv := res.body["value"].([]any)
	if len(rv) != 1 {
		t.Fatalf("resource SP: %s", res.raw)
	}
	resID := rv[0].(map[string]any)["id"].(string)
	body := map[string]any{"clientId": sp.body["id"], "consentType": "AllPrincipals", "resourceId": resID, "scope": "Exchange.Manage"}
	g := ptDo(t, s, "POST", "/graph/v1.0/oauth2PermissionGrants", at, body, nil)
	if g.status != 201 || g.body["scope"] != "Exchange.Manage" || g.body["principalId"] != nil {
		t.Fatalf("grant: %d %s", g.status, g.raw)
	}
	if r := ptDo(t, s, "POST", "/graph/v1.0/oauth2PermissionGrants", at, body, nil); r.status != 409 {
		t.Fatalf("dup grant: %d %s", r.status, r.raw)
	}
	if r := ptDo(t, s, "PATCH", "/graph/v1.0/oauth2PermissionGrants/"+g.body["id"].(string), at, map[string]any{"scope": "Exchange.Manage"}, nil); r.status != 204 {
		t.Fatalf("patch grant: %d %s", r.status, r.raw)
	}
	if r := ptDo(t, s, "PATCH", "/graph/v1.0/oauth2PermissionGrants/"+g.body["id"].(string), at, map[string]any{"scope": "Mail.Send"}, nil); r.status != 400 {
		t.Fatalf("patch grant unknown scope: %d %s", r.status, r.raw)
	}
	list := ptDo(t, s, "GET", "/graph/v1.0/oauth2PermissionGrants?$filter="+url.QueryEscape("clientId eq '"+sp.body["id"].(string)+"'"), at, nil, nil)
	if v := list.body["value"].([]any); len(v) != 1 {
		t.Fatalf("grants: %s", list.raw)
	}
	// The technician's roles; a user without one is refused writes (403).
	roles := ptDo(t, s, "GET", "/graph/v1.0/me/transitiveMemberOf/microsoft.graph.directoryRole", at, nil, nil)
	if v := roles.body["value"].([]any); len(v) != 1 || v[0].(map[string]any)["roleTemplateId"] != RoleGlobalAdmin {
		t.Fatalf("roles: %s", roles.raw)
	}
	for i := range s.sc.Partner.Users {
		s.sc.Partner.Users[i].SignsIn = s.sc.Partner.Users[i].UPN == "reader@msp-demo.onmicrosoft.com"
	}
	rt := ptSignInAs(t, s, simGraphCLIClientID, ptAdminScopes).body["access_token"].(string)
	if r := ptDo(t, s, "POST", "/graph/v1.0/applications", rt, map[string]any{"displayName": "x"}, nil); r.status != 403 {
		t.Fatalf("write without a role: %d %s", r.status, r.raw)
	} else if code, _ := ptErr(r); code != "Authorization_RequestDenied" {
		t.Fatalf("write without a role: %s", r.raw)
	}
}

// The identity side of the registration: an unknown client (700016), one
// without public client flows (7000218), one not consented in the partner
// tenant (65001), and a consented one whose token carries the grant.
func TestPartnerClientGate(t *testing.T) {
	t.Parallel()
	sc := GeneratePartnerScenario(3, 6)
	sc.Partner.App = PartnerAppHandMade
	s, _ := ptStart(t, sc)
	code := func(r ptResp) float64 {
		if c := ptAADCodes(r); len(c) > 0 {
			return c[0].(float64)
		}
		return 0
	}
	if r := ptSignInAs(t, s, "11111111-2222-4333-8444-555555555555", "https://graph.microsoft.com/.default"); r.status != 400 || code(r) != 700016 {
		t.Fatalf("unknown client: %d %s", r.status, r.raw)
	}
	if r := ptSignInAs(t, s, sc.Partner.AppID, "https://graph.microsoft.com/.default"); r.status != 401 || code(r) != 7000218 {
		t.Fatalf("confidential client: %d %s", r.status, r.raw)
	}
	// Turn public client flows on: now the missing consent shows (65001).
	admin := ptSignInAs(t, s, simGraphCLIClientID, ptAdminScopes).body["access_token"].(string)
	objID := s.PartnerApps()[0].ObjectID
	if r := ptDo(t, s, "PATCH", "/graph/v1.0/applications/"+objID, admin, map[string]any{"isFallbackPublicClient": true}, nil); r.status != 204 {
		t.Fatalf("patch: %d %s", r.status, r.raw)
	}
	if r := ptSignInAs(t, s, sc.Partner.AppID, "https://graph.microsoft.com/.default"); r.status != 400 || code(r) != 65001 {
		t.Fatalf("not consented: %d %s", r.status, r.raw)
	}
	// Consent Graph tenant-wide: the token's scp is the grant.
	var spID, graphSP string
	for _, v := range ptDo(t, s, "GET", "/graph/v1.0/servicePrincipals", admin, nil, nil).body["value"].([]any) {
		m := v.(map[string]any)
		switch m["appId"] {
		case sc.Partner.AppID:
			spID = m["id"].(string)
		case simGraphAppID:
			graphSP = m["id"].(string)
		}
	}
	if r := ptDo(t, s, "POST", "/graph/v1.0/oauth2PermissionGrants", admin, map[string]any{"clientId": spID, "consentType": "AllPrincipals", "resourceId": graphSP, "scope": "User.Read DelegatedAdminRelationship.Read.All"}, nil); r.status != 201 {
		t.Fatalf("grant: %d %s", r.status, r.raw)
	}
	r := ptSignInAs(t, s, sc.Partner.AppID, "https://graph.microsoft.com/.default")
	if r.status != 200 || ptClaims(t, r.body["access_token"].(string))["scp"] != "User.Read DelegatedAdminRelationship.Read.All" {
		t.Fatalf("consented: %d %s", r.status, r.raw)
	}
	// A single-tenant app is not found at a customer authority.
	if r := ptDo(t, s, "PATCH", "/graph/v1.0/applications/"+objID, admin, map[string]any{"signInAudience": "AzureADMyOrg"}, nil); r.status != 204 {
		t.Fatalf("patch audience: %d %s", r.status, r.raw)
	}
	cust := ptCustomerOf(sc, LaneReady)
	red := ptRedeem(t, s, cust.TenantID, r.body["refresh_token"].(string), "https://graph.microsoft.com/.default")
	if red.status != 400 || code(red) != 700016 {
		t.Fatalf("single-tenant app at a customer: %d %s", red.status, red.raw)
	}
}
