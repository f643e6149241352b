package cache_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/eidgate/eidgate/cache"
	"github.com/eidgate/eidgate/internal/e2etest"
	"github.com/eidgate/eidgate/internal/testenv"
	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/routing/routingtest"
)

func newClock() *routingtest.Clock {
	return routingtest.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// openRedis connects to the test Redis under a prefix of this test's own
// and removes its keys afterwards.
func openRedis(t testing.TB, clock routing.Clock) *cache.Redis {
	t.Helper()
	u := testenv.Redis(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "eidgate-test:" + hex.EncodeToString(b[:]) + ":"
	r, err := cache.OpenRedis(context.Background(), cache.RedisConfig{URL: u, Prefix: prefix, Timeout: 2 * time.Second, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		iter := r.Client().Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			r.Client().Del(ctx, iter.Val())
		}
		_ = r.Close()
	})
	return r
}

// caches runs fn on the in-process cache, on Redis and on both together.
func caches(t *testing.T, fn func(t *testing.T, c routing.Cache)) {
	t.Run("memory", func(t *testing.T) { fn(t, newMemory(t, cache.MemoryConfig{})) })
	t.Run("redis", func(t *testing.T) { fn(t, openRedis(t, nil)) })
	t.Run("near", func(t *testing.T) { reps, _ := nearReplicas(t, 1); fn(t, reps[0]) })
}

func TestCacheGetSetDelete(t *testing.T) {
	caches(t, func(t *testing.T, c routing.Cache) {
		ctx := ctxT(t)
		if _, ok, err := c.Get(ctx, "consents:did:eidgate:a"); ok || err != nil {
			t.Fatalf("empty cache: ok=%v err=%v", ok, err)
		}
		val := []byte(`[{"id":"c1"}]`)
		if err := c.Set(ctx, "consents:did:eidgate:a", val, time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := c.Set(ctx, "routes:did:eidgate:a", []byte("r"), time.Minute); err != nil {
			t.Fatal(err)
		}
		got, ok, err := c.Get(ctx, "consents:did:eidgate:a")
		if err != nil || !ok || !bytes.Equal(got, val) {
			t.Fatalf("get %q %v %v", got, ok, err)
		}
		got[0] = 'X' // the caller's copy
		again, _, _ := c.Get(ctx, "consents:did:eidgate:a")
		if !bytes.Equal(again, val) {
			t.Fatal("changing a returned value changed the cache")
		}
		if err := c.Set(ctx, "consents:did:eidgate:a", []byte("v2"), time.Minute); err != nil {
			t.Fatal(err)
		}
		if got, _, _ := c.Get(ctx, "consents:did:eidgate:a"); string(got) != "v2" {
			t.Fatalf("overwrite: %q", got)
		}
		if err := c.Delete(ctx, "consents:did:eidgate:a", "routes:did:eidgate:a", "never-set"); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"consents:did:eidgate:a", "routes:did:eidgate:a"} {
			if _, ok, _ := c.Get(ctx, k); ok {
				t.Fatalf("%s survived Delete", k)
			}
		}
		if err := c.Delete(ctx); err != nil {
			t.Fatalf("empty delete: %v", err)
		}
	})
}

// The caches that hand out their own bytes (routing.SharedCache) answer
// as Get does, without a copy per read, and a later Set never changes the
// bytes an earlier read was given.
func TestSharedReadsAreTheStoredBytes(t *testing.T) {
	caches(t, func(t *testing.T, c routing.Cache) {
		sc, ok := c.(routing.SharedCache)
		if !ok {
			return // Redis alone: every read is a copy from the server
		}
		ctx := ctxT(t)
		if _, ok, _, err := sc.GetShared(ctx, "consents:did:eidgate:s"); ok || err != nil {
			t.Fatalf("empty cache: ok=%v err=%v", ok, err)
		}
		val := bytes.Repeat([]byte("v"), 4096)
		if err := c.Set(ctx, "consents:did:eidgate:s", val, time.Minute); err != nil {
			t.Fatal(err)
		}
		first, ok, _, err := sc.GetShared(ctx, "consents:did:eidgate:s") // Near: from Redis, kept in process
		if err != nil || !ok || !bytes.Equal(first, val) {
			t.Fatalf("shared read: %d bytes, ok=%v, err=%v", len(first), ok, err)
		}
		held, _, _, _ := sc.GetShared(ctx, "consents:did:eidgate:s")
		copied, _, _ := c.Get(ctx, "consents:did:eidgate:s")
		if !bytes.Equal(held, copied) {
			t.Fatal("a shared read and Get disagree")
		}
		if &copied[0] == &held[0] {
			t.Fatal("Get handed out the cache's own bytes")
		}
		reads := testing.AllocsPerRun(100, func() { _, _, _, _ = sc.GetShared(ctx, "consents:did:eidgate:s") })
		if reads != 0 {
			t.Fatalf("a shared read allocates %.0f times", reads)
		}
		if err := c.Set(ctx, "consents:did:eidgate:s", []byte("v2"), time.Minute); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(held, val) {
			t.Fatal("a Set changed bytes an earlier read was given")
		}
	})
}

func TestMemoryExpiry(t *testing.T) {
	ctx := ctxT(t)
	clock := newClock()
	m := newMemory(t, cache.MemoryConfig{Clock: clock})
	_ = m.Set(ctx, "a", []byte("1"), time.Second)
	_ = m.Set(ctx, "b", []byte("2"), time.Hour)
	clock.Advance(time.Second)
	if _, ok, _ := m.Get(ctx, "a"); ok {
		t.Fatal("expired entry served")
	}
	if _, ok, _ := m.Get(ctx, "b"); !ok {
		t.Fatal("live entry lost")
	}
	if m.Len() != 1 {
		t.Fatalf("expired entry kept after read: %d entries", m.Len())
	}
}

func TestMemoryBounds(t *testing.T) {
	ctx := ctxT(t)
	clock := newClock()
	m := newMemory(t, cache.MemoryConfig{MaxEntries: 32, Clock: clock})
	for i := range 200 {
		_ = m.Set(ctx, fmt.Sprintf("k%d", i), []byte("v"), time.Hour)
	}
	if m.Len() > 32 {
		t.Fatalf("%d entries, bound is 32", m.Len())
	}
	if _, ok, _ := m.Get(ctx, "k199"); !ok {
		t.Fatal("the newest entry was evicted")
	}
	// The byte bound holds too.
	small := newMemory(t, cache.MemoryConfig{MaxBytes: 16 * 100, Clock: clock})
	for i := range 100 {
		_ = small.Set(ctx, fmt.Sprintf("key-%03d", i), bytes.Repeat([]byte("x"), 50), time.Hour)
	}
	if n := small.Len(); n == 0 || n*57 > 1600 {
		t.Fatalf("%d entries of 57 bytes under a 1600-byte bound", n)
	}
	if _, ok, _ := small.Get(ctx, "key-099"); !ok {
		t.Fatal("the newest entry was evicted")
	}
	// A value larger than a shard is not cached and drops the old one.
	_ = small.Set(ctx, "key-099", bytes.Repeat([]byte("x"), 500), time.Hour)
	if _, ok, _ := small.Get(ctx, "key-099"); ok {
		t.Fatal("an oversized value was cached or the old one kept")
	}
}

func TestMemoryConcurrentUse(t *testing.T) {
	ctx := ctxT(t)
	m := newMemory(t, cache.MemoryConfig{MaxEntries: 1000})
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				k := fmt.Sprintf("k%d", (g*7919+i)%3000)
				switch i % 3 {
				case 0:
					_ = m.Set(ctx, k, []byte(k), time.Minute)
				case 1:
					if v, ok, _ := m.Get(ctx, k); ok && string(v) != k {
						t.Errorf("%s holds %q", k, v)
					}
				default:
					_ = m.Delete(ctx, k)
				}
			}
		}()
	}
	wg.Wait()
	if m.Len() > 1000 {
		t.Fatalf("%d entries over the bound", m.Len())
	}
}

