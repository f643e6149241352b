package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/eidgate/eidgate/routing"
)

var (
	_ routing.AccessStore = (*DB)(nil)
	_ routing.AnchorStore = (*DB)(nil)
)

// accessColumns are the columns AppendAccess writes, in bind order.
const accessColumns = `id, created_at, request_id, requester, official, official_ref, provider, eid, data_type, purpose,
	consent_id, policy_version, outcome, reason, ticket_id, digest, route_version, used_consent, leaf_hash,
	legal_basis, visible_after`

const accessColumnCount = 21

// rowsPerStatement bounds the rows of one multi-row statement with cols
// parameters per row. PostgreSQL takes at most 65535 parameters per
// statement; the SQLite driver binds parameters in time quadratic in their
// number, so there many small statements beat one large one.
func (db *DB) rowsPerStatement(cols int) int {
	limit := 30000
	if db.dialect == DialectSQLite {
		limit = 600
	}
	return max(limit/cols, 1)
}

// maxAppendAttempts bounds how often AppendAccess re-runs its transaction
// after a deadlock or serialisation failure, or after dropping records
// whose id already exists.
const maxAppendAttempts = 4

var errRetryAppend = errors.New("retry append")

// AppendAccess writes recs in one transaction (see routing.AccessStore).
//
// Consent uses are counted first, in one statement for every consent of the
// batch (rows locked in consent id order, so concurrent replicas cannot
// deadlock on them), falling back to one conditional increment per record
// only for a consent that does not have room for all of its records. Then
// the records that passed are inserted in order with multi-row INSERTs; the
// database assigns Seq.
//
// On PostgreSQL a batch whose consents are all unlimited (the common case)
// is one statement instead, its own transaction: it inserts the records
// and counts the uses of those it inserted, in one round trip without
// BEGIN and COMMIT.
func (db *DB) AppendAccess(ctx context.Context, recs []*routing.AccessRecord) ([]error, error) {
	const op = "store.AppendAccess"
	per := make([]error, len(recs))
	if len(recs) == 0 {
		return per, nil
	}
	rejected := make([]error, len(recs)) // refusals that hold across attempts
	seen := make(map[string]bool, len(recs))
	for i, r := range recs {
		if err := validateRecord(r); err != nil {
			rejected[i] = err
			continue
		}
		if seen[r.ID] {
			rejected[i] = duplicateID(r.ID)
			continue
		}
		seen[r.ID] = true
	}
	single := db.singleStatement(recs, rejected)
	var lastErr error
	for range maxAppendAttempts {
		copy(per, rejected)
		for _, r := range recs {
			r.Seq = 0
		}
		var err error
		if single {
			err = db.appendStatement(ctx, recs, per, rejected)
		} else {
			err = db.write(ctx, func(tx *gorm.DB) error { return db.appendTx(tx, recs, per, rejected) })
		}
		if err == nil {
			return per, nil
		}
		for _, r := range recs {
			r.Seq = 0
		}
		lastErr = err
		if errors.Is(err, errRetryAppend) || isRetryable(err) {
			continue
		}
		break
	}
	return nil, db.classify(op, lastErr)
}

func (db *DB) appendTx(tx *gorm.DB, recs []*routing.AccessRecord, per, rejected []error) error {
	now := nanos(db.now())
	if err := db.countConsentUses(tx, recs, per, now); err != nil {
		return err
	}
	return db.insertRecords(tx, recs, per, rejected)
}

// singleStatement reports whether recs can be written by appendStatement:
// on PostgreSQL, when no record counts a use of a limited consent (an
// unlimited one always has room) and they fit one statement.
func (db *DB) singleStatement(recs []*routing.AccessRecord, rejected []error) bool {
	if db.dialect != DialectPostgres {
		return false
	}
	n := 0
	for i, r := range recs {
		if rejected[i] != nil {
			continue
		}
		if r.UseConsent && maxUses(r) > 0 {
			return false
		}
		n++
	}
	return n <= db.rowsPerStatement(accessColumnCount)
}

