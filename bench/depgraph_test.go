package main

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"itdr-onboard/sim"
)

var installSniffer sync.Once

// onboardForGraph runs one full onboarding of the typical scenario in
// process (no injected latency) and returns its joined request log.
func onboardForGraph(t *testing.T) (*run, []obsReq) {
	t.Helper()
	installSniffer.Do(theSniffer.install)
	r, err := inProcessRun(context.Background(), theSniffer, t.TempDir(), 0)
	if err != nil {
		t.Fatalf("onboarding: %v", err)
	}
	return r, observe(r.Recs, r.Reqs)
}

func TestDependencyGraphIsWellFormed(t *testing.T) {
	if bad := validateGraph(onboardingGraph); len(bad) > 0 {
		t.Fatalf("graph:\n%s", strings.Join(bad, "\n"))
	}
	// A cycle and an unknown source are reported.
	g := []gnode{
		{ID: "a", Method: "GET", Path: "/a", Needs: []gdep{need("x", "b")}},
		{ID: "b", Method: "GET", Path: "/b", Needs: []gdep{need("y", "a"), need("z", "nope")}},
	}
	bad := strings.Join(validateGraph(g), "\n")
	if !strings.Contains(bad, "cycle") || !strings.Contains(bad, `unknown request "nope"`) {
		t.Fatalf("not reported: %s", bad)
	}
}

// The real onboarding's log is fully accounted for by the declared graph;
// the same log with one extra request, or with a request moved before the
// answer it is declared to need, is not.
func TestDependencyGraphCoversTheOnboarding(t *testing.T) {
	r, log := onboardForGraph(t)
	if len(log) < 20 {
		t.Fatalf("only %d requests logged", len(log))
	}
	for _, o := range log {
		if strings.HasSuffix(o.Path, "/InvokeCommand") && o.Detail == "" {
			t.Fatalf("no cmdlet for %s: the sniffer and the simulator's log did not join", o)
		}
	}
	if bad := checkLog(onboardingGraph, log, r.Start); len(bad) > 0 {
		t.Fatalf("the declared graph does not account for the onboarding's requests:\n%s", strings.Join(bad, "\n"))
	}

	// Synthetic: a new request nobody declared.
	last := log[len(log)-1]
	extra := append(append([]obsReq(nil), log...), obsReq{Start: last.End, End: last.End.Add(time.Millisecond),
		Method: "GET", Path: "/graph/v1.0/policies/authorizationPolicy"})
	bad := checkLog(onboardingGraph, extra, r.Start)
	if len(bad) != 1 || !strings.Contains(bad[0], "undeclared request") || !strings.Contains(bad[0], "authorizationPolicy") {
		t.Fatalf("an undeclared request was not reported alone: %q", bad)
	}
	// An undeclared Exchange cmdlet on a declared path is also new.
	extra[len(extra)-1] = obsReq{Start: last.End, End: last.End.Add(time.Millisecond), Method: "POST",
		Path: "/exchange/adminapi/beta/t/InvokeCommand", Detail: "Get-Mailbox"}
	if bad := checkLog(onboardingGraph, extra, r.Start); len(bad) != 1 || !strings.Contains(bad[0], "Get-Mailbox") {
		t.Fatalf("an undeclared cmdlet was not reported: %q", bad)
	}

	// Synthetic: the mapping sent before the consent was read back: the
	// declaration "plat.map needs the consent read back" is then wrong.
	moved := append([]obsReq(nil), log...)
	found := false
	for i, o := range moved {
		if o.Method == "POST" && o.Path == "/platform/v1/integrations" {
			moved[i].Start, moved[i].End = r.Start, r.Start.Add(time.Millisecond)
			found = true
		}
	}
	if !found {
		t.Fatal("no mapping request in the log")
	}
	bad = checkLog(onboardingGraph, moved, r.Start)
	if len(bad) != 1 || !strings.Contains(bad[0], "plat.map needs") || !strings.Contains(bad[0], "consent read back") {
		t.Fatalf("a request sent before its declared need was not reported alone: %q", bad)
	}
}

func TestMinimalChainOfTheTypicalOnboarding(t *testing.T) {
	_, log := onboardForGraph(t)
	ch := minimalChain(onboardingGraph, present(onboardingGraph, log))
	// typical: the platform's service principal is absent, so it is looked
	// up, created, granted, read back; then mapped and probed. Creating it
	// is one of the role fixes, written only once their one plan is
	// accepted, and the plan holds the Exchange role group's roles, which
	// need an Exchange token: that is one request deeper than the data.
	want := "id.discovery id.devicecode id.token.device id.token.exchange x.get.roles g.sp.create g.approle.grant g.approle.verify plat.map plat.probe"
	if got := strings.Join(ch, " "); got != want {
		t.Fatalf("minimal chain\n got %s\nwant %s", got, want)
	}
	want = "id.discovery id.devicecode id.token.device g.sp.lookup g.sp.create g.approle.grant g.approle.verify plat.map plat.probe"
	if got := strings.Join(dataChain(onboardingGraph, present(onboardingGraph, log)), " "); got != want {
		t.Fatalf("chain by data alone\n got %s\nwant %s", got, want)
	}
	if w := waitsOn(onboardingGraph, ch); len(w) != 2 || !strings.HasPrefix(w[0], "approval") || !strings.HasPrefix(w[1], "health") {
		t.Fatalf("waits %q", w)
	}
	// With the service principal present, its id comes from the lookup and
	// what it holds must be read: as deep (lookup → list → grant).
	p := present(onboardingGraph, log)
	delete(p, "g.sp.create")
	want = "id.discovery id.devicecode id.token.device g.sp.lookup g.approle.list g.approle.grant g.approle.verify plat.map plat.probe"
	if got := strings.Join(dataChain(onboardingGraph, p), " "); got != want {
		t.Fatalf("without a service principal to create\n got %s\nwant %s", got, want)
	}
}

