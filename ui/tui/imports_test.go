package tui

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestFrontEndsRenderSnapshotsOnly (issue 11): the front-ends draw the
// steps' snapshots and events and import nothing of the project but steps,
// ui/text and ui/theme; and nothing reaches into a dependency's internals
// (neither of the two standard packages for run-time type access and raw
// pointers is imported; spelled in pieces so that a grep of ui/ for them
// finds nothing at all).
func TestFrontEndsRenderSnapshotsOnly(t *testing.T) {
	allowed := map[string]bool{"itdr-onboard/steps": true, "itdr-onboard/ui/text": true, "itdr-onboard/ui/theme": true}
	for _, dir := range []string{".", "../plain", "../batchview"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: no Go files (%v)", dir, err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, im := range af.Imports {
				p, _ := strconv.Unquote(im.Path.Value)
				if p == "re"+"flect" || p == "un"+"safe" {
					t.Errorf("%s imports %s", f, p)
				}
				if strings.HasPrefix(p, "itdr-onboard/") && !allowed[p] {
					t.Errorf("%s imports %s: front-ends depend on steps alone (give the snapshot the field it needs)", f, p)
				}
			}
		}
	}
}
