package steps

import (
	"context"
	"fmt"
	"strings"
	"time"

	"itdr-onboard/checks"
	"itdr-onboard/m365"
	"itdr-onboard/partner"
)

// Customer mode: the per-tenant onboarding of a GDAP customer with the
// partner technician's sign-in (docs/gdap.md "Onboarding one customer").
// The consent bootstrap replaces the sign-in step; the prerequisites, role
// fixes, mapping and health are onboarding's own steps, run with clients
// bound to the customer tenant (package customer wires them).

// Bootstrap is the consent bootstrap step of a customer run.
const Bootstrap ID = "bootstrap"

// BootstrapChangeCheck is the CheckID of the bootstrap's change in the
// record (journal, receipt, audit trail).
const BootstrapChangeCheck = "partner.consent-bootstrap"

// CustomerRun is what a customer run knows about its tenant and what the
// bootstrap found; the steps fill it in, package customer reads it at the
// end (Options.Customer).
type CustomerRun struct {
	// Row is the tenant's discovery row (effective roles, organization).
	Row partner.Row
	// CanMap: the GDAP roles allow consent and the platform's directory
	// roles (Privileged Role Administrator): the flow goes on to the mapping.
	CanMap bool
	// Consent is what the bootstrap did: created, already-existed.
	Consent string
	// Tokens is how the fresh customer tokens went.
	Tokens partner.Result
	// HandOff is the work that needs the customer (or a partner-side fix).
	HandOff []HandOff
}

// AddHandOff adds h unless the same reason is handed off already.
func (c *CustomerRun) AddHandOff(h HandOff) {
	for _, x := range c.HandOff {
		if x.Reason == h.Reason {
			return
		}
	}
	c.HandOff = append(c.HandOff, h)
}

// CustomerAPI is what the executor needs for a customer tenant over GDAP.
type CustomerAPI interface {
	// Consent pushes the onboarding app's grants into the tenant through
	// Partner Center (applicationconsents); already reports "Permission
	// entry already exists".
	Consent(ctx context.Context) (already bool, err error)
	// Tokens asks for fresh customer tokens for Graph and Exchange,
	// retrying AADSTS65001 with a bounded back-off.
	Tokens(ctx context.Context) partner.Result
	// Consented reads whether the consent is in place (a customer token is
	// issued) for the record's reconcile; known is false when it cannot tell.
	Consented(ctx context.Context) (present, known bool)
	// Organization reads the tenant's organization (never /me: the partner
	// user is not a user object there).
	Organization(ctx context.Context) (m365.Organization, error)
	// Change is the bootstrap's change as the record shows it.
	Change() checks.Change
}

// Customer-mode effects.
type (
	// ConsentBootstrap is the Partner Center consent (a write: journaled,
	// never sent by a dry run).
	ConsentBootstrap struct{}
	// CustomerTokens asks for fresh customer tokens after the consent.
	CustomerTokens struct{}
	// LoadCustomer reads the customer's organization (no /me).
	LoadCustomer struct{}
)

func (ConsentBootstrap) isEffect() {}
func (CustomerTokens) isEffect()   {}
func (LoadCustomer) isEffect()     {}
func (ConsentBootstrap) writes()   {}

// Customer-mode events.
type (
	// Bootstrapped answers ConsentBootstrap: applied, or found in place.
	Bootstrapped struct {
		Applied checks.Applied
		Err     error
	}
	// CustomerTokensIssued answers CustomerTokens.
	CustomerTokensIssued struct{ Result partner.Result }
)

func (Bootstrapped) isEvent()         {}
func (CustomerTokensIssued) isEvent() {}

// CustomerOnboard is `onboard` for a GDAP customer: consent bootstrap →
// prerequisites → role fixes → mapping → health. Without Privileged Role
// Administrator the run ends after the role fixes (the platform's
// permissions and directory roles are handed off).
var CustomerOnboard = Flow{Name: "partner-onboard", Steps: func(opt Options, infos []CheckInfo) []Step {
	list := []Step{NewBootstrapStep(), NewPrereqStep(infos), NewRolesStep(infos)}
	c := opt.Customer
	if c == nil || c.CanMap {
		list = append(list, NewMappingStep())
	}
	if c == nil || (c.CanMap && len(c.HandOff) == 0) {
		// With steps handed off the platform cannot read the tenant
		// healthy until the customer has done them: no health wait.
		list = append(list, NewHealthStep())
	}
	return list
}, Final: customerFinal}

