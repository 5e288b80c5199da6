package customer

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"itdr-onboard/auth"
	"itdr-onboard/checks"
	"itdr-onboard/m365"
	"itdr-onboard/partner"
	"itdr-onboard/platform"
	"itdr-onboard/state"
	"itdr-onboard/steps"
	"itdr-onboard/ui/plain"
)

// HandOff is one piece of work that needs the customer (or a partner-side
// fix): the batch's hand-off type.
type HandOff = steps.HandOff

// Run is one prepared customer run (New): `partner onboard` drives its
// engine with a front-end of its choice; RunCustomer drives it headless.
type Run struct {
	deps   Deps
	row    partner.Row
	opt    Options
	tenant *tenantAPI

	// Engine, Session and Executor of the run (the front-end drives the
	// engine with a steps.Runner over the executor).
	Engine   *steps.Engine
	Session  *steps.Session
	Executor *steps.Executor
	cust     *steps.CustomerRun
	lock     *state.Lock
}

// The roles a customer run needs, by the row's roles (partner.NeededRoles
// order: CAA, PRA, EXA).
func held(row partner.Row, i int) bool {
	return i < len(row.Roles) && row.Roles[i].Has
}

// New prepares one customer's run: its clients bound to the tenant, its
// checks, its engine. It refuses a row that cannot be onboarded over GDAP.
func New(deps Deps, row partner.Row, opt Options) (*Run, error) {
	tid := strings.ToLower(strings.TrimSpace(row.TenantID))
	if !auth.IsGUID(tid) {
		return nil, fmt.Errorf("customer: tenant %q is not a tenant id (GUID): take the row from batch plan", row.TenantID)
	}
	if deps.Token == nil || deps.PartnerCenter == nil || deps.Platform == nil || deps.HTTP == nil {
		return nil, errors.New("customer: Deps needs Token, PartnerCenter, Platform and HTTP (after partner sign-in)")
	}
	if deps.Endpoints.ClientID == "" {
		return nil, errors.New("customer: Deps.Endpoints.ClientID (the onboarding app) is empty")
	}
	row.TenantID = tid
	ep := deps.Endpoints
	t := &tenantAPI{deps: deps, tid: tid}
	t.graph = m365.NewGraph(deps.HTTP, ep.Graph, func(ctx context.Context) (string, error) {
		return deps.Token(ctx, ep.GraphScope(), tid)
	})
	t.exchange = &anchoredExchange{t: t}
	backoff := opt.ConsentBackoff
	if backoff == nil {
		backoff = partner.DefaultBackoff
	}
	t.boot = &partner.Bootstrap{PC: deps.PartnerCenter, AppID: ep.ClientID, Token: deps.Token,
		GraphScope: ep.GraphScope(), ExchangeScope: ep.ExchangeScope(), Backoff: backoff, Sleep: deps.Sleep, DisplayName: "ITDR onboarding"}

	cust := &steps.CustomerRun{Row: row, CanMap: held(row, 0) && held(row, 1)}
	canExchange := held(row, 2)
	for i, n := range partner.NeededRoles {
		if i > 0 && !held(row, i) {
			h := HandOff{Reason: "the GDAP relationship does not grant " + n.Name + " to your groups in this tenant",
				Steps: []string{n.HandOff}, Who: "customer", CustomerAction: row.Remedy, Link: row.InviteURL}
			if h.Link != "" {
				h.LinkKind = "gdap-invite"
			}
			cust.AddHandOff(h)
		}
	}
	reg, infos, err := registry(deps, row, t, canExchange, opt.SkipAccountCheck, cust)
	if err != nil {
		return nil, err
	}
	so := steps.Options{Tenant: tid, Yes: opt.Yes, DryRun: opt.DryRun, Org: opt.Org, Remap: opt.Remap,
		Wait: opt.Wait, PollBase: opt.PollBase, PollMax: opt.PollMax, NoPrompt: !opt.Interactive, Customer: cust}
	if so.Org == "" {
		so.Org = row.OrgID
	}
	if so.Wait <= 0 {
		so.Wait = time.Nanosecond // one health read, then pending (the batch polls)
	}
	eng, s := steps.CustomerOnboard.New(so, infos)
	s.TenantID = tid
	if row.OrgID != "" && (so.Org == row.OrgID || strings.EqualFold(so.Org, row.Organization)) {
		// Discovery matched the organization already: no platform look-up
		// per tenant (the platform allows 60 requests a minute in all).
		s.OrgFromFlag = &platform.Organization{ID: row.OrgID, Name: row.Organization}
	}
	s.Account = deps.Account
	s.Account.TenantID = tid // the account acts in this tenant (Who)
	x := &steps.Executor{Graph: t.graph, Platform: deps.Platform, Checks: reg, Session: s, Customer: t, Now: deps.Now, Sleep: deps.Sleep}
	if deps.StateDir != "" && !opt.DryRun {
		x.Receipts = &steps.Receipts{Dir: deps.StateDir, Onboarding: opt.Onboarding}
		s.Record = x.Receipts
	}
	return &Run{deps: deps, row: row, opt: opt, tenant: t, Engine: eng, Session: s, Executor: x, cust: cust}, nil
}