func TestRedisExpiryAndPrefix(t *testing.T) {
	ctx := ctxT(t)
	r := openRedis(t, nil)
	if err := r.Set(ctx, "dept:edu", []byte("x"), 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	ttl, err := r.Client().PTTL(ctx, r.Prefix()+"dept:edu").Result()
	if err != nil || ttl <= 0 || ttl > 50*time.Millisecond {
		t.Fatalf("stored under the prefix with TTL %v, %v", ttl, err)
	}
	if n, _ := r.Client().Exists(ctx, "dept:edu").Result(); n != 0 {
		t.Fatal("a key was written without the prefix")
	}
}

// deadAddr is a loopback port nobody listens on.
func deadAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// blackhole accepts connections and never answers: a hung Redis.
func blackhole(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
	})
	return l.Addr().String()
}

func TestOpenRedisDownIsAnError(t *testing.T) {
	ctx := ctxT(t)
	_, err := cache.OpenRedis(ctx, cache.RedisConfig{URL: "redis://:hunter22@" + deadAddr(t) + "/0", Timeout: 100 * time.Millisecond, ConnectWait: 300 * time.Millisecond})
	if routing.CodeOf(err) != "cache_unavailable" {
		t.Fatalf("dead Redis: %v", err)
	}
	if bytes.Contains([]byte(err.Error()), []byte("hunter22")) {
		t.Fatalf("the error shows the password: %v", err)
	}
	_, err = cache.OpenRedis(ctx, cache.RedisConfig{URL: "http://example.com"})
	if routing.CodeOf(err) != "invalid_redis_url" {
		t.Fatalf("bad URL: %v", err)
	}
}

