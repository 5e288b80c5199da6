package steps

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"itdr-onboard/auth"
	"itdr-onboard/checks"
	"itdr-onboard/platform"
)

var testInfos = []CheckInfo{
	{ID: "platform.subscription", Title: "Platform", Step: checks.StepPrereqs, Phase: checks.BeforeSignIn, Severity: checks.Required},
	{ID: "graph.exchange-licence", Title: "Licence", Step: checks.StepPrereqs, Phase: checks.Tenant, Severity: checks.Required},
	{ID: "exo.audit-log", Title: "Audit", Step: checks.StepPrereqs, Phase: checks.Tenant, Severity: checks.Required},
	{ID: "exo.role-group", Title: "Role group", Step: checks.StepRoles, Phase: checks.Tenant, Severity: checks.Required},
}

func effects(jobs []Job) []Effect {
	out := make([]Effect, 0, len(jobs))
	for _, j := range jobs {
		out = append(out, j.Effect)
	}
	return out
}

func pass(id string) CheckDone {
	return CheckDone{ID: id, Result: checks.Result{Outcome: checks.Pass, Summary: id + " ok"}}
}

// feed hands an event to the current step's live attempt.
func feed(e *Engine, ev Event) []Job {
	return e.Handle(Outcome{Step: e.Current().ID(), Attempt: e.Attempt(e.Current().ID()), Event: ev})
}

// feedTo hands an event to a given step's live attempt (a paused step's
// background work).
func feedTo(e *Engine, id ID, ev Event) []Job {
	return e.Handle(Outcome{Step: id, Attempt: e.Attempt(id), Event: ev})
}

// applyAll answers each ApplyChange the engine asks for, one at a time, as
// done (request id "r-<change id>"). It returns the change ids in the order
// asked and the jobs that followed the last one.
// applyAll answers every wave of ApplyChange jobs (a wave is applied side
// by side: the next one comes when all of it has answered).
func applyAll(e *Engine, jobs []Job) ([]string, []Job) {
	var applied []string
	for len(jobs) > 0 {
		var wave []ApplyChange
		for _, j := range jobs {
			if ac, ok := j.Effect.(ApplyChange); ok {
				wave = append(wave, ac)
			}
		}
		if len(wave) == 0 || len(wave) != len(jobs) {
			break
		}
		for _, ac := range wave {
			applied = append(applied, ac.Change.ID)
			jobs = feed(e, ChangeApplied{Applied: checks.Applied{Change: ac.Change, RequestID: "r-" + ac.Change.ID}})
		}
	}
	return applied, jobs
}

func signIn(t *testing.T, e *Engine) {
	t.Helper()
	if e.Session().Opt.Org != "" {
		// The early --org lookup fails: the mapping step looks it up again
		// (these flows test the mapping step's own lookup).
		feedTo(e, Prereqs, OrgsFound{Err: errors.New("platform unavailable")})
	}
	jobs := feed(e, DeviceCodeIssued{Code: auth.DeviceCode{UserCode: "ABCD-EFGH", VerificationURL: "https://x/devicelogin"}})
	if _, ok := jobs[0].Effect.(AwaitDeviceCode); !ok {
		t.Fatalf("after code: %#v", effects(jobs))
	}
	jobs = feed(e, SignedIn{Account: auth.Account{Username: "admin@contoso", TenantID: "tid-1"}})
	// The first reads after sign-in start every later check that needs
	// only the token: the tenant prerequisites and the role checks.
	want := []Effect{LoadTenant{}}
	if e.Flow() == Onboard.Name {
		want = []Effect{LoadTenant{Prefetch: tokenChecks(testInfos)}}
	}
	if !reflect.DeepEqual(effects(jobs), want) {
		t.Fatalf("after sign-in: %#v", effects(jobs))
	}
}

func TestPrereqsRunDuringSignInThenResume(t *testing.T) {
	e, s := New(Options{AuthMethod: auth.MethodDevice}, testInfos)
	jobs := e.Start()
	// The device code is asked for at once, beside the platform checks.
	if !reflect.DeepEqual(effects(jobs), []Effect{RunCheck{ID: "platform.subscription"}, StartDeviceCode{}}) {
		t.Fatalf("start: %#v", effects(jobs))
	}
	if jobs[0].Step != Prereqs || jobs[1].Step != SignIn {
		t.Fatalf("job steps %s %s", jobs[0].Step, jobs[1].Step)
	}
	if e.Current().ID() != SignIn || e.steps[0].Status() != StatusPaused {
		t.Fatalf("want sign-in with prereqs paused, got %s / %s", e.Current().ID(), e.steps[0].Status())
	}
	feedTo(e, Prereqs, pass("platform.subscription"))
	if e.Current().ID() != SignIn || e.steps[0].Status() != StatusPaused {
		t.Fatalf("a passing background check must not move the wizard: %s", e.Current().ID())
	}
	signIn(t, e)
	jobs = feed(e, TenantLoaded{})
	if e.Current().ID() != Prereqs {
		t.Fatalf("prereqs should resume after sign-in, current %s", e.Current().ID())
	}
	want := []Effect{RunCheck{ID: "graph.exchange-licence"}, RunCheck{ID: "exo.audit-log"}, FindIntegration{}}
	if !reflect.DeepEqual(effects(jobs), want) {
		t.Fatalf("resume: %#v", effects(jobs))
	}
	if !s.SignedIn || s.TenantID != "tid-1" {
		t.Fatalf("session: %+v", s)
	}
}

