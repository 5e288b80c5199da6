package sim

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
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
