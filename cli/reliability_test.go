package cli

// Acceptance tests of issue 7 (reliability and security), run as a new user
// would: the real commands against in-process simulators.

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"itdr-onboard/sim"
	"itdr-onboard/state"
	"itdr-onboard/steps"
)

// ---------------------------------------------------------------------------
// Helpers

var guidRE = regexp.MustCompile(`(?i)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// canonicalState is the simulator's state with generated ids and times
// replaced by what they stand for (service principals by app id), sorted.
func canonicalState(t *testing.T, srv *sim.Server) string {
	t.Helper()
	s := srv.State().Snapshot()
	spApp := map[string]string{}
	for _, sp := range s.ServicePrincipals {
		spApp[sp.ID] = "sp:" + sp.AppID
	}
	name := func(id string) string {
		if a, ok := spApp[id]; ok {
			return a
		}
		return id // users and pre-existing objects keep the scenario's ids
	}
	var lines []string
	add := func(f string, a ...any) { lines = append(lines, fmt.Sprintf(f, a...)) }
	roles := append([]string(nil), s.OrganizationManagementRoles...)
	sort.Strings(roles)
	add("exo roles %v audit=%t dehydrated=%t", roles, s.UnifiedAuditLogIngestionEnabled, s.Dehydrated)
	for _, sp := range s.ServicePrincipals {
		add("sp %s %q", sp.AppID, sp.DisplayName)
	}
	for _, sp := range s.DeletedServicePrincipals {
		add("deleted sp %s", sp.AppID)
	}
	for _, a := range s.RoleAssignments {
		add("role %s %s %s", name(a.PrincipalID), strings.ToLower(a.RoleDefinitionID), a.DirectoryScopeID)
	}
	for _, a := range s.AppRoleAssignments {
		add("approle %s %s %s", name(a.PrincipalID), a.ResourceAppID, a.Permission)
	}
	for _, g := range s.OAuth2PermissionGrants {
		add("grant %s %s %s %q", name(g.ClientID), g.ConsentType, name(g.ResourceID), g.Scope)
	}
	for _, in := range s.Integrations {
		add("integration %s %s %s %s", in.TenantID, in.OrganizationID, in.Status, in.ReasonCode)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// changeKeys lists the simulator's writes with ids normalised, sorted; it
// fails the test when one write was recorded twice.
func changeKeys(t *testing.T, srv *sim.Server) []string {
	t.Helper()
	seen := map[string]int{}
	var keys []string
	for _, c := range srv.State().Changes() {
		k := c.Service + " " + c.Op + " " + c.Target
		seen[k]++
		if seen[k] == 2 {
			t.Errorf("duplicate write: %s", k)
		}
		keys = append(keys, c.Service+" "+c.Op+" "+guidRE.ReplaceAllString(c.Target, "<id>"))
	}
	sort.Strings(keys)
	return keys
}

var (
	cleanOnce  sync.Once
	cleanState string
	cleanKeys  []string
	cleanErr   string
)

// cleanRun is the reference: typical, no faults, onboarded to Contoso Ltd.
func cleanRun(t *testing.T) (string, []string) {
	t.Helper()
	cleanOnce.Do(func() {
		ts := startSim(t, "typical", nil)
		code, out, errs := ts.onboard(t, "--json", "--yes", "--org", "Contoso Ltd", "--tenant", contosoID)
		if code != 0 {
			cleanErr = fmt.Sprintf("clean run: exit %d\n%s\n%s", code, out, errs)
			return
		}
		cleanState, cleanKeys = canonicalState(t, ts.srv), changeKeys(t, ts.srv)
	})
	if cleanErr != "" {
		t.Fatal(cleanErr)
	}
	if len(cleanKeys) == 0 {
		t.Fatal("the clean run changed nothing; the comparison would be vacuous")
	}
	return cleanState, cleanKeys
}

func lastJSON(t *testing.T, out string) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
		t.Fatalf("last line is not JSON: %q", lines[len(lines)-1])
	}
	return m
}

func jsonEvents(out string) []map[string]any {
	var evs []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<16), 1<<22)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			evs = append(evs, m)
		}
	}
	return evs
}

func hasEvent(out, typ string) bool {
	for _, e := range jsonEvents(out) {
		if e["type"] == typ {
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------------------
// Fault matrix

// matrixFaults makes one fault class hit one endpoint group: a rate-limited,
// count-limited fault on any request of the group, plus one on a write of
// the group (so a faulted write must be re-checked, not repeated).
func matrixFaults(group, kind string) []sim.FaultSpec {
	write := sim.FaultSpec{Group: group, Kind: kind, Method: "POST", Count: 1}
	switch group {
	case sim.GroupGraph:
		write.Path = "/v1.0/servicePrincipals" // creating the SP and granting its app roles
		write.Count = 2
	case sim.GroupPlatform:
		write.Path = "/v1/integrations"
	case sim.GroupIdentity:
		write.Path = "*/oauth2/v2.0/token"
	}
	general := sim.FaultSpec{Group: group, Kind: kind, Rate: 0.3, Count: 2}
	for _, f := range []*sim.FaultSpec{&write, &general} {
		switch kind {
		case sim.Fault429:
			f.RetryAfter = 1
		case sim.FaultSlowBody:
			f.Latency = sim.Duration(200 * time.Millisecond)
		}
	}
	return []sim.FaultSpec{write, general}
}

// concurrently runs subtests up to n at a time. The runs mostly wait
// (Retry-After, health polls, the simulator's shutdown), so more of them
// than -parallel (GOMAXPROCS) fit at once.
func concurrently(t *testing.T, n int, names []string, fn func(t *testing.T, name string)) {
	t.Helper()
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for _, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			t.Run(name, func(t *testing.T) { fn(t, name) })
		}()
	}
	wg.Wait()
}

func TestReliabilityFaultMatrix(t *testing.T) {
	wantState, wantKeys := cleanRun(t)
	var names []string
	for _, group := range []string{sim.GroupIdentity, sim.GroupGraph, sim.GroupExchange, sim.GroupPlatform} {
		for _, kind := range []string{sim.Fault429, sim.Fault503, sim.FaultReset, sim.FaultSlowBody} {
			names = append(names, group+"/"+kind)
		}
	}
	concurrently(t, 8, names, func(t *testing.T, name string) {
		group, kind, _ := strings.Cut(name, "/")
		ts := startSim(t, "typical", func(sc *sim.Scenario) {
			sc.Seed = 7
			sc.Faults = matrixFaults(group, kind)
		})
		code, out, errs := ts.onboard(t, "--json", "--yes", "--org", "Contoso Ltd", "--tenant", contosoID)
		if code != 0 {
			var reqs []string
			for _, r := range ts.srv.Requests() {
				if r.Group == group {
					reqs = append(reqs, fmt.Sprintf("%s %s %s %d %s", r.Time.Format("15:04:05.000"), r.Method, r.Path, r.Status, r.Fault))
				}
			}
			t.Fatalf("exit %d, want 0\n%s\n%s\n%s requests:\n%s", code, out, errs, group, strings.Join(reqs, "\n"))
		}
		if last := lastJSON(t, out); last["type"] != "finished" || last["outcome"] != "healthy" {
			t.Fatalf("last event %v", last)
		}
		fired := 0
		for _, r := range ts.srv.Requests() {
			if r.Group == group && strings.Contains(r.Fault, kind) {
				fired++
			}
		}
		if fired == 0 {
			t.Fatalf("no %s fault fired on %s: the test proves nothing", kind, group)
		}
		if got := canonicalState(t, ts.srv); got != wantState {
			t.Errorf("final state differs from a clean run\nclean:\n%s\nfaulted:\n%s", wantState, got)
		}
		if got := changeKeys(t, ts.srv); strings.Join(got, "\n") != strings.Join(wantKeys, "\n") {
			t.Errorf("writes differ from a clean run\nclean:\n%s\nfaulted:\n%s", strings.Join(wantKeys, "\n"), strings.Join(got, "\n"))
		}
	})
}

// ---------------------------------------------------------------------------
// Resume after SIGKILL

// TestHelperProcess is the CLI in a child process (the resume test kills it).
func TestHelperProcess(t *testing.T) {
	if os.Getenv("ITDR_ONBOARD_HELPER") != "1" {
		t.Skip("runs only as the resume test's child process")
	}
	var args []string
	if err := json.Unmarshal([]byte(os.Getenv("ITDR_ONBOARD_HELPER_ARGS")), &args); err != nil {
		fmt.Fprintln(os.Stderr, "bad helper args:", err)
		os.Exit(99)
	}
	os.Exit(Run(context.Background(), args, IO{In: strings.NewReader(""), Out: os.Stdout, Err: os.Stderr,
		Env: func(string) string { return "" }}))
}

// startKillAt runs the CLI as a child process and SIGKILLs it when its JSON
// output shows an event of type typ (for step, when step != "").
func startKillAt(t *testing.T, args []string, typ, step string) (seen []string) {
	t.Helper()
	raw, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "ITDR_ONBOARD_HELPER=1", "ITDR_ONBOARD_HELPER_ARGS="+string(raw))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<16), 1<<22)
	for sc.Scan() {
		seen = append(seen, sc.Text())
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			continue
		}
		if m["type"] == typ && (step == "" || m["step"] == step) {
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			killed = true
			break
		}
	}
	go io.Copy(io.Discard, stdout)
	_ = cmd.Wait() // reaps the child: its pid is dead from here on
	if !killed {
		t.Fatalf("the child finished before %s %s\nstdout:\n%s\nstderr:\n%s", typ, step, strings.Join(seen, "\n"), stderr.String())
	}
	return seen
}

func TestReliabilityResumeAfterSIGKILL(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SIGKILL")
	}
	wantState, wantKeys := cleanRun(t)
	points := []struct{ name, typ, step string }{
		{"prereqs", "step_started", string(steps.Prereqs)},
		{"signin", "step_started", string(steps.SignIn)},
		{"roles", "step_started", string(steps.Roles)},
		{"mid-fix", "change_applied", ""},
		{"mapping", "step_started", string(steps.Mapping)},
		{"health", "step_started", string(steps.Health)},
	}
	var names []string
	byName := map[string]int{}
	for i, p := range points {
		names = append(names, p.name)
		byName[p.name] = i
	}
	concurrently(t, 6, names, func(t *testing.T, name string) {
		p := points[byName[name]]
		ts := startSim(t, "typical", nil)
		args := []string{"onboard", "--endpoints", ts.ep, "--state-dir", ts.stateDir, "--poll-base", "100ms",
			"--json", "--yes", "--org", "Contoso Ltd", "--tenant", contosoID}
		startKillAt(t, args, p.typ, p.step)

		// The killed run left a lock and a progress file, both whole.
		st := state.Store{Dir: ts.stateDir}
		prog, err := st.LoadProgress(contosoID)
		if err != nil || prog == nil || prog.Finished {
			t.Fatalf("progress after the kill: %+v, %v", prog, err)
		}
		if _, err := st.ReadLock(contosoID); err != nil {
			t.Fatalf("the killed run left no lock: %v", err)
		}

		code, out, errs := ts.onboard(t, "--json", "--yes", "--org", "Contoso Ltd", "--tenant", contosoID)
		if code != 0 {
			t.Fatalf("rerun: exit %d\n%s\n%s", code, out, errs)
		}
		if !hasEvent(out, "resume") {
			t.Errorf("the rerun did not offer to resume:\n%s", out)
		}
		if !strings.Contains(errs, "took over the lock") {
			t.Errorf("the rerun did not take over the dead run's lock; stderr:\n%s", errs)
		}
		if got := changeKeys(t, ts.srv); strings.Join(got, "\n") != strings.Join(wantKeys, "\n") {
			t.Errorf("writes differ from a clean run\nclean:\n%s\nkilled+rerun:\n%s", strings.Join(wantKeys, "\n"), strings.Join(got, "\n"))
		}
		if got := canonicalState(t, ts.srv); got != wantState {
			t.Errorf("final state differs from a clean run\nclean:\n%s\nkilled+rerun:\n%s", wantState, got)
		}
		prog, err = st.LoadProgress(contosoID)
		if err != nil || !prog.Finished || prog.IntegrationID == "" || prog.ResumedFrom == nil || len(prog.Completed) != 5 {
			t.Errorf("final progress %+v, %v", prog, err)
		}
		if _, err := st.ReadLock(contosoID); !os.IsNotExist(err) {
			t.Errorf("lock not released: %v", err)
		}
	})
}

// TestResumeFillsOrganizationAndAsks: --yes resumes with the saved
// organization; without --yes and a terminal it only says how to resume; on
// a terminal it asks.
func TestResumeFillsOrganizationAndAsks(t *testing.T) {
	t.Parallel()
	ts := startSim(t, "typical", nil)
	st := state.Store{Dir: ts.stateDir}
	saved := time.Date(2026, 11, 24, 17, 30, 0, 0, time.UTC)
	save := func() {
		if err := st.SaveProgress(&state.Progress{TenantID: contosoID, TenantName: "Contoso Ltd", OrganizationID: "org_contoso",
			OrganizationName: "Contoso Ltd", Completed: []string{"signin", "prereqs"}, StartedAt: saved, UpdatedAt: saved}); err != nil {
			t.Fatal(err)
		}
	}
	save()
	// Headless, no --yes: not resumed, told how; the plan needs --yes anyway.
	code, out, errs := ts.onboard(t, "--plain", "--tenant", contosoID)
	if code != 2 || !strings.Contains(errs, "pass --yes to resume") || strings.Contains(out, "Resuming") {
		t.Fatalf("headless without --yes: exit %d\n%s\n%s", code, out, errs)
	}
	ts.assertUnchanged(t)

	// --yes, no --org: resumed with the saved organization.
	save()
	code, out, errs = ts.onboard(t, "--plain", "--yes", "--tenant", contosoID)
	if code != 0 || !strings.Contains(out, "Resuming the onboarding of Contoso Ltd ("+contosoID+") from ") ||
		!strings.Contains(out, "(last completed: prereqs)") {
		t.Fatalf("--yes resume: exit %d\n%s\n%s", code, out, errs)
	}
	snap := ts.srv.State().Snapshot()
	if len(snap.Integrations) != 1 || snap.Integrations[0].OrganizationID != "org_contoso" {
		t.Fatalf("integrations %+v", snap.Integrations)
	}
	// Finished: nothing to resume any more.
	code, out, errs = ts.onboard(t, "--plain", "--yes", "--org", "Contoso Ltd", "--tenant", contosoID)
	if code != 0 || strings.Contains(out, "Resuming") {
		t.Fatalf("after a finished run: exit %d\n%s\n%s", code, out, errs)
	}

	// On a terminal: asked, and the answers after it still reach the plan question.
	ts2 := startSim(t, "typical", nil)
	st2 := state.Store{Dir: ts2.stateDir}
	if err := st2.SaveProgress(&state.Progress{TenantID: contosoID, OrganizationID: "org_contoso", Completed: []string{"signin"}, UpdatedAt: saved}); err != nil {
		t.Fatal(err)
	}
	var o, e bytes.Buffer
	code = Run(context.Background(), []string{"onboard", "--endpoints", ts2.ep, "--state-dir", ts2.stateDir, "--poll-base", "100ms", "--plain", "--tenant", contosoID},
		IO{In: strings.NewReader("y\ny\ny\ny\n"), Out: &o, Err: &e, IsTTY: true, Env: headlessEnv})
	if code != 0 || !strings.Contains(o.String(), "Resume it? [y/N]") || !strings.Contains(o.String(), "Resuming the onboarding") {
		t.Fatalf("interactive resume: exit %d\n%s\n%s", code, o.String(), e.String())
	}
}

// ---------------------------------------------------------------------------
// Lock

func TestLockSecondRunNamesHolderAndExits3(t *testing.T) {
	t.Parallel()
	holder := exec.Command("sleep", "60")
	if err := holder.Start(); err != nil {
		t.Skip("no sleep binary")
	}
	defer func() { holder.Process.Kill(); holder.Wait() }()
	for _, withTenant := range []bool{true, false} {
		ts := startSim(t, "typical", nil)
		dir := filepath.Join(ts.stateDir, "tenants", contosoID)
		os.MkdirAll(dir, 0o700)
		li, _ := json.Marshal(state.LockInfo{PID: holder.Process.Pid, Host: state.Hostname(), StartedAt: time.Now().Add(-time.Minute)})
		if err := os.WriteFile(filepath.Join(dir, state.LockFile), li, 0o600); err != nil {
			t.Fatal(err)
		}
		args := []string{"--plain", "--yes", "--org", "Contoso Ltd"}
		if withTenant {
			args = append(args, "--tenant", contosoID)
		}
		code, out, errs := ts.onboard(t, args...)
		want := fmt.Sprintf("pid %d on %s", holder.Process.Pid, state.Hostname())
		if code != 3 || !strings.Contains(errs, want) {
			t.Fatalf("--tenant given=%t: exit %d, want 3 naming %q\n%s\n%s", withTenant, code, want, out, errs)
		}
		ts.assertUnchanged(t)
		if b, _ := os.ReadFile(filepath.Join(dir, state.LockFile)); !bytes.Equal(b, li) {
			t.Errorf("the holder's lock was touched: %s", b)
		}
	}
}

func TestStateDirMustBeADirectory(t *testing.T) {
	ts := startSim(t, "typical", nil)
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, []byte("x"), 0o600)
	code, out, errs := runCLI(t, nil, "onboard", "--endpoints", ts.ep, "--state-dir", f, "--plain", "--yes", "--tenant", contosoID)
	if code != 2 || !strings.Contains(errs, "--state-dir") {
		t.Fatalf("exit %d, want 2 naming --state-dir\n%s\n%s", code, out, errs)
	}
	ts.assertUnchanged(t)
}

// ---------------------------------------------------------------------------
// SSH hint

func TestSSHWithoutTmuxSuggestsIt(t *testing.T) {
	t.Parallel()
	ts := startSim(t, "ready", nil)
	for _, c := range []struct {
		env  map[string]string
		hint bool
	}{
		{map[string]string{"SSH_CONNECTION": "10.0.0.1 5555 10.0.0.2 22"}, true},
		{map[string]string{"SSH_CONNECTION": "10.0.0.1 5555 10.0.0.2 22", "TMUX": "/tmp/tmux-1000/default,1,0"}, false},
		{map[string]string{"SSH_CONNECTION": "10.0.0.1 5555 10.0.0.2 22", "STY": "1234.pts-0.host"}, false},
		{map[string]string{}, false},
	} {
		env := func(k string) string { return c.env[k] }
		code, out, errs := runCLI(t, env, "onboard", "--endpoints", ts.ep, "--state-dir", t.TempDir(), "--poll-base", "100ms",
			"--plain", "--yes", "--org", "Contoso Ltd", "--auth", "device")
		if code != 0 {
			t.Fatalf("exit %d\n%s\n%s", code, out, errs)
		}
		if got := strings.Contains(errs, "tmux or screen"); got != c.hint {
			t.Errorf("env %v: hint shown=%t, want %t\n%s", c.env, got, c.hint, errs)
		}
	}
}

// ---------------------------------------------------------------------------
// Hostile input

func TestHostileTextFromAPIsIsInert(t *testing.T) {
	t.Parallel()
	const evil = "\x1b]52;c;ZWNobyBwd25lZA==\x07\x1b[2J\x1b[H"
	mutate := func(sc *sim.Scenario) {
		sc.Tenant.DisplayName = "Contoso" + evil + " Ltd"
		for i := range sc.Platform.Organizations {
			sc.Platform.Organizations[i].Name += evil
		}
		for i := range sc.Users {
			sc.Users[i].DisplayName = "User" + evil
		}
	}
	for _, mode := range []string{"--plain", "--json"} {
		// already-mapped: the 409 names the other organization (hostile).
		ts := startSim(t, "already-mapped", mutate)
		code, out, errs := ts.onboard(t, mode, "--yes", "--org", "org_contoso", "--tenant", contosoID)
		if code == 0 {
			t.Fatalf("%s: a tenant mapped elsewhere onboarded without --remap\n%s", mode, out)
		}
		if !strings.Contains(out+errs, "Fabrikam") {
			t.Errorf("%s: the other organization is not named:\n%s\n%s", mode, out, errs)
		}
		for name, s := range map[string]string{"stdout": out, "stderr": errs} {
			if i := strings.IndexAny(s, "\x1b\x07\x9b"); i >= 0 {
				t.Errorf("%s %s carries a control byte at %d: %q", mode, name, i, s[max(0, i-40):min(len(s), i+40)])
			}
		}
		// typical with hostile names all the way to Healthy.
		ts = startSim(t, "typical", mutate)
		code, out, errs = ts.onboard(t, mode, "--yes", "--org", "org_contoso", "--tenant", contosoID)
		if code != 0 {
			t.Fatalf("%s typical: exit %d\n%s\n%s", mode, code, out, errs)
		}
		for name, s := range map[string]string{"stdout": out, "stderr": errs} {
			if i := strings.IndexAny(s, "\x1b\x07\x9b"); i >= 0 {
				t.Errorf("%s %s carries a control byte at %d: %q", mode, name, i, s[max(0, i-40):min(len(s), i+40)])
			}
		}
		if !strings.Contains(out, "Contoso") {
			t.Errorf("%s: the tenant name vanished entirely:\n%s", mode, out)
		}
	}
}

// ---------------------------------------------------------------------------
// Redaction and the support bundle

func readBundle(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	files := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[strings.TrimPrefix(h.Name, "itdr-onboard-support/")] = string(b)
	}
	return files
}

func TestRedactionNoIssuedSecretAnywhere(t *testing.T) {
	t.Parallel()
	ts := startSim(t, "typical", nil)
	work := t.TempDir()
	logFile := filepath.Join(work, "run.log")
	code, out, errs := ts.onboard(t, "--json", "--yes", "--org", "Contoso Ltd", "--log-file", logFile, "--tenant", contosoID)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	bundle := filepath.Join(work, "support.tar.gz")
	bcode, bout, berrs := runCLI(t, nil, "support-bundle", "--state-dir", ts.stateDir, "--log-file", logFile, "--endpoints", ts.ep, "--out", bundle)
	if bcode != 0 {
		t.Fatalf("support-bundle: exit %d\n%s\n%s", bcode, bout, berrs)
	}
	files := readBundle(t, bundle)
	for _, name := range []string{"info.json", "progress.json", "receipts.json", "log.jsonl", "requests.json", "errors.json", "README.txt"} {
		if _, ok := files[name]; !ok {
			t.Errorf("bundle lacks %s (has %v)", name, files)
		}
	}
	// What support needs is really there.
	var info map[string]any
	json.Unmarshal([]byte(files["info.json"]), &info)
	if info["version"] != Version || info["go_version"] != runtime.Version() || info["os"] != runtime.GOOS {
		t.Errorf("info.json: %s", files["info.json"])
	}
	if hosts, _ := info["hosts"].(map[string]any); hosts == nil || !strings.HasPrefix(fmt.Sprint(hosts["graph"]), "127.0.0.1:") {
		t.Errorf("info.json hosts: %s", files["info.json"])
	}
	var progress []state.Progress
	if err := json.Unmarshal([]byte(files["progress.json"]), &progress); err != nil || len(progress) != 1 ||
		len(progress[0].Steps) != 5 || progress[0].Steps[0].StartedAt.IsZero() || progress[0].IntegrationID == "" {
		t.Errorf("progress.json (%v): %s", err, files["progress.json"])
	}
	var receipts []bundleReceipt
	if err := json.Unmarshal([]byte(files["receipts.json"]), &receipts); err != nil || len(receipts) == 0 || len(receipts[0].Changes) == 0 {
		t.Errorf("receipts.json (%v): %s", err, files["receipts.json"])
	}
	var reqs requestSummary
	if err := json.Unmarshal([]byte(files["requests.json"]), &reqs); err != nil || reqs.Total == 0 || len(reqs.Slowest) == 0 {
		t.Errorf("requests.json (%v): %s", err, files["requests.json"])
	}
	if !strings.Contains(files["log.jsonl"], `"request_id":"`) {
		t.Errorf("log.jsonl has no request ids:\n%.2000s", files["log.jsonl"])
	}

	secrets := ts.srv.IssuedSecrets()
	if len(secrets) < 4 {
		t.Fatalf("the simulator reported only %d secrets", len(secrets))
	}
	logb, _ := os.ReadFile(logFile)
	hay := map[string]string{"stdout": out, "stderr": errs, "log": string(logb), "bundle stdout": bout + berrs}
	for name, content := range files {
		hay["bundle:"+name] = content
	}
	filepath.WalkDir(ts.stateDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			hay["state:"+strings.TrimPrefix(p, ts.stateDir)] = string(b)
		}
		return nil
	})
	if len(hay) < 12 {
		t.Fatalf("too little scanned: %d places", len(hay))
	}
	for _, s := range secrets {
		if len(s) < 8 {
			continue
		}
		for name, h := range hay {
			if strings.Contains(h, s) {
				t.Errorf("%s contains a secret the simulator issued (%.6s…)", name, s)
			}
		}
	}
	for name, content := range files {
		if regexp.MustCompile(`(?i)authorization"?\s*[:=]|bearer\s+[A-Za-z0-9]|eyJ[A-Za-z0-9_-]{8,}`).MatchString(content) {
			t.Errorf("bundle %s looks like it carries a credential", name)
		}
	}
}

