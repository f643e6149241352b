package mapping

import "errors"

// Reason is the stable code of a rejection; callers switch on it and the
// gateway returns it to API clients.
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

// DocError is a rejected document. Message is safe to show and to log: it
// never contains the number, only Masked does, in masked form.
type DocError struct {
	Type    DocType // empty when the type itself was unknown
	Reason  Reason
	Message string
	Masked  string // the rejected input, normalised as far as possible and masked
}

func (e *DocError) Error() string {
	s := string(e.Type)
	if s == "" {
		s = "document"
	}
	if e.Masked != "" {
		s += " " + e.Masked
	}
	return s + ": " + string(e.Reason) + ": " + e.Message
}

// ErrorKind classifies every rejection as invalid input; routing.Wrap reads
// it so the gateway answers 400 without importing this package.
func (e *DocError) ErrorKind() string { return "invalid" }

// PublicMessage is the message for an API caller: the type and the reason
// in words, without even the masked number.
func (e *DocError) PublicMessage() string {
	t := string(e.Type)
	if t == "" {
		t = "document"
	}
	return t + ": " + e.Message
}

// ReasonOf returns the reason of a *DocError in err's chain, "" otherwise.
func ReasonOf(err error) Reason {
	var de *DocError
	if errors.As(err, &de) {
		return de.Reason
	}
	return ""
}

func reject(t DocType, r Reason, folded, msg string) *DocError {
	return &DocError{Type: t, Reason: r, Message: msg, Masked: Mask(folded)}
}
