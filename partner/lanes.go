package partner

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"itdr-onboard/m365"
	"itdr-onboard/platform"
)

// Lane is what the batch does with a customer (docs/gdap.md "Lanes").
type Lane string

const (
	// LaneReady: the user's effective roles hold every needed role,
	// propagated.
	LaneReady Lane = "ready"
	// LaneSettling: the roles are there but the relationship was activated
	// less than SettleTime ago, or an assignment is still pending.
	LaneSettling Lane = "settling"
	// LanePartial: the user can consent but lacks Privileged Role
	// Administrator and/or Exchange Administrator: those steps are handed off.
	LanePartial Lane = "partial"
	// LaneNotAssigned: a relationship holds roles, but this user is in no
	// group with an active assignment of them (a partner-side fix).
	LaneNotAssigned Lane = "not-assigned"
	// LaneNoGDAP: no active relationship (none, pending approval, expired,
	// terminated): the customer must approve an invitation.
	LaneNoGDAP Lane = "no-gdap"
	// LaneConnected: the platform already has a healthy (or pending)
	// integration for the tenant: skipped.
	LaneConnected Lane = "connected"
	// LaneConflict: the tenant is mapped to another platform organization
	// than the one named like the customer.
	LaneConflict Lane = "conflict"

	// Lanes found only once a customer token is asked for (consent bootstrap).
	LaneCABlocked    Lane = "ca-blocked"    // AADSTS53003
	LaneNoExchange   Lane = "no-exchange"   // AADSTS650052 for Exchange Online
	LaneNotConsented Lane = "not-consented" // AADSTS65001 after the bounded wait
)

// Lanes lists the discovery lanes in display order.
func Lanes() []Lane {
	return []Lane{LaneReady, LaneSettling, LanePartial, LaneNotAssigned, LaneNoGDAP, LaneConnected, LaneConflict}
}

// Role template ids (Microsoft Entra built-in roles; all GDAP-eligible).
const (
	RoleCloudAppAdmin       = "158c047a-c907-4556-b7ef-446551a6b5f7"
	RoleAppAdmin            = "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3"
	RolePrivilegedRoleAdmin = "e8611ab8-c189-46e8-94e1-60213ab1f814"
	RoleExchangeAdmin       = "29232cdf-9323-42fd-ade2-1d097af3e4de"
	RoleGlobalAdmin         = "62e90394-69f5-4237-9190-012177145e10"
)

// NeededRole is one role the per-tenant pipeline needs, with the roles
// that satisfy it and what is handed off without it.
type NeededRole struct {
	Name    string
	Short   string
	IDs     []string // any of these satisfies it
	HandOff string   // the steps a customer admin must do without it
}

// NeededRoles are the least-privileged roles for the whole flow
// (docs/gdap.md "Roles and why").
var NeededRoles = []NeededRole{
	{Name: "Cloud Application Administrator", Short: "CAA", IDs: []string{RoleCloudAppAdmin, RoleAppAdmin, RoleGlobalAdmin},
		HandOff: "consent bootstrap, the platform app's service principal and delegated grants"},
	{Name: "Privileged Role Administrator", Short: "PRA", IDs: []string{RolePrivilegedRoleAdmin, RoleGlobalAdmin},
		HandOff: "Microsoft Graph application permissions and the directory roles of the platform's app (admin consent)"},
	{Name: "Exchange Administrator", Short: "EXA", IDs: []string{RoleExchangeAdmin, RoleGlobalAdmin},
		HandOff: "Exchange Organization Management role fixes and turning on the unified audit log"},
}

// RoleStatus is one needed role for one customer.
type RoleStatus struct {
	Role string `json:"role"`
	// Has: an active assignment to one of the user's groups grants it.
	Has bool `json:"has"`
	// Pending: only a pending assignment grants it.
	Pending bool `json:"pending,omitempty"`
	// InRelationship: the customer approved it in an active relationship.
	InRelationship bool `json:"in_relationship"`
}

