package tui

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"itdr-onboard/auth"
	"itdr-onboard/checks"
	"itdr-onboard/platform"
	"itdr-onboard/steps"
	"itdr-onboard/ui/theme"
)

// Tests for the technician's review: the scrollable plan (9), keys held
// back after a change of screen (10), the picker's default and "more" line
// (11, 5b), wrapping that keeps copyable words whole (12) and the stale or
// repeated texts (15).

// longPlan is a dehydrated tenant's plan: seven changes, each with its call
// and most with a warning.
func longPlan() []checks.Change {
	var plan []checks.Change
	for i := 1; i <= 7; i++ {
		c := checks.Change{ID: fmt.Sprintf("c%d", i), CheckID: "exo.role-group", Order: i,
			Summary: fmt.Sprintf("Change number %d to the tenant", i),
			Call:    fmt.Sprintf("New-ManagementRoleAssignment -Role \"Role %d\" -SecurityGroup \"Organization Management\"", i)}
		if i%2 == 1 {
			c.Warning = "Privileged Identity Management will raise an alert for this change"
		}
		plan = append(plan, c)
	}
	return plan
}

// frameFits checks the whole frame against the window.
func frameFits(t *testing.T, h *harness, w, hh int) {
	t.Helper()
	ls := strings.Split(h.m.View().Content, "\n")
	if len(ls) > hh {
		t.Errorf("%dx%d: %d lines:\n%s", w, hh, len(ls), h.view())
	}
	for _, l := range ls {
		if ansi.StringWidth(l) > w {
			t.Errorf("%dx%d: line too wide: %q", w, hh, ansi.Strip(l))
		}
	}
}

var positionRe = regexp.MustCompile(`lines (\d+)–(\d+) of (\d+)`)

// position reads "lines N–M of T" off the screen (ok false when absent).
func position(view string) (first, last, total int, ok bool) {
	m := positionRe.FindStringSubmatch(view)
	if m == nil {
		return 0, 0, 0, false
	}
	first, _ = strconv.Atoi(m[1])
	last, _ = strconv.Atoi(m[2])
	total, _ = strconv.Atoi(m[3])
	return first, last, total, true
}

