package checks

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"itdr-onboard/m365"
)

type stubCheck struct {
	meta
	run func(ctx context.Context) Result
}

func (s *stubCheck) Run(ctx context.Context) Result { return s.run(ctx) }

type stubFixer struct {
	stubCheck
	apply func(ctx context.Context, ch Change) (Applied, error)
}

func (s *stubFixer) Apply(ctx context.Context, ch Change) (Applied, error) { return s.apply(ctx, ch) }

func stub(id string, step StepID, phase Phase, run func(context.Context) Result) *stubCheck {
	return &stubCheck{meta: meta{id: id, title: "Stub " + id, step: step, phase: phase, sev: Required}, run: run}
}

func passRun(context.Context) Result { return Result{Outcome: Pass, Summary: "ok"} }

func TestRegistry(t *testing.T) {
	a := stub("a.one", StepPrereqs, BeforeSignIn, passRun)
	b := stub("b.two", StepPrereqs, Tenant, passRun)
	c := stub("c.three", StepRoles, Tenant, passRun)
	r, err := NewRegistry(c, a, b)
	if err != nil {
		t.Fatal(err)
	}
	ids := func(cs []Check) string {
		var s []string
		for _, c := range cs {
			s = append(s, c.ID())
		}
		return strings.Join(s, ",")
	}
	if got := ids(r.All()); got != "c.three,a.one,b.two" {
		t.Errorf("All = %s", got)
	}
	if got := ids(r.Select(StepPrereqs, Tenant)); got != "b.two" {
		t.Errorf("Select(prereqs, tenant) = %s", got)
	}
	if got := ids(r.Select(StepPrereqs, "")); got != "a.one,b.two" {
		t.Errorf("Select(prereqs, any) = %s", got)
	}
	if got := ids(r.Select("", Tenant)); got != "c.three,b.two" {
		t.Errorf("Select(any, tenant) = %s", got)
	}
	if x, ok := r.Get("b.two"); !ok || x != b {
		t.Error("Get(b.two)")
	}
	if _, ok := r.Get("nope"); ok {
		t.Error("Get(nope) found something")
	}
	// All returns a copy.
	all := r.All()
	all[0] = nil
	if r.All()[0] == nil {
		t.Error("All exposes internal slice")
	}

	if _, err := NewRegistry(a, stub("a.one", StepRoles, Tenant, passRun)); err == nil || !strings.Contains(err.Error(), `duplicate check id "a.one"`) {
		t.Errorf("duplicate: %v", err)
	}
	if _, err := NewRegistry(stub("", StepRoles, Tenant, passRun)); err == nil || !strings.Contains(err.Error(), "empty id") {
		t.Errorf("empty: %v", err)
	}
	if _, err := NewRegistry(stub("  ", StepRoles, Tenant, passRun)); err == nil {
		t.Error("blank id accepted")
	}
	if _, err := NewRegistry(a, nil); err == nil {
		t.Error("nil check accepted")
	}
}

func TestBuiltinIDsUniqueAndValid(t *testing.T) {
	var nilGraph *m365.Graph
	var nilExchange *m365.Exchange
	cs := Builtin(Deps{Graph: nilGraph, Exchange: nilExchange})
	if _, err := NewRegistry(cs...); err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.Title() == "" || c.Step() == "" || c.Phase() == "" || c.Severity() == "" {
			t.Errorf("%s: incomplete metadata", c.ID())
		}
	}
	// Without clients the tenant checks skip; they never pass.
	for _, c := range cs {
		if c.Phase() != Tenant {
			continue
		}
		if r := c.Run(context.Background()); r.Outcome != Skip {
			t.Errorf("%s without clients: %s %q", c.ID(), r.Outcome, r.Summary)
		}
	}
}

func TestRunSafePanic(t *testing.T) {
	c := stub("boom.check", StepPrereqs, Tenant, func(context.Context) Result { panic("nil map write") })
	r := RunSafe(context.Background(), c, time.Second)
	if r.Outcome != Fail || !strings.Contains(r.Summary, "boom.check") || !errors.Is(r.Err, ErrPanic) || !strings.Contains(r.Err.Error(), "nil map write") {
		t.Fatalf("panic result: %+v", r)
	}
	if r.Duration <= 0 {
		t.Error("Duration not filled")
	}
	row := NewReportRow(c, r)
	if row.Outcome != Fail || row.ID != "boom.check" || !strings.Contains(row.Error, "nil map write") {
		t.Errorf("row = %+v", row)
	}
}

