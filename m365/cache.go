package m365

import (
	"context"
	"strings"
	"sync"
	"time"
)

// readCache keeps a few reads that the wizard makes more than once (the
// platform's service principal, the role group's roles, what a service
// principal holds). An entry is served for at most ttl, so a re-check after
// a technician has been looking at a plan for a while reads afresh. A write
// drops the entries it can change (by key prefix; every entry when it does
// not say), and a write whose own response answers a later read folds that
// answer in instead of dropping it: a service principal just created holds no
// roles, permissions or grants, and a created assignment is added to the
// cached list it belongs to. Reads under FreshReads never use an entry (a
// read-back after the writes must ask the service).
type readCache struct {
	mu      sync.Mutex
	gen     uint64
	ttl     time.Duration
	now     func() time.Time
	entries map[string]cacheEntry
}

type cacheEntry struct {
	v  any
	at time.Time
}

func newReadCache() *readCache {
	return &readCache{ttl: time.Minute, now: time.Now, entries: map[string]cacheEntry{}}
}

type freshKey struct{}

// FreshReads returns a context under which the clients' reads of what fixes
// change (role assignments, permissions, grants, role group roles) go to the
// service even when an earlier answer is cached: verification after writes.
// A service principal's lookup is still served: no fix changes it, and after
// a create the create's own response is its answer.
func FreshReads(ctx context.Context) context.Context {
	return context.WithValue(ctx, freshKey{}, true)
}

func freshReads(ctx context.Context) bool {
	v, _ := ctx.Value(freshKey{}).(bool)
	return v
}

type uncachedKey struct{}

// Uncached returns a context under which no read is served from the cache,
// not even a service principal's lookup: for polls that wait on somebody
// else's change (a Global Administrator granting consent from another
// browser creates the service principal and its grants out of band).
func Uncached(ctx context.Context) context.Context {
	return context.WithValue(ctx, uncachedKey{}, true)
}

func uncached(ctx context.Context) bool {
	v, _ := ctx.Value(uncachedKey{}).(bool)
	return v
}

// get returns a live entry and the generation a new read must be stored under.
func (c *readCache) get(ctx context.Context, key string) (any, bool, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if ok && !uncached(ctx) && (!freshReads(ctx) || strings.HasPrefix(key, "sp:")) && c.now().Sub(e.at) < c.ttl {
		return e.v, true, c.gen
	}
	return nil, false, c.gen
}

// put stores a read made under generation gen, unless a write started since.
func (c *readCache) put(key string, v any, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen == c.gen {
		c.entries[key] = cacheEntry{v: v, at: c.now()}
	}
}

// set stores what a write's own response says (after the write).
func (c *readCache) set(key string, v any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries[key] = cacheEntry{v: v, at: c.now()}
}

// fold updates a live entry with a write's response; without one it does
// nothing (the next read asks the service).
func (c *readCache) fold(key string, f func(any) any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[key]; ok && c.now().Sub(e.at) < c.ttl {
		c.entries[key] = cacheEntry{v: f(e.v), at: e.at}
	}
}

// invalidate is called before and after a write: reads in flight must not
// be stored, and the entries under the given key prefixes are dropped —
// every entry when scoped is false.
func (c *readCache) invalidate(scoped bool, prefixes ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if !scoped {
		clear(c.entries)
		return
	}
	for k := range c.entries {
		for _, p := range prefixes {
			if strings.HasPrefix(k, p) {
				delete(c.entries, k)
				break
			}
		}
	}
}
