package batch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"itdr-onboard/internal/atomicfile"
	"itdr-onboard/partner"
	"itdr-onboard/platform"
	"itdr-onboard/steps"
	"itdr-onboard/ui/text"
)

// Runner runs ONE customer's flow over GDAP (consent bootstrap, role fixes,
// service principal, directory roles, audit logging, mapping) with its own
// receipt, journal and lock, and reports what happens through sink. It
// returns when the tenant's work is done (mapped: pending) or it cannot go
// on; the batch watches health for all tenants with one request.
type Runner interface {
	RunTenant(ctx context.Context, t Tenant, sink func(steps.BatchEvent)) Result
}

// RunnerFunc adapts a function to Runner.
type RunnerFunc func(ctx context.Context, t Tenant, sink func(steps.BatchEvent)) Result

// RunTenant implements Runner.
func (f RunnerFunc) RunTenant(ctx context.Context, t Tenant, sink func(steps.BatchEvent)) Result {
	return f(ctx, t, sink)
}

// Result is how one tenant's flow ended.
type Result struct {
	// State: healthy, pending (mapped, no data yet), failed, handed-off
	// (Lane then says why: ca-blocked, no-exchange, not-consented, partial…).
	State steps.TenantState
	Lane  partner.Lane
	// Message is the last word, Next the next action.
	Message, Next string
	HandOff       *steps.HandOff
	ReceiptPath   string
	JournalPath   string
	IntegrationID string
	Evidence      string
	Changes       int
	// Interrupted: the run was cancelled (ctrl+c) before it ended; the
	// tenant is run again by `batch resume`.
	Interrupted bool
}

// HealthLister is the one health request of the batch per interval
// (*SharedPlatform): HealthChanges returns the integrations created or
// changed since its previous call (the first call: every integration), so
// while nothing changes a poll costs the same for 10 tenants or 1,000. A
// lister that returns every integration each time works too.
type HealthLister interface {
	HealthChanges(ctx context.Context) ([]platform.Integration, error)
}

// Config wires a batch run.
type Config struct {
	StateDir string
	Manifest *Manifest
	// Progress from an earlier run (resume); nil for a new batch.
	Progress *Progress
	Runner   Runner
	// Health: nil skips the health watch (pending tenants stay pending).
	Health HealthLister
	// ConsentURL is the platform's admin_consent_url template ("{tenant}").
	ConsentURL string
	// RunPartial runs partial-lane tenants (the flow hands off what the
	// missing roles prevent); otherwise they are handed off whole.
	RunPartial bool
	// OnEvent receives every event, one at a time.
	OnEvent func(steps.BatchEvent)
	// Budgets reports the upstream budgets for the snapshot header.
	Budgets func() []steps.BudgetView
	Now     func() time.Time
}

// Batch is one run of a batch (a new one or a resume).
type Batch struct {
	cfg  Config
	opt  Options
	man  *Manifest
	mu   sync.Mutex
	rows map[string]*steps.BatchTenant
	ord  []string
	// lower maps a tenant id in lower case to its id in rows (the
	// platform's integrations name tenants in lower case).
	lower map[string]string
	prog  *Progress
	// logged counts the progress log's lines since the last snapshot.
	logged int

	queue    []string
	running  int
	paused   bool
	finished bool
	notify   chan struct{} // workers: work may be available
	changed  chan struct{}
	closed   bool
	evMu     sync.Mutex
	durs     []time.Duration
	started  time.Time
	receipt  string
	healthOK map[string]bool
	// ended is the batch receipt's end (a batch opened from disk keeps
	// it); healthRead is when batch status last read health.
	ended, healthRead time.Time
}

// New prepares a batch run: every tenant's starting state from the
// manifest, the progress of earlier runs and the (re-derived) lanes.
func New(cfg Config) *Batch {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m := cfg.Manifest
	b := &Batch{cfg: cfg, opt: m.Options.WithDefaults(), man: m, rows: map[string]*steps.BatchTenant{}, lower: map[string]string{},
		notify: make(chan struct{}, 1), changed: make(chan struct{}, 1), healthOK: map[string]bool{}}
	b.prog = cfg.Progress
	if b.prog == nil {
		b.prog = &Progress{ID: m.ID, Tenants: map[string]*TenantProgress{}}
	}
	b.started = m.Created
	for _, t := range m.Tenants {
		row := &steps.BatchTenant{TenantID: t.TenantID, Name: t.Name, Domain: t.Domain, Lane: string(t.Lane),
			Org: t.Org, OrgID: t.OrgID, OrgNote: t.OrgNote, State: steps.TenantQueued}
		if p := b.prog.Tenants[t.TenantID]; p != nil {
			row.State, row.Started, row.Ended, row.Retries = p.State, p.Started, p.Ended, p.Retries
			row.Message, row.Next, row.HandOff, row.ReceiptPath, row.JournalPath = p.Message, p.Next, p.HandOff, p.ReceiptPath, p.JournalPath
			row.Evidence, row.Changes = p.Evidence, p.Changes
		}
		b.rows[t.TenantID] = row
		b.lower[strings.ToLower(t.TenantID)] = t.TenantID
		b.ord = append(b.ord, t.TenantID)
	}
	return b
}

