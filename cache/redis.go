package cache

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/eidgate/eidgate/routing"
)

// Defaults.
const (
	// DefaultTTL is used when a caller passes no TTL.
	DefaultTTL = routing.DefaultCacheTTL
	// DefaultPrefix namespaces every key eidgate writes.
	DefaultPrefix = "eidgate:"
	// DefaultRedisTimeout bounds one Redis call: a cache answer slower than
	// this is worth less than going to the source.
	DefaultRedisTimeout = 250 * time.Millisecond
	// DefaultCooldown is how long calls fail at once after Redis failed to
	// answer, so a dead Redis costs requests nothing but a branch.
	DefaultCooldown = time.Second
	// DefaultRedisConnectWait is how long OpenRedis keeps trying to reach
	// Redis at start-up: services start in any order, and a busy host may
	// take longer than one call's deadline to answer the first time.
	DefaultRedisConnectWait = 5 * time.Second
	// TombstoneTTL is how long an invalidated key keeps its tombstone: a
	// fill that read the source before the invalidation and arrives
	// within it loses (loads end within request deadlines, far shorter).
	TombstoneTTL = time.Minute
)

// tombstonePrefix starts the value an invalidation leaves under a key;
// cached values are JSON and never start with a NUL byte.
const tombstonePrefix = "\x00eidgate-invalidated:"

// fillScript stores ARGV[1] for ARGV[2] milliseconds only while the key is
// in the state ARGV[3] names: "" absent, else that tombstone.
var fillScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if (cur == false and ARGV[3] == '') or cur == ARGV[3] then
	redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
	return 1
