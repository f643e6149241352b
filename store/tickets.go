package store

import (
	"context"
	"time"
)

// securitySchema is schema step 6: an issued ticket's single use is kept
// with its access record, so it survives a restart and the loss of the
// shared cache.
var securitySchema = []string{
	`ALTER TABLE access_records ADD COLUMN ticket_used_at BIGINT`,
	`CREATE INDEX access_ticket ON access_records (ticket_id) WHERE ticket_id <> ''`,
}

// ConsumeTicket records the single use of the ticket with id jti at the
// given time and reports whether this call was that use. It is one
// conditional UPDATE of the ticket's access record, so of any number of
// replicas presenting the same ticket at once exactly one gets fresh; a
// ticket used before, or one no access record here issued, is not fresh.
func (db *DB) ConsumeTicket(ctx context.Context, jti string, at time.Time) (fresh bool, err error) {
	if jti == "" {
		return false, nil
	}
	n, err := db.exec(ctx, `UPDATE access_records SET ticket_used_at = ? WHERE ticket_id = ? AND ticket_used_at IS NULL`, nanos(at), jti)
	if err != nil {
		return false, db.classify("store.ConsumeTicket", err)
	}
	return n > 0, nil
}
