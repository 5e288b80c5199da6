package sim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Partner Center REST (api.partnercenter.microsoft.com): customers and the
// application consent API (gdap.md §1.2, §1.5; PC1, PC2, PC7, PC8).

func ptPCError(w http.ResponseWriter, status int, code int, desc string) {
	simWriteJSON(w, status, map[string]any{"code": code, "description": desc, "data": []any{}, "source": "PartnerFD"})
}

// pcRolesForConsent: a GDAP role the consent API accepts (PC2: Global
// admin, Privileged role admin or Cloud application admin).
var pcRolesForConsent = []string{RoleGlobalAdmin, RolePrivilegedRoleAdmin, RoleCloudAppAdmin}

func (s *PartnerServer) servePartnerCenter(w http.ResponseWriter, r *http.Request, rel string) {
	w.Header().Set("MS-RequestId", simNewGUID())
	w.Header().Set("MS-CV", simSecret(8))
	p, ok := s.tokens.Lookup(r.Header.Get("Authorization"))
	if !ok || p.Audience != simPartnerCenterResource || !strings.EqualFold(p.TenantID, s.PartnerTenantID()) {
		ptPCError(w, http.StatusUnauthorized, 401, "Unauthorized: the access token is missing, expired or not issued for Partner Center in the partner tenant.")
		return
	}
	u, _ := s.user(p.UPN)
	ptSetTenant(r, s.PartnerTenantID())
	if !u.MFA {
		// PC7: App+User calls without an MFA claim → 401 with 900421.
		ptPCError(w, http.StatusUnauthorized, 900421, "Multi-factor authentication is required for this operation. The access token does not have an MFA claim; sign in again with MFA.")
		return
	}
	segs := strings.Split(strings.Trim(rel, "/"), "/")
	switch {
	case len(segs) == 2 && strings.EqualFold(segs[0], "v1") && strings.EqualFold(segs[1], "customers") && r.Method == http.MethodGet:
		s.pcCustomers(w)
	case len(segs) == 4 && strings.EqualFold(segs[1], "customers") && strings.EqualFold(segs[3], "applicationconsents") && r.Method == http.MethodPost:
		s.pcConsent(w, r, u, segs[2])
	case len(segs) == 5 && strings.EqualFold(segs[1], "customers") && strings.EqualFold(segs[3], "applicationconsents") && r.Method == http.MethodDelete:
		s.pcDeleteConsent(w, r, segs[2], segs[4])
	default:
		ptPCError(w, http.StatusNotFound, 404, "Resource not found.")
	}
}

// pcCustomers is GET /v1/customers (PC8 shape): reseller customers only.
func (s *PartnerServer) pcCustomers(w http.ResponseWriter) {
	items := []map[string]any{}
	for _, c := range s.order {
		if !c.spec.PartnerCenter {
			continue
		}
		items = append(items, map[string]any{
			"id": c.tid,
			"companyProfile": map[string]any{
				"tenantId": c.tid, "domain": c.spec.Domain, "companyName": c.spec.DisplayName,
				"attributes": map[string]string{"objectType": "CustomerCompanyProfile"},
			},
			"relationshipToPartner": "reseller",
			"attributes":            map[string]string{"objectType": "Customer"},
		})
	}
	simWriteJSON(w, http.StatusOK, map[string]any{
		"totalCount": len(items), "items": items, "links": map[string]any{},
		"attributes": map[string]string{"objectType": "Collection"},
	})
}

// ptLowerKeys lower-cases every object key (Partner Center binds the
// consent body case-insensitively: CIPP sends PascalCase, the REST page
// camelCase).
func ptLowerKeys(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[strings.ToLower(k)] = ptLowerKeys(x)
		}
		return m
	case []any:
		for i := range t {
			t[i] = ptLowerKeys(t[i])
		}
		return t
	}
	return v
}

