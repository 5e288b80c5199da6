package batch

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"itdr-onboard/partner"
	"itdr-onboard/platform"
	"itdr-onboard/steps"
)

type fakeHealth struct {
	mu    sync.Mutex
	calls int
	ints  map[string]string // tenant → status
}

func (f *fakeHealth) HealthChanges(ctx context.Context) ([]platform.Integration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	var out []platform.Integration
	for tid, st := range f.ints {
		out = append(out, platform.Integration{ID: "int_" + tid, TenantID: tid, Status: st})
	}
	return out, nil
}

func (f *fakeHealth) set(tid, st string) {
	f.mu.Lock()
	f.ints[tid] = st
	f.mu.Unlock()
}

func testManifest(lanes ...partner.Lane) *Manifest {
	m := &Manifest{Version: 1, ID: "20260301-100000-abcd", Created: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), User: "tech@msp.example", Partner: "p",
		Options: Options{Parallel: 3, HealthPoll: time.Millisecond, HealthWait: 5 * time.Second}}
	for i, l := range lanes {
		id := "t" + string(rune('a'+i))
		row := partner.Row{TenantID: id, Name: "Customer " + id, Lane: l}
		if l == partner.LaneNoGDAP && i%2 == 0 {
			row.InviteURL = partner.InviteURL("rel-" + id)
		}
		m.Tenants = append(m.Tenants, Tenant{TenantID: id, Name: row.Name, Lane: l, OrgID: "org_" + id, Org: "Customer " + id, Row: row})
	}
	return m
}