func (b *Batch) tenant(id string) *Tenant {
	for i := range b.man.Tenants {
		if b.man.Tenants[i].TenantID == id {
			return &b.man.Tenants[i]
		}
	}
	return nil
}

// done reports whether a tenant's earlier outcome stands on resume.
func done(p *TenantProgress) bool {
	if p == nil {
		return false
	}
	switch p.State {
	case steps.TenantHealthy, steps.TenantPending:
		return true
	}
	return false
}

// plan decides each tenant's start: kept (done earlier), skipped, handed
// off, failed (no organization), or queued.
func (b *Batch) plan() {
	now := b.cfg.Now()
	// Settling tenants queue after the others, soonest ready first, so a
	// worker waiting for one does not hold up tenants that are ready.
	var settling []string
	defer func() {
		sort.SliceStable(settling, func(i, j int) bool {
			ri, rj := b.tenant(settling[i]).Row.ReadyAt, b.tenant(settling[j]).Row.ReadyAt
			return ri != nil && (rj == nil || ri.Before(*rj))
		})
		b.queue = append(b.queue, settling...)
	}()
	for _, id := range b.ord {
		t := b.tenant(id)
		row := b.rows[id]
		p := b.prog.Tenants[id]
		if done(p) {
			if row.State == steps.TenantPending {
				row.Message = "mapped earlier; watching health"
			}
			continue
		}
		row.Lane = string(t.Lane)
		row.HandOff, row.Next = nil, ""
		consent := ConsentURL(b.cfg.ConsentURL, id)
		switch {
		case t.Lane == partner.LaneConnected:
			b.setFinal(row, steps.TenantSkipped, "already connected to the platform: left as it is", "`itdr-onboard status --tenant "+id+"` shows its health", nil)
		case t.Lane == partner.LaneConflict:
			b.setFinal(row, steps.TenantSkipped, "mapped to another organization ("+t.Row.Organization+"): left alone", t.Row.Remedy, nil)
		case t.Lane == partner.LaneNoGDAP || t.Lane == partner.LaneNotAssigned || (t.Lane == partner.LanePartial && !b.cfg.RunPartial):
			h := HandOffFor(*t, consent)
			b.setFinal(row, steps.TenantHandedOff, h.Reason, handOffNext(h), h)
		case t.OrgID == "":
			b.setFinal(row, steps.TenantFailed, "no platform organization to map it to", t.OrgNote, nil)
		case t.Lane == partner.LaneSettling:
			ready := now
			if t.Row.ReadyAt != nil {
				ready = *t.Row.ReadyAt
			}
			if ready.Sub(now) > b.opt.SettleWait {
				b.setFinal(row, steps.TenantSkipped, "settling: Microsoft is still propagating the relationship (ready at "+ready.UTC().Format("15:04 MST")+")",
					"run `itdr-onboard batch resume --batch "+b.man.ID+"` after "+ready.UTC().Format("15:04 MST")+" (beyond --settle-wait "+shortDur(b.opt.SettleWait)+")", nil)
				continue
			}
			row.State, row.Message, row.Ended = steps.TenantQueued, "settling until "+ready.UTC().Format("15:04:05 MST"), time.Time{}
			settling = append(settling, id)
		default:
			row.State, row.Ended = steps.TenantQueued, time.Time{}
			if row.Message == "" || p != nil {
				row.Message = "queued"
			}
			b.queue = append(b.queue, id)
		}
	}
}

func handOffNext(h *steps.HandOff) string {
	if h == nil {
		return ""
	}
	who := "the customer"
	if h.Who == "partner" {
		who = "you (partner side)"
	}
	s := "for " + who + ": " + h.CustomerAction
	if h.Link != "" {
		s += " Link: " + h.Link
	}
	return s
}

