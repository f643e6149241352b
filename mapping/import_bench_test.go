package mapping_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/mapping"
	"github.com/eidgate/eidgate/store/storetest"
)

// BenchmarkImport100k imports 100 000 resident rows through the real
// contract on fabsim (batches of 1000, 4 in flight) into a SQLite store:
// parse, blind, CreateEIDs, seal and store.
func BenchmarkImport100k(b *testing.B) {
	const n = 100_000
	path, _ := writeResidents(b, 0, n, 0)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		f := newFixture(b, storetest.SQLite(b))
		b.StartTimer()
		job, err := f.im.Import(ctxb, mapping.ImportOptions{Path: path})
		if err != nil {
			b.Fatal(err)
		}
		if job.Created != n {
			b.Fatalf("created %d of %d", job.Created, n)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// instantLedger answers every CreateEIDs item "created" at once, so a
// benchmark over it measures the importer's own work.
type instantLedger struct {
	mapping.Ledger
	mu sync.Mutex
	n  int
}

func (l *instantLedger) CreateEIDs(_ context.Context, items []model.EIDRequest) ([]model.EIDOutcome, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]model.EIDOutcome, len(items))
	for i, it := range items {
		l.n++
		out[i] = model.EIDOutcome{Ref: it.Ref, Outcome: model.OutcomeCreated, EID: fmt.Sprintf("did:eidgate:%032x", l.n)}
	}
	return out, nil
}

// BenchmarkImportPipeline100k is BenchmarkImport100k over a ledger that
// answers at once: read, validate, blind, deduplicate, seal and store.
func BenchmarkImportPipeline100k(b *testing.B) {
	const n = 100_000
	path, _ := writeResidents(b, 0, n, 0)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		f := newFixtureOver(b, storetest.SQLite(b), &instantLedger{})
		b.StartTimer()
		job, err := f.im.Import(ctxb, mapping.ImportOptions{Path: path})
		if err != nil {
			b.Fatalf("err = %v, want nil; %+v %v", err, job, err)
		}
		if job.Created != n {
			b.Fatalf("job.Created = %v, want n; %+v %v", job.Created, job, err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
}
