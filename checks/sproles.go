package checks

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"itdr-onboard/m365"
)

const pimWarning = "Privileged Identity Management will raise an alert for this change"

type spRoles struct {
	meta
	g GraphAPI
	p PlatformAPI
}

// NewPlatformSPRoles checks that the platform's service principal exists in
// the tenant and holds every directory role the platform names; it can
// create the service principal and the missing role assignments.
func NewPlatformSPRoles(g GraphAPI, p PlatformAPI) Check {
	return &spRoles{
		meta: meta{id: IDPlatformSPRoles, title: "Platform service principal directory roles",
			step: StepRoles, phase: Tenant, sev: Required},
		g: g, p: p,
	}
}

// wantRole is one directory role the platform needs.
type wantRole struct{ id, name string }

const spCreateChangeID = IDPlatformSPRoles + "/create-service-principal"

func spRoleChangeID(templateID string) string { return IDPlatformSPRoles + "/role/" + templateID }

func holdsRole(as []m365.RoleAssignment, templateID string) bool {
	for _, a := range as {
		if strings.EqualFold(a.RoleDefinitionID, templateID) && (a.DirectoryScopeID == "" || a.DirectoryScopeID == "/") {
			return true
		}
	}
	return false
}

func (c *spRoles) Run(ctx context.Context) Result {
	if c.g == nil {
		return skipped("not signed in to Microsoft Graph")
	}
	if c.p == nil {
		return noPlatform()
	}
	app, err := c.p.App(ctx)
	if err != nil {
		return c.undecided("could not read which directory roles the platform needs (GET /v1/m365/app)",
			"check the connection to the ITDR platform and retry", err)
	}
	if strings.TrimSpace(app.AppID) == "" {
		return c.undecided("the platform did not name its Microsoft 365 application (GET /v1/m365/app has no app_id)",
			"contact the platform's support", errors.New("platform app has no app_id"))
	}
	name := app.DisplayName
	if name == "" {
		name = "the platform's application"
	}
	sp, err := c.g.ServicePrincipalByAppID(ctx, app.AppID)
	if err != nil {
		return c.undecided(fmt.Sprintf("could not look up the service principal of %s (app id %s)", name, app.AppID),
			"retry; the signed-in account needs to read enterprise applications", err)
	}
	roleChange := func(r wantRole) Change {
		return Change{
			ID: spRoleChangeID(r.id), CheckID: IDPlatformSPRoles, Order: OrderSPRole,
			Summary: fmt.Sprintf("Assign directory role %s to %s", r.name, name),
			Call:    "POST /roleManagement/directory/roleAssignments",
			Warning: pimWarning,
			Args:    map[string]string{"app_id": app.AppID, "template_id": r.id, "role": r.name},
		}
	}
	var want []wantRole
	for _, r := range app.DirectoryRoles {
		if strings.TrimSpace(r.TemplateID) == "" {
			continue
		}
		n := r.DisplayName
		if n == "" {
			n = r.TemplateID
		}
		want = append(want, wantRole{id: r.TemplateID, name: n})
	}
	wantNames := func(rs []wantRole) string {
		var s []string
		for _, r := range rs {
			s = append(s, r.name)
		}
		return strings.Join(s, ", ")
	}
	if sp == nil {
		changes := []Change{{
			ID: spCreateChangeID, CheckID: IDPlatformSPRoles, Order: OrderCreateSP,
			Summary: fmt.Sprintf("Create the service principal of %s in the tenant", name),
			Call:    "POST /servicePrincipals {appId}",
			Args:    map[string]string{"app_id": app.AppID},
		}}
		for _, r := range want {
			changes = append(changes, roleChange(r))
		}
		s := fmt.Sprintf("service principal of %s (app id %s) is not in the tenant", name, app.AppID)
		if len(want) > 0 {
			s += "; it needs " + wantNames(want)
		}
		return Result{Outcome: Fail, Summary: s,
			Remedy:  "let the wizard create it and assign the roles (PIM will alert), or grant admin consent to the application and assign the roles in Microsoft Entra admin center → Roles and administrators",
			Changes: changes}
	}
	if len(want) == 0 {
		return Result{Outcome: Pass, Summary: fmt.Sprintf("service principal of %s exists; the platform needs no directory roles", name)}
	}
	as, err := c.g.RoleAssignments(ctx, sp.ID)
	if err != nil {
		return c.undecided(fmt.Sprintf("could not read the directory roles of %s's service principal", name),
			"retry; the signed-in account needs to read role assignments (Global Administrator)", err)
	}
	var missing []wantRole
	var changes []Change
	for _, r := range want {
		if !holdsRole(as, r.id) {
			missing = append(missing, r)
			changes = append(changes, roleChange(r))
		}
	}
	if len(missing) == 0 {
		return Result{Outcome: Pass, Summary: fmt.Sprintf("service principal of %s holds every required directory role (%s)", name, wantNames(want))}
	}
	return Result{Outcome: Fail,
		Summary: fmt.Sprintf("service principal of %s is missing directory roles: %s", name, wantNames(missing)),
		Remedy:  "let the wizard assign the roles (PIM will alert), or assign them in Microsoft Entra admin center → Roles and administrators",
		Changes: changes}
}

func (c *spRoles) Apply(ctx context.Context, ch Change) (Applied, error) {
	appID := ch.Args["app_id"]
	if c.g == nil {
		return Applied{}, errors.New("not signed in to Microsoft Graph")
	}
	switch {
	case ch.ID == spCreateChangeID && appID != "":
		sp, err := c.g.ServicePrincipalByAppID(ctx, appID)
		if err != nil {
			return Applied{}, fmt.Errorf("looking up the service principal of app %s: %w", appID, err)
		}
		if sp != nil {
			return noOp(ch), nil
		}
		created, err := c.g.CreateServicePrincipal(ctx, appID)
		if err != nil {
			return Applied{}, err // unchanged: the mapping step recognises AADSTS650051
		}
		if created.Found {
			return foundOnWrite(ch, created.RequestID, "Microsoft Graph", "service principal "+created.ID), nil
		}
		return done(ch, created.RequestID), nil
	case appID != "" && ch.Args["template_id"] != "" && ch.ID == spRoleChangeID(ch.Args["template_id"]):
		tid := ch.Args["template_id"]
		// Resolved now: an earlier change of the same plan may have created it.
		sp, err := c.g.ServicePrincipalByAppID(ctx, appID)
		if err != nil {
			return Applied{}, fmt.Errorf("looking up the service principal of app %s: %w", appID, err)
		}
		if sp == nil {
			return Applied{}, fmt.Errorf("the service principal of app %s does not exist yet; create it first", appID)
		}
		as, err := c.g.RoleAssignments(ctx, sp.ID)
		if err != nil {
			return Applied{}, fmt.Errorf("re-reading the service principal's role assignments: %w", err)
		}
		if holdsRole(as, tid) {
			return noOp(ch), nil
		}
		a, err := c.g.CreateRoleAssignment(ctx, sp.ID, tid)
		if err != nil {
			return Applied{}, err
		}
		if a.Found {
			return foundOnWrite(ch, a.RequestID, "Microsoft Graph", "directory role assignment "+a.ID), nil
		}
		return done(ch, a.RequestID), nil
	}
	return Applied{}, fmt.Errorf("%s: %w %q", IDPlatformSPRoles, ErrUnknownChange, ch.ID)
}
