package checks

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"itdr-onboard/m365"
	"itdr-onboard/ui/text"
)

// The evidence ladder (issue 19; ../shared/reference/dataflow-canary.md §6):
// after mapping, each rung proves one more hop of the pipe from the tenant
// to the platform. Rungs 2–4 are the modules here (read-only, like every
// check); rung 1 (configured) is what the earlier steps verified and rung 5
// (platform confirms) is the platform's own integration status, both kept
// by the health step.

// Rung ids.
const (
	RungConfigured = "configured"     // 1
	RungAuditing   = "auditing"       // 2 Microsoft is auditing
	RungEntra      = "entra-recorded" // 3 Entra recorded the onboarding
	RungCanary     = "ual-canary"     // 4 canary in the unified audit log
	RungPlatform   = "platform"       // 5 platform confirms
)

// RungState is where a rung stands.
type RungState string

const (
	RungWaiting  RungState = "waiting"
	RungProven   RungState = "proven"
	RungCannot   RungState = "cannot" // cannot be proven (why says so)
	RungNoSignIn RungState = "needs-sign-in"
)

// RungResult is what one look at a rung found.
type RungResult struct {
	State RungState
	// Summary says what was seen ("2 directory audit records of this
	// onboarding: Add service principal, …") or why not.
	Summary string
	// Account marks a rung the signed-in account may not read ("cannot be
	// proven with this account"), not a failure.
	Account bool
	// Remedy is what to do when it cannot be proven.
	Remedy string
}

// CanaryEvent is one write of this onboarding that should show up in the
// audit logs.
type CanaryEvent struct {
	// Service is exchange or graph.
	Service string `json:"service"`
	// Op is the cmdlet (New-ManagementRoleAssignment) or the Graph write.
	Op string    `json:"op"`
	At time.Time `json:"at"`
}

// Canary is what the rungs look for: this onboarding's own events (no extra
// change in the tenant).
type Canary struct {
	Operator           string        `json:"operator"`
	ServicePrincipalID string        `json:"service_principal_id,omitempty"`
	Since              time.Time     `json:"since"`
	Events             []CanaryEvent `json:"events,omitempty"`
}

func (c Canary) has(service string) bool {
	for _, e := range c.Events {
		if e.Service == service {
			return true
		}
	}
	return false
}

// window is the search window around the canary's events.
func (c Canary) window(service string) (time.Time, time.Time) {
	var lo, hi time.Time
	for _, e := range c.Events {
		if e.Service != service {
			continue
		}
		if lo.IsZero() || e.At.Before(lo) {
			lo = e.At
		}
		if e.At.After(hi) {
			hi = e.At
		}
	}
	return lo.Add(-2 * time.Minute), hi.Add(2 * time.Minute)
}

// Rung is one evidence module: a read-only look at one hop.
type Rung interface {
	ID() string
	Probe(ctx context.Context, c Canary, now time.Time) RungResult
}

// EvidenceExchange is what the unified-audit-log rungs read.
type EvidenceExchange interface {
	AdminAuditLogConfig(ctx context.Context) (m365.AuditConfig, error)
	SearchUnifiedAuditLog(ctx context.Context, q m365.UALQuery) ([]m365.UALRecord, error)
}

// EvidenceGraph is what the Entra rung reads (a Graph client whose token
// carries AuditLog.Read.All, asked for when the rung first runs).
type EvidenceGraph interface {
	DirectoryAudits(ctx context.Context, since time.Time) ([]m365.DirectoryAudit, error)
}

// LadderRungs is the explicit list of evidence modules (rungs 2–4).
func LadderRungs(x EvidenceExchange, g EvidenceGraph) []Rung {
	if isNil(x) {
		x = nil
	}
	if isNil(g) {
		g = nil
	}
	return []Rung{auditingRung{x}, entraRung{g}, canaryRung{x}}
}

// Microsoft: switching unified audit logging on "can take up to 60 minutes
// to take effect" [MAPI-ts].
const auditTakesEffect = 60 * time.Minute

const auditRoleRemedy = "Search-UnifiedAuditLog needs the Exchange role Audit Logs or View-Only Audit Logs (Organization Management holds Audit Logs after the role fixes): sign in with an account in Organization Management, or add View-Only Audit Logs to this account's role group"

// accountCannot reports whether err means the signed-in account may not
// read this (403, or the cmdlet is not in the account's session).
func accountCannot(err error) bool {
	var ae *m365.APIError
	if errors.As(err, &ae) {
		if ae.Status == 403 || ae.Status == 401 {
			return true
		}
	}
	s := err.Error()
	return strings.Contains(s, "CommandNotFoundException") || strings.Contains(s, "is not recognized as a name of a cmdlet") ||
		strings.Contains(s, "consent_required") || strings.Contains(s, "AADSTS65001")
}

func waitingErr(what string, err error) RungResult {
	why := shortCause(err)
	if why == "" {
		why = err.Error()
	}
	return RungResult{State: RungWaiting, Summary: "could not read " + what + " (" + why + "); trying again"}
}

// ---- rung 2: Microsoft is auditing ----

type auditingRung struct{ x EvidenceExchange }

func (auditingRung) ID() string { return RungAuditing }

