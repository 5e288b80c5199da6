package sim

// Conformance tests of issue 17 ("Simulator fidelity"). Each cites the
// document or recorded response it follows; docs/simulator-fidelity.md lists
// them with what is knowingly not modelled.

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func simGetJSON(t *testing.T, c *http.Client, u string, hdr map[string]string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &m)
	return resp, m
}

// §2, §3: ARM is a resource of every tenant (device code for
// https://management.core.windows.net//.default, as az asks) and its
// /subscriptions and /tenants answer in the shapes of learn.microsoft.com/
// rest/api/resources/subscriptions/list and /tenants/list (2022-12-01).
func TestARMResourceAndEndpoints(t *testing.T) {
	t.Parallel()
	srv := simTestStart(t, simTestScenario(t, nil), Options{})
	dc := simDeviceCodeStart(t, srv, "https://management.core.windows.net//.default openid offline_access profile")
	st, tok := simPost(t, srv, "/"+srv.TenantID()+"/oauth2/v2.0/token", url.Values{
		"client_id": {srv.Endpoints().ClientID}, "grant_type": {"urn:ietf:params:oauth:grant-type:device_code"},
		"device_code": {dc["device_code"].(string)}, "scope": {"https://management.core.windows.net//.default openid offline_access profile"}})
	if st != 200 {
		t.Fatalf("ARM token: %d %v", st, tok)
	}
	if sc, _ := tok["scope"].(string); !strings.Contains(sc, "https://management.core.windows.net//.default") || !strings.Contains(sc, "https://management.core.windows.net//user_impersonation") {
		t.Errorf("ARM token scope %q", sc)
	}
	bearer := map[string]string{"Authorization": "Bearer " + tok["access_token"].(string)}
	c := srv.HTTPClient()
	resp, subs := simGetJSON(t, c, srv.URL()+"/arm/subscriptions?api-version=2022-12-01", bearer)
	if resp.StatusCode != 200 || len(subs["value"].([]any)) != 0 || resp.Header.Get("x-ms-request-id") == "" {
		t.Fatalf("/subscriptions: %d %v", resp.StatusCode, subs)
	}
	resp, tenants := simGetJSON(t, c, srv.URL()+"/arm/tenants?api-version=2022-12-01", bearer)
	vals, _ := tenants["value"].([]any)
	if resp.StatusCode != 200 || len(vals) != 1 {
		t.Fatalf("/tenants: %d %v", resp.StatusCode, tenants)
	}
	ten := vals[0].(map[string]any)
	if ten["id"] != "/tenants/"+srv.TenantID() || ten["tenantId"] != srv.TenantID() || ten["tenantCategory"] != "Home" || ten["defaultDomain"] != "contoso.onmicrosoft.com" {
		t.Errorf("tenant %v", ten)
	}
	resp, e := simGetJSON(t, c, srv.URL()+"/arm/subscriptions", bearer)
	if resp.StatusCode != 400 || e["error"].(map[string]any)["code"] != "MissingApiVersionParameter" {
		t.Errorf("no api-version: %d %v", resp.StatusCode, e)
	}
	gtok := map[string]string{"Authorization": "Bearer " + srv.IssueToken("https://graph.microsoft.com")}
	resp, e = simGetJSON(t, c, srv.URL()+"/arm/subscriptions?api-version=2022-12-01", gtok)
	if resp.StatusCode != 401 || e["error"].(map[string]any)["code"] != "InvalidAuthenticationTokenAudience" {
		t.Errorf("Graph token at ARM: %d %v", resp.StatusCode, e)
	}
}

