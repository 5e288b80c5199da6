package steps

import (
	"fmt"
	"sort"
	"strings"

	"itdr-onboard/checks"
)

// Question ids of the role-fix step.
const (
	QConfirmPlan  = "roles.confirm"
	QConfirmAudit = "roles.audit"
)

// auditCheckID is the check whose fix (turning on unified audit logging)
// gets its own question: the technician may decline it and go on.
const auditCheckID = "exo.audit-log"

// PlanDetail is the role-fix screen's payload.
type PlanDetail struct {
	Plan      []checks.Change
	Applied   []checks.Applied
	Declined  []checks.Change
	Applying  string // a change id being applied (the first of its wave)
	Verifying bool
	DryRun    bool
}

// RolesStep runs the role checks, shows the plan, asks, applies in
// dependency order, verifies by re-running the checks, writes the receipt.
// Changes of the same Order depend on nothing of each other (different Exchange
// roles, the service principal beside the Exchange roles, different directory
// roles): each Order is one wave, applied side by side; the next wave starts
// when the whole wave has answered, and none starts after a failure.
type RolesStep struct {
	infos   []CheckInfo
	set     checkSet
	status  Status
	fail    *Failure
	phase   rolesPhase
	queue   []checks.Change          // not started yet, in plan order
	flight  map[string]checks.Change // the wave being applied, by id
	failed  *Failure                 // the wave's first failure, reported when it ends
	d       PlanDetail
	touched map[string]bool // checks whose changes were applied
}

type rolesPhase int

const (
	rolesChecking rolesPhase = iota
	rolesAsking
	rolesApplying
	rolesVerifying
	rolesReceipt
)

// NewRolesStep builds the step from the registered role checks.
func NewRolesStep(all []CheckInfo) *RolesStep {
	p := &RolesStep{status: StatusPending}
	for _, in := range all {
		if in.Step == checks.StepRoles {
			p.infos = append(p.infos, in)
		}
	}
	return p
}

func (p *RolesStep) ID() ID         { return Roles }
func (p *RolesStep) Title() string  { return "Role fixes" }
func (p *RolesStep) Status() Status { return p.status }

func (p *RolesStep) Enter(s *Session) []Effect {
	s.SPReady = false
	p.status, p.fail, p.phase = StatusRunning, nil, rolesChecking
	p.d = PlanDetail{DryRun: s.Opt.DryRun}
	p.touched = map[string]bool{}
	effs := p.set.start(p.infos)
	if len(effs) == 0 {
		return p.plan(s)
	}
	return effs
}

// planFrom collects every planned change of every check, in dependency order.
func planFrom(s *Session) []checks.Change {
	var plan []checks.Change
	for _, r := range s.Results {
		if r.Outcome == checks.Fail || r.Outcome == checks.Warn {
			plan = append(plan, r.Changes...)
		}
	}
	sort.SliceStable(plan, func(i, j int) bool {
		if plan[i].Order != plan[j].Order {
			return plan[i].Order < plan[j].Order
		}
		return plan[i].ID < plan[j].ID
	})
	return plan
}

func (p *RolesStep) plan(s *Session) []Effect {
	if b := blocking(s, p.infos); len(b) > 0 {
		p.status = StatusFailed
		var msgs []string
		for _, in := range b {
			msgs = append(msgs, in.Title+": "+s.Results[in.ID].Summary)
		}
		p.fail = &Failure{Kind: FailError, Message: "A role check could not be completed: " + strings.Join(msgs, "; "),
			Remedy: "Retry; the check's own remedy is shown on its row."}
		return nil
	}
	plan := planFrom(s)
	s.Plan = plan
	p.d.Plan = plan
	if len(plan) == 0 {
		p.status = StatusDone
		return nil
	}
	if s.Opt.DryRun {
		// Nothing is asked or applied; the mapping step adds what consent
		// and the mapping would change, then the run ends.
		p.status = StatusDone
		return nil
	}
	var roleChanges, audit []checks.Change
	for _, c := range plan {
		if c.CheckID == auditCheckID {
			audit = append(audit, c)
		} else {
			roleChanges = append(roleChanges, c)
		}
	}
	p.phase = rolesAsking
	p.status = StatusWaiting
	if len(roleChanges) > 0 {
		return []Effect{Ask{Q: Question{ID: QConfirmPlan, Kind: AskConfirm, Flag: "--yes",
			Prompt:  fmt.Sprintf("Apply %s to the tenant?", plural(len(roleChanges), "this change", "these %d changes")),
			Details: planLines(roleChanges), Default: "no", ChangeIDs: changeIDs(roleChanges)}}}
	}
	return p.askAudit(s, audit)
}

