package routing

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/routing/digest"
)

// RecordEnvelope is a record as a provider serves it and as `eidgate
// verify` reads it from a file: the record JSON, the salt of its digest,
// and which route entry it claims to match.
type RecordEnvelope struct {
	EID      string          `json:"eid"`
	DataType string          `json:"data_type"`
	Provider string          `json:"provider"`
	Version  uint64          `json:"version,omitempty"`
	Salt     string          `json:"salt"` // base64url, no padding
	Record   json.RawMessage `json:"record"`
}

// Verification is the outcome of checking a record against the ledger.
type Verification struct {
	Valid          bool   `json:"valid"`
	DigestMatches  bool   `json:"digest_matches"`
	SignatureValid bool   `json:"signature_valid"`
	RouteStatus    string `json:"route_status"`
	Version        uint64 `json:"version"`
	Digest         string `json:"digest"`          // on chain
	ComputedDigest string `json:"computed_digest"` // from the record and salt
	KID            string `json:"kid"`
	Provider       string `json:"provider"`
	PublishedAt    string `json:"published_at"`
	Reason         string `json:"reason,omitempty"`
}

// Verifier checks records offline from their provider: only the ledger's
// route entry and the provider's registered signing key are consulted.
type Verifier struct {
	routes   RouteLedger
	registry RegistryLedger
}

// VerifierConfig is what a Verifier is built from.
type VerifierConfig struct {
	Routes   RouteLedger    // required
	Registry RegistryLedger // required
}

// NewVerifier checks cfg and builds the verifier.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	const op = "routing.NewVerifier"
	switch {
	case cfg.Routes == nil:
		return nil, MissingDependency(op, "a route ledger")
	case cfg.Registry == nil:
		return nil, MissingDependency(op, "a registry ledger")
	}
	return &Verifier{routes: cfg.Routes, registry: cfg.Registry}, nil
}

const opVerify = "routing.Verify"

// Verify checks env.Record against the on-chain digest and the provider's
// signature over the route statement. A record that does not match is a
// successful verification with Valid false and a reason.
func (v *Verifier) Verify(ctx context.Context, env RecordEnvelope) (*Verification, error) {
	switch {
	case !model.ValidDID(env.EID):
		return nil, Invalid(opVerify, "eid", "eid must be a did:eidgate: identifier")
	case !model.ValidDataTypeCode(env.DataType):
		return nil, Invalid(opVerify, "data_type", "data_type must be a data type code")
	case !model.ValidDepartmentID(env.Provider):
		return nil, Invalid(opVerify, "provider", "provider must be a department id")
	case len(env.Record) == 0:
		return nil, Invalid(opVerify, "record", "record is required")
	}
	salt, err := digest.DecodeSalt(env.Salt)
	if err != nil {
		return nil, Invalid(opVerify, "salt", "salt must be 16 to 64 bytes in base64url")
	}
	computed, err := digest.Compute(env.Record, salt)
	if err != nil {
		return nil, Invalid(opVerify, "record", "record is not canonicalisable JSON (%s)", CodeOf(err))
	}
	entries, err := v.routes.GetRoutes(ctx, env.EID, env.DataType)
	if err != nil {
		return nil, Wrap(opVerify, err)
	}
	var entry *model.RouteEntry
	for i := range entries {
		if entries[i].Provider == env.Provider {
			entry = &entries[i]
		}
	}
	if entry == nil {
		return nil, (&Error{Kind: KindNotFound, Op: opVerify, Message: "no route entry on the ledger for this eID, data type and provider"}).WithCode("no_route")
	}
	out := &Verification{
		RouteStatus: entry.Status, Version: entry.Version, Digest: entry.Digest, ComputedDigest: computed,
		KID: entry.KID, Provider: entry.Provider, PublishedAt: entry.PublishedAt,
	}
	out.DigestMatches = subtle.ConstantTimeCompare([]byte(computed), []byte(entry.Digest)) == 1
	dept, err := v.registry.GetDepartment(ctx, entry.Provider)
	if err != nil {
		return nil, Wrap(opVerify, err)
	}
	if key, ok := dept.Key(entry.KID); ok {
		out.SignatureValid = model.VerifyRoute(key.PublicKeyPEM, entry.Signed()) == nil
	}
	switch {
	case env.Version != 0 && env.Version != entry.Version:
		out.Reason = fmt.Sprintf("the ledger holds version %d of this record, not %d", entry.Version, env.Version)
	case !out.DigestMatches:
		out.Reason = "the record does not match the digest on the ledger"
	case !out.SignatureValid:
		out.Reason = "the provider's signature over the route entry does not verify with its registered key"
	case entry.Status != model.RouteValid:
		out.Reason = "the provider revoked this route entry"
	default:
		out.Valid = true
	}
	return out, nil
}

