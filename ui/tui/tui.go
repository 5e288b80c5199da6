// Package tui is the bubbletea front-end of the onboarding wizard. It drives
// the same step engine as ui/plain: the root model submits the engine's jobs
// to the runner, turns each outcome into a message, hands it back to the
// engine and renders the steps' snapshots. It is the only package that
// imports bubbletea.
package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"charm.land/bubbles/v2/help"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"itdr-onboard/steps"
	"itdr-onboard/ui/theme"
)

// Options configure the TUI.
type Options struct {
	NoColor bool      // --no-color / NO_COLOR
	Yes     bool      // --yes: confirmations are pre-answered (the plan is still shown briefly)
	Input   io.Reader // nil = os.Stdin
	Output  io.Writer // nil = os.Stdout
	Now     func() time.Time
	// OnChange, when set, is called after every change of the engine's
	// state (the CLI saves the resume progress from it).
	OnChange func(*steps.Engine)
	// Again is the command line that resumes this run, for the text left
	// in the terminal after a quit.
	Again string
}

// fps is the renderer's frame rate while something on screen moves.
const fps = 20

// Run drives the engine (e) with the runner (r) in a bubbletea program until
// the run ends and the technician closes the final screen; it returns the
// exit code: steps.ExitCode(e) normally, 130 on ctrl+c (the terminal is
// restored by bubbletea).
func Run(ctx context.Context, e *steps.Engine, r *steps.Runner, opt Options) int {
	dumb := os.Getenv("TERM") == "dumb"
	if dumb {
		opt.NoColor = true
	}
	m := newModel(ctx, e, r, opt)
	if dumb {
		m.dumb = true
		m.setStyles(true)
	}
	// 20 frames a second is plenty for a 10 fps spinner and typing. On an
	// idle screen bubbletea (v2.2.0 and later) parks its render ticker
	// after half a second with nothing to draw and wakes it on the next
	// Update: the idle health wait costs no frames (bench rows 4 and 4b,
	// docs/benchmarks.md "Idle renderer").
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
	prog := tea.NewProgram(m, popts...)
	final, err := prog.Run()
	m.stop()
	switch {
	case errors.Is(err, tea.ErrInterrupted), errors.Is(err, tea.ErrProgramKilled), errors.Is(err, context.Canceled):
		if fm, ok := final.(*model); ok {
			fmt.Fprintln(colorWriter(opt), fm.quitText())
		} else {
			fmt.Fprintln(colorWriter(opt), m.quitText())
		}
		return 130
	case err != nil:
		fmt.Fprintln(os.Stderr, "itdr-onboard: the terminal UI failed:", err)
		return 1
	}
	fm, ok := final.(*model)
	if ok && fm.interrupted || !e.Finished() {
		if ok {
			// Any quit leaves the verdict and the next command.
			fmt.Fprintln(colorWriter(opt), fm.quitText())
		}
		return 130
	}
	if ok {
		// The live screen was on the alternate screen: leave the final
		// summary in the terminal's scrollback.
		fmt.Fprintln(colorWriter(opt), fm.finalText())
	}
	return steps.ExitCode(e)
}

// colorWriter is the output the text left after exit goes to.
func colorWriter(opt Options) io.Writer {
	out := opt.Output
	if out == nil {
		out = os.Stdout
	}
	w := colorprofile.NewWriter(out, os.Environ())
	if opt.NoColor && w.Profile > colorprofile.ASCII {
		w.Profile = colorprofile.ASCII
	}
	return w
}

// Messages.
type (
	outcomeMsg     struct{ o steps.Outcome }
	listenDoneMsg  struct{}
	spinMsg        struct{}
	clockMsg       struct{ at time.Time } // at: the wake it was scheduled for
	clearNoticeMsg struct{ seq int }
	autoAnswerMsg  struct{ job steps.Job }
)