// registry is onboard's check modules bound to the customer tenant, with
// "GDAP roles" instead of "Global Administrator" (no /me), without the
// network checks (the partner sign-in proved the network), and with the
// checks whose role the relationship lacks (or whose service the tenant
// has not got) turned into hand-offs.
func registry(deps Deps, row partner.Row, t *tenantAPI, canExchange, skipAccount bool, cust *steps.CustomerRun) (*checks.Registry, []steps.CheckInfo, error) {
	all := checks.Builtin(checks.Deps{Graph: t.graph, Exchange: t.exchange, Platform: deps.Platform, Endpoints: deps.Endpoints, HTTP: deps.HTTP, Now: deps.Now})
	var roles []checks.GDAPRole
	for i, n := range partner.NeededRoles {
		roles = append(roles, checks.GDAPRole{Name: n.Name, Held: held(row, i), Required: i == 0, HandOff: n.HandOff})
	}
	exaWhy := "the GDAP relationship does not grant Exchange Administrator to your groups in this tenant"
	praWhy := "the GDAP relationship does not grant Privileged Role Administrator to your groups in this tenant"
	var list []checks.Check
	for _, c := range all {
		switch c.ID() {
		case checks.IDNetworkReachability, checks.IDClockSkew:
			continue
		case checks.IDPlatformSubscription:
			if skipAccount {
				continue
			}
			list = append(list, c)
		case checks.IDGlobalAdmin:
			list = append(list, checks.NewGDAPRoles(roles, row.Remedy))
		case checks.IDAuditLog, checks.IDDehydrated, checks.IDRoleGroup:
			c := c
			list = append(list, &handedOff{Check: c, why: func() string {
				if !canExchange {
					return exaWhy
				}
				if !cust.Tokens.ExchangeOK {
					return "the tenant has no Exchange Online service principal (no Exchange licence, AADSTS650052)"
				}
				return ""
			}})
		case checks.IDPlatformSPRoles:
			c := c
			list = append(list, &handedOff{Check: c, why: func() string {
				if !held(row, 1) {
					return praWhy
				}
				return ""
			}})
		default:
			list = append(list, c)
		}
	}
	reg, err := checks.NewRegistry(list...)
	if err != nil {
		return nil, nil, err
	}
	var infos []steps.CheckInfo
	for _, c := range reg.All() {
		infos = append(infos, steps.CheckInfo{ID: c.ID(), Title: c.Title(), Step: c.Step(), Phase: c.Phase(), Severity: c.Severity()})
	}
	return reg, infos, nil
}

// handedOff is a check the partner user cannot run in this tenant (why
// says so, "" when it can): it reports itself skipped, handed off.
type handedOff struct {
	checks.Check
	why func() string
}

func (h *handedOff) Run(ctx context.Context) checks.Result {
	if w := h.why(); w != "" {
		return checks.Result{Outcome: checks.Skip, Summary: "handed off: " + w}
	}
	return h.Check.Run(ctx)
}

