package store

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/eidgate/eidgate/accounts"
	"github.com/eidgate/eidgate/routing"
)

var (
	_ accounts.ResidentStore     = (*DB)(nil)
	_ accounts.LoginAttemptStore = (*DB)(nil)
	_ accounts.AdminStore        = (*DB)(nil)
	_ accounts.APIKeyStore       = (*DB)(nil)
	_ accounts.SessionStore      = (*DB)(nil)
)

// ---- residents and activation codes

// PutActivationCode stores c as the resident's only activation code and
// creates the resident's account row when missing.
func (db *DB) PutActivationCode(ctx context.Context, c accounts.ActivationCode) error {
	err := db.write(ctx, func(tx *gorm.DB) error {
		if err := residentCodes.put(tx, c.EID, c.CodeHash, c.CreatedAt, c.ExpiresAt); err != nil {
			return err
		}
		return tx.Exec(`INSERT INTO residents (eid, created_at, updated_at) VALUES (?, ?, ?) ON CONFLICT (eid) DO NOTHING`,
			c.EID, nanos(c.CreatedAt), nanos(c.CreatedAt)).Error
	})
	return db.classify("store.PutActivationCode", err)
}

// GetActivationCode returns the resident's current activation code.
func (db *DB) GetActivationCode(ctx context.Context, eid string) (*accounts.ActivationCode, error) {
	r, err := db.getCode(ctx, "store.GetActivationCode", residentCodes, eid)
	if err != nil {
		return nil, err
	}
	return &accounts.ActivationCode{EID: r.key, CodeHash: r.hash, CreatedAt: r.created, ExpiresAt: r.expires, UsedAt: r.used, FailedAttempts: r.failed}, nil
}

// RecordActivationFailure counts a wrong code against the stored code with
// hash codeHash and returns the new count (0 when it was replaced).
func (db *DB) RecordActivationFailure(ctx context.Context, eid, codeHash string) (int, error) {
	return db.recordCodeFailure(ctx, "store.RecordActivationFailure", residentCodes, eid, codeHash)
}

// ConsumeActivationCode marks the code used and sets the password in one
// transaction; false when the code is used, replaced or expired.
func (db *DB) ConsumeActivationCode(ctx context.Context, eid, codeHash, passwordHash string, at time.Time) (bool, error) {
	consumed := false
	err := db.write(ctx, func(tx *gorm.DB) error {
		if used, err := residentCodes.use(tx, eid, codeHash, at); !used || err != nil {
			return err
		}
		if err := tx.Exec(`INSERT INTO residents (eid, password_hash, activated_at, password_changed_at, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (eid) DO UPDATE SET password_hash = excluded.password_hash,
				activated_at = COALESCE(residents.activated_at, excluded.activated_at),
				password_changed_at = excluded.password_changed_at, updated_at = excluded.updated_at`,
			eid, passwordHash, nanos(at), nanos(at), nanos(at), nanos(at)).Error; err != nil {
			return err
		}
		consumed = true
		return nil
	})
	if err != nil {
		return false, db.classify("store.ConsumeActivationCode", err)
	}
	return consumed, nil
}

// GetResident returns a resident's account.
func (db *DB) GetResident(ctx context.Context, eid string) (*accounts.ResidentAccount, error) {
	const op = "store.GetResident"
	var (
		a                accounts.ResidentAccount
		activated        sql.NullInt64
		created, updated int64
	)
	err := db.with(ctx).Raw(`SELECT eid, password_hash, lang, time_zone, activated_at, created_at, updated_at
		FROM residents WHERE eid = ?`, eid).Row().Scan(&a.EID, &a.PasswordHash, &a.Lang, &a.TimeZone, &activated, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound(op, "resident account")
	}
	if err != nil {
		return nil, db.classify(op, err)
	}
	a.ActivatedAt, a.CreatedAt, a.UpdatedAt = fromNullNanos(activated), fromNanos(created), fromNanos(updated)
	return &a, nil
}

// SetResidentPassword replaces an activated resident's password hash.
func (db *DB) SetResidentPassword(ctx context.Context, eid, passwordHash string, at time.Time) error {
	return db.updateOne(ctx, "store.SetResidentPassword", "resident account",
		`UPDATE residents SET password_hash = ?, password_changed_at = ?, updated_at = ? WHERE eid = ?`,
		passwordHash, nanos(at), nanos(at), eid)
}

