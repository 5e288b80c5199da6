package tui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
	qrcode "github.com/skip2/go-qrcode"

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
	body := m.renderBody(w, 1000)
	return strings.Join(append(m.top(w), "", body), "\n")
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

// top renders the lines above the body: the rail and who is signed in.
func (m *model) top(width int) []string {
	top := []string{renderRail(m.st, m.e, width)}
	if who := m.e.Session().Who(); who != "" {
		top = append(top, ansi.Truncate(m.st.App.Header.Render("Signed in: "+san(who)), width, m.st.Icons.Ellipsis))
	}
	return top
}

// bottom renders the lines under the body: the notice and the help line.
// The help line depends on the body (m.overflow), so render the body first.
func (m *model) bottom(width int) []string {
	var bottom []string
	if m.notice != "" {
		bottom = append(bottom, ansi.Truncate(m.st.Notice.Render(san(m.notice)), width, m.st.Icons.Ellipsis))
	}
	return append(bottom, lines(m.helpView())...)
}

// helpView is the short help line, or the full key map (?).
func (m *model) helpView() string {
	if m.fullHelp {
		return m.help.FullHelpView(m.fullBindings())
	}
	return m.help.ShortHelpView(m.shortBindings())
}

// shortBindings are the short help's keys: the screen's, then ? (not
// where ? is typed into a field).
func (m *model) shortBindings() []key.Binding {
	b := m.bindings()
	if m.pasteFocus || m.picking() {
		return b
	}
	return append(b, m.keys.Help)
}

// fullBindings is the full help: the keys of the screen, the keys that
// move, and the keys that work everywhere.
func (m *model) fullBindings() [][]key.Binding {
	k := m.keys
	help := k.Help
	help.SetHelp("?", "short help")
	journal := k.Journal
	if m.journal {
		journal.SetHelp("tab/esc", "back")
	}
	return [][]key.Binding{
		m.stateBindings(),
		{k.Up, k.Down, k.PgUp, k.PgDown, k.Home, k.End},
		{journal, help, k.Interrupt},
	}
}

// bodyHeight is the number of lines the step body may use.
func (m *model) bodyHeight() int {
	w, h := m.size()
	nBottom := len(lines(m.helpView()))
	if m.notice != "" {
		nBottom++
	}
	bh := h - len(m.top(w)) - nBottom
	if h >= 16 {
		bh -= 2 // blank lines around the body
	}
	return max(bh, 1)
}

