package store

import (
	"context"
	"time"

	"github.com/eidgate/eidgate/routing"
)

// breakGlassSchema is schema step 8: an auditor's review of a break-glass
// access is kept with the access record. Break-glass grants are part of
// the access policy (package policies keeps them with its rules, so they
// are versioned and reach every replica as rules do); the table step 7
// set aside for them never held a row and is dropped.
var breakGlassSchema = []string{
	`ALTER TABLE access_records ADD COLUMN reviewed_at BIGINT NOT NULL DEFAULT 0`,
	`ALTER TABLE access_records ADD COLUMN reviewed_by TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE access_records ADD COLUMN review_note TEXT NOT NULL DEFAULT ''`,
	`DROP TABLE break_glass_purposes`,
}

// ReviewAccess records an auditor's review of a break-glass access, once:
// one conditional UPDATE, so of two auditors reviewing at once exactly
// one succeeds (see routing.AccessStore).
func (db *DB) ReviewAccess(ctx context.Context, id, by, note string, at time.Time) error {
	const op = "store.ReviewAccess"
	n, err := db.exec(ctx, `UPDATE access_records SET reviewed_at = ?, reviewed_by = ?, review_note = ?
		WHERE id = ? AND legal_basis <> '' AND reviewed_at = 0`, nanos(at), by, note, id)
	if err != nil {
		return db.classify(op, err)
	}
	if n == 1 {
		return nil
	}
	rec, err := db.GetAccess(ctx, id)
	if err != nil || !rec.BreakGlass() {
		return (&routing.Error{Kind: routing.KindNotFound, Op: op, Message: "no break-glass access " + id}).WithCode("access_not_found")
	}
	return (&routing.Error{Kind: routing.KindConflict, Op: op,
		Message: "the break-glass access was reviewed already by " + rec.ReviewedBy}).WithCode("break_glass_reviewed")
}
