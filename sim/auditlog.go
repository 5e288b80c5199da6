package sim

// The tenant's audit pipeline: the unified audit log (Search-UnifiedAuditLog
// over the Exchange admin API) and Entra's directory audit log (Graph
// /auditLogs/directoryAudits). The onboarding's own writes appear in them
// after the scenario's latencies. Sources (../shared/reference/dataflow-canary.md):
//   - directoryAudit resource and list: Graph docs directoryaudit-list.md
//     (newest first; $filter on activityDateTime; delegated AuditLog.Read.All
//     plus Reports Reader, Security Reader, Security Administrator, Global
//     Reader or Global Administrator). Latency: P95 2 min / P99 5 min
//     (historic Entra reporting-latency page).
//   - Search-UnifiedAuditLog: learn.microsoft.com powershell module page
//     (-StartDate/-EndDate required, -RecordType, -Operations, -UserIds,
//     -ObjectIds, -FreeText, -ResultSize ≤ 5000; rows RecordType,
//     CreationDate, UserIds, Operations, AuditData, ResultIndex,
//     ResultCount); needs the "Audit Logs" or "View-Only Audit Logs"
//     role. Latency: "typically 60 to 90 minutes" for core services,
//     Exchange historically 30 min; audit logging switched on "can take up
//     to 60 minutes to take effect". Get-/Search-/Test- cmdlets are not
//     logged. AuditData schema: Management Activity API schema (RecordType
//     1 ExchangeAdmin with Parameters name/value; 8 AzureActiveDirectory with
//     a trailing dot on Operation).

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults of the audit pipeline (docs/scenarios.md "audit").
const (
	DefaultDirectoryAuditLatency = 2 * time.Minute
	DefaultUnifiedAuditLatency   = 60 * time.Minute
	// DefaultAuditEffectiveAfter is 0 (records appear at once) so scenarios
	// that turn audit logging on still end healthy quickly; Microsoft says
	// up to 60 minutes, which audit-just-enabled plays.
	DefaultAuditEffectiveAfter = 0
	stDefaultFirstOptInAgo     = 400 * 24 * time.Hour
)

// AuditSpec is the tenant's audit pipeline timing.
type AuditSpec struct {
	// DirectoryAuditLatency: how long after a Graph write its directory
	// audit record appears (default 2m).
	DirectoryAuditLatency Duration `json:"directory_audit_latency,omitempty"`
	// UnifiedAuditLatency: how long after a write its unified audit log
	// record appears (default 60m).
	UnifiedAuditLatency Duration `json:"unified_audit_latency,omitempty"`
	// UnifiedAuditNever: the unified audit log never shows the
	// onboarding's events (and the platform stays pending).
	UnifiedAuditNever bool `json:"unified_audit_never,omitempty"`
	// FirstOptInAgo: when unified audit logging was first switched on,
	// before the simulator started (default 400 days; only when the
	// scenario starts with it on).
	FirstOptInAgo Duration `json:"first_opt_in_ago,omitempty"`
	// EffectiveAfter: how long after switching it on records start to
	// appear (default 0; Microsoft: up to 60 minutes).
	EffectiveAfter Duration `json:"effective_after,omitempty"`
}

type stAudit struct {
	dirLatency, ualLatency, effective time.Duration
	never                             bool
	optIn                             time.Time // zero: never switched on
	events                            []stAuditEvent
}

type stAuditEvent struct {
	at                             time.Time
	id                             string
	graph                          bool // also in the directory audit log
	activity, category, opType     string
	ualOp, workload                string
	recordType                     int
	actorUPN, actorID              string
	targetID, targetName, targetTy string
	params                         [][2]string
	requestID                      string
}

