package sim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestGraphAuthentication(t *testing.T) {
	e := newEnv(t, tScenario())
	exoTok := "Bearer " + e.token(tAdmin, tExoAud)
	e.tok.Add("short", Principal{UPN: tAdmin, ObjectID: ObjectIDFor(tTenant, tAdmin), TenantID: tTenant, Audience: tGraphAud, Expires: e.clock.Now().Add(time.Minute)})
	cases := []struct {
		name, auth, wantMsg string
		advance             time.Duration
	}{
		{"missing", "", "Access token is empty.", 0},
		{"unknown", "Bearer nope", "IDX14100", 0},
		{"wrong audience", exoTok, "Invalid audience", 0},
		{"expired", "Bearer short", "expired", 2 * time.Minute},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.clock.Advance(c.advance)
			req := e.call(e.graph, http.MethodGet, "/graph/v1.0/me", c.auth, nil)
			if req.Status != http.StatusUnauthorized || req.errCode() != "InvalidAuthenticationToken" || !strings.Contains(req.errMessage(), c.wantMsg) {
				t.Fatalf("got %d %s", req.Status, req.Raw)
			}
			inner, _ := req.Body["error"].(map[string]any)["innerError"].(map[string]any)
			if inner["request-id"] != req.Header.Get("request-id") || inner["date"] == "" || inner["client-request-id"] == nil {
				t.Fatalf("innerError = %v (request-id header %q)", inner, req.Header.Get("request-id"))
			}
		})
	}
}

func TestGraphHeadersAndContext(t *testing.T) {
	e := newEnv(t, tScenario())
	req := httptestRequest(t, e, http.MethodGet, "/graph/v1.0/organization", tAdmin, map[string]string{"client-request-id": "abc-123"})
	if req.Status != 200 {
		t.Fatalf("status %d: %s", req.Status, req.Raw)
	}
	if req.Header.Get("client-request-id") != "abc-123" || !simIsGUID(req.Header.Get("request-id")) {
		t.Fatalf("headers %v", req.Header)
	}
	if ct := req.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json;odata.metadata=minimal") {
		t.Fatalf("Content-Type %q", ct)
	}
	if got := req.Body["@odata.context"]; got != "https://sim.test/graph/v1.0/$metadata#organization" {
		t.Fatalf("@odata.context = %v", got)
	}
	org := req.values(t)[0]
	if org["id"] != tTenant || org["displayName"] != "Contoso Ltd" {
		t.Fatalf("org = %v", org)
	}
	d := org["verifiedDomains"].([]any)[0].(map[string]any)
	if d["name"] != tDomain || d["isInitial"] != true || d["isDefault"] != true {
		t.Fatalf("verifiedDomains = %v", org["verifiedDomains"])
	}
}

func httptestRequest(t *testing.T, e *tEnv, method, target, upn string, hdr map[string]string) tResp {
	t.Helper()
	r := httptest.NewRequest(method, "https://sim.test"+target, nil)
	r.Header.Set("Authorization", "Bearer "+e.token(upn, tGraphAud))
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	return serveTo(t, e.graph, r)
}

func TestGraphMeAndDirectoryRoles(t *testing.T) {
	e := newEnv(t, tScenario())
	me := e.graphCall(http.MethodGet, "/me", tAdmin, nil)
	if me.Status != 200 || me.Body["id"] != ObjectIDFor(tTenant, tAdmin) || me.Body["userPrincipalName"] != tAdmin || me.Body["displayName"] != "Contoso Admin" {
		t.Fatalf("/me = %d %s", me.Status, me.Raw)
	}
	cases := []struct {
		upn       string
		roles     []string
		eligibles []string
	}{
		{tAdmin, []string{RoleGlobalAdministrator}, nil},
		{tExAdmin, []string{RoleExchangeAdministrator}, nil},
		{tPlain, nil, nil},
		{tEligible, nil, []string{RoleGlobalAdministrator}},
	}
	for _, c := range cases {
		t.Run(c.upn, func(t *testing.T) {
			r := e.graphCall(http.MethodGet, "/me/transitiveMemberOf/microsoft.graph.directoryRole", c.upn, nil)
			if r.Status != 200 {
				t.Fatalf("%d %s", r.Status, r.Raw)
			}
			var got []string
			for _, v := range r.values(t) {
				if v["@odata.type"] != "#microsoft.graph.directoryRole" || v["displayName"] == "" || !simIsGUID(v["id"].(string)) || v["id"] == v["roleTemplateId"] {
					t.Fatalf("role shape %v", v)
				}
				got = append(got, v["roleTemplateId"].(string))
			}
			if fmt.Sprint(got) != fmt.Sprint(c.roles) {
				t.Fatalf("active roles %v, want %v", got, c.roles)
			}
			r = e.graphCall(http.MethodGet, "/roleManagement/directory/roleEligibilityScheduleInstances/filterByCurrentUser(on='principal')", c.upn, nil)
			got = nil
			for _, v := range r.values(t) {
				if v["principalId"] != ObjectIDFor(tTenant, c.upn) || v["directoryScopeId"] != "/" || v["memberType"] != "Direct" {
					t.Fatalf("eligibility shape %v", v)
				}
				got = append(got, v["roleDefinitionId"].(string))
			}
			if fmt.Sprint(got) != fmt.Sprint(c.eligibles) {
				t.Fatalf("eligible roles %v, want %v", got, c.eligibles)
			}
		})
	}
	// The quote characters may arrive percent-encoded.
	r := e.graphCall(http.MethodGet, "/roleManagement/directory/roleEligibilityScheduleInstances/filterByCurrentUser(on=%27principal%27)", tEligible, nil)
	if r.Status != 200 || len(r.values(t)) != 1 {
		t.Fatalf("encoded function call: %d %s", r.Status, r.Raw)
	}
}

