package store_test

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/store"
	"github.com/eidgate/eidgate/store/storetest"
)

func TestOpenAppliesEveryMigrationOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		ctx := ctxT(t)
		db := d.Open(t)
		if db.Dialect() != d.Dialect {
			t.Fatalf("dialect %q, want %q", db.Dialect(), d.Dialect)
		}
		got, err := db.AppliedMigrations(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, store.SchemaVersions()) {
			t.Fatalf("applied %v, want %v", got, store.SchemaVersions())
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		again := d.Open(t)
		got2, err := again.AppliedMigrations(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, got2) {
			t.Fatalf("reopen changed migrations: %v → %v", got, got2)
		}
	})
}

func TestReplicasOpeningTogetherMigrateOnce(t *testing.T) {
	d := storetest.Postgres(t)
	const replicas = 4
	var wg sync.WaitGroup
	errs := make([]error, replicas)
	for i := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := store.Open(ctxT(t), store.Config{DSN: d.DSN})
			if err == nil {
				_ = db.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: %v", i, err)
		}
	}
	got, err := d.Open(t).AppliedMigrations(ctxT(t))
	if err != nil || !slices.Equal(got, store.SchemaVersions()) {
		t.Fatalf("migrations %v, %v", got, err)
	}
}

func TestAppendAccessCountsConsentUsesInTheSameTransaction(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		ctx := ctxT(t)
		clock := newFakeClock()
		db := d.OpenWith(t, store.Config{Clock: clock})
		at := clock.Now()
		recs := []*routing.AccessRecord{
			newRecord(at, "consent-a", 2),
			newRecord(at, "consent-b", 0),
			newRecord(at, "consent-a", 2),
			newRecord(at, "", 0),
			newRecord(at, "consent-a", 2), // third use of a two-use consent
			newRecord(at, "consent-b", 0),
		}
		per, err := db.AppendAccess(ctx, recs)
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range per {
			if i == 4 {
				if routing.CodeOf(e) != "consent_uses_exhausted" || !routing.IsKind(e, routing.KindConflict) {
					t.Fatalf("record 4: %v, want conflict consent_uses_exhausted", e)
				}
				continue
			}
			if e != nil {
				t.Fatalf("record %d: %v", i, e)
			}
		}
		var last uint64
		for i, r := range recs {
			if i == 4 {
				if r.Seq != 0 {
					t.Fatalf("refused record got seq %d", r.Seq)
				}
				if _, err := db.GetAccess(ctx, r.ID); !routing.IsKind(err, routing.KindNotFound) {
					t.Fatalf("refused record is readable: %v", err)
				}
				continue
			}
			if r.Seq <= last {
				t.Fatalf("record %d: seq %d not after %d", i, r.Seq, last)
			}
			last = r.Seq
		}
		for id, want := range map[string]uint64{"consent-a": 2, "consent-b": 2, "consent-none": 0} {
			got, err := db.ConsentUses(ctx, id)
			if err != nil || got != want {
				t.Fatalf("uses of %s = %d, %v; want %d", id, got, err, want)
			}
		}
		// A later batch finds consent-a exhausted and consent-b unlimited.
		more := []*routing.AccessRecord{newRecord(at, "consent-a", 2), newRecord(at, "consent-b", 0)}
		per, err = db.AppendAccess(ctx, more)
		if err != nil {
			t.Fatal(err)
		}
		if routing.CodeOf(per[0]) != "consent_uses_exhausted" || per[1] != nil {
			t.Fatalf("second batch: %v", per)
		}
		if got, _ := db.ConsentUses(ctx, "consent-b"); got != 3 {
			t.Fatalf("consent-b uses %d, want 3", got)
		}
	})
}