func (b *Batch) setFinal(row *steps.BatchTenant, st steps.TenantState, msg, next string, h *steps.HandOff) {
	row.State, row.Message, row.Next, row.HandOff = st, msg, next, h
	if row.Ended.IsZero() {
		row.Ended = b.cfg.Now()
	}
}

// Run runs the batch to its end (or until ctx ends) and returns the final
// snapshot. The progress is on disk after every tenant change; the batch
// receipt and the hand-off files are written at the end.
func (b *Batch) Run(ctx context.Context) (steps.BatchSnapshot, error) {
	b.mu.Lock()
	b.prog.Runs++
	b.prog.Finished = false
	b.plan()
	err := b.saveLocked()
	b.mu.Unlock()
	if err != nil {
		return b.Snapshot(), err
	}
	b.emit(steps.BatchEvent{Type: steps.EventBatchStarted, Message: fmt.Sprintf("batch %s: %d tenants, %d to run, %d at a time", b.man.ID, len(b.ord), len(b.queue), b.opt.Parallel),
		Fields: map[string]any{"batch_id": b.man.ID, "tenants": len(b.ord), "queued": len(b.queue), "parallel": b.opt.Parallel}})
	for _, id := range b.ord {
		r := b.rows[id]
		if r.State.Final() {
			b.emitState(*r)
		}
	}
	var wg sync.WaitGroup
	for i := 0; i < b.opt.Parallel; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); b.worker(ctx) }()
	}
	workersDone := make(chan struct{})
	go func() { wg.Wait(); close(workersDone) }()
	b.watchHealth(ctx, workersDone)
	<-workersDone

	b.mu.Lock()
	interrupted := ctx.Err() != nil
	for _, id := range b.ord {
		if r := b.rows[id]; !r.State.Final() {
			interrupted = true
			if r.State != steps.TenantQueued {
				r.State, r.Message = steps.TenantQueued, "interrupted: `batch resume` continues it"
			}
		}
	}
	b.finished = !interrupted
	b.prog.Finished = !interrupted
	b.pendingNextLocked()
	err = b.saveLocked()
	b.mu.Unlock()
	if rerr := b.writeRecord(); err == nil {
		err = rerr
	}
	snap := b.Snapshot()
	b.emit(steps.BatchEvent{Type: steps.EventBatchFinished, Message: SummaryLine(snap), Fields: map[string]any{"batch_id": b.man.ID, "counts": snap.Counts, "finished": snap.Finished, "receipt": b.receipt}})
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.changed)
	}
	b.mu.Unlock()
	if interrupted && err == nil {
		err = context.Canceled
		if ctx.Err() != nil {
			err = ctx.Err()
		}
	}
	return snap, err
}

// next takes the next queued tenant; ok false when there is nothing left
// to run (and nothing running that could queue more).
func (b *Batch) next(ctx context.Context) (string, bool) {
	for {
		b.mu.Lock()
		if ctx.Err() != nil {
			b.mu.Unlock()
			return "", false
		}
		if !b.paused && len(b.queue) > 0 {
			id := b.queue[0]
			b.queue = b.queue[1:]
			b.running++
			b.mu.Unlock()
			return id, true
		}
		if len(b.queue) == 0 && b.running == 0 {
			b.mu.Unlock()
			b.wake()
			return "", false
		}
		b.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-b.notify:
		}
	}
}

func (b *Batch) wake() {
	select {
	case b.notify <- struct{}{}:
	default:
	}
}

func (b *Batch) worker(ctx context.Context) {
	for {
		id, ok := b.next(ctx)
		if !ok {
			b.wake() // let the other workers see the end too
			return
		}
		b.runOne(ctx, id)
		b.mu.Lock()
		b.running--
		b.mu.Unlock()
		b.wake()
	}
}

