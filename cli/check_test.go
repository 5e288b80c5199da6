package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"itdr-onboard/auth"
	"itdr-onboard/checks"
	"itdr-onboard/internal/testutil"
	"itdr-onboard/sim"
)

var (
	schemaOnce sync.Once
	schema     *jsonschema.Schema
	schemaErr  error
)

func checkReportSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	schemaOnce.Do(func() { schema, schemaErr = testutil.LoadSchema("../docs/check-report.schema.json") })
	if schemaErr != nil {
		t.Fatal(schemaErr)
	}
	return schema
}

// validReport takes the report from the "finished" event of check's
// event stream (stdout), validates it against
// docs/check-report.schema.json and decodes it. Every line of stdout must
// be a JSON event with time, step and type, as onboard's.
func validReport(t *testing.T, stdout string) checks.Report {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	for _, l := range lines {
		var ev map[string]any
		if err := json.Unmarshal([]byte(l), &ev); err != nil || ev["time"] == nil || ev["step"] == nil || ev["type"] == nil {
			t.Fatalf("stdout line is not an event (time, step, type): %v\n%s", err, l)
		}
	}
	var last struct {
		Type   string          `json:"type"`
		Report json.RawMessage `json:"report"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil || last.Type != "finished" || len(last.Report) == 0 {
		t.Fatalf("the last event is not a finished event with the report: %v\n%s", err, stdout)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(last.Report))
	if err != nil {
		t.Fatal(err)
	}
	if err := checkReportSchema(t).Validate(v); err != nil {
		t.Fatalf("report does not match docs/check-report.schema.json: %v\n%s", err, last.Report)
	}
	var rep checks.Report
	if err := json.Unmarshal(last.Report, &rep); err != nil {
		t.Fatal(err)
	}
	return rep
}

func row(t *testing.T, rep checks.Report, id string) checks.ReportRow {
	t.Helper()
	for _, r := range rep.Checks {
		if r.ID == id {
			return r
		}
	}
	t.Fatalf("report has no row %s", id)
	return checks.ReportRow{}
}

// check runs `check --endpoints` against the simulator.
func (ts *testSim) check(t *testing.T, env func(string) string, args ...string) (int, string, string) {
	t.Helper()
	full := append([]string{"check", "--endpoints", ts.ep, "--state-dir", ts.stateDir}, args...)
	return runCLI(t, env, full...)
}

// check --json on a tenant that needs role fixes: the report validates
// against the schema, lists every check (both phases, all steps) with the
// planned changes, exits 3, and the tenant is unchanged.
func TestCheckJSONValidatesAndChangesNothing(t *testing.T) {
	t.Parallel()
	ts := startSim(t, "typical", nil)
	code, out, errs := ts.check(t, nil, "--tenant", contosoID, "--json")
	if code != ExitStopped {
		t.Fatalf("exit %d, want 3\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	rep := validReport(t, out)
	if rep.Outcome != checks.Fail || rep.TenantID != contosoID || rep.Tenant != "Contoso Ltd" ||
		rep.Account != "admin@contoso.onmicrosoft.com" {
		t.Errorf("report header: outcome %s tenant %q (%s) account %q", rep.Outcome, rep.Tenant, rep.TenantID, rep.Account)
	}
	// Every registered check, in registry order, whatever its step/phase.
	want := []string{checks.IDPlatformSubscription, checks.IDNetworkReachability, checks.IDClockSkew,
		checks.IDExchangeLicence, checks.IDGlobalAdmin, checks.IDPlatformPermissions, checks.IDAuditLog, checks.IDDehydrated,
		checks.IDRoleGroup, checks.IDPlatformSPRoles}
	var got []string
	for _, r := range rep.Checks {
		got = append(got, r.ID)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("rows %v, want %v", got, want)
	}
	for _, id := range []string{checks.IDPlatformSubscription, checks.IDNetworkReachability, checks.IDExchangeLicence,
		checks.IDGlobalAdmin, checks.IDAuditLog, checks.IDDehydrated} {
		if r := row(t, rep, id); r.Outcome != checks.Pass {
			t.Errorf("%s: %s %q (%s)", id, r.Outcome, r.Summary, r.Error)
		}
	}
	rg := row(t, rep, checks.IDRoleGroup)
	if rg.Outcome != checks.Fail || len(rg.Changes) != 2 || rg.Remedy == "" {
		t.Fatalf("role group row: %+v", rg)
	}
	calls := rg.Changes[0].Call + "\n" + rg.Changes[1].Call
	for _, role := range []string{"Audit Logs", "Transport Rules"} {
		if !strings.Contains(calls, `New-ManagementRoleAssignment -Role "`+role+`" -SecurityGroup "Organization Management"`) {
			t.Errorf("no planned call for %s: %s", role, calls)
		}
	}
	sp := row(t, rep, checks.IDPlatformSPRoles)
	if sp.Outcome != checks.Fail || len(sp.Changes) != 3 {
		t.Errorf("platform SP row: %+v", sp)
	}
	ts.assertUnchanged(t)

	// Sign-in is an event like onboard's; no secret anywhere.
	if !strings.Contains(out, `"type":"device_code"`) {
		t.Errorf("no device_code event:\n%s", out)
	}
	for _, s := range ts.srv.IssuedSecrets() {
		if len(s) >= 8 && (strings.Contains(out, s) || strings.Contains(errs, s)) {
			t.Errorf("output contains a secret the simulator issued (%.6s…)", s)
		}
	}
	if sec := ts.srv.Endpoints().PlatformAPISecret; sec != "" && strings.Contains(out+errs, sec) {
		t.Error("output contains the platform API secret")
	}
}

// The plain report: a row per check with outcome, summary, remedy and the
// changes onboard would make.
func TestCheckPlainReport(t *testing.T) {
	t.Parallel()
	ts := startSim(t, "dehydrated", nil)
	code, out, errs := ts.check(t, nil, "--plain")
	if code != ExitStopped {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	i := strings.Index(out, "== Check report: Contoso Ltd ("+contosoID+")")
	if i < 0 {
		t.Fatalf("no report header:\n%s", out)
	}
	rep := out[i:]
	for _, want := range []string{
		"signed in: admin@contoso.onmicrosoft.com",
		"[ok]   ITDR platform account and subscription: ",
		"[ok]   Exchange Online licence: ",
		"[FAIL] Exchange organization customization: Exchange organization is dehydrated",
		"remedy: let the wizard run Enable-OrganizationCustomization",
		"would change: Enable Exchange organization customization  ⟶  Enable-OrganizationCustomization",
		`would change: Add role "Audit Logs" to Organization Management  ⟶  New-ManagementRoleAssignment -Role "Audit Logs"`,
		"warning: Privileged Identity Management will raise an alert",
		"Result: 3 of 10 checks failed.",
		"would make the 7 change(s)",
		"Nothing in the tenant was changed",
	} {
		if !strings.Contains(rep, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(out)
	}
	if n := strings.Count(rep, "\n  ["); n != 10 {
		t.Errorf("%d rows, want 10:\n%s", n, rep)
	}
	// Each row is printed once: by the report, not also as its check
	// finished.
	if n := strings.Count(out, "\n  ["); n != 10 {
		t.Errorf("%d rows in the whole output, want each of the 10 once:\n%s", n, out)
	}
	if !strings.Contains(out, "its results are in the report at the end") {
		t.Errorf("the background Checks heading does not say where its results are:\n%s", out)
	}
	ts.assertUnchanged(t)
}

// A tenant where everything is in place: every row passes, exit 0.
func TestCheckReadyPasses(t *testing.T) {
	t.Parallel()
	ts := startSim(t, "ready", nil)
	code, out, errs := ts.check(t, nil, "--json", "--tenant", "contoso.onmicrosoft.com")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	rep := validReport(t, out)
	if rep.Outcome != checks.Pass || rep.TenantID != contosoID {
		t.Fatalf("outcome %s tenant %s", rep.Outcome, rep.TenantID)
	}
	for _, r := range rep.Checks {
		if r.Outcome != checks.Pass || len(r.Changes) != 0 {
			t.Errorf("%s: %s %q", r.ID, r.Outcome, r.Summary)
		}
	}
	ts.assertUnchanged(t)
}

// Each problem scenario: the row that finds it, its outcome, what it
// planned and a remedy; exit 3; nothing changed.
func TestCheckScenarioOutcomes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		scenario string
		id       string
		summary  string // substring of the summary
		remedy   string // substring of the remedy (lower case)
		call     string // a planned call ("" = not fixable)
	}{
		{"no-exchange-licence", checks.IDExchangeLicence, "", "exchange online", ""},
		{"pim-eligible", checks.IDGlobalAdmin, "eligible", "activate", ""},
		{"not-global-admin", checks.IDGlobalAdmin, "", "global administrator", ""},
		{"audit-disabled", checks.IDAuditLog, "", "", "Set-AdminAuditLogConfig -UnifiedAuditLogIngestionEnabled $true"},
		{"roles-missing-all", checks.IDRoleGroup, "5 of 5", "", `New-ManagementRoleAssignment -Role "Role Management"`},
	}
	for _, c := range cases {
		t.Run(c.scenario, func(t *testing.T) {
			t.Parallel()
			ts := startSim(t, c.scenario, nil)
			code, out, errs := ts.check(t, nil, "--json")
			if code != ExitStopped {
				t.Fatalf("exit %d, want 3\n%s\n%s", code, out, errs)
			}
			rep := validReport(t, out)
			r := row(t, rep, c.id)
			if r.Outcome != checks.Fail {
				t.Fatalf("%s: %s %q", c.id, r.Outcome, r.Summary)
			}
			if !strings.Contains(r.Summary, c.summary) {
				t.Errorf("summary %q lacks %q", r.Summary, c.summary)
			}
			if r.Remedy == "" || !strings.Contains(strings.ToLower(r.Remedy), c.remedy) {
				t.Errorf("remedy %q lacks %q", r.Remedy, c.remedy)
			}
			var calls []string
			for _, ch := range r.Changes {
				calls = append(calls, ch.Call)
			}
			if c.call == "" && len(calls) > 0 {
				t.Errorf("not fixable, but planned %v", calls)
			}
			if c.call != "" && !strings.Contains(strings.Join(calls, "\n"), c.call) {
				t.Errorf("planned %v, want %q", calls, c.call)
			}
			ts.assertUnchanged(t)
		})
	}
}

// Signed in to the wrong tenant: check stops (exit 3) naming both tenants,
// and runs no tenant check against the wrong tenant.
func TestCheckWrongTenant(t *testing.T) {
	t.Parallel()
	ts := startSim(t, "wrong-tenant", nil)
	code, out, errs := ts.check(t, nil, "--json", "--tenant", contosoID)
	if code != ExitStopped {
		t.Fatalf("exit %d, want 3\n%s\n%s", code, out, errs)
	}
	rep := validReport(t, out)
	for _, want := range []string{contosoID, fabrikamID} {
		if !strings.Contains(out, want) {
			t.Errorf("the events do not name tenant %s:\n%s", want, out)
		}
	}
	for _, r := range rep.Checks {
		if r.Phase == checks.Tenant && (r.Outcome != checks.Skip || !strings.Contains(r.Summary, "sign-in did not complete") ||
			!strings.Contains(r.Detail, fabrikamID)) {
			t.Errorf("tenant check %s ran or does not say why not: %s %q %q", r.ID, r.Outcome, r.Summary, r.Detail)
		}
		if r.Phase == checks.BeforeSignIn && r.Outcome != checks.Pass {
			t.Errorf("%s: %s", r.ID, r.Outcome)
		}
	}
	if rep.Account != "" {
		t.Errorf("report names account %q of the wrong tenant", rep.Account)
	}
	ts.assertUnchanged(t)
}

// check --demo starts the embedded simulator; a tenant that blocks device
// code makes it switch to browser sign-in like onboard does.
func TestCheckDemoSwitchesToBrowser(t *testing.T) {
	t.Parallel()
	sc := scenarioFile(t, "device-code-blocked", nil)
	code, out, errs := runCLI(t, nil, "check", "--demo", "--scenario", sc, "--plain", "--state-dir", t.TempDir())
	if code != ExitStopped { // typical role fixes are missing in this scenario
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{`Demo: scenario "device-code-blocked"`, "Switched to browser sign-in.",
		"Signed in as admin@contoso.onmicrosoft.com", "== Check report: Contoso Ltd"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestCheckUsageErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"check", "--scenario", "ready"}, "--demo"},
		{[]string{"check", "--scenario", "typical"}, "--demo"},
		{[]string{"check", "--demo", "--cloud", "usgov"}, "--demo"},
		{[]string{"check", "--tenant", "not a tenant!"}, "--tenant"},
		{[]string{"check", "--auth", "carrier-pigeon"}, "--auth"},
		{[]string{"check", "--demo", "--scenario", "no-such-scenario"}, "--scenario"},
		{[]string{"check", "--endpoints", "/nonexistent/endpoints.json"}, "--endpoints"},
		{[]string{"check", "--token-cache", "floppy"}, "--token-cache"},
	}
	for _, c := range cases {
		code, _, errs := runCLI(t, nil, c.args...)
		if code != ExitUsage || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 naming %s", c.args, code, errs, c.want)
		}
	}
}

// signout removes the file token cache and says what it removed; a second
// signout finds nothing.
func TestSignoutRemovesFileCache(t *testing.T) {
	t.Parallel()
	ts := startSim(t, "ready", nil)
	code, out, errs := ts.check(t, nil, "--plain", "--token-cache", "file")
	if code != 0 {
		t.Fatalf("check exit %d\n%s\n%s", code, out, errs)
	}
	cache := filepath.Join(ts.stateDir, auth.CacheFileName)
	st, err := os.Stat(cache)
	if err != nil {
		t.Fatalf("no token cache after --token-cache file: %v", err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("token cache mode %v", st.Mode().Perm())
	}
	if !strings.Contains(errs, "signout") {
		t.Errorf("no warning about the token cache on disk:\n%s", errs)
	}

	code, out, errs = runCLI(t, nil, "signout", "--state-dir", ts.stateDir)
	if code != 0 {
		t.Fatalf("signout exit %d\n%s\n%s", code, out, errs)
	}
	if _, err := os.Stat(cache); !os.IsNotExist(err) {
		t.Fatalf("token cache still there: %v", err)
	}
	for _, want := range []string{"Signed out admin@contoso.onmicrosoft.com", contosoID, "Removed the token cache " + cache} {
		if !strings.Contains(out, want) {
			t.Errorf("signout output lacks %q:\n%s", want, out)
		}
	}
	for _, s := range ts.srv.IssuedSecrets() {
		if len(s) >= 8 && strings.Contains(out+errs, s) {
			t.Error("signout output contains a token")
		}
	}

	code, out, _ = runCLI(t, nil, "signout", "--state-dir", ts.stateDir)
	if code != 0 || !strings.Contains(out, "nothing to remove") {
		t.Fatalf("second signout: exit %d\n%s", code, out)
	}
	var buf bytes.Buffer
	buf.WriteString(out)
	if strings.Contains(buf.String(), "Removed") {
		t.Errorf("second signout claims to remove something:\n%s", out)
	}
}

// check needs no platform: with an endpoints file that carries no platform
// API key (and none in the environment) the platform checks are reported as
// skipped with the reason, the tenant checks still run, and the exit code is
// theirs (here: the role group and a dehydrated organization fail, exit 3;
// on a ready tenant, exit 0).
func TestCheckWithoutPlatformCredentialsRunsTenantChecks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		scenario string
		code     int
		fail     []string
	}{
		{"dehydrated", ExitStopped, []string{checks.IDDehydrated}},
		{"ready", 0, nil},
	} {
		t.Run(tc.scenario, func(t *testing.T) {
			t.Parallel()
			ts := startSim(t, tc.scenario, nil)
			ep := ts.srv.Endpoints()
			ep.PlatformAPIKey, ep.PlatformAPISecret = "", ""
			path := filepath.Join(t.TempDir(), "no-platform.json")
			if err := ep.Save(path); err != nil {
				t.Fatal(err)
			}
			env := func(k string) string {
				if k == "ITDR_API_KEY" || k == "ITDR_API_SECRET" {
					return ""
				}
				return headlessEnv(k)
			}
			code, out, errs := runCLI(t, env, "check", "--endpoints", path, "--state-dir", ts.stateDir, "--tenant", contosoID, "--json")
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errs)
			}
			if strings.Contains(out+errs, "credentials are missing") {
				t.Errorf("check stopped on the missing credentials:\n%s", errs)
			}
			if !strings.Contains(errs, "the checks that need the platform are skipped") {
				t.Errorf("no note about the skipped platform checks on stderr:\n%s", errs)
			}
			rep := validReport(t, out)
			if rep.TenantID != contosoID || rep.Account != "admin@contoso.onmicrosoft.com" {
				t.Errorf("header: tenant %s account %q", rep.TenantID, rep.Account)
			}
			needPlatform := map[string]bool{checks.IDPlatformSubscription: true, checks.IDPlatformPermissions: true,
				checks.IDRoleGroup: true, checks.IDPlatformSPRoles: true}
			failing := map[string]bool{}
			for _, id := range tc.fail {
				failing[id] = true
			}
			for _, r := range rep.Checks {
				switch {
				case needPlatform[r.ID]:
					if r.Outcome != checks.Skip || !strings.Contains(r.Summary, "ITDR_API_KEY") || !strings.Contains(r.Remedy, "ITDR_API_SECRET") {
						t.Errorf("%s: %s %q remedy %q, want skipped naming the credentials", r.ID, r.Outcome, r.Summary, r.Remedy)
					}
				case failing[r.ID]:
					if r.Outcome != checks.Fail {
						t.Errorf("%s: %s %q, want fail", r.ID, r.Outcome, r.Summary)
					}
				default:
					if r.Outcome != checks.Pass {
						t.Errorf("%s: %s %q, want pass (a tenant check that needs no platform)", r.ID, r.Outcome, r.Summary)
					}
				}
			}
			// Not one API call reached the platform (the reachability
			// probe's HEAD needs no credentials).
			for _, r := range ts.srv.Requests() {
				if r.Group == sim.GroupPlatform && r.Method != "HEAD" {
					t.Errorf("platform request without credentials: %s %s", r.Method, r.Path)
				}
			}
			ts.assertUnchanged(t)
		})
	}
}
