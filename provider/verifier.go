package provider

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Config configures a Verifier.
type Config struct {
	// Department is this provider's department id; a ticket is accepted only
	// when its aud names it. Required for Verify.
	Department string
	// Issuer, when set, must equal the ticket's iss (the gateway's issuer
	// name, e.g. its base URL). Recommended.
	Issuer string
	// Keys are the gateway's public keys: a RemoteKeySet on the gateway's
	// /.well-known/jwks.json, or a KeySet parsed from a static copy.
	Keys KeySource
	// Replay remembers used ticket ids; nil means a MemoryReplayCache with
	// DefaultReplayCapacity (right for a single instance only).
	Replay ReplayCache
	// Leeway absorbs clock skew in the exp, nbf and iat checks; 0 means
	// DefaultLeeway, and at most MaxLeeway is allowed.
	Leeway time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Verifier checks access tickets issued by the eidgate gateway. It is safe
// for concurrent use.
type Verifier struct {
	department string
	issuer     string
	keys       KeySource
	replay     ReplayCache
	leeway     time.Duration
	now        func() time.Time
}

// NewVerifier builds a Verifier from cfg.
func NewVerifier(cfg Config) (*Verifier, error) {
	if cfg.Keys == nil {
		return nil, errors.New("provider: Config.Keys is required (the gateway's JWKS)")
	}
	if cfg.Leeway < 0 || cfg.Leeway > MaxLeeway {
		return nil, errors.New("provider: Config.Leeway must be between 0 and one minute")
	}
	v := &Verifier{
		department: cfg.Department,
		issuer:     cfg.Issuer,
		keys:       cfg.Keys,
		replay:     cfg.Replay,
		leeway:     cfg.Leeway,
		now:        cfg.Now,
	}
	if v.now == nil {
		v.now = time.Now
	}
	if v.leeway == 0 {
		v.leeway = DefaultLeeway
	}
	if v.replay == nil {
		v.replay = NewMemoryReplayCache(DefaultReplayCapacity, v.now)
	}
	return v, nil
}

// Verify checks a ticket presented to this provider and, when every check
// passes, marks it used. The checks, in order: size and compact form; header
// (alg EdDSA only, typ eidgate-ticket+jwt, kid present, nothing else);
// signature with the gateway key named by kid; required claims; iss; aud is
// this department; lifetime at most five minutes; nbf, iat and exp against
// the clock with leeway; and last, that the jti has not been used — so a
// ticket refused for any other reason is not consumed.
//
// Errors are *Error with a stable Code.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	if v.department == "" {
		return nil, newError(CodeUnavailable, nil, "verifier has no department configured")
	}
	return v.VerifyFor(ctx, token, v.department)
}

// VerifyFor is Verify for a ticket that must be addressed to department,
// for a party that checks tickets on behalf of several departments (the
// gateway's introspection endpoint).
func (v *Verifier) VerifyFor(ctx context.Context, token, department string) (*Claims, error) {
	if department == "" {
		return nil, newError(CodeUnavailable, nil, "no department to check the audience against")
	}
	payload, err := v.verifySignature(ctx, token)
	if err != nil {
		return nil, err
	}
	claims, err := decodeClaims(payload)
	if err != nil {
		return nil, err
	}
	if err := v.checkClaims(claims, department); err != nil {
		return nil, err
	}
	// Keep the id until the ticket could no longer pass the exp check.
	seen, err := v.replay.Seen(ctx, claims.ID, claims.Expiry.Add(v.leeway))
	if err != nil {
		return nil, newError(CodeUnavailable, err, "could not check whether the ticket was already used")
	}
	if seen {
		return nil, newError(CodeReplayed, nil, "ticket was already used")
	}
	return claims, nil
}

