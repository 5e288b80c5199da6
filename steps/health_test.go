package steps

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"itdr-onboard/checks"
	"itdr-onboard/platform"
)

var auditOffIntegration = platform.Integration{ID: "int_1", Status: "unhealthy", ReasonCode: "audit_log_disabled",
	Reason: "Unified audit logging is turned off in the tenant."}

// Issue 16 §6: audit logging declined → said once, offered once, and a
// "no" stops the wait with the remedy and the status command (exit 4):
// no further polling.
func TestHealthAuditOffDeclinedStopsOnceWithRemedy(t *testing.T) {
	t.Parallel()
	e, s := toHealth(t, Options{Org: "org_1"})
	declined := checks.Change{ID: "exo.audit-log/enable", CheckID: "exo.audit-log", Summary: "Turn on unified audit log ingestion",
		Call: "Set-AdminAuditLogConfig -UnifiedAuditLogIngestionEnabled $true"}
	s.DeclinedChanges = []checks.Change{declined}
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	jobs := feed(e, HealthProbed{At: t0, Integration: auditOffIntegration})
	ask, ok := jobs[0].Effect.(Ask)
	if len(jobs) != 1 || !ok || ask.Q.ID != QHealthAudit || !strings.Contains(ask.Q.Prompt, AuditBlocked) ||
		len(ask.Q.Details) != 1 || !strings.Contains(ask.Q.Details[0], declined.Call) {
		t.Fatalf("want the one audit offer, got %#v", effects(jobs))
	}
	if snap := e.Current().Snapshot(s); snap.Status != StatusWaiting || snap.Line != AuditBlocked {
		t.Fatalf("snapshot while asking: %s %q", snap.Status, snap.Line)
	}
	jobs = feed(e, Answered{QuestionID: QHealthAudit, Value: "no"})
	f := e.Failure()
	if len(jobs) != 0 || ExitCode(e) != 4 || f == nil || !strings.Contains(f.Message, AuditBlocked) ||
		!strings.Contains(f.Remedy, "Set-AdminAuditLogConfig") || !strings.Contains(f.Remedy, "itdr-onboard status --tenant") {
		t.Fatalf("jobs %#v code %d failure %+v", effects(jobs), ExitCode(e), f)
	}
	// A late probe of the old attempt changes nothing.
	if jobs := feed(e, HealthProbed{At: t0.Add(time.Minute), Integration: auditOffIntegration}); len(jobs) != 0 {
		t.Fatalf("polled after stopping: %#v", effects(jobs))
	}
}

// Accepting the offer turns audit logging on (receipt written), then the
// wait goes on without asking again while Microsoft takes effect.
func TestHealthAuditOffAcceptedTurnsItOnAndWaits(t *testing.T) {
	t.Parallel()
	e, s := toHealth(t, Options{Org: "org_1", PollBase: 5 * time.Second, PollMax: time.Minute})
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	feed(e, HealthProbed{At: t0, Integration: auditOffIntegration})
	before := len(s.Applied)
	jobs := feed(e, Answered{QuestionID: QHealthAudit, Value: "yes"})
	ac, ok := jobs[0].Effect.(ApplyChange)
	if len(jobs) != 1 || !ok || ac.Change.CheckID != "exo.audit-log" || !strings.Contains(ac.Change.Call, "-UnifiedAuditLogIngestionEnabled $true") {
		t.Fatalf("want the audit change, got %#v", effects(jobs))
	}
	jobs = feed(e, ChangeApplied{Applied: checks.Applied{Change: ac.Change, At: t0.Add(time.Second), RequestID: "r1"}})
	if _, ok := jobs[0].Effect.(WriteEvidence); len(jobs) != 2 || !ok {
		t.Fatalf("after apply: %#v", effects(jobs))
	}
	if _, ok := jobs[1].Effect.(ProbeHealth); !ok || len(s.Applied) != before+1 {
		t.Fatalf("after apply: %#v applied %d", effects(jobs), len(s.Applied))
	}
	feed(e, ReceiptWritten{Path: "/r.json"})
	// The platform still says off: no second question, a true remedy.
	jobs = feed(e, HealthProbed{At: t0.Add(time.Minute), Integration: auditOffIntegration})
	if _, ok := jobs[0].Effect.(ProbeHealth); !ok {
		t.Fatalf("want polling, got %#v", effects(jobs))
	}
	if d := e.Current().Snapshot(s).Detail.(*HealthDetail); !strings.Contains(d.Remedy, "60 minutes") {
		t.Fatalf("remedy %q", d.Remedy)
	}
	jobs = feed(e, HealthProbed{At: t0.Add(2 * time.Minute), Integration: platform.Integration{ID: "int_1", Status: "healthy"}})
	if jobs[len(jobs)-1].Effect != (LoadSummary{}) {
		t.Fatalf("healthy: %#v", effects(jobs))
	}
}

