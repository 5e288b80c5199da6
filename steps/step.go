// Package steps is the wizard's step engine. It never imports bubbletea and
// never performs I/O: each step is a reducer that folds Events into its state
// and returns Effects as data. One Executor (exec.go) performs every effect
// under a context. The TUI, the plain line front-end and the JSON event
// stream all drive the same Engine.
package steps

import (
	"itdr-onboard/checks"
)

// ID names a step.
type ID string

// The five steps, in order.
const (
	Prereqs ID = "prereqs"
	SignIn  ID = "signin"
	Roles   ID = "roles"
	Mapping ID = "mapping"
	Health  ID = "health"
)

// Status of a step.
type Status string

const (
	StatusPending Status = "pending"
	StatusRunning Status = "running"
	// StatusWaiting: the step waits for the technician (a question).
	StatusWaiting Status = "waiting"
	// StatusPaused: the step finished what it could and continues after the
	// next step (prerequisites continue with tenant checks after sign-in).
	StatusPaused  Status = "paused"
	StatusDone    Status = "done"
	StatusSkipped Status = "skipped"
	StatusFailed  Status = "failed"
)

// Terminal reports whether the status ends the step.
func (s Status) Terminal() bool {
	return s == StatusDone || s == StatusSkipped || s == StatusFailed
}

// Step is one page of the wizard. It never performs I/O, starts goroutines
// or reads the clock: it asks for work by returning Effects and learns the
// outcome through Events.
type Step interface {
	ID() ID
	Title() string
	// Enter runs when the step becomes current (first visit or retry).
	Enter(s *Session) []Effect
	// Handle folds one event into the step and returns follow-up work.
	Handle(s *Session, ev Event) []Effect
	Status() Status
	// Snapshot is a presentation-neutral picture both front-ends render.
	Snapshot(s *Session) Snapshot
}

// Resumer is implemented by a step that can pause and continue later.
type Resumer interface {
	Resume(s *Session) []Effect
}

// Option is something the technician may do now; front-ends word it
// ("r retry" in the TUI, a flag hint in plain mode).
type Option string

const (
	OptRetry      Option = "retry"
	OptUseBrowser Option = "use-browser"
	OptNewCode    Option = "new-code"
	OptCopy       Option = "copy"
	OptQR         Option = "qr"
	OptDetach     Option = "detach"
	OptPasteURL   Option = "paste-url"
)

// FailKind says how a failed step ends the run (it picks the exit code).
type FailKind string

const (
	// FailStopped: stopped for the technician (a required prerequisite
	// failed, a plan was declined, the wrong tenant): exit 3.
	FailStopped FailKind = "stopped"
	// FailError: something failed: exit 1.
	FailError FailKind = "failed"
	// FailUsage: a flag value was wrong (unknown organization): exit 2.
	FailUsage FailKind = "usage"
	// FailPending: the health wait ended with the integration still pending: exit 4.
	FailPending FailKind = "pending"
)

// Failure describes why a step failed.
type Failure struct {
	// Final marks a failure that a retry cannot change (a broken app
	// manifest, an unknown --org): no retry is offered.
	Final   bool
	Kind    FailKind
	Message string // one sentence: what happened
	Remedy  string // what to do next
	Err     error
}

// retryUnlessFinal is the Next of a failed step.
func retryUnlessFinal(f *Failure) []Option {
	if f == nil || f.Final || f.Kind == FailUsage {
		return nil
	}
	return []Option{OptRetry}
}

func (f *Failure) Error() string {
	if f == nil {
		return ""
	}
	return f.Message
}

// Snapshot is the presentation-neutral picture of a step.
type Snapshot struct {
	ID     ID
	Title  string
	Status Status
	// Line is the step's one-line state ("3 of 7 checks done").
	Line string
	// Items are rows: checks, planned changes, applied changes.
	Items []Item
	// Prompt is non-nil when the step waits for an answer.
	Prompt *Question
	// Fail is set when the step failed.
	Fail *Failure
	// Next lists what the technician may do now.
	Next []Option
	// Detail is step-specific: *SignInDetail, *PlanDetail, *HealthDetail, *MappingDetail.
	Detail any
}

// Item is one row of a step.
type Item struct {
	ID      string
	Label   string
	Outcome checks.Outcome // pass/warn/fail/skip; "" while running
	Running bool
	Summary string
	Remedy  string
}

// QuestionKind is the kind of answer a question wants.
type QuestionKind string

const (
	AskConfirm QuestionKind = "confirm" // yes / no
	AskSelect  QuestionKind = "select"  // one of Choices
)

// Choice is one answer of a select question.
type Choice struct {
	Value string
	Label string
}

// Question is what a step asks the technician.
type Question struct {
	ID      string
	Kind    QuestionKind
	Prompt  string
	Details []string // lines shown above the prompt (the plan)
	Choices []Choice
	// Flag names the command-line flag that answers it non-interactively
	// ("--yes", "--org").
	Flag string
	// Default is used when the technician just presses enter.
	Default string
	// ChangeIDs are the plan changes a yes applies: a screen that shows
	// the plan with the question lists exactly these.
	ChangeIDs []string
}
