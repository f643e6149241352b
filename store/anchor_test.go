package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/ledger"
	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/routing/merkle"
	"github.com/eidgate/eidgate/store"
	"github.com/eidgate/eidgate/store/storetest"
)

var _ ledger.CheckpointStore = (*store.Checkpoints)(nil)

// planBatch builds a batch the way the anchorer does: root over the
// records' leaves in sequence order.
func planBatch(recs []routing.AnchorLeaf) (*routing.AnchorBatch, error) {
	hashes := make([]merkle.Hash, len(recs))
	for i, r := range recs {
		h, err := merkle.ParseHash(r.LeafHash)
		if err != nil {
			return nil, err
		}
		hashes[i] = h
	}
	root := merkle.RootFromHashes(hashes)
	first, last := recs[0].Seq, recs[len(recs)-1].Seq
	return &routing.AnchorBatch{
		ID: fmt.Sprintf("ab-%d-%d-%s", first, last, root.String()[:12]), FirstSeq: first, LastSeq: last,
		Count: len(recs), MerkleRoot: root.String(),
		ConsentUses: []model.ConsentUse{{ConsentID: "consent-1", Uses: 1}},
	}, nil
}

func TestAnchoringLifecycle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		ctx := ctxT(t)
		clock := newFakeClock()
		db := d.OpenWith(t, store.Config{Clock: clock})
		if _, ok, err := db.OldestUnanchored(ctx); err != nil || ok {
			t.Fatalf("empty log: ok=%v err=%v", ok, err)
		}
		if b, err := db.PlanBatch(ctx, 10, planBatch); err != nil || b != nil {
			t.Fatalf("planning an empty log: %v, %v", b, err)
		}
		t0 := clock.Now()
		var recs []*routing.AccessRecord
		for i := range 5 {
			recs = append(recs, newRecord(t0.Add(time.Duration(i)*time.Second), "", 0))
		}
		if _, err := db.AppendAccess(ctx, recs); err != nil {
			t.Fatal(err)
		}
		oldest, ok, err := db.OldestUnanchored(ctx)
		if err != nil || !ok || !oldest.Equal(t0) {
			t.Fatalf("oldest %v ok=%v err=%v, want %v", oldest, ok, err, t0)
		}
		b, err := db.PlanBatch(ctx, 3, planBatch)
		if err != nil || b == nil {
			t.Fatalf("plan: %v %v", b, err)
		}
		if b.Count != 3 {
			t.Fatalf("b.Count = %v, want 3; batch %+v", b.Count, b)
		}
		if b.FirstSeq != recs[0].Seq {
			t.Fatalf("b.FirstSeq = %v, want recs[0].Seq; batch %+v", b.FirstSeq, b)
		}
		if b.LastSeq != recs[2].Seq {
			t.Fatalf("b.LastSeq = %v, want recs[2].Seq; batch %+v", b.LastSeq, b)
		}
		if b.Status != routing.BatchPending {
			t.Fatalf("b.Status = %v, want routing.BatchPending; batch %+v", b.Status, b)
		}
		pending, err := db.PendingBatches(ctx)
		if err != nil {
			t.Fatalf("err = %v, want nil; pending %+v, %v", err, pending, err)
		}
		if len(pending) != 1 {
			t.Fatalf("len(pending) = %v, want 1; pending %+v, %v", len(pending), pending, err)
		}
		if pending[0].ID != b.ID {
			t.Fatalf("pending[0].ID = %v, want b.ID; pending %+v, %v", pending[0].ID, pending, err)
		}
		if pending[0].MerkleRoot != b.MerkleRoot {
			t.Fatalf("pending[0].MerkleRoot = %v, want b.MerkleRoot; pending %+v, %v", pending[0].MerkleRoot, pending, err)
		}
		if len(pending[0].ConsentUses) != 1 {
			t.Fatalf("len(pending[0].ConsentUses) = %v, want 1; pending %+v, %v", len(pending[0].ConsentUses), pending, err)
		}
		if pending[0].ConsentUses[0].ConsentID != "consent-1" {
			t.Fatalf("pending[0].ConsentUses[0].ConsentID = %q, want \"consent-1\"; pending %+v, %v", pending[0].ConsentUses[0].ConsentID, pending, err)
		}
		leaves, err := db.BatchLeaves(ctx, b.ID)
		if err != nil || len(leaves) != 3 || leaves[0] != recs[0].LeafHash || leaves[2] != recs[2].LeafHash {
			t.Fatalf("leaves %v, %v", leaves, err)
		}
		// Planned but not anchored still counts as unanchored.
		if oldest, ok, _ := db.OldestUnanchored(ctx); !ok || !oldest.Equal(t0) {
			t.Fatalf("oldest with a pending batch: %v %v", oldest, ok)
		}
		at := clock.Now().Add(time.Minute)
		if err := db.MarkAnchored(ctx, b.ID, "tx-1", 42, at); err != nil {
			t.Fatal(err)
		}
		if err := db.MarkAnchored(ctx, b.ID, "tx-other", 43, at); err != nil {
			t.Fatalf("marking again: %v", err)
		}
		got, err := db.GetAccess(ctx, recs[1].ID)
		if err != nil {
			t.Fatalf("err = %v, want nil; anchored record %+v, %v", err, got, err)
		}
		if got.BatchID != b.ID {
			t.Fatalf("got.BatchID = %v, want b.ID; anchored record %+v, %v", got.BatchID, got, err)
		}
		if got.AnchorTxID != "tx-1" {
			t.Fatalf("got.AnchorTxID = %q, want \"tx-1\"; anchored record %+v, %v", got.AnchorTxID, got, err)
		}
		if got.AnchorBlock != 42 {
			t.Fatalf("got.AnchorBlock = %v, want 42; anchored record %+v, %v", got.AnchorBlock, got, err)
		}
		if !got.AnchoredAt.Equal(at) {
			t.Fatalf("got.AnchoredAt.Equal(at) is false; anchored record %+v, %v", got, err)
		}
		if oldest, ok, _ := db.OldestUnanchored(ctx); !ok || !oldest.Equal(recs[3].CreatedAt) {
			t.Fatalf("oldest after anchoring: %v %v, want %v", oldest, ok, recs[3].CreatedAt)
		}
		if pending, _ := db.PendingBatches(ctx); len(pending) != 0 {
			t.Fatalf("still pending: %+v", pending)
		}
		gb, err := db.GetBatch(ctx, b.ID)
		if err != nil {
			t.Fatalf("err = %v, want nil; batch after anchoring %+v, %v", err, gb, err)
		}
		if gb.Status != routing.BatchAnchored {
			t.Fatalf("gb.Status = %v, want routing.BatchAnchored; batch after anchoring %+v, %v", gb.Status, gb, err)
		}
		if gb.TxID != "tx-1" {
			t.Fatalf("gb.TxID = %q, want \"tx-1\"; batch after anchoring %+v, %v", gb.TxID, gb, err)
		}
		if gb.Block != 42 {
			t.Fatalf("gb.Block = %v, want 42; batch after anchoring %+v, %v", gb.Block, gb, err)
		}
		for _, check := range []error{
			db.MarkAnchored(ctx, "ab-missing", "tx", 1, at),
			func() error { _, err := db.GetBatch(ctx, "ab-missing"); return err }(),
			func() error { _, err := db.BatchLeaves(ctx, "ab-missing"); return err }(),
		} {
			if !routing.IsKind(check, routing.KindNotFound) {
				t.Fatalf("missing batch: %v", check)
			}
		}
		// A failing plan leaves the records unbatched.
		if _, err := db.PlanBatch(ctx, 10, func([]routing.AnchorLeaf) (*routing.AnchorBatch, error) {
			return nil, errors.New("boom")
		}); err == nil {
			t.Fatal("plan error swallowed")
		}
		b2, err := db.PlanBatch(ctx, 10, planBatch)
		if err != nil {
			t.Fatalf("err = %v, want nil; second batch %+v, %v", err, b2, err)
		}
		if b2 == nil {
			t.Fatalf("b2 is nil; second batch %+v, %v", b2, err)
		}
		if b2.Count != 2 {
			t.Fatalf("b2.Count = %v, want 2; second batch %+v, %v", b2.Count, b2, err)
		}
	})
}

