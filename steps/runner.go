package steps

import (
	"context"
	"sync"
)

// Runner runs the executor's jobs concurrently and delivers every outcome
// on one channel, so a front-end is a single loop: take an outcome, hand it
// to the engine, submit the jobs it returns. Jobs of an old attempt of a
// step are cancelled when a newer attempt's job arrives.
type Runner struct {
	ctx  context.Context
	x    *Executor
	out  chan Outcome
	mu   sync.Mutex
	live map[ID]attemptCtx
	sem  chan struct{}
	wg   sync.WaitGroup
}

type attemptCtx struct {
	attempt int
	ctx     context.Context
	cancel  context.CancelFunc
}

// NewRunner starts a runner; at most limit jobs run at once.
func NewRunner(ctx context.Context, x *Executor, limit int) *Runner {
	if limit <= 0 {
		limit = 8
	}
	return &Runner{ctx: ctx, x: x, out: make(chan Outcome, 64), live: map[ID]attemptCtx{}, sem: make(chan struct{}, limit)}
}

// Outcomes is where every outcome arrives.
func (r *Runner) Outcomes() <-chan Outcome { return r.out }

func (r *Runner) jobCtx(j Job) context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	a, ok := r.live[j.Step]
	if ok && a.attempt == j.Attempt {
		return a.ctx
	}
	if ok && j.Attempt < a.attempt {
		// A job of an attempt already replaced: never run it, and never
		// let it cancel the live attempt's work.
		ctx, cancel := context.WithCancel(r.ctx)
		cancel()
		return ctx
	}
	if ok {
		a.cancel()
	}
	ctx, cancel := context.WithCancel(r.ctx)
	r.live[j.Step] = attemptCtx{attempt: j.Attempt, ctx: ctx, cancel: cancel}
	return ctx
}

// CancelStep cancels the running jobs of a step (an intent made them moot).
func (r *Runner) CancelStep(id ID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if a, ok := r.live[id]; ok {
		a.cancel()
		delete(r.live, id)
	}
}

// Submit starts every job that is not a question and returns the questions
// for the front-end to answer.
func (r *Runner) Submit(jobs []Job) (asks []Job) {
	for _, j := range jobs {
		if _, ok := j.Effect.(Ask); ok {
			asks = append(asks, j)
			continue
		}
		ctx := r.jobCtx(j)
		r.wg.Add(1)
		go func(j Job) {
			defer r.wg.Done()
			select {
			case r.sem <- struct{}{}:
				defer func() { <-r.sem }()
			case <-ctx.Done():
			}
			emit := func(ev Event) { r.send(Outcome{Step: j.Step, Attempt: j.Attempt, Event: ev}) }
			ev := r.x.Do(ctx, j.Effect, emit)
			r.send(Outcome{Step: j.Step, Attempt: j.Attempt, Event: ev})
		}(j)
	}
	return asks
}

func (r *Runner) send(o Outcome) {
	select {
	case r.out <- o:
	case <-r.ctx.Done():
	}
}

// Close cancels everything and waits for the jobs to return.
func (r *Runner) Close() {
	r.mu.Lock()
	for _, a := range r.live {
		a.cancel()
	}
	r.mu.Unlock()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	// Drain so senders blocked on a full channel can finish.
	for {
		select {
		case <-done:
			return
		case <-r.out:
		}
	}
}
