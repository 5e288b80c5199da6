package cli

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"itdr-onboard/state"
)

// events decodes a --json run's stdout: every line is an event with time,
// step and type (the schema onboard's events follow); it returns them and
// the last one, which must be "finished".
func events(t *testing.T, out string) ([]map[string]any, map[string]any) {
	t.Helper()
	var evs []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("not a JSON event: %v\n%s", err, l)
		}
		for _, k := range []string{"time", "step", "type"} {
			if _, ok := ev[k].(string); !ok {
				t.Fatalf("event without %s: %s", k, l)
			}
		}
		evs = append(evs, ev)
	}
	last := evs[len(evs)-1]
	if last["type"] != "finished" {
		t.Fatalf("the last event is %v, not finished", last["type"])
	}
	return evs, last
}

func hasStepEvent(evs []map[string]any, step, typ string) bool {
	for _, ev := range evs {
		if ev["step"] == step && ev["type"] == typ {
			return true
		}
	}
	return false
}

// runTUIUntil runs a command in the TUI (a terminal on a pipe), pressing
// enter every 100 ms: no screen of these flows takes enter while they run
// (unmap's plan is answered by --yes), and it closes the final screen. It
// returns the exit code and what stayed in the terminal (ANSI stripped),
// which must show marker.
func (e *lcEnv) runTUIUntil(t *testing.T, marker string, args ...string) (int, string) {
	t.Helper()
	inR, inW := io.Pipe()
	defer inW.Close()
	out := &syncBuf{}
	done := make(chan int, 1)
	full := append(append([]string{}, args...), "--endpoints", e.ep, "--state-dir", e.stateDir)
	go func() {
		done <- Run(context.Background(), full, IO{In: inR, Out: out, Err: out, IsTTY: true, Env: func(k string) string {
			if k == "TERM" {
				return "xterm-256color"
			}
			return sshEnv(k)
		}})
	}()
	deadline := time.After(40 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case code := <-done:
			screen := ansi.Strip(out.String())
			if !strings.Contains(screen, marker) {
				t.Fatalf("%v ended (exit %d) without showing %q:\n%s", args, code, marker, screen)
			}
			return code, screen
		case <-deadline:
			t.Fatalf("%v: the TUI did not end:\n%s", args, ansi.Strip(out.String()))
		case <-tick.C:
			go io.WriteString(inW, "\r")
		}
	}
}

