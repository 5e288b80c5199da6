package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"itdr-onboard/partner"
	"itdr-onboard/sim"
	"itdr-onboard/state"
	"itdr-onboard/steps"
)

// setupSim starts a partner simulator whose onboarding app is in state app
// and writes its endpoints file.
func setupSim(t *testing.T, app string, edit func(*sim.PartnerScenario)) (*sim.PartnerServer, string, string) {
	t.Helper()
	sc := sim.GeneratePartnerScenario(4, 11)
	sc.Partner.App = app
	if edit != nil {
		edit(sc)
	}
	srv, err := sim.StartPartner(sc, sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	dir := t.TempDir()
	ep := filepath.Join(dir, "ep.json")
	if err := srv.Endpoints().Save(ep); err != nil {
		t.Fatal(err)
	}
	return srv, ep, filepath.Join(dir, "state")
}

// writesSince are the partner tenant's write requests logged after n.
func writesSince(srv *sim.PartnerServer, n int) []string {
	var out []string
	for _, r := range srv.Requests()[n:] {
		if r.Method != "GET" && strings.HasPrefix(r.Path, "/graph/") {
			out = append(out, r.Method+" "+r.Path)
		}
	}
	return out
}

// Create from nothing, verified and saved; setup again finds nothing to
// do; batch plan then signs in with the saved app (the endpoints file's
// client id is not registered: the simulator would refuse it, 700016).
func TestPartnerSetupCreatesThenNothingToDo(t *testing.T) {
	t.Parallel()
	srv, ep, stateDir := setupSim(t, sim.PartnerAppAbsent, func(sc *sim.PartnerScenario) { sc.AppReplication = sim.Duration(500e6) })
	code, out, errs := runCLI(t, nil, "partner", "setup", "--endpoints", ep, "--state-dir", stateDir, "--json", "--yes", "--auth", "device")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	last := lastJSON(t, out)
	appID, _ := last["app_id"].(string)
	if last["outcome"] != "set-up" || appID == "" || last["changes"] != float64(5) {
		t.Fatalf("finished: %v", last)
	}
	for _, f := range last["findings"].([]any) {
		if f.(map[string]any)["ok"] != true {
			t.Errorf("finding not ok after setup: %v", f)
		}
	}
	apps := srv.PartnerApps()
	if len(apps) != 1 || apps[0].AppID != appID || !apps[0].Public || apps[0].Audience != "AzureADMultipleOrgs" || len(apps[0].Consented) != 3 {
		t.Fatalf("partner tenant apps: %+v", apps)
	}
	if got := strings.Join(apps[0].Scopes[partner.ExchangeAppID], " "); got != "Exchange.Manage" {
		t.Fatalf("Exchange permissions %q", got)
	}
	// The new app's service principal was refused while it replicated
	// (400), then created after the bounded wait — once.
	var spPosts []int
	for _, r := range srv.Requests() {
		if r.Method == "POST" && r.Path == "/graph/v1.0/servicePrincipals" {
			spPosts = append(spPosts, r.Status)
		}
	}
	if len(spPosts) < 2 || spPosts[0] != 400 || spPosts[len(spPosts)-1] != 201 {
		t.Fatalf("POST /servicePrincipals statuses %v, want 400 … 201", spPosts)
	}
	cfg, err := state.Store{Dir: filepath.Join(stateDir, "partner")}.LoadPartnerConfig()
	if err != nil || cfg == nil || cfg.ClientID != appID || cfg.PartnerTenantID != srv.PartnerTenantID() {
		t.Fatalf("config %+v, %v", cfg, err)
	}

	n := len(srv.Requests())
	code, out, errs = runCLI(t, nil, "partner", "setup", "--endpoints", ep, "--state-dir", stateDir, "--json", "--auth", "device")
	if code != 0 {
		t.Fatalf("again: exit %d\n%s\n%s", code, out, errs)
	}
	if last := lastJSON(t, out); last["outcome"] != "nothing-to-do" || last["app_id"] != appID || last["changes"] != float64(0) {
		t.Fatalf("again: %v", last)
	}
	if w := writesSince(srv, n); len(w) != 0 {
		t.Fatalf("the second setup wrote: %v", w)
	}

	code, out, errs = runCLI(t, nil, "batch", "plan", "--endpoints", ep, "--state-dir", stateDir, "--json", "--auth", "device")
	if code != 0 {
		t.Fatalf("batch plan with the saved app: exit %d\n%s\n%s", code, out, errs)
	}
	if last := lastJSON(t, out); last["outcome"] != "discovered" {
		t.Fatalf("batch plan: %v", last)
	}
}

// A hand-made app with a missing permission (and an extra one, single
// tenant, public client flows off, never consented): the dry run's plan names each and
// writes nothing; --yes fixes them and verifies; the app then signs in.
func TestPartnerSetupValidatesAndFixesHandMadeApp(t *testing.T) {
	t.Parallel()
	srv, ep, stateDir := setupSim(t, sim.PartnerAppHandMade, nil)
	appID := srv.Scenario().Partner.AppID
	code, out, errs := runCLI(t, nil, "partner", "setup", "--endpoints", ep, "--state-dir", stateDir, "--plain", "--dry-run", "--client-id", appID, "--auth", "device")
	if code != 0 {
		t.Fatalf("dry run: exit %d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{"Dry run: nothing in the tenant changed. The plan that partner setup would apply",
		"add Office 365 Exchange Online: Exchange.Manage", "remove Microsoft Graph: Mail.Read",
		"Turn public client flows on", "Consent Office 365 Exchange Online", "Make the app multi-tenant: signInAudience AzureADMyOrg → AzureADMultipleOrgs"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out)
		}
	}
	if w := writesSince(srv, 0); len(w) != 0 {
		t.Fatalf("the dry run wrote to the partner tenant: %v", w)
	}
	for _, f := range []string{"partner/config.json", "partner/audit.jsonl", "partner/tenants/" + srv.PartnerTenantID() + "/journal.jsonl"} {
		if _, err := os.Stat(filepath.Join(stateDir, f)); err == nil {
			t.Errorf("the dry run wrote %s", f)
		}
	}

	code, out, errs = runCLI(t, nil, "partner", "setup", "--endpoints", ep, "--state-dir", stateDir, "--json", "--yes", "--client-id", appID, "--auth", "device")
	if code != 0 {
		t.Fatalf("fix: exit %d\n%s\n%s", code, out, errs)
	}
	if last := lastJSON(t, out); last["outcome"] != "set-up" || last["changes"] != float64(6) {
		t.Fatalf("fix: %v", last)
	}
	a := srv.PartnerApps()[0]
	if !a.Public || a.Audience != "AzureADMultipleOrgs" || strings.Join(a.Scopes[partner.ExchangeAppID], " ") != "Exchange.Manage" || strings.Contains(strings.Join(a.Scopes[partner.GraphAppID], " "), "Mail.Read") ||
		a.Consented[partner.PartnerCenterAppID] != "user_impersonation" {
		t.Fatalf("after the fix: %+v", a)
	}
	// The onboarding app itself now signs in (public client, consented)
	// and Partner Center takes its token.
	code, out, errs = runCLI(t, nil, "partner", "sign-in", "--endpoints", ep, "--state-dir", stateDir, "--json", "--auth", "device")
	if code != 0 || !strings.Contains(out, `"ok":true`) {
		t.Fatalf("sign-in with the fixed app: exit %d\n%s\n%s", code, out, errs)
	}
}

