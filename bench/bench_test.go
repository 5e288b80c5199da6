package main

import (
	"context"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

func at(ms int) time.Time { return time.Unix(1000, 0).Add(time.Duration(ms) * time.Millisecond) }

func TestChainCountsRequestsOneAfterAnother(t *testing.T) {
	sp := []span{
		{at(0), at(40), "a"},   // first
		{at(1), at(41), "b"},   // parallel to a
		{at(41), at(81), "c"},  // after a
		{at(42), at(82), "d"},  // after a, parallel to c
		{at(90), at(130), "e"}, // after c and d
	}
	got := chain(sp)
	if len(got) != 3 || got[0].Label != "a" || got[2].Label != "e" {
		t.Fatalf("chain = %v, want a → c|d → e", got)
	}
	if n := len(chain(nil)); n != 0 {
		t.Fatalf("empty chain has %d", n)
	}
	// Fully parallel requests are one round trip.
	if n := len(chain([]span{{at(0), at(40), "x"}, {at(0), at(40), "y"}, {at(2), at(41), "z"}})); n != 1 {
		t.Fatalf("parallel requests counted as %d round trips", n)
	}
}

func TestRepeatedReadsSeparatesRedundantFromRechecks(t *testing.T) {
	reqs := []sniffed{
		{Method: "GET", Path: "/graph/v1.0/me", Query: "$select=id"},
		{Method: "GET", Path: "/graph/v1.0/me", Query: "$select=id"},          // redundant
		{Method: "GET", Path: "/graph/v1.0/me", Query: "$select=displayName"}, // different read
		{Method: "POST", Path: "/exchange/adminapi/beta/t/InvokeCommand", Cmdlet: "Get-ManagementRoleAssignment"},
		{Method: "POST", Path: "/exchange/adminapi/beta/t/InvokeCommand", Cmdlet: "New-ManagementRoleAssignment"}, // a write
		{Method: "POST", Path: "/exchange/adminapi/beta/t/InvokeCommand", Cmdlet: "Get-ManagementRoleAssignment"}, // re-check after a write
		{Method: "POST", Path: "/tenant/oauth2/v2.0/token"},
		{Method: "GET", Path: "/organizations/v2.0/.well-known/openid-configuration"},
		{Method: "GET", Path: "/organizations/v2.0/.well-known/openid-configuration"}, // MSAL's: not counted
		{Method: "POST", Path: "/graph/v1.0/$batch", Batch: []string{"GET /organization", "GET /me"}},
		{Method: "GET", Path: "/graph/v1.0/me", Query: "$select=id"}, // after a write: not redundant
	}
	got := map[string]repeat{}
	for _, r := range repeatedReads(reqs) {
		got[r.Key] = r
	}
	if r := got["GET /graph/v1.0/me?$select=id"]; r.N != 3 || r.Redundant != 1 {
		t.Errorf("me: %+v, want 3 reads, 1 redundant", r)
	}
	k := "POST /exchange/adminapi/beta/t/InvokeCommand Get-ManagementRoleAssignment"
	if r := got[k]; r.N != 2 || r.Redundant != 0 {
		t.Errorf("cmdlet: %+v, want 2 reads, 0 redundant", r)
	}
	if len(got) != 2 {
		t.Errorf("got %d repeated keys, want 2: %v", len(got), got)
	}
}

func TestReadKeyRedactsIdentityQueries(t *testing.T) {
	k, read := sniffed{Method: "GET", Path: "/tenant/oauth2/v2.0/authorize", Query: "code_challenge=SECRET&state=x"}.readKey()
	if !read || strings.Contains(k, "SECRET") || !strings.Contains(k, "code_challenge=") {
		t.Fatalf("key %q", k)
	}
}

func TestSnifferSeesQueriesCmdletsAndBatches(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("{}")) }))
	defer srv.Close()
	s := &sniffer{}
	s.trust(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})))
	tr := &http.Transport{DialTLSContext: s.dialTLS}
	hc := &http.Client{Transport: tr}
	do := func(method, path, body string) {
		req, _ := http.NewRequestWithContext(context.Background(), method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer TOKEN")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	do("GET", "/graph/v1.0/servicePrincipals?$filter=appId%20eq%20%27x%27", "")
	do("POST", "/exchange/adminapi/beta/t/InvokeCommand", `{"CmdletInput":{"CmdletName":"Get-ManagementRoleAssignment","Parameters":{"RoleAssignee":"Organization Management"}}}`)
	do("POST", "/graph/v1.0/$batch", `{"requests":[{"id":"1","method":"get","url":"/organization"},{"id":"2","method":"GET","url":"/me"}]}`)
	tr.CloseIdleConnections()
	var reqs []sniffed
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if reqs = s.requests(); len(reqs) == 3 {
			break
		}
	}
	if len(reqs) != 3 {
		t.Fatalf("sniffed %d requests, want 3", len(reqs))
	}
	if reqs[0].Query != "$filter=appId%20eq%20%27x%27" || reqs[0].Path != "/graph/v1.0/servicePrincipals" {
		t.Errorf("GET: %+v", reqs[0])
	}
	if reqs[1].Cmdlet != "Get-ManagementRoleAssignment -RoleAssignee Organization Management" {
		t.Errorf("cmdlet: %q", reqs[1].Cmdlet)
	}
	if strings.Join(reqs[2].Batch, ",") != "GET /organization,GET /me" || reqs[2].isWrite() {
		t.Errorf("batch: %v (write %v)", reqs[2].Batch, reqs[2].isWrite())
	}
	if len(s.handshakes()) != 1 {
		t.Errorf("%d handshakes for one keep-alive connection", len(s.handshakes()))
	}
	// A server whose CA was not trusted is refused, as the real transport would.
	fresh := &sniffer{}
	if _, err := (&http.Client{Transport: &http.Transport{DialTLSContext: fresh.dialTLS}}).Get(srv.URL); err == nil {
		t.Error("the sniffing dialer accepted a certificate from an untrusted CA")
	}
}

