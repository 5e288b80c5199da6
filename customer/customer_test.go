package customer_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"itdr-onboard/auth"
	"itdr-onboard/customer"
	"itdr-onboard/m365"
	"itdr-onboard/partner"
	"itdr-onboard/platform"
	"itdr-onboard/sim"
)

// clock is the simulator's and the run's clock: Sleep advances it, so the
// bounded consent back-off runs at once while the simulator sees the time
// pass (its consent propagation).
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
	return nil
}

// world is a partner technician signed in once (real MSAL Go, device code)
// against the partner simulator, with the real clients.
type world struct {
	srv  *sim.PartnerServer
	clk  *clock
	auth *auth.Client
	deps customer.Deps
	plan partner.Plan
}

func newWorld(t *testing.T, sc *sim.PartnerScenario) *world {
	t.Helper()
	clk := &clock{t: time.Now()}
	srv, err := sim.StartPartner(sc, sim.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ep := srv.Endpoints()
	ac, err := auth.New(auth.Options{Endpoints: ep, Tenant: srv.PartnerTenantID(), Env: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	dc, err := ac.StartDeviceCode(ctx)
	if err != nil {
		t.Fatal(err)
	}
	acct, err := ac.AwaitDeviceCode(ctx, dc)
	if err != nil {
		t.Fatal(err)
	}
	hc := ep.HTTPClient()
	pc := partner.NewPartnerCenter(hc, ep.PartnerCenter, func(ctx context.Context) (string, error) { return ac.Token(ctx, ep.PartnerCenterScope()) })
	pf := platform.New(hc, ep.Platform, ep.PlatformAPIKey, ep.PlatformAPISecret)
	plan, err := partner.Discover(ctx, partner.Sources{Graph: m365.NewGraph(hc, ep.Graph, ac.GraphToken), PC: pc, Platform: pf}, acct.Username, acct.TenantID, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	return &world{srv: srv, clk: clk, auth: ac, plan: plan, deps: customer.Deps{
		Endpoints: ep, HTTP: hc, Token: ac.TokenForTenant, Account: acct, PartnerCenter: pc, Platform: pf,
		StateDir: t.TempDir(), Now: clk.Now, Sleep: clk.Sleep,
	}}
}

func (w *world) row(t *testing.T, name string) partner.Row {
	t.Helper()
	for _, r := range w.plan.Rows {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no discovery row %q", name)
	return partner.Row{}
}

// scenario is a partner with one customer per given spec: full roles
// unless roles is set.
type cust struct {
	name   string
	roles  []string
	tenant sim.CustomerTenantSpec
	block  string
}

func scenario(cs ...cust) *sim.PartnerScenario {
	sc := sim.GeneratePartnerScenario(1, 7)
	tmpl := sc.Customers[0]
	sc.Customers = nil
	sc.Platform.Organizations, sc.Platform.Integrations = nil, nil
	full := []string{"Cloud Application Administrator", "Privileged Role Administrator", "Exchange Administrator", "Global Reader"}
	for i, c := range cs {
		roles := c.roles
		if roles == nil {
			roles = full
		}
		dom := strings.ToLower(strings.ReplaceAll(c.name, " ", "")) + ".onmicrosoft.com"
		spec := sim.CustomerSpec{
			TenantID: "0000000" + string(rune('1'+i)) + "-aaaa-4bbb-8ccc-00000000000" + string(rune('1'+i)), Domain: dom, DisplayName: c.name, PartnerCenter: true,
			Tenant: c.tenant, Block: c.block,
			Relationships: []sim.RelationshipSpec{{DisplayName: "ITDR_" + c.name, Status: "active", Roles: roles,
				ActivatedAgo: sim.Duration(90 * 24 * time.Hour), Assignments: []sim.AssignmentSpec{{Group: "GDAP Onboarding", Roles: roles}}}},
		}
		_ = tmpl
		sc.Customers = append(sc.Customers, spec)
		sc.Platform.Organizations = append(sc.Platform.Organizations, sim.OrgSpec{ID: "org_" + string(rune('a'+i)), Name: c.name})
	}
	return sc
}

// customerRequests are the simulator's requests that reached tenant tid.
func customerRequests(w *world, tid string) []sim.RequestRecord {
	var out []sim.RequestRecord
	for _, r := range w.srv.Requests() {
		if r.Tenant == tid {
			out = append(out, r)
		}
	}
	return out
}

func TestBootstrapThenOnboardIsHealthyAnchoredAtTheSystemMailboxWithoutMe(t *testing.T) {
	t.Parallel()
	w := newWorld(t, scenario(
		cust{name: "Contoso"}, // typical: two Exchange roles missing
		cust{name: "Fabrikam", tenant: sim.CustomerTenantPreset(sim.TenantAuditOff)}, // audit logging off
	))
	var mu sync.Mutex
	events := map[string]int{}
	sink := func(e customer.Event) {
		mu.Lock()
		events[e.TenantID]++
		mu.Unlock()
	}
	type res struct {
		o customer.Outcome
		r customer.Receipt
	}
	out := make([]res, 2)
	var wg sync.WaitGroup
	for i, name := range []string{"Contoso", "Fabrikam"} {
		row := w.row(t, name)
		if row.Lane != partner.LaneReady {
			t.Fatalf("%s: discovery lane %s, want ready", name, row.Lane)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			o, r := customer.RunCustomer(context.Background(), w.deps, row, customer.Options{Yes: true}, sink)
			out[i] = res{o, r}
		}()
	}
	wg.Wait()
	for i, name := range []string{"Contoso", "Fabrikam"} {
		o, rec := out[i].o, out[i].r
		if o.Result != customer.ResultHealthy || o.ExitCode != 0 {
			t.Fatalf("%s: %s (exit %d): %s — %s", name, o.Result, o.ExitCode, o.Message, o.Remedy)
		}
		if o.Consent != "created" || o.IntegrationID == "" || o.ChangesMade < 3 {
			t.Fatalf("%s: consent %q, integration %q, %d changes made", name, o.Consent, o.IntegrationID, o.ChangesMade)
		}
		if rec.Path == "" || rec.Journal == "" {
			t.Fatalf("%s: no receipt/journal: %+v", name, rec)
		}
		if !w.srv.Consented(o.TenantID) {
			t.Fatalf("%s: the simulator does not hold the consent", name)
		}
		if events[o.TenantID] < 5 {
			t.Fatalf("%s: %d sink events", name, events[o.TenantID])
		}
		reqs := customerRequests(w, o.TenantID)
		var exo, sets int
		for _, r := range reqs {
			if r.Group == sim.GroupGraph && (strings.HasSuffix(r.Path, "/me") || strings.Contains(r.Path, "/me/")) {
				t.Fatalf("%s: /me sent to the customer tenant: %s %s", name, r.Method, r.Path)
			}
			if r.Group != sim.GroupExchange {
				continue
			}
			exo++
			if !strings.Contains(r.Path, "/adminapi/beta/"+o.TenantID+"/") {
				t.Fatalf("%s: Exchange URL tenant is not the customer: %s", name, r.Path)
			}
			want := "APP:" + sim.SystemMailboxDefault + "@" + o.TenantID
			if r.Cmdlet == "Set-AdminAuditLogConfig" {
				sets++
				want = "UPN:" + sim.SystemMailboxAudit + "@" + strings.ToLower(name) + ".onmicrosoft.com"
			}
			if r.Anchor != want || r.Status != 200 {
				t.Fatalf("%s: %s anchored at %q (status %d), want %q", name, r.Cmdlet, r.Anchor, r.Status, want)
			}
		}
		if exo < 3 {
			t.Fatalf("%s: %d Exchange requests", name, exo)
		}
		if name == "Fabrikam" && sets != 1 {
			t.Fatalf("Fabrikam: %d Set-AdminAuditLogConfig, want 1 (audit was off)", sets)
		}
		// The tenant changed as planned: Organization Management holds
		// every role the platform needs, the platform reads it healthy.
		snap := w.srv.TenantState(o.TenantID).Snapshot()
		for _, role := range sim.PlatformExchangeRoles {
			found := false
			for _, have := range snap.OrganizationManagementRoles {
				found = found || strings.EqualFold(have, role)
			}
			if !found {
				t.Fatalf("%s: Organization Management lacks %s after the run: %v", name, role, snap.OrganizationManagementRoles)
			}
		}
	}
}
