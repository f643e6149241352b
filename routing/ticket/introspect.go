package ticket

import (
	"context"

	"github.com/eidgate/eidgate/provider"
	"github.com/eidgate/eidgate/routing"
)

const opIntrospect = "ticket.Introspect"

// Introspector answers POST /v1/tickets/introspect for providers that would
// rather ask the gateway than verify tickets themselves, and serves the JWK
// Set; it is what the gateway's HTTP layer needs (gateway.Tickets). It runs
// the same provider.Verifier a provider would, against the keyring, and
// consumes the ticket: a successful introspection is the ticket's single use.
type Introspector struct {
	keys     *Keyring
	verifier *provider.Verifier
}

// IntrospectorConfig is what an Introspector is built from.
type IntrospectorConfig struct {
	Keys   *Keyring // required
	Issuer string   // required: the issuer name the tickets carry
	// Replay records used ticket ids; gateway replicas must share it (nil
	// means an in-memory cache, right for a single gateway).
	Replay provider.ReplayCache
	Clock  routing.Clock // default the system clock
}

// NewIntrospector checks cfg and builds the introspector.
func NewIntrospector(cfg IntrospectorConfig) (*Introspector, error) {
	const op = "ticket.NewIntrospector"
	if cfg.Keys == nil {
		return nil, routing.MissingDependency(op, "a keyring")
	}
	if cfg.Issuer == "" {
		return nil, routing.MissingDependency(op, "the issuer name its tickets carry")
	}
	clock := cfg.Clock
	if clock == nil {
		clock = routing.SystemClock{}
	}
	v, err := provider.NewVerifier(provider.Config{
		Issuer: cfg.Issuer,
		Keys:   cfg.Keys,
		Replay: cfg.Replay,
		Now:    clock.Now,
	})
	if err != nil {
		return nil, err
	}
	return &Introspector{keys: cfg.Keys, verifier: v}, nil
}

// Introspection is an RFC 7662-style answer. An inactive ticket is reported
// as {"active":false} and nothing else, as RFC 7662 §2.2 advises; Reason
// keeps the code for the gateway's logs and metrics.
type Introspection struct {
	Active bool
	Claims *provider.Claims // set when Active
	Reason provider.Code    // set when not Active
}

// Check verifies token on behalf of caller, the authenticated department
// asking; a ticket addressed to another department is inactive for it (and
// not consumed). An error is returned only when the check could not be
// completed (the replay cache is unreachable): a routing error of kind
// unavailable, so the endpoint answers 503 rather than "inactive".
func (in *Introspector) Check(ctx context.Context, caller, token string) (*Introspection, error) {
	if caller == "" {
		return nil, routing.Errorf(routing.KindUnauthenticated, opIntrospect, "introspection needs the calling department")
	}
	claims, err := in.verifier.VerifyFor(ctx, token, caller)
	if err != nil {
		code := provider.CodeOf(err)
		if code == provider.CodeUnavailable {
			return nil, routing.Unavailable(opIntrospect, string(provider.CodeUnavailable), "the ticket could not be checked; try again", err)
		}
		return &Introspection{Reason: code}, nil
	}
	return &Introspection{Active: true, Claims: claims}, nil
}

// Introspect is Check with the answer as the response body: {"active":false}
// or {"active":true,"token_type":"eidgate-ticket+jwt", …claims}, times as
// NumericDate.
func (in *Introspector) Introspect(ctx context.Context, caller, token string) (map[string]any, error) {
	res, err := in.Check(ctx, caller, token)
	if err != nil {
		return nil, err
	}
	return res.Body(), nil
}

// JWKS returns the public key set for /.well-known/jwks.json.
func (in *Introspector) JWKS() ([]byte, error) { return in.keys.JWKS() }

// Body returns the response body of the introspection.
func (r Introspection) Body() map[string]any {
	if !r.Active || r.Claims == nil {
		return map[string]any{"active": false}
	}
	c := r.Claims
	body := map[string]any{
		"active":     true,
		"token_type": provider.TokenType,
		"iss":        c.Issuer,
		"aud":        c.Audience,
		"sub":        c.Subject,
		"iat":        c.IssuedAt.Unix(),
		"nbf":        c.NotBefore.Unix(),
		"exp":        c.Expiry.Unix(),
		"jti":        c.ID,
		"req":        c.Requester,
		"dt":         c.DataType,
		"cid":        c.ConsentID,
		"aid":        c.AccessID,
		"pur":        c.Purpose,
	}
	if c.Digest != "" {
		body["dig"] = c.Digest
	}
	return body
}
