package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/public"
)

// BrowserPrompt is what the UI shows while a browser sign-in waits.
type BrowserPrompt struct {
	// URL is the authorize URL to open (it carries no secret: only the
	// PKCE challenge and the state).
	URL string
	// Port is the local redirect port (http://localhost:PORT).
	Port int
	// Opened says a browser was launched on this machine.
	Opened bool
	// SSHCommand, over SSH when no browser was opened, is the port forward
	// to run on the technician's own computer.
	SSHCommand string
}

// browserFlow is one waiting browser sign-in: its local listener and state.
type browserFlow struct {
	port   int
	state  string
	result chan redirectResult
	once   sync.Once
	done   chan struct{} // closed once a result was delivered
}

type redirectResult struct {
	code string
	err  error
}

func randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// SignInBrowser runs the authorization code flow with PKCE (S256) through
// MSAL: it listens on http://localhost:PORT, builds the authorize URL, opens
// the browser (or not, when headless), calls onPrompt once, and blocks until
// the redirect arrives (from the browser, or from DeliverRedirect), then
// redeems the code. The redirect is accepted as a query (GET) or a form post.
func (c *Client) SignInBrowser(ctx context.Context, onPrompt func(BrowserPrompt)) (Account, error) {
	flow, stop, err := c.startListener()
	if err != nil {
		return Account{}, err
	}
	defer stop()

	verifier, err := randomString(32)
	if err != nil {
		return Account{}, fmt.Errorf("auth: %w", err)
	}
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	redirectURI := "http://localhost:" + strconv.Itoa(flow.port)
	scopes := append(strings.Fields(c.scopes.graph), "openid", "offline_access", "profile")

	authURL, err := c.pca.AuthCodeURL(ctx, c.clientID, redirectURI, scopes)
	if err != nil {
		return Account{}, Classify(err)
	}
	u, err := url.Parse(authURL)
	if err != nil {
		return Account{}, fmt.Errorf("auth: authorize URL: %w", err)
	}
	q := u.Query()
	q.Set("state", flow.state)
	q.Set("code_challenge", challenge)
	q.Set("code_challenge_method", "S256")
	q.Set("prompt", "select_account")
	q.Del("response_mode") // the default for code is query, so a pasted URL carries it
	u.RawQuery = q.Encode()
	authURL = u.String()

	prompt := BrowserPrompt{URL: authURL, Port: flow.port}
	env := c.opt.Env
	switch {
	case c.opt.OpenBrowser != nil:
		prompt.Opened = c.opt.OpenBrowser(authURL) == nil
	case !headless(env, runtime.GOOS):
		prompt.Opened = openBrowser(authURL) == nil
	}
	if !prompt.Opened && OverSSH(env) {
		prompt.SSHCommand = SSHForwardCommand(env, flow.port)
	}
	if onPrompt != nil {
		onPrompt(prompt)
	}

	var res redirectResult
	select {
	case <-ctx.Done():
		return Account{}, Classify(ctx.Err())
	case res = <-flow.result:
	}
	if res.err != nil {
		return Account{}, browserError(res.err)
	}
	ar, err := c.pca.AcquireTokenByAuthCode(ctx, res.code, redirectURI, strings.Fields(c.scopes.graph),
		public.WithChallenge(verifier))
	if err != nil {
		return Account{}, browserError(err)
	}
	return c.signedInWith(ar), nil
}

// browserError classifies a browser sign-in failure: a Conditional Access
// block here is not a device-code problem, so there is nothing to switch to.
func browserError(err error) *Error {
	e := Classify(err)
	if e.Class == ClassDeviceCodeBlocked {
		e.apply(ruleBrowserCA, "")
	}
	return e
}

// startListener opens the loopback redirect listener (127.0.0.1 and, when
// possible, ::1 on the same port) and registers the flow.
func (c *Client) startListener() (*browserFlow, func(), error) {
	c.mu.Lock()
	busy := c.browser != nil
	c.mu.Unlock()
	if busy {
		return nil, nil, errors.New("auth: a browser sign-in is already waiting")
	}
	state, err := randomString(24)
	if err != nil {
		return nil, nil, fmt.Errorf("auth: %w", err)
	}
	l4, err := net.Listen("tcp4", "127.0.0.1:"+strconv.Itoa(c.opt.RedirectPort))
	if err != nil {
		return nil, nil, fmt.Errorf("auth: cannot listen for the browser redirect on localhost:%d: %w", c.opt.RedirectPort, err)
	}
	port := l4.Addr().(*net.TCPAddr).Port
	listeners := []net.Listener{l4}
	if l6, err := net.Listen("tcp6", "[::1]:"+strconv.Itoa(port)); err == nil {
		listeners = append(listeners, l6)
	}
	flow := &browserFlow{port: port, state: state, result: make(chan redirectResult, 1), done: make(chan struct{})}
	srv := &http.Server{Handler: flow, ReadHeaderTimeout: 10 * time.Second}
	for _, l := range listeners {
		go func(l net.Listener) { _ = srv.Serve(l) }(l)
	}
	c.mu.Lock()
	if c.browser != nil {
		c.mu.Unlock()
		_ = srv.Close()
		return nil, nil, errors.New("auth: a browser sign-in is already waiting")
	}
	c.browser = flow
	c.mu.Unlock()
	stop := func() {
		c.mu.Lock()
		if c.browser == flow {
			c.browser = nil
		}
		c.mu.Unlock()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			_ = srv.Close()
		}
	}
	return flow, stop, nil
}

