package steps

import (
	"fmt"
	"strings"

	"itdr-onboard/checks"
	"itdr-onboard/m365"
	"itdr-onboard/platform"
)

// Step IDs of the lifecycle flows.
const (
	Unmap       ID = "unmap"
	Integration ID = "integration"
)

// unmapChangePrefix begins the ids of unmap's deletions.
const unmapChangePrefix = "unmap/"

// QConfirmUnmap asks before unmap deletes anything.
const QConfirmUnmap = "unmap.confirm"

// Reauthorize is `reauthorize`: sign in, grant the platform's permissions
// again (the same AADSTS650051 handling as onboarding, or --consent
// handoff), verify them, and report the integration's status.
var Reauthorize = Flow{Name: "reauthorize", Steps: func(_ Options, _ []CheckInfo) []Step {
	return []Step{NewTargetStep(), NewSignInStep(), NewConsentStep(), NewIntegrationStep()}
}}

// UnmapFlow is `unmap`: delete the tenant's integration; with
// --remove-access also sign in and remove the platform's service principal
// and its directory roles. Plan → confirm (--yes) → apply → read back →
// receipt, like the role fixes. Running it again after a crash re-reads
// what is left and finishes the rest.
var UnmapFlow = Flow{Name: "unmap", Steps: func(opt Options, _ []CheckInfo) []Step {
	if !opt.RemoveAccess {
		return []Step{NewTargetStep(), NewUnmapStep()}
	}
	return []Step{NewTargetStep(), NewSignInStep(), NewUnmapStep()}
}}

// Effects and events of the lifecycle flows.
type (
	// ReadAccess reads what the platform holds in the tenant: its app
	// manifest, its service principal, that principal's directory roles and
	// application permissions.
	ReadAccess struct{}
	// AccessRead answers ReadAccess; SP is nil when the platform's service
	// principal is not in the tenant.
	AccessRead struct {
		App      platform.App
		SP       *m365.ServicePrincipal
		Roles    []m365.RoleAssignment
		AppRoles int
		Err      error
	}
	// Remove performs one planned deletion (Change.Args["kind"]:
	// integration, role-assignment, service-principal; Args["id"]) and
	// appends it to the audit trail; a target already gone is a no-op.
	// It answers ChangeApplied.
	Remove struct{ Change checks.Change }
	// VerifyUnmap reads back that the integration (and with SP the
	// platform's service principal of AppID) is gone.
	VerifyUnmap struct {
		AppID string
		SP    bool
	}
	// UnmapVerified answers VerifyUnmap: what is still there.
	UnmapVerified struct {
		Problems []string
	}
)

func (ReadAccess) isEffect()   {}
func (Remove) isEffect()       {}
func (Remove) writes()         {}
func (VerifyUnmap) isEffect()  {}
func (AccessRead) isEvent()    {}
func (UnmapVerified) isEvent() {}

// IntegrationStep ends `reauthorize`: it records what consent changed in a
// receipt and reads the integration's status.
type IntegrationStep struct {
	status  Status
	fail    *Failure
	in      *platform.Integration
	readErr error
	waiting int // effects still running
}

// NewIntegrationStep builds the step.
func NewIntegrationStep() *IntegrationStep { return &IntegrationStep{status: StatusPending} }

func (p *IntegrationStep) ID() ID         { return Integration }
func (p *IntegrationStep) Title() string  { return "Integration" }
func (p *IntegrationStep) Status() Status { return p.status }

func (p *IntegrationStep) Enter(s *Session) []Effect {
	p.status, p.fail, p.in, p.readErr = StatusRunning, nil, nil, nil
	effs := []Effect{FindIntegration{}}
	// Consent's writes are in the audit trail already; the receipt
	// keeps them with the run.
	s.Applied = s.Applied[:0]
	r := s.Consent
	if r.Created {
		s.Applied = append(s.Applied, checks.Applied{At: r.At, Change: checks.Change{ID: "consent/create-service-principal",
			Summary: "Created the platform's service principal (" + r.ServicePrincipalID + ")", Call: "POST /servicePrincipals"}})
	}
	for _, g := range r.Granted {
		s.Applied = append(s.Applied, checks.Applied{At: r.At, Change: checks.Change{ID: "consent/grant",
			Summary: "Granted " + g, Call: "POST /servicePrincipals/{id}/appRoleAssignedTo"}})
	}
	if len(s.Applied) > 0 {
		effs = append(effs, WriteReceipt{})
	}
	p.waiting = len(effs)
	return effs
}

