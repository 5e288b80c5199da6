// Package batch runs many customer tenants over GDAP (issue 21): the
// selection and organization matching, one combined plan, the orchestrator
// (tenant workers each running the one-customer flow), the batch manifest
// and progress in the state directory, resume, the batch receipt and the
// hand-off export. Front-ends see it only through steps.BatchSnapshot,
// steps.BatchEvent and steps.BatchControl.
package batch

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"itdr-onboard/internal/atomicfile"
	"itdr-onboard/partner"
	"itdr-onboard/steps"
	"itdr-onboard/ui/text"
)

// Files of a batch, under <state dir>/batches/<id>/.
const (
	ManifestFile = "manifest.json"
	ProgressFile = "progress.json"
	// ProgressLog holds the tenant changes since progress.json was last
	// written, one JSON line each (AppendProgress); LoadProgress applies
	// them over it.
	ProgressLog = "progress.log"
	ReceiptFile = "receipt.json"
	HandoffCSV  = "handoff.csv"
	HandoffMD   = "handoff.md"
)

// Tenant is one tenant of a batch as the manifest records it.
type Tenant struct {
	TenantID string       `json:"tenant_id"`
	Name     string       `json:"name"`
	Domain   string       `json:"domain,omitempty"`
	Lane     partner.Lane `json:"lane"`
	OrgID    string       `json:"organization_id,omitempty"`
	Org      string       `json:"organization,omitempty"`
	// OrgNote warns that the organization is a best match, not exact.
	OrgNote string `json:"organization_note,omitempty"`
	// OrgSource says how the organization was chosen: exact, best-match,
	// org-map, none.
	OrgSource string `json:"organization_source,omitempty"`
	// Row is the discovery row (lane, roles, remedy, invite link) as last
	// derived.
	Row partner.Row `json:"row"`
	// Interrupted is when an earlier run of this batch started the tenant
	// without finishing it (zero on a first attempt): the runner continues
	// that attempt's record.
	Interrupted time.Time `json:"-"`
}

// Options are the batch's choices, kept in the manifest so a resume runs
// with the same ones.
type Options struct {
	Parallel int `json:"parallel"`
	// SettleWait: a settling tenant whose ready-at is within this is waited
	// for in the batch; later ones are left for `batch resume`.
	SettleWait time.Duration `json:"settle_wait"`
	// HealthWait bounds the batch's health watch after the last tenant's
	// flow ended (0: do not wait; pending tenants stay pending).
	HealthWait time.Duration `json:"health_wait"`
	// HealthPoll is the interval of the one health request per batch.
	HealthPoll time.Duration `json:"health_poll"`
	// OrgMap is the --org-map file used (for the record).
	OrgMap string `json:"org_map,omitempty"`
	// Selection says how tenants were chosen: tenants-file, all-ready, table.
	Selection string `json:"selection"`
}

// WithDefaults fills zero values.
func (o Options) WithDefaults() Options {
	if o.Parallel <= 0 {
		o.Parallel = 4
	}
	if o.HealthPoll <= 0 {
		o.HealthPoll = 30 * time.Second
	}
	return o
}

// Manifest is the batch as decided before any work: who, which tenants,
// which lanes and options. Never tokens.
type Manifest struct {
	Version int       `json:"version"`
	ID      string    `json:"batch_id"`
	Created time.Time `json:"created"`
	// Partner account: the signed-in technician and the partner tenant.
	User     string   `json:"user"`
	Partner  string   `json:"partner_tenant_id"`
	ClientID string   `json:"client_id,omitempty"`
	Options  Options  `json:"options"`
	Tenants  []Tenant `json:"tenants"`
}

// TenantProgress is where one tenant of a batch stands on disk.
type TenantProgress struct {
	TenantID      string            `json:"tenant_id"`
	State         steps.TenantState `json:"state"`
	Lane          partner.Lane      `json:"lane"`
	Started       time.Time         `json:"started,omitzero"`
	Ended         time.Time         `json:"ended,omitzero"`
	Attempts      int               `json:"attempts"`
	Retries       int               `json:"retries"`
	Message       string            `json:"message,omitempty"`
	Next          string            `json:"next,omitempty"`
	HandOff       *steps.HandOff    `json:"handoff,omitempty"`
	ReceiptPath   string            `json:"receipt,omitempty"`
	JournalPath   string            `json:"journal,omitempty"`
	IntegrationID string            `json:"integration_id,omitempty"`
	Evidence      string            `json:"evidence,omitempty"`
	Changes       int               `json:"changes"`
}

// Progress is every tenant's state, rewritten atomically on each change.
type Progress struct {
	ID       string                     `json:"batch_id"`
	Updated  time.Time                  `json:"updated"`
	Runs     int                        `json:"runs"`
	Finished bool                       `json:"finished"`
	Tenants  map[string]*TenantProgress `json:"tenants"`
}

// Dir is a batch's directory.
func Dir(stateDir, id string) string { return filepath.Join(stateDir, "batches", id) }

// NewID makes a batch id: the UTC start time and 4 random hex digits.
func NewID(now time.Time) string {
	var b [2]byte
	_, _ = rand.Read(b[:])
	return now.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
}

// SaveManifest writes the manifest (atomically) and creates the batch's
// directory.
func SaveManifest(stateDir string, m *Manifest) (string, error) {
	dir := Dir(stateDir, m.ID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("batch: %w", err)
	}
	b, err := text.MarshalIndent(m, "", "  ")
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, ManifestFile)
	return p, atomicfile.Write(p, append(b, '\n'), 0o600)
}

