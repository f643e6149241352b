package chaincode

import (
	"fmt"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"github.com/eidgate/eidgate/chaincode/model"
)

// CreateEID mints an eID holding indexes (agent or admin). The id derives
// from the transaction id. An index that already maps to an eID is a
// conflict; bulk imports use CreateEIDs, which reports such items instead.
func (c *Contract) CreateEID(ctx contractapi.TransactionContextInterface, indexes []model.BlindedIndex) (*model.Identity, error) {
	t, _, err := c.beginAs(ctx, model.FnCreateEID, model.RoleAgent, model.RoleAdmin)
	if err != nil {
		return nil, err
	}
	if err := checkIndexes("indexes", indexes); err != nil {
		return nil, err
	}
	for i, b := range indexes {
		holder, err := t.indexHolder(b)
		if err != nil {
			return nil, err
		}
		if holder != "" {
			return nil, model.Conflict("indexes[%d] (%s) already maps to eID %s", i, b, holder)
		}
	}
	id, err := t.mint(0, indexes)
	if err != nil {
		return nil, err
	}
	return id, t.emit()
}

// CreateEIDs imports up to model.MaxBatch residents in one transaction
// (agent or admin). Per item: "created" with a new eID when no index is
// known; "exists" with the eID when every index already maps to that one
// eID (so rerunning an import creates nothing twice); "conflict" when the
// indexes map to several eIDs, only partly to one, or an index appears in
// more than one item of the batch (all such items). Malformed input fails
// the whole batch.
func (c *Contract) CreateEIDs(ctx contractapi.TransactionContextInterface, items []model.EIDRequest) ([]model.EIDOutcome, error) {
	t, _, err := c.beginAs(ctx, model.FnCreateEIDs, model.RoleAgent, model.RoleAdmin)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 || len(items) > model.MaxBatch {
		return nil, model.Invalid("items must hold 1 to %d entries", model.MaxBatch)
	}
	seen := make(map[model.BlindedIndex]int, len(items)*2) // index → number of items naming it
	for i, it := range items {
		if err := checkRef(fmt.Sprintf("items[%d].ref", i), it.Ref); err != nil {
			return nil, err
		}
		if err := checkIndexes(fmt.Sprintf("items[%d].indexes", i), it.Indexes); err != nil {
			return nil, err
		}
		for _, b := range it.Indexes {
			seen[b]++
		}
	}
	out := make([]model.EIDOutcome, len(items))
	for i, it := range items {
		out[i] = model.EIDOutcome{Ref: it.Ref}
		if j := repeatedIndex(it.Indexes, seen); j >= 0 {
			out[i].Outcome, out[i].Reason = model.OutcomeConflict, fmt.Sprintf("index %d appears in more than one item of the batch", j)
			continue
		}
		holders := make([]string, len(it.Indexes))
		for j, b := range it.Indexes {
			if holders[j], err = t.indexHolder(b); err != nil {
				return nil, err
			}
		}
		switch first := holders[0]; {
		case allEqual(holders, ""):
			id, err := t.mint(i, it.Indexes)
			if err != nil {
				return nil, model.Prefixed(err, fmt.Sprintf("items[%d]", i))
			}
			out[i].EID, out[i].Outcome = id.ID, model.OutcomeCreated
		case first != "" && allEqual(holders, first):
			out[i].EID, out[i].Outcome = first, model.OutcomeExists
		case contains(holders, ""):
			out[i].Outcome, out[i].Reason = model.OutcomeConflict, "some indexes already map to an eID, others to none"
		default:
			out[i].Outcome, out[i].Reason = model.OutcomeConflict, "the indexes map to different eIDs"
		}
	}
	return out, t.emit()
}

// AddDocumentIndex adds an index to an active eID (agent or admin). Adding
// an index the eID already holds changes nothing.
func (c *Contract) AddDocumentIndex(ctx contractapi.TransactionContextInterface, eid string, index model.BlindedIndex) (*model.Identity, error) {
	t, id, err := c.beginIndexChange(ctx, model.FnAddDocumentIndex, eid, index)
	if err != nil {
		return nil, err
	}
	holder, err := t.indexHolder(index)
	if err != nil {
		return nil, err
	}
	switch {
	case holder == eid:
		return id, t.emit()
	case holder != "":
		return nil, model.Conflict("index (%s) already maps to eID %s", index, holder)
	case len(id.Indexes) >= model.MaxIndexesPerEID:
		return nil, model.Conflict("eID %s already holds %d indexes", eid, model.MaxIndexesPerEID)
	}
	id.Indexes = append(id.Indexes, index)
	if err := t.setIndex(index, eid); err != nil {
		return nil, err
	}
	if err := t.saveIdentity(id, model.OpUpdated); err != nil {
		return nil, err
	}
	return id, t.emit()
}

