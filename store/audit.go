package store

import (
	"context"
	"database/sql"
	"math"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/eidgate/eidgate/audit"
	"github.com/eidgate/eidgate/routing"
)

var (
	_ audit.Store         = (*DB)(nil)
	_ routing.AnchorStore = (*AuditAnchors)(nil)
)

// auditSchema is schema step 7: audit records and their batches (the same
// anchoring columns as access records and anchor batches), four-eyes
// proposals, staff activation codes, break-glass purposes and the
// break-glass columns of access records.
var auditSchema = []string{
	`ALTER TABLE anchor_batches ADD COLUMN break_glass TEXT NOT NULL DEFAULT '[]'`,
	`ALTER TABLE access_records ADD COLUMN legal_basis TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE access_records ADD COLUMN visible_after BIGINT NOT NULL DEFAULT 0`,
	`CREATE INDEX access_records_break_glass ON access_records (created_at) WHERE legal_basis <> ''`,
	`CREATE TABLE audit_records (
		seq          $ID$,
		id           TEXT NOT NULL UNIQUE,
		created_at   BIGINT NOT NULL,
		completed_at BIGINT NOT NULL DEFAULT 0,
		official     TEXT NOT NULL,
		official_ref TEXT NOT NULL,
		act          TEXT NOT NULL,
		target       TEXT NOT NULL DEFAULT '',
		eid          TEXT NOT NULL DEFAULT '',
		reason       TEXT NOT NULL DEFAULT '',
		before_state TEXT NOT NULL DEFAULT '',
		after_state  TEXT NOT NULL DEFAULT '',
		status       TEXT NOT NULL CHECK (status IN ('pending', 'done', 'failed', 'unknown')),
		error        TEXT NOT NULL DEFAULT '',
		proposal_id  TEXT NOT NULL DEFAULT '',
		request_id   TEXT NOT NULL DEFAULT '',
		leaf_hash    TEXT NOT NULL DEFAULT '',
		batch_id     TEXT
	)`,
	`CREATE INDEX audit_records_unbatched ON audit_records (seq) WHERE batch_id IS NULL AND status <> 'pending'`,
	`CREATE INDEX audit_records_pending ON audit_records (created_at) WHERE status = 'pending'`,
	`CREATE INDEX audit_records_created ON audit_records (created_at)`,
	`CREATE INDEX audit_records_eid ON audit_records (eid, seq)`,
	`CREATE INDEX audit_records_target ON audit_records (target, seq)`,
	`CREATE INDEX audit_records_official ON audit_records (official, seq)`,
	`CREATE INDEX audit_records_act ON audit_records (act, seq)`,
	`CREATE INDEX audit_records_batch ON audit_records (batch_id, seq)`,
	`CREATE TABLE audit_batches (
		id               TEXT PRIMARY KEY,
		first_seq        BIGINT NOT NULL,
		last_seq         BIGINT NOT NULL,
		record_count     INTEGER NOT NULL,
		merkle_root      TEXT NOT NULL,
		consent_uses     TEXT NOT NULL DEFAULT '[]',
		break_glass      TEXT NOT NULL DEFAULT '[]',
		status           TEXT NOT NULL CHECK (status IN ('pending', 'anchored')),
		tx_id            TEXT NOT NULL DEFAULT '',
		block_number     BIGINT NOT NULL DEFAULT 0,
		oldest_record_at BIGINT NOT NULL,
		created_at       BIGINT NOT NULL,
		anchored_at      BIGINT
	)`,
	`CREATE INDEX audit_batches_pending ON audit_batches (created_at) WHERE status = 'pending'`,
	`CREATE TABLE proposals (
		id            TEXT PRIMARY KEY,
		act           TEXT NOT NULL,
		target        TEXT NOT NULL DEFAULT '',
		eid           TEXT NOT NULL DEFAULT '',
		params        TEXT NOT NULL,
		reason        TEXT NOT NULL DEFAULT '',
		proposed_by   TEXT NOT NULL,
		proposed_at   BIGINT NOT NULL,
		status        TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'executed', 'failed')),
		decided_by    TEXT NOT NULL DEFAULT '',
		decided_at    BIGINT NOT NULL DEFAULT 0,
		decision_note TEXT NOT NULL DEFAULT '',
		result        TEXT NOT NULL DEFAULT ''
	)`,
	`CREATE INDEX proposals_status ON proposals (status, proposed_at)`,
	`CREATE TABLE admin_activation_codes (
		username        TEXT PRIMARY KEY REFERENCES admins (username) ON DELETE CASCADE,
		code_hash       TEXT NOT NULL,
		created_at      BIGINT NOT NULL,
		expires_at      BIGINT NOT NULL,
		used_at         BIGINT,
		failed_attempts INTEGER NOT NULL DEFAULT 0
	)`,
	`CREATE TABLE break_glass_purposes (
		subject      TEXT NOT NULL,
		purpose      TEXT NOT NULL,
		seal_seconds BIGINT NOT NULL,
		created_by   TEXT NOT NULL,
		created_at   BIGINT NOT NULL,
		PRIMARY KEY (subject, purpose)
	)`,
}

