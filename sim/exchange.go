package sim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// exoAudiences are accepted on Exchange bearer tokens.
var exoAudiences = []string{"https://outlook.office365.com", AppIDExchangeOnline}

// exoKnownRoles are Exchange Online management roles that exist in every
// organization (the ones New-ManagementRoleAssignment accepts by name).
var exoKnownRoles = []string{
	"Audit Logs", "Mail Recipients", "Organization Configuration", "Transport Rules", "Role Management",
	"Address Lists", "ApplicationImpersonation", "Compliance Admin", "Data Loss Prevention", "Distribution Groups",
	"E-Mail Address Policies", "Federated Sharing", "Information Rights Management", "Journaling", "Legal Hold",
	"Mail Enabled Public Folders", "Mail Recipient Creation", "Mail Tips", "Mailbox Import Export", "Mailbox Search",
	"Message Tracking", "Migration", "Move Mailboxes", "Org Custom Apps", "Org Marketplace Apps", "Public Folders",
	"Recipient Policies", "Remote and Accepted Domains", "Reset Password", "Retention Management",
	"Security Group Creation and Membership", "Team Mailboxes", "TeamMailboxLifecycleApplication", "Transport Hygiene",
	"User Options", "View-Only Audit Logs", "View-Only Configuration", "View-Only Recipients",
}

func stExoCanonicalRole(name string) string {
	for _, r := range exoKnownRoles {
		if strings.EqualFold(r, name) {
			return r
		}
	}
	return name
}

func (st *State) exoRoleExists(name string) bool {
	for _, r := range exoKnownRoles {
		if strings.EqualFold(r, name) {
			return true
		}
	}
	return st.exoHasRole(name)
}

const (
	exoDehydratedText = "The command you tried to run isn't currently allowed in your organization. To run this command, you first need to run the command: Enable-OrganizationCustomization."
	exoNotRequired    = "This operation is not required. Organization is already enabled for customization."
)

// exoError is an error from a cmdlet, rendered in Exchange's shape.
type exoError struct {
	status   int
	code     string // NotFound | BadRequest | InternalServerError | Forbidden
	id       string // Ex6F9304
	exType   string // Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException
	text     string
	category string // FailureCategory, e.g. Cmdlet-InvalidOperationInDehydratedContextException
}

type exoCtx struct {
	st     *State
	w      http.ResponseWriter
	r      *http.Request
	reqID  string
	base   string
	tenant string
	p      Principal
	user   *stUser
}

// ExchangeHandler serves POST /adminapi/beta/{tenant}/InvokeCommand (mounted
// with its prefix stripped).
func (st *State) ExchangeHandler() http.Handler { return http.HandlerFunc(st.serveExchange) }

