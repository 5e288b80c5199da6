package tui

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	qrcode "github.com/skip2/go-qrcode"

	"itdr-onboard/auth"
	"itdr-onboard/checks"
	"itdr-onboard/platform"
	"itdr-onboard/steps"
	"itdr-onboard/ui/theme"
)

type renderFn func(theme.Styles, steps.Snapshot, *steps.Session, int, int, time.Time) string

var sizes = []struct{ w, h int }{{100, 30}, {40, 12}}

// styleSets are the themes every screen is rendered with.
func styleSets() map[string]theme.Styles {
	return map[string]theme.Styles{
		"plain":   theme.Plain(),
		"dark":    theme.New(true, false),
		"light":   theme.New(false, false),
		"nocolor": theme.New(true, true),
	}
}

// checkScreen renders at both sizes with every theme and checks the frame:
// no line wider than the screen, no more lines than the height, nothing of
// the hostile strings' escape sequences, and the wanted texts.
func checkScreen(t *testing.T, name string, fn renderFn, snap steps.Snapshot, s *steps.Session, now time.Time, want func(w, h int) []string) {
	t.Helper()
	for sname, st := range styleSets() {
		for _, sz := range sizes {
			out := fn(st, snap, s, sz.w, sz.h, now)
			plain := ansi.Strip(out)
			for _, bad := range []string{"]52;", "[2J", "\x07"} {
				if strings.Contains(out, bad) {
					t.Errorf("%s/%s %dx%d: hostile sequence %q reached the output:\n%q", name, sname, sz.w, sz.h, bad, out)
				}
			}
			if sname == "plain" && strings.ContainsRune(out, 0x1b) {
				t.Errorf("%s/plain %dx%d: ESC byte in unstyled output:\n%q", name, sz.w, sz.h, out)
			}
			ls := strings.Split(out, "\n")
			if len(ls) > sz.h {
				t.Errorf("%s/%s %dx%d: %d lines", name, sname, sz.w, sz.h, len(ls))
			}
			for _, l := range ls {
				if w := ansi.StringWidth(l); w > sz.w {
					t.Errorf("%s/%s %dx%d: line %d wide: %q", name, sname, sz.w, sz.h, w, ansi.Strip(l))
				}
			}
			if want == nil {
				continue
			}
			for _, w := range want(sz.w, sz.h) {
				if !strings.Contains(plain, w) {
					t.Errorf("%s/%s %dx%d: missing %q in:\n%s", name, sname, sz.w, sz.h, w, plain)
				}
			}
		}
	}
}

func sessionWith() *steps.Session {
	s := steps.NewSession(steps.Options{})
	s.SignedIn = true
	s.Account = auth.Account{Username: "admin@contoso.example", TenantID: "tid-1"}
	s.TenantID = "tid-1"
	s.Org.DisplayName = hostile
	return s
}

func TestRenderPrereqs(t *testing.T) {
	now := t0
	snap := steps.Snapshot{ID: steps.Prereqs, Status: steps.StatusRunning, Line: "checking the tenant",
		Items: []steps.Item{
			{ID: "a", Label: "Platform subscription", Outcome: checks.Pass, Summary: "ITDR subscription active"},
			{ID: "b", Label: hostile, Outcome: checks.Fail, Summary: hostile, Remedy: "Buy a licence " + hostile},
			{ID: "c", Label: "Exchange licence", Running: true},
		}}
	checkScreen(t, "prereqs", renderPrereqs, snap, sessionWith(), now, func(w, h int) []string {
		return []string{"Prerequisites", "Platform subscri", "Evil", "checking"}
	})
	// The remedy of a failed row is under it.
	out := ansi.Strip(renderPrereqs(theme.Plain(), snap, sessionWith(), 100, 30, now))
	if !strings.Contains(out, "Buy a licence Evil") {
		t.Errorf("remedy missing:\n%s", out)
	}
	// A failed step shows its failure and remedy.
	snap.Status = steps.StatusFailed
	snap.Items[2].Running = false
	snap.Fail = &steps.Failure{Kind: steps.FailStopped, Message: "A required prerequisite failed: " + hostile, Remedy: "Fix it\nThen rerun"}
	checkScreen(t, "prereqs-failed", renderPrereqs, snap, sessionWith(), now, func(w, h int) []string {
		if h < 20 {
			return []string{"Prerequisites"}
		}
		return []string{"Stopped", "A required prerequisite failed", "Fix it", "Then rerun"}
	})
}

