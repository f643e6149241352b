// Package errcode is the error type of eidgate's small self-contained
// libraries (routing/digest, routing/merkle): a stable, machine-readable
// code of the library's own code type and a message safe to show.
package errcode

import (
	"errors"
	"fmt"
)

// Error is a failure with a stable code. Each library names its
// instantiation (type Error = errcode.Error[Code]), so errors.As tells
// the libraries' errors apart.
type Error[C ~string] struct {
	Code    C
	Message string
	lib     string // the library's name, which starts the text
}

// New returns an error of library lib with code and a formatted message.
func New[C ~string](lib string, code C, format string, args ...any) *Error[C] {
	return &Error[C]{Code: code, Message: fmt.Sprintf(format, args...), lib: lib}
}

func (e *Error[C]) Error() string { return e.lib + ": " + string(e.Code) + ": " + e.Message }

// CodeOf returns the code of an *Error[C] in err's chain and "" for nil or
// other errors.
func CodeOf[C ~string](err error) C {
	var e *Error[C]
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
