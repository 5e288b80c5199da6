package state

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const tid = "3f9c8f2e-6d0b-4c1e-9a57-1b2d3c4e5f60"

func TestProgressRoundTripAndLookup(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	if p, err := s.LoadProgress(tid); p != nil || err != nil {
		t.Fatalf("empty store: %v %v", p, err)
	}
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	p := &Progress{TenantID: tid, TenantArg: "contoso.onmicrosoft.com", Domains: []string{"contoso.onmicrosoft.com", "contoso.com"},
		OrganizationID: "org_contoso", OrganizationName: "Contoso Ltd", Completed: []string{"prereqs", "signin"},
		Current: "roles", AppliedChanges: []string{"exo.role-group/Audit Logs"}, StartedAt: now, UpdatedAt: now}
	if err := s.SaveProgress(p); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(s.ProgressPath(tid))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("progress file: %v %v", st, err)
	}
	got, err := s.LoadProgress(tid)
	if err != nil || got.OrganizationID != "org_contoso" || got.LastCompleted() != "signin" || got.Version != ProgressVersion {
		t.Fatalf("loaded %+v %v", got, err)
	}
	for _, key := range []string{tid, strings.ToUpper(tid), "CONTOSO.com", "contoso.onmicrosoft.com."} {
		f, err := s.FindProgress(key)
		if err != nil || f == nil || f.TenantID != tid {
			t.Errorf("FindProgress(%q) = %v, %v", key, f, err)
		}
	}
	if f, _ := s.FindProgress("fabrikam.com"); f != nil {
		t.Errorf("found progress for another tenant: %+v", f)
	}
	// No temp files are left next to it.
	ents, _ := os.ReadDir(s.TenantDir(tid))
	for _, e := range ents {
		if e.Name() != ProgressFile {
			t.Errorf("stray file %s", e.Name())
		}
	}
}

func TestCorruptProgressIsAnErrorNotAPanic(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	os.MkdirAll(s.TenantDir(tid), 0o700)
	os.WriteFile(s.ProgressPath(tid), []byte(`{"tenant_id": "x`), 0o600)
	if _, err := s.LoadProgress(tid); err == nil {
		t.Fatal("torn progress file accepted")
	}
	if all, err := s.AllProgress(); err != nil || len(all) != 0 {
		t.Fatalf("AllProgress = %v, %v", all, err)
	}
}

// TestProgressWriteIsAtomicUnderConcurrentReaders: a reader never sees a
// torn file while writers replace it.
func TestProgressWriteIsAtomicUnderConcurrentReaders(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	if err := s.SaveProgress(&Progress{TenantID: tid}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 200; i++ {
			p := &Progress{TenantID: tid, OrganizationName: strings.Repeat("x", i*50), Completed: []string{"prereqs"}}
			if err := s.SaveProgress(p); err != nil {
				t.Error(err)
				return
			}
		}
		close(stop)
	}()
	for {
		select {
		case <-stop:
			wg.Wait()
			return
		default:
		}
		if _, err := s.LoadProgress(tid); err != nil {
			t.Fatalf("reader saw a torn file: %v", err)
		}
	}
}

// The refusal names the holder's command: an unmap or reauthorize run is
// not "onboarding" the tenant.
func TestLockHeldNamesHolderCommand(t *testing.T) {
	for _, cmd := range []string{"onboard", "unmap", "reauthorize"} {
		s := Store{Dir: t.TempDir()}
		l, err := s.AcquireLockFor(tid, cmd, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(l.Path)
		var li LockInfo
		if err := json.Unmarshal(b, &li); err != nil || li.Command != cmd {
			t.Fatalf("lock content %s (%v): want command %q", b, err, cmd)
		}
		_, err = s.AcquireLockFor(tid, "onboard", time.Now())
		want := `another run of "itdr-onboard ` + cmd + `" holds tenant ` + tid
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "onboarding") {
			t.Errorf("held by %s: %v; want it to say %q", cmd, err, want)
		}
		l.Release()
	}
	// A lock written before the command was recorded names no command.
	s := Store{Dir: t.TempDir()}
	l, _ := s.AcquireLock(tid, time.Now())
	defer l.Release()
	if _, err := s.AcquireLockFor(tid, "unmap", time.Now()); err == nil || !strings.Contains(err.Error(), "another itdr-onboard run holds tenant") {
		t.Errorf("held without a command: %v", err)
	}
}