// picker is the organization picker's state.
type picker struct {
	job     steps.Job
	choices []steps.Choice
	filter  *OrgFilter
	query   lineInput
	results []int
	cursor  int
	offset  int
	rows    int // list rows of the last render (0: not drawn yet)
}

// toDefault puts the cursor on the organization whose name best matches
// the tenant's name and verified domains, else on the suggested one (the
// question's Default: on a remap the current mapping, which may well be
// the wrong one).
func (p *picker) toDefault(s *steps.Session) {
	p.cursor, p.offset = 0, 0
	if i := bestMatch(p.choices, p.results, s); i >= 0 {
		p.cursor, p.offset = i, max(i-2, 0)
		return
	}
	q, _ := p.job.Effect.(steps.Ask)
	if q.Q.Default == "" {
		return
	}
	for i, r := range p.results {
		if p.choices[r].Value == q.Q.Default {
			p.cursor = i
			p.offset = max(i-2, 0)
			return
		}
	}
}

type model struct {
	ctx    context.Context
	cancel context.CancelFunc
	e      *steps.Engine
	r      *steps.Runner
	opt    Options
	clock  func() time.Time
	now    time.Time

	st      theme.Styles
	noColor bool
	dumb    bool // TERM=dumb: no styling at all
	keys    keyMap
	help    help.Model
	width   int
	height  int

	// asks are the open questions; asks[0] is on screen.
	asks   []steps.Job
	opened *steps.Job // the question whose prompt state is set up
	pick   picker

	lastStep steps.ID
	// shown identifies what is on screen (step, attempt, question, end);
	// shownAt is when it last changed: keys are held back for keyGuard
	// after that (see guarded).
	shown   string
	shownAt time.Time
	// scroll is the first line shown of a body that does not fit;
	// overflow says the last render cut it (the help line adds the keys).
	scroll   int
	overflow bool

	// journal: every step is shown whole (tab); fullHelp: the help
	// line is the full key map (?).
	journal, fullHelp bool

	showQR     bool
	paste      lineInput
	pasteFocus bool

	notice    string
	noticeSeq int
	noticeTTL time.Duration

	// anim enables tick commands (off in tests); listen enables the
	// outcome listener (off in tests that feed outcomes themselves).
	anim, listen bool
	spinPending  bool
	clockAt      time.Time // the pending clock wake (zero: none)
	yesDelay     time.Duration

	interrupted bool
	quitting    bool
}

func newModel(ctx context.Context, e *steps.Engine, r *steps.Runner, opt Options) *model {
	if ctx == nil {
		ctx = context.Background()
	}
	cctx, cancel := context.WithCancel(ctx)
	clock := opt.Now
	if clock == nil {
		clock = time.Now
	}
	m := &model{
		ctx: cctx, cancel: cancel, e: e, r: r, opt: opt, clock: clock, now: clock(),
		noColor: opt.NoColor, keys: newKeyMap(), help: help.New(),
		width: 80, height: 24,
		noticeTTL: 4 * time.Second, anim: true, listen: true, yesDelay: 1500 * time.Millisecond,
	}
	m.paste.limit = 8192
	m.setStyles(true)
	return m
}

func (m *model) setStyles(isDark bool) {
	m.st = theme.New(isDark, m.noColor)
	if m.dumb {
		m.st = theme.Plain()
	}
	m.help.Styles = help.Styles{
		ShortKey: m.st.Help.Key, ShortDesc: m.st.Help.Desc, ShortSeparator: m.st.Help.Sep, Ellipsis: m.st.Help.Sep,
		FullKey: m.st.Help.Key, FullDesc: m.st.Help.Desc, FullSeparator: m.st.Help.Sep,
	}
	if m.st.ASCII {
		m.help.ShortSeparator, m.help.Ellipsis = " | ", "..."
	}
}

// stop cancels the listener and every running job.
func (m *model) stop() {
	m.cancel()
	if m.r == nil {
		return
	}
	for _, st := range m.e.Steps() {
		m.r.CancelStep(st.ID())
	}
}

