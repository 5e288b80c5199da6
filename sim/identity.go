package sim

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Resource identifiers the simulator issues tokens for.
const (
	simGraphResource    = "https://graph.microsoft.com"
	simExchangeResource = "https://outlook.office365.com"
	simGraphAppID       = "00000003-0000-0000-c000-000000000000"
	simExchangeAppID    = "00000002-0000-0ff1-ce00-000000000000"
)

// Default scopes carried in the scp claim for a /.default request.
var simDefaultScp = map[string]string{
	simGraphResource:    "AppRoleAssignment.ReadWrite.All Application.ReadWrite.All DelegatedPermissionGrant.ReadWrite.All Directory.Read.All Organization.Read.All RoleManagement.ReadWrite.Directory User.Read",
	simExchangeResource: "Exchange.Manage",
}

var simGUIDRe = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
})

func simIsGUID(s string) bool { return simGUIDRe().MatchString(s) }

// simIdentity is the Microsoft identity platform: openid-configuration,
// device code, token (device_code, refresh_token, authorization_code + PKCE),
// authorize, the /devicelogin page and instance discovery.
type simIdentity struct {
	s *Server

	mu       sync.Mutex
	byDevice map[string]*simDeviceCode // device_code → entry
	byUser   map[string]*simDeviceCode // user code (no hyphen, upper) → entry
	codes    map[string]*simAuthCode
	refresh  map[string]*simRefresh
}

type simDeviceCode struct {
	deviceCode, userCode string
	clientID, scope      string
	resource             string
	created, expires     time.Time
	autoApproveAt        time.Time // zero: no auto approval
	approvedAt           time.Time // zero: not approved on the page
	declined             bool      // Cancel pressed on the page (or sign_in.refuse "declined")
	redeemed             bool
}

func (d *simDeviceCode) approved(now time.Time) bool {
	if !d.approvedAt.IsZero() && !now.Before(d.approvedAt) {
		return true
	}
	return !d.autoApproveAt.IsZero() && !now.Before(d.autoApproveAt)
}

type simAuthCode struct {
	clientID, redirectURI, scope, resource string
	challenge                              string
	user                                   UserSpec
	expires                                time.Time
	used                                   bool
}

type simRefresh struct {
	user     UserSpec
	clientID string
	expires  time.Time
}

func simNewIdentity(s *Server) *simIdentity {
	return &simIdentity{
		s:        s,
		byDevice: map[string]*simDeviceCode{},
		byUser:   map[string]*simDeviceCode{},
		codes:    map[string]*simAuthCode{},
		refresh:  map[string]*simRefresh{},
	}
}

// signInUser is the account that approves device codes and browser sign-ins.
func (id *simIdentity) signInUser() UserSpec {
	return simSignInUser(id.s.sc)
}

func simSignInUser(sc *Scenario) UserSpec {
	u := UserSpec{UPN: "admin@" + sc.Tenant.InitialDomain, DisplayName: "Administrator"}
	if len(sc.Users) > 0 {
		u = sc.Users[0]
	}
	for _, c := range sc.Users {
		if c.SignsIn {
			u = c
			break
		}
	}
	if u.DisplayName == "" {
		u.DisplayName, _, _ = strings.Cut(u.UPN, "@")
	}
	return u
}

func (id *simIdentity) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Every answer of the identity platform (ESTS) carries these; support
	// asks for x-ms-request-id (learn.microsoft.com/entra/identity-platform/
	// reference-error-codes "Handling error codes": trace and correlation ids).
	h := w.Header()
	h.Set("x-ms-request-id", simNewGUID())
	h.Set("x-ms-ests-server", "2.1.19000.0 - SIM ProdSlices")
	if cid := r.Header.Get("client-request-id"); simIsGUID(cid) {
		h.Set("client-request-id", cid)
	}
	p := strings.ToLower(strings.TrimRight(r.URL.Path, "/"))
	if p == "/devicelogin" {
		id.deviceLoginPage(w, r)
		return
	}
	segs := strings.Split(strings.TrimPrefix(p, "/"), "/")
	if len(segs) < 2 {
		simNotFound(w)
		return
	}
	tenant, rest := segs[0], strings.Join(segs[1:], "/")
	if rest == "discovery/instance" && r.Method == http.MethodGet {
		id.instanceDiscovery(w, r)
		return
	}
	var handler func(http.ResponseWriter, *http.Request)
	method := http.MethodPost
	switch rest {
	case "v2.0/.well-known/openid-configuration":
		handler, method = id.openIDConfig, http.MethodGet
	case "discovery/v2.0/keys", "discovery/keys":
		handler, method = id.jwks, http.MethodGet
	case "oauth2/v2.0/logout", "oauth2/logout":
		handler, method = id.logout, http.MethodGet
	case "oauth2/v2.0/devicecode":
		handler = id.deviceCode
	case "oauth2/v2.0/token":
		handler = id.token
	case "oauth2/v2.0/authorize":
		handler, method = id.authorize, http.MethodGet
	case "adminconsent", "v2.0/adminconsent":
		handler, method = id.adminConsent, http.MethodGet
	default:
		simNotFound(w)
		return
	}
	if r.Method != method {
		w.Header().Set("Allow", method)
		id.aadError(w, r, http.StatusMethodNotAllowed, "invalid_request", 900561, "The endpoint only accepts "+method+" requests. Received a "+r.Method+" request.")
		return
	}
	if !id.knownTenant(tenant) {
		// Use the tenant as typed by the client in the message.
		orig := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")[0]
		id.aadError(w, r, http.StatusBadRequest, "invalid_tenant", 90002, fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.", simClip(orig, 80)))
		return
	}
	if method == http.MethodPost {
		if err := r.ParseForm(); err != nil {
			id.aadError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must be application/x-www-form-urlencoded.")
			return
		}
	}
	handler(w, r)
}

