package tui

// The batch watch screen (issue 21): one row per tenant of a running batch,
// live, from steps.BatchSnapshot alone (the orchestrator hands it out through
// steps.BatchControl). A header counts the tenants per state and shows the
// ETA and every upstream's budget in use; a row opens to its journal and
// receipt (a handed-off row: c copies its link with OSC 52, v shows the link
// as a QR code); r retries a failed row; p pauses the batch (no new tenant
// starts); / filters.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	qrcode "github.com/skip2/go-qrcode"

	"itdr-onboard/steps"
	"itdr-onboard/ui/theme"
)

// WatchOptions configure the watch screen.
type WatchOptions struct {
	NoColor bool
	Input   io.Reader // nil = os.Stdin
	Output  io.Writer // nil = os.Stdout
	Now     func() time.Time
}

// RunWatch shows the batch until the technician closes it. It returns 0 when
// the batch had finished and the screen was closed, 130 when the technician
// quit while it ran (the caller stops the batch; `batch resume` goes on).
func RunWatch(ctx context.Context, ctl steps.BatchControl, opt WatchOptions) int {
	m := newWatch(ctl, opt)
	if os.Getenv("TERM") == "dumb" {
		m.st = theme.Plain()
	}
	popts := []tea.ProgramOption{tea.WithContext(ctx), tea.WithFPS(fps)}
	if opt.Input != nil {
		popts = append(popts, tea.WithInput(opt.Input))
	}
	if opt.Output != nil {
		popts = append(popts, tea.WithOutput(opt.Output))
	}
	if opt.NoColor {
		popts = append(popts, tea.WithColorProfile(colorprofile.ASCII))
	}
	final, err := tea.NewProgram(m, popts...).Run()
	fm, ok := final.(*watchModel)
	if !ok {
		fm = m
	}
	switch {
	case errors.Is(err, tea.ErrInterrupted), errors.Is(err, tea.ErrProgramKilled), errors.Is(err, context.Canceled):
		return 130
	case err != nil:
		fmt.Fprintln(os.Stderr, "itdr-onboard: the terminal UI failed:", err)
		return 1
	}
	if fm.quit && !fm.snap.Finished {
		return 130
	}
	return 0
}

type (
	batchChangedMsg struct{ closed bool }
	watchTickMsg    struct{ at time.Time }
)

type watchModel struct {
	ctl    steps.BatchControl
	now    func() time.Time
	st     theme.Styles
	snap   steps.BatchSnapshot
	closed bool

	width, height int
	rows          []steps.BatchTenant // filtered, in the snapshot's order
	cursorID      string              // the row under the cursor, kept across updates
	top           int                 // first row shown
	filter        string
	typing        bool

	open        string   // tenant id whose detail is open ("" = the table)
	openLines   []string // its journal lines (read when opened)
	openErr     string
	openScroll  int
	showQR      bool // the opened hand-off row's link as a QR code
	notice      string
	quit        bool
	tickPending bool
	chrome      int // lines that are not table rows (header, titles, notice, keys)
}

func newWatch(ctl steps.BatchControl, opt WatchOptions) *watchModel {
	now := opt.Now
	if now == nil {
		now = time.Now
	}
	m := &watchModel{ctl: ctl, now: now, st: theme.New(true, opt.NoColor), width: 80, height: 24}
	m.refresh()
	return m
}

func (m *watchModel) refresh() {
	m.snap = m.ctl.Snapshot()
	m.apply()
}

// watchMatch: every word of the filter appears in the row's name, domain,
// tenant id, "lane:<lane>", "state:<state>" or step.
func watchMatch(t steps.BatchTenant, filter string) bool {
	hay := strings.ToLower(t.Name + " " + t.Domain + " " + t.TenantID + " lane:" + t.Lane + " state:" + string(t.State) + " " + t.StepTitle)
	for _, w := range strings.Fields(strings.ToLower(filter)) {
		if !strings.Contains(hay, w) {
			return false
		}
	}
	return true
}

