package steps

import (
	"errors"
	"strings"
	"testing"
	"time"

	"itdr-onboard/auth"
	"itdr-onboard/checks"
	"itdr-onboard/m365"
	"itdr-onboard/platform"
)

const flowTenant = "3f9c8f2e-6d0b-4c1e-9a57-1b2d3c4e5f60"

func signInNow(t *testing.T, e *Engine) []Job {
	t.Helper()
	if e.Current().ID() != SignIn {
		t.Fatalf("current %s, want sign-in", e.Current().ID())
	}
	feed(e, SignedIn{Account: auth.Account{Username: "admin@contoso", TenantID: flowTenant}})
	return feed(e, TenantLoaded{Org: m365.Organization{DisplayName: "Contoso"}})
}

func mappedAccess() (*platform.Integration, AccessRead) {
	in := &platform.Integration{ID: "int_1", TenantID: flowTenant, OrganizationName: "Contoso Ltd"}
	a := AccessRead{App: platform.App{AppID: "app", DirectoryRoles: []platform.DirectoryRole{{TemplateID: "t-exo", DisplayName: "Exchange Administrator"}}},
		SP:    &m365.ServicePrincipal{ID: "sp1", DisplayName: "ITDR"},
		Roles: []m365.RoleAssignment{{ID: "ra1", RoleDefinitionID: "t-exo"}, {ID: "ra2", RoleDefinitionID: "t-unknown"}}, AppRoles: 6}
	return in, a
}

// unmap --remove-access: reads, plans (integration, roles named from the
// app manifest, service principal), asks, removes in order, verifies,
// writes the receipt, and ends "unmapped".
func TestUnmapFlowPlansAsksRemovesVerifiesRecords(t *testing.T) {
	e, s := UnmapFlow.New(Options{Tenant: flowTenant, RemoveAccess: true}, nil)
	jobs := e.Start()
	if s.TenantID != flowTenant || e.Current().ID() != SignIn {
		t.Fatalf("tenant %q current %s", s.TenantID, e.Current().ID())
	}
	jobs = signInNow(t, e)
	if e.Current().ID() != Unmap || len(jobs) != 2 {
		t.Fatalf("current %s, jobs %v", e.Current().ID(), effects(jobs))
	}
	in, a := mappedAccess()
	feed(e, IntegrationFound{Integration: in})
	jobs = feed(e, a)
	ask, ok := jobs[0].Effect.(Ask)
	if !ok || ask.Q.Flag != "--yes" || len(s.Plan) != 4 {
		t.Fatalf("want the plan asked with --yes, got %v plan %d", effects(jobs), len(s.Plan))
	}
	details := strings.Join(ask.Q.Details, "\n")
	for _, want := range []string{"Delete the integration int_1", "Contoso Ltd", "Remove directory role Exchange Administrator",
		"Remove directory role t-unknown", "Delete the platform's service principal ITDR (sp1) with its 6", "not changed"} {
		if !strings.Contains(details, want) {
			t.Errorf("plan lacks %q:\n%s", want, details)
		}
	}
	jobs = feed(e, Answered{QuestionID: QConfirmUnmap, Value: "yes"})
	var order []string
	for len(jobs) == 1 {
		r, ok := jobs[0].Effect.(Remove)
		if !ok {
			break
		}
		order = append(order, r.Change.Args["kind"]+":"+r.Change.Args["id"])
		jobs = feed(e, ChangeApplied{Applied: checks.Applied{Change: r.Change, At: time.Unix(1, 0)}})
	}
	if strings.Join(order, ",") != "integration:int_1,role-assignment:ra1,role-assignment:ra2,service-principal:sp1" {
		t.Fatalf("removal order %v", order)
	}
	v, ok := jobs[0].Effect.(VerifyUnmap)
	if !ok || !v.SP || v.AppID != "app" {
		t.Fatalf("want read-back of the service principal, got %v", effects(jobs))
	}
	jobs = feed(e, UnmapVerified{})
	if _, ok := jobs[0].Effect.(WriteReceipt); !ok {
		t.Fatalf("want the receipt, got %v", effects(jobs))
	}
	feed(e, ReceiptWritten{Path: "/r.json", AuditPath: "/a.jsonl"})
	d := e.Done(time.Now())
	if !e.Finished() || ExitCode(e) != 0 || d == nil || d.Outcome != "unmapped" || len(s.Applied) != 4 ||
		!strings.Contains(d.Headline, "access to it was removed") || s.ReceiptPath != "/r.json" {
		t.Fatalf("finished %v exit %d done %+v applied %d", e.Finished(), ExitCode(e), d, len(s.Applied))
	}
}

