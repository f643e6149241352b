// Package storetest opens throw-away eidgate databases for tests: a SQLite
// file in a temporary directory, and a PostgreSQL schema of its own (when
// EIDGATE_TEST_POSTGRES is set; required in CI) that is dropped at cleanup,
// so test packages running in parallel never see each other's tables.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, to create and drop schemas

	"github.com/eidgate/eidgate/internal/testenv"
	"github.com/eidgate/eidgate/store"
)

// DB names a test database; Open may be called more than once to reopen
// it (durability) or to open it twice at once (two replicas).
type DB struct {
	Dialect string
	DSN     string
}

// Open opens the database, closing it when the test ends.
func (d DB) Open(t testing.TB) *store.DB {
	t.Helper()
	return d.OpenWith(t, store.Config{})
}

// OpenWith opens the database with cfg's settings (its DSN is d's),
// closing it when the test ends.
func (d DB) OpenWith(t testing.TB, cfg store.Config) *store.DB {
	t.Helper()
	cfg.DSN = d.DSN
	db, err := store.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open %s test database: %v", d.Dialect, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// SQLite names a fresh SQLite file.
func SQLite(t testing.TB) DB {
	return DB{Dialect: store.DialectSQLite, DSN: filepath.Join(t.TempDir(), "eidgate.db")}
}

// Postgres names a fresh PostgreSQL schema; it skips the test outside CI
// when PostgreSQL is not configured.
func Postgres(t testing.TB) DB {
	t.Helper()
	return DB{Dialect: store.DialectPostgres, DSN: freshSchema(t)}
}

// Fresh names a new, empty database of the same dialect as d, for a
// subtest that needs one of its own.
func (d DB) Fresh(t testing.TB) DB {
	t.Helper()
	if d.Dialect == store.DialectPostgres {
		return Postgres(t)
	}
	return SQLite(t)
}

// Each runs fn as subtests "sqlite" and "postgres".
func Each(t *testing.T, fn func(t *testing.T, d DB)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
}

func freshSchema(t testing.TB) string {
	t.Helper()
	base := testenv.Postgres(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "eidgate_test_" + hex.EncodeToString(b[:])
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		_ = admin.Close()
		t.Fatalf("create test schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("drop test schema %s: %v", schema, err)
		}
		_ = admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("postgres URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