func deviceSnap(now time.Time, left time.Duration) steps.Snapshot {
	return steps.Snapshot{ID: steps.SignIn, Status: steps.StatusRunning, Line: "waiting",
		Detail: &steps.SignInDetail{Method: auth.MethodDevice, CodesIssued: 2, Notice: "The code expired; here is a new one. " + hostile,
			Code: &auth.DeviceCode{UserCode: "KQ7X7ZP4M", VerificationURL: "https://microsoft.com/devicelogin", ExpiresOn: now.Add(left)}}}
}

func TestRenderSignInDeviceCode(t *testing.T) {
	now := t0
	snap := deviceSnap(now, 14*time.Minute+32*time.Second)
	s := steps.NewSession(steps.Options{})
	checkScreen(t, "signin", renderSignIn, snap, s, now, func(w, h int) []string {
		return []string{"https://microsoft.com/devicelogin", "K Q 7   X 7 Z   P 4 M", "code expires in 14:32"}
	})
	out := ansi.Strip(renderSignIn(theme.New(true, false), snap, s, 100, 30, now))
	if !strings.Contains(out, "The code expired; here is a new one.") {
		t.Errorf("notice missing:\n%s", out)
	}
	// The countdown follows the clock.
	out = ansi.Strip(renderSignIn(theme.Plain(), snap, s, 100, 30, now.Add(32*time.Second)))
	if !strings.Contains(out, "code expires in 14:00") {
		t.Errorf("countdown did not move:\n%s", out)
	}
	// Hostile user code and URL are rendered inert.
	snap.Detail.(*steps.SignInDetail).Code.UserCode = "AB\x1b[2JCD"
	snap.Detail.(*steps.SignInDetail).Code.VerificationURL = "https://x.example/\x1b]52;c;aGk=\x07"
	checkScreen(t, "signin-hostile", renderSignIn, snap, s, now, func(w, h int) []string { return []string{"A B C D"} })
}

func TestRenderSignInBrowserAndStates(t *testing.T) {
	now := t0
	s := steps.NewSession(steps.Options{})
	snap := steps.Snapshot{ID: steps.SignIn, Status: steps.StatusRunning,
		Detail: &steps.SignInDetail{Method: auth.MethodBrowser, Notice: "Switched to browser sign-in.",
			Browser: &auth.BrowserPrompt{URL: "https://login.example/authorize?x=" + strings.Repeat("y", 150) + hostile, Port: 53682, SSHCommand: "ssh -L 53682:localhost:53682 tech@jump"}}}
	checkScreen(t, "signin-browser", renderSignIn, snap, s, now, func(w, h int) []string {
		return []string{"Browser sign-in", "https://login.example/authorize"}
	})
	out := ansi.Strip(renderSignIn(theme.Plain(), snap, s, 100, 30, now))
	for _, w := range []string{"ssh -L 53682:localhost:53682 tech@jump", "Switched to browser sign-in.", "paste it below"} {
		if !strings.Contains(out, w) {
			t.Errorf("missing %q:\n%s", w, out)
		}
	}
	// Every character of the long URL is shown (hard-wrapped).
	joined := strings.ReplaceAll(strings.ReplaceAll(out, "\n ", ""), "\n", "")
	if !strings.Contains(joined, strings.Repeat("y", 150)) {
		t.Errorf("URL not shown whole:\n%s", out)
	}
	// A failed sign-in shows the failure and its remedy.
	fail := steps.Snapshot{ID: steps.SignIn, Status: steps.StatusFailed, Next: []steps.Option{steps.OptRetry, steps.OptUseBrowser},
		Detail: &steps.SignInDetail{Method: auth.MethodDevice},
		Fail:   &steps.Failure{Kind: steps.FailStopped, Message: "Security defaults block device-code sign-in (AADSTS530035).", Remedy: "Use browser sign-in instead."}}
	checkScreen(t, "signin-failed", renderSignIn, fail, s, now, func(w, h int) []string {
		return []string{"Stopped", "AADSTS530035", "browser sign-in"}
	})
	starting := steps.Snapshot{ID: steps.SignIn, Status: steps.StatusRunning, Detail: &steps.SignInDetail{Method: auth.MethodDevice}}
	checkScreen(t, "signin-starting", renderSignIn, starting, s, now, func(w, h int) []string { return []string{"starting sign-in"} })
}

