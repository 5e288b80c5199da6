package tui

import (
	"time"

	"itdr-onboard/steps"
	"itdr-onboard/ui/theme"
)

// renderPrereqs renders the prerequisites: one row per check as results
// arrive, with the remedy under every row that did not pass.
func renderPrereqs(st theme.Styles, snap steps.Snapshot, s *steps.Session, width, height int, now time.Time) string {
	out := []string{title(st, "Prerequisites")}
	if snap.Line != "" {
		out = append(out, st.App.Muted.Render(" "+san(snap.Line)))
	}
	out = append(out, "")
	out = append(out, renderItems(st, snap.Items, width, now)...)
	if snap.Fail != nil {
		out = append(out, "")
		out = append(out, renderFailure(st, snap.Fail, width)...)
	}
	return join(fit(st, out, width, height))
}
