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
)

// Kind classifies an error; the HTTP layer maps kinds to statuses in one
// place (gateway.statusOf).
type Kind string

// Error kinds.
const (
	KindInvalid         Kind = "invalid"
	KindUnauthenticated Kind = "unauthenticated"
	KindForbidden       Kind = "forbidden"
	KindConsentRequired Kind = "consent_required"
	KindNotFound        Kind = "not_found"
	KindConflict        Kind = "conflict"
	KindRateLimited     Kind = "rate_limited"
	KindUnavailable     Kind = "unavailable"
	KindBadGateway      Kind = "bad_gateway"
	KindInternal        Kind = "internal"
)

// Error is the one error type of the domain. Message is safe to show to the
// caller (it never holds a document number, secret or internal detail);
// Code is a stable machine-readable code, defaulting to the kind; Err keeps
// the cause for logs.
type Error struct {
	Kind    Kind
	Code    string // e.g. "consent_required", "digest_mismatch", "anchoring_lag"
	Op      string // e.g. "routing.Resolve"
	Message string
	Field   string // the request field at fault, for invalid input
	Err     error

	// Details are extra, safe facts for the caller, e.g. the consent
	// request id that a consent_required answer created.
	Details map[string]string
}

func (e *Error) Error() string {
	s := e.Op + ": " + string(e.Kind)
	if e.Code != "" && e.Code != string(e.Kind) {
		s += " (" + e.Code + ")"
	}
	s += ": " + e.Message
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

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

// WithCode sets the stable code.
func (e *Error) WithCode(code string) *Error { e.Code = code; return e }

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
	if k, ok := foreignKind(err); ok {
		return &Error{Kind: k, Op: op, Message: foreignMessage(err), Err: err}
	}
	return &Error{Kind: KindInternal, Op: op, Message: "internal error", Err: err}
}

// kinded is implemented by errors that carry a kind of their own (the
// ticket issuer's and mapping's document errors), so the domain can
// classify them without importing their packages. The ledger client
// returns *Error itself.
type kinded interface {
	ErrorKind() string
	PublicMessage() string
}

func foreignKind(err error) (Kind, bool) {
	var k kinded
	if errors.As(err, &k) {
		return Kind(k.ErrorKind()), true
	}
	return "", false
}

func foreignMessage(err error) string {
	var k kinded
	if errors.As(err, &k) {
		return k.PublicMessage()
	}
	return "internal error"
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
	if k, ok := foreignKind(err); ok {
		return k
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
	if _, ok := foreignKind(err); ok {
		return foreignMessage(err)
	}
	return "internal error"
}

// IsKind reports whether err has kind k.
func IsKind(err error, k Kind) bool { return err != nil && KindOf(err) == k }