// RemoveDocumentIndex removes an index from an active eID (agent or admin);
// the last index cannot be removed.
func (c *Contract) RemoveDocumentIndex(ctx contractapi.TransactionContextInterface, eid string, index model.BlindedIndex) (*model.Identity, error) {
	t, id, err := c.beginIndexChange(ctx, model.FnRemoveDocumentIndex, eid, index)
	if err != nil {
		return nil, err
	}
	at := -1
	for i, b := range id.Indexes {
		if b == index {
			at = i
		}
	}
	if at < 0 {
		return nil, model.NotFound("eID %s does not hold index (%s)", eid, index)
	}
	if len(id.Indexes) == 1 {
		return nil, model.Conflict("index (%s) is the last index of eID %s and cannot be removed", index, eid)
	}
	id.Indexes = append(id.Indexes[:at:at], id.Indexes[at+1:]...)
	if err := t.clearIndex(index, eid); err != nil {
		return nil, err
	}
	if err := t.saveIdentity(id, model.OpUpdated); err != nil {
		return nil, err
	}
	return id, t.emit()
}

// MergeEID folds eID from into eID into (agent or admin): from's indexes
// and account links move to into, from becomes "merged" with a pointer to
// into, and into lists from in merged_from. Both must be active. Routes and
// consents stay with from: they are signed or granted for that eID. The
// survivor is returned.
func (c *Contract) MergeEID(ctx contractapi.TransactionContextInterface, from, into, reason string) (*model.Identity, error) {
	t, _, err := c.beginAs(ctx, model.FnMergeEID, model.RoleAgent, model.RoleAdmin)
	if err != nil {
		return nil, err
	}
	if err := checkDID("from", from); err != nil {
		return nil, err
	}
	if err := checkDID("into", into); err != nil {
		return nil, err
	}
	if from == into {
		return nil, model.Invalid("from and into must be different eIDs")
	}
	if err := model.CheckReason("reason", reason, true); err != nil {
		return nil, err
	}
	src, err := t.activeIdentity(from)
	if err != nil {
		return nil, model.Prefixed(err, "from")
	}
	dst, err := t.activeIdentity(into)
	if err != nil {
		return nil, model.Prefixed(err, "into")
	}
	if len(src.Indexes)+len(dst.Indexes) > model.MaxIndexesPerEID {
		return nil, model.Conflict("the merged eID would hold more than %d indexes", model.MaxIndexesPerEID)
	}

	// Links first: a clash must fail the merge before anything is written.
	links, err := scanJSON[model.AccountLink](t, objLink, from)
	if err != nil {
		return nil, err
	}
	for _, l := range links {
		k, err := t.key(objLink, into, l.Department)
		if err != nil {
			return nil, err
		}
		if v, err := t.get(k); err != nil {
			return nil, err
		} else if v != nil {
			return nil, model.Conflict("both eIDs are linked at department %s; unlink one first", l.Department)
		}
	}

	for _, b := range src.Indexes {
		t.record(model.Change{Kind: model.KindIndex, Op: model.OpRemoved, EID: from, KeyVersion: b.KeyVersion, Value: b.Value})
		if err := t.setIndex(b, into); err != nil {
			return nil, err
		}
	}
	dst.Indexes = append(dst.Indexes, src.Indexes...)
	for _, l := range links {
		if err := t.moveLink(l, into); err != nil {
			return nil, err
		}
	}

	src.Status, src.MergedInto, src.MergeReason, src.Indexes = model.EIDMerged, into, reason, nil
	dst.MergedFrom = append(dst.MergedFrom, from)
	t.touch(src)
	if err := t.putIdentity(src); err != nil {
		return nil, err
	}
	t.record(model.Change{Kind: model.KindEID, Op: model.OpMerged, ID: from, EID: into})
	if err := t.saveIdentity(dst, model.OpUpdated); err != nil {
		return nil, err
	}
	return dst, t.emit()
}

