package tui

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	qrcode "github.com/skip2/go-qrcode"

	"itdr-onboard/auth"
	"itdr-onboard/platform"
	"itdr-onboard/steps"
	"itdr-onboard/ui/theme"
)

func isClipboard(want string) func(tea.Msg) bool {
	return func(m tea.Msg) bool {
		return strings.Contains(fmt.Sprintf("%T", m), "setClipboardMsg") && fmt.Sprint(m) == want
	}
}

func isMsg[T any](m tea.Msg) bool { _, ok := m.(T); return ok }

func mustContain(t *testing.T, view string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(view, w) {
			t.Errorf("view lacks %q:\n%s", w, view)
		}
	}
}

// TestFullRunHealthy drives the whole wizard through the model: sign-in
// with the device code (copy, QR), the role plan confirmed with y, the
// organization picked through the filter, and the healthy final screen.
func TestFullRunHealthy(t *testing.T) {
	ev := newEnv(t, 50)
	ev.graph.orgName = hostile
	h := newHarness(t, ev, steps.Options{AuthMethod: auth.MethodDevice}, Options{})

	h.pump("the device code", func() bool { return h.signInCode() != nil })
	v := h.view()
	mustContain(t, v, "Prerequisites", "Sign-in", "Role fixes", "Mapping", "Health",
		"https://microsoft.com/devicelogin", "K Q 1   X 7 Z   P 4 M", "code expires in 14:50", "c copy", "n new code", "b browser")
	if strings.Contains(v, "Signed in:") {
		t.Error("header shown before sign-in")
	}
	// The countdown follows the clock.
	h.now = h.now.Add(10 * time.Second)
	h.send(clockMsg{})
	mustContain(t, h.view(), "code expires in 14:40")

	h.key("c")
	if !h.sawMsg(isClipboard("KQ1X7ZP4M")) {
		t.Errorf("c did not copy the code; msgs %v", h.msgs)
	}
	mustContain(t, h.view(), "Copied the code KQ1X7ZP4M")
	h.key("r")
	if v := h.view(); !strings.ContainsAny(v, "▀▄█") || !strings.Contains(v, "hide QR") {
		t.Errorf("r did not show the QR code:\n%s", v)
	}
	h.key("r")
	if strings.ContainsAny(h.view(), "▀▄█") {
		t.Error("r did not hide the QR code")
	}

	h.approve()
	h.pump("the role plan", func() bool { return h.m.activeAsk() != nil })
	v = h.view()
	mustContain(t, v, "Signed in: admin@contoso.example", "Evil", "Plan: 2 changes",
		"New-ManagementRoleAssignment -Role \"Audit Logs\"", "PIM may raise an alert", "Apply these 2 changes to the tenant? [y/n]", "y yes")
	if strings.ContainsRune(ansi.Strip(h.m.View().Content), 0x1b) || strings.Contains(h.m.View().Content, "]52;") {
		t.Error("hostile tenant name reached the terminal")
	}
	h.key("y")
	h.pump("the organization picker", func() bool {
		a := h.m.activeAsk()
		return a != nil && a.Effect.(steps.Ask).Q.Kind == steps.AskSelect
	})
	v = h.view()
	mustContain(t, v, "Which platform organization", "51 of 51", "Customer 0000")
	mustContain(t, v, "✓ Prerequisites", "✓ Sign-in", "✓ Role fixes", "● Mapping", "○ Health")
	h.typeText("contoso")
	v = h.view()
	mustContain(t, v, "1 of 51", "> Contoso Ltd")
	h.key("enter")
	h.confirmMapping()
	h.pump("the end", h.e.Finished)
	v = h.view()
	mustContain(t, v, "Healthy", "Contoso Ltd", "Billable identities", "42", "30 of 40 users (75%)", "Changes made", "q/enter close")
	if got := steps.ExitCode(h.e); got != 0 {
		t.Errorf("exit code %d", got)
	}
	// The final screen stays until q.
	if h.sawMsg(isMsg[tea.QuitMsg]) {
		t.Fatal("quit before a key was pressed")
	}
	h.key("q")
	if !h.sawMsg(isMsg[tea.QuitMsg]) || h.m.interrupted {
		t.Errorf("q did not quit cleanly; msgs %v", h.msgs)
	}
}