func (m *model) render() string {
	w, h := m.size()
	bh := m.bodyHeight()
	body := lines(m.renderBody(w, bh))
	if len(body) > bh {
		body = body[:bh]
	}
	out := m.top(w)
	if h >= 16 {
		out = append(out, "")
	}
	out = append(out, body...)
	if h >= 16 {
		out = append(out, "")
	}
	out = append(out, m.bottom(w)...)
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

// tall is the height long screens are rendered at before they are scrolled.
const tall = 1000

// bodyParts lays out the body: the lines that may scroll and the lines
// pinned under them (a question). scroll is false for screens that fit
// themselves to the height (their render function gets it).
func (m *model) bodyParts(width, height int) (content, pinned []string, scroll bool) {
	if m.journal {
		return m.journalExpanded(width), nil, true
	}
	if m.e.Finished() {
		return m.endBody(width), nil, true
	}
	content, pinned, scroll = m.stepParts(width, height)
	// The earlier steps, one line each, above the current one: in a
	// scrolling body always; above a screen that fits itself only when it
	// keeps room enough (tab shows them whole anyway).
	jl := m.journalCollapsed(width)
	switch {
	case len(jl) == 0:
	case scroll:
		content = append(append(jl, ""), content...)
	case height-len(jl)-1 >= minStepRows && !m.signInQRNeedsJournal(width, height, len(jl)+1):
		content, pinned, scroll = m.stepParts(width, height-len(jl)-1)
		content = append(append(jl, ""), content...)
	}
	return content, pinned, scroll
}

// minStepRows is the least room a current step's screen keeps under the
// journal's lines.
const minStepRows = 11

// endBody is the end screen: the verdict and what to do next first, then
// every step's line, then the details of the step that stopped the run.
func (m *model) endBody(width int) []string {
	s := m.e.Session()
	cur := m.e.Current()
	snap := cur.Snapshot(s)
	steps_ := append([]string{"", m.st.App.Strong.Render(" Steps")}, m.journalCollapsed(width)...)
	if d := m.e.Done(m.now); d != nil && snap.Fail == nil {
		return append(renderFlowDone(m.st, d, s, width, m.now), steps_...)
	}
	if snap.Fail == nil {
		return append(lines(renderDone(m.st, snap, s, width, tall, m.now)), steps_...)
	}
	out := append(renderFailure(m.st, snap.Fail, width), steps_...)
	details := snap
	details.Fail = nil
	body := lines(screen(cur.ID())(m.st, details, s, width, tall, m.now))
	if len(body) > 1 {
		out = append(out, "", m.st.App.Strong.Render(" "+cur.Title()+": details"))
		out = append(out, body[1:]...)
	}
	return out
}

// stepParts lays out the current step's screen (see bodyParts).
func (m *model) stepParts(width, height int) (content, pinned []string, scroll bool) {
	s := m.e.Session()
	cur := m.e.Current()
	snap := cur.Snapshot(s)
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
			return append(head, m.pickerView(q, s, width, height-len(head))...), nil, false
		case steps.AskConfirm:
			// The question and its keys stay at the bottom; what it is
			// about (the plan, the permissions) scrolls above it.
			snap.Prompt = &q
			content := lines(render(m.st, snap, s, width, tall, m.now))
			return append(content, m.confirmDetails(q, width)...), append(m.mismatchWarning(q, width), m.confirmView(q, width)...), true
		}
	}
	if cur.ID() == steps.SignIn && !m.e.Finished() {
		return lines(m.signInBody(snap, width, height)), nil, false
	}
	if u := m.consentURL(); u != "" && m.showQR {
		body := lines(render(m.st, snap, s, width, height, m.now))
		if qr, ok := qrBlock(m.st, u, width, height-len(body)-1); ok {
			return append(append(body, ""), lines(qr)...), nil, false
		}
		// Under the screen: its lines, a blank, the code's rows.
		n := qrModules(u)
		w, h := m.size()
		return append(body, m.qrNote(max(w, n), len(body)+1+(n+1)/2+h-m.bodyHeight(),
			"send the address above (c copies it)", width)...), nil, false
	}
	if cur.ID() == steps.Roles || cur.ID() == steps.Health {
		// The plan of a dehydrated tenant is longer than most windows,
		// and the health wait's texts do not fit a small one: they
		// scroll, nothing is cut.
		return lines(render(m.st, snap, s, width, tall, m.now)), nil, true
	}
	return lines(render(m.st, snap, s, width, height, m.now)), nil, false
}

// scrollWindow is the part of a scrolling body on screen: the first line
// shown and how many (rows); rows == len(content) when it all fits.
func scrollWindow(content, pinned []string, height, offset int) (first, rows int) {
	room := height - len(pinned)
	if len(pinned) > 0 {
		room-- // the blank line (or the position line) above the question
	}
	if len(content) <= room {
		return 0, len(content)
	}
	rows = max(room-1, 1) // one line says where we are
	if len(pinned) > 0 {
		rows = max(room, 1) // the position line takes the blank line's place
	}
	first = min(max(offset, 0), max(len(content)-rows, 0))
	return first, rows
}

func (m *model) renderBody(width, height int) string {
	content, pinned, scroll := m.bodyParts(width, height)
	m.overflow = false
	if !scroll {
		return join(content)
	}
	first, rows := scrollWindow(content, pinned, height, m.scroll)
	out := append([]string{}, content[first:first+rows]...)
	if rows < len(content) {
		m.overflow = true
		out = append(out, m.st.App.Muted.Render(m.position(first, rows, len(content), width)))
	} else if len(pinned) > 0 {
		out = append(out, "")
	}
	return join(append(out, pinned...))
}

// position says which lines of a scrolling body are on screen, as much of
// it as fits width.
func (m *model) position(first, rows, total, width int) string {
	dash, keys := "–", " (↑/↓ PgUp/PgDn to scroll)"
	if m.st.ASCII {
		dash, keys = "-", " (up/down PgUp/PgDn to scroll)"
	}
	more := ""
	if first+rows < total {
		more = ", more below"
	}
	s := fmt.Sprintf(" lines %d%s%d of %d", first+1, dash, first+rows, total)
	for _, c := range []string{s + more + keys, s + more} {
		if ansi.StringWidth(c) <= width {
			return c
		}
	}
	return s
}