// DeactivateEID deactivates an active eID (agent or admin), e.g. after a
// resident's death. Its indexes keep pointing to it so no new eID is minted
// for the same documents. Deactivating a deactivated eID changes nothing.
func (c *Contract) DeactivateEID(ctx contractapi.TransactionContextInterface, eid, reason string) (*model.Identity, error) {
	t, _, err := c.beginAs(ctx, model.FnDeactivateEID, model.RoleAgent, model.RoleAdmin)
	if err != nil {
		return nil, err
	}
	if err := checkDID("eid", eid); err != nil {
		return nil, err
	}
	if err := model.CheckReason("reason", reason, true); err != nil {
		return nil, err
	}
	id, err := t.mustIdentity(eid)
	if err != nil {
		return nil, err
	}
	switch id.Status {
	case model.EIDDeactivated:
		return id, t.emit()
	case model.EIDMerged:
		return nil, model.Conflict("eID %s is merged into %s", eid, id.MergedInto)
	}
	id.Status, id.DeactivationReason = model.EIDDeactivated, reason
	if err := t.saveIdentity(id, model.OpDeactivated); err != nil {
		return nil, err
	}
	return id, t.emit()
}

// GetEID returns an eID record with its indexes (agent or admin).
func (c *Contract) GetEID(ctx contractapi.TransactionContextInterface, eid string) (*model.Identity, error) {
	t, _, err := c.beginAs(ctx, model.FnGetEID, model.RoleAgent, model.RoleAdmin)
	if err != nil {
		return nil, err
	}
	if err := checkDID("eid", eid); err != nil {
		return nil, err
	}
	return t.mustIdentity(eid)
}

// ResolveDID resolves an eID to its DID document (any channel member; it
// reveals no index). A merged eID resolves as deactivated with canonicalId
// naming the end of its merge chain. An issuer DID (did:eidgate:dept:<id>)
// resolves to the department's keys with their rotation history.
func (c *Contract) ResolveDID(ctx contractapi.TransactionContextInterface, did string) (*model.DIDResolution, error) {
	t, err := c.begin(ctx, model.FnResolveDID)
	if err != nil {
		return nil, err
	}
	if dept, ok := model.ParseIssuerDID(did); ok {
		d, err := t.mustDepartment(dept)
		if err != nil {
			return nil, err
		}
		res := d.IssuerResolution()
		return &res, nil
	}
	if err := checkDID("did", did); err != nil {
		return nil, err
	}
	id, err := t.mustIdentity(did)
	if err != nil {
		return nil, err
	}
	end, err := t.canonical(id)
	if err != nil {
		return nil, err
	}
	keys, err := t.passkeysOf(id.ID)
	if err != nil {
		return nil, err
	}
	res := id.Resolution(end.ID, keys)
	return &res, nil
}

// LookupIndex returns the eID holding a blinded index, following merges
// (agent or admin).
func (c *Contract) LookupIndex(ctx contractapi.TransactionContextInterface, keyVersion, value string) (string, error) {
	t, _, err := c.beginAs(ctx, model.FnLookupIndex, model.RoleAgent, model.RoleAdmin)
	if err != nil {
		return "", err
	}
	b := model.BlindedIndex{KeyVersion: keyVersion, Value: value}
	if err := b.Validate("index"); err != nil {
		return "", err
	}
	holder, err := t.indexHolder(b)
	if err != nil {
		return "", err
	}
	if holder == "" {
		return "", model.NotFound("no eID holds index (%s)", b)
	}
	return t.follow(holder)
}

// follow returns the end of the merge chain starting at did.
func (t *txn) follow(did string) (string, error) {
	id, err := t.identity(did)
	if err != nil {
		return "", err
	}
	if id == nil {
		return "", model.Conflict("index points to eID %s, which does not exist", did)
	}
	end, err := t.canonical(id)
	if err != nil {
		return "", err
	}
	return end.ID, nil
}

// mint creates the eID of batch item item holding indexes.
func (t *txn) mint(item int, indexes []model.BlindedIndex) (*model.Identity, error) {
	did := model.DeriveEID(t.txID, item)
	if old, err := t.identity(did); err != nil {
		return nil, err
	} else if old != nil {
		return nil, model.Conflict("eID %s already exists", did)
	}
	id := &model.Identity{
		ID:        did,
		Status:    model.EIDActive,
		Indexes:   append([]model.BlindedIndex(nil), indexes...),
		CreatedAt: t.stamp,
		UpdatedAt: t.stamp,
		TxID:      t.txID,
	}
	if err := t.putIdentity(id); err != nil {
		return nil, err
	}
	t.record(model.Change{Kind: model.KindEID, Op: model.OpCreated, ID: did, EID: did})
	for _, b := range indexes {
		if err := t.setIndex(b, did); err != nil {
			return nil, err
		}
	}
	return id, nil
}

