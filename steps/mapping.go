package steps

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"itdr-onboard/checks"
	"itdr-onboard/platform"
	"itdr-onboard/ui/text"
)

// Question ids of the mapping step.
const (
	// QPickOrg is the organization question.
	QPickOrg = "mapping.org"
	// QConfirmMapping confirms an organization picked from the list,
	// naming the permissions consent grants.
	QConfirmMapping = "mapping.confirm"
)

// Consent650051 tells the two causes of AADSTS650051 apart.
type Consent650051 string

const (
	// SPPresent: the service principal is already present or still being
	// deleted: wait and retry.
	SPPresent Consent650051 = "sp-present"
	// InvalidPermissions: the app asks for a permission that is invalid or
	// does not exist on a resource: retrying never helps.
	InvalidPermissions Consent650051 = "invalid-permissions"
)

// ConsentError is the executor's typed consent failure.
type ConsentError struct {
	Kind       Consent650051 // "" when not a 650051
	Permission string        // the permission at fault (InvalidPermissions)
	Resource   string
	// DeletedAt is when the soft-deleted copy was deleted (SPPresent, when
	// deleted items showed it).
	DeletedAt string
	Err       error
}

func (e *ConsentError) Error() string {
	if e.Permission != "" {
		return fmt.Sprintf("permission %s on %s: %v", e.Permission, e.Resource, e.Err)
	}
	return e.Err.Error()
}
func (e *ConsentError) Unwrap() error { return e.Err }

var claimRe = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`Claim is invalid: (\S+) does not exist on resource '?([^'.]+)'?`)
})

// Classify650051 reads a consent error's text.
func Classify650051(err error) *ConsentError {
	var ce *ConsentError
	if errors.As(err, &ce) {
		return ce
	}
	msg := err.Error()
	if !strings.Contains(msg, "650051") {
		return &ConsentError{Err: err}
	}
	switch {
	case strings.Contains(msg, "already present"):
		return &ConsentError{Kind: SPPresent, Err: err}
	default:
		ce := &ConsentError{Kind: InvalidPermissions, Err: err}
		if m := claimRe().FindStringSubmatch(msg); m != nil {
			ce.Permission, ce.Resource = m[1], m[2]
		}
		return ce
	}
}

// MappingDetail is the mapping screen's payload.
type MappingDetail struct {
	Orgs   []platform.Organization
	Chosen *platform.Organization
	// Phase: "finding", "picking", "consent", "handoff", "waiting",
	// "roles" (applying role fixes deferred to consent), "mapping".
	Phase    string
	Attempts int // consent attempts
	// RetryAt is when the next consent attempt runs (soft-deleted wait).
	RetryAt time.Time
	// WaitBudget is how long the soft-deleted wait may last in total
	// (--consent-wait), WaitUsed how much of it is planned so far.
	WaitBudget, WaitUsed time.Duration
	Reason               string
	Consent              *ConsentResult
	// ConsentURL is the admin-consent URL of a --consent handoff (the TUI
	// shows it with a QR code); HandoffNote is what the last attempt to
	// use it said.
	ConsentURL  string
	HandoffNote string
}

// MappingStep picks the organization, grants consent (with the guided
// AADSTS650051 retry), and maps the tenant.
type MappingStep struct {
	status  Status
	fail    *Failure
	d       MappingDetail
	waitSum time.Duration
	backoff time.Duration
	allOrgs bool
	// consentOnly: the reauthorize flow (no organization, no mapping).
	consentOnly bool
	// deferred are the role fixes still to apply after consent.
	deferred []checks.Change
	// early: consent started before the step was entered (Early);
	// earlyDone is its outcome when it came before Enter.
	early     bool
	earlyDone *ConsentDone
}

// Early starts consent while the role step still applies its later fixes:
// consent needs only the service principal's id (SPReady) and an
// organization settled without a question (--org, resolved before
// sign-in). Not for a dry run, a --consent handoff or reauthorize. The
// step stays pending; Enter continues from the outcome.
func (p *MappingStep) Early(s *Session) []Effect {
	if p.early || p.status != StatusPending || p.consentOnly || !s.SPReady || s.OrgFromFlag == nil ||
		s.Opt.DryRun || s.Opt.ConsentHandoff || len(s.Deferred) > 0 {
		return nil
	}
	p.early, p.earlyDone = true, nil
	p.fail = nil
	p.d = MappingDetail{Phase: "finding", WaitBudget: s.Opt.ConsentWait}
	p.waitSum, p.backoff = 0, 0
	p.deferred = nil
	o := *s.OrgFromFlag
	s.Organization = o
	p.d.Chosen = &o
	return p.startConsent(s)
}