func TestAppendAccessPartialRoomAndMixedLimits(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		ctx := ctxT(t)
		db := d.Open(t)
		at := time.Now().UTC()
		// One use taken, three asked for with max 3: two fit.
		if per, err := db.AppendAccess(ctx, []*routing.AccessRecord{newRecord(at, "c", 3)}); err != nil || per[0] != nil {
			t.Fatal(per, err)
		}
		recs := []*routing.AccessRecord{newRecord(at, "c", 3), newRecord(at, "c", 3), newRecord(at, "c", 3)}
		per, err := db.AppendAccess(ctx, recs)
		if err != nil {
			t.Fatal(err)
		}
		if per[0] != nil || per[1] != nil || routing.CodeOf(per[2]) != "consent_uses_exhausted" {
			t.Fatalf("got %v, want the first two written", per)
		}
		// Records of one consent naming different limits are judged one by one.
		mixed := []*routing.AccessRecord{newRecord(at, "m", 1), newRecord(at, "m", 0), newRecord(at, "m", 2), newRecord(at, "m", 2)}
		per, err = db.AppendAccess(ctx, mixed)
		if err != nil {
			t.Fatal(err)
		}
		if per[0] != nil || per[1] != nil || routing.CodeOf(per[2]) != "consent_uses_exhausted" || routing.CodeOf(per[3]) != "consent_uses_exhausted" {
			t.Fatalf("mixed limits: %v", per)
		}
		if got, _ := db.ConsentUses(ctx, "m"); got != 2 {
			t.Fatalf("uses of m = %d, want 2", got)
		}
	})
}

func TestAppendAccessRefusesBadRecordsAlone(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		ctx := ctxT(t)
		db := d.Open(t)
		at := time.Now().UTC()
		good := newRecord(at, "c1", 1)
		nul := newRecord(at, "", 0)
		nul.Official = "bad\x00name"
		existing := newRecord(at, "", 0)
		if _, err := db.AppendAccess(ctx, []*routing.AccessRecord{existing}); err != nil {
			t.Fatal(err)
		}
		dupe := *existing
		dupe.Seq = 0
		dupe.UseConsent, dupe.ConsentID, dupe.ConsentMaxUses = true, "c2", 1
		per, err := db.AppendAccess(ctx, []*routing.AccessRecord{good, nul, &dupe})
		if err != nil {
			t.Fatal(err)
		}
		if per[0] != nil || routing.CodeOf(per[1]) != "access_record_invalid" || routing.CodeOf(per[2]) != "access_id_exists" {
			t.Fatalf("got %v", per)
		}
		// A record with several bad fields always names the same one (the
		// first in the record's field order), and a leaf hash that is not 64
		// hex digits is refused.
		for range 20 {
			two := newRecord(at, "", 0)
			two.RequestID, two.Reason = "bad\x00request", "bad\xffreason"
			leaf := newRecord(at, "", 0)
			leaf.LeafHash = strings.Repeat("g", 64)
			per, err := db.AppendAccess(ctx, []*routing.AccessRecord{two, leaf})
			if err != nil {
				t.Fatal(err)
			}
			var e0, e1 *routing.Error
			if !errors.As(per[0], &e0) || e0.Field != "request_id" || !errors.As(per[1], &e1) || e1.Field != "leaf_hash" {
				t.Fatalf("got %v", per)
			}
		}
		if good.Seq == 0 {
			t.Fatal("the good record has no seq")
		}
		// The duplicate's consent use was not counted.
		if got, _ := db.ConsentUses(ctx, "c2"); got != 0 {
			t.Fatalf("uses of c2 = %d, want 0", got)
		}
	})
}