// Every record appended while two planners (two replicas that both
// believe they hold the lease) run ends up in exactly one batch.
func TestPlanBatchUnderConcurrentAppends(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		ctx := ctxT(t)
		replicaA, replicaB := d.Open(t), d.Open(t)
		const (
			writers = 6
			batches = 15
			size    = 10
		)
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			appended = map[string]bool{}
			planned  []*routing.AnchorBatch
			done     atomic.Bool
		)
		errc := make(chan error, writers+2)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				db := replicaA
				if w%2 == 1 {
					db = replicaB
				}
				for range batches {
					var recs []*routing.AccessRecord
					for range size {
						recs = append(recs, newRecord(time.Now().UTC(), "", 0))
					}
					if _, err := db.AppendAccess(ctx, recs); err != nil {
						errc <- err
						return
					}
					mu.Lock()
					for _, r := range recs {
						appended[r.LeafHash] = true
					}
					mu.Unlock()
				}
			}()
		}
		var pw sync.WaitGroup
		for _, db := range []*store.DB{replicaA, replicaB} {
			pw.Add(1)
			go func() {
				defer pw.Done()
				for {
					last := done.Load()
					b, err := db.PlanBatch(ctx, 17, planBatch)
					if err != nil {
						errc <- err
						return
					}
					if b != nil {
						mu.Lock()
						planned = append(planned, b)
						mu.Unlock()
						continue
					}
					if last {
						return
					}
					time.Sleep(time.Millisecond)
				}
			}()
		}
		wg.Wait()
		done.Store(true)
		pw.Wait()
		close(errc)
		for err := range errc {
			t.Fatal(err)
		}
		seen := map[string]string{}
		total := 0
		for _, b := range planned {
			leaves, err := replicaA.BatchLeaves(ctx, b.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(leaves) != b.Count {
				t.Fatalf("batch %s has %d leaves, planned %d", b.ID, len(leaves), b.Count)
			}
			for _, l := range leaves {
				if other, dup := seen[l]; dup {
					t.Fatalf("record in batches %s and %s", other, b.ID)
				}
				seen[l] = b.ID
			}
			total += b.Count
		}
		if total != len(appended) || len(seen) != len(appended) {
			t.Fatalf("%d records batched, %d appended", total, len(appended))
		}
		for l := range appended {
			if seen[l] == "" {
				t.Fatalf("record %s… in no batch", l[:12])
			}
		}
	})
}

