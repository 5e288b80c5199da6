package sim

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestPlatformAuthAndErrorShape(t *testing.T) {
	e := newEnv(t, tScenario())
	for _, c := range []struct{ name, key, secret string }{{"none", "", ""}, {"wrong secret", DefaultPlatformAPIKey, "nope"}, {"wrong key", "hk_other", DefaultPlatformAPISecret}} {
		r := httptest.NewRequest(http.MethodGet, "https://sim.test/platform/v1/account", nil)
		if c.key != "" {
			r.SetBasicAuth(c.key, c.secret)
		}
		resp := serveTo(t, e.pf, r)
		errObj, _ := resp.Body["error"].(map[string]any)
		rid := resp.Header.Get("X-Request-Id")
		if resp.Status != 401 || errObj["code"] != "unauthorized" || rid == "" || errObj["request_id"] != rid {
			t.Fatalf("%s: %d %s (X-Request-Id %q)", c.name, resp.Status, resp.Raw, rid)
		}
		if strings.Contains(string(resp.Raw), DefaultPlatformAPISecret) {
			t.Fatal("the secret is echoed")
		}
	}
	r := e.pfCall(http.MethodGet, "/v1/nope", nil)
	if r.Status != 404 || r.errCode() != "not_found" || r.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("unknown path: %d %s", r.Status, r.Raw)
	}
	if r := e.pfCall(http.MethodPut, "/v1/account", nil); r.Status != 405 || r.errCode() != "invalid_request" {
		t.Fatalf("PUT: %d %s", r.Status, r.Raw)
	}
}

func TestPlatformAccount(t *testing.T) {
	cases := []struct {
		sub, role, expires, wantExpires string
	}{
		{"active", "", "2027-01-31T00:00:00Z", "2027-01-31T00:00:00Z"},
		{"trial", "user", "", "2026-12-10T09:00:00Z"},
		{"expired", "admin", "", "2026-11-16T09:00:00Z"},
	}
	for _, c := range cases {
		sc := tScenario()
		sc.Platform.Account.Subscription = c.sub
		sc.Platform.Account.Role = c.role
		sc.Platform.Account.ExpiresAt = c.expires
		e := newEnv(t, sc)
		r := e.pfCall(http.MethodGet, "/v1/account", nil)
		subs := r.Body["subscriptions"].([]any)[0].(map[string]any)
		wantRole := c.role
		if wantRole == "" {
			wantRole = "admin"
		}
		if r.Status != 200 || r.Body["name"] != "Northwind MSP" || r.Body["user"] != "tech@northwind-msp.example" || r.Body["role"] != wantRole ||
			subs["product"] != "itdr" || subs["status"] != c.sub || subs["expires_at"] != c.wantExpires || !strings.HasPrefix(r.Body["id"].(string), "acc_") {
			t.Fatalf("%s: %s", c.sub, r.Raw)
		}
	}
}

