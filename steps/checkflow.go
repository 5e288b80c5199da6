package steps

import (
	"fmt"
	"strings"
	"time"

	"itdr-onboard/checks"
)

// Checks is the step ID of CheckStep.
const Checks ID = "checks"

// CheckFlow is `check`: a read-only report of every registered check.
// The checks that need no sign-in run in the background while the
// technician signs in; the tenant checks run after. Nothing is changed.
var CheckFlow = Flow{Name: "check",
	Steps: func(_ Options, infos []CheckInfo) []Step {
		return []Step{NewTargetStep(), NewCheckStep(infos), NewSignInStep()}
	},
	Final: checkDone,
}

// CheckStep runs every check read-only: the before-sign-in phase in the
// background (the step pauses while sign-in runs), the tenant phase once
// signed in. It fails (exit 3) when a check failed; it never plans or
// applies a change.
type CheckStep struct {
	infos         []CheckInfo
	before        []CheckInfo
	tenant        []CheckInfo
	pending       map[string]bool
	tenantStarted bool
	status        Status
	fail          *Failure
}

// NewCheckStep builds the step over every registered check.
func NewCheckStep(infos []CheckInfo) *CheckStep {
	p := &CheckStep{infos: infos, status: StatusPending}
	for _, in := range infos {
		if in.Phase == checks.BeforeSignIn {
			p.before = append(p.before, in)
		} else {
			p.tenant = append(p.tenant, in)
		}
	}
	return p
}

func (p *CheckStep) ID() ID         { return Checks }
func (p *CheckStep) Title() string  { return "Checks" }
func (p *CheckStep) Status() Status { return p.status }

func (p *CheckStep) run(infos []CheckInfo) []Effect {
	effs := make([]Effect, 0, len(infos))
	for _, in := range infos {
		p.pending[in.ID] = true
		effs = append(effs, RunCheck{ID: in.ID})
	}
	return effs
}

func (p *CheckStep) Enter(s *Session) []Effect {
	p.fail, p.tenantStarted = nil, false
	p.pending = map[string]bool{}
	effs := p.run(p.before)
	if s.SignedIn {
		p.status = StatusRunning
		p.tenantStarted = true
		effs = append(effs, p.run(p.tenant)...)
		if len(effs) == 0 {
			p.finish(s)
		}
		return effs
	}
	// Sign-in starts now; these checks finish in the background.
	p.status = StatusPaused
	return effs
}

// Resume runs the tenant checks after sign-in.
func (p *CheckStep) Resume(s *Session) []Effect {
	p.status = StatusRunning
	p.tenantStarted = true
	effs := p.run(p.tenant)
	if len(p.pending) == 0 {
		p.finish(s)
	}
	return effs
}

func (p *CheckStep) Handle(s *Session, ev Event) []Effect {
	d, ok := ev.(CheckDone)
	if !ok || !p.pending[d.ID] {
		return nil
	}
	delete(p.pending, d.ID)
	s.record(d.ID, d.Result)
	if p.tenantStarted && len(p.pending) == 0 {
		p.finish(s)
	}
	return nil
}

// finish ends the step: failed (stopped for the technician) when a check
// failed, done otherwise.
func (p *CheckStep) finish(s *Session) {
	var failed []string
	planned := 0
	for _, in := range p.infos {
		r := s.Results[in.ID]
		if r.Outcome == checks.Fail {
			failed = append(failed, in.Title)
		}
		if r.Outcome == checks.Fail || r.Outcome == checks.Warn {
			planned += len(r.Changes)
		}
	}
	if len(failed) == 0 {
		p.status = StatusDone
		return
	}
	p.status = StatusFailed
	remedy := "See each failed check's remedy."
	if planned > 0 {
		remedy += fmt.Sprintf(" `itdr-onboard onboard` would make the %d change(s) listed (after asking).", planned)
	}
	p.fail = &Failure{Kind: FailStopped, Final: true,
		Message: fmt.Sprintf("%d of %d checks failed: %s.", len(failed), len(p.infos), strings.Join(failed, ", ")),
		Remedy:  remedy}
}

