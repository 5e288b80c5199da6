package sim

import (
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"
)

// Well-known application ids of the resource service principals every tenant has.
const (
	AppIDMicrosoftGraph  = "00000003-0000-0000-c000-000000000000"
	AppIDExchangeOnline  = "00000002-0000-0ff1-ce00-000000000000"
	AppIDManagementAPIs  = "c5393580-f805-4401-95e8-94b7a6ef2fc2"
	DefaultPlatformAppID = "5b1a7c3e-0d5f-4e39-9d6b-6c0f3f6b9a11"
	// DefaultPlatformAppName is the display name of the platform's multi-tenant app.
	DefaultPlatformAppName = "ITDR Security Platform (Direct)"
	// DefaultPlatformAPIKey / DefaultPlatformAPISecret are the demo account's credentials.
	DefaultPlatformAPIKey    = "hk_demo"
	DefaultPlatformAPISecret = "hs_demo_secret"

	// Directory role template ids the wizard cares about.
	RoleGlobalAdministrator         = "62e90394-69f5-4237-9190-012177145e10"
	RoleExchangeAdministrator       = "29232cdf-9323-42fd-ade2-1d097af3e4de"
	RoleOrgBrandingAdministrator    = "92ed04bf-c94a-4b82-9729-b799a7a4c178"
	RolePrivilegedRoleAdministrator = "e8611ab8-c189-46e8-94e1-60213ab1f814"
	RoleApplicationAdministrator    = "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3"
	RoleCloudAppAdministrator       = "158c047a-c907-4556-b7ef-446551a6b5f7"

	// OrganizationManagement is the Exchange role group the platform needs roles in.
	OrganizationManagement = "Organization Management"

	stPlatformVendorTenant = "7d0c2a4e-3f5b-4c1d-9e8a-1b2c3d4e5f60"
	stDefaultHealthyAfter  = 5 * time.Second
	stDefaultConsentDelay  = 20 * time.Second
)

// PlatformExchangeRoles are the roles the Organization Management role group must hold.
var PlatformExchangeRoles = []string{"Audit Logs", "Mail Recipients", "Organization Configuration", "Transport Rules", "Role Management"}

// stRoleCatalog is the built-in directory role catalogue (template id, display name, description).
var stRoleCatalog = []stRoleDef{
	{RoleGlobalAdministrator, "Global Administrator", "Can manage all aspects of Microsoft Entra ID and Microsoft services that use Microsoft Entra identities."},
	{RoleExchangeAdministrator, "Exchange Administrator", "Can manage all aspects of the Exchange product."},
	{RoleOrgBrandingAdministrator, "Organizational Branding Administrator", "Manage all aspects of organizational branding in a tenant."},
	{RolePrivilegedRoleAdministrator, "Privileged Role Administrator", "Can manage role assignments in Microsoft Entra ID, and all aspects of Privileged Identity Management."},
	{RoleApplicationAdministrator, "Application Administrator", "Can create and manage all aspects of app registrations and enterprise apps."},
	{RoleCloudAppAdministrator, "Cloud Application Administrator", "Can create and manage all aspects of app registrations and enterprise apps except App Proxy."},
	{"f2ef992c-3afb-46b9-b7cf-a126ee74c451", "Global Reader", "Can read everything that a Global Administrator can, but not update anything."},
	{"194ae4cb-b126-40b2-bd5b-6091b380977d", "Security Administrator", "Can read security information and reports, and manage configuration in Microsoft Entra ID and Office 365."},
	{"5d6b6bb7-de71-4623-b4af-96380a352509", "Security Reader", "Can read security information and reports in Microsoft Entra ID and Office 365."},
	{"fe930be7-5e62-47db-91af-98c3a49a38b1", "User Administrator", "Can manage all aspects of users and groups, including resetting passwords for limited admins."},
	{"729827e3-9c14-49f7-bb1b-9608f156bbb8", "Helpdesk Administrator", "Can reset passwords for non-administrators and Helpdesk Administrators."},
	{"7be44c8a-adaf-4e2a-84d6-ab2649e08a13", "Privileged Authentication Administrator", "Can access to view, set and reset authentication method information for any user (admin or non-admin)."},
	{"b1be1c3e-b65d-4f19-8427-f6fa0d97feb9", "Conditional Access Administrator", "Can manage Conditional Access capabilities."},
	{"0526716b-113d-4c15-b2c8-68e3c22b9f80", "Authentication Policy Administrator", "Can create and manage the authentication methods policy, tenant-wide MFA settings, password protection policy, and verifiable credentials."},
	{"17315797-102d-40b4-93e0-432062caca18", "Compliance Administrator", "Can read and manage compliance configuration and reports in Microsoft Entra ID and Microsoft 365."},
	{"3a2c62db-5318-420d-8d74-23affee5d9d5", "Intune Administrator", "Can manage all aspects of the Intune product."},
	{"69091246-20e8-4a56-aa4d-066075b2a7a8", "Teams Administrator", "Can manage the Microsoft Teams service."},
	{"f28a1f50-f6e7-4571-818b-6a12f2af6b6c", "SharePoint Administrator", "Can manage all aspects of the SharePoint service."},
	{"4a5d8f65-41da-4de4-8968-e035b65339cf", "Reports Reader", "Can read sign-in and audit reports."},
	{"b0f54661-2d74-4c50-afa3-1ec803f12efe", "Billing Administrator", "Can perform common billing related tasks like updating payment information."},
}

