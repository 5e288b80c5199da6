package steps

import (
	"errors"
	"reflect"
	"testing"

	"itdr-onboard/auth"
	"itdr-onboard/checks"
)

var earlyInfos = append(append([]CheckInfo{}, testInfos...),
	CheckInfo{ID: checks.IDPlatformSPRoles, Title: "Platform SP", Step: checks.StepRoles, Phase: checks.Tenant, Severity: checks.Required})

// toEarlyPlan runs an onboarding with --org resolved before sign-in up to
// the role plan: the platform's service principal is missing (created by
// the first wave), one directory role is missing (second wave).
func toEarlyPlan(t *testing.T, opt Options) (*Engine, *Session, []Job) {
	t.Helper()
	opt.AuthMethod, opt.Org = auth.MethodDevice, "Contoso Ltd"
	e, s := New(opt, earlyInfos)
	e.Start()
	feedTo(e, Prereqs, pass("platform.subscription"))
	feedTo(e, Prereqs, OrgsFound{Query: opt.Org, Orgs: orgs[:1]})
	if s.OrgFromFlag == nil {
		t.Fatal("--org not resolved before sign-in")
	}
	feed(e, DeviceCodeIssued{Code: auth.DeviceCode{UserCode: "ABCD-EFGH"}})
	feed(e, SignedIn{Account: auth.Account{Username: "admin@contoso", TenantID: "tid-1"}})
	feed(e, TenantLoaded{})
	feed(e, IntegrationFound{})
	feed(e, pass("graph.exchange-licence"))
	feed(e, pass("exo.audit-log"))
	if e.Current().ID() != Roles {
		t.Fatalf("at %s", e.Current().ID())
	}
	feed(e, pass("exo.role-group"))
	jobs := feed(e, CheckDone{ID: checks.IDPlatformSPRoles, Result: checks.Result{Outcome: checks.Fail, Summary: "absent",
		Changes: []checks.Change{
			{ID: "sp/create", CheckID: checks.IDPlatformSPRoles, Order: checks.OrderCreateSP, Summary: "Create the SP"},
			{ID: "sp/role/Security Reader", CheckID: checks.IDPlatformSPRoles, Order: checks.OrderSPRole, Summary: "Assign Security Reader"},
		}}})
	return e, s, jobs
}

func jobsOf(jobs []Job, id ID) []Effect {
	var out []Effect
	for _, j := range jobs {
		if j.Step == id {
			out = append(out, j.Effect)
		}
	}
	return out
}