func (id *simIdentity) knownTenant(t string) bool {
	sc := id.s.sc
	switch t {
	case "organizations", "common", strings.ToLower(sc.Tenant.ID), strings.ToLower(sc.Tenant.InitialDomain):
		return true
	}
	for _, u := range sc.Users {
		if u.HomeTenant != "" && strings.EqualFold(u.HomeTenant, t) {
			return true
		}
	}
	return false
}

func simNotFound(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusNotFound)
	_, _ = w.Write([]byte("404 page not found\n"))
}

// ---- error bodies (m365-api.md §1.3) -------------------------------------

func simAADBody(code string, aad int, msg string, r *http.Request, now time.Time) map[string]any {
	trace := simNewGUID()
	corr := r.Header.Get("client-request-id")
	if !simIsGUID(corr) {
		corr = simNewGUID()
	}
	ts := now.UTC().Format("2006-01-02 15:04:05Z")
	if aad == 0 {
		// An OAuth error without an AADSTS code (authorization_declined).
		return map[string]any{
			"error":             code,
			"error_description": fmt.Sprintf("%s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s", msg, trace, corr, ts),
			"error_codes":       []int{},
			"timestamp":         ts,
			"trace_id":          trace,
			"correlation_id":    corr,
		}
	}
	return map[string]any{
		"error":             code,
		"error_description": fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s", aad, msg, trace, corr, ts),
		"error_codes":       []int{aad},
		"timestamp":         ts,
		"trace_id":          trace,
		"correlation_id":    corr,
		"error_uri":         "https://login.microsoftonline.com/error?code=" + strconv.Itoa(aad),
	}
}

func (id *simIdentity) aadError(w http.ResponseWriter, r *http.Request, status int, code string, aad int, msg string) {
	id.aadErrorExtra(w, r, status, code, aad, msg, nil)
}

func (id *simIdentity) aadErrorExtra(w http.ResponseWriter, r *http.Request, status int, code string, aad int, msg string, extra map[string]any) {
	body := simAADBody(code, aad, msg, r, id.s.now())
	for k, v := range extra {
		body[k] = v
	}
	simWriteJSON(w, status, body)
}

func simWriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"server_error"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store, no-cache")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// ---- discovery -------------------------------------------------------------

// base is the identity host the client used: https://login.microsoftonline.com
// (or another login host) when it came through the proxy, else the
// simulator's loopback URL.
func (id *simIdentity) base(r *http.Request) string {
	if b := simPublicBase(r); b != "" {
		return b
	}
	return id.s.base
}

// simWriteDiscovery writes a discovery document with the identity platform's
// caching headers (cacheable for a day by the client, readable cross-origin).
func simWriteDiscovery(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		simWriteJSON(w, http.StatusInternalServerError, map[string]any{"error": "server_error"})
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "max-age=86400, private")
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "GET, OPTIONS")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// simMultiTenant reports whether a path tenant is one of the multi-tenant
// aliases, whose documents keep the alias in every endpoint and carry
// {tenantid} in the issuer.
func simMultiTenant(t string) bool {
	switch strings.ToLower(t) {
	case "organizations", "common", "consumers":
		return true
	}
	return false
}

// openIDConfig is GET /{tenant}/v2.0/.well-known/openid-configuration, with
// the fields of Microsoft's document (learn.microsoft.com/entra/identity-
// platform/v2-protocols-oidc "Fetch the OpenID configuration document"):
// for a tenant every endpoint names its GUID; for organizations/common the
// alias stays in the endpoints and the issuer is .../{tenantid}/v2.0.
func (id *simIdentity) openIDConfig(w http.ResponseWriter, r *http.Request) {
	host := id.base(r)
	seg := id.s.sc.Tenant.ID
	issuer := host + "/" + seg + "/v2.0"
	var region any = "EU"
	if t := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")[0]; simMultiTenant(t) {
		seg = strings.ToLower(t)
		issuer = host + "/{tenantid}/v2.0"
		region = nil
	}
	simWriteDiscovery(w, simOpenIDDocument(host, seg, issuer, region))
}