func TestGraphSubscribedSkus(t *testing.T) {
	sc := tScenario()
	sc.Licences = append(sc.Licences, SKUSpec{SkuPartNumber: "EXCHANGE_FOUNDATION_ONLY", CapabilityStatus: "Suspended", Enabled: 0, ServicePlans: []ServicePlanSpec{{Name: "EXCHANGE_S_FOUNDATION"}, {Name: "CUSTOM_PLAN", ProvisioningStatus: "Disabled"}}})
	e := newEnv(t, sc)
	r := e.graphCall(http.MethodGet, "/subscribedSkus", tAdmin, nil)
	skus := r.values(t)
	if len(skus) != 2 {
		t.Fatalf("%s", r.Raw)
	}
	ep := skus[0]
	if ep["skuId"] != "6fd2c87f-b296-42f0-b197-1e91e994b900" || ep["skuPartNumber"] != "ENTERPRISEPACK" || ep["capabilityStatus"] != "Enabled" || ep["consumedUnits"] != float64(4) {
		t.Fatalf("sku %v", ep)
	}
	if ep["prepaidUnits"].(map[string]any)["enabled"] != float64(25) {
		t.Fatalf("prepaidUnits %v", ep["prepaidUnits"])
	}
	plan := ep["servicePlans"].([]any)[0].(map[string]any)
	if plan["servicePlanId"] != "efb87545-963c-4e0d-99df-69c6916d9eb0" || plan["servicePlanName"] != "EXCHANGE_S_ENTERPRISE" || plan["provisioningStatus"] != "Success" || plan["appliesTo"] != "User" {
		t.Fatalf("plan %v", plan)
	}
	plans := skus[1]["servicePlans"].([]any)
	if p := plans[0].(map[string]any); p["servicePlanId"] != "113feb6c-3fe4-4440-bddc-54d774bf0318" || p["appliesTo"] != "Company" {
		t.Fatalf("foundation plan %v", p)
	}
	if p := plans[1].(map[string]any); !simIsGUID(p["servicePlanId"].(string)) || p["provisioningStatus"] != "Disabled" {
		t.Fatalf("custom plan %v", p)
	}
	if skus[1]["capabilityStatus"] != "Suspended" || !simIsGUID(skus[1]["skuId"].(string)) {
		t.Fatalf("generated sku %v", skus[1])
	}
}

func TestGraphServicePrincipalLookups(t *testing.T) {
	e := newEnv(t, tScenario())
	q := "/servicePrincipals?$filter=" + url.QueryEscape("appId eq '"+AppIDMicrosoftGraph+"'")
	r := e.graphCall(http.MethodGet, q, tAdmin, nil)
	sps := r.values(t)
	if len(sps) != 1 || sps[0]["displayName"] != "Microsoft Graph" {
		t.Fatalf("%s", r.Raw)
	}
	want := map[string]string{
		"AuditLog.Read.All": "b0afded3-3588-46d8-8b3d-9842eff778da", "Directory.Read.All": "7ab1d382-f21e-4acd-a863-ba3e13f7da61",
		"User.Read.All": "df021288-bdef-4463-88db-98f22de89214", "Policy.Read.All": "246dd0d5-5bd0-4def-940b-0421030a5b68",
		"RoleManagement.Read.Directory": "483bed4a-2ad3-4361-a73b-c83ccdbdc53c", "Reports.Read.All": "230c1aed-a721-4c5d-9cb4-a90514e508ef",
	}
	got := map[string]string{}
	for _, ar := range sps[0]["appRoles"].([]any) {
		m := ar.(map[string]any)
		got[m["value"].(string)] = m["id"].(string)
		if m["allowedMemberTypes"].([]any)[0] != "Application" || m["isEnabled"] != true {
			t.Fatalf("appRole shape %v", m)
		}
	}
	for v, id := range want {
		if got[v] != id {
			t.Errorf("appRole %s = %q, want %q", v, got[v], id)
		}
	}
	for app, role := range map[string]string{AppIDExchangeOnline: "Exchange.ManageAsApp", AppIDManagementAPIs: "ActivityFeed.Read"} {
		r := e.graphCall(http.MethodGet, "/servicePrincipals(appId='"+app+"')", tAdmin, nil)
		if r.Status != 200 || !strings.Contains(string(r.Raw), `"value":"`+role+`"`) {
			t.Fatalf("alt key %s: %d %s", app, r.Status, r.Raw)
		}
		if !strings.HasSuffix(r.Body["@odata.context"].(string), "$metadata#servicePrincipals/$entity") {
			t.Fatalf("context %v", r.Body["@odata.context"])
		}
	}
	if r := e.graphCall(http.MethodGet, "/servicePrincipals(appId='"+DefaultPlatformAppID+"')", tAdmin, nil); r.Status != 404 || r.errCode() != "Request_ResourceNotFound" {
		t.Fatalf("absent alt key: %d %s", r.Status, r.Raw)
	}
	r = e.graphCall(http.MethodGet, "/servicePrincipals?$filter="+url.QueryEscape("appId eq '"+DefaultPlatformAppID+"'"), tAdmin, nil)
	if r.Status != 200 || len(r.values(t)) != 0 {
		t.Fatalf("absent filter: %s", r.Raw)
	}
	r = e.graphCall(http.MethodGet, "/servicePrincipals?$filter="+url.QueryEscape("appId eq '"+AppIDMicrosoftGraph+"'")+"&$select=id,appId", tAdmin, nil)
	if v := r.values(t)[0]; len(v) != 2 || v["appId"] != AppIDMicrosoftGraph {
		t.Fatalf("$select: %v", v)
	}
}

