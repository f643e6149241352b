package store_test

import (
	"context"
	"testing"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/store/storetest"
)

func TestDisputes(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		ctx := context.Background()
		db := d.Open(t)
		mk := func(id, access, eid, dept, at string) *routing.Dispute {
			return &routing.Dispute{Dispute: model.Dispute{ID: id, AccessID: access, EID: eid, Department: dept,
				Status: model.DisputeOpen, RaisedAt: at, Reason: "unexpected", TextDigest: model.TextDigest("我没想到")}, Text: "我没想到"}
		}
		first := mk("dp-000000000000000000000001", "acc_1", "did:eidgate:a", "hr", "2026-03-01T09:00:00Z")
		if err := db.InsertDispute(ctx, first); err != nil {
			t.Fatal(err)
		}
		// A second dispute of the same access while the first is open is refused.
		err := db.InsertDispute(ctx, mk("dp-000000000000000000000002", "acc_1", "did:eidgate:a", "hr", "2026-03-01T09:01:00Z"))
		if routing.CodeOf(err) != "dispute_open" {
			t.Fatalf("second open dispute: %v", err)
		}
		if got, _ := db.ListDisputes(ctx, routing.DisputeFilter{AccessID: "acc_1"}); len(got) != 1 {
			t.Fatalf("the refused dispute was written: %+v", got)
		}
		// Closed, the access may be disputed again.
		first.Status, first.Outcome, first.Note = model.DisputeClosed, model.DisputeDismissed, "in order"
		if err := db.SaveDispute(ctx, first); err != nil {
			t.Fatal(err)
		}
		if err := db.InsertDispute(ctx, mk("dp-000000000000000000000002", "acc_1", "did:eidgate:a", "hr", "2026-03-01T09:01:00Z")); err != nil {
			t.Fatal(err)
		}
		if err := db.InsertDispute(ctx, mk("dp-000000000000000000000003", "acc_2", "did:eidgate:b", "edu", "2026-03-01T09:02:00Z")); err != nil {
			t.Fatal(err)
		}
		got, err := db.GetDispute(ctx, first.ID)
		if err != nil || got.Status != model.DisputeClosed || got.Note != "in order" || got.Text != "我没想到" || got.TextDigest != first.TextDigest {
			t.Fatalf("get: %+v %v", got, err)
		}
		if _, err := db.GetDispute(ctx, "dp-000000000000000000000009"); !routing.IsKind(err, routing.KindNotFound) {
			t.Fatalf("unknown: %v", err)
		}
		if err := db.SaveDispute(ctx, mk("dp-000000000000000000000009", "acc_9", "did:eidgate:a", "hr", "x")); !routing.IsKind(err, routing.KindNotFound) {
			t.Fatalf("save unknown: %v", err)
		}
		for _, c := range []struct {
			f    routing.DisputeFilter
			want []string
		}{
			{routing.DisputeFilter{}, []string{"dp-000000000000000000000003", "dp-000000000000000000000002", "dp-000000000000000000000001"}},
			{routing.DisputeFilter{EID: "did:eidgate:a"}, []string{"dp-000000000000000000000002", "dp-000000000000000000000001"}},
			{routing.DisputeFilter{Department: "hr", Status: model.DisputeOpen}, []string{"dp-000000000000000000000002"}},
			{routing.DisputeFilter{Status: model.DisputeClosed}, []string{"dp-000000000000000000000001"}},
			{routing.DisputeFilter{Limit: 1}, []string{"dp-000000000000000000000003"}},
		} {
			list, err := db.ListDisputes(ctx, c.f)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, d := range list {
				ids = append(ids, d.ID)
			}
			if len(ids) != len(c.want) || (len(ids) > 0 && ids[0] != c.want[0]) || (len(ids) > 1 && ids[1] != c.want[1]) {
				t.Fatalf("%+v: %v, want %v", c.f, ids, c.want)
			}
		}
	})
}
