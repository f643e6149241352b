package chaincode

import (
	"errors"
	"fmt"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"github.com/eidgate/eidgate/chaincode/model"
)

// RequestConsent records a consent request (the requester department itself
// or the agent on its behalf). The eID must be active, the requester and a
// named provider registered and active, every data type active and, for a
// named provider, owned by it. valid_from defaults to the transaction time;
// valid_until must lie in the future. The id derives from the transaction id.
func (c *Contract) RequestConsent(ctx contractapi.TransactionContextInterface, req model.ConsentRequest) (*model.Consent, error) {
	t, err := c.begin(ctx, model.FnRequestConsent)
	if err != nil {
		return nil, err
	}
	if err := req.Validate(); err != nil {
		return nil, err
	}
	if _, err := t.requireDeptOr(req.Requester, model.RoleAgent); err != nil {
		return nil, err
	}
	if _, err := t.activeDepartment(req.Requester); err != nil {
		return nil, err
	}
	if req.Provider != model.ProviderAny {
		if _, err := t.activeDepartment(req.Provider); err != nil {
			return nil, err
		}
	}
	if err := t.checkScopes(req.DataTypes, req.Provider); err != nil {
		return nil, err
	}
	if _, err := t.activeIdentity(req.EID); err != nil {
		return nil, err
	}
	from := t.now
	if req.ValidFrom != "" {
		from, _ = model.ParseTime(req.ValidFrom)
	}
	until, _ := model.ParseTime(req.ValidUntil)
	if !until.After(t.now) {
		return nil, model.Invalid("valid_until must be in the future")
	}
	if !until.After(from) {
		return nil, model.Invalid("valid_until must be after valid_from")
	}
	cs := &model.Consent{
		ID:          model.DeriveConsentID(t.txID),
		EID:         req.EID,
		Requester:   req.Requester,
		Provider:    req.Provider,
		DataTypes:   append([]string(nil), req.DataTypes...),
		PurposeCode: req.PurposeCode,
		PurposeText: req.PurposeText,
		ValidFrom:   model.FormatTime(from),
		ValidUntil:  model.FormatTime(until),
		MaxUses:     req.MaxUses,
		Status:      model.ConsentRequested,
		RequestedAt: t.stamp,
		UpdatedAt:   t.stamp,
		TxID:        t.txID,
	}
	if old, err := t.consent(cs.ID); err != nil {
		return nil, err
	} else if old != nil {
		return nil, model.Conflict("consent %s already exists", cs.ID)
	}
	if err := t.putConsent(cs); err != nil {
		return nil, err
	}
	for _, ix := range []struct{ obj, attr string }{{objConsentByEID, cs.EID}, {objConsentByReq, cs.Requester}} {
		k, err := t.key(ix.obj, ix.attr, cs.ID)
		if err != nil {
			return nil, err
		}
		if err := t.put(k, []byte(indexMarker)); err != nil {
			return nil, err
		}
	}
	t.recordConsent(cs, model.OpRequested)
	return cs, t.emit()
}

// GrantConsent activates a requested consent on the resident's behalf (the
// agent); method says how the resident decided ("portal", "counter", …). A
// request whose valid_until has passed cannot be granted.
func (c *Contract) GrantConsent(ctx contractapi.TransactionContextInterface, id, method string) (*model.Consent, error) {
	return c.decide(ctx, model.FnGrantConsent, id, method, model.ConsentActive, model.OpGranted)
}

// DenyConsent refuses a requested consent on the resident's behalf (the agent).
func (c *Contract) DenyConsent(ctx contractapi.TransactionContextInterface, id, method string) (*model.Consent, error) {
	return c.decide(ctx, model.FnDenyConsent, id, method, model.ConsentDenied, model.OpDenied)
}

