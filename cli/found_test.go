package cli

// Issue 16 §2: a write answered "already exists" (another run, technician
// or state dir got there first) is recorded as found, never as applied by
// this run.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"itdr-onboard/sim"
	"itdr-onboard/steps"
)

// raceEveryWrite makes every write of the wizard race with another
// client's identical write that lands just before it (sim.FaultRace): the
// object appears between the wizard's read and its write, so each write
// meets the service's answer to a duplicate and the client resolves it.
func raceEveryWrite(sc *sim.Scenario) {
	for _, g := range []string{sim.GroupGraph, sim.GroupExchange, sim.GroupPlatform} {
		sc.Faults = append(sc.Faults, sim.FaultSpec{Group: g, Kind: sim.FaultRace})
	}
}

// readOneReceipt reads the one receipt of the tenant in stateDir.
func readOneReceipt(t *testing.T, stateDir string) (steps.Receipt, string) {
	t.Helper()
	receipts, _ := filepath.Glob(filepath.Join(stateDir, "tenants", contosoID, "receipt-*.json"))
	if len(receipts) != 1 {
		t.Fatalf("receipts in %s: %v", stateDir, receipts)
	}
	b, err := os.ReadFile(receipts[0])
	if err != nil {
		t.Fatal(err)
	}
	var rc steps.Receipt
	if err := json.Unmarshal(b, &rc); err != nil {
		t.Fatal(err)
	}
	return rc, string(b)
}

// readAudit reads the audit trail of stateDir.
func readAudit(t *testing.T, stateDir string) []steps.AuditLine {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(stateDir, "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var out []steps.AuditLine
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var al steps.AuditLine
		if err := json.Unmarshal([]byte(l), &al); err != nil {
			t.Fatalf("audit line %q: %v", l, err)
		}
		out = append(out, al)
	}
	return out
}

func TestRecordAlreadyExistsAnswerIsFoundNotApplied(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"typical", "dehydrated"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ts := startSim(t, name, raceEveryWrite)
			code, out, errs := ts.onboard(t, "--json", "--yes", "--org", "Contoso Ltd", "--tenant", contosoID)
			if code != 0 {
				t.Fatalf("exit %d\n%s\n%s", code, out, errs)
			}
			// The other client made the changes: the tenant saw its writes,
			// and the wizard's own writes met the duplicate answer.
			if len(ts.srv.State().Changes()) == 0 {
				t.Fatal("the racing client made no change")
			}
			raced := 0
			for _, r := range ts.srv.Requests() {
				if r.Fault == sim.FaultRace {
					raced++
				}
			}
			if raced == 0 {
				t.Fatal("no write raced")
			}
			rc, raw := readOneReceipt(t, ts.stateDir)
			if len(rc.Changes) == 0 {
				t.Fatalf("the receipt names no change:\n%s", raw)
			}
			found := map[string]bool{}
			for _, a := range rc.Changes {
				// Set-AdminAuditLogConfig has no "already exists" answer
				// (it sets a value): the only write that cannot tell.
				if strings.HasPrefix(a.Change.Call, "Set-AdminAuditLogConfig") {
					continue
				}
				if !a.NoOp || !strings.Contains(a.Note, "answered that it already exists") || !strings.Contains(a.Note, "not by this run") {
					t.Errorf("recorded as applied by this run, or without what was found: %+v", a)
				}
				found[a.Change.ID] = true
			}
			// Every kind of write: the service principal, its directory
			// roles, the role-group roles, the grants, the mapping (and,
			// dehydrated, Enable-OrganizationCustomization).
			wants := []string{"graph.platform-sp-roles/create-service-principal", "graph.platform-sp-roles/role/",
				"exo.role-group/", "consent/grant/", "mapping/create"}
			if name == "dehydrated" {
				wants = append(wants, "exo.dehydrated/enable-customization")
			}
			for _, want := range wants {
				if !foundPrefix(found, want) {
					t.Errorf("the receipt does not name %s as found:\n%s", want, raw)
				}
			}
			if n := steps.ChangesMade(rc.Changes); n != 0 {
				t.Errorf("the receipt counts %d change(s) as made by this run:\n%s", n, raw)
			}
			if last := lastJSON(t, out); last["changes"] != float64(0) {
				t.Errorf("finished event counts %v changes, want 0", last["changes"])
			}
			for _, al := range readAudit(t, ts.stateDir) {
				if !found[al.Change] {
					continue
				}
				if al.Status != steps.JournalFound || !al.NoOp || !strings.Contains(al.Note, "already exists") {
					t.Errorf("audit line %+v, want found with what was found", al)
				}
			}
			if name != "typical" {
				return
			}
			// A second onboarding of the tenant from another state dir
			// claims nothing either: everything is found.
			other := filepath.Join(t.TempDir(), "state-b")
			code, out, errs = ts.onboard(t, "--json", "--yes", "--org", "Contoso Ltd", "--tenant", contosoID, "--state-dir", other)
			if code != 0 {
				t.Fatalf("second state dir: exit %d\n%s\n%s", code, out, errs)
			}
			if last := lastJSON(t, out); last["changes"] != float64(0) {
				t.Errorf("second state dir: finished event counts %v changes, want 0", last["changes"])
			}
			rb, rawB := readOneReceipt(t, other)
			if len(rb.Changes) == 0 {
				t.Fatalf("second state dir: the receipt names nothing found:\n%s", rawB)
			}
			for _, a := range rb.Changes {
				if !a.NoOp || !strings.Contains(a.Note, "not by this run") {
					t.Errorf("second state dir claims %s as applied, or does not say what it found:\n%s", a.Change.ID, rawB)
				}
			}
		})
	}
}

func foundPrefix(found map[string]bool, prefix string) bool {
	for id := range found {
		if strings.HasPrefix(id, prefix) {
			return true
		}
	}
	return false
}
