package cache

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/eidgate/eidgate/routing"
)

// keysInShard returns n keys that land in the same shard.
func keysInShard(m *Memory, n int) []string {
	var out []string
	want := m.shard("seed")
	for i := 0; len(out) < n; i++ {
		k := fmt.Sprintf("key-%d", i)
		if m.shard(k) == want {
			out = append(out, k)
		}
	}
	return out
}

func TestMemoryEvictsExpiredFirstThenOldest(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	m, err := NewMemory(MemoryConfig{MaxEntries: 4 * memoryShards, Clock: routing.ClockFunc(func() time.Time { return now })})
	if err != nil {
		t.Fatal(err)
	}
	k := keysInShard(m, 7)
	set := func(key string, ttl time.Duration) {
		if err := m.Set(ctx, key, []byte(key), ttl); err != nil {
			t.Fatal(err)
		}
	}
	has := func(key string) bool { _, ok, _ := m.Get(ctx, key); return ok }
	set(k[0], time.Second) // oldest, expires
	set(k[1], time.Hour)
	set(k[2], time.Second) // expires
	set(k[3], time.Hour)
	now = now.Add(2 * time.Second)
	set(k[4], time.Hour) // shard full: both expired entries go, not the oldest live one
	if !has(k[1]) || !has(k[3]) || !has(k[4]) {
		t.Fatal("a live entry was evicted while expired ones remained")
	}
	set(k[5], time.Hour) // fits: four entries
	for _, key := range []string{k[1], k[3], k[4], k[5]} {
		if !has(key) {
			t.Fatalf("%s was evicted while an expired entry held its room", key)
		}
	}
	set(k[6], time.Hour) // full, nothing expired: the entry stored longest ago goes
	if has(k[1]) {
		t.Fatal("the oldest entry survived")
	}
	for _, key := range k[3:] {
		if !has(key) {
			t.Fatalf("%s was evicted", key)
		}
	}
}
