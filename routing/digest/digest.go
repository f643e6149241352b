// Package digest computes the record digests that make up a resident's data
// route: digest = SHA-256(salt ‖ JCS(record)), printed as "sha256:" followed
// by 64 lowercase hex digits.
//
// JCS is RFC 8785 canonical JSON, so a department and the gateway agree on a
// digest however the record's whitespace or key order differ. Canonical JSON
// is only a faithful fingerprint of I-JSON (RFC 7493), so records are checked
// for it first and anything that canonicalisation would silently alter is
// refused: invalid UTF-8, unpaired surrogate escapes, duplicate keys, and
// numbers an IEEE 754 double cannot hold exactly (a 17-digit account number
// sent as a JSON number would otherwise share a digest with its neighbour).
//
// The salt (16 to 64 random bytes, base64url without padding in transport)
// keeps a digest on the chain from confirming a guessed record.
//
// Error messages never quote record content.
package digest

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/gowebpki/jcs"
)

// Prefix starts every digest string.
const Prefix = "sha256:"

// Salt sizes in bytes.
const (
	MinSaltSize     = 16
	MaxSaltSize     = 64
	DefaultSaltSize = 32
)

// NewSalt returns DefaultSaltSize bytes from the system's secure random
// source.
func NewSalt() []byte {
	salt := make([]byte, DefaultSaltSize)
	// crypto/rand.Read never fails; on a broken system it crashes the
	// program rather than return predictable bytes.
	_, _ = rand.Read(salt)
	return salt
}

// EncodeSalt returns the transport form of a salt: base64url without padding.
func EncodeSalt(salt []byte) string { return base64.RawURLEncoding.EncodeToString(salt) }

// DecodeSalt reads the transport form of a salt and checks its size.
func DecodeSalt(s string) ([]byte, error) {
	salt, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, errorf(CodeBadSalt, "salt must be base64url without padding")
	}
	if err := checkSalt(salt); err != nil {
		return nil, err
	}
	return salt, nil
}

func checkSalt(salt []byte) error {
	if len(salt) < MinSaltSize || len(salt) > MaxSaltSize {
		return errorf(CodeBadSalt, "salt must be %d to %d bytes, got %d", MinSaltSize, MaxSaltSize, len(salt))
	}
	return nil
}

// Canonicalize checks that record is I-JSON and returns its RFC 8785
// canonical form.
func Canonicalize(record []byte) ([]byte, error) {
	if !utf8.Valid(record) {
		return nil, errorf(CodeInvalidJSON, "record is not valid UTF-8")
	}
	if !json.Valid(record) {
		var syntax *json.SyntaxError
		if err := json.Unmarshal(record, new(json.RawMessage)); errors.As(err, &syntax) {
			return nil, errorf(CodeInvalidJSON, "record is not valid JSON (at byte %d)", syntax.Offset)
		}
		return nil, errorf(CodeInvalidJSON, "record is not valid JSON")
	}
	if err := checkIJSON(record); err != nil {
		return nil, err
	}
	canonical, err := jcs.Transform(record)
	if err != nil {
		// The checks above leave duplicate keys as the one input jcs refuses;
		// its message names the key, which may be resident data, so it is
		// not passed on.
		if strings.HasPrefix(err.Error(), "Duplicate key") {
			return nil, errorf(CodeInvalidJSON, "record has a duplicate object key")
		}
		return nil, errorf(CodeInvalidJSON, "record cannot be canonicalised")
	}
	return canonical, nil
}

// Compute returns "sha256:" + hex(SHA-256(salt ‖ JCS(record))).
func Compute(record []byte, salt []byte) (string, error) {
	sum, err := sum(record, salt)
	if err != nil {
		return "", err
	}
	return Format(sum), nil
}

func sum(record, salt []byte) ([sha256.Size]byte, error) {
	if err := checkSalt(salt); err != nil {
		return [sha256.Size]byte{}, err
	}
	canonical, err := Canonicalize(record)
	if err != nil {
		return [sha256.Size]byte{}, err
	}
	h := sha256.New()
	h.Write(salt)
	h.Write(canonical)
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out, nil
}

// Verify recomputes the digest of record with salt and compares it with want
// in constant time. It returns nil on a match and an *Error with CodeMismatch,
// CodeMalformed, CodeBadSalt or CodeInvalidJSON otherwise.
func Verify(record, salt []byte, want string) error {
	expected, err := Parse(want)
	if err != nil {
		return err
	}
	got, err := sum(record, salt)
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare(got[:], expected[:]) != 1 {
		return errorf(CodeMismatch, "record does not match the expected digest")
	}
	return nil
}

// Format prints a SHA-256 sum as a digest string.
func Format(sum [sha256.Size]byte) string { return Prefix + hex.EncodeToString(sum[:]) }

// Parse reads a digest string: "sha256:" and exactly 64 lowercase hex digits.
func Parse(s string) ([sha256.Size]byte, error) {
	var out [sha256.Size]byte
	hexPart, ok := strings.CutPrefix(s, Prefix)
	if !ok {
		return out, errorf(CodeMalformed, "digest must start with %q", Prefix)
	}
	if len(hexPart) != hex.EncodedLen(sha256.Size) {
		return out, errorf(CodeMalformed, "digest must have 64 hex digits after %q, got %d characters", Prefix, len(hexPart))
	}
	for i := 0; i < len(hexPart); i++ {
		if c := hexPart[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return out, errorf(CodeMalformed, "digest must be lowercase hex after %q", Prefix)
		}
	}
	if _, err := hex.Decode(out[:], []byte(hexPart)); err != nil {
		return out, errorf(CodeMalformed, "digest must be lowercase hex after %q", Prefix)
	}
	return out, nil
}

// OfJWS is the digest of a credential route: "sha256:" + hex(SHA-256 of a
// compact JWS's signing input, header.payload). It is the very hash the
// issuer's ES256 signature signs and ignores the signature bytes, so a
// re-encoded (malleated) ECDSA signature does not change it. For an SD-JWT
// ("jws~disclosure~…") only the issuer-signed JWS counts.
func OfJWS(token string) string {
	if i := strings.IndexByte(token, '~'); i >= 0 {
		token = token[:i]
	}
	if i := strings.LastIndexByte(token, '.'); i >= 0 {
		token = token[:i]
	}
	sum := sha256.Sum256([]byte(token))
	return Prefix + hex.EncodeToString(sum[:])
}