func TestGraphQueryErrors(t *testing.T) {
	e := newEnv(t, tScenario())
	cases := []struct{ path, code string }{
		{"/servicePrincipals?$filter=" + url.QueryEscape("startswith(displayName,'M')"), "BadRequest"},
		{"/servicePrincipals?$filter=" + url.QueryEscape("homepage eq 'x'"), "BadRequest"},
		{"/users?$top=0", "BadRequest"},
		{"/users?$skiptoken=garbage!", "Request_BadRequest"},
		{"/groups", "Request_ResourceNotFound"},
		{"/servicePrincipals/" + "00000000-0000-0000-0000-000000000000", "Request_ResourceNotFound"},
	}
	for _, c := range cases {
		r := e.graphCall(http.MethodGet, c.path, tAdmin, nil)
		if r.Status/100 != 4 || r.errCode() != c.code {
			t.Errorf("%s: %d %s (want code %s)", c.path, r.Status, r.Raw, c.code)
		}
	}
	if r := e.call(e.graph, http.MethodGet, "/graph/beta/me", "Bearer "+e.token(tAdmin, tGraphAud), nil); r.Status != 404 {
		t.Fatalf("beta: %d", r.Status)
	}
	if r := e.graphCall(http.MethodPut, "/organization", tAdmin, map[string]any{}); r.Status != http.StatusMethodNotAllowed {
		t.Fatalf("PUT: %d", r.Status)
	}
	if r := e.graphCall(http.MethodPost, "/servicePrincipals", tAdmin, "{not json"); r.Status != 400 || r.errCode() != "BadRequest" {
		t.Fatalf("bad json: %d %s", r.Status, r.Raw)
	}
}

// createPlatformSP creates the platform app's SP and returns its id.
func (e *tEnv) createPlatformSP() string {
	e.t.Helper()
	r := e.graphCall(http.MethodPost, "/servicePrincipals", tAdmin, map[string]any{"appId": DefaultPlatformAppID})
	if r.Status != http.StatusCreated {
		e.t.Fatalf("POST /servicePrincipals: %d %s", r.Status, r.Raw)
	}
	return r.Body["id"].(string)
}

func (e *tEnv) spID(appID string) string {
	e.t.Helper()
	r := e.graphCall(http.MethodGet, "/servicePrincipals(appId='"+appID+"')", tAdmin, nil)
	if r.Status != 200 {
		e.t.Fatalf("lookup %s: %d", appID, r.Status)
	}
	return r.Body["id"].(string)
}

func TestGraphCreateServicePrincipal(t *testing.T) {
	e := newEnv(t, tScenario())
	if r := e.graphCall(http.MethodPost, "/servicePrincipals", tPlain, map[string]any{"appId": DefaultPlatformAppID}); r.Status != 403 || r.errCode() != "Authorization_RequestDenied" {
		t.Fatalf("non-admin: %d %s", r.Status, r.Raw)
	}
	r := e.graphCall(http.MethodPost, "/servicePrincipals", tAdmin, map[string]any{"appId": DefaultPlatformAppID})
	if r.Status != 201 || r.Body["appId"] != DefaultPlatformAppID || r.Body["displayName"] != DefaultPlatformAppName || !simIsGUID(r.Body["id"].(string)) {
		t.Fatalf("create: %d %s", r.Status, r.Raw)
	}
	if r.Header.Get("Location") == "" {
		t.Fatal("no Location header")
	}
	dup := e.graphCall(http.MethodPost, "/servicePrincipals", tAdmin, map[string]any{"appId": DefaultPlatformAppID})
	if dup.Status != 409 || dup.errCode() != "Request_MultipleObjectsWithSameKeyValue" {
		t.Fatalf("duplicate: %d %s", dup.Status, dup.Raw)
	}
	if r := e.graphCall(http.MethodPost, "/servicePrincipals", tAdmin, map[string]any{"appId": "11111111-2222-4333-8444-555555555555"}); r.Status != 400 || !strings.Contains(r.errMessage(), "does not reference a valid application object") {
		t.Fatalf("unknown app: %d %s", r.Status, r.Raw)
	}
	ch := e.st.Changes()
	if len(ch) != 1 || ch[0].Service != "graph" || ch[0].Op != "POST /servicePrincipals" || ch[0].RequestID != r.Header.Get("request-id") && ch[0].RequestID == "" {
		t.Fatalf("changes %+v", ch)
	}
	// The next read sees it.
	if got := e.spID(DefaultPlatformAppID); got != r.Body["id"] && got == "" {
		t.Fatal("SP not visible")
	}
}