// simOpenIDDocument is the openid-configuration of the authority host/seg,
// the fields of Microsoft's document (the tenant's simulator and the
// partner simulator serve the same one).
func simOpenIDDocument(host, seg, issuer string, region any) map[string]any {
	base := host + "/" + seg
	return map[string]any{
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"jwks_uri":                              base + "/discovery/v2.0/keys",
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"issuer":                                issuer,
		"request_uri_parameter_supported":       false,
		"userinfo_endpoint":                     "https://graph.microsoft.com/oidc/userinfo",
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"device_authorization_endpoint":         base + "/oauth2/v2.0/devicecode",
		"http_logout_supported":                 true,
		"frontchannel_logout_supported":         true,
		"end_session_endpoint":                  base + "/oauth2/v2.0/logout",
		"claims_supported":                      []string{"sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"},
		"kerberos_endpoint":                     base + "/kerberos",
		"tenant_region_scope":                   region,
		"cloud_instance_name":                   "microsoftonline.com",
		"cloud_graph_host_name":                 "graph.windows.net",
		"msgraph_host":                          "graph.microsoft.com",
		"rbac_url":                              "https://pas.windows.net",
	}
}

// simCloudAliases is the instance-discovery metadata Microsoft publishes for
// its clouds (GET https://login.microsoftonline.com/common/discovery/instance
// ?api-version=1.1, as recorded; MSAL's KnownMetadata has the same list).
var simCloudAliases = []map[string]any{
	{"preferred_network": "login.microsoftonline.com", "preferred_cache": "login.windows.net",
		"aliases": []string{"login.microsoftonline.com", "login.windows.net", "login.microsoft.com", "sts.windows.net"}},
	{"preferred_network": "login.partner.microsoftonline.cn", "preferred_cache": "login.partner.microsoftonline.cn",
		"aliases": []string{"login.partner.microsoftonline.cn", "login.chinacloudapi.cn"}},
	{"preferred_network": "login.microsoftonline.de", "preferred_cache": "login.microsoftonline.de",
		"aliases": []string{"login.microsoftonline.de"}},
	{"preferred_network": "login.microsoftonline.us", "preferred_cache": "login.microsoftonline.us",
		"aliases": []string{"login.microsoftonline.us", "login.usgovcloudapi.net"}},
	{"preferred_network": "login-us.microsoftonline.com", "preferred_cache": "login-us.microsoftonline.com",
		"aliases": []string{"login-us.microsoftonline.com"}},
}

// instanceDiscovery is GET /common/discovery/instance: the tenant discovery
// endpoint follows the authorization_endpoint the client sends (its host and
// tenant), and the metadata lists Microsoft's clouds' aliases (plus the
// simulator's loopback host when that is what the client uses). An
// authorization_endpoint on a host that is not an identity host is 400
// invalid_instance (AADSTS50049), as Microsoft answers.
func (id *simIdentity) instanceDiscovery(w http.ResponseWriter, r *http.Request) {
	host := id.base(r)
	tenant := "common"
	if ae := r.URL.Query().Get("authorization_endpoint"); ae != "" {
		u, err := url.Parse(ae)
		known := err == nil && u.Scheme == "https" && (strings.EqualFold("https://"+u.Host, id.s.base) || simProxyGroup(u.Host) == GroupIdentity)
		if !known {
			id.aadError(w, r, http.StatusBadRequest, "invalid_instance", 50049, "Unknown or invalid instance.")
			return
		}
		host = "https://" + strings.ToLower(u.Host)
		if t := strings.Split(strings.TrimPrefix(u.Path, "/"), "/")[0]; t != "" {
			tenant = t
		}
	}
	meta := append([]map[string]any(nil), simCloudAliases...)
	if h := strings.TrimPrefix(host, "https://"); simProxyGroup(h) == "" {
		meta = append(meta, map[string]any{"preferred_network": h, "preferred_cache": h, "aliases": []string{h}})
	}
	simWriteDiscovery(w, map[string]any{
		"tenant_discovery_endpoint": host + "/" + tenant + "/v2.0/.well-known/openid-configuration",
		"api-version":               "1.1",
		"metadata":                  meta,
	})
}

// ---- scopes ------------------------------------------------------------------

var simOIDCScopes = map[string]bool{"openid": true, "offline_access": true, "profile": true, "email": true}

// resourceOf returns the one resource a scope string asks for.
func (id *simIdentity) resourceOf(w http.ResponseWriter, r *http.Request, scope string) (string, bool) {
	if strings.TrimSpace(scope) == "" {
		id.aadError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'scope'.")
		return "", false
	}
	resource := ""
	for _, sc := range strings.Fields(scope) {
		if simOIDCScopes[strings.ToLower(sc)] {
			continue
		}
		res := simGraphResource
		if i := strings.LastIndex(sc, "/"); i > 0 {
			known, ok := simResources[strings.ToLower(strings.TrimRight(sc[:i], "/"))]
			if !ok {
				id.aadError(w, r, http.StatusBadRequest, "invalid_resource", 500011, fmt.Sprintf("The resource principal named %s was not found in the tenant named %s. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.", simClip(sc[:i], 120), id.s.sc.Tenant.DisplayName))
				return "", false
			}
			res = known
		}
		if resource != "" && resource != res {
			id.aadError(w, r, http.StatusBadRequest, "invalid_scope", 700022, "The provided value for the input parameter scope is not valid because it contains more than one resource. Scope "+simClip(scope, 200)+" is not valid.")
			return "", false
		}
		resource = res
	}
	if resource == "" {
		resource = simGraphResource
	}
	return resource, true
}

