package store

import (
	"context"
	"fmt"
	"strings"

	"gorm.io/gorm"

	"github.com/eidgate/eidgate/routing"
)

// A migration is one versioned schema step. Steps are append-only: a
// released step is never edited, a change is a new step. The SQL is written
// once with four dialect macros:
//
//	$ID$     auto-assigned 64-bit primary key (PostgreSQL identity, SQLite rowid alias)
//	$BLOB$   byte string (BYTEA, BLOB)
//	$BOOL$   boolean (BOOLEAN, INTEGER 0/1)
//	$FALSE$  false literal
type migration struct {
	version int
	name    string
	stmts   []string
}

var migrations = []migration{
	{1, "access records, consent usage, anchor batches, leases, checkpoints", []string{
		`CREATE TABLE anchor_batches (
			id               TEXT PRIMARY KEY,
			first_seq        BIGINT NOT NULL,
			last_seq         BIGINT NOT NULL,
			record_count     INTEGER NOT NULL,
			merkle_root      TEXT NOT NULL,
			consent_uses     TEXT NOT NULL DEFAULT '[]',
			status           TEXT NOT NULL CHECK (status IN ('pending', 'anchored')),
			tx_id            TEXT NOT NULL DEFAULT '',
			block_number     BIGINT NOT NULL DEFAULT 0,
			oldest_record_at BIGINT NOT NULL,
			created_at       BIGINT NOT NULL,
			anchored_at      BIGINT
		)`,
		`CREATE INDEX anchor_batches_pending ON anchor_batches (created_at) WHERE status = 'pending'`,
		`CREATE TABLE access_records (
			seq            $ID$,
			id             TEXT NOT NULL UNIQUE,
			created_at     BIGINT NOT NULL,
			request_id     TEXT NOT NULL DEFAULT '',
			requester      TEXT NOT NULL,
			official       TEXT NOT NULL DEFAULT '',
			official_ref   TEXT NOT NULL DEFAULT '',
			provider       TEXT NOT NULL DEFAULT '',
			eid            TEXT NOT NULL DEFAULT '',
			data_type      TEXT NOT NULL,
			purpose        TEXT NOT NULL,
			consent_id     TEXT NOT NULL DEFAULT '',
			policy_version BIGINT NOT NULL DEFAULT 0,
			outcome        TEXT NOT NULL,
			reason         TEXT NOT NULL DEFAULT '',
			ticket_id      TEXT NOT NULL DEFAULT '',
			digest         TEXT NOT NULL DEFAULT '',
			route_version  BIGINT NOT NULL DEFAULT 0,
			used_consent   $BOOL$ NOT NULL DEFAULT $FALSE$,
			leaf_hash      TEXT NOT NULL,
			batch_id       TEXT REFERENCES anchor_batches (id),
			flagged        $BOOL$ NOT NULL DEFAULT $FALSE$,
			flag_reason    TEXT NOT NULL DEFAULT '',
			delivered_hash TEXT NOT NULL DEFAULT ''
		)`,
		// The anchorer's two questions, "which records are in no batch" and
		// "how old is the oldest of them", read only these small partial
		// indexes, however long the log grows.
		`CREATE INDEX access_unbatched ON access_records (seq) WHERE batch_id IS NULL`,
		`CREATE INDEX access_unbatched_created ON access_records (created_at) WHERE batch_id IS NULL`,
		`CREATE INDEX access_batch ON access_records (batch_id, seq) WHERE batch_id IS NOT NULL`,
		`CREATE INDEX access_eid ON access_records (eid, seq)`,
		`CREATE INDEX access_requester ON access_records (requester, seq)`,
		`CREATE INDEX access_provider ON access_records (provider, seq)`,
		`CREATE TABLE consent_usage (
			consent_id TEXT PRIMARY KEY,
			uses       BIGINT NOT NULL,
			max_uses   BIGINT NOT NULL,
			updated_at BIGINT NOT NULL
		)`,
		`CREATE TABLE leases (
			name        TEXT PRIMARY KEY,
			holder      TEXT NOT NULL,
			expires_at  BIGINT NOT NULL,
			acquired_at BIGINT NOT NULL
		)`,
		`CREATE TABLE listener_checkpoints (
			name         TEXT PRIMARY KEY,
			block_number BIGINT NOT NULL,
			tx_id        TEXT NOT NULL,
			updated_at   BIGINT NOT NULL
		)`,
	}},
	{2, "resident documents, import jobs and rejects", []string{
		`CREATE TABLE resident_documents (
			ref           TEXT PRIMARY KEY,
			eid           TEXT NOT NULL,
			doc_type      TEXT NOT NULL,
			country       TEXT NOT NULL DEFAULT '',
			masked_number TEXT NOT NULL,
			key_version   TEXT NOT NULL,
			blind_value   TEXT NOT NULL,
			sealed_number $BLOB$,
			external_ref  TEXT NOT NULL DEFAULT '',
			added_by      TEXT NOT NULL DEFAULT '',
			created_at    BIGINT NOT NULL,
			removed_at    BIGINT
		)`,
		// A document points to one eID at a time; removed rows keep history.
		`CREATE UNIQUE INDEX resident_documents_blind ON resident_documents (key_version, blind_value) WHERE removed_at IS NULL`,
		`CREATE INDEX resident_documents_eid ON resident_documents (eid, created_at) WHERE removed_at IS NULL`,
		`CREATE TABLE import_jobs (
			id            TEXT PRIMARY KEY,
			file_name     TEXT NOT NULL,
			file_sha256   TEXT NOT NULL,
			status        TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
			total         BIGINT NOT NULL DEFAULT 0,
			done_rows     BIGINT NOT NULL DEFAULT 0,
			created_rows  BIGINT NOT NULL DEFAULT 0,
			existing_rows BIGINT NOT NULL DEFAULT 0,
			rejected_rows BIGINT NOT NULL DEFAULT 0,
			resume_offset BIGINT NOT NULL DEFAULT 0,
			started_at    BIGINT NOT NULL,
			updated_at    BIGINT NOT NULL,
			finished_at   BIGINT,
			error         TEXT NOT NULL DEFAULT '',
			started_by    TEXT NOT NULL DEFAULT ''
		)`,
		`CREATE INDEX import_jobs_file ON import_jobs (file_sha256, started_at)`,
		`CREATE TABLE import_rejects (
			job_id        TEXT NOT NULL REFERENCES import_jobs (id) ON DELETE CASCADE,
			row_num       BIGINT NOT NULL,
			masked_number TEXT NOT NULL DEFAULT '',
			reason        TEXT NOT NULL,
			message       TEXT NOT NULL DEFAULT '',
			PRIMARY KEY (job_id, row_num)
		)`,
	}},
	{3, "accounts: residents, activation codes, admins, login attempts, API keys, sessions", []string{
		`CREATE TABLE residents (
			eid                 TEXT PRIMARY KEY,
			password_hash       TEXT NOT NULL DEFAULT '',
			lang                TEXT NOT NULL DEFAULT '',
			activated_at        BIGINT,
			password_changed_at BIGINT,
			created_at          BIGINT NOT NULL,
			updated_at          BIGINT NOT NULL
		)`,
		`CREATE TABLE activation_codes (
			eid             TEXT PRIMARY KEY,
			code_hash       TEXT NOT NULL,
			created_at      BIGINT NOT NULL,
			expires_at      BIGINT NOT NULL,
			used_at         BIGINT,
			failed_attempts INTEGER NOT NULL DEFAULT 0
		)`,
		`CREATE TABLE admins (
			username      TEXT PRIMARY KEY,
			password_hash TEXT NOT NULL,
			role          TEXT NOT NULL CHECK (role IN ('admin', 'mapping-officer', 'auditor')),
			disabled      $BOOL$ NOT NULL DEFAULT $FALSE$,
			created_at    BIGINT NOT NULL,
			updated_at    BIGINT NOT NULL
		)`,
		// Failures are counted per login name whether or not an account
		// exists, so lockout does not tell which names are real.
		`CREATE TABLE login_attempts (
			kind         TEXT NOT NULL,
			subject      TEXT NOT NULL,
			failures     INTEGER NOT NULL DEFAULT 0,
			locked_until BIGINT NOT NULL DEFAULT 0,
			updated_at   BIGINT NOT NULL,
			PRIMARY KEY (kind, subject)
		)`,
		`CREATE TABLE api_keys (
			id            TEXT PRIMARY KEY,
			department    TEXT NOT NULL,
			name          TEXT NOT NULL,
			secret_sha256 TEXT NOT NULL,
			created_at    BIGINT NOT NULL,
			revoked_at    BIGINT,
			last_used_at  BIGINT
		)`,
		`CREATE INDEX api_keys_department ON api_keys (department)`,
		`CREATE TABLE sessions (
			token_sha256 TEXT PRIMARY KEY,
			kind         TEXT NOT NULL CHECK (kind IN ('resident', 'admin')),
			subject      TEXT NOT NULL,
			role         TEXT NOT NULL DEFAULT '',
			lang         TEXT NOT NULL DEFAULT '',
			created_at   BIGINT NOT NULL,
			last_seen_at BIGINT NOT NULL,
			expires_at   BIGINT NOT NULL
		)`,
		`CREATE INDEX sessions_subject ON sessions (subject)`,
		`CREATE INDEX sessions_expires ON sessions (expires_at)`,
	}},
	{4, "credentials: status lists and their entries, issued credentials, presentation challenges", credentialSchema},
	{5, "passkeys: user handles, credentials, WebAuthn ceremonies, sessions' sign-in method", passkeySchema},
	{6, "security: a ticket's single use kept with its access record", securitySchema},
	{7, "officials' audit trail and its anchoring, four-eyes proposals, staff activation codes, break-glass access", auditSchema},
	{8, "break-glass: auditors' reviews of break-glass accesses", breakGlassSchema},
	{9, "disputes: residents' disputes of accesses, their off-chain texts and on-chain state", disputeSchema},
	{11, "residents: the time zone the portal shows their times in", []string{
		`ALTER TABLE residents ADD COLUMN time_zone TEXT NOT NULL DEFAULT ''`,
	}},
}