func TestLockHeldNamesHolderAndReleases(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	now := time.Now()
	l, err := s.AcquireLock(tid, now)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(l.Path)
	var li LockInfo
	if err := json.Unmarshal(b, &li); err != nil || li.PID != os.Getpid() || li.Host == "" || li.StartedAt.IsZero() {
		t.Fatalf("lock content %s (%v)", b, err)
	}
	_, err = s.AcquireLock(tid, now)
	var he *HeldError
	if !errors.As(err, &he) || he.Holder.PID != os.Getpid() || !strings.Contains(err.Error(), "pid ") || !strings.Contains(err.Error(), li.Host) {
		t.Fatalf("second lock: %v", err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(l.Path); !os.IsNotExist(err) {
		t.Fatal("lock not removed")
	}
	l2, err := s.AcquireLock(tid, now)
	if err != nil {
		t.Fatalf("relock: %v", err)
	}
	l2.Release()
}

func TestLockOfLiveProcessIsNotTakenOver(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Skip("no sleep binary:", err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	s := Store{Dir: t.TempDir()}
	writeLock(t, s, LockInfo{PID: cmd.Process.Pid, Host: Hostname(), StartedAt: time.Now().Add(-time.Minute)})
	_, err := s.AcquireLock(tid, time.Now())
	var he *HeldError
	if !errors.As(err, &he) || he.Holder.PID != cmd.Process.Pid || he.Unknown {
		t.Fatalf("want HeldError naming pid %d, got %v", cmd.Process.Pid, err)
	}
}

func TestStaleLockOfDeadProcessIsTakenOver(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("no true binary:", err)
	}
	dead := cmd.ProcessState.Pid() // reaped: no longer exists
	s := Store{Dir: t.TempDir()}
	writeLock(t, s, LockInfo{PID: dead, Host: Hostname(), StartedAt: time.Now().Add(-time.Hour)})
	l, err := s.AcquireLock(tid, time.Now())
	if err != nil {
		t.Fatalf("stale lock not taken over: %v", err)
	}
	defer l.Release()
	if l.TookOver == nil || l.TookOver.PID != dead {
		t.Fatalf("TookOver = %+v", l.TookOver)
	}
	li, err := s.ReadLock(tid)
	if err != nil || li.PID != os.Getpid() {
		t.Fatalf("lock now %+v %v", li, err)
	}
	ents, _ := os.ReadDir(s.TenantDir(tid))
	if len(ents) != 1 {
		t.Fatalf("stray files: %v", ents)
	}
}

func TestLockFromAnotherHostIsNotTakenOver(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	writeLock(t, s, LockInfo{PID: 1, Host: "some-other-host", StartedAt: time.Now()})
	_, err := s.AcquireLock(tid, time.Now())
	var he *HeldError
	if !errors.As(err, &he) || !he.Unknown || !strings.Contains(err.Error(), "some-other-host") || !strings.Contains(err.Error(), "delete") {
		t.Fatalf("got %v", err)
	}
}

func TestOnlyOneOfManyConcurrentRunsGetsTheLock(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	// Pretend the holders are other processes: a lock whose pid is ours
	// counts as held, so concurrency inside one process is enough.
	var (
		mu    sync.Mutex
		wins  int
		locks []*Lock
		wg    sync.WaitGroup
	)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := s.AcquireLock(tid, time.Now())
			var he *HeldError
			if err != nil && !errors.As(err, &he) {
				t.Error(err)
			}
			if err == nil {
				mu.Lock()
				wins++
				locks = append(locks, l)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d runs got the lock", wins)
	}
	locks[0].Release()
}

func TestReleaseDoesNotRemoveSomeoneElsesLock(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	l, err := s.AcquireLock(tid, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	other := LockInfo{PID: os.Getpid() + 1, Host: Hostname(), StartedAt: time.Now()}
	os.Remove(l.Path)
	writeLock(t, s, other)
	l.Release()
	if li, err := s.ReadLock(tid); err != nil || li.PID != other.PID {
		t.Fatalf("released someone else's lock: %v %v", li, err)
	}
}

func writeLock(t *testing.T, s Store, li LockInfo) {
	t.Helper()
	if err := os.MkdirAll(s.TenantDir(tid), 0o700); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(li)
	if err := os.WriteFile(filepath.Join(s.TenantDir(tid), LockFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
}
