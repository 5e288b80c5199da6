package partner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"itdr-onboard/auth"
	"itdr-onboard/internal/httpx"
)

// Consenter is what the bootstrap needs of Partner Center.
type Consenter interface {
	Consent(ctx context.Context, tenantID, appID, displayName string, grants []Grant) (already bool, err error)
}

// Bootstrap makes the onboarding app usable in one customer tenant: the
// Partner Center consent, then a fresh customer token for Graph and for
// Exchange Online, waiting out the documented propagation of a new consent
// (AADSTS65001 right after consent) with bounded back-off.
type Bootstrap struct {
	PC    Consenter
	AppID string
	// Token redeems the partner sign-in for a customer tenant
	// (auth.Client.TokenForTenant).
	Token         func(ctx context.Context, scope, tenantID string) (string, error)
	GraphScope    string
	ExchangeScope string
	Grants        []Grant // default DefaultGrants()
	DisplayName   string
	Backoff       []time.Duration // default 5s, 10s, 20s, 40s, 60s (2 min 15 s in all)
	Sleep         func(ctx context.Context, d time.Duration) error
}

// Result is the outcome of the bootstrap for one customer.
type Result struct {
	TenantID string `json:"tenant_id"`
	// Consent: "created", "already-existed", "skipped" (a token already
	// worked) or "failed".
	Consent string `json:"consent"`
	// Lane: ready, partial (no Exchange), or the lane a failure puts the
	// tenant in (not-assigned, settling, ca-blocked, not-consented).
	Lane Lane `json:"lane"`
	// GraphOK and ExchangeOK say which customer tokens were obtained.
	GraphOK    bool   `json:"graph_ok"`
	ExchangeOK bool   `json:"exchange_ok"`
	Attempts   int    `json:"token_attempts"`
	AADSTS     int    `json:"aadsts,omitempty"`
	Remedy     string `json:"remedy,omitempty"`
	Err        error  `json:"-"`
}

// DefaultBackoff is the bounded wait for a consent to propagate.
var DefaultBackoff = []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second, 60 * time.Second}

func aadCode(err error) int {
	var ae *auth.Error
	if errors.As(err, &ae) {
		return ae.Code
	}
	return 0
}

// Classify puts a customer-token failure into a lane with its remedy.
func Classify(err error, tenant string) (Lane, string) {
	switch aadCode(err) {
	case 65001:
		return LaneNotConsented, "The onboarding app is still not consented in this tenant after the bounded wait: run the plan again in a few minutes; if it persists, check the Partner Center consent (AdminAgents, a GDAP role GA/PRA/Cloud Application Administrator) or have the customer's Global Administrator grant admin consent."
	case 53003:
		return LaneCABlocked, "The customer's Conditional Access blocks service-provider (GDAP) sign-ins: the customer must exclude service provider users from that policy (Entra → Conditional Access → policy → Users → Exclude → Guest or external users → Service provider users), or onboard directly with their Global Administrator."
	case 650052:
		return LaneNoExchange, "The tenant has no Exchange Online service principal (no Exchange licence): Exchange steps cannot run; the customer needs an Exchange Online licence, or the tenant is onboarded without Exchange-based checks."
	case 50020:
		return LaneSettling, "The partner user has no access to this tenant yet: a GDAP relationship or access assignment is still propagating (up to 3 minutes, CIPP waits 15), or the user is in no group assigned to it. Run the plan again; if the lane stays, fix the group assignment."
	}
	return "", fmt.Sprintf("Could not get a token for tenant %s: %v", tenant, err)
}

// ClassifyConsent puts a refused Partner Center consent into a lane with
// its remedy: not-assigned (403: not in AdminAgents, or no GDAP role that
// may consent), "" for a sign-in without MFA (401 900421: sign in again).
func ClassifyConsent(err error) (Lane, string) {
	if pe, ok := AsError(err); ok && pe.MFARequired() {
		return "", "Partner Center requires MFA: run `itdr-onboard partner sign-in` again and complete multi-factor authentication."
	}
	return LaneNotAssigned, "Partner Center refused the consent: the signed-in user must be in AdminAgents and hold Global Administrator, Privileged Role Administrator or Cloud Application Administrator in this customer over GDAP. " + err.Error()
}

// Run bootstraps one tenant.
func (b *Bootstrap) Run(ctx context.Context, tenantID string) Result {
	res := Result{TenantID: tenantID}
	grants := b.Grants
	if grants == nil {
		grants = DefaultGrants()
	}
	already, err := b.PC.Consent(ctx, tenantID, b.AppID, b.DisplayName, grants)
	if err != nil {
		res.Consent, res.Err = "failed", err
		res.Lane, res.Remedy = ClassifyConsent(err)
		return res
	}
	t := b.Tokens(ctx, tenantID)
	t.Consent = "created"
	if already {
		t.Consent = "already-existed"
	}
	return t
}

// Tokens asks for fresh customer tokens (Graph, then Exchange) after the
// consent, retrying AADSTS65001 with the bounded back-off (the consent's
// propagation), and puts a failure into its lane with its remedy. A tenant
// without an Exchange Online service principal (650052) is partial: Graph
// works, the Exchange steps are handed off.
func (b *Bootstrap) Tokens(ctx context.Context, tenantID string) Result {
	res := Result{TenantID: tenantID}
	sleep := b.Sleep
	if sleep == nil {
		sleep = httpx.SleepContext
	}
	backoff := b.Backoff
	if backoff == nil {
		backoff = DefaultBackoff
	}
	// A fresh customer token: nothing was cached for this tenant before
	// the consent succeeded, so MSAL redeems the refresh token again.
	token := func(scope string) error {
		for i := 0; ; i++ {
			res.Attempts++
			_, err := b.Token(ctx, scope, tenantID)
			if err == nil {
				return nil
			}
			if aadCode(err) != 65001 || i >= len(backoff) {
				return err
			}
			if serr := sleep(ctx, backoff[i]); serr != nil {
				return err
			}
		}
	}
	if err := token(b.GraphScope); err != nil {
		res.Err = err
		res.AADSTS = aadCode(err)
		res.Lane, res.Remedy = Classify(err, tenantID)
		return res
	}
	res.GraphOK = true
	if b.ExchangeScope != "" {
		if err := token(b.ExchangeScope); err != nil {
			res.AADSTS = aadCode(err)
			lane, remedy := Classify(err, tenantID)
			if lane == LaneNoExchange {
				res.Lane, res.Remedy = LanePartial, remedy
				return res
			}
			res.Err, res.Lane, res.Remedy = err, lane, remedy
			return res
		}
		res.ExchangeOK = true
	}
	res.Lane = LaneReady
	return res
}