// SchemaVersion is the schema version this build brings a database to.
func SchemaVersion() int { return migrations[len(migrations)-1].version }

// SchemaVersions are the versions of every step this build knows, in
// order. Step numbers are reserved ahead of time, so a build may know a
// step after a gap; the gap's step is applied when a later build brings it.
func SchemaVersions() []int {
	out := make([]int, len(migrations))
	for i, m := range migrations {
		out[i] = m.version
	}
	return out
}

func (db *DB) dialectSQL(s string) string {
	var r *strings.Replacer
	if db.dialect == DialectPostgres {
		r = strings.NewReplacer("$ID$", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
			"$BLOB$", "BYTEA", "$BOOL$", "BOOLEAN", "$FALSE$", "FALSE")
	} else {
		// AUTOINCREMENT: a rowid is never reused, even after the highest
		// row is deleted, so sequence numbers only grow.
		r = strings.NewReplacer("$ID$", "INTEGER PRIMARY KEY AUTOINCREMENT",
			"$BLOB$", "BLOB", "$BOOL$", "INTEGER", "$FALSE$", "0")
	}
	return r.Replace(s)
}

// migrate applies the missing steps in one transaction. On PostgreSQL a
// transaction-scoped advisory lock (per schema) makes replicas that start
// together apply them once, one after the other; on SQLite the
// transaction begins IMMEDIATE, which takes the database's write lock.
// DDL is transactional on both, so a failed step leaves the schema as it
// was and a restart retries it; no step ever drops data.
func (db *DB) migrate(ctx context.Context) error {
	const op = "store.migrate"
	err := db.write(ctx, func(tx *gorm.DB) error {
		if db.dialect == DialectPostgres {
			if err := tx.Exec(`SELECT pg_advisory_xact_lock(hashtextextended('eidgate.migrate.' || current_schema(), 0))`).Error; err != nil {
				return err
			}
		}
		if err := tx.Exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			name       TEXT NOT NULL,
			applied_at BIGINT NOT NULL
		)`).Error; err != nil {
			return err
		}
		var current int
		if err := tx.Raw(`SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Row().Scan(&current); err != nil {
			return err
		}
		var applied []int
		if err := tx.Raw(`SELECT version FROM schema_migrations`).Scan(&applied).Error; err != nil {
			return err
		}
		done := make(map[int]bool, len(applied))
		for _, v := range applied {
			done[v] = true
		}
		if current > SchemaVersion() {
			return &routing.Error{Kind: routing.KindInternal, Code: "schema_too_new", Op: op,
				Message: fmt.Sprintf("the database schema is at version %d but this eidgate knows only up to %d; run a newer eidgate", current, SchemaVersion())}
		}
		// Every step not yet recorded is applied, not only those above the
		// highest: a step numbered below one already applied (reserved
		// and released later) still runs.
		for _, m := range migrations {
			if done[m.version] {
				continue
			}
			for _, s := range m.stmts {
				if err := tx.Exec(db.dialectSQL(s)).Error; err != nil {
					return fmt.Errorf("schema step %d (%s): %w", m.version, m.name, err)
				}
			}
			if err := tx.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.version, m.name, nanos(db.now())).Error; err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return db.classify(op, err)
	}
	return nil
}

// AppliedMigrations lists the schema versions recorded in the database.
func (db *DB) AppliedMigrations(ctx context.Context) ([]int, error) {
	var vs []int
	if err := db.with(ctx).Raw(`SELECT version FROM schema_migrations ORDER BY version`).Scan(&vs).Error; err != nil {
		return nil, db.classify("store.AppliedMigrations", err)
	}
	return vs, nil
}
