package sim

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"itdr-onboard/endpoints"
)

// Partner simulator endpoint groups (besides identity, graph, platform).
const GroupPartnerCenter = "partnercenter"

// Resources the partner simulator issues tokens for.
const (
	simPartnerCenterResource = "https://api.partnercenter.microsoft.com"
	simPartnerCenterAppID    = "fa3d9a0c-3fb0-42cc-9193-47c7ecd2edbd"
)

// PartnerServer is the multi-tenant simulator: the identity platform for the
// partner authority and every customer authority, the partner side of
// Microsoft Graph (GDAP), Partner Center and the ITDR platform API.
type PartnerServer struct {
	sc     *PartnerScenario
	now    func() time.Time
	start  time.Time
	tls    *simTLS
	ln     net.Listener
	http   *http.Server
	base   string
	tokens *TokenStore
	log    *simReqLog
	pf     *State // platform only (organizations, integrations)
	pfH    http.Handler
	// latency is added to every request (Options.Latency).
	latency time.Duration

	groups    map[string]string // lower name → id
	customers map[string]*ptCustomer
	byDomain  map[string]*ptCustomer
	order     []*ptCustomer

	mu       sync.Mutex
	devices  map[string]*ptDevice
	refresh  map[string]*ptRefresh
	pcWindow map[string][]time.Time // applicationId → recent consent requests
	// throttles are the throttled windows armed by ThrottleAfter.
	throttles     []*ptThrottle
	throttleArmed atomic.Bool

	// The partner tenant's registrations (partner_apps.go).
	apps      []*ptApp
	sps       []*ptSP
	grants    []*ptGrant
	writeHook func(method, path string)

	tmu sync.Mutex // builds customer tenant states (partner_tenant.go)

	closeOnce sync.Once
	served    chan struct{}
}

type ptCustomer struct {
	spec      CustomerSpec
	tid       string
	rels      []*ptRelationship
	consented bool
	consentAt time.Time
	scopes    map[string]string // enterpriseApplicationId → scope list
	state     *State            // the customer's own tenant (tenantState), built on first use
}

type ptRelationship struct {
	id, etag    string
	spec        RelationshipSpec
	roles       []string
	created     time.Time
	activated   time.Time // zero when never active
	end         time.Time
	assignments []*ptAssignment
}

type ptAssignment struct {
	id       string
	groupID  string
	roles    []string
	created  time.Time
	activeAt time.Time
}

type ptDevice struct {
	clientID, scope, resource string
	expires                   time.Time
	redeemed                  bool
}

type ptRefresh struct {
	upn      string
	clientID string
}

// ptReqKey carries the per-request record of which tenant was acted on.
type ptReqKey struct{}

type ptReqInfo struct{ tenant string }

func ptSetTenant(r *http.Request, tid string) {
	if info, ok := r.Context().Value(ptReqKey{}).(*ptReqInfo); ok {
		info.tenant = tid
	}
}