// A platform outage during the health wait ends within OutageBound of the
// first failed read with exit 4 ("mapped, check later"); every retry delay
// is at most ErrorRetryMax.
func TestHealthPlatformOutageEndsWithinBoundExit4(t *testing.T) {
	t.Parallel()
	e, s := toHealth(t, Options{Org: "org_1", PollBase: 5 * time.Second, PollMax: 5 * time.Minute})
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	feed(e, HealthProbed{At: t0, Integration: platform.Integration{ID: "int_1", Status: "pending"}})
	outage := &platform.Error{Status: 503, Code: "unavailable", Call: "GET /v1/integrations/int_1"}
	at := t0.Add(5 * time.Second)
	first := at
	for i := 0; ; i++ {
		if i > 20 {
			t.Fatal("the outage never ended the wait")
		}
		// Each read takes as long as it may (ProbeTimeout).
		at = at.Add(ProbeTimeout)
		jobs := feed(e, HealthProbed{At: at, Err: fmt.Errorf("reading: %w", outage)})
		if e.Finished() {
			break
		}
		p := jobs[0].Effect.(ProbeHealth)
		if p.After > ErrorRetryMax {
			t.Fatalf("retry after %s > %s", p.After, ErrorRetryMax)
		}
		at = at.Add(p.After)
	}
	f := e.Failure()
	if ExitCode(e) != 4 || f == nil || !strings.Contains(f.Message, "did not answer") || !strings.Contains(f.Remedy, "status --tenant") || s.Outcome != "pending" {
		t.Fatalf("code %d failure %+v", ExitCode(e), f)
	}
	if took := at.Sub(first); took > OutageBound {
		t.Fatalf("outage took %s > bound %s", took, OutageBound)
	}

	// A refusal (401) read again and again is not an outage, but the tenant
	// is mapped: the health is unreadable, so the run ends with exit 4
	// (issue 16 §7), naming the key.
	e, s = toHealth(t, Options{Org: "org_1"})
	for i := 0; i < maxProbeErrors && !e.Finished(); i++ {
		feed(e, HealthProbed{At: t0.Add(time.Duration(i) * time.Second), Err: &platform.Error{Status: 401, Code: "unauthorized"}})
	}
	if f := e.Failure(); !e.Finished() || ExitCode(e) != 4 || f == nil || !strings.Contains(f.Message, "refused") ||
		!strings.Contains(f.Remedy, "ITDR_API_KEY") || s.Outcome != "pending" {
		t.Fatalf("refused: finished %v code %d failure %+v", e.Finished(), ExitCode(e), e.Failure())
	}
	// A network error is an outage.
	e, _ = toHealth(t, Options{Org: "org_1"})
	for i := 0; !e.Finished(); i++ {
		feed(e, HealthProbed{At: t0.Add(time.Duration(i) * 20 * time.Second), Err: errors.New("connection refused")})
	}
	if ExitCode(e) != 4 {
		t.Fatalf("network: code %d", ExitCode(e))
	}
}

// Without --wait the wait is bounded by MaxHealthWait (exit 4).
func TestHealthWaitDefaultBound(t *testing.T) {
	t.Parallel()
	e, _ := toHealth(t, Options{Org: "org_1"})
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	jobs := feed(e, HealthProbed{At: t0, Integration: platform.Integration{ID: "int_1", Status: "pending"}})
	if p := jobs[0].Effect.(ProbeHealth); p.After <= 0 {
		t.Fatalf("next %s", p.After)
	}
	feed(e, HealthProbed{At: t0.Add(MaxHealthWait), Integration: platform.Integration{ID: "int_1", Status: "pending"}})
	if ExitCode(e) != 4 || !strings.Contains(e.Failure().Message, "24h0m0s") {
		t.Fatalf("code %d %+v", ExitCode(e), e.Failure())
	}
}

