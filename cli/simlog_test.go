package cli

// Acceptance tests of issue 6 (request log, faults) run as a new user
// would: `demo --scenario FILE --sim-log FILE` through Run, with the
// scenario written by hand to a temporary directory.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"itdr-onboard/sim"
)

// simlogScenarioFile writes the built-in typical scenario with sign-in
// approved at once, health at once and the given faults and seed to a
// scenario file, as a user would.
func simlogScenarioFile(t *testing.T, seed int64, faults []map[string]any) string {
	t.Helper()
	b, err := sim.BuiltinScenarioJSON("typical")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m["name"] = "my-tenant"
	m["seed"] = seed
	m["sign_in"].(map[string]any)["approve_delay"] = "0s"
	m["platform"].(map[string]any)["healthy_after"] = "0s"
	if faults != nil {
		m["faults"] = faults
	}
	out, _ := json.MarshalIndent(m, "", "  ")
	p := filepath.Join(t.TempDir(), "my-tenant.json")
	if err := os.WriteFile(p, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// simlogDemo runs `demo` with the scenario file, the simulator's request
// log and the wizard's own diagnostic log.
func simlogDemo(t *testing.T, scenario string) (code int, out, simLog, runLog string) {
	t.Helper()
	dir := t.TempDir()
	simLog, runLog = filepath.Join(dir, "sim.log"), filepath.Join(dir, "run.log")
	args := []string{"demo", "--plain", "--yes", "--org", "Contoso Ltd", "--scenario", scenario,
		"--sim-log", simLog, "--log-file", runLog, "--state-dir", filepath.Join(dir, "state"), "--poll-base", "50ms"}
	var o, e bytes.Buffer
	code = Run(context.Background(), args, IO{In: strings.NewReader(""), Out: &o, Err: &e, Env: sshEnv})
	return code, o.String() + e.String(), simLog, runLog
}

// simlogLine is one line of the simulator's request log, decoded strictly.
type simlogLine struct {
	Time      *time.Time `json:"time"`
	Method    string     `json:"method"`
	Path      string     `json:"path"`
	Status    *int       `json:"status"`
	LatencyMS *float64   `json:"latency_ms"`
	Group     string     `json:"group"`
	Fault     *string    `json:"fault"`
	// Issue 17 §15: what an Exchange write or a $batch did, never values.
	Host       string   `json:"host"`
	Tenant     string   `json:"tenant"`
	Cmdlet     string   `json:"cmdlet"`
	Parameters []string `json:"parameters"`
	Batch      []struct {
		ID, Method, Path string
		Status           int
	} `json:"batch"`
}

func simlogRead(t *testing.T, path string) []simlogLine {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []simlogLine
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		var l simlogLine
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			t.Fatalf("sim log line %d: %v: %s", n, err, sc.Text())
		}
		if l.Time == nil || l.Time.IsZero() || l.Method == "" || !strings.HasPrefix(l.Path, "/") ||
			l.Status == nil || *l.Status < 100 || *l.Status > 599 || l.LatencyMS == nil || *l.LatencyMS < 0 || l.Fault == nil {
			t.Fatalf("sim log line %d lacks time, method, path, status, latency_ms or fault: %s", n, sc.Text())
		}
		if strings.Contains(sc.Text(), "?") {
			t.Fatalf("sim log line %d records a query string: %s", n, sc.Text())
		}
		out = append(out, l)
	}
	return out
}

// simlogClientRequests reads the wizard's --log-file: one "http" record per
// response it received (method, path, status), the client's side of every
// request.
func simlogClientRequests(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r struct {
			Msg    string `json:"msg"`
			Method string `json:"method"`
			Path   string `json:"path"`
			Status *int   `json:"status"`
			Error  string `json:"error"`
		}
		if json.Unmarshal(sc.Bytes(), &r) != nil || r.Msg != "http" {
			continue
		}
		if r.Status == nil {
			t.Fatalf("the wizard got no response for %s %s (%s)", r.Method, r.Path, r.Error)
		}
		out = append(out, fmt.Sprintf("%s %s %d", r.Method, r.Path, *r.Status))
	}
	return out
}

