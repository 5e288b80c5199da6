package tui

import (
	"fmt"
	"time"

	"itdr-onboard/steps"
	"itdr-onboard/ui/theme"
)

// renderDone renders the end of a successful run: the healthy summary (tenant,
// organization, changes made and the receipt, billable identities, MFA), or
// the dry run's plan.
func renderDone(st theme.Styles, snap steps.Snapshot, s *steps.Session, width, height int, now time.Time) string {
	var out []string
	kv := func(k, v string) {
		out = append(out, wrapStyled(st.Done.Value.Render, v, st.Done.Label.Render(fmt.Sprintf(" %-20s", k)), width)...)
	}
	switch s.Outcome {
	case "dry-run":
		out = append(out, st.Done.Title.Render(st.Icons.Done+" Dry run finished: nothing was changed"))
		kv("Tenant", tenantName(s))
		out = append(out, "")
		if len(s.Plan) == 0 {
			out = append(out, " No changes are needed.")
		} else {
			out = append(out, renderPlan(st, &steps.PlanDetail{Plan: s.Plan, DryRun: true}, width, now)...)
		}
		return join(fit(st, out, width, height))
	case "healthy":
		out = append(out, st.Done.Title.Render(st.Icons.Done+" Healthy: the tenant is connected and data is flowing"))
	default:
		out = append(out, st.Done.Title.Render(st.Icons.Done+" Finished"))
	}
	out = append(out, "")
	kv("Tenant", tenantName(s))
	if s.Organization.Name != "" {
		kv("Organization", san(s.Organization.Name))
	}
	if s.SignedIn {
		kv("Signed in as", san(s.Account.Username))
	}
	switch n := s.ChangesMade(); n {
	case 0:
		kv("Changes made", "none")
	default:
		kv("Changes made", fmt.Sprintf("%d", n))
		for _, a := range s.Changes() {
			line := san(a.Change.Summary)
			if a.NoOp {
				line += " (already in place)"
			}
			out = append(out, wrapStyled(st.App.Text.Render, line, "   "+st.Check.Pass.Render(st.Icons.Pass)+" ", width)...)
		}
	}
	if s.ReceiptPath != "" {
		kv("Receipt", san(s.ReceiptPath))
	}
	if s.AuditPath != "" {
		kv("Audit trail", san(s.AuditPath))
	}
	if len(s.Consent.Granted) > 0 {
		kv("Permissions granted", fmt.Sprintf("%d", len(s.Consent.Granted)))
	}
	if s.HaveSummary {
		kv("Billable identities", fmt.Sprintf("%d", s.Billable))
		switch {
		case s.MFATotal < 0:
			kv("MFA registered", "not available (the report needs more permissions)")
		case s.MFATotal == 0:
			kv("MFA registered", "no users in the report")
		default:
			kv("MFA registered", fmt.Sprintf("%d of %d users (%d%%)", s.MFARegistered, s.MFATotal, s.MFARegistered*100/s.MFATotal))
		}
	}
	return join(fit(st, out, width, height))
}

func tenantName(s *steps.Session) string {
	t := san(s.Org.DisplayName)
	id := san(s.TenantID)
	switch {
	case t == "":
		return id
	case id == "":
		return t
	}
	return t + " (" + id + ")"
}

// renderFlowDone renders the end of a flow other than onboarding (check,
// reauthorize, unmap): its headline, the rows it reports and its lines.
func renderFlowDone(st theme.Styles, d *steps.Done, s *steps.Session, width int, now time.Time) []string {
	out := wrapStyled(st.Done.Title.Render, san(d.Headline), st.Done.Title.Render(st.Icons.Done+" "), width)
	out = append(out, "")
	if t := tenantName(s); t != "" {
		out = append(out, wrapStyled(st.Done.Value.Render, t, st.Done.Label.Render(fmt.Sprintf(" %-20s", "Tenant")), width)...)
	}
	if s.SignedIn {
		out = append(out, wrapStyled(st.Done.Value.Render, san(s.Account.Username), st.Done.Label.Render(fmt.Sprintf(" %-20s", "Signed in as")), width)...)
	}
	if len(d.Items) > 0 {
		out = append(out, "")
		out = append(out, renderItems(st, d.Items, width, now)...)
	}
	if len(d.Lines) > 0 {
		out = append(out, "")
		for _, l := range d.Lines {
			out = append(out, wrapStyled(st.App.Text.Render, san(l), " ", width)...)
		}
	}
	return out
}
