package tui

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"itdr-onboard/checks"
	"itdr-onboard/steps"
	"itdr-onboard/ui/theme"
)

// The plan is counted one way: the changes the step's plan holds. The
// step's line says "3 changes planned"; a question that applies part of
// them shows that part as "Plan: 1 of the 3 changes planned (this
// question)", never a bare "Plan: 1" beside "3 changes planned".
func TestPlanCountedOneWay(t *testing.T) {
	now := t0
	s := sessionWith()
	plan := append([]checks.Change{}, roleChanges...)
	plan = append(plan, checks.Change{ID: "audit", CheckID: "exo.audit", Summary: "Turn on unified audit logging", Call: "Set-AdminAuditLogConfig -UnifiedAuditLogIngestionEnabled $true"})
	items := []steps.Item{{ID: "exo.audit", Label: "Unified audit logging", Outcome: checks.Fail, Summary: "off"}}
	if len(plan) != 3 {
		t.Fatalf("roleChanges has %d changes; this test wants 2", len(roleChanges))
	}
	line := "3 changes planned"
	asking := steps.Snapshot{ID: steps.Roles, Status: steps.StatusWaiting, Line: line, Items: items, Detail: &steps.PlanDetail{Plan: plan},
		Prompt: &steps.Question{ID: "audit", Kind: steps.AskConfirm, Prompt: "Turn on unified audit logging?", ChangeIDs: []string{"audit"}}}
	out := ansi.Strip(renderRoles(theme.Plain(), asking, s, 100, 30, now))
	want := "Plan: 1 of the 3 changes planned (this question)"
	if !strings.Contains(out, want) || !strings.Contains(out, "Turn on unified audit logging") || strings.Contains(out, "Plan: 1 change\n") {
		t.Errorf("a question's part of the plan is not counted against the plan (want %q):\n%s", want, out)
	}
	// The whole plan under its question: its count alone.
	asking.Prompt = &steps.Question{ID: "roles", Kind: steps.AskConfirm, Prompt: "Apply?", ChangeIDs: []string{plan[0].ID, plan[1].ID, plan[2].ID}}
	out = ansi.Strip(renderRoles(theme.Plain(), asking, s, 100, 30, now))
	if !strings.Contains(out, "Plan: 3 changes") || strings.Contains(out, " of the ") {
		t.Errorf("the whole plan:\n%s", out)
	}
}
