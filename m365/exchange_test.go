package m365

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

type cmdletInput struct {
	CmdletInput struct {
		CmdletName string         `json:"CmdletName"`
		Parameters map[string]any `json:"Parameters"`
	} `json:"CmdletInput"`
}

const tenantID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"

func newExchange(t *testing.T, h func(w http.ResponseWriter, r *http.Request, in cmdletInput)) (*Exchange, *fakeClock, string) {
	t.Helper()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/adminapi/beta/"+tenantID+"/InvokeCommand" {
			t.Errorf("%s %s", r.Method, r.URL.Path)
		}
		var in cmdletInput
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			t.Errorf("body: %v", err)
		}
		if r.Header.Get("X-CmdletName") != in.CmdletInput.CmdletName {
			t.Errorf("X-CmdletName %q vs body %q", r.Header.Get("X-CmdletName"), in.CmdletInput.CmdletName)
		}
		h(w, r, in)
	}))
	t.Cleanup(srv.Close)
	x := NewExchange(srv.Client(), srv.URL, tenantID, "admin@contoso.onmicrosoft.com", staticToken)
	clk := &fakeClock{}
	x.SetRetryPolicy(clk.policy())
	return x, clk, srv.URL
}

func exoErr(w http.ResponseWriter, status int, code, detail, reqID string) {
	w.Header().Set("request-id", reqID)
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": code, "message": "Error executing cmdlet",
		"details": []map[string]any{{"code": "Client", "target": "", "message": detail}},
		"innererror": map[string]any{"message": "outer", "type": "Microsoft.Exchange.Admin.OData.Core.ODataServiceException",
			"internalexception": map[string]any{"message": "inner", "type": "System.Management.Automation.RemoteException"}}}})
}

func TestExchangeHeadersBodyAndPaging(t *testing.T) {
	var mu sync.Mutex
	pages := 0
	var base string
	x, _, u := newExchange(t, func(w http.ResponseWriter, r *http.Request, in cmdletInput) {
		mu.Lock()
		defer mu.Unlock()
		pages++
		for k, want := range map[string]string{
			"X-AnchorMailbox": "UPN:admin@contoso.onmicrosoft.com", "X-ResponseFormat": "json",
			"Prefer": "odata.maxpagesize=1000", "Authorization": "Bearer " + testToken, "Content-Type": "application/json",
		} {
			if got := r.Header.Get(k); got != want {
				t.Errorf("%s = %q, want %q", k, got, want)
			}
		}
		if r.Header.Get("client-request-id") == "" || !strings.HasPrefix(r.Header.Get("User-Agent"), "itdr-onboard/") {
			t.Errorf("missing client-request-id / User-Agent")
		}
		if in.CmdletInput.CmdletName != "Get-ManagementRoleAssignment" || in.CmdletInput.Parameters["RoleAssignee"] != "Organization Management" {
			t.Errorf("input %+v", in)
		}
		w.Header().Set("request-id", "req-page")
		if r.URL.Query().Get("$skiptoken") == "" {
			writeJSON(w, 200, map[string]any{"@odata.context": "x", "value": []map[string]any{
				{"Name": "Audit Logs-Organization Management", "Role": "Audit Logs", "RoleAssignee": "Organization Management", "RoleAssigneeType": "RoleGroup", "Enabled": true, "Guid": "g1", "RoleAssignmentDelegationType": "Regular"},
				{"Name": "Audit Logs-Organization Management-Delegating", "Role": "Audit Logs", "RoleAssigneeType": "RoleGroup", "Enabled": true, "Guid": "g2", "RoleAssignmentDelegationType": "DelegatingOrgWide"},
			}, "@odata.nextLink": base + "/adminapi/beta/" + tenantID + "/InvokeCommand?$skiptoken=2"})
			return
		}
		writeJSON(w, 200, map[string]any{"value": []map[string]any{{"Name": "Mail Recipients-Organization Management", "Role": "Mail Recipients", "Enabled": true, "Guid": "g3"}}})
	})
	base = u
	rows, err := x.RoleGroupRoles(context.Background(), "Organization Management")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Role != "Audit Logs" || rows[1].Role != "Mail Recipients" || rows[0].RequestID != "req-page" || pages != 2 {
		t.Fatalf("rows %+v pages %d", rows, pages)
	}
}