// reauthorize, unmap --remove-access and check run through the one engine
// in each front-end against the simulator: the TUI, --plain and --json
// (events of onboard's schema), with receipts and audit lines for changes.
func TestLifecycleFlowsInEveryFrontEnd(t *testing.T) {
	e := startEnv(t, lcScenario(t, "typical", nil))

	// check before onboarding: role fixes missing → exit 3 in all three.
	code, out := e.run(t, "check", "--tenant", simTenant, "--json")
	evs, last := events(t, out)
	if code != ExitStopped || last["outcome"] != "stopped" || last["report"] == nil ||
		!hasStepEvent(evs, "checks", "check") || !hasStepEvent(evs, "signin", "device_code") {
		t.Fatalf("check --json: exit %d\n%s", code, out)
	}
	code, out = e.run(t, "check", "--tenant", simTenant, "--plain")
	if code != ExitStopped || !strings.Contains(out, "== Step 1/2: Checks (runs in the background during Sign-in; its results are in the report at the end)") ||
		strings.Contains(out, "== Step 1/2: Checks (continued)") || !strings.Contains(out, "Result: 2 of 10 checks failed.") ||
		strings.Count(out, "Exchange role group roles:") != 1 {
		t.Fatalf("check --plain: exit %d\n%s", code, out)
	}
	code, screen := e.runTUIUntil(t, "2 of 10 checks failed", "check", "--tenant", simTenant)
	if code != ExitStopped || !strings.Contains(screen, "Exchange role group roles") {
		t.Fatalf("check in the TUI: exit %d\n%s", code, screen)
	}
	if len(e.srv.State().Changes()) != 0 {
		t.Fatalf("check changed the tenant: %+v", e.srv.State().Changes())
	}

	if code, out := e.onboard(t, "--plain"); code != 0 {
		t.Fatalf("onboard exit %d\n%s", code, out)
	}
	// Consent revoked: reauthorize in the TUI grants it again.
	revokeAuditLog(t, e)
	code, screen = e.runTUIUntil(t, "Reauthorized", "reauthorize", "--tenant", simTenant)
	if code != 0 || !strings.Contains(screen, "granted now: 1") {
		t.Fatalf("reauthorize in the TUI: exit %d\n%s", code, screen)
	}
	// Its grant is in the audit trail and in a receipt.
	audit, err := os.ReadFile(filepath.Join(e.stateDir, "audit.jsonl"))
	if err != nil || !strings.Contains(string(audit), `"change":"consent/grant/`) {
		t.Fatalf("audit trail: %v\n%s", err, audit)
	}
	// Again with --json: nothing to grant; the events are onboard's.
	code, out = e.run(t, "reauthorize", "--tenant", simTenant, "--json")
	evs, last = events(t, out)
	if code != 0 || last["outcome"] != "reauthorized" || last["status"] != "healthy" || last["tenant_id"] != simTenant ||
		!hasStepEvent(evs, "signin", "signed_in") || !hasStepEvent(evs, "mapping", "consent") {
		t.Fatalf("reauthorize --json: exit %d\n%s", code, out)
	}

	// unmap --remove-access in the TUI, answering the plan with --yes.
	code, screen = e.runTUIUntil(t, "Unmapped", "unmap", "--tenant", simTenant, "--remove-access", "--yes")
	if code != 0 || !strings.Contains(screen, "done: Delete the integration") || !strings.Contains(screen, "receipt:") {
		t.Fatalf("unmap in the TUI: exit %d\n%s", code, screen)
	}
	snap := e.srv.State().Snapshot()
	if len(snap.Integrations) != 0 || platformSP(snap, e.srv.State().PlatformAppID()) != nil {
		t.Fatalf("after unmap: %+v", snap)
	}
	// Every deletion went to the audit trail, and the run wrote a receipt
	// listing them.
	audit, _ = os.ReadFile(filepath.Join(e.stateDir, "audit.jsonl"))
	for _, id := range []string{"unmap/integration", "unmap/role/", "unmap/service-principal"} {
		if !strings.Contains(string(audit), `"change":"`+id) {
			t.Errorf("no audit line for %s:\n%s", id, audit)
		}
	}
	receipts, _ := filepath.Glob(filepath.Join(e.stateDir, "tenants", simTenant, "receipt-*.json"))
	unmapReceipt := false
	for _, p := range receipts {
		b, _ := os.ReadFile(p)
		unmapReceipt = unmapReceipt || strings.Contains(string(b), `"id": "unmap/service-principal"`)
	}
	if !unmapReceipt {
		t.Errorf("no receipt lists unmap's deletions among %v", receipts)
	}
	// Nothing left: --plain and --json say so.
	code, out = e.run(t, "unmap", "--tenant", simTenant, "--remove-access", "--plain")
	if code != 0 || !strings.Contains(out, "Nothing to remove") {
		t.Fatalf("unmap --plain: exit %d\n%s", code, out)
	}
	code, out = e.run(t, "unmap", "--tenant", simTenant, "--remove-access", "--json")
	if _, last = events(t, out); code != 0 || last["outcome"] != "nothing-to-do" {
		t.Fatalf("unmap --json: exit %d\n%s", code, out)
	}
}

// unmap --remove-access --json on a mapped tenant: plan (answer), each
// deletion as a change_applied event, receipt, finished "unmapped".
func TestUnmapRemoveAccessJSONEvents(t *testing.T) {
	e := startEnv(t, lcScenario(t, "typical", nil))
	if code, out := e.onboard(t, "--plain"); code != 0 {
		t.Fatalf("onboard exit %d\n%s", code, out)
	}
	code, out := e.run(t, "unmap", "--tenant", simTenant, "--remove-access", "--yes", "--json")
	evs, last := events(t, out)
	if code != 0 || last["outcome"] != "unmapped" || !hasStepEvent(evs, "unmap", "answer") || !hasStepEvent(evs, "unmap", "receipt") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	applied := 0
	for _, ev := range evs {
		if ev["type"] == "change_applied" && ev["step"] == "unmap" {
			applied++
		}
	}
	if applied != 4 { // the integration, two directory roles, the service principal
		t.Errorf("%d change_applied events, want 4:\n%s", applied, out)
	}
}