func TestGraphDeleteServicePrincipalMovesToDeletedItems(t *testing.T) {
	e := newEnv(t, tScenario())
	id := e.createPlatformSP()
	graphID := e.spID(AppIDMicrosoftGraph)
	r := e.graphCall(http.MethodPost, "/servicePrincipals/"+graphID+"/appRoleAssignedTo", tAdmin, map[string]any{"principalId": id, "resourceId": graphID, "appRoleId": "b0afded3-3588-46d8-8b3d-9842eff778da"})
	if r.Status != 201 {
		t.Fatalf("grant: %d %s", r.Status, r.Raw)
	}
	if r := e.graphCall(http.MethodDelete, "/servicePrincipals/"+graphID, tAdmin, nil); r.Status != 400 {
		t.Fatalf("deleting Microsoft Graph: %d", r.Status)
	}
	if r := e.graphCall(http.MethodDelete, "/servicePrincipals/"+id, tAdmin, nil); r.Status != 204 || len(r.Raw) != 0 {
		t.Fatalf("delete: %d %s", r.Status, r.Raw)
	}
	if r := e.graphCall(http.MethodGet, "/servicePrincipals/"+id, tAdmin, nil); r.Status != 404 {
		t.Fatalf("after delete: %d", r.Status)
	}
	r = e.graphCall(http.MethodGet, "/directory/deletedItems/microsoft.graph.servicePrincipal?$filter="+url.QueryEscape("appId eq '"+DefaultPlatformAppID+"'"), tAdmin, nil)
	items := r.values(t)
	if len(items) != 1 || items[0]["id"] != id || items[0]["deletedDateTime"] == nil || items[0]["@odata.type"] != "#microsoft.graph.servicePrincipal" {
		t.Fatalf("deleted items: %s", r.Raw)
	}
	snap := e.st.Snapshot()
	if len(snap.AppRoleAssignments) != 0 || len(snap.DeletedServicePrincipals) != 1 {
		t.Fatalf("snapshot after delete: %+v", snap)
	}
	// It can be created again (no consent block for ordinary deletes).
	if id2 := e.createPlatformSP(); id2 == id {
		t.Fatal("recreated SP reuses the deleted id")
	}
}

func TestGraphRoleAssignments(t *testing.T) {
	e := newEnv(t, tScenario())
	spID := e.createPlatformSP()
	body := map[string]any{"@odata.type": "#microsoft.graph.unifiedRoleAssignment", "roleDefinitionId": RoleExchangeAdministrator, "principalId": spID, "directoryScopeId": "/"}

	if r := e.graphCall(http.MethodPost, "/roleManagement/directory/roleAssignments", tExAdmin, body); r.Status != 403 || r.errCode() != "Authorization_RequestDenied" {
		t.Fatalf("exchange admin writes: %d %s", r.Status, r.Raw)
	}
	r := e.graphCall(http.MethodPost, "/roleManagement/directory/roleAssignments", tAdmin, body)
	if r.Status != 201 || r.Body["principalId"] != spID || r.Body["roleDefinitionId"] != RoleExchangeAdministrator || r.Body["directoryScopeId"] != "/" || r.Body["id"] == "" {
		t.Fatalf("create: %d %s", r.Status, r.Raw)
	}
	aid := r.Body["id"].(string)
	dup := e.graphCall(http.MethodPost, "/roleManagement/directory/roleAssignments", tAdmin, body)
	if dup.Status != 400 || dup.errCode() != "Request_BadRequest" || dup.errMessage() != "A conflicting object with one or more of the specified property values is present in the directory." {
		t.Fatalf("duplicate: %d %s", dup.Status, dup.Raw)
	}
	for _, bad := range []map[string]any{
		{"roleDefinitionId": "00000000-0000-4000-8000-000000000000", "principalId": spID},
		{"roleDefinitionId": RoleExchangeAdministrator, "principalId": "00000000-0000-4000-8000-000000000000"},
	} {
		if r := e.graphCall(http.MethodPost, "/roleManagement/directory/roleAssignments", tAdmin, bad); r.Status != 404 {
			t.Fatalf("bad %v: %d", bad, r.Status)
		}
	}
	filter := "/roleManagement/directory/roleAssignments?$filter=" + url.QueryEscape("principalId eq '"+spID+"' and roleDefinitionId eq '"+RoleExchangeAdministrator+"'")
	if got := e.graphCall(http.MethodGet, filter, tAdmin, nil).values(t); len(got) != 1 || got[0]["id"] != aid {
		t.Fatalf("filter: %v", got)
	}
	byPrincipal := "/roleManagement/directory/roleAssignments?$filter=" + url.QueryEscape("principalId eq '"+spID+"'")
	if got := e.graphCall(http.MethodGet, byPrincipal, tAdmin, nil).values(t); len(got) != 1 {
		t.Fatalf("filter by principal: %v", got)
	}
	if r := e.graphCall(http.MethodGet, "/roleManagement/directory/roleAssignments/"+aid, tAdmin, nil); r.Status != 200 || r.Body["id"] != aid {
		t.Fatalf("get: %d", r.Status)
	}
	if r := e.graphCall(http.MethodDelete, "/roleManagement/directory/roleAssignments/"+aid, tAdmin, nil); r.Status != 204 {
		t.Fatalf("delete: %d", r.Status)
	}
	if got := e.graphCall(http.MethodGet, filter, tAdmin, nil).values(t); len(got) != 0 {
		t.Fatalf("after delete: %v", got)
	}
	if r := e.graphCall(http.MethodDelete, "/roleManagement/directory/roleAssignments/"+aid, tAdmin, nil); r.Status != 404 {
		t.Fatalf("delete again: %d", r.Status)
	}
	ops := []string{}
	for _, c := range e.st.Changes() {
		ops = append(ops, c.Op)
	}
	if fmt.Sprint(ops) != "[POST /servicePrincipals POST /roleManagement/directory/roleAssignments DELETE /roleManagement/directory/roleAssignments]" {
		t.Fatalf("changes %v", ops)
	}

	// A role assigned to a user is what that user's next read sees.
	plainID := ObjectIDFor(tTenant, tPlain)
	r = e.graphCall(http.MethodPost, "/roleManagement/directory/roleAssignments", tAdmin, map[string]any{"roleDefinitionId": RoleGlobalAdministrator, "principalId": plainID})
	if r.Status != 201 {
		t.Fatalf("assign user: %d", r.Status)
	}
	roles := e.graphCall(http.MethodGet, "/me/transitiveMemberOf/microsoft.graph.directoryRole", tPlain, nil).values(t)
	if len(roles) != 1 || roles[0]["roleTemplateId"] != RoleGlobalAdministrator {
		t.Fatalf("new GA's roles: %v", roles)
	}
}

