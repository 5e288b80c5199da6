package sim

import (
	"net/http"
	"testing"
)

// Every Graph route answers a method it does not serve with 405 and
// Request_BadRequest, and changes nothing.
func TestGraphRoutesRejectOtherMethods(t *testing.T) {
	e := newEnv(t, tScenario())
	sp := e.createPlatformSP()
	before := len(e.st.Changes())
	cases := []struct{ method, path string }{
		{http.MethodPost, "/organization"},
		{http.MethodDelete, "/me"},
		{http.MethodPost, "/me/transitiveMemberOf/microsoft.graph.directoryRole"},
		{http.MethodPost, "/me/memberOf/microsoft.graph.directoryRole"},
		{http.MethodPost, "/roleManagement/directory/roleEligibilityScheduleInstances/filterByCurrentUser(on='principal')"},
		{http.MethodPost, "/subscribedSkus"},
		{http.MethodPost, "/users"},
		{http.MethodPost, "/reports/authenticationMethods/userRegistrationDetails"},
		{http.MethodPost, "/directory/deletedItems/microsoft.graph.servicePrincipal"},
		{http.MethodDelete, "/roleManagement/directory/roleAssignments"},
		{http.MethodPatch, "/roleManagement/directory/roleAssignments/some-id"},
		{http.MethodDelete, "/oauth2PermissionGrants"},
		{http.MethodPost, "/oauth2PermissionGrants/some-id"},
		{http.MethodPatch, "/servicePrincipals"},
		{http.MethodPatch, "/servicePrincipals/" + sp},
		{http.MethodPost, "/servicePrincipals(appId='" + DefaultPlatformAppID + "')"},
		{http.MethodDelete, "/servicePrincipals/" + sp + "/appRoleAssignedTo"},
		{http.MethodGet, "/servicePrincipals/" + sp + "/appRoleAssignments/some-id"},
	}
	for _, c := range cases {
		r := e.graphCall(c.method, c.path, tAdmin, map[string]any{})
		if r.Status != http.StatusMethodNotAllowed || r.errCode() != "Request_BadRequest" {
			t.Errorf("%s %s: %d %s", c.method, c.path, r.Status, r.Raw)
		}
	}
	if n := len(e.st.Changes()); n != before {
		t.Errorf("%d change(s) from rejected methods", n-before)
	}
}
