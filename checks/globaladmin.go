package checks

import (
	"context"
	"fmt"
	"strings"
)

// GlobalAdminTemplateID is the Global Administrator role template id.
const GlobalAdminTemplateID = "62e90394-69f5-4237-9190-012177145e10"

// PIMActivationURL is where a technician activates an eligible role.
const PIMActivationURL = "https://portal.azure.com/#view/Microsoft_Azure_PIMCommon/ActivationMenuBlade/~/aadmigratedroles"

type globalAdmin struct {
	meta
	g GraphAPI
}

// NewGlobalAdmin checks that the signed-in account is an active Global
// Administrator (directly or through a role-assignable group), telling a
// PIM-eligible but inactive assignment apart.
func NewGlobalAdmin(g GraphAPI) Check {
	return &globalAdmin{
		meta: meta{id: IDGlobalAdmin, title: "Global Administrator",
			step: StepPrereqs, phase: Tenant, sev: Required},
		g: g,
	}
}

func (c *globalAdmin) Run(ctx context.Context) Result {
	if c.g == nil {
		return skipped("not signed in to Microsoft Graph")
	}
	who := "the signed-in account"
	if me, err := c.g.Me(ctx); err == nil && me.UserPrincipalName != "" {
		who = me.UserPrincipalName
	}
	roles, err := c.g.MyActiveDirectoryRoles(ctx)
	if err != nil {
		return c.undecided(fmt.Sprintf("could not read the directory roles of %s", who),
			"retry; if it keeps failing, check that the account can sign in to the Microsoft Entra admin center", err)
	}
	for _, r := range roles {
		if strings.EqualFold(r.RoleTemplateID, GlobalAdminTemplateID) {
			return Result{Outcome: Pass, Summary: fmt.Sprintf("%s is an active Global Administrator", who)}
		}
	}
	elig, eerr := c.g.MyEligibleRoles(ctx)
	if eerr == nil {
		for _, e := range elig {
			if strings.EqualFold(e.RoleDefinitionID, GlobalAdminTemplateID) && (e.DirectoryScopeID == "" || e.DirectoryScopeID == "/") {
				return Result{Outcome: Fail,
					Summary: "Global Administrator is eligible in PIM but not active",
					Detail:  fmt.Sprintf("%s holds an eligible, not activated, Global Administrator assignment", who),
					Remedy:  "activate the role in PIM (" + PIMActivationURL + "), then retry"}
			}
		}
	}
	names := make([]string, 0, len(roles))
	for _, r := range roles {
		names = append(names, r.DisplayName)
	}
	res := Result{Outcome: Fail,
		Summary: fmt.Sprintf("%s is not a Global Administrator", who),
		Remedy:  fmt.Sprintf("sign in with an account that holds Global Administrator in this tenant, or have a Global Administrator assign the role to %s (Microsoft Entra admin center → Roles and administrators), then retry", who)}
	var detail []string
	if len(names) > 0 {
		detail = append(detail, "active roles: "+strings.Join(names, ", "))
	} else {
		detail = append(detail, "no active directory roles")
	}
	if eerr != nil {
		// The outcome is decided (not active); only the PIM hint is missing.
		detail = append(detail, "PIM eligibility could not be read: "+eerr.Error())
	}
	res.Detail = strings.Join(detail, "\n")
	return res
}
