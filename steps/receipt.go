package steps

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
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

// Receipts keeps the exact record of an onboarding in the state dir:
//
//   - the journal (tenants/<id>/journal.jsonl, append-only, fsynced): every
//     write is recorded as intended before its request is sent and as
//     applied / found / failed after it; an intent whose outcome is unknown
//     (the process died, or ctrl+c cancelled the request) is reconciled by a
//     read later (Executor.reconcile);
//   - the receipt (tenants/<id>/receipt-<onboarding>.json): one per
//     onboarding, rewritten atomically from the journal, naming every change
//     of every step across all the runs that made it, each once;
//   - the audit trail (audit.jsonl, every tenant): one line per change made
//     or found, appended once its outcome is known.
type Receipts struct {
	Dir string // the state dir
	// Onboarding names the onboarding this run belongs to (a resumed run
	// continues the one it resumes); "" = a new one, named at the first write.
	Onboarding string
	// Notice receives what the technician should know about the record
	// (the previous run's last line was cut).
	Notice func(string)
	// SyncAtEnd: the run ends with Write or Sync (cli's finishRecord), so
	// the receipts written during it need not sync their directory.
	SyncAtEnd bool

	mu      sync.Mutex
	run     string
	tenant  string
	loaded  bool
	entries []JournalEntry
	seq     int
	// written is the last receipt this run wrote (path and contents
	// without its times): a rewrite with nothing new is skipped.
	written struct {
		path    string
		key     []byte
		durable bool
	}
}

// Journal statuses.
const (
	JournalIntended = "intended"
	JournalApplied  = "applied"
	JournalFound    = "found"  // already in place (another run, technician or state dir got there first)
	JournalFailed   = "failed" // the request failed: nothing was changed
	JournalAbsent   = "absent" // an intent of an interrupted run that a read found not done
)

// JournalEntry is one line of a tenant's journal.
type JournalEntry struct {
	Seq        int           `json:"seq"`
	Of         int           `json:"of,omitempty"` // the intent an outcome answers
	Onboarding string        `json:"onboarding"`
	Time       time.Time     `json:"time"`
	Status     string        `json:"status"`
	Change     checks.Change `json:"change"`
	RequestID  string        `json:"request_id,omitempty"`
	Operator   string        `json:"operator,omitempty"`
	PID        int           `json:"pid"`
	Run        string        `json:"run"` // the process run that wrote it
	Note       string        `json:"note,omitempty"`
	Error      string        `json:"error,omitempty"`
}

// Receipt is the per-onboarding change receipt.
type Receipt struct {
	TenantID   string `json:"tenant_id"`
	TenantName string `json:"tenant_name,omitempty"`
	Operator   string `json:"operator"`
	// Onboarding names the onboarding (every run that resumed it writes here).
	Onboarding string           `json:"onboarding,omitempty"`
	WrittenAt  time.Time        `json:"written_at"`
	Checks     []ReceiptCheck   `json:"checks"`
	Changes    []checks.Applied `json:"changes"`
	// Failed are changes whose request failed (nothing changed).
	Failed []checks.Applied `json:"failed,omitempty"`
	// Unknown are changes whose request was sent but whose outcome no read
	// has settled yet (the next run reconciles them).
	Unknown  []checks.Change `json:"unknown,omitempty"`
	Declined []checks.Change `json:"declined,omitempty"`
	// NotApplied are accepted changes that were not made (an earlier one failed).
	NotApplied   []checks.Change   `json:"not_applied,omitempty"`
	Planned      []checks.Change   `json:"planned"`
	Organization map[string]string `json:"organization,omitempty"`
	// Evidence is the evidence ladder: when each rung was proven (issue 19).
	Evidence []LadderRung `json:"evidence,omitempty"`
	// UpdatedAt is when the evidence was last added (WrittenAt stays the
	// time the run's changes were recorded).
	UpdatedAt time.Time `json:"updated_at,omitzero"`
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

// JournalPath is a tenant's journal.
func (r *Receipts) JournalPath(tenantID string) string {
	return filepath.Join(r.TenantDir(tenantID), "journal.jsonl")
}

// NewOnboardingName names a new onboarding (and its receipt file) after the
// time it started, to the nanosecond; a name already taken in dir gets a
// suffix, so two receipts never collide.
func NewOnboardingName(dir string, now time.Time) string {
	base := now.UTC().Format("20060102T150405.000000000Z")
	name := base
	for i := 2; ; i++ {
		if _, err := os.Stat(filepath.Join(dir, "receipt-"+name+".json")); errors.Is(err, fs.ErrNotExist) {
			return name
		}
		name = fmt.Sprintf("%s-%d", base, i)
	}
}

// loadLocked reads the tenant's journal once. A torn last line (the process
// died while writing it) is skipped and reported.
func (r *Receipts) loadLocked(tenantID string) error {
	if r.loaded && r.tenant == tenantID {
		return nil
	}
	r.tenant, r.loaded, r.entries, r.seq = tenantID, true, nil, 0
	if st, err := os.Stat(r.JournalPath(tenantID)); err == nil && !st.Mode().IsRegular() {
		return nil // not a file of ours (a device): nothing to read back
	}
	b, err := os.ReadFile(r.JournalPath(tenantID))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the journal: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<16), 1<<24)
	for sc.Scan() {
		var e JournalEntry
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.Seq == 0 {
			r.notice("the journal's record at " + r.JournalPath(tenantID) + " was cut (an earlier run stopped while writing it); it is skipped and the journal goes on on a new line")
			continue
		}
		r.entries = append(r.entries, e)
		r.seq = max(r.seq, e.Seq)
	}
	return nil
}

