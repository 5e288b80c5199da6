package steps

import (
	"time"

	"itdr-onboard/auth"
	"itdr-onboard/checks"
	"itdr-onboard/m365"
	"itdr-onboard/platform"
)

// Effect is work a step asks for. Effects are data; the Executor performs
// them (Ask is answered by the front-end instead).
type Effect interface{ isEffect() }

// Event is what came of an effect.
type Event interface{ isEvent() }

// Effects.
type (
	// ResolveTenant resolves --tenant (GUID or domain) and detects its cloud
	// from the tenant's public openid-configuration.
	ResolveTenant struct{ Tenant string }
	// RunCheck runs one check module.
	RunCheck struct {
		ID string
		// Verify: a read-back after writes; its reads go to the service,
		// never to a client's cache of earlier answers.
		Verify bool
	}
	// StartDeviceCode asks the identity platform for a device code.
	StartDeviceCode struct{}
	// AwaitDeviceCode waits until the technician signs in with the code.
	AwaitDeviceCode struct{ Code auth.DeviceCode }
	// StartBrowser runs the browser (auth code + PKCE) sign-in; it emits
	// BrowserPrompted before it blocks.
	StartBrowser struct{}
	// DeliverRedirect hands a pasted redirect URL to the local listener.
	DeliverRedirect struct{ URL string }
	// LoadTenant reads the signed-in user and the tenant organization.
	// Prefetch names checks of later steps that need nothing but the
	// token: the executor starts them now and hands their results to the
	// step's own RunCheck (see Executor.prefetchChecks).
	LoadTenant struct{ Prefetch []string }
	// ApplyChange applies one planned change.
	ApplyChange struct{ Change checks.Change }
	// WriteReceipt writes the change receipt and appends to the audit trail.
	WriteReceipt struct{}
	// FindOrgs lists platform organizations matching a name or id.
	FindOrgs struct{ Query string }
	// Consent makes sure the platform's service principal exists and holds
	// every permission the platform asks for.
	Consent struct{}
	// Wait sleeps, then reports Waited (used for retry countdowns).
	Wait struct{ D time.Duration }
	// Map creates the integration on the platform.
	Map struct {
		OrgID string
		Remap bool
	}
	// ProbeHealth waits After, then reads the integration.
	ProbeHealth struct {
		IntegrationID string
		After         time.Duration
	}
	// LoadSummary reads billable identities and the MFA registration summary.
	LoadSummary struct{}
	// LoadApp reads the platform's app manifest (what consent grants).
	LoadApp struct{}
	// Ask is answered by the front-end with Answered.
	Ask struct{ Q Question }
	// OpenSignIn says everything decidable before sign-in is decided and
	// nothing stops the run: the device code (requested in parallel) may be
	// shown, the browser sign-in may start.
	OpenSignIn struct{}
	// NewAttempt is not a job: it makes the engine start a new attempt of
	// the step, so outcomes of the jobs already running are dropped and the
	// front-end cancels them.
	NewAttempt struct{}
)

func (ResolveTenant) isEffect()   {}
func (RunCheck) isEffect()        {}
func (StartDeviceCode) isEffect() {}
func (AwaitDeviceCode) isEffect() {}
func (StartBrowser) isEffect()    {}
func (DeliverRedirect) isEffect() {}
func (LoadTenant) isEffect()      {}
func (ApplyChange) isEffect()     {}
func (WriteReceipt) isEffect()    {}
func (FindOrgs) isEffect()        {}
func (Consent) isEffect()         {}
func (Wait) isEffect()            {}
func (Map) isEffect()             {}
func (ProbeHealth) isEffect()     {}
func (LoadSummary) isEffect()     {}
func (Ask) isEffect()             {}
func (LoadApp) isEffect()         {}
func (NewAttempt) isEffect()      {}
func (OpenSignIn) isEffect()      {}

// Write marks an effect that changes something outside the process: the
// tenant (Graph, Exchange), the platform, or a file in the state dir. A dry
// run never performs one: the engine stops before the first (IsWrite).
type Write interface {
	Effect
	writes()
}

func (ApplyChange) writes()  {}
func (WriteReceipt) writes() {}
func (Consent) writes()      {}
func (Map) writes()          {}

// IsWrite reports whether an effect changes something (see Write).
func IsWrite(f Effect) bool {
	_, ok := f.(Write)
	return ok
}

// Events.
type (
	TenantResolved struct {
		Info auth.TenantInfo
		Err  error
	}
	CheckDone struct {
		ID     string
		Result checks.Result
	}
	DeviceCodeIssued struct {
		Code auth.DeviceCode
		Err  error
	}
	BrowserPrompted   struct{ Prompt auth.BrowserPrompt }
	RedirectDelivered struct{ Err error }
	SignedIn          struct{ Account auth.Account }
	SignInFailed      struct{ Err error }
	// SignInStalled: Microsoft's sign-in service did not answer while the
	// device code is still valid; the executor keeps polling with the same
	// code (an intermediate event of AwaitDeviceCode).
	SignInStalled struct{ Err *auth.Error }
	TenantLoaded  struct {
		Org  m365.Organization
		User m365.User
		Err  error
	}
	ChangeApplied struct {
		Applied checks.Applied
		Err     error
	}
	ReceiptWritten struct {
		Path, AuditPath string
		Err             error
	}
	OrgsFound struct {
		Query string
		Orgs  []platform.Organization
		Err   error
	}
	ConsentDone struct {
		At     time.Time
		Result ConsentResult
		Err    error
	}
	Waited struct{ At time.Time }
	Mapped struct {
		Integration platform.Integration
		Err         error
	}
	HealthProbed struct {
		At          time.Time
		Integration platform.Integration
		Err         error
	}
	SummaryLoaded struct {
		Billable      int
		MFARegistered int
		MFATotal      int
		Err           error
	}
	AppLoaded struct {
		App platform.App
		Err error
	}
	Answered struct {
		QuestionID string
		Value      string
	}
)

func (TenantResolved) isEvent()    {}
func (CheckDone) isEvent()         {}
func (DeviceCodeIssued) isEvent()  {}
func (BrowserPrompted) isEvent()   {}
func (RedirectDelivered) isEvent() {}
func (SignedIn) isEvent()          {}
func (SignInFailed) isEvent()      {}
func (SignInStalled) isEvent()     {}
func (TenantLoaded) isEvent()      {}
func (ChangeApplied) isEvent()     {}
func (ReceiptWritten) isEvent()    {}
func (OrgsFound) isEvent()         {}
func (ConsentDone) isEvent()       {}
func (Waited) isEvent()            {}
func (Mapped) isEvent()            {}
func (HealthProbed) isEvent()      {}
func (SummaryLoaded) isEvent()     {}
func (Answered) isEvent()          {}
func (AppLoaded) isEvent()         {}

// SignInOpened answers OpenSignIn.
type SignInOpened struct{}

func (SignInOpened) isEvent() {}

// ConsentResult says what consent found and did.
type ConsentResult struct {
	ServicePrincipalID string
	Created            bool     // the service principal was created now
	Granted            []string // permissions granted now ("Microsoft Graph: AuditLog.Read.All")
	AlreadyGranted     []string
	RequestIDs         []string
	// At is when consent finished (the receipt's time of its changes).
	At time.Time
}

// Job is an effect tagged with the step and attempt that asked for it.
type Job struct {
	Step    ID
	Attempt int
	Effect  Effect
}

// Outcome is an event tagged with the job it answers.
type Outcome struct {
	Step    ID
	Attempt int
	Event   Event
}
