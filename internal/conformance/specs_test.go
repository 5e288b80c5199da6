package conformance

import (
	"itdr-onboard/m365"
	"itdr-onboard/platform"
)

// The fields the wizard reads, per response. Each list is derived from the
// json tags of the type the client decodes the response into, minus the
// fields the documentation calls optional (each exception says why), plus
// the envelope keys the clients parse by hand (named after the code that
// parses them).

// ---- Microsoft Graph ----

// collection is a Graph collection: "value" (required by
// m365.DecodeGraphCollection) holding items. "@odata.nextLink" is read when
// present; the paging tests require it on every page but the last.
func collection(item []Field) []Field {
	return cat([]Field{{Path: "value", Kind: Array}}, Under("value[].", item))
}

var nextLink = Field{Path: `@odata\.nextLink`, Kind: String}

var (
	specOrganization  = collection(FieldsOf(m365.Organization{}))
	specMe            = FieldsOf(m365.User{})
	specDirectoryRole = collection(FieldsOf(m365.DirectoryRole{}))
	// endDateTime is null for a permanent eligibility (Graph docs,
	// unifiedRoleEligibilityScheduleInstance: "null … means permanent").
	specEligibility = collection(must(WithNullable(FieldsOf(m365.RoleEligibility{}), "endDateTime")))
	specSKUs        = collection(FieldsOf(m365.SKU{}))
	// A resource service principal (Microsoft Graph) looked up by
	// $filter=appId eq … or by the alternate key servicePrincipals(appId='…'):
	// every field, appRoles and oauth2PermissionScopes included.
	specSPs = collection(FieldsOf(m365.ServicePrincipal{}))
	specSP  = FieldsOf(m365.ServicePrincipal{})
	// The platform's service principal as POST /servicePrincipals returns
	// it: the wizard reads its id, appId and displayName. appRoles and
	// oauth2PermissionScopes are what an application *offers*; a client
	// application like the platform's offers none, so Graph returns them
	// empty and they are only read from resource service principals.
	specSPCreated          = must(Without(FieldsOf(m365.ServicePrincipal{}), "appRoles", "oauth2PermissionScopes"))
	specDeletedSPs         = collection(FieldsOf(m365.DeletedServicePrincipal{}))
	specRoleAssignments    = collection(FieldsOf(m365.RoleAssignment{}))
	specRoleAssignment     = FieldsOf(m365.RoleAssignment{})
	specAppRoleAssignments = collection(FieldsOf(m365.AppRoleAssignment{}))
	specAppRoleAssignment  = FieldsOf(m365.AppRoleAssignment{})
	// principalId is null when consentType is AllPrincipals (Graph docs,
	// oAuth2PermissionGrant), which is the grant the wizard makes.
	grantFields = must(WithNullable(FieldsOf(m365.OAuth2PermissionGrant{}), "principalId"))
	specGrants  = collection(grantFields)
	specGrant   = grantFields
	// CountBillableUsers decodes a local type (m365/graph.go): id and
	// assignedLicenses.
	specUsers = collection([]Field{{Path: "id", Kind: String}, {Path: "assignedLicenses", Kind: Array}})
	// MFARegistration decodes a local type (m365/graph.go): id and
	// isMfaRegistered.
	specRegistration = collection([]Field{{Path: "id", Kind: String}, {Path: "isMfaRegistered", Kind: Bool}})
	// $batch: m365.DecodeBatchResponse requires "responses"; every
	// sub-response carries id, status, headers and (for a GET) body.
	specBatch = cat([]Field{{Path: "responses", Kind: Array}}, Under("responses[].", FieldsOf(m365.BatchResponse{})))
	// Graph's error (m365/errors.go graphErrorBody, m365-api.md §3f): the
	// client reads code, message and innerError.request-id; date is part of
	// the documented shape.
	specGraphError = []Field{
		{Path: "error", Kind: Object}, {Path: "error.code", Kind: String}, {Path: "error.message", Kind: String},
		{Path: "error.innerError", Kind: Object}, {Path: "error.innerError.request-id", Kind: String},
		{Path: "error.innerError.date", Kind: String},
	}
)

// ---- Exchange Online admin API (InvokeCommand) ----