// SetResidentLang stores a resident's portal language.
func (db *DB) SetResidentLang(ctx context.Context, eid, lang string, at time.Time) error {
	return db.updateOne(ctx, "store.SetResidentLang", "resident account",
		`UPDATE residents SET lang = ?, updated_at = ? WHERE eid = ?`, lang, nanos(at), eid)
}

// SetResidentTimeZone stores the time zone (an IANA name, "" for the
// default) a resident's portal shows times in.
func (db *DB) SetResidentTimeZone(ctx context.Context, eid, zone string, at time.Time) error {
	return db.updateOne(ctx, "store.SetResidentTimeZone", "resident account",
		`UPDATE residents SET time_zone = ?, updated_at = ? WHERE eid = ?`, zone, nanos(at), eid)
}

// updateOne runs an UPDATE that must find its row.
func (db *DB) updateOne(ctx context.Context, op, what, query string, args ...any) error {
	n, err := db.exec(ctx, query, args...)
	if err != nil {
		return db.classify(op, err)
	}
	if n == 0 {
		return notFound(op, what)
	}
	return nil
}

// ---- login attempts

// LoginState returns the failure count and lock of a login name.
func (db *DB) LoginState(ctx context.Context, kind, subject string) (accounts.LoginState, error) {
	var (
		st     accounts.LoginState
		locked int64
	)
	err := db.with(ctx).Raw(`SELECT failures, locked_until FROM login_attempts WHERE kind = ? AND subject = ?`,
		kind, subject).Row().Scan(&st.Failures, &locked)
	if errors.Is(err, sql.ErrNoRows) {
		return accounts.LoginState{}, nil
	}
	if err != nil {
		return st, db.classify("store.LoginState", err)
	}
	st.LockedUntil = fromNanos(locked)
	return st, nil
}

// ResetLoginFailures forgets a name's failures and lock.
func (db *DB) ResetLoginFailures(ctx context.Context, kind, subject string) error {
	_, err := db.exec(ctx, `DELETE FROM login_attempts WHERE kind = ? AND subject = ?`, kind, subject)
	return db.classify("store.ResetLoginFailures", err)
}

// PurgeLoginAttempts deletes failure counts untouched since before and no
// longer locking anything; it keeps the table from growing with names that
// were tried once.
func (db *DB) PurgeLoginAttempts(ctx context.Context, before time.Time) (int64, error) {
	n, err := db.exec(ctx, `DELETE FROM login_attempts WHERE updated_at < ? AND locked_until < ?`, nanos(before), nanos(before))
	return n, db.classify("store.PurgeLoginAttempts", err)
}

// ---- administrators

// CreateAdmin adds an administrator; a taken name is a conflict
// (admin_exists).
func (db *DB) CreateAdmin(ctx context.Context, a accounts.AdminAccount) error {
	const op = "store.CreateAdmin"
	_, err := db.exec(ctx, `INSERT INTO admins (username, password_hash, role, disabled, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?)`, a.Username, a.PasswordHash, a.Role, a.Disabled, nanos(a.CreatedAt), nanos(a.UpdatedAt))
	if isUniqueViolation(err) {
		return &routing.Error{Kind: routing.KindConflict, Code: accounts.CodeAdminExists, Op: op, Message: "an administrator with this user name exists"}
	}
	return db.classify(op, err)
}

func (db *DB) queryAdmins(ctx context.Context, q string, args ...any) ([]accounts.AdminAccount, error) {
	rows, err := db.with(ctx).Raw(q, args...).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []accounts.AdminAccount
	for rows.Next() {
		var (
			a                accounts.AdminAccount
			created, updated int64
		)
		if err := rows.Scan(&a.Username, &a.PasswordHash, &a.Role, &a.Disabled, &created, &updated); err != nil {
			return nil, err
		}
		a.CreatedAt, a.UpdatedAt = fromNanos(created), fromNanos(updated)
		out = append(out, a)
	}
	return out, rows.Err()
}

const adminSelect = `SELECT username, password_hash, role, disabled, created_at, updated_at FROM admins`

// GetAdmin returns one administrator.
func (db *DB) GetAdmin(ctx context.Context, username string) (*accounts.AdminAccount, error) {
	const op = "store.GetAdmin"
	as, err := db.queryAdmins(ctx, adminSelect+` WHERE username = ?`, username)
	if err != nil {
		return nil, db.classify(op, err)
	}
	if len(as) == 0 {
		return nil, notFound(op, "administrator")
	}
	return &as[0], nil
}

