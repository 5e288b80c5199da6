package steps

import (
	"fmt"
	"strings"

	"itdr-onboard/auth"
)

// Target is the step ID of TargetStep.
const Target ID = "tenant"

// TargetStep resolves --tenant (a GUID or a verified domain) to the
// tenant's id before anything else of a lifecycle flow or `check` runs.
// Without --tenant it is skipped (sign-in decides the tenant).
type TargetStep struct {
	status Status
	fail   *Failure
}

// NewTargetStep builds the step.
func NewTargetStep() *TargetStep { return &TargetStep{status: StatusPending} }

func (p *TargetStep) ID() ID         { return Target }
func (p *TargetStep) Title() string  { return "Tenant" }
func (p *TargetStep) Status() Status { return p.status }

func (p *TargetStep) Enter(s *Session) []Effect {
	p.fail = nil
	switch {
	case s.Opt.Tenant == "":
		p.status = StatusSkipped
		return nil
	case s.TenantID != "":
		p.status = StatusDone
		return nil
	case auth.IsGUID(s.Opt.Tenant):
		s.TenantID = strings.ToLower(s.Opt.Tenant)
		p.status = StatusDone
		return nil
	}
	p.status = StatusRunning
	return []Effect{ResolveTenant{Tenant: s.Opt.Tenant}}
}

func (p *TargetStep) Handle(s *Session, ev Event) []Effect {
	r, ok := ev.(TenantResolved)
	if !ok {
		return nil
	}
	if r.Err != nil {
		p.status = StatusFailed
		if ae := auth.Classify(r.Err); ae != nil && ae.Class != auth.ClassTenantNotFound && ae.Class != auth.ClassUnknown {
			p.fail = &Failure{Kind: FailError, Message: fmt.Sprintf("Could not look up tenant %q: %s", s.Opt.Tenant, ae.Message),
				Remedy: ae.Action, Err: r.Err}
			return nil
		}
		p.fail = &Failure{Kind: FailStopped, Message: fmt.Sprintf("Could not find tenant %q: %v", s.Opt.Tenant, r.Err),
			Remedy: "check --tenant (a tenant GUID or one of its verified domains)", Err: r.Err}
		return nil
	}
	if r.Info.ID == "" {
		p.status = StatusFailed
		p.fail = &Failure{Kind: FailUsage, Message: fmt.Sprintf("--tenant %s: the domain did not resolve to a tenant id", s.Opt.Tenant),
			Remedy: "pass the tenant's GUID or one of its verified domains"}
		return nil
	}
	s.TenantID, s.TenantCloud = r.Info.ID, r.Info.Cloud
	p.status = StatusDone
	return nil
}

func (p *TargetStep) Snapshot(s *Session) Snapshot {
	snap := Snapshot{ID: Target, Title: p.Title(), Status: p.status, Fail: p.fail}
	switch p.status {
	case StatusRunning:
		snap.Line = "looking up " + s.Opt.Tenant
	case StatusDone:
		snap.Line = "tenant " + s.TenantID
	}
	if p.status == StatusFailed {
		snap.Next = retryUnlessFinal(p.fail)
	}
	return snap
}