// StartPartner starts the partner simulator over loopback TLS.
func StartPartner(in *PartnerScenario, opt Options) (*PartnerServer, error) {
	if in == nil {
		return nil, errors.New("sim: no partner scenario")
	}
	b, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	sc := &PartnerScenario{}
	if err := json.Unmarshal(b, sc); err != nil {
		return nil, err
	}
	if err := sc.Validate(); err != nil {
		return nil, fmt.Errorf("partner scenario %s: %w", sc.Name, err)
	}
	if sc.Propagation == 0 {
		sc.Propagation = Duration(3 * time.Minute)
	}
	if sc.PartnerCenterRPS == 0 {
		sc.PartnerCenterRPS = 50
	}
	now := opt.Now
	if now == nil {
		now = time.Now
	}
	s := &PartnerServer{
		sc: sc, now: now, start: now(),
		tokens:    NewTokenStore(now),
		latency:   opt.Latency,
		log:       &simReqLog{out: opt.Log},
		groups:    map[string]string{},
		customers: map[string]*ptCustomer{},
		byDomain:  map[string]*ptCustomer{},
		devices:   map[string]*ptDevice{},
		refresh:   map[string]*ptRefresh{},
		pcWindow:  map[string][]time.Time{},
		served:    make(chan struct{}),
	}
	s.build()
	// The platform side reuses the single-tenant simulator's platform API
	// (organizations, integrations) with the partner as its tenant.
	pfsc := &Scenario{
		Name:     sc.Name + "-platform",
		Seed:     sc.Seed,
		Tenant:   TenantSpec{ID: sc.Partner.ID, InitialDomain: simInitialDomain(sc.Partner.Domain), DisplayName: stDefault(sc.Partner.DisplayName, "Partner")},
		Users:    []UserSpec{{UPN: sc.Partner.Users[0].UPN}},
		Platform: sc.Platform,
		// Audit data flows, so integrations present at start read healthy.
		Exchange: ExchangeSpec{UnifiedAuditLogIngestionEnabled: true},
	}
	pfsc, err = simNormalize(pfsc)
	if err != nil {
		return nil, err
	}
	st, err := NewState(pfsc, now)
	if err != nil {
		return nil, fmt.Errorf("sim: partner platform: %w", err)
	}
	st.Tokens = s.tokens
	// Integrations mapped during the run read their consent and health
	// from the customer's own tenant (partner_tenant.go).
	st.TenantState = s.TenantState
	s.pf = st
	s.pfH = http.StripPrefix("/platform", st.PlatformHandler())

	t, err := simNewTLS(time.Now())
	if err != nil {
		return nil, err
	}
	s.tls = t
	addr := opt.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("sim: listen %s: %w", addr, err)
	}
	st.AuthorityURL = "https://" + simHostPort(ln.Addr())
	s.ln, s.base = ln, "https://"+simHostPort(ln.Addr())
	s.http = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 30 * time.Second,
		TLSNextProto:      map[string]func(*http.Server, *tls.Conn, http.Handler){},
		ErrorLog:          simDiscardLogger(),
	}
	go func() {
		defer close(s.served)
		_ = s.http.Serve(tls.NewListener(ln, t.serverConfig()))
	}()
	return s, nil
}

func simInitialDomain(d string) string {
	d = strings.ToLower(d)
	if strings.HasSuffix(d, ".onmicrosoft.com") {
		return d
	}
	return strings.SplitN(d, ".", 2)[0] + ".onmicrosoft.com"
}

// build derives ids and timestamps from the scenario (deterministic per seed).
func (s *PartnerServer) build() {
	sc := s.sc
	for _, g := range sc.Partner.Groups {
		id := g.ID
		if id == "" {
			id = simSeedGUID(sc.Seed, "group/"+strings.ToLower(g.Name), 0)
		}
		s.groups[strings.ToLower(g.Name)] = strings.ToLower(id)
	}
	for i, c := range sc.Customers {
		pc := &ptCustomer{spec: c, tid: strings.ToLower(c.TenantID), consented: c.Consented, scopes: map[string]string{}}
		if c.Consented {
			pc.consentAt = s.start.Add(-24 * time.Hour)
		}
		for j, r := range c.Relationships {
			rel := &ptRelationship{spec: r}
			rel.id = r.ID
			if rel.id == "" {
				rel.id = simSeedGUID(sc.Seed, "rel-a", i*16+j) + "-" + simSeedGUID(sc.Seed, "rel-b", i*16+j)
			}
			rel.etag = fmt.Sprintf(`W/"JyI%04d%02dIic="`, i, j)
			for _, role := range r.Roles {
				id, _ := simRoleID(role)
				rel.roles = append(rel.roles, id)
			}
			dur := 730 * 24 * time.Hour
			rel.created = s.start.Add(-r.ActivatedAgo.D() - time.Hour)
			switch r.Status {
			case "active", "expiring", "expired", "terminated", "terminating", "terminationRequested":
				rel.activated = s.start.Add(-r.ActivatedAgo.D())
				rel.end = rel.activated.Add(dur)
				if r.Status == "expired" || r.Status == "terminated" {
					rel.end = s.start.Add(-24 * time.Hour)
				}
			}
			for k, a := range r.Assignments {
				as := &ptAssignment{
					id:       simSeedGUID(sc.Seed, "assignment", i*256+j*16+k),
					groupID:  s.groups[strings.ToLower(a.Group)],
					created:  s.start.Add(-a.ActiveAfter.D()),
					activeAt: s.start.Add(a.ActiveAfter.D()),
				}
				if a.ActiveAfter == 0 {
					as.created = rel.activated
					as.activeAt = rel.activated
				}
				for _, role := range a.Roles {
					id, _ := simRoleID(role)
					as.roles = append(as.roles, id)
				}
				rel.assignments = append(rel.assignments, as)
			}
			pc.rels = append(pc.rels, rel)
		}
		s.customers[pc.tid] = pc
		s.byDomain[strings.ToLower(c.Domain)] = pc
		s.order = append(s.order, pc)
	}
	s.buildApps()
}

