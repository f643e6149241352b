package store_test

import (
	"testing"
	"time"

	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/store/storetest"
)

// A break-glass access keeps its legal basis and seal; the resident's
// filter leaves it out until the seal ends; auditors filter break-glass
// accesses by review, and review each once; the batch lists it.
func TestBreakGlassRecordsSealReviewAndBatch(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		ctx := ctxT(t)
		clock := newFakeClock()
		db := d.Open(t)
		now := clock.Now()
		plain := newRecord(now, "", 0)
		bg := newRecord(now.Add(time.Millisecond), "", 0)
		bg.LegalBasis, bg.VisibleAfter = "Emergency Medical Law art. 12", now.Add(72*time.Hour)
		bg.ComputeLeafHash()
		if per, err := db.AppendAccess(ctx, []*routing.AccessRecord{plain, bg}); err != nil || per[0] != nil || per[1] != nil {
			t.Fatalf("append: %v %v", per, err)
		}
		got, err := db.GetAccess(ctx, bg.ID)
		if err != nil || got.LegalBasis != bg.LegalBasis || !got.VisibleAfter.Equal(bg.VisibleAfter) || !got.BreakGlass() {
			t.Fatalf("read back %+v, %v", got, err)
		}
		got.ComputeLeafHash()
		if got.LeafHash != bg.LeafHash {
			t.Fatal("the stored record no longer hashes to its leaf")
		}
		resident := func(at time.Time) int {
			recs, err := db.ListAccess(ctx, routing.AccessFilter{EID: bg.EID, VisibleAt: at})
			if err != nil {
				t.Fatal(err)
			}
			return len(recs)
		}
		if n := resident(now.Add(72*time.Hour - time.Nanosecond)); n != 1 {
			t.Fatalf("before the seal ends the resident sees %d records, want 1 (the plain one)", n)
		}
		if n := resident(now.Add(72 * time.Hour)); n != 2 {
			t.Fatalf("when the seal ends the resident sees %d records, want 2", n)
		}
		list := func(reviewed *bool) int {
			recs, err := db.ListAccess(ctx, routing.AccessFilter{BreakGlass: true, Reviewed: reviewed})
			if err != nil {
				t.Fatal(err)
			}
			return len(recs)
		}
		no, yes := false, true
		if list(nil) != 1 || list(&no) != 1 || list(&yes) != 0 {
			t.Fatalf("break-glass lists: all %d, unreviewed %d, reviewed %d", list(nil), list(&no), list(&yes))
		}
		if err := db.ReviewAccess(ctx, plain.ID, "auditor", "n/a", now); routing.CodeOf(err) != "access_not_found" {
			t.Fatalf("review of a plain access: %v", err)
		}
		if err := db.ReviewAccess(ctx, bg.ID, "auditor", "warrant seen", now); err != nil {
			t.Fatal(err)
		}
		if err := db.ReviewAccess(ctx, bg.ID, "auditor-2", "again", now); routing.CodeOf(err) != "break_glass_reviewed" {
			t.Fatalf("second review: %v", err)
		}
		if got, _ := db.GetAccess(ctx, bg.ID); got.ReviewedBy != "auditor" || got.ReviewNote != "warrant seen" || !got.ReviewedAt.Equal(now) {
			t.Fatalf("review kept as %+v", got)
		}
		if list(&no) != 0 || list(&yes) != 1 {
			t.Fatal("the reviewed access is not filed as reviewed")
		}
		// The planner sees which leaves are break-glass accesses.
		b, err := db.PlanBatch(ctx, 10, func(leaves []routing.AnchorLeaf) (*routing.AnchorBatch, error) {
			b, err := planBatch(leaves)
			for _, l := range leaves {
				if l.BreakGlass {
					b.BreakGlass = append(b.BreakGlass, l.ID)
				}
			}
			return b, err
		})
		if err != nil || b == nil || len(b.BreakGlass) != 1 || b.BreakGlass[0] != bg.ID {
			t.Fatalf("batch %+v, %v", b, err)
		}
		pending, err := db.PendingBatches(ctx)
		if err != nil || len(pending) != 1 || len(pending[0].BreakGlass) != 1 {
			t.Fatalf("pending batches %+v, %v", pending, err)
		}
	})
}

// A break-glass record without the end of its seal is refused alone.
func TestBreakGlassRecordNeedsItsSeal(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		db := d.Open(t)
		r := newRecord(newFakeClock().Now(), "", 0)
		r.LegalBasis = "art. 1"
		r.ComputeLeafHash()
		per, err := db.AppendAccess(ctxT(t), []*routing.AccessRecord{r})
		if err != nil || routing.CodeOf(per[0]) != "access_record_invalid" {
			t.Fatalf("per %v, err %v", per, err)
		}
	})
}
