package sim

import (
	"net/http"
	"strings"
	"testing"
)

// exoDetail splits the first error detail into id, exception type, text.
func exoDetail(t *testing.T, r tResp) (string, string, string) {
	t.Helper()
	e, _ := r.Body["error"].(map[string]any)
	if e == nil || e["message"] != "Error executing cmdlet" {
		t.Fatalf("not a cmdlet error: %s", r.Raw)
	}
	d := e["details"].([]any)[0].(map[string]any)
	if d["code"] != "Client" || d["target"] != "" {
		t.Fatalf("detail %v", d)
	}
	parts := strings.SplitN(d["message"].(string), "|", 3)
	if len(parts) != 3 {
		t.Fatalf("detail message %q", d["message"])
	}
	if _, ok := e["innererror"].(map[string]any); !ok {
		t.Fatalf("no innererror: %s", r.Raw)
	}
	return parts[0], parts[1], parts[2]
}

func TestExchangeAuth(t *testing.T) {
	e := newEnv(t, tScenario())
	target := "/exchange/adminapi/beta/" + tDomain + "/InvokeCommand"
	body := map[string]any{"CmdletInput": map[string]any{"CmdletName": "Get-OrganizationConfig"}}
	cases := []struct {
		name, auth string
		want       int
	}{
		{"no token", "", 401},
		{"graph token", "Bearer " + e.token(tAdmin, tGraphAud), 401},
		{"not an admin", "Bearer " + e.token(tPlain, tExoAud), 403},
		{"foreign tenant", "Bearer " + e.token(tForeign, tExoAud), 401},
		{"exchange admin", "Bearer " + e.token(tExAdmin, tExoAud), 200},
		{"global admin", "Bearer " + e.token(tAdmin, tExoAud), 200},
	}
	for _, c := range cases {
		r := e.call(e.exo, http.MethodPost, target, c.auth, body)
		if r.Status != c.want {
			t.Errorf("%s: %d %s", c.name, r.Status, r.Raw)
		}
		if r.Header.Get("request-id") == "" {
			t.Errorf("%s: no request-id", c.name)
		}
	}
	tok := "Bearer " + e.token(tAdmin, tExoAud)
	if r := e.call(e.exo, http.MethodPost, "/exchange/adminapi/beta/"+tTenant+"/InvokeCommand", tok, body); r.Status != 200 {
		t.Fatalf("tenant id in path: %d", r.Status)
	}
	if r := e.call(e.exo, http.MethodPost, "/exchange/adminapi/beta/fabrikam.onmicrosoft.com/InvokeCommand", tok, body); r.Status != 404 {
		t.Fatalf("other tenant in path: %d", r.Status)
	}
	if r := e.call(e.exo, http.MethodGet, target, tok, nil); r.Status != 405 {
		t.Fatalf("GET: %d", r.Status)
	}
	if r := e.call(e.exo, http.MethodPost, target, tok, `{"nope":1}`); r.Status != 400 {
		t.Fatalf("bad body: %d", r.Status)
	}
}

