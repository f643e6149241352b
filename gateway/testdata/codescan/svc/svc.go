// Package svc holds one of each way a served package answers with an
// error code, for the error-code scanner's own test.
package svc

import "example.com/prov"

const CodeNamed = "named_code"

type Error struct {
	Kind string
	Code string
}

func (e *Error) WithCode(code string) *Error { e.Code = code; return e }

func literal() error { return &Error{Code: "literal_code"} }

func named() error { return &Error{Code: CodeNamed} }

func otherPackage() error { return &Error{Code: prov.CodeElsewhere} }

func withCode(e *Error) error { return e.WithCode("with_code") }

// helper passes its parameter on as a code, and outer passes its own on
// to helper: both are found, one after the other.
func helper(op, code string) error { return &Error{Kind: op, Code: code} }

func outer(code string) error { return helper("op", code) }

func twice() error { return outer("passed_twice") }

func computed(s string) error {
	c := s + "_code"
	return &Error{Code: c}
}