func simHasScope(scope, want string) bool {
	for _, s := range strings.Fields(scope) {
		if strings.EqualFold(s, want) {
			return true
		}
	}
	return false
}

// scpFor is the scp claim: the named permissions, or the default consented set.
func simScpFor(resource, scope string) string {
	var named []string
	for _, s := range strings.Fields(scope) {
		if simOIDCScopes[strings.ToLower(s)] {
			continue
		}
		if i := strings.LastIndex(s, "/"); i >= 0 {
			s = s[i+1:]
		}
		if s != "" && s != ".default" {
			named = append(named, s)
		}
	}
	if len(named) == 0 {
		return simDefaultScp[resource]
	}
	return strings.Join(named, " ")
}

// checkClient validates client_id: missing → 900144, not a GUID → 700016.
func (id *simIdentity) checkClient(w http.ResponseWriter, r *http.Request, clientID string) bool {
	if clientID == "" {
		id.aadError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.")
		return false
	}
	if !simIsGUID(clientID) {
		id.aadError(w, r, http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", simClip(clientID, 80), id.s.sc.Tenant.DisplayName))
		return false
	}
	return true
}

// ---- device code -------------------------------------------------------------

const simUserCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ23456789"

func simUserCode() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	out := make([]byte, 0, 9)
	for i, c := range b {
		if i == 4 {
			out = append(out, '-')
		}
		out = append(out, simUserCodeAlphabet[int(c)%len(simUserCodeAlphabet)])
	}
	return string(out)
}

func simNormUserCode(c string) string {
	c = strings.ToUpper(strings.TrimSpace(c))
	c = strings.ReplaceAll(c, "-", "")
	return strings.ReplaceAll(c, " ", "")
}

func (id *simIdentity) deviceCode(w http.ResponseWriter, r *http.Request) {
	clientID := r.PostForm.Get("client_id")
	if !id.checkClient(w, r, clientID) {
		return
	}
	scope := r.PostForm.Get("scope")
	resource, ok := id.resourceOf(w, r, scope)
	if !ok {
		return
	}
	si := id.s.sc.SignIn
	now := id.s.now()
	life := si.CodeLifetime.D()
	dc := &simDeviceCode{
		deviceCode: simSecret(64),
		clientID:   clientID,
		scope:      scope,
		resource:   resource,
		created:    now,
		expires:    now.Add(life),
	}
	if si.AutoApprove == nil || *si.AutoApprove {
		dc.autoApproveAt = now.Add(si.ApproveDelay.D())
	}
	id.mu.Lock()
	for {
		dc.userCode = simUserCode()
		if _, dup := id.byUser[simNormUserCode(dc.userCode)]; !dup {
			break
		}
	}
	id.byDevice[dc.deviceCode] = dc
	id.byUser[simNormUserCode(dc.userCode)] = dc
	id.mu.Unlock()
	verify := id.base(r) + "/devicelogin"
	simWriteJSON(w, http.StatusOK, map[string]any{
		"user_code":        dc.userCode,
		"device_code":      dc.deviceCode,
		"verification_uri": verify,
		"expires_in":       int(life / time.Second),
		"interval":         5,
		"message":          fmt.Sprintf("To sign in, use a web browser to open the page %s and enter the code %s to authenticate.", verify, dc.userCode),
	})
}

// ApproveDeviceCode approves a pending device code as the scenario's sign-in
// user, as if someone typed it on the /devicelogin page.
func (s *Server) ApproveDeviceCode(userCode string) error {
	_, err := s.idp.approve(userCode)
	return err
}

// approve marks a user code approved; the error text is shown on the page.
func (id *simIdentity) approve(userCode string) (*simDeviceCode, error) {
	now := id.s.now()
	id.mu.Lock()
	defer id.mu.Unlock()
	dc, ok := id.byUser[simNormUserCode(userCode)]
	if !ok {
		return nil, fmt.Errorf("That code didn't work. Check the code and try again.")
	}
	if !now.Before(dc.expires) {
		return nil, fmt.Errorf("The code you entered has expired. Get a new code from the device you're trying to sign in to and try again.")
	}
	if dc.redeemed {
		return nil, fmt.Errorf("This code has already been used. Get a new code from the device you're trying to sign in to and try again.")
	}
	if dc.approvedAt.IsZero() {
		dc.approvedAt = now
	}
	return dc, nil
}

// ---- sign-in refusals ---------------------------------------------------------

