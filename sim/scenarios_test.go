package sim

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"itdr-onboard/internal/testutil"
)

func TestBuiltinScenariosLoad(t *testing.T) {
	names := BuiltinScenarios()
	want := []string{"typical", "ready", "no-exchange-licence", "not-global-admin", "pim-eligible", "audit-disabled", "dehydrated",
		"roles-missing-all", "device-code-blocked", "security-defaults", "wrong-tenant", "mfa-required", "short-codes", "short-tokens",
		"sp-soft-deleted", "bad-permissions", "already-mapped", "unhealthy-audit-off", "slow-health", "many-orgs", "flaky"}
	have := map[string]bool{}
	for _, n := range names {
		have[n] = true
	}
	for _, n := range want {
		if !have[n] {
			t.Errorf("built-in scenario %q missing", n)
		}
	}
	for _, n := range names {
		sc, err := LoadScenario(n)
		if err != nil {
			t.Errorf("%s: %v", n, err)
			continue
		}
		if sc.Name != n {
			t.Errorf("%s: name %q", n, sc.Name)
		}
		if sc.Description == "" {
			t.Errorf("%s: no description", n)
		}
	}
}

func TestBuiltinScenarioFacts(t *testing.T) {
	load := func(n string) *Scenario {
		sc, err := LoadScenario(n)
		if err != nil {
			t.Fatal(err)
		}
		return sc
	}
	ty := load("typical")
	if ty.Tenant.ID != "3f9c8f2e-6d0b-4c1e-9a57-1b2d3c4e5f60" || ty.Tenant.InitialDomain != "contoso.onmicrosoft.com" || ty.Tenant.DisplayName != "Contoso Ltd" {
		t.Errorf("typical tenant %+v", ty.Tenant)
	}
	if u := simSignInUser(ty); u.UPN != "admin@contoso.onmicrosoft.com" || len(u.ActiveRoles) != 1 || u.ActiveRoles[0] != "Global Administrator" {
		t.Errorf("typical sign-in user %+v", u)
	}
	if ty.SignIn.ApproveDelay.D() != 2*time.Second || ty.Platform.HealthyAfter.D() != 5*time.Second {
		t.Errorf("typical delays %v %v", ty.SignIn.ApproveDelay.D(), ty.Platform.HealthyAfter.D())
	}
	if got := strings.Join(ty.Exchange.OrganizationManagementRoles, ","); got != "Mail Recipients,Organization Configuration,Role Management" {
		t.Errorf("typical roles %s", got)
	}
	if sc := load("short-codes"); sc.SignIn.CodeLifetime.D() != time.Minute || sc.SignIn.AutoApprove == nil || *sc.SignIn.AutoApprove {
		t.Errorf("short-codes sign_in %+v", sc.SignIn)
	}
	if sc := load("short-tokens"); sc.SignIn.TokenLifetime.D() != 120*time.Second {
		t.Errorf("short-tokens %v", sc.SignIn.TokenLifetime.D())
	}
	if sc := load("many-orgs"); sc.Platform.GeneratedOrganizations != 5000 {
		t.Errorf("many-orgs %d", sc.Platform.GeneratedOrganizations)
	}
	if sc := load("flaky"); len(sc.Faults) != 3 || sc.Seed == 0 {
		t.Errorf("flaky faults %+v", sc.Faults)
	}
	if sc := load("wrong-tenant"); simSignInUser(sc).HomeTenant == "" {
		t.Error("wrong-tenant: sign-in user has no home tenant")
	}
}

func TestScenarioFieldErrors(t *testing.T) {
	base, err := BuiltinScenarioJSON("typical")
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(base, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	obj := func(m map[string]any, k string) map[string]any { return m[k].(map[string]any) }
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"enum", edit(func(m map[string]any) { obj(m, "sign_in")["block"] = "foo" }),
			`scenario bad.json: field "sign_in.block": "foo" is not one of "", "device-code-ca", "security-defaults", "mfa-required"`},
		{"unknown nested", edit(func(m map[string]any) { obj(m, "sign_in")["blok"] = "" }),
			`scenario bad.json: field "sign_in.blok" is not a known field; allowed here: approve_delay, code_lifetime, token_lifetime, block, refuse, auto_approve`},
		{"unknown top", edit(func(m map[string]any) { m["tenants"] = 1 }), `field "tenants" is not a known field`},
		{"unknown in array", edit(func(m map[string]any) { m["users"].([]any)[2].(map[string]any)["admin"] = true }), `field "users[2].admin" is not a known field`},
		{"type", edit(func(m map[string]any) { m["users"].([]any)[0].(map[string]any)["enabled"] = "yes" }), `field "users[0].enabled": want true or false, got the string "yes"`},
		{"duration", edit(func(m map[string]any) { obj(m, "sign_in")["approve_delay"] = "two seconds" }), `field "sign_in.approve_delay": "two seconds" is not a duration`},
		{"guid", edit(func(m map[string]any) { obj(m, "tenant")["id"] = "contoso" }), `field "tenant.id": "contoso" is not a GUID`},
		{"role", edit(func(m map[string]any) { m["users"].([]any)[0].(map[string]any)["active_roles"] = []any{"Global Admin"} }), `field "users[0].active_roles[0]": "Global Admin" is neither a role template id`},
		{"fault kind", edit(func(m map[string]any) { m["faults"] = []any{map[string]any{"kind": "explode"}} }), `field "faults[0].kind": "explode" is not one of "latency", "429", "503", "500", "reset", "slow-body", "exchange-throttle", "race"`},
		{"fault rate", edit(func(m map[string]any) { m["faults"] = []any{map[string]any{"kind": "429", "rate": 1.5}} }), `field "faults[0].rate": 1.5 is outside 0..1`},
		{"subscription", edit(func(m map[string]any) { obj(obj(m, "platform"), "account")["subscription"] = "gold" }), `field "platform.account.subscription": "gold" is not one of "", "active", "trial", "expired", "cancelled"`},
		{"integration org", edit(func(m map[string]any) {
			obj(m, "platform")["integrations"] = []any{map[string]any{"tenant_id": "3f9c8f2e-6d0b-4c1e-9a57-1b2d3c4e5f60", "organization_id": "org_nope"}}
		}), `field "platform.integrations[0].organization_id": "org_nope" is not the id of an organization`},
		{"not json", []byte(`{"name": `), `scenario bad.json: not valid JSON`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseScenario(c.data, "bad.json")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v\nwant %s", err, c.want)
			}
		})
	}
}

