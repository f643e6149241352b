package model

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
)

// DIDPrefix starts every eID.
const DIDPrefix = "did:eidgate:"

// eID statuses.
const (
	EIDActive      = "active"
	EIDDeactivated = "deactivated"
	EIDMerged      = "merged"
)

// Outcomes of one item of a bulk eID creation.
const (
	OutcomeCreated  = "created"  // a new eID now holds the item's indexes
	OutcomeExists   = "exists"   // every index already maps to the one eID returned
	OutcomeConflict = "conflict" // the indexes map to several eIDs, partly to none, or repeat in the batch
)

// BlindedIndex is a key-versioned HMAC-SHA256 of a normalised identity
// document (type and number). No document number ever reaches the ledger.
type BlindedIndex struct {
	KeyVersion string `json:"key_version"`
	Value      string `json:"value"` // 64 lowercase hex
}

// Validate checks the syntax of the index; field names the argument in errors.
func (b BlindedIndex) Validate(field string) error {
	if !ValidKeyVersion(b.KeyVersion) {
		return Invalid("%s.key_version must match ^[a-z0-9][a-z0-9._-]{0,31}$", field)
	}
	if !ValidHex64(b.Value) {
		return Invalid("%s.value must be 64 lowercase hex digits", field)
	}
	return nil
}

// String renders the index with its value masked, for messages.
func (b BlindedIndex) String() string { return b.KeyVersion + ":" + Mask(b.Value) }

// Identity is a resident's eID record.
type Identity struct {
	ID                 string         `json:"id"` // did:eidgate:<32 hex>
	Status             string         `json:"status"`
	MergedInto         string         `json:"merged_into,omitempty" metadata:",optional"`
	MergedFrom         []string       `json:"merged_from,omitempty" metadata:",optional"`
	MergeReason        string         `json:"merge_reason,omitempty" metadata:",optional"`
	DeactivationReason string         `json:"deactivation_reason,omitempty" metadata:",optional"`
	Indexes            []BlindedIndex `json:"indexes,omitempty" metadata:",optional"`
	CreatedAt          string         `json:"created_at"`
	UpdatedAt          string         `json:"updated_at"`
	TxID               string         `json:"tx_id"` // the transaction that last changed the record
}

// DeriveEID returns the eID minted by item of transaction txID:
// did:eidgate: + hex of the first 16 bytes of SHA-256("eid" 0x00 txID 0x00 item).
// It depends on the transaction only, never on document data.
func DeriveEID(txID string, item int) string {
	sum := sha256.Sum256([]byte("eid\x00" + txID + "\x00" + strconv.Itoa(item)))
	return DIDPrefix + hex.EncodeToString(sum[:16])
}