func TestPlatformApp(t *testing.T) {
	e := newEnv(t, tScenario())
	r := e.pfCall(http.MethodGet, "/v1/m365/app", nil)
	if r.Body["app_id"] != DefaultPlatformAppID || r.Body["display_name"] != DefaultPlatformAppName || r.Body["exchange_role_group"] != OrganizationManagement {
		t.Fatalf("%s", r.Raw)
	}
	var perms []string
	for _, p := range r.Body["application_permissions"].([]any) {
		m := p.(map[string]any)
		perms = append(perms, m["resource_display_name"].(string)+":"+m["permission"].(string)+":"+m["resource_app_id"].(string)[:8])
	}
	want := "Microsoft Graph:AuditLog.Read.All:00000003,Microsoft Graph:Directory.Read.All:00000003,Microsoft Graph:Reports.Read.All:00000003,Microsoft Graph:Policy.Read.All:00000003,Office 365 Exchange Online:Exchange.ManageAsApp:00000002,Office 365 Management APIs:ActivityFeed.Read:c5393580"
	if strings.Join(perms, ",") != want {
		t.Fatalf("permissions %v", perms)
	}
	roles := r.Body["directory_roles"].([]any)
	if len(roles) != 2 || roles[0].(map[string]any)["template_id"] != RoleExchangeAdministrator || roles[1].(map[string]any)["template_id"] != RoleOrgBrandingAdministrator {
		t.Fatalf("roles %v", roles)
	}
	if strings.Join(toStrings(r.Body["exchange_roles"]), ",") != "Audit Logs,Mail Recipients,Organization Configuration,Transport Rules,Role Management" {
		t.Fatalf("exchange roles %v", r.Body["exchange_roles"])
	}
	if r.Body["admin_consent_url"] != "https://login.microsoftonline.com/{tenant}/adminconsent?client_id="+DefaultPlatformAppID {
		t.Fatalf("consent url %v", r.Body["admin_consent_url"])
	}
	dp := r.Body["delegated_permissions"].([]any)[0].(map[string]any)
	if dp["resource_app_id"] != AppIDMicrosoftGraph || toStrings(dp["scopes"])[0] != "User.Read" {
		t.Fatalf("delegated %v", dp)
	}
	e.st.AuthorityURL = "https://127.0.0.1:8443/login/"
	if r := e.pfCall(http.MethodGet, "/v1/m365/app", nil); r.Body["admin_consent_url"] != "https://127.0.0.1:8443/login/{tenant}/adminconsent?client_id="+DefaultPlatformAppID {
		t.Fatalf("consent url %v", r.Body["admin_consent_url"])
	}
	// A scenario can replace the permission list.
	sc := tScenario()
	sc.Platform.App.ApplicationPermissions = []PermissionSpec{{ResourceAppID: "Microsoft Graph", Permission: "User.Read.All"}, {Permission: "Office 365 Management APIs:ServiceHealth.Read"}}
	e2 := newEnv(t, sc)
	if r := e2.pfCall(http.MethodGet, "/v1/m365/app", nil); strings.Count(string(r.Raw), `"permission"`) != 2 || !strings.Contains(string(r.Raw), "ServiceHealth.Read") {
		t.Fatalf("custom permissions %s", r.Raw)
	}
}

func TestPlatformOrganizationsPaging(t *testing.T) {
	sc := tScenario()
	sc.Platform.GeneratedOrganizations = 5120
	e := newEnv(t, sc)
	e.st.PlatformRateLimit = 0
	var names []string
	ids := map[string]bool{}
	token := ""
	pages := 0
	for {
		q := "/v1/organizations?limit=500"
		if token != "" {
			q += "&page_token=" + url.QueryEscape(token)
		}
		r := e.pfCall(http.MethodGet, q, nil)
		if r.Status != 200 {
			t.Fatalf("%d %s", r.Status, r.Raw)
		}
		pg := r.Body["pagination"].(map[string]any)
		if pg["total"] != float64(5122) {
			t.Fatalf("total %v", pg["total"])
		}
		for _, o := range r.Body["organizations"].([]any) {
			m := o.(map[string]any)
			for _, f := range []string{"id", "name", "key", "created_at", "identity_provider_tenant_id"} {
				if _, ok := m[f]; !ok {
					t.Fatalf("org lacks %s: %v", f, m)
				}
			}
			if ids[m["id"].(string)] {
				t.Fatalf("duplicate %v", m["id"])
			}
			ids[m["id"].(string)] = true
			names = append(names, strings.ToLower(m["name"].(string)))
		}
		pages++
		token = pg["next_page_token"].(string)
		if token == "" {
			break
		}
	}
	if len(ids) != 5122 || pages != 11 || !sort.StringsAreSorted(names) {
		t.Fatalf("%d orgs in %d pages, sorted=%v", len(ids), pages, sort.StringsAreSorted(names))
	}
	r := e.pfCall(http.MethodGet, "/v1/organizations?name=CUSTOMER%200012", nil)
	orgs := r.Body["organizations"].([]any)
	if len(orgs) != 10 || r.Body["pagination"].(map[string]any)["total"] != float64(10) || r.Body["pagination"].(map[string]any)["next_page_token"] != "" {
		t.Fatalf("filter: %d orgs %v", len(orgs), r.Body["pagination"])
	}
	if first := orgs[0].(map[string]any); first["name"] != "Customer 00120" || first["id"] != "org_c00120" || first["key"] != "customer-00120" {
		t.Fatalf("first %v", first)
	}
	if r := e.pfCall(http.MethodGet, "/v1/organizations", nil); len(r.Body["organizations"].([]any)) != 50 {
		t.Fatal("default limit is not 50")
	}
	for _, bad := range []string{"limit=0", "limit=501", "limit=ten", "page_token=zzz"} {
		if r := e.pfCall(http.MethodGet, "/v1/organizations?"+bad, nil); r.Status != 400 || r.errCode() != "invalid_request" {
			t.Fatalf("%s: %d %s", bad, r.Status, r.Raw)
		}
	}
	if r := e.pfCall(http.MethodGet, "/v1/organizations/org_contoso", nil); r.Status != 200 || r.Body["name"] != "Contoso Ltd" {
		t.Fatalf("get one: %d %s", r.Status, r.Raw)
	}
	if r := e.pfCall(http.MethodGet, "/v1/organizations/org_missing", nil); r.Status != 404 || r.errCode() != "not_found" {
		t.Fatalf("missing: %d", r.Status)
	}
}

