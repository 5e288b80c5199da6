package partner

import (
	"fmt"
	"sort"
	"strings"

	"itdr-onboard/checks"
	"itdr-onboard/m365"
)

// `partner setup`: the onboarding app in the partner tenant — its manifest
// (multi-tenant, public client flows, the delegated permissions below) and
// its tenant-wide consent there. This file is pure: the executor reads the
// partner tenant into a SetupState, PlanSetup turns it into changes, and
// Validate lists every finding (docs/gdap.md "The onboarding app").

// PartnerCenterAppID is Partner Center's resource app id.
const PartnerCenterAppID = "fa3d9a0c-3fb0-42cc-9193-47c7ecd2edbd"

// The onboarding app's manifest.
const (
	AppDisplayName = "ITDR Onboarding"
	SignInAudience = "AzureADMultipleOrgs"
	RedirectURI    = "http://localhost"
)

// Where a permission is used.
const (
	InPartner  = "partner"  // the partner tenant (sign-in, discovery, Partner Center)
	InCustomer = "customer" // customer tenants (pushed by the consent bootstrap)
)

// Permission is one delegated permission the onboarding app declares.
type Permission struct {
	ResourceAppID string
	Resource      string
	Value         string
	Where         string
	Why           string
	Source        string
}

// AppPermissions is the derived minimum (docs/gdap.md): every permission
// is used by a call the wizard makes; nothing else is declared. The
// customer-side Graph ones are exactly GraphScopes (tested).
var AppPermissions = []Permission{
	{GraphAppID, "Microsoft Graph", "User.Read", InPartner,
		"sign-in; GET /me, /organization and /me/transitiveMemberOf (the technician's own groups) in the partner tenant",
		"learn.microsoft.com/graph/api/user-get, organization-get, user-list-transitivememberof"},
	{GraphAppID, "Microsoft Graph", "DelegatedAdminRelationship.Read.All", InPartner,
		"discovery: list GDAP relationships and their access assignments (read-only)",
		"learn.microsoft.com/graph/api/tenantrelationship-list-delegatedadminrelationships (least privileged delegated)"},
	{PartnerCenterAppID, "Partner Center", "user_impersonation", InPartner,
		"Partner Center customers and the applicationconsents bootstrap (App+User)",
		"learn.microsoft.com/powershell/partnercenter/exchange-online-gdap-app (prerequisites)"},
	{GraphAppID, "Microsoft Graph", "Application.ReadWrite.All", InCustomer,
		"create and read the platform's service principal (POST/GET /servicePrincipals, deleted items)",
		"learn.microsoft.com/graph/api/serviceprincipal-post-serviceprincipals"},
	{GraphAppID, "Microsoft Graph", "AppRoleAssignment.ReadWrite.All", InCustomer,
		"grant the platform's application permissions (POST /servicePrincipals/{id}/appRoleAssignedTo)",
		"learn.microsoft.com/graph/api/serviceprincipal-post-approleassignedto"},
	{GraphAppID, "Microsoft Graph", "DelegatedPermissionGrant.ReadWrite.All", InCustomer,
		"grant the platform's delegated permissions (POST /oauth2PermissionGrants)",
		"learn.microsoft.com/graph/api/oauth2permissiongrant-post"},
	{GraphAppID, "Microsoft Graph", "RoleManagement.ReadWrite.Directory", InCustomer,
		"assign directory roles to the platform's service principal (POST /roleManagement/directory/roleAssignments)",
		"learn.microsoft.com/graph/api/rbacapplication-post-roleassignments"},
	{GraphAppID, "Microsoft Graph", "Directory.Read.All", InCustomer,
		"organization, subscribedSkus, directory subscriptions, users (billable count)",
		"learn.microsoft.com/graph/api/subscribedsku-list, user-list"},
	{ExchangeAppID, "Office 365 Exchange Online", "Exchange.Manage", InCustomer,
		"Organization Management role-group fixes, Set-AdminAuditLogConfig (InvokeCommand with a delegated token)",
		"learn.microsoft.com/powershell/partnercenter/exchange-online-gdap-app (the sample's consent)"},
}

// Resources are the resource apps the onboarding app declares, in order.
func Resources() []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range AppPermissions {
		if !seen[p.ResourceAppID] {
			seen[p.ResourceAppID] = true
			out = append(out, p.ResourceAppID)
		}
	}
	return out
}

// ResourceName names a resource app.
func ResourceName(appID string) string {
	for _, p := range AppPermissions {
		if strings.EqualFold(p.ResourceAppID, appID) {
			return p.Resource
		}
	}
	return appID
}

