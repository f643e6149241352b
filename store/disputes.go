package store

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/eidgate/eidgate/routing"
)

var _ routing.DisputeStore = (*DB)(nil)

// disputeSchema is the schema step of disputes: the off-chain part of each
// dispute (the resident's text, the department's answer, the auditor's
// note, whose digests are on the ledger) beside a copy of its on-chain
// record, with the columns the console filters on. At most one dispute of
// an access is not closed, as on the ledger.
var disputeSchema = []string{
	`CREATE TABLE disputes (
		id          TEXT PRIMARY KEY,
		access_id   TEXT NOT NULL,
		eid         TEXT NOT NULL,
		department  TEXT NOT NULL,
		status      TEXT NOT NULL CHECK (status IN ('open', 'answered', 'closed')),
		raised_at   TEXT NOT NULL,
		record      TEXT NOT NULL,
		text        TEXT NOT NULL DEFAULT '',
		answer      TEXT NOT NULL DEFAULT '',
		note        TEXT NOT NULL DEFAULT ''
	)`,
	`CREATE UNIQUE INDEX disputes_open_access ON disputes (access_id) WHERE status <> 'closed'`,
	`CREATE INDEX disputes_eid ON disputes (eid, raised_at)`,
	`CREATE INDEX disputes_department ON disputes (department, status, raised_at)`,
}

// InsertDispute adds a dispute; a second dispute of an access that is not
// closed is dispute_open.
func (db *DB) InsertDispute(ctx context.Context, d *routing.Dispute) error {
	const op = "store.InsertDispute"
	rec, err := json.Marshal(d.Dispute)
	if err != nil {
		return db.classify(op, err)
	}
	_, err = db.exec(ctx, `INSERT INTO disputes (id, access_id, eid, department, status, raised_at, record, text, answer, note)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.ID, d.AccessID, d.EID, d.Department, d.Status, d.RaisedAt, string(rec), d.Text, d.Answer, d.Note)
	if isUniqueViolation(err) {
		return &routing.Error{Kind: routing.KindConflict, Code: "dispute_open", Op: op, Message: "this access already has a dispute that is not closed"}
	}
	return db.classify(op, err)
}

// SaveDispute replaces the state and texts of a known dispute.
func (db *DB) SaveDispute(ctx context.Context, d *routing.Dispute) error {
	const op = "store.SaveDispute"
	rec, err := json.Marshal(d.Dispute)
	if err != nil {
		return db.classify(op, err)
	}
	n, err := db.exec(ctx, `UPDATE disputes SET status = ?, record = ?, text = ?, answer = ?, note = ? WHERE id = ?`,
		d.Status, string(rec), d.Text, d.Answer, d.Note, d.ID)
	if err == nil && n == 0 {
		return notFound(op, "dispute")
	}
	return db.classify(op, err)
}

// GetDispute returns one dispute.
func (db *DB) GetDispute(ctx context.Context, id string) (*routing.Dispute, error) {
	const op = "store.GetDispute"
	out, err := db.queryDisputes(ctx, disputeSelect+` WHERE id = ?`, id)
	if err != nil {
		return nil, db.classify(op, err)
	}
	if len(out) == 0 {
		return nil, notFound(op, "dispute")
	}
	return &out[0], nil
}

// ListDisputes returns the disputes f selects, newest first.
func (db *DB) ListDisputes(ctx context.Context, f routing.DisputeFilter) ([]routing.Dispute, error) {
	const op = "store.ListDisputes"
	var where []string
	var args []any
	for _, c := range []struct{ col, v string }{
		{"eid", f.EID}, {"department", f.Department}, {"status", f.Status}, {"access_id", f.AccessID},
	} {
		if c.v != "" {
			where = append(where, c.col+" = ?")
			args = append(args, c.v)
		}
	}
	q := disputeSelect
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 || limit > 500 {
		limit = 500
	}
	q += " ORDER BY raised_at DESC, id DESC LIMIT ?"
	out, err := db.queryDisputes(ctx, q, append(args, limit)...)
	return out, db.classify(op, err)
}

const disputeSelect = `SELECT record, text, answer, note FROM disputes`

func (db *DB) queryDisputes(ctx context.Context, q string, args ...any) ([]routing.Dispute, error) {
	rows, err := db.with(ctx).Raw(q, args...).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []routing.Dispute{}
	for rows.Next() {
		var d routing.Dispute
		var rec string
		if err := rows.Scan(&rec, &d.Text, &d.Answer, &d.Note); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(rec), &d.Dispute); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}
