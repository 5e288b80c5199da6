package tui

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"itdr-onboard/steps"
	"itdr-onboard/ui/text"
	"itdr-onboard/ui/theme"
)

// san makes an API string safe for one line of the screen.
func san(s string) string { return text.Line(s) }

// wrap sanitises s (keeping its newlines) and wraps it to width.
func wrap(s string, width int) []string {
	width = max(width, 8)
	var out []string
	for _, l := range wrapLines(s, width, width) {
		out = append(out, l.Text)
	}
	return out
}

// wrapLines is text.WrapLines: the plain output's summary wraps the same way.
func wrapLines(s string, width, overflow int) []text.WrapLine {
	return text.WrapLines(s, width, overflow)
}

// wrapStyled wraps s and styles each line, with prefix before the first
// line and an indent of the same width before the others. A word too long
// for the indented width (a long URL or path) goes on a line of its own
// that starts at the second column, to keep it whole.
func wrapStyled(st func(...string) string, s, prefix string, width int) []string {
	pw := ansi.StringWidth(prefix)
	ls := wrapLines(s, max(width-pw, 8), width-1)
	out := make([]string, 0, len(ls))
	pad := strings.Repeat(" ", pw)
	for i, l := range ls {
		p := pad
		switch {
		case l.Out:
			p = " "
			if i == 0 {
				// Keep the prefix (a bullet, a label) on a line of its own.
				if strings.TrimSpace(ansi.Strip(prefix)) != "" {
					out = append(out, strings.TrimRight(prefix, " "))
				}
			}
		case i == 0:
			p = prefix
		}
		out = append(out, p+st(l.Text))
	}
	return out
}

// frame is the spinner frame for now (100 ms a frame).
func frame(now time.Time) int { return int(now.UnixMilli() / 100) }

