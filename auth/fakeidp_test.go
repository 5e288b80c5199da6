package auth

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"itdr-onboard/endpoints"
)

const (
	fakeTenantID = "11111111-2222-3333-4444-555555555555"
	fakeOID      = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
	fakeUser     = "admin@contoso.onmicrosoft.com"
	fakeDomain   = "contoso.onmicrosoft.com"
	secretDevice = "DEVICECODE-SECRET-7f3a9c"
	secretCode   = "AUTHCODE-SECRET-91bd"
)

// fakeIdP is a minimal Microsoft identity platform for MSAL Go: openid
// configuration, devicecode, authorize (302 with ?code&state) and token
// (device_code, authorization_code, refresh_token grants).
type fakeIdP struct {
	t   *testing.T
	srv *httptest.Server

	mu sync.Mutex
	// behaviour
	pending      int    // authorization_pending answers before the device-code result
	deviceErr    string // JSON error body returned instead of a token (after pending)
	authorizeErr string // ?error=...&error_description=... on the redirect
	tokenErr     string // JSON error body for the auth-code redemption
	refreshErr   string // JSON error body for refresh_token grants
	expiresIn    int    // access token lifetime (s); ≤300 forces refresh
	codeLife     int    // device code expires_in (s); default 900
	// observations
	requests      []string
	refreshScopes []string
	challenge     string
	redirectURI   string
	state         string
	tokenSerial   int
}

func newFakeIdP(t *testing.T) *fakeIdP {
	f := &fakeIdP{t: t, expiresIn: 3600}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeIdP) endpoints() endpoints.Endpoints {
	return endpoints.Endpoints{
		Cloud:     "sim",
		Authority: f.srv.URL,
		Graph:     "https://graph.example.test",
		Exchange:  "https://outlook.example.test",
		Platform:  "https://platform.example.test",
		ClientID:  endpoints.DefaultClientID,
	}
}

func (f *fakeIdP) client(t *testing.T, mod func(*Options)) *Client {
	t.Helper()
	return newTestClient(t, Options{
		Endpoints:  f.endpoints(),
		Tenant:     fakeTenantID,
		HTTPClient: f.srv.Client(),
		Env:        func(string) string { return "" },
	}, mod)
}