// verifySignature checks form, header and signature, and returns the signed
// payload.
func (v *Verifier) verifySignature(ctx context.Context, token string) ([]byte, error) {
	if token == "" {
		return nil, newError(CodeMalformed, nil, "no ticket")
	}
	if len(token) > MaxTokenSize {
		return nil, newError(CodeMalformed, nil, "ticket is larger than %d bytes", MaxTokenSize)
	}
	if strings.Count(token, ".") != 2 {
		return nil, newError(CodeMalformed, nil, "ticket is not a compact JWS (three dot-separated parts)")
	}
	kid, err := parseHeader(token[:strings.IndexByte(token, '.')])
	if err != nil {
		return nil, err
	}
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		return nil, newError(CodeMalformed, nil, "ticket is not a valid compact JWS")
	}
	key, err := v.keys.PublicKey(ctx, kid)
	if errors.Is(err, ErrKeyNotFound) {
		return nil, newError(CodeUnknownKey, nil, "ticket is signed with a key the gateway does not publish (kid %q)", clip(kid))
	}
	if err != nil {
		return nil, newError(CodeUnavailable, err, "gateway keys are unavailable")
	}
	payload, err := jws.Verify(key)
	if err != nil {
		return nil, newError(CodeSignature, nil, "ticket signature does not verify")
	}
	return payload, nil
}

// parseHeader decodes and checks the protected header and returns its kid.
// Only alg, typ and kid may appear, as strings: anything else (crit, b64,
// jwk, x5u …) could change how a verifier reads the token and is never
// issued.
func parseHeader(segment string) (kid string, err error) {
	raw, err := base64.RawURLEncoding.DecodeString(segment)
	if err != nil {
		return "", newError(CodeMalformed, nil, "ticket header is not base64url")
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil || members == nil {
		return "", newError(CodeMalformed, nil, "ticket header is not a JSON object")
	}
	str := func(name string) (string, bool) {
		var v string
		if m, ok := members[name]; ok && json.Unmarshal(m, &v) == nil {
			return v, true
		}
		return "", false
	}
	// The algorithm is checked first: "alg":"none" or "HS256" is the classic
	// attack and gets its own code, whatever else the header holds.
	if alg, _ := str("alg"); alg != Algorithm {
		return "", newError(CodeAlgorithm, nil, "ticket algorithm %q is not allowed; only %s", clip(alg), Algorithm)
	}
	for name := range members {
		if _, ok := str(name); !ok || (name != "alg" && name != "typ" && name != "kid") {
			return "", newError(CodeMalformed, nil, "ticket header may hold only alg, typ and kid, as strings")
		}
	}
	if typ, _ := str("typ"); typ != TokenType {
		return "", newError(CodeType, nil, "ticket type %q is not %s", clip(typ), TokenType)
	}
	kid, _ = str("kid")
	if kid == "" {
		return "", newError(CodeMalformed, nil, "ticket header has no kid")
	}
	return kid, nil
}

// clip shortens a value taken from a ticket before it goes into a message.
func clip(s string) string {
	const max = 64
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}

// checkClaims checks issuer, audience and times.
func (v *Verifier) checkClaims(c *Claims, department string) error {
	if v.issuer != "" && c.Issuer != v.issuer {
		return newError(CodeIssuer, nil, "ticket was issued by %q, not by the configured gateway", clip(c.Issuer))
	}
	if c.Audience != department {
		return newError(CodeAudience, nil, "ticket is addressed to another department")
	}
	if !c.Expiry.After(c.IssuedAt) || !c.Expiry.After(c.NotBefore) ||
		c.Expiry.Sub(c.IssuedAt) > MaxLifetime || c.Expiry.Sub(c.NotBefore) > MaxLifetime {
		return newError(CodeLifetime, nil, "ticket lifetime must be positive and at most %s", MaxLifetime)
	}
	now := v.now()
	if !now.Before(c.Expiry.Add(v.leeway)) {
		return newError(CodeExpired, nil, "ticket expired")
	}
	if now.Add(v.leeway).Before(c.NotBefore) || now.Add(v.leeway).Before(c.IssuedAt) {
		return newError(CodeNotYetValid, nil, "ticket is not valid yet")
	}
	return nil
}