func TestDemoSimLogListsEveryRequest(t *testing.T) {
	code, out, simLog, runLog := simlogDemo(t, simlogScenarioFile(t, 1, nil))
	if code != 0 || !strings.Contains(out, "Healthy") {
		t.Fatalf("exit %d, want 0 and Healthy:\n%s", code, out)
	}
	lines := simlogRead(t, simLog)
	groups := map[string]int{}
	var served []string
	for _, l := range lines {
		groups[l.Group]++
		served = append(served, fmt.Sprintf("%s %s %d", l.Method, l.Path, *l.Status))
	}
	for _, g := range []string{sim.GroupIdentity, sim.GroupGraph, sim.GroupExchange, sim.GroupPlatform} {
		if groups[g] == 0 {
			t.Errorf("no %s request in the sim log (groups %v)", g, groups)
		}
	}
	// Issue 17 §15: every InvokeCommand names its cmdlet; the writes name
	// their parameters (names only).
	cmdlets := map[string][]string{}
	for _, l := range lines {
		if l.Group == sim.GroupExchange && l.Method == "POST" && l.Status != nil && *l.Status != 401 {
			if l.Cmdlet == "" {
				t.Errorf("InvokeCommand without its cmdlet in the sim log: %+v", l)
			}
			cmdlets[l.Cmdlet] = l.Parameters
		}
	}
	if p, ok := cmdlets["New-ManagementRoleAssignment"]; !ok || strings.Join(p, ",") != "Role,SecurityGroup" {
		t.Errorf("New-ManagementRoleAssignment logged with parameters %v (cmdlets %v); want [Role SecurityGroup]", p, cmdlets)
	}
	// Every request the wizard sent (its own log, client side) is in the
	// simulator's log (server side), and nothing else: same count, same
	// method, path and status.
	sent := simlogClientRequests(t, runLog)
	sort.Strings(served)
	sort.Strings(sent)
	if len(served) < 20 || strings.Join(served, "\n") != strings.Join(sent, "\n") {
		t.Fatalf("the sim log (%d requests) and the wizard's requests (%d) differ:\nsim log:\n%s\n\nwizard:\n%s",
			len(served), len(sent), strings.Join(served, "\n"), strings.Join(sent, "\n"))
	}
}

func TestDemoWithRandomFaultsStillHealthy(t *testing.T) {
	// 20 % of all requests fail at random (10 % 429, then 10 % of the rest
	// 503) and every request waits 50 ms; the seed makes it repeatable.
	scenario := simlogScenarioFile(t, 4242, []map[string]any{
		{"kind": "latency", "latency": "50ms"},
		{"kind": "429", "rate": 0.1, "retry_after": 1},
		{"kind": "503", "rate": 0.1111},
	})
	code, out, simLog, _ := simlogDemo(t, scenario)
	if code != 0 || !strings.Contains(out, "Healthy") {
		t.Fatalf("exit %d, want 0 and Healthy:\n%s", code, out)
	}
	lines := simlogRead(t, simLog)
	faulted := map[int]int{}
	for _, l := range lines {
		if !strings.Contains(*l.Fault, "latency") {
			t.Fatalf("request without the 50 ms latency fault: %+v", l)
		}
		if strings.Contains(*l.Fault, "429") || strings.Contains(*l.Fault, "503") {
			faulted[*l.Status]++
		}
	}
	if faulted[429] == 0 || faulted[503] == 0 {
		t.Fatalf("the faults did not fire (%v over %d requests)", faulted, len(lines))
	}
	t.Logf("%d requests, %d answered 429 and %d answered 503", len(lines), faulted[429], faulted[503])
}
