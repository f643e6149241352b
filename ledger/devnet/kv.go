package devnet

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
)

// The ledger is one pebble database (an LSM tree, as a Fabric peer keeps
// its state and history in LevelDB): every block is written in one atomic
// batch together with everything derived from it, so the block store,
// world state and indexes can never disagree after a crash. Random keys —
// blinded document indexes and eIDs are HMACs and hashes — cost an
// append to the write-ahead log and the memtable instead of a page
// rewritten in place, and reads go through a block cache of fixed size.
//
// Each index of the former single-file layout is a one-byte key prefix.
type bucketID struct {
	name   string
	prefix byte
}

func (b bucketID) String() string { return b.name }

var (
	bucketMeta       = bucketID{"meta", 'm'}       // chain tip and savepoint
	bucketBlocks     = bucketID{"blocks", 'b'}     // be64(number) → common.Block
	bucketBlockTimes = bucketID{"blocktimes", 't'} // be64(number) → be64(commit unix nanos)
	bucketState      = bucketID{"state", 's'}      // ns 0x00 key → uvarint block, uvarint tx, value
	bucketHistory    = bucketID{"history", 'h'}    // ns 0x00 uvarint(len key) key be64 block be64 tx → KeyModification
	bucketTxIDs      = bucketID{"txids", 'x'}      // txID → be64 block, uvarint tx, code
	bucketEvents     = bucketID{"events", 'e'}     // be64(number) → gateway.ChaincodeEventsResponse of valid txs

	allBuckets = []bucketID{bucketMeta, bucketBlocks, bucketBlockTimes, bucketState, bucketHistory, bucketTxIDs, bucketEvents}
)

// Memory the store may hold: the block cache and each memtable. Two
// memtables may be full at once (one being flushed); the process's
// resident memory stays bounded however large the ledger grows. The cache
// must hold the tables' filter and index blocks: with 16 MiB, reads of
// absent keys (every new document index and transaction id) went to the
// disk for them and an import of 100,000 rows cost 400 µs of CPU per row,
// with 64 MiB 200–250 µs (docs/BENCHMARKS.md).
const (
	storeCacheBytes    = 64 << 20
	storeMemtableBytes = 16 << 20
	separateValuesFrom = 1024 // bytes
)

// kvStore is the ledger database.
type kvStore struct {
	db    *pebble.DB
	write *pebble.WriteOptions
}

// pebbleLogger passes pebble's messages on to the peer's log; its routine
// notes (WAL recovery, compactions) are debug output.
type pebbleLogger struct{ log *slog.Logger }

