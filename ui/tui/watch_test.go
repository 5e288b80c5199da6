package tui

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"itdr-onboard/steps"
)

// fakeBatch is a steps.BatchControl over a snapshot the test edits.
type fakeBatch struct {
	mu      sync.Mutex
	snap    steps.BatchSnapshot
	changed chan struct{}
	retried []string
	paused  []bool
	journal map[string][]string
}

func (f *fakeBatch) Snapshot() steps.BatchSnapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.snap
	s.Tenants = append([]steps.BatchTenant(nil), f.snap.Tenants...)
	s.Counts = steps.CountStates(s.Tenants)
	return s
}
func (f *fakeBatch) Changed() <-chan struct{} { return f.changed }
func (f *fakeBatch) Retry(id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.retried = append(f.retried, id)
	if id == "refuse" {
		return errors.New("the tenant's lock is held by another run")
	}
	return nil
}
func (f *fakeBatch) Pause(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.paused = append(f.paused, on)
	f.snap.Paused = on
}
func (f *fakeBatch) Journal(id string) ([]string, error) {
	if j, ok := f.journal[id]; ok {
		return j, nil
	}
	return nil, fmt.Errorf("no journal for %s yet", id)
}

var w0 = time.Date(2026, 9, 1, 10, 0, 0, 0, time.UTC)

// batchFixture is 25 customers in every state, with budgets and an ETA.
func batchFixture() *fakeBatch {
	names := []string{"Contoso Ltd", "Fabrikam Inc", "Northwind Traders", "Adventure Works", "Tailspin Toys",
		"Wide World Importers", "Litware Inc", "Proseware", "Lucerne Publishing", "Margie's Travel",
		"Alpine Ski House", "Coho Winery", "Fourth Coffee", "Graphic Design Institute", "Humongous Insurance",
		"Blue Yonder Airlines", "City Power & Light", "Consolidated Messenger", "Trey Research", "VanArsdel Ltd",
		"Wingtip Toys", "Woodgrove Bank", "School of Fine Art", "Relecloud", hostile}
	states := []steps.TenantState{steps.TenantHealthy, steps.TenantRunning, steps.TenantFailed, steps.TenantHandedOff, steps.TenantPending,
		steps.TenantRunning, steps.TenantWaiting, steps.TenantQueued, steps.TenantHealthy, steps.TenantSkipped}
	steps_ := []string{"Mapping", "Role fixes", "Consent", "Discovery", "Health", "Sign-in", "Role fixes", "", "Health", ""}
	msgs := []string{"healthy after 3 checks", "applying 5 changes", "POST /servicePrincipals: HTTP 403 Authorization_RequestDenied (request id 7f3a)",
		"", "mapped; waiting for the first events (Entra recorded the onboarding)", "fresh token for the customer tenant",
		"platform budget: waiting 0:12 (60/min)", "", "healthy after 1 check", "already connected to Contoso Ltd"}
	b := &fakeBatch{changed: make(chan struct{}, 1), journal: map[string][]string{}}
	b.snap = steps.BatchSnapshot{ID: "b-20260901-1000", Partner: "p-tenant", User: "tech@northwind-msp.example",
		Started: w0, Now: w0.Add(7*time.Minute + 12*time.Second), ETA: w0.Add(19 * time.Minute), Parallel: 4,
		Budgets: []steps.BudgetView{
			{Name: "platform", Used: 41, Limit: 60, Per: time.Minute},
			{Name: "Partner Center", Used: 2, Limit: 50, Per: time.Second},
			{Name: "Graph/tenant RU", Used: 118, Limit: 3500, Per: 10 * time.Second},
			{Name: "Exchange/tenant", Used: 3, Limit: 10, Per: time.Second},
		}}
	for i, n := range names {
		st := states[i%len(states)]
		t := steps.BatchTenant{TenantID: fmt.Sprintf("t%02d", i+1), Name: n, Domain: strings.ToLower(strings.Fields(n)[0]) + ".onmicrosoft.com",
			Lane: "ready", State: st, StepTitle: steps_[i%len(steps_)], Message: msgs[i%len(msgs)], Retries: i % 3 / 2}
		if st != steps.TenantQueued {
			t.Started = w0.Add(time.Duration(i) * 15 * time.Second)
		}
		if st.Final() {
			t.Ended = t.Started.Add(3*time.Minute + time.Duration(i)*time.Second)
		}
		switch st {
		case steps.TenantHandedOff:
			t.Lane = "no-gdap"
			t.HandOff = &steps.HandOff{Reason: "no GDAP relationship with this customer", Who: "customer",
				CustomerAction: "A Global Administrator of the customer approves the GDAP invitation at the link (it names the roles and the duration).",
				Link:           "https://admin.microsoft.com/AdminPortal/Home#/partners/invitation/granularAdminRelationships/5d027261-aaaa-bbbb-cccc-fb1638777b240-8777b240", LinkKind: "gdap-invite"}
			t.Next = "Send the link to the customer; then run itdr-onboard batch resume."
		case steps.TenantFailed:
			t.Next = "Fix the cause, then press r (or run itdr-onboard batch resume)."
			t.ReceiptPath = "/home/tech/.local/state/itdr-onboard/tenants/" + t.TenantID + "/receipt-20260901T100312Z.json"
			t.JournalPath = "/home/tech/.local/state/itdr-onboard/tenants/" + t.TenantID + "/journal.jsonl"
			b.journal[t.TenantID] = []string{
				"10:00:31 intent  consent bootstrap (Partner Center applicationconsents)",
				"10:00:32 applied consent bootstrap (request id 91b2)",
				"10:01:05 intent  create the platform service principal",
				"10:01:06 failed  create the platform service principal: HTTP 403 Authorization_RequestDenied",
			}
		case steps.TenantPending:
			t.Evidence = "Entra recorded the onboarding"
			t.Changes = 7
		}
		if i == 2 {
			t.OrgNote = "best match for Fabrikam Inc"
			t.Org = "Fabrikam"
		}
		b.snap.Tenants = append(b.snap.Tenants, t)
	}
	return b
}

