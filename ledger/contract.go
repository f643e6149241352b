package ledger

import (
	"context"
	"encoding/json"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/routing"
)

// The typed contract API: one method per eidgate chaincode function.
// Queries are evaluated on the peer; every other function is endorsed,
// submitted and waited for until it commits. Results are decoded into the
// on-chain model types.

func jsonArg(op string, v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", &routing.Error{Kind: routing.KindInvalid, Op: op, Message: "arguments cannot be encoded", Err: err}
	}
	return string(b), nil
}

func decode[T any](op string, raw []byte) (T, error) {
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, &routing.Error{Kind: routing.KindInternal, Op: op, Message: "the chaincode returned a malformed result", Err: err}
	}
	return v, nil
}

func query[T any](ctx context.Context, c *Client, fn string, args ...string) (T, error) {
	op := "ledger." + fn
	raw, err := c.evaluate(ctx, op, fn, args...)
	if err != nil {
		var zero T
		return zero, err
	}
	return decode[T](op, raw)
}

// queryString evaluates a function that returns a string; contractapi
// returns strings as raw bytes, not JSON.
func queryString(ctx context.Context, c *Client, fn string, args ...string) (string, error) {
	raw, err := c.evaluate(ctx, "ledger."+fn, fn, args...)
	if err != nil {
		return "", err
	}
	return string(raw), nil
}

func invoke[T any](ctx context.Context, c *Client, fn string, args ...string) (T, *Submitted, error) {
	op := "ledger." + fn
	res, err := c.submit(ctx, op, fn, args...)
	if err != nil {
		var zero T
		return zero, nil, err
	}
	v, err := decode[T](op, res.Result)
	return v, res, err
}

func invokeJSON[T any](ctx context.Context, c *Client, fn string, arg any, more ...string) (T, *Submitted, error) {
	a, err := jsonArg("ledger."+fn, arg)
	if err != nil {
		var zero T
		return zero, nil, err
	}
	return invoke[T](ctx, c, fn, append([]string{a}, more...)...)
}

// --- departments and data types ---

// RegisterDepartment registers a department (admin).
func (c *Client) RegisterDepartment(ctx context.Context, d model.Department) (*model.Department, error) {
	v, _, err := invokeJSON[*model.Department](ctx, c, model.FnRegisterDepartment, d)
	return v, err
}

// UpdateDepartment replaces a department's name, endpoints and keys (admin).
func (c *Client) UpdateDepartment(ctx context.Context, d model.Department) (*model.Department, error) {
	v, _, err := invokeJSON[*model.Department](ctx, c, model.FnUpdateDepartment, d)
	return v, err
}

// SetDepartmentStatus suspends or reactivates a department (admin).
func (c *Client) SetDepartmentStatus(ctx context.Context, id, status, reason string) (*model.Department, error) {
	v, _, err := invoke[*model.Department](ctx, c, model.FnSetDepartmentStatus, id, status, reason)
	return v, err
}

// GetDepartment reads a department.
func (c *Client) GetDepartment(ctx context.Context, id string) (*model.Department, error) {
	return query[*model.Department](ctx, c, model.FnGetDepartment, id)
}

// ListDepartments reads every department.
func (c *Client) ListDepartments(ctx context.Context) ([]model.Department, error) {
	return query[[]model.Department](ctx, c, model.FnListDepartments)
}

// RegisterDataType registers a data type (admin).
func (c *Client) RegisterDataType(ctx context.Context, dt model.DataType) (*model.DataType, error) {
	v, _, err := invokeJSON[*model.DataType](ctx, c, model.FnRegisterDataType, dt)
	return v, err
}

// UpdateDataType replaces a data type's names, schema and owners (admin).
func (c *Client) UpdateDataType(ctx context.Context, dt model.DataType) (*model.DataType, error) {
	v, _, err := invokeJSON[*model.DataType](ctx, c, model.FnUpdateDataType, dt)
	return v, err
}

// GetDataType reads a data type.
func (c *Client) GetDataType(ctx context.Context, code string) (*model.DataType, error) {
	return query[*model.DataType](ctx, c, model.FnGetDataType, code)
}

// ListDataTypes reads every data type.
func (c *Client) ListDataTypes(ctx context.Context) ([]model.DataType, error) {
	return query[[]model.DataType](ctx, c, model.FnListDataTypes)
}

// --- eIDs ---

// CreateEID creates an eID for one resident's blinded document indexes.
func (c *Client) CreateEID(ctx context.Context, indexes []model.BlindedIndex) (*model.Identity, error) {
	v, _, err := invokeJSON[*model.Identity](ctx, c, model.FnCreateEID, indexes)
	return v, err
}

