// Package svctest is a test helper: its codes answer no caller.
package svctest

type Error struct{ Code string }

func fake() error { return &Error{Code: "test_only_code"} }
