package chaincode

import (
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"github.com/eidgate/eidgate/chaincode/model"
)

// CreateStandingRule records a resident's approval, in advance, of a class
// of use (the agent, for the signed-in resident), marked password-only:
// nothing the resident signed shows they approved it. The eID must be
// active, every department registered and active, every data type active
// (and a question's predicate catalogued); valid_from defaults to the
// transaction time and valid_until must lie after it. The id derives from
// the transaction id.
func (c *Contract) CreateStandingRule(ctx contractapi.TransactionContextInterface, d model.RuleDraft) (*model.StandingRule, error) {
	t, who, err := c.beginAs(ctx, model.FnCreateStandingRule, model.RoleAgent)
	if err != nil {
		return nil, err
	}
	r, err := t.newRule(d, who)
	if err != nil {
		return nil, err
	}
	r.Assurance = model.AssurancePassword
	return t.storeRule(r)
}

// CreateStandingRuleSigned records a standing rule the resident approved
// with a passkey: approval is their WebAuthn assertion over the rule.create
// statement of exactly these terms (valid_from included), checked against
// their key on the ledger before anything is written. One signature creates
// one rule: the statement's digest is kept and a second use conflicts.
func (c *Contract) CreateStandingRuleSigned(ctx contractapi.TransactionContextInterface, d model.RuleDraft, approval model.PasskeyApproval) (*model.StandingRule, error) {
	t, who, err := c.beginAs(ctx, model.FnCreateStandingRuleSigned, model.RoleAgent)
	if err != nil {
		return nil, err
	}
	if d.ValidFrom == "" {
		return nil, model.Invalid("valid_from is required: it is part of the signed terms")
	}
	r, err := t.newRule(d, who)
	if err != nil {
		return nil, err
	}
	sig, err := t.checkApprovalOf(r.EID, approval, func(signer string) model.Statement {
		return model.RuleStatement(model.StatementRuleCreate, *r, signer, approval.Nonce)
	})
	if err != nil {
		return nil, err
	}
	k, err := t.key(objRuleApproval, sig.Digest)
	if err != nil {
		return nil, err
	}
	if prior, err := t.get(k); err != nil {
		return nil, err
	} else if len(prior) != 0 {
		return nil, model.Conflict("this signature already created standing rule %s", prior)
	}
	if err := t.put(k, []byte(r.ID)); err != nil {
		return nil, err
	}
	r.Assurance, r.Signature = model.AssurancePasskey, sig
	return t.storeRule(r)
}

// newRule checks draft d and builds the rule it describes.
func (t *txn) newRule(d model.RuleDraft, who *caller) (*model.StandingRule, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	if _, err := t.activeIdentity(d.EID); err != nil {
		return nil, err
	}
	for _, dept := range d.Departments {
		if _, err := t.activeDepartment(dept); err != nil {
			return nil, err
		}
	}
	// A rule lets its departments read from any provider.
	if err := t.checkScopes(d.DataTypes, model.ProviderAny); err != nil {
		return nil, err
	}
	from := t.now
	if d.ValidFrom != "" {
		from, _ = model.ParseTime(d.ValidFrom)
	}
	until, _ := model.ParseTime(d.ValidUntil)
	if !until.After(t.now) || !until.After(from) {
		return nil, model.Invalid("valid_until must be in the future and after valid_from")
	}
	return &model.StandingRule{
		ID: model.DeriveRuleID(t.txID), EID: d.EID,
		Departments: append([]string(nil), d.Departments...), Roles: append([]string(nil), d.Roles...),
		DataTypes: append([]string(nil), d.DataTypes...), PurposeCode: d.PurposeCode, Note: d.Note,
		ValidFrom: model.FormatTime(from), ValidUntil: model.FormatTime(until), MaxUses: d.MaxUses,
		Status: model.RuleActive, CreatedAt: t.stamp, CreatedBy: who.Name,
	}, nil
}

// storeRule writes a new rule with its index entry and announces it.
func (t *txn) storeRule(r *model.StandingRule) (*model.StandingRule, error) {
	if old, err := t.rule(r.ID); err != nil {
		return nil, err
	} else if old != nil {
		return nil, model.Conflict("standing rule %s already exists", r.ID)
	}
	k, err := t.key(objRuleByEID, r.EID, r.ID)
	if err != nil {
		return nil, err
	}
	if err := t.put(k, []byte(indexMarker)); err != nil {
		return nil, err
	}
	if err := t.saveRule(r, model.OpCreated); err != nil {
		return nil, err
	}
	return r, t.emit()
}

// RevokeStandingRule withdraws an active standing rule (the agent, for its
// resident), marked password-only; resolves stop using it at once.
func (c *Contract) RevokeStandingRule(ctx contractapi.TransactionContextInterface, id string) (*model.StandingRule, error) {
	t, who, err := c.beginAs(ctx, model.FnRevokeStandingRule, model.RoleAgent)
	if err != nil {
		return nil, err
	}
	r, err := t.activeRule(id)
	if err != nil {
		return nil, err
	}
	r.RevokeAssurance = model.AssurancePassword
	return t.revokeRule(r, who)
}

