// Package routingtest holds in-memory stand-ins for the ports of the
// routing core (clock, cache, access and anchor store, ledger) for the
// tests of routing and of the packages built on it. They keep state in
// memory and follow the documented contracts of the interfaces they
// implement (one transaction per AppendAccess, consent use limits, batch
// planning in sequence order, the chaincode's validation and state rules),
// so code tested against them meets the rules the real adapters follow.
// Failures can be switched on to test how callers fail closed.
package routingtest

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Clock is a clock that stands still until the test moves it.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock standing at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// ErrCacheDown is what a Cache that is down answers.
var ErrCacheDown = errors.New("cache down")

// Cache is routing.Cache over a map. Entries never expire.
type Cache struct {
	mu   sync.Mutex
	m    map[string][]byte
	down bool
}

// NewCache returns an empty cache.
func NewCache() *Cache { return &Cache{m: map[string][]byte{}} }

// SetDown makes every call fail with ErrCacheDown (an outage) or work
// again.
func (c *Cache) SetDown(down bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.down = down
}

// Get returns the value stored under k.
func (c *Cache) Get(_ context.Context, k string) ([]byte, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return nil, false, ErrCacheDown
	}
	v, ok := c.m[k]
	return v, ok, nil
}

// Set stores v under k; the ttl is ignored.
func (c *Cache) Set(_ context.Context, k string, v []byte, _ time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return ErrCacheDown
	}
	c.m[k] = v
	return nil
}

// Delete drops keys.
func (c *Cache) Delete(_ context.Context, keys ...string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return ErrCacheDown
	}
	for _, k := range keys {
		delete(c.m, k)
	}
	return nil
}
