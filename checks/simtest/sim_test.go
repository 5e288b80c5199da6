package simtest

import (
	"context"
	"strings"
	"testing"
	"time"

	"itdr-onboard/checks"
	"itdr-onboard/m365"
	"itdr-onboard/platform"
	"itdr-onboard/sim"
)

const upn = "admin@contoso.onmicrosoft.com"

type world struct {
	srv              *sim.Server
	reg              *checks.Registry
	graphTok, exoTok string
}

func start(t *testing.T, scenario string) *world {
	t.Helper()
	sc, err := sim.LoadScenario(scenario)
	if err != nil {
		if strings.Contains(err.Error(), "not a built-in scenario") {
			t.Skipf("scenario %s not available yet: %v", scenario, err)
		}
		t.Fatal(err)
	}
	return startScenario(t, sc)
}

func startScenario(t *testing.T, sc *sim.Scenario) *world {
	t.Helper()
	srv, err := sim.Start(sc, sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ep := srv.Endpoints()
	hc := srv.HTTPClient()
	t.Cleanup(func() {
		// Idle keep-alive connections would hold up the server's graceful
		// shutdown.
		hc.CloseIdleConnections()
		srv.Close()
	})
	graphTok := srv.IssueToken("https://graph.microsoft.com")
	exoTok := srv.IssueToken("https://outlook.office365.com")
	g := m365.NewGraph(hc, ep.Graph, func(context.Context) (string, error) { return graphTok, nil })
	x := m365.NewExchange(hc, ep.Exchange, srv.TenantID(), upn, func(context.Context) (string, error) { return exoTok, nil })
	p := platform.New(hc, ep.Platform, ep.PlatformAPIKey, ep.PlatformAPISecret)
	// Retries do not wait: the simulator's faults are random per request,
	// not timed, so waiting out Retry-After only slows the tests down.
	fast := m365.RetryPolicy{Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }}
	g.SetRetryPolicy(fast)
	x.SetRetryPolicy(fast)
	p.SetRetryPolicy(fast)
	reg, err := checks.NewRegistry(checks.Builtin(checks.Deps{
		Graph: g, Exchange: x, Platform: p, Endpoints: ep, HTTP: hc, Now: time.Now,
	})...)
	if err != nil {
		t.Fatal(err)
	}
	return &world{srv: srv, reg: reg, graphTok: graphTok, exoTok: exoTok}
}

func (w *world) runAll(t *testing.T) map[string]checks.Entry {
	t.Helper()
	out := map[string]checks.Entry{}
	for _, e := range checks.RunAll(context.Background(), w.reg.All(), 30*time.Second, 0) {
		out[e.Check.ID()] = e
	}
	return out
}

// want is the expected outcome of one check, plus text its summary and
// remedy must contain.
type want struct {
	outcome checks.Outcome
	summary []string
	remedy  []string
	changes int // -1: don't care
}

func pass(summary ...string) want { return want{outcome: checks.Pass, summary: summary, changes: 0} }

var typicalSPAbsent = want{outcome: checks.Fail, summary: []string{"is not in the tenant", "Exchange Administrator"}, remedy: []string{"create"}, changes: 3}

