package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"itdr-onboard/sim"
)

// browserTestDir is the Node project that holds playwright-core
// (scripts/browser-test, installed by scripts/install-browser.sh).
const browserTestDir = "../scripts/browser-test"

// browserPrereqs finds Chromium, Node and playwright-core, or says exactly
// what is missing and how to install it. With ITDR_REQUIRE_BROWSER=1 (set by
// .ci/run, which installs them) a missing piece fails the test instead.
func browserPrereqs(t *testing.T) (chromium, node string) {
	t.Helper()
	missing := func(what string) {
		msg := what + "; install it with scripts/install-browser.sh (Debian's chromium and playwright-core from npm)"
		if os.Getenv("ITDR_REQUIRE_BROWSER") == "1" {
			t.Fatal(msg + " — ITDR_REQUIRE_BROWSER=1 forbids skipping")
		}
		t.Skip(msg)
	}
	chromium = os.Getenv("ITDR_CHROMIUM")
	if chromium == "" {
		p, err := exec.LookPath("chromium")
		if err != nil {
			missing("chromium is not installed (no chromium on PATH)")
		}
		chromium = p
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not installed (no node on PATH)")
	}
	if _, err := os.Stat(filepath.Join(browserTestDir, "node_modules", "playwright-core", "package.json")); err != nil {
		missing("playwright-core is not installed in scripts/browser-test/node_modules")
	}
	return chromium, node
}