// Wanted is the permission values declared for a resource, in order.
func Wanted(resourceAppID string) []string {
	var out []string
	for _, p := range AppPermissions {
		if strings.EqualFold(p.ResourceAppID, resourceAppID) {
			out = append(out, p.Value)
		}
	}
	return out
}

// Directory roles that may run `partner setup` (the consent grants only
// delegated permissions: "Cloud Application Administrator or Application
// Administrator … for any API, except Microsoft Graph app roles",
// learn.microsoft.com/entra/identity/enterprise-apps/grant-admin-consent).
var SetupRoles = map[string]string{
	"62e90394-69f5-4237-9190-012177145e10": "Global Administrator",
	"158c047a-c907-4556-b7ef-446551a6b5f7": "Cloud Application Administrator",
	"9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3": "Application Administrator",
}

// SetupState is what setup read in the partner tenant.
type SetupState struct {
	// WantAppID is the app to validate (--client-id or the saved config);
	// "" means find the wizard's app by name or create one.
	WantAppID string
	App       *m365.Application
	// SameName are the registrations named AppDisplayName (when no id).
	SameName []m365.Application
	// SP is the app's service principal in the partner tenant.
	SP *m365.ServicePrincipal
	// ResourceSPs are the resources' service principals (by lower app id).
	ResourceSPs map[string]*m365.ServicePrincipal
	Grants      []m365.OAuth2PermissionGrant
	Roles       []m365.DirectoryRole
}

// CanWrite reports whether the signed-in user holds a role that may make
// the changes, and names it.
func (st SetupState) CanWrite() (string, bool) {
	for _, r := range st.Roles {
		if n, ok := SetupRoles[strings.ToLower(r.RoleTemplateID)]; ok {
			return n, true
		}
	}
	return "", false
}

// SetupCheck is the CheckID of setup's changes (the record's probe).
const SetupCheck = "partner-setup"

// Change IDs of setup.
const (
	ChangeCreateApp   = "partner-setup/create-app"
	ChangeAudience    = "partner-setup/audience"
	ChangePublic      = "partner-setup/public-client"
	ChangePermissions = "partner-setup/permissions"
	ChangeSP          = "partner-setup/service-principal"
	ChangeGrantPrefix = "partner-setup/grant/"
)

// Finding is one line of the validation report.
type Finding struct {
	Item string `json:"item"`
	OK   bool   `json:"ok"`
	Have string `json:"have,omitempty"`
	Want string `json:"want,omitempty"`
}

// declared is the set of scope values the app declares per resource (ids
// resolved through the resource's service principal).
func (st SetupState) declared() map[string]map[string]bool {
	out := map[string]map[string]bool{}
	if st.App == nil {
		return out
	}
	for _, rra := range st.App.RequiredResourceAccess {
		res := strings.ToLower(rra.ResourceAppID)
		sp := st.ResourceSPs[res]
		for _, ra := range rra.ResourceAccess {
			name := ra.ID
			if sp != nil {
				for _, sc := range sp.OAuth2PermissionScopes {
					if strings.EqualFold(sc.ID, ra.ID) {
						name = sc.Value
					}
				}
			}
			if !strings.EqualFold(ra.Type, "Scope") {
				name += " (application permission)"
			}
			if out[res] == nil {
				out[res] = map[string]bool{}
			}
			out[res][name] = true
		}
	}
	return out
}

// MissingExtra compares the declared permissions with AppPermissions.
func (st SetupState) MissingExtra() (missing, extra []string) {
	have := st.declared()
	for _, p := range AppPermissions {
		if !have[strings.ToLower(p.ResourceAppID)][p.Value] {
			missing = append(missing, p.Resource+": "+p.Value)
		}
	}
	for res, set := range have {
		want := map[string]bool{}
		for _, v := range Wanted(res) {
			want[v] = true
		}
		for v := range set {
			if !want[v] {
				extra = append(extra, ResourceName(res)+": "+v)
			}
		}
	}
	sort.Strings(extra)
	return missing, extra
}

// grantFor is the tenant-wide grant of the app for a resource.
func (st SetupState) grantFor(resourceAppID string) *m365.OAuth2PermissionGrant {
	sp := st.ResourceSPs[strings.ToLower(resourceAppID)]
	if sp == nil {
		return nil
	}
	for i, g := range st.Grants {
		if strings.EqualFold(g.ResourceID, sp.ID) && strings.EqualFold(g.ConsentType, "AllPrincipals") {
			return &st.Grants[i]
		}
	}
	return nil
}

