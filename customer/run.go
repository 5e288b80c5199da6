package customer

import (
	"context"
	"errors"

	"itdr-onboard/partner"
)

// Run is one prepared customer run (New): `partner onboard` drives its
// engine with a front-end of its choice; RunCustomer drives it headless.
type Run struct {
	deps Deps
	row  partner.Row
	opt  Options
}

// New prepares one customer's run: its clients bound to the tenant, its
// checks, its engine. It refuses a row that cannot be onboarded over GDAP
// (no tenant id).
func New(deps Deps, row partner.Row, opt Options) (*Run, error) {
	if row.TenantID == "" {
		return nil, errors.New("customer: the row has no tenant id")
	}
	return &Run{deps: deps, row: row, opt: opt}, nil
}

// Run drives the run to its end (see RunCustomer).
func (r *Run) Run(ctx context.Context, sink func(Event)) (Outcome, Receipt) {
	// First landing: the signature e-batch builds on. The engine wiring
	// lands next (issue 20, customer mode).
	o := Outcome{TenantID: r.row.TenantID, Name: r.row.Name, Result: ResultFailed, ExitCode: 1, Lane: r.row.Lane,
		Message: "customer mode is not wired yet", Err: errors.New("customer: not wired yet")}
	if sink != nil {
		sink(Event{TenantID: r.row.TenantID, Time: r.deps.now(), Type: "finished", Outcome: &o})
	}
	return o, Receipt{}
}