func (p *IntegrationStep) Handle(s *Session, ev Event) []Effect {
	switch ev := ev.(type) {
	case IntegrationFound:
		p.in, p.readErr = ev.Integration, ev.Err
	case ReceiptWritten:
		if ev.Err == nil {
			s.ReceiptPath, s.AuditPath = ev.Path, ev.AuditPath
		}
	default:
		return nil
	}
	if p.waiting--; p.waiting > 0 {
		return nil
	}
	p.status = StatusDone
	r := s.Consent
	d := &Done{Outcome: "reauthorized",
		Headline: fmt.Sprintf("Reauthorized: the platform's service principal (%s) holds every permission the platform asks for.", r.ServicePrincipalID),
		Lines:    []string{fmt.Sprintf("granted now: %d, already held: %d", len(r.Granted), len(r.AlreadyGranted))},
		Fields: map[string]any{"service_principal_id": r.ServicePrincipalID, "created": r.Created,
			"granted": r.Granted, "already_granted": r.AlreadyGranted}}
	switch {
	case p.readErr != nil:
		d.Lines = append(d.Lines, "integration status could not be read: "+p.readErr.Error())
	case p.in == nil:
		d.Lines = append(d.Lines, "the tenant is not mapped yet: run itdr-onboard onboard --tenant "+s.TenantID)
	default:
		d.Lines = append(d.Lines, fmt.Sprintf("integration %s: %s (the platform re-checks on its own schedule; see itdr-onboard status --tenant %s)",
			p.in.ID, p.in.Status, s.TenantID))
		d.Fields["integration_id"], d.Fields["status"], d.Fields["reason_code"] = p.in.ID, p.in.Status, p.in.ReasonCode
	}
	if s.ReceiptPath != "" {
		d.Recap = append(d.Recap, "receipt: "+s.ReceiptPath)
	}
	s.Done = d
	return nil
}

func (p *IntegrationStep) Snapshot(s *Session) Snapshot {
	snap := Snapshot{ID: Integration, Title: p.Title(), Status: p.status, Fail: p.fail}
	switch p.status {
	case StatusRunning:
		snap.Line = "reading the integration's status"
	case StatusDone:
		if p.in != nil {
			snap.Line = "integration " + p.in.Status
		} else if p.readErr == nil {
			snap.Line = "the tenant is not mapped"
		}
	}
	return snap
}

// unmap phases.
const (
	unmapReading = iota
	unmapAsking
	unmapApplying
	unmapVerifying
	unmapRecording
)

// UnmapStep plans, confirms, applies and verifies unmap's deletions.
type UnmapStep struct {
	status  Status
	fail    *Failure
	phase   int
	reading int // reads still running
	in      *platform.Integration
	access  *AccessRead
	readErr error
	queue   []checks.Change
	done    []string
	// failAfterReceipt is the failure shown once the receipt of the
	// changes made so far is written.
	failAfterReceipt *Failure
}

// NewUnmapStep builds the step.
func NewUnmapStep() *UnmapStep { return &UnmapStep{status: StatusPending} }

func (p *UnmapStep) ID() ID         { return Unmap }
func (p *UnmapStep) Title() string  { return "Unmap" }
func (p *UnmapStep) Status() Status { return p.status }

func (p *UnmapStep) Enter(s *Session) []Effect {
	p.status, p.fail, p.phase = StatusRunning, nil, unmapReading
	p.in, p.access, p.readErr, p.queue, p.done, p.failAfterReceipt = nil, nil, nil, nil, nil, nil
	s.Plan, s.Applied, s.DeclinedChanges = nil, nil, nil
	effs := []Effect{FindIntegration{}}
	if s.Opt.RemoveAccess {
		effs = append(effs, ReadAccess{})
	}
	p.reading = len(effs)
	return effs
}