func TestQRBlock(t *testing.T) {
	st := theme.New(true, false)
	qr, ok := qrBlock(st, "https://microsoft.com/devicelogin", 100, 30)
	if !ok {
		t.Fatal("QR did not fit 100x30")
	}
	ls := strings.Split(ansi.Strip(qr), "\n")
	if len(ls) < 10 || len(ls) > 20 {
		t.Errorf("QR has %d lines", len(ls))
	}
	for _, l := range ls {
		if ansi.StringWidth(l) != ansi.StringWidth(ls[0]) {
			t.Errorf("ragged QR line %q", l)
		}
		if strings.Trim(l, "█▀▄ ") != "" {
			t.Errorf("QR line has other characters: %q", l)
		}
	}
	// Decode the half blocks back into modules and compare with the code.
	want, err := qrcode.New("https://microsoft.com/devicelogin", qrcode.Low)
	if err != nil {
		t.Fatal(err)
	}
	want.DisableBorder = true
	bm := want.Bitmap()
	const quiet = 2
	for _, light := range []bool{true, false} {
		st := theme.Plain()
		st.IsDark = light // a dark terminal draws light modules
		qr, _ := qrBlock(st, "https://microsoft.com/devicelogin", 100, 30)
		for y, l := range strings.Split(qr, "\n") {
			for x, r := range []rune(l) {
				top, bot := r == '█' || r == '▀', r == '█' || r == '▄'
				for i, filled := range []bool{top, bot} {
					my, mx := 2*y+i-quiet, x-quiet
					dark := my >= 0 && mx >= 0 && my < len(bm) && mx < len(bm) && bm[my][mx]
					if 2*y+i >= len(bm)+2*quiet {
						continue
					}
					if filled != (dark != st.IsDark) {
						t.Fatalf("isDark=%v: module (%d,%d) filled=%v dark=%v", st.IsDark, mx, my, filled, dark)
					}
				}
			}
		}
	}
	if _, ok := qrBlock(st, "https://microsoft.com/devicelogin", 40, 12); ok {
		t.Error("QR claimed to fit 40x12")
	}
}

func TestRenderRoles(t *testing.T) {
	now := t0
	s := sessionWith()
	plan := append([]checks.Change{}, roleChanges...)
	plan = append(plan, checks.Change{ID: "h", CheckID: "x", Summary: "Rename " + hostile, Call: "Set-Thing " + hostile})
	items := []steps.Item{{ID: "exo.role-group", Label: "Exchange role group", Outcome: checks.Fail, Summary: "Organization Management lacks 1 role", Remedy: "apply the plan"}}
	asking := steps.Snapshot{ID: steps.Roles, Status: steps.StatusWaiting, Line: "3 changes planned", Items: items, Detail: &steps.PlanDetail{Plan: plan}}
	checkScreen(t, "roles-plan", renderRoles, asking, s, now, func(w, h int) []string {
		if h < 20 {
			// Small screens: the plan (not the check rows) comes first.
			return []string{"Role fixes", "Plan: 3 changes", "Add role \"Audit Logs\" to"}
		}
		return []string{"Plan: 3 changes", "Add role \"Audit Logs\" to Organization Management",
			"New-ManagementRoleAssignment -Role \"Audit Logs\"", "Microsoft Entra PIM may raise an alert", "Rename Evil"}
	})
	applying := steps.Snapshot{ID: steps.Roles, Status: steps.StatusRunning, Line: "applying 2 of 3", Items: items,
		Detail: &steps.PlanDetail{Plan: plan, Applied: []checks.Applied{{Change: plan[0]}}, Applying: plan[1].ID}}
	out := ansi.Strip(renderRoles(theme.Plain(), applying, s, 100, 30, now))
	if !strings.Contains(out, "+ Add role \"Audit Logs\"") || !strings.Contains(out, "3. Rename") || !strings.Contains(out, "applying 2 of 3") {
		t.Errorf("applying progress wrong:\n%s", out)
	}
	s.ReceiptPath = "/var/lib/itdr/tid-1/receipt.json"
	done := steps.Snapshot{ID: steps.Roles, Status: steps.StatusDone, Line: "3 changes applied and verified", Items: items,
		Detail: &steps.PlanDetail{Plan: plan, Applied: []checks.Applied{{Change: plan[0]}, {Change: plan[1], NoOp: true}}, Declined: []checks.Change{plan[2]}}}
	checkScreen(t, "roles-done", renderRoles, done, s, now, func(w, h int) []string {
		if h < 20 {
			return []string{"Role fixes"}
		}
		return []string{"Receipt: /var/lib/itdr/tid-1/receipt.json", "(already in place)", "(declined)", "applied and verified"}
	})
}