func watchAt(b *fakeBatch, w, h int) *watchModel {
	m := newWatch(b, WatchOptions{Now: func() time.Time { return b.snap.Now }})
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	return m
}

func wkey(m *watchModel, keys ...string) {
	for _, k := range keys {
		var msg tea.KeyPressMsg
		switch k {
		case "enter":
			msg = tea.KeyPressMsg{Code: tea.KeyEnter}
		case "esc":
			msg = tea.KeyPressMsg{Code: tea.KeyEscape}
		case "down":
			msg = tea.KeyPressMsg{Code: tea.KeyDown}
		case "up":
			msg = tea.KeyPressMsg{Code: tea.KeyUp}
		case "end":
			msg = tea.KeyPressMsg{Code: tea.KeyEnd}
		case "backspace":
			msg = tea.KeyPressMsg{Code: tea.KeyBackspace}
		default:
			r := []rune(k)
			msg = tea.KeyPressMsg{Code: r[0], Text: k}
		}
		m.Update(msg)
	}
}

func typeIn(m *watchModel, s string) {
	for _, r := range s {
		wkey(m, string(r))
	}
}

// watchShot checks the frame fits the window and records it.
func watchShot(t *testing.T, m *watchModel, name string) {
	t.Helper()
	frame := m.View().Content
	ls := strings.Split(frame, "\n")
	if len(ls) > m.height {
		t.Errorf("%s: %d lines in a %d-line window", name, len(ls), m.height)
	}
	for _, l := range ls {
		if ansi.StringWidth(l) > m.width {
			t.Errorf("%s: line %d wide in %d: %q", name, ansi.StringWidth(l), m.width, ansi.Strip(l))
		}
		if strings.ContainsRune(ansi.Strip(l), '\x1b') || strings.Contains(l, "]52;") {
			t.Errorf("%s: a control sequence from a tenant name reached the screen: %q", name, l)
		}
	}
	if hw := ansi.StringWidth(m.helpLine()); hw > 60 {
		t.Errorf("%s: the key line is %d columns wide (must fit 60)", name, hw)
	}
	golden(t, fmt.Sprintf("%s-%dx%d", name, m.width, m.height), ansi.Strip(frame))
}

var watchSizes = []struct{ w, h int }{{80, 24}, {120, 30}}

// TestGoldenWatch draws the batch watch at 80×24 and wide: the table with
// the header (counts per state, ETA, budgets), a filter, a failed row opened
// to its journal and receipt, a handed-off row with its link, paused, and
// finished.
func TestGoldenWatch(t *testing.T) {
	for _, sz := range watchSizes {
		t.Run(fmt.Sprintf("%dx%d", sz.w, sz.h), func(t *testing.T) {
			b := batchFixture()
			m := watchAt(b, sz.w, sz.h)
			watchShot(t, m, "watch")
			wkey(m, "/")
			typeIn(m, "state:fail")
			watchShot(t, m, "watch-filter-typing")
			wkey(m, "enter")
			watchShot(t, m, "watch-filtered")
			wkey(m, "enter")
			watchShot(t, m, "watch-open-failed")
			wkey(m, "esc", "esc")
			for m.rows[m.cursor()].State != steps.TenantHandedOff {
				wkey(m, "down")
			}
			wkey(m, "enter")
			watchShot(t, m, "watch-open-handoff")
			wkey(m, "v")
			watchShot(t, m, "watch-handoff-qr")
			if sz.h >= 30 && !strings.Contains(m.render(), "█") {
				t.Errorf("no QR code at %dx%d", sz.w, sz.h)
			}
			wkey(m, "esc")
			wkey(m, "esc", "p")
			watchShot(t, m, "watch-paused")

			f := batchFixture()
			f.snap.Finished = true
			f.snap.Now = w0.Add(31 * time.Minute)
			for i := range f.snap.Tenants {
				tt := &f.snap.Tenants[i]
				if !tt.State.Final() {
					tt.State, tt.Message = steps.TenantHealthy, "healthy after 2 checks"
					if tt.Started.IsZero() {
						tt.Started = w0.Add(10 * time.Minute)
					}
					tt.Ended = tt.Started.Add(4 * time.Minute)
				}
			}
			f.snap.Budgets = []steps.BudgetView{{Name: "platform", Used: 3, Limit: 60, Per: time.Minute}}
			watchShot(t, watchAt(f, sz.w, sz.h), "watch-finished")
		})
	}
}

