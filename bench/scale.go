package main

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"time"

	"itdr-onboard/m365"
	"itdr-onboard/platform"
	"itdr-onboard/sim"
)

// Cost as the work grows: the organization list of a platform with many
// organizations, and the summary of a tenant with many users. Each request
// of a paged list needs the previous page's cursor (plat.orgs.next in the
// dependency graph; @odata.nextLink for Graph), so the bound is the number
// of pages × latency.

// The platform's documented rate limit (docs/platform-api.md): 60 requests
// per minute per account, sliding window; over it, 429 with Retry-After.
const (
	platformRate   = 60
	platformWindow = time.Minute
)

// pagedBound is the least time n requests, each sent after the previous one
// answered, can take at latency lat under a limit of r requests per sliding
// window w, starting with an empty window: request i starts no earlier than
// request i−1 ends and request i−r starts + w.
func pagedBound(n int, lat time.Duration, r int, w time.Duration) time.Duration {
	if n <= 0 {
		return 0
	}
	starts := make([]time.Duration, n)
	for i := range starts {
		if i > 0 {
			starts[i] = starts[i-1] + lat
		}
		if r > 0 && i >= r {
			starts[i] = max(starts[i], starts[i-r]+w)
		}
	}
	return starts[n-1] + lat
}

// orgScale is one platform size.
type orgScale struct {
	Orgs      int
	Load      time.Duration // AllOrganizations("") with paging
	Pages     int
	HeapBytes uint64 // retained by the loaded list
	WireBytes int    // JSON bytes of the organizations as sent
	Filter    filterResult
}

