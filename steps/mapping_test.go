package steps

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"itdr-onboard/checks"
	"itdr-onboard/m365"
	"itdr-onboard/platform"
)

const (
	softDeletedText = "graph: POST /servicePrincipals: HTTP 400 Request_BadRequest: AADSTS650051: Consent action for Application 'a' failed due to the following error: The 'a' service principal name is already present for the tenant 't'."
	invalidText     = "AADSTS650051: Application 'a' is requesting permissions that are either invalid or out of date. Claim is invalid: ActivityReports.Read does not exist on resource 'Office 365 Management APIs'"
)

var spInfos = []CheckInfo{{ID: "platform.sp-roles", Title: "SP roles", Step: checks.StepRoles, Phase: checks.Tenant, Severity: checks.Required}}

// A 650051 while the role fixes create the platform's service principal is
// handed to the mapping step: the roles that need it wait for consent,
// which then creates it; the roles are applied and the receipt rewritten
// before mapping.
func TestRoleFix650051IsDeferredToConsent(t *testing.T) {
	s := NewSession(Options{Org: "org_1", Yes: true})
	s.TenantID = "tid-1"
	e := NewEngine(s, NewRolesStep(spInfos), NewMappingStep())
	jobs := e.Start()
	if !reflect.DeepEqual(effects(jobs), []Effect{RunCheck{ID: "platform.sp-roles"}}) {
		t.Fatalf("start: %#v", effects(jobs))
	}
	create := checks.Change{ID: "platform.sp-roles/create-service-principal", CheckID: "platform.sp-roles", Order: checks.OrderCreateSP, Summary: "Create SP"}
	role := checks.Change{ID: "platform.sp-roles/role/x", CheckID: "platform.sp-roles", Order: checks.OrderSPRole, Summary: "Assign Exchange Administrator"}
	feed(e, CheckDone{ID: "platform.sp-roles", Result: checks.Result{Outcome: checks.Fail, Changes: []checks.Change{create, role}}})
	jobs = feed(e, Answered{QuestionID: QConfirmPlan, Value: "yes"})
	if !reflect.DeepEqual(effects(jobs), []Effect{ApplyChange{Change: create}}) {
		t.Fatalf("apply: %#v", effects(jobs))
	}
	// 650051: nothing else of that check is tried now; no failure.
	jobs = feed(e, ChangeApplied{Err: errors.New(softDeletedText)})
	if e.Failure() != nil || !reflect.DeepEqual(s.Deferred, []checks.Change{create, role}) {
		t.Fatalf("failure %+v deferred %+v", e.Failure(), s.Deferred)
	}
	if !reflect.DeepEqual(effects(jobs), []Effect{WriteReceipt{}}) {
		t.Fatalf("after deferral: %#v", effects(jobs))
	}
	jobs = feed(e, ReceiptWritten{Path: "r1"})
	if e.Current().ID() != Mapping || !reflect.DeepEqual(effects(jobs), []Effect{FindOrgs{Query: "org_1"}}) {
		t.Fatalf("at %s: %#v", e.Current().ID(), effects(jobs))
	}
	feed(e, OrgsFound{Orgs: orgs})
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	jobs = feed(e, ConsentDone{At: at, Result: ConsentResult{ServicePrincipalID: "sp1", Created: true, RequestIDs: []string{"req-create"}}})
	if !reflect.DeepEqual(effects(jobs), []Effect{ApplyChange{Change: role}}) {
		t.Fatalf("deferred role: %#v", effects(jobs))
	}
	if d := e.Current().Snapshot(s).Detail.(*MappingDetail); d.Phase != "roles" {
		t.Fatalf("phase %q", d.Phase)
	}
	jobs = feed(e, ChangeApplied{Applied: checks.Applied{Change: role, RequestID: "req-role"}})
	if !reflect.DeepEqual(effects(jobs), []Effect{WriteReceipt{}}) {
		t.Fatalf("receipt: %#v", effects(jobs))
	}
	jobs = feed(e, ReceiptWritten{Path: "r2"})
	if !reflect.DeepEqual(effects(jobs), []Effect{Map{OrgID: "org_1"}}) || s.ReceiptPath != "r2" {
		t.Fatalf("map: %#v (receipt %q)", effects(jobs), s.ReceiptPath)
	}
	if len(s.Applied) != 2 || s.Applied[0].Change.ID != create.ID || s.Applied[0].RequestID != "req-create" || s.Applied[1].RequestID != "req-role" {
		t.Fatalf("applied %+v", s.Applied)
	}
	feed(e, Mapped{Integration: platform.Integration{ID: "int_1"}})
	feed(e, ReceiptWritten{Path: "r3"})
	if !e.Finished() || ExitCode(e) != 0 || s.Integration.ID != "int_1" {
		t.Fatalf("finished %v code %d", e.Finished(), ExitCode(e))
	}
}

