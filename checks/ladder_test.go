package checks

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"itdr-onboard/m365"
	"itdr-onboard/ui/text"
)

type fakeEvidenceX struct {
	cfg     m365.AuditConfig
	cfgErr  error
	recs    []m365.UALRecord
	err     error
	queries []m365.UALQuery
}

func (f *fakeEvidenceX) AdminAuditLogConfig(context.Context) (m365.AuditConfig, error) {
	return f.cfg, f.cfgErr
}

func (f *fakeEvidenceX) SearchUnifiedAuditLog(_ context.Context, q m365.UALQuery) ([]m365.UALRecord, error) {
	f.queries = append(f.queries, q)
	return f.recs, f.err
}

type fakeEvidenceG struct {
	recs []m365.DirectoryAudit
	err  error
}

func (f *fakeEvidenceG) DirectoryAudits(context.Context, time.Time) ([]m365.DirectoryAudit, error) {
	return f.recs, f.err
}

var (
	ladderNow    = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	notInShell   = errors.New("Ex1D7C2E|System.Management.Automation.CommandNotFoundException|The term 'Search-UnifiedAuditLog' is not recognized as a name of a cmdlet")
	forbidden    = &m365.APIError{Status: 403, Code: "Authorization_RequestDenied"}
	spID         = "sp-1"
	ladderCanary = Canary{Operator: "admin@contoso", ServicePrincipalID: spID, Events: []CanaryEvent{
		{Service: "exchange", Op: "New-ManagementRoleAssignment", At: ladderNow.Add(-3 * time.Minute)},
		{Service: "graph", Op: "consent", At: ladderNow.Add(-2 * time.Minute)},
	}}
)

func lookAt(t *testing.T, r Rung, c Canary) RungResult {
	t.Helper()
	return r.Probe(context.Background(), c, ladderNow)
}

// Rung 2, Microsoft is auditing: proven, not yet (switched on minutes ago:
// Microsoft's 60 minutes), cannot (off; the account lacks the audit role).
func TestRungAuditing(t *testing.T) {
	t.Parallel()
	long := ladderNow.Add(-400 * 24 * time.Hour)
	x := &fakeEvidenceX{cfg: m365.AuditConfig{UnifiedAuditLogIngestionEnabled: true, UnifiedAuditLogFirstOptInDate: &long},
		recs: []m365.UALRecord{{Operations: "UserLoggedIn"}}}
	if r := lookAt(t, auditingRung{x}, ladderCanary); r.State != RungProven {
		t.Fatalf("proven: %+v", r)
	}
	if q := x.queries[0]; q.End.Sub(q.Start) != 24*time.Hour || q.ResultSize != 1 {
		t.Fatalf("query %+v", q)
	}
	recent := ladderNow.Add(-5 * time.Minute)
	x = &fakeEvidenceX{cfg: m365.AuditConfig{UnifiedAuditLogIngestionEnabled: true, UnifiedAuditLogFirstOptInDate: &recent}}
	if r := lookAt(t, auditingRung{x}, ladderCanary); r.State != RungWaiting || !strings.Contains(r.Summary, "60 minutes") || !strings.Contains(r.Summary, "(until "+text.Clock(recent.Add(time.Hour), ladderNow)+")") {
		t.Fatalf("just switched on: %+v", r)
	}
	x = &fakeEvidenceX{cfg: m365.AuditConfig{}}
	if r := lookAt(t, auditingRung{x}, ladderCanary); r.State != RungCannot || r.Account || !strings.Contains(r.Remedy, "Set-AdminAuditLogConfig") {
		t.Fatalf("off: %+v", r)
	}
	x = &fakeEvidenceX{cfg: m365.AuditConfig{UnifiedAuditLogIngestionEnabled: true}, err: notInShell}
	if r := lookAt(t, auditingRung{x}, ladderCanary); r.State != RungCannot || !r.Account || !strings.Contains(r.Remedy, "View-Only Audit Logs") {
		t.Fatalf("no audit role: %+v", r)
	}
	if r := lookAt(t, auditingRung{nil}, ladderCanary); r.State != RungNoSignIn {
		t.Fatalf("no sign-in: %+v", r)
	}
}

