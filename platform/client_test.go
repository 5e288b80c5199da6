package platform

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"itdr-onboard/internal/testutil"
)

const (
	apiKey    = "hk_demo_key"
	apiSecret = "hs_TOPSECRET_value"
)

// fakeClock only moves when Sleep is called, so no test waits for real.
type fakeClock struct{ testutil.FakeClock }

// fakePlatform implements docs/platform-api.md for the calls under test.
type fakePlatform struct {
	t            *testing.T
	mu           sync.Mutex
	orgs         []Organization
	integrations []map[string]any
	posts        int
	loseNextPost bool // create, then answer 503
	throttle     int  // answer the next n requests 429
	reqs         int
}

func (f *fakePlatform) errorf(w http.ResponseWriter, status int, code, msg string, extra map[string]any) {
	rid := "req-" + strconv.Itoa(f.reqs)
	e := map[string]any{"code": code, "message": msg, "request_id": rid}
	for k, v := range extra {
		e[k] = v
	}
	w.Header().Set("X-Request-Id", rid)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": e})
}

func (f *fakePlatform) ok(w http.ResponseWriter, status int, v any) {
	w.Header().Set("X-Request-Id", "req-"+strconv.Itoa(f.reqs))
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakePlatform) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs++
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte(apiKey+":"+apiSecret))
	if r.Header.Get("Authorization") != want {
		f.errorf(w, 401, "unauthorized", "missing or wrong API key", nil)
		return
	}
	if f.throttle > 0 {
		f.throttle--
		w.Header().Set("Retry-After", "2")
		f.errorf(w, 429, "rate_limited", "60 requests per minute", nil)
		return
	}
	switch {
	case r.Method == "GET" && r.URL.Path == "/v1/account":
		f.ok(w, 200, map[string]any{"id": "acc_1", "name": "Northwind MSP", "user": "tech@northwind.example", "role": "admin",
			"subscriptions": []map[string]any{{"product": "itdr", "status": "trial", "expires_at": "2027-01-31T00:00:00Z"}}, "extra": true})
	case r.Method == "GET" && r.URL.Path == "/v1/m365/app":
		f.ok(w, 200, map[string]any{"app_id": "5b1a", "display_name": "ITDR", "exchange_role_group": "Organization Management",
			"exchange_roles": []string{"Audit Logs"}, "directory_roles": []map[string]string{{"template_id": "29232cdf-9323-42fd-ade2-1d097af3e4de", "display_name": "Exchange Administrator"}}})
	case r.Method == "GET" && r.URL.Path == "/v1/organizations":
		q := r.URL.Query()
		limit, _ := strconv.Atoi(q.Get("limit"))
		if limit == 0 {
			limit = 50
		}
		var match []Organization
		for _, o := range f.orgs {
			if strings.Contains(strings.ToLower(o.Name), strings.ToLower(q.Get("name"))) {
				match = append(match, o)
			}
		}
		start, _ := strconv.Atoi(q.Get("page_token"))
		end := min(start+limit, len(match))
		next := ""
		if end < len(match) {
			next = strconv.Itoa(end)
		}
		f.ok(w, 200, map[string]any{"organizations": match[start:end], "pagination": map[string]any{"next_page_token": next, "total": len(match)}})
	case r.Method == "GET" && strings.HasPrefix(r.URL.Path, "/v1/organizations/"):
		id := strings.TrimPrefix(r.URL.Path, "/v1/organizations/")
		for _, o := range f.orgs {
			if o.ID == id {
				f.ok(w, 200, o)
				return
			}
		}
		f.errorf(w, 404, "not_found", "organization "+id+" does not exist", nil)
	case r.Method == "GET" && r.URL.Path == "/v1/integrations":
		var out []map[string]any
		for _, in := range f.integrations {
			if in["tenant_id"] == r.URL.Query().Get("tenant_id") {
				out = append(out, in)
			}
		}
		if out == nil {
			out = []map[string]any{}
		}
		f.ok(w, 200, map[string]any{"integrations": out})
	case r.Method == "POST" && r.URL.Path == "/v1/integrations":
		f.posts++
		var body map[string]string
		_ = json.NewDecoder(r.Body).Decode(&body)
		if body["type"] != "microsoft_365" {
			f.errorf(w, 400, "invalid_request", "type", nil)
			return
		}
		for _, in := range f.integrations {
			if in["tenant_id"] == body["tenant_id"] {
				if in["organization_id"] == body["organization_id"] {
					f.ok(w, 200, in)
					return
				}
				f.errorf(w, 409, "tenant_already_mapped", "tenant is mapped to Fabrikam", map[string]any{"organization_id": in["organization_id"], "organization_name": "Fabrikam"})
				return
			}
		}
		in := map[string]any{"id": fmt.Sprintf("int_%d", len(f.integrations)+1), "tenant_id": body["tenant_id"], "organization_id": body["organization_id"],
			"organization_name": "Contoso Ltd", "type": "microsoft_365", "status": "pending", "created_at": "2026-01-02T03:04:05Z",
			"first_data_at": nil, "expected_first_data_at": "2026-01-02T09:00:00Z"}
		f.integrations = append(f.integrations, in)
		if f.loseNextPost {
			f.loseNextPost = false
			f.errorf(w, 503, "unavailable", "try later", nil)
			return
		}
		f.ok(w, 201, in)
	case r.Method == "GET" && strings.HasPrefix(r.URL.Path, "/v1/integrations/"):
		id := strings.TrimPrefix(r.URL.Path, "/v1/integrations/")
		for _, in := range f.integrations {
			if in["id"] == id {
				f.ok(w, 200, in)
				return
			}
		}
		f.errorf(w, 404, "not_found", "integration "+id+" does not exist", nil)
	case r.Method == "DELETE" && strings.HasPrefix(r.URL.Path, "/v1/integrations/"):
		id := strings.TrimPrefix(r.URL.Path, "/v1/integrations/")
		for i, in := range f.integrations {
			if in["id"] == id {
				f.integrations = append(f.integrations[:i], f.integrations[i+1:]...)
				w.WriteHeader(204)
				return
			}
		}
		f.errorf(w, 404, "not_found", "integration "+id+" does not exist", nil)
	default:
		f.t.Errorf("unexpected %s %s", r.Method, r.URL)
		f.errorf(w, 404, "not_found", "no route", nil)
	}
}

