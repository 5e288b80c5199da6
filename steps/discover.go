package steps

import (
	"context"
	"fmt"
	"strings"
	"time"

	"itdr-onboard/checks"
	"itdr-onboard/partner"
)

// Discovery is the GDAP discovery step of `batch plan` (partner flows).
const Discovery ID = "discovery"

// PartnerAPI is what the executor needs for partner flows: discovery from
// the partner side only (cli wires partner.Discover with the real clients).
type PartnerAPI interface {
	Discover(ctx context.Context) (partner.Plan, error)
}

// DiscoverCustomers asks for the discovery of every customer and its lane.
type DiscoverCustomers struct{}

func (DiscoverCustomers) isEffect() {}

// CustomersDiscovered is the discovery's outcome.
type CustomersDiscovered struct {
	Plan partner.Plan
	Err  error
}

func (CustomersDiscovered) isEvent() {}

func (x *Executor) discover(ctx context.Context) Event {
	if x.Partner == nil {
		return CustomersDiscovered{Err: fmt.Errorf("no partner sources wired")}
	}
	p, err := x.Partner.Discover(ctx)
	return CustomersDiscovered{Plan: p, Err: err}
}

// DiscoveryDetail is the discovery step's payload: the plan, and the same
// plan as presentation fields (front-ends draw from these alone).
type DiscoveryDetail struct {
	Plan    partner.Plan
	User    string
	Partner string
	Rows    []DiscoveryRow
	Counts  []LaneCount // lanes in display order, only those present
	Notes   []string
}

// DiscoveryRow is one customer as the front-ends show it.
type DiscoveryRow struct {
	TenantID, Name, Domain string
	Lane                   string
	Roles                  []RoleMark
	ReadyAt                *time.Time
	HandOff                []string
	Remedy                 string
	InviteURL              string
	OrgID                  string
}

// RoleMark is one needed role of a row: held (✓), pending (…) or missing (✗).
type RoleMark struct {
	Short, Role  string
	Has, Pending bool
}

// LaneCount is how many customers are in a lane.
type LaneCount struct {
	Lane string
	N    int
}

// PresentPlan turns a discovery plan into presentation fields.
func PresentPlan(p partner.Plan) DiscoveryDetail {
	d := DiscoveryDetail{Plan: p, User: p.User, Partner: p.Partner, Notes: p.Notes}
	for _, l := range partner.Lanes() {
		if n := p.Counts[l]; n > 0 {
			d.Counts = append(d.Counts, LaneCount{Lane: string(l), N: n})
		}
	}
	for _, r := range p.Rows {
		row := DiscoveryRow{TenantID: r.TenantID, Name: r.Name, Domain: r.Domain, Lane: string(r.Lane), ReadyAt: r.ReadyAt,
			HandOff: r.HandOff, Remedy: r.Remedy, InviteURL: r.InviteURL, OrgID: r.OrgID}
		for i, st := range r.Roles {
			m := RoleMark{Role: st.Role, Short: st.Role, Has: st.Has, Pending: st.Pending}
			if i < len(partner.NeededRoles) {
				m.Short = partner.NeededRoles[i].Short
			}
			row.Roles = append(row.Roles, m)
		}
		d.Rows = append(d.Rows, row)
	}
	return d
}

// RoleNames are the needed roles' names in row order (column heads).
func RoleNames() []string {
	var out []string
	for _, n := range partner.NeededRoles {
		out = append(out, n.Name)
	}
	return out
}

// DiscoveryStep reads the partner side and computes a lane per customer.
// It never reaches a customer tenant (read-only).
type DiscoveryStep struct {
	status Status
	plan   partner.Plan
	fail   *Failure
}

// NewDiscoveryStep builds the step.
func NewDiscoveryStep() *DiscoveryStep { return &DiscoveryStep{status: StatusPending} }

func (d *DiscoveryStep) ID() ID         { return Discovery }
func (d *DiscoveryStep) Title() string  { return "GDAP discovery" }
func (d *DiscoveryStep) Status() Status { return d.status }

// Plan returns the discovered plan (empty until done).
func (d *DiscoveryStep) Plan() partner.Plan { return d.plan }

func (d *DiscoveryStep) Enter(s *Session) []Effect {
	d.status, d.fail = StatusRunning, nil
	return []Effect{DiscoverCustomers{}}
}

func (d *DiscoveryStep) Handle(s *Session, ev Event) []Effect {
	e, ok := ev.(CustomersDiscovered)
	if !ok {
		return nil
	}
	if e.Err != nil {
		d.status = StatusFailed
		d.fail = &Failure{Kind: FailError, Message: "Discovery failed: " + e.Err.Error(),
			Remedy: "Retry; a 401 with 900421 means Partner Center wants a sign-in with MFA (`itdr-onboard partner sign-in`).", Err: e.Err}
		return nil
	}
	d.plan = e.Plan
	d.status = StatusDone
	s.Outcome = "discovered"
	return nil
}

// laneOutcome maps a lane to a row glyph.
func laneOutcome(l partner.Lane) checks.Outcome {
	switch l {
	case partner.LaneReady, partner.LaneConnected:
		return checks.Pass
	case partner.LaneNoGDAP:
		return checks.Fail
	}
	return checks.Warn
}

func (d *DiscoveryStep) Snapshot(s *Session) Snapshot {
	det := PresentPlan(d.plan)
	snap := Snapshot{ID: Discovery, Title: d.Title(), Status: d.status, Fail: d.fail, Detail: &det}
	switch d.status {
	case StatusRunning:
		snap.Line = "reading GDAP relationships, access assignments, your groups, Partner Center customers and platform organizations"
	case StatusDone:
		var parts []string
		for _, l := range partner.Lanes() {
			if n := d.plan.Counts[l]; n > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", n, l))
			}
		}
		snap.Line = fmt.Sprintf("%d customers: %s", len(d.plan.Rows), strings.Join(parts, ", "))
		for _, r := range d.plan.Rows {
			snap.Items = append(snap.Items, Item{ID: r.TenantID, Label: r.Name, Outcome: laneOutcome(r.Lane), Summary: string(r.Lane), Remedy: r.Remedy})
		}
	case StatusFailed:
		snap.Next = retryUnlessFinal(d.fail)
	}
	return snap
}
