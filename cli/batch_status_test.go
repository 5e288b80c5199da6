package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"itdr-onboard/batch"
	"itdr-onboard/endpoints"
	"itdr-onboard/sim"
	"itdr-onboard/steps"
)

// startPendingBatchSim is the partner simulator with the 25 demo customers
// whose mapped integrations turn healthy an hour after mapping, on a clock
// the test moves forward (advance).
func startPendingBatchSim(t *testing.T) (*batchSim, func(time.Duration)) {
	t.Helper()
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	sc := sim.PartnerDemoScenario()
	sc.Platform.HealthyAfter = sim.Duration(time.Hour)
	return startPartnerSim(t, sc, sim.Options{Now: now}), func(d time.Duration) { offset.Add(int64(d)) }
}

// platformListRequests counts the simulator's GET /v1/integrations list
// requests (no tenant filter) from index from on.
func platformListRequests(bs *batchSim, from int) int {
	n := 0
	for _, r := range bs.srv.Requests()[from:] {
		if r.Group == sim.GroupPlatform && r.Method == "GET" && r.Path == "/platform/v1/integrations" {
			n++
		}
	}
	return n
}

func platformRequests(bs *batchSim, from int) int {
	n := 0
	for _, r := range bs.srv.Requests()[from:] {
		if r.Group == sim.GroupPlatform {
			n++
		}
	}
	return n
}

// A technician who left during the health wait comes back: the batch ended
// with tenants pending, time passed, and `batch status` reads their health
// with ONE platform request, shows them healthy and records it (progress,
// batch receipt) as the health wait does. Without platform credentials it
// says so plainly and shows the recorded state, sending nothing.
func TestBatchStatusRefreshesPendingHealthWithOneRequest(t *testing.T) {
	t.Parallel()
	bs, advance := startPendingBatchSim(t)
	args := bs.runArgs()
	for i, a := range args {
		if a == "--health-wait" {
			args[i+1] = "0" // the technician does not wait
		}
	}
	code, out, errs := runCLI(t, nil, args...)
	if code != batch.ExitHandedOff {
		t.Fatalf("batch run: exit %d\n%s\n%s", code, clipOut(out), errs)
	}
	ran, fin := batchFinished(t, out)
	id := fin["batch_id"].(string)
	var pending []string
	for tid, tn := range ran {
		if tn.State == steps.TenantPending {
			pending = append(pending, tid)
		}
		if tn.State == steps.TenantHealthy {
			t.Fatalf("%s healthy before its data could arrive", tn.Name)
		}
		// The truth at the end: the rung reached, health not watched, and
		// `batch status` of this batch as the next action.
		if tn.State == steps.TenantPending && (tn.Evidence == "" || tn.Next != batch.PendingNext(id) || !strings.Contains(tn.Message, "health not watched (--health-wait 0)")) {
			t.Errorf("%s pending at the end: %q / %q / %q", tn.Name, tn.Evidence, tn.Message, tn.Next)
		}
		if tn.Lane == sim.LaneSettling && !strings.Contains(tn.Next, "batch resume --batch "+id) {
			t.Errorf("%s settling beyond --settle-wait: next %q", tn.Name, tn.Next)
		}
	}
	if len(pending) != 10 {
		t.Fatalf("%d tenants pending after the run, want the 10 ready ones", len(pending))
	}
	advance(2 * time.Hour)

	// No platform credentials: said plainly, the recorded state shown, no
	// request, nothing written.
	noCreds := filepath.Join(t.TempDir(), "endpoints.json")
	ep, err := endpoints.Load(bs.ep)
	if err != nil {
		t.Fatal(err)
	}
	ep.PlatformAPIKey, ep.PlatformAPISecret = "", ""
	if err := ep.Save(noCreds); err != nil {
		t.Fatal(err)
	}
	progPath := filepath.Join(batch.Dir(bs.stateDir, id), batch.ProgressFile)
	progBefore, _ := os.ReadFile(progPath)
	n0 := len(bs.srv.Requests())
	code, sout, serr := runCLI(t, nil, "batch", "status", "--state-dir", bs.stateDir, "--endpoints", noCreds)
	if code != batch.ExitHandedOff {
		t.Fatalf("status without credentials: exit %d\n%s\n%s", code, sout, serr)
	}
	if !strings.Contains(sout, "Health not refreshed: no platform credentials") || !strings.Contains(sout, "Showing the state recorded at") ||
		!strings.Contains(sout, "10 pending") {
		t.Fatalf("status without credentials does not say it showed the recorded state:\n%s", sout)
	}
	if n := platformRequests(bs, n0); n != 0 {
		t.Fatalf("status without credentials sent %d platform requests", n)
	}
	code, jout, _ := runCLI(t, nil, "batch", "status", "--state-dir", bs.stateDir, "--endpoints", noCreds, "--json")
	if code != batch.ExitHandedOff || !strings.Contains(jout, `"type":"health_refresh"`) || !strings.Contains(jout, `"refreshed":false`) ||
		!strings.Contains(jout, `"reason":"no platform credentials`) {
		t.Fatalf("status --json without credentials: exit %d\n%s", code, jout)
	}
	if after, _ := os.ReadFile(progPath); string(after) != string(progBefore) {
		t.Fatal("status without credentials rewrote the progress")
	}
	t.Logf("without credentials:\n%s", sout)

	// With credentials (the endpoints file's): one list request, the ten
	// pending tenants healthy, and the record says so.
	n0 = len(bs.srv.Requests())
	code, sout, serr = runCLI(t, nil, "batch", "status", "--state-dir", bs.stateDir, "--endpoints", bs.ep)
	if code != batch.ExitHandedOff {
		t.Fatalf("status: exit %d\n%s\n%s", code, sout, serr)
	}
	if n, list := platformRequests(bs, n0), platformListRequests(bs, n0); n != 1 || list != 1 {
		t.Fatalf("status sent %d platform requests (%d list requests), want one list request", n, list)
	}
	if !strings.Contains(sout, "Health read now from the platform (one request): 10 of 10 pending tenants healthy.") ||
		!strings.Contains(sout, "10 healthy") || strings.Contains(sout, " pending ·") || strings.Contains(sout, "Pending (") {
		t.Fatalf("status after the data arrived:\n%s", sout)
	}
	t.Logf("with credentials:\n%s", sout)
	p, err := batch.LoadProgress(bs.stateDir, id)
	if err != nil {
		t.Fatal(err)
	}
	var rc batch.Receipt
	b, _ := os.ReadFile(filepath.Join(batch.Dir(bs.stateDir, id), batch.ReceiptFile))
	if err := json.Unmarshal(b, &rc); err != nil {
		t.Fatal(err)
	}
	outcome := map[string]steps.TenantState{}
	for _, rt := range rc.Tenants {
		outcome[rt.TenantID] = rt.Outcome
	}
	for _, tid := range pending {
		if st := p.Tenants[tid].State; st != steps.TenantHealthy || p.Tenants[tid].Evidence != "5 Platform confirms" {
			t.Errorf("%s: progress %s (%q), want healthy with the platform's confirmation", tid, st, p.Tenants[tid].Evidence)
		}
		if outcome[tid] != steps.TenantHealthy {
			t.Errorf("%s: batch receipt %s, want healthy", tid, outcome[tid])
		}
	}
	if rc.HealthRead.IsZero() || !rc.Ended.Before(rc.HealthRead) {
		t.Errorf("batch receipt: ended %v, health read %v", rc.Ended, rc.HealthRead)
	}

	// Nothing pending now: status sends nothing; --json says the same.
	n0 = len(bs.srv.Requests())
	code, jout, jerr := runCLI(t, nil, "batch", "status", "--state-dir", bs.stateDir, "--endpoints", bs.ep, "--json")
	if strings.Contains(jout, "health_refresh") {
		t.Errorf("a health refresh with nothing pending:\n%s", jout)
	}
	if code != batch.ExitHandedOff || platformRequests(bs, n0) != 0 {
		t.Fatalf("status with nothing pending: exit %d, %d requests\n%s\n%s", code, platformRequests(bs, n0), jout, jerr)
	}
	got, _ := batchFinished(t, jout)
	for _, tid := range pending {
		if got[tid].State != steps.TenantHealthy {
			t.Errorf("%s: %s in --json", tid, got[tid].State)
		}
	}
}