func (m *watchModel) apply() {
	m.rows = m.rows[:0]
	for _, t := range m.snap.Tenants {
		if watchMatch(t, m.filter) {
			m.rows = append(m.rows, t)
		}
	}
	if m.cursor() < 0 && len(m.rows) > 0 {
		m.cursorID = m.rows[0].TenantID
	}
}

func (m *watchModel) cursor() int {
	for i, r := range m.rows {
		if r.TenantID == m.cursorID {
			return i
		}
	}
	return -1
}

func (m *watchModel) move(d int) {
	if len(m.rows) == 0 {
		return
	}
	i := min(max(m.cursor()+d, 0), len(m.rows)-1)
	m.cursorID = m.rows[i].TenantID
}

func (m *watchModel) listen() tea.Cmd {
	ch := m.ctl.Changed()
	return func() tea.Msg {
		_, ok := <-ch
		return batchChangedMsg{closed: !ok}
	}
}

// moving reports whether a row's elapsed time is counting (a second tick is
// needed); a batch whose tenants all wait for health draws nothing until the
// orchestrator reports a change.
func (m *watchModel) moving() bool {
	if m.snap.Finished {
		return false
	}
	for _, t := range m.snap.Tenants {
		if (t.State == steps.TenantRunning || t.State == steps.TenantWaiting) && !t.Started.IsZero() {
			return true
		}
	}
	return false
}

func (m *watchModel) tick() tea.Cmd {
	if m.tickPending || !m.moving() {
		return nil
	}
	m.tickPending = true
	now := m.now()
	at := now.Truncate(time.Second).Add(time.Second)
	return tea.Tick(at.Sub(now), func(time.Time) tea.Msg { return watchTickMsg{at: at} })
}

func (m *watchModel) Init() tea.Cmd { return tea.Batch(m.listen(), m.tick()) }

func (m *watchModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
	case tea.BackgroundColorMsg:
		if !m.st.NoColor {
			m.st = theme.New(msg.IsDark(), false)
		}
	case batchChangedMsg:
		m.refresh()
		if msg.closed {
			m.closed, m.notice = true, ""
			return m, nil
		}
		return m, tea.Batch(m.listen(), m.tick())
	case watchTickMsg:
		m.tickPending = false
		m.snap.Now = msg.at
		return m, m.tick()
	case tea.KeyPressMsg:
		return m, m.key(msg)
	}
	return m, nil
}

func (m *watchModel) key(msg tea.KeyPressMsg) tea.Cmd {
	k := msg.String()
	m.notice = ""
	if k == "ctrl+c" {
		m.quit = true
		return tea.Quit
	}
	if m.typing {
		switch k {
		case "enter":
			m.typing = false
		case "esc":
			m.typing, m.filter = false, ""
		case "backspace":
			if r := []rune(m.filter); len(r) > 0 {
				m.filter = string(r[:len(r)-1])
			}
		default:
			if msg.Text != "" {
				m.filter += msg.Text
			}
		}
		m.apply()
		return nil
	}
	if m.open != "" && m.showQR {
		switch k {
		case "esc", "enter", "backspace", "v":
			m.showQR = false
		case "c":
			return m.copyLink()
		case "q":
			m.quit = true
			return tea.Quit
		}
		return nil
	}
	if m.open != "" {
		switch k {
		case "esc", "enter", "backspace":
			m.open = ""
		case "c":
			return m.copyLink()
		case "v":
			if m.openLink() != "" {
				m.showQR = true
			}
		case "up", "k":
			m.openScroll = max(0, m.openScroll-1)
		case "down", "j":
			m.openScroll++
		case "pgup":
			m.openScroll = max(0, m.openScroll-m.pageRows())
		case "pgdown", "space":
			m.openScroll += m.pageRows()
		case "home":
			m.openScroll = 0
		case "end":
			m.openScroll = 1 << 30
		case "r":
			return m.retry(m.open)
		case "q":
			m.quit = true
			return tea.Quit
		}
		return nil
	}
	switch k {
	case "q", "esc":
		if k == "esc" {
			if m.filter != "" {
				m.filter = ""
				m.apply()
			}
			return nil
		}
		m.quit = true
		return tea.Quit
	case "up", "k":
		m.move(-1)
	case "down", "j":
		m.move(1)
	case "pgup":
		m.move(-m.pageRows())
	case "pgdown":
		m.move(m.pageRows())
	case "home":
		m.move(-len(m.rows))
	case "end":
		m.move(len(m.rows))
	case "/":
		m.typing = true
	case "enter":
		if i := m.cursor(); i >= 0 {
			m.openRow(m.rows[i].TenantID)
		}
	case "r":
		if i := m.cursor(); i >= 0 {
			return m.retry(m.rows[i].TenantID)
		}
	case "p":
		if m.snap.Finished {
			m.notice = "The batch has finished: nothing to pause."
			return nil
		}
		m.ctl.Pause(!m.snap.Paused)
		m.snap.Paused = !m.snap.Paused
		if m.snap.Paused {
			m.notice = "Paused: no new tenant starts; running ones finish their step. p resumes."
		} else {
			m.notice = "Resumed."
		}
	}
	return nil
}

