package checks

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"itdr-onboard/m365"
	"itdr-onboard/platform"
)

var t0 = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return t0 }

func mustContain(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s %q does not contain %q", what, got, w)
		}
	}
}

func expect(t *testing.T, r Result, o Outcome, summaryHas ...string) {
	t.Helper()
	if r.Outcome != o {
		t.Fatalf("outcome = %s, want %s (summary %q, err %v)", r.Outcome, o, r.Summary, r.Err)
	}
	mustContain(t, "summary", r.Summary, summaryHas...)
	if o != Pass && o != Skip && r.Remedy == "" {
		t.Errorf("non-pass result without remedy: %q", r.Summary)
	}
}

func ptime(t time.Time) *time.Time { return &t }

// ---- platform.subscription ----

func TestPlatformSubscription(t *testing.T) {
	admin := func(subs ...platform.Subscription) platform.Account {
		return platform.Account{ID: "acc_1", Name: "Northwind MSP", User: "tech@northwind.example", Role: "admin", Subscriptions: subs}
	}
	cases := []struct {
		name    string
		p       *fakePlatform
		outcome Outcome
		has     []string
		remedy  []string
		err     bool
	}{
		{"active", &fakePlatform{acct: admin(platform.Subscription{Product: "itdr", Status: "active", ExpiresAt: ptime(t0.AddDate(1, 0, 0))})},
			Pass, []string{"Northwind MSP", "active until 2027-11-25"}, nil, false},
		// Issue 16 §7: a zero end date is no end date — usable, never shown as 0001-01-01.
		{"active zero date", &fakePlatform{acct: admin(platform.Subscription{Product: "itdr", Status: "active", ExpiresAt: ptime(time.Time{})})},
			Pass, []string{"Northwind MSP", "active"}, nil, false},
		{"trial zero date", &fakePlatform{acct: admin(platform.Subscription{Product: "itdr", Status: "trial", ExpiresAt: ptime(time.Time{})})},
			Pass, []string{"in trial (no end date reported)"}, nil, false},
		{"trial far", &fakePlatform{acct: admin(platform.Subscription{Product: "itdr", Status: "trial", ExpiresAt: ptime(t0.AddDate(0, 0, 30))})},
			Pass, []string{"trial until 2026-12-25"}, nil, false},
		{"trial expiring", &fakePlatform{acct: admin(platform.Subscription{Product: "itdr", Status: "trial", ExpiresAt: ptime(t0.AddDate(0, 0, 3))})},
			Pass, []string{"trial until 2026-11-28", "ends in 3 days"}, nil, false},
		{"trial past end", &fakePlatform{acct: admin(platform.Subscription{Product: "itdr", Status: "trial", ExpiresAt: ptime(t0.AddDate(0, 0, -1))})},
			Fail, []string{"no usable ITDR subscription", "ended 2026-11-24"}, []string{"renew"}, false},
		{"expired", &fakePlatform{acct: admin(platform.Subscription{Product: "itdr", Status: "expired", ExpiresAt: ptime(t0.AddDate(0, -1, 0))})},
			Fail, []string{"no usable ITDR subscription", "expired"}, []string{"renew the ITDR subscription"}, false},
		{"cancelled", &fakePlatform{acct: admin(platform.Subscription{Product: "itdr", Status: "cancelled"})},
			Fail, []string{"cancelled"}, []string{"renew"}, false},
		{"other product only", &fakePlatform{acct: admin(platform.Subscription{Product: "edr", Status: "active"})},
			Fail, []string{"has no ITDR subscription"}, []string{"trial"}, false},
		{"active beats expired", &fakePlatform{acct: admin(
			platform.Subscription{Product: "itdr", Status: "expired"},
			platform.Subscription{Product: "ITDR", Status: "active"})},
			Pass, []string{"ITDR subscription active"}, nil, false},
		{"active beats trial", &fakePlatform{acct: admin(
			platform.Subscription{Product: "itdr", Status: "trial", ExpiresAt: ptime(t0.AddDate(0, 0, 2))},
			platform.Subscription{Product: "itdr", Status: "active"},
			platform.Subscription{Product: "itdr", Status: "trial", ExpiresAt: ptime(t0.AddDate(0, 0, 1))})},
			Pass, []string{"ITDR subscription active"}, nil, false},
		{"trial ends today", &fakePlatform{acct: admin(platform.Subscription{Product: "itdr", Status: "trial", ExpiresAt: ptime(t0.Add(5 * time.Hour))})},
			Pass, []string{"ends in 5 hours"}, nil, false},
		{"not admin", &fakePlatform{acct: platform.Account{Name: "N", User: "u@x", Role: "user",
			Subscriptions: []platform.Subscription{{Product: "itdr", Status: "active"}}}},
			Fail, []string{"u@x", `"user"`, "needs an admin"}, []string{"admin-level"}, false},
		{"401", &fakePlatform{acctErr: &platform.Error{Status: 401, Code: "unauthorized", Call: "GET /v1/account"}},
			Fail, []string{"platform API key rejected"}, []string{"ITDR_API_KEY", "ITDR_API_SECRET"}, true},
		{"403", &fakePlatform{acctErr: &platform.Error{Status: 403, Code: "forbidden", Call: "GET /v1/account"}},
			Fail, []string{"not allowed"}, []string{"ITDR_API_KEY"}, true},
		{"network", &fakePlatform{acctErr: errors.New("dial tcp: connection refused")},
			Fail, []string{"could not read the platform account"}, []string{"network"}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := NewPlatformSubscription(tc.p, fixedNow).Run(context.Background())
			expect(t, r, tc.outcome, tc.has...)
			if strings.Contains(r.Summary, "0001") {
				t.Errorf("zero date shown: %s", r.Summary)
			}
			mustContain(t, "remedy", r.Remedy, tc.remedy...)
			if (r.Err != nil) != tc.err {
				t.Errorf("err = %v, want set=%v", r.Err, tc.err)
			}
		})
	}
	// Without credentials (only `check` runs so): skipped, naming why.
	r := NewPlatformSubscription(nil, nil).Run(context.Background())
	expect(t, r, Skip, "not configured")
	mustContain(t, "remedy", r.Remedy, "ITDR_API_KEY")
}