// GrantDiff compares a resource's tenant-wide grant with what is wanted.
func (st SetupState) GrantDiff(resourceAppID string) (g *m365.OAuth2PermissionGrant, missing, extra []string) {
	g = st.grantFor(resourceAppID)
	have := map[string]bool{}
	if g != nil {
		for _, s := range strings.Fields(g.Scope) {
			have[s] = true
		}
	}
	want := map[string]bool{}
	for _, v := range Wanted(resourceAppID) {
		want[v] = true
		if !have[v] {
			missing = append(missing, v)
		}
	}
	for v := range have {
		if !want[v] {
			extra = append(extra, v)
		}
	}
	sort.Strings(extra)
	return g, missing, extra
}

// Validate lists every finding about the app (audience, public client
// flows, redirect, each missing or extra permission, the service principal
// and the consent per resource).
func (st SetupState) Validate() []Finding {
	if st.App == nil {
		return []Finding{{Item: "app registration", Want: "registered in the partner tenant"}}
	}
	a := st.App
	f := []Finding{
		{Item: "sign-in audience", OK: a.SignInAudience == SignInAudience, Have: a.SignInAudience, Want: SignInAudience + " (multi-tenant)"},
		{Item: "public client flows (isFallbackPublicClient)", OK: a.PublicClientOn(), Have: fmt.Sprint(a.PublicClientOn()), Want: "true"},
		{Item: "public client redirect URIs", OK: hasRedirect(*a), Have: nameOr(strings.Join(a.PublicClient.RedirectURIs, " "), "(none)"), Want: RedirectURI},
	}
	missing, extra := st.MissingExtra()
	have := st.declared()
	for _, p := range AppPermissions {
		ok := have[strings.ToLower(p.ResourceAppID)][p.Value]
		f = append(f, Finding{Item: "permission " + p.Resource + ": " + p.Value, OK: ok, Want: "declared (" + p.Where + ")"})
	}
	_ = missing
	for _, e := range extra {
		f = append(f, Finding{Item: "permission " + e, OK: false, Have: "declared", Want: "not declared (least privilege)"})
	}
	f = append(f, Finding{Item: "service principal in the partner tenant", OK: st.SP != nil})
	for _, res := range Resources() {
		_, miss, ext := st.GrantDiff(res)
		fd := Finding{Item: "consent " + ResourceName(res), OK: st.SP != nil && len(miss) == 0 && len(ext) == 0, Want: strings.Join(Wanted(res), " ")}
		if g := st.grantFor(res); g != nil {
			fd.Have = g.Scope
		}
		f = append(f, fd)
	}
	return f
}

// Problems are the findings that are not OK, as sentences.
func Problems(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		if f.OK {
			continue
		}
		s := f.Item
		if f.Have != "" {
			s += ": is " + f.Have
		}
		if f.Want != "" {
			s += ", want " + f.Want
		}
		out = append(out, s)
	}
	return out
}

func hasRedirect(a m365.Application) bool {
	for _, u := range a.PublicClient.RedirectURIs {
		if strings.EqualFold(strings.TrimRight(u, "/"), RedirectURI) {
			return true
		}
	}
	return false
}

// ErrAppNotFound: the app to validate is not registered in the tenant.
type ErrAppNotFound struct{ AppID string }

func (e *ErrAppNotFound) Error() string {
	return fmt.Sprintf("no app registration with application id %s in the partner tenant", e.AppID)
}

// ErrAmbiguous: several registrations carry the wizard's app name.
type ErrAmbiguous struct{ AppIDs []string }

func (e *ErrAmbiguous) Error() string {
	return fmt.Sprintf("%d app registrations are named %q (%s)", len(e.AppIDs), AppDisplayName, strings.Join(e.AppIDs, ", "))
}

