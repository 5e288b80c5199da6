package main

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"itdr-onboard/sim"
)

// The declared dependency graph of a full onboarding: every request the job
// may send and, for each, what data it needs from which earlier answer. It is
// what the work needs, not what the wizard happens to do: row 3's bound is the
// depth of its longest chain, and TestDependencyGraphCoversTheOnboarding
// checks it against the simulator's request log, so a request the wizard
// starts sending without a declaration here fails the test.
//
// Several nodes can describe the same wire request (the first read of the
// Exchange role group and its read-back after a fix): a logged request is
// accounted for when it matches at least one node whose needs were answered
// before it started.

// gnode is one request of the onboarding.
type gnode struct {
	ID string
	// Method and Path (segments in braces match any one segment) as the
	// simulator logs them. Graph sub-requests of a $batch match with the
	// "/graph/v1.0" prefix.
	Method, Path string
	// Detail narrows the match: the Exchange cmdlet of an InvokeCommand, the
	// grant type of a token request; alternatives separated by "|".
	Detail string
	Needs  []gdep
	// Wait names a wait that is not network time (the technician approving
	// the code, the platform turning healthy); it is stated separately and
	// excluded from the bound.
	Wait string
	// Note says why the request exists when that is not obvious.
	Note string
}

// gdep is one piece of data a request needs.
type gdep struct {
	Data string
	// From lists the requests any one of which answers it.
	From []string
	// When: the need applies only when that request is part of the run
	// (the read-back after a write); Unless: only when it is not (a new
	// service principal holds no roles, so nothing needs to be read).
	When, Unless string
	// Plan marks a need that is not data but the product's rule: the role
	// fixes are shown as one exact plan and accepted once before any of
	// them is written (the brief's "show the exact plan, ask, apply"), so
	// each of those writes waits for every read the plan is made of. The
	// bound keeps these needs; row 3 also prints the chain without them.
	Plan bool
}

func need(data string, from ...string) gdep { return gdep{Data: data, From: from} }

func (d gdep) when(id string) gdep   { d.When = id; return d }
func (d gdep) unless(id string) gdep { d.Unless = id; return d }

const (
	exo     = "/exchange/adminapi/beta/{tenant}/InvokeCommand"
	graphV1 = "/graph/v1.0"
)

// Frequently needed answers.
var (
	graphToken = need("Graph access token", "id.token.device")
	exoToken   = need("Exchange access token", "id.token.exchange")
	manifest   = func(what string) gdep { return need(what+" (platform app manifest)", "plat.app") }
	platformSP = []gdep{
		need("platform service principal id", "g.sp.lookup").unless("g.sp.create"),
		need("platform service principal id (created)", "g.sp.create").when("g.sp.create"),
	}
)

// planReads are the reads the one role-fix plan is made of: every write of
// that plan needs all of them answered (Plan needs).
var planReads = []gdep{
	{Data: "plan: the Exchange role group's roles", From: []string{"x.get.roles"}, Plan: true},
	{Data: "plan: the platform's service principal", From: []string{"g.sp.lookup"}, Plan: true},
	{Data: "plan: the directory roles it holds", From: []string{"g.dirrole.list"}, Unless: "g.sp.create", Plan: true},
}

// planned adds the plan's reads to a role-fix write's needs.
func planned(ds ...gdep) []gdep { return append(append([]gdep(nil), ds...), planReads...) }

// plannedCreate is planned for creating the service principal: an absent
// service principal holds no directory roles, so the plan reads none.
func plannedCreate(ds ...gdep) []gdep {
	return append(append([]gdep(nil), ds...), planReads[:2]...)
}

func withSP(ds ...gdep) []gdep { return append(append([]gdep(nil), platformSP...), ds...) }

