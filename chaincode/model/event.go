package model

// Contract function names. Each write function sets exactly one chaincode
// event named after itself.
const (
	FnRegisterDepartment       = "RegisterDepartment"
	FnUpdateDepartment         = "UpdateDepartment"
	FnSetDepartmentStatus      = "SetDepartmentStatus"
	FnGetDepartment            = "GetDepartment"
	FnListDepartments          = "ListDepartments"
	FnRegisterDataType         = "RegisterDataType"
	FnUpdateDataType           = "UpdateDataType"
	FnGetDataType              = "GetDataType"
	FnListDataTypes            = "ListDataTypes"
	FnCreateEID                = "CreateEID"
	FnCreateEIDs               = "CreateEIDs"
	FnAddDocumentIndex         = "AddDocumentIndex"
	FnRemoveDocumentIndex      = "RemoveDocumentIndex"
	FnMergeEID                 = "MergeEID"
	FnDeactivateEID            = "DeactivateEID"
	FnGetEID                   = "GetEID"
	FnResolveDID               = "ResolveDID"
	FnLookupIndex              = "LookupIndex"
	FnLinkAccount              = "LinkAccount"
	FnUnlinkAccount            = "UnlinkAccount"
	FnListLinks                = "ListLinks"
	FnLookupAccount            = "LookupAccount"
	FnPublishRoute             = "PublishRoute"
	FnPublishRoutes            = "PublishRoutes"
	FnRevokeRoute              = "RevokeRoute"
	FnGetRoutes                = "GetRoutes"
	FnGetRouteHistory          = "GetRouteHistory"
	FnRequestConsent           = "RequestConsent"
	FnGrantConsent             = "GrantConsent"
	FnDenyConsent              = "DenyConsent"
	FnRevokeConsent            = "RevokeConsent"
	FnExpireConsents           = "ExpireConsents"
	FnGetConsent               = "GetConsent"
	FnListConsentsByEID        = "ListConsentsByEID"
	FnListConsentsByRequester  = "ListConsentsByRequester"
	FnAnchorAccessBatch        = "AnchorAccessBatch"
	FnGetAnchor                = "GetAnchor"
	FnRevokeSigningKey         = "RevokeSigningKey"
	FnAnchorStatusList         = "AnchorStatusList"
	FnGetStatusListAnchor      = "GetStatusListAnchor"
	FnRegisterPasskey          = "RegisterPasskey"
	FnRetirePasskeys           = "RetirePasskeys"
	FnListPasskeys             = "ListPasskeys"
	FnGrantConsentSigned       = "GrantConsentSigned"
	FnRevokeConsentSigned      = "RevokeConsentSigned"
	FnCreateStandingRule       = "CreateStandingRule"
	FnRevokeStandingRule       = "RevokeStandingRule"
	FnListStandingRulesByEID   = "ListStandingRulesByEID"
	FnCreateStandingRuleSigned = "CreateStandingRuleSigned"
	FnRevokeStandingRuleSigned = "RevokeStandingRuleSigned"
	FnGetStandingRule          = "GetStandingRule"

	FnRegisterRepresentation        = "RegisterRepresentation"
	FnEndRepresentation             = "EndRepresentation"
	FnGetRepresentation             = "GetRepresentation"
	FnListRepresentationsByWard     = "ListRepresentationsByWard"
	FnListRepresentationsByGuardian = "ListRepresentationsByGuardian"
	FnDenyConsentForWard            = "DenyConsentForWard"
)

// Kinds of changed records.
const (
	KindDepartment = "department"
	KindDataType   = "datatype"
	KindEID        = "eid"
	KindIndex      = "index"
	KindLink       = "link"
	KindRoute      = "route"
	KindConsent    = "consent"
	KindAnchor     = "anchor"
	KindStatusList = "statuslist"
	KindPasskey    = "passkey"
	KindRule       = "rule"

	KindRepresentation = "representation"
)

// Operations on records.
const (
	OpCreated     = "created"
	OpUpdated     = "updated"
	OpSuspended   = "suspended"
	OpMerged      = "merged"
	OpDeactivated = "deactivated"
	OpAdded       = "added"
	OpRemoved     = "removed"
	OpLinked      = "linked"
	OpUnlinked    = "unlinked"
	OpPublished   = "published"
	OpRevoked     = "revoked"
	OpRequested   = "requested"
	OpGranted     = "granted"
	OpDenied      = "denied"
	OpExpired     = "expired"
	OpUsed        = "used"
	OpUsedUp      = "used_up" // used, and no use is left
	OpAnchored    = "anchored"
	OpKeyRevoked  = "key_revoked"
	OpRegistered  = "registered"
	OpRetired     = "retired"
	OpEnded       = "ended"
)

// ChangeSet is the payload of a chaincode event: every record the
// transaction changed, in the order it changed them. A transaction that
// changed nothing (an idempotent repeat) sends an empty list.
type ChangeSet struct {
	Changes []Change `json:"changes"`
}

// Change names one changed record with the fields a cache needs to drop
// exactly the affected entries. Which fields are set depends on Kind:
//
//   - department: ID (= Department)
//   - datatype: ID (= DataType)
//   - eid: ID; EID = the surviving eID for merged
//   - index: EID, KeyVersion, Value (the blinded value)
//   - link: EID, Department, Value (the account hash)
//   - route: EID, DataType, Provider
//   - consent: ID, EID, Requester, Provider, DataType (one change per data type)
//   - anchor: ID (the batch id)
//   - department key_revoked: ID (= Department), Value (the key id)
//   - statuslist: ID (the list id), Department (its issuer), Value (the
//     anchored digest)
//   - passkey: ID (the verification method id), EID
//   - rule: ID (the standing rule id), EID
//   - representation: ID (the relation id), EID (the ward), Value (the
//     guardian's eID)
type Change struct {
	Kind       string `json:"kind"`
	Op         string `json:"op"`
	ID         string `json:"id,omitempty"`
	EID        string `json:"eid,omitempty"`
	DataType   string `json:"data_type,omitempty"`
	Provider   string `json:"provider,omitempty"`
	Requester  string `json:"requester,omitempty"`
	Department string `json:"department,omitempty"`
	KeyVersion string `json:"key_version,omitempty"`
	Value      string `json:"value,omitempty"`
}