// refusal is how Entra refuses this account's sign-in, if it does
// (sign_in.refuse, or a sign-in user with "enabled": false). Texts and codes:
// learn.microsoft.com/entra/identity-platform/reference-error-codes.
func (id *simIdentity) refusal(u UserSpec, clientID string) (code string, aad int, msg string, refused bool) {
	switch ref := id.s.sc.SignIn.Refuse; {
	case ref == "account-disabled" || (ref == "" && u.Enabled != nil && !*u.Enabled):
		return "invalid_grant", 50057, "The user account is disabled.", true
	case ref == "account-locked":
		return "invalid_grant", 50053, "Your account is locked because you tried to sign in too many times with an incorrect user ID or password.", true
	case ref == "password-expired":
		return "invalid_grant", 50055, "The password is expired.", true
	case ref == "not-in-tenant":
		return "invalid_grant", 50020, fmt.Sprintf("User account '%s' from identity provider 'live.com' does not exist in tenant '%s' and cannot access the application '%s'(Microsoft Graph Command Line Tools) in that tenant. The account needs to be added as an external user in the tenant first. Sign out and sign in again with a different Azure Active Directory user account.", u.UPN, id.s.sc.Tenant.DisplayName, simClip(clientID, 40)), true
	}
	return "", 0, "", false
}

// refuse writes the refusal for u, if any, and says whether it did.
func (id *simIdentity) refuse(w http.ResponseWriter, r *http.Request, u UserSpec, clientID string) bool {
	code, aad, msg, refused := id.refusal(u, clientID)
	if refused {
		id.aadError(w, r, http.StatusBadRequest, code, aad, msg)
	}
	return refused
}

// decline marks a pending user code declined (Cancel on /devicelogin).
func (id *simIdentity) decline(userCode string) error {
	now := id.s.now()
	id.mu.Lock()
	defer id.mu.Unlock()
	dc, ok := id.byUser[simNormUserCode(userCode)]
	switch {
	case !ok:
		return fmt.Errorf("That code didn't work. Check the code and try again.")
	case !now.Before(dc.expires):
		return fmt.Errorf("The code you entered has expired. Get a new code from the device you're trying to sign in to and try again.")
	case dc.redeemed:
		return fmt.Errorf("This code has already been used. Get a new code from the device you're trying to sign in to and try again.")
	}
	dc.declined = true
	return nil
}

// DeclineDeviceCode declines a pending device code, as if the user pressed
// Cancel on the /devicelogin page.
func (s *Server) DeclineDeviceCode(userCode string) error { return s.idp.decline(userCode) }

// logout is the end_session_endpoint: a signed-out page, or a redirect to a
// localhost post_logout_redirect_uri (learn.microsoft.com/entra/identity-
// platform/v2-protocols-oidc "Send a sign-out request").
func (id *simIdentity) logout(w http.ResponseWriter, r *http.Request) {
	if ru := r.URL.Query().Get("post_logout_redirect_uri"); ru != "" {
		if u, err := url.Parse(ru); err == nil && (u.Scheme == "http" || u.Scheme == "https") && strings.EqualFold(u.Hostname(), "localhost") && u.User == nil {
			http.Redirect(w, r, u.String(), http.StatusFound)
			return
		}
	}
	id.renderPage(w, http.StatusOK, simPage{Title: "You signed out of your account", Success: "It's a good idea to close all browser windows."})
}

// ---- token endpoint ------------------------------------------------------

func (id *simIdentity) token(w http.ResponseWriter, r *http.Request) {
	clientID := r.PostForm.Get("client_id")
	if !id.checkClient(w, r, clientID) {
		return
	}
	switch gt := r.PostForm.Get("grant_type"); gt {
	case "urn:ietf:params:oauth:grant-type:device_code", "device_code":
		id.tokenDeviceCode(w, r, clientID)
	case "refresh_token":
		id.tokenRefresh(w, r, clientID)
	case "authorization_code":
		id.tokenAuthCode(w, r, clientID)
	case "":
		id.aadError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
	default:
		id.aadError(w, r, http.StatusBadRequest, "unsupported_grant_type", 70003, fmt.Sprintf("The app requested an unsupported grant type '%s'.", simClip(gt, 60)))
	}
}