// Any other failure of the role fixes still stops the step.
func TestRoleFixOtherErrorIsNotDeferred(t *testing.T) {
	s := NewSession(Options{Yes: true})
	e := NewEngine(s, NewRolesStep(spInfos), NewMappingStep())
	e.Start()
	create := checks.Change{ID: "c", CheckID: "platform.sp-roles", Order: checks.OrderCreateSP}
	feed(e, CheckDone{ID: "platform.sp-roles", Result: checks.Result{Outcome: checks.Fail, Changes: []checks.Change{create}}})
	feed(e, Answered{QuestionID: QConfirmPlan, Value: "yes"})
	feed(e, ChangeApplied{Err: errors.New("HTTP 403 Authorization_RequestDenied")})
	if ExitCode(e) != 1 || len(s.Deferred) != 0 {
		t.Fatalf("code %d deferred %+v", ExitCode(e), s.Deferred)
	}
}

func TestHandoffShowsURLAndTimesOutWithExit3(t *testing.T) {
	e, s := toMapping(t, Options{Org: "org_1", ConsentHandoff: true, Wait: time.Minute})
	jobs := feed(e, OrgsFound{Orgs: orgs})
	if !reflect.DeepEqual(effects(jobs), []Effect{AwaitConsent{}}) {
		t.Fatalf("handoff: %#v", effects(jobs))
	}
	url := "https://login.example/tid-1/adminconsent?client_id=app"
	feed(e, ConsentHandoff{URL: url})
	snap := e.Current().Snapshot(s)
	d := snap.Detail.(*MappingDetail)
	if d.ConsentURL != url || d.Phase != "handoff" || !strings.Contains(snap.Line, "Global Administrator") {
		t.Fatalf("snapshot %+v detail %+v", snap, d)
	}
	feed(e, ConsentDone{Err: ErrHandoffTimeout})
	f := e.Failure()
	if f == nil || ExitCode(e) != 3 || !strings.Contains(f.Remedy, url) || !strings.Contains(f.Message, "--wait 1m0s") {
		t.Fatalf("failure %+v", f)
	}
}

func TestHandoffGrantMaps(t *testing.T) {
	e, _ := toMapping(t, Options{Org: "org_1", ConsentHandoff: true})
	feed(e, OrgsFound{Orgs: orgs})
	jobs := feed(e, ConsentDone{Result: ConsentResult{ServicePrincipalID: "sp1", AlreadyGranted: []string{"Microsoft Graph: AuditLog.Read.All"}}})
	if !reflect.DeepEqual(effects(jobs), []Effect{Map{OrgID: "org_1"}}) {
		t.Fatalf("map: %#v", effects(jobs))
	}
}

func TestConsentPrecheckAlreadyMappedStops(t *testing.T) {
	e, _ := toMapping(t, Options{Org: "org_1"})
	feed(e, OrgsFound{Orgs: orgs})
	jobs := feed(e, ConsentDone{Err: &platform.Error{Code: "tenant_already_mapped", OrganizationID: "org_7", OrganizationName: "Fabrikam Inc"}})
	f := e.Failure()
	if len(jobs) != 0 || ExitCode(e) != 3 || !strings.Contains(f.Message, "Fabrikam Inc") || !strings.Contains(f.Remedy, "no consent was granted") {
		t.Fatalf("jobs %#v failure %+v", effects(jobs), f)
	}
}