// fakeLedger accepts anchors like the chaincode: idempotently by batch id.
type fakeLedger struct {
	mu      sync.Mutex
	anchors map[string]*model.AccessAnchor
	block   uint64
}

func (f *fakeLedger) AnchorAccessBatch(_ context.Context, a model.AccessAnchor) (*model.AccessAnchor, uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if got, ok := f.anchors[a.BatchID]; ok {
		return got, f.block, nil
	}
	f.block++
	a.TxID = fmt.Sprintf("tx-%d", f.block)
	f.anchors[a.BatchID] = &a
	return &a, f.block, nil
}

func (f *fakeLedger) GetAnchor(_ context.Context, id string) (*model.AccessAnchor, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if a, ok := f.anchors[id]; ok {
		return a, nil
	}
	return nil, routing.Errorf(routing.KindNotFound, "fake.GetAnchor", "no anchor")
}

// The routing core's access log and anchorer run over the store: records
// become durable, get anchored, and each one's inclusion proof verifies
// against the ledger's root.
func TestAccessLogAndAnchorerOverTheStore(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		ctx := ctxT(t)
		db := d.Open(t)
		log, err := routing.NewAccessLog(routing.AccessLogConfig{Store: db, MaxBatch: 64})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		var ids []string
		for i := range 40 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rec := &routing.AccessRecord{Requester: "edu-bureau", DataType: "edu.degree", Purpose: "admission",
					Outcome: routing.OutcomeIssued, EID: "did:eidgate:x", ConsentID: "consent-7", UseConsent: true, ConsentMaxUses: 30}
				err := log.Append(ctx, rec)
				if i := routing.CodeOf(err); err != nil && i != "consent_uses_exhausted" {
					t.Errorf("append: %v", err)
					return
				}
				if err == nil {
					mu.Lock()
					ids = append(ids, rec.ID)
					mu.Unlock()
				}
			}()
			_ = i
		}
		wg.Wait()
		log.Close()
		if len(ids) != 30 {
			t.Fatalf("%d records durable, want exactly 30 (the consent's uses)", len(ids))
		}
		fl := &fakeLedger{anchors: map[string]*model.AccessAnchor{}}
		a, err := routing.NewAnchorer(routing.AnchorerConfig{Store: db, Ledger: fl, Holder: "replica-1", MaxBatch: 7})
		if err != nil {
			t.Fatal(err)
		}
		a.Step(ctx)
		if st := a.Status(); !st.Leader {
			t.Fatalf("st.Leader is false; anchorer status %+v", st)
		} else if st.LastError != "" {
			t.Fatalf("st.LastError = %q, want \"\"; anchorer status %+v", st.LastError, st)
		} else if !st.Oldest.IsZero() {
			t.Fatalf("st.Oldest.IsZero() is false; anchorer status %+v", st)
		} else if st.Records != 30 {
			t.Fatalf("st.Records = %v, want 30; anchorer status %+v", st.Records, st)
		}
		for _, id := range ids {
			rec, err := db.GetAccess(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			p, err := a.Proof(ctx, rec)
			if err != nil {
				t.Fatalf("err = %v, want nil; proof of %s: %+v, %v", err, id, p, err)
			}
			if !p.Verified {
				t.Fatalf("p.Verified is false; proof of %s: %+v, %v", id, p, err)
			}
		}
	})
}

