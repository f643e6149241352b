package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/eidgate/eidgate/mapping"
)

// importPostgres runs the import part again on a second in-process gateway
// whose database is a fresh schema of --db (the embedded peer as before):
// the pg_* figures of the import.
func (r *Runner) importPostgres(ctx context.Context, rep *Report) error {
	if r.openDB == nil {
		return nil
	}
	dsn, drop, err := postgresSchema(ctx, r.opts.DB)
	if err != nil {
		return err
	}
	defer drop()
	m, err := r.openDB(ctx, filepath.Join(r.dir, "inprocess-pg"), dsn)
	if err != nil {
		return fmt.Errorf("in-process gateway on PostgreSQL: %w", err)
	}
	defer m.Close()
	stop := r.profile("import-pg")
	res, err := r.importFile(ctx, m, "residents-pg.csv")
	stop()
	if err != nil {
		return err
	}
	rep.Import.PGRows, rep.Import.PGSeconds, rep.Import.PGRowsPerS = res.Rows, res.Seconds, res.RowsPerS
	rep.Import.PGCPUUsPerRow = res.CPUUsPerRow
	rep.Import.PGFirstTenthRowsPerS, rep.Import.PGLastTenthRowsPerS = res.FirstTenthRowsPerS, res.LastTenthRowsPerS
	rep.Import.PGLastVsFirstTenth = res.LastVsFirstTenth
	return nil
}

// importFile imports a generated file of r.plan.ImportRows valid, distinct
// resident numbers (named name in the run's dir) through m's importer and
// measures it.
func (r *Runner) importFile(ctx context.Context, m *InProcess, name string) (Import, error) {
	n := r.plan.ImportRows
	path := filepath.Join(r.dir, name)
	if err := WriteResidentCSV(path, n); err != nil {
		return Import{}, err
	}
	r.say("import: %d rows (%s)", n, name)
	written, cpu := WrittenBytes(), SelfCPUTime()
	start := time.Now()
	var marks importMarks
	job, err := m.Importer.Import(ctx, mapping.ImportOptions{Path: path, Officer: "bench", Progress: func(j mapping.ImportJob) {
		marks.add(time.Since(start), j.Created)
	}})
	elapsed := time.Since(start)
	written, cpu = WrittenBytes()-written, SelfCPUTime()-cpu
	if err != nil {
		return Import{}, err
	}
	if job.Created != int64(n) {
		return Import{}, fmt.Errorf("import created %d of %d rows (rejected %d, existing %d)", job.Created, n, job.Rejected, job.Existing)
	}
	res := Import{
		Rows: float64(n), Seconds: Round3(elapsed.Seconds()), RowsPerS: Round3(float64(n) / elapsed.Seconds()),
		WrittenKBPerKRow: Round3(float64(written) / 1024 / (float64(n) / 1000)),
		CPUUsPerRow:      cpuPerRequest(cpu, int64(n)),
	}
	first, last := marks.tenths(int64(n))
	res.FirstTenthRowsPerS, res.LastTenthRowsPerS = Round3(first), Round3(last)
	if first > 0 {
		res.LastVsFirstTenth = Round3(last / first)
	}
	return res, nil
}