const pageDone = `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Sign-in complete</title></head>
<body><p>Sign-in complete. You can close this tab and return to itdr-onboard.</p></body></html>`

const pageFailed = `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Sign-in failed</title></head>
<body><p>Sign-in did not complete. Return to itdr-onboard for the details.</p></body></html>`

// ServeHTTP receives the redirect: GET with a query or POST with a form.
func (f *browserFlow) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	if r.URL.Path != "/" && r.URL.Path != "" {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if !isLoopbackHost(r.Host) {
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	state, code, oerr := r.Form.Get("state"), r.Form.Get("code"), r.Form.Get("error")
	if code == "" && oerr == "" {
		http.Error(w, "This address is only for the itdr-onboard sign-in redirect.", http.StatusBadRequest)
		return
	}
	if subtle.ConstantTimeCompare([]byte(state), []byte(f.state)) != 1 {
		http.Error(w, "This sign-in response belongs to a different sign-in attempt.", http.StatusBadRequest)
		return
	}
	delivered := false
	f.once.Do(func() {
		delivered = true
		if oerr != "" {
			f.result <- redirectResult{err: &redirectError{OAuthError: oerr, Description: r.Form.Get("error_description")}}
		} else {
			f.result <- redirectResult{code: code}
		}
		close(f.done)
	})
	if !delivered {
		http.Error(w, "This sign-in already received its response.", http.StatusConflict)
		return
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	if oerr != "" {
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, pageFailed)
		return
	}
	_, _ = io.WriteString(w, pageDone)
}

func isLoopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	return strings.EqualFold(host, "localhost") || host == "127.0.0.1" || host == "::1"
}

// DeliverRedirect completes a waiting browser sign-in with the address the
// browser ended on (http://localhost:PORT/?code=…&state=…), pasted by the
// technician when the browser runs on another computer. The wizard requests
// that address on its own listener, so no port forward is needed. Errors
// never repeat the pasted address.
func (c *Client) DeliverRedirect(ctx context.Context, pasted string) error {
	c.mu.Lock()
	flow := c.browser
	c.mu.Unlock()
	if flow == nil {
		return errors.New("no browser sign-in is waiting for a redirect; start the browser sign-in first")
	}
	s := strings.TrimSpace(pasted)
	if s == "" {
		return errors.New("paste the full address from the browser's address bar (it starts with http://localhost)")
	}
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("that is not a web address; paste the full address from the browser's address bar")
	}
	if u.Scheme != "http" || !isLoopbackHost(u.Host) {
		return errors.New("that address is not a localhost sign-in redirect; paste the address that starts with http://localhost")
	}
	if p := u.Port(); p != "" && p != strconv.Itoa(flow.port) {
		return fmt.Errorf("that address is for port %s, but this sign-in listens on port %d; paste the address from the latest sign-in", p, flow.port)
	}
	q := u.Query()
	if q.Get("code") == "" && q.Get("error") == "" {
		return errors.New("that address has no sign-in result (no code or error in it); finish the sign-in in the browser, then paste the address it ends on")
	}
	if q.Get("state") == "" {
		return errors.New("that address has no state value; paste the complete address")
	}
	select {
	case <-flow.done:
		return errors.New("this sign-in already received its response")
	default:
	}
	target := "http://127.0.0.1:" + strconv.Itoa(flow.port) + "/?" + u.RawQuery
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return errors.New("could not build the redirect request")
	}
	hc := &http.Client{
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
		Timeout:   30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return Classify(ctx.Err())
		}
		return fmt.Errorf("could not reach the local sign-in listener on port %d", flow.port)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch resp.StatusCode {
	case http.StatusOK:
		return nil
	case http.StatusConflict:
		return errors.New("this sign-in already received its response")
	case http.StatusBadRequest:
		return errors.New("that address belongs to a different sign-in attempt; paste the address from the latest sign-in")
	}
	return fmt.Errorf("the local sign-in listener answered HTTP %d", resp.StatusCode)
}

// openBrowser launches the platform's URL opener without waiting for it and
// without connecting its output to the terminal.
func openBrowser(u string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", u)
	case "darwin":
		cmd = exec.Command("open", u)
	default:
		path, err := exec.LookPath("xdg-open")
		if err != nil {
			return err
		}
		cmd = exec.Command(path, u)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }()
	return nil
}