func TestLoadScenarioFromFileAndUnknownName(t *testing.T) {
	dir := t.TempDir()
	b, _ := BuiltinScenarioJSON("ready")
	var m map[string]any
	json.Unmarshal(b, &m)
	delete(m, "name")
	delete(obj2(m, "sign_in"), "approve_delay")
	b, _ = json.Marshal(m)
	p := filepath.Join(dir, "mine.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	sc, err := LoadScenario(p)
	if err != nil {
		t.Fatal(err)
	}
	if sc.Name != "mine" || sc.SignIn.ApproveDelay.D() != DefaultApproveDelay || sc.Platform.APIKey != DefaultPlatformAPIKey {
		t.Errorf("defaults: name %q delay %v key set %v", sc.Name, sc.SignIn.ApproveDelay.D(), sc.Platform.APIKey != "")
	}
	_, err = LoadScenario("nonesuch")
	if err == nil || !strings.Contains(err.Error(), "not a built-in scenario") || !strings.Contains(err.Error(), "typical") {
		t.Errorf("unknown name: %v", err)
	}
	_, err = LoadScenario(filepath.Join(dir, "missing.json"))
	if err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("missing file: %v", err)
	}
}

func obj2(m map[string]any, k string) map[string]any { return m[k].(map[string]any) }

func TestBuiltinScenariosMatchSchema(t *testing.T) {
	sch := testutil.MustLoadSchema(t, filepath.Join("..", "docs", "scenario.schema.json"))
	for _, n := range BuiltinScenarios() {
		b, _ := BuiltinScenarioJSON(n)
		if err := testutil.ValidateJSON(t, sch, b); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
	// The schema is not vacuous: it rejects what LoadScenario rejects.
	for _, bad := range []string{
		`{"tenant":{"id":"3f9c8f2e-6d0b-4c1e-9a57-1b2d3c4e5f60","initial_domain":"c.onmicrosoft.com","display_name":"C"},"users":[{"upn":"a@c"}],"sign_in":{"block":"foo"}}`,
		`{"tenant":{"id":"3f9c8f2e-6d0b-4c1e-9a57-1b2d3c4e5f60","initial_domain":"c.onmicrosoft.com","display_name":"C"},"users":[{"upn":"a@c"}],"extra":1}`,
		`{"tenant":{"id":"3f9c8f2e-6d0b-4c1e-9a57-1b2d3c4e5f60","initial_domain":"c.onmicrosoft.com","display_name":"C"},"users":[{"upn":"a@c"}],"sign_in":{"approve_delay":"soon"}}`,
	} {
		inst, _ := jsonschema.UnmarshalJSON(strings.NewReader(bad))
		if err := sch.Validate(inst); err == nil {
			t.Errorf("schema accepted %s", bad)
		}
		if _, err := ParseScenario([]byte(bad), "bad.json"); err == nil {
			t.Errorf("ParseScenario accepted %s", bad)
		}
	}
}

func TestSchemaRoleNamesMatchValidator(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "docs", "scenario.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Defs struct {
			Role struct {
				AnyOf []struct {
					Enum []string `json:"enum"`
				} `json:"anyOf"`
			} `json:"role"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	var schemaNames, names []string
	for _, a := range s.Defs.Role.AnyOf {
		schemaNames = append(schemaNames, a.Enum...)
	}
	for n := range DirectoryRoleTemplates {
		names = append(names, n)
	}
	sort.Strings(schemaNames)
	sort.Strings(names)
	if strings.Join(schemaNames, "|") != strings.Join(names, "|") {
		t.Errorf("schema roles %v\nvalidator roles %v", schemaNames, names)
	}
}