// CreateEIDs creates eIDs in bulk; items already mapped report "exists".
func (c *Client) CreateEIDs(ctx context.Context, items []model.EIDRequest) ([]model.EIDOutcome, error) {
	v, _, err := invokeJSON[[]model.EIDOutcome](ctx, c, model.FnCreateEIDs, items)
	return v, err
}

// AddDocumentIndex maps one more document to an eID.
func (c *Client) AddDocumentIndex(ctx context.Context, eid string, idx model.BlindedIndex) (*model.Identity, error) {
	a, err := jsonArg("ledger."+model.FnAddDocumentIndex, idx)
	if err != nil {
		return nil, err
	}
	v, _, err := invoke[*model.Identity](ctx, c, model.FnAddDocumentIndex, eid, a)
	return v, err
}

// RemoveDocumentIndex unmaps a document from an eID.
func (c *Client) RemoveDocumentIndex(ctx context.Context, eid string, idx model.BlindedIndex) (*model.Identity, error) {
	a, err := jsonArg("ledger."+model.FnRemoveDocumentIndex, idx)
	if err != nil {
		return nil, err
	}
	v, _, err := invoke[*model.Identity](ctx, c, model.FnRemoveDocumentIndex, eid, a)
	return v, err
}

// MergeEID merges eID from into eID into.
func (c *Client) MergeEID(ctx context.Context, from, into, reason string) (*model.Identity, error) {
	v, _, err := invoke[*model.Identity](ctx, c, model.FnMergeEID, from, into, reason)
	return v, err
}

// DeactivateEID deactivates an eID.
func (c *Client) DeactivateEID(ctx context.Context, eid, reason string) (*model.Identity, error) {
	v, _, err := invoke[*model.Identity](ctx, c, model.FnDeactivateEID, eid, reason)
	return v, err
}

// GetEID reads an eID record.
func (c *Client) GetEID(ctx context.Context, eid string) (*model.Identity, error) {
	return query[*model.Identity](ctx, c, model.FnGetEID, eid)
}

// ResolveDID resolves a DID to its document and metadata.
func (c *Client) ResolveDID(ctx context.Context, did string) (*model.DIDResolution, error) {
	return query[*model.DIDResolution](ctx, c, model.FnResolveDID, did)
}

// LookupIndex finds the eID a blinded document index maps to.
func (c *Client) LookupIndex(ctx context.Context, idx model.BlindedIndex) (string, error) {
	return queryString(ctx, c, model.FnLookupIndex, idx.KeyVersion, idx.Value)
}

// --- account links ---

// LinkAccount links a department's local account (hashed) to an eID.
func (c *Client) LinkAccount(ctx context.Context, eid, department, accountHash string) (*model.AccountLink, error) {
	v, _, err := invoke[*model.AccountLink](ctx, c, model.FnLinkAccount, eid, department, accountHash)
	return v, err
}

// UnlinkAccount removes a department's account link.
func (c *Client) UnlinkAccount(ctx context.Context, eid, department string) error {
	_, err := c.submit(ctx, "ledger."+model.FnUnlinkAccount, model.FnUnlinkAccount, eid, department)
	return err
}

// ListLinks lists the account links of an eID.
func (c *Client) ListLinks(ctx context.Context, eid string) ([]model.AccountLink, error) {
	return query[[]model.AccountLink](ctx, c, model.FnListLinks, eid)
}

// LookupAccount finds the eID a department's account is linked to.
func (c *Client) LookupAccount(ctx context.Context, department, accountHash string) (string, error) {
	return queryString(ctx, c, model.FnLookupAccount, department, accountHash)
}

// --- routes ---

// PublishRoute publishes one signed digest.
func (c *Client) PublishRoute(ctx context.Context, s model.SignedRoute) (*model.RouteEntry, error) {
	v, _, err := invokeJSON[*model.RouteEntry](ctx, c, model.FnPublishRoute, s)
	return v, err
}

// PublishRoutes publishes a batch of signed digests in one transaction.
func (c *Client) PublishRoutes(ctx context.Context, batch []model.SignedRoute) ([]model.RouteOutcome, error) {
	v, _, err := invokeJSON[[]model.RouteOutcome](ctx, c, model.FnPublishRoutes, batch)
	return v, err
}

// RevokeRoute revokes a route entry.
func (c *Client) RevokeRoute(ctx context.Context, eid, dataType, provider, reason string) (*model.RouteEntry, error) {
	v, _, err := invoke[*model.RouteEntry](ctx, c, model.FnRevokeRoute, eid, dataType, provider, reason)
	return v, err
}

// GetRoutes reads the route entries of an eID ("" = every data type).
func (c *Client) GetRoutes(ctx context.Context, eid, dataType string) ([]model.RouteEntry, error) {
	return query[[]model.RouteEntry](ctx, c, model.FnGetRoutes, eid, dataType)
}

