package steps

import (
	"errors"
	"fmt"
	"strings"

	"itdr-onboard/checks"
	"itdr-onboard/partner"
)

// `partner setup` (docs/gdap.md "The onboarding app"): once per MSP, a
// partner administrator creates or validates the onboarding app in the
// partner tenant and consents it there. Sign-in → Setup: read → plan →
// confirm (--yes) → apply (each change through the record) → read back →
// save the app id in the wizard's config → receipt.

// Setup is the step ID of SetupStep.
const Setup ID = "setup"

// QConfirmSetup asks before setup changes the partner tenant.
const QConfirmSetup = "setup.confirm"

// PartnerSetup is `partner setup`.
var PartnerSetup = Flow{Name: "partner-setup", Steps: func(_ Options, _ []CheckInfo) []Step {
	return []Step{NewTargetStep(), NewSignInStep(), NewSetupStep()}
}}

// Effects and events of setup (performed in exec_setup.go).
type (
	// ReadSetup reads the onboarding app (AppID, or by name when ""), its
	// service principal and grants, the resources' service principals and
	// the signed-in user's directory roles.
	ReadSetup struct{ AppID string }
	// SetupRead answers ReadSetup.
	SetupRead struct {
		State partner.SetupState
		Err   error
	}
	// ApplySetup makes one planned change (through the record).
	ApplySetup struct {
		Change checks.Change
	}
	// SetupApplied answers ApplySetup; AppID is the app's id (known once
	// the registration exists).
	SetupApplied struct {
		Applied checks.Applied
		AppID   string
		Err     error
	}
	// VerifySetup reads everything back.
	VerifySetup struct{ AppID string }
	// SetupVerified answers VerifySetup.
	SetupVerified struct {
		Findings []partner.Finding
		Err      error
	}
	// SaveSetup saves the app id in the wizard's config.
	SaveSetup struct{ AppID string }
	// SetupSaved answers SaveSetup.
	SetupSaved struct {
		Path string
		Err  error
	}
)

func (ReadSetup) isEffect()    {}
func (ApplySetup) isEffect()   {}
func (ApplySetup) writes()     {}
func (VerifySetup) isEffect()  {}
func (SaveSetup) isEffect()    {}
func (SaveSetup) writes()      {}
func (SetupRead) isEvent()     {}
func (SetupApplied) isEvent()  {}
func (SetupVerified) isEvent() {}
func (SetupSaved) isEvent()    {}
func (p *SetupStep) ID() ID    { return Setup }
func (p *SetupStep) Title() string {
	return "Onboarding app"
}
func (p *SetupStep) Status() Status { return p.status }

// setup phases.
const (
	setupReading = iota
	setupAsking
	setupApplying
	setupVerifying
	setupSaving
	setupRecording
)

// SetupDetail is the step's payload for the front-ends.
type SetupDetail struct {
	AppID    string
	Findings []partner.Finding
}

// SetupStep plans, confirms, applies and verifies setup's changes.
type SetupStep struct {
	status   Status
	fail     *Failure
	phase    int
	appID    string
	st       partner.SetupState
	findings []partner.Finding
	queue    []checks.Change
	done     []string
	saved    string
	// failAfterReceipt is shown once the receipt of what was done is written.
	failAfterReceipt *Failure
}

// NewSetupStep builds the step.
func NewSetupStep() *SetupStep { return &SetupStep{status: StatusPending} }

func (p *SetupStep) Enter(s *Session) []Effect {
	p.status, p.fail, p.phase = StatusRunning, nil, setupReading
	p.queue, p.done, p.saved, p.failAfterReceipt, p.findings = nil, nil, "", nil, nil
	p.appID = s.Opt.SetupAppID
	s.Plan, s.Applied, s.DeclinedChanges = nil, nil, nil
	return []Effect{ReadSetup{AppID: p.appID}}
}

