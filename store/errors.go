package store

import (
	"database/sql"
	"errors"
	"strings"

	gosqlite "github.com/glebarez/go-sqlite"
	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"

	"github.com/eidgate/eidgate/routing"
)

// SQLite primary result codes that mean the database cannot serve right
// now (as opposed to a statement that is wrong).
var sqliteUnavailable = map[int]bool{
	5:  true, // SQLITE_BUSY
	6:  true, // SQLITE_LOCKED
	7:  true, // SQLITE_NOMEM
	8:  true, // SQLITE_READONLY
	10: true, // SQLITE_IOERR
	11: true, // SQLITE_CORRUPT
	13: true, // SQLITE_FULL
	14: true, // SQLITE_CANTOPEN
	15: true, // SQLITE_PROTOCOL
	26: true, // SQLITE_NOTADB
}

// PostgreSQL SQLSTATE classes that mean the server cannot serve right now:
// connection exception, insufficient resources, operator intervention
// (shutdown, cancel), system error, and transaction rollback (serialisation
// failure, deadlock), which a retry resolves.
var postgresUnavailable = map[string]bool{"08": true, "53": true, "57": true, "58": true, "40": true}

// classify turns a database error into a *routing.Error: not_found for a
// missing row, internal for a statement the database refused, and
// unavailable ("database_unavailable") for everything that says the
// database could not be reached or could not serve.
func (db *DB) classify(op string, err error) error {
	if err == nil {
		return nil
	}
	var re *routing.Error
	if errors.As(err, &re) {
		return err
	}
	if errors.Is(err, sql.ErrNoRows) || errors.Is(err, gorm.ErrRecordNotFound) {
		return &routing.Error{Kind: routing.KindNotFound, Op: op, Message: "not found", Err: err}
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		if len(pgErr.Code) >= 2 && postgresUnavailable[pgErr.Code[:2]] {
			return unavailable(op, err)
		}
		return &routing.Error{Kind: routing.KindInternal, Op: op, Message: "internal error", Err: err}
	}
	var sqErr *gosqlite.Error
	if errors.As(err, &sqErr) {
		if sqliteUnavailable[sqErr.Code()&0xff] {
			return unavailable(op, err)
		}
		return &routing.Error{Kind: routing.KindInternal, Op: op, Message: "internal error", Err: err}
	}
	if strings.HasPrefix(err.Error(), "sql: Scan error") {
		return &routing.Error{Kind: routing.KindInternal, Op: op, Message: "internal error", Err: err}
	}
	// Connection refused, closed pool, broken connection, deadline: the
	// database is not there for us.
	return unavailable(op, err)
}

func unavailable(op string, err error) error {
	return routing.Unavailable(op, "database_unavailable", "the database is not available; try again shortly", err)
}

func notFound(op, what string) error {
	return &routing.Error{Kind: routing.KindNotFound, Op: op, Message: what + " not found"}
}

// isUniqueViolation reports a unique or primary key conflict.
func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	var sqErr *gosqlite.Error
	if errors.As(err, &sqErr) {
		// SQLITE_CONSTRAINT_UNIQUE (2067) and SQLITE_CONSTRAINT_PRIMARYKEY (1555)
		return sqErr.Code() == 2067 || sqErr.Code() == 1555
	}
	return false
}

// pgCode reports the SQLSTATE of a PostgreSQL error.
func pgCode(err error, code *string) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		*code = pgErr.Code
		return true
	}
	return false
}

// errRollback ends a transaction without an error of its own; the caller
// has recorded why.
var errRollback = errors.New("rolled back")
