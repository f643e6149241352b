package chaincode

import (
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"github.com/eidgate/eidgate/chaincode/model"
)

// LinkAccount links an active eID to the department's local account, given
// as a keyed hash of the account id (the department itself or the agent).
// Linking the same account again changes nothing; an eID has at most one
// account per department and an account belongs to at most one eID.
func (c *Contract) LinkAccount(ctx contractapi.TransactionContextInterface, eid, department, accountHash string) (*model.AccountLink, error) {
	t, err := c.begin(ctx, model.FnLinkAccount)
	if err != nil {
		return nil, err
	}
	if err := checkLinkArgs(eid, department, accountHash); err != nil {
		return nil, err
	}
	if _, err := t.requireDeptOr(department, model.RoleAgent); err != nil {
		return nil, err
	}
	if _, err := t.activeDepartment(department); err != nil {
		return nil, err
	}
	if _, err := t.activeIdentity(eid); err != nil {
		return nil, err
	}
	linkKey, err := t.key(objLink, eid, department)
	if err != nil {
		return nil, err
	}
	var old model.AccountLink
	if found, err := t.getJSON(linkKey, &old); err != nil {
		return nil, err
	} else if found {
		if old.AccountHash == accountHash {
			return &old, t.emit()
		}
		return nil, model.Conflict("eID %s is already linked to another account at department %s; unlink it first", eid, department)
	}
	acctKey, err := t.key(objAccount, department, accountHash)
	if err != nil {
		return nil, err
	}
	if holder, err := t.get(acctKey); err != nil {
		return nil, err
	} else if holder != nil {
		return nil, model.Conflict("account %s of department %s is already linked to another eID", model.Mask(accountHash), department)
	}
	link := &model.AccountLink{EID: eid, Department: department, AccountHash: accountHash, LinkedAt: t.stamp, TxID: t.txID}
	if err := t.putLink(link); err != nil {
		return nil, err
	}
	return link, t.emit()
}

// UnlinkAccount removes the link of an eID at a department (the department
// itself, the agent or an admin).
func (c *Contract) UnlinkAccount(ctx contractapi.TransactionContextInterface, eid, department string) error {
	t, err := c.begin(ctx, model.FnUnlinkAccount)
	if err != nil {
		return err
	}
	if err := checkDID("eid", eid); err != nil {
		return err
	}
	if !model.ValidDepartmentID(department) {
		return model.Invalid("department is not a department id")
	}
	if _, err := t.requireDeptOr(department, model.RoleAgent, model.RoleAdmin); err != nil {
		return err
	}
	linkKey, err := t.key(objLink, eid, department)
	if err != nil {
		return err
	}
	var link model.AccountLink
	if found, err := t.getJSON(linkKey, &link); err != nil {
		return err
	} else if !found {
		return model.NotFound("eID %s has no account link at department %s", eid, department)
	}
	if err := t.dropLink(&link); err != nil {
		return err
	}
	return t.emit()
}

// ListLinks returns the account links of an eID in department order: all of
// them for the agent and admins, only its own for a department.
func (c *Contract) ListLinks(ctx contractapi.TransactionContextInterface, eid string) ([]model.AccountLink, error) {
	t, err := c.begin(ctx, model.FnListLinks)
	if err != nil {
		return nil, err
	}
	if err := checkDID("eid", eid); err != nil {
		return nil, err
	}
	who, err := t.caller()
	if err != nil {
		return nil, err
	}
	links, err := scanJSON[model.AccountLink](t, objLink, eid)
	if err != nil {
		return nil, err
	}
	if who.Role != model.RoleDepartment {
		return links, nil
	}
	own := links[:0]
	for _, l := range links {
		if l.Department == who.Dept {
			own = append(own, l)
		}
	}
	return own, nil
}

// LookupAccount returns the eID linked to a department's account, following
// merges (that department, the agent or an admin).
func (c *Contract) LookupAccount(ctx contractapi.TransactionContextInterface, department, accountHash string) (string, error) {
	t, err := c.begin(ctx, model.FnLookupAccount)
	if err != nil {
		return "", err
	}
	if !model.ValidDepartmentID(department) {
		return "", model.Invalid("department is not a department id")
	}
	if !model.ValidHex64(accountHash) {
		return "", model.Invalid("account_hash must be 64 lowercase hex digits")
	}
	if _, err := t.requireDeptOr(department, model.RoleAgent, model.RoleAdmin); err != nil {
		return "", err
	}
	k, err := t.key(objAccount, department, accountHash)
	if err != nil {
		return "", err
	}
	holder, err := t.get(k)
	if err != nil {
		return "", err
	}
	if holder == nil {
		return "", model.NotFound("no eID is linked to account %s of department %s", model.Mask(accountHash), department)
	}
	return t.follow(string(holder))
}

func checkLinkArgs(eid, department, accountHash string) error {
	if err := checkDID("eid", eid); err != nil {
		return err
	}
	if !model.ValidDepartmentID(department) {
		return model.Invalid("department is not a department id")
	}
	if !model.ValidHex64(accountHash) {
		return model.Invalid("account_hash must be 64 lowercase hex digits")
	}
	return nil
}

// linkKeys are the keys of a link and of its reverse entry (department and
// account hash to eID).
func (t *txn) linkKeys(l *model.AccountLink) (linkKey, acctKey string, err error) {
	if linkKey, err = t.key(objLink, l.EID, l.Department); err != nil {
		return "", "", err
	}
	if acctKey, err = t.key(objAccount, l.Department, l.AccountHash); err != nil {
		return "", "", err
	}
	return linkKey, acctKey, nil
}

// putLink writes a link and its reverse key and announces it.
func (t *txn) putLink(l *model.AccountLink) error {
	linkKey, acctKey, err := t.linkKeys(l)
	if err != nil {
		return err
	}
	if err := t.putJSON(linkKey, l); err != nil {
		return err
	}
	if err := t.put(acctKey, []byte(l.EID)); err != nil {
		return err
	}
	t.record(model.Change{Kind: model.KindLink, Op: model.OpLinked, EID: l.EID, Department: l.Department, Value: l.AccountHash})
	return nil
}

// dropLink deletes a link and its reverse key and announces it.
func (t *txn) dropLink(l *model.AccountLink) error {
	linkKey, acctKey, err := t.linkKeys(l)
	if err != nil {
		return err
	}
	if err := t.del(linkKey); err != nil {
		return err
	}
	if holder, err := t.get(acctKey); err != nil {
		return err
	} else if string(holder) == l.EID {
		if err := t.del(acctKey); err != nil {
			return err
		}
	}
	t.record(model.Change{Kind: model.KindLink, Op: model.OpUnlinked, EID: l.EID, Department: l.Department, Value: l.AccountHash})
	return nil
}

// moveLink re-homes a link of a merged eID to the survivor into.
func (t *txn) moveLink(l model.AccountLink, into string) error {
	if err := t.dropLink(&l); err != nil {
		return err
	}
	moved := &model.AccountLink{EID: into, Department: l.Department, AccountHash: l.AccountHash, LinkedAt: l.LinkedAt, TxID: t.txID}
	return t.putLink(moved)
}