// appendStatement writes the records of recs not refused in per with one
// PostgreSQL statement, a transaction of its own: the records are inserted
// in order and the uses of the ones inserted are added to their consents'
// counts (locked in consent id order). A record whose id is already stored
// is skipped, its use not counted, and reported.
func (db *DB) appendStatement(ctx context.Context, recs []*routing.AccessRecord, per, rejected []error) error {
	var write []*routing.AccessRecord
	for i, r := range recs {
		if per[i] == nil {
			write = append(write, r)
		}
	}
	if len(write) == 0 {
		return nil
	}
	var sb strings.Builder
	sb.WriteString("WITH ins AS (INSERT INTO access_records (" + accessColumns + ") VALUES ")
	args := make([]any, 0, len(write)*accessColumnCount+1)
	args = appendRecordValues(&sb, args, write)
	sb.WriteString(` ON CONFLICT (id) DO NOTHING RETURNING seq, id, consent_id, used_consent),
		counted AS (INSERT INTO consent_usage (consent_id, uses, max_uses, updated_at)
			SELECT consent_id, COUNT(*), 0, ? FROM ins WHERE used_consent GROUP BY consent_id ORDER BY consent_id
			ON CONFLICT (consent_id) DO UPDATE SET uses = consent_usage.uses + excluded.uses,
				max_uses = excluded.max_uses, updated_at = excluded.updated_at)
		SELECT seq, id FROM ins`)
	args = append(args, nanos(db.now()))
	rows, err := db.with(ctx).Raw(sb.String(), args...).Rows()
	if err != nil {
		return err
	}
	defer rows.Close()
	byID := make(map[string]*routing.AccessRecord, len(write))
	for _, r := range write {
		byID[r.ID] = r
	}
	for rows.Next() {
		var seq int64
		var id string
		if err := rows.Scan(&seq, &id); err != nil {
			return err
		}
		if r := byID[id]; r != nil {
			r.Seq = uint64(seq)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	// The statement has committed: a record it skipped stays refused, and
	// the others are written, so no attempt follows.
	for i, r := range recs {
		if per[i] == nil && r.Seq == 0 {
			rejected[i] = duplicateID(r.ID)
			per[i] = rejected[i]
		}
	}
	return nil
}

// appendRecordValues writes one "(?, …)" group per record to sb and their
// values to args.
func appendRecordValues(sb *strings.Builder, args []any, recs []*routing.AccessRecord) []any {
	for j, r := range recs {
		if j > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
		args = append(args, r.ID, nanos(r.CreatedAt), r.RequestID, r.Requester, r.Official, r.OfficialRef, r.Provider,
			r.EID, r.DataType, r.Purpose, r.ConsentID, r.PolicyVersion, r.Outcome, r.Reason,
			r.TicketID, r.Digest, int64(r.RouteVersion), r.UseConsent, r.LeafHash, r.LegalBasis, nanos(r.VisibleAfter))
	}
	return args
}

// insertRecords inserts the records of recs not refused in per, in order,
// with multi-row INSERTs, setting their Seq. A record whose id is already
// stored is marked in rejected, and errRetryAppend returned.
func (db *DB) insertRecords(tx *gorm.DB, recs []*routing.AccessRecord, per, rejected []error) error {
	var write []*routing.AccessRecord
	for i, r := range recs {
		if per[i] == nil {
			write = append(write, r)
		}
	}
	byID := make(map[string]*routing.AccessRecord, len(write))
	for _, r := range write {
		byID[r.ID] = r
	}
	step := db.rowsPerStatement(accessColumnCount)
	for start := 0; start < len(write); start += step {
		chunk := write[start:min(start+step, len(write))]
		var sb strings.Builder
		sb.WriteString("INSERT INTO access_records (" + accessColumns + ") VALUES ")
		args := appendRecordValues(&sb, make([]any, 0, len(chunk)*accessColumnCount), chunk)
		// A record whose id is already stored is skipped by the database;
		// the transaction is then rolled back and run again without it, so
		// its consent use is not counted either.
		sb.WriteString(" ON CONFLICT (id) DO NOTHING RETURNING seq, id")
		rows, err := tx.Raw(sb.String(), args...).Rows()
		if err != nil {
			return err
		}
		got := 0
		for rows.Next() {
			var seq int64
			var id string
			if err := rows.Scan(&seq, &id); err != nil {
				_ = rows.Close()
				return err
			}
			if r := byID[id]; r != nil {
				r.Seq = uint64(seq)
				got++
			}
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if got != len(chunk) {
			for i, r := range recs {
				if rejected[i] == nil && byID[r.ID] == r && r.Seq == 0 && inChunk(chunk, r) {
					rejected[i] = duplicateID(r.ID)
				}
			}
			return errRetryAppend
		}
	}
	return nil
}

func inChunk(chunk []*routing.AccessRecord, r *routing.AccessRecord) bool {
	for _, c := range chunk {
		if c == r {
			return true
		}
	}
	return false
}

// countConsentUses decides, for every record with UseConsent, whether its
// consent has a use left, and counts the uses granted. Records refused get
// per[i] set.
func (db *DB) countConsentUses(tx *gorm.DB, recs []*routing.AccessRecord, per []error, now int64) error {
	byConsent := map[string][]int{}
	for i, r := range recs {
		if per[i] == nil && r.UseConsent {
			byConsent[r.ConsentID] = append(byConsent[r.ConsentID], i)
		}
	}
	if len(byConsent) == 0 {
		return nil
	}
	ids := make([]string, 0, len(byConsent))
	for id := range byConsent {
		ids = append(ids, id)
	}
	sort.Strings(ids)

	// Bulk: every consent whose records share one limit gets all its uses
	// in one conditional upsert, when they all fit.
	type bulkRow struct {
		id   string
		n    int64
		maxv int64
	}
	var bulk []bulkRow
	for _, id := range ids {
		idx := byConsent[id]
		m := maxUses(recs[idx[0]])
		same := true
		for _, i := range idx[1:] {
			if maxUses(recs[i]) != m {
				same = false
				break
			}
		}
		if same && (m == 0 || int64(len(idx)) <= m) {
			bulk = append(bulk, bulkRow{id, int64(len(idx)), m})
		}
	}
	granted := map[string]bool{}
	// Chunks keep consent id order, so row locks are still taken in one
	// global order.
	step := db.rowsPerStatement(4)
	for start := 0; start < len(bulk); start += step {
		chunk := bulk[start:min(start+step, len(bulk))]
		var sb strings.Builder
		sb.WriteString("INSERT INTO consent_usage (consent_id, uses, max_uses, updated_at) VALUES ")
		args := make([]any, 0, 4*len(chunk))
		for j, b := range chunk {
			if j > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("(?, ?, ?, ?)")
			args = append(args, b.id, b.n, b.maxv, now)
		}
		sb.WriteString(` ON CONFLICT (consent_id) DO UPDATE SET uses = consent_usage.uses + excluded.uses,
			max_uses = excluded.max_uses, updated_at = excluded.updated_at
			WHERE excluded.max_uses = 0 OR consent_usage.uses + excluded.uses <= excluded.max_uses
			RETURNING consent_id`)
		rows, err := tx.Raw(sb.String(), args...).Rows()
		if err != nil {
			return err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				_ = rows.Close()
				return err
			}
			granted[id] = true
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
	}
	// One use at a time, in record order, for the consents left: each
	// increment is conditional on a use being left.
	for _, id := range ids {
		if granted[id] {
			continue
		}
		for _, i := range byConsent[id] {
			m := maxUses(recs[i])
			var uses int64
			err := tx.Raw(`INSERT INTO consent_usage (consent_id, uses, max_uses, updated_at) VALUES (?, 1, ?, ?)
				ON CONFLICT (consent_id) DO UPDATE SET uses = consent_usage.uses + 1,
					max_uses = excluded.max_uses, updated_at = excluded.updated_at
				WHERE excluded.max_uses = 0 OR consent_usage.uses < excluded.max_uses
				RETURNING uses`, id, m, now).Row().Scan(&uses)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				per[i] = consentExhausted(id)
			case err != nil:
				return err
			}
		}
	}
	return nil
}

func maxUses(r *routing.AccessRecord) int64 {
	if r.ConsentMaxUses > math.MaxInt64 {
		return 0 // beyond any count: unlimited
	}
	return int64(r.ConsentMaxUses)
}

func consentExhausted(consentID string) error {
	return &routing.Error{Kind: routing.KindConflict, Code: "consent_uses_exhausted", Op: "store.AppendAccess",
		Message: "consent " + consentID + " has no use left", Details: map[string]string{"consent_id": consentID}}
}

func duplicateID(id string) error {
	return &routing.Error{Kind: routing.KindConflict, Code: "access_id_exists", Op: "store.AppendAccess",
		Message: "an access record with id " + id + " already exists"}
}

// validateRecord refuses, for this record only, what the database would
// refuse for the whole transaction (PostgreSQL text holds neither NUL nor
// invalid UTF-8), and what an audit record must have.
func validateRecord(r *routing.AccessRecord) error {
	const op = "store.AppendAccess"
	bad := func(field, msg string) error {
		return (&routing.Error{Kind: routing.KindInvalid, Op: op, Field: field, Message: msg}).WithCode("access_record_invalid")
	}
	if r == nil {
		return bad("record", "nil access record")
	}
	if r.ID == "" {
		return bad("id", "access record has no id")
	}
	if r.CreatedAt.IsZero() {
		return bad("created_at", "access record has no creation time")
	}
	if r.Requester == "" || r.Outcome == "" {
		return bad("requester", "access record has no requester or outcome")
	}
	if r.UseConsent && r.ConsentID == "" {
		return bad("consent_id", "a consent use was asked for without a consent id")
	}
	if r.BreakGlass() && r.VisibleAfter.IsZero() {
		return bad("visible_after", "a break-glass access has no end of its seal")
	}
	if r.RouteVersion > math.MaxInt64 {
		return bad("route_version", "route version out of range")
	}
	if r.LeafHash == "" {
		r.ComputeLeafHash()
	}
	if !isHex(r.LeafHash, 64) {
		return bad("leaf_hash", "leaf hash is not 64 hex digits")
	}
	// In a fixed order, so a record with two bad fields always names the
	// same one; an array, so checking costs no allocation per record.
	for _, f := range [...]struct{ name, s string }{
		{"id", r.ID}, {"request_id", r.RequestID}, {"requester", r.Requester}, {"official", r.Official}, {"official_ref", r.OfficialRef},
		{"provider", r.Provider}, {"eid", r.EID}, {"data_type", r.DataType}, {"purpose", r.Purpose},
		{"consent_id", r.ConsentID}, {"outcome", r.Outcome}, {"reason", r.Reason}, {"ticket_id", r.TicketID},
		{"digest", r.Digest}, {"legal_basis", r.LegalBasis},
	} {
		if !utf8.ValidString(f.s) || strings.IndexByte(f.s, 0) >= 0 {
			return bad(f.name, f.name+" is not valid UTF-8 text")
		}
	}
	return nil
}

// isHex reports whether s is n hexadecimal digits (either case).
func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
		default:
			return false
		}
	}
	return true
}

