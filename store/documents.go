package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"

	"gorm.io/gorm"

	"github.com/eidgate/eidgate/mapping"
	"github.com/eidgate/eidgate/routing"
)

// The resident_documents table keeps mapping.StoredDocument rows (the
// mapping service's DocumentStore). A removed document stays as history
// with removed_at set; its blinded value may then be mapped again.

var _ mapping.DocumentStore = (*DB)(nil)

const documentSelect = `SELECT ref, eid, doc_type, country, masked_number, key_version, blind_value, sealed_number,
	external_ref, added_by, created_at FROM resident_documents`

func (db *DB) queryDocuments(ctx context.Context, q string, args ...any) ([]mapping.StoredDocument, error) {
	rows, err := db.with(ctx).Raw(q, args...).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []mapping.StoredDocument
	for rows.Next() {
		var (
			d       mapping.StoredDocument
			created int64
		)
		if err := rows.Scan(&d.Ref, &d.EID, &d.Type, &d.Country, &d.Masked, &d.KeyVersion, &d.BlindValue,
			&d.Sealed, &d.ExternalRef, &d.AddedBy, &created); err != nil {
			return nil, err
		}
		d.AddedAt = fromNanos(created)
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

func (db *DB) prepareDocument(op string, d *mapping.StoredDocument) error {
	if d.EID == "" || d.KeyVersion == "" || d.BlindValue == "" || d.Type == "" {
		return routing.Invalid(op, "document", "a document needs an eID, a type, a key version and a blinded value")
	}
	if d.Ref == "" {
		ref, err := newRef("doc_")
		if err != nil {
			return routing.Wrap(op, err)
		}
		d.Ref = ref
	}
	if d.AddedAt.IsZero() {
		d.AddedAt = db.now()
	}
	return nil
}

const documentInsert = `INSERT INTO resident_documents (ref, eid, doc_type, country, masked_number, key_version,
	blind_value, sealed_number, external_ref, added_by, created_at) VALUES `

// PutDocuments maps docs in one transaction, skipping (not failing on) any
// whose (key version, blinded value) is already mapped, so a resumed import
// may repeat a batch. Refs left empty are filled in.
func (db *DB) PutDocuments(ctx context.Context, docs []mapping.StoredDocument) error {
	const op = "store.PutDocuments"
	for i := range docs {
		if err := db.prepareDocument(op, &docs[i]); err != nil {
			return err
		}
	}
	// On SQLite, OR IGNORE instead of ON CONFLICT: a statement that cannot
	// abort half-way needs no statement journal, and keeping one (a copy
	// of every index page the statement changes) was a seventh of the CPU
	// of an import. It also skips a row whose ref exists, which refs of
	// 80 random bits with a time prefix never do.
	insert, conflict := documentInsert, ` ON CONFLICT (key_version, blind_value) WHERE removed_at IS NULL DO NOTHING`
	if db.dialect == DialectSQLite {
		insert, conflict = strings.Replace(documentInsert, "INSERT", "INSERT OR IGNORE", 1), ""
	}
	err := db.write(ctx, func(tx *gorm.DB) error {
		step := db.rowsPerStatement(11)
		for start := 0; start < len(docs); start += step {
			chunk := docs[start:min(start+step, len(docs))]
			var sb strings.Builder
			sb.WriteString(insert)
			args := make([]any, 0, 11*len(chunk))
			for i, d := range chunk {
				if i > 0 {
					sb.WriteString(", ")
				}
				sb.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
				args = append(args, d.Ref, d.EID, d.Type, d.Country, d.Masked, d.KeyVersion, d.BlindValue,
					d.Sealed, d.ExternalRef, d.AddedBy, nanos(d.AddedAt))
			}
			sb.WriteString(conflict)
			if err := tx.Exec(sb.String(), args...).Error; err != nil {
				return err
			}
		}
		return nil
	})
	return db.classify(op, err)
}

// DocumentsOf returns the documents mapped to eid, oldest first.
func (db *DB) DocumentsOf(ctx context.Context, eid string) ([]mapping.StoredDocument, error) {
	ds, err := db.queryDocuments(ctx, documentSelect+` WHERE eid = ? AND removed_at IS NULL ORDER BY created_at, ref`, eid)
	if err != nil {
		return nil, db.classify("store.DocumentsOf", err)
	}
	return ds, nil
}

// DocumentsByIndex returns the mapped documents under any of idx, in no
// particular order (a document blinded under every key version finds its
// row whichever version it is stored under).
func (db *DB) DocumentsByIndex(ctx context.Context, idx []mapping.Index) ([]mapping.StoredDocument, error) {
	const op = "store.DocumentsByIndex"
	var out []mapping.StoredDocument
	step := db.rowsPerStatement(2)
	for start := 0; start < len(idx); start += step {
		chunk := idx[start:min(start+step, len(idx))]
		var sb strings.Builder
		// Each term names the partial unique index's condition itself: with it
		// only in front of the OR, SQLite scans the whole table once per
		// statement instead of looking each pair up in the index.
		sb.WriteString(documentSelect + ` WHERE (`)
		args := make([]any, 0, 2*len(chunk))
		for i, x := range chunk {
			if i > 0 {
				sb.WriteString(" OR ")
			}
			sb.WriteString("(key_version = ? AND blind_value = ? AND removed_at IS NULL)")
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

// Document returns the mapped document with ref; a missing or removed one
// is not_found (document_not_found).
func (db *DB) Document(ctx context.Context, ref string) (*mapping.StoredDocument, error) {
	const op = "store.Document"
	ds, err := db.queryDocuments(ctx, documentSelect+` WHERE ref = ? AND removed_at IS NULL`, ref)
	if err != nil {
		return nil, db.classify(op, err)
	}
	if len(ds) == 0 {
		return nil, documentNotFound(op)
	}
	return &ds[0], nil
}

// RemoveDocument unmaps a document; the row stays as history and its
// blinded value may be mapped again. Removing a document that is missing
// or removed already changes nothing and is not an error.
func (db *DB) RemoveDocument(ctx context.Context, ref string) error {
	_, err := db.exec(ctx, `UPDATE resident_documents SET removed_at = ? WHERE ref = ? AND removed_at IS NULL`, nanos(db.now()), ref)
	return db.classify("store.RemoveDocument", err)
}

// MoveDocuments re-points every document mapped to eID from onto eID
// into (an eID merge). The ledger keeps the merge's history; here a
// document simply belongs to its surviving eID.
func (db *DB) MoveDocuments(ctx context.Context, from, into string) error {
	const op = "store.MoveDocuments"
	if from == "" || into == "" || from == into {
		return routing.Invalid(op, "eid", "a merge needs two different eIDs")
	}
	_, err := db.exec(ctx, `UPDATE resident_documents SET eid = ? WHERE eid = ? AND removed_at IS NULL`, into, from)
	return db.classify(op, err)
}

// DocumentsNotAt pages through mapped documents whose key version is not
// keyVersion, in ref order after afterRef (a key rotation).
func (db *DB) DocumentsNotAt(ctx context.Context, keyVersion, afterRef string, limit int) ([]mapping.StoredDocument, error) {
	if limit <= 0 {
		limit = DefaultListLimit
	}
	ds, err := db.queryDocuments(ctx, documentSelect+` WHERE removed_at IS NULL AND key_version <> ? AND ref > ?
		ORDER BY ref LIMIT ?`, keyVersion, afterRef, min(limit, MaxListLimit))
	if err != nil {
		return nil, db.classify("store.DocumentsNotAt", err)
	}
	return ds, nil
}

// SetIndexes moves documents to new blinded values in one transaction (a
// key rotation). A ref that is not mapped is not_found and nothing changes.
func (db *DB) SetIndexes(ctx context.Context, updates []mapping.IndexUpdate) error {
	const op = "store.SetIndexes"
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
