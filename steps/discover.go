package steps

import (
	"context"
	"fmt"
	"strings"

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

// DiscoveryDetail is the discovery step's payload: the plan.
type DiscoveryDetail struct {
	Plan partner.Plan
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
	snap := Snapshot{ID: Discovery, Title: d.Title(), Status: d.status, Fail: d.fail, Detail: &DiscoveryDetail{Plan: d.plan}}
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
