// Package state keeps what survives a crash or a dropped SSH connection:
// per tenant, the wizard's progress (never a token, code or secret) and the
// lock that allows one run per tenant. Files live next to the receipts in
// <state-dir>/tenants/<tenantID>/ and are written atomically, so killing the
// process at any moment never leaves a torn file.
package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"itdr-onboard/internal/atomicfile"
	"itdr-onboard/ui/text"
)

// ProgressVersion is the format version of progress.json.
const ProgressVersion = 1

// ProgressFile is the file name of a tenant's progress.
const ProgressFile = "progress.json"

// Store is the state dir.
type Store struct {
	Dir string
}

// TenantDir is where a tenant's files live: the same directory as its
// receipts (steps.Receipts.TenantDir calls this; a cli test pins it).
func (s Store) TenantDir(tenantID string) string {
	return filepath.Join(s.Dir, "tenants", SafeName(tenantID))
}

// SafeName maps a tenant id to a directory name: letters, digits, '-', '.'
// and '_' stay, anything else becomes '_' (no path traversal).
func SafeName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '-' || r == '.' || r == '_' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9') {
			return r
		}
		return '_'
	}, s)
	if s == "" || s == "." || s == ".." {
		return "unknown"
	}
	return s
}

// StepTiming is when a step ran in the last run and how it ended.
type StepTiming struct {
	ID        string    `json:"id"`
	Status    string    `json:"status"`
	StartedAt time.Time `json:"started_at"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
}

// Progress is what a run has achieved so far. It holds choices and ids
// only: no token, code, verifier or secret can be stored in it.
type Progress struct {
	Version  int    `json:"version"`
	TenantID string `json:"tenant_id"`
	// TenantArg is --tenant as typed (a GUID or a domain), for lookup.
	TenantArg string `json:"tenant_arg,omitempty"`
	// Domains are the tenant's verified domains (for `--tenant <domain>` lookups).
	Domains    []string `json:"domains,omitempty"`
	TenantName string   `json:"tenant_name,omitempty"`
	Cloud      string   `json:"cloud,omitempty"`
	// Account is the technician's sign-in name (not a credential).
	Account          string `json:"account,omitempty"`
	OrganizationID   string `json:"organization_id,omitempty"`
	OrganizationName string `json:"organization_name,omitempty"`
	IntegrationID    string `json:"integration_id,omitempty"`
	// Onboarding names the onboarding's record (its receipt and journal
	// entries): a resumed run continues it.
	Onboarding string `json:"onboarding,omitempty"`
	// Completed lists the steps that finished, in order.
	Completed []string `json:"completed_steps"`
	// Current is the step running when the file was written.
	Current string `json:"current_step,omitempty"`
	// AppliedChanges are the ids of the role fixes applied (or found in place).
	AppliedChanges []string     `json:"applied_changes,omitempty"`
	Steps          []StepTiming `json:"steps,omitempty"`
	StartedAt      time.Time    `json:"started_at"`
	UpdatedAt      time.Time    `json:"updated_at"`
	// ResumedFrom is the UpdatedAt of the progress this run resumed.
	ResumedFrom *time.Time `json:"resumed_from,omitempty"`
	// Finished is true once a run ended successfully (healthy or a dry run):
	// nothing is left to resume.
	Finished bool   `json:"finished"`
	Outcome  string `json:"outcome,omitempty"`
	ExitCode *int   `json:"exit_code,omitempty"`
}

// LastCompleted names the last completed step, or "".
func (p *Progress) LastCompleted() string {
	if p == nil || len(p.Completed) == 0 {
		return ""
	}
	return p.Completed[len(p.Completed)-1]
}

// Matches reports whether the progress is for tenant t (a GUID or one of
// its domains, compared case-insensitively).
func (p *Progress) Matches(t string) bool {
	t = strings.TrimSuffix(strings.TrimSpace(t), ".")
	if p == nil || t == "" {
		return false
	}
	if strings.EqualFold(p.TenantID, t) || strings.EqualFold(p.TenantArg, t) {
		return true
	}
	for _, d := range p.Domains {
		if strings.EqualFold(d, t) {
			return true
		}
	}
	return false
}

// ProgressPath is <dir>/tenants/<tenantID>/progress.json.
func (s Store) ProgressPath(tenantID string) string {
	return filepath.Join(s.TenantDir(tenantID), ProgressFile)
}

// SaveProgress writes p atomically (temp file, fsync, rename), mode 0600.
func (s Store) SaveProgress(p *Progress) error {
	b, err := EncodeProgress(p)
	if err != nil {
		return err
	}
	return s.WriteProgress(p.TenantID, b, true)
}

// EncodeProgress is the file SaveProgress writes for p (it sets p's
// version). A caller that writes it later (WriteProgress) may change p
// meanwhile.
func EncodeProgress(p *Progress) ([]byte, error) {
	if p == nil || p.TenantID == "" {
		return nil, errors.New("state: progress without a tenant id")
	}
	p.Version = ProgressVersion
	if p.Completed == nil {
		p.Completed = []string{}
	}
	b, err := text.MarshalIndent(p, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// WriteProgress writes an encoded progress (EncodeProgress) of tenantID
// atomically (temp file, fsync, rename), mode 0600; durable also syncs the
// directory, so the rename survives a crash of the machine (without it a
// crash may bring the previous progress back: atomicfile.WriteUnsynced).
func (s Store) WriteProgress(tenantID string, b []byte, durable bool) error {
	dir := s.TenantDir(tenantID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	write := atomicfile.Write
	if !durable {
		write = atomicfile.WriteUnsynced
	}
	if err := write(filepath.Join(dir, ProgressFile), b, 0o600); err != nil {
		return fmt.Errorf("state: writing progress: %w", err)
	}
	return nil
}

// LoadProgress reads a tenant's progress; (nil, nil) when there is none.
func (s Store) LoadProgress(tenantID string) (*Progress, error) {
	return readProgress(s.ProgressPath(tenantID))
}

func readProgress(path string) (*Progress, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	var p Progress
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("state: %s is not a progress file: %w", path, err)
	}
	if p.TenantID == "" {
		return nil, fmt.Errorf("state: %s has no tenant id", path)
	}
	// A progress file lives in its tenant's folder; one that names another
	// tenant was copied or edited, and resuming from it would carry another
	// tenant's choices (its organization) into this run.
	if dir := filepath.Base(filepath.Dir(path)); !strings.EqualFold(SafeName(p.TenantID), dir) {
		return nil, fmt.Errorf("state: %s names tenant %s, not %s, the tenant of its folder: it is not used (delete it to silence this)",
			path, text.Line(p.TenantID), dir)
	}
	return &p, nil
}

// AllProgress reads every tenant's progress, most recently updated first.
// Unreadable files are skipped.
func (s Store) AllProgress() ([]*Progress, error) {
	paths, err := filepath.Glob(filepath.Join(s.Dir, "tenants", "*", ProgressFile))
	if err != nil {
		return nil, err
	}
	var out []*Progress
	for _, p := range paths {
		if pr, err := readProgress(p); err == nil && pr != nil {
			out = append(out, pr)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].UpdatedAt.After(out[j].UpdatedAt) })
	return out, nil
}

// FindProgress returns the progress for tenant t (GUID or domain); (nil,
// nil) when there is none.
func (s Store) FindProgress(t string) (*Progress, error) {
	if t == "" {
		return nil, nil
	}
	if p, err := s.LoadProgress(t); err != nil || p != nil {
		return p, err
	}
	all, err := s.AllProgress()
	if err != nil {
		return nil, err
	}
	for _, p := range all {
		if p.Matches(t) {
			return p, nil
		}
	}
	return nil, nil
}