// TestWatchActions: r retries only a failed or handed-off row (through the
// control), says why not otherwise and shows the control's refusal; p pauses
// and resumes; the cursor stays on its tenant when the snapshot changes.
func TestWatchActions(t *testing.T) {
	t.Parallel()
	b := batchFixture()
	m := watchAt(b, 80, 24)
	// Row 1 (Contoso) is healthy: no retry.
	wkey(m, "r")
	if len(b.retried) != 0 || !strings.Contains(m.notice, "only a failed or handed-off tenant is retried") {
		t.Fatalf("retry of a healthy row: retried %v, notice %q", b.retried, m.notice)
	}
	wkey(m, "down", "down") // Northwind, failed
	if id := m.rows[m.cursor()].TenantID; id != "t03" {
		t.Fatalf("cursor on %s, want t03", id)
	}
	wkey(m, "r")
	if len(b.retried) != 1 || b.retried[0] != "t03" || !strings.Contains(m.notice, "queued again") {
		t.Fatalf("retry of a failed row: %v, notice %q", b.retried, m.notice)
	}
	b.snap.Tenants[3].TenantID = "refuse"
	m.refresh()
	wkey(m, "down", "r")
	if !strings.Contains(m.notice, "lock is held") {
		t.Fatalf("a refused retry is not shown: %q", m.notice)
	}
	wkey(m, "p")
	if len(b.paused) != 1 || !b.paused[0] || !strings.Contains(m.render(), "paused") || !strings.Contains(m.helpLine(), "go on") {
		t.Fatalf("pause: %v\n%s", b.paused, m.render())
	}
	wkey(m, "p")
	if len(b.paused) != 2 || b.paused[1] {
		t.Fatalf("resume: %v", b.paused)
	}
	// A change arrives: a tenant is inserted before the cursor and the
	// failed one recovers; the cursor stays on its tenant.
	cur := m.rows[m.cursor()].TenantID
	b.mu.Lock()
	b.snap.Tenants = append([]steps.BatchTenant{{TenantID: "t00", Name: "Aaron Fitz", State: steps.TenantQueued}}, b.snap.Tenants...)
	b.snap.Tenants[3].State = steps.TenantRunning
	b.mu.Unlock()
	m.Update(batchChangedMsg{})
	if got := m.rows[m.cursor()].TenantID; got != cur {
		t.Fatalf("cursor moved from %s to %s on a change", cur, got)
	}
	if !strings.Contains(m.counts(), "26") && !strings.Contains(m.render(), "26 tenants") {
		t.Fatalf("the header did not pick up the change:\n%s", m.render())
	}
	// The batch ends: the control closes Changed.
	b.snap.Finished = true
	m.Update(batchChangedMsg{closed: true})
	if !m.closed || !strings.Contains(m.render(), "has finished") {
		t.Fatalf("after the end:\n%s", m.render())
	}
}

// TestWatchIdleWhileWaitingForHealth: with every tenant finished or waiting
// for the platform's data, the screen schedules no tick — it redraws only
// when the batch reports a change (bench: idle CPU while waiting for health).
func TestWatchIdleWhileWaitingForHealth(t *testing.T) {
	t.Parallel()
	b := batchFixture()
	m := watchAt(b, 80, 24)
	if m.tick() == nil {
		t.Fatal("running tenants' elapsed times need a tick each second")
	}
	m.tickPending = false
	for i := range b.snap.Tenants {
		tt := &b.snap.Tenants[i]
		if !tt.State.Final() {
			tt.State, tt.Ended = steps.TenantPending, tt.Started.Add(time.Minute)
			if tt.Started.IsZero() {
				tt.Started = w0
			}
		}
	}
	m.refresh()
	if m.tick() != nil {
		t.Fatal("a tick scheduled while every tenant waits for health")
	}
}