// BeginAudit writes a record and sets its Seq (audit.Store).
func (db *DB) BeginAudit(ctx context.Context, r *audit.Record) error {
	const op = "store.BeginAudit"
	var seq int64
	err := db.write(ctx, func(tx *gorm.DB) error {
		return tx.Raw(`INSERT INTO audit_records (id, created_at, completed_at, official, official_ref, act, target,
			eid, reason, before_state, after_state, status, error, proposal_id, request_id, leaf_hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq`,
			r.ID, nanos(r.At), completedNanos(r.CompletedAt), r.Official, r.OfficialRef, r.Act, r.Target, r.EID, r.Reason,
			string(r.Before), string(r.After), r.Status, r.Error, r.ProposalID, r.RequestID, r.LeafHash).Row().Scan(&seq)
	})
	if err != nil {
		return db.classify(op, err)
	}
	r.Seq = uint64(seq)
	return nil
}

func completedNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return nanos(t)
}

// CompleteAudit makes a pending record final (its outcome, and the target
// an act names only once done, as a new eID); a record that is not pending
// (or does not exist) is audit_record_not_found.
func (db *DB) CompleteAudit(ctx context.Context, r *audit.Record) error {
	const op = "store.CompleteAudit"
	n, err := db.exec(ctx, `UPDATE audit_records SET completed_at = ?, target = ?, eid = ?, after_state = ?, status = ?,
		error = ?, leaf_hash = ? WHERE id = ? AND status = 'pending'`,
		completedNanos(r.CompletedAt), r.Target, r.EID, string(r.After), r.Status, r.Error, r.LeafHash, r.ID)
	if err != nil {
		return db.classify(op, err)
	}
	if n == 0 {
		return auditNotFound(op, "no pending audit record "+r.ID)
	}
	return nil
}

func auditNotFound(op, msg string) error {
	return (&routing.Error{Kind: routing.KindNotFound, Op: op, Message: msg}).WithCode("audit_record_not_found")
}

const auditSelect = `SELECT r.seq, r.id, r.created_at, r.completed_at, r.official, r.official_ref, r.act, r.target, r.eid,
	r.reason, r.before_state, r.after_state, r.status, r.error, r.proposal_id, r.request_id, r.leaf_hash, r.batch_id,
	b.status, b.tx_id, b.block_number
	FROM audit_records r LEFT JOIN audit_batches b ON b.id = r.batch_id`

