package main

// The declared dependency graph of `partner setup` creating the onboarding
// app from nothing (issue 20): every request it may send in the partner
// tenant and what each needs. TestSetupGraphCoversPartnerSetup checks it
// against the partner simulator's request log, like the onboarding's.
var partnerSetupGraph = []gnode{
	{ID: "id.discovery", Method: "GET", Path: "/{authority}/v2.0/.well-known/openid-configuration", Note: "MSAL authority metadata"},
	{ID: "id.instance", Method: "GET", Path: "/{authority}/discovery/instance", Note: "MSAL instance discovery"},
	{ID: "id.devicecode", Method: "POST", Path: "/{tenant}/oauth2/v2.0/devicecode", Needs: []gdep{need("device_authorization_endpoint", "id.discovery")}},
	{ID: "id.token.device", Method: "POST", Path: "/{tenant}/oauth2/v2.0/token", Needs: []gdep{need("device_code", "id.devicecode")}, Wait: "approval",
		Note: "Microsoft Graph Command Line Tools: the administrator's Graph token in the partner tenant"},
	{ID: "s.org", Method: "GET", Path: graphV1 + "/organization", Needs: []gdep{setupToken}, Note: "sign-in: the partner tenant's name"},
	{ID: "s.me", Method: "GET", Path: graphV1 + "/me", Needs: []gdep{setupToken}, Note: "sign-in: who signed in"},
	{ID: "s.app.byname", Method: "GET", Path: graphV1 + "/applications", Needs: []gdep{setupToken},
		Note: "the app to validate: $filter appId eq (--client-id, saved config) or displayName eq 'ITDR Onboarding'"},
	{ID: "s.res.sp", Method: "GET", Path: graphV1 + "/servicePrincipals", Needs: []gdep{setupToken},
		Note: "the resources' service principals (permission ids) and the app's own"},
	{ID: "s.roles", Method: "GET", Path: graphV1 + "/me/transitiveMemberOf/microsoft.graph.directoryRole", Needs: []gdep{setupToken},
		Note: "the administrator's active roles (Global, Cloud Application or Application Administrator)"},
	{ID: "s.app.create", Method: "POST", Path: graphV1 + "/applications",
		Needs: []gdep{need("no app yet", "s.app.byname"), need("permission ids", "s.res.sp"), need("a role that may write", "s.roles")}},
	{ID: "s.sp.create", Method: "POST", Path: graphV1 + "/servicePrincipals", Needs: []gdep{need("appId", "s.app.create")}},
	{ID: "s.sp.read", Method: "GET", Path: graphV1 + "/servicePrincipals", Needs: []gdep{need("appId", "s.app.create")},
		Note: "the app's service principal id for the grants (and the read-back)"},
	{ID: "s.grant", Method: "POST", Path: graphV1 + "/oauth2PermissionGrants",
		Needs: []gdep{need("client service principal id", "s.sp.create", "s.sp.read"), need("resource service principal id", "s.res.sp")}},
	{ID: "s.verify.app", Method: "GET", Path: graphV1 + "/applications", Needs: []gdep{need("appId", "s.app.create")}, Note: "read-back"},
	{ID: "s.verify.grants", Method: "GET", Path: graphV1 + "/oauth2PermissionGrants", Needs: []gdep{need("granted", "s.grant"), need("client service principal id", "s.sp.create", "s.sp.read")},
		Note: "read-back of the consent"},
}

var setupToken = need("Graph access token", "id.token.device")
