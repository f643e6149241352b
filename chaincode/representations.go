package chaincode

import (
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"github.com/eidgate/eidgate/chaincode/model"
)

// RegisterRepresentation records that a guardian may act for a ward (the
// agent or an admin, for the officer the draft names). Both eIDs must be
// active and differ; a parent's relation needs a minor ward and ends at
// the ward's 18th birthday; the same guardian may not hold two relations
// to one ward whose windows overlap. The id derives from the transaction
// id.
func (c *Contract) RegisterRepresentation(ctx contractapi.TransactionContextInterface, d model.RepresentationDraft) (*model.Representation, error) {
	t, _, err := c.beginAs(ctx, model.FnRegisterRepresentation, model.RoleAgent, model.RoleAdmin)
	if err != nil {
		return nil, err
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	from, until, err := d.Window(t.now)
	if err != nil {
		return nil, err
	}
	for _, did := range []string{d.Ward, d.Guardian} {
		if _, err := t.activeIdentity(did); err != nil {
			return nil, err
		}
	}
	held, err := t.representationsUnder(objRepByWard, d.Ward)
	if err != nil {
		return nil, err
	}
	for _, r := range held {
		if r.Guardian == d.Guardian && r.Overlaps(from, until) {
			return nil, model.Conflict("representation_overlap: relation %s already lets this guardian act for this ward in that window", r.ID)
		}
	}
	r := &model.Representation{
		ID: model.DeriveRepresentationID(t.txID), Ward: d.Ward, Guardian: d.Guardian, Kind: d.Kind,
		Evidence: d.Evidence, WardBirthDate: d.WardBirthDate,
		ValidFrom: model.FormatTime(from), ValidUntil: model.FormatTime(until),
		Status: model.RepresentationActive, RegisteredAt: t.stamp, RegisteredBy: d.Officer,
	}
	if old, err := t.representation(r.ID); err != nil {
		return nil, err
	} else if old != nil {
		return nil, model.Conflict("representation %s already exists", r.ID)
	}
	for _, ix := range []struct{ obj, attr string }{{objRepByWard, r.Ward}, {objRepByGuardian, r.Guardian}} {
		k, err := t.key(ix.obj, ix.attr, r.ID)
		if err != nil {
			return nil, err
		}
		if err := t.put(k, []byte(indexMarker)); err != nil {
			return nil, err
		}
	}
	if err := t.saveRepresentation(r, model.OpRegistered); err != nil {
		return nil, err
	}
	return r, t.emit()
}

// EndRepresentation ends an active relation before its window closes (the
// agent or an admin, for the officer named); the guardian can no longer
// act for the ward from this transaction on.
func (c *Contract) EndRepresentation(ctx contractapi.TransactionContextInterface, id, reason, officer string) (*model.Representation, error) {
	t, _, err := c.beginAs(ctx, model.FnEndRepresentation, model.RoleAgent, model.RoleAdmin)
	if err != nil {
		return nil, err
	}
	if !model.ValidRepresentationID(id) {
		return nil, model.Invalid("id is not a representation id")
	}
	if err := model.CheckReason("reason", reason, true); err != nil {
		return nil, err
	}
	if err := (model.RepresentationDraft{}).CheckOfficer(officer); err != nil {
		return nil, err
	}
	r, err := t.mustRepresentation(id)
	if err != nil {
		return nil, err
	}
	if r.Status != model.RepresentationActive {
		return nil, model.Conflict("representation %s is %s, not active", id, r.Status)
	}
	r.Status, r.EndedAt, r.EndedBy, r.EndReason = model.RepresentationEnded, t.stamp, officer, reason
	if err := t.saveRepresentation(r, model.OpEnded); err != nil {
		return nil, err
	}
	return r, t.emit()
}

// GetRepresentation returns a relation (agent or admin).
func (c *Contract) GetRepresentation(ctx contractapi.TransactionContextInterface, id string) (*model.Representation, error) {
	t, _, err := c.beginAs(ctx, model.FnGetRepresentation, model.RoleAgent, model.RoleAdmin)
	if err != nil {
		return nil, err
	}
	if !model.ValidRepresentationID(id) {
		return nil, model.Invalid("id is not a representation id")
	}
	return t.mustRepresentation(id)
}

// ListRepresentationsByWard returns the relations under which someone may
// act, or could act, for an eID, in id order (agent or admin).
func (c *Contract) ListRepresentationsByWard(ctx contractapi.TransactionContextInterface, eid string) ([]model.Representation, error) {
	return c.listRepresentations(ctx, model.FnListRepresentationsByWard, objRepByWard, eid)
}

// ListRepresentationsByGuardian returns the relations under which an eID
// acts, or acted, for others, in id order (agent or admin).
func (c *Contract) ListRepresentationsByGuardian(ctx contractapi.TransactionContextInterface, eid string) ([]model.Representation, error) {
	return c.listRepresentations(ctx, model.FnListRepresentationsByGuardian, objRepByGuardian, eid)
}

func (c *Contract) listRepresentations(ctx contractapi.TransactionContextInterface, fn, obj, eid string) ([]model.Representation, error) {
	t, _, err := c.beginAs(ctx, fn, model.RoleAgent, model.RoleAdmin)
	if err != nil {
		return nil, err
	}
	if err := checkDID("eid", eid); err != nil {
		return nil, err
	}
	return t.representationsUnder(obj, eid)
}

// DenyConsentForWard refuses a requested consent for its resident by a
// guardian acting under relation representation (the agent submits it).
// The relation must name the consent's resident as ward and guardian as
// guardian, and be valid at the transaction time.
func (c *Contract) DenyConsentForWard(ctx contractapi.TransactionContextInterface, id, representation, guardian string) (*model.Consent, error) {
	t, who, err := c.beginAs(ctx, model.FnDenyConsentForWard, model.RoleAgent)
	if err != nil {
		return nil, err
	}
	if !model.ValidConsentID(id) {
		return nil, model.Invalid("id is not a consent id")
	}
	if err := checkDID("guardian", guardian); err != nil {
		return nil, err
	}
	cs, err := t.consentIn(id, model.ConsentRequested)
	if err != nil {
		return nil, err
	}
	if err := t.checkRepresentation(representation, cs.EID, guardian); err != nil {
		return nil, err
	}
	cs.Status, cs.DecidedAt, cs.DecidedBy, cs.DecisionMethod = model.ConsentDenied, t.stamp, who.Name, "guardian"
	cs.DecidedByGuardian, cs.DecidedUnder = guardian, representation
	if err := t.saveConsent(cs, model.OpDenied); err != nil {
		return nil, err
	}
	return cs, t.emit()
}

// checkRepresentation checks that relation id lets guardian act for ward
// now.
func (t *txn) checkRepresentation(id, ward, guardian string) error {
	if !model.ValidRepresentationID(id) {
		return model.Invalid("representation is not a representation id")
	}
	r, err := t.mustRepresentation(id)
	if err != nil {
		return err
	}
	if r.Ward != ward || r.Guardian != guardian {
		return model.Forbidden("representation_other: relation %s does not let this guardian act for this resident", id)
	}
	if ok, reason := r.ValidAt(t.now); !ok {
		return model.Forbidden("%s: relation %s is not valid at %s", reason, id, t.stamp)
	}
	return nil
}

func (t *txn) representationsUnder(index, eid string) ([]model.Representation, error) {
	return indexed[model.Representation](t, index, eid, "representation", objRep)
}

func (t *txn) representation(id string) (*model.Representation, error) {
	return load[model.Representation](t, objRep, id)
}

func (t *txn) mustRepresentation(id string) (*model.Representation, error) {
	return mustLoad[model.Representation](t, "representation", objRep, id)
}

// saveRepresentation stamps r with the transaction, writes it and
// announces op.
func (t *txn) saveRepresentation(r *model.Representation, op string) error {
	r.UpdatedAt, r.TxID = t.stamp, t.txID
	return t.store(objRep, r.ID, r, model.Change{Kind: model.KindRepresentation, Op: op, ID: r.ID, EID: r.Ward, Value: r.Guardian})
}
