package routingtest

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/eidgate/eidgate/routing"
)

// Store is routing.AccessStore and routing.AnchorStore in memory, with
// named leases that a holder keeps until it releases them.
type Store struct {
	mu      sync.Mutex
	recs    []*routing.AccessRecord // in sequence order
	uses    map[string]uint64
	batches map[string]*routing.AnchorBatch
	order   []string // batch ids, oldest first
	lease   map[string]string
	fail    error
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{uses: map[string]uint64{}, batches: map[string]*routing.AnchorBatch{}, lease: map[string]string{}}
}

// Fail makes AppendAccess and OldestUnanchored fail with err (the database
// is down) until Fail(nil).
func (s *Store) Fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = err
}

// Records returns copies of every record, in sequence order.
func (s *Store) Records() []routing.AccessRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]routing.AccessRecord, len(s.recs))
	for i, r := range s.recs {
		out[i] = *r
	}
	return out
}

// AppendAccess writes recs in one transaction: a record whose consent has
// no use left is refused with consent_uses_exhausted, the others are
// written.
func (s *Store) AppendAccess(_ context.Context, recs []*routing.AccessRecord) ([]error, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, s.fail
	}
	per := make([]error, len(recs))
	for i, r := range recs {
		if r.UseConsent {
			if r.ConsentMaxUses > 0 && s.uses[r.ConsentID] >= r.ConsentMaxUses {
				per[i] = (&routing.Error{Kind: routing.KindConflict, Op: "store", Message: "no uses left"}).WithCode("consent_uses_exhausted")
				continue
			}
			s.uses[r.ConsentID]++
		}
		c := *r
		c.Seq = uint64(len(s.recs) + 1)
		r.Seq = c.Seq
		s.recs = append(s.recs, &c)
	}
	return per, nil
}

// GetAccess returns the record with id.
func (s *Store) GetAccess(_ context.Context, id string) (*routing.AccessRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.find(id); r != nil {
		c := *r
		return &c, nil
	}
	return nil, notFound("store.GetAccess", "access record")
}

func (s *Store) find(id string) *routing.AccessRecord {
	for _, r := range s.recs {
		if r.ID == id {
			return r
		}
	}
	return nil
}

// ListAccess filters as the SQL store does: From inclusive, To exclusive;
// ascending pages continue after AfterSeq, descending ones before
// BeforeSeq (or AfterSeq); Limit 0 lists every match.
func (s *Store) ListAccess(_ context.Context, f routing.AccessFilter) ([]routing.AccessRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	bound := f.AfterSeq
	if f.Desc && bound == 0 {
		bound = f.BeforeSeq
	}
	match := func(r *routing.AccessRecord) bool {
		return (f.Requester == "" || r.Requester == f.Requester) && (f.Provider == "" || r.Provider == f.Provider) &&
			(f.EID == "" || r.EID == f.EID) && (f.DataType == "" || r.DataType == f.DataType) &&
			(f.Purpose == "" || r.Purpose == f.Purpose) && (f.Outcome == "" || r.Outcome == f.Outcome) &&
			(f.From.IsZero() || !r.CreatedAt.Before(f.From)) && (f.To.IsZero() || r.CreatedAt.Before(f.To)) &&
			(bound == 0 || (f.Desc && r.Seq < bound) || (!f.Desc && r.Seq > bound)) &&
			(f.VisibleAt.IsZero() || r.VisibleAt(f.VisibleAt)) && (!f.BreakGlass || r.BreakGlass()) &&
			(f.Reviewed == nil || *f.Reviewed == !r.ReviewedAt.IsZero())
	}
	out := []routing.AccessRecord{}
	for _, r := range s.recs {
		if match(r) {
			out = append(out, *r)
		}
	}
	if f.Desc {
		slices.Reverse(out)
	}
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

// ConsentUses is how many uses of a consent were counted.
func (s *Store) ConsentUses(_ context.Context, id string) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.uses[id], nil
}