// Changes need Global, Cloud Application or Application Administrator: a
// technician without one gets the plan to hand over and nothing is sent.
func TestPartnerSetupRefusesWithoutARole(t *testing.T) {
	t.Parallel()
	srv, ep, stateDir := setupSim(t, sim.PartnerAppAbsent, func(sc *sim.PartnerScenario) {
		sc.Partner.Users[0].DirectoryRoles = []string{"Privileged Role Administrator"}
	})
	code, out, errs := runCLI(t, nil, "partner", "setup", "--endpoints", ep, "--state-dir", stateDir, "--json", "--yes", "--auth", "device")
	if code != ExitStopped {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	last := lastJSON(t, out)
	if msg, _ := last["message"].(string); !strings.Contains(msg, "holds none of the roles") || !strings.Contains(last["remedy"].(string), "POST /applications") {
		t.Fatalf("finished: %v", last)
	}
	if w := writesSince(srv, 0); len(w) != 0 {
		t.Fatalf("wrote without a role: %v", w)
	}
}

// SIGKILLed right after the partner tenant registered the app (its answer
// never read): the intent stays open; the next run settles it by a read as
// applied by the interrupted run, registers no second app, and the journal
// and audit trail name the registration once.
func TestPartnerSetupKilledMidWriteRecordsOnce(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SIGKILL")
	}
	t.Parallel()
	srv, ep, stateDir := setupSim(t, sim.PartnerAppAbsent, nil)
	raw, _ := json.Marshal([]string{"partner", "setup", "--endpoints", ep, "--state-dir", stateDir, "--json", "--yes", "--auth", "device"})
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "ITDR_ONBOARD_HELPER=1", "ITDR_ONBOARD_HELPER_ARGS="+string(raw))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	exited := make(chan struct{})
	var once sync.Once
	var killed atomic.Bool
	started := make(chan *os.Process, 1)
	// The simulator applied the registration; before its answer is sent
	// the child dies.
	srv.SetWriteHook(func(method, path string) {
		if method == "POST" && strings.EqualFold(path, "/graph/v1.0/applications") {
			once.Do(func() {
				killed.Store((<-started).Kill() == nil)
				<-exited
			})
		}
	})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	started <- cmd.Process
	go func() { _ = cmd.Wait(); close(exited) }()
	select {
	case <-exited:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-exited
		t.Fatalf("the child never registered the app:\n%s", out.String())
	}
	if !killed.Load() {
		t.Fatalf("the child ended before the registration:\n%s", out.String())
	}
	srv.SetWriteHook(nil)
	jpath := filepath.Join(stateDir, "partner", "tenants", srv.PartnerTenantID(), "journal.jsonl")
	open := 0
	answered := map[int]bool{}
	entries := readJournal(t, jpath)
	for _, e := range entries {
		answered[e.Of] = true
	}
	for _, e := range entries {
		if e.Status == steps.JournalIntended && !answered[e.Seq] && e.Change.ID == partner.ChangeCreateApp {
			open++
		}
	}
	if open != 1 || len(srv.PartnerApps()) != 1 {
		t.Fatalf("open intents %d, apps %d:\n%+v", open, len(srv.PartnerApps()), entries)
	}

	c2, out2, errs2 := runCLI(t, nil, "partner", "setup", "--endpoints", ep, "--state-dir", stateDir, "--json", "--yes", "--auth", "device")
	if c2 != 0 {
		t.Fatalf("rerun: exit %d\n%s\n%s", c2, out2, errs2)
	}
	if apps := srv.PartnerApps(); len(apps) != 1 || len(apps[0].Consented) != 3 {
		t.Fatalf("apps after the rerun: %+v", apps)
	}
	intents, applied := 0, 0
	for _, e := range readJournal(t, jpath) {
		if e.Change.ID != partner.ChangeCreateApp {
			continue
		}
		switch e.Status {
		case steps.JournalIntended:
			intents++
		case steps.JournalApplied:
			applied++
			if !strings.Contains(e.Note, "applied by an interrupted run") {
				t.Errorf("resolution note %q", e.Note)
			}
		default:
			t.Errorf("create-app %s", e.Status)
		}
	}
	if intents != 1 || applied != 1 {
		t.Fatalf("create-app: %d intents, %d applied", intents, applied)
	}
	audit := 0
	ab, _ := os.ReadFile(filepath.Join(stateDir, "partner", "audit.jsonl"))
	for _, l := range strings.Split(strings.TrimSpace(string(ab)), "\n") {
		var al steps.AuditLine
		if err := json.Unmarshal([]byte(l), &al); err != nil {
			t.Fatalf("audit line %q: %v", l, err)
		}
		if al.Change == partner.ChangeCreateApp {
			audit++
			if al.Status != steps.JournalApplied || al.NoOp {
				t.Errorf("audit %+v", al)
			}
		}
	}
	if audit != 1 {
		t.Fatalf("the audit trail names the registration %d times:\n%s", audit, ab)
	}
	if last := lastJSON(t, out2); last["outcome"] != "set-up" {
		t.Fatalf("rerun: %v", last)
	}
}

