// Package auth signs the technician in to the customer's Microsoft 365
// tenant with MSAL for Go (device code or browser auth code + PKCE), hands
// out Graph and Exchange Online access tokens (refreshed silently), and turns
// sign-in failures into classified errors with plain-English messages
// (docs/errors.md). It never prints and never imports bubbletea.
package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/public"

	"itdr-onboard/endpoints"
)

// Options configures a Client.
type Options struct {
	Endpoints endpoints.Endpoints
	// Tenant is the customer tenant: GUID, domain, or "" (= organizations).
	Tenant string
	// HTTPClient is used for every MSAL request; nil = Endpoints.HTTPClient().
	HTTPClient *http.Client
	// Cache is where tokens live: CacheMemory (default), CacheFile or CacheKeyring.
	Cache CacheMode
	// StateDir holds token-cache.json for CacheFile.
	StateDir string
	// OpenBrowser opens the authorize URL. nil = the platform's default
	// opener (xdg-open, open, rundll32), which is not tried on headless or
	// SSH sessions. A non-nil opener is always called.
	OpenBrowser func(url string) error
	// Now is the clock (nil = time.Now).
	Now func() time.Time
	// Env reads environment variables (nil = os.Getenv); used to detect SSH
	// sessions and displays for browser sign-in.
	Env func(string) string
	// RedirectPort fixes the local redirect port for browser sign-in
	// (0 = a free port).
	RedirectPort int
	// GraphScopes, when set, are the Microsoft Graph scopes the sign-in and
	// GraphToken ask for instead of <graph>/.default (partner setup asks
	// for the permissions it uses, so an administrator is prompted to
	// consent them for the client at sign-in).
	GraphScopes []string
}

// Account is the signed-in user.
type Account struct {
	Username string `json:"username"`
	Name     string `json:"name,omitempty"`
	// TenantID is the tenant the tokens are for (the ID token's tid). Compare
	// it with the customer's tenant: a different value means the technician
	// signed in to the wrong tenant.
	TenantID      string `json:"tenant_id"`
	ObjectID      string `json:"object_id"`
	HomeAccountID string `json:"home_account_id"`
	// HomeTenantID is the account's home tenant (from HomeAccountID
	// "<oid>.<tid>"); it differs from TenantID for guest accounts.
	HomeTenantID string `json:"home_tenant_id,omitempty"`
}

// Client signs in and hands out tokens. It is safe for concurrent use.
type Client struct {
	opt      Options
	pca      public.Client
	fc       *fileCache
	forget   *forgetCache // CacheMemory: drops forgotten tenants' tokens
	clientID string
	scopes   struct{ graph, exchange string }

	mu       sync.Mutex
	acct     public.Account
	account  Account
	signedIn bool
	browser  *browserFlow
	// prestarted is the device-code request PrestartDeviceCode sent, until
	// StartDeviceCode takes it.
	prestarted *prestartedCode

	// scopeTurn serialises token requests per scope: checks started side
	// by side after sign-in all want the Exchange token at once; the first
	// asks the identity platform, the others then find it in MSAL's cache
	// instead of sending the same refresh-token request again.
	scopeTurn map[string]chan struct{}
}