func (st *State) initAudit(sc *Scenario) {
	a := &st.audit
	a.dirLatency = sc.Audit.DirectoryAuditLatency.D()
	if a.dirLatency <= 0 {
		a.dirLatency = DefaultDirectoryAuditLatency
	}
	a.ualLatency = sc.Audit.UnifiedAuditLatency.D()
	if a.ualLatency <= 0 {
		a.ualLatency = DefaultUnifiedAuditLatency
	}
	a.effective = max(sc.Audit.EffectiveAfter.D(), DefaultAuditEffectiveAfter)
	a.never = sc.Audit.UnifiedAuditNever
	if sc.Exchange.UnifiedAuditLogIngestionEnabled {
		ago := sc.Audit.FirstOptInAgo.D()
		if ago <= 0 {
			ago = stDefaultFirstOptInAgo
		}
		a.optIn = st.created.Add(-ago)
	}
}

var stAuditTargetRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?:principal|client)=([0-9a-fA-F-]{36})|appId=([0-9a-fA-F-]{36})`)
})

// auditRecordLocked turns one recorded write into its audit events.
// The actor is the account that signs in (the simulator's technician).
func (st *State) auditRecordLocked(rec ChangeRecord) {
	a := &st.audit
	if rec.Op == "Set-AdminAuditLogConfig" && strings.HasSuffix(rec.Target, "=true") && a.optIn.IsZero() {
		a.optIn = rec.Time
	}
	ev := stAuditEvent{at: rec.Time, id: st.newGUID(), requestID: rec.RequestID}
	for _, u := range st.users {
		if u.SignsIn {
			ev.actorUPN, ev.actorID = u.UPN, u.ID
		}
	}
	switch rec.Service {
	case "exchange":
		ev.recordType, ev.workload, ev.ualOp = 1, "Exchange", rec.Op
		ev.targetName = rec.Target
		switch rec.Op {
		case "New-ManagementRoleAssignment", "Remove-ManagementRoleAssignment":
			role, group, _ := strings.Cut(rec.Target, " -> ")
			ev.params = [][2]string{{"Role", role}, {"SecurityGroup", group}}
		case "Set-AdminAuditLogConfig":
			k, v, _ := strings.Cut(rec.Target, "=")
			ev.params = [][2]string{{k, strings.ToUpper(v[:1]) + v[1:]}}
		case "Enable-OrganizationCustomization":
			ev.params = [][2]string{}
		}
	case "graph":
		ev.graph, ev.recordType, ev.workload = true, 8, "AzureActiveDirectory"
		ev.category, ev.opType = "ApplicationManagement", "Add"
		switch {
		case rec.Op == "POST /servicePrincipals":
			ev.activity = "Add service principal"
		case rec.Op == "POST /servicePrincipals/appRoleAssignedTo":
			ev.activity = "Add app role assignment to service principal"
		case rec.Op == "POST /oauth2PermissionGrants" || rec.Op == "PATCH /oauth2PermissionGrants":
			ev.activity = "Add delegated permission grant"
		case rec.Op == "POST /roleManagement/directory/roleAssignments":
			ev.activity, ev.category = "Add member to role", "RoleManagement"
		case strings.HasPrefix(rec.Op, "DELETE "):
			ev.opType = "Delete"
			ev.activity = map[string]string{
				"DELETE /servicePrincipals":                        "Remove service principal",
				"DELETE /servicePrincipals/appRoleAssignedTo":      "Remove app role assignment from service principal",
				"DELETE /oauth2PermissionGrants":                   "Remove delegated permission grant",
				"DELETE /roleManagement/directory/roleAssignments": "Remove member from role",
			}[rec.Op]
		}
		if ev.activity == "" {
			return
		}
		ev.ualOp = ev.activity + "."
		if m := stAuditTargetRE().FindStringSubmatch(rec.Target); m != nil {
			if m[1] != "" {
				ev.targetID = strings.ToLower(m[1])
			} else if sp := st.anySPByAppID(m[2]); sp != nil {
				ev.targetID = sp.ID
			}
		}
		ev.targetTy = "ServicePrincipal"
		for _, sp := range append(append([]*stSP(nil), st.sps...), st.deleted...) {
			if strings.EqualFold(sp.ID, ev.targetID) {
				ev.targetName = sp.DisplayName
			}
		}
	default:
		return
	}
	a.events = append(a.events, ev)
}

func (st *State) anySPByAppID(appID string) *stSP {
	for _, sp := range append(append([]*stSP(nil), st.sps...), st.deleted...) {
		if strings.EqualFold(sp.AppID, appID) {
			return sp
		}
	}
	return nil
}

// ualEffectiveAt is when records start to appear in the unified audit log
// (zero when audit logging is off now or was never switched on).
func (st *State) ualEffectiveAt() time.Time {
	if !st.exoAudit || st.audit.optIn.IsZero() {
		return time.Time{}
	}
	return st.audit.optIn.Add(st.audit.effective)
}

// ualVisibleAt is when ev appears in the unified audit log (zero: never).
func (st *State) ualVisibleAt(ev stAuditEvent) time.Time {
	eff := st.ualEffectiveAt()
	if eff.IsZero() || st.audit.never || ev.at.Before(st.audit.optIn) {
		return time.Time{}
	}
	v := ev.at.Add(st.audit.ualLatency)
	if v.Before(eff) {
		v = eff
	}
	return v
}

// ualBaseline is the tenant's everyday activity: one sign-in record every
// 30 minutes before the simulator started (present once auditing works).
func (st *State) ualBaseline() []stAuditEvent {
	var out []stAuditEvent
	u := st.users[0]
	for k := 1; k <= 48; k++ {
		at := st.created.Add(-time.Duration(k) * 30 * time.Minute)
		out = append(out, stAuditEvent{at: at, id: stNameGUID("ual-baseline", st.tenantID+strconv.Itoa(k)),
			recordType: 15, workload: "AzureActiveDirectory", ualOp: "UserLoggedIn", actorUPN: u.UPN, actorID: u.ID,
			targetID: "00000003-0000-0000-c000-000000000000", targetName: "Microsoft Graph"})
	}
	return out
}

var stRecordTypeNames = map[int]string{1: "ExchangeAdmin", 8: "AzureActiveDirectory", 15: "AzureActiveDirectoryStsLogon"}

// stParseAuditDate accepts the date forms the cmdlet accepts in practice.
func stParseAuditDate(s string) (time.Time, bool) {
	for _, f := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "01/02/2006 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(f, strings.TrimSpace(s)); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func exoStrings(p map[string]any, name string) []string {
	var out []string
	add := func(s string) {
		for _, x := range strings.Split(s, ",") {
			if x = strings.TrimSpace(x); x != "" {
				out = append(out, x)
			}
		}
	}
	switch v := p[strings.ToLower(name)].(type) {
	case string:
		add(v)
	case []any:
		for _, x := range v {
			if s, ok := x.(string); ok {
				add(s)
			}
		}
	}
	return out
}

func stAnyFold(list []string, v string) bool {
	for _, x := range list {
		if strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}

// searchUnifiedAuditLog serves Search-UnifiedAuditLog. Callers hold st.mu.
func (c *exoCtx) searchUnifiedAuditLog(p map[string]any) ([]map[string]any, *exoError) {
	st := c.st
	if !st.exoHasRole("Audit Logs") && !st.exoHasRole("View-Only Audit Logs") {
		return nil, &exoError{status: http.StatusBadRequest, code: "BadRequest", id: "Ex1D7C2E",
			exType:   "System.Management.Automation.CommandNotFoundException",
			text:     "The term 'Search-UnifiedAuditLog' is not recognized as a name of a cmdlet, function, script file, or executable program.",
			category: "Cmdlet-CommandNotFoundException"}
	}
	start, ok1 := stParseAuditDate(exoString(p, "StartDate"))
	end, ok2 := stParseAuditDate(exoString(p, "EndDate"))
	if !ok1 || !ok2 {
		return nil, exoBadParam("Cannot process command because of one or more missing mandatory parameters: StartDate EndDate.")
	}
	size := 100
	if v, ok := p["resultsize"]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(fmt.Sprint(v)))
		if err != nil || n < 1 || n > 5000 {
			return nil, exoBadParam("Cannot validate argument on parameter 'ResultSize'. The argument must be between 1 and 5000.")
		}
		size = n
	}
	types := exoStrings(p, "RecordType")
	ops := exoStrings(p, "Operations")
	users := exoStrings(p, "UserIds")
	objs := exoStrings(p, "ObjectIds")
	free := exoString(p, "FreeText")
	now := st.now()
	var hits []stAuditEvent
	for _, ev := range append(st.ualBaseline(), st.audit.events...) {
		if ev.requestID == "" {
			// Baseline records are there once auditing works.
			if eff := st.ualEffectiveAt(); eff.IsZero() || now.Before(eff) || ev.at.Before(st.audit.optIn) {
				continue
			}
		} else if v := st.ualVisibleAt(ev); v.IsZero() || now.Before(v) {
			continue
		}
		if ev.at.Before(start) || !ev.at.Before(end) {
			continue
		}
		if len(types) > 0 && !stAnyFold(types, stRecordTypeNames[ev.recordType]) {
			continue
		}
		if len(ops) > 0 && !stAnyFold(ops, ev.ualOp) {
			continue
		}
		if len(users) > 0 && !stAnyFold(users, ev.actorUPN) {
			continue
		}
		if len(objs) > 0 && !stAnyFold(objs, ev.targetID) && !stAnyFold(objs, ev.targetName) {
			continue
		}
		data := st.ualAuditData(ev)
		if free != "" && !strings.Contains(strings.ToLower(data), strings.ToLower(free)) {
			continue
		}
		hits = append(hits, ev)
	}
	sort.SliceStable(hits, func(i, j int) bool { return hits[i].at.After(hits[j].at) })
	if len(hits) > size {
		hits = hits[:size]
	}
	rows := make([]map[string]any, 0, len(hits))
	for i, ev := range hits {
		rows = append(rows, map[string]any{
			"RecordType": stRecordTypeNames[ev.recordType], "CreationDate": ev.at.UTC().Format("2006-01-02T15:04:05"),
			"UserIds": ev.actorUPN, "Operations": ev.ualOp, "AuditData": st.ualAuditData(ev),
			"ResultIndex": i + 1, "ResultCount": len(hits), "Identity": ev.id, "IsValid": true, "ObjectState": "Unchanged",
		})
	}
	return rows, nil
}

// ualAuditData is the record's AuditData JSON (Management Activity API schema).
func (st *State) ualAuditData(ev stAuditEvent) string {
	d := map[string]any{
		"CreationTime": ev.at.UTC().Format("2006-01-02T15:04:05"), "Id": ev.id, "Operation": ev.ualOp,
		"OrganizationId": st.tenantID, "RecordType": ev.recordType, "UserKey": ev.actorID, "UserType": 2,
		"Version": 1, "Workload": ev.workload, "UserId": ev.actorUPN, "ObjectId": ev.targetID,
	}
	switch ev.recordType {
	case 1:
		params := make([]map[string]string, 0, len(ev.params))
		for _, kv := range ev.params {
			params = append(params, map[string]string{"Name": kv[0], "Value": kv[1]})
		}
		d["ResultStatus"], d["Parameters"], d["ExternalAccess"] = "True", params, false
		d["ObjectId"] = ev.targetName
		d["OrganizationName"] = st.initialDomain
	case 8:
		d["ResultStatus"] = "Success"
		d["Target"] = []map[string]any{{"ID": ev.targetID, "Type": 2}, {"ID": ev.targetName, "Type": 1}}
		d["Actor"] = []map[string]any{{"ID": ev.actorUPN, "Type": 5}, {"ID": ev.actorID, "Type": 2}}
	default:
		d["ResultStatus"] = "Success"
	}
	b, _ := json.Marshal(d)
	return string(b)
}

// Roles that may read the directory audit log (Graph directoryaudit-list).
var stAuditReaderRoles = []string{RoleGlobalAdministrator,
	"f2ef992c-3afb-46b9-b7cf-a126ee74c451", // Global Reader
	"194ae4cb-b126-40b2-bd5b-6091b380977d", // Security Administrator
	"5d6b6bb7-de71-4623-b4af-96380a352509", // Security Reader
	"4a5d8f65-41da-4de4-8968-e035b65339cf", // Reports Reader
}

var stDirAuditFilterRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^activityDateTime (ge|le|gt|lt) (\S+)$`) })

