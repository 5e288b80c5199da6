package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"itdr-onboard/sim"
)

// jsonLines decodes a --json run's output.
func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var evs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		evs = append(evs, ev)
	}
	return evs
}

// demo --partner --tenant onboards one simulated customer over GDAP after
// the one partner sign-in: --json ends with the customer's outcome and
// "finished" carrying its exit code; the request log shows the consent
// bootstrap before any customer request and no /me in the tenant.
func TestPartnerOnboardOneCustomerJSON(t *testing.T) {
	t.Parallel()
	sc := sim.PartnerDemoScenario()
	var ready, noPRA sim.CustomerSpec
	for _, c := range sc.Customers {
		switch {
		case c.Lane == sim.LaneReady && ready.TenantID == "":
			ready = c
		case c.Lane == sim.LanePartial && noPRA.TenantID == "" && !strings.Contains(strings.Join(c.Relationships[0].Roles, ","), "Privileged"):
			noPRA = c
		}
	}
	dir := t.TempDir()
	logPath := filepath.Join(dir, "sim.jsonl")
	code, out, errs := runCLI(t, nil, "demo", "--partner", "--tenant", ready.DisplayName, "--json", "--yes", "--state-dir", dir, "--sim-log", logPath)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	evs := jsonLines(t, out)
	last, cust := evs[len(evs)-1], evs[len(evs)-2]
	if last["type"] != "finished" || last["exit_code"] != float64(0) || last["outcome"] != "healthy" {
		t.Fatalf("last event %v", last)
	}
	if cust["type"] != "customer" || cust["result"] != "healthy" || cust["consent"] != "created" || cust["tenant_id"] != strings.ToLower(ready.TenantID) {
		t.Fatalf("customer event %v", cust)
	}
	steps := map[string]bool{}
	for _, ev := range evs {
		if ev["type"] == "step_started" {
			steps[ev["step"].(string)] = true
		}
	}
	for _, s := range []string{"signin", "discovery", "bootstrap", "prereqs", "roles", "mapping", "health"} {
		if !steps[s] {
			t.Errorf("no step_started for %s: %v", s, steps)
		}
	}
	recs := readSimLog(t, logPath)
	consentAt, firstCustomer := -1, -1
	for i, r := range recs {
		if strings.HasSuffix(r.Path, "/applicationconsents") && consentAt < 0 {
			consentAt = i
		}
		if r.Tenant == strings.ToLower(ready.TenantID) {
			if firstCustomer < 0 {
				firstCustomer = i
			}
			if r.Group == sim.GroupGraph && strings.HasSuffix(r.Path, "/me") {
				t.Fatalf("/me sent to the customer tenant")
			}
		}
	}
	if consentAt < 0 || firstCustomer < consentAt {
		t.Fatalf("consent bootstrap at request %d, first customer request at %d", consentAt, firstCustomer)
	}

	// A customer whose relationship lacks Privileged Role Administrator:
	// handed off (exit 3), nothing mapped, the reason in the outcome.
	code, out, errs = runCLI(t, nil, "demo", "--partner", "--tenant", noPRA.Domain, "--json", "--yes", "--state-dir", dir)
	if code != ExitStopped {
		t.Fatalf("no PRA: exit %d\n%s\n%s", code, out, errs)
	}
	evs = jsonLines(t, out)
	last, cust = evs[len(evs)-1], evs[len(evs)-2]
	if last["outcome"] != "handed-off" || last["exit_code"] != float64(ExitStopped) || cust["result"] != "handed-off" || cust["integration_id"] != "" ||
		!strings.Contains(out, "Privileged Role Administrator") {
		t.Fatalf("no PRA: customer %v, finished %v", cust, last)
	}

	// An unknown --tenant names what to pass.
	code, _, errs = runCLI(t, nil, "demo", "--partner", "--tenant", "Nobody Ltd", "--json", "--yes", "--state-dir", dir)
	if code != ExitUsage || !strings.Contains(errs, "batch plan") {
		t.Fatalf("unknown tenant: exit %d: %s", code, errs)
	}
}
