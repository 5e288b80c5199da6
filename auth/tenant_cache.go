package auth

import (
	"context"
	"encoding/json"
	"strings"
	"sync"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/cache"
)

// forgetCache is MSAL's in-memory token cache (CacheMemory) with one
// addition: the tokens of customer tenants the caller is done with
// (ForgetTenant) are dropped, so a batch over 1,000 GDAP customers does
// not keep 1,000 tenants' access tokens, ID tokens and accounts for its
// whole run. MSAL keeps the cache; this accessor only steps in once
// enough tenants are forgotten: on the next token write (Export, under
// MSAL's write lock) it takes the cache without them, and MSAL loads that
// at its next Replace — which every write does first, so no token written
// meanwhile is lost. Otherwise Replace and Export do nothing (the cache
// stays MSAL's own, as without an accessor). The refresh token and the
// signed-in tenant's tokens are never dropped.
type forgetCache struct {
	mu      sync.Mutex
	forget  map[string]bool // tenants (lower case) to drop at the next prune
	keep    func() string   // the signed-in tenant, never dropped
	pending []byte          // the pruned cache, loaded at the next Replace
}

// forgetBatch is how many forgotten tenants wait for one prune (whose
// cost is the size of the cache: the running tenants and these).
const forgetBatch = 16

// Replace implements cache.ExportReplace.
func (f *forgetCache) Replace(_ context.Context, u cache.Unmarshaler, _ cache.ReplaceHints) error {
	f.mu.Lock()
	p := f.pending
	f.pending = nil
	f.mu.Unlock()
	if p == nil {
		return nil
	}
	return u.Unmarshal(p)
}

// Export implements cache.ExportReplace.
func (f *forgetCache) Export(_ context.Context, m cache.Marshaler, _ cache.ExportHints) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.forget) < forgetBatch {
		return nil
	}
	b, err := m.Marshal()
	if err != nil {
		return nil // pruning is only a saving: keep everything
	}
	out, err := pruneRealms(b, f.forget)
	if err != nil {
		return nil
	}
	f.pending, f.forget = out, map[string]bool{}
	return nil
}

func (f *forgetCache) add(tenant string) {
	tenant = strings.ToLower(strings.TrimSpace(tenant))
	if tenant == "" || (f.keep != nil && strings.EqualFold(tenant, f.keep())) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.forget == nil {
		f.forget = map[string]bool{}
	}
	f.forget[tenant] = true
}

// pruneRealms drops the access tokens, ID tokens and accounts of the
// realms (tenants) in drop from MSAL's serialized cache; the other
// sections (refresh tokens, app metadata) are kept as they are.
func pruneRealms(b []byte, drop map[string]bool) ([]byte, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return nil, err
	}
	for _, section := range []string{"AccessToken", "IdToken", "Account"} {
		raw, ok := top[section]
		if !ok {
			continue
		}
		var entries map[string]json.RawMessage
		if err := json.Unmarshal(raw, &entries); err != nil {
			return nil, err
		}
		for k, e := range entries {
			var v struct {
				Realm string `json:"realm"`
			}
			if json.Unmarshal(e, &v) == nil && drop[strings.ToLower(v.Realm)] {
				delete(entries, k)
			}
		}
		nb, err := json.Marshal(entries)
		if err != nil {
			return nil, err
		}
		top[section] = nb
	}
	return json.Marshal(top)
}

// ForgetTenant says the caller is done with a customer tenant (a batch,
// once the tenant's flow has ended): its cached tokens are dropped with
// those of the next tenants forgotten, so the cache holds the tenants in
// progress, not every tenant of the run. A later TokenForTenant for it
// asks the identity platform again. The signed-in tenant is never
// forgotten; with --token-cache file nothing is dropped.
func (c *Client) ForgetTenant(tenantID string) {
	if c.forget != nil {
		c.forget.add(tenantID)
	}
}