func (id *simIdentity) tokenDeviceCode(w http.ResponseWriter, r *http.Request, clientID string) {
	code := r.PostForm.Get("device_code")
	if code == "" {
		id.aadError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'device_code'.")
		return
	}
	now := id.s.now()
	id.mu.Lock()
	dc, ok := id.byDevice[code]
	var state string
	switch {
	case !ok || dc.clientID != clientID:
		state = "bad"
	case dc.redeemed:
		state = "redeemed"
	case !now.Before(dc.expires):
		state = "expired"
	case dc.declined:
		state = "declined"
	case !dc.approved(now):
		state = "pending"
	case id.s.sc.SignIn.Refuse == "declined" && dc.approvedAt.IsZero():
		// The simulated user pressed Cancel instead of approving.
		dc.declined = true
		state = "declined"
	default:
		state = "approved"
	}
	block := id.s.sc.SignIn.Block
	_, _, _, refused := id.refusal(id.signInUser(), clientID)
	if state == "approved" && block == "" && !refused {
		dc.redeemed = true
	}
	if state == "declined" {
		dc.redeemed = true // a declined code is spent (AADSTS90120 afterwards)
	}
	id.mu.Unlock()
	if state == "approved" && refused {
		id.refuse(w, r, id.signInUser(), clientID)
		return
	}
	switch state {
	case "declined":
		// learn.microsoft.com/entra/identity-platform/v2-oauth2-device-code
		// "Expected errors": authorization_declined, the end user denied
		// the authorization request (no AADSTS code is documented for it).
		id.aadError(w, r, http.StatusBadRequest, "authorization_declined", 0, "The end user denied the authorization request.")
	case "bad":
		id.aadError(w, r, http.StatusBadRequest, "bad_verification_code", 70018, "Invalid verification code entered.")
	case "redeemed":
		id.aadError(w, r, http.StatusBadRequest, "invalid_grant", 90120, "The device code was already redeemed. The request was already authorized or declined.")
	case "expired":
		id.aadError(w, r, http.StatusBadRequest, "expired_token", 70019, "Verification code expired.")
	case "pending":
		id.aadError(w, r, http.StatusBadRequest, "authorization_pending", 70016, "OAuth 2.0 device flow error. Authorization is pending. Continue polling.")
	case "approved":
		switch block {
		case "device-code-ca":
			id.aadErrorExtra(w, r, http.StatusBadRequest, "invalid_grant", 53003, "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.", map[string]any{"suberror": "message_only"})
		case "security-defaults":
			id.aadError(w, r, http.StatusBadRequest, "invalid_grant", 530035, "Access has been blocked by security defaults. This is due to the request using legacy auth or being deemed unsafe by security defaults policies. For more information, see https://aka.ms/security-defaults.")
		case "mfa-required":
			appID := simGraphAppID
			if dc.resource == simExchangeResource {
				appID = simExchangeAppID
			}
			id.aadErrorExtra(w, r, http.StatusBadRequest, "invalid_grant", 50076, fmt.Sprintf("Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '%s'.", appID), map[string]any{"suberror": "basic_action", "claims": `{"access_token":{"capolids":{"essential":true,"values":["00000000-0000-0000-0000-000000000001"]}}}`})
		default:
			id.writeTokens(w, r, id.signInUser(), dc.resource, r.PostForm.Get("scope"), clientID, dc.scope)
		}
	}
}