// PlanSetup is what setup changes, in order: the registration (create, or
// audience / public client / permissions), its service principal, then one
// tenant-wide grant per resource. appID is "" only when the app is to be
// created.
func PlanSetup(st SetupState) (plan []checks.Change, err error) {
	add := func(id, summary, call string, args map[string]string) {
		plan = append(plan, checks.Change{ID: id, CheckID: SetupCheck, Order: len(plan) + 1, Summary: summary, Call: call, Args: args})
	}
	if st.App == nil {
		if st.WantAppID != "" {
			return nil, &ErrAppNotFound{AppID: st.WantAppID}
		}
		if len(st.SameName) > 1 {
			var ids []string
			for _, a := range st.SameName {
				ids = append(ids, a.AppID)
			}
			return nil, &ErrAmbiguous{AppIDs: ids}
		}
		var perms []string
		for _, p := range AppPermissions {
			perms = append(perms, p.Resource+": "+p.Value)
		}
		add(ChangeCreateApp, fmt.Sprintf("Register the app %q: multi-tenant (%s), public client flows on, redirect %s, delegated permissions %s",
			AppDisplayName, SignInAudience, RedirectURI, strings.Join(perms, ", ")), "POST /applications", nil)
		add(ChangeSP, "Create the app's service principal in the partner tenant", "POST /servicePrincipals", nil)
		for _, res := range Resources() {
			add(ChangeGrantPrefix+res, fmt.Sprintf("Consent %s for every user of the partner tenant: %s", ResourceName(res), strings.Join(Wanted(res), " ")),
				"POST /oauth2PermissionGrants", map[string]string{"resource": res})
		}
		return plan, nil
	}
	a := st.App
	if a.SignInAudience != SignInAudience {
		add(ChangeAudience, fmt.Sprintf("Make the app multi-tenant: signInAudience %s → %s", nameOr(a.SignInAudience, "(none)"), SignInAudience),
			"PATCH /applications/"+a.ID, map[string]string{"object_id": a.ID})
	}
	if !a.PublicClientOn() || !hasRedirect(*a) {
		add(ChangePublic, fmt.Sprintf("Turn public client flows on (isFallbackPublicClient true) with the redirect %s (device code and browser sign-in)", RedirectURI),
			"PATCH /applications/"+a.ID, map[string]string{"object_id": a.ID})
	}
	if missing, extra := st.MissingExtra(); len(missing)+len(extra) > 0 {
		var parts []string
		if len(missing) > 0 {
			parts = append(parts, "add "+strings.Join(missing, ", "))
		}
		if len(extra) > 0 {
			parts = append(parts, "remove "+strings.Join(extra, ", ")+" (not used by the wizard)")
		}
		add(ChangePermissions, "Set the app's delegated permissions: "+strings.Join(parts, "; "),
			"PATCH /applications/"+a.ID, map[string]string{"object_id": a.ID})
	}
	if st.SP == nil {
		add(ChangeSP, "Create the app's service principal in the partner tenant", "POST /servicePrincipals", nil)
	}
	for _, res := range Resources() {
		g, missing, extra := st.GrantDiff(res)
		if st.SP != nil && len(missing) == 0 && len(extra) == 0 {
			continue
		}
		args := map[string]string{"resource": res}
		call := "POST /oauth2PermissionGrants"
		summary := fmt.Sprintf("Consent %s for every user of the partner tenant: %s", ResourceName(res), strings.Join(Wanted(res), " "))
		if g != nil && st.SP != nil {
			args["grant_id"] = g.ID
			call = "PATCH /oauth2PermissionGrants/" + g.ID
			var parts []string
			if len(missing) > 0 {
				parts = append(parts, "add "+strings.Join(missing, " "))
			}
			if len(extra) > 0 {
				parts = append(parts, "remove "+strings.Join(extra, " "))
			}
			summary = fmt.Sprintf("Update the consent for %s: %s", ResourceName(res), strings.Join(parts, "; "))
		}
		add(ChangeGrantPrefix+res, summary, call, args)
	}
	return plan, nil
}

// Manifest is the app registration setup creates (or patches towards),
// with the permission ids read from the resources' service principals.
func Manifest(resourceSPs map[string]*m365.ServicePrincipal) (m365.Application, error) {
	on := true
	app := m365.Application{DisplayName: AppDisplayName, SignInAudience: SignInAudience, IsFallbackPublicClient: &on,
		PublicClient: m365.PublicClientApplication{RedirectURIs: []string{RedirectURI}}}
	rra, err := RequiredAccess(resourceSPs)
	app.RequiredResourceAccess = rra
	return app, err
}

// RequiredAccess is requiredResourceAccess for AppPermissions; every value
// must be a delegated permission (oauth2PermissionScopes) of its resource.
func RequiredAccess(resourceSPs map[string]*m365.ServicePrincipal) ([]m365.RequiredResourceAccess, error) {
	var out []m365.RequiredResourceAccess
	for _, res := range Resources() {
		sp := resourceSPs[strings.ToLower(res)]
		if sp == nil {
			return nil, fmt.Errorf("%s (%s) has no service principal in the partner tenant", ResourceName(res), res)
		}
		r := m365.RequiredResourceAccess{ResourceAppID: res}
		for _, v := range Wanted(res) {
			id := ""
			for _, sc := range sp.OAuth2PermissionScopes {
				if sc.Value == v {
					id = sc.ID
				}
			}
			if id == "" {
				return nil, fmt.Errorf("%s offers no delegated permission %s", ResourceName(res), v)
			}
			r.ResourceAccess = append(r.ResourceAccess, m365.ResourceAccess{ID: id, Type: "Scope"})
		}
		out = append(out, r)
	}
	return out, nil
}

func nameOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
