package chaincode

import (
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"github.com/eidgate/eidgate/chaincode/model"
)

// RaiseDispute records a resident's dispute of one of their access records
// (the agent, for the signed-in resident). The eID must exist, the
// department be registered, and the batch be an anchored batch of access
// records; an access has at most one dispute that is not closed. The id
// derives from the transaction id.
func (c *Contract) RaiseDispute(ctx contractapi.TransactionContextInterface, d model.DisputeDraft) (*model.Dispute, error) {
	t, who, err := c.beginAs(ctx, model.FnRaiseDispute, model.RoleAgent)
	if err != nil {
		return nil, err
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	if _, err := t.mustIdentity(d.EID); err != nil {
		return nil, err
	}
	if _, err := t.mustDepartment(d.Department); err != nil {
		return nil, err
	}
	if err := t.accessBatch(d.BatchID); err != nil {
		return nil, err
	}
	ak, err := t.key(objDisputeByAccess, d.AccessID)
	if err != nil {
		return nil, err
	}
	if prev, err := t.get(ak); err != nil {
		return nil, err
	} else if prev != nil {
		p, err := t.mustDispute(string(prev))
		if err != nil {
			return nil, err
		}
		if p.Status != model.DisputeClosed {
			return nil, model.Conflict("access %s already has dispute %s, which is %s", d.AccessID, p.ID, p.Status)
		}
	}
	dp := &model.Dispute{
		ID: model.DeriveDisputeID(t.txID), AccessID: d.AccessID, EID: d.EID, Department: d.Department,
		BatchID: d.BatchID, LeafHash: d.LeafHash, Reason: d.Reason, TextDigest: d.TextDigest,
		Status: model.DisputeOpen, RaisedAt: t.stamp, RaisedBy: who.Name,
	}
	if old, err := t.dispute(dp.ID); err != nil {
		return nil, err
	} else if old != nil {
		return nil, model.Conflict("dispute %s already exists", dp.ID)
	}
	if err := t.put(ak, []byte(dp.ID)); err != nil {
		return nil, err
	}
	for _, idx := range [][2]string{{objDisputeByEID, dp.EID}, {objDisputeByDept, dp.Department}} {
		k, err := t.key(idx[0], idx[1], dp.ID)
		if err != nil {
			return nil, err
		}
		if err := t.put(k, []byte(indexMarker)); err != nil {
			return nil, err
		}
	}
	if err := t.saveDispute(dp, model.OpRaised); err != nil {
		return nil, err
	}
	return dp, t.emit()
}

// AnswerDispute records the explanation of the department that made the
// disputed access (the agent, for that department's official). Only an
// open dispute is answered, and only by its department.
func (c *Contract) AnswerDispute(ctx contractapi.TransactionContextInterface, a model.DisputeAnswer) (*model.Dispute, error) {
	t, _, err := c.beginAs(ctx, model.FnAnswerDispute, model.RoleAgent)
	if err != nil {
		return nil, err
	}
	if err := a.Validate(); err != nil {
		return nil, err
	}
	dp, err := t.mustDispute(a.ID)
	if err != nil {
		return nil, err
	}
	if dp.Department != a.Department {
		return nil, model.Forbidden("dispute %s is not about an access by department %s", a.ID, a.Department)
	}
	if dp.Status != model.DisputeOpen {
		return nil, model.Conflict("dispute %s is %s, not open", a.ID, dp.Status)
	}
	dp.Status, dp.AnswerDigest, dp.AnsweredAt, dp.AnswerOfficial = model.DisputeAnswered, a.AnswerDigest, t.stamp, a.Official
	if err := t.saveDispute(dp, model.OpAnswered); err != nil {
		return nil, err
	}
	return dp, t.emit()
}

// CloseDispute records an auditor's outcome (the agent, for the auditor):
// upheld or dismissed, with the digest of the auditor's note. An open or
// answered dispute can be closed; a closed one never changes again.
func (c *Contract) CloseDispute(ctx contractapi.TransactionContextInterface, cl model.DisputeClosing) (*model.Dispute, error) {
	t, _, err := c.beginAs(ctx, model.FnCloseDispute, model.RoleAgent)
	if err != nil {
		return nil, err
	}
	if err := cl.Validate(); err != nil {
		return nil, err
	}
	dp, err := t.mustDispute(cl.ID)
	if err != nil {
		return nil, err
	}
	if dp.Status == model.DisputeClosed {
		return nil, model.Conflict("dispute %s is closed", cl.ID)
	}
	dp.Status, dp.Outcome, dp.OutcomeDigest, dp.ClosedAt, dp.ClosedBy = model.DisputeClosed, cl.Outcome, cl.OutcomeDigest, t.stamp, cl.Official
	if err := t.saveDispute(dp, model.OpClosed); err != nil {
		return nil, err
	}
	return dp, t.emit()
}

// GetDispute returns one dispute (agent or admin).
func (c *Contract) GetDispute(ctx contractapi.TransactionContextInterface, id string) (*model.Dispute, error) {
	t, err := c.begin(ctx, model.FnGetDispute)
	if err != nil {
		return nil, err
	}
	if !model.ValidDisputeID(id) {
		return nil, model.Invalid("id is not a dispute id")
	}
	if _, err := t.requireRole(model.RoleAgent, model.RoleAdmin); err != nil {
		return nil, err
	}
	return t.mustDispute(id)
}

// ListDisputesByEID returns the disputes an eID raised, in id order (agent
// or admin).
func (c *Contract) ListDisputesByEID(ctx contractapi.TransactionContextInterface, eid string) ([]model.Dispute, error) {
	t, err := c.begin(ctx, model.FnListDisputesByEID)
	if err != nil {
		return nil, err
	}
	if err := checkDID("eid", eid); err != nil {
		return nil, err
	}
	if _, err := t.requireRole(model.RoleAgent, model.RoleAdmin); err != nil {
		return nil, err
	}
	return indexed[model.Dispute](t, objDisputeByEID, eid, "dispute", objDispute)
}

// ListDisputesByDepartment returns the disputes of accesses a department
// made, in id order (the department itself, agent or admin).
func (c *Contract) ListDisputesByDepartment(ctx contractapi.TransactionContextInterface, dept string) ([]model.Dispute, error) {
	t, err := c.begin(ctx, model.FnListDisputesByDepartment)
	if err != nil {
		return nil, err
	}
	if !model.ValidDepartmentID(dept) {
		return nil, model.Invalid("department is not a department id")
	}
	if _, err := t.requireDeptOr(dept, model.RoleAgent, model.RoleAdmin); err != nil {
		return nil, err
	}
	return indexed[model.Dispute](t, objDisputeByDept, dept, "dispute", objDispute)
}

// accessBatch checks that batchID is an anchored batch of access records.
func (t *txn) accessBatch(batchID string) error {
	k, err := t.key(objAnchor, batchID)
	if err != nil {
		return err
	}
	var a model.AccessAnchor
	if found, err := t.getJSON(k, &a); err != nil {
		return err
	} else if !found {
		return model.NotFound("batch %s is not anchored", batchID)
	}
	if a.Kind != "" {
		return model.Invalid("batch %s anchors %s records, not accesses", batchID, a.Kind)
	}
	return nil
}

func (t *txn) dispute(id string) (*model.Dispute, error) {
	return load[model.Dispute](t, objDispute, id)
}

func (t *txn) mustDispute(id string) (*model.Dispute, error) {
	return mustLoad[model.Dispute](t, "dispute", objDispute, id)
}

// saveDispute stamps d with the transaction, writes it and announces op.
func (t *txn) saveDispute(d *model.Dispute, op string) error {
	d.UpdatedAt, d.TxID = t.stamp, t.txID
	return t.store(objDispute, d.ID, d, model.Change{Kind: model.KindDispute, Op: op, ID: d.ID, EID: d.EID, Department: d.Department})
}