func TestExchangeErrorParsing(t *testing.T) {
	x, _, _ := newExchange(t, func(w http.ResponseWriter, r *http.Request, in cmdletInput) {
		exoErr(w, 404, "NotFound", "Ex6F9304|Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException|The operation couldn't be performed because object 'Nope' couldn't be found on 'AM0PR01A001DC01.EURPRD01.PROD.OUTLOOK.COM'.", "req-404")
	})
	_, err := x.Invoke(context.Background(), "Get-RoleGroup", map[string]any{"Identity": "Nope"}, nil)
	var ae *APIError
	if !errors.As(err, &ae) {
		t.Fatalf("%T %v", err, err)
	}
	if ae.Service != "exchange" || ae.Status != 404 || ae.Code != "NotFound" || ae.RequestID != "req-404" ||
		ae.ExceptionType != "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException" ||
		!strings.HasPrefix(ae.Message, "The operation couldn't be performed") || ae.Call != "InvokeCommand Get-RoleGroup" {
		t.Fatalf("%+v", ae)
	}
	if !IsNotFound(err) || IsDehydrated(err) {
		t.Fatal("classifiers")
	}
}

func TestExchangeErrorInternalException(t *testing.T) {
	body := []byte(`{"error":{"code":"InternalServerError","message":"Error executing cmdlet","details":[],
	  "innererror":{"message":"x","type":"Microsoft.Exchange.Admin.OData.Core.ODataServiceException",
	  "internalexception":{"message":"The command you tried to run isn't currently allowed in your organization. To run this command, you first need to run the command: Enable-OrganizationCustomization.",
	  "type":"Microsoft.Exchange.Management.Tasks.InvalidOperationInDehydratedContextException"}}}}`)
	e := ParseExchangeError("InvokeCommand New-ManagementRoleAssignment", 500, nil, body)
	if e.ExceptionType != "Microsoft.Exchange.Management.Tasks.InvalidOperationInDehydratedContextException" || !strings.Contains(e.Message, "Enable-OrganizationCustomization") {
		t.Fatalf("%+v", e)
	}
	if !IsDehydrated(e) {
		t.Fatal("IsDehydrated false")
	}
}

func TestExchangeDehydratedFromDetails(t *testing.T) {
	x, _, _ := newExchange(t, func(w http.ResponseWriter, r *http.Request, in cmdletInput) {
		exoErr(w, 400, "BadRequest", "Ex0A1B2C|Microsoft.Exchange.Management.Tasks.InvalidOperationInDehydratedContextException|The command you tried to run isn't currently allowed in your organization. To run this command, you first need to run the command: Enable-OrganizationCustomization.", "r")
	})
	_, err := x.NewManagementRoleAssignment(context.Background(), "Audit Logs", "Organization Management")
	if !IsDehydrated(err) {
		t.Fatalf("want dehydrated, got %v", err)
	}
}

func TestEnableOrganizationCustomizationAlreadyEnabled(t *testing.T) {
	x, _, _ := newExchange(t, func(w http.ResponseWriter, r *http.Request, in cmdletInput) {
		exoErr(w, 400, "BadRequest", "Ex5E1A2B|System.InvalidOperationException|This operation is not required. Organization is already enabled for customization.", "req-noop")
	})
	// Another session enabled it first: reported (not swallowed), so the
	// record says found, never applied by this run.
	id, err := x.EnableOrganizationCustomization(context.Background())
	if !IsAlreadyCustomized(err) || id != "req-noop" {
		t.Fatalf("id %q err %v", id, err)
	}
}

