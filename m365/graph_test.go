package m365

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"itdr-onboard/internal/testutil"
)

// fakeClock only moves when Sleep is called, so no test waits for real.
type fakeClock struct{ testutil.FakeClock }

func (c *fakeClock) policy() RetryPolicy {
	return RetryPolicy{Sleep: c.Sleep, Now: c.Now, Jitter: func(d time.Duration) time.Duration { return d }}
}

const testToken = "eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0.SECRET-ACCESS-TOKEN."

func staticToken(context.Context) (string, error) { return testToken, nil }

func newGraph(t *testing.T, h http.Handler) (*Graph, *fakeClock) {
	t.Helper()
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	g := NewGraph(srv.Client(), srv.URL, staticToken)
	clk := &fakeClock{}
	g.SetRetryPolicy(clk.policy())
	return g, clk
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func graphErr(w http.ResponseWriter, status int, code, msg, reqID string) {
	w.Header().Set("request-id", reqID)
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": code, "message": msg,
		"innerError": map[string]any{"request-id": reqID, "date": "2026-01-02T03:04:05"}}})
}

func TestGraphPagingFollowsNextLink(t *testing.T) {
	var calls atomic.Int32
	var g *Graph
	var base string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.URL.Path != "/v1.0/me/transitiveMemberOf/microsoft.graph.directoryRole" {
			t.Errorf("path %s", r.URL.Path)
		}
		if r.Header.Get("ConsistencyLevel") != "eventual" {
			t.Errorf("ConsistencyLevel %q", r.Header.Get("ConsistencyLevel"))
		}
		if r.Header.Get("Authorization") != "Bearer "+testToken {
			t.Errorf("Authorization missing")
		}
		switch r.URL.Query().Get("$skiptoken") {
		case "":
			writeJSON(w, 200, map[string]any{
				"@odata.context":  "https://graph.microsoft.com/v1.0/$metadata#directoryRoles",
				"@odata.nextLink": base + "/v1.0/me/transitiveMemberOf/microsoft.graph.directoryRole?$skiptoken=p2",
				"value": []map[string]any{
					{"id": "r1", "displayName": "Global Administrator", "roleTemplateId": "62e90394-69f5-4237-9190-012177145e10", "unknownField": 1},
					{"id": "r2", "displayName": "Exchange Administrator", "roleTemplateId": "29232cdf-9323-42fd-ade2-1d097af3e4de"},
				}})
		case "p2":
			writeJSON(w, 200, map[string]any{"value": []map[string]any{{"id": "r3", "displayName": "Global Reader", "roleTemplateId": "f2ef992c-3afb-46b9-b7cf-a126ee74c451"}}})
		default:
			t.Errorf("skiptoken %q", r.URL.Query().Get("$skiptoken"))
		}
	})
	srv := httptest.NewTLSServer(h)
	defer srv.Close()
	base = srv.URL
	g = NewGraph(srv.Client(), srv.URL, staticToken)
	roles, err := g.MyActiveDirectoryRoles(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(roles) != 3 || roles[0].RoleTemplateID != "62e90394-69f5-4237-9190-012177145e10" || roles[2].ID != "r3" || calls.Load() != 2 {
		t.Fatalf("roles %+v calls %d", roles, calls.Load())
	}
}

func TestGraphRefusesForeignNextLink(t *testing.T) {
	var foreign atomic.Int32
	other := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { foreign.Add(1) }))
	defer other.Close()
	g, _ := newGraph(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"value": []any{}, "@odata.nextLink": other.URL + "/v1.0/subscribedSkus?$skiptoken=x"})
	}))
	_, err := g.SubscribedSkus(context.Background())
	if err == nil || !strings.Contains(err.Error(), "another host") || foreign.Load() != 0 {
		t.Fatalf("err %v foreign %d", err, foreign.Load())
	}
}

