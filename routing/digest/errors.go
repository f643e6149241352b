package digest

import (
	"fmt"

	"github.com/eidgate/eidgate/internal/domainerr"
)

// Error codes. A digest failure is a *routing.Error of kind invalid with
// one of these codes and a message safe to show; it never quotes record
// content. (The type is declared in internal/domainerr because package
// routing builds on this one; routing.CodeOf reads the code.)
const (
	// CodeInvalidJSON: the record is not I-JSON (invalid JSON or UTF-8,
	// duplicate keys, unpaired surrogates, inexact numbers).
	CodeInvalidJSON = "digest_invalid_json"
	// CodeBadSalt: the salt is not 16 to 64 bytes or not base64url.
	CodeBadSalt = "digest_bad_salt"
	// CodeMalformed: a digest string is not "sha256:" + 64 lowercase hex.
	CodeMalformed = "digest_malformed"
	// CodeMismatch: the record does not hash to the expected digest.
	CodeMismatch = "digest_mismatch"
)

func errorf(code, format string, args ...any) *domainerr.Error {
	return &domainerr.Error{Kind: domainerr.KindInvalid, Code: code, Op: "digest", Message: fmt.Sprintf(format, args...)}
}
