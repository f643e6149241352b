package provider

import (
	"encoding/json"
	"time"
)

// Fixed parameters of the ticket format.
const (
	// TokenType is the JOSE "typ" header of every ticket.
	TokenType = "eidgate-ticket+jwt"
	// Algorithm is the only signature algorithm a ticket may use.
	Algorithm = "EdDSA"
	// MaxLifetime bounds exp - iat and exp - nbf.
	MaxLifetime = 5 * time.Minute
	// DefaultLeeway absorbs clock skew between gateway and provider.
	DefaultLeeway = 30 * time.Second
	// MaxLeeway is the largest leeway a Verifier accepts.
	MaxLeeway = time.Minute
	// MaxTokenSize bounds the compact JWS a verifier will look at; real
	// tickets are well under 1 KiB.
	MaxTokenSize = 8 << 10
	// MaxIDLength bounds jti, which verifiers keep in their replay caches.
	MaxIDLength = 64
)

// Claims are the verified contents of an access ticket. The ticket binds one
// access: requester A may fetch data type DataType about resident Subject
// from provider Audience, under consent ConsentID, as recorded in access
// record AccessID.
type Claims struct {
	Issuer    string    // iss: the gateway
	Audience  string    // aud: the provider department, the one that must serve the request
	Subject   string    // sub: the resident's eID (a DID)
	IssuedAt  time.Time // iat
	NotBefore time.Time // nbf
	Expiry    time.Time // exp
	ID        string    // jti: 128 random bits, base64url; single use
	Requester string    // req: the requesting department
	DataType  string    // dt: the data type code, e.g. edu.degree
	ConsentID string    // cid: the consent the access relies on
	AccessID  string    // aid: the access record written before the ticket was issued
	Purpose   string    // pur: the purpose code
	Digest    string    // dig: the expected record digest ("sha256:…"), optional
	// Predicate (prd) names the yes/no question the ticket was issued for;
	// a ticket that carries one entitles its bearer to that answer only,
	// never to the record.
	Predicate string
}

// maxNumericDate is 9999-12-31T23:59:59Z.
const maxNumericDate = 253402300799

// wireClaims is the JSON payload of a ticket. Pointers tell a missing claim
// from an empty one.
type wireClaims struct {
	Issuer    *string `json:"iss"`
	Audience  *string `json:"aud"`
	Subject   *string `json:"sub"`
	IssuedAt  *int64  `json:"iat"`
	NotBefore *int64  `json:"nbf"`
	Expiry    *int64  `json:"exp"`
	ID        *string `json:"jti"`
	Requester *string `json:"req"`
	DataType  *string `json:"dt"`
	ConsentID *string `json:"cid"`
	AccessID  *string `json:"aid"`
	Purpose   *string `json:"pur"`
	Digest    *string `json:"dig,omitempty"`
	Predicate *string `json:"prd,omitempty"`
}

// MarshalJSON writes the claims in the ticket's payload form, times as
// NumericDate (whole seconds since the epoch).
func (c Claims) MarshalJSON() ([]byte, error) {
	iat, nbf, exp := c.IssuedAt.Unix(), c.NotBefore.Unix(), c.Expiry.Unix()
	w := wireClaims{
		Issuer: &c.Issuer, Audience: &c.Audience, Subject: &c.Subject,
		IssuedAt: &iat, NotBefore: &nbf, Expiry: &exp,
		ID: &c.ID, Requester: &c.Requester, DataType: &c.DataType,
		ConsentID: &c.ConsentID, AccessID: &c.AccessID, Purpose: &c.Purpose,
	}
	if c.Digest != "" {
		w.Digest = &c.Digest
	}
	if c.Predicate != "" {
		w.Predicate = &c.Predicate
	}
	return json.Marshal(w)
}

// decodeClaims parses a verified payload and checks every required claim is
// present and non-empty.
func decodeClaims(payload []byte) (*Claims, error) {
	var w wireClaims
	if err := json.Unmarshal(payload, &w); err != nil {
		return nil, newError(CodeMalformed, nil, "ticket claims are not valid (iat, nbf and exp must be integers, the rest strings)")
	}
	required := []struct {
		name  string
		value *string
	}{
		{"iss", w.Issuer}, {"aud", w.Audience}, {"sub", w.Subject}, {"jti", w.ID},
		{"req", w.Requester}, {"dt", w.DataType}, {"cid", w.ConsentID},
		{"aid", w.AccessID}, {"pur", w.Purpose},
	}
	for _, r := range required {
		if r.value == nil || *r.value == "" {
			return nil, newError(CodeMalformed, nil, "ticket claim %s is missing", r.name)
		}
	}
	for _, r := range []struct {
		name  string
		value *int64
	}{{"iat", w.IssuedAt}, {"nbf", w.NotBefore}, {"exp", w.Expiry}} {
		if r.value == nil {
			return nil, newError(CodeMalformed, nil, "ticket claim %s is missing", r.name)
		}
		// Far-off dates would overflow time arithmetic; no ticket needs them.
		if *r.value < 0 || *r.value > maxNumericDate {
			return nil, newError(CodeMalformed, nil, "ticket claim %s is out of range", r.name)
		}
	}
	if len(*w.ID) > MaxIDLength {
		return nil, newError(CodeMalformed, nil, "ticket claim jti is longer than %d characters", MaxIDLength)
	}
	c := &Claims{
		Issuer:    *w.Issuer,
		Audience:  *w.Audience,
		Subject:   *w.Subject,
		IssuedAt:  time.Unix(*w.IssuedAt, 0).UTC(),
		NotBefore: time.Unix(*w.NotBefore, 0).UTC(),
		Expiry:    time.Unix(*w.Expiry, 0).UTC(),
		ID:        *w.ID,
		Requester: *w.Requester,
		DataType:  *w.DataType,
		ConsentID: *w.ConsentID,
		AccessID:  *w.AccessID,
		Purpose:   *w.Purpose,
	}
	if w.Digest != nil {
		c.Digest = *w.Digest
	}
	if w.Predicate != nil {
		c.Predicate = *w.Predicate
	}
	return c, nil
}
