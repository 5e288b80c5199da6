package cli

import (
	"strings"
	"testing"

	"itdr-onboard/sim"
)

// orgMatchSim is the partner simulator whose first ready customer's
// organization is named differently ("<name> Ltd"): the closest name,
// not an exact one.
func orgMatchSim(t *testing.T) (*batchSim, sim.CustomerSpec, string) {
	t.Helper()
	sc := sim.PartnerDemoScenario()
	var c sim.CustomerSpec
	for _, x := range sc.Customers {
		if x.Lane == sim.LaneReady {
			c = x
			break
		}
	}
	orgID := ""
	for i, o := range sc.Platform.Organizations {
		if o.Name == c.DisplayName {
			sc.Platform.Organizations[i].Name = c.DisplayName + " Ltd"
			orgID = o.ID
		}
	}
	if orgID == "" {
		t.Fatalf("no organization named %q in the demo scenario", c.DisplayName)
	}
	return startPartnerSim(t, sc, sim.Options{}), c, orgID
}

// writes lists what changed: Partner Center and platform writes, and the
// changes applied in any customer tenant (discovery's Graph $batch is
// reads).
func writes(bs *batchSim) []string {
	var out []string
	for _, r := range bs.srv.Requests() {
		if r.Method != "GET" && (r.Group == sim.GroupPartnerCenter || r.Group == sim.GroupPlatform) {
			out = append(out, r.Method+" "+r.Path)
		}
	}
	for _, c := range bs.srv.Scenario().Customers {
		if st := bs.srv.TenantState(c.TenantID); st != nil {
			for _, ch := range st.Changes() {
				out = append(out, c.DisplayName+": "+ch.Service+" "+ch.Op+" "+ch.Target)
			}
		}
	}
	return out
}

// partner onboard --tenant maps to an organization named exactly like the
// customer as --org does; a closest (not exact) name is shown and must be
// confirmed: headless without --yes it stops with exit 2 before any write,
// naming the organization and --org/--yes; a terminal asks (no: nothing
// written, exit 3); --yes or --org proceeds and maps it there.
func TestPartnerOnboardClosestOrganizationIsConfirmed(t *testing.T) {
	t.Parallel()
	bs, c, orgID := orgMatchSim(t)
	base := []string{"partner", "onboard", "--endpoints", bs.ep, "--auth", "device", "--state-dir", bs.stateDir, "--tenant", c.DisplayName}

	// Headless, plain and JSON, without --yes: stopped before any write.
	for _, fe := range []string{"--plain", "--json"} {
		code, out, errs := runCLI(t, nil, append(base, fe)...)
		if code != ExitUsage || !strings.Contains(errs, "the closest is \""+c.DisplayName+" Ltd\" ("+orgID+")") ||
			!strings.Contains(errs, "pass --org "+orgID) || !strings.Contains(errs, "--yes") || !strings.Contains(errs, "Nothing was changed") {
			t.Fatalf("%s without --yes: exit %d\n%s\n%s", fe, code, clipOut(out), errs)
		}
		if fe == "--json" && !strings.Contains(out, `"type":"error"`) {
			t.Errorf("--json: the refusal is not an event:\n%s", clipOut(out))
		}
		if w := writes(bs); len(w) != 0 {
			t.Fatalf("%s without --yes wrote: %v", fe, w)
		}
	}

	// A terminal asks; "n" changes nothing.
	var out, errs strings.Builder
	code := Run(t.Context(), append(base, "--plain"), IO{In: strings.NewReader("n\n"), Out: &out, Err: &errs, IsTTY: true, Env: headlessEnv})
	if code != ExitStopped || !strings.Contains(out.String(), "Map "+c.DisplayName+" to the platform organization \""+c.DisplayName+" Ltd\" ("+orgID+")? [y/N]") ||
		!strings.Contains(out.String(), "Nothing changed.") {
		t.Fatalf("terminal, answered n: exit %d\n%s\n%s", code, clipOut(out.String()), errs.String())
	}
	if w := writes(bs); len(w) != 0 {
		t.Fatalf("declined in a terminal, yet wrote: %v", w)
	}

	// --yes accepts the closest match, says so, and maps the tenant there.
	code, jout, jerr := runCLI(t, nil, append(base, "--json", "--yes")...)
	if code != 0 {
		t.Fatalf("--yes: exit %d\n%s\n%s", code, clipOut(jout), jerr)
	}
	if !strings.Contains(jout, `"type":"organization_match"`) || !strings.Contains(jout, `"accepted_by":"--yes"`) || !strings.Contains(jout, `"exact":false`) {
		t.Errorf("--yes did not say it accepted the closest match:\n%s", clipOut(jout))
	}
	mapped := 0
	for _, r := range bs.srv.Requests() {
		if r.Method == "POST" && r.Path == "/platform/v1/integrations" && r.Status == 201 {
			mapped++
		}
	}
	if mapped != 1 || !strings.Contains(jout, `"organization_id":"`+orgID+`"`) {
		t.Errorf("--yes: %d mappings, want one to %s", mapped, orgID)
	}
}

// An exact name proceeds as --org does: no question, no warning.
func TestPartnerOnboardExactOrganizationProceeds(t *testing.T) {
	t.Parallel()
	bs, _, _ := orgMatchSim(t)
	var other sim.CustomerSpec
	for _, x := range bs.srv.Scenario().Customers {
		if x.Lane == sim.LaneReady {
			other = x // the last ready customer keeps its exact organization
		}
	}
	code, out, errs := runCLI(t, nil, "partner", "onboard", "--endpoints", bs.ep, "--auth", "device", "--state-dir", bs.stateDir, "--tenant", other.DisplayName, "--plain", "--yes")
	if code != 0 || strings.Contains(out, "closest") || strings.Contains(out, "warning: No platform organization") {
		t.Fatalf("exact name: exit %d\n%s\n%s", code, clipOut(out), errs)
	}
}