// §4, §13, §10: the organizations/common documents keep the alias in every
// endpoint and {tenantid} in the issuer; a tenant's names its GUID; both have
// userinfo, kerberos, rbac_url and end_session, and the discovery caching
// and CORS headers (learn.microsoft.com/entra/identity-platform/
// v2-protocols-oidc "Find your app's OpenID configuration document URI",
// and the recorded https://login.microsoftonline.com/organizations/v2.0/
// .well-known/openid-configuration).
func TestOpenIDConfigurationShapes(t *testing.T) {
	t.Parallel()
	srv := simTestStart(t, simTestScenario(t, nil), Options{})
	c := srv.HTTPClient()
	for _, alias := range []string{"organizations", "common"} {
		resp, doc := simGetJSON(t, c, srv.URL()+"/"+alias+"/v2.0/.well-known/openid-configuration", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", alias, resp.StatusCode)
		}
		if doc["issuer"] != srv.URL()+"/{tenantid}/v2.0" || doc["token_endpoint"] != srv.URL()+"/"+alias+"/oauth2/v2.0/token" ||
			doc["end_session_endpoint"] != srv.URL()+"/"+alias+"/oauth2/v2.0/logout" || doc["tenant_region_scope"] != nil {
			t.Errorf("%s document: issuer %v token %v end_session %v region %v", alias, doc["issuer"], doc["token_endpoint"], doc["end_session_endpoint"], doc["tenant_region_scope"])
		}
		if got := resp.Header.Get("Cache-Control"); got != "max-age=86400, private" || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("%s headers: Cache-Control %q CORS %q", alias, got, resp.Header.Get("Access-Control-Allow-Origin"))
		}
	}
	_, doc := simGetJSON(t, c, srv.URL()+"/"+srv.TenantID()+"/v2.0/.well-known/openid-configuration", nil)
	if doc["issuer"] != srv.URL()+"/"+srv.TenantID()+"/v2.0" {
		t.Errorf("tenant issuer %v", doc["issuer"])
	}
	for _, k := range []string{"userinfo_endpoint", "kerberos_endpoint", "rbac_url", "end_session_endpoint", "jwks_uri", "device_authorization_endpoint"} {
		if s, _ := doc[k].(string); !strings.HasPrefix(s, "https://") {
			t.Errorf("%s = %v", k, doc[k])
		}
	}
	resp, err := c.Get(doc["end_session_endpoint"].(string))
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "signed out") {
		t.Errorf("end_session_endpoint: %d %.200s", resp.StatusCode, page)
	}
}

// §5: instance discovery follows authorization_endpoint and lists
// Microsoft's clouds' aliases (the recorded response of
// https://login.microsoftonline.com/common/discovery/instance?api-version=1.1);
// a host that is not an identity host is AADSTS50049.
func TestInstanceDiscoveryFollowsAuthorizationEndpoint(t *testing.T) {
	t.Parallel()
	srv := simTestStart(t, simTestScenario(t, nil), Options{})
	px, err := srv.StartProxy("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { px.Close() })
	c := simProxyClient(t, srv, px)
	ae := url.QueryEscape("https://login.microsoftonline.com/" + srv.TenantID() + "/oauth2/v2.0/authorize")
	resp, doc := simGetJSON(t, c, "https://login.microsoftonline.com/common/discovery/instance?api-version=1.1&authorization_endpoint="+ae, nil)
	if resp.StatusCode != 200 || doc["tenant_discovery_endpoint"] != "https://login.microsoftonline.com/"+srv.TenantID()+"/v2.0/.well-known/openid-configuration" {
		t.Fatalf("discovery: %d %v", resp.StatusCode, doc)
	}
	meta, _ := doc["metadata"].([]any)
	first, _ := meta[0].(map[string]any)
	aliases, _ := first["aliases"].([]any)
	if first["preferred_network"] != "login.microsoftonline.com" || len(aliases) != 4 || aliases[1] != "login.windows.net" {
		t.Errorf("metadata[0] %v", first)
	}
	found := map[string]bool{}
	for _, m := range meta {
		found[m.(map[string]any)["preferred_network"].(string)] = true
	}
	if !found["login.microsoftonline.us"] || !found["login.partner.microsoftonline.cn"] {
		t.Errorf("sovereign clouds missing from metadata: %v", found)
	}
	resp, e := simGetJSON(t, c, "https://login.microsoftonline.com/common/discovery/instance?api-version=1.1&authorization_endpoint="+url.QueryEscape("https://evil.example/x/oauth2/v2.0/authorize"), nil)
	if resp.StatusCode != 400 || e["error"] != "invalid_instance" {
		t.Errorf("unknown instance: %d %v", resp.StatusCode, e)
	}
}

// §6: tokens are RS256 JWS whose kid names a key served at jwks_uri, and the
// signature verifies with it (learn.microsoft.com/entra/identity-platform/
// access-tokens "Validate tokens"; RFC 7515, RFC 7517).
func TestTokensAreRS256SignedWithPublishedKey(t *testing.T) {
	t.Parallel()
	srv := simTestStart(t, simTestScenario(t, nil), Options{})
	tok := srv.IssueToken("https://graph.microsoft.com")
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || parts[2] == "" {
		t.Fatalf("token has %d parts", len(parts))
	}
	hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
	var hdr map[string]any
	json.Unmarshal(hb, &hdr)
	if hdr["alg"] != "RS256" || hdr["kid"] == nil {
		t.Fatalf("header %v", hdr)
	}
	c := srv.HTTPClient()
	_, cfg := simGetJSON(t, c, srv.URL()+"/"+srv.TenantID()+"/v2.0/.well-known/openid-configuration", nil)
	resp, set := simGetJSON(t, c, cfg["jwks_uri"].(string), nil)
	keys, _ := set["keys"].([]any)
	if resp.StatusCode != 200 || len(keys) != 1 {
		t.Fatalf("jwks: %d %v", resp.StatusCode, set)
	}
	k := keys[0].(map[string]any)
	if k["kid"] != hdr["kid"] || k["kty"] != "RSA" || k["use"] != "sig" {
		t.Fatalf("jwk %v", k)
	}
	nb, _ := base64.RawURLEncoding.DecodeString(k["n"].(string))
	eb, _ := base64.RawURLEncoding.DecodeString(k["e"].(string))
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(nb), E: int(new(big.Int).SetBytes(eb).Int64())}
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		t.Fatalf("signature does not verify with the published key: %v", err)
	}
}

