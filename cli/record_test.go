package cli

// Issue 16 §2: the record is exact, also when the process dies.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"itdr-onboard/sim"
	"itdr-onboard/state"
	"itdr-onboard/steps"
)

// startKillOnWrite runs the CLI as a child process and SIGKILLs it once the
// simulator has applied the write op (its response body still dribbling
// out under a slow-body fault: the request is in flight).
func startKillOnWrite(t *testing.T, ts *testSim, args []string, op string) {
	t.Helper()
	raw, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "ITDR_ONBOARD_HELPER=1", "ITDR_ONBOARD_HELPER_ARGS="+string(raw))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(60 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-exited:
			t.Fatalf("the child ended (%v) before %s was applied:\n%s", err, op, out.String())
		case <-deadline:
			cmd.Process.Kill()
			<-exited
			t.Fatalf("%s was never applied:\n%s", op, out.String())
		case <-tick.C:
		}
		for _, c := range ts.srv.State().Changes() {
			if c.Op == op {
				if err := cmd.Process.Kill(); err != nil {
					t.Fatal(err)
				}
				<-exited
				return
			}
		}
	}
}

func TestRecordKillMidWriteNamesTheChangeOnceAsApplied(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SIGKILL")
	}
	t.Parallel()
	const op = "POST /roleManagement/directory/roleAssignments"
	ts := startSim(t, "typical", func(sc *sim.Scenario) {
		// The first directory-role assignment is applied at once and its
		// answer takes a minute: the kill lands while it is in flight.
		sc.Faults = []sim.FaultSpec{{Group: sim.GroupGraph, Method: "POST", Path: "/v1.0/roleManagement/directory/roleAssignments",
			Kind: sim.FaultSlowBody, Latency: sim.Duration(time.Minute), Count: 1}}
	})
	args := []string{"onboard", "--endpoints", ts.ep, "--state-dir", ts.stateDir, "--poll-base", "100ms",
		"--json", "--yes", "--org", "Contoso Ltd", "--tenant", contosoID}
	startKillOnWrite(t, ts, args, op)

	// The journal holds the in-flight intents with no outcome (the two
	// directory roles are assigned side by side: the slow one, and maybe
	// its sibling).
	jpath := filepath.Join(ts.stateDir, "tenants", contosoID, "journal.jsonl")
	killed := map[string]bool{}
	answered := map[int]bool{}
	entries := readJournal(t, jpath)
	for _, e := range entries {
		answered[e.Of] = true
	}
	for _, e := range entries {
		if e.Status == steps.JournalIntended && !answered[e.Seq] && strings.Contains(e.Change.Call, "roleAssignments") {
			killed[e.Change.ID] = true
		}
	}
	if len(killed) == 0 {
		t.Fatalf("no open intent for a role assignment was journaled before its request:\n%+v", entries)
	}
	// The progress file on disk named the onboarding's record before the
	// write was sent (the progress is written off the front-end's loop;
	// a write waits only for the record's name): the rerun resumes it.
	prog, err := state.Store{Dir: ts.stateDir}.LoadProgress(contosoID)
	if err != nil || prog == nil {
		t.Fatalf("progress after the kill: %+v, %v", prog, err)
	}
	for _, e := range entries {
		if killed[e.Change.ID] && e.Onboarding != prog.Onboarding {
			t.Fatalf("the killed write of record %q was sent while the progress file named %q", e.Onboarding, prog.Onboarding)
		}
	}

	code, out, errs := ts.onboard(t, "--json", "--yes", "--org", "Contoso Ltd", "--tenant", contosoID)
	if code != 0 {
		t.Fatalf("rerun: exit %d\n%s\n%s", code, out, errs)
	}
	// One receipt for the onboarding, naming every change once.
	receipts, _ := filepath.Glob(filepath.Join(ts.stateDir, "tenants", contosoID, "receipt-*.json"))
	if len(receipts) != 1 {
		t.Fatalf("receipts: %v", receipts)
	}
	var rc steps.Receipt
	b, _ := os.ReadFile(receipts[0])
	if err := json.Unmarshal(b, &rc); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	byInterrupted := 0
	for _, a := range rc.Changes {
		seen[a.Change.ID]++
		if killed[a.Change.ID] {
			if a.NoOp {
				t.Errorf("the killed change is recorded as found: %+v", a)
			}
			if strings.Contains(a.Note, "applied by an interrupted run") {
				byInterrupted++
			}
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("the receipt names %s %d times", id, n)
		}
	}
	for id := range killed {
		if seen[id] != 1 {
			t.Errorf("the receipt names the killed change %s %d times", id, seen[id])
		}
	}
	if byInterrupted == 0 || len(rc.Unknown) != 0 {
		t.Fatalf("no killed change is recorded as applied by the interrupted run (unknown %v):\n%s", rc.Unknown, b)
	}
	// Every write the tenant saw is in the receipt as applied, and the
	// final line counts them all (both runs).
	writes := len(ts.srv.State().Changes())
	if got := steps.ChangesMade(rc.Changes); got != writes {
		t.Errorf("the receipt has %d applied changes, the tenant saw %d writes:\n%s", got, writes, b)
	}
	if last := lastJSON(t, out); last["changes"] != float64(writes) {
		t.Errorf("finished event counts %v changes, want %d", last["changes"], writes)
	}
	// The audit trail names it once, as applied.
	audit := map[string]int{}
	ab, _ := os.ReadFile(filepath.Join(ts.stateDir, "audit.jsonl"))
	for _, l := range strings.Split(strings.TrimSpace(string(ab)), "\n") {
		var al steps.AuditLine
		if err := json.Unmarshal([]byte(l), &al); err != nil {
			t.Fatalf("audit line %q: %v", l, err)
		}
		audit[al.Change]++
		if killed[al.Change] && (al.Status != steps.JournalApplied || al.NoOp) {
			t.Errorf("audit line %+v, want applied", al)
		}
	}
	for id := range killed {
		if audit[id] != 1 {
			t.Errorf("the audit trail names the killed change %s %d times:\n%s", id, audit[id], ab)
		}
	}
}

func readJournal(t *testing.T, path string) []steps.JournalEntry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []steps.JournalEntry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e steps.JournalEntry
		if json.Unmarshal(sc.Bytes(), &e) == nil {
			out = append(out, e)
		}
	}
	return out
}
