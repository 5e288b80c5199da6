package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// simGet GETs a path and returns status, headers and body.
func simGet(t *testing.T, c *http.Client, u string) (int, http.Header, []byte) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// simWaitRequests waits until the request log holds n records (the record is
// added just after the response is written).
func simWaitRequests(t *testing.T, srv *Server, n int) []RequestRecord {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		recs := srv.Requests()
		if len(recs) >= n {
			return recs
		}
		if time.Now().After(deadline) {
			t.Fatalf("request log has %d records, want %d", len(recs), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestFaultsDeterministicForSeed(t *testing.T) {
	run := func(seed int64) string {
		srv := simTestStart(t, simTestScenario(t, func(sc *Scenario) {
			sc.Seed = seed
			sc.Faults = []FaultSpec{
				{Group: GroupIdentity, Kind: Fault429, Rate: 0.3, RetryAfter: 7},
				{Group: GroupIdentity, Kind: Fault503, Rate: 0.3},
			}
		}), Options{})
		c := srv.HTTPClient()
		var seq []string
		for i := 0; i < 40; i++ {
			st, _, _ := simGet(t, c, srv.URL()+"/"+srv.TenantID()+"/v2.0/.well-known/openid-configuration")
			seq = append(seq, fmt.Sprint(st))
		}
		return strings.Join(seq, ",")
	}
	a, b := run(7), run(7)
	if a != b {
		t.Fatalf("same seed, different faults:\n%s\n%s", a, b)
	}
	for _, want := range []string{"200", "429", "503"} {
		if !strings.Contains(a, want) {
			t.Errorf("sequence lacks %s: %s", want, a)
		}
	}
	if c := run(8); c == a {
		t.Errorf("different seeds gave the same 40 decisions: %s", c)
	}
}

func TestFault429ShapesPerGroup(t *testing.T) {
	srv := simTestStart(t, simTestScenario(t, func(sc *Scenario) {
		sc.Faults = []FaultSpec{{Kind: Fault429, RetryAfter: 3}}
	}), Options{})
	c := srv.HTTPClient()
	for _, p := range []struct{ path, check string }{
		{"/" + srv.TenantID() + "/v2.0/.well-known/openid-configuration", `"error":"temporarily_unavailable"`},
		{"/graph/v1.0/me", `"code":"TooManyRequests"`},
		{"/exchange/adminapi/beta/x/InvokeCommand", `"code":"TooManyRequests"`},
		{"/platform/v1/account", `"code":"rate_limited"`},
	} {
		st, h, body := simGet(t, c, srv.URL()+p.path)
		if st != 429 || h.Get("Retry-After") != "3" {
			t.Errorf("%s: %d Retry-After %q", p.path, st, h.Get("Retry-After"))
		}
		if !bytes.Contains(body, []byte(p.check)) {
			t.Errorf("%s: body %s lacks %s", p.path, body, p.check)
		}
		if !json.Valid(body) {
			t.Errorf("%s: body not JSON", p.path)
		}
	}
	// The browser page is spared unless the fault names it.
	if st, _, _ := simGet(t, c, srv.URL()+"/devicelogin"); st != 200 {
		t.Errorf("/devicelogin faulted: %d", st)
	}
}

func TestFaultExchangeThrottleHeaders(t *testing.T) {
	srv := simTestStart(t, simTestScenario(t, func(sc *Scenario) {
		sc.Faults = []FaultSpec{{Group: GroupExchange, Kind: FaultExchangeThrottle, RetryAfter: 2}}
	}), Options{})
	st, h, _ := simGet(t, srv.HTTPClient(), srv.URL()+"/exchange/adminapi/beta/x/InvokeCommand")
	if st != 429 || h.Get("Rate-Limit-Remaining") != "0" || h.Get("Rate-Limit-Reset") == "" || h.Get("Retry-After") != "2" {
		t.Errorf("exchange throttle: %d %v", st, h)
	}
}

func TestFaultedWriteIsNotApplied(t *testing.T) {
	srv := simTestStart(t, simTestScenario(t, func(sc *Scenario) {
		sc.Faults = []FaultSpec{{Group: GroupIdentity, Path: "/*/oauth2/v2.0/devicecode", Method: "post", Kind: Fault503, Count: 1, RetryAfter: 5}}
	}), Options{})
	form := url.Values{"client_id": {srv.Endpoints().ClientID}, "scope": {"https://graph.microsoft.com/.default"}}
	resp, err := srv.HTTPClient().PostForm(srv.URL()+"/"+srv.TenantID()+"/oauth2/v2.0/devicecode", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "5" {
		t.Fatalf("first: %d", resp.StatusCode)
	}
	srv.idp.mu.Lock()
	n := len(srv.idp.byDevice)
	srv.idp.mu.Unlock()
	if n != 0 {
		t.Errorf("faulted request created %d device codes", n)
	}
	// Count 1: the retry goes through.
	st, body := simPost(t, srv, "/"+srv.TenantID()+"/oauth2/v2.0/devicecode", form)
	if st != 200 || body["user_code"] == nil {
		t.Errorf("retry: %d %v", st, body)
	}
	recs := simWaitRequests(t, srv, 2)
	if recs[0].Fault != "503" || recs[0].Status != 503 || recs[1].Fault != "" {
		t.Errorf("log %+v", recs)
	}
}

func TestFaultResetClosesConnection(t *testing.T) {
	srv := simTestStart(t, simTestScenario(t, func(sc *Scenario) {
		sc.Faults = []FaultSpec{{Group: GroupPlatform, Kind: FaultReset, Count: 1}}
	}), Options{})
	c := srv.HTTPClient()
	resp, err := c.Get(srv.URL() + "/platform/v1/account")
	if err == nil {
		resp.Body.Close()
		t.Fatalf("reset fault answered %d", resp.StatusCode)
	}
	recs := simWaitRequests(t, srv, 1)
	if recs[0].Fault != "reset" || recs[0].Status != 0 || recs[0].Group != GroupPlatform {
		t.Errorf("log %+v", recs[0])
	}
	// The server keeps serving.
	if st, _, _ := simGet(t, c, srv.URL()+"/"+srv.TenantID()+"/v2.0/.well-known/openid-configuration"); st != 200 {
		t.Errorf("after reset: %d", st)
	}
}

func TestFaultSlowBodyAndLatencyKeepBody(t *testing.T) {
	srv := simTestStart(t, simTestScenario(t, func(sc *Scenario) {
		sc.Faults = []FaultSpec{
			{Group: GroupIdentity, Path: "/*/v2.0/.well-known/*", Kind: FaultSlowBody, Latency: Duration(20 * time.Millisecond)},
			{Group: GroupIdentity, Kind: FaultLatency, Latency: Duration(time.Millisecond), Jitter: Duration(time.Millisecond)},
		}
	}), Options{})
	st, _, body := simGet(t, srv.HTTPClient(), srv.URL()+"/"+srv.TenantID()+"/v2.0/.well-known/openid-configuration")
	var cfg map[string]any
	if st != 200 || json.Unmarshal(body, &cfg) != nil || cfg["token_endpoint"] == nil {
		t.Fatalf("slow body: %d %s", st, body)
	}
	recs := simWaitRequests(t, srv, 1)
	if recs[0].Fault != "slow-body+latency" {
		t.Errorf("fault %q", recs[0].Fault)
	}
}

// simLockedBuffer is a goroutine-safe log sink.
type simLockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *simLockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *simLockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestRequestLogLines(t *testing.T) {
	var buf simLockedBuffer
	srv := simTestStart(t, simTestScenario(t, func(sc *Scenario) {
		sc.Faults = []FaultSpec{{Group: GroupPlatform, Kind: Fault500, Count: 1}}
	}), Options{Log: &buf})
	c := srv.HTTPClient()
	dc := simDeviceCodeStart(t, srv, "https://graph.microsoft.com/.default openid offline_access profile")
	simPoll(t, srv, dc)
	simGet(t, c, srv.URL()+"/devicelogin?otc=SECRETCODE")
	simGet(t, c, srv.URL()+"/platform/v1/account")
	simWaitRequests(t, srv, 4)
	out := buf.String()
	if strings.Contains(out, dc["device_code"].(string)) || strings.Contains(out, "SECRETCODE") || strings.Contains(out, dc["user_code"].(string)) {
		t.Error("log holds a secret or a query string")
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines:\n%s", len(lines), out)
	}
	for i, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %d not JSON: %s", i, l)
		}
		for _, k := range []string{"time", "method", "path", "status", "latency_ms", "group", "fault"} {
			if _, ok := m[k]; !ok {
				t.Errorf("line %d lacks %s: %s", i, k, l)
			}
		}
	}
	var last RequestRecord
	json.Unmarshal([]byte(lines[3]), &last)
	if last.Path != "/platform/v1/account" || last.Status != 500 || last.Fault != "500" || last.Group != "platform" || last.Method != "GET" {
		t.Errorf("last record %+v", last)
	}
	var poll RequestRecord
	json.Unmarshal([]byte(lines[1]), &poll)
	if poll.Status != 200 || poll.Group != "identity" || poll.Method != "POST" {
		t.Errorf("poll record %+v", poll)
	}
}

func TestFaultMatching(t *testing.T) {
	f := simNewFaults(1, []FaultSpec{
		{Group: GroupGraph, Path: "/v1.0/servicePrincipals", Method: "POST", Kind: Fault500, Rate: 1},
		{Group: GroupExchange, Path: "/exchange/adminapi/*/*/InvokeCommand", Kind: Fault503, Rate: 1, Count: 1},
		{Kind: FaultLatency, Latency: Duration(time.Millisecond), Rate: 1},
		{Path: "/devicelogin", Kind: Fault429, Rate: 1},
	})
	name := func(group, method, full string) string {
		_, rel := simGroupOf(full)
		p := f.decide(group, method, full, rel)
		return strings.Join(p.names, "+")
	}
	for _, c := range []struct{ group, method, path, want string }{
		{GroupGraph, "POST", "/graph/v1.0/servicePrincipals", "500+latency"},
		{GroupGraph, "POST", "/graph/v1.0/servicePrincipals/abc/appRoleAssignedTo", "500+latency"}, // prefix
		{GroupGraph, "GET", "/graph/v1.0/servicePrincipals", "latency"},                            // method
		{GroupGraph, "POST", "/graph/v1.0/users", "latency"},                                       // path
		{GroupExchange, "POST", "/exchange/adminapi/beta/contoso.onmicrosoft.com/InvokeCommand", "503+latency"},
		{GroupExchange, "POST", "/exchange/adminapi/beta/contoso.onmicrosoft.com/InvokeCommand", "latency"}, // count 1
		{GroupIdentity, "GET", "/devicelogin", "429"},                                                       // only explicit faults
		{GroupIdentity, "GET", "/organizations/oauth2/v2.0/authorize", ""},
		{GroupIdentity, "POST", "/organizations/oauth2/v2.0/token", "latency"},
	} {
		if got := name(c.group, c.method, c.path); got != c.want {
			t.Errorf("%s %s: %q, want %q", c.method, c.path, got, c.want)
		}
	}
}

func TestPrincipalStringHasNoToken(t *testing.T) {
	srv := simTestStart(t, simTestScenario(t, nil), Options{})
	tok := srv.IssueToken("https://graph.microsoft.com")
	p, ok := srv.Tokens().Lookup(tok)
	if !ok {
		t.Fatal("lookup")
	}
	if s := p.String(); strings.Contains(s, tok) || !strings.Contains(s, "admin@contoso.onmicrosoft.com") {
		t.Errorf("String() = %q", s)
	}
}

// The request log goes through the project's JSON sanitiser: a C1 control
// in a request path (CSI U+009B, OSC U+009D) is written as a \u escape,
// never raw, so `cat` or `tail -f` of the log cannot act on it.
func TestRequestLogEscapesC1Controls(t *testing.T) {
	var buf simLockedBuffer
	srv := simTestStart(t, simTestScenario(t, nil), Options{Log: &buf})
	simGet(t, srv.HTTPClient(), srv.URL()+"/platform/v1/organizations/org%C2%9B31m%C2%9D52")
	simWaitRequests(t, srv, 1)
	out := buf.String()
	if strings.Contains(out, "\u009b") || strings.Contains(out, "\u009d") {
		t.Fatalf("raw C1 control in the request log: %q", out)
	}
	if !strings.Contains(out, `org\u009b31m\u009d52`) {
		t.Fatalf("the path's C1 controls are not \\u escapes: %q", out)
	}
	var rec RequestRecord
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &rec); err != nil || rec.Path != "/platform/v1/organizations/org\u009b31m\u009d52" {
		t.Fatalf("the line does not read back to the path (%v): %+v", err, rec)
	}
}

// race: another client's identical write lands just before the request, so
// the request meets the service's answer to a duplicate; reads never race.
func TestRaceFaultPlaysAnotherWriterFirst(t *testing.T) {
	srv := simTestStart(t, simTestScenario(t, func(sc *Scenario) {
		sc.Faults = []FaultSpec{{Group: GroupGraph, Kind: FaultRace}}
	}), Options{})
	c := srv.HTTPClient()
	tok := srv.IssueToken("https://graph.microsoft.com")
	do := func(method, path, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL()+"/graph/v1.0"+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	status, m := do(http.MethodPost, "/servicePrincipals", `{"appId":"`+DefaultPlatformAppID+`"}`)
	if e, _ := m["error"].(map[string]any); status != 409 || e["code"] != "Request_MultipleObjectsWithSameKeyValue" {
		t.Fatalf("raced create: %d %v", status, m)
	}
	if ch := srv.State().Changes(); len(ch) != 1 || ch[0].Op != "POST /servicePrincipals" {
		t.Fatalf("the other writer's create is not in the tenant: %+v", ch)
	}
	status, m = do(http.MethodGet, "/servicePrincipals(appId='"+DefaultPlatformAppID+"')", "")
	if status != 200 || m["appId"] != DefaultPlatformAppID {
		t.Fatalf("read: %d %v", status, m)
	}
	sp := m["id"].(string)
	status, m = do(http.MethodPost, "/roleManagement/directory/roleAssignments",
		`{"@odata.type":"#microsoft.graph.unifiedRoleAssignment","roleDefinitionId":"`+RoleExchangeAdministrator+`","principalId":"`+sp+`","directoryScopeId":"/"}`)
	if e, _ := m["error"].(map[string]any); status != 400 || e["code"] != "Request_BadRequest" {
		t.Fatalf("raced role assignment: %d %v", status, m)
	}
	var raced, reads int
	for _, r := range srv.Requests() {
		switch {
		case r.Fault == FaultRace && r.Method == http.MethodPost:
			raced++
		case r.Method == http.MethodGet && r.Fault == "":
			reads++
		}
	}
	if raced != 2 || reads != 1 {
		t.Fatalf("raced %d writes and %d unraced reads, want 2 and 1: %+v", raced, reads, srv.Requests())
	}
}
