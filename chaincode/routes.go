package chaincode

import (
	"crypto/ecdsa"
	"fmt"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"github.com/eidgate/eidgate/chaincode/model"
)

// PublishRoute stores a provider's signed route statement (the provider
// department itself or the agent relaying it). The signature must verify
// with an active signing key of the provider, which must be active and own
// the data type; the eID must be active. A version must be newer than the
// stored one; the same version with the same digest changes nothing, with
// another digest it is a conflict.
func (c *Contract) PublishRoute(ctx contractapi.TransactionContextInterface, signed model.SignedRoute) (*model.RouteEntry, error) {
	t, err := c.begin(ctx, model.FnPublishRoute)
	if err != nil {
		return nil, err
	}
	p := newPublisher(t)
	entry, _, err := p.publish(signed)
	if err != nil {
		return nil, err
	}
	return entry, t.emit()
}

// PublishRoutes stores up to model.MaxBatch signed statements in one
// transaction, all or nothing, under the rules of PublishRoute; errors name
// the failing item. A later item may supersede an earlier one of the same
// batch with a newer version.
func (c *Contract) PublishRoutes(ctx contractapi.TransactionContextInterface, batch []model.SignedRoute) ([]model.RouteOutcome, error) {
	t, err := c.begin(ctx, model.FnPublishRoutes)
	if err != nil {
		return nil, err
	}
	if len(batch) == 0 || len(batch) > model.MaxBatch {
		return nil, model.Invalid("batch must hold 1 to %d signed routes", model.MaxBatch)
	}
	p := newPublisher(t)
	out := make([]model.RouteOutcome, len(batch))
	for i, s := range batch {
		_, outcome, err := p.publish(s)
		if err != nil {
			return nil, model.Prefixed(err, fmt.Sprintf("batch[%d]", i))
		}
		st := s.Statement
		out[i] = model.RouteOutcome{EID: st.EID, DataType: st.DataType, Provider: st.Provider, Version: st.Version, Outcome: outcome}
	}
	return out, t.emit()
}

// RevokeRoute marks a route entry revoked (its provider, the agent or an
// admin). Revoking a revoked entry changes nothing; a newer version
// published later makes the route valid again.
func (c *Contract) RevokeRoute(ctx contractapi.TransactionContextInterface, eid, dataType, provider, reason string) (*model.RouteEntry, error) {
	t, err := c.begin(ctx, model.FnRevokeRoute)
	if err != nil {
		return nil, err
	}
	if err := checkRouteKey(eid, dataType, provider); err != nil {
		return nil, err
	}
	if err := model.CheckReason("reason", reason, true); err != nil {
		return nil, err
	}
	if _, err := t.requireDeptOr(provider, model.RoleAgent, model.RoleAdmin); err != nil {
		return nil, err
	}
	k, err := t.key(objRoute, eid, dataType, provider)
	if err != nil {
		return nil, err
	}
	var e model.RouteEntry
	if found, err := t.getJSON(k, &e); err != nil {
		return nil, err
	} else if !found {
		return nil, model.NotFound("no route of %s for eID %s from department %s", dataType, eid, provider)
	}
	if e.Status == model.RouteRevoked {
		return &e, t.emit()
	}
	e.Status, e.RevokedReason, e.UpdatedAt, e.TxID = model.RouteRevoked, reason, t.stamp, t.txID
	if err := t.putJSON(k, &e); err != nil {
		return nil, err
	}
	t.record(model.Change{Kind: model.KindRoute, Op: model.OpRevoked, EID: eid, DataType: dataType, Provider: provider})
	return &e, t.emit()
}

// GetRoutes returns the route entries of an eID, of one data type or of all
// ("" data type), in key order. The agent and admins see every entry, a
// department only those it provides. The cost depends on the eID's own
// entries, never on the number of residents: it reads one key range.
func (c *Contract) GetRoutes(ctx contractapi.TransactionContextInterface, eid, dataType string) ([]model.RouteEntry, error) {
	t, err := c.begin(ctx, model.FnGetRoutes)
	if err != nil {
		return nil, err
	}
	if err := checkDID("eid", eid); err != nil {
		return nil, err
	}
	attrs := []string{eid}
	if dataType != "" {
		if !model.ValidDataTypeCode(dataType) {
			return nil, model.Invalid("data_type is not a data type code")
		}
		attrs = append(attrs, dataType)
	}
	who, err := t.caller()
	if err != nil {
		return nil, err
	}
	entries, err := scanJSON[model.RouteEntry](t, objRoute, attrs...)
	if err != nil {
		return nil, err
	}
	if who.Role != model.RoleDepartment {
		return entries, nil
	}
	own := entries[:0]
	for _, e := range entries {
		if e.Provider == who.Dept {
			own = append(own, e)
		}
	}
	return own, nil
}

// GetRouteHistory returns the committed versions of one route entry, newest
// first (its provider, the agent or an admin).
func (c *Contract) GetRouteHistory(ctx contractapi.TransactionContextInterface, eid, dataType, provider string) ([]model.RouteHistoryEntry, error) {
	t, err := c.begin(ctx, model.FnGetRouteHistory)
	if err != nil {
		return nil, err
	}
	if err := checkRouteKey(eid, dataType, provider); err != nil {
		return nil, err
	}
	if _, err := t.requireDeptOr(provider, model.RoleAgent, model.RoleAdmin); err != nil {
		return nil, err
	}
	k, err := t.key(objRoute, eid, dataType, provider)
	if err != nil {
		return nil, err
	}
	it, err := t.stub.GetHistoryForKey(k)
	if err != nil {
		return nil, fmt.Errorf("query history: %w", err)
	}
	defer it.Close()
	out := []model.RouteHistoryEntry{}
	for it.HasNext() {
		m, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("query history: %w", err)
		}
		h := model.RouteHistoryEntry{TxID: m.GetTxId(), IsDelete: m.GetIsDelete()}
		if ts := m.GetTimestamp(); ts != nil {
			h.Timestamp = model.FormatTime(ts.AsTime())
		}
		if !m.GetIsDelete() && len(m.GetValue()) > 0 {
			var e model.RouteEntry
			if err := jsonUnmarshal(m.GetValue(), &e); err != nil {
				return nil, err
			}
			h.Entry = &e
		}
		out = append(out, h)
	}
	return out, nil
}

