package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"itdr-onboard/auth"
	"itdr-onboard/checks"
	"itdr-onboard/m365"
	"itdr-onboard/platform"
	"itdr-onboard/steps"
)

// A fake world for the executor: sign-in, Graph, the platform and checks,
// all in memory and driven by the test.

var t0 = time.Date(2026, 9, 1, 10, 0, 0, 0, time.UTC)

const hostile = "Evil\x1b]52;c;ZXZpbA==\x07 Corp\x1b[2J"

type fakeAuth struct {
	mu       sync.Mutex
	codes    int
	approve  chan struct{} // closed: the device code or the browser sign-in completes
	blocked  bool          // device code is blocked by policy
	redirErr error
	tenantID string
}

func (f *fakeAuth) StartDeviceCode(ctx context.Context) (auth.DeviceCode, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.codes++
	return auth.DeviceCode{
		UserCode:        fmt.Sprintf("KQ%dX7ZP4M", f.codes),
		VerificationURL: "https://microsoft.com/devicelogin",
		ExpiresOn:       t0.Add(15 * time.Minute),
	}, nil
}

func (f *fakeAuth) AwaitDeviceCode(ctx context.Context, dc auth.DeviceCode) (auth.Account, error) {
	f.mu.Lock()
	blocked, ch := f.blocked, f.approve
	f.mu.Unlock()
	if blocked {
		return auth.Account{}, &auth.Error{Class: auth.ClassDeviceCodeBlocked, Code: 530035,
			Message: "Security defaults block device-code sign-in (AADSTS530035).", Action: "Use browser sign-in."}
	}
	select {
	case <-ch:
		return auth.Account{Username: "admin@contoso.example", TenantID: f.tenantID}, nil
	case <-ctx.Done():
		return auth.Account{}, &auth.Error{Class: auth.ClassCancelled, Message: "cancelled", Err: ctx.Err()}
	}
}

func (f *fakeAuth) SignInBrowser(ctx context.Context, onPrompt func(auth.BrowserPrompt)) (auth.Account, error) {
	onPrompt(auth.BrowserPrompt{URL: "https://login.example/authorize?client_id=abc&state=xyz" + strings.Repeat("&p=1", 20), Port: 53682,
		SSHCommand: "ssh -L 53682:localhost:53682 tech@jump"})
	f.mu.Lock()
	ch := f.approve
	f.mu.Unlock()
	select {
	case <-ch:
		return auth.Account{Username: "admin@contoso.example", TenantID: f.tenantID}, nil
	case <-ctx.Done():
		return auth.Account{}, ctx.Err()
	}
}

func (f *fakeAuth) DeliverRedirect(ctx context.Context, pasted string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.redirErr != nil {
		return f.redirErr
	}
	select {
	case <-f.approve:
	default:
		close(f.approve)
	}
	return nil
}

type fakeGraph struct{ orgName string }

func (g *fakeGraph) Organization(context.Context) (m365.Organization, error) {
	return m365.Organization{ID: "tid-1", DisplayName: g.orgName}, nil
}
func (g *fakeGraph) Me(context.Context) (m365.User, error) {
	return m365.User{ID: "u1", UserPrincipalName: "admin@contoso.example"}, nil
}
func (g *fakeGraph) ServicePrincipalByAppID(_ context.Context, appID string) (*m365.ServicePrincipal, error) {
	return &m365.ServicePrincipal{ID: "sp-" + appID, AppID: appID}, nil
}
func (g *fakeGraph) CreateServicePrincipal(_ context.Context, appID string) (m365.ServicePrincipal, error) {
	return m365.ServicePrincipal{ID: "sp-" + appID}, nil
}
func (g *fakeGraph) AppRoleAssignments(context.Context, string) ([]m365.AppRoleAssignment, error) {
	return nil, nil
}
func (g *fakeGraph) GrantAppRole(context.Context, string, string, string) (m365.AppRoleAssignment, error) {
	return m365.AppRoleAssignment{}, nil
}
func (g *fakeGraph) OAuth2PermissionGrants(context.Context, string) ([]m365.OAuth2PermissionGrant, error) {
	return nil, nil
}
func (g *fakeGraph) CreateOAuth2PermissionGrant(context.Context, string, string, string) (m365.OAuth2PermissionGrant, error) {
	return m365.OAuth2PermissionGrant{}, nil
}
func (g *fakeGraph) CountBillableUsers(context.Context) (int, error) { return 42, nil }
func (g *fakeGraph) MFARegistration(context.Context) (int, int, error) {
	return 30, 40, nil
}

