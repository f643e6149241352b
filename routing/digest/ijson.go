package digest

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf16"
)

// checkIJSON walks a document already known to be valid JSON and refuses
// what RFC 7493 (I-JSON) forbids and RFC 8785 canonicalisation would
// otherwise change without a word: unpaired surrogate escapes and numbers
// that do not survive the trip through an IEEE 754 double. Duplicate keys are
// left to the canonicaliser, which refuses them.
func checkIJSON(doc []byte) error {
	for i := 0; i < len(doc); {
		switch c := doc[i]; {
		case c == '"':
			end, err := checkString(doc, i+1)
			if err != nil {
				return err
			}
			i = end
		case c == '-' || (c >= '0' && c <= '9'):
			j := i + 1
			for j < len(doc) && isNumberByte(doc[j]) {
				j++
			}
			if !exactInDouble(string(doc[i:j])) {
				return errorf(CodeInvalidJSON, "record has a number at byte %d that an IEEE 754 double cannot hold exactly; send it as a string", i)
			}
			i = j
		default:
			i++
		}
	}
	return nil
}

func isNumberByte(c byte) bool {
	return (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-'
}

// checkString scans a string body starting after its opening quote and
// returns the index after the closing quote.
func checkString(doc []byte, i int) (int, error) {
	for i < len(doc) {
		switch doc[i] {
		case '"':
			return i + 1, nil
		case '\\':
			if doc[i+1] != 'u' {
				i += 2
				continue
			}
			r := hex4(doc[i+2 : i+6])
			start := i
			i += 6
			if !utf16.IsSurrogate(r) {
				continue
			}
			if r >= 0xDC00 || i+6 > len(doc) || doc[i] != '\\' || doc[i+1] != 'u' {
				return 0, errorf(CodeInvalidJSON, "record has an unpaired surrogate escape at byte %d", start)
			}
			if low := hex4(doc[i+2 : i+6]); low < 0xDC00 || low > 0xDFFF {
				return 0, errorf(CodeInvalidJSON, "record has an unpaired surrogate escape at byte %d", start)
			}
			i += 6
		default:
			i++
		}
	}
	return i, nil
}

// hex4 decodes four hex digits (valid JSON guarantees them after \u).
func hex4(b []byte) rune {
	var r rune
	for _, c := range b {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		}
	}
	return r
}

// exactInDouble reports whether the JSON number literal has exactly the value
// of the double nearest to it, so that canonical JSON (which prints that
// double) still denotes the number the record held.
func exactInDouble(literal string) bool {
	f, err := strconv.ParseFloat(literal, 64)
	if err != nil || math.IsInf(f, 0) {
		return false
	}
	want, ok := parseDecimal(literal)
	if !ok {
		return false
	}
	got, ok := parseDecimal(strconv.FormatFloat(f, 'e', -1, 64))
	return ok && want == got
}

// decimal is a number as 0.digits × 10^exp with no leading or trailing zero
// digits; zero is the zero value.
type decimal struct {
	neg    bool
	digits string
	exp    int64
}

// parseDecimal reads a JSON number literal (or Go's 'e' float format)
// without rounding.
func parseDecimal(s string) (decimal, bool) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	mantissa, expPart := s, ""
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mantissa, expPart = s[:i], s[i+1:]
	}
	intPart, frac, _ := strings.Cut(mantissa, ".")
	digits := intPart + frac
	significant := strings.TrimLeft(digits, "0")
	if significant == "" {
		return decimal{}, true // zero, whatever its sign or exponent
	}
	var exp int64
	if expPart != "" {
		var err error
		exp, err = strconv.ParseInt(expPart, 10, 64)
		// Far beyond any double's exponent; ParseFloat has already refused
		// or flushed such a number, so this only guards the arithmetic.
		if err != nil || exp > 1<<32 || exp < -(1<<32) {
			return decimal{}, false
		}
	}
	exp += int64(len(intPart)) - int64(len(digits)-len(significant))
	return decimal{neg: neg, digits: strings.TrimRight(significant, "0"), exp: exp}, true
}
