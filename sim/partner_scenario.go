package sim

import (
	"crypto/sha1"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// PartnerScenario is an MSP's world: the partner tenant (users, security
// groups, AdminAgents, the onboarding app), its customers with their GDAP
// relationships and access assignments, Partner Center's customer list and
// the ITDR platform account (organizations and existing integrations).
//
// Shapes served from it follow Microsoft's documents (docs/gdap.md and
// ../shared/reference/gdap.md §1.2, §1.4, §1.5); nothing here imports the
// clients.
type PartnerScenario struct {
	Name string `json:"name"`
	Seed int64  `json:"seed,omitempty"`

	Partner   PartnerTenantSpec `json:"partner"`
	Customers []CustomerSpec    `json:"customers"`
	Platform  PlatformSpec      `json:"platform"`

	// Propagation is how long after a relationship's activation a customer
	// token still fails (Microsoft: "can take up to 3 minutes"); default 3m.
	Propagation Duration `json:"propagation,omitempty"`
	// ConsentPropagation is how long after a Partner Center consent a
	// customer token still fails with AADSTS65001; default 0.
	ConsentPropagation Duration `json:"consent_propagation,omitempty"`
	// PartnerCenterRPS is the applicationconsents limit per applicationId
	// (Partner Center: 50 requests per second); default 50.
	PartnerCenterRPS int `json:"partner_center_rps,omitempty"`
	// AppReplication is how long after an app is registered its service
	// principal cannot be created yet (400 "…does not reference a valid
	// application object"); default 0.
	AppReplication Duration `json:"app_replication,omitempty"`
}

// PartnerTenantSpec is the partner (MSP) tenant.
type PartnerTenantSpec struct {
	ID          string             `json:"id"`
	Domain      string             `json:"domain"`
	DisplayName string             `json:"display_name"`
	Users       []PartnerUserSpec  `json:"users"`
	Groups      []PartnerGroupSpec `json:"groups"`
	// AppID is the onboarding app registered in the partner tenant
	// (multi-tenant, public client flows on). Customer tokens for this
	// client need its consent in the customer tenant.
	AppID string `json:"app_id"`
	// App is the onboarding app's registration at start: "" (ready:
	// registered as partner setup makes it and consented in the partner
	// tenant), "absent" (not registered: partner setup creates it) or
	// "hand-made" (registered by hand: single tenant, public client flows
	// off, no redirect, Exchange.Manage missing, an extra Mail.Read, never
	// consented).
	App string `json:"app,omitempty"`
}

// Onboarding app states of PartnerTenantSpec.App.
const (
	PartnerAppReady    = ""
	PartnerAppAbsent   = "absent"
	PartnerAppHandMade = "hand-made"
)

// PartnerUserSpec is one partner user.
type PartnerUserSpec struct {
	UPN         string `json:"upn"`
	DisplayName string `json:"display_name,omitempty"`
	// MFA: the user's sign-ins carry an MFA claim (amr "mfa"). Partner
	// Center refuses App+User calls without it (401, 900421).
	MFA bool `json:"mfa"`
	// AdminAgent: member of the Partner Center AdminAgents group.
	AdminAgent bool `json:"admin_agent"`
	// Groups are the names of the partner security groups the user is in.
	Groups []string `json:"groups,omitempty"`
	// SignsIn marks the account that approves sign-ins (default: first).
	SignsIn bool `json:"signs_in,omitempty"`
	// DirectoryRoles are the user's active directory roles in the partner
	// tenant (names or template ids); app registration writes need Global
	// Administrator, Cloud Application Administrator or Application
	// Administrator.
	DirectoryRoles []string `json:"directory_roles,omitempty"`
}

// PartnerGroupSpec is a partner security group (GDAP access container).
type PartnerGroupSpec struct {
	ID   string `json:"id,omitempty"` // default: derived from the name
	Name string `json:"name"`
}

// CustomerSpec is one customer tenant.
type CustomerSpec struct {
	TenantID    string `json:"tenant_id"`
	Domain      string `json:"domain"`
	DisplayName string `json:"display_name"`
	// PartnerCenter lists the tenant among Partner Center's customers (a
	// CSP reseller customer). A customer may have GDAP without being one.
	PartnerCenter bool               `json:"partner_center"`
	Relationships []RelationshipSpec `json:"relationships,omitempty"`
	// Consented: the onboarding app is already consented in the tenant.
	Consented bool `json:"consented,omitempty"`
	// Block: "" | "conditional-access" (AADSTS53003 for service-provider
	// users) | "no-exchange" (AADSTS650052 for the Exchange resource: the
	// tenant has no Exchange Online service principal).
	Block string `json:"block,omitempty"`
	// Tenant is the customer's own tenant (Graph, Exchange) as the
	// per-tenant flow sees it over GDAP (partner_tenant.go).
	Tenant CustomerTenantSpec `json:"tenant,omitempty"`
	// Preset names the generator's tenant preset (documentation and tests).
	Preset string `json:"preset,omitempty"`
	// Lane is the generator's intent (documentation and tests only; the
	// server never reads it).
	Lane string `json:"lane,omitempty"`
}

// RelationshipSpec is one delegatedAdminRelationship with this customer.
type RelationshipSpec struct {
	ID          string `json:"id,omitempty"` // default derived
	DisplayName string `json:"display_name"`
	// Status: active | approvalPending | expired | terminated | created …
	Status string `json:"status"`
	// Roles are role template ids or names ("Privileged Role Administrator").
	Roles []string `json:"roles"`
	// ActivatedAgo dates activatedDateTime before the simulator's start.
	ActivatedAgo Duration `json:"activated_ago,omitempty"`
	// Duration of the relationship (default P730D).
	Duration    string           `json:"duration,omitempty"`
	Assignments []AssignmentSpec `json:"assignments,omitempty"`
}

// AssignmentSpec is one delegatedAdminAccessAssignment.
type AssignmentSpec struct {
	Group string   `json:"group"` // partner group name
	Roles []string `json:"roles"`
	// ActiveAfter: the assignment is "pending" until this long after the
	// simulator's start (Partner Center: "after 30 seconds or so").
	ActiveAfter Duration `json:"active_after,omitempty"`
}

// GDAP role template ids (CIPP GDAPRoles.json, Microsoft Entra built-in roles).
const (
	RoleCloudAppAdmin       = "158c047a-c907-4556-b7ef-446551a6b5f7"
	RoleAppAdmin            = "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3"
	RolePrivilegedRoleAdmin = "e8611ab8-c189-46e8-94e1-60213ab1f814"
	RoleExchangeAdmin       = "29232cdf-9323-42fd-ade2-1d097af3e4de"
	RoleGlobalReader        = "f2ef992c-3afb-46b9-b7cf-a126ee74c451"
	RoleGlobalAdmin         = "62e90394-69f5-4237-9190-012177145e10"
	RoleDirectoryReaders    = "88d8e3e3-8f55-4a1e-953a-9b9898b8876b"
)

var simGDAPRoleNames = map[string]string{
	"cloud application administrator": RoleCloudAppAdmin,
	"application administrator":       RoleAppAdmin,
	"privileged role administrator":   RolePrivilegedRoleAdmin,
	"exchange administrator":          RoleExchangeAdmin,
	"global reader":                   RoleGlobalReader,
	"global administrator":            RoleGlobalAdmin,
	"directory readers":               RoleDirectoryReaders,
}

func simRoleID(r string) (string, error) {
	r = strings.TrimSpace(r)
	if simIsGUID(r) {
		return strings.ToLower(r), nil
	}
	if id, ok := simGDAPRoleNames[strings.ToLower(r)]; ok {
		return id, nil
	}
	return "", fmt.Errorf("role %q: want a role template id or one of the names Cloud Application Administrator, Application Administrator, Privileged Role Administrator, Exchange Administrator, Global Reader, Global Administrator, Directory Readers", r)
}

// simGDAPStatuses are delegatedAdminRelationship.status values (Graph v1.0).
var simGDAPStatuses = map[string]bool{
	"created": true, "approvalPending": true, "approved": true, "activating": true, "active": true,
	"expiring": true, "expired": true, "terminationRequested": true, "terminating": true, "terminated": true,
}

// Validate reports the first problem, naming the field.
func (sc *PartnerScenario) Validate() error {
	p := &sc.Partner
	if !simIsGUID(p.ID) {
		return fmt.Errorf("partner.id %q is not a GUID", p.ID)
	}
	if p.Domain == "" {
		return errors.New("partner.domain is empty")
	}
	if !simIsGUID(p.AppID) {
		return fmt.Errorf("partner.app_id %q is not a GUID", p.AppID)
	}
	switch p.App {
	case PartnerAppReady, PartnerAppAbsent, PartnerAppHandMade:
	default:
		return fmt.Errorf("partner.app %q: want \"\" (ready), absent or hand-made", p.App)
	}
	if len(p.Users) == 0 {
		return errors.New("partner.users is empty: one user must sign in")
	}
	groups := map[string]bool{}
	for i, g := range p.Groups {
		if g.Name == "" {
			return fmt.Errorf("partner.groups[%d].name is empty", i)
		}
		groups[strings.ToLower(g.Name)] = true
	}
	for i, u := range p.Users {
		if !strings.Contains(u.UPN, "@") {
			return fmt.Errorf("partner.users[%d].upn %q is not a UPN", i, u.UPN)
		}
		for _, g := range u.Groups {
			if !groups[strings.ToLower(g)] {
				return fmt.Errorf("partner.users[%d].groups: %q is not in partner.groups", i, g)
			}
		}
		for _, role := range u.DirectoryRoles {
			if _, err := simRoleID(role); err != nil {
				return fmt.Errorf("partner.users[%d].directory_roles: %w", i, err)
			}
		}
	}
	seen := map[string]bool{}
	for i, c := range sc.Customers {
		if !simIsGUID(c.TenantID) {
			return fmt.Errorf("customers[%d].tenant_id %q is not a GUID", i, c.TenantID)
		}
		if seen[strings.ToLower(c.TenantID)] {
			return fmt.Errorf("customers[%d].tenant_id %s appears twice", i, c.TenantID)
		}
		seen[strings.ToLower(c.TenantID)] = true
		if c.Domain == "" {
			return fmt.Errorf("customers[%d].domain is empty", i)
		}
		switch c.Block {
		case "", "conditional-access", "no-exchange":
		default:
			return fmt.Errorf("customers[%d].block %q: want \"\", conditional-access or no-exchange", i, c.Block)
		}
		for j, r := range c.Relationships {
			if !simGDAPStatuses[r.Status] {
				return fmt.Errorf("customers[%d].relationships[%d].status %q is not a delegatedAdminRelationship status", i, j, r.Status)
			}
			if len(r.DisplayName) > 50 {
				return fmt.Errorf("customers[%d].relationships[%d].display_name is longer than 50 characters", i, j)
			}
			for _, role := range r.Roles {
				if _, err := simRoleID(role); err != nil {
					return fmt.Errorf("customers[%d].relationships[%d].roles: %w", i, j, err)
				}
			}
			for k, a := range r.Assignments {
				if !groups[strings.ToLower(a.Group)] {
					return fmt.Errorf("customers[%d].relationships[%d].assignments[%d].group %q is not in partner.groups (Graph: access container does not exist)", i, j, k, a.Group)
				}
				for _, role := range a.Roles {
					id, err := simRoleID(role)
					if err != nil {
						return fmt.Errorf("customers[%d].relationships[%d].assignments[%d].roles: %w", i, j, k, err)
					}
					if !simContainsRole(r.Roles, id) {
						return fmt.Errorf("customers[%d].relationships[%d].assignments[%d]: role %s is not among the relationship's roles", i, j, k, role)
					}
				}
			}
		}
	}
	return nil
}

func simContainsRole(roles []string, id string) bool {
	for _, r := range roles {
		if rid, _ := simRoleID(r); rid == id {
			return true
		}
	}
	return false
}

// Partner lanes the generator mixes (docs/gdap.md "Lanes").
const (
	LaneReady          = "ready"
	LaneSettling       = "settling"
	LanePartial        = "partial"
	LaneNotAssigned    = "not-assigned"
	LaneNoGDAP         = "no-gdap"
	LaneConnected      = "connected"
	LaneConflict       = "conflict"
	LaneCABlocked      = "ca-blocked"      // post-token: AADSTS53003
	LaneNoExchange     = "no-exchange"     // post-token: AADSTS650052 for Exchange
	LaneReadyConsented = "ready-consented" // ready; the app is already consented
)

// simLaneMix is the generator's cycle: every lane at least once in 25,
// ready the most common (gdap.md §5: "70 ready, 10 partial, 8 not-assigned …").
var simLaneMix = []string{
	LaneReady, LaneSettling, LanePartial, LaneNotAssigned, LaneNoGDAP, LaneConnected, LaneConflict,
	LaneCABlocked, LaneNoExchange, LaneReadyConsented,
	LaneReady, LaneReady, LanePartial, LaneNoGDAP, LaneReady, LaneSettling, LaneReady, LaneNotAssigned,
	LaneReady, LanePartial, LaneReady, LaneNoGDAP, LaneReady, LaneConnected, LaneReady,
}

var simCompanyWords = []string{"Contoso", "Fabrikam", "Northwind", "Tailspin", "Woodgrove", "Litware", "Adatum", "Proseware", "Wingtip", "Alpine",
	"Bellows", "Coho", "Fourth", "Lucerne", "Margie", "Relecloud", "Trey", "Wide World", "Humongous", "Graphic"}

// DefaultPartnerCustomers is the size of the built-in partner scenario.
const DefaultPartnerCustomers = 25

// PartnerDemoScenario is the built-in 25-customer partner scenario.
func PartnerDemoScenario() *PartnerScenario {
	return GeneratePartnerScenario(DefaultPartnerCustomers, 20)
}

// simSeedGUID is a deterministic GUID for (seed, kind, n).
func simSeedGUID(seed int64, kind string, n int) string {
	h := sha1.Sum([]byte(fmt.Sprintf("sim-partner\x00%d\x00%s\x00%d", seed, kind, n)))
	return simGUID(h[:], 5)
}

// GeneratePartnerScenario builds n customers with a deterministic mix of
// every lane (for n ≥ 10 each lane appears at least once; order and names
// depend on seed). The partner has one signing-in technician with MFA in
// AdminAgents and the "GDAP Onboarding" group, and a second group
// ("GDAP Helpdesk") the technician is not in (the not-assigned lane).
func GeneratePartnerScenario(n int, seed int64) *PartnerScenario {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x9da9))
	sc := &PartnerScenario{
		Name: fmt.Sprintf("partner-%d", n),
		Seed: seed,
		Partner: PartnerTenantSpec{
			ID:          simSeedGUID(seed, "partner", 0),
			Domain:      "msp-demo.onmicrosoft.com",
			DisplayName: "Demo MSP",
			AppID:       simSeedGUID(seed, "app", 0),
			Groups:      []PartnerGroupSpec{{Name: "GDAP Onboarding"}, {Name: "GDAP Helpdesk"}},
			Users: []PartnerUserSpec{
				{UPN: "tech@msp-demo.onmicrosoft.com", DisplayName: "Taylor Tech", MFA: true, AdminAgent: true, Groups: []string{"GDAP Onboarding"}, SignsIn: true,
					DirectoryRoles: []string{"Global Administrator"}},
				{UPN: "helpdesk@msp-demo.onmicrosoft.com", DisplayName: "Help Desk", MFA: true, Groups: []string{"GDAP Helpdesk"}},
			},
		},
		Platform: PlatformSpec{},
	}
	sc.Platform.Account.Name = "Demo MSP"
	sc.Platform.Account.User = "tech@msp-demo.example"
	sc.Platform.Account.Subscription = "active"
	sc.Platform.Account.ExpiresIn = Duration(365 * 24 * time.Hour)
	full := []string{"Cloud Application Administrator", "Privileged Role Administrator", "Exchange Administrator", "Global Reader"}
	lanes := make([]string, n)
	for i := range lanes {
		lanes[i] = simLaneMix[i%len(simLaneMix)]
	}
	// Shuffle beyond the first ten so a small n still holds every lane.
	if n > 10 {
		rest := lanes[10:]
		rng.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
	}
	for i, lane := range lanes {
		word := simCompanyWords[i%len(simCompanyWords)]
		name := fmt.Sprintf("%s %03d", word, i+1)
		dom := strings.ToLower(strings.ReplaceAll(word, " ", "")) + fmt.Sprintf("%03d", i+1) + ".onmicrosoft.com"
		c := CustomerSpec{
			TenantID:      simSeedGUID(seed, "customer", i),
			Domain:        dom,
			DisplayName:   name,
			PartnerCenter: true,
			Lane:          lane,
		}
		c.Preset = simTenantPreset(seed, i)
		c.Tenant = CustomerTenantPreset(c.Preset)
		rel := RelationshipSpec{
			DisplayName:  fmt.Sprintf("ITDR_%03d", i+1),
			Status:       "active",
			Roles:        full,
			ActivatedAgo: Duration(time.Duration(30+rng.IntN(300)) * 24 * time.Hour),
			Assignments:  []AssignmentSpec{{Group: "GDAP Onboarding", Roles: full}},
		}
		switch lane {
		case LaneSettling:
			if i%2 == 0 {
				rel.ActivatedAgo = Duration(time.Duration(2+rng.IntN(8)) * time.Minute)
			} else {
				rel.Assignments[0].ActiveAfter = Duration(time.Duration(20+rng.IntN(40)) * time.Second)
			}
		case LanePartial:
			if i%2 == 0 {
				rel.Roles = []string{"Cloud Application Administrator", "Exchange Administrator", "Global Reader"}
			} else {
				rel.Roles = []string{"Cloud Application Administrator", "Privileged Role Administrator", "Global Reader"}
			}
			rel.Assignments[0].Roles = rel.Roles
		case LaneNotAssigned:
			rel.Assignments[0].Group = "GDAP Helpdesk"
		case LaneNoGDAP:
			switch i % 3 {
			case 0:
				rel.Status = "approvalPending"
				rel.ActivatedAgo = 0
				rel.Assignments = nil
			case 1:
				rel.Status = "expired"
			default:
				c.Relationships = nil
				rel = RelationshipSpec{}
			}
		case LaneConnected, LaneConflict:
			c.Consented = true
		case LaneCABlocked:
			c.Block = "conditional-access"
		case LaneNoExchange:
			c.Block = "no-exchange"
			c.Tenant.NoExchangeLicence = true
		case LaneReadyConsented:
			c.Consented = true
		}
		if rel.Status != "" {
			c.Relationships = []RelationshipSpec{rel}
			// A Microsoft-led default relationship (auto-approved, default roles).
			if i%4 == 0 {
				c.Relationships = append(c.Relationships, RelationshipSpec{
					DisplayName: fmt.Sprintf("MLT_%s", simSeedGUID(seed, "mlt", i)[:18]), Status: "active",
					Roles: []string{"Directory Readers", "Global Reader"}, ActivatedAgo: Duration(400 * 24 * time.Hour),
				})
			}
		}
		sc.Customers = append(sc.Customers, c)
		// Platform organizations: one per customer by name; the conflict
		// tenant is mapped to another organization.
		orgID := fmt.Sprintf("org_%03d", i+1)
		sc.Platform.Organizations = append(sc.Platform.Organizations, OrgSpec{ID: orgID, Name: name})
		switch lane {
		case LaneConnected:
			sc.Platform.Integrations = append(sc.Platform.Integrations, IntegrationSpec{TenantID: c.TenantID, OrganizationID: orgID, Status: "healthy"})
		case LaneConflict:
			other := fmt.Sprintf("org_x%03d", i+1)
			sc.Platform.Organizations = append(sc.Platform.Organizations, OrgSpec{ID: other, Name: "Legacy " + name})
			sc.Platform.Integrations = append(sc.Platform.Integrations, IntegrationSpec{TenantID: c.TenantID, OrganizationID: other, Status: "healthy"})
		}
	}
	return sc
}
