package cli

import (
	"context"
	"time"

	"itdr-onboard/steps"
	"itdr-onboard/ui/plain"
)

// flowRun is one run of a flow other than onboarding (check, reauthorize,
// unmap): the same engine, executor and front-ends as onboard.
type flowRun struct {
	flow     steps.Flow
	opt      steps.Options
	stateDir string
	// limit bounds the jobs running at once (check --parallel); 0: 8.
	limit int
	// checkTimeout is the per-check time limit (check --check-timeout).
	checkTimeout time.Duration
	// configure, when set, adds what the flow's executor needs beyond the
	// wiring (partner setup: where to save the app id).
	configure func(*steps.Executor)
	// record: the flow writes to the tenant (unmap, reauthorize), so its
	// record ends like onboarding's (finishRecord): intents whose outcome
	// is unknown — this run's, or an interrupted run's when this one found
	// nothing left to do — are settled by a read and the receipt rewritten.
	record bool
}

// runFlow drives the flow with the chosen front-end and returns the exit
// code (steps.ExitCode: the engine maps how the run ended).
func runFlow(ctx context.Context, g *globalFlags, io IO, w *wiring, fr flowRun, log *runLog) int {
	eng, s := fr.flow.New(fr.opt, w.infos)
	x := w.executor(s, fr.stateDir)
	x.CheckTimeout = fr.checkTimeout
	if fr.configure != nil {
		fr.configure(x)
	}
	if fr.record && x.Receipts != nil {
		x.Receipts.SyncAtEnd = true // finishRecord ends the record
	}
	r := steps.NewRunner(ctx, x, fr.limit)
	defer r.Close()
	defer w.closeIdle()
	mode := g.frontEnd(io)
	log.Info(fr.flow.Name, "front_end", mode, "tenant", fr.opt.Tenant, "auth", string(fr.opt.AuthMethod))
	var code int
	switch mode {
	case "tui":
		code = runTUI(ctx, eng, r, io, g, fr.opt, nil)
	case "json":
		code = plain.Run(ctx, eng, r, plain.Auto{Yes: fr.opt.Yes}, &plain.JSON{W: io.Out, Now: io.Now})
	default:
		var ans plain.Answerer = plain.Auto{Yes: fr.opt.Yes}
		if io.IsTTY {
			ans = plain.Prompt{Yes: fr.opt.Yes, Lines: plain.NewLines(io.In), Out: io.Out}
		}
		code = plain.Run(ctx, eng, r, ans, &plain.Text{W: io.Out, CanPaste: io.IsTTY, Now: io.Now})
	}
	if fr.record {
		code = finishRecord(r, x, s, fr.opt, code, io)
	}
	log.Info("finished", "exit_code", code, "outcome", s.Outcome)
	return code
}