func TestSignInBeforeBackgroundChecksFinish(t *testing.T) {
	e, _ := New(Options{AuthMethod: auth.MethodDevice}, testInfos)
	e.Start()
	signIn(t, e)
	feed(e, TenantLoaded{})
	feed(e, pass("graph.exchange-licence"))
	feed(e, pass("exo.audit-log"))
	feed(e, IntegrationFound{})
	if e.Current().ID() != Prereqs || e.Current().Status() != StatusRunning {
		t.Fatalf("must wait for the platform check: %s %s", e.Current().ID(), e.Current().Status())
	}
	feed(e, pass("platform.subscription"))
	if e.Current().ID() != Roles {
		t.Fatalf("at %s", e.Current().ID())
	}
}

func TestBackgroundFailureStopsSignIn(t *testing.T) {
	e, _ := New(Options{AuthMethod: auth.MethodDevice}, testInfos)
	e.Start()
	feed(e, DeviceCodeIssued{Code: auth.DeviceCode{UserCode: "X"}})
	signInAttempt := e.Attempt(SignIn)
	feedTo(e, Prereqs, CheckDone{ID: "platform.subscription", Result: checks.Result{Outcome: checks.Fail, Summary: "expired", Remedy: "renew"}})
	f := e.Failure()
	if e.Current().ID() != Prereqs || f == nil || ExitCode(e) != 3 || !strings.Contains(f.Remedy, "renew") {
		t.Fatalf("at %s failure %+v", e.Current().ID(), f)
	}
	// The sign-in still running is now stale.
	if jobs := e.Handle(Outcome{Step: SignIn, Attempt: signInAttempt, Event: SignedIn{}}); jobs != nil {
		t.Fatal("stale sign-in outcome produced jobs")
	}
	// Retry runs the platform check again and a fresh sign-in.
	jobs := e.Retry()
	if !reflect.DeepEqual(effects(jobs), []Effect{RunCheck{ID: "platform.subscription"}, StartDeviceCode{}}) {
		t.Fatalf("retry: %#v", effects(jobs))
	}
}

func TestStaleOutcomesAreDropped(t *testing.T) {
	e, s := New(Options{AuthMethod: auth.MethodDevice}, testInfos)
	e.Start()
	old := e.Attempt(Prereqs)
	feedTo(e, Prereqs, CheckDone{ID: "platform.subscription", Result: checks.Result{Outcome: checks.Fail, Summary: "expired"}})
	if e.Current().Status() != StatusFailed || ExitCode(e) != 3 {
		t.Fatalf("want failed prereqs exit 3, got %s %d", e.Current().Status(), ExitCode(e))
	}
	e.Retry()
	if e.Attempt(Prereqs) != old+1 {
		t.Fatal("retry must bump the attempt")
	}
	// A late result of the first attempt must not count.
	if jobs := e.Handle(Outcome{Step: Prereqs, Attempt: old, Event: pass("platform.subscription")}); jobs != nil {
		t.Fatalf("stale outcome produced jobs: %#v", jobs)
	}
	if s.Results["platform.subscription"].Outcome != checks.Fail {
		t.Fatal("stale outcome changed state")
	}
	feedTo(e, Prereqs, pass("platform.subscription"))
	if e.Current().ID() != SignIn || e.Failure() != nil {
		t.Fatalf("fresh outcome: at %s", e.Current().ID())
	}
}

func TestBlockingPrereqNamesRemedy(t *testing.T) {
	e, _ := New(Options{AuthMethod: auth.MethodDevice}, testInfos)
	e.Start()
	feedTo(e, Prereqs, pass("platform.subscription"))
	signIn(t, e)
	feed(e, TenantLoaded{})
	feed(e, IntegrationFound{})
	feed(e, CheckDone{ID: "graph.exchange-licence", Result: checks.Result{Outcome: checks.Fail, Summary: "only EXCHANGE_S_FOUNDATION", Remedy: "buy a licence"}})
	// A fixable failure does not block.
	feed(e, CheckDone{ID: "exo.audit-log", Result: checks.Result{Outcome: checks.Fail, Summary: "off",
		Changes: []checks.Change{{ID: "audit", CheckID: "exo.audit-log", Order: 30}}}})
	f := e.Failure()
	if f == nil || f.Kind != FailStopped || !strings.Contains(f.Message, "Licence") || strings.Contains(f.Message, "Audit") || !strings.Contains(f.Remedy, "buy a licence") {
		t.Fatalf("failure: %+v", f)
	}
}