func TestExchangeConfigsAndSet(t *testing.T) {
	var got []cmdletInput
	x, _, _ := newExchange(t, func(w http.ResponseWriter, r *http.Request, in cmdletInput) {
		got = append(got, in)
		switch in.CmdletInput.CmdletName {
		case "Get-OrganizationConfig":
			writeJSON(w, 200, map[string]any{"value": []map[string]any{{"Name": "contoso.onmicrosoft.com", "IsDehydrated": true, "Other": []int{1}}}})
		case "Get-AdminAuditLogConfig":
			writeJSON(w, 200, map[string]any{"value": []map[string]any{{"UnifiedAuditLogIngestionEnabled": false, "AdminAuditLogEnabled": true}}})
		case "Set-AdminAuditLogConfig":
			w.Header().Set("request-id", "req-set")
			writeJSON(w, 200, map[string]any{"value": []any{}, "@adminapi.warnings": []string{"may take 60 minutes"}})
		}
	})
	oc, err := x.OrganizationConfig(context.Background())
	if err != nil || !oc.IsDehydrated || oc.Name != "contoso.onmicrosoft.com" {
		t.Fatalf("%+v %v", oc, err)
	}
	ac, err := x.AdminAuditLogConfig(context.Background())
	if err != nil || ac.UnifiedAuditLogIngestionEnabled || !ac.AdminAuditLogEnabled {
		t.Fatalf("%+v %v", ac, err)
	}
	id, err := x.SetUnifiedAuditLogIngestion(context.Background(), true)
	if err != nil || id != "req-set" {
		t.Fatalf("%q %v", id, err)
	}
	if got[2].CmdletInput.Parameters["UnifiedAuditLogIngestionEnabled"] != true {
		t.Fatalf("params %+v", got[2].CmdletInput.Parameters)
	}
}

func TestExchangeRateLimitReset(t *testing.T) {
	n := 0
	x, clk, _ := newExchange(t, func(w http.ResponseWriter, r *http.Request, in cmdletInput) {
		n++
		if n == 1 {
			w.Header().Set("Rate-Limit-Remaining", "0")
			w.Header().Set("Rate-Limit-Reset", "4")
			exoErr(w, 429, "TooManyRequests", "", "r429")
			return
		}
		writeJSON(w, 200, map[string]any{"value": []map[string]any{{"UnifiedAuditLogIngestionEnabled": true}}})
	})
	ac, err := x.AdminAuditLogConfig(context.Background())
	if err != nil || !ac.UnifiedAuditLogIngestionEnabled {
		t.Fatalf("%+v %v", ac, err)
	}
	if s := clk.Sleeps(); len(s) != 1 || s[0] != 4*time.Second {
		t.Fatalf("sleeps %v", s)
	}
}

// exoRoles is a role group whose New-ManagementRoleAssignment can lose its
// answer after acting.
type exoRoles struct {
	mu    sync.Mutex
	roles []string
	news  int
	lose  bool
}

func (e *exoRoles) handle(t *testing.T) func(w http.ResponseWriter, r *http.Request, in cmdletInput) {
	return func(w http.ResponseWriter, r *http.Request, in cmdletInput) {
		e.mu.Lock()
		defer e.mu.Unlock()
		p := in.CmdletInput.Parameters
		switch in.CmdletInput.CmdletName {
		case "Get-ManagementRoleAssignment":
			var rows []map[string]any
			for _, role := range e.roles {
				rows = append(rows, map[string]any{"Name": role + "-Organization Management", "Role": role, "RoleAssignee": p["RoleAssignee"], "Enabled": true})
			}
			writeJSON(w, 200, map[string]any{"value": rows})
		case "New-ManagementRoleAssignment":
			e.news++
			role, _ := p["Role"].(string)
			if p["SecurityGroup"] != "Organization Management" {
				t.Errorf("params %v", p)
			}
			for _, have := range e.roles {
				if have == role {
					exoErr(w, 400, "BadRequest", "Ex1|Microsoft.Exchange.Configuration.Tasks.ADObjectAlreadyExistsException|The role assignment object \""+role+"-Organization Management\" already exists.", "rdup")
					return
				}
			}
			e.roles = append(e.roles, role)
			if e.lose {
				e.lose = false
				exoErr(w, 503, "ServiceUnavailable", "", "r503")
				return
			}
			w.Header().Set("request-id", "rnew")
			writeJSON(w, 200, map[string]any{"value": []map[string]any{{"Name": role + "-Organization Management", "Role": role, "Enabled": true}}})
		default:
			t.Errorf("cmdlet %s", in.CmdletInput.CmdletName)
		}
	}
}

