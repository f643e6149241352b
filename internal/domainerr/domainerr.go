// Package domainerr declares eidgate's one error type, known everywhere as
// routing.Error, and its kinds. It is a package of its own only so that
// the libraries package routing itself builds on (routing/digest,
// routing/merkle) can return that type without an import cycle; all other
// code names it routing.Error and builds it with routing's helpers
// (routing.Invalid, routing.Unavailable, routing.Wrap, ...).
package domainerr

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

// WithCode sets the stable code.
func (e *Error) WithCode(code string) *Error { e.Code = code; return e }
