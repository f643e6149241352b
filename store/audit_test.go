package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/eidgate/eidgate/audit"
	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/routing/routingtest"
	"github.com/eidgate/eidgate/store"
	"github.com/eidgate/eidgate/store/storetest"
)

// TestAuditTrailOverTheStore: intents, outcomes, filters, anchoring of
// completed records as their own stream, proofs, and recovery of records a
// crash left pending.
func TestAuditTrailOverTheStore(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		ctx := ctxT(t)
		clock := newFakeClock()
		db := d.OpenWith(t, store.Config{Clock: clock})
		ledger := routingtest.NewLedger(clock)
		anchorer, err := routing.NewAnchorer(routing.AnchorerConfig{Store: db.AuditAnchors(), Ledger: ledger, Clock: clock,
			Holder: "r1", Stream: routing.StreamAudit})
		if err != nil {
			t.Fatal(err)
		}
		trail, err := audit.New(audit.Config{Store: db, Prover: anchorer, PseudonymKey: []byte("k"), Clock: clock})
		if err != nil {
			t.Fatal(err)
		}

		// No actor, no act.
		ran := false
		if _, err := audit.Do(ctx, trail, audit.Entry{Act: audit.ActEIDDeactivate, Target: "did:eidgate:a"},
			func(context.Context) (int, error) { ran = true; return 0, nil }, nil); routing.CodeOf(err) != "no_actor" || ran {
			t.Fatalf("act without an actor: ran=%v err=%v", ran, err)
		}

		alice := routing.WithActor(ctx, routing.Actor{Official: "admin:alice", RequestID: "req-a"})
		bob := routing.WithActor(ctx, routing.Actor{Official: "admin:bob"})
		if _, err := audit.Do(alice, trail, audit.Entry{Act: audit.ActEIDDeactivate, Target: "did:eidgate:a", EID: "did:eidgate:a",
			Reason: "deceased", Before: map[string]string{"status": "active"}},
			func(context.Context) (string, error) { return "deactivated", nil },
			func(s string) any { return map[string]string{"status": s} }); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Minute)
		refused := routing.Errorf(routing.KindConflict, "test", "refused by the ledger")
		if _, err := audit.Do(bob, trail, audit.Entry{Act: audit.ActEIDMerge, Target: "did:eidgate:a", EID: "did:eidgate:b"},
			func(context.Context) (int, error) { return 0, refused }, nil); !errors.Is(err, refused) {
			t.Fatalf("failed act: %v", err)
		}
		// An act whose process dies before its outcome: the intent stays.
		stuck, err := trail.Begin(bob, audit.Entry{Act: audit.ActAPIKeyRevoke, Target: "key-1"})
		if err != nil {
			t.Fatal(err)
		}

		all, err := trail.List(ctx, audit.Filter{})
		if err != nil {
			t.Fatalf("err != nil: list = %+v, %v; want three, the pending one first", all, err)
		}
		if len(all) != 3 {
			t.Fatalf("len(all) != 3: list = %+v, %v; want three, the pending one first", all, err)
		}
		if all[0].ID != stuck.ID {
			t.Fatalf("all[0].ID != stuck.ID: list = %+v, %v; want three, the pending one first", all, err)
		}
		if all[0].Status != audit.StatusPending {
			t.Fatalf("all[0].Status != audit.StatusPending: list = %+v, %v; want three, the pending one first", all, err)
		}
		done, failed := all[2], all[1]
		if done.Status != audit.StatusDone || done.Official != "admin:alice" || done.RequestID != "req-a" ||
			string(done.Before) != `{"status":"active"}` || string(done.After) != `{"status":"deactivated"}` || done.LeafHash == "" {
			t.Errorf("done record = %+v", done)
		}
		if failed.Status != audit.StatusFailed || failed.Error != "refused by the ledger" {
			t.Errorf("failed record = %+v", failed)
		}
		for _, tc := range []struct {
			name string
			f    audit.Filter
			want int
		}{
			{"act", audit.Filter{Act: audit.ActEIDMerge}, 1},
			{"official", audit.Filter{Official: "admin:bob"}, 2},
			{"eid as subject or target", audit.Filter{EID: "did:eidgate:a"}, 2},
			{"eid as subject", audit.Filter{EID: "did:eidgate:b"}, 1},
			{"status", audit.Filter{Status: audit.StatusFailed}, 1},
			{"from", audit.Filter{From: clock.Now()}, 2},
			{"to", audit.Filter{To: clock.Now()}, 1},
			{"before", audit.Filter{BeforeSeq: failed.Seq}, 1},
			{"limit", audit.Filter{Limit: 2}, 2},
		} {
			got, err := trail.List(ctx, tc.f)
			if err != nil || len(got) != tc.want {
				t.Errorf("%s: %d records (%v), want %d", tc.name, len(got), err, tc.want)
			}
		}

		// Only completed records are anchored, in their own stream.
		anchorer.Step(ctx)
		if st := anchorer.Status(); st.Batches != 1 || st.Records != 2 {
			t.Fatalf("anchoring = %+v, want one batch of the two completed records", st)
		}
		p, err := trail.Proof(ctx, done.ID, "")
		if err != nil {
			t.Fatalf("err != nil: proof = %+v, %v", p, err)
		}
		if !p.Verified {
			t.Fatalf("!p.Verified: proof = %+v, %v", p, err)
		}
		if p.Anchor.Kind != "audit" {
			t.Fatalf("p.Anchor.Kind != \"audit\": proof = %+v, %v", p, err)
		}
		if p.LeafFields[1] != done.ID {
			t.Fatalf("p.LeafFields[1] != done.ID: proof = %+v, %v", p, err)
		}
		if _, err := trail.Proof(ctx, done.ID, "did:eidgate:zzz"); routing.CodeOf(err) != "audit_record_not_found" {
			t.Errorf("proof for another eID: %v", err)
		}
		if _, err := trail.Proof(ctx, stuck.ID, ""); routing.CodeOf(err) != "not_anchored" {
			t.Errorf("proof of a pending record: %v", err)
		}
		if err := db.CompleteAudit(ctx, &done); routing.CodeOf(err) != "audit_record_not_found" {
			t.Errorf("completing a final record again: %v", err)
		}

		// Recovery leaves young intents alone, then settles old ones by the
		// act's checker.
		trail.OnRecover(audit.ActAPIKeyRevoke, func(context.Context, *audit.Record) (string, any, error) {
			return audit.StatusDone, map[string]bool{"revoked": true}, nil
		})
		if n, err := trail.Recover(ctx); err != nil || n != 0 {
			t.Fatalf("recover of a young intent: %d, %v", n, err)
		}
		clock.Advance(audit.RecoverAfter + time.Second)
		if n, err := trail.Recover(ctx); err != nil || n != 1 {
			t.Fatalf("recover: %d, %v", n, err)
		}
		got, err := trail.Get(ctx, stuck.ID)
		if err != nil {
			t.Fatalf("err != nil: recovered = %+v, %v", got, err)
		}
		if got.Status != audit.StatusDone {
			t.Fatalf("got.Status != audit.StatusDone: recovered = %+v, %v", got, err)
		}
		if string(got.After) != `{"revoked":true}` {
			t.Fatalf("string(got.After) != `{\"revoked\":true}`: recovered = %+v, %v", got, err)
		}
		if got.LeafHash == "" {
			t.Fatalf("got.LeafHash == \"\": recovered = %+v, %v", got, err)
		}
		anchorer.Step(ctx)
		if st := anchorer.Status(); st.Records != 3 || st.Oldest != (time.Time{}) {
			t.Errorf("after recovery: %+v, want every record anchored", st)
		}
		view, err := trail.ForResident(ctx, "did:eidgate:a", 10)
		if err != nil || len(view) != 2 || view[1].OfficialRef == "admin:alice" || !view[1].Anchored {
			t.Errorf("resident view = %+v, %v", view, err)
		}
	})
}
