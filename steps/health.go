package steps

import (
	"fmt"
	"time"

	"itdr-onboard/platform"
)

// maxProbeErrors is how many failed health reads in a row end the wait.
const maxProbeErrors = 6

// HealthDetail is the health screen's payload.
type HealthDetail struct {
	Integration platform.Integration
	Started     time.Time // first probe
	Last        time.Time // last probe
	NextIn      time.Duration
	Probes      int
	LastErr     error
	Remedy      string // for an unhealthy reason
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
	status Status
	fail   *Failure
	d      HealthDetail
	errs   int
	next   time.Duration
}

// NewHealthStep builds the step.
func NewHealthStep() *HealthStep { return &HealthStep{status: StatusPending} }

func (p *HealthStep) ID() ID         { return Health }
func (p *HealthStep) Title() string  { return "Health" }
func (p *HealthStep) Status() Status { return p.status }

func (p *HealthStep) Enter(s *Session) []Effect {
	p.status, p.fail, p.errs, p.next = StatusRunning, nil, 0, 0
	p.d = HealthDetail{Integration: s.Integration}
	return []Effect{ProbeHealth{IntegrationID: s.Integration.ID}}
}

func (p *HealthStep) Handle(s *Session, ev Event) []Effect {
	switch ev := ev.(type) {
	case HealthProbed:
		if p.d.Started.IsZero() {
			p.d.Started = ev.At
		}
		p.d.Last = ev.At
		p.d.Probes++
		if ev.Err != nil {
			p.errs++
			p.d.LastErr = ev.Err
			if p.errs >= maxProbeErrors {
				p.status = StatusFailed
				p.fail = &Failure{Kind: FailError, Message: "Could not read the integration's health: " + ev.Err.Error(),
					Remedy: "The tenant is mapped; check later with: itdr-onboard status --tenant " + s.TenantID, Err: ev.Err}
				return nil
			}
			return p.again(s)
		}
		p.errs, p.d.LastErr = 0, nil
		p.d.Integration = ev.Integration
		s.Integration = ev.Integration
		p.d.Remedy = RemedyFor(ev.Integration.ReasonCode)
		if ev.Integration.Status == platform.StatusHealthy {
			s.Outcome = "healthy"
			p.d.NextIn = 0
			return []Effect{LoadSummary{}}
		}
		if s.Opt.Wait > 0 && ev.At.Sub(p.d.Started) >= s.Opt.Wait {
			return p.pending(s, fmt.Sprintf("The integration is still %s after waiting %s.", ev.Integration.Status, s.Opt.Wait))
		}
		return p.again(s)
	case SummaryLoaded:
		if ev.Err == nil {
			s.Billable, s.MFARegistered, s.MFATotal, s.HaveSummary = ev.Billable, ev.MFARegistered, ev.MFATotal, true
		}
		p.status = StatusDone
	case Detach:
		if p.status == StatusRunning {
			return p.pending(s, "Detached: the integration stays "+p.d.Integration.Status+" and keeps being checked by the platform.")
		}
	}
	return nil
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
	if s.Opt.Wait > 0 && p.d.Probes > 0 {
		left := s.Opt.Wait - p.d.Last.Sub(p.d.Started)
		if left < d {
			d = max(left, 0)
		}
	}
	p.d.NextIn = d
	return []Effect{ProbeHealth{IntegrationID: s.Integration.ID, After: d}}
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
	case p.status == StatusRunning:
		st := d.Integration.Status
		if st == "" {
			st = "checking"
		}
		snap.Line = "integration " + st
		snap.Next = []Option{OptDetach}
	}
	return snap
}
