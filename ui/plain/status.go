package plain

import (
	"fmt"
	"io"
	"time"

	"itdr-onboard/steps"
	"itdr-onboard/ui/text"
)

// StatusReport prints the end of `status`: one block per tenant (the
// integration, the evidence ladder, the local receipt), a blank line
// between tenants; or that no tenant has local state.
func StatusReport(w io.Writer, rep steps.StatusReport, now time.Time) {
	if len(rep.Tenants) == 0 {
		fmt.Fprintf(w, "No tenant has local state in %s; pass --tenant to ask the platform about one.\n", text.Line(rep.StateDir))
	}
	for i, ts := range rep.Tenants {
		if i > 0 {
			fmt.Fprintln(w)
		}
		tenantStatus(w, ts, now)
	}
}

// Times are shown as everywhere outside the TUI (text.Clock).
func tenantStatus(w io.Writer, ts steps.TenantStatus, now time.Time) {
	fmt.Fprintf(w, "Tenant %s\n", text.Line(ts.Name()))
	switch ts.Status {
	case steps.StatusError:
		fmt.Fprintf(w, "  integration: could not be read: %s\n", text.Line(ts.Error))
	case steps.StatusNotMapped:
		fmt.Fprintf(w, "  integration: not mapped to any organization (run itdr-onboard onboard --tenant %s)\n", ts.TenantID)
	default:
		fmt.Fprintf(w, "  integration: %s — mapped to %s (%s), integration %s\n", text.Line(ts.Status),
			text.Line(ts.Organization), text.Line(ts.OrganizationID), text.Line(ts.IntegrationID))
		if ts.Reason != "" {
			fmt.Fprintf(w, "  reason: %s\n", text.Line(text.ClockTimes(ts.Reason, now)))
		}
		if ts.Remedy != "" {
			fmt.Fprintf(w, "  what to do: %s\n", text.Line(ts.Remedy))
		}
		// A zero date from the platform is no date: never "0001-01-01".
		if known(ts.FirstDataAt) {
			fmt.Fprintf(w, "  first data: %s\n", text.Clock(*ts.FirstDataAt, now))
		} else if known(ts.ExpectedFirstDataAt) {
			fmt.Fprintf(w, "  first data expected by: %s (it can take up to 24 h)\n", text.Clock(*ts.ExpectedFirstDataAt, now))
		}
		if known(ts.LastCheckedAt) {
			fmt.Fprintf(w, "  last checked by the platform: %s\n", text.Clock(*ts.LastCheckedAt, now))
		}
	}
	for _, r := range ts.Evidence {
		fmt.Fprintf(w, "  %s\n", RungLine(r, now))
	}
	if ts.EvidenceNote != "" {
		fmt.Fprintf(w, "  %s\n", text.Line(ts.EvidenceNote))
	}
	if r := ts.Receipt; r != nil {
		fmt.Fprintf(w, "  local receipt: %s (written %s by %s, %d change(s))\n", r.Path,
			text.Clock(r.WrittenAt, now), text.Line(r.Operator), r.Changes)
	} else {
		fmt.Fprintf(w, "  local receipt: none\n")
	}
}

// known reports a date that is set and not the zero time.
func known(t *time.Time) bool { return t != nil && !t.IsZero() && t.Year() > 1 }
