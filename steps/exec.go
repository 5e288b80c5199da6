package steps

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"itdr-onboard/auth"
	"itdr-onboard/checks"
	"itdr-onboard/internal/httpx"
	"itdr-onboard/m365"
	"itdr-onboard/platform"
)

// Authenticator is what the executor needs of auth.Client.
type Authenticator interface {
	StartDeviceCode(ctx context.Context) (auth.DeviceCode, error)
	AwaitDeviceCode(ctx context.Context, dc auth.DeviceCode) (auth.Account, error)
	SignInBrowser(ctx context.Context, onPrompt func(auth.BrowserPrompt)) (auth.Account, error)
	DeliverRedirect(ctx context.Context, pasted string) error
}

// GraphAPI is what the executor needs of m365.Graph.
type GraphAPI interface {
	Organization(ctx context.Context) (m365.Organization, error)
	Me(ctx context.Context) (m365.User, error)
	ServicePrincipalByAppID(ctx context.Context, appID string) (*m365.ServicePrincipal, error)
	CreateServicePrincipal(ctx context.Context, appID string) (m365.ServicePrincipal, error)
	AppRoleAssignments(ctx context.Context, principalSPID string) ([]m365.AppRoleAssignment, error)
	GrantAppRole(ctx context.Context, resourceSPID, principalSPID, appRoleID string) (m365.AppRoleAssignment, error)
	OAuth2PermissionGrants(ctx context.Context, clientSPID string) ([]m365.OAuth2PermissionGrant, error)
	CreateOAuth2PermissionGrant(ctx context.Context, clientSPID, resourceSPID, scope string) (m365.OAuth2PermissionGrant, error)
	CountBillableUsers(ctx context.Context) (int, error)
	MFARegistration(ctx context.Context) (registered, total int, err error)
}

// PlatformAPI is what the executor needs of platform.Client.
type PlatformAPI interface {
	// App is called by several effects; platform.Client reads the
	// manifest once and serves it from memory afterwards.
	App(ctx context.Context) (platform.App, error)
	Organizations(ctx context.Context, nameFilter, pageToken string, limit int) (platform.OrganizationPage, error)
	AllOrganizations(ctx context.Context, nameFilter string) ([]platform.Organization, error)
	IntegrationForTenant(ctx context.Context, tenantID string) (*platform.Integration, error)
	CreateIntegration(ctx context.Context, tenantID, organizationID string) (platform.Integration, error)
	Integration(ctx context.Context, id string) (platform.Integration, error)
	DeleteIntegration(ctx context.Context, id string) error
}

// Executor is the one place that performs I/O for the steps.
type Executor struct {
	Auth     Authenticator
	Resolve  func(ctx context.Context, tenant string) (auth.TenantInfo, error)
	Graph    GraphAPI
	Platform PlatformAPI
	Partner  PartnerAPI // partner flows (batch plan): discovery
	// Lock, when set, takes the run's lock on the tenant the sign-in named
	// (partner setup without --partner-tenant: the partner tenant is known
	// only then), before setup reads or writes anything; an error (another
	// run holds it) stops the run, nothing changed (exit 3). It is called
	// again on a retry: holding the lock already is no error.
	Lock func(tenantID string) error
	// SaveSetup saves the onboarding app's id in the wizard's config
	// (partner setup) and returns the file's path.
	SaveSetup func(appID, partnerTenantID string) (string, error)
	// Customer is the GDAP customer tenant of a customer-mode run.
	Customer CustomerAPI
	Checks   *checks.Registry
	// Rungs are the evidence ladder's modules (rungs 2–4).
	Rungs    []checks.Rung
	Receipts *Receipts
	Session  *Session // read-only use: receipt contents

	// OpenConsent, when set, is handed the admin-consent URL of a
	// --consent handoff (the demo plays the Global Administrator with it).
	OpenConsent func(ctx context.Context, url string) error

	CheckTimeout time.Duration
	Now          func() time.Time
	Sleep        func(ctx context.Context, d time.Duration) error

	existingStale atomic.Bool

	// summary is the summary's reads, started with the mapping: they need
	// only the Graph token, so they run beside the mapping and health
	// probes instead of after them.
	summaryMu sync.Mutex
	summary   chan SummaryLoaded

	appOnce sync.Once
	rec     recorder

	gateOnce, gateClose sync.Once
	gate                chan struct{}

	// pre are check runs started ahead of their step (LoadTenant.Prefetch),
	// by check id; a RunCheck takes its result once. Any write drops them
	// (its answer may change theirs).
	preMu sync.Mutex
	pre   map[string]*preCheck
}

