package main

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/eidgate/eidgate/routing"
)

// Exit codes, one table for every command (README, "Exit codes").
const (
	exitOK          = 0 // done; valid
	exitFailed      = 1 // refused, failed or invalid (a record, credential or number that does not check)
	exitUsage       = 2 // usage error: arguments, flags, configuration, a file that cannot be read
	exitUnavailable = 3 // a dependency (database, ledger, cache) is unreachable
)

// Codes of errors the command line itself reports.
const (
	codeUsage        = "usage"
	codeFileNotFound = "file_not_found"
	codeFileAccess   = "file_access"
)

// exitError carries a process exit code out of a subcommand (for example
// `id check` exits 1 for an invalid number and 2 for a usage error). err
// may be nil when the command has already said everything on stdout.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// usageError is an exit-2 error with the code "usage".
func usageError(format string, args ...any) error {
	return &exitError{code: exitUsage, err: &routing.Error{Kind: routing.KindInvalid, Code: codeUsage, Op: "eidgate", Message: fmt.Sprintf(format, args...)}}
}

// failure is an exit-1 error with a stable code.
func failure(code, format string, args ...any) error {
	return &exitError{code: exitFailed, err: &routing.Error{Kind: routing.KindInvalid, Code: code, Op: "eidgate", Message: fmt.Sprintf(format, args...)}}
}

// fileError turns a failure to read or write a named file into a usage
// error with a code that says what is wrong.
func fileError(err error) error {
	var pe *fs.PathError
	if !errors.As(err, &pe) {
		return &exitError{code: exitUsage, err: err}
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &exitError{code: exitUsage, err: &routing.Error{Kind: routing.KindNotFound, Code: codeFileNotFound, Op: "eidgate",
			Message: fmt.Sprintf("there is no file %s", pe.Path)}}
	case errors.Is(err, fs.ErrPermission):
		return &exitError{code: exitUsage, err: &routing.Error{Kind: routing.KindForbidden, Code: codeFileAccess, Op: "eidgate",
			Message: fmt.Sprintf("no permission to %s %s", pathVerb(pe.Op), pe.Path)}}
	}
	return &exitError{code: exitUsage, err: &routing.Error{Kind: routing.KindInvalid, Code: codeFileAccess, Op: "eidgate",
		Message: fmt.Sprintf("cannot %s %s: %v", pathVerb(pe.Op), pe.Path, pe.Err)}}
}

func pathVerb(op string) string {
	switch op {
	case "open", "read", "stat", "lstat", "readdir":
		return "read"
	}
	return "write"
}

// describeError is the one place that renders an error for a person: a
// sentence with its stable code in brackets, never an internal operation
// name, and the exit code from the table above.
func describeError(err error) (string, int) {
	code := exitFailed
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
		if ee.err == nil {
			return "", code
		}
		err = ee.err
	} else if routing.KindOf(err) == routing.KindUnavailable {
		code = exitUnavailable
	}
	text := sentence(err)
	if _, ok := errors.AsType[*routing.Error](err); !ok {
		var pe *fs.PathError
		switch {
		case errors.As(err, &pe) && errors.Is(err, fs.ErrNotExist):
			text += " (" + codeFileNotFound + ")"
		case errors.As(err, &pe):
			text += " (" + codeFileAccess + ")"
		case code == exitUsage:
			text += " (" + codeUsage + ")"
		default:
			text += " (" + string(routing.KindInternal) + ")"
		}
	}
	return text, code
}

// sentence renders err without operation names: a routing.Error as its
// message and code (with the cause for dependencies that are down and
// internal failures, which the operator on the host needs to see); the
// words that wrap it (a start-up step, a file name) are kept.
func sentence(err error) string {
	e, ok := errors.AsType[*routing.Error](err)
	if !ok {
		return err.Error()
	}
	return message(err, e) + " (" + routing.CodeOf(e) + ")"
}

// message is err's text with e, the routing.Error it wraps, as its message.
func message(err error, e *routing.Error) string {
	prefix := ""
	if full, inner := err.Error(), e.Error(); full != inner && strings.HasSuffix(full, inner) {
		prefix = full[:len(full)-len(inner)]
	}
	msg := e.Message
	if msg == "" {
		msg = string(e.Kind)
	}
	if e.Err != nil && (e.Kind == routing.KindUnavailable || e.Kind == routing.KindInternal) {
		cause := e.Err.Error()
		if inner, nested := errors.AsType[*routing.Error](e.Err); nested {
			cause = message(e.Err, inner)
		}
		if !strings.Contains(msg, cause) {
			msg += ": " + cause
		}
	}
	if e.Field != "" && !strings.Contains(msg, e.Field) {
		msg += " [" + e.Field + "]"
	}
	return prefix + msg
}
