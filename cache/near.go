package cache

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/eidgate/eidgate/routing"
)

// Near-cache defaults.
const (
	// DefaultNearMaxAge bounds how long a replica serves its own copy of an
	// entry it read from Redis, whose remaining lifetime it does not know.
	DefaultNearMaxAge = 30 * time.Second
	// DefaultNearPing is how often a quiet invalidation subscription is
	// checked; one silent for three of these is treated as lost.
	DefaultNearPing = time.Second
	// nearChannel is the Pub/Sub channel (after the prefix) on which every
	// replica announces the keys it deleted.
	nearChannel = "invalidate"
	// nearSep separates keys in an invalidation message: no cache key
	// holds it.
	nearSep = "\n"
)

// NearConfig is what a Near cache is built from.
type NearConfig struct {
	Shared *Redis // required; not closed by Close
	Local  MemoryConfig
	// MaxAge bounds a local copy's life (DefaultNearMaxAge when zero).
	MaxAge time.Duration
	// Ping is the subscription's health-check interval (DefaultNearPing).
	Ping   time.Duration
	Logger *slog.Logger
}

// Near is a two-level routing.Cache: an in-process Memory in front of a
// shared Redis. A read served by the in-process level costs no network
// round trip; a miss there reads Redis and keeps what it found. Writes and
// deletes go to both levels, and every delete is announced on a Redis
// Pub/Sub channel, so each replica drops its own copies of the keys any
// replica invalidated (chaincode events reach every replica anyway; the
// channel carries the changes that are not on the ledger).
//
// The in-process level is used only while the replica's subscription to
// that channel is known to be live: before it is confirmed, after it fails
// and until it is confirmed again, reads go to Redis and nothing is kept,
// and the in-process level is emptied on every (re)subscription, because
// announcements sent meanwhile are lost.
type Near struct {
	shared *Redis
	local  *Memory
	maxAge time.Duration
	ping   time.Duration
	log    *slog.Logger
	chName string

	// live says the subscription is confirmed and healthy.
	live atomic.Bool
	// mu orders fills against invalidations: a fill holds it shared and
	// checks that no invalidation ran since its Redis read began; an
	// invalidation holds it exclusively while it bumps gen and deletes.
	mu  sync.RWMutex
	gen uint64

	stats nearStats

	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

type nearStats struct {
	localHits, sharedReads, invalidations atomic.Uint64
}

// NearStats counts the near cache's work.
type NearStats struct {
	LocalHits     uint64 // reads answered in process
	SharedReads   uint64 // reads that went to Redis
	Invalidations uint64 // invalidation messages applied (this replica's and others')
}

var _ routing.VersionedCache = (*Near)(nil)

// NewNear builds the near cache and starts its subscription; Close stops
// it.
func NewNear(cfg NearConfig) (*Near, error) {
	if cfg.Shared == nil {
		return nil, routing.MissingDependency("cache.NewNear", "a shared Redis cache")
	}
	if cfg.Local.Clock == nil {
		cfg.Local.Clock = cfg.Shared.clock
	}
	local, err := NewMemory(cfg.Local)
	if err != nil {
		return nil, err
	}
	n := &Near{shared: cfg.Shared, local: local, maxAge: cfg.MaxAge, ping: cfg.Ping, log: cfg.Logger,
		chName: nearChannelName(cfg.Shared), done: make(chan struct{})}
	if n.maxAge <= 0 {
		n.maxAge = DefaultNearMaxAge
	}
	if n.ping <= 0 {
		n.ping = DefaultNearPing
	}
	if n.log == nil {
		n.log = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	go n.listen(ctx)
	return n, nil
}

// Close stops the subscription. The shared Redis stays open.
func (n *Near) Close() error {
	n.once.Do(func() { n.cancel() })
	<-n.done
	return nil
}

// Live reports whether the in-process level is in use (the subscription is
// confirmed).
func (n *Near) Live() bool { return n.live.Load() }

// Stats returns the counters.
func (n *Near) Stats() NearStats {
	return NearStats{LocalHits: n.stats.localHits.Load(), SharedReads: n.stats.sharedReads.Load(), Invalidations: n.stats.invalidations.Load()}
}

// Get answers from the in-process level when it may, else from Redis,
// keeping what Redis returned.
func (n *Near) Get(ctx context.Context, key string) ([]byte, bool, error) {
	b, ok, _, err := n.GetVersion(ctx, key)
	return b, ok, err
}

// GetVersion is Get that also returns, on a miss, the shared level's
// version of the key for Fill.
func (n *Near) GetVersion(ctx context.Context, key string) ([]byte, bool, string, error) {
	return n.getVersion(ctx, key, true)
}

var _ routing.SharedCache = (*Near)(nil)

// GetShared is GetVersion whose in-process hits are not copied
// (routing.SharedCache): the caller must not modify the bytes.
func (n *Near) GetShared(ctx context.Context, key string) ([]byte, bool, string, error) {
	return n.getVersion(ctx, key, false)
}

func (n *Near) getVersion(ctx context.Context, key string, copyHit bool) ([]byte, bool, string, error) {
	live := n.live.Load()
	if live {
		if b, ok := n.local.lookup(key); ok {
			n.stats.localHits.Add(1)
			if copyHit {
				b = append([]byte(nil), b...)
			}
			return b, true, "", nil
		}
	}
	n.mu.RLock()
	gen := n.gen
	n.mu.RUnlock()
	n.stats.sharedReads.Add(1)
	b, ok, version, err := n.shared.GetVersion(ctx, key)
	if err != nil || !ok || !live {
		return b, ok, version, err
	}
	n.fill(gen, key, b, n.maxAge)
	return b, true, "", nil
}

// Fill stores value in Redis while the key is still at version there, and
// then in process.
func (n *Near) Fill(ctx context.Context, key string, value []byte, ttl time.Duration, version string) error {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	n.mu.RLock()
	gen := n.gen
	n.mu.RUnlock()
	stored, err := n.shared.fill(ctx, key, value, ttl, version)
	if stored {
		n.fill(gen, key, value, min(ttl, n.maxAge))
	}
	return err
}

// fill keeps value in process unless an invalidation ran since gen was
// read or the subscription is not live.
func (n *Near) fill(gen uint64, key string, value []byte, ttl time.Duration) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	if n.gen != gen || !n.live.Load() {
		return
	}
	_ = n.local.Set(context.Background(), key, value, ttl)
}

// Set writes value to Redis and keeps it in process.
func (n *Near) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	n.mu.RLock()
	gen := n.gen
	n.mu.RUnlock()
	err := n.shared.Set(ctx, key, value, ttl)
	n.fill(gen, key, value, min(ttl, n.maxAge))
	return err
}