// ---- graph.exchange-licence ----

func sku(part, status string, enabled int, plans ...string) m365.SKU {
	s := m365.SKU{SkuPartNumber: part, CapabilityStatus: status, PrepaidUnits: m365.PrepaidUnits{Enabled: enabled}}
	for _, p := range plans {
		name, st, _ := strings.Cut(p, "=")
		if st == "" {
			st = "Success"
		}
		s.ServicePlans = append(s.ServicePlans, m365.ServicePlan{ServicePlanName: name, ProvisioningStatus: st})
	}
	return s
}

func TestExchangeLicence(t *testing.T) {
	cases := []struct {
		name    string
		skus    []m365.SKU
		err     error
		outcome Outcome
		has     []string
	}{
		{"enterprise", []m365.SKU{sku("AAD_PREMIUM", "Enabled", 5, "AAD_PREMIUM"), sku("ENTERPRISEPACK", "Enabled", 10, "EXCHANGE_S_FOUNDATION", "EXCHANGE_S_ENTERPRISE")},
			nil, Pass, []string{"ENTERPRISEPACK: EXCHANGE_S_ENTERPRISE"}},
		{"standard", []m365.SKU{sku("O365_BUSINESS_ESSENTIALS", "Enabled", 1, "EXCHANGE_S_STANDARD")}, nil, Pass, []string{"EXCHANGE_S_STANDARD"}},
		{"essentials", []m365.SKU{sku("EXCHANGE_ESSENTIALS", "Enabled", 1, "EXCHANGE_S_ESSENTIALS")}, nil, Pass, []string{"EXCHANGE_S_ESSENTIALS"}},
		{"deskless", []m365.SKU{sku("DESKLESSPACK", "Enabled", 1, "EXCHANGE_S_DESKLESS")}, nil, Pass, []string{"EXCHANGE_S_DESKLESS"}},
		{"gov", []m365.SKU{sku("ENTERPRISEPACK_GOV", "Enabled", 1, "EXCHANGE_S_ENTERPRISE_GOV")}, nil, Pass, []string{"EXCHANGE_S_ENTERPRISE_GOV"}},
		{"foundation only", []m365.SKU{sku("AAD_PREMIUM_P2", "Enabled", 5, "EXCHANGE_S_FOUNDATION", "AAD_PREMIUM_P2")},
			nil, Fail, []string{"only EXCHANGE_S_FOUNDATION", "AAD_PREMIUM_P2", "not an Exchange Online mailbox licence"}},
		{"suspended", []m365.SKU{sku("ENTERPRISEPACK", "Suspended", 10, "EXCHANGE_S_ENTERPRISE")},
			nil, Fail, []string{"not usable", "EXCHANGE_S_ENTERPRISE in ENTERPRISEPACK", "subscription Suspended"}},
		{"no units", []m365.SKU{sku("ENTERPRISEPACK", "Enabled", 0, "EXCHANGE_S_ENTERPRISE")},
			nil, Fail, []string{"no enabled licences"}},
		{"plan disabled", []m365.SKU{sku("ENTERPRISEPACK", "Enabled", 3, "EXCHANGE_S_ENTERPRISE=Disabled")},
			nil, Fail, []string{"plan Disabled"}},
		{"enabled beside a suspended one", []m365.SKU{sku("ENTERPRISEPACK", "Suspended", 10, "EXCHANGE_S_ENTERPRISE"), sku("O365_BUSINESS_ESSENTIALS", "Enabled", 1, "EXCHANGE_S_STANDARD")},
			nil, Pass, []string{"O365_BUSINESS_ESSENTIALS: EXCHANGE_S_STANDARD"}},
		{"none", []m365.SKU{sku("POWER_BI_STANDARD", "Enabled", 1, "BI_AZURE_P0")}, nil, Fail, []string{"none of the tenant's 1 subscriptions"}},
		{"empty", nil, nil, Fail, []string{"no subscriptions"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := NewExchangeLicence(&fakeGraph{skus: tc.skus, skusErr: tc.err}).Run(context.Background())
			expect(t, r, tc.outcome, tc.has...)
			if tc.outcome == Fail {
				mustContain(t, "remedy", r.Remedy, "Exchange Online")
			}
		})
	}
	r := NewExchangeLicence(&fakeGraph{skusErr: errors.New("403 Authorization_RequestDenied")}).Run(context.Background())
	expect(t, r, Fail, "could not read")
	if r.Err == nil {
		t.Error("undecided result without Err")
	}
	expect(t, NewExchangeLicence(nil).Run(context.Background()), Skip, "not signed in")
}

