package tui

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"itdr-onboard/platform"
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
	switch in.Status {
	case platform.StatusHealthy:
		stStyle, icon = st.Check.Pass, st.Icons.Pass
	case platform.StatusUnhealthy:
		stStyle, icon = st.Check.Fail, st.Icons.Fail
	case "":
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
	if eta, ok := d.ETA(); ok && in.Status != platform.StatusHealthy {
		line := "First data expected around " + eta.Local().Format("15:04")
		if left := eta.Sub(now); left > 0 && snap.Status == steps.StatusRunning {
			line += " (in about " + minutes(left, true) + ")"
		}
		out = append(out, wrapStyled(st.App.Text.Render, line, " ", width)...)
	}
	if in.Status != platform.StatusHealthy {
		out = append(out, st.App.Muted.Render(" The first audit data can take up to 24 hours to arrive; you may detach and check later."))
	}
	if in.Reason != "" || in.ReasonCode != "" {
		reason := in.Reason
		if reason == "" {
			reason = in.ReasonCode
		}
		out = append(out, wrapStyled(st.App.Text.Render, reason, " Reason: ", width)...)
	}
	if d.Remedy != "" && in.Status != platform.StatusHealthy {
		out = append(out, wrapStyled(st.Fail.Remedy.Render, d.Remedy, " "+st.Icons.Arrow+" ", width)...)
	}
	if d.LastErr != nil {
		out = append(out, wrapStyled(st.Check.Warn.Render, "Last check failed: "+d.LastErr.Error(), " ", width)...)
	}
	if snap.Fail != nil {
		fail := renderFailure(st, snap.Fail, width)
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
	if eta, ok := d.ETA(); ok && d.Integration.Status != platform.StatusHealthy {
		if left := eta.Sub(now); left > 0 {
			// "in about N min" shows N = ceil(left / 1 min): it drops to
			// N-1 when left reaches (N-1) min, and disappears at eta.
			n := (left + time.Minute - 1) / time.Minute
			w = earliest(w, eta.Add(-(n-1)*time.Minute))
		}
	}
	return w
}
