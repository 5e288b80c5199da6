package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/charmbracelet/x/term"

	"itdr-onboard/batch"
	"itdr-onboard/platform"
	"itdr-onboard/state"
	"itdr-onboard/steps"
	"itdr-onboard/ui/plain"
	"itdr-onboard/ui/text"
)

// batchStatusPolicy bounds `batch status`'s one health request: a platform
// that is down is reported within seconds, and the recorded state shown.
var batchStatusPolicy = platform.RetryPolicy{MaxAttempts: 3, AttemptTimeout: 10 * time.Second, Budget: 20 * time.Second}

// healthRefresh is what `batch status` did about health before it showed
// the batch: read it now (Refreshed), or why not (Reason).
type healthRefresh struct {
	Refreshed   bool
	Requests    int
	Pending     int // pending before the read
	HealthyNow  int // of them, healthy now
	Reason      string
	RecordedAt  time.Time
	nothingToDo bool
}

// refreshBatchHealth reads the health of a batch's pending tenants with the
// batch health wait's own request (batch.RefreshHealth: one GET
// /v1/integrations list request) when platform credentials are available,
// and records it as the health wait does. Without credentials, while a run
// of the batch holds it (that run watches health itself), or when the
// platform does not answer, nothing is written and Reason says why.
func refreshBatchHealth(ctx context.Context, io IO, base, id string, conn connFlags, onEvent func(steps.BatchEvent)) healthRefresh {
	var hr healthRefresh
	b, err := batch.Open(batch.Config{StateDir: base}, id)
	if err != nil {
		hr.Reason = err.Error()
		return hr
	}
	hr.RecordedAt = b.Recorded()
	hr.Pending = b.PendingCount()
	if hr.Pending == 0 {
		hr.nothingToDo = true
		return hr
	}
	ep, err := selectEndpoints(ctx, conn, "", io.Err)
	if err != nil {
		hr.Reason = err.Error()
		return hr
	}
	key, apiSecret, err := platformCredentials(ep)
	if err != nil {
		hr.Reason = "no platform credentials (set ITDR_API_KEY and ITDR_API_SECRET, or pass the --endpoints file that has them)"
		return hr
	}
	l, err := state.Store{Dir: base}.AcquireDirLock(batch.Dir(base, id), "batch "+id, "batch status", time.Now())
	if err != nil {
		var held *state.HeldError
		if errors.As(err, &held) {
			hr.Reason = "a run of this batch is live and watches health itself (" + err.Error() + ")"
		} else {
			hr.Reason = err.Error()
		}
		return hr
	}
	defer l.Release()
	pc := platform.New(ep.HTTPClient(), ep.Platform, key, apiSecret.Reveal())
	pc.SetRetryPolicy(batchStatusPolicy)
	// Opened again under the lock: a run may have ended meanwhile. A failed
	// read is said once, by the refresh's own sentence.
	shown := func(ev steps.BatchEvent) {
		if ev.Type != "health_error" && onEvent != nil {
			onEvent(ev)
		}
	}
	b, err = batch.Open(batch.Config{StateDir: base, Health: batch.NewSharedPlatform(pc), OnEvent: shown}, id)
	if err != nil {
		hr.Reason = err.Error()
		return hr
	}
	hr.RecordedAt, hr.Pending = b.Recorded(), b.PendingCount()
	if hr.Pending == 0 {
		hr.nothingToDo = true
		return hr
	}
	n, err := b.RefreshHealth(ctx)
	hr.Requests = 1
	if err != nil {
		hr.Reason = "the platform did not answer: " + err.Error()
		return hr
	}
	hr.Refreshed, hr.HealthyNow = true, n
	return hr
}

// sentence is the refresh in words for the plain output.
func (hr healthRefresh) sentence(now time.Time) string {
	switch {
	case hr.nothingToDo:
		return ""
	case hr.Refreshed:
		return fmt.Sprintf("Health read now from the platform (one request): %d of %d pending tenants healthy.", hr.HealthyNow, hr.Pending)
	}
	return "Health not refreshed: " + hr.Reason + ". Showing the state recorded at " + text.Clock(hr.RecordedAt, now) + "."
}

func (hr healthRefresh) event(now time.Time) steps.BatchEvent {
	f := map[string]any{"refreshed": hr.Refreshed, "requests": hr.Requests, "pending_before": hr.Pending, "healthy_now": hr.HealthyNow,
		"recorded_at": hr.RecordedAt.UTC().Format(time.RFC3339)}
	if hr.Reason != "" {
		f["reason"] = hr.Reason
	}
	return steps.BatchEvent{Time: now, Step: steps.Health, Type: "health_refresh", Message: hr.sentence(now), Fields: f}
}

// batchStatus is `batch status`: the health refresh, then the batch as
// recorded (with what the refresh changed).
func batchStatus(ctx context.Context, g *globalFlags, io IO, id string, conn connFlags) int {
	base := g.stateDirOr(defaultStateDir())
	now := time.Now
	var sink interface {
		Event(steps.BatchEvent)
		Summary(steps.BatchSnapshot, int)
	}
	if g.json {
		sink = &plain.BatchJSON{W: io.Out, Now: now}
	} else {
		sink = &plain.BatchText{W: io.Out, Now: now, Width: summaryWidth(io, g.frontEnd(io))}
	}
	hr := refreshBatchHealth(ctx, io, base, id, conn, sink.Event)
	snap, err := batch.SnapshotFromDisk(base, id, now())
	if err != nil {
		fmt.Fprintln(io.Err, "error:", fmt.Sprintf("batch %s: %v", id, err))
		return ExitUsage
	}
	code := batch.ExitCode(snap)
	if !hr.nothingToDo {
		if bt, ok := sink.(*plain.BatchText); ok {
			bt.Say(hr.sentence(now()))
		} else {
			sink.Event(hr.event(now()))
		}
	}
	if bt, ok := sink.(*plain.BatchText); ok {
		head := fmt.Sprintf("Batch %s (%s) by %s: ", snap.ID, text.Clock(snap.Started, now()), text.Line(snap.User))
		if snap.Finished {
			head += "finished"
		} else {
			head += "not finished — `itdr-onboard batch resume` continues it"
		}
		bt.Say(head)
	}
	sink.Summary(snap, code)
	return code
}

// summaryWidth is the columns the batch summary wraps to: the terminal's
// after the watch screen (80 when it cannot be read); 0 (lines whole) for
// --plain, which goes to logs and screen readers.
func summaryWidth(io IO, mode string) int {
	if mode != "tui" {
		return 0
	}
	if f, ok := io.Out.(*os.File); ok {
		if w, _, err := term.GetSize(f.Fd()); err == nil && w > 0 {
			return w
		}
	}
	return 80
}