// Init starts the engine.
func (m *model) Init() tea.Cmd {
	cmds := []tea.Cmd{m.submit(m.e.Start()), m.listenCmd(), m.ticks()}
	if !m.noColor {
		cmds = append(cmds, tea.RequestBackgroundColor)
	}
	return tea.Batch(cmds...)
}

// listenCmd waits for the next outcome of any running job.
func (m *model) listenCmd() tea.Cmd {
	if !m.listen || m.r == nil {
		return nil
	}
	ch, done := m.r.Outcomes(), m.ctx.Done()
	return func() tea.Msg {
		select {
		case o := <-ch:
			return outcomeMsg{o}
		case <-done:
			return listenDoneMsg{}
		}
	}
}

// submit starts jobs (dropping those an intent already superseded) and
// opens the questions among them.
func (m *model) submit(jobs []steps.Job) tea.Cmd {
	live := make([]steps.Job, 0, len(jobs))
	for _, j := range jobs {
		if j.Attempt == m.e.Attempt(j.Step) {
			live = append(live, j)
		}
	}
	if len(live) > 0 {
		m.asks = append(m.asks, m.r.Submit(live)...)
	}
	return m.openAsk()
}

// activeAsk is the question on screen, dropping questions whose step
// moved on.
func (m *model) activeAsk() *steps.Job {
	for len(m.asks) > 0 {
		a := m.asks[0]
		if !m.e.Finished() && a.Step == m.e.Current().ID() && a.Attempt == m.e.Attempt(a.Step) {
			return &m.asks[0]
		}
		m.asks = m.asks[1:]
	}
	return nil
}

func sameJob(a, b *steps.Job) bool {
	if a == nil || b == nil {
		return false
	}
	qa, _ := a.Effect.(steps.Ask)
	qb, _ := b.Effect.(steps.Ask)
	return a.Step == b.Step && a.Attempt == b.Attempt && qa.Q.ID == qb.Q.ID
}

// openAsk sets up the prompt state of a question that just came on screen.
func (m *model) openAsk() tea.Cmd {
	a := m.activeAsk()
	if a == nil || sameJob(a, m.opened) {
		return nil
	}
	j := *a
	m.opened = &j
	q := j.Effect.(steps.Ask).Q
	switch q.Kind {
	case steps.AskSelect:
		m.pick = picker{job: j, choices: q.Choices, filter: NewOrgFilter(q.Choices)}
		m.pick.results = m.pick.filter.Filter("")
		m.pick.toDefault(m.e.Session()) // start on the best match
	case steps.AskConfirm:
		if m.opt.Yes {
			if m.yesDelay <= 0 {
				return func() tea.Msg { return autoAnswerMsg{job: j} }
			}
			return tea.Tick(m.yesDelay, func(time.Time) tea.Msg { return autoAnswerMsg{job: j} })
		}
	}
	return nil
}

// answer hands the technician's answer to the engine.
func (m *model) answer(j steps.Job, value string) tea.Cmd {
	a := m.activeAsk()
	if a == nil || !sameJob(a, &j) {
		return nil
	}
	m.asks = m.asks[1:]
	q := j.Effect.(steps.Ask).Q
	jobs := m.e.Handle(steps.Outcome{Step: j.Step, Attempt: m.e.Attempt(j.Step), Event: steps.Answered{QuestionID: q.ID, Value: value}})
	return m.submit(jobs)
}

// intent delivers a technician action; jobs of a superseded attempt are
// cancelled.
func (m *model) intent(ev steps.Event) tea.Cmd {
	id := m.e.Current().ID()
	before := m.e.Attempt(id)
	jobs := m.e.Intent(ev)
	if m.e.Attempt(id) != before {
		m.r.CancelStep(id)
	}
	return m.submit(jobs)
}

// retry re-runs the failed step.
func (m *model) retry() tea.Cmd {
	if !m.e.CanRetry() {
		return nil
	}
	m.r.CancelStep(m.e.Current().ID())
	m.notice = ""
	return m.submit(m.e.Retry())
}