// ReviewAccess records a review of a break-glass access once.
func (s *Store) ReviewAccess(_ context.Context, id, by, note string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.find(id)
	switch {
	case r == nil || !r.BreakGlass():
		return notFound("store.ReviewAccess", "break-glass access")
	case !r.ReviewedAt.IsZero():
		return routing.Errorf(routing.KindConflict, "store.ReviewAccess", "the access was reviewed already").WithCode("break_glass_reviewed")
	}
	r.ReviewedAt, r.ReviewedBy, r.ReviewNote = at, by, note
	return nil
}

// FlagAccess marks a record.
func (s *Store) FlagAccess(_ context.Context, id, reason, hash string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.find(id)
	if r == nil {
		return notFound("store.FlagAccess", "access record")
	}
	r.Flagged, r.FlagReason, r.DeliveredHash = true, reason, hash
	return nil
}

// OldestUnanchored is the creation time of the first record not anchored.
func (s *Store) OldestUnanchored(context.Context) (time.Time, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return time.Time{}, false, s.fail
	}
	for _, r := range s.recs {
		if r.AnchorTxID == "" {
			return r.CreatedAt, true, nil
		}
	}
	return time.Time{}, false, nil
}

// PlanBatch assigns up to max records in no batch, in sequence order, to
// the batch plan builds from them.
func (s *Store) PlanBatch(_ context.Context, max int, plan func([]routing.AnchorLeaf) (*routing.AnchorBatch, error)) (*routing.AnchorBatch, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var pick []*routing.AccessRecord
	for _, r := range s.recs {
		if r.BatchID == "" && len(pick) < max {
			pick = append(pick, r)
		}
	}
	if len(pick) == 0 {
		return nil, nil
	}
	vals := make([]routing.AnchorLeaf, len(pick))
	for i, r := range pick {
		vals[i] = routing.AnchorLeaf{Seq: r.Seq, ID: r.ID, LeafHash: r.LeafHash, CreatedAt: r.CreatedAt, BreakGlass: r.BreakGlass()}
		if routing.UsesConsent(r.Outcome) && r.ConsentID != "" {
			vals[i].ConsentUse = r.ConsentID
		}
	}
	b, err := plan(vals)
	if err != nil {
		return nil, err
	}
	for _, r := range pick {
		r.BatchID = b.ID
	}
	s.batches[b.ID] = b
	s.order = append(s.order, b.ID)
	return b, nil
}

// PendingBatches are the planned batches not yet anchored, oldest first.
func (s *Store) PendingBatches(context.Context) ([]routing.AnchorBatch, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []routing.AnchorBatch
	for _, id := range s.order {
		if b := s.batches[id]; b.Status == routing.BatchPending {
			out = append(out, *b)
		}
	}
	return out, nil
}

// GetBatch returns the batch with id.
func (s *Store) GetBatch(_ context.Context, id string) (*routing.AnchorBatch, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.batches[id]
	if !ok {
		return nil, notFound("store.GetBatch", "batch")
	}
	c := *b
	return &c, nil
}

// BatchLeaves are the leaf hashes of a batch's records in sequence order.
func (s *Store) BatchLeaves(_ context.Context, id string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, r := range s.recs {
		if r.BatchID == id {
			out = append(out, r.LeafHash)
		}
	}
	return out, nil
}

// MarkAnchored records that a batch is on the ledger.
func (s *Store) MarkAnchored(_ context.Context, id, txID string, block uint64, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.batches[id]
	if !ok {
		return notFound("store.MarkAnchored", "batch")
	}
	b.Status, b.TxID, b.Block, b.AnchoredAt = routing.BatchAnchored, txID, block, at
	for _, r := range s.recs {
		if r.BatchID == id {
			r.AnchorTxID, r.AnchorBlock, r.AnchoredAt = txID, block, at
		}
	}
	return nil
}

// AcquireLease takes the named lease for holder unless another holder has
// it; the ttl is ignored.
func (s *Store) AcquireLease(_ context.Context, name, holder string, _ time.Duration) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.lease[name]; ok && cur != holder {
		return false, nil
	}
	s.lease[name] = holder
	return true, nil
}

// ReleaseLease gives the named lease up if holder has it.
func (s *Store) ReleaseLease(_ context.Context, name, holder string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lease[name] == holder {
		delete(s.lease, name)
	}
	return nil
}
