package cli

import (
	"sort"
	"testing"
	"time"

	"itdr-onboard/batch"
	"itdr-onboard/sim"
)

// A throttled window through a batch (issue 21): mid-batch the simulator's
// platform answers 429 with Retry-After for its window, and later Graph
// does the same for the whole app (x-ms-throttle-scope Application/…).
// Every worker pauses: after the answer that opened a window, the only
// requests to that upstream inside it are the ones already on their way
// then (a tenant flow sends some reads and writes side by side), all in
// the window's first second; none in the rest of it. The batch still ends with every tenant's right
// outcome and no write twice. The window is seconds, not the platform's
// minute, to keep the suite fast: the budget pauses for whatever
// Retry-After says (internal/budget), so the length changes nothing else.
func TestBatchThrottledWindowPausesEveryWorker(t *testing.T) {
	t.Parallel()
	// 40 ms a request (the bench's latency) spreads the tenants' requests
	// over seconds, so that workers reach an upstream at different times.
	const latency, window = 40 * time.Millisecond, 3 * time.Second
	// A request on its way when the window opened reached the simulator by
	// then plus its latency (it was logged when it arrived) and some
	// scheduling slack on a loaded machine.
	const inFlight = latency + 250*time.Millisecond
	bs := startBatchSimWith(t, sim.Options{Latency: latency})
	bs.srv.ThrottleAfter(sim.GroupPlatform, 6, window)
	bs.srv.ThrottleAfter(sim.GroupGraph, 120, window)
	code, out, errs := runCLI(t, nil, bs.runArgs()...)
	if code != batch.ExitHandedOff {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, batch.ExitHandedOff, clipOut(out), errs)
	}
	tenants, _ := batchFinished(t, out)
	for _, c := range bs.srv.Scenario().Customers {
		if got, want := tenants[c.TenantID].State, wantOutcome(c.Lane); got != want {
			t.Errorf("%s (%s): %s, want %s — %s", c.DisplayName, c.Lane, got, want, tenants[c.TenantID].Message)
		}
	}
	writesOnce(t, bs, mappedTenants(out))

	windows := bs.srv.ThrottleWindows()
	recs := bs.srv.Requests()
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].Time.Before(recs[j].Time) })
	for _, group := range []string{sim.GroupPlatform, sim.GroupGraph} {
		w, ok := windows[group]
		if !ok {
			t.Fatalf("the %s throttle never opened: the batch sent too few requests", group)
		}
		var inside, refused, late, after int
		for _, r := range recs {
			if r.Group != group {
				continue
			}
			switch {
			case !r.Time.Before(w[0]) && r.Time.Before(w[1]):
				inside++
				if r.Status == 429 {
					refused++
				}
				if !r.Time.Before(w[0].Add(inFlight)) {
					late++
					t.Errorf("%s: %s %s sent %s into the window: a worker did not pause", group, r.Method, r.Path, r.Time.Sub(w[0]))
				}
			case !r.Time.Before(w[1]):
				after++
			}
		}
		// The first refusal opened the window; the others were already
		// on their way. A worker that did not pause would go on sending.
		if inside < 1 || inside != refused {
			t.Errorf("%s: %d requests inside its %s window, %d refused", group, inside, window, refused)
		}
		if after == 0 {
			t.Errorf("%s: nothing was sent after its window: the batch did not go on", group)
		}
		t.Logf("%s window %s–%s: %d requests inside (all 429), %d after", group, w[0].Format("15:04:05.000"), w[1].Format("15:04:05.000"), inside, after)
	}
	if p := platformPeak(recs); p > 60 {
		t.Errorf("the platform saw %d requests in one minute", p)
	}
}
