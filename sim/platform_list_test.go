package sim

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// GET /v1/integrations without tenant_id lists every integration of the
// account, paged and filtered by status (docs/platform-api.md).
func TestPlatformListIntegrationsPagingAndStatus(t *testing.T) {
	t.Parallel()
	sc := GeneratePartnerScenario(60, 3)
	want := map[string]bool{}
	for _, in := range sc.Platform.Integrations {
		want[strings.ToLower(in.TenantID)] = true
	}
	if len(want) < 5 {
		t.Fatalf("the scenario has %d integrations; the test needs several", len(want))
	}
	s, _ := ptStart(t, sc)
	ep := s.Endpoints()
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(ep.PlatformAPIKey+":"+ep.PlatformAPISecret))
	get := func(q url.Values) ptResp {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, s.URL()+"/platform/v1/integrations?"+q.Encode(), nil)
		req.Header.Set("Authorization", auth)
		resp, err := ep.HTTPClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out ptResp
		out.status = resp.StatusCode
		b := new(strings.Builder)
		_, _ = io.Copy(b, resp.Body)
		out.raw = b.String()
		_ = json.Unmarshal([]byte(out.raw), &out.body)
		return out
	}
	got := map[string]bool{}
	token, pages := "", 0
	for {
		q := url.Values{"limit": {"2"}}
		if token != "" {
			q.Set("page_token", token)
		}
		r := get(q)
		if r.status != 200 {
			t.Fatalf("page %d: %d %s", pages, r.status, r.raw)
		}
		pages++
		items := r.body["integrations"].([]any)
		if len(items) > 2 {
			t.Fatalf("limit 2 gave %d items", len(items))
		}
		for _, it := range items {
			m := it.(map[string]any)
			tid := m["tenant_id"].(string)
			if got[tid] {
				t.Fatalf("tenant %s on two pages", tid)
			}
			got[tid] = true
			if m["status"] == "" || m["id"] == "" {
				t.Fatalf("item lacks status or id: %v", m)
			}
		}
		pg := r.body["pagination"].(map[string]any)
		if int(pg["total"].(float64)) != len(want) {
			t.Fatalf("total %v, want %d", pg["total"], len(want))
		}
		token = pg["next_page_token"].(string)
		if token == "" {
			break
		}
	}
	if len(got) != len(want) || pages != (len(want)+1)/2 {
		t.Fatalf("paging returned %d of %d integrations in %d pages", len(got), len(want), pages)
	}
	for tid := range want {
		if !got[tid] {
			t.Fatalf("integration of %s missing from the list", tid)
		}
	}
	// One request with limit 500 returns them all.
	r := get(url.Values{"limit": {"500"}, "status": {"healthy"}})
	if r.status != 200 || len(r.body["integrations"].([]any)) != len(want) {
		t.Fatalf("status=healthy: %d %s", r.status, clip(r.raw))
	}
	if r := get(url.Values{"status": {"pending,unhealthy"}}); r.status != 200 || len(r.body["integrations"].([]any)) != 0 {
		t.Fatalf("status=pending,unhealthy: %d %s", r.status, clip(r.raw))
	}
	if r := get(url.Values{"status": {"green"}}); r.status != 400 || !strings.Contains(r.raw, "invalid_request") {
		t.Fatalf("bad status: %d %s", r.status, clip(r.raw))
	}
	if r := get(url.Values{"limit": {"0"}}); r.status != 400 {
		t.Fatalf("limit 0: %d", r.status)
	}
	var one string
	for tid := range want {
		one = tid
		break
	}
	if r := get(url.Values{"tenant_id": {strings.ToUpper(one)}}); r.status != 200 || len(r.body["integrations"].([]any)) != 1 {
		t.Fatalf("tenant_id: %d %s", r.status, clip(r.raw))
	}
}

