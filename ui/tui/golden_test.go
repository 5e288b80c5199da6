package tui

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"charm.land/bubbles/v2/help"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"itdr-onboard/auth"
	"itdr-onboard/checks"
	"itdr-onboard/platform"
	"itdr-onboard/steps"
)

// updating reports -update (the flag is registered by the golden package
// that teatest imports).
func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// goldenSizes are the windows every screen is drawn at (issue 18).
var goldenSizes = []struct{ w, h int }{{80, 24}, {60, 15}}

// clockRe masks the local clock times (the machine's time zone differs).
var clockRe = regexp.MustCompile(`\b\d{2}:\d{2}(:\d{2})?\b`)

// shot records the screen on view as testdata/golden/<name>-<w>x<h>.golden
// (or compares it), and checks the frame: not wider or taller than the
// window, and a short help that fits 60 columns whole.
func shot(t *testing.T, h *harness, name string, w, hh int) {
	t.Helper()
	frame := h.m.View().Content
	ls := strings.Split(frame, "\n")
	if len(ls) > hh {
		t.Errorf("%s %dx%d: %d lines", name, w, hh, len(ls))
	}
	for _, l := range ls {
		if ansi.StringWidth(l) > w {
			t.Errorf("%s %dx%d: line %d wide: %q", name, w, hh, ansi.StringWidth(l), ansi.Strip(l))
		}
	}
	if !h.m.fullHelp {
		// The short help, unlimited in width, fits 60 columns: nothing of
		// it is cut on a 60-column terminal.
		hm := help.New()
		hm.ShortSeparator = h.m.help.ShortSeparator
		if sw := ansi.StringWidth(hm.ShortHelpView(h.m.shortBindings())); sw > 60 {
			t.Errorf("%s %dx%d: the short help is %d columns wide", name, w, hh, sw)
		}
	}
	golden(t, fmt.Sprintf("%s-%dx%d", name, w, hh), ansi.Strip(frame))
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	got = clockRe.ReplaceAllString(got, "HH:MM") + "\n"
	path := filepath.Join("testdata", "golden", name+".golden")
	if updating() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%s: %v (run go test ./ui/tui -run TestGolden -update)", name, err)
	}
	if string(want) != got {
		t.Errorf("%s differs from %s (rerun with -update after a deliberate change):\n--- got\n%s\n--- want\n%s", name, path, got, want)
	}
}

func sized(t *testing.T, ev *env, opt steps.Options, topt Options, w, hh int) *harness {
	h := newHarness(t, ev, opt, topt)
	h.send(tea.WindowSizeMsg{Width: w, Height: hh})
	return h
}

// bgDone reports that no prerequisite check still runs in the background.
func bgDone(h *harness) bool {
	for _, it := range h.e.Steps()[0].Snapshot(h.s).Items {
		if it.Running {
			return false
		}
	}
	return true
}

func isQuestion(h *harness, id string) func() bool {
	return func() bool {
		a := h.m.activeAsk()
		return a != nil && a.Effect.(steps.Ask).Q.ID == id
	}
}