func TestGraphErrorShapes(t *testing.T) {
	for _, key := range []string{"innerError", "innererror"} {
		g, _ := newGraph(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 403, map[string]any{"error": map[string]any{"code": "Authorization_RequestDenied",
				"message": "Insufficient privileges to complete the operation.",
				key:       map[string]any{"request-id": "req-403", "date": "2026-01-02T03:04:05"}}})
		}))
		_, err := g.Me(context.Background())
		var ae *APIError
		if !errors.As(err, &ae) {
			t.Fatalf("%s: %T %v", key, err, err)
		}
		if ae.Service != "graph" || ae.Status != 403 || ae.Code != "Authorization_RequestDenied" || ae.RequestID != "req-403" || ae.Call != "GET /me" {
			t.Fatalf("%s: %+v", key, ae)
		}
		if !IsForbidden(err) || IsNotFound(err) || IsConflict(err) {
			t.Fatalf("%s: classifiers wrong", key)
		}
		msg := err.Error()
		for _, want := range []string{"GET /me", "403", "Authorization_RequestDenied", "Insufficient privileges", "req-403"} {
			if !strings.Contains(msg, want) {
				t.Errorf("%s: %q lacks %q", key, msg, want)
			}
		}
		if strings.Contains(msg, "SECRET") || strings.Contains(msg, "$select") {
			t.Errorf("error leaks token or query: %q", msg)
		}
	}
}

func TestGraphErrorNotJSON(t *testing.T) {
	e := ParseGraphError("GET /x", 502, http.Header{"Request-Id": {"r1"}}, []byte("<html>Bad gateway</html>\nmore"))
	if e.Code != "Bad Gateway" || e.Message != "<html>Bad gateway</html>" || e.RequestID != "r1" {
		t.Fatalf("%+v", e)
	}
}

func TestAADSTSCode(t *testing.T) {
	e := &APIError{Service: "graph", Call: "POST /servicePrincipals", Status: 400, Code: "Request_BadRequest",
		Message: "AADSTS650051: Consent action for Application '5b1a' failed: The '5b1a' service principal name is already present for the tenant."}
	if got := AADSTSCode(fmt.Errorf("wrapped: %w", e)); got != 650051 {
		t.Fatalf("got %d", got)
	}
	if AADSTSCode(errors.New("plain")) != 0 || AADSTSCode(nil) != 0 {
		t.Fatal("want 0")
	}
	if AADSTSCode(errors.New(`http call(x)(POST) error: reply status code was 400: {"error_description":"AADSTS53003: blocked"}`)) != 53003 {
		t.Fatal("want 53003 from plain error text")
	}
}

func TestGraph429RetryAfterThenSuccess(t *testing.T) {
	var n atomic.Int32
	g, clk := newGraph(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.Header().Set("Retry-After", "10")
			writeJSON(w, 429, map[string]any{"error": map[string]any{"code": "TooManyRequests", "message": "Please retry again later.",
				"innerError": map[string]any{"code": "429", "request-id": "r429", "status": "429"}}})
			return
		}
		writeJSON(w, 200, map[string]any{"id": "u1", "displayName": "Admin", "userPrincipalName": "admin@contoso.onmicrosoft.com"})
	}))
	u, err := g.Me(context.Background())
	if err != nil || u.UserPrincipalName != "admin@contoso.onmicrosoft.com" {
		t.Fatalf("u %+v err %v", u, err)
	}
	if s := clk.Sleeps(); len(s) != 1 || s[0] != 10*time.Second {
		t.Fatalf("sleeps %v", s)
	}
}

func TestGraphThrottledOutNamesLastRequestID(t *testing.T) {
	var n atomic.Int32
	g, _ := newGraph(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		graphErr(w, 503, "serviceNotAvailable", "Service unavailable", fmt.Sprintf("rid-%d", n.Add(1)))
	}))
	_, err := g.Organization(context.Background())
	if err == nil {
		t.Fatal("want error")
	}
	last := fmt.Sprintf("rid-%d", n.Load())
	if !strings.Contains(err.Error(), "GET /organization") || !strings.Contains(err.Error(), last) || n.Load() < 2 {
		t.Fatalf("%v (requests %d)", err, n.Load())
	}
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 503 {
		t.Fatalf("want wrapped APIError, got %v", err)
	}
}

