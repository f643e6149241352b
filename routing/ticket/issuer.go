// Package ticket issues the gateway's access tickets and serves what
// providers need to check them: the public JWK Set and token introspection.
//
// A ticket is a compact JWS signed with Ed25519 (alg EdDSA, typ
// eidgate-ticket+jwt, kid the RFC 7638 thumbprint of the signing key). Its
// claims, their checks and the error codes are defined once, in package
// provider, which providers use to verify tickets; the introspection
// endpoint here runs that same verifier. docs/tickets.md describes the
// format.
package ticket

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"time"
	"unicode"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/eidgate/eidgate/provider"
	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/routing/digest"
)

// Ticket lifetimes.
const (
	DefaultLifetime = 2 * time.Minute
	MaxLifetime     = provider.MaxLifetime
	MinLifetime     = time.Second
)

// maxClaimLength bounds each string claim; ids and codes are far shorter.
const maxClaimLength = 256

// Claims are what the resolver binds into a ticket. The issuer adds iss,
// iat, nbf and exp, and jti unless the caller chose it.
type Claims struct {
	// ID is the jti. The resolver picks it before writing the access record
	// (which stores it); empty means the issuer draws one. A chosen id must
	// be base64url of at least 128 random bits.
	ID        string
	Provider  string        // aud: the department that holds the data and must serve it
	Subject   string        // sub: the resident's eID (did:…)
	Requester string        // req: the department that resolved the route
	DataType  string        // dt: data type code
	ConsentID string        // cid
	AccessID  string        // aid: the access record written before issuing
	Purpose   string        // pur: purpose code
	Digest    string        // dig: expected record digest, optional
	Predicate string        // prd: the yes/no question the ticket is for, optional
	Lifetime  time.Duration // 0 means DefaultLifetime; at most MaxLifetime
}

// Ticket is an issued ticket with the claims it carries.
type Ticket struct {
	Token  string
	Claims provider.Claims
}

// Issuer signs tickets with the keyring's active key. It is safe for
// concurrent use.
type Issuer struct {
	keys   *Keyring
	issuer string
	clock  routing.Clock

	mu     sync.Mutex
	signer *compactSigner
}

// compactSigner signs compact JWS with one key. go-jose builds the
// protected header once (alg, kid, typ, base64url); each ticket is then
// that header, its payload and the Ed25519 signature over both (RFC 7515
// §7.1), which is what go-jose's Sign and CompactSerialize produce, without
// marshalling and encoding the same header twice per ticket.
type compactSigner struct {
	kid     string
	private ed25519.PrivateKey
	header  string // base64url of the protected header
}

func (s *compactSigner) sign(payload []byte) string {
	enc := base64.RawURLEncoding
	n := len(s.header) + 1 + enc.EncodedLen(len(payload))
	buf := make([]byte, n, n+1+enc.EncodedLen(ed25519.SignatureSize))
	copy(buf, s.header)
	buf[len(s.header)] = '.'
	enc.Encode(buf[len(s.header)+1:], payload)
	sig := ed25519.Sign(s.private, buf)
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig)
	return string(buf)
}

// IssuerConfig is what an Issuer is built from.
type IssuerConfig struct {
	Keys *Keyring // required
	// Issuer is the gateway's name in the iss claim, which providers check
	// (required; usually its public base URL).
	Issuer string
	Clock  routing.Clock // default the system clock
}

// NewIssuer checks cfg and builds the issuer.
func NewIssuer(cfg IssuerConfig) (*Issuer, error) {
	const op = "ticket.NewIssuer"
	if cfg.Keys == nil {
		return nil, routing.MissingDependency(op, "a keyring")
	}
	if cfg.Issuer == "" {
		return nil, routing.MissingDependency(op, "the issuer name")
	}
	if err := checkClaimValue("iss", cfg.Issuer); err != nil {
		return nil, err
	}
	clock := cfg.Clock
	if clock == nil {
		clock = routing.SystemClock{}
	}
	return &Issuer{keys: cfg.Keys, issuer: cfg.Issuer, clock: clock}, nil
}

// Issue signs a ticket for c and returns the compact token.
func (i *Issuer) Issue(c Claims) (string, error) {
	t, err := i.IssueTicket(c)
	if err != nil {
		return "", err
	}
	return t.Token, nil
}