func (r *Receipts) notice(msg string) {
	if r.Notice != nil {
		r.Notice(msg)
	}
}

// appendLine appends one line to path with one write and fsyncs it. A file
// whose last line was cut gets a newline first (and a notice).
func (r *Receipts) appendLine(path string, line []byte, what string) error {
	return r.appendLineLater(path, line, what, nil)
}

// pendingSyncs are lines written under r.mu whose fsync waits until r.mu is
// released: concurrent writes (consent's grants, a wave of role fixes)
// then wait for the disk side by side (the file system commits them
// together) instead of one after another under the lock. Each caller still
// returns only once its own lines are on disk.
type pendingSyncs []pendingSync

type pendingSync struct {
	f          *os.File
	path, what string
}

// flush fsyncs and closes every pending file, side by side (a resolved
// change's journal line and its audit-trail line wait for the disk
// together); the first failure in order is returned.
func (p pendingSyncs) flush() error {
	errs := make([]error, len(p))
	sync1 := func(i int) {
		ps := p[i]
		err := ps.f.Sync()
		if cerr := ps.f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			errs[i] = fmt.Errorf("%s: writing %s: %w", ps.what, ps.path, err)
		}
	}
	var wg sync.WaitGroup
	for i := 1; i < len(p); i++ {
		wg.Go(func() { sync1(i) })
	}
	if len(p) > 0 {
		sync1(0)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// appendLineLater is appendLine whose fsync is left to later.flush (nil:
// now).
func (r *Receipts) appendLineLater(path string, line []byte, what string, later *pendingSyncs) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, st.Size()-1); err == nil && last[0] != '\n' {
			r.notice(fmt.Sprintf("the last record of %s was cut (an earlier run stopped while writing it); this run starts on a new line", path))
			line = append([]byte{'\n'}, line...)
		}
	}
	n, err := f.Write(line)
	if err == nil && n < len(line) {
		err = io.ErrShortWrite
	}
	if err == nil && later != nil {
		*later = append(*later, pendingSync{f: f, path: path, what: what})
		return nil
	}
	defer f.Close()
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		return fmt.Errorf("%s: writing %s: %w", what, path, err)
	}
	return nil
}

func (r *Receipts) journalLocked(s *Session, e JournalEntry, later *pendingSyncs) (JournalEntry, error) {
	if r.Onboarding == "" {
		r.Onboarding = NewOnboardingName(r.TenantDir(s.TenantID), time.Now())
	}
	if r.run == "" {
		r.run = fmt.Sprintf("%d-%d", os.Getpid(), time.Now().UnixNano())
	}
	r.seq++
	e.Seq, e.Onboarding, e.PID, e.Run, e.Operator = r.seq, r.Onboarding, os.Getpid(), r.run, s.Account.Username
	b, err := text.Marshal(e)
	if err != nil {
		return e, err
	}
	if err := r.appendLineLater(r.JournalPath(s.TenantID), append(b, '\n'), "journal", later); err != nil {
		r.seq--
		return e, err
	}
	r.entries = append(r.entries, e)
	return e, nil
}