func TestGraphOrganizationAndSkus(t *testing.T) {
	g, _ := newGraph(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1.0/organization":
			writeJSON(w, 200, map[string]any{"value": []map[string]any{{"id": "tid", "displayName": "Contoso",
				"verifiedDomains": []map[string]any{{"name": "contoso.com", "isDefault": true}, {"name": "contoso.onmicrosoft.com", "isInitial": true, "type": "Managed"}}}}})
		case "/v1.0/subscribedSkus":
			writeJSON(w, 200, map[string]any{"value": []map[string]any{{"skuId": "s1", "skuPartNumber": "ENTERPRISEPACK", "capabilityStatus": "Enabled",
				"consumedUnits": 3, "prepaidUnits": map[string]int{"enabled": 25},
				"servicePlans": []map[string]any{{"servicePlanId": "efb87545-963c-4e0d-99df-69c6916d9eb0", "servicePlanName": "EXCHANGE_S_ENTERPRISE", "provisioningStatus": "Success", "appliesTo": "User"}}}}})
		default:
			http.NotFound(w, r)
		}
	}))
	org, err := g.Organization(context.Background())
	if err != nil || org.ID != "tid" || org.InitialDomain() != "contoso.onmicrosoft.com" {
		t.Fatalf("%+v %v", org, err)
	}
	skus, err := g.SubscribedSkus(context.Background())
	if err != nil || len(skus) != 1 || skus[0].PrepaidUnits.Enabled != 25 || skus[0].ServicePlans[0].ServicePlanName != "EXCHANGE_S_ENTERPRISE" {
		t.Fatalf("%+v %v", skus, err)
	}
}

func TestServicePrincipalByAppID(t *testing.T) {
	g, _ := newGraph(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := r.URL.Query().Get("$filter")
		switch f {
		case "appId eq '00000003-0000-0000-c000-000000000000'":
			writeJSON(w, 200, map[string]any{"value": []map[string]any{{"id": "sp-graph", "appId": "00000003-0000-0000-c000-000000000000",
				"displayName": "Microsoft Graph", "appRoles": []map[string]any{{"id": "ar1", "value": "AuditLog.Read.All", "allowedMemberTypes": []string{"Application"}, "isEnabled": true}}}}})
		case "appId eq 'o''brien'":
			writeJSON(w, 200, map[string]any{"value": []any{}})
		default:
			t.Errorf("filter %q", f)
			writeJSON(w, 400, map[string]any{})
		}
	}))
	sp, err := g.ServicePrincipalByAppID(context.Background(), "00000003-0000-0000-c000-000000000000")
	if err != nil || sp == nil || sp.ID != "sp-graph" || sp.AppRoles[0].Value != "AuditLog.Read.All" {
		t.Fatalf("%+v %v", sp, err)
	}
	sp, err = g.ServicePrincipalByAppID(context.Background(), "o'brien")
	if err != nil || sp != nil {
		t.Fatalf("want nil,nil; got %+v %v", sp, err)
	}
}

// roleTenant is a tiny directory holding role assignments. lose makes the
// next POST create the assignment but answer 503 (a lost response); fail
// makes it answer 503 without creating anything.
type roleTenant struct {
	mu          sync.Mutex
	assignments []map[string]string
	posts, gets int
	lose, fail  int
}

func (rt *roleTenant) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if r.URL.Path != "/v1.0/roleManagement/directory/roleAssignments" {
		http.NotFound(w, r)
		return
	}
	switch r.Method {
	case http.MethodGet:
		rt.gets++
		var out []map[string]string
		for _, a := range rt.assignments {
			if r.URL.Query().Get("$filter") == "principalId eq '"+a["principalId"]+"'" {
				out = append(out, a)
			}
		}
		writeJSON(w, 200, map[string]any{"value": out})
	case http.MethodPost:
		rt.posts++
		var body map[string]string
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &body)
		if body["@odata.type"] != "#microsoft.graph.unifiedRoleAssignment" || body["directoryScopeId"] != "/" {
			writeJSON(w, 400, map[string]any{"error": map[string]any{"code": "Request_BadRequest", "message": "bad body"}})
			return
		}
		if rt.fail > 0 {
			rt.fail--
			graphErr(w, 503, "UnknownError", "", "r503")
			return
		}
		for _, a := range rt.assignments {
			if a["principalId"] == body["principalId"] && a["roleDefinitionId"] == body["roleDefinitionId"] {
				// Microsoft's answer to a duplicate role assignment: 400, not 409.
				graphErr(w, 400, "Request_BadRequest", "A conflicting object with one or more of the specified property values is present in the directory.", "r400")
				return
			}
		}
		a := map[string]string{"id": fmt.Sprintf("ra-%d", len(rt.assignments)+1), "principalId": body["principalId"],
			"roleDefinitionId": body["roleDefinitionId"], "directoryScopeId": "/"}
		rt.assignments = append(rt.assignments, a)
		if rt.lose > 0 {
			rt.lose--
			graphErr(w, 504, "GatewayTimeout", "", "r504")
			return
		}
		w.Header().Set("request-id", "r201")
		writeJSON(w, 201, a)
	}
}

