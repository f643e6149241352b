package routing

import "context"

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