func TestExchangeReadCmdlets(t *testing.T) {
	e := newEnv(t, tScenario())
	r := e.exoCall(tAdmin, "Get-OrganizationConfig", nil)
	if r.Status != 200 || !strings.HasSuffix(r.Body["@odata.context"].(string), "/adminapi/beta/"+tDomain+"/$metadata#Collection(Exchange.GenericHashTable)") {
		t.Fatalf("%d %s", r.Status, r.Raw)
	}
	oc := r.values(t)[0]
	if oc["IsDehydrated"] != false || oc["Name"] != tDomain {
		t.Fatalf("org config %v", oc)
	}
	ac := e.exoCall(tAdmin, "Get-AdminAuditLogConfig", nil).values(t)[0]
	if ac["UnifiedAuditLogIngestionEnabled"] != true || ac["AdminAuditLogEnabled"] != true || ac["AuditLogAgeLimit"] != "90.00:00:00" {
		t.Fatalf("audit config %v", ac)
	}
	rows := e.exoCall(tAdmin, "Get-ManagementRoleAssignment", map[string]any{"RoleAssignee": OrganizationManagement}).values(t)
	if len(rows) != 3 {
		t.Fatalf("rows %v", rows)
	}
	for _, row := range rows {
		if row["Name"] != row["Role"].(string)+"-Organization Management" || row["RoleAssignee"] != OrganizationManagement || row["RoleAssigneeName"] != OrganizationManagement || row["RoleAssigneeType"] != "RoleGroup" || row["Enabled"] != true || !simIsGUID(row["Guid"].(string)) {
			t.Fatalf("row %v", row)
		}
	}
	if rows := e.exoCall(tAdmin, "Get-ManagementRoleAssignment", map[string]any{"Role": "Mail Recipients"}).values(t); len(rows) != 1 {
		t.Fatalf("by role: %v", rows)
	}
	rg := e.exoCall(tAdmin, "Get-RoleGroup", map[string]any{"Identity": OrganizationManagement}).values(t)[0]
	if strings.Join(toStrings(rg["Roles"]), ",") != "Mail Recipients,Organization Configuration,Role Management" {
		t.Fatalf("role group %v", rg)
	}
	nf := e.exoCall(tAdmin, "Get-RoleGroup", map[string]any{"Identity": "Helpdesk"})
	if _, typ, _ := exoDetail(t, nf); nf.Status != 404 || !strings.HasSuffix(typ, "ManagementObjectNotFoundException") {
		t.Fatalf("unknown role group: %d %s", nf.Status, nf.Raw)
	}
	unk := e.exoCall(tAdmin, "Get-Mailbox", nil)
	if _, typ, text := exoDetail(t, unk); unk.Status != 400 || !strings.Contains(typ, "CommandNotFoundException") || !strings.Contains(text, "Get-Mailbox") {
		t.Fatalf("unknown cmdlet: %s", unk.Raw)
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func TestExchangeRoleAssignmentWrites(t *testing.T) {
	e := newEnv(t, tScenario())
	r := e.exoCall(tAdmin, "New-ManagementRoleAssignment", map[string]any{"Role": "audit logs", "SecurityGroup": OrganizationManagement})
	if r.Status != 200 {
		t.Fatalf("%d %s", r.Status, r.Raw)
	}
	if row := r.values(t)[0]; row["Role"] != "Audit Logs" || row["Name"] != "Audit Logs-Organization Management" {
		t.Fatalf("new row %v", row)
	}
	dup := e.exoCall(tExAdmin, "New-ManagementRoleAssignment", map[string]any{"Role": "Audit Logs", "SecurityGroup": OrganizationManagement})
	if _, typ, text := exoDetail(t, dup); dup.Status != 400 || !strings.Contains(typ, "ADObjectAlreadyExistsException") || !strings.Contains(text, "The role assignment \"Audit Logs-Organization Management\" already exists") {
		t.Fatalf("duplicate: %s", dup.Raw)
	}
	if nf := e.exoCall(tAdmin, "New-ManagementRoleAssignment", map[string]any{"Role": "Dragon Taming", "SecurityGroup": OrganizationManagement}); nf.Status != 404 {
		t.Fatalf("unknown role: %d", nf.Status)
	}
	if bad := e.exoCall(tAdmin, "New-ManagementRoleAssignment", map[string]any{"Role": "Transport Rules"}); bad.Status != 400 {
		t.Fatalf("no -SecurityGroup: %d", bad.Status)
	}
	if got := e.st.Snapshot().OrganizationManagementRoles; strings.Join(got, ",") != "Audit Logs,Mail Recipients,Organization Configuration,Role Management" {
		t.Fatalf("snapshot roles %v", got)
	}
	rm := e.exoCall(tAdmin, "Remove-ManagementRoleAssignment", map[string]any{"Identity": "Audit Logs-Organization Management", "Confirm": false})
	if rm.Status != 200 || len(rm.values(t)) != 0 {
		t.Fatalf("remove: %d %s", rm.Status, rm.Raw)
	}
	if rm := e.exoCall(tAdmin, "Remove-ManagementRoleAssignment", map[string]any{"Identity": "Audit Logs-Organization Management"}); rm.Status != 404 {
		t.Fatalf("remove again: %d", rm.Status)
	}
	var ops []string
	for _, c := range e.st.Changes() {
		if c.Service != "exchange" || c.RequestID == "" {
			t.Fatalf("change %+v", c)
		}
		ops = append(ops, c.Op)
	}
	if strings.Join(ops, ",") != "New-ManagementRoleAssignment,Remove-ManagementRoleAssignment" {
		t.Fatalf("changes %v", ops)
	}
}

func TestExchangeAuditConfig(t *testing.T) {
	e := newEnv(t, tScenario())
	for _, c := range []struct {
		in   any
		want bool
	}{{false, false}, {"$true", true}, {"False", false}, {true, true}} {
		r := e.exoCall(tAdmin, "Set-AdminAuditLogConfig", map[string]any{"UnifiedAuditLogIngestionEnabled": c.in})
		if r.Status != 200 {
			t.Fatalf("set %v: %d %s", c.in, r.Status, r.Raw)
		}
		if got := e.exoCall(tAdmin, "Get-AdminAuditLogConfig", nil).values(t)[0]["UnifiedAuditLogIngestionEnabled"]; got != c.want {
			t.Fatalf("after set %v: %v", c.in, got)
		}
	}
	if r := e.exoCall(tAdmin, "Set-AdminAuditLogConfig", map[string]any{"UnifiedAuditLogIngestionEnabled": "maybe"}); r.Status != 400 {
		t.Fatalf("bad bool: %d", r.Status)
	}
	if n := len(e.st.Changes()); n != 4 {
		t.Fatalf("%d changes", n)
	}
}

func TestExchangeDehydrated(t *testing.T) {
	sc := tScenario()
	sc.Exchange.Dehydrated = true
	sc.Exchange.UnifiedAuditLogIngestionEnabled = false
	e := newEnv(t, sc)
	if oc := e.exoCall(tAdmin, "Get-OrganizationConfig", nil).values(t)[0]; oc["IsDehydrated"] != true {
		t.Fatalf("IsDehydrated %v", oc["IsDehydrated"])
	}
	for _, c := range []struct {
		cmdlet string
		params map[string]any
	}{
		{"New-ManagementRoleAssignment", map[string]any{"Role": "Audit Logs", "SecurityGroup": OrganizationManagement}},
		{"Set-AdminAuditLogConfig", map[string]any{"UnifiedAuditLogIngestionEnabled": true}},
		{"Remove-ManagementRoleAssignment", map[string]any{"Identity": "Mail Recipients-Organization Management"}},
	} {
		r := e.exoCall(tAdmin, c.cmdlet, c.params)
		_, typ, text := exoDetail(t, r)
		inner := r.Body["error"].(map[string]any)["innererror"].(map[string]any)
		if r.Status != 400 || text != exoDehydratedText || !strings.HasSuffix(typ, "InvalidOperationInDehydratedContextException") || inner["FailureCategory"] != "Cmdlet-InvalidOperationInDehydratedContextException" {
			t.Fatalf("%s while dehydrated: %d %s", c.cmdlet, r.Status, r.Raw)
		}
	}
	if len(e.st.Changes()) != 0 {
		t.Fatalf("failed cmdlets changed state: %+v", e.st.Changes())
	}
	if r := e.exoCall(tAdmin, "Enable-OrganizationCustomization", nil); r.Status != 200 {
		t.Fatalf("enable: %d %s", r.Status, r.Raw)
	}
	again := e.exoCall(tAdmin, "Enable-OrganizationCustomization", nil)
	if _, typ, text := exoDetail(t, again); again.Status != 400 || typ != "System.InvalidOperationException" || text != exoNotRequired {
		t.Fatalf("enable again: %s", again.Raw)
	}
	if r := e.exoCall(tAdmin, "New-ManagementRoleAssignment", map[string]any{"Role": "Audit Logs", "SecurityGroup": OrganizationManagement}); r.Status != 200 {
		t.Fatalf("after enabling: %d %s", r.Status, r.Raw)
	}
	if r := e.exoCall(tAdmin, "Set-AdminAuditLogConfig", map[string]any{"UnifiedAuditLogIngestionEnabled": true}); r.Status != 200 {
		t.Fatalf("audit after enabling: %d", r.Status)
	}
	snap := e.st.Snapshot()
	if snap.Dehydrated || !snap.UnifiedAuditLogIngestionEnabled {
		t.Fatalf("snapshot %+v", snap)
	}
}