// ListAdmins returns every administrator by user name.
func (db *DB) ListAdmins(ctx context.Context) ([]accounts.AdminAccount, error) {
	as, err := db.queryAdmins(ctx, adminSelect+` ORDER BY username`)
	if err != nil {
		return nil, db.classify("store.ListAdmins", err)
	}
	return as, nil
}

// SetAdminRole changes an administrator's role; demoting the last enabled
// administrator with the admin role is refused (last_admin).
func (db *DB) SetAdminRole(ctx context.Context, username, role string, at time.Time) error {
	return db.changeAdmin(ctx, "store.SetAdminRole", username, role != accounts.RoleAdmin,
		`UPDATE admins SET role = ?, updated_at = ? WHERE username = ?`, role, nanos(at), username)
}

// SetAdminDisabled disables or enables an administrator; disabling the
// last enabled administrator with the admin role is refused (last_admin).
func (db *DB) SetAdminDisabled(ctx context.Context, username string, disabled bool, at time.Time) error {
	return db.changeAdmin(ctx, "store.SetAdminDisabled", username, disabled,
		`UPDATE admins SET disabled = ?, updated_at = ? WHERE username = ?`, disabled, nanos(at), username)
}

// changeAdmin runs one update of an administrator in a transaction that
// first locks the enabled administrators with the admin role (PostgreSQL:
// FOR UPDATE; SQLite: the write transaction), so that when the change
// takes that away from username (removes) no two concurrent changes can
// leave nobody: the second sees the first's result.
func (db *DB) changeAdmin(ctx context.Context, op, username string, removes bool, query string, args ...any) error {
	err := db.write(ctx, func(tx *gorm.DB) error {
		q := `SELECT username FROM admins WHERE role = 'admin' AND disabled = ? ORDER BY username`
		if db.dialect == DialectPostgres {
			q += ` FOR UPDATE`
		}
		var active []string
		if err := tx.Raw(q, false).Scan(&active).Error; err != nil {
			return err
		}
		if removes && len(active) == 1 && active[0] == username {
			return &routing.Error{Kind: routing.KindConflict, Code: accounts.CodeLastAdmin, Op: op,
				Message: "this is the last enabled administrator; make another one administrator first"}
		}
		r := tx.Exec(query, args...)
		if r.Error != nil {
			return r.Error
		}
		if r.RowsAffected == 0 {
			return notFound(op, "administrator")
		}
		return nil
	})
	return db.classify(op, err)
}

// ResetAdmin removes an administrator's password and stores their new
// activation code, in one transaction.
func (db *DB) ResetAdmin(ctx context.Context, c accounts.AdminActivation) error {
	const op = "store.ResetAdmin"
	err := db.write(ctx, func(tx *gorm.DB) error {
		r := tx.Exec(`UPDATE admins SET password_hash = '', updated_at = ? WHERE username = ?`, nanos(c.CreatedAt), c.Username)
		if r.Error != nil {
			return r.Error
		}
		if r.RowsAffected == 0 {
			return notFound(op, "administrator")
		}
		return adminCodes.put(tx, c.Username, c.CodeHash, c.CreatedAt, c.ExpiresAt)
	})
	return db.classify(op, err)
}

// GetAdminActivation returns an administrator's current activation code.
func (db *DB) GetAdminActivation(ctx context.Context, username string) (*accounts.AdminActivation, error) {
	r, err := db.getCode(ctx, "store.GetAdminActivation", adminCodes, username)
	if err != nil {
		return nil, err
	}
	return &accounts.AdminActivation{Username: r.key, CodeHash: r.hash, CreatedAt: r.created, ExpiresAt: r.expires, UsedAt: r.used, FailedAttempts: r.failed}, nil
}

// RecordAdminActivationFailure counts a wrong code against the code with
// hash codeHash; 0 when it was replaced.
func (db *DB) RecordAdminActivationFailure(ctx context.Context, username, codeHash string) (int, error) {
	return db.recordCodeFailure(ctx, "store.RecordAdminActivationFailure", adminCodes, username, codeHash)
}

// ConsumeAdminActivation marks the code used and sets the password in one
// transaction; false when the code is used, replaced or expired.
func (db *DB) ConsumeAdminActivation(ctx context.Context, username, codeHash, passwordHash string, at time.Time) (bool, error) {
	consumed := false
	err := db.write(ctx, func(tx *gorm.DB) error {
		if used, err := adminCodes.use(tx, username, codeHash, at); !used || err != nil {
			return err
		}
		if err := tx.Exec(`UPDATE admins SET password_hash = ?, updated_at = ? WHERE username = ?`,
			passwordHash, nanos(at), username).Error; err != nil {
			return err
		}
		consumed = true
		return nil
	})
	if err != nil {
		return false, db.classify("store.ConsumeAdminActivation", err)
	}
	return consumed, nil
}

