package tui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"itdr-onboard/steps"
)

// Update folds one message into the model.
func (m *model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	return m.update(msg)
}

func (m *model) update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.help.SetWidth(msg.Width)
		return m, nil
	case tea.BackgroundColorMsg:
		m.setStyles(msg.IsDark())
		return m, nil
	case outcomeMsg:
		m.now = m.clock()
		cmd := m.submit(m.e.Handle(msg.o))
		m.afterChange()
		return m, tea.Batch(cmd, m.listenCmd(), m.ticks())
	case autoAnswerMsg:
		m.now = m.clock()
		cmd := m.answer(msg.job, "yes")
		m.afterChange()
		return m, tea.Batch(cmd, m.ticks())
	case spinMsg:
		m.spinPending = false
		m.now = m.clock()
		return m, m.ticks()
	case clockMsg:
		if msg.at.Equal(m.clockAt) {
			m.clockAt = time.Time{}
		}
		m.now = m.clock()
		return m, m.ticks()
	case clearNoticeMsg:
		if msg.seq == m.noticeSeq {
			m.notice = ""
		}
		return m, nil
	case tea.PasteMsg:
		return m, m.handlePaste(msg.Content)
	case tea.KeyPressMsg:
		m.now = m.clock()
		cmd := m.handleKey(msg)
		if m.quitting {
			return m, cmd
		}
		m.afterChange()
		return m, tea.Batch(cmd, m.ticks())
	}
	return m, nil
}

// afterChange keeps the screen-local state consistent with the engine.
func (m *model) afterChange() {
	if m.opt.OnChange != nil {
		m.opt.OnChange(m.e)
	}
	if id := m.e.Current().ID(); id != m.lastStep {
		m.lastStep, m.showQR = id, false
	}
	if id := m.screenID(); id != m.shown {
		// A new screen: a notice about the last one no longer applies.
		m.shown, m.shownAt, m.scroll, m.notice = id, m.now, 0, ""
	}
	if !m.browserShown() {
		m.pasteFocus = false
	}
	if m.opened != nil && m.activeAsk() == nil {
		m.opened = nil
	}
}

func (m *model) signIn() (steps.Snapshot, *steps.SignInDetail) {
	if m.e.Current().ID() != steps.SignIn {
		return steps.Snapshot{}, nil
	}
	snap := m.e.Current().Snapshot(m.e.Session())
	return snap, signInDetail(snap)
}

func (m *model) codeShown() *steps.CodePrompt {
	snap, d := m.signIn()
	if snap.Status.Terminal() {
		return nil
	}
	return d.DeviceCode()
}

func (m *model) browserShown() bool {
	snap, d := m.signIn()
	return !snap.Status.Terminal() && d.BrowserPrompt() != nil
}

// consentURL is the admin-consent address of a --consent handoff on screen.
func (m *model) consentURL() string {
	cur := m.e.Current()
	if cur.ID() != steps.Mapping || cur.Status().Terminal() {
		return ""
	}
	d := mappingDetail(cur.Snapshot(m.e.Session()))
	if d == nil || d.Phase != "handoff" {
		return ""
	}
	return san(d.ConsentURL)
}

func (m *model) interrupt() tea.Cmd {
	m.interrupted, m.quitting = true, true
	m.stop()
	return tea.Interrupt
}

// keyGuard is how long after the screen changes (another step, question
// or the end) keys that act are ignored: a key the technician meant for
// the screen before (b on the sign-in, n for "new code") must not land on
// the new one as a filter letter or an answer.
const keyGuard = 300 * time.Millisecond

// screenID identifies what the keys act on: the step and its attempt, the
// question on screen, and whether the run is over.
func (m *model) screenID() string {
	cur := m.e.Current().ID()
	id := fmt.Sprintf("%s/%d", cur, m.e.Attempt(cur))
	if a := m.activeAsk(); a != nil {
		id += "/" + a.Effect.(steps.Ask).Q.ID
	}
	if m.e.Finished() {
		id += "/end"
	}
	return id
}

// guarded reports whether k is held back because the screen just changed.
// ctrl+c and the keys that only move (arrows, pages) always work.
func (m *model) guarded(k tea.KeyPressMsg) bool {
	if m.shownAt.IsZero() || m.now.Sub(m.shownAt) >= keyGuard {
		return false
	}
	if m.picking() && k.Text != "" && !key.Matches(k, m.keys.Pick) {
		return false // typeahead: letters typed as the picker appears filter it
	}
	return !key.Matches(k, m.keys.Interrupt, m.keys.Up, m.keys.Down, m.keys.PgUp, m.keys.PgDown, m.keys.Home, m.keys.End)
}

