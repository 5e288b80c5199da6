package steps

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"itdr-onboard/auth"
	"itdr-onboard/m365"
	"itdr-onboard/platform"
)

// summaryGraph counts the summary's reads; the first fail times fail.
type summaryGraph struct {
	GraphAPI
	mu     sync.Mutex
	counts int
	fail   int
}

func (g *summaryGraph) CountBillableUsers(context.Context) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.counts++
	if g.fail > 0 {
		g.fail--
		return 0, errors.New("graph: 503")
	}
	return 42, nil
}

func (g *summaryGraph) MFARegistration(context.Context) (int, int, error) { return 30, 42, nil }

type mapPlatform struct{ fakePlatform }

func (p *mapPlatform) CreateIntegration(_ context.Context, tenantID, orgID string) (platform.Integration, error) {
	return platform.Integration{ID: "int_1", TenantID: tenantID, OrganizationID: orgID}, nil
}

// The summary needs only the Graph token: its reads start with the mapping
// and the summary effect takes their answer (once); a failed prefetch is
// read again.
func TestSummaryReadsStartWithTheMapping(t *testing.T) {
	for _, fail := range []int{0, 1} {
		g := &summaryGraph{fail: fail}
		s := NewSession(Options{})
		s.TenantID, s.ExistingChecked = "tid-1", true
		x := &Executor{Graph: g, Platform: &mapPlatform{fakePlatform{app: testApp()}}, Session: s}
		ctx := context.Background()
		if ev := x.Do(ctx, Map{OrgID: "org_1"}, nil).(Mapped); ev.Err != nil || ev.Integration.ID != "int_1" {
			t.Fatalf("map: %+v", ev)
		}
		ev := x.Do(ctx, LoadSummary{}, nil).(SummaryLoaded)
		if ev.Err != nil || ev.Billable != 42 || ev.MFARegistered != 30 || ev.MFATotal != 42 {
			t.Fatalf("fail=%d: summary %+v", fail, ev)
		}
		if g.counts != 1+fail {
			t.Fatalf("fail=%d: %d billable reads", fail, g.counts)
		}
		// A second summary (no prefetch pending) reads again.
		x.Do(ctx, LoadSummary{}, nil)
		if g.counts != 2+fail {
			t.Fatalf("fail=%d: a used prefetch was served twice (%d reads)", fail, g.counts)
		}
	}
}

// sideBySideGraph holds every application-permission grant until the
// delegated grant has been made: the consent finishes only if the two are
// sent side by side.
type sideBySideGraph struct {
	*fakeGraph
	delegated chan struct{}
	once      sync.Once
}

func (g *sideBySideGraph) GrantAppRole(ctx context.Context, r, p, role string) (m365.AppRoleAssignment, error) {
	select {
	case <-g.delegated:
	case <-time.After(10 * time.Second):
		return m365.AppRoleAssignment{}, errors.New("the delegated grant was not sent beside the application permissions")
	}
	return g.fakeGraph.GrantAppRole(ctx, r, p, role)
}

func (g *sideBySideGraph) CreateOAuth2PermissionGrant(ctx context.Context, c, r, sc string) (m365.OAuth2PermissionGrant, error) {
	g.once.Do(func() { close(g.delegated) })
	out, err := g.fakeGraph.CreateOAuth2PermissionGrant(ctx, c, r, sc)
	out.RequestID = "req-delegated"
	return out, err
}

func TestConsentSendsDelegatedGrantsBesideApplicationPermissions(t *testing.T) {
	g := &sideBySideGraph{fakeGraph: newFakeGraph(), delegated: make(chan struct{})}
	app := testApp()
	app.DelegatedPermissions = []platform.DelegatedPermission{{ResourceAppID: graphID, ResourceDisplayName: "Microsoft Graph", Scopes: []string{"User.Read"}}}
	s := NewSession(Options{})
	s.TenantID = "tid-1"
	x := &Executor{Graph: g, Platform: &fakePlatform{app: app}, Session: s}
	res, err := x.consent(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Microsoft Graph: AuditLog.Read.All", "Microsoft Graph: User.Read (delegated)"}
	if !reflect.DeepEqual(res.Granted, want) {
		t.Fatalf("granted %v", res.Granted)
	}
	// Request ids in plan order: application permissions, then delegated.
	if n := len(res.RequestIDs); n < 2 || res.RequestIDs[n-2] != "req-grant" || res.RequestIDs[n-1] != "req-delegated" {
		t.Fatalf("request ids %v", res.RequestIDs)
	}
}

type codeAuth struct{ Authenticator }

func (codeAuth) StartDeviceCode(context.Context) (auth.DeviceCode, error) {
	return auth.DeviceCode{UserCode: "ABCD"}, nil
}

type appPlatform struct {
	fakePlatform
	calls chan struct{}
}

func (p *appPlatform) App(ctx context.Context) (platform.App, error) {
	p.calls <- struct{}{}
	return p.fakePlatform.App(ctx)
}

// The app manifest needs only the platform credentials: it is read while
// the technician signs in (once), so the checks after sign-in have it.
func TestAppManifestIsReadDuringSignIn(t *testing.T) {
	p := &appPlatform{fakePlatform: fakePlatform{app: testApp()}, calls: make(chan struct{}, 4)}
	x := &Executor{Auth: codeAuth{}, Platform: p, Session: NewSession(Options{})}
	for i := 0; i < 2; i++ {
		if ev := x.Do(context.Background(), StartDeviceCode{}, nil).(DeviceCodeIssued); ev.Err != nil || ev.Code.UserCode != "ABCD" {
			t.Fatalf("%+v", ev)
		}
	}
	select {
	case <-p.calls:
	case <-time.After(10 * time.Second):
		t.Fatal("the manifest was not read during sign-in")
	}
	select {
	case <-p.calls:
		t.Fatal("the manifest was read twice")
	default:
	}
	// Without a platform client (check without credentials) nothing breaks.
	x = &Executor{Auth: codeAuth{}, Session: NewSession(Options{})}
	if ev := x.Do(context.Background(), StartDeviceCode{}, nil).(DeviceCodeIssued); ev.Err != nil {
		t.Fatal(ev.Err)
	}
}