// isRetryable reports a PostgreSQL deadlock or serialisation failure: the
// transaction was rolled back and can run again.
func isRetryable(err error) bool {
	var code string
	if pgCode(err, &code) {
		return code == "40P01" || code == "40001"
	}
	return false
}

// accessSelect reads access records with their batch's anchoring state.
const accessSelect = `SELECT r.seq, r.id, r.created_at, r.request_id, r.requester, r.official, r.official_ref, r.provider, r.eid,
	r.data_type, r.purpose, r.consent_id, r.policy_version, r.outcome, r.reason, r.ticket_id, r.digest,
	r.route_version, r.used_consent, r.leaf_hash, r.batch_id, r.flagged, r.flag_reason, r.delivered_hash,
	r.legal_basis, r.visible_after, r.reviewed_at, r.reviewed_by, r.review_note,
	b.status, b.tx_id, b.block_number, b.anchored_at
	FROM access_records r LEFT JOIN anchor_batches b ON b.id = r.batch_id`

func scanAccess(rows *sql.Rows) (routing.AccessRecord, error) {
	var (
		r                      routing.AccessRecord
		seq, created, pv, rv   int64
		visibleAfter, reviewed int64
		batchID, status, txID  sql.NullString
		block, anchoredAt      sql.NullInt64
	)
	err := rows.Scan(&seq, &r.ID, &created, &r.RequestID, &r.Requester, &r.Official, &r.OfficialRef, &r.Provider, &r.EID,
		&r.DataType, &r.Purpose, &r.ConsentID, &pv, &r.Outcome, &r.Reason, &r.TicketID, &r.Digest,
		&rv, &r.UseConsent, &r.LeafHash, &batchID, &r.Flagged, &r.FlagReason, &r.DeliveredHash,
		&r.LegalBasis, &visibleAfter, &reviewed, &r.ReviewedBy, &r.ReviewNote,
		&status, &txID, &block, &anchoredAt)
	if err != nil {
		return r, err
	}
	r.Seq, r.CreatedAt, r.PolicyVersion, r.RouteVersion = uint64(seq), fromNanos(created), pv, uint64(rv)
	r.VisibleAfter, r.ReviewedAt = fromNanos(visibleAfter), fromNanos(reviewed)
	r.BatchID = batchID.String
	if status.String == routing.BatchAnchored {
		r.AnchorTxID, r.AnchorBlock, r.AnchoredAt = txID.String, uint64(block.Int64), fromNullNanos(anchoredAt)
	}
	return r, nil
}