func (b *Batch) runOne(ctx context.Context, id string) {
	t := *b.tenant(id)
	b.mu.Lock()
	row := b.rows[id]
	if t.Lane == partner.LaneSettling && t.Row.ReadyAt != nil {
		if wait := t.Row.ReadyAt.Sub(b.cfg.Now()); wait > 0 {
			row.State, row.Message = steps.TenantWaiting, "settling: waiting until "+t.Row.ReadyAt.UTC().Format("15:04:05 MST")+" for Microsoft to propagate the relationship"
			b.mu.Unlock()
			b.emitState(*row)
			tm := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				tm.Stop()
				return
			case <-tm.C:
			}
			b.mu.Lock()
		}
	}
	p := b.progLocked(id)
	if p.Attempts > 0 && !p.Started.IsZero() {
		t.Interrupted = p.Started
	}
	p.Attempts++
	row.State, row.Started, row.Ended, row.Message = steps.TenantRunning, b.cfg.Now(), time.Time{}, "started"
	if p.Attempts > 1 {
		row.Message = "started again (attempt " + fmt.Sprint(p.Attempts) + ")"
	}
	_ = b.saveTenantsLocked(id)
	snap := *row
	b.mu.Unlock()
	b.emitState(snap)

	res := b.cfg.Runner.RunTenant(ctx, t, func(ev steps.BatchEvent) { b.tenantEvent(id, ev) })

	b.mu.Lock()
	if res.Interrupted || (ctx.Err() != nil && !res.State.Final()) {
		row.State, row.Message = steps.TenantQueued, "interrupted: `batch resume` continues it"
		_ = b.saveTenantsLocked(id)
		b.mu.Unlock()
		b.changedSignal()
		return
	}
	if res.Lane != "" {
		row.Lane = string(res.Lane)
	}
	st := res.State
	if !st.Final() {
		st = steps.TenantFailed
	}
	h := res.HandOff
	if st == steps.TenantHandedOff && h == nil {
		tt := t
		if res.Lane != "" {
			tt.Lane = res.Lane
		}
		h = HandOffFor(tt, ConsentURL(b.cfg.ConsentURL, id))
	}
	if h != nil && h.Link == "" && h.Who != "partner" {
		// One link for the customer: the platform's admin-consent URL.
		if u := ConsentURL(b.cfg.ConsentURL, id); u != "" {
			c := *h
			c.Link, c.LinkKind = u, "admin-consent"
			h = &c
		}
	}
	next := res.Next
	if next == "" && h != nil {
		next = handOffNext(h)
	}
	row.ReceiptPath, row.JournalPath, row.Evidence, row.Changes = res.ReceiptPath, res.JournalPath, res.Evidence, res.Changes
	msg := res.Message
	if msg == "" {
		msg = string(st)
	}
	row.State, row.Message, row.Next, row.HandOff = st, msg, next, h
	row.Ended = b.cfg.Now()
	if st == steps.TenantPending || st == steps.TenantHealthy {
		b.durs = append(b.durs, row.Ended.Sub(row.Started))
	}
	p = b.progLocked(id)
	p.IntegrationID = res.IntegrationID
	_ = b.saveTenantsLocked(id)
	snap = *row
	b.mu.Unlock()
	b.emitState(snap)
	if h != nil && st == steps.TenantHandedOff {
		b.emit(steps.BatchEvent{TenantID: id, Tenant: snap.Name, Type: steps.EventHandOff, State: st, Message: h.Reason,
			Fields: map[string]any{"handoff": h}})
	}
}

// tenantEvent takes a tenant flow's event: the row follows it, and the
// event goes to the front-end tagged with the tenant.
func (b *Batch) tenantEvent(id string, ev steps.BatchEvent) {
	b.mu.Lock()
	row := b.rows[id]
	ev.TenantID, ev.Tenant = id, row.Name
	if ev.Time.IsZero() {
		ev.Time = b.cfg.Now()
	}
	if ev.Step != "" {
		row.Step = ev.Step
	}
	if title, ok := ev.Fields["title"].(string); ok && ev.Type == "step_started" {
		row.StepTitle = title
	}
	if strings.Contains(ev.Type, "retry") || ev.Type == steps.EventBudgetWait {
		row.Retries++
	}
	switch ev.State {
	case steps.TenantWaiting, steps.TenantRunning:
		row.State = ev.State
	}
	if ev.Message != "" {
		row.Message = ev.Message
	}
	if p, ok := ev.Fields["receipt"].(string); ok && p != "" {
		row.ReceiptPath = p
	}
	b.mu.Unlock()
	b.emit(ev)
}

func (b *Batch) progLocked(id string) *TenantProgress {
	p := b.prog.Tenants[id]
	if p == nil {
		p = &TenantProgress{TenantID: id}
		b.prog.Tenants[id] = p
	}
	return p
}

// saveLocked mirrors every row into the progress and writes it whole (a
// snapshot: at the start and the end of a run, and when the change log
// has grown as long as the batch).
func (b *Batch) saveLocked() error {
	for _, id := range b.ord {
		b.mirrorLocked(id)
	}
	b.prog.Updated = b.cfg.Now().UTC()
	err := SaveProgress(b.cfg.StateDir, b.prog)
	if err == nil {
		b.logged = 0
	}
	b.changedSignal()
	return err
}

