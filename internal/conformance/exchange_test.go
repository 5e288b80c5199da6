package conformance

import (
	"testing"
)

const orgManagement = "Organization Management"

// exchangeCaptures runs every cmdlet the wizard uses (m365/exchange.go) and
// returns the raw InvokeCommand answers.
func exchangeCaptures(t *testing.T) []capture {
	e := start(t, "typical", nil)
	var out []capture
	add := func(name string, r resp, fs []Field) {
		out = append(out, capture{name: "exchange " + name, body: r.body, fields: fs})
	}
	add("Get-OrganizationConfig", e.exo("Get-OrganizationConfig", nil).want(t, "org config", 200), specOrgConfig)
	add("Get-AdminAuditLogConfig", e.exo("Get-AdminAuditLogConfig", nil).want(t, "audit config", 200), specAuditConfig)
	add("Set-AdminAuditLogConfig", e.exo("Set-AdminAuditLogConfig", map[string]any{"UnifiedAuditLogIngestionEnabled": true}).want(t, "set audit", 200), specExoEmpty)
	add("Get-ManagementRoleAssignment -RoleAssignee",
		e.exo("Get-ManagementRoleAssignment", map[string]any{"RoleAssignee": orgManagement}).want(t, "role assignments", 200), specMgmtRoleAssigment)
	r := e.exo("New-ManagementRoleAssignment", map[string]any{"Role": "Audit Logs", "SecurityGroup": orgManagement}).want(t, "new role assignment", 200)
	add("New-ManagementRoleAssignment", r, specMgmtRoleAssigment)
	guid := str(t, r.body, "value", 0, "Guid")
	add("Remove-ManagementRoleAssignment", e.exo("Remove-ManagementRoleAssignment", map[string]any{"Identity": guid}).want(t, "remove role assignment", 200), specExoEmpty)

	d := start(t, "dehydrated", nil)
	add("Enable-OrganizationCustomization", d.exo("Enable-OrganizationCustomization", nil).want(t, "enable customization", 200), specExoEmpty)
	return out
}

func TestExchangeResponsesCarryWhatTheWizardReads(t *testing.T) {
	caps := exchangeCaptures(t)
	if len(caps) != 7 {
		t.Fatalf("captured %d Exchange responses, want 7", len(caps))
	}
	for _, c := range caps {
		conform(t, c)
	}
}
