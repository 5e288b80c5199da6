package tui

import (
	"time"

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
		line := " Waiting for " + human(now.Sub(d.Started))
		if snap.Status == steps.StatusRunning {
			if next := nextProbe(d); !next.IsZero() {
				if left := next.Sub(now); left > 0 {
					line += " · next check in " + countdown(left)
				} else {
					line += " · checking now" + st.Icons.Ellipsis
				}
			}
		}
		out = append(out, line)
	} else if snap.Status == steps.StatusRunning {
		out = append(out, " "+st.Check.Running.Render(st.Icons.Running)+" first check"+st.Icons.Ellipsis)
	}
	if eta, ok := d.ETA(); ok && in.Status != platform.StatusHealthy {
		line := " First data expected around " + eta.Local().Format("15:04")
		if left := eta.Sub(now); left > 0 {
			line += " (in " + human(left) + ")"
		}
		out = append(out, line)
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
		out = append(out, "")
		out = append(out, renderFailure(st, snap.Fail, width)...)
	}
	return join(fit(st, out, width, height))
}
