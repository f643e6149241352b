package ticket

import (
	"fmt"

	"github.com/eidgate/eidgate/routing"
)

// Stable codes of the gateway side's ticket errors, which are *routing.Error
// of kind internal: a ticket that cannot be issued, or keys that cannot be
// used, are the gateway's own failure, never the caller's. Verification
// errors use the codes of package provider.
const (
	// CodeInvalidClaims: a ticket was requested with missing or malformed
	// claims (a gateway bug, never the caller's input verbatim).
	CodeInvalidClaims = "ticket_claims_invalid"
	// CodeLifetime: a ticket was requested with a lifetime outside 1 s..5 min.
	CodeLifetime = "ticket_lifetime"
	// CodeKeyFileInsecure: the key file is readable by others, or not a
	// regular file.
	CodeKeyFileInsecure = "ticket_key_file_insecure"
	// CodeKeyFileInvalid: the key file cannot be understood or is
	// inconsistent (wrong version, bad seed, kid not matching its key, no
	// or several active keys), or a key in it cannot sign.
	CodeKeyFileInvalid = "ticket_key_file_invalid"
	// CodeKeyFileIO: the key file could not be read or written.
	CodeKeyFileIO = "ticket_key_file_io"
)

const opTicket = "ticket"

// issueError is a ticket that could not be issued: the caller (a resolve)
// is told only that, and the detail goes to the log.
func issueError(code string, cause error, format string, args ...any) *routing.Error {
	detail := fmt.Errorf(format, args...)
	if cause != nil {
		detail = fmt.Errorf("%w: %w", detail, cause)
	}
	return &routing.Error{Kind: routing.KindInternal, Code: code, Op: opTicket,
		Message: "the access ticket could not be issued", Err: detail}
}

// keyFileError is a key file that cannot be used; the message names the
// file and what is wrong, for the operator starting or rotating it.
func keyFileError(code string, cause error, format string, args ...any) *routing.Error {
	return &routing.Error{Kind: routing.KindInternal, Code: code, Op: opTicket,
		Message: fmt.Sprintf(format, args...), Err: cause}
}
