package cache

import (
	"context"
	"math"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/eidgate/eidgate/routing"
)

// Rate is a request rate: PerSecond on average, with up to Burst requests
// at once (at least 1).
type Rate struct {
	PerSecond float64
	Burst     int
}

// interval is the time one request "costs".
func (r Rate) interval() (time.Duration, int, error) {
	if math.IsNaN(r.PerSecond) || math.IsInf(r.PerSecond, 0) || r.PerSecond <= 0 || r.PerSecond > 1e6 {
		return 0, 0, routing.Invalid("cache.Rate", "rate", "a rate limit needs a rate per second above 0 and at most 1e6")
	}
	return time.Duration(float64(time.Second) / r.PerSecond), max(r.Burst, 1), nil
}

// Both limiters implement the generic cell rate algorithm (GCRA), the
// token bucket expressed as one timestamp per key: the theoretical arrival
// time (TAT) of the next request. A request is allowed when
// now ≥ TAT + interval − burst·interval, and then moves TAT by one
// interval. A key whose TAT has passed is the same as a key never seen, so
// forgetting it loses nothing.

// DefaultMaxLimiterKeys bounds the in-process limiter's map.
const DefaultMaxLimiterKeys = 100_000

// MemoryLimiter is an in-process rate limiter (one replica's view).
type MemoryLimiter struct {
	clock   routing.Clock
	maxKeys int

	mu  sync.Mutex
	tat map[string]int64 // unix nanos
}

// MemoryLimiterConfig is what a MemoryLimiter is built from; zero fields
// take the defaults.
type MemoryLimiterConfig struct {
	MaxKeys int           // keys kept at most, default DefaultMaxLimiterKeys
	Clock   routing.Clock // default the system clock
}

// NewMemoryLimiter checks cfg and returns an in-process limiter.
func NewMemoryLimiter(cfg MemoryLimiterConfig) (*MemoryLimiter, error) {
	if cfg.MaxKeys < 0 {
		return nil, routing.Errorf(routing.KindInternal, "cache.NewMemoryLimiter", "a limiter cannot keep a negative number of keys")
	}
	if cfg.MaxKeys == 0 {
		cfg.MaxKeys = DefaultMaxLimiterKeys
	}
	if cfg.Clock == nil {
		cfg.Clock = routing.SystemClock{}
	}
	return &MemoryLimiter{clock: cfg.Clock, maxKeys: cfg.MaxKeys, tat: map[string]int64{}}, nil
}

// Allow takes one request for key under limit; when refused, retryAfter
// says when one will be allowed.
func (l *MemoryLimiter) Allow(_ context.Context, key string, limit Rate) (bool, time.Duration, error) {
	interval, burst, err := limit.interval()
	if err != nil {
		return false, 0, err
	}
	now := l.clock.Now().UnixNano()
	l.mu.Lock()
	defer l.mu.Unlock()
	tat, ok := l.tat[key]
	if !ok || tat < now {
		tat = now
	}
	next := tat + int64(interval)
	allowAt := next - int64(interval)*int64(burst)
	if now < allowAt {
		return false, time.Duration(allowAt - now), nil
	}
	if !ok && len(l.tat) >= l.maxKeys {
		l.makeRoom(now)
	}
	l.tat[key] = next
	return true, 0, nil
}

// Len is the number of keys held.
func (l *MemoryLimiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.tat)
}

// makeRoom forgets keys whose bucket is full again (no loss), and when
// none is, the key closest to full.
func (l *MemoryLimiter) makeRoom(now int64) {
	var (
		oldestKey string
		oldest    int64 = math.MaxInt64
	)
	for k, t := range l.tat {
		if t <= now {
			delete(l.tat, k)
		} else if t < oldest {
			oldestKey, oldest = k, t
		}
	}
	if len(l.tat) >= l.maxKeys {
		delete(l.tat, oldestKey)
	}
}

// gcraLua runs GCRA atomically in Redis on Redis's own clock, so every
// replica judges with the same time. It returns {allowed, retry_after_µs}.
const gcraLua = `
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local nexttat = tat + interval
local allowat = nexttat - interval * burst
if now < allowat then
  return {0, math.ceil(allowat - now)}
end
redis.call('SET', KEYS[1], string.format('%.0f', nexttat), 'PX', math.ceil((nexttat - now) / 1000) + 1)
return {1, 0}
`

// RedisLimiter is a rate limiter shared by every replica using the Redis.
type RedisLimiter struct {
	r      *Redis
	script *redis.Script
}

// Limiter is a rate limiter over r's connection and prefix (keys
// "<prefix>rl:<key>").
func (r *Redis) Limiter() *RedisLimiter {
	return &RedisLimiter{r: r, script: redis.NewScript(gcraLua)}
}

// Allow takes one request for key under limit. When Redis cannot answer it
// returns an error; the caller decides whether to fall back to a local
// limiter.
func (l *RedisLimiter) Allow(ctx context.Context, key string, limit Rate) (bool, time.Duration, error) {
	const op = "cache.RedisLimiter.Allow"
	interval, burst, err := limit.interval()
	if err != nil {
		return false, 0, err
	}
	var res []int64
	err = l.r.call(ctx, op, false, func(ctx context.Context) error {
		var err error
		res, err = l.script.Run(ctx, l.r.client, []string{l.r.prefix + "rl:" + key},
			interval.Microseconds(), burst).Int64Slice()
		return err
	})
	if err != nil {
		return false, 0, err
	}
	if len(res) != 2 {
		return false, 0, routing.Errorf(routing.KindInternal, op, "unexpected rate limiter answer")
	}
	if res[0] == 1 {
		return true, 0, nil
	}
	return false, time.Duration(res[1]) * time.Microsecond, nil
}

// RateLimiter is what both limiters offer.
type RateLimiter interface {
	Allow(ctx context.Context, key string, limit Rate) (ok bool, retryAfter time.Duration, err error)
}

// KeyedLimiterConfig is what a KeyedLimiter is built from.
type KeyedLimiterConfig struct {
	Local   RateLimiter           // required: decides alone, or when Shared fails
	Shared  RateLimiter           // nil: Local only
	RateFor func(key string) Rate // nil: Default for every key
	Default Rate
}

// KeyedLimiter applies a rate chosen per key (per department) and has the
// shape the gateway consumes, Allow(ctx, key). When the shared limiter
// (Redis) fails, the local one (in process) decides instead, so a Redis
// outage loosens the limit to one replica's view rather than refusing or
// waving through every request.
type KeyedLimiter struct {
	shared  RateLimiter
	local   RateLimiter
	rateFor func(key string) Rate
	rate    Rate
}

// NewKeyedLimiter checks cfg and builds the limiter.
func NewKeyedLimiter(cfg KeyedLimiterConfig) (*KeyedLimiter, error) {
	if cfg.Local == nil {
		return nil, routing.MissingDependency("cache.NewKeyedLimiter", "a local rate limiter")
	}
	return &KeyedLimiter{shared: cfg.Shared, local: cfg.Local, rateFor: cfg.RateFor, rate: cfg.Default}, nil
}

// Allow takes one request for key.
func (k *KeyedLimiter) Allow(ctx context.Context, key string) (bool, time.Duration, error) {
	rate := k.rate
	if k.rateFor != nil {
		rate = k.rateFor(key)
	}
	if k.shared != nil {
		ok, retry, err := k.shared.Allow(ctx, key, rate)
		if err == nil || routing.IsKind(err, routing.KindInvalid) {
			return ok, retry, err
		}
	}
	return k.local.Allow(ctx, key, rate)
}