// toRoles walks a session to the role-fix step with the audit change planned.
func toRoles(t *testing.T, opt Options) (*Engine, *Session, []Job) {
	t.Helper()
	opt.AuthMethod = auth.MethodDevice
	e, s := New(opt, testInfos)
	e.Start()
	feedTo(e, Prereqs, pass("platform.subscription"))
	signIn(t, e)
	feed(e, TenantLoaded{})
	feed(e, IntegrationFound{})
	feed(e, pass("graph.exchange-licence"))
	jobs := feed(e, CheckDone{ID: "exo.audit-log", Result: checks.Result{Outcome: checks.Fail, Summary: "off",
		Changes: []checks.Change{{ID: "audit", CheckID: "exo.audit-log", Order: 30, Summary: "Turn on audit"}}}})
	if e.Current().ID() != Roles {
		t.Fatalf("at %s", e.Current().ID())
	}
	jobs = feed(e, CheckDone{ID: "exo.role-group", Result: checks.Result{Outcome: checks.Fail, Summary: "2 missing",
		Changes: []checks.Change{
			{ID: "rg/Transport Rules", CheckID: "exo.role-group", Order: 10, Summary: "Add Transport Rules"},
			{ID: "rg/Audit Logs", CheckID: "exo.role-group", Order: 10, Summary: "Add Audit Logs"},
		}}})
	return e, s, jobs
}

func TestRolePlanAskApplyVerifyReceipt(t *testing.T) {
	e, s, jobs := toRoles(t, Options{})
	ask, ok := jobs[0].Effect.(Ask)
	if !ok || ask.Q.ID != QConfirmPlan || ask.Q.Flag != "--yes" || len(ask.Q.Details) != 2 {
		t.Fatalf("want plan question, got %#v", effects(jobs))
	}
	jobs = feed(e, Answered{QuestionID: QConfirmPlan, Value: "yes"})
	if a, ok := jobs[0].Effect.(Ask); !ok || a.Q.ID != QConfirmAudit {
		t.Fatalf("want audit question, got %#v", effects(jobs))
	}
	jobs = feed(e, Answered{QuestionID: QConfirmAudit, Value: "yes"})
	// Dependency order: Order 10 (by id) before Order 30.
	applied, jobs := applyAll(e, jobs)
	if want := []string{"rg/Audit Logs", "rg/Transport Rules", "audit"}; !reflect.DeepEqual(applied, want) {
		t.Fatalf("applied %v, want %v", applied, want)
	}
	// Verify: the touched checks are re-run.
	want := []Effect{RunCheck{ID: "exo.audit-log", Verify: true}, RunCheck{ID: "exo.role-group", Verify: true}} // read-backs: fresh reads
	if !reflect.DeepEqual(effects(jobs), want) {
		t.Fatalf("verify: %#v", effects(jobs))
	}
	feed(e, pass("exo.audit-log"))
	jobs = feed(e, pass("exo.role-group"))
	if !reflect.DeepEqual(effects(jobs), []Effect{WriteReceipt{}}) {
		t.Fatalf("receipt: %#v", effects(jobs))
	}
	jobs = feed(e, ReceiptWritten{Path: "/r.json", AuditPath: "/a.jsonl"})
	if e.Current().ID() != Mapping || s.ReceiptPath != "/r.json" || len(s.Applied) != 3 {
		t.Fatalf("at %s receipt %q applied %d", e.Current().ID(), s.ReceiptPath, len(s.Applied))
	}
	if !reflect.DeepEqual(effects(jobs), []Effect{FindOrgs{Query: ""}}) {
		t.Fatalf("mapping enter: %#v", effects(jobs))
	}
}

func TestDeclinedPlanStops(t *testing.T) {
	e, s, _ := toRoles(t, Options{})
	feed(e, Answered{QuestionID: QConfirmPlan, Value: "no"})
	if f := e.Failure(); f == nil || f.Kind != FailStopped || ExitCode(e) != 3 || !s.Declined {
		t.Fatalf("declined: %+v", f)
	}
}

func TestDeclinedAuditSkipsOnlyAudit(t *testing.T) {
	e, _, _ := toRoles(t, Options{})
	feed(e, Answered{QuestionID: QConfirmPlan, Value: "yes"})
	jobs := feed(e, Answered{QuestionID: QConfirmAudit, Value: "no"})
	applied, _ := applyAll(e, jobs)
	if len(applied) != 2 || applied[0] == "audit" || applied[1] == "audit" {
		t.Fatalf("applied %v", applied)
	}
}