// ---- public API ------------------------------------------------------------

// Endpoints says where every simulated service lives; ClientID is the
// partner's onboarding app.
func (s *PartnerServer) Endpoints() endpoints.Endpoints {
	return endpoints.Endpoints{
		Cloud:                 "sim",
		Authority:             s.base,
		Graph:                 s.base + "/graph",
		GraphResource:         simGraphResource,
		Exchange:              s.base + "/exchange",
		ExchangeResource:      simExchangeResource,
		Platform:              s.base + "/platform",
		PartnerCenter:         s.base + "/partnercenter",
		PartnerCenterResource: simPartnerCenterResource,
		ClientID:              s.sc.Partner.AppID,
		CACertPEM:             string(s.tls.caPEM),
		PlatformAPIKey:        s.pf.pf.key,
		PlatformAPISecret:     s.pf.pf.secret,
	}
}

// URL is the base URL.
func (s *PartnerServer) URL() string { return s.base }

// PartnerTenantID is the partner tenant's id.
func (s *PartnerServer) PartnerTenantID() string { return strings.ToLower(s.sc.Partner.ID) }

// Scenario is the scenario the server runs.
func (s *PartnerServer) Scenario() *PartnerScenario { return s.sc }

// Requests returns a copy of the request log.
func (s *PartnerServer) Requests() []RequestRecord { return s.log.snapshot() }

// Tokens is the store of issued access tokens.
func (s *PartnerServer) Tokens() *TokenStore { return s.tokens }

// Consented reports whether the onboarding app is consented in a customer.
func (s *PartnerServer) Consented(tenantID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.customers[strings.ToLower(tenantID)]
	return c != nil && c.consented
}

// Close stops the server.
func (s *PartnerServer) Close() error {
	var err error
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		if e := s.http.Shutdown(ctx); e != nil {
			err = s.http.Close()
		}
		<-s.served
	})
	return err
}