func (st *State) serveExchange(w http.ResponseWriter, r *http.Request) {
	c := &exoCtx{st: st, w: w, r: r, reqID: simNewGUID(), base: stRequestBase(r)}
	h := w.Header()
	h.Set("request-id", c.reqID)
	if cid := r.Header.Get("client-request-id"); cid != "" {
		h.Set("client-request-id", cid)
	}
	h.Set("X-CalculatedBETarget", "SIM0PR01MB0001.namprd00.prod.outlook.com")

	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(segs) != 4 || segs[0] != "adminapi" || segs[1] != "beta" || !strings.EqualFold(segs[3], "InvokeCommand") {
		c.plainError(http.StatusNotFound, "NotFound", "The requested resource does not exist.")
		return
	}
	c.tenant = segs[2]
	if r.Method != http.MethodPost {
		c.plainError(http.StatusMethodNotAllowed, "MethodNotAllowed", "The HTTP method is not allowed; use POST.")
		return
	}
	if !c.authenticate() {
		return
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var body struct {
		CmdletInput struct {
			CmdletName string         `json:"CmdletName"`
			Parameters map[string]any `json:"Parameters"`
		} `json:"CmdletInput"`
	}
	if err == nil {
		err = json.Unmarshal(b, &body)
	}
	if err == nil {
		simNoteCmdlet(r, body.CmdletInput.CmdletName, body.CmdletInput.Parameters)
	}
	if err != nil || strings.TrimSpace(body.CmdletInput.CmdletName) == "" {
		c.plainError(http.StatusBadRequest, "BadRequest", "The request body is not a valid CmdletInput.")
		return
	}

	// Render under the lock, write to the network after it is released.
	buf, unlock := st.lockForResponse(w)
	defer unlock()
	c.w = buf
	if !strings.EqualFold(c.tenant, st.tenantID) && !strings.EqualFold(c.tenant, st.initialDomain) {
		c.plainError(http.StatusNotFound, "NotFound", "Tenant '"+c.tenant+"' could not be found.")
		return
	}
	if !strings.EqualFold(c.p.TenantID, st.tenantID) {
		c.plainError(http.StatusUnauthorized, "Unauthorized", "The access token was issued for another tenant.")
		return
	}
	c.user = st.userByID(c.p.ObjectID)
	if c.user == nil && c.p.UPN != "" {
		c.user = st.userByUPN(c.p.UPN)
	}
	if c.user == nil {
		c.user = st.delegatedUser(c.p)
		if c.user != nil && !c.gdapAnchorOK(body.CmdletInput.CmdletName) {
			return
		}
	}
	if c.user == nil || (c.user.HomeTenant != "" && c.user.gdap == nil) {
		c.plainError(http.StatusUnauthorized, "Unauthorized", "The user in the access token does not exist in the organization.")
		return
	}
	if !st.hasAnyRole(c.user.ID, RoleGlobalAdministrator, RoleExchangeAdministrator) && !c.user.hasGDAPRole(RoleGlobalAdministrator, RoleExchangeAdministrator) {
		c.plainError(http.StatusForbidden, "Forbidden", "The user \""+c.user.UPN+"\" isn't assigned to any management roles.")
		return
	}
	params := exoParams(body.CmdletInput.Parameters)
	rows, xerr := c.run(body.CmdletInput.CmdletName, params)
	if xerr != nil {
		c.cmdletError(body.CmdletInput.CmdletName, xerr)
		return
	}
	if rows == nil {
		rows = []map[string]any{}
	}
	c.writeJSON(http.StatusOK, map[string]any{
		"@odata.context": c.base + "/adminapi/beta/" + c.tenant + "/$metadata#Collection(Exchange.GenericHashTable)",
		"value":          rows,
	})
}

func (c *exoCtx) authenticate() bool {
	auth := c.r.Header.Get("Authorization")
	fail := func(msg string) bool {
		c.w.Header().Set("WWW-Authenticate", `Bearer client_id="00000002-0000-0ff1-ce00-000000000000", trusted_issuers="00000001-0000-0000-c000-000000000000@*", token_types="app_asserted_user_v1 service_asserted_app_v1", error="invalid_token"`)
		c.plainError(http.StatusUnauthorized, "Unauthorized", msg)
		return false
	}
	if len(auth) < 8 || !strings.EqualFold(auth[:7], "bearer ") || c.st.Tokens == nil {
		return fail("The request requires a bearer token.")
	}
	p, fault := c.st.bearer(auth, exoAudiences, c.base)
	switch fault {
	case tokenUnknown:
		return fail("The token is not valid.")
	case tokenExpired:
		return fail("The token has expired.")
	case tokenWrongAudience:
		return fail("The audience of the token is not valid for Exchange Online.")
	}
	c.p = p
	return true
}

func (c *exoCtx) writeJSON(status int, v any) {
	c.w.Header().Set("Content-Type", "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8")
	b, _ := json.Marshal(v)
	c.w.WriteHeader(status)
	_, _ = c.w.Write(b)
}

// plainError is a protocol-level error (not a cmdlet failure).
func (c *exoCtx) plainError(status int, code, msg string) {
	c.writeJSON(status, map[string]any{"error": map[string]any{"code": code, "message": msg}})
}

// cmdletError is a cmdlet failure in Exchange's InvokeCommand error shape.
func (c *exoCtx) cmdletError(cmdlet string, e *exoError) {
	inner := map[string]any{
		"message":    e.text,
		"type":       "Microsoft.Exchange.Admin.OData.Core.ODataServiceException",
		"stacktrace": "",
		"internalexception": map[string]any{
			"message": e.text, "type": e.exType, "stacktrace": "",
		},
	}
	if e.category != "" {
		inner["FailureCategory"] = e.category
	}
	c.writeJSON(e.status, map[string]any{"error": map[string]any{
		"code":            e.code,
		"message":         "Error executing cmdlet",
		"details":         []any{map[string]any{"code": "Client", "target": "", "message": e.id + "|" + e.exType + "|" + e.text}},
		"innererror":      inner,
		"adminapi.cmdlet": cmdlet,
	}})
}

// exoParams normalizes parameter names to lower case.
func exoParams(in map[string]any) map[string]any {
	out := make(map[string]any, len(in))
	for k, v := range in {
		out[strings.ToLower(strings.TrimPrefix(k, "-"))] = v
	}
	return out
}

func exoString(p map[string]any, name string) string {
	switch v := p[strings.ToLower(name)].(type) {
	case string:
		return strings.TrimSpace(v)
	case []any:
		if len(v) == 1 {
			if s, ok := v[0].(string); ok {
				return strings.TrimSpace(s)
			}
		}
	}
	return ""
}

// exoBool parses a SwitchParameter/bool that may arrive as true, "true" or "$true".
func exoBool(p map[string]any, name string) (val, present, ok bool) {
	v, present := p[strings.ToLower(name)]
	if !present {
		return false, false, true
	}
	switch x := v.(type) {
	case bool:
		return x, true, true
	case string:
		switch strings.ToLower(strings.TrimPrefix(strings.TrimSpace(x), "$")) {
		case "true", "1":
			return true, true, true
		case "false", "0":
			return false, true, true
		}
	case float64:
		return x != 0, true, true
	}
	return false, true, false
}

func exoDehydrated() *exoError {
	return &exoError{status: http.StatusBadRequest, code: "BadRequest", id: "Ex5E8EA4",
		exType:   "Microsoft.Exchange.Configuration.Tasks.InvalidOperationInDehydratedContextException",
		text:     exoDehydratedText,
		category: "Cmdlet-InvalidOperationInDehydratedContextException"}
}

func exoNotFound(obj string) *exoError {
	return &exoError{status: http.StatusNotFound, code: "NotFound", id: "Ex6F9304",
		exType: "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException",
		text:   fmt.Sprintf("The operation couldn't be performed because object '%s' couldn't be found on 'SIM0PR01A001DC01.NAMPRD00.PROD.OUTLOOK.COM'.", obj)}
}

func exoBadParam(text string) *exoError {
	return &exoError{status: http.StatusBadRequest, code: "BadRequest", id: "Ex2B7D41",
		exType: "System.Management.Automation.ParameterBindingException", text: text,
		category: "Cmdlet-ParameterBindingException"}
}

func (c *exoCtx) run(cmdlet string, p map[string]any) ([]map[string]any, *exoError) {
	st := c.st
	switch strings.ToLower(cmdlet) {
	case "get-organizationconfig":
		return []map[string]any{st.exoOrgConfig()}, nil

	case "enable-organizationcustomization":
		if !st.exoDehydrated {
			return nil, &exoError{status: http.StatusBadRequest, code: "BadRequest", id: "Ex0A1B9C",
				exType: "System.InvalidOperationException", text: exoNotRequired, category: "Cmdlet-InvalidOperationException"}
		}
		st.exoDehydrated = false
		st.recordLocked("exchange", "Enable-OrganizationCustomization", st.initialDomain, c.reqID)
		return nil, nil

	case "get-adminauditlogconfig":
		return []map[string]any{st.exoAuditConfig()}, nil

	case "search-unifiedauditlog":
		return c.searchUnifiedAuditLog(p)

	case "set-adminauditlogconfig":
		v, present, ok := exoBool(p, "UnifiedAuditLogIngestionEnabled")
		if !ok {
			return nil, exoBadParam("Cannot process argument transformation on parameter 'UnifiedAuditLogIngestionEnabled'. Cannot convert value to type System.Boolean.")
		}
		if !present {
			return nil, nil
		}
		if st.exoDehydrated {
			return nil, exoDehydrated()
		}
		st.exoAudit = v
		st.recordLocked("exchange", "Set-AdminAuditLogConfig", fmt.Sprintf("UnifiedAuditLogIngestionEnabled=%t", v), c.reqID)
		return nil, nil

	case "get-rolegroup":
		id := exoString(p, "Identity")
		if id != "" && !strings.EqualFold(id, OrganizationManagement) {
			return nil, exoNotFound(id)
		}
		return []map[string]any{st.exoRoleGroup()}, nil

	case "get-managementroleassignment":
		return c.getAssignments(p)

	case "new-managementroleassignment":
		role := exoString(p, "Role")
		group := exoString(p, "SecurityGroup")
		if role == "" {
			return nil, exoBadParam("Cannot bind argument to parameter 'Role' because it is null or empty.")
		}
		if group == "" {
			return nil, exoBadParam("Parameter set cannot be resolved using the specified named parameters. Specify -SecurityGroup \"Organization Management\".")
		}
		if !strings.EqualFold(group, OrganizationManagement) {
			return nil, exoNotFound(group)
		}
		if st.exoDehydrated {
			return nil, exoDehydrated()
		}
		if !st.exoRoleExists(role) {
			return nil, exoNotFound(role)
		}
		role = stExoCanonicalRole(role)
		if st.exoHasRole(role) {
			return nil, &exoError{status: http.StatusBadRequest, code: "BadRequest", id: "Ex9A43C2",
				exType: "Microsoft.Exchange.Data.Directory.ADObjectAlreadyExistsException",
				text:   fmt.Sprintf("The role assignment \"%s-%s\" already exists. Role assignment names must be unique.", role, OrganizationManagement)}
		}
		a := stExoAssignment{Role: role, Guid: st.newGUID()}
		st.exoRoles = append(st.exoRoles, a)
		st.recordLocked("exchange", "New-ManagementRoleAssignment", role+" -> "+OrganizationManagement, c.reqID)
		return []map[string]any{st.exoAssignmentRow(a)}, nil

	case "remove-managementroleassignment":
		id := exoString(p, "Identity")
		if id == "" {
			return nil, exoBadParam("Cannot bind argument to parameter 'Identity' because it is null or empty.")
		}
		if st.exoDehydrated {
			return nil, exoDehydrated()
		}
		for i, a := range st.exoRoles {
			if strings.EqualFold(id, a.Guid) || strings.EqualFold(id, a.Role+"-"+OrganizationManagement) {
				st.exoRoles = append(st.exoRoles[:i:i], st.exoRoles[i+1:]...)
				st.recordLocked("exchange", "Remove-ManagementRoleAssignment", a.Role+" -> "+OrganizationManagement, c.reqID)
				return nil, nil
			}
		}
		return nil, exoNotFound(id)
	}
	return nil, &exoError{status: http.StatusBadRequest, code: "BadRequest", id: "Ex1D7C2E",
		exType:   "System.Management.Automation.CommandNotFoundException",
		text:     fmt.Sprintf("The term '%s' is not recognized as a name of a cmdlet, function, script file, or executable program.", cmdlet),
		category: "Cmdlet-CommandNotFoundException"}
}

func (c *exoCtx) getAssignments(p map[string]any) ([]map[string]any, *exoError) {
	st := c.st
	assignee := exoString(p, "RoleAssignee")
	role := exoString(p, "Role")
	if assignee != "" && !strings.EqualFold(assignee, OrganizationManagement) {
		// Only the Organization Management role group is modelled.
		if st.userByUPN(assignee) == nil {
			return nil, exoNotFound(assignee)
		}
		return nil, nil
	}
	if role != "" && !st.exoRoleExists(role) {
		return nil, exoNotFound(role)
	}
	if d, present, ok := exoBool(p, "Delegating"); ok && present && d {
		return nil, nil // no delegating assignments are modelled
	}
	var rows []map[string]any
	for _, a := range st.exoRoles {
		if role != "" && !strings.EqualFold(role, a.Role) {
			continue
		}
		rows = append(rows, st.exoAssignmentRow(a))
	}
	return rows, nil
}

func (st *State) exoAssignmentRow(a stExoAssignment) map[string]any {
	name := a.Role + "-" + OrganizationManagement
	return map[string]any{
		"Name": name, "Identity": name, "Role": a.Role, "RoleAssignee": OrganizationManagement,
		"RoleAssigneeName": OrganizationManagement, "RoleAssigneeType": "RoleGroup", "AssignmentMethod": "Direct",
		"Enabled": true, "RoleAssignmentDelegationType": "Regular", "CustomRecipientWriteScope": nil,
		"RecipientWriteScope": "Organization", "ConfigWriteScope": "OrganizationConfig",
		"Guid": a.Guid, "Id": name, "IsValid": true, "ObjectState": "Unchanged",
		"WhenCreatedUTC": st.created.Add(-300 * 24 * time.Hour).UTC().Format(time.RFC3339),
	}
}

func (st *State) exoRoleGroup() map[string]any {
	roles := st.exoRoleNames()
	assignments := make([]string, 0, len(roles))
	for _, r := range roles {
		assignments = append(assignments, r+"-"+OrganizationManagement)
	}
	return map[string]any{
		"Name": OrganizationManagement, "Identity": OrganizationManagement, "DisplayName": OrganizationManagement,
		"Description": "Members of this management role group have permissions to manage Exchange objects and their properties in the Exchange organization.",
		"Roles":       roles, "RoleAssignments": assignments, "RoleGroupType": "Standard",
		"Members":   []string{"TenantAdmins_" + stNameGUID("tenantadmins", st.tenantID)[:8], "ExchangeServiceAdmins_" + stNameGUID("exadmins", st.tenantID)[:8]},
		"ManagedBy": []string{},
		"Guid":      stNameGUID("rolegroup", st.tenantID+OrganizationManagement),
		"IsValid":   true,
	}
}

func (st *State) exoOrgConfig() map[string]any {
	return map[string]any{
		"Name": st.initialDomain, "DisplayName": st.tenantName, "Identity": st.initialDomain,
		"IsDehydrated": st.exoDehydrated, "AuditDisabled": false, "OAuth2ClientProfileEnabled": true,
		"MailTipsAllTipsEnabled": true, "Guid": stNameGUID("orgconfig", st.tenantID),
		"OrganizationId": st.initialDomain + " - " + st.tenantID, "IsValid": true,
	}
}

func (st *State) exoAuditConfig() map[string]any {
	return map[string]any{
		"Name": "Admin Audit Log Settings", "Identity": "Admin Audit Log Settings",
		"UnifiedAuditLogIngestionEnabled": st.exoAudit, "AdminAuditLogEnabled": true,
		"AdminAuditLogCmdlets": []string{"*"}, "AdminAuditLogParameters": []string{"*"},
		"AuditLogAgeLimit": "90.00:00:00", "LogLevel": "None", "TestCmdletLoggingEnabled": false,
		"UnifiedAuditLogFirstOptInDate": st.exoFirstOptInDate(), "IsValid": true,
	}
}

// exoFirstOptInDate is when unified audit logging was first switched on
// (null when never).
func (st *State) exoFirstOptInDate() any {
	if st.audit.optIn.IsZero() {
		return nil
	}
	return st.audit.optIn.UTC().Format(time.RFC3339)
}
