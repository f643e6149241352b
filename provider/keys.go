package provider

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// KeySource gives the gateway's public ticket-signing keys by key id.
// Implementations return an error wrapping ErrKeyNotFound when they hold no
// such key; any other error makes verification fail with CodeUnavailable.
type KeySource interface {
	PublicKey(ctx context.Context, kid string) (ed25519.PublicKey, error)
}

// KeySet is a fixed set of Ed25519 verification keys parsed from a JWK Set.
type KeySet struct {
	keys map[string]ed25519.PublicKey
}

// maxJWKSSize bounds a JWK Set document.
const maxJWKSSize = 1 << 20

// privateMembers are JWK members that carry private key material.
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "k", "priv"}

// ParseKeySet reads a JWK Set (RFC 7517), e.g. the body of the gateway's
// /.well-known/jwks.json. It keeps the Ed25519 signing keys (kty OKP, crv
// Ed25519, use sig or absent, alg EdDSA or absent) and skips other keys. A
// set holding private key material, a usable key without kid, two keys with
// one kid, or no usable key at all is refused.
func ParseKeySet(jwks []byte) (*KeySet, error) {
	if len(jwks) > maxJWKSSize {
		return nil, fmt.Errorf("JWK set is larger than %d bytes", maxJWKSSize)
	}
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(jwks, &doc); err != nil {
		return nil, fmt.Errorf("JWK set is not valid JSON: %w", err)
	}
	set := &KeySet{keys: make(map[string]ed25519.PublicKey, len(doc.Keys))}
	for i, raw := range doc.Keys {
		var members map[string]json.RawMessage
		if err := json.Unmarshal(raw, &members); err != nil {
			return nil, fmt.Errorf("JWK set key %d is not a JSON object", i)
		}
		for _, m := range privateMembers {
			if _, ok := members[m]; ok {
				return nil, fmt.Errorf("JWK set key %d holds private key material (%q); publish public keys only", i, m)
			}
		}
		var head struct {
			Kty string `json:"kty"`
			Crv string `json:"crv"`
			Kid string `json:"kid"`
			Use string `json:"use"`
			Alg string `json:"alg"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			return nil, fmt.Errorf("JWK set key %d: %w", i, err)
		}
		if head.Kty != "OKP" || head.Crv != "Ed25519" ||
			(head.Use != "" && head.Use != "sig") || (head.Alg != "" && head.Alg != Algorithm) {
			continue // not a ticket-signing key
		}
		var jwk jose.JSONWebKey
		if err := jwk.UnmarshalJSON(raw); err != nil {
			return nil, fmt.Errorf("JWK set key %d is not a valid Ed25519 key: %w", i, err)
		}
		pub, ok := jwk.Key.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("JWK set key %d is not an Ed25519 public key", i)
		}
		if head.Kid == "" {
			return nil, fmt.Errorf("JWK set key %d has no kid", i)
		}
		if _, dup := set.keys[head.Kid]; dup {
			return nil, fmt.Errorf("JWK set has two keys with kid %q", head.Kid)
		}
		set.keys[head.Kid] = pub
	}
	if len(set.keys) == 0 {
		return nil, errors.New("JWK set holds no Ed25519 signing key")
	}
	return set, nil
}

// PublicKey returns the key with id kid.
func (s *KeySet) PublicKey(_ context.Context, kid string) (ed25519.PublicKey, error) {
	if k, ok := s.keys[kid]; ok {
		return k, nil
	}
	return nil, ErrKeyNotFound
}

// KeyIDs lists the key ids in the set, sorted.
func (s *KeySet) KeyIDs() []string {
	ids := make([]string, 0, len(s.keys))
	for id := range s.keys {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// RemoteOptions tune a RemoteKeySet. The zero value is sensible.
type RemoteOptions struct {
	// Client fetches the JWK Set; nil means a client with a 10 s timeout.
	Client *http.Client
	// MinRefreshInterval is the least time between two fetches, so that
	// tickets with made-up key ids cannot make the provider hammer the
	// gateway. Default 30 s.
	MinRefreshInterval time.Duration
	// MaxAge is how long fetched keys are used before they are fetched
	// again on next use. Default 1 h. If that fetch fails the old keys stay
	// in use and the fetch is retried after MinRefreshInterval.
	MaxAge time.Duration
	// AllowHTTP permits a plain-http URL on a non-loopback host (test
	// networks only). https, and http on loopback, are always allowed.
	AllowHTTP bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// RemoteKeySet fetches the gateway's JWK Set over HTTP, caches it, and
// fetches it again when a ticket names a key id it does not hold (the gateway
// has rotated its signing key), at most once per MinRefreshInterval.
type RemoteKeySet struct {
	url    string
	client *http.Client
	minGap time.Duration
	maxAge time.Duration
	now    func() time.Time

	fetch sync.Mutex // one fetch at a time

	mu          sync.Mutex
	set         *KeySet
	fetchedAt   time.Time // last successful fetch
	attemptedAt time.Time // last fetch, successful or not
}

// NewRemoteKeySet prepares a key set fetched from jwksURL, typically
// https://<gateway>/.well-known/jwks.json. Nothing is fetched until the
// first ticket arrives (or Refresh is called).
func NewRemoteKeySet(jwksURL string, opts RemoteOptions) (*RemoteKeySet, error) {
	u, err := url.Parse(jwksURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("JWKS URL %q must be an absolute https URL", jwksURL)
	}
	if u.Scheme == "http" && !opts.AllowHTTP && !isLoopback(u.Hostname()) {
		return nil, fmt.Errorf("JWKS URL %q must use https (plain http is allowed only on loopback)", jwksURL)
	}
	r := &RemoteKeySet{
		url:    u.String(),
		client: opts.Client,
		minGap: opts.MinRefreshInterval,
		maxAge: opts.MaxAge,
		now:    opts.Now,
	}
	if r.client == nil {
		r.client = &http.Client{Timeout: 10 * time.Second}
	}
	if r.minGap <= 0 {
		r.minGap = 30 * time.Second
	}
	if r.maxAge <= 0 {
		r.maxAge = time.Hour
	}
	if r.now == nil {
		r.now = time.Now
	}
	return r, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// PublicKey returns the key with id kid, fetching the JWK Set when it has
// not been fetched yet, is older than MaxAge, or lacks kid (rate-limited).
func (r *RemoteKeySet) PublicKey(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	set, fresh, mayFetch := r.state()
	if set != nil {
		if k, err := set.PublicKey(ctx, kid); err == nil && fresh {
			return k, nil
		}
	}
	if !mayFetch {
		if set == nil {
			return nil, errors.New("gateway keys are not available yet; the last fetch failed")
		}
		return set.PublicKey(ctx, kid)
	}
	fetchErr := r.refresh(ctx, true)
	set, _, _ = r.state()
	if set == nil {
		return nil, fetchErr
	}
	// A failed fetch leaves the previous keys in use.
	return set.PublicKey(ctx, kid)
}

// state reports the cached set, whether it is younger than MaxAge, and
// whether a fetch is allowed now.
func (r *RemoteKeySet) state() (set *KeySet, fresh, mayFetch bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	fresh = r.set != nil && now.Sub(r.fetchedAt) < r.maxAge
	mayFetch = r.attemptedAt.IsZero() || now.Sub(r.attemptedAt) >= r.minGap
	return r.set, fresh, mayFetch
}

// Refresh fetches the JWK Set now, regardless of MinRefreshInterval.
func (r *RemoteKeySet) Refresh(ctx context.Context) error {
	return r.refresh(ctx, false)
}

func (r *RemoteKeySet) refresh(ctx context.Context, rateLimited bool) error {
	r.fetch.Lock()
	defer r.fetch.Unlock()
	// Another caller may have fetched while this one waited.
	if rateLimited {
		if _, _, mayFetch := r.state(); !mayFetch {
			return nil
		}
	}
	r.mu.Lock()
	r.attemptedAt = r.now()
	r.mu.Unlock()

	set, err := r.download(ctx)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.set = set
	r.fetchedAt = r.now()
	r.mu.Unlock()
	return nil
}

func (r *RemoteKeySet) download(ctx context.Context) (*KeySet, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching gateway keys: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching gateway keys from %s: HTTP status %d", r.url, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading gateway keys: %w", err)
	}
	set, err := ParseKeySet(body)
	if err != nil {
		return nil, fmt.Errorf("gateway keys from %s: %w", r.url, err)
	}
	return set, nil
}
