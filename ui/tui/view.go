package tui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"itdr-onboard/steps"
	"itdr-onboard/ui/theme"
)

// View renders the whole screen.
func (m *model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	return v
}

// finalText is what stays in the terminal after the program ends: the rail,
// who was signed in, and the final screen, without the help line.
func (m *model) finalText() string {
	w, _ := m.size()
	top, _ := m.chrome(w)
	body := m.renderBody(w, 1000)
	return strings.Join(append(top, "", body), "\n")
}

func (m *model) size() (int, int) {
	w, h := m.width, m.height
	if w <= 0 {
		w = 80
	}
	if h <= 0 {
		h = 24
	}
	return max(w, 20), max(h, 6)
}

// chrome renders the lines above and below the body.
func (m *model) chrome(width int) (top, bottom []string) {
	top = append(top, renderRail(m.st, m.e, width))
	if who := m.e.Session().Who(); who != "" {
		top = append(top, ansi.Truncate(m.st.App.Header.Render("Signed in: "+san(who)), width, m.st.Icons.Ellipsis))
	}
	if m.notice != "" {
		bottom = append(bottom, ansi.Truncate(m.st.Notice.Render(san(m.notice)), width, m.st.Icons.Ellipsis))
	}
	bottom = append(bottom, m.help.ShortHelpView(m.bindings()))
	return top, bottom
}

// bodyHeight is the number of lines the step body may use.
func (m *model) bodyHeight() int {
	w, h := m.size()
	top, bottom := m.chrome(w)
	bh := h - len(top) - len(bottom)
	if h >= 16 {
		bh -= 2 // blank lines around the body
	}
	return max(bh, 1)
}

func (m *model) render() string {
	w, h := m.size()
	top, bottom := m.chrome(w)
	bh := m.bodyHeight()
	body := lines(m.renderBody(w, bh))
	if len(body) > bh {
		body = body[:bh]
	}
	out := append([]string{}, top...)
	if h >= 16 {
		out = append(out, "")
	}
	out = append(out, body...)
	if h >= 16 {
		out = append(out, "")
	}
	out = append(out, bottom...)
	for i, l := range out {
		if ansi.StringWidth(l) > w {
			out[i] = ansi.Truncate(l, w, "")
		}
	}
	return strings.Join(out, "\n")
}

// screen picks the render function of a step.
func screen(id steps.ID) func(theme.Styles, steps.Snapshot, *steps.Session, int, int, time.Time) string {
	switch id {
	case steps.Prereqs:
		return renderPrereqs
	case steps.SignIn:
		return renderSignIn
	case steps.Roles:
		return renderRoles
	case steps.Mapping:
		return renderMapping
	case steps.Health:
		return renderHealth
	}
	return renderPrereqs
}

func (m *model) renderBody(width, height int) string {
	s := m.e.Session()
	cur := m.e.Current()
	snap := cur.Snapshot(s)
	if m.e.Finished() && snap.Fail == nil {
		return renderDone(m.st, snap, s, width, height, m.now)
	}
	render := screen(cur.ID())
	if a := m.activeAsk(); a != nil {
		q := a.Effect.(steps.Ask).Q
		switch q.Kind {
		case steps.AskSelect:
			head := lines(render(m.st, snap, s, width, 3, m.now))
			if len(head) > 2 {
				head = head[:2]
			}
			if height < 12 {
				head = head[:1]
			}
			return join(append(head, m.pickerView(q, width, height-len(head))...))
		case steps.AskConfirm:
			prompt := m.confirmView(q, width)
			bh := max(height-len(prompt)-1, 1)
			return join(append(append(lines(render(m.st, snap, s, width, bh, m.now)), ""), prompt...))
		}
	}
	if cur.ID() == steps.SignIn && !m.e.Finished() {
		return m.signInBody(snap, width, height)
	}
	if u := m.consentURL(); u != "" && m.showQR {
		body := lines(render(m.st, snap, s, width, height, m.now))
		if qr, ok := qrBlock(m.st, u, width, height-len(body)-1); ok {
			return join(append(append(body, ""), lines(qr)...))
		}
		return join(append(body, m.st.App.Muted.Render(" (window too small for the QR code)")))
	}
	return render(m.st, snap, s, width, height, m.now)
}

