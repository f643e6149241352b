package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/eidgate/eidgate/credential"
	"github.com/eidgate/eidgate/routing"
)

// credentialSchema is the schema step of the credential service: status
// lists with their allocated entries, the residents' issued credentials,
// and verifiers' presentation challenges.
var credentialSchema = []string{
	`CREATE TABLE credential_status_lists (
		issuer     TEXT NOT NULL,
		list_id    TEXT NOT NULL,
		purpose    TEXT NOT NULL CHECK (purpose IN ('revocation', 'suspension')),
		size       INTEGER NOT NULL,
		allocated  INTEGER NOT NULL DEFAULT 0,
		bits       $BLOB$ NOT NULL,
		version    BIGINT NOT NULL DEFAULT 0,
		token      TEXT NOT NULL DEFAULT '',
		digest     TEXT NOT NULL DEFAULT '',
		anchored   BIGINT NOT NULL DEFAULT 0,
		updated_at BIGINT NOT NULL,
		PRIMARY KEY (issuer, list_id)
	)`,
	`CREATE INDEX credential_status_lists_open ON credential_status_lists (issuer, purpose, list_id)`,
	// The primary key is what makes an index impossible to hand out twice.
	`CREATE TABLE credential_status_entries (
		issuer  TEXT NOT NULL,
		list_id TEXT NOT NULL,
		idx     INTEGER NOT NULL,
		PRIMARY KEY (issuer, list_id, idx)
	)`,
	`CREATE TABLE credentials (
		id          TEXT PRIMARY KEY,
		issuer      TEXT NOT NULL,
		eid         TEXT NOT NULL,
		data_type   TEXT NOT NULL,
		version     BIGINT NOT NULL,
		digest      TEXT NOT NULL,
		token       TEXT NOT NULL,
		status_refs TEXT NOT NULL DEFAULT '[]',
		issued_at   BIGINT NOT NULL,
		valid_until BIGINT,
		revoked     $BOOL$ NOT NULL DEFAULT $FALSE$,
		suspended   $BOOL$ NOT NULL DEFAULT $FALSE$
	)`,
	`CREATE INDEX credentials_eid ON credentials (eid, issued_at)`,
	// The portal's custodial holder keys, sealed (AES-256-GCM) by the
	// credential service; the database never sees them in the clear.
	`CREATE TABLE holder_keys (
		eid        TEXT PRIMARY KEY,
		sealed     $BLOB$ NOT NULL,
		created_at BIGINT NOT NULL
	)`,
	`CREATE TABLE presentation_challenges (
		nonce      TEXT PRIMARY KEY,
		verifier   TEXT NOT NULL,
		audience   TEXT NOT NULL,
		purpose    TEXT NOT NULL,
		created_at BIGINT NOT NULL,
		expires_at BIGINT NOT NULL,
		used_at    BIGINT
	)`,
}

var (
	_ credential.Store          = (*DB)(nil)
	_ credential.HolderKeyStore = (*DB)(nil)
)

// maxIndexDraws bounds the random draws for a free status index. Lists
// take entries only until three quarters are used, so 64 draws all landing
// on used indexes has a probability below 10⁻⁸.
const maxIndexDraws = 64

// AllocateStatus implements credential.Store: in one transaction it finds
// a list of issuer and purpose with room (or creates one) and claims an
// index pick draws, inserting it into credential_status_entries, whose
// primary key refuses an index handed out before.
func (db *DB) AllocateStatus(ctx context.Context, issuer, purpose string, size int, newListID func() string, pick func(int) int) (credential.StatusRef, error) {
	const op = "store.AllocateStatus"
	var ref credential.StatusRef
	err := db.write(ctx, func(tx *gorm.DB) error {
		q := `SELECT list_id, size FROM credential_status_lists WHERE issuer = ? AND purpose = ? AND allocated * 4 < size * 3 ORDER BY list_id LIMIT 1`
		if db.dialect == DialectPostgres {
			q += ` FOR UPDATE`
		}
		var listID string
		var listSize int
		err := tx.Raw(q, issuer, purpose).Row().Scan(&listID, &listSize)
		if errors.Is(err, sql.ErrNoRows) {
			listID, listSize = newListID(), size
			err = tx.Exec(`INSERT INTO credential_status_lists (issuer, list_id, purpose, size, bits, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
				issuer, listID, purpose, size, make([]byte, size/8), nanos(db.now())).Error
		}
		if err != nil {
			return err
		}
		for i := 0; i < maxIndexDraws; i++ {
			idx := pick(listSize)
			if idx < 0 || idx >= listSize {
				continue
			}
			r := tx.Exec(`INSERT INTO credential_status_entries (issuer, list_id, idx) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, issuer, listID, idx)
			if r.Error != nil {
				return r.Error
			}
			if r.RowsAffected == 1 {
				ref = credential.StatusRef{Purpose: purpose, ListID: listID, Index: idx}
				return tx.Exec(`UPDATE credential_status_lists SET allocated = allocated + 1 WHERE issuer = ? AND list_id = ?`, issuer, listID).Error
			}
		}
		return &routing.Error{Kind: routing.KindInternal, Op: op, Message: "no free status index was drawn"}
	})
	return ref, db.classify(op, err)
}