func (h *handedOff) Apply(ctx context.Context, c checks.Change) (checks.Applied, error) {
	if w := h.why(); w != "" {
		return checks.Applied{}, errors.New("handed off: " + w)
	}
	return checks.ApplySafe(ctx, h.Check, c)
}

// tenantAPI is the executor's customer tenant (steps.CustomerAPI).
type tenantAPI struct {
	deps     Deps
	tid      string
	graph    *m365.Graph
	exchange *anchoredExchange
	boot     *partner.Bootstrap

	mu            sync.Mutex
	initialDomain string
}

func (t *tenantAPI) Consent(ctx context.Context) (bool, error) {
	return t.deps.PartnerCenter.Consent(ctx, t.tid, t.deps.Endpoints.ClientID, t.boot.DisplayName, partner.DefaultGrants())
}

func (t *tenantAPI) Tokens(ctx context.Context) partner.Result { return t.boot.Tokens(ctx, t.tid) }

func (t *tenantAPI) Consented(ctx context.Context) (bool, bool) {
	_, err := t.deps.Token(ctx, t.deps.Endpoints.GraphScope(), t.tid)
	if err == nil {
		return true, true
	}
	var ae *auth.Error
	if errors.As(err, &ae) && ae.Code == 65001 {
		return false, true
	}
	return false, false
}

func (t *tenantAPI) Organization(ctx context.Context) (m365.Organization, error) {
	org, err := t.graph.Organization(ctx)
	if err == nil {
		t.mu.Lock()
		t.initialDomain = org.InitialDomain()
		t.mu.Unlock()
	}
	return org, err
}

func (t *tenantAPI) Change() checks.Change {
	var scopes []string
	for _, g := range partner.DefaultGrants() {
		scopes = append(scopes, strings.ReplaceAll(g.Scope, ",", ", ")) // words the screen can wrap between
	}
	app := t.deps.Endpoints.ClientID
	return checks.Change{ID: steps.BootstrapChangeCheck + "/" + app, CheckID: steps.BootstrapChangeCheck,
		Summary: "Consent the onboarding app " + app + " in the tenant through Partner Center (" + strings.Join(scopes, "; ") + ")",
		Call:    "POST /v1/customers/" + t.tid + "/applicationconsents",
		Args:    map[string]string{"application_id": app}}
}

// anchoredExchange is the tenant's Exchange client, built on first use
// (the anchor needs the initial domain, read by the bootstrap): URL tenant
// = token tenant = the customer, anchored at the system mailbox.
type anchoredExchange struct {
	t    *tenantAPI
	once sync.Once
	x    *m365.Exchange
}

func (a *anchoredExchange) get() *m365.Exchange {
	a.once.Do(func() {
		t := a.t
		ep := t.deps.Endpoints
		x := m365.NewExchange(t.deps.HTTP, ep.Exchange, t.tid, "", func(ctx context.Context) (string, error) {
			return t.deps.Token(ctx, ep.ExchangeScope(), t.tid)
		})
		t.mu.Lock()
		dom := t.initialDomain
		t.mu.Unlock()
		x.AnchorAtSystemMailbox(t.tid, dom)
		a.x = x
	})
	return a.x
}

func (a *anchoredExchange) OrganizationConfig(ctx context.Context) (m365.OrgConfig, error) {
	return a.get().OrganizationConfig(ctx)
}
func (a *anchoredExchange) EnableOrganizationCustomization(ctx context.Context) (string, error) {
	return a.get().EnableOrganizationCustomization(ctx)
}
func (a *anchoredExchange) AdminAuditLogConfig(ctx context.Context) (m365.AuditConfig, error) {
	return a.get().AdminAuditLogConfig(ctx)
}
func (a *anchoredExchange) SetUnifiedAuditLogIngestion(ctx context.Context, enabled bool) (string, error) {
	return a.get().SetUnifiedAuditLogIngestion(ctx, enabled)
}
func (a *anchoredExchange) RoleGroupRoles(ctx context.Context, group string) ([]m365.ManagementRoleAssignment, error) {
	return a.get().RoleGroupRoles(ctx, group)
}
func (a *anchoredExchange) NewManagementRoleAssignment(ctx context.Context, role, group string) (m365.ManagementRoleAssignment, error) {
	return a.get().NewManagementRoleAssignment(ctx, role, group)
}