func TestConsentStepForReauthorize(t *testing.T) {
	s := NewSession(Options{})
	e := NewEngine(s, NewConsentStep())
	jobs := e.Start()
	if !reflect.DeepEqual(effects(jobs), []Effect{Consent{}}) || e.Current().Title() != "Consent" {
		t.Fatalf("start: %#v", effects(jobs))
	}
	feed(e, ConsentDone{Result: ConsentResult{ServicePrincipalID: "sp1", Granted: []string{"g"}}})
	if !e.Finished() || ExitCode(e) != 0 || s.Consent.ServicePrincipalID != "sp1" {
		t.Fatalf("finished %v code %d", e.Finished(), ExitCode(e))
	}
	// Invalid permissions stop it at once, naming the permission.
	e = NewEngine(NewSession(Options{}), NewConsentStep())
	e.Start()
	feed(e, ConsentDone{Err: errors.New(invalidText)})
	if f := e.Failure(); ExitCode(e) != 1 || !strings.Contains(f.Message, "ActivityReports.Read") {
		t.Fatalf("failure %+v", f)
	}
}

func TestSoftDeletedReasonExplainsCountdown(t *testing.T) {
	e, _ := toMapping(t, Options{Org: "org_1", ConsentRetryBase: 10 * time.Second, ConsentWait: time.Minute})
	feed(e, OrgsFound{Orgs: orgs})
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	feed(e, ConsentDone{At: at, Err: errors.New(softDeletedText)})
	jobs := feed(e, ConsentDone{At: at, Err: &ConsentError{Kind: SPPresent, DeletedAt: "2026-11-25T11:58:00Z", Err: errors.New(softDeletedText)}})
	if !reflect.DeepEqual(effects(jobs), []Effect{Wait{D: 10 * time.Second}}) {
		t.Fatalf("wait: %#v", effects(jobs))
	}
	d := e.Current().Snapshot(e.Session()).Detail.(*MappingDetail)
	for _, want := range []string{"deleted 2026-11-25T11:58:00Z", "5 to 15 minutes", "retrying in 10s", "at most 1m0s"} {
		if !strings.Contains(d.Reason, want) {
			t.Errorf("reason lacks %q: %s", want, d.Reason)
		}
	}
	if d.WaitUsed != 10*time.Second || d.WaitBudget != time.Minute || !d.RetryAt.Equal(at.Add(10*time.Second)) {
		t.Fatalf("detail %+v", d)
	}
	// A stale Waited (e.g. after the step moved on) starts nothing.
	feed(e, Waited{})
	if jobs := feed(e, Waited{}); len(jobs) != 0 {
		t.Fatalf("second Waited: %#v", effects(jobs))
	}
}

// ---- executor: consent(), awaitConsent() against fakes

const (
	appID   = "5b1a7c3e-0d5f-4e39-9d6b-6c0f3f6b9a11"
	graphID = "00000003-0000-0000-c000-000000000000"
)

type fakeGraph struct {
	mu        sync.Mutex
	sps       map[string]*m365.ServicePrincipal // by app id
	assigns   []m365.AppRoleAssignment
	createErr error
	deleted   []m365.DeletedServicePrincipal
	lookups   int
	grants    int
}

func newFakeGraph() *fakeGraph {
	return &fakeGraph{sps: map[string]*m365.ServicePrincipal{
		graphID: {ID: "res-graph", AppID: graphID, DisplayName: "Microsoft Graph",
			AppRoles: []m365.AppRole{{ID: "role-audit", Value: "AuditLog.Read.All"}}},
	}}
}

