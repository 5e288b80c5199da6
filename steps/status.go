package steps

import (
	"fmt"
	"strings"
	"time"

	"itdr-onboard/checks"
	"itdr-onboard/platform"
)

// StatusStepID is the step ID of StatusStep.
const StatusStepID ID = "status"

// StatusFlow is `status`: the platform's integration status of a tenant
// (--tenant) or of every tenant with local state, the evidence ladder (rung
// 5 re-read now, rungs 2–4 as the onboarding proved them) and the latest
// local receipt. It needs no sign-in and changes nothing; without platform
// API credentials it shows what is saved locally.
var StatusFlow = Flow{Name: "status", Steps: func(_ Options, _ []CheckInfo) []Step {
	return []Step{NewTargetStep(), NewStatusStep()}
}}

// Effects and events of `status`.
type (
	// ListTenants lists the tenants that have local state (a folder named
	// by a tenant GUID under <state-dir>/tenants).
	ListTenants struct{}
	// TenantsListed answers ListTenants; Dir is the state dir read.
	TenantsListed struct {
		Dir string
		IDs []string
		Err error
	}
	// ReadStatus reads one tenant's integration from the platform and its
	// latest local receipt.
	ReadStatus struct{ TenantID string }
	// StatusRead answers ReadStatus. Integration is nil when the tenant is
	// not mapped (or Err is set: the platform could not be read, or no
	// platform credentials are configured). At is when it was read.
	StatusRead struct {
		TenantID    string
		TenantName  string // from the receipt
		Receipt     *ReceiptStatus
		Integration *platform.Integration
		Err         error
		At          time.Time
	}
)

func (ListTenants) isEffect()  {}
func (ReadStatus) isEffect()   {}
func (TenantsListed) isEvent() {}
func (StatusRead) isEvent()    {}

// TenantStatus is one tenant's status (a block of `status`, an object of
// its JSON `tenants`).
type TenantStatus struct {
	TenantID            string         `json:"tenant_id"`
	TenantName          string         `json:"tenant_name,omitempty"`
	Mapped              bool           `json:"mapped"`
	IntegrationID       string         `json:"integration_id,omitempty"`
	OrganizationID      string         `json:"organization_id,omitempty"`
	Organization        string         `json:"organization,omitempty"`
	Status              string         `json:"status"` // healthy | pending | unhealthy | not_mapped | error
	ReasonCode          string         `json:"reason_code,omitempty"`
	Reason              string         `json:"reason,omitempty"`
	Remedy              string         `json:"remedy,omitempty"`
	ExpectedFirstDataAt *time.Time     `json:"expected_first_data_at,omitempty"`
	FirstDataAt         *time.Time     `json:"first_data_at,omitempty"`
	LastCheckedAt       *time.Time     `json:"last_checked_at,omitempty"`
	Error               string         `json:"error,omitempty"`
	Receipt             *ReceiptStatus `json:"receipt,omitempty"`
	// Evidence is the evidence ladder: the rungs the onboarding proved (from
	// the receipt) with rung 5 re-evaluated from the platform now; rungs
	// 2–4 are re-checked only with a sign-in (EvidenceNote says how).
	Evidence     []LadderRung `json:"evidence,omitempty"`
	EvidenceNote string       `json:"evidence_note,omitempty"`
	ExitCode     int          `json:"exit_code"`
}

// Name is the tenant as shown: "Name (id)", or the id.
func (ts TenantStatus) Name() string {
	if ts.TenantName != "" {
		return ts.TenantName + " (" + ts.TenantID + ")"
	}
	return ts.TenantID
}

// ReceiptStatus summarises the latest local receipt of a tenant.
type ReceiptStatus struct {
	Path      string    `json:"path"`
	WrittenAt time.Time `json:"written_at"`
	Operator  string    `json:"operator,omitempty"`
	Changes   int       `json:"changes"`
	Declined  int       `json:"declined,omitempty"`
	// Evidence is the ladder the onboarding recorded.
	Evidence []LadderRung `json:"-"`
}

// StatusReport is the end of `status` for the front-ends.
type StatusReport struct {
	StateDir string
	Tenants  []TenantStatus
}

// The statuses of `status` that are not the platform's own.
const (
	StatusNotMapped = "not_mapped"
	StatusError     = "error"
)

// statusExit is the exit code of one tenant's status: 0 healthy, 4
// pending, 3 not mapped, 1 unhealthy or unreadable.
func statusExit(st string) int {
	switch st {
	case platform.StatusHealthy:
		return 0
	case platform.StatusPending:
		return 4
	case StatusNotMapped:
		return 3
	}
	return 1
}

