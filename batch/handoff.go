package batch

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"strings"

	"itdr-onboard/partner"
	"itdr-onboard/steps"
)

// PartnerCenterURL is where partner-side fixes are made (admin
// relationships, security group assignments).
const PartnerCenterURL = "https://partner.microsoft.com/dashboard/commerce2/customers"

// ConsentURL fills the platform's admin_consent_url template for a tenant.
func ConsentURL(template, tenantID string) string {
	if template == "" {
		return ""
	}
	return strings.ReplaceAll(template, "{tenant}", tenantID)
}

// HandOffFor says what a tenant in a lane that needs someone else needs:
// the reason in plain words, what to do, and one link (docs/gdap.md
// "Hand-off for each lane"). consentURL is the platform's admin-consent URL
// for this tenant ("" when unknown). nil: the lane needs nobody.
func HandOffFor(t Tenant, consentURL string) *steps.HandOff {
	r := t.Row
	switch t.Lane {
	case partner.LaneNoGDAP:
		h := &steps.HandOff{Who: "customer", Reason: "No active GDAP relationship with this customer, so the partner account has no access to the tenant."}
		if r.InviteURL != "" {
			h.Reason = "A GDAP relationship waits for the customer's approval."
			h.CustomerAction = "The customer's Global Administrator opens the invitation link and approves the relationship (Cloud Application Administrator, Privileged Role Administrator, Exchange Administrator); then run `itdr-onboard batch resume`."
			h.Link, h.LinkKind = r.InviteURL, "gdap-invite"
			return h
		}
		h.CustomerAction = "Either the partner requests a GDAP relationship with Cloud Application Administrator, Privileged Role Administrator and Exchange Administrator (Partner Center → Customers → Admin relationships) and sends its invitation link, or the customer's Global Administrator grants admin consent with this link and the tenant is onboarded directly (`itdr-onboard onboard --tenant " + t.TenantID + "`)."
		if consentURL != "" {
			h.Link, h.LinkKind = consentURL, "admin-consent"
		} else {
			h.Who, h.Link, h.LinkKind = "partner", PartnerCenterURL, "partner-center"
		}
		return h
	case partner.LaneNotAssigned:
		return &steps.HandOff{Who: "partner",
			Reason:         "The GDAP relationship grants the roles, but the signed-in technician is in no security group assigned to them.",
			CustomerAction: "No customer action: in Partner Center add the technician to the group that holds the roles, or assign one of the technician's groups to the relationship (Customers → " + t.Name + " → Admin relationships → Assign security groups); then `batch resume`.",
			Link:           PartnerCenterURL, LinkKind: "partner-center"}
	case partner.LanePartial:
		h := &steps.HandOff{Who: "customer", Steps: r.HandOff,
			Reason:         "The GDAP relationship lacks a role the onboarding needs: " + missingRoles(r) + ".",
			CustomerAction: "A customer Global Administrator (or Privileged Role Administrator) grants admin consent to the platform's app with this link, which also does the steps the partner cannot; or the customer approves a new relationship that adds the missing role and the partner runs `batch resume`."}
		if consentURL != "" {
			h.Link, h.LinkKind = consentURL, "admin-consent"
		}
		return h
	case partner.LaneCABlocked:
		return &steps.HandOff{Who: "customer",
			Reason:         "The customer's Conditional Access blocks service-provider (partner) sign-ins (AADSTS53003).",
			CustomerAction: "The customer excludes \"Service provider users\" from the blocking Conditional Access policy (Entra admin center → Protection → Conditional Access → the policy → Users → Exclude → Guest or external users → Service provider users), or grants admin consent with this link and onboards directly.",
			Link:           consentURL, LinkKind: linkKind(consentURL, "admin-consent")}
	case partner.LaneNoExchange:
		return &steps.HandOff{Who: "customer", Steps: []string{"Exchange Organization Management role fixes", "turning on the unified audit log"},
			Reason:         "The tenant has no Exchange Online service (no Exchange licence, AADSTS650052): the platform cannot read its mailbox audit.",
			CustomerAction: "The customer buys or assigns a licence with Exchange Online (for example Microsoft 365 Business Standard or Exchange Online Plan 1); then `batch resume`.",
			Link:           "https://admin.microsoft.com/#/licenses", LinkKind: "licences"}
	case partner.LaneNotConsented:
		return &steps.HandOff{Who: "customer",
			Reason:         "The onboarding app is still not consented in the tenant after the Partner Center consent and the bounded wait (AADSTS65001).",
			CustomerAction: "Run `batch resume` in a few minutes; if it stays, the customer's Global Administrator grants admin consent with this link.",
			Link:           consentURL, LinkKind: linkKind(consentURL, "admin-consent")}
	}
	return nil
}

