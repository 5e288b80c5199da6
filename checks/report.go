package checks

import (
	"time"
)

// Report is what `itdr-onboard check --json` prints. Its shape is
// documented in docs/check-report.schema.json.
type Report struct {
	Tenant      string      `json:"tenant"`
	TenantID    string      `json:"tenant_id"`
	Account     string      `json:"account"`
	GeneratedAt time.Time   `json:"generated_at"`
	Checks      []ReportRow `json:"checks"`
	// Outcome is the worst outcome of the checks that ran (fail > warn >
	// pass); skip only when nothing ran.
	Outcome Outcome `json:"outcome"`
}

// ReportRow is one check in a Report.
type ReportRow struct {
	ID         string   `json:"id"`
	Title      string   `json:"title"`
	Step       StepID   `json:"step"`
	Phase      Phase    `json:"phase"`
	Severity   Severity `json:"severity"`
	Outcome    Outcome  `json:"outcome"`
	Summary    string   `json:"summary"`
	Detail     string   `json:"detail,omitempty"`
	Remedy     string   `json:"remedy,omitempty"`
	Changes    []Change `json:"changes"`
	Error      string   `json:"error,omitempty"`
	DurationMS float64  `json:"duration_ms"`
}

// NewReport builds the report from the entries (in their order). tenant is
// the tenant's display name or initial domain, account the signed-in UPN;
// both may be empty before sign-in.
func NewReport(tenant, tenantID, account string, generatedAt time.Time, entries []Entry) Report {
	r := Report{Tenant: tenant, TenantID: tenantID, Account: account,
		GeneratedAt: generatedAt.UTC(), Checks: make([]ReportRow, 0, len(entries))}
	for _, e := range entries {
		r.Checks = append(r.Checks, NewReportRow(e.Check, e.Result))
	}
	r.Outcome = Worst(r.Checks...)
	return r
}

// NewReportRow is one row; a nil check gives a row with only the result.
func NewReportRow(c Check, res Result) ReportRow {
	row := ReportRow{
		Outcome: res.Outcome, Summary: res.Summary, Detail: res.Detail, Remedy: res.Remedy,
		Changes:    append([]Change{}, res.Changes...),
		DurationMS: float64(res.Duration.Microseconds()) / 1000,
	}
	if c != nil {
		row.ID, row.Title, row.Step, row.Phase, row.Severity = c.ID(), c.Title(), c.Step(), c.Phase(), c.Severity()
	}
	if res.Err != nil {
		row.Error = res.Err.Error()
	}
	if row.Outcome == "" {
		row.Outcome = Fail
	}
	return row
}

func outcomeRank(o Outcome) int {
	switch o {
	case Pass:
		return 1
	case Warn:
		return 2
	case Fail:
		return 3
	}
	return 0 // skip / unknown
}

// Worst is the worst outcome of the rows: fail > warn > pass; skip when no
// row has another outcome.
func Worst(rows ...ReportRow) Outcome {
	w := Skip
	for _, r := range rows {
		if outcomeRank(r.Outcome) > outcomeRank(w) {
			w = r.Outcome
		}
	}
	return w
}
