package merkle

import (
	"fmt"

	"github.com/eidgate/eidgate/internal/domainerr"
)

// Error codes. A merkle failure is a *routing.Error of kind invalid with
// one of these codes and a message safe to show. (The type is declared in
// internal/domainerr because package routing builds on this one;
// routing.CodeOf reads the code.)
const (
	// CodeMalformed: a proof document or hash could not be decoded.
	CodeMalformed = "proof_malformed"
	// CodeIndexOutOfRange: a leaf index at or beyond the tree size.
	CodeIndexOutOfRange = "proof_index_out_of_range"
)

func errorf(code, format string, args ...any) *domainerr.Error {
	return &domainerr.Error{Kind: domainerr.KindInvalid, Code: code, Op: "merkle", Message: fmt.Sprintf(format, args...)}
}
