package routing_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/routing/routingtest"
)

// disputeStore keeps disputes in memory; failNext makes the next write
// fail as a database that went away.
type disputeStore struct {
	mu       sync.Mutex
	rows     map[string]routing.Dispute
	failNext bool
}

func (s *disputeStore) write(d *routing.Dispute) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failNext {
		s.failNext = false
		return routing.Unavailable("test", "database_unavailable", "down", errors.New("down"))
	}
	s.rows[d.ID] = *d
	return nil
}

func (s *disputeStore) InsertDispute(_ context.Context, d *routing.Dispute) error { return s.write(d) }
func (s *disputeStore) SaveDispute(_ context.Context, d *routing.Dispute) error   { return s.write(d) }
func (s *disputeStore) GetDispute(_ context.Context, id string) (*routing.Dispute, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.rows[id]
	if !ok {
		return nil, routing.Errorf(routing.KindNotFound, "test", "no dispute")
	}
	return &d, nil
}
func (s *disputeStore) ListDisputes(_ context.Context, f routing.DisputeFilter) ([]routing.Dispute, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []routing.Dispute
	for _, d := range s.rows {
		if (f.AccessID == "" || d.AccessID == f.AccessID) && (f.EID == "" || d.EID == f.EID) {
			out = append(out, d)
		}
	}
	return out, nil
}

// accessStore holds fixed access records; the service only reads them
// (the embedded interface's other methods are never called).
type accessStore struct {
	routing.AccessStore
	recs map[string]routing.AccessRecord
}

func (a accessStore) GetAccess(_ context.Context, id string) (*routing.AccessRecord, error) {
	r, ok := a.recs[id]
	if !ok {
		return nil, routing.Errorf(routing.KindNotFound, "test", "no record")
	}
	return &r, nil
}

// A database write that fails after the ledger write leaves the dispute
// on the ledger only; the same request again completes it (the ledger's
// conflict is recognised as the earlier attempt), for raising, answering
// and closing alike. Another request still conflicts.
func TestDisputeRetryAfterDatabaseFailure(t *testing.T) {
	ctx := context.Background()
	l := routingtest.NewLedger(routingtest.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)))
	if _, _, err := l.AnchorAccessBatch(ctx, model.AccessAnchor{BatchID: "gw-1", MerkleRoot: strings.Repeat("a", 64), Count: 1, FirstSeq: 1, LastSeq: 1}); err != nil {
		t.Fatal(err)
	}
	const alice = "did:eidgate:0123456789abcdef0123456789abcdef"
	const acc = "acc_0123456789abcdef0123456789abcdef"
	access := accessStore{recs: map[string]routing.AccessRecord{acc: {ID: acc, EID: alice, Requester: "hr",
		BatchID: "gw-1", AnchorTxID: "tx", LeafHash: strings.Repeat("b", 64)}}}
	db := &disputeStore{rows: map[string]routing.Dispute{}}
	s, err := routing.NewDisputeService(routing.DisputeConfig{Ledger: l, Store: db, Access: access, PseudonymKey: []byte("a pseudonym key of 16+")})
	if err != nil {
		t.Fatal(err)
	}

	db.failNext = true
	if _, err := s.Raise(ctx, alice, acc, "unexpected", "not me"); !routing.IsKind(err, routing.KindUnavailable) {
		t.Fatalf("raise with the database down: %v", err)
	}
	if _, err := s.Raise(ctx, alice, acc, "other", "something else"); routing.CodeOf(err) != "dispute_state" {
		t.Fatalf("another dispute of the access: %v", err)
	}
	d, err := s.Raise(ctx, alice, acc, "unexpected", "not me")
	if err != nil || d.Text != "not me" || l.Calls(model.FnRaiseDispute) != 3 {
		t.Fatalf("the retry: %+v %v (%d ledger calls)", d, err, l.Calls(model.FnRaiseDispute))
	}
	if got, err := s.ForResident(ctx, alice, d.ID); err != nil || got.Text != "not me" {
		t.Fatalf("stored: %+v %v", got, err)
	}

	db.failNext = true
	if _, err := s.Answer(ctx, "hr", "li", d.ID, "your application"); !routing.IsKind(err, routing.KindUnavailable) {
		t.Fatalf("answer with the database down: %v", err)
	}
	if _, err := s.Answer(ctx, "hr", "li", d.ID, "another answer"); routing.CodeOf(err) != "dispute_state" {
		t.Fatalf("another answer: %v", err)
	}
	if a, err := s.Answer(ctx, "hr", "li", d.ID, "your application"); err != nil || a.Status != model.DisputeAnswered || a.Answer != "your application" {
		t.Fatalf("the answer's retry: %+v %v", a, err)
	}

	db.failNext = true
	if _, err := s.Close(ctx, "official-x", d.ID, model.DisputeUpheld, "should not have happened"); !routing.IsKind(err, routing.KindUnavailable) {
		t.Fatalf("close with the database down: %v", err)
	}
	if c, err := s.Close(ctx, "official-x", d.ID, model.DisputeUpheld, "should not have happened"); err != nil || c.Outcome != model.DisputeUpheld {
		t.Fatalf("the outcome's retry: %+v %v", c, err)
	}
	if _, err := s.Close(ctx, "official-x", d.ID, model.DisputeDismissed, "changed my mind"); routing.CodeOf(err) != "dispute_state" {
		t.Fatalf("closing a closed dispute: %v", err)
	}
}
