package audit

import (
	"context"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/mapping"
)

// Relations is the officer's side of representation with registering and
// ending relations audited; the record shows the evidence hashed and
// masked, as the ledger does.
type Relations struct {
	*mapping.Representations
	trail *Trail
}

// NewRelations wraps the officer's representation service.
func NewRelations(r *mapping.Representations, t *Trail) *Relations {
	return &Relations{Representations: r, trail: t}
}

// Register records that a guardian may act for a ward.
func (s *Relations) Register(ctx context.Context, in mapping.RelationInput, officer string) (*model.Representation, error) {
	return Do(ctx, s.trail, Entry{Act: ActRelationRegister, Target: in.Guardian, EID: in.Ward},
		func(ctx context.Context) (*model.Representation, error) {
			return s.Representations.Register(ctx, in, officer)
		},
		anyOf)
}

// End ends a relation before its window closes.
func (s *Relations) End(ctx context.Context, id, reason, officer string) (*model.Representation, error) {
	return Do(ctx, s.trail, Entry{Act: ActRelationEnd, Target: id, Reason: reason},
		func(ctx context.Context) (*model.Representation, error) {
			return s.Representations.End(ctx, id, reason, officer)
		},
		anyOf)
}
