package sim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// The partner tenant's app registrations, service principals and delegated
// permission grants (`partner setup`), after Microsoft Graph v1.0:
//   - application resource, POST /applications (201 + Location), PATCH
//     /applications/{id} (204), GET /applications?$filter=appId eq '…' or
//     displayName eq '…' (learn.microsoft.com/graph/api/resources/application,
//     application-post-applications, application-update, application-list);
//   - POST /servicePrincipals {appId} (201; 409 Request_MultipleObjectsWithSameKeyValue
//     for a second one; 400 "The appId '…' of the service principal does not
//     reference a valid application object." while a new app has not
//     replicated — reported by SDK users right after creating an app,
//     microsoftgraph/msgraph-sdk-dotnet#3108; bounded by AppReplication);
//   - oauth2PermissionGrant: GET ?$filter=clientId eq '…', POST (201; 409
//     "Permission entry already exists." like the tenant simulator), PATCH
//     {scope} (204) (oauth2permissiongrant-post, oauth2permissiongrant-update);
//   - /me/transitiveMemberOf/microsoft.graph.directoryRole for the caller's
//     active roles; writes need Global Administrator, Cloud Application
//     Administrator or Application Administrator, else 403
//     Authorization_RequestDenied (grant-admin-consent prerequisites).
// The identity side uses them: a client id that is neither Microsoft Graph
// Command Line Tools nor registered here gets AADSTS700016, a registration
// without public client flows AADSTS7000218, a single-tenant one 700016 at a
// customer authority, and a token for a resource the partner tenant has not
// consented AADSTS65001.

// Microsoft Graph Command Line Tools: the first-party client `partner setup`
// signs in with (preauthorized; no registration in the partner tenant).
const simGraphCLIClientID = "14d82eec-204b-4c2f-b7e8-296a70dab67e"

type ptScope struct{ id, value string }

type ptSP struct {
	id, appID, name string
	scopes          []ptScope
}

type ptApp struct {
	id, appID, name, audience string
	public                    *bool
	redirects                 []string
	required                  []ptRRA
	created                   time.Time
}

type ptRRA struct {
	ResourceAppID  string `json:"resourceAppId"`
	ResourceAccess []struct {
		ID   string `json:"id"`
		Type string `json:"type"`
	} `json:"resourceAccess"`
}

type ptGrant struct {
	id, clientID, resourceID, consentType, principalID, scope string
}

// Partner-tenant resource service principals with their delegated scopes
// (ids: Microsoft Graph permissions reference; Exchange.Manage and Partner
// Center user_impersonation as in Microsoft's and CIPP's manifests, gdap.md §1.5).
func ptResourceSPs(seed int64) []*ptSP {
	return []*ptSP{
		{id: simSeedGUID(seed, "sp/graph", 0), appID: simGraphAppID, name: "Microsoft Graph", scopes: []ptScope{
			{"e1fe6dd8-ba31-4d61-89e7-88639da4683d", "User.Read"},
			{"0c0064ea-477b-4130-82a5-4c2cc4ff68aa", "DelegatedAdminRelationship.Read.All"},
			{"bdfbf15f-ee85-4955-8675-146e8e5296b5", "Application.ReadWrite.All"},
			{"84bccea3-f856-4a8a-967b-dbe0a3d53a64", "AppRoleAssignment.ReadWrite.All"},
			{"41ce6ca6-6826-4807-84f1-1c82854f7ee5", "DelegatedPermissionGrant.ReadWrite.All"},
			{"d01b97e9-cbc0-49fe-810a-750afd5527a3", "RoleManagement.ReadWrite.Directory"},
			{"06da0dbc-49e2-44d2-8312-53f166ab848a", "Directory.Read.All"},
			{"570282fd-fa5c-430d-a7fd-fc8dc98a9dca", "Mail.Read"},
		}},
		{id: simSeedGUID(seed, "sp/exchange", 0), appID: simExchangeAppID, name: "Office 365 Exchange Online", scopes: []ptScope{
			{"ab4f2b77-0b06-4fc1-a9de-02113fc2ab7c", "Exchange.Manage"},
		}},
		{id: simSeedGUID(seed, "sp/partnercenter", 0), appID: simPartnerCenterAppID, name: "Microsoft Partner Center", scopes: []ptScope{
			{"1cebfa2a-fb4d-419e-b5f9-839b4383e05a", "user_impersonation"},
		}},
	}
}