func TestLeaseIsExclusiveUntilExpiry(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		ctx := ctxT(t)
		clock := newFakeClock()
		a, b := d.OpenWith(t, store.Config{Clock: clock}), d.OpenWith(t, store.Config{Clock: clock})
		take := func(db *store.DB, holder string) bool {
			t.Helper()
			ok, err := db.AcquireLease(ctx, "anchorer", holder, 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		if !take(a, "replica-a") {
			t.Fatal("a free lease was refused")
		}
		if take(b, "replica-b") {
			t.Fatal("b took a held lease")
		}
		clock.Advance(8 * time.Second)
		if !take(a, "replica-a") {
			t.Fatal("the holder could not renew")
		}
		clock.Advance(8 * time.Second) // 16s after taking, 8s after renewing
		if take(b, "replica-b") {
			t.Fatal("b took a renewed lease before it expired")
		}
		clock.Advance(3 * time.Second)
		if !take(b, "replica-b") {
			t.Fatal("b could not take an expired lease")
		}
		if take(a, "replica-a") {
			t.Fatal("a took the lease back from b")
		}
		if err := b.ReleaseLease(ctx, "anchorer", "replica-b"); err != nil {
			t.Fatal(err)
		}
		if !take(a, "replica-a") {
			t.Fatal("a released lease was not free")
		}
		if _, err := a.AcquireLease(ctx, "anchorer", "", time.Second); !routing.IsKind(err, routing.KindInvalid) {
			t.Fatalf("empty holder: %v", err)
		}
	})
}

func TestLeaseRaceHasOneWinner(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		ctx := ctxT(t)
		const replicas = 8
		dbs := make([]*store.DB, replicas)
		for i := range dbs {
			dbs[i] = d.Open(t)
		}
		var wins atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, db := range dbs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				ok, err := db.AcquireLease(ctx, "anchorer", fmt.Sprintf("replica-%d", i), time.Minute)
				if err != nil {
					t.Error(err)
				}
				if ok {
					wins.Add(1)
				}
			}()
		}
		close(start)
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%d replicas hold the lease", wins.Load())
		}
	})
}

func TestCheckpointRoundTrip(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		ctx := ctxT(t)
		cp := d.Open(t).Checkpoints()
		if b, tx, err := cp.Load(ctx, "cache-invalidation/r1"); err != nil || b != 0 || tx != "" {
			t.Fatalf("unsaved: %d %q %v", b, tx, err)
		}
		if err := cp.Save(ctx, "cache-invalidation/r1", 17, "tx-a"); err != nil {
			t.Fatal(err)
		}
		if err := cp.Save(ctx, "cache-invalidation/r1", 18, "tx-b"); err != nil {
			t.Fatal(err)
		}
		if err := cp.Save(ctx, "other", 3, ""); err != nil {
			t.Fatal(err)
		}
		reopened := d.Open(t).Checkpoints()
		if b, tx, err := reopened.Load(ctx, "cache-invalidation/r1"); err != nil || b != 18 || tx != "tx-b" {
			t.Fatalf("after reopen: %d %q %v", b, tx, err)
		}
		if b, tx, err := reopened.Load(ctx, "other"); err != nil || b != 3 || tx != "" {
			t.Fatalf("other: %d %q %v", b, tx, err)
		}
	})
}

func TestDatabaseDownIsUnavailable(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		ctx := ctxT(t)
		db := d.Open(t)
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		calls := map[string]error{
			"ping": db.Ping(ctx),
			"append": func() error {
				_, err := db.AppendAccess(ctx, []*routing.AccessRecord{newRecord(time.Now(), "", 0)})
				return err
			}(),
			"oldest": func() error { _, _, err := db.OldestUnanchored(ctx); return err }(),
			"lease":  func() error { _, err := db.AcquireLease(ctx, "anchorer", "x", time.Second); return err }(),
			"get":    func() error { _, err := db.GetAccess(ctx, "acc_x"); return err }(),
			"save":   db.Checkpoints().Save(ctx, "x", 1, ""),
		}
		for name, err := range calls {
			if routing.KindOf(err) != routing.KindUnavailable || routing.CodeOf(err) != "database_unavailable" {
				t.Errorf("%s on a closed pool: %v, want unavailable database_unavailable", name, err)
			}
		}
	})
}

