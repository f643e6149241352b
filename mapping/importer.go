package mapping

import (
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/routing"
)

// Import job statuses; the first three are the ones a job store keeps.
const (
	ImportRunning   = "running"   // a run is under way (or the process running it died: rerun to resume)
	ImportDone      = "done"      // every row is committed
	ImportFailed    = "failed"    // a run stopped on an error or was cancelled (Error says which); rerun to resume
	ImportValidated = "validated" // a dry run: rows validated and counted, nothing written
)

// ImportJob is a bulk import's progress. Its ID is the hex SHA-256 of the
// file; Done counts the rows whose outcome is committed, which is where a
// rerun resumes.
type ImportJob struct {
	ID         string    `json:"id"`
	FileName   string    `json:"file_name"`
	Status     string    `json:"status"`
	Total      int64     `json:"total"`
	Done       int64     `json:"done"`
	Created    int64     `json:"created"`
	Existing   int64     `json:"existing"`
	Rejected   int64     `json:"rejected"`
	RowsPerSec float64   `json:"rows_per_second"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	Error      string    `json:"error,omitempty"`
	// UpdatedAt is when the job store last saved the job.
	UpdatedAt time.Time `json:"-"`
}

// storedRate sets RowsPerSec of a job read from the store: its rows over
// the time from its start to its finish, or to its last save while it runs.
func (j *ImportJob) storedRate() {
	end := j.FinishedAt
	if end.IsZero() {
		end = j.UpdatedAt
	}
	j.RowsPerSec = 0
	if secs := end.Sub(j.StartedAt).Seconds(); secs > 0 {
		j.RowsPerSec = float64(j.Done) / secs
	}
}

// Defaults of an import.
const (
	DefaultImportBatchSize = 1000 // rows per CreateEIDs transaction (the contract's maximum)
	DefaultImportParallel  = 4    // ledger submissions in flight
)

// ImporterConfig is what an Importer is built from.
type ImporterConfig struct {
	// Service maps the imported documents (required): its ledger, stores
	// and keys.
	Service *Service
	// Jobs keeps the import jobs (required).
	Jobs ImportJobStore
	// SpoolDir keeps uploaded files while their import runs, so that a
	// failed run can resume from the same bytes; default os.TempDir().
	SpoolDir  string
	BatchSize int // default DefaultImportBatchSize
	Parallel  int // default DefaultImportParallel
}

// Importer runs bulk imports of identity documents: each valid row becomes
// an eID (or is found to have one), in CreateEIDs batches of one
// transaction each. Start runs an upload in the background (the API and the
// console); Import is the entry point of `eidgate import FILE`.
//
// An import is keyed by the SHA-256 of its file. Running the same file again
// resumes its unfinished job from the last committed row, or reports the
// finished job. Because the contract answers "exists" for documents already
// mapped, nothing is created twice, even when a run stopped between a
// ledger commit and the progress update.
type Importer struct {
	svc      *Service
	jobs     ImportJobStore
	spoolDir string
	batch    int
	parallel int

	base    context.Context
	stop    context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex
	running map[string]bool
}

// NewImporter checks cfg and builds an importer over the mapping
// service's ledger, stores and keys.
func NewImporter(cfg ImporterConfig) (*Importer, error) {
	const op = "mapping.NewImporter"
	if cfg.Service == nil {
		return nil, routing.MissingDependency(op, "the mapping service")
	}
	if cfg.Jobs == nil {
		return nil, routing.MissingDependency(op, "an import job store")
	}
	im := &Importer{svc: cfg.Service, jobs: cfg.Jobs, spoolDir: cfg.SpoolDir, batch: cfg.BatchSize, parallel: cfg.Parallel, running: map[string]bool{}}
	if im.spoolDir == "" {
		im.spoolDir = os.TempDir()
	}
	if im.batch <= 0 {
		im.batch = DefaultImportBatchSize
	}
	if im.parallel <= 0 {
		im.parallel = DefaultImportParallel
	}
	im.base, im.stop = context.WithCancel(context.Background())
	return im, nil
}

// Close cancels the imports running in the background and waits for them;
// their jobs are left failed ("cancelled"), ready to resume.
func (im *Importer) Close() error {
	im.stop()
	im.wg.Wait()
	return nil
}

// ImportOptions describe one import.
type ImportOptions struct {
	// Path is the file to import; or Reader supplies its bytes (they are
	// spooled to a temporary file first, to be hashed and read again).
	Path   string
	Reader io.Reader
	// FileName names the file in the job (default: Path's base name); its
	// extension selects the format unless Format is set.
	FileName string
	Format   ImportFormat // empty: from the extension or the content
	// DryRun validates and counts the rows only; nothing is written to the
	// ledger or the database.
	DryRun    bool
	BatchSize int // rows per ledger transaction, at most model.MaxBatch; default the importer's
	Parallel  int // ledger submissions in flight; default the importer's
	Officer   string
	// Progress is called after every committed batch, in order.
	Progress func(ImportJob)
	// OnReject is called for every rejected row, in file order.
	OnReject func(ImportReject)
}

// importSource is an import file on disk, hashed.
type importSource struct {
	path  string
	id    string // hex SHA-256 of the content
	lines int64  // non-empty lines, the estimate of the row count
	head  []byte // the first bytes, for format detection
	temp  bool   // a spooled copy to remove once done
}

// Import runs an import to its end (or the first error) and returns the
// job. A finished job of the same file is returned as it is.
func (im *Importer) Import(ctx context.Context, opts ImportOptions) (*ImportJob, error) {
	const op = "mapping.Import"
	src, err := im.source(opts)
	if err != nil {
		return nil, routing.Wrap(op, err)
	}
	if src.temp {
		defer os.Remove(src.path)
	}
	if opts.FileName == "" && opts.Path != "" {
		opts.FileName = filepath.Base(opts.Path)
	}
	if opts.FileName == "" {
		opts.FileName = "upload"
	}
	if opts.DryRun {
		job := &ImportJob{ID: src.id, FileName: opts.FileName, Status: ImportRunning, Total: src.lines, StartedAt: im.svc.clock.Now()}
		return im.execute(ctx, src, job, opts)
	}
	job, finished, err := im.begin(ctx, src, opts.FileName, opts.Officer)
	if err != nil || finished {
		return job, err
	}
	defer im.release(src.id)
	return im.execute(ctx, src, job, opts)
}

// Start spools an uploaded file and imports it in the background; the
// returned job is its state at the start.
func (im *Importer) Start(ctx context.Context, fileName string, body io.Reader, officer string) (*ImportJob, error) {
	const op = "mapping.ImportStart"
	src, err := im.spoolTo(body, im.spoolDir, true)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, routing.Invalid(op, "file", "the file is larger than the %d bytes an upload may have; import it with eidgate import", tooLarge.Limit).WithCode("file_too_large")
	}
	if err != nil {
		return nil, routing.Wrap(op, err)
	}
	src.temp = false // kept until the job finishes, so a failed run can resume
	job, finished, err := im.begin(ctx, src, fileName, officer)
	if err != nil {
		if !routing.IsKind(err, routing.KindConflict) {
			_ = os.Remove(src.path)
		}
		return nil, err
	}
	if finished {
		_ = os.Remove(src.path)
		return job, nil
	}
	snapshot := *job
	im.wg.Add(1)
	go func() {
		defer im.wg.Done()
		defer im.release(src.id)
		out, err := im.execute(im.base, src, job, ImportOptions{FileName: fileName, Officer: officer})
		if err == nil && out.Status == ImportDone {
			_ = os.Remove(src.path)
		}
	}()
	return &snapshot, nil
}

// Job returns an import job.
func (im *Importer) Job(ctx context.Context, id string) (*ImportJob, error) {
	const op = "mapping.ImportJob"
	if !model.ValidHex64(id) {
		return nil, routing.Invalid(op, "id", "an import id is the 64 hex digits of the file's SHA-256").WithCode("invalid_import_id")
	}
	job, err := im.jobs.Import(ctx, id)
	if routing.IsKind(err, routing.KindNotFound) {
		return nil, &routing.Error{Kind: routing.KindNotFound, Code: "import_not_found", Op: op, Message: "no import with this id"}
	}
	if err != nil {
		return nil, routing.Wrap(op, err)
	}
	job.storedRate()
	return job, nil
}

// Jobs lists the most recent imports.
func (im *Importer) Jobs(ctx context.Context, limit int) ([]ImportJob, error) {
	if limit <= 0 || limit > 1000 {
		limit = 50
	}
	out, err := im.jobs.Imports(ctx, limit)
	if err != nil {
		return nil, routing.Wrap("mapping.ImportJobs", err)
	}
	for i := range out {
		out[i].storedRate()
	}
	return out, nil
}

// WriteRejects writes the reject report of a job as CSV with the columns
// row, masked_number, reason, message.
func (im *Importer) WriteRejects(ctx context.Context, id string, w io.Writer) error {
	if _, err := im.Job(ctx, id); err != nil {
		return err
	}
	rw := NewRejectWriter(w)
	if err := im.jobs.ImportRejects(ctx, id, rw.Write); err != nil {
		return routing.Wrap("mapping.WriteRejects", err)
	}
	return rw.Flush()
}

// RejectWriter writes a reject report as CSV: a header line, then one line
// per rejected row (row, masked_number, reason, message).
type RejectWriter struct {
	cw     *csv.Writer
	header bool
}

// NewRejectWriter returns a writer of a reject report to w.
func NewRejectWriter(w io.Writer) *RejectWriter { return &RejectWriter{cw: csv.NewWriter(w)} }

// Write adds one rejected row.
func (rw *RejectWriter) Write(r ImportReject) error {
	if !rw.header {
		rw.header = true
		if err := rw.cw.Write([]string{"row", "masked_number", "reason", "message"}); err != nil {
			return err
		}
	}
	return rw.cw.Write([]string{strconv.FormatInt(r.Row, 10), spreadsheetSafe(r.Masked), r.Reason, spreadsheetSafe(r.Message)})
}

// Flush writes the header of an empty report and flushes.
func (rw *RejectWriter) Flush() error {
	if !rw.header {
		rw.header = true
		_ = rw.cw.Write([]string{"row", "masked_number", "reason", "message"})
	}
	rw.cw.Flush()
	return rw.cw.Error()
}

// spreadsheetSafe keeps a cell from being read as a formula.
func spreadsheetSafe(s string) string {
	if s != "" && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@') {
		return "'" + s
	}
	return s
}

// --- sources and jobs ---

func (im *Importer) source(opts ImportOptions) (*importSource, error) {
	switch {
	case opts.Path != "" && opts.Reader != nil:
		return nil, errors.New("give the import file as a path or a reader, not both")
	case opts.Reader != nil:
		return im.spoolTo(opts.Reader, im.spoolDir, false)
	case opts.Path == "":
		return nil, errors.New("no import file given")
	}
	f, err := os.Open(opts.Path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	src := &importSource{path: opts.Path}
	if err := src.scan(f, io.Discard); err != nil {
		return nil, fmt.Errorf("reading %s: %w", opts.Path, err)
	}
	return src, nil
}

// spoolTo copies r into dir while hashing it. A kept spool file is named
// after the hash, so an upload of the same file finds it again.
func (im *Importer) spoolTo(r io.Reader, dir string, keep bool) (*importSource, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, ".import-*")
	if err != nil {
		return nil, err
	}
	src := &importSource{path: f.Name(), temp: true}
	err = src.scan(r, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return nil, err
	}
	if keep {
		kept := filepath.Join(dir, src.id+".import")
		if err := os.Rename(f.Name(), kept); err != nil {
			_ = os.Remove(f.Name())
			return nil, err
		}
		src.path = kept
	}
	return src, nil
}

// scan hashes r, copying it to w, and counts its non-empty lines.
func (src *importSource) scan(r io.Reader, w io.Writer) error {
	h := sha256.New()
	buf := make([]byte, 256<<10)
	inLine := false
	for {
		n, err := r.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			h.Write(chunk)
			if _, werr := w.Write(chunk); werr != nil {
				return werr
			}
			if len(src.head) < 4096 {
				src.head = append(src.head, chunk[:min(len(chunk), 4096-len(src.head))]...)
			}
			for _, c := range chunk {
				switch c {
				case '\n':
					if inLine {
						src.lines++
					}
					inLine = false
				case ' ', '\t', '\r':
				default:
					inLine = true
				}
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
	}
	if inLine {
		src.lines++
	}
	src.id = hex.EncodeToString(h.Sum(nil))
	return nil
}

// begin claims the job of src in this process and creates or resumes its
// record. finished reports a job that is already complete.
func (im *Importer) begin(ctx context.Context, src *importSource, fileName, officer string) (job *ImportJob, finished bool, err error) {
	const op = "mapping.Import"
	im.mu.Lock()
	if im.running[src.id] {
		im.mu.Unlock()
		// A run that has just recorded its end lets go of the file a
		// moment later: its finished job is the answer, not a conflict.
		if job, err := im.jobs.Import(ctx, src.id); err == nil && job.Status == ImportDone {
			return job, true, nil
		}
		return nil, false, &routing.Error{Kind: routing.KindConflict, Code: "import_running", Op: op,
			Message: "this file is being imported right now", Details: map[string]string{"id": src.id}}
	}
	im.running[src.id] = true
	im.mu.Unlock()
	defer func() {
		if err != nil || finished {
			im.release(src.id)
		}
	}()

	job, err = im.jobs.Import(ctx, src.id)
	if err != nil && !routing.IsKind(err, routing.KindNotFound) {
		return nil, false, routing.Wrap(op, err)
	}
	now := im.svc.clock.Now()
	switch {
	case job == nil:
		job = &ImportJob{ID: src.id, FileName: fileName, Status: ImportRunning, Total: src.lines, StartedAt: now}
		if err := im.jobs.CreateImport(ctx, *job, officer); err != nil {
			return nil, false, routing.Wrap(op, err)
		}
		im.svc.log.InfoContext(ctx, "import started", "import", src.id, "rows_estimate", src.lines, "officer", officer)
	case job.Status == ImportDone:
		im.svc.log.InfoContext(ctx, "import already finished; nothing to do", "import", src.id)
		return job, true, nil
	default:
		job.Status, job.Error, job.StartedAt, job.FinishedAt, job.RowsPerSec = ImportRunning, "", now, time.Time{}, 0
		if job.Total < job.Done {
			job.Total = job.Done
		}
		if err := im.jobs.SaveImport(ctx, *job, nil); err != nil {
			return nil, false, routing.Wrap(op, err)
		}
		im.svc.log.InfoContext(ctx, "import resumed", "import", src.id, "from_row", job.Done, "officer", officer)
	}
	return job, false, nil
}

func (im *Importer) release(id string) {
	im.mu.Lock()
	delete(im.running, id)
	im.mu.Unlock()
}

// execute runs the rows of src after job.Done and records the outcome.
func (im *Importer) execute(ctx context.Context, src *importSource, job *ImportJob, opts ImportOptions) (*ImportJob, error) {
	const op = "mapping.Import"
	f, err := os.Open(src.path)
	if err != nil {
		return im.fail(ctx, job, opts.DryRun, routing.Wrap(op, err))
	}
	defer f.Close()
	format := opts.Format
	if format == "" {
		format = DetectImportFormat(opts.FileName, src.head)
	}
	rr, err := newRowReader(format, f)
	if err != nil {
		return im.fail(ctx, job, opts.DryRun, routing.Wrap(op, err))
	}
	run := &importRun{
		im: im, job: job, rows: rr, dry: opts.DryRun, officer: opts.Officer,
		batch: opts.BatchSize, parallel: opts.Parallel, progress: opts.Progress, onReject: opts.OnReject,
		started: time.Now(), startDone: job.Done,
	}
	if run.batch <= 0 {
		run.batch = im.batch
	}
	run.batch = min(run.batch, model.MaxBatch)
	if run.parallel <= 0 {
		run.parallel = im.parallel
	}
	if err := run.run(ctx); err != nil {
		return im.fail(ctx, job, opts.DryRun, err)
	}
	job.Status, job.FinishedAt = ImportDone, im.svc.clock.Now()
	if opts.DryRun {
		job.Status = ImportValidated
		return job, nil
	}
	if err := im.jobs.SaveImport(ctx, *job, nil); err != nil {
		return job, routing.Wrap(op, err)
	}
	im.svc.log.InfoContext(ctx, "import finished", "import", job.ID, "rows", job.Total, "created", job.Created,
		"existing", job.Existing, "rejected", job.Rejected, "rows_per_second", int64(job.RowsPerSec))
	return job, nil
}

// fail records a stopped run as failed, with an error text saying whether
// it was cancelled. The committed rows stay committed.
func (im *Importer) fail(ctx context.Context, job *ImportJob, dry bool, err error) (*ImportJob, error) {
	job.Status, job.Error = ImportFailed, routing.MessageOf(err)
	if ctx.Err() != nil {
		job.Error = "the import was cancelled; run it again to resume"
		err = routing.Unavailable("mapping.Import", "import_interrupted", job.Error, err)
	}
	if dry {
		return job, err
	}
	im.svc.log.WarnContext(ctx, "import stopped", "import", job.ID, "status", job.Status, "committed_rows", job.Done, "err", err)
	saveCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if serr := im.jobs.SaveImport(saveCtx, *job, nil); serr != nil {
		im.svc.log.ErrorContext(ctx, "recording the stopped import failed", "import", job.ID, "err", serr)
	}
	return job, err
}

// --- the pipeline ---

// importRun is one run over an import file: one goroutine reads, validates
// and blinds the rows in order and cuts batches; `parallel` workers submit
// them to the ledger and store their documents; the caller's goroutine
// commits progress over the contiguous prefix of finished batches.
type importRun struct {
	im        *Importer
	job       *ImportJob
	rows      rowReader
	dry       bool
	officer   string
	batch     int
	parallel  int
	progress  func(ImportJob)
	onReject  func(ImportReject)
	started   time.Time
	startDone int64
}

type importItem struct {
	row     int64
	doc     Document
	ref     string
	indexes []Index // every key version, newest first
}

type importBatch struct {
	seq     int
	end     int64 // rows of the file consumed up to the end of this batch: the resume offset
	items   []importItem
	rejects []ImportReject
}

type batchResult struct {
	seq               int
	end               int64
	created, existing int64
	rejects           []ImportReject
	err               error
}

func (r *importRun) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan *importBatch, r.parallel)
	results := make(chan batchResult, r.parallel)

	var readErr error
	var records int64
	go func() {
		defer close(batches)
		records, readErr = r.read(ctx, batches)
		if readErr != nil {
			cancel()
		}
	}()
	var workers sync.WaitGroup
	for range r.parallel {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for b := range batches {
				res := r.process(ctx, b)
				results <- res
				if res.err != nil {
					cancel()
				}
			}
		}()
	}
	go func() {
		workers.Wait()
		close(results)
	}()

	commitErr := r.commit(ctx, results)
	if commitErr != nil {
		cancel()
	}
	for range results { // drain after an error, so the workers can finish
	}
	// The reader's error is the cause when there is one: the workers only
	// saw the cancellation it led to.
	switch {
	case readErr != nil:
		return routing.Wrap("mapping.Import", readErr)
	case commitErr != nil:
		return commitErr
	case ctx.Err() != nil:
		return ctx.Err()
	}
	r.job.Total = records
	return nil
}

// read validates, blinds and deduplicates every row in file order and cuts
// batches of up to r.batch valid rows. Rows before the committed offset are
// read again only to know the documents they hold (for duplicates).
func (r *importRun) read(ctx context.Context, out chan<- *importBatch) (int64, error) {
	offset := r.job.Done
	keys := r.im.svc.Keyring()
	now := r.im.svc.clock.Now()
	seen := make(map[[16]byte]int64, min(max(r.job.Total, 1024), 1<<22))
	var records int64
	seq, emitted := 0, offset
	cur := &importBatch{}
	emit := func() bool {
		cur.seq, cur.end = seq, records
		seq++
		emitted = records
		select {
		case out <- cur:
		case <-ctx.Done():
			return false
		}
		cur = &importBatch{items: make([]importItem, 0, r.batch)}
		return true
	}
	var row importRow
	for {
		err := r.rows.next(&row)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return records, err
		}
		records++
		skip := records <= offset
		reject := func(masked, reason, msg string) {
			if !skip {
				cur.rejects = append(cur.rejects, ImportReject{Row: row.line, Masked: masked, Reason: reason, Message: msg})
			}
		}
		if reason, msg := checkRow(&row); reason != "" {
			reject(maskedInput(row.in.Number), reason, msg)
		} else if doc, err := Parse(row.in, now); err != nil {
			if re := rejectionOf(err); re != nil {
				reject(re.Details[detailMasked], re.Details[detailReason], re.Message)
			} else {
				reject(maskedInput(row.in.Number), string(ReasonFormat), "the document was rejected")
			}
		} else {
			indexes, _ := keys.BlindAll(doc)
			var k [16]byte
			_, _ = hex.Decode(k[:], []byte(indexes[0].Value[:32]))
			if first, dup := seen[k]; dup {
				reject(doc.Mask(), RejectDuplicate, "the same document as row "+strconv.FormatInt(first, 10))
			} else {
				seen[k] = row.line
				if !skip {
					cur.items = append(cur.items, importItem{row: row.line, doc: doc, ref: row.ref, indexes: indexes})
				}
			}
		}
		if (len(cur.items) >= r.batch || len(cur.rejects) >= r.batch) && !emit() {
			return records, nil
		}
		if records%4096 == 0 && ctx.Err() != nil {
			return records, nil
		}
	}
	if records > emitted {
		emit()
	}
	return records, nil
}

// maskedInput masks a raw field that could not be parsed.
func maskedInput(s string) string {
	s = fold(s)
	if len(s) > maxInputBytes {
		s = s[:maxInputBytes]
	}
	return Mask(s)
}

// process submits one batch and stores the documents it created.
func (r *importRun) process(ctx context.Context, b *importBatch) batchResult {
	res := batchResult{seq: b.seq, end: b.end, rejects: b.rejects}
	if r.dry || len(b.items) == 0 {
		return res
	}
	svc := r.im.svc
	reqs := make([]model.EIDRequest, len(b.items))
	for i, it := range b.items {
		reqs[i] = model.EIDRequest{Ref: strconv.FormatInt(it.row, 10), Indexes: toModel(it.indexes)}
	}
	outcomes, err := withLedgerRetry(ctx, func() ([]model.EIDOutcome, error) { return svc.ledger.CreateEIDs(ctx, reqs) })
	if err != nil {
		res.err = routing.Wrap("mapping.Import", err)
		return res
	}
	if len(outcomes) != len(reqs) {
		res.err = routing.Errorf(routing.KindInternal, "mapping.Import", "the ledger answered %d outcomes for %d rows", len(outcomes), len(reqs))
		return res
	}
	now := svc.clock.Now()
	addedBy := "import:" + r.job.ID
	var store []StoredDocument
	type existing struct {
		item *importItem
		eid  string
		held Index // the newest index the ledger holds
	}
	var maybeStored []existing
	for i, o := range outcomes {
		it := &b.items[i]
		if o.Ref != reqs[i].Ref {
			res.err = routing.Errorf(routing.KindInternal, "mapping.Import", "the ledger answered the outcomes out of order")
			return res
		}
		switch o.Outcome {
		case model.OutcomeCreated:
			store = append(store, svc.stored(it.doc, it.indexes[0], o.EID, it.ref, addedBy, now))
			res.created++
		case model.OutcomeExists:
			maybeStored = append(maybeStored, existing{it, o.EID, it.indexes[0]})
		default:
			// With several key versions an item may be mapped under an older
			// one only (a rotation under way): that is an existing document.
			eid, held, err := r.heldByOne(ctx, it.indexes)
			if err != nil {
				res.err = routing.Wrap("mapping.Import", err)
				return res
			}
			if eid == "" {
				res.rejects = append(res.rejects, ImportReject{Row: it.row, Masked: it.doc.Mask(), Reason: RejectConflict, Message: "the ledger refused the row: " + o.Reason})
				continue
			}
			maybeStored = append(maybeStored, existing{it, eid, held})
		}
	}
	if len(maybeStored) > 0 {
		var ask []Index
		for _, e := range maybeStored {
			ask = append(ask, e.item.indexes...)
		}
		known, err := svc.docs.DocumentsByIndex(ctx, ask)
		if err != nil {
			res.err = routing.Wrap("mapping.Import", err)
			return res
		}
		storedBy := make(map[Index]string, len(known))
		for _, sd := range known {
			storedBy[sd.Index()] = sd.AddedBy
		}
		for _, e := range maybeStored {
			by, stored := "", false
			for _, idx := range e.item.indexes {
				if b, ok := storedBy[idx]; ok {
					by, stored = b, true
				}
			}
			switch {
			case stored && by == addedBy:
				// Created and stored by an earlier run of this import whose
				// progress was not recorded.
				res.created++
				continue
			case stored:
				res.existing++
				continue
			}
			// Mapped on the ledger but never stored: a run that stopped
			// between the ledger commit and the database. It was created by
			// this import, so it counts as created.
			store = append(store, svc.stored(e.item.doc, e.held, e.eid, e.item.ref, addedBy, now))
			res.created++
		}
	}
	if len(store) > 0 {
		if err := svc.docs.PutDocuments(ctx, store); err != nil {
			res.err = routing.Unavailable("mapping.Import", "database_unavailable", "storing the documents of a batch failed", err)
		}
	}
	return res
}

// heldByOne returns the eID that holds some of indexes when no other eID
// holds any, and the newest index it holds; "" otherwise.
func (r *importRun) heldByOne(ctx context.Context, indexes []Index) (string, Index, error) {
	if len(indexes) < 2 {
		return "", Index{}, nil
	}
	holder, held := "", Index{}
	for _, idx := range indexes {
		eid, err := r.im.svc.holderOf(ctx, idx)
		if err != nil {
			return "", Index{}, err
		}
		switch {
		case eid == "":
		case holder == "":
			holder, held = eid, idx
		case eid != holder:
			return "", Index{}, nil
		}
	}
	return holder, held, nil
}

// commit records the finished batches in file order: the committed offset
// only ever covers a contiguous prefix of the file. Batches that finished
// while it was saving are recorded together, in one save: a save waits
// for the database's writer behind other batches' documents, and with one
// save per batch the workers stood waiting for it to take their results.
func (r *importRun) commit(ctx context.Context, results <-chan batchResult) error {
	pending := map[int]batchResult{}
	next := 0
	for res := range results {
		failed := takeWaiting(res, results, pending)
		// The job moves on only once the store has the batches: a job
		// saved later (as failed) must not count rows whose rejects were
		// never written.
		job := *r.job
		var rejects []ImportReject
		moved := false
		for {
			b, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			moved = true
			job.Done = max(job.Done, b.end)
			job.Created += b.created
			job.Existing += b.existing
			job.Rejected += int64(len(b.rejects))
			rejects = append(rejects, b.rejects...)
		}
		if moved {
			job.Total = max(job.Total, job.Done)
			if secs := time.Since(r.started).Seconds(); secs > 0 {
				job.RowsPerSec = float64(job.Done-r.startDone) / secs
			}
			if !r.dry {
				if err := r.im.jobs.SaveImport(ctx, job, rejects); err != nil {
					return routing.Unavailable("mapping.Import", "database_unavailable", "recording import progress failed", err)
				}
			}
			*r.job = job
			if r.onReject != nil {
				for _, rj := range rejects {
					r.onReject(rj)
				}
			}
			if r.progress != nil {
				r.progress(job)
			}
		}
		if failed != nil {
			return failed
		}
	}
	return nil
}

// takeWaiting adds res and every result already waiting in results to
// pending, and returns the first error among them (what follows it is
// left unread).
func takeWaiting(res batchResult, results <-chan batchResult, pending map[int]batchResult) error {
	for {
		if res.err != nil {
			return res.err
		}
		pending[res.seq] = res
		var ok bool
		select {
		case res, ok = <-results:
			if !ok {
				return nil
			}
		default:
			return nil
		}
	}
}

// withLedgerRetry retries a call that failed because the ledger was
// unavailable, a few times with backoff. Resubmitting CreateEIDs is safe:
// items already committed come back as "exists".
func withLedgerRetry[T any](ctx context.Context, call func() (T, error)) (T, error) {
	wait := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		v, err := call()
		if err == nil || attempt == 4 || !routing.IsKind(err, routing.KindUnavailable) || ctx.Err() != nil {
			return v, err
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return v, err
		}
		wait *= 2
	}
}