type stRoleDef struct {
	TemplateID  string
	DisplayName string
	Description string
}

// stRoleAliases maps extra accepted names to template ids.
var stRoleAliases = map[string]string{
	"organization branding administrator": RoleOrgBrandingAdministrator,
	"company administrator":               RoleGlobalAdministrator,
	"global admin":                        RoleGlobalAdministrator,
	"exchange service administrator":      RoleExchangeAdministrator,
}

// stCatalog is stRoleCatalog plus any role named in DirectoryRoleTemplates
// (the scenario validator's list) that the catalogue lacks.
var stCatalog = sync.OnceValue(func() []stRoleDef {
	out := append([]stRoleDef(nil), stRoleCatalog...)
	names := make([]string, 0, len(DirectoryRoleTemplates))
	for n := range DirectoryRoleTemplates {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		id := strings.ToLower(DirectoryRoleTemplates[n])
		known := false
		for _, r := range out {
			if r.TemplateID == id {
				known = true
			}
		}
		if !known {
			out = append(out, stRoleDef{TemplateID: id, DisplayName: n, Description: n + "."})
		}
	}
	return out
})

// stResolveRole turns a role template id or display name into a template id.
func stResolveRole(s string) (string, bool) {
	t := strings.TrimSpace(s)
	for _, r := range stCatalog() {
		if strings.EqualFold(r.TemplateID, t) || strings.EqualFold(r.DisplayName, t) {
			return r.TemplateID, true
		}
	}
	if id, ok := stRoleAliases[strings.ToLower(t)]; ok {
		return id, true
	}
	if id, ok := DirectoryRoleTemplates[t]; ok {
		return strings.ToLower(id), true
	}
	return "", false
}

func stRoleByTemplate(id string) (stRoleDef, bool) {
	for _, r := range stCatalog() {
		if strings.EqualFold(r.TemplateID, id) {
			return r, true
		}
	}
	return stRoleDef{}, false
}

// UserInfo is a tenant user as the identity side needs it.
type UserInfo struct {
	UPN         string `json:"upn"`
	ObjectID    string `json:"object_id"`
	DisplayName string `json:"display_name"`
	// HomeTenant is the tenant the user's tokens are issued in (the scenario
	// tenant unless the user belongs to another tenant).
	HomeTenant string `json:"home_tenant"`
}

// ChangeRecord is one successful write, in order.
type ChangeRecord struct {
	Time      time.Time `json:"time"`
	Service   string    `json:"service"` // graph | exchange | platform
	Op        string    `json:"op"`      // "New-ManagementRoleAssignment", "POST /servicePrincipals"
	Target    string    `json:"target"`
	RequestID string    `json:"request_id"`
}

// Snapshot is a JSON-able deep copy of everything a test compares.
type Snapshot struct {
	TenantID                        string                      `json:"tenant_id"`
	OrganizationManagementRoles     []string                    `json:"organization_management_roles"`
	UnifiedAuditLogIngestionEnabled bool                        `json:"unified_audit_log_ingestion_enabled"`
	Dehydrated                      bool                        `json:"dehydrated"`
	ServicePrincipals               []SPSnapshot                `json:"service_principals"`
	DeletedServicePrincipals        []SPSnapshot                `json:"deleted_service_principals"`
	RoleAssignments                 []RoleAssignmentSnapshot    `json:"role_assignments"`
	AppRoleAssignments              []AppRoleAssignmentSnapshot `json:"app_role_assignments"`
	OAuth2PermissionGrants          []GrantSnapshot             `json:"oauth2_permission_grants"`
	Integrations                    []IntegrationSnapshot       `json:"integrations"`
}

// SPSnapshot is a service principal.
type SPSnapshot struct {
	ID          string     `json:"id"`
	AppID       string     `json:"app_id"`
	DisplayName string     `json:"display_name"`
	DeletedAt   *time.Time `json:"deleted_at,omitempty"`
}

// RoleAssignmentSnapshot is a directory role assignment.
type RoleAssignmentSnapshot struct {
	ID               string `json:"id"`
	PrincipalID      string `json:"principal_id"`
	RoleDefinitionID string `json:"role_definition_id"`
	DirectoryScopeID string `json:"directory_scope_id"`
}

// AppRoleAssignmentSnapshot is an application permission grant.
type AppRoleAssignmentSnapshot struct {
	ID            string `json:"id"`
	PrincipalID   string `json:"principal_id"`
	ResourceID    string `json:"resource_id"`
	ResourceAppID string `json:"resource_app_id"`
	AppRoleID     string `json:"app_role_id"`
	Permission    string `json:"permission"`
}

// GrantSnapshot is an oauth2PermissionGrant.
type GrantSnapshot struct {
	ID          string `json:"id"`
	ClientID    string `json:"client_id"`
	ConsentType string `json:"consent_type"`
	PrincipalID string `json:"principal_id,omitempty"`
	ResourceID  string `json:"resource_id"`
	Scope       string `json:"scope"`
}

// IntegrationSnapshot is a platform integration (status derived at snapshot time).
type IntegrationSnapshot struct {
	ID             string    `json:"id"`
	TenantID       string    `json:"tenant_id"`
	OrganizationID string    `json:"organization_id"`
	CreatedAt      time.Time `json:"created_at"`
	Status         string    `json:"status"`
	ReasonCode     string    `json:"reason_code"`
}