func TestDryRunStopsAfterPlan(t *testing.T) {
	// The role plan is not applied; the mapping step reads what consent and
	// the mapping would change, adds it to the plan, and the run ends.
	e, s, jobs := toRoles(t, Options{DryRun: true})
	if !reflect.DeepEqual(effects(jobs), []Effect{PlanChanges{}}) || e.Finished() || len(s.Plan) != 3 {
		t.Fatalf("dry run: jobs %#v finished %v plan %d", effects(jobs), e.Finished(), len(s.Plan))
	}
	jobs = feed(e, ChangesPlanned{Changes: []checks.Change{{ID: changeGrantPrefix + "x", CheckID: ConsentChangeCheck}, mapChange(platform.Organization{})}})
	if len(jobs) != 0 || !e.Finished() || ExitCode(e) != 0 || s.Outcome != "dry-run" || len(s.Plan) != 5 {
		t.Fatalf("dry run: jobs %#v finished %v code %d outcome %q plan %d", effects(jobs), e.Finished(), ExitCode(e), s.Outcome, len(s.Plan))
	}
}

// TestDryRunEngineNeverIssuesAWrite: whatever a step asks for, the engine
// ends a dry run before its first write effect.
func TestDryRunEngineNeverIssuesAWrite(t *testing.T) {
	for _, w := range []Effect{ApplyChange{}, Consent{}, AwaitConsent{}, Map{}, WriteReceipt{}} {
		s := NewSession(Options{DryRun: true})
		st := &scriptStep{id: Mapping, enter: []Effect{RunCheck{ID: "a"}, w}}
		e := NewEngine(s, st)
		if jobs := e.Start(); len(jobs) != 0 || !e.Finished() || ExitCode(e) != 0 || s.Outcome != "dry-run" {
			t.Errorf("%T: jobs %#v finished %v outcome %q", w, effects(jobs), e.Finished(), s.Outcome)
		}
		s = NewSession(Options{})
		e = NewEngine(s, &scriptStep{id: Mapping, enter: []Effect{w}})
		if jobs := e.Start(); len(jobs) != 1 {
			t.Errorf("%T without --dry-run: jobs %#v", w, effects(jobs))
		}
	}
}

// scriptStep asks for fixed effects on Enter.
type scriptStep struct {
	id    ID
	enter []Effect
}

func (p *scriptStep) ID() ID                          { return p.id }
func (p *scriptStep) Title() string                   { return string(p.id) }
func (p *scriptStep) Enter(*Session) []Effect         { return p.enter }
func (p *scriptStep) Handle(*Session, Event) []Effect { return nil }
func (p *scriptStep) Status() Status                  { return StatusRunning }
func (p *scriptStep) Snapshot(*Session) Snapshot      { return Snapshot{ID: p.id} }

func TestApplyFailureWritesReceiptAndFails(t *testing.T) {
	e, _, _ := toRoles(t, Options{})
	feed(e, Answered{QuestionID: QConfirmPlan, Value: "yes"})
	jobs := feed(e, Answered{QuestionID: QConfirmAudit, Value: "yes"})
	// The two Exchange roles (same Order) are one wave, applied side by side.
	var wave []checks.Change
	for _, j := range jobs {
		wave = append(wave, j.Effect.(ApplyChange).Change)
	}
	if len(wave) != 2 || wave[0].ID != "rg/Audit Logs" || wave[1].ID != "rg/Transport Rules" {
		t.Fatalf("first wave %#v", effects(jobs))
	}
	// One fails: nothing new starts; the rest of the wave still answers and
	// is recorded; then the receipt, and the step fails.
	if jobs = feed(e, ChangeApplied{Applied: checks.Applied{Change: wave[0]}, Err: errors.New("boom")}); len(jobs) != 0 {
		t.Fatalf("started after a failure: %#v", effects(jobs))
	}
	jobs = feed(e, ChangeApplied{Applied: checks.Applied{Change: wave[1], RequestID: "r1"}})
	if !reflect.DeepEqual(effects(jobs), []Effect{WriteReceipt{}}) || ExitCode(e) != 1 {
		t.Fatalf("jobs %#v code %d", effects(jobs), ExitCode(e))
	}
	if s := e.Session(); len(s.Applied) != 1 || s.Applied[0].Change.ID != "rg/Transport Rules" {
		t.Fatalf("applied %+v", s.Applied)
	}
	if f := e.Current().Snapshot(e.Session()).Fail; f == nil || !strings.Contains(f.Message, "boom") {
		t.Fatalf("failure %+v", f)
	}
}

func toMapping(t *testing.T, opt Options) (*Engine, *Session) {
	t.Helper()
	e, s, _ := toRoles(t, opt)
	feed(e, Answered{QuestionID: QConfirmPlan, Value: "yes"})
	applyAll(e, feed(e, Answered{QuestionID: QConfirmAudit, Value: "yes"}))
	feed(e, pass("exo.audit-log"))
	feed(e, pass("exo.role-group"))
	feed(e, ReceiptWritten{})
	if e.Current().ID() != Mapping {
		t.Fatalf("at %s", e.Current().ID())
	}
	return e, s
}

