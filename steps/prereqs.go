package steps

import (
	"fmt"
	"strings"

	"itdr-onboard/checks"
)

// CheckInfo describes a registered check without running it.
type CheckInfo struct {
	ID       string
	Title    string
	Step     checks.StepID
	Phase    checks.Phase
	Severity checks.Severity
}

// Intents: technician actions delivered through Engine.Intent.
type (
	// UseBrowser switches sign-in to the browser.
	UseBrowser struct{}
	// NewCode asks for a fresh device code.
	NewCode struct{}
	// Detach leaves the health wait with the integration pending.
	Detach struct{}
	// PasteRedirect is the URL the browser ended on (browser sign-in over SSH).
	PasteRedirect struct{ URL string }
)

func (UseBrowser) isEvent()    {}
func (NewCode) isEvent()       {}
func (Detach) isEvent()        {}
func (PasteRedirect) isEvent() {}

// checkSet runs a set of checks and tracks their rows.
type checkSet struct {
	infos   []CheckInfo
	pending map[string]bool
}

func (c *checkSet) start(infos []CheckInfo) []Effect {
	c.infos = infos
	c.pending = map[string]bool{}
	effs := make([]Effect, 0, len(infos))
	for _, in := range infos {
		c.pending[in.ID] = true
		effs = append(effs, RunCheck{ID: in.ID})
	}
	return effs
}

// done folds a CheckDone; it reports whether the event belonged to the set.
func (c *checkSet) done(s *Session, ev CheckDone) bool {
	if !c.pending[ev.ID] {
		return false
	}
	delete(c.pending, ev.ID)
	s.record(ev.ID, ev.Result)
	return true
}

func (c *checkSet) complete() bool { return len(c.pending) == 0 }

func (c *checkSet) items(s *Session) []Item {
	items := make([]Item, 0, len(c.infos))
	for _, in := range c.infos {
		it := Item{ID: in.ID, Label: in.Title}
		if c.pending[in.ID] {
			it.Running = true
		} else if r, ok := s.Results[in.ID]; ok {
			it.Outcome, it.Summary, it.Remedy = r.Outcome, r.Summary, r.Remedy
		}
		items = append(items, it)
	}
	return items
}

// blocking returns the required checks that failed and that no planned
// change can repair.
func blocking(s *Session, infos []CheckInfo) []CheckInfo {
	var out []CheckInfo
	for _, in := range infos {
		r, ok := s.Results[in.ID]
		if !ok || r.Outcome != checks.Fail || in.Severity != checks.Required {
			continue
		}
		if r.Fixable() {
			continue
		}
		out = append(out, in)
	}
	return out
}

// PrereqStep runs the platform and local checks before sign-in, pauses for
// sign-in, then runs the tenant prerequisites.
type PrereqStep struct {
	before, tenant []CheckInfo
	set            checkSet
	phase          int // 0 before sign-in, 1 tenant
	status         Status
	fail           *Failure
	resolving      bool
	lookingUp      bool
}

// NewPrereqStep builds the step from the registered prerequisite checks.
func NewPrereqStep(all []CheckInfo) *PrereqStep {
	p := &PrereqStep{status: StatusPending}
	for _, in := range all {
		if in.Step != checks.StepPrereqs {
			continue
		}
		if in.Phase == checks.BeforeSignIn {
			p.before = append(p.before, in)
		} else {
			p.tenant = append(p.tenant, in)
		}
	}
	return p
}

func (p *PrereqStep) ID() ID         { return Prereqs }
func (p *PrereqStep) Title() string  { return "Prerequisites" }
func (p *PrereqStep) Status() Status { return p.status }

func (p *PrereqStep) Enter(s *Session) []Effect {
	p.status, p.fail, p.phase = StatusRunning, nil, 0
	if s.SignedIn {
		// A retry after sign-in re-runs the tenant checks.
		return p.Resume(s)
	}
	effs := p.set.start(p.before)
	if s.Opt.Tenant != "" && s.TenantID == "" {
		p.resolving = true
		effs = append([]Effect{ResolveTenant{Tenant: s.Opt.Tenant}}, effs...)
	}
	if len(effs) == 0 {
		return p.finishPhase(s)
	}
	return effs
}

// Resume runs the tenant checks after sign-in.
func (p *PrereqStep) Resume(s *Session) []Effect {
	p.status, p.fail, p.phase = StatusRunning, nil, 1
	effs := p.set.start(p.tenant)
	p.lookingUp = true
	effs = append(effs, FindIntegration{})
	return effs
}

func (p *PrereqStep) Handle(s *Session, ev Event) []Effect {
	switch ev := ev.(type) {
	case TenantResolved:
		p.resolving = false
		if ev.Err != nil {
			p.status = StatusFailed
			p.fail = &Failure{Kind: FailStopped, Message: fmt.Sprintf("Could not find tenant %q: %v", s.Opt.Tenant, ev.Err),
				Remedy: "check --tenant (a tenant GUID or one of its verified domains)", Err: ev.Err}
			return nil
		}
		s.TenantID, s.TenantCloud = ev.Info.ID, ev.Info.Cloud
	case CheckDone:
		if !p.set.done(s, ev) {
			return nil
		}
	case IntegrationFound:
		p.lookingUp = false
		// A failed lookup is not fatal here: the mapping step asks again.
		if ev.Err == nil && ev.Integration != nil {
			in := *ev.Integration
			s.Existing = &in
		}
	default:
		return nil
	}
	if p.resolving || p.lookingUp || !p.set.complete() {
		return nil
	}
	return p.finishPhase(s)
}

func (p *PrereqStep) finishPhase(s *Session) []Effect {
	infos := p.before
	if p.phase == 1 {
		infos = p.tenant
	}
	if b := blocking(s, infos); len(b) > 0 {
		p.status = StatusFailed
		names := make([]string, 0, len(b))
		var remedies []string
		for _, in := range b {
			names = append(names, in.Title)
			if r := s.Results[in.ID].Remedy; r != "" {
				remedies = append(remedies, in.Title+": "+r)
			}
		}
		p.fail = &Failure{Kind: FailStopped,
			Message: "A required prerequisite failed: " + strings.Join(names, ", ") + ".",
			Remedy:  strings.Join(remedies, "\n")}
		return nil
	}
	if p.phase == 0 {
		p.status = StatusPaused
		return nil
	}
	if mappedElsewhere(s.Existing, s.Opt.Org) && !s.Opt.Remap {
		p.status = StatusFailed
		p.fail = alreadyMappedFailure(s.Existing, s.Opt.Org)
		return nil
	}
	p.status = StatusDone
	return nil
}

func (p *PrereqStep) Snapshot(s *Session) Snapshot {
	snap := Snapshot{ID: Prereqs, Title: p.Title(), Status: p.status, Fail: p.fail}
	all := append(append([]CheckInfo{}, p.before...), p.tenant...)
	tmp := checkSet{infos: all, pending: p.set.pending}
	snap.Items = tmp.items(s)
	for i := range snap.Items {
		if _, ok := s.Results[snap.Items[i].ID]; !ok && !snap.Items[i].Running {
			snap.Items[i].Summary = "runs after sign-in"
		}
	}
	switch {
	case p.status == StatusPaused:
		snap.Line = "platform checks done; tenant checks run after sign-in"
	case p.status == StatusRunning && p.phase == 0:
		snap.Line = "checking the platform account and this machine"
	case p.status == StatusRunning:
		snap.Line = "checking the tenant"
	}
	if p.status == StatusFailed {
		snap.Next = []Option{OptRetry}
	}
	return snap
}
