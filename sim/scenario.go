package sim

// Scenario is one simulated world: a Microsoft 365 tenant, the identity
// platform's sign-in behaviour, and the ITDR platform account. Scenario files
// are JSON with exactly these field names (documented in docs/scenarios.md and
// docs/scenario.schema.json). Durations are Go duration strings ("2s", "15m").
type Scenario struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Seed makes random faults and jitter deterministic.
	Seed int64 `json:"seed,omitempty"`

	Tenant   TenantSpec   `json:"tenant"`
	Users    []UserSpec   `json:"users"`
	Licences []SKUSpec    `json:"licences"`
	Exchange ExchangeSpec `json:"exchange"`
	// Audit is the audit pipeline's timing (auditlog.go).
	Audit AuditSpec `json:"audit,omitempty"`
	// ServicePrincipals already present in the tenant besides the resource
	// service principals the simulator always has (Microsoft Graph, Office
	// 365 Exchange Online, Office 365 Management APIs).
	ServicePrincipals []ServicePrincipalSpec `json:"service_principals,omitempty"`
	SignIn            SignInSpec             `json:"sign_in"`
	Consent           ConsentSpec            `json:"consent"`
	Platform          PlatformSpec           `json:"platform"`
	Faults            []FaultSpec            `json:"faults,omitempty"`
}

// TenantSpec is the tenant's identity.
type TenantSpec struct {
	ID            string `json:"id"`             // GUID
	InitialDomain string `json:"initial_domain"` // contoso.onmicrosoft.com
	DisplayName   string `json:"display_name"`
	Cloud         string `json:"cloud,omitempty"` // global (default) | usgov | usgovdod | china
}

// UserSpec is a user and the directory roles it holds.
type UserSpec struct {
	UPN         string `json:"upn"`
	DisplayName string `json:"display_name"`
	// ActiveRoles / EligibleRoles are role template ids or the names
	// "Global Administrator", "Exchange Administrator", ...
	ActiveRoles   []string `json:"active_roles,omitempty"`
	EligibleRoles []string `json:"eligible_roles,omitempty"`
	Enabled       *bool    `json:"enabled,omitempty"` // default true
	Licensed      *bool    `json:"licensed,omitempty"`
	MFARegistered bool     `json:"mfa_registered,omitempty"`
	// HomeTenant, when set, makes the user a member of another tenant
	// (scenario wrong-tenant: the approving account's tokens carry this tid).
	HomeTenant string `json:"home_tenant,omitempty"`
	// SignsIn marks the account that approves device codes and browser
	// sign-ins (default: the first user).
	SignsIn bool `json:"signs_in,omitempty"`
}

// SKUSpec is one subscribed SKU.
type SKUSpec struct {
	SkuPartNumber    string            `json:"sku_part_number"`
	CapabilityStatus string            `json:"capability_status,omitempty"` // default Enabled
	Enabled          int               `json:"enabled"`                     // prepaid enabled units
	Consumed         int               `json:"consumed,omitempty"`
	ServicePlans     []ServicePlanSpec `json:"service_plans"`
	// NextLifecycleIn is when the SKU's subscription moves to its next
	// state if not renewed (companySubscription.nextLifecycleDateTime),
	// relative to the simulator's start: for Warning, the end of the grace
	// period. Default: 365d Enabled, 30d Warning, 90d Suspended, 30d
	// LockedOut, none for Deleted.
	NextLifecycleIn *Duration `json:"next_lifecycle_in,omitempty"`
}

// ServicePlanSpec is one service plan inside a SKU.
type ServicePlanSpec struct {
	Name               string `json:"name"`                          // EXCHANGE_S_ENTERPRISE
	ProvisioningStatus string `json:"provisioning_status,omitempty"` // default Success
}

// ExchangeSpec is the Exchange Online organization's state.
type ExchangeSpec struct {
	UnifiedAuditLogIngestionEnabled bool `json:"unified_audit_log_ingestion_enabled"`
	Dehydrated                      bool `json:"dehydrated"`
	// OrganizationManagementRoles are the roles the Organization Management
	// role group holds at start.
	OrganizationManagementRoles []string `json:"organization_management_roles"`
}

// ServicePrincipalSpec is a service principal present at start.
type ServicePrincipalSpec struct {
	AppID       string `json:"app_id"`
	DisplayName string `json:"display_name"`
	// DirectoryRoles are role template ids (or names) the SP already holds.
	DirectoryRoles []string `json:"directory_roles,omitempty"`
	// AppRoles are permission values already granted (e.g. "AuditLog.Read.All").
	AppRoles []string `json:"app_roles,omitempty"`
	// SoftDeleted puts it in deleted items instead of the live directory.
	SoftDeleted bool `json:"soft_deleted,omitempty"`
}

