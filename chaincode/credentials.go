package chaincode

import (
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"github.com/eidgate/eidgate/chaincode/model"
)

// RevokeSigningKey declares a department's signing key compromised (an
// admin, or the department itself). The key stops signing at once and
// everything it signed is flagged by verifiers, whenever it claims to have
// been signed; the key stays listed (with revoked_at) so verifiers can tell
// a revoked key from an unknown one. Revoking a revoked key changes nothing.
func (c *Contract) RevokeSigningKey(ctx contractapi.TransactionContextInterface, dept, kid, reason string) (*model.Department, error) {
	t, err := c.begin(ctx, model.FnRevokeSigningKey)
	if err != nil {
		return nil, err
	}
	if !model.ValidDepartmentID(dept) {
		return nil, model.Invalid("dept is not a department id")
	}
	if !model.ValidKID(kid) {
		return nil, model.Invalid("kid must match ^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
	}
	if err := model.CheckReason("reason", reason, true); err != nil {
		return nil, err
	}
	if _, err := t.requireDeptOr(dept, model.RoleAdmin); err != nil {
		return nil, err
	}
	d, err := t.mustDepartment(dept)
	if err != nil {
		return nil, err
	}
	i := keyIndex(d, kid)
	if i < 0 {
		return nil, model.NotFound("department %s has no signing key %q", dept, kid)
	}
	k := &d.SigningKeys[i]
	if k.Status == model.KeyRevoked {
		return d, t.emit()
	}
	k.Status, k.RevokedAt, k.RevokedReason = model.KeyRevoked, t.stamp, reason
	d.UpdatedAt = t.stamp
	k2, err := t.key(objDepartment, d.ID)
	if err != nil {
		return nil, err
	}
	if err := t.putJSON(k2, d); err != nil {
		return nil, err
	}
	t.record(model.Change{Kind: model.KindDepartment, Op: model.OpKeyRevoked, ID: d.ID, Department: d.ID, Value: kid})
	return d, t.emit()
}

func keyIndex(d *model.Department, kid string) int {
	for i := range d.SigningKeys {
		if d.SigningKeys[i].KID == kid {
			return i
		}
	}
	return -1
}

// AnchorStatusList records a new version of a department's status list
// credential by its digest (the agent, or the issuing department itself).
// Versions only go up: the same version with the same digest changes
// nothing, with another digest, or an older version, it is a conflict. A
// list keeps its purpose and size. The event names the list, so every
// gateway replica drops its cached copy.
func (c *Contract) AnchorStatusList(ctx contractapi.TransactionContextInterface, a model.StatusListAnchor) (*model.StatusListAnchor, error) {
	t, err := c.begin(ctx, model.FnAnchorStatusList)
	if err != nil {
		return nil, err
	}
	if err := a.Validate(); err != nil {
		return nil, err
	}
	who, err := t.requireDeptOr(a.Issuer, model.RoleAgent)
	if err != nil {
		return nil, err
	}
	d, err := t.department(a.Issuer)
	if err != nil {
		return nil, err
	}
	if d == nil {
		return nil, model.NotFound("issuer department %s is not registered", a.Issuer)
	}
	k, err := t.key(objStatusList, a.Issuer, a.ListID)
	if err != nil {
		return nil, err
	}
	var old model.StatusListAnchor
	found, err := t.getJSON(k, &old)
	if err != nil {
		return nil, err
	}
	if found {
		switch {
		case a.Purpose != old.Purpose || a.Size != old.Size:
			return nil, model.Conflict("status list %s of %s keeps its purpose %s and size %d", a.ListID, a.Issuer, old.Purpose, old.Size)
		case a.Version == old.Version && a.Digest == old.Digest:
			return &old, t.emit()
		case a.Version <= old.Version:
			return nil, model.Conflict("status list %s of %s is at version %d; anchor a newer version", a.ListID, a.Issuer, old.Version)
		}
	}
	a.AnchoredAt, a.TxID, a.Submitter = t.stamp, t.txID, who.Name
	if err := t.putJSON(k, &a); err != nil {
		return nil, err
	}
	t.record(model.Change{Kind: model.KindStatusList, Op: model.OpAnchored, ID: a.ListID, Department: a.Issuer, Value: a.Digest})
	return &a, t.emit()
}

// GetStatusListAnchor returns the newest anchored version of a status list
// (any channel member: verifiers check served lists against it).
func (c *Contract) GetStatusListAnchor(ctx contractapi.TransactionContextInterface, issuer, listID string) (*model.StatusListAnchor, error) {
	t, err := c.begin(ctx, model.FnGetStatusListAnchor)
	if err != nil {
		return nil, err
	}
	if !model.ValidDepartmentID(issuer) {
		return nil, model.Invalid("issuer is not a department id")
	}
	if !model.ValidKID(listID) {
		return nil, model.Invalid("list_id must match ^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
	}
	k, err := t.key(objStatusList, issuer, listID)
	if err != nil {
		return nil, err
	}
	var a model.StatusListAnchor
	if found, err := t.getJSON(k, &a); err != nil {
		return nil, err
	} else if !found {
		return nil, model.NotFound("no status list %s of %s is anchored", listID, issuer)
	}
	return &a, nil
}