func (p *SetupStep) Handle(s *Session, ev Event) []Effect {
	switch ev := ev.(type) {
	case SetupRead:
		if p.phase != setupReading {
			return nil
		}
		return p.plan(s, ev)
	case Answered:
		if p.phase != setupAsking || ev.QuestionID != QConfirmSetup {
			return nil
		}
		if !yes(ev.Value) {
			p.status, p.fail = StatusFailed, declinePlan(s, "partner setup")
			return nil
		}
		p.phase, p.status = setupApplying, StatusRunning
		p.queue = append([]checks.Change{}, s.Plan...)
		return p.next(s)
	case SetupApplied:
		if p.phase != setupApplying || len(p.queue) == 0 {
			return nil
		}
		c := p.queue[0]
		if ev.Err != nil {
			return p.record(s, &Failure{Kind: FailError, Err: ev.Err,
				Message: fmt.Sprintf("%s failed: %v.", c.Summary, ev.Err),
				Remedy:  "What was done before is listed; running partner setup again finishes the rest."})
		}
		if ev.AppID != "" {
			p.appID = ev.AppID
		}
		p.queue = p.queue[1:]
		s.Applied = append(s.Applied, ev.Applied)
		p.done = append(p.done, ev.Applied.Change.Summary)
		return p.next(s)
	case SetupVerified:
		if p.phase != setupVerifying {
			return nil
		}
		p.findings = ev.Findings
		var f *Failure
		if ev.Err != nil {
			f = &Failure{Kind: FailError, Err: ev.Err, Message: "Reading the app back failed: " + ev.Err.Error() + ".", Remedy: "Run partner setup again; it checks and finishes."}
		} else if probs := partner.Problems(ev.Findings); len(probs) > 0 {
			f = &Failure{Kind: FailError, Message: "Verification failed: " + strings.Join(probs, "; ") + ".",
				Remedy: "Run partner setup again (directory changes can take a minute to replicate)."}
		}
		if f != nil {
			return p.record(s, f)
		}
		return p.save(s)
	case SetupSaved:
		if p.phase != setupSaving {
			return nil
		}
		if ev.Err != nil {
			return p.record(s, &Failure{Kind: FailError, Err: ev.Err, Message: "The app is ready but its id could not be saved: " + ev.Err.Error() + ".",
				Remedy: "Pass --client-id " + p.appID + " to the partner commands, or fix the state directory and run partner setup again."})
		}
		p.saved = ev.Path
		return p.record(s, nil)
	case ReceiptWritten:
		if p.phase != setupRecording {
			return nil
		}
		if ev.Err == nil {
			s.ReceiptPath, s.AuditPath = ev.Path, ev.AuditPath
		}
		if p.failAfterReceipt != nil {
			p.status, p.fail = StatusFailed, p.failAfterReceipt
			return nil
		}
		p.finish(s)
	}
	return nil
}

// plan folds the read into the plan; nothing to do goes straight to saving.
func (p *SetupStep) plan(s *Session, ev SetupRead) []Effect {
	if le := (*LockedError)(nil); errors.As(ev.Err, &le) {
		p.status = StatusFailed
		p.fail = &Failure{Kind: FailStopped, Err: ev.Err, Message: "Another partner setup is running for this partner tenant: " + le.Error() + ". Nothing was read or changed.",
			Remedy: "Let that run finish, then run partner setup again: it finds what that run did and does only what is left."}
		return nil
	}
	if ev.Err != nil {
		p.status = StatusFailed
		p.fail = &Failure{Kind: FailError, Err: ev.Err, Message: "Reading the partner tenant failed: " + ev.Err.Error() + ". Nothing was changed.", Remedy: "Retry."}
		return nil
	}
	p.st = ev.State
	if ev.State.App != nil {
		p.appID = ev.State.App.AppID
	}
	p.findings = ev.State.Validate()
	plan, err := partner.PlanSetup(ev.State)
	if err != nil {
		p.status = StatusFailed
		p.fail = &Failure{Kind: FailStopped, Err: err, Message: err.Error() + ". Nothing was changed."}
		switch err.(type) {
		case *partner.ErrAppNotFound:
			p.fail.Remedy = "Check --client-id (the Application (client) ID of an app registered in the partner tenant), or run partner setup without --client-id to create the app."
		case *partner.ErrAmbiguous:
			p.fail.Remedy = "Pass --client-id with the one to use (partner setup validates it)."
		}
		return nil
	}
	s.Plan = plan
	if len(plan) == 0 {
		p.phase = setupVerifying
		return p.save(s)
	}
	if _, ok := ev.State.CanWrite(); !ok {
		p.status = StatusFailed
		p.fail = &Failure{Kind: FailStopped, Final: true,
			Message: fmt.Sprintf("%s needs changes, and %s holds none of the roles that may make them (Global Administrator, Cloud Application Administrator or Application Administrator, active). Nothing was changed.",
				nameOr(p.appID, "The onboarding app"), s.Who()),
			Remedy: "Sign in as a partner Global Administrator or Cloud Application Administrator (activate the role in PIM first), or hand this plan to one:\n" +
				strings.Join(planLines(plan), "\n")}
		return nil
	}
	if s.Opt.DryRun {
		// Nothing is asked: the engine ends the run before the first
		// change, with the plan in the session.
		p.phase, p.queue = setupApplying, append([]checks.Change{}, plan...)
		return p.next(s)
	}
	details := planLines(plan)
	for _, pr := range partner.Problems(p.findings) {
		details = append(details, "found: "+pr)
	}
	p.phase, p.status = setupAsking, StatusWaiting
	target := "a new onboarding app"
	if p.appID != "" {
		target = "the onboarding app " + p.appID
	}
	return []Effect{Ask{Q: Question{ID: QConfirmSetup, Kind: AskConfirm, Flag: "--yes",
		Prompt:  fmt.Sprintf("Apply %s to %s in the partner tenant %s?", plural(len(plan), "this change", "these %d changes"), target, s.TenantID),
		Details: details, Default: "no"}}}
}

