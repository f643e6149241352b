package store_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/store/storetest"
)

// BenchmarkAppendAccess measures one group-commit transaction of 1, 64 and
// 256 records, three in four of them counting a use of their own consent
// (as resolves for different residents do).
func BenchmarkAppendAccess(b *testing.B) {
	backends := []struct {
		name string
		db   func(testing.TB) storetest.DB
	}{{"sqlite", storetest.SQLite}, {"postgres", storetest.Postgres}}
	for _, be := range backends {
		for _, n := range []int{1, 64, 256} {
			b.Run(fmt.Sprintf("%s/batch=%d", be.name, n), func(b *testing.B) {
				db := be.db(b).Open(b)
				ctx := context.Background()
				i := 0
				cpu0 := processCPU()
				for b.Loop() {
					recs := make([]*routing.AccessRecord, n)
					for j := range recs {
						consent := ""
						if j%4 != 3 {
							consent = fmt.Sprintf("consent-%d", i)
						}
						i++
						recs[j] = newRecord(time.Now().UTC(), consent, 1000)
					}
					per, err := db.AppendAccess(ctx, recs)
					if err != nil {
						b.Fatal(err)
					}
					for _, e := range per {
						if e != nil {
							b.Fatal(e)
						}
					}
				}
				b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
				// This process's CPU per record (the database server's, on
				// PostgreSQL, is not in it): the figure least moved by other
				// load on a shared machine.
				b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(n*b.N), "cpu-us/record")
			})
		}
	}
}

// processCPU is the user plus system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