// Proxy fetches a record from its provider with the ticket and checks it
// against the on-chain digest before handing it on (proxy mode).
type Proxy struct {
	client    *http.Client
	store     AccessStore
	maxRecord int64
}

// ProxyConfig is what a Proxy is built from.
type ProxyConfig struct {
	Store  AccessStore  // required: flags an access whose record does not match
	Client *http.Client // default a client with a 10 s timeout
	// MaxRecord bounds the provider's answer (default 1 MiB).
	MaxRecord int64
}

// NewProxy checks cfg and builds the proxy.
func NewProxy(cfg ProxyConfig) (*Proxy, error) {
	if cfg.Store == nil {
		return nil, MissingDependency("routing.NewProxy", "an access store")
	}
	p := &Proxy{client: cfg.Client, store: cfg.Store, maxRecord: cfg.MaxRecord}
	if p.client == nil {
		p.client = &http.Client{Timeout: 10 * time.Second}
	}
	return p, nil
}

// ProxiedRecord is a record fetched and checked by the gateway.
type ProxiedRecord struct {
	Record json.RawMessage `json:"record"`
	Salt   string          `json:"salt"`
	Digest string          `json:"digest"`
}

const opProxy = "routing.Proxy"

// Fetch asks the provider for the record the resolve result names. The
// provider protocol: GET <endpoint>/v1/records?eid=…&data_type=… with
// "Authorization: Bearer <ticket>", answering a RecordEnvelope. A record
// whose digest differs from the route entry is refused with 502
// digest_mismatch and the access record is flagged.
func (p *Proxy) Fetch(ctx context.Context, res *ResolveResult) (*ProxiedRecord, error) {
	u, err := url.Parse(res.Provider.Endpoint)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, (&Error{Kind: KindBadGateway, Op: opProxy, Message: "the provider's endpoint is not a URL"}).WithCode("provider_unavailable")
	}
	u = u.JoinPath("v1", "records")
	q := url.Values{"eid": {res.EID}, "data_type": {res.DataType}}
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, Wrap(opProxy, err)
	}
	req.Header.Set("Authorization", "Bearer "+res.Ticket)
	req.Header.Set("Accept", "application/json")
	client := p.client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, (&Error{Kind: KindBadGateway, Op: opProxy, Message: "the provider did not answer", Err: err}).WithCode("provider_unavailable")
	}
	defer resp.Body.Close()
	limit := p.maxRecord
	if limit <= 0 {
		limit = 1 << 20
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, (&Error{Kind: KindBadGateway, Op: opProxy, Message: "the provider's answer was cut off", Err: err}).WithCode("provider_unavailable")
	}
	if resp.StatusCode != http.StatusOK {
		return nil, (&Error{Kind: KindBadGateway, Op: opProxy, Message: fmt.Sprintf("the provider answered %d", resp.StatusCode)}).WithCode("provider_error")
	}
	if int64(len(body)) > limit {
		return nil, (&Error{Kind: KindBadGateway, Op: opProxy, Message: "the provider's record is too large"}).WithCode("provider_error")
	}
	var env RecordEnvelope
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&env); err != nil || len(env.Record) == 0 {
		return nil, (&Error{Kind: KindBadGateway, Op: opProxy, Message: "the provider's answer is not a record envelope"}).WithCode("provider_error")
	}
	salt, err := digest.DecodeSalt(env.Salt)
	var computed string
	if err == nil {
		computed, err = digest.Compute(env.Record, salt)
	}
	if err != nil || computed != res.Digest {
		reason := "delivered record does not match the on-chain digest"
		if err != nil {
			reason = "delivered record cannot be digested: " + string(CodeOf(err))
		}
		if ferr := p.store.FlagAccess(context.WithoutCancel(ctx), res.AccessID, reason, computed); ferr != nil {
			err = errors.Join(err, ferr)
		}
		return nil, (&Error{Kind: KindBadGateway, Op: opProxy, Message: "the provider's record does not match the digest on the ledger; the access is flagged", Err: err}).WithCode("digest_mismatch")
	}
	return &ProxiedRecord{Record: env.Record, Salt: env.Salt, Digest: computed}, nil
}