func (m *model) handleKey(k tea.KeyPressMsg) tea.Cmd {
	if key.Matches(k, m.keys.Interrupt) {
		return m.interrupt()
	}
	if m.guarded(k) {
		return nil
	}
	if key.Matches(k, m.keys.Help) && !m.pasteFocus && !m.picking() {
		m.fullHelp = !m.fullHelp
		return nil
	}
	if key.Matches(k, m.keys.Journal) {
		m.journal, m.scroll = !m.journal, 0
		return nil
	}
	if m.scrollKey(k) {
		return nil
	}
	if m.journal {
		// Nothing on the journal answers or acts: esc (or tab) goes back.
		if key.Matches(k, m.keys.Back) {
			m.journal, m.scroll = false, 0
			return nil
		}
		if key.Matches(k, m.keys.Quit) {
			return m.interrupt()
		}
		return m.setNotice("Showing every step: tab or esc goes back.")
	}
	if m.e.Finished() {
		return m.finishedKey(k)
	}
	if a := m.activeAsk(); a != nil {
		q := a.Effect.(steps.Ask).Q
		switch q.Kind {
		case steps.AskSelect:
			return m.pickerKey(k)
		case steps.AskConfirm:
			return m.confirmKey(*a, q, k)
		}
	}
	switch m.e.Current().ID() {
	case steps.SignIn:
		if cmd, ok := m.signInKey(k); ok {
			return cmd
		}
	case steps.Mapping:
		if u := m.consentURL(); u != "" {
			switch {
			case key.Matches(k, m.keys.CopyURL):
				return tea.Batch(tea.SetClipboard(u), m.setNotice("Copied the admin-consent address to the clipboard."))
			case key.Matches(k, m.keys.QR):
				m.showQR = !m.showQR
				return nil
			}
		}
	case steps.Health:
		if key.Matches(k, m.keys.Detach) {
			return m.intent(steps.Detach{})
		}
	case steps.Roles:
		// No q while changes are being applied: ctrl+c only.
		if m.e.Current().Status() == steps.StatusRunning {
			return nil
		}
	}
	if key.Matches(k, m.keys.Quit) {
		return m.interrupt()
	}
	return nil
}

func (m *model) finishedKey(k tea.KeyPressMsg) tea.Cmd {
	switch {
	case key.Matches(k, m.keys.Close):
		m.quitting = true
		m.stop()
		return tea.Quit
	case key.Matches(k, m.keys.Retry) && m.e.CanRetry():
		return m.retry()
	case key.Matches(k, m.keys.Browser) && m.canBrowserAfterFailure():
		return m.useBrowserAfterFailure()
	}
	return nil
}

func (m *model) canBrowserAfterFailure() bool {
	cur := m.e.Current()
	if cur.ID() != steps.SignIn || cur.Status() != steps.StatusFailed {
		return false
	}
	for _, o := range cur.Snapshot(m.e.Session()).Next {
		if o == steps.OptUseBrowser {
			return true
		}
	}
	return false
}

func (m *model) confirmKey(j steps.Job, q steps.Question, k tea.KeyPressMsg) tea.Cmd {
	if m.opt.Yes {
		return nil // answered by --yes in a moment
	}
	switch {
	case key.Matches(k, m.keys.Yes, m.keys.No):
		if !m.questionWhole() {
			// No answer before the whole question has been seen.
			return m.setNotice("Read it to the end first (End or PgDn), then answer.")
		}
		if key.Matches(k, m.keys.Yes) {
			return m.answer(j, "yes")
		}
		return m.answer(j, "no")
	case key.Matches(k, m.keys.Enter):
		return m.setNotice("Press y or n: enter does not answer a yes/no question.")
	case key.Matches(k, m.keys.Quit):
		return m.interrupt()
	}
	return nil
}

func (m *model) pickerRows() int {
	if m.pick.rows > 0 {
		return m.pick.rows // as last drawn (see pickerView)
	}
	return max(m.bodyHeight()-4, 1)
}