// signInBody adds the QR code and the paste field to the sign-in screen.
func (m *model) signInBody(snap steps.Snapshot, width, height int) string {
	s := m.e.Session()
	reserve := 0
	if m.browserShown() {
		reserve = 2
	}
	body := lines(renderSignIn(m.st, snap, s, width, height-reserve, m.now))
	if c := m.codeShown(); c != nil && m.showQR {
		body = m.withQR(snap, verificationURL(c), width, height)
	}
	if m.browserShown() {
		placeholder := "press p, then paste the address"
		if m.pasteFocus {
			placeholder = "paste the address, then enter"
		}
		body = append(body, "", m.paste.viewMasked(m.st, " Paste URL: ", width, m.pasteFocus, placeholder, true))
	}
	return join(body)
}

// withQR lays the sign-in out with the QR code of the verification URL:
// beside the code when there is room, under it otherwise, or a note when
// the terminal is too small.
func (m *model) withQR(snap steps.Snapshot, url string, width, height int) []string {
	s := m.e.Session()
	compactH := min(height, 15)
	if qr, ok := qrBlock(m.st, url, width, height); ok {
		qw := lipgloss.Width(qr)
		if lw := width - qw - 4; lw >= 44 {
			left := renderSignIn(m.st, snap, s, lw, compactH, m.now)
			return lines(lipgloss.JoinHorizontal(lipgloss.Top, left, "    ", qr))
		}
	}
	body := lines(renderSignIn(m.st, snap, s, width, compactH, m.now))
	if qr, ok := qrBlock(m.st, url, width, height-len(body)-1); ok {
		return append(append(body, ""), lines(qr)...)
	}
	return append(body, m.st.App.Muted.Render(" (window too small for the QR code)"))
}

// confirmView is a yes/no question with its default.
func (m *model) confirmView(q steps.Question, width int) []string {
	hint := "[y/N]"
	if strings.EqualFold(q.Default, "yes") {
		hint = "[Y/n]"
	}
	if m.opt.Yes {
		hint = "yes (--yes)"
	}
	return wrapStyled(m.st.Prompt.Question.Render, san(q.Prompt)+" "+hint, " ", width)
}

// pickerView is the organization picker: the filter field, the count and
// the visible window of the ranked list.
func (m *model) pickerView(q steps.Question, width, height int) []string {
	p := &m.pick
	rows := max(height-2, 1)
	m.clampPicker(rows)
	count := fmt.Sprintf("%d of %d", len(p.results), len(p.choices))
	fw := max(width-len(count)-2, 12)
	placeholder := "type part of a name"
	if fw < 32 {
		placeholder = "type to filter"
	}
	field := ansi.Truncate(p.query.view(m.st, " Filter: ", fw, true, placeholder), fw, "")
	pad := width - ansi.StringWidth(field) - len(count) - 1
	out := []string{m.st.Prompt.Question.Render(ansi.Truncate(" "+san(q.Prompt), width, m.st.Icons.Ellipsis))}
	if height < 4 {
		out = out[:0]
		rows = max(height-1, 1)
		m.clampPicker(rows)
	}
	out = append(out, field+strings.Repeat(" ", max(pad, 1))+m.st.App.Muted.Render(count))
	if len(p.results) == 0 {
		return append(out, m.st.App.Muted.Render("   no organization matches"))
	}
	end := min(p.offset+rows, len(p.results))
	for i := p.offset; i < end; i++ {
		label := ansi.Truncate(san(p.choices[p.results[i]].Label), max(width-4, 4), m.st.Icons.Ellipsis)
		if i == p.cursor {
			out = append(out, m.st.Prompt.Selected.Render(" > "+label))
		} else {
			out = append(out, m.st.Prompt.Choice.Render("   "+label))
		}
	}
	return out
}