// exoResult is m365.DecodeExchangeResult's "value".
func exoResult(item []Field) []Field {
	return cat([]Field{{Path: "value", Kind: Array}}, Under("value[].", item))
}

var (
	specExoEmpty          = []Field{{Path: "value", Kind: Array}}
	specOrgConfig         = exoResult(FieldsOf(m365.OrgConfig{}))
	specAuditConfig       = exoResult(FieldsOf(m365.AuditConfig{}))
	specMgmtRoleAssigment = exoResult(FieldsOf(m365.ManagementRoleAssignment{}))
	// A cmdlet failure (m365/errors.go exchangeErrorBody): details[].message
	// "<id>|<exception type>|<text>", and innererror.internalexception as
	// the fallback the client reads.
	specExoCmdletError = []Field{
		{Path: "error", Kind: Object}, {Path: "error.code", Kind: String}, {Path: "error.message", Kind: String},
		{Path: "error.details", Kind: Array}, {Path: "error.details[].message", Kind: String},
		{Path: "error.innererror", Kind: Object}, {Path: "error.innererror.message", Kind: String},
		{Path: "error.innererror.type", Kind: String}, {Path: "error.innererror.internalexception", Kind: Object},
		{Path: "error.innererror.internalexception.message", Kind: String},
		{Path: "error.innererror.internalexception.type", Kind: String},
	}
	// A protocol-level error (throttling, authentication): code and message.
	specExoPlainError = []Field{{Path: "error", Kind: Object}, {Path: "error.code", Kind: String}, {Path: "error.message", Kind: String}}
)

// ---- ITDR platform (docs/platform-api.md) ----

var (
	specAccount      = FieldsOf(platform.Account{})
	specApp          = FieldsOf(platform.App{})
	specOrgPage      = FieldsOf(platform.OrganizationPage{})
	specOrg          = FieldsOf(platform.Organization{})
	specIntegration  = FieldsOf(platform.Integration{})
	specIntegrations = cat([]Field{{Path: "integrations", Kind: Array}}, Under("integrations[].", specIntegration))
	// organization_id and organization_name come only with
	// tenant_already_mapped (docs/platform-api.md, "Integrations").
	specPlatformError = cat([]Field{{Path: "error", Kind: Object}},
		Under("error.", must(Without(FieldsOf(platform.Error{}), "organization_id", "organization_name"))))
	specAlreadyMapped = cat([]Field{{Path: "error", Kind: Object}}, Under("error.", FieldsOf(platform.Error{})))
)

// ---- Microsoft identity platform (what MSAL Go reads; msal-offline.md) ----

var (
	specOpenID = []Field{
		{Path: "authorization_endpoint", Kind: String}, {Path: "token_endpoint", Kind: String}, {Path: "issuer", Kind: String},
	}
	specDeviceCode = []Field{
		{Path: "user_code", Kind: String}, {Path: "device_code", Kind: String}, {Path: "verification_uri", Kind: String},
		{Path: "expires_in", Kind: Integer}, {Path: "interval", Kind: Integer}, {Path: "message", Kind: String},
	}
	specToken = []Field{
		{Path: "token_type", Kind: String}, {Path: "scope", Kind: String}, {Path: "expires_in", Kind: Integer},
		{Path: "access_token", Kind: String}, {Path: "id_token", Kind: String}, {Path: "client_info", Kind: String},
		{Path: "refresh_token", Kind: String},
	}
	// The id_token claims MSAL turns into an Account.
	specIDTokenClaims = []Field{
		{Path: "oid", Kind: String}, {Path: "preferred_username", Kind: String}, {Path: "tid", Kind: String}, {Path: "name", Kind: String},
	}
	// client_info, base64url JSON: HomeAccountID = uid.utid.
	specClientInfo = []Field{{Path: "uid", Kind: String}, {Path: "utid", Kind: String}}
	// Microsoft's AADSTS error body (m365-api.md §1.3), which auth.Classify
	// parses out of MSAL's error text.
	specAADError = []Field{
		{Path: "error", Kind: String}, {Path: "error_description", Kind: String},
		{Path: "error_codes", Kind: Array}, {Path: "error_codes[]", Kind: Integer},
		{Path: "trace_id", Kind: String}, {Path: "correlation_id", Kind: String}, {Path: "timestamp", Kind: String},
	}
)
