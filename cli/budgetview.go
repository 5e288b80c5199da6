package cli

import (
	"itdr-onboard/internal/budget"
	"itdr-onboard/steps"
)

// budgetViews is the batch watch header's budgets from the run's shared Set
// (batch.Config.Budgets): one per upstream, the busiest tenant's for the
// per-tenant ones, in the unit of its tightest window.
func budgetViews(s *budget.Set) func() []steps.BudgetView {
	return func() []steps.BudgetView {
		var out []steps.BudgetView
		for _, u := range s.Summary() {
			out = append(out, steps.BudgetView{Name: budgetName(u), Used: u.InUse, Limit: u.Limit, Per: u.Window, WaitUntil: u.PausedUntil})
		}
		return out
	}
}

func budgetName(u budget.Usage) string {
	name := map[budget.Kind]string{
		budget.Platform: "platform", budget.PartnerCenter: "Partner Center", budget.Graph: "Graph",
		budget.GraphTenant: "Graph/tenant", budget.Exchange: "Exchange/tenant",
	}[u.Key.Kind]
	if name == "" {
		name = string(u.Key.Kind)
	}
	switch u.Unit {
	case budget.ResourceUnits:
		name += " RU"
	case budget.Writes:
		name += " writes"
	}
	return name
}
