package cli

import (
	"strings"
	"testing"

	"itdr-onboard/sim"
)

// Issue 17 §14: the sign-in refusals a real tenant gives are modelled in the
// simulator (sign_in.refuse, or a disabled sign-in user) and the wizard
// explains each one — the AADSTS code, what it means and what to do — and
// changes nothing in the tenant.
func TestSignInRefusalsAreExplained(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		mutate func(*sim.Scenario)
		want   []string
	}{
		{"disabled account", func(sc *sim.Scenario) {
			no := false
			for i := range sc.Users {
				sc.Users[i].Enabled = &no
			}
		}, []string{"AADSTS50057", "disabled", "enable"}},
		{"locked account", func(sc *sim.Scenario) { sc.SignIn.Refuse = "account-locked" }, []string{"AADSTS50053", "locked"}},
		{"expired password", func(sc *sim.Scenario) { sc.SignIn.Refuse = "password-expired" }, []string{"AADSTS50055", "password has expired", "Change the password"}},
		{"not in tenant", func(sc *sim.Scenario) { sc.SignIn.Refuse = "not-in-tenant" }, []string{"AADSTS50020", "not a member", "member account"}},
		{"declined", func(sc *sim.Scenario) { sc.SignIn.Refuse = "declined" }, []string{"declined", "approve it"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ts := startSim(t, "typical", c.mutate)
			code, out, errOut := ts.onboard(t, "--plain", "--yes", "--org", "Contoso Ltd", "--auth", "device")
			all := out + errOut
			if code == 0 {
				t.Fatalf("onboard finished (exit 0) although the sign-in was refused:\n%s", all)
			}
			for _, w := range c.want {
				if !strings.Contains(all, w) {
					t.Errorf("the wizard's output lacks %q:\n%s", w, all)
				}
			}
			ts.assertUnchanged(t)
		})
	}
}