type stUser struct {
	ID          string
	UPN         string
	DisplayName string
	HomeTenant  string // "" = member of the scenario tenant
	Enabled     bool
	Licensed    bool
	MFA         bool
	Eligible    []string // role template ids
	SignsIn     bool
	// gdap: a partner user acting here over GDAP (State.Delegated) with
	// these role template ids; not a user object in this directory.
	gdap []string
}

type stAppRole struct {
	ID          string
	Value       string
	DisplayName string
	Description string
}

type stScope struct {
	ID          string
	Value       string
	DisplayName string
}

type stSP struct {
	ID            string
	AppID         string
	DisplayName   string
	OwnerTenantID string
	AppRoles      []stAppRole
	Scopes        []stScope
	CreatedAt     time.Time
	DeletedAt     time.Time
	// consentBlock marks the soft-deleted platform SP of scenario
	// consent.error_650051 = sp-soft-deleted.
	consentBlock bool
}

func (sp *stSP) appRole(idOrValue string) (stAppRole, bool) {
	for _, r := range sp.AppRoles {
		if strings.EqualFold(r.ID, idOrValue) || r.Value == idOrValue {
			return r, true
		}
	}
	return stAppRole{}, false
}

type stRoleAssignment struct {
	ID               string
	PrincipalID      string
	RoleDefinitionID string
	DirectoryScopeID string
}

type stAppRoleAssignment struct {
	ID                   string
	AppRoleID            string
	PrincipalID          string
	PrincipalType        string
	PrincipalDisplayName string
	ResourceID           string
	ResourceDisplayName  string
	CreatedAt            time.Time
}

type stGrant struct {
	ID          string
	ClientID    string
	ConsentType string
	PrincipalID string
	ResourceID  string
	Scope       string
}

type stPlan struct {
	ID        string
	Name      string
	Status    string
	AppliesTo string
}

type stSKU struct {
	SkuID      string
	PartNumber string
	Capability string
	Enabled    int
	Consumed   int
	Plans      []stPlan
	// NextLifecycle is companySubscription.nextLifecycleDateTime (zero: none).
	NextLifecycle time.Time
}

type stExoAssignment struct {
	Role string
	Guid string
}

// State is the simulated tenant and platform. One mutex guards everything;
// the handlers are safe for concurrent use.
type State struct {
	// Tokens validates bearer tokens for Graph and Exchange (set by the server).
	Tokens *TokenStore
	// PlatformRateLimit is the platform API's requests per minute per account
	// (docs/platform-api.md: 60). 0 or less disables the limit.
	PlatformRateLimit int
	// AuthorityURL is the identity host used in the platform app's
	// admin_consent_url (default https://login.microsoftonline.com; the
	// server may set the simulator's own identity base). Set before serving.
	AuthorityURL string
	// Delegated, when set (the partner simulator), returns the directory
	// roles a user of another tenant holds in this tenant through GDAP
	// (nil: none). Such a user is no object in this directory: /me is 404
	// (gdap.md §1.3), writes are authorised by these roles.
	Delegated func(p Principal) []string
	// TenantState, when set (the partner simulator's platform), returns the
	// state of a customer tenant the platform account maps, so an
	// integration's consent and health are derived from that tenant.
	TenantState func(tenantID string) *State

	mu      sync.Mutex
	now     func() time.Time
	rng     *mrand.Rand
	created time.Time

	tenantID      string
	initialDomain string
	tenantName    string

	users          []*stUser
	sps            []*stSP
	deleted        []*stSP
	roleAssigns    []*stRoleAssignment
	appRoleAssigns []*stAppRoleAssignment
	grants         []*stGrant
	skus           []stSKU

	exoDehydrated bool
	exoAudit      bool
	exoRoles      []stExoAssignment

	consentMode     string
	consentDelay    time.Duration
	consentAttempt  time.Time // first consent attempt (zero before)
	consentPurged   bool
	platformAppID   string
	platformAppName string

	pf pfState

	audit stAudit // the audit pipeline (auditlog.go)

	changes []ChangeRecord
}

