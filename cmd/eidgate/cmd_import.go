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
			if _, err := os.Stat(path); err != nil {
				return &exitError{code: 2, err: err}
			}
			if rejects == "" {
				rejects = path + ".rejects.csv"
			}
			m, err := tf.open(cmd)
			if err != nil {
				return err
			}
			defer m.Close()

			rf, err := os.OpenFile(rejects, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
			if err != nil {
				return err
			}
			defer rf.Close()
			rw := mapping.NewRejectWriter(rf)

			out := cmd.ErrOrStderr()
			var bar *progressbar.ProgressBar
			if !noBar {
				bar = progressbar.NewOptions64(-1,
					progressbar.OptionSetWriter(out),
					progressbar.OptionSetDescription("importing "+filepath.Base(path)),
					progressbar.OptionShowCount(),
					progressbar.OptionShowIts(),
					progressbar.OptionSetItsString("rows"),
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
					_ = bar.Set64(j.Done)
				},
				OnReject: func(r mapping.ImportReject) { _ = rw.Write(r) },
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
				_ = bar.Finish()
				fmt.Fprintln(out)
			}
			if ferr := rw.Flush(); ferr != nil && err == nil {
				err = ferr
			}
			if err != nil {
				return err
			}
			elapsed := time.Since(start)
			rate := float64(job.Done) / max(elapsed.Seconds(), 1e-9)
			w := cmd.OutOrStdout()
			mode := ""
			if dryRun {
				mode = " (dry run: nothing written)"
			}
			fmt.Fprintf(w, "import %s %s%s\n", job.ID[:min(12, len(job.ID))], job.Status, mode)
			fmt.Fprintf(w, "  rows %d: created %d, existing %d, rejected %d\n", job.Done, job.Created, job.Existing, job.Rejected)
			if !job.FinishedAt.IsZero() && job.FinishedAt.Before(start) {
				fmt.Fprintf(w, "  this file was imported before (finished %s); nothing to do\n", job.FinishedAt.Local().Format(time.DateTime))
			} else {
				fmt.Fprintf(w, "  %.0f rows/s in %s\n", rate, elapsed.Round(time.Millisecond))
			}
			if job.Rejected > 0 {
				fmt.Fprintf(w, "  reject report: %s\n", rejects)
			} else {
				_ = os.Remove(rejects)
			}
			return nil
		},
	}
	f := cmd.Flags()
	tf.bind(f)
	f.BoolVar(&dryRun, "dry-run", false, "validate and count only; write nothing")
	f.IntVar(&batch, "batch", 0, "rows per ledger transaction (default 1000)")
	f.IntVar(&parallel, "parallel", 0, "ledger transactions in flight (default 4)")
	f.StringVar(&rejects, "rejects", "", "reject report path (default FILE.rejects.csv)")
	f.StringVar(&officer, "officer", "cli", "who runs the import, recorded with the job")
	f.StringVar(&formatArg, "format", "", "csv or jsonl (default: from the extension or content)")
	f.BoolVar(&noBar, "no-progress", false, "do not draw the progress bar")
	return cmd
}
