// Package routing is the domain core of eidgate: the resolve flow
// (mapping → policy → consent → route → durable access record → ticket),
// consent transitions, the access log with group commit, anchoring of access
// records on the ledger as Merkle roots, and the error type every adapter
// speaks.
//
// It declares the small interfaces it needs (ledger, store, cache, policy,
// clock, ticket issuer) and never imports gin, gorm, redis or Fabric; the
// adapters in ledger/, store/, cache/, policies/ and gateway/ implement or
// use them, and cmd/eidgate wires them together.
package routing

import (
	"errors"
	"fmt"

	"github.com/eidgate/eidgate/internal/domainerr"
)

// Kind classifies an error; the HTTP layer maps kinds to statuses in one
// place (gateway.statusOf).
type Kind = domainerr.Kind

// Error kinds.
const (
	KindInvalid         = domainerr.KindInvalid
	KindUnauthenticated = domainerr.KindUnauthenticated
	KindForbidden       = domainerr.KindForbidden
	KindConsentRequired = domainerr.KindConsentRequired
	KindNotFound        = domainerr.KindNotFound
	KindConflict        = domainerr.KindConflict
	KindRateLimited     = domainerr.KindRateLimited
	KindUnavailable     = domainerr.KindUnavailable
	KindBadGateway      = domainerr.KindBadGateway
	KindInternal        = domainerr.KindInternal
)

// Error is the one error type of eidgate: Kind (which the gateway maps to
// an HTTP status), a stable Code (defaulting to the kind), the Op that
// failed, a Message safe to show the caller (never a document number,
// secret or internal detail), the request Field at fault, safe Details for
// the caller, and the cause Err for logs. Every package returns it except
// the chaincode (whose refusals cross the wire as prefixed strings) and
// provider (a standalone library for departments). It is declared in
// internal/domainerr so that routing's own libraries can return it.
type Error = domainerr.Error

// Errorf builds an *Error.
func Errorf(kind Kind, op, format string, args ...any) *Error {
	return &Error{Kind: kind, Op: op, Message: fmt.Sprintf(format, args...)}
}

// Invalid reports bad input in a named field.
func Invalid(op, field, format string, args ...any) *Error {
	e := Errorf(KindInvalid, op, format, args...)
	e.Field = field
	return e
}

// Unavailable reports a dependency that is down; code says which (e.g.
// "database_unavailable", "ledger_unavailable", "anchoring_lag").
func Unavailable(op, code, message string, cause error) *Error {
	return &Error{Kind: KindUnavailable, Code: code, Op: op, Message: message, Err: cause}
}

// MissingDependency reports a service built without a dependency it
// needs (a wiring mistake, so kind internal): every NewX(Config) refuses a
// zero Config with it instead of panicking later.
func MissingDependency(op, what string) *Error {
	return &Error{Kind: KindInternal, Code: "missing_dependency", Op: op, Message: what + " is required"}
}

// Wrap keeps err's classification when it already has one and otherwise
// classifies it as internal, with op naming where it was seen.
func Wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return &Error{Kind: KindInternal, Op: op, Message: "internal error", Err: err}
}

// KindOf returns the kind of err: KindInternal for unclassified errors, ""
// for nil.
func KindOf(err error) Kind {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// CodeOf returns the stable code of err (its kind when it has no code).
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		if e.Code != "" {
			return e.Code
		}
		return string(e.Kind)
	}
	return string(KindOf(err))
}

// MessageOf returns the caller-safe message of err.
func MessageOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// IsKind reports whether err has kind k.
func IsKind(err error, k Kind) bool { return err != nil && KindOf(err) == k }