// §7, §8, §10, §11: Graph paths and $-option names are case-insensitive
// (learn.microsoft.com/graph/query-parameters: "$ prefixed query parameter
// names are case insensitive"; OData 4.01 §5.1.1.1); $select shows in
// @odata.context (OData 4.01 Protocol §10.9); responses carry OData-Version,
// request-id, the client-request-id echo and x-ms-resource-unit; a
// well-formed token Graph did not issue is not "there are no dots".
func TestGraphCaseInsensitivityContextAndHeaders(t *testing.T) {
	t.Parallel()
	srv := simTestStart(t, simTestScenario(t, nil), Options{})
	c := srv.HTTPClient()
	auth := map[string]string{"Authorization": "Bearer " + srv.IssueToken("https://graph.microsoft.com"), "client-request-id": "0f7b1b7e-1111-4222-8333-944445555666"}
	resp, me := simGetJSON(t, c, srv.URL()+"/graph/V1.0/ME?$SELECT=id,displayName", auth)
	if resp.StatusCode != 200 {
		t.Fatalf("/V1.0/ME: %d %v", resp.StatusCode, me)
	}
	if me["@odata.context"] != srv.URL()+"/graph/v1.0/$metadata#users(id,displayName)/$entity" || len(me) != 3 {
		t.Errorf("/ME with $SELECT: %v", me)
	}
	for k, want := range map[string]string{"OData-Version": "4.0", "client-request-id": auth["client-request-id"], "x-ms-resource-unit": "1"} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	if !simIsGUID(resp.Header.Get("request-id")) {
		t.Errorf("request-id %q", resp.Header.Get("request-id"))
	}
	resp, sps := simGetJSON(t, c, srv.URL()+"/graph/v1.0/SERVICEPRINCIPALS?$FILTER="+url.QueryEscape("appId eq '00000003-0000-0000-c000-000000000000'"), auth)
	if v, _ := sps["value"].([]any); resp.StatusCode != 200 || len(v) != 1 {
		t.Errorf("$FILTER ignored or path case-sensitive: %d %d values", resp.StatusCode, len(v))
	}
	resp, e := simGetJSON(t, c, srv.URL()+"/graph/v1.0/me", map[string]string{"Authorization": "Bearer eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJ4In0.c2ln"})
	msg, _ := e["error"].(map[string]any)["message"].(string)
	if resp.StatusCode != 401 || strings.Contains(msg, "no dots") {
		t.Errorf("unknown well-formed token: %d %q", resp.StatusCode, msg)
	}
}