// NewState builds the in-memory tenant and platform from the scenario. now
// nil means time.Now.
func NewState(sc *Scenario, now func() time.Time) (*State, error) {
	if sc == nil {
		return nil, errors.New("sim: nil scenario")
	}
	if now == nil {
		now = time.Now
	}
	st := &State{
		now:               now,
		rng:               mrand.New(mrand.NewPCG(uint64(sc.Seed), 0x5eed5eed)),
		created:           now(),
		tenantID:          strings.ToLower(strings.TrimSpace(sc.Tenant.ID)),
		initialDomain:     strings.ToLower(strings.TrimSpace(sc.Tenant.InitialDomain)),
		tenantName:        sc.Tenant.DisplayName,
		PlatformRateLimit: 60,
	}
	if !simIsGUID(st.tenantID) {
		return nil, fmt.Errorf("sim: tenant.id %q is not a GUID", sc.Tenant.ID)
	}
	if st.initialDomain == "" {
		return nil, errors.New("sim: tenant.initial_domain is empty")
	}
	if st.tenantName == "" {
		st.tenantName = strings.SplitN(st.initialDomain, ".", 2)[0]
	}

	// Resource service principals.
	for _, sp := range stResourceSPs() {
		sp.ID = st.newGUID()
		sp.CreatedAt = st.created.Add(-400 * 24 * time.Hour)
		st.sps = append(st.sps, sp)
	}

	// Licences.
	for _, k := range sc.Licences {
		sku := stSKU{
			SkuID:      stSkuID(k.SkuPartNumber),
			PartNumber: k.SkuPartNumber,
			Capability: stDefault(k.CapabilityStatus, "Enabled"),
			Enabled:    k.Enabled,
			Consumed:   k.Consumed,
		}
		if next, ok := stNextLifecycle(sku.Capability, k.NextLifecycleIn); ok {
			sku.NextLifecycle = st.created.Add(next)
		}
		for _, p := range k.ServicePlans {
			applies := "User"
			if strings.EqualFold(p.Name, "EXCHANGE_S_FOUNDATION") {
				applies = "Company"
			}
			sku.Plans = append(sku.Plans, stPlan{ID: stPlanID(p.Name), Name: p.Name, Status: stDefault(p.ProvisioningStatus, "Success"), AppliesTo: applies})
		}
		st.skus = append(st.skus, sku)
	}

	// Users and their directory roles.
	signer := -1
	for i, u := range sc.Users {
		if strings.TrimSpace(u.UPN) == "" {
			return nil, fmt.Errorf("sim: users[%d]: upn is empty", i)
		}
		home := strings.ToLower(strings.TrimSpace(u.HomeTenant))
		if home == st.tenantID {
			home = ""
		}
		idTenant := st.tenantID
		if home != "" {
			idTenant = home
		}
		su := &stUser{
			ID:          ObjectIDFor(idTenant, u.UPN),
			UPN:         u.UPN,
			DisplayName: stDefault(u.DisplayName, strings.SplitN(u.UPN, "@", 2)[0]),
			HomeTenant:  home,
			Enabled:     u.Enabled == nil || *u.Enabled,
			Licensed:    len(st.skus) > 0,
			MFA:         u.MFARegistered,
			SignsIn:     u.SignsIn,
		}
		if u.Licensed != nil {
			su.Licensed = *u.Licensed
		}
		for _, r := range u.ActiveRoles {
			id, ok := stResolveRole(r)
			if !ok {
				return nil, fmt.Errorf("sim: users[%d] (%s): unknown directory role %q", i, u.UPN, r)
			}
			st.roleAssigns = append(st.roleAssigns, &stRoleAssignment{ID: st.newOpaqueID(), PrincipalID: su.ID, RoleDefinitionID: id, DirectoryScopeID: "/"})
		}
		for _, r := range u.EligibleRoles {
			id, ok := stResolveRole(r)
			if !ok {
				return nil, fmt.Errorf("sim: users[%d] (%s): unknown directory role %q", i, u.UPN, r)
			}
			su.Eligible = append(su.Eligible, id)
		}
		if u.SignsIn && signer < 0 {
			signer = i
		}
		st.users = append(st.users, su)
	}
	if len(st.users) == 0 {
		return nil, errors.New("sim: the scenario has no users")
	}
	if signer < 0 {
		st.users[0].SignsIn = true
	} else {
		for i, u := range st.users {
			u.SignsIn = i == signer
		}
	}

	// Exchange organization.
	st.exoDehydrated = sc.Exchange.Dehydrated
	st.exoAudit = sc.Exchange.UnifiedAuditLogIngestionEnabled
	st.initAudit(sc)
	for _, r := range sc.Exchange.OrganizationManagementRoles {
		r = strings.TrimSpace(r)
		if r == "" || st.exoHasRole(r) {
			continue
		}
		st.exoRoles = append(st.exoRoles, stExoAssignment{Role: stExoCanonicalRole(r), Guid: st.newGUID()})
	}

	// Platform app.
	st.platformAppID = strings.ToLower(stDefault(sc.Platform.App.AppID, DefaultPlatformAppID))
	st.platformAppName = stDefault(sc.Platform.App.DisplayName, DefaultPlatformAppName)
	st.consentMode = sc.Consent.Error650051
	switch st.consentMode {
	case "", "sp-soft-deleted", "invalid-permissions":
	default:
		return nil, fmt.Errorf("sim: consent.error_650051 %q: want \"\", \"sp-soft-deleted\" or \"invalid-permissions\"", st.consentMode)
	}
	st.consentDelay = sc.Consent.Duration.D()
	if st.consentDelay <= 0 {
		st.consentDelay = stDefaultConsentDelay
	}

	// Service principals present at start.
	for i, s := range sc.ServicePrincipals {
		appID := strings.ToLower(strings.TrimSpace(s.AppID))
		if !simIsGUID(appID) {
			return nil, fmt.Errorf("sim: service_principals[%d]: app_id %q is not a GUID", i, s.AppID)
		}
		if !s.SoftDeleted && st.liveSPByAppID(appID) != nil {
			return nil, fmt.Errorf("sim: service_principals[%d]: app %s is already present", i, appID)
		}
		sp := &stSP{ID: st.newGUID(), AppID: appID, DisplayName: stDefault(s.DisplayName, st.appDisplayName(appID)), OwnerTenantID: stPlatformVendorTenant, CreatedAt: st.created.Add(-30 * 24 * time.Hour)}
		if s.SoftDeleted {
			sp.DeletedAt = st.created.Add(-2 * time.Minute)
			st.deleted = append(st.deleted, sp)
			continue
		}
		st.sps = append(st.sps, sp)
		for _, r := range s.DirectoryRoles {
			id, ok := stResolveRole(r)
			if !ok {
				return nil, fmt.Errorf("sim: service_principals[%d]: unknown directory role %q", i, r)
			}
			st.roleAssigns = append(st.roleAssigns, &stRoleAssignment{ID: st.newOpaqueID(), PrincipalID: sp.ID, RoleDefinitionID: id, DirectoryScopeID: "/"})
		}
		for _, p := range s.AppRoles {
			res, role, ok := st.findAppRole(p)
			if !ok {
				return nil, fmt.Errorf("sim: service_principals[%d]: unknown application permission %q", i, p)
			}
			st.appRoleAssigns = append(st.appRoleAssigns, &stAppRoleAssignment{ID: st.newOpaqueID(), AppRoleID: role.ID, PrincipalID: sp.ID, PrincipalType: "ServicePrincipal", PrincipalDisplayName: sp.DisplayName, ResourceID: res.ID, ResourceDisplayName: res.DisplayName, CreatedAt: sp.CreatedAt})
		}
	}
	if st.consentMode == "sp-soft-deleted" {
		if st.liveSPByAppID(st.platformAppID) != nil {
			return nil, errors.New("sim: consent.error_650051 sp-soft-deleted needs the platform app's service principal to be absent")
		}
		st.deleted = append(st.deleted, &stSP{ID: st.newGUID(), AppID: st.platformAppID, DisplayName: st.platformAppName, OwnerTenantID: stPlatformVendorTenant, CreatedAt: st.created.Add(-time.Hour), DeletedAt: st.created.Add(-time.Minute), consentBlock: true})
	}

	if err := st.pfInit(sc); err != nil {
		return nil, err
	}
	return st, nil
}