func nameOr(s, def string) string {
	if s == "" {
		return def
	}
	return "The onboarding app " + s
}

func (p *SetupStep) next(s *Session) []Effect {
	if len(p.queue) > 0 {
		c := p.queue[0]
		// The journal names the app each change was for (its resume read).
		args := map[string]string{}
		for k, v := range c.Args {
			args[k] = v
		}
		if p.appID != "" {
			args["app_id"] = p.appID
		}
		c.Args = args
		p.queue[0] = c
		return []Effect{ApplySetup{Change: c}}
	}
	p.phase = setupVerifying
	return []Effect{VerifySetup{AppID: p.appID}}
}

func (p *SetupStep) save(s *Session) []Effect {
	p.phase = setupSaving
	if s.Opt.DryRun {
		// Nothing to change and nothing saved: the dry run's end.
		return p.record(s, nil)
	}
	return []Effect{SaveSetup{AppID: p.appID}}
}

// record writes the receipt of what was done, then ends with f.
func (p *SetupStep) record(s *Session, f *Failure) []Effect {
	if len(s.Applied) == 0 {
		if f != nil {
			p.status, p.fail = StatusFailed, f
			return nil
		}
		p.finish(s)
		return nil
	}
	p.phase, p.failAfterReceipt = setupRecording, f
	return []Effect{WriteReceipt{}}
}

func (p *SetupStep) finish(s *Session) {
	p.status = StatusDone
	fields := map[string]any{"app_id": p.appID, "findings": p.findings, "done": p.done}
	if p.saved != "" {
		fields["config"] = p.saved
	}
	d := &Done{Outcome: "set-up", Fields: fields}
	if len(s.Applied) == 0 {
		d.Outcome = "nothing-to-do"
		d.Headline = fmt.Sprintf("The onboarding app %s is ready: multi-tenant, public client flows on, every permission declared and consented in the partner tenant. Nothing to change.", p.appID)
	} else {
		d.Headline = fmt.Sprintf("The onboarding app %s is set up and verified in the partner tenant %s.", p.appID, s.TenantID)
	}
	fields["message"] = d.Headline
	for _, l := range p.done {
		d.Lines = append(d.Lines, "done: "+l)
	}
	if p.saved != "" {
		d.Lines = append(d.Lines, "saved in "+p.saved+": the partner commands use this app without --client-id")
	}
	if s.ReceiptPath != "" {
		d.Lines = append(d.Lines, "receipt: "+s.ReceiptPath)
	}
	d.Lines = append(d.Lines, "next: itdr-onboard partner sign-in, then itdr-onboard batch plan")
	s.Done = d
}

func (p *SetupStep) Snapshot(s *Session) Snapshot {
	det := SetupDetail{AppID: p.appID, Findings: p.findings}
	snap := Snapshot{ID: Setup, Title: p.Title(), Status: p.status, Fail: p.fail, Detail: &det}
	if p.phase >= setupApplying && p.status != StatusDone {
		running := ""
		if p.phase == setupApplying && len(p.queue) > 0 {
			running = p.queue[0].ID
		}
		snap.Items = planItems(s, running)
	}
	switch p.phase {
	case setupReading:
		snap.Line = "reading the onboarding app, its service principal and consent in the partner tenant"
	case setupAsking:
		snap.Line = "the plan waits for your answer"
	case setupApplying:
		snap.Line = fmt.Sprintf("applying: %d of %d done", len(s.Applied), len(s.Plan))
	case setupVerifying:
		snap.Line = "reading back"
	case setupSaving:
		snap.Line = "saving the app id"
	case setupRecording:
		snap.Line = "writing the receipt"
	}
	if p.status == StatusDone {
		snap.Line = fmt.Sprintf("app %s: %d change(s) applied, verified", p.appID, len(s.Applied))
		if len(s.Plan) == 0 {
			snap.Line = fmt.Sprintf("app %s: valid, nothing to change", p.appID)
		}
	}
	if p.status == StatusFailed {
		snap.Next = retryUnlessFinal(p.fail)
	}
	return snap
}
