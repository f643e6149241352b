package routingtest

import (
	"context"
	"slices"
	"strings"

	"github.com/eidgate/eidgate/chaincode/model"
)

// RegisterRepresentation records a relation as the chaincode does: both
// eIDs active, not oneself, no overlapping relation of the same pair; a
// parent's relation ends at the ward's coming of age.
func (l *Ledger) RegisterRepresentation(_ context.Context, d model.RepresentationDraft) (*model.Representation, error) {
	return submit(l, "RegisterRepresentation", func(t tx) (*model.Representation, error) {
		if err := d.Validate(); err != nil {
			return nil, fromChaincode(t.op, err)
		}
		from, until, err := d.Window(l.clock.Now())
		if err != nil {
			return nil, fromChaincode(t.op, err)
		}
		for _, e := range []string{d.Ward, d.Guardian} {
			if id, ok := l.eids[e]; !ok || id.Status != model.EIDActive {
				return nil, fromChaincode(t.op, model.NotFound("eID %s does not exist or is not active", e))
			}
		}
		for _, r := range l.reps {
			if r.Ward == d.Ward && r.Guardian == d.Guardian && r.Overlaps(from, until) {
				return nil, fromChaincode(t.op, model.Conflict("representation_overlap: relation %s overlaps", r.ID))
			}
		}
		r := model.Representation{ID: model.DeriveRepresentationID(t.id), Ward: d.Ward, Guardian: d.Guardian, Kind: d.Kind,
			Evidence: d.Evidence, WardBirthDate: d.WardBirthDate, ValidFrom: model.FormatTime(from), ValidUntil: model.FormatTime(until),
			Status: model.RepresentationActive, RegisteredAt: t.now, RegisteredBy: d.Officer, UpdatedAt: t.now, TxID: t.id}
		l.reps[r.ID] = r
		return &r, nil
	})
}

// EndRepresentation ends an active relation.
func (l *Ledger) EndRepresentation(_ context.Context, id, reason, officer string) (*model.Representation, error) {
	return submit(l, "EndRepresentation", func(t tx) (*model.Representation, error) {
		r, ok := l.reps[id]
		if !ok {
			return nil, notFound(t.op, "representation")
		}
		if r.Status != model.RepresentationActive {
			return nil, conflict(t.op, "representation %s is %s, not active", id, r.Status)
		}
		r.Status, r.EndedAt, r.EndedBy, r.EndReason, r.UpdatedAt, r.TxID = model.RepresentationEnded, t.now, officer, reason, t.now, t.id
		l.reps[id] = r
		return &r, nil
	})
}

// GetRepresentation reads a relation.
func (l *Ledger) GetRepresentation(_ context.Context, id string) (*model.Representation, error) {
	l.read("GetRepresentation")
	defer l.mu.Unlock()
	r, ok := l.reps[id]
	if !ok {
		return nil, notFound("ledger.GetRepresentation", "representation")
	}
	return &r, nil
}

// ListRepresentationsByWard returns the relations of a ward in id order.
func (l *Ledger) ListRepresentationsByWard(_ context.Context, eid string) ([]model.Representation, error) {
	return l.representations("ListRepresentationsByWard", func(r model.Representation) bool { return r.Ward == eid }), nil
}

// ListRepresentationsByGuardian returns the relations of a guardian in id
// order.
func (l *Ledger) ListRepresentationsByGuardian(_ context.Context, eid string) ([]model.Representation, error) {
	return l.representations("ListRepresentationsByGuardian", func(r model.Representation) bool { return r.Guardian == eid }), nil
}

func (l *Ledger) representations(fn string, keep func(model.Representation) bool) []model.Representation {
	l.read(fn)
	defer l.mu.Unlock()
	out := []model.Representation{}
	for _, r := range l.reps {
		if keep(r) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b model.Representation) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// DenyConsentForWard denies a ward's request for the guardian under a
// relation valid now.
func (l *Ledger) DenyConsentForWard(_ context.Context, id, representation, guardian string) (*model.Consent, error) {
	return submit(l, "DenyConsentForWard", func(t tx) (*model.Consent, error) {
		c, ok := l.consents[id]
		if !ok {
			return nil, notFound(t.op, "consent")
		}
		if c.Status != model.ConsentRequested {
			return nil, conflict(t.op, "the consent is %s", c.Status)
		}
		if err := l.checkRepresentation(representation, c.EID, guardian); err != nil {
			return nil, fromChaincode(t.op, err)
		}
		c.Status, c.DecidedAt, c.DecidedBy, c.DecisionMethod = model.ConsentDenied, t.now, "agent", "guardian"
		c.DecidedByGuardian, c.DecidedUnder, c.UpdatedAt, c.TxID = guardian, representation, t.now, t.id
		l.consents[id] = c
		return &c, nil
	})
}

// checkRepresentation checks, with the ledger locked, that relation id
// lets guardian act for ward now.
func (l *Ledger) checkRepresentation(id, ward, guardian string) error {
	r, ok := l.reps[id]
	if !ok {
		return model.NotFound("representation %s does not exist", id)
	}
	if r.Ward != ward || r.Guardian != guardian {
		return model.Forbidden("representation_other: relation %s does not let this guardian act for this resident", id)
	}
	if ok, reason := r.ValidAt(l.clock.Now()); !ok {
		return model.Forbidden("%s: relation %s is not valid now", reason, id)
	}
	return nil
}