// leafSPKIHash is the base64 SHA-256 of the certificate key the simulator
// presents, verified against the simulator's own CA first.
//
// Why not trust the CA in Chromium instead: Chromium on Linux reads trust
// anchors from an NSS database under $HOME (~/.pki/nssdb), which needs
// certutil (another Debian package) and a redirected HOME for the browser.
// Why not --ignore-certificate-errors: that accepts any certificate at all.
// --ignore-certificate-errors-spki-list accepts only this one key, for this
// one throw-away profile, which is as narrow as the CA for a loopback test.
func leafSPKIHash(t *testing.T, srv *sim.Server) string {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(srv.Endpoints().CACertPEM)) {
		t.Fatal("simulator CA PEM does not parse")
	}
	u, err := url.Parse(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.Dial("tcp", u.Host, &tls.Config{RootCAs: pool, ServerName: u.Hostname(), NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatalf("TLS to the simulator: %v", err)
	}
	defer conn.Close()
	sum := sha256.Sum256(conn.ConnectionState().PeerCertificates[0].RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// browserSaw is what scripts/browser-test/devicelogin.mjs reports.
type browserSaw struct {
	Focused bool `json:"focused"`
	Steps   []struct {
		Step       string `json:"step"`
		Status     int    `json:"status"`
		Title      string `json:"title"`
		Heading    string `json:"heading"`
		Result     string `json:"result"`
		ResultRole string `json:"resultRole"`
		Invalid    string `json:"invalid"`
		FormGone   bool   `json:"formGone"`
	} `json:"steps"`
	Screenshot string `json:"screenshot"`
}

var signInLine = regexp.MustCompile(`To sign in, open (https://\S+) and enter the code (\S+)`)

// TestDeviceLoginInHeadlessChromium: the wizard asks for a device-code
// sign-in that the simulator will not approve on its own; headless Chromium
// opens the URL the wizard printed, types a wrong code (the page says so),
// then the code the wizard printed, and sees the success page; the wizard
// then signs in and finishes Healthy.
func TestDeviceLoginInHeadlessChromium(t *testing.T) {
	chromium, node := browserPrereqs(t)

	sc, err := sim.LoadScenario("typical")
	if err != nil {
		t.Fatal(err)
	}
	no := false
	sc.SignIn.AutoApprove = &no // only the page can approve the code
	sc.Platform.HealthyAfter = sim.Duration(200 * time.Millisecond)
	srv, err := sim.Start(sc, sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	dir := t.TempDir()
	ep := filepath.Join(dir, "endpoints.json")
	if err := srv.Endpoints().Save(ep); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// The wizard, its stdout read line by line while it runs.
	pr, pw := io.Pipe()
	var errb browserBuf
	done := make(chan int, 1)
	go func() {
		code := Run(ctx, []string{"onboard", "--endpoints", ep, "--state-dir", filepath.Join(dir, "state"), "--poll-base", "100ms",
			"--auth", "device", "--plain", "--yes", "--org", "Contoso Ltd"},
			IO{In: strings.NewReader(""), Out: pw, Err: &errb, Env: sshEnv})
		pw.Close()
		done <- code
	}()
	lines := make(chan string, 256)
	var out browserBuf
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			out.Write([]byte(sc.Text() + "\n"))
			lines <- sc.Text()
		}
		_, _ = io.Copy(io.Discard, pr)
	}()

	var verifyURL, userCode string
	for verifyURL == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("wizard ended without printing a code (exit %d)\n%s\n%s", <-done, out.String(), errb.String())
			}
			if m := signInLine.FindStringSubmatch(l); m != nil {
				verifyURL, userCode = m[1], m[2]
			}
		case <-ctx.Done():
			t.Fatalf("no code printed\n%s", out.String())
		}
	}
	go func() { // keep draining so the wizard never blocks on stdout
		for range lines {
		}
	}()
	if want := srv.URL() + "/devicelogin"; verifyURL != want {
		t.Fatalf("wizard printed %q, want the simulator's page %q", verifyURL, want)
	}

	shots := os.Getenv("ITDR_BROWSER_SCREENSHOTS") // keep screenshots for a look
	if shots == "" {
		shots = t.TempDir()
	}
	cfg, _ := json.Marshal(map[string]string{
		"url": verifyURL, "code": userCode, "spki": leafSPKIHash(t, srv), "chromium": chromium,
		"userDataDir": t.TempDir(), "screenshotDir": shots,
	})
	bctx, bcancel := context.WithTimeout(ctx, 20*time.Second)
	defer bcancel()
	cmd := exec.CommandContext(bctx, node, "devicelogin.mjs", string(cfg))
	cmd.Dir = browserTestDir
	cmd.Env = append(os.Environ(), "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1")
	var berr strings.Builder
	cmd.Stderr = &berr
	bout, err := cmd.Output()
	if err != nil {
		t.Fatalf("browser run failed: %v\nstderr:\n%s\nstdout:\n%s", err, berr.String(), bout)
	}
	var saw browserSaw
	if err := json.Unmarshal(lastLine(bout), &saw); err != nil {
		t.Fatalf("browser report: %v\n%s", err, bout)
	}
	t.Logf("browser saw: %s", lastLine(bout))

	if len(saw.Steps) != 3 {
		t.Fatalf("browser steps %+v", saw.Steps)
	}
	open, wrong, right := saw.Steps[0], saw.Steps[1], saw.Steps[2]
	if open.Status != 200 || open.Title != "Enter code" {
		t.Errorf("open: status %d title %q", open.Status, open.Title)
	}
	if !saw.Focused {
		t.Error("the code box does not have focus when the page opens")
	}
	if !strings.Contains(wrong.Result, "didn't work") || wrong.ResultRole != "alert" || wrong.Invalid != "true" || wrong.Title != "Enter code" {
		t.Errorf("wrong code: %+v", wrong)
	}
	upn := "admin@contoso.onmicrosoft.com"
	for _, u := range sc.Users {
		if u.SignsIn {
			upn = u.UPN
		}
	}
	if right.Heading != "You're signed in" || !strings.Contains(right.Result, upn) || right.ResultRole != "status" || !right.FormGone {
		t.Errorf("right code: %+v", right)
	}
	if st, err := os.Stat(saw.Screenshot); err != nil || st.Size() == 0 {
		t.Errorf("screenshot %q: %v", saw.Screenshot, err)
	}

	var code int
	select {
	case code = <-done:
	case <-ctx.Done():
		t.Fatalf("wizard did not finish after the browser approved the code\n%s", out.String())
	}
	if code != 0 {
		t.Fatalf("wizard exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "Healthy:") {
		t.Fatalf("no Healthy line:\n%s", out.String())
	}

	// The simulator saw the page used as above: one GET, a refused POST,
	// an accepted POST, and only then a device-code token grant succeeded.
	var gets, posts []int
	approvedAt := -1
	tokenOKAfter := false
	for i, r := range srv.Requests() {
		if r.Path == "/devicelogin" {
			if r.Method == "GET" {
				gets = append(gets, r.Status)
			} else if r.Method == "POST" {
				posts = append(posts, r.Status)
				if r.Status == 200 {
					approvedAt = i
				}
			}
		}
		if strings.HasSuffix(r.Path, "/oauth2/v2.0/token") && r.Status == 200 && approvedAt >= 0 {
			tokenOKAfter = true
		}
	}
	if len(gets) != 1 || len(posts) != 2 || posts[0] != 400 || posts[1] != 200 || !tokenOKAfter {
		t.Errorf("simulator saw GET %v, POST %v, token granted after approval: %v", gets, posts, tokenOKAfter)
	}
}

func lastLine(b []byte) []byte {
	s := strings.TrimSpace(string(b))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return []byte(s)
}

// browserBuf is a bytes.Buffer safe for the wizard's goroutine and the test.
type browserBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *browserBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *browserBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
