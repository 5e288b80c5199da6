package steps

import (
	"errors"
	"fmt"
	"time"

	"itdr-onboard/checks"
	"itdr-onboard/platform"
	"itdr-onboard/ui/text"
)

// Bounds of the health wait (README "Exit codes", docs/architecture.md).
const (
	// maxProbeErrors is how many failed health reads in a row end the wait.
	maxProbeErrors = 8
	// OutageLimit: failed health reads for this long in a row end the wait
	// with exit 4 (the tenant is mapped; check later). With the first read
	// and the last (each at most ProbeTimeout) and the retry delay before
	// the last (at most ErrorRetryMax), the wait ends at most OutageBound
	// after the first failed read began.
	OutageLimit = 2 * time.Minute
	// ErrorRetryMax caps the delay before re-reading after a failed read.
	ErrorRetryMax = 30 * time.Second
	// ProbeTimeout bounds one health read (the executor enforces it).
	ProbeTimeout = 45 * time.Second
	// OutageBound is the documented upper bound of a platform outage
	// during the health wait, from the first failed read to exit 4.
	OutageBound = ProbeTimeout + OutageLimit + ErrorRetryMax + ProbeTimeout
	// MaxHealthWait bounds the health wait when --wait is 0: the platform
	// says first data can take up to 24 hours.
	MaxHealthWait = 24 * time.Hour
)

// QHealthAudit is the health step's one offer to turn on unified audit
// logging when the platform says it is off.
const QHealthAudit = "health.audit"

// AuditBlocked is what the health step says, once, when the platform
// reports unified audit logging off.
const AuditBlocked = "Health cannot turn healthy until unified audit logging is on."

// HealthDetail is the health screen's payload.
type HealthDetail struct {
	Integration platform.Integration
	Started     time.Time // first probe
	Last        time.Time // last probe
	NextIn      time.Duration
	Probes      int
	LastErr     error
	Remedy      string // for an unhealthy reason
	// Blocked says, once, why health cannot turn healthy (audit logging off).
	Blocked string
	// AuditEnabledAt is when this run turned on unified audit logging
	// (Microsoft: up to 60 minutes to take effect).
	AuditEnabledAt time.Time
	// ErrSince is the first failed read of the current run of failures.
	ErrSince time.Time
	// Ladder is the evidence ladder: rungs 1–5, each waiting, proven at a
	// time, or not provable (and why).
	Ladder []LadderRung
	// Proven says exactly which rungs are proven.
	Proven string
}

// Remedies for the platform's reason codes.
var reasonRemedy = map[string]string{
	"audit_log_disabled":     "Turn on unified audit logging (Set-AdminAuditLogConfig -UnifiedAuditLogIngestionEnabled $true, or Purview → Audit → Start recording); it can take up to 60 minutes to take effect.",
	"consent_missing":        "Grant the platform's permissions again: itdr-onboard reauthorize --tenant <tenant>.",
	"consent_revoked":        "Consent was revoked in the tenant: itdr-onboard reauthorize --tenant <tenant>.",
	"roles_missing":          "The platform's service principal lost an Entra role: run itdr-onboard onboard again to re-apply the role fixes.",
	"exchange_roles_missing": "Organization Management lost a role: run itdr-onboard onboard again to re-apply the role fixes.",
	"no_exchange_licence":    "The tenant needs an Exchange Online licence with a mailbox plan.",
	"waiting_for_first_data": "Nothing to do: the first audit data can take up to 24 hours to arrive.",
}

// RemedyFor returns the remedy text for a reason code.
func RemedyFor(code string) string { return reasonRemedy[code] }

// HealthStep polls the integration until Healthy, with back-off, honest
// ETAs, and a detach.
type HealthStep struct {
	status     Status
	fail       *Failure
	d          HealthDetail
	errs       int
	next       time.Duration
	auditAsked bool
	applying   bool
	canary     checks.Canary
	inflight   int      // rung probes of the current cycle
	queue      []string // rungs still to look at in this cycle
}

// NewHealthStep builds the step.
func NewHealthStep() *HealthStep { return &HealthStep{status: StatusPending} }

func (p *HealthStep) ID() ID         { return Health }
func (p *HealthStep) Title() string  { return "Health" }
func (p *HealthStep) Status() Status { return p.status }

