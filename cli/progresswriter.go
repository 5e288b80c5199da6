package cli

import (
	"sync"

	"itdr-onboard/state"
)

// progressWriter writes a run's progress file off the front-end's
// goroutine, so an outcome's report never waits for the disk (two fsyncs
// per save: the file and its directory). The newest snapshot wins: the
// snapshots handed over while one is being written are coalesced into one
// write. Snapshots are numbered; wait(n) returns once snapshot n or a newer
// one has been written (or has failed: a failure is logged, as a
// synchronous save's was).
type progressWriter struct {
	store state.Store
	log   *runLog

	mu     sync.Mutex
	cond   *sync.Cond
	next   []byte // newest snapshot not yet being written (nil: none)
	tenant string
	gen    int // number of the newest snapshot handed over
	done   int // every snapshot up to it is written or failed
	busy   bool
}

func newProgressWriter(store state.Store, log *runLog) *progressWriter {
	w := &progressWriter{store: store, log: log}
	w.cond = sync.NewCond(&w.mu)
	return w
}

// submit hands over an encoded progress (state.EncodeProgress) of tenant
// and returns its number.
func (w *progressWriter) submit(tenant string, b []byte) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.gen++
	w.next, w.tenant = b, tenant
	if !w.busy {
		w.busy = true
		go w.run()
	}
	return w.gen
}

// run writes snapshots until none is waiting; only one runs at a time.
func (w *progressWriter) run() {
	w.mu.Lock()
	for w.next != nil {
		b, tenant, gen := w.next, w.tenant, w.gen
		w.next = nil
		w.mu.Unlock()
		if err := w.store.WriteProgress(tenant, b); err != nil {
			w.log.Warn("progress", "error", err.Error())
		}
		w.mu.Lock()
		w.done = gen
		w.cond.Broadcast()
	}
	w.busy = false
	w.mu.Unlock()
}

// wait returns once snapshot n (or a newer one) has been written.
func (w *progressWriter) wait(n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.done < n {
		w.cond.Wait()
	}
}

// waitAll returns once every snapshot handed over has been written.
func (w *progressWriter) waitAll() {
	w.mu.Lock()
	n := w.gen
	w.mu.Unlock()
	w.wait(n)
}