func TestGraphAppRoleAssignments(t *testing.T) {
	e := newEnv(t, tScenario())
	spID := e.createPlatformSP()
	graphID := e.spID(AppIDMicrosoftGraph)
	path := "/servicePrincipals/" + graphID + "/appRoleAssignedTo"
	body := map[string]any{"principalId": spID, "resourceId": graphID, "appRoleId": "7ab1d382-f21e-4acd-a863-ba3e13f7da61"}
	r := e.graphCall(http.MethodPost, path, tAdmin, body)
	if r.Status != 201 || r.Body["appRoleId"] != body["appRoleId"] || r.Body["principalId"] != spID || r.Body["principalType"] != "ServicePrincipal" || r.Body["resourceDisplayName"] != "Microsoft Graph" || r.Body["resourceId"] != graphID {
		t.Fatalf("grant: %d %s", r.Status, r.Raw)
	}
	aid := r.Body["id"].(string)
	if dup := e.graphCall(http.MethodPost, path, tAdmin, body); dup.Status != 400 || dup.errCode() != "Request_BadRequest" || dup.errMessage() != "Permission being assigned already exists on the object" {
		t.Fatalf("duplicate: %d %s", dup.Status, dup.Raw)
	}
	bad := map[string]any{"principalId": spID, "resourceId": graphID, "appRoleId": "594c1fb6-4f81-4475-ae41-0c394909246c"} // an Office 365 Management APIs role
	if r := e.graphCall(http.MethodPost, path, tAdmin, bad); r.Status != 400 || !strings.Contains(r.errMessage(), "Permission being assigned was not found on application") {
		t.Fatalf("unknown role: %d %s", r.Status, r.Raw)
	}
	mismatch := map[string]any{"principalId": spID, "resourceId": spID, "appRoleId": "7ab1d382-f21e-4acd-a863-ba3e13f7da61"}
	if r := e.graphCall(http.MethodPost, path, tAdmin, mismatch); r.Status != 400 {
		t.Fatalf("resource mismatch: %d", r.Status)
	}
	if r := e.graphCall(http.MethodPost, path, tPlain, body); r.Status != 403 {
		t.Fatalf("non-admin: %d", r.Status)
	}
	// Through the alternate key and from the principal's side.
	alt := e.graphCall(http.MethodGet, "/servicePrincipals(appId='"+AppIDMicrosoftGraph+"')/appRoleAssignedTo", tAdmin, nil).values(t)
	mine := e.graphCall(http.MethodGet, "/servicePrincipals/"+spID+"/appRoleAssignments", tAdmin, nil).values(t)
	if len(alt) != 1 || len(mine) != 1 || mine[0]["id"] != aid {
		t.Fatalf("listings: %v / %v", alt, mine)
	}
	if r := e.graphCall(http.MethodDelete, path+"/"+aid, tAdmin, nil); r.Status != 204 {
		t.Fatalf("delete: %d", r.Status)
	}
	if mine := e.graphCall(http.MethodGet, "/servicePrincipals/"+spID+"/appRoleAssignments", tAdmin, nil).values(t); len(mine) != 0 {
		t.Fatalf("after delete: %v", mine)
	}
	if snap := e.st.Snapshot(); len(snap.AppRoleAssignments) != 0 {
		t.Fatalf("snapshot %+v", snap.AppRoleAssignments)
	}
}

