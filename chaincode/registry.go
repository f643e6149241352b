package chaincode

import (
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"github.com/eidgate/eidgate/chaincode/model"
)

// RegisterDepartment adds a department (admin). Status defaults to active,
// key status to active; times come from the transaction.
func (c *Contract) RegisterDepartment(ctx contractapi.TransactionContextInterface, dept model.Department) (*model.Department, error) {
	t, _, err := c.beginAs(ctx, model.FnRegisterDepartment, model.RoleAdmin)
	if err != nil {
		return nil, err
	}
	if err := dept.Validate(); err != nil {
		return nil, err
	}
	old, err := t.department(dept.ID)
	if err != nil {
		return nil, err
	}
	if old != nil {
		return nil, model.Conflict("department %s already exists", dept.ID)
	}
	if dept.Status == "" {
		dept.Status = model.DepartmentActive
	}
	if dept.Status == model.DepartmentActive {
		dept.StatusReason = ""
	}
	if err := stampKeys(&dept, nil, t.stamp); err != nil {
		return nil, err
	}
	dept.CreatedAt, dept.UpdatedAt = t.stamp, t.stamp
	if err := t.saveDepartment(&dept, model.OpCreated); err != nil {
		return nil, err
	}
	return &dept, t.emit()
}

// UpdateDepartment replaces a department's names, MSP id, endpoints and
// signing keys (admin). Status goes through SetDepartmentStatus. A signing key
// once registered keeps its public key and may only move from active to
// retired, so statements and credentials it signed stay verifiable; its
// lifecycle times come from the transactions (see stampKeys).
func (c *Contract) UpdateDepartment(ctx contractapi.TransactionContextInterface, dept model.Department) (*model.Department, error) {
	t, _, err := c.beginAs(ctx, model.FnUpdateDepartment, model.RoleAdmin)
	if err != nil {
		return nil, err
	}
	if err := dept.Validate(); err != nil {
		return nil, err
	}
	old, err := t.mustDepartment(dept.ID)
	if err != nil {
		return nil, err
	}
	if dept.Status != "" && dept.Status != old.Status {
		return nil, model.Invalid("status changes go through %s", model.FnSetDepartmentStatus)
	}
	if err := stampKeys(&dept, old, t.stamp); err != nil {
		return nil, err
	}
	dept.Status, dept.StatusReason = old.Status, old.StatusReason
	dept.CreatedAt, dept.UpdatedAt = old.CreatedAt, t.stamp
	if err := t.saveDepartment(&dept, model.OpUpdated); err != nil {
		return nil, err
	}
	return &dept, t.emit()
}

// SetDepartmentStatus suspends or reactivates a department (admin). A
// suspension needs a reason; a suspended department can neither act nor
// have its routes published.
func (c *Contract) SetDepartmentStatus(ctx contractapi.TransactionContextInterface, id, status, reason string) (*model.Department, error) {
	t, _, err := c.beginAs(ctx, model.FnSetDepartmentStatus, model.RoleAdmin)
	if err != nil {
		return nil, err
	}
	if !model.ValidDepartmentID(id) {
		return nil, model.Invalid("id is not a department id")
	}
	if status != model.DepartmentActive && status != model.DepartmentSuspended {
		return nil, model.Invalid("status must be %q or %q", model.DepartmentActive, model.DepartmentSuspended)
	}
	if err := model.CheckReason("reason", reason, status == model.DepartmentSuspended); err != nil {
		return nil, err
	}
	d, err := t.mustDepartment(id)
	if err != nil {
		return nil, err
	}
	d.Status, d.StatusReason, d.UpdatedAt = status, reason, t.stamp
	if status == model.DepartmentActive {
		d.StatusReason = ""
	}
	op := model.OpUpdated
	if status == model.DepartmentSuspended {
		op = model.OpSuspended
	}
	if err := t.saveDepartment(d, op); err != nil {
		return nil, err
	}
	return d, t.emit()
}

// GetDepartment returns a department (any channel member).
func (c *Contract) GetDepartment(ctx contractapi.TransactionContextInterface, id string) (*model.Department, error) {
	t, err := c.begin(ctx, model.FnGetDepartment)
	if err != nil {
		return nil, err
	}
	if !model.ValidDepartmentID(id) {
		return nil, model.Invalid("id is not a department id")
	}
	return t.mustDepartment(id)
}

// ListDepartments returns every department in id order (any channel member).
func (c *Contract) ListDepartments(ctx contractapi.TransactionContextInterface) ([]model.Department, error) {
	t, err := c.begin(ctx, model.FnListDepartments)
	if err != nil {
		return nil, err
	}
	return scanJSON[model.Department](t, objDepartment)
}

// RegisterDataType adds a data type (admin). Every owner must be a
// registered department; owners are stored in id order.
func (c *Contract) RegisterDataType(ctx contractapi.TransactionContextInterface, dt model.DataType) (*model.DataType, error) {
	t, _, err := c.beginAs(ctx, model.FnRegisterDataType, model.RoleAdmin)
	if err != nil {
		return nil, err
	}
	if err := t.checkDataType(&dt); err != nil {
		return nil, err
	}
	old, err := t.dataType(dt.Code)
	if err != nil {
		return nil, err
	}
	if old != nil {
		return nil, model.Conflict("data type %s already exists", dt.Code)
	}
	if dt.Status == "" {
		dt.Status = model.DataTypeActive
	}
	dt.CreatedAt, dt.UpdatedAt = t.stamp, t.stamp
	if err := t.saveDataType(&dt, model.OpCreated); err != nil {
		return nil, err
	}
	return &dt, t.emit()
}

