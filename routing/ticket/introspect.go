package ticket

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/eidgate/eidgate/provider"
)

// Introspector answers POST /v1/tickets/introspect for providers that would
// rather ask the gateway than verify tickets themselves. It runs the same
// provider.Verifier a provider would, against the keyring, and consumes the
// ticket: a successful introspection is the ticket's single use.
type Introspector struct {
	verifier *provider.Verifier
}

// NewIntrospector builds an introspector for tickets issued as issuer with
// keys. replay records used ticket ids; gateway replicas must share it (nil
// means an in-memory cache, right for a single gateway). clock nil means the
// system clock.
func NewIntrospector(keys *Keyring, issuer string, replay provider.ReplayCache, clock Clock) (*Introspector, error) {
	if keys == nil {
		return nil, errors.New("ticket: an introspector needs a keyring")
	}
	if clock == nil {
		clock = systemClock{}
	}
	v, err := provider.NewVerifier(provider.Config{
		Issuer: issuer,
		Keys:   keys,
		Replay: replay,
		Now:    clock.Now,
	})
	if err != nil {
		return nil, err
	}
	return &Introspector{verifier: v}, nil
}

// Introspection is an RFC 7662-style answer. An inactive ticket is reported
// as {"active":false} and nothing else, as RFC 7662 §2.2 advises; Reason
// keeps the code for the gateway's logs and metrics.
type Introspection struct {
	Active bool
	Claims *provider.Claims // set when Active
	Reason provider.Code    // set when not Active
}

// Introspect checks token on behalf of caller, the authenticated department
// asking; a ticket addressed to another department is inactive for it. An
// error is returned only when the check could not be completed (the replay
// cache is unreachable): the endpoint should then answer 503, not "inactive".
func (in *Introspector) Introspect(ctx context.Context, token, caller string) (*Introspection, error) {
	if caller == "" {
		return nil, errors.New("ticket: introspection needs the calling department")
	}
	claims, err := in.verifier.VerifyFor(ctx, token, caller)
	if err != nil {
		code := provider.CodeOf(err)
		if code == provider.CodeUnavailable {
			return nil, err
		}
		return &Introspection{Reason: code}, nil
	}
	return &Introspection{Active: true, Claims: claims}, nil
}

// MarshalJSON writes {"active":false}, or {"active":true,"token_type":…}
// followed by the ticket's claims in their payload form.
func (r Introspection) MarshalJSON() ([]byte, error) {
	if !r.Active || r.Claims == nil {
		return []byte(`{"active":false}`), nil
	}
	claims, err := json.Marshal(r.Claims)
	if err != nil {
		return nil, err
	}
	head, err := json.Marshal(struct {
		Active    bool   `json:"active"`
		TokenType string `json:"token_type"`
	}{true, provider.TokenType})
	if err != nil {
		return nil, err
	}
	// Splice the two objects: {"active":true,"token_type":"…", + "iss":… }
	out := append(head[:len(head)-1], ',')
	return append(out, claims[1:]...), nil
}
