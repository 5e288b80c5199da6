package state

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A batch's lock follows the tenant lock's rules: one live holder; the
// refusal names the subject and the lock file; released, it can be taken again.
func TestDirLockOneHolderNamesSubjectAndFile(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	dir := filepath.Join(s.Dir, "batches", "b1")
	now := time.Now()
	l, err := s.AcquireDirLock(dir, "batch b1", "batch", now)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.AcquireDirLock(dir, "batch b1", "batch", now)
	var he *HeldError
	if !errors.As(err, &he) {
		t.Fatalf("second holder: %v, want a HeldError", err)
	}
	msg := he.Error()
	for _, want := range []string{`"itdr-onboard batch"`, "holds batch b1", filepath.Join(dir, LockFile)} {
		if !strings.Contains(msg, want) {
			t.Errorf("refusal %q does not name %q", msg, want)
		}
	}
	if strings.Contains(msg, "tenant") {
		t.Errorf("a batch's refusal speaks of a tenant: %q", msg)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	l2, err := s.AcquireDirLock(dir, "batch b1", "batch", now)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	l2.Release()
	if _, err := s.AcquireDirLock("", "batch b1", "batch", now); err == nil {
		t.Error("a lock without a directory was taken")
	}
}
