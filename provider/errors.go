package provider

import (
	"errors"
	"fmt"
)

// Code is a stable, machine-readable reason a ticket was refused. Codes are
// part of the public contract: log them, count them, map them to responses.
type Code string

// Error codes. Every code but CodeUnavailable means the ticket must be
// refused for good; CodeUnavailable means the check could not be completed
// (keys or replay cache unreachable) and the caller may retry later.
const (
	CodeMalformed   Code = "ticket_malformed"     // not a well-formed eidgate ticket, or a required claim is missing
	CodeAlgorithm   Code = "ticket_algorithm"     // alg is not EdDSA (alg:none, HS256, RS256 …)
	CodeType        Code = "ticket_type"          // typ is not eidgate-ticket+jwt
	CodeUnknownKey  Code = "ticket_unknown_key"   // kid is not among the gateway's published keys
	CodeSignature   Code = "ticket_signature"     // the signature does not verify
	CodeIssuer      Code = "ticket_issuer"        // iss is not the configured gateway
	CodeAudience    Code = "ticket_audience"      // aud names another department
	CodeExpired     Code = "ticket_expired"       // exp has passed
	CodeNotYetValid Code = "ticket_not_yet_valid" // nbf or iat lies in the future
	CodeLifetime    Code = "ticket_lifetime"      // exp is more than five minutes after iat/nbf
	CodeReplayed    Code = "ticket_replayed"      // this jti was already used
	CodeUnavailable Code = "ticket_unavailable"   // keys or replay cache could not be consulted
)

// Error is a refused ticket. Message is safe to return to the caller that
// presented the ticket; it never contains claim values such as the eID. Err
// keeps an underlying cause for logs.
type Error struct {
	Code    Code
	Message string
	Err     error
}

func (e *Error) Error() string {
	s := string(e.Code) + ": " + e.Message
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

func newError(code Code, err error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// CodeOf returns the code of a ticket error, "" for nil, and CodeUnavailable
// for any other error, so that an unexpected failure is never mistaken for
// success.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeUnavailable
}

// ErrKeyNotFound is what a KeySource returns (possibly wrapped) when it holds
// no usable key with the requested key id.
var ErrKeyNotFound = errors.New("no key with that key id")

// ErrReplayCacheFull is returned by MemoryReplayCache when every slot holds
// an unexpired ticket id. Verification then fails closed with
// CodeUnavailable rather than forget an id that could be replayed.
var ErrReplayCacheFull = errors.New("replay cache is full")