var orgs = []platform.Organization{{ID: "org_1", Name: "Contoso Ltd"}, {ID: "org_2", Name: "Fabrikam Inc"}, {ID: "org_3", Name: "Contoso Pharma"}}

func TestOrgByFlagAndUnknownOrgListsClosest(t *testing.T) {
	e, s := toMapping(t, Options{Org: "contoso ltd"})
	jobs := feed(e, OrgsFound{Query: "contoso ltd", Orgs: orgs[:1]})
	if !reflect.DeepEqual(effects(jobs), []Effect{Consent{}}) || s.Organization.ID != "org_1" {
		t.Fatalf("pick by name: %#v %+v", effects(jobs), s.Organization)
	}

	e, _ = toMapping(t, Options{Org: "Contso"})
	jobs = feed(e, OrgsFound{Query: "Contso"})
	if !reflect.DeepEqual(effects(jobs), []Effect{FindOrgs{Query: ""}}) {
		t.Fatalf("want full list for suggestions: %#v", effects(jobs))
	}
	feed(e, OrgsFound{Orgs: orgs})
	f := e.Failure()
	if f == nil || f.Kind != FailUsage || !strings.Contains(f.Remedy, "Contoso Ltd") || !strings.Contains(f.Remedy, "--org") {
		t.Fatalf("failure %+v", f)
	}
}

func TestConsent650051SoftDeletedWaitsThenMaps(t *testing.T) {
	e, _ := toMapping(t, Options{Org: "org_2", ConsentRetryBase: 10 * time.Second, ConsentWait: 30 * time.Second})
	feed(e, OrgsFound{Orgs: orgs})
	present := errors.New("Graph 400: AADSTS650051: Consent action for Application 'x' failed: The 'x' service principal name is already present for the tenant 't'.")
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	// First failure: retried once at once.
	jobs := feed(e, ConsentDone{At: at, Err: present})
	if !reflect.DeepEqual(effects(jobs), []Effect{Consent{}}) {
		t.Fatalf("immediate retry: %#v", effects(jobs))
	}
	jobs = feed(e, ConsentDone{At: at, Err: present})
	if !reflect.DeepEqual(effects(jobs), []Effect{Wait{D: 10 * time.Second}}) {
		t.Fatalf("wait: %#v", effects(jobs))
	}
	d := e.Current().Snapshot(e.Session()).Detail.(*MappingDetail)
	if !d.RetryAt.Equal(at.Add(10*time.Second)) || !strings.Contains(d.Reason, "being deleted") {
		t.Fatalf("detail %+v", d)
	}
	jobs = feed(e, Waited{})
	if !reflect.DeepEqual(effects(jobs), []Effect{Consent{}}) {
		t.Fatalf("after wait: %#v", effects(jobs))
	}
	jobs = feed(e, ConsentDone{At: at, Err: present})
	if !reflect.DeepEqual(effects(jobs), []Effect{Wait{D: 20 * time.Second}}) {
		t.Fatalf("backoff: %#v", effects(jobs))
	}
	feed(e, Waited{})
	// Budget: 10+20 used; the next 40 s would exceed 30 s.
	feed(e, ConsentDone{At: at, Err: present})
	if f := e.Failure(); f == nil || f.Kind != FailError || !strings.Contains(f.Remedy, "5 to 15 minutes") {
		t.Fatalf("budget exhausted: %+v", f)
	}
}

func TestConsent650051InvalidPermissionsStopsNamingIt(t *testing.T) {
	e, _ := toMapping(t, Options{Org: "org_2"})
	feed(e, OrgsFound{Orgs: orgs})
	err := errors.New("AADSTS650051: Application 'x' is requesting permissions that are either invalid or out of date. Claim is invalid: ActivityReports.Read does not exist on resource 'Office 365 Management APIs'")
	jobs := feed(e, ConsentDone{Err: err})
	f := e.Failure()
	if len(jobs) != 0 || f == nil || ExitCode(e) != 1 || !strings.Contains(f.Message, "ActivityReports.Read") || !strings.Contains(f.Message, "Office 365 Management APIs") {
		t.Fatalf("jobs %#v failure %+v", effects(jobs), f)
	}
}

func TestAlreadyMappedStopsNamingOtherOrg(t *testing.T) {
	e, _ := toMapping(t, Options{Org: "org_2"})
	feed(e, OrgsFound{Orgs: orgs})
	feed(e, ConsentDone{})
	feed(e, Mapped{Err: &platform.Error{Code: "tenant_already_mapped", OrganizationName: "Fabrikam Inc", OrganizationID: "org_7"}})
	f := e.Failure()
	if f == nil || ExitCode(e) != 3 || !strings.Contains(f.Message, "Fabrikam Inc") || !strings.Contains(f.Remedy, "--remap") {
		t.Fatalf("failure %+v", f)
	}
}

