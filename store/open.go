package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/eidgate/eidgate/routing"
)

// Dialects.
const (
	DialectPostgres = "postgres"
	DialectSQLite   = "sqlite"
)

// Pool defaults, sized for 64 concurrent requests: most requests read one
// or two rows, and access records reach the database through the group
// committer's single transaction, so far fewer connections than requests
// are busy at once.
const (
	defaultPostgresConns = 32
	defaultSQLiteConns   = 8
	defaultConnectWait   = 5 * time.Second
	sqliteBusyTimeout    = 10 * time.Second
)

// DB is an open eidgate database.
type DB struct {
	gorm    *gorm.DB
	sql     *sql.DB
	dialect string
	clock   routing.Clock
	where   string // safe description of the database for messages

	// writeSlot serialises this process's write transactions on SQLite,
	// where there is one writer at a time anyway: waiting here is cheaper
	// and fairer than SQLite's busy-sleep loop. nil on PostgreSQL.
	writeSlot chan struct{}
	// checkpoints is the SQLite checkpointer's, nil on PostgreSQL and
	// in memory (see checkpointer).
	checkpoints *checkpointer

	apiKeys apiKeyCache // see GetAPIKey
}

// Config is what Open opens. DSN is required; zero settings take the
// defaults.
type Config struct {
	// DSN names the database: a postgres:// or postgresql:// URL is
	// PostgreSQL; anything else is the path of a SQLite file (an optional
	// "sqlite:" prefix is accepted), created when missing.
	DSN string
	// Clock is used for lease expiry, session and usage timestamps the
	// store sets itself (default the system clock; tests inject a fake).
	Clock routing.Clock
	// MaxOpenConns bounds the connection pool (default: the dialect's).
	MaxOpenConns int
	// ConnectTimeout bounds how long connecting to PostgreSQL may take when
	// the DSN sets no connect_timeout (default 5 s).
	ConnectTimeout time.Duration
	// GormLogger logs SQL (default: silent; parameters are never logged by
	// the store itself).
	GormLogger logger.Interface
}

// options are a Config with its defaults filled in.
type options struct {
	clock        routing.Clock
	maxOpenConns int
	connectWait  time.Duration
	gormLogger   logger.Interface
}

// Open connects to the database cfg names and brings its schema up to
// date.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	o := options{clock: cfg.Clock, maxOpenConns: cfg.MaxOpenConns, connectWait: cfg.ConnectTimeout, gormLogger: cfg.GormLogger}
	if o.clock == nil {
		o.clock = routing.SystemClock{}
	}
	if o.connectWait <= 0 {
		o.connectWait = defaultConnectWait
	}
	if o.gormLogger == nil {
		o.gormLogger = logger.Discard
	}
	dsn := cfg.DSN
	var (
		db  *DB
		err error
	)
	switch {
	case strings.TrimSpace(dsn) == "":
		return nil, routing.Invalid("store.Open", "db", "no database given: pass a SQLite file path or a postgres:// URL").WithCode("invalid_dsn")
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		db, err = openPostgres(ctx, dsn, o)
	default:
		db, err = openSQLite(ctx, dsn, o)
	}
	if err != nil {
		return nil, err
	}
	if err := db.migrate(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	return db, nil
}

func gormConfig(o options) *gorm.Config {
	return &gorm.Config{
		Logger:                 o.gormLogger,
		SkipDefaultTransaction: true,
		DisableAutomaticPing:   true,
		NowFunc:                func() time.Time { return o.clock.Now().UTC() },
	}
}

func openPostgres(ctx context.Context, dsn string, o options) (*DB, error) {
	const op = "store.Open"
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx redacts the password in its parse errors; the message names
		// only what is wrong.
		return nil, routing.Invalid(op, "db", "the PostgreSQL URL cannot be used: %s", safeParseError(err)).WithCode("invalid_dsn")
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = o.connectWait
	}
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = "eidgate"
	}
	where := "PostgreSQL at " + net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))) + "/" + cfg.Database
	sqlDB := stdlib.OpenDB(*cfg)
	n := o.maxOpenConns
	if n <= 0 {
		n = defaultPostgresConns
	}
	sqlDB.SetMaxOpenConns(n)
	sqlDB.SetMaxIdleConns(max(n/2, 2))
	sqlDB.SetConnMaxLifetime(30 * time.Minute)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)

	g, err := gorm.Open(postgres.New(postgres.Config{Conn: sqlDB}), gormConfig(o))
	if err != nil {
		_ = sqlDB.Close()
		return nil, routing.Unavailable(op, "database_unavailable", "cannot open "+where, err)
	}
	db := &DB{gorm: g, sql: sqlDB, dialect: DialectPostgres, clock: o.clock, where: where}
	if err := sqlDB.PingContext(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, routing.Unavailable(op, "database_unavailable", "cannot reach "+where, err)
	}
	return db, nil
}

// safeParseError keeps pgx's description of a malformed DSN but never the
// DSN itself beyond what pgx already redacted.
func safeParseError(err error) string {
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) {
		return pe.Error()
	}
	return "malformed connection string"
}