func newClient(t *testing.T, f *fakePlatform, secret string) (*Client, *fakeClock) {
	t.Helper()
	f.t = t
	srv := httptest.NewTLSServer(f)
	t.Cleanup(srv.Close)
	c := New(srv.Client(), srv.URL+"/", apiKey, secret)
	clk := &fakeClock{}
	c.SetRetryPolicy(RetryPolicy{Sleep: clk.Sleep, Now: clk.Now, Jitter: func(d time.Duration) time.Duration { return d }})
	return c, clk
}

func TestBasicAuthAndAccount(t *testing.T) {
	c, _ := newClient(t, &fakePlatform{}, apiSecret)
	a, err := c.Account(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if a.Role != "admin" || len(a.Subscriptions) != 1 || a.Subscriptions[0].Status != "trial" || a.Subscriptions[0].ExpiresAt == nil ||
		a.Subscriptions[0].ExpiresAt.Year() != 2027 {
		t.Fatalf("%+v", a)
	}
	app, err := c.App(context.Background())
	if err != nil || app.ExchangeRoleGroup != "Organization Management" || app.DirectoryRoles[0].TemplateID != "29232cdf-9323-42fd-ade2-1d097af3e4de" {
		t.Fatalf("%+v %v", app, err)
	}
}

func TestWrongSecretNeverLeaks(t *testing.T) {
	const wrong = "hs_WRONG_SECRET_123"
	c, _ := newClient(t, &fakePlatform{}, wrong)
	_, err := c.Account(context.Background())
	if !IsUnauthorized(err) {
		t.Fatalf("want 401, got %v", err)
	}
	var pe *Error
	if !errors.As(err, &pe) || pe.Status != 401 || pe.RequestID == "" || pe.Call != "GET /v1/account" {
		t.Fatalf("%+v", pe)
	}
	b64 := base64.StdEncoding.EncodeToString([]byte(apiKey + ":" + wrong))
	for _, s := range []string{err.Error(), fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprintf("%v", *c), fmt.Sprintf("%+v", *c)} {
		if strings.Contains(s, wrong) || strings.Contains(s, b64) || strings.Contains(s, "WRONG") {
			t.Fatalf("secret leaked: %q", s)
		}
	}
}

func TestOrganizationsPaging(t *testing.T) {
	f := &fakePlatform{}
	for i := range 1203 {
		name := fmt.Sprintf("Org %04d", i)
		if i%100 == 0 {
			name = fmt.Sprintf("Contoso %04d", i)
		}
		f.orgs = append(f.orgs, Organization{ID: fmt.Sprintf("org_%d", i), Name: name})
	}
	c, _ := newClient(t, f, apiSecret)
	p, err := c.Organizations(context.Background(), "contoso", "", 5)
	if err != nil || len(p.Organizations) != 5 || p.Pagination.NextPageToken != "5" || p.Pagination.Total != 13 {
		t.Fatalf("%+v %v", p, err)
	}
	all, err := c.AllOrganizations(context.Background(), "")
	if err != nil || len(all) != 1203 || all[1202].ID != "org_1202" {
		t.Fatalf("%d %v", len(all), err)
	}
	if f.reqs != 1+3 {
		t.Fatalf("%d requests, want 4 (500 per page)", f.reqs)
	}
	o, err := c.Organization(context.Background(), "org_7")
	if err != nil || o.Name != "Org 0007" {
		t.Fatalf("%+v %v", o, err)
	}
	_, err = c.Organization(context.Background(), "org_nope")
	if !IsNotFound(err) || !strings.Contains(err.Error(), "GET /v1/organizations/org_nope") {
		t.Fatalf("%v", err)
	}
}

func TestCreateIntegrationLostResponseNoDuplicate(t *testing.T) {
	f := &fakePlatform{loseNextPost: true}
	c, _ := newClient(t, f, apiSecret)
	in, err := c.CreateIntegration(context.Background(), "tid-1", "org_42")
	if err != nil || in.ID != "int_1" || in.Status != StatusPending || f.posts != 1 || len(f.integrations) != 1 || in.RequestID == "" || in.Found {
		t.Fatalf("%+v %v posts %d", in, err, f.posts)
	}
	if in.ExpectedFirstDataAt == nil || in.FirstDataAt != nil {
		t.Fatalf("times %+v", in)
	}
}

func TestCreateIntegrationIdempotentAndConflict(t *testing.T) {
	f := &fakePlatform{}
	c, _ := newClient(t, f, apiSecret)
	a, err := c.CreateIntegration(context.Background(), "tid-1", "org_42")
	if err != nil {
		t.Fatal(err)
	}
	if a.Found {
		t.Fatalf("a new mapping (201) reported as found: %+v", a)
	}
	// Mapped there already: 200 with the existing integration, Found.
	b, err := c.CreateIntegration(context.Background(), "tid-1", "org_42")
	if err != nil || b.ID != a.ID || len(f.integrations) != 1 || !b.Found {
		t.Fatalf("%+v %v", b, err)
	}
	_, err = c.CreateIntegration(context.Background(), "tid-1", "org_7")
	var pe *Error
	if !IsTenantAlreadyMapped(err) || !errors.As(err, &pe) || pe.OrganizationID != "org_42" || pe.OrganizationName != "Fabrikam" || pe.Status != 409 {
		t.Fatalf("%v %+v", err, pe)
	}
	got, err := c.IntegrationForTenant(context.Background(), "tid-1")
	if err != nil || got == nil || got.ID != a.ID {
		t.Fatalf("%+v %v", got, err)
	}
	none, err := c.IntegrationForTenant(context.Background(), "tid-2")
	if err != nil || none != nil {
		t.Fatalf("%+v %v", none, err)
	}
	one, err := c.Integration(context.Background(), a.ID)
	if err != nil || one.TenantID != "tid-1" {
		t.Fatalf("%+v %v", one, err)
	}
	if err := c.DeleteIntegration(context.Background(), a.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteIntegration(context.Background(), a.ID); !IsNotFound(err) {
		t.Fatalf("second delete: %v", err)
	}
}

func TestThrottledThenOK(t *testing.T) {
	f := &fakePlatform{throttle: 2}
	c, clk := newClient(t, f, apiSecret)
	if _, err := c.Account(context.Background()); err != nil {
		t.Fatal(err)
	}
	if sleeps := clk.Sleeps(); len(sleeps) != 2 || sleeps[0] != 2*time.Second {
		t.Fatalf("sleeps %v", sleeps)
	}
}

func TestThrottledOutNamesLastRequestID(t *testing.T) {
	f := &fakePlatform{throttle: 1000}
	c, _ := newClient(t, f, apiSecret)
	_, err := c.Account(context.Background())
	if err == nil || !strings.Contains(err.Error(), "req-"+strconv.Itoa(f.reqs)) || !strings.Contains(err.Error(), "GET /v1/account") {
		t.Fatalf("%v", err)
	}
	var pe *Error
	if !errors.As(err, &pe) || pe.Code != CodeRateLimited {
		t.Fatalf("%v", err)
	}
}

func TestParseErrorNonJSON(t *testing.T) {
	e := ParseError("GET /v1/account", 502, http.Header{"X-Request-Id": {"r9"}}, []byte("<html>bad gateway</html>"))
	if e.Code != "bad_gateway" || e.RequestID != "r9" || !strings.Contains(e.Error(), "bad gateway") {
		t.Fatalf("%+v", e)
	}
}