// Intend records that a change is about to be sent. Nothing may be sent
// when it fails.
func (r *Receipts) Intend(s *Session, c checks.Change, at time.Time) (int, error) {
	var later pendingSyncs
	seq, err := r.intendLocked(s, c, at, &later)
	if ferr := later.flush(); err == nil && ferr != nil {
		err = fmt.Errorf("could not record the intended change %q, so it was not sent: %w", c.Summary, ferr)
	}
	if err != nil {
		return 0, err
	}
	return seq, nil
}

func (r *Receipts) intendLocked(s *Session, c checks.Change, at time.Time, later *pendingSyncs) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.loadLocked(s.TenantID); err != nil {
		return 0, err
	}
	e, err := r.journalLocked(s, JournalEntry{Time: at.UTC(), Status: JournalIntended, Change: c}, later)
	if err != nil {
		return 0, fmt.Errorf("could not record the intended change %q, so it was not sent: %w", c.Summary, err)
	}
	return e.Seq, nil
}

// Resolve records the outcome of intent seq (0: a change found in place
// without a write). Applied and found changes also go to the audit trail.
func (r *Receipts) Resolve(s *Session, seq int, status string, a checks.Applied, errText string) error {
	var later pendingSyncs
	err := r.resolveLocked(s, seq, status, a, errText, &later)
	if ferr := later.flush(); err == nil && ferr != nil {
		// ferr names the file (journal or audit trail) that failed.
		err = fmt.Errorf("%q was %s but could not be recorded: %w", a.Change.Summary, status, ferr)
	}
	return err
}

func (r *Receipts) resolveLocked(s *Session, seq int, status string, a checks.Applied, errText string, later *pendingSyncs) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.loadLocked(s.TenantID); err != nil {
		return err
	}
	if a.At.IsZero() {
		a.At = time.Now()
	}
	seen := status == JournalFound && r.recordedLocked(a.Change.ID)
	_, err := r.journalLocked(s, JournalEntry{Of: seq, Time: a.At.UTC(), Status: status, Change: a.Change,
		RequestID: a.RequestID, Note: a.Note, Error: errText}, later)
	if err != nil {
		return fmt.Errorf("%q was %s but could not be recorded: %w", a.Change.Summary, status, err)
	}
	if status != JournalApplied && status != JournalFound {
		return nil
	}
	if seen {
		return nil // the onboarding's audit trail names it already
	}
	a.NoOp = status == JournalFound
	if err := r.auditLocked(s, a, later); err != nil {
		return fmt.Errorf("%q was %s but could not be written to the audit trail: %w", a.Change.Summary, status, err)
	}
	return nil
}

// recordedLocked reports whether the onboarding recorded the change as
// applied or found already.
func (r *Receipts) recordedLocked(id string) bool {
	for _, e := range r.entries {
		if e.Onboarding == r.Onboarding && r.Onboarding != "" && e.Change.ID == id && (e.Status == JournalApplied || e.Status == JournalFound) {
			return true
		}
	}
	return false
}

// Unresolved returns the intents of the tenant (of any onboarding) whose
// outcome is not recorded; with own=false only those of earlier runs.
func (r *Receipts) Unresolved(s *Session, own bool) ([]JournalEntry, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.loadLocked(s.TenantID); err != nil {
		return nil, err
	}
	var out []JournalEntry
	for _, e := range r.unresolvedLocked() {
		if own || r.run == "" || e.Run != r.run {
			out = append(out, e)
		}
	}
	return out, nil
}

func (r *Receipts) unresolvedLocked() []JournalEntry {
	done := map[int]bool{}
	for _, e := range r.entries {
		if e.Of != 0 {
			done[e.Of] = true
		}
	}
	var out []JournalEntry
	for _, e := range r.entries {
		if e.Status == JournalIntended && !done[e.Seq] {
			out = append(out, e)
		}
	}
	return out
}

// Changes returns the changes the onboarding made or found, each once (an
// applied change wins over finding it later), in the order they happened.
func (r *Receipts) Changes(s *Session) []checks.Applied {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s.TenantID == "" || r.loadLocked(s.TenantID) != nil {
		return nil
	}
	ch, _ := r.changesLocked()
	return ch
}

