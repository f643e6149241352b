package chaincode

// Composite key object types. Values are deterministic JSON of the model
// types, except the reverse indexes: idx and acct hold the eID as text, and
// consent~eid / consent~req hold a single 0x00 byte (an empty value would
// delete the key).
const (
	objDepartment      = "dept"         // (id) → Department
	objDataType        = "dtype"        // (code) → DataType
	objEID             = "eid"          // (did) → Identity
	objIndex           = "idx"          // (key version, value) → did
	objLink            = "link"         // (did, department) → AccountLink
	objAccount         = "acct"         // (department, account hash) → did
	objRoute           = "route"        // (did, data type, provider) → RouteEntry
	objConsent         = "consent"      // (id) → Consent
	objConsentByEID    = "consent~eid"  // (did, id) → 0x00
	objConsentByReq    = "consent~req"  // (requester, id) → 0x00
	objAnchor          = "anchor"       // (batch id) → AccessAnchor
	objStatusList      = "statuslist"   // (issuer, list id) → StatusListAnchor
	objPasskey         = "passkey"      // (did, key id) → Passkey
	objRule            = "rule"         // (id) → StandingRule
	objRuleByEID       = "rule~eid"     // (did, id) → 0x00
	objRuleApproval    = "rule~sig"     // (statement digest) → rule id: one rule per signature
	objUses            = "uses"         // (consent or rule id) → useCount: the uses anchored batches counted
	objDispute         = "dispute"      // (id) → Dispute
	objDisputeByEID    = "dispute~eid"  // (did, id) → 0x00
	objDisputeByDept   = "dispute~dept" // (department, id) → 0x00
	objDisputeByAccess = "dispute~acc"  // (access id) → id of its latest dispute
	objRep             = "rep"          // (id) → Representation
	objRepByWard       = "rep~ward"     // (ward did, id) → 0x00
	objRepByGuardian   = "rep~guardian" // (guardian did, id) → 0x00
	indexMarker        = "\x00"
	maxMergeChainSteps = 64
)