// saveTenantsLocked records the change of the tenants ids: each one's
// progress is appended to the change log, so a change costs the same in a
// batch of 10 or 1,000 (a snapshot once the log holds as many lines as the
// batch has tenants keeps it short: amortised, the same again).
func (b *Batch) saveTenantsLocked(ids ...string) error {
	now := b.cfg.Now().UTC()
	b.prog.Updated = now
	var err error
	for _, id := range ids {
		p := b.mirrorLocked(id)
		if e := AppendProgress(b.cfg.StateDir, b.prog.ID, now, p); e != nil && err == nil {
			err = e
		}
		b.logged++
	}
	if err != nil || b.logged >= max(progressLogMin, len(b.ord)) {
		// Also the way out when the log cannot be appended to.
		return b.saveLocked()
	}
	b.changedSignal()
	return nil
}

// progressLogMin is the fewest lines the change log takes before a
// snapshot.
const progressLogMin = 64

// mirrorLocked copies a row into its progress.
func (b *Batch) mirrorLocked(id string) *TenantProgress {
	r := b.rows[id]
	p := b.progLocked(id)
	p.State, p.Lane, p.Started, p.Ended, p.Retries = r.State, partner.Lane(r.Lane), r.Started, r.Ended, r.Retries
	p.Message, p.Next, p.HandOff, p.ReceiptPath, p.JournalPath = r.Message, r.Next, r.HandOff, r.ReceiptPath, r.JournalPath
	p.Evidence, p.Changes = r.Evidence, r.Changes
	return p
}

func (b *Batch) changedSignal() {
	if b.closed {
		return
	}
	select {
	case b.changed <- struct{}{}:
	default:
	}
}

// watchHealth polls the platform for every pending tenant with ONE request
// per interval, until none is pending after the workers are done, or the
// health wait has passed since they were.
func (b *Batch) watchHealth(ctx context.Context, workersDone <-chan struct{}) {
	if b.cfg.Health == nil {
		return
	}
	var deadline time.Time
	wDone := workersDone
	tick := time.NewTimer(b.opt.HealthPoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-wDone:
			wDone = nil
			deadline = b.cfg.Now().Add(b.opt.HealthWait)
			if b.pendingCount() == 0 || b.opt.HealthWait <= 0 {
				return
			}
			_ = b.poll(ctx) // once right away: the last mappings may already be healthy
			continue
		case <-tick.C:
			tick.Reset(b.opt.HealthPoll)
		}
		if b.pendingCount() == 0 {
			if wDone == nil {
				return
			}
			continue
		}
		_ = b.poll(ctx)
		if wDone == nil && (b.pendingCount() == 0 || !b.cfg.Now().Before(deadline)) {
			return
		}
	}
}

// PendingNext is the next action of a tenant still pending when a run
// ends: `batch status` later reads the health of every pending tenant
// with one platform request (the evidence rung reached stays on the row).
func PendingNext(id string) string {
	return "`itdr-onboard batch status --batch " + id + "` later reads their health again with one platform request (the first audit data can take up to 24 hours)"
}

// pendingNextLocked words the end of the health wait on the tenants still
// pending: how long it watched, and the next action.
func (b *Batch) pendingNextLocked() {
	msg := "mapped; no audit data yet — health not watched (--health-wait 0)"
	if b.cfg.Health == nil {
		msg = "mapped; no audit data yet — health not watched"
	} else if b.opt.HealthWait > 0 {
		msg = "mapped; no audit data yet after watching health for " + shortDur(b.opt.HealthWait)
	}
	for _, id := range b.ord {
		if r := b.rows[id]; r.State == steps.TenantPending {
			r.Message, r.Next = msg, PendingNext(b.man.ID)
		}
	}
}

func (b *Batch) pendingCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, id := range b.ord {
		if b.rows[id].State == steps.TenantPending {
			n++
		}
	}
	return n
}

