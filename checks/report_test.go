package checks

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"itdr-onboard/internal/testutil"
	"itdr-onboard/m365"
)

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	return testutil.MustLoadSchema(t, "../docs/check-report.schema.json")
}

var (
	meUser         = m365.User{UserPrincipalName: "admin@contoso.onmicrosoft.com"}
	eligibleGA     = []m365.RoleEligibility{{RoleDefinitionID: GlobalAdminTemplateID, DirectoryScopeID: "/"}}
	foundationOnly = []m365.SKU{sku("AAD_PREMIUM_P2", "Enabled", 5, "EXCHANGE_S_FOUNDATION")}
)

func TestReportFromBuiltinMatchesSchema(t *testing.T) {
	s := compileSchema(t)
	g := &fakeGraph{
		me:       meUser,
		eligible: eligibleGA,
		skus:     foundationOnly,
	}
	x := &fakeExchange{dehydrated: true, roles: withRoles("Organization Management", "Audit Logs")}
	p := &fakePlatform{acctErr: errors.New("boom"), app: testApp()}
	d := Deps{Graph: g, Exchange: x, Platform: p, Now: fixedNow} // no endpoints: network checks warn
	entries := RunAll(context.Background(), Builtin(d), 5*time.Second, 0)
	rep := NewReport("Contoso", "0b6f6a61-9c4e-4e9b-8f3e-5c2b2f1d7a10", "admin@contoso.onmicrosoft.com", t0, entries)
	if rep.Outcome != Fail {
		t.Errorf("outcome = %s", rep.Outcome)
	}
	if len(rep.Checks) != len(Builtin(d)) {
		t.Fatalf("rows = %d", len(rep.Checks))
	}
	byID := map[string]ReportRow{}
	for _, r := range rep.Checks {
		byID[r.ID] = r
	}
	if r := byID[IDGlobalAdmin]; r.Outcome != Fail || r.Summary != "Global Administrator is eligible in PIM but not active" {
		t.Errorf("global admin row = %+v", r)
	}
	if r := byID[IDRoleGroup]; len(r.Changes) != 4 || r.Changes[0].CheckID != IDRoleGroup {
		t.Errorf("role group row changes = %+v", r.Changes)
	}
	if r := byID[IDPlatformSubscription]; r.Error != "boom" {
		t.Errorf("subscription error = %q", r.Error)
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := testutil.ValidateJSON(t, s, b); err != nil {
		t.Fatalf("report does not match schema: %v\n%s", err, b)
	}
	// Every row has a changes array (possibly empty), never null.
	if strings.Contains(string(b), `"changes": null`) {
		t.Error("null changes")
	}
}

func TestReportEmptyAndSchemaRejects(t *testing.T) {
	s := compileSchema(t)
	rep := NewReport("", "", "", t0, nil)
	if rep.Outcome != Skip {
		t.Errorf("empty outcome = %s", rep.Outcome)
	}
	b, _ := json.Marshal(rep)
	if err := testutil.ValidateJSON(t, s, b); err != nil {
		t.Fatalf("empty report: %v\n%s", err, b)
	}
	for name, bad := range map[string]string{
		"unknown outcome": `{"tenant":"","tenant_id":"","account":"","generated_at":"2026-11-25T09:00:00Z","checks":[],"outcome":"green"}`,
		"bad tenant id":   `{"tenant":"","tenant_id":"contoso","account":"","generated_at":"2026-11-25T09:00:00Z","checks":[],"outcome":"pass"}`,
		"bad date":        `{"tenant":"","tenant_id":"","account":"","generated_at":"yesterday","checks":[],"outcome":"pass"}`,
		"row missing summary": `{"tenant":"","tenant_id":"","account":"","generated_at":"2026-11-25T09:00:00Z","outcome":"pass",
			"checks":[{"id":"a.b","title":"T","step":"prereqs","phase":"tenant","severity":"required","outcome":"pass","changes":[],"duration_ms":1}]}`,
		"extra field": `{"tenant":"","tenant_id":"","account":"","generated_at":"2026-11-25T09:00:00Z","checks":[],"outcome":"pass","token":"x"}`,
	} {
		if err := testutil.ValidateJSON(t, s, []byte(bad)); err == nil {
			t.Errorf("%s: schema accepted %s", name, bad)
		}
	}
}

func TestWorst(t *testing.T) {
	row := func(o Outcome) ReportRow { return ReportRow{Outcome: o} }
	for _, tc := range []struct {
		rows []ReportRow
		want Outcome
	}{
		{nil, Skip},
		{[]ReportRow{row(Skip), row(Pass)}, Pass},
		{[]ReportRow{row(Pass), row(Warn), row(Skip)}, Warn},
		{[]ReportRow{row(Warn), row(Fail), row(Pass)}, Fail},
	} {
		if got := Worst(tc.rows...); got != tc.want {
			t.Errorf("Worst(%v) = %s, want %s", tc.rows, got, tc.want)
		}
	}
}

func TestReportRowDurationAndError(t *testing.T) {
	c := stub("x.y", StepRoles, Tenant, passRun)
	row := NewReportRow(c, Result{Outcome: Warn, Summary: "s", Err: errors.New("e"), Duration: 1500 * time.Microsecond})
	if row.DurationMS != 1.5 || row.Error != "e" || row.Severity != Required || row.Step != StepRoles || row.Changes == nil {
		t.Errorf("row = %+v", row)
	}
}