func TestPlatformRateLimit(t *testing.T) {
	e := newEnv(t, tScenario())
	for i := 0; i < 60; i++ {
		if r := e.pfCall(http.MethodGet, "/v1/account", nil); r.Status != 200 {
			t.Fatalf("request %d: %d", i, r.Status)
		}
		if i == 29 {
			e.clock.Advance(30 * time.Second)
		}
	}
	r := e.pfCall(http.MethodGet, "/v1/account", nil)
	if r.Status != 429 || r.errCode() != "rate_limited" || r.Header.Get("Retry-After") != "30" {
		t.Fatalf("61st: %d %s Retry-After=%q", r.Status, r.Raw, r.Header.Get("Retry-After"))
	}
	e.clock.Advance(30 * time.Second)
	if r := e.pfCall(http.MethodGet, "/v1/account", nil); r.Status != 200 {
		t.Fatalf("after the window slid: %d", r.Status)
	}
}

// consent grants the platform app everything via AdminConsent.
func (e *tEnv) consent() {
	e.t.Helper()
	if err := e.st.AdminConsent(DefaultPlatformAppID, ObjectIDFor(tTenant, tAdmin), "test"); err != nil {
		e.t.Fatalf("AdminConsent: %v", err)
	}
}

func (e *tEnv) mapTenant(org string) tResp {
	return e.pfCall(http.MethodPost, "/v1/integrations", map[string]any{"tenant_id": tTenant, "organization_id": org, "type": "microsoft_365"})
}