// Issue 16 §5: every documented subscribedSku.capabilityStatus value
// (Microsoft Graph "subscribedSku resource type" / assignedPlan
// "capabilityStatus values": Enabled, Warning, Suspended, LockedOut, Deleted)
// and every servicePlanInfo.provisioningStatus value (Success, Disabled,
// Error, PendingInput, PendingActivation, PendingProvisioning) has its own
// outcome, summary and remedy; an unknown or missing value is named, never
// taken for a usable licence.
func TestExchangeLicenceEveryCapabilityStatus(t *testing.T) {
	cases := []struct {
		status  string
		outcome Outcome
		summary []string
		remedy  string
	}{
		{"Enabled", Pass, []string{"licence found", "ENTERPRISEPACK: EXCHANGE_S_ENTERPRISE"}, ""},
		{"Warning", Warn, []string{"grace period", "ENTERPRISEPACK: EXCHANGE_S_ENTERPRISE", "keeps working"}, "renew the subscription"},
		{"Suspended", Fail, []string{"subscription Suspended", "data is kept"}, "reactivate or renew"},
		{"LockedOut", Fail, []string{"subscription LockedOut", "cancelled"}, "reactivate or renew"},
		{"Deleted", Fail, []string{"subscription Deleted"}, "add a subscription that includes Exchange Online"},
		{"", Fail, []string{"subscription status not reported"}, "Billing → Your products"},
		{"Frozen", Fail, []string{`subscription status "Frozen", which this version does not know`}, "Billing → Your products"},
	}
	for _, tc := range cases {
		t.Run("capability "+tc.status, func(t *testing.T) {
			t.Parallel()
			s := sku("ENTERPRISEPACK", tc.status, 0, "EXCHANGE_S_ENTERPRISE")
			// Units sit in the bucket Microsoft reports for the state.
			switch tc.status {
			case "Warning":
				s.PrepaidUnits.Warning = 10
			case "Suspended":
				s.PrepaidUnits.Suspended = 10
			case "LockedOut":
				s.PrepaidUnits.LockedOut = 10
			default:
				s.PrepaidUnits.Enabled = 10
			}
			r := NewExchangeLicence(&fakeGraph{skus: []m365.SKU{s}}).Run(context.Background())
			expect(t, r, tc.outcome, tc.summary...)
			if tc.remedy != "" {
				mustContain(t, "remedy", r.Remedy, tc.remedy)
			}
		})
	}
}

