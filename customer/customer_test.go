package customer_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
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
	"itdr-onboard/steps"
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

func TestNotConsentedBeforeTheBootstrapThenAFreshTokenAfterTheBoundedWait(t *testing.T) {
	t.Parallel()
	sc := scenario(cust{name: "Northwind", tenant: sim.CustomerTenantPreset(sim.TenantReady)})
	// A consent takes 12 s to reach the token service (65001 meanwhile).
	sc.ConsentPropagation = sim.Duration(12 * time.Second)
	w := newWorld(t, sc)
	row := w.row(t, "Northwind")
	// Before the bootstrap: the partner's sign-in gives no token there.
	_, err := w.auth.TokenForTenant(context.Background(), w.deps.Endpoints.GraphScope(), row.TenantID)
	var ae *auth.Error
	if !errors.As(err, &ae) || ae.Code != 65001 {
		t.Fatalf("customer token before the consent: %v, want AADSTS65001", err)
	}
	start := w.clk.Now()
	o, rec := customer.RunCustomer(context.Background(), w.deps, row, customer.Options{Yes: true}, nil)
	if o.Result != customer.ResultHealthy || o.Consent != "created" {
		t.Fatalf("%s (consent %q): %s — %s", o.Result, o.Consent, o.Message, o.Remedy)
	}
	// 65001 right after the consent was waited out: 5 s, then 10 s, then
	// the token (the simulated clock moved only by the back-off).
	var tokens, refused int
	for _, r := range customerRequests(w, row.TenantID) {
		if strings.HasSuffix(r.Path, "/oauth2/v2.0/token") {
			tokens++
			if r.Status != 200 {
				refused++
			}
		}
	}
	if refused != 3 || w.clk.Now().Sub(start) < 15*time.Second || w.clk.Now().Sub(start) > 20*time.Second {
		t.Fatalf("%d token requests, %d refused, back-off %s: want 65001 before the consent and twice after it (5 s + 10 s)", tokens, refused, w.clk.Now().Sub(start))
	}
	// A second run finds the consent in place: recorded as found, once.
	o2, _ := customer.RunCustomer(context.Background(), w.deps, row, customer.Options{Yes: true}, nil)
	if o2.Result != customer.ResultHealthy || o2.Consent != "already-existed" {
		t.Fatalf("second run: %s, consent %q: %s", o2.Result, o2.Consent, o2.Message)
	}
	journal, err := os.ReadFile(rec.Journal)
	if err != nil {
		t.Fatal(err)
	}
	var applied, found int
	for _, l := range strings.Split(string(journal), "\n") {
		if !strings.Contains(l, steps.BootstrapChangeCheck) {
			continue
		}
		switch {
		case strings.Contains(l, `"status":"applied"`):
			applied++
		case strings.Contains(l, `"status":"found"`):
			found++
		}
	}
	if applied != 1 || found != 1 {
		t.Fatalf("journal: the consent applied %d and found %d times, want 1 and 1:\n%s", applied, found, journal)
	}
}

func TestAMissingRoleIsHandedOffAndItsStepsNeverSent(t *testing.T) {
	t.Parallel()
	w := newWorld(t, scenario(
		cust{name: "NoExa", roles: []string{"Cloud Application Administrator", "Privileged Role Administrator", "Global Reader"}},
		cust{name: "NoPra", roles: []string{"Cloud Application Administrator", "Exchange Administrator", "Global Reader"}},
	))
	// Without Exchange Administrator: the Graph side is onboarded and
	// mapped; the Exchange steps are handed off and never sent.
	row := w.row(t, "NoExa")
	if row.Lane != partner.LanePartial {
		t.Fatalf("NoExa: lane %s, want partial", row.Lane)
	}
	o, _ := customer.RunCustomer(context.Background(), w.deps, row, customer.Options{Yes: true}, nil)
	if o.Result != customer.ResultHandedOff || o.ExitCode != 3 || o.IntegrationID == "" {
		t.Fatalf("NoExa: %s exit %d integration %q: %s", o.Result, o.ExitCode, o.IntegrationID, o.Message)
	}
	if len(o.HandOff) != 1 || !strings.Contains(o.HandOff[0].Reason, "Exchange Administrator") || len(o.HandOff[0].Steps) == 0 {
		t.Fatalf("NoExa: hand-off %+v", o.HandOff)
	}
	for _, r := range customerRequests(w, row.TenantID) {
		if r.Group == sim.GroupExchange {
			t.Fatalf("NoExa: an Exchange request was sent without Exchange Administrator: %s %s", r.Cmdlet, r.Path)
		}
	}
	// Without Privileged Role Administrator: nothing the platform needs can
	// be granted; the run stops before the mapping, handing it off.
	row = w.row(t, "NoPra")
	before := len(w.srv.Requests())
	o, _ = customer.RunCustomer(context.Background(), w.deps, row, customer.Options{Yes: true}, nil)
	if o.Result != customer.ResultHandedOff || o.IntegrationID != "" {
		t.Fatalf("NoPra: %s integration %q: %s", o.Result, o.IntegrationID, o.Message)
	}
	if !strings.Contains(o.Message, "Privileged Role Administrator") {
		t.Fatalf("NoPra: message %q does not name the missing role", o.Message)
	}
	if h := o.HandOff; len(h) != 1 || h[0].LinkKind != "admin-consent" || !strings.Contains(h[0].Link, row.TenantID+"/adminconsent") {
		t.Fatalf("NoPra: hand-off link %+v, want the platform's admin-consent URL for the tenant", h)
	}
	for _, r := range customerRequests(w, row.TenantID) {
		if r.Method == "POST" && strings.Contains(r.Path, "/roleManagement/directory/roleAssignments") {
			t.Fatalf("NoPra: a directory role assignment was sent: %s", r.Path)
		}
	}
	for _, r := range w.srv.Requests()[before:] {
		if r.Method == "POST" && (r.Path == "/platform/v1/integrations" || strings.Contains(r.Path, "/appRoleAssignedTo")) {
			t.Fatalf("NoPra: %s %s sent without Privileged Role Administrator", r.Method, r.Path)
		}
	}
}

