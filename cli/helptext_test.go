package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"itdr-onboard/sim"
)

// pflag takes the first `quoted` word of a flag's usage as its value name,
// so a backquote in a usage text garbles --help ("--endpoints sim serve").
// Every flag of every command shows its type as the value name and keeps
// its whole sentence.
func TestFlagHelpHasNoBackquotes(t *testing.T) {
	t.Parallel()
	root := newRoot(IO{In: strings.NewReader(""), Out: &bytes.Buffer{}, Err: &bytes.Buffer{}, Env: func(string) string { return "" }})
	var walk func(c *cobra.Command)
	n := 0
	walk = func(c *cobra.Command) {
		check := func(f *pflag.Flag) {
			n++
			if strings.Contains(f.Usage, "`") {
				name, _ := pflag.UnquoteUsage(f)
				t.Errorf("%s --%s: usage has a backquote, so --help shows %q as its value name: %q", c.CommandPath(), f.Name, name, f.Usage)
			}
		}
		c.LocalFlags().VisitAll(check)
		c.PersistentFlags().VisitAll(check)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	if n < 20 {
		t.Fatalf("visited %d flags: the command tree was not walked", n)
	}
}

// demo --help lists every built-in scenario with its one line (a new
// scenario adds its line to scenarioLines), within 80 columns; onboard and
// demo --help show examples.
func TestDemoHelpDescribesEveryScenario(t *testing.T) {
	t.Parallel()
	names := sim.BuiltinScenarios()
	if len(names) != len(scenarioLines) {
		t.Errorf("%d built-in scenarios, %d lines in scenarioLines", len(names), len(scenarioLines))
	}
	code, out, _ := runCLI(t, nil, "demo", "--help")
	if code != 0 {
		t.Fatalf("demo --help: exit %d\n%s", code, out)
	}
	for _, n := range names {
		line := scenarioLines[n]
		if line == "" {
			t.Errorf("scenario %s has no line in scenarioLines", n)
			continue
		}
		found := false
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), n+" ") && strings.HasSuffix(l, "  "+line) {
				found = true
				if w := len([]rune(l)); w > 80 {
					t.Errorf("%q is %d columns wide", l, w)
				}
			}
		}
		if !found {
			t.Errorf("demo --help does not list %s with %q:\n%s", n, line, out)
		}
	}
	for _, cmd := range []string{"demo", "onboard"} {
		_, out, _ := runCLI(t, nil, cmd, "--help")
		if !strings.Contains(out, "Examples:\n  itdr-onboard "+cmd) {
			t.Errorf("%s --help has no examples:\n%s", cmd, out)
		}
	}
}
