package steps

import (
	"time"
)

// Batch run over GDAP (issue 21): the state of a batch as every front-end
// draws it. The orchestrator (package batch) owns the state and hands out
// BatchSnapshot values and BatchEvent values; ui/tui (the watch screen),
// ui/plain (one line per tenant event) and --json read these types alone —
// never the orchestrator's, partner's or platform's.

// TenantState is where one tenant of a batch stands.
type TenantState string

const (
	// TenantQueued: selected, not started yet.
	TenantQueued TenantState = "queued"
	// TenantRunning: a worker runs its flow.
	TenantRunning TenantState = "running"
	// TenantWaiting: its flow waits (a Retry-After, propagation, consent
	// back-off); Message says for what and until when.
	TenantWaiting TenantState = "waiting"
	// TenantHealthy: mapped and the platform reports data flowing.
	TenantHealthy TenantState = "healthy"
	// TenantPending: mapped, no data yet; Evidence names the highest rung
	// reached. The batch health poll keeps watching it.
	TenantPending TenantState = "pending"
	// TenantFailed: its flow failed; Message and Next say why and what to do.
	TenantFailed TenantState = "failed"
	// TenantHandedOff: it needs its customer (HandOff says what and how).
	TenantHandedOff TenantState = "handed-off"
	// TenantSkipped: nothing to do (already connected, conflict left alone).
	TenantSkipped TenantState = "skipped"
)

// TenantStates lists the states in display order (header counts).
func TenantStates() []TenantState {
	return []TenantState{TenantQueued, TenantRunning, TenantWaiting, TenantHealthy, TenantPending, TenantFailed, TenantHandedOff, TenantSkipped}
}

// Final reports whether a tenant in this state is finished for this run
// (pending counts as finished: its work is done, only the platform's data
// is awaited).
func (s TenantState) Final() bool {
	switch s {
	case TenantHealthy, TenantPending, TenantFailed, TenantHandedOff, TenantSkipped:
		return true
	}
	return false
}

// Glyph is the state's one-character mark in tables and lines:
// ○ queued, ⠋ running, ⏸ waiting, ✓ healthy, … pending, ✗ failed,
// ⇢ handed off, – skipped.
func (s TenantState) Glyph() string {
	switch s {
	case TenantQueued:
		return "○"
	case TenantRunning:
		return "⠋"
	case TenantWaiting:
		return "⏸"
	case TenantHealthy:
		return "✓"
	case TenantPending:
		return "…"
	case TenantFailed:
		return "✗"
	case TenantHandedOff:
		return "⇢"
	case TenantSkipped:
		return "–"
	}
	return "?"
}

// Mark is how a row in this state is coloured (the same marks as check rows).
func (s TenantState) Mark() Mark {
	switch s {
	case TenantRunning, TenantWaiting:
		return MarkRunning
	case TenantHealthy:
		return MarkPass
	case TenantPending, TenantHandedOff:
		return MarkWarn
	case TenantFailed:
		return MarkFail
	case TenantSkipped:
		return MarkSkip
	}
	return MarkPending
}

// HandOff is what a tenant that needs its customer shows: the reason in
// plain words, what the customer must do, and one link.
type HandOff struct {
	// Reason: why the partner cannot finish it ("no GDAP relationship").
	Reason string `json:"reason"`
	// CustomerAction: what the customer (or the partner, for a
	// partner-side fix) must do, in one or two sentences.
	CustomerAction string `json:"customer_action"`
	// Who does it: "customer" or "partner".
	Who string `json:"who"`
	// Link is the one link to send (GDAP invitation, admin-consent URL,
	// Partner Center page); LinkKind names it: gdap-invite, admin-consent,
	// partner-center.
	Link     string `json:"link,omitempty"`
	LinkKind string `json:"link_kind,omitempty"`
	// Steps are the steps left undone for the customer (partial lanes).
	Steps []string `json:"steps,omitempty"`
}

// BatchTenant is one row of the batch: a tenant and where it stands.
type BatchTenant struct {
	TenantID string `json:"tenant_id"`
	Name     string `json:"name"`
	Domain   string `json:"domain,omitempty"`
	// Lane is the discovery lane (re-derived on resume).
	Lane string `json:"lane"`
	// Org and OrgID are the platform organization it maps to; OrgNote
	// warns when the match is not exact ("best match for …").
	Org     string `json:"organization,omitempty"`
	OrgID   string `json:"organization_id,omitempty"`
	OrgNote string `json:"organization_note,omitempty"`
	// Step is the current (or last) step of its flow, StepTitle its title.
	Step      ID          `json:"step,omitempty"`
	StepTitle string      `json:"step_title,omitempty"`
	State     TenantState `json:"state"`
	// Started and Ended bound its run (zero when not started / not ended).
	Started time.Time `json:"started,omitzero"`
	Ended   time.Time `json:"ended,omitzero"`
	// Retries counts the retried attempts (of its steps, and batch retries).
	Retries int `json:"retries"`
	// Message is the last thing that happened, one line.
	Message string `json:"message,omitempty"`
	// ReceiptPath and JournalPath are its record (state dir).
	ReceiptPath string `json:"receipt,omitempty"`
	JournalPath string `json:"journal,omitempty"`
	// HandOff is set for handed-off tenants (and partial ones whose
	// remaining steps need the customer).
	HandOff *HandOff `json:"handoff,omitempty"`
	// Evidence is the highest evidence rung reached (pending tenants).
	Evidence string `json:"evidence,omitempty"`
	// Next is the next action, in words.
	Next string `json:"next,omitempty"`
	// Changes counts the changes made in it (applied, not found).
	Changes int `json:"changes"`
}

