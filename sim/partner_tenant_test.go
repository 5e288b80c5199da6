package sim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// exoCall posts one cmdlet to the partner simulator's Exchange admin API.
func exoCall(t *testing.T, s *PartnerServer, urlTenant, token, anchor, cmdlet string, params map[string]any) ptResp {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"CmdletInput": map[string]any{"CmdletName": cmdlet, "Parameters": params}})
	req, _ := http.NewRequest("POST", s.URL()+"/exchange/adminapi/beta/"+urlTenant+"/InvokeCommand", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	if anchor != "" {
		req.Header.Set("X-AnchorMailbox", anchor)
	}
	resp, err := s.Endpoints().HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := ptResp{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &out.body)
	return out
}

// TestPartnerCustomerTenantsServeTheSingleTenantModel: a partner user's
// customer token reaches that customer's own tenant (Graph by the token's
// tid, Exchange by the URL's tenant) and acts with its GDAP roles there.
func TestPartnerCustomerTenantsServeTheSingleTenantModel(t *testing.T) {
	t.Parallel()
	sc := GeneratePartnerScenario(25, 4)
	// One partial customer without Exchange Administrator.
	noEXA := []string{"Cloud Application Administrator", "Privileged Role Administrator", "Global Reader"}
	for i, c := range sc.Customers {
		if c.Lane == LanePartial {
			sc.Customers[i].Relationships[0].Roles = noEXA
			sc.Customers[i].Relationships[0].Assignments[0].Roles = noEXA
			break
		}
	}
	s, _ := ptStart(t, sc)
	_, rt := ptSignIn(t, s, "https://graph.microsoft.com/.default")
	ready, partial := ptCustomerOf(sc, LaneReady), ptCustomerOf(sc, LanePartial)
	for _, c := range []CustomerSpec{ready, partial} {
		s.mu.Lock()
		s.customers[strings.ToLower(c.TenantID)].consented = true
		s.mu.Unlock()
	}
	tok := func(c CustomerSpec, scope string) string {
		r := ptRedeem(t, s, c.TenantID, rt, scope)
		if r.status != 200 {
			t.Fatalf("%s token: %s", c.DisplayName, r.raw)
		}
		return r.body["access_token"].(string)
	}
	g, x := tok(ready, "https://graph.microsoft.com/.default"), tok(ready, "https://outlook.office365.com/.default")
	tid := strings.ToLower(ready.TenantID)

	// Graph is the customer's own directory: its licences and service
	// principals; /me does not resolve for a partner user.
	if r := ptDo(t, s, "GET", "/graph/v1.0/subscribedSkus", g, nil, nil); r.status != 200 || !strings.Contains(r.raw, "EXCHANGE_S_STANDARD") {
		t.Fatalf("customer subscribedSkus: %d %s", r.status, clip(r.raw))
	}
	if r := ptDo(t, s, "GET", "/graph/v1.0/me/transitiveMemberOf/microsoft.graph.directoryRole", g, nil, nil); r.status != 404 {
		t.Fatalf("customer /me/…: %d, want 404", r.status)
	}
	// A write the GDAP roles allow (Cloud Application Administrator).
	sp := ptDo(t, s, "POST", "/graph/v1.0/servicePrincipals", g, map[string]any{"appId": DefaultPlatformAppID}, nil)
	if sp.status != 201 {
		t.Fatalf("create SP over GDAP: %d %s", sp.status, clip(sp.raw))
	}
	found := false
	for _, x := range s.TenantState(tid).Snapshot().ServicePrincipals {
		found = found || strings.EqualFold(x.AppID, DefaultPlatformAppID)
	}
	if !found {
		t.Fatal("the service principal is not in the customer's tenant state")
	}

	// Exchange: anchored at the system mailbox, the URL tenant = the token's.
	sys := "APP:" + SystemMailboxDefault + "@" + tid
	if r := exoCall(t, s, tid, x, sys, "Get-OrganizationConfig", nil); r.status != 200 {
		t.Fatalf("Get-OrganizationConfig: %d %s", r.status, clip(r.raw))
	}
	if r := exoCall(t, s, tid, x, "UPN:"+sc.Partner.Users[0].UPN, "Get-OrganizationConfig", nil); r.status != 400 || !strings.Contains(r.raw, "system mailbox") {
		t.Fatalf("partner UPN anchor: %d %s", r.status, clip(r.raw))
	}
	if r := exoCall(t, s, tid, x, sys, "Set-AdminAuditLogConfig", map[string]any{"UnifiedAuditLogIngestionEnabled": true}); r.status != 400 || !strings.Contains(r.raw, "Cmdlet needs proxy") {
		t.Fatalf("Set-AdminAuditLogConfig at the default system mailbox: %d %s", r.status, clip(r.raw))
	}
	audit := "UPN:" + SystemMailboxAudit + "@" + simInitialDomain(ready.Domain)
	if r := exoCall(t, s, tid, x, audit, "Set-AdminAuditLogConfig", map[string]any{"UnifiedAuditLogIngestionEnabled": true}); r.status != 200 {
		t.Fatalf("Set-AdminAuditLogConfig at the audit mailbox: %d %s", r.status, clip(r.raw))
	}
	// The partner tenant's own Exchange token, or another customer's URL.
	other := strings.ToLower(partial.TenantID)
	if r := exoCall(t, s, other, x, "APP:"+SystemMailboxDefault+"@"+other, "Get-OrganizationConfig", nil); r.status != 401 {
		t.Fatalf("URL tenant ≠ token tenant: %d %s", r.status, clip(r.raw))
	}
	// Without Exchange Administrator over GDAP: no management role.
	px := tok(partial, "https://outlook.office365.com/.default")
	if r := exoCall(t, s, other, px, "APP:"+SystemMailboxDefault+"@"+other, "Get-OrganizationConfig", nil); r.status != 403 {
		t.Fatalf("no Exchange Administrator: %d %s", r.status, clip(r.raw))
	}
	// The log keeps the system-mailbox anchor, never a user's name.
	var anchors []string
	for _, rec := range s.Requests() {
		if rec.Group == GroupExchange {
			anchors = append(anchors, rec.Anchor)
			if strings.Contains(rec.Anchor, "@msp-demo") {
				t.Fatalf("a user anchor reached the log: %q", rec.Anchor)
			}
		}
	}
	if len(anchors) != 6 || anchors[0] != sys || anchors[1] != "UPN:…" || anchors[3] != audit {
		t.Fatalf("logged anchors %q", anchors)
	}
}