func (p *UnmapStep) Handle(s *Session, ev Event) []Effect {
	switch ev := ev.(type) {
	case IntegrationFound:
		if p.phase != unmapReading {
			return nil
		}
		if ev.Err != nil {
			p.readErr = fmt.Errorf("reading the tenant's integration: %w", ev.Err)
		}
		p.in = ev.Integration
		return p.read(s)
	case AccessRead:
		if p.phase != unmapReading {
			return nil
		}
		if ev.Err != nil && p.readErr == nil {
			p.readErr = ev.Err
		}
		a := ev
		p.access = &a
		return p.read(s)
	case Answered:
		if p.phase != unmapAsking || ev.QuestionID != QConfirmUnmap {
			return nil
		}
		if !yes(ev.Value) {
			p.status, p.fail = StatusFailed, declinePlan(s, "unmap")
			return nil
		}
		p.phase, p.status = unmapApplying, StatusRunning
		p.queue = append([]checks.Change{}, s.Plan...)
		return p.next(s)
	case ChangeApplied:
		if p.phase != unmapApplying || len(p.queue) == 0 {
			return nil
		}
		c := p.queue[0]
		if ev.Err != nil {
			f := &Failure{Kind: FailError,
				Message: fmt.Sprintf("%s failed: %v.", c.Summary, ev.Err),
				Remedy:  "What was done before is listed above; running unmap again finishes the rest."}
			return p.record(s, f)
		}
		p.queue = p.queue[1:]
		s.Applied = append(s.Applied, ev.Applied)
		p.done = append(p.done, ev.Applied.Change.Summary)
		return p.next(s)
	case UnmapVerified:
		if p.phase != unmapVerifying {
			return nil
		}
		var f *Failure
		if len(ev.Problems) > 0 {
			f = &Failure{Kind: FailError, Message: "Verification failed: " + strings.Join(ev.Problems, "; ") + ".",
				Remedy: "Run unmap again; it removes what is left."}
		}
		return p.record(s, f)
	case ReceiptWritten:
		if p.phase != unmapRecording {
			return nil
		}
		if ev.Err == nil {
			s.ReceiptPath, s.AuditPath = ev.Path, ev.AuditPath
		}
		if p.failAfterReceipt != nil {
			p.status, p.fail = StatusFailed, p.failAfterReceipt
			return nil
		}
		p.finish(s)
	}
	return nil
}

// read folds one read; once every read is in it plans.
func (p *UnmapStep) read(s *Session) []Effect {
	if p.reading--; p.reading > 0 {
		return nil
	}
	if p.readErr != nil {
		p.status = StatusFailed
		p.fail = &Failure{Kind: FailError, Message: p.readErr.Error() + ". Nothing was changed.", Remedy: "Retry."}
		return nil
	}
	s.Plan = unmapPlan(s.TenantID, p.in, p.access)
	if len(s.Plan) == 0 {
		msg := "Nothing to remove: the tenant is not mapped"
		if s.Opt.RemoveAccess {
			msg += " and the platform's service principal is not in it."
		} else {
			msg += " (add --remove-access to also remove the platform's service principal)."
		}
		p.status = StatusDone
		s.Done = &Done{Outcome: "nothing-to-do", Headline: msg, Fields: map[string]any{"message": msg}}
		return nil
	}
	details := planLines(s.Plan)
	if s.Opt.RemoveAccess {
		details = append(details, "(not changed: the Organization Management role-group roles and audit logging)")
	}
	p.phase, p.status = unmapAsking, StatusWaiting
	return []Effect{Ask{Q: Question{ID: QConfirmUnmap, Kind: AskConfirm, Flag: "--yes",
		Prompt:  fmt.Sprintf("Apply %s to tenant %s?", plural(len(s.Plan), "this change", "these %d changes"), s.TenantID),
		Details: details, Default: "no"}}}
}

func (p *UnmapStep) next(s *Session) []Effect {
	if len(p.queue) > 0 {
		return []Effect{Remove{Change: p.queue[0]}}
	}
	p.phase = unmapVerifying
	v := VerifyUnmap{}
	if p.access != nil && p.access.SP != nil {
		v.AppID, v.SP = p.access.App.AppID, true
	}
	return []Effect{v}
}

// record writes the receipt of what was done, then ends with f (nil: done).
func (p *UnmapStep) record(s *Session, f *Failure) []Effect {
	if len(s.Applied) == 0 {
		if f != nil {
			p.status, p.fail = StatusFailed, f
			return nil
		}
		p.finish(s)
		return nil
	}
	p.phase, p.failAfterReceipt = unmapRecording, f
	return []Effect{WriteReceipt{}}
}

func (p *UnmapStep) finish(s *Session) {
	p.status = StatusDone
	head := fmt.Sprintf("Unmapped: tenant %s is no longer connected to the platform", s.TenantID)
	if p.access != nil && p.access.SP != nil {
		head += ", and the platform's access to it was removed (the service principal stays in deleted items for 30 days)"
	}
	d := &Done{Outcome: "unmapped", Headline: head + ".", Fields: map[string]any{"done": p.done}}
	// What was removed, and the receipt: the line front-end printed each
	// as it happened; the TUI's end screen lists them.
	for _, l := range p.done {
		d.Recap = append(d.Recap, "done: "+l)
	}
	if s.ReceiptPath != "" {
		d.Recap = append(d.Recap, "receipt: "+s.ReceiptPath)
	}
	s.Done = d
}