func TestOpenErrorsAreClearAndHidePasswords(t *testing.T) {
	ctx := ctxT(t)
	tests := []struct {
		name, dsn string
		kind      routing.Kind
		code      string
	}{
		{"empty", "", routing.KindInvalid, "invalid_dsn"},
		{"bad port", "postgres://eid:s3cretpw@127.0.0.1:notaport/db", routing.KindInvalid, "invalid_dsn"},
		{"nobody listening", "postgres://eid:s3cretpw@127.0.0.1:1/db?connect_timeout=2", routing.KindUnavailable, "database_unavailable"},
		{"sqlite dir missing", "/nonexistent-dir/sub/eidgate.db", routing.KindUnavailable, "database_unavailable"},
		{"sqlite query string", "data.db?_pragma=synchronous(OFF)", routing.KindInvalid, "invalid_dsn"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := store.Open(ctx, store.Config{DSN: tt.dsn})
			if err == nil {
				_ = db.Close()
				t.Fatal("opened")
			}
			if routing.KindOf(err) != tt.kind || routing.CodeOf(err) != tt.code {
				t.Fatalf("%v: want %s/%s", err, tt.kind, tt.code)
			}
			if strings.Contains(err.Error(), "s3cretpw") {
				t.Fatalf("the error shows the password: %v", err)
			}
		})
	}
}

// The SQLite file is opened so that a committed transaction survives power
// loss, on every pooled connection.
func TestSQLiteDurabilitySettings(t *testing.T) {
	d := storetest.SQLite(t)
	db := d.Open(t)
	ctx := ctxT(t)
	var wg sync.WaitGroup
	for range 4 { // several connections at once, so more than one is checked
		wg.Add(1)
		go func() {
			defer wg.Done()
			tx := db.Gorm().WithContext(ctx).Begin()
			defer tx.Rollback()
			var journal string
			var syncMode, fk, busy int
			if err := tx.Raw(`PRAGMA journal_mode`).Row().Scan(&journal); err != nil {
				t.Error(err)
				return
			}
			_ = tx.Raw(`PRAGMA synchronous`).Row().Scan(&syncMode)
			_ = tx.Raw(`PRAGMA foreign_keys`).Row().Scan(&fk)
			_ = tx.Raw(`PRAGMA busy_timeout`).Row().Scan(&busy)
			if journal != "wal" || syncMode != 2 || fk != 1 || busy < 1000 {
				t.Errorf("journal=%s synchronous=%d foreign_keys=%d busy_timeout=%d; want wal, 2 (FULL), 1, ≥1000",
					journal, syncMode, fk, busy)
			}
		}()
	}
	wg.Wait()
}

func TestOpenRefusesANewerSchema(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		db := d.Open(t)
		if err := db.Gorm().Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'from the future', 0)`).Error; err != nil {
			t.Fatal(err)
		}
		_ = db.Close()
		_, err := store.Open(ctxT(t), store.Config{DSN: d.DSN})
		if routing.CodeOf(err) != "schema_too_new" {
			t.Fatalf("opening a newer schema: %v", err)
		}
	})
}

// The database and its WAL are readable by the gateway's user alone, also
// when an older version left them open to others.
func TestSQLiteFilesAreOwnerOnly(t *testing.T) {
	d := storetest.SQLite(t)
	check := func(when string) {
		t.Helper()
		for _, p := range []string{d.DSN, d.DSN + "-wal"} {
			st, err := os.Stat(p)
			if err != nil {
				t.Fatalf("%s: %v", when, err)
			}
			if st.Mode().Perm()&0o077 != 0 {
				t.Errorf("%s: %s has mode %v, want owner-only", when, filepath.Base(p), st.Mode().Perm())
			}
		}
	}
	db := d.Open(t)
	if err := db.Gorm().Exec(`CREATE TABLE IF NOT EXISTS perm_probe (x INTEGER)`).Error; err != nil {
		t.Fatal(err)
	}
	check("new database")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(d.DSN, 0o644); err != nil {
		t.Fatal(err)
	}
	db = d.Open(t)
	defer db.Close()
	if err := db.Gorm().Exec(`INSERT INTO perm_probe VALUES (1)`).Error; err != nil {
		t.Fatal(err)
	}
	check("database left 0644")
}
