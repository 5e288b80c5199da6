package conformance

import (
	"encoding/json"
	"net/http"
	"testing"
)

const tenantID = "3f9c8f2e-6d0b-4c1e-9a57-1b2d3c4e5f60"

// platformCaptures makes every platform call the wizard makes
// (platform/client.go) and returns the raw answers.
func platformCaptures(t *testing.T) []capture {
	e := start(t, "ready", nil)
	var out []capture
	add := func(name string, r resp, fs []Field) {
		out = append(out, capture{name: "platform " + name, body: r.body, fields: fs})
	}
	add("GET /v1/account", e.platform("GET", "/v1/account", nil).want(t, "account", 200), specAccount)
	add("GET /v1/m365/app", e.platform("GET", "/v1/m365/app", nil).want(t, "app", 200), specApp)

	// Organizations, paged: every page but the last has a next_page_token.
	token := ""
	for page := 1; ; page++ {
		path := "/v1/organizations" + q("limit", "2")
		if token != "" {
			path = "/v1/organizations" + q("limit", "2", "page_token", token)
		}
		r := e.platform("GET", path, nil).want(t, "organizations", 200)
		add("GET /v1/organizations page "+string(rune('0'+page)), r, specOrgPage)
		var p struct {
			Pagination struct {
				NextPageToken string `json:"next_page_token"`
			} `json:"pagination"`
		}
		_ = json.Unmarshal(r.body, &p)
		if page == 1 && p.Pagination.NextPageToken == "" {
			t.Fatalf("first page of 2 has no next_page_token: %s", r.body)
		}
		if token = p.Pagination.NextPageToken; token == "" {
			break
		}
		if page > 10 {
			t.Fatal("organization paging does not end")
		}
	}
	add("GET /v1/organizations?name=", e.platform("GET", "/v1/organizations"+q("name", "contoso"), nil).want(t, "organizations by name", 200), specOrgPage)
	add("GET /v1/organizations/{id}", e.platform("GET", "/v1/organizations/org_contoso", nil).want(t, "organization", 200), specOrg)

	body := map[string]string{"tenant_id": tenantID, "organization_id": "org_contoso", "type": "microsoft_365"}
	r := e.platform("POST", "/v1/integrations", body).want(t, "create integration", http.StatusCreated)
	add("POST /v1/integrations (201)", r, specIntegration)
	id := str(t, r.body, "id")
	add("POST /v1/integrations (200, same organization)", e.platform("POST", "/v1/integrations", body).want(t, "create again", http.StatusOK), specIntegration)
	add("GET /v1/integrations?tenant_id=", e.platform("GET", "/v1/integrations"+q("tenant_id", tenantID), nil).want(t, "integrations", 200), specIntegrations)
	add("GET /v1/integrations/{id}", e.platform("GET", "/v1/integrations/"+id, nil).want(t, "integration", 200), specIntegration)
	if r := e.platform("DELETE", "/v1/integrations/"+id, nil).want(t, "delete", http.StatusNoContent); len(r.body) != 0 {
		t.Errorf("DELETE answered 204 with a body: %s", r.body)
	}
	return out
}

func TestPlatformResponsesCarryWhatTheWizardReads(t *testing.T) {
	caps := platformCaptures(t)
	if len(caps) < 10 {
		t.Fatalf("only %d platform responses captured", len(caps))
	}
	for _, c := range caps {
		conform(t, c)
	}
}

func TestPlatformOrganizationPagingCoversEveryOrganization(t *testing.T) {
	e := start(t, "many-orgs", nil)
	seen := map[string]bool{}
	token, total, pages := "", 0, 0
	for {
		path := "/v1/organizations" + q("limit", "500")
		if token != "" {
			path = "/v1/organizations" + q("limit", "500", "page_token", token)
		}
		var p struct {
			Organizations []struct {
				ID string `json:"id"`
			} `json:"organizations"`
			Pagination struct {
				NextPageToken string `json:"next_page_token"`
				Total         int    `json:"total"`
			} `json:"pagination"`
		}
		if err := json.Unmarshal(e.platform("GET", path, nil).want(t, "organizations", 200).body, &p); err != nil {
			t.Fatal(err)
		}
		for _, o := range p.Organizations {
			if seen[o.ID] {
				t.Fatalf("organization %s on two pages", o.ID)
			}
			seen[o.ID] = true
		}
		total = p.Pagination.Total
		pages++
		if token = p.Pagination.NextPageToken; token == "" || pages > 20 {
			break
		}
	}
	if len(seen) != total || total != 5001 || pages != 11 {
		t.Fatalf("%d organizations over %d pages, total %d; want 5001 over 11", len(seen), pages, total)
	}
}