// GetAccess returns one access record with its anchoring state.
func (db *DB) GetAccess(ctx context.Context, id string) (*routing.AccessRecord, error) {
	const op = "store.GetAccess"
	recs, err := db.queryAccess(ctx, accessSelect+` WHERE r.id = ?`, id)
	if err != nil {
		return nil, db.classify(op, err)
	}
	if len(recs) == 0 {
		return nil, (&routing.Error{Kind: routing.KindNotFound, Op: op, Message: "no access record " + id}).WithCode("access_not_found")
	}
	return &recs[0], nil
}

// List bounds.
const (
	DefaultListLimit = 100
	MaxListLimit     = 1000
)

// ListAccess returns the records matching f, in sequence order (newest
// first when f.Desc), at most f.Limit (default 100, at most 1000). Paging:
// pass the Seq of the last record seen as AfterSeq (ascending) or BeforeSeq
// (descending; AfterSeq with Desc means the same). From is inclusive, To
// exclusive.
func (db *DB) ListAccess(ctx context.Context, f routing.AccessFilter) ([]routing.AccessRecord, error) {
	const op = "store.ListAccess"
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
	eq("r.requester", f.Requester)
	eq("r.provider", f.Provider)
	eq("r.eid", f.EID)
	eq("r.data_type", f.DataType)
	eq("r.purpose", f.Purpose)
	eq("r.outcome", f.Outcome)
	if !f.From.IsZero() {
		where = append(where, "r.created_at >= ?")
		args = append(args, nanos(f.From))
	}
	if !f.To.IsZero() {
		where = append(where, "r.created_at < ?")
		args = append(args, nanos(f.To))
	}
	if !f.VisibleAt.IsZero() {
		// A time filter: a sealed break-glass access appears in the
		// resident's log the moment its seal ends, without anyone acting.
		where = append(where, "r.visible_after <= ?")
		args = append(args, nanos(f.VisibleAt))
	}
	if f.BreakGlass {
		where = append(where, "r.legal_basis <> ''")
	}
	if f.Reviewed != nil {
		if *f.Reviewed {
			where = append(where, "r.reviewed_at <> 0")
		} else {
			where = append(where, "r.reviewed_at = 0")
		}
	}
	if f.Desc && f.BeforeSeq > 0 && f.AfterSeq == 0 {
		f.AfterSeq = f.BeforeSeq
	}
	if f.AfterSeq > 0 {
		if f.AfterSeq > math.MaxInt64 {
			return nil, routing.Invalid(op, "after_seq", "after_seq out of range")
		}
		if f.Desc {
			where = append(where, "r.seq < ?")
		} else {
			where = append(where, "r.seq > ?")
		}
		args = append(args, int64(f.AfterSeq))
	}
	q := accessSelect
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	if f.Desc {
		q += " ORDER BY r.seq DESC"
	} else {
		q += " ORDER BY r.seq"
	}
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultListLimit
	}
	limit = min(limit, MaxListLimit)
	q += " LIMIT ?"
	args = append(args, limit)
	recs, err := db.queryAccess(ctx, q, args...)
	if err != nil {
		return nil, db.classify(op, err)
	}
	return recs, nil
}

