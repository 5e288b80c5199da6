package sim

import (
	"net/http"
	"testing"
	"time"
)

// TestDerivedHealthTable walks the derivation rules one failing requirement
// at a time, starting from a tenant where everything holds.
func TestDerivedHealthTable(t *testing.T) {
	ready := func() *Scenario {
		sc := tScenario()
		sc.Exchange.OrganizationManagementRoles = PlatformExchangeRoles
		sc.ServicePrincipals = []ServicePrincipalSpec{{AppID: DefaultPlatformAppID, DirectoryRoles: []string{"Exchange Administrator", "Organizational Branding Administrator"},
			AppRoles: []string{"AuditLog.Read.All", "Directory.Read.All", "Reports.Read.All", "Policy.Read.All", "Exchange.ManageAsApp", "Office 365 Management APIs:ActivityFeed.Read"}}}
		return sc
	}
	cases := []struct {
		name     string
		mod      func(*Scenario)
		advance  time.Duration
		status   string
		reason   string
		firstSet bool
	}{
		{"all good, just mapped", nil, 0, "pending", ReasonWaitingForFirstData, false},
		{"all good, after healthy_after", nil, 5 * time.Second, "healthy", "", true},
		{"audit off", func(s *Scenario) { s.Exchange.UnifiedAuditLogIngestionEnabled = false }, time.Hour, "unhealthy", ReasonAuditLogDisabled, false},
		{"one exchange role missing", func(s *Scenario) { s.Exchange.OrganizationManagementRoles = PlatformExchangeRoles[1:] }, 0, "unhealthy", ReasonExchangeRolesMissing, false},
		{"branding role missing", func(s *Scenario) { s.ServicePrincipals[0].DirectoryRoles = []string{"Exchange Administrator"} }, 0, "unhealthy", ReasonRolesMissing, false},
		{"suspended licence", func(s *Scenario) { s.Licences[0].CapabilityStatus = "Suspended" }, 0, "unhealthy", ReasonNoExchangeLicence, false},
		{"foundation plan only", func(s *Scenario) { s.Licences[0].ServicePlans = []ServicePlanSpec{{Name: "EXCHANGE_S_FOUNDATION"}} }, 0, "unhealthy", ReasonNoExchangeLicence, false},
		{"slow health", func(s *Scenario) { s.Platform.HealthyAfter = Duration(2 * time.Minute) }, time.Minute, "pending", ReasonWaitingForFirstData, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sc := ready()
			if c.mod != nil {
				c.mod(sc)
			}
			e := newEnv(t, sc)
			r := e.mapTenant("org_contoso")
			if r.Status != 201 {
				t.Fatalf("map: %d %s", r.Status, r.Raw)
			}
			e.clock.Advance(c.advance)
			g := e.pfCall(http.MethodGet, "/v1/integrations/"+r.Body["id"].(string), nil)
			if g.Body["status"] != c.status || g.Body["reason_code"] != c.reason || (g.Body["first_data_at"] != nil) != c.firstSet {
				t.Fatalf("got %s", g.Raw)
			}
			if c.status != "healthy" && g.Body["reason"] == "" {
				t.Fatalf("no reason sentence: %s", g.Raw)
			}
			snap := e.st.Snapshot()
			if snap.Integrations[0].Status != c.status || snap.Integrations[0].ReasonCode != c.reason {
				t.Fatalf("snapshot %+v", snap.Integrations)
			}
		})
	}
}

// TestBuiltinScenarioHealth maps the tenant in the built-in scenarios whose
// tenant is already fully prepared and checks the derived outcome.
func TestBuiltinScenarioHealth(t *testing.T) {
	for _, c := range []struct{ scenario, status, reason string }{
		{"ready", "pending", ReasonWaitingForFirstData},
		{"unhealthy-audit-off", "unhealthy", ReasonAuditLogDisabled},
	} {
		t.Run(c.scenario, func(t *testing.T) {
			sc, err := LoadScenario(c.scenario)
			if err != nil {
				t.Skipf("scenario not available: %v", err)
			}
			var org string
			if len(sc.Platform.Organizations) > 0 {
				org = sc.Platform.Organizations[0].ID
			}
			e := newEnv(t, sc)
			r := e.pfCall(http.MethodPost, "/v1/integrations", map[string]any{"tenant_id": sc.Tenant.ID, "organization_id": org, "type": "microsoft_365"})
			if r.Status != 201 || r.Body["status"] != c.status || r.Body["reason_code"] != c.reason {
				t.Fatalf("%d %s", r.Status, r.Raw)
			}
		})
	}
}
