package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"itdr-onboard/batch"
	"itdr-onboard/sim"
	"itdr-onboard/state"
	"itdr-onboard/steps"
)

// batchSim is the partner simulator with the 25 demo customers and its
// endpoints file, for `batch run --endpoints`.
type batchSim struct {
	srv      *sim.PartnerServer
	ep       string
	stateDir string
}

func startBatchSim(t *testing.T) *batchSim {
	t.Helper()
	return startBatchSimWith(t, sim.Options{})
}

// startBatchSimWith is startBatchSim with simulator options (latency).
func startBatchSimWith(t *testing.T, opt sim.Options) *batchSim {
	t.Helper()
	return startPartnerSim(t, sim.PartnerDemoScenario(), opt)
}

// startPartnerSim starts the partner simulator on a scenario and saves its
// endpoints file in a fresh directory, beside the state directory.
func startPartnerSim(t *testing.T, sc *sim.PartnerScenario, opt sim.Options) *batchSim {
	t.Helper()
	srv, err := sim.StartPartner(sc, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	dir := t.TempDir()
	ep := filepath.Join(dir, "endpoints.json")
	if err := srv.Endpoints().Save(ep); err != nil {
		t.Fatal(err)
	}
	return &batchSim{srv: srv, ep: ep, stateDir: filepath.Join(dir, "state")}
}

func (bs *batchSim) runArgs(extra ...string) []string {
	return append([]string{"batch", "run", "--endpoints", bs.ep, "--auth", "device", "--state-dir", bs.stateDir, "--json",
		"--all", "--yes", "--parallel", "4", "--settle-wait", "0", "--health-poll", "100ms", "--health-wait", "1m"}, extra...)
}

// wantOutcome is the end of each demo customer by the generator's lane.
func wantOutcome(lane string) steps.TenantState {
	switch lane {
	case sim.LaneReady, sim.LaneReadyConsented:
		return steps.TenantHealthy
	case sim.LaneSettling, sim.LaneConnected, sim.LaneConflict:
		return steps.TenantSkipped // settling: --settle-wait 0 leaves it for batch resume
	}
	return steps.TenantHandedOff // partial, not-assigned, no-gdap, ca-blocked, no-exchange
}

// batchFinished returns the JSON "finished" event's tenants by id.
func batchFinished(t *testing.T, out string) (map[string]steps.BatchTenant, map[string]any) {
	t.Helper()
	var fin map[string]any
	tenants := map[string]steps.BatchTenant{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		if ev["tenant_id"] != nil && ev["type"] != "finished" && ev["step"] != "signin" && ev["tenant"] == nil {
			t.Fatalf("a tenant event without the tenant's name: %s", line)
		}
		if ev["type"] == "finished" && ev["step"] == "batch" {
			fin = ev
			var f struct {
				Tenants []steps.BatchTenant `json:"tenants"`
			}
			if err := json.Unmarshal([]byte(line), &f); err != nil {
				t.Fatal(err)
			}
			for _, tn := range f.Tenants {
				tenants[tn.TenantID] = tn
			}
		}
	}
	if fin == nil {
		t.Fatalf("no finished event:\n%s", out)
	}
	return tenants, fin
}

// writesOnce fails when a customer tenant's simulator saw one change twice
// (the same operation on the same target), or the platform mapped a tenant
// twice; it returns the number of changes seen.
func writesOnce(t *testing.T, bs *batchSim, mapped int) int {
	t.Helper()
	n := 0
	for _, c := range bs.srv.Scenario().Customers {
		st := bs.srv.TenantState(c.TenantID)
		if st == nil {
			continue
		}
		seen := map[string]int{}
		for _, ch := range st.Changes() {
			seen[ch.Service+" "+ch.Op+" "+ch.Target]++
			n++
		}
		for k, v := range seen {
			if v > 1 {
				t.Errorf("%s (%s): %q applied %d times", c.DisplayName, c.Lane, k, v)
			}
		}
	}
	created, consents := 0, map[string]int{}
	for _, r := range bs.srv.Requests() {
		if r.Method == "POST" && r.Path == "/platform/v1/integrations" && r.Status == 201 {
			created++
		}
		if r.Method == "POST" && strings.HasSuffix(r.Path, "/applicationconsents") && (r.Status == 201 || r.Status == 200) {
			consents[r.Path]++
		}
	}
	for p, v := range consents {
		if v > 1 {
			t.Errorf("%s granted %d times", p, v)
		}
	}
	if created != mapped {
		t.Errorf("the platform created %d integrations for %d tenants mapped", created, mapped)
	}
	return n
}

// mappedTenants counts the tenants with a "mapped" event in JSON outputs.
func mappedTenants(outs ...string) int {
	seen := map[string]bool{}
	for _, out := range outs {
		for _, line := range strings.Split(out, "\n") {
			var ev map[string]any
			if json.Unmarshal([]byte(line), &ev) == nil && ev["type"] == "mapped" {
				seen[ev["tenant_id"].(string)] = true
			}
		}
	}
	return len(seen)
}

// platformPeak is the largest number of platform requests in any 60 s
// window of the request log.
func platformPeak(recs []sim.RequestRecord) int {
	var ts []time.Time
	for _, r := range recs {
		if r.Group == sim.GroupPlatform {
			ts = append(ts, r.Time)
		}
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	peak := 0
	for i, j := 0, 0; j < len(ts); j++ {
		for ts[j].Sub(ts[i]) >= time.Minute {
			i++
		}
		peak = max(peak, j-i+1)
	}
	return peak
}

// Acceptance (issue 21): the 25-customer batch after one sign-in ends with
// the right outcome per tenant, no duplicate writes, the platform under 60
// requests a minute, and a record naming every tenant.
func TestBatchRun25CustomersOutcomesAndNoDuplicateWrites(t *testing.T) {
	t.Parallel()
	bs := startBatchSim(t)
	code, out, errs := runCLI(t, nil, bs.runArgs()...)
	if code != batch.ExitHandedOff {
		t.Fatalf("exit %d, want %d (some handed off)\n%s\n%s", code, batch.ExitHandedOff, clipOut(out), errs)
	}
	tenants, fin := batchFinished(t, out)
	if fin["outcome"] != "handed-off" || len(tenants) != 25 {
		t.Fatalf("finished: %v (%d tenants)", fin["outcome"], len(tenants))
	}
	for _, c := range bs.srv.Scenario().Customers {
		got := tenants[c.TenantID]
		if want := wantOutcome(c.Lane); got.State != want {
			t.Errorf("%s (%s): %s, want %s — %s", c.DisplayName, c.Lane, got.State, want, got.Message)
		}
		if got.State == steps.TenantHandedOff && (got.HandOff == nil || got.HandOff.Reason == "" || got.HandOff.CustomerAction == "" || got.HandOff.Link == "") {
			t.Errorf("%s handed off without a reason, an action and one link: %+v", c.DisplayName, got.HandOff)
		}
		if got.State == steps.TenantHealthy && (got.ReceiptPath == "" || got.Changes == 0) {
			t.Errorf("%s healthy without a receipt or changes: %+v", c.DisplayName, got)
		}
	}
	signIns := strings.Count(out, `"type":"signed_in"`)
	if signIns != 1 {
		t.Errorf("%d sign-ins, want one", signIns)
	}
	if mappedTenants(out) < 10 {
		t.Errorf("%d tenants mapped, want every healthy one", mappedTenants(out))
	}
	if n := writesOnce(t, bs, mappedTenants(out)); n == 0 {
		t.Fatal("no change reached any customer tenant")
	}
	if p := platformPeak(bs.srv.Requests()); p > 60 {
		t.Errorf("the platform saw %d requests in one minute", p)
	}
	// The batch's record: manifest (no token), receipt naming every tenant,
	// hand-off files; batch status reads them back.
	id := fin["batch_id"].(string)
	dir := batch.Dir(bs.stateDir, id)
	man, err := os.ReadFile(filepath.Join(dir, batch.ManifestFile))
	if err != nil || strings.Contains(strings.ToLower(string(man)), "token\"") || strings.Contains(string(man), "eyJ") {
		t.Fatalf("manifest: %v\n%s", err, man)
	}
	rc, _ := os.ReadFile(filepath.Join(dir, batch.ReceiptFile))
	for id := range tenants {
		if !strings.Contains(string(rc), id) {
			t.Fatalf("the batch receipt does not name %s", id)
		}
	}
	code, sout, serr := runCLI(t, nil, "batch", "status", "--state-dir", bs.stateDir)
	if code != batch.ExitHandedOff || !strings.Contains(sout, "10 healthy") || !strings.Contains(sout, "10 handed-off") {
		t.Fatalf("batch status: exit %d\n%s\n%s", code, sout, serr)
	}
	csvPath := filepath.Join(t.TempDir(), "h.csv")
	mdPath := filepath.Join(t.TempDir(), "h.md")
	if code, hout, herr := runCLI(t, nil, "batch", "handoff", "--state-dir", bs.stateDir, "--csv", csvPath, "--md", mdPath); code != 0 {
		t.Fatalf("batch handoff: %d\n%s\n%s", code, hout, herr)
	}
	csvb, _ := os.ReadFile(csvPath)
	md, _ := os.ReadFile(mdPath)
	if strings.Count(string(csvb), "\n") != 11 || strings.Count(string(md), "\n## ") != 10 {
		t.Fatalf("hand-off export:\n%s\n%s", csvb, md)
	}
}

// The batch asks once: without --yes and without a terminal it stops before
// any tenant is touched, naming --yes.
func TestBatchRunWithoutYesHeadlessChangesNothing(t *testing.T) {
	t.Parallel()
	bs := startBatchSim(t)
	args := bs.runArgs()
	var kept []string
	for _, a := range args {
		if a != "--yes" {
			kept = append(kept, a)
		}
	}
	code, out, errs := runCLI(t, nil, kept...)
	if code != ExitUsage || !strings.Contains(errs, "--yes") {
		t.Fatalf("exit %d\n%s\n%s", code, clipOut(out), errs)
	}
	for _, r := range bs.srv.Requests() {
		if r.Method != "GET" && (r.Group == sim.GroupPartnerCenter || r.Group == sim.GroupPlatform) {
			t.Fatalf("a write before the confirmation: %s %s", r.Method, r.Path)
		}
	}
	if ids, _ := batch.List(bs.stateDir); len(ids) != 0 {
		t.Fatalf("a manifest was written without a confirmation: %v", ids)
	}
	if code, _, errs := runCLI(t, nil, "batch", "run", "--endpoints", bs.ep, "--state-dir", bs.stateDir, "--all", "--all-ready"); code != ExitUsage || !strings.Contains(errs, "exactly one") {
		t.Fatalf("two selections: %d %s", code, errs)
	}
}

func clipOut(s string) string {
	if len(s) > 4000 {
		return s[:2000] + "\n…\n" + s[len(s)-2000:]
	}
	return s
}

// startBatchKill runs `batch run` as a child process and SIGKILLs it once
// its JSON output shows n tenants mapped.
func startBatchKill(t *testing.T, args []string, n int) string {
	t.Helper()
	raw, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "ITDR_ONBOARD_HELPER=1", "ITDR_ONBOARD_HELPER_ARGS="+string(raw))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	mapped := 0
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<16), 1<<22)
	var seen []string
	for sc.Scan() {
		seen = append(seen, sc.Text())
		if strings.Contains(sc.Text(), `"type":"mapped"`) {
			mapped++
			if mapped == n {
				if err := cmd.Process.Kill(); err != nil {
					t.Fatal(err)
				}
				_ = cmd.Wait()
				return strings.Join(seen, "\n")
			}
		}
	}
	_ = cmd.Wait()
	t.Fatalf("the child ended after %d mappings, before %d:\n%s", mapped, n, clipOut(strings.Join(seen, "\n")))
	return ""
}

