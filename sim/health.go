package sim

import (
	"fmt"
	"strings"
	"time"
)

// Integration reason codes (docs/platform-api.md).
const (
	ReasonAuditLogDisabled     = "audit_log_disabled"
	ReasonConsentMissing       = "consent_missing"
	ReasonConsentRevoked       = "consent_revoked"
	ReasonRolesMissing         = "roles_missing"
	ReasonExchangeRolesMissing = "exchange_roles_missing"
	ReasonNoExchangeLicence    = "no_exchange_licence"
	ReasonWaitingForFirstData  = "waiting_for_first_data"
)

// pfIntegrationJSON is the integration object on the wire.
type pfIntegrationJSON struct {
	ID                  string     `json:"id"`
	TenantID            string     `json:"tenant_id"`
	OrganizationID      string     `json:"organization_id"`
	OrganizationName    string     `json:"organization_name"`
	Type                string     `json:"type"`
	Status              string     `json:"status"`
	ReasonCode          string     `json:"reason_code"`
	Reason              string     `json:"reason"`
	CreatedAt           time.Time  `json:"created_at"`
	LastCheckedAt       time.Time  `json:"last_checked_at"`
	FirstDataAt         *time.Time `json:"first_data_at"`
	ExpectedFirstDataAt time.Time  `json:"expected_first_data_at"`
	// FirstEventAt / LastEventAt: the first and the latest audit event the
	// platform received from the tenant (null before the first).
	FirstEventAt *time.Time `json:"first_event_at"`
	LastEventAt  *time.Time `json:"last_event_at"`
}

// pfConsentProblem says why the platform cannot get an app-only token with
// every permission it needs ("" when consent is complete). Callers hold st.mu.
func (st *State) pfConsentProblem() string {
	sp := st.liveSPByAppID(st.platformAppID)
	if sp == nil {
		return "the " + st.platformAppName + " service principal is not present in the tenant"
	}
	var missing []string
	for _, p := range st.pf.perms {
		if !st.hasAppPermission(sp.ID, p.ResourceAppID, p.Permission) {
			missing = append(missing, p.ResourceName+" "+p.Permission)
		}
	}
	if len(missing) > 0 {
		return "application permissions not granted: " + strings.Join(missing, ", ")
	}
	return ""
}

