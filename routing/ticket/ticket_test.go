package ticket

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/eidgate/eidgate/provider"
	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/routing/routingtest"
)

var t0 = time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)

const issuerName = "https://gateway.test"

type gateway struct {
	clock   *routingtest.Clock
	keyPath string
	keys    *Keyring
	issuer  *Issuer
}

func newGateway(t testing.TB) *gateway {
	t.Helper()
	clock := routingtest.NewClock(t0)
	path := filepath.Join(t.TempDir(), "data", KeyFileName)
	keys, err := OpenKeyring(path, clock)
	if err != nil {
		t.Fatal(err)
	}
	issuer, err := NewIssuer(IssuerConfig{Keys: keys, Issuer: issuerName, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	return &gateway{clock: clock, keyPath: path, keys: keys, issuer: issuer}
}

// providerFor builds the verifier a department would run, on a static copy
// of the gateway's current JWK Set.
func (g *gateway) providerFor(t testing.TB, department string) *provider.Verifier {
	t.Helper()
	doc, err := g.keys.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	set, err := provider.ParseKeySet(doc)
	if err != nil {
		t.Fatal(err)
	}
	v, err := provider.NewVerifier(provider.Config{Department: department, Issuer: issuerName, Keys: set, Now: g.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func sampleClaims() Claims {
	return Claims{
		Provider:  "edu",
		Subject:   "did:eidgate:4kq2",
		Requester: "hr",
		DataType:  "edu.degree",
		ConsentID: "consent-77",
		AccessID:  "access-1001",
		Purpose:   "employment-check",
		Digest:    "sha256:" + strings.Repeat("0f", 32),
	}
}

func decodeSegment(t testing.TB, token string, i int) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestIssueVerifyRoundTrip(t *testing.T) {
	g := newGateway(t)
	c := sampleClaims()
	tk, err := g.issuer.IssueTicket(c)
	if err != nil {
		t.Fatal(err)
	}

	header := decodeSegment(t, tk.Token, 0)
	if len(header) != 3 || header["alg"] != "EdDSA" || header["typ"] != "eidgate-ticket+jwt" || header["kid"] != g.keys.ActiveKeyID() {
		t.Errorf("header %v", header)
	}
	payload := decodeSegment(t, tk.Token, 1)
	for name, want := range map[string]any{
		"iss": issuerName, "aud": "edu", "sub": "did:eidgate:4kq2", "req": "hr", "dt": "edu.degree",
		"cid": "consent-77", "aid": "access-1001", "pur": "employment-check", "dig": c.Digest,
		"iat": float64(t0.Unix()), "nbf": float64(t0.Unix()), "exp": float64(t0.Add(DefaultLifetime).Unix()),
	} {
		if payload[name] != want {
			t.Errorf("claim %s = %v, want %v", name, payload[name], want)
		}
	}
	jti, _ := payload["jti"].(string)
	if len(jti) != 38 || strings.Trim(jti[:16], "0123456789abcdef") != "" {
		t.Errorf("jti %q does not begin with 16 hex digits of time", jti)
	} else if raw, err := base64.RawURLEncoding.DecodeString(jti[16:]); err != nil || len(raw) != 16 {
		t.Errorf("jti %q does not end in 128 bits of base64url", jti)
	}

	got, err := g.providerFor(t, "edu").Verify(context.Background(), tk.Token)
	if err != nil {
		t.Fatal(err)
	}
	if *got != tk.Claims {
		t.Errorf("verified claims\n got %+v\nwant %+v", *got, tk.Claims)
	}

	other, err := g.issuer.IssueTicket(c)
	if err != nil {
		t.Fatal(err)
	}
	if other.Claims.ID == tk.Claims.ID {
		t.Error("two tickets share a jti")
	}
}

func TestIssueLifetime(t *testing.T) {
	g := newGateway(t)
	for _, tc := range []struct {
		lifetime time.Duration
		want     time.Duration // 0: refused
	}{
		{0, DefaultLifetime},
		{time.Second, time.Second},
		{90 * time.Second, 90 * time.Second},
		{MaxLifetime, MaxLifetime},
		{MaxLifetime + time.Second, 0},
		{time.Hour, 0},
		{500 * time.Millisecond, 0},
		{-time.Minute, 0},
	} {
		c := sampleClaims()
		c.Lifetime = tc.lifetime
		tk, err := g.issuer.IssueTicket(c)
		if tc.want == 0 {
			if routing.CodeOf(err) != CodeLifetime {
				t.Errorf("lifetime %s: %v, want %s", tc.lifetime, err, CodeLifetime)
			}
			continue
		}
		if err != nil {
			t.Errorf("lifetime %s: %v", tc.lifetime, err)
			continue
		}
		if got := tk.Claims.Expiry.Sub(tk.Claims.IssuedAt); got != tc.want {
			t.Errorf("lifetime %s: exp - iat = %s, want %s", tc.lifetime, got, tc.want)
		}
		if _, err := g.providerFor(t, "edu").Verify(context.Background(), tk.Token); err != nil {
			t.Errorf("lifetime %s: provider refused: %v", tc.lifetime, err)
		}
	}

	// A clock between seconds: exp - iat still never exceeds five minutes.
	g.clock.Advance(999 * time.Millisecond)
	c := sampleClaims()
	c.Lifetime = MaxLifetime
	tk, err := g.issuer.IssueTicket(c)
	if err != nil {
		t.Fatal(err)
	}
	if d := tk.Claims.Expiry.Sub(tk.Claims.IssuedAt); d > MaxLifetime {
		t.Errorf("exp - iat = %s", d)
	}
}

func TestIssueRefusesBadClaims(t *testing.T) {
	g := newGateway(t)
	tests := []struct {
		name   string
		mutate func(*Claims)
	}{
		{"no provider", func(c *Claims) { c.Provider = "" }},
		{"no subject", func(c *Claims) { c.Subject = "" }},
		{"subject not a DID", func(c *Claims) { c.Subject = "110101199003077777" }},
		{"no requester", func(c *Claims) { c.Requester = "" }},
		{"no data type", func(c *Claims) { c.DataType = "" }},
		{"no consent", func(c *Claims) { c.ConsentID = "" }},
		{"no access id", func(c *Claims) { c.AccessID = "" }},
		{"no purpose", func(c *Claims) { c.Purpose = "" }},
		{"control character", func(c *Claims) { c.Requester = "hr\n" }},
		{"overlong claim", func(c *Claims) { c.AccessID = strings.Repeat("a", 257) }},
		{"digest without prefix", func(c *Claims) { c.Digest = strings.Repeat("0f", 32) }},
		{"digest upper case", func(c *Claims) { c.Digest = "sha256:" + strings.Repeat("0F", 32) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := sampleClaims()
			tc.mutate(&c)
			tok, err := g.issuer.Issue(c)
			if routing.CodeOf(err) != CodeInvalidClaims || tok != "" {
				t.Fatalf("Issue = %q, %v; want %s", tok, err, CodeInvalidClaims)
			}
			if strings.Contains(err.Error(), "110101199003077777") {
				t.Errorf("error %q repeats a document number", err)
			}
		})
	}
	if _, err := NewIssuer(IssuerConfig{Keys: g.keys, Issuer: "", Clock: g.clock}); err == nil {
		t.Error("issuer without a name accepted")
	}
}

func TestIssuedTicketChecksAtProvider(t *testing.T) {
	g := newGateway(t)
	ctx := context.Background()
	token, err := g.issuer.Issue(sampleClaims())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.providerFor(t, "civil").Verify(ctx, token); provider.CodeOf(err) != provider.CodeAudience {
		t.Errorf("other department: %v", err)
	}
	edu := g.providerFor(t, "edu")
	if _, err := edu.Verify(ctx, token); err != nil {
		t.Fatal(err)
	}
	if _, err := edu.Verify(ctx, token); provider.CodeOf(err) != provider.CodeReplayed {
		t.Errorf("second use: %v", err)
	}
	late, err := g.issuer.Issue(sampleClaims())
	if err != nil {
		t.Fatal(err)
	}
	g.clock.Advance(DefaultLifetime + provider.DefaultLeeway)
	if _, err := edu.Verify(ctx, late); provider.CodeOf(err) != provider.CodeExpired {
		t.Errorf("expired ticket: %v", err)
	}

	// A gateway with its own key file is a stranger to this provider.
	stranger := newGateway(t)
	foreign, err := stranger.issuer.Issue(sampleClaims())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := edu.Verify(ctx, foreign); provider.CodeOf(err) != provider.CodeUnknownKey {
		t.Errorf("ticket from another gateway: %v", err)
	}
}

func TestRotation(t *testing.T) {
	g := newGateway(t)
	ctx := context.Background()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		doc, err := g.keys.JWKS()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write(doc)
	}))
	defer srv.Close()
	remote, err := provider.NewRemoteKeySet(srv.URL+"/.well-known/jwks.json", provider.RemoteOptions{Client: srv.Client(), Now: g.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	edu, err := provider.NewVerifier(provider.Config{Department: "edu", Issuer: issuerName, Keys: remote, Now: g.clock.Now})
	if err != nil {
		t.Fatal(err)
	}

	firstKid := g.keys.ActiveKeyID()
	c := sampleClaims()
	c.Lifetime = MaxLifetime
	before, err := g.issuer.IssueTicket(c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := edu.Verify(ctx, mustIssue(t, g)); err != nil { // the provider learns the first key
		t.Fatal(err)
	}

	g.clock.Advance(time.Minute)
	newKid, err := g.keys.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	if newKid == firstKid || g.keys.ActiveKeyID() != newKid {
		t.Fatalf("rotation gave kid %q (was %q, active %q)", newKid, firstKid, g.keys.ActiveKeyID())
	}
	after, err := g.issuer.IssueTicket(sampleClaims())
	if err != nil {
		t.Fatal(err)
	}
	if kid := decodeSegment(t, after.Token, 0)["kid"]; kid != newKid {
		t.Errorf("ticket after rotation signed with %v, want %s", kid, newKid)
	}
	if got := jwksKids(t, g.keys); got != newKid+","+firstKid {
		t.Errorf("JWKS after rotation lists %s", got)
	}

	// The provider meets the new kid, fetches the JWKS again, and accepts;
	// the ticket signed before the rotation still verifies until it expires.
	if _, err := edu.Verify(ctx, after.Token); err != nil {
		t.Fatalf("ticket signed with the new key: %v", err)
	}
	if _, err := edu.Verify(ctx, before.Token); err != nil {
		t.Fatalf("ticket signed before the rotation: %v", err)
	}

	// The rotation is in the key file: another replica loads the same ring.
	replica, err := OpenKeyring(g.keyPath, g.clock)
	if err != nil {
		t.Fatal(err)
	}
	if replica.ActiveKeyID() != newKid || jwksKids(t, replica) != newKid+","+firstKid {
		t.Errorf("reloaded ring: active %s, JWKS %s", replica.ActiveKeyID(), jwksKids(t, replica))
	}

	// Once every ticket of the old key has expired everywhere, the key goes.
	g.clock.Advance(KeyRetention - time.Second)
	if got := jwksKids(t, g.keys); got != newKid+","+firstKid {
		t.Errorf("old key dropped too early: %s", got)
	}
	g.clock.Advance(time.Second)
	if got := jwksKids(t, g.keys); got != newKid {
		t.Errorf("JWKS after retention lists %s", got)
	}
	if _, err := g.keys.PublicKey(ctx, firstKid); err == nil {
		t.Error("the retired key still verifies after its retention")
	}
	third, err := g.keys.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(g.keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), firstKid) || !strings.Contains(string(data), third) || !strings.Contains(string(data), newKid) {
		t.Errorf("key file after the second rotation:\n%s", data)
	}
}

func mustIssue(t testing.TB, g *gateway) string {
	t.Helper()
	tok, err := g.issuer.Issue(sampleClaims())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func jwksKids(t testing.TB, k *Keyring) string {
	t.Helper()
	doc, err := k.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, key := range set.Keys {
		kids = append(kids, key["kid"].(string))
	}
	return strings.Join(kids, ",")
}

func TestJWKSPublishesPublicKeysOnly(t *testing.T) {
	g := newGateway(t)
	doc, err := g.keys.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 1 {
		t.Fatalf("JWKS %s", doc)
	}
	key := set.Keys[0]
	want := map[string]string{"kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA", "kid": g.keys.ActiveKeyID(), "x": key["x"]}
	if len(key) != len(want) {
		t.Errorf("JWK has members %v, want exactly %v", key, want)
	}
	for name, v := range want {
		if key[name] != v {
			t.Errorf("JWK %s = %q, want %q", name, key[name], v)
		}
	}
	// kid is the RFC 7638 thumbprint, computed here from its definition.
	input := `{"crv":"Ed25519","kty":"OKP","x":"` + key["x"] + `"}`
	sum := sha256.Sum256([]byte(input))
	if kid := base64.RawURLEncoding.EncodeToString(sum[:]); kid != key["kid"] {
		t.Errorf("kid %s is not the JWK thumbprint %s", key["kid"], kid)
	}
	x, err := base64.RawURLEncoding.DecodeString(key["x"])
	if err != nil || len(x) != ed25519.PublicKeySize {
		t.Errorf("x is not an Ed25519 public key")
	}
}

func TestKeyFile(t *testing.T) {
	g := newGateway(t)
	info, err := os.Stat(g.keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("new key file has mode %04o, want 0600", perm)
	}
	if dir, err := os.Stat(filepath.Dir(g.keyPath)); err != nil || dir.Mode().Perm() != 0o700 {
		t.Errorf("new data dir mode %v, %v", dir.Mode().Perm(), err)
	}
	again, err := OpenKeyring(g.keyPath, g.clock)
	if err != nil {
		t.Fatal(err)
	}
	if again.ActiveKeyID() != g.keys.ActiveKeyID() {
		t.Error("reopening the key file gave another key")
	}

	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660, 0o602} {
		if err := os.Chmod(g.keyPath, mode); err != nil {
			t.Fatal(err)
		}
		if _, err := OpenKeyring(g.keyPath, g.clock); routing.CodeOf(err) != CodeKeyFileInsecure {
			t.Errorf("mode %04o: %v, want %s", mode, err, CodeKeyFileInsecure)
		}
	}
	if err := os.Chmod(g.keyPath, 0o400); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenKeyring(g.keyPath, g.clock); err != nil {
		t.Errorf("read-only owner file refused: %v", err)
	}

	dirAsFile := filepath.Join(t.TempDir(), "keys")
	if err := os.Mkdir(dirAsFile, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenKeyring(dirAsFile, g.clock); routing.CodeOf(err) != CodeKeyFileInsecure {
		t.Errorf("directory as key file: %v", err)
	}
}

func TestKeyFileContents(t *testing.T) {
	g := newGateway(t)
	valid, err := os.ReadFile(g.keyPath)
	if err != nil {
		t.Fatal(err)
	}
	var doc keyFile
	if err := json.Unmarshal(valid, &doc); err != nil {
		t.Fatal(err)
	}
	entry := doc.Keys[0]
	other := newGateway(t)
	otherDoc := keyFile{}
	data, _ := os.ReadFile(other.keyPath)
	if err := json.Unmarshal(data, &otherDoc); err != nil {
		t.Fatal(err)
	}
	retired := t0
	encode := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	tests := []struct {
		name    string
		content string
	}{
		{"not JSON", "{"},
		{"unknown field", strings.Replace(string(valid), `"version"`, `"extra":1,"version"`, 1)},
		{"other version", encode(keyFile{Version: 2, Keys: doc.Keys})},
		{"no keys", encode(keyFile{Version: 1})},
		{"no active key", encode(keyFile{Version: 1, Keys: []keyFileEntry{{Kid: entry.Kid, Seed: entry.Seed, CreatedAt: t0, RetiredAt: &retired}}})},
		{"two active keys", encode(keyFile{Version: 1, Keys: []keyFileEntry{entry, otherDoc.Keys[0]}})},
		{"same key twice", encode(keyFile{Version: 1, Keys: []keyFileEntry{entry, {Kid: entry.Kid, Seed: entry.Seed, CreatedAt: t0, RetiredAt: &retired}}})},
		{"kid of another key", encode(keyFile{Version: 1, Keys: []keyFileEntry{{Kid: otherDoc.Keys[0].Kid, Seed: entry.Seed, CreatedAt: t0}}})},
		{"short seed", encode(keyFile{Version: 1, Keys: []keyFileEntry{{Kid: entry.Kid, Seed: entry.Seed[:20], CreatedAt: t0}}})},
		{"padded seed", encode(keyFile{Version: 1, Keys: []keyFileEntry{{Kid: entry.Kid, Seed: entry.Seed + "=", CreatedAt: t0}}})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), KeyFileName)
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := OpenKeyring(path, g.clock)
			if routing.CodeOf(err) != CodeKeyFileInvalid {
				t.Fatalf("%v, want %s", err, CodeKeyFileInvalid)
			}
			if strings.Contains(err.Error(), entry.Seed) {
				t.Error("error reveals the private key seed")
			}
		})
	}
}

func TestIntrospect(t *testing.T) {
	g := newGateway(t)
	ctx := context.Background()
	in, err := NewIntrospector(IntrospectorConfig{Keys: g.keys, Issuer: issuerName, Clock: g.clock})
	if err != nil {
		t.Fatal(err)
	}
	tk, err := g.issuer.IssueTicket(sampleClaims())
	if err != nil {
		t.Fatal(err)
	}

	// Another department may not learn about, or use up, the ticket.
	res, err := in.Check(ctx, "civil", tk.Token)
	if err != nil {
		t.Fatal(err)
	}
	if res.Active {
		t.Errorf("res.Active is true; introspection by another department: %+v", res)
	} else if res.Reason != provider.CodeAudience {
		t.Errorf("res.Reason = %v, want provider.CodeAudience; introspection by another department: %+v", res.Reason, res)
	}
	if body := mustMarshal(t, res.Body()); body != `{"active":false}` {
		t.Errorf("inactive response %s", body)
	}

	res, err = in.Check(ctx, "edu", tk.Token)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Active {
		t.Fatalf("res.Active is false; introspection by the provider: %+v", res)
	}
	if *res.Claims != tk.Claims {
		t.Fatalf("*res.Claims = %v, want tk.Claims; introspection by the provider: %+v", *res.Claims, res)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(mustMarshal(t, res.Body())), &body); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]any{
		"active": true, "token_type": "eidgate-ticket+jwt", "iss": issuerName, "aud": "edu",
		"sub": "did:eidgate:4kq2", "jti": tk.Claims.ID, "req": "hr", "dt": "edu.degree",
		"cid": "consent-77", "aid": "access-1001", "pur": "employment-check", "dig": tk.Claims.Digest,
		"exp": float64(tk.Claims.Expiry.Unix()),
	} {
		if body[name] != want {
			t.Errorf("response %s = %v, want %v", name, body[name], want)
		}
	}

	// Introspection is the single use.
	res, err = in.Check(ctx, "edu", tk.Token)
	if err != nil {
		t.Errorf("err = %v, want nil; second introspection: %+v, %v", err, res, err)
	} else if res.Active {
		t.Errorf("res.Active is true; second introspection: %+v, %v", res, err)
	} else if res.Reason != provider.CodeReplayed {
		t.Errorf("res.Reason = %v, want provider.CodeReplayed; second introspection: %+v, %v", res.Reason, res, err)
	}

	res, err = in.Check(ctx, "edu", "not-a-ticket")
	if err != nil {
		t.Errorf("err = %v, want nil; garbage: %+v, %v", err, res, err)
	} else if res.Active {
		t.Errorf("res.Active is true; garbage: %+v, %v", res, err)
	} else if res.Reason != provider.CodeMalformed {
		t.Errorf("res.Reason = %v, want provider.CodeMalformed; garbage: %+v, %v", res.Reason, res, err)
	}
	if _, err := in.Check(ctx, "", tk.Token); err == nil {
		t.Error("introspection without a caller")
	}
}

type brokenReplay struct{}

func (brokenReplay) Seen(context.Context, string, time.Time) (bool, error) {
	return false, os.ErrDeadlineExceeded
}

func TestIntrospectReplayOutage(t *testing.T) {
	g := newGateway(t)
	in, err := NewIntrospector(IntrospectorConfig{Keys: g.keys, Issuer: issuerName, Replay: brokenReplay{}, Clock: g.clock})
	if err != nil {
		t.Fatal(err)
	}
	res, err := in.Check(context.Background(), "edu", mustIssue(t, g))
	if err == nil {
		t.Errorf("err is nil; replay cache down: %+v, %v; want an unavailable error", res, err)
	} else if routing.KindOf(err) != routing.KindUnavailable {
		t.Errorf("routing.KindOf(err) != routing.KindUnavailable; replay cache down: %+v, %v; want an unavailable error", res, err)
	} else if routing.CodeOf(err) != "ticket_unavailable" {
		t.Errorf("routing.CodeOf(err) != \"ticket_unavailable\"; replay cache down: %+v, %v; want an unavailable error", res, err)
	} else if res != nil {
		t.Errorf("res = %v, want nil; replay cache down: %+v, %v; want an unavailable error", res, res, err)
	}
}

func mustMarshal(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func BenchmarkIssue(b *testing.B) {
	g := newGateway(b)
	c := sampleClaims()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.issuer.Issue(c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify measures a provider's full check of a fresh ticket:
// parse, header, Ed25519 signature, claims and the replay cache.
func BenchmarkVerify(b *testing.B) {
	g := newGateway(b)
	tokens := make([]string, b.N)
	for i := range tokens {
		tokens[i] = mustIssue(b, g)
	}
	v := g.providerFor(b, "edu")
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := v.Verify(ctx, tokens[i]); err != nil {
			b.Fatal(err)
		}
	}
}

func TestConcurrentIssueAndRotate(t *testing.T) {
	g := newGateway(t)
	in, err := NewIntrospector(IntrospectorConfig{Keys: g.keys, Issuer: issuerName, Clock: g.clock})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	tokens := make(chan string, 200)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				tok, err := g.issuer.Issue(sampleClaims())
				if err != nil {
					t.Error(err)
					return
				}
				tokens <- tok
			}
		}()
	}
	for range 3 {
		if _, err := g.keys.Rotate(); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	close(tokens)
	for tok := range tokens {
		res, err := in.Check(context.Background(), "edu", tok)
		if err != nil {
			t.Fatalf("err = %v, want nil; ticket issued during rotation: %+v, %v", err, res, err)
		}
		if !res.Active {
			t.Fatalf("res.Active is false; ticket issued during rotation: %+v, %v", res, err)
		}
	}
}

// The gateway's HTTP layer consumes introspection and the key set through
// this interface (gateway.Tickets).
var _ interface {
	Introspect(ctx context.Context, provider, token string) (map[string]any, error)
	JWKS() ([]byte, error)
} = (*Introspector)(nil)

func TestIntrospectBody(t *testing.T) {
	g := newGateway(t)
	in, err := NewIntrospector(IntrospectorConfig{Keys: g.keys, Issuer: issuerName, Clock: g.clock})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tk, err := g.issuer.IssueTicket(sampleClaims())
	if err != nil {
		t.Fatal(err)
	}
	body, err := in.Introspect(ctx, "edu", tk.Token)
	if err != nil {
		t.Fatal(err)
	}
	if body["active"] != true || body["aid"] != "access-1001" || body["exp"] != tk.Claims.Expiry.Unix() {
		t.Errorf("body %v", body)
	}
	body, err = in.Introspect(ctx, "edu", tk.Token)
	if err != nil || len(body) != 1 || body["active"] != false {
		t.Errorf("second introspection: %v, %v", body, err)
	}
	jwks, err := in.JWKS()
	if err != nil || !strings.Contains(string(jwks), g.keys.ActiveKeyID()) {
		t.Errorf("JWKS %s, %v", jwks, err)
	}
}

func TestForResolver(t *testing.T) {
	g := newGateway(t)
	issuer := g.issuer.ForResolver()
	jti := routing.NewTicketID()
	req := routing.TicketRequest{
		ID: jti, Requester: "hr", Provider: "edu", EID: "did:eidgate:4kq2", DataType: "edu.degree",
		ConsentID: "consent-77", AccessID: "access-1001", Purpose: "employment-check",
		Digest: "sha256:" + strings.Repeat("0f", 32),
	}
	tk, err := issuer.Issue(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if tk.ID != jti || !tk.ExpiresAt.Equal(t0.Add(DefaultLifetime)) {
		t.Errorf("ticket id %s expires %s", tk.ID, tk.ExpiresAt)
	}
	claims, err := g.providerFor(t, "edu").Verify(context.Background(), tk.Token)
	if err != nil {
		t.Fatal(err)
	}
	if claims.ID != jti {
		t.Errorf("claims.ID = %v, want jti; claims %+v", claims.ID, claims)
	} else if claims.Subject != req.EID {
		t.Errorf("claims.Subject = %v, want req.EID; claims %+v", claims.Subject, claims)
	} else if claims.Requester != "hr" {
		t.Errorf("claims.Requester = %q, want \"hr\"; claims %+v", claims.Requester, claims)
	} else if claims.AccessID != "access-1001" {
		t.Errorf("claims.AccessID = %q, want \"access-1001\"; claims %+v", claims.AccessID, claims)
	} else if claims.Digest != req.Digest {
		t.Errorf("claims.Digest = %v, want req.Digest; claims %+v", claims.Digest, claims)
	}

	// The resolver's errors classify as internal: a ticket that cannot be
	// issued is never the caller's fault.
	req.EID = ""
	_, err = issuer.Issue(context.Background(), req)
	if err == nil || routing.KindOf(err) != routing.KindInternal {
		t.Errorf("bad request: %v (kind %s)", err, routing.KindOf(err))
	}
	if wrapped := routing.Wrap("routing.Resolve", err); strings.Contains(wrapped.(*routing.Error).Message, "sub") {
		t.Errorf("public message %q leaks detail", wrapped.(*routing.Error).Message)
	}
}

func TestChosenTicketID(t *testing.T) {
	g := newGateway(t)
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{routing.NewTicketID(), true},
		{strings.Repeat("A", 22), true},
		{strings.Repeat("A", 64), true},
		{strings.Repeat("A", 21), false},
		{strings.Repeat("A", 65), false},
		{"abc+def/ghi=jklmnopqrstu", false},
		{"access 1001 ticket id 12", false},
	} {
		c := sampleClaims()
		c.ID = tc.id
		tk, err := g.issuer.IssueTicket(c)
		if tc.ok {
			if err != nil || tk.Claims.ID != tc.id {
				t.Errorf("id %q: %v", tc.id, err)
			}
		} else if routing.CodeOf(err) != CodeInvalidClaims {
			t.Errorf("id %q: %v, want %s", tc.id, err, CodeInvalidClaims)
		}
	}
}

// A ticket that cannot be issued is the gateway's own failure: the caller
// is told only that, the log gets what was wrong.
func TestIssueErrorTellsTheCallerLittleAndTheLogWhy(t *testing.T) {
	t.Parallel()
	g := newGateway(t)
	c := sampleClaims()
	c.Subject = "not a DID"
	_, err := g.issuer.IssueTicket(c)
	if got := routing.KindOf(err); got != routing.KindInternal {
		t.Errorf("kind %s, want internal", got)
	}
	if got := routing.MessageOf(err); got != "the access ticket could not be issued" {
		t.Errorf("caller's message %q", got)
	}
	if !strings.Contains(err.Error(), "claim sub must be an eID") {
		t.Errorf("logged text %q does not say which claim is wrong", err.Error())
	}
}

func TestNewIntrospectorNeedsIssuer(t *testing.T) {
	g := newGateway(t)
	if _, err := NewIntrospector(IntrospectorConfig{Keys: g.keys, Issuer: "", Clock: g.clock}); err == nil {
		t.Error("introspector without an issuer name built")
	}
}

func FuzzKeyFile(f *testing.F) {
	g := newGateway(f)
	valid, err := os.ReadFile(g.keyPath)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add([]byte(`{"version":1,"keys":[]}`))
	f.Add([]byte(`{"version":1,"keys":[{"kid":"x","seed":"AAAA","created_at":"2026-01-01T00:00:00Z"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := decodeKeyFile("fuzz", data)
		if err != nil {
			if routing.CodeOf(err) != CodeKeyFileInvalid {
				t.Fatalf("error without the invalid code: %v", err)
			}
			return
		}
		if len(keys) == 0 || !keys[0].retired.IsZero() {
			t.Fatal("decoded ring does not start with an active key")
		}
		for _, k := range keys[1:] {
			if k.retired.IsZero() {
				t.Fatal("two active keys")
			}
		}
		for _, k := range keys {
			if kid, err := thumbprint(k.public()); err != nil || kid != k.kid {
				t.Fatalf("kid %q does not match its key", k.kid)
			}
		}
	})
}

// TestTicketIsGoJoseCompactJWS checks the issuer's own encoding against
// go-jose's Sign and CompactSerialize over the same payload and key, before
// and after a rotation: Ed25519 signatures are deterministic, so the tokens
// must be byte for byte the same.
func TestTicketIsGoJoseCompactJWS(t *testing.T) {
	g := newGateway(t)
	for round := range 2 {
		if round == 1 {
			if _, err := g.keys.Rotate(); err != nil {
				t.Fatal(err)
			}
		}
		tk, err := g.issuer.IssueTicket(sampleClaims())
		if err != nil {
			t.Fatal(err)
		}
		payload, err := json.Marshal(tk.Claims)
		if err != nil {
			t.Fatal(err)
		}
		key := g.keys.active()
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: key.private},
			(&jose.SignerOptions{}).WithType(jose.ContentType(provider.TokenType)).WithHeader(jose.HeaderKey("kid"), key.kid))
		if err != nil {
			t.Fatal(err)
		}
		jws, err := signer.Sign(payload)
		if err != nil {
			t.Fatal(err)
		}
		want, err := jws.CompactSerialize()
		if err != nil {
			t.Fatal(err)
		}
		if tk.Token != want {
			t.Fatalf("round %d: token\n%s\nwant go-jose's\n%s", round, tk.Token, want)
		}
	}
}
