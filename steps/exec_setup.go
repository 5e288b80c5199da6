package steps

import (
	"context"
	"fmt"
	"strings"
	"time"

	"itdr-onboard/checks"
	"itdr-onboard/m365"
	"itdr-onboard/partner"
)

// SetupGraph is what `partner setup` needs of m365.Graph (partner tenant
// token), kept apart so the other flows' fakes need not implement it.
type SetupGraph interface {
	ApplicationByAppID(ctx context.Context, appID string) (*m365.Application, error)
	ApplicationsByName(ctx context.Context, name string) ([]m365.Application, error)
	CreateApplication(ctx context.Context, app m365.Application) (m365.Application, error)
	UpdateApplication(ctx context.Context, objectID string, patch map[string]any) (string, error)
	UpdateOAuth2PermissionGrant(ctx context.Context, id, scope string) (string, error)
	MyActiveDirectoryRoles(ctx context.Context) ([]m365.DirectoryRole, error)
}

// SetupSignInScopes are the delegated Microsoft Graph permissions partner
// setup signs in with (Microsoft Graph Command Line Tools): register and
// update the app and create its service principal (Application.ReadWrite.All,
// application-post-applications), grant tenant-wide consent
// (DelegatedPermissionGrant.ReadWrite.All, oauth2permissiongrant-post), read
// the resources and the administrator's roles (Directory.Read.All).
var SetupSignInScopes = []string{"Application.ReadWrite.All", "DelegatedPermissionGrant.ReadWrite.All", "Directory.Read.All"}

// SetupReplication bounds the wait for a new app to replicate before its
// service principal (or a grant) can be created: Graph answers 400 "…does
// not reference a valid application object" or 404 meanwhile (docs/gdap.md).
var SetupReplication = []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 15 * time.Second, 30 * time.Second}

func (x *Executor) setupGraph() (SetupGraph, error) {
	g, ok := x.Graph.(SetupGraph)
	if !ok {
		return nil, fmt.Errorf("the Graph client cannot manage app registrations")
	}
	return g, nil
}

// LockedError says another run holds the lock of the tenant this run
// signed in to (Executor.Lock).
type LockedError struct{ Err error }

func (e *LockedError) Error() string { return e.Err.Error() }
func (e *LockedError) Unwrap() error { return e.Err }

// doSetup performs setup's effects.
func (x *Executor) doSetup(ctx context.Context, eff Effect) (Event, bool) {
	switch e := eff.(type) {
	case ReadSetup:
		// One setup per partner tenant: its lock first, before the record
		// is touched.
		if x.Lock != nil && x.Session != nil {
			if err := x.Lock(x.Session.TenantID); err != nil {
				return SetupRead{Err: &LockedError{Err: err}}, true
			}
		}
		// Intents of an interrupted run are settled first, so the plan
		// and the record agree on what is already there.
		if err := x.reconcile(ctx, false); err != nil {
			return SetupRead{Err: err}, true
		}
		st, err := x.readSetup(ctx, e.AppID, true)
		return SetupRead{State: st, Err: err}, true
	case ApplySetup:
		var appID string
		a, err := x.write(ctx, e.Change, func(ctx context.Context) (checks.Applied, error) {
			var a checks.Applied
			var err error
			appID, a, err = x.applySetup(ctx, e.Change)
			return a, err
		})
		if appID == "" {
			appID = e.Change.Args["app_id"]
		}
		return SetupApplied{Applied: a, AppID: appID, Err: err}, true
	case VerifySetup:
		st, err := x.readSetup(m365.FreshReads(ctx), e.AppID, false)
		if err != nil {
			return SetupVerified{Err: err}, true
		}
		return SetupVerified{Findings: st.Validate()}, true
	case SaveSetup:
		if x.SaveSetup == nil {
			return SetupSaved{}, true
		}
		p, err := x.SaveSetup(e.AppID, x.Session.TenantID)
		return SetupSaved{Path: p, Err: err}, true
	}
	return nil, false
}

