package tui

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/charmbracelet/x/ansi"

	"itdr-onboard/steps"
	"itdr-onboard/ui/theme"
)

func healthDetail(snap steps.Snapshot) *steps.HealthDetail {
	d, _ := snap.Detail.(*steps.HealthDetail)
	return d
}

// nextProbe is when the next health check runs (zero when none is planned).
func nextProbe(d *steps.HealthDetail) time.Time {
	if d == nil || d.Last.IsZero() || d.NextIn <= 0 {
		return time.Time{}
	}
	return d.Last.Add(d.NextIn)
}

// renderHealth renders the health wait: status, elapsed time, the next
// check, the honest ETA of the first data, and the platform's reason and
// remedy when it is not healthy.
func renderHealth(st theme.Styles, snap steps.Snapshot, s *steps.Session, width, height int, now time.Time) string {
	d := healthDetail(snap)
	out := []string{title(st, "Health")}
	if d == nil {
		return join(fit(st, out, width, height))
	}
	in := d.Integration
	status := san(in.Status)
	stStyle := st.Check.Warn
	icon := st.Icons.Paused
	switch {
	case d.Healthy():
		stStyle, icon = st.Check.Pass, st.Icons.Pass
	case d.Unhealthy():
		stStyle, icon = st.Check.Fail, st.Icons.Fail
	case in.Status == "":
		status = "checking"
	}
	out = append(out, " Integration: "+stStyle.Render(icon+" "+status))
	if in.OrganizationName != "" {
		out = append(out, " Organization: "+san(in.OrganizationName))
	}
	out = append(out, renderLadder(st, d, width, now)...)
	if !d.Started.IsZero() {
		var line, next string
		if snap.Status == steps.StatusRunning {
			line = " Waiting since " + clockRel(d.Started, now)
			if at := nextProbe(d); !at.IsZero() {
				if at.After(now) {
					next = "next check " + clockRel(at, now)
				} else {
					next = "checking now" + st.Icons.Ellipsis
				}
			}
		} else {
			// The step is over: facts that no longer move.
			line = fmt.Sprintf(" Last check %s; %s", clockRel(d.Last, now), plural(d.Probes, "check"))
		}
		switch {
		case next == "":
			out = append(out, line)
		case ansi.StringWidth(line+" · "+next) <= width:
			out = append(out, line+" · "+next)
		default: // narrow: the next check on a line of its own
			out = append(out, line, " "+strings.ToUpper(next[:1])+next[1:])
		}
	} else if snap.Status == steps.StatusRunning {
		out = append(out, " "+st.Check.Running.Render(st.Icons.Running)+" first check"+st.Icons.Ellipsis)
	}
	if eta, ok := d.ETA(); ok && !d.Healthy() {
		line := "First data expected around " + eta.Local().Format("15:04")
		if snap.Status == steps.StatusRunning {
			line = "First data expected around " + clockRel(eta, now)
		}
		out = append(out, wrapStyled(st.App.Text.Render, line, " ", width)...)
	}
	// "Up to 24 hours" is said once: by the platform's reason, else by
	// the remedy, else by the detach hint.
	said := false
	once := func(s string) string {
		if strings.Contains(s, dataDelay) {
			if said {
				return withoutDataDelay(s)
			}
			said = true
		}
		return s
	}
	if in.Reason != "" || in.ReasonCode != "" {
		reason := in.Reason
		if reason == "" {
			reason = in.ReasonCode
		}
		out = append(out, wrapStyled(st.App.Text.Render, once(clockTimes(reason, now)), " Reason: ", width)...)
	}
	if !d.Healthy() {
		if r := once(d.Remedy); r != "" {
			out = append(out, wrapStyled(st.Fail.Remedy.Render, r, " "+st.Icons.Arrow+" ", width)...)
		}
		if snap.Status == steps.StatusRunning {
			if !said {
				out = append(out, wrapStyled(st.App.Muted.Render, "The first audit data can take "+dataDelay+" to arrive.", " ", width)...)
				said = true
			}
			// What the two ways out do (issue 18).
			out = append(out, wrapStyled(st.App.Muted.Render, "d detach: stop watching now; a summary and the command to check later stay on screen (exit 4).", " ", width)...)
			out = append(out, wrapStyled(st.App.Muted.Render, "q quit: stop at once (exit 130). The tenant stays connected either way.", " ", width)...)
		}
	}
	if d.LastErr != nil {
		out = append(out, wrapStyled(st.Check.Warn.Render, "Last check failed: "+d.LastErr.Error(), " ", width)...)
	}
	if snap.Fail != nil {
		f := *snap.Fail
		f.Message, f.Remedy = once(f.Message), once(f.Remedy)
		fail := renderFailure(st, &f, width)
		if height > 0 && len(out)+1+len(fail) > height {
			// Too small for both: what happened and what to do next come
			// right under the status, the details after them.
			out = append(append(append(append([]string{}, out[:2]...), fail...), ""), out[2:]...)
		} else {
			out = append(append(out, ""), fail...)
		}
	}
	return join(fit(st, out, width, height))
}

