package steps

import (
	"errors"
	"strings"
	"testing"
	"time"

	"itdr-onboard/checks"
	"itdr-onboard/platform"
)

// status --tenant GUID: no lookup (the Tenant step has nothing to do), one
// read through the executor, the report at the end; the exit code is the
// tenant's (pending: 4) and the run never fails for it.
func TestStatusFlowOneTenant(t *testing.T) {
	t.Parallel()
	e, s := StatusFlow.New(Options{Tenant: strings.ToUpper(flowTenant)}, nil)
	jobs := e.Start()
	if e.Current().ID() != StatusStepID || len(jobs) != 1 {
		t.Fatalf("current %s jobs %v", e.Current().ID(), effects(jobs))
	}
	if r, ok := jobs[0].Effect.(ReadStatus); !ok || r.TenantID != flowTenant {
		t.Fatalf("want ReadStatus of %s, got %v", flowTenant, effects(jobs))
	}
	at := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	in := &platform.Integration{ID: "int_1", OrganizationID: "org_1", OrganizationName: "Contoso Ltd", Status: platform.StatusPending,
		ReasonCode: "waiting_for_first_data"}
	feed(e, StatusRead{TenantID: flowTenant, TenantName: "Contoso", Integration: in, At: at,
		Receipt: &ReceiptStatus{Path: "/r.json", Changes: 3}})
	d := e.Done(at)
	if !e.Finished() || e.Failure() != nil || ExitCode(e) != 4 || d == nil || d.Status == nil || d.Outcome != platform.StatusPending {
		t.Fatalf("finished %v exit %d done %+v", e.Finished(), ExitCode(e), d)
	}
	ts := d.Status.Tenants[0]
	if !ts.Mapped || ts.Organization != "Contoso Ltd" || ts.Receipt.Changes != 3 || !strings.Contains(ts.Remedy, "24 hours") ||
		len(ts.Evidence) != 5 || ts.Evidence[4].Proven() || !strings.Contains(ts.EvidenceNote, "onboard --tenant "+flowTenant) {
		t.Fatalf("tenant status %+v", ts)
	}
	if d.Headline != "Tenant Contoso ("+flowTenant+"): integration pending (mapped to Contoso Ltd)" || len(d.Items) != 1 ||
		d.Items[0].Outcome != checks.Warn || d.Fields["tenants"] == nil || s.Done != d {
		t.Fatalf("end %+v", d)
	}
}