func TestNewCodeReplacesCodeOnSameScreen(t *testing.T) {
	h := newHarness(t, newEnv(t, 3), steps.Options{AuthMethod: auth.MethodDevice}, Options{})
	h.pump("the device code", func() bool { return h.signInCode() != nil })
	mustContain(t, h.view(), "K Q 1   X 7 Z   P 4 M")
	h.key("n")
	h.pump("a new code", func() bool { c := h.signInCode(); return c != nil && c.UserCode == "KQ2X7ZP4M" })
	v := h.view()
	mustContain(t, v, "K Q 2   X 7 Z   P 4 M", "earlier one no longer works")
	if strings.Contains(v, "K Q 1") {
		t.Errorf("old code still shown:\n%s", v)
	}
	// The old wait was cancelled and its outcome dropped: approving signs in.
	h.approve()
	h.pump("sign-in", func() bool { return h.s.SignedIn })
}

func TestBrowserSignInWithPastedRedirect(t *testing.T) {
	h := newHarness(t, newEnv(t, 3), steps.Options{AuthMethod: auth.MethodDevice}, Options{})
	h.pump("the device code", func() bool { return h.signInCode() != nil })
	h.key("b")
	h.pump("the browser prompt", h.m.browserShown)
	v := h.view()
	mustContain(t, v, "Browser sign-in", "Switched to browser sign-in.", "ssh -L 53682:localhost:53682 tech@jump", "Paste URL:", "p paste URL")
	h.key("c")
	if !h.sawMsg(func(m tea.Msg) bool {
		return strings.Contains(fmt.Sprintf("%T", m), "setClipboardMsg") && strings.HasPrefix(fmt.Sprint(m), "https://login.example/authorize")
	}) {
		t.Error("c did not copy the sign-in address")
	}
	h.key("p")
	mustContain(t, h.view(), "enter submit", "esc stop typing")
	h.typeText("http://localhost:53682/?code=abc&state=xyz")
	// The authorization code in the pasted URL is not echoed.
	mustContain(t, h.view(), "Paste URL: http://localhost:53682/?••••")
	if strings.Contains(h.view(), "code=abc") {
		t.Error("the pasted authorization code is shown")
	}
	h.key("enter")
	h.pump("sign-in", func() bool { return h.s.SignedIn })
	if h.e.Current().ID() == steps.SignIn && h.e.Current().Status() == steps.StatusFailed {
		t.Fatalf("sign-in failed:\n%s", h.view())
	}
}

func TestPasteMessageFillsRedirectField(t *testing.T) {
	h := newHarness(t, newEnv(t, 3), steps.Options{AuthMethod: auth.MethodBrowser}, Options{})
	h.pump("the browser prompt", h.m.browserShown)
	h.send(tea.PasteMsg{Content: "http://localhost:53682/?code=zz\x1b[2J\n"})
	if !h.m.pasteFocus || h.m.paste.Value() != "http://localhost:53682/?code=zz" {
		t.Fatalf("paste not taken: focus %v value %q", h.m.paste.Value() != "", h.m.paste.Value())
	}
	h.key("esc")
	if h.m.pasteFocus {
		t.Error("esc did not leave the field")
	}
	if h.m.quitting {
		t.Error("esc in the field quit")
	}
}

func TestCtrlCInterrupts(t *testing.T) {
	h := newHarness(t, newEnv(t, 3), steps.Options{AuthMethod: auth.MethodDevice}, Options{})
	h.pump("the device code", func() bool { return h.signInCode() != nil })
	h.key("ctrl+c")
	if !h.m.interrupted || !h.sawMsg(isMsg[tea.InterruptMsg]) {
		t.Errorf("ctrl+c did not interrupt; msgs %v", h.msgs)
	}
}

