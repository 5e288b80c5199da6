package cli

import (
	"fmt"
	"sync"
	"testing"

	"itdr-onboard/state"
)

// TestProgressWriterWritesTheNewestAndWaits: snapshots handed over from the
// front-end's goroutine end with the newest on disk; wait(n) returns only
// once snapshot n (or a newer one) is there.
func TestProgressWriterWritesTheNewestAndWaits(t *testing.T) {
	const tenant = "3f9c8f2e-6d0b-4c1e-9a57-1b2d3c4e5f60"
	st := state.Store{Dir: t.TempDir()}
	log, _ := openLog("")
	w := newProgressWriter(st, log)
	encode := func(i int) []byte {
		b, err := state.EncodeProgress(&state.Progress{TenantID: tenant, Onboarding: fmt.Sprintf("o%03d", i)})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var named int
	for i := 1; i <= 50; i++ {
		n := w.submit(tenant, encode(i))
		if i == 20 {
			named = n
		}
	}
	w.wait(named)
	p, err := st.LoadProgress(tenant)
	if err != nil || p == nil || p.Onboarding < "o020" {
		t.Fatalf("after wait(%d): %+v, %v", named, p, err)
	}
	w.waitAll()
	if p, err = st.LoadProgress(tenant); err != nil || p.Onboarding != "o050" {
		t.Fatalf("after waitAll: %+v, %v", p, err)
	}
	// Waiters on several goroutines all return.
	var wg sync.WaitGroup
	for i := 51; i <= 60; i++ {
		n := w.submit(tenant, encode(i))
		wg.Go(func() { w.wait(n) })
	}
	wg.Wait()
	w.waitAll()
	if p, err = st.LoadProgress(tenant); err != nil || p.Onboarding != "o060" {
		t.Fatalf("after the waiters: %+v, %v", p, err)
	}
}