func TestTokenFailuresAfterTheConsentLandInTheirLanes(t *testing.T) {
	t.Parallel()
	w := newWorld(t, scenario(
		cust{name: "Blocked", block: "conditional-access"},
		cust{name: "NoMail", block: "no-exchange"},
	))
	o, _ := customer.RunCustomer(context.Background(), w.deps, w.row(t, "Blocked"), customer.Options{Yes: true}, nil)
	if o.Result != customer.ResultHandedOff || o.Lane != partner.LaneCABlocked || o.Consent != "created" || !strings.Contains(o.Remedy, "Conditional Access") {
		t.Fatalf("Blocked: %s lane %s consent %q: %s — %s", o.Result, o.Lane, o.Consent, o.Message, o.Remedy)
	}
	// No Exchange Online in the tenant (650052, no licence): the Exchange
	// steps are handed off, and the licence prerequisite stops the run
	// before any change but the consent, naming what the customer must do.
	row := w.row(t, "NoMail")
	o, _ = customer.RunCustomer(context.Background(), w.deps, row, customer.Options{Yes: true}, nil)
	if o.Result != customer.ResultHandedOff || o.Lane != partner.LanePartial || len(o.HandOff) != 2 ||
		!strings.Contains(o.HandOff[0].Reason, "650052") || !strings.Contains(o.HandOff[1].CustomerAction, "Exchange Online") ||
		o.HandOff[1].Who != "customer" || o.ChangesMade != 1 {
		t.Fatalf("NoMail: %s lane %s, %d changes, %+v: %s", o.Result, o.Lane, o.ChangesMade, o.HandOff, o.Message)
	}
	for _, r := range customerRequests(w, row.TenantID) {
		if r.Group == sim.GroupExchange {
			t.Fatalf("NoMail: Exchange request sent: %s", r.Cmdlet)
		}
	}
}

func TestDryRunSendsNoConsent(t *testing.T) {
	t.Parallel()
	w := newWorld(t, scenario(cust{name: "Litware"}))
	row := w.row(t, "Litware")
	o, rec := customer.RunCustomer(context.Background(), w.deps, row, customer.Options{Yes: true, DryRun: true}, nil)
	if o.Result != customer.ResultDryRun || rec.Path != "" {
		t.Fatalf("%s %+v: %s", o.Result, rec, o.Message)
	}
	if w.srv.Consented(row.TenantID) {
		t.Fatal("a dry run consented the app")
	}
	for _, r := range w.srv.Requests() {
		if strings.Contains(r.Path, "applicationconsents") || r.Tenant == row.TenantID {
			t.Fatalf("a dry run sent %s %s", r.Method, r.Path)
		}
	}
	if _, err := os.Stat(filepath.Join(w.deps.StateDir, "tenants")); err == nil {
		t.Fatal("a dry run wrote to the state dir")
	}
}

// cutConsenter sends the consent, then loses the answer: the run is
// interrupted (ctrl+c, a dropped connection) after the request went out.
type cutConsenter struct {
	inner  partner.Consenter
	cancel context.CancelFunc
}

func (c cutConsenter) Consent(ctx context.Context, tenantID, appID, name string, grants []partner.Grant) (bool, error) {
	if _, err := c.inner.Consent(ctx, tenantID, appID, name, grants); err != nil {
		return false, err
	}
	c.cancel()
	return false, context.Canceled
}

func TestAConsentWhoseAnswerWasLostIsSettledByAReadAndRecordedOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t, scenario(cust{name: "Tailspin", tenant: sim.CustomerTenantPreset(sim.TenantReady)}))
	row := w.row(t, "Tailspin")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	deps := w.deps
	deps.PartnerCenter = cutConsenter{inner: w.deps.PartnerCenter, cancel: cancel}
	o, rec := customer.RunCustomer(ctx, deps, row, customer.Options{Yes: true}, nil)
	if o.Result != customer.ResultStopped || o.ExitCode != 130 || !w.srv.Consented(row.TenantID) {
		t.Fatalf("interrupted run: %s exit %d (consented %v): %s", o.Result, o.ExitCode, w.srv.Consented(row.TenantID), o.Message)
	}
	// The run again: the consent is found, everything else done once.
	o, _ = customer.RunCustomer(context.Background(), w.deps, row, customer.Options{Yes: true}, nil)
	if o.Result != customer.ResultHealthy || o.Consent != "already-existed" {
		t.Fatalf("second run: %s consent %q: %s", o.Result, o.Consent, o.Message)
	}
	b, err := os.ReadFile(rec.Journal)
	if err != nil {
		t.Fatal(err)
	}
	var applied []steps.JournalEntry
	found := 0
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var e steps.JournalEntry
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("journal line %q: %v", l, err)
		}
		if e.Change.CheckID != steps.BootstrapChangeCheck {
			continue
		}
		switch e.Status {
		case steps.JournalApplied:
			applied = append(applied, e)
		case steps.JournalFound:
			found++
		}
	}
	// Settled by a read (a customer token is issued): applied by the
	// interrupted run, once; the second run found it.
	if len(applied) != 1 || !strings.Contains(applied[0].Note, "interrupted") || found != 1 {
		t.Fatalf("journal: %d applied %+v, %d found:\n%s", len(applied), applied, found, b)
	}
}