type fakePlatform struct {
	mu       sync.Mutex
	orgs     []platform.Organization
	existing *platform.Integration // the tenant's integration before the run
	health   []string              // statuses returned in turn; the last repeats
	probes   int
}

func (p *fakePlatform) App(context.Context) (platform.App, error) {
	return platform.App{AppID: "platform-app"}, nil
}
func (p *fakePlatform) Organizations(context.Context, string, string, int) (platform.OrganizationPage, error) {
	return platform.OrganizationPage{}, errors.New("not used")
}
func (p *fakePlatform) AllOrganizations(_ context.Context, filter string) ([]platform.Organization, error) {
	return p.orgs, nil
}
func (p *fakePlatform) IntegrationForTenant(context.Context, string) (*platform.Integration, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.existing == nil {
		return nil, nil
	}
	in := *p.existing
	return &in, nil
}
func (p *fakePlatform) CreateIntegration(_ context.Context, tenant, org string) (platform.Integration, error) {
	return platform.Integration{ID: "int-1", TenantID: tenant, OrganizationID: org, Status: platform.StatusPending}, nil
}
func (p *fakePlatform) Integration(_ context.Context, id string) (platform.Integration, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := platform.StatusPending
	if len(p.health) > 0 {
		st = p.health[min(p.probes, len(p.health)-1)]
	}
	p.probes++
	in := platform.Integration{ID: id, Status: st, OrganizationName: "Contoso Ltd"}
	if st != platform.StatusHealthy {
		in.ReasonCode, in.Reason = "waiting_for_first_data", "Waiting for the first audit data"
		eta := t0.Add(40 * time.Minute)
		in.ExpectedFirstDataAt = &eta
	}
	return in, nil
}
func (p *fakePlatform) DeleteIntegration(context.Context, string) error { return nil }

type fakeCheck struct {
	id, title string
	step      checks.StepID
	phase     checks.Phase
	mu        sync.Mutex
	runs      int
	result    func(run int) checks.Result
}

func (c *fakeCheck) ID() string                { return c.id }
func (c *fakeCheck) Title() string             { return c.title }
func (c *fakeCheck) Step() checks.StepID       { return c.step }
func (c *fakeCheck) Phase() checks.Phase       { return c.phase }
func (c *fakeCheck) Severity() checks.Severity { return checks.Required }
func (c *fakeCheck) Run(context.Context) checks.Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.runs++
	return c.result(c.runs)
}

type fakeFixer struct{ *fakeCheck }

func (f fakeFixer) Apply(_ context.Context, ch checks.Change) (checks.Applied, error) {
	return checks.Applied{Change: ch, At: t0, RequestID: "req-1"}, nil
}

var roleChanges = []checks.Change{
	{ID: "exo.role-group/Audit Logs", CheckID: "exo.role-group", Order: 1,
		Summary: "Add role \"Audit Logs\" to Organization Management",
		Call:    "New-ManagementRoleAssignment -Role \"Audit Logs\" -SecurityGroup \"Organization Management\""},
	{ID: "entra.sp-roles/Security Reader", CheckID: "exo.role-group", Order: 2,
		Summary: "Assign Security Reader to the platform's service principal",
		Call:    "POST /roleManagement/directory/roleAssignments",
		Warning: "Microsoft Entra PIM may raise an alert for a permanent role assignment"},
}