// LoadManifest reads a batch's manifest.
func LoadManifest(stateDir, id string) (*Manifest, error) {
	var m Manifest
	if err := readJSON(filepath.Join(Dir(stateDir, id), ManifestFile), &m); err != nil {
		return nil, err
	}
	if m.ID == "" || m.ID != id {
		return nil, fmt.Errorf("batch %s: the manifest names batch %q", id, m.ID)
	}
	return &m, nil
}

// SaveProgress writes the whole progress atomically (a snapshot) and
// drops the change log it now covers.
func SaveProgress(stateDir string, p *Progress) error {
	b, err := text.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(Dir(stateDir, p.ID), 0o700); err != nil {
		return fmt.Errorf("batch: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(Dir(stateDir, p.ID), ProgressFile), append(b, '\n'), 0o600); err != nil {
		return err
	}
	// Killed before this: the log's lines replay onto the snapshot to the
	// same states (each tenant's last line is what the snapshot holds).
	if err := os.Remove(filepath.Join(Dir(stateDir, p.ID), ProgressLog)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("batch: %w", err)
	}
	return nil
}

// progressLine is one line of the progress log: a tenant's progress after
// a change.
type progressLine struct {
	Updated time.Time       `json:"updated"`
	Tenant  *TenantProgress `json:"tenant"`
}

// AppendProgress records one tenant's change by appending its progress to
// the batch's change log (synced): the cost of a change does not grow with
// the number of tenants, as rewriting progress.json would.
func AppendProgress(stateDir, id string, updated time.Time, t *TenantProgress) error {
	b, err := text.Marshal(progressLine{Updated: updated.UTC(), Tenant: t})
	if err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(Dir(stateDir, id), ProgressLog), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("batch: %w", err)
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("batch: %w", err)
	}
	return nil
}

// LoadProgress reads a batch's progress: the last snapshot and the tenant
// changes logged since (a line cut short by a kill is ignored); a batch
// that never started has an empty one.
func LoadProgress(stateDir, id string) (*Progress, error) {
	p := &Progress{ID: id, Tenants: map[string]*TenantProgress{}}
	err := readJSON(filepath.Join(Dir(stateDir, id), ProgressFile), p)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return p, err
	}
	if p.Tenants == nil {
		p.Tenants = map[string]*TenantProgress{}
	}
	f, lerr := os.Open(filepath.Join(Dir(stateDir, id), ProgressLog))
	if lerr != nil {
		return p, nil
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var l progressLine
		if json.Unmarshal(sc.Bytes(), &l) != nil || l.Tenant == nil || l.Tenant.TenantID == "" {
			break // the tail of a write cut short
		}
		p.Tenants[l.Tenant.TenantID] = l.Tenant
		if l.Updated.After(p.Updated) {
			p.Updated = l.Updated
		}
	}
	return p, nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// List returns the batch ids in the state directory, newest first.
func List(stateDir string) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(stateDir, "batches"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range ents {
		if e.IsDir() {
			if _, err := os.Stat(filepath.Join(stateDir, "batches", e.Name(), ManifestFile)); err == nil {
				ids = append(ids, e.Name())
			}
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(ids)))
	return ids, nil
}

// Latest is the newest batch id (for `batch resume`/`status` without
// --batch); unfinished picks the newest one not finished.
func Latest(stateDir string, unfinished bool) (string, error) {
	ids, err := List(stateDir)
	if err != nil {
		return "", err
	}
	for _, id := range ids {
		if !unfinished {
			return id, nil
		}
		p, err := LoadProgress(stateDir, id)
		if err == nil && !p.Finished {
			return id, nil
		}
	}
	if unfinished && len(ids) > 0 {
		return "", fmt.Errorf("every batch in %s has finished (newest: %s); pass --batch ID to run one again", filepath.Join(stateDir, "batches"), ids[0])
	}
	return "", fmt.Errorf("no batch in %s: start one with `itdr-onboard batch run`", filepath.Join(stateDir, "batches"))
}

// ToResume is the batch `batch resume` continues without --batch: the
// newest one not finished, else the newest finished one that still has
// tenants handed off or failed (the hand-offs say "then batch resume": the
// customer approved, the technician resumes). again counts those tenants
// (0 for an unfinished batch).
func ToResume(stateDir string) (id string, again int, err error) {
	id, err = Latest(stateDir, true)
	if err == nil {
		return id, 0, nil
	}
	ids, lerr := List(stateDir)
	if lerr != nil || len(ids) == 0 {
		return "", 0, err
	}
	p, perr := LoadProgress(stateDir, ids[0])
	if perr != nil {
		return "", 0, err
	}
	for _, t := range p.Tenants {
		if t.State == steps.TenantHandedOff || t.State == steps.TenantFailed {
			again++
		}
	}
	if again == 0 {
		return "", 0, fmt.Errorf("the newest batch (%s) has finished with no tenant handed off or failed: nothing to resume; pass --batch ID to run an older one again", ids[0])
	}
	return ids[0], again, nil
}

// Resolve finds a batch by id or a unique prefix of it.
func Resolve(stateDir, id string) (string, error) {
	ids, err := List(stateDir)
	if err != nil {
		return "", err
	}
	var hits []string
	for _, x := range ids {
		if x == id {
			return x, nil
		}
		if strings.HasPrefix(x, id) {
			hits = append(hits, x)
		}
	}
	switch len(hits) {
	case 1:
		return hits[0], nil
	case 0:
		return "", fmt.Errorf("--batch %s: no such batch in %s", id, filepath.Join(stateDir, "batches"))
	}
	return "", fmt.Errorf("--batch %s matches %d batches (%s): give more of the id", id, len(hits), strings.Join(hits, ", "))
}
