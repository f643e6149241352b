package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/eidgate/eidgate/accounts"
	"github.com/eidgate/eidgate/routing"
)

var _ accounts.PasskeyStore = (*DB)(nil)

// passkeySchema is the schema step of passkeys: accounts' WebAuthn user
// handles, their credentials (public keys, counters, backup flags), the
// ceremonies in flight, and how each session was opened.
var passkeySchema = []string{
	`CREATE TABLE passkey_users (
		kind       TEXT NOT NULL CHECK (kind IN ('resident', 'admin')),
		subject    TEXT NOT NULL,
		handle     $BLOB$ NOT NULL UNIQUE,
		created_at BIGINT NOT NULL,
		PRIMARY KEY (kind, subject)
	)`,
	`CREATE TABLE passkeys (
		id                 $BLOB$ PRIMARY KEY,
		kind               TEXT NOT NULL CHECK (kind IN ('resident', 'admin')),
		subject            TEXT NOT NULL,
		user_handle        $BLOB$ NOT NULL,
		public_key         $BLOB$ NOT NULL,
		algorithm          BIGINT NOT NULL,
		key_id             TEXT NOT NULL DEFAULT '',
		aaguid             $BLOB$,
		transports         TEXT NOT NULL DEFAULT '',
		attestation_format TEXT NOT NULL DEFAULT '',
		sign_count         BIGINT NOT NULL DEFAULT 0,
		backup_eligible    $BOOL$ NOT NULL DEFAULT $FALSE$,
		backup_state       $BOOL$ NOT NULL DEFAULT $FALSE$,
		name               TEXT NOT NULL DEFAULT '',
		created_at         BIGINT NOT NULL,
		last_used_at       BIGINT,
		revoked_at         BIGINT,
		revoked_reason     TEXT NOT NULL DEFAULT ''
	)`,
	`CREATE INDEX passkeys_subject ON passkeys (kind, subject, created_at)`,
	// A ceremony is found by the challenge the client echoes; it is used
	// once (used_at) and forgotten a while after it expires.
	`CREATE TABLE webauthn_ceremonies (
		challenge  TEXT PRIMARY KEY,
		purpose    TEXT NOT NULL,
		kind       TEXT NOT NULL,
		subject    TEXT NOT NULL DEFAULT '',
		session    TEXT NOT NULL,
		context    TEXT NOT NULL DEFAULT '',
		created_at BIGINT NOT NULL,
		expires_at BIGINT NOT NULL,
		used_at    BIGINT
	)`,
	`CREATE INDEX webauthn_ceremonies_expires ON webauthn_ceremonies (expires_at)`,
	`ALTER TABLE sessions ADD COLUMN auth_method TEXT NOT NULL DEFAULT 'password'`,
}

// ceremonyRetention is how long a ceremony is kept after it expired, so a
// late replay is still told it was used rather than unknown.
const ceremonyRetention = time.Hour

// EnsurePasskeyUser returns the account's user handle, creating it with
// u.Handle when there is none (two requests at once agree on one).
func (db *DB) EnsurePasskeyUser(ctx context.Context, u accounts.PasskeyUser) (*accounts.PasskeyUser, error) {
	const op = "store.EnsurePasskeyUser"
	var out *accounts.PasskeyUser
	err := db.write(ctx, func(tx *gorm.DB) error {
		if err := tx.Exec(`INSERT INTO passkey_users (kind, subject, handle, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (kind, subject) DO NOTHING`, u.Kind, u.Subject, u.Handle, nanos(u.CreatedAt)).Error; err != nil {
			return err
		}
		var err error
		out, err = scanPasskeyUser(tx.Raw(`SELECT kind, subject, handle, created_at FROM passkey_users WHERE kind = ? AND subject = ?`,
			u.Kind, u.Subject).Row())
		return err
	})
	if err != nil {
		return nil, db.classify(op, err)
	}
	return out, nil
}

func scanPasskeyUser(row *sql.Row) (*accounts.PasskeyUser, error) {
	var (
		u       accounts.PasskeyUser
		created int64
	)
	if err := row.Scan(&u.Kind, &u.Subject, &u.Handle, &created); err != nil {
		return nil, err
	}
	u.CreatedAt = fromNanos(created)
	return &u, nil
}