func (r *Receipts) changesLocked() (changes, failed []checks.Applied) {
	idx := map[string]int{}
	var fails []JournalEntry
	for _, e := range r.entries {
		if r.Onboarding == "" || e.Onboarding != r.Onboarding {
			continue
		}
		switch e.Status {
		case JournalApplied, JournalFound:
			a := checks.Applied{Change: e.Change, At: e.Time, RequestID: e.RequestID, NoOp: e.Status == JournalFound, Note: e.Note}
			if i, ok := idx[e.Change.ID]; ok {
				if changes[i].NoOp && !a.NoOp {
					changes[i] = a
				}
				continue
			}
			idx[e.Change.ID] = len(changes)
			changes = append(changes, a)
		case JournalFailed:
			fails = append(fails, e)
		}
	}
	for _, e := range fails {
		if _, ok := idx[e.Change.ID]; !ok {
			failed = append(failed, checks.Applied{Change: e.Change, At: e.Time, Note: e.Error})
		}
	}
	return changes, failed
}

// interruptedIntent reports when another run of this onboarding sent
// change id without its outcome ever being recorded as applied or found
// (it was killed with the request in flight).
func (r *Receipts) interruptedIntent(s *Session, id string) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.Onboarding == "" || r.loadLocked(s.TenantID) != nil {
		return time.Time{}, false
	}
	var sent time.Time
	for _, e := range r.entries {
		if e.Onboarding != r.Onboarding || e.Change.ID != id {
			continue
		}
		switch {
		case e.Status == JournalApplied || e.Status == JournalFound:
			return time.Time{}, false
		case e.Status == JournalIntended && e.Run != r.run:
			sent = e.Time
		}
	}
	return sent, !sent.IsZero()
}

// adopt makes this run continue the record named name, unless it has one.
func (r *Receipts) adopt(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.Onboarding == "" {
		r.Onboarding = name
	}
}

// Name names the onboarding's record now, before its first write, and
// returns the name: as the first write would (it continues an interrupted
// run's removals when those are all that is open), so a front-end can put
// it on disk while that write is in flight.
func (r *Receipts) NameNow(s *Session) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.Onboarding != "" || s.TenantID == "" {
		return r.Onboarding, nil
	}
	if err := r.loadLocked(s.TenantID); err != nil {
		return "", err
	}
	if name := removalsOf(r.unresolvedLocked()); name != "" {
		r.Onboarding = name
	} else {
		r.Onboarding = NewOnboardingName(r.TenantDir(s.TenantID), time.Now())
	}
	return r.Onboarding, nil
}

// Name is the onboarding's name ("" until set or the first write).
func (r *Receipts) Name() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.Onboarding
}

// HasRecord reports whether the tenant's journal holds anything of this
// onboarding or an intent still open (then a receipt is due at the end).
func (r *Receipts) HasRecord(s *Session) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s.TenantID == "" || r.loadLocked(s.TenantID) != nil {
		return false
	}
	for _, e := range r.entries {
		if r.Onboarding != "" && e.Onboarding == r.Onboarding {
			return true
		}
	}
	return len(r.unresolvedLocked()) > 0
}

// ChangesMade counts the changes the onboarding applied (not found).
func ChangesMade(cs []checks.Applied) int {
	n := 0
	for _, a := range cs {
		if !a.NoOp {
			n++
		}
	}
	return n
}

// Write (re)writes the onboarding's receipt and returns its path and the
// audit trail's. Every run of one onboarding writes the same file.
func (r *Receipts) Write(s *Session, now time.Time) (string, string, error) {
	return r.write(s, now, s.Ladder, s.ReceiptPath, true)
}

// writeDuring is Write in the middle of a run (the role step's receipt, an
// evidence rung's). With SyncAtEnd the directory is not synced: the file is
// whole after a crash of the machine, but its rename may be lost until the
// run's last Write or Sync (finishRecord); the journal is the record that
// must survive, and every later run of the onboarding rewrites the receipt.
func (r *Receipts) writeDuring(s *Session, now time.Time, ladder []LadderRung, reuse string) (string, string, error) {
	return r.write(s, now, ladder, reuse, !r.SyncAtEnd)
}

