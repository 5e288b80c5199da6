package state

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Issue 16 §7: a progress file that names another tenant than the folder it
// lies in (copied or edited) is refused, naming both; the tenant's own file
// still loads, and AllProgress skips the stray one.
func TestProgressNamingAnotherTenantIsRefused(t *testing.T) {
	t.Parallel()
	s := Store{Dir: t.TempDir()}
	const a, b = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"
	if err := s.SaveProgress(&Progress{TenantID: a, UpdatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if p, err := s.LoadProgress(a); err != nil || p == nil || p.TenantID != a {
		t.Fatalf("own progress: %+v %v", p, err)
	}
	// Copy a's progress into b's folder.
	raw, err := os.ReadFile(s.ProgressPath(a))
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(s.TenantDir(b), 0o700)
	if err := os.WriteFile(s.ProgressPath(b), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := s.LoadProgress(b)
	if err == nil || p != nil {
		t.Fatalf("progress of %s accepted for %s: %+v", a, b, p)
	}
	for _, want := range []string{filepath.Join(b, ProgressFile), "names tenant " + a, "not " + b} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}
	all, _ := s.AllProgress()
	if len(all) != 1 || all[0].TenantID != a {
		t.Errorf("AllProgress = %+v", all)
	}
}