// PasskeyUserByHandle finds the account of a user handle.
func (db *DB) PasskeyUserByHandle(ctx context.Context, handle []byte) (*accounts.PasskeyUser, error) {
	const op = "store.PasskeyUserByHandle"
	u, err := scanPasskeyUser(db.with(ctx).Raw(`SELECT kind, subject, handle, created_at FROM passkey_users WHERE handle = ?`, handle).Row())
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound(op, "passkey user")
	}
	if err != nil {
		return nil, db.classify(op, err)
	}
	return u, nil
}

// AddPasskey stores a new passkey; a known credential id is passkey_exists.
func (db *DB) AddPasskey(ctx context.Context, p accounts.Passkey) error {
	const op = "store.AddPasskey"
	// The first value is not a byte slice: gorm expands a slice that
	// follows an opening parenthesis (for IN lists).
	_, err := db.exec(ctx, `INSERT INTO passkeys (kind, id, subject, user_handle, public_key, algorithm, key_id, aaguid,
			transports, attestation_format, sign_count, backup_eligible, backup_state, name, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.Kind, p.ID, p.Subject, p.UserHandle, p.PublicKey, p.Algorithm, p.KeyID, p.AAGUID,
		strings.Join(p.Transports, ","), p.AttestationFormat, int64(p.SignCount), p.BackupEligible, p.BackupState,
		p.Name, nanos(p.CreatedAt))
	if isUniqueViolation(err) {
		return &routing.Error{Kind: routing.KindConflict, Code: accounts.CodePasskeyExists, Op: op, Message: "this passkey is registered already"}
	}
	return db.classify(op, err)
}

const passkeySelect = `SELECT id, kind, subject, user_handle, public_key, algorithm, key_id, aaguid, transports,
	attestation_format, sign_count, backup_eligible, backup_state, name, created_at, last_used_at, revoked_at, revoked_reason
	FROM passkeys`

func (db *DB) queryPasskeys(ctx context.Context, q string, args ...any) ([]accounts.Passkey, error) {
	return queryPasskeysOn(db.with(ctx), q, args...)
}

func queryPasskeysOn(g *gorm.DB, q string, args ...any) ([]accounts.Passkey, error) {
	rows, err := g.Raw(q, args...).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []accounts.Passkey
	for rows.Next() {
		var (
			p             accounts.Passkey
			transports    string
			count         int64
			created       int64
			used, revoked sql.NullInt64
		)
		if err := rows.Scan(&p.ID, &p.Kind, &p.Subject, &p.UserHandle, &p.PublicKey, &p.Algorithm, &p.KeyID, &p.AAGUID,
			&transports, &p.AttestationFormat, &count, &p.BackupEligible, &p.BackupState, &p.Name, &created, &used,
			&revoked, &p.RevokedReason); err != nil {
			return nil, err
		}
		if transports != "" {
			p.Transports = strings.Split(transports, ",")
		}
		p.SignCount = uint32(count)
		p.CreatedAt, p.LastUsedAt, p.RevokedAt = fromNanos(created), fromNullNanos(used), fromNullNanos(revoked)
		out = append(out, p)
	}
	return out, rows.Err()
}

// GetPasskey returns the passkey with a credential id.
func (db *DB) GetPasskey(ctx context.Context, id []byte) (*accounts.Passkey, error) {
	const op = "store.GetPasskey"
	ps, err := db.queryPasskeys(ctx, passkeySelect+` WHERE id = ?`, id)
	if err != nil {
		return nil, db.classify(op, err)
	}
	if len(ps) == 0 {
		return nil, notFound(op, "passkey")
	}
	return &ps[0], nil
}

// ListPasskeys returns an account's passkeys, oldest first.
func (db *DB) ListPasskeys(ctx context.Context, kind, subject string) ([]accounts.Passkey, error) {
	ps, err := db.queryPasskeys(ctx, passkeySelect+` WHERE kind = ? AND subject = ? ORDER BY created_at, id`, kind, subject)
	if err != nil {
		return nil, db.classify("store.ListPasskeys", err)
	}
	return ps, nil
}

// RecordPasskeyUse stores a use's counter and backup state provided the
// stored counter is still prev and the key is not revoked: of two uses
// that raced, one wins.
func (db *DB) RecordPasskeyUse(ctx context.Context, id []byte, prev, next uint32, backupState bool, at time.Time) (bool, error) {
	n, err := db.exec(ctx, `UPDATE passkeys SET sign_count = ?, backup_state = ?, last_used_at = ?
		WHERE id = ? AND sign_count = ? AND revoked_at IS NULL`, int64(next), backupState, nanos(at), id, int64(prev))
	if err != nil {
		return false, db.classify("store.RecordPasskeyUse", err)
	}
	return n == 1, nil
}

// RevokePasskeys revokes the listed (or all) active passkeys of an account
// and returns them.
func (db *DB) RevokePasskeys(ctx context.Context, kind, subject string, ids [][]byte, reason string, at time.Time) ([]accounts.Passkey, error) {
	const op = "store.RevokePasskeys"
	var out []accounts.Passkey
	err := db.write(ctx, func(tx *gorm.DB) error {
		active, err := queryPasskeysOn(tx, passkeySelect+` WHERE kind = ? AND subject = ? AND revoked_at IS NULL ORDER BY created_at, id`, kind, subject)
		if err != nil {
			return err
		}
		for _, p := range active {
			if len(ids) > 0 && !containsBytes(ids, p.ID) {
				continue
			}
			if err := tx.Exec(`UPDATE passkeys SET revoked_at = ?, revoked_reason = ? WHERE id = ? AND revoked_at IS NULL`,
				nanos(at), reason, p.ID).Error; err != nil {
				return err
			}
			p.RevokedAt, p.RevokedReason = at, reason
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		return nil, db.classify(op, err)
	}
	return out, nil
}

func containsBytes(list [][]byte, b []byte) bool {
	for _, x := range list {
		if string(x) == string(b) {
			return true
		}
	}
	return false
}

// HasPassword reports whether the account has a password to sign in with.
func (db *DB) HasPassword(ctx context.Context, kind, subject string) (bool, error) {
	const op = "store.HasPassword"
	q := `SELECT password_hash FROM residents WHERE eid = ?`
	if kind == accounts.KindAdmin {
		q = `SELECT password_hash FROM admins WHERE username = ?`
	}
	var h string
	err := db.with(ctx).Raw(q, subject).Row().Scan(&h)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, db.classify(op, err)
	}
	return h != "", nil
}

// PutCeremony stores a ceremony and forgets ceremonies that expired more
// than ceremonyRetention ago.
func (db *DB) PutCeremony(ctx context.Context, c accounts.Ceremony) error {
	err := db.write(ctx, func(tx *gorm.DB) error {
		if err := tx.Exec(`DELETE FROM webauthn_ceremonies WHERE expires_at < ?`, nanos(c.CreatedAt.Add(-ceremonyRetention))).Error; err != nil {
			return err
		}
		return tx.Exec(`INSERT INTO webauthn_ceremonies (challenge, purpose, kind, subject, session, context, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, c.Challenge, c.Purpose, c.Kind, c.Subject, string(c.Session), c.Context,
			nanos(c.CreatedAt), nanos(c.ExpiresAt)).Error
	})
	return db.classify("store.PutCeremony", err)
}

