package auth

import (
	"context"
	"errors"
	"testing"
	"time"

	"itdr-onboard/sim"
)

// Issue 16 §6: a token endpoint that stalls past the HTTP client's timeout
// while the device code is still valid is not "the code expired": it is
// reported as Microsoft's sign-in service not answering (ClassNetwork,
// "Cannot reach <host>"), and the same code still completes the sign-in
// once the service answers again. The stall is the simulator's latency
// fault on the token endpoint.
func TestSimStalledTokenEndpointIsNotAnExpiredCode(t *testing.T) {
	srv := startSim(t, func(sc *sim.Scenario) {
		sc.Faults = append(sc.Faults, sim.FaultSpec{Group: sim.GroupIdentity, Path: "/*/oauth2/v2.0/token", Method: "POST",
			Kind: sim.FaultLatency, Latency: sim.Duration(1500 * time.Millisecond), Count: 1})
	})
	hc := srv.HTTPClient()
	hc.Timeout = 400 * time.Millisecond // stands for the 90 s of the real client
	c := simClient(t, srv, func(o *Options) { o.HTTPClient = hc })
	ctx := context.Background()
	dc, err := c.StartDeviceCode(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.AwaitDeviceCode(ctx, dc)
	var ae *Error
	if !errors.As(err, &ae) {
		t.Fatalf("err %v", err)
	}
	if ae.Class == ClassExpired || ae.Class != ClassNetwork {
		t.Fatalf("a stalled token endpoint classified %s: %s", ae.Class, ae.Message)
	}
	if time.Now().After(dc.ExpiresOn) {
		t.Fatal("the code really expired: the test proves nothing")
	}
	acct, err := c.AwaitDeviceCode(ctx, dc)
	if err != nil || acct.Username == "" {
		t.Fatalf("the same code after the stall: %+v %v", acct, err)
	}
	// The stalled request is logged when the simulator finishes it.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		stalled := 0
		for _, r := range srv.Requests() {
			if r.Group == sim.GroupIdentity && r.Fault != "" {
				stalled++
			}
		}
		if stalled > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the latency fault never fired: the test proves nothing")
		}
	}
}
