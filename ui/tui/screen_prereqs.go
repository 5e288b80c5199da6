package tui

import (
	"time"

	"itdr-onboard/steps"
	"itdr-onboard/ui/theme"
)

// renderPrereqs renders the prerequisites: one row per check as results
// arrive, with the remedy under every row that did not pass. Steps without
// a screen of their own (check, unmap) are drawn the same way: title, line,
// rows, failure.
func renderPrereqs(st theme.Styles, snap steps.Snapshot, s *steps.Session, width, height int, now time.Time) string {
	name := snap.Title
	if name == "" {
		name = "Prerequisites"
	}
	out := []string{title(st, san(name))}
	if snap.Line != "" {
		out = append(out, st.App.Muted.Render(" "+san(snap.Line)))
	}
	out = append(out, "")
	items := snap.Items
	if snap.Status.Terminal() || snap.Fail != nil {
		// The run stopped: checks still running, or waiting for the
		// sign-in, will not run.
		items = append([]steps.Item(nil), items...)
		for i := range items {
			if items[i].Running || items[i].Outcome == "" {
				items[i].Running, items[i].Summary = false, "not checked (the run stopped)"
			}
		}
	}
	out = append(out, renderItems(st, items, width, now)...)
	if snap.Fail != nil {
		out = append(out, "")
		out = append(out, renderFailure(st, snap.Fail, width)...)
	}
	return join(fit(st, out, width, height))
}
