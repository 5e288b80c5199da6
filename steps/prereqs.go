package steps

import (
	"fmt"
	"strings"

	"itdr-onboard/auth"
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

// PrereqStep runs the platform and local checks in the background while
// the technician signs in (so the device code appears at once), then runs
// the tenant prerequisites as soon as the technician is signed in. A failed
// platform check ends the run even while sign-in is on screen.
type PrereqStep struct {
	before, tenant []CheckInfo
	pending        map[string]bool
	phase          int // 0 before sign-in, 1 tenant
	status         Status
	fail           *Failure
	resolving      bool // ResolveTenant is running
	lookingUp      bool // FindIntegration is running
	needLookup     bool // FindIntegration waits for the tenant id
	findingOrg     bool // FindOrgs for --org is running
	orgAll         bool // the FindOrgs running lists every organization
	opened         bool // OpenSignIn was asked for
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

func (p *PrereqStep) run(infos []CheckInfo) []Effect {
	effs := make([]Effect, 0, len(infos))
	for _, in := range infos {
		p.pending[in.ID] = true
		effs = append(effs, RunCheck{ID: in.ID})
	}
	return effs
}

func (p *PrereqStep) Enter(s *Session) []Effect {
	p.fail, p.phase = nil, 0
	p.pending = map[string]bool{}
	p.resolving, p.lookingUp, p.needLookup, p.opened = false, false, false, false
	if f := missingAnswers(s); f != nil {
		// Nobody can answer on this run: say which flags before anything
		// else happens (no sign-in, no code).
		p.status, p.fail = StatusFailed, f
		return nil
	}
	effs := p.run(p.before)
	if s.Opt.Org != "" && s.OrgFromFlag == nil {
		// An unknown --org must stop the run before anything changes.
		p.findingOrg, p.orgAll = true, false
		effs = append(effs, FindOrgs{Query: s.Opt.Org})
	}
	if s.Opt.Tenant != "" && s.TenantID == "" {
		if auth.IsGUID(s.Opt.Tenant) {
			s.TenantID = strings.ToLower(s.Opt.Tenant)
		} else {
			p.resolving = true
			effs = append([]Effect{ResolveTenant{Tenant: s.Opt.Tenant}}, effs...)
		}
	}
	if s.SignedIn {
		// A retry after sign-in runs everything again.
		p.status = StatusRunning
		return append(effs, p.startTenant(s)...)
	}
	// Sign-in starts now; these checks finish in the background, and the
	// code is shown only once nothing decided before sign-in stops the run.
	s.GateSignIn = true
	p.status = StatusPaused
	return append(effs, p.maybeOpen(s)...)
}

// StartsDeviceCode reports whether an onboarding with opt asks for a
// device code as soon as it starts (its first jobs), so that a front-end
// may send that request before the engine exists
// (auth.Client.PrestartDeviceCode): device-code sign-in, and no flag
// missing that would stop the run before any sign-in.
func StartsDeviceCode(opt Options) bool {
	return opt.AuthMethod == auth.MethodDevice && missingAnswers(&Session{Opt: opt}) == nil
}

// missingAnswers is the failure of a run nobody can answer questions on
// (Options.NoPrompt) that lacks a flag it needs: which organization
// (--org) and accepting the plan (--yes). A dry run asks nothing.
func missingAnswers(s *Session) *Failure {
	if !s.Opt.NoPrompt || s.Opt.DryRun {
		return nil
	}
	var need []string
	if strings.TrimSpace(s.Opt.Org) == "" {
		need = append(need, "--org NAME|ID (the platform organization to map the tenant to)")
	}
	if !s.Opt.Yes {
		need = append(need, "--yes (accepts the role-fix plan and turning on audit logging; see it first with --dry-run)")
	}
	if len(need) == 0 {
		return nil
	}
	return &Failure{Kind: FailUsage, Final: true,
		Message: "There is no terminal to ask questions on, and this run would need answers from " + strings.Join(need, " and ") + ". Nothing was changed and no sign-in was started.",
		Remedy:  "Run again with " + strings.Join(need, " and ") + ", or in a terminal to be asked."}
}

// maybeOpen asks for OpenSignIn once everything decidable before sign-in
// is decided and nothing stops the run: every required platform check
// passed, the tenant and --org resolved.
func (p *PrereqStep) maybeOpen(s *Session) []Effect {
	if p.opened || p.phase != 0 || p.resolving || p.findingOrg || p.status == StatusFailed {
		return nil
	}
	for _, in := range p.before {
		if in.Severity != checks.Required {
			continue
		}
		if p.pending[in.ID] {
			return nil
		}
		if r := s.Results[in.ID]; r.Outcome == checks.Fail {
			return nil
		}
	}
	p.opened = true
	return []Effect{OpenSignIn{}}
}

// Resume runs the tenant checks after sign-in.
func (p *PrereqStep) Resume(s *Session) []Effect {
	p.status = StatusRunning
	effs := p.startTenant(s)
	if p.complete() {
		return append(effs, p.finish(s)...)
	}
	return effs
}

func (p *PrereqStep) startTenant(s *Session) []Effect {
	p.phase = 1
	effs := p.run(p.tenant)
	if s.TenantID != "" {
		p.lookingUp = true
		effs = append(effs, FindIntegration{})
	} else {
		p.needLookup = true
	}
	return effs
}

func (p *PrereqStep) complete() bool {
	return len(p.pending) == 0 && !p.resolving && !p.lookingUp && !p.needLookup && !p.findingOrg
}

func (p *PrereqStep) Handle(s *Session, ev Event) []Effect {
	var effs []Effect
	switch ev := ev.(type) {
	case TenantResolved:
		p.resolving = false
		if ev.Err != nil {
			p.status = StatusFailed
			if ae := auth.Classify(ev.Err); ae != nil && ae.Class != auth.ClassTenantNotFound && ae.Class != auth.ClassUnknown {
				// Not an answer about the tenant: the lookup itself failed.
				p.fail = &Failure{Kind: FailError, Message: fmt.Sprintf("Could not look up tenant %q: %s", s.Opt.Tenant, ae.Message),
					Remedy: ae.Action, Err: ev.Err}
				return nil
			}
			p.fail = &Failure{Kind: FailStopped, Message: fmt.Sprintf("Could not find tenant %q: %v", s.Opt.Tenant, ev.Err),
				Remedy: "check --tenant (a tenant GUID or one of its verified domains)", Err: ev.Err}
			return nil
		}
		s.TenantID, s.TenantCloud = ev.Info.ID, ev.Info.Cloud
		if s.SignedIn && s.Account.TenantID != "" && !strings.EqualFold(s.Account.TenantID, s.TenantID) {
			p.status = StatusFailed
			p.fail = wrongTenant(s, s.Account)
			return nil
		}
		if p.needLookup {
			p.needLookup, p.lookingUp = false, true
			effs = append(effs, FindIntegration{})
		}
	case CheckDone:
		if !p.pending[ev.ID] {
			return nil
		}
		delete(p.pending, ev.ID)
		s.record(ev.ID, ev.Result)
	case OrgsFound:
		if !p.findingOrg {
			return nil
		}
		if ev.Err != nil {
			// Not decisive here: the mapping step lists them again.
			p.findingOrg = false
			break
		}
		if o := matchOrg(ev.Orgs, s.Opt.Org); o != nil {
			p.findingOrg = false
			org := *o
			s.OrgFromFlag = &org
			break
		}
		if named := orgsNamed(ev.Orgs, s.Opt.Org); len(named) > 1 {
			p.findingOrg = false
			p.status, p.fail = StatusFailed, ambiguousOrg(s.Opt.Org, named)
			return nil
		}
		if !p.orgAll {
			// Not an exact name among the filtered ones: list all to suggest.
			p.orgAll = true
			return []Effect{FindOrgs{Query: ""}}
		}
		p.findingOrg = false
		p.status = StatusFailed
		p.fail = &Failure{Kind: FailUsage,
			Message: fmt.Sprintf("No platform organization is named %q. Nothing was changed.", s.Opt.Org),
			Remedy:  "Closest matches: " + strings.Join(closest(ev.Orgs, s.Opt.Org, 5), ", ") + ". Pass one of them (its id, or its name when no other organization has it) to --org, or leave --org out to pick from the list."}
		return nil
	case IntegrationFound:
		p.lookingUp = false
		// A failed lookup is not fatal here: the mapping step asks again.
		if ev.Err == nil {
			s.Existing, s.ExistingChecked = nil, true
			if ev.Integration != nil {
				in := *ev.Integration
				s.Existing = &in
			}
		}
	default:
		return nil
	}
	if p.phase == 0 {
		// Background phase: fail as soon as a platform check has failed
		// for good; otherwise stay paused until sign-in is done.
		if b := blocking(s, p.before); len(b) > 0 && p.beforeDone() {
			p.failBlocking(s, b)
		}
		return append(effs, p.maybeOpen(s)...)
	}
	if !p.complete() {
		return effs
	}
	return append(effs, p.finish(s)...)
}

func (p *PrereqStep) beforeDone() bool {
	for _, in := range p.before {
		if p.pending[in.ID] {
			return false
		}
	}
	return !p.resolving && !p.findingOrg
}

func (p *PrereqStep) failBlocking(s *Session, b []CheckInfo) {
	p.status = StatusFailed
	names := make([]string, 0, len(b))
	var remedies []string
	for _, in := range b {
		names = append(names, in.Title+" ("+s.Results[in.ID].Summary+")")
		if r := s.Results[in.ID].Remedy; r != "" {
			remedies = append(remedies, in.Title+": "+r)
		}
	}
	// Every failure the platform's to fix (External) or a service that could
	// not answer (Unavailable: throttled, 5xx, network) ends the run as
	// failed (exit 1); only a prerequisite found wrong stops it for the
	// technician (exit 3).
	kind, final, unavailable := FailError, true, true
	for _, in := range b {
		r := s.Results[in.ID]
		if !r.External && !r.Unavailable {
			kind = FailStopped
		}
		if !r.External {
			final = false
		}
		if !r.Unavailable {
			unavailable = false
		}
	}
	msg := "A required prerequisite failed: "
	if unavailable {
		msg = "A required prerequisite could not be checked: "
	}
	p.fail = &Failure{Kind: kind, Final: kind == FailError && final,
		Message: msg + strings.Join(names, ", ") + ".",
		Remedy:  strings.Join(remedies, "\n")}
}

func (p *PrereqStep) finish(s *Session) []Effect {
	all := append(append([]CheckInfo{}, p.before...), p.tenant...)
	if b := blocking(s, all); len(b) > 0 {
		p.failBlocking(s, b)
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
	tmp := checkSet{infos: all, pending: p.pending}
	snap.Items = tmp.items(s)
	for i := range snap.Items {
		if _, ok := s.Results[snap.Items[i].ID]; !ok && !snap.Items[i].Running {
			snap.Items[i].Summary = "runs after sign-in"
		}
	}
	switch {
	case p.status == StatusPaused && len(p.pending) > 0:
		snap.Line = "checking the platform account and this machine"
	case p.status == StatusPaused:
		snap.Line = "platform checks done; tenant checks run after sign-in"
	case p.status == StatusRunning:
		snap.Line = "checking the tenant"
	}
	if p.status == StatusFailed {
		snap.Next = retryUnlessFinal(p.fail)
	}
	return snap
}

// Reset makes the step pending again (an earlier step failed in the background).
func (p *PrereqStep) Reset() { p.status = StatusPending }
