// Package testutil holds helpers that tests in several packages share. It
// imports nothing from this module, so any package's tests may use it.
package testutil

import (
	"context"
	"sync"
	"time"
)

// FakeClock only moves when Sleep is called, so no test waits for real. Its
// zero value starts at 2026-01-02T03:04:05Z.
type FakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

// Now returns the clock's time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nowLocked()
}

func (c *FakeClock) nowLocked() time.Time {
	if c.now.IsZero() {
		c.now = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	}
	return c.now
}

// Sleep records d and moves the clock on by d; it returns ctx.Err().
func (c *FakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.nowLocked().Add(d)
	return ctx.Err()
}

// Sleeps returns the durations Sleep was called with, in order.
func (c *FakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}
