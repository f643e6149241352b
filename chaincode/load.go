package chaincode

import (
	"github.com/eidgate/eidgate/chaincode/model"
)

// Loaders return nil (and no error) when the record does not exist.

// load reads the JSON record of type T under the composite key obj(attrs).
func load[T any](t *txn, obj string, attrs ...string) (*T, error) {
	k, err := t.key(obj, attrs...)
	if err != nil {
		return nil, err
	}
	var v T
	if ok, err := t.getJSON(k, &v); !ok || err != nil {
		return nil, err
	}
	if err := t.withUses(&v); err != nil {
		return nil, err
	}
	return &v, nil
}

// useCount is the value under objUses: how many uses of a consent or a
// standing rule the anchored access batches have counted. Anchoring counts
// the uses of every consent its records relied on; writing the count under
// a key of its own keeps each anchoring's write set to a few bytes per
// consent, where rewriting the whole consent (terms, signatures) made the
// anchoring transaction of a batch serving many residents as large as
// their consents together, in the block, the history and every copy of the
// transaction. A consent's or rule's own record keeps its terms and
// status; its "uses" is this count whenever one was written (records
// written before counts had their own key carry theirs inline, and the
// first count starts from it).
type useCount struct {
	Uses uint64 `json:"uses"`
}

// counted is what a consent or standing rule shows of its use count: the
// field the count is kept in, the record's id and kind, and its max_uses.
type counted struct {
	uses    *uint64
	id      string
	what    string
	maxUses uint64
}

// usesOf returns the use count of a consent or standing rule; a nil uses
// for other records.
func usesOf(v any) counted {
	switch r := v.(type) {
	case *model.Consent:
		return counted{&r.Uses, r.ID, "consent", r.MaxUses}
	case *model.StandingRule:
		return counted{&r.Uses, r.ID, "standing rule", r.MaxUses}
	}
	return counted{}
}

// withUses sets the use count of a consent or standing rule just read to
// the count under objUses, when one was written.
func (t *txn) withUses(v any) error {
	c := usesOf(v)
	if c.uses == nil {
		return nil
	}
	k, err := t.key(objUses, c.id)
	if err != nil {
		return err
	}
	var stored useCount
	if found, err := t.getJSON(k, &stored); err != nil || !found {
		return err
	}
	*c.uses = stored.Uses
	return nil
}

// countUses records n more uses of a consent or standing rule v (read with
// load, so its count is current), refusing a count past its max_uses, and
// returns the change to announce (usedOp). Only the count's own key is
// written.
func (t *txn) countUses(field string, v any, n uint64) (string, error) {
	c := usesOf(v)
	total := *c.uses + n
	if total < *c.uses || (c.maxUses != 0 && total > c.maxUses) {
		return "", model.Conflict("%s: %s %s would be used %d times, more than its max_uses %d", field, c.what, c.id, total, c.maxUses)
	}
	k, err := t.key(objUses, c.id)
	if err != nil {
		return "", err
	}
	if err := t.putJSON(k, useCount{Uses: total}); err != nil {
		return "", err
	}
	*c.uses = total
	return usedOp(total, c.maxUses), nil
}

// indexed reads the records of type T an index lists under attr (composite
// keys index(attr, id)), in id order; each must exist.
func indexed[T any](t *txn, index, attr, what, obj string) ([]T, error) {
	kvs, err := t.scan(index, attr)
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, len(kvs))
	for _, kv := range kvs {
		id, err := t.lastAttr(kv.Key)
		if err != nil {
			return nil, err
		}
		v, err := mustLoad[T](t, what, obj, id)
		if err != nil {
			return nil, err
		}
		out = append(out, *v)
	}
	return out, nil
}

// mustLoad reads the record id of type T, which must exist: NotFound
// "<what> <id> does not exist" otherwise.
func mustLoad[T any](t *txn, what, obj, id string) (*T, error) {
	v, err := load[T](t, obj, id)
	if err == nil && v == nil {
		err = model.NotFound("%s %s does not exist", what, id)
	}
	return v, err
}

func (t *txn) department(id string) (*model.Department, error) {
	return load[model.Department](t, objDepartment, id)
}

func (t *txn) dataType(code string) (*model.DataType, error) {
	return load[model.DataType](t, objDataType, code)
}

func (t *txn) identity(did string) (*model.Identity, error) {
	return load[model.Identity](t, objEID, did)
}

func (t *txn) consent(id string) (*model.Consent, error) {
	return load[model.Consent](t, objConsent, id)
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

// store writes v under the key of obj and id and announces c.
func (t *txn) store(obj, id string, v any, c model.Change) error {
	k, err := t.key(obj, id)
	if err != nil {
		return err
	}
	if err := t.putJSON(k, v); err != nil {
		return err
	}
	t.record(c)
	return nil
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