// Declining changes nothing and stops (exit 3); a failed removal still
// writes the receipt of what was done, then fails offering a retry, and the
// retry re-reads and plans only what is left.
func TestUnmapFlowDeclineAndPartialFailure(t *testing.T) {
	e, _ := UnmapFlow.New(Options{Tenant: flowTenant}, nil)
	jobs := e.Start()
	if e.Current().ID() != Unmap || len(jobs) != 1 {
		t.Fatalf("without --remove-access no sign-in: current %s jobs %v", e.Current().ID(), effects(jobs))
	}
	in, _ := mappedAccess()
	jobs = feed(e, IntegrationFound{Integration: in})
	jobs = feed(e, Answered{QuestionID: QConfirmUnmap, Value: "no"})
	if len(jobs) != 0 || ExitCode(e) != 3 || !strings.Contains(e.Failure().Message, "nothing was changed") {
		t.Fatalf("decline: jobs %v exit %d", effects(jobs), ExitCode(e))
	}

	e, s := UnmapFlow.New(Options{Tenant: flowTenant, RemoveAccess: true}, nil)
	e.Start()
	signInNow(t, e)
	_, a := mappedAccess()
	feed(e, IntegrationFound{Integration: in})
	feed(e, a)
	jobs = feed(e, Answered{QuestionID: QConfirmUnmap, Value: "yes"})
	first := jobs[0].Effect.(Remove).Change
	jobs = feed(e, ChangeApplied{Applied: checks.Applied{Change: first}})
	jobs = feed(e, ChangeApplied{Err: errors.New("HTTP 503")})
	if _, ok := jobs[0].Effect.(WriteReceipt); !ok {
		t.Fatalf("a failure after a change writes the receipt first, got %v", effects(jobs))
	}
	feed(e, ReceiptWritten{Path: "/r.json"})
	f := e.Failure()
	if f == nil || f.Kind != FailError || !strings.Contains(f.Message, "HTTP 503") || !e.CanRetry() || len(s.Applied) != 1 {
		t.Fatalf("failure %+v retry %v applied %d", f, e.CanRetry(), len(s.Applied))
	}
	// Retry: the integration is gone now; the plan is what is left.
	e.Retry()
	feed(e, IntegrationFound{})
	jobs = feed(e, a)
	if len(s.Plan) != 3 || s.Plan[0].Args["kind"] != "role-assignment" {
		t.Fatalf("plan after retry %+v (jobs %v)", s.Plan, effects(jobs))
	}
}

// check: the before-sign-in checks run while signing in, the tenant checks
// after; a failed check stops (exit 3) and the report lists every check.
// When sign-in fails, the background checks still finish and the tenant
// checks are reported as skipped, saying why.
func TestCheckFlowRunsEveryCheckAndReports(t *testing.T) {
	e, _ := CheckFlow.New(Options{Tenant: flowTenant}, testInfos)
	jobs := e.Start()
	if e.Current().ID() != SignIn || len(jobs) != 2 { // platform check + device code
		t.Fatalf("current %s jobs %v", e.Current().ID(), effects(jobs))
	}
	feedTo(e, Checks, pass("platform.subscription"))
	jobs = signInNow(t, e)
	if e.Current().ID() != Checks || len(jobs) != 3 {
		t.Fatalf("tenant checks: current %s jobs %v", e.Current().ID(), effects(jobs))
	}
	feed(e, pass("graph.exchange-licence"))
	feed(e, pass("exo.audit-log"))
	feed(e, CheckDone{ID: "exo.role-group", Result: checks.Result{Outcome: checks.Fail, Summary: "missing",
		Changes: []checks.Change{{ID: "c1"}}}})
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	d := e.Done(now)
	if ExitCode(e) != 3 || d == nil || d.Report == nil || d.Report.Outcome != checks.Fail || len(d.Report.Checks) != 4 ||
		!d.Report.GeneratedAt.Equal(now) || d.Report.Account != "admin@contoso" {
		t.Fatalf("exit %d done %+v", ExitCode(e), d)
	}

	// Sign-in to the wrong tenant while the platform check still runs.
	e, _ = CheckFlow.New(Options{Tenant: flowTenant}, testInfos)
	e.Start()
	feed(e, SignedIn{Account: auth.Account{Username: "tech@fabrikam", TenantID: "8d2b6a3c-51f4-4e7a-b0c9-2e3f4a5b6c7d"}})
	if e.Finished() {
		t.Fatal("the run ended before the background check finished")
	}
	feedTo(e, Checks, pass("platform.subscription"))
	d = e.Done(now)
	if !e.Finished() || ExitCode(e) != 3 || d == nil {
		t.Fatalf("finished %v exit %d", e.Finished(), ExitCode(e))
	}
	for _, r := range d.Report.Checks {
		want := checks.Skip
		if r.ID == "platform.subscription" {
			want = checks.Pass
		}
		if r.Outcome != want || (want == checks.Skip && !strings.Contains(r.Summary, "sign-in did not complete")) {
			t.Errorf("%s: %s %q", r.ID, r.Outcome, r.Summary)
		}
	}
}

// reauthorize ends by recording consent's grants in a receipt and reading
// the integration.
func TestReauthorizeFlowRecordsGrantsAndReadsStatus(t *testing.T) {
	e, s := Reauthorize.New(Options{Tenant: flowTenant}, nil)
	e.Start()
	jobs := signInNow(t, e)
	if e.Current().ID() != Mapping || len(jobs) == 0 {
		t.Fatalf("current %s", e.Current().ID())
	}
	at := time.Unix(100, 0)
	jobs = feed(e, ConsentDone{At: at, Result: ConsentResult{ServicePrincipalID: "sp1", Granted: []string{"Microsoft Graph: AuditLog.Read.All"}}})
	if e.Current().ID() != Integration || len(jobs) != 2 {
		t.Fatalf("current %s jobs %v", e.Current().ID(), effects(jobs))
	}
	feed(e, IntegrationFound{Integration: &platform.Integration{ID: "int_1", Status: "healthy"}})
	feed(e, ReceiptWritten{Path: "/r.json"})
	d := e.Done(time.Now())
	if ExitCode(e) != 0 || d == nil || d.Outcome != "reauthorized" || d.Fields["status"] != "healthy" ||
		len(s.Applied) != 1 || !s.Applied[0].At.Equal(at) || s.ReceiptPath != "/r.json" {
		t.Fatalf("exit %d done %+v applied %+v", ExitCode(e), d, s.Applied)
	}
}