func TestObserveJoinsDetailAndExpandsBatches(t *testing.T) {
	t0 := at(0)
	recs := simRecs(t0,
		"POST /exchange/adminapi/beta/t/InvokeCommand", "POST /t/oauth2/v2.0/token", "POST /graph/v1.0/$batch")
	reqs := []sniffed{
		{Method: "POST", Path: "/exchange/adminapi/beta/t/InvokeCommand", Cmdlet: "Get-ManagementRoleAssignment -RoleAssignee Organization Management"},
		{Method: "POST", Path: "/t/oauth2/v2.0/token", Grant: "refresh_token"},
		{Method: "POST", Path: "/graph/v1.0/$batch", Batch: []string{"GET /me?$select=id", "GET /organization"}},
	}
	got := observe(recs, reqs)
	var s []string
	for _, o := range got {
		s = append(s, o.String())
	}
	want := "POST /exchange/adminapi/beta/t/InvokeCommand Get-ManagementRoleAssignment|POST /t/oauth2/v2.0/token refresh_token|GET /graph/v1.0/me|GET /graph/v1.0/organization"
	if strings.Join(s, "|") != want {
		t.Fatalf("got  %s\nwant %s", strings.Join(s, "|"), want)
	}
}

// simRecs makes one simulator log record per "METHOD /path", 1 ms apart.
func simRecs(t0 time.Time, reqs ...string) []sim.RequestRecord {
	var out []sim.RequestRecord
	for i, r := range reqs {
		m, p, _ := strings.Cut(r, " ")
		out = append(out, sim.RequestRecord{Time: t0.Add(time.Duration(i) * time.Millisecond), Method: m, Path: p, LatencyMS: 0.5})
	}
	return out
}

// Reads a write's response answers are served by the clients' caches, but
// every fix and the consent are still read back from the service after the
// last write of their kind.
func TestEveryWriteIsReadBackFromTheService(t *testing.T) {
	_, log := onboardForGraph(t)
	idx := graphIndex(onboardingGraph)
	for write, read := range map[string]string{
		"x.new.role":       "x.verify.roles",
		"g.dirrole.assign": "g.dirrole.verify",
		"g.approle.grant":  "g.approle.verify",
	} {
		var lastWrite time.Time
		for _, o := range log {
			if idx[write].matches(o) && o.End.After(lastWrite) {
				lastWrite = o.End
			}
		}
		if lastWrite.IsZero() {
			t.Fatalf("typical onboarding made no %s", write)
		}
		ok := false
		for _, o := range log {
			if idx[read].matches(o) && !o.Start.Before(lastWrite) {
				ok = true
			}
		}
		if !ok {
			t.Errorf("no %s after the last %s", read, write)
		}
	}
}

func TestScaleMeasurementsCountPagesAndItems(t *testing.T) {
	installSniffer.Do(theSniffer.install)
	ctx := context.Background()
	o, err := measureOrgScale(ctx, t.TempDir(), 0, 1201, 1)
	if err != nil {
		t.Fatal(err)
	}
	// 1,201 organizations in pages of 500: 3 pages, each after the last.
	if o.Orgs != 1201 || o.Pages != 3 || o.WireBytes < 1201*40 || o.Filter.Orgs != 1201 {
		t.Fatalf("%+v", o)
	}
	u, err := measureUserScale(ctx, t.TempDir(), 0, 2000)
	if err != nil {
		t.Fatal(err)
	}
	// About 2,000 enabled users: two pages of 999 (+1); the report in
	// pages of 100.
	if u.UserPages < 2 || u.UserPages > 3 || u.ReportPage != (u.Total+99)/100 || u.Total < 1990 || u.Billable < 1990 || u.Registered == 0 || u.Registered >= u.Total {
		t.Fatalf("%+v", u)
	}
}

func TestPagedBoundCountsTheRateLimit(t *testing.T) {
	lat := 40 * time.Millisecond
	if b := pagedBound(10, lat, 60, time.Minute); b != 400*time.Millisecond {
		t.Errorf("10 pages: %s", b)
	}
	// Page 61 waits for page 1's minute to pass; the other 40 follow.
	if b := pagedBound(101, lat, 60, time.Minute); b != time.Minute+41*lat {
		t.Errorf("101 pages: %s", b)
	}
	if b := pagedBound(0, lat, 60, time.Minute); b != 0 {
		t.Errorf("no pages: %s", b)
	}
}
