package steps

import (
	"time"

	"itdr-onboard/checks"
)

// Flow is what one command runs through the engine: a name and its steps
// in order. Every command (onboard, check, reauthorize, unmap, and later
// batch or partner) is a Flow, so each gets the TUI, the line front-end and
// the JSON event stream, the one executor and the same receipts for free.
// A new command is one file in steps/ declaring its Flow (and any new step
// it needs) plus its cobra command in cli/ choosing it.
type Flow struct {
	// Name is the command ("onboard", "check").
	Name string
	// Steps builds fresh steps for one run over the registered checks.
	Steps func(opt Options, infos []CheckInfo) []Step
	// Final, when set, describes the end of a run once it is over (a
	// report built from the session); otherwise the steps set Session.Done
	// themselves (or leave it nil: onboarding's own healthy summary).
	// now is the front-end's clock (the steps never read one).
	Final func(e *Engine, infos []CheckInfo, now time.Time) *Done
}

// New builds the engine and session of one run of the flow.
func (f Flow) New(opt Options, infos []CheckInfo) (*Engine, *Session) {
	s := NewSession(opt)
	for _, in := range infos {
		s.Titles[in.ID] = in.Title
	}
	e := NewEngine(s, f.Steps(s.Opt, infos)...)
	e.flow = f.Name
	if f.Final != nil {
		final := f.Final
		e.final = func(e *Engine, now time.Time) *Done { return final(e, infos, now) }
	}
	return e, s
}

// Onboard is the wizard: prerequisites → sign-in → role fixes → mapping →
// health.
var Onboard = Flow{Name: "onboard", Steps: func(_ Options, infos []CheckInfo) []Step {
	si := NewSignInStep()
	si.prefetch = tokenChecks(infos)
	return []Step{NewPrereqStep(infos), si, NewRolesStep(infos), NewMappingStep(), NewHealthStep()}
}}

// tokenChecks are the checks after sign-in that need nothing but the
// token (the tenant prerequisites and the role checks): the sign-in step
// has them started with its first reads (LoadTenant.Prefetch).
func tokenChecks(infos []CheckInfo) []string {
	var ids []string
	for _, in := range infos {
		if (in.Step == checks.StepPrereqs && in.Phase != checks.BeforeSignIn) || in.Step == checks.StepRoles {
			ids = append(ids, in.ID)
		}
	}
	return ids
}

// Done is the end of a run of a flow other than onboarding, worded for
// every front-end: the line front-end prints Headline and Lines, the TUI
// shows them on its final screen, the JSON "finished" event carries Outcome
// and Fields.
type Done struct {
	// Outcome is the JSON event's "outcome" ("reauthorized", "unmapped",
	// "nothing-to-do", "checked") when the run did not fail.
	Outcome  string
	Headline string
	Lines    []string
	// Items are rows to show with the end (the check report's rows).
	Items []Item
	// Fields are added to the JSON "finished" event.
	Fields map[string]any
	// Report is the check report (the `check` flow only).
	Report *CheckReport
	// Status is the status report (the `status` flow only).
	Status *StatusReport
	// Recap restates what the run did (each deletion, the receipt): the
	// TUI's end screen shows it; the line front-end printed each of these
	// as it happened and does not repeat them.
	Recap []string
	// ExitCode is the exit code of a run that did not fail (status: the
	// worst tenant's); 0 otherwise.
	ExitCode int
}

// CheckReport is the `check` report (docs/check-report.schema.json); the
// front-ends read it through steps alone.
type CheckReport = checks.Report

// What the front-ends compare a report row with.
const (
	SeverityRecommended = checks.Recommended
	PhaseTenant         = checks.Tenant
)

// Flow returns the name of the flow the engine runs ("" when built by
// NewEngine directly).
func (e *Engine) Flow() string { return e.flow }

// Done describes the end of the run for the front-ends (now is their
// clock); nil for onboarding (its summary is the session itself) and while
// the run goes on.
func (e *Engine) Done(now time.Time) *Done {
	if e.final != nil {
		if !e.Finished() {
			return nil
		}
		return e.final(e, now)
	}
	return e.s.Done
}