// Lock takes the tenant's lock (tenants/<id>/lock), as `onboard` does: one
// run per tenant. It is a no-op without a state dir or in a dry run.
func (r *Run) Lock() error {
	if r.deps.StateDir == "" || r.opt.DryRun || r.lock != nil {
		return nil
	}
	l, err := state.Store{Dir: r.deps.StateDir}.AcquireLockFor(r.row.TenantID, "partner onboard", r.deps.now())
	if err != nil {
		return err
	}
	r.lock = l
	return nil
}

// Unlock releases the tenant's lock.
func (r *Run) Unlock() {
	if r.lock != nil {
		_ = r.lock.Release()
		r.lock = nil
	}
}

// Run drives the run to its end headless (see RunCustomer).
func (r *Run) Run(ctx context.Context, sink func(Event)) (Outcome, Receipt) {
	return r.Drive(ctx, sink, nil, nil)
}

// Drive runs the engine with the line/JSON reporter rep (nil: none), the
// answerer ans (nil: Options.Yes answers) and sink, then settles the
// record: `partner onboard --plain/--json` and RunCustomer.
func (r *Run) Drive(ctx context.Context, sink func(Event), rep plain.Reporter, ans plain.Answerer) (Outcome, Receipt) {
	if err := r.Lock(); err != nil {
		o := r.outcome(3, err)
		o.Result, o.Message = ResultFailed, err.Error()
		r.emitFinished(sink, &o)
		return o, Receipt{}
	}
	defer r.Unlock()
	if ans == nil {
		ans = plain.Auto{Yes: r.opt.Yes}
	}
	runner := steps.NewRunner(ctx, r.Executor, 8)
	code := plain.Run(ctx, r.Engine, runner, ans, &sinkReporter{r: r, sink: sink, inner: rep})
	return r.Finish(runner, code, sink)
}

// Finish settles the record once the engine has ended (open intents by a
// read, the receipt written) and words the outcome. The front-end that
// drove the engine calls it with its runner and exit code.
func (r *Run) Finish(runner *steps.Runner, code int, sink func(Event)) (Outcome, Receipt) {
	runner.Close()
	var rec Receipt
	var recErr error
	x, s := r.Executor, r.Session
	if x.Receipts != nil && x.Receipts.HasRecord(s) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		recErr = x.Reconcile(ctx)
		cancel()
		if recErr == nil {
			rec.Path, rec.AuditPath, recErr = x.Receipts.Write(s, r.deps.now())
		}
		rec.Journal = x.Receipts.JournalPath(r.row.TenantID)
	}
	r.consentLinks()
	o := r.outcome(code, recErr)
	r.emitFinished(sink, &o)
	return o, rec
}