func (p *RolesStep) askAudit(s *Session, audit []checks.Change) []Effect {
	if len(audit) == 0 {
		return p.startApply(s)
	}
	return []Effect{Ask{Q: Question{ID: QConfirmAudit, Kind: AskConfirm, Flag: "--yes",
		Prompt:  "Turn on unified audit logging? Without it the platform receives no data.",
		Details: planLines(audit), Default: "yes", ChangeIDs: changeIDs(audit)}}}
}

func changeIDs(cs []checks.Change) []string {
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

func planLines(cs []checks.Change) []string {
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		line := c.Summary + "  ⟶  " + c.Call
		if c.Warning != "" {
			line += "  (" + c.Warning + ")"
		}
		out = append(out, line)
	}
	return out
}

func (p *RolesStep) startApply(s *Session) []Effect {
	p.queue, p.flight, p.failed = nil, nil, nil
	declined := map[string]bool{}
	for _, c := range p.d.Declined {
		declined[c.ID] = true
	}
	for _, c := range p.d.Plan {
		if !declined[c.ID] {
			p.queue = append(p.queue, c)
		}
	}
	p.phase = rolesApplying
	p.status = StatusRunning
	return p.next(s)
}

// createsSP is the fix that creates the platform's service principal.
func createsSP(c checks.Change) bool {
	return c.CheckID == checks.IDPlatformSPRoles && c.Order == checks.OrderCreateSP
}

func (p *RolesStep) next(s *Session) []Effect {
	if !s.SPReady && p.failed == nil && len(s.Deferred) == 0 {
		// The accepted plan's service principal exists now (found, or
		// created by an earlier wave): consent may start (SPReady).
		ready := true
		for _, c := range p.queue {
			ready = ready && !createsSP(c)
		}
		s.SPReady = ready
	}
	if len(p.queue) == 0 {
		return p.verify()
	}
	order := p.queue[0].Order
	p.flight = map[string]checks.Change{}
	p.d.Applying = p.queue[0].ID
	var effs []Effect
	for len(p.queue) > 0 && p.queue[0].Order == order {
		c := p.queue[0]
		p.queue = p.queue[1:]
		p.flight[c.ID] = c
		effs = append(effs, ApplyChange{Change: c})
	}
	return effs
}

func (p *RolesStep) verify() []Effect {
	p.d.Applying = ""
	p.phase = rolesVerifying
	p.d.Verifying = true
	var infos []CheckInfo
	for id := range p.touched {
		infos = append(infos, CheckInfo{ID: id})
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].ID < infos[j].ID })
	p.set = checkSet{}
	effs := p.set.start(infos)
	if len(effs) == 0 {
		return p.receipt()
	}
	for i, e := range effs {
		if rc, ok := e.(RunCheck); ok {
			rc.Verify = true
			effs[i] = rc
		}
	}
	return effs
}

func (p *RolesStep) receipt() []Effect {
	p.d.Verifying = false
	p.phase = rolesReceipt
	return []Effect{WriteReceipt{}}
}

