package steps

import (
	"strings"
	"testing"
	"time"

	"itdr-onboard/checks"
	"itdr-onboard/m365"
	"itdr-onboard/partner"
)

func setupRead(roles ...string) SetupRead {
	st := partner.SetupState{ResourceSPs: map[string]*m365.ServicePrincipal{}}
	for _, r := range roles {
		st.Roles = append(st.Roles, m365.DirectoryRole{RoleTemplateID: r})
	}
	return SetupRead{State: st}
}

// Read → plan asked with --yes → each change applied in order carrying the
// app id learnt from the registration → read back → saved → receipt.
func TestSetupFlowAsksAppliesVerifiesSavesRecords(t *testing.T) {
	e, s := PartnerSetup.New(Options{Tenant: flowTenant}, nil)
	e.Start()
	jobs := signInNow(t, e)
	if e.Current().ID() != Setup || len(jobs) != 1 {
		t.Fatalf("current %s jobs %v", e.Current().ID(), effects(jobs))
	}
	if r, ok := jobs[0].Effect.(ReadSetup); !ok || r.AppID != "" {
		t.Fatalf("want ReadSetup{} got %v", effects(jobs))
	}
	jobs = feed(e, setupRead("62e90394-69f5-4237-9190-012177145e10"))
	ask, ok := jobs[0].Effect.(Ask)
	if !ok || ask.Q.ID != QConfirmSetup || ask.Q.Flag != "--yes" || len(s.Plan) != 5 || !strings.Contains(ask.Q.Prompt, "a new onboarding app") {
		t.Fatalf("want the plan asked, got %v plan %d", effects(jobs), len(s.Plan))
	}
	jobs = feed(e, Answered{QuestionID: QConfirmSetup, Value: "yes"})
	var order []string
	for i := 0; ; i++ {
		ap, ok := jobs[0].Effect.(ApplySetup)
		if !ok {
			break
		}
		if i > 0 && ap.Change.Args["app_id"] != "new-app" {
			t.Fatalf("change %s without the new app id: %v", ap.Change.ID, ap.Change.Args)
		}
		order = append(order, ap.Change.ID)
		ev := SetupApplied{Applied: checks.Applied{Change: ap.Change}}
		if i == 0 {
			ev.AppID = "new-app"
		}
		jobs = feed(e, ev)
	}
	if len(order) != 5 || order[0] != partner.ChangeCreateApp || order[1] != partner.ChangeSP {
		t.Fatalf("order %v", order)
	}
	if v, ok := jobs[0].Effect.(VerifySetup); !ok || v.AppID != "new-app" {
		t.Fatalf("want VerifySetup, got %v", effects(jobs))
	}
	jobs = feed(e, SetupVerified{Findings: []partner.Finding{{Item: "x", OK: true}}})
	if sv, ok := jobs[0].Effect.(SaveSetup); !ok || sv.AppID != "new-app" {
		t.Fatalf("want SaveSetup, got %v", effects(jobs))
	}
	jobs = feed(e, SetupSaved{Path: "/state/partner/config.json"})
	if _, ok := jobs[0].Effect.(WriteReceipt); !ok {
		t.Fatalf("want WriteReceipt, got %v", effects(jobs))
	}
	feed(e, ReceiptWritten{Path: "/r.json"})
	d := e.Done(time.Time{})
	if !e.Finished() || d == nil || d.Outcome != "set-up" || ExitCode(e) != 0 || !strings.Contains(strings.Join(d.Lines, "\n"), "config.json") {
		t.Fatalf("done %+v exit %d", d, ExitCode(e))
	}
}

// Declining changes nothing; a technician without an app administrator
// role is stopped before anything is asked or sent, with the plan to hand
// over; a failed read-back is a failure after the receipt.
func TestSetupFlowDeclineRoleAndVerification(t *testing.T) {
	e, s := PartnerSetup.New(Options{Tenant: flowTenant}, nil)
	e.Start()
	signInNow(t, e)
	feed(e, setupRead("158c047a-c907-4556-b7ef-446551a6b5f7"))
	if jobs := feed(e, Answered{QuestionID: QConfirmSetup, Value: "no"}); len(jobs) != 0 || !s.Declined || e.Failure() == nil || e.Failure().Kind != FailStopped {
		t.Fatalf("decline: jobs %v failure %+v", effects(jobs), e.Failure())
	}

	e, _ = PartnerSetup.New(Options{Tenant: flowTenant}, nil)
	e.Start()
	signInNow(t, e)
	jobs := feed(e, setupRead("e8611ab8-c189-46e8-94e1-60213ab1f814")) // Privileged Role Administrator alone
	if f := e.Failure(); len(jobs) != 0 || f == nil || !strings.Contains(f.Message, "holds none of the roles") || !strings.Contains(f.Remedy, "POST /applications") {
		t.Fatalf("no role: jobs %v failure %+v", effects(jobs), f)
	}

	e, s = PartnerSetup.New(Options{Tenant: flowTenant, Yes: true, DryRun: true}, nil)
	e.Start()
	signInNow(t, e)
	jobs = feed(e, setupRead("62e90394-69f5-4237-9190-012177145e10"))
	if len(jobs) != 0 || !e.Finished() || s.Outcome != "dry-run" || len(s.Plan) != 5 || ExitCode(e) != 0 {
		t.Fatalf("dry run: jobs %v outcome %q plan %d", effects(jobs), s.Outcome, len(s.Plan))
	}

	e, _ = PartnerSetup.New(Options{Tenant: flowTenant}, nil)
	e.Start()
	signInNow(t, e)
	feed(e, setupRead("62e90394-69f5-4237-9190-012177145e10"))
	jobs = feed(e, Answered{QuestionID: QConfirmSetup, Value: "yes"})
	for {
		ap, ok := jobs[0].Effect.(ApplySetup)
		if !ok {
			break
		}
		jobs = feed(e, SetupApplied{Applied: checks.Applied{Change: ap.Change}, AppID: "a"})
	}
	jobs = feed(e, SetupVerified{Findings: []partner.Finding{{Item: "consent Partner Center", Want: "user_impersonation"}}})
	if _, ok := jobs[0].Effect.(WriteReceipt); !ok {
		t.Fatalf("want the receipt of what was done first, got %v", effects(jobs))
	}
	feed(e, ReceiptWritten{Path: "/r.json"})
	if f := e.Failure(); f == nil || !strings.Contains(f.Message, "consent Partner Center") {
		t.Fatalf("verification failure %+v", f)
	}
}