// worstStatus is the tenant whose exit code ranks worst: failed > not
// mapped > pending > healthy.
func worstStatus(all []TenantStatus) (TenantStatus, int) {
	rank := map[int]int{0: 0, 4: 1, 3: 2, 1: 3}
	var worst TenantStatus
	code := 0
	for i, ts := range all {
		if i == 0 || rank[ts.ExitCode] > rank[code] {
			worst, code = ts, ts.ExitCode
		}
	}
	return worst, code
}

// NewTenantStatus builds a tenant's status from what ReadStatus read.
func NewTenantStatus(ev StatusRead) TenantStatus {
	ts := TenantStatus{TenantID: ev.TenantID, TenantName: ev.TenantName, Receipt: ev.Receipt}
	in := ev.Integration
	switch {
	case ev.Err != nil:
		ts.Status, ts.Error = StatusError, ev.Err.Error()
	case in == nil:
		ts.Status = StatusNotMapped
	default:
		ts.Mapped = true
		ts.IntegrationID, ts.OrganizationID, ts.Organization = in.ID, in.OrganizationID, in.OrganizationName
		ts.Status, ts.ReasonCode, ts.Reason = in.Status, in.ReasonCode, in.Reason
		ts.ExpectedFirstDataAt, ts.FirstDataAt, ts.LastCheckedAt = in.ExpectedFirstDataAt, in.FirstDataAt, in.LastCheckedAt
		if in.Status != platform.StatusHealthy {
			ts.Remedy = strings.ReplaceAll(RemedyFor(in.ReasonCode), "<tenant>", ev.TenantID)
		}
		ts.Evidence, ts.EvidenceNote = statusLadder(ts.Receipt, *in, ev.At, ev.TenantID)
	}
	ts.ExitCode = statusExit(ts.Status)
	return ts
}

// statusLadder re-evaluates the evidence ladder of a mapped tenant without
// a sign-in: the rungs the onboarding proved stay proven (the receipt says
// when), rung 5 is read from the platform now, rungs 2–4 need a token.
func statusLadder(rc *ReceiptStatus, in platform.Integration, readAt time.Time, tenantID string) ([]LadderRung, string) {
	l := NewLadder()
	if rc != nil && len(rc.Evidence) == len(l) {
		def := l
		l = append([]LadderRung(nil), rc.Evidence...)
		for i := range l { // the descriptive fields are this version's
			l[i].Typical, l[i].Worst, l[i].WorstD, l[i].IfLate, l[i].Proves = def[i].Typical, def[i].Worst, def[i].WorstD, def[i].IfLate, def[i].Proves
			if l[i].State == "" {
				l[i].State = checks.RungWaiting
			}
		}
	}
	at := readAt
	if in.LastCheckedAt != nil {
		at = *in.LastCheckedAt
	}
	if in.FirstEventAt != nil {
		at = *in.FirstEventAt
	}
	PlatformRung(l, at, in)
	note := ""
	for _, r := range l[1:4] {
		if !r.Proven() {
			note = "Rungs 2–4 are re-checked only with a sign-in (a token with Exchange Online and AuditLog.Read.All): run itdr-onboard onboard --tenant " +
				tenantID + " — with everything in place it changes nothing and goes straight to the health step."
			break
		}
	}
	return l, note
}

// StatusStep reads the status of --tenant, or of every tenant with local
// state, all at once, and ends with the report (exit code: the worst
// tenant's).
type StatusStep struct {
	status  Status
	fail    *Failure
	dir     string
	ids     []string
	read    map[string]TenantStatus
	listing bool
}

// NewStatusStep builds the step.
func NewStatusStep() *StatusStep { return &StatusStep{status: StatusPending} }

func (p *StatusStep) ID() ID         { return StatusStepID }
func (p *StatusStep) Title() string  { return "Integration status" }
func (p *StatusStep) Status() Status { return p.status }

func (p *StatusStep) Enter(s *Session) []Effect {
	p.status, p.fail, p.read, p.ids, p.listing = StatusRunning, nil, map[string]TenantStatus{}, nil, false
	s.Done = nil
	if s.TenantID != "" {
		p.ids = []string{s.TenantID}
		return []Effect{ReadStatus{TenantID: s.TenantID}}
	}
	p.listing = true
	return []Effect{ListTenants{}}
}