// TestPlanScrolls (finding 9): a plan longer than the window scrolls with
// the arrows, the page keys, home and end; the question and its keys stay
// at the bottom; the screen says which lines are shown; y works at once.
func TestPlanScrolls(t *testing.T) {
	for _, sz := range []struct{ w, h int }{{100, 24}, {40, 12}} {
		t.Run(fmt.Sprintf("%dx%d", sz.w, sz.h), func(t *testing.T) {
			ev := newEnv(t, 3)
			ev.plan = longPlan()
			h := newHarness(t, ev, steps.Options{AuthMethod: auth.MethodDevice}, Options{})
			h.send(tea.WindowSizeMsg{Width: sz.w, Height: sz.h})
			h.pump("the device code", func() bool { return h.signInCode() != nil })
			h.approve()
			h.pump("the role plan", func() bool { return h.m.activeAsk() != nil })

			v := h.view()
			mustContain(t, v, "[y/n]", "y yes", "↑↓/pgdn scroll")
			if strings.Contains(v, "more line(s)") {
				t.Errorf("the plan is cut, not scrolled:\n%s", v)
			}
			first, last, total, ok := position(v)
			if !ok || first != 1 || last >= total {
				t.Fatalf("position line wrong (%d %d %d %v):\n%s", first, last, total, ok, v)
			}
			if strings.Contains(v, "Change number 7") {
				t.Fatalf("the last change fits already; the test needs a longer plan:\n%s", v)
			}
			frameFits(t, h, sz.w, sz.h)
			// The prompt and the help line are the last lines of the frame.
			ls := strings.Split(v, "\n")
			if !strings.Contains(ls[len(ls)-1], "y yes") || !strings.Contains(strings.Join(ls[len(ls)-3:], "\n"), "[y/n]") {
				t.Errorf("the question is not pinned at the bottom:\n%s", v)
			}

			h.key("down")
			if f, _, _, _ := position(h.view()); f != 2 {
				t.Errorf("down: first line %d, want 2", f)
			}
			h.key("up")
			h.key("pgdown")
			f, l, _, _ := position(h.view())
			rows := last - first + 1
			if want := min(1+max(rows-1, 1), total-rows+1); f != want || l-f+1 != rows {
				t.Errorf("pgdown: lines %d–%d, want a page (%d rows, one kept) further", f, l, rows)
			}
			h.key("end")
			v = h.view()
			f, l, tot, _ := position(v)
			if l != tot || tot != total {
				t.Errorf("end: lines %d–%d of %d, want the end of %d", f, l, tot, total)
			}
			mustContain(t, v, "[y/n]")
			if !strings.Contains(v, "raise an alert") {
				t.Errorf("end does not show the last change's warning:\n%s", v)
			}
			frameFits(t, h, sz.w, sz.h)
			h.key("pgdown") // past the end: stays
			if f2, l2, _, _ := position(h.view()); f2 != f || l2 != l {
				t.Errorf("pgdown at the end moved to %d–%d", f2, l2)
			}
			h.key("home")
			if f, _, _, _ := position(h.view()); f != 1 {
				t.Errorf("home: first line %d", f)
			}
			// No answer while the plan is partly off screen (issue 18):
			// y, n and enter are refused with a notice until its end
			// has been shown.
			for _, k := range []string{"y", "n", "enter"} {
				h.key(k)
				if a := h.m.activeAsk(); a == nil || a.Effect.(steps.Ask).Q.ID != steps.QConfirmPlan {
					t.Fatalf("%s answered the plan while its end was off screen", k)
				}
			}
			mustContain(t, h.view(), "enter does not answer")
			h.key("y")
			mustContain(t, h.view(), "Read it to the end first")
			h.key("end")
			h.key("y")
			if a := h.m.activeAsk(); a != nil && a.Effect.(steps.Ask).Q.ID == steps.QConfirmPlan {
				t.Error("y did not answer the plan once its end was shown")
			}
			if h.m.scroll != 0 {
				t.Errorf("scroll %d kept after the question changed", h.m.scroll)
			}
		})
	}
}

// TestShortPlanHasNoScrollHint: a plan that fits shows no position line
// and no scroll keys.
func TestShortPlanHasNoScrollHint(t *testing.T) {
	h := newHarness(t, newEnv(t, 3), steps.Options{AuthMethod: auth.MethodDevice}, Options{})
	h.pump("the device code", func() bool { return h.signInCode() != nil })
	h.approve()
	h.pump("the role plan", func() bool { return h.m.activeAsk() != nil })
	v := h.view()
	if _, _, _, ok := position(v); ok || strings.Contains(v, "scroll") {
		t.Errorf("scroll hint on a plan that fits:\n%s", v)
	}
	mustContain(t, v, "Plan: 2 changes", "[y/n]")
}

// TestKeysHeldBackAfterScreenChange (finding 10): a key pressed within
// keyGuard of a new question does not answer it or type into the filter;
// arrows and ctrl+c always work.
func TestKeysHeldBackAfterScreenChange(t *testing.T) {
	h := newHarness(t, newEnv(t, 30), steps.Options{AuthMethod: auth.MethodDevice}, Options{})
	h.pump("the device code", func() bool { return h.signInCode() != nil })
	h.approve()
	h.pump("the role plan", func() bool { return h.m.activeAsk() != nil })

	// "n" as the plan appears (meant for "new code" on the sign-in).
	h.keyNow("n")
	h.now = h.now.Add(keyGuard - time.Millisecond)
	h.keyNow("enter")
	if h.e.Finished() || h.m.activeAsk() == nil {
		t.Fatalf("a key within %s of the plan answered it:\n%s", keyGuard, h.view())
	}
	h.now = h.now.Add(time.Millisecond)
	h.keyNow("y")
	h.pump("the picker", func() bool {
		a := h.m.activeAsk()
		return a != nil && a.Effect.(steps.Ask).Q.Kind == steps.AskSelect
	})

	// Typeahead (issue 18): letters typed as the picker appears go to
	// its filter; enter within the guard picks nothing.
	h.keyNow("c")
	if v := h.m.pick.query.Value(); v != "c" {
		t.Errorf("the filter has %q after c within the guard, want c", v)
	}
	h.keyNow("enter")
	if a := h.m.activeAsk(); a == nil || a.Effect.(steps.Ask).Q.Kind != steps.AskSelect {
		t.Fatal("enter within the guard picked an organization")
	}
	h.keyNow("down") // moving is harmless and works
	if h.m.pick.cursor != 1 {
		t.Errorf("down within the guard: cursor %d", h.m.pick.cursor)
	}
	h.key("u")
	if v := h.m.pick.query.Value(); v != "cu" {
		t.Errorf("after the guard the filter is %q, want cu", v)
	}
	// A new screen again (another attempt would do the same); ctrl+c
	// works within the guard.
	h.m.shownAt = h.m.now
	h.keyNow("ctrl+c")
	if !h.m.interrupted {
		t.Error("ctrl+c was held back")
	}
}