// beginIndexChange starts fn, which adds index to or removes it from the
// active eID eid (agent or admin), and loads that eID.
func (c *Contract) beginIndexChange(ctx contractapi.TransactionContextInterface, fn, eid string, index model.BlindedIndex) (*txn, *model.Identity, error) {
	t, _, err := c.beginAs(ctx, fn, model.RoleAgent, model.RoleAdmin)
	if err != nil {
		return nil, nil, err
	}
	if err := checkDID("eid", eid); err != nil {
		return nil, nil, err
	}
	if err := index.Validate("index"); err != nil {
		return nil, nil, err
	}
	id, err := t.activeIdentity(eid)
	if err != nil {
		return nil, nil, err
	}
	return t, id, nil
}

func (t *txn) touch(id *model.Identity) { id.UpdatedAt, id.TxID = t.stamp, t.txID }

// saveIdentity stamps id with the transaction, writes it and announces op.
func (t *txn) saveIdentity(id *model.Identity, op string) error {
	t.touch(id)
	if err := t.putIdentity(id); err != nil {
		return err
	}
	t.record(model.Change{Kind: model.KindEID, Op: op, ID: id.ID, EID: id.ID})
	return nil
}

// indexHolder returns the eID an index maps to, "" when none.
func (t *txn) indexHolder(b model.BlindedIndex) (string, error) {
	k, err := t.key(objIndex, b.KeyVersion, b.Value)
	if err != nil {
		return "", err
	}
	v, err := t.get(k)
	return string(v), err
}

// setIndex points an index at did and announces it.
func (t *txn) setIndex(b model.BlindedIndex, did string) error {
	k, err := t.key(objIndex, b.KeyVersion, b.Value)
	if err != nil {
		return err
	}
	if err := t.put(k, []byte(did)); err != nil {
		return err
	}
	t.record(model.Change{Kind: model.KindIndex, Op: model.OpAdded, EID: did, KeyVersion: b.KeyVersion, Value: b.Value})
	return nil
}

func (t *txn) clearIndex(b model.BlindedIndex, did string) error {
	k, err := t.key(objIndex, b.KeyVersion, b.Value)
	if err != nil {
		return err
	}
	if err := t.del(k); err != nil {
		return err
	}
	t.record(model.Change{Kind: model.KindIndex, Op: model.OpRemoved, EID: did, KeyVersion: b.KeyVersion, Value: b.Value})
	return nil
}

func checkDID(field, s string) error {
	if !model.ValidDID(s) {
		return model.Invalid("%s must be a did:eidgate: identifier with 32 lowercase hex digits", field)
	}
	return nil
}

func checkIndexes(field string, indexes []model.BlindedIndex) error {
	if len(indexes) == 0 || len(indexes) > model.MaxIndexesPerEID {
		return model.Invalid("%s must hold 1 to %d indexes", field, model.MaxIndexesPerEID)
	}
	for i, b := range indexes {
		if err := b.Validate(fmt.Sprintf("%s[%d]", field, i)); err != nil {
			return err
		}
		for _, prev := range indexes[:i] {
			if prev == b {
				return model.Invalid("%s[%d] is listed twice", field, i)
			}
		}
	}
	return nil
}

func checkRef(field, ref string) error {
	if ref == "" || len(ref) > model.MaxRefLen {
		return model.Invalid("%s must hold 1 to %d bytes", field, model.MaxRefLen)
	}
	for _, r := range ref {
		if r < 0x20 || r == 0x7f || r == '\uFFFD' {
			return model.Invalid("%s contains a control or invalid character", field)
		}
	}
	return nil
}

// repeatedIndex returns the position of the first index of indexes that
// more than one batch item names, or -1.
func repeatedIndex(indexes []model.BlindedIndex, seen map[model.BlindedIndex]int) int {
	for j, b := range indexes {
		if seen[b] > 1 {
			return j
		}
	}
	return -1
}

func allEqual(xs []string, v string) bool {
	for _, x := range xs {
		if x != v {
			return false
		}
	}
	return true
}

func contains(xs []string, v string) bool {
	for _, x := range xs {
		if x == v {
			return true
		}
	}
	return false
}
