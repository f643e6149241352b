package store

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/eidgate/eidgate/routing"
)

// Import job statuses.
const (
	ImportRunning = "running"
	ImportDone    = "done"
	ImportFailed  = "failed"
)

// ImportJob is one bulk import of a document file. ResumeOffset is the
// number of data rows whose outcome is committed: a rerun of the same file
// skips that many rows.
type ImportJob struct {
	ID           string
	FileName     string
	FileSHA256   string
	Status       string
	Total        int64
	Done         int64
	Created      int64
	Exists       int64
	Rejected     int64
	ResumeOffset int64
	StartedBy    string
	StartedAt    time.Time
	UpdatedAt    time.Time
	FinishedAt   time.Time
	Error        string
}

// ImportProgress is a job's counters after a chunk of rows; every field is
// the running total, so writing the same progress twice is harmless.
type ImportProgress struct {
	Done         int64
	Created      int64
	Exists       int64
	Rejected     int64
	ResumeOffset int64
}

// ImportReject is a row an import refused.
type ImportReject struct {
	JobID        string
	Row          int64  // the line of the file the row starts on (1 is the first line)
	MaskedNumber string // empty when the row could not be read
	Reason       string // stable code
	Message      string // safe text for the report
}

const importSelect = `SELECT id, file_name, file_sha256, status, total, done_rows, created_rows, existing_rows,
	rejected_rows, resume_offset, started_by, started_at, updated_at, finished_at, error FROM import_jobs`

