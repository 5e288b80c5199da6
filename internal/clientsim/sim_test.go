// Package clientsim_test runs the m365 and platform clients against the
// tenant simulator (the unit tests in m365/ and platform/ use their own
// handlers written from Microsoft's documents and docs/platform-api.md).
package clientsim_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"itdr-onboard/internal/testsim"
	"itdr-onboard/m365"
	"itdr-onboard/platform"
	"itdr-onboard/sim"
)

func start(t *testing.T, name string) *sim.Server {
	return startWith(t, name, nil)
}

func startWith(t *testing.T, name string, edit func(*sim.Scenario)) *sim.Server {
	t.Helper()
	return testsim.Start(t, name, edit)
}

func noSleep(ctx context.Context, d time.Duration) error { return ctx.Err() }

func TestClientsAgainstSimulator(t *testing.T) {
	srv := start(t, "typical")
	ep := srv.Endpoints()
	hc := srv.HTTPClient()
	ctx := context.Background()
	graphTok := srv.IssueToken("https://graph.microsoft.com")
	exoTok := srv.IssueToken("https://outlook.office365.com")

	g := m365.NewGraph(hc, ep.Graph, func(context.Context) (string, error) { return graphTok, nil })
	g.SetRetryPolicy(m365.RetryPolicy{Sleep: noSleep})
	org, err := g.Organization(ctx)
	if err != nil || org.ID != srv.TenantID() || org.InitialDomain() != "contoso.onmicrosoft.com" {
		t.Fatalf("organization %+v %v", org, err)
	}
	me, err := g.Me(ctx)
	if err != nil || me.UserPrincipalName != "admin@contoso.onmicrosoft.com" {
		t.Fatalf("me %+v %v", me, err)
	}
	roles, err := g.MyActiveDirectoryRoles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ga := false
	for _, r := range roles {
		ga = ga || r.RoleTemplateID == "62e90394-69f5-4237-9190-012177145e10"
	}
	if !ga {
		t.Fatalf("no Global Administrator in %+v", roles)
	}
	if _, err := g.MyEligibleRoles(ctx); err != nil {
		t.Fatal(err)
	}
	skus, err := g.SubscribedSkus(ctx)
	if err != nil || len(skus) == 0 {
		t.Fatalf("skus %+v %v", skus, err)
	}
	if n, err := g.CountBillableUsers(ctx); err != nil || n != 4 {
		t.Fatalf("billable %d %v", n, err)
	}
	if reg, total, err := g.MFARegistration(ctx); err != nil || reg != 3 || total != 6 {
		t.Fatalf("mfa %d/%d %v", reg, total, err)
	}

	pc := platform.New(hc, ep.Platform, ep.PlatformAPIKey, ep.PlatformAPISecret)
	pc.SetRetryPolicy(platform.RetryPolicy{Sleep: noSleep})
	app, err := pc.App(ctx)
	if err != nil || app.AppID == "" {
		t.Fatalf("app %+v %v", app, err)
	}
	if sp, err := g.ServicePrincipalByAppID(ctx, app.AppID); err != nil || sp != nil {
		t.Fatalf("app SP should be absent: %+v %v", sp, err)
	}
	sp, err := g.CreateServicePrincipal(ctx, app.AppID)
	if err != nil || sp.ID == "" {
		t.Fatalf("create SP %+v %v", sp, err)
	}
	again, err := g.CreateServicePrincipal(ctx, app.AppID)
	if err != nil || again.ID != sp.ID {
		t.Fatalf("second create should return the same SP: %+v %v", again, err)
	}
	for _, dr := range app.DirectoryRoles {
		ra, err := g.CreateRoleAssignment(ctx, sp.ID, dr.TemplateID)
		if err != nil || ra.ID == "" {
			t.Fatalf("role %s: %+v %v", dr.DisplayName, ra, err)
		}
		ra2, err := g.CreateRoleAssignment(ctx, sp.ID, dr.TemplateID)
		if err != nil || ra2.ID != ra.ID {
			t.Fatalf("role %s twice: %+v %v", dr.DisplayName, ra2, err)
		}
	}
	ras, err := g.RoleAssignments(ctx, sp.ID)
	if err != nil || len(ras) != len(app.DirectoryRoles) {
		t.Fatalf("assignments %+v %v", ras, err)
	}
	for _, p := range app.ApplicationPermissions {
		res, err := g.ServicePrincipalByAppID(ctx, p.ResourceAppID)
		if err != nil || res == nil {
			t.Fatalf("resource %s: %v", p.ResourceAppID, err)
		}
		roleID := ""
		for _, ar := range res.AppRoles {
			if ar.Value == p.Permission {
				roleID = ar.ID
			}
		}
		if roleID == "" {
			t.Fatalf("no app role %s on %s", p.Permission, p.ResourceAppID)
		}
		a, err := g.GrantAppRole(ctx, res.ID, sp.ID, roleID)
		if err != nil || a.ID == "" {
			t.Fatalf("grant %s: %+v %v", p.Permission, a, err)
		}
		if a2, err := g.GrantAppRole(ctx, res.ID, sp.ID, roleID); err != nil || a2.ID != a.ID {
			t.Fatalf("grant twice: %+v %v", a2, err)
		}
	}

	x := m365.NewExchange(hc, ep.Exchange, srv.TenantID(), me.UserPrincipalName, func(context.Context) (string, error) { return exoTok, nil })
	x.SetRetryPolicy(m365.RetryPolicy{Sleep: noSleep})
	oc, err := x.OrganizationConfig(ctx)
	if err != nil || oc.IsDehydrated {
		t.Fatalf("org config %+v %v", oc, err)
	}
	ac, err := x.AdminAuditLogConfig(ctx)
	if err != nil || !ac.UnifiedAuditLogIngestionEnabled {
		t.Fatalf("audit %+v %v", ac, err)
	}
	have, err := x.RoleGroupRoles(ctx, app.ExchangeRoleGroup)
	if err != nil || len(have) != 3 {
		t.Fatalf("role group roles %+v %v", have, err)
	}
	a, err := x.NewManagementRoleAssignment(ctx, "Audit Logs", app.ExchangeRoleGroup)
	if err != nil || a.Role != "Audit Logs" {
		t.Fatalf("new role assignment %+v %v", a, err)
	}
	if _, err := x.NewManagementRoleAssignment(ctx, "Audit Logs", app.ExchangeRoleGroup); err != nil {
		t.Fatalf("second new role assignment: %v", err)
	}
	have, err = x.RoleGroupRoles(ctx, app.ExchangeRoleGroup)
	if err != nil || len(have) != 4 {
		t.Fatalf("role group roles after add %+v %v", have, err)
	}
	if _, err := x.EnableOrganizationCustomization(ctx); !m365.IsAlreadyCustomized(err) {
		t.Fatalf("enable customization on a hydrated tenant: want 'already enabled', got %v", err)
	}

	acct, err := pc.Account(ctx)
	if err != nil || acct.Role != "admin" {
		t.Fatalf("account %+v %v", acct, err)
	}
	orgs, err := pc.AllOrganizations(ctx, "contoso")
	if err != nil || len(orgs) != 1 || orgs[0].ID != "org_contoso" {
		t.Fatalf("orgs %+v %v", orgs, err)
	}
	if in, err := pc.IntegrationForTenant(ctx, srv.TenantID()); err != nil || in != nil {
		t.Fatalf("integration should be absent: %+v %v", in, err)
	}
	in, err := pc.CreateIntegration(ctx, srv.TenantID(), "org_contoso")
	if err != nil || in.ID == "" {
		t.Fatalf("create integration %+v %v", in, err)
	}
	in2, err := pc.CreateIntegration(ctx, srv.TenantID(), "org_contoso")
	if err != nil || in2.ID != in.ID {
		t.Fatalf("create integration twice %+v %v", in2, err)
	}
	if _, err := pc.CreateIntegration(ctx, srv.TenantID(), "org_fabrikam"); !platform.IsTenantAlreadyMapped(err) {
		t.Fatalf("mapping to another org: %v", err)
	}
	got, err := pc.Integration(ctx, in.ID)
	if err != nil || got.TenantID != srv.TenantID() {
		t.Fatalf("integration %+v %v", got, err)
	}
}