func TestRunSafeHang(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	// Ignores its context entirely.
	c := stub("hang.check", StepPrereqs, Tenant, func(context.Context) Result { <-release; return Result{Outcome: Pass} })
	r := RunSafe(context.Background(), c, 20*time.Millisecond)
	if r.Outcome != Fail || !strings.Contains(r.Summary, "hang.check") || !strings.Contains(r.Summary, "did not finish") || !errors.Is(r.Err, context.DeadlineExceeded) {
		t.Fatalf("hang result: %+v", r)
	}
	if r.Duration <= 0 {
		t.Error("Duration not filled")
	}
}

func TestRunSafeCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	release := make(chan struct{})
	defer close(release)
	c := stub("slow.check", StepPrereqs, Tenant, func(ctx context.Context) Result {
		close(started)
		<-release
		return Result{Outcome: Pass, Summary: "should not win"}
	})
	go func() { <-started; cancel() }()
	r := RunSafe(ctx, c, time.Hour)
	if r.Outcome != Fail || !errors.Is(r.Err, context.Canceled) {
		t.Fatalf("cancel result: %+v", r)
	}
	mustContain(t, "summary", r.Summary, "slow.check", "cancelled")
}

func TestRunSafeNoOutcomeAndPass(t *testing.T) {
	r := RunSafe(context.Background(), stub("empty.check", StepPrereqs, Tenant, func(context.Context) Result { return Result{Summary: "?"} }), time.Second)
	if r.Outcome != Fail || !strings.Contains(r.Summary, "empty.check") || r.Err == nil {
		t.Errorf("no outcome: %+v", r)
	}
	r = RunSafe(context.Background(), stub("ok.check", StepPrereqs, Tenant, passRun), 0)
	if r.Outcome != Pass || r.Summary != "ok" || r.Duration <= 0 {
		t.Errorf("pass: %+v", r)
	}
}

func TestApplySafe(t *testing.T) {
	ctx := context.Background()
	plain := stub("plain.check", StepRoles, Tenant, passRun)
	if _, err := ApplySafe(ctx, plain, Change{ID: "x", CheckID: "plain.check"}); err == nil || !strings.Contains(err.Error(), "cannot apply") {
		t.Errorf("non-fixer: %v", err)
	}
	f := &stubFixer{stubCheck: *stub("fix.check", StepRoles, Tenant, passRun)}
	f.apply = func(context.Context, Change) (Applied, error) { panic("kaboom") }
	if _, err := ApplySafe(ctx, f, Change{ID: "x", CheckID: "fix.check"}); !errors.Is(err, ErrPanic) || !strings.Contains(err.Error(), "kaboom") {
		t.Errorf("panic: %v", err)
	}
	if _, err := ApplySafe(ctx, f, Change{ID: "x", CheckID: "other.check"}); err == nil || !strings.Contains(err.Error(), "planned by other.check") {
		t.Errorf("wrong check: %v", err)
	}
	f.apply = func(context.Context, Change) (Applied, error) { return Applied{RequestID: "r1"}, nil }
	a, err := ApplySafe(ctx, f, Change{ID: "x", CheckID: "fix.check"})
	if err != nil || a.Change.ID != "x" || a.At.IsZero() || a.RequestID != "r1" {
		t.Errorf("applied = %+v %v", a, err)
	}
}

func TestRunAllKeepsOrder(t *testing.T) {
	var cs []Check
	for _, id := range []string{"a.a", "b.b", "c.c", "d.d"} {
		cs = append(cs, stub(id, StepPrereqs, Tenant, func(context.Context) Result { return Result{Outcome: Pass, Summary: id} }))
	}
	es := RunAll(context.Background(), cs, time.Second, 2)
	for i, e := range es {
		if e.Check != cs[i] || e.Result.Summary != cs[i].ID() {
			t.Errorf("entry %d = %s %q", i, e.Check.ID(), e.Result.Summary)
		}
	}
}

func TestPlanOfOrders(t *testing.T) {
	es := []Entry{
		{Result: Result{Changes: []Change{{ID: "audit", Order: 30}}}},
		{Result: Result{Changes: []Change{{ID: "role-a", Order: 10}, {ID: "role-b", Order: 10}}}},
		{Result: Result{Changes: []Change{{ID: "dehydrate", Order: 0}}}},
		{Result: Result{Changes: []Change{{ID: "sp-role", Order: 20}}}},
	}
	var got []string
	for _, c := range PlanOf(es) {
		got = append(got, c.ID)
	}
	if strings.Join(got, ",") != "dehydrate,role-a,role-b,sp-role,audit" {
		t.Errorf("plan = %v", got)
	}
}