// openLink is the opened row's hand-off link, sanitised ("" = none).
func (m *watchModel) openLink() string {
	t, ok := m.snap.Tenant(m.open)
	if !ok || t.HandOff == nil {
		return ""
	}
	return san(t.HandOff.Link)
}

// linkName names a hand-off link by its kind for the notice.
func linkName(kind string) string {
	switch kind {
	case "gdap-invite":
		return "GDAP invitation"
	case "admin-consent":
		return "admin-consent"
	case "":
		return "hand-off"
	}
	return san(kind)
}

// copyLink puts the opened row's hand-off link on the clipboard (OSC 52).
func (m *watchModel) copyLink() tea.Cmd {
	u := m.openLink()
	if u == "" {
		m.notice = "This tenant has no link to copy."
		return nil
	}
	t, _ := m.snap.Tenant(m.open)
	m.notice = "Copied the " + linkName(t.HandOff.LinkKind) + " link to the clipboard."
	return tea.SetClipboard(u)
}

func (m *watchModel) openRow(id string) {
	m.open, m.openScroll, m.openErr, m.showQR = id, 0, "", false
	ls, err := m.ctl.Journal(id)
	m.openLines = ls
	if err != nil {
		m.openErr = err.Error()
	}
}

func (m *watchModel) retry(id string) tea.Cmd {
	t, ok := m.snap.Tenant(id)
	if !ok {
		return nil
	}
	if t.State != steps.TenantFailed && t.State != steps.TenantHandedOff {
		m.notice = fmt.Sprintf("%s is %s: only a failed or handed-off tenant is retried.", san(t.Name), t.State)
		return nil
	}
	if err := m.ctl.Retry(id); err != nil {
		m.notice = "Retry " + san(t.Name) + ": " + san(err.Error())
		return nil
	}
	m.notice = san(t.Name) + " is queued again."
	return nil
}

// pageRows is how many table rows fit under the header (as last drawn).
func (m *watchModel) pageRows() int {
	if m.chrome == 0 {
		m.render()
	}
	return max(1, m.height-m.chrome)
}

func (m *watchModel) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	return v
}

// countParts are "○ 3 queued", "⠋ 2 running", … in state order.
func (m *watchModel) countParts() []string {
	var parts []string
	for _, c := range m.snap.Counts {
		parts = append(parts, m.glyph(c.State)+" "+fmt.Sprintf("%d %s", c.N, c.State))
	}
	return parts
}

// counts is the header's state counts on one line.
func (m *watchModel) counts() string { return strings.Join(m.countParts(), "  ") }

// spread lays parts out on as few lines as the width allows, two spaces
// apart (parts are never cut in the middle).
func (m *watchModel) spread(parts []string, w int) []string {
	var out []string
	line := ""
	for _, p := range parts {
		switch {
		case line == "":
			line = p
		case ansi.StringWidth(line)+2+ansi.StringWidth(p) <= w:
			line += "  " + p
		default:
			out = append(out, line)
			line = p
		}
	}
	if line != "" {
		out = append(out, line)
	}
	return out
}

