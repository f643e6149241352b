package model

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"slices"
	"time"
)

// Representation: a guardian acts for a resident (the ward).
//
// An officer registers the relation with its evidence; the ledger keeps it
// with a validity window. A parent's relation to a minor ends at the
// ward's 18th birthday without anyone acting: the window's end is capped
// at that day when the relation is registered, and every use checks the
// window against the transaction time. Nothing of the evidence document
// is on the ledger in plain text: only its kind, a keyed hash of its
// reference and the reference masked.

// Representation kinds.
const (
	// RepresentationParent: a parent of a minor ward; needs the ward's
	// birth date and ends at the ward's 18th birthday.
	RepresentationParent = "parent"
	// RepresentationGuardian: a guardian appointed by a court or by law
	// (an adult ward without full capacity); needs an end date.
	RepresentationGuardian = "guardian"
	// RepresentationAgent: a legal representative the ward authorised
	// (a notarised power of attorney); needs an end date.
	RepresentationAgent = "legal_representative"
)

// Representation statuses. A relation past its window stays active on
// the ledger but is no longer valid (Representation.ValidAt).
const (
	RepresentationActive = "active"
	RepresentationEnded  = "ended"
)

// RepresentationIDPrefix starts every relation id.
const RepresentationIDPrefix = "rp-"

// AdultAge is the age at which a minor's relation ends.
const AdultAge = 18

// Reasons a relation is not valid at a time (Representation.ValidAt); the
// text after FORBIDDEN: of a chaincode refusal starts with one.
const (
	RepresentationNotYetValid = "representation_not_yet_valid"
	RepresentationExpired     = "representation_expired"
	RepresentationEndedReason = "representation_ended"
)

// birthZone is the zone of a birth date's calendar day: GB 11643 numbers
// carry the date of birth in China Standard Time, so a minor's relation
// ends at 00:00 UTC+8 of the 18th birthday.
var birthZone = time.FixedZone("UTC+8", 8*60*60)

// Representation is the right of Guardian to act for Ward.
type Representation struct {
	ID            string                 `json:"id"`
	Ward          string                 `json:"ward"`
	Guardian      string                 `json:"guardian"`
	Kind          string                 `json:"kind"`
	Evidence      RepresentationEvidence `json:"evidence"`
	WardBirthDate string                 `json:"ward_birth_date,omitempty" metadata:",optional"` // YYYY-MM-DD, parents only
	ValidFrom     string                 `json:"valid_from"`
	ValidUntil    string                 `json:"valid_until"`
	Status        string                 `json:"status"`
	RegisteredAt  string                 `json:"registered_at"`
	RegisteredBy  string                 `json:"registered_by"` // the officer, as the gateway names them
	EndedAt       string                 `json:"ended_at,omitempty" metadata:",optional"`
	EndedBy       string                 `json:"ended_by,omitempty" metadata:",optional"`
	EndReason     string                 `json:"end_reason,omitempty" metadata:",optional"`
	UpdatedAt     string                 `json:"updated_at"`
	TxID          string                 `json:"tx_id"`
}

// RepresentationEvidence is what the officer saw: the kind of document and
// its reference, kept as a keyed hash (HashedRef, "<key version>:<64 hex>")
// and masked (MaskedRef), never in plain text.
type RepresentationEvidence struct {
	Kind      string `json:"kind"`
	HashedRef string `json:"hashed_ref"`
	MaskedRef string `json:"masked_ref"`
}

// Evidence kinds.
var evidenceKinds = []string{"birth_certificate", "household_register", "court_order", "guardianship_certificate", "notarised_authorisation"}

// EvidenceKinds lists the evidence kinds an officer may record.
func EvidenceKinds() []string { return append([]string(nil), evidenceKinds...) }

// RepresentationKinds lists the relation kinds.
func RepresentationKinds() []string {
	return []string{RepresentationParent, RepresentationGuardian, RepresentationAgent}
}

// RepresentationDraft is what an officer registers. ValidFrom may be empty
// (from the transaction time); ValidUntil may be empty for a parent (the
// ward's 18th birthday).
type RepresentationDraft struct {
	Ward          string                 `json:"ward"`
	Guardian      string                 `json:"guardian"`
	Kind          string                 `json:"kind"`
	Evidence      RepresentationEvidence `json:"evidence"`
	WardBirthDate string                 `json:"ward_birth_date,omitempty" metadata:",optional"`
	ValidFrom     string                 `json:"valid_from,omitempty" metadata:",optional"`
	ValidUntil    string                 `json:"valid_until,omitempty" metadata:",optional"`
	Officer       string                 `json:"officer"`
}