// UpdateDataType replaces a data type's names, schema, owners and status
// (admin); an empty status keeps the stored one.
func (c *Contract) UpdateDataType(ctx contractapi.TransactionContextInterface, dt model.DataType) (*model.DataType, error) {
	t, _, err := c.beginAs(ctx, model.FnUpdateDataType, model.RoleAdmin)
	if err != nil {
		return nil, err
	}
	if err := t.checkDataType(&dt); err != nil {
		return nil, err
	}
	old, err := t.dataType(dt.Code)
	if err != nil {
		return nil, err
	}
	if old == nil {
		return nil, model.NotFound("data type %s does not exist", dt.Code)
	}
	if dt.Status == "" {
		dt.Status = old.Status
	}
	dt.CreatedAt, dt.UpdatedAt = old.CreatedAt, t.stamp
	if err := t.saveDataType(&dt, model.OpUpdated); err != nil {
		return nil, err
	}
	return &dt, t.emit()
}

// GetDataType returns a data type (any channel member).
func (c *Contract) GetDataType(ctx contractapi.TransactionContextInterface, code string) (*model.DataType, error) {
	t, err := c.begin(ctx, model.FnGetDataType)
	if err != nil {
		return nil, err
	}
	if !model.ValidDataTypeCode(code) {
		return nil, model.Invalid("code is not a data type code")
	}
	dt, err := t.dataType(code)
	if err == nil && dt == nil {
		err = model.NotFound("data type %s does not exist", code)
	}
	return dt, err
}

// ListDataTypes returns every data type in code order (any channel member).
func (c *Contract) ListDataTypes(ctx contractapi.TransactionContextInterface) ([]model.DataType, error) {
	t, err := c.begin(ctx, model.FnListDataTypes)
	if err != nil {
		return nil, err
	}
	return scanJSON[model.DataType](t, objDataType)
}

func (t *txn) checkDataType(dt *model.DataType) error {
	if err := dt.Validate(); err != nil {
		return err
	}
	for i, o := range dt.Owners {
		d, err := t.department(o)
		if err != nil {
			return err
		}
		if d == nil {
			return model.NotFound("owners[%d]: department %s is not registered", i, o)
		}
	}
	dt.Owners = model.SortedOwners(dt.Owners)
	return nil
}

// stampKeys sets the lifecycle of d's signing keys from the transaction,
// given the stored department old (nil when registering). A new key starts
// active (or retired when the caller says so) and valid from now. A stored
// key keeps its public key and its times; it may only go from active to
// retired (RetiredAt becomes now), never back, and it is never removed. An
// empty status means active, as everywhere. Revocation goes through
// RevokeSigningKey, which records a reason. Times a caller sends are ignored.
func stampKeys(d *model.Department, old *model.Department, now string) error {
	for i := range d.SigningKeys {
		k := &d.SigningKeys[i]
		var was model.SigningKey
		found := false
		if old != nil {
			was, found = old.Key(k.KID)
		}
		if !found {
			switch k.Status {
			case "", model.KeyActive:
				k.Status = model.KeyActive
				k.RetiredAt = ""
			case model.KeyRetired:
				k.RetiredAt = now
			default:
				return model.Invalid("signing key %q: a new key cannot be revoked; revoke keys with %s", k.KID, model.FnRevokeSigningKey)
			}
			k.ValidFrom, k.RevokedAt, k.RevokedReason = now, "", ""
			continue
		}
		if k.PublicKeyPEM != was.PublicKeyPEM {
			return model.Conflict("signing key %q cannot change its public key; add a new key id", k.KID)
		}
		if k.Status == "" {
			k.Status = model.KeyActive
		}
		switch {
		case k.Status == was.Status:
		case was.Status == model.KeyActive && k.Status == model.KeyRetired:
			was.RetiredAt = now
		case k.Status == model.KeyRevoked:
			return model.Invalid("signing key %q: revoke keys with %s, which records a reason", k.KID, model.FnRevokeSigningKey)
		case was.Status == model.KeyRevoked:
			return model.Conflict("signing key %q is revoked and stays revoked", k.KID)
		default:
			return model.Conflict("signing key %q is retired and cannot be reactivated", k.KID)
		}
		k.ValidFrom, k.RetiredAt, k.RevokedAt, k.RevokedReason = was.ValidFrom, was.RetiredAt, was.RevokedAt, was.RevokedReason
	}
	if old != nil {
		for _, ok := range old.SigningKeys {
			if _, found := d.Key(ok.KID); !found {
				return model.Conflict("signing key %q cannot be removed; retire it instead", ok.KID)
			}
		}
	}
	return nil
}

// saveDepartment writes d and announces op.
func (t *txn) saveDepartment(d *model.Department, op string) error {
	return t.store(objDepartment, d.ID, d, model.Change{Kind: model.KindDepartment, Op: op, ID: d.ID, Department: d.ID})
}

// saveDataType writes dt and announces op.
func (t *txn) saveDataType(dt *model.DataType, op string) error {
	return t.store(objDataType, dt.Code, dt, model.Change{Kind: model.KindDataType, Op: op, ID: dt.Code, DataType: dt.Code})
}

// scanJSON decodes every record under a partial composite key, in key order;
// the result is never nil so it serialises as [].
func scanJSON[T any](t *txn, objectType string, attrs ...string) ([]T, error) {
	kvs, err := t.scan(objectType, attrs...)
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, len(kvs))
	for _, kv := range kvs {
		var v T
		if err := jsonUnmarshal(kv.Value, &v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}
