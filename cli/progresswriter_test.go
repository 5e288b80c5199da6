package cli

import (
	"fmt"
	"sync"
	"testing"

	"itdr-onboard/state"
)

const pwTenant = "3f9c8f2e-6d0b-4c1e-9a57-1b2d3c4e5f60"

func encodedProgress(t *testing.T, n int) [][]byte {
	t.Helper()
	out := make([][]byte, n+1)
	for i := 1; i <= n; i++ {
		b, err := state.EncodeProgress(&state.Progress{TenantID: pwTenant, Onboarding: fmt.Sprintf("o%03d", i)})
		if err != nil {
			t.Fatal(err)
		}
		out[i] = b
	}
	return out
}

// TestProgressWriterWritesTheNewestAndWaits: snapshots handed over from the
// front-end's goroutine end with the newest on disk; wait(n) returns only
// once snapshot n (or a newer one) is there; a burst nobody waits for is
// written as fewer files than snapshots.
func TestProgressWriterWritesTheNewestAndWaits(t *testing.T) {
	st := state.Store{Dir: t.TempDir()}
	log, _ := openLog("")
	w := newProgressWriter(st, log)
	snaps := encodedProgress(t, 60)
	var named int
	for i := 1; i <= 50; i++ {
		n := w.submit(pwTenant, snaps[i], false)
		if i == 20 {
			named = n
		}
	}
	w.wait(named)
	p, err := st.LoadProgress(pwTenant)
	if err != nil || p == nil || p.Onboarding < "o020" {
		t.Fatalf("after wait(%d): %+v, %v", named, p, err)
	}
	w.waitAll()
	if p, err = st.LoadProgress(pwTenant); err != nil || p.Onboarding != "o050" {
		t.Fatalf("after waitAll: %+v, %v", p, err)
	}
	w.mu.Lock()
	writes := w.writes
	w.mu.Unlock()
	if writes >= 50 {
		t.Fatalf("50 snapshots in a burst were written as %d files", writes)
	}
	// Waiters on several goroutines all return.
	var wg sync.WaitGroup
	for i := 51; i <= 60; i++ {
		n := w.submit(pwTenant, snaps[i], false)
		wg.Go(func() { w.wait(n) })
	}
	wg.Wait()
	w.waitAll()
	if p, err = st.LoadProgress(pwTenant); err != nil || p.Onboarding != "o060" {
		t.Fatalf("after the waiters: %+v, %v", p, err)
	}
}

// TestProgressWriterWritesANewRecordAtOnce: a snapshot that names a new
// record is written without waiting for newer ones, so the front-end's wait
// for it before the next write finds it on disk.
func TestProgressWriterWritesANewRecordAtOnce(t *testing.T) {
	st := state.Store{Dir: t.TempDir()}
	log, _ := openLog("")
	w := newProgressWriter(st, log)
	w.delay = 1 << 62 // a snapshot nobody waits for would never be written
	snaps := encodedProgress(t, 2)
	n := w.submit(pwTenant, snaps[1], true)
	w.wait(n)
	if p, err := st.LoadProgress(pwTenant); err != nil || p == nil || p.Onboarding != "o001" {
		t.Fatalf("the named snapshot: %+v, %v", p, err)
	}
	// One nobody waits for stays delayed until somebody does.
	n = w.submit(pwTenant, snaps[2], false)
	w.wait(n)
	if p, err := st.LoadProgress(pwTenant); err != nil || p.Onboarding != "o002" {
		t.Fatalf("after waiting: %+v, %v", p, err)
	}
}
