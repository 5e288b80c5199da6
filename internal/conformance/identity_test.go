package conformance

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"itdr-onboard/auth"
	"itdr-onboard/sim"
)

const (
	clientID   = "14d82eec-204b-4c2f-b7e8-296a70dab67e"
	graphScope = "https://graph.microsoft.com/.default openid offline_access profile"
	exoScope   = "https://outlook.office365.com/.default openid offline_access profile"
)

// jwtPayload decodes a JWT's payload the way MSAL does (RawURLEncoding).
func jwtPayload(t *testing.T, jwt string) []byte {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("id_token has %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("id_token payload is not raw base64url: %v", err)
	}
	return b
}

// identityCaptures walks the requests MSAL Go sends (msal-offline.md §2),
// against the tenant authority and against "organizations".
func identityCaptures(t *testing.T) []capture {
	e := start(t, "typical", nil)
	var out []capture
	add := func(name string, r resp, fs []Field) {
		out = append(out, capture{name: "identity " + name, body: r.body, fields: fs})
	}
	for _, tenant := range []string{tenantID, "organizations"} {
		r := e.identity("GET", "/"+tenant+"/v2.0/.well-known/openid-configuration", nil).want(t, "openid-configuration", 200)
		add("openid-configuration ("+tenant+")", r, specOpenID)
		authority, _ := url.Parse(e.srv.URL())
		for _, k := range []string{"authorization_endpoint", "token_endpoint", "issuer"} {
			u, err := url.Parse(str(t, r.body, k))
			if err != nil || u.Scheme != "https" || u.Host != authority.Host {
				t.Errorf("%s %q: MSAL needs an https URL on the authority host %s", k, str(t, r.body, k), authority.Host)
			}
		}
		// MSAL derives the devicecode URL from token_endpoint.
		te := str(t, r.body, "token_endpoint")
		if strings.Count(te, "token") != 1 {
			t.Errorf("token_endpoint %q: \"token\" must appear once (MSAL replaces it with \"devicecode\")", te)
		}
		dcURL, _ := url.Parse(strings.ReplaceAll(te, "token", "devicecode"))
		dc := e.identity("POST", dcURL.Path, url.Values{"client_id": {clientID}, "scope": {graphScope}}).want(t, "devicecode", 200)
		add("devicecode ("+tenant+")", dc, specDeviceCode)
		var d struct {
			DeviceCode string `json:"device_code"`
			ExpiresIn  int    `json:"expires_in"`
		}
		_ = json.Unmarshal(dc.body, &d)
		if d.ExpiresIn <= 0 {
			t.Errorf("expires_in %d: MSAL's polling deadline is now+expires_in", d.ExpiresIn)
		}
		tok := e.identity("POST", "/"+tenant+"/oauth2/v2.0/token", url.Values{
			"client_id": {clientID}, "grant_type": {"urn:ietf:params:oauth:grant-type:device_code"},
			"device_code": {d.DeviceCode}, "client_info": {"1"}, "scope": {graphScope},
		}).want(t, "token", 200)
		add("token, device_code grant ("+tenant+")", tok, specToken)
		checkTokenResponse(t, tok.body, graphScope)
		out = append(out, capture{name: "identity id_token claims (" + tenant + ")", body: jwtPayload(t, str(t, tok.body, "id_token")), fields: specIDTokenClaims})
		ci, err := base64.RawURLEncoding.DecodeString(str(t, tok.body, "client_info"))
		if err != nil {
			t.Fatalf("client_info is not raw base64url: %v", err)
		}
		out = append(out, capture{name: "identity client_info (" + tenant + ")", body: ci, fields: specClientInfo})

		// A silent request for the second resource redeems the refresh token.
		ref := e.identity("POST", "/"+tenant+"/oauth2/v2.0/token", url.Values{
			"client_id": {clientID}, "grant_type": {"refresh_token"}, "refresh_token": {str(t, tok.body, "refresh_token")},
			"client_info": {"1"}, "scope": {exoScope},
		}).want(t, "refresh", 200)
		add("token, refresh_token grant ("+tenant+")", ref, specToken)
		checkTokenResponse(t, ref.body, exoScope)
	}
	return out
}

// checkTokenResponse checks what MSAL and the wizard rely on beyond types:
// the scope echo, the id_token claims agreeing with client_info, and a
// lifetime long enough to be cached.
func checkTokenResponse(t *testing.T, body []byte, requested string) {
	t.Helper()
	scope := " " + str(t, body, "scope") + " "
	for _, s := range strings.Fields(requested) {
		// MSAL Go compares the granted scopes with the caller's scopes only:
		// the reserved openid/offline_access/profile it appends on the wire
		// (accesstokens.AppendDefaultScopes) are not in authParams.Scopes,
		// so findDeclinedScopes never asks for them — and offline_access is
		// not a scope the access token is valid for.
		if s == "openid" || s == "offline_access" || s == "profile" {
			continue
		}
		if !strings.Contains(scope, " "+s+" ") {
			t.Errorf("scope %q lacks requested %q (MSAL: \"declined scopes are present\")", scope, s)
		}
	}
	var claims struct{ Oid, Tid string }
	_ = json.Unmarshal(jwtPayload(t, str(t, body, "id_token")), &claims)
	ci, _ := base64.RawURLEncoding.DecodeString(str(t, body, "client_info"))
	var info struct{ UID, UTID string }
	_ = json.Unmarshal(ci, &info)
	if info.UID != claims.Oid || info.UTID != claims.Tid || claims.Tid != tenantID {
		t.Errorf("client_info %+v disagrees with id_token oid/tid %+v", info, claims)
	}
}