// Row is one customer in the discovery table.
type Row struct {
	TenantID      string       `json:"tenant_id"`
	Name          string       `json:"name"`
	Domain        string       `json:"domain,omitempty"`
	Lane          Lane         `json:"lane"`
	Roles         []RoleStatus `json:"roles"`
	ReadyAt       *time.Time   `json:"ready_at,omitempty"`
	HandOff       []string     `json:"hand_off,omitempty"`
	Remedy        string       `json:"remedy"`
	InviteURL     string       `json:"invite_url,omitempty"`
	Relationships []string     `json:"relationships,omitempty"`
	Organization  string       `json:"organization,omitempty"`
	OrgID         string       `json:"organization_id,omitempty"`
	// Sources say where the customer was found: gdap, partner-center, platform.
	Sources []string `json:"sources"`
}

// Inputs is everything discovery read, all from the partner side.
type Inputs struct {
	Now           time.Time
	User          string // the signed-in partner user (for remedies)
	Relationships []m365.DelegatedAdminRelationship
	Assignments   map[string][]m365.DelegatedAdminAccessAssignment // by relationship id
	MyGroups      []m365.DirectoryObject
	Customers     []Customer // Partner Center
	Orgs          []platform.Organization
	Integrations  map[string]*platform.Integration // by tenant id (lower case)
	// SettleTime: a relationship activated more recently than this is
	// settling (CIPP waits 15 minutes; Microsoft documents up to 3 minutes
	// of propagation). Default 15 minutes.
	SettleTime time.Duration
	// AssignmentWait is the ready-at estimate for a pending assignment
	// (Partner Center: "after 30 seconds or so"). Default 1 minute.
	AssignmentWait time.Duration
}

// InviteURL is the customer's approval link for a relationship.
func InviteURL(relationshipID string) string {
	return "https://admin.microsoft.com/AdminPortal/Home#/partners/invitation/granularAdminRelationships/" + relationshipID
}

type custAcc struct {
	row    Row
	rels   []m365.DelegatedAdminRelationship
	active []m365.DelegatedAdminRelationship
}

// ComputeLanes turns what discovery read into one row per customer
// (Partner Center customers ∪ GDAP customers ∪ tenants the platform has
// integrations for), sorted by name. It is pure: no I/O, no clock.
func ComputeLanes(in Inputs) []Row {
	if in.SettleTime <= 0 {
		in.SettleTime = 15 * time.Minute
	}
	if in.AssignmentWait <= 0 {
		in.AssignmentWait = time.Minute
	}
	byTID := map[string]*custAcc{}
	get := func(tid, name, source string) *custAcc {
		tid = strings.ToLower(tid)
		c := byTID[tid]
		if c == nil {
			c = &custAcc{row: Row{TenantID: tid, Name: name}}
			byTID[tid] = c
		}
		if c.row.Name == "" {
			c.row.Name = name
		}
		for _, s := range c.row.Sources {
			if s == source {
				return c
			}
		}
		c.row.Sources = append(c.row.Sources, source)
		return c
	}
	for _, r := range in.Relationships {
		if r.MicrosoftLed() || r.Customer.TenantID == "" {
			continue
		}
		c := get(r.Customer.TenantID, r.Customer.DisplayName, "gdap")
		c.rels = append(c.rels, r)
		if r.Status == "active" && (r.EndDateTime == nil || r.EndDateTime.After(in.Now)) {
			c.active = append(c.active, r)
		}
	}
	for _, pc := range in.Customers {
		c := get(pc.TenantID(), pc.CompanyProfile.CompanyName, "partner-center")
		if c.row.Domain == "" {
			c.row.Domain = pc.CompanyProfile.Domain
		}
	}
	orgByName := map[string]platform.Organization{}
	orgByID := map[string]platform.Organization{}
	for _, o := range in.Orgs {
		orgByName[strings.ToLower(strings.TrimSpace(o.Name))] = o
		orgByID[o.ID] = o
		if o.IdentityProviderTenantID != "" {
			get(o.IdentityProviderTenantID, "", "platform")
		}
	}
	for tid := range in.Integrations {
		if in.Integrations[tid] != nil {
			get(tid, "", "platform")
		}
	}
	mine := map[string]bool{}
	for _, g := range in.MyGroups {
		mine[strings.ToLower(g.ID)] = true
	}

	rows := make([]Row, 0, len(byTID))
	for _, c := range byTID {
		row := c.row
		if row.Name == "" {
			row.Name = row.TenantID
		}
		for _, r := range c.rels {
			row.Relationships = append(row.Relationships, r.DisplayName+" ("+r.Status+")")
		}
		named, haveNamed := orgByName[strings.ToLower(strings.TrimSpace(row.Name))]
		if haveNamed {
			row.Organization, row.OrgID = named.Name, named.ID
		}
		row.Roles = roleStatus(c.active, in.Assignments, mine)
		integ := in.Integrations[row.TenantID]
		if integ == nil {
			for _, o := range in.Orgs {
				if strings.EqualFold(o.IdentityProviderTenantID, row.TenantID) {
					integ = &platform.Integration{TenantID: row.TenantID, OrganizationID: o.ID, OrganizationName: o.Name, Status: "unknown"}
				}
			}
		}
		switch {
		case integ != nil && haveNamed && integ.OrganizationID != named.ID:
			row.Lane = LaneConflict
			other := integ.OrganizationName
			if other == "" {
				other = orgByID[integ.OrganizationID].Name
			}
			row.Organization, row.OrgID = other, integ.OrganizationID
			row.Remedy = fmt.Sprintf("Mapped to the platform organization %q (%s), not %q (%s). Run `itdr-onboard onboard --tenant %s --org %s --remap` to move it, or leave it.", other, integ.OrganizationID, named.Name, named.ID, row.TenantID, named.ID)
		case integ != nil:
			row.Lane = LaneConnected
			if row.Organization == "" {
				row.Organization, row.OrgID = integ.OrganizationName, integ.OrganizationID
			}
			row.Remedy = "Already connected (integration " + stDefault(integ.Status, "present") + "): skipped. `itdr-onboard status --tenant " + row.TenantID + "` shows its health."
		default:
			laneForGDAP(&row, c, in)
		}
		rows = append(rows, row)
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].Name != rows[j].Name {
			return strings.ToLower(rows[i].Name) < strings.ToLower(rows[j].Name)
		}
		return rows[i].TenantID < rows[j].TenantID
	})
	return rows
}

func stDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// roleStatus folds the active relationships' assignments into the needed
// roles: effective (active assignment to one of my groups), pending, and
// approved in the relationship.
func roleStatus(active []m365.DelegatedAdminRelationship, assigns map[string][]m365.DelegatedAdminAccessAssignment, mine map[string]bool) []RoleStatus {
	has, pending, inRel := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, r := range active {
		for _, u := range r.AccessDetails.UnifiedRoles {
			inRel[strings.ToLower(u.RoleDefinitionID)] = true
		}
		for _, a := range assigns[r.ID] {
			if !mine[strings.ToLower(a.AccessContainer.AccessContainerID)] {
				continue
			}
			for _, u := range a.AccessDetails.UnifiedRoles {
				id := strings.ToLower(u.RoleDefinitionID)
				switch a.Status {
				case "active":
					has[id] = true
				case "pending":
					pending[id] = true
				}
			}
		}
	}
	out := make([]RoleStatus, len(NeededRoles))
	for i, n := range NeededRoles {
		st := RoleStatus{Role: n.Name}
		for _, id := range n.IDs {
			st.Has = st.Has || has[id]
			st.Pending = st.Pending || pending[id]
			st.InRelationship = st.InRelationship || inRel[id]
		}
		if st.Has {
			st.Pending = false
		}
		out[i] = st
	}
	return out
}