// TestFlakySimulatorNoDuplicates drives the writes through injected 429,
// 503, 500 and connection resets; retries must succeed and never create
// anything twice. (The scenario's latency fault is dropped to keep it fast.)
func TestFlakySimulatorNoDuplicates(t *testing.T) {
	srv := startWith(t, "flaky", func(sc *sim.Scenario) {
		sc.Faults = []sim.FaultSpec{
			{Kind: "429", Rate: 0.1, RetryAfter: 1},
			{Kind: "503", Rate: 0.1},
			{Kind: "500", Rate: 0.05},
			{Kind: "reset", Rate: 0.05},
		}
	})
	ep := srv.Endpoints()
	hc := srv.HTTPClient()
	ctx := context.Background()
	graphTok := srv.IssueToken("https://graph.microsoft.com")
	g := m365.NewGraph(hc, ep.Graph, func(context.Context) (string, error) { return graphTok, nil })
	g.SetRetryPolicy(m365.RetryPolicy{Sleep: noSleep, MaxAttempts: 30})
	pc := platform.New(hc, ep.Platform, ep.PlatformAPIKey, ep.PlatformAPISecret)
	pc.SetRetryPolicy(platform.RetryPolicy{Sleep: noSleep, MaxAttempts: 30})

	app, err := pc.App(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := g.CreateServicePrincipal(ctx, app.AppID)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		for _, dr := range app.DirectoryRoles {
			if _, err := g.CreateRoleAssignment(ctx, sp.ID, dr.TemplateID); err != nil {
				t.Fatalf("round %d role %s: %v", i, dr.DisplayName, err)
			}
		}
	}
	ras, err := g.RoleAssignments(ctx, sp.ID)
	if err != nil || len(ras) != len(app.DirectoryRoles) {
		t.Fatalf("assignments %d (want %d) %v", len(ras), len(app.DirectoryRoles), err)
	}
	for i := 0; i < 3; i++ {
		for _, p := range app.ApplicationPermissions {
			res, err := g.ServicePrincipalByAppID(ctx, p.ResourceAppID)
			if err != nil || res == nil {
				t.Fatalf("resource %s: %v", p.ResourceAppID, err)
			}
			for _, ar := range res.AppRoles {
				if ar.Value == p.Permission {
					if _, err := g.GrantAppRole(ctx, res.ID, sp.ID, ar.ID); err != nil {
						t.Fatalf("grant %s: %v", p.Permission, err)
					}
				}
			}
		}
		for _, d := range app.DelegatedPermissions {
			res, err := g.ServicePrincipalByAppID(ctx, d.ResourceAppID)
			if err != nil || res == nil {
				t.Fatalf("resource %s: %v", d.ResourceAppID, err)
			}
			if _, err := g.CreateOAuth2PermissionGrant(ctx, sp.ID, res.ID, strings.Join(d.Scopes, " ")); err != nil {
				t.Fatalf("delegated grant: %v", err)
			}
		}
	}
	if as, err := g.AppRoleAssignments(ctx, sp.ID); err != nil || len(as) != len(app.ApplicationPermissions) {
		t.Fatalf("app role assignments %d (want %d) %v", len(as), len(app.ApplicationPermissions), err)
	}
	if gs, err := g.OAuth2PermissionGrants(ctx, sp.ID); err != nil || len(gs) != len(app.DelegatedPermissions) {
		t.Fatalf("delegated grants %d (want %d) %v", len(gs), len(app.DelegatedPermissions), err)
	}
	orgs, err := pc.AllOrganizations(ctx, "")
	if err != nil || len(orgs) == 0 {
		t.Fatalf("orgs %d %v", len(orgs), err)
	}
	for i := 0; i < 5; i++ {
		if _, err := pc.CreateIntegration(ctx, srv.TenantID(), orgs[0].ID); err != nil {
			t.Fatalf("round %d create integration: %v", i, err)
		}
	}
	faults := 0
	for _, r := range srv.Requests() {
		if r.Fault != "" {
			faults++
		}
	}
	if faults == 0 {
		t.Fatal("the flaky scenario injected no faults; the test proves nothing")
	}
}

