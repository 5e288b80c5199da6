package sim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	tTenant   = "3f9c8f2e-6d0b-4c1e-9a57-1b2d3c4e5f60"
	tDomain   = "contoso.onmicrosoft.com"
	tAdmin    = "admin@contoso.onmicrosoft.com"
	tExAdmin  = "lee.gu@contoso.onmicrosoft.com"
	tPlain    = "megan.bowen@contoso.onmicrosoft.com"
	tEligible = "pim.user@contoso.onmicrosoft.com"
	tForeign  = "tech@northwind-msp.example"
	tOther    = "9a8b7c6d-1111-4222-8333-944455566677"
	tGraphAud = "https://graph.microsoft.com"
	tExoAud   = "https://outlook.office365.com"
)

// tClock is a settable clock.
type tClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *tClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *tClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func bp(b bool) *bool { return &b }

// tScenario is a typical tenant, built in Go so these tests don't depend on
// the built-in scenario files.
func tScenario() *Scenario {
	sc := &Scenario{
		Name: "test", Seed: 7,
		Tenant: TenantSpec{ID: tTenant, InitialDomain: tDomain, DisplayName: "Contoso Ltd"},
		Users: []UserSpec{
			{UPN: tAdmin, DisplayName: "Contoso Admin", ActiveRoles: []string{"Global Administrator"}, MFARegistered: true, SignsIn: true},
			{UPN: tPlain, DisplayName: "Megan Bowen", MFARegistered: true},
			{UPN: tExAdmin, DisplayName: "Lee Gu", ActiveRoles: []string{"Exchange Administrator"}},
			{UPN: tEligible, DisplayName: "Pim User", EligibleRoles: []string{"Global Administrator"}},
			{UPN: "former@contoso.onmicrosoft.com", DisplayName: "Former Employee", Enabled: bp(false), Licensed: bp(false)},
			{UPN: tForeign, DisplayName: "MSP Tech", HomeTenant: tOther, ActiveRoles: []string{"Global Administrator"}},
		},
		Licences: []SKUSpec{{SkuPartNumber: "ENTERPRISEPACK", Enabled: 25, Consumed: 4, ServicePlans: []ServicePlanSpec{
			{Name: "EXCHANGE_S_ENTERPRISE"}, {Name: "SHAREPOINTENTERPRISE"},
		}}},
		Exchange: ExchangeSpec{UnifiedAuditLogIngestionEnabled: true, OrganizationManagementRoles: []string{"Mail Recipients", "Organization Configuration", "Role Management"}},
	}
	sc.Platform.Organizations = []OrgSpec{{ID: "org_contoso", Name: "Contoso Ltd", Key: "contoso"}, {ID: "org_fabrikam", Name: "Fabrikam Inc"}}
	sc.Platform.HealthyAfter = Duration(5 * time.Second)
	return sc
}

type tEnv struct {
	t     *testing.T
	st    *State
	clock *tClock
	tok   *TokenStore
	graph http.Handler
	exo   http.Handler
	pf    http.Handler
}

func newEnv(t *testing.T, sc *Scenario) *tEnv {
	t.Helper()
	clock := &tClock{t: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)}
	st, err := NewState(sc, clock.Now)
	if err != nil {
		t.Fatalf("NewState: %v", err)
	}
	st.Tokens = NewTokenStore(clock.Now)
	return &tEnv{t: t, st: st, clock: clock, tok: st.Tokens,
		graph: http.StripPrefix("/graph", st.GraphHandler()),
		exo:   http.StripPrefix("/exchange", st.ExchangeHandler()),
		pf:    http.StripPrefix("/platform", st.PlatformHandler())}
}

// token registers a bearer token for upn and audience.
func (e *tEnv) token(upn, aud string) string {
	tid := tTenant
	for _, u := range e.st.Users() {
		if strings.EqualFold(u.UPN, upn) {
			tid = u.HomeTenant
		}
	}
	tok := "tok-" + upn + "-" + aud
	e.tok.Add(tok, Principal{UPN: upn, ObjectID: ObjectIDFor(tid, upn), TenantID: tid, Audience: aud, Expires: e.clock.Now().Add(time.Hour)})
	return tok
}

type tResp struct {
	Status int
	Header http.Header
	Raw    []byte
	Body   map[string]any
}

func (e *tEnv) call(h http.Handler, method, target, auth string, body any) tResp {
	e.t.Helper()
	var rdr io.Reader
	if body != nil {
		if s, ok := body.(string); ok {
			rdr = strings.NewReader(s)
		} else {
			b, _ := json.Marshal(body)
			rdr = bytes.NewReader(b)
		}
	}
	req := httptest.NewRequest(method, "https://sim.test"+target, rdr)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	r := tResp{Status: rec.Code, Header: rec.Header(), Raw: rec.Body.Bytes()}
	if len(r.Raw) > 0 {
		if err := json.Unmarshal(r.Raw, &r.Body); err != nil {
			e.t.Fatalf("%s %s: body is not a JSON object: %v: %s", method, target, err, r.Raw)
		}
	}
	return r
}

