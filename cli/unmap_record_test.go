package cli

// Issue 16 §2: unmap's removals are journaled write-ahead, and an intended
// removal whose outcome is unknown (the process was killed while its
// request was in flight) is settled by a read when unmap runs again and
// recorded with what was found.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"itdr-onboard/sim"
	"itdr-onboard/steps"
)

func TestRecordKillMidRemovalIsReconciledOnResume(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SIGKILL")
	}
	t.Parallel()
	for _, c := range []struct {
		name, path, op string
	}{
		// A directory role's deletion: the run again removes what is left
		// (its first write settles the open intent).
		{"role assignment", "/v1.0/roleManagement/directory/roleAssignments", "DELETE /roleManagement/directory/roleAssignments"},
		// The last deletion: the run again finds nothing to remove and
		// settles it at its end.
		{"service principal", "/v1.0/servicePrincipals", "DELETE /servicePrincipals"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ts := startSim(t, "typical", func(sc *sim.Scenario) {
				// The deletion is applied at once and its answer takes a
				// minute: the kill lands while it is in flight.
				sc.Faults = []sim.FaultSpec{{Group: sim.GroupGraph, Method: "DELETE", Path: c.path,
					Kind: sim.FaultSlowBody, Latency: sim.Duration(time.Minute), Count: 1}}
			})
			if code, out, errs := ts.onboard(t, "--json", "--yes", "--org", "Contoso Ltd", "--tenant", contosoID); code != 0 {
				t.Fatalf("onboard: exit %d\n%s\n%s", code, out, errs)
			}
			args := []string{"unmap", "--endpoints", ts.ep, "--state-dir", ts.stateDir, "--tenant", contosoID,
				"--remove-access", "--yes", "--json"}
			startKillOnWrite(t, ts, args, c.op)

			jpath := filepath.Join(ts.stateDir, "tenants", contosoID, "journal.jsonl")
			open := openIntents(readJournal(t, jpath))
			killed := ""
			for _, e := range open {
				if strings.HasPrefix(e.Change.ID, "unmap/") && strings.HasPrefix(e.Change.Call, "DELETE "+strings.TrimPrefix(c.path, "/v1.0")) {
					killed = e.Change.ID
				}
			}
			if killed == "" {
				t.Fatalf("no open intent for the killed removal was journaled before its request: %+v", open)
			}

			code, out, errs := runCLI(t, nil, args...)
			if code != 0 {
				t.Fatalf("unmap again: exit %d\n%s\n%s", code, out, errs)
			}
			if left := openIntents(readJournal(t, jpath)); len(left) != 0 {
				t.Fatalf("intents still open after the run again: %+v", left)
			}
			// One receipt for the unmap (the interrupted run's record,
			// continued), naming every removal once; the killed one as
			// removed by the interrupted run, found absent on resume.
			rc, raw := unmapReceipt(t, ts.stateDir)
			seen := map[string]int{}
			for _, a := range rc.Changes {
				seen[a.Change.ID]++
				if a.Change.ID == killed && (a.NoOp || !strings.Contains(a.Note, "removed by an interrupted run") || !strings.Contains(a.Note, "found absent on resume at")) {
					t.Errorf("the killed removal is recorded as %+v", a)
				}
			}
			for _, want := range []string{"unmap/integration", "unmap/service-principal", killed} {
				if seen[want] != 1 {
					t.Errorf("the receipt names %s %d times:\n%s", want, seen[want], raw)
				}
			}
			roles := 0
			for id, n := range seen {
				if n != 1 {
					t.Errorf("the receipt names %s %d times", id, n)
				}
				if strings.HasPrefix(id, "unmap/role/") {
					roles++
				}
			}
			if roles != 2 || len(rc.Unknown) != 0 {
				t.Errorf("directory role removals %d (want 2), unknown %v:\n%s", roles, rc.Unknown, raw)
			}
			// Every deletion the tenant saw is in the receipt as made.
			deletes := 0
			for _, ch := range ts.srv.State().Changes() {
				if strings.HasPrefix(ch.Op, "DELETE ") {
					deletes++
				}
			}
			if got := steps.ChangesMade(rc.Changes); got != deletes {
				t.Errorf("the receipt has %d removals made, the tenant saw %d deletions:\n%s", got, deletes, raw)
			}
			// The audit trail names the killed removal once, as applied,
			// with how its outcome was learnt.
			n := 0
			for _, al := range readAudit(t, ts.stateDir) {
				if al.Change != killed {
					continue
				}
				n++
				if al.Status != steps.JournalApplied || al.NoOp || !strings.Contains(al.Note, "removed by an interrupted run") {
					t.Errorf("audit line %+v, want applied by the interrupted run", al)
				}
			}
			if n != 1 {
				t.Errorf("the audit trail names the killed removal %d times", n)
			}
		})
	}
}

func openIntents(entries []steps.JournalEntry) []steps.JournalEntry {
	answered := map[int]bool{}
	for _, e := range entries {
		answered[e.Of] = true
	}
	var out []steps.JournalEntry
	for _, e := range entries {
		if e.Status == steps.JournalIntended && !answered[e.Seq] {
			out = append(out, e)
		}
	}
	return out
}

// unmapReceipt reads the tenant's one receipt that names unmap's removals.
func unmapReceipt(t *testing.T, stateDir string) (steps.Receipt, string) {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(stateDir, "tenants", contosoID, "receipt-*.json"))
	var found []steps.Receipt
	var raw string
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var rc steps.Receipt
		if err := json.Unmarshal(b, &rc); err != nil {
			t.Fatal(err)
		}
		for _, a := range rc.Changes {
			if strings.HasPrefix(a.Change.ID, "unmap/") {
				found, raw = append(found, rc), string(b)
				break
			}
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d receipts name unmap's removals, want 1 (%v)", len(found), paths)
	}
	return found[0], raw
}