// ptWanted is the onboarding app a "ready" scenario starts with.
var ptWanted = map[string][]string{
	simGraphAppID:         {"User.Read", "DelegatedAdminRelationship.Read.All", "Application.ReadWrite.All", "AppRoleAssignment.ReadWrite.All", "DelegatedPermissionGrant.ReadWrite.All", "RoleManagement.ReadWrite.Directory", "Directory.Read.All"},
	simPartnerCenterAppID: {"user_impersonation"},
	simExchangeAppID:      {"Exchange.Manage"},
}

// buildApps seeds the partner tenant's registrations from the scenario.
func (s *PartnerServer) buildApps() {
	s.sps = ptResourceSPs(s.sc.Seed)
	mode := s.sc.Partner.App
	if mode == PartnerAppAbsent {
		return
	}
	pub := mode != PartnerAppHandMade
	app := &ptApp{id: simSeedGUID(s.sc.Seed, "app-object", 0), appID: strings.ToLower(s.sc.Partner.AppID), name: "ITDR Onboarding",
		audience: "AzureADMultipleOrgs", public: &pub, created: s.start.Add(-24 * time.Hour)}
	if mode != PartnerAppHandMade {
		app.redirects = []string{"http://localhost"}
	} else {
		app.audience = "AzureADMyOrg" // the portal's default: single tenant
	}
	for _, res := range []string{simGraphAppID, simPartnerCenterAppID, simExchangeAppID} {
		want := ptWanted[res]
		if mode == PartnerAppHandMade {
			switch res {
			case simExchangeAppID:
				continue // forgot Exchange.Manage
			case simGraphAppID:
				want = append(append([]string{}, want...), "Mail.Read") // and added one the wizard never uses
			}
		}
		rra := ptRRA{ResourceAppID: res}
		for _, v := range want {
			rra.ResourceAccess = append(rra.ResourceAccess, struct {
				ID   string `json:"id"`
				Type string `json:"type"`
			}{s.scopeID(res, v), "Scope"})
		}
		app.required = append(app.required, rra)
	}
	s.apps = append(s.apps, app)
	sp := &ptSP{id: simSeedGUID(s.sc.Seed, "sp/app", 0), appID: app.appID, name: app.name}
	s.sps = append(s.sps, sp)
	if mode == PartnerAppHandMade {
		return // registered by hand, never consented
	}
	for _, res := range []string{simGraphAppID, simPartnerCenterAppID, simExchangeAppID} {
		s.grants = append(s.grants, &ptGrant{id: simSeedGUID(s.sc.Seed, "grant/"+res, 0), clientID: sp.id, resourceID: s.spByAppID(res).id,
			consentType: "AllPrincipals", scope: strings.Join(ptWanted[res], " ")})
	}
}

func (s *PartnerServer) scopeID(resAppID, value string) string {
	if sp := s.spByAppID(resAppID); sp != nil {
		for _, sc := range sp.scopes {
			if sc.value == value {
				return sc.id
			}
		}
	}
	return ""
}

// callers hold s.mu (or run before serving).
func (s *PartnerServer) spByAppID(appID string) *ptSP {
	for _, sp := range s.sps {
		if strings.EqualFold(sp.appID, appID) {
			return sp
		}
	}
	return nil
}

func (s *PartnerServer) spByID(id string) *ptSP {
	for _, sp := range s.sps {
		if strings.EqualFold(sp.id, id) {
			return sp
		}
	}
	return nil
}

func (s *PartnerServer) appByAppID(appID string) *ptApp {
	for _, a := range s.apps {
		if strings.EqualFold(a.appID, appID) {
			return a
		}
	}
	return nil
}

