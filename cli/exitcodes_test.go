package cli

import (
	"strings"
	"testing"

	"itdr-onboard/sim"
)

// Issue 16 §7: exit codes match the README table in every path.
func TestExitCodesUsageErrors(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"onboard", "--plain", "--json", "--tenant", contosoID},
		{"check", "--plain", "--json", "--demo"},
		{"status", "--plain", "--json"},
		{"onboard", "--token-cache", "keyring", "--tenant", contosoID},
		{"check", "--token-cache", "keyring", "--demo"},
	} {
		code, out, errs := runCLI(t, nil, args...)
		if code != ExitUsage {
			t.Errorf("%v: exit %d, want %d (usage)\n%s\n%s", args, code, ExitUsage, out, errs)
		}
		if !strings.Contains(errs, "--plain and --json cannot be used together") && !strings.Contains(errs, "--token-cache keyring") {
			t.Errorf("%v: the message does not name the flag:\n%s", args, errs)
		}
	}
}

// Microsoft throttling a required read with a Retry-After beyond the retry
// budget is not "a required prerequisite failed" (3): nothing is known to be
// wrong with the tenant, so the run ends as failed (1), saying it could not
// check, how long Microsoft asked to wait, and to run again.
func TestExitCodeThrottledPrerequisiteIsFailedNotStopped(t *testing.T) {
	t.Parallel()
	ts := startSim(t, "typical", func(sc *sim.Scenario) {
		sc.Faults = append(sc.Faults, sim.FaultSpec{Group: sim.GroupGraph, Path: "/v1.0/subscribedSkus", Kind: sim.Fault429, RetryAfter: 900})
	})
	code, out, errs := ts.onboard(t, "--plain", "--yes", "--org", "Contoso Ltd", "--tenant", contosoID)
	if code != ExitFailed {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, ExitFailed, out, errs)
	}
	all := out + errs
	for _, want := range []string{"could not be checked", "asked to wait 15m0s", "run the same command again"} {
		if !strings.Contains(all, want) {
			t.Errorf("output lacks %q:\n%s", want, all)
		}
	}
	if strings.Contains(all, "A required prerequisite failed") {
		t.Errorf("a throttled read reported as a failed prerequisite:\n%s", all)
	}
}
