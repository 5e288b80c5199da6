// Package checks holds the prerequisite and role-fix check modules. A check
// is a read-only probe; a check that can also repair what it found implements
// Fixer. Modules are registered in one explicit list (Builtin). The package
// never imports bubbletea and never prints.
package checks

import (
	"context"
	"time"
)

// Outcome of one check run.
type Outcome string

const (
	Pass Outcome = "pass"
	Warn Outcome = "warn"
	Fail Outcome = "fail"
	Skip Outcome = "skip"
)

// Severity says whether a failure blocks the onboarding.
type Severity string

const (
	// Required: a failure that no fix can repair stops the wizard (exit 3).
	Required Severity = "required"
	// Recommended: a failure is shown as a warning and the wizard goes on.
	Recommended Severity = "recommended"
)

// Phase says when a check can run.
type Phase string

const (
	// BeforeSignIn checks need only the platform and the network.
	BeforeSignIn Phase = "before-signin"
	// Tenant checks need the technician's tokens.
	Tenant Phase = "tenant"
)

// StepID names the wizard step a check belongs to (mirrors steps.ID without
// importing steps).
type StepID string

const (
	StepPrereqs StepID = "prereqs"
	StepRoles   StepID = "roles"
)

// Result is what one run of a check found.
type Result struct {
	Outcome Outcome `json:"outcome"`
	// Summary is one line saying what was actually verified:
	// "Exchange Online licence found (ENTERPRISEPACK: EXCHANGE_S_ENTERPRISE)".
	Summary string `json:"summary"`
	// Detail is optional multi-line evidence.
	Detail string `json:"detail,omitempty"`
	// Remedy is what a technician can do when the outcome is not Pass.
	Remedy string `json:"remedy,omitempty"`
	// Changes is the exact plan a Fixer would apply (empty when nothing to fix).
	Changes []Change `json:"changes,omitempty"`
	// Err is set when the check could not decide (network, permission, panic).
	Err error `json:"-"`
	// External marks a failure that neither the technician nor the tenant
	// can repair (the platform's own app manifest is broken): the run ends
	// as failed (exit 1), not as stopped for the technician (exit 3).
	External bool `json:"external,omitempty"`
	// Unavailable marks a check that could not decide because the service
	// did not answer usefully (throttled with a Retry-After beyond the retry
	// budget, 5xx, network) after the retries: nothing is known to be wrong
	// with the tenant, so the run ends as failed (exit 1, try again later),
	// not as a required prerequisite that failed (exit 3).
	Unavailable bool          `json:"unavailable,omitempty"`
	Duration    time.Duration `json:"duration_ns"`
}

// Fixable reports whether the result carries a plan.
func (r Result) Fixable() bool { return len(r.Changes) > 0 }

// Change is one planned write. Changes are applied in ascending Order
// (dependencies first: enabling Exchange customization before role changes).
type Change struct {
	ID      string `json:"id"`       // stable within a plan: "exo.role-group/Audit Logs"
	CheckID string `json:"check_id"` // the check that planned it
	Order   int    `json:"order"`
	Summary string `json:"summary"` // "Add role \"Audit Logs\" to Organization Management"
	Call    string `json:"call"`    // "New-ManagementRoleAssignment -Role \"Audit Logs\" -SecurityGroup \"Organization Management\""
	Warning string `json:"warning,omitempty"`
	// Args carries what Apply needs (role name, principal id, ...).
	Args map[string]string `json:"args,omitempty"`
}

// Applied records one change that was made.
type Applied struct {
	Change    Change    `json:"change"`
	At        time.Time `json:"at"`
	RequestID string    `json:"request_id,omitempty"`
	// NoOp is true when Apply found the change already in place.
	NoOp bool `json:"no_op,omitempty"`
	// Note says how the outcome was learnt when it is not this run's own
	// answer ("applied by an interrupted run; found on resume at …").
	Note string `json:"note,omitempty"`
}

// Check is one probe. Run must honour ctx, must not print and should not
// panic (the executor recovers anyway). Dependencies come in through the
// module's constructor.
type Check interface {
	ID() string // stable dotted id: "graph.global-admin"
	Title() string
	Step() StepID
	Phase() Phase
	Severity() Severity
	Run(ctx context.Context) Result
}

// Fixer is the optional capability of a check that can repair what it found.
// Apply must be idempotent: it re-checks before writing and reports NoOp when
// the change is already in place.
type Fixer interface {
	Apply(ctx context.Context, c Change) (Applied, error)
}
