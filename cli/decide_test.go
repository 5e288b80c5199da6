package cli

// Issue 16 §3: what can be decided before sign-in is decided before
// sign-in — the code is never shown for a run that is going to stop.

import (
	"strings"
	"testing"

	"itdr-onboard/sim"
)

// codeShown reports whether the output shows a device code, and
// devicePolls counts the token requests that poll a device code.
func codeShown(out string) bool {
	return strings.Contains(out, "enter the code") || strings.Contains(out, `"user_code"`) || strings.Contains(out, `"device_code"`)
}

func TestDecideBeforeSignIn(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		mutate   func(*sim.Scenario)
		wrongKey bool
		args     []string
		code     int
		want     string
	}{
		{name: "expired subscription", mutate: func(sc *sim.Scenario) { sc.Platform.Account.Subscription = "expired" },
			args: []string{"--yes", "--org", "Contoso Ltd"}, code: 3, want: "subscription"},
		{name: "cancelled subscription", mutate: func(sc *sim.Scenario) { sc.Platform.Account.Subscription = "cancelled" },
			args: []string{"--yes", "--org", "Contoso Ltd"}, code: 3, want: "subscription"},
		{name: "wrong API key", wrongKey: true, args: []string{"--yes", "--org", "Contoso Ltd"}, code: 3, want: "API"},
		{name: "misspelt --org", args: []string{"--yes", "--org", "Contoso Ltf"}, code: 2, want: "Contoso Ltd (org_contoso)"},
		{name: "no --org without a terminal", args: []string{"--yes"}, code: 2, want: "--org"},
		{name: "no --yes without a terminal", args: []string{"--org", "Contoso Ltd"}, code: 2, want: "--yes"},
	}
	for _, c := range cases {
		for _, mode := range []string{"--plain", "--json"} {
			ts := startSim(t, "typical", c.mutate)
			if c.wrongKey {
				ep := ts.srv.Endpoints()
				ep.PlatformAPIKey = "hk_not_the_key"
				if err := ep.Save(ts.ep); err != nil {
					t.Fatal(err)
				}
			}
			code, out, errs := ts.onboardEnv(t, nil, append([]string{mode, "--auth", "device", "--tenant", contosoID}, c.args...)...)
			if code != c.code || !strings.Contains(out+errs, c.want) {
				t.Errorf("%s %s: exit %d (want %d), want %q in\n%s\n%s", c.name, mode, code, c.code, c.want, out, errs)
			}
			if codeShown(out) {
				t.Errorf("%s %s: a device code was shown for a run that stops:\n%s", c.name, mode, out)
			}
			for _, r := range ts.srv.Requests() {
				// (HEAD / is the network check's reachability probe: no tenant data.)
				if (r.Group == sim.GroupGraph || r.Group == sim.GroupExchange) && r.Method != "HEAD" {
					t.Errorf("%s %s: the tenant was called (%s %s) though the run stops before sign-in", c.name, mode, r.Method, r.Path)
					break
				}
			}
			ts.assertUnchanged(t)
		}
	}
}

// Issue 16 §4: an --org name several organizations carry is ambiguous; each
// is listed with its id, before sign-in.
func TestOrgAmbiguousListsEachWithItsID(t *testing.T) {
	t.Parallel()
	ts := startSim(t, "typical", func(sc *sim.Scenario) {
		sc.Platform.Organizations = append(sc.Platform.Organizations, sim.OrgSpec{ID: "org_contoso_2", Name: "contoso ltd"})
	})
	code, out, errs := ts.onboard(t, "--plain", "--yes", "--auth", "device", "--org", "Contoso Ltd", "--tenant", contosoID)
	all := out + errs
	if code != 2 || !strings.Contains(all, "ambiguous") || !strings.Contains(all, "(org_contoso)") || !strings.Contains(all, "(org_contoso_2)") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	if codeShown(out) {
		t.Errorf("a device code was shown:\n%s", out)
	}
	ts.assertUnchanged(t)
	// The id picks one.
	code, out, errs = ts.onboard(t, "--plain", "--yes", "--auth", "device", "--org", "org_contoso_2", "--tenant", contosoID)
	if code != 0 {
		t.Fatalf("--org by id: exit %d\n%s\n%s", code, out, errs)
	}
}
