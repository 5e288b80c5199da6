package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
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