// preCheck is one check run started ahead of its step.
type preCheck struct {
	ctx  context.Context
	done chan struct{}
	res  checks.Result
}

// prefetchChecks starts the named checks now (reads only: a check's Run
// never writes); RunCheck hands each result to its step (takePrefetched).
func (x *Executor) prefetchChecks(ctx context.Context, ids []string) {
	if x.Checks == nil || len(ids) == 0 {
		return
	}
	x.preMu.Lock()
	defer x.preMu.Unlock()
	if x.pre == nil {
		x.pre = map[string]*preCheck{}
	}
	for _, id := range ids {
		c, ok := x.Checks.Get(id)
		if !ok || x.pre[id] != nil {
			continue
		}
		p := &preCheck{ctx: ctx, done: make(chan struct{})}
		x.pre[id] = p
		go func() {
			defer close(p.done)
			p.res = checks.RunSafe(ctx, c, x.checkTimeout())
		}()
	}
}

// takePrefetched returns the result of a check started ahead of its step,
// waiting for it if it is still running; ok is false when there is none,
// or when its run was cancelled (the caller runs the check itself).
func (x *Executor) takePrefetched(ctx context.Context, id string) (checks.Result, bool) {
	x.preMu.Lock()
	p := x.pre[id]
	delete(x.pre, id)
	x.preMu.Unlock()
	if p == nil {
		return checks.Result{}, false
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		return checks.Result{}, false
	}
	if p.ctx.Err() != nil {
		return checks.Result{}, false
	}
	return p.res, true
}

// dropPrefetched forgets every check started ahead (a write happened).
func (x *Executor) dropPrefetched() {
	x.preMu.Lock()
	x.pre = nil
	x.preMu.Unlock()
}

// prefetchApp reads the platform's app manifest while the technician signs
// in: it needs only the platform credentials, and the checks after sign-in
// need it before their Graph look-ups (the platform client keeps it).
func (x *Executor) prefetchApp(ctx context.Context) {
	if x.Platform == nil {
		return
	}
	x.appOnce.Do(func() {
		go func() {
			defer func() { _ = recover() }() // a failed read is made again by whoever needs it
			_, _ = x.Platform.App(ctx)
		}()
	})
}

func (x *Executor) now() time.Time {
	if x.Now != nil {
		return x.Now()
	}
	return time.Now()
}

func (x *Executor) sleep(ctx context.Context, d time.Duration) error {
	if x.Sleep != nil {
		return x.Sleep(ctx, d)
	}
	return httpx.SleepContext(ctx, d)
}

