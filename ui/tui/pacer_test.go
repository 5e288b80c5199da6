package tui

import (
	"bytes"
	"context"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"itdr-onboard/auth"
	"itdr-onboard/platform"
	"itdr-onboard/steps"
)

// probeModel grabs the running program's render ticker from Update.
type probeModel struct {
	prog  **tea.Program
	found *bool
}

type probeMsg struct{}

func (p probeModel) Init() tea.Cmd { return func() tea.Msg { return probeMsg{} } }
func (p probeModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if _, ok := msg.(probeMsg); ok {
		tp := newTickerPacer(*p.prog, fps)
		tp.pace(true)
		tp.pace(false)
		*p.found = tp.ticker != nil && !tp.failed && !tp.slow
		return p, tea.Quit
	}
	return p, nil
}
func (p probeModel) View() tea.View { return tea.NewView("probe") }

// TestPacerFindsTheTicker: the pacer reaches the render ticker of a running
// bubbletea program. If this fails after a bubbletea upgrade, the renderer
// runs at a fixed rate again and the idle health wait costs CPU (bench row 4).
func TestPacerFindsTheTicker(t *testing.T) {
	if renderTicker(nil) != nil {
		t.Fatal("a ticker without a program")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var prog *tea.Program
	found := false
	prog = tea.NewProgram(probeModel{prog: &prog, found: &found}, tea.WithContext(ctx), tea.WithInput(nil),
		tea.WithOutput(&bytes.Buffer{}), tea.WithoutSignals(), tea.WithWindowSize(80, 24))
	if renderTicker(prog) != nil {
		t.Fatal("a ticker before the program runs")
	}
	if _, err := prog.Run(); err != nil {
		t.Fatal(err)
	}
	if !found {
		t.Fatal("the pacer did not find the running program's render ticker")
	}
}

type fakePacer struct{ calls []bool }

func (f *fakePacer) pace(idle bool) { f.calls = append(f.calls, idle) }
func (f *fakePacer) last() string {
	if len(f.calls) == 0 {
		return "none"
	}
	if f.calls[len(f.calls)-1] {
		return "slow"
	}
	return "fast"
}

// TestPacerSlowsOnlyAnIdleScreen: every message puts the renderer at the
// fast rate; the re-check a moment later slows it down on the health wait,
// but not while the sign-in countdown moves every second.
func TestPacerSlowsOnlyAnIdleScreen(t *testing.T) {
	ev := newEnv(t, 3)
	ev.blockSleep.Store(true)
	ev.platform.health = []string{platform.StatusPending}
	h := newHarness(t, ev, steps.Options{AuthMethod: auth.MethodDevice, Org: "Contoso Ltd", Yes: true}, Options{Yes: true})
	h.pump("the device code", func() bool { return h.signInCode() != nil })
	fp := &fakePacer{}
	h.m.pacer, h.m.anim = fp, true
	// Commands are not run: Update is called as bubbletea would.
	h.m.Update(clockMsg{})
	if fp.last() != "fast" || !h.m.pacePending {
		t.Fatalf("after a message: pacer %s, re-check pending %v", fp.last(), h.m.pacePending)
	}
	h.now = h.now.Add(idleAfter)
	h.m.Update(paceMsg{})
	if fp.last() != "fast" || !h.m.pacePending {
		t.Errorf("sign-in countdown: pacer %s, re-check pending %v; want fast and another re-check", fp.last(), h.m.pacePending)
	}

	h.m.anim = false
	h.approve()
	h.pump("the health wait", func() bool {
		d := healthDetail(h.e.Current().Snapshot(h.s))
		return h.e.Current().ID() == steps.Health && d != nil && d.Probes > 0
	})
	h.m.anim = true
	// The sign-in countdown's last wake fires; the health wait's next one
	// is a minute away.
	h.now = h.m.clockAt.Add(5 * time.Millisecond)
	h.m.Update(clockMsg{at: h.m.clockAt})
	if w := h.m.clockAt.Sub(h.now); w < 30*time.Second {
		t.Fatalf("health wait: next wake in %s", w)
	}
	if fp.last() != "fast" {
		t.Fatalf("after a message on the health wait: pacer %s", fp.last())
	}
	// A re-check too soon after the last message keeps it fast.
	h.m.Update(paceMsg{})
	if fp.last() != "fast" {
		t.Errorf("re-check right after a message: pacer %s", fp.last())
	}
	h.now = h.now.Add(idleAfter)
	h.m.Update(paceMsg{})
	if fp.last() != "slow" || h.m.pacePending {
		t.Errorf("idle health wait: pacer %s, re-check pending %v; want slow and no re-check", fp.last(), h.m.pacePending)
	}
	// A key brings the fast rate back at once.
	h.m.Update(tea.KeyPressMsg{Code: 'x', Text: "x"})
	if fp.last() != "fast" {
		t.Errorf("after a key: pacer %s", fp.last())
	}
}