// A batch runs each runnable tenant once, hands off and skips the others
// without running them, watches health with one request per interval and
// records every tenant's outcome.
func TestBatchOutcomesPerLaneAndRecord(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	m := testManifest(partner.LaneReady, partner.LaneReady, partner.LaneNoGDAP, partner.LaneNotAssigned, partner.LaneConnected,
		partner.LaneConflict, partner.LaneReady, partner.LanePartial, partner.LaneReady, partner.LaneNoGDAP)
	m.Tenants[8].OrgID = "" // no organization matched
	if _, err := SaveManifest(dir, m); err != nil {
		t.Fatal(err)
	}
	h := &fakeHealth{ints: map[string]string{}}
	var mu sync.Mutex
	runs := map[string]int{}
	runner := RunnerFunc(func(ctx context.Context, tn Tenant, sink func(steps.BatchEvent)) Result {
		mu.Lock()
		runs[tn.TenantID]++
		mu.Unlock()
		sink(steps.BatchEvent{Step: "mapping", Type: "step_started", Fields: map[string]any{"title": "Mapping"}})
		if tn.TenantID == "tg" {
			return Result{State: steps.TenantHandedOff, Lane: partner.LaneCABlocked}
		}
		if tn.TenantID == "tb" {
			return Result{State: steps.TenantFailed, Message: "boom", Next: "retry"}
		}
		h.set(tn.TenantID, platform.StatusHealthy)
		return Result{State: steps.TenantPending, IntegrationID: "int_" + tn.TenantID, ReceiptPath: "/r/" + tn.TenantID, Changes: 3}
	})
	var evMu sync.Mutex
	var events []steps.BatchEvent
	b := New(Config{StateDir: dir, Manifest: m, Runner: runner, Health: h, ConsentURL: "https://login.example/{tenant}/adminconsent?client_id=x",
		OnEvent: func(ev steps.BatchEvent) { evMu.Lock(); events = append(events, ev); evMu.Unlock() }})
	snap, err := b.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]steps.TenantState{"ta": steps.TenantHealthy, "tb": steps.TenantFailed, "tc": steps.TenantHandedOff, "td": steps.TenantHandedOff,
		"te": steps.TenantSkipped, "tf": steps.TenantSkipped, "tg": steps.TenantHandedOff, "th": steps.TenantHandedOff, "ti": steps.TenantFailed, "tj": steps.TenantHandedOff}
	for _, r := range snap.Tenants {
		if r.State != want[r.TenantID] {
			t.Errorf("%s (%s): %s, want %s (%s)", r.TenantID, r.Lane, r.State, want[r.TenantID], r.Message)
		}
		if r.State == steps.TenantHandedOff && (r.HandOff == nil || r.HandOff.Reason == "" || r.HandOff.CustomerAction == "" || r.HandOff.Link == "") {
			t.Errorf("%s handed off without reason, action and link: %+v", r.TenantID, r.HandOff)
		}
	}
	if snap.Tenants[6].Lane != string(partner.LaneCABlocked) || !strings.Contains(snap.Tenants[6].HandOff.CustomerAction, "Service provider users") {
		t.Errorf("ca-blocked hand-off: %+v", snap.Tenants[6])
	}
	if snap.Tenants[2].HandOff.LinkKind != "gdap-invite" || snap.Tenants[9].HandOff.LinkKind != "admin-consent" || snap.Tenants[3].HandOff.Who != "partner" {
		t.Errorf("hand-off links: %+v / %+v / %+v", snap.Tenants[2].HandOff, snap.Tenants[9].HandOff, snap.Tenants[3].HandOff)
	}
	for id, n := range runs {
		if n != 1 {
			t.Errorf("%s ran %d times", id, n)
		}
	}
	for _, id := range []string{"tc", "td", "te", "tf", "th", "ti", "tj"} {
		if runs[id] != 0 {
			t.Errorf("%s (not runnable) ran", id)
		}
	}
	if !snap.Finished || ExitCode(snap) != ExitFailed {
		t.Fatalf("finished %v exit %d", snap.Finished, ExitCode(snap))
	}
	// The record: progress, receipt naming every tenant, hand-off files.
	p, err := LoadProgress(dir, m.ID)
	if err != nil || !p.Finished || len(p.Tenants) != 10 || p.Tenants["ta"].State != steps.TenantHealthy || p.Tenants["ta"].IntegrationID != "int_ta" {
		t.Fatalf("progress %+v %v", p, err)
	}
	rc, err := os.ReadFile(filepath.Join(Dir(dir, m.ID), ReceiptFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"ta", "tb", "tc", "td", "te", "tf", "tg", "th", "ti", "tj"} {
		if !strings.Contains(string(rc), `"tenant_id": "`+id+`"`) {
			t.Fatalf("the batch receipt does not name %s", id)
		}
	}
	md, _ := os.ReadFile(filepath.Join(Dir(dir, m.ID), HandoffMD))
	csvb, _ := os.ReadFile(filepath.Join(Dir(dir, m.ID), HandoffCSV))
	if !strings.Contains(string(md), "## Customer tc (tc)") || strings.Count(string(csvb), "\n") != 1+5 {
		t.Fatalf("hand-off files:\n%s\n%s", md, csvb)
	}
	// Events: every tenant event is tagged with its tenant.
	tagged := 0
	for _, ev := range events {
		if ev.Type == "step_started" {
			if ev.TenantID == "" || ev.Tenant == "" {
				t.Fatalf("untagged tenant event %+v", ev)
			}
			tagged++
		}
	}
	if tagged != 3 {
		t.Fatalf("%d step events, want 3 (one per tenant run)", tagged)
	}
}

