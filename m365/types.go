// Package m365 holds the clients for Microsoft Graph and the Exchange Online
// admin API (InvokeCommand). They take an *http.Client and a token function,
// so the same code talks to Microsoft or to the tenant simulator.
package m365

import (
	"context"
	"time"
)

// TokenFunc returns a bearer token for one resource (Graph or Exchange),
// refreshing it silently when needed.
type TokenFunc func(ctx context.Context) (string, error)

// Organization is the tenant (GET /organization, value[0]).
type Organization struct {
	ID              string   `json:"id"`
	DisplayName     string   `json:"displayName"`
	VerifiedDomains []Domain `json:"verifiedDomains"`
}

// Domain is one verified domain of the tenant.
type Domain struct {
	Name      string `json:"name"`
	IsDefault bool   `json:"isDefault"`
	IsInitial bool   `json:"isInitial"`
}

// InitialDomain returns the *.onmicrosoft.com domain, or "".
func (o Organization) InitialDomain() string {
	for _, d := range o.VerifiedDomains {
		if d.IsInitial {
			return d.Name
		}
	}
	return ""
}

// User is the signed-in user (GET /me).
type User struct {
	ID                string `json:"id"`
	DisplayName       string `json:"displayName"`
	UserPrincipalName string `json:"userPrincipalName"`
}

// SKU is one subscribed SKU (GET /subscribedSkus).
type SKU struct {
	SkuID            string        `json:"skuId"`
	SkuPartNumber    string        `json:"skuPartNumber"`
	CapabilityStatus string        `json:"capabilityStatus"`
	ConsumedUnits    int           `json:"consumedUnits"`
	PrepaidUnits     PrepaidUnits  `json:"prepaidUnits"`
	ServicePlans     []ServicePlan `json:"servicePlans"`
}

// PrepaidUnits is licenseUnitsDetail: how many of the SKU's units are in
// each lifecycle state (learn.microsoft.com/graph/api/resources/licenseunitsdetail).
type PrepaidUnits struct {
	Enabled   int `json:"enabled"`
	Suspended int `json:"suspended"`
	Warning   int `json:"warning"`
	LockedOut int `json:"lockedOut"`
}

// CompanySubscription is one commercial subscription of the tenant
// (GET /directory/subscriptions; learn.microsoft.com/graph/api/resources/companysubscription).
// NextLifecycleDateTime is when the subscription moves to its next state if
// not renewed: for a subscription in Warning, the end of the grace period.
type CompanySubscription struct {
	ID                    string     `json:"id"`
	SkuID                 string     `json:"skuId"`
	SkuPartNumber         string     `json:"skuPartNumber"`
	Status                string     `json:"status"`
	IsTrial               bool       `json:"isTrial"`
	NextLifecycleDateTime *time.Time `json:"nextLifecycleDateTime"`
	TotalLicenses         int        `json:"totalLicenses"`
}

// ServicePlan is servicePlanInfo.
type ServicePlan struct {
	ServicePlanID      string `json:"servicePlanId"`
	ServicePlanName    string `json:"servicePlanName"`
	ProvisioningStatus string `json:"provisioningStatus"`
	AppliesTo          string `json:"appliesTo"`
}

// DirectoryRole is an activated directory role the user is a (transitive) member of.
type DirectoryRole struct {
	ID             string `json:"id"`
	DisplayName    string `json:"displayName"`
	RoleTemplateID string `json:"roleTemplateId"`
}

// RoleEligibility is a PIM eligibility schedule instance of the current user.
type RoleEligibility struct {
	ID               string `json:"id"`
	PrincipalID      string `json:"principalId"`
	RoleDefinitionID string `json:"roleDefinitionId"`
	DirectoryScopeID string `json:"directoryScopeId"`
	StartDateTime    string `json:"startDateTime"`
	EndDateTime      string `json:"endDateTime"`
	MemberType       string `json:"memberType"`
}

// ServicePrincipal is an enterprise application in the tenant.
type ServicePrincipal struct {
	ID                     string            `json:"id"`
	AppID                  string            `json:"appId"`
	DisplayName            string            `json:"displayName"`
	AppRoles               []AppRole         `json:"appRoles,omitempty"`
	OAuth2PermissionScopes []PermissionScope `json:"oauth2PermissionScopes,omitempty"`
	RequestID              string            `json:"-"`
	// Found is true when the create was answered "already exists" (another
	// run, technician or state dir made it first) and this is the object
	// looked up then: it was not made by this call. Never on the wire.
	Found bool `json:"-"`
}

