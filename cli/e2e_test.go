package cli

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"itdr-onboard/sim"
)

// `sim serve` writes an endpoints file; the production command runs
// unchanged against it (issue 2).
func TestSimServeThenOnboardThroughEndpointsFile(t *testing.T) {
	dir := t.TempDir()
	sc, err := sim.LoadScenario("typical")
	if err != nil {
		t.Fatal(err)
	}
	makeFast(sc)
	b, _ := json.Marshal(sc)
	scPath := filepath.Join(dir, "fast.json")
	os.WriteFile(scPath, b, 0o600)
	epPath := filepath.Join(dir, "ep.json")

	ctx, cancel := context.WithCancel(context.Background())
	serveOut := &syncBuf{}
	served := make(chan int, 1)
	go func() {
		served <- Run(ctx, []string{"sim", "serve", "--scenario", scPath, "--endpoints-out", epPath}, IO{In: strings.NewReader(""), Out: serveOut, Err: serveOut})
	}()
	for i := 0; i < 200; i++ {
		if _, err := os.Stat(epPath); err == nil && strings.Contains(serveOut.String(), "Press ctrl+c") {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	out := &syncBuf{}
	code := Run(context.Background(), []string{"onboard", "--endpoints", epPath, "--tenant", simTenant, "--plain", "--yes",
		"--org", "Contoso Ltd", "--state-dir", filepath.Join(dir, "state"), "--poll-base", "50ms"},
		IO{In: strings.NewReader(""), Out: out, Err: out, Env: func(string) string { return "" }})
	cancel()
	if code != 0 || !strings.Contains(out.String(), "Healthy:") {
		t.Fatalf("onboard through %s: exit %d\n%s\nsim serve said:\n%s", epPath, code, out.String(), serveOut.String())
	}
	select {
	case c := <-served:
		if c != 0 {
			t.Fatalf("sim serve exit %d", c)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("sim serve did not stop on cancel")
	}
}

// The TUI run's screen output (what a screen capture would show) holds no
// secret the simulator issued (issue 3).
func TestTUIScreenHoldsNoSecret(t *testing.T) {
	ts := startSim(t, "typical", nil)
	inR, inW := io.Pipe()
	defer inW.Close()
	out := &syncBuf{}
	done := make(chan int, 1)
	go func() {
		done <- Run(context.Background(), []string{"onboard", "--endpoints", ts.ep, "--state-dir", ts.stateDir, "--yes",
			"--org", "Contoso Ltd", "--poll-base", "50ms"},
			IO{In: inR, Out: out, Err: out, IsTTY: true, Env: func(k string) string {
				if k == "TERM" {
					return "xterm-256color"
				}
				return sshEnv(k)
			}})
	}()
	// The final screen waits for a key once a health probe found the
	// integration healthy (the summary's reads start with the mapping, so
	// the MFA report is not the last request).
	probes := func() int {
		n := 0
		for _, r := range ts.srv.Requests() {
			if r.Method == "GET" && strings.HasPrefix(r.Path, "/platform/v1/integrations/") {
				n++
			}
		}
		return n
	}
	healthyAt := -1
	deadline := time.Now().Add(40 * time.Second)
	for time.Now().Before(deadline) {
		if healthyAt < 0 {
			for _, in := range ts.srv.State().Snapshot().Integrations {
				if in.Status == "healthy" {
					healthyAt = probes()
				}
			}
		} else if probes() > healthyAt {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	io.WriteString(inW, "q")
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, out.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("the TUI did not end:\n%s", out.String())
	}
	screen := out.String()
	if !strings.Contains(screen, "Healthy") {
		t.Fatalf("no Healthy screen:\n%s", screen)
	}
	secrets := ts.srv.IssuedSecrets()
	if len(secrets) < 3 {
		t.Fatalf("only %d secrets issued", len(secrets))
	}
	for _, s := range secrets {
		if len(s) >= 8 && strings.Contains(screen, s) {
			t.Errorf("the screen shows a secret the simulator issued (%.6s…)", s)
		}
	}
}