// Cancelled mid-batch (ctrl+c) and resumed: tenants done stay done, the
// others run, every runnable tenant reaches its end exactly once.
func TestBatchInterruptAndResume(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var lanes []partner.Lane
	for i := 0; i < 8; i++ {
		lanes = append(lanes, partner.LaneReady)
	}
	m := testManifest(lanes...)
	m.Options.Parallel = 2
	if _, err := SaveManifest(dir, m); err != nil {
		t.Fatal(err)
	}
	h := &fakeHealth{ints: map[string]string{}}
	var mu sync.Mutex
	completed := map[string]int{}
	ctx, cancel := context.WithCancel(context.Background())
	block := make(chan struct{})
	runner := RunnerFunc(func(ctx context.Context, tn Tenant, sink func(steps.BatchEvent)) Result {
		mu.Lock()
		n := len(completed)
		mu.Unlock()
		if n >= 3 {
			cancel()
			<-ctx.Done()
			return Result{Interrupted: true}
		}
		mu.Lock()
		completed[tn.TenantID]++
		mu.Unlock()
		h.set(tn.TenantID, platform.StatusPending)
		return Result{State: steps.TenantPending}
	})
	b := New(Config{StateDir: dir, Manifest: m, Runner: runner, Health: h})
	snap, err := b.Run(ctx)
	close(block)
	if err == nil || snap.Finished || ExitCode(snap) != ExitInterrupted {
		t.Fatalf("interrupted run: err %v finished %v", err, snap.Finished)
	}
	p, _ := LoadProgress(dir, m.ID)
	if p.Finished {
		t.Fatal("progress says finished")
	}
	// Resume with a fresh runner: done tenants are not run again.
	m2, err := LoadManifest(dir, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	again := map[string]int{}
	runner2 := RunnerFunc(func(ctx context.Context, tn Tenant, sink func(steps.BatchEvent)) Result {
		mu.Lock()
		again[tn.TenantID]++
		mu.Unlock()
		h.set(tn.TenantID, platform.StatusHealthy)
		return Result{State: steps.TenantPending}
	})
	for tid := range completed {
		h.set(tid, platform.StatusHealthy)
	}
	snap2, err := New(Config{StateDir: dir, Manifest: m2, Progress: p, Runner: runner2, Health: h}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for tid := range completed {
		if again[tid] != 0 {
			t.Errorf("%s was done and ran again", tid)
		}
	}
	if len(again)+len(completed) != 8 {
		t.Fatalf("first run %d + resume %d tenants, want 8", len(completed), len(again))
	}
	if snap2.Count(steps.TenantHealthy) != 8 || ExitCode(snap2) != ExitAllDone {
		t.Fatalf("after resume: %v", snap2.Counts)
	}
	p2, _ := LoadProgress(dir, m.ID)
	if !p2.Finished || p2.Runs != 2 {
		t.Fatalf("progress after resume: finished %v runs %d", p2.Finished, p2.Runs)
	}
}

func TestMatchOrganizations(t *testing.T) {
	t.Parallel()
	orgs := []platform.Organization{{ID: "org_1", Name: "Contoso Ltd"}, {ID: "org_2", Name: "Fabrikam"}, {ID: "org_3", Name: "Northwind Traders"}}
	om, err := ParseOrgMap(strings.NewReader("tenant,organization\nwoodgrove.onmicrosoft.com,org_2\n"), "map.csv")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		row     partner.Row
		id, src string
		note    bool
	}{
		{partner.Row{TenantID: "a", Name: "contoso ltd"}, "org_1", "exact", false},
		{partner.Row{TenantID: "b", Name: "Contoso Limited"}, "org_1", "best-match", true},
		{partner.Row{TenantID: "c", Name: "Woodgrove", Domain: "woodgrove.onmicrosoft.com"}, "org_2", "org-map", false},
		{partner.Row{TenantID: "d", Name: "Zebra Quokka"}, "", "none", true},
	}
	for _, c := range cases {
		got, err := Match(c.row, orgs, om)
		if err != nil || got.OrgID != c.id || got.OrgSource != c.src || (got.OrgNote != "") != c.note {
			t.Errorf("%s: %+v %v", c.row.Name, got, err)
		}
	}
	if _, err := Match(partner.Row{TenantID: "x", Domain: "woodgrove.onmicrosoft.com"}, orgs[:1], om); err == nil || !strings.Contains(err.Error(), "org_2") {
		t.Fatalf("an --org-map entry naming no organization: %v", err)
	}
	if _, err := ParseOrgMap(strings.NewReader("just-one-field\n"), "m.csv"); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("bad org map: %v", err)
	}
}

func TestSelectTenants(t *testing.T) {
	t.Parallel()
	rows := []partner.Row{{TenantID: "a1", Domain: "a.example", Lane: partner.LaneReady}, {TenantID: "b2", Domain: "b.example", Lane: partner.LaneNoGDAP}, {TenantID: "c3", Lane: partner.LaneReady}}
	ids, err := ParseTenants(strings.NewReader("# mine\ntenant\nB.example\n\nc3,extra\n"), "f")
	if err != nil {
		t.Fatal(err)
	}
	got, err := Select(rows, Selection{Tenants: ids})
	if err != nil || len(got) != 2 || got[0].TenantID != "b2" || got[1].TenantID != "c3" {
		t.Fatalf("by file: %+v %v", got, err)
	}
	if got, _ := Select(rows, Selection{AllReady: true}); len(got) != 2 || got[1].TenantID != "c3" {
		t.Fatalf("all ready: %+v", got)
	}
	if _, err := Select(rows, Selection{Tenants: []string{"nope.example"}}); err == nil || !strings.Contains(err.Error(), "nope.example") {
		t.Fatalf("unknown tenant: %v", err)
	}
	if _, err := ParseTenants(strings.NewReader("# nothing\n"), "f"); err == nil {
		t.Fatal("an empty tenants file is accepted")
	}
}