// A Redis that comes up after the gateway is waited for, within the
// connect wait, instead of failing the start on the first refused dial.
func TestOpenRedisWaitsForALateRedis(t *testing.T) {
	u, err := url.Parse(testenv.Redis(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := e2etest.StartProxy(t, u.Host)
	proxy.Cut()
	u.Host = proxy.Addr()
	late := time.AfterFunc(2*time.Second, proxy.Restore)
	defer late.Stop()
	r, err := cache.OpenRedis(ctxT(t), cache.RedisConfig{URL: u.String(), Timeout: 100 * time.Millisecond, ConnectWait: time.Minute})
	if err != nil {
		t.Fatalf("a Redis that answers after two seconds: %v", err)
	}
	_ = r.Close()
}

// A Redis that stops answering makes every call return an error (so the
// directory reads the ledger), and after one failure calls are skipped
// for the cooldown.
func TestHungRedisFailsFast(t *testing.T) {
	ctx := ctxT(t)
	clock := newClock()
	var calls atomic.Int32
	client := redis.NewClient(&redis.Options{Addr: blackhole(t), ReadTimeout: 50 * time.Millisecond,
		WriteTimeout: 50 * time.Millisecond, DialTimeout: 50 * time.Millisecond, ContextTimeoutEnabled: true, MaxRetries: -1})
	client.AddHook(countHook{&calls})
	t.Cleanup(func() { _ = client.Close() })
	r := newRedis(t, cache.RedisConfig{Client: client, Timeout: 50 * time.Millisecond, Clock: clock})

	if _, _, err := r.Get(ctx, "k"); routing.CodeOf(err) != "cache_unavailable" {
		t.Fatalf("hung Redis get: %v", err)
	}
	before := calls.Load()
	if err := r.Set(ctx, "k", []byte("v"), time.Minute); routing.CodeOf(err) != "cache_unavailable" {
		t.Fatalf("set during cooldown: %v", err)
	}
	if _, _, err := r.Get(ctx, "k"); err == nil {
		t.Fatal("get during cooldown succeeded")
	}
	if calls.Load() != before {
		t.Fatal("calls during the cooldown still went to Redis")
	}
	clock.Advance(cache.DefaultCooldown)
	if _, _, err := r.Get(ctx, "k"); err == nil {
		t.Fatal("hung Redis answered")
	}
	if calls.Load() == before {
		t.Fatal("after the cooldown Redis was not tried again")
	}
	// Replay checks and rate limits fail with an error too, never "fine".
	clock.Advance(cache.DefaultCooldown)
	if seen, err := r.ReplayCache().Seen(ctx, "jti-1", clock.Now().Add(time.Minute)); err == nil || seen {
		t.Fatalf("replay over a hung Redis: seen=%v err=%v", seen, err)
	}
	clock.Advance(cache.DefaultCooldown)
	if ok, _, err := r.Limiter().Allow(ctx, "dept", cache.Rate{PerSecond: 1, Burst: 1}); err == nil || ok {
		t.Fatalf("limiter over a hung Redis: ok=%v err=%v", ok, err)
	}
}

type countHook struct{ n *atomic.Int32 }

func (h countHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}
func (h countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// A failed invalidation makes this replica distrust everything Redis holds
// until it has expired.
func TestFailedDeleteDistrustsRedis(t *testing.T) {
	ctx := ctxT(t)
	clock := newClock()
	r := openRedis(t, clock)
	if err := r.Set(ctx, "consents:e1", []byte("stale"), time.Minute); err != nil {
		t.Fatal(err)
	}
	// The invalidation cannot reach Redis (cancelled context stands in for
	// a network failure).
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := r.Delete(cancelled, "consents:e1"); err == nil {
		t.Fatal("delete with a cancelled context succeeded")
	}
	if _, ok, err := r.Get(ctx, "consents:e1"); ok || err == nil {
		t.Fatalf("served %v after a missed invalidation (err %v)", ok, err)
	}
	clock.Advance(cache.DefaultTTL)
	if _, ok, err := r.Get(ctx, "consents:e1"); !ok || err != nil {
		t.Fatalf("still distrusting after the TTL: %v %v", ok, err)
	}
}

func TestRedisReplayAcceptsOnceAcrossReplicas(t *testing.T) {
	ctx := ctxT(t)
	r := openRedis(t, nil)
	// Two replicas: two clients on the same Redis and prefix.
	other, err := cache.OpenRedis(ctx, cache.RedisConfig{URL: testenv.Redis(t), Prefix: r.Prefix()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Close() })
	replicas := []*cache.RedisReplay{r.ReplayCache(), other.ReplayCache()}
	until := time.Now().Add(5 * time.Minute)
	var first atomic.Int32
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seen, err := replicas[i%2].Seen(ctx, "tkt-42", until)
			if err != nil {
				t.Error(err)
				return
			}
			if !seen {
				first.Add(1)
			}
		}()
	}
	wg.Wait()
	if first.Load() != 1 {
		t.Fatalf("%d presentations accepted, want 1", first.Load())
	}
	if seen, _ := replicas[0].Seen(ctx, "tkt-43", until); seen {
		t.Fatal("a new ticket was reported as seen")
	}
	ttl, _ := r.Client().PTTL(ctx, r.Prefix()+"jti:tkt-43").Result()
	if ttl <= 4*time.Minute || ttl > 5*time.Minute {
		t.Fatalf("ticket id held for %v, want until its expiry", ttl)
	}
	if _, err := replicas[0].Seen(ctx, "", until); !routing.IsKind(err, routing.KindInvalid) {
		t.Fatalf("empty jti: %v", err)
	}
}

type limiter interface {
	Allow(ctx context.Context, key string, limit cache.Rate) (bool, time.Duration, error)
}

func TestLimitersAllowBurstThenRefuse(t *testing.T) {
	clock := newClock()
	for name, l := range map[string]func(t *testing.T) limiter{
		"memory": func(*testing.T) limiter { return newMemoryLimiter(t, cache.MemoryLimiterConfig{Clock: clock}) },
		"redis":  func(t *testing.T) limiter { return openRedis(t, nil).Limiter() },
	} {
		t.Run(name, func(t *testing.T) {
			ctx := ctxT(t)
			lim := l(t)
			// A rate so slow that no token comes back during the test.
			rate := cache.Rate{PerSecond: 0.001, Burst: 3}
			for i := range 3 {
				if ok, _, err := lim.Allow(ctx, "edu-bureau", rate); !ok || err != nil {
					t.Fatalf("request %d of the burst refused: %v", i+1, err)
				}
			}
			ok, retry, err := lim.Allow(ctx, "edu-bureau", rate)
			if ok || err != nil {
				t.Fatalf("fourth request: ok=%v err=%v", ok, err)
			}
			if retry <= 990*time.Second || retry > 1000*time.Second {
				t.Fatalf("retry after %v, want about 1000s", retry)
			}
			if ok, _, _ := lim.Allow(ctx, "hr-bureau", rate); !ok {
				t.Fatal("another key was limited")
			}
			if _, _, err := lim.Allow(ctx, "x", cache.Rate{PerSecond: 0}); !routing.IsKind(err, routing.KindInvalid) {
				t.Fatalf("zero rate: %v", err)
			}
		})
	}
}

func TestMemoryLimiterRefills(t *testing.T) {
	ctx := ctxT(t)
	clock := newClock()
	l := newMemoryLimiter(t, cache.MemoryLimiterConfig{Clock: clock})
	rate := cache.Rate{PerSecond: 10, Burst: 2}
	for range 2 {
		if ok, _, _ := l.Allow(ctx, "k", rate); !ok {
			t.Fatal("burst refused")
		}
	}
	ok, retry, _ := l.Allow(ctx, "k", rate)
	if ok || retry != 100*time.Millisecond {
		t.Fatalf("over the burst: ok=%v retry=%v", ok, retry)
	}
	clock.Advance(retry)
	if ok, _, _ := l.Allow(ctx, "k", rate); !ok {
		t.Fatal("refused after retryAfter")
	}
	if ok, _, _ := l.Allow(ctx, "k", rate); ok {
		t.Fatal("one interval gave two requests")
	}
	clock.Advance(time.Hour)
	for range 2 {
		if ok, _, _ := l.Allow(ctx, "k", rate); !ok {
			t.Fatal("a long pause did not restore the burst")
		}
	}
}

func TestMemoryLimiterStaysBounded(t *testing.T) {
	ctx := ctxT(t)
	clock := newClock()
	l := newMemoryLimiter(t, cache.MemoryLimiterConfig{MaxKeys: 10, Clock: clock})
	rate := cache.Rate{PerSecond: 1, Burst: 1}
	for i := range 100 {
		if ok, _, _ := l.Allow(ctx, fmt.Sprintf("k%d", i), rate); !ok {
			t.Fatalf("new key %d refused", i)
		}
	}
	if l.Len() > 10 {
		t.Fatalf("%d keys held, bound is 10", l.Len())
	}
	// The most recent keys are still limited.
	if ok, _, _ := l.Allow(ctx, "k99", rate); ok {
		t.Fatal("the newest key was forgotten")
	}
}

func TestRedisLimiterSharedAcrossReplicas(t *testing.T) {
	ctx := ctxT(t)
	r := openRedis(t, nil)
	other, err := cache.OpenRedis(ctx, cache.RedisConfig{URL: testenv.Redis(t), Prefix: r.Prefix()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Close() })
	a, b := r.Limiter(), other.Limiter()
	rate := cache.Rate{PerSecond: 0.001, Burst: 5}
	var allowed atomic.Int32
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := a
			if i%2 == 1 {
				l = b
			}
			ok, _, err := l.Allow(ctx, "edu-bureau", rate)
			if err != nil {
				t.Error(err)
			}
			if ok {
				allowed.Add(1)
			}
		}()
	}
	wg.Wait()
	if allowed.Load() != 5 {
		t.Fatalf("%d requests allowed across replicas, want the burst of 5", allowed.Load())
	}
}

