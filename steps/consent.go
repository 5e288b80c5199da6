package steps

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"itdr-onboard/checks"
	"itdr-onboard/m365"
	"itdr-onboard/platform"
)

// AwaitConsent is the --consent handoff effect: show the admin-consent URL
// for a Global Administrator elsewhere (ConsentHandoff is emitted first),
// then poll Graph until the platform's service principal exists and holds
// every application permission, or the --wait budget ends.
type AwaitConsent struct{}

func (AwaitConsent) isEffect() {}

// AwaitConsent is a write: the handoff's opener (the demo) grants consent.
func (AwaitConsent) writes() {}

// ConsentHandoff is emitted by AwaitConsent before it polls: the URL to
// hand to a Global Administrator. Note carries what the last attempt to
// open it said (the demo plays the administrator), "" otherwise.
type ConsentHandoff struct {
	URL  string
	Note string
}

func (ConsentHandoff) isEvent() {}

// ErrHandoffTimeout ends a handoff wait that ran out of --wait budget.
var ErrHandoffTimeout = errors.New("no Global Administrator granted consent before the wait ended")

// maxHandoffErrors is how many failed Graph reads in a row end a handoff wait.
const maxHandoffErrors = 6

// deletedSPLister is implemented by m365.Graph: it tells a soft-deleted
// service principal apart from one that is present.
type deletedSPLister interface {
	DeletedServicePrincipals(ctx context.Context, appID string) ([]m365.DeletedServicePrincipal, error)
}

// deferToConsent handles a role-fix change that failed with AADSTS650051
// while creating the platform's service principal: that error belongs to
// the mapping step's guided retry (wait for a soft-deleted copy, or stop
// naming an invalid permission), so the creation and the changes that need
// the service principal are handed to it (Session.Deferred) and the other
// changes go on.
func (p *RolesStep) deferToConsent(s *Session, c checks.Change, err error) bool {
	if c.Order != checks.OrderCreateSP || Classify650051(err).Kind == "" {
		return false
	}
	s.Deferred = append(s.Deferred, c)
	var keep []checks.Change
	for _, q := range p.queue {
		if q.CheckID == c.CheckID {
			s.Deferred = append(s.Deferred, q)
			continue
		}
		keep = append(keep, q)
	}
	p.queue = keep
	return true
}

// fillConsentURL puts the tenant into the platform's admin-consent URL.
func fillConsentURL(raw, tenant string) string {
	if tenant == "" {
		tenant = "organizations"
	}
	return strings.ReplaceAll(raw, "{tenant}", url.PathEscape(tenant))
}

// precheckMapping refuses to grant anything when the tenant is already
// mapped to another organization (and --remap was not given): the
// technician learns it before the tenant is changed.
func (x *Executor) precheckMapping(ctx context.Context) error {
	s := x.Session
	if s == nil || s.Organization.ID == "" || s.Opt.Remap || s.TenantID == "" {
		return nil
	}
	existing, err := x.existingIntegration(ctx)
	if err != nil || existing == nil || existing.OrganizationID == s.Organization.ID {
		return nil // a read failure is not a reason to stop here; Map decides
	}
	return &platform.Error{Status: 409, Code: "tenant_already_mapped", Message: "tenant already mapped",
		OrganizationID: existing.OrganizationID, OrganizationName: existing.OrganizationName, Call: "GET /v1/integrations"}
}

// wantedRole is one application permission the platform asks for,
// resolved in the tenant.
type wantedRole struct{ resourceID, roleID, label string }

// wantedAppRoles resolves every application permission of the app to the
// resource service principal and app role id in the tenant.
func (x *Executor) wantedAppRoles(ctx context.Context, app platform.App, resource func(string) (*m365.ServicePrincipal, error)) ([]wantedRole, error) {
	var wants []wantedRole
	for _, p := range app.ApplicationPermissions {
		r, err := resource(p.ResourceAppID)
		if err != nil {
			return nil, err
		}
		name := p.ResourceDisplayName
		if name == "" {
			name = p.ResourceAppID
		}
		if r == nil {
			return nil, &ConsentError{Kind: InvalidPermissions, Permission: p.Permission, Resource: name,
				Err: fmt.Errorf("the resource %s has no service principal in this tenant", name)}
		}
		roleID := ""
		for _, ar := range r.AppRoles {
			if ar.Value == p.Permission {
				roleID = ar.ID
			}
		}
		if roleID == "" {
			return nil, &ConsentError{Kind: InvalidPermissions, Permission: p.Permission, Resource: r.DisplayName,
				Err: fmt.Errorf("AADSTS650051: Claim is invalid: %s does not exist on resource '%s'", p.Permission, r.DisplayName)}
		}
		wants = append(wants, wantedRole{r.ID, roleID, r.DisplayName + ": " + p.Permission})
	}
	return wants, nil
}