// customerFinal words a customer run that ended with work handed off; nil
// otherwise (a failure, or onboarding's own healthy end).
func customerFinal(e *Engine, _ []CheckInfo, _ time.Time) *Done {
	s := e.Session()
	c := s.Opt.Customer
	if c == nil || e.Failure() != nil || s.Outcome == "dry-run" || (len(c.HandOff) == 0 && c.CanMap) {
		return nil
	}
	d := &Done{Outcome: "handed-off", Fields: map[string]any{"hand_off": c.HandOff},
		Headline: "Handed off: " + customerName(s) + " needs its customer for what this partner user cannot do over GDAP."}
	if s.Integration.ID != "" {
		d.Headline += " The tenant is mapped (" + s.Integration.ID + ")."
	}
	for _, h := range c.HandOff {
		d.Lines = append(d.Lines, h.Reason+": "+strings.Join(h.Steps, "; "))
		if h.CustomerAction != "" {
			d.Lines = append(d.Lines, "what to do: "+h.CustomerAction)
		}
	}
	return d
}

// doCustomer performs the customer-mode effects.
func (x *Executor) doCustomer(ctx context.Context, eff Effect) (Event, bool) {
	switch eff.(type) {
	case ConsentBootstrap:
		if x.Customer == nil {
			return Bootstrapped{Err: fmt.Errorf("no customer tenant wired")}, true
		}
		a, err := x.write(ctx, x.Customer.Change(), func(ctx context.Context) (checks.Applied, error) {
			already, err := x.Customer.Consent(ctx)
			// "Permission entry already exists": the consent is in place,
			// recorded as found, not as applied by this run.
			return checks.Applied{NoOp: already}, err
		})
		return Bootstrapped{Applied: a, Err: err}, true
	case CustomerTokens:
		if x.Customer == nil {
			return CustomerTokensIssued{Result: partner.Result{Err: fmt.Errorf("no customer tenant wired")}}, true
		}
		return CustomerTokensIssued{Result: x.Customer.Tokens(ctx)}, true
	case LoadCustomer:
		if x.Customer == nil {
			return TenantLoaded{Err: fmt.Errorf("no customer tenant wired")}, true
		}
		org, err := x.Customer.Organization(ctx)
		return TenantLoaded{Org: org, Err: err}, true
	}
	return nil, false
}

func customerPanicEvent(eff Effect, err error) Event {
	switch eff.(type) {
	case ConsentBootstrap:
		return Bootstrapped{Err: err}
	case CustomerTokens:
		return CustomerTokensIssued{Result: partner.Result{Err: err}}
	case LoadCustomer:
		return TenantLoaded{Err: err}
	}
	return nil
}

// BootstrapStep makes the onboarding app usable in the customer tenant and
// stands in for sign-in: Partner Center consent, fresh customer tokens, the
// tenant's organization.
type BootstrapStep struct {
	status Status
	fail   *Failure
	items  []Item
}

// NewBootstrapStep builds the step.
func NewBootstrapStep() *BootstrapStep { return &BootstrapStep{status: StatusPending} }

func (b *BootstrapStep) ID() ID         { return Bootstrap }
func (b *BootstrapStep) Title() string  { return "Consent bootstrap" }
func (b *BootstrapStep) Status() Status { return b.status }

func (b *BootstrapStep) Enter(s *Session) []Effect {
	b.fail, b.items = nil, nil
	b.status = StatusRunning
	return []Effect{ConsentBootstrap{}}
}

func (b *BootstrapStep) cust(s *Session) *CustomerRun {
	if s.Opt.Customer == nil {
		s.Opt.Customer = &CustomerRun{}
	}
	return s.Opt.Customer
}

func (b *BootstrapStep) stop(s *Session, lane partner.Lane, msg, remedy string, err error) {
	c := b.cust(s)
	if lane != "" {
		c.Tokens.Lane = lane
	}
	b.status = StatusFailed
	b.fail = &Failure{Kind: FailStopped, Message: msg, Remedy: remedy, Err: err}
}

