package cli

import (
	"strings"
	"testing"
	"time"

	"itdr-onboard/sim"
	"itdr-onboard/state"
)

// identityRequests lists the simulator's identity-platform requests.
func identityRequests(srv *sim.Server) []string {
	var out []string
	for _, r := range srv.Requests() {
		if r.Group == sim.GroupIdentity {
			out = append(out, r.Method+" "+r.Path)
		}
	}
	return out
}

func countSuffix(reqs []string, suffix string) int {
	n := 0
	for _, r := range reqs {
		if strings.HasSuffix(r, suffix) {
			n++
		}
	}
	return n
}

// The device-code request is sent before the engine starts (drive
// prestarts it); the engine's sign-in takes that code instead of asking
// again: one devicecode request, one code shown, and it signs in.
func TestOnboardSendsOneDeviceCodeRequest(t *testing.T) {
	code, out, errs, srv := simRun(t, "typical", nil, "--json", "--yes", "--org", "Contoso Ltd", "--auth", "device")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	if n := countSuffix(identityRequests(srv), "/oauth2/v2.0/devicecode"); n != 1 {
		t.Fatalf("%d devicecode requests, want 1: %v", n, identityRequests(srv))
	}
	if n := strings.Count(out, `"type":"device_code"`); n != 1 {
		t.Fatalf("%d device_code events, want 1:\n%s", n, out)
	}
}

// A run that nobody can answer stops before any sign-in: the early
// device-code request is not sent either ("no sign-in was started").
func TestUnanswerableRunSendsNoDeviceCode(t *testing.T) {
	code, out, errs, srv := simRun(t, "typical", nil, "--json", "--auth", "device")
	if code != ExitUsage {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, ExitUsage, out, errs)
	}
	if reqs := identityRequests(srv); len(reqs) != 0 {
		t.Fatalf("identity requests from a run that cannot sign in: %v", reqs)
	}
}

// A run stopped by another run's lock shows no code: the device-code
// request it sent early is abandoned unseen, and nothing is changed.
func TestLockedRunShowsNoCode(t *testing.T) {
	ts := startSim(t, "typical", nil)
	l, err := state.Store{Dir: ts.stateDir}.AcquireLockFor(simTenant, "onboard", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	code, out, errs := ts.onboard(t, "--json", "--yes", "--org", "Contoso Ltd", "--auth", "device", "--tenant", simTenant)
	if code != ExitStopped {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, ExitStopped, out, errs)
	}
	if strings.Contains(out, `"device_code"`) {
		t.Fatalf("a code was shown by a run that holds no lock:\n%s", out)
	}
	ts.assertUnchanged(t)
}

// wire builds on the client it is handed (the cloud detection's) instead
// of a new transport, so the sign-in reuses the detection's connection to
// the login host; without one it makes its own.
func TestWireBuildsOnTheDetectionClient(t *testing.T) {
	ts := startSim(t, "typical", nil)
	ep := ts.srv.Endpoints()
	detect := ep.HTTPClient()
	w, err := wire(wireOptions{Endpoints: ep, StateDir: t.TempDir(), Env: headlessEnv, HTTPClient: detect})
	if err != nil {
		t.Fatal(err)
	}
	if w.baseTransport != detect.Transport {
		t.Fatal("wire made a transport of its own although it was handed the detection's client")
	}
	if detect.Transport == w.hc.Transport {
		t.Fatal("wire wrapped the detection's client in place instead of a copy")
	}
	own, err := wire(wireOptions{Endpoints: ep, StateDir: t.TempDir(), Env: headlessEnv})
	if err != nil {
		t.Fatal(err)
	}
	if own.baseTransport == detect.Transport {
		t.Fatal("a wiring without a detection client shares another's transport")
	}
}