func (p *StatusStep) Handle(s *Session, ev Event) []Effect {
	switch ev := ev.(type) {
	case TenantsListed:
		if !p.listing {
			return nil
		}
		p.listing, p.dir = false, ev.Dir
		if ev.Err != nil {
			p.status = StatusFailed
			p.fail = &Failure{Kind: FailError, Message: fmt.Sprintf("Could not read the local state in %s: %v", ev.Dir, ev.Err),
				Remedy: "Check --state-dir (or pass --tenant to ask the platform about one tenant)."}
			return nil
		}
		p.ids = ev.IDs
		if len(p.ids) == 0 {
			p.finish(s)
			return nil
		}
		effs := make([]Effect, 0, len(p.ids))
		for _, id := range p.ids {
			effs = append(effs, ReadStatus{TenantID: id})
		}
		return effs
	case StatusRead:
		if _, ok := p.read[ev.TenantID]; ok || p.status != StatusRunning {
			return nil
		}
		p.read[ev.TenantID] = NewTenantStatus(ev)
		if len(p.read) == len(p.ids) {
			p.finish(s)
		}
	}
	return nil
}

// Tenants returns the statuses read so far, in order.
func (p *StatusStep) Tenants() []TenantStatus {
	out := make([]TenantStatus, 0, len(p.read))
	for _, id := range p.ids {
		if ts, ok := p.read[id]; ok {
			out = append(out, ts)
		}
	}
	return out
}

func (p *StatusStep) finish(s *Session) {
	p.status = StatusDone
	all := p.Tenants()
	rep := &StatusReport{StateDir: p.dir, Tenants: all}
	d := &Done{Status: rep, Fields: map[string]any{"tenants": all}}
	if p.dir != "" {
		d.Fields["state_dir"] = p.dir
	}
	if len(all) == 0 {
		d.Outcome = "no-tenants"
		d.Headline = fmt.Sprintf("No tenant has local state in %s; pass --tenant to ask the platform about one.", p.dir)
		s.Done = d
		return
	}
	worst, code := worstStatus(all)
	d.Outcome, d.ExitCode = worst.Status, code
	if len(all) == 1 {
		d.Headline = "Tenant " + worst.Name() + ": " + statusWords(worst)
	} else {
		count := map[string]int{}
		for _, ts := range all {
			count[ts.Status]++
		}
		var parts []string
		for _, st := range []string{platform.StatusHealthy, platform.StatusPending, platform.StatusUnhealthy, StatusNotMapped, StatusError} {
			if n := count[st]; n > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", n, strings.ReplaceAll(st, "_", " ")))
			}
		}
		d.Headline = fmt.Sprintf("%d tenants: %s.", len(all), strings.Join(parts, ", "))
	}
	for _, ts := range all {
		d.Items = append(d.Items, statusItem(ts))
	}
	s.Done = d
}

// statusWords says a tenant's status in a few words.
func statusWords(ts TenantStatus) string {
	switch ts.Status {
	case StatusError:
		return "the integration could not be read"
	case StatusNotMapped:
		return "not mapped to any organization"
	}
	w := "integration " + ts.Status
	if ts.Organization != "" {
		w += " (mapped to " + ts.Organization + ")"
	}
	return w
}

// statusItem is a tenant's row.
func statusItem(ts TenantStatus) Item {
	it := Item{ID: ts.TenantID, Label: ts.Name(), Summary: statusWords(ts), Remedy: ts.Remedy}
	switch ts.Status {
	case platform.StatusHealthy:
		it.Outcome = checks.Pass
	case platform.StatusPending:
		it.Outcome = checks.Warn
	case StatusNotMapped:
		it.Outcome = checks.Skip
	default:
		it.Outcome = checks.Fail
	}
	if ts.Status == StatusError {
		it.Summary += ": " + ts.Error
	}
	return it
}

func (p *StatusStep) Snapshot(s *Session) Snapshot {
	snap := Snapshot{ID: StatusStepID, Title: p.Title(), Status: p.status, Fail: p.fail}
	for _, id := range p.ids {
		if ts, ok := p.read[id]; ok {
			snap.Items = append(snap.Items, statusItem(ts))
		} else {
			snap.Items = append(snap.Items, Item{ID: id, Label: id, Running: true, Summary: "reading"})
		}
	}
	switch {
	case p.listing:
		snap.Line = "listing the tenants with local state"
	case p.status == StatusRunning:
		snap.Line = fmt.Sprintf("reading the platform's integration status: %d of %d", len(p.read), len(p.ids))
	case p.status == StatusDone:
		snap.Line = fmt.Sprintf("%d tenant(s) read; nothing was changed", len(p.read))
	case p.status == StatusFailed:
		snap.Next = retryUnlessFinal(p.fail)
	}
	return snap
}