func checkRouteKey(eid, dataType, provider string) error {
	if err := checkDID("eid", eid); err != nil {
		return err
	}
	if !model.ValidDataTypeCode(dataType) {
		return model.Invalid("data_type is not a data type code")
	}
	if !model.ValidDepartmentID(provider) {
		return model.Invalid("provider is not a department id")
	}
	return nil
}

// publisher publishes the signed routes of one call, remembering parsed
// keys, departments and data types across the items of a batch.
type publisher struct {
	t         *txn
	keys      map[string]*ecdsa.PublicKey // provider + "\x00" + kid
	depts     map[string]*model.Department
	dataTypes map[string]*model.DataType
}

func newPublisher(t *txn) *publisher {
	return &publisher{t: t, keys: map[string]*ecdsa.PublicKey{}, depts: map[string]*model.Department{}, dataTypes: map[string]*model.DataType{}}
}

func (p *publisher) publish(s model.SignedRoute) (*model.RouteEntry, string, error) {
	t := p.t
	st := s.Statement
	if err := st.Validate(); err != nil {
		return nil, "", err
	}
	if !model.ValidKID(s.KID) {
		return nil, "", model.Invalid("kid must match ^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
	}
	if _, err := t.requireDeptOr(st.Provider, model.RoleAgent); err != nil {
		return nil, "", err
	}
	pub, err := p.key(st.Provider, s.KID)
	if err != nil {
		return nil, "", err
	}
	if err := model.VerifyRouteKey(pub, s); err != nil {
		return nil, "", err
	}
	dt, err := p.dataType(st.DataType)
	if err != nil {
		return nil, "", err
	}
	if !dt.OwnedBy(st.Provider) {
		return nil, "", model.Forbidden("department %s is not an owner of data type %s", st.Provider, st.DataType)
	}
	if _, err := t.activeIdentity(st.EID); err != nil {
		return nil, "", err
	}

	k, err := t.key(objRoute, st.EID, st.DataType, st.Provider)
	if err != nil {
		return nil, "", err
	}
	var old model.RouteEntry
	found, err := t.getJSON(k, &old)
	if err != nil {
		return nil, "", err
	}
	if found {
		switch {
		case st.Version < old.Version:
			return nil, "", model.Conflict("version %d is older than the stored version %d", st.Version, old.Version)
		case st.Version == old.Version && st.Digest != old.Digest:
			return nil, "", model.Conflict("version %d is already stored with another digest", st.Version)
		case st.Version == old.Version && old.Status == model.RouteRevoked:
			return nil, "", model.Conflict("version %d is revoked; publish a newer version", st.Version)
		case st.Version == old.Version:
			return &old, model.OutcomeUnchanged, nil
		}
	}
	e := &model.RouteEntry{
		EID: st.EID, DataType: st.DataType, Provider: st.Provider, Version: st.Version,
		Digest: st.Digest, Schema: st.Schema, KID: s.KID, Signature: s.Signature,
		Status: model.RouteValid, PublishedAt: t.stamp, UpdatedAt: t.stamp, TxID: t.txID,
	}
	if err := t.putJSON(k, e); err != nil {
		return nil, "", err
	}
	t.record(model.Change{Kind: model.KindRoute, Op: model.OpPublished, EID: st.EID, DataType: st.DataType, Provider: st.Provider})
	return e, model.OutcomePublished, nil
}

// key returns the parsed active signing key kid of an active provider.
func (p *publisher) key(provider, kid string) (*ecdsa.PublicKey, error) {
	ck := provider + "\x00" + kid
	if pub, ok := p.keys[ck]; ok {
		return pub, nil
	}
	d, err := memo(p.depts, provider, p.t.department)
	if err != nil {
		return nil, err
	}
	if d == nil {
		return nil, model.NotFound("provider department %s is not registered", provider)
	}
	if !d.Active() {
		return nil, model.Forbidden("provider department %s is suspended", provider)
	}
	k, found := d.Key(kid)
	if !found || k.Status != model.KeyActive {
		return nil, model.Forbidden("department %s has no active signing key %q", provider, kid)
	}
	pub, err := model.ParsePublicKey(k.PublicKeyPEM)
	if err != nil {
		return nil, model.Forbidden("signing key %q of department %s is unusable", kid, provider)
	}
	p.keys[ck] = pub
	return pub, nil
}

func (p *publisher) dataType(code string) (*model.DataType, error) {
	dt, err := memo(p.dataTypes, code, p.t.dataType)
	if err != nil {
		return nil, err
	}
	if dt == nil {
		return nil, model.NotFound("data type %s does not exist", code)
	}
	if dt.Status != model.DataTypeActive {
		return nil, model.Conflict("data type %s is retired", code)
	}
	return dt, nil
}

// memo returns m[k], loading it with load on first use; a record that does
// not exist is remembered as nil too.
func memo[T any](m map[string]*T, k string, load func(string) (*T, error)) (*T, error) {
	if v, ok := m[k]; ok {
		return v, nil
	}
	v, err := load(k)
	if err != nil {
		return nil, err
	}
	m[k] = v
	return v, nil
}
