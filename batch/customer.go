package batch

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"itdr-onboard/customer"
	"itdr-onboard/steps"
)

// CustomerRunner runs each tenant with customer.RunCustomer (the one
// customer flow over GDAP: consent bootstrap, role fixes, service
// principal, directory roles, audit logging, mapping) sharing one partner
// sign-in (Deps). The health wait is the batch's: each tenant stops after
// its first health read.
type CustomerRunner struct {
	Deps customer.Deps
	// Options are every tenant's options (Org is set per tenant).
	Options customer.Options
	// Forget, when set, is told each tenant whose flow has ended
	// ((*auth.Client).ForgetTenant): its cached tokens can go, so a batch
	// holds the tokens of the tenants in progress, not of every tenant.
	Forget func(tenantID string)
}

// RunTenant implements Runner.
func (c CustomerRunner) RunTenant(ctx context.Context, t Tenant, sink func(steps.BatchEvent)) Result {
	opt := c.Options
	opt.Org = t.OrgID
	opt.Yes = true // the batch asked once for every tenant
	// No platform account read per tenant (the platform allows 60 requests
	// a minute in all): an ended subscription is refused by the mapping
	// with the platform's own answer.
	opt.SkipAccountCheck = true
	if !t.Interrupted.IsZero() && c.Deps.StateDir != "" {
		// Continue the interrupted attempt's onboarding: one receipt,
		// each change once.
		opt.Onboarding = LastOnboarding(c.Deps.StateDir, t.TenantID, t.Interrupted)
	}
	row := t.Row
	row.TenantID, row.Name, row.Lane = t.TenantID, t.Name, t.Lane
	row.OrgID, row.Organization = t.OrgID, t.Org
	out, rc := customer.RunCustomer(ctx, c.Deps, row, opt, func(ev customer.Event) {
		if be, ok := CustomerEvent(ev); ok && sink != nil {
			sink(be)
		}
	})
	if c.Forget != nil {
		c.Forget(t.TenantID)
	}
	return CustomerResult(out, rc)
}

// LastOnboarding is the onboarding of the tenant's latest journal entry
// written at or after since ("" when none): the record an interrupted
// attempt of the batch left.
func LastOnboarding(stateDir, tenantID string, since time.Time) string {
	path := (&steps.Receipts{Dir: stateDir}).JournalPath(tenantID)
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	name := ""
	for _, l := range strings.Split(string(b), "\n") {
		var e steps.JournalEntry
		if json.Unmarshal([]byte(l), &e) != nil || e.Onboarding == "" {
			continue
		}
		if !e.Time.Before(since.Add(-time.Second)) {
			name = e.Onboarding
		}
	}
	return name
}

// CustomerResult maps a customer run's outcome to a batch result.
func CustomerResult(o customer.Outcome, rc customer.Receipt) Result {
	r := Result{Lane: o.Lane, Message: o.Message, Next: o.Remedy, ReceiptPath: rc.Path, JournalPath: rc.Journal,
		IntegrationID: o.IntegrationID, Changes: o.ChangesMade, Evidence: o.Evidence}
	switch o.Result {
	case customer.ResultHealthy:
		r.State, r.Evidence = steps.TenantHealthy, "5 Platform confirms"
		if r.Message == "" {
			r.Message = "healthy: audit data is flowing"
		}
	case customer.ResultPending:
		r.State = steps.TenantPending
		if r.Message == "" {
			r.Message = "mapped; waiting for the first audit data"
		}
	case customer.ResultHandedOff:
		r.State = steps.TenantHandedOff
		r.HandOff = joinHandOffs(o.HandOff)
		if r.HandOff != nil && r.HandOff.Reason != "" {
			// The hand-off's reason in plain words, not the step's last
			// line ("still unhealthy after waiting …").
			r.Message = r.HandOff.Reason
		}
	case customer.ResultStopped:
		r.Interrupted = true
	case customer.ResultDryRun:
		r.State, r.Message = steps.TenantSkipped, "dry run: nothing changed"
	default:
		r.State = steps.TenantFailed
		if r.Message == "" && o.Err != nil {
			r.Message = o.Err.Error()
		}
	}
	// A run that mapped but left steps to the customer: pending, with the
	// hand-off shown beside it.
	if (r.State == steps.TenantPending || r.State == steps.TenantHealthy) && len(o.HandOff) > 0 {
		r.HandOff = joinHandOffs(o.HandOff)
	}
	return r
}