// newTestClient is New(opt) after mod (when set) changed opt; an error
// fails the test.
func newTestClient(t *testing.T, opt Options, mod func(*Options)) *Client {
	t.Helper()
	if mod != nil {
		mod(&opt)
	}
	c, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (f *fakeIdP) count(prefix string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.requests {
		if strings.HasPrefix(r, prefix) {
			n++
		}
	}
	return n
}

func b64json(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func stsError(code int, oauthErr, text string) string {
	b, _ := json.Marshal(map[string]any{
		"error":             oauthErr,
		"error_description": fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: 0a1b2c3d-0000-4000-8000-000000000001\r\nCorrelation ID: 9f8e7d6c-0000-4000-8000-000000000002\r\nTimestamp: 2026-10-01 10:00:00Z", code, text),
		"error_codes":       []int{code},
		"timestamp":         "2026-10-01 10:00:00Z",
		"trace_id":          "0a1b2c3d-0000-4000-8000-000000000001",
		"correlation_id":    "9f8e7d6c-0000-4000-8000-000000000002",
		"error_uri":         fmt.Sprintf("https://login.microsoftonline.com/error?code=%d", code),
	})
	return string(b)
}

func (f *fakeIdP) serve(w http.ResponseWriter, r *http.Request) {
	path := strings.ToLower(r.URL.Path)
	_ = r.ParseForm()
	f.mu.Lock()
	f.requests = append(f.requests, r.Method+" "+path+" "+r.PostForm.Get("grant_type"))
	f.mu.Unlock()
	parts := strings.SplitN(strings.Trim(path, "/"), "/", 2)
	tenant := parts[0]
	rest := ""
	if len(parts) > 1 {
		rest = parts[1]
	}
	base := f.srv.URL + "/" + tenant
	w.Header().Set("Content-Type", "application/json")
	switch {
	case rest == "v2.0/.well-known/openid-configuration":
		if tenant == "unknown.example.com" {
			w.WriteHeader(400)
			fmt.Fprint(w, stsError(90002, "invalid_tenant", "Tenant 'unknown.example.com' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."))
			return
		}
		json.NewEncoder(w).Encode(map[string]any{
			"authorization_endpoint": base + "/oauth2/v2.0/authorize",
			"token_endpoint":         base + "/oauth2/v2.0/token",
			"issuer":                 f.srv.URL + "/" + fakeTenantID + "/v2.0",
			"cloud_instance_name":    "microsoftonline.com",
			"tenant_region_scope":    "EU",
		})
	case rest == "oauth2/v2.0/devicecode":
		f.mu.Lock()
		life := f.codeLife
		f.mu.Unlock()
		if life == 0 {
			life = 900
		}
		json.NewEncoder(w).Encode(map[string]any{
			"user_code":        "ABCD-EFGH",
			"device_code":      secretDevice,
			"verification_uri": "https://microsoft.com/devicelogin",
			"expires_in":       life,
			"interval":         5,
			"message":          "To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code ABCD-EFGH to authenticate.",
		})
	case rest == "oauth2/v2.0/authorize":
		q := r.URL.Query()
		f.mu.Lock()
		f.challenge = q.Get("code_challenge")
		f.redirectURI = q.Get("redirect_uri")
		f.state = q.Get("state")
		aerr := f.authorizeErr
		f.mu.Unlock()
		if q.Get("code_challenge_method") != "S256" || q.Get("response_type") != "code" {
			w.WriteHeader(400)
			return
		}
		v := url.Values{"state": {q.Get("state")}}
		if aerr != "" {
			ev, _ := url.ParseQuery(aerr)
			for k := range ev {
				v.Set(k, ev.Get(k))
			}
		} else {
			v.Set("code", secretCode)
		}
		http.Redirect(w, r, q.Get("redirect_uri")+"/?"+v.Encode(), http.StatusFound)
	case rest == "oauth2/v2.0/token":
		f.token(w, r)
	default:
		w.WriteHeader(404)
	}
}

func (f *fakeIdP) token(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fail := func(body string) {
		w.WriteHeader(400)
		fmt.Fprint(w, body)
	}
	switch r.PostForm.Get("grant_type") {
	case "device_code", "urn:ietf:params:oauth:grant-type:device_code":
		if r.PostForm.Get("device_code") != secretDevice {
			fail(stsError(70018, "bad_verification_code", "The provided value for the input parameter 'device_code' is not valid."))
			return
		}
		if f.pending > 0 {
			f.pending--
			fail(stsError(70016, "authorization_pending", "OAuth 2.0 device flow error. Authorization is pending. Continue polling."))
			return
		}
		if f.deviceErr != "" {
			fail(f.deviceErr)
			return
		}
	case "authorization_code":
		if f.tokenErr != "" {
			fail(f.tokenErr)
			return
		}
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		if r.PostForm.Get("code") != secretCode ||
			base64.RawURLEncoding.EncodeToString(sum[:]) != f.challenge ||
			r.PostForm.Get("redirect_uri") != f.redirectURI {
			fail(stsError(70008, "invalid_grant", "The provided authorization code or refresh token has expired due to inactivity."))
			return
		}
	case "refresh_token":
		f.refreshScopes = append(f.refreshScopes, r.PostForm.Get("scope"))
		if f.refreshErr != "" {
			fail(f.refreshErr)
			return
		}
		if !strings.HasPrefix(r.PostForm.Get("refresh_token"), "RT-") {
			fail(stsError(70008, "invalid_grant", "bad refresh token"))
			return
		}
	default:
		fail(`{"error":"unsupported_grant_type"}`)
		return
	}
	f.tokenSerial++
	idt := b64json(map[string]string{"alg": "none", "typ": "JWT"}) + "." + b64json(map[string]any{
		"aud": endpoints.DefaultClientID, "iss": f.srv.URL + "/" + fakeTenantID + "/v2.0",
		"oid": fakeOID, "sub": "sub-1", "tid": fakeTenantID, "preferred_username": fakeUser,
		"name": "Contoso Admin", "exp": 4102444800, "iat": 1700000000, "nbf": 1700000000,
	}) + "."
	json.NewEncoder(w).Encode(map[string]any{
		"token_type":    "Bearer",
		"scope":         r.PostForm.Get("scope"),
		"expires_in":    f.expiresIn,
		"access_token":  fmt.Sprintf("AT-%d-%s", f.tokenSerial, strings.Fields(r.PostForm.Get("scope"))[0]),
		"refresh_token": fmt.Sprintf("RT-%d", f.tokenSerial),
		"id_token":      idt,
		"client_info":   b64json(map[string]string{"uid": fakeOID, "utid": fakeTenantID}),
	})
}