func (c *Contract) decide(ctx contractapi.TransactionContextInterface, fn, id, method, status, op string) (*model.Consent, error) {
	t, who, err := c.beginAs(ctx, fn, model.RoleAgent)
	if err != nil {
		return nil, err
	}
	if !model.ValidConsentID(id) {
		return nil, model.Invalid("id is not a consent id")
	}
	if !model.ValidDecisionMethod(method) {
		return nil, model.Invalid("method must match ^[a-z][a-z0-9_-]{1,31}$")
	}
	cs, err := t.consentIn(id, model.ConsentRequested)
	if err != nil {
		return nil, err
	}
	if status == model.ConsentActive {
		if until, err := model.ParseTime(cs.ValidUntil); err != nil || !until.After(t.now) {
			return nil, model.Conflict("consent %s has expired", id)
		}
	}
	cs.Status, cs.DecidedAt, cs.DecidedBy, cs.DecisionMethod = status, t.stamp, who.Name, method
	if status == model.ConsentActive {
		cs.GrantAssurance = model.AssurancePassword
	}
	if err := t.saveConsent(cs, op); err != nil {
		return nil, err
	}
	return cs, t.emit()
}

// RevokeConsent withdraws an active consent on the resident's behalf (the agent).
func (c *Contract) RevokeConsent(ctx contractapi.TransactionContextInterface, id string) (*model.Consent, error) {
	t, who, err := c.beginAs(ctx, model.FnRevokeConsent, model.RoleAgent)
	if err != nil {
		return nil, err
	}
	if !model.ValidConsentID(id) {
		return nil, model.Invalid("id is not a consent id")
	}
	cs, err := t.consentIn(id, model.ConsentActive)
	if err != nil {
		return nil, err
	}
	cs.Status, cs.RevokedAt, cs.RevokedBy = model.ConsentRevoked, t.stamp, who.Name
	cs.RevokeAssurance = model.AssurancePassword
	if err := t.saveConsent(cs, model.OpRevoked); err != nil {
		return nil, err
	}
	return cs, t.emit()
}

// GrantConsentSigned activates a requested consent with the resident's
// signature (the agent submits it): approval is a WebAuthn assertion by one
// of the resident's active passkeys over the digest of the consent.grant
// statement built from this consent's terms and the approval's nonce. The
// chaincode rebuilds the statement from the consent as it is on the
// ledger and checks the assertion (model.CheckApproval) before anything
// changes; the signature is kept with the consent.
func (c *Contract) GrantConsentSigned(ctx contractapi.TransactionContextInterface, id string, approval model.PasskeyApproval) (*model.Consent, error) {
	t, who, err := c.beginAs(ctx, model.FnGrantConsentSigned, model.RoleAgent)
	if err != nil {
		return nil, err
	}
	cs, err := t.signedTransition(id, model.ConsentRequested)
	if err != nil {
		return nil, err
	}
	if until, err := model.ParseTime(cs.ValidUntil); err != nil || !until.After(t.now) {
		return nil, model.Conflict("consent %s has expired", id)
	}
	sig, err := t.checkApproval(model.StatementConsentGrant, cs, approval)
	if err != nil {
		return nil, err
	}
	cs.Status, cs.DecidedAt, cs.DecidedBy, cs.DecisionMethod = model.ConsentActive, t.stamp, who.Name, "passkey"
	cs.GrantAssurance, cs.GrantSignature = model.AssurancePasskey, sig
	if sig.Representation != "" {
		cs.DecidedByGuardian, cs.DecidedUnder = sig.Signer, sig.Representation
	}
	if err := t.saveConsent(cs, model.OpGranted); err != nil {
		return nil, err
	}
	return cs, t.emit()
}

// RevokeConsentSigned withdraws an active consent with the resident's
// signature over the consent.revoke statement, checked as
// GrantConsentSigned checks a grant.
func (c *Contract) RevokeConsentSigned(ctx contractapi.TransactionContextInterface, id string, approval model.PasskeyApproval) (*model.Consent, error) {
	t, who, err := c.beginAs(ctx, model.FnRevokeConsentSigned, model.RoleAgent)
	if err != nil {
		return nil, err
	}
	cs, err := t.signedTransition(id, model.ConsentActive)
	if err != nil {
		return nil, err
	}
	sig, err := t.checkApproval(model.StatementConsentRevoke, cs, approval)
	if err != nil {
		return nil, err
	}
	cs.Status, cs.RevokedAt, cs.RevokedBy = model.ConsentRevoked, t.stamp, who.Name
	cs.RevokeAssurance, cs.RevokeSignature = model.AssurancePasskey, sig
	if sig.Representation != "" {
		cs.RevokedByGuardian, cs.RevokedUnder = sig.Signer, sig.Representation
	}
	if err := t.saveConsent(cs, model.OpRevoked); err != nil {
		return nil, err
	}
	return cs, t.emit()
}

