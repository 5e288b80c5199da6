//go:build linux

package state

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Issue 16 §7: a stale lock whose pid now belongs to an unrelated process
// is recognised by the process's start time (boot id + start ticks from
// /proc) and taken over, saying so; the lock of the live holder itself is
// not; every message names the lock file.
func TestLockWhosePidWasReusedIsTakenOver(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Skip("no sleep binary:", err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	pid := cmd.Process.Pid
	real := procStart(pid)
	if real == "" || !strings.Contains(real, "/") {
		t.Fatalf("procStart(%d) = %q", pid, real)
	}
	if exe := procExe(pid); !strings.HasSuffix(exe, "/sleep") {
		t.Errorf("procExe(%d) = %q", pid, exe)
	}

	// The holder recorded another start time: the pid was reused by sleep.
	s := Store{Dir: t.TempDir()}
	writeLock(t, s, LockInfo{PID: pid, Host: Hostname(), StartedAt: time.Now().Add(-time.Hour), ProcStart: real + "0", Exe: "/usr/local/bin/itdr-onboard"})
	l, err := s.AcquireLock(tid, time.Now())
	if err != nil {
		t.Fatalf("a lock whose pid belongs to another process was not taken over: %v", err)
	}
	if l.TookOver == nil || l.TookOver.PID != pid || !strings.Contains(l.TookOverWhy, "now belongs to another process") || !strings.Contains(l.TookOverWhy, "sleep") {
		t.Errorf("TookOver %+v, why %q", l.TookOver, l.TookOverWhy)
	}
	if l.Info.ProcStart == "" || l.Info.Exe == "" {
		t.Errorf("the new lock does not record its process: %+v", l.Info)
	}
	l.Release()

	// The same start time: that is the holder, still running.
	writeLock(t, s, LockInfo{PID: pid, Host: Hostname(), StartedAt: time.Now().Add(-time.Minute), ProcStart: real})
	_, err = s.AcquireLock(tid, time.Now())
	var he *HeldError
	if !errors.As(err, &he) || he.Holder.PID != pid {
		t.Fatalf("want HeldError naming pid %d, got %v", pid, err)
	}
	if !strings.Contains(err.Error(), he.Path) || !strings.HasSuffix(he.Path, LockFile) {
		t.Errorf("the message does not name the lock file: %v", err)
	}

	// A lock from an older version (no start time) falls back to the
	// executable: another program at that pid is not the holder.
	writeLock(t, s, LockInfo{PID: pid, Host: Hostname(), StartedAt: time.Now().Add(-time.Minute), Exe: "/usr/local/bin/itdr-onboard"})
	l, err = s.AcquireLock(tid, time.Now())
	if err != nil || !strings.Contains(l.TookOverWhy, "sleep") {
		t.Fatalf("exe mismatch not taken over: %v %+v", err, l)
	}
	l.Release()
	// Nothing recorded but the pid: a live pid is taken for the holder.
	writeLock(t, s, LockInfo{PID: pid, Host: Hostname(), StartedAt: time.Now().Add(-time.Minute)})
	if _, err := s.AcquireLock(tid, time.Now()); !errors.As(err, &he) {
		t.Fatalf("legacy lock of a live pid taken over: %v", err)
	}
}

// A zero start time is never shown as 0001-01-01.
func TestLockInfoWithoutStartTime(t *testing.T) {
	if s := (LockInfo{PID: 7, Host: "h"}).String(); strings.Contains(s, "0001") || !strings.Contains(s, "an unknown time") {
		t.Errorf("%s", s)
	}
}