// Acceptance (issue 21): SIGKILL mid-batch, then `batch resume`: every
// tenant ends as in an uninterrupted run, done tenants are not run again,
// and each change appears once — in the simulator and in each tenant's
// receipt.
func TestBatchSIGKILLThenResumeEndsLikeAnUninterruptedRun(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SIGKILL")
	}
	t.Parallel()
	// The uninterrupted run, on a simulator of its own.
	ref := startBatchSim(t)
	code, out, errs := runCLI(t, nil, ref.runArgs()...)
	if code != batch.ExitHandedOff {
		t.Fatalf("reference run: exit %d\n%s\n%s", code, clipOut(out), errs)
	}
	want, _ := batchFinished(t, out)

	bs := startBatchSim(t)
	killedOut := startBatchKill(t, bs.runArgs(), 3)
	id, err := batch.Latest(bs.stateDir, true)
	if err != nil {
		t.Fatalf("no unfinished batch after the kill: %v", err)
	}
	before, err := batch.LoadProgress(bs.stateDir, id)
	if err != nil || before.Finished {
		t.Fatalf("progress after the kill: %+v %v", before, err)
	}
	doneBefore := map[string]bool{}
	for tid, p := range before.Tenants {
		if p.State == steps.TenantHealthy || p.State == steps.TenantPending {
			doneBefore[tid] = true
		}
	}
	code, out, errs = runCLI(t, nil, "batch", "resume", "--endpoints", bs.ep, "--auth", "device", "--state-dir", bs.stateDir, "--json")
	if code != batch.ExitHandedOff {
		t.Fatalf("resume: exit %d\n%s\n%s", code, clipOut(out), errs)
	}
	got, fin := batchFinished(t, out)
	if fin["batch_id"] != id {
		t.Fatalf("resumed batch %v, want %s", fin["batch_id"], id)
	}
	for tid, w := range want {
		if got[tid].State != w.State {
			t.Errorf("%s: %s after resume, %s uninterrupted (%s)", w.Name, got[tid].State, w.State, got[tid].Message)
		}
	}
	// Done tenants were not run again: no step of theirs in the resume.
	for _, line := range strings.Split(out, "\n") {
		var ev map[string]any
		if json.Unmarshal([]byte(line), &ev) != nil {
			continue
		}
		if tid, _ := ev["tenant_id"].(string); doneBefore[tid] && ev["type"] == "step_started" {
			t.Errorf("%s was done before the kill and ran again", ev["tenant"])
		}
	}
	writesOnce(t, bs, mappedTenants(killedOut, out))
	// Each tenant's record names each change once, across both runs.
	for tid, tn := range got {
		if tn.State != steps.TenantHealthy {
			continue
		}
		receipts, _ := filepath.Glob(filepath.Join(bs.stateDir, "tenants", tid, "receipt-*.json"))
		if len(receipts) != 1 {
			t.Errorf("%s: %d receipts, want one for its onboarding", tn.Name, len(receipts))
			continue
		}
		var rc steps.Receipt
		b, _ := os.ReadFile(receipts[0])
		if err := json.Unmarshal(b, &rc); err != nil {
			t.Fatal(err)
		}
		ids := map[string]int{}
		for _, a := range rc.Changes {
			ids[a.Change.ID]++
			if ids[a.Change.ID] > 1 {
				t.Errorf("%s: change %s twice in the receipt", tn.Name, a.Change.ID)
			}
		}
	}
	p, _ := batch.LoadProgress(bs.stateDir, id)
	if !p.Finished || p.Runs != 2 {
		t.Fatalf("progress after resume: finished %v runs %d", p.Finished, p.Runs)
	}
}