// prefetchResources looks up, side by side, the service principal of every
// resource the platform's permissions live on, and returns a lookup over
// them (falling back to a read for anything not prefetched).
func (x *Executor) prefetchResources(ctx context.Context, app platform.App) (func(string) (*m365.ServicePrincipal, error), error) {
	ids := map[string]bool{}
	for _, p := range app.ApplicationPermissions {
		ids[p.ResourceAppID] = true
	}
	for _, d := range app.DelegatedPermissions {
		ids[d.ResourceAppID] = true
	}
	var mu sync.Mutex
	var firstErr error
	found := map[string]*m365.ServicePrincipal{}
	var wg sync.WaitGroup
	for id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sp, err := x.Graph.ServicePrincipalByAppID(ctx, id)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			found[id] = sp
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	fallback := x.resourceLookup(ctx)
	return func(appID string) (*m365.ServicePrincipal, error) {
		if sp, ok := found[appID]; ok {
			return sp, nil
		}
		return fallback(appID)
	}, nil
}

func (x *Executor) resourceLookup(ctx context.Context) func(string) (*m365.ServicePrincipal, error) {
	resources := map[string]*m365.ServicePrincipal{}
	return func(appID string) (*m365.ServicePrincipal, error) {
		if r, ok := resources[appID]; ok {
			return r, nil
		}
		r, err := x.Graph.ServicePrincipalByAppID(ctx, appID)
		if err != nil {
			return nil, err
		}
		resources[appID] = r
		return r, nil
	}
}

// consentHeld reports whether the platform's service principal exists and
// holds every application permission the platform asks for.
func (x *Executor) consentHeld(ctx context.Context, app platform.App) (ConsentResult, bool, error) {
	var res ConsentResult
	sp, err := x.Graph.ServicePrincipalByAppID(ctx, app.AppID)
	if err != nil || sp == nil {
		return res, false, err
	}
	res.ServicePrincipalID = sp.ID
	wants, err := x.wantedAppRoles(ctx, app, x.resourceLookup(ctx))
	if err != nil {
		return res, false, err
	}
	have, err := x.Graph.AppRoleAssignments(ctx, sp.ID)
	if err != nil {
		return res, false, err
	}
	held := map[string]bool{}
	for _, a := range have {
		held[strings.ToLower(a.ResourceID+"/"+a.AppRoleID)] = true
	}
	for _, w := range wants {
		if !held[strings.ToLower(w.resourceID+"/"+w.roleID)] {
			return res, false, nil
		}
		res.AlreadyGranted = append(res.AlreadyGranted, w.label)
	}
	return res, true, nil
}

// awaitConsent is the handoff: it emits the admin-consent URL, lets the
// opener (the demo's simulated administrator) use it, and polls until the
// grant appears.
func (x *Executor) awaitConsent(ctx context.Context, emit func(Event)) (ConsentResult, error) {
	if err := x.precheckMapping(ctx); err != nil {
		return ConsentResult{}, err
	}
	app, err := x.Platform.App(ctx)
	if err != nil {
		return ConsentResult{}, err
	}
	if strings.TrimSpace(app.AdminConsentURL) == "" {
		return ConsentResult{}, errors.New("the platform did not give an admin-consent URL (GET /v1/m365/app admin_consent_url); use --consent direct")
	}
	tenant := ""
	var opt Options
	if x.Session != nil {
		tenant, opt = x.Session.TenantID, x.Session.Opt
	}
	u := fillConsentURL(app.AdminConsentURL, tenant)
	emit(ConsentHandoff{URL: u})
	opened := x.OpenConsent == nil
	interval := opt.PollBase
	if interval <= 0 {
		interval = 5 * time.Second
	}
	start := x.now()
	errs := 0
	for {
		if !opened {
			if oerr := x.OpenConsent(ctx, u); oerr == nil {
				opened = true
			} else {
				if ce := Classify650051(oerr); ce.Kind == InvalidPermissions {
					return ConsentResult{}, ce
				}
				emit(ConsentHandoff{URL: u, Note: oerr.Error()})
			}
		}
		// The grant is made out of band (another browser): every read of
		// the poll asks Microsoft, none is served from the read cache.
		res, ok, err := x.consentHeld(m365.Uncached(ctx), app)
		switch {
		case err == nil && ok:
			return res, nil
		case err != nil:
			var ce *ConsentError
			if errors.As(err, &ce) || ctx.Err() != nil {
				return res, err
			}
			if errs++; errs >= maxHandoffErrors {
				return res, err
			}
		default:
			errs = 0
		}
		if opt.Wait > 0 && x.now().Sub(start) >= opt.Wait {
			return res, ErrHandoffTimeout
		}
		d := interval
		if opt.Wait > 0 {
			d = min(d, max(opt.Wait-x.now().Sub(start), 0))
		}
		if err := x.sleep(ctx, d); err != nil {
			return res, err
		}
		interval = min(interval*2, 15*time.Second)
	}
}

// NewConsentStep is the consent-only step of `reauthorize`: it grants the
// platform's permissions again (with the same AADSTS650051 handling as
// onboarding, or the handoff) and verifies them, without mapping.
func NewConsentStep() *MappingStep {
	return &MappingStep{status: StatusPending, consentOnly: true}
}