// onboardingGraph is the declared graph.
var onboardingGraph = []gnode{
	// Network and platform prerequisites: they need nothing but the
	// configuration (endpoints, platform API key, --org).
	{ID: "net.reach.identity", Method: "HEAD", Path: "/", Note: "reachability and clock skew (Date header)"},
	{ID: "net.reach.graph", Method: "HEAD", Path: "/graph/"},
	{ID: "net.reach.exchange", Method: "HEAD", Path: "/exchange/"},
	{ID: "net.reach.platform", Method: "HEAD", Path: "/platform/"},
	{ID: "plat.account", Method: "GET", Path: "/platform/v1/account", Note: "subscription check"},
	{ID: "plat.orgs", Method: "GET", Path: "/platform/v1/organizations", Note: "--org name → organization id; page n+1 needs page n's token"},
	{ID: "plat.orgs.next", Method: "GET", Path: "/platform/v1/organizations", Needs: []gdep{need("next page token", "plat.orgs")}},
	{ID: "plat.app", Method: "GET", Path: "/platform/v1/m365/app", Note: "app id, permissions, roles the platform needs"},

	// Sign-in (MSAL device code).
	{ID: "id.instance", Method: "GET", Path: "/{authority}/discovery/instance", Note: "MSAL instance discovery"},
	{ID: "id.discovery", Method: "GET", Path: "/{authority}/v2.0/.well-known/openid-configuration", Note: "MSAL authority metadata; the tenant's id and cloud"},
	{ID: "id.devicecode", Method: "POST", Path: "/{tenant}/oauth2/v2.0/devicecode",
		Needs: []gdep{need("device_authorization_endpoint", "id.discovery")}},
	{ID: "id.token.device", Method: "POST", Path: "/{tenant}/oauth2/v2.0/token", Detail: "device_code|urn:ietf:params:oauth:grant-type:device_code",
		Needs: []gdep{need("device_code", "id.devicecode")}, Wait: "approval",
		Note: "polled until the technician approves; gives the Graph token, the refresh token and the tenant id"},
	{ID: "id.token.exchange", Method: "POST", Path: "/{tenant}/oauth2/v2.0/token", Detail: "refresh_token",
		Needs: []gdep{need("refresh token", "id.token.device")}, Note: "Exchange Online token"},

	// Customer mode (a GDAP customer with the partner's sign-in, package
	// customer): the consent bootstrap comes before any customer token; the
	// customer tokens are the partner refresh token redeemed at the
	// customer authority (65001 right after the consent is retried, bounded).
	{ID: "pc.consent", Method: "POST", Path: "/partnercenter/v1/customers/{tenant}/applicationconsents",
		Needs: []gdep{need("Partner Center token (partner sign-in)", "id.token.device")},
		Note:  "customer mode: Partner Center applicationconsents for the onboarding app"},
	{ID: "id.token.customer", Method: "POST", Path: "/{tenant}/oauth2/v2.0/token", Detail: "refresh_token",
		Needs: []gdep{need("partner refresh token", "id.token.device"), need("the onboarding app consented in the customer", "pc.consent")},
		Note:  "customer mode: a fresh customer-tenant token (Graph, Exchange) after the consent"},

	// Tenant prerequisites after sign-in.
	{ID: "g.organization", Method: "GET", Path: graphV1 + "/organization", Needs: []gdep{graphToken}},
	{ID: "g.me", Method: "GET", Path: graphV1 + "/me", Needs: []gdep{graphToken}},
	{ID: "g.me.roles", Method: "GET", Path: graphV1 + "/me/transitiveMemberOf/microsoft.graph.directoryRole", Needs: []gdep{graphToken}},
	{ID: "g.skus", Method: "GET", Path: graphV1 + "/subscribedSkus", Needs: []gdep{graphToken}},
	{ID: "plat.integration.find", Method: "GET", Path: "/platform/v1/integrations",
		Needs: []gdep{need("tenant id", "id.token.device")}, Note: "is the tenant mapped already?"},
	{ID: "g.sp.lookup", Method: "GET", Path: graphV1 + "/servicePrincipals",
		Needs: []gdep{graphToken, manifest("app ids of the platform and its resources")},
		Note:  "the platform's service principal and each resource's (ids, app roles)"},
	{ID: "x.get.audit", Method: "POST", Path: exo, Detail: "Get-AdminAuditLogConfig", Needs: []gdep{exoToken}},
	{ID: "x.get.org", Method: "POST", Path: exo, Detail: "Get-OrganizationConfig", Needs: []gdep{exoToken}},
	{ID: "x.get.roles", Method: "POST", Path: exo, Detail: "Get-ManagementRoleAssignment",
		Needs: []gdep{exoToken, manifest("role group")}},
	{ID: "g.dirrole.list", Method: "GET", Path: graphV1 + "/roleManagement/directory/roleAssignments",
		Needs: withSP(graphToken)},

	// Role fixes.
	{ID: "x.new.role", Method: "POST", Path: exo, Detail: "New-ManagementRoleAssignment",
		Needs: planned(need("roles the group lacks", "x.get.roles"))},
	{ID: "x.enable.customization", Method: "POST", Path: exo, Detail: "Enable-OrganizationCustomization",
		Needs: []gdep{need("customization state", "x.get.org")}},
	{ID: "x.set.audit", Method: "POST", Path: exo, Detail: "Set-AdminAuditLogConfig",
		Needs: []gdep{need("audit log state", "x.get.audit")}},
	{ID: "g.sp.create", Method: "POST", Path: graphV1 + "/servicePrincipals",
		Needs: plannedCreate(need("the platform's service principal is absent", "g.sp.lookup"))},
	{ID: "g.dirrole.assign", Method: "POST", Path: graphV1 + "/roleManagement/directory/roleAssignments",
		Needs: planned(withSP(manifest("directory role template ids"),
			need("roles the service principal holds", "g.dirrole.list").unless("g.sp.create"))...)},
	// Read-backs after the fixes.
	{ID: "x.verify.roles", Method: "POST", Path: exo, Detail: "Get-ManagementRoleAssignment",
		Needs: []gdep{need("the roles were added", "x.new.role")}},
	{ID: "g.dirrole.verify", Method: "GET", Path: graphV1 + "/roleManagement/directory/roleAssignments",
		Needs: []gdep{need("the roles were assigned", "g.dirrole.assign")}},

	// Consent.
	{ID: "g.approle.list", Method: "GET", Path: graphV1 + "/servicePrincipals/{id}/appRoleAssignments", Needs: withSP(graphToken)},
	{ID: "g.approle.grant", Method: "POST", Path: graphV1 + "/servicePrincipals/{id}/appRoleAssignedTo",
		Needs: withSP(need("resource service principal id and app role id", "g.sp.lookup"),
			need("application permissions held", "g.approle.list").unless("g.sp.create"))},
	{ID: "g.oauth2.list", Method: "GET", Path: graphV1 + "/oauth2PermissionGrants", Needs: withSP(graphToken)},
	{ID: "g.oauth2.grant", Method: "POST", Path: graphV1 + "/oauth2PermissionGrants",
		Needs: withSP(need("resource service principal id", "g.sp.lookup"),
			need("delegated grants held", "g.oauth2.list").unless("g.sp.create"))},
	{ID: "g.approle.verify", Method: "GET", Path: graphV1 + "/servicePrincipals/{id}/appRoleAssignments",
		Needs: []gdep{need("the permissions were granted", "g.approle.grant")}},

	// Mapping and health: the wizard maps only a tenant whose fixes and
	// consent it has read back.
	{ID: "plat.map", Method: "POST", Path: "/platform/v1/integrations",
		Needs: []gdep{need("organization id", "plat.orgs"), need("tenant id", "id.token.device"),
			need("not mapped elsewhere", "plat.integration.find"),
			need("consent read back", "g.approle.verify").when("g.approle.grant"),
			need("delegated grants held", "g.oauth2.grant").when("g.oauth2.grant"),
			need("directory roles read back", "g.dirrole.verify").when("g.dirrole.assign"),
			need("Exchange roles read back", "x.verify.roles").when("x.new.role")}},
	{ID: "plat.unmap", Method: "DELETE", Path: "/platform/v1/integrations/{id}",
		Needs: []gdep{need("the old integration's id (--remap)", "plat.integration.find")}},
	{ID: "plat.probe", Method: "GET", Path: "/platform/v1/integrations/{id}",
		Needs: []gdep{need("integration id", "plat.map")}, Wait: "health"},

	// Evidence ladder (issue 19): rungs 2–4 are looked at after mapping, in
	// each health round before the platform.
	{ID: "x.search.ual", Method: "POST", Path: exo, Detail: "Search-UnifiedAuditLog",
		Needs: []gdep{exoToken, need("integration id", "plat.map")}, Wait: "health"},
	{ID: "g.directory.audits", Method: "GET", Path: graphV1 + "/auditLogs/directoryAudits",
		Needs: []gdep{graphToken, need("integration id", "plat.map")}, Wait: "health"},

	// Summary: needs only the Graph token.
	{ID: "g.users", Method: "GET", Path: graphV1 + "/users", Needs: []gdep{graphToken}, Note: "billable identities"},
	{ID: "g.mfa", Method: "GET", Path: graphV1 + "/reports/authenticationMethods/userRegistrationDetails", Needs: []gdep{graphToken}},
}

