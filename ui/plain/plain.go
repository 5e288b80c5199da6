// Package plain drives the step engine without a TUI: line output for
// dumb terminals, pipes and screen readers, and JSON events for automation.
// It never imports bubbletea.
package plain

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"itdr-onboard/steps"
	"itdr-onboard/ui/text"
)

// ErrInterrupted is returned when the context is cancelled (ctrl+c).
var ErrInterrupted = errors.New("interrupted")

// NeedsInputError names the flag that answers a question in a headless run.
type NeedsInputError struct {
	Question steps.Question
}

func (e *NeedsInputError) Error() string {
	return fmt.Sprintf("%s — no terminal to ask on; answer it with %s", strings.TrimSuffix(e.Question.Prompt, "?"), e.Question.Flag)
}

// Answerer answers the engine's questions.
type Answerer interface {
	Answer(ctx context.Context, q steps.Question) (string, error)
}

// Reporter turns what happens into output.
type Reporter interface {
	// StepStarted is called when a step becomes current.
	StepStarted(e *steps.Engine, st steps.Step)
	// Outcome is called after the engine handled an outcome of step id.
	Outcome(e *steps.Engine, id steps.ID, ev steps.Event)
	// Answered is called when a question was answered.
	Answered(e *steps.Engine, q steps.Question, value string, auto bool)
	// Finished is called once at the end with the exit code.
	Finished(e *steps.Engine, code int, err error)
}

// WriteGate is a Reporter that must see the engine before a write is
// started: BeforeWrites returns once what the writes need on disk is there
// (cli: the progress file names the onboarding's record, so a run killed
// during the write is resumed into the same record).
type WriteGate interface {
	BeforeWrites(e *steps.Engine)
}

// Run drives the engine to the end and returns the exit code.
func Run(ctx context.Context, e *steps.Engine, r *steps.Runner, ans Answerer, rep Reporter) (code int) {
	cur := steps.ID("")
	announced := map[steps.ID]bool{}
	// announce reports steps in order: a step that paused before the
	// current one (its checks go on in the background) is announced
	// before it; a step that ended without becoming current (nothing to
	// do, such as a --tenant given as a GUID) is not.
	announce := func() {
		c := e.Current()
		for _, st := range e.Steps() {
			if st.ID() == c.ID() {
				break
			}
			if !announced[st.ID()] && st.Status() == steps.StatusPaused {
				announced[st.ID()] = true
				rep.StepStarted(e, st)
			}
		}
		if c.ID() != cur {
			cur = c.ID()
			announced[cur] = true
			rep.StepStarted(e, c)
		}
	}
	pasteOff := false
	queue := e.Start()
	announce()
	for {
		for len(queue) > 0 {
			if g, ok := rep.(WriteGate); ok && slices.ContainsFunc(queue, func(j steps.Job) bool { return steps.IsWrite(j.Effect) }) {
				g.BeforeWrites(e)
			}
			asks := r.Submit(queue)
			queue = nil
			for _, ask := range asks {
				q := ask.Effect.(steps.Ask).Q
				v, err := ans.Answer(ctx, q)
				if err != nil {
					var ni *NeedsInputError
					code = 2
					if errors.Is(err, ErrInterrupted) || ctx.Err() != nil {
						code = 130
					} else if !errors.As(err, &ni) {
						code = 1
					}
					rep.Finished(e, code, err)
					return code
				}
				_, auto := ans.(Auto)
				rep.Answered(e, q, v, auto)
				queue = append(queue, e.Handle(steps.Outcome{Step: ask.Step, Attempt: ask.Attempt, Event: steps.Answered{QuestionID: q.ID, Value: v}})...)
				announce()
			}
		}
		if e.Finished() {
			code = steps.ExitCode(e)
			rep.Finished(e, code, nil)
			return code
		}
		var pasted chan lineRead
		if pr, ok := ans.(Prompt); ok && pr.Lines != nil && !pasteOff && offersPaste(e) {
			pasted = pr.Lines.ch
		}
		select {
		case <-ctx.Done():
			rep.Finished(e, 130, ErrInterrupted)
			return 130
		case l := <-pasted:
			if l.err != nil {
				// Input ended: keep that for a later question, stop reading.
				pasteOff = true
				go func() { pasted <- l }()
				continue
			}
			if u := strings.TrimSpace(l.s); u != "" {
				queue = e.Intent(steps.PasteRedirect{URL: u})
			}
		case o := <-r.Outcomes():
			fresh := o.Attempt == e.Attempt(o.Step)
			// The follow-up reads start before the outcome is reported:
			// reporting must not sit between an answer and the next
			// request. Writes and questions wait for the report, and
			// writes for the reporter's WriteGate (the progress file names
			// the onboarding's record before its next write is sent: a
			// run killed then is resumed into the same record).
			queue = nil
			var now []steps.Job
			for _, j := range e.Handle(o) {
				if steps.IsWrite(j.Effect) {
					queue = append(queue, j)
				} else {
					now = append(now, j)
				}
			}
			queue = append(queue, r.Submit(now)...)
			if fresh {
				rep.Outcome(e, o.Step, o.Event)
			}
			announce()
		}
	}
}

// offersPaste reports whether the sign-in screen takes a pasted URL now.
func offersPaste(e *steps.Engine) bool {
	if e.Current().ID() != steps.SignIn {
		return false
	}
	for _, o := range e.Current().Snapshot(e.Session()).Next {
		if o == steps.OptPasteURL {
			return true
		}
	}
	return false
}

// Auto answers from flags only: --yes confirms; anything else needs a flag.
type Auto struct{ Yes bool }