// TestSupportBundleScrubsWhatTheLogShouldNeverHold: even a log someone
// wrote by hand with credentials in it does not carry them into a bundle.
func TestSupportBundleScrubsWhatTheLogShouldNeverHold(t *testing.T) {
	dir := t.TempDir()
	logFile := filepath.Join(dir, "run.log")
	jwt := "eyJhbGciOiJub25lIn0.eyJ0aWQiOiJ4In0.c2lnbmF0dXJl"
	lines := []string{
		`{"time":"2026-11-25T10:00:00Z","level":"DEBUG","msg":"http","method":"POST","host":"login.microsoftonline.com","path":"/t/oauth2/v2.0/token","status":400,"request_id":"rid-1","authorization":"Bearer ` + jwt + `"}`,
		`{"time":"2026-11-25T10:00:01Z","level":"WARN","msg":"http","error":"refresh_token=0.ARoAv4j5cvGGr0GRqy180BHbR secret leaked","device_code":"DAQABAAEAAAD--DLA3VO7QrddgJg7WevrAg"}`,
		`not json Authorization: Basic aGtfZGVtbzpoc19kZW1vX3NlY3JldA==`,
		`{"time":"2026-11-25T10:00:02Z","level":"ERROR","msg":"step_failed","step":"mapping","error":"POST /v1/integrations: unavailable (request id rid-9) code_verifier=abcdefghijklmnopqrstuvwxyz0123456789"}`,
	}
	os.WriteFile(logFile, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
	out := filepath.Join(dir, "b.tar.gz")
	code, o, e := runCLI(t, nil, "support-bundle", "--state-dir", filepath.Join(dir, "none"), "--log-file", logFile, "--out", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, o, e)
	}
	files := readBundle(t, out)
	all := ""
	for _, c := range files {
		all += c
	}
	for _, bad := range []string{jwt, "0.ARoAv4j5cvGGr0GRqy180BHbR", "DAQABAAEAAAD", "aGtfZGVtbzpoc19kZW1vX3NlY3JldA", "abcdefghijklmnopqrstuvwxyz0123456789"} {
		if strings.Contains(all, bad) {
			t.Errorf("bundle carries %q", bad)
		}
	}
	for _, good := range []string{"rid-1", "rid-9", "step_failed", "login.microsoftonline.com"} {
		if !strings.Contains(all, good) {
			t.Errorf("bundle lost %q", good)
		}
	}
}