// ConsumeCeremony uses up an unused, unexpired ceremony in one statement
// (two replicas answering the same challenge cannot both succeed).
func (db *DB) ConsumeCeremony(ctx context.Context, challenge string, at time.Time) (*accounts.Ceremony, bool, error) {
	const op = "store.ConsumeCeremony"
	var (
		c     *accounts.Ceremony
		fresh bool
	)
	err := db.write(ctx, func(tx *gorm.DB) error {
		r := tx.Exec(`UPDATE webauthn_ceremonies SET used_at = ? WHERE challenge = ? AND used_at IS NULL AND expires_at > ?`,
			nanos(at), challenge, nanos(at))
		if r.Error != nil {
			return r.Error
		}
		fresh = r.RowsAffected == 1
		var err error
		c, err = scanCeremony(tx.Raw(`SELECT challenge, purpose, kind, subject, session, context, created_at, expires_at, used_at
			FROM webauthn_ceremonies WHERE challenge = ?`, challenge).Row())
		if errors.Is(err, sql.ErrNoRows) {
			c, err = nil, nil
		}
		return err
	})
	if err != nil {
		return nil, false, db.classify(op, err)
	}
	if c != nil && fresh {
		c.UsedAt = time.Time{} // what it was before this use
	}
	return c, fresh, nil
}

func scanCeremony(row *sql.Row) (*accounts.Ceremony, error) {
	var (
		c                accounts.Ceremony
		session          string
		created, expires int64
		used             sql.NullInt64
	)
	if err := row.Scan(&c.Challenge, &c.Purpose, &c.Kind, &c.Subject, &session, &c.Context, &created, &expires, &used); err != nil {
		return nil, err
	}
	c.Session = []byte(session)
	c.CreatedAt, c.ExpiresAt, c.UsedAt = fromNanos(created), fromNanos(expires), fromNullNanos(used)
	return &c, nil
}
