package steps

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"itdr-onboard/checks"
)

func recordSession() *Session {
	s := NewSession(Options{})
	s.TenantID = "3f9c8f2e-6d0b-4c1e-9a57-1b2d3c4e5f60"
	s.Account.Username = "admin@contoso.onmicrosoft.com"
	return s
}

// TestAuditTrailTornLastLine: a run that died mid-line leaves a torn last
// line; the next record starts on a new line and says so.
func TestAuditTrailTornLastLine(t *testing.T) {
	dir := t.TempDir()
	torn := `{"time":"2026-11-25T10:00:00Z","tenant_id":"x","change":"exo.role-gr`
	if err := os.WriteFile(filepath.Join(dir, "audit.jsonl"), []byte(torn), 0o600); err != nil {
		t.Fatal(err)
	}
	var notes []string
	r := &Receipts{Dir: dir, Notice: func(m string) { notes = append(notes, m) }}
	s := recordSession()
	c := checks.Change{ID: "a", Summary: "Add role A"}
	seq, err := r.Intend(s, c, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Resolve(s, seq, JournalApplied, checks.Applied{Change: c, RequestID: "rid"}, ""); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "audit.jsonl"))
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 2 || lines[0] != torn {
		t.Fatalf("audit trail:\n%s", b)
	}
	var al AuditLine
	if err := json.Unmarshal([]byte(lines[1]), &al); err != nil || al.Change != "a" || al.Status != JournalApplied {
		t.Fatalf("new line %q: %v", lines[1], err)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "was cut") {
		t.Fatalf("notices %q", notes)
	}
}

// TestRecordFullDiskIsAnError: a record that cannot be written is an error
// (the run fails loudly), and a change whose intent cannot be recorded is
// never sent.
func TestRecordFullDiskIsAnError(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full on this system")
	}
	s := recordSession()
	c := checks.Change{ID: "a", Summary: "Add role A"}

	// Full disk under the audit trail: the change is made, recording it fails.
	dir := t.TempDir()
	if err := os.Symlink("/dev/full", filepath.Join(dir, "audit.jsonl")); err != nil {
		t.Fatal(err)
	}
	r := &Receipts{Dir: dir}
	x := &Executor{Receipts: r, Session: s}
	sent := 0
	_, err := x.write(t.Context(), c, func(context.Context) (checks.Applied, error) { sent++; return checks.Applied{RequestID: "rid"}, nil })
	if err == nil || sent != 1 || !strings.Contains(err.Error(), "could not be written to the audit trail") {
		t.Fatalf("sent %d, err %v", sent, err)
	}

	// Full disk under the journal: nothing is sent.
	dir = t.TempDir()
	tdir := (&Receipts{Dir: dir}).TenantDir(s.TenantID)
	os.MkdirAll(tdir, 0o700)
	if err := os.Symlink("/dev/full", filepath.Join(tdir, "journal.jsonl")); err != nil {
		t.Fatal(err)
	}
	x = &Executor{Receipts: &Receipts{Dir: dir}, Session: s}
	sent = 0
	_, err = x.write(t.Context(), c, func(context.Context) (checks.Applied, error) { sent++; return checks.Applied{}, nil })
	if err == nil || sent != 0 || !strings.Contains(err.Error(), "was not sent") {
		t.Fatalf("sent %d, err %v", sent, err)
	}
}

