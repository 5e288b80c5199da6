package sim

import (
	"fmt"
	"hash/fnv"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Customer tenants of the partner simulator: each is today's single-tenant
// model (State: Graph, Exchange admin API, the audit pipeline), reached by
// a partner user over GDAP. Requests are routed by the access token's tid
// (Graph) or the URL's tenant (Exchange /adminapi/beta/{tenant}/…); the
// user acts with the roles its GDAP access assignments grant (gdap.md §1.3,
// §1.6, §1.7), and is no object in the customer's directory (/me is 404).

// CustomerTenantSpec is a customer's own tenant as the per-tenant flow sees
// it. The zero value is the typical tenant: Exchange licensed, audit on,
// Organization Management missing Audit Logs and Transport Rules.
type CustomerTenantSpec struct {
	// AuditOff: unified audit log ingestion is off.
	AuditOff bool `json:"audit_off,omitempty"`
	// Dehydrated: Exchange needs Enable-OrganizationCustomization.
	Dehydrated bool `json:"dehydrated,omitempty"`
	// OrganizationManagementRoles at start; nil: the typical tenant's.
	OrganizationManagementRoles []string `json:"organization_management_roles,omitempty"`
	// NoExchangeLicence: no Exchange Online plan (also implied by
	// block "no-exchange").
	NoExchangeLicence bool `json:"no_exchange_licence,omitempty"`
}

// Tenant presets the generator spreads over the customers (by seed).
const (
	TenantTypical    = "typical"    // two Exchange roles missing: role fixes
	TenantReady      = "ready"      // nothing to fix
	TenantAuditOff   = "audit-off"  // audit logging off: the audit fix
	TenantDehydrated = "dehydrated" // Enable-OrganizationCustomization first
)

var simTenantPresets = []string{TenantTypical, TenantReady, TenantAuditOff, TenantTypical, TenantDehydrated}

// simTenantPreset is the preset of customer i under seed (deterministic,
// independent of the lane mix's random stream).
func simTenantPreset(seed int64, i int) string {
	h := fnv.New32a()
	fmt.Fprintf(h, "tenant-preset\x00%d\x00%d", seed, i)
	return simTenantPresets[h.Sum32()%uint32(len(simTenantPresets))]
}

// CustomerTenantPreset returns the spec of a preset name.
func CustomerTenantPreset(name string) CustomerTenantSpec {
	switch name {
	case TenantReady:
		return CustomerTenantSpec{OrganizationManagementRoles: append([]string(nil), PlatformExchangeRoles...)}
	case TenantAuditOff:
		return CustomerTenantSpec{AuditOff: true, OrganizationManagementRoles: append([]string(nil), PlatformExchangeRoles...)}
	case TenantDehydrated:
		return CustomerTenantSpec{Dehydrated: true}
	}
	return CustomerTenantSpec{}
}

// customerScenario is the single-tenant scenario of one customer.
func (s *PartnerServer) customerScenario(c *ptCustomer) *Scenario {
	t := c.spec.Tenant
	dom := simInitialDomain(c.spec.Domain)
	name := stDefault(c.spec.DisplayName, dom)
	yes := true
	roles := t.OrganizationManagementRoles
	if roles == nil {
		roles = []string{"Mail Recipients", "Organization Configuration", "Role Management"}
	}
	lic := SKUSpec{SkuPartNumber: "O365_BUSINESS_PREMIUM", Enabled: 25, Consumed: 3,
		ServicePlans: []ServicePlanSpec{{Name: "EXCHANGE_S_STANDARD"}, {Name: "SHAREPOINTSTANDARD"}, {Name: "TEAMS1"}}}
	if t.NoExchangeLicence || c.spec.Block == "no-exchange" {
		lic = SKUSpec{SkuPartNumber: "O365_BUSINESS", Enabled: 10, Consumed: 3,
			ServicePlans: []ServicePlanSpec{{Name: "SHAREPOINTSTANDARD"}, {Name: "TEAMS1"}}}
	}
	sc := &Scenario{
		Name:   "customer-" + c.tid,
		Seed:   s.sc.Seed,
		Tenant: TenantSpec{ID: c.tid, InitialDomain: dom, DisplayName: name},
		Users: []UserSpec{
			{UPN: "admin@" + dom, DisplayName: name + " Admin", ActiveRoles: []string{"Global Administrator"}, Licensed: &yes, MFARegistered: true, SignsIn: true},
			{UPN: "alex@" + dom, DisplayName: "Alex Wilber", Licensed: &yes, MFARegistered: true},
			{UPN: "megan@" + dom, DisplayName: "Megan Bowen", Licensed: &yes},
		},
		Licences: []SKUSpec{lic},
		Exchange: ExchangeSpec{UnifiedAuditLogIngestionEnabled: !t.AuditOff, Dehydrated: t.Dehydrated, OrganizationManagementRoles: roles},
		Audit:    AuditSpec{DirectoryAuditLatency: Duration(time.Second), UnifiedAuditLatency: Duration(3 * time.Second)},
		Platform: s.sc.Platform,
	}
	sc.Platform.Organizations, sc.Platform.Integrations = nil, nil
	return sc
}

// tenantState is a customer's single-tenant state, built on first use.
func (s *PartnerServer) tenantState(c *ptCustomer) (*State, error) {
	s.tmu.Lock()
	defer s.tmu.Unlock()
	if c.state != nil {
		return c.state, nil
	}
	sc, err := simNormalize(s.customerScenario(c))
	if err != nil {
		return nil, err
	}
	st, err := NewState(sc, s.now)
	if err != nil {
		return nil, fmt.Errorf("sim: customer %s: %w", c.tid, err)
	}
	st.Tokens = s.tokens
	st.AuthorityURL = s.base
	st.PlatformRateLimit = 0 // the platform API is the partner's (s.pf)
	cust := c
	st.Delegated = func(p Principal) []string {
		if !strings.EqualFold(p.TenantID, cust.tid) {
			return nil
		}
		u, ok := s.user(p.UPN)
		if !ok {
			return nil
		}
		roles, _ := s.effectiveRoles(u, cust, s.now())
		if roles == nil {
			return nil
		}
		return roles
	}
	c.state = st
	return st, nil
}

// TenantState is a customer's single-tenant state (tests: snapshots,
// change log); nil for a tenant the scenario does not hold.
func (s *PartnerServer) TenantState(tenantID string) *State {
	c := s.customerByAny(tenantID)
	if c == nil {
		return nil
	}
	st, err := s.tenantState(c)
	if err != nil {
		return nil
	}
	return st
}

func (s *PartnerServer) customerByAny(seg string) *ptCustomer {
	seg = strings.ToLower(seg)
	if c := s.customers[seg]; c != nil {
		return c
	}
	if c := s.byDomain[seg]; c != nil {
		return c
	}
	for _, c := range s.order {
		if simInitialDomain(c.spec.Domain) == seg {
			return c
		}
	}
	return nil
}

// serveCustomerGraph hands a request with a customer token to that
// customer's Graph.
func (s *PartnerServer) serveCustomerGraph(w http.ResponseWriter, r *http.Request, c *ptCustomer, rel string) {
	st, err := s.tenantState(c)
	if err != nil {
		ptGraphErr(w, http.StatusInternalServerError, "InternalServerError", err.Error())
		return
	}
	st.GraphHandler().ServeHTTP(w, simWithPath(r, rel))
}

// serveExchange routes /exchange/adminapi/beta/{tenant}/InvokeCommand by
// the URL's tenant; that tenant's Exchange refuses a token of another
// tenant (gdap.md §1.7: URL tenant = token tenant).
func (s *PartnerServer) serveExchange(w http.ResponseWriter, r *http.Request, rel string) {
	segs := strings.Split(strings.Trim(rel, "/"), "/")
	var c *ptCustomer
	if len(segs) >= 3 {
		c = s.customerByAny(segs[2])
	}
	if c == nil {
		simWriteJSON(w, http.StatusNotFound, map[string]any{"error": map[string]any{"code": "NotFound", "message": "Tenant could not be found."}})
		return
	}
	ptSetTenant(r, c.tid)
	st, err := s.tenantState(c)
	if err != nil {
		simWriteJSON(w, http.StatusInternalServerError, map[string]any{"error": map[string]any{"code": "InternalServerError", "message": err.Error()}})
		return
	}
	st.ExchangeHandler().ServeHTTP(w, simWithPath(r, rel))
}

// delegatedUser is the partner user of a token issued for this tenant who
// holds roles here over GDAP (State.Delegated); nil otherwise. Callers
// hold st.mu.
func (st *State) delegatedUser(p Principal) *stUser {
	if st.Delegated == nil || !strings.EqualFold(p.TenantID, st.tenantID) {
		return nil
	}
	roles := st.Delegated(p)
	if roles == nil {
		return nil
	}
	return &stUser{ID: p.ObjectID, UPN: p.UPN, DisplayName: p.UPN, HomeTenant: "partner", Enabled: true, gdap: roles}
}

func (u *stUser) hasGDAPRole(roles ...string) bool {
	for _, have := range u.gdap {
		for _, want := range roles {
			if strings.EqualFold(have, want) {
				return true
			}
		}
	}
	return false
}

// System mailboxes a partner's Exchange calls are anchored at (gdap.md
// §1.7; CIPP New-ExoRequest.ps1): SystemMailbox{bb558c35-…} for every
// cmdlet, SystemMailbox{8cc370d3-…} (the audit log mailbox) for
// Set-AdminAuditLogConfig.
const (
	SystemMailboxDefault = "SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}"
	SystemMailboxAudit   = "SystemMailbox{8cc370d3-822a-4ab8-a926-bb94bd0641a9}"
)

var exoAnchorRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)^(APP|UPN):(SystemMailbox\{[0-9a-f-]{36}\})@(.+)$`)
})

// gdapAnchorOK checks X-AnchorMailbox for a partner user: a partner user
// has no mailbox here, so only the tenant's system mailboxes route; the
// audit configuration is written through the audit log mailbox, else
// Exchange answers "Cmdlet needs proxy" (I-pnp4677). It writes the error.
func (c *exoCtx) gdapAnchorOK(cmdlet string) bool {
	a := c.r.Header.Get("X-AnchorMailbox")
	m := exoAnchorRE().FindStringSubmatch(a)
	if m == nil || !(strings.EqualFold(m[3], c.st.tenantID) || strings.EqualFold(m[3], c.st.initialDomain)) ||
		!(strings.EqualFold(m[2], SystemMailboxDefault) || strings.EqualFold(m[2], SystemMailboxAudit)) {
		// UNCONFIRMED wording: the anchor does not resolve to a mailbox of
		// this organization.
		c.plainError(http.StatusBadRequest, "BadRequest", "The anchor mailbox in X-AnchorMailbox could not be found in this organization; a delegated administrator must anchor at the tenant's system mailbox (APP:"+SystemMailboxDefault+"@{tenant}).")
		return false
	}
	if strings.EqualFold(cmdlet, "Set-AdminAuditLogConfig") && !strings.EqualFold(m[2], SystemMailboxAudit) {
		c.plainError(http.StatusBadRequest, "BadRequest", "Cmdlet needs proxy. Current Server FQDN : SIM0PR01MB0001.namprd00.prod.outlook.com, Required Server FQDN : SIM0PR01MB0002.namprd00.prod.outlook.com")
		return false
	}
	return true
}

// simAnchorForLog is X-AnchorMailbox as the request log keeps it: a system
// mailbox anchor whole, a user anchor as its kind only (never a user name).
func simAnchorForLog(a string) string {
	if a == "" {
		return ""
	}
	if exoAnchorRE().MatchString(a) {
		return simClip(a, 120)
	}
	kind, _, _ := strings.Cut(a, ":")
	return simClip(strings.ToUpper(kind), 8) + ":…"
}
