package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"itdr-onboard/auth"
	"itdr-onboard/checks"
	"itdr-onboard/endpoints"
	"itdr-onboard/internal/budget"
	"itdr-onboard/internal/secret"
	"itdr-onboard/m365"
	"itdr-onboard/platform"
	"itdr-onboard/steps"
)

// wiring is one run's dependency graph: endpoints → HTTP client → sign-in →
// token functions → Graph/Exchange/platform clients → checks → executor.
type wiring struct {
	ep       endpoints.Endpoints
	hc       *http.Client
	auth     *auth.Client
	graph    *m365.Graph
	exchange *lazyExchange
	platform *platform.Client
	registry *checks.Registry
	infos    []steps.CheckInfo
	rungs    []checks.Rung // the evidence ladder's modules (rungs 2–4)
	// tenantHint is the tenant known before sign-in (the demo's simulated
	// tenant), so the lock and resume apply from the start (issue 7).
	tenantHint string
	// baseTransport is the transport under the log and retry wrappers (issue 7).
	baseTransport http.RoundTripper
	// openConsent plays the Global Administrator of a --consent handoff
	// (demo only).
	openConsent func(context.Context, string) error
	// now is the wizard's clock (nil: time.Now).
	now func() time.Time
	// noPlatform is set when no platform API credentials are configured
	// and the command can do without them (check): platform is nil.
	noPlatform bool
	// budgets are the upstreams' shared request budgets every request of
	// this wiring draws from (issue 21; internal/budget).
	budgets *budget.Set
}

