package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"itdr-onboard/sim"
)

// deviceCodeRequests counts the simulator's POST …/devicecode requests.
func deviceCodeRequests(srv *sim.Server) int {
	n := 0
	for _, r := range srv.Requests() {
		if r.Method == "POST" && strings.HasSuffix(r.Path, "/oauth2/v2.0/devicecode") {
			n++
		}
	}
	return n
}

// A prestarted device-code request is the one StartDeviceCode hands out
// (no second request), its code signs in, and only the first
// StartDeviceCode takes it: the next one asks for a fresh code.
func TestPrestartedDeviceCodeIsTakenOnce(t *testing.T) {
	srv := startSim(t, nil)
	c := simClient(t, srv, nil)
	ctx := context.Background()
	stop := c.PrestartDeviceCode(ctx)
	defer stop()
	c.PrestartDeviceCode(ctx)() // a second call before StartDeviceCode sends nothing
	dc, err := c.StartDeviceCode(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if dc.UserCode == "" {
		t.Fatalf("device code %v", dc)
	}
	if n := deviceCodeRequests(srv); n != 1 {
		t.Fatalf("%d devicecode requests after a prestart and StartDeviceCode, want 1", n)
	}
	next, err := c.StartDeviceCode(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := deviceCodeRequests(srv); n != 2 || next.UserCode == dc.UserCode {
		t.Fatalf("the second StartDeviceCode: %d requests, code %q after %q; want a fresh request and code", n, next.UserCode, dc.UserCode)
	}
	acct, err := c.AwaitDeviceCode(ctx, dc)
	if err != nil {
		t.Fatalf("signing in with the prestarted code: %v", err)
	}
	if !strings.EqualFold(acct.TenantID, srv.TenantID()) {
		t.Fatalf("account %+v", acct)
	}
}

// A prestart whose context ended (the run that sent it stopped) does not
// poison the next StartDeviceCode: it asks again.
func TestCancelledPrestartAsksAgain(t *testing.T) {
	srv := startSim(t, nil)
	c := simClient(t, srv, nil)
	pctx, cancel := context.WithCancel(context.Background())
	cancel()
	defer c.PrestartDeviceCode(pctx)()
	dc, err := c.StartDeviceCode(context.Background())
	if err != nil {
		t.Fatalf("StartDeviceCode after a cancelled prestart: %v", err)
	}
	if dc.UserCode == "" || deviceCodeRequests(srv) != 1 {
		t.Fatalf("code %v, %d devicecode requests; want a code from one request", dc, deviceCodeRequests(srv))
	}
}

// StartDeviceCode waiting for a prestarted request ends with its own
// context, classified as cancelled.
func TestStartDeviceCodeWaitingForPrestartEndsWithItsContext(t *testing.T) {
	srv := startSim(t, func(sc *sim.Scenario) {
		// The prestart's first request is still on its way when
		// StartDeviceCode is called.
		sc.Faults = append(sc.Faults, sim.FaultSpec{Group: sim.GroupIdentity, Kind: sim.FaultLatency,
			Latency: sim.Duration(5 * time.Second), Count: 1})
	})
	c := simClient(t, srv, nil)
	defer c.PrestartDeviceCode(context.Background())()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.StartDeviceCode(ctx)
	var ae *Error
	if !errors.As(err, &ae) || ae.Class != ClassCancelled {
		t.Fatalf("StartDeviceCode with an ended context while the prestart is on its way: %v, want %s", err, ClassCancelled)
	}
}

// The sign-in's first request, the authority's OpenID configuration, is
// the document ResolveTenant read for the same tenant (the cloud detection
// or the lock's tenant lookup before sign-in): it is not fetched twice.
func TestSignInReusesTheResolvedOpenIDConfiguration(t *testing.T) {
	srv := startSim(t, nil)
	ctx := context.Background()
	if _, err := ResolveTenant(ctx, srv.HTTPClient(), srv.Endpoints(), srv.TenantID()); err != nil {
		t.Fatal(err)
	}
	c := simClient(t, srv, nil)
	dc, err := c.StartDeviceCode(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AwaitDeviceCode(ctx, dc); err != nil {
		t.Fatal(err)
	}
	var openid []string
	for _, r := range srv.Requests() {
		if strings.HasSuffix(r.Path, "/.well-known/openid-configuration") {
			openid = append(openid, r.Method+" "+r.Path)
		}
	}
	if len(openid) != 1 || deviceCodeRequests(srv) != 1 {
		t.Fatalf("openid-configuration requests %q and %d devicecode request(s); want the resolve's one and one", openid, deviceCodeRequests(srv))
	}
}