func (t *txn) signedTransition(id, from string) (*model.Consent, error) {
	if !model.ValidConsentID(id) {
		return nil, model.Invalid("id is not a consent id")
	}
	return t.consentIn(id, from)
}

// checkApproval checks a resident's approval of statement kind over
// consent cs and returns the signature record.
func (t *txn) checkApproval(kind string, cs *model.Consent, a model.PasskeyApproval) (*model.PasskeySignature, error) {
	return t.checkApprovalFor(cs.EID, true, a, func(signer string) model.Statement {
		return model.ConsentStatement(kind, *cs, signer, a.Nonce)
	})
}

// checkApprovalOf checks approval a of the statement built for its signer
// and returns the signature record. The signer is the resident eid the act
// concerns.
func (t *txn) checkApprovalOf(eid string, a model.PasskeyApproval, statement func(signer string) model.Statement) (*model.PasskeySignature, error) {
	return t.checkApprovalFor(eid, false, a, statement)
}

// checkApprovalFor is checkApprovalOf where, with forWard, the signer may
// also be a guardian of eid whose approval names a relation to eid valid at
// the transaction time; the statement then names the relation.
func (t *txn) checkApprovalFor(eid string, forWard bool, a model.PasskeyApproval, statement func(signer string) model.Statement) (*model.PasskeySignature, error) {
	key, err := t.passkey(a.Key)
	if err != nil {
		return nil, err
	}
	if key == nil {
		return nil, model.NotFound("passkey %s is not registered", a.Key)
	}
	st := statement(key.EID)
	switch {
	case key.EID != eid && (a.Representation == "" || !forWard):
		return nil, model.Forbidden("%s: passkey %s is not a key of the resident", model.AssertionKeyOfOtherSigner, a.Key)
	case key.EID != eid:
		// A guardian signs for the ward under a relation valid now.
		if err := t.checkRepresentation(a.Representation, eid, key.EID); err != nil {
			return nil, err
		}
		st.Representation = a.Representation
	case a.Representation != "":
		return nil, model.Invalid("approval: a resident signing for themselves names no representation")
	}
	sig, err := model.CheckApproval(*key, st, a, t.stamp)
	if err != nil {
		var ae *model.AssertionError
		if errors.As(err, &ae) && ae.Reason == model.AssertionKeyNotActive {
			return nil, model.Forbidden("%v", err)
		}
		return nil, model.Invalid("approval: %v", err)
	}
	return sig, nil
}

// ExpireConsents moves the listed requested or active consents whose
// valid_until lies before the transaction time to expired (any channel
// member) and returns the ids it expired. Unknown ids and consents in any
// other state are left untouched.
func (c *Contract) ExpireConsents(ctx contractapi.TransactionContextInterface, ids []string) ([]string, error) {
	t, err := c.begin(ctx, model.FnExpireConsents)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 || len(ids) > model.MaxBatch {
		return nil, model.Invalid("ids must hold 1 to %d consent ids", model.MaxBatch)
	}
	for i, id := range ids {
		if !model.ValidConsentID(id) {
			return nil, model.Invalid("ids[%d] is not a consent id", i)
		}
	}
	expired := []string{}
	for _, id := range ids {
		cs, err := t.consent(id)
		if err != nil {
			return nil, err
		}
		if cs == nil || (cs.Status != model.ConsentRequested && cs.Status != model.ConsentActive) {
			continue
		}
		until, err := model.ParseTime(cs.ValidUntil)
		if err == nil && !until.Before(t.now) {
			continue
		}
		cs.Status = model.ConsentExpired
		if err := t.saveConsent(cs, model.OpExpired); err != nil {
			return nil, err
		}
		expired = append(expired, id)
	}
	return expired, t.emit()
}