func TestExchangeLicenceEveryProvisioningStatus(t *testing.T) {
	cases := []struct {
		status  string
		outcome Outcome
		summary string
		remedy  string
	}{
		{"Success", Pass, "licence found", ""},
		{"Disabled", Fail, "plan Disabled: Exchange Online is turned off", "turn Exchange Online back on"},
		{"Error", Fail, "plan Error: Microsoft could not provision", "Microsoft support request"},
		{"PendingInput", Fail, "plan PendingInput: Exchange Online is not provisioned yet", "wait for Microsoft to finish provisioning"},
		{"PendingActivation", Fail, "plan PendingActivation: Exchange Online is provisioned but an administrator must activate it", "activate Exchange Online"},
		{"PendingProvisioning", Fail, "plan PendingProvisioning", "wait for Microsoft to finish provisioning"},
		{"Sleeping", Fail, `plan status "Sleeping", which this version does not know`, "Billing → Your products"},
	}
	for _, tc := range cases {
		t.Run("provisioning "+tc.status, func(t *testing.T) {
			t.Parallel()
			s := sku("ENTERPRISEPACK", "Enabled", 5, "EXCHANGE_S_ENTERPRISE="+tc.status)
			r := NewExchangeLicence(&fakeGraph{skus: []m365.SKU{s}}).Run(context.Background())
			expect(t, r, tc.outcome, tc.summary)
			if tc.remedy != "" {
				mustContain(t, "remedy", r.Remedy, tc.remedy)
			}
		})
	}
}

// graceGraph adds the directory subscriptions to the fake Graph.
type graceGraph struct {
	*fakeGraph
	subs []m365.CompanySubscription
	err  error
}

func (g graceGraph) DirectorySubscriptions(context.Context) ([]m365.CompanySubscription, error) {
	return g.subs, g.err
}

// A licence in its grace period passes with a warning naming the day the
// grace period ends: the nextLifecycleDateTime of the SKU's subscription in
// Warning (the earliest, when several are); a missing date or an unreadable
// list is said as such, never shown as 0001-01-01.
func TestExchangeLicenceGracePeriodNamesItsEnd(t *testing.T) {
	t.Parallel()
	s := sku("ENTERPRISEPACK", "Warning", 0, "EXCHANGE_S_ENTERPRISE")
	s.SkuID, s.PrepaidUnits.Warning = "sku-e3", 10
	end := time.Date(2031, 3, 4, 23, 59, 59, 0, time.UTC)
	later := end.Add(40 * 24 * time.Hour)
	subs := []m365.CompanySubscription{
		{SkuID: "sku-e3", Status: "Enabled", NextLifecycleDateTime: ptime(later.Add(300 * 24 * time.Hour))},
		{SkuID: "sku-e3", Status: "Warning", NextLifecycleDateTime: ptime(later)},
		{SkuID: "SKU-E3", Status: "Warning", NextLifecycleDateTime: ptime(end)},
		{SkuID: "other", Status: "Warning", NextLifecycleDateTime: ptime(end.Add(-24 * time.Hour))},
	}
	r := NewExchangeLicence(graceGraph{&fakeGraph{skus: []m365.SKU{s}}, subs, nil}).Run(context.Background())
	expect(t, r, Warn, "grace period ends on 2031-03-04 23:59 UTC")

	for name, g := range map[string]graceGraph{
		"no date":    {&fakeGraph{skus: []m365.SKU{s}}, []m365.CompanySubscription{{SkuID: "sku-e3", Status: "Warning"}, {SkuID: "sku-e3", Status: "Warning", NextLifecycleDateTime: ptime(time.Time{})}}, nil},
		"unreadable": {&fakeGraph{skus: []m365.SKU{s}}, nil, &m365.APIError{Status: 403, Code: "Authorization_RequestDenied"}},
	} {
		r := NewExchangeLicence(g).Run(context.Background())
		want := "on a day Microsoft did not report"
		if name == "unreadable" {
			want = "could not be read (GET /directory/subscriptions: HTTP 403 Authorization_RequestDenied)"
		}
		expect(t, r, Warn, want)
		if strings.Contains(r.Summary, "0001") {
			t.Errorf("%s: zero date shown: %s", name, r.Summary)
		}
	}
	// A Graph without the subscriptions reader still passes with a warning.
	expect(t, NewExchangeLicence(&fakeGraph{skus: []m365.SKU{s}}).Run(context.Background()), Warn, "did not report")
}

// ---- graph.global-admin ----

