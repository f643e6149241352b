package store

import (
	"context"
	"database/sql"
	"strings"

	"gorm.io/gorm"

	"github.com/eidgate/eidgate/mapping"
	"github.com/eidgate/eidgate/routing"
)

// The import_jobs and import_rejects tables keep mapping.ImportJob and
// mapping.ImportReject rows (the mapping service's ImportJobStore). A job's
// id is the SHA-256 of its file; its resume offset is the rows done.

var _ mapping.ImportJobStore = (*DB)(nil)

const importSelect = `SELECT id, file_name, status, total, done_rows, created_rows, existing_rows,
	rejected_rows, started_at, updated_at, finished_at, error FROM import_jobs`

func (db *DB) queryImportJobs(ctx context.Context, q string, args ...any) ([]mapping.ImportJob, error) {
	rows, err := db.with(ctx).Raw(q, args...).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []mapping.ImportJob
	for rows.Next() {
		var (
			j                mapping.ImportJob
			started, updated int64
			finished         sql.NullInt64
		)
		if err := rows.Scan(&j.ID, &j.FileName, &j.Status, &j.Total, &j.Done, &j.Created, &j.Existing,
			&j.Rejected, &started, &updated, &finished, &j.Error); err != nil {
			return nil, err
		}
		j.StartedAt, j.UpdatedAt, j.FinishedAt = fromNanos(started), fromNanos(updated), fromNullNanos(finished)
		out = append(out, j)
	}
	return out, rows.Err()
}

func importNotFound(op string) error {
	return (&routing.Error{Kind: routing.KindNotFound, Op: op, Message: "no such import job"}).WithCode("import_not_found")
}

func validImportStatus(s string) bool {
	return s == mapping.ImportRunning || s == mapping.ImportDone || s == mapping.ImportFailed
}

// CreateImport records a running job for a file; officer is who started
// it. An id that exists is a conflict (import_exists).
func (db *DB) CreateImport(ctx context.Context, j mapping.ImportJob, officer string) error {
	const op = "store.CreateImport"
	if j.ID == "" {
		return routing.Invalid(op, "id", "an import job needs the file's SHA-256 as its id")
	}
	now := db.now()
	if j.StartedAt.IsZero() {
		j.StartedAt = now
	}
	id := strings.ToLower(j.ID)
	_, err := db.exec(ctx, `INSERT INTO import_jobs (id, file_name, file_sha256, status, total, done_rows, created_rows,
			existing_rows, rejected_rows, resume_offset, started_by, started_at, updated_at, error)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, j.ID, j.FileName, id, mapping.ImportRunning, j.Total, j.Done,
		j.Created, j.Existing, j.Rejected, j.Done, officer, nanos(j.StartedAt), nanos(now), j.Error)
	if isUniqueViolation(err) {
		return (&routing.Error{Kind: routing.KindConflict, Op: op, Message: "an import job with this id exists"}).WithCode("import_exists")
	}
	return db.classify(op, err)
}

// Import returns one job; not_found (import_not_found) when there is none.
func (db *DB) Import(ctx context.Context, id string) (*mapping.ImportJob, error) {
	const op = "store.Import"
	js, err := db.queryImportJobs(ctx, importSelect+` WHERE id = ?`, id)
	if err != nil {
		return nil, db.classify(op, err)
	}
	if len(js) == 0 {
		return nil, importNotFound(op)
	}
	return &js[0], nil
}

// Imports lists jobs, newest first (limit default 100, at most 1000).
func (db *DB) Imports(ctx context.Context, limit int) ([]mapping.ImportJob, error) {
	if limit <= 0 {
		limit = DefaultListLimit
	}
	js, err := db.queryImportJobs(ctx, importSelect+` ORDER BY started_at DESC, id LIMIT ?`, min(limit, MaxListLimit))
	if err != nil {
		return nil, db.classify("store.Imports", err)
	}
	return js, nil
}

func (db *DB) insertRejects(tx *gorm.DB, jobID string, rejects []mapping.ImportReject) error {
	step := db.rowsPerStatement(5)
	for start := 0; start < len(rejects); start += step {
		chunk := rejects[start:min(start+step, len(rejects))]
		var sb strings.Builder
		sb.WriteString(`INSERT INTO import_rejects (job_id, row_num, masked_number, reason, message) VALUES `)
		args := make([]any, 0, 5*len(chunk))
		for i, r := range chunk {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("(?, ?, ?, ?, ?)")
			args = append(args, jobID, r.Row, r.Masked, r.Reason, r.Message)
		}
		sb.WriteString(` ON CONFLICT (job_id, row_num) DO NOTHING`)
		if err := tx.Exec(sb.String(), args...).Error; err != nil {
			return err
		}
	}
	return nil
}

// SaveImport stores every field a running import changes — status,
// counters, resume offset (the rows done), finish time, error —
// and appends rejects, in one transaction (a reject already stored for its
// row is skipped). The importer keeps the job in memory and saves it after
// each committed batch, so after a crash the offset never points past a
// reject that was not written, nor before one that was.
func (db *DB) SaveImport(ctx context.Context, j mapping.ImportJob, rejects []mapping.ImportReject) error {
	const op = "store.SaveImport"
	if !validImportStatus(j.Status) {
		return routing.Invalid(op, "status", "an import job is running, done or failed")
	}
	var missing bool
	err := db.write(ctx, func(tx *gorm.DB) error {
		r := tx.Exec(`UPDATE import_jobs SET status = ?, total = ?, done_rows = ?, created_rows = ?, existing_rows = ?,
				rejected_rows = ?, resume_offset = ?, finished_at = ?, error = ?, updated_at = ? WHERE id = ?`,
			j.Status, j.Total, j.Done, j.Created, j.Existing, j.Rejected, j.Done,
			nullNanos(j.FinishedAt), j.Error, nanos(db.now()), j.ID)
		if r.Error != nil {
			return r.Error
		}
		if r.RowsAffected == 0 {
			missing = true
			return errRollback
		}
		return db.insertRejects(tx, j.ID, rejects)
	})
	if missing {
		return importNotFound(op)
	}
	return db.classify(op, err)
}

// rejectPage is how many rejects ImportRejects reads per query.
const rejectPage = 1000

// ImportRejects calls each for a job's rejected rows in row order, reading
// them a page at a time.
func (db *DB) ImportRejects(ctx context.Context, jobID string, each func(mapping.ImportReject) error) error {
	const op = "store.ImportRejects"
	var after int64
	for {
		page, err := db.importRejects(ctx, jobID, after, rejectPage)
		if err != nil {
			return db.classify(op, err)
		}
		for _, r := range page {
			if err := each(r); err != nil {
				return err
			}
			after = r.Row
		}
		if len(page) < rejectPage {
			return nil
		}
	}
}

func (db *DB) importRejects(ctx context.Context, jobID string, afterRow int64, limit int) ([]mapping.ImportReject, error) {
	rows, err := db.with(ctx).Raw(`SELECT row_num, masked_number, reason, message FROM import_rejects
		WHERE job_id = ? AND row_num > ? ORDER BY row_num LIMIT ?`, jobID, afterRow, limit).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []mapping.ImportReject
	for rows.Next() {
		var r mapping.ImportReject
		if err := rows.Scan(&r.Row, &r.Masked, &r.Reason, &r.Message); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
