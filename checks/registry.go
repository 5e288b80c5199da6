package checks

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Registry is an ordered set of checks with unique IDs.
type Registry struct {
	list []Check
	byID map[string]Check
}

// NewRegistry keeps the given order and rejects nil checks, empty IDs and
// duplicate IDs.
func NewRegistry(cs ...Check) (*Registry, error) {
	r := &Registry{byID: make(map[string]Check, len(cs))}
	for i, c := range cs {
		if c == nil {
			return nil, fmt.Errorf("checks: check #%d is nil", i+1)
		}
		id := c.ID()
		if strings.TrimSpace(id) == "" {
			return nil, fmt.Errorf("checks: check #%d (%q) has an empty id", i+1, c.Title())
		}
		if _, dup := r.byID[id]; dup {
			return nil, fmt.Errorf("checks: duplicate check id %q", id)
		}
		r.byID[id] = c
		r.list = append(r.list, c)
	}
	return r, nil
}

// All returns every check in registration order (a copy).
func (r *Registry) All() []Check { return append([]Check(nil), r.list...) }

// Get returns the check with the given id.
func (r *Registry) Get(id string) (Check, bool) {
	c, ok := r.byID[id]
	return c, ok
}

// Select returns the checks of one step and phase, in registration order.
// An empty step or phase matches any.
func (r *Registry) Select(step StepID, phase Phase) []Check {
	var out []Check
	for _, c := range r.list {
		if (step == "" || c.Step() == step) && (phase == "" || c.Phase() == phase) {
			out = append(out, c)
		}
	}
	return out
}

// DefaultTimeout is what RunSafe uses when given a timeout <= 0.
const DefaultTimeout = 60 * time.Second

// ErrPanic wraps a panic recovered from a check's Run or Apply.
var ErrPanic = errors.New("panic")

// RunSafe runs one check with a timeout, recovering a panic or a hang into a
// Fail result whose Summary names the check and whose Err holds the cause.
// Duration is always filled. A check that ignores its context keeps running
// in the background, but RunSafe returns when the timeout expires.
func RunSafe(ctx context.Context, c Check, timeout time.Duration) Result {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	start := time.Now()
	if c == nil {
		return Result{Outcome: Fail, Summary: "check is nil", Err: errors.New("nil check")}
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	done := make(chan Result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- Result{
					Outcome: Fail,
					Summary: fmt.Sprintf("check %s (%s) crashed; this is a bug in itdr-onboard", c.ID(), c.Title()),
					Remedy:  "retry; if it happens again, report it with the output of `itdr-onboard check --json`",
					Err:     fmt.Errorf("%w in check %s: %v", ErrPanic, c.ID(), p),
				}
			}
		}()
		done <- c.Run(rctx)
	}()

	var res Result
	select {
	case res = <-done:
		if res.Outcome == "" {
			res = Result{
				Outcome: Fail,
				Summary: fmt.Sprintf("check %s (%s) returned no outcome; this is a bug in itdr-onboard", c.ID(), c.Title()),
				Err:     fmt.Errorf("check %s returned no outcome (summary %q)", c.ID(), res.Summary),
			}
		}
	case <-rctx.Done():
		err := rctx.Err()
		summary := fmt.Sprintf("check %s (%s) did not finish within %s", c.ID(), c.Title(), timeout)
		remedy := "check the network connection and retry"
		if ctx.Err() != nil {
			err = ctx.Err()
			summary = fmt.Sprintf("check %s (%s) was cancelled", c.ID(), c.Title())
			remedy = "run the check again"
		}
		res = Result{Outcome: Fail, Summary: summary, Remedy: remedy, Err: err}
	}
	res.Duration = time.Since(start)
	return res
}

// ApplySafe applies one planned change through the check that planned it
// (it must implement Fixer); a panic becomes an error wrapping ErrPanic.
func ApplySafe(ctx context.Context, c Check, ch Change) (a Applied, err error) {
	if c == nil {
		return Applied{}, errors.New("checks: apply: nil check")
	}
	f, ok := c.(Fixer)
	if !ok {
		return Applied{}, fmt.Errorf("checks: check %s cannot apply changes", c.ID())
	}
	if ch.CheckID != "" && ch.CheckID != c.ID() {
		return Applied{}, fmt.Errorf("checks: change %s was planned by %s, not %s", ch.ID, ch.CheckID, c.ID())
	}
	defer func() {
		if p := recover(); p != nil {
			a = Applied{}
			err = fmt.Errorf("%w in check %s applying %s: %v", ErrPanic, c.ID(), ch.ID, p)
		}
	}()
	a, err = f.Apply(ctx, ch)
	if err != nil {
		return a, err
	}
	if a.Change.ID == "" {
		a.Change = ch
	}
	if a.At.IsZero() {
		a.At = time.Now()
	}
	return a, nil
}

// Entry pairs a check with the result of running it.
type Entry struct {
	Check  Check
	Result Result
}

// RunAll runs the checks through RunSafe with at most parallel running at
// once (parallel <= 0 means all at once) and returns the entries in the
// order of cs.
func RunAll(ctx context.Context, cs []Check, timeout time.Duration, parallel int) []Entry {
	out := make([]Entry, len(cs))
	if parallel <= 0 || parallel > len(cs) {
		parallel = len(cs)
	}
	sem := make(chan struct{}, max(parallel, 1))
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			out[i] = Entry{Check: c, Result: RunSafe(ctx, c, timeout)}
		}()
	}
	wg.Wait()
	return out
}

// PlanOf collects the changes of the given results, sorted by Order (stable:
// equal orders keep result order).
func PlanOf(entries []Entry) []Change {
	var plan []Change
	for _, e := range entries {
		plan = append(plan, e.Result.Changes...)
	}
	sortChanges(plan)
	return plan
}

func sortChanges(cs []Change) {
	slices.SortStableFunc(cs, func(a, b Change) int { return cmp.Compare(a.Order, b.Order) })
}
