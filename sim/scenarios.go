package sim

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"
)

//go:embed scenarios/*.json
var simScenarioFS embed.FS

// DefaultScenario is the built-in scenario `demo` uses.
const DefaultScenario = "typical"

// Defaults applied to sign_in fields that a scenario file leaves out.
const (
	DefaultApproveDelay  = 2 * time.Second
	DefaultCodeLifetime  = 15 * time.Minute
	DefaultTokenLifetime = time.Hour
)

// BuiltinScenarios lists the embedded scenario names, sorted.
func BuiltinScenarios() []string {
	ents, _ := fs.ReadDir(simScenarioFS, "scenarios")
	var names []string
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".json"); ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// BuiltinScenarioJSON returns the embedded JSON of a built-in scenario.
func BuiltinScenarioJSON(name string) ([]byte, error) {
	if name == "" || strings.ContainsAny(name, `/\.`) {
		return nil, fmt.Errorf("scenario %q: not a built-in scenario", name)
	}
	b, err := simScenarioFS.ReadFile("scenarios/" + name + ".json")
	if err != nil {
		return nil, fmt.Errorf("scenario %q: not a built-in scenario (built-in: %s)", name, strings.Join(BuiltinScenarios(), ", "))
	}
	return b, nil
}

// LoadScenario loads a built-in scenario by name (embedded
// sim/scenarios/NAME.json) or a scenario file by path, and validates it.
// Errors name the JSON field and the allowed values.
func LoadScenario(nameOrPath string) (*Scenario, error) {
	if b, err := BuiltinScenarioJSON(nameOrPath); err == nil {
		return ParseScenario(b, nameOrPath)
	}
	b, err := os.ReadFile(nameOrPath)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && !strings.ContainsAny(nameOrPath, `/\`) && !strings.HasSuffix(nameOrPath, ".json") {
			return nil, fmt.Errorf("scenario %q: not a built-in scenario (built-in: %s) and no such file", nameOrPath, strings.Join(BuiltinScenarios(), ", "))
		}
		return nil, fmt.Errorf("scenario %s: %w", nameOrPath, err)
	}
	sc, err := ParseScenario(b, nameOrPath)
	if err != nil {
		return nil, err
	}
	return sc, nil
}

// ParseScenario decodes and validates scenario JSON; label names it in
// errors ("scenario LABEL: field ...") and is the default name.
func ParseScenario(data []byte, label string) (*Scenario, error) {
	wrap := func(err error) error { return fmt.Errorf("scenario %s: %w", label, err) }
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		return nil, wrap(fmt.Errorf("not valid JSON: %w", err))
	}
	if dec.More() {
		return nil, wrap(errors.New("not valid JSON: more than one value"))
	}
	if _, ok := raw.(map[string]any); !ok {
		return nil, wrap(errors.New("want a JSON object"))
	}
	if err := simCheckShape(raw, reflect.TypeOf(Scenario{}), ""); err != nil {
		return nil, wrap(err)
	}
	var sc Scenario
	if err := json.Unmarshal(data, &sc); err != nil {
		return nil, wrap(err)
	}
	if sc.Name == "" {
		sc.Name = strings.TrimSuffix(filepath.Base(label), ".json")
	}
	// approve_delay: absent means the 2 s default, "0s" means at once.
	if si, ok := raw.(map[string]any)["sign_in"].(map[string]any); !ok || si["approve_delay"] == nil {
		sc.SignIn.ApproveDelay = Duration(DefaultApproveDelay)
	}
	// healthy_after: absent means the 5 s default, "0s" means healthy as
	// soon as the integration is mapped (like approve_delay).
	if pl, ok := raw.(map[string]any)["platform"].(map[string]any); !ok || pl["healthy_after"] == nil {
		sc.Platform.HealthyAfter = Duration(stDefaultHealthyAfter)
	}
	simApplyDefaults(&sc)
	if err := sc.Validate(); err != nil {
		return nil, wrap(err)
	}
	return &sc, nil
}

// simApplyDefaults fills the defaults documented in docs/scenarios.md.
func simApplyDefaults(sc *Scenario) {
	if sc.Name == "" {
		sc.Name = "custom"
	}
	if sc.SignIn.CodeLifetime == 0 {
		sc.SignIn.CodeLifetime = Duration(DefaultCodeLifetime)
	}
	if sc.SignIn.TokenLifetime == 0 {
		sc.SignIn.TokenLifetime = Duration(DefaultTokenLifetime)
	}
	if sc.Platform.APIKey == "" {
		sc.Platform.APIKey = DefaultPlatformAPIKey
	}
	if sc.Platform.APISecret == "" {
		sc.Platform.APISecret = DefaultPlatformAPISecret
	}
	sc.Tenant.ID = strings.ToLower(sc.Tenant.ID)
	for i := range sc.Faults {
		if sc.Faults[i].Rate == 0 {
			sc.Faults[i].Rate = 1
		}
	}
}

// simNormalize deep-copies a scenario, fills defaults and validates it.
// An ApproveDelay of 0 in a Scenario built in Go means "approve at once",
// a HealthyAfter of 0 "healthy as soon as mapped".
func simNormalize(in *Scenario) (*Scenario, error) {
	b, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("sim: scenario: %w", err)
	}
	var sc Scenario
	if err := json.Unmarshal(b, &sc); err != nil {
		return nil, fmt.Errorf("sim: scenario: %w", err)
	}
	simApplyDefaults(&sc)
	if err := sc.Validate(); err != nil {
		return nil, fmt.Errorf("scenario %s: %w", sc.Name, err)
	}
	return &sc, nil
}

// ---- shape check: unknown fields and JSON types, with the field path ----------

var simDurationType = reflect.TypeOf(Duration(0))

func simJoin(p, k string) string {
	if p == "" {
		return k
	}
	return p + "." + k
}

func simJSONFields(t reflect.Type) (map[string]reflect.Type, []string) {
	m := map[string]reflect.Type{}
	var names []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = f.Type
		names = append(names, name)
	}
	return m, names
}

func simCheckShape(raw any, t reflect.Type, p string) error {
	if raw == nil {
		return nil // null is the zero value
	}
	if t == simDurationType {
		switch v := raw.(type) {
		case string:
			if _, err := time.ParseDuration(v); err != nil {
				return fmt.Errorf("field %q: %q is not a duration; want a Go duration such as \"2s\", \"90s\" or \"15m\"", p, v)
			}
			return nil
		case json.Number:
			return nil
		}
		return fmt.Errorf("field %q: want a duration string such as \"2s\", got %s", p, simKind(raw))
	}
	switch t.Kind() {
	case reflect.Pointer:
		return simCheckShape(raw, t.Elem(), p)
	case reflect.Struct:
		obj, ok := raw.(map[string]any)
		if !ok {
			return fmt.Errorf("field %q: want an object, got %s", simOrRoot(p), simKind(raw))
		}
		fields, names := simJSONFields(t)
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			ft, ok := fields[k]
			if !ok {
				return fmt.Errorf("field %q is not a known field; allowed here: %s", simJoin(p, k), strings.Join(names, ", "))
			}
			if err := simCheckShape(obj[k], ft, simJoin(p, k)); err != nil {
				return err
			}
		}
		return nil
	case reflect.Slice:
		arr, ok := raw.([]any)
		if !ok {
			return fmt.Errorf("field %q: want an array, got %s", p, simKind(raw))
		}
		for i, v := range arr {
			if err := simCheckShape(v, t.Elem(), fmt.Sprintf("%s[%d]", p, i)); err != nil {
				return err
			}
		}
		return nil
	case reflect.String:
		if _, ok := raw.(string); !ok {
			return fmt.Errorf("field %q: want a string, got %s", p, simKind(raw))
		}
	case reflect.Bool:
		if _, ok := raw.(bool); !ok {
			return fmt.Errorf("field %q: want true or false, got %s", p, simKind(raw))
		}
	case reflect.Int, reflect.Int64, reflect.Int32:
		n, ok := raw.(json.Number)
		if !ok {
			return fmt.Errorf("field %q: want an integer, got %s", p, simKind(raw))
		}
		if _, err := n.Int64(); err != nil {
			return fmt.Errorf("field %q: want an integer, got %s", p, n)
		}
	case reflect.Float64, reflect.Float32:
		if _, ok := raw.(json.Number); !ok {
			return fmt.Errorf("field %q: want a number, got %s", p, simKind(raw))
		}
	}
	return nil
}

func simOrRoot(p string) string {
	if p == "" {
		return "(root)"
	}
	return p
}

func simKind(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("the string %q", simClip(x, 40))
	case json.Number:
		return "the number " + x.String()
	case bool:
		return fmt.Sprintf("%t", x)
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return "null"
}

// ---- semantic validation --------------------------------------------------

// Allowed values, in the order error messages list them.
var (
	SignInBlocks        = []string{"", "device-code-ca", "security-defaults", "mfa-required"}
	SignInRefusals      = []string{"", "account-disabled", "account-locked", "password-expired", "not-in-tenant", "declined"}
	Consent650051Kinds  = []string{"", "sp-soft-deleted", "invalid-permissions"}
	SubscriptionStates  = []string{"active", "trial", "expired", "cancelled"}
	simClouds           = []string{"", "global", "usgov", "usgovdod", "china"}
	simCapability       = []string{"", "Enabled", "Warning", "Suspended", "Deleted", "LockedOut"}
	simProvisioning     = []string{"", "Success", "Disabled", "Error", "PendingInput", "PendingActivation", "PendingProvisioning"}
	simAccountRoles     = []string{"", "admin", "user"}
	simIntegrationState = []string{"", "pending", "healthy", "unhealthy"}
	simFaultGroups      = []string{"", GroupIdentity, GroupGraph, GroupExchange, GroupPlatform}
	simFaultMethods     = []string{"", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"}
)

// DirectoryRoleTemplates maps the role names a scenario may use to their
// Entra role template ids.
var DirectoryRoleTemplates = map[string]string{
	"Global Administrator":                    "62e90394-69f5-4237-9190-012177145e10",
	"Global Reader":                           "f2ef992c-3afb-46b9-b7cf-a126ee74c451",
	"Exchange Administrator":                  "29232cdf-9323-42fd-ade2-1d097af3e4de",
	"Organization Branding Administrator":     "92ed04bf-c94a-4b82-9729-b799a7a4c178",
	"Organizational Branding Administrator":   "92ed04bf-c94a-4b82-9729-b799a7a4c178",
	"Privileged Role Administrator":           "e8611ab8-c189-46e8-94e1-60213ab1f814",
	"Privileged Authentication Administrator": "7be44c8a-adaf-4e2a-84d6-ab2649e08a13",
	"Security Administrator":                  "194ae4cb-b126-40b2-bd5b-6091b380977d",
	"User Administrator":                      "fe930be7-5e62-47db-91af-98c3a49a38b1",
	"Application Administrator":               "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
	"Cloud Application Administrator":         "158c047a-c907-4556-b7ef-446551a6b5f7",
	"Conditional Access Administrator":        "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9",
	"Authentication Policy Administrator":     "0526716b-113d-4c15-b2c8-68e3c22b9f80",
	"Teams Administrator":                     "69091246-20e8-4a56-aa4d-066075b2a7a8",
	"Intune Administrator":                    "3a2c62db-5318-420d-8d74-23affee5d9d5",
}

func simOneOf(field, v string, allowed []string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	q := make([]string, len(allowed))
	for i, a := range allowed {
		q[i] = fmt.Sprintf("%q", a)
	}
	return fmt.Errorf("field %q: %q is not one of %s", field, v, strings.Join(q, ", "))
}

func simCheckRole(field, r string) error {
	if simIsGUID(r) {
		return nil
	}
	if _, ok := DirectoryRoleTemplates[r]; ok {
		return nil
	}
	names := make([]string, 0, len(DirectoryRoleTemplates))
	for n := range DirectoryRoleTemplates {
		names = append(names, fmt.Sprintf("%q", n))
	}
	sort.Strings(names)
	return fmt.Errorf("field %q: %q is neither a role template id (GUID) nor one of %s", field, r, strings.Join(names, ", "))
}

// Validate checks every field's value, naming the first bad field.
func (sc *Scenario) Validate() error {
	t := sc.Tenant
	if !simIsGUID(t.ID) {
		return fmt.Errorf("field %q: %q is not a GUID (want e.g. \"3f9c8f2e-6d0b-4c1e-9a57-1b2d3c4e5f60\")", "tenant.id", t.ID)
	}
	if t.InitialDomain == "" || !strings.HasSuffix(strings.ToLower(t.InitialDomain), ".onmicrosoft.com") || strings.ContainsAny(t.InitialDomain, " /@") {
		return fmt.Errorf("field %q: %q is not an initial domain (want NAME.onmicrosoft.com)", "tenant.initial_domain", t.InitialDomain)
	}
	if strings.TrimSpace(t.DisplayName) == "" {
		return fmt.Errorf("field %q: must not be empty", "tenant.display_name")
	}
	if err := simOneOf("tenant.cloud", t.Cloud, simClouds); err != nil {
		return err
	}
	if len(sc.Users) == 0 {
		return fmt.Errorf("field %q: at least one user is needed (the one who signs in)", "users")
	}
	seen := map[string]bool{}
	signers := 0
	for i, u := range sc.Users {
		f := fmt.Sprintf("users[%d]", i)
		local, domain, ok := strings.Cut(u.UPN, "@")
		if !ok || local == "" || domain == "" || strings.ContainsAny(u.UPN, " /") {
			return fmt.Errorf("field %q: %q is not a user principal name (want name@domain)", f+".upn", u.UPN)
		}
		if seen[strings.ToLower(u.UPN)] {
			return fmt.Errorf("field %q: %q appears twice", f+".upn", u.UPN)
		}
		seen[strings.ToLower(u.UPN)] = true
		for j, r := range u.ActiveRoles {
			if err := simCheckRole(fmt.Sprintf("%s.active_roles[%d]", f, j), r); err != nil {
				return err
			}
		}
		for j, r := range u.EligibleRoles {
			if err := simCheckRole(fmt.Sprintf("%s.eligible_roles[%d]", f, j), r); err != nil {
				return err
			}
		}
		if u.HomeTenant != "" && !simIsGUID(u.HomeTenant) {
			return fmt.Errorf("field %q: %q is not a GUID", f+".home_tenant", u.HomeTenant)
		}
		if u.SignsIn {
			signers++
		}
	}
	if signers > 1 {
		return fmt.Errorf("field %q: only one user may have signs_in true, %d do", "users[].signs_in", signers)
	}
	for i, l := range sc.Licences {
		f := fmt.Sprintf("licences[%d]", i)
		if l.SkuPartNumber == "" {
			return fmt.Errorf("field %q: must not be empty", f+".sku_part_number")
		}
		if err := simOneOf(f+".capability_status", l.CapabilityStatus, simCapability); err != nil {
			return err
		}
		if l.Enabled < 0 || l.Consumed < 0 {
			return fmt.Errorf("field %q: unit counts must not be negative", f+".enabled")
		}
		for j, p := range l.ServicePlans {
			pf := fmt.Sprintf("%s.service_plans[%d]", f, j)
			if p.Name == "" {
				return fmt.Errorf("field %q: must not be empty", pf+".name")
			}
			if err := simOneOf(pf+".provisioning_status", p.ProvisioningStatus, simProvisioning); err != nil {
				return err
			}
		}
	}
	for i, r := range sc.Exchange.OrganizationManagementRoles {
		if strings.TrimSpace(r) == "" {
			return fmt.Errorf("field %q: must not be empty", fmt.Sprintf("exchange.organization_management_roles[%d]", i))
		}
	}
	for i, sp := range sc.ServicePrincipals {
		f := fmt.Sprintf("service_principals[%d]", i)
		if !simIsGUID(sp.AppID) {
			return fmt.Errorf("field %q: %q is not a GUID", f+".app_id", sp.AppID)
		}
		for j, r := range sp.DirectoryRoles {
			if err := simCheckRole(fmt.Sprintf("%s.directory_roles[%d]", f, j), r); err != nil {
				return err
			}
		}
	}
	si := sc.SignIn
	if err := simOneOf("sign_in.refuse", si.Refuse, SignInRefusals); err != nil {
		return err
	}
	if err := simOneOf("sign_in.block", si.Block, SignInBlocks); err != nil {
		return err
	}
	for _, d := range []struct {
		f string
		v Duration
	}{{"sign_in.approve_delay", si.ApproveDelay}, {"sign_in.code_lifetime", si.CodeLifetime}, {"sign_in.token_lifetime", si.TokenLifetime}, {"consent.duration", sc.Consent.Duration}, {"platform.healthy_after", sc.Platform.HealthyAfter}} {
		if d.v < 0 {
			return fmt.Errorf("field %q: %s must not be negative", d.f, d.v.D())
		}
	}
	if si.CodeLifetime != 0 && si.CodeLifetime.D() < time.Second {
		return fmt.Errorf("field %q: %s is too short (at least 1s)", "sign_in.code_lifetime", si.CodeLifetime.D())
	}
	if si.TokenLifetime != 0 && si.TokenLifetime.D() < time.Second {
		return fmt.Errorf("field %q: %s is too short (at least 1s)", "sign_in.token_lifetime", si.TokenLifetime.D())
	}
	if err := simOneOf("consent.error_650051", sc.Consent.Error650051, Consent650051Kinds); err != nil {
		return err
	}
	pl := sc.Platform
	if err := simOneOf("platform.account.subscription", pl.Account.Subscription, append([]string{""}, SubscriptionStates...)); err != nil {
		return err
	}
	if err := simOneOf("platform.account.role", pl.Account.Role, simAccountRoles); err != nil {
		return err
	}
	if pl.Account.ExpiresAt != "" {
		if _, err := time.Parse(time.RFC3339, pl.Account.ExpiresAt); err != nil {
			return fmt.Errorf("field %q: %q is not an RFC 3339 time (e.g. \"2027-01-31T00:00:00Z\")", "platform.account.expires_at", pl.Account.ExpiresAt)
		}
	}
	if pl.App.AppID != "" && !simIsGUID(pl.App.AppID) {
		return fmt.Errorf("field %q: %q is not a GUID", "platform.app.app_id", pl.App.AppID)
	}
	for i, p := range pl.App.ApplicationPermissions {
		f := fmt.Sprintf("platform.app.application_permissions[%d]", i)
		if !simIsGUID(p.ResourceAppID) {
			return fmt.Errorf("field %q: %q is not a GUID", f+".resource_app_id", p.ResourceAppID)
		}
		if p.Permission == "" {
			return fmt.Errorf("field %q: must not be empty", f+".permission")
		}
	}
	orgs := map[string]bool{}
	for i, o := range pl.Organizations {
		f := fmt.Sprintf("platform.organizations[%d]", i)
		if o.ID == "" {
			return fmt.Errorf("field %q: must not be empty", f+".id")
		}
		if orgs[o.ID] {
			return fmt.Errorf("field %q: %q appears twice", f+".id", o.ID)
		}
		orgs[o.ID] = true
		if strings.TrimSpace(o.Name) == "" {
			return fmt.Errorf("field %q: must not be empty", f+".name")
		}
	}
	if pl.GeneratedOrganizations < 0 || pl.GeneratedOrganizations > 100000 {
		return fmt.Errorf("field %q: %d is outside 0..100000", "platform.generated_organizations", pl.GeneratedOrganizations)
	}
	for i, in := range pl.Integrations {
		f := fmt.Sprintf("platform.integrations[%d]", i)
		if !simIsGUID(in.TenantID) {
			return fmt.Errorf("field %q: %q is not a GUID", f+".tenant_id", in.TenantID)
		}
		if !orgs[in.OrganizationID] && pl.GeneratedOrganizations == 0 {
			return fmt.Errorf("field %q: %q is not the id of an organization in platform.organizations", f+".organization_id", in.OrganizationID)
		}
		if err := simOneOf(f+".status", in.Status, simIntegrationState); err != nil {
			return err
		}
	}
	for i, fs := range sc.Faults {
		f := fmt.Sprintf("faults[%d]", i)
		if err := simOneOf(f+".kind", fs.Kind, FaultKinds()); err != nil {
			return err
		}
		if err := simOneOf(f+".group", fs.Group, simFaultGroups); err != nil {
			return err
		}
		if err := simOneOf(f+".method", strings.ToUpper(fs.Method), simFaultMethods); err != nil {
			return err
		}
		if fs.Path != "" {
			if _, err := path.Match(fs.Path, "/"); err != nil {
				return fmt.Errorf("field %q: %q is not a valid path pattern: %v", f+".path", fs.Path, err)
			}
		}
		if fs.Rate < 0 || fs.Rate > 1 {
			return fmt.Errorf("field %q: %g is outside 0..1", f+".rate", fs.Rate)
		}
		if fs.Latency < 0 || fs.Jitter < 0 {
			return fmt.Errorf("field %q: must not be negative", f+".latency")
		}
		if fs.RetryAfter < 0 || fs.Count < 0 {
			return fmt.Errorf("field %q: must not be negative", f+".retry_after")
		}
		if fs.Kind == FaultLatency && fs.Latency == 0 && fs.Jitter == 0 {
			return fmt.Errorf("field %q: a latency fault needs latency or jitter", f+".latency")
		}
	}
	return nil
}