// healthWake is the next instant after now at which the health screen's
// text changes by the clock alone (zero when it never does): the elapsed
// time's next whole minute, the next check falling due ("checking now"),
// and the ETA's "in about N min" dropping a minute. Nothing on the screen
// counts seconds, so a long wait redraws about once a minute.
func healthWake(snap steps.Snapshot, now time.Time) time.Time {
	d := healthDetail(snap)
	if d == nil || snap.Status != steps.StatusRunning {
		return time.Time{}
	}
	var w time.Time
	if !d.Started.IsZero() {
		el := now.Sub(d.Started)
		if el < 0 {
			w = earliest(w, d.Started)
		} else {
			w = earliest(w, d.Started.Add((el/time.Minute+1)*time.Minute))
		}
		if next := nextProbe(d); next.After(now) {
			w = earliest(w, relWake(next, now))
		}
	}
	if eta, ok := d.ETA(); ok && !d.Healthy() {
		w = earliest(w, relWake(eta, now))
	}
	return earliest(w, textWake(d.Integration.Reason, now))
}

// dataDelay is how long the first audit data can take, as the texts on the
// health screen say it.
const dataDelay = "up to 24 hours"

// Compiled on first use, not at every start of the program.
var (
	// "(data can take up to 24 hours to arrive)", ", can take up to 24 hours"
	delayAside = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`\s*\([^()]*` + dataDelay + `[^()]*\)|,[^,;:.()]*` + dataDelay + `[^,;:.()]*`)
	})
	// "the first audit data can take up to 24 hours to arrive."
	delayClause = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`[^.;:()]*` + dataDelay + `[^.;:()]*[.;]?`)
	})
)

// withoutDataDelay drops the aside or the clause of s that says how long
// the first data can take (already said on the screen); "Nothing to do:
// the first audit data can take up to 24 hours to arrive." becomes
// "Nothing to do.", and "Check later with: itdr-onboard status --tenant X
// (data can take up to 24 hours to arrive)." ends at X.
func withoutDataDelay(s string) string {
	t := delayAside().ReplaceAllString(s, "")
	if t == s {
		t = delayClause().ReplaceAllString(s, "")
	}
	t = strings.TrimSpace(t)
	if u := strings.TrimRight(t, ":;, "); u != t && u != "" {
		// A sentence left hanging ("Nothing to do:") ends here. A
		// command left at the end gets no full stop (it would be copied).
		return u + "."
	}
	if f := strings.Fields(strings.TrimSuffix(t, ".")); len(f) > 0 && copyable(f[len(f)-1]) {
		return strings.TrimSuffix(t, ".")
	}
	return t
}

var guidRe = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
})

// copyable reports whether a word is one a technician copies: a URL, a
// path, a flag or a GUID.
func copyable(w string) bool {
	return strings.Contains(w, "/") || strings.HasPrefix(w, "-") || guidRe().MatchString(w)
}