// Do performs one effect and returns its event. emit delivers intermediate
// events (the browser sign-in URL) before the final one.
func (x *Executor) Do(ctx context.Context, eff Effect, emit func(Event)) (ev Event) {
	defer func() {
		if r := recover(); r != nil {
			ev = panicEvent(eff, fmt.Errorf("internal error in %T: %v", eff, r))
		}
	}()
	switch e := eff.(type) {
	case ResolveTenant:
		info, err := x.Resolve(ctx, e.Tenant)
		return TenantResolved{Info: info, Err: err}
	case RunCheck:
		c, ok := x.Checks.Get(e.ID)
		if !ok {
			return CheckDone{ID: e.ID, Result: checks.Result{Outcome: checks.Fail, Summary: "unknown check " + e.ID}}
		}
		if e.Verify {
			ctx = m365.FreshReads(ctx)
		} else if r, ok := x.takePrefetched(ctx, e.ID); ok {
			return CheckDone{ID: e.ID, Result: r}
		}
		return CheckDone{ID: e.ID, Result: checks.RunSafe(ctx, c, x.checkTimeout())}
	case StartDeviceCode:
		x.prefetchApp(ctx)
		// The request goes out at once; the code is handed on (shown) only
		// when nothing decided before sign-in stops the run. A run that
		// stops abandons it unseen (the job is cancelled).
		dc, err := x.Auth.StartDeviceCode(ctx)
		if gerr := x.awaitSignInGate(ctx); gerr != nil {
			return DeviceCodeIssued{Err: gerr}
		}
		return DeviceCodeIssued{Code: dc, Err: err}
	case OpenSignIn:
		x.openSignInGate()
		return SignInOpened{}
	case AwaitDeviceCode:
		for {
			acct, err := x.Auth.AwaitDeviceCode(ctx, e.Code)
			if err == nil {
				return SignedIn{Account: acct}
			}
			// Microsoft's sign-in service not answering (a stalled or
			// unreachable token endpoint, 429/5xx) while the code is valid:
			// say so and keep polling with the same code — the technician
			// may already have typed it. Bounded by the code's expiry.
			ae := auth.Classify(err)
			if ctx.Err() != nil || ae == nil || (ae.Class != auth.ClassNetwork && ae.Class != auth.ClassUnavailable) ||
				!x.now().Before(e.Code.ExpiresOn) {
				return SignInFailed{Err: err}
			}
			emit(SignInStalled{Err: ae})
			if err := x.sleep(ctx, StallPause); err != nil {
				return SignInFailed{Err: err}
			}
		}
	case StartBrowser:
		x.prefetchApp(ctx)
		if err := x.awaitSignInGate(ctx); err != nil {
			return SignInFailed{Err: err}
		}
		acct, err := x.Auth.SignInBrowser(ctx, func(p auth.BrowserPrompt) { emit(BrowserPrompted{Prompt: p}) })
		if err != nil {
			return SignInFailed{Err: err}
		}
		return SignedIn{Account: acct}
	case DeliverRedirect:
		return RedirectDelivered{Err: x.Auth.DeliverRedirect(ctx, e.URL)}
	case LoadTenant:
		x.prefetchChecks(ctx, e.Prefetch)
		// Two independent reads: side by side.
		var ev TenantLoaded
		var userErr error
		done := make(chan struct{})
		go func() {
			defer close(done)
			ev.User, userErr = x.Graph.Me(ctx)
		}()
		ev.Org, ev.Err = x.Graph.Organization(ctx)
		<-done
		if ev.Err == nil {
			ev.Err = userErr
		}
		return ev
	case ApplyChange:
		c, ok := x.Checks.Get(e.Change.CheckID)
		if !ok {
			return ChangeApplied{Err: fmt.Errorf("no check %q for change %s", e.Change.CheckID, e.Change.ID)}
		}
		a, err := x.write(ctx, e.Change, func(ctx context.Context) (checks.Applied, error) {
			return checks.ApplySafe(ctx, c, e.Change)
		})
		return ChangeApplied{Applied: a, Err: err}
	case WriteReceipt:
		if x.Receipts == nil {
			return ReceiptWritten{}
		}
		if err := x.reconcile(ctx, false); err != nil {
			return ReceiptWritten{Err: err}
		}
		p, ap, err := x.Receipts.writeDuring(x.Session, x.now(), x.Session.Ladder, x.Session.ReceiptPath)
		return ReceiptWritten{Path: p, AuditPath: ap, Err: err}
	case DiscoverCustomers:
		return x.discover(ctx)
	case WriteEvidence:
		if x.Receipts == nil {
			return ReceiptWritten{}
		}
		p, ap, err := x.Receipts.writeDuring(x.Session, x.now(), e.Ladder, e.Path)
		return ReceiptWritten{Path: p, AuditPath: ap, Err: err}
	case LoadApp:
		app, err := x.Platform.App(ctx)
		return AppLoaded{App: app, Err: err}
	case FindIntegration:
		in, err := x.Platform.IntegrationForTenant(ctx, x.Session.TenantID)
		return IntegrationFound{Integration: in, Err: err}
	case FindOrgs:
		orgs, err := x.Platform.AllOrganizations(ctx, e.Query)
		return OrgsFound{Query: e.Query, Orgs: orgs, Err: err}
	case Consent:
		res, err := x.consent(ctx)
		return ConsentDone{At: x.now(), Result: res, Err: err}
	case AwaitConsent:
		res, err := x.awaitConsent(ctx, emit)
		return ConsentDone{At: x.now(), Result: res, Err: err}
	case Wait:
		_ = x.sleep(ctx, e.D)
		return Waited{At: x.now()}
	case PlanChanges:
		cs, err := x.planChanges(ctx, e)
		return ChangesPlanned{Changes: cs, Err: err}
	case Map:
		x.prefetchSummary(ctx)
		in, err := x.mapTenant(ctx, e.OrgID, e.Remap)
		return Mapped{Integration: in, Err: err}
	case ProbeHealth:
		if err := x.sleep(ctx, e.After); err != nil {
			return HealthProbed{At: x.now(), Err: err}
		}
		pctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
		in, err := x.Platform.Integration(pctx, e.IntegrationID)
		cancel()
		return HealthProbed{At: x.now(), Integration: in, Err: err}
	case ProbeRung:
		if err := x.sleep(ctx, e.After); err != nil {
			return RungProbed{ID: e.ID, At: x.now(), Result: checks.RungResult{State: checks.RungWaiting, Summary: "interrupted"}}
		}
		for _, r := range x.Rungs {
			if r.ID() == e.ID {
				pctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
				res := r.Probe(pctx, e.Canary, x.now())
				cancel()
				return RungProbed{ID: e.ID, At: x.now(), Result: res}
			}
		}
		return RungProbed{ID: e.ID, At: x.now(), Result: checks.RungResult{State: checks.RungCannot, Summary: "no evidence module " + e.ID}}
	case LoadSummary:
		x.summaryMu.Lock()
		pre := x.summary
		x.summary = nil
		x.summaryMu.Unlock()
		if pre != nil {
			select {
			case ev := <-pre:
				if ev.Err == nil {
					return ev
				}
				// The prefetch failed (or its context ended): read now.
			case <-ctx.Done():
				return SummaryLoaded{Err: ctx.Err()}
			}
		}
		return x.loadSummary(ctx)
	}
	if ev, ok := x.doFlow(ctx, eff); ok {
		return ev
	}
	if ev, ok := x.doSetup(ctx, eff); ok {
		return ev
	}
	if ev, ok := x.doCustomer(ctx, eff); ok {
		return ev
	}
	panic(fmt.Sprintf("steps: no executor for %T", eff))
}