// poll is the health wait's one request for every pending tenant: it
// applies what changed to the pending rows, and writes the progress and
// emits events only for tenants whose health changed (an unchanged poll
// costs next to nothing, however large the batch). batch status refreshes
// through it too (RefreshHealth).
func (b *Batch) poll(ctx context.Context) error {
	changed, err := b.cfg.Health.HealthChanges(ctx)
	if err != nil {
		b.emit(steps.BatchEvent{Type: "health_error", Message: "health poll: " + err.Error()})
		return err
	}
	var evs []steps.BatchEvent
	b.mu.Lock()
	for _, in := range changed {
		id, ok := b.lower[strings.ToLower(in.TenantID)]
		if !ok {
			continue
		}
		row := b.rows[id]
		if row.State != steps.TenantPending {
			continue
		}
		before := *row
		f := map[string]any{"status": in.Status, "reason_code": in.ReasonCode, "reason": in.Reason, "integration_id": in.ID}
		switch in.Status {
		case platform.StatusHealthy:
			row.State, row.Message, row.Next = steps.TenantHealthy, "healthy: audit data is flowing", ""
			row.Evidence = "5 Platform confirms"
		case platform.StatusUnhealthy:
			row.Message = "unhealthy: " + in.Reason
			row.Next = "`itdr-onboard status --tenant " + id + "` and fix: " + in.ReasonCode
		default:
			if in.Reason != "" {
				row.Message = in.Reason
			}
		}
		if row.State == before.State && row.Message == before.Message && row.Next == before.Next && row.Evidence == before.Evidence {
			continue
		}
		evs = append(evs, steps.BatchEvent{TenantID: id, Tenant: row.Name, Step: steps.Health, Type: "health", State: row.State, Message: row.Message, Fields: f})
	}
	if len(evs) > 0 {
		ids := make([]string, len(evs))
		for i, ev := range evs {
			ids[i] = ev.TenantID
		}
		err = b.saveTenantsLocked(ids...)
	}
	b.mu.Unlock()
	for _, ev := range evs {
		b.emit(ev)
	}
	return err
}

func (b *Batch) emitState(r steps.BatchTenant) {
	f := map[string]any{"state": r.State, "lane": r.Lane}
	if r.Next != "" {
		f["next"] = r.Next
	}
	if r.ReceiptPath != "" {
		f["receipt"] = r.ReceiptPath
	}
	if r.Org != "" {
		f["organization"], f["organization_id"] = r.Org, r.OrgID
	}
	if r.OrgNote != "" && r.State == steps.TenantRunning {
		f["organization_note"] = r.OrgNote
	}
	b.emit(steps.BatchEvent{TenantID: r.TenantID, Tenant: r.Name, Step: r.Step, Type: steps.EventTenantState, State: r.State, Message: r.Message, Fields: f})
}

func (b *Batch) emit(ev steps.BatchEvent) {
	if ev.Time.IsZero() {
		ev.Time = b.cfg.Now()
	}
	if b.cfg.OnEvent == nil {
		return
	}
	b.evMu.Lock()
	defer b.evMu.Unlock()
	b.cfg.OnEvent(ev)
}

// Snapshot implements steps.BatchControl.
func (b *Batch) Snapshot() steps.BatchSnapshot {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.cfg.Now()
	s := steps.BatchSnapshot{ID: b.man.ID, Partner: b.man.Partner, User: b.man.User, Started: b.started, Now: now,
		Parallel: b.opt.Parallel, Paused: b.paused, Finished: b.finished,
		ManifestPath: filepath.Join(Dir(b.cfg.StateDir, b.man.ID), ManifestFile), ReceiptPath: b.receipt}
	left := 0
	for _, id := range b.ord {
		r := *b.rows[id]
		s.Tenants = append(s.Tenants, r)
		if !r.State.Final() {
			left++
		}
	}
	s.Counts = steps.CountStates(s.Tenants)
	if len(b.durs) > 0 && left > 0 {
		var sum time.Duration
		for _, d := range b.durs {
			sum += d
		}
		avg := sum / time.Duration(len(b.durs))
		rounds := (left + b.opt.Parallel - 1) / b.opt.Parallel
		s.ETA = now.Add(avg * time.Duration(rounds))
	}
	if b.cfg.Budgets != nil {
		s.Budgets = b.cfg.Budgets()
	}
	return s
}

// Changed implements steps.BatchControl.
func (b *Batch) Changed() <-chan struct{} { return b.changed }

// Retry implements steps.BatchControl: a failed or handed-off tenant is
// queued again (its flow resumes from its own journal).
func (b *Batch) Retry(id string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.rows[id]
	if r == nil {
		return fmt.Errorf("no tenant %s in batch %s", id, b.man.ID)
	}
	if r.State != steps.TenantFailed && r.State != steps.TenantHandedOff {
		return fmt.Errorf("%s is %s: only failed or handed-off tenants are retried", r.Name, r.State)
	}
	if b.finished || b.closed {
		return errors.New("the batch has ended: `itdr-onboard batch resume` runs it again")
	}
	r.State, r.Message, r.Retries = steps.TenantQueued, "queued again", r.Retries+1
	b.queue = append(b.queue, id)
	_ = b.saveTenantsLocked(id)
	b.wake()
	return nil
}

// Pause implements steps.BatchControl.
func (b *Batch) Pause(on bool) {
	b.mu.Lock()
	b.paused = on
	b.changedSignal()
	b.mu.Unlock()
	b.wake()
}