var (
	hashedRefRe = regexp.MustCompile(`^v[0-9]{1,6}:[0-9a-f]{64}$`)
	maskedRefRe = regexp.MustCompile(`^[A-Za-z0-9*-]{1,64}$`)
	officerRe   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.@:-]{0,127}$`)
)

// Validate checks the draft's syntax (not whether the eIDs exist). A
// relation to oneself is a conflict, not a syntax error.
func (d RepresentationDraft) Validate() error {
	switch {
	case !ValidDID(d.Ward):
		return Invalid("ward must be a did:eidgate: identifier")
	case !ValidDID(d.Guardian):
		return Invalid("guardian must be a did:eidgate: identifier")
	case d.Ward == d.Guardian:
		return Conflict("representation_self: a resident cannot be their own guardian")
	case !slices.Contains(RepresentationKinds(), d.Kind):
		return Invalid("kind must be one of parent, guardian, legal_representative")
	case !slices.Contains(evidenceKinds, d.Evidence.Kind):
		return Invalid("evidence.kind is not a known kind of evidence")
	case !hashedRefRe.MatchString(d.Evidence.HashedRef):
		return Invalid("evidence.hashed_ref must be <key version>:<64 hex>")
	case !maskedRefRe.MatchString(d.Evidence.MaskedRef):
		return Invalid("evidence.masked_ref must be 1 to 64 letters, digits, '-' or '*'")
	}
	if err := d.CheckOfficer(d.Officer); err != nil {
		return err
	}
	if d.Kind == RepresentationParent {
		if _, err := ParseBirthDate(d.WardBirthDate); err != nil {
			return Invalid("ward_birth_date must be a date YYYY-MM-DD for a parent's relation")
		}
	} else {
		if d.WardBirthDate != "" {
			return Invalid("ward_birth_date is recorded for a parent's relation only")
		}
		if d.ValidUntil == "" {
			return Invalid("valid_until is required for a guardian or a legal representative")
		}
	}
	if d.ValidUntil == "" {
		if d.ValidFrom != "" {
			if _, err := ParseTime(d.ValidFrom); err != nil {
				return Invalid("valid_from must be an RFC 3339 time")
			}
		}
		return nil
	}
	return checkWindow(d.ValidFrom, d.ValidUntil)
}

// CheckOfficer checks the name of the officer who registers or ends a
// relation.
func (RepresentationDraft) CheckOfficer(officer string) error {
	if !officerRe.MatchString(officer) {
		return Invalid("officer must name the officer who acts")
	}
	return nil
}

// ParseBirthDate reads a YYYY-MM-DD birth date.
func ParseBirthDate(s string) (time.Time, error) {
	return time.ParseInLocation("2006-01-02", s, birthZone)
}

// AdultFrom returns when a ward born on birthDate (YYYY-MM-DD) comes of
// age: 00:00 UTC+8 of the 18th birthday (1 March for 29 February).
func AdultFrom(birthDate string) (time.Time, error) {
	b, err := ParseBirthDate(birthDate)
	if err != nil {
		return time.Time{}, err
	}
	return b.AddDate(AdultAge, 0, 0), nil
}

// Window returns the relation's window as the ledger records it for a
// draft registered at now: from ValidFrom (or now); until ValidUntil,
// for a parent capped at the ward's coming of age (or that day when no
// end is given).
func (d RepresentationDraft) Window(now time.Time) (from, until time.Time, err error) {
	from = now
	if d.ValidFrom != "" {
		if from, err = ParseTime(d.ValidFrom); err != nil {
			return from, until, Invalid("valid_from must be an RFC 3339 time")
		}
	}
	if d.ValidUntil != "" {
		if until, err = ParseTime(d.ValidUntil); err != nil {
			return from, until, Invalid("valid_until must be an RFC 3339 time")
		}
	}
	if d.Kind == RepresentationParent {
		adult, err := AdultFrom(d.WardBirthDate)
		if err != nil {
			return from, until, Invalid("ward_birth_date must be a date YYYY-MM-DD")
		}
		if !adult.After(now) {
			return from, until, Conflict("representation_adult_ward: the ward is %d or older; a parent's relation needs a minor", AdultAge)
		}
		if until.IsZero() || adult.Before(until) {
			until = adult
		}
	}
	if !until.After(now) || !until.After(from) {
		return from, until, Invalid("valid_until must be in the future and after valid_from")
	}
	return from.UTC(), until.UTC(), nil
}

// ValidAt reports whether the relation lets its guardian act for the ward
// at time at, and if not, why (a Representation* reason).
func (r Representation) ValidAt(at time.Time) (bool, string) {
	if r.Status != RepresentationActive {
		return false, RepresentationEndedReason
	}
	from, err1 := ParseTime(r.ValidFrom)
	until, err2 := ParseTime(r.ValidUntil)
	switch {
	case err1 != nil || err2 != nil:
		return false, RepresentationExpired
	case at.Before(from):
		return false, RepresentationNotYetValid
	case !at.Before(until):
		return false, RepresentationExpired
	}
	if r.Kind == RepresentationParent {
		if adult, err := AdultFrom(r.WardBirthDate); err != nil || !at.Before(adult) {
			return false, RepresentationExpired
		}
	}
	return true, ""
}

// Overlaps reports whether the relation's window meets [from, until) and
// it has not ended.
func (r Representation) Overlaps(from, until time.Time) bool {
	if r.Status != RepresentationActive {
		return false
	}
	f, err1 := ParseTime(r.ValidFrom)
	u, err2 := ParseTime(r.ValidUntil)
	if err1 != nil || err2 != nil {
		return true
	}
	return f.Before(until) && from.Before(u)
}

// DeriveRepresentationID returns the relation id minted by transaction
// txID: "rp-" + hex of the first 12 bytes of SHA-256("representation" 0x00 txID).
func DeriveRepresentationID(txID string) string {
	sum := sha256.Sum256([]byte("representation\x00" + txID))
	return RepresentationIDPrefix + hex.EncodeToString(sum[:12])
}

// ValidRepresentationID reports whether s is "rp-" + 24 lowercase hex.
func ValidRepresentationID(s string) bool { return representationIDRe.MatchString(s) }

var representationIDRe = regexp.MustCompile(`^rp-[0-9a-f]{24}$`)