// SignInSpec is the identity platform's behaviour.
type SignInSpec struct {
	ApproveDelay  Duration `json:"approve_delay,omitempty"`  // default 2s; device codes are approved automatically after it
	CodeLifetime  Duration `json:"code_lifetime,omitempty"`  // default 15m (expires_in)
	TokenLifetime Duration `json:"token_lifetime,omitempty"` // default 1h
	// Block: "" | "device-code-ca" (AADSTS53003 after the code is entered)
	// | "security-defaults" (AADSTS530035) | "mfa-required" (AADSTS50076)
	Block string `json:"block,omitempty"`
	// Refuse: how Entra refuses the sign-in account itself, on every grant
	// (device code, browser, refresh): "" | "account-disabled"
	// (AADSTS50057) | "account-locked" (50053) | "password-expired" (50055)
	// | "not-in-tenant" (50020) | "declined" (the user presses Cancel on the
	// device-code page: authorization_declined). A sign-in user with
	// "enabled": false is refused with 50057 without this field.
	Refuse string `json:"refuse,omitempty"`
	// AutoApprove=false leaves approval to the /devicelogin page (default true).
	AutoApprove *bool `json:"auto_approve,omitempty"`
}

// ConsentSpec is how consent behaves (AADSTS650051 variants).
type ConsentSpec struct {
	// Error650051: "" | "sp-soft-deleted" (clears after Duration) |
	// "invalid-permissions" (never clears).
	Error650051 string   `json:"error_650051,omitempty"`
	Duration    Duration `json:"duration,omitempty"`
}

// PlatformSpec is the ITDR platform side.
type PlatformSpec struct {
	APIKey    string `json:"api_key,omitempty"`    // default demo key
	APISecret string `json:"api_secret,omitempty"` // default demo secret
	Account   struct {
		Name         string `json:"name"`
		User         string `json:"user"`
		Role         string `json:"role,omitempty"`       // admin (default) | user
		Subscription string `json:"subscription"`         // active | trial | expired | cancelled
		ExpiresAt    string `json:"expires_at,omitempty"` // RFC 3339; prefer expires_in, which cannot age
		// ExpiresIn dates the subscription's end relative to the simulator's
		// start ("60d", "-3d", "36h"), so a scenario never rots with the
		// calendar. It wins over expires_at.
		ExpiresIn Duration `json:"expires_in,omitempty"`
	} `json:"account"`
	App struct {
		AppID       string `json:"app_id"`
		DisplayName string `json:"display_name"`
		// ApplicationPermissions are "Resource display name:Permission" or
		// objects; the default set is used when empty.
		ApplicationPermissions []PermissionSpec `json:"application_permissions,omitempty"`
	} `json:"app"`
	Organizations []OrgSpec `json:"organizations"`
	// GeneratedOrganizations adds N organizations named "Customer 00001"...
	GeneratedOrganizations int               `json:"generated_organizations,omitempty"`
	Integrations           []IntegrationSpec `json:"integrations,omitempty"`
	// HealthyAfter is how long after mapping the integration turns healthy
	// when every requirement holds (default 5s).
	HealthyAfter Duration `json:"healthy_after,omitempty"`
}

// PermissionSpec is one application permission the platform's app asks for.
type PermissionSpec struct {
	ResourceAppID string `json:"resource_app_id"`
	Permission    string `json:"permission"`
}

// OrgSpec is one platform organization.
type OrgSpec struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Key  string `json:"key,omitempty"`
}

// IntegrationSpec is an integration present at start (already-mapped).
type IntegrationSpec struct {
	TenantID       string `json:"tenant_id"`
	OrganizationID string `json:"organization_id"`
	Status         string `json:"status,omitempty"`
}

// FaultSpec injects faults into matching requests.
type FaultSpec struct {
	// Group: identity | graph | exchange | platform | "" (all); Path: a
	// path.Match pattern or prefix; Method: "" for all.
	Group  string `json:"group,omitempty"`
	Path   string `json:"path,omitempty"`
	Method string `json:"method,omitempty"`
	// Kind: latency | 429 | 503 | 500 | reset | slow-body | exchange-throttle | race
	Kind string `json:"kind"`
	// Rate is the probability (0..1] a matching request gets the fault
	// (default 1). Deterministic for a given scenario seed.
	Rate       float64  `json:"rate,omitempty"`
	Latency    Duration `json:"latency,omitempty"`
	Jitter     Duration `json:"jitter,omitempty"`
	RetryAfter int      `json:"retry_after,omitempty"` // seconds, for 429/503
	// Count limits how many times the fault fires (0 = unlimited).
	Count int `json:"count,omitempty"`
}
