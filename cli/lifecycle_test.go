package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"itdr-onboard/internal/testutil"
	"itdr-onboard/m365"
	"itdr-onboard/sim"
	"itdr-onboard/steps"
	"itdr-onboard/ui/text"
)

const simTenant = "3f9c8f2e-6d0b-4c1e-9a57-1b2d3c4e5f60"

// syncBuf is a bytes.Buffer safe to read while the CLI writes to it.
type syncBuf = testutil.SyncBuffer

// lcScenario loads a built-in scenario with instant sign-in and short
// health and consent durations.
func lcScenario(t *testing.T, name string, mutate func(*sim.Scenario)) *sim.Scenario {
	t.Helper()
	sc, err := sim.LoadScenario(name)
	if err != nil {
		t.Fatal(err)
	}
	sc.SignIn.ApproveDelay = 0
	sc.Platform.HealthyAfter = sim.Duration(200 * time.Millisecond)
	if mutate != nil {
		mutate(sc)
	}
	return sc
}

// lcEnv is one simulator plus an endpoints file and a state dir shared by
// several commands.
type lcEnv struct {
	srv      *sim.Server
	ep       string
	stateDir string
}

func startEnv(t *testing.T, sc *sim.Scenario) *lcEnv {
	t.Helper()
	srv, err := sim.Start(sc, sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Close in the background: the simulator's graceful shutdown waits up
	// to 2 s for connections the HTTP transport opened but never used.
	t.Cleanup(func() { go srv.Close() })
	dir := t.TempDir()
	ep := filepath.Join(dir, "endpoints.json")
	if err := srv.Endpoints().Save(ep); err != nil {
		t.Fatal(err)
	}
	return &lcEnv{srv: srv, ep: ep, stateDir: filepath.Join(dir, "state")}
}

// run runs one command against the environment (--endpoints and
// --state-dir added), headless, over "SSH" so sign-in uses a device code.
func (e *lcEnv) run(t *testing.T, args ...string) (int, string) {
	t.Helper()
	out := &syncBuf{}
	code := e.runTo(out, args...)
	return code, out.String()
}

func (e *lcEnv) runTo(out *syncBuf, args ...string) int {
	full := append(append([]string{}, args...), "--endpoints", e.ep, "--state-dir", e.stateDir)
	return Run(context.Background(), full, IO{In: strings.NewReader(""), Out: out, Err: out, Env: sshEnv})
}

func (e *lcEnv) onboard(t *testing.T, extra ...string) (int, string) {
	t.Helper()
	return e.run(t, append([]string{"onboard", "--tenant", simTenant, "--yes", "--org", "Contoso Ltd", "--poll-base", "100ms"}, extra...)...)
}

// platformSP returns the live service principal of the platform's app.
func platformSP(snap sim.Snapshot, appID string) *sim.SPSnapshot {
	for i, sp := range snap.ServicePrincipals {
		if strings.EqualFold(sp.AppID, appID) {
			return &snap.ServicePrincipals[i]
		}
	}
	return nil
}

func rolesOf(snap sim.Snapshot, principal string) int {
	n := 0
	for _, ra := range snap.RoleAssignments {
		if ra.PrincipalID == principal {
			n++
		}
	}
	return n
}

// runDemo runs `demo --scenario FILE` with a fast copy of a built-in scenario.
func runDemo(t *testing.T, sc *sim.Scenario, args ...string) (int, string) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, sc.Name+".json")
	b, err := json.Marshal(sc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	full := append([]string{"demo", "--scenario", path, "--state-dir", filepath.Join(dir, "state"), "--poll-base", "100ms"}, args...)
	code := Run(context.Background(), full, IO{In: strings.NewReader(""), Out: &out, Err: &out, Env: sshEnv})
	return code, out.String()
}