func TestScenarios(t *testing.T) {
	cases := []struct {
		scenario string
		want     map[string]want
		// fix applies the plan twice and expects every check to pass after.
		fix bool
	}{
		{"typical", map[string]want{
			// An active subscription in a built-in scenario ends 365 days
			// after the simulator starts (issue 22: nothing dated absolutely).
			checks.IDPlatformSubscription: pass("active until " + time.Now().Add(365*24*time.Hour).UTC().Format("2006-01-02")),
			checks.IDNetworkReachability:  pass("all 4 services answered over HTTPS"),
			checks.IDClockSkew:            pass("local clock is within"),
			checks.IDExchangeLicence:      pass("ENTERPRISEPACK: EXCHANGE_S_ENTERPRISE"),
			checks.IDGlobalAdmin:          pass(upn + " is an active Global Administrator"),
			checks.IDAuditLog:             pass("enabled"),
			checks.IDDehydrated:           pass("IsDehydrated is False"),
			checks.IDRoleGroup: {outcome: checks.Fail, summary: []string{"missing 2 of 5 required roles: Audit Logs, Transport Rules"},
				remedy: []string{"New-ManagementRoleAssignment"}, changes: 2},
			checks.IDPlatformSPRoles: typicalSPAbsent,
		}, true},
		{"ready", map[string]want{
			checks.IDPlatformSubscription: pass(),
			checks.IDExchangeLicence:      pass(),
			checks.IDGlobalAdmin:          pass(),
			checks.IDAuditLog:             pass(),
			checks.IDDehydrated:           pass(),
			checks.IDRoleGroup:            pass("holds all 5 required roles"),
			checks.IDPlatformSPRoles:      pass("holds every required directory role"),
		}, true},
		{"no-exchange-licence", map[string]want{
			checks.IDExchangeLicence: {outcome: checks.Fail, summary: []string{"no Exchange Online licence"}, remedy: []string{"Exchange Online"}, changes: 0},
			checks.IDGlobalAdmin:     pass(),
		}, false},
		{"not-global-admin", map[string]want{
			checks.IDGlobalAdmin: {outcome: checks.Fail, summary: []string{"is not a Global Administrator"}, remedy: []string{"Global Administrator"}, changes: 0},
		}, false},
		{"pim-eligible", map[string]want{
			checks.IDGlobalAdmin: {outcome: checks.Fail, summary: []string{"Global Administrator is eligible in PIM but not active"},
				remedy: []string{"activate the role in PIM (" + checks.PIMActivationURL + "), then retry"}, changes: 0},
		}, false},
		{"audit-disabled", map[string]want{
			checks.IDGlobalAdmin: pass(),
			checks.IDAuditLog: {outcome: checks.Fail, summary: []string{"disabled"},
				remedy: []string{"Set-AdminAuditLogConfig -UnifiedAuditLogIngestionEnabled $true"}, changes: 1},
		}, true},
		{"dehydrated", map[string]want{
			checks.IDGlobalAdmin: pass(),
			checks.IDDehydrated:  {outcome: checks.Fail, summary: []string{"dehydrated"}, remedy: []string{"Enable-OrganizationCustomization"}, changes: 1},
		}, true},
		{"roles-missing-all", map[string]want{
			checks.IDGlobalAdmin: pass(),
			checks.IDRoleGroup: {outcome: checks.Fail, summary: []string{"missing 5 of 5 required roles"},
				remedy: []string{"New-ManagementRoleAssignment"}, changes: 5},
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.scenario, func(t *testing.T) {
			t.Parallel()
			w := start(t, tc.scenario)
			got := w.runAll(t)
			for id, wt := range tc.want {
				e, ok := got[id]
				if !ok {
					t.Errorf("%s: not run", id)
					continue
				}
				r := e.Result
				if r.Outcome != wt.outcome {
					t.Errorf("%s: outcome %s, want %s (summary %q, err %v)", id, r.Outcome, wt.outcome, r.Summary, r.Err)
					continue
				}
				for _, s := range wt.summary {
					if !strings.Contains(r.Summary, s) {
						t.Errorf("%s: summary %q lacks %q", id, r.Summary, s)
					}
				}
				for _, s := range wt.remedy {
					if !strings.Contains(r.Remedy, s) {
						t.Errorf("%s: remedy %q lacks %q", id, r.Remedy, s)
					}
				}
				if wt.changes >= 0 && len(r.Changes) != wt.changes {
					t.Errorf("%s: %d changes, want %d: %+v", id, len(r.Changes), wt.changes, r.Changes)
				}
			}
			// Nothing is ever green with an error attached.
			for id, e := range got {
				if e.Result.Outcome == checks.Pass && e.Result.Err != nil {
					t.Errorf("%s: pass with error %v", id, e.Result.Err)
				}
			}
			if !tc.fix {
				return
			}
			applyTwice(t, w, got)
		})
	}
}

// applyTwice applies the whole plan, then again: the second round must be
// all no-ops and leave the simulator's change log untouched; afterwards
// every fixable check passes.
func applyTwice(t *testing.T, w *world, got map[string]checks.Entry) {
	t.Helper()
	ctx := context.Background()
	var entries []checks.Entry
	for _, c := range w.reg.All() {
		entries = append(entries, got[c.ID()])
	}
	plan := checks.PlanOf(entries)
	before := len(w.srv.State().Changes())
	for _, ch := range plan {
		c, _ := w.reg.Get(ch.CheckID)
		a, err := checks.ApplySafe(ctx, c, ch)
		if err != nil {
			t.Fatalf("apply %s: %v", ch.ID, err)
		}
		if a.NoOp {
			t.Errorf("first apply of %s was a no-op", ch.ID)
		}
	}
	afterFirst := len(w.srv.State().Changes())
	if afterFirst-before < len(plan) {
		t.Errorf("plan of %d changes made only %d writes", len(plan), afterFirst-before)
	}
	for _, ch := range plan {
		c, _ := w.reg.Get(ch.CheckID)
		a, err := checks.ApplySafe(ctx, c, ch)
		if err != nil {
			t.Fatalf("second apply %s: %v", ch.ID, err)
		}
		if !a.NoOp {
			t.Errorf("second apply of %s was not a no-op", ch.ID)
		}
	}
	if n := len(w.srv.State().Changes()); n != afterFirst {
		t.Errorf("second apply changed the tenant: %d changes after the first round, %d after the second", afterFirst, n)
	}
	for _, ch := range plan {
		c, _ := w.reg.Get(ch.CheckID)
		if r := checks.RunSafe(ctx, c, 30*time.Second); r.Outcome != checks.Pass {
			t.Errorf("%s after fixing: %s %q (err %v)", c.ID(), r.Outcome, r.Summary, r.Err)
		}
	}
	snap := w.srv.State().Snapshot()
	if !snap.UnifiedAuditLogIngestionEnabled || snap.Dehydrated || len(snap.OrganizationManagementRoles) < 5 {
		t.Errorf("snapshot after fixing: %+v", snap)
	}
}