// healthEnterJobs are the jobs of entering the health step with Evidence
// (set by toHealth; tests using it do not run in parallel with each other).
var healthEnterJobs []Job

func toHealth(t *testing.T, opt Options) (*Engine, *Session) {
	t.Helper()
	e, s := toMapping(t, opt)
	feed(e, OrgsFound{Orgs: orgs})
	if e.Current().Snapshot(s).Status == StatusWaiting {
		feed(e, Answered{QuestionID: QPickOrg, Value: "org_1"})
	}
	feed(e, ConsentDone{})
	jobs := feed(e, Mapped{Integration: platform.Integration{ID: "int_1", Status: "pending"}})
	if !reflect.DeepEqual(effects(jobs), []Effect{WriteReceipt{}}) {
		t.Fatalf("after mapping: %#v", effects(jobs))
	}
	jobs = feed(e, ReceiptWritten{Path: "r"})
	if opt.Evidence {
		healthEnterJobs = jobs
	} else if !reflect.DeepEqual(effects(jobs), []Effect{ProbeHealth{IntegrationID: "int_1"}}) {
		t.Fatalf("health enter: %#v", effects(jobs))
	}
	return e, s
}

func TestHealthBackoffAndHealthy(t *testing.T) {
	e, s := toHealth(t, Options{PollBase: 5 * time.Second, PollMax: 20 * time.Second})
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	var waits []time.Duration
	for i := 0; i < 4; i++ {
		jobs := feed(e, HealthProbed{At: t0.Add(time.Duration(i) * time.Minute), Integration: platform.Integration{ID: "int_1", Status: "pending"}})
		waits = append(waits, jobs[0].Effect.(ProbeHealth).After)
	}
	if want := []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 20 * time.Second}; !reflect.DeepEqual(waits, want) {
		t.Fatalf("backoff %v want %v", waits, want)
	}
	jobs := feed(e, HealthProbed{At: t0.Add(5 * time.Minute), Integration: platform.Integration{ID: "int_1", Status: "healthy"}})
	if _, ok := jobs[0].Effect.(WriteEvidence); !ok || len(jobs) != 2 || jobs[1].Effect != (LoadSummary{}) {
		t.Fatalf("healthy: %#v", effects(jobs))
	}
	feed(e, SummaryLoaded{Billable: 7, MFARegistered: 3, MFATotal: 7})
	if !e.Finished() || ExitCode(e) != 0 || s.Outcome != "healthy" || s.Billable != 7 {
		t.Fatalf("finished %v code %d outcome %q", e.Finished(), ExitCode(e), s.Outcome)
	}
}

func TestHealthWaitBoundExits4AndDetach(t *testing.T) {
	e, _ := toHealth(t, Options{Org: "org_1", Wait: time.Minute})
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	feed(e, HealthProbed{At: t0, Integration: platform.Integration{Status: "pending"}})
	feed(e, HealthProbed{At: t0.Add(61 * time.Second), Integration: platform.Integration{Status: "pending"}})
	if ExitCode(e) != 4 || !strings.Contains(e.Failure().Remedy, "status --tenant") {
		t.Fatalf("code %d %+v", ExitCode(e), e.Failure())
	}

	e, _ = toHealth(t, Options{Org: "org_1"})
	feed(e, HealthProbed{At: t0, Integration: platform.Integration{Status: "unhealthy", ReasonCode: "audit_log_disabled"}})
	snap := e.Current().Snapshot(e.Session())
	if d := snap.Detail.(*HealthDetail); !strings.Contains(d.Remedy, "audit") {
		t.Fatalf("remedy %q", d.Remedy)
	}
	e.Intent(Detach{})
	if ExitCode(e) != 4 || !strings.Contains(e.Failure().Message, "Detached") {
		t.Fatalf("detach code %d", ExitCode(e))
	}
}

func TestWrongTenantStopsBeforeAnyChange(t *testing.T) {
	e, s := New(Options{AuthMethod: auth.MethodDevice, Tenant: "contoso.onmicrosoft.com"}, testInfos)
	jobs := e.Start()
	if _, ok := jobs[0].Effect.(ResolveTenant); !ok {
		t.Fatalf("want ResolveTenant first: %#v", effects(jobs))
	}
	feedTo(e, Prereqs, TenantResolved{Info: auth.TenantInfo{ID: "tid-contoso"}})
	feedTo(e, Prereqs, pass("platform.subscription"))
	feed(e, DeviceCodeIssued{Code: auth.DeviceCode{UserCode: "X"}})
	jobs = feed(e, SignedIn{Account: auth.Account{Username: "bob@fabrikam", TenantID: "tid-fabrikam"}})
	f := e.Failure()
	if len(jobs) != 0 || f == nil || ExitCode(e) != 3 || !strings.Contains(f.Message, "tid-fabrikam") || !strings.Contains(f.Message, "tid-contoso") || s.SignedIn {
		t.Fatalf("jobs %#v failure %+v", effects(jobs), f)
	}
}