// TestGolden draws every screen at 80×24 and 60×15: the sign-in, a plan
// longer than the window (top and end), the picker (filtered, and a
// mismatch warning), the consent question, the health wait, the expanded
// journal, the end screen, the text left after a quit, and each failure
// screen.
func TestGolden(t *testing.T) {
	for _, sz := range goldenSizes {
		w, hh := sz.w, sz.h
		t.Run(fmt.Sprintf("%dx%d", w, hh), func(t *testing.T) {
			t.Run("walk", func(t *testing.T) {
				ev := newEnv(t, 3)
				ev.plan = longPlan()
				ev.blockSleep.Store(true)
				ev.platform.health = []string{platform.StatusPending}
				h := sized(t, ev, steps.Options{AuthMethod: auth.MethodDevice}, Options{}, w, hh)
				h.pump("the device code and the platform check", func() bool { return h.signInCode() != nil && bgDone(h) })
				shot(t, h, "signin", w, hh)
				h.key("?")
				shot(t, h, "signin-fullhelp", w, hh)
				h.key("?")
				h.approve()
				h.pump("the plan", isQuestion(h, steps.QConfirmPlan))
				shot(t, h, "plan-long-top", w, hh)
				h.key("y")
				shot(t, h, "plan-long-refused", w, hh)
				h.key("end")
				shot(t, h, "plan-long-end", w, hh)
				h.key("y")
				h.pump("the picker", h.m.picking)
				shot(t, h, "picker", w, hh)
				h.typeText("cont")
				shot(t, h, "picker-filtered", w, hh)
				h.key("enter")
				h.pump("the consent question", isQuestion(h, steps.QConfirmMapping))
				shot(t, h, "consent", w, hh)
				h.key("end")
				h.key("y")
				h.pump("the health wait", func() bool {
					d := healthDetail(h.e.Current().Snapshot(h.s))
					return h.e.Current().ID() == steps.Health && d != nil && d.Probes > 0
				})
				shot(t, h, "health", w, hh)
				h.key("tab")
				shot(t, h, "journal-expanded", w, hh)
				h.key("end")
				shot(t, h, "journal-expanded-end", w, hh)
				h.key("tab")
				golden(t, fmt.Sprintf("quit-health-%dx%d", w, hh), ansi.Strip(h.m.quitText()))
				h.key("d")
				h.pump("the end", h.e.Finished)
				shot(t, h, "fail-health-detached", w, hh)
			})
			t.Run("done", func(t *testing.T) {
				ev := newEnv(t, 3)
				close(ev.auth.approve)
				h := sized(t, ev, steps.Options{AuthMethod: auth.MethodDevice, Org: "Contoso Ltd", Yes: true}, Options{Yes: true}, w, hh)
				h.pump("the end", h.e.Finished)
				shot(t, h, "done", w, hh)
				h.key("tab")
				shot(t, h, "done-journal", w, hh)
			})
			t.Run("mismatch", func(t *testing.T) {
				ev := newEnv(t, 3)
				close(ev.auth.approve)
				ev.platform.orgs = append(ev.platform.orgs, platform.Organization{ID: "org-fab", Name: "Fabrikam Inc"})
				ev.platform.existing = &platform.Integration{ID: "int-0", TenantID: "tid-1", OrganizationID: "org-fab", OrganizationName: "Fabrikam Inc", Status: platform.StatusHealthy}
				h := sized(t, ev, steps.Options{AuthMethod: auth.MethodDevice, Remap: true}, Options{}, w, hh)
				h.pump("the plan", isQuestion(h, steps.QConfirmPlan))
				h.key("end")
				h.key("y")
				h.pump("the picker", h.m.picking)
				shot(t, h, "picker-remap", w, hh)
				h.typeText("fab")
				h.key("enter")
				h.pump("the consent question", isQuestion(h, steps.QConfirmMapping))
				shot(t, h, "consent-mismatch", w, hh)
				h.key("q")
				golden(t, fmt.Sprintf("quit-mapping-%dx%d", w, hh), ansi.Strip(h.m.quitText()))
			})
			t.Run("declined", func(t *testing.T) {
				ev := newEnv(t, 3)
				close(ev.auth.approve)
				h := sized(t, ev, steps.Options{AuthMethod: auth.MethodDevice}, Options{}, w, hh)
				h.pump("the plan", isQuestion(h, steps.QConfirmPlan))
				h.key("end")
				h.key("n")
				h.pump("the end", h.e.Finished)
				shot(t, h, "fail-plan-declined", w, hh)
			})
			t.Run("prereq", func(t *testing.T) {
				ev := newEnv(t, 3) // the sign-in is never approved: the platform check fails first
				ev.prereq.result = func(int) checks.Result {
					return checks.Result{Outcome: checks.Fail, Summary: "no ITDR subscription for this platform account",
						Remedy: "Buy the ITDR subscription at https://portal.itdr.example/billing/subscriptions?plan=itdr-standard-2026 then run itdr-onboard onboard --tenant contoso.onmicrosoft.com again."}
				}
				h := sized(t, ev, steps.Options{AuthMethod: auth.MethodDevice}, Options{}, w, hh)
				h.pump("the end", h.e.Finished)
				shot(t, h, "fail-prereq", w, hh)
			})
			t.Run("signin-blocked", func(t *testing.T) {
				ev := newEnv(t, 3)
				ev.auth.blocked = true
				h := sized(t, ev, steps.Options{AuthMethod: auth.MethodDevice}, Options{}, w, hh)
				h.pump("the end", func() bool { return (h.e.Finished() || h.m.browserShown()) && bgDone(h) })
				shot(t, h, "signin-blocked", w, hh)
			})
		})
	}
}
