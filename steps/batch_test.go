package steps

import (
	"testing"
	"time"
)

func TestBatchSnapshotCountsAndElapsed(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	ts := []BatchTenant{
		{TenantID: "a", State: TenantHealthy, Started: t0, Ended: t0.Add(90 * time.Second)},
		{TenantID: "b", State: TenantRunning, Started: t0.Add(time.Minute)},
		{TenantID: "c", State: TenantHandedOff},
		{TenantID: "d", State: TenantHealthy},
		{TenantID: "e", State: TenantQueued},
	}
	b := BatchSnapshot{Tenants: ts, Counts: CountStates(ts)}
	want := []StateCount{{TenantQueued, 1}, {TenantRunning, 1}, {TenantHealthy, 2}, {TenantHandedOff, 1}}
	if len(b.Counts) != len(want) {
		t.Fatalf("counts %v, want %v", b.Counts, want)
	}
	for i := range want {
		if b.Counts[i] != want[i] {
			t.Fatalf("counts %v, want %v", b.Counts, want)
		}
	}
	if b.Count(TenantHealthy) != 2 || b.Count(TenantFailed) != 0 {
		t.Fatalf("Count: healthy %d failed %d", b.Count(TenantHealthy), b.Count(TenantFailed))
	}
	now := t0.Add(5 * time.Minute)
	if d := ts[0].Elapsed(now); d != 90*time.Second {
		t.Fatalf("ended tenant elapsed %v", d)
	}
	if d := ts[1].Elapsed(now); d != 4*time.Minute {
		t.Fatalf("running tenant elapsed %v", d)
	}
	if d := ts[2].Elapsed(now); d != 0 {
		t.Fatalf("never started tenant elapsed %v", d)
	}
	if r, ok := b.Tenant("c"); !ok || r.State != TenantHandedOff {
		t.Fatalf("Tenant(c) = %v %v", r, ok)
	}
}

func TestTenantStatesGlyphsAndFinal(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, st := range TenantStates() {
		g := st.Glyph()
		if g == "?" || seen[g] {
			t.Fatalf("state %s has glyph %q (unknown or shared)", st, g)
		}
		seen[g] = true
	}
	for st, final := range map[TenantState]bool{TenantQueued: false, TenantRunning: false, TenantWaiting: false,
		TenantHealthy: true, TenantPending: true, TenantFailed: true, TenantHandedOff: true, TenantSkipped: true} {
		if st.Final() != final {
			t.Fatalf("%s.Final() = %v", st, st.Final())
		}
	}
	if TenantFailed.Mark() != MarkFail || TenantHealthy.Mark() != MarkPass || TenantWaiting.Mark() != MarkRunning {
		t.Fatal("marks")
	}
}