func TestDemoSoftDeletedExplainsWaitRetriesAndEndsHealthy(t *testing.T) {
	sc := lcScenario(t, "sp-soft-deleted", func(sc *sim.Scenario) { sc.Consent.Duration = sim.Duration(time.Second) })
	code, out := runDemo(t, sc, "--plain", "--yes", "--org", "Contoso Ltd", "--consent-retry", "300ms")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	for _, want := range []string{"AADSTS650051", "still being deleted", "5 to 15 minutes", "retrying in", "created the platform's service principal",
		"Assign directory role Exchange Administrator", "Healthy:"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(out, "Role fixes failed") {
		t.Errorf("the role fixes must hand the 650051 to the mapping step:\n%s", out)
	}
}

func TestSoftDeletedThroughEndpointsChangesTheTenant(t *testing.T) {
	e := startEnv(t, lcScenario(t, "sp-soft-deleted", func(sc *sim.Scenario) { sc.Consent.Duration = sim.Duration(time.Second) }))
	code, out := e.onboard(t, "--plain", "--consent-retry", "300ms")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	snap := e.srv.State().Snapshot()
	sp := platformSP(snap, e.srv.State().PlatformAppID())
	if sp == nil || rolesOf(snap, sp.ID) != 2 {
		t.Fatalf("platform SP %+v with %d roles", sp, rolesOf(snap, sp.ID))
	}
	if len(snap.Integrations) != 1 || snap.Integrations[0].Status != "healthy" || snap.Integrations[0].OrganizationID != "org_contoso" {
		t.Fatalf("integrations %+v", snap.Integrations)
	}
}

func TestDemoBadPermissionsStopsNamingPermission(t *testing.T) {
	sc := lcScenario(t, "bad-permissions", nil)
	code, out := runDemo(t, sc, "--plain", "--yes", "--org", "Contoso Ltd")
	if code != 1 || !strings.Contains(out, "ActivityReports.Read") || !strings.Contains(out, "Office 365 Management APIs") ||
		!strings.Contains(out, "Retrying will not help") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	// It stops at once: one consent attempt, no waiting (not a timing
	// assertion: the count of attempts says it).
	if n := strings.Count(out, "retrying in"); n != 0 {
		t.Fatalf("retried %d times:\n%s", n, out)
	}
}

func TestBadPermissionsLeavesNoMapping(t *testing.T) {
	e := startEnv(t, lcScenario(t, "bad-permissions", nil))
	code, out := e.onboard(t, "--json")
	if code != 1 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var last map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil {
		t.Fatal(err)
	}
	if last["type"] != "finished" || !strings.Contains(last["message"].(string), "ActivityReports.Read") {
		t.Fatalf("last event %v", last)
	}
	snap := e.srv.State().Snapshot()
	if len(snap.Integrations) != 0 || platformSP(snap, e.srv.State().PlatformAppID()) != nil {
		t.Fatalf("tenant changed: %+v", snap)
	}
}

func TestDemoAlreadyMappedExits3NamingOtherOrg(t *testing.T) {
	code, out := runDemo(t, lcScenario(t, "already-mapped", nil), "--plain", "--yes", "--org", "Contoso Ltd")
	if code != 3 || !strings.Contains(out, "Fabrikam Inc") || !strings.Contains(out, "--remap") {
		t.Fatalf("exit %d\n%s", code, out)
	}
}

func TestAlreadyMappedKeepsMappingAndRemapMoves(t *testing.T) {
	e := startEnv(t, lcScenario(t, "already-mapped", nil))
	if code, out := e.onboard(t, "--plain"); code != 3 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	snap := e.srv.State().Snapshot()
	if len(snap.Integrations) != 1 || snap.Integrations[0].OrganizationID != "org_fabrikam" {
		t.Fatalf("integrations %+v", snap.Integrations)
	}
	if code, out := e.onboard(t, "--plain", "--remap"); code != 0 {
		t.Fatalf("remap exit %d\n%s", code, out)
	}
	snap = e.srv.State().Snapshot()
	if len(snap.Integrations) != 1 || snap.Integrations[0].OrganizationID != "org_contoso" {
		t.Fatalf("after remap %+v", snap.Integrations)
	}
}

// statusJSON runs status --json and decodes its event stream (onboard's
// schema): the finished event carries the tenants and the exit code.
func statusJSON(t *testing.T, e *lcEnv, args ...string) (int, []steps.TenantStatus) {
	t.Helper()
	code, out := e.run(t, append([]string{"status", "--json"}, args...)...)
	evs, _ := events(t, out)
	if !hasStepEvent(evs, "status", "step_started") {
		t.Fatalf("status --json: no step_started event of the status step\n%s", out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var doc struct {
		Tenants  []steps.TenantStatus `json:"tenants"`
		ExitCode int                  `json:"exit_code"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &doc); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	if doc.ExitCode != code {
		t.Fatalf("exit %d but the finished event says %d", code, doc.ExitCode)
	}
	return code, doc.Tenants
}

// revokeAuditLog removes the platform SP's AuditLog.Read.All grant through
// Graph, as an administrator revoking consent would.
func revokeAuditLog(t *testing.T, e *lcEnv) {
	t.Helper()
	ep := e.srv.Endpoints()
	g := m365.NewGraph(e.srv.HTTPClient(), ep.Graph, func(context.Context) (string, error) {
		return e.srv.IssueToken(strings.TrimSuffix(ep.GraphScope(), "/.default")), nil
	})
	snap := e.srv.State().Snapshot()
	sp := platformSP(snap, e.srv.State().PlatformAppID())
	for _, a := range snap.AppRoleAssignments {
		if a.PrincipalID == sp.ID && a.Permission == "AuditLog.Read.All" {
			if err := g.RevokeAppRole(context.Background(), a.ResourceID, a.ID); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatal("no AuditLog.Read.All grant to revoke")
}

func TestLifecycleStatusReauthorizeUnmapThroughEndpoints(t *testing.T) {
	e := startEnv(t, lcScenario(t, "typical", nil))
	// Before onboarding: not mapped, exit 3; no local state yet.
	if code, ts := statusJSON(t, e, "--tenant", simTenant); code != 3 || len(ts) != 1 || ts[0].Mapped || ts[0].Status != "not_mapped" {
		t.Fatalf("before: exit %d %+v", code, ts)
	}
	if code, out := e.onboard(t, "--plain"); code != 0 {
		t.Fatalf("onboard exit %d\n%s", code, out)
	}
	// status without --tenant lists the tenant with local state.
	code, ts := statusJSON(t, e)
	if code != 0 || len(ts) != 1 {
		t.Fatalf("status: exit %d %+v", code, ts)
	}
	st := ts[0]
	snap := e.srv.State().Snapshot()
	if st.TenantID != simTenant || st.Status != "healthy" || st.IntegrationID != snap.Integrations[0].ID ||
		st.OrganizationID != "org_contoso" || st.Receipt == nil || st.Receipt.Changes == 0 || st.LastCheckedAt == nil || st.TenantName != "Contoso Ltd" {
		t.Fatalf("status %+v (receipt %+v)", st, st.Receipt)
	}
	if _, err := os.Stat(st.Receipt.Path); err != nil {
		t.Fatalf("receipt: %v", err)
	}

	// Consent revoked in the tenant: status says unhealthy with the remedy.
	revokeAuditLog(t, e)
	code, ts = statusJSON(t, e, "--tenant", simTenant)
	if code != 1 || ts[0].Status != "unhealthy" || ts[0].ReasonCode != "consent_revoked" || !strings.Contains(ts[0].Remedy, "reauthorize --tenant "+simTenant) {
		t.Fatalf("after revoke: exit %d %+v", code, ts)
	}
	code, out := e.run(t, "reauthorize", "--tenant", simTenant, "--plain")
	if code != 0 || !strings.Contains(out, "granted Microsoft Graph: AuditLog.Read.All") || !strings.Contains(out, "Reauthorized") {
		t.Fatalf("reauthorize exit %d\n%s", code, out)
	}
	snap = e.srv.State().Snapshot()
	sp := platformSP(snap, e.srv.State().PlatformAppID())
	held := false
	for _, a := range snap.AppRoleAssignments {
		held = held || (a.PrincipalID == sp.ID && a.Permission == "AuditLog.Read.All")
	}
	if !held || snap.Integrations[0].Status != "healthy" {
		t.Fatalf("after reauthorize: held %v integrations %+v", held, snap.Integrations)
	}
	// Reauthorize again with --json: nothing to grant.
	code, out = e.run(t, "reauthorize", "--tenant", simTenant, "--json")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var last map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil || code != 0 {
		t.Fatalf("exit %d %v\n%s", code, err, out)
	}
	if last["outcome"] != "reauthorized" || last["status"] != "healthy" || last["granted"] != nil {
		t.Fatalf("last %v", last)
	}

	// Unmap with --remove-access: integration, SP and its roles are gone.
	code, out = e.run(t, "unmap", "--tenant", simTenant, "--remove-access", "--yes", "--plain")
	if code != 0 || !strings.Contains(out, "Plan:") || !strings.Contains(out, "Unmapped") {
		t.Fatalf("unmap exit %d\n%s", code, out)
	}
	snap = e.srv.State().Snapshot()
	if len(snap.Integrations) != 0 || platformSP(snap, e.srv.State().PlatformAppID()) != nil || rolesOf(snap, sp.ID) != 0 {
		t.Fatalf("after unmap: %+v", snap)
	}
	for _, a := range snap.AppRoleAssignments {
		if a.PrincipalID == sp.ID {
			t.Fatalf("permission left behind: %+v", a)
		}
	}
	deleted := false
	for _, d := range snap.DeletedServicePrincipals {
		deleted = deleted || d.ID == sp.ID
	}
	if !deleted {
		t.Fatalf("SP not in deleted items: %+v", snap.DeletedServicePrincipals)
	}
	// The audit trail records what unmap did.
	audit, err := os.ReadFile(filepath.Join(e.stateDir, "audit.jsonl"))
	if err != nil || !strings.Contains(string(audit), "unmap/service-principal") || !strings.Contains(string(audit), "unmap/integration") {
		t.Fatalf("audit trail: %v\n%s", err, audit)
	}
	if code, ts := statusJSON(t, e, "--tenant", simTenant); code != 3 || ts[0].Mapped {
		t.Fatalf("after unmap: exit %d %+v", code, ts)
	}
	// Unmap again: nothing to do.
	if code, out := e.run(t, "unmap", "--tenant", simTenant, "--yes", "--plain"); code != 0 || !strings.Contains(out, "Nothing to remove") {
		t.Fatalf("second unmap exit %d\n%s", code, out)
	}
}

func TestUnmapHeadlessWithoutYesNamesFlagAndChangesNothing(t *testing.T) {
	e := startEnv(t, lcScenario(t, "already-mapped", nil))
	code, out := e.run(t, "unmap", "--tenant", simTenant, "--plain")
	if code != 2 || !strings.Contains(out, "--yes") || !strings.Contains(out, "Fabrikam Inc") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if n := len(e.srv.State().Snapshot().Integrations); n != 1 {
		t.Fatalf("integrations %d", n)
	}
	// Without --remove-access no sign-in is needed.
	code, out = e.run(t, "unmap", "--tenant", simTenant, "--yes", "--json")
	if code != 0 || !strings.Contains(out, `"outcome":"unmapped"`) || len(e.srv.State().Snapshot().Integrations) != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	for _, r := range e.srv.Requests() {
		if strings.Contains(r.Path, "/oauth2/") {
			t.Fatalf("unmap without --remove-access signed in: %+v", r)
		}
	}
}

func TestLifecycleUsageErrors(t *testing.T) {
	e := startEnv(t, lcScenario(t, "typical", nil))
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"reauthorize"}, "--tenant"},
		{[]string{"unmap"}, "--tenant"},
		{[]string{"status", "--tenant", "not a tenant!"}, "--tenant"},
		{[]string{"onboard", "--consent", "carrier-pigeon"}, "--consent"},
	} {
		code, out := e.run(t, c.args...)
		if code != 2 || !strings.Contains(out, c.want) {
			t.Errorf("%v: exit %d, want 2 naming %s:\n%s", c.args, code, c.want, out)
		}
	}
	// No local state: status says so and exits 0.
	if code, out := e.run(t, "status"); code != 0 || !strings.Contains(out, "No tenant has local state") {
		t.Errorf("status: exit %d\n%s", code, out)
	}
}

// --consent handoff through --endpoints: the wizard shows the admin-consent
// URL and polls; a Global Administrator "elsewhere" (the test) grants.
func TestConsentHandoffPollsUntilAdminGrants(t *testing.T) {
	e := startEnv(t, lcScenario(t, "typical", nil))
	out := &syncBuf{}
	done := make(chan int, 1)
	go func() {
		done <- e.runTo(out, "onboard", "--tenant", simTenant, "--yes", "--org", "Contoso Ltd", "--poll-base", "100ms", "--plain", "--consent", "handoff")
	}()
	var code int
	granted := false
	for !granted {
		select {
		case code = <-done:
			t.Fatalf("ended before the grant: exit %d\n%s", code, out.String())
		case <-time.After(20 * time.Millisecond):
		}
		s := out.String()
		i := strings.Index(s, "https://")
		if !strings.Contains(s, "adminconsent") || i < 0 {
			continue
		}
		// The URL is the line after the instruction.
		for _, l := range strings.Split(s, "\n") {
			l = strings.TrimSpace(l)
			if strings.HasPrefix(l, "https://") && strings.Contains(l, "/adminconsent?") {
				if !strings.Contains(l, simTenant) {
					t.Fatalf("consent URL without the tenant: %s", l)
				}
				if err := e.srv.PlayBrowser(context.Background(), l); err != nil {
					t.Fatal(err)
				}
				granted = true
			}
		}
	}
	code = <-done
	if code != 0 || !strings.Contains(out.String(), "Healthy:") {
		t.Fatalf("exit %d\n%s", code, out.String())
	}
	// The administrator granted them: not "already granted".
	if s := out.String(); !strings.Contains(s, "the admin consent is in place: the platform's app holds the 6 application permission(s) it asks for") ||
		strings.Contains(s, "were already granted") {
		t.Errorf("the consent line does not say the admin consent is in place:\n%s", s)
	}
}

func TestDemoConsentHandoffSimulatorPlaysAdmin(t *testing.T) {
	code, out := runDemo(t, lcScenario(t, "typical", nil), "--json", "--yes", "--org", "Contoso Ltd", "--consent", "handoff")
	if code != 0 || !strings.Contains(out, `"type":"consent_handoff"`) || !strings.Contains(out, "adminconsent") {
		t.Fatalf("exit %d\n%s", code, out)
	}
}

// The summary's billable identities and MFA numbers match the simulated
// users (enabled and licensed; registered in the MFA report).
func TestSummaryMatchesSimulatedUsers(t *testing.T) {
	sc := lcScenario(t, "typical", nil)
	billable, mfa, total := 0, 0, 0
	for _, u := range sc.Users {
		if u.HomeTenant != "" {
			continue
		}
		total++
		enabled := u.Enabled == nil || *u.Enabled
		licensed := len(sc.Licences) > 0
		if u.Licensed != nil {
			licensed = *u.Licensed
		}
		if enabled && licensed {
			billable++
		}
		if u.MFARegistered {
			mfa++
		}
	}
	e := startEnv(t, sc)
	code, out := e.onboard(t, "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var last map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil {
		t.Fatal(err)
	}
	if last["billable_identities"] != float64(billable) || last["mfa_registered"] != float64(mfa) || last["mfa_total"] != float64(total) {
		t.Fatalf("summary %v; want billable %d, mfa %d of %d", last, billable, mfa, total)
	}
	code, out = e.onboard(t, "--plain")
	if code != 0 || !strings.Contains(out, "billable identities (enabled, licensed users): "+itoa(billable)) ||
		!strings.Contains(out, fmt.Sprintf("MFA registered: %d of %d users (%d%%)", mfa, total, text.Percent(mfa, total))) {
		t.Fatalf("exit %d\n%s", code, out)
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