func TestGlobalAdmin(t *testing.T) {
	me := m365.User{UserPrincipalName: "admin@contoso.onmicrosoft.com"}
	ga := m365.DirectoryRole{DisplayName: "Global Administrator", RoleTemplateID: GlobalAdminTemplateID}
	exo := m365.DirectoryRole{DisplayName: "Exchange Administrator", RoleTemplateID: "29232cdf-9323-42fd-ade2-1d097af3e4de"}

	r := NewGlobalAdmin(&fakeGraph{me: me, active: []m365.DirectoryRole{exo, ga}}).Run(context.Background())
	expect(t, r, Pass, "admin@contoso.onmicrosoft.com is an active Global Administrator")

	r = NewGlobalAdmin(&fakeGraph{me: me, active: []m365.DirectoryRole{exo},
		eligible: []m365.RoleEligibility{{RoleDefinitionID: GlobalAdminTemplateID, DirectoryScopeID: "/"}}}).Run(context.Background())
	expect(t, r, Fail, "Global Administrator is eligible in PIM but not active")
	if r.Remedy != "activate the role in PIM ("+PIMActivationURL+"), then retry" {
		t.Errorf("PIM remedy = %q", r.Remedy)
	}

	r = NewGlobalAdmin(&fakeGraph{me: me, active: []m365.DirectoryRole{exo},
		eligible: []m365.RoleEligibility{{RoleDefinitionID: "29232cdf-9323-42fd-ade2-1d097af3e4de", DirectoryScopeID: "/"}}}).Run(context.Background())
	expect(t, r, Fail, "admin@contoso.onmicrosoft.com is not a Global Administrator")
	mustContain(t, "detail", r.Detail, "Exchange Administrator")
	mustContain(t, "remedy", r.Remedy, "admin@contoso.onmicrosoft.com")

	// PIM not readable (no P2): still a decided fail, evidence in Detail.
	r = NewGlobalAdmin(&fakeGraph{me: me, eligErr: errors.New("403")}).Run(context.Background())
	expect(t, r, Fail, "is not a Global Administrator")
	mustContain(t, "detail", r.Detail, "PIM eligibility could not be read")

	// Scoped eligibility (administrative unit) does not count.
	r = NewGlobalAdmin(&fakeGraph{me: me, eligible: []m365.RoleEligibility{{RoleDefinitionID: GlobalAdminTemplateID, DirectoryScopeID: "/administrativeUnits/x"}}}).Run(context.Background())
	expect(t, r, Fail, "is not a Global Administrator")

	r = NewGlobalAdmin(&fakeGraph{meErr: errors.New("boom"), activeErr: errors.New("503")}).Run(context.Background())
	expect(t, r, Fail, "could not read the directory roles of the signed-in account")
	if r.Err == nil {
		t.Error("Err not set")
	}
	expect(t, NewGlobalAdmin(nil).Run(context.Background()), Skip)
}

// ---- exo.audit-log ----

func TestAuditLogFixIdempotent(t *testing.T) {
	ctx := context.Background()
	x := &fakeExchange{audit: false}
	c := NewAuditLog(x)
	r := c.Run(ctx)
	expect(t, r, Fail, "disabled")
	if len(r.Changes) != 1 {
		t.Fatalf("changes = %+v", r.Changes)
	}
	ch := r.Changes[0]
	if ch.Order != 30 || ch.Warning != "can take up to 60 minutes to take effect" || ch.Call != "Set-AdminAuditLogConfig -UnifiedAuditLogIngestionEnabled $true" || ch.CheckID != IDAuditLog {
		t.Errorf("change = %+v", ch)
	}
	a, err := ApplySafe(ctx, c, ch)
	if err != nil || a.NoOp || a.RequestID != "req-audit" {
		t.Fatalf("apply: %+v %v", a, err)
	}
	a, err = ApplySafe(ctx, c, ch)
	if err != nil || !a.NoOp {
		t.Fatalf("second apply: %+v %v", a, err)
	}
	if x.writes != 1 {
		t.Errorf("writes = %d, want 1", x.writes)
	}
	expect(t, c.Run(ctx), Pass, "enabled")

	r = NewAuditLog(&fakeExchange{readErr: errors.New("throttled")}).Run(ctx)
	expect(t, r, Fail, "could not read")
	if r.Err == nil {
		t.Error("Err not set")
	}
	if _, err := ApplySafe(ctx, c, Change{ID: "other", CheckID: IDAuditLog}); !errors.Is(err, ErrUnknownChange) {
		t.Errorf("unknown change err = %v", err)
	}
	x2 := &fakeExchange{writeErr: errors.New("dehydrated")}
	if _, err := ApplySafe(ctx, NewAuditLog(x2), ch); err == nil {
		t.Error("write error swallowed")
	}
}

