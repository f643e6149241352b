package routing_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/routing/merkle"
)

func appendN(t *testing.T, e *env, n int, outcome, consent string) []*routing.AccessRecord {
	t.Helper()
	var out []*routing.AccessRecord
	for range n {
		r := &routing.AccessRecord{Requester: "hrss", Official: "o", EID: eidAlice, DataType: "edu.degree", Purpose: "employment", Outcome: outcome, ConsentID: consent, UseConsent: consent != ""}
		if err := e.log.Append(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func TestAnchorerAnchorsEveryRecordOnceWithConsentUses(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.anchorer = e.newAnchorer(t, "r1", func(c *routing.AnchorerConfig) { c.MaxBatch = 7 })
	cid := e.grant(t, eidAlice, "hrss", "*", 0)
	appendN(t, e, 10, routing.OutcomeIssued, cid)
	appendN(t, e, 5, routing.OutcomePolicyDenied, "")
	e.anchorer.Step(context.Background())

	batches := map[string]bool{}
	for _, r := range e.store.Records() {
		if r.BatchID == "" || r.AnchorTxID == "" {
			t.Fatalf("record %d not anchored", r.Seq)
		}
		batches[r.BatchID] = true
	}
	if len(batches) != 3 { // 7 + 7 + 1
		t.Fatalf("%d batches", len(batches))
	}
	var uses uint64
	for id := range batches {
		a, err := e.ledger.GetAnchor(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		leaves, _ := e.store.BatchLeaves(context.Background(), id)
		hashes := make([]merkle.Hash, len(leaves))
		for i, l := range leaves {
			hashes[i], _ = merkle.ParseHash(l)
		}
		if merkle.RootFromHashes(hashes).String() != a.MerkleRoot || a.Count != uint64(len(leaves)) {
			t.Fatalf("anchor %s root/count do not match its records", id)
		}
		for _, u := range a.ConsentUses {
			if u.ConsentID == cid {
				uses += u.Uses
			}
		}
	}
	if uses != 10 {
		t.Fatalf("anchored consent uses %d, want 10 (only issued accesses count)", uses)
	}
	if err := e.anchorer.Check(context.Background()); err != nil {
		t.Fatalf("gate after anchoring: %v", err)
	}
}

func TestAnchorerResumesPendingBatchWithSameContent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	appendN(t, e, 4, routing.OutcomePolicyDenied, "")
	// The ledger is down: the batch is planned but not confirmed.
	e.ledger.FailWrites(errors.New("peer unreachable"))
	e.anchorer.Step(context.Background())
	pending, _ := e.store.PendingBatches(context.Background())
	if len(pending) != 1 {
		t.Fatalf("pending %d", len(pending))
	}
	// More records arrive; the pending batch must keep its content.
	appendN(t, e, 3, routing.OutcomePolicyDenied, "")
	e.ledger.FailWrites(nil)
	// A fresh anchorer (a restart) resumes.
	restarted := e.newAnchorer(t, "r1", nil)
	restarted.Step(context.Background())
	a, err := e.ledger.GetAnchor(context.Background(), pending[0].ID)
	if err != nil {
		t.Fatalf("err = %v, want nil; resumed anchor %+v %v", err, a, err)
	}
	if a.Count != 4 {
		t.Fatalf("a.Count = %v, want 4; resumed anchor %+v %v", a.Count, a, err)
	}
	if a.MerkleRoot != pending[0].MerkleRoot {
		t.Fatalf("a.MerkleRoot = %v, want pending[0].MerkleRoot; resumed anchor %+v %v", a.MerkleRoot, a, err)
	}
	// Submitting the same batch again is accepted idempotently.
	if _, _, err := e.ledger.AnchorAccessBatch(context.Background(), *a); err != nil {
		t.Fatalf("idempotent resubmission refused: %v", err)
	}
	for _, r := range e.store.Records() {
		if r.AnchorTxID == "" {
			t.Fatalf("record %d left unanchored", r.Seq)
		}
	}
}

func TestLagGateFailsClosed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.anchorer = e.newAnchorer(t, "r1", func(c *routing.AnchorerConfig) { c.LagBound = 30 * time.Second })
	if err := e.anchorer.Check(context.Background()); routing.CodeOf(err) != "anchoring_unknown" {
		t.Fatalf("before the first step: %v", err)
	}
	e.grant(t, eidAlice, "hrss", "*", 0)
	e.ledger.FailWrites(errors.New("ledger down"))
	appendN(t, e, 1, routing.OutcomePolicyDenied, "")
	e.anchorer.Step(context.Background())
	if err := e.anchorer.Check(context.Background()); err != nil {
		t.Fatalf("fresh unanchored record should pass: %v", err)
	}
	e.clock.Advance(31 * time.Second)
	e.anchorer.Step(context.Background())
	err := e.anchorer.Check(context.Background())
	if routing.CodeOf(err) != "anchoring_lag" {
		t.Fatalf("lagging: %v", err)
	}
	e.resolver = e.newResolver(t, e.anchorer)
	if _, err := e.resolver.Resolve(context.Background(), req(eidAlice)); routing.CodeOf(err) != "anchoring_lag" || e.tickets.count() != 0 {
		t.Fatalf("resolve while anchoring lags: %v", err)
	}
	// The database stops answering: the state goes stale and the gate stays shut.
	e.ledger.FailWrites(nil)
	e.store.Fail(errors.New("db down"))
	e.clock.Advance(31 * time.Second)
	e.anchorer.Step(context.Background())
	if err := e.anchorer.Check(context.Background()); routing.CodeOf(err) != "anchoring_unknown" {
		t.Fatalf("stale state: %v", err)
	}
}

func TestInclusionProofAgainstLedgerAnchor(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	recs := appendN(t, e, 6, routing.OutcomePolicyDenied, "")
	if _, err := e.anchorer.Proof(context.Background(), recs[0]); routing.CodeOf(err) != "not_anchored" {
		t.Fatalf("proof before anchoring: %v", err)
	}
	e.anchorer.Step(context.Background())
	for _, r := range recs {
		stored, _ := e.store.GetAccess(context.Background(), r.ID)
		p, err := e.anchorer.Proof(context.Background(), stored)
		if err != nil {
			t.Fatalf("err = %v, want nil; proof of %s: %+v %v", err, r.ID, p, err)
		}
		if !p.Verified {
			t.Fatalf("p.Verified is false; proof of %s: %+v %v", r.ID, p, err)
		}
		if p.Proof.TreeSize != 6 {
			t.Fatalf("p.Proof.TreeSize = %v, want 6; proof of %s: %+v %v", p.Proof.TreeSize, r.ID, p, err)
		}
		// The leaf commits to the record's audited fields.
		stored.OfficialRef = "official-someone-else"
		stored.ComputeLeafHash()
		if stored.LeafHash == p.Proof.LeafHash.String() {
			t.Fatal("changing the official's pseudonym does not change the leaf")
		}
	}
}

// submitHook runs during on the first anchoring submission.
type submitHook struct {
	routing.AnchorSubmitter
	during func()
	done   bool
}

func (s *submitHook) AnchorAccessBatch(ctx context.Context, a model.AccessAnchor) (*model.AccessAnchor, uint64, error) {
	if !s.done {
		s.done = true
		s.during()
	}
	return s.AnchorSubmitter.AnchorAccessBatch(ctx, a)
}

// Records that arrive while a partial batch is being submitted wait for the
// next round: one round anchors one batch unless full batches are waiting.
func TestAnchorerTakesOnePartialBatchPerRound(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	appendN(t, e, 5, routing.OutcomePolicyDenied, "")
	e.anchorer = e.newAnchorer(t, "r1", func(c *routing.AnchorerConfig) {
		c.MaxBatch = 100
		c.Ledger = &submitHook{AnchorSubmitter: e.ledger, during: func() { appendN(t, e, 3, routing.OutcomePolicyDenied, "") }}
	})
	unanchored := func() int {
		n := 0
		for _, r := range e.store.Records() {
			if r.AnchorTxID == "" {
				n++
			}
		}
		return n
	}
	e.anchorer.Step(context.Background())
	if st := e.anchorer.Status(); st.Batches != 1 || st.Records != 5 || unanchored() != 3 {
		t.Fatalf("after one round: %d batches, %d records, %d unanchored; want 1, 5, 3", st.Batches, st.Records, unanchored())
	}
	e.anchorer.Step(context.Background())
	if st := e.anchorer.Status(); st.Batches != 2 || unanchored() != 0 {
		t.Fatalf("after two rounds: %d batches, %d unanchored; want 2, 0", st.Batches, unanchored())
	}
}

// A leader that cannot reach the ledger gives the lease up, so another
// replica anchors (resubmitting the planned batch) instead of every
// replica failing closed behind it.
func TestAnchorerLeaderThatFailsHandsTheLeaseOver(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	other := e.newAnchorer(t, "r2", nil)
	appendN(t, e, 3, routing.OutcomePolicyDenied, "")
	e.ledger.FailWrites(errors.New("peer unreachable"))
	e.anchorer.Step(ctx) // r1 leads, plans a batch, cannot submit it
	if e.anchorer.Status().Leader {
		t.Fatal("a leader that failed to anchor still reports the lease")
	}
	e.ledger.FailWrites(nil) // r2's link works
	other.Step(ctx)
	if !other.Status().Leader {
		t.Fatal("the other replica did not get the lease")
	}
	if pending, _ := e.store.PendingBatches(ctx); len(pending) != 0 {
		t.Fatalf("%d batches still pending after the other replica's round", len(pending))
	}
	e.anchorer.Step(ctx)
	if e.anchorer.Status().Leader {
		t.Fatal("the failed replica took the lease back at once")
	}
}