// NewMappingStep builds the step.
func NewMappingStep() *MappingStep { return &MappingStep{status: StatusPending} }

func (p *MappingStep) ID() ID { return Mapping }
func (p *MappingStep) Title() string {
	if p.consentOnly {
		return "Consent"
	}
	return "Mapping"
}
func (p *MappingStep) Status() Status { return p.status }

func (p *MappingStep) Enter(s *Session) []Effect {
	if p.early {
		// Consent started early (Early): go on from its outcome.
		p.early, p.status = false, StatusRunning
		if ev := p.earlyDone; ev != nil {
			p.earlyDone = nil
			return p.Handle(s, *ev)
		}
		return nil
	}
	p.status, p.fail = StatusRunning, nil
	p.d = MappingDetail{Phase: "finding", WaitBudget: s.Opt.ConsentWait}
	p.waitSum, p.backoff = 0, 0
	p.deferred = nil
	if p.consentOnly {
		return p.startConsent(s)
	}
	if o := s.OrgFromFlag; o != nil {
		// --org was resolved before sign-in (prerequisites).
		return p.choose(s, *o)
	}
	if s.Opt.DryRun && s.Opt.Org == "" {
		// A dry run asks nothing: the plan names the mapping without an organization.
		return p.planDry(s)
	}
	p.allOrgs = s.Opt.Org == ""
	return []Effect{FindOrgs{Query: s.Opt.Org}}
}

// orgsNamed lists the organizations whose name is q (case-insensitive).
func orgsNamed(orgs []platform.Organization, q string) []platform.Organization {
	q = strings.TrimSpace(q)
	var out []platform.Organization
	for _, o := range orgs {
		if strings.EqualFold(o.Name, q) {
			out = append(out, o)
		}
	}
	return out
}

// orgLabel names an organization with its id, so it can be passed back to --org.
func orgLabel(name, id string) string { return name + " (" + id + ")" }

// ambiguousOrg is the failure of an --org name several organizations carry.
func ambiguousOrg(q string, named []platform.Organization) *Failure {
	labels := make([]string, 0, len(named))
	for _, o := range named {
		labels = append(labels, orgLabel(o.Name, o.ID))
	}
	return &Failure{Kind: FailUsage, Final: true,
		Message: fmt.Sprintf("--org %q is ambiguous: %d platform organizations have that name (%s). Nothing was changed.", q, len(named), strings.Join(labels, "; ")),
		Remedy:  "Pass the id of the one you mean to --org (for example --org " + named[0].ID + ")."}
}

func matchOrg(orgs []platform.Organization, q string) *platform.Organization {
	q = strings.TrimSpace(q)
	for i := range orgs {
		if orgs[i].ID == q {
			return &orgs[i]
		}
	}
	var found *platform.Organization
	for i := range orgs {
		if strings.EqualFold(orgs[i].Name, q) {
			if found != nil {
				return nil // ambiguous
			}
			found = &orgs[i]
		}
	}
	return found
}