func TestCreateRoleAssignmentLostResponseNoDuplicate(t *testing.T) {
	rt := &roleTenant{lose: 1}
	g, _ := newGraph(t, rt)
	ra, err := g.CreateRoleAssignment(context.Background(), "sp1", "29232cdf-9323-42fd-ade2-1d097af3e4de")
	if err != nil {
		t.Fatal(err)
	}
	// The re-check found this call's own earlier attempt: made, not found.
	if rt.posts != 1 || len(rt.assignments) != 1 || ra.ID != "ra-1" || rt.gets != 1 || ra.Found {
		t.Fatalf("posts %d assignments %d gets %d ra %+v", rt.posts, len(rt.assignments), rt.gets, ra)
	}
}

func TestCreateRoleAssignmentRetriesWhenAbsent(t *testing.T) {
	rt := &roleTenant{fail: 1}
	g, _ := newGraph(t, rt)
	ra, err := g.CreateRoleAssignment(context.Background(), "sp1", "92ed04bf-c94a-4b82-9729-b799a7a4c178")
	if err != nil {
		t.Fatal(err)
	}
	if rt.posts != 2 || len(rt.assignments) != 1 || ra.ID != "ra-1" || ra.RequestID != "r201" || ra.Found {
		t.Fatalf("posts %d assignments %d ra %+v", rt.posts, len(rt.assignments), ra)
	}
}

func TestCreateRoleAssignmentConflictReturnsExisting(t *testing.T) {
	rt := &roleTenant{assignments: []map[string]string{{"id": "ra-old", "principalId": "sp1", "roleDefinitionId": "rd", "directoryScopeId": "/"}}}
	g, _ := newGraph(t, rt)
	ra, err := g.CreateRoleAssignment(context.Background(), "sp1", "rd")
	// Answered "already exists" on the first attempt: someone else's, found.
	if err != nil || ra.ID != "ra-old" || len(rt.assignments) != 1 || !ra.Found {
		t.Fatalf("ra %+v err %v", ra, err)
	}
}

func TestCreateServicePrincipal(t *testing.T) {
	var mu sync.Mutex
	sps := map[string]string{} // appId → id
	posts := 0
	g, _ := newGraph(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		switch r.Method {
		case http.MethodPost:
			posts++
			var body map[string]string
			_ = json.NewDecoder(r.Body).Decode(&body)
			if _, ok := sps[body["appId"]]; ok {
				graphErr(w, 409, "Request_MultipleObjectsWithSameKeyValue", "Another object with the same value for property servicePrincipalNames already exists.", "r409")
				return
			}
			sps[body["appId"]] = "sp-" + body["appId"]
			writeJSON(w, 201, map[string]any{"id": "sp-" + body["appId"], "appId": body["appId"], "displayName": "ITDR"})
		case http.MethodGet:
			var out []map[string]string
			for app, id := range sps {
				if r.URL.Query().Get("$filter") == "appId eq '"+app+"'" {
					out = append(out, map[string]string{"id": id, "appId": app})
				}
			}
			writeJSON(w, 200, map[string]any{"value": out})
		}
	}))
	sp, err := g.CreateServicePrincipal(context.Background(), "app1")
	if err != nil || sp.ID != "sp-app1" || sp.Found {
		t.Fatalf("%+v %v", sp, err)
	}
	sp, err = g.CreateServicePrincipal(context.Background(), "app1")
	if err != nil || sp.ID != "sp-app1" || posts != 2 || len(sps) != 1 || !sp.Found {
		t.Fatalf("second create: %+v %v posts %d", sp, err, posts)
	}
}

