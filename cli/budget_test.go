package cli

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"itdr-onboard/internal/budget"
	"itdr-onboard/sim"
)

// leapClock is a clock for the simulator and the budgets together: it never
// moves by itself, and a wait on it moves it to the wait's end at once. It
// only ever moves forward, so the order of events on it is the order in
// which they happened, and the simulator's request log is on it too.
type leapClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *leapClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *leapClock) After(d time.Duration) (<-chan time.Time, func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch, func() {}
}

// TestPlatformBudgetAcrossWorkers: 25 workers (a batch's tenants) share one
// budget through the production wiring and send 300 platform requests; the
// simulator (same clock) never sees more than 60 in any 60 s window and never
// has to refuse one with 429 — the budget paced them, not the platform.
func TestPlatformBudgetAcrossWorkers(t *testing.T) {
	t.Parallel()
	sc, err := sim.LoadScenario("typical")
	if err != nil {
		t.Fatal(err)
	}
	clk := &leapClock{now: time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)}
	srv, err := sim.Start(sc, sim.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	set := budget.NewSet(clk, nil)
	const workers, each = 25, 12
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for i := 0; i < workers; i++ {
		// Each tenant's own wiring, all drawing from one Set.
		w, err := wire(wireOptions{Endpoints: srv.Endpoints(), StateDir: t.TempDir(), Budgets: set, Env: func(string) string { return "" }})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < each; j++ {
				if _, err := w.platform.Account(context.Background()); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var times []time.Time
	for _, r := range srv.Requests() {
		if r.Group != sim.GroupPlatform {
			continue
		}
		if r.Status == 429 {
			t.Fatalf("the platform refused a request (429 at %v): the budget let too many through", r.Time)
		}
		times = append(times, r.Time)
	}
	if len(times) != workers*each {
		t.Fatalf("the platform saw %d requests, want %d", len(times), workers*each)
	}
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	best, j := 0, 0
	for i := range times {
		for !times[j].After(times[i].Add(-time.Minute)) {
			j++
		}
		best = max(best, i-j+1)
	}
	if best > 60 {
		t.Fatalf("the platform saw %d requests in one 60 s window (limit 60)", best)
	}
	if span := times[len(times)-1].Sub(times[0]); span < 4*time.Minute {
		t.Fatalf("300 requests within %v: faster than 60 per minute", span)
	}
	var u *budget.Usage
	for _, x := range set.Usage() {
		if x.Key.Kind == budget.Platform {
			u = &x
		}
	}
	if u == nil || u.Admitted != workers*each || u.Peak != 60 || u.Limit != 60 || u.Window != time.Minute {
		t.Fatalf("platform usage = %+v, want %d admitted, peak 60 of 60 per minute", u, workers*each)
	}
}

// TestBudgetViews: the watch header gets one view per upstream in use, the
// busiest tenant for the per-tenant budgets, and a pause's end.
func TestBudgetViews(t *testing.T) {
	t.Parallel()
	clk := &leapClock{now: time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)}
	set := budget.NewSet(clk, nil)
	take := func(cost budget.Cost, keys ...budget.Key) {
		rel, _, _ := set.TryAcquire(keys, cost)
		if rel == nil {
			t.Fatal("refused")
		}
		rel()
	}
	for i := 0; i < 41; i++ {
		take(budget.Cost{Requests: 1}, budget.Key{Kind: budget.Platform, Scope: "p"})
	}
	for i := 0; i < 5; i++ {
		take(budget.Cost{Requests: 1, ResourceUnits: 3}, budget.Key{Kind: budget.Graph, Scope: "g"}, budget.Key{Kind: budget.GraphTenant, Scope: "busy"})
	}
	take(budget.Cost{Requests: 1, ResourceUnits: 1}, budget.Key{Kind: budget.Graph, Scope: "g"}, budget.Key{Kind: budget.GraphTenant, Scope: "quiet"})
	set.Pause(budget.Key{Kind: budget.Platform, Scope: "p"}, clk.Now().Add(30*time.Second), "HTTP 429 Retry-After")
	got := budgetViews(set)()
	want := []string{"platform 41/60 1m0s", "Graph 6/2000 1s", "Graph/tenant RU 15/3500 10s"}
	if len(got) != len(want) {
		t.Fatalf("views = %+v", got)
	}
	for i, v := range got {
		if s := fmt.Sprintf("%s %d/%d %v", v.Name, v.Used, v.Limit, v.Per); s != want[i] {
			t.Errorf("view %d = %s, want %s", i, s, want[i])
		}
	}
	if !got[0].WaitUntil.Equal(clk.Now().Add(30 * time.Second)) {
		t.Errorf("platform pause not shown: %v", got[0].WaitUntil)
	}
}