// Journal implements steps.BatchControl: the tenant's write-ahead journal
// lines (as written) and where its receipt is.
func (b *Batch) Journal(id string) ([]string, error) {
	b.mu.Lock()
	r := b.rows[id]
	b.mu.Unlock()
	if r == nil {
		return nil, fmt.Errorf("no tenant %s in batch %s", id, b.man.ID)
	}
	var out []string
	if r.ReceiptPath != "" {
		out = append(out, "receipt: "+r.ReceiptPath)
	}
	if r.JournalPath == "" {
		return append(out, "no journal yet"), nil
	}
	data, err := os.ReadFile(r.JournalPath)
	if err != nil {
		return out, err
	}
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if l != "" {
			out = append(out, text.Line(l))
		}
	}
	return out, nil
}

// ReceiptTenant is one tenant in the batch receipt.
type ReceiptTenant struct {
	TenantID      string            `json:"tenant_id"`
	Name          string            `json:"name"`
	Lane          string            `json:"lane"`
	Outcome       steps.TenantState `json:"outcome"`
	Organization  string            `json:"organization,omitempty"`
	OrgID         string            `json:"organization_id,omitempty"`
	IntegrationID string            `json:"integration_id,omitempty"`
	Evidence      string            `json:"evidence,omitempty"`
	Changes       int               `json:"changes"`
	Receipt       string            `json:"receipt,omitempty"`
	Message       string            `json:"message,omitempty"`
	Next          string            `json:"next,omitempty"`
	HandOff       *steps.HandOff    `json:"handoff,omitempty"`
}

// Receipt is the batch receipt: every tenant's outcome.
type Receipt struct {
	ID       string    `json:"batch_id"`
	User     string    `json:"user"`
	Partner  string    `json:"partner_tenant_id"`
	Started  time.Time `json:"started"`
	Ended    time.Time `json:"ended"`
	Runs     int       `json:"runs"`
	Finished bool      `json:"finished"`
	// HealthRead is when `batch status` last refreshed the pending
	// tenants' health (after the run's own health wait).
	HealthRead time.Time          `json:"health_read,omitzero"`
	Counts     []steps.StateCount `json:"counts"`
	Tenants    []ReceiptTenant    `json:"tenants"`
}

func (b *Batch) writeRecord() error {
	snap := b.Snapshot()
	b.mu.Lock()
	ended := b.ended
	if ended.IsZero() {
		ended = b.cfg.Now()
	}
	rc := Receipt{ID: b.man.ID, User: b.man.User, Partner: b.man.Partner, Started: b.started.UTC(), Ended: ended.UTC(),
		Runs: b.prog.Runs, Finished: b.prog.Finished, HealthRead: b.healthRead.UTC(), Counts: snap.Counts}
	for _, r := range snap.Tenants {
		p := b.prog.Tenants[r.TenantID]
		rt := ReceiptTenant{TenantID: r.TenantID, Name: r.Name, Lane: r.Lane, Outcome: r.State, Organization: r.Org, OrgID: r.OrgID,
			Evidence: r.Evidence, Changes: r.Changes, Receipt: r.ReceiptPath, Message: r.Message, Next: r.Next, HandOff: r.HandOff}
		if p != nil {
			rt.IntegrationID = p.IntegrationID
		}
		rc.Tenants = append(rc.Tenants, rt)
	}
	b.mu.Unlock()
	dir := Dir(b.cfg.StateDir, b.man.ID)
	data, err := text.MarshalIndent(rc, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(dir, ReceiptFile)
	if err := atomicfile.Write(path, append(data, '\n'), 0o600); err != nil {
		return err
	}
	b.mu.Lock()
	b.receipt = path
	b.mu.Unlock()
	return WriteHandOffFiles(dir, snap)
}

// WriteHandOffFiles writes handoff.csv and handoff.md of a snapshot into dir.
func WriteHandOffFiles(dir string, snap steps.BatchSnapshot) error {
	rows := HandOffRows(snap)
	var csvb, mdb strings.Builder
	if err := WriteHandOffCSV(&csvb, rows); err != nil {
		return err
	}
	if err := WriteHandOffMarkdown(&mdb, snap.ID, rows); err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, HandoffCSV), []byte(csvb.String()), 0o600); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, HandoffMD), []byte(mdb.String()), 0o600)
}