func (l pebbleLogger) Infof(format string, args ...any) {
	l.log.Debug("ledger store", "msg", fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Errorf(format string, args ...any) {
	l.log.Error("ledger store", "msg", fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Fatalf(format string, args ...any) {
	l.log.Error("ledger store: fatal", "msg", fmt.Sprintf(format, args...))
	os.Exit(1)
}

// openKV opens (creating) the ledger database in dir. With noSync a
// commit does not wait for the disk (scratch ledgers only).
func openKV(dir string, noSync bool, log *slog.Logger) (*kvStore, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cache := pebble.NewCache(storeCacheBytes)
	opts := &pebble.Options{
		Cache:              cache,
		MemTableSize:       storeMemtableBytes,
		FormatMajorVersion: pebble.FormatNewest,
		Logger:             pebbleLogger{log},
	}
	// Blocks and event lists (hundreds of KB each for a batch of a
	// thousand) live in blob files that compactions do not rewrite; the
	// sstables keep the keys and small values the contract reads.
	opts.Experimental.ValueSeparationPolicy = func() pebble.ValueSeparationPolicy {
		return pebble.ValueSeparationPolicy{
			Enabled: true, MinimumSize: separateValuesFrom, MaxBlobReferenceDepth: 10,
			RewriteMinimumAge: 5 * time.Minute, TargetGarbageRatio: 0.2,
		}
	}
	for i := range opts.Levels {
		// Every transaction id is looked up before it is indexed, and most
		// are new: a filter answers "absent" without reading tables.
		opts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	db, err := pebble.Open(dir, opts)
	cache.Unref()
	if err != nil {
		if isLockError(err) {
			return nil, fmt.Errorf("open ledger %s: the ledger is in use by another process", dir)
		}
		return nil, fmt.Errorf("open ledger %s: %w", dir, err)
	}
	s := &kvStore{db: db, write: pebble.Sync}
	if noSync {
		s.write = pebble.NoSync
	}
	return s, nil
}

// isLockError tells the ledger's lock held by this or another process.
func isLockError(err error) bool {
	return errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EACCES) ||
		strings.Contains(err.Error(), "lock held by current process")
}

func (s *kvStore) Close() error { return s.db.Close() }

// View runs fn on a consistent snapshot of the ledger.
func (s *kvStore) View(fn func(*kvTx) error) error {
	tx := s.Begin()
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.err
}

// Begin starts a read transaction on a snapshot; Rollback ends it.
func (s *kvStore) Begin() *kvTx {
	snap := s.db.NewSnapshot()
	return &kvTx{r: snap, done: snap.Close}
}

// Update runs fn in a write transaction whose reads see its own writes;
// the writes are committed atomically (and durably) when fn succeeds.
func (s *kvStore) Update(fn func(*kvTx) error) error {
	b := s.db.NewIndexedBatch()
	tx := &kvTx{r: b, w: b, done: b.Close}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if tx.err != nil {
		return tx.err
	}
	tx.closeIters()
	return b.Commit(s.write)
}

// kvTx is a read or write transaction. A read error is kept and returned
// by the View or Update that ran it (and fails an Update's commit).
type kvTx struct {
	r     pebble.Reader
	w     *pebble.Batch
	done  func() error
	err   error
	iters []*pebble.Iterator
	once  sync.Once

	// point serves the transaction's point reads (see kvBucket.read);
	// stale is set by a write it has not seen yet.
	point *pebble.Iterator
	stale bool
}

// pointOptions are those of the point-read iterator: every level's bloom
// filter is consulted, the last level's too. A read through DB.Get skips
// the last level's filter, and most lookups of the contract and the
// validator are of absent keys (a new document's blinded index, a new
// eID, a new transaction id), each of which then cost a data block of the
// last level, read from the disk once the level outgrows the cache.
var pointOptions = pebble.IterOptions{UseL6Filters: true}

// Rollback ends the transaction without writing.
func (tx *kvTx) Rollback() {
	tx.once.Do(func() {
		tx.closeIters()
		_ = tx.done()
	})
}

func (tx *kvTx) closeIters() {
	for _, it := range tx.iters {
		_ = it.Close()
	}
	tx.iters = nil
	if tx.point != nil {
		_ = tx.point.Close()
		tx.point = nil
	}
}

// seek positions the point iterator on key and reports whether key has a
// value; the iterator sees the transaction's own writes.
func (tx *kvTx) seek(key []byte) (*pebble.Iterator, bool, error) {
	if tx.point == nil {
		it, err := tx.r.NewIter(&pointOptions)
		if err != nil {
			return nil, false, err
		}
		tx.point, tx.stale = it, false
	} else if tx.stale {
		tx.point.SetOptions(&pointOptions) // takes in the batch's new writes
		tx.stale = false
	}
	it := tx.point
	if !it.SeekPrefixGE(key) {
		return it, false, it.Error()
	}
	return it, bytes.Equal(it.Key(), key), nil
}

func (tx *kvTx) fail(err error) {
	if tx.err == nil {
		tx.err = err
	}
}

// Bucket is one index of the ledger.
func (tx *kvTx) Bucket(id bucketID) *kvBucket { return &kvBucket{tx: tx, id: id} }

type kvBucket struct {
	tx *kvTx
	id bucketID
}

func (b *kvBucket) key(k []byte) []byte {
	out := make([]byte, 0, 1+len(k))
	return append(append(out, b.id.prefix), k...)
}

// Get returns a copy of the value of k, nil when there is none.
func (b *kvBucket) Get(k []byte) []byte {
	var out []byte
	b.read(k, func(v []byte) { out = bytes.Clone(v) })
	return out
}

// Has reports whether k has a value, without reading it (a value kept in
// a blob file, a block's, is not fetched).
func (b *kvBucket) Has(k []byte) bool {
	_, found, err := b.tx.seek(b.key(k))
	if err != nil {
		b.tx.fail(fmt.Errorf("read %s: %w", b.id, err))
	}
	return found
}

// read calls fn with the value of k, valid only during the call; fn is
// not called when there is none.
func (b *kvBucket) read(k []byte, fn func(v []byte)) {
	it, found, err := b.tx.seek(b.key(k))
	if err == nil && found {
		var v []byte
		if v, err = it.ValueAndErr(); err == nil {
			fn(v)
		}
	}
	if err != nil {
		b.tx.fail(fmt.Errorf("read %s: %w", b.id, err))
	}
}

func (b *kvBucket) Put(k, v []byte) error {
	if b.tx.w == nil {
		return errors.New("write in a read transaction")
	}
	b.tx.stale = true
	return b.tx.w.Set(b.key(k), v, nil)
}

func (b *kvBucket) Delete(k []byte) error {
	if b.tx.w == nil {
		return errors.New("write in a read transaction")
	}
	b.tx.stale = true
	return b.tx.w.Delete(b.key(k), nil)
}

// Cursor walks the bucket in key order. Its keys and values are valid
// until the next move.
func (b *kvBucket) Cursor() *kvCursor {
	it, err := b.tx.r.NewIter(&pebble.IterOptions{LowerBound: []byte{b.id.prefix}, UpperBound: []byte{b.id.prefix + 1}})
	if err != nil {
		b.tx.fail(fmt.Errorf("read %s: %w", b.id, err))
		return &kvCursor{b: b}
	}
	b.tx.iters = append(b.tx.iters, it)
	return &kvCursor{b: b, it: it}
}

type kvCursor struct {
	b  *kvBucket
	it *pebble.Iterator
}

// at returns the entry the cursor's iterator is on after a move that
// reported ok (c.it is set: the moves check it).
func (c *kvCursor) at(ok bool) ([]byte, []byte) {
	if !ok {
		if err := c.it.Error(); err != nil {
			c.b.tx.fail(fmt.Errorf("read %s: %w", c.b.id, err))
		}
		return nil, nil
	}
	v, err := c.it.ValueAndErr()
	if err != nil {
		c.b.tx.fail(fmt.Errorf("read %s: %w", c.b.id, err))
		return nil, nil
	}
	return c.it.Key()[1:], v
}

// First moves to the bucket's first key.
func (c *kvCursor) First() ([]byte, []byte) {
	if c.it == nil {
		return nil, nil
	}
	return c.at(c.it.First())
}

// Seek moves to the first key at or after k.
func (c *kvCursor) Seek(k []byte) ([]byte, []byte) {
	if c.it == nil {
		return nil, nil
	}
	return c.at(c.it.SeekGE(c.b.key(k)))
}

// Close releases the cursor before its transaction ends.
func (c *kvCursor) Close() {
	if c.it == nil {
		return
	}
	iters := c.b.tx.iters
	for i, it := range iters {
		if it == c.it {
			c.b.tx.iters = append(iters[:i], iters[i+1:]...)
			break
		}
	}
	_ = c.it.Close()
	c.it = nil
}

// Next moves to the next key.
func (c *kvCursor) Next() ([]byte, []byte) {
	if c.it == nil {
		return nil, nil
	}
	return c.at(c.it.Next())
}
