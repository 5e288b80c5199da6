package cli

import (
	"strings"
	"testing"

	"itdr-onboard/sim"
)

// batchPlanBlock is the plain plan of a batch run: each tenant's line and
// the detail lines under it, by tenant name.
func batchPlanBlock(t *testing.T, out string) map[string][]string {
	t.Helper()
	_, rest, ok := strings.Cut(out, "\nPlan of batch ")
	if !ok {
		t.Fatalf("no plan:\n%s", clipOut(out))
	}
	blocks := map[string][]string{}
	name := ""
	for _, l := range strings.Split(rest, "\n")[1:] {
		switch {
		case strings.HasPrefix(l, "      "):
			blocks[name] = append(blocks[name], l)
		case strings.HasPrefix(l, "  "):
			name = strings.TrimSpace(l[:29])
			blocks[name] = []string{l}
		default:
			return blocks
		}
	}
	return blocks
}

// The plain plan names a skipped tenant's lane once (on its line) and says
// under it why it is skipped; a settling tenant ready beyond --settle-wait
// is planned as the batch will treat it: skipped, with `batch resume` of
// this batch after its ready time. No plan line ends in spaces.
func TestBatchPlainPlanSkippedTenantsSayWhyOnce(t *testing.T) {
	t.Parallel()
	bs := startBatchSim(t)
	args := bs.runArgs()
	for i, a := range args {
		if a == "--json" {
			args[i] = "--plain"
		}
	}
	code, out, errs := runCLI(t, nil, args...)
	if code != 5 {
		t.Fatalf("exit %d\n%s\n%s", code, clipOut(out), errs)
	}
	blocks := batchPlanBlock(t, out)
	skipped := 0
	for _, c := range bs.srv.Scenario().Customers {
		b := blocks[c.DisplayName]
		if len(b) == 0 {
			t.Fatalf("%s is not in the plan:\n%s", c.DisplayName, clipOut(out))
		}
		for _, l := range b {
			if strings.HasSuffix(l, " ") {
				t.Errorf("%s: plan line ends in spaces: %q", c.DisplayName, l)
			}
		}
		if !strings.Contains(b[0], " skip") {
			continue
		}
		skipped++
		lane := strings.Fields(b[0][29:])[0]
		if n := strings.Count(strings.Join(b, "\n"), lane); n != 1 {
			t.Errorf("%s: lane %q printed %d times in its plan:\n%s", c.DisplayName, lane, n, strings.Join(b, "\n"))
		}
		if len(b) != 2 || strings.TrimSpace(b[1]) == "" {
			t.Errorf("%s: skipped without saying why:\n%s", c.DisplayName, strings.Join(b, "\n"))
		}
		switch c.Lane {
		case sim.LaneSettling:
			if !strings.Contains(b[1], "beyond --settle-wait 0s") || !strings.Contains(b[1], "`itdr-onboard batch resume --batch ") {
				t.Errorf("%s: settling beyond --settle-wait not planned as skipped for batch resume:\n%s", c.DisplayName, b[1])
			}
		case sim.LaneConflict:
			if !strings.Contains(b[1], "mapped to another organization (Legacy ") {
				t.Errorf("%s: %s", c.DisplayName, b[1])
			}
		}
	}
	if skipped != 5 { // 2 connected, 1 conflict, 2 settling (--settle-wait 0)
		t.Errorf("%d tenants planned as skipped, want 5", skipped)
	}
}
