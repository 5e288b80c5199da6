package cli

import (
	"bufio"
	"context"

	"itdr-onboard/steps"
	"itdr-onboard/ui/plain"
)

// runTUI runs the bubbletea front-end. (Until ui/tui lands it uses the
// interactive line front-end.)
func runTUI(ctx context.Context, e *steps.Engine, r *steps.Runner, io IO, g *globalFlags, opt steps.Options) int {
	return plain.Run(ctx, e, r, plain.Prompt{Yes: opt.Yes, In: bufio.NewReader(io.In), Out: io.Out}, &plain.Text{W: io.Out})
}
