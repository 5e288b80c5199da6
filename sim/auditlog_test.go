package sim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// auditToken is a Graph token that carries the delegated AuditLog.Read.All scope.
func (e *tEnv) auditToken(upn string) string {
	tok := "tok-audit-" + upn
	e.tok.Add(tok, Principal{UPN: upn, ObjectID: ObjectIDFor(tTenant, upn), TenantID: tTenant, Audience: tGraphAud,
		Expires: e.clock.Now().Add(time.Hour), Scopes: "https://graph.microsoft.com/AuditLog.Read.All"})
	return "Bearer " + tok
}

func (e *tEnv) directoryAudits(auth, query string) tResp {
	e.t.Helper()
	return e.call(e.graph, http.MethodGet, "/graph/v1.0/auditLogs/directoryAudits"+query, auth, nil)
}

func (e *tEnv) searchUAL(params map[string]any) tResp {
	e.t.Helper()
	return e.exoCall(tAdmin, "Search-UnifiedAuditLog", params)
}

func auditScenario(dir, ual time.Duration) *Scenario {
	sc := tScenario()
	sc.Audit = AuditSpec{DirectoryAuditLatency: Duration(dir), UnifiedAuditLatency: Duration(ual)}
	return sc
}

// Graph directoryAudits (Graph docs directoryaudit-list.md; shape in
// resources/directoryaudit.md): the onboarding's Graph writes appear after
// the directory latency, newest first, with initiatedBy.user and
// targetResources naming the service principal; AuditLog.Read.All and a
// reader role are required.
func TestDirectoryAuditsShowOnboardingWritesAfterLatency(t *testing.T) {
	t.Parallel()
	e := newEnv(t, auditScenario(2*time.Minute, time.Hour))
	t0 := e.clock.Now()
	spID := e.createPlatformSP()
	auth := e.auditToken(tAdmin)
	since := "?$filter=" + url.QueryEscape("activityDateTime ge "+t0.Add(-time.Minute).UTC().Format(time.RFC3339))
	if r := e.directoryAudits(auth, since); r.Status != 200 || len(r.values(t)) != 0 {
		t.Fatalf("before the latency: %d %s", r.Status, r.Raw)
	}
	e.clock.Advance(2 * time.Minute)
	r := e.directoryAudits(auth, since+"&$top=5")
	if r.Status != 200 || r.Body["@odata.context"] != "https://sim.test/graph/v1.0/$metadata#auditLogs/directoryAudits" {
		t.Fatalf("after the latency: %d %s", r.Status, r.Raw)
	}
	v := r.values(t)
	if len(v) != 1 || v[0]["activityDisplayName"] != "Add service principal" || v[0]["category"] != "ApplicationManagement" ||
		v[0]["result"] != "success" || v[0]["loggedByService"] != "Core Directory" {
		t.Fatalf("record %v", v)
	}
	tr := v[0]["targetResources"].([]any)[0].(map[string]any)
	by := v[0]["initiatedBy"].(map[string]any)["user"].(map[string]any)
	if tr["id"] != spID || tr["type"] != "ServicePrincipal" || by["userPrincipalName"] != tAdmin {
		t.Fatalf("target %v initiated by %v", tr, by)
	}
	// A filter after the event finds nothing; a bad filter is a 400.
	if r := e.directoryAudits(auth, "?$filter="+url.QueryEscape("activityDateTime ge "+e.clock.Now().UTC().Format(time.RFC3339))); len(r.values(t)) != 0 {
		t.Fatalf("later filter: %s", r.Raw)
	}
	if r := e.directoryAudits(auth, "?$filter="+url.QueryEscape("category eq 'x'")); r.Status != 400 {
		t.Fatalf("bad filter: %d", r.Status)
	}
	// Without AuditLog.Read.All (the default scope set): 403.
	if r := e.graphCall(http.MethodGet, "/auditLogs/directoryAudits", tAdmin, nil); r.Status != 403 || r.errCode() != "Authorization_RequestDenied" {
		t.Fatalf("without the scope: %d %s", r.Status, r.Raw)
	}
	// With the scope but no reader role (an Exchange Administrator): 403.
	if r := e.directoryAudits(e.auditToken(tExAdmin), ""); r.Status != 403 {
		t.Fatalf("exchange admin: %d %s", r.Status, r.Raw)
	}
}

