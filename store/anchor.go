package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"math"
	"time"

	"gorm.io/gorm"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/routing"
)

// anchorStream names the tables of one anchoring stream: access records
// and their batches, or audit records and theirs. The tables have the same
// anchoring columns, so one implementation serves both.
type anchorStream struct {
	name    string
	records string // table of records (seq, id, created_at, leaf_hash, batch_id)
	batches string // table of batches
	// ready selects the records that may be batched; leafCols are the
	// columns PlanBatch reads after seq, id, created_at, leaf_hash:
	// outcome, consent_id and legal basis (empty for audit records).
	ready    string
	leafCols string
}

var (
	accessStream = anchorStream{name: "access", records: "access_records", batches: "anchor_batches",
		ready: "batch_id IS NULL", leafCols: "outcome, consent_id, legal_basis"}
	auditStream = anchorStream{name: "audit", records: "audit_records", batches: "audit_batches",
		ready: "batch_id IS NULL AND status <> 'pending'", leafCols: "'', '', ''"}
)

// OldestUnanchored is the creation time of the oldest record in no batch or
// in a batch not yet anchored. Both halves read partial indexes that hold
// only unanchored rows, so the cost does not grow with the log.
func (db *DB) OldestUnanchored(ctx context.Context) (time.Time, bool, error) {
	return db.oldestUnanchored(ctx, accessStream)
}

func (db *DB) oldestUnanchored(ctx context.Context, st anchorStream) (time.Time, bool, error) {
	var unbatched, pending sql.NullInt64
	err := db.with(ctx).Raw(`SELECT
			(SELECT created_at FROM `+st.records+` WHERE `+st.ready+` ORDER BY created_at LIMIT 1),
			(SELECT MIN(oldest_record_at) FROM `+st.batches+` WHERE status = 'pending')`).Row().Scan(&unbatched, &pending)
	if err != nil {
		return time.Time{}, false, db.classify("store.OldestUnanchored", err)
	}
	switch {
	case unbatched.Valid && pending.Valid:
		return fromNanos(min(unbatched.Int64, pending.Int64)), true, nil
	case unbatched.Valid:
		return fromNanos(unbatched.Int64), true, nil
	case pending.Valid:
		return fromNanos(pending.Int64), true, nil
	}
	return time.Time{}, false, nil
}

// PlanBatch takes up to max records that are in no batch, in sequence
// order, and in one transaction stores the pending batch plan builds from
// them and assigns them to it (see routing.AnchorStore). Records are chosen
// by "in no batch", never by a sequence range, so a record that commits
// after a later sequence number was batched is picked up by the next batch.
// On PostgreSQL the chosen rows are locked, so two planners never take the
// same record.
func (db *DB) PlanBatch(ctx context.Context, maxRecs int, plan func(leaves []routing.AnchorLeaf) (*routing.AnchorBatch, error)) (*routing.AnchorBatch, error) {
	return db.planBatch(ctx, accessStream, maxRecs, plan)
}

// leavesWith reads the batchable records of a stream as leaves.
func leavesWith(tx *gorm.DB, st anchorStream, q string, args ...any) ([]routing.AnchorLeaf, error) {
	rows, err := tx.Raw(q, args...).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []routing.AnchorLeaf
	for rows.Next() {
		var (
			l                         routing.AnchorLeaf
			seq, created              int64
			outcome, consent, legalBy string
		)
		if err := rows.Scan(&seq, &l.ID, &created, &l.LeafHash, &outcome, &consent, &legalBy); err != nil {
			return nil, err
		}
		l.Seq, l.CreatedAt = uint64(seq), fromNanos(created)
		if routing.UsesConsent(outcome) && consent != "" {
			l.ConsentUse = consent
		}
		l.BreakGlass = legalBy != ""
		out = append(out, l)
	}
	return out, rows.Err()
}

