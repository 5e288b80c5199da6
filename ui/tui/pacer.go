package tui

import (
	"reflect"
	"time"
	"unsafe"

	tea "charm.land/bubbletea/v2"
)

// Frame pacing.
//
// bubbletea v2.1.1 redraws from a time.Ticker that runs at the program's
// FPS for its whole life: an idle screen still wakes the process FPS times
// a second to find nothing changed. On the health wait, which can last
// hours, those wake-ups are nearly all the wizard's CPU (issue 8, row 4:
// about 0.15 ms each, so 20 fps alone costs 0.3% of a core). There is no
// public way to pause it (upstream: charmbracelet/bubbletea pull requests
// 1776 and 1796, not merged), so the pacer slows that ticker down while
// the screen is idle and speeds it up again on the first message: a change
// is still drawn within one fast frame, because the view only changes in
// Update, and Update puts the ticker back to the fast rate first.
//
// The ticker is reached by reflection on the Program's unexported field.
// When a bubbletea upgrade renames or retypes it the pacer finds nothing
// and the program keeps its fixed frame rate (TestPacerFindsTheTicker
// fails, and the bench's row 4 shows the cost).

// pacer sets the renderer's frame rate: fast while anything moves, slow
// while the screen is idle.
type pacer interface {
	pace(idle bool)
}

const (
	// idleFrame is the renderer's period on an idle screen: a safety net
	// only, since every change comes through Update, which speeds it up.
	idleFrame = 2 * time.Second
	// idleAfter is how long the screen must be quiet (no message) before
	// the renderer slows down; also the interval of the idle re-check.
	idleAfter = 300 * time.Millisecond
)

// tickerPacer paces a running Program's render ticker.
type tickerPacer struct {
	prog   *tea.Program
	fast   time.Duration
	ticker *time.Ticker
	failed bool
	slow   bool // the ticker runs at idleFrame
}

func newTickerPacer(p *tea.Program, fps int) *tickerPacer {
	return &tickerPacer{prog: p, fast: time.Second / time.Duration(fps)}
}

// renderTicker returns the Program's render ticker, nil when it is not
// there (not started yet, or a bubbletea whose internals differ). Only call
// it from the program's event loop (Init/Update): the ticker is set by Run
// before the loop starts, on the same goroutine.
func renderTicker(p *tea.Program) *time.Ticker {
	if p == nil {
		return nil
	}
	f := reflect.ValueOf(p).Elem().FieldByName("ticker")
	if !f.IsValid() || f.Type() != reflect.TypeFor[*time.Ticker]() {
		return nil
	}
	return *(**time.Ticker)(unsafe.Pointer(f.UnsafeAddr()))
}

func (tp *tickerPacer) pace(idle bool) {
	if tp.failed || idle == tp.slow {
		return
	}
	if tp.ticker == nil {
		if tp.ticker = renderTicker(tp.prog); tp.ticker == nil {
			tp.failed = true
			return
		}
	}
	// Reset only on a change of rate: resetting on every message would
	// push the next frame back each time and starve the screen while
	// messages come quicker than a frame (key repeat, a paste).
	if idle {
		tp.ticker.Reset(idleFrame)
	} else {
		tp.ticker.Reset(tp.fast)
	}
	tp.slow = idle
}

// paceMsg re-checks whether the screen went idle.
type paceMsg struct{}

// idleScreen reports whether nothing on screen moves: no spinner, no
// clock change within two seconds, no notice waiting to clear, and no
// message for idleAfter.
func (m *model) idleScreen() bool {
	now := m.clock()
	if m.spinPending || m.notice != "" || now.Sub(m.lastMsg) < idleAfter {
		return false
	}
	return m.clockAt.IsZero() || m.clockAt.Sub(now) >= 2*time.Second
}

// pace runs after every message: any message but the pacer's own makes the
// renderer fast; a re-check a moment later slows it down once the screen
// is idle, and keeps re-checking (once a second) while it is not.
func (m *model) pace(msg tea.Msg) tea.Cmd {
	if m.pacer == nil || m.quitting {
		return nil
	}
	if _, ok := msg.(paceMsg); ok {
		m.pacePending = false
		if m.idleScreen() {
			m.pacer.pace(true)
			return nil
		}
		m.pacePending = true
		return tea.Tick(time.Second, func(time.Time) tea.Msg { return paceMsg{} })
	}
	m.lastMsg = m.clock()
	m.pacer.pace(false)
	if m.pacePending {
		return nil
	}
	m.pacePending = true
	return tea.Tick(idleAfter, func(time.Time) tea.Msg { return paceMsg{} })
}
