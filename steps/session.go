package steps

import (
	"time"

	"itdr-onboard/auth"
	"itdr-onboard/checks"
	"itdr-onboard/m365"
	"itdr-onboard/platform"
)

// Options are the technician's choices for one run (from flags).
type Options struct {
	// Tenant is --tenant as given (GUID or domain); "" = whatever tenant the
	// technician signs in to.
	Tenant string
	// Yes accepts every confirmation (--yes).
	Yes bool
	// DryRun plans everything and stops before the first write (--dry-run;
	// the engine enforces it for every effect that is a Write).
	DryRun bool
	// Org picks the organization by name or id (--org).
	Org string
	// Remap moves a tenant mapped to another organization (--remap).
	Remap bool
	// Wait bounds the health wait (--wait); 0 = until healthy or detached.
	Wait time.Duration
	// AuthMethod is --auth.
	AuthMethod auth.Method
	// PollBase and PollMax shape the health poll backoff (5 s growing to 5 min).
	PollBase, PollMax time.Duration
	// ConsentWait bounds the wait for a soft-deleted service principal (15 min).
	ConsentWait time.Duration
	// ConsentRetryBase is the first back-off of the 650051 wait (30 s).
	ConsentRetryBase time.Duration
	// AutoFallback switches from device code to the browser by itself when
	// the tenant blocks device code (--auth auto).
	AutoFallback bool
	// ConsentHandoff shows the admin-consent URL instead of granting with
	// the technician's token (--consent handoff).
	ConsentHandoff bool
	// RemoveAccess makes unmap also remove the platform's service
	// principal and its directory roles from the tenant (--remove-access).
	RemoveAccess bool
	// NoPrompt: nobody can answer a question (no terminal, --json): every
	// answer must come from a flag, and a missing one stops the run before
	// sign-in.
	NoPrompt bool
	// SetupAppID is the onboarding app `partner setup` validates
	// (--client-id or the saved config); "" finds it by name or creates it.
	SetupAppID string
	// Evidence makes the health step look at evidence rungs 2–4 (the
	// executor has the modules); without it only rungs 1 and 5 are kept.
	Evidence bool
	// Customer, in customer mode (a GDAP customer with the partner's
	// sign-in, CustomerOnboard), is the tenant's row and what the run
	// found; nil otherwise.
	Customer *CustomerRun
}

// WithDefaults fills zero values.
func (o Options) WithDefaults() Options {
	if o.PollBase <= 0 {
		o.PollBase = 5 * time.Second
	}
	if o.PollMax <= 0 {
		o.PollMax = 5 * time.Minute
	}
	if o.ConsentWait <= 0 {
		o.ConsentWait = 15 * time.Minute
	}
	if o.ConsentRetryBase <= 0 {
		o.ConsentRetryBase = 30 * time.Second
	}
	if o.AuthMethod == "" {
		o.AuthMethod = auth.MethodAuto
	}
	return o
}

// Session is what the steps share: who signed in where, what the checks
// found, what was changed, what was mapped.
type Session struct {
	Opt Options

	// TenantID is the tenant the run is for: resolved from --tenant before
	// sign-in, or taken from the token when --tenant was not given.
	TenantID string
	// TenantCloud is the cloud detected from the tenant's openid-configuration.
	TenantCloud string

	Account  auth.Account
	SignedIn bool
	Org      m365.Organization // the tenant's organization object
	User     m365.User

	// Results holds the latest result of each check; Before the first.
	Results map[string]checks.Result
	Before  map[string]checks.Result
	// Titles of checks by id (for receipts and screens).
	Titles map[string]string

	Plan     []checks.Change
	Applied  []checks.Applied
	Declined bool
	// DeclinedChanges are the planned changes the technician said no to.
	DeclinedChanges []checks.Change
	// Deferred are accepted role-fix changes that could not be applied
	// because creating the platform's service principal hit AADSTS650051;
	// the mapping step applies them once consent has created it.
	Deferred []checks.Change
	// SPReady says the role step has done all consent needs of it: the
	// plan was accepted and the platform's service principal exists
	// (found, or created by the first wave). The mapping step may then
	// grant consent beside the rest of the role fixes (MappingStep.Early).
	SPReady bool

	ReceiptPath, AuditPath string
	// Record is the onboarding's exact record (the executor's Receipts):
	// every change of every step across every run of the onboarding.
	Record interface {
		Changes(s *Session) []checks.Applied
	}

	Organization platform.Organization
	// OrgFromFlag is --org resolved before sign-in.
	OrgFromFlag *platform.Organization
	Integration platform.Integration
	// Existing is the tenant's integration found right after sign-in;
	// ExistingChecked says that lookup succeeded.
	Existing        *platform.Integration
	ExistingChecked bool
	Consent         ConsentResult
	// ConsentAt is when consent finished (the evidence ladder's canary window).
	ConsentAt time.Time
	// Ladder is the evidence ladder as the health step last saw it.
	Ladder []LadderRung

	Billable      int
	MFARegistered int
	MFATotal      int
	HaveSummary   bool

	// GateSignIn holds the sign-in code (or the browser sign-in) back until
	// what can be decided before sign-in is decided (OpenSignIn): a run
	// that is going to stop never shows a code.
	GateSignIn bool

	// Outcome is the final word: healthy, pending, unhealthy, detached, dry-run.
	Outcome string
	// Stop ends the run after the current step (dry run, detach).
	Stop bool
	// Done is set by the last step of a lifecycle flow (reauthorize,
	// unmap): how the run ended, worded for the front-ends.
	Done *Done
}

// NewSession starts a session.
func NewSession(opt Options) *Session {
	return &Session{
		Opt:     opt.WithDefaults(),
		Results: map[string]checks.Result{},
		Before:  map[string]checks.Result{},
		Titles:  map[string]string{},
	}
}

// Who names the signed-in account and tenant for every screen.
func (s *Session) Who() string {
	if !s.SignedIn {
		return ""
	}
	t := s.Org.DisplayName
	if t == "" {
		t = s.Account.TenantID
	} else if s.Account.TenantID != "" {
		t += " (" + s.Account.TenantID + ")"
	}
	return s.Account.Username + " → " + t
}

func (s *Session) record(id string, r checks.Result) {
	if _, ok := s.Before[id]; !ok {
		s.Before[id] = r
	}
	s.Results[id] = r
}

// Changes lists the onboarding's changes (made or found, each once, across
// every run that made them; without a record, this run's) in plan order
// (inPlanOrder), for every front-end's summary.
func (s *Session) Changes() []checks.Applied {
	if s.Record != nil {
		if cs := s.Record.Changes(s); len(cs) > 0 {
			return inPlanOrder(s, cs)
		}
	}
	return inPlanOrder(s, s.Applied)
}

// ChangesMade counts the onboarding's changes that were made (not found in place).
func (s *Session) ChangesMade() int { return ChangesMade(s.Changes()) }