func linkKind(link, kind string) string {
	if link == "" {
		return ""
	}
	return kind
}

func missingRoles(r partner.Row) string {
	var out []string
	for _, st := range r.Roles {
		if !st.Has && !st.Pending {
			out = append(out, st.Role)
		}
	}
	if len(out) == 0 {
		return "a needed role"
	}
	return strings.Join(out, " and ")
}

// HandOffRow is one line of the hand-off export.
type HandOffRow struct {
	TenantID, Name, Domain, Lane string
	HandOff                      steps.HandOff
}

// HandOffRows are the handed-off tenants of a snapshot, in its order.
func HandOffRows(b steps.BatchSnapshot) []HandOffRow {
	var out []HandOffRow
	for _, t := range b.Tenants {
		if t.HandOff != nil && t.State == steps.TenantHandedOff {
			out = append(out, HandOffRow{TenantID: t.TenantID, Name: t.Name, Domain: t.Domain, Lane: t.Lane, HandOff: *t.HandOff})
		}
	}
	return out
}

// WriteHandOffCSV writes the hand-offs as CSV (for a PSA ticket import).
func WriteHandOffCSV(w io.Writer, rows []HandOffRow) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"tenant_id", "name", "domain", "lane", "who", "reason", "what_to_do", "link", "link_kind", "steps"})
	for _, r := range rows {
		h := r.HandOff
		_ = cw.Write([]string{r.TenantID, csvSafe(r.Name), r.Domain, r.Lane, h.Who, csvSafe(h.Reason), csvSafe(h.CustomerAction), h.Link, h.LinkKind, csvSafe(strings.Join(h.Steps, "; "))})
	}
	cw.Flush()
	return cw.Error()
}

// csvSafe keeps a spreadsheet from reading a cell as a formula.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@", rune(s[0])) {
		return "'" + s
	}
	return s
}

// WriteHandOffMarkdown writes the hand-offs as Markdown: one section per
// tenant, ready to paste into a ticket.
func WriteHandOffMarkdown(w io.Writer, batchID string, rows []HandOffRow) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Hand-offs of batch %s\n\n", batchID)
	if len(rows) == 0 {
		b.WriteString("No tenant needs its customer.\n")
	}
	for _, r := range rows {
		h := r.HandOff
		fmt.Fprintf(&b, "## %s (%s)\n\n", mdEscape(r.Name), r.TenantID)
		if r.Domain != "" {
			fmt.Fprintf(&b, "- Domain: %s\n", r.Domain)
		}
		fmt.Fprintf(&b, "- Lane: %s\n- Who: %s\n- Why: %s\n- What to do: %s\n", r.Lane, h.Who, mdEscape(h.Reason), mdEscape(h.CustomerAction))
		if len(h.Steps) > 0 {
			fmt.Fprintf(&b, "- Steps left for them: %s\n", mdEscape(strings.Join(h.Steps, "; ")))
		}
		if h.Link != "" {
			fmt.Fprintf(&b, "- Link (%s): <%s>\n", h.LinkKind, h.Link)
		}
		b.WriteString("\n")
	}
	_, err := w.Write(b.Bytes())
	return err
}

func mdEscape(s string) string {
	r := strings.NewReplacer("<", "&lt;", ">", "&gt;", "\n", " ")
	return r.Replace(s)
}