// TestPickerDefaultMoreAndCurrentMapping (findings 11 and 5b): the picker
// says where the tenant is mapped now and marks that row; esc and an
// emptied filter go back to the suggested organization; a cut list says
// how many more there are.
func TestPickerDefaultMoreAndCurrentMapping(t *testing.T) {
	ev := newEnv(t, 5000)
	ev.platform.existing = &platform.Integration{ID: "int-0", TenantID: "tid-1", OrganizationID: "org-0040", OrganizationName: "Customer 0040", Status: platform.StatusHealthy}
	// The fake platform's ids are org-N; make the mapped one findable.
	for i := range ev.platform.orgs {
		if ev.platform.orgs[i].Name == "Customer 0040" {
			ev.platform.orgs[i].ID = "org-0040"
		}
	}
	// No organization resembles the tenant's name: the cursor starts on
	// the current mapping (TestPickerStartsOnNameMatch covers a match).
	ev.graph.orgName = "Northwind"
	h := newHarness(t, ev, steps.Options{AuthMethod: auth.MethodDevice, Yes: true, Remap: true}, Options{Yes: true})
	h.pump("the device code", func() bool { return h.signInCode() != nil })
	h.approve()
	h.pump("the picker", func() bool { return h.e.Current().ID() == steps.Mapping && h.m.activeAsk() != nil })

	onDefault := func(when string) {
		t.Helper()
		v := h.view()
		mustContain(t, v, "This tenant is currently mapped to Customer 0040.", "> Customer 0040 (currently mapped)")
		if t.Failed() {
			t.Fatalf("%s", when)
		}
	}
	onDefault("at first")
	// The cut list says how much more there is; the numbers add up.
	countMore := func() (shown, more, above int) {
		for _, l := range strings.Split(h.view(), "\n") {
			switch {
			case strings.HasPrefix(l, " > ") || strings.HasPrefix(l, "   Customer") || strings.HasPrefix(l, "   Contoso"):
				shown++
			case regexp.MustCompile(`^\s+↓ \d+ more`).MatchString(l) || regexp.MustCompile(`^\s+↑ \d+ above`).MatchString(l):
				if m := regexp.MustCompile(`↓ (\d+) more`).FindStringSubmatch(l); m != nil {
					more, _ = strconv.Atoi(m[1])
				}
				if m := regexp.MustCompile(`↑ (\d+) above`).FindStringSubmatch(l); m != nil {
					above, _ = strconv.Atoi(m[1])
				}
			}
		}
		return
	}
	shown, more, above := countMore()
	if shown == 0 || above+shown+more != 5001 {
		t.Errorf("%d above + %d shown + %d more != 5001:\n%s", above, shown, more, h.view())
	}
	h.typeText("customer 00")
	n := len(h.m.pick.filter.Filter("customer 00"))
	shown, more, above = countMore()
	if above != 0 || shown+more != n || more == 0 {
		t.Errorf("filtered to %d: %d shown + %d more (%d above):\n%s", n, shown, more, above, h.view())
	}
	mustContain(t, h.view(), fmt.Sprintf("%d of 5001", n))
	if h.m.pick.cursor != 0 {
		t.Errorf("typing left the cursor on row %d", h.m.pick.cursor)
	}
	h.key("esc")
	onDefault("after esc")
	h.typeText("zz")
	h.key("backspace")
	h.key("backspace")
	onDefault("after emptying the filter")
	// The list fits the window: no line says more.
	frameFits(t, h, 100, 30)
	// Enter keeps the mapping where it is.
	h.key("enter")
	h.confirmMapping()
	h.pump("the end", h.e.Finished)
	if h.s.Organization.ID != "org-0040" {
		t.Errorf("picked %q", h.s.Organization.ID)
	}
}

