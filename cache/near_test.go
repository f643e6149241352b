package cache_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/eidgate/eidgate/cache"
	"github.com/eidgate/eidgate/internal/testenv"
)

// nearReplicas opens n near caches that share one Redis under a prefix of
// this test's own, each over its own client (as replicas are), and returns
// them with a counter of each one's Redis commands.
func nearReplicas(t *testing.T, n int) ([]*cache.Near, []*atomic.Int32) {
	t.Helper()
	u := testenv.Redis(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "eidgate-test:" + hex.EncodeToString(b[:]) + ":"
	var out []*cache.Near
	var counts []*atomic.Int32
	for range n {
		r, err := cache.OpenRedis(context.Background(), cache.RedisConfig{URL: u, Prefix: prefix, Timeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		count := &atomic.Int32{}
		r.Client().AddHook(countHook{count})
		near, err := cache.NewNear(cache.NearConfig{Shared: r, Ping: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = near.Close()
			ctx := context.Background()
			iter := r.Client().Scan(ctx, 0, prefix+"*", 100).Iterator()
			for iter.Next(ctx) {
				r.Client().Del(ctx, iter.Val())
			}
			_ = r.Close()
		})
		out = append(out, near)
		counts = append(counts, count)
	}
	for _, near := range out {
		waitFor(t, "the invalidation channel to be confirmed", near.Live)
	}
	return out, counts
}

// waitFor polls cond until it holds; the deadline only ends a test that
// would otherwise hang.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A replica reads an entry from Redis once and then from its own memory;
// a delete on another replica reaches it through the channel, and it reads
// Redis again.
func TestNearServesLocallyAndInvalidatesAcrossReplicas(t *testing.T) {
	ctx := ctxT(t)
	reps, counts := nearReplicas(t, 2)
	a, b := reps[0], reps[1]
	val := []byte(`[{"id":"c1"}]`)
	if err := a.Set(ctx, "consents:did:eidgate:a", val, time.Minute); err != nil {
		t.Fatal(err)
	}
	got, ok, err := b.Get(ctx, "consents:did:eidgate:a")
	if err != nil || !ok || !bytes.Equal(got, val) {
		t.Fatalf("b reads a's entry: %q %v %v", got, ok, err)
	}
	before := counts[1].Load()
	for range 10 {
		got, ok, err := b.Get(ctx, "consents:did:eidgate:a")
		if err != nil || !ok || !bytes.Equal(got, val) {
			t.Fatalf("b's second read: %q %v %v", got, ok, err)
		}
		got[0] = 'X' // the caller's copy only
	}
	if n := counts[1].Load() - before; n != 0 {
		t.Errorf("b asked Redis %d times for an entry it holds", n)
	}
	if st := b.Stats(); st.LocalHits < 10 {
		t.Errorf("stats %+v: want 10 local hits", st)
	}

	invals := b.Stats().Invalidations
	if err := a.Delete(ctx, "consents:did:eidgate:a", "routes:did:eidgate:a"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b to hear a's invalidation", func() bool { return b.Stats().Invalidations > invals })
	if _, ok, err := b.Get(ctx, "consents:did:eidgate:a"); ok || err != nil {
		t.Fatalf("b still serves a deleted entry: ok=%v err=%v", ok, err)
	}
	// a's own copy went at once.
	if _, ok, _ := a.Get(ctx, "consents:did:eidgate:a"); ok {
		t.Fatal("a serves the entry it deleted")
	}
}

// fillHook runs during a GET, after Redis answered and before the near
// cache keeps the answer.
type fillHook struct{ after func() }

func (h fillHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h fillHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if cmd.Name() == "get" && h.after != nil {
			h.after()
		}
		return err
	}
}
func (h fillHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// A value read from Redis before an invalidation arrived is not kept: the
// next read goes to Redis again.
func TestNearDoesNotKeepAValueInvalidatedWhileItWasRead(t *testing.T) {
	ctx := ctxT(t)
	u := testenv.Redis(t)
	var p [6]byte
	_, _ = rand.Read(p[:])
	prefix := "eidgate-test:" + hex.EncodeToString(p[:]) + ":"
	writer, err := cache.OpenRedis(ctx, cache.RedisConfig{URL: u, Prefix: prefix, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	reader, err := cache.OpenRedis(ctx, cache.RedisConfig{URL: u, Prefix: prefix, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	wnear, err := cache.NewNear(cache.NearConfig{Shared: writer})
	if err != nil {
		t.Fatal(err)
	}
	defer wnear.Close()
	near, err := cache.NewNear(cache.NearConfig{Shared: reader})
	if err != nil {
		t.Fatal(err)
	}
	defer near.Close()
	waitFor(t, "subscriptions", func() bool { return near.Live() && wnear.Live() })

	if err := wnear.Set(ctx, "eid:x", []byte("old"), time.Minute); err != nil {
		t.Fatal(err)
	}
	var once atomic.Bool
	reader.Client().AddHook(fillHook{after: func() {
		if !once.CompareAndSwap(false, true) {
			return
		}
		// Another replica invalidates (and writes anew) while this read's
		// answer is on its way.
		invals := near.Stats().Invalidations
		_ = wnear.Delete(ctx, "eid:x")
		waitFor(t, "the invalidation", func() bool { return near.Stats().Invalidations > invals })
	}})
	if got, ok, _ := near.Get(ctx, "eid:x"); !ok || string(got) != "old" {
		t.Fatalf("first read: %q %v", got, ok)
	}
	reads := near.Stats().SharedReads
	if _, ok, _ := near.Get(ctx, "eid:x"); ok {
		t.Fatal("served the value invalidated while it was read")
	}
	if near.Stats().SharedReads != reads+1 {
		t.Fatal("the second read did not go to Redis")
	}
}

// Without a live channel the replica keeps nothing in memory: every read
// goes to Redis.
func TestNearReadsRedisWhileTheChannelIsDown(t *testing.T) {
	ctx := ctxT(t)
	reps, counts := nearReplicas(t, 1)
	n := reps[0]
	if err := n.Set(ctx, "dept:edu", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil { // stops the subscription
		t.Fatal(err)
	}
	if n.Live() {
		t.Fatal("live after Close")
	}
	before := counts[0].Load()
	for range 3 {
		if got, ok, err := n.Get(ctx, "dept:edu"); !ok || err != nil || string(got) != "v" {
			t.Fatalf("read through to Redis: %q %v %v", got, ok, err)
		}
	}
	if n := counts[0].Load() - before; n != 3 {
		t.Fatalf("%d Redis reads for 3 Gets without a channel, want 3", n)
	}
}

// A subscription the server drops is noticed: the replica empties its
// in-process level, since announcements sent meanwhile are lost to it,
// reads Redis until it has subscribed again, and then keeps entries again.
func TestNearEmptiesItsMemoryWhenTheChannelIsLost(t *testing.T) {
	ctx := ctxT(t)
	opt, err := redis.ParseURL(testenv.Redis(t))
	if err != nil {
		t.Fatal(err)
	}
	var p [6]byte
	_, _ = rand.Read(p[:])
	prefix := "eidgate-test:" + hex.EncodeToString(p[:]) + ":"
	direct := redis.NewClient(opt)
	defer direct.Close()
	defer direct.Del(context.Background(), prefix+"eid:x")
	opt.ClientName = "eidgate-test-near-" + hex.EncodeToString(p[:])
	client := redis.NewClient(opt)
	defer client.Close()
	shared, err := cache.NewRedis(cache.RedisConfig{Client: client, Prefix: prefix, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	near, err := cache.NewNear(cache.NearConfig{Shared: shared, Ping: 100 * time.Millisecond, MaxAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer near.Close()
	waitFor(t, "the invalidation channel to be confirmed", near.Live)
	if err := near.Set(ctx, "eid:x", []byte("old"), time.Hour); err != nil {
		t.Fatal(err)
	}
	reads := near.Stats().SharedReads
	if got, ok, _ := near.Get(ctx, "eid:x"); !ok || string(got) != "old" || near.Stats().SharedReads != reads {
		t.Fatalf("not served in process: %q %v", got, ok)
	}

	// Another replica's change whose announcement this one does not hear.
	if err := direct.Set(ctx, prefix+"eid:x", "new", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	killed := false
	clients, err := direct.ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(clients, "\n") {
		if !strings.Contains(line, " name="+opt.ClientName+" ") || !strings.Contains(line, " sub=1 ") {
			continue
		}
		id, _, _ := strings.Cut(strings.TrimPrefix(line, "id="), " ")
		if err := direct.Do(ctx, "CLIENT", "KILL", "ID", id).Err(); err != nil {
			t.Fatal(err)
		}
		killed = true
	}
	if !killed {
		t.Fatalf("no subscribed connection named %s in %q", opt.ClientName, clients)
	}
	waitFor(t, "the replica to read the change from Redis", func() bool {
		got, ok, _ := near.Get(ctx, "eid:x")
		return ok && string(got) == "new"
	})
	waitFor(t, "the channel to be confirmed again", near.Live)
	if got, ok, _ := near.Get(ctx, "eid:x"); !ok || string(got) != "new" {
		t.Fatalf("after resubscribing: %q %v", got, ok)
	}
	reads = near.Stats().SharedReads
	if got, ok, _ := near.Get(ctx, "eid:x"); !ok || string(got) != "new" || near.Stats().SharedReads != reads {
		t.Fatalf("not kept in process after resubscribing: %q %v", got, ok)
	}
}

// A replica that read the ledger before another replica's change and
// fills the shared cache after that replica invalidated the key loses the
// fill: the replica that made the change, and every other, reads the key
// as a miss and loads it again, instead of the value from before the
// change.
func TestFillBegunBeforeAnotherReplicasInvalidationLoses(t *testing.T) {
	ctx := ctxT(t)
	reps, _ := nearReplicas(t, 2)
	a, b := reps[0], reps[1]
	const key = "consents:did:eidgate:filler"

	// B misses and starts reading the ledger.
	if _, ok, version, err := b.GetVersion(ctx, key); ok || err != nil {
		t.Fatalf("B read %v %v before anything was cached", ok, err)
	} else {
		// A commits a revocation and invalidates the key meanwhile.
		if err := a.Delete(ctx, key); err != nil {
			t.Fatal(err)
		}
		// B's load, from before the revocation, ends.
		if err := b.Fill(ctx, key, []byte(`[{"status":"active"}]`), time.Minute, version); err != nil {
			t.Fatal(err)
		}
	}
	for name, r := range map[string]*cache.Near{"A": a, "B": b} {
		if v, ok, _, err := r.GetVersion(ctx, key); ok || err != nil {
			t.Fatalf("%s reads %q (%v, %v) filled from before the invalidation", name, v, ok, err)
		}
	}

	// A load that began after the invalidation fills, and both read it.
	_, _, version, err := a.GetVersion(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if version == "" {
		t.Fatal("an invalidated key has no version")
	}
	fresh := []byte(`[{"status":"revoked"}]`)
	if err := a.Fill(ctx, key, fresh, time.Minute, version); err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]*cache.Near{"A": a, "B": b} {
		if v, ok, err := r.Get(ctx, key); !ok || err != nil || string(v) != string(fresh) {
			t.Fatalf("%s reads %q (%v, %v), want the fill after the invalidation", name, v, ok, err)
		}
	}
	// A second fill from the same empty state does not overwrite it.
	if err := b.Fill(ctx, key, []byte(`[{"status":"active"}]`), time.Minute, version); err != nil {
		t.Fatal(err)
	}
	if v, _, _ := a.Get(ctx, key); string(v) != string(fresh) {
		t.Fatalf("a second fill from the same state overwrote the value: %q", v)
	}
}