// countdown formats d as m:ss (or h:mm:ss); a negative d is 0:00.
func countdown(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int((d + time.Second - 1) / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// minutes formats a long duration in whole minutes: "under 1 min",
// "3 min", "2 h 05 min"; rounded down, or up when up is set (a time left).
func minutes(d time.Duration, up bool) string {
	if d < 0 {
		d = 0
	}
	n := int(d / time.Minute)
	if up {
		n = int((d + time.Minute - 1) / time.Minute)
	}
	switch {
	case n < 1:
		return "under 1 min"
	case n < 60:
		return fmt.Sprintf("%d min", n)
	default:
		return fmt.Sprintf("%d h %02d min", n/60, n%60)
	}
}

// secondWake is when a countdown to deadline (shown in whole seconds,
// rounded up) next changes after now; zero once the deadline has passed
// and the countdown shows nothing more.
func secondWake(deadline, now time.Time) time.Time {
	left := deadline.Sub(now)
	if left <= 0 {
		return time.Time{}
	}
	frac := left % time.Second
	if frac == 0 {
		frac = time.Second
	}
	return now.Add(frac)
}

// earliest is the earlier of two instants, ignoring zero ones.
func earliest(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero() || a.Before(b):
		return a
	}
	return b
}

// human formats a duration in words: "45s", "3m 05s", "2h 10m".
func human(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int(d / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm %02ds", s/60, s%60)
	default:
		return fmt.Sprintf("%dh %02dm", s/3600, s/60%60)
	}
}

// checkIcon is the styled icon of a check row.
func checkIcon(st theme.Styles, it steps.Item, now time.Time) string {
	switch it.Mark() {
	case steps.MarkRunning:
		return st.Check.Running.Render(st.Spin(frame(now)))
	case steps.MarkPass:
		return st.Check.Pass.Render(st.Icons.Pass)
	case steps.MarkWarn:
		return st.Check.Warn.Render(st.Icons.Warn)
	case steps.MarkFail:
		return st.Check.Fail.Render(st.Icons.Fail)
	case steps.MarkSkip:
		return st.Check.Skip.Render(st.Icons.Skip)
	}
	return st.Check.Skip.Render(st.Icons.Pending)
}

// renderItems renders check rows: icon, label, summary; the remedy of a
// row that did not pass goes under it.
func renderItems(st theme.Styles, items []steps.Item, width int, now time.Time) []string {
	return renderRows(st, items, width, now, true)
}

// renderRows is renderItems with the remedies optional.
func renderRows(st theme.Styles, items []steps.Item, width int, now time.Time, remedies bool) []string {
	lw := 0
	for _, it := range items {
		lw = max(lw, ansi.StringWidth(san(it.Label)))
	}
	lw = min(lw, max(width/3, min(24, width/2)))
	var out []string
	for _, it := range items {
		icon := checkIcon(st, it, now)
		if full := san(it.Label); ansi.StringWidth(full) > lw {
			// A name too long for the column is never cut: it gets the
			// row, and the summary goes under it.
			out = append(out, wrapStyled(st.Check.Label.Render, full, " "+icon+" ", width)...)
			summary := san(it.Summary)
			if it.Running {
				summary = "checking" + st.Icons.Ellipsis
			}
			if summary != "" {
				out = append(out, wrapStyled(st.Check.Summary.Render, summary, "     ", width)...)
			}
			if mk := it.Mark(); remedies && it.Remedy != "" && mk != steps.MarkRunning && mk != steps.MarkPass && mk != steps.MarkPending {
				out = append(out, wrapStyled(st.Check.Remedy.Render, it.Remedy, "     "+st.Icons.Arrow+" ", width)...)
			}
			continue
		}
		label := ansi.Truncate(san(it.Label), lw, st.Icons.Ellipsis)
		label += strings.Repeat(" ", lw-ansi.StringWidth(label))
		summary := san(it.Summary)
		if it.Running {
			summary = "checking" + st.Icons.Ellipsis
		}
		row := " " + icon + " " + st.Check.Label.Render(label)
		// The summary goes beside the label; when it is longer than the
		// room there, it wraps onto lines indented under its start, or,
		// on a narrow screen, under the row.
		switch rest := width - ansi.StringWidth(row) - 2; {
		case summary == "":
			out = append(out, row)
		case rest >= 20 || ansi.StringWidth(summary) <= rest:
			out = append(out, wrapStyled(st.Check.Summary.Render, summary, row+"  ", width)...)
		default:
			out = append(out, row)
			out = append(out, wrapStyled(st.Check.Summary.Render, summary, "     ", width)...)
		}
		if mk := it.Mark(); remedies && it.Remedy != "" && mk != steps.MarkRunning && mk != steps.MarkPass && mk != steps.MarkPending {
			out = append(out, wrapStyled(st.Check.Remedy.Render, it.Remedy, "     "+st.Icons.Arrow+" ", width)...)
		}
	}
	return out
}

// renderFailure renders a step's failure: what happened and what to do.
func renderFailure(st theme.Styles, f *steps.Failure, width int) []string {
	if f == nil {
		return nil
	}
	title := st.Icons.Failed + " Failed"
	switch f.Kind {
	case steps.FailStopped:
		title = st.Icons.Failed + " Stopped"
	case steps.FailUsage:
		title = st.Icons.Failed + " Cannot continue"
	case steps.FailPending:
		title = st.Icons.Paused + " Not healthy yet"
	}
	out := []string{st.Fail.Title.Render(title)}
	out = append(out, wrapStyled(st.Fail.Message.Render, f.Message, " ", width)...)
	if f.Remedy != "" {
		for _, para := range strings.Split(text.Sanitize(f.Remedy), "\n") {
			out = append(out, wrapStyled(st.Fail.Remedy.Render, para, " "+st.Icons.Arrow+" ", width)...)
		}
	}
	return out
}

// title is a screen's first line.
func title(st theme.Styles, s string) string { return st.App.Title.Render(s) }

// join assembles lines, dropping a trailing blank line.
func join(lines []string) string {
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return strings.Join(lines, "\n")
}

// fit cuts lines to width and to height (the last kept line says how many
// were cut).
func fit(st theme.Styles, lines []string, width, height int) []string {
	for i, l := range lines {
		if ansi.StringWidth(l) > width {
			lines[i] = ansi.Truncate(l, width, st.Icons.Ellipsis)
		}
	}
	if height > 0 && len(lines) > height {
		cut := len(lines) - height + 1
		lines = append(lines[:height-1], st.App.Muted.Render(fmt.Sprintf(" %s %d more line(s); enlarge the window", st.Icons.Ellipsis, cut)))
	}
	return lines
}

// lines splits a rendered block.
func lines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}
