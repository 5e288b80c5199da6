package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"itdr-onboard/ui/text"
)

// LockFile is the file name of a tenant's lock.
const LockFile = "lock"

// LockInfo names the run that holds a lock.
type LockInfo struct {
	PID       int       `json:"pid"`
	Host      string    `json:"host"`
	StartedAt time.Time `json:"started_at"`
	// ProcStart and Exe identify the holder's process beyond its pid (on
	// Linux: boot id + start time in ticks, and the executable), so a pid
	// that now belongs to an unrelated process is recognised as stale.
	ProcStart string `json:"proc_start,omitempty"`
	Exe       string `json:"exe,omitempty"`
	// Command is the holder's command ("onboard", "unmap", "reauthorize");
	// "" in locks written before it was recorded.
	Command string `json:"command,omitempty"`
}

func (l LockInfo) String() string {
	return fmt.Sprintf("pid %d on %s, started %s", l.PID, l.Host, text.When(l.StartedAt.Local(), "2006-01-02 15:04:05"))
}

// HeldError says another live run holds the tenant's lock.
type HeldError struct {
	TenantID string
	// Subject names what is locked when it is not a tenant ("batch <id>").
	Subject string
	Path    string
	Holder  LockInfo
	// Unknown is true when the holder's liveness cannot be checked (another
	// host, or an unreadable lock file).
	Unknown bool
}

func (e *HeldError) Error() string {
	run := "another itdr-onboard run"
	if c := text.Line(e.Holder.Command); c != "" {
		run = `another run of "itdr-onboard ` + c + `"`
	}
	subject := "tenant " + e.TenantID
	if e.Subject != "" {
		subject = e.Subject
	}
	s := fmt.Sprintf("%s holds %s (%s; lock file %s)", run, subject, e.Holder, e.Path)
	if e.Unknown && e.Holder.PID == 0 {
		s = fmt.Sprintf("another itdr-onboard run may hold %s: its lock file %s cannot be read", subject, e.Path)
	}
	if e.Unknown {
		s += fmt.Sprintf("; if you are sure it is no longer running, delete %s", e.Path)
	} else {
		s += "; wait for it to finish or stop it"
	}
	return s
}

// Lock is a held per-tenant lock.
type Lock struct {
	Path string
	Info LockInfo
	// TookOver is set when a stale lock was replaced: its holder is no
	// longer running, or its pid now belongs to another process.
	TookOver *LockInfo
	// TookOverWhy says which ("is no longer running", "now belongs to
	// another process (/usr/bin/sleep)").
	TookOverWhy string
}

// Release removes the lock file if it is still ours.
func (l *Lock) Release() error {
	if l == nil {
		return nil
	}
	cur, err := readLock(l.Path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	if cur.PID != l.Info.PID || cur.Host != l.Info.Host || !cur.StartedAt.Equal(l.Info.StartedAt) {
		return nil // taken over by someone else
	}
	return os.Remove(l.Path)
}

// Hostname is the host name recorded in locks (a var for tests).
var Hostname = func() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "unknown-host"
	}
	return h
}

// processAlive reports whether pid runs on this host (a var for tests).
var processAlive = pidAlive

// processStart and processExe identify a running process (vars for tests).
var processStart, processExe = procStart, procExe

// reused says why a live pid is not the lock's holder — it started at
// another time (or runs another executable, when start times are unknown) —
// or "" when it may well be the holder.
func reused(held LockInfo) string {
	exe := processExe(held.PID)
	what := "another process"
	if exe != "" {
		what += " (" + exe + ")"
	}
	if held.ProcStart != "" {
		if cur := processStart(held.PID); cur != "" && cur != held.ProcStart {
			return fmt.Sprintf("its pid %d now belongs to %s", held.PID, what)
		}
		return ""
	}
	if held.Exe != "" && exe != "" && exe != held.Exe {
		return fmt.Sprintf("its pid %d now belongs to %s", held.PID, what)
	}
	return ""
}

// AcquireLock takes the tenant's lock for a run whose command is not named
// (AcquireLockFor with "").
func (s Store) AcquireLock(tenantID string, now time.Time) (*Lock, error) {
	return s.AcquireLockFor(tenantID, "", now)
}

// AcquireLockFor takes the tenant's lock: <dir>/tenants/<tenantID>/lock,
// created with O_CREATE|O_EXCL and holding pid, host, start time and the
// command ("onboard", "unmap", …) so a refused run can name what holds it.
// A lock of a dead process on this host is taken over; a live holder (or
// one on another host) gives a *HeldError naming it.
func (s Store) AcquireLockFor(tenantID, command string, now time.Time) (*Lock, error) {
	if tenantID == "" {
		return nil, errors.New("state: lock without a tenant id")
	}
	return acquireLockIn(s.TenantDir(tenantID), tenantID, "", command, now)
}