// prefetchSummary starts the summary's reads once (see Executor.summary).
func (x *Executor) prefetchSummary(ctx context.Context) {
	if x.Graph == nil {
		return
	}
	x.summaryMu.Lock()
	defer x.summaryMu.Unlock()
	if x.summary != nil {
		return
	}
	ch := make(chan SummaryLoaded, 1)
	x.summary = ch
	go func() { ch <- x.loadSummary(ctx) }()
}

// loadSummary reads billable identities and the MFA registration summary
// side by side.
func (x *Executor) loadSummary(ctx context.Context) SummaryLoaded {
	var ev SummaryLoaded
	var mfaErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		ev.MFARegistered, ev.MFATotal, mfaErr = x.Graph.MFARegistration(ctx)
	}()
	ev.Billable, ev.Err = x.Graph.CountBillableUsers(ctx)
	<-done
	if mfaErr != nil {
		// The MFA report needs Reports.Read.All / AuditLog.Read.All:
		// "when permitted", so its failure is not the summary's.
		ev.MFARegistered, ev.MFATotal = 0, -1
	}
	return ev
}

func (x *Executor) signInGate() chan struct{} {
	x.gateOnce.Do(func() { x.gate = make(chan struct{}) })
	return x.gate
}

func (x *Executor) openSignInGate() {
	g := x.signInGate()
	x.gateClose.Do(func() { close(g) })
}