// Elapsed is how long the tenant has run (until Ended, or now).
func (t BatchTenant) Elapsed(now time.Time) time.Duration {
	if t.Started.IsZero() {
		return 0
	}
	end := t.Ended
	if end.IsZero() {
		end = now
	}
	if end.Before(t.Started) {
		return 0
	}
	return end.Sub(t.Started)
}

// Mark is the row's mark.
func (t BatchTenant) Mark() Mark { return t.State.Mark() }

// StateCount is how many tenants are in a state.
type StateCount struct {
	State TenantState `json:"state"`
	N     int         `json:"n"`
}

// BudgetView is one upstream budget as the header shows it
// ("platform 41/60 per min"). The budgets package fills it.
type BudgetView struct {
	Name  string        `json:"name"`
	Used  int           `json:"used"`
	Limit int           `json:"limit"`
	Per   time.Duration `json:"per"`
	// WaitUntil is set while the upstream told us to wait (Retry-After).
	WaitUntil time.Time `json:"wait_until,omitzero"`
}

// BatchSnapshot is the whole batch at one moment.
type BatchSnapshot struct {
	ID      string `json:"batch_id"`
	Partner string `json:"partner_tenant_id,omitempty"`
	User    string `json:"user,omitempty"`
	// Started is when the batch (first) started; Now the snapshot's clock.
	Started time.Time     `json:"started"`
	Now     time.Time     `json:"now"`
	Tenants []BatchTenant `json:"tenants"`
	// Counts per state, in TenantStates order, only states present.
	Counts []StateCount `json:"counts"`
	// ETA is when the work still queued or running should end (zero:
	// unknown yet — no tenant finished).
	ETA      time.Time    `json:"eta,omitzero"`
	Parallel int          `json:"parallel"`
	Paused   bool         `json:"paused,omitempty"`
	Finished bool         `json:"finished,omitempty"`
	Budgets  []BudgetView `json:"budgets,omitempty"`
	// ManifestPath and ReceiptPath are the batch's record.
	ManifestPath string `json:"manifest,omitempty"`
	ReceiptPath  string `json:"receipt,omitempty"`
}

// Count is the number of tenants in state st.
func (b BatchSnapshot) Count(st TenantState) int {
	for _, c := range b.Counts {
		if c.State == st {
			return c.N
		}
	}
	return 0
}

// CountStates computes Counts from Tenants.
func CountStates(ts []BatchTenant) []StateCount {
	n := map[TenantState]int{}
	for _, t := range ts {
		n[t.State]++
	}
	var out []StateCount
	for _, st := range TenantStates() {
		if n[st] > 0 {
			out = append(out, StateCount{State: st, N: n[st]})
		}
	}
	return out
}

// Tenant returns the row of a tenant id.
func (b BatchSnapshot) Tenant(id string) (BatchTenant, bool) {
	for _, t := range b.Tenants {
		if t.TenantID == id {
			return t, true
		}
	}
	return BatchTenant{}, false
}

// BatchEvent is one thing that happened to one tenant (or to the batch when
// TenantID is empty). Its JSON form is the onboard event schema (time,
// step, type and the type's fields) plus "tenant_id" and "tenant": Fields
// holds the onboard event's fields.
type BatchEvent struct {
	Time     time.Time
	TenantID string
	Tenant   string // the tenant's name
	Step     ID
	// Type is the onboard JSON event type (step_started, check,
	// change_applied, consent, mapped, health, receipt, finished …) or a
	// batch type: tenant_state (State changed), handoff, batch_started,
	// batch_finished, budget_wait.
	Type    string
	State   TenantState
	Message string
	Fields  map[string]any
}

// Batch event types besides the onboard ones.
const (
	EventTenantState   = "tenant_state"
	EventHandOff       = "handoff"
	EventBatchStarted  = "batch_started"
	EventBatchFinished = "batch_finished"
	EventBudgetWait    = "budget_wait"
)

// BatchControl is what the watch screen may ask of a running batch.
type BatchControl interface {
	// Snapshot is the batch now.
	Snapshot() BatchSnapshot
	// Changed is signalled (never closed while running) after each change;
	// it is closed when the batch has finished.
	Changed() <-chan struct{}
	// Retry queues a failed (or handed-off) tenant again.
	Retry(tenantID string) error
	// Pause stops starting new tenants (running ones go on); false resumes.
	Pause(on bool)
	// Journal is a tenant's record as lines (its write-ahead journal and
	// receipt path), for "open a row".
	Journal(tenantID string) ([]string, error)
}