// ---- exo.dehydrated ----

func TestDehydrated(t *testing.T) {
	ctx := context.Background()
	x := &fakeExchange{dehydrated: true}
	c := NewDehydrated(x)
	r := c.Run(ctx)
	expect(t, r, Fail, "dehydrated")
	if len(r.Changes) != 1 || r.Changes[0].Order != 0 || r.Changes[0].Call != "Enable-OrganizationCustomization" {
		t.Fatalf("changes = %+v", r.Changes)
	}
	for i := range 2 {
		a, err := ApplySafe(ctx, c, r.Changes[0])
		if err != nil || a.NoOp != (i == 1) {
			t.Fatalf("apply #%d: %+v %v", i+1, a, err)
		}
	}
	if x.writes != 1 {
		t.Errorf("writes = %d", x.writes)
	}
	expect(t, c.Run(ctx), Pass, "IsDehydrated is False")

	// A concurrent session already enabled it: Exchange says so in an error.
	racing := &fakeExchange{dehydrated: true, writeErr: errors.New("InvalidOperationException: Organization is already enabled for customization.")}
	a, err := ApplySafe(ctx, NewDehydrated(racing), r.Changes[0])
	if err != nil || !a.NoOp {
		t.Errorf("already-enabled race: %+v %v", a, err)
	}
}

// ---- exo.role-group ----

func TestRoleGroupEachMissingRole(t *testing.T) {
	app := testApp()
	for _, missing := range app.ExchangeRoles {
		t.Run(missing, func(t *testing.T) {
			ctx := context.Background()
			var have []string
			for _, r := range app.ExchangeRoles {
				if r != missing {
					have = append(have, r)
				}
			}
			x := &fakeExchange{roles: withRoles("Organization Management", have...)}
			c := NewRoleGroup(x, &fakePlatform{app: app})
			r := c.Run(ctx)
			expect(t, r, Fail, "missing 1 of 5 required roles: "+missing)
			if len(r.Changes) != 1 {
				t.Fatalf("changes = %+v", r.Changes)
			}
			ch := r.Changes[0]
			wantCall := `New-ManagementRoleAssignment -Role "` + missing + `" -SecurityGroup "Organization Management"`
			if ch.Call != wantCall || ch.Order != 10 || ch.Args["role"] != missing || ch.ID != "exo.role-group/"+missing {
				t.Errorf("change = %+v", ch)
			}
			a1, err1 := ApplySafe(ctx, c, ch)
			a2, err2 := ApplySafe(ctx, c, ch)
			if err1 != nil || err2 != nil || a1.NoOp || !a2.NoOp || x.writes != 1 {
				t.Fatalf("apply twice: %+v %v / %+v %v (writes %d)", a1, err1, a2, err2, x.writes)
			}
			expect(t, c.Run(ctx), Pass, "holds all 5 required roles")
		})
	}
}