// TestPickerShortListHasNoMoreLine: a list that fits says nothing more.
func TestPickerShortListHasNoMoreLine(t *testing.T) {
	h := newHarness(t, newEnv(t, 3), steps.Options{AuthMethod: auth.MethodDevice, Yes: true}, Options{Yes: true})
	h.pump("the device code", func() bool { return h.signInCode() != nil })
	h.approve()
	h.pump("the picker", func() bool { return h.e.Current().ID() == steps.Mapping && h.m.activeAsk() != nil })
	if v := h.view(); strings.Contains(v, " more") || strings.Contains(v, "currently mapped") {
		t.Errorf("short list:\n%s", v)
	}
}

// TestWrapKeepsCopyableWordsWhole (finding 12): URLs, paths, flags and
// GUIDs are never split; a word longer than the line gets a line of its
// own and loses no character.
func TestWrapKeepsCopyableWordsWhole(t *testing.T) {
	pim := "https://portal.azure.com/#view/Microsoft_Azure_PIMCommon/ActivationMenuBlade/~/aadmigratedroles"
	guid := "3f9c8f2e-6d0b-4c1e-9a57-1b2d3c4e5f60"
	path := "/home/tech/.local/state/itdr-onboard/" + guid + "/receipt-20260901T100000Z.json"
	s := "Sign in with an account of the customer's tenant (not a partner or guest account), or correct --tenant. " +
		"Activate the role in PIM: " + pim + " then check later with itdr-onboard status --tenant " + guid +
		" and keep the receipt " + path + " for the customer."
	for _, w := range []int{30, 40, 57, 60, 80, 100} {
		ls := wrapStyled(func(s ...string) string { return strings.Join(s, "") }, s, "     -> ", w)
		for i, l := range ls {
			if ansi.StringWidth(l) > w {
				t.Errorf("width %d: line %d is %d wide: %q", w, i, ansi.StringWidth(l), l)
			}
		}
		joined := strings.Join(ls, "\n")
		for _, tok := range []string{"--tenant", guid, "receipt-20260901T100000Z.json"} {
			if len(tok) <= w-1 && !strings.Contains(joined, tok) {
				t.Errorf("width %d: %q split:\n%s", w, tok, joined)
			}
		}
		for _, tok := range []string{pim, path, guid} {
			if ansi.StringWidth(tok) <= w-1 && !strings.Contains(joined, tok) {
				t.Errorf("width %d: %q (fits a line) split:\n%s", w, tok, joined)
			}
			// Every character is there, in order, pieces only broken at
			// line ends.
			if !strings.Contains(strings.ReplaceAll(joined, "\n ", ""), tok) {
				t.Errorf("width %d: %q lost characters:\n%s", w, tok, joined)
			}
		}
	}
	// At 100 columns the PIM URL (94) is one piece even under a 7-column
	// remedy indent: it moves out to the second column.
	ls := wrapStyled(func(s ...string) string { return strings.Join(s, "") }, "Open "+pim+" now", "     -> ", 100)
	if !strings.Contains(strings.Join(ls, "\n"), "\n "+pim+"\n") {
		t.Errorf("PIM URL not on a line of its own:\n%s", strings.Join(ls, "\n"))
	}
	// Plain words still wrap at spaces, and a break leaves no trailing space.
	if got := wrap("alpha beta gamma delta", 11); strings.Join(got, "|") != "alpha beta|gamma delta" {
		t.Errorf("wrap = %q", got)
	}
}