func TestPlatformIntegrationLifecycle(t *testing.T) {
	e := newEnv(t, tScenario())
	if r := e.mapTenant("org_contoso"); r.Status != 409 || r.errCode() != "consent_missing" {
		t.Fatalf("before consent: %d %s", r.Status, r.Raw)
	}
	e.consent()
	r := e.mapTenant("org_contoso")
	if r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Raw)
	}
	id := r.Body["id"].(string)
	if loc := r.Header.Get("Location"); loc != "https://sim.test/platform/v1/integrations/"+id {
		t.Fatalf("Location %q", loc)
	}
	created := e.clock.Now()
	for _, f := range []string{"id", "tenant_id", "organization_id", "organization_name", "type", "status", "reason_code", "reason", "created_at", "last_checked_at", "first_data_at", "expected_first_data_at"} {
		if _, ok := r.Body[f]; !ok {
			t.Fatalf("integration lacks %q: %s", f, r.Raw)
		}
	}
	if r.Body["organization_name"] != "Contoso Ltd" || r.Body["type"] != "microsoft_365" || r.Body["first_data_at"] != nil || r.Body["expected_first_data_at"] != created.Add(5*time.Second).Format(time.RFC3339) {
		t.Fatalf("object %s", r.Raw)
	}
	// The scenario tenant lacks the SP's directory roles and two Exchange roles.
	status := func() (string, string) {
		g := e.pfCall(http.MethodGet, "/v1/integrations/"+id, nil)
		if g.Status != 200 || g.Body["last_checked_at"] != e.clock.Now().UTC().Format(time.RFC3339) {
			t.Fatalf("get: %d %s", g.Status, g.Raw)
		}
		return g.Body["status"].(string), g.Body["reason_code"].(string)
	}
	expect := func(step, st, code string) {
		t.Helper()
		if s, c := status(); s != st || c != code {
			t.Fatalf("%s: status %s/%s, want %s/%s", step, s, c, st, code)
		}
	}
	expect("created", "unhealthy", ReasonRolesMissing)
	if r.Body["status"] != "unhealthy" {
		t.Fatalf("create response status %v", r.Body["status"])
	}
	spID := e.spID(DefaultPlatformAppID)
	for _, role := range []string{RoleExchangeAdministrator, RoleOrgBrandingAdministrator} {
		if r := e.graphCall(http.MethodPost, "/roleManagement/directory/roleAssignments", tAdmin, map[string]any{"roleDefinitionId": role, "principalId": spID, "directoryScopeId": "/"}); r.Status != 201 {
			t.Fatalf("role: %d", r.Status)
		}
	}
	expect("directory roles fixed", "unhealthy", ReasonExchangeRolesMissing)
	for _, role := range []string{"Audit Logs", "Transport Rules"} {
		if r := e.exoCall(tAdmin, "New-ManagementRoleAssignment", map[string]any{"Role": role, "SecurityGroup": OrganizationManagement}); r.Status != 200 {
			t.Fatalf("exo role: %d", r.Status)
		}
	}
	expect("exchange roles fixed", "pending", ReasonWaitingForFirstData)
	e.exoCall(tAdmin, "Set-AdminAuditLogConfig", map[string]any{"UnifiedAuditLogIngestionEnabled": false})
	expect("audit off", "unhealthy", ReasonAuditLogDisabled)
	e.exoCall(tAdmin, "Set-AdminAuditLogConfig", map[string]any{"UnifiedAuditLogIngestionEnabled": true})
	expect("audit on", "pending", ReasonWaitingForFirstData)
	e.clock.Advance(4 * time.Second)
	expect("4s", "pending", ReasonWaitingForFirstData)
	e.clock.Advance(time.Second)
	expect("5s", "healthy", "")
	g := e.pfCall(http.MethodGet, "/v1/integrations/"+id, nil)
	if g.Body["first_data_at"] != created.Add(5*time.Second).Format(time.RFC3339) {
		t.Fatalf("first_data_at %v", g.Body["first_data_at"])
	}
	// Revoking one application permission is seen at once.
	graphID := e.spID(AppIDMicrosoftGraph)
	as := e.graphCall(http.MethodGet, "/servicePrincipals/"+spID+"/appRoleAssignments", tAdmin, nil).values(t)
	for _, a := range as {
		if a["resourceId"] == graphID {
			e.graphCall(http.MethodDelete, "/servicePrincipals/"+graphID+"/appRoleAssignedTo/"+a["id"].(string), tAdmin, nil)
			break
		}
	}
	expect("permission revoked", "unhealthy", ReasonConsentRevoked)
	e.consent()
	expect("consent again", "healthy", "")
	e.graphCall(http.MethodDelete, "/servicePrincipals/"+spID, tAdmin, nil)
	expect("SP deleted", "unhealthy", ReasonConsentRevoked)

	// Listing, org back-reference, delete.
	list := e.pfCall(http.MethodGet, "/v1/integrations?tenant_id="+tTenant, nil)
	if n := len(list.Body["integrations"].([]any)); n != 1 {
		t.Fatalf("list %s", list.Raw)
	}
	if o := e.pfCall(http.MethodGet, "/v1/organizations/org_contoso", nil); o.Body["identity_provider_tenant_id"] != tTenant {
		t.Fatalf("org %s", o.Raw)
	}
	if none := e.pfCall(http.MethodGet, "/v1/integrations?tenant_id="+tOther, nil); len(none.Body["integrations"].([]any)) != 0 {
		t.Fatalf("other tenant %s", none.Raw)
	}
	if d := e.pfCall(http.MethodDelete, "/v1/integrations/"+id, nil); d.Status != 204 || len(d.Raw) != 0 {
		t.Fatalf("delete: %d", d.Status)
	}
	if d := e.pfCall(http.MethodDelete, "/v1/integrations/"+id, nil); d.Status != 404 {
		t.Fatalf("delete again: %d", d.Status)
	}
	if g := e.pfCall(http.MethodGet, "/v1/integrations/"+id, nil); g.Status != 404 || g.errCode() != "not_found" {
		t.Fatalf("get deleted: %d", g.Status)
	}
	var pfOps []string
	for _, c := range e.st.Changes() {
		if c.Service == "platform" {
			pfOps = append(pfOps, c.Op)
		}
	}
	if strings.Join(pfOps, ",") != "POST /v1/integrations,DELETE /v1/integrations" {
		t.Fatalf("platform changes %v", pfOps)
	}
}

