package mapping

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/eidgate/eidgate/routing"
)

// DocType is the stable code of an identity document type. The code is part
// of the blinded index, so it never changes once documents are indexed.
type DocType string

// Document types.
const (
	CNResident       DocType = "cn-resident"
	CNPassport       DocType = "cn-passport"
	Passport         DocType = "passport"
	HKMOPermit       DocType = "hkmo-permit"
	TWPermit         DocType = "tw-permit"
	CNHKMOPass       DocType = "cn-hkmo-pass"
	HKMOTWResidence  DocType = "hkmotw-residence"
	ForeignPermanent DocType = "foreign-permanent"
)

// Types lists every document type in a stable order.
func Types() []DocType {
	return []DocType{CNResident, CNPassport, Passport, HKMOPermit, TWPermit, CNHKMOPass, HKMOTWResidence, ForeignPermanent}
}

// Known reports whether t is one of [Types].
func (t DocType) Known() bool {
	switch t {
	case CNResident, CNPassport, Passport, HKMOPermit, TWPermit, CNHKMOPass, HKMOTWResidence, ForeignPermanent:
		return true
	}
	return false
}

// Input is one document as received: the number as typed, scanned or
// imported, and for passports the issuing state. It is the document of
// the API's requests ({"type","number","country"}). Printed, it shows the
// number masked; only Number itself holds it in full.
type Input struct {
	Type    DocType `json:"type"`
	Number  string  `json:"number"`
	Country string  `json:"country,omitempty"` // passports only: ISO 3166-1 alpha-3 or ICAO special code
}

// String is the input with its number masked, for messages and logs.
func (in Input) String() string {
	s := string(in.Type) + ":" + Mask(fold(in.Number))
	if in.Country != "" {
		s += " (" + in.Country + ")"
	}
	return s
}

// Document is a validated, normalised identity document. Its zero value is
// not a document (see [Document.IsZero]). The number is held behind a pointer
// so that even a Document inside another value printed with %+v shows no
// digits; every formatting path shows the masked form.
type Document struct {
	d *docData
}

type docData struct {
	typ      DocType
	number   string // normalised
	country  string // normalised issuing state, passports only
	upgraded bool   // a 15-digit cn-resident number upgraded to 18
}

// Parse validates and normalises one document. now is the reference for
// "birth date not in the future" (the calendar date of now in its location).
// A rejection is always a *routing.Error with code invalid_document (see
// ReasonOf and MaskedOf).
func Parse(in Input, now time.Time) (Document, error) {
	if !in.Type.Known() {
		return Document{}, unknownType(in.Number)
	}
	if len(in.Number) > maxInputBytes {
		return Document{}, reject(in.Type, ReasonLength, in.Number, "the number is far too long")
	}
	if len(in.Country) > maxInputBytes {
		return Document{}, reject(in.Type, ReasonCountry, "", "the issuing state is far too long")
	}
	switch in.Type {
	case CNResident:
		return parseCNResident(in.Number, now)
	case CNPassport:
		return parseCNPassport(in.Number)
	case Passport:
		return parsePassport(in.Number, in.Country)
	case HKMOPermit:
		return parseHKMOPermit(in.Number)
	case TWPermit:
		return parseTWPermit(in.Number)
	case CNHKMOPass:
		return parseCNHKMOPass(in.Number)
	case HKMOTWResidence:
		return parseHKMOTWResidence(in.Number, now)
	case ForeignPermanent:
		return parseForeignPermanent(in.Number, now)
	}
	return Document{}, unknownType(in.Number)
}

// unknownType rejects an unknown type without echoing it: swapped arguments
// would put the number there.
func unknownType(number string) *routing.Error {
	if len(number) > maxInputBytes {
		number = number[:maxInputBytes]
	}
	return rejection("", ReasonType, Mask(fold(number)), "unknown document type")
}

// maxInputBytes bounds the work done on a single field of outside input.
const maxInputBytes = 256

func newDocument(t DocType, number, country string) Document {
	return Document{d: &docData{typ: t, number: number, country: country}}
}

// IsZero reports whether d is the zero Document rather than a parsed one.
func (d Document) IsZero() bool { return d.d == nil }

// Type is the document type.
func (d Document) Type() DocType {
	if d.d == nil {
		return ""
	}
	return d.d.typ
}

// Country is the normalised issuing state of a passport, "" for other types.
func (d Document) Country() string {
	if d.d == nil {
		return ""
	}
	return d.d.country
}

// Upgraded reports whether d was given as a 15-digit first-generation
// resident number and upgraded to 18 characters.
func (d Document) Upgraded() bool { return d.d != nil && d.d.upgraded }

// Equal reports whether d and o are the same normalised document (and so
// blind to the same index).
func (d Document) Equal(o Document) bool {
	if d.d == nil || o.d == nil {
		return d.d == o.d
	}
	return d.d.typ == o.d.typ && d.d.number == o.d.number && d.d.country == o.d.country
}

// RevealNormalized returns the full normalised number (for passports
// "USA:L898902C3"). It is the only way to read the number back: call it only
// where the full number is meant to be shown, such as an operator checking
// their own input, never for logs, errors or metrics.
func (d Document) RevealNormalized() string {
	if d.d == nil {
		return ""
	}
	if d.d.country != "" {
		return d.d.country + ":" + d.d.number
	}
	return d.d.number
}

// Mask returns the normalised number with all but a few leading and trailing
// characters replaced by "*" (for passports prefixed with the issuing state,
// which is not secret).
func (d Document) Mask() string {
	if d.d == nil {
		return ""
	}
	if d.d.country != "" {
		return d.d.country + ":" + Mask(d.d.number)
	}
	return Mask(d.d.number)
}

// String is the type and the masked number, e.g. cn-resident:1101**********002X.
func (d Document) String() string {
	if d.d == nil {
		return "<no document>"
	}
	return string(d.d.typ) + ":" + d.Mask()
}

// Format prints the masked form for every verb and flag, so %v, %+v, %#v,
// %s, %q and %x never reach the number.
func (d Document) Format(f fmt.State, verb rune) {
	s := d.String()
	switch verb {
	case 'q':
		fmt.Fprintf(f, "%q", s)
	default:
		_, _ = f.Write([]byte(s))
	}
}

// GoString is the masked form, for %#v through paths that skip Format.
func (d Document) GoString() string { return "mapping.Document(" + d.String() + ")" }

// LogValue makes slog record the type and masked number only.
func (d Document) LogValue() slog.Value {
	if d.d == nil {
		return slog.StringValue(d.String())
	}
	attrs := []slog.Attr{slog.String("type", string(d.d.typ)), slog.String("masked", d.Mask())}
	return slog.GroupValue(attrs...)
}

// MarshalJSON encodes the type and the masked number, never the full number:
// {"type":"cn-resident","masked":"1101**********002X"}.
func (d Document) MarshalJSON() ([]byte, error) {
	if d.d == nil {
		return []byte("null"), nil
	}
	return json.Marshal(struct {
		Type    DocType `json:"type"`
		Country string  `json:"country,omitempty"`
		Masked  string  `json:"masked"`
	}{d.d.typ, d.d.country, Mask(d.d.number)})
}