// readSetup reads the app (by id, or by the wizard's name when ""), its
// service principal and grants, the resources and (roles) the user's roles.
func (x *Executor) readSetup(ctx context.Context, appID string, roles bool) (partner.SetupState, error) {
	st := partner.SetupState{WantAppID: appID, ResourceSPs: map[string]*m365.ServicePrincipal{}}
	g, err := x.setupGraph()
	if err != nil {
		return st, err
	}
	if appID != "" {
		if st.App, err = g.ApplicationByAppID(ctx, appID); err != nil {
			return st, fmt.Errorf("reading app %s: %w", appID, err)
		}
	} else {
		if st.SameName, err = g.ApplicationsByName(ctx, partner.AppDisplayName); err != nil {
			return st, fmt.Errorf("looking for the app %q: %w", partner.AppDisplayName, err)
		}
		if len(st.SameName) == 1 {
			a := st.SameName[0]
			st.App = &a
		}
	}
	for _, res := range partner.Resources() {
		sp, err := x.Graph.ServicePrincipalByAppID(ctx, res)
		if err != nil {
			return st, fmt.Errorf("reading %s's service principal: %w", partner.ResourceName(res), err)
		}
		st.ResourceSPs[strings.ToLower(res)] = sp
	}
	if st.App != nil {
		if st.SP, err = x.Graph.ServicePrincipalByAppID(ctx, st.App.AppID); err != nil {
			return st, fmt.Errorf("reading the app's service principal: %w", err)
		}
		if st.SP != nil {
			if st.Grants, err = x.Graph.OAuth2PermissionGrants(ctx, st.SP.ID); err != nil {
				return st, fmt.Errorf("reading the app's consent: %w", err)
			}
		}
	}
	if roles {
		if st.Roles, err = g.MyActiveDirectoryRoles(ctx); err != nil {
			return st, fmt.Errorf("reading your directory roles: %w", err)
		}
	}
	return st, nil
}

// applySetup makes one change; appID is the app's id afterwards.
func (x *Executor) applySetup(ctx context.Context, c checks.Change) (string, checks.Applied, error) {
	a := checks.Applied{Change: c}
	g, err := x.setupGraph()
	if err != nil {
		return "", a, err
	}
	appID := c.Args["app_id"]
	resources := func() (map[string]*m365.ServicePrincipal, error) {
		out := map[string]*m365.ServicePrincipal{}
		for _, res := range partner.Resources() {
			sp, err := x.Graph.ServicePrincipalByAppID(ctx, res)
			if err != nil {
				return nil, err
			}
			out[strings.ToLower(res)] = sp
		}
		return out, nil
	}
	current := func() (*m365.Application, error) {
		app, err := g.ApplicationByAppID(m365.FreshReads(ctx), appID)
		if err == nil && app == nil {
			err = &partner.ErrAppNotFound{AppID: appID}
		}
		return app, err
	}
	switch {
	case c.ID == partner.ChangeCreateApp:
		rs, err := resources()
		if err != nil {
			return "", a, err
		}
		man, err := partner.Manifest(rs)
		if err != nil {
			return "", a, err
		}
		app, err := g.CreateApplication(ctx, man)
		if err != nil {
			return "", a, err
		}
		a.RequestID = app.RequestID
		a.At = x.now()
		if app.Found { // answered "already exists": recorded as found, not applied
			f := foundOnWrite(app.RequestID, "Microsoft Graph", "app registration "+app.AppID)
			a.NoOp, a.Note = true, f.Note
		}
		return app.AppID, a, nil
	case c.ID == partner.ChangeAudience || c.ID == partner.ChangePublic || c.ID == partner.ChangePermissions:
		app, err := current()
		if err != nil {
			return appID, a, err
		}
		patch := map[string]any{}
		switch c.ID {
		case partner.ChangeAudience:
			patch["signInAudience"] = partner.SignInAudience
		case partner.ChangePublic:
			uris := append([]string{}, app.PublicClient.RedirectURIs...)
			has := false
			for _, u := range uris {
				has = has || strings.EqualFold(strings.TrimRight(u, "/"), partner.RedirectURI)
			}
			if !has {
				uris = append(uris, partner.RedirectURI)
			}
			patch["isFallbackPublicClient"] = true
			patch["publicClient"] = map[string]any{"redirectUris": uris}
		case partner.ChangePermissions:
			rs, err := resources()
			if err != nil {
				return appID, a, err
			}
			rra, err := partner.RequiredAccess(rs)
			if err != nil {
				return appID, a, err
			}
			patch["requiredResourceAccess"] = rra
		}
		a.RequestID, err = g.UpdateApplication(ctx, app.ID, patch)
		a.At = x.now()
		return appID, a, err
	case c.ID == partner.ChangeSP:
		var sp m365.ServicePrincipal
		err := x.replicating(ctx, func() error {
			var err error
			sp, err = x.Graph.CreateServicePrincipal(ctx, appID)
			return err
		})
		a.RequestID, a.At = sp.RequestID, x.now()
		return appID, a, err
	case strings.HasPrefix(c.ID, partner.ChangeGrantPrefix):
		res := c.Args["resource"]
		scope := strings.Join(partner.Wanted(res), " ")
		if id := c.Args["grant_id"]; id != "" {
			a.RequestID, err = g.UpdateOAuth2PermissionGrant(ctx, id, scope)
			a.At = x.now()
			return appID, a, err
		}
		err := x.replicating(ctx, func() error {
			client, err := x.Graph.ServicePrincipalByAppID(m365.FreshReads(ctx), appID)
			if err != nil {
				return err
			}
			resource, err := x.Graph.ServicePrincipalByAppID(ctx, res)
			if err != nil {
				return err
			}
			if client == nil || resource == nil {
				return fmt.Errorf("the service principal of %s is not there yet", map[bool]string{true: "the app", false: partner.ResourceName(res)}[client == nil])
			}
			gr, err := x.Graph.CreateOAuth2PermissionGrant(ctx, client.ID, resource.ID, scope)
			a.RequestID = gr.RequestID
			return err
		})
		a.At = x.now()
		return appID, a, err
	}
	return appID, a, fmt.Errorf("unknown setup change %q", c.ID)
}

