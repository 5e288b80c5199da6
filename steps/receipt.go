package steps

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"itdr-onboard/checks"
	"itdr-onboard/internal/atomicfile"
	"itdr-onboard/state"
	"itdr-onboard/ui/text"
)

// Receipts writes per-tenant change receipts and the JSONL audit trail in
// the state dir. Files are written atomically (temp file + rename).
type Receipts struct {
	Dir string // the state dir
	mu  sync.Mutex
}

// Receipt is the per-tenant change receipt (one per run that changed or
// planned something).
type Receipt struct {
	TenantID   string           `json:"tenant_id"`
	TenantName string           `json:"tenant_name,omitempty"`
	Operator   string           `json:"operator"`
	WrittenAt  time.Time        `json:"written_at"`
	Checks     []ReceiptCheck   `json:"checks"`
	Changes    []checks.Applied `json:"changes"`
	Declined   []checks.Change  `json:"declined,omitempty"`
	// NotApplied are accepted changes that were not made (an earlier one failed).
	NotApplied   []checks.Change   `json:"not_applied,omitempty"`
	Planned      []checks.Change   `json:"planned"`
	Organization map[string]string `json:"organization,omitempty"`
}

// ReceiptCheck is a check's result before and after the changes.
type ReceiptCheck struct {
	ID     string        `json:"id"`
	Title  string        `json:"title"`
	Before ReceiptResult `json:"before"`
	After  ReceiptResult `json:"after"`
}

// ReceiptResult is the part of a check result a receipt keeps.
type ReceiptResult struct {
	Outcome checks.Outcome `json:"outcome"`
	Summary string         `json:"summary"`
}

// TenantDir is where a tenant's files live: the state package's directory
// for the tenant, so receipts, progress and the lock sit together.
func (r *Receipts) TenantDir(tenantID string) string {
	return state.Store{Dir: r.Dir}.TenantDir(tenantID)
}

// AuditPath is the JSONL audit trail.
func (r *Receipts) AuditPath() string { return filepath.Join(r.Dir, "audit.jsonl") }

// Write writes the receipt for the session's changes and returns its path.
func (r *Receipts) Write(s *Session, now time.Time) (string, string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rc := Receipt{TenantID: s.TenantID, TenantName: s.Org.DisplayName, Operator: s.Account.Username,
		WrittenAt: now.UTC(), Changes: s.Applied, Planned: s.Plan}
	if rc.Changes == nil {
		rc.Changes = []checks.Applied{}
	}
	done := map[string]bool{}
	for _, a := range s.Applied {
		done[a.Change.ID] = true
	}
	rc.Declined = s.DeclinedChanges
	for _, c := range s.DeclinedChanges {
		done[c.ID] = true
	}
	for _, c := range s.Plan {
		if !done[c.ID] {
			rc.NotApplied = append(rc.NotApplied, c)
		}
	}
	ids := make([]string, 0, len(s.Before))
	for id := range s.Before {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		b, a := s.Before[id], s.Results[id]
		rc.Checks = append(rc.Checks, ReceiptCheck{ID: id, Title: s.Titles[id],
			Before: ReceiptResult{b.Outcome, b.Summary}, After: ReceiptResult{a.Outcome, a.Summary}})
	}
	dir := r.TenantDir(s.TenantID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", err
	}
	path := filepath.Join(dir, "receipt-"+now.UTC().Format("20060102T150405Z")+".json")
	b, err := text.MarshalIndent(rc, "", "  ")
	if err != nil {
		return "", "", err
	}
	if err := atomicfile.Write(path, append(b, '\n'), 0o600); err != nil {
		return "", "", err
	}
	return path, r.AuditPath(), nil
}

// AuditLine is one line of the audit trail.
type AuditLine struct {
	Time      time.Time `json:"time"`
	TenantID  string    `json:"tenant_id"`
	Operator  string    `json:"operator"`
	Change    string    `json:"change"`
	Summary   string    `json:"summary"`
	Call      string    `json:"call"`
	RequestID string    `json:"request_id,omitempty"`
	NoOp      bool      `json:"no_op,omitempty"`
}

// Audit appends one applied change to the audit trail (O_APPEND, one
// write per line so concurrent runs for other tenants do not interleave).
func (r *Receipts) Audit(s *Session, a checks.Applied) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := os.MkdirAll(r.Dir, 0o700); err != nil {
		return err
	}
	line, err := text.Marshal(AuditLine{Time: a.At.UTC(), TenantID: s.TenantID, Operator: s.Account.Username,
		Change: a.Change.ID, Summary: a.Change.Summary, Call: a.Change.Call, RequestID: a.RequestID, NoOp: a.NoOp})
	if err != nil {
		return err
	}
	f, err := os.OpenFile(r.AuditPath(), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("audit trail: %w", err)
	}
	defer f.Close()
	_, err = f.Write(append(line, '\n'))
	return err
}