func TestGrantAppRoleRechecksByListing(t *testing.T) {
	var mu sync.Mutex
	var grants []map[string]string
	posts := 0
	g, _ := newGraph(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/v1.0/servicePrincipals/res1/appRoleAssignedTo":
			posts++
			var body map[string]string
			_ = json.NewDecoder(r.Body).Decode(&body)
			a := map[string]string{"id": "ara1", "appRoleId": body["appRoleId"], "principalId": body["principalId"], "resourceId": body["resourceId"], "principalType": "ServicePrincipal"}
			grants = append(grants, a)
			// The connection drops before the answer arrives.
			hj, _, _ := w.(http.Hijacker).Hijack()
			_ = hj.Close()
		case r.Method == http.MethodGet && r.URL.Path == "/v1.0/servicePrincipals/client1/appRoleAssignments":
			writeJSON(w, 200, map[string]any{"value": grants})
		default:
			t.Errorf("%s %s", r.Method, r.URL.Path)
		}
	}))
	a, err := g.GrantAppRole(context.Background(), "res1", "client1", "role1")
	if err != nil || a.ID != "ara1" || posts != 1 || len(grants) != 1 || a.Found {
		t.Fatalf("%+v %v posts %d", a, err, posts)
	}
}

// A duplicate app role assignment is answered 400 Request_BadRequest
// "Permission being assigned already exists on the object": the existing
// one is returned and reported as Found (not made by this call).
func TestGrantAppRoleDuplicateIsFound(t *testing.T) {
	existing := map[string]string{"id": "ara-old", "appRoleId": "role1", "principalId": "client1", "resourceId": "res1", "principalType": "ServicePrincipal"}
	posts := 0
	g, _ := newGraph(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost:
			posts++
			graphErr(w, 400, "Request_BadRequest", "Permission being assigned already exists on the object", "r400")
		case r.Method == http.MethodGet && r.URL.Path == "/v1.0/servicePrincipals/client1/appRoleAssignments":
			writeJSON(w, 200, map[string]any{"value": []map[string]string{existing}})
		default:
			t.Errorf("%s %s", r.Method, r.URL.Path)
		}
	}))
	a, err := g.GrantAppRole(context.Background(), "res1", "client1", "role1")
	if err != nil || a.ID != "ara-old" || posts != 1 || !a.Found {
		t.Fatalf("%+v %v posts %d", a, err, posts)
	}
}

func TestCreateOAuth2PermissionGrantExistingSuperset(t *testing.T) {
	posts := 0
	g, _ := newGraph(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
			if r.URL.Query().Get("$filter") != "clientId eq 'c1'" {
				t.Errorf("filter %q", r.URL.Query().Get("$filter"))
			}
			writeJSON(w, 200, map[string]any{"value": []map[string]any{{"id": "g1", "clientId": "c1", "consentType": "AllPrincipals", "resourceId": "r1", "scope": "User.Read openid"}}})
		case http.MethodPost:
			posts++
			var body map[string]string
			_ = json.NewDecoder(r.Body).Decode(&body)
			if body["consentType"] != "AllPrincipals" || body["scope"] != "User.Read" {
				t.Errorf("body %v", body)
			}
			graphErr(w, 409, "Request_MultipleObjectsWithSameKeyValue", "Permission entry already exists.", "r409")
		}
	}))
	gr, err := g.CreateOAuth2PermissionGrant(context.Background(), "c1", "r1", "User.Read")
	if err != nil || gr.ID != "g1" || posts != 1 || !gr.Found {
		t.Fatalf("%+v %v", gr, err)
	}
}

