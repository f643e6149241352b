package provider

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// ReplayCache remembers ticket ids so each ticket is accepted once.
//
// Seen records jti until the time given and reports whether it was already
// recorded and unexpired. It must be atomic: of two concurrent calls with the
// same jti exactly one reports false. Several provider replicas must share
// one cache (for example Redis SET key NX PXAT until), or a ticket could be
// used once per replica.
type ReplayCache interface {
	Seen(ctx context.Context, jti string, until time.Time) (alreadySeen bool, err error)
}

// DefaultReplayCapacity is the default bound of a MemoryReplayCache. With the
// default two-minute tickets and 30 s leeway an id is kept 2.5 minutes, so
// this admits about 650 tickets per second.
const DefaultReplayCapacity = 100_000

// MemoryReplayCache is an in-process ReplayCache for a single provider
// instance. Ids are dropped once their time has passed; when every slot holds
// a live id, Seen fails (closed) with ErrReplayCacheFull instead of
// forgetting one.
type MemoryReplayCache struct {
	capacity int
	now      func() time.Time

	mu     sync.Mutex
	until  map[string]time.Time
	expiry expiryHeap
}

// NewMemoryReplayCache returns a cache holding at most capacity live ids
// (DefaultReplayCapacity when capacity <= 0). now is the clock; nil means
// time.Now.
func NewMemoryReplayCache(capacity int, now func() time.Time) *MemoryReplayCache {
	if capacity <= 0 {
		capacity = DefaultReplayCapacity
	}
	if now == nil {
		now = time.Now
	}
	return &MemoryReplayCache{capacity: capacity, now: now, until: make(map[string]time.Time)}
}

// Seen implements ReplayCache.
func (c *MemoryReplayCache) Seen(_ context.Context, jti string, until time.Time) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	c.evictExpired(now)
	if _, ok := c.until[jti]; ok {
		return true, nil
	}
	if !until.After(now) {
		// Already past its time: the verifier has refused it as expired, so
		// there is nothing to remember.
		return false, nil
	}
	if len(c.until) >= c.capacity {
		return false, ErrReplayCacheFull
	}
	c.until[jti] = until
	heap.Push(&c.expiry, expiryEntry{jti: jti, until: until})
	return false, nil
}

// Len reports how many live ids the cache holds.
func (c *MemoryReplayCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.evictExpired(c.now())
	return len(c.until)
}

func (c *MemoryReplayCache) evictExpired(now time.Time) {
	for len(c.expiry) > 0 && !c.expiry[0].until.After(now) {
		e := heap.Pop(&c.expiry).(expiryEntry)
		delete(c.until, e.jti)
	}
}

type expiryEntry struct {
	jti   string
	until time.Time
}

// expiryHeap orders ids by the time they may be forgotten.
type expiryHeap []expiryEntry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].until.Before(h[j].until) }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiryEntry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
