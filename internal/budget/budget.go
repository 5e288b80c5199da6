// Package budget gives every upstream one shared request budget that all of a
// run's workers draw from (issue 21): the ITDR platform's 60 requests per
// minute per account (sliding window), Partner Center's 50 requests per second
// per application, Microsoft Graph per application and per application+tenant,
// Exchange Online per tenant. A request waits until every budget it draws from
// admits it; a 429 or 503 carrying Retry-After (or Exchange's exhausted
// Rate-Limit-Remaining) pauses that budget for every worker until then.
//
// Windows are sliding and counted conservatively: a request holds its place
// from the moment it is admitted until Window after its response came back.
// So however long a request travels, whatever the service counts as its
// arrival lies between those two times, and no window of the service's can
// hold more than the limit (docs/gdap.md "Throttles").
//
// The package never sees a token: the transport reads only the tenant id
// claim of a Graph access token to pick the per-tenant budget.
package budget

import (
	"context"
	"slices"
	"sort"
	"sync"
	"time"
)

// Unit is what a limit counts.
type Unit string

// Units of a limit.
const (
	Requests      Unit = "requests"
	ResourceUnits Unit = "resource units"
	Writes        Unit = "writes"
)

// Limit is at most N units per sliding Window.
type Limit struct {
	Unit   Unit
	N      int
	Window time.Duration
	// Source names where the number comes from.
	Source string
}

// Cost is what one request draws.
type Cost struct {
	Requests, ResourceUnits, Writes int
}

func (c Cost) of(u Unit) int {
	switch u {
	case ResourceUnits:
		return c.ResourceUnits
	case Writes:
		return c.Writes
	}
	return c.Requests
}

// Kind names an upstream's budget.
type Kind string

// The budgets (docs/gdap.md "Throttles" gives the numbers and sources).
const (
	Platform      Kind = "platform"       // per platform account
	PartnerCenter Kind = "partner-center" // per application
	Graph         Kind = "graph"          // per application, all tenants
	GraphTenant   Kind = "graph-tenant"   // per application+tenant
	Exchange      Kind = "exchange"       // per tenant
)

// Key is one budget: its kind and, for the per-tenant kinds, the tenant.
type Key struct {
	Kind  Kind
	Scope string
}

// DefaultLimits are the published limits (FACT in
// shared/reference/gdap.md §2.1 unless marked), smallest tenant size where
// the limit depends on it.
func DefaultLimits() map[Kind][]Limit {
	return map[Kind][]Limit{
		Platform: {{Unit: Requests, N: 60, Window: time.Minute, Source: "docs/platform-api.md: 60 requests/min per account, sliding window"}},
		PartnerCenter: {{Unit: Requests, N: 50, Window: time.Second,
			Source: "Partner Center applicationconsents: 50 requests/s per application"}},
		Graph: {
			{Unit: Requests, N: 2000, Window: time.Second, Source: "Graph: 2,000 requests/s per application"},
			{Unit: ResourceUnits, N: 150000, Window: 20 * time.Second, Source: "Graph identity and access: 150,000 resource units per 20 s per application"},
			{Unit: Writes, N: 70000, Window: 5 * time.Minute, Source: "Graph identity and access: 70,000 writes per 5 min per application"},
		},
		GraphTenant: {
			{Unit: ResourceUnits, N: 3500, Window: 10 * time.Second, Source: "Graph identity and access: 3,500 resource units per 10 s per application+tenant (tenants under 50 users)"},
			{Unit: Writes, N: 3000, Window: 150 * time.Second, Source: "Graph identity and access: 3,000 writes per 2 min 30 s per application+tenant"},
		},
		// No published number for the Exchange admin API: 10 requests/s
		// per tenant is our choice (the service's own 429 and
		// Rate-Limit-Remaining/Rate-Limit-Reset pause it).
		Exchange: {{Unit: Requests, N: 10, Window: time.Second, Source: "Exchange admin API: no published limit; 10 requests/s per tenant chosen, honouring Rate-Limit-Reset"}},
	}
}

// Clock is the time source. Tests inject a fake.
type Clock interface {
	Now() time.Time
	// After delivers on the channel once d has passed; stop releases it.
	After(d time.Duration) (c <-chan time.Time, stop func())
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }
func (realClock) After(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTimer(d)
	return t.C, func() { t.Stop() }
}

// RealClock is the wall clock.
var RealClock Clock = realClock{}

type entry struct {
	cost int
	open bool
	end  time.Time
}

type window struct {
	lim     Limit
	entries []*entry // in admission order
	peak    int      // the most units held at once (Usage)
}

// prune drops the entries that left the window: closed at or before now−W.
func (w *window) prune(now time.Time) {
	cut := now.Add(-w.lim.Window)
	keep := w.entries[:0]
	for _, e := range w.entries {
		if e.open || e.end.After(cut) {
			keep = append(keep, e)
		}
	}
	clear(w.entries[len(keep):])
	w.entries = keep
}

func (w *window) used() int {
	n := 0
	for _, e := range w.entries {
		n += e.cost
	}
	return n
}

