package chaincode

import (
	"fmt"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"github.com/eidgate/eidgate/chaincode/model"
)

// AnchorAccessBatch records a batch of access records by its Merkle root and
// applies its consent-use increments (the agent). It is idempotent per batch
// id: the same content again returns the stored anchor and writes nothing,
// other content is a conflict. The whole batch is refused when an increment
// targets a consent that was never granted (requested or denied) or takes
// it (or a standing rule) past max_uses. A consent revoked or expired since is still counted:
// the gateway recorded those accesses while it was active, and anchoring
// them later must not fail.
func (c *Contract) AnchorAccessBatch(ctx contractapi.TransactionContextInterface, anchor model.AccessAnchor) (*model.AccessAnchor, error) {
	t, who, err := c.beginAs(ctx, model.FnAnchorAccessBatch, model.RoleAgent)
	if err != nil {
		return nil, err
	}
	if err := anchor.Validate(); err != nil {
		return nil, err
	}
	k, err := t.key(objAnchor, anchor.BatchID)
	if err != nil {
		return nil, err
	}
	var stored model.AccessAnchor
	if found, err := t.getJSON(k, &stored); err != nil {
		return nil, err
	} else if found {
		if stored.SameContent(anchor) {
			return &stored, t.emit()
		}
		return nil, model.Conflict("batch %s is already anchored with other content", anchor.BatchID)
	}

	anchor.AnchoredAt, anchor.TxID, anchor.Submitter = t.stamp, t.txID, who.Name
	if err := t.putJSON(k, &anchor); err != nil {
		return nil, err
	}
	t.record(model.Change{Kind: model.KindAnchor, Op: model.OpAnchored, ID: anchor.BatchID})
	for i, u := range anchor.ConsentUses {
		field := fmt.Sprintf("consent_uses[%d]", i)
		if model.ValidRuleID(u.ConsentID) {
			if err := t.useRule(field, u); err != nil {
				return nil, err
			}
			continue
		}
		cs, err := t.consent(u.ConsentID)
		if err != nil {
			return nil, err
		}
		if cs == nil {
			return nil, model.NotFound("%s: consent %s does not exist", field, u.ConsentID)
		}
		if cs.Status == model.ConsentRequested || cs.Status == model.ConsentDenied {
			return nil, model.Conflict("%s: consent %s is %s and was never granted", field, u.ConsentID, cs.Status)
		}
		op, err := t.countUses(field, cs, u.Uses)
		if err != nil {
			return nil, err
		}
		t.recordConsent(cs, op)
	}
	return &anchor, t.emit()
}

// GetAnchor returns an anchored batch (agent or admin).
func (c *Contract) GetAnchor(ctx contractapi.TransactionContextInterface, batchID string) (*model.AccessAnchor, error) {
	t, err := c.begin(ctx, model.FnGetAnchor)
	if err != nil {
		return nil, err
	}
	if !model.ValidBatchID(batchID) {
		return nil, model.Invalid("batch_id must match ^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
	}
	if _, err := t.requireRole(model.RoleAgent, model.RoleAdmin); err != nil {
		return nil, err
	}
	k, err := t.key(objAnchor, batchID)
	if err != nil {
		return nil, err
	}
	var a model.AccessAnchor
	if found, err := t.getJSON(k, &a); err != nil {
		return nil, err
	} else if !found {
		return nil, model.NotFound("batch %s is not anchored", batchID)
	}
	return &a, nil
}
