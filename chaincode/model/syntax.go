package model

import (
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Roles carried in the eidgate.role certificate attribute.
const (
	RoleAdmin      = "admin"
	RoleAgent      = "agent"
	RoleDepartment = "department"
)

// Certificate attributes (Fabric CA attribute extension).
const (
	AttrRole       = "eidgate.role"
	AttrDepartment = "eidgate.dept" // the department id a department identity acts as
)

// Limits on input sizes. A batch of MaxBatch items fits one transaction.
const (
	MaxBatch           = 1000
	MaxIndexesPerEID   = 32
	MaxEndpoints       = 8
	MaxSigningKeys     = 16
	MaxOwners          = 64
	MaxConsentTypes    = 64
	MaxAnchorConsents  = 5000
	MaxSchemaBytes     = 64 << 10
	MaxNameRunes       = 200
	MaxReasonRunes     = 500
	MaxPurposeRunes    = 1000
	MaxRouteSchemaLen  = 256
	MaxRefLen          = 128
	MaxEndpointLen     = 512
	MaxPublicKeyPEMLen = 4096
)

var (
	departmentIDRe = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,63}$`)
	dataTypeRe     = regexp.MustCompile(`^[a-z][a-z0-9]*(\.[a-z][a-z0-9_]*)+$`)
	purposeRe      = regexp.MustCompile(`^[a-z][a-z0-9_.-]{1,63}$`)
	keyVersionRe   = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,31}$`)
	hex64Re        = regexp.MustCompile(`^[0-9a-f]{64}$`)
	tokenRe        = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)
	methodRe       = regexp.MustCompile(`^[a-z][a-z0-9_-]{1,31}$`)
	mspIDRe        = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
)

// ValidDepartmentID reports whether s is a department id.
func ValidDepartmentID(s string) bool { return departmentIDRe.MatchString(s) }

// ValidDataTypeCode reports whether s is a data type code such as "edu.degree".
func ValidDataTypeCode(s string) bool { return len(s) <= 128 && dataTypeRe.MatchString(s) }

// ValidPurposeCode reports whether s is a purpose code.
func ValidPurposeCode(s string) bool { return purposeRe.MatchString(s) }

// ValidKeyVersion reports whether s names a blinding key version such as "v1".
func ValidKeyVersion(s string) bool { return keyVersionRe.MatchString(s) }

// ValidHex64 reports whether s is 64 lowercase hex digits (a SHA-256 or
// HMAC-SHA256 value).
func ValidHex64(s string) bool { return hex64Re.MatchString(s) }

// ValidKID reports whether s is a signing key id.
func ValidKID(s string) bool { return tokenRe.MatchString(s) }

// ValidBatchID reports whether s is an access batch id.
func ValidBatchID(s string) bool { return tokenRe.MatchString(s) }

// ValidDecisionMethod reports whether s names how a consent was decided
// ("portal", "counter", …).
func ValidDecisionMethod(s string) bool { return methodRe.MatchString(s) }

// ValidMSPID reports whether s is a plausible Fabric MSP id.
func ValidMSPID(s string) bool { return mspIDRe.MatchString(s) }

// FormatTime renders t as the RFC 3339 UTC text stored on the ledger.
func FormatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// ParseTime parses an RFC 3339 time.
func ParseTime(s string) (time.Time, error) { return time.Parse(time.RFC3339, s) }

// checkText validates free text: valid UTF-8, no control characters, at most
// max runes, and present when required.
func checkText(field, s string, required bool, max int) error {
	if s == "" {
		if required {
			return Invalid("%s is required", field)
		}
		return nil
	}
	if !utf8.ValidString(s) {
		return Invalid("%s is not valid UTF-8", field)
	}
	if utf8.RuneCountInString(s) > max {
		return Invalid("%s is longer than %d characters", field, max)
	}
	if strings.TrimSpace(s) != s {
		return Invalid("%s has leading or trailing spaces", field)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return Invalid("%s contains a control character", field)
		}
	}
	return nil
}

// checkEndpoint accepts an absolute http(s) URL without user info or fragment.
func checkEndpoint(field, s string) error {
	if s == "" || len(s) > MaxEndpointLen {
		return Invalid("%s must be an http(s) URL of at most %d bytes", field, MaxEndpointLen)
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.Fragment != "" {
		return Invalid("%s must be an absolute http(s) URL without credentials or fragment", field)
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == ' ' {
			return Invalid("%s must be an absolute http(s) URL without spaces", field)
		}
	}
	return nil
}

// CheckReason validates a free-text reason (for a suspension, merge,
// deactivation or revocation) and names field in its error.
func CheckReason(field, s string, required bool) error {
	return checkText(field, s, required, MaxReasonRunes)
}
