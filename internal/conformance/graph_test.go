package conformance

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

const (
	graphAppID    = "00000003-0000-0000-c000-000000000000"
	platformAppID = "5b1a7c3e-0d5f-4e39-9d6b-6c0f3f6b9a11"
	exchangeAdmin = "29232cdf-9323-42fd-ade2-1d097af3e4de"
)

func q(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return "?" + v.Encode()
}

// str reads a string at a dotted path of a decoded body ("value.0.id").
func str(t *testing.T, body []byte, path ...any) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			a, _ := v.([]any)
			if k >= len(a) {
				t.Fatalf("no element %d at %v in %s", k, path, body)
			}
			v = a[k]
		}
	}
	s, ok := v.(string)
	if !ok || s == "" {
		t.Fatalf("no string at %v in %s", path, body)
	}
	return s
}

// graphCaptures performs every Graph call the wizard makes, in an order
// that builds the objects the later calls need, and returns the raw
// responses with the fields the wizard reads from each.
func graphCaptures(t *testing.T) []capture {
	e := start(t, "typical", nil)
	var out []capture
	add := func(name string, r resp, fs []Field) {
		out = append(out, capture{name: "graph " + name, body: r.body, fields: fs})
	}

	add("GET /organization", e.graph("GET", "/organization", nil).want(t, "organization", 200), specOrganization)
	add("GET /me", e.graph("GET", "/me"+q("$select", "id,displayName,userPrincipalName"), nil).want(t, "me", 200), specMe)
	add("GET /me/transitiveMemberOf/microsoft.graph.directoryRole",
		e.graph("GET", "/me/transitiveMemberOf/microsoft.graph.directoryRole", nil).want(t, "directory roles", 200), specDirectoryRole)
	add("GET /subscribedSkus", e.graph("GET", "/subscribedSkus", nil).want(t, "skus", 200), specSKUs)

	// PIM eligibilities need a user that has one.
	pim := start(t, "pim-eligible", nil)
	add("GET roleEligibilityScheduleInstances/filterByCurrentUser",
		pim.graph("GET", "/roleManagement/directory/roleEligibilityScheduleInstances/filterByCurrentUser(on='principal')", nil).want(t, "eligibility", 200),
		specEligibility)

	// The resource service principal (Microsoft Graph), both key forms.
	r := e.graph("GET", "/servicePrincipals"+q("$filter", "appId eq '"+graphAppID+"'", "$select", "id,appId,displayName,appRoles,oauth2PermissionScopes"), nil).want(t, "graph sp", 200)
	add("GET /servicePrincipals?$filter=appId", r, specSPs)
	graphSP := str(t, r.body, "value", 0, "id")
	var sps struct {
		Value []struct {
			AppRoles []struct{ ID, Value string } `json:"appRoles"`
		} `json:"value"`
	}
	_ = json.Unmarshal(r.body, &sps)
	auditRole := ""
	for _, ar := range sps.Value[0].AppRoles {
		if ar.Value == "AuditLog.Read.All" {
			auditRole = ar.ID
		}
	}
	if auditRole == "" {
		t.Fatalf("Microsoft Graph offers no AuditLog.Read.All app role: %s", r.body)
	}
	add("GET /servicePrincipals(appId='…')", e.graph("GET", "/servicePrincipals(appId='"+graphAppID+"')", nil).want(t, "sp by appId key", 200), specSP)

	// Consent: the platform's service principal and its grants.
	r = e.graph("POST", "/servicePrincipals", map[string]string{"appId": platformAppID}).want(t, "create sp", http.StatusCreated)
	add("POST /servicePrincipals", r, specSPCreated)
	sp := str(t, r.body, "id")

	r = e.graph("POST", "/roleManagement/directory/roleAssignments", map[string]string{
		"@odata.type": "#microsoft.graph.unifiedRoleAssignment", "roleDefinitionId": exchangeAdmin, "principalId": sp, "directoryScopeId": "/",
	}).want(t, "role assignment", http.StatusCreated)
	add("POST /roleManagement/directory/roleAssignments", r, specRoleAssignment)
	add("GET /roleManagement/directory/roleAssignments?$filter=principalId",
		e.graph("GET", "/roleManagement/directory/roleAssignments"+q("$filter", "principalId eq '"+sp+"'"), nil).want(t, "role assignments", 200),
		specRoleAssignments)

	r = e.graph("POST", "/servicePrincipals/"+graphSP+"/appRoleAssignedTo", map[string]string{
		"principalId": sp, "resourceId": graphSP, "appRoleId": auditRole,
	}).want(t, "app role", http.StatusCreated)
	add("POST /servicePrincipals/{id}/appRoleAssignedTo", r, specAppRoleAssignment)
	add("GET /servicePrincipals/{id}/appRoleAssignments",
		e.graph("GET", "/servicePrincipals/"+sp+"/appRoleAssignments", nil).want(t, "app role assignments", 200), specAppRoleAssignments)

	r = e.graph("POST", "/oauth2PermissionGrants", map[string]any{
		"clientId": sp, "consentType": "AllPrincipals", "resourceId": graphSP, "scope": "User.Read",
	}).want(t, "grant", http.StatusCreated)
	add("POST /oauth2PermissionGrants", r, specGrant)
	add("GET /oauth2PermissionGrants?$filter=clientId",
		e.graph("GET", "/oauth2PermissionGrants"+q("$filter", "clientId eq '"+sp+"'"), nil).want(t, "grants", 200), specGrants)

	// Users, paged (a small $top forces server-driven paging).
	link := "/users" + q("$filter", "accountEnabled eq true", "$select", "id,assignedLicenses", "$top", "2")
	for page := 1; link != ""; page++ {
		r = e.graph("GET", link, nil).want(t, "users page", 200)
		var p struct {
			NextLink string `json:"@odata.nextLink"`
		}
		_ = json.Unmarshal(r.body, &p)
		fs := specUsers
		if page == 1 {
			fs = cat(specUsers, []Field{nextLink})
		}
		add("GET /users page "+string(rune('0'+page)), r, fs)
		link = p.NextLink
		if link != "" && !strings.HasPrefix(link, e.srv.Endpoints().Graph+"/v1.0/") {
			// The client refuses a nextLink to another origin.
			t.Fatalf("nextLink %q is not under the Graph base %s", link, e.srv.Endpoints().Graph)
		}
		if page > 10 {
			t.Fatal("users paging does not end")
		}
	}

	add("GET /reports/authenticationMethods/userRegistrationDetails",
		e.graph("GET", "/reports/authenticationMethods/userRegistrationDetails", nil).want(t, "registration details", 200), specRegistration)

	r = e.graph("POST", "/$batch", map[string]any{"requests": []map[string]string{
		{"id": "1", "method": "GET", "url": "/organization"},
		{"id": "2", "method": "GET", "url": "/me?$select=id,displayName,userPrincipalName"},
	}}).want(t, "batch", 200)
	add("POST /$batch", r, specBatch)
	var batch struct {
		Responses []struct {
			ID   string          `json:"id"`
			Body json.RawMessage `json:"body"`
		} `json:"responses"`
	}
	_ = json.Unmarshal(r.body, &batch)
	for _, sub := range batch.Responses {
		switch sub.ID {
		case "1":
			out = append(out, capture{name: "graph $batch body of GET /organization", body: sub.Body, fields: specOrganization})
		case "2":
			out = append(out, capture{name: "graph $batch body of GET /me", body: sub.Body, fields: specMe})
		}
	}

	// Soft-deleted service principals (after the platform's is deleted).
	e.graph("DELETE", "/servicePrincipals/"+sp, nil).want(t, "delete sp", http.StatusNoContent)
	add("GET /directory/deletedItems/microsoft.graph.servicePrincipal",
		e.graph("GET", "/directory/deletedItems/microsoft.graph.servicePrincipal"+q("$filter", "appId eq '"+platformAppID+"'"), nil).want(t, "deleted items", 200),
		specDeletedSPs)
	return out
}

