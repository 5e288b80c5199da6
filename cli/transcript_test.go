package cli

import (
	"strings"
	"testing"

	"itdr-onboard/checks"
)

// demo --plain: the platform checks that run while the technician signs in
// are printed under their own step (its "(continued)" heading), never under
// Sign-in, and the paused step's first heading says they go on in the
// background.
func TestPlainTranscriptKeepsRowsUnderTheirStep(t *testing.T) {
	t.Parallel()
	code, out := runDemo(t, lcScenario(t, "typical", nil), "--plain", "--yes", "--org", "Contoso Ltd")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	bg := strings.Index(out, "== Step 1/5: Prerequisites (runs in the background during Sign-in; its results follow when it continues)")
	signIn := strings.Index(out, "== Step 2/5: Sign-in")
	cont := strings.Index(out, "== Step 1/5: Prerequisites (continued)")
	row := strings.Index(out, "ITDR platform account and subscription:")
	if bg < 0 || signIn < bg || cont < signIn || row < cont {
		t.Fatalf("headings and the platform row out of order (background %d, sign-in %d, continued %d, row %d):\n%s", bg, signIn, cont, row, out)
	}
	// Under the Sign-in heading: sign-in lines only.
	if sec := out[signIn:cont]; strings.Contains(sec, "[ok]") || strings.Contains(sec, "[FAIL]") {
		t.Errorf("check rows under the Sign-in heading:\n%s", sec)
	}
	// Every heading has something under it.
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if !strings.HasPrefix(l, "== Step") || strings.Contains(l, "runs in the background") {
			continue
		}
		if i+1 >= len(lines) || strings.TrimSpace(lines[i+1]) == "" {
			t.Errorf("nothing under %q", l)
		}
	}
}

// audit-disabled: the role fixes turn unified audit logging on and check it
// again; that row is printed under the Role fixes heading (the step that
// ran it), not under a late Prerequisites heading after the health wait.
func TestPlainTranscriptAuditRecheckUnderRoleFixes(t *testing.T) {
	t.Parallel()
	code, out := runDemo(t, lcScenario(t, "audit-disabled", nil), "--plain", "--yes", "--org", "Contoso Ltd")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	roles := strings.Index(out, "== Step 3/5: Role fixes")
	applied := strings.Index(out, "applied: Turn on unified audit log ingestion")
	row := strings.Index(out, "[ok]   Unified audit logging (checked again): unified audit log ingestion is enabled")
	mapping := strings.Index(out, "== Step 4/5: Mapping")
	if roles < 0 || applied < roles || row < applied || mapping < row {
		t.Fatalf("the audit re-check row is not under Role fixes (roles %d, applied %d, row %d, mapping %d):\n%s", roles, applied, row, mapping, out)
	}
	if strings.Contains(out, "results of its background checks") || strings.Count(out, "== Step 1/5: Prerequisites") != 2 {
		t.Errorf("a late Prerequisites heading:\n%s", out)
	}
}

// The same run in --json: the audit re-check is a "check" event of the
// role-fixes step, after the change that turned audit logging on.
func TestJSONAuditRecheckIsARoleFixesEvent(t *testing.T) {
	t.Parallel()
	code, all := runDemo(t, lcScenario(t, "audit-disabled", nil), "--json", "--yes", "--org", "Contoso Ltd")
	// runDemo joins stderr (the demo's banner and notes) to stdout.
	var lines []string
	for _, l := range strings.Split(all, "\n") {
		if strings.HasPrefix(l, "{") {
			lines = append(lines, l)
		}
	}
	out := strings.Join(lines, "\n")
	evs, _ := events(t, out)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	turnedOn, rechecked := -1, -1
	for i, ev := range evs {
		if ch, _ := ev["change"].(map[string]any); ev["type"] == "change_applied" && ch["check_id"] == checks.IDAuditLog {
			turnedOn = i
		}
		if ev["type"] == "check" && ev["id"] == checks.IDAuditLog && ev["outcome"] == "pass" {
			if ev["step"] != "roles" {
				t.Errorf("the passing audit check is an event of step %v, want roles", ev["step"])
			}
			rechecked = i
		}
	}
	if turnedOn < 0 || rechecked < turnedOn {
		t.Fatalf("audit logging turned on at event %d, re-checked at %d\n%s", turnedOn, rechecked, out)
	}
}
