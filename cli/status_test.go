package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"itdr-onboard/steps"
)

// status is a flow of the one engine: in --plain its report (the evidence
// ladder as before) is under the status step's heading, numbered by the
// steps the reader sees; --json is onboard's event stream; the TUI shows
// the ladder on its end screen. Every mode exits with the tenant's code.
func TestStatusFlowInEveryFrontEnd(t *testing.T) {
	t.Parallel()
	e := startEnv(t, lcScenario(t, "typical", nil))
	if code, out := e.onboard(t, "--plain"); code != 0 {
		t.Fatalf("onboard exit %d\n%s", code, out)
	}

	// --plain with --tenant as a GUID: the Tenant step has nothing to do
	// and is not counted.
	code, out := e.run(t, "status", "--tenant", simTenant, "--plain")
	head := strings.Index(out, "== Step 1/1: Integration status\nTenant Contoso Ltd ("+simTenant+")\n")
	if code != 0 || head < 0 || strings.Contains(out, "Step 2/") {
		t.Fatalf("status --plain: exit %d\n%s", code, out)
	}
	for _, want := range []string{"  integration: healthy — mapped to Contoso Ltd (org_contoso), integration ",
		"  evidence 1/5 Configured: proven at", "  evidence 5/5 Platform confirms: proven at", "  local receipt: "} {
		if i := strings.Index(out, want); i < head {
			t.Errorf("status --plain: %q missing or above the heading\n%s", want, out)
		}
	}
	// With a domain the lookup is a step of its own.
	code, out = e.run(t, "status", "--tenant", "contoso.onmicrosoft.com", "--plain")
	if code != 0 || !strings.Contains(out, "== Step 1/2: Tenant\n  tenant contoso.onmicrosoft.com resolved to "+simTenant) ||
		!strings.Contains(out, "== Step 2/2: Integration status\nTenant Contoso Ltd") {
		t.Fatalf("status --plain by domain: exit %d\n%s", code, out)
	}

	// --json: onboard's schema; a tenant_status event per tenant, the
	// finished event carries the tenants and the exit code.
	code, out = e.run(t, "status", "--tenant", simTenant, "--json")
	evs, last := events(t, out)
	if code != 0 || last["outcome"] != "healthy" || last["exit_code"] != float64(0) || last["step"] != "status" {
		t.Fatalf("status --json: exit %d\n%s", code, out)
	}
	started, read := false, false
	for _, ev := range evs {
		switch ev["type"] {
		case "step_started":
			started = started || (ev["step"] == "status" && ev["number"] == "1/1")
		case "tenant_status":
			ts, _ := ev["tenant_status"].(map[string]any)
			read = read || (ts["tenant_id"] == simTenant && ts["status"] == "healthy" && len(ts["evidence"].([]any)) == 5)
		}
	}
	if !started || !read {
		t.Fatalf("status --json: step_started %v tenant_status %v\n%s", started, read, out)
	}

	// The TUI: the end screen shows the tenant's row, the ladder and the
	// receipt.
	code, screen := e.runTUIUntil(t, "Platform confirms", "status", "--tenant", simTenant)
	if code != 0 || !strings.Contains(screen, "integration healthy") || !strings.Contains(screen, "5 Platform confirms — proven") ||
		!strings.Contains(screen, "Local receipt") {
		t.Fatalf("status in the TUI: exit %d\n%s", code, screen)
	}

	// Consent revoked: unhealthy (exit 1) in the TUI too, with the remedy.
	revokeAuditLog(t, e)
	code, screen = e.runTUIUntil(t, "integration unhealthy", "status", "--tenant", simTenant)
	if code != ExitFailed || !strings.Contains(strings.Join(strings.Fields(screen), " "), "reauthorize --tenant "+simTenant) {
		t.Fatalf("unhealthy status in the TUI: exit %d\n%s", code, screen)
	}
}

// Without --tenant status reads every tenant with local state side by side
// and exits with the worst code (a tenant folder with nothing mapped: 3);
// without platform credentials it shows what is saved locally and asks the
// platform nothing.
func TestStatusEveryLocalTenantAndWithoutPlatformCredentials(t *testing.T) {
	t.Parallel()
	e := startEnv(t, lcScenario(t, "typical", nil))
	if code, out := e.onboard(t, "--plain"); code != 0 {
		t.Fatalf("onboard exit %d\n%s", code, out)
	}
	other := "0b7e1c2d-3f4a-4b5c-8d6e-7f8091a2b3c4"
	if err := os.MkdirAll(filepath.Join(e.stateDir, "tenants", other), 0o700); err != nil {
		t.Fatal(err)
	}
	code, out := e.run(t, "status", "--plain")
	a, b := strings.Index(out, "\nTenant "+other+"\n"), strings.Index(out, "\nTenant Contoso Ltd ("+simTenant+")\n")
	if code != ExitStopped || a < 0 || b < a || !strings.Contains(out, "integration: not mapped to any organization") {
		t.Fatalf("status of every tenant: exit %d\n%s", code, out)
	}
	code, ts := statusJSON(t, e)
	if code != ExitStopped || len(ts) != 2 || ts[0].TenantID != other || ts[0].Status != steps.StatusNotMapped || ts[1].Status != "healthy" {
		t.Fatalf("status --json of every tenant: exit %d %+v", code, ts)
	}

	// No platform credentials: an endpoints file without them.
	ep := e.srv.Endpoints()
	ep.PlatformAPIKey, ep.PlatformAPISecret = "", ""
	noCreds := filepath.Join(t.TempDir(), "no-platform.json")
	if err := ep.Save(noCreds); err != nil {
		t.Fatal(err)
	}
	before := len(e.srv.Requests())
	local := &lcEnv{srv: e.srv, ep: noCreds, stateDir: e.stateDir}
	code, out = local.run(t, "status", "--tenant", simTenant, "--plain")
	if code != ExitFailed || !strings.Contains(out, "showing only what is saved locally") || !strings.Contains(out, "local receipt: ") ||
		strings.Contains(out, "local receipt: none") {
		t.Fatalf("status without credentials: exit %d\n%s", code, out)
	}
	code, out = local.run(t, "status", "--json")
	if _, last := events(t, out); code != ExitFailed || last["outcome"] != steps.StatusError {
		t.Fatalf("status --json without credentials: exit %d\n%s", code, out)
	}
	for _, r := range e.srv.Requests()[before:] {
		if strings.Contains(r.Path, "/platform/") {
			t.Errorf("status without credentials asked the platform: %s %s", r.Method, r.Path)
		}
	}
}