func TestGraphResponsesCarryWhatTheWizardReads(t *testing.T) {
	caps := graphCaptures(t)
	if len(caps) < 20 {
		t.Fatalf("only %d Graph responses captured", len(caps))
	}
	for _, c := range caps {
		conform(t, c)
	}
}

func TestGraphUsersPagingCoversEveryUser(t *testing.T) {
	e := start(t, "typical", nil)
	seen := map[string]bool{}
	link := "/users" + q("$filter", "accountEnabled eq true", "$select", "id,assignedLicenses", "$top", "2")
	pages := 0
	for link != "" && pages < 10 {
		r := e.graph("GET", link, nil).want(t, "users page", 200)
		var p struct {
			Value []struct {
				ID string `json:"id"`
			} `json:"value"`
			NextLink string `json:"@odata.nextLink"`
		}
		if err := json.Unmarshal(r.body, &p); err != nil {
			t.Fatal(err)
		}
		for _, u := range p.Value {
			if seen[u.ID] {
				t.Errorf("user %s on two pages", u.ID)
			}
			seen[u.ID] = true
		}
		link = p.NextLink
		pages++
	}
	// typical: six users, one disabled.
	if len(seen) != 5 || pages != 3 {
		t.Fatalf("%d enabled users over %d pages, want 5 over 3", len(seen), pages)
	}
}
