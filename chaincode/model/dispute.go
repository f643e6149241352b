package model

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"slices"
)

// Dispute statuses: a resident raises a dispute (open), the department
// that made the access answers it (answered), an auditor records the
// outcome (closed). A closed dispute never changes again.
const (
	DisputeOpen     = "open"
	DisputeAnswered = "answered"
	DisputeClosed   = "closed"
)

// Dispute outcomes an auditor records.
const (
	DisputeUpheld    = "upheld"    // the access should not have happened
	DisputeDismissed = "dismissed" // the access was in order
)

// DisputeReasons are the reason categories a resident picks from.
var DisputeReasons = []string{"unexpected", "not_consented", "wrong_purpose", "unknown_department", "other"}

// DisputeIDPrefix starts every dispute id.
const DisputeIDPrefix = "dp-"

var accessIDRe = regexp.MustCompile(`^acc_[0-9a-f]{32}$`)

// ValidAccessID reports whether s is an access record id, "acc_" + 32 hex.
func ValidAccessID(s string) bool { return accessIDRe.MatchString(s) }

// Dispute is a resident's objection to one access recorded about them. It
// names the access record and carries the record's Merkle leaf hash and
// the anchored batch that commits to it, so anyone holding the record (or
// its inclusion proof) ties the dispute to the anchored access. Free text
// (the resident's words, the department's explanation, the auditor's
// note) stays off the chain: only its SHA-256 is here, so a copy shown
// later can be checked against it.
type Dispute struct {
	ID         string `json:"id"`
	AccessID   string `json:"access_id"`
	EID        string `json:"eid"`
	Department string `json:"department"` // the department that made the access
	BatchID    string `json:"batch_id"`
	LeafHash   string `json:"leaf_hash"`
	Reason     string `json:"reason"`
	TextDigest string `json:"text_digest,omitempty" metadata:",optional"`
	Status     string `json:"status"`
	RaisedAt   string `json:"raised_at"`
	RaisedBy   string `json:"raised_by"`

	AnswerDigest   string `json:"answer_digest,omitempty" metadata:",optional"`
	AnsweredAt     string `json:"answered_at,omitempty" metadata:",optional"`
	AnswerOfficial string `json:"answer_official,omitempty" metadata:",optional"` // keyed pseudonym

	Outcome       string `json:"outcome,omitempty" metadata:",optional"`
	OutcomeDigest string `json:"outcome_digest,omitempty" metadata:",optional"`
	ClosedAt      string `json:"closed_at,omitempty" metadata:",optional"`
	ClosedBy      string `json:"closed_by,omitempty" metadata:",optional"` // keyed pseudonym of the auditor

	UpdatedAt string `json:"updated_at"`
	TxID      string `json:"tx_id"`
}

// DisputeDraft is what the gateway records for a resident raising a
// dispute about one of their anchored access records.
type DisputeDraft struct {
	AccessID   string `json:"access_id"`
	EID        string `json:"eid"`
	Department string `json:"department"`
	BatchID    string `json:"batch_id"`
	LeafHash   string `json:"leaf_hash"`
	Reason     string `json:"reason"`
	TextDigest string `json:"text_digest,omitempty" metadata:",optional"`
}

// Validate checks the syntax of the draft (not whether the eID, the
// department and the batch exist).
func (d DisputeDraft) Validate() error {
	switch {
	case !ValidAccessID(d.AccessID):
		return Invalid("access_id must be acc_ and 32 lowercase hex digits")
	case !ValidDID(d.EID):
		return Invalid("eid must be a did:eidgate: identifier")
	case !ValidDepartmentID(d.Department):
		return Invalid("department is not a department id")
	case !ValidBatchID(d.BatchID):
		return Invalid("batch_id must match ^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
	case !ValidHex64(d.LeafHash):
		return Invalid("leaf_hash must be 64 lowercase hex digits")
	case !slices.Contains(DisputeReasons, d.Reason):
		return Invalid("reason must be one of unexpected, not_consented, wrong_purpose, unknown_department, other")
	case d.TextDigest != "" && !ValidHex64(d.TextDigest):
		return Invalid("text_digest must be 64 lowercase hex digits")
	}
	return nil
}

// DisputeAnswer is a department's explanation of a dispute about its
// access: only the explanation's digest and the official's pseudonym.
type DisputeAnswer struct {
	ID           string `json:"id"`
	Department   string `json:"department"`
	Official     string `json:"official"`
	AnswerDigest string `json:"answer_digest"`
}

// Validate checks the syntax of the answer.
func (a DisputeAnswer) Validate() error {
	switch {
	case !ValidDisputeID(a.ID):
		return Invalid("id is not a dispute id")
	case !ValidDepartmentID(a.Department):
		return Invalid("department is not a department id")
	case !ValidBatchID(a.Official):
		return Invalid("official must match ^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
	case !ValidHex64(a.AnswerDigest):
		return Invalid("answer_digest must be 64 lowercase hex digits")
	}
	return nil
}

// DisputeClosing is an auditor's outcome of a dispute.
type DisputeClosing struct {
	ID            string `json:"id"`
	Outcome       string `json:"outcome"`
	Official      string `json:"official"`
	OutcomeDigest string `json:"outcome_digest"`
}

// Validate checks the syntax of the closing.
func (c DisputeClosing) Validate() error {
	switch {
	case !ValidDisputeID(c.ID):
		return Invalid("id is not a dispute id")
	case c.Outcome != DisputeUpheld && c.Outcome != DisputeDismissed:
		return Invalid("outcome must be upheld or dismissed")
	case !ValidBatchID(c.Official):
		return Invalid("official must match ^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
	case !ValidHex64(c.OutcomeDigest):
		return Invalid("outcome_digest must be 64 lowercase hex digits")
	}
	return nil
}

// DeriveDisputeID returns the dispute id minted by transaction txID:
// "dp-" + hex of the first 12 bytes of SHA-256("dispute" 0x00 txID).
func DeriveDisputeID(txID string) string {
	sum := sha256.Sum256([]byte("dispute\x00" + txID))
	return DisputeIDPrefix + hex.EncodeToString(sum[:12])
}

var disputeIDRe = regexp.MustCompile(`^dp-[0-9a-f]{24}$`)

// ValidDisputeID reports whether s is "dp-" + 24 lowercase hex.
func ValidDisputeID(s string) bool { return disputeIDRe.MatchString(s) }

// TextDigest is the digest of a dispute's free text kept off the chain:
// hex SHA-256 of its UTF-8 bytes.
func TextDigest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// Dispute functions of the contract.
const (
	FnRaiseDispute             = "RaiseDispute"
	FnAnswerDispute            = "AnswerDispute"
	FnCloseDispute             = "CloseDispute"
	FnGetDispute               = "GetDispute"
	FnListDisputesByEID        = "ListDisputesByEID"
	FnListDisputesByDepartment = "ListDisputesByDepartment"
)

// KindDispute marks a dispute in a change set (ID, EID, Department); its
// operations are OpRaised, OpAnswered and OpClosed.
const (
	KindDispute = "dispute"
	OpRaised    = "raised"
	OpAnswered  = "answered"
	OpClosed    = "closed"
)
