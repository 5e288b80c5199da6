package partner

import (
	"slices"
	"strings"
	"testing"

	"itdr-onboard/m365"
)

// The app declares exactly what the code asks for: the customer-side
// Graph permissions are the consent bootstrap's GraphScopes, the Exchange
// one its Exchange grant, and the partner side is sign-in, discovery and
// Partner Center.
func TestAppPermissionsAreWhatTheCodeRequests(t *testing.T) {
	var customerGraph, exchange, partnerSide []string
	for _, p := range AppPermissions {
		switch {
		case p.Where == InCustomer && p.ResourceAppID == GraphAppID:
			customerGraph = append(customerGraph, p.Value)
		case p.Where == InCustomer && p.ResourceAppID == ExchangeAppID:
			exchange = append(exchange, p.Value)
		case p.Where == InPartner:
			partnerSide = append(partnerSide, p.Resource+": "+p.Value)
		}
		if p.Why == "" || p.Source == "" {
			t.Errorf("%s %s: no why or source", p.Resource, p.Value)
		}
	}
	if !slices.Equal(customerGraph, GraphScopes) {
		t.Errorf("customer Graph permissions %v, the bootstrap pushes %v", customerGraph, GraphScopes)
	}
	var pushed []string
	for _, g := range DefaultGrants() {
		if g.EnterpriseApplicationID == ExchangeAppID {
			pushed = strings.Split(g.Scope, ",")
		}
	}
	if !slices.Equal(exchange, pushed) {
		t.Errorf("Exchange %v, the bootstrap pushes %v", exchange, pushed)
	}
	want := []string{"Microsoft Graph: User.Read", "Microsoft Graph: DelegatedAdminRelationship.Read.All", "Partner Center: user_impersonation"}
	if !slices.Equal(partnerSide, want) {
		t.Errorf("partner side %v, want %v", partnerSide, want)
	}
}

func setupResources() map[string]*m365.ServicePrincipal {
	sps := map[string]*m365.ServicePrincipal{}
	for i, res := range Resources() {
		sp := &m365.ServicePrincipal{ID: "res-" + string(rune('a'+i)), AppID: res}
		for j, v := range Wanted(res) {
			sp.OAuth2PermissionScopes = append(sp.OAuth2PermissionScopes, m365.PermissionScope{ID: res[:8] + "-" + string(rune('a'+j)), Value: v})
		}
		sp.OAuth2PermissionScopes = append(sp.OAuth2PermissionScopes, m365.PermissionScope{ID: res[:8] + "-extra", Value: "Mail.Read"})
		sps[strings.ToLower(res)] = sp
	}
	return sps
}

func TestPlanSetupFromNothingThenComplete(t *testing.T) {
	rs := setupResources()
	st := SetupState{ResourceSPs: rs}
	plan, err := PlanSetup(st)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range plan {
		ids = append(ids, c.ID)
	}
	want := []string{ChangeCreateApp, ChangeSP, ChangeGrantPrefix + GraphAppID, ChangeGrantPrefix + PartnerCenterAppID, ChangeGrantPrefix + ExchangeAppID}
	if !slices.Equal(ids, want) {
		t.Fatalf("plan %v, want %v", ids, want)
	}
	// The manifest PlanSetup's first change creates, with its SP and
	// grants, plans nothing and validates clean.
	app, err := Manifest(rs)
	if err != nil {
		t.Fatal(err)
	}
	app.ID, app.AppID = "obj", "app"
	st = SetupState{WantAppID: "app", App: &app, SP: &m365.ServicePrincipal{ID: "client"}, ResourceSPs: rs}
	for _, res := range Resources() {
		st.Grants = append(st.Grants, m365.OAuth2PermissionGrant{ID: "g-" + res, ClientID: "client", ConsentType: "AllPrincipals",
			ResourceID: rs[strings.ToLower(res)].ID, Scope: strings.Join(Wanted(res), " ")})
	}
	if plan, err := PlanSetup(st); err != nil || len(plan) != 0 {
		t.Fatalf("complete app: plan %v, %v", plan, err)
	}
	if probs := Problems(st.Validate()); len(probs) != 0 {
		t.Fatalf("complete app: %v", probs)
	}
	// A missing permission, an extra one, a grant short of a scope.
	app.RequiredResourceAccess[0].ResourceAccess = append(app.RequiredResourceAccess[0].ResourceAccess[1:], m365.ResourceAccess{ID: GraphAppID[:8] + "-extra", Type: "Scope"})
	st.Grants[2].Scope = ""
	plan, err = PlanSetup(st)
	if err != nil || len(plan) != 2 || plan[0].ID != ChangePermissions || plan[1].ID != ChangeGrantPrefix+ExchangeAppID {
		t.Fatalf("plan %+v, %v", plan, err)
	}
	if s := plan[0].Summary; !strings.Contains(s, "add Microsoft Graph: User.Read") || !strings.Contains(s, "remove Microsoft Graph: Mail.Read") {
		t.Fatalf("summary: %s", s)
	}
	if plan[1].Args["grant_id"] != "g-"+ExchangeAppID || !strings.HasPrefix(plan[1].Call, "PATCH ") {
		t.Fatalf("grant change: %+v", plan[1])
	}
	// An id that is not registered is an error, never a creation.
	if _, err := PlanSetup(SetupState{WantAppID: "nope", ResourceSPs: rs}); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("unknown id: %v", err)
	}
	if _, ok := (SetupState{Roles: []m365.DirectoryRole{{RoleTemplateID: "158C047A-C907-4556-B7EF-446551A6B5F7"}}}).CanWrite(); !ok {
		t.Fatal("Cloud Application Administrator may write")
	}
	if _, ok := (SetupState{Roles: []m365.DirectoryRole{{RoleTemplateID: "e8611ab8-c189-46e8-94e1-60213ab1f814"}}}).CanWrite(); ok {
		t.Fatal("Privileged Role Administrator alone may not create the app")
	}
}