// TestEscNeverQuits (issue 18): esc goes back (closes the QR code, the
// journal, the filter) and never quits; q does.
func TestEscNeverQuits(t *testing.T) {
	h := newHarness(t, newEnv(t, 3), steps.Options{AuthMethod: auth.MethodDevice}, Options{})
	h.pump("the device code", func() bool { return h.signInCode() != nil })
	h.key("r")
	h.key("esc")
	if h.m.showQR || h.m.interrupted {
		t.Fatalf("esc on the QR code: QR %v, quit %v", h.m.showQR, h.m.interrupted)
	}
	h.key("esc")
	if h.m.interrupted || h.m.quitting {
		t.Fatal("esc quit the sign-in")
	}
	mustContain(t, h.view(), "q quits")
	h.key("tab")
	if !h.m.journal {
		t.Fatal("tab did not open the journal")
	}
	h.key("esc")
	if h.m.journal || h.m.interrupted {
		t.Fatalf("esc on the journal: open %v, quit %v", h.m.journal, h.m.interrupted)
	}
	h.key("q")
	if !h.m.interrupted || !h.sawMsg(isMsg[tea.InterruptMsg]) {
		t.Error("q did not quit the sign-in")
	}
}

func TestYesConfirmsThePlanByItself(t *testing.T) {
	h := newHarness(t, newEnv(t, 3), steps.Options{AuthMethod: auth.MethodDevice, Yes: true}, Options{Yes: true})
	h.pump("the device code", func() bool { return h.signInCode() != nil })
	h.approve()
	h.pump("the organization picker", func() bool { return h.e.Current().ID() == steps.Mapping && h.m.activeAsk() != nil })
	if len(h.s.Applied) != 2 {
		t.Errorf("applied %d changes, want 2", len(h.s.Applied))
	}
	// The plan stays on record; --yes never answers the picker.
	h.key("enter")
	h.confirmMapping()
	h.pump("the end", h.e.Finished)
	if h.s.Organization.ID != "org-contoso" {
		t.Errorf("enter picked %q, want Contoso Ltd, the best match of the tenant Contoso", h.s.Organization.ID)
	}
}

func TestDeclinedPlanStops(t *testing.T) {
	h := newHarness(t, newEnv(t, 3), steps.Options{AuthMethod: auth.MethodDevice}, Options{})
	h.pump("the device code", func() bool { return h.signInCode() != nil })
	h.approve()
	h.pump("the role plan", func() bool { return h.m.activeAsk() != nil })
	h.key("enter") // answers no yes/no question
	if h.e.Finished() {
		t.Fatal("enter answered the plan")
	}
	h.key("n")
	if !h.e.Finished() {
		t.Fatal("not finished after declining")
	}
	mustContain(t, h.view(), "Stopped", "declined", "q/enter close")
	if got := steps.ExitCode(h.e); got != 3 {
		t.Errorf("exit code %d, want 3", got)
	}
}

func TestDetachFromHealthWait(t *testing.T) {
	ev := newEnv(t, 3)
	ev.blockSleep.Store(true)
	ev.platform.health = []string{platform.StatusPending}
	h := newHarness(t, ev, steps.Options{AuthMethod: auth.MethodDevice, Org: "Contoso Ltd", Yes: true}, Options{Yes: true})
	h.pump("the device code", func() bool { return h.signInCode() != nil })
	h.approve()
	h.pump("the health wait", func() bool {
		if h.e.Current().ID() != steps.Health {
			return false
		}
		d := healthDetail(h.e.Current().Snapshot(h.s))
		return d != nil && d.Probes > 0
	})
	v := h.view()
	mustContain(t, v, "Integration: ", "pending", "up to 24 hours", "d detach", "First data expected")
	if h.m.needSpin() {
		t.Error("idle health wait: a spinner is wanted")
	}
	if w := h.m.nextWake(); w.IsZero() || w.Sub(h.m.now) < time.Second {
		t.Errorf("idle health wait: next wake %v after now %v; want a minute or a due check, never a second", w, h.m.now)
	}
	h.key("d")
	if !h.e.Finished() {
		t.Fatalf("d did not detach:\n%s", h.view())
	}
	mustContain(t, h.view(), "Detached", "itdr-onboard status", "◐ Health")
	if got := steps.ExitCode(h.e); got != 4 {
		t.Errorf("exit code %d, want 4", got)
	}
	if !h.m.nextWake().IsZero() || h.m.needSpin() {
		t.Error("ticks still wanted on the final screen")
	}
}

