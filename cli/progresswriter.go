package cli

import (
	"sync"
	"time"

	"itdr-onboard/state"
)

// progressWriter writes a run's progress file off the front-end's
// goroutine, so an outcome's report never waits for the disk. Snapshots are
// numbered; the newest wins. A snapshot nobody waits for is written
// progressDelay after it was handed over, so the snapshots of a burst of
// outcomes (a wave of writes answering) become one write, and without the
// directory's sync: a crash of the machine may bring an older progress back,
// which resuming tolerates (every step checks again). The snapshots that
// matter are durable: one that names a new record (the front-end waits for
// it before the next write) and one somebody waits for (the run's start and
// end), each written at once with the directory synced. wait(n) returns
// once snapshot n or a newer one has been written (or has failed: a failure
// is logged, as a synchronous save's was).
type progressWriter struct {
	store state.Store
	log   *runLog
	delay time.Duration

	mu      sync.Mutex
	cond    *sync.Cond
	kick    chan struct{} // wakes a delayed write: somebody waits
	next    []byte        // newest snapshot not yet being written (nil: none)
	tenant  string
	durable bool // the next write syncs the directory
	gen     int  // number of the newest snapshot handed over
	urgent  int  // the newest snapshot somebody waits for
	done    int  // every snapshot up to it is written or failed
	busy    bool
	writes  int // files written (for tests)
}

// progressDelay is how long a snapshot nobody waits for may wait for newer
// ones: about one round trip's worth of outcomes.
const progressDelay = 25 * time.Millisecond

func newProgressWriter(store state.Store, log *runLog) *progressWriter {
	w := &progressWriter{store: store, log: log, delay: progressDelay, kick: make(chan struct{}, 1)}
	w.cond = sync.NewCond(&w.mu)
	return w
}

// submit hands over an encoded progress (state.EncodeProgress) of tenant
// and returns its number; durable: it must survive a crash of the machine
// (it names a new record).
func (w *progressWriter) submit(tenant string, b []byte, durable bool) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.gen++
	w.next, w.tenant = b, tenant
	w.durable = w.durable || durable
	if w.durable {
		w.urgent = w.gen
		w.wake()
	}
	if !w.busy {
		w.busy = true
		go w.run()
	}
	return w.gen
}

func (w *progressWriter) wake() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// run writes snapshots until none is waiting; only one runs at a time.
func (w *progressWriter) run() {
	w.mu.Lock()
	for w.next != nil {
		if w.urgent <= w.done && w.delay > 0 {
			w.mu.Unlock()
			t := time.NewTimer(w.delay)
			select {
			case <-w.kick:
			case <-t.C:
			}
			t.Stop()
			w.mu.Lock()
		}
		b, tenant, gen, durable := w.next, w.tenant, w.gen, w.durable || w.urgent > w.done
		w.next, w.durable = nil, false
		w.mu.Unlock()
		if err := w.store.WriteProgress(tenant, b, durable); err != nil {
			w.log.Warn("progress", "error", err.Error())
		}
		w.mu.Lock()
		w.done = gen
		w.writes++
		w.cond.Broadcast()
	}
	w.busy = false
	w.mu.Unlock()
}

// wait returns once snapshot n (or a newer one) has been written, durably.
func (w *progressWriter) wait(n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done >= n {
		return
	}
	if w.urgent < n {
		w.urgent = n
	}
	w.wake()
	for w.done < n {
		w.cond.Wait()
	}
}

// waitAll returns once every snapshot handed over has been written,
// durably.
func (w *progressWriter) waitAll() {
	w.mu.Lock()
	n := w.gen
	w.mu.Unlock()
	w.wait(n)
}
