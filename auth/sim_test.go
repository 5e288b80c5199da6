package auth

import (
	"context"
	"strings"
	"sync"
	"testing"

	"itdr-onboard/internal/testsim"
	"itdr-onboard/sim"
)

func startSim(t *testing.T, mod func(*sim.Scenario)) *sim.Server {
	return startSimScenario(t, "ready", mod)
}

func startSimScenario(t *testing.T, name string, mod func(*sim.Scenario)) *sim.Server {
	t.Helper()
	return testsim.Start(t, name, func(sc *sim.Scenario) {
		sc.SignIn.ApproveDelay = 0
		if mod != nil {
			mod(sc)
		}
	})
}

func simClient(t *testing.T, srv *sim.Server, mod func(*Options)) *Client {
	t.Helper()
	return newTestClient(t, Options{
		Endpoints:  srv.Endpoints(),
		Tenant:     srv.TenantID(),
		HTTPClient: srv.HTTPClient(),
		Env:        func(string) string { return "" },
	}, mod)
}

func TestSimDeviceCodeAndExchangeToken(t *testing.T) {
	srv := startSim(t, nil)
	c := simClient(t, srv, nil)
	ctx := context.Background()
	dc, err := c.StartDeviceCode(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if dc.UserCode == "" || dc.VerificationURL == "" {
		t.Fatalf("device code %v", dc)
	}
	acct, err := c.AwaitDeviceCode(ctx, dc)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.EqualFold(acct.TenantID, srv.TenantID()) || acct.Username == "" || acct.ObjectID == "" {
		t.Fatalf("account %+v", acct)
	}
	g, err := c.GraphToken(ctx)
	if err != nil || g == "" {
		t.Fatalf("graph token: %v", err)
	}
	x, err := c.ExchangeToken(ctx)
	if err != nil || x == "" || x == g {
		t.Fatalf("exchange token: %v", err)
	}
}

func TestSimBrowserSignIn(t *testing.T) {
	srv := startSim(t, nil)
	c := simClient(t, srv, func(o *Options) {
		o.OpenBrowser = func(u string) error { return srv.PlayBrowser(context.Background(), u) }
	})
	var prompt BrowserPrompt
	acct, err := c.SignInBrowser(context.Background(), func(p BrowserPrompt) { prompt = p })
	if err != nil {
		t.Fatal(err)
	}
	if !prompt.Opened || prompt.Port == 0 || !strings.EqualFold(acct.TenantID, srv.TenantID()) {
		t.Fatalf("prompt %+v account %+v", prompt, acct)
	}
	if _, err := c.ExchangeToken(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestSimDeviceCodeBlocked(t *testing.T) {
	for block, code := range map[string]int{"device-code-ca": 53003, "security-defaults": 530035} {
		t.Run(block, func(t *testing.T) {
			srv := startSim(t, func(sc *sim.Scenario) { sc.SignIn.Block = block })
			c := simClient(t, srv, nil)
			dc, err := c.StartDeviceCode(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.AwaitDeviceCode(context.Background(), dc)
			e := Classify(err)
			if e == nil || e.Class != ClassDeviceCodeBlocked || e.Code != code || !e.SwitchToBrowser() {
				t.Fatalf("got %#v", e)
			}
			// the switch works: browser sign-in succeeds in the same tenant
			c2 := simClient(t, srv, func(o *Options) {
				o.OpenBrowser = func(u string) error { return srv.PlayBrowser(context.Background(), u) }
			})
			if _, err := c2.SignInBrowser(context.Background(), nil); err != nil {
				t.Fatalf("browser after block: %v", err)
			}
		})
	}
}

func TestSimResolveTenant(t *testing.T) {
	srv := startSim(t, nil)
	sc := srv.Scenario()
	info, err := ResolveTenant(context.Background(), srv.HTTPClient(), srv.Endpoints(), sc.Tenant.InitialDomain)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.EqualFold(info.ID, srv.TenantID()) {
		t.Fatalf("%+v", info)
	}
	_, err = ResolveTenant(context.Background(), srv.HTTPClient(), srv.Endpoints(), "no-such-tenant.example.com")
	if e := Classify(err); e == nil || e.Class != ClassTenantNotFound {
		t.Fatalf("unknown tenant: %v", err)
	}
}

func simDeviceSignIn(t *testing.T, c *Client) (Account, error) {
	t.Helper()
	dc, err := c.StartDeviceCode(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c.AwaitDeviceCode(context.Background(), dc)
}

func TestSimMFARequired(t *testing.T) {
	srv := startSimScenario(t, "mfa-required", nil)
	_, err := simDeviceSignIn(t, simClient(t, srv, nil))
	if e := Classify(err); e == nil || e.Class != ClassMFARequired || e.Code != 50076 || !strings.Contains(e.Action, "--auth browser") {
		t.Fatalf("got %#v", e)
	}
	c := simClient(t, srv, func(o *Options) {
		o.OpenBrowser = func(u string) error { return srv.PlayBrowser(context.Background(), u) }
	})
	if _, err := c.SignInBrowser(context.Background(), nil); err != nil {
		t.Fatalf("browser sign-in with MFA: %v", err)
	}
}

func TestSimWrongTenantAccountIsVisible(t *testing.T) {
	srv := startSimScenario(t, "wrong-tenant", func(sc *sim.Scenario) { sc.SignIn.ApproveDelay = 0 })
	acct, err := simDeviceSignIn(t, simClient(t, srv, nil))
	if err != nil {
		t.Fatal(err)
	}
	if acct.TenantID != "8d2b6a3c-51f4-4e7a-b0c9-2e3f4a5b6c7d" || acct.HomeTenantID != acct.TenantID {
		t.Fatalf("account %+v: the home tenant must be reported", acct)
	}
}

func TestSimShortTokensRefresh(t *testing.T) {
	srv := startSimScenario(t, "short-tokens", func(sc *sim.Scenario) { sc.SignIn.ApproveDelay = 0 })
	c := simClient(t, srv, nil)
	if _, err := simDeviceSignIn(t, c); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i := 0; i < 3; i++ {
		tok, err := c.GraphToken(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		seen[tok] = true
		if _, err := c.ExchangeToken(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if len(seen) != 3 {
		t.Fatalf("short-lived tokens were not refreshed: %d distinct", len(seen))
	}
}

// Checks started side by side after sign-in all ask for the Exchange token
// at once: one token request goes out, the others are served from MSAL's
// cache.
func TestSimConcurrentExchangeTokensShareOneRequest(t *testing.T) {
	srv := startSim(t, nil)
	c := simClient(t, srv, nil)
	ctx := context.Background()
	dc, err := c.StartDeviceCode(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AwaitDeviceCode(ctx, dc); err != nil {
		t.Fatal(err)
	}
	tokens := func() int {
		n := 0
		for _, r := range srv.Requests() {
			if r.Method == "POST" && strings.HasSuffix(r.Path, "/oauth2/v2.0/token") {
				n++
			}
		}
		return n
	}
	before := tokens()
	var wg sync.WaitGroup
	got := make([]string, 4)
	errs := make([]error, 4)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = c.ExchangeToken(ctx)
		}()
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil || got[i] == "" || got[i] != got[0] {
			t.Fatalf("caller %d: %q, %v (first %q)", i, got[i], errs[i], got[0])
		}
	}
	if n := tokens() - before; n != 1 {
		t.Fatalf("%d token requests for 4 concurrent Exchange token calls, want 1", n)
	}
}