// TestCheckRowSummaryWraps (finding 12): a summary longer than the room
// beside its label wraps under it instead of being cut with an ellipsis.
func TestCheckRowSummaryWraps(t *testing.T) {
	sum := "missing 2 of 5 required roles: Audit Logs, Transport Rules (Organization Management has Mail Recipients, Organization Configuration and Role Management)"
	items := []steps.Item{{ID: "x", Label: "Exchange role group", Outcome: checks.Fail, Summary: sum}}
	for _, w := range []int{100, 60, 40} {
		ls := renderRows(theme.Plain(), items, w, t0, false)
		var words []string
		for _, l := range ls {
			if ansi.StringWidth(l) > w {
				t.Errorf("width %d: too wide: %q", w, l)
			}
			words = append(words, strings.Fields(l)...)
		}
		got := strings.Join(words, " ")
		if !strings.Contains(got, sum) || strings.Contains(got, "...") {
			t.Errorf("width %d: summary not whole:\n%s", w, strings.Join(ls, "\n"))
		}
		if !strings.HasPrefix(ls[0], " x Exchange role group") {
			t.Errorf("width %d: row starts %q", w, ls[0])
		}
	}
	// Beside the label, continuation lines align under the summary.
	ls := renderRows(theme.Plain(), items, 100, t0, false)
	col := strings.Index(ls[0], "missing")
	if len(ls) < 2 || strings.Index(ls[1], strings.TrimSpace(ls[1])) != col {
		t.Errorf("continuation not aligned under the summary:\n%s", strings.Join(ls, "\n"))
	}
}

// TestStaleAndRepeatedTexts (finding 15).
func TestStaleAndRepeatedTexts(t *testing.T) {
	now := t0.Add(10 * time.Minute)
	s := sessionWith()
	eta := now.Add(40 * time.Minute)
	d := &steps.HealthDetail{
		Integration: platform.Integration{Status: platform.StatusPending, ReasonCode: "waiting_for_first_data",
			Reason: "Mapped; waiting for the first audit data (can take up to 24 hours).", ExpectedFirstDataAt: &eta},
		Started: now.Add(-time.Minute), Last: now.Add(-5 * time.Second), NextIn: time.Minute, Probes: 2,
		Remedy: steps.RemedyFor("waiting_for_first_data")}
	running := steps.Snapshot{ID: steps.Health, Status: steps.StatusRunning, Detail: d}
	out := ansi.Strip(renderHealth(theme.Plain(), running, s, 100, 30, now))
	if n := strings.Count(out, "24 hours"); n != 1 {
		t.Errorf("\"24 hours\" said %d times while waiting:\n%s", n, out)
	}
	mustContain(t, out, "d detach: stop watching now")
	// Detached: no invitation to detach, and 24 hours still said once.
	detached := running
	detached.Status = steps.StatusFailed
	detached.Fail = &steps.Failure{Kind: steps.FailPending, Message: "Detached: the integration stays pending.",
		Remedy: "Check later with: itdr-onboard status --tenant 3f9c8f2e-6d0b-4c1e-9a57-1b2d3c4e5f60 (data can take up to 24 hours to arrive)."}
	out = ansi.Strip(renderHealth(theme.Plain(), detached, s, 100, 30, now))
	if strings.Contains(strings.ToLower(out), "may detach") {
		t.Errorf("detached screen still offers to detach:\n%s", out)
	}
	if n := strings.Count(out, "24 hours"); n != 1 {
		t.Errorf("\"24 hours\" said %d times after detaching:\n%s", n, out)
	}
	// The command is left without a full stop (it would be copied).
	if !strings.HasSuffix(out, "Check later with: itdr-onboard status --tenant 3f9c8f2e-6d0b-4c1e-9a57-1b2d3c4e5f60") {
		t.Errorf("detach remedy:\n%s", out)
	}
	// Without the platform saying it, the hint says it.
	d.Integration.Reason, d.Remedy = "", ""
	out = ansi.Strip(renderHealth(theme.Plain(), running, s, 100, 30, now))
	if n := strings.Count(out, "24 hours"); n != 1 {
		t.Errorf("\"24 hours\" said %d times with no reason:\n%s", n, out)
	}

	// Short codes: one message about the new code.
	snap := deviceSnap(t0, 50*time.Second)
	out = ansi.Strip(renderSignIn(theme.Plain(), snap, steps.NewSession(steps.Options{}), 100, 30, t0))
	if strings.Contains(out, "earlier one no longer works") || !strings.Contains(out, "The code expired; here is a new one.") {
		t.Errorf("new-code messages:\n%s", out)
	}

	// The consent wait writes durations one way and counts attempts.
	org := platform.Organization{ID: "o1", Name: "Contoso Ltd"}
	waiting := steps.Snapshot{ID: steps.Mapping, Status: steps.StatusRunning,
		Detail: &steps.MappingDetail{Phase: "waiting", Attempts: 2, Chosen: &org, RetryAt: t0.Add(27 * time.Second),
			WaitBudget: 15 * time.Minute, WaitUsed: 30 * time.Second,
			Reason: "AADSTS650051: still being deleted. Attempt 2 failed; retrying in 30s (waiting at most 15m0s in all)."}}
	out = ansi.Strip(renderMapping(theme.Plain(), waiting, s, 100, 30, t0))
	mustContain(t, out, "(2 attempts so far)", "at most 15m 00s", "30s of the 15m 00s wait budget")
	if strings.Contains(out, "15m0s") || strings.Contains(out, "attempt 2 so far") {
		t.Errorf("consent wait:\n%s", out)
	}

	// A stopped run's prerequisites are not left "checking".
	pre := steps.Snapshot{ID: steps.Prereqs, Status: steps.StatusFailed,
		Items: []steps.Item{{ID: "a", Label: "Clock skew", Running: true}, {ID: "b", Label: "Global Administrator", Summary: "runs after sign-in"}},
		Fail:  &steps.Failure{Kind: steps.FailStopped, Message: "Could not find tenant"}}
	out = ansi.Strip(renderPrereqs(theme.Plain(), pre, s, 100, 30, t0))
	if strings.Count(out, "not checked (the run stopped)") != 2 || strings.Contains(out, "checking") || strings.Contains(out, "runs after sign-in") {
		t.Errorf("stopped prerequisites:\n%s", out)
	}

	// The healthy end shows the audit trail under the receipt.
	s.Outcome = "healthy"
	s.ReceiptPath, s.AuditPath = "/state/tid-1/receipt-1.json", "/state/tid-1/audit.jsonl"
	out = ansi.Strip(renderDone(theme.Plain(), steps.Snapshot{}, s, 100, 30, t0))
	if r, a := strings.Index(out, "Receipt"), strings.Index(out, "Audit trail"); r < 0 || a < r || !strings.Contains(out, "/state/tid-1/audit.jsonl") {
		t.Errorf("audit trail not under the receipt:\n%s", out)
	}
}