func TestIdentityResponsesCarryWhatMSALReads(t *testing.T) {
	caps := identityCaptures(t)
	if len(caps) != 12 {
		t.Fatalf("captured %d identity responses, want 12", len(caps))
	}
	for _, c := range caps {
		conform(t, c)
	}
}

// aadErrorCaptures collects AADSTS error bodies from every source the
// wizard can meet: the token poll, the devicecode and discovery endpoints,
// policy blocks and injected faults.
func aadErrorCaptures(t *testing.T) []capture {
	var out []capture
	add := func(name string, r resp, status int) {
		t.Helper()
		r.want(t, name, status)
		out = append(out, capture{name: "identity error " + name, body: r.body, fields: specAADError})
	}
	pending := start(t, "typical", func(sc *sim.Scenario) { sc.SignIn.ApproveDelay = sim.Duration(time.Hour) })
	dc := pending.identity("POST", "/"+tenantID+"/oauth2/v2.0/devicecode", url.Values{"client_id": {clientID}, "scope": {graphScope}}).want(t, "devicecode", 200)
	poll := func(e *env, code string) resp {
		return e.identity("POST", "/"+tenantID+"/oauth2/v2.0/token", url.Values{
			"client_id": {clientID}, "grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {code}, "scope": {graphScope},
		})
	}
	add("authorization_pending", poll(pending, str(t, dc.body, "device_code")), 400)
	add("bad_verification_code", poll(pending, "not-a-device-code"), 400)
	add("invalid_tenant (openid-configuration)", pending.identity("GET", "/nosuchtenant.onmicrosoft.com/v2.0/.well-known/openid-configuration", nil), 400)
	add("invalid_scope (devicecode, two resources)", pending.identity("POST", "/"+tenantID+"/oauth2/v2.0/devicecode",
		url.Values{"client_id": {clientID}, "scope": {"https://graph.microsoft.com/.default https://outlook.office365.com/.default"}}), 400)

	for _, sc := range []string{"device-code-blocked", "security-defaults", "mfa-required"} {
		e := start(t, sc, nil)
		d := e.identity("POST", "/"+tenantID+"/oauth2/v2.0/devicecode", url.Values{"client_id": {clientID}, "scope": {graphScope}}).want(t, "devicecode", 200)
		add(sc, poll(e, str(t, d.body, "device_code")), 400)
	}

	faulty := start(t, "typical", func(sc *sim.Scenario) {
		sc.Faults = []sim.FaultSpec{
			{Group: sim.GroupIdentity, Path: "/*/oauth2/v2.0/devicecode", Kind: sim.Fault429, Count: 1},
			{Group: sim.GroupIdentity, Path: "/*/oauth2/v2.0/token", Kind: sim.Fault503, Count: 1},
		}
	})
	r := faulty.identity("POST", "/"+tenantID+"/oauth2/v2.0/devicecode", url.Values{"client_id": {clientID}, "scope": {graphScope}})
	if r.header.Get("Retry-After") == "" {
		t.Errorf("identity 429 without Retry-After")
	}
	add("injected 429", r, 429)
	add("injected 503", poll(faulty, "whatever"), 503)
	return out
}

func TestAADSTSErrorBodies(t *testing.T) {
	caps := aadErrorCaptures(t)
	if len(caps) != 9 {
		t.Fatalf("captured %d AADSTS bodies, want 9", len(caps))
	}
	for _, c := range caps {
		conform(t, c)
		// The wizard reads these bodies out of MSAL's error text
		// ("http call(…) error: reply status code was 400:\n{…}"): the
		// classifier must find the same code, error and ids.
		var b struct {
			Error         string `json:"error"`
			ErrorCodes    []int  `json:"error_codes"`
			TraceID       string `json:"trace_id"`
			CorrelationID string `json:"correlation_id"`
			Description   string `json:"error_description"`
		}
		if err := json.Unmarshal(c.body, &b); err != nil || len(b.ErrorCodes) == 0 {
			t.Errorf("%s: %v %s", c.name, err, c.body)
			continue
		}
		if !strings.HasPrefix(b.Description, fmt.Sprintf("AADSTS%d: ", b.ErrorCodes[0])) {
			t.Errorf("%s: error_description %q does not start with AADSTS%d", c.name, b.Description, b.ErrorCodes[0])
		}
		ae := auth.Classify(fmt.Errorf("http call(https://login.example/token)(POST) error: reply status code was 400:\n%s", c.body))
		if ae.Code != b.ErrorCodes[0] || ae.OAuthError != b.Error || ae.TraceID != b.TraceID || ae.CorrelationID != b.CorrelationID {
			t.Errorf("%s: auth.Classify read code %d error %q trace %q correlation %q; body has %d %q %q %q",
				c.name, ae.Code, ae.OAuthError, ae.TraceID, ae.CorrelationID, b.ErrorCodes[0], b.Error, b.TraceID, b.CorrelationID)
		}
	}
}