// Rung 3, Entra recorded the onboarding: matched on the platform's service
// principal; not yet; cannot with this account (403) or when this run made
// no Entra change.
func TestRungEntra(t *testing.T) {
	t.Parallel()
	rec := m365.DirectoryAudit{ActivityDisplayName: "Add service principal"}
	rec.TargetResources = append(rec.TargetResources, struct {
		ID          string `json:"id"`
		DisplayName string `json:"displayName"`
		Type        string `json:"type"`
	}{ID: spID, Type: "ServicePrincipal"})
	other := m365.DirectoryAudit{ActivityDisplayName: "Update user"}
	if r := lookAt(t, entraRung{&fakeEvidenceG{recs: []m365.DirectoryAudit{other, rec}}}, ladderCanary); r.State != RungProven || !strings.Contains(r.Summary, "Add service principal") {
		t.Fatalf("proven: %+v", r)
	}
	if r := lookAt(t, entraRung{&fakeEvidenceG{recs: []m365.DirectoryAudit{other}}}, ladderCanary); r.State != RungWaiting {
		t.Fatalf("not yet: %+v", r)
	}
	if r := lookAt(t, entraRung{&fakeEvidenceG{err: forbidden}}, ladderCanary); r.State != RungCannot || !r.Account || !strings.Contains(r.Remedy, "AuditLog.Read.All") {
		t.Fatalf("403: %+v", r)
	}
	exOnly := Canary{Operator: "a", Events: ladderCanary.Events[:1]}
	if r := lookAt(t, entraRung{&fakeEvidenceG{}}, exOnly); r.State != RungCannot || r.Account {
		t.Fatalf("no entra change: %+v", r)
	}
	if r := lookAt(t, entraRung{&fakeEvidenceG{err: errors.New("connection reset")}}, ladderCanary); r.State != RungWaiting {
		t.Fatalf("transient: %+v", r)
	}
}

// Rung 4, canary in the unified audit log: the wizard's own cmdlets by the
// operator in a window around them; not yet; cannot with this account or
// when nothing changed.
func TestRungCanary(t *testing.T) {
	t.Parallel()
	x := &fakeEvidenceX{recs: []m365.UALRecord{{Operations: "New-ManagementRoleAssignment"}}}
	if r := lookAt(t, canaryRung{x}, ladderCanary); r.State != RungProven || !strings.Contains(r.Summary, "New-ManagementRoleAssignment") {
		t.Fatalf("proven: %+v", r)
	}
	q := x.queries[0]
	if q.RecordType != "ExchangeAdmin" || q.Operations[0] != "New-ManagementRoleAssignment" || q.UserIDs[0] != "admin@contoso" ||
		!q.Start.Equal(ladderNow.Add(-5*time.Minute)) || !q.End.Equal(ladderNow.Add(-time.Minute)) {
		t.Fatalf("query %+v", q)
	}
	if r := lookAt(t, canaryRung{&fakeEvidenceX{}}, ladderCanary); r.State != RungWaiting {
		t.Fatalf("not yet: %+v", r)
	}
	if r := lookAt(t, canaryRung{&fakeEvidenceX{err: notInShell}}, ladderCanary); r.State != RungCannot || !r.Account {
		t.Fatalf("no audit role: %+v", r)
	}
	// Only Entra changes: the AzureActiveDirectory records of the SP.
	x = &fakeEvidenceX{}
	lookAt(t, canaryRung{x}, Canary{Operator: "a", ServicePrincipalID: spID, Events: ladderCanary.Events[1:]})
	if q := x.queries[0]; q.RecordType != "AzureActiveDirectory" || q.ObjectIDs[0] != spID {
		t.Fatalf("entra canary query %+v", q)
	}
	if r := lookAt(t, canaryRung{&fakeEvidenceX{}}, Canary{Operator: "a"}); r.State != RungCannot || r.Account {
		t.Fatalf("nothing changed: %+v", r)
	}
}