// One run per batch: while a live run holds the batch's lock, `batch resume`
// of the same batch is refused with exit 3, names the lock file, and writes
// neither the manifest nor the progress.
func TestBatchResumeRefusedWhileAnotherRunHoldsTheBatch(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SIGKILL")
	}
	t.Parallel()
	bs := startBatchSim(t)
	startBatchKill(t, bs.runArgs(), 1)
	id, err := batch.Latest(bs.stateDir, true)
	if err != nil {
		t.Fatalf("no unfinished batch after the kill: %v", err)
	}
	dir := batch.Dir(bs.stateDir, id)
	// This process stands in for a live run holding the batch (the killed
	// child's lock is stale and taken over).
	l, err := state.Store{Dir: bs.stateDir}.AcquireDirLock(dir, "batch "+id, "batch", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	snapshot := func() map[string]string {
		m := map[string]string{}
		files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		for _, f := range files {
			b, _ := os.ReadFile(f)
			m[filepath.Base(f)] = string(b)
		}
		return m
	}
	before := snapshot()
	code, out, errs := runCLI(t, nil, "batch", "resume", "--batch", id, "--endpoints", bs.ep, "--auth", "device", "--state-dir", bs.stateDir)
	if code != ExitStopped {
		t.Fatalf("resume while held: exit %d, want %d\n%s\n%s", code, ExitStopped, clipOut(out), errs)
	}
	if !strings.Contains(errs, "holds batch "+id) || !strings.Contains(errs, filepath.Join(dir, state.LockFile)) {
		t.Errorf("the refusal does not name the batch and its lock file:\n%s", errs)
	}
	after := snapshot()
	if len(before) == 0 || len(after) != len(before) {
		t.Fatalf("batch files before %d, after %d", len(before), len(after))
	}
	for f, b := range before {
		if after[f] != b {
			t.Errorf("%s was rewritten by the refused resume", f)
		}
	}
}

