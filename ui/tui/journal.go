package tui

import (
	"charm.land/lipgloss/v2"
	"fmt"
	"strings"

	"itdr-onboard/steps"
	"itdr-onboard/ui/theme"
)

// The step journal (issue 18): every step that has started keeps its
// results on screen. A step other than the current one collapses to one
// line of its key facts ("Prerequisites — 10 passed, 1 warning"); tab opens
// the journal, where every step is shown whole, and closes it again. The
// end screen sums up every step, and the same lines stay in the terminal
// after exit. It is generic: any flow's steps get a line from their
// snapshot (rows, plan, sign-in, mapping, health).

// stepIcon is a step's icon, styled as on the progress rail.
func stepIcon(st theme.Styles, e *steps.Engine, step steps.Step) string {
	icon, style := stepMark(st, e, step)
	return style.Render(icon)
}

// stepMark is a step's icon and style by its status (the rail and the
// journal share it): a health wait that ended pending shows as paused.
func stepMark(st theme.Styles, e *steps.Engine, step steps.Step) (string, lipgloss.Style) {
	switch step.Status() {
	case steps.StatusDone, steps.StatusSkipped:
		return st.Icons.Done, st.Rail.Done
	case steps.StatusFailed:
		if f := step.Snapshot(e.Session()).Fail; f != nil && f.Kind == steps.FailPending {
			return st.Icons.Paused, st.Rail.Paused
		}
		return st.Icons.Failed, st.Rail.Failed
	case steps.StatusPaused:
		return st.Icons.Paused, st.Rail.Paused
	case steps.StatusRunning, steps.StatusWaiting:
		return st.Icons.Current, st.Rail.Current
	}
	return st.Icons.Pending, st.Rail.Pending
}

// rowCounts sums up check rows: "10 passed, 1 warning, 2 running".
func rowCounts(items []steps.Item) string {
	n := map[steps.Mark]int{}
	for _, it := range items {
		n[it.Mark()]++
	}
	var parts []string
	add := func(k steps.Mark, one, many string) {
		switch c := n[k]; c {
		case 0:
		case 1:
			parts = append(parts, "1 "+one)
		default:
			parts = append(parts, fmt.Sprintf("%d %s", c, many))
		}
	}
	add(steps.MarkPass, "passed", "passed")
	add(steps.MarkWarn, "warning", "warnings")
	add(steps.MarkFail, "failed", "failed")
	add(steps.MarkSkip, "skipped", "skipped")
	add(steps.MarkRunning, "running", "running")
	add(steps.MarkPending, "waiting", "waiting")
	return strings.Join(parts, ", ")
}

// planFacts sums up a plan: "5 applied, 5 verified".
func planFacts(snap steps.Snapshot, d *steps.PlanDetail) string {
	if len(d.Plan) == 0 {
		if snap.Status == steps.StatusDone {
			return "no changes needed"
		}
		return ""
	}
	applied, noop := 0, 0
	touched := map[string]bool{}
	for _, a := range d.Applied {
		if a.NoOp {
			noop++
		} else {
			applied++
		}
		touched[a.Change.CheckID] = true
	}
	var parts []string
	switch {
	case d.DryRun:
		parts = append(parts, plural(len(d.Plan), "change")+" planned (dry run, none applied)")
	case len(d.Applied) == 0 && len(d.Declined) == 0:
		parts = append(parts, plural(len(d.Plan), "change")+" planned")
	}
	if applied > 0 {
		parts = append(parts, fmt.Sprintf("%d applied", applied))
	}
	if noop > 0 {
		parts = append(parts, fmt.Sprintf("%d already in place", noop))
	}
	if len(d.Declined) > 0 {
		parts = append(parts, fmt.Sprintf("%d declined", len(d.Declined)))
	}
	if snap.Status == steps.StatusDone && len(d.Applied) > 0 {
		// Verified: the changed checks pass when run again.
		verified := 0
		for _, c := range d.Applied {
			for _, it := range snap.Items {
				if it.ID == c.Change.CheckID && it.Mark() == steps.MarkPass {
					verified++
					break
				}
			}
		}
		parts = append(parts, fmt.Sprintf("%d verified", verified))
	}
	return strings.Join(parts, ", ")
}

