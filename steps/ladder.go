package steps

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"itdr-onboard/checks"
	"itdr-onboard/platform"
	"itdr-onboard/ui/text"
)

// The evidence ladder (issue 19): the health step proves each hop of the
// pipe from the tenant to the platform as soon as it can be seen. Rungs 2–4
// are check modules (checks/ladder.go) run through ProbeRung; rung 1 is
// what the earlier steps verified, rung 5 the platform's own status.
// Times are from ../shared/reference/dataflow-canary.md §6.2 and §6.5.

// RungState is where a rung stands (front-ends read it from steps alone).
type RungState = checks.RungState

// Rung states.
const (
	RungWaiting  = checks.RungWaiting
	RungProven   = checks.RungProven
	RungCannot   = checks.RungCannot
	RungNoSignIn = checks.RungNoSignIn
)

// ProbeRung waits After, then looks at one rung (a checks.Rung).
type ProbeRung struct {
	ID     string
	Canary checks.Canary
	After  time.Duration
}

// RungProbed answers ProbeRung.
type RungProbed struct {
	ID     string
	At     time.Time
	Result checks.RungResult
}

// WriteEvidence rewrites the run's receipt with the evidence ladder (the
// executor gets copies, so the health step's probes may go on).
type WriteEvidence struct {
	Ladder []LadderRung
	Path   string
}

func (WriteEvidence) isEffect() {}
func (WriteEvidence) writes()   {}
func (ProbeRung) isEffect()     {}
func (RungProbed) isEvent()     {}

// LadderRung is one rung as every front-end shows it.
type LadderRung struct {
	N      int              `json:"rung"`
	ID     string           `json:"id"`
	Title  string           `json:"title"`
	Proves string           `json:"proves"`
	State  checks.RungState `json:"state"`
	// ProvenAt is when the wizard saw the proof (zero until then).
	ProvenAt time.Time `json:"proven_at,omitzero"`
	// Summary: what was seen, or why it is not proven (yet).
	Summary string `json:"summary,omitempty"`
	// Account: it cannot be proven with the signed-in account (not a failure).
	Account bool   `json:"cannot_with_this_account,omitempty"`
	Remedy  string `json:"remedy,omitempty"`
	// Typical and Worst are the reference's times from mapping.
	Typical string        `json:"typical"`
	Worst   string        `json:"worst_case"`
	WorstD  time.Duration `json:"-"`
	// IfLate is what to do when it stays unproven past Worst; Late says it has.
	IfLate string `json:"if_late"`
	Late   bool   `json:"late,omitempty"`
}

// Proven reports whether the rung is proven.
func (r LadderRung) Proven() bool { return r.State == checks.RungProven }

// NewLadder is the ladder with every rung waiting.
func NewLadder() []LadderRung {
	l := ladderDefs()
	for i := range l {
		l[i].State = checks.RungWaiting
	}
	return l
}

func ladderDefs() []LadderRung {
	return []LadderRung{
		{N: 1, ID: checks.RungConfigured, Title: "Configured", Proves: "consent, roles and the mapping are in place",
			Typical: "seconds", Worst: "seconds", IfLate: "Retry the onboarding: the earlier steps verify these."},
		{N: 2, ID: checks.RungAuditing, Title: "Microsoft is auditing", Proves: "the tenant's unified audit log is on and recording",
			Typical: "seconds (up to 60 min after audit logging is first switched on)", Worst: "60 min", WorstD: time.Hour,
			IfLate: "Check in Exchange Online PowerShell: Get-AdminAuditLogConfig | fl UnifiedAuditLog*, then Search-UnifiedAuditLog -StartDate (Get-Date).AddDays(-1) -EndDate (Get-Date) -ResultSize 1; check Microsoft 365 service health."},
		{N: 3, ID: checks.RungEntra, Title: "Entra recorded the onboarding", Proves: "Entra's directory audit log carries this onboarding's consent and role events",
			Typical: "2–5 min", Worst: "24 h", WorstD: 24 * time.Hour,
			IfLate: "Look for the events in the Entra admin center → Audit logs; if they are missing, check Microsoft 365 service health."},
		{N: 4, ID: checks.RungCanary, Title: "Canary in the unified audit log", Proves: "the feed the platform reads carries this onboarding's events",
			Typical: "15–90 min", Worst: "24 h", WorstD: 24 * time.Hour,
			IfLate: "Microsoft's audit pipeline is delayed (not a wizard problem): check Microsoft 365 service health; itdr-onboard status --tenant T keeps looking."},
		{N: 5, ID: checks.RungPlatform, Title: "Platform confirms", Proves: "the platform received the tenant's audit data",
			Typical: "up to 12 h", Worst: "24 h", WorstD: 24 * time.Hour,
			IfLate: "Contact the platform's support with the tenant id: the rungs below show Microsoft's side works."},
	}
}

