package provider

import (
	"context"
	"crypto/ed25519"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseKeySet(t *testing.T) {
	a, b := newTestKey(t, "a"), newTestKey(t, "b")
	set, err := ParseKeySet(jwks(t, a, b))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(set.KeyIDs(), ","); got != "a,b" {
		t.Errorf("KeyIDs = %s", got)
	}
	k, err := set.PublicKey(context.Background(), "b")
	if err != nil || !k.Equal(b.public()) {
		t.Errorf("PublicKey(b) = %x, %v", k, err)
	}
	if _, err := set.PublicKey(context.Background(), "c"); !errors.Is(err, ErrKeyNotFound) {
		t.Errorf("PublicKey(c) = %v", err)
	}

	x := b64(a.public())
	okp := func(extra string) string {
		return `{"kty":"OKP","crv":"Ed25519","x":"` + x + `"` + extra + `}`
	}
	tests := []struct {
		name  string
		doc   string
		kids  string // the kept key ids, or "" when the set must be refused
		error string
	}{
		{"minimal key", `{"keys":[` + okp(`,"kid":"a"`) + `]}`, "a", ""},
		{"other key types skipped", `{"keys":[{"kty":"RSA","kid":"r","n":"AQAB","e":"AQAB"},{"kty":"EC","crv":"P-256","kid":"e"},` + okp(`,"kid":"a"`) + `]}`, "a", ""},
		{"encryption key skipped", `{"keys":[` + okp(`,"kid":"enc","use":"enc"`) + `,` + okp(`,"kid":"a","use":"sig"`) + `]}`, "a", ""},
		{"other alg skipped", `{"keys":[` + okp(`,"kid":"x","alg":"ES256"`) + `,` + okp(`,"kid":"a","alg":"EdDSA"`) + `]}`, "a", ""},
		{"private key", `{"keys":[` + okp(`,"kid":"a","d":"`+b64(a.priv.Seed())+`"`) + `]}`, "", "private key material"},
		{"private key among skipped ones", `{"keys":[{"kty":"oct","kid":"s","k":"c2VjcmV0"},` + okp(`,"kid":"a"`) + `]}`, "", "private key material"},
		{"no kid", `{"keys":[` + okp(``) + `]}`, "", "no kid"},
		{"duplicate kid", `{"keys":[` + okp(`,"kid":"a"`) + `,` + okp(`,"kid":"a"`) + `]}`, "", "two keys"},
		{"short x", `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"a","x":"AAAA"}]}`, "", "not a valid Ed25519 key"},
		{"low-order point", `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"a","x":"` + b64(make([]byte, ed25519.PublicKeySize)) + `"}]}`, "", "not a valid Ed25519 key"},
		{"empty set", `{"keys":[]}`, "", "no Ed25519 signing key"},
		{"not JSON", `keys`, "", "not valid JSON"},
		{"key not an object", `{"keys":[1]}`, "", "not a JSON object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set, err := ParseKeySet([]byte(tc.doc))
			if tc.kids == "" {
				if err == nil || !strings.Contains(err.Error(), tc.error) {
					t.Fatalf("err = %v, want one mentioning %q", err, tc.error)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(set.KeyIDs(), ","); got != tc.kids {
				t.Errorf("kept %q, want %q", got, tc.kids)
			}
		})
	}
}

// jwksServer serves a JWK Set that the test can replace, and counts fetches.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	body    []byte
	status  int
	fetches atomic.Int32
}

func newJWKSServer(t *testing.T, body []byte) *jwksServer {
	s := &jwksServer{body: body, status: http.StatusOK}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.WriteHeader(s.status)
		_, _ = w.Write(s.body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) serve(status int, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.body = status, body
}

func TestRemoteKeySetRefreshesOnUnknownKid(t *testing.T) {
	old, rotated := newTestKey(t, "old"), newTestKey(t, "new")
	srv := newJWKSServer(t, jwks(t, old))
	clock := &fakeClock{now: t0}
	keys, err := NewRemoteKeySet(srv.URL+"/.well-known/jwks.json", RemoteOptions{Client: srv.Client(), Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(Config{Department: "edu", Keys: keys, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	if _, err := v.Verify(ctx, sign(t, old, defaultHeader("old"), claimsAt(t0))); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(ctx, sign(t, old, defaultHeader("old"), claimsAt(t0))); err != nil {
		t.Fatal(err)
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches for two tickets with a known key, want 1", n)
	}

	// The gateway rotates; a ticket with the new kid triggers one fetch,
	// provided MinRefreshInterval has passed since the last.
	srv.serve(http.StatusOK, jwks(t, rotated, old))
	clock.Advance(30 * time.Second)
	if _, err := v.Verify(ctx, sign(t, rotated, defaultHeader("new"), claimsAt(clock.now))); err != nil {
		t.Fatalf("ticket with the rotated key: %v", err)
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches after the rotation, want 2", n)
	}

	// Made-up kids do not make the provider hammer the gateway.
	for i := range 5 {
		_, err := v.Verify(ctx, sign(t, rotated, defaultHeader("forged-"+string(rune('a'+i))), claimsAt(clock.now)))
		if CodeOf(err) != CodeUnknownKey {
			t.Fatalf("forged kid: %v", err)
		}
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches after unknown kids within the refresh interval, want 2", n)
	}
	clock.Advance(30 * time.Second)
	if _, err := v.Verify(ctx, sign(t, rotated, defaultHeader("forged-z"), claimsAt(clock.now))); CodeOf(err) != CodeUnknownKey {
		t.Fatalf("forged kid: %v", err)
	}
	if n := srv.fetches.Load(); n != 3 {
		t.Fatalf("%d fetches once the interval passed, want 3", n)
	}
}

func TestRemoteKeySetMaxAgeAndOutages(t *testing.T) {
	key := newTestKey(t, "k")
	srv := newJWKSServer(t, nil)
	srv.serve(http.StatusServiceUnavailable, []byte("down"))
	clock := &fakeClock{now: t0}
	keys, err := NewRemoteKeySet(srv.URL, RemoteOptions{Client: srv.Client(), Now: clock.Now, MaxAge: 10 * time.Minute, MinRefreshInterval: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(Config{Department: "edu", Keys: keys, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	verify := func() error {
		_, err := v.Verify(ctx, sign(t, key, defaultHeader("k"), claimsAt(clock.now)))
		return err
	}

	// No keys ever fetched: unavailable, not "unknown key".
	if err := verify(); CodeOf(err) != CodeUnavailable {
		t.Fatalf("gateway down at start: %v, want %s", err, CodeUnavailable)
	}
	if err := verify(); CodeOf(err) != CodeUnavailable {
		t.Fatalf("gateway down, within the retry interval: %v", err)
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches, want 1 (retries wait for the interval)", n)
	}

	srv.serve(http.StatusOK, jwks(t, key))
	clock.Advance(time.Minute)
	if err := verify(); err != nil {
		t.Fatalf("gateway back: %v", err)
	}

	// Keys older than MaxAge are fetched again; if that fails the cached
	// keys stay in use.
	srv.serve(http.StatusInternalServerError, nil)
	clock.Advance(11 * time.Minute)
	before := srv.fetches.Load()
	if err := verify(); err != nil {
		t.Fatalf("stale keys with the gateway down: %v", err)
	}
	if srv.fetches.Load() != before+1 {
		t.Fatal("stale keys were not fetched again")
	}

	// A set the provider cannot use is an outage too.
	srv.serve(http.StatusOK, []byte(`{"keys":[]}`))
	if err := keys.Refresh(ctx); err == nil || !strings.Contains(err.Error(), "no Ed25519 signing key") {
		t.Fatalf("Refresh with an empty set: %v", err)
	}
}

func TestNewRemoteKeySetURL(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"https://gateway.example.gov/.well-known/jwks.json", true},
		{"http://127.0.0.1:8080/.well-known/jwks.json", true},
		{"http://localhost/.well-known/jwks.json", true},
		{"http://[::1]/.well-known/jwks.json", true},
		{"http://gateway.example.gov/.well-known/jwks.json", false},
		{"/.well-known/jwks.json", false},
		{"ftp://gateway.example.gov/jwks.json", false},
		{"https://", false},
	} {
		_, err := NewRemoteKeySet(tc.url, RemoteOptions{})
		if (err == nil) != tc.ok {
			t.Errorf("NewRemoteKeySet(%q) error = %v, want ok=%v", tc.url, err, tc.ok)
		}
	}
	if _, err := NewRemoteKeySet("http://gateway.internal/jwks.json", RemoteOptions{AllowHTTP: true}); err != nil {
		t.Errorf("AllowHTTP: %v", err)
	}
}

func TestRemoteKeySetOversizedBody(t *testing.T) {
	srv := newJWKSServer(t, []byte(`{"keys":[`+strings.Repeat(" ", maxJWKSSize)+`]}`))
	keys, err := NewRemoteKeySet(srv.URL, RemoteOptions{Client: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.Refresh(context.Background()); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("oversized JWKS: %v", err)
	}
}