// New builds a Client. It makes no network request.
func New(opt Options) (*Client, error) {
	if err := ValidateTenantFlag(opt.Tenant); err != nil {
		return nil, err
	}
	if opt.Endpoints.Authority == "" {
		return nil, errors.New("auth: endpoints have no authority")
	}
	if opt.HTTPClient == nil {
		opt.HTTPClient = opt.Endpoints.HTTPClient()
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	opt.Env = envOrOS(opt.Env)
	mode, err := ParseCacheMode(string(opt.Cache))
	if err != nil {
		return nil, err
	}
	opt.Cache = mode
	clientID := opt.Endpoints.ClientID
	if clientID == "" {
		clientID = endpoints.DefaultClientID
	}
	c := &Client{opt: opt, clientID: clientID}
	c.scopes.graph = opt.Endpoints.GraphScope()
	if len(opt.GraphScopes) > 0 {
		c.scopes.graph = strings.Join(opt.GraphScopes, " ")
	}
	c.scopes.exchange = opt.Endpoints.ExchangeScope()

	// MSAL gets its own copy of the client whose transport retries
	// throttled and failed identity requests, and takes the authority's
	// OpenID configuration from ResolveTenant when it read it already.
	msalHTTP := *opt.HTTPClient
	msalHTTP.Transport = openIDCache{next: newRetryTransport(opt.HTTPClient.Transport)}
	popts := []public.Option{
		public.WithAuthority(opt.Endpoints.AuthorityFor(opt.Tenant)),
		public.WithInstanceDiscovery(opt.Endpoints.InstanceDiscovery),
		public.WithHTTPClient(&msalHTTP),
	}
	switch mode {
	case CacheFile:
		fc, err := newFileCache(opt.StateDir)
		if err != nil {
			return nil, err
		}
		c.fc = fc
		popts = append(popts, public.WithCache(fc))
	case CacheKeyring:
		return nil, ErrKeyringUnavailable
	default:
		c.forget = &forgetCache{keep: func() string {
			a, _ := c.Account()
			return a.TenantID
		}}
		popts = append(popts, public.WithCache(c.forget))
	}
	pca, err := public.New(clientID, popts...)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	c.pca = pca
	return c, nil
}

// Account returns the signed-in account. With CacheFile it also finds an
// account saved by an earlier run (for the same tenant when Tenant is a GUID).
func (c *Client) Account() (Account, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.signedIn {
		return c.account, true
	}
	if c.fc == nil {
		return Account{}, false
	}
	accts, err := c.pca.Accounts(context.Background())
	if err != nil {
		return Account{}, false
	}
	for _, a := range accts {
		c.setAccountLocked(a, "")
		if IsGUID(c.opt.Tenant) && !strings.EqualFold(c.account.TenantID, c.opt.Tenant) {
			c.signedIn, c.acct, c.account = false, public.Account{}, Account{}
			continue
		}
		return c.account, true
	}
	return Account{}, false
}

func (c *Client) setAccountLocked(a public.Account, name string) {
	c.acct = a
	c.signedIn = true
	c.account = Account{
		Username:      a.PreferredUsername,
		Name:          a.Name,
		TenantID:      a.Realm,
		ObjectID:      a.LocalAccountID,
		HomeAccountID: a.HomeAccountID,
	}
	if c.account.Name == "" {
		c.account.Name = name
	}
	if i := strings.LastIndexByte(a.HomeAccountID, '.'); i >= 0 && IsGUID(a.HomeAccountID[i+1:]) {
		c.account.HomeTenantID = strings.ToLower(a.HomeAccountID[i+1:])
	}
	if !IsGUID(c.account.TenantID) {
		// organizations authority: the realm is the alias.
		c.account.TenantID = c.account.HomeTenantID
	}
}

// signedInWith records the result of an interactive sign-in.
func (c *Client) signedInWith(res public.AuthResult) Account {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setAccountLocked(res.Account, res.IDToken.Name)
	if IsGUID(res.IDToken.TenantID) {
		c.account.TenantID = strings.ToLower(res.IDToken.TenantID)
	}
	if c.account.ObjectID == "" {
		c.account.ObjectID = res.IDToken.Oid
	}
	if c.account.Username == "" {
		c.account.Username = res.IDToken.PreferredUsername
	}
	return c.account
}

func (c *Client) silentAccount() (public.Account, bool) {
	if _, ok := c.Account(); !ok {
		return public.Account{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.acct, true
}

// GraphToken returns a Microsoft Graph access token for the signed-in
// account, from the cache or silently refreshed.
func (c *Client) GraphToken(ctx context.Context) (string, error) {
	return c.token(ctx, c.scopes.graph)
}

// ExchangeToken returns an Exchange Online admin API token from the same
// sign-in (the refresh token is redeemed for the Exchange resource).
func (c *Client) ExchangeToken(ctx context.Context) (string, error) {
	return c.token(ctx, c.scopes.exchange)
}

// Token returns an access token for any scope from the same sign-in.
func (c *Client) Token(ctx context.Context, scope string) (string, error) {
	return c.token(ctx, scope)
}

func (c *Client) token(ctx context.Context, scope string) (string, error) {
	acct, ok := c.silentAccount()
	if !ok {
		return "", Classify(errNotSignedIn)
	}
	turn := c.turn(scope)
	select {
	case turn <- struct{}{}:
		defer func() { <-turn }()
	case <-ctx.Done():
		return "", Classify(ctx.Err())
	}
	res, err := c.pca.AcquireTokenSilent(ctx, strings.Fields(scope), public.WithSilentAccount(acct))
	if err != nil {
		return "", Classify(err)
	}
	return res.AccessToken, nil
}

// turn is the scope's token-request turn (Client.scopeTurn).
func (c *Client) turn(scope string) chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.scopeTurn == nil {
		c.scopeTurn = map[string]chan struct{}{}
	}
	t := c.scopeTurn[scope]
	if t == nil {
		t = make(chan struct{}, 1)
		c.scopeTurn[scope] = t
	}
	return t
}

// TokenExpiry returns when the cached Graph token expires (zero when none);
// useful for showing session state without exposing the token.
func (c *Client) TokenExpiry(ctx context.Context) time.Time {
	acct, ok := c.silentAccount()
	if !ok {
		return time.Time{}
	}
	res, err := c.pca.AcquireTokenSilent(ctx, strings.Fields(c.scopes.graph), public.WithSilentAccount(acct))
	if err != nil {
		return time.Time{}
	}
	return res.ExpiresOn
}

// SignOut forgets every account (MSAL cache) and deletes the file cache.
func (c *Client) SignOut(ctx context.Context) error {
	var errs []error
	accts, err := c.pca.Accounts(ctx)
	if err != nil {
		errs = append(errs, err)
	}
	for _, a := range accts {
		if err := c.pca.RemoveAccount(ctx, a); err != nil {
			errs = append(errs, err)
		}
	}
	c.mu.Lock()
	c.signedIn = false
	c.acct = public.Account{}
	c.account = Account{}
	c.mu.Unlock()
	if c.fc != nil {
		if err := c.fc.remove(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("sign out: %w", errors.Join(errs...))
	}
	return nil
}
