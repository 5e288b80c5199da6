// Package platform is the client for the ITDR platform's HTTP API. The
// contract is docs/platform-api.md.
package platform

import "time"

// Account is GET /v1/account.
type Account struct {
	ID            string         `json:"id"`
	Name          string         `json:"name"`
	User          string         `json:"user"`
	Role          string         `json:"role"`
	Subscriptions []Subscription `json:"subscriptions"`
}

// Subscription is one product subscription of the account.
type Subscription struct {
	Product   string     `json:"product"`
	Status    string     `json:"status"` // active | trial | expired | cancelled
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// App is GET /v1/m365/app: what the platform needs granted in a tenant.
type App struct {
	AppID                  string                `json:"app_id"`
	DisplayName            string                `json:"display_name"`
	ApplicationPermissions []AppPermission       `json:"application_permissions"`
	DelegatedPermissions   []DelegatedPermission `json:"delegated_permissions"`
	DirectoryRoles         []DirectoryRole       `json:"directory_roles"`
	ExchangeRoleGroup      string                `json:"exchange_role_group"`
	ExchangeRoles          []string              `json:"exchange_roles"`
	AdminConsentURL        string                `json:"admin_consent_url"`
}

// AppPermission is one application permission (an app role on a resource).
type AppPermission struct {
	ResourceAppID       string `json:"resource_app_id"`
	ResourceDisplayName string `json:"resource_display_name"`
	Permission          string `json:"permission"`
}

// DelegatedPermission is a set of delegated scopes on one resource.
type DelegatedPermission struct {
	ResourceAppID       string   `json:"resource_app_id"`
	ResourceDisplayName string   `json:"resource_display_name"`
	Scopes              []string `json:"scopes"`
}

// DirectoryRole is an Entra built-in role the platform's service principal must hold.
type DirectoryRole struct {
	TemplateID  string `json:"template_id"`
	DisplayName string `json:"display_name"`
}

// Organization is a platform organization (a customer of the MSP).
type Organization struct {
	ID                       string    `json:"id"`
	Name                     string    `json:"name"`
	Key                      string    `json:"key"`
	CreatedAt                time.Time `json:"created_at"`
	IdentityProviderTenantID string    `json:"identity_provider_tenant_id"`
}

// OrganizationPage is one page of GET /v1/organizations.
type OrganizationPage struct {
	Organizations []Organization `json:"organizations"`
	Pagination    struct {
		NextPageToken string `json:"next_page_token"`
		Total         int    `json:"total"`
	} `json:"pagination"`
}

// IntegrationPage is one page of GET /v1/integrations (every integration
// of the account, optionally filtered by status, or those changed since a
// cursor).
type IntegrationPage struct {
	Integrations []Integration `json:"integrations"`
	Pagination   struct {
		NextPageToken string `json:"next_page_token"`
		Total         int    `json:"total"`
	} `json:"pagination"`
	// Cursor is what the next changed_since sends: it covers every change
	// up to this listing (the same on each of its pages).
	Cursor string `json:"cursor"`
	// Deleted are the integrations deleted since changed_since (first
	// page only).
	Deleted []DeletedIntegration `json:"deleted,omitempty"`
}

// DeletedIntegration names an integration deleted since a cursor.
type DeletedIntegration struct {
	ID       string `json:"id"`
	TenantID string `json:"tenant_id"`
}

// IntegrationChanges is what changed since a cursor (IntegrationChanges).
type IntegrationChanges struct {
	// Integrations created or changed since the cursor (every integration
	// of the account when Full).
	Integrations []Integration
	// Deleted since the cursor (never when Full).
	Deleted []DeletedIntegration
	// Cursor for the next call ("" when the platform gave none: the next
	// call lists everything again).
	Cursor string
	// Full: listed without a cursor, so Integrations is the whole set.
	Full bool
}

// Integration statuses.
const (
	StatusPending   = "pending"
	StatusHealthy   = "healthy"
	StatusUnhealthy = "unhealthy"
)

// Integration is a tenant mapped to an organization.
type Integration struct {
	ID                  string     `json:"id"`
	TenantID            string     `json:"tenant_id"`
	OrganizationID      string     `json:"organization_id"`
	OrganizationName    string     `json:"organization_name"`
	Type                string     `json:"type"`
	Status              string     `json:"status"`
	ReasonCode          string     `json:"reason_code"`
	Reason              string     `json:"reason"`
	CreatedAt           time.Time  `json:"created_at"`
	LastCheckedAt       *time.Time `json:"last_checked_at,omitempty"`
	FirstDataAt         *time.Time `json:"first_data_at,omitempty"`
	ExpectedFirstDataAt *time.Time `json:"expected_first_data_at,omitempty"`
	// FirstEventAt / LastEventAt: the first and the latest audit event the
	// platform received from the tenant (nil before the first).
	FirstEventAt *time.Time `json:"first_event_at,omitempty"`
	LastEventAt  *time.Time `json:"last_event_at,omitempty"`
	// RequestID of the response that returned this object (not on the wire body).
	RequestID string `json:"-"`
	// Found is true when CreateIntegration was answered with the existing
	// integration (200, not 201: another run or technician mapped the
	// tenant to this organization first), so this call did not make it.
	Found bool `json:"-"`
}

// Error is a non-2xx answer from the platform.
type Error struct {
	Status           int    // HTTP status
	Code             string `json:"code"`
	Message          string `json:"message"`
	RequestID        string `json:"request_id"`
	OrganizationID   string `json:"organization_id,omitempty"`
	OrganizationName string `json:"organization_name,omitempty"`
	Call             string // "POST /v1/integrations"
}

func (e *Error) Error() string {
	s := "platform: " + e.Call + ": " + e.Code
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.RequestID != "" {
		s += " (request id " + e.RequestID + ")"
	}
	return s
}