func TestGraphOAuth2PermissionGrants(t *testing.T) {
	e := newEnv(t, tScenario())
	spID := e.createPlatformSP()
	graphID := e.spID(AppIDMicrosoftGraph)
	body := map[string]any{"clientId": spID, "consentType": "AllPrincipals", "principalId": nil, "resourceId": graphID, "scope": "User.Read"}
	r := e.graphCall(http.MethodPost, "/oauth2PermissionGrants", tAdmin, body)
	if r.Status != 201 || r.Body["scope"] != "User.Read" || r.Body["principalId"] != nil || r.Body["consentType"] != "AllPrincipals" {
		t.Fatalf("grant: %d %s", r.Status, r.Raw)
	}
	if dup := e.graphCall(http.MethodPost, "/oauth2PermissionGrants", tAdmin, body); dup.Status != 409 {
		t.Fatalf("duplicate: %d", dup.Status)
	}
	if r := e.graphCall(http.MethodPost, "/oauth2PermissionGrants", tAdmin, map[string]any{"clientId": spID, "consentType": "Sometimes", "resourceId": graphID, "scope": "User.Read"}); r.Status != 400 {
		t.Fatalf("bad consentType: %d", r.Status)
	}
	list := e.graphCall(http.MethodGet, "/oauth2PermissionGrants?$filter="+url.QueryEscape("clientId eq '"+spID+"'"), tAdmin, nil).values(t)
	if len(list) != 1 || list[0]["clientId"] != spID {
		t.Fatalf("list: %v", list)
	}
	id := list[0]["id"].(string)
	if r := e.graphCall(http.MethodPatch, "/oauth2PermissionGrants/"+id, tAdmin, map[string]any{"scope": "User.Read Directory.Read.All"}); r.Status != 204 {
		t.Fatalf("patch: %d", r.Status)
	}
	if g := e.graphCall(http.MethodGet, "/oauth2PermissionGrants/"+id, tAdmin, nil); g.Body["scope"] != "User.Read Directory.Read.All" {
		t.Fatalf("after patch: %s", g.Raw)
	}
	if other := e.graphCall(http.MethodGet, "/oauth2PermissionGrants?$filter="+url.QueryEscape("clientId eq '"+graphID+"'"), tAdmin, nil).values(t); len(other) != 0 {
		t.Fatalf("filter leaks: %v", other)
	}
}

func TestGraphUsersPaging(t *testing.T) {
	sc := tScenario()
	for i := 0; i < 245; i++ {
		sc.Users = append(sc.Users, UserSpec{UPN: fmt.Sprintf("user%03d@%s", i, tDomain), DisplayName: fmt.Sprintf("User %03d", i), Enabled: bp(i%10 != 0), MFARegistered: i%2 == 0})
	}
	e := newEnv(t, sc)
	members := 5 + 245          // the foreign user is not a member
	enabled := members - 1 - 25 // "former" and every 10th generated user are disabled
	q := "/users?$filter=" + url.QueryEscape("accountEnabled eq true") + "&$select=id,userPrincipalName,assignedLicenses"
	seen := map[string]bool{}
	pages := 0
	next := "https://sim.test/graph/v1.0" + q
	for next != "" {
		u, err := url.Parse(next)
		if err != nil {
			t.Fatal(err)
		}
		r := e.call(e.graph, http.MethodGet, u.RequestURI(), "Bearer "+e.token(tAdmin, tGraphAud), nil)
		if r.Status != 200 {
			t.Fatalf("page %d: %d %s", pages, r.Status, r.Raw)
		}
		for _, v := range r.values(t) {
			if len(v) != 3 || v["assignedLicenses"] == nil {
				t.Fatalf("$select not applied: %v", v)
			}
			if seen[v["id"].(string)] {
				t.Fatalf("duplicate across pages: %v", v)
			}
			seen[v["id"].(string)] = true
		}
		if pages == 0 && len(r.values(t)) != 100 {
			t.Fatalf("first page has %d users, want 100", len(r.values(t)))
		}
		pages++
		next, _ = r.Body["@odata.nextLink"].(string)
		if next != "" && !strings.Contains(next, "$skiptoken=") {
			t.Fatalf("nextLink %q", next)
		}
	}
	if len(seen) != enabled || pages != 3 {
		t.Fatalf("saw %d users in %d pages, want %d in 3", len(seen), pages, enabled)
	}
	r := e.graphCall(http.MethodGet, "/users?$top=10", tAdmin, nil)
	if len(r.values(t)) != 10 || r.Body["@odata.nextLink"] == nil {
		t.Fatalf("$top=10: %d values, nextLink %v", len(r.values(t)), r.Body["@odata.nextLink"])
	}
	sps := e.graphCall(http.MethodGet, "/servicePrincipals?$top=2", tAdmin, nil)
	spNext, _ := sps.Body["@odata.nextLink"].(string)
	u, _ := url.Parse(spNext)
	if len(sps.values(t)) != 2 || spNext == "" {
		t.Fatalf("$top=2 on servicePrincipals: %s", sps.Raw)
	}
	if rest := e.call(e.graph, http.MethodGet, u.RequestURI(), "Bearer "+e.token(tAdmin, tGraphAud), nil); len(rest.values(t)) != 1 || rest.Body["@odata.nextLink"] != nil {
		t.Fatalf("second page: %s", rest.Raw)
	}
	reg := e.graphCall(http.MethodGet, "/reports/authenticationMethods/userRegistrationDetails?$filter="+url.QueryEscape("isMfaRegistered eq false"), tAdmin, nil)
	n := len(reg.values(t))
	for next, _ := reg.Body["@odata.nextLink"].(string); next != ""; next, _ = reg.Body["@odata.nextLink"].(string) {
		u, _ := url.Parse(next)
		reg = e.call(e.graph, http.MethodGet, u.RequestURI(), "Bearer "+e.token(tAdmin, tGraphAud), nil)
		n += len(reg.values(t))
	}
	// Not registered: pim user, former, lee.gu and the odd generated users.
	if want := 3 + 122; n != want {
		t.Fatalf("users without MFA = %d, want %d", n, want)
	}
}