func (g *fakeGraph) Organization(context.Context) (m365.Organization, error) {
	return m365.Organization{}, nil
}
func (g *fakeGraph) Me(context.Context) (m365.User, error) { return m365.User{}, nil }
func (g *fakeGraph) ServicePrincipalByAppID(_ context.Context, id string) (*m365.ServicePrincipal, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.lookups++
	if sp, ok := g.sps[id]; ok {
		c := *sp
		return &c, nil
	}
	return nil, nil
}
func (g *fakeGraph) CreateServicePrincipal(_ context.Context, id string) (m365.ServicePrincipal, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.createErr != nil {
		return m365.ServicePrincipal{}, g.createErr
	}
	sp := &m365.ServicePrincipal{ID: "sp-new", AppID: id, RequestID: "req-sp"}
	g.sps[id] = sp
	return *sp, nil
}
func (g *fakeGraph) AppRoleAssignments(_ context.Context, p string) ([]m365.AppRoleAssignment, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []m365.AppRoleAssignment
	for _, a := range g.assigns {
		if a.PrincipalID == p {
			out = append(out, a)
		}
	}
	return out, nil
}
func (g *fakeGraph) GrantAppRole(_ context.Context, r, p, role string) (m365.AppRoleAssignment, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.grants++
	a := m365.AppRoleAssignment{ID: "a", ResourceID: r, PrincipalID: p, AppRoleID: role, RequestID: "req-grant"}
	g.assigns = append(g.assigns, a)
	return a, nil
}
func (g *fakeGraph) OAuth2PermissionGrants(context.Context, string) ([]m365.OAuth2PermissionGrant, error) {
	return nil, nil
}
func (g *fakeGraph) CreateOAuth2PermissionGrant(_ context.Context, c, r, sc string) (m365.OAuth2PermissionGrant, error) {
	return m365.OAuth2PermissionGrant{ClientID: c, ResourceID: r, Scope: sc}, nil
}
func (g *fakeGraph) CountBillableUsers(context.Context) (int, error)   { return 0, nil }
func (g *fakeGraph) MFARegistration(context.Context) (int, int, error) { return 0, 0, nil }
func (g *fakeGraph) DeletedServicePrincipals(context.Context, string) ([]m365.DeletedServicePrincipal, error) {
	return g.deleted, nil
}

type fakePlatform struct {
	PlatformAPI
	app      platform.App
	existing *platform.Integration
}

func (p *fakePlatform) App(context.Context) (platform.App, error) { return p.app, nil }
func (p *fakePlatform) IntegrationForTenant(context.Context, string) (*platform.Integration, error) {
	return p.existing, nil
}

func testApp() platform.App {
	return platform.App{AppID: appID, DisplayName: "ITDR",
		ApplicationPermissions: []platform.AppPermission{{ResourceAppID: graphID, ResourceDisplayName: "Microsoft Graph", Permission: "AuditLog.Read.All"}},
		AdminConsentURL:        "https://login.example/{tenant}/adminconsent?client_id=" + appID}
}

func TestExecutorConsentGrantsAndVerifies(t *testing.T) {
	g := newFakeGraph()
	s := NewSession(Options{})
	s.TenantID = "tid-1"
	x := &Executor{Graph: g, Platform: &fakePlatform{app: testApp()}, Session: s}
	res, err := x.consent(context.Background())
	if err != nil || !res.Created || res.ServicePrincipalID != "sp-new" || !reflect.DeepEqual(res.Granted, []string{"Microsoft Graph: AuditLog.Read.All"}) {
		t.Fatalf("res %+v err %v", res, err)
	}
	// Twice: nothing new is granted.
	res, err = x.consent(context.Background())
	if err != nil || res.Created || len(res.Granted) != 0 || len(res.AlreadyGranted) != 1 || g.grants != 1 {
		t.Fatalf("second: res %+v err %v grants %d", res, err, g.grants)
	}
}

