package steps

import (
	"context"
	"fmt"
	"strings"

	"itdr-onboard/checks"
	"itdr-onboard/m365"
	"itdr-onboard/platform"
)

// Check ids of the changes consent and the mapping make (the role fixes
// carry the id of the check that planned them).
const (
	ConsentChangeCheck = "consent"
	MappingChangeCheck = "mapping"
)

// Ids of the consent and mapping changes in plans, receipts and the audit trail.
const (
	changeCreateSP    = "consent/create-service-principal"
	changeGrantPrefix = "consent/grant/"
	changeMap         = "mapping/create"
	changeUnmapPrefix = "mapping/remove/"
)

// PlanChanges is the dry run's last effect: it reads (never writes) what
// consent would grant and what the mapping would change, so the plan shown
// is the whole onboarding's.
type PlanChanges struct {
	// Org is the organization the tenant would be mapped to ("" when none
	// was chosen: a dry run without --org).
	Org   platform.Organization
	Remap bool
}

// ChangesPlanned answers PlanChanges.
type ChangesPlanned struct {
	Changes []checks.Change
	Err     error
}

func (PlanChanges) isEffect()   {}
func (ChangesPlanned) isEvent() {}

// consentChange is one write consent makes, with what it needs.
type consentChange struct {
	change checks.Change
	want   wantedRole // an application permission ("" resourceID for the others)
	// delegated grant: the resource service principal and the scopes.
	resource *m365.ServicePrincipal
	scope    string
}

func grantChange(app platform.App, label, call string) checks.Change {
	name := app.DisplayName
	if name == "" {
		name = "the platform's app"
	}
	return checks.Change{ID: changeGrantPrefix + label, CheckID: ConsentChangeCheck, Order: 40,
		Summary: "Grant " + label + " to " + name, Call: call}
}

func createSPChange(app platform.App) checks.Change {
	name := app.DisplayName
	if name == "" {
		name = "the platform's app"
	}
	return checks.Change{ID: changeCreateSP, CheckID: ConsentChangeCheck, Order: checks.OrderCreateSP,
		Summary: "Create the service principal of " + name + " in the tenant", Call: "POST /servicePrincipals {appId}",
		Args: map[string]string{"app_id": app.AppID}}
}

func mapChange(org platform.Organization) checks.Change {
	name := org.Name
	if name == "" {
		name = "the platform organization picked then (pass --org to name it)"
	}
	return checks.Change{ID: changeMap, CheckID: MappingChangeCheck, Order: 50,
		Summary: "Map the tenant to " + name, Call: "POST /v1/integrations",
		Args: map[string]string{"organization_id": org.ID}}
}

func unmapChange(in platform.Integration) checks.Change {
	return checks.Change{ID: changeUnmapPrefix + in.ID, CheckID: MappingChangeCheck, Order: 45,
		Summary: "Remove the mapping of the tenant to " + in.OrganizationName + " (" + in.ID + ")",
		Call:    "DELETE /v1/integrations/" + in.ID, Args: map[string]string{"integration_id": in.ID}}
}

// missingGrants lists the application permissions and delegated grants the
// service principal sp (nil: not created yet) lacks, as changes.
func (x *Executor) missingGrants(ctx context.Context, app platform.App, sp *m365.ServicePrincipal,
	resource func(string) (*m365.ServicePrincipal, error)) (missing []consentChange, already []string, wants []wantedRole, err error) {
	held := map[string]bool{}
	var grants []m365.OAuth2PermissionGrant
	if sp != nil {
		have, err := x.Graph.AppRoleAssignments(ctx, sp.ID)
		if err != nil {
			return nil, nil, nil, err
		}
		for _, a := range have {
			held[strings.ToLower(a.ResourceID+"/"+a.AppRoleID)] = true
		}
	}
	wants, err = x.wantedAppRoles(ctx, app, resource)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, w := range wants {
		if held[strings.ToLower(w.resourceID+"/"+w.roleID)] {
			already = append(already, w.label)
			continue
		}
		missing = append(missing, consentChange{change: grantChange(app, w.label, "POST /servicePrincipals/{id}/appRoleAssignedTo"), want: w})
	}
	if len(app.DelegatedPermissions) == 0 {
		return missing, already, wants, nil
	}
	if sp != nil {
		if grants, err = x.Graph.OAuth2PermissionGrants(ctx, sp.ID); err != nil {
			return nil, nil, nil, err
		}
	}
	for _, d := range app.DelegatedPermissions {
		r, err := resource(d.ResourceAppID)
		if err != nil {
			return nil, nil, nil, err
		}
		if r == nil {
			return nil, nil, nil, &ConsentError{Kind: InvalidPermissions, Permission: strings.Join(d.Scopes, " "), Resource: d.ResourceDisplayName,
				Err: errNoResourceSP(d.ResourceDisplayName)}
		}
		scope := strings.Join(d.Scopes, " ")
		label := r.DisplayName + ": " + scope + " (delegated)"
		found := false
		for _, g := range grants {
			if strings.EqualFold(g.ResourceID, r.ID) && strings.EqualFold(g.ConsentType, "AllPrincipals") && containsAll(g.Scope, d.Scopes) {
				found = true
			}
		}
		if found {
			already = append(already, label)
			continue
		}
		missing = append(missing, consentChange{change: grantChange(app, label, "POST /oauth2PermissionGrants"), resource: r, scope: scope})
	}
	return missing, already, wants, nil
}

// planChanges reads what consent and the mapping would change.
func (x *Executor) planChanges(ctx context.Context, e PlanChanges) ([]checks.Change, error) {
	app, err := x.Platform.App(ctx)
	if err != nil {
		return nil, err
	}
	var out []checks.Change
	sp, err := x.Graph.ServicePrincipalByAppID(ctx, app.AppID)
	if err != nil {
		return nil, err
	}
	if sp == nil {
		out = append(out, createSPChange(app))
	}
	resource, err := x.prefetchResources(ctx, app)
	if err != nil {
		return nil, err
	}
	missing, _, _, err := x.missingGrants(ctx, app, sp, resource)
	if err != nil {
		return nil, err
	}
	for _, m := range missing {
		out = append(out, m.change)
	}
	existing, err := x.existingIntegration(ctx)
	if err != nil {
		return nil, err
	}
	switch {
	case existing == nil:
		out = append(out, mapChange(e.Org))
	case e.Org.ID != "" && existing.OrganizationID == e.Org.ID:
		// Mapped there already: nothing to change.
	case e.Remap && e.Org.ID != "":
		out = append(out, unmapChange(*existing), mapChange(e.Org))
	case e.Org.ID == "":
		c := mapChange(e.Org)
		c.Warning = "the tenant is mapped to " + existing.OrganizationName + " now; mapping it elsewhere needs --remap"
		out = append(out, c)
	}
	return out, nil
}

func errNoResourceSP(name string) error {
	return fmt.Errorf("the resource %s has no service principal in this tenant", name)
}

// addPlanned appends the consent and mapping changes to the session's plan
// (the role fixes already create the service principal when they plan it).
func addPlanned(s *Session, cs []checks.Change) {
	creates := false
	for _, c := range s.Plan {
		if c.Order == checks.OrderCreateSP && strings.HasPrefix(c.Call, "POST /servicePrincipals") {
			creates = true
		}
	}
	for _, c := range cs {
		if c.ID == changeCreateSP && creates {
			continue
		}
		s.Plan = append(s.Plan, c)
	}
}