// SetAdminPassword replaces an administrator's password hash.
func (db *DB) SetAdminPassword(ctx context.Context, username, passwordHash string, at time.Time) error {
	return db.updateOne(ctx, "store.SetAdminPassword", "administrator",
		`UPDATE admins SET password_hash = ?, updated_at = ? WHERE username = ?`, passwordHash, nanos(at), username)
}

// ---- API keys

// CreateAPIKey stores a key with the SHA-256 of its secret.
func (db *DB) CreateAPIKey(ctx context.Context, k accounts.APIKey, secretSHA256 string) error {
	const op = "store.CreateAPIKey"
	_, err := db.exec(ctx, `INSERT INTO api_keys (id, department, name, secret_sha256, created_at) VALUES (?, ?, ?, ?, ?)`,
		k.ID, k.Department, k.Name, secretSHA256, nanos(k.CreatedAt))
	if isUniqueViolation(err) {
		return &routing.Error{Kind: routing.KindConflict, Code: "api_key_exists", Op: op, Message: "an API key with this id exists; issue again"}
	}
	return db.classify(op, err)
}

const apiKeySelect = `SELECT id, department, name, secret_sha256, created_at, revoked_at, last_used_at FROM api_keys`

func (db *DB) queryAPIKeys(ctx context.Context, q string, args ...any) ([]accounts.APIKey, []string, error) {
	rows, err := db.with(ctx).Raw(q, args...).Rows()
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var (
		keys    []accounts.APIKey
		digests []string
	)
	for rows.Next() {
		var (
			k             accounts.APIKey
			digest        string
			created       int64
			revoked, used sql.NullInt64
		)
		if err := rows.Scan(&k.ID, &k.Department, &k.Name, &digest, &created, &revoked, &used); err != nil {
			return nil, nil, err
		}
		k.CreatedAt, k.RevokedAt, k.LastUsedAt = fromNanos(created), fromNullNanos(revoked), fromNullNanos(used)
		keys = append(keys, k)
		digests = append(digests, digest)
	}
	return keys, digests, rows.Err()
}

// API key rows read for authentication are kept for apiKeyCacheTTL: every
// department request authenticates, and the lookup was a fifth of a
// resolve's CPU time. The secret is still checked on every request against
// the kept digest. A revocation through this database drops the row at
// once; one made through another replica takes effect here within the TTL,
// the bound docs/architecture.md (Caches and replicas) sets for consent
// revocations.
const (
	apiKeyCacheTTL = time.Second
	apiKeyCacheMax = 1024
)

type apiKeyCache struct {
	mu sync.Mutex
	m  map[string]cachedAPIKey
}

type cachedAPIKey struct {
	key    accounts.APIKey
	digest string
	at     time.Time
}

func (c *apiKeyCache) get(id string, now time.Time) (*accounts.APIKey, string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[id]
	if !ok || now.Sub(e.at) >= apiKeyCacheTTL || now.Before(e.at) {
		return nil, "", false
	}
	k := e.key
	return &k, e.digest, true
}

func (c *apiKeyCache) put(k accounts.APIKey, digest string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= apiKeyCacheMax {
		c.m = make(map[string]cachedAPIKey)
	}
	c.m[k.ID] = cachedAPIKey{key: k, digest: digest, at: now}
}

func (c *apiKeyCache) drop(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
}

// GetAPIKey returns a key and the hex SHA-256 of its secret.
func (db *DB) GetAPIKey(ctx context.Context, id string) (*accounts.APIKey, string, error) {
	const op = "store.GetAPIKey"
	now := db.now()
	if k, digest, ok := db.apiKeys.get(id, now); ok {
		return k, digest, nil
	}
	keys, digests, err := db.queryAPIKeys(ctx, apiKeySelect+` WHERE id = ?`, id)
	if err != nil {
		return nil, "", db.classify(op, err)
	}
	if len(keys) == 0 {
		return nil, "", notFound(op, "API key")
	}
	db.apiKeys.put(keys[0], digests[0], now)
	return &keys[0], digests[0], nil
}

// ListAPIKeys lists a department's keys, newest first.
func (db *DB) ListAPIKeys(ctx context.Context, department string) ([]accounts.APIKey, error) {
	keys, _, err := db.queryAPIKeys(ctx, apiKeySelect+` WHERE department = ? ORDER BY created_at DESC, id`, department)
	if err != nil {
		return nil, db.classify("store.ListAPIKeys", err)
	}
	return keys, nil
}

