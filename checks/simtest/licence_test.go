package simtest

import (
	"context"
	"regexp"
	"testing"
	"time"

	"itdr-onboard/checks"
	"itdr-onboard/sim"
)

// Issue 16 §5 end to end: a licence in its grace period (the simulator's
// capability_status Warning) passes with a warning that names the day the
// grace period ends, read from the simulator's GET /directory/subscriptions
// (next_lifecycle_in after its start); every other non-Enabled state fails
// the check with its own reason.
func TestLicenceStatesAgainstTheSimulator(t *testing.T) {
	for _, tc := range []struct {
		capability, plan string
		outcome          checks.Outcome
		summary          string
	}{
		{"Warning", "", checks.Warn, "grace period"},
		{"Suspended", "", checks.Fail, "subscription Suspended"},
		{"LockedOut", "", checks.Fail, "subscription LockedOut"},
		{"Deleted", "", checks.Fail, "subscription Deleted"},
		{"Enabled", "PendingInput", checks.Fail, "plan PendingInput"},
		{"Enabled", "PendingActivation", checks.Fail, "plan PendingActivation"},
		{"Enabled", "PendingProvisioning", checks.Fail, "plan PendingProvisioning"},
		{"Enabled", "Error", checks.Fail, "plan Error"},
		{"Enabled", "Disabled", checks.Fail, "plan Disabled"},
	} {
		t.Run(tc.capability+tc.plan, func(t *testing.T) {
			t.Parallel()
			sc, err := sim.LoadScenario("typical")
			if err != nil {
				t.Fatal(err)
			}
			grace := sim.Duration(9 * 24 * time.Hour)
			for i := range sc.Licences {
				sc.Licences[i].CapabilityStatus = tc.capability
				sc.Licences[i].NextLifecycleIn = &grace
				for j := range sc.Licences[i].ServicePlans {
					sc.Licences[i].ServicePlans[j].ProvisioningStatus = tc.plan
				}
			}
			before := time.Now().UTC().Truncate(time.Minute)
			w := startScenario(t, sc)
			after := time.Now().UTC()
			c, ok := w.reg.Get(checks.IDExchangeLicence)
			if !ok {
				t.Fatal("no licence check")
			}
			r := c.Run(context.Background())
			if r.Outcome != tc.outcome || !regexp.MustCompile(regexp.QuoteMeta(tc.summary)).MatchString(r.Summary) {
				t.Fatalf("%s: %s %q", tc.capability, r.Outcome, r.Summary)
			}
			if tc.outcome != checks.Warn {
				return
			}
			m := regexp.MustCompile(`ends on (\d{4}-\d\d-\d\d \d\d:\d\d) UTC`).FindStringSubmatch(r.Summary)
			if m == nil {
				t.Fatalf("no end date in %q", r.Summary)
			}
			end, err := time.Parse("2006-01-02 15:04", m[1])
			if err != nil {
				t.Fatal(err)
			}
			if lo, hi := before.Add(9*24*time.Hour), after.Add(9*24*time.Hour); end.Before(lo) || end.After(hi) {
				t.Errorf("grace period ends %v, want between %v and %v (9 days after the simulator started)", end, lo, hi)
			}
		})
	}
}