func TestDeleteAfterRetry404IsSuccess(t *testing.T) {
	var n atomic.Int32
	g, _ := newGraph(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodDelete || r.URL.Path != "/v1.0/roleManagement/directory/roleAssignments/ra1" {
			t.Errorf("%s %s", r.Method, r.URL.Path)
		}
		if n.Add(1) == 1 {
			graphErr(w, 503, "UnknownError", "", "r1")
			return
		}
		graphErr(w, 404, "Request_ResourceNotFound", "Resource 'ra1' does not exist.", "r2")
	}))
	if err := g.DeleteRoleAssignment(context.Background(), "ra1"); err != nil {
		t.Fatal(err)
	}
	// A first-attempt 404 is reported.
	n.Store(1)
	err := g.DeleteRoleAssignment(context.Background(), "ra1")
	if !IsNotFound(err) {
		t.Fatalf("want not found, got %v", err)
	}
}

func TestCountBillableUsersAndMFA(t *testing.T) {
	var base string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1.0/users":
			q := r.URL.Query()
			if q.Get("$skiptoken") == "" && (q.Get("$filter") != "accountEnabled eq true" || q.Get("$select") != "id,assignedLicenses") {
				t.Errorf("query %v", q)
			}
			if q.Get("$skiptoken") == "" {
				writeJSON(w, 200, map[string]any{"value": []map[string]any{
					{"id": "1", "assignedLicenses": []map[string]any{{"skuId": "s"}}},
					{"id": "2", "assignedLicenses": []any{}},
				}, "@odata.nextLink": base + "/v1.0/users?$skiptoken=2"})
				return
			}
			writeJSON(w, 200, map[string]any{"value": []map[string]any{{"id": "3", "assignedLicenses": []map[string]any{{"skuId": "s"}, {"skuId": "t"}}}}})
		case "/v1.0/reports/authenticationMethods/userRegistrationDetails":
			writeJSON(w, 200, map[string]any{"value": []map[string]any{{"id": "1", "isMfaRegistered": true}, {"id": "2", "isMfaRegistered": false}, {"id": "3", "isMfaRegistered": true}}})
		}
	}))
	defer srv.Close()
	base = srv.URL
	g := NewGraph(srv.Client(), srv.URL+"/", staticToken)
	n, err := g.CountBillableUsers(context.Background())
	if err != nil || n != 2 {
		t.Fatalf("billable %d %v", n, err)
	}
	reg, total, err := g.MFARegistration(context.Background())
	if err != nil || reg != 2 || total != 3 {
		t.Fatalf("mfa %d/%d %v", reg, total, err)
	}
}

