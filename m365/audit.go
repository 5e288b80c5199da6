package m365

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The audit reads of the evidence ladder (../shared/reference/dataflow-canary.md §3):
// Graph /auditLogs/directoryAudits (delegated AuditLog.Read.All plus a
// reports-reading role) and Search-UnifiedAuditLog over the Exchange admin
// API (the "Audit Logs" or "View-Only Audit Logs" role).

// DirectoryAudit is one Graph directoryAudit record (the fields the ladder reads).
type DirectoryAudit struct {
	ID                  string    `json:"id"`
	Category            string    `json:"category"`
	ActivityDisplayName string    `json:"activityDisplayName"`
	ActivityDateTime    time.Time `json:"activityDateTime"`
	Result              string    `json:"result"`
	InitiatedBy         struct {
		User *struct {
			ID                string `json:"id"`
			UserPrincipalName string `json:"userPrincipalName"`
		} `json:"user"`
	} `json:"initiatedBy"`
	TargetResources []struct {
		ID          string `json:"id"`
		DisplayName string `json:"displayName"`
		Type        string `json:"type"`
	} `json:"targetResources"`
}

// DirectoryAudits lists directory audit records at or after since, newest
// first (GET /auditLogs/directoryAudits?$filter=activityDateTime ge …).
func (g *Graph) DirectoryAudits(ctx context.Context, since time.Time) ([]DirectoryAudit, error) {
	q := url.Values{"$filter": {"activityDateTime ge " + since.UTC().Format(time.RFC3339)}, "$top": {"100"}}
	s, _, err := listAll[DirectoryAudit](ctx, g, "/auditLogs/directoryAudits", q, nil)
	return s, err
}

// UALQuery is a Search-UnifiedAuditLog query.
type UALQuery struct {
	Start, End time.Time
	RecordType string   // ExchangeAdmin | AzureActiveDirectory | "" (all)
	Operations []string // cmdlet or operation names
	UserIDs    []string
	ObjectIDs  []string
	ResultSize int // 1..5000; 0 = the cmdlet's default (100)
}

// UALRecord is one Search-UnifiedAuditLog row.
type UALRecord struct {
	RecordType   string `json:"RecordType"`
	CreationDate string `json:"CreationDate"`
	UserIDs      string `json:"UserIds"`
	Operations   string `json:"Operations"`
	AuditData    string `json:"AuditData"`
	Identity     string `json:"Identity"`
}

// SearchUnifiedAuditLog runs Search-UnifiedAuditLog (read-only; not
// itself audited).
func (x *Exchange) SearchUnifiedAuditLog(ctx context.Context, q UALQuery) ([]UALRecord, error) {
	p := map[string]any{"StartDate": q.Start.UTC().Format(time.RFC3339), "EndDate": q.End.UTC().Format(time.RFC3339)}
	if q.RecordType != "" {
		p["RecordType"] = q.RecordType
	}
	if len(q.Operations) > 0 {
		p["Operations"] = strings.Join(q.Operations, ",")
	}
	if len(q.UserIDs) > 0 {
		p["UserIds"] = strings.Join(q.UserIDs, ",")
	}
	if len(q.ObjectIDs) > 0 {
		p["ObjectIds"] = strings.Join(q.ObjectIDs, ",")
	}
	if q.ResultSize > 0 {
		p["ResultSize"] = strconv.Itoa(q.ResultSize)
	}
	var rows []UALRecord
	_, err := x.Invoke(ctx, "Search-UnifiedAuditLog", p, &rows)
	return rows, err
}
