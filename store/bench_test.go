package store_test

import (
	"context"
	cryptorand "crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/mapping"
	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/store"
	"github.com/eidgate/eidgate/store/storetest"
)

// benchBackends are the databases the store benchmarks run on.
var benchBackends = []struct {
	name string
	db   func(testing.TB) storetest.DB
}{{"sqlite", storetest.SQLite}, {"postgres", storetest.Postgres}}

// BenchmarkAppendAccess measures one group-commit transaction of 1, 64 and
// 256 records, three in four of them counting a use of their own consent
// (as resolves for different residents do).
func BenchmarkAppendAccess(b *testing.B) {
	for _, be := range benchBackends {
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
					mustAppend(ctx, b, db, recs)
				}
				reportPerRecord(b, cpu0, n*b.N)
			})
		}
	}
}

// BenchmarkAppendAccessToALargeLog appends group commits of 16 records (the
// size of the resolve bench's group commits on SQLite) to a log that
// already holds 200,000 records, each record for a random one of 50,000
// residents and with a ticket id of its own: "ticket=random" ids are 128
// random bits, "ticket=NewTicketID" the resolver's ids, which begin with
// their time. A random id puts each record's entry in the ticket index on
// a page of its own.
func BenchmarkAppendAccessToALargeLog(b *testing.B) {
	const (
		existing  = 200_000
		residents = 50_000
		batch     = 16
	)
	ids := []struct {
		name string
		new  func() string
	}{
		{"random", func() string { return base64.RawURLEncoding.EncodeToString(randomBytes(16)) }},
		{"NewTicketID", routing.NewTicketID},
	}
	for _, be := range benchBackends {
		for _, id := range ids {
			b.Run(fmt.Sprintf("%s/ticket=%s", be.name, id.name), func(b *testing.B) {
				db := be.db(b).Open(b)
				ctx := context.Background()
				rnd := rand.New(rand.NewPCG(1, 2))
				records := func(n int) []*routing.AccessRecord {
					recs := make([]*routing.AccessRecord, n)
					for j := range recs {
						r := newRecord(time.Now().UTC(), "", 0)
						r.EID = fmt.Sprintf("did:eidgate:r%06d", rnd.IntN(residents))
						r.TicketID = id.new()
						r.ComputeLeafHash()
						recs[j] = r
					}
					return recs
				}
				for range existing / 1000 {
					mustAppend(ctx, b, db, records(1000))
				}
				cpu0 := processCPU()
				for b.Loop() {
					mustAppend(ctx, b, db, records(batch))
				}
				reportPerRecord(b, cpu0, batch*b.N)
			})
		}
	}
}

// mustAppend appends recs and fails b unless every one was written.
func mustAppend(ctx context.Context, b *testing.B, db *store.DB, recs []*routing.AccessRecord) {
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

// reportPerRecord reports records/s and this process's CPU per record
// since cpu0 (the database server's, on PostgreSQL, is not in it): the
// figure least moved by other load on a shared machine.
func reportPerRecord(b *testing.B, cpu0 time.Duration, records int) {
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(records), "cpu-us/record")
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = cryptorand.Read(b)
	return b
}

// BenchmarkPutDocuments stores import batches of 1000 documents with
// random blinded values, as an import does, into a table that already
// holds 20,000 rows.
func BenchmarkPutDocuments(b *testing.B) {
	for _, be := range benchBackends {
		b.Run(be.name, func(b *testing.B) {
			db := be.db(b).Open(b)
			ctx := context.Background()
			n := 0
			batch := func() []mapping.StoredDocument {
				docs := make([]mapping.StoredDocument, 1000)
				at := time.Now().UTC()
				for i := range docs {
					n++
					sum := sha256.Sum256([]byte(strconv.Itoa(n)))
					docs[i] = mapping.StoredDocument{
						Ref: routing.NewTimeOrderedID("doc_", at), EID: model.DeriveEID("bench", n), Type: "cn-resident",
						Masked: "1101**********002X", KeyVersion: "v1", BlindValue: hex.EncodeToString(sum[:]),
						Sealed: sum[:], AddedBy: "import:bench", AddedAt: at,
					}
				}
				return docs
			}
			for range 20 {
				if err := db.PutDocuments(ctx, batch()); err != nil {
					b.Fatal(err)
				}
			}
			cpu0 := processCPU()
			for b.Loop() {
				if err := db.PutDocuments(ctx, batch()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(1000*b.N)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(1000*b.N), "cpu-us/row")
		})
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
