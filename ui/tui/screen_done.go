package tui

import (
	"fmt"
	"time"

	"itdr-onboard/steps"
	"itdr-onboard/ui/text"
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
			out = append(out, renderPlan(st, &steps.PlanDetail{Plan: s.Plan, DryRun: true}, len(s.Plan), width, now)...)
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
			kv("MFA registered", fmt.Sprintf("%d of %d users (%d%%)", s.MFARegistered, s.MFATotal, text.Percent(s.MFARegistered, s.MFATotal)))
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
	mark := st.Done.Title.Render(st.Icons.Done + " ")
	if d.ExitCode != 0 { // status: a tenant is not healthy
		mark = st.Check.Warn.Render(st.Icons.Warn) + " "
	}
	out := wrapStyled(st.Done.Title.Render, san(d.Headline), mark, width)
	out = append(out, "")
	if t := tenantName(s); t != "" && d.Status == nil { // status names each tenant below
		out = append(out, wrapStyled(st.Done.Value.Render, t, st.Done.Label.Render(fmt.Sprintf(" %-20s", "Tenant")), width)...)
	}
	if s.SignedIn {
		out = append(out, wrapStyled(st.Done.Value.Render, san(s.Account.Username), st.Done.Label.Render(fmt.Sprintf(" %-20s", "Signed in as")), width)...)
	}
	switch {
	case d.Status != nil:
		out = append(out, renderStatusReport(st, *d.Status, d.Items, width, now)...)
	case len(d.Items) > 0:
		out = append(out, "")
		out = append(out, renderItems(st, d.Items, width, now)...)
	}
	if more := append(append([]string(nil), d.Lines...), d.Recap...); len(more) > 0 {
		out = append(out, "")
		for _, l := range more {
			out = append(out, wrapStyled(st.App.Text.Render, san(l), " ", width)...)
		}
	}
	return out
}

// renderStatusReport is the end of `status`: per tenant its row (the
// status and the remedy), the integration's facts, the evidence ladder
// (as the health screen draws it) and the local receipt.
func renderStatusReport(st theme.Styles, rep steps.StatusReport, items []steps.Item, width int, now time.Time) []string {
	var out []string
	kv := func(k, v string) {
		out = append(out, wrapStyled(st.Done.Value.Render, v, st.Done.Label.Render(fmt.Sprintf("   %-18s", k)), width)...)
	}
	for i, ts := range rep.Tenants {
		if i > 0 {
			out = append(out, "")
		}
		if i < len(items) {
			out = append(out, renderItems(st, items[i:i+1], width, now)...)
		}
		if ts.Mapped {
			kv("Organization", san(ts.Organization)+" ("+san(ts.OrganizationID)+")")
			kv("Integration", san(ts.IntegrationID))
			if ts.Reason != "" {
				kv("Reason", san(ts.Reason))
			}
			switch {
			case known(ts.FirstDataAt):
				kv("First data", clockRel(*ts.FirstDataAt, now))
			case known(ts.ExpectedFirstDataAt):
				kv("First data by", clockRel(*ts.ExpectedFirstDataAt, now)+" (it can take up to 24 h)")
			}
			if known(ts.LastCheckedAt) {
				kv("Last checked", clockRel(*ts.LastCheckedAt, now))
			}
		}
		if len(ts.Evidence) > 0 {
			for _, l := range renderLadder(st, &steps.HealthDetail{Ladder: ts.Evidence, Proven: steps.ProvenLine(ts.Evidence)}, width-2, now) {
				out = append(out, "  "+l)
			}
		}
		if ts.EvidenceNote != "" {
			out = append(out, wrapStyled(st.App.Muted.Render, san(ts.EvidenceNote), "   ", width)...)
		}
		if r := ts.Receipt; r != nil {
			// The path on a line of its own: it is copied whole.
			kv("Local receipt", "written "+clockRel(r.WrittenAt, now)+", "+plural(r.Changes, "change"))
			out = append(out, wrapStyled(st.App.Text.Render, san(r.Path), "   ", width)...)
		} else {
			kv("Local receipt", "none")
		}
	}
	return out
}

// known reports a date that is set and not the zero time.
func known(t *time.Time) bool { return t != nil && !t.IsZero() && t.Year() > 1 }