// closest ranks organization names by similarity to q: names containing
// it first, then names whose start (or whole) is within a few edits of it.
// Names that are not close are left out; at least one name is returned.
func closest(orgs []platform.Organization, q string, n int) []string {
	type sc struct {
		name string // with its id
		d    int
	}
	ql := strings.ToLower(strings.TrimSpace(q))
	limit := len([]rune(ql))/3 + 1
	var close, all []sc
	for _, o := range orgs {
		nl := strings.ToLower(o.Name)
		d := levenshtein(ql, nl)
		if r := []rune(nl); len(r) > len([]rune(ql)) {
			d = min(d, levenshtein(ql, string(r[:len([]rune(ql))])))
		}
		if ql != "" && strings.Contains(nl, ql) {
			d = -1
		}
		all = append(all, sc{orgLabel(o.Name, o.ID), d})
		if d <= limit {
			close = append(close, sc{orgLabel(o.Name, o.ID), d})
		}
	}
	if len(close) == 0 {
		close = all
		n = min(n, 3)
	}
	sort.SliceStable(close, func(i, j int) bool { return close[i].d < close[j].d })
	var out []string
	for i := 0; i < len(close) && i < n; i++ {
		out = append(out, close[i].name)
	}
	return out
}

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			c := 1
			if ra[i-1] == rb[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

func (p *MappingStep) choose(s *Session, o platform.Organization) []Effect {
	s.Organization = o
	p.d.Chosen = &o
	if s.Opt.DryRun {
		return p.planDry(s)
	}
	return p.startConsent(s)
}

// planDry reads what consent and the mapping would change (a dry run).
func (p *MappingStep) planDry(s *Session) []Effect {
	p.d.Phase = "planning"
	return []Effect{PlanChanges{Org: s.Organization, Remap: s.Opt.Remap}}
}

// askOrg asks which organization the tenant is for.
func (p *MappingStep) askOrg(s *Session, orgs []platform.Organization) []Effect {
	p.d.Phase = "picking"
	p.status = StatusWaiting
	choices := make([]Choice, 0, len(orgs))
	for _, o := range orgs {
		choices = append(choices, Choice{Value: o.ID, Label: o.Name})
	}
	// Suggest where the tenant is mapped now, or the organization named
	// like the tenant (the technician still confirms it).
	def := ""
	if s.Existing != nil {
		def = s.Existing.OrganizationID
	} else if o := matchOrg(orgs, s.Org.DisplayName); o != nil && s.Org.DisplayName != "" {
		def = o.ID
	}
	return []Effect{Ask{Q: Question{ID: QPickOrg, Kind: AskSelect, Flag: "--org",
		Prompt: "Which platform organization is this tenant for?", Choices: choices, Default: def}}}
}

func nameOrID(name, id string) string {
	if name != "" {
		return name
	}
	return id
}

func (p *MappingStep) startConsent(s *Session) []Effect {
	p.d.Attempts = 1
	if s.Opt.ConsentHandoff {
		p.d.Phase = "handoff"
		p.d.Reason = "waiting for a Global Administrator of the tenant to grant consent with the admin-consent URL"
		return []Effect{AwaitConsent{}}
	}
	p.d.Phase = "consent"
	return []Effect{Consent{}}
}

// alreadyMapped fails the step when err says the tenant is mapped to
// another organization.
func (p *MappingStep) alreadyMapped(s *Session, err error) bool {
	var pe *platform.Error
	if !errors.As(err, &pe) || pe.Code != "tenant_already_mapped" {
		return false
	}
	other := "another organization"
	if pe.OrganizationName != "" {
		other = "the organization " + text.Quote(pe.OrganizationName)
	}
	p.status = StatusFailed
	p.fail = &Failure{Kind: FailStopped,
		Message: fmt.Sprintf("This tenant is already mapped to %s (%s).", other, text.Line(pe.OrganizationID)),
		Remedy: "The mapping was not changed and no consent was granted. To move the tenant to " + s.Organization.Name +
			", run again with --remap; to check the existing mapping: itdr-onboard status --tenant " + s.TenantID + ".",
		Err: err}
	return true
}

// consented records a successful consent and moves on: deferred role
// fixes first, then the mapping.
func (p *MappingStep) consented(s *Session, r ConsentResult, at time.Time) []Effect {
	r.At = at
	s.Consent, s.ConsentAt = r, at
	p.d.Consent = &r
	p.d.Reason, p.d.RetryAt = "", time.Time{}
	if p.consentOnly {
		p.status = StatusDone
		return nil
	}
	for _, c := range s.Deferred {
		if c.Order != checks.OrderCreateSP {
			p.deferred = append(p.deferred, c)
			continue
		}
		// Consent created (or found) the service principal the role fixes
		// could not: the receipt shows the planned change as applied.
		a := checks.Applied{Change: c, At: at, NoOp: !r.Created}
		if r.Created && len(r.RequestIDs) > 0 {
			a.RequestID = r.RequestIDs[0]
		}
		s.Applied = append(s.Applied, a)
	}
	s.Deferred = nil
	if len(p.deferred) > 0 {
		p.d.Phase = "roles"
		return []Effect{ApplyChange{Change: p.deferred[0]}}
	}
	return p.mapNow(s)
}

func (p *MappingStep) mapNow(s *Session) []Effect {
	p.d.Phase = "mapping"
	return []Effect{Map{OrgID: s.Organization.ID, Remap: s.Opt.Remap}}
}

// Reset makes the step pending again (an earlier step failed in the
// background); work it started early is forgotten (the engine drops it).
func (p *MappingStep) Reset() { p.status, p.early, p.earlyDone = StatusPending, false, nil }

func (p *MappingStep) Handle(s *Session, ev Event) []Effect {
	switch ev := ev.(type) {
	case OrgsFound:
		if ev.Err != nil {
			p.status = StatusFailed
			p.fail = &Failure{Kind: FailError, Message: "Could not list the platform's organizations: " + ev.Err.Error(), Err: ev.Err}
			return nil
		}
		p.d.Orgs = ev.Orgs
		if s.Opt.Org != "" {
			if o := matchOrg(ev.Orgs, s.Opt.Org); o != nil {
				return p.choose(s, *o)
			}
			if named := orgsNamed(ev.Orgs, s.Opt.Org); len(named) > 1 {
				p.status, p.fail = StatusFailed, ambiguousOrg(s.Opt.Org, named)
				return nil
			}
			if !p.allOrgs {
				// Not an exact match among the filtered names: list all to suggest.
				p.allOrgs = true
				return []Effect{FindOrgs{Query: ""}}
			}
			p.status = StatusFailed
			p.fail = &Failure{Kind: FailUsage,
				Message: fmt.Sprintf("No platform organization is named %q.", s.Opt.Org),
				Remedy:  "Closest matches: " + strings.Join(closest(ev.Orgs, s.Opt.Org, 5), ", ") + ". Pass one of them (its id, or its name when no other organization has it) to --org."}
			return nil
		}
		if len(ev.Orgs) == 0 {
			p.status = StatusFailed
			p.fail = &Failure{Kind: FailStopped, Message: "The platform account has no organizations.",
				Remedy: "Create the organization in the platform first, then run again."}
			return nil
		}
		return p.askOrg(s, ev.Orgs)
	case Answered:
		if ev.QuestionID == QConfirmMapping {
			if yes(ev.Value) {
				p.status = StatusRunning
				return p.startConsent(s)
			}
			// Not that one: pick again.
			p.d.Chosen = nil
			s.Organization = platform.Organization{}
			return p.askOrg(s, p.d.Orgs)
		}
		if ev.QuestionID != QPickOrg {
			return nil
		}
		p.status = StatusRunning
		for _, o := range p.d.Orgs {
			if o.ID == ev.Value {
				// Picked from a list: say what mapping grants, then ask.
				s.Organization = o
				oc := o
				p.d.Chosen = &oc
				p.d.Phase = "confirm"
				return []Effect{LoadApp{}}
			}
		}
		p.status = StatusFailed
		p.fail = &Failure{Kind: FailUsage, Message: fmt.Sprintf("Unknown organization %q.", ev.Value)}
	case AppLoaded:
		if p.d.Phase != "confirm" {
			return nil
		}
		var details []string
		if ev.Err == nil {
			for _, perm := range ev.App.ApplicationPermissions {
				details = append(details, nameOrID(perm.ResourceDisplayName, perm.ResourceAppID)+": "+perm.Permission+" (application)")
			}
			for _, d := range ev.App.DelegatedPermissions {
				details = append(details, nameOrID(d.ResourceDisplayName, d.ResourceAppID)+": "+strings.Join(d.Scopes, " ")+" (delegated)")
			}
		}
		app := "the platform's app"
		if ev.Err == nil && ev.App.DisplayName != "" {
			app = ev.App.DisplayName
		}
		p.status = StatusWaiting
		return []Effect{Ask{Q: Question{ID: QConfirmMapping, Kind: AskConfirm, Flag: "--org", Default: "yes",
			Prompt:  fmt.Sprintf("Map this tenant to %s and grant %s these permissions in it?", s.Organization.Name, app),
			Details: details}}}
	case ChangesPlanned:
		if p.d.Phase != "planning" {
			return nil
		}
		if ev.Err != nil {
			p.status = StatusFailed
			p.fail = &Failure{Kind: FailError, Message: "Dry run: could not read what consent and the mapping would change: " + ev.Err.Error(),
				Remedy: "Retry; nothing was changed.", Err: ev.Err}
			return nil
		}
		addPlanned(s, ev.Changes)
		s.Outcome, s.Stop = "dry-run", true
		p.status = StatusDone
		return nil
	case ConsentHandoff:
		p.d.ConsentURL = ev.URL
		p.d.HandoffNote = ev.Note
	case ConsentDone:
		if p.early && p.status == StatusPending {
			p.earlyDone = &ev // handled once the step is entered
			return nil
		}
		if p.status != StatusRunning {
			return nil
		}
		if ev.Err == nil {
			return p.consented(s, ev.Result, ev.At)
		}
		if p.alreadyMapped(s, ev.Err) {
			return nil
		}
		return p.consentFailed(s, ev)
	case Waited:
		if p.d.Phase != "waiting" {
			return nil
		}
		p.d.Attempts++
		p.d.Phase = "consent"
		return []Effect{Consent{}}
	case ChangeApplied:
		if p.d.Phase != "roles" || len(p.deferred) == 0 {
			return nil
		}
		if ev.Err != nil {
			p.status = StatusFailed
			p.fail = &Failure{Kind: FailError,
				Message: fmt.Sprintf("Consent succeeded, but applying %q failed: %v", p.deferred[0].Summary, ev.Err),
				Remedy:  "Retry (r, or run the same command again): it re-checks and applies only what is still missing.", Err: ev.Err}
			return []Effect{WriteReceipt{}}
		}
		s.Applied = append(s.Applied, ev.Applied)
		p.deferred = p.deferred[1:]
		if len(p.deferred) > 0 {
			return []Effect{ApplyChange{Change: p.deferred[0]}}
		}
		return []Effect{WriteReceipt{}}
	case ReceiptWritten:
		if ev.Err == nil && ev.Path != "" {
			s.ReceiptPath, s.AuditPath = ev.Path, ev.AuditPath
		}
		if p.status == StatusRunning && p.d.Phase == "roles" {
			return p.mapNow(s)
		}
		if p.status == StatusRunning && p.d.Phase == "receipt" {
			if ev.Err != nil {
				p.status = StatusFailed
				p.fail = &Failure{Kind: FailError, Message: "The tenant was mapped but the receipt could not be written: " + ev.Err.Error(),
					Remedy: "Check that --state-dir is writable and has space, then run again (it finds the mapping in place).", Err: ev.Err}
				return nil
			}
			p.status = StatusDone
		}
	case Mapped:
		if p.status != StatusRunning || p.d.Phase != "mapping" {
			return nil
		}
		if ev.Err != nil {
			if p.alreadyMapped(s, ev.Err) {
				return nil
			}
			p.status = StatusFailed
			p.fail = &Failure{Kind: FailError, Message: "Mapping failed: " + ev.Err.Error(), Remedy: "Retry.", Err: ev.Err}
			return nil
		}
		s.Integration = ev.Integration
		// The receipt names the onboarding's changes so far (consent and
		// the mapping too) before the health wait, which may be left.
		p.d.Phase = "receipt"
		return []Effect{WriteReceipt{}}
	}
	return nil
}

func (p *MappingStep) consentFailed(s *Session, ev ConsentDone) []Effect {
	if errors.Is(ev.Err, ErrHandoffTimeout) {
		p.status = StatusFailed
		wait := "the wait"
		if s.Opt.Wait > 0 {
			wait = "--wait " + s.Opt.Wait.String()
		}
		p.fail = &Failure{Kind: FailStopped,
			Message: "No Global Administrator granted consent within " + wait + "; the tenant was not mapped.",
			Remedy:  "Send the admin-consent URL to a Global Administrator of the tenant (" + p.d.ConsentURL + "), then run again; or run with --consent direct if you are one.",
			Err:     ev.Err}
		return nil
	}
	ce := Classify650051(ev.Err)
	switch ce.Kind {
	case InvalidPermissions:
		p.status = StatusFailed
		perm := ce.Permission
		if perm == "" {
			perm = "one of the platform's permissions"
		}
		msg := fmt.Sprintf("AADSTS650051: the platform's app asks for %s", perm)
		if ce.Resource != "" {
			msg += " on " + ce.Resource
		}
		msg += ", which is invalid or out of date. Retrying will not help."
		p.fail = &Failure{Kind: FailError, Message: msg,
			Remedy: "Report this to the platform's support: the app's permission set must be corrected. If an older copy of the app exists in the tenant, delete it in Entra (Enterprise applications → the app → Properties → Delete) and run again.",
			Err:    ev.Err}
		return nil
	case SPPresent:
		if p.d.Phase == "handoff" {
			break
		}
		if p.d.Attempts == 1 {
			// The onboarding guide's advice: run it once more straight away.
			p.d.Attempts++
			p.d.Reason = "AADSTS650051 (the platform's service principal is already present) on the first try; trying once more at once, as the onboarding guide advises."
			return []Effect{Consent{}}
		}
		if p.backoff == 0 {
			p.backoff = s.Opt.ConsentRetryBase
		} else {
			p.backoff = min(p.backoff*2, 2*time.Minute)
		}
		if p.waitSum+p.backoff > s.Opt.ConsentWait {
			p.status = StatusFailed
			p.fail = &Failure{Kind: FailError,
				Message: fmt.Sprintf("AADSTS650051: the platform's service principal is still being deleted after %s of waiting (%d attempts).", p.waitSum, p.d.Attempts),
				Remedy:  "Microsoft needs 5 to 15 minutes to finish deleting it; retry later (r, or run the same command again). Deleting the enterprise app again does not speed it up.",
				Err:     ev.Err}
			return nil
		}
		p.waitSum += p.backoff
		p.d.WaitUsed = p.waitSum
		p.d.Phase = "waiting"
		p.d.RetryAt = ev.At.Add(p.backoff)
		why := "an earlier copy of the platform's service principal is still being deleted"
		if ce.DeletedAt != "" {
			why += " (deleted " + ce.DeletedAt + ")"
		}
		p.d.Reason = fmt.Sprintf("AADSTS650051: %s; Microsoft takes 5 to 15 minutes to finish. Attempt %d failed; retrying in %s (waiting at most %s in all).",
			why, p.d.Attempts, p.backoff, s.Opt.ConsentWait)
		return []Effect{Wait{D: p.backoff}}
	}
	if p.d.Attempts == 1 && p.d.Phase != "handoff" {
		p.d.Attempts++
		return []Effect{Consent{}}
	}
	p.status = StatusFailed
	p.fail = &Failure{Kind: FailError, Message: "Granting consent failed: " + ev.Err.Error(), Remedy: "Retry.", Err: ev.Err}
	return nil
}

func (p *MappingStep) Snapshot(s *Session) Snapshot {
	d := p.d
	snap := Snapshot{ID: Mapping, Title: p.Title(), Status: p.status, Fail: p.fail, Detail: &d}
	switch {
	case p.status == StatusFailed:
		snap.Next = retryUnlessFinal(p.fail)
	case d.Phase == "finding":
		snap.Line = "listing the platform's organizations"
	case d.Phase == "planning":
		snap.Line = "dry run: reading what consent and the mapping would change"
	case d.Phase == "confirm":
		snap.Line = "confirm the organization and the permissions consent grants"
	case d.Phase == "picking":
		snap.Line = fmt.Sprintf("pick one of %d organizations", len(d.Orgs))
	case d.Phase == "consent":
		snap.Line = "granting the platform's permissions in the tenant"
	case d.Phase == "waiting":
		snap.Line = "waiting for Microsoft to finish deleting an old service principal"
	case d.Phase == "handoff":
		snap.Line = "waiting for a Global Administrator to grant consent"
		snap.Next = []Option{OptCopy, OptQR}
	case d.Phase == "roles":
		snap.Line = "assigning the platform's directory roles"
	case d.Phase == "mapping":
		snap.Line = "mapping the tenant to " + s.Organization.Name
	}
	if p.status == StatusDone && s.Opt.DryRun {
		snap.Line = "dry run: consent and mapping planned, nothing changed"
	} else if p.status == StatusDone && p.consentOnly {
		snap.Line = "consent granted and verified"
	} else if p.status == StatusDone {
		snap.Line = "mapped to " + s.Organization.Name
	}
	return snap
}