// Sync makes the last receipt this run wrote durable (syncs its directory)
// when it was written without (writeDuring).
func (r *Receipts) Sync() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.syncLocked()
}

func (r *Receipts) syncLocked() error {
	if r.written.path == "" || r.written.durable {
		return nil
	}
	d, err := os.Open(filepath.Dir(r.written.path))
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return err
	}
	r.written.durable = true
	return nil
}

// write is Write with the evidence ladder and the receipt path passed in
// (the health step hands over copies: its probes change the session).
func (r *Receipts) write(s *Session, now time.Time, ladder []LadderRung, reuse string, durable bool) (string, string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.loadLocked(s.TenantID); err != nil {
		return "", "", err
	}
	dir := r.TenantDir(s.TenantID)
	if r.Onboarding == "" {
		r.Onboarding = NewOnboardingName(dir, now)
	}
	rc := Receipt{TenantID: s.TenantID, TenantName: s.Org.DisplayName, Operator: s.Account.Username,
		Onboarding: r.Onboarding, WrittenAt: now.UTC(), Planned: s.Plan}
	rc.Changes, rc.Failed = r.changesLocked()
	if rc.Changes == nil {
		rc.Changes = []checks.Applied{}
	}
	for _, e := range r.unresolvedLocked() {
		rc.Unknown = append(rc.Unknown, e.Change)
	}
	done := map[string]bool{}
	for _, a := range rc.Changes {
		done[a.Change.ID] = true
	}
	for _, c := range rc.Unknown {
		done[c.ID] = true
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
	if s.Organization.ID != "" {
		rc.Organization = map[string]string{"id": s.Organization.ID, "name": s.Organization.Name}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", err
	}
	rc.Evidence = ladder
	path := filepath.Join(dir, "receipt-"+r.Onboarding+".json")
	// The end of a run rewrites the receipt the health step has just
	// written: with nothing new (times aside) the file stays as it is.
	same := rc
	same.WrittenAt = time.Time{}
	key, err := text.Marshal(same)
	if err != nil {
		return "", "", err
	}
	if r.written.path == path && bytes.Equal(r.written.key, key) {
		if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() {
			if durable && !r.written.durable {
				if err := r.syncLocked(); err != nil {
					return "", "", err
				}
			}
			return path, r.AuditPath(), nil
		}
	}
	// A later write of the same run (the evidence ladder's proofs) keeps
	// written_at (when the changes were recorded) and adds updated_at.
	if b, err := os.ReadFile(path); err == nil && reuse != "" {
		var prev struct {
			WrittenAt time.Time `json:"written_at"`
		}
		if json.Unmarshal(b, &prev) == nil && !prev.WrittenAt.IsZero() {
			rc.WrittenAt, rc.UpdatedAt = prev.WrittenAt, now.UTC()
		}
	}
	b, err := text.MarshalIndent(rc, "", "  ")
	if err != nil {
		return "", "", err
	}
	write := atomicfile.Write
	if !durable {
		write = atomicfile.WriteUnsynced
	}
	if err := write(path, append(b, '\n'), 0o600); err != nil {
		return "", "", err
	}
	r.written.path, r.written.key, r.written.durable = path, key, durable
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
	// Status is applied or found (already in place: not changed by this run).
	Status string `json:"status,omitempty"`
	Note   string `json:"note,omitempty"`
}

// Audit appends one change to the audit trail without a journal entry (a
// flow that records its own outcome).
func (r *Receipts) Audit(s *Session, a checks.Applied) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.auditLocked(s, a, nil)
}

// auditLocked appends one line (O_APPEND, one write per line so concurrent
// runs for other tenants do not interleave, fsynced). A failure is an error
// the run reports: the record must never be silently incomplete.
func (r *Receipts) auditLocked(s *Session, a checks.Applied, later *pendingSyncs) error {
	status := JournalApplied
	if a.NoOp {
		status = JournalFound
	}
	line, err := text.Marshal(AuditLine{Time: a.At.UTC(), TenantID: s.TenantID, Operator: s.Account.Username,
		Change: a.Change.ID, Summary: a.Change.Summary, Call: a.Change.Call, RequestID: a.RequestID, NoOp: a.NoOp,
		Status: status, Note: a.Note})
	if err != nil {
		return err
	}
	return r.appendLineLater(r.AuditPath(), append(line, '\n'), "audit trail", later)
}