func TestBlockedDeviceCodeOffersBrowser(t *testing.T) {
	ev := newEnv(t, 3)
	ev.auth.blocked = true
	h := newHarness(t, ev, steps.Options{AuthMethod: auth.MethodDevice}, Options{})
	h.pump("the failure", h.e.Finished)
	mustContain(t, h.view(), "AADSTS530035", "b browser", "r retry")
	h.key("b")
	h.pump("the browser prompt", h.m.browserShown)
	ev.auth.mu.Lock()
	ev.auth.blocked = false
	ev.auth.mu.Unlock()
	h.approve()
	h.pump("sign-in", func() bool { return h.s.SignedIn })
}

func TestSmallTerminalKeepsCodeAndURL(t *testing.T) {
	h := newHarness(t, newEnv(t, 3), steps.Options{AuthMethod: auth.MethodDevice}, Options{})
	h.send(tea.WindowSizeMsg{Width: 40, Height: 12})
	h.pump("the device code", func() bool { return h.signInCode() != nil })
	h.key("r") // the QR does not fit: a note instead
	content := h.m.View().Content
	ls := strings.Split(content, "\n")
	if len(ls) > 12 {
		t.Errorf("%d lines at 40x12", len(ls))
	}
	for _, l := range ls {
		if ansi.StringWidth(l) > 40 {
			t.Errorf("line too wide: %q", ansi.Strip(l))
		}
	}
	v := ansi.Strip(content)
	mustContain(t, v, "https://microsoft.com/devicelogin", "K Q 1   X 7 Z   P 4 M", "Sign-in (2/5)")
	// Tiny and zero sizes do not panic.
	for _, sz := range [][2]int{{1, 1}, {0, 0}, {20, 6}, {300, 100}} {
		h.send(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
		_ = h.m.View()
	}
}

func TestPickerScrollsAndFilters(t *testing.T) {
	ev := newEnv(t, 5000)
	ev.graph.orgName = "Northwind" // no organization resembles it: the cursor starts at the top
	h := newHarness(t, ev, steps.Options{AuthMethod: auth.MethodDevice, Yes: true}, Options{Yes: true})
	h.pump("the device code", func() bool { return h.signInCode() != nil })
	h.approve()
	h.pump("the picker", func() bool { return h.e.Current().ID() == steps.Mapping && h.m.activeAsk() != nil })
	mustContain(t, h.view(), "5001 of 5001")
	for i := 0; i < 40; i++ {
		h.key("down")
	}
	v := h.view()
	mustContain(t, v, "> Customer 0040")
	if strings.Contains(v, "Customer 0000") {
		t.Error("list did not scroll")
	}
	count := func(q string) string { return fmt.Sprintf("%d of 5001", len(h.m.pick.filter.Filter(q))) }
	h.typeText("customer 12")
	mustContain(t, h.view(), "> Customer 1200", count("customer 12"))
	h.key("backspace")
	mustContain(t, h.view(), "> Customer 1000", count("customer 1"))
	h.key("esc")
	mustContain(t, h.view(), "5001 of 5001")
	h.typeText("zzzz")
	mustContain(t, h.view(), "no organization matches")
	h.key("enter") // nothing to pick: nothing happens
	if h.m.activeAsk() == nil {
		t.Error("enter with no match answered the question")
	}
}

func TestIdleModelSchedulesNoTicks(t *testing.T) {
	h := newHarness(t, newEnv(t, 3), steps.Options{AuthMethod: auth.MethodDevice}, Options{})
	h.pump("the device code", func() bool { return h.signInCode() != nil })
	// With animation on, the countdown gets one clock tick and no spinner.
	h.m.anim = true
	cmd := h.m.ticks()
	if cmd == nil || h.m.clockAt.IsZero() || h.m.spinPending {
		t.Fatalf("sign-in with a code: clock %v spin %v", h.m.clockAt, h.m.spinPending)
	}
	if d := h.m.clockAt.Sub(h.m.now); d <= 0 || d > time.Second {
		t.Errorf("sign-in countdown wakes %s after now, want within the second", d)
	}
	if h.m.ticks() != nil {
		t.Error("a second tick was scheduled while one is pending")
	}
}

// TestSmallTerminalKeepsPromptsVisible: at 40x12 the plan question and the
// picker's filter stay on screen.
func TestSmallTerminalKeepsPromptsVisible(t *testing.T) {
	ev := newEnv(t, 30)
	ev.graph.orgName = "Northwind" // no organization resembles it: the cursor starts at the top
	h := newHarness(t, ev, steps.Options{AuthMethod: auth.MethodDevice}, Options{})
	h.send(tea.WindowSizeMsg{Width: 40, Height: 12})
	h.pump("the device code", func() bool { return h.signInCode() != nil })
	h.approve()
	h.pump("the role plan", func() bool { return h.m.activeAsk() != nil })
	v := h.view()
	mustContain(t, v, "[y/n]", "y yes")
	if n := len(strings.Split(v, "\n")); n > 12 {
		t.Errorf("%d lines", n)
	}
	h.key("end") // the plan is read to its end before y is taken
	h.key("y")
	h.pump("the picker", func() bool { return h.e.Current().ID() == steps.Mapping && h.m.activeAsk() != nil })
	v = h.view()
	mustContain(t, v, "Filter:", "31 of 31", "> Customer 0000")
	for _, l := range strings.Split(h.m.View().Content, "\n") {
		if ansi.StringWidth(l) > 40 {
			t.Errorf("line too wide: %q", ansi.Strip(l))
		}
	}
	for i := 0; i < 12; i++ {
		h.key("down")
	}
	mustContain(t, h.view(), "> Customer 0012")
}

// TestIdleHealthWaitSchedulesNoSecondTick: during the health wait the model
// schedules no spinner and no per-second clock: its one pending wake is at
// the next visible change (a whole minute), the screen is identical every
// second in between, and each wake it takes moves the screen.
func TestIdleHealthWaitSchedulesNoSecondTick(t *testing.T) {
	ev := newEnv(t, 3)
	ev.blockSleep.Store(true) // the next probe never comes: a long idle wait
	ev.platform.health = []string{platform.StatusPending}
	h := newHarness(t, ev, steps.Options{AuthMethod: auth.MethodDevice, Org: "Contoso Ltd", Yes: true}, Options{Yes: true})
	h.pump("the device code", func() bool { return h.signInCode() != nil })
	h.approve()
	h.pump("the health wait", func() bool {
		d := healthDetail(h.e.Current().Snapshot(h.s))
		return h.e.Current().ID() == steps.Health && d != nil && d.Probes > 0
	})
	h.m.anim = true
	if cmd := h.m.ticks(); cmd == nil {
		t.Fatal("no wake scheduled during the health wait")
	}
	if h.m.spinPending {
		t.Error("a spinner frame was scheduled during the health wait")
	}
	v := h.view()
	mustContain(t, v, "Waiting since ", "(under 1 min ago)", "First data expected")
	if regexp.MustCompile(`in \d+:\d\d|\d+s\b`).MatchString(v) {
		t.Errorf("a countdown is on the health screen:\n%s", v)
	}
	start := h.now
	for n := 0; n < 10; n++ {
		w := h.m.clockAt
		if w.IsZero() {
			t.Fatalf("wake %d: none pending", n)
		}
		if gap := w.Sub(h.now); gap < 30*time.Second {
			t.Fatalf("wake %d is %s after the last: the idle screen ticks", n, gap)
		}
		// Every second until the wake the screen is unchanged.
		before := h.m.View().Content
		for at := h.now.Add(time.Second); at.Before(w); at = at.Add(time.Second) {
			h.m.now = at
			if h.m.View().Content != before {
				t.Fatalf("the screen changed at +%s, before the wake at +%s", at.Sub(start), w.Sub(start))
			}
		}
		// The wake (the timer's command is not run: Update is called as
		// bubbletea would when it fires) moves the screen and schedules
		// the next one.
		h.now = w.Add(5 * time.Millisecond)
		h.m.Update(clockMsg{at: w})
		if h.m.View().Content == before {
			t.Errorf("wake %d at +%s changed nothing", n, w.Sub(start))
		}
	}
	mustContain(t, h.view(), "(10 min ago)")
}

// At 80×24 the sign-in's QR code (r) fits beside the code, whole, with the
// address and the code still shown, also while a notice takes a line; a
// smaller terminal says the size that shows it, and that size does.
func TestSignInQRFits80x24(t *testing.T) {
	h := newHarness(t, newEnv(t, 3), steps.Options{AuthMethod: auth.MethodDevice}, Options{})
	h.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	h.pump("the device code", func() bool { return h.signInCode() != nil })
	want, err := qrcode.New("https://microsoft.com/devicelogin", qrcode.Low)
	if err != nil {
		t.Fatal(err)
	}
	want.DisableBorder = true
	qrRows := (len(want.Bitmap()) + 4 + 1) / 2
	shown := func(what string, w, hh int) {
		t.Helper()
		content := h.m.View().Content
		ls := strings.Split(ansi.Strip(content), "\n")
		rows := 0
		for _, l := range ls {
			if ansi.StringWidth(l) > w {
				t.Errorf("%s: line wider than %d: %q", what, w, l)
			}
			if strings.ContainsAny(l, "▀▄█") {
				rows++
			}
		}
		if len(ls) > hh || rows != qrRows {
			t.Errorf("%s: %d lines, %d QR rows (want %d):\n%s", what, len(ls), rows, qrRows, ansi.Strip(content))
		}
		mustContain(t, ansi.Strip(content), "https://microsoft.com/devicelogin", "K Q 1   X 7 Z   P 4 M", "r hide QR")
	}
	h.key("r")
	shown("80×24", 80, 24)
	h.key("c")
	mustContain(t, h.view(), "Copied the code KQ1X7ZP4M")
	shown("80×24 with a notice", 80, 24)

	h.send(tea.WindowSizeMsg{Width: 70, Height: 20})
	v := h.view()
	if strings.ContainsAny(v, "▀▄█") {
		t.Fatalf("a QR code drawn at 70×20:\n%s", v)
	}
	m := regexp.MustCompile(`at least (\d+)×(\d+): enlarge it`).FindStringSubmatch(strings.Join(strings.Fields(v), " "))
	if m == nil {
		t.Fatalf("70×20 does not say the size the QR code needs:\n%s", v)
	}
	mustContain(t, v, "open the address above", "https://microsoft.com/devicelogin", "K Q 1   X 7 Z   P 4 M")
	var w, hh int
	fmt.Sscan(m[1], &w)
	fmt.Sscan(m[2], &hh)
	h.send(tea.WindowSizeMsg{Width: w, Height: hh})
	shown(fmt.Sprintf("the %d×%d it names", w, hh), w, hh)
}

// A verification address stays on one line whenever it fits the width,
// and a longer one is cut only at the right edge: its pieces, joined, are
// the address.
func TestSignInURLLines(t *testing.T) {
	st := theme.Plain()
	u := "https://login.microsoftonline.us/common/oauth2/deviceauth"
	for _, w := range []int{len(u) + 1, len(u)} {
		ls := urlLines(st, u, w)
		if len(ls) != 1 || strings.TrimSpace(ansi.Strip(ls[0])) != u || ansi.StringWidth(ls[0]) > w {
			t.Errorf("width %d: %q, want the address on one line", w, ls)
		}
	}
	for _, w := range []int{len(u) - 1, 30, 20} {
		ls := urlLines(st, u, w)
		var joined string
		for _, l := range ls {
			if ansi.StringWidth(l) > w {
				t.Errorf("width %d: line %q too wide", w, l)
			}
			joined += strings.TrimPrefix(ansi.Strip(l), " ")
		}
		if joined != u || len(ls) != (len(u)+w-2)/(w-1) {
			t.Errorf("width %d: %q, want %q cut only at the edge", w, ls, u)
		}
	}
}
