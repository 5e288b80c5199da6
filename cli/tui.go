package cli

import (
	"context"

	"itdr-onboard/steps"
	"itdr-onboard/ui/tui"
)

// runTUI runs the bubbletea front-end.
func runTUI(ctx context.Context, e *steps.Engine, r *steps.Runner, io IO, g *globalFlags, opt steps.Options, onChange func(*steps.Engine)) int {
	return tui.Run(ctx, e, r, tui.Options{NoColor: !g.color(io), Yes: opt.Yes, Input: io.In, Output: io.Out, OnChange: onChange})
}
