package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestStateBehindServer checks the handlers as mounted by the real server
// (prefix stripping, TLS, absolute nextLink / @odata.context URLs).
func TestStateBehindServer(t *testing.T) {
	sc, err := LoadScenario("typical")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 150; i++ {
		sc.Users = append(sc.Users, UserSpec{UPN: fmt.Sprintf("bulk%03d@%s", i, sc.Tenant.InitialDomain), DisplayName: fmt.Sprintf("Bulk %03d", i)})
	}
	srv, err := Start(sc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ep := srv.Endpoints()
	hc := srv.HTTPClient()
	gtok := srv.IssueToken("https://graph.microsoft.com")

	get := func(u, tok string) map[string]any {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %v %v", u, resp.StatusCode, err, m)
		}
		return m
	}
	n, pages := 0, 0
	next := ep.Graph + "/v1.0/users?$filter=accountEnabled%20eq%20true&$select=id,userPrincipalName,assignedLicenses"
	for next != "" {
		m := get(next, gtok)
		// Issue 17 §8: $select shows in the context URL (OData 4.01 §10).
		if ctx := m["@odata.context"].(string); ctx != ep.Graph+"/v1.0/$metadata#users(id,userPrincipalName,assignedLicenses)" {
			t.Fatalf("@odata.context %q", ctx)
		}
		n += len(m["value"].([]any))
		pages++
		next, _ = m["@odata.nextLink"].(string)
		if next != "" && !strings.HasPrefix(next, ep.Graph+"/v1.0/users?") {
			t.Fatalf("nextLink %q", next)
		}
	}
	if pages != 2 || n != 155 { // typical has 6 users, one disabled
		t.Fatalf("%d users in %d pages", n, pages)
	}

	// Exchange through the server.
	xtok := srv.IssueToken("https://outlook.office365.com")
	body, _ := json.Marshal(map[string]any{"CmdletInput": map[string]any{"CmdletName": "Get-OrganizationConfig"}})
	req, _ := http.NewRequest(http.MethodPost, ep.Exchange+"/adminapi/beta/"+sc.Tenant.InitialDomain+"/InvokeCommand", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+xtok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var xm map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&xm)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(xm["@odata.context"].(string), ep.Exchange+"/adminapi/beta/") {
		t.Fatalf("exchange: %d %v", resp.StatusCode, xm)
	}

	// Platform through the server, with the endpoints file's credentials.
	preq, _ := http.NewRequest(http.MethodGet, ep.Platform+"/v1/m365/app", nil)
	preq.SetBasicAuth(ep.PlatformAPIKey, ep.PlatformAPISecret)
	presp, err := hc.Do(preq)
	if err != nil {
		t.Fatal(err)
	}
	var pm map[string]any
	_ = json.NewDecoder(presp.Body).Decode(&pm)
	presp.Body.Close()
	if presp.StatusCode != 200 || presp.Header.Get("X-Request-Id") == "" || !strings.HasPrefix(pm["admin_consent_url"].(string), srv.URL()+"/") {
		t.Fatalf("platform: %d %v", presp.StatusCode, pm)
	}
}