type env struct {
	auth     *fakeAuth
	graph    *fakeGraph
	platform *fakePlatform
	reg      *checks.Registry
	infos    []steps.CheckInfo
	// plan is what the roles check proposes (roleChanges unless a test
	// sets it before the run).
	plan   []checks.Change
	prereq *fakeCheck
	// blockSleep makes the executor's waits (health polls, consent
	// retries) last until cancelled.
	blockSleep atomic.Bool
}

func newEnv(t *testing.T, nOrgs int) *env {
	t.Helper()
	ev := &env{
		auth:     &fakeAuth{approve: make(chan struct{}), tenantID: "tid-1"},
		graph:    &fakeGraph{orgName: "Contoso"},
		platform: &fakePlatform{health: []string{platform.StatusPending, platform.StatusHealthy}},
		plan:     roleChanges,
	}
	for i := 0; i < nOrgs; i++ {
		ev.platform.orgs = append(ev.platform.orgs, platform.Organization{ID: fmt.Sprintf("org-%d", i), Name: fmt.Sprintf("Customer %04d", i)})
	}
	ev.platform.orgs = append(ev.platform.orgs, platform.Organization{ID: "org-contoso", Name: "Contoso Ltd"})
	ev.prereq = &fakeCheck{id: "platform.subscription", title: "Platform subscription", step: checks.StepPrereqs, phase: checks.BeforeSignIn,
		result: func(int) checks.Result {
			return checks.Result{Outcome: checks.Pass, Summary: "ITDR subscription active"}
		}}
	tenant := &fakeCheck{id: "graph.global-admin", title: "Global Administrator", step: checks.StepPrereqs, phase: checks.Tenant,
		result: func(int) checks.Result {
			return checks.Result{Outcome: checks.Pass, Summary: "signed-in user is a Global Administrator"}
		}}
	roles := &fakeCheck{id: "exo.role-group", title: "Exchange role group", step: checks.StepRoles, phase: checks.Tenant,
		result: func(run int) checks.Result {
			if run == 1 {
				return checks.Result{Outcome: checks.Fail, Summary: "Organization Management lacks 1 role", Remedy: "apply the plan", Changes: ev.plan}
			}
			return checks.Result{Outcome: checks.Pass, Summary: "Organization Management has every role"}
		}}
	reg, err := checks.NewRegistry(ev.prereq, tenant, fakeFixer{roles})
	if err != nil {
		t.Fatal(err)
	}
	ev.reg = reg
	for _, c := range reg.All() {
		ev.infos = append(ev.infos, steps.CheckInfo{ID: c.ID(), Title: c.Title(), Step: c.Step(), Phase: c.Phase(), Severity: c.Severity()})
	}
	return ev
}

// harness drives a real engine and runner through the model's Update, with
// the outcomes fed by the test (no listener, no ticks).
type harness struct {
	t    *testing.T
	ev   *env
	e    *steps.Engine
	s    *steps.Session
	r    *steps.Runner
	m    *model
	msgs []tea.Msg // messages the commands produced that the model does not consume
	now  time.Time
}

func newHarness(t *testing.T, ev *env, opt steps.Options, topt Options) *harness {
	t.Helper()
	if opt.PollBase == 0 {
		opt.PollBase = time.Millisecond
	}
	e, s := steps.New(opt, ev.infos)
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, ev: ev, e: e, s: s, now: t0.Add(10 * time.Second)}
	x := &steps.Executor{Auth: ev.auth, Graph: ev.graph, Platform: ev.platform, Checks: ev.reg, Session: s,
		Now: func() time.Time { return t0 },
		Sleep: func(ctx context.Context, d time.Duration) error {
			if ev.blockSleep.Load() && d > 0 {
				<-ctx.Done()
			}
			return ctx.Err()
		}}
	h.r = steps.NewRunner(ctx, x, 4)
	t.Cleanup(func() { cancel(); h.r.Close() })
	if topt.Now == nil {
		topt.Now = func() time.Time { return h.now }
	}
	h.m = newModel(ctx, e, h.r, topt)
	h.m.anim, h.m.listen, h.m.yesDelay = false, false, 0
	h.m.width, h.m.height = 100, 30
	h.run(h.m.Init())
	return h
}