// IssueTicket signs a ticket for c and returns it with its full claims (the
// gateway reports exp and jti alongside the token).
func (i *Issuer) IssueTicket(c Claims) (*Ticket, error) {
	lifetime, err := checkClaims(c)
	if err != nil {
		return nil, err
	}
	id := c.ID
	if id == "" {
		id = routing.NewTicketID()
	}
	// NumericDate has whole seconds; truncating keeps exp - iat ≤ lifetime.
	now := i.clock.Now().UTC().Truncate(time.Second)
	claims := provider.Claims{
		Issuer:    i.issuer,
		Audience:  c.Provider,
		Subject:   c.Subject,
		IssuedAt:  now,
		NotBefore: now,
		Expiry:    now.Add(lifetime).Truncate(time.Second),
		ID:        id,
		Requester: c.Requester,
		DataType:  c.DataType,
		ConsentID: c.ConsentID,
		AccessID:  c.AccessID,
		Purpose:   c.Purpose,
		Digest:    c.Digest,
		Predicate: c.Predicate,
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return nil, issueError(CodeInvalidClaims, err, "cannot encode ticket claims")
	}
	signer, err := i.currentSigner()
	if err != nil {
		return nil, err
	}
	return &Ticket{Token: signer.sign(payload), Claims: claims}, nil
}

// currentSigner returns a signer for the keyring's active key, building a
// new one after a rotation.
func (i *Issuer) currentSigner() (*compactSigner, error) {
	key := i.keys.active()
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.signer != nil && i.signer.kid == key.kid {
		return i.signer, nil
	}
	opts := (&jose.SignerOptions{}).
		WithType(jose.ContentType(provider.TokenType)).
		WithHeader(jose.HeaderKey("kid"), key.kid)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: key.private}, opts)
	if err != nil {
		return nil, issueError(CodeKeyFileInvalid, err, "cannot use the signing key")
	}
	// The header of any token this signer makes is the key's header.
	jws, err := signer.Sign([]byte("{}"))
	if err != nil {
		return nil, issueError(CodeKeyFileInvalid, err, "cannot sign with the signing key")
	}
	token, err := jws.CompactSerialize()
	if err != nil {
		return nil, issueError(CodeKeyFileInvalid, err, "cannot serialise a ticket")
	}
	header, _, _ := strings.Cut(token, ".")
	i.signer = &compactSigner{kid: key.kid, private: key.private, header: header}
	return i.signer, nil
}

// checkClaims validates what the caller supplied and returns the lifetime.
// Messages name the claim, never its value.
func checkClaims(c Claims) (time.Duration, error) {
	for _, f := range []struct{ name, value string }{
		{"aud", c.Provider}, {"sub", c.Subject}, {"req", c.Requester},
		{"dt", c.DataType}, {"cid", c.ConsentID}, {"aid", c.AccessID}, {"pur", c.Purpose},
	} {
		if err := checkClaimValue(f.name, f.value); err != nil {
			return 0, err
		}
	}
	if c.ID != "" && !validTicketID(c.ID) {
		return 0, issueError(CodeInvalidClaims, nil, "ticket claim jti must be base64url of at least 128 bits, at most %d characters", provider.MaxIDLength)
	}
	if c.Predicate != "" {
		if err := checkClaimValue("prd", c.Predicate); err != nil {
			return 0, err
		}
	}
	if !strings.HasPrefix(c.Subject, "did:") {
		return 0, issueError(CodeInvalidClaims, nil, "ticket claim sub must be an eID (a DID)")
	}
	if c.Digest != "" {
		if _, err := digest.Parse(c.Digest); err != nil {
			return 0, issueError(CodeInvalidClaims, err, "ticket claim dig is not a record digest")
		}
	}
	lifetime := c.Lifetime
	if lifetime == 0 {
		lifetime = DefaultLifetime
	}
	if lifetime < MinLifetime || lifetime > MaxLifetime {
		return 0, issueError(CodeLifetime, nil, "ticket lifetime %s is outside %s..%s", c.Lifetime, MinLifetime, MaxLifetime)
	}
	return lifetime, nil
}

// validTicketID accepts 22 to MaxIDLength base64url characters (22
// characters carry 128 bits).
func validTicketID(id string) bool {
	if len(id) < 22 || len(id) > provider.MaxIDLength {
		return false
	}
	for _, r := range id {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func checkClaimValue(name, value string) error {
	if value == "" {
		return issueError(CodeInvalidClaims, nil, "ticket claim %s is empty", name)
	}
	if len(value) > maxClaimLength {
		return issueError(CodeInvalidClaims, nil, "ticket claim %s is longer than %d bytes", name, maxClaimLength)
	}
	if strings.IndexFunc(value, unicode.IsControl) >= 0 {
		return issueError(CodeInvalidClaims, nil, "ticket claim %s contains control characters", name)
	}
	return nil
}
