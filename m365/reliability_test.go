package m365_test

// Issue 7 acceptance for the clients, against the tenant simulator's fault
// injection: when retries run out the error names the call, the last error
// and its request id; a write that timed out after the service applied it
// is found by the re-check instead of being made twice.

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"itdr-onboard/internal/httpx"
	"itdr-onboard/internal/testsim"
	"itdr-onboard/m365"
	"itdr-onboard/sim"
)

func startSim(t *testing.T, faults []sim.FaultSpec) *sim.Server {
	t.Helper()
	return testsim.Start(t, "typical", func(sc *sim.Scenario) { sc.Faults = faults })
}

// fakeClock advances on Sleep, so budgets are exercised without waiting.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }
func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.now = c.now.Add(d)
	return ctx.Err()
}

func TestRetriesRunOutNamingCallLastErrorAndRequestID(t *testing.T) {
	srv := startSim(t, []sim.FaultSpec{{Group: sim.GroupGraph, Kind: sim.Fault503, Rate: 1}})
	tok := srv.IssueToken("https://graph.microsoft.com")
	g := m365.NewGraph(srv.HTTPClient(), srv.Endpoints().Graph, func(context.Context) (string, error) { return tok, nil })
	clk := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	g.SetRetryPolicy(m365.RetryPolicy{Sleep: clk.Sleep, Now: clk.Now, MaxAttempts: 4})
	_, err := g.Me(context.Background())
	var re *httpx.RetryError
	if !errors.As(err, &re) || re.Attempts != 4 {
		t.Fatalf("want a RetryError after 4 attempts, got %v", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "GET /me") || !strings.Contains(msg, "gave up after 4 attempts") {
		t.Errorf("error does not name the call and the attempts: %s", msg)
	}
	if !strings.Contains(strings.ToLower(msg), "temporarily unavailable") && !strings.Contains(msg, "503") {
		t.Errorf("error does not carry the last error: %s", msg)
	}
	if !guid.MatchString(msg[strings.Index(strings.ToLower(msg), "request"):]) {
		t.Errorf("error carries no request id: %s", msg)
	}
	// Bounded in time: the budget stops a long Retry-After.
	srv2 := startSim(t, []sim.FaultSpec{{Group: sim.GroupGraph, Kind: sim.Fault429, RetryAfter: 3600}})
	tok2 := srv2.IssueToken("https://graph.microsoft.com")
	g2 := m365.NewGraph(srv2.HTTPClient(), srv2.Endpoints().Graph, func(context.Context) (string, error) { return tok2, nil })
	clk2 := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	g2.SetRetryPolicy(m365.RetryPolicy{Sleep: clk2.Sleep, Now: clk2.Now})
	_, err = g2.Me(context.Background())
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "beyond the retry budget") {
		t.Fatalf("a one-hour Retry-After: %v", err)
	}
	if waited := clk2.now.Sub(time.Unix(1_700_000_000, 0)); waited != 0 {
		t.Fatalf("slept %s before giving up on a Retry-After beyond the budget", waited)
	}
}

var guid = regexp.MustCompile(`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)

func TestCreateServicePrincipalResetIsRecheckedNotRepeated(t *testing.T) {
	// Every POST /servicePrincipals is reset once before the handler runs;
	// the second time goes through: the SP is created exactly once.
	srv := startSim(t, []sim.FaultSpec{{Group: sim.GroupGraph, Kind: sim.FaultReset, Method: "POST", Path: "/v1.0/servicePrincipals", Count: 1}})
	tok := srv.IssueToken("https://graph.microsoft.com")
	g := m365.NewGraph(srv.HTTPClient(), srv.Endpoints().Graph, func(context.Context) (string, error) { return tok, nil })
	clk := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	g.SetRetryPolicy(m365.RetryPolicy{Sleep: clk.Sleep, Now: clk.Now})
	appID := srv.State().PlatformAppID()
	sp, err := g.CreateServicePrincipal(context.Background(), appID)
	if err != nil || sp.ID == "" || sp.AppID != appID {
		t.Fatalf("create after a reset: %+v %v", sp, err)
	}
	n := 0
	for _, c := range srv.State().Changes() {
		if c.Op == "POST /servicePrincipals" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("service principal created %d times", n)
	}
}