// scrollKey scrolls a body that does not fit; ok is false for other keys
// and when nothing scrolls.
func (m *model) scrollKey(k tea.KeyPressMsg) bool {
	if a := m.activeAsk(); !m.journal && a != nil && a.Effect.(steps.Ask).Q.Kind == steps.AskSelect {
		return false // the picker has its own arrows
	}
	w, _ := m.size()
	bh := m.bodyHeight()
	content, pinned, scroll := m.bodyParts(w, bh)
	if !scroll {
		return false
	}
	first, rows := scrollWindow(content, pinned, bh, m.scroll)
	last := max(len(content)-rows, 0)
	page := max(rows-1, 1)
	switch {
	case key.Matches(k, m.keys.Up):
		first--
	case key.Matches(k, m.keys.Down):
		first++
	case key.Matches(k, m.keys.PgUp):
		first -= page
	case key.Matches(k, m.keys.PgDown):
		first += page
	case key.Matches(k, m.keys.Home):
		first = 0
	case key.Matches(k, m.keys.End):
		first = last
	default:
		return false
	}
	m.scroll = min(max(first, 0), last)
	return true
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
		body, _ = m.withQR(snap, verificationURL(c), width, height)
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
// beside the code when there is room, under it otherwise, or (ok false) a
// line saying what size of terminal shows it.
func (m *model) withQR(snap steps.Snapshot, url string, width, height int) (_ []string, ok bool) {
	s := m.e.Session()
	compactH := min(height, 15)
	// The compact sign-in has no heading: the QR layout keeps it.
	head := title(m.st, "Sign in to the customer's Microsoft 365 tenant")
	const gap, minLeft = 2, 44
	if qr, ok := qrBlock(m.st, url, width, height-1); ok {
		qw := lipgloss.Width(qr)
		if lw := width - qw - gap; lw >= minLeft {
			left := renderSignIn(m.st, snap, s, lw, compactH, m.now)
			return append([]string{head}, lines(lipgloss.JoinHorizontal(lipgloss.Top, left, strings.Repeat(" ", gap), qr))...), true
		}
	}
	body := lines(renderSignIn(m.st, snap, s, width, compactH, m.now))
	if height >= 16 {
		body = append([]string{head}, body...)
	}
	if qr, ok := qrBlock(m.st, url, width, height-1-len(body)); ok {
		return append(append(body, ""), lines(qr)...), true
	}
	// The terminal the side-by-side layout needs: the code's columns
	// beside the sign-in's, its rows under the heading, plus the lines
	// around the body.
	n := qrModules(url)
	w, h := m.size()
	return append(body, m.qrNote(max(w, n+gap+minLeft), (n+1)/2+1+h-m.bodyHeight(),
		"open the address above on any device and enter the code (c copies it)", width)...), false
}

// qrModules is the width of url's QR code as qrBlock draws it (quiet zone
// included), in columns; its rows are half that, rounded up.
func qrModules(url string) int {
	q, err := qrcode.New(url, qrcode.Low)
	if err != nil {
		return 0
	}
	q.DisableBorder = true
	return len(q.Bitmap()) + 4
}

// qrNote says what size of terminal shows the QR code (w×h), and what to
// do instead.
func (m *model) qrNote(w, h int, instead string, width int) []string {
	return wrapStyled(m.st.App.Muted.Render, fmt.Sprintf(
		"The QR code needs a terminal of at least %d×%d: enlarge it or make the font smaller, or %s.", w, h, instead), " ", width)
}

// signInQRNeedsJournal says the sign-in's QR code fits in a body of
// height but not once the earlier steps' lines (rows of them) take their
// place above it: the code is worth more than those lines (tab shows
// them).
func (m *model) signInQRNeedsJournal(width, height, rows int) bool {
	c := m.codeShown()
	if c == nil || !m.showQR || m.e.Finished() || m.e.Current().ID() != steps.SignIn || m.browserShown() {
		return false
	}
	snap := m.e.Current().Snapshot(m.e.Session())
	if _, ok := m.withQR(snap, verificationURL(c), width, height-rows); ok {
		return false
	}
	_, ok := m.withQR(snap, verificationURL(c), width, height)
	return ok
}

// confirmDetails is what a question is about when its screen does not
// draw it (the role-fix plan is drawn by its screen): it scrolls above the
// question.
func (m *model) confirmDetails(q steps.Question, width int) []string {
	if len(q.ChangeIDs) > 0 || len(q.Details) == 0 {
		return nil
	}
	out := []string{""}
	for _, d := range q.Details {
		out = append(out, wrapStyled(m.st.App.Text.Render, san(d), "   "+m.st.Icons.Bullet+" ", width)...)
	}
	return out
}

// mismatchWarning warns, right above the mapping question, when the
// picked organization's name does not resemble the tenant's.
func (m *model) mismatchWarning(q steps.Question, width int) []string {
	s := m.e.Session()
	if q.ID != steps.QConfirmMapping || s == nil || s.Organization.Name == "" || resembles(s.Organization.Name, s) {
		return nil
	}
	tenant := san(s.Org.DisplayName)
	if tenant == "" {
		tenant = san(s.TenantID)
	}
	msg := "The organization's name (" + san(s.Organization.Name) + ") does not resemble the tenant's (" + tenant +
		"): make sure it is the right organization before answering y."
	return wrapStyled(m.st.Check.Warn.Render, msg, " "+m.st.Icons.Warn+" ", width)
}

// confirmView is a yes/no question and its answer keys. Enter answers no
// yes/no question (docs/ux.md, "Questions"): only y or n do.
func (m *model) confirmView(q steps.Question, width int) []string {
	hint := "[y/n]"
	if m.opt.Yes {
		hint = "yes (--yes)"
	}
	return wrapStyled(m.st.Prompt.Question.Render, san(q.Prompt)+" "+hint, " ", width)
}

// questionWhole reports whether the question on screen can be answered:
// what it is about has been scrolled to its end and the question with its
// keys is on screen whole.
func (m *model) questionWhole() bool {
	w, _ := m.size()
	bh := m.bodyHeight()
	content, pinned, scroll := m.bodyParts(w, bh)
	if !scroll {
		return true
	}
	if len(pinned)+1 > bh {
		return false // the question itself does not fit
	}
	first, rows := scrollWindow(content, pinned, bh, m.scroll)
	return first+rows >= len(content)
}

// pickerView is the organization picker: the filter field, the count and
// the visible window of the ranked list, with a line saying how many more
// there are when the list is cut. When the tenant is already mapped it says
// to which organization, and marks that organization's row.
func (m *model) pickerView(q steps.Question, s *steps.Session, width, height int) []string {
	p := &m.pick
	count := fmt.Sprintf("%d of %d", len(p.results), len(p.choices))
	fw := max(width-len(count)-2, 12)
	placeholder := "type part of a name"
	if fw < 32 {
		placeholder = "type to filter"
	}
	field := ansi.Truncate(p.query.view(m.st, " Filter: ", fw, true, placeholder), fw, "")
	pad := width - ansi.StringWidth(field) - len(count) - 1
	var out []string
	if height >= 4 {
		out = append(out, m.st.Prompt.Question.Render(ansi.Truncate(" "+san(q.Prompt), width, m.st.Icons.Ellipsis)))
	}
	mappedID, mappedName := currentMapping(s, p.choices)
	if mappedName != "" && height >= 6 {
		note := wrapStyled(m.st.Notice.Render, "This tenant is currently mapped to "+mappedName+".", " ", width)
		out = append(out, note[:min(len(note), 2)]...)
	}
	out = append(out, field+strings.Repeat(" ", max(pad, 1))+m.st.App.Muted.Render(count))
	if len(p.results) == 0 {
		p.rows = 1
		return append(out, m.st.App.Muted.Render("   no organization matches"))
	}
	rows := max(height-len(out), 1)
	cut := len(p.results) > rows
	if cut && rows > 1 {
		rows-- // the "more" line
	}
	p.rows = rows
	m.clampPicker(rows)
	end := min(p.offset+rows, len(p.results))
	const mark = " (currently mapped)"
	same := collisions(p.choices)
	for i := p.offset; i < end; i++ {
		c := p.choices[p.results[i]]
		lw := max(width-4, 4)
		suffix := ""
		if same[foldLabel(c.Label)] {
			// Two organizations with this name: the id tells them apart.
			suffix = " · " + san(c.Value)
		}
		if mappedID != "" && c.Value == mappedID {
			suffix += mark
		}
		if sw := ansi.StringWidth(suffix); sw > 0 && lw > sw+8 {
			lw -= sw
		} else {
			suffix = ""
		}
		label := ansi.Truncate(san(c.Label), lw, m.st.Icons.Ellipsis)
		style, lead := m.st.Prompt.Choice, "   "
		if i == p.cursor {
			style, lead = m.st.Prompt.Selected, " > "
		}
		hi := style.Underline(true).Bold(true)
		if m.st.ASCII {
			hi = style
		}
		out = append(out, style.Render(lead)+highlight(label, p.query.Value(), style, hi)+m.st.App.Muted.Render(suffix))
	}
	if cut && len(out) < height {
		out = append(out, m.st.App.Muted.Render(m.pickerMore(p.offset, len(p.results)-end)))
	}
	return out
}

// pickerMore says how many rows of the cut list are above and below.
func (m *model) pickerMore(above, below int) string {
	up, down := "↑", "↓"
	if m.st.ASCII {
		up, down = "^", "v"
	}
	var parts []string
	if below > 0 {
		parts = append(parts, fmt.Sprintf("%s %d more", down, below))
	}
	if above > 0 {
		parts = append(parts, fmt.Sprintf("%s %d above", up, above))
	}
	return "   " + strings.Join(parts, "  ")
}

// currentMapping is the organization the tenant is mapped to now (id and
// name; empty when it is not mapped or the session does not know).
func currentMapping(s *steps.Session, choices []steps.Choice) (id, name string) {
	if s == nil || s.Existing == nil || (s.Existing.OrganizationID == "" && s.Existing.OrganizationName == "") {
		return "", ""
	}
	id, name = s.Existing.OrganizationID, san(s.Existing.OrganizationName)
	if name == "" {
		name = san(id)
		for _, c := range choices {
			if c.Value == id {
				name = san(c.Label)
			}
		}
	}
	return id, name
}

// renderRail renders the progress rail: every step with its state; a
// compact form (icons and the current step) when the full one does not fit.
func renderRail(st theme.Styles, e *steps.Engine, width int) string {
	all := e.Steps()
	cur := e.Current().ID()
	finished := e.Finished()
	var full, icons []string
	for _, step := range all {
		icon, style := stepMark(st, e, step)
		if step.Status() == steps.StatusPaused && finished {
			// The run stopped before the step could finish.
			icon, style = st.Icons.Pending, st.Rail.Pending
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

// bindings are the keys that work now, for the help line. m.overflow
// (set by the body's render) adds the scroll keys.
func (m *model) bindings() []key.Binding {
	b := m.stateBindings()
	if !m.overflow {
		return b
	}
	// On a question, right after the answers (y, n) so a narrow help line
	// still shows it; elsewhere after the screen's keys.
	at := len(b)
	if a := m.activeAsk(); a != nil && !m.opt.Yes && len(b) > 2 {
		at = 2
	}
	return append(append(append([]key.Binding{}, b[:at]...), m.keys.Scroll), b[at:]...)
}

func (m *model) stateBindings() []key.Binding {
	k := m.keys
	if m.journal {
		back := k.Journal
		back.SetHelp("tab/esc", "back")
		return []key.Binding{back, k.Quit}
	}
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
			return []key.Binding{k.Move, k.Pick, k.Clear, k.Interrupt}
		}
		if m.opt.Yes {
			return []key.Binding{k.Interrupt}
		}
		return []key.Binding{k.Yes, k.No, k.Quit}
	}
	switch m.e.Current().ID() {
	case steps.SignIn:
		if m.browserShown() {
			if m.pasteFocus {
				return []key.Binding{k.Submit, k.Blur, k.Interrupt}
			}
			return []key.Binding{k.Paste, k.CopyURL, k.Quit}
		}
		if m.codeShown() != nil {
			qr := k.QR
			if m.showQR {
				qr.SetHelp("r", "hide QR")
			}
			return []key.Binding{k.Copy, qr, k.NewCode, k.Browser, k.Quit}
		}
		return []key.Binding{k.Quit}
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