// glyph is the state glyph in its colour; a running row spins.
func (m *watchModel) glyph(s steps.TenantState) string {
	g := s.Glyph()
	if m.st.ASCII {
		g = map[steps.TenantState]string{steps.TenantQueued: ".", steps.TenantRunning: "*", steps.TenantWaiting: "~",
			steps.TenantHealthy: "+", steps.TenantPending: "?", steps.TenantFailed: "x", steps.TenantHandedOff: ">", steps.TenantSkipped: "-"}[s]
	}
	switch s.Mark() {
	case steps.MarkPass:
		return m.st.Check.Pass.Render(g)
	case steps.MarkWarn:
		return m.st.Check.Warn.Render(g)
	case steps.MarkFail:
		return m.st.Check.Fail.Render(g)
	case steps.MarkRunning:
		return m.st.Check.Running.Render(g)
	}
	return m.st.App.Muted.Render(g)
}

// budgetParts are "platform 41/60/min", "Graph/tenant 118/3500/10s", … with
// "held 0:12" while a service's Retry-After holds one.
func (m *watchModel) budgetParts(now time.Time) []string {
	var parts []string
	for i, b := range m.snap.Budgets {
		s := fmt.Sprintf("%s %d/%d/%s", san(b.Name), b.Used, b.Limit, per(b.Per))
		if i == 0 {
			s = "budgets: " + s
		}
		if b.WaitUntil.After(now) {
			s += " " + m.st.Check.Warn.Render("held "+countdown(b.WaitUntil.Sub(now)))
		}
		parts = append(parts, m.st.App.Muted.Render(s))
	}
	return parts
}