// TestWatchFilterWords: the filter matches names, domains, ids, lane:… and
// state:…; esc clears it.
func TestWatchFilterWords(t *testing.T) {
	t.Parallel()
	m := watchAt(batchFixture(), 80, 24)
	for filter, want := range map[string]int{"state:handed": 3, "lane:no-gdap": 3, "toys": 2, "t25": 1, "woodgrove.onmicrosoft": 1, "zzz": 0} {
		wkey(m, "/")
		typeIn(m, filter)
		wkey(m, "enter")
		if len(m.rows) != want {
			t.Errorf("filter %q: %d rows, want %d", filter, len(m.rows), want)
		}
		wkey(m, "esc")
		if len(m.rows) != 25 {
			t.Fatalf("esc left %d rows", len(m.rows))
		}
	}
}

// TestWatchHandOffLink: in an opened hand-off row, c puts exactly the link
// (sanitised) on the clipboard with OSC 52 and says so; v shows the link
// whole with its QR code, or at 80×24 a line saying to widen the terminal;
// both keys are in the key line; a row without a link copies nothing.
func TestWatchHandOffLink(t *testing.T) {
	t.Parallel()
	b := batchFixture()
	const link = "https://login.microsoftonline.com/t04/adminconsent?client_id=7f0c2e4a-1b2c-4d5e-8f90-a1b2c3d4e5f6"
	b.snap.Tenants[3].HandOff.Link = link + "\x1b]52;c;ZXZpbA==\a"
	b.snap.Tenants[3].HandOff.LinkKind = "admin-consent"
	m := watchAt(b, 80, 24)
	wkey(m, "down", "down", "down", "enter")
	if m.open != "t04" {
		t.Fatalf("opened %q, want t04", m.open)
	}
	help := ansi.Strip(m.helpLine())
	if !strings.Contains(help, "c copy link") || !strings.Contains(help, "v QR") {
		t.Fatalf("the key line lacks the copy and QR keys: %q", help)
	}
	cmd := m.key(tea.KeyPressMsg{Code: 'c', Text: "c"})
	if cmd == nil {
		t.Fatal("c returned no command")
	}
	want := san(b.snap.Tenants[3].HandOff.Link)
	if strings.ContainsRune(want, '\x1b') || !strings.HasPrefix(want, link) {
		t.Fatalf("san kept the escape: %q", want)
	}
	if got := fmt.Sprint(cmd()); got != fmt.Sprint(tea.SetClipboard(want)()) {
		t.Fatalf("clipboard command %q, want the link %q", got, want)
	}
	if m.notice != "Copied the admin-consent link to the clipboard." {
		t.Fatalf("notice %q", m.notice)
	}
	wkey(m, "v")
	frame := ansi.Strip(m.render())
	if strings.Contains(frame, "█") || !strings.Contains(frame, "Widen the terminal to at least 80×") {
		t.Fatalf("at 80x24 the QR code must give way to a line saying to widen the terminal:\n%s", frame)
	}
	if !strings.Contains(strings.ReplaceAll(frame, "\n ", ""), want) {
		t.Fatalf("the link is not shown whole:\n%s", frame)
	}
	// The size the line names is enough.
	var w, h int
	if _, err := fmt.Sscanf(frame[strings.Index(frame, "at least ")+len("at least "):], "%d×%d", &w, &h); err != nil {
		t.Fatalf("no size in the line: %v\n%s", err, frame)
	}
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	if frame := ansi.Strip(m.render()); !strings.Contains(frame, "█") {
		t.Fatalf("no QR code at the size the line names, %dx%d:\n%s", w, h, frame)
	}
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 30})
	if frame := ansi.Strip(m.render()); !strings.Contains(frame, "█") {
		t.Fatalf("no QR code at 120x30:\n%s", frame)
	}
	// c works in the QR view too; esc goes back to the row.
	if cmd := m.key(tea.KeyPressMsg{Code: 'c', Text: "c"}); cmd == nil || fmt.Sprint(cmd()) != fmt.Sprint(tea.SetClipboard(want)()) {
		t.Fatal("c in the QR view did not copy the link")
	}
	wkey(m, "esc")
	if m.showQR || m.open != "t04" {
		t.Fatalf("esc from the QR view: showQR %v, open %q", m.showQR, m.open)
	}
	// A failed row has no link: c copies nothing and says so.
	wkey(m, "esc", "up", "enter")
	if m.open != "t03" {
		t.Fatalf("opened %q, want t03", m.open)
	}
	if cmd := m.key(tea.KeyPressMsg{Code: 'c', Text: "c"}); cmd != nil || !strings.Contains(m.notice, "no link") {
		t.Fatalf("c on a row without a link: cmd %v, notice %q", cmd != nil, m.notice)
	}
	if strings.Contains(ansi.Strip(m.helpLine()), "copy link") {
		t.Fatal("the copy key is offered on a row without a link")
	}
}
