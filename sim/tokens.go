package sim

import (
	"crypto/sha1"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Principal is who an access token was issued to, and for what.
type Principal struct {
	UPN      string
	ObjectID string
	TenantID string // the token's tid (the user's home tenant in wrong-tenant)
	Audience string // https://graph.microsoft.com or https://outlook.office365.com
	Expires  time.Time
	// Scopes is the space-separated scope the client asked for.
	Scopes string
	// ClientID is the public client the token was issued to.
	ClientID string
}

// String never includes the token itself.
func (p Principal) String() string {
	return fmt.Sprintf("%s (oid %s, tid %s) for %s until %s", p.UPN, p.ObjectID, p.TenantID, p.Audience, p.Expires.UTC().Format(time.RFC3339))
}

// TokenStore holds every access token the simulator's identity platform has
// issued. Graph and Exchange handlers validate bearer tokens with Lookup.
type TokenStore struct {
	mu     sync.Mutex
	now    func() time.Time
	tokens map[string]Principal
}

// NewTokenStore returns an empty store; now nil means time.Now.
func NewTokenStore(now func() time.Time) *TokenStore {
	if now == nil {
		now = time.Now
	}
	return &TokenStore{now: now, tokens: make(map[string]Principal)}
}

// Add registers an issued token.
func (ts *TokenStore) Add(token string, p Principal) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.tokens[token] = p
}

// Lookup returns the principal of a known, unexpired token. A leading
// "Bearer " is accepted. Unknown and expired tokens give false.
func (ts *TokenStore) Lookup(token string) (Principal, bool) {
	p, known := ts.Inspect(token)
	if !known || !ts.now().Before(p.Expires) {
		return Principal{}, false
	}
	return p, true
}

// Inspect returns the principal of any token the store ever issued, expired
// or not (so a handler can say "the token is expired" rather than "invalid").
func (ts *TokenStore) Inspect(token string) (Principal, bool) {
	token = strings.TrimSpace(token)
	if len(token) > 7 && strings.EqualFold(token[:7], "bearer ") {
		token = strings.TrimSpace(token[7:])
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	p, ok := ts.tokens[token]
	return p, ok
}

// Expired reports whether the principal's token has expired at now.
func (p Principal) Expired(now time.Time) bool { return !now.Before(p.Expires) }

// Len is the number of tokens issued so far.
func (ts *TokenStore) Len() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return len(ts.tokens)
}

// ObjectIDFor returns the deterministic object id the simulator uses for a
// user (the oid claim of its tokens): tenantID is the user's home tenant
// (the scenario tenant unless users[].home_tenant is set).
func ObjectIDFor(tenantID, upn string) string {
	h := sha1.Sum([]byte("sim-user\x00" + strings.ToLower(tenantID) + "\x00" + strings.ToLower(upn)))
	return simGUID(h[:], 5)
}