// restrictSQLiteFiles creates the database file readable by its owner
// only, and takes group and other access away from one (and its WAL and
// shared-memory files) an older version left open. SQLite gives the WAL
// and shared-memory files it creates the database file's mode.
func restrictSQLiteFiles(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		st, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if st.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(p, st.Mode().Perm()&0o700); err != nil {
				return err
			}
		}
	}
	return nil
}

func openSQLite(ctx context.Context, dsn string, o options) (*DB, error) {
	const op = "store.Open"
	path := strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite://"), "sqlite:")
	if strings.ContainsAny(path, "?#") {
		return nil, routing.Invalid(op, "db", "a SQLite path may not contain '?' or '#'; settings are fixed by eidgate").WithCode("invalid_dsn")
	}
	if path != ":memory:" {
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, routing.Invalid(op, "db", "bad SQLite path %q", path).WithCode("invalid_dsn")
		}
		path = abs
		if st, err := os.Stat(filepath.Dir(path)); err != nil || !st.IsDir() {
			return nil, routing.Unavailable(op, "database_unavailable", "the directory of SQLite database "+path+" does not exist", err)
		}
	}
	where := "SQLite database " + path
	if path != ":memory:" {
		if err := restrictSQLiteFiles(path); err != nil {
			return nil, routing.Unavailable(op, "database_unavailable", "cannot restrict the permissions of "+where, err)
		}
	}
	q := url.Values{}
	// WAL lets readers run beside the writer; synchronous=FULL makes the
	// WAL fsync on every commit, so a transaction that returned survives
	// power loss (NORMAL would only protect against a process crash).
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(1)")
	// Statement journals (a multi-row INSERT … ON CONFLICT inside a
	// transaction keeps one) and temporary indexes stay in memory instead
	// of temp files: they never need to survive a crash, and writing them
	// out was a third of the time of an access-record or document batch.
	q.Add("_pragma", "temp_store(MEMORY)")
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", sqliteBusyTimeout.Milliseconds()))
	if path != ":memory:" {
		// The checkpointer copies committed pages into the database
		// beside the writer; a commit checkpoints itself only once the
		// WAL has outgrown this many pages (see checkpointer).
		q.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", walBackstopPages))
	}
	// Transactions take the write lock when they begin: a deferred
	// transaction that reads and then writes fails with SQLITE_BUSY when
	// another connection committed in between, instead of waiting.
	q.Set("_txlock", "immediate")
	full := path + "?" + q.Encode()

	g, err := gorm.Open(sqlite.Open(full), gormConfig(o))
	if err != nil {
		return nil, routing.Unavailable(op, "database_unavailable", "cannot open "+where, err)
	}
	sqlDB, err := g.DB()
	if err != nil {
		return nil, routing.Unavailable(op, "database_unavailable", "cannot open "+where, err)
	}
	n := o.maxOpenConns
	if n <= 0 {
		n = defaultSQLiteConns
	}
	if path == ":memory:" {
		n = 1 // every connection would otherwise see its own empty database
	}
	sqlDB.SetMaxOpenConns(n)
	sqlDB.SetMaxIdleConns(n)
	sqlDB.SetConnMaxIdleTime(0)
	sqlDB.SetConnMaxLifetime(0)
	db := &DB{gorm: g, sql: sqlDB, dialect: DialectSQLite, clock: o.clock, where: where, writeSlot: make(chan struct{}, 1)}
	if err := sqlDB.PingContext(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, routing.Unavailable(op, "database_unavailable", "cannot open "+where, err)
	}
	if path != ":memory:" {
		db.checkpoints = startCheckpoints(sqlDB)
	}
	return db, nil
}

// Gorm exposes the gorm handle (the Casbin gorm adapter keeps its policy
// table in the same database).
func (db *DB) Gorm() *gorm.DB { return db.gorm }

// Dialect is DialectPostgres or DialectSQLite.
func (db *DB) Dialect() string { return db.dialect }

// String describes the database without credentials.
func (db *DB) String() string { return db.where }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.sql.PingContext(ctx); err != nil {
		return db.classify("store.Ping", err)
	}
	return nil
}

// Close stops the checkpointer and closes the connection pool.
func (db *DB) Close() error {
	db.checkpoints.stop()
	return db.sql.Close()
}

func (db *DB) now() time.Time { return db.clock.Now().UTC() }

// ctx returns the gorm handle bound to ctx.
func (db *DB) with(ctx context.Context) *gorm.DB { return db.gorm.WithContext(ctx) }

// write runs fn in one transaction. On SQLite it first takes this
// process's write slot (honouring ctx).
func (db *DB) write(ctx context.Context, fn func(tx *gorm.DB) error) error {
	if db.writeSlot != nil {
		select {
		case db.writeSlot <- struct{}{}:
			defer func() { <-db.writeSlot }()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	defer db.checkpoints.kick()
	return db.with(ctx).Transaction(fn)
}

// exec runs one writing statement outside an explicit transaction (still
// through the SQLite write slot) and returns the rows it affected.
func (db *DB) exec(ctx context.Context, query string, args ...any) (int64, error) {
	if db.writeSlot != nil {
		select {
		case db.writeSlot <- struct{}{}:
			defer func() { <-db.writeSlot }()
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	defer db.checkpoints.kick()
	r := db.with(ctx).Exec(query, args...)
	return r.RowsAffected, r.Error
}