func (id *simIdentity) tokenRefresh(w http.ResponseWriter, r *http.Request, clientID string) {
	rt := r.PostForm.Get("refresh_token")
	if rt == "" {
		id.aadError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'refresh_token'.")
		return
	}
	scope := r.PostForm.Get("scope")
	resource, ok := id.resourceOf(w, r, scope)
	if !ok {
		return
	}
	now := id.s.now()
	id.mu.Lock()
	ent, ok := id.refresh[rt]
	id.mu.Unlock()
	switch {
	case !ok:
		id.aadError(w, r, http.StatusBadRequest, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
	case ent.clientID != clientID:
		id.aadError(w, r, http.StatusBadRequest, "invalid_grant", 70000, "Provided grant is invalid or malformed: the refresh token was issued to a different client.")
	case !now.Before(ent.expires):
		id.aadError(w, r, http.StatusBadRequest, "invalid_grant", 700082, "The refresh token has expired due to inactivity. The token was issued on "+ent.expires.Add(-simRefreshLifetime).UTC().Format(time.RFC3339)+" and was inactive for 90.00:00:00.")
	case id.refuse(w, r, ent.user, clientID):
	default:
		id.writeTokens(w, r, ent.user, resource, scope, clientID, scope)
	}
}

const simRefreshLifetime = 90 * 24 * time.Hour

// ---- authorization code + PKCE ----------------------------------------------

func (id *simIdentity) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	clientID := q.Get("client_id")
	redirect := q.Get("redirect_uri")
	if clientID == "" || !simIsGUID(clientID) {
		id.errorPage(w, http.StatusBadRequest, 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'.", simClip(clientID, 80), id.s.sc.Tenant.DisplayName))
		return
	}
	ru, err := url.Parse(redirect)
	if redirect == "" || err != nil || ru.Scheme != "http" || !strings.EqualFold(ru.Hostname(), "localhost") || ru.User != nil {
		id.errorPage(w, http.StatusBadRequest, 50011, fmt.Sprintf("The redirect URI '%s' specified in the request does not match the redirect URIs configured for the application '%s'. The simulator accepts http://localhost[:port] redirect URIs only.", simClip(redirect, 200), clientID))
		return
	}
	state := q.Get("state")
	formPost := q.Get("response_mode") == "form_post"
	fail := func(code string, aad int, msg string) {
		v := url.Values{}
		v.Set("error", code)
		v.Set("error_description", fmt.Sprintf("AADSTS%d: %s", aad, msg))
		v.Set("error_uri", "https://login.microsoftonline.com/error?code="+strconv.Itoa(aad))
		if state != "" {
			v.Set("state", state)
		}
		id.respond(w, r, ru, v, formPost)
	}
	if rt := q.Get("response_type"); rt != "code" {
		fail("unsupported_response_type", 900144, "The app requested response type '"+simClip(rt, 40)+"'; only 'code' is supported.")
		return
	}
	scope := q.Get("scope")
	resource, ok := id.scopeResourceQuiet(scope)
	if !ok {
		fail("invalid_scope", 70011, "The provided value for the input parameter 'scope' is not valid.")
		return
	}
	challenge := q.Get("code_challenge")
	if challenge == "" || q.Get("code_challenge_method") != "S256" {
		fail("invalid_request", 9002325, "Proof Key for Code Exchange (S256) is required for this public client.")
		return
	}
	code := simSecret(48)
	id.mu.Lock()
	id.codes[code] = &simAuthCode{
		clientID: clientID, redirectURI: redirect, scope: scope, resource: resource,
		challenge: challenge, user: id.signInUser(), expires: id.s.now().Add(10 * time.Minute),
	}
	id.mu.Unlock()
	v := url.Values{}
	v.Set("code", code)
	if state != "" {
		v.Set("state", state)
	}
	v.Set("session_state", simNewGUID())
	id.respond(w, r, ru, v, formPost)
}

// respond delivers an authorize result to the redirect URI: a 302 with the
// values in the query (response_mode=query, the default) or an
// auto-submitting HTML form that POSTs them (response_mode=form_post, which
// MSAL Go uses for interactive sign-in).
func (id *simIdentity) respond(w http.ResponseWriter, r *http.Request, ru *url.URL, v url.Values, formPost bool) {
	if formPost {
		id.renderFormPost(w, ru.String(), v)
		return
	}
	q := ru.Query()
	for k, vals := range v {
		q[k] = vals
	}
	ru.RawQuery = q.Encode()
	http.Redirect(w, r, ru.String(), http.StatusFound)
}

// scopeResourceQuiet is resourceOf without writing an error.
func (id *simIdentity) scopeResourceQuiet(scope string) (string, bool) {
	rec := &simDiscardWriter{h: http.Header{}}
	res, ok := id.resourceOf(rec, &http.Request{Header: http.Header{}}, scope)
	return res, ok
}

type simDiscardWriter struct{ h http.Header }

func (d *simDiscardWriter) Header() http.Header         { return d.h }
func (d *simDiscardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *simDiscardWriter) WriteHeader(int)             {}

func (id *simIdentity) tokenAuthCode(w http.ResponseWriter, r *http.Request, clientID string) {
	code := r.PostForm.Get("code")
	if code == "" {
		id.aadError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'code'.")
		return
	}
	verifier := r.PostForm.Get("code_verifier")
	now := id.s.now()
	id.mu.Lock()
	ac, ok := id.codes[code]
	var problem string
	switch {
	case !ok:
		problem = "unknown"
	case ac.used:
		problem = "used"
	case !now.Before(ac.expires):
		problem = "expired"
	case ac.clientID != clientID:
		problem = "client"
	case r.PostForm.Get("redirect_uri") != ac.redirectURI:
		problem = "redirect"
	case verifier == "":
		problem = "noverifier"
	case simPKCE(verifier) != ac.challenge:
		problem = "verifier"
	default:
		ac.used = true
	}
	id.mu.Unlock()
	switch problem {
	case "unknown":
		id.aadError(w, r, http.StatusBadRequest, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
	case "used":
		id.aadError(w, r, http.StatusBadRequest, "invalid_grant", 54005, "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.")
	case "expired":
		id.aadError(w, r, http.StatusBadRequest, "invalid_grant", 70008, "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.")
	case "client":
		id.aadError(w, r, http.StatusBadRequest, "invalid_grant", 70000, "Provided grant is invalid or malformed: the authorization code was issued to a different client.")
	case "redirect":
		id.aadError(w, r, http.StatusBadRequest, "invalid_grant", 50011, "The redirect URI specified in the request does not match the redirect URI the authorization code was issued to.")
	case "noverifier":
		id.aadError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'code_verifier'.")
	case "verifier":
		id.aadError(w, r, http.StatusBadRequest, "invalid_grant", 501481, "The Code_Verifier does not match the code_challenge supplied in the authorization request.")
	default:
		scope := r.PostForm.Get("scope")
		if scope == "" {
			scope = ac.scope
		}
		resource, ok := id.resourceOf(w, r, scope)
		if !ok || id.refuse(w, r, ac.user, clientID) {
			return
		}
		id.writeTokens(w, r, ac.user, resource, scope, clientID, ac.scope)
	}
}

// simPKCE is the S256 code challenge of a verifier.
func simPKCE(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// ---- token issuing -------------------------------------------------------

func (id *simIdentity) tidOf(u UserSpec) string {
	if u.HomeTenant != "" {
		return strings.ToLower(u.HomeTenant)
	}
	return id.s.sc.Tenant.ID
}

// issueAccessToken mints and registers an access token.
func (id *simIdentity) issueAccessToken(u UserSpec, resource, scope, clientID string, now time.Time) string {
	tid := id.tidOf(u)
	oid := ObjectIDFor(tid, u.UPN)
	exp := now.Add(id.s.sc.SignIn.TokenLifetime.D())
	scp := simScpFor(resource, scope)
	tok := simJWT(map[string]any{
		"aud":         resource,
		"iss":         "https://sts.windows.net/" + tid + "/",
		"iat":         now.Unix(),
		"nbf":         now.Unix(),
		"exp":         exp.Unix(),
		"tid":         tid,
		"oid":         oid,
		"upn":         u.UPN,
		"unique_name": u.UPN,
		"name":        u.DisplayName,
		"scp":         scp,
		"appid":       clientID,
		"ver":         "1.0",
		"jti":         simSecret(16),
	})
	id.s.tokens.Add(tok, Principal{UPN: u.UPN, ObjectID: oid, TenantID: tid, Audience: resource, Expires: exp, Scopes: scp, ClientID: clientID})
	return tok
}

// writeTokens answers a successful token request. echo is the scope sent
// back (the request's scope, which MSAL checks verbatim); granted is the
// scope of the original grant (decides id_token and refresh_token).
func (id *simIdentity) writeTokens(w http.ResponseWriter, r *http.Request, u UserSpec, resource, echo, clientID, granted string) {
	now := id.s.now()
	if echo == "" {
		echo = granted
	}
	life := id.s.sc.SignIn.TokenLifetime.D()
	tid := id.tidOf(u)
	oid := ObjectIDFor(tid, u.UPN)
	body := map[string]any{
		"token_type":     "Bearer",
		"scope":          simGrantedScope(resource, echo),
		"expires_in":     int(life / time.Second),
		"ext_expires_in": int(life / time.Second),
		"access_token":   id.issueAccessToken(u, resource, echo, clientID, now),
	}
	ci, _ := json.Marshal(map[string]string{"uid": oid, "utid": tid})
	body["client_info"] = base64.RawURLEncoding.EncodeToString(ci)
	if simHasScope(granted, "openid") || simHasScope(echo, "openid") {
		body["id_token"] = simJWT(map[string]any{
			"aud":                clientID,
			"iss":                id.base(r) + "/" + tid + "/v2.0",
			"iat":                now.Unix(),
			"nbf":                now.Unix(),
			"exp":                now.Add(time.Hour).Unix(),
			"name":               u.DisplayName,
			"oid":                oid,
			"preferred_username": u.UPN,
			"sub":                simSubject(oid, clientID),
			"tid":                tid,
			"ver":                "2.0",
		})
	}
	if simHasScope(granted, "offline_access") || simHasScope(echo, "offline_access") {
		rt := simSecret(96)
		id.mu.Lock()
		id.refresh[rt] = &simRefresh{user: u, clientID: clientID, expires: now.Add(simRefreshLifetime)}
		id.mu.Unlock()
		body["refresh_token"] = rt
	}
	simWriteJSON(w, http.StatusOK, body)
}

// simGrantedScope is the token response's scope: the scopes the token is
// valid for — each requested resource scope (MSAL checks they are all there;
// ".default" stays), the permissions granted on the resource, prefixed with
// its identifier (https://graph.microsoft.com/User.Read;
// https://management.core.windows.net//user_impersonation), and the OpenID
// scopes openid/profile/email that were asked for (RFC 6749 §5.1 "scope";
// learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow
// "Successful response": "The scopes that the access_token is valid for").
func simGrantedScope(resource, requested string) string {
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		if k := strings.ToLower(s); !seen[k] {
			seen[k] = true
			out = append(out, s)
		}
	}
	var oidc []string
	for _, s := range strings.Fields(requested) {
		switch strings.ToLower(s) {
		case "openid", "profile", "email":
			oidc = append(oidc, strings.ToLower(s))
		case "offline_access":
		default:
			add(s)
		}
	}
	prefix := strings.TrimRight(resource, "/") + "/"
	if strings.HasSuffix(resource, "/") {
		prefix = resource + "/"
	}
	for _, perm := range strings.Fields(simScpFor(resource, requested)) {
		add(prefix + perm)
	}
	for _, s := range oidc {
		add(s)
	}
	return strings.Join(out, " ")
}

func simSubject(oid, clientID string) string {
	sum := sha256.Sum256([]byte(oid + "|" + clientID))
	return base64.RawURLEncoding.EncodeToString(sum[:])[:43]
}

// ---- small helpers ---------------------------------------------------------

// simSecret is n random bytes, base64url (device codes, refresh tokens, codes).
func simSecret(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// simNewGUID is a fresh crypto-random version 4 GUID (request ids,
// correlation ids; needs no lock).
func simNewGUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return simGUID(b, 4)
}

// simClip bounds echoed client input in messages.
func simClip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
