package policies

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/glebarez/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/eidgate/eidgate/internal/testenv"
	"github.com/eidgate/eidgate/routing"
)

func quiet() *gorm.Config { return &gorm.Config{Logger: logger.Discard} }

func randomName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// sqliteFile is a fresh SQLite database file; several *gorm.DB may open it
// (two replicas on one database).
func sqliteFile(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "policy.db")
}

func openSQLiteAt(t testing.TB, path string) *gorm.DB {
	t.Helper()
	db, err := gorm.Open(sqlite.Open("file:"+path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)"), quiet())
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() {
		if s, err := db.DB(); err == nil {
			_ = s.Close()
		}
	})
	return db
}

func openSQLite(t testing.TB) *gorm.DB { return openSQLiteAt(t, sqliteFile(t)) }

// postgresSchema creates a schema of its own for the test (dropped at the
// end) and returns a DSN whose search_path points at it.
func postgresSchema(t testing.TB) string {
	t.Helper()
	dsn := testenv.Postgres(t)
	schema := randomName("policies_t_")
	admin, err := gorm.Open(postgres.Open(dsn), quiet())
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	if err := admin.Exec("CREATE SCHEMA " + schema).Error; err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		_ = admin.Exec("DROP SCHEMA " + schema + " CASCADE").Error
		if s, err := admin.DB(); err == nil {
			_ = s.Close()
		}
	})
	return withSearchPath(t, dsn, schema)
}

func withSearchPath(t testing.TB, dsn, schema string) string {
	t.Helper()
	if !strings.Contains(dsn, "://") {
		return dsn + " search_path=" + schema
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("EIDGATE_TEST_POSTGRES: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func openPostgresAt(t testing.TB, dsn string) *gorm.DB {
	t.Helper()
	db, err := gorm.Open(postgres.Open(dsn), quiet())
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() {
		if s, err := db.DB(); err == nil {
			_ = s.Close()
		}
	})
	return db
}

// backends runs fn against SQLite and PostgreSQL.
func backends(t *testing.T, fn func(t *testing.T, db *gorm.DB)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, openSQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, openPostgresAt(t, postgresSchema(t))) })
}

func newEngine(t testing.TB, cfg Config) *Engine {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e, err := New(ctx, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func loadPolicyFile(t testing.TB, name string) PolicySet {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := ParsePolicy(f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return s
}

// engineWith is an engine whose policy is the testdata file.
func engineWith(t testing.TB, db *gorm.DB, file string) *Engine {
	t.Helper()
	e := newEngine(t, Config{DB: db})
	if _, err := e.Replace(context.Background(), "test", loadPolicyFile(t, file), "fixture "+file); err != nil {
		t.Fatalf("Replace: %v", err)
	}
	return e
}

func fieldOf(err error) string {
	var e *routing.Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not seen within %v", what, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func isCode(err error, code string) bool { return routing.CodeOf(err) == code }