// send delivers one message and runs what it returns.
func (h *harness) send(msg tea.Msg) {
	h.t.Helper()
	_, cmd := h.m.Update(msg)
	h.run(cmd)
}

// key presses a key keyGuard after the last message, as a person would
// (keys sooner after a change of screen are held back; see guarded).
func (h *harness) key(s string) {
	h.t.Helper()
	h.now = h.now.Add(keyGuard)
	h.send(keyMsg(s))
}

// keyNow presses a key without letting any time pass.
func (h *harness) keyNow(s string) {
	h.t.Helper()
	h.send(keyMsg(s))
}

func keyMsg(s string) tea.KeyPressMsg {
	var k tea.KeyPressMsg
	switch s {
	case "enter":
		k = tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		k = tea.KeyPressMsg{Code: tea.KeyEscape}
	case "up":
		k = tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		k = tea.KeyPressMsg{Code: tea.KeyDown}
	case "pgdown":
		k = tea.KeyPressMsg{Code: tea.KeyPgDown}
	case "pgup":
		k = tea.KeyPressMsg{Code: tea.KeyPgUp}
	case "home":
		k = tea.KeyPressMsg{Code: tea.KeyHome}
	case "end":
		k = tea.KeyPressMsg{Code: tea.KeyEnd}
	case "backspace":
		k = tea.KeyPressMsg{Code: tea.KeyBackspace}
	case "ctrl+c":
		k = tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	default:
		r := []rune(s)
		k = tea.KeyPressMsg{Code: r[0], Text: s}
	}
	return k
}

func (h *harness) typeText(s string) {
	for _, r := range s {
		h.key(string(r))
	}
}

// run executes a command tree; model messages go back to Update.
func (h *harness) run(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	msg := cmd()
	switch msg := msg.(type) {
	case nil:
	case tea.BatchMsg:
		for _, c := range msg {
			h.run(c)
		}
	case autoAnswerMsg, outcomeMsg:
		h.send(msg)
	default:
		h.msgs = append(h.msgs, msg)
	}
}

// pump feeds outcomes from the runner until cond holds.
func (h *harness) pump(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.After(10 * time.Second)
	for !cond() {
		select {
		case o := <-h.r.Outcomes():
			h.send(outcomeMsg{o})
		case <-deadline:
			h.t.Fatalf("timed out waiting for %s; current step %s (%s); view:\n%s", what, h.e.Current().ID(), h.e.Current().Status(), h.view())
		}
	}
}

func (h *harness) view() string { return ansi.Strip(h.m.View().Content) }

func (h *harness) current(id steps.ID, st ...steps.Status) func() bool {
	return func() bool {
		if h.e.Current().ID() != id {
			return false
		}
		if len(st) == 0 {
			return true
		}
		for _, s := range st {
			if h.e.Current().Status() == s {
				return true
			}
		}
		return false
	}
}

func (h *harness) signInCode() *auth.DeviceCode {
	if h.e.Current().ID() != steps.SignIn {
		return nil
	}
	d := signInDetail(h.e.Current().Snapshot(h.s))
	if d == nil {
		return nil
	}
	return d.Code
}

func (h *harness) approve() {
	h.ev.auth.mu.Lock()
	close(h.ev.auth.approve)
	h.ev.auth.mu.Unlock()
}

func (h *harness) sawMsg(pred func(tea.Msg) bool) bool {
	for _, m := range h.msgs {
		if pred(m) {
			return true
		}
	}
	return false
}

// confirmMapping answers the confirmation of an organization picked from
// the list (it names the permissions consent grants).
// With --yes it is answered by itself.
func (h *harness) confirmMapping() {
	h.t.Helper()
	asked := func() bool {
		a := h.m.activeAsk()
		return a != nil && a.Effect.(steps.Ask).Q.ID == steps.QConfirmMapping
	}
	h.pump("the mapping confirmation", func() bool {
		return asked() || h.e.Finished() || h.e.Current().ID() == steps.Health
	})
	if asked() {
		mustContain(h.t, h.view(), "Map this tenant to")
		h.key("y")
	}
}
