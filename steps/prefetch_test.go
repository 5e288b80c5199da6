package steps

import (
	"context"
	"reflect"
	"runtime"
	"sync/atomic"
	"testing"

	"itdr-onboard/checks"
)

// countCheck counts its runs; each run's summary names its number.
type countCheck struct {
	id   string
	runs atomic.Int32
}

func (c *countCheck) ID() string                { return c.id }
func (c *countCheck) Title() string             { return c.id }
func (c *countCheck) Step() checks.StepID       { return checks.StepRoles }
func (c *countCheck) Phase() checks.Phase       { return checks.Tenant }
func (c *countCheck) Severity() checks.Severity { return checks.Required }
func (c *countCheck) Run(context.Context) checks.Result {
	n := c.runs.Add(1)
	return checks.Result{Outcome: checks.Pass, Summary: string(rune('0' + n))}
}

// The onboarding's first reads after sign-in start the later checks that
// need only the token (tenant prerequisites, role checks), never the
// platform checks before sign-in.
func TestTokenChecksAreTheTenantAndRoleChecks(t *testing.T) {
	got := tokenChecks(testInfos)
	want := []string{"graph.exchange-licence", "exo.audit-log", "exo.role-group"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("tokenChecks = %v, want %v", got, want)
	}
}

// A check started ahead of its step runs once: the step's RunCheck takes
// that result (once); a verification (Verify) and a run after any write ask
// the service again.
func TestPrefetchedCheckRunsOnceAndWritesDropIt(t *testing.T) {
	c := &countCheck{id: "exo.role-group"}
	reg, err := checks.NewRegistry(c)
	if err != nil {
		t.Fatal(err)
	}
	x := &Executor{Checks: reg, Graph: &fakeGraph{}}
	ctx := context.Background()
	x.Do(ctx, LoadTenant{Prefetch: []string{c.id, "no.such-check"}}, nil)
	ev := x.Do(ctx, RunCheck{ID: c.id}, nil).(CheckDone)
	if ev.Result.Summary != "1" || c.runs.Load() != 1 {
		t.Fatalf("first RunCheck: %+v after %d runs, want the prefetched run 1", ev.Result, c.runs.Load())
	}
	// Taken once: the next RunCheck (a retry) runs the check again.
	if ev := x.Do(ctx, RunCheck{ID: c.id}, nil).(CheckDone); ev.Result.Summary != "2" {
		t.Fatalf("second RunCheck: %+v, want a new run", ev.Result)
	}
	// A verification never takes a prefetched result.
	x.Do(ctx, LoadTenant{Prefetch: []string{c.id}}, nil)
	waitRuns(t, c, 3)
	if ev := x.Do(ctx, RunCheck{ID: c.id, Verify: true}, nil).(CheckDone); ev.Result.Summary != "4" {
		t.Fatalf("verify: %+v, want a new run (4)", ev.Result)
	}
	// A write drops what was prefetched (run 3 is still unclaimed).
	if _, err := x.write(ctx, checks.Change{ID: "c1"}, func(context.Context) (checks.Applied, error) { return checks.Applied{}, nil }); err != nil {
		t.Fatal(err)
	}
	if ev := x.Do(ctx, RunCheck{ID: c.id}, nil).(CheckDone); ev.Result.Summary != "5" {
		t.Fatalf("RunCheck after a write: %+v, want a new run (5)", ev.Result)
	}
	// A prefetch whose context ended is run again by the step.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	x.Do(cctx, LoadTenant{Prefetch: []string{c.id}}, nil)
	if ev := x.Do(ctx, RunCheck{ID: c.id}, nil).(CheckDone); ev.Result.Outcome != checks.Pass {
		t.Fatalf("RunCheck after a cancelled prefetch: %+v", ev.Result)
	}
}

// waitRuns waits (bounded) until the check has run n times.
func waitRuns(t *testing.T, c *countCheck, n int32) {
	t.Helper()
	for i := 0; i < 1_000_000 && c.runs.Load() < n; i++ {
		runtime.Gosched()
	}
	if c.runs.Load() < n {
		t.Fatalf("check ran %d times, want %d", c.runs.Load(), n)
	}
}