func (e *tEnv) graphCall(method, path, upn string, body any) tResp {
	e.t.Helper()
	auth := ""
	if upn != "" {
		auth = "Bearer " + e.token(upn, tGraphAud)
	}
	return e.call(e.graph, method, "/graph/v1.0"+path, auth, body)
}

func (e *tEnv) pfCall(method, path string, body any) tResp {
	e.t.Helper()
	req := "/platform" + path
	var rdr io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rdr = bytes.NewReader(b)
	}
	hr := httptest.NewRequest(method, "https://sim.test"+req, rdr)
	hr.SetBasicAuth(DefaultPlatformAPIKey, DefaultPlatformAPISecret)
	rec := httptest.NewRecorder()
	e.pf.ServeHTTP(rec, hr)
	r := tResp{Status: rec.Code, Header: rec.Header(), Raw: rec.Body.Bytes()}
	if len(r.Raw) > 0 {
		if err := json.Unmarshal(r.Raw, &r.Body); err != nil {
			e.t.Fatalf("%s %s: %v: %s", method, path, err, r.Raw)
		}
	}
	return r
}

func (e *tEnv) exoCall(upn, cmdlet string, params map[string]any) tResp {
	e.t.Helper()
	body := map[string]any{"CmdletInput": map[string]any{"CmdletName": cmdlet, "Parameters": params}}
	if params == nil {
		body = map[string]any{"CmdletInput": map[string]any{"CmdletName": cmdlet}}
	}
	return e.call(e.exo, http.MethodPost, "/exchange/adminapi/beta/"+tDomain+"/InvokeCommand", "Bearer "+e.token(upn, tExoAud), body)
}

// values returns body["value"] as objects.
func (r tResp) values(t *testing.T) []map[string]any {
	t.Helper()
	arr, ok := r.Body["value"].([]any)
	if !ok {
		t.Fatalf("no value array in %s", r.Raw)
	}
	out := make([]map[string]any, 0, len(arr))
	for _, v := range arr {
		out = append(out, v.(map[string]any))
	}
	return out
}

func (r tResp) errCode() string {
	e, _ := r.Body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func (r tResp) errMessage() string {
	e, _ := r.Body["error"].(map[string]any)
	s, _ := e["message"].(string)
	return s
}

func TestNewStateRejectsBadScenarios(t *testing.T) {
	cases := []struct {
		name string
		mod  func(*Scenario)
		want string
	}{
		{"bad tenant id", func(s *Scenario) { s.Tenant.ID = "contoso" }, "not a GUID"},
		{"no users", func(s *Scenario) { s.Users = nil }, "no users"},
		{"unknown role", func(s *Scenario) { s.Users[0].ActiveRoles = []string{"Chief Wizard"} }, "unknown directory role"},
		{"bad consent kind", func(s *Scenario) { s.Consent.Error650051 = "weird" }, "error_650051"},
		{"unknown sp permission", func(s *Scenario) {
			s.ServicePrincipals = []ServicePrincipalSpec{{AppID: DefaultPlatformAppID, AppRoles: []string{"Nope.Read"}}}
		}, "unknown application permission"},
		{"integration for unknown org", func(s *Scenario) {
			s.Platform.Integrations = []IntegrationSpec{{TenantID: tTenant, OrganizationID: "org_nope"}}
		}, "does not exist"},
		{"duplicate org", func(s *Scenario) {
			s.Platform.Organizations = append(s.Platform.Organizations, OrgSpec{ID: "org_contoso", Name: "Again"})
		}, "duplicate id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sc := tScenario()
			c.mod(sc)
			_, err := NewState(sc, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to mention %q", err, c.want)
			}
		})
	}
}

func TestBuiltinScenariosBuildState(t *testing.T) {
	for _, name := range BuiltinScenarios() {
		t.Run(name, func(t *testing.T) {
			sc, err := LoadScenario(name)
			if err != nil {
				t.Fatalf("LoadScenario: %v", err)
			}
			st, err := NewState(sc, nil)
			if err != nil {
				t.Fatalf("NewState: %v", err)
			}
			u := st.SignInUser()
			if u.UPN == "" || !simIsGUID(u.ObjectID) || !simIsGUID(u.HomeTenant) {
				t.Fatalf("SignInUser = %+v", u)
			}
			snap := st.Snapshot()
			if len(snap.ServicePrincipals) < 3 {
				t.Fatalf("resource service principals missing: %+v", snap.ServicePrincipals)
			}
		})
	}
}