// closeIdle closes the idle connections of the run's HTTP client (issue 7).
func (w *wiring) closeIdle() {
	if c, ok := w.baseTransport.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

type wireOptions struct {
	Endpoints   endpoints.Endpoints
	Tenant      string
	TokenCache  auth.CacheMode
	StateDir    string
	OpenBrowser func(string) error
	// OpenConsent is handed the admin-consent URL of a --consent handoff.
	OpenConsent func(context.Context, string) error
	Log         *runLog
	// Env reads the environment (SSH and display detection for sign-in).
	Env func(string) string
	// Now is the wizard's clock (nil: time.Now).
	Now func() time.Time
	// PlatformOptional lets a read-only command run without platform API
	// credentials: the platform client is left out and the checks that
	// need it report themselves skipped.
	PlatformOptional bool
	// GraphScopes replaces <graph>/.default for the sign-in (partner setup).
	GraphScopes []string
	// HTTPClient, when set, is the client to build on instead of a new
	// Endpoints.HTTPClient(): the cloud detection's, made for the same
	// endpoints, so the sign-in reuses its connection to the login host.
	HTTPClient *http.Client
	// Budgets are the upstreams' request budgets (platform 60/min per
	// account, Partner Center, Graph, Exchange). A batch passes one Set to
	// every tenant's wiring so that all of them draw from it; nil: a Set of
	// this wiring's own with the published limits.
	Budgets *budget.Set
}

// budgetUpstreams says which budget each service of ep draws from.
func budgetUpstreams(ep endpoints.Endpoints) []budget.Upstream {
	return []budget.Upstream{
		{Kind: budget.Platform, Base: ep.Platform},
		{Kind: budget.Graph, Base: ep.Graph},
		{Kind: budget.Exchange, Base: ep.Exchange},
		{Kind: budget.PartnerCenter, Base: ep.PartnerCenter},
	}
}

func wire(o wireOptions) (*wiring, error) {
	w := &wiring{ep: o.Endpoints, openConsent: o.OpenConsent, now: o.Now}
	if o.HTTPClient != nil {
		hc := *o.HTTPClient // its transport (and idle connections) shared; the wrappers below are this wiring's
		w.hc = &hc
	} else {
		w.hc = o.Endpoints.HTTPClient()
	}
	w.baseTransport = w.hc.Transport
	if o.Log != nil {
		w.hc.Transport = o.Log.transport(w.hc.Transport)
	}
	// Every request to the platform, Graph, Exchange and Partner Center
	// waits for its budget before it is sent (and logged); identity
	// requests do not draw from one.
	w.budgets = o.Budgets
	if w.budgets == nil {
		w.budgets = budget.NewSet(nil, nil)
	}
	w.hc.Transport = budget.Transport(w.budgets, budgetUpstreams(o.Endpoints), w.hc.Transport)
	// Retries: Graph, Exchange and the platform retry in their clients;
	// identity requests (MSAL, the tenant lookup) retry in auth.
	// Issue 7: the API secret is held as a secret.Secret (formats as
	// [redacted]) and revealed only when the client is built.
	key, apiSecret, err := platformCredentials(o.Endpoints)
	w.ep.PlatformAPISecret = "" // only apiSecret holds it from here on
	if err != nil {
		if !o.PlatformOptional {
			return nil, err
		}
		w.noPlatform = true
	}
	ac, err := auth.New(auth.Options{Endpoints: o.Endpoints, Tenant: o.Tenant, HTTPClient: w.hc,
		Cache: o.TokenCache, StateDir: o.StateDir, OpenBrowser: o.OpenBrowser, Env: o.Env, GraphScopes: o.GraphScopes})
	if err != nil {
		return nil, err
	}
	w.auth = ac
	w.graph = m365.NewGraph(w.hc, o.Endpoints.Graph, ac.GraphToken)
	w.exchange = &lazyExchange{hc: w.hc, base: o.Endpoints.Exchange, auth: ac}
	// The evidence ladder's Entra rung asks for AuditLog.Read.All only when
	// it runs (incremental consent), on a Graph client of its own.
	auditScope := strings.TrimSuffix(o.Endpoints.GraphScope(), "/.default") + "/AuditLog.Read.All"
	w.rungs = checks.LadderRungs(w.exchange, m365.NewGraph(w.hc, o.Endpoints.Graph, func(ctx context.Context) (string, error) {
		return ac.Token(ctx, auditScope)
	}))
	deps := checks.Deps{Graph: w.graph, Exchange: w.exchange, Endpoints: o.Endpoints, HTTP: w.hc, Now: o.Now}
	if !w.noPlatform {
		w.platform = platform.New(w.hc, o.Endpoints.Platform, key, apiSecret.Reveal())
		deps.Platform = w.platform
	}
	list := checks.Builtin(deps)
	w.registry, err = checks.NewRegistry(list...)
	if err != nil {
		return nil, err
	}
	for _, c := range w.registry.All() {
		w.infos = append(w.infos, steps.CheckInfo{ID: c.ID(), Title: c.Title(), Step: c.Step(), Phase: c.Phase(), Severity: c.Severity()})
	}
	return w, nil
}

func (w *wiring) executor(s *steps.Session, stateDir string) *steps.Executor {
	var pa steps.PlatformAPI
	if w.platform != nil {
		pa = w.platform // never a typed nil in the interface
	}
	rec := &steps.Receipts{Dir: stateDir}
	s.Record = rec
	return &steps.Executor{
		Auth: w.auth,
		Resolve: func(ctx context.Context, tenant string) (auth.TenantInfo, error) {
			return auth.ResolveTenant(ctx, w.hc, w.ep, tenant)
		},
		Graph:       w.graph,
		Platform:    pa,
		Checks:      w.registry,
		Rungs:       w.rungs,
		Receipts:    rec,
		Session:     s,
		OpenConsent: w.openConsent,
		Now:         w.now,
	}
}

// platformCredentials is the platform API key and secret: from the
// environment (ITDR_API_KEY, ITDR_API_SECRET), else from the endpoints file
// (the simulator's demo account). The secret is held as a secret.Secret.
func platformCredentials(ep endpoints.Endpoints) (string, secret.Secret, error) {
	key, apiSecret := ep.PlatformAPIKey, secret.New(ep.PlatformAPISecret)
	if v := os.Getenv("ITDR_API_KEY"); v != "" {
		key = v
	}
	if v := os.Getenv("ITDR_API_SECRET"); v != "" {
		apiSecret = secret.New(v)
	}
	if key == "" || apiSecret.IsZero() {
		return "", secret.Secret{}, usageError("the platform API credentials are missing: set ITDR_API_KEY and ITDR_API_SECRET (create a key in the platform under Account → API credentials)")
	}
	return key, apiSecret, nil
}

// lazyExchange builds the Exchange client on first use: its URL needs the
// tenant and its anchor mailbox the signed-in account, known only after
// sign-in.
type lazyExchange struct {
	hc   *http.Client
	base string
	auth *auth.Client
	mu   sync.Mutex
	x    *m365.Exchange
}

func (l *lazyExchange) get() (*m365.Exchange, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.x != nil {
		return l.x, nil
	}
	acct, ok := l.auth.Account()
	if !ok {
		return nil, errors.New("not signed in")
	}
	l.x = m365.NewExchange(l.hc, l.base, acct.TenantID, acct.Username, l.auth.ExchangeToken)
	return l.x, nil
}

func (l *lazyExchange) OrganizationConfig(ctx context.Context) (m365.OrgConfig, error) {
	x, err := l.get()
	if err != nil {
		return m365.OrgConfig{}, err
	}
	return x.OrganizationConfig(ctx)
}

func (l *lazyExchange) EnableOrganizationCustomization(ctx context.Context) (string, error) {
	x, err := l.get()
	if err != nil {
		return "", err
	}
	return x.EnableOrganizationCustomization(ctx)
}

func (l *lazyExchange) AdminAuditLogConfig(ctx context.Context) (m365.AuditConfig, error) {
	x, err := l.get()
	if err != nil {
		return m365.AuditConfig{}, err
	}
	return x.AdminAuditLogConfig(ctx)
}

func (l *lazyExchange) SetUnifiedAuditLogIngestion(ctx context.Context, enabled bool) (string, error) {
	x, err := l.get()
	if err != nil {
		return "", err
	}
	return x.SetUnifiedAuditLogIngestion(ctx, enabled)
}

func (l *lazyExchange) RoleGroupRoles(ctx context.Context, group string) ([]m365.ManagementRoleAssignment, error) {
	x, err := l.get()
	if err != nil {
		return nil, err
	}
	return x.RoleGroupRoles(ctx, group)
}

func (l *lazyExchange) NewManagementRoleAssignment(ctx context.Context, role, group string) (m365.ManagementRoleAssignment, error) {
	x, err := l.get()
	if err != nil {
		return m365.ManagementRoleAssignment{}, err
	}
	return x.NewManagementRoleAssignment(ctx, role, group)
}

// defaultStateDir is $XDG_STATE_HOME/itdr-onboard or ~/.local/state/itdr-onboard.
func defaultStateDir() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "itdr-onboard")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "itdr-onboard")
	}
	return filepath.Join(home, ".local", "state", "itdr-onboard")
}

// usageErr is a bad flag or missing input: exit 2.
type usageErr struct{ msg string }

func (e *usageErr) Error() string { return e.msg }

func usageError(format string, a ...any) error { return &usageErr{fmt.Sprintf(format, a...)} }

// parseWait validates --wait.
func parseWait(s string) (time.Duration, error) {
	if s == "" || s == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, usageError("--wait %q is not a duration: use e.g. 30m, 2h or 0 (wait until healthy)", s)
	}
	return d, nil
}

func (l *lazyExchange) SearchUnifiedAuditLog(ctx context.Context, q m365.UALQuery) ([]m365.UALRecord, error) {
	x, err := l.get()
	if err != nil {
		return nil, err
	}
	return x.SearchUnifiedAuditLog(ctx, q)
}