func TestDehydratedSimulator(t *testing.T) {
	srv := start(t, "dehydrated")
	ep := srv.Endpoints()
	ctx := context.Background()
	exoTok := srv.IssueToken("https://outlook.office365.com")
	x := m365.NewExchange(srv.HTTPClient(), ep.Exchange, srv.TenantID(), "admin@contoso.onmicrosoft.com", func(context.Context) (string, error) { return exoTok, nil })
	x.SetRetryPolicy(m365.RetryPolicy{Sleep: noSleep})
	oc, err := x.OrganizationConfig(ctx)
	if err != nil || !oc.IsDehydrated {
		t.Fatalf("%+v %v", oc, err)
	}
	_, err = x.NewManagementRoleAssignment(ctx, "Audit Logs", "Organization Management")
	if !m365.IsDehydrated(err) {
		t.Fatalf("want dehydrated error, got %v", err)
	}
	if _, err := x.EnableOrganizationCustomization(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := x.EnableOrganizationCustomization(ctx); !m365.IsAlreadyCustomized(err) {
		t.Fatalf("second enable: want 'already enabled' (found, not made), got %v", err)
	}
	if _, err := x.NewManagementRoleAssignment(ctx, "Audit Logs", "Organization Management"); err != nil {
		t.Fatal(err)
	}
}

// partnerPlatform starts the partner simulator (40 generated customers,
// seed 5) and the real platform client against it.
func partnerPlatform(t *testing.T) (*sim.PartnerScenario, *sim.PartnerServer, *platform.Client) {
	t.Helper()
	sc := sim.GeneratePartnerScenario(40, 5)
	srv, err := sim.StartPartner(sc, sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ep := srv.Endpoints()
	return sc, srv, platform.New(ep.HTTPClient(), ep.Platform, ep.PlatformAPIKey, ep.PlatformAPISecret)
}

// The platform client's list of every integration (one request per
// interval for a whole batch) against the partner simulator's platform.
func TestPlatformAllIntegrationsAgainstPartnerSimulator(t *testing.T) {
	t.Parallel()
	sc, srv, pc := partnerPlatform(t)
	ctx := context.Background()
	all, err := pc.AllIntegrations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(sc.Platform.Integrations) || len(all) == 0 {
		t.Fatalf("%d integrations, the scenario has %d", len(all), len(sc.Platform.Integrations))
	}
	for _, in := range all {
		if in.ID == "" || in.TenantID == "" || in.Status == "" || in.RequestID == "" {
			t.Fatalf("integration %+v lacks a field", in)
		}
	}
	before := len(srv.Requests())
	page, err := pc.Integrations(ctx, []string{platform.StatusHealthy}, "", 1)
	if err != nil || len(page.Integrations) != 1 || page.Pagination.Total != len(all) || page.Pagination.NextPageToken == "" {
		t.Fatalf("page of 1: %+v %v", page, err)
	}
	if n := len(srv.Requests()) - before; n != 1 {
		t.Fatalf("one page cost %d requests", n)
	}
	if p, err := pc.Integrations(ctx, []string{platform.StatusPending}, "", 0); err != nil || len(p.Integrations) != 0 {
		t.Fatalf("pending: %+v %v", p, err)
	}
}

// The platform client's changed_since chain against the partner
// simulator: the first call lists everything, the next ones only what
// changed (one request, an empty answer while nothing does), deletions by
// id; a cursor the platform refuses is an invalid request.
func TestPlatformIntegrationChangesAgainstPartnerSimulator(t *testing.T) {
	t.Parallel()
	sc, srv, pc := partnerPlatform(t)
	ctx := context.Background()
	full, err := pc.IntegrationChanges(ctx, "")
	if err != nil || !full.Full || full.Cursor == "" || len(full.Integrations) != len(sc.Platform.Integrations) || len(full.Integrations) == 0 {
		t.Fatalf("first call: %+v %v", full, err)
	}
	before := len(srv.Requests())
	none, err := pc.IntegrationChanges(ctx, full.Cursor)
	if err != nil || none.Full || len(none.Integrations) != 0 || len(none.Deleted) != 0 || none.Cursor == "" {
		t.Fatalf("nothing changed: %+v %v", none, err)
	}
	if n := len(srv.Requests()) - before; n != 1 {
		t.Fatalf("an unchanged poll cost %d requests", n)
	}
	gone := full.Integrations[0]
	if err := pc.DeleteIntegration(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	ch, err := pc.IntegrationChanges(ctx, none.Cursor)
	if err != nil || len(ch.Deleted) != 1 || ch.Deleted[0].ID != gone.ID || !strings.EqualFold(ch.Deleted[0].TenantID, gone.TenantID) || len(ch.Integrations) != 0 {
		t.Fatalf("after a deletion: %+v %v", ch, err)
	}
	if _, err := pc.IntegrationChanges(ctx, "not-a-cursor"); !platform.IsInvalidRequest(err) {
		t.Fatalf("a refused cursor: %v", err)
	}
}
