package checks

import (
	"context"
	"fmt"
	"strings"
	"time"

	"itdr-onboard/m365"
)

// exchangeMailboxPlans are the service plans that give a tenant Exchange
// Online (and with it the admin API). EXCHANGE_S_FOUNDATION does not count.
var exchangeMailboxPlans = []string{
	"EXCHANGE_S_STANDARD", "EXCHANGE_S_ENTERPRISE", "EXCHANGE_S_ESSENTIALS", "EXCHANGE_S_DESKLESS",
}

const foundationPlan = "EXCHANGE_S_FOUNDATION"

// isMailboxPlan accepts the four plans and their government-cloud
// variants (EXCHANGE_S_ENTERPRISE_GOV, ...).
func isMailboxPlan(name string) bool {
	n := strings.ToUpper(strings.TrimSpace(name))
	for _, p := range exchangeMailboxPlans {
		if n == p || n == p+"_GOV" {
			return true
		}
	}
	return false
}

type exchangeLicence struct {
	meta
	g GraphAPI
}

// NewExchangeLicence checks that the tenant has an enabled SKU with an
// Exchange Online mailbox service plan.
func NewExchangeLicence(g GraphAPI) Check {
	return &exchangeLicence{
		meta: meta{id: IDExchangeLicence, title: "Exchange Online licence",
			step: StepPrereqs, phase: Tenant, sev: Required},
		g: g,
	}
}

const remedyLicence = "add a subscription that includes Exchange Online (Plan 1, Plan 2, Essentials or Kiosk — e.g. Microsoft 365 Business Basic/Standard/Premium, Office 365 E1/E3/E5 or Exchange Online Plan 1) in the Microsoft 365 admin center → Billing, then retry"

// The lifecycle states of a subscribed SKU (subscribedSku.capabilityStatus),
// in the order a subscription that is not renewed moves through them.
// Source: Microsoft Graph v1.0, "subscribedSku resource type" and the
// "capabilityStatus values" table of "assignedPlan resource type"
// (learn.microsoft.com/graph/api/resources/subscribedsku,
// learn.microsoft.com/graph/api/resources/assignedplan):
//
//	Enabled   available for normal use and assignment
//	Warning   available for normal use and assignment, but in a grace period
//	Suspended unavailable for assignment; data associated with it is kept
//	LockedOut unavailable for all administrators and users; data is kept
//	          (the customer cancelled; the last state before Deleted)
//	Deleted   unavailable; data associated with it may be deleted
//
// The units in each state are prepaidUnits (licenseUnitsDetail: enabled,
// warning, suspended, lockedOut).
type skuState struct {
	usable bool   // Exchange works under this SKU
	grace  bool   // usable, but only until the grace period ends
	why    string // when not usable: what the state means
	remedy string // when not usable: what to do
}

const remedyReactivate = "reactivate or renew the subscription in the Microsoft 365 admin center → Billing → Your products (or buy a subscription that includes Exchange Online), then retry"

func classifySKU(s m365.SKU) skuState {
	units := s.PrepaidUnits.Enabled + s.PrepaidUnits.Warning
	switch strings.ToLower(strings.TrimSpace(s.CapabilityStatus)) {
	case "enabled":
		if units <= 0 {
			return skuState{why: "no enabled licences", remedy: remedyLicence}
		}
		return skuState{usable: true}
	case "warning":
		if units <= 0 {
			return skuState{why: "subscription in its grace period but no licences in it", remedy: remedyReactivate}
		}
		return skuState{usable: true, grace: true}
	case "suspended":
		return skuState{why: "subscription Suspended: it expired or was cancelled; Exchange is unavailable, data is kept until it is deleted", remedy: remedyReactivate}
	case "lockedout":
		return skuState{why: "subscription LockedOut: it was cancelled; no one can use it, data is kept until it is deleted", remedy: remedyReactivate}
	case "deleted":
		return skuState{why: "subscription Deleted", remedy: remedyLicence}
	case "":
		return skuState{why: "subscription status not reported by Microsoft", remedy: "check the subscription in the Microsoft 365 admin center → Billing → Your products, then retry"}
	default:
		return skuState{why: fmt.Sprintf("subscription status %q, which this version does not know", s.CapabilityStatus),
			remedy: "check the subscription in the Microsoft 365 admin center → Billing → Your products, then retry"}
	}
}