// wait is how long from now until cost fits (after prune). blocked says that
// only a request still in flight can make room.
func (w *window) wait(now time.Time, cost int) (d time.Duration, blocked bool) {
	used := w.used()
	need := used + cost - w.lim.N
	if need <= 0 {
		return 0, false
	}
	var ends []*entry
	for _, e := range w.entries {
		if !e.open {
			ends = append(ends, e)
		}
	}
	sort.Slice(ends, func(i, j int) bool { return ends[i].end.Before(ends[j].end) })
	freed := 0
	for _, e := range ends {
		freed += e.cost
		if freed >= need {
			return e.end.Add(w.lim.Window).Sub(now), false
		}
	}
	return 0, true
}

type bucket struct {
	key         Key
	windows     []*window
	pausedUntil time.Time
	pauseReason string
	waiting     int
	admitted    int64
}

// idle says that a per-tenant budget holds nothing and may be dropped.
func (b *bucket) idle(now time.Time) bool {
	if (b.key.Kind != GraphTenant && b.key.Kind != Exchange) || b.waiting > 0 || now.Before(b.pausedUntil) {
		return false
	}
	for _, w := range b.windows {
		if len(w.entries) > 0 {
			return false
		}
	}
	return true
}

// Set holds a run's budgets. All methods are safe for concurrent use; one
// Set is shared by every worker (and every tenant) of a run.
type Set struct {
	clock  Clock
	limits map[Kind][]Limit

	mu      sync.Mutex
	buckets map[Key]*bucket
	changed chan struct{} // closed and replaced when room may have appeared
	// swept is when idle per-tenant budgets were last dropped: a
	// finished tenant's budgets go once its windows have emptied, whether
	// or not anything reads Usage (a batch in plain or JSON mode).
	swept time.Time
}

// sweepEvery spaces the sweeps of idle per-tenant budgets (each looks at
// every budget held: the tenants of the last few minutes).
const sweepEvery = 10 * time.Second

// sweepLocked drops the per-tenant budgets that hold nothing (idle), at
// most once per sweepEvery.
func (s *Set) sweepLocked(now time.Time) {
	if now.Sub(s.swept) < sweepEvery && !now.Before(s.swept) {
		return
	}
	s.swept = now
	for k, b := range s.buckets {
		if b.key.Kind != GraphTenant && b.key.Kind != Exchange {
			continue
		}
		for _, w := range b.windows {
			w.prune(now)
		}
		if b.idle(now) {
			delete(s.buckets, k)
		}
	}
}

// NewSet builds an empty set. clock nil is the wall clock; limits nil are
// DefaultLimits.
func NewSet(clock Clock, limits map[Kind][]Limit) *Set {
	if clock == nil {
		clock = RealClock
	}
	if limits == nil {
		limits = DefaultLimits()
	}
	return &Set{clock: clock, limits: limits, buckets: map[Key]*bucket{}, changed: make(chan struct{})}
}

// Clock is the set's clock.
func (s *Set) Clock() Clock { return s.clock }

func (s *Set) bucketLocked(k Key) *bucket {
	b := s.buckets[k]
	if b == nil {
		b = &bucket{key: k}
		for _, l := range s.limits[k.Kind] {
			if l.N > 0 && l.Window > 0 {
				b.windows = append(b.windows, &window{lim: l})
			}
		}
		s.buckets[k] = b
	}
	return b
}

func (s *Set) broadcastLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Acquire waits until every budget in keys admits cost, takes it and returns
// the function to call when the response has come back (or the request
// failed). It returns ctx.Err() when ctx ends first.
func (s *Set) Acquire(ctx context.Context, keys []Key, cost Cost) (release func(), err error) {
	if len(keys) == 0 {
		return func() {}, nil
	}
	s.mu.Lock()
	counted := false
	for {
		release, wait, _ := s.tryLocked(keys, cost, counted)
		if release != nil {
			s.mu.Unlock()
			return release, nil
		}
		if !counted {
			for _, k := range keys {
				s.bucketLocked(k).waiting++
			}
			counted = true
		}
		changed := s.changed
		s.mu.Unlock()
		var (
			timer <-chan time.Time
			stop  = func() {}
		)
		if wait > 0 {
			// Blocked (room needs a request in flight to come back) wakes
			// on changed alone.
			timer, stop = s.clock.After(wait)
		}
		select {
		case <-ctx.Done():
			stop()
			s.mu.Lock()
			for _, k := range keys {
				s.bucketLocked(k).waiting--
			}
			s.mu.Unlock()
			return nil, ctx.Err()
		case <-timer:
		case <-changed:
			stop()
		}
		s.mu.Lock()
	}
}

// TryAcquire takes cost from every budget in keys if they all admit it now.
// Otherwise it returns nil and how long until they might (blocked: not
// before a request in flight comes back). Acquire is TryAcquire waiting.
func (s *Set) TryAcquire(keys []Key, cost Cost) (release func(), wait time.Duration, blocked bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tryLocked(keys, cost, false)
}