func (p *UnmapStep) Snapshot(s *Session) Snapshot {
	snap := Snapshot{ID: Unmap, Title: p.Title(), Status: p.status, Fail: p.fail}
	// The plan is the question's details while it is asked, and the
	// end's lines once done: rows only while it is carried out.
	if p.phase >= unmapApplying && p.status != StatusDone {
		running := ""
		if p.phase == unmapApplying && len(p.queue) > 0 {
			running = p.queue[0].ID
		}
		snap.Items = planItems(s, running)
	}
	switch p.phase {
	case unmapReading:
		snap.Line = "reading what the platform holds for this tenant"
	case unmapAsking:
		snap.Line = "the plan waits for your answer"
	case unmapApplying:
		snap.Line = fmt.Sprintf("removing: %d of %d done", len(s.Applied), len(s.Plan))
	case unmapVerifying:
		snap.Line = "reading back"
	case unmapRecording:
		snap.Line = "writing the receipt"
	}
	if p.status == StatusDone {
		snap.Line = fmt.Sprintf("removed %d of %d", len(s.Applied), len(s.Plan))
		if len(s.Plan) == 0 {
			snap.Line = "nothing to remove"
		}
	}
	if p.status == StatusFailed {
		snap.Next = retryUnlessFinal(p.fail)
	}
	return snap
}

// unmapPlan is what unmap deletes, in order: the integration first (the
// platform stops reading), then the directory roles, then the service
// principal (with its application permissions and delegated grants).
func unmapPlan(tenantID string, in *platform.Integration, a *AccessRead) []checks.Change {
	var plan []checks.Change
	if in != nil {
		plan = append(plan, checks.Change{ID: unmapChangePrefix + "integration", Order: 1,
			Summary: fmt.Sprintf("Delete the integration %s (tenant %s mapped to %s)", in.ID, tenantID, in.OrganizationName),
			Call:    "DELETE /v1/integrations/" + in.ID,
			Args:    map[string]string{"kind": "integration", "id": in.ID}})
	}
	if a == nil || a.SP == nil {
		return plan
	}
	for _, ra := range a.Roles {
		// principal_id and app_id let a later run read whether an
		// interrupted deletion took effect (Executor.probeRemoval).
		plan = append(plan, checks.Change{ID: unmapChangePrefix + "role/" + ra.ID, Order: 2,
			Summary: "Remove directory role " + roleName(a.App, ra.RoleDefinitionID) + " from the platform's service principal",
			Call:    "DELETE /roleManagement/directory/roleAssignments/" + ra.ID,
			Args:    map[string]string{"kind": "role-assignment", "id": ra.ID, "principal_id": a.SP.ID}})
	}
	plan = append(plan, checks.Change{ID: unmapChangePrefix + "service-principal", Order: 3,
		Summary: fmt.Sprintf("Delete the platform's service principal %s (%s) with its %d application permission(s) and delegated grants",
			a.SP.DisplayName, a.SP.ID, a.AppRoles),
		Call: "DELETE /servicePrincipals/" + a.SP.ID,
		Args: map[string]string{"kind": "service-principal", "id": a.SP.ID, "app_id": a.App.AppID}})
	return plan
}

// roleName names a directory role by its template id from the platform's
// app manifest (the roles the platform asked for); else the id itself.
func roleName(app platform.App, templateID string) string {
	for _, r := range app.DirectoryRoles {
		if strings.EqualFold(r.TemplateID, templateID) && r.DisplayName != "" {
			return r.DisplayName
		}
	}
	return templateID
}

// planItems shows the session's plan as rows while it is carried out: each
// change done once applied, running when its id is the one in flight.
func planItems(s *Session, running string) []Item {
	var items []Item
	for _, c := range s.Plan {
		it := Item{ID: c.ID, Label: c.Summary, Summary: c.Call, Running: c.ID == running && running != ""}
		for _, a := range s.Applied {
			if a.Change.ID == c.ID {
				it.Outcome, it.Summary = checks.Pass, "done"
			}
		}
		items = append(items, it)
	}
	return items
}

// declinePlan records that the technician declined the whole plan of a
// flow's confirm question and says how to apply it later.
func declinePlan(s *Session, command string) *Failure {
	s.Declined, s.DeclinedChanges = true, s.Plan
	return &Failure{Kind: FailStopped, Final: true, Message: "Declined; nothing was changed.",
		Remedy: "Run " + command + " again and answer yes (or pass --yes) to apply the plan."}
}
