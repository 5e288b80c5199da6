package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Graph, partner side (GDAP; Graph v1.0 delegatedAdminRelationship,
// delegatedAdminAccessAssignment, delegatedAdminCustomer resources — gdap.md
// §1.1, §1.2) and the little of a customer tenant a GDAP token reaches here.

const ptMaxTop = 300 // $top maximum for delegatedAdminRelationships

var ptFilterRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?i)^\s*status\s+eq\s+'([A-Za-z]+)'\s*$`) })

func ptGraphErr(w http.ResponseWriter, status int, code, msg string) {
	simWriteJSON(w, status, map[string]any{"error": map[string]any{
		"code": code, "message": msg,
		"innerError": map[string]any{"request-id": simNewGUID(), "date": time.Now().UTC().Format("2006-01-02T15:04:05")},
	}})
}

// graphPrincipal validates the bearer token for Graph.
func (s *PartnerServer) graphPrincipal(w http.ResponseWriter, r *http.Request) (Principal, bool) {
	p, ok := s.tokens.Lookup(r.Header.Get("Authorization"))
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm=""`)
		ptGraphErr(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failure.")
		return Principal{}, false
	}
	if p.Audience != simGraphResource {
		ptGraphErr(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")
		return Principal{}, false
	}
	return p, true
}