// CanaryFrom is what the rungs look for: this onboarding's own writes
// (the role fixes' Exchange cmdlets, the consent and role grants in Entra).
func CanaryFrom(s *Session) checks.Canary {
	c := checks.Canary{Operator: s.Account.Username, ServicePrincipalID: s.Consent.ServicePrincipalID}
	for _, a := range s.Applied {
		if a.NoOp {
			continue
		}
		svc := "graph"
		if strings.HasPrefix(a.Change.CheckID, "exo.") {
			svc = "exchange"
		}
		op, _, _ := strings.Cut(strings.TrimSpace(a.Change.Call), " ")
		c.Events = append(c.Events, checks.CanaryEvent{Service: svc, Op: op, At: a.At})
	}
	if s.Consent.Created || len(s.Consent.Granted) > 0 {
		at := s.ConsentAt
		if at.IsZero() {
			at = s.Integration.CreatedAt
		}
		c.Events = append(c.Events, checks.CanaryEvent{Service: "graph", Op: "consent", At: at})
	}
	for _, e := range c.Events {
		if c.Since.IsZero() || e.At.Before(c.Since) {
			c.Since = e.At
		}
	}
	return c
}

// setRung records one look at a rung.
func setRung(l []LadderRung, id string, at time.Time, r checks.RungResult, start time.Time) {
	for i := range l {
		if l[i].ID != id || l[i].Proven() {
			continue
		}
		l[i].State, l[i].Summary, l[i].Account, l[i].Remedy = r.State, r.Summary, r.Account, r.Remedy
		if r.State == checks.RungProven {
			l[i].ProvenAt = at
		}
		l[i].Late = r.State == checks.RungWaiting && l[i].WorstD > 0 && !start.IsZero() && at.Sub(start) > l[i].WorstD
	}
}

// platformRung folds the integration's status into rung 5.
func platformRung(l []LadderRung, at time.Time, in platform.Integration, start time.Time) {
	r := checks.RungResult{State: checks.RungWaiting, Summary: "the integration is " + in.Status}
	switch {
	case in.Status == platform.StatusHealthy:
		r = checks.RungResult{State: checks.RungProven, Summary: "the platform reports the integration healthy"}
		if in.FirstEventAt != nil {
			r.Summary += ", first event received at " + text.Clock(*in.FirstEventAt, at)
		}
	case in.Status == platform.StatusUnhealthy:
		r.Summary += ": " + in.Reason
		r.Remedy = RemedyFor(in.ReasonCode)
	}
	setRung(l, checks.RungPlatform, at, r, start)
}

// waitingRungs are the evidence modules still worth a look.
func waitingRungs(l []LadderRung) []string {
	var ids []string
	for _, r := range l {
		if r.N >= 2 && r.N <= 4 && (r.State == checks.RungWaiting || r.State == "") {
			ids = append(ids, r.ID)
		}
	}
	return ids
}

// ProvenLine says exactly which rungs are proven: "rung 1 of 5 proven",
// "rungs 1–3 of 5 proven", "rungs 1, 2, 4 of 5 proven", "all 5 rungs
// proven".
func ProvenLine(l []LadderRung) string {
	var ns []int
	for _, r := range l {
		if r.Proven() {
			ns = append(ns, r.N)
		}
	}
	switch {
	case len(ns) == 0:
		return "no rung proven yet"
	case len(ns) == len(l) && len(l) > 1:
		return fmt.Sprintf("all %d rungs proven", len(l))
	case len(ns) == 1:
		return fmt.Sprintf("rung %d of %d proven", ns[0], len(l))
	case ns[len(ns)-1]-ns[0] == len(ns)-1:
		return fmt.Sprintf("rungs %d–%d of %d proven", ns[0], ns[len(ns)-1], len(l))
	}
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = strconv.Itoa(n)
	}
	return "rungs " + strings.Join(parts, ", ") + fmt.Sprintf(" of %d proven", len(l))
}

// PlatformRung folds the integration's status read at a time into rung 5
// (status, without the health step).
func PlatformRung(l []LadderRung, at time.Time, in platform.Integration) {
	platformRung(l, at, in, time.Time{})
}

func (p *HealthStep) writeEvidence(s *Session) Effect {
	return WriteEvidence{Ladder: append([]LadderRung(nil), p.d.Ladder...), Path: s.ReceiptPath}
}