// SnapshotFromDisk rebuilds a batch's snapshot from its manifest and
// progress (`batch status`, `batch handoff`): no network.
func SnapshotFromDisk(stateDir, id string, now time.Time) (steps.BatchSnapshot, error) {
	b, err := Open(Config{StateDir: stateDir, Now: func() time.Time { return now }}, id)
	if err != nil {
		return steps.BatchSnapshot{}, err
	}
	return b.Snapshot(), nil
}

// Open loads a batch that is not running from its manifest and progress
// (cfg.Manifest and cfg.Progress are read from cfg.StateDir): `batch status`
// reads its snapshot and may refresh its health (RefreshHealth).
func Open(cfg Config, id string) (*Batch, error) {
	m, err := LoadManifest(cfg.StateDir, id)
	if err != nil {
		return nil, err
	}
	p, err := LoadProgress(cfg.StateDir, id)
	if err != nil {
		return nil, err
	}
	cfg.Manifest, cfg.Progress = m, p
	b := New(cfg)
	b.finished = p.Finished
	path := filepath.Join(Dir(cfg.StateDir, id), ReceiptFile)
	if data, err := os.ReadFile(path); err == nil {
		b.receipt = path
		var rc Receipt
		if json.Unmarshal(data, &rc) == nil {
			b.ended = rc.Ended
		}
	}
	return b, nil
}

// PendingCount is the number of tenants mapped and waiting for data.
func (b *Batch) PendingCount() int { return b.pendingCount() }

// RefreshHealth reads the health of a batch that is not running (`batch
// status`, its caller holding the batch's lock) with the health wait's own
// request (poll: ONE list request for every pending tenant), and records it
// as the end of a run does: the progress, the batch receipt and the
// hand-off files. It returns how many tenants turned healthy. With no tenant
// pending it sends nothing.
func (b *Batch) RefreshHealth(ctx context.Context) (int, error) {
	if b.cfg.Health == nil {
		return 0, errors.New("no platform client to read health with")
	}
	before := map[string]bool{}
	b.mu.Lock()
	for _, id := range b.ord {
		if b.rows[id].State == steps.TenantPending {
			before[id] = true
		}
	}
	b.mu.Unlock()
	if len(before) == 0 {
		return 0, nil
	}
	if err := b.poll(ctx); err != nil {
		return 0, err
	}
	b.mu.Lock()
	b.healthRead = b.cfg.Now()
	n := 0
	for id := range before {
		if b.rows[id].State == steps.TenantHealthy {
			n++
		}
	}
	b.mu.Unlock()
	return n, b.writeRecord()
}

// SummaryLine is the batch in one line: counts per state.
func SummaryLine(s steps.BatchSnapshot) string {
	var parts []string
	for _, c := range s.Counts {
		parts = append(parts, fmt.Sprintf("%d %s", c.N, c.State))
	}
	return fmt.Sprintf("%d tenants: %s", len(s.Tenants), strings.Join(parts, ", "))
}

// Exit codes of `batch run` / `batch resume` (README "Exit codes").
const (
	ExitAllDone     = 0   // every tenant healthy or skipped
	ExitFailed      = 1   // at least one tenant failed
	ExitPending     = 4   // none failed or handed off; some wait for data
	ExitHandedOff   = 5   // none failed; some need their customer
	ExitInterrupted = 130 // stopped: `batch resume` continues
)

// ExitCode maps a finished batch to its exit code: failed > handed off >
// pending > all done.
func ExitCode(s steps.BatchSnapshot) int {
	if !s.Finished {
		return ExitInterrupted
	}
	switch {
	case s.Count(steps.TenantFailed) > 0:
		return ExitFailed
	case s.Count(steps.TenantHandedOff) > 0:
		return ExitHandedOff
	case s.Count(steps.TenantPending) > 0:
		return ExitPending
	}
	return ExitAllDone
}

// SortedByState returns the tenants grouped by state (summary order).
func SortedByState(ts []steps.BatchTenant) []steps.BatchTenant {
	order := map[steps.TenantState]int{}
	for i, st := range steps.TenantStates() {
		order[st] = i
	}
	out := append([]steps.BatchTenant(nil), ts...)
	sort.SliceStable(out, func(i, j int) bool { return order[out[i].State] < order[out[j].State] })
	return out
}

// Recorded is when the batch's progress was last written.
func (b *Batch) Recorded() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.prog.Updated
}

// ShortDuration is d as a person writes it: 15m, 1h30m, 45s.
func ShortDuration(d time.Duration) string { return shortDur(d) }

// shortDur is d as a person writes it: 15m, 1h30m, 45s.
func shortDur(d time.Duration) string {
	if d < time.Second {
		return d.String()
	}
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
