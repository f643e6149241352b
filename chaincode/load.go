package chaincode

import (
	"github.com/eidgate/eidgate/chaincode/model"
)

// Loaders return nil (and no error) when the record does not exist.

func (t *txn) department(id string) (*model.Department, error) {
	k, err := t.key(objDepartment, id)
	if err != nil {
		return nil, err
	}
	var d model.Department
	if ok, err := t.getJSON(k, &d); !ok || err != nil {
		return nil, err
	}
	return &d, nil
}

func (t *txn) dataType(code string) (*model.DataType, error) {
	k, err := t.key(objDataType, code)
	if err != nil {
		return nil, err
	}
	var dt model.DataType
	if ok, err := t.getJSON(k, &dt); !ok || err != nil {
		return nil, err
	}
	return &dt, nil
}

func (t *txn) identity(did string) (*model.Identity, error) {
	k, err := t.key(objEID, did)
	if err != nil {
		return nil, err
	}
	var id model.Identity
	if ok, err := t.getJSON(k, &id); !ok || err != nil {
		return nil, err
	}
	return &id, nil
}

func (t *txn) consent(id string) (*model.Consent, error) {
	k, err := t.key(objConsent, id)
	if err != nil {
		return nil, err
	}
	var c model.Consent
	if ok, err := t.getJSON(k, &c); !ok || err != nil {
		return nil, err
	}
	return &c, nil
}

// mustDepartment loads a department that must exist.
func (t *txn) mustDepartment(id string) (*model.Department, error) {
	d, err := t.department(id)
	if err == nil && d == nil {
		err = model.NotFound("department %s is not registered", id)
	}
	return d, err
}

// activeDepartment loads a department that must exist and be active.
func (t *txn) activeDepartment(id string) (*model.Department, error) {
	d, err := t.mustDepartment(id)
	if err == nil && !d.Active() {
		err = model.Conflict("department %s is suspended", id)
	}
	return d, err
}

// mustIdentity loads an eID that must exist.
func (t *txn) mustIdentity(did string) (*model.Identity, error) {
	id, err := t.identity(did)
	if err == nil && id == nil {
		err = model.NotFound("eID %s does not exist", did)
	}
	return id, err
}

// activeIdentity loads an eID that must exist and be active; a merged eID
// names its survivor so the caller can retry with it.
func (t *txn) activeIdentity(did string) (*model.Identity, error) {
	id, err := t.mustIdentity(did)
	if err != nil {
		return nil, err
	}
	switch id.Status {
	case model.EIDActive:
		return id, nil
	case model.EIDMerged:
		return nil, model.Conflict("eID %s is merged into %s", did, id.MergedInto)
	default:
		return nil, model.Conflict("eID %s is %s", did, id.Status)
	}
}

// canonical follows the merge chain from id to the eID that holds its
// records now.
func (t *txn) canonical(id *model.Identity) (*model.Identity, error) {
	cur := id
	for step := 0; cur.Status == model.EIDMerged; step++ {
		if step == maxMergeChainSteps {
			return nil, model.Conflict("merge chain of eID %s is longer than %d", id.ID, maxMergeChainSteps)
		}
		next, err := t.identity(cur.MergedInto)
		if err != nil {
			return nil, err
		}
		if next == nil {
			return nil, model.Conflict("eID %s is merged into %s, which does not exist", cur.ID, cur.MergedInto)
		}
		cur = next
	}
	return cur, nil
}

func (t *txn) putIdentity(id *model.Identity) error {
	k, err := t.key(objEID, id.ID)
	if err != nil {
		return err
	}
	return t.putJSON(k, id)
}

func (t *txn) putConsent(c *model.Consent) error {
	k, err := t.key(objConsent, c.ID)
	if err != nil {
		return err
	}
	return t.putJSON(k, c)
}

// saveConsent stamps cs with the transaction, writes it and announces op.
func (t *txn) saveConsent(cs *model.Consent, op string) error {
	cs.UpdatedAt, cs.TxID = t.stamp, t.txID
	if err := t.putConsent(cs); err != nil {
		return err
	}
	t.recordConsent(cs, op)
	return nil
}

// recordConsent announces a consent change, one entry per data type so a
// cache keyed by data type drops exactly what changed.
func (t *txn) recordConsent(c *model.Consent, op string) {
	for _, dt := range c.DataTypes {
		t.record(model.Change{Kind: model.KindConsent, Op: op, ID: c.ID, EID: c.EID,
			Requester: c.Requester, Provider: c.Provider, DataType: dt})
	}
}