// goals are the answers that end an onboarding: healthy, and the summary.
var goals = []string{"plat.probe", "g.users", "g.mfa"}

// obsReq is one request of a run: times from the simulator's log, detail
// (cmdlet, grant type) from the wizard's side.
type obsReq struct {
	Start, End   time.Time
	Method, Path string
	Detail       string
}

func (o obsReq) String() string {
	s := o.Method + " " + o.Path
	if o.Detail != "" {
		s += " " + o.Detail
	}
	return s
}

// observe joins the simulator's log (authoritative for which requests were
// served and when) with what the sniffer saw (cmdlet, grant type, $batch
// sub-requests): per method and path, in order. A $batch is expanded into
// its sub-requests, each with the batch's times.
func observe(recs []sim.RequestRecord, reqs []sniffed) []obsReq {
	queue := map[string][]sniffed{}
	for _, q := range reqs {
		k := q.Method + " " + strings.ToLower(q.Path)
		queue[k] = append(queue[k], q)
	}
	rs := append([]sim.RequestRecord(nil), recs...)
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].Time.Before(rs[j].Time) })
	var out []obsReq
	for _, r := range rs {
		end := r.Time.Add(time.Duration(r.LatencyMS * float64(time.Millisecond)))
		o := obsReq{Start: r.Time, End: end, Method: r.Method, Path: r.Path}
		k := r.Method + " " + strings.ToLower(r.Path)
		var q *sniffed
		if len(queue[k]) > 0 {
			q = &queue[k][0]
			queue[k] = queue[k][1:]
		}
		switch {
		case q != nil && len(q.Batch) > 0:
			for _, b := range q.Batch {
				m, u, _ := strings.Cut(b, " ")
				u, _, _ = strings.Cut(u, "?")
				out = append(out, obsReq{Start: r.Time, End: end, Method: m, Path: graphV1 + u})
			}
			continue
		case q != nil && q.Cmdlet != "":
			o.Detail, _, _ = strings.Cut(q.Cmdlet, " ")
		case q != nil && q.Grant != "":
			o.Detail = q.Grant
		}
		out = append(out, o)
	}
	return out
}