func (db *DB) queryImportJobs(ctx context.Context, q string, args ...any) ([]ImportJob, error) {
	rows, err := db.with(ctx).Raw(q, args...).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ImportJob
	for rows.Next() {
		var (
			j                ImportJob
			started, updated int64
			finished         sql.NullInt64
		)
		if err := rows.Scan(&j.ID, &j.FileName, &j.FileSHA256, &j.Status, &j.Total, &j.Done, &j.Created, &j.Exists,
			&j.Rejected, &j.ResumeOffset, &j.StartedBy, &started, &updated, &finished, &j.Error); err != nil {
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

// CreateImportJob records a running job for a file. An empty ID gets a
// random one ("imp_…"); the mapping service may use the file's SHA-256 as
// the id instead. An id that exists is a conflict (import_exists).
func (db *DB) CreateImportJob(ctx context.Context, j ImportJob) (*ImportJob, error) {
	const op = "store.CreateImportJob"
	if j.FileSHA256 == "" {
		return nil, routing.Invalid(op, "file_sha256", "an import job needs the file's SHA-256")
	}
	if j.ID == "" {
		id, err := newRef("imp_")
		if err != nil {
			return nil, routing.Wrap(op, err)
		}
		j.ID = id
	}
	now := db.now()
	j.FileSHA256 = strings.ToLower(j.FileSHA256)
	j.Status = ImportRunning
	if j.StartedAt.IsZero() {
		j.StartedAt = now
	}
	j.UpdatedAt, j.FinishedAt = now, time.Time{}
	_, err := db.exec(ctx, `INSERT INTO import_jobs (id, file_name, file_sha256, status, total, done_rows, created_rows,
			existing_rows, rejected_rows, resume_offset, started_by, started_at, updated_at, error)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, j.ID, j.FileName, j.FileSHA256, j.Status, j.Total, j.Done,
		j.Created, j.Exists, j.Rejected, j.ResumeOffset, j.StartedBy, nanos(j.StartedAt), nanos(now), j.Error)
	if isUniqueViolation(err) {
		return nil, (&routing.Error{Kind: routing.KindConflict, Op: op, Message: "an import job with this id exists"}).WithCode("import_exists")
	}
	if err != nil {
		return nil, db.classify(op, err)
	}
	return &j, nil
}

// GetImportJob returns one job.
func (db *DB) GetImportJob(ctx context.Context, id string) (*ImportJob, error) {
	const op = "store.GetImportJob"
	js, err := db.queryImportJobs(ctx, importSelect+` WHERE id = ?`, id)
	if err != nil {
		return nil, db.classify(op, err)
	}
	if len(js) == 0 {
		return nil, importNotFound(op)
	}
	return &js[0], nil
}

// FindJobByFileHash returns the latest job for a file (by SHA-256), so a
// rerun of the same file resumes it; not_found when the file was never
// imported.
func (db *DB) FindJobByFileHash(ctx context.Context, fileSHA256 string) (*ImportJob, error) {
	const op = "store.FindJobByFileHash"
	js, err := db.queryImportJobs(ctx, importSelect+` WHERE file_sha256 = ? ORDER BY started_at DESC, id LIMIT 1`,
		strings.ToLower(fileSHA256))
	if err != nil {
		return nil, db.classify(op, err)
	}
	if len(js) == 0 {
		return nil, importNotFound(op)
	}
	return &js[0], nil
}

// ListImportJobs lists jobs, newest first (limit default 100, at most 1000).
func (db *DB) ListImportJobs(ctx context.Context, limit int) ([]ImportJob, error) {
	if limit <= 0 {
		limit = DefaultListLimit
	}
	js, err := db.queryImportJobs(ctx, importSelect+` ORDER BY started_at DESC, id LIMIT ?`, min(limit, MaxListLimit))
	if err != nil {
		return nil, db.classify("store.ListImportJobs", err)
	}
	return js, nil
}

// SetImportTotal records the number of data rows once known.
func (db *DB) SetImportTotal(ctx context.Context, id string, total int64) error {
	n, err := db.exec(ctx, `UPDATE import_jobs SET total = ?, updated_at = ? WHERE id = ?`, total, nanos(db.now()), id)
	if err != nil {
		return db.classify("store.SetImportTotal", err)
	}
	if n == 0 {
		return importNotFound("store.SetImportTotal")
	}
	return nil
}

// RecordImportProgress stores a chunk's outcome in one small transaction:
// the rejects of the chunk and the job's new counters and resume offset
// together, so after a crash the offset never points past a reject that
// was not written, nor before one that was. The job must be running and
// the offset may not go backwards (conflict "import_not_running" /
// "import_offset_backwards").
func (db *DB) RecordImportProgress(ctx context.Context, jobID string, p ImportProgress, rejects []ImportReject) error {
	const op = "store.RecordImportProgress"
	var refused error
	err := db.write(ctx, func(tx *gorm.DB) error {
		var (
			status string
			offset int64
		)
		q := `SELECT status, resume_offset FROM import_jobs WHERE id = ?`
		if db.dialect == DialectPostgres {
			q += ` FOR UPDATE`
		}
		if err := tx.Raw(q, jobID).Row().Scan(&status, &offset); err != nil {
			return err
		}
		if status != ImportRunning {
			refused = (&routing.Error{Kind: routing.KindConflict, Op: op, Message: "the import job is " + status}).WithCode("import_not_running")
			return refused
		}
		if p.ResumeOffset < offset {
			refused = (&routing.Error{Kind: routing.KindConflict, Op: op, Message: "the import progress would move backwards"}).WithCode("import_offset_backwards")
			return refused
		}
		if err := db.insertRejects(tx, jobID, rejects); err != nil {
			return err
		}
		return tx.Exec(`UPDATE import_jobs SET done_rows = ?, created_rows = ?, existing_rows = ?, rejected_rows = ?,
				resume_offset = ?, updated_at = ? WHERE id = ?`,
			p.Done, p.Created, p.Exists, p.Rejected, p.ResumeOffset, nanos(db.now()), jobID).Error
	})
	if refused != nil {
		return refused
	}
	if err != nil {
		err = db.classify(op, err)
		if routing.IsKind(err, routing.KindNotFound) {
			return importNotFound(op)
		}
		return err
	}
	return nil
}

func (db *DB) insertRejects(tx *gorm.DB, jobID string, rejects []ImportReject) error {
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
			args = append(args, jobID, r.Row, r.MaskedNumber, r.Reason, r.Message)
		}
		sb.WriteString(` ON CONFLICT (job_id, row_num) DO NOTHING`)
		if err := tx.Exec(sb.String(), args...).Error; err != nil {
			return err
		}
	}
	return nil
}

// SaveImportJob stores every field a running import changes — status,
// counters, resume offset, finish time, error — and appends rejects, in one
// transaction (a reject already stored for its row is skipped). It is the
// whole-job form of RecordImportProgress for an importer that keeps the
// job in memory and saves it after each committed batch.
func (db *DB) SaveImportJob(ctx context.Context, j ImportJob, rejects []ImportReject) error {
	const op = "store.SaveImportJob"
	if j.Status != ImportRunning && j.Status != ImportDone && j.Status != ImportFailed {
		return routing.Invalid(op, "status", "an import job is running, done or failed")
	}
	var missing bool
	err := db.write(ctx, func(tx *gorm.DB) error {
		r := tx.Exec(`UPDATE import_jobs SET status = ?, total = ?, done_rows = ?, created_rows = ?, existing_rows = ?,
				rejected_rows = ?, resume_offset = ?, finished_at = ?, error = ?, updated_at = ? WHERE id = ?`,
			j.Status, j.Total, j.Done, j.Created, j.Exists, j.Rejected, j.ResumeOffset,
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

// ResumeImportJob sets a failed (or interrupted) job running again.
func (db *DB) ResumeImportJob(ctx context.Context, id string) (*ImportJob, error) {
	const op = "store.ResumeImportJob"
	n, err := db.exec(ctx, `UPDATE import_jobs SET status = ?, error = '', finished_at = NULL, updated_at = ?
		WHERE id = ? AND status <> ?`, ImportRunning, nanos(db.now()), id, ImportDone)
	if err != nil {
		return nil, db.classify(op, err)
	}
	j, err := db.GetImportJob(ctx, id)
	if err != nil {
		return nil, err
	}
	if n == 0 && j.Status == ImportDone {
		return nil, (&routing.Error{Kind: routing.KindConflict, Op: op, Message: "the import job is already done"}).WithCode("import_done")
	}
	return j, nil
}

// FinishImportJob ends a job as done or failed (with a safe error text).
func (db *DB) FinishImportJob(ctx context.Context, id, status, errText string) error {
	const op = "store.FinishImportJob"
	if status != ImportDone && status != ImportFailed {
		return routing.Invalid(op, "status", "an import job finishes as done or failed")
	}
	now := nanos(db.now())
	n, err := db.exec(ctx, `UPDATE import_jobs SET status = ?, error = ?, finished_at = ?, updated_at = ? WHERE id = ?`,
		status, errText, now, now, id)
	if err != nil {
		return db.classify(op, err)
	}
	if n == 0 {
		return importNotFound(op)
	}
	return nil
}

// ListImportRejects lists a job's rejected rows after row afterRow, in row
// order (limit default 100, at most 1000).
func (db *DB) ListImportRejects(ctx context.Context, jobID string, afterRow int64, limit int) ([]ImportReject, error) {
	if limit <= 0 {
		limit = DefaultListLimit
	}
	rows, err := db.with(ctx).Raw(`SELECT job_id, row_num, masked_number, reason, message FROM import_rejects
		WHERE job_id = ? AND row_num > ? ORDER BY row_num LIMIT ?`, jobID, afterRow, min(limit, MaxListLimit)).Rows()
	if err != nil {
		return nil, db.classify("store.ListImportRejects", err)
	}
	defer rows.Close()
	var out []ImportReject
	for rows.Next() {
		var r ImportReject
		if err := rows.Scan(&r.JobID, &r.Row, &r.MaskedNumber, &r.Reason, &r.Message); err != nil {
			return nil, db.classify("store.ListImportRejects", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, db.classify("store.ListImportRejects", err)
	}
	return out, nil
}
