package store_test

import (
	"context"
	"fmt"
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
			})
		}
	}
}