func (p *CheckStep) Snapshot(s *Session) Snapshot {
	snap := Snapshot{ID: Checks, Title: p.Title(), Status: p.status, Fail: p.fail}
	set := checkSet{infos: p.infos, pending: p.pending}
	snap.Items = set.items(s)
	for i := range snap.Items {
		if _, ok := s.Results[snap.Items[i].ID]; !ok && !snap.Items[i].Running {
			snap.Items[i].Summary = "runs after sign-in"
		}
	}
	switch {
	case p.status == StatusPaused && len(p.pending) > 0:
		snap.Line = "checking the platform account and this machine; the tenant checks run after sign-in"
	case p.status == StatusPaused:
		snap.Line = "platform checks done; the tenant checks run after sign-in"
	case p.status == StatusRunning:
		snap.Line = "checking the tenant (read-only)"
	case p.status == StatusDone:
		snap.Line = "every check ran; nothing was changed"
	}
	return snap
}

// Draining reports background checks still running: the report waits for
// them even when sign-in failed.
func (p *CheckStep) Draining() bool { return p.status == StatusPaused && len(p.pending) > 0 }

// Reset makes the step pending again (sign-in is retried after a failure).
func (p *CheckStep) Reset() { p.status = StatusPending }

// checkDone is the end of `check`: the report of every check in registry
// order. Checks that did not run (sign-in did not complete, the run was
// stopped) are reported as skipped, saying why.
func checkDone(e *Engine, infos []CheckInfo, now time.Time) *Done {
	s := e.Session()
	f := e.Failure()
	signInFailed := f != nil && e.Current().ID() != Checks
	notRun := "not checked: the run stopped"
	detail := ""
	switch {
	case signInFailed && e.Current().ID() == SignIn:
		notRun, detail = "not checked: sign-in did not complete", f.Message
	case signInFailed:
		notRun, detail = "not checked: "+strings.ToLower(e.Current().Title())+" failed", f.Message
	}
	rows := make([]checks.ReportRow, 0, len(infos))
	items := make([]Item, 0, len(infos))
	for _, in := range infos {
		r, ok := s.Results[in.ID]
		if !ok {
			r = checks.Result{Outcome: checks.Skip, Summary: notRun, Detail: detail}
		}
		row := checks.NewReportRow(nil, r)
		row.ID, row.Title, row.Step, row.Phase, row.Severity = in.ID, in.Title, in.Step, in.Phase, in.Severity
		rows = append(rows, row)
		items = append(items, Item{ID: in.ID, Label: in.Title, Outcome: row.Outcome, Summary: row.Summary, Remedy: row.Remedy})
	}
	name := s.Org.DisplayName
	if name == "" {
		name = s.Org.InitialDomain()
	}
	account := s.User.UserPrincipalName
	if account == "" {
		account = s.Account.Username
	}
	tenantID := s.TenantID
	if !s.SignedIn && s.Opt.Tenant == "" {
		tenantID = ""
	}
	rep := checks.Report{Tenant: name, TenantID: tenantID, Account: account, GeneratedAt: now.UTC(), Checks: rows}
	rep.Outcome = checks.Worst(rows...)
	var failed, warned, skipped, planned int
	for _, r := range rows {
		switch r.Outcome {
		case checks.Fail:
			failed++
		case checks.Warn:
			warned++
		case checks.Skip:
			skipped++
		}
		planned += len(r.Changes)
	}
	d := &Done{Outcome: "checked", Report: &rep, Items: items, Fields: map[string]any{"report": rep}}
	switch {
	case signInFailed:
		d.Headline = fmt.Sprintf("Incomplete: %d of %d checks ran; the other %d did not (%s).", len(rows)-skipped, len(rows), skipped, f.Message)
	case failed > 0:
		d.Headline = fmt.Sprintf("%d of %d checks failed.", failed, len(rows))
	default:
		d.Headline = fmt.Sprintf("All %d checks passed.", len(rows)-skipped-warned)
	}
	if warned > 0 || skipped > 0 {
		d.Lines = append(d.Lines, fmt.Sprintf("%d warning(s), %d skipped", warned, skipped))
	}
	if planned > 0 {
		d.Lines = append(d.Lines, fmt.Sprintf("`itdr-onboard onboard` would make %d change(s) (after asking).", planned))
	}
	d.Lines = append(d.Lines, "Nothing in the tenant was changed: check is read-only.")
	return d
}