// TestRailAfterStopAndQRHeading (finding 15): a step left paused by a stop
// is not shown in progress; the QR code keeps the sign-in heading.
func TestRailAfterStopAndQRHeading(t *testing.T) {
	ev := newEnv(t, 3)
	ev.auth.tenantID = "8d2b6a3c-51f4-4e7a-b0c9-2e3f4a5b6c7d" // signs in to the wrong tenant
	h := newHarness(t, ev, steps.Options{AuthMethod: auth.MethodDevice, Tenant: "3f9c8f2e-6d0b-4c1e-9a57-1b2d3c4e5f60"}, Options{})
	h.pump("the device code", func() bool { return h.signInCode() != nil })
	h.key("r")
	mustContain(t, h.view(), "Sign in to the customer's Microsoft 365 tenant", "hide QR")
	if !strings.ContainsAny(h.view(), "▀▄█") {
		t.Fatalf("no QR code:\n%s", h.view())
	}
	h.key("r")
	h.approve()
	h.pump("the stop", h.e.Finished)
	v := h.view()
	rail := strings.Split(v, "\n")[0]
	if h.e.Steps()[0].Status() != steps.StatusPaused || !strings.Contains(rail, "○ Prerequisites") {
		t.Errorf("a paused step of a stopped run: rail %q", rail)
	}
	if strings.Contains(rail, "◐") || strings.Contains(rail, "●") {
		t.Errorf("something is still in progress on the rail of a stopped run: %q\n%s", rail, v)
	}
}
