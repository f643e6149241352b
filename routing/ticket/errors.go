package ticket

import (
	"errors"
	"fmt"
)

// Code is a stable, machine-readable error code of the gateway side.
// Verification errors use the codes of package provider.
type Code string

// Error codes.
const (
	// CodeInvalidClaims: a ticket was requested with missing or malformed
	// claims (a gateway bug, never the caller's input verbatim).
	CodeInvalidClaims Code = "ticket_claims_invalid"
	// CodeLifetime: a ticket was requested with a lifetime outside 1 s..5 min.
	CodeLifetime Code = "ticket_lifetime"
	// CodeKeyFileInsecure: the key file is group- or world-accessible, or
	// not a regular file.
	CodeKeyFileInsecure Code = "ticket_key_file_insecure"
	// CodeKeyFileInvalid: the key file cannot be understood or is
	// inconsistent (wrong version, bad seed, kid not matching its key, no
	// or several active keys).
	CodeKeyFileInvalid Code = "ticket_key_file_invalid"
	// CodeKeyFileIO: the key file could not be read or written.
	CodeKeyFileIO Code = "ticket_key_file_io"
)

// Error is a gateway-side ticket failure.
type Error struct {
	Code    Code
	Message string
	Err     error
}

func (e *Error) Error() string {
	s := "ticket: " + string(e.Code) + ": " + e.Message
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// ErrorKind classifies the error for routing.Wrap: a ticket that cannot be
// issued is the gateway's own failure, never the caller's.
func (e *Error) ErrorKind() string { return "internal" }

// PublicMessage is what a caller may be told.
func (e *Error) PublicMessage() string { return "the access ticket could not be issued" }

func newError(code Code, err error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// CodeOf returns the code of a gateway-side ticket error and "" for nil or
// other errors.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
