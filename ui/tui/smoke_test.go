package tui

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"itdr-onboard/auth"
	"itdr-onboard/steps"
)

func smokeEngine(t *testing.T, ev *env, opt steps.Options) (*steps.Engine, *steps.Runner, context.CancelFunc) {
	t.Helper()
	opt.PollBase = time.Millisecond
	e, s := steps.New(opt, ev.infos)
	ctx, cancel := context.WithCancel(context.Background())
	x := &steps.Executor{Auth: ev.auth, Graph: ev.graph, Platform: ev.platform, Checks: ev.reg, Session: s,
		Now: func() time.Time { return t0 }, Sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() }}
	r := steps.NewRunner(ctx, x, 4)
	t.Cleanup(func() { cancel(); r.Close() })
	return e, r, cancel
}

// TestProgramRunsToHealthy runs the real bubbletea program: the listener,
// the ticks and the renderer, until the final screen, then q.
func TestProgramRunsToHealthy(t *testing.T) {
	ev := newEnv(t, 3)
	close(ev.auth.approve) // the technician signs in at once
	e, r, _ := smokeEngine(t, ev, steps.Options{AuthMethod: auth.MethodDevice, Org: "Contoso Ltd", Yes: true})
	// A clock that moves a second each time it is read: q, typed once the
	// final screen is drawn, comes after the key guard (keyGuard).
	var ticks atomic.Int64
	clock := func() time.Time { return t0.Add(time.Duration(ticks.Add(1)) * time.Second) }
	m := newModel(context.Background(), e, r, Options{Yes: true, Now: clock})
	m.yesDelay = 0
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(100, 30),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.ASCII)))
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte("Billable identities")) },
		teatest.WithDuration(10*time.Second), teatest.WithCheckInterval(5*time.Millisecond))
	tm.Type("q")
	fm := tm.FinalModel(t, teatest.WithFinalTimeout(10*time.Second)).(*model)
	if fm.interrupted {
		t.Error("q on the final screen counted as an interrupt")
	}
	if got := steps.ExitCode(e); got != 0 {
		t.Errorf("exit code %d", got)
	}
	v := ansi.Strip(fm.View().Content)
	for _, w := range []string{"Healthy", "Contoso Ltd", "Changes made", "2"} {
		if !strings.Contains(v, w) {
			t.Errorf("final view lacks %q:\n%s", w, v)
		}
	}
	if fm.spinPending && fm.needSpin() {
		t.Error("spinner still wanted on the final screen")
	}
}

// TestRunCtrlCExits130 runs Run itself with ctrl+c on its input.
func TestRunCtrlCExits130(t *testing.T) {
	ev := newEnv(t, 3)
	e, r, _ := smokeEngine(t, ev, steps.Options{AuthMethod: auth.MethodDevice})
	pr, pw := io.Pipe()
	defer pw.Close()
	go func() { _, _ = pw.Write([]byte{0x03}) }()
	var out bytes.Buffer
	code := Run(context.Background(), e, r, Options{Input: pr, Output: &out, NoColor: true, Again: "itdr-onboard onboard --tenant contoso.example"})
	if code != 130 {
		t.Errorf("exit code %d, want 130", code)
	}
	// Any quit leaves the verdict and the next command (issue 18).
	s := out.String()
	tail := ansi.Strip(s[max(strings.LastIndex(s, "Stopped at"), 0):])
	for _, w := range []string{"Stopped at ", "To go on, run itdr-onboard onboard --tenant contoso.example"} {
		if !strings.Contains(tail, w) {
			t.Errorf("text left after ctrl+c lacks %q:\n%s", w, tail)
		}
	}
}

// TestRunContextCancelledExits130: the CLI's signal context ends the TUI.
func TestRunContextCancelledExits130(t *testing.T) {
	ev := newEnv(t, 3)
	e, r, _ := smokeEngine(t, ev, steps.Options{AuthMethod: auth.MethodDevice})
	pr, pw := io.Pipe()
	defer pw.Close()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		// Cancel once the program has started drawing.
		time.Sleep(50 * time.Millisecond)
		cancel()
	}()
	var out bytes.Buffer
	if code := Run(ctx, e, r, Options{Input: pr, Output: &out}); code != 130 {
		t.Errorf("exit code %d, want 130", code)
	}
}

// TestRunLeavesFinalSummary runs Run to the healthy end; enter closes the
// final screen and the summary stays in the output after the alternate
// screen is gone.
func TestRunLeavesFinalSummary(t *testing.T) {
	ev := newEnv(t, 3)
	close(ev.auth.approve)
	e, r, _ := smokeEngine(t, ev, steps.Options{AuthMethod: auth.MethodDevice, Org: "Contoso Ltd", Yes: true})
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		// Enter does nothing until the final screen; keep pressing it.
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if _, err := pw.Write([]byte{'\r'}); err != nil {
					return
				}
			}
		}
	}()
	var out bytes.Buffer
	code := Run(context.Background(), e, r, Options{Yes: true, Input: pr, Output: &out, NoColor: true})
	close(done)
	pw.Close()
	if code != 0 {
		t.Fatalf("exit code %d", code)
	}
	// The text after the program's last frame is the summary.
	s := out.String()
	tail := s[strings.LastIndex(s, "Healthy"):]
	for _, w := range []string{"Healthy", "Contoso Ltd", "Billable identities", "Steps", "Prerequisites - ", "Role fixes - 2 applied, 2 verified", "Mapping - organization Contoso Ltd", "Health - healthy"} {
		if !strings.Contains(tail, w) {
			t.Errorf("summary lacks %q:\n%s", w, ansi.Strip(tail))
		}
	}
	if strings.Contains(tail, "q/enter close") {
		t.Error("the help line was left in the summary")
	}
}