// One setup per partner tenant: while another run holds the tenant's lock,
// partner setup --partner-tenant stops (exit 3) before signing in.
func TestPartnerSetupTakesThePartnerTenantLock(t *testing.T) {
	t.Parallel()
	srv, ep, stateDir := setupSim(t, sim.PartnerAppAbsent, nil)
	l, err := state.Store{Dir: filepath.Join(stateDir, "partner")}.AcquireLockFor(srv.PartnerTenantID(), "partner setup", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI(t, nil, "partner", "setup", "--endpoints", ep, "--state-dir", stateDir, "--json", "--yes", "--auth", "device", "--partner-tenant", srv.PartnerTenantID())
	l.Release()
	if code != ExitStopped {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	if reqs := srv.Requests(); len(reqs) != 0 {
		t.Fatalf("%d requests while locked, first %s %s", len(reqs), reqs[0].Method, reqs[0].Path)
	}
	if code, out, errs := runCLI(t, nil, "partner", "setup", "--endpoints", ep, "--state-dir", stateDir, "--json", "--yes", "--auth", "device", "--partner-tenant", srv.PartnerTenantID()); code != 0 {
		t.Fatalf("after release: exit %d\n%s\n%s", code, out, errs)
	}
}

// Without --partner-tenant the partner tenant is known once the sign-in
// names it: setup takes the same lock then, before it reads the tenant.
// A second setup while the first holds it is refused (exit 3) after its
// sign-in, reading and writing nothing in the partner tenant and nothing
// in the state directory; once the lock is free, setup runs and holds no
// lock after it.
func TestPartnerSetupWithoutPartnerTenantTakesTheLockAfterSignIn(t *testing.T) {
	t.Parallel()
	srv, ep, stateDir := setupSim(t, sim.PartnerAppAbsent, nil)
	dir := filepath.Join(stateDir, "partner")
	l, err := state.Store{Dir: dir}.AcquireLockFor(srv.PartnerTenantID(), "partner setup", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	files := func() []string {
		var out []string
		filepath.WalkDir(stateDir, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				out = append(out, p)
			}
			return nil
		})
		return out
	}
	before := files()
	code, out, errs := runCLI(t, nil, "partner", "setup", "--endpoints", ep, "--state-dir", stateDir, "--json", "--yes", "--auth", "device")
	if code != ExitStopped {
		l.Release()
		t.Fatalf("exit %d, want 3\n%s\n%s", code, out, errs)
	}
	last := lastJSON(t, out)
	if last["outcome"] != "stopped" || !strings.Contains(last["message"].(string), `another run of "itdr-onboard partner setup" holds tenant `+srv.PartnerTenantID()) {
		t.Errorf("finished: %v", last)
	}
	for _, r := range srv.Requests() {
		// The sign-in and its reads of who signed in, nothing of setup.
		if strings.HasPrefix(r.Path, "/graph/") && r.Path != "/graph/v1.0/organization" && r.Path != "/graph/v1.0/me" {
			t.Errorf("the refused setup asked the partner tenant %s %s", r.Method, r.Path)
		}
	}
	if len(srv.PartnerApps()) != 0 {
		t.Errorf("the refused setup created %+v", srv.PartnerApps())
	}
	if after := files(); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("the refused setup wrote in the state directory:\nbefore %v\nafter  %v", before, after)
	}
	l.Release()

	code, out, errs = runCLI(t, nil, "partner", "setup", "--endpoints", ep, "--state-dir", stateDir, "--json", "--yes", "--auth", "device")
	if code != 0 || lastJSON(t, out)["outcome"] != "set-up" || len(srv.PartnerApps()) != 1 {
		t.Fatalf("after release: exit %d\n%s\n%s", code, out, errs)
	}
	// The lock was released at the end: another setup takes it.
	l2, err := state.Store{Dir: dir}.AcquireLockFor(srv.PartnerTenantID(), "partner setup", time.Now())
	if err != nil {
		t.Fatalf("setup left its lock held: %v", err)
	}
	l2.Release()
}
