package model

// Status purposes of a Bitstring Status List (W3C Bitstring Status List
// v1.0): a revoked credential never becomes valid again, a suspended one
// may be reinstated.
const (
	StatusRevocation = "revocation"
	StatusSuspension = "suspension"
)

// StatusListAnchor commits one version of a department's status list
// credential to the ledger: its SHA-256 digest, so every verifier can check
// that the list it was served is the one the ledger names, and the event of
// the anchoring tells every gateway replica to drop its cached copy.
type StatusListAnchor struct {
	Issuer     string `json:"issuer"`  // department id
	ListID     string `json:"list_id"` // e.g. "r1"; unique per issuer
	Purpose    string `json:"purpose"` // revocation | suspension
	Version    uint64 `json:"version"` // increases with every change
	Digest     string `json:"digest"`  // "sha256:" + hex of the status list credential as served
	Size       uint64 `json:"size"`    // entries in the list
	AnchoredAt string `json:"anchored_at,omitempty" metadata:",optional"`
	TxID       string `json:"tx_id,omitempty" metadata:",optional"`
	Submitter  string `json:"submitter,omitempty" metadata:",optional"`
}

// MinStatusListSize is the herd-privacy lower bound of the specification:
// 131,072 entries (16 KiB of bits).
const MinStatusListSize = 131072

// MaxStatusListSize bounds a list (1 MiB of bits).
const MaxStatusListSize = 8 << 20

// Validate checks the fields the caller supplies.
func (a StatusListAnchor) Validate() error {
	if !ValidDepartmentID(a.Issuer) {
		return Invalid("issuer is not a department id")
	}
	if !ValidKID(a.ListID) {
		return Invalid("list_id must match ^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
	}
	if a.Purpose != StatusRevocation && a.Purpose != StatusSuspension {
		return Invalid("purpose must be %q or %q", StatusRevocation, StatusSuspension)
	}
	if a.Version == 0 {
		return Invalid("version must be at least 1")
	}
	if !ValidDigest(a.Digest) {
		return Invalid("digest must be sha256: followed by 64 lowercase hex digits")
	}
	if a.Size < MinStatusListSize || a.Size > MaxStatusListSize || a.Size%8 != 0 {
		return Invalid("size must be a multiple of 8 from %d to %d", MinStatusListSize, MaxStatusListSize)
	}
	return nil
}