// Without --tenant: the tenants with local state are listed, each read,
// the report keeps the listed order whatever order the reads end in, and
// the exit code is the worst (failed > not mapped > pending > healthy).
func TestStatusFlowEveryLocalTenantWorstExit(t *testing.T) {
	t.Parallel()
	e, _ := StatusFlow.New(Options{}, nil)
	jobs := e.Start()
	if _, ok := jobs[0].Effect.(ListTenants); !ok || e.Current().ID() != StatusStepID {
		t.Fatalf("want ListTenants, got %v (current %s)", effects(jobs), e.Current().ID())
	}
	jobs = feed(e, TenantsListed{Dir: "/state", IDs: []string{"a", "b", "c"}})
	if len(jobs) != 3 {
		t.Fatalf("want three reads side by side, got %v", effects(jobs))
	}
	healthy := &platform.Integration{ID: "i", Status: platform.StatusHealthy}
	pending := &platform.Integration{ID: "j", Status: platform.StatusPending}
	feed(e, StatusRead{TenantID: "c", Integration: pending})
	if e.Finished() {
		t.Fatal("finished before every tenant was read")
	}
	feed(e, StatusRead{TenantID: "a", Integration: healthy})
	feed(e, StatusRead{TenantID: "b"}) // not mapped
	d := e.Done(time.Now())
	if ExitCode(e) != 3 || d.Outcome != StatusNotMapped || d.Headline != "3 tenants: 1 healthy, 1 pending, 1 not mapped." {
		t.Fatalf("exit %d done %+v", ExitCode(e), d)
	}
	var order []string
	for _, ts := range d.Status.Tenants {
		order = append(order, ts.TenantID+":"+ts.Status)
	}
	if strings.Join(order, ",") != "a:healthy,b:not_mapped,c:pending" || d.Status.StateDir != "/state" || d.Fields["state_dir"] != "/state" {
		t.Fatalf("report %v %+v", order, d.Status)
	}

	// An unreadable tenant ranks worst.
	e, _ = StatusFlow.New(Options{}, nil)
	e.Start()
	feed(e, TenantsListed{Dir: "/state", IDs: []string{"a", "b"}})
	feed(e, StatusRead{TenantID: "a"})
	feed(e, StatusRead{TenantID: "b", Err: errors.New("HTTP 503")})
	if d := e.Done(time.Now()); ExitCode(e) != 1 || d.Outcome != StatusError || !strings.Contains(d.Items[1].Summary, "HTTP 503") {
		t.Fatalf("exit %d done %+v", ExitCode(e), d)
	}

	// No local state: exit 0, saying where it looked.
	e, _ = StatusFlow.New(Options{}, nil)
	e.Start()
	feed(e, TenantsListed{Dir: "/state"})
	if d := e.Done(time.Now()); ExitCode(e) != 0 || d.Outcome != "no-tenants" || !strings.Contains(d.Headline, "No tenant has local state in /state") {
		t.Fatalf("exit %d done %+v", ExitCode(e), d)
	}

	// The state dir cannot be read: a failure offering a retry.
	e, _ = StatusFlow.New(Options{}, nil)
	e.Start()
	feed(e, TenantsListed{Dir: "/state", Err: errors.New("permission denied")})
	if f := e.Failure(); f == nil || ExitCode(e) != 1 || !strings.Contains(f.Message, "/state") || !e.CanRetry() {
		t.Fatalf("failure %+v exit %d", f, ExitCode(e))
	}
}

// The ladder of status: the rungs the onboarding proved stay proven at
// their time (from the receipt), rung 5 is the platform's answer now; with
// every rung proven there is no note.
func TestTenantStatusLadderFromReceipt(t *testing.T) {
	t.Parallel()
	proven := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	l := NewLadder()
	for i := range 4 {
		l[i].State, l[i].ProvenAt, l[i].Typical = checks.RungProven, proven.Add(time.Duration(i)*time.Minute), "old wording"
	}
	first := proven.Add(time.Hour)
	in := &platform.Integration{ID: "i", Status: platform.StatusHealthy, FirstEventAt: &first}
	ts := NewTenantStatus(StatusRead{TenantID: flowTenant, Integration: in, Receipt: &ReceiptStatus{Evidence: l}, At: proven.Add(2 * time.Hour)})
	if ts.ExitCode != 0 || ts.EvidenceNote != "" || len(ts.Evidence) != 5 {
		t.Fatalf("%+v", ts)
	}
	for i, r := range ts.Evidence {
		if !r.Proven() {
			t.Fatalf("rung %d not proven: %+v", i+1, r)
		}
	}
	if !ts.Evidence[1].ProvenAt.Equal(proven.Add(time.Minute)) || !ts.Evidence[4].ProvenAt.Equal(first) || ts.Evidence[0].Typical != "seconds" {
		t.Fatalf("ladder %+v", ts.Evidence)
	}
	if l[0].Typical != "old wording" {
		t.Fatal("the receipt's ladder was changed in place")
	}

	// No platform credentials: what is saved locally, no ladder.
	ts = NewTenantStatus(StatusRead{TenantID: flowTenant, Err: errors.New("no credentials"), Receipt: &ReceiptStatus{Path: "/r.json"}})
	if ts.Status != StatusError || ts.Mapped || ts.Evidence != nil || ts.Receipt == nil || ts.ExitCode != 1 {
		t.Fatalf("%+v", ts)
	}
}