func TestRenderMapping(t *testing.T) {
	now := t0
	s := sessionWith()
	org := platform.Organization{ID: "o1", Name: hostile}
	waiting := steps.Snapshot{ID: steps.Mapping, Status: steps.StatusRunning,
		Detail: &steps.MappingDetail{Phase: "waiting", Attempts: 3, Chosen: &org, RetryAt: now.Add(27 * time.Second),
			Reason: "AADSTS650051: an earlier copy of the platform's service principal is still being deleted."}}
	checkScreen(t, "mapping-wait", renderMapping, waiting, s, now, func(w, h int) []string {
		return []string{"Retrying consent in 0:27", "AADSTS650051", "Evil"}
	})
	consent := steps.Snapshot{ID: steps.Mapping, Status: steps.StatusRunning,
		Detail: &steps.MappingDetail{Phase: "consent", Attempts: 2, Chosen: &org, Reason: "trying once more"}}
	checkScreen(t, "mapping-consent", renderMapping, consent, s, now, func(w, h int) []string {
		return []string{"Granting", "attempt 2"}
	})
	handoff := steps.Snapshot{ID: steps.Mapping, Status: steps.StatusRunning,
		Detail: &steps.MappingDetail{Phase: "handoff", Chosen: &org, ConsentURL: "https://login.microsoftonline.com/tid-1/adminconsent?client_id=platform-app" + hostile,
			HandoffNote: "Consent not granted yet " + hostile}}
	checkScreen(t, "mapping-handoff", renderMapping, handoff, s, now, func(w, h int) []string {
		return []string{"Waiting for a Global Administrator", "adminconsent"}
	})
	// After the hand-off the permissions are held through the
	// administrator's consent, not "already granted".
	handedOff := &steps.MappingDetail{Phase: "mapping", Chosen: &org, ConsentURL: "https://login.microsoftonline.com/tid-1/adminconsent",
		Consent: &steps.ConsentResult{AlreadyGranted: []string{"Microsoft Graph: AuditLog.Read.All", "Microsoft Graph: Directory.Read.All"}}}
	out := ansi.Strip(renderMapping(theme.Plain(), steps.Snapshot{ID: steps.Mapping, Status: steps.StatusRunning, Detail: handedOff}, s, 100, 30, now))
	if !strings.Contains(out, "Consent: 2 permissions held after the admin consent") || strings.Contains(out, "already granted") {
		t.Errorf("hand-off consent worded as already granted:\n%s", out)
	}
	if f := stepFacts(steps.Snapshot{ID: steps.Mapping, Status: steps.StatusDone, Detail: handedOff}, s, false); !strings.Contains(f, "2 held after the admin consent") {
		t.Errorf("journal line %q", f)
	}
	roles := steps.Snapshot{ID: steps.Mapping, Status: steps.StatusRunning, Detail: &steps.MappingDetail{Phase: "roles", Chosen: &org}}
	checkScreen(t, "mapping-roles", renderMapping, roles, s, now, func(w, h int) []string {
		return []string{"Assigning the platform's directory", "roles"}
	})
	failed := steps.Snapshot{ID: steps.Mapping, Status: steps.StatusFailed, Detail: &steps.MappingDetail{Phase: "consent"},
		Fail: &steps.Failure{Kind: steps.FailError, Message: "AADSTS650051: the platform's app asks for " + hostile, Remedy: "Report this"}}
	checkScreen(t, "mapping-failed", renderMapping, failed, s, now, func(w, h int) []string {
		return []string{"Failed", "AADSTS650051", "Report this"}
	})
}

