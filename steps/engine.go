package steps

import "time"

// Engine owns step order and bookkeeping so no front-end re-implements it:
// which step is current, which attempt is live (stale outcomes are dropped),
// when to advance, resume or finish.
type Engine struct {
	s        *Session
	steps    []Step
	cur      int
	attempts map[ID]int
	finished bool
	// resumeAfter maps a step index that must finish before a paused step resumes.
	paused []int
	// flow names the command (Flow.New); final words its end (Flow.Final).
	flow  string
	final func(*Engine, time.Time) *Done
	// early are later steps that started work before they were entered
	// (Early): their attempt is live, their outcomes go to them.
	early map[ID]bool
}

// Earlier is a later step that may start work before it becomes current,
// as soon as the data it needs is known (the mapping step's consent needs
// only the service principal's id). Early is asked after every event
// while the step is pending; it returns effects at most once. The step
// stays pending for the front-ends (the screens keep the step order) and
// folds its early outcomes until Enter continues from them.
type Earlier interface {
	Early(s *Session) []Effect
}

// NewEngine builds an engine over steps in order.
func NewEngine(s *Session, steps ...Step) *Engine {
	return &Engine{s: s, steps: steps, attempts: map[ID]int{}}
}

// Session returns the shared session.
func (e *Engine) Session() *Session { return e.s }

// Steps returns every step in order (for the progress rail).
func (e *Engine) Steps() []Step { return e.steps }

// Current returns the current step.
func (e *Engine) Current() Step { return e.steps[e.cur] }

// Attempt returns the live attempt of a step.
func (e *Engine) Attempt(id ID) int { return e.attempts[id] }

// Finished reports whether the run is over: every step ended, or the
// current step failed.
func (e *Engine) Finished() bool {
	if e.finished {
		return true
	}
	if e.Current().Status() != StatusFailed {
		return false
	}
	// A paused step that reports on everything (check) finishes its
	// background work before the run ends.
	for _, i := range e.paused {
		if d, ok := e.steps[i].(drainer); ok && d.Draining() {
			return false
		}
	}
	return true
}

// drainer is a paused step whose background work must finish even when a
// later step failed (its results are reported either way).
type drainer interface{ Draining() bool }

// Failure returns the current step's failure, if any.
func (e *Engine) Failure() *Failure {
	if e.Current().Status() != StatusFailed {
		return nil
	}
	return e.Current().Snapshot(e.s).Fail
}

// Start enters the first step.
func (e *Engine) Start() []Job {
	e.cur = 0
	return e.settle(e.enter(0))
}

func (e *Engine) enter(i int) []Job {
	e.cur = i
	st := e.steps[i]
	if e.early[st.ID()] {
		// Entered after starting early: the same attempt goes on.
		delete(e.early, st.ID())
	} else {
		e.attempts[st.ID()]++
	}
	return e.tag(st.ID(), st.Enter(e.s))
}

// startEarly asks the pending steps after the current one whether they
// can start now (Earlier).
func (e *Engine) startEarly(jobs []Job) []Job {
	if e.finished || e.s.Opt.DryRun || e.s.Stop || e.Current().Status() == StatusFailed {
		return jobs
	}
	for i := e.cur + 1; i < len(e.steps); i++ {
		st := e.steps[i]
		ea, ok := st.(Earlier)
		if !ok || st.Status() != StatusPending {
			continue
		}
		effs := ea.Early(e.s)
		if len(effs) == 0 {
			continue
		}
		if !e.early[st.ID()] {
			if e.early == nil {
				e.early = map[ID]bool{}
			}
			e.early[st.ID()] = true
			e.attempts[st.ID()]++
		}
		jobs = append(jobs, e.tag(st.ID(), effs)...)
	}
	return jobs
}

func (e *Engine) tag(id ID, effs []Effect) []Job {
	jobs := make([]Job, 0, len(effs))
	for _, f := range effs {
		if _, ok := f.(NewAttempt); ok {
			e.attempts[id]++
			continue
		}
		if e.s.Opt.DryRun && IsWrite(f) {
			// The one guard of --dry-run: whatever flow asked for it, the
			// run ends before its first write (the steps have put the
			// whole plan into the session by then).
			e.s.Outcome, e.s.Stop = "dry-run", true
			e.finished = true
			return nil
		}
		jobs = append(jobs, Job{Step: id, Attempt: e.attempts[id], Effect: f})
	}
	return jobs
}