func laneForGDAP(row *Row, c *custAcc, in Inputs) {
	if len(c.active) == 0 {
		row.Lane = LaneNoGDAP
		var pendingRel string
		for _, r := range c.rels {
			if r.Status == "approvalPending" {
				pendingRel = r.ID
			}
		}
		roles := "Cloud Application Administrator, Privileged Role Administrator, Exchange Administrator"
		switch {
		case pendingRel != "":
			row.InviteURL = InviteURL(pendingRel)
			row.Remedy = "A GDAP relationship waits for the customer's approval: send the customer's Global Administrator the invitation link (" + row.InviteURL + ")."
		case len(c.rels) > 0:
			row.Remedy = "The GDAP relationship is " + c.rels[len(c.rels)-1].Status + ": create a new one with " + roles + " (Partner Center → Customers → " + row.Name + " → Admin relationships → Request admin relationship) and send the customer its invitation link."
		default:
			row.Remedy = "No GDAP relationship: create one with " + roles + " (Partner Center → Customers → Admin relationships → Request admin relationship) and send the customer its invitation link; or onboard the tenant directly with its Global Administrator (`itdr-onboard onboard --tenant " + row.TenantID + "`)."
		}
		return
	}
	var missing, missingInRel, pendingOnly []string
	anyHas := false
	for i, st := range row.Roles {
		switch {
		case st.Has:
			anyHas = true
		case st.Pending:
			pendingOnly = append(pendingOnly, NeededRoles[i].Name)
		default:
			missing = append(missing, NeededRoles[i].Name)
			if st.InRelationship {
				missingInRel = append(missingInRel, NeededRoles[i].Name)
			}
		}
	}
	// Not assigned: the relationship approved roles, but no group of mine
	// holds any needed role (active or pending).
	if !anyHas && len(pendingOnly) == 0 {
		if len(missingInRel) > 0 {
			row.Lane = LaneNotAssigned
			row.Remedy = fmt.Sprintf("The relationship %s grants %s, but %s is in no security group assigned to them: add the user to the group that holds them, or add an access assignment for one of the user's groups (Partner Center → Customers → %s → Admin relationships → %s → Assign security groups). No customer action needed.",
				c.active[0].DisplayName, strings.Join(missingInRel, ", "), stDefault(in.User, "the signed-in user"), row.Name, c.active[0].DisplayName)
			return
		}
		row.Lane = LaneNoGDAP
		row.Remedy = "The active GDAP relationship grants none of the needed roles: create a new relationship with Cloud Application Administrator, Privileged Role Administrator and Exchange Administrator and send the customer its invitation link."
		return
	}
	if len(missing) > 0 {
		row.Lane = LanePartial
		for i, st := range row.Roles {
			if !st.Has && !st.Pending {
				row.HandOff = append(row.HandOff, NeededRoles[i].HandOff)
			}
		}
		fix := "ask the customer to approve a new relationship that adds them (invitation link), or let a customer administrator do the handed-off steps"
		if len(missingInRel) == len(missing) {
			fix = "the relationship already grants them: assign them to one of " + stDefault(in.User, "the user") + "'s groups (Partner Center → Admin relationships → Assign security groups); no customer action needed"
		}
		row.Remedy = "Missing " + strings.Join(missing, " and ") + ": " + fix + ". Handed off: " + strings.Join(row.HandOff, "; ") + "."
		return
	}
	// Every needed role is held or pending: ready or settling.
	var readyAt time.Time
	for _, r := range c.active {
		if r.ActivatedDateTime != nil {
			if t := r.ActivatedDateTime.Add(in.SettleTime); t.After(readyAt) {
				readyAt = t
			}
		}
	}
	if len(pendingOnly) > 0 {
		if t := in.Now.Add(in.AssignmentWait); t.After(readyAt) {
			readyAt = t
		}
	}
	if readyAt.After(in.Now) {
		row.Lane = LaneSettling
		ra := readyAt.UTC()
		row.ReadyAt = &ra
		why := "the relationship was activated less than " + spokenDuration(in.SettleTime) + " ago"
		if len(pendingOnly) > 0 {
			why = "the access assignment for " + strings.Join(pendingOnly, ", ") + " is still pending"
		}
		row.Remedy = "Settling: " + why + "; Microsoft needs time to propagate it. Ready at " + ra.Format("15:04 MST") + " — run the plan again then."
		return
	}
	row.Lane = LaneReady
	row.Remedy = "Nothing to fix: the consent bootstrap and onboarding can run."
}

// spokenDuration says d as a technician reads it ("15 minutes", "1 hour",
// "90 seconds"), not Go's "15m0s".
func spokenDuration(d time.Duration) string {
	unit := func(n int64, one string) string {
		if n == 1 {
			return "1 " + one
		}
		return fmt.Sprintf("%d %ss", n, one)
	}
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return unit(int64(d/time.Hour), "hour")
	case d >= time.Minute && d%time.Minute == 0:
		return unit(int64(d/time.Minute), "minute")
	default:
		return unit(int64(d.Round(time.Second)/time.Second), "second")
	}
}