func per(d time.Duration) string {
	switch {
	case d == time.Minute:
		return "min"
	case d == time.Second:
		return "s"
	case d%time.Minute == 0:
		return fmt.Sprintf("%dmin", d/time.Minute)
	case d%time.Second == 0:
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return d.String()
}

func (m *watchModel) render() string {
	now := m.snap.Now
	if now.IsZero() {
		now = m.now()
	}
	w := max(m.width, 20)
	var out []string
	head := fmt.Sprintf("Batch %s — %d tenants", san(m.snap.ID), len(m.snap.Tenants))
	if len(m.snap.Tenants) == 1 {
		head = fmt.Sprintf("Batch %s — 1 tenant", san(m.snap.ID))
	}
	switch {
	case m.snap.Finished:
		head += " — finished"
	case m.snap.Paused:
		head += " — " + m.st.Check.Warn.Render("paused")
	}
	eta := "ETA after the first tenant ends"
	if m.snap.Finished {
		eta = "took " + human(now.Sub(m.snap.Started))
	} else if !m.snap.ETA.IsZero() {
		eta = "ETA " + clockRel(m.snap.ETA, now)
	}
	out = append(out, title(m.st, head)+m.st.App.Muted.Render(fmt.Sprintf(" · %s · %d at a time", eta, m.snap.Parallel)))
	out = append(out, m.spread(m.countParts(), w)...)
	out = append(out, m.spread(m.budgetParts(now), w)...)
	out = append(out, "")
	m.chrome = len(out) + 3 // the column titles, the notice line, the keys
	if m.open != "" && m.showQR {
		// The QR code takes the whole window: no batch header.
		out = m.renderQR(w, max(1, m.height-2))
		m.chrome = len(out) + 2
	} else if m.open != "" {
		out = append(out, m.renderOpen(now, w)...)
	} else {
		out = append(out, m.renderTable(now, w)...)
	}
	// Notice or filter line, then the keys.
	var line string
	switch {
	case m.typing:
		line = "filter: " + san(m.filter) + "▏" + m.st.App.Muted.Render("  (enter keeps it, esc clears)")
	case m.notice != "":
		line = m.st.Notice.Render(m.notice)
	case m.filter != "":
		line = m.st.App.Muted.Render(fmt.Sprintf("filter: %s — %d of %d shown (esc clears)", san(m.filter), len(m.rows), len(m.snap.Tenants)))
	case m.snap.Finished:
		line = m.st.App.Strong.Render("The batch has finished: q closes (the summary stays in the terminal).")
	}
	body := fitHeight(out, max(1, m.height-2))
	body = append(body, line, m.helpLine())
	return join(fit(m.st, body, w, 0))
}

// fitHeight pads or cuts lines to exactly n.
func fitHeight(ls []string, n int) []string {
	if len(ls) > n {
		return ls[:n]
	}
	for len(ls) < n {
		ls = append(ls, "")
	}
	return ls
}

func (m *watchModel) helpLine() string {
	var keys [][2]string
	switch {
	case m.typing:
		keys = [][2]string{{"enter", "keep"}, {"esc", "clear"}}
	case m.open != "" && m.showQR:
		keys = [][2]string{{"c", "copy link"}, {"esc", "back"}, {"q", "quit"}}
	case m.open != "" && m.openLink() != "":
		keys = [][2]string{{"↑↓", "scroll"}, {"c", "copy link"}, {"v", "QR"}, {"r", "retry"}, {"esc", "back"}, {"q", "quit"}}
	case m.open != "":
		keys = [][2]string{{"↑↓", "scroll"}, {"r", "retry"}, {"esc", "back"}, {"q", "quit"}}
	case m.snap.Finished:
		keys = [][2]string{{"↑↓", "move"}, {"enter", "open"}, {"r", "retry"}, {"/", "filter"}, {"q", "close"}}
	default:
		keys = [][2]string{{"↑↓", "move"}, {"enter", "open"}, {"r", "retry"}, {"p", "pause"}, {"/", "filter"}, {"q", "quit"}}
		if m.snap.Paused {
			keys[3][1] = "go on"
		}
	}
	sep := " • "
	if m.st.ASCII {
		sep = " | "
	}
	var parts []string
	for _, k := range keys {
		parts = append(parts, m.st.Help.Key.Render(k[0])+" "+m.st.Help.Desc.Render(k[1]))
	}
	return strings.Join(parts, m.st.Help.Sep.Render(sep))
}

// columns are the table's widths for a window width: name, lane, step, and
// the message takes the rest.
func columns(w int) (name, lane, step int) {
	switch {
	case w >= 120:
		return 28, 13, 16
	case w >= 80:
		// 13: the longest lane name, "not-consented", whole.
		return 15, 13, 10
	default:
		return 14, 0, 10
	}
}

func pad(s string, n int) string {
	if n <= 0 {
		return ""
	}
	s = san(s)
	if ansi.StringWidth(s) > n {
		return ansi.Truncate(s, n, "…")
	}
	return s + strings.Repeat(" ", n-ansi.StringWidth(s))
}

func (m *watchModel) renderTable(now time.Time, w int) []string {
	nw, lw, sw := columns(w)
	head := "  " + pad("TENANT", nw) + " "
	if lw > 0 {
		head += pad("LANE", lw) + " "
	}
	head += pad("STEP", sw) + "   " + fmt.Sprintf("%-7s %-3s ", "TIME", "RTY") + "LAST"
	out := []string{m.st.App.Header.Render(head)}
	n := m.pageRows()
	cur := m.cursor()
	if cur >= 0 {
		if cur < m.top {
			m.top = cur
		}
		if cur >= m.top+n {
			m.top = cur - n + 1
		}
	}
	m.top = min(m.top, max(0, len(m.rows)-n))
	if len(m.rows) == 0 {
		out = append(out, m.st.App.Muted.Render("  (no tenant matches the filter)"))
	}
	for i := m.top; i < len(m.rows) && i < m.top+n; i++ {
		t := m.rows[i]
		sel := "  "
		if i == cur {
			sel = m.st.Prompt.Key.Render("▶ ")
			if m.st.ASCII {
				sel = "> "
			}
		}
		step := t.StepTitle
		if step == "" {
			step = string(t.Step)
		}
		el := ""
		if !t.Started.IsZero() {
			el = human(t.Elapsed(now))
		}
		msg := t.Message
		if t.State == steps.TenantHandedOff && t.HandOff != nil && msg == "" {
			msg = t.HandOff.Reason
		}
		row := sel + pad(t.Name, nw) + " "
		if lw > 0 {
			row += pad(t.Lane, lw) + " "
		}
		row += pad(step, sw) + " " + m.glyph(t.State) + " " + fmt.Sprintf("%-7s %-3s ", el, retries(t.Retries)) + san(msg)
		out = append(out, row)
	}
	return out
}

func retries(n int) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprint(n)
}

