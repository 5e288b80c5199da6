package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"itdr-onboard/cli"
	"itdr-onboard/sim"
)

// partner setup's requests (creating the app from nothing) are all declared
// in partnerSetupGraph, each after the answers it needs.
func TestSetupGraphCoversPartnerSetup(t *testing.T) {
	var bad []string
	for _, b := range validateGraph(partnerSetupGraph) {
		if !strings.HasPrefix(b, "goal ") { // the goals are the onboarding's
			bad = append(bad, b)
		}
	}
	if len(bad) > 0 {
		t.Fatalf("graph:\n%s", strings.Join(bad, "\n"))
	}
	sc := sim.GeneratePartnerScenario(3, 4)
	sc.Partner.App = sim.PartnerAppAbsent
	srv, err := sim.StartPartner(sc, sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	// Once any test of this package has installed the sniffer on
	// http.DefaultTransport, its dialer accepts only the simulators it was
	// told to trust: trust this one too, so the test does not depend on
	// running before the others (go test -count=2, -shuffle).
	theSniffer.trust(srv.Endpoints().CACertPEM)
	dir := t.TempDir()
	ep := dir + "/ep.json"
	if err := srv.Endpoints().Save(ep); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	io := cli.IO{In: strings.NewReader(""), Out: &out, Err: &errb, Env: func(string) string { return "" }}
	start := time.Now()
	code := cli.Run(context.Background(), []string{"partner", "setup", "--endpoints", ep, "--state-dir", dir + "/state", "--json", "--yes", "--auth", "device"}, io)
	if code != 0 {
		t.Fatalf("partner setup exited %d: %s\n%s", code, errb.String(), out.String())
	}
	log := observe(srv.Requests(), nil)
	if len(log) < 10 {
		t.Fatalf("only %d requests logged", len(log))
	}
	if bad := checkLog(partnerSetupGraph, log, start); len(bad) > 0 {
		t.Fatalf("the declared graph does not account for partner setup's requests:\n%s", strings.Join(bad, "\n"))
	}
}