func (s *Set) tryLocked(keys []Key, cost Cost, counted bool) (release func(), wait time.Duration, blocked bool) {
	now := s.clock.Now()
	s.sweepLocked(now)
	bs := make([]*bucket, 0, len(keys))
	for _, k := range keys {
		b := s.bucketLocked(k)
		bs = append(bs, b)
		if d := b.pausedUntil.Sub(now); d > wait {
			wait = d
		}
		for _, w := range b.windows {
			w.prune(now)
			d, bl := w.wait(now, min(cost.of(w.lim.Unit), w.lim.N))
			blocked = blocked || bl
			wait = max(wait, d)
		}
	}
	if wait > 0 || blocked {
		return nil, wait, blocked
	}
	var taken []*entry
	for _, b := range bs {
		if counted {
			b.waiting--
		}
		b.admitted++
		for _, w := range b.windows {
			c := min(cost.of(w.lim.Unit), w.lim.N)
			if c <= 0 {
				continue
			}
			e := &entry{cost: c, open: true}
			w.entries = append(w.entries, e)
			taken = append(taken, e)
			w.peak = max(w.peak, w.used())
		}
	}
	var once sync.Once
	return func() { once.Do(func() { s.release(taken) }) }, 0, false
}

func (s *Set) release(taken []*entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	for _, e := range taken {
		e.open = false
		e.end = now
	}
	s.broadcastLocked()
}

// Pause stops the budget k admitting anything until until (a service said
// Retry-After). A later pause never shortens an earlier one.
func (s *Set) Pause(k Key, until time.Time, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bucketLocked(k)
	if until.After(b.pausedUntil) {
		b.pausedUntil = until
		b.pauseReason = reason
	}
	s.broadcastLocked()
}

// Usage is one budget's state, for the watch header.
type Usage struct {
	Key Key
	// InUse is the units held in the budget's tightest window now (in
	// flight, or answered less than Window ago); Limit its N.
	InUse, Limit int
	Unit         Unit
	Window       time.Duration
	// Peak is the most units that window ever held at once.
	Peak int
	// Waiting is the number of requests waiting for this budget.
	Waiting int
	// Admitted counts the requests this budget admitted.
	Admitted int64
	// PausedUntil is set while a service's Retry-After holds the budget.
	PausedUntil time.Time
	PauseReason string
}

// Usage reports every budget, by kind then scope. Per-tenant budgets with
// nothing in their windows, nobody waiting and no pause are dropped (so 1,000
// tenants' budgets do not pile up) and not reported.
func (s *Set) Usage() []Usage {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	var out []Usage
	for k, b := range s.buckets {
		for _, w := range b.windows {
			w.prune(now)
		}
		if b.idle(now) {
			delete(s.buckets, k)
			continue
		}
		u := Usage{Key: k, Waiting: b.waiting, Admitted: b.admitted}
		if now.Before(b.pausedUntil) {
			u.PausedUntil, u.PauseReason = b.pausedUntil, b.pauseReason
		}
		best := -1.0
		for _, w := range b.windows {
			used := w.used()
			if f := float64(used) / float64(w.lim.N); f > best {
				best = f
				u.InUse, u.Limit, u.Unit, u.Window, u.Peak = used, w.lim.N, w.lim.Unit, w.lim.Window, w.peak
			}
		}
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b Usage) int {
		if a.Key.Kind != b.Key.Kind {
			return kindOrder(a.Key.Kind) - kindOrder(b.Key.Kind)
		}
		if a.Key.Scope < b.Key.Scope {
			return -1
		}
		if a.Key.Scope > b.Key.Scope {
			return 1
		}
		return 0
	})
	return out
}

func kindOrder(k Kind) int {
	switch k {
	case Platform:
		return 0
	case PartnerCenter:
		return 1
	case Graph:
		return 2
	case GraphTenant:
		return 3
	case Exchange:
		return 4
	}
	return 5
}

// Summary folds the per-tenant budgets into one line per kind: the busiest
// tenant's usage (InUse, Limit of that tenant), the waiting summed, the
// latest pause. Kinds with no budget in use are left out.
func (s *Set) Summary() []Usage {
	var out []Usage
	for _, u := range s.Usage() {
		u.Key.Scope = ""
		if n := len(out); n > 0 && out[n-1].Key.Kind == u.Key.Kind {
			p := &out[n-1]
			p.Waiting += u.Waiting
			p.Admitted += u.Admitted
			if u.Limit > 0 && (p.Limit == 0 || float64(u.InUse)/float64(u.Limit) > float64(p.InUse)/float64(p.Limit)) {
				p.InUse, p.Limit, p.Unit, p.Window = u.InUse, u.Limit, u.Unit, u.Window
			}
			p.Peak = max(p.Peak, u.Peak)
			if u.PausedUntil.After(p.PausedUntil) {
				p.PausedUntil, p.PauseReason = u.PausedUntil, u.PauseReason
			}
			continue
		}
		out = append(out, u)
	}
	return out
}
