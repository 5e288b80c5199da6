package tui

import (
	"fmt"
	"time"

	"itdr-onboard/steps"
	"itdr-onboard/ui/theme"
)

func planDetail(snap steps.Snapshot) *steps.PlanDetail {
	d, _ := snap.Detail.(*steps.PlanDetail)
	return d
}

// renderRoles renders the role fixes: the check rows, then the plan (every
// change with its summary, the exact call and any warning), then applying
// progress, verification and the receipt path.
func renderRoles(st theme.Styles, snap steps.Snapshot, s *steps.Session, width, height int, now time.Time) string {
	d := planDetail(snap)
	out := []string{title(st, "Role fixes")}
	if snap.Line != "" {
		line := san(snap.Line)
		if snap.Status == steps.StatusRunning {
			line = st.Check.Running.Render(st.Spin(frame(now))) + " " + line
		}
		out = append(out, " "+st.App.Muted.Render(line))
	}
	out = append(out, "")
	if snap.Fail != nil {
		// What happened and what to do next come first; the plan and the
		// rows follow (the body scrolls when they do not fit).
		out = append(out, renderFailure(st, snap.Fail, width)...)
		out = append(out, "")
	}
	// With a plan on screen the plan is the remedy: rows stay one line.
	hasPlan := d != nil && len(d.Plan) > 0
	if !hasPlan || snap.Status != steps.StatusWaiting {
		// While the plan waits for an answer it alone fills the screen: it
		// says what every failing row would change.
		out = append(out, renderRows(st, snap.Items, width, now, !hasPlan)...)
		if hasPlan {
			out = append(out, "")
		}
	}
	if hasPlan {
		pd := d
		if q := snap.Prompt; q != nil && len(q.ChangeIDs) > 0 {
			// A plan on screen with its question lists exactly the
			// changes that question names.
			pd = planFor(d, q.ChangeIDs)
		}
		out = append(out, renderPlan(st, pd, len(d.Plan), width, now)...)
	}
	if s != nil && s.ReceiptPath != "" {
		out = append(out, "")
		out = append(out, wrapStyled(st.App.Strong.Render, s.ReceiptPath, " Receipt: ", width)...)
	}
	return join(fit(st, out, width, height))
}

// planFor is the plan reduced to the changes ids names, in plan order.
func planFor(d *steps.PlanDetail, ids []string) *steps.PlanDetail {
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	out := *d
	out.Plan = nil
	for _, c := range d.Plan {
		if want[c.ID] {
			out.Plan = append(out.Plan, c)
		}
	}
	return &out
}

// renderPlan lists every planned change with its state. The count is the
// step's one definition — the changes its plan holds (the step's line "6
// changes planned") — so a question that applies part of them says which
// part: "Plan: 5 of the 6 changes planned (this question)".
func renderPlan(st theme.Styles, d *steps.PlanDetail, total, width int, now time.Time) []string {
	// applied: change id → already in place (no-op).
	applied := map[string]bool{}
	reqID := map[string]string{}
	for _, a := range d.Applied {
		applied[a.Change.ID] = a.NoOp
		reqID[a.Change.ID] = a.RequestID
	}
	declined := map[string]bool{}
	for _, c := range d.Declined {
		declined[c.ID] = true
	}
	head := "Plan: " + plural(len(d.Plan), "change")
	if total > len(d.Plan) {
		head = fmt.Sprintf("Plan: %d of the %d changes planned (this question)", len(d.Plan), total)
	}
	if d.DryRun {
		head += " (dry run: nothing will be applied)"
	}
	out := []string{st.App.Strong.Render(head)}
	for i, c := range d.Plan {
		var mark string
		sum := st.Plan.Summary
		switch _, ok := applied[c.ID]; {
		case ok:
			mark = st.Plan.Applied.Render(st.Icons.Pass)
			sum = st.Plan.Applied
		case declined[c.ID]:
			mark = st.Plan.Declined.Render(st.Icons.Skip)
			sum = st.Plan.Declined
		case d.Applying == c.ID:
			mark = st.Check.Running.Render(st.Spin(frame(now)))
		default:
			mark = st.Plan.Pending.Render(fmt.Sprintf("%d.", i+1))
		}
		summary := san(c.Summary)
		if applied[c.ID] {
			summary += " (already in place)"
		}
		if declined[c.ID] {
			summary += " (declined)"
		}
		out = append(out, wrapStyled(sum.Render, summary, " "+mark+" ", width)...)
		if c.Call != "" {
			out = append(out, wrapStyled(st.Plan.Call.Render, c.Call, "     ", width)...)
		}
		if c.Warning != "" {
			out = append(out, wrapStyled(st.Plan.Warning.Render, c.Warning, "     "+st.Icons.Warn+" ", width)...)
		}
		if id := reqID[c.ID]; id != "" {
			// The request id, for the tenant's audit log and support.
			out = append(out, wrapStyled(st.App.Muted.Render, "request id "+san(id), "     ", width)...)
		}
		if _, ok := applied[c.ID]; ok && d.Verifying {
			out = append(out, wrapStyled(st.App.Muted.Render, "verifying"+st.Icons.Ellipsis, "     ", width)...)
		}
	}
	return out
}