const statusListSelect = `SELECT issuer, list_id, purpose, size, allocated, bits, version, token, digest, anchored, updated_at
	FROM credential_status_lists WHERE issuer = ? AND list_id = ?`

func scanStatusList(row *sql.Row) (*credential.StatusList, error) {
	var l credential.StatusList
	var version, anchored, updated int64
	if err := row.Scan(&l.Issuer, &l.ListID, &l.Purpose, &l.Size, &l.Allocated, &l.Bits, &version, &l.Token, &l.Digest, &anchored, &updated); err != nil {
		return nil, err
	}
	l.Version, l.Anchored, l.UpdatedAt = uint64(version), uint64(anchored), fromNanos(updated)
	return &l, nil
}

// UpdateStatusList implements credential.Store; on PostgreSQL the list row
// is locked, so two changes of one list never sign the same version.
func (db *DB) UpdateStatusList(ctx context.Context, issuer, listID string, change func(*credential.StatusList) (bool, error)) (*credential.StatusList, error) {
	const op = "store.UpdateStatusList"
	var out *credential.StatusList
	var changeErr error
	err := db.write(ctx, func(tx *gorm.DB) error {
		q := statusListSelect
		if db.dialect == DialectPostgres {
			q += ` FOR UPDATE`
		}
		l, err := scanStatusList(tx.Raw(q, issuer, listID).Row())
		if err != nil {
			return err
		}
		before := l.Version
		changed, err := change(l)
		if err != nil {
			changeErr = err
			return err
		}
		out = l
		if !changed {
			return nil
		}
		if l.Version <= before {
			changeErr = &routing.Error{Kind: routing.KindInternal, Op: op, Message: "a status list change must raise its version"}
			return changeErr
		}
		return tx.Exec(`UPDATE credential_status_lists SET bits = ?, version = ?, token = ?, digest = ?, updated_at = ? WHERE issuer = ? AND list_id = ?`,
			l.Bits, int64(l.Version), l.Token, l.Digest, nanos(l.UpdatedAt), issuer, listID).Error
	})
	if changeErr != nil {
		return nil, changeErr
	}
	return out, db.classify(op, err)
}

// GetStatusList implements credential.Store.
func (db *DB) GetStatusList(ctx context.Context, issuer, listID string) (*credential.StatusList, error) {
	l, err := scanStatusList(db.with(ctx).Raw(statusListSelect, issuer, listID).Row())
	return l, db.classify("store.GetStatusList", err)
}

// MarkStatusAnchored implements credential.Store; the anchored version
// only grows.
func (db *DB) MarkStatusAnchored(ctx context.Context, issuer, listID string, version uint64) error {
	_, err := db.exec(ctx, `UPDATE credential_status_lists SET anchored = ? WHERE issuer = ? AND list_id = ? AND anchored < ?`,
		int64(version), issuer, listID, int64(version))
	return db.classify("store.MarkStatusAnchored", err)
}