// measureOrgScale starts a simulator whose platform has n organizations and
// loads them all the way the organization picker does.
func measureOrgScale(ctx context.Context, tmp string, lat time.Duration, n, reps int) (orgScale, error) {
	sc, err := benchScenario("typical", lat, 0)
	if err != nil {
		return orgScale{}, err
	}
	// The simulator generates at most 100,000 ("Customer 00001" …); the
	// rest are listed explicitly with names of the same shape.
	extra := n - len(sc.Platform.Organizations)
	sc.Platform.GeneratedOrganizations = min(extra, 100000)
	for i := 100001; i <= extra; i++ {
		sc.Platform.Organizations = append(sc.Platform.Organizations,
			sim.OrgSpec{ID: fmt.Sprintf("org_x%06d", i), Name: fmt.Sprintf("Customer %06d", i)})
	}
	env, err := startSim(sc, tmp, lat)
	if err != nil {
		return orgScale{}, err
	}
	defer env.Close()
	ep := env.srv.Endpoints()
	hc := ep.HTTPClient()
	defer hc.CloseIdleConnections()
	pc := platform.New(hc, ep.Platform, ep.PlatformAPIKey, ep.PlatformAPISecret)
	n0 := len(env.srv.Requests())
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	t0 := time.Now()
	orgs, err := pc.AllOrganizations(ctx, "")
	res := orgScale{Load: time.Since(t0)}
	if err != nil {
		return res, fmt.Errorf("%d organizations: %w", n, err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	res.Orgs = len(orgs)
	if after.HeapAlloc > before.HeapAlloc {
		res.HeapBytes = after.HeapAlloc - before.HeapAlloc
	}
	for _, r := range env.srv.Requests()[n0:] {
		if r.Method == "GET" && strings.HasSuffix(r.Path, "/v1/organizations") {
			res.Pages++
		}
	}
	if b, err := json.Marshal(orgs); err == nil {
		res.WireBytes = len(b) // the list as JSON, as the platform sends it
	}
	runtime.KeepAlive(orgs)
	res.Filter = measureFilter(n-1, reps)
	return res, nil
}

// userScale is the summary of a tenant with many users.
type userScale struct {
	Users                 int
	Time                  time.Duration
	UserPages, ReportPage int
	Billable, Registered  int
	Total                 int
}

// measureUserScale reads the billable-identity count and the MFA summary
// side by side (as the wizard does) in a tenant with n users.
func measureUserScale(ctx context.Context, tmp string, lat time.Duration, n int) (userScale, error) {
	sc, err := benchScenario("typical", lat, 0)
	if err != nil {
		return userScale{}, err
	}
	yes := true
	for i := len(sc.Users); i < n; i++ {
		sc.Users = append(sc.Users, sim.UserSpec{UPN: fmt.Sprintf("user%05d@%s", i, sc.Tenant.InitialDomain),
			DisplayName: fmt.Sprintf("User %05d", i), Licensed: &yes, MFARegistered: i%3 != 0})
	}
	env, err := startSim(sc, tmp, lat)
	if err != nil {
		return userScale{}, err
	}
	defer env.Close()
	ep := env.srv.Endpoints()
	hc := ep.HTTPClient()
	defer hc.CloseIdleConnections()
	tok := env.srv.IssueToken("https://graph.microsoft.com")
	g := m365.NewGraph(hc, ep.Graph, func(context.Context) (string, error) { return tok, nil })
	n0 := len(env.srv.Requests())
	res := userScale{Users: n}
	var mfaErr error
	done := make(chan struct{})
	t0 := time.Now()
	go func() {
		defer close(done)
		res.Registered, res.Total, mfaErr = g.MFARegistration(ctx)
	}()
	res.Billable, err = g.CountBillableUsers(ctx)
	<-done
	res.Time = time.Since(t0)
	if err == nil {
		err = mfaErr
	}
	if err != nil {
		return res, err
	}
	for _, r := range env.srv.Requests()[n0:] {
		switch {
		case strings.HasSuffix(r.Path, "/v1.0/users"):
			res.UserPages++
		case strings.HasSuffix(r.Path, "/userRegistrationDetails"):
			res.ReportPage++
		}
	}
	return res, nil
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

// scaleRows measures and judges the rows "7" (organizations) and "8"
// (users).
func scaleRows(ctx context.Context, tmp string, lat time.Duration) ([]row, []string) {
	var rows []row
	var notes []string
	for i, n := range []int{5000, 50000, 200000} {
		id := fmt.Sprintf("7%c", 'a'+i)
		progress("row %s: %d platform organizations", id, n)
		reps := 15
		if n > 10000 {
			reps = 5
		}
		s, err := measureOrgScale(ctx, tmp, lat, n, reps)
		name := fmt.Sprintf("%d organizations: list load", n)
		if err != nil {
			rows = append(rows, notMeasured(id, name, err.Error()))
			continue
		}
		load := row{ID: id, Name: name}
		bound := pagedBound(s.Pages, lat, platformRate, platformWindow)
		load.judge(s.Load, bound, 1.25)
		load.Measured = fmt.Sprintf("%s, %d pages", ms(s.Load), s.Pages)
		load.Bound = fmt.Sprintf("%d pages × %s = %s", s.Pages, lat, ms(time.Duration(s.Pages)*lat))
		if bound > time.Duration(s.Pages)*lat {
			load.Bound = fmt.Sprintf("%d pages × %s + rate-limit waits = %s", s.Pages, lat, secs(bound))
			load.Measured = fmt.Sprintf("%s, %d pages", secs(s.Load), s.Pages)
		}
		mem := row{ID: id + "'", Name: fmt.Sprintf("%d organizations: memory", n),
			Measured: fmt.Sprintf("%.1f MB (%.0f B per org)", float64(s.HeapBytes)/(1<<20), float64(s.HeapBytes)/float64(max(s.Orgs, 1))),
			Bound:    fmt.Sprintf("%.1f MB as JSON", float64(s.WireBytes)/(1<<20)),
			Ratio:    fmt.Sprintf("%.2f×", float64(s.HeapBytes)/float64(max(s.WireBytes, 1))), Target: "≤ 3× the JSON"}
		mem.pass(s.HeapBytes <= uint64(3*s.WireBytes))
		filt := row{ID: id + "\"", Name: fmt.Sprintf("%d organizations: filter per keystroke", n),
			Measured: fmt.Sprintf("worst %s (%q), median %s", ms(s.Filter.Worst), s.Filter.WorstText, ms(s.Filter.Median)),
			Bound:    "—", Ratio: "—", Target: "≤ 16 ms"}
		filt.pass(s.Filter.Worst <= 16*time.Millisecond)
		rows = append(rows, load, mem, filt)
	}
	progress("row 8: a tenant with 10,000 users")
	u, err := measureUserScale(ctx, tmp, lat, 10000)
	name := "10,000 users: billable identities + MFA summary"
	if err != nil {
		rows = append(rows, notMeasured("8", name, err.Error()))
	} else {
		pages := max(u.UserPages, u.ReportPage)
		r := row{ID: "8", Name: name}
		r.judge(u.Time, time.Duration(pages)*lat, 1.25)
		r.Measured = fmt.Sprintf("%s; users %d pages, MFA report %d pages", ms(u.Time), u.UserPages, u.ReportPage)
		r.Bound = fmt.Sprintf("%d pages × %s = %s", pages, lat, ms(time.Duration(pages)*lat))
		rows = append(rows, r)
		notes = append(notes, fmt.Sprintf("row 8: the two reads run side by side; each page needs the previous page's @odata.nextLink, so the bound is the longer one's pages × latency. Users: $top=999 (%d pages, %d billable); the registration report is paged by the service (%d pages, %d of %d registered for MFA).",
			u.UserPages, u.Billable, u.ReportPage, u.Registered, u.Total))
	}
	notes = append(notes, "rows 7: AllOrganizations with the platform's largest page (500); each page needs the previous page's cursor, so the bound is pages × latency, and beyond 60 pages the platform's documented rate limit (60 requests per minute, sliding window) adds a wait of up to a minute per 60 pages: loading every organization of a large platform is bound by the rate limit, not by the wizard. Memory: heap retained by the loaded list (after GC) against the organizations' JSON size. Filter: tui.OrgFilter per keystroke over the whole list, as in row 6.")
	return rows, notes
}