func TestAppendAccessConcurrentWriters(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		ctx := ctxT(t)
		db := d.Open(t)
		const (
			writers   = 12
			batches   = 10
			perBatch  = 8
			sharedMax = 100
		)
		var (
			mu        sync.Mutex
			seqs      = map[uint64]string{}
			written   int
			exhausted int
			wg        sync.WaitGroup
		)
		errc := make(chan error, writers)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for b := range batches {
					var recs []*routing.AccessRecord
					for i := range perBatch {
						at := time.Now().UTC()
						switch i % 3 {
						case 0:
							recs = append(recs, newRecord(at, "shared", sharedMax))
						case 1:
							recs = append(recs, newRecord(at, fmt.Sprintf("own-%d-%d", w, b), 0))
						default:
							recs = append(recs, newRecord(at, "", 0))
						}
					}
					per, err := db.AppendAccess(ctx, recs)
					if err != nil {
						errc <- err
						return
					}
					mu.Lock()
					for i, r := range recs {
						switch {
						case per[i] == nil:
							if prev, dup := seqs[r.Seq]; dup {
								mu.Unlock()
								errc <- fmt.Errorf("seq %d given to %s and %s", r.Seq, prev, r.ID)
								return
							}
							seqs[r.Seq] = r.ID
							written++
						case routing.CodeOf(per[i]) == "consent_uses_exhausted":
							exhausted++
						default:
							mu.Unlock()
							errc <- per[i]
							return
						}
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			t.Fatal(err)
		}
		sharedAsked := writers * batches * ((perBatch + 2) / 3)
		if exhausted != sharedAsked-sharedMax {
			t.Fatalf("%d refused, want %d", exhausted, sharedAsked-sharedMax)
		}
		if got, _ := db.ConsentUses(ctx, "shared"); got != sharedMax {
			t.Fatalf("shared uses %d, want exactly %d", got, sharedMax)
		}
		all, err := listAll(t, db)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != written {
			t.Fatalf("%d records stored, %d reported written", len(all), written)
		}
		for _, r := range all {
			if seqs[r.Seq] != r.ID {
				t.Fatalf("stored seq %d is %s, reported %s", r.Seq, r.ID, seqs[r.Seq])
			}
		}
	})
}

func listAll(t testing.TB, db *store.DB) ([]routing.AccessRecord, error) {
	var out []routing.AccessRecord
	var after uint64
	for {
		page, err := db.ListAccess(ctxT(t), routing.AccessFilter{AfterSeq: after, Limit: store.MaxListLimit})
		if err != nil {
			return nil, err
		}
		if len(page) == 0 {
			return out, nil
		}
		out = append(out, page...)
		after = page[len(page)-1].Seq
	}
}

func TestAccessRecordRoundTripsExactlyAcrossReopen(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		ctx := ctxT(t)
		db := d.Open(t)
		at := time.Date(2026, 3, 1, 9, 0, 0, 123456789, time.UTC) // nanoseconds matter to the leaf
		in := newRecord(at, "consent-x", 5)
		in.Reason, in.Official = "", "张三 (官员)"
		in.ComputeLeafHash()
		if _, err := db.AppendAccess(ctx, []*routing.AccessRecord{in}); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		got, err := d.Open(t).GetAccess(ctx, in.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := *in
		want.ConsentMaxUses = 0 // a request parameter, not stored
		if !reflect.DeepEqual(*got, want) {
			t.Fatalf("read back\n%+v\nwant\n%+v", *got, want)
		}
		leaf := got.LeafHash
		got.ComputeLeafHash()
		if got.LeafHash != leaf {
			t.Fatal("the stored fields no longer produce the stored leaf hash")
		}
	})
}

func TestListAccessFiltersAndPages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		ctx := ctxT(t)
		db := d.Open(t)
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		var recs []*routing.AccessRecord
		for i := range 30 {
			r := newRecord(base.Add(time.Duration(i)*time.Hour), "", 0)
			r.EID = fmt.Sprintf("did:eidgate:r%d", i%3)
			if i%5 == 0 {
				r.Outcome, r.Reason = routing.OutcomePolicyDenied, "no rule"
			}
			if i%2 == 0 {
				r.Requester = "hr-bureau"
			}
			r.ComputeLeafHash()
			recs = append(recs, r)
		}
		if _, err := db.AppendAccess(ctx, recs); err != nil {
			t.Fatal(err)
		}
		count := func(f routing.AccessFilter) []routing.AccessRecord {
			t.Helper()
			got, err := db.ListAccess(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		tests := []struct {
			name string
			f    routing.AccessFilter
			want int
		}{
			{"all", routing.AccessFilter{}, 30},
			{"eid", routing.AccessFilter{EID: "did:eidgate:r1"}, 10},
			{"requester and outcome", routing.AccessFilter{Requester: "hr-bureau", Outcome: routing.OutcomePolicyDenied}, 3},
			{"time window", routing.AccessFilter{From: base.Add(10 * time.Hour), To: base.Add(20 * time.Hour)}, 10},
			{"provider", routing.AccessFilter{Provider: "civil-affairs", DataType: "edu.degree", Purpose: "admission"}, 30},
			{"no match", routing.AccessFilter{Provider: "nobody"}, 0},
			{"limit", routing.AccessFilter{Limit: 7}, 7},
		}
		for _, tt := range tests {
			if got := count(tt.f); len(got) != tt.want {
				t.Errorf("%s: %d records, want %d", tt.name, len(got), tt.want)
			}
		}
		// Newest first, paging by seq.
		page1 := count(routing.AccessFilter{Desc: true, Limit: 4})
		page2 := count(routing.AccessFilter{Desc: true, Limit: 4, AfterSeq: page1[3].Seq})
		if page1[0].ID != recs[29].ID || page2[0].ID != recs[25].ID || page2[0].Seq >= page1[3].Seq {
			t.Fatalf("desc paging: %s… then %s…", page1[0].ID, page2[0].ID)
		}
		asc := count(routing.AccessFilter{AfterSeq: recs[27].Seq})
		if len(asc) != 2 || asc[0].ID != recs[28].ID {
			t.Fatalf("asc after seq: %d records", len(asc))
		}
	})
}