// unmap and reauthorize take the tenant's lock like onboard: while another
// run holds it they stop (exit 3) before changing anything, naming the
// holder's command (here an unmap, not "onboarding").
func TestLifecycleFlowsTakeTheTenantLock(t *testing.T) {
	e := startEnv(t, lcScenario(t, "already-mapped", nil))
	if err := os.MkdirAll(e.stateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	l, err := state.Store{Dir: e.stateDir}.AcquireLockFor(simTenant, "unmap", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"unmap", "--tenant", simTenant, "--yes", "--plain"}, {"reauthorize", "--tenant", simTenant, "--plain"}} {
		code, out := e.run(t, args...)
		if code != ExitStopped || !strings.Contains(out, `another run of "itdr-onboard unmap" holds tenant `+simTenant) || strings.Contains(out, "onboarding tenant") {
			t.Errorf("%v while locked: exit %d\n%s", args, code, out)
		}
	}
	if n := len(e.srv.State().Snapshot().Integrations); n != 1 || len(e.srv.State().Changes()) != 0 {
		t.Fatalf("changed while locked: %d integrations, changes %+v", n, e.srv.State().Changes())
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if code, out := e.run(t, "unmap", "--tenant", simTenant, "--yes", "--plain"); code != 0 || !strings.Contains(out, "Unmapped") {
		t.Fatalf("after release: exit %d\n%s", code, out)
	}
}

// Line mode numbers only the steps the reader sees (the Tenant step of a
// --tenant GUID has nothing to do: "Step 1/2" first) and prints each row of
// unmap and reauthorize once (the end does not repeat the deletions or the
// receipt); the TUI's end screen still lists them.
func TestLifecyclePlainHeadingsCountShownStepsAndEndPrintsOnce(t *testing.T) {
	t.Parallel()
	e := startEnv(t, lcScenario(t, "typical", nil))
	if code, out := e.onboard(t, "--plain"); code != 0 {
		t.Fatalf("onboard exit %d\n%s", code, out)
	}
	revokeAuditLog(t, e)
	code, out := e.run(t, "reauthorize", "--tenant", simTenant, "--plain")
	if code != 0 || !strings.HasPrefix(strings.TrimLeft(out, "\n"), "== Step 1/3: Sign-in\n") || !strings.Contains(out, "== Step 3/3: Integration") ||
		strings.Count(out, "receipt: ") != 1 || strings.Contains(out, "Step 4/") {
		t.Fatalf("reauthorize --plain: exit %d\n%s", code, out)
	}
	code, out = e.run(t, "reauthorize", "--tenant", simTenant, "--json")
	if evs, _ := events(t, out); code != 0 || evs[0]["type"] != "step_started" || evs[0]["number"] != "1/3" {
		t.Fatalf("reauthorize --json: exit %d\n%s", code, out)
	}

	code, out = e.run(t, "unmap", "--tenant", simTenant, "--remove-access", "--yes", "--plain")
	if code != 0 || !strings.HasPrefix(strings.TrimLeft(out, "\n"), "== Step 1/2: Sign-in\n") || !strings.Contains(out, "== Step 2/2: Unmap") {
		t.Fatalf("unmap --plain: exit %d\n%s", code, out)
	}
	end := strings.Index(out, "\nUnmapped: ")
	if end < 0 || strings.Count(out, "receipt: ") != 1 || strings.Contains(out, "  done: ") {
		t.Fatalf("unmap --plain repeats its rows at the end:\n%s", out)
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "  applied: ") && strings.Count(out, l+"\n") != 1 {
			t.Errorf("%q printed more than once:\n%s", l, out)
		}
	}
	if n := strings.Count(out, "  applied: "); n != 4 {
		t.Errorf("%d applied rows, want 4 (the integration, two roles, the service principal):\n%s", n, out)
	}
}

// The TUI's summary lists the onboarding's changes in plan order: the role
// fixes as the plan listed them, then each permission as the mapping
// question listed it (the app's order), then the mapping — not in the
// order the side-by-side writes finished.
func TestTUISummaryListsChangesInPlanOrder(t *testing.T) {
	e := startEnv(t, lcScenario(t, "typical", nil))
	code, screen := e.runTUIUntil(t, "Healthy", "onboard", "--tenant", simTenant, "--yes", "--org", "Contoso Ltd", "--poll-base", "100ms")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, screen)
	}
	final := screen[strings.LastIndex(screen, "Changes made"):]
	final = strings.Join(strings.Fields(final), " ")
	want := []string{`Add role "Audit Logs"`, `Add role "Transport Rules"`, "Create the service principal", "Exchange Administrator",
		"Organization Branding Administrator", "AuditLog.Read.All", "Directory.Read.All", "Reports.Read.All", "Policy.Read.All",
		"Exchange.ManageAsApp", "ActivityFeed.Read", "User.Read (delegated)", "Map the tenant to Contoso Ltd"}
	at := 0
	for _, w := range want {
		i := strings.Index(final[at:], w)
		if i < 0 {
			t.Fatalf("%q is not listed after %q in plan order:\n%s", w, final[:at], final)
		}
		at += i + len(w)
	}
}