// SignInUser is the user that approves sign-ins.
func (st *State) SignInUser() UserInfo {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, u := range st.users {
		if u.SignsIn {
			return st.userInfo(u)
		}
	}
	return st.userInfo(st.users[0])
}

// Users lists every scenario user (members of the tenant and of other tenants).
func (st *State) Users() []UserInfo {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make([]UserInfo, 0, len(st.users))
	for _, u := range st.users {
		out = append(out, st.userInfo(u))
	}
	return out
}

// TenantID is the scenario tenant's id.
func (st *State) TenantID() string { return st.tenantID }

// InitialDomain is the tenant's *.onmicrosoft.com domain.
func (st *State) InitialDomain() string { return st.initialDomain }

// PlatformAppID is the app id of the platform's multi-tenant application.
func (st *State) PlatformAppID() string { return st.platformAppID }

func (st *State) userInfo(u *stUser) UserInfo {
	home := u.HomeTenant
	if home == "" {
		home = st.tenantID
	}
	return UserInfo{UPN: u.UPN, ObjectID: u.ID, DisplayName: u.DisplayName, HomeTenant: home}
}

// Changes returns every successful write, in order.
func (st *State) Changes() []ChangeRecord {
	st.mu.Lock()
	defer st.mu.Unlock()
	return append([]ChangeRecord(nil), st.changes...)
}

func (st *State) recordLocked(service, op, target, requestID string) {
	rec := ChangeRecord{Time: st.now(), Service: service, Op: op, Target: target, RequestID: requestID}
	st.changes = append(st.changes, rec)
	st.auditRecordLocked(rec)
}

// Snapshot returns a deep copy of the state a test compares.
func (st *State) Snapshot() Snapshot {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.tickLocked()
	s := Snapshot{
		TenantID:                        st.tenantID,
		OrganizationManagementRoles:     st.exoRoleNames(),
		UnifiedAuditLogIngestionEnabled: st.exoAudit,
		Dehydrated:                      st.exoDehydrated,
		ServicePrincipals:               []SPSnapshot{},
		DeletedServicePrincipals:        []SPSnapshot{},
		RoleAssignments:                 []RoleAssignmentSnapshot{},
		AppRoleAssignments:              []AppRoleAssignmentSnapshot{},
		OAuth2PermissionGrants:          []GrantSnapshot{},
		Integrations:                    []IntegrationSnapshot{},
	}
	for _, sp := range st.sps {
		s.ServicePrincipals = append(s.ServicePrincipals, SPSnapshot{ID: sp.ID, AppID: sp.AppID, DisplayName: sp.DisplayName})
	}
	for _, sp := range st.deleted {
		d := sp.DeletedAt
		s.DeletedServicePrincipals = append(s.DeletedServicePrincipals, SPSnapshot{ID: sp.ID, AppID: sp.AppID, DisplayName: sp.DisplayName, DeletedAt: &d})
	}
	for _, a := range st.roleAssigns {
		s.RoleAssignments = append(s.RoleAssignments, RoleAssignmentSnapshot{ID: a.ID, PrincipalID: a.PrincipalID, RoleDefinitionID: a.RoleDefinitionID, DirectoryScopeID: a.DirectoryScopeID})
	}
	for _, a := range st.appRoleAssigns {
		as := AppRoleAssignmentSnapshot{ID: a.ID, PrincipalID: a.PrincipalID, ResourceID: a.ResourceID, AppRoleID: a.AppRoleID}
		if res := st.liveSPByID(a.ResourceID); res != nil {
			as.ResourceAppID = res.AppID
			if r, ok := res.appRole(a.AppRoleID); ok {
				as.Permission = r.Value
			}
		}
		s.AppRoleAssignments = append(s.AppRoleAssignments, as)
	}
	for _, g := range st.grants {
		s.OAuth2PermissionGrants = append(s.OAuth2PermissionGrants, GrantSnapshot{ID: g.ID, ClientID: g.ClientID, ConsentType: g.ConsentType, PrincipalID: g.PrincipalID, ResourceID: g.ResourceID, Scope: g.Scope})
	}
	for _, in := range st.pf.integrations {
		v := st.pfIntegrationView(in)
		s.Integrations = append(s.Integrations, IntegrationSnapshot{ID: in.ID, TenantID: in.TenantID, OrganizationID: in.OrgID, CreatedAt: in.CreatedAt, Status: v.Status, ReasonCode: v.ReasonCode})
	}
	return s
}