// ServeHTTP routes and logs one request.
func (s *PartnerServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := s.now()
	wall := time.Now()
	// A throttled window (ThrottleAfter) decides at arrival, on the time
	// it is logged with; the refusal is answered after the latency.
	tgroup := ""
	switch p := r.URL.Path; {
	case strings.HasPrefix(p, "/platform/"):
		tgroup = GroupPlatform
	case strings.HasPrefix(p, "/graph/"):
		tgroup = GroupGraph
	}
	secs, refused := 0, false
	if tgroup != "" {
		start, secs, refused = s.throttle(tgroup)
	}
	if s.latency > 0 {
		t := time.NewTimer(s.latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
	}
	w.Header().Set("Date", start.UTC().Format(http.TimeFormat))
	if refused {
		s.writeThrottled(w, r, tgroup, secs)
		s.log.add(RequestRecord{Time: start.UTC(), Method: r.Method, Path: r.URL.Path, Status: http.StatusTooManyRequests,
			LatencyMS: float64(time.Since(wall).Microseconds()) / 1000, Group: tgroup, Fault: "throttle"})
		return
	}
	info := &ptReqInfo{}
	r = r.WithContext(context.WithValue(r.Context(), ptReqKey{}, info))
	sw := &simStatusWriter{ResponseWriter: w}
	r, note := simWithLogNote(r)
	group := GroupIdentity
	anchor := ""
	switch p := r.URL.Path; {
	case strings.HasPrefix(p, "/exchange/"):
		group = GroupExchange
		anchor = simAnchorForLog(r.Header.Get("X-AnchorMailbox"))
		s.serveExchange(sw, r, strings.TrimPrefix(p, "/exchange"))
	case strings.HasPrefix(p, "/graph/"):
		group = GroupGraph
		s.serveGraph(sw, r, strings.TrimPrefix(p, "/graph"))
	case strings.HasPrefix(p, "/partnercenter/"):
		group = GroupPartnerCenter
		s.servePartnerCenter(sw, r, strings.TrimPrefix(p, "/partnercenter"))
	case strings.HasPrefix(p, "/platform/"):
		group = GroupPlatform
		s.pfH.ServeHTTP(sw, r)
	default:
		s.serveIdentity(sw, r)
	}
	status := sw.status
	if status == 0 {
		status = http.StatusOK
	}
	rec := RequestRecord{
		Time: start.UTC(), Method: r.Method, Path: r.URL.Path, Status: status,
		LatencyMS: float64(time.Since(wall).Microseconds()) / 1000, Group: group, Tenant: info.tenant, Anchor: anchor,
	}
	note.fill(&rec)
	s.log.add(rec)
}

// ---- identity --------------------------------------------------------------

// resolveTenant maps an authority segment to "partner", a customer, or nothing.
func (s *PartnerServer) resolveTenant(seg string) (partner bool, c *ptCustomer, ok bool) {
	seg = strings.ToLower(seg)
	switch seg {
	case "organizations", "common", s.PartnerTenantID(), strings.ToLower(s.sc.Partner.Domain), simInitialDomain(s.sc.Partner.Domain):
		return true, nil, true
	}
	if c := s.customers[seg]; c != nil {
		return false, c, true
	}
	if c := s.byDomain[seg]; c != nil {
		return false, c, true
	}
	return false, nil, false
}

func (s *PartnerServer) aadError(w http.ResponseWriter, r *http.Request, status int, code string, aad int, msg string) {
	simWriteJSON(w, status, simAADBody(code, aad, msg, r, s.now()))
}

func (s *PartnerServer) serveIdentity(w http.ResponseWriter, r *http.Request) {
	segs := strings.Split(strings.Trim(strings.ToLower(r.URL.Path), "/"), "/")
	if len(segs) < 2 {
		simNotFound(w)
		return
	}
	partner, cust, ok := s.resolveTenant(segs[0])
	if !ok {
		s.aadError(w, r, http.StatusBadRequest, "invalid_tenant", 90002, fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", simClip(strings.Split(strings.Trim(r.URL.Path, "/"), "/")[0], 80)))
		return
	}
	tid := s.PartnerTenantID()
	if !partner {
		tid = cust.tid
	}
	ptSetTenant(r, tid)
	rest := strings.Join(segs[1:], "/")
	switch {
	case rest == "v2.0/.well-known/openid-configuration" && r.Method == http.MethodGet:
		s.openIDConfig(w, tid)
	case rest == "oauth2/v2.0/devicecode" && r.Method == http.MethodPost:
		s.deviceCode(w, r)
	case rest == "oauth2/v2.0/token" && r.Method == http.MethodPost:
		s.token(w, r, cust)
	default:
		simNotFound(w)
	}
}

func (s *PartnerServer) openIDConfig(w http.ResponseWriter, tid string) {
	simWriteDiscovery(w, simOpenIDDocument(s.base, tid, s.base+"/"+tid+"/v2.0", "EU"))
}

// resourceOf returns the single resource a scope string names.
func (s *PartnerServer) resourceOf(scope string) (string, bool) {
	res := ""
	for _, sc := range strings.Fields(scope) {
		if simOIDCScopes[strings.ToLower(sc)] {
			continue
		}
		r := simGraphResource
		if i := strings.LastIndex(sc, "/"); i > 0 {
			r = strings.ToLower(strings.TrimRight(sc[:i], "/"))
			switch r {
			case simGraphAppID, simGraphResource:
				r = simGraphResource
			case simExchangeAppID, simExchangeResource:
				r = simExchangeResource
			case simPartnerCenterAppID, simPartnerCenterResource:
				r = simPartnerCenterResource
			default:
				return "", false
			}
		}
		if res != "" && res != r {
			return "", false
		}
		res = r
	}
	if res == "" {
		res = simGraphResource
	}
	return res, true
}

func (s *PartnerServer) deviceCode(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.aadError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must be application/x-www-form-urlencoded.")
		return
	}
	clientID := r.PostForm.Get("client_id")
	if !simIsGUID(clientID) {
		s.aadError(w, r, http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'.", simClip(clientID, 80), s.sc.Partner.DisplayName))
		return
	}
	scope := r.PostForm.Get("scope")
	res, ok := s.resourceOf(scope)
	if !ok {
		s.aadError(w, r, http.StatusBadRequest, "invalid_scope", 70011, "The provided value for the input parameter 'scope' is not valid.")
		return
	}
	code := simSecret(48)
	user := simUserCode()
	s.mu.Lock()
	s.devices[code] = &ptDevice{clientID: clientID, scope: scope, resource: res, expires: s.now().Add(15 * time.Minute)}
	s.mu.Unlock()
	verify := s.base + "/devicelogin"
	simWriteJSON(w, http.StatusOK, map[string]any{
		"user_code": user, "device_code": code, "verification_uri": verify, "expires_in": 900, "interval": 1,
		"message": fmt.Sprintf("To sign in, use a web browser to open the page %s and enter the code %s to authenticate.", verify, user),
	})
}

// signer is the partner user who approves sign-ins.
func (s *PartnerServer) signer() PartnerUserSpec {
	u := s.sc.Partner.Users[0]
	for _, c := range s.sc.Partner.Users {
		if c.SignsIn {
			return c
		}
	}
	return u
}

func (s *PartnerServer) user(upn string) (PartnerUserSpec, bool) {
	for _, u := range s.sc.Partner.Users {
		if strings.EqualFold(u.UPN, upn) {
			return u, true
		}
	}
	return PartnerUserSpec{}, false
}

func (s *PartnerServer) token(w http.ResponseWriter, r *http.Request, cust *ptCustomer) {
	if err := r.ParseForm(); err != nil {
		s.aadError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must be application/x-www-form-urlencoded.")
		return
	}
	clientID := r.PostForm.Get("client_id")
	scope := r.PostForm.Get("scope")
	res, ok := s.resourceOf(scope)
	if !ok {
		s.aadError(w, r, http.StatusBadRequest, "invalid_scope", 700022, "The provided value for the input parameter scope is not valid because it contains more than one resource or an unknown one. Scope "+simClip(scope, 200)+" is not valid.")
		return
	}
	var upn string
	switch r.PostForm.Get("grant_type") {
	case "urn:ietf:params:oauth:grant-type:device_code", "device_code":
		s.mu.Lock()
		d := s.devices[r.PostForm.Get("device_code")]
		bad := d == nil || d.clientID != clientID || d.redeemed || !s.now().Before(d.expires)
		if !bad {
			d.redeemed = true
		}
		s.mu.Unlock()
		if bad {
			s.aadError(w, r, http.StatusBadRequest, "invalid_grant", 70018, "Invalid verification code entered.")
			return
		}
		// Device codes are approved at once by the signing-in partner user.
		upn = s.signer().UPN
	case "refresh_token":
		s.mu.Lock()
		rt := s.refresh[r.PostForm.Get("refresh_token")]
		s.mu.Unlock()
		if rt == nil {
			s.aadError(w, r, http.StatusBadRequest, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
			return
		}
		if rt.clientID != clientID {
			s.aadError(w, r, http.StatusBadRequest, "invalid_grant", 70000, "Provided grant is invalid or malformed: the refresh token was issued to a different client.")
			return
		}
		upn = rt.upn
	default:
		s.aadError(w, r, http.StatusBadRequest, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.")
		return
	}
	u, _ := s.user(upn)
	tid := s.PartnerTenantID()
	scp, ok := s.clientGate(w, r, clientID, res, cust)
	if !ok {
		return
	}
	if cust != nil {
		if !s.customerGate(w, r, u, cust, clientID, res) {
			return
		}
		tid = cust.tid
	}
	s.writeTokens(w, u, tid, res, scope, clientID, scp)
}

// customerGate decides a token request at a customer authority
// (gdap.md §1.4): the user needs effective GDAP roles there (propagated),
// the customer's Conditional Access must not block service providers, the
// client must be consented, and the resource's service principal must exist.
func (s *PartnerServer) customerGate(w http.ResponseWriter, r *http.Request, u PartnerUserSpec, c *ptCustomer, clientID, res string) bool {
	now := s.now()
	roles, activated := s.effectiveRoles(u, c, now)
	name := stDefault(c.spec.DisplayName, c.spec.Domain)
	if len(roles) == 0 || now.Before(activated.Add(s.sc.Propagation.D())) {
		// UNCONFIRMED code (gdap.md §6); 50020 is the documented "user does
		// not exist in tenant" error.
		s.aadError(w, r, http.StatusBadRequest, "invalid_grant", 50020, fmt.Sprintf("User account '%s' from identity provider 'https://sts.windows.net/%s/' does not exist in tenant '%s' and cannot access the application '%s' in that tenant. The account needs to be added as an external user in the tenant first.", u.UPN, s.PartnerTenantID(), name, clientID))
		return false
	}
	if c.spec.Block == "conditional-access" {
		s.aadError(w, r, http.StatusBadRequest, "invalid_grant", 53003, "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.")
		return false
	}
	s.mu.Lock()
	consented := c.consented && !now.Before(c.consentAt.Add(s.sc.ConsentPropagation.D()))
	s.mu.Unlock()
	if !consented {
		s.aadError(w, r, http.StatusBadRequest, "invalid_grant", 65001, fmt.Sprintf("The user or administrator has not consented to use the application with ID '%s' named 'ITDR Onboarding'. Send an interactive authorization request for this user and resource.", clientID))
		return false
	}
	if res == simExchangeResource && c.spec.Block == "no-exchange" {
		s.aadError(w, r, http.StatusBadRequest, "invalid_client", 650052, fmt.Sprintf("The app is trying to access a service '%s'(Office 365 Exchange Online) that your organization '%s' lacks a service principal for. Contact your IT Admin to review the configuration of your service subscriptions or consent to the application in order to create the required service principal.", simExchangeAppID, c.tid))
		return false
	}
	return true
}

// effectiveRoles is ⋃ over active relationships with the customer, over
// active assignments whose group holds the user, of the assignment's roles
// (gdap.md §1.3); activated is the latest activation among them.
func (s *PartnerServer) effectiveRoles(u PartnerUserSpec, c *ptCustomer, now time.Time) (roles []string, activated time.Time) {
	mine := map[string]bool{}
	for _, g := range u.Groups {
		mine[s.groups[strings.ToLower(g)]] = true
	}
	set := map[string]bool{}
	for _, rel := range c.rels {
		if rel.spec.Status != "active" {
			continue
		}
		for _, a := range rel.assignments {
			if !mine[a.groupID] || now.Before(a.activeAt) {
				continue
			}
			for _, r := range a.roles {
				set[r] = true
			}
			if rel.activated.After(activated) {
				activated = rel.activated
			}
		}
	}
	for r := range set {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	return roles, activated
}

func (s *PartnerServer) writeTokens(w http.ResponseWriter, u PartnerUserSpec, tid, res, scope, clientID, granted string) {
	now := s.now()
	home := s.PartnerTenantID()
	oid := ObjectIDFor(home, u.UPN)
	exp := now.Add(time.Hour)
	amr := []string{"pwd"}
	if u.MFA {
		amr = append(amr, "mfa")
	}
	scp := "user_impersonation"
	switch res {
	case simGraphResource:
		scp = "DelegatedAdminRelationship.Read.All Directory.Read.All Application.ReadWrite.All AppRoleAssignment.ReadWrite.All DelegatedPermissionGrant.ReadWrite.All RoleManagement.ReadWrite.Directory"
	case simExchangeResource:
		scp = "Exchange.Manage"
	}
	if granted != "" {
		scp = granted // the partner tenant's consent for a registered app, or the scopes named
	}
	at := simJWT(map[string]any{
		"aud": res, "iss": "https://sts.windows.net/" + tid + "/", "iat": now.Unix(), "nbf": now.Unix(), "exp": exp.Unix(),
		"tid": tid, "oid": oid, "upn": u.UPN, "name": u.DisplayName, "scp": scp, "appid": clientID, "amr": amr,
		"idp": "https://sts.windows.net/" + home + "/", "ver": "1.0", "jti": simSecret(16),
	})
	s.tokens.Add(at, Principal{UPN: u.UPN, ObjectID: oid, TenantID: tid, Audience: res, Expires: exp, Scopes: scp, ClientID: clientID})
	// client_info is the partner user's home account whatever the
	// authority (MSAL: HomeAccountID = uid.utid), so one account serves
	// every customer tenant.
	ci, _ := json.Marshal(map[string]string{"uid": oid, "utid": home})
	rt := simSecret(64)
	s.mu.Lock()
	s.refresh[rt] = &ptRefresh{upn: u.UPN, clientID: clientID}
	s.mu.Unlock()
	simWriteJSON(w, http.StatusOK, map[string]any{
		"token_type": "Bearer", "scope": scope, "expires_in": 3600, "ext_expires_in": 3600,
		"access_token": at, "refresh_token": rt,
		"client_info": base64.RawURLEncoding.EncodeToString(ci),
		"id_token": simJWT(map[string]any{
			"aud": clientID, "iss": s.base + "/" + tid + "/v2.0", "iat": now.Unix(), "nbf": now.Unix(), "exp": exp.Unix(),
			"name": u.DisplayName, "oid": oid, "preferred_username": u.UPN, "sub": simSubject(oid, clientID), "tid": tid, "ver": "2.0",
		}),
	})
}
