package merkle

import "github.com/eidgate/eidgate/internal/errcode"

// Code is a stable, machine-readable error code.
type Code string

// Error codes.
const (
	// CodeMalformed: a proof document or hash could not be decoded.
	CodeMalformed Code = "proof_malformed"
	// CodeIndexOutOfRange: a leaf index at or beyond the tree size.
	CodeIndexOutOfRange Code = "proof_index_out_of_range"
)

// Error is a merkle failure with a stable code and a message safe to show.
type Error = errcode.Error[Code]

func errorf(code Code, format string, args ...any) *Error {
	return errcode.New("merkle", code, format, args...)
}

// CodeOf returns the code of a merkle error and "" for nil or foreign errors.
func CodeOf(err error) Code { return errcode.CodeOf[Code](err) }