// The provisioning states of a service plan (servicePlanInfo.provisioningStatus).
// Source: Microsoft Graph v1.0, "servicePlanInfo resource type"
// (learn.microsoft.com/graph/api/resources/serviceplaninfo):
//
//	Success             the service is fully provisioned
//	Disabled            the service is disabled
//	Error               not provisioned, in an error state
//	PendingInput        not provisioned, awaiting service confirmation
//	PendingActivation   provisioned, but an administrator must activate it
//	PendingProvisioning Microsoft added the service to the SKU; not yet active in the tenant
func classifyPlan(p m365.ServicePlan) (ok bool, why, remedy string) {
	const wait = "wait for Microsoft to finish provisioning Exchange Online (this can take several hours on a new subscription), then retry"
	switch strings.ToLower(strings.TrimSpace(p.ProvisioningStatus)) {
	case "success":
		return true, "", ""
	case "disabled":
		return false, "plan Disabled: Exchange Online is turned off in this subscription",
			"turn Exchange Online back on for the subscription (Microsoft 365 admin center → Billing → Your products → the product's apps and services, or ask Microsoft support), then retry"
	case "error":
		return false, "plan Error: Microsoft could not provision Exchange Online",
			"open a Microsoft support request (Microsoft 365 admin center → Support) about the Exchange Online provisioning error, then retry"
	case "pendinginput":
		return false, "plan PendingInput: Exchange Online is not provisioned yet (Microsoft awaits service confirmation)", wait
	case "pendingactivation":
		return false, "plan PendingActivation: Exchange Online is provisioned but an administrator must activate it",
			"activate Exchange Online in the Microsoft 365 admin center (Setup, or the product's apps and services), then retry"
	case "pendingprovisioning":
		return false, "plan PendingProvisioning: Microsoft added Exchange Online to the product but it is not active in the tenant yet", wait
	case "":
		return false, "plan status not reported by Microsoft", "check the subscription in the Microsoft 365 admin center → Billing → Your products, then retry"
	default:
		return false, fmt.Sprintf("plan status %q, which this version does not know", p.ProvisioningStatus),
			"check the subscription in the Microsoft 365 admin center → Billing → Your products, then retry"
	}
}

// subscriptionReader is the optional part of GraphAPI that reads the
// tenant's commercial subscriptions; the licence check uses it only to name
// the day a grace period ends.
type subscriptionReader interface {
	DirectorySubscriptions(ctx context.Context) ([]m365.CompanySubscription, error)
}

func (c *exchangeLicence) Run(ctx context.Context) Result {
	if c.g == nil {
		return skipped("not signed in to Microsoft Graph")
	}
	skus, err := c.g.SubscribedSkus(ctx)
	if err != nil {
		return c.undecided("could not read the tenant's subscriptions (GET /subscribedSkus)",
			"make sure the signed-in account can read the organization's subscriptions (Global Administrator), then retry", err)
	}
	var found []string      // "SKU: PLAN", fully usable
	var grace []m365.SKU    // usable SKUs in their grace period
	var graceFound []string // "SKU: PLAN" of those
	var notUsable []string  // exchange plans present but not usable, with why
	var remedies []string   // distinct remedies for notUsable, in order
	var foundation []string // SKUs carrying only the foundation plan
	addRemedy := func(r string) {
		for _, x := range remedies {
			if x == r {
				return
			}
		}
		remedies = append(remedies, r)
	}
	for _, s := range skus {
		st := classifySKU(s)
		hasMailbox, inGrace := false, false
		for _, p := range s.ServicePlans {
			name := strings.ToUpper(strings.TrimSpace(p.ServicePlanName))
			if !isMailboxPlan(name) {
				continue
			}
			hasMailbox = true
			planOK, planWhy, planRemedy := classifyPlan(p)
			switch {
			case st.usable && planOK && st.grace:
				graceFound = append(graceFound, s.SkuPartNumber+": "+name)
				inGrace = true
			case st.usable && planOK:
				found = append(found, s.SkuPartNumber+": "+name)
			default:
				var why []string
				if !st.usable {
					why = append(why, st.why)
					addRemedy(st.remedy)
				}
				if !planOK {
					why = append(why, planWhy)
					addRemedy(planRemedy)
				}
				notUsable = append(notUsable, fmt.Sprintf("%s in %s (%s)", name, s.SkuPartNumber, strings.Join(why, "; ")))
			}
		}
		if inGrace {
			grace = append(grace, s)
		}
		if !hasMailbox {
			for _, p := range s.ServicePlans {
				if strings.EqualFold(strings.TrimSpace(p.ServicePlanName), foundationPlan) {
					foundation = append(foundation, s.SkuPartNumber)
					break
				}
			}
		}
	}
	if len(found) > 0 {
		return Result{Outcome: Pass, Summary: fmt.Sprintf("Exchange Online licence found (%s)", strings.Join(found, ", "))}
	}
	if len(graceFound) > 0 {
		return c.graceResult(ctx, grace, graceFound, skus)
	}
	var parts []string
	if len(notUsable) > 0 {
		parts = append(parts, "Exchange Online plans present but not usable: "+strings.Join(notUsable, "; "))
	}
	if len(foundation) > 0 {
		parts = append(parts, fmt.Sprintf("only %s found (%s), which is not an Exchange Online mailbox licence", foundationPlan, strings.Join(foundation, ", ")))
		addRemedy(remedyLicence)
	}
	summary := "no Exchange Online licence"
	switch {
	case len(skus) == 0:
		summary += ": the tenant has no subscriptions"
	case len(parts) > 0:
		summary += ": " + strings.Join(parts, "; ")
	default:
		summary += fmt.Sprintf(": none of the tenant's %d subscriptions includes Exchange Online", len(skus))
	}
	remedy := remedyLicence
	if len(remedies) > 0 {
		remedy = strings.Join(remedies, "; or ")
	}
	return Result{Outcome: Fail, Summary: summary, Remedy: remedy, Detail: skuDetail(skus)}
}

