package cli

import (
	"bufio"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"itdr-onboard/checks"
	"itdr-onboard/sim"
	"itdr-onboard/steps"
)

// evidenceEvents collects the --json "evidence" events: the last state of
// each rung.
func evidenceEvents(t *testing.T, out string) map[int]steps.LadderRung {
	t.Helper()
	got := map[int]steps.LadderRung{}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var ev struct {
			Type string           `json:"type"`
			Rung steps.LadderRung `json:"rung"`
		}
		if json.Unmarshal(sc.Bytes(), &ev) == nil && ev.Type == "evidence" {
			got[ev.Rung.N] = ev.Rung
		}
	}
	return got
}

// Issue 19 acceptance: an onboarding shows rungs 1–5 proven in order (the
// simulator's latencies compressed: directory audit 100 ms, unified audit
// log 300 ms, platform 1 s), and status shows the ladder after the wizard
// exited (rung 5 re-read from the platform, the others from the receipt).
func TestEvidenceLadderProvenInOrderThenStatus(t *testing.T) {
	t.Parallel()
	e := startEnv(t, lcScenario(t, "typical", func(sc *sim.Scenario) {
		sc.Audit = sim.AuditSpec{DirectoryAuditLatency: sim.Duration(100 * time.Millisecond), UnifiedAuditLatency: sim.Duration(300 * time.Millisecond)}
		sc.Platform.HealthyAfter = sim.Duration(time.Second)
	}))
	code, out := e.onboard(t, "--json")
	if code != 0 {
		t.Fatalf("onboard exit %d\n%s", code, out)
	}
	got := evidenceEvents(t, out)
	var prev time.Time
	for n := 1; n <= 5; n++ {
		r := got[n]
		if r.State != checks.RungProven || r.ProvenAt.IsZero() || r.ProvenAt.Before(prev) {
			t.Fatalf("rung %d: %+v (previous proven at %s)\n%s", n, r, prev, out)
		}
		prev = r.ProvenAt
	}
	if !strings.Contains(got[4].Summary, "New-ManagementRoleAssignment") || !strings.Contains(got[3].Summary, "Add service principal") {
		t.Fatalf("canaries: %q / %q", got[3].Summary, got[4].Summary)
	}

	code, ts := statusJSON(t, e, "--tenant", simTenant)
	if code != 0 || len(ts) != 1 || len(ts[0].Evidence) != 5 || ts[0].EvidenceNote != "" {
		t.Fatalf("status: exit %d %+v", code, ts)
	}
	for i, r := range ts[0].Evidence {
		if !r.Proven() || (i < 4 && !r.ProvenAt.Equal(got[i+1].ProvenAt)) {
			t.Fatalf("status rung %d: %+v, onboarding said %+v", i+1, r, got[i+1])
		}
	}
	code, text := e.run(t, "status", "--tenant", simTenant)
	if code != 0 || !strings.Contains(text, "evidence 4/5 Canary in the unified audit log: proven at") ||
		!strings.Contains(text, "evidence 5/5 Platform confirms: proven at") {
		t.Fatalf("status text exit %d\n%s", code, text)
	}
}

// audit-never: the unified audit log never shows the onboarding's events;
// rungs 1–3 are proven, 4 and 5 stay waiting, the wait ends (exit 4) and
// nothing says data is flowing; status names what re-checks rungs 2–4.
func TestEvidenceLadderUnifiedAuditNever(t *testing.T) {
	t.Parallel()
	e := startEnv(t, lcScenario(t, "audit-never", func(sc *sim.Scenario) {
		sc.Audit.DirectoryAuditLatency = sim.Duration(100 * time.Millisecond)
	}))
	code, out := e.onboard(t, "--plain", "--wait", "2s")
	if code != 4 || strings.Contains(out, "flowing") {
		t.Fatalf("onboard exit %d\n%s", code, out)
	}
	for _, want := range []string{"evidence 1/5 Configured: proven", "evidence 2/5 Microsoft is auditing: proven",
		"evidence 3/5 Entra recorded the onboarding: proven", "evidence 4/5 Canary in the unified audit log: waiting (typically 15–90 min, at worst 24 h)",
		"evidence 5/5 Platform confirms: waiting"} {
		if !strings.Contains(out, want) {
			t.Fatalf("missing %q\n%s", want, out)
		}
	}
	code, ts := statusJSON(t, e, "--tenant", simTenant)
	if code != 4 || len(ts[0].Evidence) != 5 || ts[0].Evidence[3].State != checks.RungWaiting || ts[0].Evidence[4].Proven() ||
		!strings.Contains(ts[0].EvidenceNote, "sign-in") {
		t.Fatalf("status exit %d %+v", code, ts)
	}
}