func TestPlatformIntegrationMappingRules(t *testing.T) {
	e := newEnv(t, tScenario())
	e.consent()
	first := e.mapTenant("org_contoso")
	again := e.mapTenant("org_contoso")
	if first.Status != 201 || again.Status != 200 || again.Body["id"] != first.Body["id"] {
		t.Fatalf("idempotent create: %d/%d %v %v", first.Status, again.Status, first.Body["id"], again.Body["id"])
	}
	other := e.mapTenant("org_fabrikam")
	errObj, _ := other.Body["error"].(map[string]any)
	if other.Status != 409 || errObj["code"] != "tenant_already_mapped" || errObj["organization_id"] != "org_contoso" || errObj["organization_name"] != "Contoso Ltd" || errObj["request_id"] != other.Header.Get("X-Request-Id") {
		t.Fatalf("other org: %d %s", other.Status, other.Raw)
	}
	for _, c := range []struct {
		body map[string]any
		want int
	}{
		{map[string]any{"tenant_id": "contoso", "organization_id": "org_contoso", "type": "microsoft_365"}, 400},
		{map[string]any{"tenant_id": tTenant, "organization_id": "", "type": "microsoft_365"}, 400},
		{map[string]any{"tenant_id": tTenant, "organization_id": "org_contoso", "type": "google_workspace"}, 400},
		{map[string]any{"tenant_id": tTenant, "organization_id": "org_missing", "type": "microsoft_365"}, 404},
		{map[string]any{"tenant_id": tOther, "organization_id": "org_fabrikam", "type": "microsoft_365"}, 409},
	} {
		if r := e.pfCall(http.MethodPost, "/v1/integrations", c.body); r.Status != c.want {
			t.Errorf("%v: %d %s", c.body, r.Status, r.Raw)
		}
	}
	if n := len(e.st.Snapshot().Integrations); n != 1 {
		t.Fatalf("%d integrations", n)
	}
}

