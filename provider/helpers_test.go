package provider

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// The tests sign tickets by hand rather than through routing/ticket, so
// they can also build every kind of bad ticket.

var t0 = time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)

// fakeClock is a settable clock.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time          { return c.now }
func (c *fakeClock) Advance(d time.Duration) { c.now = c.now.Add(d) }

type testKey struct {
	kid  string
	priv ed25519.PrivateKey
}

func newTestKey(t testing.TB, kid string) testKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{kid: kid, priv: priv}
}

func (k testKey) public() ed25519.PublicKey { return k.priv.Public().(ed25519.PublicKey) }

// jwks publishes the public halves of keys.
func jwks(t testing.TB, keys ...testKey) []byte {
	t.Helper()
	set := jose.JSONWebKeySet{}
	for _, k := range keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.public(), KeyID: k.kid, Algorithm: "EdDSA", Use: "sig"})
	}
	data, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func b64(data []byte) string { return base64.RawURLEncoding.EncodeToString(data) }

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// claimsAt returns a valid claim set issued at now for department edu.
func claimsAt(now time.Time) map[string]any {
	return map[string]any{
		"iss": "https://gateway.test",
		"aud": "edu",
		"sub": "did:eidgate:4kq2",
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(2 * time.Minute).Unix(),
		"jti": randomID(),
		"req": "hr",
		"dt":  "edu.degree",
		"cid": "consent-77",
		"aid": "access-1001",
		"pur": "employment-check",
		"dig": "sha256:" + strings.Repeat("ab", 32),
	}
}

func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return b64(b[:])
}

func defaultHeader(kid string) map[string]any {
	return map[string]any{"alg": "EdDSA", "typ": TokenType, "kid": kid}
}

// sign builds a compact JWS over header and claims with key.
func sign(t testing.TB, key testKey, header map[string]any, claims any) string {
	t.Helper()
	input := b64(mustJSON(t, header)) + "." + b64(mustJSON(t, claims))
	return input + "." + b64(ed25519.Sign(key.priv, []byte(input)))
}

// signHS256 builds the algorithm-confusion token: HMAC keyed with the
// gateway's public key bytes.
func signHS256(t testing.TB, secret []byte, header map[string]any, claims any) string {
	t.Helper()
	input := b64(mustJSON(t, header)) + "." + b64(mustJSON(t, claims))
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(input))
	return input + "." + b64(mac.Sum(nil))
}

func with(m map[string]any, key string, value any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	if value == nil {
		delete(out, key)
	} else {
		out[key] = value
	}
	return out
}