func TestGraphResponseSizeBound(t *testing.T) {
	g, _ := newGraph(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"value":[`+strings.Repeat(`{"id":"x"},`, 200)+`{"id":"y"}]}`)
	}))
	pol := (&fakeClock{}).policy()
	pol.MaxBody = 1000
	g.SetRetryPolicy(pol)
	_, err := g.SubscribedSkus(context.Background())
	if err == nil || !strings.Contains(err.Error(), "larger than 1000 bytes") {
		t.Fatalf("err %v", err)
	}
}

func TestTokenErrorNotRetriedAndNoLeak(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { n.Add(1) }))
	defer srv.Close()
	g := NewGraph(srv.Client(), srv.URL, func(context.Context) (string, error) { return "", errors.New("no cached account") })
	_, err := g.Me(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no cached account") || n.Load() != 0 {
		t.Fatalf("err %v requests %d", err, n.Load())
	}
	if s := fmt.Sprintf("%v %+v", g, g); strings.Contains(s, "SECRET") {
		t.Fatal("String leaks")
	}
}

func TestBatchSplitsAndOrders(t *testing.T) {
	var mu sync.Mutex
	var sizes []int
	throttledOnce := map[string]bool{}
	g, clk := newGraph(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1.0/$batch" || r.Method != http.MethodPost {
			t.Errorf("%s %s", r.Method, r.URL.Path)
		}
		var in struct {
			Requests []BatchRequest `json:"requests"`
		}
		_ = json.NewDecoder(r.Body).Decode(&in)
		mu.Lock()
		sizes = append(sizes, len(in.Requests))
		var out []BatchResponse
		// Answer in reverse order, throttling request "7" once.
		for i := len(in.Requests) - 1; i >= 0; i-- {
			q := in.Requests[i]
			if q.ID == "7" && !throttledOnce[q.ID] {
				throttledOnce[q.ID] = true
				out = append(out, BatchResponse{ID: q.ID, Status: 429, Headers: map[string]string{"Retry-After": "3"},
					Body: json.RawMessage(`{"error":{"code":"TooManyRequests","message":"slow down"}}`)})
				continue
			}
			out = append(out, BatchResponse{ID: q.ID, Status: 200, Body: json.RawMessage(`{"url":"` + q.URL + `"}`)})
		}
		mu.Unlock()
		writeJSON(w, 200, map[string]any{"responses": out})
	}))
	var reqs []BatchRequest
	for i := range 45 {
		reqs = append(reqs, BatchRequest{Method: "GET", URL: fmt.Sprintf("/users/u%d", i)})
	}
	rs, err := g.Batch(context.Background(), reqs)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 45 {
		t.Fatalf("%d responses", len(rs))
	}
	for i, r := range rs {
		if r.Status != 200 || !strings.Contains(string(r.Body), fmt.Sprintf("/users/u%d\"", i)) || r.Err("GET /users") != nil {
			t.Fatalf("response %d: %+v", i, r)
		}
	}
	if fmt.Sprint(sizes) != "[20 1 20 5]" {
		t.Fatalf("batch sizes %v", sizes)
	}
	if s := clk.Sleeps(); len(s) != 1 || s[0] != 3*time.Second {
		t.Fatalf("sleeps %v", s)
	}
	if _, err := g.Batch(context.Background(), []BatchRequest{{ID: "a"}, {ID: "a"}}); err == nil {
		t.Fatal("duplicate ids accepted")
	}
}

func TestReadCacheServesRepeatedLookupsUntilAWriteChangesThem(t *testing.T) {
	var mu sync.Mutex
	reqs := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		reqs[r.Method+" "+strings.TrimPrefix(r.URL.Path, "/v1.0")]++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodGet && strings.TrimPrefix(r.URL.Path, "/v1.0") == "/servicePrincipals":
			w.Write([]byte(`{"value":[{"id":"sp1","appId":"app-1"}]}`))
		case r.Method == http.MethodGet:
			w.Write([]byte(`{"value":[]}`))
		case r.Method == http.MethodDelete:
			w.WriteHeader(204)
		default:
			w.WriteHeader(201)
			w.Write([]byte(`{"id":"ra1","principalId":"sp1","roleDefinitionId":"r","directoryScopeId":"/"}`))
		}
	}))
	defer srv.Close()
	count := func(k string) int { mu.Lock(); defer mu.Unlock(); return reqs[k] }
	g := NewGraph(srv.Client(), srv.URL, func(context.Context) (string, error) { return "t", nil })
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		sp, err := g.ServicePrincipalByAppID(ctx, "APP-1")
		if err != nil || sp == nil || sp.ID != "sp1" {
			t.Fatalf("lookup %d: %+v %v", i, sp, err)
		}
	}
	if n := count("GET /servicePrincipals"); n != 1 {
		t.Fatalf("three lookups with no write between made %d requests", n)
	}
	// A role assignment cannot change the service principal: the lookup is
	// still served; the roles list read before it gets the new assignment
	// from the write's own response.
	if as, err := g.RoleAssignments(ctx, "sp1"); err != nil || len(as) != 0 {
		t.Fatalf("roles: %v %v", as, err)
	}
	if _, err := g.CreateRoleAssignment(ctx, "sp1", "r"); err != nil {
		t.Fatal(err)
	}
	g.ServicePrincipalByAppID(ctx, "app-1")
	as, err := g.RoleAssignments(ctx, "sp1")
	if err != nil || len(as) != 1 || as[0].ID != "ra1" {
		t.Fatalf("roles after the write: %+v %v", as, err)
	}
	if g, r := count("GET /servicePrincipals"), count("GET /roleManagement/directory/roleAssignments"); g != 1 || r != 1 {
		t.Fatalf("reads the write's response answers were sent again: lookups %d, role lists %d", g, r)
	}
	// A read-back under FreshReads always asks the service.
	if _, err := g.RoleAssignments(FreshReads(ctx), "sp1"); err != nil {
		t.Fatal(err)
	}
	if n := count("GET /roleManagement/directory/roleAssignments"); n != 2 {
		t.Fatalf("a fresh read was served from the cache (%d reads)", n)
	}
	// ... but the service principal's lookup (no fix changes it) is served.
	g.ServicePrincipalByAppID(FreshReads(ctx), "app-1")
	if n := count("GET /servicePrincipals"); n != 1 {
		t.Fatalf("a fresh read of the service principal went to the service (%d lookups)", n)
	}
	// A poll for somebody else's change (Uncached) asks the service for
	// everything, the service principal's lookup included.
	g.ServicePrincipalByAppID(Uncached(ctx), "app-1")
	if n := count("GET /servicePrincipals"); n != 2 {
		t.Fatalf("an uncached lookup was served from the cache (%d lookups)", n)
	}
	// A write that does not say what it changes (a delete) drops everything.
	if err := g.DeleteRoleAssignment(ctx, "ra1"); err != nil {
		t.Fatal(err)
	}
	g.ServicePrincipalByAppID(ctx, "app-1")
	if n := count("GET /servicePrincipals"); n != 3 {
		t.Fatalf("a delete must make the next lookup read afresh: %d lookups", n)
	}
}

func TestCreatedServicePrincipalAnswersTheReadsThatFollow(t *testing.T) {
	var mu sync.Mutex
	var gets []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodGet {
			mu.Lock()
			gets = append(gets, strings.TrimPrefix(r.URL.Path, "/v1.0"))
			mu.Unlock()
			w.Write([]byte(`{"value":[]}`))
			return
		}
		w.WriteHeader(201)
		switch strings.TrimPrefix(r.URL.Path, "/v1.0") {
		case "/servicePrincipals":
			w.Write([]byte(`{"id":"new-sp","appId":"app-1","displayName":"P"}`))
		case "/oauth2PermissionGrants":
			w.Write([]byte(`{"id":"g1","clientId":"new-sp","resourceId":"res","consentType":"AllPrincipals","scope":"User.Read"}`))
		default:
			w.Write([]byte(`{"id":"a1","principalId":"new-sp","resourceId":"res","appRoleId":"role"}`))
		}
	}))
	defer srv.Close()
	g := NewGraph(srv.Client(), srv.URL, func(context.Context) (string, error) { return "t", nil })
	ctx := context.Background()
	if sp, err := g.ServicePrincipalByAppID(ctx, "app-1"); err != nil || sp != nil {
		t.Fatalf("lookup before: %+v %v", sp, err)
	}
	sp, err := g.CreateServicePrincipal(ctx, "app-1")
	if err != nil || sp.ID != "new-sp" {
		t.Fatalf("create: %+v %v", sp, err)
	}
	got, err := g.ServicePrincipalByAppID(ctx, "app-1")
	if err != nil || got == nil || got.ID != "new-sp" {
		t.Fatalf("lookup after create: %+v %v", got, err)
	}
	ras, _ := g.RoleAssignments(ctx, "new-sp")
	aras, _ := g.AppRoleAssignments(ctx, "new-sp")
	o2s, _ := g.OAuth2PermissionGrants(ctx, "new-sp")
	if len(ras)+len(aras)+len(o2s) != 0 || len(gets) != 1 {
		t.Fatalf("a new service principal's reads went to the service: %v", gets)
	}
	if _, err := g.GrantAppRole(ctx, "res", "new-sp", "role"); err != nil {
		t.Fatal(err)
	}
	if _, err := g.CreateOAuth2PermissionGrant(ctx, "new-sp", "res", "User.Read"); err != nil {
		t.Fatal(err)
	}
	aras, _ = g.AppRoleAssignments(ctx, "new-sp")
	o2s, _ = g.OAuth2PermissionGrants(ctx, "new-sp")
	if len(aras) != 1 || aras[0].AppRoleID != "role" || len(o2s) != 1 || o2s[0].Scope != "User.Read" || len(gets) != 1 {
		t.Fatalf("created grants not folded in: %+v %+v, reads %v", aras, o2s, gets)
	}
	// The read-back asks the service (which here says nothing is held).
	if aras, _ = g.AppRoleAssignments(FreshReads(ctx), "new-sp"); len(aras) != 0 || len(gets) != 2 {
		t.Fatalf("fresh read-back: %+v, reads %v", aras, gets)
	}
}
