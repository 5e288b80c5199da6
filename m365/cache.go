package m365

import (
	"sync"
	"time"
)

// readCache keeps a few reads that the wizard makes more than once with
// no write in between (the platform's service principal, the role group's
// roles): an entry is served until the next write attempt through the same
// client, and for at most ttl, so a re-check after a write — or after a
// technician has been looking at a plan for a while — always reads afresh.
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

// get returns a live entry and the generation a new read must be stored under.
func (c *readCache) get(key string) (any, bool, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if ok && c.now().Sub(e.at) < c.ttl {
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

// invalidate drops everything: a write is about to happen.
func (c *readCache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.entries)
}
