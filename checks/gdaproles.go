package checks

import (
	"context"
	"strings"
)

// IDGDAPRoles replaces IDGlobalAdmin in customer mode (a GDAP customer
// with the partner's sign-in): there is no /me in a customer tenant, and
// what matters is what the GDAP relationship grants this user.
const IDGDAPRoles = "gdap.roles"

// GDAPRole is one role the per-tenant flow needs, as discovery found it
// for the signed-in partner user in this customer (docs/gdap.md "Roles").
type GDAPRole struct {
	Name string
	// Held: an active access assignment to one of the user's groups grants it.
	Held bool
	// Required: without it nothing can be done (the consent bootstrap
	// needs it); otherwise its steps are handed off.
	Required bool
	// HandOff names the steps a customer admin must do without it.
	HandOff string
}

type gdapRoles struct {
	meta
	roles  []GDAPRole
	remedy string
}

// NewGDAPRoles checks that the GDAP relationship grants the partner user
// the roles the plan needs (from the discovery row: no request is sent).
// A missing required role fails; a missing other role warns and names the
// steps handed off. remedy is the row's remedy (the partner-side fix or
// the invitation).
func NewGDAPRoles(roles []GDAPRole, remedy string) Check {
	return &gdapRoles{
		meta:   meta{id: IDGDAPRoles, title: "GDAP roles", step: StepPrereqs, phase: Tenant, sev: Required},
		roles:  roles,
		remedy: remedy,
	}
}

func (c *gdapRoles) Run(context.Context) Result {
	var held, missing, handoff []string
	required := false
	for _, r := range c.roles {
		if r.Held {
			held = append(held, r.Name)
			continue
		}
		missing = append(missing, r.Name)
		required = required || r.Required
		if r.HandOff != "" {
			handoff = append(handoff, r.HandOff)
		}
	}
	if len(missing) == 0 {
		return Result{Outcome: Pass, Summary: "the GDAP relationship grants your groups " + strings.Join(held, ", ")}
	}
	res := Result{Summary: "the GDAP relationship does not grant your groups " + strings.Join(missing, ", "), Remedy: c.remedy}
	if len(held) > 0 {
		res.Detail = "granted: " + strings.Join(held, ", ")
	}
	if required {
		res.Outcome = Fail
		return res
	}
	res.Outcome = Warn
	res.Summary += "; handed off: " + strings.Join(handoff, "; ")
	return res
}
