// Package customer onboards one GDAP customer tenant with the partner
// technician's single sign-in (docs/gdap.md "Onboarding one customer"): the
// per-tenant flow of the step engine in customer mode — consent bootstrap
// (Partner Center applicationconsents) → prerequisites (the GDAP
// relationship's roles instead of an active Global Administrator) → role
// fixes → mapping → health — with the same executor, write-ahead journal,
// receipt and resume as `onboard`. `partner onboard` runs it for one tenant;
// the batch run calls RunCustomer for each.
package customer

import (
	"context"
	"net/http"
	"time"

	"itdr-onboard/auth"
	"itdr-onboard/endpoints"
	"itdr-onboard/partner"
	"itdr-onboard/platform"
	"itdr-onboard/steps"
)

// PlatformAPI is what a customer run needs of the platform client
// (*platform.Client): the executor's calls and the subscription check.
type PlatformAPI interface {
	steps.PlatformAPI
	Account(ctx context.Context) (platform.Account, error)
}

// Deps are what every customer run of one partner sign-in shares. Build
// them once after `partner sign-in` and hand the same Deps to every
// RunCustomer call (they are safe for concurrent use).
type Deps struct {
	// Endpoints of the cloud or the simulator (Graph, Exchange, identity,
	// Partner Center); ClientID is the partner's onboarding app.
	Endpoints endpoints.Endpoints
	// HTTP is the client every Graph and Exchange request of the run goes
	// through (a batch wraps its transport with its budgets).
	HTTP *http.Client
	// Token redeems the partner sign-in for a customer tenant:
	// (*auth.Client).TokenForTenant. It must ask Microsoft again after a
	// failure (MSAL does: nothing is cached for a tenant until a token
	// was issued there), so the token after the consent is fresh.
	Token func(ctx context.Context, scope, tenantID string) (string, error)
	// Account is the signed-in partner user ((*auth.Client).Account()).
	Account auth.Account
	// PartnerCenter performs the consent bootstrap (*partner.PartnerCenter).
	PartnerCenter partner.Consenter
	// Platform is the one platform client of the batch (its 60/min budget).
	Platform PlatformAPI
	// StateDir holds tenants/<id>/journal.jsonl, receipts and the audit
	// trail, as for `onboard` ("" keeps no record: tests of the flow only).
	StateDir string
	// Now and Sleep are the clock (nil: the real one); tests and the
	// simulator's demo inject theirs.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// Options are the technician's choices for one customer.
type Options struct {
	// Org is the platform organization (id or exact name); "" uses the
	// discovery row's organization.
	Org string
	// Remap moves a tenant mapped to another organization.
	Remap bool
	// Yes accepts the tenant's plan (the batch asks once for all).
	Yes bool
	// DryRun ends the run before its first write (the consent bootstrap
	// is one): nothing changes anywhere, nothing is recorded.
	DryRun bool
	// Wait bounds the health wait; 0 stops after the first health read
	// (the batch polls every integration with one list request instead).
	Wait time.Duration
	// ConsentBackoff is the bounded wait for AADSTS65001 right after the
	// consent (default partner.DefaultBackoff: 5+10+20+40+60 s).
	ConsentBackoff []time.Duration
	// PollBase and PollMax shape the health poll (defaults of onboard).
	PollBase, PollMax time.Duration
	// SkipAccountCheck leaves out the platform subscription check (the
	// batch checks the partner's platform account once for every tenant;
	// a run without it still fails at the mapping when the subscription
	// has ended, with the platform's answer).
	SkipAccountCheck bool
	// Interactive: a technician can answer questions (a terminal):
	// without it every answer comes from Yes and Org, and a missing one
	// stops the run before the consent.
	Interactive bool
	// Onboarding continues an interrupted onboarding's record (its name in
	// the tenant's journal): the resumed run writes the same receipt, each
	// change once ("" starts a new one). `batch resume` sets it.
	Onboarding string
}

// Event is one thing that happened in one customer's run, tagged with its
// tenant, for the batch's watch screen, plain lines and --json.
type Event struct {
	TenantID string
	Time     time.Time
	// Step is the step it belongs to ("bootstrap", "prereqs", "roles",
	// "mapping", "health").
	Step steps.ID
	// Type: "step_started", "outcome" (an effect's result was handled),
	// "finished".
	Type string
	// Status and Line are the step's status and one-line summary after it.
	Status steps.Status
	Line   string
	// Event is the engine event of an "outcome" (steps.ChangeApplied …).
	Event steps.Event
	// Outcome is set on "finished".
	Outcome *Outcome
}

// Result words how a customer run ended.
type Result string

const (
	ResultHealthy   Result = "healthy"    // mapped and the platform reads it healthy
	ResultPending   Result = "pending"    // mapped; health not proven yet (the batch polls)
	ResultHandedOff Result = "handed-off" // needs the customer (or a partner-side fix): HandOff says what
	ResultFailed    Result = "failed"     // an error; Remedy says what to do; retry is safe
	ResultDryRun    Result = "dry-run"    // stopped before the first write
	ResultStopped   Result = "stopped"    // interrupted (ctrl+c, context cancelled)
)

// Outcome is how one customer's run ended.
type Outcome struct {
	TenantID string `json:"tenant_id"`
	Name     string `json:"name,omitempty"`
	Result   Result `json:"result"`
	// ExitCode is what `partner onboard` exits with (docs/errors.md):
	// 0 healthy, 4 pending, 3 handed off or stopped for a prerequisite,
	// 2 usage, 1 failed, 130 interrupted.
	ExitCode int `json:"exit_code"`
	// Lane is the tenant's lane after the run: the discovery lane, or the
	// one a customer-token failure put it in (not-consented, ca-blocked,
	// settling, not-assigned, partial for no Exchange).
	Lane    partner.Lane `json:"lane"`
	HandOff []HandOff    `json:"hand_off,omitempty"`
	// Message and Remedy explain a failure or a stop.
	Message string `json:"message,omitempty"`
	Remedy  string `json:"remedy,omitempty"`
	// Consent is what the bootstrap did: "created", "already-existed", "".
	Consent string `json:"consent,omitempty"`
	// IntegrationID is the platform integration (mapped or found).
	IntegrationID string `json:"integration_id,omitempty"`
	// Evidence is the highest evidence rung proven ("1 Configured"), ""
	// before any.
	Evidence string `json:"evidence,omitempty"`
	// ChangesMade counts the changes made (not found in place) across the
	// runs of this onboarding.
	ChangesMade int   `json:"changes_made"`
	Err         error `json:"-"`
}

// Receipt is where the tenant's record is.
type Receipt struct {
	// Path is the onboarding's receipt (tenants/<id>/receipt-*.json), ""
	// when nothing was recorded (dry run, no state dir, nothing changed).
	Path string `json:"path,omitempty"`
	// AuditPath is the audit trail the changes were appended to.
	AuditPath string `json:"audit_path,omitempty"`
	// Journal is tenants/<id>/journal.jsonl (the write-ahead record).
	Journal string `json:"journal,omitempty"`
}

// RunCustomer onboards one customer tenant over GDAP with the partner's
// sign-in in deps and returns how it ended and where its record is. It
// blocks until the run ends (ctx cancelled: ResultStopped, every open write
// settled by a read on the next run). sink, when not nil, receives every
// event of the run tagged with row.TenantID, from the caller's goroutine
// of this call (one goroutine per tenant in a batch: sink must be safe for
// concurrent use across tenants).
//
// The flow is `onboard`'s in customer mode: (1) the consent bootstrap —
// Partner Center applicationconsents for the onboarding app, journaled as
// a write ("Permission entry already exists" is recorded as found), then a
// fresh customer token for Graph and Exchange, AADSTS65001 retried with
// opt.ConsentBackoff, 65001/53003/650052/50020 put in a lane with its
// remedy; (2) prerequisites with "the GDAP relationship grants the roles
// the plan needs" (from row.Roles) instead of /me and an active Global
// Administrator, steps needing a missing role handed off; (3) role fixes,
// (4) consent and mapping, (5) one health read (or the wait of opt.Wait).
// Exchange calls go to /adminapi/beta/{row.TenantID}/InvokeCommand with a
// token for that tenant, anchored at the tenant's system mailbox.
// The tenant's lock (tenants/<id>/lock) is held for the run.
func RunCustomer(ctx context.Context, deps Deps, row partner.Row, opt Options, sink func(Event)) (Outcome, Receipt) {
	r, err := New(deps, row, opt)
	if err != nil {
		o := Outcome{TenantID: row.TenantID, Name: row.Name, Result: ResultFailed, ExitCode: 2, Lane: row.Lane, Message: err.Error(), Err: err}
		if sink != nil {
			sink(Event{TenantID: row.TenantID, Time: deps.now(), Type: "finished", Outcome: &o})
		}
		return o, Receipt{}
	}
	return r.Run(ctx, sink)
}

func (d Deps) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}