// stepFacts is the one line of key facts of a step; over says the run
// has ended.
func stepFacts(snap steps.Snapshot, s *steps.Session, over bool) string {
	var facts string
	switch d := snap.Detail.(type) {
	case *steps.PlanDetail:
		facts = planFacts(snap, d)
		if facts == "" {
			facts = rowCounts(snap.Items)
		}
	case *steps.SignInDetail:
		if s != nil && s.SignedIn && s.Who() != "" {
			facts = "signed in as " + san(s.Who())
			if d.UsesBrowser() {
				facts += " (browser)"
			}
		}
	case *steps.MappingDetail:
		var parts []string
		if d.Chosen != nil {
			parts = append(parts, "organization "+san(d.Chosen.Name))
		}
		if c := d.Consent; c != nil {
			if len(c.Granted) > 0 {
				parts = append(parts, plural(len(c.Granted), "permission")+" granted")
			}
			switch {
			case len(c.AlreadyGranted) > 0 && d.ConsentURL != "":
				parts = append(parts, fmt.Sprintf("%d held after the admin consent", len(c.AlreadyGranted)))
			case len(c.AlreadyGranted) > 0:
				parts = append(parts, fmt.Sprintf("%d already granted", len(c.AlreadyGranted)))
			}
		}
		if snap.Status == steps.StatusDone {
			parts = append(parts, "mapped")
		}
		facts = strings.Join(parts, ", ")
	case *steps.HealthDetail:
		switch {
		case d.Healthy():
			facts = "healthy"
		case d.Unhealthy():
			facts = "unhealthy"
		case d.Integration.Status != "":
			facts = san(d.Integration.Status)
		}
		if d.Probes > 0 {
			facts += fmt.Sprintf(" after %s", plural(d.Probes, "check"))
		}
		if d.Proven != "" { // the evidence ladder (issue 19): which rungs are proven
			facts += "; evidence: " + san(d.Proven)
		}
	default:
		facts = rowCounts(snap.Items)
	}
	if over {
		facts = strings.Replace(facts, " waiting", " not checked", 1)
	}
	if snap.Fail != nil {
		verdict := "failed"
		switch snap.Fail.Kind {
		case steps.FailStopped:
			verdict = "stopped"
		case steps.FailPending:
			verdict = "not healthy yet"
		}
		if facts == "" {
			return verdict
		}
		return verdict + "; " + facts
	}
	if facts == "" {
		facts = san(snap.Line)
	}
	switch {
	case snap.Status == steps.StatusPaused && over:
		facts += " (the run ended before the rest)"
	case snap.Status == steps.StatusPaused && facts != "":
		facts += " (goes on in the background)"
	}
	return strings.TrimSpace(facts)
}

// started reports whether a step has begun (it has something to show).
func started(step steps.Step) bool { return step.Status() != steps.StatusPending }

// journalLine is a step's collapsed line.
func journalLine(st theme.Styles, e *steps.Engine, step steps.Step, width int) []string {
	snap := step.Snapshot(e.Session())
	dash := " — "
	if st.ASCII {
		dash = " - "
	}
	head := " " + stepIcon(st, e, step) + " "
	facts := stepFacts(snap, e.Session(), e.Finished())
	text := step.Title()
	if facts != "" {
		text += dash + facts
	}
	return wrapStyled(st.App.Text.Render, text, head, width)
}

// journalCollapsed is one line per started step other than the current
// one (every step once the run is over).
func (m *model) journalCollapsed(width int) []string {
	return m.journalLines(width, m.e.Finished())
}

// journalLines is one line per started step; the current one only when
// withCurrent is set.
func (m *model) journalLines(width int, withCurrent bool) []string {
	var out []string
	cur := m.e.Current().ID()
	for _, step := range m.e.Steps() {
		if !started(step) || (step.ID() == cur && !withCurrent) {
			continue
		}
		out = append(out, journalLine(m.st, m.e, step, width)...)
	}
	return out
}

// journalExpanded is every started step whole: its collapsed line, then
// its screen (without the screen's own title).
func (m *model) journalExpanded(width int) []string {
	s := m.e.Session()
	var out []string
	for _, step := range m.e.Steps() {
		if !started(step) {
			continue
		}
		if len(out) > 0 {
			out = append(out, "")
		}
		out = append(out, journalLine(m.st, m.e, step, width)...)
		body := lines(screen(step.ID())(m.st, step.Snapshot(s), s, width-2, tall, m.now))
		if len(body) > 0 {
			body = body[1:] // the title: said by the collapsed line
		}
		for _, l := range body {
			if strings.TrimSpace(l) == "" {
				continue
			}
			out = append(out, "  "+l)
		}
	}
	if len(out) == 0 {
		out = append(out, m.st.App.Muted.Render(" Nothing has run yet."))
	}
	return out
}

// picking reports whether the organization picker is on screen (letters
// go to its filter).
func (m *model) picking() bool {
	a := m.activeAsk()
	return !m.journal && a != nil && a.Effect.(steps.Ask).Q.Kind == steps.AskSelect
}

// quitText is what stays in the terminal when the technician quits before
// the end: the verdict, every step's line, and the command to run next.
func (m *model) quitText() string {
	w, _ := m.size()
	cur := m.e.Current()
	s := m.e.Session()
	var out []string
	next := m.opt.Again
	if next == "" {
		next = "the same command again"
	}
	if cur.ID() == steps.Health {
		out = append(out, m.st.Fail.Title.Render(m.st.Icons.Paused+" Stopped watching the health wait: the tenant is mapped; the platform goes on by itself."))
		out = append(out, wrapStyled(m.st.App.Text.Render, "Check on it later: itdr-onboard status --tenant "+san(s.TenantID), " "+m.st.Icons.Arrow+" ", w)...)
	} else {
		out = append(out, m.st.Fail.Title.Render(m.st.Icons.Failed+" Stopped at "+cur.Title()+": nothing more will be changed."))
		out = append(out, wrapStyled(m.st.App.Text.Render, "To go on, run "+next+" (it re-checks what was done and resumes).", " "+m.st.Icons.Arrow+" ", w)...)
	}
	if jl := m.journalLines(w, true); len(jl) > 0 {
		out = append(out, "", m.st.App.Strong.Render(" Steps"))
		out = append(out, jl...)
	}
	return strings.Join(out, "\n")
}
