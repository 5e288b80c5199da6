package auth

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func noRedirect() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// playBrowser acts as the technician's browser: it requests the authorize
// URL (trusting the fake's certificate) and follows the redirect to the
// local listener.
func (f *fakeIdP) playBrowser(u string) error {
	resp, err := f.srv.Client().Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != 200 {
		return errors.New(resp.Status)
	}
	return nil
}

// redirectLocation requests the authorize URL and returns where the IdP
// redirects the browser, without going there.
func (f *fakeIdP) redirectLocation(t *testing.T, u string) string {
	hc := f.srv.Client()
	hc.CheckRedirect = noRedirect().CheckRedirect
	resp, err := hc.Get(u)
	if err != nil {
		t.Error(err)
		return ""
	}
	resp.Body.Close()
	return resp.Header.Get("Location")
}

func TestDeviceCodeSignInAndSilentTokens(t *testing.T) {
	f := newFakeIdP(t)
	f.pending = 1
	c := f.client(t, nil)
	if _, ok := c.Account(); ok {
		t.Fatal("Account before sign-in")
	}
	if _, err := c.GraphToken(context.Background()); Classify(err).Class != ClassNotSignedIn {
		t.Fatalf("GraphToken before sign-in: %v", err)
	}
	ctx := context.Background()
	dc, err := c.StartDeviceCode(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if dc.UserCode != "ABCD-EFGH" || dc.VerificationURL != "https://microsoft.com/devicelogin" || !strings.Contains(dc.Message, "ABCD-EFGH") {
		t.Fatalf("device code = %v", dc)
	}
	if dc.ExpiresOn.Before(time.Now().Add(10 * time.Minute)) {
		t.Fatalf("ExpiresOn %v too early", dc.ExpiresOn)
	}
	acct, err := c.AwaitDeviceCode(ctx, dc)
	if err != nil {
		t.Fatal(err)
	}
	want := Account{Username: fakeUser, Name: "Contoso Admin", TenantID: fakeTenantID, ObjectID: fakeOID, HomeAccountID: fakeOID + "." + fakeTenantID, HomeTenantID: fakeTenantID}
	if acct != want {
		t.Fatalf("account = %+v, want %+v", acct, want)
	}
	if got, ok := c.Account(); !ok || got != want {
		t.Fatalf("Account() = %+v %v", got, ok)
	}
	before := f.count("POST")
	tok, err := c.GraphToken(ctx)
	if err != nil || !strings.HasPrefix(tok, "AT-1-https://graph.example.test/.default") {
		t.Fatalf("GraphToken = %q, %v", tok, err)
	}
	if f.count("POST") != before {
		t.Fatal("cached Graph token caused a request")
	}
	xt, err := c.ExchangeToken(ctx)
	if err != nil || !strings.Contains(xt, "https://outlook.example.test/.default") {
		t.Fatalf("ExchangeToken = %q, %v", xt, err)
	}
	if len(f.refreshScopes) != 1 || !strings.Contains(f.refreshScopes[0], "https://outlook.example.test/.default") {
		t.Fatalf("refresh scopes %q", f.refreshScopes)
	}
}

func TestExpiredTokenIsRefreshedSilently(t *testing.T) {
	f := newFakeIdP(t)
	f.expiresIn = 120 // below MSAL's 5-minute cache floor: every call refreshes
	c := f.client(t, nil)
	dc, err := c.StartDeviceCode(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AwaitDeviceCode(context.Background(), dc); err != nil {
		t.Fatal(err)
	}
	t1, err := c.GraphToken(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t2, err := c.GraphToken(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if t1 == t2 || f.count("POST /"+fakeTenantID+"/oauth2/v2.0/token refresh_token") < 2 {
		t.Fatalf("tokens %q %q not refreshed (%v)", t1, t2, f.requests)
	}
	// A revoked refresh token becomes "sign in again".
	f.mu.Lock()
	f.refreshErr = stsError(50173, "invalid_grant", "The provided grant has expired due to it being revoked, a fresh auth token is needed.")
	f.mu.Unlock()
	_, err = c.GraphToken(context.Background())
	if e := Classify(err); e == nil || e.Class != ClassRefreshRevoked || e.Code != 50173 || e.Action != "Sign in again." {
		t.Fatalf("revoked refresh: %#v", e)
	}
}

func TestOrganizationsAuthoritySilentToken(t *testing.T) {
	f := newFakeIdP(t)
	c := f.client(t, func(o *Options) { o.Tenant = "" })
	dc, err := c.StartDeviceCode(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	acct, err := c.AwaitDeviceCode(context.Background(), dc)
	if err != nil || acct.TenantID != fakeTenantID {
		t.Fatalf("%+v %v", acct, err)
	}
	if f.count("POST /organizations/oauth2/v2.0/devicecode") != 1 {
		t.Fatalf("requests %v", f.requests)
	}
	if _, err := c.ExchangeToken(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestDeviceCodeFailures(t *testing.T) {
	cases := []struct {
		name    string
		body    string
		class   Class
		code    int
		switch_ bool
	}{
		{"ca-block", stsError(53003, "invalid_grant", "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance."), ClassDeviceCodeBlocked, 53003, true},
		{"security-defaults", stsError(530035, "invalid_grant", "Access has been blocked by security defaults. This is due to the request using legacy auth or being deemed unsafe by security defaults policies."), ClassDeviceCodeBlocked, 530035, true},
		{"declined", `{"error":"authorization_declined","error_description":"AADSTS70000: The user declined the sign-in."}`, ClassDeclined, 70000, false},
		{"expired", stsError(70019, "expired_token", "Verification code expired."), ClassExpired, 70019, false},
		{"mfa", stsError(50076, "invalid_grant", "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '00000003-0000-0000-c000-000000000000'."), ClassMFARequired, 50076, false},
		{"guest", stsError(50020, "invalid_grant", "User account 'tech@msp.example' from identity provider 'live.com' does not exist in tenant 'Contoso' and cannot access the application."), ClassWrongAccountType, 50020, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeIdP(t)
			f.deviceErr = tc.body
			c := f.client(t, nil)
			dc, err := c.StartDeviceCode(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.AwaitDeviceCode(context.Background(), dc)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T %v", err, err)
			}
			if e.Class != tc.class || e.Code != tc.code || e.SwitchToBrowser() != tc.switch_ {
				t.Fatalf("got class %s code %d switch %v", e.Class, e.Code, e.SwitchToBrowser())
			}
			if strings.Contains(err.Error(), secretDevice) || strings.Contains(fmtAll(e), secretDevice) {
				t.Fatal("device code leaked into the error")
			}
			if _, ok := c.Account(); ok {
				t.Fatal("signed in after a failure")
			}
		})
	}
}

func TestDeviceCodeCancelled(t *testing.T) {
	f := newFakeIdP(t)
	f.pending = 100
	c := f.client(t, nil)
	dc, err := c.StartDeviceCode(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for f.count("POST /"+fakeTenantID+"/oauth2/v2.0/token") == 0 {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	_, err = c.AwaitDeviceCode(ctx, dc)
	if e := Classify(err); e.Class != ClassCancelled || !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	if _, err := c.AwaitDeviceCode(context.Background(), DeviceCode{}); err == nil {
		t.Fatal("AwaitDeviceCode accepted a zero DeviceCode")
	}
}

func TestDeviceCodeExpiresUnused(t *testing.T) {
	f := newFakeIdP(t)
	f.pending = 1000
	f.codeLife = 1
	c := f.client(t, nil)
	dc, err := c.StartDeviceCode(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.AwaitDeviceCode(context.Background(), dc)
	e := Classify(err)
	if e == nil || e.Class != ClassExpired || e.Action != "Start the sign-in again to get a new code." {
		t.Fatalf("got %#v", e)
	}
}

func TestStartDeviceCodeUnknownTenant(t *testing.T) {
	f := newFakeIdP(t)
	c := f.client(t, func(o *Options) { o.Tenant = "unknown.example.com" })
	_, err := c.StartDeviceCode(context.Background())
	if e := Classify(err); e == nil || e.Class != ClassTenantNotFound || e.Code != 90002 {
		t.Fatalf("got %#v", e)
	}
}

func TestBrowserSignIn(t *testing.T) {
	f := newFakeIdP(t)
	c := f.client(t, func(o *Options) { o.OpenBrowser = f.playBrowser })
	var prompts []BrowserPrompt
	acct, err := c.SignInBrowser(context.Background(), func(p BrowserPrompt) { prompts = append(prompts, p) })
	if err != nil {
		t.Fatal(err)
	}
	if acct.Username != fakeUser || acct.TenantID != fakeTenantID {
		t.Fatalf("account %+v", acct)
	}
	if len(prompts) != 1 || !prompts[0].Opened || prompts[0].Port == 0 || prompts[0].SSHCommand != "" {
		t.Fatalf("prompts %+v", prompts)
	}
	if f.redirectURI != "http://localhost:"+itoa(prompts[0].Port) {
		t.Fatalf("redirect_uri %q", f.redirectURI)
	}
	for _, p := range []string{"code_challenge=", "code_challenge_method=S256", "state=", "prompt=select_account", "offline_access"} {
		if !strings.Contains(prompts[0].URL, p) {
			t.Errorf("authorize URL lacks %s: %s", p, prompts[0].URL)
		}
	}
	if strings.Contains(prompts[0].URL, "response_mode") {
		t.Errorf("authorize URL asks for form_post: %s", prompts[0].URL)
	}
	if _, err := c.ExchangeToken(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The listener is gone after sign-in.
	if _, err := http.Get("http://127.0.0.1:" + itoa(prompts[0].Port) + "/"); err == nil {
		t.Fatal("redirect listener still open")
	}
}

func TestBrowserSignInPastedRedirectOverSSH(t *testing.T) {
	f := newFakeIdP(t)
	env := map[string]string{"SSH_CONNECTION": "10.0.0.5 51000 10.0.0.9 2222", "USER": "tech"}
	c := f.client(t, func(o *Options) {
		o.Env = func(k string) string { return env[k] }
		o.OpenBrowser = func(string) error { return errors.New("no browser here") }
	})
	errc := make(chan error, 1)
	var prompt BrowserPrompt
	acct, err := c.SignInBrowser(context.Background(), func(p BrowserPrompt) {
		prompt = p
		loc := f.redirectLocation(t, p.URL)
		go func() {
			// validation failures first: none of them may end the flow
			bad := []string{
				"",
				"https://evil.example/?code=x&state=y",
				strings.Replace(loc, "localhost:"+itoa(p.Port), "localhost:1", 1),
				"http://localhost:" + itoa(p.Port) + "/?foo=bar",
				"http://localhost:" + itoa(p.Port) + "/?code=abc&state=wrong-state",
			}
			for _, b := range bad {
				if err := c.DeliverRedirect(context.Background(), b); err == nil {
					errc <- errors.New("accepted " + b)
					return
				} else if strings.Contains(err.Error(), "abc") || strings.Contains(err.Error(), "code=") {
					errc <- errors.New("error repeats the pasted address: " + err.Error())
					return
				}
			}
			// pasted without the scheme, with spaces around it
			errc <- c.DeliverRedirect(context.Background(), "  "+strings.TrimPrefix(loc, "http://")+"\n")
		}()
	})
	if err != nil {
		t.Fatal(err)
	}
	if derr := <-errc; derr != nil {
		t.Fatal(derr)
	}
	if acct.ObjectID != fakeOID {
		t.Fatalf("account %+v", acct)
	}
	if prompt.Opened || prompt.SSHCommand != "ssh -L "+itoa(prompt.Port)+":localhost:"+itoa(prompt.Port)+" -p 2222 tech@10.0.0.9" {
		t.Fatalf("prompt %+v", prompt)
	}
	if err := c.DeliverRedirect(context.Background(), "http://localhost:1/?code=a&state=b"); err == nil || !strings.Contains(err.Error(), "no browser sign-in is waiting") {
		t.Fatalf("DeliverRedirect after sign-in: %v", err)
	}
}

func TestBrowserSignInErrors(t *testing.T) {
	t.Run("declined-consent", func(t *testing.T) {
		f := newFakeIdP(t)
		f.authorizeErr = "error=access_denied&error_description=" + "AADSTS65004: User declined to consent to access the app.\r\nTrace ID: 1234-abcd\r\nCorrelation ID: 5678-ef01"
		c := f.client(t, func(o *Options) { o.OpenBrowser = f.playBrowser })
		_, err := c.SignInBrowser(context.Background(), nil)
		e := Classify(err)
		if e.Class != ClassDeclined || e.Code != 65004 || e.TraceID != "1234-abcd" || e.CorrelationID != "5678-ef01" {
			t.Fatalf("%#v", e)
		}
	})
	t.Run("conditional-access", func(t *testing.T) {
		f := newFakeIdP(t)
		f.tokenErr = stsError(53003, "invalid_grant", "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.")
		c := f.client(t, func(o *Options) { o.OpenBrowser = f.playBrowser })
		_, err := c.SignInBrowser(context.Background(), nil)
		e := Classify(err)
		if e.Class != ClassBlocked || e.Code != 53003 || e.SwitchToBrowser() || !strings.Contains(e.Message, "AADSTS53003") {
			t.Fatalf("%#v", e)
		}
		if strings.Contains(fmtAll(e), secretCode) {
			t.Fatal("auth code leaked")
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		f := newFakeIdP(t)
		ctx, cancel := context.WithCancel(context.Background())
		c := f.client(t, func(o *Options) { o.OpenBrowser = func(string) error { return nil } })
		_, err := c.SignInBrowser(ctx, func(BrowserPrompt) { cancel() })
		if Classify(err).Class != ClassCancelled {
			t.Fatalf("%v", err)
		}
	})
	t.Run("one-at-a-time", func(t *testing.T) {
		f := newFakeIdP(t)
		c := f.client(t, func(o *Options) { o.OpenBrowser = func(string) error { return nil } })
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		started := make(chan struct{})
		go func() {
			_, err := c.SignInBrowser(ctx, func(BrowserPrompt) { close(started) })
			done <- err
		}()
		<-started
		if _, err := c.SignInBrowser(context.Background(), nil); err == nil {
			t.Error("second browser sign-in started")
		}
		cancel()
		<-done
	})
}

func TestFileCacheSurvivesRestartAndSignOut(t *testing.T) {
	f := newFakeIdP(t)
	dir := filepath.Join(t.TempDir(), "state")
	mod := func(o *Options) { o.Cache = CacheFile; o.StateDir = dir }
	c := f.client(t, mod)
	dc, err := c.StartDeviceCode(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AwaitDeviceCode(context.Background(), dc); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, CacheFileName)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("cache mode %v", st.Mode().Perm())
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "*.tmp"))
	if len(matches) != 0 {
		t.Fatalf("temp files left: %v", matches)
	}

	// A new process (new Client) finds the account and signs in silently.
	c2 := f.client(t, mod)
	before := f.count("POST")
	acct, ok := c2.Account()
	if !ok || acct.Username != fakeUser {
		t.Fatalf("restored account %+v %v", acct, ok)
	}
	if _, err := c2.GraphToken(context.Background()); err != nil {
		t.Fatal(err)
	}
	if f.count("POST") != before {
		t.Fatal("restored Graph token needed a request")
	}
	if err := c2.SignOut(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("cache file still there: %v", err)
	}
	if _, ok := c2.Account(); ok {
		t.Fatal("still signed in after SignOut")
	}
	if _, err := c2.GraphToken(context.Background()); Classify(err).Class != ClassNotSignedIn {
		t.Fatalf("GraphToken after SignOut: %v", err)
	}
	// A different tenant ignores the saved account.
	c3 := f.client(t, func(o *Options) { mod(o); o.Tenant = "99999999-2222-3333-4444-555555555555" })
	if _, ok := c3.Account(); ok {
		t.Fatal("account from another tenant restored")
	}
}

func TestMemorySignOut(t *testing.T) {
	f := newFakeIdP(t)
	c := f.client(t, nil)
	dc, _ := c.StartDeviceCode(context.Background())
	if _, err := c.AwaitDeviceCode(context.Background(), dc); err != nil {
		t.Fatal(err)
	}
	if err := c.SignOut(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Account(); ok {
		t.Fatal("signed in after SignOut")
	}
}

func TestNewOptions(t *testing.T) {
	f := newFakeIdP(t)
	if _, err := New(Options{Endpoints: f.endpoints(), Cache: CacheKeyring}); !errors.Is(err, ErrKeyringUnavailable) {
		t.Fatalf("keyring: %v", err)
	}
	if _, err := New(Options{Endpoints: f.endpoints(), Cache: CacheFile}); err == nil || !strings.Contains(err.Error(), "state directory") {
		t.Fatalf("file without dir: %v", err)
	}
	if _, err := New(Options{Endpoints: f.endpoints(), Cache: "disk"}); err == nil || !strings.Contains(err.Error(), "--token-cache") {
		t.Fatalf("bad cache: %v", err)
	}
	if _, err := New(Options{Endpoints: f.endpoints(), Tenant: "not a tenant"}); err == nil || !strings.Contains(err.Error(), "--tenant") {
		t.Fatalf("bad tenant: %v", err)
	}
	for in, want := range map[string]CacheMode{"": CacheMemory, "memory": CacheMemory, "FILE": CacheFile} {
		if got, err := ParseCacheMode(in); err != nil || got != want {
			t.Errorf("ParseCacheMode(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseCacheMode("keyring"); !errors.Is(err, ErrKeyringUnavailable) || !strings.Contains(err.Error(), "--token-cache keyring") {
		t.Errorf("ParseCacheMode(keyring) = %v", err)
	}
}