// §12: SKU and plan ids come from Microsoft's licensing reference
// (learn.microsoft.com/entra/identity/users/licensing-service-plan-reference)
// and assignedPlans[].service is the service's name, never "Unknown".
func TestLicenceIDsFromMicrosoftsReference(t *testing.T) {
	t.Parallel()
	srv := simTestStart(t, simTestScenario(t, nil), Options{})
	c := srv.HTTPClient()
	auth := map[string]string{"Authorization": "Bearer " + srv.IssueToken("https://graph.microsoft.com")}
	_, skus := simGetJSON(t, c, srv.URL()+"/graph/v1.0/subscribedSkus", auth)
	want := map[string]string{"SHAREPOINTENTERPRISE": "5dbe027f-2339-4123-9542-606e4d348a72", "TEAMS1": "57ff2da0-773e-42df-b2af-ffb7a2317929", "EXCHANGE_S_ENTERPRISE": "efb87545-963c-4e0d-99df-69c6916d9eb0"}
	for _, s := range skus["value"].([]any) {
		sku := s.(map[string]any)
		if sku["skuPartNumber"] == "ENTERPRISEPACK" && sku["skuId"] != "6fd2c87f-b296-42f0-b197-1e91e994b900" {
			t.Errorf("ENTERPRISEPACK skuId %v", sku["skuId"])
		}
		for _, p := range sku["servicePlans"].([]any) {
			pl := p.(map[string]any)
			if id, ok := want[pl["servicePlanName"].(string)]; ok {
				if pl["servicePlanId"] != id {
					t.Errorf("%s servicePlanId %v, want %s", pl["servicePlanName"], pl["servicePlanId"], id)
				}
				delete(want, pl["servicePlanName"].(string))
			}
		}
	}
	if len(want) != 0 {
		t.Errorf("plans not served: %v", want)
	}
	_, org := simGetJSON(t, c, srv.URL()+"/graph/v1.0/organization", auth)
	plans := org["value"].([]any)[0].(map[string]any)["assignedPlans"].([]any)
	services := map[string]bool{}
	for _, p := range plans {
		services[p.(map[string]any)["service"].(string)] = true
	}
	if services["Unknown"] || !services["SharePoint"] || !services["exchange"] || !services["TeamspaceAPI"] {
		t.Errorf("assignedPlans services %v", services)
	}
}

// §9, §10: the token response lists the scopes the token is valid for and
// carries x-ms-request-id and x-ms-ests-server (v2-oauth2-auth-code-flow
// "Successful response"; a recorded ESTS response's headers).
func TestTokenResponseScopeAndHeaders(t *testing.T) {
	t.Parallel()
	srv := simTestStart(t, simTestScenario(t, nil), Options{})
	dc := simDeviceCodeStart(t, srv, "https://outlook.office365.com/.default openid offline_access profile")
	resp, err := srv.HTTPClient().PostForm(srv.URL()+"/"+srv.TenantID()+"/oauth2/v2.0/token", url.Values{
		"client_id": {srv.Endpoints().ClientID}, "grant_type": {"urn:ietf:params:oauth:grant-type:device_code"},
		"device_code": {dc["device_code"].(string)}, "scope": {"https://outlook.office365.com/.default openid offline_access profile"}})
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if body["scope"] != "https://outlook.office365.com/.default https://outlook.office365.com/Exchange.Manage openid profile" {
		t.Errorf("scope %q", body["scope"])
	}
	if !simIsGUID(resp.Header.Get("x-ms-request-id")) || resp.Header.Get("x-ms-ests-server") == "" {
		t.Errorf("headers x-ms-request-id %q x-ms-ests-server %q", resp.Header.Get("x-ms-request-id"), resp.Header.Get("x-ms-ests-server"))
	}
}