// replicating retries do while Graph has not replicated a new object yet
// (400 "does not reference a valid application object", 404), bounded by
// SetupReplication.
func (x *Executor) replicating(ctx context.Context, do func() error) error {
	err := do()
	for _, d := range SetupReplication {
		if err == nil || !notReplicated(err) || ctx.Err() != nil {
			return err
		}
		if serr := x.sleep(ctx, d); serr != nil {
			return err
		}
		err = do()
	}
	return err
}

func notReplicated(err error) bool {
	if m365.IsNotFound(err) {
		return true
	}
	s := err.Error()
	return strings.Contains(s, "does not reference a valid application object") || strings.Contains(s, "is not there yet")
}

// probeSetup settles an open intent of setup by reading the partner
// tenant: a change no longer in the plan is in place.
func (x *Executor) probeSetup(ctx context.Context, c checks.Change) (present, known bool) {
	appID := c.Args["app_id"]
	if c.ID == partner.ChangeCreateApp {
		g, err := x.setupGraph()
		if err != nil {
			return false, false
		}
		apps, err := g.ApplicationsByName(ctx, partner.AppDisplayName)
		if err != nil {
			return false, false
		}
		return len(apps) > 0, true
	}
	st, err := x.readSetup(m365.FreshReads(ctx), appID, false)
	if err != nil || st.App == nil {
		return false, false
	}
	plan, err := partner.PlanSetup(st)
	if err != nil {
		return false, false
	}
	for _, p := range plan {
		if p.ID == c.ID {
			return false, true
		}
	}
	return true, true
}

// setupPanicEvent is the event of a setup effect that panicked.
func setupPanicEvent(eff Effect, err error) Event {
	switch eff.(type) {
	case ReadSetup:
		return SetupRead{Err: err}
	case ApplySetup:
		return SetupApplied{Err: err}
	case VerifySetup:
		return SetupVerified{Err: err}
	case SaveSetup:
		return SetupSaved{Err: err}
	}
	return nil
}