// GetConsent returns a consent to the agent, admins, its requester and its
// named provider.
func (c *Contract) GetConsent(ctx contractapi.TransactionContextInterface, id string) (*model.Consent, error) {
	t, err := c.begin(ctx, model.FnGetConsent)
	if err != nil {
		return nil, err
	}
	if !model.ValidConsentID(id) {
		return nil, model.Invalid("id is not a consent id")
	}
	who, err := t.caller()
	if err != nil {
		return nil, err
	}
	cs, err := t.mustConsent(id)
	if err != nil {
		return nil, err
	}
	if who.Role == model.RoleDepartment && who.Dept != cs.Requester && who.Dept != cs.Provider {
		return nil, model.Forbidden("department %s is neither requester nor provider of consent %s", who.Dept, id)
	}
	return cs, nil
}

// ListConsentsByEID returns the consents of an eID in id order (agent or admin).
func (c *Contract) ListConsentsByEID(ctx contractapi.TransactionContextInterface, eid string) ([]model.Consent, error) {
	t, err := c.begin(ctx, model.FnListConsentsByEID)
	if err != nil {
		return nil, err
	}
	if err := checkDID("eid", eid); err != nil {
		return nil, err
	}
	if _, err := t.requireRole(model.RoleAgent, model.RoleAdmin); err != nil {
		return nil, err
	}
	return t.consentsUnder(objConsentByEID, eid)
}

// ListConsentsByRequester returns the consents a department requested, in
// id order (the agent, admins or that department).
func (c *Contract) ListConsentsByRequester(ctx contractapi.TransactionContextInterface, requester string) ([]model.Consent, error) {
	t, err := c.begin(ctx, model.FnListConsentsByRequester)
	if err != nil {
		return nil, err
	}
	if !model.ValidDepartmentID(requester) {
		return nil, model.Invalid("requester is not a department id")
	}
	if _, err := t.requireDeptOr(requester, model.RoleAgent, model.RoleAdmin); err != nil {
		return nil, err
	}
	return t.consentsUnder(objConsentByReq, requester)
}

func (t *txn) consentsUnder(objectType, attr string) ([]model.Consent, error) {
	kvs, err := t.scan(objectType, attr)
	if err != nil {
		return nil, err
	}
	out := make([]model.Consent, 0, len(kvs))
	for _, kv := range kvs {
		id, err := t.lastAttr(kv.Key)
		if err != nil {
			return nil, err
		}
		cs, err := t.consent(id)
		if err != nil {
			return nil, err
		}
		if cs == nil {
			return nil, fmt.Errorf("consent index names missing consent %s", id)
		}
		out = append(out, *cs)
	}
	return out, nil
}

func (t *txn) mustConsent(id string) (*model.Consent, error) {
	return mustLoad[model.Consent](t, "consent", objConsent, id)
}

// consentIn loads consent id, which must be in state status.
func (t *txn) consentIn(id, status string) (*model.Consent, error) {
	cs, err := t.mustConsent(id)
	if err != nil {
		return nil, err
	}
	if cs.Status != status {
		return nil, model.Conflict("consent %s is %s, not %s", id, cs.Status, status)
	}
	return cs, nil
}

// checkScopes checks the data_types of a consent request or a standing
// rule: every data type exists and is active, a question's predicate is
// catalogued and, unless provider is ProviderAny, provider provides it.
func (t *txn) checkScopes(entries []string, provider string) error {
	for i, entry := range entries {
		code, predicate, isQuestion := model.SplitQuestionScope(entry)
		dt, err := t.dataType(code)
		if err != nil {
			return err
		}
		switch {
		case dt == nil:
			return model.NotFound("data_types[%d]: data type %s does not exist", i, code)
		case isQuestion && !hasPredicate(dt, predicate):
			return model.NotFound("data_types[%d]: data type %s catalogues no predicate %q", i, code, predicate)
		case dt.Status != model.DataTypeActive:
			return model.Conflict("data_types[%d]: data type %s is retired", i, code)
		case provider != model.ProviderAny && !dt.OwnedBy(provider):
			return model.Invalid("data_types[%d]: department %s does not provide %s", i, provider, code)
		}
	}
	return nil
}

// hasPredicate reports whether the data type catalogues the predicate.
func hasPredicate(dt *model.DataType, id string) bool {
	_, ok := dt.Predicate(id)
	return ok
}