// renderOpen is one tenant whole: where it stands, its hand-off, its record
// and its journal.
func (m *watchModel) renderOpen(now time.Time, w int) []string {
	t, ok := m.snap.Tenant(m.open)
	if !ok {
		return []string{"(this tenant is no longer in the batch)"}
	}
	var ls []string
	add := func(label, v string) {
		if v != "" {
			ls = append(ls, wrapStyled(m.st.App.Text.Render, san(v), label+": ", w)...)
		}
	}
	ls = append(ls, m.glyph(t.State)+" "+m.st.App.Strong.Render(san(t.Name))+"  "+m.st.App.Muted.Render(san(t.TenantID)))
	add("  domain", t.Domain)
	add("  lane", t.Lane)
	org := t.Org
	if t.OrgNote != "" {
		org += " (" + t.OrgNote + ")"
	}
	add("  organization", org)
	st := string(t.State)
	if t.StepTitle != "" {
		st += " at " + t.StepTitle
	}
	if !t.Started.IsZero() {
		st += ", " + human(t.Elapsed(now))
	}
	switch {
	case t.Retries == 1:
		st += ", 1 retry"
	case t.Retries > 1:
		st += fmt.Sprintf(", %d retries", t.Retries)
	}
	add("  state", st)
	add("  last", t.Message)
	add("  evidence", t.Evidence)
	if t.Changes > 0 {
		add("  changes made", fmt.Sprint(t.Changes))
	}
	add("  next", t.Next)
	if h := t.HandOff; h != nil {
		add("  hand-off", h.Reason)
		add("  "+h.Who+" must", h.CustomerAction)
		for _, s := range h.Steps {
			add("    left", s)
		}
		add("  link", h.Link)
		if san(h.Link) != "" {
			ls = append(ls, m.st.App.Muted.Render("  c copies the link, v shows it as a QR code"))
		}
	}
	add("  receipt", t.ReceiptPath)
	add("  journal", t.JournalPath)
	ls = append(ls, "", m.st.App.Header.Render("Journal"))
	switch {
	case m.openErr != "":
		ls = append(ls, wrapStyled(m.st.Check.Fail.Render, san(m.openErr), "  ", w)...)
	case len(m.openLines) == 0:
		ls = append(ls, m.st.App.Muted.Render("  (nothing recorded yet)"))
	}
	for _, l := range m.openLines {
		ls = append(ls, wrapStyled(m.st.App.Text.Render, san(l), "  ", w)...)
	}
	n := max(1, m.height-m.chrome+1)
	m.openScroll = min(m.openScroll, max(0, len(ls)-n))
	return ls[m.openScroll:]
}

// renderQR is the opened row's hand-off link, whole, and its QR code when
// it fits in w×h; otherwise a line saying how large the window must be.
func (m *watchModel) renderQR(w, h int) []string {
	t, _ := m.snap.Tenant(m.open)
	u := m.openLink()
	kind := "hand-off"
	if t.HandOff != nil {
		kind = linkName(t.HandOff.LinkKind)
	}
	ls := []string{m.glyph(t.State) + " " + m.st.App.Strong.Render(san(t.Name)) + m.st.App.Muted.Render(" — the "+kind+" link")}
	ls = append(ls, wrapStyled(m.st.App.Text.Render, u, " ", w)...)
	if qr, ok := qrBlock(m.st, u, w, h-len(ls)); ok {
		return append(ls, lines(qr)...)
	}
	// The size the code needs: its width (at least the current one, which
	// the link's wrapping assumes), and its rows plus the lines above and the
	// notice and key lines below.
	n := 0
	if q, err := qrcode.New(u, qrcode.Low); err == nil {
		q.DisableBorder = true
		n = len(q.Bitmap()) + 4
	}
	need := len(ls) + (n+1)/2 + 2
	ls = append(ls, "")
	return append(ls, wrapStyled(m.st.App.Muted.Render, fmt.Sprintf(
		"Widen the terminal to at least %d×%d for the QR code (the link above is whole; c copies it).",
		max(n, w), need), " ", w)...)
}