// ListAllAPIKeys lists every department's keys, by department and newest
// first, without secrets (for the operator's `eidgate admin keys list`).
func (db *DB) ListAllAPIKeys(ctx context.Context) ([]accounts.APIKey, error) {
	keys, _, err := db.queryAPIKeys(ctx, apiKeySelect+` ORDER BY department, created_at DESC, id`)
	if err != nil {
		return nil, db.classify("store.ListAllAPIKeys", err)
	}
	return keys, nil
}

// RevokeAPIKey revokes a key, keeping the first revocation time.
func (db *DB) RevokeAPIKey(ctx context.Context, id string, at time.Time) error {
	defer db.apiKeys.drop(id)
	return db.updateOne(ctx, "store.RevokeAPIKey", "API key",
		`UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`, nanos(at), id)
}

// TouchAPIKey sets the last-used time unless it was set within minGap.
func (db *DB) TouchAPIKey(ctx context.Context, id string, at time.Time, minGap time.Duration) error {
	defer db.apiKeys.drop(id) // the kept row would show the old last use
	_, err := db.exec(ctx, `UPDATE api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at <= ?)`,
		nanos(at), id, nanos(at.Add(-minGap)))
	return db.classify("store.TouchAPIKey", err)
}

// ---- sessions

// CreateSession stores a session.
func (db *DB) CreateSession(ctx context.Context, s accounts.SessionRecord) error {
	method := s.AuthMethod
	if method == "" {
		method = accounts.AuthPassword
	}
	_, err := db.exec(ctx, `INSERT INTO sessions (token_sha256, kind, subject, role, lang, auth_method, created_at, last_seen_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, s.TokenHash, s.Kind, s.Subject, s.Role, s.Lang, method,
		nanos(s.CreatedAt), nanos(s.LastSeenAt), nanos(s.ExpiresAt))
	return db.classify("store.CreateSession", err)
}

// GetSession returns the session with token hash h.
func (db *DB) GetSession(ctx context.Context, h string) (*accounts.SessionRecord, error) {
	const op = "store.GetSession"
	var (
		s                      accounts.SessionRecord
		created, seen, expires int64
	)
	err := db.with(ctx).Raw(`SELECT token_sha256, kind, subject, role, lang, auth_method, created_at, last_seen_at, expires_at
		FROM sessions WHERE token_sha256 = ?`, h).Row().Scan(&s.TokenHash, &s.Kind, &s.Subject, &s.Role, &s.Lang, &s.AuthMethod,
		&created, &seen, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound(op, "session")
	}
	if err != nil {
		return nil, db.classify(op, err)
	}
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt = fromNanos(created), fromNanos(seen), fromNanos(expires)
	return &s, nil
}

// TouchSession moves a session's last-seen time forward.
func (db *DB) TouchSession(ctx context.Context, h string, at time.Time) error {
	_, err := db.exec(ctx, `UPDATE sessions SET last_seen_at = ? WHERE token_sha256 = ? AND last_seen_at < ?`, nanos(at), h, nanos(at))
	return db.classify("store.TouchSession", err)
}

// DeleteSession deletes one session (none is not an error).
func (db *DB) DeleteSession(ctx context.Context, h string) error {
	_, err := db.exec(ctx, `DELETE FROM sessions WHERE token_sha256 = ?`, h)
	return db.classify("store.DeleteSession", err)
}

// DeleteSessionsFor deletes every session of subject.
func (db *DB) DeleteSessionsFor(ctx context.Context, subject string) (int64, error) {
	n, err := db.exec(ctx, `DELETE FROM sessions WHERE subject = ?`, subject)
	return n, db.classify("store.DeleteSessionsFor", err)
}

// DeleteExpiredSessions deletes sessions past their absolute expiry or
// idle for idle.
func (db *DB) DeleteExpiredSessions(ctx context.Context, now time.Time, idle time.Duration) (int64, error) {
	n, err := db.exec(ctx, `DELETE FROM sessions WHERE expires_at <= ? OR last_seen_at <= ?`, nanos(now), nanos(now.Add(-idle)))
	return n, db.classify("store.DeleteExpiredSessions", err)
}

// RecordLoginDelay counts a failure of a login name at at and sets the
// wait d asks for after that many failures in a row, in one transaction:
// the upsert counts (forgetting failures older than d.Window), the update
// only ever moves the wait later.
func (db *DB) RecordLoginDelay(ctx context.Context, kind, subject string, at time.Time, d accounts.Delays) (accounts.LoginState, error) {
	const op = "store.RecordLoginDelay"
	var (
		st     accounts.LoginState
		locked int64
	)
	err := db.write(ctx, func(tx *gorm.DB) error {
		err := tx.Raw(`INSERT INTO login_attempts (kind, subject, failures, locked_until, updated_at) VALUES (?, ?, 1, 0, ?)
			ON CONFLICT (kind, subject) DO UPDATE SET
				failures = CASE WHEN login_attempts.updated_at < ? THEN 1 ELSE login_attempts.failures + 1 END,
				updated_at = excluded.updated_at
			RETURNING failures, locked_until`,
			kind, subject, nanos(at), nanos(at.Add(-d.Window))).Row().Scan(&st.Failures, &locked)
		if err != nil {
			return err
		}
		if wait := d.After(st.Failures); wait > 0 && nanos(at.Add(wait)) > locked {
			locked = nanos(at.Add(wait))
			return tx.Exec(`UPDATE login_attempts SET locked_until = ? WHERE kind = ? AND subject = ?`, locked, kind, subject).Error
		}
		return nil
	})
	if err != nil {
		return st, db.classify(op, err)
	}
	st.LockedUntil = fromNanos(locked)
	return st, nil
}

// ---- activation codes: residents' and staff's live in two tables of one
// shape, keyed by eID or by username.

type codeTable struct{ table, key string }

var (
	residentCodes = codeTable{table: "activation_codes", key: "eid"}
	adminCodes    = codeTable{table: "admin_activation_codes", key: "username"}
)

// codeRow is one activation code as stored.
type codeRow struct {
	key, hash              string
	created, expires, used time.Time
	failed                 int
}

// put stores the only code of key, replacing any earlier one.
func (ct codeTable) put(tx *gorm.DB, key, codeHash string, created, expires time.Time) error {
	return tx.Exec(`INSERT INTO `+ct.table+` (`+ct.key+`, code_hash, created_at, expires_at, used_at, failed_attempts)
		VALUES (?, ?, ?, ?, NULL, 0)
		ON CONFLICT (`+ct.key+`) DO UPDATE SET code_hash = excluded.code_hash, created_at = excluded.created_at,
			expires_at = excluded.expires_at, used_at = NULL, failed_attempts = 0`,
		key, codeHash, nanos(created), nanos(expires)).Error
}

// use marks the code with hash codeHash used at at; false when it is used,
// replaced or expired.
func (ct codeTable) use(tx *gorm.DB, key, codeHash string, at time.Time) (bool, error) {
	r := tx.Exec(`UPDATE `+ct.table+` SET used_at = ?
		WHERE `+ct.key+` = ? AND code_hash = ? AND used_at IS NULL AND expires_at > ?`, nanos(at), key, codeHash, nanos(at))
	return r.Error == nil && r.RowsAffected > 0, r.Error
}

func (db *DB) getCode(ctx context.Context, op string, ct codeTable, key string) (*codeRow, error) {
	var (
		r                codeRow
		created, expires int64
		used             sql.NullInt64
	)
	err := db.with(ctx).Raw(`SELECT `+ct.key+`, code_hash, created_at, expires_at, used_at, failed_attempts
		FROM `+ct.table+` WHERE `+ct.key+` = ?`, key).Row().Scan(&r.key, &r.hash, &created, &expires, &used, &r.failed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound(op, "activation code")
	}
	if err != nil {
		return nil, db.classify(op, err)
	}
	r.created, r.expires, r.used = fromNanos(created), fromNanos(expires), fromNullNanos(used)
	return &r, nil
}

// recordCodeFailure counts a wrong code against the code with hash
// codeHash and returns the new count (0 when it was replaced).
func (db *DB) recordCodeFailure(ctx context.Context, op string, ct codeTable, key, codeHash string) (int, error) {
	var n int
	err := db.write(ctx, func(tx *gorm.DB) error {
		err := tx.Raw(`UPDATE `+ct.table+` SET failed_attempts = failed_attempts + 1
			WHERE `+ct.key+` = ? AND code_hash = ? RETURNING failed_attempts`, key, codeHash).Row().Scan(&n)
		if errors.Is(err, sql.ErrNoRows) {
			n = 0
			return nil
		}
		return err
	})
	if err != nil {
		return 0, db.classify(op, err)
	}
	return n, nil
}