// GetRouteHistory reads the committed history of one route entry.
func (c *Client) GetRouteHistory(ctx context.Context, eid, dataType, provider string) ([]model.RouteHistoryEntry, error) {
	return query[[]model.RouteHistoryEntry](ctx, c, model.FnGetRouteHistory, eid, dataType, provider)
}

// --- consent ---

// RequestConsent opens a consent request.
func (c *Client) RequestConsent(ctx context.Context, req model.ConsentRequest) (*model.Consent, error) {
	v, _, err := invokeJSON[*model.Consent](ctx, c, model.FnRequestConsent, req)
	return v, err
}

// GrantConsent grants a requested consent on the resident's behalf.
func (c *Client) GrantConsent(ctx context.Context, id, method string) (*model.Consent, error) {
	v, _, err := invoke[*model.Consent](ctx, c, model.FnGrantConsent, id, method)
	return v, err
}

// DenyConsent denies a requested consent on the resident's behalf.
func (c *Client) DenyConsent(ctx context.Context, id, method string) (*model.Consent, error) {
	v, _, err := invoke[*model.Consent](ctx, c, model.FnDenyConsent, id, method)
	return v, err
}

// RevokeConsent revokes an active consent on the resident's behalf.
func (c *Client) RevokeConsent(ctx context.Context, id string) (*model.Consent, error) {
	v, _, err := invoke[*model.Consent](ctx, c, model.FnRevokeConsent, id)
	return v, err
}

// ExpireConsents moves consents past their validity to expired and returns
// the ids it changed.
func (c *Client) ExpireConsents(ctx context.Context, ids []string) ([]string, error) {
	v, _, err := invokeJSON[[]string](ctx, c, model.FnExpireConsents, ids)
	return v, err
}

// GetConsent reads a consent.
func (c *Client) GetConsent(ctx context.Context, id string) (*model.Consent, error) {
	return query[*model.Consent](ctx, c, model.FnGetConsent, id)
}

// ListConsentsByEID reads every consent of an eID.
func (c *Client) ListConsentsByEID(ctx context.Context, eid string) ([]model.Consent, error) {
	return query[[]model.Consent](ctx, c, model.FnListConsentsByEID, eid)
}

// ListConsentsByRequester reads every consent a department requested.
func (c *Client) ListConsentsByRequester(ctx context.Context, requester string) ([]model.Consent, error) {
	return query[[]model.Consent](ctx, c, model.FnListConsentsByRequester, requester)
}

// --- standing rules ---

// CreateStandingRule records a resident's standing rule.
func (c *Client) CreateStandingRule(ctx context.Context, d model.RuleDraft) (*model.StandingRule, error) {
	v, _, err := invokeJSON[*model.StandingRule](ctx, c, model.FnCreateStandingRule, d)
	return v, err
}

// RevokeStandingRule revokes an active standing rule.
func (c *Client) RevokeStandingRule(ctx context.Context, id string) (*model.StandingRule, error) {
	v, _, err := invoke[*model.StandingRule](ctx, c, model.FnRevokeStandingRule, id)
	return v, err
}

// CreateStandingRuleSigned records a standing rule with the resident's
// passkey signature over its terms, which the chaincode checks.
func (c *Client) CreateStandingRuleSigned(ctx context.Context, d model.RuleDraft, a model.PasskeyApproval) (*model.StandingRule, error) {
	arg, err := jsonArg("ledger."+model.FnCreateStandingRuleSigned, a)
	if err != nil {
		return nil, err
	}
	v, _, err := invokeJSON[*model.StandingRule](ctx, c, model.FnCreateStandingRuleSigned, d, arg)
	return v, err
}

// RevokeStandingRuleSigned revokes an active standing rule with the
// resident's passkey signature.
func (c *Client) RevokeStandingRuleSigned(ctx context.Context, id string, a model.PasskeyApproval) (*model.StandingRule, error) {
	arg, err := jsonArg("ledger."+model.FnRevokeStandingRuleSigned, a)
	if err != nil {
		return nil, err
	}
	v, _, err := invoke[*model.StandingRule](ctx, c, model.FnRevokeStandingRuleSigned, id, arg)
	return v, err
}

// GetStandingRule reads one standing rule (a department: one that names
// it).
func (c *Client) GetStandingRule(ctx context.Context, id string) (*model.StandingRule, error) {
	return query[*model.StandingRule](ctx, c, model.FnGetStandingRule, id)
}

// ListStandingRulesByEID reads every standing rule of an eID.
func (c *Client) ListStandingRulesByEID(ctx context.Context, eid string) ([]model.StandingRule, error) {
	return query[[]model.StandingRule](ctx, c, model.FnListStandingRulesByEID, eid)
}