// AcquireDirLock takes the lock file in dir for what subject names (for
// example "batch 20261206-203514-1145"), with the same rules as a tenant's
// lock: one live holder, a dead or reused pid is taken over, the refusal
// names the holder and the lock file.
func (s Store) AcquireDirLock(dir, subject, command string, now time.Time) (*Lock, error) {
	if dir == "" || subject == "" {
		return nil, errors.New("state: lock without a directory or subject")
	}
	return acquireLockIn(dir, "", subject, command, now)
}

func acquireLockIn(dir, tenantID, subject, command string, now time.Time) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	path := filepath.Join(dir, LockFile)
	me := LockInfo{PID: os.Getpid(), Host: Hostname(), StartedAt: now.UTC().Truncate(time.Millisecond),
		ProcStart: processStart(os.Getpid()), Exe: processExe(os.Getpid()), Command: command}
	b, _ := text.Marshal(me)
	var tookOver *LockInfo
	var why string
	for try := 0; try < 4; try++ {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err == nil {
			_, werr := f.Write(append(b, '\n'))
			serr := f.Sync()
			cerr := f.Close()
			if err := errors.Join(werr, serr, cerr); err != nil {
				os.Remove(path)
				return nil, fmt.Errorf("state: writing lock: %w", err)
			}
			return &Lock{Path: path, Info: me, TookOver: tookOver, TookOverWhy: why}, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("state: creating lock: %w", err)
		}
		held, rerr := readLock(path)
		if errors.Is(rerr, fs.ErrNotExist) {
			continue // released meanwhile
		}
		if rerr != nil {
			// A torn lock (its writer died between create and write) is
			// stale once it is old enough; younger, its writer may be busy.
			if st, serr := os.Stat(path); serr == nil && now.Sub(st.ModTime()) > 10*time.Second {
				if moveAside(path, nil) {
					continue
				}
			}
			return nil, &HeldError{TenantID: tenantID, Subject: subject, Path: path, Unknown: true}
		}
		if held.Host != me.Host {
			return nil, &HeldError{TenantID: tenantID, Subject: subject, Path: path, Holder: held, Unknown: true}
		}
		staleWhy := "is no longer running"
		if held.PID != me.PID && processAlive(held.PID) {
			if staleWhy = reused(held); staleWhy == "" {
				return nil, &HeldError{TenantID: tenantID, Subject: subject, Path: path, Holder: held}
			}
		}
		if held.PID == me.PID && !held.StartedAt.IsZero() && (held.ProcStart == "" || held.ProcStart == me.ProcStart) {
			// Our own process holds it (another run in this process).
			return nil, &HeldError{TenantID: tenantID, Subject: subject, Path: path, Holder: held}
		}
		if !moveAside(path, &held) {
			return nil, &HeldError{TenantID: tenantID, Subject: subject, Path: path, Holder: held}
		}
		h := held
		tookOver, why = &h, staleWhy
	}
	return nil, fmt.Errorf("state: could not take the lock %s", path)
}

// moveAside renames a stale lock out of the way; it checks that what it
// moved is the stale lock it read (not a fresh lock another process created
// in between) and puts a fresh one back.
func moveAside(path string, stale *LockInfo) bool {
	aside := path + ".stale." + strconv.Itoa(os.Getpid())
	if err := os.Rename(path, aside); err != nil {
		return false
	}
	if stale != nil {
		moved, err := readLock(aside)
		if err == nil && (moved.PID != stale.PID || moved.Host != stale.Host || !moved.StartedAt.Equal(stale.StartedAt)) {
			// Not the stale lock: restore it (Link fails if a lock exists again).
			if os.Link(aside, path) == nil {
				os.Remove(aside)
			}
			return false
		}
	}
	os.Remove(aside)
	return true
}

// ReadLock returns who holds a tenant's lock; fs.ErrNotExist when nobody.
func (s Store) ReadLock(tenantID string) (LockInfo, error) {
	return readLock(filepath.Join(s.TenantDir(tenantID), LockFile))
}

func readLock(path string) (LockInfo, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return LockInfo{}, err
	}
	var li LockInfo
	if err := json.Unmarshal(b, &li); err != nil || li.PID <= 0 {
		return LockInfo{}, fmt.Errorf("state: %s is not a lock file", path)
	}
	return li, nil
}