// §13, §14: sign-in refusals on the token endpoint, with the codes and
// error values of learn.microsoft.com/entra/identity-platform/
// reference-error-codes; Cancel on /devicelogin is authorization_declined
// (v2-oauth2-device-code "Expected errors").
func TestSignInRefusalsAndDecline(t *testing.T) {
	t.Parallel()
	no := false
	for _, c := range []struct {
		name   string
		mutate func(*Scenario)
		code   int
	}{
		{"disabled user", func(sc *Scenario) { sc.Users[0].Enabled = &no; sc.Users[0].SignsIn = true }, 50057},
		{"account-disabled", func(sc *Scenario) { sc.SignIn.Refuse = "account-disabled" }, 50057},
		{"account-locked", func(sc *Scenario) { sc.SignIn.Refuse = "account-locked" }, 50053},
		{"password-expired", func(sc *Scenario) { sc.SignIn.Refuse = "password-expired" }, 50055},
		{"not-in-tenant", func(sc *Scenario) { sc.SignIn.Refuse = "not-in-tenant" }, 50020},
	} {
		srv := simTestStart(t, simTestScenario(t, c.mutate), Options{})
		dc := simDeviceCodeStart(t, srv, "https://graph.microsoft.com/.default openid offline_access profile")
		st, body := simPoll(t, srv, dc)
		simCheckAADBody(t, st, body, "invalid_grant", c.code)
	}
	no2 := false
	srv := simTestStart(t, simTestScenario(t, func(sc *Scenario) { sc.SignIn.AutoApprove = &no2 }), Options{})
	dc := simDeviceCodeStart(t, srv, "https://graph.microsoft.com/.default openid offline_access profile")
	resp, err := srv.HTTPClient().PostForm(srv.URL()+"/devicelogin", url.Values{"otc": {dc["user_code"].(string)}, "action": {"decline"}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "declined") {
		t.Fatalf("decline page: %d %.300s", resp.StatusCode, page)
	}
	st, body := simPoll(t, srv, dc)
	if st != 400 || body["error"] != "authorization_declined" {
		t.Fatalf("after Cancel: %d %v", st, body)
	}
	st, body = simPoll(t, srv, dc)
	simCheckAADBody(t, st, body, "invalid_grant", 90120)
	auto := simTestStart(t, simTestScenario(t, func(sc *Scenario) { sc.SignIn.Refuse = "declined" }), Options{})
	st, body = simPoll(t, auto, simDeviceCodeStart(t, auto, "https://graph.microsoft.com/.default openid offline_access profile"))
	if st != 400 || body["error"] != "authorization_declined" {
		t.Fatalf("refuse declined: %d %v", st, body)
	}
}

// §15: the request log tells writes apart without values: an InvokeCommand
// line names its cmdlet and parameter names, a $batch line its sub-requests
// (method, path without query, status).
func TestRequestLogNamesCmdletsAndBatchParts(t *testing.T) {
	t.Parallel()
	srv := simTestStart(t, simTestScenario(t, nil), Options{})
	c := srv.HTTPClient()
	post := func(u, tok, body string) {
		req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	post(srv.URL()+"/exchange/adminapi/beta/"+srv.TenantID()+"/InvokeCommand", srv.IssueToken("https://outlook.office365.com"),
		`{"CmdletInput":{"CmdletName":"Get-ManagementRoleAssignment","Parameters":{"RoleAssignee":"s3cr3t-value"}}}`)
	post(srv.URL()+"/graph/v1.0/$batch", srv.IssueToken("https://graph.microsoft.com"),
		`{"requests":[{"id":"1","method":"GET","url":"/me?$select=id"},{"id":"2","method":"GET","url":"/organization"}]}`)
	var sawCmdlet, sawBatch bool
	for _, r := range srv.Requests() {
		b, _ := json.Marshal(r)
		if strings.Contains(string(b), "s3cr3t") || strings.Contains(string(b), "?") {
			t.Errorf("the log holds a value or a query: %s", b)
		}
		if r.Cmdlet == "Get-ManagementRoleAssignment" && strings.Join(r.Parameters, ",") == "RoleAssignee" {
			sawCmdlet = true
		}
		if len(r.Batch) == 2 && r.Batch[0].Path == "/v1.0/me" && r.Batch[0].Status == 200 && r.Batch[1].Path == "/v1.0/organization" {
			sawBatch = true
		}
	}
	if !sawCmdlet || !sawBatch {
		t.Errorf("cmdlet logged %v, batch logged %v: %+v", sawCmdlet, sawBatch, srv.Requests())
	}
}