// tickLocked applies time-driven changes (purging the soft-deleted platform
// SP once the consent delay since the first attempt has passed).
func (st *State) tickLocked() {
	if st.consentMode != "sp-soft-deleted" || st.consentPurged || st.consentAttempt.IsZero() {
		return
	}
	if st.now().Before(st.consentAttempt.Add(st.consentDelay)) {
		return
	}
	st.consentPurged = true
	kept := st.deleted[:0]
	for _, sp := range st.deleted {
		if !sp.consentBlock {
			kept = append(kept, sp)
		}
	}
	st.deleted = kept
}

// ---- lookups (callers hold st.mu) ----

func (st *State) userByID(id string) *stUser {
	for _, u := range st.users {
		if strings.EqualFold(u.ID, id) {
			return u
		}
	}
	return nil
}

func (st *State) userByUPN(upn string) *stUser {
	for _, u := range st.users {
		if strings.EqualFold(u.UPN, upn) {
			return u
		}
	}
	return nil
}

func (st *State) liveSPByID(id string) *stSP {
	for _, sp := range st.sps {
		if strings.EqualFold(sp.ID, id) {
			return sp
		}
	}
	return nil
}

func (st *State) liveSPByAppID(appID string) *stSP {
	for _, sp := range st.sps {
		if strings.EqualFold(sp.AppID, appID) {
			return sp
		}
	}
	return nil
}

// activeRoles are the template ids the principal holds through role assignments.
func (st *State) activeRoles(principalID string) []string {
	var out []string
	for _, a := range st.roleAssigns {
		if strings.EqualFold(a.PrincipalID, principalID) {
			out = append(out, a.RoleDefinitionID)
		}
	}
	return out
}

func (st *State) hasAnyRole(principalID string, roles ...string) bool {
	for _, have := range st.activeRoles(principalID) {
		for _, want := range roles {
			if strings.EqualFold(have, want) {
				return true
			}
		}
	}
	return false
}

// findAppRole finds an application permission by value ("AuditLog.Read.All")
// or "Resource display name:Value" on the resource service principals.
func (st *State) findAppRole(p string) (*stSP, stAppRole, bool) {
	resName, value := "", strings.TrimSpace(p)
	if i := strings.LastIndex(value, ":"); i >= 0 {
		resName, value = strings.TrimSpace(value[:i]), strings.TrimSpace(value[i+1:])
	}
	for _, sp := range st.sps {
		if resName != "" && !strings.EqualFold(sp.DisplayName, resName) && !strings.EqualFold(sp.AppID, resName) {
			continue
		}
		for _, r := range sp.AppRoles {
			if r.Value == value {
				return sp, r, true
			}
		}
	}
	return nil, stAppRole{}, false
}

func (st *State) appDisplayName(appID string) string {
	switch strings.ToLower(appID) {
	case st.platformAppID:
		return st.platformAppName
	case "14d82eec-204b-4c2f-b7e8-296a70dab67e":
		return "Microsoft Graph Command Line Tools"
	case "fb78d390-0c51-40cd-8e17-fdbfab77341b":
		return "Microsoft Exchange REST API Based Powershell"
	case "04b07795-8ddb-461a-bbee-02f9e1bf7b46":
		return "Microsoft Azure CLI"
	}
	return ""
}

// ---- ids ----