// consentLinks gives the hand-off of a missing Privileged Role
// Administrator the platform's admin-consent URL for the tenant: what the
// customer's Global Administrator (or Privileged Role Administrator) opens
// to grant the platform's permissions the partner user could not. The
// manifest was read by the run (the platform client keeps it).
func (r *Run) consentLinks() {
	c := r.cust
	need := false
	for _, h := range c.HandOff {
		need = need || praHandOff(h)
	}
	if !need {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	app, err := r.deps.Platform.App(ctx)
	if err != nil || app.AdminConsentURL == "" {
		return
	}
	link := strings.ReplaceAll(app.AdminConsentURL, "{tenant}", url.PathEscape(r.row.TenantID))
	for i, h := range c.HandOff {
		if praHandOff(h) {
			c.HandOff[i].Link, c.HandOff[i].LinkKind = link, "admin-consent"
		}
	}
}

func praHandOff(h HandOff) bool {
	return h.Link == "" && strings.Contains(h.Reason, partner.NeededRoles[1].Name)
}

func (r *Run) emitFinished(sink func(Event), o *Outcome) {
	if sink != nil {
		sink(Event{TenantID: r.row.TenantID, Time: r.deps.now(), Type: "finished", Outcome: o})
	}
}

// outcome words how the run ended from the engine, the session and the
// customer run.
func (r *Run) outcome(code int, recErr error) Outcome {
	s, c := r.Session, r.cust
	o := Outcome{TenantID: r.row.TenantID, Name: r.row.Name, ExitCode: code, Lane: r.row.Lane, Consent: c.Consent,
		HandOff: append([]HandOff(nil), c.HandOff...), IntegrationID: s.Integration.ID, ChangesMade: s.ChangesMade()}
	if c.Tokens.Lane != "" && c.Tokens.Lane != partner.LaneReady {
		o.Lane = c.Tokens.Lane
	}
	best := 0
	for _, rg := range s.Ladder {
		if rg.State == checks.RungProven && rg.N > best {
			best, o.Evidence = rg.N, fmt.Sprintf("%d %s", rg.N, rg.Title)
		}
	}
	if f := r.Engine.Failure(); f != nil {
		o.Message, o.Remedy, o.Err = f.Message, f.Remedy, f.Err
	}
	switch {
	case code == 130:
		o.Result = ResultStopped
	case s.Outcome == "dry-run":
		o.Result = ResultDryRun
	case code == 0 && len(o.HandOff) > 0, code == 0 && !c.CanMap:
		o.Result, o.ExitCode = ResultHandedOff, 3
		if o.Message == "" {
			o.Message = "Handed off: " + handOffReasons(o.HandOff)
		}
	case code == 0:
		o.Result = ResultHealthy
	case code == 4:
		o.Result = ResultPending
		if len(o.HandOff) > 0 {
			o.Result, o.ExitCode = ResultHandedOff, 3
		}
	case code == 3 && c.Tokens.Lane != "" && c.Tokens.Lane != partner.LaneReady:
		// The bootstrap put the tenant in a lane that needs someone else.
		o.Result = ResultHandedOff
		o.HandOff = append(o.HandOff, HandOff{Reason: o.Message, CustomerAction: o.Remedy, Who: laneWho(c.Tokens.Lane)})
	default:
		o.Result = ResultFailed
	}
	if recErr != nil {
		o.Result, o.ExitCode = ResultFailed, 1
		o.Message = "the record of this onboarding could not be written: " + recErr.Error()
		o.Err = recErr
	}
	return o
}

func laneWho(l partner.Lane) string {
	switch l {
	case partner.LaneCABlocked, partner.LaneNoExchange, partner.LaneNoGDAP, partner.LanePartial:
		return "customer"
	}
	return "partner"
}

func handOffReasons(hs []HandOff) string {
	var out []string
	for _, h := range hs {
		out = append(out, h.Reason)
	}
	return strings.Join(out, "; ")
}

// sinkReporter forwards the engine's events to the sink (tagged with the
// tenant) and to an inner line/JSON reporter.
type sinkReporter struct {
	r     *Run
	sink  func(Event)
	inner plain.Reporter
}

func (p *sinkReporter) event(e *steps.Engine, id steps.ID, typ string, ev steps.Event) {
	if p.sink == nil {
		return
	}
	out := Event{TenantID: p.r.row.TenantID, Time: p.r.deps.now(), Step: id, Type: typ, Event: ev}
	for _, st := range e.Steps() {
		if st.ID() == id {
			snap := st.Snapshot(e.Session())
			out.Status, out.Line = snap.Status, snap.Line
		}
	}
	p.sink(out)
}

func (p *sinkReporter) StepStarted(e *steps.Engine, st steps.Step) {
	p.event(e, st.ID(), "step_started", nil)
	if p.inner != nil {
		p.inner.StepStarted(e, st)
	}
}

func (p *sinkReporter) Outcome(e *steps.Engine, id steps.ID, ev steps.Event) {
	p.event(e, id, "outcome", ev)
	if p.inner != nil {
		p.inner.Outcome(e, id, ev)
	}
}

func (p *sinkReporter) Answered(e *steps.Engine, q steps.Question, v string, auto bool) {
	if p.inner != nil {
		p.inner.Answered(e, q, v, auto)
	}
}

func (p *sinkReporter) Finished(e *steps.Engine, code int, err error) {
	if p.inner != nil {
		p.inner.Finished(e, code, err)
	}
}
