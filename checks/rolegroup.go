package checks

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"itdr-onboard/m365"
)

// Fallbacks used only when the platform's App document omits them.
const DefaultExchangeRoleGroup = "Organization Management"

// DefaultExchangeRoles is the fallback role list.
var DefaultExchangeRoles = []string{"Audit Logs", "Mail Recipients", "Organization Configuration", "Transport Rules", "Role Management"}

type roleGroup struct {
	meta
	x ExchangeAPI
	p PlatformAPI
}

// NewRoleGroup checks that the Exchange role group the platform names holds
// every Exchange role the platform needs, and can add the missing ones.
func NewRoleGroup(x ExchangeAPI, p PlatformAPI) Check {
	return &roleGroup{
		meta: meta{id: IDRoleGroup, title: "Exchange role group roles",
			step: StepRoles, phase: Tenant, sev: Required},
		x: x, p: p,
	}
}

func roleChangeID(role string) string { return IDRoleGroup + "/" + role }

// heldRoles returns the roles the group holds through a regular (not
// delegating) assignment, keyed by lower-case name, and the roles whose
// only assignments are disabled.
func heldRoles(as []m365.ManagementRoleAssignment) (held map[string]bool, disabled map[string]bool) {
	held, disabled = map[string]bool{}, map[string]bool{}
	for _, a := range as {
		// Delegating assignments let members hand the role out; they do
		// not grant it. Without the delegation type, Exchange's default
		// name "<role>-<group>-Delegating" gives it away.
		if dt := a.RoleAssignmentDelegationType; dt != "" {
			if !strings.EqualFold(dt, "Regular") {
				continue
			}
		} else if strings.HasSuffix(strings.ToLower(a.Name), "-delegating") {
			continue
		}
		k := strings.ToLower(strings.TrimSpace(a.Role))
		if a.Enabled {
			held[k] = true
			delete(disabled, k)
		} else if !held[k] {
			disabled[k] = true
		}
	}
	return held, disabled
}

func (c *roleGroup) Run(ctx context.Context) Result {
	if c.x == nil {
		return skipped("not signed in to Exchange Online")
	}
	if c.p == nil {
		return noPlatform()
	}
	app, err := c.p.App(ctx)
	if err != nil {
		return c.undecided("could not read which Exchange roles the platform needs (GET /v1/m365/app)",
			"check the connection to the ITDR platform and retry", err)
	}
	group, roles, note := app.ExchangeRoleGroup, app.ExchangeRoles, ""
	if strings.TrimSpace(group) == "" || len(roles) == 0 {
		if strings.TrimSpace(group) == "" {
			group = DefaultExchangeRoleGroup
		}
		if len(roles) == 0 {
			roles = DefaultExchangeRoles
		}
		note = "the platform did not name its Exchange roles; using the documented defaults"
	}
	as, err := c.x.RoleGroupRoles(ctx, group)
	if err != nil {
		return c.undecided(fmt.Sprintf("could not read the roles of the %q role group (Get-ManagementRoleAssignment)", group),
			fmt.Sprintf("retry; to check by hand run Get-ManagementRoleAssignment -RoleAssignee %q in Exchange Online PowerShell", group), err)
	}
	held, disabled := heldRoles(as)
	var missing, off []string
	var changes []Change
	for _, r := range roles {
		k := strings.ToLower(strings.TrimSpace(r))
		switch {
		case held[k]:
		case disabled[k]:
			off = append(off, r)
		default:
			missing = append(missing, r)
			changes = append(changes, Change{
				ID: roleChangeID(r), CheckID: IDRoleGroup, Order: OrderRoleGroup,
				Summary: fmt.Sprintf("Add role %q to %s", r, group),
				Call:    fmt.Sprintf("New-ManagementRoleAssignment -Role %q -SecurityGroup %q", r, group),
				Args:    map[string]string{"role": r, "role_group": group},
			})
		}
	}
	if len(missing) == 0 && len(off) == 0 {
		return Result{Outcome: Pass,
			Summary: fmt.Sprintf("%s holds all %d required roles (%s)", group, len(roles), strings.Join(roles, ", ")),
			Detail:  note}
	}
	var parts []string
	var remedy []string
	if len(missing) > 0 {
		parts = append(parts, fmt.Sprintf("missing %d of %d required roles: %s", len(missing), len(roles), strings.Join(missing, ", ")))
		remedy = append(remedy, fmt.Sprintf("let the wizard add the missing roles, or run New-ManagementRoleAssignment -Role \"<role>\" -SecurityGroup %q for each", group))
	}
	if len(off) > 0 {
		parts = append(parts, "assigned but disabled: "+strings.Join(off, ", "))
		remedy = append(remedy, "re-enable the disabled assignments with Set-ManagementRoleAssignment -Identity \"<assignment name>\" -Enabled $true")
	}
	return Result{Outcome: Fail,
		Summary: group + " " + strings.Join(parts, "; "),
		Detail:  note,
		Remedy:  strings.Join(remedy, "; "),
		Changes: changes}
}

func (c *roleGroup) Apply(ctx context.Context, ch Change) (Applied, error) {
	role, group := ch.Args["role"], ch.Args["role_group"]
	if role == "" || group == "" || ch.ID != roleChangeID(role) {
		return Applied{}, fmt.Errorf("%s: %w %q", IDRoleGroup, ErrUnknownChange, ch.ID)
	}
	if c.x == nil {
		return Applied{}, errors.New("not signed in to Exchange Online")
	}
	as, err := c.x.RoleGroupRoles(ctx, group)
	if err != nil {
		return Applied{}, fmt.Errorf("re-reading the roles of %q: %w", group, err)
	}
	held, _ := heldRoles(as)
	if held[strings.ToLower(strings.TrimSpace(role))] {
		return noOp(ch), nil
	}
	a, err := c.x.NewManagementRoleAssignment(ctx, role, group)
	if err != nil {
		return Applied{}, err
	}
	if a.Found {
		name := a.Name
		if name == "" {
			name = a.Role + " on " + group
		}
		return foundOnWrite(ch, a.RequestID, "Exchange Online", "management role assignment "+name), nil
	}
	return done(ch, a.RequestID), nil
}