func joinHandOffs(hs []customer.HandOff) *steps.HandOff {
	if len(hs) == 0 {
		return nil
	}
	h := &steps.HandOff{Who: "customer"}
	var reasons, actions []string
	for _, x := range hs {
		h.Steps = append(h.Steps, x.Steps...)
		reasons = append(reasons, x.Reason)
		actions = append(actions, x.CustomerAction)
		if h.Link == "" && x.Link != "" {
			h.Link = x.Link
			switch {
			case strings.Contains(x.Link, "granularAdminRelationships"):
				h.LinkKind = "gdap-invite"
			case strings.Contains(x.Link, "adminconsent"):
				h.LinkKind = "admin-consent"
			case strings.Contains(x.Link, "partner.microsoft.com"):
				h.LinkKind, h.Who = "partner-center", "partner"
			default:
				h.LinkKind = "link"
			}
		}
	}
	h.Reason = sentences(uniq(reasons))
	h.CustomerAction = sentences(uniq(actions))
	return h
}

// sentences joins texts into one paragraph, ending each with a full stop
// unless it already ends a sentence ("… AADSTS650052). A required …", not
// "… AADSTS650052) A required …").
func sentences(ss []string) string {
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		if !strings.HasSuffix(s, ".") && !strings.HasSuffix(s, "!") && !strings.HasSuffix(s, "?") {
			s += "."
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

func uniq(ss []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		s = strings.TrimSpace(s)
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// CustomerEvent maps a customer run's event to a batch event: the onboard
// JSON event types (step_started, change_applied, consent, mapped, health,
// receipt …) with their fields; "finished" is left to the batch (it emits
// the tenant's state).
func CustomerEvent(ev customer.Event) (steps.BatchEvent, bool) {
	be := steps.BatchEvent{Time: ev.Time, TenantID: ev.TenantID, Step: ev.Step, Message: ev.Line, Fields: map[string]any{}}
	if ev.Status == steps.StatusWaiting {
		be.State = steps.TenantWaiting
	} else if ev.Status == steps.StatusRunning {
		be.State = steps.TenantRunning
	}
	switch ev.Type {
	case "step_started":
		be.Type = "step_started"
		be.Fields["status"] = string(ev.Status)
		return be, true
	case "finished":
		return be, false
	}
	switch e := ev.Event.(type) {
	case steps.CheckDone:
		be.Type = "check"
		be.Fields["id"], be.Fields["outcome"], be.Fields["summary"] = e.ID, e.Result.Outcome, e.Result.Summary
		if len(e.Result.Changes) > 0 {
			be.Fields["changes"] = e.Result.Changes
		}
	case steps.ChangeApplied:
		if e.Err != nil {
			be.Type = "change_failed"
			be.Fields["error"] = e.Err.Error()
			break
		}
		be.Type = "change_applied"
		be.Fields["change"], be.Fields["request_id"], be.Fields["no_op"] = e.Applied.Change, e.Applied.RequestID, e.Applied.NoOp
		be.Message = e.Applied.Change.Summary
	case steps.ConsentDone:
		if e.Err != nil {
			be.Type = "consent_retry"
			be.Fields["error"] = e.Err.Error()
			break
		}
		be.Type = "consent"
		be.Fields["service_principal_id"], be.Fields["created"], be.Fields["granted"] = e.Result.ServicePrincipalID, e.Result.Created, e.Result.Granted
	case steps.Mapped:
		if e.Err != nil {
			be.Type = "mapping_error"
			be.Fields["error"] = e.Err.Error()
			break
		}
		be.Type = "mapped"
		be.Fields["integration_id"], be.Fields["status"] = e.Integration.ID, e.Integration.Status
	case steps.HealthProbed:
		be.Type = "health"
		if e.Err != nil {
			be.Fields["error"] = e.Err.Error()
			break
		}
		be.Fields["status"], be.Fields["reason_code"], be.Fields["reason"] = e.Integration.Status, e.Integration.ReasonCode, e.Integration.Reason
	case steps.ReceiptWritten:
		if e.Err != nil || e.Path == "" {
			return be, false
		}
		be.Type = "receipt"
		be.Fields["receipt"], be.Fields["audit_path"] = e.Path, e.AuditPath
	default:
		be.Type = "progress"
		if ev.Event != nil {
			be.Fields["event"] = strings.TrimPrefix(fmt.Sprintf("%T", ev.Event), "steps.")
		}
	}
	be.Fields["status"] = string(ev.Status)
	return be, true
}