func TestReplaceSection(t *testing.T) {
	sec := "## Performance\n\nnew table\n"
	if got := replaceSection("# T\n\nintro\n", "## Performance", sec); got != "# T\n\nintro\n\n"+sec {
		t.Errorf("append: %q", got)
	}
	doc := "# T\n\n## Performance\n\nold\n```\n## not a heading\n```\n\n## Next\n\nkeep\n"
	want := "# T\n\n" + sec + "\n## Next\n\nkeep\n"
	if got := replaceSection(doc, "## Performance", sec); got != want {
		t.Errorf("replace:\n%q\nwant\n%q", got, want)
	}
	doc = "# T\n\n## Performance\n\nold\n"
	if got := replaceSection(doc, "## Performance", sec); got != "# T\n\n"+sec {
		t.Errorf("replace at end: %q", got)
	}
}

func TestRenderTableAlignsColumns(t *testing.T) {
	rows := []row{{ID: "1", Name: "time to code", Measured: "90.0 ms", Bound: "80.0 ms", Ratio: "1.13×", Target: "≤ 1.30×", Result: "PASS"}}
	lines := strings.Split(strings.TrimSpace(renderTable(rows)), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines", len(lines))
	}
	for _, l := range lines[1:] {
		if len([]rune(l)) != len([]rune(lines[0])) {
			t.Errorf("misaligned:\n%s", strings.Join(lines, "\n"))
		}
	}
}

func TestJudge(t *testing.T) {
	var r row
	r.judge(104*time.Millisecond, 80*time.Millisecond, 1.3)
	if r.fail || r.Ratio != "1.30×" {
		t.Errorf("1.3× of target 1.3 should pass: %+v", r)
	}
	r.judge(105*time.Millisecond, 80*time.Millisecond, 1.3)
	if !r.fail || r.Result != "FAIL" {
		t.Errorf("1.31× should fail: %+v", r)
	}
}

func TestParseEventsAndCheckWall(t *testing.T) {
	in := `{"time":"2026-01-01T00:00:00.100Z","step":"prereqs","type":"check","id":"a","duration_ms":50}
{"time":"2026-01-01T00:00:00.120Z","step":"prereqs","type":"check","id":"b","duration_ms":100}
{"time":"2026-01-01T00:00:00.200Z","step":"signin","type":"device_code","user_code":"ABCD"}
`
	evs, err := parseEvents(strings.NewReader(in))
	if err != nil || len(evs) != 3 {
		t.Fatalf("%v, %d events", err, len(evs))
	}
	if w := wallOf(checkTimings(evs, map[string]bool{"a": true, "b": true})); w != 100*time.Millisecond {
		t.Errorf("wall %s, want 100ms (b started at 20 ms, a ended at 100 ms... b ends last)", w)
	}
	if e, ok := findEvent(evs, "device_code"); !ok || e.UserCode != "ABCD" {
		t.Errorf("device_code event: %+v", e)
	}
	if _, err := parseEvents(strings.NewReader("not json\n")); err == nil {
		t.Error("a non-JSON line was accepted")
	}
}

func TestProcReaders(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	if _, err := cpuTicks(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	kb, err := procStatusKB(os.Getpid(), "VmHWM")
	if err != nil || kb <= 0 {
		t.Fatalf("VmHWM %d, %v", kb, err)
	}
}

func TestFilterKeystrokesAndChoices(t *testing.T) {
	cs := orgChoices(50)
	if len(cs) != 51 || cs[50].Label != "Customer 00050" {
		t.Fatalf("choices: %d, last %+v", len(cs), cs[len(cs)-1])
	}
	res := measureFilter(50, 1)
	if res.Orgs != 51 || res.Keys != len(keystrokes()) || res.Worst <= 0 {
		t.Fatalf("%+v", res)
	}
}