// AppRole is an application permission offered by a resource service principal.
type AppRole struct {
	ID                 string   `json:"id"`
	Value              string   `json:"value"`
	AllowedMemberTypes []string `json:"allowedMemberTypes"`
	IsEnabled          bool     `json:"isEnabled"`
}

// PermissionScope is a delegated permission offered by a resource.
type PermissionScope struct {
	ID    string `json:"id"`
	Value string `json:"value"`
}

// DeletedServicePrincipal is a soft-deleted service principal
// (GET /directory/deletedItems/microsoft.graph.servicePrincipal).
type DeletedServicePrincipal struct {
	ID              string `json:"id"`
	AppID           string `json:"appId"`
	DisplayName     string `json:"displayName"`
	DeletedDateTime string `json:"deletedDateTime"`
}

// RoleAssignment is a unifiedRoleAssignment.
type RoleAssignment struct {
	ID               string `json:"id"`
	PrincipalID      string `json:"principalId"`
	RoleDefinitionID string `json:"roleDefinitionId"`
	DirectoryScopeID string `json:"directoryScopeId"`
	RequestID        string `json:"-"`
	// Found is true when the create was answered "already exists" (another
	// run, technician or state dir made it first) and this is the object
	// looked up then: it was not made by this call. Never on the wire.
	Found bool `json:"-"`
}

// AppRoleAssignment is an application permission granted to a principal.
type AppRoleAssignment struct {
	ID                  string `json:"id"`
	AppRoleID           string `json:"appRoleId"`
	PrincipalID         string `json:"principalId"`
	PrincipalType       string `json:"principalType"`
	ResourceID          string `json:"resourceId"`
	ResourceDisplayName string `json:"resourceDisplayName"`
	RequestID           string `json:"-"`
	// Found is true when the create was answered "already exists" (another
	// run, technician or state dir made it first) and this is the object
	// looked up then: it was not made by this call. Never on the wire.
	Found bool `json:"-"`
}

// OAuth2PermissionGrant is a delegated permission grant.
type OAuth2PermissionGrant struct {
	ID          string `json:"id"`
	ClientID    string `json:"clientId"`
	ConsentType string `json:"consentType"`
	PrincipalID string `json:"principalId,omitempty"`
	ResourceID  string `json:"resourceId"`
	Scope       string `json:"scope"`
	RequestID   string `json:"-"`
	// Found is true when the create was answered "already exists" (another
	// run, technician or state dir made it first) and this is the object
	// looked up then: it was not made by this call. Never on the wire.
	Found bool `json:"-"`
}

// OrgConfig is the part of Get-OrganizationConfig the wizard reads.
type OrgConfig struct {
	Name         string `json:"Name"`
	IsDehydrated bool   `json:"IsDehydrated"`
}

// AuditConfig is the part of Get-AdminAuditLogConfig the wizard reads.
type AuditConfig struct {
	UnifiedAuditLogIngestionEnabled bool `json:"UnifiedAuditLogIngestionEnabled"`
	AdminAuditLogEnabled            bool `json:"AdminAuditLogEnabled"`
	// UnifiedAuditLogFirstOptInDate is when unified audit logging was
	// first switched on (nil when never); Microsoft: up to 60 minutes to
	// take effect.
	UnifiedAuditLogFirstOptInDate *time.Time `json:"UnifiedAuditLogFirstOptInDate"`
}

// ManagementRoleAssignment is one Get-ManagementRoleAssignment row.
type ManagementRoleAssignment struct {
	Name             string `json:"Name"`
	Role             string `json:"Role"`
	RoleAssignee     string `json:"RoleAssignee"`
	RoleAssigneeName string `json:"RoleAssigneeName"`
	RoleAssigneeType string `json:"RoleAssigneeType"`
	Enabled          bool   `json:"Enabled"`
	Guid             string `json:"Guid"`
	// RoleAssignmentDelegationType is Regular, Delegating or
	// DelegatingOrgWide ("" when the service does not say).
	RoleAssignmentDelegationType string `json:"RoleAssignmentDelegationType,omitempty"`
	RequestID                    string `json:"-"`
	// Found is true when the create was answered "already exists" (another
	// run, technician or state dir made it first) and this is the object
	// looked up then: it was not made by this call. Never on the wire.
	Found bool `json:"-"`
}