func (db *DB) queryAudit(ctx context.Context, q string, args ...any) ([]audit.Record, error) {
	rows, err := db.with(ctx).Raw(q, args...).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []audit.Record
	for rows.Next() {
		var (
			r                       audit.Record
			seq, created, completed int64
			before, after           string
			batchID, bStatus, txID  sql.NullString
			block                   sql.NullInt64
		)
		if err := rows.Scan(&seq, &r.ID, &created, &completed, &r.Official, &r.OfficialRef, &r.Act, &r.Target, &r.EID,
			&r.Reason, &before, &after, &r.Status, &r.Error, &r.ProposalID, &r.RequestID, &r.LeafHash, &batchID,
			&bStatus, &txID, &block); err != nil {
			return nil, err
		}
		r.Seq, r.At = uint64(seq), fromNanos(created)
		if completed != 0 {
			r.CompletedAt = fromNanos(completed)
		}
		if before != "" {
			r.Before = []byte(before)
		}
		if after != "" {
			r.After = []byte(after)
		}
		r.BatchID = batchID.String
		if bStatus.String == routing.BatchAnchored {
			r.AnchorTxID, r.AnchorBlock = txID.String, uint64(block.Int64)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// GetAudit returns one record with its anchoring state.
func (db *DB) GetAudit(ctx context.Context, id string) (*audit.Record, error) {
	const op = "store.GetAudit"
	recs, err := db.queryAudit(ctx, auditSelect+` WHERE r.id = ?`, id)
	if err != nil {
		return nil, db.classify(op, err)
	}
	if len(recs) == 0 {
		return nil, auditNotFound(op, "no audit record "+id)
	}
	return &recs[0], nil
}

// ListAudit returns the records matching f, newest first, at most f.Limit
// (default 100, at most 1000); From is inclusive, To exclusive.
func (db *DB) ListAudit(ctx context.Context, f audit.Filter) ([]audit.Record, error) {
	const op = "store.ListAudit"
	var (
		where []string
		args  []any
	)
	eq := func(col, v string) {
		if v != "" {
			where = append(where, col+" = ?")
			args = append(args, v)
		}
	}
	eq("r.act", f.Act)
	eq("r.official", f.Official)
	eq("r.status", f.Status)
	eq("r.proposal_id", f.ProposalID)
	if f.EID != "" {
		where = append(where, "(r.eid = ? OR r.target = ?)")
		args = append(args, f.EID, f.EID)
	}
	if !f.From.IsZero() {
		where = append(where, "r.created_at >= ?")
		args = append(args, nanos(f.From))
	}
	if !f.To.IsZero() {
		where = append(where, "r.created_at < ?")
		args = append(args, nanos(f.To))
	}
	if f.BeforeSeq > 0 {
		if f.BeforeSeq > math.MaxInt64 {
			return nil, routing.Invalid(op, "before", "before out of range")
		}
		where = append(where, "r.seq < ?")
		args = append(args, int64(f.BeforeSeq))
	}
	q := auditSelect
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultListLimit
	}
	q += " ORDER BY r.seq DESC LIMIT ?"
	args = append(args, min(limit, MaxListLimit))
	recs, err := db.queryAudit(ctx, q, args...)
	if err != nil {
		return nil, db.classify(op, err)
	}
	return recs, nil
}

// PendingAudit lists records still pending that began before the given
// time, oldest first.
func (db *DB) PendingAudit(ctx context.Context, before time.Time, limit int) ([]audit.Record, error) {
	recs, err := db.queryAudit(ctx, auditSelect+` WHERE r.status = 'pending' AND r.created_at < ? ORDER BY r.created_at LIMIT ?`,
		nanos(before), max(limit, 1))
	if err != nil {
		return nil, db.classify("store.PendingAudit", err)
	}
	return recs, nil
}

// AuditAnchors is the anchoring state of audit records: the audit stream
// of routing.Anchorer, over the audit tables.
type AuditAnchors struct{ db *DB }

// AuditAnchors returns the audit stream's anchor store.
func (db *DB) AuditAnchors() *AuditAnchors { return &AuditAnchors{db} }

// OldestUnanchored: see routing.AnchorStore; pending intents wait for
// their outcome and are not counted.
func (a *AuditAnchors) OldestUnanchored(ctx context.Context) (time.Time, bool, error) {
	return a.db.oldestUnanchored(ctx, auditStream)
}

// PlanBatch: see routing.AnchorStore; only completed records are batched.
func (a *AuditAnchors) PlanBatch(ctx context.Context, maxRecs int, plan func([]routing.AnchorLeaf) (*routing.AnchorBatch, error)) (*routing.AnchorBatch, error) {
	return a.db.planBatch(ctx, auditStream, maxRecs, plan)
}

// PendingBatches: see routing.AnchorStore.
func (a *AuditAnchors) PendingBatches(ctx context.Context) ([]routing.AnchorBatch, error) {
	return a.db.pendingBatches(ctx, auditStream)
}

// BatchLeaves: see routing.AnchorStore.
func (a *AuditAnchors) BatchLeaves(ctx context.Context, batchID string) ([]string, error) {
	return a.db.batchLeaves(ctx, auditStream, batchID)
}

// MarkAnchored: see routing.AnchorStore.
func (a *AuditAnchors) MarkAnchored(ctx context.Context, batchID, txID string, block uint64, at time.Time) error {
	return a.db.markAnchored(ctx, auditStream, batchID, txID, block, at)
}

// AcquireLease: see routing.AnchorStore (the lease table is shared; the
// audit stream's lease has its own name).
func (a *AuditAnchors) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	return a.db.AcquireLease(ctx, name, holder, ttl)
}

// ReleaseLease gives the audit stream's lease up early.
func (a *AuditAnchors) ReleaseLease(ctx context.Context, name, holder string) error {
	return a.db.ReleaseLease(ctx, name, holder)
}

var _ audit.ProposalStore = (*DB)(nil)

// CreateProposal stores a pending four-eyes proposal.
func (db *DB) CreateProposal(ctx context.Context, p *audit.Proposal) error {
	_, err := db.exec(ctx, `INSERT INTO proposals (id, act, target, eid, params, reason, proposed_by, proposed_at, status)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, p.ID, p.Act, p.Target, p.EID, string(p.Params), p.Reason, p.ProposedBy,
		nanos(p.ProposedAt), p.Status)
	return db.classify("store.CreateProposal", err)
}

const proposalSelect = `SELECT id, act, target, eid, params, reason, proposed_by, proposed_at, status, decided_by,
	decided_at, decision_note, result FROM proposals`

func (db *DB) queryProposals(ctx context.Context, q string, args ...any) ([]audit.Proposal, error) {
	rows, err := db.with(ctx).Raw(q, args...).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []audit.Proposal
	for rows.Next() {
		var (
			p                 audit.Proposal
			params            string
			proposed, decided int64
		)
		if err := rows.Scan(&p.ID, &p.Act, &p.Target, &p.EID, &params, &p.Reason, &p.ProposedBy, &proposed, &p.Status,
			&p.DecidedBy, &decided, &p.Note, &p.Result); err != nil {
			return nil, err
		}
		p.Params, p.ProposedAt = []byte(params), fromNanos(proposed)
		if decided != 0 {
			p.DecidedAt = fromNanos(decided)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// GetProposal returns one proposal.
func (db *DB) GetProposal(ctx context.Context, id string) (*audit.Proposal, error) {
	const op = "store.GetProposal"
	ps, err := db.queryProposals(ctx, proposalSelect+` WHERE id = ?`, id)
	if err != nil {
		return nil, db.classify(op, err)
	}
	if len(ps) == 0 {
		return nil, (&routing.Error{Kind: routing.KindNotFound, Op: op, Message: "no such proposal"}).WithCode("proposal_not_found")
	}
	return &ps[0], nil
}

// ListProposals lists proposals in status ("" for all), newest first.
func (db *DB) ListProposals(ctx context.Context, status string, limit int) ([]audit.Proposal, error) {
	q, args := proposalSelect, []any{}
	if status != "" {
		q += ` WHERE status = ?`
		args = append(args, status)
	}
	q += ` ORDER BY proposed_at DESC, id LIMIT ?`
	args = append(args, min(max(limit, 1), MaxListLimit))
	ps, err := db.queryProposals(ctx, q, args...)
	if err != nil {
		return nil, db.classify("store.ListProposals", err)
	}
	return ps, nil
}

// DecideProposal moves a pending proposal to status, by a decider other
// than its proposer, in one conditional update: of two approvals at once,
// one wins.
func (db *DB) DecideProposal(ctx context.Context, id, status, decider, note string, at time.Time) (bool, error) {
	n, err := db.exec(ctx, `UPDATE proposals SET status = ?, decided_by = ?, decided_at = ?, decision_note = ?
		WHERE id = ? AND status = 'pending' AND proposed_by <> ?`, status, decider, nanos(at), note, id, decider)
	if err != nil {
		return false, db.classify("store.DecideProposal", err)
	}
	return n == 1, nil
}

// FinishProposal records an approved proposal's outcome.
func (db *DB) FinishProposal(ctx context.Context, id, status, result string) error {
	_, err := db.exec(ctx, `UPDATE proposals SET status = ?, result = ? WHERE id = ? AND status = 'approved'`, status, result, id)
	return db.classify("store.FinishProposal", err)
}
