package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"itdr-onboard/endpoints"
	"itdr-onboard/sim"
)

// simServeProxy runs `sim serve --proxy 127.0.0.1:0` on a fast copy of a
// built-in scenario and returns the proxy URL, the CA file, the endpoints
// file and the request log path. The server stops at the test's end.
func simServeProxy(t *testing.T, scenario string, mutate func(*sim.Scenario)) (proxyURL, caPath, epPath, logPath string) {
	t.Helper()
	dir := t.TempDir()
	sc, err := sim.LoadScenario(scenario)
	if err != nil {
		t.Fatal(err)
	}
	makeFast(sc)
	if mutate != nil {
		mutate(sc)
	}
	b, _ := json.Marshal(sc)
	scPath := filepath.Join(dir, "scenario.json")
	if err := os.WriteFile(scPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	epPath = filepath.Join(dir, "ep.json")
	caPath = filepath.Join(dir, "ca.pem")
	logPath = filepath.Join(dir, "requests.jsonl")
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuf{}
	served := make(chan int, 1)
	go func() {
		served <- Run(ctx, []string{"sim", "serve", "--scenario", scPath, "--endpoints-out", epPath, "--ca-out", caPath,
			"--log", logPath, "--proxy", "127.0.0.1:0"}, IO{In: strings.NewReader(""), Out: out, Err: out})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-served:
		case <-time.After(5 * time.Second):
			t.Error("sim serve did not stop on cancel")
		}
	})
	re := regexp.MustCompile(`Proxy: (http://127\.0\.0\.1:\d+) serves`)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(out.String()); m != nil && strings.Contains(out.String(), "Press ctrl+c") {
			return m[1], caPath, epPath, logPath
		}
		select {
		case code := <-served:
			t.Fatalf("sim serve ended with %d:\n%s", code, out.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("sim serve did not announce its proxy:\n%s", out.String())
	return
}

func readSimLog(t *testing.T, path string) []sim.RequestRecord {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []sim.RequestRecord
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r sim.RequestRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("request log line %q: %v", sc.Text(), err)
		}
		recs = append(recs, r)
	}
	return recs
}

// Issue 17: `onboard` with its PRODUCTION endpoints (no --endpoints, so
// login.microsoftonline.com with instance discovery on, graph.microsoft.com,
// outlook.office365.com and the platform's production host) completes the
// typical scenario through `sim serve --proxy`, trusting the simulator's CA
// through SSL_CERT_FILE. Not parallel: it sets the process environment.
func TestOnboardProductionEndpointsThroughSimProxy(t *testing.T) {
	proxyURL, caPath, epPath, logPath := simServeProxy(t, "typical", nil)
	ep, err := endpoints.Load(epPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"HTTP_PROXY", "http_proxy", "https_proxy", "NO_PROXY", "no_proxy"} {
		t.Setenv(k, "")
	}
	t.Setenv("HTTPS_PROXY", proxyURL)
	t.Setenv("SSL_CERT_FILE", caPath)
	t.Setenv("ITDR_API_KEY", ep.PlatformAPIKey)
	t.Setenv("ITDR_API_SECRET", ep.PlatformAPISecret)
	env := func(k string) string { return os.Getenv(k) }
	out := &syncBuf{}
	code := Run(context.Background(), []string{"onboard", "--tenant", simTenant, "--plain", "--yes",
		"--org", "Contoso Ltd", "--state-dir", filepath.Join(t.TempDir(), "state"), "--poll-base", "50ms"},
		IO{In: strings.NewReader(""), Out: out, Err: out, Env: env})
	if code != 0 || !strings.Contains(out.String(), "Healthy:") {
		t.Fatalf("onboard through the proxy: exit %d\n%s", code, out.String())
	}
	hosts := map[string]int{}
	openid := 0
	for _, r := range readSimLog(t, logPath) {
		if r.Method == "GET" && strings.EqualFold(r.Path, "/"+simTenant+"/v2.0/.well-known/openid-configuration") {
			openid++
		}
		if r.Group == sim.GroupProxy {
			t.Errorf("the proxy refused %s %s: the production endpoints asked for a host the simulator does not play", r.Method, r.Path)
		}
		if r.Host == "" {
			t.Errorf("%s %s reached the simulator's loopback address directly, not through Microsoft's host name", r.Method, r.Path)
		}
		hosts[r.Host]++
	}
	// Issue 13: the cloud detection's copy of the tenant's OpenID
	// configuration is the sign-in's (MSAL does not fetch it again).
	if openid != 1 {
		t.Errorf("the tenant's openid-configuration was fetched %d times, want 1 (the cloud detection's)", openid)
	}
	for _, h := range []string{"login.microsoftonline.com", "graph.microsoft.com", "outlook.office365.com", "api.itdr-platform.example"} {
		if hosts[h] == 0 {
			t.Errorf("no request reached %s through the proxy (hosts: %v)", h, hosts)
		}
	}
}