// SetWriteHook calls fn after every write the partner tenant applied
// (before its answer is sent) — tests use it to interrupt a run mid-write.
func (s *PartnerServer) SetWriteHook(fn func(method, path string)) {
	s.mu.Lock()
	s.writeHook = fn
	s.mu.Unlock()
}

func (s *PartnerServer) wrote(r *http.Request) {
	s.mu.Lock()
	fn := s.writeHook
	s.mu.Unlock()
	if fn != nil {
		fn(r.Method, r.URL.Path)
	}
}

// PartnerApp is a registration as the tests see it.
type PartnerApp struct {
	ObjectID, AppID, Audience string
	Public                    bool
	Redirects                 []string
	// Scopes are the declared delegated permissions per resource app id.
	Scopes map[string][]string
	// Consented are the AllPrincipals grants' scopes per resource app id
	// (nil when the app has no service principal).
	Consented map[string]string
}

// PartnerApps lists the partner tenant's registrations.
func (s *PartnerServer) PartnerApps() []PartnerApp {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []PartnerApp
	for _, a := range s.apps {
		pa := PartnerApp{ObjectID: a.id, AppID: a.appID, Audience: a.audience, Public: a.public != nil && *a.public,
			Redirects: append([]string{}, a.redirects...), Scopes: map[string][]string{}}
		for _, rra := range a.required {
			res := strings.ToLower(rra.ResourceAppID)
			for _, ra := range rra.ResourceAccess {
				v := ra.ID
				if sp := s.spByAppID(res); sp != nil {
					for _, sc := range sp.scopes {
						if strings.EqualFold(sc.id, ra.ID) {
							v = sc.value
						}
					}
				}
				pa.Scopes[res] = append(pa.Scopes[res], v)
			}
		}
		if sp := s.spByAppID(a.appID); sp != nil {
			pa.Consented = map[string]string{}
			for _, g := range s.grants {
				if g.clientID == sp.id && g.consentType == "AllPrincipals" {
					if res := s.spByID(g.resourceID); res != nil {
						pa.Consented[res.appID] = g.scope
					}
				}
			}
		}
		out = append(out, pa)
	}
	return out
}

// ---- Graph -------------------------------------------------------------------

var (
	ptAppIDFilterRe  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?i)^\s*appId\s+eq\s+'([^']*)'\s*$`) })
	ptNameFilterRe   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?i)^\s*displayName\s+eq\s+'((?:[^']|'')*)'\s*$`) })
	ptClientFilterRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?i)^\s*clientId\s+eq\s+'([^']*)'\s*$`) })
)

