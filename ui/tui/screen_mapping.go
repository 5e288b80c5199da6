package tui

import (
	"fmt"
	"regexp"
	"sync"
	"time"

	"itdr-onboard/steps"
	"itdr-onboard/ui/theme"
)

func mappingDetail(snap steps.Snapshot) *steps.MappingDetail {
	d, _ := snap.Detail.(*steps.MappingDetail)
	return d
}

// renderMapping renders the mapping step: organization listing, consent
// and mapping progress, and the AADSTS650051 wait with its countdown. The
// organization picker itself is drawn by the root under this.
func renderMapping(st theme.Styles, snap steps.Snapshot, s *steps.Session, width, height int, now time.Time) string {
	d := mappingDetail(snap)
	out := []string{title(st, "Mapping")}
	spin := st.Check.Running.Render(st.Spin(frame(now))) + " "
	if d != nil && d.Chosen != nil {
		out = append(out, " Organization: "+st.App.Strong.Render(san(d.Chosen.Name)))
	}
	if d != nil && snap.Fail == nil {
		phase := d.Phase
		if snap.Status.Terminal() {
			phase = "" // over: no "…ing" line and no spinner
		}
		switch phase {
		case "finding":
			out = append(out, wrapStyled(st.App.Text.Render, "Listing the platform's organizations"+st.Icons.Ellipsis, " "+spin, width)...)
		case "picking":
			out = append(out, " "+st.App.Muted.Render(san(snap.Line)))
		case "consent":
			line := "Granting the platform's permissions in the tenant" + st.Icons.Ellipsis
			if d.Attempts > 1 {
				line += fmt.Sprintf(" (attempt %d)", d.Attempts)
			}
			out = append(out, wrapStyled(st.App.Text.Render, line, " "+spin, width)...)
			if d.Reason != "" {
				out = append(out, wrapStyled(st.App.Muted.Render, humanDurations(d.Reason), "   ", width)...)
			}
		case "waiting":
			left := d.RetryAt.Sub(now)
			out = append(out, " "+st.Check.Warn.Render(st.Icons.Paused)+" "+st.Code.Expiring.Render("Retrying consent in "+countdown(left))+
				st.App.Muted.Render(fmt.Sprintf("  (%s so far)", plural(d.Attempts, "attempt"))))
			if d.WaitBudget > 0 {
				out = append(out, st.App.Muted.Render(fmt.Sprintf("   %s of the %s wait budget planned so far", human(d.WaitUsed), human(d.WaitBudget))))
			}
			out = append(out, wrapStyled(st.App.Text.Render, humanDurations(d.Reason), "   ", width)...)
			out = append(out, st.App.Muted.Render("   You can leave this running; nothing needs doing in the portal."))
		case "handoff":
			out = append(out, " "+st.Check.Warn.Render(st.Icons.Paused)+" Waiting for a Global Administrator of the tenant to grant consent.")
			if d.ConsentURL != "" {
				out = append(out, st.App.Muted.Render(" Send them this admin-consent address (c copies it, r shows a QR code):"))
				out = append(out, urlLines(st, san(d.ConsentURL), width)...)
			} else {
				out = append(out, wrapStyled(st.App.Text.Render, "Preparing the admin-consent address"+st.Icons.Ellipsis, " "+spin, width)...)
			}
			if d.HandoffNote != "" {
				out = append(out, wrapStyled(st.Notice.Render, d.HandoffNote, " ", width)...)
			}
			out = append(out, st.App.Muted.Render(" This screen goes on by itself once consent is granted."))
		case "roles":
			out = append(out, wrapStyled(st.App.Text.Render, "Assigning the platform's directory roles"+st.Icons.Ellipsis, " "+spin, width)...)
		case "mapping":
			out = append(out, wrapStyled(st.App.Text.Render, "Mapping the tenant to the organization"+st.Icons.Ellipsis, " "+spin, width)...)
		}
		if c := d.Consent; c != nil {
			line := fmt.Sprintf("%s granted now, %d already granted", plural(len(c.Granted), "permission"), len(c.AlreadyGranted))
			held := "already granted"
			if d.ConsentURL != "" {
				// The hand-off: a Global Administrator granted them (or
				// had), the wizard only read them back.
				line, held = fmt.Sprintf("%s held after the admin consent", plural(len(c.AlreadyGranted), "permission")), "held"
			}
			if c.Created {
				line = "service principal created; " + line
			}
			out = append(out, " "+st.Check.Pass.Render(st.Icons.Pass)+" Consent: "+line)
			// The grants themselves, each on its line.
			for _, g := range c.Granted {
				out = append(out, wrapStyled(st.App.Text.Render, g, "   "+st.Check.Pass.Render(st.Icons.Pass)+" ", width)...)
			}
			for _, g := range c.AlreadyGranted {
				out = append(out, wrapStyled(st.App.Muted.Render, g+" ("+held+")", "   "+st.Icons.Bullet+" ", width)...)
			}
		}
	}
	if snap.Status == steps.StatusDone {
		out = append(out, " "+st.Check.Pass.Render(st.Icons.Pass)+" "+san(snap.Line))
	}
	if snap.Fail != nil {
		out = append(out, "")
		out = append(out, renderFailure(st, snap.Fail, width)...)
	}
	return join(fit(st, out, width, height))
}

// goDuration is a duration as Go prints it with minutes or hours ("15m0s",
// "1h30m0s"); the screen writes durations one way (human).
var goDuration = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\b(?:\d+h)?(?:\d+m)?\d+(?:\.\d+)?s\b`) })

// humanDurations rewrites the Go-style durations in a step's text the way
// the rest of the screen writes them ("15m0s" becomes "15m 00s").
func humanDurations(s string) string {
	return goDuration().ReplaceAllStringFunc(s, func(t string) string {
		d, err := time.ParseDuration(t)
		if err != nil {
			return t
		}
		return human(d)
	})
}

// plural is "1 attempt", "2 attempts".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