func (db *DB) queryAccess(ctx context.Context, q string, args ...any) ([]routing.AccessRecord, error) {
	return queryAccessWith(db.with(ctx), q, args...)
}

func queryAccessWith(tx *gorm.DB, q string, args ...any) ([]routing.AccessRecord, error) {
	rows, err := tx.Raw(q, args...).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []routing.AccessRecord
	for rows.Next() {
		r, err := scanAccess(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ConsentUses is how many uses of a consent have been counted (0 when
// none).
func (db *DB) ConsentUses(ctx context.Context, consentID string) (uint64, error) {
	var uses sql.NullInt64
	err := db.with(ctx).Raw(`SELECT uses FROM consent_usage WHERE consent_id = ?`, consentID).Row().Scan(&uses)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, db.classify("store.ConsentUses", err)
	}
	return uint64(uses.Int64), nil
}

// FlagAccess marks a record whose delivered content did not match its
// digest (proxy mode).
func (db *DB) FlagAccess(ctx context.Context, id, reason, deliveredHash string) error {
	const op = "store.FlagAccess"
	n, err := db.exec(ctx, `UPDATE access_records SET flagged = ?, flag_reason = ?, delivered_hash = ? WHERE id = ?`,
		true, reason, deliveredHash, id)
	if err != nil {
		return db.classify(op, err)
	}
	if n == 0 {
		return (&routing.Error{Kind: routing.KindNotFound, Op: op, Message: "no access record " + id}).WithCode("access_not_found")
	}
	return nil
}

// checkAffected is a guard for statements that must touch an exact number
// of rows inside a transaction.
func checkAffected(what string, got, want int64) error {
	if got != want {
		return fmt.Errorf("%s: %d rows changed, expected %d", what, got, want)
	}
	return nil
}
