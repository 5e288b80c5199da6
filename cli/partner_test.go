package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"itdr-onboard/partner"
	"itdr-onboard/sim"
)

// demo --partner signs in once and shows the 25 simulated customers with
// every discovery lane; the simulator's request log proves no request
// reached a customer tenant (discovery reads the partner side only).
func TestPartnerDemoJSONEveryLaneAndNoCustomerRequest(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	logPath := filepath.Join(dir, "sim.jsonl")
	code, out, errs := runCLI(t, nil, "demo", "--partner", "--json", "--state-dir", dir, "--sim-log", logPath)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	lanes := map[string]int{}
	customers, signIns := 0, 0
	var finished map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		switch ev["type"] {
		case "customer":
			customers++
			c := ev["customer"].(map[string]any)
			lanes[c["lane"].(string)]++
			if c["remedy"] == "" || len(c["roles"].([]any)) != 3 {
				t.Errorf("customer row without remedy or roles: %v", c)
			}
		case "signed_in":
			signIns++
		case "finished":
			finished = ev
		}
	}
	if customers != 25 || signIns != 1 || finished == nil || finished["outcome"] != "discovered" {
		t.Fatalf("customers %d, sign-ins %d, finished %v", customers, signIns, finished)
	}
	for _, l := range partner.Lanes() {
		if lanes[string(l)] == 0 {
			t.Errorf("lane %s missing: %v", l, lanes)
		}
	}
	sc := sim.PartnerDemoScenario()
	cust := map[string]bool{}
	for _, c := range sc.Customers {
		cust[strings.ToLower(c.TenantID)] = true
	}
	f, err := os.Open(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n, batches := 0, 0
	sc2 := bufio.NewScanner(f)
	for sc2.Scan() {
		var rec sim.RequestRecord
		if err := json.Unmarshal(sc2.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		n++
		if cust[rec.Tenant] {
			t.Errorf("request to customer tenant %s: %s %s", rec.Tenant, rec.Method, rec.Path)
		}
		if strings.HasSuffix(rec.Path, "/$batch") {
			batches++
		}
	}
	if n == 0 || batches == 0 {
		t.Fatalf("request log: %d records, %d $batch", n, batches)
	}
}

func TestPartnerDemoPlainWithLaneFilterAndCSV(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "plan.csv")
	code, out, errs := runCLI(t, nil, "demo", "--partner", "--plain", "--state-dir", dir, "--csv", csvPath, "--lane", "no-gdap,partial")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{"== Step 1/2: Sign-in", "== Step 2/2: GDAP discovery", "25 customers", "remedy:", "CSV: " + csvPath} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, " ready   ") {
		t.Errorf("--lane no-gdap,partial still printed a ready row:\n%s", out)
	}
	f, err := os.Open(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) < 3 || recs[0][3] != "lane" {
		t.Fatalf("csv %v", recs)
	}
	for _, r := range recs[1:] {
		if r[3] != "no-gdap" && r[3] != "partial" {
			t.Errorf("csv row in lane %s", r[3])
		}
		if r[len(r)-3] == "" { // remedy
			t.Errorf("csv row without remedy: %v", r)
		}
	}
}

func partnerEndpointsFile(t *testing.T, sc *sim.PartnerScenario) (string, *sim.PartnerServer) {
	t.Helper()
	srv, err := sim.StartPartner(sc, sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	p := filepath.Join(t.TempDir(), "endpoints.json")
	if err := srv.Endpoints().Save(p); err != nil {
		t.Fatal(err)
	}
	return p, srv
}

func TestBatchPlanAndPartnerSignInAgainstTheSimulator(t *testing.T) {
	t.Parallel()
	ep, _ := partnerEndpointsFile(t, sim.GeneratePartnerScenario(12, 3))
	dir := t.TempDir()
	code, out, errs := runCLI(t, nil, "batch", "plan", "--endpoints", ep, "--plain", "--state-dir", dir)
	if code != 0 || !strings.Contains(out, "12 customers") {
		t.Fatalf("batch plan: exit %d\n%s\n%s", code, out, errs)
	}
	code, out, errs = runCLI(t, nil, "partner", "sign-in", "--endpoints", ep, "--plain", "--state-dir", dir)
	if code != 0 || !strings.Contains(out, "Partner Center: MFA claim accepted; 12 customers.") {
		t.Fatalf("partner sign-in: exit %d\n%s\n%s", code, out, errs)
	}

	// A technician without MFA: Partner Center's 401/900421 is explained.
	sc := sim.GeneratePartnerScenario(12, 3)
	sc.Partner.Users[0].MFA = false
	ep2, _ := partnerEndpointsFile(t, sc)
	code, out, _ = runCLI(t, nil, "partner", "sign-in", "--endpoints", ep2, "--plain", "--state-dir", dir)
	if code != ExitStopped || !strings.Contains(out, "900421") || !strings.Contains(out, "multi-factor") {
		t.Fatalf("no MFA: exit %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, nil, "batch", "plan", "--endpoints", ep2, "--json", "--state-dir", dir)
	if code != 1 || !strings.Contains(out, "900421") {
		t.Fatalf("batch plan without MFA: exit %d\n%s", code, out)
	}
}

func TestBatchPlanUsageErrors(t *testing.T) {
	t.Parallel()
	code, _, errs := runCLI(t, nil, "batch", "plan", "--cloud", "global", "--plain")
	if code != ExitUsage || !strings.Contains(errs, "--client-id") {
		t.Fatalf("no onboarding app: exit %d %s", code, errs)
	}
	code, _, errs = runCLI(t, nil, "batch", "plan", "--cloud", "global", "--lane", "readdy")
	if code != ExitUsage || !strings.Contains(errs, "readdy") || !strings.Contains(errs, "not-assigned") {
		t.Fatalf("bad lane: exit %d %s", code, errs)
	}
	code, _, errs = runCLI(t, nil, "demo", "--partner", "--plain", "--log-file", filepath.Join(t.TempDir(), "missing", "x.log"))
	if code != ExitUsage || !strings.Contains(errs, "--log-file") {
		t.Fatalf("bad --log-file: exit %d %s", code, errs)
	}
	code, _, errs = runCLI(t, nil, "demo", "--partner", "--customers", "0")
	if code != ExitUsage || !strings.Contains(errs, "--customers") {
		t.Fatalf("--customers 0: exit %d %s", code, errs)
	}
}

// sim serve --partner writes an endpoints file that batch plan uses.
func TestSimServePartnerForBatchPlan(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ep := filepath.Join(dir, "ep.json")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var out bytes.Buffer
	go func() {
		done <- Run(ctx, []string{"sim", "serve", "--partner", "--customers", "6", "--endpoints-out", ep}, IO{In: strings.NewReader(""), Out: &out, Err: &out, Env: headlessEnv})
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(ep); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("no endpoints file; output %s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	code, planOut, errs := runCLI(t, nil, "batch", "plan", "--endpoints", ep, "--plain", "--state-dir", dir)
	cancel()
	if code != 0 || !strings.Contains(planOut, "6 customers") {
		t.Fatalf("batch plan: exit %d\n%s\n%s", code, planOut, errs)
	}
	if c := <-done; c != 0 {
		t.Fatalf("sim serve --partner exit %d", c)
	}
}
