package conformance

import (
	"regexp"
	"strings"
	"testing"
)

var indexRE = regexp.MustCompile(`\[\d+\]`)

// reportsField reports whether one of the problems is about field path
// (indices generalised: "value[2].id" is about "value[].id").
func reportsField(problems []string, path string) bool {
	for _, p := range problems {
		if strings.HasPrefix(indexRE.ReplaceAllString(p, "[]"), path+":") {
			return true
		}
	}
	return false
}

// TestCheckerBitesOnEveryField takes every real simulator response the
// conformance tests check and, for every field the wizard reads from it,
// renames that field (as a simulator bug or an API change would) and,
// separately, gives it a value of the wrong JSON type. The checker must
// name the field each time: this is what makes the conformance tests fail
// when a field the wizard reads is renamed in the simulator.
func TestCheckerBitesOnEveryField(t *testing.T) {
	var caps []capture
	caps = append(caps, graphCaptures(t)...)
	caps = append(caps, exchangeCaptures(t)...)
	caps = append(caps, platformCaptures(t)...)
	caps = append(caps, identityCaptures(t)...)
	caps = append(caps, aadErrorCaptures(t)...)
	for _, ec := range append(append(graphErrorCaptures(t), exchangeErrorCaptures(t)...), platformErrorCaptures(t)...) {
		caps = append(caps, ec.capture)
	}
	renames, retypes := 0, 0
	for _, c := range caps {
		if p := Check(c.body, c.fields); len(p) != 0 {
			t.Fatalf("%s does not conform to begin with: %q", c.name, p)
		}
		for _, f := range c.fields {
			if !strings.HasSuffix(f.Path, "[]") {
				b, n, err := Mutate(c.body, f.Path, f.Path[strings.LastIndex(f.Path, ".")+1:]+"_renamed", "")
				if err != nil || n == 0 {
					t.Fatalf("%s: renaming %s changed nothing (%v)", c.name, f.Path, err)
				}
				if p := Check(b, c.fields); !reportsField(p, f.Path) {
					t.Errorf("%s: renaming %s went unnoticed (problems %q)", c.name, f.Path, p)
				}
				renames++
			}
			if f.Kind == Any {
				continue
			}
			b, n, err := Mutate(c.body, f.Path, "", f.Kind)
			if err != nil || n == 0 {
				t.Fatalf("%s: re-typing %s changed nothing (%v)", c.name, f.Path, err)
			}
			if p := Check(b, c.fields); !reportsField(p, f.Path) {
				t.Errorf("%s: giving %s the wrong type went unnoticed (problems %q)", c.name, f.Path, p)
			}
			retypes++
		}
	}
	t.Logf("%d responses, %d renamed fields and %d re-typed fields all caught", len(caps), renames, retypes)
	if renames < 300 {
		t.Errorf("only %d renames tried", renames)
	}
}

// TestRenamedFieldInRealResponseFails is the plain example: the real
// GET /organization answer with verifiedDomains[].isInitial renamed (the
// field the wizard uses to find the tenant's initial domain).
func TestRenamedFieldInRealResponseFails(t *testing.T) {
	e := start(t, "typical", nil)
	body := e.graph("GET", "/organization", nil).want(t, "organization", 200).body
	if p := Check(body, specOrganization); len(p) != 0 {
		t.Fatalf("the real response fails: %q", p)
	}
	renamed := strings.Replace(string(body), `"isInitial"`, `"isInitialDomain"`, 1)
	if renamed == string(body) {
		t.Fatal("no isInitial in the response")
	}
	p := Check([]byte(renamed), specOrganization)
	if len(p) != 1 || p[0] != "value[0].verifiedDomains[0].isInitial: missing (want boolean)" {
		t.Fatalf("problems %q", p)
	}
}
