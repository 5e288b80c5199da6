package steps

// New builds the five-step onboarding engine over the registered checks.
func New(opt Options, infos []CheckInfo) (*Engine, *Session) {
	return Onboard.New(opt, infos)
}

// ExitCode maps how a run ended to the process exit code:
// 0 healthy (or a dry run), 1 failed, 2 usage, 3 stopped for the
// technician, 4 health still pending when the wait ended; a flow whose end
// carries its own code (status: the worst tenant's) exits with it.
func ExitCode(e *Engine) int {
	if f := e.Failure(); f != nil {
		switch f.Kind {
		case FailStopped:
			return 3
		case FailUsage:
			return 2
		case FailPending:
			return 4
		}
		return 1
	}
	if !e.Finished() {
		return 1
	}
	if d := e.s.Done; d != nil {
		return d.ExitCode
	}
	return 0
}