// The ladder in the health step: each poll round looks at the waiting
// rungs 2–4 one after the other, in rung order, then at the platform
// (rung 5); a proof is recorded with its time (and the receipt rewritten);
// a rung that cannot be proven is not looked at again. Rung 1 is proven by
// the earlier steps (the health step is reached only when they passed).
func TestHealthLadderRoundsAndProofs(t *testing.T) {
	e, s := toHealth(t, Options{Org: "org_1", Evidence: true, PollBase: 5 * time.Second, PollMax: time.Minute})
	jobs := healthEnterJobs
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	want := func(jobs []Job, id string, after time.Duration) {
		t.Helper()
		last := jobs[len(jobs)-1].Effect
		pr, ok := last.(ProbeRung)
		if !ok || pr.ID != id || pr.After != after {
			t.Fatalf("want ProbeRung %s after %s, got %#v", id, after, effects(jobs))
		}
	}
	want(jobs, checks.RungAuditing, 0)
	jobs = feed(e, RungProbed{ID: checks.RungAuditing, At: t0, Result: checks.RungResult{State: checks.RungProven, Summary: "on"}})
	if w, ok := jobs[0].Effect.(WriteEvidence); !ok || !w.Ladder[1].Proven() {
		t.Fatalf("a proof rewrites the receipt: %#v", effects(jobs))
	}
	want(jobs, checks.RungEntra, 0)
	jobs = feed(e, RungProbed{ID: checks.RungEntra, At: t0, Result: checks.RungResult{State: checks.RungWaiting, Summary: "not yet"}})
	want(jobs, checks.RungCanary, 0)
	jobs = feed(e, RungProbed{ID: checks.RungCanary, At: t0, Result: checks.RungResult{State: checks.RungCannot, Account: true, Summary: "no role"}})
	if _, ok := jobs[0].Effect.(ProbeHealth); !ok || len(jobs) != 1 {
		t.Fatalf("then the platform: %#v", effects(jobs))
	}
	jobs = feed(e, HealthProbed{At: t0.Add(time.Second), Integration: platform.Integration{ID: "int_1", Status: "pending"}})
	want(jobs, checks.RungEntra, 5*time.Second) // next round: only the waiting rung
	l := e.Current().Snapshot(s).Detail.(*HealthDetail).Ladder
	if !l[0].Proven() || !l[1].Proven() || !l[1].ProvenAt.Equal(t0) || l[2].State != checks.RungWaiting ||
		l[3].State != checks.RungCannot || !l[3].Account || l[4].State != checks.RungWaiting || l[4].Proven() {
		t.Fatalf("ladder %+v", l)
	}
	if line := e.Current().Snapshot(s).Line; strings.Contains(line, "flowing") || !strings.Contains(line, "evidence: rungs 1–2 of 5 proven") {
		t.Fatalf("line %q", line)
	}
	t1 := t0.Add(6 * time.Second)
	jobs = feed(e, RungProbed{ID: checks.RungEntra, At: t1, Result: checks.RungResult{State: checks.RungProven, Summary: "seen"}})
	jobs = feed(e, HealthProbed{At: t1.Add(time.Millisecond), Integration: platform.Integration{ID: "int_1", Status: "healthy"}})
	if jobs[len(jobs)-1].Effect != (LoadSummary{}) {
		t.Fatalf("healthy: %#v", effects(jobs))
	}
	if !s.Ladder[2].ProvenAt.Equal(t1) || !s.Ladder[4].Proven() || s.Ladder[4].ProvenAt.Before(s.Ladder[2].ProvenAt) {
		t.Fatalf("session ladder %+v", s.Ladder)
	}
	// Past its worst case a waiting rung is late and says what to do.
	late := NewLadder()
	setRung(late, checks.RungCanary, t0.Add(25*time.Hour), checks.RungResult{State: checks.RungWaiting}, t0)
	if !late[3].Late || late[3].IfLate == "" {
		t.Fatalf("late %+v", late[3])
	}
}

// The canary is this onboarding's own writes: the Exchange role fixes (by
// cmdlet) and the consent in Entra.
func TestCanaryFromSession(t *testing.T) {
	t.Parallel()
	s := NewSession(Options{})
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	s.Account.Username = "admin@contoso"
	s.Applied = []checks.Applied{
		{Change: checks.Change{CheckID: "exo.role-group", Call: `New-ManagementRoleAssignment -Role "Audit Logs"`}, At: at},
		{Change: checks.Change{CheckID: "exo.audit-log", Call: "Set-AdminAuditLogConfig -UnifiedAuditLogIngestionEnabled $true"}, At: at, NoOp: true},
	}
	s.Consent = ConsentResult{ServicePrincipalID: "sp-1", Created: true}
	s.ConsentAt = at.Add(time.Minute)
	c := CanaryFrom(s)
	if c.Operator != "admin@contoso" || c.ServicePrincipalID != "sp-1" || len(c.Events) != 2 || c.Events[0].Op != "New-ManagementRoleAssignment" ||
		c.Events[1].Service != "graph" || !c.Since.Equal(at) {
		t.Fatalf("canary %+v", c)
	}
}