// useBrowserAfterFailure restarts a failed sign-in with the browser: a
// retry (whose device-code job is superseded) followed by the intent.
func (m *model) useBrowserAfterFailure() tea.Cmd {
	m.r.CancelStep(steps.SignIn)
	jobs := m.e.Retry()
	jobs = append(jobs, m.e.Intent(steps.UseBrowser{})...)
	return m.submit(jobs)
}

func (m *model) setNotice(s string) tea.Cmd {
	m.notice = s
	m.noticeSeq++
	if !m.anim || m.noticeTTL <= 0 {
		return nil
	}
	seq := m.noticeSeq
	return tea.Tick(m.noticeTTL, func(time.Time) tea.Msg { return clearNoticeMsg{seq} })
}

// needSpin reports whether something runs that has no countdown of its own.
func (m *model) needSpin() bool {
	if m.e.Finished() || m.activeAsk() != nil {
		return false
	}
	cur := m.e.Current()
	snap := cur.Snapshot(m.e.Session())
	switch cur.ID() {
	case steps.Prereqs:
		for _, it := range snap.Items {
			if it.Running {
				return true
			}
		}
		return snap.Status == steps.StatusRunning
	case steps.SignIn:
		d := signInDetail(snap)
		return snap.Status == steps.StatusRunning && (d == nil || (d.Code == nil && d.Browser == nil))
	case steps.Roles:
		return snap.Status == steps.StatusRunning
	case steps.Mapping:
		d := mappingDetail(snap)
		if d == nil || snap.Status != steps.StatusRunning {
			return false
		}
		switch d.Phase {
		case "waiting", "picking":
			return false
		case "handoff":
			return d.ConsentURL == ""
		}
		return true
	case steps.Health:
		return false // the health wait has its own countdown
	default:
		// Steps without a screen of their own (check, unmap).
		return snap.Status == steps.StatusRunning
	}
}

// nextWake is the next instant after m.now at which the screen changes by
// the clock alone (zero when nothing on it moves with time): each second of
// the sign-in code's and the consent retry's countdowns (short waits the
// technician watches), and only minutes and due checks on the health wait.
func (m *model) nextWake() time.Time {
	if m.e.Finished() {
		return time.Time{}
	}
	cur := m.e.Current()
	snap := cur.Snapshot(m.e.Session())
	switch cur.ID() {
	case steps.SignIn:
		if d := signInDetail(snap); d != nil && d.Code != nil && !snap.Status.Terminal() {
			return secondWake(d.Code.ExpiresOn, m.now)
		}
	case steps.Mapping:
		if d := mappingDetail(snap); d != nil && d.Phase == "waiting" && snap.Fail == nil {
			return secondWake(d.RetryAt, m.now)
		}
	case steps.Health:
		return healthWake(snap, m.now)
	}
	return time.Time{}
}

// ticks schedules the spinner frame and the clock's next wake, each only
// while needed and never twice; a wake earlier than the pending one
// replaces it (the later one then only re-renders an unchanged screen).
func (m *model) ticks() tea.Cmd {
	if !m.anim {
		return nil
	}
	var cmds []tea.Cmd
	if !m.spinPending && m.needSpin() {
		m.spinPending = true
		cmds = append(cmds, tea.Tick(100*time.Millisecond, func(time.Time) tea.Msg { return spinMsg{} }))
	}
	if w := m.nextWake(); !w.IsZero() && (m.clockAt.IsZero() || w.Before(m.clockAt)) {
		m.clockAt = w
		// A few milliseconds late, so the clock read then is past w.
		wait := max(w.Sub(m.clock()), 0) + 5*time.Millisecond
		cmds = append(cmds, tea.Tick(wait, func(time.Time) tea.Msg { return clockMsg{at: w} }))
	}
	return tea.Batch(cmds...)
}