func TestDeviceCodeBlockedSwitchesToBrowser(t *testing.T) {
	e, _ := New(Options{AuthMethod: auth.MethodDevice, AutoFallback: true}, testInfos)
	e.Start()
	feedTo(e, Prereqs, pass("platform.subscription"))
	feed(e, DeviceCodeIssued{Code: auth.DeviceCode{UserCode: "X"}})
	before := e.Attempt(SignIn)
	blocked := errors.New(`http call(https://login/t/oauth2/v2.0/token)(POST) error: reply status code was 400:
{"error":"invalid_grant","error_description":"AADSTS53003: Access has been blocked by Conditional Access policies.","error_codes":[53003]}`)
	jobs := feed(e, SignInFailed{Err: blocked})
	if !reflect.DeepEqual(effects(jobs), []Effect{StartBrowser{}}) || e.Attempt(SignIn) != before+1 {
		t.Fatalf("want browser in a new attempt: %#v", effects(jobs))
	}
	d := e.Current().Snapshot(e.Session()).Detail.(*SignInDetail)
	if d.Method != auth.MethodBrowser || !strings.Contains(d.Notice, "browser") {
		t.Fatalf("detail %+v", d)
	}
}

func TestExpiredCodeIssuesNewOne(t *testing.T) {
	e, _ := New(Options{AuthMethod: auth.MethodDevice}, testInfos)
	e.Start()
	feedTo(e, Prereqs, pass("platform.subscription"))
	feed(e, DeviceCodeIssued{Code: auth.DeviceCode{UserCode: "X"}})
	expired := errors.New(`http call(https://login/t/oauth2/v2.0/token)(POST) error: reply status code was 400:
{"error":"expired_token","error_description":"AADSTS70019: Verification code expired.","error_codes":[70019]}`)
	jobs := feed(e, SignInFailed{Err: expired})
	if !reflect.DeepEqual(effects(jobs), []Effect{StartDeviceCode{}}) {
		t.Fatalf("want a fresh code: %#v", effects(jobs))
	}
}

func TestMappedElsewhereStopsBeforeRoleFixes(t *testing.T) {
	e, s := New(Options{AuthMethod: auth.MethodDevice, Org: "Contoso Ltd"}, testInfos)
	e.Start()
	feedTo(e, Prereqs, pass("platform.subscription"))
	signIn(t, e)
	feed(e, TenantLoaded{})
	feed(e, pass("graph.exchange-licence"))
	feed(e, pass("exo.audit-log"))
	jobs := feed(e, IntegrationFound{Integration: &platform.Integration{ID: "int_7", OrganizationID: "org_7", OrganizationName: "Fabrikam Inc", TenantID: "tid-1"}})
	f := e.Failure()
	if len(jobs) != 0 || f == nil || ExitCode(e) != 3 || !strings.Contains(f.Message, "Fabrikam Inc") || !strings.Contains(f.Remedy, "--remap") || len(s.Applied) != 0 {
		t.Fatalf("jobs %#v failure %+v", effects(jobs), f)
	}
	// Mapped to the organization asked for: go on (mapping is idempotent).
	e, _ = New(Options{AuthMethod: auth.MethodDevice, Org: "org_7"}, testInfos)
	e.Start()
	feedTo(e, Prereqs, pass("platform.subscription"))
	signIn(t, e)
	feed(e, TenantLoaded{})
	feed(e, pass("graph.exchange-licence"))
	feed(e, pass("exo.audit-log"))
	feed(e, IntegrationFound{Integration: &platform.Integration{OrganizationID: "org_7", OrganizationName: "Fabrikam Inc"}})
	if e.Current().ID() != Roles {
		t.Fatalf("at %s", e.Current().ID())
	}
}

func TestTenantLookupNetworkFailureIsNotUnknownTenant(t *testing.T) {
	e, _ := New(Options{AuthMethod: auth.MethodDevice, Tenant: "contoso.onmicrosoft.com"}, testInfos)
	e.Start()
	feedTo(e, Prereqs, TenantResolved{Err: &auth.Error{Class: auth.ClassNetwork, Message: "Cannot reach login.microsoftonline.com.", Action: "Check the network."}})
	f := e.Failure()
	if f == nil || ExitCode(e) != 1 || !strings.Contains(f.Message, "Cannot reach") || strings.Contains(f.Remedy, "check --tenant") {
		t.Fatalf("failure %+v", f)
	}
	e, _ = New(Options{AuthMethod: auth.MethodDevice, Tenant: "nope.example"}, testInfos)
	e.Start()
	feedTo(e, Prereqs, TenantResolved{Err: &auth.Error{Class: auth.ClassTenantNotFound, Code: 90002, Message: "Tenant not found."}})
	if f := e.Failure(); f == nil || ExitCode(e) != 3 || !strings.Contains(f.Remedy, "--tenant") {
		t.Fatalf("unknown tenant: %+v", f)
	}
}