func TestRenderHealth(t *testing.T) {
	now := t0.Add(10 * time.Minute)
	s := sessionWith()
	eta := now.Add(42 * time.Minute)
	snap := steps.Snapshot{ID: steps.Health, Status: steps.StatusRunning, Line: "integration unhealthy",
		Detail: &steps.HealthDetail{
			Integration: platform.Integration{Status: platform.StatusUnhealthy, ReasonCode: "audit_log_disabled", Reason: hostile, ExpectedFirstDataAt: &eta},
			Started:     now.Add(-3 * time.Minute), Last: now.Add(-5 * time.Second), NextIn: 30 * time.Second, Probes: 4,
			Remedy: steps.RemedyFor("audit_log_disabled"), LastErr: errors.New("boom " + hostile)}}
	// One time format (issue 18): local clock, then the relative time.
	clk := func(at time.Time) string { return at.Local().Format("15:04") }
	since := "Waiting since " + clk(now.Add(-3*time.Minute)) + " (3 min ago)"
	nextAt := clk(now.Add(25*time.Second)) + " (in under 1 min)"
	checkScreen(t, "health", renderHealth, snap, s, now, func(w, h int) []string {
		if h < 20 {
			return []string{"unhealthy", since, "ext check " + nextAt}
		}
		return []string{"unhealthy", since, "next check " + nextAt, clk(eta) + " (in 42 min)", "up to 24 hours",
			"Reason: Evil", "Set-AdminAuditLogConfig", "Last check failed: boom Evil", "d detach: stop watching now", "q quit: stop at once (exit 130)"}
	})
	// Nothing counts seconds: ten seconds later the screen is the same.
	plain := func(at time.Time) string { return ansi.Strip(renderHealth(theme.Plain(), snap, s, 100, 30, at)) }
	if a, b := plain(now), plain(now.Add(10*time.Second)); a != b {
		t.Errorf("the screen moved within ten seconds:\n%s\n---\n%s", a, b)
	}
	// The due check, the next minute and the ETA follow the clock.
	if out := plain(now.Add(25 * time.Second)); !strings.Contains(out, "checking now") {
		t.Errorf("due check not shown:\n%s", out)
	}
	if out := plain(now.Add(time.Minute)); !strings.Contains(out, "(4 min ago)") || !strings.Contains(out, "(in 41 min)") {
		t.Errorf("minute not followed:\n%s", out)
	}
	// Once the step is over the elapsed time stops.
	done := snap
	done.Status = steps.StatusFailed
	done.Fail = &steps.Failure{Kind: steps.FailPending, Message: "Detached"}
	if out := ansi.Strip(renderHealth(theme.Plain(), done, s, 100, 30, now.Add(time.Hour))); !strings.Contains(out, "Last check "+clk(now.Add(-5*time.Second))+" (") || !strings.Contains(out, "; 4 checks") ||
		strings.Contains(out, "next check") || strings.Contains(out, "(in ") || strings.Contains(out, "d detach") {
		t.Errorf("final health screen:\n%s", out)
	}
	// At 40x12 what to do next stays on screen, under the status.
	small := ansi.Strip(renderHealth(theme.Plain(), done, s, 40, 8, now))
	if !strings.Contains(small, "Not healthy yet") || !strings.Contains(small, "Detached") || !strings.Contains(small, "Integration: x unhealthy") {
		t.Errorf("small final health screen:\n%s", small)
	}
	if w := healthWake(done, now); !w.IsZero() {
		t.Errorf("a finished health step wakes at %v", w)
	}
}

