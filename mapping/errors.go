package mapping

import (
	"errors"

	"github.com/eidgate/eidgate/routing"
)

// Reason is the stable code of a rejection; callers switch on it and the
// gateway returns it to API clients (details.reason).
type Reason string

// Rejection reasons.
const (
	ReasonType       Reason = "type"       // unknown document type
	ReasonLength     Reason = "length"     // wrong number of characters
	ReasonCharacters Reason = "characters" // a character that this type never uses
	ReasonFormat     Reason = "format"     // right characters, wrong layout (prefix, letter position, padding)
	ReasonChecksum   Reason = "checksum"   // check character or MRZ check digit does not match
	ReasonDate       Reason = "date"       // embedded birth date not a real date, in the future or before 1900
	ReasonRegion     Reason = "region"     // embedded province / region code not plausible
	ReasonCountry    Reason = "country"    // issuing state or nationality missing or unknown
)

// CodeInvalidDocument is the code of every rejected document.
const CodeInvalidDocument = "invalid_document"

// A rejected document is a *routing.Error of kind invalid with code
// invalid_document. Its Field is the input field at fault ("type",
// "number" or "country"); its Message says what is wrong without the
// number, not even masked; its Details hold the reason ("reason"), the
// document type when it is known ("type") and the rejected input,
// normalised as far as possible and masked ("masked").
const (
	detailReason = "reason"
	detailType   = "type"
	detailMasked = "masked"
)

func reject(t DocType, r Reason, folded, msg string) *routing.Error {
	return rejection(t, r, Mask(folded), msg)
}

func rejection(t DocType, r Reason, masked, msg string) *routing.Error {
	field := "number"
	switch r {
	case ReasonType:
		field = "type"
	case ReasonCountry:
		field = "country"
	}
	e := &routing.Error{Kind: routing.KindInvalid, Code: CodeInvalidDocument, Op: "mapping.Parse", Field: field,
		Message: msg, Details: map[string]string{detailReason: string(r), detailMasked: masked}}
	if t != "" {
		e.Details[detailType] = string(t)
	}
	return e
}

// rejectionOf returns the rejection in err's chain, nil when there is none.
func rejectionOf(err error) *routing.Error {
	var e *routing.Error
	for err != nil {
		if !errors.As(err, &e) {
			return nil
		}
		if e.Code == CodeInvalidDocument && e.Details[detailReason] != "" {
			return e
		}
		err = e.Err
	}
	return nil
}

// ReasonOf returns the reason of a rejected document in err's chain, ""
// otherwise.
func ReasonOf(err error) Reason {
	if e := rejectionOf(err); e != nil {
		return Reason(e.Details[detailReason])
	}
	return ""
}

// MaskedOf returns the rejected input of a rejected document in err's
// chain, normalised as far as possible and masked; "" otherwise.
func MaskedOf(err error) string {
	if e := rejectionOf(err); e != nil {
		return e.Details[detailMasked]
	}
	return ""
}

// TypeOf returns the document type of a rejected document in err's chain,
// "" when the type itself was unknown or err is no rejection.
func TypeOf(err error) DocType {
	if e := rejectionOf(err); e != nil {
		return DocType(e.Details[detailType])
	}
	return ""
}