func (m *model) pickerKey(k tea.KeyPressMsg) tea.Cmd {
	p := &m.pick
	rows := m.pickerRows()
	switch {
	case key.Matches(k, m.keys.Pick):
		if len(p.results) == 0 {
			return nil
		}
		c := p.choices[p.results[p.cursor]]
		return m.answer(p.job, c.Value)
	case key.Matches(k, m.keys.Up):
		p.cursor--
	case key.Matches(k, m.keys.Down):
		p.cursor++
	case key.Matches(k, m.keys.PgUp):
		p.cursor -= rows
	case key.Matches(k, m.keys.PgDown):
		p.cursor += rows
	case key.Matches(k, m.keys.Home):
		p.cursor = 0
	case key.Matches(k, m.keys.End):
		p.cursor = len(p.results) - 1
	case key.Matches(k, m.keys.Clear):
		if p.query.Value() == "" {
			return nil
		}
		p.query.Reset()
		m.refilter()
	default:
		if p.query.handleKey(k) {
			m.refilter()
		}
	}
	m.clampPicker(rows)
	return nil
}

func (m *model) refilter() {
	p := &m.pick
	p.results = p.filter.Filter(p.query.Value())
	p.cursor, p.offset = 0, 0
	if strings.TrimSpace(p.query.Value()) == "" {
		// Back to the whole list: back to the best match.
		p.toDefault(m.e.Session())
	}
}

func (m *model) clampPicker(rows int) {
	p := &m.pick
	p.cursor = min(max(p.cursor, 0), max(len(p.results)-1, 0))
	if p.cursor < p.offset {
		p.offset = p.cursor
	}
	if p.cursor >= p.offset+rows {
		p.offset = p.cursor - rows + 1
	}
	p.offset = min(max(p.offset, 0), max(len(p.results)-rows, 0))
}

// signInKey handles the sign-in screen's keys; ok is false when the key
// means nothing here.
func (m *model) signInKey(k tea.KeyPressMsg) (tea.Cmd, bool) {
	if m.browserShown() {
		_, d := m.signIn()
		if m.pasteFocus {
			switch {
			case key.Matches(k, m.keys.Submit):
				v := strings.TrimSpace(m.paste.Value())
				if v == "" {
					return nil, true
				}
				m.paste.Reset()
				m.pasteFocus = false
				return tea.Batch(m.setNotice("Checking the pasted address"+m.st.Icons.Ellipsis), m.intent(steps.PasteRedirect{URL: v})), true
			case key.Matches(k, m.keys.Blur):
				m.pasteFocus = false
				return nil, true
			}
			m.paste.handleKey(k)
			return nil, true
		}
		switch {
		case key.Matches(k, m.keys.Paste):
			m.pasteFocus = true
			return nil, true
		case key.Matches(k, m.keys.CopyURL):
			return tea.Batch(tea.SetClipboard(san(d.BrowserPrompt().URL)), m.setNotice("Copied the sign-in address to the clipboard.")), true
		case key.Matches(k, m.keys.CancelSI):
			return m.escOnSignIn(), true
		}
		return nil, false
	}
	code := m.codeShown()
	if code == nil {
		if key.Matches(k, m.keys.CancelSI) {
			return m.escOnSignIn(), true
		}
		return nil, false
	}
	switch {
	case key.Matches(k, m.keys.Copy):
		return tea.Batch(tea.SetClipboard(san(code.UserCode)), m.setNotice("Copied the code "+san(code.UserCode)+" to the clipboard.")), true
	case key.Matches(k, m.keys.QR):
		m.showQR = !m.showQR
		return nil, true
	case key.Matches(k, m.keys.NewCode):
		m.notice = ""
		return m.intent(steps.NewCode{}), true
	case key.Matches(k, m.keys.Browser):
		m.showQR = false
		return m.intent(steps.UseBrowser{}), true
	case key.Matches(k, m.keys.CancelSI):
		return m.escOnSignIn(), true
	}
	return nil, false
}

// escOnSignIn: esc goes back and never quits; the sign-in is the first
// screen, so it only closes the QR code, or says how to quit.
func (m *model) escOnSignIn() tea.Cmd {
	if m.showQR {
		m.showQR = false
		return nil
	}
	return m.setNotice("esc goes back and there is nothing before the sign-in; q quits.")
}

// handlePaste puts pasted text into the field that takes it: the redirect
// URL on the browser sign-in, or the organization filter.
func (m *model) handlePaste(s string) tea.Cmd {
	if a := m.activeAsk(); a != nil && a.Effect.(steps.Ask).Q.Kind == steps.AskSelect {
		m.pick.query.insert(s)
		m.refilter()
		return nil
	}
	if m.browserShown() {
		m.pasteFocus = true
		m.paste.insert(strings.TrimSpace(s))
	}
	return nil
}