// newGUID returns a random (seeded, so reproducible) version 4 GUID. Callers hold st.mu.
func (st *State) newGUID() string {
	var b [16]byte
	for i := 0; i < 16; i += 8 {
		v := st.rng.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return simGUID(b[:], 4)
}

// simGUID formats the first 16 bytes of b as a GUID of the given version
// (4: random, 5: name-based), setting the version and RFC 4122 variant bits.
func simGUID(b []byte, version byte) string {
	b[6] = (b[6] & 0x0f) | version<<4
	b[8] = (b[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// newOpaqueID returns an id shaped like Entra's base64url assignment ids. Callers hold st.mu.
func (st *State) newOpaqueID() string {
	var b [33]byte
	for i := range b {
		b[i] = byte(st.rng.Uint32())
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// stNameGUID derives a stable version 5 style GUID from a name.
func stNameGUID(kind, name string) string {
	h := sha1.Sum([]byte("sim-" + kind + "\x00" + strings.ToUpper(name)))
	return simGUID(h[:], 5)
}

func stDefault(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}

// ---- licences ----

var stKnownSkus = map[string]string{
	"ENTERPRISEPACK":           "6fd2c87f-b296-42f0-b197-1e91e994b900",
	"ENTERPRISEPREMIUM":        "c7df2760-2c81-4ef7-b578-5b5392b571df",
	"STANDARDPACK":             "18181a46-0d4e-45cd-891e-60aabd171b4e",
	"SPE_E3":                   "05e9a617-0261-4cee-bb44-138d3ef5d965",
	"SPE_E5":                   "06ebc4ee-1bb5-47dd-8120-11324bc54e06",
	"SPB":                      "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46",
	"O365_BUSINESS_PREMIUM":    "f245ecc8-75af-4f8e-b61f-27d8114de5f3",
	"O365_BUSINESS_ESSENTIALS": "3b555118-da6a-4418-894f-7df1e2096870",
	"EXCHANGESTANDARD":         "4b9405b0-7788-4568-add1-99614e613b69",
	"AAD_PREMIUM":              "078d2b04-f1bd-4111-bbd4-b4b1b354cef4",
}

// stKnownPlans are service plan ids from Microsoft's "Product names and
// service plan identifiers for licensing" (learn.microsoft.com/entra/identity
// /users/licensing-service-plan-reference). A plan name outside this table
// gets a name-derived GUID (docs/simulator-fidelity.md).
var stKnownPlans = map[string]string{
	"EXCHANGE_S_STANDARD":   "9aaf7827-d63c-4b61-89c3-182f06f82e5c",
	"EXCHANGE_S_ENTERPRISE": "efb87545-963c-4e0d-99df-69c6916d9eb0",
	"EXCHANGE_S_ESSENTIALS": "1126bef5-da20-4f07-b45e-ad25d2581aa8",
	"EXCHANGE_S_DESKLESS":   "4a82b400-a79f-41a4-b4e2-e94f5787b113",
	"EXCHANGE_S_FOUNDATION": "113feb6c-3fe4-4440-bddc-54d774bf0318",
	"SHAREPOINTENTERPRISE":  "5dbe027f-2339-4123-9542-606e4d348a72",
	"SHAREPOINTSTANDARD":    "c7699d2e-19aa-44de-8edf-1736da088ca1",
	"TEAMS1":                "57ff2da0-773e-42df-b2af-ffb7a2317929",
	"AAD_PREMIUM":           "41781fb2-bc02-4b7c-bd55-b576c07bb09d",
	"MCOSTANDARD":           "0feaeb32-d00e-4d66-bd5a-43b5b83db82c",
	"OFFICESUBSCRIPTION":    "43de0ff5-c92c-492b-9116-175376d08c38",
	"INTUNE_A":              "c1ec4a95-1f05-45b3-a911-aa3fa01094f5",
}

// stPlanServices is assignedPlan.service for a plan (the names a real
// tenant's /organization assignedPlans carry; Graph's assignedPlan example
// shows "exchange").
var stPlanServices = map[string]string{
	"SHAREPOINTENTERPRISE": "SharePoint",
	"SHAREPOINTSTANDARD":   "SharePoint",
	"TEAMS1":               "TeamspaceAPI",
	"AAD_PREMIUM":          "AADPremiumService",
	"MCOSTANDARD":          "MicrosoftCommunicationsOnline",
	"OFFICESUBSCRIPTION":   "MicrosoftOffice",
	"INTUNE_A":             "SCO",
}

// stPlanService is assignedPlan.service for a plan name.
func stPlanService(name string) string {
	n := strings.ToUpper(name)
	if strings.HasPrefix(n, "EXCHANGE") {
		return "exchange"
	}
	if s, ok := stPlanServices[n]; ok {
		return s
	}
	return name
}

// stMailboxPlans are the service plans that give an Exchange Online mailbox.
var stMailboxPlans = map[string]bool{"EXCHANGE_S_STANDARD": true, "EXCHANGE_S_ENTERPRISE": true, "EXCHANGE_S_ESSENTIALS": true, "EXCHANGE_S_DESKLESS": true}

func stSkuID(part string) string {
	if id, ok := stKnownSkus[strings.ToUpper(part)]; ok {
		return id
	}
	return stNameGUID("sku", part)
}

func stPlanID(name string) string {
	if id, ok := stKnownPlans[strings.ToUpper(name)]; ok {
		return id
	}
	return stNameGUID("plan", name)
}

// hasExchangeLicence: some enabled SKU with enabled units and a mailbox plan provisioned.
func (st *State) hasExchangeLicence() bool {
	for _, k := range st.skus {
		if k.Capability != "Enabled" || k.Enabled <= 0 {
			continue
		}
		for _, p := range k.Plans {
			if stMailboxPlans[strings.ToUpper(p.Name)] && p.Status == "Success" {
				return true
			}
		}
	}
	return false
}

// ---- resource service principals ----

func stResourceSPs() []*stSP {
	return []*stSP{
		{
			AppID: AppIDMicrosoftGraph, DisplayName: "Microsoft Graph", OwnerTenantID: "f8cdef31-a31e-4b4a-93e4-5f571e91255a",
			AppRoles: []stAppRole{
				{"b0afded3-3588-46d8-8b3d-9842eff778da", "AuditLog.Read.All", "Read all audit log data", "Allows the app to read and query your audit log activities, without a signed-in user."},
				{"7ab1d382-f21e-4acd-a863-ba3e13f7da61", "Directory.Read.All", "Read directory data", "Allows the app to read data in your organization's directory, such as users, groups and apps, without a signed-in user."},
				{"df021288-bdef-4463-88db-98f22de89214", "User.Read.All", "Read all users' full profiles", "Allows the app to read user profiles without a signed in user."},
				{"246dd0d5-5bd0-4def-940b-0421030a5b68", "Policy.Read.All", "Read your organization's policies", "Allows the app to read all your organization's policies without a signed in user."},
				{"483bed4a-2ad3-4361-a73b-c83ccdbdc53c", "RoleManagement.Read.Directory", "Read all directory RBAC settings", "Allows the app to read the role-based access control (RBAC) settings for your company's directory, without a signed-in user."},
				{"230c1aed-a721-4c5d-9cb4-a90514e508ef", "Reports.Read.All", "Read all usage reports", "Allows an app to read all service usage reports without a signed-in user."},
				{"498476ce-e0fe-48b0-b801-37ba7e2685c6", "Organization.Read.All", "Read organization information", "Allows the app to read the organization and related resources, without a signed-in user."},
				{"9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30", "Application.Read.All", "Read all applications", "Allows the app to read all applications and service principals without a signed-in user."},
				{"dc5007c0-2d7d-4c42-879c-2dab87571379", "IdentityRiskyUser.Read.All", "Read all identity risky user information", "Allows the app to read the identity risky user information for your organization without a signed in user."},
				{"bf394140-e372-4bf9-a898-299cfc7564e5", "SecurityEvents.Read.All", "Read your organization's security events", "Allows the app to read your organization's security events without a signed-in user."},
			},
			Scopes: []stScope{
				{"e1fe6dd8-ba31-4d61-89e7-88639da4683d", "User.Read", "Sign in and read user profile"},
				{"06da0dbc-49e2-44d2-8312-53f166ab848a", "Directory.Read.All", "Read directory data"},
				{"e4c9e354-4dc5-45b8-9e7c-e1393b0b1a20", "AuditLog.Read.All", "Read audit log data"},
				{"d01b97e9-cbc0-49fe-810a-750afd5527a3", "RoleManagement.ReadWrite.Directory", "Read and write directory RBAC settings"},
				{"bdfbf15f-ee85-4955-8675-146e8e5296b5", "Application.ReadWrite.All", "Read and write all applications"},
				{"84bccea3-f856-4a8a-967b-dbe0a3d53a64", "AppRoleAssignment.ReadWrite.All", "Manage app permission grants and app role assignments"},
				{"41ce6ca6-6826-4807-84f1-1c82854f7ee5", "DelegatedPermissionGrant.ReadWrite.All", "Manage all delegated permission grants"},
				{"37f7f235-527c-4136-accd-4a02d197296e", "openid", "Sign users in"},
				{"14dad69e-099b-42c9-810b-d002981feec1", "profile", "View users' basic profile"},
				{"7427e0e3-2fba-4bf9-9da9-2bbcbbe5d2ce", "offline_access", "Maintain access to data you have given it access to"},
			},
		},
		{
			AppID: AppIDExchangeOnline, DisplayName: "Office 365 Exchange Online", OwnerTenantID: "f8cdef31-a31e-4b4a-93e4-5f571e91255a",
			AppRoles: []stAppRole{
				{"dc50a0fb-09a3-484d-be87-e023b12c6440", "Exchange.ManageAsApp", "Manage Exchange As Application", "Allows the app to manage the organization's Exchange environment without any user interaction."},
				{"dc890d15-9560-4a4c-9b7f-a736ec74ec40", "full_access_as_app", "Use Exchange Web Services with full access to all mailboxes", "Allows the app to have full access via Exchange Web Services to all mailboxes without a signed-in user."},
			},
			Scopes: []stScope{{"ab4f2b77-0b06-4fc1-a9de-02113fc2ab7c", "Exchange.Manage", "Manage Exchange configuration"}},
		},
		{
			AppID: AppIDManagementAPIs, DisplayName: "Office 365 Management APIs", OwnerTenantID: "f8cdef31-a31e-4b4a-93e4-5f571e91255a",
			AppRoles: []stAppRole{
				{"594c1fb6-4f81-4475-ae41-0c394909246c", "ActivityFeed.Read", "Read activity data for your organization", "Allows the application to read the activity data for your organization."},
				{"4807a72c-ad38-4250-94c9-4eabfe26cd55", "ActivityFeed.ReadDlp", "Read DLP policy events including detected sensitive data", "Allows the application to read DLP policy events, including detected sensitive data, for your organization."},
				{"e2cea78f-e743-4d8f-a16a-75b629a038ae", "ServiceHealth.Read", "Read service health information for your organization", "Allows the application to read service health information for your organization."},
			},
		},
	}
}

// ---- Exchange helpers (callers hold st.mu) ----

func (st *State) exoHasRole(role string) bool {
	for _, r := range st.exoRoles {
		if strings.EqualFold(r.Role, role) {
			return true
		}
	}
	return false
}

func (st *State) exoRoleNames() []string {
	out := make([]string, 0, len(st.exoRoles))
	for _, r := range st.exoRoles {
		out = append(out, r.Role)
	}
	sort.Strings(out)
	return out
}

// stNextLifecycle is how long after the simulator's start a SKU's
// subscription moves to its next state: the scenario's next_lifecycle_in, or
// a default per state (a Warning grace period is typically 30 days).
func stNextLifecycle(capability string, in *Duration) (time.Duration, bool) {
	if in != nil {
		return in.D(), true
	}
	switch capability {
	case "Enabled":
		return 365 * 24 * time.Hour, true
	case "Warning", "LockedOut":
		return 30 * 24 * time.Hour, true
	case "Suspended":
		return 90 * 24 * time.Hour, true
	}
	return 0, false
}