// Search-UnifiedAuditLog (powershell module page; AuditData per the
// Management Activity API schema): baseline records exist in the last 24 h,
// the Exchange role fix appears as an ExchangeAdmin record after the
// unified audit latency, filtered by -Operations and -UserIds.
func TestSearchUnifiedAuditLogShowsCmdletAfterLatency(t *testing.T) {
	t.Parallel()
	e := newEnv(t, auditScenario(time.Minute, 30*time.Minute))
	t0 := e.clock.Now()
	day := map[string]any{"StartDate": t0.Add(-24 * time.Hour).UTC().Format(time.RFC3339), "EndDate": t0.Add(time.Hour).UTC().Format(time.RFC3339), "ResultSize": 1}
	// Organization Management lacks Audit Logs in tScenario: the role fix
	// adds it (and is the canary).
	if x := e.exoCall(tAdmin, "New-ManagementRoleAssignment", map[string]any{"Role": "Audit Logs", "SecurityGroup": OrganizationManagement}); x.Status != 200 {
		t.Fatalf("role fix: %d %s", x.Status, x.Raw)
	}
	r := e.searchUAL(day)
	if r.Status != 200 || len(r.values(t)) != 1 || r.values(t)[0]["Operations"] != "UserLoggedIn" {
		t.Fatalf("baseline: %d %s", r.Status, r.Raw)
	}
	canary := map[string]any{"StartDate": t0.Add(-2 * time.Minute).UTC().Format(time.RFC3339), "EndDate": t0.Add(2 * time.Minute).UTC().Format(time.RFC3339),
		"RecordType": "ExchangeAdmin", "Operations": "New-ManagementRoleAssignment", "UserIds": tAdmin}
	if r := e.searchUAL(canary); r.Status != 200 || len(r.values(t)) != 0 {
		t.Fatalf("before the latency: %d %s", r.Status, r.Raw)
	}
	e.clock.Advance(30 * time.Minute)
	v := e.searchUAL(canary).values(t)
	if len(v) != 1 || v[0]["RecordType"] != "ExchangeAdmin" || v[0]["Operations"] != "New-ManagementRoleAssignment" || v[0]["UserIds"] != tAdmin ||
		v[0]["ResultCount"] != float64(1) {
		t.Fatalf("after the latency: %v", v)
	}
	var data struct {
		RecordType int
		Operation  string
		Workload   string
		Parameters []struct{ Name, Value string }
	}
	if err := json.Unmarshal([]byte(v[0]["AuditData"].(string)), &data); err != nil {
		t.Fatal(err)
	}
	if data.RecordType != 1 || data.Workload != "Exchange" || len(data.Parameters) != 2 || data.Parameters[0].Value != "Audit Logs" {
		t.Fatalf("AuditData %+v", data)
	}
	// Mandatory dates.
	if r := e.searchUAL(map[string]any{"RecordType": "ExchangeAdmin"}); r.Status != 400 {
		t.Fatalf("no dates: %d", r.Status)
	}
}

// Without "Audit Logs" or "View-Only Audit Logs" the cmdlet is not in the
// caller's session (CommandNotFoundException).
func TestSearchUnifiedAuditLogNeedsAuditRole(t *testing.T) {
	t.Parallel()
	sc := tScenario()
	e := newEnv(t, sc)
	now := e.clock.Now()
	r := e.searchUAL(map[string]any{"StartDate": now.Add(-time.Hour).Format(time.RFC3339), "EndDate": now.Format(time.RFC3339)})
	if r.Status != 400 {
		t.Fatalf("want CommandNotFound, got %d %s", r.Status, r.Raw)
	}
	if _, typ, _ := exoDetail(t, r); typ != "System.Management.Automation.CommandNotFoundException" {
		t.Fatalf("type %s", typ)
	}
}

// audit-never: the directory audit log shows the writes, the unified audit
// log never does, and the platform stays pending with no first_event_at.
// audit-just-enabled: UnifiedAuditLogFirstOptInDate is recent and nothing is
// in the unified audit log until it takes effect.
func TestAuditScenariosNeverAndJustEnabled(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"audit-never", "audit-just-enabled"} {
		sc, err := LoadScenario(name)
		if err != nil {
			t.Fatal(err)
		}
		sc.Users[0].UPN = tAdmin
		sc.Exchange.OrganizationManagementRoles = PlatformExchangeRoles
		sc.ServicePrincipals = []ServicePrincipalSpec{{AppID: sc.Platform.App.AppID, DisplayName: "ITDR", DirectoryRoles: []string{"Exchange Administrator", "Organizational Branding Administrator"},
			AppRoles: []string{"AuditLog.Read.All", "Directory.Read.All", "Reports.Read.All", "Policy.Read.All", "Exchange.ManageAsApp", "Office 365 Management APIs:ActivityFeed.Read"}}}
		sc.Tenant = tScenario().Tenant
		e := newEnv(t, sc)
		t0 := e.clock.Now()
		cfg := e.exoCall(tAdmin, "Get-AdminAuditLogConfig", nil).values(t)[0]
		optIn, _ := time.Parse(time.RFC3339, cfg["UnifiedAuditLogFirstOptInDate"].(string))
		m := e.mapTenant("org_contoso")
		if m.Status != 201 {
			t.Fatalf("%s: map %d %s", name, m.Status, m.Raw)
		}
		id := m.Body["id"].(string)
		day := map[string]any{"StartDate": t0.Add(-24 * time.Hour).Format(time.RFC3339), "EndDate": t0.Add(time.Hour).Format(time.RFC3339)}
		switch name {
		case "audit-never":
			if t0.Sub(optIn) < 24*time.Hour {
				t.Fatalf("opt-in %s", optIn)
			}
			e.clock.Advance(48 * time.Hour)
			g := e.pfCall(http.MethodGet, "/v1/integrations/"+id, nil)
			if g.Body["status"] != "pending" || g.Body["first_event_at"] != nil {
				t.Fatalf("audit-never platform: %s", g.Raw)
			}
		case "audit-just-enabled":
			if d := t0.Sub(optIn); d != 2*time.Minute {
				t.Fatalf("opt-in %s before start", d)
			}
			if n := len(e.searchUAL(day).values(t)); n != 0 {
				t.Fatalf("records before it takes effect: %d", n)
			}
			if g := e.pfCall(http.MethodGet, "/v1/integrations/"+id, nil); g.Body["status"] != "pending" {
				t.Fatalf("platform before effect: %s", g.Raw)
			}
			e.clock.Advance(time.Minute + 5*time.Second) // effective 3 min after opt-in
			if n := len(e.searchUAL(map[string]any{"StartDate": optIn.Format(time.RFC3339), "EndDate": e.clock.Now().Add(time.Minute).Format(time.RFC3339)}).values(t)); n != 0 {
				t.Fatalf("no onboarding writes yet, so nothing after opt-in: %d", n)
			}
			g := e.pfCall(http.MethodGet, "/v1/integrations/"+id, nil)
			if g.Body["status"] != "healthy" || g.Body["first_event_at"] == nil || g.Body["last_event_at"] == nil {
				t.Fatalf("platform after effect: %s", g.Raw)
			}
		}
	}
}