func (s *PartnerServer) pcConsent(w http.ResponseWriter, r *http.Request, u PartnerUserSpec, tenant string) {
	now := s.now()
	var raw any
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&raw); err != nil {
		ptPCError(w, http.StatusBadRequest, 400, "The request body is not valid JSON.")
		return
	}
	body, _ := ptLowerKeys(raw).(map[string]any)
	appID, _ := body["applicationid"].(string)
	if !simIsGUID(appID) {
		ptPCError(w, http.StatusBadRequest, 400, "applicationId is required and must be a GUID.")
		return
	}
	// 50 requests per second per applicationId (PC1).
	s.mu.Lock()
	win := s.pcWindow[strings.ToLower(appID)]
	cut := 0
	for cut < len(win) && !win[cut].After(now.Add(-time.Second)) {
		cut++
	}
	win = win[cut:]
	over := len(win) >= s.sc.PartnerCenterRPS
	if !over {
		win = append(win, now)
	}
	s.pcWindow[strings.ToLower(appID)] = win
	s.mu.Unlock()
	if over {
		w.Header().Set("Retry-After", "1")
		ptPCError(w, http.StatusTooManyRequests, 429, fmt.Sprintf("Rate limit is exceeded: %d requests per second per application.", s.sc.PartnerCenterRPS))
		return
	}
	grants, _ := body["applicationgrants"].([]any)
	if len(grants) == 0 {
		ptPCError(w, http.StatusBadRequest, 400, "applicationGrants must hold at least one grant.")
		return
	}
	scopes := map[string]string{}
	for i, g := range grants {
		gm, _ := g.(map[string]any)
		eid, _ := gm["enterpriseapplicationid"].(string)
		scope, _ := gm["scope"].(string)
		if !simIsGUID(eid) {
			ptPCError(w, http.StatusBadRequest, 400, fmt.Sprintf("applicationGrants[%d].enterpriseApplicationId must be a GUID.", i))
			return
		}
		var names []string
		for _, sc := range strings.Split(scope, ",") {
			if sc = strings.TrimSpace(sc); sc != "" {
				names = append(names, sc)
			}
		}
		if len(names) == 0 {
			ptPCError(w, http.StatusBadRequest, 400, fmt.Sprintf("applicationGrants[%d].scope must be a comma-separated list of permission names.", i))
			return
		}
		scopes[strings.ToLower(eid)] = strings.Join(names, ",")
	}
	c := s.customers[strings.ToLower(tenant)]
	if c == nil {
		ptPCError(w, http.StatusNotFound, 600001, "The customer "+simClip(tenant, 60)+" was not found.")
		return
	}
	ptSetTenant(r, s.PartnerTenantID())
	if !strings.EqualFold(appID, s.sc.Partner.AppID) {
		ptPCError(w, http.StatusBadRequest, 400, "The application "+appID+" is not a multi-tenant application registered in the partner tenant.")
		return
	}
	if !u.AdminAgent {
		ptPCError(w, http.StatusForbidden, 403, "The user is not a member of the AdminAgents group.")
		return
	}
	roles, _ := s.effectiveRoles(u, c, now)
	allowed := false
	for _, r := range roles {
		for _, want := range pcRolesForConsent {
			allowed = allowed || r == want
		}
	}
	if !allowed {
		ptPCError(w, http.StatusForbidden, 403, "The user does not have a GDAP role in this customer that allows application consent (Global Administrator, Privileged Role Administrator or Cloud Application Administrator).")
		return
	}
	s.mu.Lock()
	already := c.consented
	if !already {
		c.consented, c.consentAt = true, now
		c.scopes = scopes
	}
	s.mu.Unlock()
	if already {
		// The text CIPP and other scripts match (C-cpv, V-jysk); the HTTP
		// status is UNCONFIRMED (gdap.md §6): 409 here.
		ptPCError(w, http.StatusConflict, 409, "Permission entry already exists.")
		return
	}
	out := map[string]any{"applicationId": appID, "applicationGrants": grants}
	if dn, ok := body["displayname"].(string); ok {
		out["displayName"] = dn
	}
	simWriteJSON(w, http.StatusCreated, out)
}

func (s *PartnerServer) pcDeleteConsent(w http.ResponseWriter, r *http.Request, tenant, appID string) {
	c := s.customers[strings.ToLower(tenant)]
	s.mu.Lock()
	ok := c != nil && c.consented && strings.EqualFold(appID, s.sc.Partner.AppID)
	if ok {
		c.consented = false
	}
	s.mu.Unlock()
	if !ok {
		ptPCError(w, http.StatusNotFound, 404, "No application consent for "+simClip(appID, 60)+" in this customer.")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