func TestExecutorConsent650051SoftDeletedNamesDeletion(t *testing.T) {
	g := newFakeGraph()
	g.createErr = errors.New(softDeletedText)
	g.deleted = []m365.DeletedServicePrincipal{{ID: "old", AppID: appID, DeletedDateTime: "2026-11-25T11:58:00Z"}}
	x := &Executor{Graph: g, Platform: &fakePlatform{app: testApp()}, Session: NewSession(Options{})}
	_, err := x.consent(context.Background())
	ce := Classify650051(err)
	if ce.Kind != SPPresent || ce.DeletedAt != "2026-11-25T11:58:00Z" {
		t.Fatalf("err %v → %+v", err, ce)
	}
}

func TestExecutorConsentRefusesTenantMappedElsewhere(t *testing.T) {
	g := newFakeGraph()
	s := NewSession(Options{})
	s.TenantID, s.Organization = "tid-1", platform.Organization{ID: "org_1"}
	x := &Executor{Graph: g, Platform: &fakePlatform{app: testApp(), existing: &platform.Integration{OrganizationID: "org_7", OrganizationName: "Fabrikam Inc"}}, Session: s}
	_, err := x.consent(context.Background())
	var pe *platform.Error
	if !errors.As(err, &pe) || pe.Code != "tenant_already_mapped" || pe.OrganizationName != "Fabrikam Inc" || len(g.sps) != 1 || g.grants != 0 {
		t.Fatalf("err %v, tenant changed: sps %d grants %d", err, len(g.sps), g.grants)
	}
	// With --remap consent goes ahead.
	s.Opt.Remap = true
	if _, err := x.consent(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestExecutorHandoffPollsUntilGranted(t *testing.T) {
	g := newFakeGraph()
	s := NewSession(Options{PollBase: time.Second})
	s.TenantID = "tid-1"
	var opened []string
	var events []Event
	polls := 0
	x := &Executor{Graph: g, Platform: &fakePlatform{app: testApp()}, Session: s,
		OpenConsent: func(_ context.Context, u string) error { opened = append(opened, u); return nil },
		Sleep: func(ctx context.Context, d time.Duration) error {
			// The administrator grants after the second poll.
			if polls++; polls == 2 {
				sp, _ := g.CreateServicePrincipal(ctx, appID)
				g.GrantAppRole(ctx, "res-graph", sp.ID, "role-audit")
			}
			return nil
		}}
	ev := x.Do(context.Background(), AwaitConsent{}, func(e Event) { events = append(events, e) })
	cd := ev.(ConsentDone)
	want := "https://login.example/tid-1/adminconsent?client_id=" + appID
	if cd.Err != nil || cd.Result.ServicePrincipalID != "sp-new" || len(cd.Result.AlreadyGranted) != 1 {
		t.Fatalf("done %+v", cd)
	}
	if len(events) != 1 || events[0].(ConsentHandoff).URL != want || !reflect.DeepEqual(opened, []string{want}) {
		t.Fatalf("events %#v opened %v", events, opened)
	}
}

func TestExecutorHandoffTimesOutAndStopsOnInvalidPermissions(t *testing.T) {
	g := newFakeGraph()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	s := NewSession(Options{PollBase: time.Second, Wait: 10 * time.Second})
	x := &Executor{Graph: g, Platform: &fakePlatform{app: testApp()}, Session: s,
		Now:   func() time.Time { return now },
		Sleep: func(_ context.Context, d time.Duration) error { now = now.Add(d); return nil }}
	ev := x.Do(context.Background(), AwaitConsent{}, func(Event) {})
	if err := ev.(ConsentDone).Err; !errors.Is(err, ErrHandoffTimeout) {
		t.Fatalf("err %v", err)
	}
	// The (simulated) administrator hits 650051 invalid permissions: stop at once.
	x.OpenConsent = func(context.Context, string) error {
		return errors.New("sim: PlayBrowser: the page answered 400: " + invalidText)
	}
	ev = x.Do(context.Background(), AwaitConsent{}, func(Event) {})
	if ce := Classify650051(ev.(ConsentDone).Err); ce.Kind != InvalidPermissions || ce.Permission != "ActivityReports.Read" {
		t.Fatalf("err %v", ev.(ConsentDone).Err)
	}
}