// renderRail renders the progress rail: every step with its state; a
// compact form (icons and the current step) when the full one does not fit.
func renderRail(st theme.Styles, e *steps.Engine, width int) string {
	all := e.Steps()
	cur := e.Current().ID()
	finished := e.Finished()
	var full, icons []string
	for _, step := range all {
		icon, style := st.Icons.Pending, st.Rail.Pending
		switch step.Status() {
		case steps.StatusDone, steps.StatusSkipped:
			icon, style = st.Icons.Done, st.Rail.Done
		case steps.StatusFailed:
			icon, style = st.Icons.Failed, st.Rail.Failed
			if f := step.Snapshot(e.Session()).Fail; f != nil && f.Kind == steps.FailPending {
				icon, style = st.Icons.Paused, st.Rail.Paused
			}
		case steps.StatusPaused:
			icon, style = st.Icons.Paused, st.Rail.Paused
		case steps.StatusRunning, steps.StatusWaiting:
			icon, style = st.Icons.Current, st.Rail.Current
		}
		if step.ID() == cur && !finished && step.Status() == steps.StatusPending {
			icon, style = st.Icons.Current, st.Rail.Current
		}
		full = append(full, style.Render(icon+" "+step.Title()))
		icons = append(icons, style.Render(icon))
	}
	sep := st.Rail.Sep.Render("  ")
	line := " " + strings.Join(full, sep)
	if ansi.StringWidth(line) <= width {
		return line
	}
	idx := 0
	for i, step := range all {
		if step.ID() == cur {
			idx = i
		}
	}
	return " " + strings.Join(icons, " ") + "  " + st.Rail.Current.Render(fmt.Sprintf("%s (%d/%d)", e.Current().Title(), idx+1, len(all)))
}

// bindings are the keys that work now, for the help line.
func (m *model) bindings() []key.Binding {
	k := m.keys
	if m.e.Finished() {
		b := []key.Binding{k.Close}
		if m.e.CanRetry() {
			b = append(b, k.Retry)
		}
		if m.canBrowserAfterFailure() {
			b = append(b, k.Browser)
		}
		return b
	}
	if a := m.activeAsk(); a != nil {
		q := a.Effect.(steps.Ask).Q
		if q.Kind == steps.AskSelect {
			return []key.Binding{k.Up, k.Down, k.Pick, k.Clear, k.Interrupt}
		}
		if m.opt.Yes {
			return []key.Binding{k.Interrupt}
		}
		enter := k.Enter
		def := q.Default
		if def == "" {
			def = "no"
		}
		enter.SetHelp("enter", def+" (default)")
		return []key.Binding{k.Yes, k.No, enter, k.Interrupt}
	}
	switch m.e.Current().ID() {
	case steps.SignIn:
		if m.browserShown() {
			if m.pasteFocus {
				return []key.Binding{k.Submit, k.Blur, k.Interrupt}
			}
			return []key.Binding{k.Paste, k.CopyURL, k.CancelSI}
		}
		if m.codeShown() != nil {
			qr := k.QR
			if m.showQR {
				qr.SetHelp("r", "hide QR")
			}
			return []key.Binding{k.Copy, qr, k.NewCode, k.Browser, k.CancelSI}
		}
		return []key.Binding{k.CancelSI}
	case steps.Health:
		return []key.Binding{k.Detach, k.Quit}
	case steps.Mapping:
		if m.consentURL() != "" {
			qr := k.QR
			if m.showQR {
				qr.SetHelp("r", "hide QR")
			}
			return []key.Binding{k.CopyURL, qr, k.Quit}
		}
	case steps.Roles:
		if m.e.Current().Status() == steps.StatusRunning {
			return []key.Binding{k.Interrupt}
		}
	}
	return []key.Binding{k.Quit}
}
