package cli

import (
	"context"
	"os"
	"strings"

	"itdr-onboard/steps"
	"itdr-onboard/ui/tui"
)

// runTUI runs the bubbletea front-end.
func runTUI(ctx context.Context, e *steps.Engine, r *steps.Runner, io IO, g *globalFlags, opt steps.Options, onChange func(*steps.Engine)) int {
	return tui.Run(ctx, e, r, tui.Options{NoColor: !g.color(io), Yes: opt.Yes, Input: io.In, Output: io.Out, OnChange: onChange, Again: againCommand(os.Args)})
}

// againCommand is the command line that runs this command again (it
// resumes an unfinished run), for the text the TUI leaves after a quit.
func againCommand(args []string) string {
	parts := []string{"itdr-onboard"}
	for _, a := range args[min(1, len(args)):] {
		if a == "" || strings.ContainsAny(a, " \t'\"$`\\;&|<>()*?[]{}~!#") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}