// TestHealthWakeCoversEveryChange walks the health wait for 20 minutes in
// quarter seconds: the screen changes only at the wakes healthWake
// schedules (no change is missed), and they come about once a minute plus
// the due check, never every second.
func TestHealthWakeCoversEveryChange(t *testing.T) {
	now := t0.Add(10 * time.Minute)
	s := sessionWith()
	eta := now.Add(42*time.Minute + 17*time.Second)
	for _, name := range []string{"probe due", "probe in flight", "no ETA"} {
		d := &steps.HealthDetail{
			Integration: platform.Integration{Status: platform.StatusPending, ReasonCode: "waiting_for_first_data", ExpectedFirstDataAt: &eta,
				// The platform's own text names the time too: rewritten
				// as "15:04 (in N min)", it follows the clock.
				Reason: "Mapped; first data expected by " + eta.UTC().Format(time.RFC3339Nano) + "."},
			Started: now.Add(-3*time.Minute - 20*time.Second), Last: now.Add(-5 * time.Second), NextIn: 40 * time.Second, Probes: 4}
		switch name {
		case "probe in flight":
			d.Last = now.Add(-time.Minute)
		case "no ETA":
			d.Integration.ExpectedFirstDataAt = nil
		}
		snap := steps.Snapshot{ID: steps.Health, Status: steps.StatusRunning, Detail: d}
		render := func(at time.Time) string { return renderHealth(theme.New(true, false), snap, s, 100, 30, at) }
		wake := healthWake(snap, now)
		prev, wakes, changes := render(now), 0, 0
		for at := now.Add(250 * time.Millisecond); at.Before(now.Add(20 * time.Minute)); at = at.Add(250 * time.Millisecond) {
			woke := false
			for !wake.IsZero() && !wake.After(at) {
				next := healthWake(snap, wake)
				if !next.After(wake) {
					t.Fatalf("%s: wake %v is not after %v", name, next, wake)
				}
				if next.Sub(wake) < time.Second {
					t.Errorf("%s: wakes %v and %v less than a second apart", name, wake, next)
				}
				wake, woke = next, true
				wakes++
			}
			cur := render(at)
			if cur != prev {
				changes++
				if !woke {
					t.Fatalf("%s: the screen changed at +%s without a wake:\n%s\n---\n%s", name, at.Sub(now), ansi.Strip(prev), ansi.Strip(cur))
				}
			}
			prev = cur
		}
		// 20 minutes: 20 minute marks (the ETA's marks fall 17 s off the
		// elapsed ones: 20 more) and at most one due check.
		if wakes > 41 || changes > wakes || changes < 20 {
			t.Errorf("%s: %d wakes and %d screen changes in 20 minutes", name, wakes, changes)
		}
	}
}

func TestRenderDone(t *testing.T) {
	s := sessionWith()
	s.Outcome = "healthy"
	s.Organization = platform.Organization{ID: "o1", Name: "Contoso Ltd"}
	s.Applied = []checks.Applied{{Change: roleChanges[0]}, {Change: checks.Change{Summary: hostile}}}
	s.ReceiptPath = "/state/tid-1/receipt.json"
	s.Billable, s.MFARegistered, s.MFATotal, s.HaveSummary = 42, 30, 40, true
	checkScreen(t, "done", renderDone, steps.Snapshot{}, s, t0, func(w, h int) []string {
		if h < 20 {
			return []string{"Healthy", "Tenant", "Evil"}
		}
		return []string{"Healthy", "Contoso Ltd", "Changes made", "Add role \"Audit Logs\"", "/state/tid-1/receipt.json",
			"Billable identities", "42", "30 of 40 users (75%)"}
	})
	// The changes are listed in plan order, not in the order they finished.
	s.Plan = roleChanges
	s.Applied = []checks.Applied{{Change: checks.Change{ID: "mapping/create", Order: 50, Summary: "Map the tenant to Contoso Ltd"}},
		{Change: roleChanges[1]}, {Change: roleChanges[0]}}
	out := ansi.Strip(renderDone(theme.Plain(), steps.Snapshot{}, s, 100, 30, t0))
	a, b, m := strings.Index(out, "Audit Logs"), strings.Index(out, "Security Reader"), strings.Index(out, "Map the tenant")
	if a < 0 || b < 0 || m < 0 || !(a < b && b < m) {
		t.Errorf("changes not in plan order (Audit Logs, Security Reader, the mapping):\n%s", out)
	}
	// Rounded to the nearest; 100% only when every user is covered.
	for _, c := range []struct {
		n, total int
		want     string
	}{{2, 3, "2 of 3 users (67%)"}, {999, 1000, "999 of 1000 users (99%)"}, {1, 1000, "1 of 1000 users (1%)"}, {3, 3, "3 of 3 users (100%)"}} {
		s.MFARegistered, s.MFATotal = c.n, c.total
		if out := ansi.Strip(renderDone(theme.Plain(), steps.Snapshot{}, s, 100, 30, t0)); !strings.Contains(out, c.want) {
			t.Errorf("MFA %d of %d: want %q:\n%s", c.n, c.total, c.want, out)
		}
	}
	s.MFATotal = -1
	out = ansi.Strip(renderDone(theme.Plain(), steps.Snapshot{}, s, 100, 30, t0))
	if !strings.Contains(out, "not available") {
		t.Errorf("MFA unavailable not said:\n%s", out)
	}
	s.Outcome = "dry-run"
	s.Plan = roleChanges
	out = ansi.Strip(renderDone(theme.Plain(), steps.Snapshot{}, s, 100, 30, t0))
	if !strings.Contains(out, "Dry run") || !strings.Contains(out, "New-ManagementRoleAssignment") {
		t.Errorf("dry run wrong:\n%s", out)
	}
}