func TestSupportBundleFlagsAreValidated(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"support-bundle", "--out", "/nonexistent-dir/x.tar.gz"}, "--out"},
		{[]string{"support-bundle", "--out", filepath.Join(t.TempDir(), "x.zip")}, "--out"},
		{[]string{"support-bundle", "--log-file", "/nonexistent/run.log", "--out", filepath.Join(t.TempDir(), "x.tar.gz")}, "--log-file"},
		{[]string{"support-bundle", "--cloud", "mars", "--out", filepath.Join(t.TempDir(), "x.tar.gz")}, "--cloud"},
		{[]string{"support-bundle", "--endpoints", "/nonexistent.json", "--out", filepath.Join(t.TempDir(), "x.tar.gz")}, "--endpoints"},
		{[]string{"onboard", "--poll-base", "-1s"}, "--poll-base"},
		{[]string{"onboard", "--client-id", "not-a-guid"}, "--client-id"},
		{[]string{"onboard", "--token-cache", "floppy"}, "--token-cache"},
		{[]string{"onboard", "--log-file", "/nonexistent-dir/run.log", "--tenant", contosoID}, "--log-file"},
		{[]string{"onboard", "--wait", "-5m"}, "--wait"},
		{[]string{"onboard", "--tenant", "common"}, "--tenant"},
		{[]string{"onboard", "--tenant", "evil\x1b[2J.example"}, "--tenant"},
	}
	for _, c := range cases {
		code, out, errs := runCLI(t, nil, c.args...)
		if code != 2 || !strings.Contains(errs, c.want) {
			t.Errorf("%q: exit %d, stderr %q; want 2 naming %s", c.args, code, errs, c.want)
		}
		if strings.ContainsRune(out+errs, '\x1b') {
			t.Errorf("%q: output echoes an escape byte", c.args)
		}
	}
}

// TestStateTenantDirMatchesReceipts pins that the progress file and lock
// live next to the receipts.
func TestStateTenantDirMatchesReceipts(t *testing.T) {
	for _, id := range []string{contosoID, "../../etc", "a/b", "", "Contoso.onmicrosoft.com"} {
		r := (&steps.Receipts{Dir: "/s"}).TenantDir(id)
		if s := (state.Store{Dir: "/s"}).TenantDir(id); s != r {
			t.Errorf("%q: state %s, receipts %s", id, s, r)
		}
	}
}
