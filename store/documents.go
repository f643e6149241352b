package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/eidgate/eidgate/routing"
)

// ResidentDocument is an identity document mapped to an eID. The number is
// kept only masked (for display) and sealed (encrypted by the mapping
// service, so it can be blinded again under a new key version); lookups go
// through the blinded value.
type ResidentDocument struct {
	Ref          string // opaque random id ("doc_…"), never derived from the number
	EID          string
	DocType      string
	Country      string
	MaskedNumber string
	KeyVersion   string
	BlindValue   string // 64 lowercase hex under KeyVersion
	SealedNumber []byte
	ExternalRef  string // the reference an import file gave the row, if any
	AddedBy      string // the officer, or "import:<job id>"
	CreatedAt    time.Time
	RemovedAt    time.Time // zero while the document maps to EID
}

// BlindIndex names a document by its blinded value under a key version.
type BlindIndex struct {
	KeyVersion string
	Value      string
}

// IndexUpdate moves a document to its blinded value under a newer key
// version (a key rotation).
type IndexUpdate struct {
	Ref        string
	KeyVersion string
	BlindValue string
}

const documentSelect = `SELECT ref, eid, doc_type, country, masked_number, key_version, blind_value, sealed_number,
	external_ref, added_by, created_at, removed_at FROM resident_documents`

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
		if err := rows.Scan(&d.Ref, &d.EID, &d.DocType, &d.Country, &d.MaskedNumber, &d.KeyVersion, &d.BlindValue,
			&d.SealedNumber, &d.ExternalRef, &d.AddedBy, &created, &removed); err != nil {
			return nil, err
		}
		d.CreatedAt, d.RemovedAt = fromNanos(created), fromNullNanos(removed)
		out = append(out, d)
	}
	return out, rows.Err()
}

func newRef(prefix string) (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return prefix + hex.EncodeToString(b[:]), nil
}

func documentNotFound(op string) error {
	return (&routing.Error{Kind: routing.KindNotFound, Op: op, Message: "no such mapped document"}).WithCode("document_not_found")
}

func (db *DB) prepareDocument(op string, d *ResidentDocument) error {
	if d.EID == "" || d.KeyVersion == "" || d.BlindValue == "" || d.DocType == "" {
		return routing.Invalid(op, "document", "a document needs an eID, a type, a key version and a blinded value")
	}
	if d.Ref == "" {
		ref, err := newRef("doc_")
		if err != nil {
			return routing.Wrap(op, err)
		}
		d.Ref = ref
	}
	if d.CreatedAt.IsZero() {
		d.CreatedAt = db.now()
	}
	d.RemovedAt = time.Time{}
	return nil
}

const documentInsert = `INSERT INTO resident_documents (ref, eid, doc_type, country, masked_number, key_version,
	blind_value, sealed_number, external_ref, added_by, created_at) VALUES `