func TestPlatformAlreadyMappedScenario(t *testing.T) {
	sc := tScenario()
	sc.Platform.Integrations = []IntegrationSpec{{TenantID: tTenant, OrganizationID: "org_fabrikam", Status: "healthy"}}
	e := newEnv(t, sc)
	list := e.pfCall(http.MethodGet, "/v1/integrations?tenant_id="+tTenant, nil).Body["integrations"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["organization_id"] != "org_fabrikam" {
		t.Fatalf("list %v", list)
	}
	r := e.mapTenant("org_contoso")
	if r.Status != 409 || r.errCode() != "tenant_already_mapped" {
		t.Fatalf("%d %s", r.Status, r.Raw)
	}
}

func TestPlatformAccountRestrictions(t *testing.T) {
	for _, c := range []struct{ role, sub, expires string }{{"user", "active", ""}, {"admin", "expired", ""}, {"admin", "cancelled", ""}, {"admin", "trial", "2026-01-01T00:00:00Z"}} {
		sc := tScenario()
		sc.Platform.Account.Role, sc.Platform.Account.Subscription, sc.Platform.Account.ExpiresAt = c.role, c.sub, c.expires
		e := newEnv(t, sc)
		e.consent()
		if r := e.mapTenant("org_contoso"); r.Status != 403 || r.errCode() != "forbidden" {
			t.Errorf("%+v: %d %s", c, r.Status, r.Raw)
		}
	}
}

func TestPlatformHealthNoLicence(t *testing.T) {
	sc := tScenario()
	sc.Licences = nil
	sc.Exchange.OrganizationManagementRoles = PlatformExchangeRoles
	sc.ServicePrincipals = []ServicePrincipalSpec{{AppID: DefaultPlatformAppID, DirectoryRoles: []string{"Exchange Administrator", "Organization Branding Administrator"},
		AppRoles: []string{"AuditLog.Read.All", "Directory.Read.All", "Reports.Read.All", "Policy.Read.All", "Exchange.ManageAsApp", "ActivityFeed.Read"}}}
	e := newEnv(t, sc)
	r := e.mapTenant("org_contoso")
	if r.Status != 201 || r.Body["status"] != "unhealthy" || r.Body["reason_code"] != ReasonNoExchangeLicence || r.Body["reason"] == "" {
		t.Fatalf("%d %s", r.Status, r.Raw)
	}
}

func TestAdminConsent(t *testing.T) {
	e := newEnv(t, tScenario())
	var ce *ConsentError
	if err := e.st.AdminConsent(DefaultPlatformAppID, ObjectIDFor(tTenant, tPlain), ""); !errors.As(err, &ce) || ce.AADSTS != 90094 {
		t.Fatalf("non-admin: %v", err)
	}
	if err := e.st.AdminConsent("11111111-2222-4333-8444-555555555555", ObjectIDFor(tTenant, tAdmin), ""); !errors.As(err, &ce) || ce.AADSTS != 700016 {
		t.Fatalf("unknown app: %v", err)
	}
	e.consent()
	snap := e.st.Snapshot()
	if len(snap.AppRoleAssignments) != 6 || len(snap.OAuth2PermissionGrants) != 1 || snap.OAuth2PermissionGrants[0].Scope != "User.Read" {
		t.Fatalf("after consent %+v", snap)
	}
	n := len(e.st.Changes())
	e.consent()
	if len(e.st.Changes()) != n {
		t.Fatal("a second consent changed something")
	}

	sc := tScenario()
	sc.Consent.Error650051 = "sp-soft-deleted"
	sc.Consent.Duration = Duration(time.Minute)
	e2 := newEnv(t, sc)
	err := e2.st.AdminConsent(DefaultPlatformAppID, ObjectIDFor(tTenant, tAdmin), "")
	if !errors.As(err, &ce) || ce.AADSTS != 650051 || ce.OAuthError != "invalid_client" || !strings.Contains(ce.Description, "service principal name is already present for the tenant '"+tTenant+"'") {
		t.Fatalf("soft-deleted: %v", err)
	}
	e2.clock.Advance(time.Minute)
	e2.consent()

	sc = tScenario()
	sc.Consent.Error650051 = "invalid-permissions"
	e3 := newEnv(t, sc)
	if err := e3.st.AdminConsent(DefaultPlatformAppID, ObjectIDFor(tTenant, tAdmin), ""); !errors.As(err, &ce) || ce.AADSTS != 650051 || !strings.Contains(ce.Error(), "ActivityReports.Read") {
		t.Fatalf("invalid permissions: %v", err)
	}
}

func TestPlatformConcurrentMapping(t *testing.T) {
	e := newEnv(t, tScenario())
	e.st.PlatformRateLimit = 0
	e.consent()
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	ids := map[string]bool{}
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.mapTenant("org_contoso")
			_ = e.pfCall(http.MethodGet, fmt.Sprintf("/v1/organizations?name=%s", "con"), nil)
			mu.Lock()
			codes[r.Status]++
			if id, ok := r.Body["id"].(string); ok {
				ids[id] = true
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes[201] != 1 || codes[200] != 15 || len(ids) != 1 {
		t.Fatalf("codes %v ids %v", codes, ids)
	}
}
