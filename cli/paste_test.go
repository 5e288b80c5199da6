package cli

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Over SSH with no port forward, a technician opens the printed URL on
// their own machine, signs in, and pastes the localhost URL the browser
// ends on into the line front-end; the wizard completes the sign-in with it.
func TestPlainBrowserSignInWithPastedRedirect(t *testing.T) {
	ts := startSim(t, "ready", nil)
	inR, inW := io.Pipe()
	defer inW.Close()
	out := &syncBuf{}
	done := make(chan int, 1)
	go func() {
		args := []string{"onboard", "--endpoints", ts.ep, "--state-dir", ts.stateDir, "--plain", "--yes",
			"--org", "Contoso Ltd", "--auth", "browser", "--poll-base", "50ms"}
		done <- Run(context.Background(), args, IO{In: inR, Out: out, Err: out, IsTTY: true, Env: sshEnv})
	}()
	// The "browser": wait for the authorize URL, sign in at the simulator,
	// and take the redirect without following it to localhost.
	urlRe := regexp.MustCompile(`https://127\.0\.0\.1:\d+/\S+/oauth2/v2\.0/authorize\S+`)
	var authorize string
	deadline := time.Now().Add(20 * time.Second)
	for authorize == "" && time.Now().Before(deadline) {
		authorize = urlRe.FindString(out.String())
		time.Sleep(20 * time.Millisecond)
	}
	if authorize == "" {
		t.Fatalf("no authorize URL printed:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "paste here the URL") || !strings.Contains(out.String(), "ssh -L") {
		t.Fatalf("the paste instruction is missing:\n%s", out.String())
	}
	hc := &http.Client{
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ts.srv.HTTPClient().Transport.(*http.Transport).TLSClientConfig.RootCAs}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := hc.Get(authorize)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	landed := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(landed, "http://localhost:") || !strings.Contains(landed, "code=") {
		t.Fatalf("authorize answered %d, Location %q", resp.StatusCode, landed)
	}
	// A wrong paste first: it is refused and the wizard keeps waiting.
	io.WriteString(inW, "http://example.com/not-it\n")
	io.WriteString(inW, landed+"\n")
	select {
	case code := <-done:
		if code != 0 || !strings.Contains(out.String(), "did not complete the sign-in") || !strings.Contains(out.String(), "Healthy:") {
			t.Fatalf("exit %d\n%s", code, out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the wizard did not finish:\n%s", out.String())
	}
	if strings.Contains(out.String(), landed) {
		t.Error("the pasted URL (it carries the authorization code) was echoed back")
	}
}