func (db *DB) planBatch(ctx context.Context, st anchorStream, maxRecs int, plan func(leaves []routing.AnchorLeaf) (*routing.AnchorBatch, error)) (*routing.AnchorBatch, error) {
	const op = "store.PlanBatch"
	if maxRecs <= 0 {
		maxRecs = routing.DefaultAnchorBatch
	}
	var out *routing.AnchorBatch
	var planErr error
	err := db.write(ctx, func(tx *gorm.DB) error {
		q := `SELECT seq, id, created_at, leaf_hash, ` + st.leafCols + ` FROM ` + st.records +
			` WHERE ` + st.ready + ` ORDER BY seq LIMIT ?`
		if db.dialect == DialectPostgres {
			q += ` FOR UPDATE`
		}
		recs, err := leavesWith(tx, st, q, maxRecs)
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			return nil
		}
		b, err := plan(recs)
		if err != nil {
			planErr = err
			return err
		}
		if b == nil || b.ID == "" {
			planErr = errors.New("the batch plan has no id")
			return planErr
		}
		b.Status = routing.BatchPending
		b.Count = len(recs)
		if b.CreatedAt.IsZero() {
			b.CreatedAt = db.now()
		}
		oldest := recs[0].CreatedAt
		seqs := make([]int64, len(recs))
		for i, r := range recs {
			if r.CreatedAt.Before(oldest) {
				oldest = r.CreatedAt
			}
			seqs[i] = int64(r.Seq)
		}
		uses, err := json.Marshal(nonNilUses(b.ConsentUses))
		if err != nil {
			return err
		}
		breakGlass, err := json.Marshal(nonNilStrings(b.BreakGlass))
		if err != nil {
			return err
		}
		if err := tx.Exec(`INSERT INTO `+st.batches+` (id, first_seq, last_seq, record_count, merkle_root,
				consent_uses, break_glass, status, oldest_record_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			b.ID, int64(b.FirstSeq), int64(b.LastSeq), b.Count, b.MerkleRoot, string(uses), string(breakGlass),
			routing.BatchPending, nanos(oldest), nanos(b.CreatedAt)).Error; err != nil {
			if isUniqueViolation(err) {
				planErr = (&routing.Error{Kind: routing.KindConflict, Op: op, Message: "an anchor batch with id " + b.ID + " already exists"}).WithCode("batch_exists")
				return planErr
			}
			return err
		}
		var changed int64
		step := db.rowsPerStatement(1)
		for start := 0; start < len(seqs); start += step {
			part := seqs[start:min(start+step, len(seqs))]
			r := tx.Exec(`UPDATE `+st.records+` SET batch_id = ? WHERE batch_id IS NULL AND seq IN ?`, b.ID, part)
			if r.Error != nil {
				return r.Error
			}
			changed += r.RowsAffected
		}
		if err := checkAffected("assign records to batch "+b.ID, changed, int64(len(seqs))); err != nil {
			return err
		}
		out = b
		return nil
	})
	if planErr != nil {
		return nil, routing.Wrap(op, planErr)
	}
	if err != nil {
		return nil, db.classify(op, err)
	}
	return out, nil
}

func nonNilUses(u []model.ConsentUse) []model.ConsentUse {
	if u == nil {
		return []model.ConsentUse{}
	}
	return u
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func batchSelect(st anchorStream) string {
	return `SELECT id, first_seq, last_seq, record_count, merkle_root, consent_uses, break_glass, status, tx_id,
	block_number, created_at, anchored_at FROM ` + st.batches
}

func (db *DB) queryBatches(ctx context.Context, q string, args ...any) ([]routing.AnchorBatch, error) {
	rows, err := db.with(ctx).Raw(q, args...).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []routing.AnchorBatch
	for rows.Next() {
		var (
			b                         routing.AnchorBatch
			first, last, block, creat int64
			uses, breakGlass          string
			anchored                  sql.NullInt64
		)
		if err := rows.Scan(&b.ID, &first, &last, &b.Count, &b.MerkleRoot, &uses, &breakGlass, &b.Status, &b.TxID,
			&block, &creat, &anchored); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(breakGlass), &b.BreakGlass); err != nil {
			return nil, err
		}
		if len(b.BreakGlass) == 0 {
			b.BreakGlass = nil
		}
		b.FirstSeq, b.LastSeq, b.Block = uint64(first), uint64(last), uint64(block)
		b.CreatedAt, b.AnchoredAt = fromNanos(creat), fromNullNanos(anchored)
		if err := json.Unmarshal([]byte(uses), &b.ConsentUses); err != nil {
			return nil, err
		}
		if len(b.ConsentUses) == 0 {
			b.ConsentUses = nil
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// PendingBatches lists planned batches not yet confirmed, oldest first.
func (db *DB) PendingBatches(ctx context.Context) ([]routing.AnchorBatch, error) {
	return db.pendingBatches(ctx, accessStream)
}

func (db *DB) pendingBatches(ctx context.Context, st anchorStream) ([]routing.AnchorBatch, error) {
	bs, err := db.queryBatches(ctx, batchSelect(st)+` WHERE status = 'pending' ORDER BY created_at, first_seq`)
	if err != nil {
		return nil, db.classify("store.PendingBatches", err)
	}
	return bs, nil
}

// GetBatch returns one batch.
func (db *DB) GetBatch(ctx context.Context, id string) (*routing.AnchorBatch, error) {
	return db.getBatch(ctx, accessStream, id)
}

func (db *DB) getBatch(ctx context.Context, st anchorStream, id string) (*routing.AnchorBatch, error) {
	const op = "store.GetBatch"
	bs, err := db.queryBatches(ctx, batchSelect(st)+` WHERE id = ?`, id)
	if err != nil {
		return nil, db.classify(op, err)
	}
	if len(bs) == 0 {
		return nil, (&routing.Error{Kind: routing.KindNotFound, Op: op, Message: "no anchor batch " + id}).WithCode("batch_not_found")
	}
	return &bs[0], nil
}

// BatchLeaves are the leaf hashes of a batch's records in sequence order.
func (db *DB) BatchLeaves(ctx context.Context, batchID string) ([]string, error) {
	return db.batchLeaves(ctx, accessStream, batchID)
}

func (db *DB) batchLeaves(ctx context.Context, st anchorStream, batchID string) ([]string, error) {
	const op = "store.BatchLeaves"
	var leaves []string
	if err := db.with(ctx).Raw(`SELECT leaf_hash FROM `+st.records+` WHERE batch_id = ? ORDER BY seq`, batchID).
		Scan(&leaves).Error; err != nil {
		return nil, db.classify(op, err)
	}
	if len(leaves) == 0 {
		if _, err := db.getBatch(ctx, st, batchID); err != nil {
			return nil, err
		}
	}
	return leaves, nil
}

// MarkAnchored records that a batch is on the ledger. Marking a batch that
// is already anchored changes nothing.
func (db *DB) MarkAnchored(ctx context.Context, batchID, txID string, block uint64, at time.Time) error {
	return db.markAnchored(ctx, accessStream, batchID, txID, block, at)
}

func (db *DB) markAnchored(ctx context.Context, st anchorStream, batchID, txID string, block uint64, at time.Time) error {
	const op = "store.MarkAnchored"
	if block > math.MaxInt64 {
		return routing.Invalid(op, "block", "block number out of range")
	}
	n, err := db.exec(ctx, `UPDATE `+st.batches+` SET status = 'anchored', tx_id = ?, block_number = ?, anchored_at = ?
		WHERE id = ? AND status = 'pending'`, txID, int64(block), nanos(at.UTC()), batchID)
	if err != nil {
		return db.classify(op, err)
	}
	if n == 0 {
		if _, err := db.getBatch(ctx, st, batchID); err != nil {
			return err
		}
	}
	return nil
}

// AcquireLease takes the named lease for holder until ttl passes, when it
// is free, expired or already held by holder (which renews it). It is one
// conditional upsert, atomic on both dialects, so of several replicas
// asking at once exactly one gets a free lease. Expiry uses the store's
// clock: replicas need synchronised clocks (NTP), and a skew only shortens
// or lengthens a takeover, it never lets two planners take the same record
// (PlanBatch locks its rows).
func (db *DB) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	const op = "store.AcquireLease"
	if name == "" || holder == "" || ttl <= 0 {
		return false, routing.Invalid(op, "lease", "a lease needs a name, a holder and a positive ttl")
	}
	now := db.now()
	var got bool
	err := db.write(ctx, func(tx *gorm.DB) error {
		rows, err := tx.Raw(`INSERT INTO leases (name, holder, expires_at, acquired_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at,
				acquired_at = CASE WHEN leases.holder = excluded.holder THEN leases.acquired_at ELSE excluded.acquired_at END
			WHERE leases.holder = excluded.holder OR leases.expires_at <= ?
			RETURNING holder`, name, holder, nanos(now.Add(ttl)), nanos(now), nanos(now)).Rows()
		if err != nil {
			return err
		}
		got = rows.Next()
		if err := rows.Close(); err != nil {
			return err
		}
		return rows.Err()
	})
	if err != nil {
		return false, db.classify(op, err)
	}
	return got, nil
}

// ReleaseLease gives a lease up early (on shutdown) when holder has it.
func (db *DB) ReleaseLease(ctx context.Context, name, holder string) error {
	if _, err := db.exec(ctx, `DELETE FROM leases WHERE name = ? AND holder = ?`, name, holder); err != nil {
		return db.classify("store.ReleaseLease", err)
	}
	return nil
}

// Checkpoints keeps event listener positions (ledger.CheckpointStore).
type Checkpoints struct{ db *DB }

// Checkpoints returns the listener checkpoint store.
func (db *DB) Checkpoints() *Checkpoints { return &Checkpoints{db} }

// Load returns a listener's saved position; (0, "", nil) when never saved.
func (c *Checkpoints) Load(ctx context.Context, name string) (uint64, string, error) {
	var (
		block int64
		txID  string
	)
	err := c.db.with(ctx).Raw(`SELECT block_number, tx_id FROM listener_checkpoints WHERE name = ?`, name).Row().Scan(&block, &txID)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", nil
	}
	if err != nil {
		return 0, "", c.db.classify("store.Checkpoint.Load", err)
	}
	return uint64(block), txID, nil
}

// Save stores a listener's position.
func (c *Checkpoints) Save(ctx context.Context, name string, block uint64, txID string) error {
	const op = "store.Checkpoint.Save"
	if block > math.MaxInt64 {
		return routing.Invalid(op, "block", "block number out of range")
	}
	_, err := c.db.exec(ctx, `INSERT INTO listener_checkpoints (name, block_number, tx_id, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET block_number = excluded.block_number, tx_id = excluded.tx_id,
			updated_at = excluded.updated_at`, name, int64(block), txID, nanos(c.db.now()))
	if err != nil {
		return c.db.classify(op, err)
	}
	return nil
}