func (b *BootstrapStep) Handle(s *Session, ev Event) []Effect {
	c := b.cust(s)
	switch ev := ev.(type) {
	case Bootstrapped:
		if ev.Err != nil {
			lane, remedy := partner.ClassifyConsent(ev.Err)
			b.items = append(b.items, Item{ID: "consent", Label: "Partner Center consent", Outcome: checks.Fail, Summary: ev.Err.Error(), Remedy: remedy})
			if lane == "" {
				b.stop(s, "", "Partner Center refused the sign-in (no MFA claim). Nothing was changed in the tenant.", remedy, ev.Err)
				return nil
			}
			b.stop(s, lane, "Partner Center refused the consent bootstrap. Nothing was changed in the tenant.", remedy, ev.Err)
			return nil
		}
		s.Applied = append(s.Applied, ev.Applied)
		c.Consent = "created"
		sum := "the onboarding app was consented through Partner Center"
		if ev.Applied.NoOp {
			c.Consent = "already-existed"
			sum = "the onboarding app was consented already (Permission entry already exists)"
		}
		b.items = append(b.items, Item{ID: "consent", Label: "Partner Center consent", Outcome: checks.Pass, Summary: sum})
		return []Effect{CustomerTokens{}}
	case CustomerTokensIssued:
		r := ev.Result
		c.Tokens = r
		if !r.GraphOK {
			remedy := r.Remedy
			if remedy == "" && r.Err != nil {
				remedy = "Retry; if it persists, check the tenant's GDAP relationship: " + r.Err.Error()
			}
			b.items = append(b.items, Item{ID: "tokens", Label: "Customer tokens", Outcome: checks.Fail,
				Summary: fmt.Sprintf("no Microsoft Graph token for the tenant after %d attempt(s)%s", r.Attempts, aadstsSuffix(r.AADSTS)), Remedy: remedy})
			b.stop(s, r.Lane, fmt.Sprintf("No customer token for %s: the tenant is in lane %s. The consent stays in place; nothing else was changed.", customerName(s), laneOr(r.Lane, "failed")), remedy, r.Err)
			return nil
		}
		sum := fmt.Sprintf("Microsoft Graph and Exchange Online tokens issued for the tenant (%d token request(s))", r.Attempts)
		out := checks.Pass
		if !r.ExchangeOK {
			out = checks.Warn
			sum = fmt.Sprintf("Microsoft Graph token issued; none for Exchange Online%s", aadstsSuffix(r.AADSTS))
			c.AddHandOff(HandOff{Steps: []string{"Exchange Organization Management role fixes", "turning on the unified audit log"},
				Reason: "the tenant has no Exchange Online service principal (no Exchange licence, AADSTS650052)", CustomerAction: r.Remedy, Who: "customer"})
		}
		b.items = append(b.items, Item{ID: "tokens", Label: "Customer tokens", Outcome: out, Summary: sum, Remedy: r.Remedy})
		return []Effect{LoadCustomer{}}
	case TenantLoaded:
		if ev.Err != nil {
			b.status = StatusFailed
			b.fail = &Failure{Kind: FailError, Message: "The customer token works, but the tenant's organization could not be read: " + ev.Err.Error(),
				Remedy: "Retry; the GDAP roles may still be propagating (up to 3 minutes after activation).", Err: ev.Err}
			return nil
		}
		s.Org = ev.Org
		s.SignedIn = true
		b.status = StatusDone
	}
	return nil
}

func aadstsSuffix(code int) string {
	if code == 0 {
		return ""
	}
	return fmt.Sprintf(" (AADSTS%d)", code)
}

func laneOr(l partner.Lane, def string) string {
	if l == "" {
		return def
	}
	return string(l)
}

func customerName(s *Session) string {
	if c := s.Opt.Customer; c != nil && c.Row.Name != "" {
		return c.Row.Name + " (" + s.TenantID + ")"
	}
	return s.TenantID
}

// Reset makes the step pending again.
func (b *BootstrapStep) Reset() { b.status, b.fail, b.items = StatusPending, nil, nil }

func (b *BootstrapStep) Snapshot(s *Session) Snapshot {
	snap := Snapshot{ID: Bootstrap, Title: b.Title(), Status: b.status, Fail: b.fail, Items: append([]Item(nil), b.items...)}
	switch b.status {
	case StatusRunning:
		snap.Line = "consenting the onboarding app in " + customerName(s) + " through Partner Center"
		if len(b.items) > 0 {
			snap.Line = "asking for fresh customer tokens (AADSTS65001 right after a consent is retried, bounded)"
		}
	case StatusDone:
		parts := []string{consentWords(s.Opt.Customer.Consent)}
		if s.Opt.Customer.Tokens.ExchangeOK {
			parts = append(parts, "Graph and Exchange tokens")
		} else {
			parts = append(parts, "Graph token (no Exchange)")
		}
		snap.Line = s.Who() + ": " + strings.Join(parts, ", ")
	case StatusFailed:
		snap.Next = retryUnlessFinal(b.fail)
	}
	return snap
}

// consentWords says what the consent bootstrap did in words, not its
// recorded value.
func consentWords(v string) string {
	switch v {
	case "created":
		return "consent granted"
	case "already-existed":
		return "consent already in place"
	case "skipped":
		return "consent not needed (a customer token already worked)"
	case "":
		return "consent checked"
	}
	return "consent " + v
}