func (n gnode) matches(o obsReq) bool {
	if !strings.EqualFold(n.Method, o.Method) {
		return false
	}
	if n.Detail != "" {
		ok := false
		for _, d := range strings.Split(n.Detail, "|") {
			ok = ok || strings.EqualFold(d, o.Detail)
		}
		if !ok {
			return false
		}
	}
	want := strings.Split(n.Path, "/")
	got := strings.Split(o.Path, "/")
	if len(want) != len(got) {
		return false
	}
	for i := range want {
		if strings.HasPrefix(want[i], "{") && strings.HasSuffix(want[i], "}") {
			if got[i] == "" {
				return false
			}
			continue
		}
		if !strings.EqualFold(want[i], got[i]) {
			return false
		}
	}
	return true
}

func graphIndex(g []gnode) map[string]gnode {
	m := make(map[string]gnode, len(g))
	for _, n := range g {
		m[n.ID] = n
	}
	return m
}

// validateGraph reports declarations that name unknown requests or cycles.
func validateGraph(g []gnode) []string {
	idx := graphIndex(g)
	var bad []string
	if len(idx) != len(g) {
		bad = append(bad, "duplicate node ids")
	}
	for _, n := range g {
		for _, d := range n.Needs {
			for _, f := range append(append([]string(nil), d.From...), nonEmpty(d.When, d.Unless)...) {
				if _, ok := idx[f]; !ok {
					bad = append(bad, fmt.Sprintf("%s needs %q from unknown request %q", n.ID, d.Data, f))
				}
			}
		}
	}
	for _, id := range goals {
		if _, ok := idx[id]; !ok {
			bad = append(bad, "goal "+id+" is not declared")
		}
	}
	// Cycles: depth over every need must terminate.
	state := map[string]int{}
	var visit func(id string) bool
	visit = func(id string) bool {
		switch state[id] {
		case 1:
			return false
		case 2:
			return true
		}
		state[id] = 1
		for _, d := range idx[id].Needs {
			for _, f := range d.From {
				if !visit(f) {
					bad = append(bad, "cycle through "+id)
					return false
				}
			}
		}
		state[id] = 2
		return true
	}
	for _, n := range g {
		visit(n.ID)
	}
	return bad
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// present is the set of nodes that some logged request matches, used for
// the When/Unless conditions (only write nodes are named there, and a
// write's wire request matches exactly one node).
func present(g []gnode, log []obsReq) map[string]bool {
	p := map[string]bool{}
	for _, o := range log {
		for _, n := range g {
			if n.matches(o) {
				p[n.ID] = true
			}
		}
	}
	return p
}

func (d gdep) applies(p map[string]bool) bool {
	return (d.When == "" || p[d.When]) && (d.Unless == "" || !p[d.Unless])
}

// checkLog accounts for every logged request with the graph. It returns one
// line per request that no node describes (undeclared) and per request that
// started before any answer its nodes say it needs (the declaration is
// wrong: the wizard evidently did not need that answer). t0 is the run's
// start, for the offsets in the messages.
func checkLog(g []gnode, log []obsReq, t0 time.Time) []string {
	const tol = 200 * time.Microsecond
	idx := graphIndex(g)
	p := present(g, log)
	answered := func(id string, before time.Time, self int) bool {
		n := idx[id]
		for j, o := range log {
			if j != self && n.matches(o) && !o.End.After(before.Add(tol)) {
				return true
			}
		}
		return false
	}
	var bad []string
	for i, o := range log {
		var cands []gnode
		for _, n := range g {
			if n.matches(o) {
				cands = append(cands, n)
			}
		}
		at := fmt.Sprintf("+%s", ms(o.Start.Sub(t0)))
		if len(cands) == 0 {
			bad = append(bad, fmt.Sprintf("%s %s: undeclared request: add it to onboardingGraph (bench/depgraph.go) with the answers it needs", at, o))
			continue
		}
		var why []string
		ok := false
		for _, n := range cands {
			var missing []string
			for _, d := range n.Needs {
				if !d.applies(p) {
					continue
				}
				got := false
				for _, f := range d.From {
					if answered(f, o.Start, i) {
						got = true
					}
				}
				if !got {
					missing = append(missing, fmt.Sprintf("%s from %s", d.Data, strings.Join(d.From, " or ")))
				}
			}
			if len(missing) == 0 {
				ok = true
				break
			}
			why = append(why, n.ID+" needs "+strings.Join(missing, ", "))
		}
		if !ok {
			bad = append(bad, fmt.Sprintf("%s %s started before a declared need was answered (%s): correct its declaration in bench/depgraph.go", at, o, strings.Join(why, "; ")))
		}
	}
	return bad
}

// minimalChain is the longest chain of needs from nothing to the goals, for
// the run whose requests are present (a service principal that had to be
// created, roles that had to be added). Alternatives take the shallowest
// answer. It returns the chain's node ids, first to last.
func minimalChain(g []gnode, p map[string]bool) []string { return chainOf(g, p, true) }

// dataChain is minimalChain by data alone: without the one accepted plan's
// needs (Plan), what the work would need were every write asked on its own.
func dataChain(g []gnode, p map[string]bool) []string { return chainOf(g, p, false) }

func chainOf(g []gnode, p map[string]bool, withPlan bool) []string {
	idx := graphIndex(g)
	memo := map[string][]string{}
	var path func(id string) []string
	path = func(id string) []string {
		if c, ok := memo[id]; ok {
			return c
		}
		var longest []string
		for _, d := range idx[id].Needs {
			if !d.applies(p) || (d.Plan && !withPlan) {
				continue
			}
			var best []string
			for _, f := range d.From {
				if c := path(f); best == nil || len(c) < len(best) {
					best = c
				}
			}
			if len(best) > len(longest) {
				longest = best
			}
		}
		c := append(append([]string(nil), longest...), id)
		memo[id] = c
		return c
	}
	var out []string
	for _, id := range goals {
		if c := path(id); len(c) > len(out) {
			out = c
		}
	}
	return out
}

// waitsOn lists the human or platform waits on a chain.
func waitsOn(g []gnode, chain []string) []string {
	idx := graphIndex(g)
	var out []string
	for _, id := range chain {
		if w := idx[id].Wait; w != "" {
			out = append(out, w+" (before "+id+" answers)")
		}
	}
	return out
}
