package cli

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"itdr-onboard/sim"
)

// controlAt returns the index of the first terminal control in s — ESC, BEL,
// any other C0 but newline and tab, DEL, or a C1 (U+0080–U+009F) — or -1.
func controlAt(s string) int {
	for i, r := range s {
		if (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f || (r >= 0x80 && r <= 0x9f) {
			return i
		}
	}
	return -1
}

// Issue 16 §4: names from the APIs that carry control sequences (OSC 52
// clipboard writes with ESC and with C1 OSC/ST, a C1 CSI clear-screen) are
// shown CLEANED in human output — the readable text kept, never Go-quoted
// with "\x1b]52;…" as visible text — and every JSON output and every file
// the wizard writes (progress, receipts, audit trail, log, check --json,
// status --json, support bundle) carries them \u-escaped, never raw.
func TestNamesWithControlSequencesAreCleanedAndEscaped(t *testing.T) {
	t.Parallel()
	const evil = "\x1b]52;c;ZWNobyBwd25lZA==\x07\u009d52;c;aGk=\u009c\u009b2J"
	mutate := func(sc *sim.Scenario) {
		sc.Platform.Account.Name = "Managed" + evil + " Services"
		sc.Tenant.DisplayName = "Contoso" + evil + " Ltd"
		for i := range sc.Platform.Organizations {
			sc.Platform.Organizations[i].Name += evil
		}
		for i := range sc.Users {
			sc.Users[i].DisplayName = "User" + evil
		}
	}
	noControls := func(what, s string) {
		t.Helper()
		if i := controlAt(s); i >= 0 {
			t.Errorf("%s carries a control character at %d: %q", what, i, s[max(0, i-40):min(len(s), i+40)])
		}
		for _, lit := range []string{`\x1b`, `\x07`, `\u009b`, `\u009d`, `\x9b`} {
			if strings.Contains(s, lit) {
				t.Errorf("%s shows the control sequence as text %s:\n%s", what, lit, s)
			}
		}
	}

	// Human output: cleaned, readable.
	ts := startSim(t, "typical", mutate)
	code, out, errs := ts.onboard(t, "--plain", "--yes", "--org", "org_contoso", "--tenant", contosoID)
	if code != 0 {
		t.Fatalf("plain: exit %d\n%s\n%s", code, out, errs)
	}
	noControls("plain stdout", out)
	noControls("plain stderr", errs)
	if !strings.Contains(out, `platform account "Managed Services"`) {
		t.Errorf("the platform account is not shown cleaned:\n%s", out)
	}

	// JSON output and files: escaped.
	ts = startSim(t, "typical", mutate)
	logFile := filepath.Join(t.TempDir(), "run.log")
	code, out, errs = ts.onboard(t, "--json", "--yes", "--org", "org_contoso", "--tenant", contosoID, "--log-file", logFile)
	if code != 0 {
		t.Fatalf("json: exit %d\n%s\n%s", code, out, errs)
	}
	noControls("--json stderr", errs)
	sawEscaped := false
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if i := controlAt(line); i >= 0 {
			t.Errorf("--json event carries a raw control at %d: %q", i, line)
		}
		if !json.Valid([]byte(line)) {
			t.Errorf("not JSON: %q", line)
		}
		sawEscaped = sawEscaped || strings.Contains(line, `\u009d52;c;aGk=\u009c`)
	}
	if !sawEscaped {
		t.Errorf("no --json event names the account with its C1 controls escaped:\n%s", out)
	}
	files := map[string]string{}
	filepath.WalkDir(ts.stateDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			files[p] = string(b)
		}
		return nil
	})
	if b, err := os.ReadFile(logFile); err == nil {
		files[logFile] = string(b)
	}
	ckCode, ckOut, _ := ts.check(t, nil, "--tenant", contosoID, "--json")
	files["check --json"] = ckOut
	_, stOut, _ := runCLI(t, nil, "status", "--endpoints", ts.ep, "--state-dir", ts.stateDir, "--tenant", contosoID, "--json")
	files["status --json"] = stOut
	bundle := filepath.Join(t.TempDir(), "support.tar.gz")
	if bc, bo, be := runCLI(t, nil, "support-bundle", "--state-dir", ts.stateDir, "--log-file", logFile, "--endpoints", ts.ep, "--out", bundle); bc != 0 {
		t.Fatalf("support-bundle: exit %d\n%s\n%s", bc, bo, be)
	}
	for name, body := range readBundle(t, bundle) {
		files["bundle/"+name] = body
	}
	kinds := map[string]bool{}
	for name, body := range files {
		if i := controlAt(body); i >= 0 {
			t.Errorf("%s carries a raw control at %d: %q", name, i, body[max(0, i-40):min(len(body), i+40)])
		}
		for _, k := range []string{"progress", "receipt-", "audit.jsonl", "run.log", "check --json", "status --json", "bundle/"} {
			if strings.Contains(name, k) {
				kinds[k] = true
			}
		}
	}
	for _, k := range []string{"progress", "receipt-", "audit.jsonl", "run.log", "check --json", "status --json", "bundle/"} {
		if !kinds[k] {
			t.Errorf("no %s output was examined (files: %d, check exit %d)", k, len(files), ckCode)
		}
	}
	if !strings.Contains(files["check --json"], `platform account \"Managed Services\"`) {
		t.Errorf("check --json does not name the account cleaned:\n%s", files["check --json"])
	}
}
