package store

import (
	"context"
	"database/sql"
	"time"

	"gorm.io/gorm"

	"github.com/eidgate/eidgate/routing"
)

// ResidentDocument is an identity document mapped to an eID. The number is
// kept only masked (for display) and sealed (encrypted by the mapping
// service, so it can be blinded again under a new key version); lookups go
// through the blinded value.
type ResidentDocument struct {
	ID           int64
	EID          string
	DocType      string
	Country      string
	MaskedNumber string
	KeyVersion   string
	BlindValue   string
	SealedNumber []byte
	CreatedAt    time.Time
	RemovedAt    time.Time // zero while the document maps to EID
}

const documentSelect = `SELECT id, eid, doc_type, country, masked_number, key_version, blind_value, sealed_number,
	created_at, removed_at FROM resident_documents`

func (db *DB) queryDocuments(ctx context.Context, q string, args ...any) ([]ResidentDocument, error) {
	rows, err := db.with(ctx).Raw(q, args...).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ResidentDocument
	for rows.Next() {
		var (
			d       ResidentDocument
			created int64
			removed sql.NullInt64
		)
		if err := rows.Scan(&d.ID, &d.EID, &d.DocType, &d.Country, &d.MaskedNumber, &d.KeyVersion, &d.BlindValue,
			&d.SealedNumber, &created, &removed); err != nil {
			return nil, err
		}
		d.CreatedAt, d.RemovedAt = fromNanos(created), fromNullNanos(removed)
		out = append(out, d)
	}
	return out, rows.Err()
}

// AddDocument maps a document to an eID and returns it with its id. A
// document whose (key version, blinded value) already maps to an eID is a
// conflict with code "document_exists".
func (db *DB) AddDocument(ctx context.Context, d ResidentDocument) (*ResidentDocument, error) {
	const op = "store.AddDocument"
	if d.EID == "" || d.KeyVersion == "" || d.BlindValue == "" {
		return nil, routing.Invalid(op, "document", "a document needs an eID, a key version and a blinded value")
	}
	if d.CreatedAt.IsZero() {
		d.CreatedAt = db.now()
	}
	d.RemovedAt = time.Time{}
	err := db.write(ctx, func(tx *gorm.DB) error {
		return tx.Raw(`INSERT INTO resident_documents (eid, doc_type, country, masked_number, key_version, blind_value,
				sealed_number, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			d.EID, d.DocType, d.Country, d.MaskedNumber, d.KeyVersion, d.BlindValue, d.SealedNumber, nanos(d.CreatedAt)).
			Row().Scan(&d.ID)
	})
	if isUniqueViolation(err) {
		return nil, &routing.Error{Kind: routing.KindConflict, Code: "document_exists", Op: op,
			Message: "document " + d.MaskedNumber + " is already mapped to an eID"}
	}
	if err != nil {
		return nil, db.classify(op, err)
	}
	return &d, nil
}

// ListDocuments returns the documents mapped to eid, oldest first; with
// includeRemoved also those removed or moved away.
func (db *DB) ListDocuments(ctx context.Context, eid string, includeRemoved bool) ([]ResidentDocument, error) {
	q := documentSelect + ` WHERE eid = ?`
	if !includeRemoved {
		q += ` AND removed_at IS NULL`
	}
	ds, err := db.queryDocuments(ctx, q+` ORDER BY id`, eid)
	if err != nil {
		return nil, db.classify("store.ListDocuments", err)
	}
	return ds, nil
}

// FindDocumentByBlind returns the document currently mapped under a
// blinded value (not_found when none).
func (db *DB) FindDocumentByBlind(ctx context.Context, keyVersion, blindValue string) (*ResidentDocument, error) {
	const op = "store.FindDocumentByBlind"
	ds, err := db.queryDocuments(ctx, documentSelect+` WHERE key_version = ? AND blind_value = ? AND removed_at IS NULL`,
		keyVersion, blindValue)
	if err != nil {
		return nil, db.classify(op, err)
	}
	if len(ds) == 0 {
		return nil, (&routing.Error{Kind: routing.KindNotFound, Op: op, Message: "no document with this blinded value"}).WithCode("document_not_found")
	}
	return &ds[0], nil
}

// GetDocument returns one document by id, removed or not.
func (db *DB) GetDocument(ctx context.Context, id int64) (*ResidentDocument, error) {
	const op = "store.GetDocument"
	ds, err := db.queryDocuments(ctx, documentSelect+` WHERE id = ?`, id)
	if err != nil {
		return nil, db.classify(op, err)
	}
	if len(ds) == 0 {
		return nil, (&routing.Error{Kind: routing.KindNotFound, Op: op, Message: "no such document"}).WithCode("document_not_found")
	}
	return &ds[0], nil
}

// RemoveDocument unmaps a document; the row stays as history. Removing a
// removed document is not_found.
func (db *DB) RemoveDocument(ctx context.Context, id int64) error {
	const op = "store.RemoveDocument"
	n, err := db.exec(ctx, `UPDATE resident_documents SET removed_at = ? WHERE id = ? AND removed_at IS NULL`, nanos(db.now()), id)
	if err != nil {
		return db.classify(op, err)
	}
	if n == 0 {
		return (&routing.Error{Kind: routing.KindNotFound, Op: op, Message: "no such mapped document"}).WithCode("document_not_found")
	}
	return nil
}

// MoveDocuments re-points every document mapped to eID from onto eID
// into (an eID merge) and returns how many moved. The ledger keeps the
// merge's history; here a document simply belongs to its surviving eID.
func (db *DB) MoveDocuments(ctx context.Context, from, into string) (int64, error) {
	const op = "store.MoveDocuments"
	if from == "" || into == "" || from == into {
		return 0, routing.Invalid(op, "eid", "a merge needs two different eIDs")
	}
	n, err := db.exec(ctx, `UPDATE resident_documents SET eid = ? WHERE eid = ? AND removed_at IS NULL`, into, from)
	if err != nil {
		return 0, db.classify(op, err)
	}
	return n, nil
}
