package tui

import (
	"fmt"
	"regexp"
	"strings"
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
	if !d.Started.IsZero() {
		var line, next string
		if snap.Status == steps.StatusRunning {
			line = " Waiting for " + minutes(now.Sub(d.Started), false)
			if at := nextProbe(d); !at.IsZero() {
				if at.After(now) {
					next = "next check at " + at.Local().Format("15:04:05")
				} else {
					next = "checking now" + st.Icons.Ellipsis
				}
			}
		} else {
			// The step is over: facts that no longer move.
			line = fmt.Sprintf(" Last check at %s; %d check(s)", d.Last.Local().Format("15:04:05"), d.Probes)
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
		if left := eta.Sub(now); left > 0 && snap.Status == steps.StatusRunning {
			line += " (in about " + minutes(left, true) + ")"
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
		out = append(out, wrapStyled(st.App.Text.Render, once(reason), " Reason: ", width)...)
	}
	if !d.Healthy() {
		if r := once(d.Remedy); r != "" {
			out = append(out, wrapStyled(st.Fail.Remedy.Render, r, " "+st.Icons.Arrow+" ", width)...)
		}
		if snap.Status == steps.StatusRunning {
			hint := "You may detach (d) and check later."
			if !said {
				hint = "The first audit data can take " + dataDelay + " to arrive; you may detach (d) and check later."
				said = true
			}
			out = append(out, wrapStyled(st.App.Muted.Render, hint, " ", width)...)
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
			w = earliest(w, next)
		}
	}
	if eta, ok := d.ETA(); ok && !d.Healthy() {
		if left := eta.Sub(now); left > 0 {
			// "in about N min" shows N = ceil(left / 1 min): it drops to
			// N-1 when left reaches (N-1) min, and disappears at eta.
			n := (left + time.Minute - 1) / time.Minute
			w = earliest(w, eta.Add(-(n-1)*time.Minute))
		}
	}
	return w
}

// dataDelay is how long the first audit data can take, as the texts on the
// health screen say it.
const dataDelay = "up to 24 hours"

var (
	// "(data can take up to 24 hours to arrive)", ", can take up to 24 hours"
	delayAside = regexp.MustCompile(`\s*\([^()]*` + dataDelay + `[^()]*\)|,[^,;:.()]*` + dataDelay + `[^,;:.()]*`)
	// "the first audit data can take up to 24 hours to arrive."
	delayClause = regexp.MustCompile(`[^.;:()]*` + dataDelay + `[^.;:()]*[.;]?`)
)

// withoutDataDelay drops the aside or the clause of s that says how long
// the first data can take (already said on the screen); "Nothing to do:
// the first audit data can take up to 24 hours to arrive." becomes
// "Nothing to do.", and "Check later with: itdr-onboard status --tenant X
// (data can take up to 24 hours to arrive)." ends at X.
func withoutDataDelay(s string) string {
	t := delayAside.ReplaceAllString(s, "")
	if t == s {
		t = delayClause.ReplaceAllString(s, "")
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

var guidRe = regexp.MustCompile(`(?i)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// copyable reports whether a word is one a technician copies: a URL, a
// path, a flag or a GUID.
func copyable(w string) bool {
	return strings.Contains(w, "/") || strings.HasPrefix(w, "-") || guidRe.MatchString(w)
}
