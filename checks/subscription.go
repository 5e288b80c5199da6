package checks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"itdr-onboard/platform"
	"itdr-onboard/ui/text"
)

// TrialWarnWindow: a trial that ends within this window still passes, but
// the summary says how soon it ends.
const TrialWarnWindow = 14 * 24 * time.Hour

const remedyAPIKey = "set ITDR_API_KEY and ITDR_API_SECRET to a valid API key and secret of an admin-level platform user (platform portal → Account → API credentials)"

// NoPlatformReason is why a check that needs the platform did not run when
// no platform API credentials are configured.
const NoPlatformReason = "the platform API credentials are not configured (ITDR_API_KEY, ITDR_API_SECRET)"

// noPlatform is the result of a check that needs the platform API when no
// credentials are configured: skipped, naming why and what to do.
func noPlatform() Result {
	return Result{Outcome: Skip, Summary: "not run: " + NoPlatformReason, Remedy: remedyAPIKey}
}

type platformSubscription struct {
	meta
	p   PlatformAPI
	now func() time.Time
}

// NewPlatformSubscription checks that the platform API key is valid, the
// key's user is an admin and the account has an active or trial ITDR
// subscription.
func NewPlatformSubscription(p PlatformAPI, now func() time.Time) Check {
	if now == nil {
		now = time.Now
	}
	return &platformSubscription{
		meta: meta{id: IDPlatformSubscription, title: "ITDR platform account and subscription",
			step: StepPrereqs, phase: BeforeSignIn, sev: Required},
		p: p, now: now,
	}
}

func (c *platformSubscription) Run(ctx context.Context) Result {
	if c.p == nil {
		// Only `check` runs without credentials (onboard refuses to
		// start): a read-only report skips what needs the platform.
		return noPlatform()
	}
	acct, err := c.p.Account(ctx)
	if err != nil {
		var pe *platform.Error
		if errors.As(err, &pe) {
			switch pe.Status {
			case http.StatusUnauthorized:
				return Result{Outcome: Fail, Summary: "platform API key rejected (401 unauthorized)", Remedy: remedyAPIKey, Err: err}
			case http.StatusForbidden:
				return Result{Outcome: Fail, Summary: "platform API key is not allowed to read the account (403 forbidden)", Remedy: remedyAPIKey, Err: err}
			}
		}
		return c.undecided("could not read the platform account", "check the network connection to the ITDR platform and retry", err)
	}
	who := acct.User
	if who == "" {
		who = "the API key's user"
	}
	if !strings.EqualFold(acct.Role, "admin") {
		role := acct.Role
		if role == "" {
			role = "no role"
		}
		return Result{Outcome: Fail,
			Summary: fmt.Sprintf("platform user %s has role %s; mapping tenants needs an admin", text.Line(who), text.Quote(role)),
			Remedy:  "use an API key of an admin-level platform user, or ask an account admin to raise this user's role"}
	}
	now := c.now()
	// A zero end date ("0001-01-01T00:00:00Z") is no end date: it is neither
	// shown nor taken for an expired subscription. (A copy: the client may
	// keep the account it read.)
	subs := make([]platform.Subscription, len(acct.Subscriptions))
	copy(subs, acct.Subscriptions)
	for i := range subs {
		if e := subs[i].ExpiresAt; e != nil && (e.IsZero() || e.Year() <= 1) {
			subs[i].ExpiresAt = nil
		}
	}
	acct.Subscriptions = subs
	var best *platform.Subscription
	var seen []string
	for i := range acct.Subscriptions {
		s := &acct.Subscriptions[i]
		if !strings.EqualFold(s.Product, "itdr") {
			continue
		}
		seen = append(seen, strings.ToLower(s.Status))
		if usable(*s, now) && (best == nil || rank(*s) > rank(*best)) {
			best = s
		}
	}
	acctName := acct.Name
	if acctName == "" {
		acctName = acct.ID
	}
	if best == nil {
		if len(seen) == 0 {
			return Result{Outcome: Fail,
				Summary: fmt.Sprintf("platform account %s has no ITDR subscription", text.Quote(acctName)),
				Remedy:  "start an ITDR trial or buy a subscription in the platform portal (Account → Subscriptions), then retry"}
		}
		return Result{Outcome: Fail,
			Summary: fmt.Sprintf("platform account %s has no usable ITDR subscription (status: %s)", text.Quote(acctName), describeSubs(acct.Subscriptions, now)),
			Remedy:  "renew the ITDR subscription or start a trial in the platform portal (Account → Subscriptions), then retry"}
	}
	base := fmt.Sprintf("platform account %s (%s, admin): ITDR subscription ", text.Quote(acctName), text.Line(who))
	switch strings.ToLower(best.Status) {
	case "trial":
		if best.ExpiresAt == nil {
			return Result{Outcome: Pass, Summary: base + "in trial (no end date reported)"}
		}
		left := best.ExpiresAt.Sub(now)
		s := base + "in trial until " + best.ExpiresAt.UTC().Format("2006-01-02")
		if left <= TrialWarnWindow {
			s += fmt.Sprintf(" (ends in %s)", humanDays(left))
			return Result{Outcome: Pass, Summary: s, Detail: "the trial ends soon: buy an ITDR subscription in the platform portal to keep monitoring"}
		}
		return Result{Outcome: Pass, Summary: s}
	default:
		if best.ExpiresAt != nil {
			return Result{Outcome: Pass, Summary: base + "active until " + best.ExpiresAt.UTC().Format("2006-01-02")}
		}
		return Result{Outcome: Pass, Summary: base + "active"}
	}
}

func usable(s platform.Subscription, now time.Time) bool {
	switch strings.ToLower(s.Status) {
	case "active", "trial":
		return s.ExpiresAt == nil || s.ExpiresAt.After(now)
	}
	return false
}

func rank(s platform.Subscription) int {
	if strings.EqualFold(s.Status, "active") {
		return 2
	}
	return 1
}

func describeSubs(subs []platform.Subscription, now time.Time) string {
	var parts []string
	for _, s := range subs {
		if !strings.EqualFold(s.Product, "itdr") {
			continue
		}
		p := strings.ToLower(s.Status)
		if s.ExpiresAt != nil {
			if s.ExpiresAt.After(now) {
				p += " until " + s.ExpiresAt.UTC().Format("2006-01-02")
			} else {
				p += ", ended " + s.ExpiresAt.UTC().Format("2006-01-02")
			}
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, "; ")
}

func humanDays(d time.Duration) string {
	if d < 24*time.Hour {
		h := int(d.Hours())
		if h <= 1 {
			return "less than 2 hours"
		}
		return fmt.Sprintf("%d hours", h)
	}
	n := int(d.Hours() / 24)
	if n == 1 {
		return "1 day"
	}
	return fmt.Sprintf("%d days", n)
}
