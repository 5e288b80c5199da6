package partner_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"itdr-onboard/auth"
	"itdr-onboard/m365"
	"itdr-onboard/partner"
	"itdr-onboard/platform"
	"itdr-onboard/sim"
)

// world is a signed-in partner technician against the partner simulator,
// with the real clients: MSAL Go (auth), m365.Graph, Partner Center and the
// platform client.
type world struct {
	srv   *sim.PartnerServer
	auth  *auth.Client
	graph *m365.Graph
	pc    *partner.PartnerCenter
	pf    *platform.Client
}

func newWorld(t *testing.T, sc *sim.PartnerScenario) *world {
	t.Helper()
	srv, err := sim.StartPartner(sc, sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ep := srv.Endpoints()
	ac, err := auth.New(auth.Options{Endpoints: ep, Tenant: srv.PartnerTenantID(), Env: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	dc, err := ac.StartDeviceCode(ctx)
	if err != nil {
		t.Fatal(err)
	}
	acct, err := ac.AwaitDeviceCode(ctx, dc)
	if err != nil {
		t.Fatal(err)
	}
	if acct.TenantID != srv.PartnerTenantID() {
		t.Fatalf("signed in to %s, want the partner tenant", acct.TenantID)
	}
	hc := ep.HTTPClient()
	return &world{
		srv:   srv,
		auth:  ac,
		graph: m365.NewGraph(hc, ep.Graph, ac.GraphToken),
		pc:    partner.NewPartnerCenter(hc, ep.PartnerCenter, func(ctx context.Context) (string, error) { return ac.Token(ctx, ep.PartnerCenterScope()) }),
		pf:    platform.New(hc, ep.Platform, ep.PlatformAPIKey, ep.PlatformAPISecret),
	}
}

func (w *world) discover(t *testing.T) partner.Plan {
	t.Helper()
	acct, _ := w.auth.Account()
	p, err := partner.Discover(context.Background(), partner.Sources{Graph: w.graph, PC: w.pc, Platform: w.pf}, acct.Username, acct.TenantID, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// discoveryLane is the lane discovery must find for a generator lane
// (the post-token lanes look ready from the partner side).
func discoveryLane(gen string) partner.Lane {
	switch gen {
	case sim.LaneReadyConsented, sim.LaneCABlocked, sim.LaneNoExchange:
		return partner.LaneReady
	}
	return partner.Lane(gen)
}

func TestDiscoveryLanesMatchTheScenarioAndTouchNoCustomer(t *testing.T) {
	t.Parallel()
	sc := sim.PartnerDemoScenario()
	w := newWorld(t, sc)
	before := len(w.srv.Requests())
	plan := w.discover(t)
	custTIDs := map[string]bool{}
	for _, c := range sc.Customers {
		custTIDs[strings.ToLower(c.TenantID)] = true
	}
	// Nothing discovery sent reached a customer tenant.
	reqs := w.srv.Requests()[before:]
	batches := 0
	for _, r := range reqs {
		if custTIDs[r.Tenant] {
			t.Fatalf("discovery sent %s %s to customer tenant %s", r.Method, r.Path, r.Tenant)
		}
		if strings.HasSuffix(r.Path, "/$batch") {
			batches++
		}
	}
	if batches == 0 || batches > 2 {
		t.Fatalf("access assignments took %d $batch calls, want 1–2 for 25 customers", batches)
	}
	if len(plan.Rows) != len(sc.Customers) {
		t.Fatalf("%d rows for %d customers", len(plan.Rows), len(sc.Customers))
	}
	byTID := map[string]partner.Row{}
	for _, r := range plan.Rows {
		byTID[r.TenantID] = r
	}
	for _, c := range sc.Customers {
		r := byTID[strings.ToLower(c.TenantID)]
		if want := discoveryLane(c.Lane); r.Lane != want {
			t.Errorf("%s (%s): lane %s, want %s — %s", c.DisplayName, c.Lane, r.Lane, want, r.Remedy)
		}
		if r.Remedy == "" || len(r.Roles) != 3 {
			t.Errorf("%s: remedy %q roles %v", c.DisplayName, r.Remedy, r.Roles)
		}
		switch r.Lane {
		case partner.LaneSettling:
			if r.ReadyAt == nil {
				t.Errorf("%s: settling without ready-at", c.DisplayName)
			}
		case partner.LanePartial:
			if len(r.HandOff) == 0 {
				t.Errorf("%s: partial without hand-off", c.DisplayName)
			}
		case partner.LaneNoGDAP:
			if len(c.Relationships) > 0 && c.Relationships[0].Status == "approvalPending" && !strings.Contains(r.InviteURL, "granularAdminRelationships/") {
				t.Errorf("%s: approval pending without invite link", c.DisplayName)
			}
		}
	}
	for _, l := range partner.Lanes() {
		if plan.Counts[l] == 0 {
			t.Errorf("lane %s not represented: %v", l, plan.Counts)
		}
	}
}

func claims(t *testing.T, jwt string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(jwt, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

func customer(sc *sim.PartnerScenario, lane string) sim.CustomerSpec {
	for _, c := range sc.Customers {
		if c.Lane == lane {
			return c
		}
	}
	panic(lane)
}

// The real MSAL Go client redeems the partner sign-in at customer
// authorities (AcquireTokenSilent WithTenantID): 65001 before the consent
// bootstrap, a customer token after it.
func TestMSALCustomerTokensBeforeAndAfterConsentBootstrap(t *testing.T) {
	t.Parallel()
	sc := sim.PartnerDemoScenario()
	w := newWorld(t, sc)
	ctx := context.Background()
	ep := w.srv.Endpoints()
	ready := customer(sc, sim.LaneReady)

	_, err := w.auth.TokenForTenant(ctx, ep.GraphScope(), ready.TenantID)
	var ae *auth.Error
	if err == nil || !errors.As(err, &ae) || ae.Code != 65001 {
		t.Fatalf("before consent: %v, want AADSTS65001", err)
	}
	if lane, _ := partner.Classify(err, ready.TenantID); lane != partner.LaneNotConsented {
		t.Fatalf("65001 classified as %s", lane)
	}

	var slept []time.Duration
	b := &partner.Bootstrap{PC: w.pc, AppID: ep.ClientID, Token: w.auth.TokenForTenant, GraphScope: ep.GraphScope(), ExchangeScope: ep.ExchangeScope(),
		Sleep: func(ctx context.Context, d time.Duration) error { slept = append(slept, d); return nil }}
	res := b.Run(ctx, ready.TenantID)
	if res.Lane != partner.LaneReady || res.Consent != "created" || !res.GraphOK || !res.ExchangeOK {
		t.Fatalf("bootstrap: %+v (%v)", res, res.Err)
	}
	tok, err := w.auth.TokenForTenant(ctx, ep.GraphScope(), ready.TenantID)
	if err != nil {
		t.Fatal(err)
	}
	if c := claims(t, tok); c["tid"] != strings.ToLower(ready.TenantID) {
		t.Fatalf("customer token tid %v", c["tid"])
	}
	// The partner account is still the one MSAL holds (client_info is the
	// partner home account): partner tokens keep working.
	if acct, _ := w.auth.Account(); acct.HomeTenantID != w.srv.PartnerTenantID() {
		t.Fatalf("account home tenant %s", acct.HomeTenantID)
	}
	if _, err := w.auth.GraphToken(ctx); err != nil {
		t.Fatal(err)
	}
	// A second bootstrap: "already exists" is success.
	if res := b.Run(ctx, ready.TenantID); res.Consent != "already-existed" || res.Lane != partner.LaneReady {
		t.Fatalf("second bootstrap: %+v", res)
	}

	for _, tc := range []struct {
		gen  string
		lane partner.Lane
		code int
	}{
		{sim.LaneCABlocked, partner.LaneCABlocked, 53003},
		{sim.LaneNoExchange, partner.LanePartial, 650052},
	} {
		c := customer(sc, tc.gen)
		res := b.Run(ctx, c.TenantID)
		if res.Lane != tc.lane || res.AADSTS != tc.code || res.Remedy == "" {
			t.Errorf("%s: %+v", tc.gen, res)
		}
	}
	// Not assigned: Partner Center refuses (403) before any token.
	na := customer(sc, sim.LaneNotAssigned)
	if res := b.Run(ctx, na.TenantID); res.Consent != "failed" || res.Lane != partner.LaneNotAssigned {
		t.Errorf("not-assigned: %+v", res)
	}
}

// Consent propagation: 65001 right after the consent is retried with the
// bounded back-off until the token works.
func TestBootstrapWaitsOutConsentPropagation(t *testing.T) {
	t.Parallel()
	sc := sim.PartnerDemoScenario()
	clock := time.Now()
	var mu = make(chan struct{}, 1)
	mu <- struct{}{}
	now := func() time.Time { <-mu; defer func() { mu <- struct{}{} }(); return clock }
	advance := func(d time.Duration) { <-mu; clock = clock.Add(d); mu <- struct{}{} }
	sc.ConsentPropagation = sim.Duration(12 * time.Second)
	srv, err := sim.StartPartner(sc, sim.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ep := srv.Endpoints()
	ac, err := auth.New(auth.Options{Endpoints: ep, Tenant: srv.PartnerTenantID(), Env: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	dc, err := ac.StartDeviceCode(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ac.AwaitDeviceCode(ctx, dc); err != nil {
		t.Fatal(err)
	}
	pc := partner.NewPartnerCenter(ep.HTTPClient(), ep.PartnerCenter, func(ctx context.Context) (string, error) { return ac.Token(ctx, ep.PartnerCenterScope()) })
	var slept []time.Duration
	b := &partner.Bootstrap{PC: pc, AppID: ep.ClientID, Token: ac.TokenForTenant, GraphScope: ep.GraphScope(),
		Sleep: func(ctx context.Context, d time.Duration) error { slept = append(slept, d); advance(d); return nil }}
	res := b.Run(ctx, customer(sc, sim.LaneReady).TenantID)
	if res.Lane != partner.LaneReady || res.Attempts != 3 || len(slept) != 2 {
		t.Fatalf("result %+v, slept %v", res, slept)
	}
	// Bounded: a consent still not propagated after the last back-off ends
	// as not-consented with its remedy (12 s propagation, 2 s of waiting).
	var second string
	for _, c := range sc.Customers {
		if c.Lane == sim.LaneReady && c.TenantID != customer(sc, sim.LaneReady).TenantID {
			second = c.TenantID
			break
		}
	}
	slept = nil
	b.Backoff = []time.Duration{time.Second, time.Second}
	res = b.Run(ctx, second)
	if res.Lane != partner.LaneNotConsented || res.Attempts != 3 || len(slept) != 2 || res.AADSTS != 65001 || res.Remedy == "" {
		t.Fatalf("never propagated: %+v, slept %v", res, slept)
	}
}

// Partner Center allows 50 consent requests per second per application:
// the client honours the 429's Retry-After, so a burst of 60 ends with one
// consent created, the rest "already exists", and no error.
func TestPartnerCenterClientHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	sc := sim.PartnerDemoScenario()
	w := newWorld(t, sc)
	ep := w.srv.Endpoints()
	ready := customer(sc, sim.LaneReady)
	if _, err := w.auth.Token(context.Background(), ep.PartnerCenterScope()); err != nil {
		t.Fatal(err)
	}
	type res struct {
		already bool
		err     error
	}
	out := make(chan res, 60)
	for i := 0; i < 60; i++ {
		go func() {
			a, err := w.pc.Consent(context.Background(), ready.TenantID, ep.ClientID, "", partner.DefaultGrants())
			out <- res{a, err}
		}()
	}
	created, already := 0, 0
	for i := 0; i < 60; i++ {
		r := <-out
		switch {
		case r.err != nil:
			t.Errorf("consent: %v", r.err)
		case r.already:
			already++
		default:
			created++
		}
	}
	throttled := 0
	for _, r := range w.srv.Requests() {
		if r.Status == 429 {
			throttled++
		}
	}
	if created != 1 || already != 59 || throttled == 0 {
		t.Fatalf("created %d, already %d, 429s %d", created, already, throttled)
	}
}

// A batch forgets each customer tenant once its flow has ended
// (auth.Client.ForgetTenant): the tokens of forgotten tenants leave MSAL's
// cache, so a later token for one of them is asked of the identity
// platform again, while a tenant not forgotten is still served from the
// cache and the partner's own tokens keep working.
func TestForgottenCustomerTenantsLeaveTheTokenCache(t *testing.T) {
	t.Parallel()
	sc := sim.GeneratePartnerScenario(1, 7)
	sc.Customers = nil
	roles := []string{"Cloud Application Administrator", "Privileged Role Administrator", "Exchange Administrator", "Global Reader"}
	const n = 20
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("Customer %02d", i+1)
		sc.Customers = append(sc.Customers, sim.CustomerSpec{
			TenantID: fmt.Sprintf("%08x-cccc-4ccc-8ddd-%012x", i+1, i+1), Domain: fmt.Sprintf("c%02d.onmicrosoft.com", i+1),
			DisplayName: name, PartnerCenter: true,
			Relationships: []sim.RelationshipSpec{{DisplayName: "ITDR_" + name, Status: "active", Roles: roles,
				ActivatedAgo: sim.Duration(90 * 24 * time.Hour), Assignments: []sim.AssignmentSpec{{Group: "GDAP Onboarding", Roles: roles}}}},
		})
	}
	w := newWorld(t, sc)
	ctx := context.Background()
	ep := w.srv.Endpoints()
	b := &partner.Bootstrap{PC: w.pc, AppID: ep.ClientID, Token: w.auth.TokenForTenant, GraphScope: ep.GraphScope(), ExchangeScope: ep.ExchangeScope(),
		Sleep: func(ctx context.Context, d time.Duration) error { return nil }}
	identity := func() int {
		k := 0
		for _, r := range w.srv.Requests() {
			if r.Group == sim.GroupIdentity {
				k++
			}
		}
		return k
	}
	token := func(i int) {
		t.Helper()
		if _, err := w.auth.TokenForTenant(ctx, ep.GraphScope(), sc.Customers[i].TenantID); err != nil {
			t.Fatalf("customer %d: %v", i, err)
		}
	}
	// The first n-1 customers: consent and tokens, then forgotten but the last of them.
	for i := 0; i < n-1; i++ {
		if res := b.Run(ctx, sc.Customers[i].TenantID); res.Lane != partner.LaneReady {
			t.Fatalf("bootstrap %d: %+v (%v)", i, res, res.Err)
		}
		token(i)
	}
	for i := 0; i < n-2; i++ {
		w.auth.ForgetTenant(sc.Customers[i].TenantID)
	}
	w.auth.ForgetTenant(w.srv.PartnerTenantID()) // never forgotten
	// The next tenant's tokens are the next write: the cache is pruned.
	if res := b.Run(ctx, sc.Customers[n-1].TenantID); res.Lane != partner.LaneReady {
		t.Fatalf("bootstrap %d: %+v (%v)", n-1, res, res.Err)
	}
	before := identity()
	token(n - 2) // not forgotten: from the cache
	if _, err := w.auth.GraphToken(ctx); err != nil {
		t.Fatalf("the partner's own token: %v", err)
	}
	if k := identity() - before; k != 0 {
		t.Fatalf("a tenant not forgotten (and the partner) cost %d identity requests, want 0 (cached)", k)
	}
	token(0) // forgotten: asked again
	if k := identity() - before; k != 1 {
		t.Fatalf("a forgotten tenant's token cost %d identity requests, want 1 (its cached token was dropped)", k)
	}
}