// clockRel is the one way a time is written on screen (issue 18): the
// local clock, then how far it is from now ("17:48 (in 3 min)", "17:41
// (2 min ago)").
func clockRel(t, now time.Time) string {
	c := t.Local().Format("15:04")
	switch d := t.Sub(now); {
	case d >= time.Minute:
		return c + " (in " + minutes(d, true) + ")"
	case d > 0:
		return c + " (in under 1 min)"
	default:
		return c + " (" + minutes(-d, false) + " ago)"
	}
}

// relWake is the next instant after now at which clockRel(t, ·) changes.
func relWake(t, now time.Time) time.Time {
	if d := t.Sub(now); d > 0 {
		// "in N min" shows N = ceil(d / 1 min): it drops to N-1 when d
		// reaches (N-1) min, and becomes "ago" at t.
		n := (d + time.Minute - 1) / time.Minute
		if n <= 1 {
			return t
		}
		return t.Add(-(n - 1) * time.Minute)
	}
	// "N min ago" grows at each whole minute after t.
	return t.Add((now.Sub(t)/time.Minute + 1) * time.Minute)
}

// rfc3339 finds the timestamps the platform writes into its texts.
var rfc3339 = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})`)
})

// clockTimes rewrites the timestamps in a text the way the screen writes
// times (clockRel).
// Inside parentheses the relative part follows a comma instead ("(expected
// by 23:32, in 4 min, …)"): brackets are not nested.
func clockTimes(s string, now time.Time) string {
	var b strings.Builder
	last := 0
	for _, m := range rfc3339().FindAllStringIndex(s, -1) {
		v := s[m[0]:m[1]]
		b.WriteString(s[last:m[0]])
		last = m[1]
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			b.WriteString(v)
			continue
		}
		r := clockRel(t, now)
		if before := s[:m[0]]; strings.Count(before, "(") > strings.Count(before, ")") {
			if i := strings.Index(r, " ("); i >= 0 && strings.HasSuffix(r, ")") {
				r = r[:i] + ", " + r[i+2:len(r)-1]
			}
		}
		b.WriteString(r)
	}
	b.WriteString(s[last:])
	return b.String()
}

// textWake is the next change of the times clockTimes writes into s.
func textWake(s string, now time.Time) time.Time {
	var w time.Time
	for _, v := range rfc3339().FindAllString(s, -1) {
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			w = earliest(w, relWake(t, now))
		}
	}
	return w
}

// renderLadder is the evidence ladder (issue 19): one line per rung with
// its state — proven at a clock time, waiting with the reference's typical
// and worst-case times, or cannot be proven and why — and what to do for a
// rung still unproven past its worst case. Nothing here says data is
// flowing before rung 5 is proven.
func renderLadder(st theme.Styles, d *steps.HealthDetail, width int, now time.Time) []string {
	if len(d.Ladder) == 0 {
		return nil
	}
	out := wrapStyled(st.App.Text.Render, "Evidence: "+d.Proven, " ", width)
	for _, r := range d.Ladder {
		head := fmt.Sprintf("%d %s", r.N, r.Title)
		var glyph, line string
		switch r.State {
		case steps.RungProven:
			glyph, line = st.Check.Pass.Render(st.Icons.Pass), head+" — proven "+clockRel(r.ProvenAt, now)
		case steps.RungCannot:
			why := "cannot be proven"
			if r.Account {
				why = "cannot be proven with this account"
			}
			if r.Summary != "" {
				why += ": " + r.Summary
			}
			glyph, line = st.Check.Warn.Render(st.Icons.Warn), head+" — "+why
		default:
			glyph, line = st.App.Muted.Render(st.Icons.Paused), head+" — waiting (typically "+r.Typical+", at worst "+r.Worst+")"
		}
		out = append(out, wrapStyled(st.App.Text.Render, line, "  "+glyph+" ", width)...)
		if r.Late && r.State != steps.RungProven && r.IfLate != "" {
			out = append(out, wrapStyled(st.Fail.Remedy.Render, r.IfLate, "    "+st.Icons.Arrow+" ", width)...)
		}
	}
	return out
}
