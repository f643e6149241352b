package digest

import "github.com/eidgate/eidgate/internal/errcode"

// Code is a stable, machine-readable error code.
type Code string

// Error codes.
const (
	// CodeInvalidJSON: the record is not I-JSON (invalid JSON or UTF-8,
	// duplicate keys, unpaired surrogates, inexact numbers).
	CodeInvalidJSON Code = "digest_invalid_json"
	// CodeBadSalt: the salt is not 16 to 64 bytes or not base64url.
	CodeBadSalt Code = "digest_bad_salt"
	// CodeMalformed: a digest string is not "sha256:" + 64 lowercase hex.
	CodeMalformed Code = "digest_malformed"
	// CodeMismatch: the record does not hash to the expected digest.
	CodeMismatch Code = "digest_mismatch"
)

// Error is a digest failure with a stable code and a message safe to show;
// it never quotes record content.
type Error = errcode.Error[Code]

func errorf(code Code, format string, args ...any) *Error {
	return errcode.New("digest", code, format, args...)
}

// CodeOf returns the code of a digest error and "" for nil or foreign errors.
func CodeOf(err error) Code { return errcode.CodeOf[Code](err) }