// SaveCredential implements credential.Store.
func (db *DB) SaveCredential(ctx context.Context, c credential.IssuedCredential) error {
	refs, err := json.Marshal(c.Status)
	if err != nil {
		return db.classify("store.SaveCredential", err)
	}
	_, err = db.exec(ctx, `INSERT INTO credentials (id, issuer, eid, data_type, version, digest, token, status_refs, issued_at, valid_until, revoked, suspended)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.Issuer, c.EID, c.DataType, int64(c.Version), c.Digest, c.Token, string(refs), nanos(c.IssuedAt), nullNanos(c.ValidUntil), c.Revoked, c.Suspended)
	return db.classify("store.SaveCredential", err)
}

const credentialSelect = `SELECT id, issuer, eid, data_type, version, digest, token, status_refs, issued_at, valid_until, revoked, suspended FROM credentials`

func (db *DB) queryCredentials(ctx context.Context, q string, args ...any) ([]credential.IssuedCredential, error) {
	rows, err := db.with(ctx).Raw(q, args...).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []credential.IssuedCredential{}
	for rows.Next() {
		var (
			c             credential.IssuedCredential
			version       int64
			refs          string
			issued        int64
			until         sql.NullInt64
			revoked, susp bool
		)
		if err := rows.Scan(&c.ID, &c.Issuer, &c.EID, &c.DataType, &version, &c.Digest, &c.Token, &refs, &issued, &until, &revoked, &susp); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(refs), &c.Status); err != nil {
			return nil, err
		}
		c.Version, c.IssuedAt, c.ValidUntil, c.Revoked, c.Suspended = uint64(version), fromNanos(issued), fromNullNanos(until), revoked, susp
		out = append(out, c)
	}
	return out, rows.Err()
}

// GetCredential implements credential.Store.
func (db *DB) GetCredential(ctx context.Context, id string) (*credential.IssuedCredential, error) {
	list, err := db.queryCredentials(ctx, credentialSelect+` WHERE id = ?`, id)
	if err == nil && len(list) == 0 {
		err = sql.ErrNoRows
	}
	if err != nil {
		return nil, db.classify("store.GetCredential", err)
	}
	return &list[0], nil
}

// ListCredentials implements credential.Store: newest first.
func (db *DB) ListCredentials(ctx context.Context, eid string) ([]credential.IssuedCredential, error) {
	list, err := db.queryCredentials(ctx, credentialSelect+` WHERE eid = ? ORDER BY issued_at DESC, id`, eid)
	return list, db.classify("store.ListCredentials", err)
}

// SetCredentialStatus implements credential.Store.
func (db *DB) SetCredentialStatus(ctx context.Context, id string, revoked, suspended bool) error {
	n, err := db.exec(ctx, `UPDATE credentials SET revoked = ?, suspended = ? WHERE id = ?`, revoked, suspended, id)
	if err == nil && n == 0 {
		err = sql.ErrNoRows
	}
	return db.classify("store.SetCredentialStatus", err)
}

// SaveChallenge implements credential.Store.
func (db *DB) SaveChallenge(ctx context.Context, c credential.Challenge) error {
	_, err := db.exec(ctx, `INSERT INTO presentation_challenges (nonce, verifier, audience, purpose, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
		c.Nonce, c.Verifier, c.Audience, c.Purpose, nanos(c.CreatedAt), nanos(c.ExpiresAt))
	return db.classify("store.SaveChallenge", err)
}

// ConsumeChallenge implements credential.Store: one conditional update, so
// two replicas that receive the same presentation cannot both consume it.
func (db *DB) ConsumeChallenge(ctx context.Context, nonce, verifier string, at time.Time) (*credential.Challenge, error) {
	const op = "store.ConsumeChallenge"
	var out *credential.Challenge
	err := db.write(ctx, func(tx *gorm.DB) error {
		r := tx.Exec(`UPDATE presentation_challenges SET used_at = ? WHERE nonce = ? AND verifier = ? AND used_at IS NULL AND expires_at >= ?`,
			nanos(at), nonce, verifier, nanos(at))
		if r.Error != nil {
			return r.Error
		}
		if r.RowsAffected != 1 {
			return (&routing.Error{Kind: routing.KindConflict, Op: op, Message: "the nonce is not an open challenge of this verifier"}).WithCode(credential.CodeChallenge)
		}
		var c credential.Challenge
		var created, expires int64
		if err := tx.Raw(`SELECT nonce, verifier, audience, purpose, created_at, expires_at FROM presentation_challenges WHERE nonce = ?`, nonce).
			Row().Scan(&c.Nonce, &c.Verifier, &c.Audience, &c.Purpose, &created, &expires); err != nil {
			return err
		}
		c.CreatedAt, c.ExpiresAt = fromNanos(created), fromNanos(expires)
		out = &c
		return nil
	})
	return out, db.classify(op, err)
}

// GetHolderKey implements credential.HolderKeyStore.
func (db *DB) GetHolderKey(ctx context.Context, eid string) ([]byte, error) {
	var sealed []byte
	err := db.with(ctx).Raw(`SELECT sealed FROM holder_keys WHERE eid = ?`, eid).Row().Scan(&sealed)
	return sealed, db.classify("store.GetHolderKey", err)
}

// PutHolderKey implements credential.HolderKeyStore: the first key stored
// for a resident wins.
func (db *DB) PutHolderKey(ctx context.Context, eid string, sealed []byte) ([]byte, error) {
	const op = "store.PutHolderKey"
	var stored []byte
	err := db.write(ctx, func(tx *gorm.DB) error {
		if err := tx.Exec(`INSERT INTO holder_keys (eid, sealed, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, eid, sealed, nanos(db.now())).Error; err != nil {
			return err
		}
		return tx.Raw(`SELECT sealed FROM holder_keys WHERE eid = ?`, eid).Row().Scan(&stored)
	})
	return stored, db.classify(op, err)
}
