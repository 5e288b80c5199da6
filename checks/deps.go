package checks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"sync"
	"time"

	"itdr-onboard/endpoints"
	"itdr-onboard/internal/httpx"
	"itdr-onboard/m365"
	"itdr-onboard/platform"
)

// Stable check IDs, in display order.
const (
	IDPlatformSubscription = "platform.subscription"
	IDNetworkReachability  = "network.reachability"
	IDClockSkew            = "network.clock-skew"
	IDExchangeLicence      = "graph.exchange-licence"
	IDGlobalAdmin          = "graph.global-admin"
	IDAuditLog             = "exo.audit-log"
	IDDehydrated           = "exo.dehydrated"
	IDRoleGroup            = "exo.role-group"
	IDPlatformSPRoles      = "graph.platform-sp-roles"
	IDPlatformPermissions  = "graph.platform-permissions"
)

// GraphAPI is the part of *m365.Graph the check modules use.
type GraphAPI interface {
	Organization(ctx context.Context) (m365.Organization, error)
	Me(ctx context.Context) (m365.User, error)
	MyActiveDirectoryRoles(ctx context.Context) ([]m365.DirectoryRole, error)
	MyEligibleRoles(ctx context.Context) ([]m365.RoleEligibility, error)
	SubscribedSkus(ctx context.Context) ([]m365.SKU, error)
	// ServicePrincipalByAppID returns nil, nil when the app has no service
	// principal in the tenant.
	ServicePrincipalByAppID(ctx context.Context, appID string) (*m365.ServicePrincipal, error)
	CreateServicePrincipal(ctx context.Context, appID string) (m365.ServicePrincipal, error)
	RoleAssignments(ctx context.Context, principalID string) ([]m365.RoleAssignment, error)
	CreateRoleAssignment(ctx context.Context, principalID, roleDefinitionID string) (m365.RoleAssignment, error)
}

// ExchangeAPI is the part of *m365.Exchange the check modules use.
type ExchangeAPI interface {
	OrganizationConfig(ctx context.Context) (m365.OrgConfig, error)
	EnableOrganizationCustomization(ctx context.Context) (requestID string, err error)
	AdminAuditLogConfig(ctx context.Context) (m365.AuditConfig, error)
	SetUnifiedAuditLogIngestion(ctx context.Context, enabled bool) (requestID string, err error)
	RoleGroupRoles(ctx context.Context, roleGroup string) ([]m365.ManagementRoleAssignment, error)
	NewManagementRoleAssignment(ctx context.Context, role, roleGroup string) (m365.ManagementRoleAssignment, error)
}

// PlatformAPI is the part of *platform.Client the check modules use.
type PlatformAPI interface {
	Account(ctx context.Context) (platform.Account, error)
	App(ctx context.Context) (platform.App, error)
}

// Deps is everything the built-in modules need. A nil client makes the
// modules that need it report Skip ("not signed in" / "not configured").
type Deps struct {
	Graph     GraphAPI
	Exchange  ExchangeAPI
	Platform  PlatformAPI
	Endpoints endpoints.Endpoints
	// HTTP is used by the network checks; nil means Endpoints.HTTPClient().
	HTTP *http.Client
	// Now is the clock (nil means time.Now).
	Now func() time.Time

	probes *probeShare // set by Builtin: the network checks share one probe round
}

func (d Deps) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d Deps) httpClient() *http.Client {
	if d.HTTP != nil {
		return d.HTTP
	}
	return d.Endpoints.HTTPClient()
}

// Builtin is the single explicit list of shipped modules, in display order.
// The modules share one cached copy of the platform's App document.
func Builtin(d Deps) []Check {
	// A typed nil (a nil *m365.Graph in the interface) means "absent" too.
	if isNil(d.Graph) {
		d.Graph = nil
	}
	if isNil(d.Exchange) {
		d.Exchange = nil
	}
	if isNil(d.Platform) {
		d.Platform = nil
	}
	if d.Platform != nil {
		d.Platform = &cachedPlatform{PlatformAPI: d.Platform}
	}
	d.probes = &probeShare{}
	return []Check{
		NewPlatformSubscription(d.Platform, d.Now),
		NewNetworkReachability(d),
		NewClockSkew(d),
		NewExchangeLicence(d.Graph),
		NewGlobalAdmin(d.Graph),
		NewPlatformPermissions(d.Graph, d.Platform),
		NewAuditLog(d.Exchange),
		NewDehydrated(d.Exchange),
		NewRoleGroup(d.Exchange, d.Platform),
		NewPlatformSPRoles(d.Graph, d.Platform),
	}
}

func isNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan:
		return rv.IsNil()
	}
	return false
}

// cachedPlatform remembers the first successful App answer (the document is
// static for a session); Account is always asked afresh. Errors are not cached.
type cachedPlatform struct {
	PlatformAPI
	mu  sync.Mutex
	app *platform.App
}

func (c *cachedPlatform) App(ctx context.Context) (platform.App, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.app != nil {
		return *c.app, nil
	}
	a, err := c.PlatformAPI.App(ctx)
	if err != nil {
		return platform.App{}, err
	}
	c.app = &a
	return a, nil
}

// meta carries the static description every module shares.
type meta struct {
	id, title string
	step      StepID
	phase     Phase
	sev       Severity
}

func (m meta) ID() string         { return m.id }
func (m meta) Title() string      { return m.title }
func (m meta) Step() StepID       { return m.step }
func (m meta) Phase() Phase       { return m.phase }
func (m meta) Severity() Severity { return m.sev }

// undecided is the outcome of a check that could not decide: Fail for a
// Required check, Warn for a Recommended one.
func (m meta) undecided(summary, remedy string, err error) Result {
	o := Fail
	if m.sev == Recommended {
		o = Warn
	}
	if why := shortCause(err); why != "" {
		summary += ": " + why
	}
	if isForbidden(err) {
		remedy = "the signed-in account is not allowed to read this: sign in as an active Global Administrator (or Exchange Administrator for Exchange), then retry"
	}
	var he *m365.HeaderValueError
	if errors.As(err, &he) && he.Remedy != "" {
		remedy = he.Remedy
	}
	unavailable := isUnavailable(err)
	if unavailable {
		var re *httpx.RetryError
		if errors.As(err, &re) && re.Reason != "" {
			summary += " (" + re.Reason + ")"
		}
		remedy = "the service is busy or unreachable, not misconfigured: wait a few minutes (as long as it asked, when it named a time) and run the same command again"
	}
	return Result{Outcome: o, Summary: summary, Remedy: remedy, Err: err, Unavailable: unavailable}
}

// isUnavailable reports an error that says the service could not answer —
// throttled (429), a server error (5xx), or no answer at all — as opposed to
// one that says something about the tenant (403, 404, …).
func isUnavailable(err error) bool {
	if err == nil {
		return false
	}
	transient := func(status int) bool { return status == http.StatusTooManyRequests || status >= 500 }
	var ae *m365.APIError
	if errors.As(err, &ae) {
		return transient(ae.Status)
	}
	var pe *platform.Error
	if errors.As(err, &pe) {
		return transient(pe.Status)
	}
	var te *httpx.TransportError
	if errors.As(err, &te) {
		return true
	}
	var re *httpx.RetryError
	return errors.As(err, &re)
}

// shortCause names why a read failed in a few words (the status and the
// service's error code), without the full error text.
func shortCause(err error) string {
	var ae *m365.APIError
	if errors.As(err, &ae) {
		c := fmt.Sprintf("HTTP %d", ae.Status)
		if ae.Code != "" {
			c += " " + ae.Code
		}
		return c
	}
	var pe *platform.Error
	if errors.As(err, &pe) {
		return fmt.Sprintf("HTTP %d %s", pe.Status, pe.Code)
	}
	var he *m365.HeaderValueError
	if errors.As(err, &he) {
		return he.Error()
	}
	return ""
}

func isForbidden(err error) bool {
	var ae *m365.APIError
	return errors.As(err, &ae) && ae.Status == 403
}

func skipped(why string) Result {
	return Result{Outcome: Skip, Summary: "not run: " + why}
}
