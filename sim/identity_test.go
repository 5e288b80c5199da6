package sim

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/public"
)

// simTestScenario is the typical scenario with instant approval, modified by mod.
func simTestScenario(t *testing.T, mod func(*Scenario)) *Scenario {
	t.Helper()
	sc, err := LoadScenario("typical")
	if err != nil {
		t.Fatal(err)
	}
	sc.SignIn.ApproveDelay = 0
	if mod != nil {
		mod(sc)
	}
	return sc
}

func simTestStart(t *testing.T, sc *Scenario, opt Options) *Server {
	t.Helper()
	srv, err := Start(sc, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func simMSAL(t *testing.T, srv *Server, tenant string) public.Client {
	t.Helper()
	ep := srv.Endpoints()
	c, err := public.New(ep.ClientID, public.WithAuthority(ep.Authority+"/"+tenant), public.WithHTTPClient(srv.HTTPClient()), public.WithInstanceDiscovery(false))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func simClaims(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMSALDeviceCodeThenSilentExchange(t *testing.T) {
	srv := simTestStart(t, simTestScenario(t, nil), Options{})
	ep := srv.Endpoints()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, tenant := range []string{srv.TenantID(), "contoso.onmicrosoft.com", "organizations"} {
		t.Run(tenant, func(t *testing.T) {
			c := simMSAL(t, srv, tenant)
			dc, err := c.AcquireTokenByDeviceCode(ctx, []string{ep.GraphScope()})
			if err != nil {
				t.Fatal(err)
			}
			if len(dc.Result.UserCode) != 9 || dc.Result.UserCode[4] != '-' {
				t.Errorf("user code %q, want XXXX-XXXX", dc.Result.UserCode)
			}
			if dc.Result.VerificationURL != ep.Authority+"/devicelogin" {
				t.Errorf("verification uri %q", dc.Result.VerificationURL)
			}
			if !strings.Contains(dc.Result.Message, dc.Result.UserCode) || !strings.HasPrefix(dc.Result.Message, "To sign in, use a web browser to open the page ") {
				t.Errorf("message %q", dc.Result.Message)
			}
			res, err := dc.AuthenticationResult(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if res.Account.PreferredUsername != "admin@contoso.onmicrosoft.com" || !strings.HasSuffix(res.Account.HomeAccountID, "."+srv.TenantID()) {
				t.Errorf("account %+v", res.Account)
			}
			cl := simClaims(t, res.AccessToken)
			if cl["aud"] != "https://graph.microsoft.com" || cl["tid"] != srv.TenantID() || cl["upn"] != "admin@contoso.onmicrosoft.com" {
				t.Errorf("graph claims %v", cl)
			}
			p, ok := srv.Tokens().Lookup("Bearer " + res.AccessToken)
			if !ok || p.Audience != "https://graph.microsoft.com" || p.ObjectID != ObjectIDFor(srv.TenantID(), "admin@contoso.onmicrosoft.com") {
				t.Fatalf("token store: %v %v", p, ok)
			}
			before := len(srv.Requests())
			ex, err := c.AcquireTokenSilent(ctx, []string{ep.ExchangeScope()}, public.WithSilentAccount(res.Account))
			if err != nil {
				t.Fatal(err)
			}
			if got := simClaims(t, ex.AccessToken)["aud"]; got != "https://outlook.office365.com" {
				t.Errorf("exchange aud %v", got)
			}
			if p, ok := srv.Tokens().Lookup(ex.AccessToken); !ok || p.Audience != "https://outlook.office365.com" {
				t.Errorf("exchange token not in store")
			}
			// The Exchange token came from a refresh grant (one token request).
			var tokenReqs int
			for _, r := range srv.Requests()[before:] {
				if strings.HasSuffix(r.Path, "/oauth2/v2.0/token") {
					tokenReqs++
				}
			}
			if tokenReqs != 1 {
				t.Errorf("silent exchange made %d token requests, want 1", tokenReqs)
			}
			// A second silent Graph call is served from MSAL's cache.
			g2, err := c.AcquireTokenSilent(ctx, []string{ep.GraphScope()}, public.WithSilentAccount(res.Account))
			if err != nil || g2.AccessToken != res.AccessToken {
				t.Errorf("silent graph: %v", err)
			}
		})
	}
}

func TestMSALInteractiveWithPlayBrowser(t *testing.T) {
	// Browser sign-in works even where device code is blocked.
	for _, block := range []string{"", "device-code-ca", "mfa-required"} {
		t.Run("block="+block, func(t *testing.T) {
			srv := simTestStart(t, simTestScenario(t, func(sc *Scenario) { sc.SignIn.Block = block }), Options{})
			c := simMSAL(t, srv, srv.TenantID())
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var wg sync.WaitGroup
			var playErr error
			res, err := c.AcquireTokenInteractive(ctx, []string{srv.Endpoints().GraphScope()}, public.WithOpenURL(func(u string) error {
				wg.Add(1)
				go func() { defer wg.Done(); playErr = srv.PlayBrowser(ctx, u) }()
				return nil
			}))
			wg.Wait()
			if err != nil {
				t.Fatal(err)
			}
			if playErr != nil {
				t.Fatal(playErr)
			}
			if res.Account.PreferredUsername != "admin@contoso.onmicrosoft.com" {
				t.Errorf("account %+v", res.Account)
			}
			if _, ok := srv.Tokens().Lookup(res.AccessToken); !ok {
				t.Error("token not registered")
			}
		})
	}
}

// simPost posts a form and decodes the JSON answer.
func simPost(t *testing.T, srv *Server, path string, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := srv.HTTPClient().PostForm(srv.URL()+path, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: not JSON: %s", path, b)
	}
	return resp.StatusCode, m
}

// simCheckAADBody asserts Microsoft's error body format.
func simCheckAADBody(t *testing.T, status int, body map[string]any, wantErr string, wantCode int) {
	t.Helper()
	if status != http.StatusBadRequest {
		t.Errorf("status %d, want 400", status)
	}
	if body["error"] != wantErr {
		t.Errorf("error %v, want %s", body["error"], wantErr)
	}
	codes, _ := body["error_codes"].([]any)
	if len(codes) != 1 || codes[0] != float64(wantCode) {
		t.Errorf("error_codes %v, want [%d]", body["error_codes"], wantCode)
	}
	desc, _ := body["error_description"].(string)
	if !strings.HasPrefix(desc, "AADSTS"+itoa(wantCode)+": ") || !strings.Contains(desc, "\r\nTrace ID: ") || !strings.Contains(desc, "\r\nCorrelation ID: ") || !strings.Contains(desc, "\r\nTimestamp: ") {
		t.Errorf("error_description %q", desc)
	}
	for _, k := range []string{"trace_id", "correlation_id", "timestamp", "error_uri"} {
		if s, _ := body[k].(string); s == "" {
			t.Errorf("missing %s", k)
		}
	}
	if !simIsGUID(body["trace_id"].(string)) || !simIsGUID(body["correlation_id"].(string)) {
		t.Errorf("trace/correlation ids not GUIDs: %v %v", body["trace_id"], body["correlation_id"])
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func simDeviceCodeStart(t *testing.T, srv *Server, scope string) map[string]any {
	t.Helper()
	st, m := simPost(t, srv, "/"+srv.TenantID()+"/oauth2/v2.0/devicecode", url.Values{"client_id": {srv.Endpoints().ClientID}, "scope": {scope}})
	if st != 200 {
		t.Fatalf("devicecode %d %v", st, m)
	}
	return m
}

func simPoll(t *testing.T, srv *Server, dc map[string]any) (int, map[string]any) {
	return simPost(t, srv, "/"+srv.TenantID()+"/oauth2/v2.0/token", url.Values{
		"client_id": {srv.Endpoints().ClientID}, "grant_type": {"urn:ietf:params:oauth:grant-type:device_code"},
		"device_code": {dc["device_code"].(string)}, "client_info": {"1"}, "scope": {"https://graph.microsoft.com/.default openid offline_access profile"},
	})
}

// simClock is a settable clock for tests.
type simClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *simClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *simClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestDeviceCodeErrorBodies(t *testing.T) {
	clk := &simClock{t: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)}
	no := false
	srv := simTestStart(t, simTestScenario(t, func(sc *Scenario) {
		sc.SignIn.AutoApprove = &no
		sc.SignIn.CodeLifetime = Duration(time.Minute)
	}), Options{Now: clk.Now})
	scope := "https://graph.microsoft.com/.default openid offline_access profile"

	dc := simDeviceCodeStart(t, srv, scope)
	if dc["expires_in"] != float64(60) || dc["interval"] != float64(5) {
		t.Errorf("expires_in/interval %v %v", dc["expires_in"], dc["interval"])
	}
	st, body := simPoll(t, srv, dc)
	simCheckAADBody(t, st, body, "authorization_pending", 70016)

	clk.Add(61 * time.Second)
	st, body = simPoll(t, srv, dc)
	simCheckAADBody(t, st, body, "expired_token", 70019)
	if err := srv.ApproveDeviceCode(dc["user_code"].(string)); err == nil {
		t.Error("approving an expired code succeeded")
	}

	// A fresh code approved on the page gives tokens exactly once.
	dc2 := simDeviceCodeStart(t, srv, scope)
	if err := srv.ApproveDeviceCode(strings.ToLower(strings.ReplaceAll(dc2["user_code"].(string), "-", ""))); err != nil {
		t.Fatal(err)
	}
	st, body = simPoll(t, srv, dc2)
	if st != 200 || body["access_token"] == nil || body["refresh_token"] == nil || body["id_token"] == nil || body["client_info"] == nil {
		t.Fatalf("token response %d %v", st, body)
	}
	// Issue 17 §9: scope lists what the token is valid for (the requested
	// .default plus the granted permissions, prefixed with the resource).
	if sc, _ := body["scope"].(string); !strings.HasPrefix(sc, "https://graph.microsoft.com/.default ") ||
		!strings.Contains(sc, " https://graph.microsoft.com/User.Read ") || strings.Contains(sc, "offline_access") || body["expires_in"] != float64(3600) {
		t.Errorf("scope/expires_in %v %v", body["scope"], body["expires_in"])
	}
	st, body = simPoll(t, srv, dc2)
	simCheckAADBody(t, st, body, "invalid_grant", 90120)

	st, body = simPoll(t, srv, map[string]any{"device_code": "not-a-code"})
	simCheckAADBody(t, st, body, "bad_verification_code", 70018)
}

func TestDeviceCodeBlocks(t *testing.T) {
	for _, c := range []struct {
		block, err string
		code       int
	}{
		{"device-code-ca", "invalid_grant", 53003},
		{"security-defaults", "invalid_grant", 530035},
		{"mfa-required", "invalid_grant", 50076},
	} {
		t.Run(c.block, func(t *testing.T) {
			srv := simTestStart(t, simTestScenario(t, func(sc *Scenario) { sc.SignIn.Block = c.block }), Options{})
			dc := simDeviceCodeStart(t, srv, "https://graph.microsoft.com/.default openid offline_access profile")
			st, body := simPoll(t, srv, dc)
			simCheckAADBody(t, st, body, c.err, c.code)
			if c.code == 53003 && !strings.Contains(body["error_description"].(string), "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.") {
				t.Errorf("53003 text: %v", body["error_description"])
			}
			if srv.Tokens().Len() != 0 {
				t.Error("a blocked sign-in issued a token")
			}
			// MSAL surfaces the AADSTS code in the error text.
			cl := simMSAL(t, srv, srv.TenantID())
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			d, err := cl.AcquireTokenByDeviceCode(ctx, []string{srv.Endpoints().GraphScope()})
			if err != nil {
				t.Fatal(err)
			}
			_, err = d.AuthenticationResult(ctx)
			if err == nil || !strings.Contains(err.Error(), "AADSTS"+itoa(c.code)) {
				t.Errorf("MSAL error %v", err)
			}
		})
	}
}

func TestShortTokensForceRefreshAndExpire(t *testing.T) {
	clk := &simClock{t: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)}
	sc, err := LoadScenario("short-tokens")
	if err != nil {
		t.Fatal(err)
	}
	sc.SignIn.ApproveDelay = 0
	srv := simTestStart(t, sc, Options{Now: clk.Now})
	tok := srv.IssueToken("https://graph.microsoft.com")
	if _, ok := srv.Tokens().Lookup(tok); !ok {
		t.Fatal("fresh token rejected")
	}
	clk.Add(121 * time.Second)
	if _, ok := srv.Tokens().Lookup(tok); ok {
		t.Error("expired token accepted")
	}
	if p, ok := srv.Tokens().Inspect(tok); !ok || !p.Expired(clk.Now()) {
		t.Error("Inspect should still know the expired token")
	}
	if tok2 := srv.IssueToken("https://graph.microsoft.com"); tok2 == tok {
		t.Error("tokens are not unique")
	}
}

func TestWrongTenantTokensCarryHomeTenant(t *testing.T) {
	sc, err := LoadScenario("wrong-tenant")
	if err != nil {
		t.Fatal(err)
	}
	sc.SignIn.ApproveDelay = 0
	srv := simTestStart(t, sc, Options{})
	home := simSignInUser(srv.Scenario()).HomeTenant
	c := simMSAL(t, srv, "organizations")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d, err := c.AcquireTokenByDeviceCode(ctx, []string{srv.Endpoints().GraphScope()})
	if err != nil {
		t.Fatal(err)
	}
	res, err := d.AuthenticationResult(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(res.Account.HomeAccountID, "."+home) || home == srv.TenantID() {
		t.Errorf("home account %q, home %q, tenant %q", res.Account.HomeAccountID, home, srv.TenantID())
	}
	if simClaims(t, res.AccessToken)["tid"] != home {
		t.Error("access token tid is not the home tenant")
	}
}

func simAuthorizeURL(srv *Server, challenge, redirect string) string {
	q := url.Values{
		"client_id": {srv.Endpoints().ClientID}, "response_type": {"code"}, "redirect_uri": {redirect},
		"scope": {"https://graph.microsoft.com/.default openid offline_access profile"}, "state": {"st4te"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}
	return srv.URL() + "/" + srv.TenantID() + "/oauth2/v2.0/authorize?" + q.Encode()
}

func simAuthorize(t *testing.T, srv *Server, challenge, redirect string) (*http.Response, *url.URL) {
	t.Helper()
	c := srv.HTTPClient()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(simAuthorizeURL(srv, challenge, redirect))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	return resp, loc
}

func TestPKCE(t *testing.T) {
	srv := simTestStart(t, simTestScenario(t, nil), Options{})
	verifier := "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	redirect := "http://localhost:53117"
	redeem := func(code, v string) (int, map[string]any) {
		return simPost(t, srv, "/"+srv.TenantID()+"/oauth2/v2.0/token", url.Values{
			"client_id": {srv.Endpoints().ClientID}, "grant_type": {"authorization_code"}, "code": {code},
			"redirect_uri": {redirect}, "code_verifier": {v}, "scope": {"https://graph.microsoft.com/.default openid offline_access profile"},
		})
	}
	resp, loc := simAuthorize(t, srv, simPKCE(verifier), redirect)
	if resp.StatusCode != http.StatusFound || loc.Host != "localhost:53117" || loc.Query().Get("state") != "st4te" || loc.Query().Get("code") == "" {
		t.Fatalf("authorize: %d %v", resp.StatusCode, loc)
	}
	code := loc.Query().Get("code")
	st, body := redeem(code, verifier+"x")
	simCheckAADBody(t, st, body, "invalid_grant", 501481)
	st, body = redeem(code, verifier)
	if st != 200 || body["access_token"] == nil {
		t.Fatalf("right verifier: %d %v", st, body)
	}
	st, body = redeem(code, verifier)
	simCheckAADBody(t, st, body, "invalid_grant", 54005)

	// Non-localhost redirect URIs are refused with a page, not a redirect.
	resp, _ = simAuthorize(t, srv, simPKCE(verifier), "https://evil.example/cb")
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("evil redirect: %d", resp.StatusCode)
	}
}

func TestOpenIDConfigAndUnknownTenant(t *testing.T) {
	srv := simTestStart(t, simTestScenario(t, nil), Options{})
	c := srv.HTTPClient()
	resp, err := c.Get(srv.URL() + "/CONTOSO.onmicrosoft.com/v2.0/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	json.NewDecoder(resp.Body).Decode(&cfg)
	resp.Body.Close()
	te := cfg["token_endpoint"].(string)
	if te != srv.URL()+"/"+srv.TenantID()+"/oauth2/v2.0/token" || strings.Count(te, "token") != 1 {
		t.Errorf("token_endpoint %q", te)
	}
	if cfg["issuer"] != srv.URL()+"/"+srv.TenantID()+"/v2.0" {
		t.Errorf("issuer %v", cfg["issuer"])
	}
	resp, err = c.Get(srv.URL() + "/fabrikam.onmicrosoft.com/v2.0/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	simCheckAADBody(t, resp.StatusCode, body, "invalid_tenant", 90002)

	resp, err = c.Get(srv.URL() + "/common/discovery/instance?api-version=1.1")
	if err != nil {
		t.Fatal(err)
	}
	var disc map[string]any
	json.NewDecoder(resp.Body).Decode(&disc)
	resp.Body.Close()
	if resp.StatusCode != 200 || disc["tenant_discovery_endpoint"] == nil {
		t.Errorf("instance discovery %d %v", resp.StatusCode, disc)
	}
}

func TestTokenEndpointRejects(t *testing.T) {
	srv := simTestStart(t, simTestScenario(t, nil), Options{})
	tokenPath := "/" + srv.TenantID() + "/oauth2/v2.0/token"
	st, body := simPost(t, srv, tokenPath, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}})
	simCheckAADBody(t, st, body, "invalid_request", 900144)
	st, body = simPost(t, srv, tokenPath, url.Values{"client_id": {"not-a-guid"}, "grant_type": {"refresh_token"}})
	simCheckAADBody(t, st, body, "unauthorized_client", 700016)
	st, body = simPost(t, srv, tokenPath, url.Values{"client_id": {srv.Endpoints().ClientID}, "grant_type": {"password"}})
	simCheckAADBody(t, st, body, "unsupported_grant_type", 70003)
	st, body = simPost(t, srv, tokenPath, url.Values{"client_id": {srv.Endpoints().ClientID}, "grant_type": {"refresh_token"}, "refresh_token": {"nope"}, "scope": {"https://graph.microsoft.com/.default"}})
	simCheckAADBody(t, st, body, "invalid_grant", 9002313)
	st, body = simPost(t, srv, "/"+srv.TenantID()+"/oauth2/v2.0/devicecode", url.Values{"client_id": {srv.Endpoints().ClientID}, "scope": {"https://graph.microsoft.com/.default https://outlook.office365.com/.default"}})
	simCheckAADBody(t, st, body, "invalid_scope", 700022)
	st, body = simPost(t, srv, "/"+srv.TenantID()+"/oauth2/v2.0/devicecode", url.Values{"client_id": {srv.Endpoints().ClientID}, "scope": {"https://unknown-api.contoso.example/.default"}})
	simCheckAADBody(t, st, body, "invalid_resource", 500011)
}

func TestDeviceLoginPage(t *testing.T) {
	no := false
	srv := simTestStart(t, simTestScenario(t, func(sc *Scenario) { sc.SignIn.AutoApprove = &no }), Options{})
	dc := simDeviceCodeStart(t, srv, "https://graph.microsoft.com/.default openid offline_access profile")
	c := srv.HTTPClient()
	resp, err := c.Get(srv.URL() + "/devicelogin")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), `name="otc"`) || !strings.Contains(string(page), "admin@contoso.onmicrosoft.com") {
		t.Fatalf("GET page: %d", resp.StatusCode)
	}
	resp, err = c.PostForm(srv.URL()+"/devicelogin", url.Values{"otc": {"ZZZZ-ZZZZ"}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(page), "didn&#39;t work") {
		t.Errorf("wrong code: %d %s", resp.StatusCode, page)
	}
	st, _ := simPoll(t, srv, dc)
	if st != 400 {
		t.Fatal("pending code gave tokens")
	}
	resp, err = c.PostForm(srv.URL()+"/devicelogin", url.Values{"otc": {dc["user_code"].(string)}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "You may now close this window") {
		t.Errorf("approve: %d %s", resp.StatusCode, page)
	}
	if st, body := simPoll(t, srv, dc); st != 200 || body["access_token"] == nil {
		t.Errorf("after approval: %d %v", st, body)
	}
}

func TestPlayBrowserRejectsForeignURL(t *testing.T) {
	srv := simTestStart(t, simTestScenario(t, nil), Options{})
	err := srv.PlayBrowser(context.Background(), "https://login.microsoftonline.com/x/oauth2/v2.0/authorize")
	if err == nil {
		t.Fatal("foreign authorize URL accepted")
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		t.Error("error should not wrap a url.Error (it may carry a code)")
	}
}
