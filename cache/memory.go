package cache

import (
	"container/list"
	"context"
	"sync"
	"time"

	"github.com/eidgate/eidgate/routing"
)

// Memory defaults.
const (
	DefaultMaxEntries = 100_000
	DefaultMaxBytes   = 64 << 20
	memoryShards      = 16
)

// MemoryConfig bounds a Memory cache; zero fields take the defaults.
type MemoryConfig struct {
	MaxEntries int   // entries across all shards
	MaxBytes   int64 // key and value bytes across all shards
	Clock      routing.Clock
}

// Memory is an in-process routing.Cache with per-entry TTL and a size
// bound. Keys are spread over shards, each with its own lock. Expired
// entries are dropped when read or when room is needed; beyond that, the
// entry stored longest ago goes first. It starts no goroutine, so there is
// nothing to stop.
type Memory struct {
	shards   [memoryShards]memShard
	clock    routing.Clock
	maxItems int
	maxBytes int64
}

type memShard struct {
	mu    sync.Mutex
	items map[string]*list.Element // of *memEntry
	order list.List                // front: stored longest ago
	bytes int64
	// soonest is no later than the earliest expiry in the shard, so a
	// sweep before it would find nothing.
	soonest time.Time
}

type memEntry struct {
	key     string
	value   []byte
	expires time.Time
}

var _ routing.Cache = (*Memory)(nil)

// NewMemory checks cfg and returns an empty in-process cache.
func NewMemory(o MemoryConfig) (*Memory, error) {
	if o.MaxEntries < 0 || o.MaxBytes < 0 {
		return nil, routing.Errorf(routing.KindInternal, "cache.NewMemory", "a memory cache cannot be bounded by a negative size")
	}
	if o.MaxEntries == 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.Clock == nil {
		o.Clock = routing.SystemClock{}
	}
	m := &Memory{
		clock:    o.Clock,
		maxItems: max(o.MaxEntries/memoryShards, 1),
		maxBytes: max(o.MaxBytes/memoryShards, 1),
	}
	for i := range m.shards {
		m.shards[i].items = map[string]*list.Element{}
	}
	return m, nil
}

func (m *Memory) shard(key string) *memShard {
	// FNV-1a
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= 16777619
	}
	return &m.shards[h%memoryShards]
}

func entrySize(e *memEntry) int64 { return int64(len(e.key) + len(e.value)) }

// Get returns a copy of the value under key.
func (m *Memory) Get(_ context.Context, key string) ([]byte, bool, error) {
	b, ok := m.lookup(key)
	if !ok {
		return nil, false, nil
	}
	return append([]byte(nil), b...), true, nil
}

var _ routing.SharedCache = (*Memory)(nil)

// GetShared is Get without the copy (routing.SharedCache): the bytes are
// the cache's own, never changed after they were stored (a Set stores a
// new copy), and the caller must not modify them. It has no versions.
func (m *Memory) GetShared(_ context.Context, key string) ([]byte, bool, string, error) {
	b, ok := m.lookup(key)
	return b, ok, "", nil
}

// lookup returns the stored value under key, dropping it when expired.
func (m *Memory) lookup(key string) ([]byte, bool) {
	s := m.shard(key)
	now := m.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	el, ok := s.items[key]
	if !ok {
		return nil, false
	}
	e := el.Value.(*memEntry)
	if !now.Before(e.expires) {
		s.remove(el)
		return nil, false
	}
	return e.value, true
}

// Set stores a copy of value under key for ttl (DefaultTTL when ttl ≤ 0).
func (m *Memory) Set(_ context.Context, key string, value []byte, ttl time.Duration) error {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	s := m.shard(key)
	now := m.clock.Now()
	e := &memEntry{key: key, value: append([]byte(nil), value...), expires: now.Add(ttl)}
	if entrySize(e) > m.maxBytes {
		// Larger than a whole shard may hold: not cached, and an older
		// value must not survive in its place.
		s.mu.Lock()
		if el, ok := s.items[key]; ok {
			s.remove(el)
		}
		s.mu.Unlock()
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if el, ok := s.items[key]; ok {
		s.remove(el)
	}
	s.items[key] = s.order.PushBack(e)
	s.bytes += entrySize(e)
	if s.soonest.IsZero() || e.expires.Before(s.soonest) {
		s.soonest = e.expires
	}
	for len(s.items) > m.maxItems || s.bytes > m.maxBytes {
		if !now.Before(s.soonest) && s.sweep(now) > 0 {
			continue
		}
		s.remove(s.order.Front())
	}
	return nil
}

// Delete removes keys.
func (m *Memory) Delete(_ context.Context, keys ...string) error {
	for _, k := range keys {
		s := m.shard(k)
		s.mu.Lock()
		if el, ok := s.items[k]; ok {
			s.remove(el)
		}
		s.mu.Unlock()
	}
	return nil
}

// Len is the number of entries held, expired or not.
func (m *Memory) Len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += len(s.items)
		s.mu.Unlock()
	}
	return n
}

func (s *memShard) remove(el *list.Element) {
	e := s.order.Remove(el).(*memEntry)
	delete(s.items, e.key)
	s.bytes -= entrySize(e)
}

// sweep drops every expired entry, recomputes soonest and returns how many
// went.
func (s *memShard) sweep(now time.Time) int {
	n := 0
	s.soonest = time.Time{}
	for el := s.order.Front(); el != nil; {
		next := el.Next()
		e := el.Value.(*memEntry)
		if !now.Before(e.expires) {
			s.remove(el)
			n++
		} else if s.soonest.IsZero() || e.expires.Before(s.soonest) {
			s.soonest = e.expires
		}
		el = next
	}
	return n
}

// Clear removes every entry.
func (m *Memory) Clear() {
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		clear(s.items)
		s.order.Init()
		s.bytes = 0
		s.soonest = time.Time{}
		s.mu.Unlock()
	}
}
