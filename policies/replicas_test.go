package policies

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/eidgate/eidgate/internal/testenv"
)

// followDeadline bounds how long a replica may take to see a change in
// these tests. Replicas check at least once a second (or are told over
// Redis at once); the margin absorbs a loaded test machine.
const followDeadline = 3 * time.Second

// checkReplicasFollow makes changes on each engine and waits for the other
// to decide by them, with the version of the change.
func checkReplicasFollow(t *testing.T, a, b *Engine) {
	t.Helper()
	ctx := context.Background()
	sees := func(e *Engine, allowed bool, version int64) func() bool {
		return func() bool {
			d, err := e.Decide(ctx, "hrss", "edu.degree", "employment")
			return err == nil && d.Allowed == allowed && d.Version == version
		}
	}
	if d, _ := b.Decide(ctx, "hrss", "edu.degree", "employment"); d.Allowed {
		t.Fatal("allowed before any rule")
	}

	v, err := a.AddRule(ctx, "alice", Rule{"hrss", "edu.*", "employment", EffectAllow})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, followDeadline, "allow rule added on replica a, seen on b", sees(b, true, v))

	v, err = b.AddRule(ctx, "bob", Rule{"*", "edu.degree", "employment", EffectDeny})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, followDeadline, "deny rule added on replica b, seen on a", sees(a, false, v))

	v, err = a.Replace(ctx, "alice", PolicySet{
		Rules: []Rule{{"social-security", "edu.*", "employment", EffectAllow}},
		Roles: []RoleMapping{{"hrss", "social-security"}},
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, followDeadline, "replaced policy on a, seen on b", sees(b, true, v))
	if l, err := b.Rules(ctx); err != nil {
		t.Errorf("err = %v, want nil; b lists %+v, %v", err, l, err)
	} else if l.Version != v {
		t.Errorf("l.Version = %v, want v; b lists %+v, %v", l.Version, l, err)
	} else if len(l.Rules) != 1 {
		t.Errorf("len(l.Rules) = %v, want 1; b lists %+v, %v", len(l.Rules), l, err)
	} else if len(l.Roles) != 1 {
		t.Errorf("len(l.Roles) = %v, want 1; b lists %+v, %v", len(l.Roles), l, err)
	}
}

func TestReplicasFollowByPolling(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		path := sqliteFile(t)
		a := newEngine(t, Config{DB: openSQLiteAt(t, path)})
		b := newEngine(t, Config{DB: openSQLiteAt(t, path)})
		checkReplicasFollow(t, a, b)
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := postgresSchema(t)
		a := newEngine(t, Config{DB: openPostgresAt(t, dsn)})
		b := newEngine(t, Config{DB: openPostgresAt(t, dsn)})
		checkReplicasFollow(t, a, b)
	})
}

// With polling off, only the Redis watcher can tell a replica about a
// change.
func TestReplicasFollowByRedisWatcher(t *testing.T) {
	redisURL := testenv.Redis(t)
	channel := randomName("eidgate-test/policy/")
	path := sqliteFile(t)
	a := newEngine(t, Config{DB: openSQLiteAt(t, path), RedisURL: redisURL, RedisChannel: channel, PollInterval: -1})
	b := newEngine(t, Config{DB: openSQLiteAt(t, path), RedisURL: redisURL, RedisChannel: channel, PollInterval: -1})
	checkReplicasFollow(t, a, b)
}

func TestRedisUnavailable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := New(ctx, Config{DB: openSQLite(t), RedisURL: "redis://127.0.0.1:1/0"})
	if err == nil || !isCode(err, "redis_unavailable") {
		t.Fatalf("New with unreachable Redis = %v", err)
	}
	_, err = New(ctx, Config{DB: openSQLite(t), RedisURL: "127.0.0.1:6379"})
	if fieldOf(err) != "redis_url" {
		t.Fatalf("New with a Redis address that is no URL = %v", err)
	}
}

// Readers deciding while the policy changes always get an answer that
// belongs to the version it carries.
func TestDecideWhileRulesChange(t *testing.T) {
	e := engineWith(t, openSQLite(t), "decisions.csv")
	ctx := context.Background()
	toggled := Rule{"hrss", "edu.degree", "employment", EffectDeny}

	var mu sync.Mutex
	want := map[int64]bool{e.Version(): true} // version → hrss may have edu.degree
	type seen struct {
		version int64
		allowed bool
	}
	done := make(chan struct{})
	results := make([][]seen, 4)
	var wg sync.WaitGroup
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-done:
					return
				default:
				}
				d, err := e.Decide(ctx, "hrss", "edu.degree", "employment")
				if err != nil {
					t.Error(err)
					return
				}
				results[i] = append(results[i], seen{d.Version, d.Allowed})
				// Other questions keep the cache busy.
				if _, err := e.Decide(ctx, "edu-bureau", "civil.household", "admission"); err != nil {
					t.Error(err)
					return
				}
				if n%50 == 0 {
					if _, err := e.Explain(ctx, "hrss", "edu.degree", "employment"); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	for i := range 40 {
		var v int64
		var err error
		if i%2 == 0 {
			v, err = e.AddRule(ctx, "alice", toggled)
		} else {
			v, err = e.RemoveRule(ctx, "alice", toggled)
		}
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		want[v] = i%2 == 1
		mu.Unlock()
	}
	close(done)
	wg.Wait()

	total := 0
	for _, rs := range results {
		for _, r := range rs {
			total++
			allowed, known := want[r.version]
			if !known || allowed != r.allowed {
				t.Fatalf("decision at version %d allowed=%v; that version allows: %v (known %v)", r.version, r.allowed, allowed, known)
			}
		}
	}
	if total == 0 {
		t.Fatal("readers made no decisions")
	}
}

// Replicas writing at the same time get distinct, consecutive versions and
// lose no change.
func TestConcurrentWritersOnTwoReplicas(t *testing.T) {
	run := func(t *testing.T, a, b *Engine) {
		ctx := context.Background()
		const perReplica = 15
		var wg sync.WaitGroup
		versions := make(chan int64, 2*perReplica)
		for r, e := range []*Engine{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range perReplica {
					v, err := e.AddRule(ctx, "writer", Rule{"hrss", fmt.Sprintf("gen.r%dn%d", r, i), "audit", EffectAllow})
					if err != nil {
						t.Error(err)
						return
					}
					versions <- v
				}
			}()
		}
		wg.Wait()
		close(versions)
		seen := map[int64]bool{}
		for v := range versions {
			if seen[v] {
				t.Fatalf("version %d given twice", v)
			}
			seen[v] = true
		}
		for v := int64(1); v <= 2*perReplica; v++ {
			if !seen[v] {
				t.Fatalf("version %d missing; got %v", v, seen)
			}
		}
		l, err := a.Rules(ctx)
		if err != nil || l.Version != 2*perReplica || len(l.Rules) != 2*perReplica {
			t.Fatalf("after concurrent writes: version %d, %d rules, %v", l.Version, len(l.Rules), err)
		}
	}
	t.Run("sqlite", func(t *testing.T) {
		path := sqliteFile(t)
		run(t, newEngine(t, Config{DB: openSQLiteAt(t, path)}), newEngine(t, Config{DB: openSQLiteAt(t, path)}))
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := postgresSchema(t)
		run(t, newEngine(t, Config{DB: openPostgresAt(t, dsn)}), newEngine(t, Config{DB: openPostgresAt(t, dsn)}))
	})
}