func (r auditingRung) Probe(ctx context.Context, _ Canary, now time.Time) RungResult {
	if r.x == nil {
		return RungResult{State: RungNoSignIn, Summary: "needs a sign-in to Exchange Online"}
	}
	cfg, err := r.x.AdminAuditLogConfig(ctx)
	if err != nil {
		if accountCannot(err) {
			return RungResult{State: RungCannot, Account: true, Summary: "the account cannot read the audit configuration (Get-AdminAuditLogConfig)"}
		}
		return waitingErr("the audit configuration", err)
	}
	if !cfg.UnifiedAuditLogIngestionEnabled {
		return RungResult{State: RungCannot, Summary: "unified audit logging is off (UnifiedAuditLogIngestionEnabled is False)",
			Remedy: "Turn it on: Set-AdminAuditLogConfig -UnifiedAuditLogIngestionEnabled $true (Microsoft: up to 60 minutes to take effect)"}
	}
	recs, err := r.x.SearchUnifiedAuditLog(ctx, m365.UALQuery{Start: now.Add(-24 * time.Hour), End: now, ResultSize: 1})
	if err != nil {
		if accountCannot(err) {
			return RungResult{State: RungCannot, Account: true, Summary: "the account cannot search the unified audit log", Remedy: auditRoleRemedy}
		}
		return waitingErr("the unified audit log", err)
	}
	recent := cfg.UnifiedAuditLogFirstOptInDate != nil && now.Sub(*cfg.UnifiedAuditLogFirstOptInDate) < auditTakesEffect
	if len(recs) == 0 {
		if recent {
			ready := cfg.UnifiedAuditLogFirstOptInDate.Add(auditTakesEffect)
			return RungResult{State: RungWaiting, Summary: fmt.Sprintf("unified audit logging was switched on at %s; Microsoft says it can take up to 60 minutes to take effect (until %s)",
				text.Clock(*cfg.UnifiedAuditLogFirstOptInDate, now), text.Clock(ready, now))}
		}
		return RungResult{State: RungWaiting, Summary: "unified audit logging is on, but the log has no record from the last 24 hours yet"}
	}
	return RungResult{State: RungProven, Summary: "unified audit logging is on and recording (a record from the last 24 hours found by Search-UnifiedAuditLog)"}
}

// ---- rung 3: Entra recorded the onboarding ----

type entraRung struct{ g EvidenceGraph }

func (entraRung) ID() string { return RungEntra }

func (r entraRung) Probe(ctx context.Context, c Canary, now time.Time) RungResult {
	if r.g == nil {
		return RungResult{State: RungNoSignIn, Summary: "needs a sign-in with AuditLog.Read.All"}
	}
	if !c.has("graph") {
		return RungResult{State: RungCannot, Summary: "this onboarding made no change in Entra (the platform's consent and roles were already in place), so there is nothing of it to find"}
	}
	lo, _ := c.window("graph")
	recs, err := r.g.DirectoryAudits(ctx, lo)
	if err != nil {
		if accountCannot(err) {
			return RungResult{State: RungCannot, Account: true, Summary: "the account cannot read Entra's directory audit log",
				Remedy: "It needs the delegated permission AuditLog.Read.All and the role Reports Reader, Security Reader, Global Reader or Global Administrator"}
		}
		return waitingErr("the directory audit log", err)
	}
	var seen []string
	for _, a := range recs {
		match := false
		for _, t := range a.TargetResources {
			if c.ServicePrincipalID != "" && strings.EqualFold(t.ID, c.ServicePrincipalID) {
				match = true
			}
		}
		if match {
			seen = append(seen, a.ActivityDisplayName)
		}
	}
	if len(seen) == 0 {
		return RungResult{State: RungWaiting, Summary: "no directory audit record of this onboarding yet"}
	}
	return RungResult{State: RungProven, Summary: fmt.Sprintf("%d directory audit record(s) of this onboarding (%s)", len(seen), strings.Join(uniq(seen), ", "))}
}

func uniq(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// ---- rung 4: canary in the unified audit log ----

type canaryRung struct{ x EvidenceExchange }

func (canaryRung) ID() string { return RungCanary }

func (r canaryRung) Probe(ctx context.Context, c Canary, now time.Time) RungResult {
	if r.x == nil {
		return RungResult{State: RungNoSignIn, Summary: "needs a sign-in to Exchange Online"}
	}
	var q m365.UALQuery
	switch {
	case c.has("exchange"):
		// The wizard's own Exchange cmdlets: the fastest unified-audit path.
		lo, hi := c.window("exchange")
		q = m365.UALQuery{Start: lo, End: hi, RecordType: "ExchangeAdmin", UserIDs: []string{c.Operator}, ResultSize: 10}
		for _, e := range c.Events {
			if e.Service == "exchange" && !contains(q.Operations, e.Op) {
				q.Operations = append(q.Operations, e.Op)
			}
		}
	case c.has("graph") && c.ServicePrincipalID != "":
		lo, hi := c.window("graph")
		q = m365.UALQuery{Start: lo, End: hi, RecordType: "AzureActiveDirectory", ObjectIDs: []string{c.ServicePrincipalID}, ResultSize: 10}
	default:
		return RungResult{State: RungCannot, Summary: "this onboarding changed nothing in the tenant, so there is no event of it to find in the unified audit log"}
	}
	recs, err := r.x.SearchUnifiedAuditLog(ctx, q)
	if err != nil {
		if accountCannot(err) {
			return RungResult{State: RungCannot, Account: true, Summary: "the account cannot search the unified audit log", Remedy: auditRoleRemedy}
		}
		return waitingErr("the unified audit log", err)
	}
	if len(recs) == 0 {
		return RungResult{State: RungWaiting, Summary: "this onboarding's events are not in the unified audit log yet"}
	}
	ops := make([]string, 0, len(recs))
	for _, rec := range recs {
		ops = append(ops, rec.Operations)
	}
	return RungResult{State: RungProven, Summary: fmt.Sprintf("Microsoft is delivering this tenant's audit events: %d record(s) of this onboarding in the unified audit log (%s)",
		len(recs), strings.Join(uniq(ops), ", "))}
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