// Answer implements Answerer.
func (a Auto) Answer(_ context.Context, q steps.Question) (string, error) {
	if q.Kind == steps.AskConfirm && a.Yes {
		return "yes", nil
	}
	return "", &NeedsInputError{Question: q}
}

// Prompt asks on a terminal line by line (plain mode with a TTY, screen
// readers); --yes still answers confirmations.
type Prompt struct {
	Yes bool
	// Lines is the terminal, read by one goroutine (NewLines); Run also
	// takes a pasted sign-in URL from it.
	Lines *Lines
	Out   io.Writer
}

// Lines reads a terminal line by line in one goroutine, so a question and a
// pasted sign-in URL never race for the same input, and a read abandoned by
// ctrl+c cannot swallow the next answer.
type Lines struct {
	ch chan lineRead
}

type lineRead struct {
	s   string
	err error
}

// NewLines starts reading r.
func NewLines(r io.Reader) *Lines {
	l := &Lines{ch: make(chan lineRead)}
	go func() {
		br := bufio.NewReader(r)
		for {
			s, err := br.ReadString('\n')
			if s != "" {
				l.ch <- lineRead{s: s}
			}
			if err != nil {
				l.ch <- lineRead{err: err}
				return
			}
		}
	}()
	return l
}

// Next returns the next line, or an error when ctx ends or input closes.
func (l *Lines) Next(ctx context.Context) (string, error) {
	select {
	case <-ctx.Done():
		return "", ErrInterrupted
	case r := <-l.ch:
		if r.err == io.EOF {
			// Keep reporting the end to later readers.
			go func() { l.ch <- r }()
			return "", errors.New("standard input closed before the question was answered")
		}
		return r.s, r.err
	}
}

// Answer implements Answerer.
func (p Prompt) Answer(ctx context.Context, q steps.Question) (string, error) {
	if q.Kind == steps.AskConfirm && p.Yes {
		return "yes", nil
	}
	// What the question is about (the plan) is read before the question.
	for _, d := range q.Details {
		fmt.Fprintf(p.Out, "  - %s\n", text.Line(d))
	}
	sel := &selection{choices: q.Choices, def: q.Default}
	for {
		switch q.Kind {
		case steps.AskConfirm:
			def := "y/N"
			if q.Default == "yes" {
				def = "Y/n"
			}
			fmt.Fprintf(p.Out, "%s [%s] ", text.Line(q.Prompt), def)
		case steps.AskSelect:
			fmt.Fprintln(p.Out, text.Line(q.Prompt))
			hint := "Type part of a name to filter, or the number of a listed one."
			if d := sel.defaultChoice(); d != nil {
				hint += " Enter picks " + text.Line(d.Label) + "."
			}
			fmt.Fprintln(p.Out, hint)
		}
		line, err := p.Lines.Next(ctx)
		if err != nil {
			return "", err
		}
		line = strings.TrimSpace(line)
		switch q.Kind {
		case steps.AskConfirm:
			if line == "" {
				line = q.Default
			}
			switch strings.ToLower(line) {
			case "y", "yes":
				return "yes", nil
			case "n", "no", "":
				return "no", nil
			}
			fmt.Fprintln(p.Out, "Please answer y or n.")
		case steps.AskSelect:
			if v, ok := sel.pick(p.Out, line); ok {
				return v, nil
			}
		}
	}
}

// selection is the state of one organization question in line mode:
// numbers refer to the listing printed last, never to a hidden order.
type selection struct {
	choices []steps.Choice
	def     string
	listing []steps.Choice
}

func (s *selection) defaultChoice() *steps.Choice {
	for i := range s.choices {
		if s.def != "" && s.choices[i].Value == s.def {
			return &s.choices[i]
		}
	}
	return nil
}

const maxListing = 20

func (s *selection) picked(out io.Writer, c steps.Choice) (string, bool) {
	fmt.Fprintf(out, "Picked %s.\n", text.Line(c.Label))
	return c.Value, true
}

// pick chooses among the choices: Enter for the suggested one, a number
// from the last listing, an exact name or id, or a filter.
func (s *selection) pick(out io.Writer, line string) (string, bool) {
	if line == "" {
		if d := s.defaultChoice(); d != nil {
			return s.picked(out, *d)
		}
	}
	if n, err := strconv.Atoi(line); err == nil {
		if n >= 1 && n <= len(s.listing) {
			return s.picked(out, s.listing[n-1])
		}
		if len(s.listing) == 0 {
			fmt.Fprintln(out, "No list to pick from yet: type part of a name first.")
		} else {
			fmt.Fprintf(out, "Pick a number from 1 to %d.\n", len(s.listing))
		}
		return "", false
	}
	matches := s.choices
	if line != "" {
		matches = nil
		l := strings.ToLower(line)
		for _, c := range s.choices {
			if strings.EqualFold(c.Label, line) || c.Value == line {
				return s.picked(out, c)
			}
			if strings.Contains(strings.ToLower(c.Label), l) {
				matches = append(matches, c)
			}
		}
	}
	switch len(matches) {
	case 0:
		fmt.Fprintln(out, "No organization matches; try again.")
		return "", false
	case 1:
		return s.picked(out, matches[0])
	}
	s.listing = matches[:min(len(matches), maxListing)]
	for i, c := range s.listing {
		fmt.Fprintf(out, "  %2d. %s\n", i+1, text.Line(c.Label))
	}
	if len(matches) > maxListing {
		fmt.Fprintf(out, "  … and %d more; type more of the name.\n", len(matches)-maxListing)
	}
	return "", false
}