// serveDirectory serves the registration endpoints of the partner tenant;
// ok is false when the path is not one of them.
func (s *PartnerServer) serveDirectory(w http.ResponseWriter, r *http.Request, p Principal, u PartnerUserSpec, path string) bool {
	seg := strings.Split(strings.Trim(path, "/"), "/") // v1.0, collection, id
	if len(seg) < 2 || len(seg) > 3 {
		return false
	}
	coll := seg[1]
	switch coll {
	case "applications", "serviceprincipals", "oauth2permissiongrants":
	default:
		return false
	}
	id := ""
	if len(seg) == 3 {
		id = seg[2]
	}
	write := r.Method != http.MethodGet
	// The token must carry the delegated permission (Graph permission
	// tables of application-post-applications, serviceprincipal-post-
	// serviceprincipals, oauth2permissiongrant-post), and the user a role.
	need := "Application.ReadWrite.All"
	if coll == "oauth2permissiongrants" {
		need = "DelegatedPermissionGrant.ReadWrite.All"
	}
	if write && !ptHasScope(p.Scopes, need) {
		ptGraphErr(w, http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
		return true
	}
	if write && !s.canManageApps(u) {
		ptGraphErr(w, http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
		return true
	}
	var body map[string]json.RawMessage
	if r.Method == http.MethodPost || r.Method == http.MethodPatch {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err := json.Unmarshal(b, &body); err != nil {
			ptGraphErr(w, http.StatusBadRequest, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.")
			return true
		}
	}
	s.mu.Lock()
	status, out, errCode, errMsg, loc := s.directoryLocked(r, coll, id, body)
	s.mu.Unlock()
	if errCode != "" {
		ptGraphErr(w, status, errCode, errMsg)
		return true
	}
	if write {
		s.wrote(r)
	}
	if loc != "" {
		w.Header().Set("Location", "https://graph.microsoft.com/v1.0/"+loc)
	}
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return true
	}
	simWriteJSON(w, status, out)
	return true
}

func ptHasScope(scp, want string) bool {
	for _, f := range strings.Fields(scp) {
		if strings.EqualFold(f, want) {
			return true
		}
	}
	return false
}

func (s *PartnerServer) canManageApps(u PartnerUserSpec) bool {
	for _, role := range u.DirectoryRoles {
		id, _ := simRoleID(role)
		switch id {
		case RoleGlobalAdmin, RoleCloudAppAdmin, RoleAppAdmin:
			return true
		}
	}
	return false
}

const ptNotExist = "Resource '%s' does not exist or one of its queried reference-property objects are not present."

// directoryLocked does one registration request (s.mu held).
func (s *PartnerServer) directoryLocked(r *http.Request, coll, id string, body map[string]json.RawMessage) (status int, out any, code, msg, loc string) {
	ctx := "https://graph.microsoft.com/v1.0/$metadata#" + map[string]string{"applications": "applications", "serviceprincipals": "servicePrincipals", "oauth2permissiongrants": "oauth2PermissionGrants"}[coll]
	list := func(v []map[string]any) (int, any, string, string, string) {
		if v == nil {
			v = []map[string]any{}
		}
		return http.StatusOK, map[string]any{"@odata.context": ctx, "value": v}, "", "", ""
	}
	filter := r.URL.Query().Get("$filter")
	switch {
	case coll == "applications" && r.Method == http.MethodGet && id == "":
		var v []map[string]any
		for _, a := range s.apps {
			if m := ptAppIDFilterRe().FindStringSubmatch(filter); m != nil && !strings.EqualFold(a.appID, m[1]) {
				continue
			}
			if m := ptNameFilterRe().FindStringSubmatch(filter); m != nil && a.name != strings.ReplaceAll(m[1], "''", "'") {
				continue
			}
			v = append(v, s.appJSON(a))
		}
		if filter != "" && ptAppIDFilterRe().FindStringSubmatch(filter) == nil && ptNameFilterRe().FindStringSubmatch(filter) == nil {
			return http.StatusBadRequest, nil, "Request_UnsupportedQuery", "Unsupported or invalid query filter clause specified for property of resource 'Application'.", ""
		}
		return list(v)
	case coll == "applications" && r.Method == http.MethodGet:
		for _, a := range s.apps {
			if strings.EqualFold(a.id, id) {
				return http.StatusOK, s.appJSON(a), "", "", ""
			}
		}
		return http.StatusNotFound, nil, "Request_ResourceNotFound", fmt.Sprintf(ptNotExist, id), ""
	case coll == "applications" && r.Method == http.MethodPost && id == "":
		a := &ptApp{id: simNewGUID(), appID: simNewGUID(), audience: "AzureADMyOrg", created: s.now()}
		if err := s.patchApp(a, body); err != "" {
			return http.StatusBadRequest, nil, "Request_BadRequest", err, ""
		}
		if a.name == "" {
			return http.StatusBadRequest, nil, "Request_BadRequest", "Property 'displayName' is required.", ""
		}
		s.apps = append(s.apps, a)
		return http.StatusCreated, s.appJSON(a), "", "", "applications/" + a.id
	case coll == "applications" && r.Method == http.MethodPatch && id != "":
		for _, a := range s.apps {
			if strings.EqualFold(a.id, id) {
				cp := *a
				if err := s.patchApp(&cp, body); err != "" {
					return http.StatusBadRequest, nil, "Request_BadRequest", err, ""
				}
				*a = cp
				return http.StatusNoContent, nil, "", "", ""
			}
		}
		return http.StatusNotFound, nil, "Request_ResourceNotFound", fmt.Sprintf(ptNotExist, id), ""
	case coll == "serviceprincipals" && r.Method == http.MethodGet && id == "":
		m := ptAppIDFilterRe().FindStringSubmatch(filter)
		if filter != "" && m == nil {
			return http.StatusBadRequest, nil, "Request_UnsupportedQuery", "Unsupported or invalid query filter clause specified for property of resource 'ServicePrincipal'.", ""
		}
		var v []map[string]any
		for _, sp := range s.sps {
			if m != nil && !strings.EqualFold(sp.appID, m[1]) {
				continue
			}
			v = append(v, s.spJSON(sp))
		}
		return list(v)
	case coll == "serviceprincipals" && r.Method == http.MethodPost && id == "":
		var appID string
		_ = json.Unmarshal(body["appId"], &appID)
		if s.spByAppID(appID) != nil {
			return http.StatusConflict, nil, "Request_MultipleObjectsWithSameKeyValue", "Another object with the same value for property servicePrincipalNames already exists.", ""
		}
		a := s.appByAppID(appID)
		if a == nil || s.now().Before(a.created.Add(s.sc.AppReplication.D())) {
			return http.StatusBadRequest, nil, "Request_BadRequest", "The appId '" + simClip(appID, 60) + "' of the service principal does not reference a valid application object.", ""
		}
		sp := &ptSP{id: simNewGUID(), appID: a.appID, name: a.name}
		s.sps = append(s.sps, sp)
		return http.StatusCreated, s.spJSON(sp), "", "", "servicePrincipals/" + sp.id
	case coll == "oauth2permissiongrants" && r.Method == http.MethodGet && id == "":
		m := ptClientFilterRe().FindStringSubmatch(filter)
		if filter != "" && m == nil {
			return http.StatusBadRequest, nil, "Request_UnsupportedQuery", "Unsupported or invalid query filter clause specified for property of resource 'OAuth2PermissionGrant'.", ""
		}
		var v []map[string]any
		for _, g := range s.grants {
			if m != nil && !strings.EqualFold(g.clientID, m[1]) {
				continue
			}
			v = append(v, ptGrantJSON(g))
		}
		return list(v)
	case coll == "oauth2permissiongrants" && r.Method == http.MethodPost && id == "":
		var g ptGrant
		for k, dst := range map[string]*string{"clientId": &g.clientID, "resourceId": &g.resourceID, "consentType": &g.consentType, "principalId": &g.principalID, "scope": &g.scope} {
			_ = json.Unmarshal(body[k], dst)
		}
		if s.spByID(g.clientID) == nil {
			return http.StatusNotFound, nil, "Request_ResourceNotFound", fmt.Sprintf(ptNotExist, g.clientID), ""
		}
		res := s.spByID(g.resourceID)
		if res == nil {
			return http.StatusNotFound, nil, "Request_ResourceNotFound", fmt.Sprintf(ptNotExist, g.resourceID), ""
		}
		if g.consentType != "AllPrincipals" && g.consentType != "Principal" {
			return http.StatusBadRequest, nil, "Request_BadRequest", "Invalid value specified for property 'consentType' of resource 'OAuth2PermissionGrant'.", ""
		}
		if bad := ptUnknownScopes(res, g.scope); bad != "" {
			return http.StatusBadRequest, nil, "Request_BadRequest", "Invalid value specified for property 'scope' of resource 'OAuth2PermissionGrant': " + bad, ""
		}
		for _, o := range s.grants {
			if o.clientID == g.clientID && o.resourceID == g.resourceID && o.consentType == g.consentType && o.principalID == g.principalID {
				return http.StatusConflict, nil, "Request_MultipleObjectsWithSameKeyValue", "Permission entry already exists.", ""
			}
		}
		g.id = simNewGUID()
		s.grants = append(s.grants, &g)
		return http.StatusCreated, ptGrantJSON(&g), "", "", "oauth2PermissionGrants/" + g.id
	case coll == "oauth2permissiongrants" && r.Method == http.MethodPatch && id != "":
		for _, g := range s.grants {
			if strings.EqualFold(g.id, id) {
				var scope string
				if err := json.Unmarshal(body["scope"], &scope); err != nil {
					return http.StatusBadRequest, nil, "Request_BadRequest", "Property 'scope' is required.", ""
				}
				if bad := ptUnknownScopes(s.spByID(g.resourceID), scope); bad != "" {
					return http.StatusBadRequest, nil, "Request_BadRequest", "Invalid value specified for property 'scope' of resource 'OAuth2PermissionGrant': " + bad, ""
				}
				g.scope = scope
				return http.StatusNoContent, nil, "", "", ""
			}
		}
		return http.StatusNotFound, nil, "Request_ResourceNotFound", fmt.Sprintf(ptNotExist, id), ""
	}
	return http.StatusMethodNotAllowed, nil, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.", ""
}

func ptUnknownScopes(res *ptSP, scope string) string {
	if res == nil {
		return ""
	}
	for _, v := range strings.Fields(scope) {
		ok := false
		for _, sc := range res.scopes {
			ok = ok || sc.value == v
		}
		if !ok {
			return v
		}
	}
	return ""
}

// patchApp applies the writable properties of an application body.
func (s *PartnerServer) patchApp(a *ptApp, body map[string]json.RawMessage) string {
	for k, raw := range body {
		switch k {
		case "displayName":
			if err := json.Unmarshal(raw, &a.name); err != nil {
				return "Invalid value specified for property 'displayName' of resource 'Application'."
			}
		case "signInAudience":
			var v string
			_ = json.Unmarshal(raw, &v)
			switch v {
			case "AzureADMyOrg", "AzureADMultipleOrgs", "AzureADandPersonalMicrosoftAccount", "PersonalMicrosoftAccount":
				a.audience = v
			default:
				return "Invalid value specified for property 'signInAudience' of resource 'Application'."
			}
		case "isFallbackPublicClient":
			var v *bool
			if err := json.Unmarshal(raw, &v); err != nil {
				return "Invalid value specified for property 'isFallbackPublicClient' of resource 'Application'."
			}
			a.public = v
		case "publicClient":
			var v struct {
				RedirectURIs []string `json:"redirectUris"`
			}
			if err := json.Unmarshal(raw, &v); err != nil {
				return "Invalid value specified for property 'publicClient' of resource 'Application'."
			}
			a.redirects = v.RedirectURIs
		case "requiredResourceAccess":
			var v []ptRRA
			if err := json.Unmarshal(raw, &v); err != nil {
				return "Invalid value specified for property 'requiredResourceAccess' of resource 'Application'."
			}
			a.required = v
		default:
			// Other properties are accepted and not modelled.
		}
	}
	return ""
}

func (s *PartnerServer) appJSON(a *ptApp) map[string]any {
	req := a.required
	if req == nil {
		req = []ptRRA{}
	}
	redirects := a.redirects
	if redirects == nil {
		redirects = []string{}
	}
	return map[string]any{
		"id": a.id, "appId": a.appID, "displayName": a.name, "signInAudience": a.audience,
		"isFallbackPublicClient": a.public, "publicClient": map[string]any{"redirectUris": redirects},
		"requiredResourceAccess": req, "createdDateTime": ptTime(a.created),
	}
}

func (s *PartnerServer) spJSON(sp *ptSP) map[string]any {
	scopes := []map[string]any{}
	for _, sc := range sp.scopes {
		scopes = append(scopes, map[string]any{"id": sc.id, "value": sc.value, "type": "Admin", "isEnabled": true})
	}
	return map[string]any{"id": sp.id, "appId": sp.appID, "displayName": sp.name, "appRoles": []any{}, "oauth2PermissionScopes": scopes,
		"servicePrincipalType": "Application"}
}

func ptGrantJSON(g *ptGrant) map[string]any {
	var principal any
	if g.principalID != "" {
		principal = g.principalID
	}
	return map[string]any{"id": g.id, "clientId": g.clientID, "consentType": g.consentType, "principalId": principal, "resourceId": g.resourceID, "scope": g.scope}
}

// directoryRoles serves /me/transitiveMemberOf/microsoft.graph.directoryRole.
func (s *PartnerServer) directoryRoles(w http.ResponseWriter, u PartnerUserSpec) {
	out := []map[string]any{}
	for _, role := range u.DirectoryRoles {
		id, err := simRoleID(role)
		if err != nil {
			continue
		}
		name := role
		for n, rid := range simGDAPRoleNames {
			if rid == id {
				name = simTitle(n)
			}
		}
		out = append(out, map[string]any{"@odata.type": "#microsoft.graph.directoryRole", "id": simSeedGUID(s.sc.Seed, "dirrole/"+id, 0), "displayName": name, "roleTemplateId": id})
	}
	sort.Slice(out, func(i, j int) bool { return out[i]["roleTemplateId"].(string) < out[j]["roleTemplateId"].(string) })
	simWriteJSON(w, http.StatusOK, map[string]any{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#directoryRoles", "value": out})
}

func simTitle(s string) string {
	f := strings.Fields(s)
	for i, w := range f {
		f[i] = strings.ToUpper(w[:1]) + w[1:]
	}
	return strings.Join(f, " ")
}

// ---- identity ----------------------------------------------------------------

// clientGate decides whether clientID may get a token at this authority
// (cust nil: the partner tenant) for res; scp is the token's scope claim.
func (s *PartnerServer) clientGate(w http.ResponseWriter, r *http.Request, clientID, res string, cust *ptCustomer) (scp string, ok bool) {
	if strings.EqualFold(clientID, simGraphCLIClientID) {
		// First-party, preauthorized for nothing here: the token carries
		// the scopes asked for by name (dynamic consent, the administrator
		// approves them at sign-in); /.default only User.Read (nothing was
		// ever consented for it in this tenant).
		var names []string
		for _, sc := range strings.Fields(r.PostForm.Get("scope")) {
			if simOIDCScopes[strings.ToLower(sc)] {
				continue
			}
			if i := strings.LastIndex(sc, "/"); i >= 0 {
				sc = sc[i+1:]
			}
			if sc != ".default" {
				names = append(names, sc)
			}
		}
		if len(names) == 0 {
			return "User.Read", true
		}
		return strings.Join(names, " "), true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.appByAppID(clientID)
	if a == nil {
		s.aadError(w, r, http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.", simClip(clientID, 80), s.sc.Partner.DisplayName))
		return "", false
	}
	if a.public == nil || !*a.public {
		s.aadError(w, r, http.StatusUnauthorized, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
		return "", false
	}
	if cust != nil {
		if a.audience != "AzureADMultipleOrgs" && a.audience != "AzureADandPersonalMicrosoftAccount" {
			s.aadError(w, r, http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.", simClip(clientID, 80), stDefault(cust.spec.DisplayName, cust.spec.Domain)))
			return "", false
		}
		return "", true // the customer's own consent is customerGate's
	}
	sp := s.spByAppID(clientID)
	var resAppID string
	switch res {
	case simGraphResource:
		resAppID = simGraphAppID
	case simExchangeResource:
		resAppID = simExchangeAppID
	case simPartnerCenterResource:
		resAppID = simPartnerCenterAppID
	}
	rsp := s.spByAppID(resAppID)
	if sp != nil && rsp != nil {
		for _, g := range s.grants {
			if g.clientID == sp.id && g.resourceID == rsp.id && g.consentType == "AllPrincipals" && g.scope != "" {
				return g.scope, true
			}
		}
	}
	s.aadError(w, r, http.StatusBadRequest, "invalid_grant", 65001, fmt.Sprintf("The user or administrator has not consented to use the application with ID '%s' named '%s'. Send an interactive authorization request for this user and resource.", clientID, a.name))
	return "", false
}