// RevokeStandingRuleSigned withdraws an active standing rule with the
// resident's signature over the rule.revoke statement of its terms,
// checked as CreateStandingRuleSigned checks a creation.
func (c *Contract) RevokeStandingRuleSigned(ctx contractapi.TransactionContextInterface, id string, approval model.PasskeyApproval) (*model.StandingRule, error) {
	t, who, err := c.beginAs(ctx, model.FnRevokeStandingRuleSigned, model.RoleAgent)
	if err != nil {
		return nil, err
	}
	r, err := t.activeRule(id)
	if err != nil {
		return nil, err
	}
	sig, err := t.checkApprovalOf(r.EID, approval, func(signer string) model.Statement {
		return model.RuleStatement(model.StatementRuleRevoke, *r, signer, approval.Nonce)
	})
	if err != nil {
		return nil, err
	}
	r.RevokeAssurance, r.RevokeSignature = model.AssurancePasskey, sig
	return t.revokeRule(r, who)
}

func (t *txn) activeRule(id string) (*model.StandingRule, error) {
	if !model.ValidRuleID(id) {
		return nil, model.Invalid("id is not a standing rule id")
	}
	r, err := t.mustRule(id)
	if err != nil {
		return nil, err
	}
	if r.Status != model.RuleActive {
		return nil, model.Conflict("standing rule %s is %s, not active", id, r.Status)
	}
	return r, nil
}

func (t *txn) revokeRule(r *model.StandingRule, who *caller) (*model.StandingRule, error) {
	r.Status, r.RevokedAt, r.RevokedBy = model.RuleRevoked, t.stamp, who.Name
	if err := t.saveRule(r, model.OpRevoked); err != nil {
		return nil, err
	}
	return r, t.emit()
}

// GetStandingRule reads one standing rule: the agent and admins any, a
// department only a rule that names it, by id or by one of its roles (so
// it can check the rule it was allowed by).
func (c *Contract) GetStandingRule(ctx contractapi.TransactionContextInterface, id string) (*model.StandingRule, error) {
	t, err := c.begin(ctx, model.FnGetStandingRule)
	if err != nil {
		return nil, err
	}
	if !model.ValidRuleID(id) {
		return nil, model.Invalid("id is not a standing rule id")
	}
	who, err := t.caller()
	if err != nil {
		return nil, err
	}
	r, err := t.mustRule(id)
	if err != nil {
		return nil, err
	}
	if who.Role == model.RoleDepartment {
		d, err := t.department(who.Dept)
		if err != nil {
			return nil, err
		}
		var roles []string
		if d != nil {
			roles = d.Roles
		}
		if !r.Names(who.Dept, roles) {
			return nil, model.Forbidden("standing rule %s does not name department %s", id, who.Dept)
		}
	}
	return r, nil
}

// ListStandingRulesByEID returns the standing rules of an eID in id order
// (agent or admin).
func (c *Contract) ListStandingRulesByEID(ctx contractapi.TransactionContextInterface, eid string) ([]model.StandingRule, error) {
	t, err := c.begin(ctx, model.FnListStandingRulesByEID)
	if err != nil {
		return nil, err
	}
	if err := checkDID("eid", eid); err != nil {
		return nil, err
	}
	if _, err := t.requireRole(model.RoleAgent, model.RoleAdmin); err != nil {
		return nil, err
	}
	return indexed[model.StandingRule](t, objRuleByEID, eid, "standing rule", objRule)
}

// useRule counts an anchored batch's uses of a standing rule. Like a
// consent's, a rule revoked or expired since is still counted; a use past
// max_uses refuses the batch.
func (t *txn) useRule(field string, u model.ConsentUse) error {
	r, err := t.rule(u.ConsentID)
	if err != nil {
		return err
	}
	if r == nil {
		return model.NotFound("%s: standing rule %s does not exist", field, u.ConsentID)
	}
	op, err := t.countUses(field, r, u.Uses)
	if err != nil {
		return err
	}
	t.record(model.Change{Kind: model.KindRule, Op: op, ID: r.ID, EID: r.EID})
	return nil
}

// usedOp is the change a counted use announces: used_up when it was the
// last use max_uses allows (a cached copy must no longer allow a use),
// used otherwise (a cached copy still decides alike).
func usedOp(uses, maxUses uint64) string {
	if maxUses != 0 && uses >= maxUses {
		return model.OpUsedUp
	}
	return model.OpUsed
}

func (t *txn) rule(id string) (*model.StandingRule, error) {
	return load[model.StandingRule](t, objRule, id)
}

func (t *txn) mustRule(id string) (*model.StandingRule, error) {
	return mustLoad[model.StandingRule](t, "standing rule", objRule, id)
}

// saveRule stamps r with the transaction, writes it and announces op.
func (t *txn) saveRule(r *model.StandingRule, op string) error {
	r.UpdatedAt, r.TxID = t.stamp, t.txID
	return t.store(objRule, r.ID, r, model.Change{Kind: model.KindRule, Op: op, ID: r.ID, EID: r.EID})
}