func TestFlagAccess(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		ctx := ctxT(t)
		db := d.Open(t)
		r := newRecord(time.Now().UTC(), "", 0)
		if _, err := db.AppendAccess(ctx, []*routing.AccessRecord{r}); err != nil {
			t.Fatal(err)
		}
		if err := db.FlagAccess(ctx, r.ID, "digest mismatch", "sha256:ff"); err != nil {
			t.Fatal(err)
		}
		got, err := db.GetAccess(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Flagged {
			t.Fatalf("got.Flagged is false; flag not stored: %+v", got)
		}
		if got.FlagReason != "digest mismatch" {
			t.Fatalf("got.FlagReason = %q, want \"digest mismatch\"; flag not stored: %+v", got.FlagReason, got)
		}
		if got.DeliveredHash != "sha256:ff" {
			t.Fatalf("got.DeliveredHash = %q, want \"sha256:ff\"; flag not stored: %+v", got.DeliveredHash, got)
		}
		if err := db.FlagAccess(ctx, "acc_missing", "x", ""); !routing.IsKind(err, routing.KindNotFound) {
			t.Fatalf("flagging a missing record: %v", err)
		}
	})
}

// A batch of unlimited consents (on PostgreSQL one statement of its own)
// counts one use per record written; an id already stored is refused
// alone and its use not counted.
func TestAppendAccessUnlimitedConsentsCountWhatIsWritten(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		ctx := ctxT(t)
		db := d.Open(t)
		at := time.Now().UTC()
		existing := newRecord(at, "u", 0)
		if _, err := db.AppendAccess(ctx, []*routing.AccessRecord{existing}); err != nil {
			t.Fatal(err)
		}
		dupe := *existing
		dupe.Seq = 0
		a, b, c := newRecord(at, "u", 0), newRecord(at, "", 0), newRecord(at, "v", 0)
		per, err := db.AppendAccess(ctx, []*routing.AccessRecord{a, &dupe, b, c})
		if err != nil {
			t.Fatal(err)
		}
		if per[0] != nil || routing.CodeOf(per[1]) != "access_id_exists" || per[2] != nil || per[3] != nil {
			t.Fatalf("got %v, want the duplicate refused alone", per)
		}
		if a.Seq == 0 || a.Seq >= b.Seq || b.Seq >= c.Seq {
			t.Fatalf("seqs %d, %d, %d: want all three written in order", a.Seq, b.Seq, c.Seq)
		}
		for id, want := range map[string]uint64{"u": 2, "v": 1} {
			if got, err := db.ConsentUses(ctx, id); err != nil || got != want {
				t.Fatalf("uses of %s = %d, %v; want %d", id, got, err, want)
			}
		}
		for _, r := range []*routing.AccessRecord{existing, a, b, c} {
			if _, err := db.GetAccess(ctx, r.ID); err != nil {
				t.Fatalf("record %s: %v", r.ID, err)
			}
		}
	})
}