// Delete removes keys from both levels and announces them to every
// replica. The in-process copies go first and whatever Redis answers.
func (n *Near) Delete(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	n.dropLocal(keys)
	err := n.shared.Delete(ctx, keys...)
	perr := n.shared.call(ctx, "cache.Near.Publish", true, func(ctx context.Context) error {
		return n.shared.client.Publish(ctx, n.chName, strings.Join(keys, nearSep)).Err()
	})
	if err == nil && perr != nil {
		// Other replicas keep their copies until their subscriptions,
		// which go through the same Redis, fail and are renewed.
		err = perr
	}
	return err
}

func (n *Near) dropLocal(keys []string) {
	n.mu.Lock()
	n.gen++
	_ = n.local.Delete(context.Background(), keys...)
	n.mu.Unlock()
}

// dropAll empties the in-process level; live says whether it may be used
// from now on.
func (n *Near) dropAll(live bool) {
	n.mu.Lock()
	n.gen++
	n.live.Store(live)
	n.local.Clear()
	n.mu.Unlock()
}

// listen keeps the subscription to the invalidation channel, applying
// what arrives, until ctx ends.
func (n *Near) listen(ctx context.Context) {
	defer close(n.done)
	defer n.live.Store(false)
	for ctx.Err() == nil {
		n.subscribeOnce(ctx)
		n.dropAll(false)
		select {
		case <-ctx.Done():
		case <-time.After(n.ping):
		}
	}
}

// subscribeOnce runs one subscription until it fails or goes silent.
func (n *Near) subscribeOnce(ctx context.Context) {
	ps := n.shared.client.Subscribe(ctx)
	defer ps.Close()
	if err := ps.Subscribe(ctx, n.chName); err != nil {
		n.log.Warn("cache invalidation channel unavailable; reading the shared cache", "err", err)
		return
	}
	heard := time.Now()
	for ctx.Err() == nil {
		msg, err := ps.ReceiveTimeout(ctx, n.ping)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			var nerr interface{ Timeout() bool }
			if !errors.As(err, &nerr) || !nerr.Timeout() {
				n.log.Warn("cache invalidation channel lost; reading the shared cache", "err", err)
				return
			}
			if time.Since(heard) > 3*n.ping {
				n.log.Warn("cache invalidation channel silent; reading the shared cache")
				return
			}
			if err := ps.Ping(ctx); err != nil {
				n.log.Warn("cache invalidation channel lost; reading the shared cache", "err", err)
				return
			}
			continue
		}
		heard = time.Now()
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" && m.Channel == n.chName {
				// Announcements made before now were not seen here.
				n.dropAll(true)
			}
		case *redis.Message:
			if m.Channel == n.chName {
				n.stats.invalidations.Add(1)
				n.dropLocal(strings.Split(m.Payload, nearSep))
			}
		}
	}
}

// nearChannelName is the invalidation channel of r's prefix and database:
// Pub/Sub channels are global to a Redis server, not per database.
func nearChannelName(r *Redis) string {
	name := r.prefix + nearChannel
	if c, ok := r.client.(*redis.Client); ok {
		name += ":" + strconv.Itoa(c.Options().DB)
	}
	return name
}

// String describes the cache without credentials.
func (n *Near) String() string { return "near cache in front of " + n.shared.String() }
