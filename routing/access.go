package routing

import (
	"context"
	"time"
)

// AccessRecordsConfig is what an AccessRecords service is built from.
type AccessRecordsConfig struct {
	Store    AccessStore // required
	Anchorer *Anchorer   // required: the inclusion proofs
}

// AccessRecords answers who asked for what: the access records a
// department, a resident or an auditor may see, and a resident's proof
// that a record of theirs is anchored on the ledger.
type AccessRecords struct {
	store    AccessStore
	anchorer *Anchorer
}

// NewAccessRecords checks cfg and builds the service.
func NewAccessRecords(cfg AccessRecordsConfig) (*AccessRecords, error) {
	const op = "routing.NewAccessRecords"
	switch {
	case cfg.Store == nil:
		return nil, MissingDependency(op, "an access store")
	case cfg.Anchorer == nil:
		return nil, MissingDependency(op, "an anchorer")
	}
	return &AccessRecords{store: cfg.Store, anchorer: cfg.Anchorer}, nil
}

// List returns the access records f selects. The caller narrows f to what
// its user may see (a department's own requests, a resident's eID).
func (s *AccessRecords) List(ctx context.Context, f AccessFilter) ([]AccessRecord, error) {
	return s.store.ListAccess(ctx, f)
}

// Proof is the inclusion proof of the resident's access record id, checked
// against the anchor on the ledger. Another resident's record is not
// found, as a missing one is; a record not anchored yet is not_found with
// code not_anchored.
func (s *AccessRecords) Proof(ctx context.Context, eid, id string) (*AccessProof, error) {
	const op = "routing.AccessRecords.Proof"
	rec, err := s.store.GetAccess(ctx, id)
	if err != nil && !IsKind(err, KindNotFound) {
		return nil, Wrap(op, err)
	}
	if err != nil || rec.EID != eid {
		return nil, (&Error{Kind: KindNotFound, Op: op, Message: "no such access record"}).WithCode("not_found")
	}
	return s.anchorer.Proof(ctx, rec)
}

// FoldedAccess is a row of a resident's access log: one access record, or
// for repeated refusals of one kind (same requester, data type, purpose
// and outcome) the newest of them with how many there were and when the
// first was.
type FoldedAccess struct {
	AccessRecord
	Count     int       // records the row stands for, 1 for an unfolded one
	FirstTime time.Time // the oldest folded record's time
}

// FoldRefusals folds repeated refusals in recs (newest first, as a
// resident's log is listed) into the row of the newest of their kind, so a
// department that keeps asking fills one row with a count rather than the
// whole log; granted accesses are never folded, each is a row of its own.
func FoldRefusals(recs []AccessRecord) []FoldedAccess {
	type kind struct{ requester, dataType, purpose, outcome string }
	out := make([]FoldedAccess, 0, len(recs))
	at := map[kind]int{}
	for _, r := range recs {
		if UsesConsent(r.Outcome) {
			out = append(out, FoldedAccess{AccessRecord: r, Count: 1, FirstTime: r.CreatedAt})
			continue
		}
		k := kind{r.Requester, r.DataType, r.Purpose, r.Outcome}
		if i, ok := at[k]; ok {
			out[i].Count++
			if r.CreatedAt.Before(out[i].FirstTime) {
				out[i].FirstTime = r.CreatedAt
			}
			continue
		}
		at[k] = len(out)
		out = append(out, FoldedAccess{AccessRecord: r, Count: 1, FirstTime: r.CreatedAt})
	}
	return out
}
