package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"itdr-onboard/sim"
)

// simRun starts a simulator for a scenario (fast sign-in and health), writes
// its endpoints file and runs the CLI with args + --endpoints. It returns
// the exit code, stdout, stderr and the simulator (closed at test end).
func simRun(t *testing.T, scenario string, mutate func(*sim.Scenario), args ...string) (int, string, string, *sim.Server) {
	t.Helper()
	ts := startSim(t, scenario, mutate)
	code, out, errs := ts.onboardEnv(t, sshEnv, args...)
	return code, out, errs, ts.srv
}

// sshEnv is a headless box reached over SSH: --auth auto means device code.
func sshEnv(k string) string {
	if k == "SSH_CONNECTION" {
		return "10.0.0.1 5555 10.0.0.2 22"
	}
	return ""
}

func TestOnboardPlainTypicalEndsHealthy(t *testing.T) {
	code, out, errs, srv := simRun(t, "typical", nil, "--tenant", "3f9c8f2e-6d0b-4c1e-9a57-1b2d3c4e5f60", "--plain", "--yes", "--org", "Contoso Ltd")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{"Step 1/5: Prerequisites", "Step 2/5: Sign-in", "Step 3/5: Role fixes", "Step 4/5: Mapping", "Step 5/5: Health"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	found := false
	for _, l := range lines[len(lines)-5:] {
		if strings.HasPrefix(l, "Healthy:") {
			found = true
		}
	}
	if !found {
		t.Errorf("no Healthy line at the end:\n%s", out)
	}
	// The role fixes really changed the tenant.
	snap := srv.State().Snapshot()
	b, _ := json.Marshal(snap)
	for _, want := range []string{"Audit Logs", "Transport Rules"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("state lacks %q", want)
		}
	}
}

func TestJSONEventsAndNoSecretsAnywhere(t *testing.T) {
	dir := t.TempDir()
	logFile := filepath.Join(dir, "run.log")
	code, out, errs, srv := simRun(t, "typical", nil, "--json", "--yes", "--org", "Contoso Ltd", "--log-file", logFile)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	var last map[string]any
	sawCode := false
	n := 0
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %d is not JSON: %q", n, sc.Text())
		}
		for _, k := range []string{"time", "step", "type"} {
			if _, ok := m[k]; !ok {
				t.Fatalf("line %d lacks %q: %s", n, k, sc.Text())
			}
		}
		if m["type"] == "device_code" {
			sawCode = m["user_code"] != "" && m["verification_uri"] != ""
			if _, ok := m["device_code"]; ok {
				t.Fatal("device_code event carries the secret device_code")
			}
		}
		last = m
		n++
	}
	if !sawCode {
		t.Error("no device_code event with user_code and verification_uri")
	}
	if last["type"] != "finished" || last["outcome"] != "healthy" {
		t.Fatalf("last event %v", last)
	}
	logb, err := os.ReadFile(logFile)
	if err != nil || len(logb) == 0 {
		t.Fatalf("log file: %v (%d bytes)", err, len(logb))
	}
	secrets := srv.IssuedSecrets()
	if len(secrets) < 3 {
		t.Fatalf("simulator reported only %d secrets", len(secrets))
	}
	for _, s := range secrets {
		if len(s) < 8 {
			continue
		}
		for name, hay := range map[string]string{"stdout": out, "stderr": errs, "log": string(logb)} {
			if strings.Contains(hay, s) {
				t.Errorf("%s contains a secret the simulator issued (%.6s…)", name, s)
			}
		}
	}
}

func TestUsageErrorsNameTheFlag(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"onboard", "--tenant", "not a tenant!"}, "--tenant"},
		{[]string{"onboard", "--auth", "carrier-pigeon"}, "--auth"},
		{[]string{"onboard", "--wait", "soon"}, "--wait"},
		{[]string{"onboard", "--cloud", "mars"}, "--cloud"},
		{[]string{"demo", "--scenario", "no-such-scenario"}, "--scenario"},
		{[]string{"onboard", "--endpoints", "/nonexistent/file.json"}, "--endpoints"},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		code := Run(context.Background(), c.args, IO{In: strings.NewReader(""), Out: &out, Err: &errb, Env: func(string) string { return "" }})
		if code != 2 || !strings.Contains(errb.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 naming %s", c.args, code, errb.String(), c.want)
		}
	}
}

func TestHeadlessQuestionNamesFlag(t *testing.T) {
	// No --yes and no terminal: the plan question cannot be answered.
	code, out, errs, srv := simRun(t, "typical", nil, "--plain", "--org", "Contoso Ltd")
	if code != 2 || !strings.Contains(out+errs, "--yes") {
		t.Fatalf("exit %d, want 2 naming --yes:\n%s\n%s", code, out, errs)
	}
	if n := len(srv.State().Changes()); n != 0 {
		t.Fatalf("tenant changed %d times without an answer", n)
	}
}

func TestRoleFixesTwiceChangeNothingSecondTime(t *testing.T) {
	ts := startSim(t, "typical", func(sc *sim.Scenario) { sc.Platform.HealthyAfter = sim.Duration(100 * time.Millisecond) })
	srv := ts.srv
	run := func() (int, string) {
		code, out, errs := runCLI(t, headlessEnv, "onboard", "--endpoints", ts.ep, "--state-dir", ts.stateDir, "--plain", "--yes", "--org", "Contoso Ltd", "--poll-base", "50ms")
		return code, out + errs
	}
	if code, out := run(); code != 0 {
		t.Fatalf("first run exit %d\n%s", code, out)
	}
	first := len(srv.State().Changes())
	code, out := run()
	if code != 0 {
		t.Fatalf("second run exit %d\n%s", code, out)
	}
	var writes []string
	for _, c := range srv.State().Changes()[first:] {
		writes = append(writes, c.Service+" "+c.Op)
	}
	if len(writes) != 0 {
		t.Fatalf("second run wrote to the tenant: %v", writes)
	}
	if !strings.Contains(out, "nothing to change") && !strings.Contains(out, "Healthy") {
		t.Fatalf("second run output:\n%s", out)
	}
}