func TestGraphUserRegistrationDetailsShape(t *testing.T) {
	e := newEnv(t, tScenario())
	r := e.graphCall(http.MethodGet, "/reports/authenticationMethods/userRegistrationDetails", tAdmin, nil)
	byUPN := map[string]map[string]any{}
	for _, v := range r.values(t) {
		byUPN[v["userPrincipalName"].(string)] = v
	}
	if a := byUPN[tAdmin]; a["isMfaRegistered"] != true || a["isAdmin"] != true || a["id"] != ObjectIDFor(tTenant, tAdmin) {
		t.Fatalf("admin: %v", a)
	}
	if p := byUPN[tExAdmin]; p["isMfaRegistered"] != false {
		t.Fatalf("lee: %v", p)
	}
	if _, ok := byUPN[tForeign]; ok {
		t.Fatal("a user of another tenant is listed")
	}
}

func TestGraphConsentSoftDeleted(t *testing.T) {
	sc := tScenario()
	sc.Consent.Error650051 = "sp-soft-deleted"
	sc.Consent.Duration = Duration(90 * time.Second)
	e := newEnv(t, sc)
	q := "/directory/deletedItems/microsoft.graph.servicePrincipal?$filter=" + url.QueryEscape("appId eq '"+DefaultPlatformAppID+"'")
	if got := e.graphCall(http.MethodGet, q, tAdmin, nil).values(t); len(got) != 1 {
		t.Fatalf("deleted item at start: %v", got)
	}
	wantMsg := "AADSTS650051: Consent action for Application '" + DefaultPlatformAppID + "' failed due to the following error: The '" + DefaultPlatformAppID + "' service principal name is already present for the tenant '" + tTenant + "'. paramName: ServicePrincipalName, paramValue: '" + DefaultPlatformAppID + "', objectType: System.String"
	for _, step := range []time.Duration{0, 60 * time.Second, 29 * time.Second} {
		e.clock.Advance(step)
		r := e.graphCall(http.MethodPost, "/servicePrincipals", tAdmin, map[string]any{"appId": DefaultPlatformAppID})
		if r.Status != 400 || r.errCode() != "Request_BadRequest" || r.errMessage() != wantMsg {
			t.Fatalf("after %v: %d %s", step, r.Status, r.Raw)
		}
	}
	// The delay counts from the first attempt; the item is still there.
	if got := e.graphCall(http.MethodGet, q, tAdmin, nil).values(t); len(got) != 1 {
		t.Fatalf("deleted item before purge: %v", got)
	}
	e.clock.Advance(time.Second)
	if got := e.graphCall(http.MethodGet, q, tAdmin, nil).values(t); len(got) != 0 {
		t.Fatalf("deleted item after purge: %v", got)
	}
	e.createPlatformSP()
	if len(e.st.Changes()) != 1 {
		t.Fatalf("failed attempts recorded as changes: %+v", e.st.Changes())
	}
}

func TestGraphConsentInvalidPermissions(t *testing.T) {
	sc := tScenario()
	sc.Consent.Error650051 = "invalid-permissions"
	e := newEnv(t, sc)
	for i := 0; i < 3; i++ {
		r := e.graphCall(http.MethodPost, "/servicePrincipals", tAdmin, map[string]any{"appId": DefaultPlatformAppID})
		want := "AADSTS650051: Application '" + DefaultPlatformAppID + "' is requesting permissions that are either invalid or out of date. Claim is invalid: ActivityReports.Read does not exist on resource 'Office 365 Management APIs'"
		if r.Status != 400 || r.errMessage() != want {
			t.Fatalf("attempt %d: %d %s", i, r.Status, r.Raw)
		}
		e.clock.Advance(time.Hour)
	}
	app := e.pfCall(http.MethodGet, "/v1/m365/app", nil)
	if !strings.Contains(string(app.Raw), `"permission":"ActivityReports.Read"`) {
		t.Fatalf("manifest lacks ActivityReports.Read: %s", app.Raw)
	}
}