func (p *HealthStep) Enter(s *Session) []Effect {
	p.status, p.fail, p.errs, p.next = StatusRunning, nil, 0, 0
	p.auditAsked, p.applying = false, false
	p.d = HealthDetail{Integration: s.Integration, AuditEnabledAt: auditEnabledAt(s), Ladder: NewLadder()}
	p.canary = CanaryFrom(s)
	if !s.Opt.Evidence {
		for _, id := range waitingRungs(p.d.Ladder) {
			setRung(p.d.Ladder, id, time.Time{}, checks.RungResult{State: checks.RungCannot, Summary: "not looked at in this run"}, time.Time{})
		}
	}
	if at := s.Integration.CreatedAt; !at.IsZero() {
		setRung(p.d.Ladder, checks.RungConfigured, at, checks.RungResult{State: checks.RungProven,
			Summary: "consent, roles and the mapping were verified by the earlier steps"}, at)
	}
	p.sync(s)
	return p.cycle(0)
}

// cycle is one poll round: first a look at each waiting rung (2–4), then,
// once they answered, the platform's status (rung 5) — so a round shows
// the rungs in the order they can be proven.
// The rungs are looked at one after the other, in rung order, so rungs
// that become provable together are proven in order.
func (p *HealthStep) cycle(after time.Duration) []Effect {
	p.queue = waitingRungs(p.d.Ladder)
	return p.nextInCycle(after)
}

func (p *HealthStep) nextInCycle(after time.Duration) []Effect {
	if len(p.queue) == 0 {
		p.inflight = 0
		return []Effect{ProbeHealth{IntegrationID: p.d.Integration.ID, After: after}}
	}
	id := p.queue[0]
	p.queue = p.queue[1:]
	p.inflight = 1
	return []Effect{ProbeRung{ID: id, Canary: p.canary, After: after}}
}

func (p *HealthStep) provenCount() int {
	n := 0
	for _, r := range p.d.Ladder {
		if r.Proven() {
			n++
		}
	}
	return n
}

func (p *HealthStep) sync(s *Session) {
	p.d.Proven = ProvenLine(p.d.Ladder)
	s.Ladder = append(s.Ladder[:0:0], p.d.Ladder...)
}

func (p *HealthStep) Handle(s *Session, ev Event) []Effect {
	switch ev := ev.(type) {
	case RungProbed:
		if p.d.Started.IsZero() {
			p.d.Started = ev.At
		}
		if p.d.Ladder[0].ProvenAt.IsZero() {
			setRung(p.d.Ladder, checks.RungConfigured, ev.At, checks.RungResult{State: checks.RungProven,
				Summary: "consent, roles and the mapping were verified by the earlier steps"}, ev.At)
		}
		was := p.provenCount()
		setRung(p.d.Ladder, ev.ID, ev.At, ev.Result, p.d.Started)
		p.sync(s)
		var effs []Effect
		if p.provenCount() > was {
			effs = append(effs, p.writeEvidence(s)) // the receipt records when each rung was proven
		}
		if p.inflight > 0 {
			p.inflight--
		}
		if p.inflight == 0 && p.status == StatusRunning {
			effs = append(effs, p.nextInCycle(0)...)
		}
		return effs
	case HealthProbed:
		if p.d.Started.IsZero() {
			p.d.Started = ev.At
		}
		if p.d.Ladder[0].ProvenAt.IsZero() {
			setRung(p.d.Ladder, checks.RungConfigured, ev.At, checks.RungResult{State: checks.RungProven,
				Summary: "consent, roles and the mapping were verified by the earlier steps"}, ev.At)
		}
		p.d.Last = ev.At
		p.d.Probes++
		if ev.Err != nil {
			p.errs++
			p.d.LastErr = ev.Err
			if p.d.ErrSince.IsZero() {
				p.d.ErrSince = ev.At
			}
			if p.errs >= maxProbeErrors || ev.At.Sub(p.d.ErrSince) >= OutageLimit {
				return p.outage(s, ev)
			}
			return p.retryAfterError(s)
		}
		p.errs, p.d.LastErr, p.d.ErrSince = 0, nil, time.Time{}
		p.d.Integration = ev.Integration
		s.Integration = ev.Integration
		platformRung(p.d.Ladder, ev.At, ev.Integration, p.d.Started)
		p.sync(s)
		p.d.Remedy = RemedyFor(ev.Integration.ReasonCode)
		if ev.Integration.ReasonCode == "audit_log_disabled" {
			if p.d.AuditEnabledAt.IsZero() {
				return p.auditOff(s)
			}
			p.d.Remedy = auditTurnedOn(p.d.AuditEnabledAt)
		}
		if ev.Integration.Status == platform.StatusHealthy {
			s.Outcome = "healthy"
			p.d.NextIn = 0
			return []Effect{p.writeEvidence(s), LoadSummary{}}
		}
		if w := p.waitBound(s); ev.At.Sub(p.d.Started) >= w {
			msg := fmt.Sprintf("The integration is still %s after waiting %s.", ev.Integration.Status, w)
			if w < time.Second {
				// One health read (a customer run: the batch watches health).
				msg = fmt.Sprintf("The integration is %s at its first health read.", ev.Integration.Status)
			}
			return p.pending(s, msg)
		}
		return p.again(s)
	case Answered:
		if ev.QuestionID != QHealthAudit || p.status != StatusWaiting {
			return nil
		}
		if !yes(ev.Value) {
			return p.stopAuditOff(s, "")
		}
		p.status, p.applying = StatusRunning, true
		return []Effect{ApplyChange{Change: auditChange(s)}}
	case ChangeApplied:
		if !p.applying {
			return nil
		}
		p.applying = false
		if ev.Err != nil {
			return p.stopAuditOff(s, "Turning on unified audit logging failed: "+ev.Err.Error())
		}
		s.Applied = append(s.Applied, ev.Applied)
		p.d.AuditEnabledAt = ev.Applied.At
		p.d.Remedy = auditTurnedOn(ev.Applied.At)
		return append([]Effect{p.writeEvidence(s)}, p.again(s)...)
	case ReceiptWritten:
		if ev.Err == nil && ev.Path != "" {
			s.ReceiptPath, s.AuditPath = ev.Path, ev.AuditPath
		}
	case SummaryLoaded:
		if ev.Err == nil {
			s.Billable, s.MFARegistered, s.MFATotal, s.HaveSummary = ev.Billable, ev.MFARegistered, ev.MFATotal, true
		}
		p.status = StatusDone
	case Detach:
		if p.status == StatusRunning || p.status == StatusWaiting {
			return p.pending(s, "Detached: the integration stays "+p.d.Integration.Status+" and keeps being checked by the platform.")
		}
	}
	return nil
}

