package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/eidgate/eidgate/audit"
	"github.com/eidgate/eidgate/mapping"
)

func newImportCmd() *cobra.Command {
	var tf toolFlags
	var (
		dryRun    bool
		batch     int
		parallel  int
		rejects   string
		officer   string
		noBar     bool
		formatArg string
	)
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Map identity documents to eIDs in bulk (CSV or JSON lines)",
		Long: `Import identity documents in bulk: every valid row becomes an eID (or is
found to have one already), in ledger batches of one transaction each.

FILE is CSV (columns: document type, number, optional external reference,
optional issuing country for passports; a header line is optional) or JSON
lines ({"type","number","country","ref"}). Rows that fail validation are
written to the reject report (row, masked number, reason); no full document
number is ever printed.

An import is keyed by the file's SHA-256: running the same file again resumes
where it stopped (after a crash, too) and creates nothing twice. --dry-run
validates and counts only.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := args[0]
			st, err := os.Stat(path)
			if err != nil {
				return fileError(err)
			}
			if st.IsDir() {
				return usageError("%s is a directory; give the file to import", path)
			}
			errw := cmd.ErrOrStderr()
			if st.Size() == 0 {
				fmt.Fprintf(errw, "Warning: %s is empty; nothing to import\n", path)
				return nil
			}
			// A dry run writes nothing: its rejects are listed here, not
			// written to a report, unless --rejects names one.
			writeReport := !dryRun || rejects != ""
			if rejects == "" {
				rejects = path + ".rejects.csv"
			}
			m, err := tf.open(cmd)
			if err != nil {
				return err
			}
			defer m.Close()

			var rw *mapping.RejectWriter
			// A dry run keeps the first rejects to list and counts the rest.
			var listed []mapping.ImportReject
			unlisted := 0
			if writeReport {
				rf, err := os.OpenFile(rejects, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
				if err != nil {
					return fileError(err)
				}
				defer rf.Close()
				rw = mapping.NewRejectWriter(rf)
			}

			var bar *progressbar.ProgressBar
			if !noBar {
				bar = progressbar.NewOptions64(-1,
					progressbar.OptionSetWriter(errw),
					progressbar.OptionSetDescription("importing "+filepath.Base(path)),
					progressbar.OptionShowCount(),
					progressbar.OptionThrottle(200*time.Millisecond),
					progressbar.OptionShowElapsedTimeOnFinish(),
					progressbar.OptionSetPredictTime(true),
				)
			}
			start := time.Now()
			opts := mapping.ImportOptions{
				Path: path, Format: mapping.ImportFormat(formatArg), DryRun: dryRun,
				BatchSize: batch, Parallel: parallel, Officer: officer,
				Progress: func(j mapping.ImportJob) {
					if bar == nil {
						return
					}
					if j.Total > 0 && bar.GetMax64() != j.Total {
						bar.ChangeMax64(j.Total)
					}
					bar.Describe(fmt.Sprintf("importing %s, %.0f rows/s", filepath.Base(path), j.RowsPerSec))
					_ = bar.Set64(j.Done)
				},
				OnReject: func(r mapping.ImportReject) {
					switch {
					case rw != nil:
						_ = rw.Write(r)
					case len(listed) < maxListedRejects:
						listed = append(listed, r)
					default:
						unlisted++
					}
				},
			}
			// A dry run changes nothing and is not an act; an import is
			// recorded with its outcome.
			var job *mapping.ImportJob
			if dryRun {
				job, err = m.importer.Import(cmd.Context(), opts)
			} else {
				job, err = audit.Do(cmd.Context(), m.trail, audit.Entry{Act: audit.ActImport, Target: filepath.Base(path)},
					func(ctx context.Context) (*mapping.ImportJob, error) { return m.importer.Import(ctx, opts) },
					func(j *mapping.ImportJob) any {
						return map[string]any{"job": j.ID, "file": j.FileName, "created": j.Created, "existing": j.Existing, "rejected": j.Rejected}
					})
			}
			if bar != nil {
				if job != nil {
					// The end as the summary says it: the rows read, not
					// the line count estimated at the start.
					bar.ChangeMax64(max(job.Done, 1))
					_ = bar.Set64(job.Done)
				}
				_ = bar.Finish()
				fmt.Fprintln(errw)
			}
			if rw != nil {
				if ferr := rw.Flush(); ferr != nil && err == nil {
					err = ferr
				}
			}
			if err != nil {
				return err
			}
			elapsed := time.Since(start)
			w := cmd.OutOrStdout()
			mode := ""
			if dryRun {
				mode = " (dry run: nothing written)"
			}
			fmt.Fprintf(w, "import %s %s%s\n", job.ID[:min(12, len(job.ID))], job.Status, mode)
			fmt.Fprintf(w, "  rows %d: created %d, existing %d, rejected %d\n", job.Done, job.Created, job.Existing, job.Rejected)
			if !job.FinishedAt.IsZero() && job.FinishedAt.Before(start) {
				fmt.Fprintf(w, "  this file was imported before (finished %s); nothing to do\n", cliTime(job.FinishedAt))
			} else {
				// The importer's rate (rows of this run over its time), the
				// one the bar showed.
				fmt.Fprintf(w, "  %.0f rows/s, %s in all\n", job.RowsPerSec, elapsed.Round(time.Millisecond))
			}
			switch {
			case job.Rejected > 0 && rw != nil:
				fmt.Fprintf(w, "  reject report: %s\n", rejects)
			case rw != nil:
				_ = os.Remove(rejects)
			}
			for _, r := range listed {
				fmt.Fprintf(w, "  row %d: %s %s: %s\n", r.Row, r.Masked, r.Reason, r.Message)
			}
			if unlisted > 0 {
				fmt.Fprintf(w, "  … and %d more rejected rows (--rejects FILE writes them all)\n", unlisted)
			}
			if job.Done == 0 {
				fmt.Fprintf(errw, "Warning: %s holds no rows to import (only blank lines or a header)\n", path)
			}
			return nil
		},
	}
	f := cmd.Flags()
	tf.bind(f)
	f.BoolVar(&dryRun, "dry-run", false, "validate and count only; write nothing (rejects are listed, or written to --rejects FILE when given)")
	f.IntVar(&batch, "batch", 0, "rows per ledger transaction (default 1000)")
	f.IntVar(&parallel, "parallel", 0, "ledger transactions in flight (default 4)")
	f.StringVar(&rejects, "rejects", "", "reject report path (default FILE.rejects.csv)")
	f.StringVar(&officer, "officer", "cli", "who runs the import, recorded with the job")
	f.StringVar(&formatArg, "format", "", "csv or jsonl (default: from the extension or content)")
	f.BoolVar(&noBar, "no-progress", false, "do not draw the progress bar")
	return cmd
}

// maxListedRejects bounds the rejects a dry run lists.
const maxListedRejects = 20