// graceResult is the outcome when the only usable Exchange licences are in
// their grace period (capabilityStatus Warning): Exchange works today, so the
// onboarding goes on, with a warning that names the day the grace period
// ends. That day is the nextLifecycleDateTime of the SKU's subscription in
// Warning (GET /directory/subscriptions); when it cannot be read, the
// warning says so instead of guessing.
func (c *exchangeLicence) graceResult(ctx context.Context, grace []m365.SKU, found []string, skus []m365.SKU) Result {
	ends := "on a day Microsoft did not report"
	if sr, ok := c.g.(subscriptionReader); ok {
		subs, err := sr.DirectorySubscriptions(ctx)
		switch {
		case err != nil:
			ends = "on a day that could not be read (GET /directory/subscriptions"
			if why := shortCause(err); why != "" {
				ends += ": " + why
			}
			ends += ")"
		default:
			if end, ok := graceEnd(grace, subs); ok {
				ends = "on " + end.UTC().Format("2006-01-02 15:04 UTC")
			}
		}
	}
	return Result{Outcome: Warn,
		Summary: fmt.Sprintf("Exchange Online licence in its grace period (%s): the subscription has expired; Exchange keeps working until the grace period ends %s, then it is suspended",
			strings.Join(found, ", "), ends),
		Remedy: "renew the subscription in the Microsoft 365 admin center → Billing → Your products before the grace period ends, or the platform stops receiving Exchange data",
		Detail: skuDetail(skus)}
}

// graceEnd is the earliest nextLifecycleDateTime of a subscription in
// Warning that belongs to one of the grace SKUs. A missing or zero date is
// not a date.
func graceEnd(grace []m365.SKU, subs []m365.CompanySubscription) (time.Time, bool) {
	var best time.Time
	for _, sub := range subs {
		if !strings.EqualFold(sub.Status, "Warning") || sub.NextLifecycleDateTime == nil || sub.NextLifecycleDateTime.IsZero() {
			continue
		}
		for _, s := range grace {
			same := (sub.SkuID != "" && strings.EqualFold(sub.SkuID, s.SkuID)) ||
				(sub.SkuID == "" && strings.EqualFold(sub.SkuPartNumber, s.SkuPartNumber))
			if same && (best.IsZero() || sub.NextLifecycleDateTime.Before(best)) {
				best = *sub.NextLifecycleDateTime
			}
		}
	}
	return best, !best.IsZero()
}

func skuDetail(skus []m365.SKU) string {
	var lines []string
	for _, s := range skus {
		var plans []string
		for _, p := range s.ServicePlans {
			plans = append(plans, p.ServicePlanName+"="+p.ProvisioningStatus)
		}
		u := s.PrepaidUnits
		lines = append(lines, fmt.Sprintf("%s: %s, units enabled %d, warning %d, suspended %d, locked out %d; %s",
			s.SkuPartNumber, s.CapabilityStatus, u.Enabled, u.Warning, u.Suspended, u.LockedOut, strings.Join(plans, " ")))
	}
	return strings.Join(lines, "\n")
}
