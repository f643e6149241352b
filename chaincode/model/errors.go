package model

import (
	"errors"
	"fmt"
	"strings"
)

// Code is the stable prefix of a chaincode error message. The ledger client
// maps it to an error kind, so the text after it is what a caller sees.
type Code string

// Error codes.
const (
	CodeInvalid   Code = "INVALID:"
	CodeNotFound  Code = "NOT_FOUND:"
	CodeForbidden Code = "FORBIDDEN:"
	CodeConflict  Code = "CONFLICT:"
)

var codes = [...]Code{CodeInvalid, CodeNotFound, CodeForbidden, CodeConflict}

// Error is a chaincode refusal: a code and a message that is safe to show
// (it never holds a full blinded value, signature or document number).
type Error struct {
	Code    Code
	Message string
}

func (e *Error) Error() string { return string(e.Code) + " " + e.Message }

// Errorf builds an *Error with the given code.
func Errorf(code Code, format string, args ...any) error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid reports bad input; the message names the field.
func Invalid(format string, args ...any) error { return Errorf(CodeInvalid, format, args...) }

// NotFound reports a missing record.
func NotFound(format string, args ...any) error { return Errorf(CodeNotFound, format, args...) }

// Forbidden reports a caller that may not do what it asked.
func Forbidden(format string, args ...any) error { return Errorf(CodeForbidden, format, args...) }

// Conflict reports a request that contradicts the ledger state.
func Conflict(format string, args ...any) error { return Errorf(CodeConflict, format, args...) }

// CodeOf returns the code of err: the Code of an *Error in its chain, or else
// the first code its message holds at the start or after a space (errors that
// crossed a process boundary are plain text, and contractapi prefixes
// argument errors with its own words), or "" when it has none.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	msg := err.Error()
	best, at := Code(""), len(msg)
	for _, c := range codes {
		for from := 0; from < at; {
			i := strings.Index(msg[from:], string(c))
			if i < 0 {
				break
			}
			i += from
			if i == 0 || msg[i-1] == ' ' {
				if i < at {
					best, at = c, i
				}
				break
			}
			from = i + 1
		}
	}
	return best
}

// Prefixed returns a copy of err whose message starts with context, keeping
// the code, e.g. Prefixed(err, "item 17") gives "INVALID: item 17: …".
func Prefixed(err error, context string) error {
	var e *Error
	if errors.As(err, &e) {
		return &Error{Code: e.Code, Message: context + ": " + e.Message}
	}
	return fmt.Errorf("%s: %w", context, err)
}

// Mask shortens a secret-looking value (a blinded index, an account hash, a
// signature) to its first 8 characters for use in messages.
func Mask(v string) string {
	const keep = 8
	if len(v) <= keep {
		return strings.Repeat("*", len(v))
	}
	return v[:keep] + "…"
}