// Handle routes one outcome to its step and returns follow-up jobs. An
// outcome for a step that is not current, or for an old attempt, is dropped.
func (e *Engine) Handle(o Outcome) []Job {
	if e.finished {
		return nil
	}
	st := e.Current()
	if o.Step != st.ID() {
		if e.early[o.Step] {
			return e.handleEarly(o)
		}
		return e.handlePaused(o)
	}
	if o.Attempt != e.attempts[st.ID()] {
		return nil
	}
	if st.Status().Terminal() {
		return nil
	}
	return e.settle(e.tag(st.ID(), st.Handle(e.s, o.Event)))
}

// handleEarly routes an outcome to a step that started early.
func (e *Engine) handleEarly(o Outcome) []Job {
	for _, st := range e.steps {
		if st.ID() == o.Step && o.Attempt == e.attempts[st.ID()] {
			return e.tag(st.ID(), st.Handle(e.s, o.Event))
		}
	}
	return nil
}

// handlePaused routes an outcome to a paused step that still has work
// running in the background. If that step fails, it becomes current (the
// run stops there) and the steps after it are reset for a retry.
func (e *Engine) handlePaused(o Outcome) []Job {
	for k, i := range e.paused {
		st := e.steps[i]
		if st.ID() != o.Step || o.Attempt != e.attempts[st.ID()] {
			continue
		}
		jobs := e.tag(st.ID(), st.Handle(e.s, o.Event))
		if st.Status() == StatusFailed {
			for j := i + 1; j < len(e.steps); j++ {
				if r, ok := e.steps[j].(interface{ Reset() }); ok {
					r.Reset()
				}
				e.attempts[e.steps[j].ID()]++ // drop their late outcomes
				delete(e.early, e.steps[j].ID())
			}
			e.paused = e.paused[:k]
			e.cur = i
		}
		return jobs
	}
	return nil
}

// settle advances past finished or paused steps, collecting the jobs the
// newly entered steps ask for.
func (e *Engine) settle(jobs []Job) []Job {
	for {
		st := e.Current()
		switch st.Status() {
		case StatusDone, StatusSkipped:
			if e.s.Stop {
				e.finished = true
				return jobs
			}
			// A paused earlier step resumes once the step after it is done.
			if n := len(e.paused); n > 0 && e.paused[n-1] < e.cur {
				p := e.paused[n-1]
				e.paused = e.paused[:n-1]
				e.cur = p
				ps := e.steps[p]
				jobs = append(jobs, e.tag(ps.ID(), ps.(Resumer).Resume(e.s))...)
				continue
			}
			next := e.nextPending(e.cur)
			if next < 0 {
				e.finished = true
				return jobs
			}
			jobs = append(jobs, e.enter(next)...)
		case StatusPaused:
			if _, ok := st.(Resumer); !ok {
				panic("steps: step " + string(st.ID()) + " paused without Resume")
			}
			e.paused = append(e.paused, e.cur)
			next := e.nextPending(e.cur)
			if next < 0 {
				panic("steps: step " + string(st.ID()) + " paused with nothing after it")
			}
			jobs = append(jobs, e.enter(next)...)
		default:
			return e.startEarly(jobs)
		}
	}
}

func (e *Engine) nextPending(after int) int {
	for i := after + 1; i < len(e.steps); i++ {
		if e.steps[i].Status() == StatusPending {
			return i
		}
	}
	return -1
}

// CanRetry reports whether the current step offers a retry.
func (e *Engine) CanRetry() bool {
	for _, o := range e.Current().Snapshot(e.s).Next {
		if o == OptRetry {
			return true
		}
	}
	return false
}

// Retry re-enters the current step as a new attempt; outcomes of the old
// attempt are dropped from now on.
func (e *Engine) Retry() []Job {
	if e.finished {
		return nil
	}
	return e.settle(e.enter(e.cur))
}

// Intent delivers a technician's action (a key in the TUI) to the current
// step as an event of a new kind; steps that do not know it ignore it.
func (e *Engine) Intent(ev Event) []Job {
	st := e.Current()
	if st.Status().Terminal() {
		return nil
	}
	return e.settle(e.tag(st.ID(), st.Handle(e.s, ev)))
}
