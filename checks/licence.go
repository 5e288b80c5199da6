package checks

import (
	"context"
	"fmt"
	"strings"

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

func (c *exchangeLicence) Run(ctx context.Context) Result {
	if c.g == nil {
		return skipped("not signed in to Microsoft Graph")
	}
	skus, err := c.g.SubscribedSkus(ctx)
	if err != nil {
		return c.undecided("could not read the tenant's subscriptions (GET /subscribedSkus)",
			"make sure the signed-in account can read the organization's subscriptions (Global Administrator), then retry", err)
	}
	var found []string      // "SKU: PLAN"
	var notUsable []string  // exchange plans present but not usable, with why
	var foundation []string // SKUs carrying only the foundation plan
	for _, s := range skus {
		skuOK := strings.EqualFold(s.CapabilityStatus, "Enabled") && s.PrepaidUnits.Enabled > 0
		hasMailbox := false
		for _, p := range s.ServicePlans {
			name := strings.ToUpper(strings.TrimSpace(p.ServicePlanName))
			if !isMailboxPlan(name) {
				continue
			}
			hasMailbox = true
			planOK := strings.EqualFold(p.ProvisioningStatus, "Success")
			if skuOK && planOK {
				found = append(found, s.SkuPartNumber+": "+name)
				continue
			}
			notUsable = append(notUsable, fmt.Sprintf("%s in %s (%s)", name, s.SkuPartNumber, whyUnusable(s, p)))
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
	var parts []string
	if len(notUsable) > 0 {
		parts = append(parts, "Exchange Online plans present but not usable: "+strings.Join(notUsable, "; "))
	}
	if len(foundation) > 0 {
		parts = append(parts, fmt.Sprintf("only %s found (%s), which is not an Exchange Online mailbox licence", foundationPlan, strings.Join(foundation, ", ")))
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
	return Result{Outcome: Fail, Summary: summary, Remedy: remedyLicence, Detail: skuDetail(skus)}
}

func whyUnusable(s m365.SKU, p m365.ServicePlan) string {
	var why []string
	if !strings.EqualFold(s.CapabilityStatus, "Enabled") {
		why = append(why, "subscription "+orUnknown(s.CapabilityStatus))
	}
	if s.PrepaidUnits.Enabled <= 0 {
		why = append(why, "no enabled licences")
	}
	if !strings.EqualFold(p.ProvisioningStatus, "Success") {
		why = append(why, "plan "+orUnknown(p.ProvisioningStatus))
	}
	return strings.Join(why, ", ")
}

func orUnknown(s string) string {
	if s == "" {
		return "status unknown"
	}
	return s
}

func skuDetail(skus []m365.SKU) string {
	var lines []string
	for _, s := range skus {
		var plans []string
		for _, p := range s.ServicePlans {
			plans = append(plans, p.ServicePlanName+"="+p.ProvisioningStatus)
		}
		lines = append(lines, fmt.Sprintf("%s: %s, %d enabled; %s", s.SkuPartNumber, s.CapabilityStatus, s.PrepaidUnits.Enabled, strings.Join(plans, " ")))
	}
	return strings.Join(lines, "\n")
}