// changed_since: a list answer's cursor, sent back, returns only the
// integrations created or changed since (not those whose last_checked_at
// alone moved) and names the deleted ones; an unknown cursor is refused.
func TestPlatformListIntegrationsChangedSince(t *testing.T) {
	t.Parallel()
	sc := tScenario()
	sc.Exchange.OrganizationManagementRoles = PlatformExchangeRoles
	sc.ServicePrincipals = []ServicePrincipalSpec{{AppID: DefaultPlatformAppID, DirectoryRoles: []string{"Exchange Administrator", "Organizational Branding Administrator"},
		AppRoles: []string{"AuditLog.Read.All", "Directory.Read.All", "Reports.Read.All", "Policy.Read.All", "Exchange.ManageAsApp", "Office 365 Management APIs:ActivityFeed.Read"}}}
	sc.Platform.HealthyAfter = Duration(time.Minute)
	e := newEnv(t, sc)
	list := func(cursor string) (items []map[string]any, deleted []any, next string, raw []byte) {
		t.Helper()
		q := url.Values{}
		if cursor != "" {
			q.Set("changed_since", cursor)
		}
		r := e.pfCall(http.MethodGet, "/v1/integrations?"+q.Encode(), nil)
		if r.Status != 200 {
			t.Fatalf("changed_since=%q: %d %s", cursor, r.Status, r.Raw)
		}
		for _, it := range r.Body["integrations"].([]any) {
			items = append(items, it.(map[string]any))
		}
		if d, ok := r.Body["deleted"].([]any); ok {
			deleted = d
		} else if cursor != "" {
			t.Fatalf("changed_since answer without \"deleted\": %s", r.Raw)
		}
		next, _ = r.Body["cursor"].(string)
		if next == "" {
			t.Fatalf("no cursor: %s", r.Raw)
		}
		return items, deleted, next, r.Raw
	}
	_, _, c0, _ := list("")
	if items, del, c1, raw := list(c0); len(items) != 0 || len(del) != 0 || c1 != c0 {
		t.Fatalf("nothing changed, yet: %s (cursor %q → %q)", raw, c0, c1)
	}
	m := e.mapTenant("org_contoso")
	if m.Status != 201 {
		t.Fatalf("map: %d %s", m.Status, m.Raw)
	}
	id := m.Body["id"].(string)
	items, _, c2, raw := list(c0)
	if len(items) != 1 || items[0]["id"] != id || items[0]["status"] != "pending" {
		t.Fatalf("after the mapping: %s", raw)
	}
	// Time passes (last_checked_at moves) but nothing changes.
	e.clock.Advance(10 * time.Second)
	if items, _, c3, raw := list(c2); len(items) != 0 || c3 != c2 {
		t.Fatalf("only last_checked_at moved, yet: %s", raw)
	}
	// The first data arrives: healthy is a change.
	e.clock.Advance(time.Minute)
	items, _, c4, raw := list(c2)
	if len(items) != 1 || items[0]["status"] != "healthy" || c4 == c2 {
		t.Fatalf("after healthy_after: %s", raw)
	}
	// A deletion is named, once, by id and tenant.
	if r := e.pfCall(http.MethodDelete, "/v1/integrations/"+id, nil); r.Status != 204 {
		t.Fatalf("delete: %d %s", r.Status, r.Raw)
	}
	items, del, _, raw := list(c4)
	if len(items) != 0 || len(del) != 1 || del[0].(map[string]any)["id"] != id || !strings.EqualFold(del[0].(map[string]any)["tenant_id"].(string), tTenant) {
		t.Fatalf("after the deletion: %s", raw)
	}
	// The whole history from the first cursor: the deletion, not the
	// integration (it is gone).
	if items, del, _, raw := list(c0); len(items) != 0 || len(del) != 1 {
		t.Fatalf("since the start: %s", raw)
	}
	for _, bad := range []string{"nonsense", base64.RawURLEncoding.EncodeToString([]byte("s:99999"))} {
		if r := e.pfCall(http.MethodGet, "/v1/integrations?changed_since="+url.QueryEscape(bad), nil); r.Status != 400 || r.errCode() != "invalid_request" {
			t.Fatalf("changed_since=%s: %d %s", bad, r.Status, r.Raw)
		}
	}
}

// Every page of one listing carries the cursor of its first page, even
// when something changes between the pages, so a change after the first
// page is returned by the next changed_since.
func TestPlatformListIntegrationsCursorPerListing(t *testing.T) {
	t.Parallel()
	sc := GeneratePartnerScenario(60, 3)
	if len(sc.Platform.Integrations) < 4 {
		t.Fatalf("the scenario has %d integrations; the test needs several", len(sc.Platform.Integrations))
	}
	s, _ := ptStart(t, sc)
	ep := s.Endpoints()
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(ep.PlatformAPIKey+":"+ep.PlatformAPISecret))
	do := func(method string, q url.Values, path string) map[string]any {
		t.Helper()
		req, _ := http.NewRequest(method, s.URL()+"/platform/v1/integrations"+path+"?"+q.Encode(), nil)
		req.Header.Set("Authorization", auth)
		resp, err := ep.HTTPClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode/100 != 2 {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		var out map[string]any
		_ = json.Unmarshal(b, &out)
		return out
	}
	first := do(http.MethodGet, url.Values{"limit": {"2"}}, "")
	cursor := first["cursor"].(string)
	var last string
	for _, it := range first["integrations"].([]any) {
		last = it.(map[string]any)["id"].(string)
	}
	// Between the pages an integration already returned is deleted.
	do(http.MethodDelete, nil, "/"+last)
	token := first["pagination"].(map[string]any)["next_page_token"].(string)
	for token != "" {
		p := do(http.MethodGet, url.Values{"limit": {"2"}, "page_token": {token}}, "")
		if p["cursor"] != cursor {
			t.Fatalf("a later page's cursor %v, the first page's %s", p["cursor"], cursor)
		}
		token = p["pagination"].(map[string]any)["next_page_token"].(string)
	}
	ch := do(http.MethodGet, url.Values{"changed_since": {cursor}}, "")
	del := ch["deleted"].([]any)
	if len(del) != 1 || del[0].(map[string]any)["id"] != last || len(ch["integrations"].([]any)) != 0 {
		t.Fatalf("changes since the first page: %v", ch)
	}
}