func TestRoleGroupFromPlatform(t *testing.T) {
	ctx := context.Background()
	// Nothing hard-coded: a custom group and role list come from the App.
	app := platform.App{AppID: testAppID, ExchangeRoleGroup: "ITDR Admins", ExchangeRoles: []string{"View-Only Audit Logs"}}
	x := &fakeExchange{roles: withRoles("Organization Management", DefaultExchangeRoles...)}
	r := NewRoleGroup(x, &fakePlatform{app: app}).Run(ctx)
	expect(t, r, Fail, "ITDR Admins missing 1 of 1 required roles: View-Only Audit Logs")
	if r.Changes[0].Call != `New-ManagementRoleAssignment -Role "View-Only Audit Logs" -SecurityGroup "ITDR Admins"` {
		t.Errorf("call = %q", r.Changes[0].Call)
	}

	// Platform omits them: documented fallback, said so in Detail.
	x = &fakeExchange{roles: withRoles("Organization Management", "Audit Logs")}
	r = NewRoleGroup(x, &fakePlatform{app: platform.App{AppID: testAppID}}).Run(ctx)
	expect(t, r, Fail, "Organization Management missing 4 of 5 required roles")
	if len(r.Changes) != 4 {
		t.Errorf("changes = %d", len(r.Changes))
	}
	mustContain(t, "detail", r.Detail, "defaults")

	// Delegating-only and disabled assignments do not count as held.
	x = &fakeExchange{roles: map[string][]m365.ManagementRoleAssignment{"Organization Management": {
		{Name: "Audit Logs-Organization Management-Delegating", Role: "Audit Logs", Enabled: true},
		{Name: "Transport Rules-Organization Management", Role: "Transport Rules", Enabled: false},
		{Name: "custom name", Role: "Mail Recipients", Enabled: true, RoleAssignmentDelegationType: "DelegatingOrgWide"},
		{Name: "another custom name", Role: "Role Management", Enabled: true, RoleAssignmentDelegationType: "Regular"},
	}}}
	app = testApp()
	app.ExchangeRoles = []string{"Audit Logs", "Transport Rules", "Mail Recipients", "Role Management"}
	r = NewRoleGroup(x, &fakePlatform{app: app}).Run(ctx)
	expect(t, r, Fail, "missing 2 of 4 required roles: Audit Logs, Mail Recipients", "assigned but disabled: Transport Rules")
	mustContain(t, "remedy", r.Remedy, "Set-ManagementRoleAssignment")
	if len(r.Changes) != 2 {
		t.Errorf("changes = %+v", r.Changes)
	}

	// Case-insensitive match.
	x = &fakeExchange{roles: withRoles("Organization Management", "audit logs", "MAIL RECIPIENTS", "Organization Configuration", "Transport Rules", "Role Management")}
	expect(t, NewRoleGroup(x, &fakePlatform{app: testApp()}).Run(ctx), Pass)

	r = NewRoleGroup(x, &fakePlatform{appErr: errors.New("503")}).Run(ctx)
	expect(t, r, Fail, "could not read which Exchange roles")
	if r.Err == nil {
		t.Error("Err not set")
	}
	r = NewRoleGroup(&fakeExchange{readErr: errors.New("x")}, &fakePlatform{app: testApp()}).Run(ctx)
	expect(t, r, Fail, "could not read the roles")
	expect(t, NewRoleGroup(nil, &fakePlatform{}).Run(ctx), Skip)
}

func TestRoleGroupAllMissingPlanApplied(t *testing.T) {
	ctx := context.Background()
	x := &fakeExchange{}
	c := NewRoleGroup(x, &fakePlatform{app: testApp()})
	r := c.Run(ctx)
	expect(t, r, Fail, "missing 5 of 5")
	for _, ch := range r.Changes {
		if _, err := ApplySafe(ctx, c, ch); err != nil {
			t.Fatal(err)
		}
	}
	for _, ch := range r.Changes {
		if a, err := ApplySafe(ctx, c, ch); err != nil || !a.NoOp {
			t.Fatalf("second apply of %s: %+v %v", ch.ID, a, err)
		}
	}
	if x.writes != 5 {
		t.Errorf("writes = %d, want 5", x.writes)
	}
}

// ---- graph.platform-sp-roles ----

func TestPlatformSPAbsent(t *testing.T) {
	ctx := context.Background()
	g := &fakeGraph{}
	c := NewPlatformSPRoles(g, &fakePlatform{app: testApp()})
	r := c.Run(ctx)
	expect(t, r, Fail, "is not in the tenant", "Exchange Administrator", "Organization Branding Administrator")
	if len(r.Changes) != 3 {
		t.Fatalf("changes = %+v", r.Changes)
	}
	create := r.Changes[0]
	if create.Order != 10 || create.Call != "POST /servicePrincipals {appId}" || create.Args["app_id"] != testAppID {
		t.Errorf("create = %+v", create)
	}
	for _, ch := range r.Changes[1:] {
		if ch.Order != 20 || ch.Call != "POST /roleManagement/directory/roleAssignments" ||
			ch.Warning != "Privileged Identity Management will raise an alert for this change" || ch.Args["template_id"] == "" {
			t.Errorf("role change = %+v", ch)
		}
	}
	// A role change before the SP exists cannot be applied.
	if _, err := ApplySafe(ctx, c, r.Changes[1]); err == nil || !strings.Contains(err.Error(), "does not exist yet") {
		t.Errorf("role before SP: %v", err)
	}
	plan := PlanOf([]Entry{{Check: c, Result: r}})
	for pass := range 2 {
		for _, ch := range plan {
			a, err := ApplySafe(ctx, c, ch)
			if err != nil || a.NoOp != (pass == 1) {
				t.Fatalf("pass %d %s: %+v %v", pass, ch.ID, a, err)
			}
		}
	}
	if g.writes != 3 {
		t.Errorf("writes = %d, want 3", g.writes)
	}
	// The SP id was resolved at apply time.
	if got := g.assign["sp-"+testAppID]; len(got) != 2 {
		t.Errorf("assignments = %+v", got)
	}
	expect(t, c.Run(ctx), Pass, "holds every required directory role")
}