// awaitSignInGate waits for OpenSignIn when the flow gates sign-in.
func (x *Executor) awaitSignInGate(ctx context.Context) error {
	if x.Session == nil || !x.Session.GateSignIn {
		return nil
	}
	select {
	case <-x.signInGate():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (x *Executor) checkTimeout() time.Duration {
	if x.CheckTimeout > 0 {
		return x.CheckTimeout
	}
	return 45 * time.Second
}

func panicEvent(eff Effect, err error) Event {
	switch e := eff.(type) {
	case RunCheck:
		return CheckDone{ID: e.ID, Result: checks.Result{Outcome: checks.Fail, Summary: err.Error(), Err: err}}
	case StartDeviceCode:
		return DeviceCodeIssued{Err: err}
	case AwaitDeviceCode, StartBrowser:
		return SignInFailed{Err: err}
	case DeliverRedirect:
		return RedirectDelivered{Err: err}
	case LoadTenant:
		return TenantLoaded{Err: err}
	case ApplyChange:
		return ChangeApplied{Err: err}
	case WriteReceipt, WriteEvidence:
		return ReceiptWritten{Err: err}
	case FindOrgs:
		return OrgsFound{Err: err}
	case FindIntegration:
		return IntegrationFound{Err: err}
	case LoadApp:
		return AppLoaded{Err: err}
	case DiscoverCustomers:
		return CustomersDiscovered{Err: err}
	case Consent, AwaitConsent:
		return ConsentDone{Err: err}
	case Map:
		return Mapped{Err: err}
	case PlanChanges:
		return ChangesPlanned{Err: err}
	case OpenSignIn:
		return SignInOpened{}
	case ProbeHealth:
		return HealthProbed{Err: err}
	case LoadSummary:
		return SummaryLoaded{Err: err}
	case ProbeRung:
		return RungProbed{ID: e.ID, Result: checks.RungResult{State: checks.RungWaiting, Summary: err.Error()}}
	case ResolveTenant:
		return TenantResolved{Err: err}
	}
	if ev := flowPanicEvent(eff, err); ev != nil {
		return ev
	}
	if ev := setupPanicEvent(eff, err); ev != nil {
		return ev
	}
	if ev := customerPanicEvent(eff, err); ev != nil {
		return ev
	}
	return Waited{}
}

// consent makes sure the platform's service principal exists and holds
// every application permission (and delegated grant) the platform asks for,
// then reads them back. It first refuses a tenant mapped to another
// organization (unless --remap), so nothing is granted for a mapping that
// cannot happen. Every write goes through the record (Executor.write).
func (x *Executor) consent(ctx context.Context) (ConsentResult, error) {
	var res ConsentResult
	if err := x.precheckMapping(ctx); err != nil {
		return res, err
	}
	app, err := x.Platform.App(ctx)
	if err != nil {
		return res, err
	}
	sp, err := x.Graph.ServicePrincipalByAppID(ctx, app.AppID)
	if err != nil {
		return res, err
	}
	if sp == nil {
		var created m365.ServicePrincipal
		var ce *ConsentError
		a, err := x.write(ctx, createSPChange(app), func(ctx context.Context) (checks.Applied, error) {
			c, err := x.Graph.CreateServicePrincipal(ctx, app.AppID)
			if err != nil {
				ce = Classify650051(err)
				if ce.Kind == SPPresent {
					// 650051 "already present": it may be ours and intact by
					// now (reuse it: found, not created by this run), or a
					// soft-deleted copy (wait).
					if again, gerr := x.Graph.ServicePrincipalByAppID(ctx, app.AppID); gerr == nil && again != nil {
						created = *again
						return checks.Applied{NoOp: true, RequestID: again.RequestID,
							Note: "Microsoft answered AADSTS650051 (already present): found service principal " + again.ID + ", made by another run or technician, not by this run"}, nil
					} else if dl, ok := x.Graph.(deletedSPLister); ok {
						if del, derr := dl.DeletedServicePrincipals(ctx, app.AppID); derr == nil && len(del) > 0 {
							ce.DeletedAt = del[0].DeletedDateTime
						}
					}
				}
				if ce.Kind != "" {
					return checks.Applied{}, ce
				}
				return checks.Applied{}, err
			}
			created = c
			if c.Found {
				return foundOnWrite(c.RequestID, "Microsoft Graph", "service principal "+c.ID), nil
			}
			return checks.Applied{RequestID: c.RequestID}, nil
		})
		if err != nil {
			return res, err
		}
		sp = &created
		if !a.NoOp {
			res.Created = true
			res.RequestIDs = append(res.RequestIDs, created.RequestID)
		}
	}
	res.ServicePrincipalID = sp.ID

	resource, err := x.prefetchResources(ctx, app)
	if err != nil {
		return res, err
	}
	missing, already, wants, err := x.missingGrants(ctx, app, sp, resource)
	if err != nil {
		return res, err
	}
	res.AlreadyGranted = append(res.AlreadyGranted, already...)
	// The grants are independent writes: side by side (each keeps its own
	// retry and re-check, and its own record), reported in plan order.
	applied := make([]checks.Applied, len(missing))
	errs := make([]error, len(missing))
	var wg sync.WaitGroup
	for i, m := range missing {
		wg.Add(1)
		go func() {
			defer wg.Done()
			applied[i], errs[i] = x.write(ctx, m.change, func(ctx context.Context) (checks.Applied, error) {
				if m.resource != nil {
					g, err := x.Graph.CreateOAuth2PermissionGrant(ctx, sp.ID, m.resource.ID, m.scope)
					if err == nil && g.Found {
						return foundOnWrite(g.RequestID, "Microsoft Graph", "delegated permission grant "+g.ID+" ("+g.Scope+")"), nil
					}
					return checks.Applied{RequestID: g.RequestID}, err
				}
				g, err := x.Graph.GrantAppRole(ctx, m.want.resourceID, sp.ID, m.want.roleID)
				if err == nil && g.Found {
					return foundOnWrite(g.RequestID, "Microsoft Graph", "app role assignment "+g.ID), nil
				}
				return checks.Applied{RequestID: g.RequestID}, err
			})
		}()
	}
	wg.Wait()
	for i, m := range missing {
		if errs[i] != nil {
			continue
		}
		label := strings.TrimPrefix(m.change.ID, changeGrantPrefix)
		if applied[i].NoOp {
			res.AlreadyGranted = append(res.AlreadyGranted, label)
			continue
		}
		res.Granted = append(res.Granted, label)
		res.RequestIDs = append(res.RequestIDs, applied[i].RequestID)
	}
	for i, m := range missing {
		if errs[i] != nil {
			return res, fmt.Errorf("granting %s: %w", strings.TrimPrefix(m.change.ID, changeGrantPrefix), errs[i])
		}
	}
	// Read back: every wanted application permission is now held.
	after, err := x.Graph.AppRoleAssignments(m365.FreshReads(ctx), sp.ID)
	if err != nil {
		return res, fmt.Errorf("consent verification: %w", err)
	}
	now := map[string]bool{}
	for _, a := range after {
		now[strings.ToLower(a.ResourceID+"/"+a.AppRoleID)] = true
	}
	for _, w := range wants {
		if !now[strings.ToLower(w.resourceID+"/"+w.roleID)] {
			return res, fmt.Errorf("consent verification: %s was granted but is not held", w.label)
		}
	}
	// Granted stays in plan order (the app's permissions, as the mapping
	// question listed them): the summary lists the grants that way.
	sort.Strings(res.AlreadyGranted)
	return res, nil
}

func containsAll(scope string, want []string) bool {
	have := map[string]bool{}
	for _, s := range strings.Fields(scope) {
		have[s] = true
	}
	for _, w := range want {
		if !have[w] {
			return false
		}
	}
	return true
}

// existingIntegration is the tenant's integration as the prerequisites step
// found it right after sign-in (nothing in this run writes integrations
// before the mapping), or read now when that lookup did not happen.
func (x *Executor) existingIntegration(ctx context.Context) (*platform.Integration, error) {
	if s := x.Session; s != nil && s.ExistingChecked && !x.existingStale.Load() {
		return s.Existing, nil
	}
	return x.Platform.IntegrationForTenant(ctx, x.Session.TenantID)
}

// mapTenant creates the integration; with remap it first deletes a mapping
// to another organization.
func (x *Executor) mapTenant(ctx context.Context, orgID string, remap bool) (platform.Integration, error) {
	tenant := x.Session.TenantID
	existing, err := x.existingIntegration(ctx)
	if err != nil {
		return platform.Integration{}, err
	}
	if existing != nil && existing.OrganizationID != orgID && remap {
		// About to delete: read afresh (an earlier attempt may already have).
		if existing, err = x.Platform.IntegrationForTenant(ctx, tenant); err != nil {
			return platform.Integration{}, err
		}
	}
	if existing != nil {
		if existing.OrganizationID == orgID {
			// Mapped there already (another run got there first): found.
			return *existing, x.found(ctx, mapChange(platform.Organization{ID: orgID, Name: existing.OrganizationName}), existing.RequestID,
				"already mapped to "+existing.OrganizationName+" (integration "+existing.ID+"), made by another run or technician, not by this run; nothing was sent")
		}
		if !remap {
			return platform.Integration{}, &platform.Error{Status: 409, Code: "tenant_already_mapped",
				Message: "tenant already mapped", OrganizationID: existing.OrganizationID,
				OrganizationName: existing.OrganizationName, Call: "GET /v1/integrations"}
		}
		old := *existing
		if _, err := x.write(ctx, unmapChange(old), func(ctx context.Context) (checks.Applied, error) {
			err := x.Platform.DeleteIntegration(ctx, old.ID)
			if platform.IsNotFound(err) {
				return checks.Applied{NoOp: true, Note: "the platform answered 404: the mapping was already removed (by another run or technician, not by this run)"}, nil
			}
			return checks.Applied{}, err
		}); err != nil {
			return platform.Integration{}, fmt.Errorf("remap: removing the mapping to %s: %w", existing.OrganizationName, err)
		}
		x.existingStale.Store(true) // the prerequisites' lookup no longer holds
	}
	org := platform.Organization{ID: orgID, Name: x.Session.Organization.Name}
	var in platform.Integration
	_, err = x.write(ctx, mapChange(org), func(ctx context.Context) (checks.Applied, error) {
		var err error
		in, err = x.Platform.CreateIntegration(ctx, tenant, orgID)
		if err == nil && in.Found {
			return foundOnWrite(in.RequestID, "The platform", "integration "+in.ID+" mapping the tenant to "+in.OrganizationName), nil
		}
		return checks.Applied{RequestID: in.RequestID}, err
	})
	if err != nil {
		var pe *platform.Error
		if errors.As(err, &pe) && pe.Code == "tenant_already_mapped" && remap {
			return platform.Integration{}, fmt.Errorf("remap: the tenant is still mapped to %s: %w", pe.OrganizationName, err)
		}
		if existing != nil && remap {
			return platform.Integration{}, fmt.Errorf("the old mapping to %s was removed, so the tenant is not mapped now; retry to map it: %w", existing.OrganizationName, err)
		}
		return in, err
	}
	return in, nil
}
