package text

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Issue 16 §4, one sanitiser used everywhere: JSON that the wizard prints or
// writes to a file is encoded through Marshal, MarshalIndent or JSONWriter
// (C1 controls escaped). encoding/json is used directly only where the JSON
// is a request body for an API (the m365, platform and Partner Center clients), by the
// simulator and the benchmark (not the wizard's output), where it re-encodes
// MSAL's in-memory token cache for MSAL to read back (auth/tenant_cache.go:
// never printed or written to a file), and here.
func TestJSONOutputGoesThroughTheSanitiser(t *testing.T) {
	t.Parallel()
	root := filepath.Join("..", "..")
	allowed := []string{"m365/", "platform/", "sim/", "bench/", "internal/", "ui/text/", "auth/devicecode.go", "auth/tenant_cache.go", "partner/pc.go"}
	direct := regexp.MustCompile(`json\.(Marshal|MarshalIndent|NewEncoder)\(|slog\.NewJSONHandler\(`)
	wrapped := regexp.MustCompile(`slog\.NewJSONHandler\((text\.JSONWriter\(|io\.Discard)`)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") && rel != "." {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, "_test.go") {
			return nil
		}
		for _, a := range allowed {
			if strings.HasPrefix(rel, a) {
				return nil
			}
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			if direct.MatchString(line) && !wrapped.MatchString(line) {
				t.Errorf("%s:%d encodes JSON without escaping C1 controls; use text.Marshal, text.MarshalIndent or text.JSONWriter: %s", rel, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