// AddDocument maps a document to an eID and returns it with its ref. A
// document whose (key version, blinded value) already maps to an eID is a
// conflict with code "document_exists".
func (db *DB) AddDocument(ctx context.Context, d ResidentDocument) (*ResidentDocument, error) {
	const op = "store.AddDocument"
	if err := db.prepareDocument(op, &d); err != nil {
		return nil, err
	}
	_, err := db.exec(ctx, documentInsert+`(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.Ref, d.EID, d.DocType, d.Country, d.MaskedNumber, d.KeyVersion, d.BlindValue, d.SealedNumber,
		d.ExternalRef, d.AddedBy, nanos(d.CreatedAt))
	if isUniqueViolation(err) {
		return nil, &routing.Error{Kind: routing.KindConflict, Code: "document_exists", Op: op,
			Message: "document " + d.MaskedNumber + " is already mapped to an eID"}
	}
	if err != nil {
		return nil, db.classify(op, err)
	}
	return &d, nil
}

// PutDocuments maps docs in one transaction, skipping (not failing on) any
// whose (key version, blinded value) is already mapped, so a resumed import
// may repeat a batch. It returns how many were added; refs left empty are
// filled in.
func (db *DB) PutDocuments(ctx context.Context, docs []ResidentDocument) (int64, error) {
	const op = "store.PutDocuments"
	for i := range docs {
		if err := db.prepareDocument(op, &docs[i]); err != nil {
			return 0, err
		}
	}
	var added int64
	err := db.write(ctx, func(tx *gorm.DB) error {
		added = 0
		step := db.rowsPerStatement(11)
		for start := 0; start < len(docs); start += step {
			chunk := docs[start:min(start+step, len(docs))]
			var sb strings.Builder
			sb.WriteString(documentInsert)
			args := make([]any, 0, 11*len(chunk))
			for i, d := range chunk {
				if i > 0 {
					sb.WriteString(", ")
				}
				sb.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
				args = append(args, d.Ref, d.EID, d.DocType, d.Country, d.MaskedNumber, d.KeyVersion, d.BlindValue,
					d.SealedNumber, d.ExternalRef, d.AddedBy, nanos(d.CreatedAt))
			}
			sb.WriteString(` ON CONFLICT (key_version, blind_value) WHERE removed_at IS NULL DO NOTHING`)
			r := tx.Exec(sb.String(), args...)
			if r.Error != nil {
				return r.Error
			}
			added += r.RowsAffected
		}
		return nil
	})
	if err != nil {
		return 0, db.classify(op, err)
	}
	return added, nil
}

// ListDocuments returns the documents mapped to eid, oldest first; with
// includeRemoved also those removed.
func (db *DB) ListDocuments(ctx context.Context, eid string, includeRemoved bool) ([]ResidentDocument, error) {
	q := documentSelect + ` WHERE eid = ?`
	if !includeRemoved {
		q += ` AND removed_at IS NULL`
	}
	ds, err := db.queryDocuments(ctx, q+` ORDER BY created_at, ref`, eid)
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
		return nil, documentNotFound(op)
	}
	return &ds[0], nil
}

// FindDocumentsByBlind returns the mapped documents under any of idx, in
// no particular order (a document blinded under every key version finds
// its row whichever version it is stored under).
func (db *DB) FindDocumentsByBlind(ctx context.Context, idx []BlindIndex) ([]ResidentDocument, error) {
	const op = "store.FindDocumentsByBlind"
	var out []ResidentDocument
	step := db.rowsPerStatement(2)
	for start := 0; start < len(idx); start += step {
		chunk := idx[start:min(start+step, len(idx))]
		var sb strings.Builder
		sb.WriteString(documentSelect + ` WHERE removed_at IS NULL AND (`)
		args := make([]any, 0, 2*len(chunk))
		for i, x := range chunk {
			if i > 0 {
				sb.WriteString(" OR ")
			}
			sb.WriteString("(key_version = ? AND blind_value = ?)")
			args = append(args, x.KeyVersion, x.Value)
		}
		sb.WriteString(")")
		ds, err := db.queryDocuments(ctx, sb.String(), args...)
		if err != nil {
			return nil, db.classify(op, err)
		}
		out = append(out, ds...)
	}
	return out, nil
}

// GetDocument returns one document by ref, removed or not.
func (db *DB) GetDocument(ctx context.Context, ref string) (*ResidentDocument, error) {
	const op = "store.GetDocument"
	ds, err := db.queryDocuments(ctx, documentSelect+` WHERE ref = ?`, ref)
	if err != nil {
		return nil, db.classify(op, err)
	}
	if len(ds) == 0 {
		return nil, documentNotFound(op)
	}
	return &ds[0], nil
}

// RemoveDocument unmaps a document; the row stays as history and its
// blinded value may be mapped again. Removing a document that is not
// mapped is not_found.
func (db *DB) RemoveDocument(ctx context.Context, ref string) error {
	const op = "store.RemoveDocument"
	n, err := db.exec(ctx, `UPDATE resident_documents SET removed_at = ? WHERE ref = ? AND removed_at IS NULL`, nanos(db.now()), ref)
	if err != nil {
		return db.classify(op, err)
	}
	if n == 0 {
		return documentNotFound(op)
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

// DocumentsNotAtKeyVersion pages through mapped documents whose key
// version is not keyVersion, in ref order after afterRef (a key rotation).
func (db *DB) DocumentsNotAtKeyVersion(ctx context.Context, keyVersion, afterRef string, limit int) ([]ResidentDocument, error) {
	if limit <= 0 {
		limit = DefaultListLimit
	}
	ds, err := db.queryDocuments(ctx, documentSelect+` WHERE removed_at IS NULL AND key_version <> ? AND ref > ?
		ORDER BY ref LIMIT ?`, keyVersion, afterRef, min(limit, MaxListLimit))
	if err != nil {
		return nil, db.classify("store.DocumentsNotAtKeyVersion", err)
	}
	return ds, nil
}

// SetDocumentIndexes moves documents to new blinded values in one
// transaction (a key rotation). A ref that is not mapped is not_found and
// nothing changes.
func (db *DB) SetDocumentIndexes(ctx context.Context, updates []IndexUpdate) error {
	const op = "store.SetDocumentIndexes"
	var missing bool
	err := db.write(ctx, func(tx *gorm.DB) error {
		for _, u := range updates {
			r := tx.Exec(`UPDATE resident_documents SET key_version = ?, blind_value = ? WHERE ref = ? AND removed_at IS NULL`,
				u.KeyVersion, u.BlindValue, u.Ref)
			if r.Error != nil {
				return r.Error
			}
			if r.RowsAffected == 0 {
				missing = true
				return errRollback
			}
		}
		return nil
	})
	if missing {
		return documentNotFound(op)
	}
	if isUniqueViolation(err) {
		return (&routing.Error{Kind: routing.KindConflict, Op: op, Message: "another document is mapped under this blinded value"}).WithCode("document_exists")
	}
	return db.classify(op, err)
}