func TestPlatformSPMissingEachRole(t *testing.T) {
	app := testApp()
	for i, missing := range app.DirectoryRoles {
		t.Run(missing.DisplayName, func(t *testing.T) {
			ctx := context.Background()
			other := app.DirectoryRoles[1-i]
			g := &fakeGraph{
				sps:    map[string]*m365.ServicePrincipal{testAppID: {ID: "sp1", AppID: testAppID}},
				assign: map[string][]m365.RoleAssignment{"sp1": {{ID: "x", PrincipalID: "sp1", RoleDefinitionID: other.TemplateID, DirectoryScopeID: "/"}}},
			}
			c := NewPlatformSPRoles(g, &fakePlatform{app: app})
			r := c.Run(ctx)
			expect(t, r, Fail, "missing directory roles: "+missing.DisplayName)
			if len(r.Changes) != 1 || r.Changes[0].Args["template_id"] != missing.TemplateID {
				t.Fatalf("changes = %+v", r.Changes)
			}
			if _, err := ApplySafe(ctx, c, r.Changes[0]); err != nil {
				t.Fatal(err)
			}
			if a, err := ApplySafe(ctx, c, r.Changes[0]); err != nil || !a.NoOp {
				t.Fatalf("second: %+v %v", a, err)
			}
			if g.writes != 1 {
				t.Errorf("writes = %d", g.writes)
			}
		})
	}
}

func TestPlatformSPCreateErrorUnchanged(t *testing.T) {
	e650051 := errors.New("AADSTS650051: The service principal name is already present for the tenant")
	c := NewPlatformSPRoles(&fakeGraph{createErr: e650051}, &fakePlatform{app: testApp()})
	r := c.Run(context.Background())
	_, err := ApplySafe(context.Background(), c, r.Changes[0])
	if err != e650051 {
		t.Fatalf("err = %v, want the client's error unchanged", err)
	}
}

func TestPlatformSPUndecided(t *testing.T) {
	ctx := context.Background()
	r := NewPlatformSPRoles(&fakeGraph{spErr: errors.New("429")}, &fakePlatform{app: testApp()}).Run(ctx)
	expect(t, r, Fail, "could not look up")
	r = NewPlatformSPRoles(&fakeGraph{}, &fakePlatform{app: platform.App{}}).Run(ctx)
	expect(t, r, Fail, "did not name")
	g := &fakeGraph{sps: map[string]*m365.ServicePrincipal{testAppID: {ID: "sp1"}}, assignErr: errors.New("403")}
	r = NewPlatformSPRoles(g, &fakePlatform{app: testApp()}).Run(ctx)
	expect(t, r, Fail, "could not read the directory roles")
	if r.Err == nil {
		t.Error("Err not set")
	}
	expect(t, NewPlatformSPRoles(nil, nil).Run(ctx), Skip)
	r = NewPlatformSPRoles(&fakeGraph{}, nil).Run(ctx)
	expect(t, r, Skip, "ITDR_API_KEY")
	mustContain(t, "remedy", r.Remedy, "ITDR_API_SECRET")
}

func TestBuiltinSharesAppFetch(t *testing.T) {
	p := &fakePlatform{app: testApp()}
	cs := Builtin(Deps{Graph: &fakeGraph{}, Exchange: &fakeExchange{}, Platform: p, Now: fixedNow})
	reg, err := NewRegistry(cs...)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{IDPlatformSubscription, IDNetworkReachability, IDClockSkew, IDExchangeLicence, IDGlobalAdmin, IDPlatformPermissions, IDAuditLog, IDDehydrated, IDRoleGroup, IDPlatformSPRoles}
	for i, c := range reg.All() {
		if c.ID() != want[i] {
			t.Errorf("order[%d] = %s, want %s", i, c.ID(), want[i])
		}
	}
	for _, id := range []string{IDRoleGroup, IDPlatformSPRoles, IDRoleGroup} {
		c, _ := reg.Get(id)
		c.Run(context.Background())
	}
	if p.appCalls != 1 {
		t.Errorf("App fetched %d times, want 1", p.appCalls)
	}
}