// A finished batch with tenants handed off is what `batch resume` without
// --batch continues (the hand-offs say "then batch resume" once the customer
// has acted); a finished batch with nothing left is refused, naming why.
func TestBatchResumeWithoutIDTakesTheNewestFinishedBatchWithHandOffs(t *testing.T) {
	t.Parallel()
	bs := startBatchSim(t)
	code, out, errs := runCLI(t, nil, bs.runArgs()...)
	if code != batch.ExitHandedOff {
		t.Fatalf("batch run: exit %d\n%s\n%s", code, clipOut(out), errs)
	}
	first, fin := batchFinished(t, out)
	id, _ := fin["batch_id"].(string)
	handedOff := 0
	for _, tn := range first {
		if tn.State == steps.TenantHandedOff {
			handedOff++
		}
	}
	if handedOff == 0 {
		t.Fatal("the demo batch handed off no tenant")
	}
	code, out, errs = runCLI(t, nil, "batch", "resume", "--endpoints", bs.ep, "--auth", "device", "--state-dir", bs.stateDir, "--json")
	if code != batch.ExitHandedOff {
		t.Fatalf("resume: exit %d\n%s\n%s", code, clipOut(out), errs)
	}
	if want := fmt.Sprintf("resuming the newest, %s, for its %d tenant(s) handed off or failed", id, handedOff); !strings.Contains(errs, want) {
		t.Fatalf("resume did not say which batch it took (%q):\n%s", want, errs)
	}
	if _, fin := batchFinished(t, out); fin["batch_id"] != id {
		t.Fatalf("resumed batch %v, want %s", fin["batch_id"], id)
	}
	if p, err := batch.LoadProgress(bs.stateDir, id); err != nil || !p.Finished || p.Runs != 2 {
		t.Fatalf("progress after the resume: %+v %v", p, err)
	}

	// Nothing handed off or failed: nothing to resume, nothing written.
	p, err := batch.LoadProgress(bs.stateDir, id)
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range p.Tenants {
		if tp.State == steps.TenantHandedOff || tp.State == steps.TenantFailed {
			tp.State = steps.TenantSkipped
		}
	}
	if err := batch.SaveProgress(bs.stateDir, p); err != nil {
		t.Fatal(err)
	}
	_, again, err := batch.ToResume(bs.stateDir)
	if err == nil || again != 0 || !strings.Contains(err.Error(), "nothing to resume") || !strings.Contains(err.Error(), "--batch ID") {
		t.Fatalf("a finished batch with nothing left: %d, %v", again, err)
	}
}