// A platform that does not answer: `batch status` says the health was not
// refreshed and why, shows the recorded state (still pending), and leaves
// the record as it was.
func TestBatchStatusPlatformDownShowsTheRecordedState(t *testing.T) {
	t.Parallel()
	bs, _ := startPendingBatchSim(t)
	args := bs.runArgs()
	for i, a := range args {
		if a == "--health-wait" {
			args[i+1] = "0"
		}
	}
	if code, out, errs := runCLI(t, nil, args...); code != batch.ExitHandedOff {
		t.Fatalf("batch run: exit %d\n%s\n%s", code, clipOut(out), errs)
	}
	id, err := batch.Latest(bs.stateDir, false)
	if err != nil {
		t.Fatal(err)
	}
	progPath := filepath.Join(batch.Dir(bs.stateDir, id), batch.ProgressFile)
	before, _ := os.ReadFile(progPath)
	bs.srv.Close()
	code, out, errs := runCLI(t, nil, "batch", "status", "--state-dir", bs.stateDir, "--endpoints", bs.ep)
	if code != batch.ExitHandedOff || !strings.Contains(out, "Health not refreshed: the platform did not answer") ||
		!strings.Contains(out, "Showing the state recorded at") || !strings.Contains(out, "10 pending") {
		t.Fatalf("status with the platform down: exit %d\n%s\n%s", code, out, errs)
	}
	if after, _ := os.ReadFile(progPath); string(after) != string(before) {
		t.Fatal("status with the platform down rewrote the progress")
	}
}
