package simtest

import (
	"context"
	"strings"
	"testing"
	"time"

	"itdr-onboard/checks"
)

func TestPlatformPermissionsAgainstSim(t *testing.T) {
	for _, c := range []struct {
		scenario string
		outcome  checks.Outcome
		summary  []string
	}{
		{"typical", checks.Pass, []string{"all 7 permissions"}},
		{"bad-permissions", checks.Fail, []string{"ActivityReports.Read does not exist on Office 365 Management APIs"}},
	} {
		t.Run(c.scenario, func(t *testing.T) {
			w := start(t, c.scenario)
			ck, ok := w.reg.Get(checks.IDPlatformPermissions)
			if !ok {
				t.Fatal("check not registered")
			}
			before := len(w.srv.State().Changes())
			r := checks.RunSafe(context.Background(), ck, 10*time.Second)
			if r.Outcome != c.outcome {
				t.Fatalf("outcome %s: %s", r.Outcome, r.Summary)
			}
			for _, s := range c.summary {
				if !strings.Contains(r.Summary, s) {
					t.Errorf("summary %q lacks %q", r.Summary, s)
				}
			}
			if c.outcome == checks.Fail && (!r.External || !strings.Contains(r.Remedy, "Retrying will not help")) {
				t.Errorf("a broken manifest is the platform's to fix: external %v remedy %q", r.External, r.Remedy)
			}
			if n := len(w.srv.State().Changes()); n != before {
				t.Errorf("a read-only check wrote %d changes", n-before)
			}
		})
	}
}