func (s *PartnerServer) serveGraph(w http.ResponseWriter, r *http.Request, rel string) {
	p, ok := s.graphPrincipal(w, r)
	if !ok {
		return
	}
	ptSetTenant(r, p.TenantID)
	if !strings.EqualFold(p.TenantID, s.PartnerTenantID()) {
		s.customerGraph(w, r, p, rel)
		return
	}
	path := strings.ToLower(strings.TrimRight(rel, "/"))
	if path == "/v1.0/$batch" && r.Method == http.MethodPost {
		s.graphBatch(w, r)
		return
	}
	u, _ := s.user(p.UPN)
	if path == "/v1.0/me/transitivememberof/microsoft.graph.directoryrole" && r.Method == http.MethodGet {
		s.directoryRoles(w, u)
		return
	}
	if s.serveDirectory(w, r, p, u, path) {
		return
	}
	if r.Method != http.MethodGet {
		ptGraphErr(w, http.StatusMethodNotAllowed, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
		return
	}
	const relPrefix = "/v1.0/tenantrelationships/delegatedadminrelationships"
	switch {
	case path == "/v1.0/me":
		simWriteJSON(w, http.StatusOK, map[string]any{
			"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity",
			"id":             p.ObjectID, "userPrincipalName": u.UPN, "displayName": u.DisplayName,
		})
	case path == "/v1.0/organization":
		simWriteJSON(w, http.StatusOK, map[string]any{
			"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#organization",
			"value": []map[string]any{{"id": s.PartnerTenantID(), "displayName": stDefault(s.sc.Partner.DisplayName, s.sc.Partner.Domain), "tenantType": "AAD",
				"verifiedDomains": []map[string]any{{"name": s.sc.Partner.Domain, "isDefault": true, "isInitial": true}}}},
		})
	case path == "/v1.0/me/transitivememberof":
		s.transitiveMemberOf(w, u)
	case path == relPrefix:
		s.listRelationships(w, r)
	case strings.HasPrefix(path, relPrefix+"/"):
		rest := strings.Split(strings.TrimPrefix(rel[len(relPrefix):], "/"), "/")
		rl, cust := s.relationship(rest[0])
		if rl == nil {
			ptGraphErr(w, http.StatusNotFound, "ResourceNotFound", "The delegated admin relationship with id "+simClip(rest[0], 90)+" was not found.")
			return
		}
		switch {
		case len(rest) == 1:
			simWriteJSON(w, http.StatusOK, s.relationshipJSON(rl, cust, true))
		case len(rest) == 2 && strings.EqualFold(rest[1], "accessAssignments"):
			s.listAssignments(w, rl)
		default:
			simNotFound(w)
		}
	case path == "/v1.0/tenantrelationships/delegatedadmincustomers":
		s.listGDAPCustomers(w)
	default:
		ptGraphErr(w, http.StatusNotFound, "Request_ResourceNotFound", "Resource not found for the segment in "+simClip(rel, 120)+".")
	}
}

func (s *PartnerServer) relationship(id string) (*ptRelationship, *ptCustomer) {
	for _, c := range s.order {
		for _, rl := range c.rels {
			if strings.EqualFold(rl.id, id) {
				return rl, c
			}
		}
	}
	return nil, nil
}

func ptTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

func ptRoles(ids []string) []map[string]string {
	out := make([]map[string]string, 0, len(ids))
	for _, id := range ids {
		out = append(out, map[string]string{"roleDefinitionId": id})
	}
	return out
}

func (s *PartnerServer) relationshipJSON(rl *ptRelationship, c *ptCustomer, withContext bool) map[string]any {
	m := map[string]any{
		"@odata.type":          "#microsoft.graph.delegatedAdminRelationship",
		"@odata.etag":          rl.etag,
		"id":                   rl.id,
		"displayName":          rl.spec.DisplayName,
		"duration":             stDefault(rl.spec.Duration, "P730D"),
		"customer":             map[string]string{"tenantId": c.tid, "displayName": c.spec.DisplayName},
		"accessDetails":        map[string]any{"unifiedRoles": ptRoles(rl.roles)},
		"status":               rl.spec.Status,
		"autoExtendDuration":   "P180D",
		"createdDateTime":      ptTime(rl.created),
		"lastModifiedDateTime": ptTime(rl.created),
		"activatedDateTime":    ptTime(rl.activated),
		"endDateTime":          ptTime(rl.end),
	}
	if withContext {
		m["@odata.context"] = "https://graph.microsoft.com/v1.0/$metadata#tenantRelationships/delegatedAdminRelationships/$entity"
	}
	return m
}

func (s *PartnerServer) listRelationships(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	top := 100
	if v := q.Get("$top"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > ptMaxTop {
			ptGraphErr(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Invalid $top value %q: the maximum is %d.", simClip(v, 20), ptMaxTop))
			return
		}
		top = n
	}
	status := ""
	if f := q.Get("$filter"); f != "" {
		m := ptFilterRe().FindStringSubmatch(f)
		if m == nil || !simGDAPStatuses[m[1]] {
			ptGraphErr(w, http.StatusBadRequest, "BadRequest", "Invalid filter clause: only status eq '<status>' is supported by the simulator.")
			return
		}
		status = m[1]
	}
	skip := 0
	if v := q.Get("$skipToken"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			ptGraphErr(w, http.StatusBadRequest, "BadRequest", "Invalid $skipToken.")
			return
		}
		skip = n
	}
	var all []map[string]any
	for _, c := range s.order {
		for _, rl := range c.rels {
			if status == "" || rl.spec.Status == status {
				all = append(all, s.relationshipJSON(rl, c, false))
			}
		}
	}
	if skip > len(all) {
		skip = len(all)
	}
	end := min(skip+top, len(all))
	body := map[string]any{
		"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#tenantRelationships/delegatedAdminRelationships",
		"value":          ptNonNil(all[skip:end]),
	}
	if end < len(all) {
		nq := url.Values{}
		for k, v := range q {
			nq[k] = v
		}
		nq.Set("$skipToken", strconv.Itoa(end))
		body["@odata.nextLink"] = s.base + "/graph/v1.0/tenantRelationships/delegatedAdminRelationships?" + nq.Encode()
	}
	simWriteJSON(w, http.StatusOK, body)
}

func ptNonNil(v []map[string]any) []map[string]any {
	if v == nil {
		return []map[string]any{}
	}
	return v
}

func (s *PartnerServer) listAssignments(w http.ResponseWriter, rl *ptRelationship) {
	now := s.now()
	out := []map[string]any{}
	for _, a := range rl.assignments {
		status := "active"
		if now.Before(a.activeAt) {
			status = "pending"
		}
		out = append(out, map[string]any{
			"@odata.type":          "#microsoft.graph.delegatedAdminAccessAssignment",
			"@odata.etag":          `W/"` + a.id[:8] + `"`,
			"id":                   a.id,
			"status":               status,
			"createdDateTime":      ptTime(a.created),
			"lastModifiedDateTime": ptTime(a.created),
			"accessContainer":      map[string]string{"accessContainerId": a.groupID, "accessContainerType": "securityGroup"},
			"accessDetails":        map[string]any{"unifiedRoles": ptRoles(a.roles)},
		})
	}
	simWriteJSON(w, http.StatusOK, map[string]any{
		"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#tenantRelationships/delegatedAdminRelationships('" + rl.id + "')/accessAssignments",
		"value":          out,
	})
}

func (s *PartnerServer) listGDAPCustomers(w http.ResponseWriter) {
	out := []map[string]any{}
	for _, c := range s.order {
		// System-created when at least one relationship exists (G6).
		if len(c.rels) == 0 {
			continue
		}
		out = append(out, map[string]any{"id": c.tid, "tenantId": c.tid, "displayName": c.spec.DisplayName})
	}
	simWriteJSON(w, http.StatusOK, map[string]any{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#tenantRelationships/delegatedAdminCustomers", "value": out})
}

func (s *PartnerServer) transitiveMemberOf(w http.ResponseWriter, u PartnerUserSpec) {
	out := []map[string]any{}
	for _, g := range u.Groups {
		out = append(out, map[string]any{"@odata.type": "#microsoft.graph.group", "id": s.groups[strings.ToLower(g)], "displayName": g, "securityEnabled": true})
	}
	if u.AdminAgent {
		out = append(out, map[string]any{"@odata.type": "#microsoft.graph.group", "id": simSeedGUID(s.sc.Seed, "group/adminagents", 0), "displayName": "AdminAgents", "securityEnabled": true})
	}
	simWriteJSON(w, http.StatusOK, map[string]any{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#directoryObjects", "value": out})
}

// graphBatch is JSON batching (≤20 requests, G10); sub-requests run
// through the same handler with the batch's Authorization header.
func (s *PartnerServer) graphBatch(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Requests []struct {
			ID     string          `json:"id"`
			Method string          `json:"method"`
			URL    string          `json:"url"`
			Body   json.RawMessage `json:"body"`
		} `json:"requests"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&in); err != nil {
		ptGraphErr(w, http.StatusBadRequest, "BadRequest", "Invalid batch payload format.")
		return
	}
	if len(in.Requests) == 0 || len(in.Requests) > 20 {
		ptGraphErr(w, http.StatusBadRequest, "BadRequest", "The number of batch requests must be between 1 and 20.")
		return
	}
	var out []map[string]any
	for _, sub := range in.Requests {
		u := sub.URL
		if !strings.HasPrefix(u, "/") {
			u = "/" + u
		}
		req := httptest.NewRequest(stDefault(sub.Method, http.MethodGet), "/graph/v1.0"+u, bytes.NewReader(sub.Body))
		req = req.WithContext(r.Context())
		req.Header.Set("Authorization", r.Header.Get("Authorization"))
		rec := httptest.NewRecorder()
		if strings.EqualFold(sub.Method, http.MethodGet) || sub.Method == "" {
			pu, _ := url.Parse("/graph/v1.0" + u)
			req.URL = pu
			s.serveGraph(rec, req, strings.TrimPrefix(pu.Path, "/graph"))
		} else {
			ptGraphErr(rec, http.StatusMethodNotAllowed, "Request_BadRequest", "The simulator batches GET requests only.")
		}
		var body any
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		out = append(out, map[string]any{"id": sub.ID, "status": rec.Code, "headers": map[string]string{"Content-Type": "application/json"}, "body": body})
	}
	simWriteJSON(w, http.StatusOK, map[string]any{"responses": out})
}

// customerGraph serves a request with a customer token: that customer's
// own tenant (the single-tenant model, partner_tenant.go), where the partner
// user acts with its GDAP roles and is no directory object (/me is 404).
func (s *PartnerServer) customerGraph(w http.ResponseWriter, r *http.Request, p Principal, rel string) {
	c := s.customers[strings.ToLower(p.TenantID)]
	if c == nil {
		ptGraphErr(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failure.")
		return
	}
	s.serveCustomerGraph(w, r, c, rel)
}
