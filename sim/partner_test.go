package sim

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

type ptClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *ptClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *ptClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func ptStart(t *testing.T, sc *PartnerScenario) (*PartnerServer, *ptClock) {
	t.Helper()
	clk := &ptClock{t: time.Now()}
	s, err := StartPartner(sc, Options{Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, clk
}

type ptResp struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func ptDo(t *testing.T, s *PartnerServer, method, path, token string, body any, form url.Values) ptResp {
	t.Helper()
	var rd io.Reader
	ct := ""
	switch {
	case form != nil:
		rd, ct = strings.NewReader(form.Encode()), "application/x-www-form-urlencoded"
	case body != nil:
		b, _ := json.Marshal(body)
		rd, ct = bytes.NewReader(b), "application/json"
	}
	req, _ := http.NewRequest(method, s.URL()+path, rd)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.Endpoints().HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := ptResp{status: resp.StatusCode, header: resp.Header, raw: string(b)}
	_ = json.Unmarshal(b, &out.body)
	return out
}

// ptSignIn runs the device code grant at the partner authority and returns
// the Graph access token and the refresh token.
func ptSignIn(t *testing.T, s *PartnerServer, scope string) (string, string) {
	t.Helper()
	app := s.Scenario().Partner.AppID
	dc := ptDo(t, s, "POST", "/organizations/oauth2/v2.0/devicecode", "", nil, url.Values{"client_id": {app}, "scope": {scope + " offline_access openid profile"}})
	if dc.status != 200 {
		t.Fatalf("devicecode: %d %s", dc.status, dc.raw)
	}
	tok := ptDo(t, s, "POST", "/organizations/oauth2/v2.0/token", "", nil, url.Values{
		"client_id": {app}, "grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {dc.body["device_code"].(string)}, "scope": {scope + " offline_access openid profile"}})
	if tok.status != 200 {
		t.Fatalf("token: %d %s", tok.status, tok.raw)
	}
	return tok.body["access_token"].(string), tok.body["refresh_token"].(string)
}

func ptRedeem(t *testing.T, s *PartnerServer, tenant, rt, scope string) ptResp {
	t.Helper()
	return ptDo(t, s, "POST", "/"+tenant+"/oauth2/v2.0/token", "", nil, url.Values{
		"client_id": {s.Scenario().Partner.AppID}, "grant_type": {"refresh_token"}, "refresh_token": {rt}, "scope": {scope + " offline_access openid profile"}})
}

func ptClaims(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

func ptCustomerOf(sc *PartnerScenario, lane string) CustomerSpec {
	for _, c := range sc.Customers {
		if c.Lane == lane {
			return c
		}
	}
	panic("no customer in lane " + lane)
}

func TestPartnerGeneratorDeterministicWithEveryLane(t *testing.T) {
	t.Parallel()
	a, b := GeneratePartnerScenario(25, 7), GeneratePartnerScenario(25, 7)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed gave different scenarios")
	}
	if c := GeneratePartnerScenario(25, 8); reflect.DeepEqual(a.Customers, c.Customers) {
		t.Fatal("another seed gave the same customers")
	}
	for _, n := range []int{10, 25, 100} {
		sc := GeneratePartnerScenario(n, 1)
		if err := sc.Validate(); err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		count := map[string]int{}
		for _, c := range sc.Customers {
			count[c.Lane]++
		}
		for _, lane := range []string{LaneReady, LaneSettling, LanePartial, LaneNotAssigned, LaneNoGDAP, LaneConnected, LaneConflict, LaneCABlocked, LaneNoExchange, LaneReadyConsented} {
			if count[lane] == 0 {
				t.Errorf("n=%d: lane %s missing (%v)", n, lane, count)
			}
		}
		if len(sc.Customers) != n {
			t.Fatalf("n=%d: %d customers", n, len(sc.Customers))
		}
	}
	if got := len(PartnerDemoScenario().Customers); got != 25 {
		t.Fatalf("built-in scenario has %d customers", got)
	}
}

func TestPartnerScenarioValidateNamesField(t *testing.T) {
	t.Parallel()
	sc := GeneratePartnerScenario(10, 1)
	sc.Customers[0].Relationships[0].Assignments[0].Group = "Nope"
	if err := sc.Validate(); err == nil || !strings.Contains(err.Error(), "customers[0].relationships[0].assignments[0].group") {
		t.Fatalf("err = %v", err)
	}
	sc = GeneratePartnerScenario(10, 1)
	sc.Customers[1].Relationships[0].Status = "Active"
	if err := sc.Validate(); err == nil || !strings.Contains(err.Error(), "status") {
		t.Fatalf("err = %v", err)
	}
}

func TestPartnerGraphGDAPShapes(t *testing.T) {
	t.Parallel()
	sc := GeneratePartnerScenario(25, 3)
	s, clk := ptStart(t, sc)
	at, _ := ptSignIn(t, s, "https://graph.microsoft.com/.default")

	// $top above 300 is refused; $filter and paging work.
	if r := ptDo(t, s, "GET", "/graph/v1.0/tenantRelationships/delegatedAdminRelationships?$top=301", at, nil, nil); r.status != 400 {
		t.Fatalf("$top=301: %d", r.status)
	}
	var all []any
	next := "/graph/v1.0/tenantRelationships/delegatedAdminRelationships?" + url.Values{"$filter": {"status eq 'active'"}, "$top": {"7"}}.Encode()
	for pages := 0; next != ""; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		r := ptDo(t, s, "GET", next, at, nil, nil)
		if r.status != 200 {
			t.Fatalf("list: %d %s", r.status, r.raw)
		}
		vals := r.body["value"].([]any)
		if len(vals) > 7 {
			t.Fatalf("page of %d > $top", len(vals))
		}
		all = append(all, vals...)
		next = ""
		if l, ok := r.body["@odata.nextLink"].(string); ok {
			next = strings.TrimPrefix(l, s.URL())
		}
	}
	wantActive, mlt := 0, 0
	for _, c := range sc.Customers {
		for _, r := range c.Relationships {
			if r.Status == "active" {
				wantActive++
				if strings.HasPrefix(r.DisplayName, "MLT_") {
					mlt++
				}
			}
		}
	}
	if len(all) != wantActive || mlt == 0 {
		t.Fatalf("active relationships: got %d want %d (MLT %d)", len(all), wantActive, mlt)
	}
	rel := all[0].(map[string]any)
	for _, k := range []string{"id", "displayName", "customer", "accessDetails", "status", "endDateTime", "activatedDateTime", "@odata.etag", "duration"} {
		if _, ok := rel[k]; !ok {
			t.Errorf("relationship lacks %q", k)
		}
	}
	if rel["status"] != "active" {
		t.Fatalf("filter returned %v", rel["status"])
	}

	// Access assignment pending → active for the settling customer with a delay.
	var pendingRel string
	for _, c := range sc.Customers {
		if c.Lane == LaneSettling && len(c.Relationships) > 0 && c.Relationships[0].Assignments[0].ActiveAfter > 0 {
			rl, _ := s.relationship(s.customers[strings.ToLower(c.TenantID)].rels[0].id)
			pendingRel = rl.id
		}
	}
	if pendingRel == "" {
		t.Fatal("no settling customer with a pending assignment")
	}
	status := func() string {
		r := ptDo(t, s, "GET", "/graph/v1.0/tenantRelationships/delegatedAdminRelationships/"+pendingRel+"/accessAssignments", at, nil, nil)
		return r.body["value"].([]any)[0].(map[string]any)["status"].(string)
	}
	if st := status(); st != "pending" {
		t.Fatalf("assignment status %s, want pending", st)
	}
	clk.add(2 * time.Minute)
	if st := status(); st != "active" {
		t.Fatalf("assignment status %s after the delay, want active", st)
	}

	// $batch: ≤20 sub-requests, each answered.
	var reqs []map[string]any
	for i := 0; i < 21; i++ {
		reqs = append(reqs, map[string]any{"id": fmt.Sprint(i), "method": "GET", "url": "/tenantRelationships/delegatedAdminRelationships/" + pendingRel + "/accessAssignments"})
	}
	if r := ptDo(t, s, "POST", "/graph/v1.0/$batch", at, map[string]any{"requests": reqs}, nil); r.status != 400 {
		t.Fatalf("batch of 21: %d", r.status)
	}
	r := ptDo(t, s, "POST", "/graph/v1.0/$batch", at, map[string]any{"requests": reqs[:20]}, nil)
	if r.status != 200 || len(r.body["responses"].([]any)) != 20 {
		t.Fatalf("batch of 20: %d %s", r.status, r.raw)
	}
	if sub := r.body["responses"].([]any)[0].(map[string]any); sub["status"].(float64) != 200 {
		t.Fatalf("sub-response %v", sub)
	}

	// The user's groups (the onboarding group and AdminAgents).
	m := ptDo(t, s, "GET", "/graph/v1.0/me/transitiveMemberOf?$select=id,displayName", at, nil, nil)
	names := map[string]bool{}
	for _, g := range m.body["value"].([]any) {
		names[g.(map[string]any)["displayName"].(string)] = true
	}
	if !names["GDAP Onboarding"] || !names["AdminAgents"] || names["GDAP Helpdesk"] {
		t.Fatalf("transitiveMemberOf: %v", names)
	}
}

func TestPartnerCenterConsentAndCustomerTokens(t *testing.T) {
	t.Parallel()
	sc := GeneratePartnerScenario(25, 4)
	sc.ConsentPropagation = Duration(10 * time.Second)
	s, clk := ptStart(t, sc)
	_, rt := ptSignIn(t, s, "https://graph.microsoft.com/.default")
	pcTok := ptRedeem(t, s, "organizations", rt, "https://api.partnercenter.microsoft.com/user_impersonation")
	if pcTok.status != 200 {
		t.Fatalf("PC token: %s", pcTok.raw)
	}
	pc := pcTok.body["access_token"].(string)

	custs := ptDo(t, s, "GET", "/partnercenter/v1/customers?size=500", pc, nil, nil)
	if custs.status != 200 || int(custs.body["totalCount"].(float64)) != 25 {
		t.Fatalf("customers: %d %s", custs.status, clip(custs.raw))
	}

	ready := ptCustomerOf(sc, LaneReady)
	// Before consent: 65001 at the customer authority.
	r := ptRedeem(t, s, ready.TenantID, rt, "https://graph.microsoft.com/.default")
	if r.status != 400 || !strings.Contains(r.raw, "AADSTS65001") {
		t.Fatalf("before consent: %d %s", r.status, r.raw)
	}
	body := map[string]any{"applicationId": sc.Partner.AppID, "applicationGrants": []any{
		map[string]any{"enterpriseApplicationId": "00000003-0000-0000-c000-000000000000", "scope": "Application.ReadWrite.All, Directory.Read.All"},
		map[string]any{"enterpriseApplicationId": "00000002-0000-0ff1-ce00-000000000000", "scope": "Exchange.Manage"},
	}}
	c := ptDo(t, s, "POST", "/partnercenter/v1/customers/"+ready.TenantID+"/applicationconsents", pc, body, nil)
	if c.status != 201 {
		t.Fatalf("consent: %d %s", c.status, c.raw)
	}
	// PascalCase body, same app: "Permission entry already exists".
	pascal := map[string]any{"ApplicationId": sc.Partner.AppID, "ApplicationGrants": []any{map[string]any{"EnterpriseApplicationId": "00000003-0000-0000-c000-000000000000", "Scope": "Directory.Read.All"}}}
	c = ptDo(t, s, "POST", "/partnercenter/v1/customers/"+ready.TenantID+"/applicationconsents", pc, pascal, nil)
	if c.status != 409 || !strings.Contains(c.raw, "Permission entry already exists") {
		t.Fatalf("re-consent: %d %s", c.status, c.raw)
	}
	// Right after consent the token still fails (propagation), then works.
	if r := ptRedeem(t, s, ready.TenantID, rt, "https://graph.microsoft.com/.default"); !strings.Contains(r.raw, "AADSTS65001") {
		t.Fatalf("during consent propagation: %s", r.raw)
	}
	clk.add(11 * time.Second)
	r = ptRedeem(t, s, ready.TenantID, rt, "https://graph.microsoft.com/.default")
	if r.status != 200 {
		t.Fatalf("after consent: %d %s", r.status, r.raw)
	}
	claims := ptClaims(t, r.body["access_token"].(string))
	if claims["tid"] != strings.ToLower(ready.TenantID) {
		t.Fatalf("access token tid %v, want the customer", claims["tid"])
	}
	ci, _ := base64.RawURLEncoding.DecodeString(r.body["client_info"].(string))
	var info map[string]string
	_ = json.Unmarshal(ci, &info)
	if info["utid"] != s.PartnerTenantID() || info["uid"] != ObjectIDFor(s.PartnerTenantID(), sc.Partner.Users[0].UPN) {
		t.Fatalf("client_info %v is not the partner user's home account", info)
	}
	org := ptDo(t, s, "GET", "/graph/v1.0/organization", r.body["access_token"].(string), nil, nil)
	if org.status != 200 || !strings.Contains(org.raw, ready.TenantID) {
		t.Fatalf("customer organization: %d %s", org.status, org.raw)
	}
	if me := ptDo(t, s, "GET", "/graph/v1.0/me", r.body["access_token"].(string), nil, nil); me.status != 404 {
		t.Fatalf("customer /me for a partner user: %d", me.status)
	}

	// Consent refused without a GDAP role that allows it (not-assigned).
	na := ptCustomerOf(sc, LaneNotAssigned)
	if c := ptDo(t, s, "POST", "/partnercenter/v1/customers/"+na.TenantID+"/applicationconsents", pc, body, nil); c.status != 403 {
		t.Fatalf("not-assigned consent: %d %s", c.status, c.raw)
	}
	// Body problems name the field.
	if c := ptDo(t, s, "POST", "/partnercenter/v1/customers/"+na.TenantID+"/applicationconsents", pc, map[string]any{"applicationId": sc.Partner.AppID, "applicationGrants": []any{map[string]any{"enterpriseApplicationId": "x", "scope": "a"}}}, nil); c.status != 400 || !strings.Contains(c.raw, "enterpriseApplicationId") {
		t.Fatalf("bad grant: %d %s", c.status, c.raw)
	}

	// Per-customer token outcomes.
	for _, tc := range []struct {
		lane, scope, want string
	}{
		{LaneCABlocked, "https://graph.microsoft.com/.default", "AADSTS53003"},
		{LaneNoExchange, "https://outlook.office365.com/.default", "AADSTS650052"},
		{LaneNotAssigned, "https://graph.microsoft.com/.default", "AADSTS50020"},
		{LaneNoGDAP, "https://graph.microsoft.com/.default", "AADSTS50020"},
	} {
		cu := ptCustomerOf(sc, tc.lane)
		if tc.lane == LaneNoExchange {
			s.mu.Lock()
			s.customers[strings.ToLower(cu.TenantID)].consented = true
			s.mu.Unlock()
		}
		if r := ptRedeem(t, s, cu.TenantID, rt, tc.scope); r.status != 400 || !strings.Contains(r.raw, tc.want) {
			t.Errorf("%s: %d %s, want %s", tc.lane, r.status, r.raw, tc.want)
		}
	}
	// Log: requests at customer authorities carry the customer tenant.
	seen := false
	for _, rec := range s.Requests() {
		if rec.Tenant == strings.ToLower(ready.TenantID) && rec.Group == GroupIdentity {
			seen = true
		}
	}
	if !seen {
		t.Fatal("request log has no customer-tenant identity request")
	}
}

func TestPartnerCenterSettlingMFAAndThrottle(t *testing.T) {
	t.Parallel()
	sc := GeneratePartnerScenario(25, 5)
	// A second scenario user without MFA signs in.
	sc.Partner.Users[0].SignsIn = false
	sc.Partner.Users = append(sc.Partner.Users, PartnerUserSpec{UPN: "nomfa@msp-demo.onmicrosoft.com", AdminAgent: true, Groups: []string{"GDAP Onboarding"}, SignsIn: true})
	for i, c := range sc.Customers {
		if c.Lane == LaneSettling && c.Relationships[0].ActivatedAgo > 0 {
			sc.Customers[i].Relationships[0].ActivatedAgo = Duration(time.Minute)
			break
		}
	}
	s, clk := ptStart(t, sc)
	_, rt := ptSignIn(t, s, "https://graph.microsoft.com/.default")
	pc := ptRedeem(t, s, "organizations", rt, "https://api.partnercenter.microsoft.com/.default").body["access_token"].(string)
	r := ptDo(t, s, "GET", "/partnercenter/v1/customers", pc, nil, nil)
	if r.status != 401 || int(r.body["code"].(float64)) != 900421 {
		t.Fatalf("no MFA: %d %s", r.status, r.raw)
	}

	// Settling: a relationship activated minutes ago fails until propagation.
	settling := s.Scenario().Customers[0]
	for _, c := range s.Scenario().Customers {
		if c.Lane == LaneSettling && c.Relationships[0].ActivatedAgo > 0 && c.Relationships[0].ActivatedAgo.D() < time.Hour {
			settling = c
			break
		}
	}
	if settling.Relationships[0].ActivatedAgo.D() != time.Minute {
		t.Fatalf("settling customer activated %v ago, want 1m", settling.Relationships[0].ActivatedAgo.D())
	}
	s.mu.Lock()
	s.customers[strings.ToLower(settling.TenantID)].consented = true
	s.mu.Unlock()
	if r := ptRedeem(t, s, settling.TenantID, rt, "https://graph.microsoft.com/.default"); r.status != 400 || !strings.Contains(r.raw, "AADSTS50020") {
		t.Fatalf("settling tenant redeemed before propagation: %s", r.raw)
	}
	clk.add(4 * time.Minute)
	if r := ptRedeem(t, s, settling.TenantID, rt, "https://graph.microsoft.com/.default"); r.status != 200 {
		t.Fatalf("settling after propagation: %d %s", r.status, r.raw)
	}

	// Throttle: the 51st consent in one second is refused with Retry-After.
	sc2 := GeneratePartnerScenario(25, 6)
	s2, _ := ptStart(t, sc2)
	_, rt2 := ptSignIn(t, s2, "https://graph.microsoft.com/.default")
	pc2 := ptRedeem(t, s2, "organizations", rt2, "https://api.partnercenter.microsoft.com/user_impersonation").body["access_token"].(string)
	ready := ptCustomerOf(sc2, LaneReady)
	body := map[string]any{"applicationId": sc2.Partner.AppID, "applicationGrants": []any{map[string]any{"enterpriseApplicationId": "00000003-0000-0000-c000-000000000000", "scope": "Directory.Read.All"}}}
	codes := map[int]int{}
	var last ptResp
	for i := 0; i < 51; i++ {
		last = ptDo(t, s2, "POST", "/partnercenter/v1/customers/"+ready.TenantID+"/applicationconsents", pc2, body, nil)
		codes[last.status]++
	}
	if codes[201] != 1 || codes[409] != 49 || codes[429] != 1 || last.header.Get("Retry-After") == "" {
		t.Fatalf("codes %v, last Retry-After %q", codes, last.header.Get("Retry-After"))
	}
}

func clip(s string) string {
	if len(s) > 300 {
		return s[:300]
	}
	return s
}