func TestSpacedCode(t *testing.T) {
	for in, want := range map[string]string{
		"KQ7X7ZP4M": "K Q 7   X 7 Z   P 4 M",
		"3742-5GDV": "3 7 4 2  -  5 G D V",
		"ABCD1234":  "A B C D   1 2 3 4",
		"AB\x07C":   "A B C",
	} {
		if got := spacedCode(in); got != want {
			t.Errorf("spacedCode(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCountdownAndHuman(t *testing.T) {
	cases := map[time.Duration]string{0: "0:00", -time.Second: "0:00", 500 * time.Millisecond: "0:01", 90 * time.Second: "1:30", 2*time.Hour + 5*time.Second: "2:00:05"}
	for d, want := range cases {
		if got := countdown(d); got != want {
			t.Errorf("countdown(%s) = %q, want %q", d, got, want)
		}
	}
	if got := human(3*time.Minute + 5*time.Second); got != "3m 05s" {
		t.Errorf("human = %q", got)
	}
}

// TestWrapFitsWidth: a wrapped line never keeps the space it broke at (it
// would be one column too wide and cut with an ellipsis).
func TestWrapFitsWidth(t *testing.T) {
	s := "Check later with: itdr-onboard status --tenant 3f9c8f2e-6d0b-4c1e-9a57-1b2d3c4e5f60 (data can take up to 24 hours to arrive)."
	for _, w := range []int{20, 37, 40, 60} {
		for _, l := range wrap(s, w) {
			if ansi.StringWidth(l) > w || strings.HasSuffix(l, " ") {
				t.Errorf("width %d: %q", w, l)
			}
		}
	}
	if got := wrap("Check later with: itdr-onboard status --tenant", 37); got[0] != "Check later with: itdr-onboard status" {
		t.Errorf("wrap = %q", got)
	}
}

// A time inside the platform's parenthesised reason is written without
// nesting brackets; outside them the relative part stays in brackets.
func TestClockTimesDoNotNestBrackets(t *testing.T) {
	at := t0.Add(4 * time.Minute)
	c := at.Local().Format("15:04")
	for _, tc := range []struct{ in, want string }{
		{"Mapped; waiting for the first audit data (expected by " + at.Format(time.RFC3339) + ", can take up to 24 hours).",
			"Mapped; waiting for the first audit data (expected by " + c + ", in 4 min, can take up to 24 hours)."},
		{"first data expected by " + at.Format(time.RFC3339) + ".", "first data expected by " + c + " (in 4 min)."},
		{"(x) then " + at.Format(time.RFC3339), "(x) then " + c + " (in 4 min)"},
	} {
		if got := clockTimes(tc.in, t0); got != tc.want {
			t.Errorf("clockTimes(%q)\n = %q\nwant %q", tc.in, got, tc.want)
		}
	}
}