// auditTurnedOn is the remedy while audit logging this run turned on is
// not yet in effect.
func auditTurnedOn(at time.Time) string {
	return "Unified audit logging was turned on at " + text.Clock(at, at) +
		"; Microsoft says it can take up to 60 minutes to take effect. Nothing else to do."
}

// waitBound is --wait, or MaxHealthWait when --wait is 0.
func (p *HealthStep) waitBound(s *Session) time.Duration {
	if s.Opt.Wait > 0 {
		return s.Opt.Wait
	}
	return MaxHealthWait
}

// auditEnabledAt is when this run turned on unified audit logging (zero
// when it did not).
func auditEnabledAt(s *Session) time.Time {
	for _, a := range s.Applied {
		if a.Change.CheckID == auditCheckID {
			return a.At
		}
	}
	return time.Time{}
}

// auditChange is the change that turns on unified audit logging: the one
// the audit check planned (and the technician declined), or its equivalent
// when the check found it on and it was turned off since.
func auditChange(s *Session) checks.Change {
	for _, c := range s.DeclinedChanges {
		if c.CheckID == auditCheckID {
			return c
		}
	}
	for _, c := range s.Results[auditCheckID].Changes {
		return c
	}
	return checks.Change{ID: auditCheckID + "/enable", CheckID: auditCheckID, Order: checks.OrderAuditLog,
		Summary: "Turn on unified audit log ingestion", Call: "Set-AdminAuditLogConfig -UnifiedAuditLogIngestionEnabled $true",
		Warning: "can take up to 60 minutes to take effect"}
}

// auditOff says once that health cannot turn healthy while audit logging
// is off and offers to turn it on now; a second report stops the wait.
func (p *HealthStep) auditOff(s *Session) []Effect {
	if p.auditAsked {
		return p.stopAuditOff(s, "")
	}
	p.auditAsked = true
	p.d.Blocked = AuditBlocked
	p.d.NextIn = 0
	p.status = StatusWaiting
	c := auditChange(s)
	return []Effect{Ask{Q: Question{ID: QHealthAudit, Kind: AskConfirm, Flag: "--yes", Default: "yes",
		Prompt:  "Turn on unified audit logging now? " + AuditBlocked,
		Details: planLines([]checks.Change{c})}}}
}