// pfConsentFor is pfConsentProblem for tenant tid: this state's tenant, or
// a customer tenant of the partner simulator (State.TenantState); known is
// false for a tenant the simulator does not hold. Callers hold st.mu.
func (st *State) pfConsentFor(tid string) (problem string, known bool) {
	if strings.EqualFold(tid, st.tenantID) {
		return st.pfConsentProblem(), true
	}
	if st.TenantState == nil {
		return "", false
	}
	t := st.TenantState(tid)
	if t == nil || t == st {
		return "", false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.pfConsentProblem(), true
}

// hasAppPermission reports whether principal holds the app role value on the
// resource app's service principal. Callers hold st.mu.
func (st *State) hasAppPermission(principalID, resourceAppID, value string) bool {
	res := st.liveSPByAppID(resourceAppID)
	if res == nil {
		return false
	}
	role, ok := res.appRole(value)
	if !ok {
		return false
	}
	for _, a := range st.appRoleAssigns {
		if strings.EqualFold(a.PrincipalID, principalID) && strings.EqualFold(a.ResourceID, res.ID) && strings.EqualFold(a.AppRoleID, role.ID) {
			return true
		}
	}
	return false
}

// pfTenantProblem returns the first failing platform check for the scenario
// tenant: reason code and sentence. Callers hold st.mu.
func (st *State) pfTenantProblem() (string, string) {
	if p := st.pfConsentProblem(); p != "" {
		return ReasonConsentRevoked, "The platform lost access to the tenant: " + p + ". Grant admin consent again."
	}
	if !st.hasExchangeLicence() {
		return ReasonNoExchangeLicence, "The tenant has no Exchange Online licence, so there is no mailbox audit data."
	}
	sp := st.liveSPByAppID(st.platformAppID)
	var missing []string
	for _, r := range []string{RoleExchangeAdministrator, RoleOrgBrandingAdministrator} {
		if !st.hasAnyRole(sp.ID, r) {
			def, _ := stRoleByTemplate(r)
			missing = append(missing, def.DisplayName)
		}
	}
	if len(missing) > 0 {
		return ReasonRolesMissing, "The " + st.platformAppName + " service principal is missing directory roles: " + strings.Join(missing, ", ") + "."
	}
	missing = nil
	for _, r := range PlatformExchangeRoles {
		if !st.exoHasRole(r) {
			missing = append(missing, r)
		}
	}
	if len(missing) > 0 {
		return ReasonExchangeRolesMissing, "The Organization Management role group is missing roles: " + strings.Join(missing, ", ") + "."
	}
	if !st.exoAudit {
		return ReasonAuditLogDisabled, "Unified audit logging is turned off in the tenant (UnifiedAuditLogIngestionEnabled is False)."
	}
	return "", ""
}

// pfIntegrationView derives the integration's status from the tenant state
// at read time. Callers hold st.mu.
func (st *State) pfIntegrationView(in *pfIntegration) pfIntegrationJSON {
	now := st.now()
	org := st.pf.orgByID[in.OrgID]
	expected := in.CreatedAt.Add(st.pf.healthyAfter)
	v := pfIntegrationJSON{
		ID: in.ID, TenantID: in.TenantID, OrganizationID: in.OrgID, Type: "microsoft_365",
		CreatedAt: in.CreatedAt.UTC(), LastCheckedAt: now.UTC(), ExpectedFirstDataAt: expected.UTC(),
	}
	if org != nil {
		v.OrganizationName = org.Name
	}
	// The tenant the integration reads: this state's own, or a customer
	// tenant of the partner simulator (State.TenantState).
	ts := st
	if !strings.EqualFold(in.TenantID, st.tenantID) && !in.seeded && st.TenantState != nil {
		if t := st.TenantState(in.TenantID); t != nil && t != st {
			t.mu.Lock() // lock order: platform, then tenant (a tenant never locks the platform)
			defer t.mu.Unlock()
			ts = t
		}
	}
	if strings.EqualFold(in.TenantID, ts.tenantID) {
		if code, reason := ts.pfTenantProblem(); code != "" {
			v.Status, v.ReasonCode, v.Reason = "unhealthy", code, reason
			return v
		}
	}
	if eff := ts.ualEffectiveAt(); expected.Before(eff) {
		expected = eff
		v.ExpectedFirstDataAt = expected.UTC()
	}
	first, last := ts.pfEventTimes(expected)
	if now.Before(expected) || first == nil {
		v.Status, v.ReasonCode = "pending", ReasonWaitingForFirstData
		v.Reason = fmt.Sprintf("Mapped; waiting for the first audit data (expected by %s, can take up to 24 hours).", expected.UTC().Format(time.RFC3339))
		if !now.Before(expected) {
			v.Reason = "Mapped; no audit data has arrived yet (it can take up to 24 hours)."
		}
		return v
	}
	v.Status, v.FirstDataAt, v.FirstEventAt, v.LastEventAt = "healthy", first, first, last
	return v
}

// ConsentError is an admin-consent failure as the identity platform reports
// it (an AADSTS code inside error_description).
type ConsentError struct {
	AADSTS      int    // 650051, 90094, 700016
	OAuthError  string // "invalid_client", "access_denied", "unauthorized_client"
	Description string // "AADSTS650051: ..."
}

func (e *ConsentError) Error() string { return e.Description }

// AdminConsent does what accepting the admin consent page does: it creates
// the application's service principal when absent (subject to the scenario's
// AADSTS650051 behaviour) and grants every application permission and the
// delegated permissions the platform app asks for. approverObjectID is the
// signed-in user's object id; requestID goes into the change log. It returns
// a *ConsentError on failure.
func (st *State) AdminConsent(appID, approverObjectID, requestID string) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.tickLocked()
	appID = strings.ToLower(strings.TrimSpace(appID))
	u := st.userByID(approverObjectID)
	if u == nil || u.HomeTenant != "" || !st.hasAnyRole(u.ID, RoleGlobalAdministrator, RolePrivilegedRoleAdministrator) {
		return &ConsentError{AADSTS: 90094, OAuthError: "access_denied",
			Description: "AADSTS90094: The grant requires admin permission. Sign in with a Global Administrator or Privileged Role Administrator account."}
	}
	if appID != st.platformAppID {
		return &ConsentError{AADSTS: 700016, OAuthError: "unauthorized_client",
			Description: fmt.Sprintf("AADSTS700016: Application with identifier '%s' was not found in the directory '%s'.", appID, st.tenantName)}
	}
	sp := st.liveSPByAppID(appID)
	if st.consentMode == "invalid-permissions" {
		return &ConsentError{AADSTS: 650051, OAuthError: "invalid_client", Description: st.invalidPermissionsMessage()}
	}
	if sp == nil {
		var gerr *stGraphError
		sp, gerr = st.createSPLocked(appID)
		if gerr != nil {
			if gerr.aadsts != 0 {
				return &ConsentError{AADSTS: gerr.aadsts, OAuthError: "invalid_client", Description: gerr.message}
			}
			return &ConsentError{AADSTS: 500011, OAuthError: "invalid_resource", Description: "AADSTS500011: " + gerr.message}
		}
		st.recordLocked("graph", "POST /servicePrincipals", "appId="+appID, requestID)
	}
	for _, p := range st.pf.perms {
		if st.hasAppPermission(sp.ID, p.ResourceAppID, p.Permission) {
			continue
		}
		res := st.liveSPByAppID(p.ResourceAppID)
		role, ok := res.appRole(p.Permission)
		if !ok {
			continue
		}
		if _, gerr := st.assignAppRoleLocked(sp.ID, res.ID, role.ID); gerr == nil {
			st.recordLocked("graph", "POST /servicePrincipals/appRoleAssignedTo", "principal="+sp.ID+" permission="+res.DisplayName+":"+p.Permission, requestID)
		}
	}
	graph := st.liveSPByAppID(AppIDMicrosoftGraph)
	found := false
	for _, g := range st.grants {
		if g.ClientID == sp.ID && g.ResourceID == graph.ID && g.ConsentType == "AllPrincipals" {
			found = true
			if !strings.Contains(" "+g.Scope+" ", " User.Read ") {
				g.Scope = strings.TrimSpace(g.Scope + " User.Read")
				st.recordLocked("graph", "PATCH /oauth2PermissionGrants", "client="+sp.ID+" scope="+g.Scope, requestID)
			}
		}
	}
	if !found {
		if g, gerr := st.grantLocked(sp.ID, "AllPrincipals", "", graph.ID, "User.Read"); gerr == nil {
			st.recordLocked("graph", "POST /oauth2PermissionGrants", "client="+g.ClientID+" scope="+g.Scope, requestID)
		}
	}
	return nil
}