// Settling tenants within --settle-wait are waited for, after the ready
// ones (a worker waiting does not hold up a ready tenant).
func TestBatchSettlingQueuedLastAndWaited(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	m := testManifest(partner.LaneSettling, partner.LaneReady, partner.LaneSettling)
	m.Options.Parallel = 1
	m.Options.SettleWait = time.Minute
	now := time.Now()
	soon, later := now.Add(30*time.Millisecond), now.Add(2*time.Hour)
	m.Tenants[0].Row.ReadyAt = &soon
	m.Tenants[2].Row.ReadyAt = &later
	var mu sync.Mutex
	var order []string
	var started []time.Time
	b := New(Config{StateDir: dir, Manifest: m, Runner: RunnerFunc(func(ctx context.Context, tn Tenant, sink func(steps.BatchEvent)) Result {
		mu.Lock()
		order = append(order, tn.TenantID)
		started = append(started, time.Now())
		mu.Unlock()
		return Result{State: steps.TenantPending}
	})})
	snap, err := b.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(order, ",") != "tb,ta" {
		t.Fatalf("run order %v, want the ready tenant first, then the settling one", order)
	}
	if started[1].Before(soon) {
		t.Fatalf("the settling tenant started at %v, before its ready-at %v", started[1], soon)
	}
	if r, _ := snap.Tenant("tc"); r.State != steps.TenantSkipped || !strings.Contains(r.Next, "batch resume") {
		t.Fatalf("a tenant ready beyond --settle-wait: %+v", r)
	}
}

// The health wait is bounded (--health-wait): a tenant still pending at its
// end keeps the evidence rung its flow reached, says how long health was
// watched, and names `batch status` (this batch) as its next action; a
// settling tenant ready beyond --settle-wait is left for `batch resume` of
// this batch (a finished batch is resumed by id only).
func TestBatchEndsWithTheTruthAboutPendingAndSettlingTenants(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	m := testManifest(partner.LaneReady, partner.LaneReady, partner.LaneSettling)
	m.Options.HealthWait, m.Options.SettleWait = 30*time.Millisecond, time.Minute
	later := time.Now().Add(time.Hour)
	m.Tenants[2].Row.ReadyAt = &later
	if _, err := SaveManifest(dir, m); err != nil {
		t.Fatal(err)
	}
	h := &fakeHealth{ints: map[string]string{}}
	runner := RunnerFunc(func(ctx context.Context, tn Tenant, sink func(steps.BatchEvent)) Result {
		st := platform.StatusPending
		if tn.TenantID == "ta" {
			st = platform.StatusHealthy
		}
		h.set(tn.TenantID, st)
		return Result{State: steps.TenantPending, Evidence: "2 Audit pipeline on", Message: "mapped; waiting for the first audit data"}
	})
	snap, err := New(Config{StateDir: dir, Manifest: m, Runner: runner, Health: h}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]steps.BatchTenant{}
	for _, r := range snap.Tenants {
		byID[r.TenantID] = r
	}
	if a := byID["ta"]; a.State != steps.TenantHealthy || a.Next != "" {
		t.Errorf("healthy tenant: %+v", a)
	}
	b := byID["tb"]
	if b.State != steps.TenantPending || b.Evidence != "2 Audit pipeline on" || b.Next != PendingNext(m.ID) ||
		!strings.Contains(b.Next, "batch status --batch "+m.ID) || b.Message != "mapped; no audit data yet after watching health for 30ms" {
		t.Errorf("pending at the end: %+v", b)
	}
	c := byID["tc"]
	if c.State != steps.TenantSkipped || !strings.Contains(c.Next, "`itdr-onboard batch resume --batch "+m.ID+"` after ") || !strings.Contains(c.Next, "beyond --settle-wait 1m") {
		t.Errorf("settling beyond --settle-wait: %+v", c)
	}
	// The record says the same.
	p, err := LoadProgress(dir, m.ID)
	if err != nil || p.Tenants["tb"].Next != PendingNext(m.ID) {
		t.Fatalf("progress: %+v %v", p.Tenants["tb"], err)
	}
}
