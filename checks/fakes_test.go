package checks

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"itdr-onboard/m365"
	"itdr-onboard/platform"
)

// fakeGraph is a tiny stateful Graph: writes change what later reads see.
type fakeGraph struct {
	mu        sync.Mutex
	me        m365.User
	meErr     error
	active    []m365.DirectoryRole
	activeErr error
	eligible  []m365.RoleEligibility
	eligErr   error
	skus      []m365.SKU
	skusErr   error
	sps       map[string]*m365.ServicePrincipal // by app id
	spErr     error
	createErr error
	assign    map[string][]m365.RoleAssignment // by principal id
	assignErr error
	writes    int
}

func (f *fakeGraph) Organization(context.Context) (m365.Organization, error) {
	return m365.Organization{ID: "t1", DisplayName: "Contoso"}, nil
}
func (f *fakeGraph) Me(context.Context) (m365.User, error) { return f.me, f.meErr }
func (f *fakeGraph) MyActiveDirectoryRoles(context.Context) ([]m365.DirectoryRole, error) {
	return f.active, f.activeErr
}
func (f *fakeGraph) MyEligibleRoles(context.Context) ([]m365.RoleEligibility, error) {
	return f.eligible, f.eligErr
}
func (f *fakeGraph) SubscribedSkus(context.Context) ([]m365.SKU, error) { return f.skus, f.skusErr }
func (f *fakeGraph) ServicePrincipalByAppID(_ context.Context, appID string) (*m365.ServicePrincipal, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.spErr != nil {
		return nil, f.spErr
	}
	sp, ok := f.sps[appID]
	if !ok {
		return nil, nil
	}
	c := *sp
	return &c, nil
}
func (f *fakeGraph) CreateServicePrincipal(_ context.Context, appID string) (m365.ServicePrincipal, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.createErr != nil {
		return m365.ServicePrincipal{}, f.createErr
	}
	if f.sps == nil {
		f.sps = map[string]*m365.ServicePrincipal{}
	}
	if _, ok := f.sps[appID]; ok {
		return m365.ServicePrincipal{}, errors.New("Request_MultipleObjectsWithSameKeyValue")
	}
	f.writes++
	sp := &m365.ServicePrincipal{ID: "sp-" + appID, AppID: appID, RequestID: "req-sp"}
	f.sps[appID] = sp
	return *sp, nil
}
func (f *fakeGraph) RoleAssignments(_ context.Context, pid string) ([]m365.RoleAssignment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]m365.RoleAssignment(nil), f.assign[pid]...), f.assignErr
}
func (f *fakeGraph) CreateRoleAssignment(_ context.Context, pid, rid string) (m365.RoleAssignment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range f.assign[pid] {
		if a.RoleDefinitionID == rid {
			return m365.RoleAssignment{}, errors.New("conflicting object")
		}
	}
	if f.assign == nil {
		f.assign = map[string][]m365.RoleAssignment{}
	}
	f.writes++
	a := m365.RoleAssignment{ID: fmt.Sprintf("ra%d", f.writes), PrincipalID: pid, RoleDefinitionID: rid, DirectoryScopeID: "/", RequestID: "req-ra"}
	f.assign[pid] = append(f.assign[pid], a)
	return a, nil
}

// fakeExchange is a tiny stateful Exchange organization.
type fakeExchange struct {
	mu         sync.Mutex
	dehydrated bool
	audit      bool
	roles      map[string][]m365.ManagementRoleAssignment // by group
	readErr    error
	writeErr   error
	writes     int
}

func (f *fakeExchange) OrganizationConfig(context.Context) (m365.OrgConfig, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return m365.OrgConfig{Name: "contoso", IsDehydrated: f.dehydrated}, f.readErr
}
func (f *fakeExchange) EnableOrganizationCustomization(context.Context) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.writeErr != nil {
		return "", f.writeErr
	}
	if !f.dehydrated {
		return "", errors.New("InvalidOperationException: This operation is not required. Organization is already enabled for customization.")
	}
	f.writes++
	f.dehydrated = false
	return "req-eoc", nil
}
func (f *fakeExchange) AdminAuditLogConfig(context.Context) (m365.AuditConfig, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return m365.AuditConfig{UnifiedAuditLogIngestionEnabled: f.audit}, f.readErr
}
func (f *fakeExchange) SetUnifiedAuditLogIngestion(_ context.Context, on bool) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.writeErr != nil {
		return "", f.writeErr
	}
	f.writes++
	f.audit = on
	return "req-audit", nil
}
func (f *fakeExchange) RoleGroupRoles(_ context.Context, g string) ([]m365.ManagementRoleAssignment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]m365.ManagementRoleAssignment(nil), f.roles[g]...), f.readErr
}
func (f *fakeExchange) NewManagementRoleAssignment(_ context.Context, role, g string) (m365.ManagementRoleAssignment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.writeErr != nil {
		return m365.ManagementRoleAssignment{}, f.writeErr
	}
	for _, a := range f.roles[g] {
		if strings.EqualFold(a.Role, role) && !strings.HasSuffix(a.Name, "-Delegating") {
			return m365.ManagementRoleAssignment{}, errors.New("already exists")
		}
	}
	if f.roles == nil {
		f.roles = map[string][]m365.ManagementRoleAssignment{}
	}
	f.writes++
	a := m365.ManagementRoleAssignment{Name: role + "-" + g, Role: role, RoleAssignee: g, Enabled: true, RequestID: "req-" + role}
	f.roles[g] = append(f.roles[g], a)
	return a, nil
}

func withRoles(g string, roles ...string) map[string][]m365.ManagementRoleAssignment {
	m := map[string][]m365.ManagementRoleAssignment{}
	for _, r := range roles {
		m[g] = append(m[g], m365.ManagementRoleAssignment{Name: r + "-" + g, Role: r, RoleAssignee: g, Enabled: true})
	}
	return m
}

type fakePlatform struct {
	acct     platform.Account
	acctErr  error
	app      platform.App
	appErr   error
	appCalls int
	mu       sync.Mutex
}

func (f *fakePlatform) Account(context.Context) (platform.Account, error) { return f.acct, f.acctErr }
func (f *fakePlatform) App(context.Context) (platform.App, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.appCalls++
	return f.app, f.appErr
}

const testAppID = "5b1a7c3e-0d5f-4e39-9d6b-6c0f3f6b9a11"

func testApp() platform.App {
	return platform.App{
		AppID:       testAppID,
		DisplayName: "ITDR Security Platform (Direct)",
		DirectoryRoles: []platform.DirectoryRole{
			{TemplateID: "29232cdf-9323-42fd-ade2-1d097af3e4de", DisplayName: "Exchange Administrator"},
			{TemplateID: "92ed04bf-c94a-4b82-9729-b799a7a4c178", DisplayName: "Organization Branding Administrator"},
		},
		ExchangeRoleGroup: "Organization Management",
		ExchangeRoles:     []string{"Audit Logs", "Mail Recipients", "Organization Configuration", "Transport Rules", "Role Management"},
	}
}