func (p *RolesStep) Handle(s *Session, ev Event) []Effect {
	switch ev := ev.(type) {
	case CheckDone:
		if !p.set.done(s, ev) || !p.set.complete() {
			return nil
		}
		if p.phase == rolesChecking {
			return p.plan(s)
		}
		// Verification: every touched check must now pass.
		var still []string
		for id := range p.touched {
			if r := s.Results[id]; r.Outcome != checks.Pass {
				still = append(still, s.Titles[id]+": "+r.Summary)
			}
		}
		if len(still) > 0 {
			sort.Strings(still)
			p.status = StatusFailed
			p.fail = &Failure{Kind: FailError, Message: "The changes were applied but the checks still fail: " + strings.Join(still, "; "),
				Remedy: "Retry in a few minutes (Exchange can take time to reflect changes); the receipt lists what was applied."}
			return []Effect{WriteReceipt{}}
		}
		return p.receipt()
	case Answered:
		switch ev.QuestionID {
		case QConfirmPlan:
			if !yes(ev.Value) {
				s.Declined = true
				p.status = StatusFailed
				p.fail = &Failure{Kind: FailStopped, Message: "The role-fix plan was declined; nothing was changed.",
					Remedy: "Make the changes yourself, or run again and accept the plan."}
				return nil
			}
			var audit []checks.Change
			for _, c := range p.d.Plan {
				if c.CheckID == auditCheckID {
					audit = append(audit, c)
				}
			}
			return p.askAudit(s, audit)
		case QConfirmAudit:
			if !yes(ev.Value) {
				for _, c := range p.d.Plan {
					if c.CheckID == auditCheckID {
						p.d.Declined = append(p.d.Declined, c)
						s.DeclinedChanges = append(s.DeclinedChanges, c)
					}
				}
			}
			return p.startApply(s)
		}
	case ChangeApplied:
		id := ev.Applied.Change.ID
		if id == "" && len(p.flight) == 1 {
			for only := range p.flight {
				id = only // an event that does not name its change
			}
		}
		c, ok := p.flight[id]
		if p.phase != rolesApplying || !ok {
			return nil
		}
		delete(p.flight, c.ID)
		if ev.Err != nil {
			if !p.deferToConsent(s, c, ev.Err) && p.failed == nil {
				p.failed = &Failure{Kind: FailError,
					Message: fmt.Sprintf("Applying %q failed: %v", c.Summary, ev.Err),
					Remedy:  "Nothing planned after it was started; the receipt lists what was applied. Retry re-checks and applies only what is still missing.",
					Err:     ev.Err}
			}
		} else {
			s.Applied = append(s.Applied, ev.Applied)
			p.d.Applied = append(p.d.Applied, ev.Applied)
			p.touched[ev.Applied.Change.CheckID] = true
		}
		if len(p.flight) > 0 {
			// The rest of the wave is still being applied.
			for id := range p.flight {
				p.d.Applying = id
				break
			}
			return nil
		}
		if p.failed != nil {
			p.status, p.fail, p.failed = StatusFailed, p.failed, nil
			return []Effect{WriteReceipt{}}
		}
		return p.next(s)
	case ReceiptWritten:
		if ev.Err == nil {
			s.ReceiptPath, s.AuditPath = ev.Path, ev.AuditPath
		}
		if p.status == StatusFailed {
			return nil
		}
		if ev.Err != nil {
			p.status = StatusFailed
			p.fail = &Failure{Kind: FailError, Message: "The changes were applied but the receipt could not be written: " + ev.Err.Error(),
				Remedy: "Check --state-dir is writable.", Err: ev.Err}
			return nil
		}
		p.status = StatusDone
	}
	return nil
}

// plural picks the singular text for 1 and the plural (with %d) otherwise.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return fmt.Sprintf(many, n)
}

func yes(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "y", "yes", "true", "1":
		return true
	}
	return false
}

func (p *RolesStep) Snapshot(s *Session) Snapshot {
	d := p.d
	snap := Snapshot{ID: Roles, Title: p.Title(), Status: p.status, Fail: p.fail, Detail: &d}
	tmp := checkSet{infos: p.infos, pending: p.set.pending}
	if p.phase != rolesChecking && p.phase != rolesVerifying {
		tmp.pending = nil
	}
	snap.Items = tmp.items(s)
	switch {
	case p.status == StatusFailed:
		snap.Next = retryUnlessFinal(p.fail)
	case p.phase == rolesChecking:
		snap.Line = "checking Exchange roles and the platform's service principal"
	case p.phase == rolesAsking:
		snap.Line = plural(len(d.Plan), "1 change", "%d changes") + " planned"
	case p.phase == rolesApplying:
		snap.Line = fmt.Sprintf("applying %d of %d", len(d.Applied)+1, len(d.Plan)-len(d.Declined))
	case p.phase == rolesVerifying:
		snap.Line = "verifying"
	case p.status == StatusDone && len(d.Plan) == 0:
		snap.Line = "nothing to change"
	case p.status == StatusDone && d.DryRun:
		snap.Line = "dry run: " + plural(len(d.Plan), "1 change", "%d changes") + " planned, none applied"
	case p.status == StatusDone:
		snap.Line = plural(len(d.Applied), "1 change", "%d changes") + " applied and verified"
	}
	return snap
}