func TestSignInUserAndObjectIDs(t *testing.T) {
	e := newEnv(t, tScenario())
	u := e.st.SignInUser()
	if u.UPN != tAdmin || u.ObjectID != ObjectIDFor(tTenant, tAdmin) || u.HomeTenant != tTenant || u.DisplayName != "Contoso Admin" {
		t.Fatalf("SignInUser = %+v", u)
	}
	for _, x := range e.st.Users() {
		if x.UPN == tForeign && (x.HomeTenant != tOther || x.ObjectID != ObjectIDFor(tOther, tForeign)) {
			t.Fatalf("foreign user = %+v", x)
		}
	}
	// The first user signs in when nobody is marked.
	sc := tScenario()
	sc.Users[0].SignsIn = false
	sc.Users[1].SignsIn = true
	st, err := NewState(sc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.SignInUser().UPN; got != tPlain {
		t.Fatalf("SignInUser = %s, want %s", got, tPlain)
	}
}

func TestSnapshotIsADeepCopyAndJSON(t *testing.T) {
	e := newEnv(t, tScenario())
	s1 := e.st.Snapshot()
	s1.OrganizationManagementRoles[0] = "mutated"
	s1.RoleAssignments[0].PrincipalID = "mutated"
	s2 := e.st.Snapshot()
	if s2.OrganizationManagementRoles[0] == "mutated" || s2.RoleAssignments[0].PrincipalID == "mutated" {
		t.Fatal("Snapshot shares memory with the state")
	}
	b, err := json.Marshal(s2)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{`"organization_management_roles"`, `"service_principals"`, `"deleted_service_principals"`, `"role_assignments"`, `"app_role_assignments"`, `"oauth2_permission_grants"`, `"unified_audit_log_ingestion_enabled"`, `"dehydrated"`, `"integrations"`} {
		if !bytes.Contains(b, []byte(f)) {
			t.Errorf("snapshot JSON lacks %s", f)
		}
	}
	if len(e.st.Changes()) != 0 {
		t.Fatalf("changes before any write: %+v", e.st.Changes())
	}
}

func TestSeedMakesIDsReproducible(t *testing.T) {
	a, _ := NewState(tScenario(), nil)
	b, _ := NewState(tScenario(), nil)
	sa, sb := a.Snapshot(), b.Snapshot()
	for i := range sa.ServicePrincipals {
		if sa.ServicePrincipals[i].ID != sb.ServicePrincipals[i].ID {
			t.Fatalf("SP ids differ for the same seed")
		}
	}
}

// TestOddInputNeverPanics throws malformed requests at every handler: each
// answers a 4xx with a JSON error body.
func TestOddInputNeverPanics(t *testing.T) {
	e := newEnv(t, tScenario())
	gt := "Bearer " + e.token(tAdmin, tGraphAud)
	xt := "Bearer " + e.token(tAdmin, tExoAud)
	bodies := []any{nil, "", "null", "[]", `{"appId":5}`, `{"requests":"x"}`, `{"CmdletInput":{"CmdletName":"New-ManagementRoleAssignment","Parameters":{"Role":["a","b"],"SecurityGroup":7}}}`, strings.Repeat("{", 5000)}
	graphPaths := []string{"/graph/v1.0/$batch", "/graph/v1.0/servicePrincipals", "/graph/v1.0/servicePrincipals(appId='x')/appRoleAssignedTo", "/graph/v1.0/servicePrincipals//appRoleAssignedTo/", "/graph/v1.0/roleManagement/directory/roleAssignments", "/graph/v1.0/oauth2PermissionGrants", "/graph/v1.0/users?$filter=" + "accountEnabled%20eq%20'", "/graph/v1.0/"}
	for _, b := range bodies {
		for _, p := range graphPaths {
			for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodDelete, http.MethodPatch} {
				r := e.call(e.graph, m, p, gt, b)
				if r.Status < 200 || r.Status >= 500 || (r.Status >= 400 && r.errCode() == "") {
					t.Fatalf("graph %s %s %v: %d %s", m, p, b, r.Status, r.Raw)
				}
			}
		}
		r := e.call(e.exo, http.MethodPost, "/exchange/adminapi/beta/"+tDomain+"/InvokeCommand", xt, b)
		if r.Status < 200 || r.Status >= 500 || (r.Status >= 400 && r.errCode() == "") {
			t.Fatalf("exchange %v: %d %s", b, r.Status, r.Raw)
		}
		e.st.PlatformRateLimit = 0
		for _, p := range []string{"/v1/integrations", "/v1/integrations/x", "/v1/organizations/", "/v1"} {
			r := e.pfCall(http.MethodPost, p, b)
			if r.Status < 200 || r.Status >= 500 || (r.Status >= 400 && r.errCode() == "") {
				t.Fatalf("platform %s %v: %d %s", p, b, r.Status, r.Raw)
			}
		}
	}
}