func TestNewManagementRoleAssignmentNoDuplicate(t *testing.T) {
	e := &exoRoles{lose: true}
	x, _, _ := newExchange(t, e.handle(t))
	a, err := x.NewManagementRoleAssignment(context.Background(), "Audit Logs", "Organization Management")
	if err != nil || a.Role != "Audit Logs" || e.news != 1 || len(e.roles) != 1 || a.Found {
		t.Fatalf("%+v %v news %d roles %v", a, err, e.news, e.roles)
	}
	// Already there: the "already exists" answer returns the existing row,
	// reported as Found (someone else's, not made by this call).
	a, err = x.NewManagementRoleAssignment(context.Background(), "Audit Logs", "Organization Management")
	if err != nil || a.Name != "Audit Logs-Organization Management" || len(e.roles) != 1 || !a.Found {
		t.Fatalf("%+v %v", a, err)
	}
	// A normal create.
	a, err = x.NewManagementRoleAssignment(context.Background(), "Transport Rules", "Organization Management")
	if err != nil || a.RequestID != "rnew" || len(e.roles) != 2 || a.Found {
		t.Fatalf("%+v %v", a, err)
	}
}

func TestInvokeNonIdempotentNotRetriedOn503(t *testing.T) {
	n := 0
	x, _, _ := newExchange(t, func(w http.ResponseWriter, r *http.Request, in cmdletInput) {
		n++
		exoErr(w, 503, "ServiceUnavailable", "", "r503")
	})
	_, err := x.Invoke(context.Background(), "New-TransportRule", map[string]any{"Name": "x"}, nil)
	if err == nil || n != 1 {
		t.Fatalf("err %v calls %d", err, n)
	}
}

func TestRemoveManagementRoleAssignmentNotFoundAfterRetry(t *testing.T) {
	n := 0
	x, _, _ := newExchange(t, func(w http.ResponseWriter, r *http.Request, in cmdletInput) {
		n++
		if in.CmdletInput.Parameters["Identity"] != "Audit Logs-Organization Management" {
			t.Errorf("params %v", in.CmdletInput.Parameters)
		}
		if n == 1 {
			exoErr(w, 502, "BadGateway", "", "r502")
			return
		}
		exoErr(w, 404, "NotFound", "Ex6F9304|Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException|couldn't be found", "r404")
	})
	if _, err := x.RemoveManagementRoleAssignment(context.Background(), "Audit Logs-Organization Management"); err != nil {
		t.Fatal(err)
	}
}

func TestNewManagementRoleAssignmentAnswersTheNextRoleRead(t *testing.T) {
	e := &exoRoles{roles: []string{"Audit Logs"}}
	gets := 0
	h := e.handle(t)
	x, _, _ := newExchange(t, func(w http.ResponseWriter, r *http.Request, in cmdletInput) {
		switch in.CmdletInput.CmdletName {
		case "Get-ManagementRoleAssignment":
			gets++
		case "Set-AdminAuditLogConfig":
			writeJSON(w, 200, map[string]any{"value": []any{}})
			return
		}
		h(w, r, in)
	})
	ctx := context.Background()
	const group = "Organization Management"
	if rows, err := x.RoleGroupRoles(ctx, group); err != nil || len(rows) != 1 {
		t.Fatalf("%v %v", rows, err)
	}
	if _, err := x.NewManagementRoleAssignment(ctx, "Transport Rules", group); err != nil {
		t.Fatal(err)
	}
	rows, err := x.RoleGroupRoles(ctx, group)
	if err != nil || len(rows) != 2 || rows[1].Role != "Transport Rules" || !rows[1].Enabled || gets != 1 {
		t.Fatalf("the created assignment was not folded in: %+v %v (%d reads)", rows, err, gets)
	}
	// A read-back asks the service.
	if rows, err = x.RoleGroupRoles(FreshReads(ctx), group); err != nil || len(rows) != 2 || gets != 2 {
		t.Fatalf("fresh read: %+v %v (%d reads)", rows, err, gets)
	}
	// Any other write drops the entry.
	if _, err := x.SetUnifiedAuditLogIngestion(ctx, true); err != nil {
		t.Fatal(err)
	}
	x.RoleGroupRoles(ctx, group)
	if gets != 3 {
		t.Fatalf("a write did not drop the cached roles (%d reads)", gets)
	}
}
