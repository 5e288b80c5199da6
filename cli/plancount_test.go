package cli

import (
	"strings"
	"testing"
)

// The plan is counted one way in the line front-end too: the step's plan
// (role fixes and audit logging: 6 changes) is what each question's part is
// counted against — "Plan (5 of the 6 changes planned):" and "Plan (1 of
// the 6 changes planned):", not two bare "Plan:" lists.
func TestPlainPlanCountedAgainstTheStepsPlan(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	code, out, errs := runCLI(t, nil, "demo", "--scenario", "audit-disabled", "--plain", "--yes", "--org", "Contoso Ltd", "--state-dir", dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, clipOut(out), errs)
	}
	for _, want := range []string{"  Plan (5 of the 6 changes planned):\n", "Apply these 5 changes to the tenant? yes (--yes)", "  Plan (1 of the 6 changes planned):\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, clipOut(out))
		}
	}
	if strings.Contains(out, "  Plan:\n") {
		t.Errorf("a plan without its count:\n%s", clipOut(out))
	}
}
