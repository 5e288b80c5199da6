package cli

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"itdr-onboard/sim"
)

// Issue 22: the suite cannot rot with the calendar. The typical onboarding
// runs end to end with the simulator's clock — and the wizard's, which
// compares the platform subscription's end with it — two years back and two
// years ahead of the real one; certificates and MSAL's token expiry still use
// the real clock, as they must.
func TestTypicalOnboardingWithTheCalendarShiftedTwoYears(t *testing.T) {
	for _, shift := range []time.Duration{-2 * 365 * 24 * time.Hour, 2 * 365 * 24 * time.Hour} {
		t.Run(shift.String(), func(t *testing.T) {
			clock := func() time.Time { return time.Now().Add(shift) }
			sc, err := sim.LoadScenario("typical")
			if err != nil {
				t.Fatal(err)
			}
			makeFast(sc)
			srv, err := sim.Start(sc, sim.Options{Now: clock})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = srv.Close() })
			dir := t.TempDir()
			ep := filepath.Join(dir, "endpoints.json")
			if err := srv.Endpoints().Save(ep); err != nil {
				t.Fatal(err)
			}
			var out, errb bytes.Buffer
			code := Run(context.Background(), []string{"onboard", "--endpoints", ep, "--state-dir", filepath.Join(dir, "state"),
				"--poll-base", "100ms", "--plain", "--yes", "--org", "Contoso Ltd"},
				IO{In: strings.NewReader(""), Out: &out, Err: &errb, Env: headlessEnv, Now: clock})
			if code != 0 {
				t.Fatalf("exit %d with the calendar shifted %v\nstdout:\n%s\nstderr:\n%s", code, shift, out.String(), errb.String())
			}
			if !strings.Contains(out.String(), "active until "+clock().AddDate(1, 0, 0).UTC().Format("2006")) {
				t.Errorf("the subscription line does not date the year-long subscription from the shifted clock:\n%s", out.String())
			}
		})
	}
}