// directoryAudits serves GET /auditLogs/directoryAudits.
func (c *grCtx) directoryAudits() {
	st := c.st
	if !simHasScope(c.p.Scopes, "AuditLog.Read.All") && !simHasScope(simScpFor(simGraphResource, c.p.Scopes), "AuditLog.Read.All") {
		c.err(http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
		return
	}
	if !c.requireRoles(stAuditReaderRoles...) {
		return
	}
	q := c.r.URL.Query()
	var from, to time.Time
	if f := strings.TrimSpace(q.Get("$filter")); f != "" {
		for _, clause := range strings.Split(f, " and ") {
			m := stDirAuditFilterRE().FindStringSubmatch(strings.TrimSpace(clause))
			if m == nil {
				c.err(http.StatusBadRequest, "BadRequest", "Invalid filter clause: "+clause)
				return
			}
			t, err := time.Parse(time.RFC3339Nano, m[2])
			if err != nil {
				c.err(http.StatusBadRequest, "BadRequest", "Invalid filter clause: the value "+m[2]+" is not a DateTimeOffset.")
				return
			}
			switch m[1] {
			case "ge":
				from = t
			case "gt":
				from = t.Add(time.Nanosecond)
			case "le":
				to = t
			case "lt":
				to = t.Add(-time.Nanosecond)
			}
		}
	}
	top := 0
	if v := q.Get("$top"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			c.err(http.StatusBadRequest, "BadRequest", "Invalid page size specified: '"+v+"'. Must be between 1 and 1000 inclusive.")
			return
		}
		top = n
	}
	now := st.now()
	var hits []stAuditEvent
	for _, ev := range st.audit.events {
		if !ev.graph || now.Before(ev.at.Add(st.audit.dirLatency)) {
			continue
		}
		if (!from.IsZero() && ev.at.Before(from)) || (!to.IsZero() && ev.at.After(to)) {
			continue
		}
		hits = append(hits, ev)
	}
	sort.SliceStable(hits, func(i, j int) bool { return hits[i].at.After(hits[j].at) })
	if top > 0 && len(hits) > top {
		hits = hits[:top]
	}
	items := make([]map[string]any, 0, len(hits))
	for _, ev := range hits {
		items = append(items, map[string]any{
			"id": "Directory_" + ev.id, "category": ev.category, "correlationId": ev.requestID,
			"result": "success", "resultReason": "", "activityDisplayName": ev.activity,
			"activityDateTime": ev.at.UTC().Format(time.RFC3339Nano), "loggedByService": "Core Directory",
			"operationType": ev.opType,
			"initiatedBy": map[string]any{"app": nil, "user": map[string]any{"id": ev.actorID, "displayName": nil,
				"userPrincipalName": ev.actorUPN, "ipAddress": "", "userType": nil, "homeTenantId": nil, "homeTenantName": nil}},
			"targetResources": []map[string]any{{"id": ev.targetID, "displayName": ev.targetName, "type": ev.targetTy,
				"userPrincipalName": nil, "groupId": nil, "modifiedProperties": []any{}}},
			"additionalDetails": []any{},
		})
	}
	c.writeJSON(http.StatusOK, map[string]any{"@odata.context": c.contextURL("auditLogs/directoryAudits"), "value": items})
}

// pfEventTimes is when the platform first and last received the tenant's
// audit data (nil, nil while it has none): the platform reads the unified
// audit log, so it can receive nothing that never appears there.
func (st *State) pfEventTimes(healthyAt time.Time) (first, last *time.Time) {
	if st.audit.never || st.ualEffectiveAt().IsZero() {
		return nil, nil
	}
	f := healthyAt
	if eff := st.ualEffectiveAt(); f.Before(eff) {
		f = eff
	}
	if st.now().Before(f) {
		return nil, nil
	}
	l := f
	for _, ev := range st.audit.events {
		if v := st.ualVisibleAt(ev); !v.IsZero() && !st.now().Before(v) && v.After(l) {
			l = v
		}
	}
	f, l = f.UTC(), l.UTC()
	return &f, &l
}