func TestGraphBatch(t *testing.T) {
	e := newEnv(t, tScenario())
	body := map[string]any{"requests": []any{
		map[string]any{"id": "1", "method": "GET", "url": "/me"},
		map[string]any{"id": "2", "method": "GET", "url": "organization?$select=id"},
		map[string]any{"id": "3", "method": "POST", "url": "/servicePrincipals", "headers": map[string]string{"Content-Type": "application/json"}, "body": map[string]any{"appId": DefaultPlatformAppID}},
		map[string]any{"id": "4", "method": "POST", "url": "/servicePrincipals", "body": map[string]any{"appId": DefaultPlatformAppID}},
		map[string]any{"id": "5", "method": "GET", "url": "/servicePrincipals?$filter=appId eq '" + DefaultPlatformAppID + "'", "dependsOn": []string{"4"}},
		map[string]any{"id": "6", "method": "GET", "url": "/nope"},
	}}
	r := e.graphCall(http.MethodPost, "/$batch", tAdmin, body)
	if r.Status != 200 {
		t.Fatalf("%d %s", r.Status, r.Raw)
	}
	resps := r.Body["responses"].([]any)
	status := map[string]float64{}
	bodies := map[string]map[string]any{}
	for _, x := range resps {
		m := x.(map[string]any)
		status[m["id"].(string)] = m["status"].(float64)
		bodies[m["id"].(string)], _ = m["body"].(map[string]any)
	}
	want := map[string]float64{"1": 200, "2": 200, "3": 201, "4": 409, "5": 424, "6": 404}
	for id, s := range want {
		if status[id] != s {
			t.Errorf("request %s: status %v, want %v", id, status[id], s)
		}
	}
	if bodies["1"]["userPrincipalName"] != tAdmin || bodies["3"]["appId"] != DefaultPlatformAppID {
		t.Fatalf("bodies %v", bodies)
	}
	org := bodies["2"]["value"].([]any)[0].(map[string]any)
	if len(org) != 1 || org["id"] != tTenant {
		t.Fatalf("batched $select: %v", org)
	}
	var many []any
	for i := 0; i < 21; i++ {
		many = append(many, map[string]any{"id": fmt.Sprint(i), "method": "GET", "url": "/me"})
	}
	if r := e.graphCall(http.MethodPost, "/$batch", tAdmin, map[string]any{"requests": many}); r.Status != 400 {
		t.Fatalf("21 requests: %d", r.Status)
	}
	dupIDs := map[string]any{"requests": []any{map[string]any{"id": "a", "method": "GET", "url": "/me"}, map[string]any{"id": "a", "method": "GET", "url": "/me"}}}
	if r := e.graphCall(http.MethodPost, "/$batch", tAdmin, dupIDs); r.Status != 400 {
		t.Fatalf("duplicate ids: %d", r.Status)
	}
	if r := e.call(e.graph, http.MethodPost, "/graph/v1.0/$batch", "", body); r.Status != 401 {
		t.Fatalf("unauthenticated batch: %d", r.Status)
	}
}

func TestGraphForeignTenantToken(t *testing.T) {
	e := newEnv(t, tScenario())
	r := e.graphCall(http.MethodGet, "/organization", tForeign, nil)
	org := r.values(t)[0]
	if org["id"] != tOther {
		t.Fatalf("a token from another tenant sees tenant %v", org["id"])
	}
	if me := e.graphCall(http.MethodGet, "/me", tForeign, nil); me.Body["userPrincipalName"] != tForeign {
		t.Fatalf("/me: %s", me.Raw)
	}
	if r := e.graphCall(http.MethodPost, "/servicePrincipals", tForeign, map[string]any{"appId": DefaultPlatformAppID}); r.Status != 403 {
		t.Fatalf("foreign write: %d", r.Status)
	}
	if r := e.graphCall(http.MethodGet, "/servicePrincipals", tForeign, nil); r.Status != 403 {
		t.Fatalf("foreign read of this tenant: %d", r.Status)
	}
}

func TestGraphConcurrentWrites(t *testing.T) {
	e := newEnv(t, tScenario())
	spID := e.createPlatformSP()
	tok := "Bearer " + e.token(tAdmin, tGraphAud)
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for i := 0; i < 24; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var r tResp
			switch i % 3 {
			case 0, 1:
				r = e.call(e.graph, http.MethodPost, "/graph/v1.0/roleManagement/directory/roleAssignments", tok, map[string]any{"roleDefinitionId": RoleOrgBrandingAdministrator, "principalId": spID})
			default:
				r = e.call(e.graph, http.MethodGet, "/graph/v1.0/roleManagement/directory/roleAssignments?$filter="+url.QueryEscape("principalId eq '"+spID+"'"), tok, nil)
				_ = e.st.Snapshot()
			}
			mu.Lock()
			codes[r.Status]++
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	if codes[201] != 1 || codes[400] != 15 || codes[200] != 8 { // a duplicate role assignment is 400
		t.Fatalf("status counts %v", codes)
	}
}

func serveTo(t *testing.T, h http.Handler, r *http.Request) tResp {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	out := tResp{Status: rec.Code, Header: rec.Header(), Raw: rec.Body.Bytes()}
	if len(out.Raw) > 0 {
		if err := json.Unmarshal(out.Raw, &out.Body); err != nil {
			t.Fatalf("%v: %s", err, out.Raw)
		}
	}
	return out
}