func TestKeyedLimiterFallsBackToLocal(t *testing.T) {
	ctx := ctxT(t)
	clock := newClock()
	client := redis.NewClient(&redis.Options{Addr: deadAddr(t), MaxRetries: -1})
	t.Cleanup(func() { _ = client.Close() })
	dead := newRedis(t, cache.RedisConfig{Client: client, Timeout: 100 * time.Millisecond, Clock: clock})
	k, err := cache.NewKeyedLimiter(cache.KeyedLimiterConfig{
		Shared:  dead.Limiter(),
		Local:   newMemoryLimiter(t, cache.MemoryLimiterConfig{Clock: clock}),
		Default: cache.Rate{PerSecond: 0.001, Burst: 1},
		RateFor: func(key string) cache.Rate {
			if key == "big-dept" {
				return cache.Rate{PerSecond: 0.001, Burst: 2}
			}
			return cache.Rate{PerSecond: 0.001, Burst: 1}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		key  string
		want []bool
	}{{"small-dept", []bool{true, false}}, {"big-dept", []bool{true, true, false}}} {
		for i, want := range tt.want {
			ok, _, err := k.Allow(ctx, tt.key)
			if err != nil || ok != want {
				t.Fatalf("%s request %d: ok=%v err=%v, want %v", tt.key, i+1, ok, err, want)
			}
		}
	}
}

func newMemory(t testing.TB, cfg cache.MemoryConfig) *cache.Memory {
	t.Helper()
	m, err := cache.NewMemory(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func newMemoryLimiter(t testing.TB, cfg cache.MemoryLimiterConfig) *cache.MemoryLimiter {
	t.Helper()
	l, err := cache.NewMemoryLimiter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func newRedis(t testing.TB, cfg cache.RedisConfig) *cache.Redis {
	t.Helper()
	r, err := cache.NewRedis(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Each constructor refuses what it cannot be built from.
func TestConstructorsRefuseMissingDependencies(t *testing.T) {
	t.Parallel()
	for name, err := range map[string]error{
		"OpenRedis without a URL":             second(cache.OpenRedis(context.Background(), cache.RedisConfig{})),
		"NewRedis without a client":           second(cache.NewRedis(cache.RedisConfig{})),
		"NewNear without Redis":               second(cache.NewNear(cache.NearConfig{})),
		"NewKeyedLimiter without Local":       second(cache.NewKeyedLimiter(cache.KeyedLimiterConfig{})),
		"NewMemory with a negative size":      second(cache.NewMemory(cache.MemoryConfig{MaxEntries: -1})),
		"NewMemoryLimiter with negative keys": second(cache.NewMemoryLimiter(cache.MemoryLimiterConfig{MaxKeys: -1})),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := cache.NewMemory(cache.MemoryConfig{}); err != nil {
		t.Errorf("NewMemory(MemoryConfig{}) with the defaults: %v", err)
	}
}

func second[T any](_ T, err error) error { return err }