func TestRunnerOldAttemptDoesNotCancelNewOne(t *testing.T) {
	r := NewRunner(context.Background(), &Executor{}, 2)
	defer r.Close()
	newer := r.jobCtx(Job{Step: SignIn, Attempt: 2})
	older := r.jobCtx(Job{Step: SignIn, Attempt: 1})
	if older.Err() == nil {
		t.Fatal("a job of a replaced attempt must get a cancelled context")
	}
	if newer.Err() != nil {
		t.Fatal("an old attempt's job cancelled the live attempt")
	}
	if r.jobCtx(Job{Step: SignIn, Attempt: 3}); newer.Err() == nil {
		t.Fatal("a newer attempt must cancel the older one")
	}
}

func TestOrgFlagResolvedBeforeSignIn(t *testing.T) {
	// Unknown --org: stops before sign-in completes, naming close matches.
	e, s := New(Options{AuthMethod: auth.MethodDevice, Org: "Contso"}, testInfos)
	jobs := e.Start()
	if !reflect.DeepEqual(effects(jobs), []Effect{RunCheck{ID: "platform.subscription"}, FindOrgs{Query: "Contso"}, StartDeviceCode{}}) {
		t.Fatalf("start: %#v", effects(jobs))
	}
	feedTo(e, Prereqs, pass("platform.subscription"))
	jobs = feedTo(e, Prereqs, OrgsFound{Query: "Contso"})
	if !reflect.DeepEqual(effects(jobs), []Effect{FindOrgs{Query: ""}}) {
		t.Fatalf("want the full list for suggestions: %#v", effects(jobs))
	}
	feedTo(e, Prereqs, OrgsFound{Orgs: orgs})
	f := e.Failure()
	if f == nil || ExitCode(e) != 2 || !strings.Contains(f.Remedy, "Contoso Ltd") || s.SignedIn {
		t.Fatalf("failure %+v", f)
	}
	// Known --org: the mapping step does not look it up again.
	e, s = New(Options{AuthMethod: auth.MethodDevice, Org: "fabrikam inc"}, testInfos)
	e.Start()
	feedTo(e, Prereqs, pass("platform.subscription"))
	feedTo(e, Prereqs, OrgsFound{Orgs: orgs[1:2]})
	if s.OrgFromFlag == nil || s.OrgFromFlag.ID != "org_2" {
		t.Fatalf("org from flag %+v", s.OrgFromFlag)
	}
}

func TestPickedOrganizationIsConfirmedWithItsPermissions(t *testing.T) {
	e, s := toMapping(t, Options{})
	jobs := feed(e, OrgsFound{Orgs: orgs})
	if a, ok := jobs[0].Effect.(Ask); !ok || a.Q.ID != QPickOrg {
		t.Fatalf("want the picker: %#v", effects(jobs))
	}
	jobs = feed(e, Answered{QuestionID: QPickOrg, Value: "org_2"})
	if !reflect.DeepEqual(effects(jobs), []Effect{LoadApp{}}) {
		t.Fatalf("want the app manifest: %#v", effects(jobs))
	}
	app := platform.App{DisplayName: "ITDR App", ApplicationPermissions: []platform.AppPermission{{ResourceDisplayName: "Microsoft Graph", Permission: "AuditLog.Read.All"}}}
	jobs = feed(e, AppLoaded{App: app})
	a, ok := jobs[0].Effect.(Ask)
	if !ok || a.Q.ID != QConfirmMapping || !strings.Contains(a.Q.Prompt, "Fabrikam Inc") || len(a.Q.Details) != 1 || !strings.Contains(a.Q.Details[0], "AuditLog.Read.All") {
		t.Fatalf("confirm: %#v", effects(jobs))
	}
	// "No" goes back to the list; "yes" grants consent.
	jobs = feed(e, Answered{QuestionID: QConfirmMapping, Value: "no"})
	if a, ok := jobs[0].Effect.(Ask); !ok || a.Q.ID != QPickOrg || s.Organization.ID != "" {
		t.Fatalf("declined: %#v %+v", effects(jobs), s.Organization)
	}
	feed(e, Answered{QuestionID: QPickOrg, Value: "org_1"})
	feed(e, AppLoaded{App: app})
	jobs = feed(e, Answered{QuestionID: QConfirmMapping, Value: "yes"})
	if !reflect.DeepEqual(effects(jobs), []Effect{Consent{}}) || s.Organization.ID != "org_1" {
		t.Fatalf("confirmed: %#v %+v", effects(jobs), s.Organization)
	}
}