end
return 0`)

// ErrRedisDown is returned without asking Redis while a recent failure's
// cooldown runs.
var ErrRedisDown = errors.New("redis did not answer recently; skipped")

// RedisConfig is what a Redis cache is built from: OpenRedis connects to
// URL, NewRedis wraps Client. Zero settings take the defaults.
type RedisConfig struct {
	URL      string                // redis://[user:password@]host:port/db or rediss:// (OpenRedis)
	Client   redis.UniversalClient // an existing client, not closed by Close (NewRedis)
	Prefix   string
	Timeout  time.Duration // per call
	Cooldown time.Duration // negative: never skip calls
	// ConnectWait bounds how long OpenRedis keeps trying to reach Redis
	// before it gives up (default DefaultRedisConnectWait).
	ConnectWait time.Duration
	Clock       routing.Clock
}

// Redis is a shared routing.Cache over Redis. Every call has a short
// deadline; after a call fails for want of Redis, calls fail at once for a
// cooldown, so callers fall back to the source of truth instead of waiting.
//
// An invalidation (Delete) that fails leaves possibly stale entries behind
// in Redis, so this replica then treats every read as a miss until every
// entry written before the failure has expired: a revoked consent is never
// served from a cache that missed its invalidation.
type Redis struct {
	client   redis.UniversalClient
	prefix   string
	timeout  time.Duration
	cooldown time.Duration
	clock    routing.Clock

	downUntil     atomic.Int64 // unix nanos
	distrustUntil atomic.Int64 // unix nanos
	maxTTL        atomic.Int64 // nanoseconds, the longest TTL set so far
	closeOnce     sync.Once
	owned         bool
}

var _ routing.VersionedCache = (*Redis)(nil)

func (o RedisConfig) withDefaults() RedisConfig {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultRedisTimeout
	}
	if o.Cooldown == 0 {
		o.Cooldown = DefaultCooldown
	}
	if o.ConnectWait <= 0 {
		o.ConnectWait = DefaultRedisConnectWait
	}
	if o.Clock == nil {
		o.Clock = routing.SystemClock{}
	}
	return o
}

// OpenRedis connects to the Redis at cfg.URL (redis://[user:password@]host:port/db
// or rediss:// for TLS) and checks that it answers.
func OpenRedis(ctx context.Context, o RedisConfig) (*Redis, error) {
	const op = "cache.OpenRedis"
	if o.URL == "" {
		return nil, routing.MissingDependency(op, "a Redis URL")
	}
	o = o.withDefaults()
	rawURL := o.URL
	where := redactURL(rawURL)
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, (&routing.Error{Kind: routing.KindInvalid, Op: op, Field: "redis",
			Message: "the Redis URL " + where + " cannot be used; expected redis://host:port/db or rediss://…"}).WithCode("invalid_redis_url")
	}
	opt.DialTimeout = max(4*o.Timeout, time.Second)
	opt.ReadTimeout = o.Timeout
	opt.WriteTimeout = o.Timeout
	opt.PoolTimeout = o.Timeout
	opt.ContextTimeoutEnabled = true
	opt.MaxRetries = 1
	opt.PoolSize = max(opt.PoolSize, 32)
	client := redis.NewClient(opt)
	r := newRedis(client, o)
	r.owned = true
	if err := pingUntil(ctx, client, opt.DialTimeout+o.Timeout, o.ConnectWait); err != nil {
		_ = client.Close()
		return nil, routing.Unavailable(op, "cache_unavailable", "Redis at "+where+" does not answer", err)
	}
	return r, nil
}

// pingUntil pings Redis, each try bounded by try, until it answers or wait
// has passed (at least one try is made).
func pingUntil(ctx context.Context, client redis.UniversalClient, try, wait time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, max(wait, try))
	defer cancel()
	for {
		tctx, tcancel := context.WithTimeout(ctx, try)
		err := client.Ping(tctx).Err()
		tcancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// NewRedis wraps the existing client cfg.Client (not closed by Close).
func NewRedis(o RedisConfig) (*Redis, error) {
	if o.Client == nil {
		return nil, routing.MissingDependency("cache.NewRedis", "a Redis client")
	}
	return newRedis(o.Client, o.withDefaults()), nil
}

func newRedis(client redis.UniversalClient, o RedisConfig) *Redis {
	return &Redis{client: client, prefix: o.Prefix, timeout: o.Timeout, cooldown: o.Cooldown, clock: o.Clock}
}

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// Client is the underlying client, to share its pool (replay cache, rate
// limiter).
func (r *Redis) Client() redis.UniversalClient { return r.client }

// Prefix is the key prefix.
func (r *Redis) Prefix() string { return r.prefix }

// Close closes the client when OpenRedis made it.
func (r *Redis) Close() error {
	var err error
	r.closeOnce.Do(func() {
		if r.owned {
			err = r.client.Close()
		}
	})
	return err
}

// Ping checks that Redis answers (for readiness).
func (r *Redis) Ping(ctx context.Context) error {
	return r.call(ctx, "cache.Ping", false, func(ctx context.Context) error { return r.client.Ping(ctx).Err() })
}

// call runs fn under the per-call deadline, unless a recent failure's
// cooldown says to fail at once (force ignores the cooldown: an
// invalidation always tries).
func (r *Redis) call(ctx context.Context, op string, force bool, fn func(ctx context.Context) error) error {
	now := r.clock.Now()
	if !force && now.UnixNano() < r.downUntil.Load() {
		return routing.Unavailable(op, "cache_unavailable", "the shared cache is not available", ErrRedisDown)
	}
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	err := fn(cctx)
	if err == nil || errors.Is(err, redis.Nil) {
		return err
	}
	var rerr redis.Error
	if !errors.As(err, &rerr) && ctx.Err() == nil && r.cooldown > 0 {
		// Not an answer from Redis (refused, reset, timed out): Redis is
		// down or slow, not the caller.
		r.downUntil.Store(r.clock.Now().Add(r.cooldown).UnixNano())
	}
	return routing.Unavailable(op, "cache_unavailable", "the shared cache is not available", err)
}

// Get returns the value under key.
func (r *Redis) Get(ctx context.Context, key string) ([]byte, bool, error) {
	b, ok, _, err := r.GetVersion(ctx, key)
	return b, ok, err
}

// GetVersion returns the value under key or, when there is none, the
// version of its empty state for Fill: "" when the key is absent, else the
// tombstone its last invalidation left.
func (r *Redis) GetVersion(ctx context.Context, key string) ([]byte, bool, string, error) {
	const op = "cache.Redis.Get"
	if r.clock.Now().UnixNano() < r.distrustUntil.Load() {
		return nil, false, "", routing.Unavailable(op, "cache_unavailable", "the shared cache missed an invalidation; reading the source", nil)
	}
	var b []byte
	err := r.call(ctx, op, false, func(ctx context.Context) error {
		var err error
		b, err = r.client.Get(ctx, r.prefix+key).Bytes()
		return err
	})
	if errors.Is(err, redis.Nil) {
		return nil, false, "", nil
	}
	if err != nil {
		return nil, false, "", err
	}
	if bytes.HasPrefix(b, []byte(tombstonePrefix)) {
		return nil, false, string(b), nil
	}
	return b, true, "", nil
}

// Fill stores value under key for ttl only while the key is still in the
// state version names (from GetVersion): a load that read the source
// before another replica's invalidation does not overwrite it.
func (r *Redis) Fill(ctx context.Context, key string, value []byte, ttl time.Duration, version string) error {
	_, err := r.fill(ctx, key, value, ttl, version)
	return err
}

// fill is Fill reporting whether the value was stored.
func (r *Redis) fill(ctx context.Context, key string, value []byte, ttl time.Duration, version string) (bool, error) {
	ttl = r.noteTTL(ttl)
	var stored bool
	err := r.call(ctx, "cache.Redis.Fill", false, func(ctx context.Context) error {
		n, err := fillScript.Run(ctx, r.client, []string{r.prefix + key}, value, ttl.Milliseconds(), version).Int()
		stored = n == 1
		return err
	})
	return stored, err
}

// noteTTL returns the TTL to use for ttl (DefaultTTL when ttl ≤ 0) and
// keeps the longest one seen.
func (r *Redis) noteTTL(ttl time.Duration) time.Duration {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	for {
		cur := r.maxTTL.Load()
		if int64(ttl) <= cur || r.maxTTL.CompareAndSwap(cur, int64(ttl)) {
			return ttl
		}
	}
}

// Set stores value under key for ttl (DefaultTTL when ttl ≤ 0).
func (r *Redis) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	ttl = r.noteTTL(ttl)
	return r.call(ctx, "cache.Redis.Set", false, func(ctx context.Context) error {
		return r.client.Set(ctx, r.prefix+key, value, ttl).Err()
	})
}

// Delete invalidates keys: each gets a fresh tombstone, read as a miss,
// that fills begun before it cannot overwrite (see Fill). When it fails,
// reads miss until whatever it should have removed has expired.
func (r *Redis) Delete(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	tomb := tombstonePrefix + hex.EncodeToString(nonce[:])
	err := r.call(ctx, "cache.Redis.Delete", true, func(ctx context.Context) error {
		_, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range keys {
				p.Set(ctx, r.prefix+k, tomb, TombstoneTTL)
			}
			return nil
		})
		return err
	})
	if err != nil {
		// Other replicas may have written with the default TTL even if
		// this one used shorter ones.
		ttl := max(time.Duration(r.maxTTL.Load()), DefaultTTL)
		until := r.clock.Now().Add(ttl).UnixNano()
		for {
			cur := r.distrustUntil.Load()
			if until <= cur || r.distrustUntil.CompareAndSwap(cur, until) {
				break
			}
		}
	}
	return err
}

// String describes the cache without credentials.
func (r *Redis) String() string { return fmt.Sprintf("redis cache (prefix %q)", r.prefix) }
