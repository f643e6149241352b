package chaincode

import (
	"slices"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"github.com/eidgate/eidgate/chaincode/model"
)

// RegisterPasskey puts a resident's passkey on the ledger (the agent, after
// the resident registered it in a signed-in session). The eID must be
// active, the key one eidgate can verify (P-256, Ed25519 or RSA) and not
// registered before; a resident holds at most MaxPasskeysPerEID active
// passkeys. The key becomes a verification method of the resident's DID
// document from this transaction's time on.
func (c *Contract) RegisterPasskey(ctx contractapi.TransactionContextInterface, reg model.PasskeyRegistration) (*model.Passkey, error) {
	t, _, err := c.beginAs(ctx, model.FnRegisterPasskey, model.RoleAgent)
	if err != nil {
		return nil, err
	}
	if err := reg.Validate(); err != nil {
		return nil, err
	}
	if _, err := t.activeIdentity(reg.EID); err != nil {
		return nil, err
	}
	existing, err := t.passkeysOf(reg.EID)
	if err != nil {
		return nil, err
	}
	keyID := reg.KeyID()
	active := 0
	for _, p := range existing {
		if p.KeyID() == keyID {
			return nil, model.Conflict("passkey %s is already registered", model.PasskeyMethodID(reg.EID, keyID))
		}
		if p.Status == model.PasskeyActive {
			active++
		}
	}
	if active >= model.MaxPasskeysPerEID {
		return nil, model.Conflict("eID %s already has %d active passkeys", reg.EID, model.MaxPasskeysPerEID)
	}
	pk := &model.Passkey{
		ID: model.PasskeyMethodID(reg.EID, keyID), EID: reg.EID, CredentialID: reg.CredentialID,
		PublicKeyJWK: reg.PublicKeyJWK, RPID: reg.RPID, Status: model.PasskeyActive,
		RegisteredAt: t.stamp, TxID: t.txID,
	}
	if err := t.putPasskey(pk); err != nil {
		return nil, err
	}
	t.record(model.Change{Kind: model.KindPasskey, Op: model.OpRegistered, ID: pk.ID, EID: pk.EID})
	return pk, t.emit()
}

// RetirePasskeys retires passkeys of a resident (the agent): the ones whose
// key ids are listed, or every active one when the list is empty (a
// resident who lost their passkeys, at the KYC counter). reason says why
// ("lost", "removed", …). A retired key no longer authenticates or signs;
// what it signed while it was active still verifies. It returns the keys it
// retired; keys already retired are left as they are.
func (c *Contract) RetirePasskeys(ctx contractapi.TransactionContextInterface, eid string, keyIDs []string, reason string) ([]model.Passkey, error) {
	t, _, err := c.beginAs(ctx, model.FnRetirePasskeys, model.RoleAgent)
	if err != nil {
		return nil, err
	}
	if err := checkDID("eid", eid); err != nil {
		return nil, err
	}
	if len(keyIDs) > model.MaxPasskeysPerEID*4 {
		return nil, model.Invalid("key_ids holds more than %d entries", model.MaxPasskeysPerEID*4)
	}
	for i, k := range keyIDs {
		if !model.ValidPasskeyKeyID(k) {
			return nil, model.Invalid("key_ids[%d] is not a passkey id (pk- and 32 hex digits)", i)
		}
	}
	if !model.ValidRetireReason(reason) {
		return nil, model.Invalid("reason must match ^[a-z][a-z0-9_-]{1,31}$")
	}
	if _, err := t.mustIdentity(eid); err != nil {
		return nil, err
	}
	all, err := t.passkeysOf(eid)
	if err != nil {
		return nil, err
	}
	for i, k := range keyIDs {
		if !slices.ContainsFunc(all, func(p model.Passkey) bool { return p.KeyID() == k }) {
			return nil, model.NotFound("key_ids[%d]: passkey %s is not registered", i, model.PasskeyMethodID(eid, k))
		}
	}
	retired := []model.Passkey{}
	for _, p := range all {
		if p.Status != model.PasskeyActive || (len(keyIDs) > 0 && !slices.Contains(keyIDs, p.KeyID())) {
			continue
		}
		p.Status, p.RetiredAt, p.RetiredReason, p.TxID = model.PasskeyRetired, t.stamp, reason, t.txID
		if err := t.putPasskey(&p); err != nil {
			return nil, err
		}
		t.record(model.Change{Kind: model.KindPasskey, Op: model.OpRetired, ID: p.ID, EID: p.EID})
		retired = append(retired, p)
	}
	return retired, t.emit()
}

// ListPasskeys returns every passkey ever registered for an eID, active and
// retired, in key id order (any channel member: they are public keys, and
// anyone checking a resident's signature needs them).
func (c *Contract) ListPasskeys(ctx contractapi.TransactionContextInterface, eid string) ([]model.Passkey, error) {
	t, err := c.begin(ctx, model.FnListPasskeys)
	if err != nil {
		return nil, err
	}
	if err := checkDID("eid", eid); err != nil {
		return nil, err
	}
	if _, err := t.caller(); err != nil {
		return nil, err
	}
	if _, err := t.mustIdentity(eid); err != nil {
		return nil, err
	}
	return t.passkeysOf(eid)
}

// passkeysOf reads an eID's passkeys (committed state, key id order).
func (t *txn) passkeysOf(eid string) ([]model.Passkey, error) {
	kvs, err := t.scan(objPasskey, eid)
	if err != nil {
		return nil, err
	}
	out := make([]model.Passkey, 0, len(kvs))
	for _, kv := range kvs {
		var p model.Passkey
		if err := jsonUnmarshal(kv.Value, &p); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// passkey loads one passkey by its verification method id (nil when it is
// not registered).
func (t *txn) passkey(methodID string) (*model.Passkey, error) {
	eid, keyID, ok := model.SplitPasskeyMethodID(methodID)
	if !ok {
		return nil, model.Invalid("key must be a passkey's verification method id (<eID>#pk-…)")
	}
	return load[model.Passkey](t, objPasskey, eid, keyID)
}

func (t *txn) putPasskey(p *model.Passkey) error {
	k, err := t.key(objPasskey, p.EID, p.KeyID())
	if err != nil {
		return err
	}
	return t.putJSON(k, p)
}