// Consent needs only the service principal's id: once the first wave has
// created it, the mapping step grants consent beside the directory roles
// and their read-back, while the screens still show the role step as the
// current one and the mapping step as pending. Entered, the mapping step
// goes on from consent's outcome.
func TestConsentStartsOnceTheServicePrincipalExists(t *testing.T) {
	for _, late := range []bool{false, true} {
		e, s, jobs := toEarlyPlan(t, Options{})
		if a, ok := jobs[0].Effect.(Ask); !ok || a.Q.ID != QConfirmPlan {
			t.Fatalf("want the plan question, got %#v", effects(jobs))
		}
		jobs = feed(e, Answered{QuestionID: QConfirmPlan, Value: "yes"})
		if !reflect.DeepEqual(effects(jobs), []Effect{ApplyChange{Change: s.Plan[0]}}) || s.SPReady {
			t.Fatalf("first wave: %#v (SPReady %v)", effects(jobs), s.SPReady)
		}
		jobs = feed(e, ChangeApplied{Applied: checks.Applied{Change: s.Plan[0], RequestID: "r1"}})
		if got := jobsOf(jobs, Mapping); !reflect.DeepEqual(got, []Effect{Consent{}}) {
			t.Fatalf("after the service principal exists: mapping jobs %#v (all %#v)", got, effects(jobs))
		}
		if got := jobsOf(jobs, Roles); !reflect.DeepEqual(got, []Effect{ApplyChange{Change: s.Plan[1]}}) {
			t.Fatalf("second wave: %#v", got)
		}
		mapping := e.Steps()[3]
		if e.Current().ID() != Roles || mapping.Status() != StatusPending {
			t.Fatalf("current %s, mapping %s: the screens must keep the step order", e.Current().ID(), mapping.Status())
		}
		consent := ConsentDone{Result: ConsentResult{ServicePrincipalID: "sp-1", Granted: []string{"Microsoft Graph: AuditLog.Read.All"}}}
		if !late {
			if jobs := feedTo(e, Mapping, consent); len(jobs) != 0 || mapping.Status() != StatusPending {
				t.Fatalf("early consent outcome: %#v, mapping %s", effects(jobs), mapping.Status())
			}
		}
		jobs = feed(e, ChangeApplied{Applied: checks.Applied{Change: s.Plan[1], RequestID: "r2"}})
		if !reflect.DeepEqual(effects(jobs), []Effect{RunCheck{ID: checks.IDPlatformSPRoles, Verify: true}}) {
			t.Fatalf("read-back: %#v", effects(jobs))
		}
		feed(e, pass(checks.IDPlatformSPRoles))
		jobs = feed(e, ReceiptWritten{Path: "r"})
		if e.Current().ID() != Mapping || mapping.Status() != StatusRunning {
			t.Fatalf("after roles: at %s (%s)", e.Current().ID(), mapping.Status())
		}
		if late {
			if len(jobs) != 0 {
				t.Fatalf("consent still running: entering asked for %#v", effects(jobs))
			}
			jobs = feed(e, consent)
		}
		if !reflect.DeepEqual(effects(jobs), []Effect{Map{OrgID: "org_1"}}) || s.Consent.ServicePrincipalID != "sp-1" {
			t.Fatalf("late=%v: mapping goes on with %#v, consent %+v", late, effects(jobs), s.Consent)
		}
	}
}

// Without an organization settled before sign-in (a question may still
// come), or in a dry run, consent waits for its step.
func TestConsentWaitsForItsStepWithoutOrgOrInDryRun(t *testing.T) {
	e, s, _ := toEarlyPlan(t, Options{})
	s.OrgFromFlag = nil
	feed(e, Answered{QuestionID: QConfirmPlan, Value: "yes"})
	jobs := feed(e, ChangeApplied{Applied: checks.Applied{Change: s.Plan[0]}})
	if got := jobsOf(jobs, Mapping); len(got) != 0 || !s.SPReady {
		t.Fatalf("no --org: mapping jobs %#v", got)
	}

	// A dry run asks nothing and writes nothing: the mapping step only
	// reads what consent and the mapping would change.
	_, _, jobs = toEarlyPlan(t, Options{DryRun: true})
	if got := jobsOf(jobs, Mapping); len(got) != 1 {
		t.Fatalf("dry run: mapping jobs %#v", got)
	} else if _, ok := got[0].(PlanChanges); !ok {
		t.Fatalf("dry run started %#v", got[0])
	}
}

// A role fix failing after consent started early stops the run at the role
// step; the mapping step's late outcome changes nothing, and a retry of
// the role step then goes on to the mapping with it.
func TestRoleFailureAfterEarlyConsentStopsAtRoles(t *testing.T) {
	e, s, _ := toEarlyPlan(t, Options{})
	feed(e, Answered{QuestionID: QConfirmPlan, Value: "yes"})
	feed(e, ChangeApplied{Applied: checks.Applied{Change: s.Plan[0]}})
	jobs := feed(e, ChangeApplied{Applied: checks.Applied{Change: s.Plan[1]}, Err: errors.New("graph: 503")})
	if !reflect.DeepEqual(effects(jobs), []Effect{WriteReceipt{}}) || e.Current().ID() != Roles || e.Current().Status() != StatusFailed {
		t.Fatalf("failed wave: %#v at %s", effects(jobs), e.Current().ID())
	}
	feedTo(e, Mapping, ConsentDone{Result: ConsentResult{ServicePrincipalID: "sp-1"}})
	if !e.Finished() || e.Steps()[3].Status() != StatusPending || s.Consent.ServicePrincipalID != "" {
		t.Fatalf("finished %v, mapping %s, consent %+v", e.Finished(), e.Steps()[3].Status(), s.Consent)
	}
}