// --- representations ---

// RegisterRepresentation records that a guardian may act for a ward.
func (c *Client) RegisterRepresentation(ctx context.Context, d model.RepresentationDraft) (*model.Representation, error) {
	v, _, err := invokeJSON[*model.Representation](ctx, c, model.FnRegisterRepresentation, d)
	return v, err
}

// EndRepresentation ends an active relation for the officer named.
func (c *Client) EndRepresentation(ctx context.Context, id, reason, officer string) (*model.Representation, error) {
	v, _, err := invoke[*model.Representation](ctx, c, model.FnEndRepresentation, id, reason, officer)
	return v, err
}

// GetRepresentation reads a relation.
func (c *Client) GetRepresentation(ctx context.Context, id string) (*model.Representation, error) {
	return query[*model.Representation](ctx, c, model.FnGetRepresentation, id)
}

// ListRepresentationsByWard reads the relations of a ward.
func (c *Client) ListRepresentationsByWard(ctx context.Context, eid string) ([]model.Representation, error) {
	return query[[]model.Representation](ctx, c, model.FnListRepresentationsByWard, eid)
}

// ListRepresentationsByGuardian reads the relations of a guardian.
func (c *Client) ListRepresentationsByGuardian(ctx context.Context, eid string) ([]model.Representation, error) {
	return query[[]model.Representation](ctx, c, model.FnListRepresentationsByGuardian, eid)
}

// DenyConsentForWard denies a ward's requested consent for the guardian
// acting under relation representation.
func (c *Client) DenyConsentForWard(ctx context.Context, id, representation, guardian string) (*model.Consent, error) {
	v, _, err := invoke[*model.Consent](ctx, c, model.FnDenyConsentForWard, id, representation, guardian)
	return v, err
}

// --- anchors ---

// AnchorAccessBatch anchors a batch of access records; it returns the
// anchor as stored and the block of the transaction.
func (c *Client) AnchorAccessBatch(ctx context.Context, a model.AccessAnchor) (*model.AccessAnchor, uint64, error) {
	v, res, err := invokeJSON[*model.AccessAnchor](ctx, c, model.FnAnchorAccessBatch, a)
	if err != nil {
		return nil, 0, err
	}
	return v, res.BlockNumber, nil
}

// GetAnchor reads an anchored batch.
func (c *Client) GetAnchor(ctx context.Context, batchID string) (*model.AccessAnchor, error) {
	return query[*model.AccessAnchor](ctx, c, model.FnGetAnchor, batchID)
}

// --- passkeys and signed consent decisions ---

// RegisterPasskey puts a resident's passkey on the ledger (the agent).
func (c *Client) RegisterPasskey(ctx context.Context, reg model.PasskeyRegistration) (*model.Passkey, error) {
	v, _, err := invokeJSON[*model.Passkey](ctx, c, model.FnRegisterPasskey, reg)
	return v, err
}

// RetirePasskeys retires the listed passkeys of an eID, or every active
// one when keyIDs is empty (the agent).
func (c *Client) RetirePasskeys(ctx context.Context, eid string, keyIDs []string, reason string) ([]model.Passkey, error) {
	if keyIDs == nil {
		keyIDs = []string{}
	}
	ids, err := jsonArg("ledger."+model.FnRetirePasskeys, keyIDs)
	if err != nil {
		return nil, err
	}
	v, _, err := invoke[[]model.Passkey](ctx, c, model.FnRetirePasskeys, eid, ids, reason)
	return v, err
}

// ListPasskeys reads every passkey ever registered for an eID.
func (c *Client) ListPasskeys(ctx context.Context, eid string) ([]model.Passkey, error) {
	return query[[]model.Passkey](ctx, c, model.FnListPasskeys, eid)
}

// GrantConsentSigned grants a requested consent with the resident's
// passkey signature, which the chaincode checks.
func (c *Client) GrantConsentSigned(ctx context.Context, id string, a model.PasskeyApproval) (*model.Consent, error) {
	arg, err := jsonArg("ledger."+model.FnGrantConsentSigned, a)
	if err != nil {
		return nil, err
	}
	v, _, err := invoke[*model.Consent](ctx, c, model.FnGrantConsentSigned, id, arg)
	return v, err
}

// RevokeConsentSigned revokes an active consent with the resident's
// passkey signature.
func (c *Client) RevokeConsentSigned(ctx context.Context, id string, a model.PasskeyApproval) (*model.Consent, error) {
	arg, err := jsonArg("ledger."+model.FnRevokeConsentSigned, a)
	if err != nil {
		return nil, err
	}
	v, _, err := invoke[*model.Consent](ctx, c, model.FnRevokeConsentSigned, id, arg)
	return v, err
}