// stopAuditOff ends the wait (exit 4: the tenant is mapped) with the
// remedy and the status command.
func (p *HealthStep) stopAuditOff(s *Session, why string) []Effect {
	s.Outcome = p.d.Integration.Status
	p.status = StatusFailed
	p.d.NextIn = 0
	msg := AuditBlocked + " The tenant is mapped."
	if why != "" {
		msg = why + " " + msg
	}
	p.fail = &Failure{Kind: FailPending, Message: msg,
		Remedy: reasonRemedy["audit_log_disabled"] + "\nThen check with: itdr-onboard status --tenant " + s.TenantID}
	return []Effect{NewAttempt{}}
}

// outage ends the wait after failed reads: exit 4 when the platform is
// not answering (the tenant is mapped), exit 1 when it refuses.
func (p *HealthStep) outage(s *Session, ev HealthProbed) []Effect {
	p.status = StatusFailed
	p.d.NextIn = 0
	var pe *platform.Error
	if errors.As(ev.Err, &pe) && pe.Status >= 400 && pe.Status < 500 && pe.Status != 429 && pe.Status != 408 {
		// A refused read (the key revoked, the integration not visible to
		// it) will not answer differently on retry; the tenant is mapped, so
		// the outcome is "check later" (exit 4), naming what refused it.
		s.Outcome = "pending"
		remedy := "Check later with: itdr-onboard status --tenant " + s.TenantID
		if pe.Status == 401 || pe.Status == 403 {
			remedy = "Check that the platform API key (ITDR_API_KEY) is still valid and may read integrations, then: itdr-onboard status --tenant " + s.TenantID
		}
		p.fail = &Failure{Kind: FailPending, Err: ev.Err,
			Message: "The tenant is mapped, but the platform refused to show the integration's health: " + ev.Err.Error(),
			Remedy:  remedy}
		return nil
	}
	s.Outcome = "pending"
	p.fail = &Failure{Kind: FailPending, Err: ev.Err,
		Message: fmt.Sprintf("The platform did not answer for %s (%d reads in a row failed); the tenant is mapped.",
			ev.At.Sub(p.d.ErrSince).Round(time.Second), p.errs),
		Remedy: "Check later with: itdr-onboard status --tenant " + s.TenantID + " (last error: " + ev.Err.Error() + ")"}
	return []Effect{NewAttempt{}}
}

// retryAfterError re-reads soon after a failed read: PollBase doubling,
// at most ErrorRetryMax.
func (p *HealthStep) retryAfterError(s *Session) []Effect {
	d := s.Opt.PollBase
	for i := 1; i < p.errs && d < ErrorRetryMax; i++ {
		d *= 2
	}
	d = min(d, ErrorRetryMax)
	p.d.NextIn = d
	return []Effect{ProbeHealth{IntegrationID: s.Integration.ID, After: d}}
}

func (p *HealthStep) pending(s *Session, msg string) []Effect {
	s.Outcome = p.d.Integration.Status
	p.status = StatusFailed
	p.fail = &Failure{Kind: FailPending, Message: msg,
		Remedy: "Check later with: itdr-onboard status --tenant " + s.TenantID + " (data can take up to 24 hours to arrive)."}
	return []Effect{NewAttempt{}}
}

// again schedules the next probe: 5 s growing to 5 min.
func (p *HealthStep) again(s *Session) []Effect {
	if p.next == 0 {
		p.next = s.Opt.PollBase
	} else {
		p.next = min(p.next*2, s.Opt.PollMax)
	}
	d := p.next
	if p.d.Probes > 0 {
		left := p.waitBound(s) - p.d.Last.Sub(p.d.Started)
		if left < d {
			d = max(left, 0)
		}
	}
	p.d.NextIn = d
	return p.cycle(d)
}

// ETA is an honest estimate of the first data, from the platform's own
// estimate when it has one.
func (d HealthDetail) ETA() (time.Time, bool) {
	if d.Integration.ExpectedFirstDataAt != nil {
		return *d.Integration.ExpectedFirstDataAt, true
	}
	return time.Time{}, false
}

func (p *HealthStep) Snapshot(s *Session) Snapshot {
	d := p.d
	snap := Snapshot{ID: Health, Title: p.Title(), Status: p.status, Fail: p.fail, Detail: &d}
	switch {
	case p.status == StatusDone:
		snap.Line = "Healthy: data is flowing"
	case p.status == StatusFailed:
		if p.fail != nil && p.fail.Kind != FailPending {
			snap.Next = retryUnlessFinal(p.fail)
		}
	case p.status == StatusWaiting:
		snap.Line = d.Blocked
	case p.status == StatusRunning:
		st := d.Integration.Status
		if st == "" {
			st = "checking"
		}
		snap.Line = "integration " + st + "; evidence: " + d.Proven
		snap.Next = []Option{OptDetach}
	}
	return snap
}