// TestRecordFoundIsNotApplied: a write answered "already exists" is
// recorded as found, and the onboarding's changes name each change once.
func TestRecordFoundIsNotApplied(t *testing.T) {
	dir := t.TempDir()
	r := &Receipts{Dir: dir}
	s := recordSession()
	x := &Executor{Receipts: r, Session: s}
	a := checks.Change{ID: "a", Summary: "A"}
	b := checks.Change{ID: "b", Summary: "B"}
	if _, err := x.write(t.Context(), a, func(context.Context) (checks.Applied, error) { return checks.Applied{NoOp: true}, nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := x.write(t.Context(), b, func(context.Context) (checks.Applied, error) { return checks.Applied{RequestID: "r"}, nil }); err != nil {
		t.Fatal(err)
	}
	// A failed attempt, then the same change found again: still once each.
	if _, err := x.write(t.Context(), b, func(context.Context) (checks.Applied, error) { return checks.Applied{}, errors.New("503") }); err == nil {
		t.Fatal("want the failure")
	}
	if err := x.found(t.Context(), b, "", ""); err != nil {
		t.Fatal(err)
	}
	cs := r.Changes(s)
	if len(cs) != 2 || !cs[0].NoOp || cs[1].NoOp || ChangesMade(cs) != 1 {
		t.Fatalf("changes %+v", cs)
	}
	ab, _ := os.ReadFile(r.AuditPath())
	if n := strings.Count(string(ab), "\n"); n != 2 || !strings.Contains(string(ab), `"status":"found"`) {
		t.Fatalf("audit trail (%d lines):\n%s", n, ab)
	}
	p1, _, err := r.Write(s, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	p2, _, err := r.Write(s, time.Now().Add(time.Hour))
	if err != nil || p1 != p2 {
		t.Fatalf("one onboarding, one receipt: %s %s %v", p1, p2, err)
	}
}

// TestReceiptNamesNeverCollide: onboardings started within one second get
// different receipts.
func TestReceiptNamesNeverCollide(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	seen := map[string]bool{}
	for i := 0; i < 5; i++ {
		n := NewOnboardingName(dir, at) // the same instant each time
		if seen[n] {
			t.Fatalf("name %s twice", n)
		}
		seen[n] = true
		os.WriteFile(filepath.Join(dir, "receipt-"+n+".json"), []byte("{}"), 0o600)
	}
	if a, b := NewOnboardingName(t.TempDir(), at), NewOnboardingName(t.TempDir(), at.Add(time.Millisecond)); a == b {
		t.Fatalf("names within one second collide: %s", a)
	}
}

// Concurrent writes (consent's grants side by side) wait for the disk
// together, outside the record's lock: every intent, outcome and audit
// line is still written whole, once, and the record reads back complete.
func TestConcurrentRecordsAreWholeAndComplete(t *testing.T) {
	dir := t.TempDir()
	r := &Receipts{Dir: dir}
	s := recordSession()
	const n = 12
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			c := checks.Change{ID: "grant/" + string(rune('a'+i)), Summary: "Grant " + string(rune('a'+i))}
			seq, err := r.Intend(s, c, time.Now())
			if err == nil {
				err = r.Resolve(s, seq, JournalApplied, checks.Applied{Change: c, RequestID: "rid"}, "")
			}
			errs <- err
		}()
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := len(r.Changes(s)); got != n {
		t.Fatalf("%d changes recorded, want %d", got, n)
	}
	// A fresh reader of the files finds every line whole and nothing open.
	r2 := &Receipts{Dir: dir, Onboarding: r.Onboarding, Notice: func(m string) { t.Errorf("notice: %s", m) }}
	open, err := r2.Unresolved(s, true)
	if err != nil || len(open) != 0 {
		t.Fatalf("open intents %v, %v", open, err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != n {
		t.Fatalf("%d audit lines, want %d", len(lines), n)
	}
	for _, l := range lines {
		var al AuditLine
		if err := json.Unmarshal([]byte(l), &al); err != nil || al.Status != JournalApplied {
			t.Fatalf("audit line %q: %v", l, err)
		}
	}
	if got := len(r2.Changes(s)); got != n {
		t.Fatalf("read back %d changes, want %d", got, n)
	}
}

// TestLateLandingOfAnInterruptedWriteIsApplied: a killed run of the same
// onboarding sent a change whose request landed only after the resumed
// run's reconciling read (which found it absent); the resumed run then
// finds it in place. It is the interrupted run's change — applied, counted
// — not another technician's.
func TestLateLandingOfAnInterruptedWriteIsApplied(t *testing.T) {
	dir := t.TempDir()
	s := recordSession()
	killed := &Receipts{Dir: dir}
	c := checks.Change{ID: "consent/grant/x", Summary: "Grant x"}
	if _, err := killed.Intend(s, c, time.Now()); err != nil {
		t.Fatal(err)
	}
	// The resumed run continues the onboarding (its name from progress).
	r := &Receipts{Dir: dir, Onboarding: killed.Name()}
	x := &Executor{Receipts: r, Session: s}
	a, err := x.write(t.Context(), c, func(context.Context) (checks.Applied, error) {
		return foundOnWrite("r409", "Microsoft Graph", "app role assignment ara1"), nil
	})
	if err != nil || a.NoOp || !strings.Contains(a.Note, "applied by an interrupted run") {
		t.Fatalf("applied %+v, err %v", a, err)
	}
	if cs := r.Changes(s); len(cs) != 1 || cs[0].NoOp || ChangesMade(cs) != 1 {
		t.Fatalf("changes %+v", cs)
	}
	// Another onboarding (another state dir, another technician) finding
	// the same change is still found.
	other := &Receipts{Dir: t.TempDir()}
	y := &Executor{Receipts: other, Session: s}
	b, err := y.write(t.Context(), c, func(context.Context) (checks.Applied, error) {
		return foundOnWrite("r409", "Microsoft Graph", "app role assignment ara1"), nil
	})
	if err != nil || !b.NoOp || ChangesMade(other.Changes(s)) != 0 {
		t.Fatalf("other onboarding: %+v, err %v", b, err)
	}
}

// TestReceiptRewriteWithNothingNewIsSkipped: the end of a run rewrites the
// receipt the health step has just written; with nothing new but the time
// the file is left as it is, and anything new is written.
func TestReceiptRewriteWithNothingNewIsSkipped(t *testing.T) {
	r := &Receipts{Dir: t.TempDir()}
	s := recordSession()
	x := &Executor{Receipts: r, Session: s}
	a := checks.Change{ID: "a", Summary: "A"}
	if _, err := x.write(t.Context(), a, func(context.Context) (checks.Applied, error) { return checks.Applied{RequestID: "r1"}, nil }); err != nil {
		t.Fatal(err)
	}
	p1, _, err := r.Write(s, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	st1, _ := os.Stat(p1)
	b1, _ := os.ReadFile(p1)
	p2, _, err := r.Write(s, time.Now().Add(time.Minute))
	if err != nil || p2 != p1 {
		t.Fatalf("%s %s %v", p1, p2, err)
	}
	st2, _ := os.Stat(p2)
	b2, _ := os.ReadFile(p2)
	if !os.SameFile(st1, st2) || string(b1) != string(b2) {
		t.Fatalf("an unchanged receipt was rewritten:\n%s\n%s", b1, b2)
	}
	// A new change is written (a new file renamed over the old one).
	b := checks.Change{ID: "b", Summary: "B"}
	if _, err := x.write(t.Context(), b, func(context.Context) (checks.Applied, error) { return checks.Applied{RequestID: "r2"}, nil }); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Write(s, time.Now().Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	st3, _ := os.Stat(p1)
	var rc Receipt
	b3, _ := os.ReadFile(p1)
	if err := json.Unmarshal(b3, &rc); err != nil {
		t.Fatal(err)
	}
	if os.SameFile(st1, st3) || len(rc.Changes) != 2 {
		t.Fatalf("the new change was not written:\n%s", b3)
	}
	// A receipt removed behind the run's back is written again.
	os.Remove(p1)
	if _, _, err := r.Write(s, time.Now().Add(3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p1); err != nil {
		t.Fatalf("the removed receipt was not written again: %v", err)
	}
}

// TestNameNowNamesTheRecordAsTheFirstWriteWould: a front-end can name the
// record before the first write (to put the name on disk while that write
// is in flight); the write keeps that name, and a run whose only open
// intents are an interrupted unmap's removals continues that record.
func TestNameNowNamesTheRecordAsTheFirstWriteWould(t *testing.T) {
	r := &Receipts{Dir: t.TempDir()}
	s := recordSession()
	name, err := r.NameNow(s)
	if err != nil || name == "" || r.Name() != name {
		t.Fatalf("name %q (%q), %v", name, r.Name(), err)
	}
	if again, _ := r.NameNow(s); again != name {
		t.Fatalf("named twice: %q then %q", name, again)
	}
	x := &Executor{Receipts: r, Session: s}
	if _, err := x.write(t.Context(), checks.Change{ID: "a", Summary: "A"}, func(context.Context) (checks.Applied, error) { return checks.Applied{RequestID: "r"}, nil }); err != nil {
		t.Fatal(err)
	}
	for _, e := range r.entries {
		if e.Onboarding != name {
			t.Fatalf("journal entry of %q, the record is %q", e.Onboarding, name)
		}
	}

	// An interrupted unmap left one removal open: naming continues its record.
	dir := t.TempDir()
	old := &Receipts{Dir: dir, Onboarding: "20261201T100000.000000000Z"}
	rm := checks.Change{ID: unmapChangePrefix + "integration", Summary: "Remove the integration", Args: map[string]string{"kind": "integration", "id": "int_1"}}
	if !isRemoval(rm) {
		t.Fatalf("test change is not a removal: %+v", rm)
	}
	if _, err := old.Intend(s, rm, time.Now()); err != nil {
		t.Fatal(err)
	}
	next := &Receipts{Dir: dir}
	if name, err := next.NameNow(s); err != nil || name != old.Onboarding {
		t.Fatalf("after an interrupted unmap: %q, %v (want %q)", name, err, old.Onboarding)
	}
}

// TestReceiptDuringTheRunIsMadeDurableAtItsEnd: with SyncAtEnd a receipt
// written during the run (writeDuring) is whole but not yet synced; the
// run's last Write with nothing new syncs it in place, and Sync does the
// same when no Write follows.
func TestReceiptDuringTheRunIsMadeDurableAtItsEnd(t *testing.T) {
	r := &Receipts{Dir: t.TempDir(), SyncAtEnd: true}
	s := recordSession()
	x := &Executor{Receipts: r, Session: s}
	if _, err := x.write(t.Context(), checks.Change{ID: "a", Summary: "A"}, func(context.Context) (checks.Applied, error) { return checks.Applied{RequestID: "r1"}, nil }); err != nil {
		t.Fatal(err)
	}
	p1, _, err := r.writeDuring(s, time.Now(), nil, "")
	if err != nil || r.written.durable {
		t.Fatalf("during the run: %s durable=%v %v", p1, r.written.durable, err)
	}
	st1, _ := os.Stat(p1)
	p2, _, err := r.Write(s, time.Now().Add(time.Minute))
	st2, _ := os.Stat(p2)
	if err != nil || p2 != p1 || !os.SameFile(st1, st2) || !r.written.durable {
		t.Fatalf("the end of the run: %s same file %v durable %v, %v", p2, os.SameFile(st1, st2), r.written.durable, err)
	}
	// Without SyncAtEnd every receipt is durable at once.
	r2 := &Receipts{Dir: t.TempDir()}
	if _, _, err := r2.writeDuring(s, time.Now(), nil, ""); err != nil || !r2.written.durable {
		t.Fatalf("without SyncAtEnd: durable=%v %v", r2.written.durable, err)
	}
	// Sync after a receipt written during the run.
	r3 := &Receipts{Dir: t.TempDir(), SyncAtEnd: true}
	if _, _, err := r3.writeDuring(s, time.Now(), nil, ""); err != nil || r3.written.durable {
		t.Fatal(err)
	}
	if err := r3.Sync(); err != nil || !r3.written.durable {
		t.Fatalf("Sync: durable=%v %v", r3.written.durable, err)
	}
}