// ValidDID reports whether s is an eID: did:eidgate:<32 lowercase hex>.
func ValidDID(s string) bool {
	rest, ok := strings.CutPrefix(s, DIDPrefix)
	if !ok || len(rest) != 32 {
		return false
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// HasIndex reports whether the identity holds the index.
func (id Identity) HasIndex(b BlindedIndex) bool {
	for _, x := range id.Indexes {
		if x == b {
			return true
		}
	}
	return false
}

// EIDRequest is one item of a bulk eID creation: the caller's reference
// (e.g. a row number of the import file) and the resident's indexes.
type EIDRequest struct {
	Ref     string         `json:"ref"`
	Indexes []BlindedIndex `json:"indexes,omitempty" metadata:",optional"`
}

// EIDOutcome reports what happened to one EIDRequest.
type EIDOutcome struct {
	Ref     string `json:"ref"`
	EID     string `json:"eid,omitempty" metadata:",optional"`
	Outcome string `json:"outcome"`
	Reason  string `json:"reason,omitempty" metadata:",optional"`
}

// DID resolution (W3C DID Core / DID Resolution).

// DIDContext is the JSON-LD context of a DID document.
const DIDContext = "https://www.w3.org/ns/did/v1"

// DIDContentType is the media type of a resolved DID document.
const DIDContentType = "application/did+ld+json"

// DIDDocument is the DID document of an eID. The platform controls the
// record on the resident's behalf; the DID itself is named as controller.
// The resident's passkeys are its verification methods (see passkey.go);
// an eID without passkeys has none.
//
// An issuer's DID document (Department.IssuerResolution) lists the
// department's keys as verification methods and assertion methods.
type DIDDocument struct {
	Context            []string             `json:"@context"`
	ID                 string               `json:"id"`
	Controller         string               `json:"controller"`
	AlsoKnownAs        []string             `json:"alsoKnownAs,omitempty" metadata:",optional"`
	VerificationMethod []VerificationMethod `json:"verificationMethod,omitempty" metadata:",optional"`
	Authentication     []string             `json:"authentication,omitempty" metadata:",optional"`
	AssertionMethod    []string             `json:"assertionMethod,omitempty" metadata:",optional"`
}

// DIDDocumentMetadata describes the record behind a DID document.
type DIDDocumentMetadata struct {
	Created     string `json:"created"`
	Updated     string `json:"updated"`
	Deactivated bool   `json:"deactivated"`
	CanonicalID string `json:"canonicalId,omitempty" metadata:",optional"` // the surviving eID of a merged one
	VersionID   string `json:"versionId"`                                  // the transaction id of the last change
	// KeyHistory is the lifecycle of every key of an issuer DID.
	KeyHistory []KeyLifecycle `json:"keyHistory,omitempty" metadata:",optional"`
}

// DIDResolutionMetadata describes the resolution itself.
type DIDResolutionMetadata struct {
	ContentType string `json:"contentType"`
}

// DIDResolution is the result of resolving an eID.
type DIDResolution struct {
	DIDDocument           DIDDocument           `json:"didDocument"`
	DIDDocumentMetadata   DIDDocumentMetadata   `json:"didDocumentMetadata"`
	DIDResolutionMetadata DIDResolutionMetadata `json:"didResolutionMetadata"`
}

// Resolution renders the identity as a DID resolution result. canonical is
// the end of the merge chain (the identity's own id unless it is merged);
// a merged or deactivated eID resolves as deactivated. Every passkey ever
// registered is a verification method (so what a retired key signed while
// active still verifies); active ones are listed under authentication and
// assertionMethod, and the metadata gives each key's lifecycle. It reveals
// no index.
func (id Identity) Resolution(canonical string, passkeys []Passkey) DIDResolution {
	doc := DIDDocument{
		Context:    []string{DIDContext},
		ID:         id.ID,
		Controller: id.ID,
	}
	var history []KeyLifecycle
	if len(passkeys) > 0 {
		doc.Context = []string{IssuerDIDContext}
	}
	for _, p := range passkeys {
		doc.VerificationMethod = append(doc.VerificationMethod,
			VerificationMethod{ID: p.ID, Type: VerificationMethodJWK, Controller: id.ID, PublicKeyJWK: p.PublicKeyJWK})
		if p.Status == PasskeyActive {
			doc.Authentication = append(doc.Authentication, p.ID)
			doc.AssertionMethod = append(doc.AssertionMethod, p.ID)
		}
		history = append(history, KeyLifecycle{ID: p.ID, Status: p.Status, ValidFrom: p.RegisteredAt,
			RetiredAt: p.RetiredAt, RetiredReason: p.RetiredReason})
	}
	if len(id.MergedFrom) > 0 {
		doc.AlsoKnownAs = append([]string(nil), id.MergedFrom...)
	}
	meta := DIDDocumentMetadata{
		Created:     id.CreatedAt,
		Updated:     id.UpdatedAt,
		Deactivated: id.Status != EIDActive,
		VersionID:   id.TxID,
		KeyHistory:  history,
	}
	if id.Status == EIDMerged && canonical != "" && canonical != id.ID {
		meta.CanonicalID = canonical
	}
	return DIDResolution{
		DIDDocument:           doc,
		DIDDocumentMetadata:   meta,
		DIDResolutionMetadata: DIDResolutionMetadata{ContentType: DIDContentType},
	}
}
