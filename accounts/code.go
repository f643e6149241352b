package accounts

import (
	"crypto/rand"
	"errors"
	"strings"
)

// crockford is Crockford's base32 alphabet: no I, L, O or U, so a code read
// aloud or copied by hand has no look-alikes.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// ActivationCodeLen is the number of code characters: 16 × 5 = 80 bits.
const ActivationCodeLen = 16

// newActivationCode returns a fresh code as shown to the resident
// ("7K3M-Q9TW-…") and its canonical form (what is hashed).
func newActivationCode() (display, canonical string, err error) {
	var b [10]byte // 80 bits, exactly 16 characters
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", err
	}
	var sb strings.Builder
	var acc uint64
	bits := 0
	for _, x := range b {
		acc = acc<<8 | uint64(x)
		bits += 8
		for bits >= 5 {
			bits -= 5
			sb.WriteByte(crockford[(acc>>uint(bits))&31])
		}
	}
	canonical = sb.String()
	return formatActivationCode(canonical), canonical, nil
}

func formatActivationCode(c string) string {
	var sb strings.Builder
	for i := 0; i < len(c); i += 4 {
		if i > 0 {
			sb.WriteByte('-')
		}
		sb.WriteString(c[i:min(i+4, len(c))])
	}
	return sb.String()
}

var errCodeSyntax = errors.New("not an activation code")

// ParseActivationCode returns the canonical form of a code as typed:
// case-insensitive, hyphens and spaces ignored, and the look-alikes O, I
// and L read as 0, 1 and 1, as Crockford's base32 prescribes.
func ParseActivationCode(s string) (string, error) {
	if len(s) > 64 {
		return "", errCodeSyntax
	}
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '-' || c == ' ':
			continue
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		}
		switch c {
		case 'O':
			c = '0'
		case 'I', 'L':
			c = '1'
		}
		if strings.IndexByte(crockford, c) < 0 {
			return "", errCodeSyntax
		}
		sb.WriteByte(c)
	}
	if sb.Len() != ActivationCodeLen {
		return "", errCodeSyntax
	}
	return sb.String(), nil
}
