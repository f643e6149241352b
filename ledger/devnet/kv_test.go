package devnet

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

// The store's point reads go through one iterator per transaction; these
// are the answers a Get must give whatever level a key lives in.
func TestKVPointReads(t *testing.T) {
	s, err := openKV(t.TempDir(), true, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	key := func(i int) []byte { return fmt.Appendf(nil, "k%06d", i) }
	val := func(i, gen int) []byte { return fmt.Appendf(nil, "v%d-%d", i, gen) }
	put := func(from, to, gen int) {
		t.Helper()
		if err := s.Update(func(tx *kvTx) error {
			b := tx.Bucket(bucketState)
			for i := from; i < to; i += 2 { // even keys only: odd ones stay absent
				if err := b.Put(key(i), val(i, gen)); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	// The first generation goes to the bottom level, the second to a
	// table above it, the third stays in the memtable.
	put(0, 2000, 1)
	if err := s.db.Compact(context.Background(), []byte{0}, []byte{0xff}, true); err != nil {
		t.Fatal(err)
	}
	put(0, 1000, 2)
	if err := s.db.Flush(); err != nil {
		t.Fatal(err)
	}
	put(0, 500, 3)

	want := func(i int) []byte {
		switch {
		case i%2 == 1 || i >= 2000:
			return nil
		case i < 500:
			return val(i, 3)
		case i < 1000:
			return val(i, 2)
		}
		return val(i, 1)
	}
	snap := s.Begin()
	defer snap.Rollback()
	check := func(tx *kvTx, i int, w []byte) {
		t.Helper()
		b := tx.Bucket(bucketState)
		if got := b.Get(key(i)); !bytes.Equal(got, w) {
			t.Fatalf("Get(%s) = %q, want %q", key(i), got, w)
		}
		if b.Has(key(i)) != (w != nil) {
			t.Fatalf("Has(%s) = %v, want %v", key(i), !(w != nil), w != nil)
		}
	}
	for i := range 2100 {
		check(snap, i, want(i))
	}
	// A key of another bucket with the same bytes is not found.
	if snap.Bucket(bucketHistory).Has(key(0)) {
		t.Fatal("a state key was found in the history bucket")
	}

	// A write transaction reads its own writes, deletes included, and a
	// snapshot taken before it does not see them.
	if err := s.Update(func(tx *kvTx) error {
		b := tx.Bucket(bucketState)
		check(tx, 10, val(10, 3))
		if err := b.Put(key(11), []byte("new")); err != nil {
			return err
		}
		check(tx, 11, []byte("new"))
		if err := b.Delete(key(10)); err != nil {
			return err
		}
		check(tx, 10, nil)
		check(tx, 1500, val(1500, 1))
		if err := b.Put(key(10), []byte("again")); err != nil {
			return err
		}
		check(tx, 10, []byte("again"))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	check(snap, 10, val(10, 3))
	check(snap, 11, nil)
	after := s.Begin()
	defer after.Rollback()
	check(after, 10, []byte("again"))
	check(after, 11, []byte("new"))
}

// BenchmarkKVPointReads looks up absent random keys (as a new document's
// blinded index is) and present ones among 500,000 in the bottom level:
// through the transaction's point reads, and through DB.Get, which skips
// the bottom level's filter.
func BenchmarkKVPointReads(b *testing.B) {
	s, err := openKV(b.TempDir(), true, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	rnd := rand.New(rand.NewPCG(1, 2))
	randomKey := func() []byte {
		k := make([]byte, 33)
		k[0] = bucketState.prefix
		for i := 1; i < len(k); i += 8 {
			binary.LittleEndian.PutUint64(k[i:], rnd.Uint64())
		}
		return k
	}
	var present [][]byte
	for range 10 {
		if err := s.Update(func(tx *kvTx) error {
			for range 50_000 {
				k := randomKey()
				if len(present) < 10_000 && rnd.IntN(50) == 0 {
					present = append(present, k)
				}
				if err := tx.w.Set(k, bytes.Repeat([]byte{'v'}, 100), nil); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.db.Compact(context.Background(), []byte{0}, []byte{0xff}, true); err != nil {
		b.Fatal(err)
	}
	absent := make([][]byte, 10_000)
	for i := range absent {
		absent[i] = randomKey()
	}
	for _, set := range []struct {
		name  string
		keys  [][]byte
		found bool
	}{{"absent", absent, false}, {"present", present, true}} {
		keys := set.keys
		b.Run(set.name+"/point", func(b *testing.B) {
			tx := s.Begin()
			defer tx.Rollback()
			for i := 0; b.Loop(); i++ {
				if _, found, err := tx.seek(keys[i%len(keys)]); found != set.found || err != nil {
					b.Fatal(found, err)
				}
			}
		})
		b.Run(set.name+"/db.Get", func(b *testing.B) {
			snap := s.db.NewSnapshot()
			defer snap.Close()
			for i := 0; b.Loop(); i++ {
				_, closer, err := snap.Get(keys[i%len(keys)])
				if err == nil {
					_ = closer.Close()
				}
				if (err == nil) != set.found || (err != nil && !errors.Is(err, pebble.ErrNotFound)) {
					b.Fatal(err)
				}
			}
		})
	}
}
