package provider

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type fixture struct {
	key      testKey
	clock    *fakeClock
	verifier *Verifier
	replay   *MemoryReplayCache
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	key := newTestKey(t, "key-1")
	keys, err := ParseKeySet(jwks(t, key))
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{now: t0}
	replay := NewMemoryReplayCache(0, clock.Now)
	v, err := NewVerifier(Config{Department: "edu", Issuer: "https://gateway.test", Keys: keys, Replay: replay, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{key: key, clock: clock, verifier: v, replay: replay}
}

func TestVerifyValidTicket(t *testing.T) {
	f := newFixture(t)
	claims := claimsAt(t0)
	got, err := f.verifier.Verify(context.Background(), sign(t, f.key, defaultHeader("key-1"), claims))
	if err != nil {
		t.Fatal(err)
	}
	want := Claims{
		Issuer: "https://gateway.test", Audience: "edu", Subject: "did:eidgate:4kq2",
		IssuedAt: t0, NotBefore: t0, Expiry: t0.Add(2 * time.Minute),
		ID: claims["jti"].(string), Requester: "hr", DataType: "edu.degree",
		ConsentID: "consent-77", AccessID: "access-1001", Purpose: "employment-check",
		Digest: "sha256:" + strings.Repeat("ab", 32),
	}
	if *got != want {
		t.Errorf("claims\n got %+v\nwant %+v", *got, want)
	}
	// dig is optional.
	if _, err := f.verifier.Verify(context.Background(), sign(t, f.key, defaultHeader("key-1"), with(claimsAt(t0), "dig", nil))); err != nil {
		t.Errorf("ticket without dig: %v", err)
	}
}

func TestVerifyRefuses(t *testing.T) {
	key := newTestKey(t, "key-1")
	other := newTestKey(t, "key-1") // same kid, different key
	valid := claimsAt(t0)
	hdr := defaultHeader("key-1")

	tamperedPayload := func() string {
		tok := sign(t, key, hdr, valid)
		parts := strings.Split(tok, ".")
		parts[1] = b64(mustJSON(t, with(valid, "aud", "civil")))
		return strings.Join(parts, ".")
	}()
	tamperedHeader := func() string {
		tok := sign(t, key, hdr, valid)
		parts := strings.Split(tok, ".")
		parts[0] = b64([]byte(`{"typ":"` + TokenType + `", "alg":"EdDSA", "kid":"key-1"}`))
		return strings.Join(parts, ".")
	}()
	truncatedSig := func() string {
		tok := sign(t, key, hdr, valid)
		return tok[:len(tok)-4]
	}()

	tests := []struct {
		name  string
		token string
		at    time.Duration // clock offset from t0 at verification
		code  Code
	}{
		{"empty", "", 0, CodeMalformed},
		{"two parts", "a.b", 0, CodeMalformed},
		{"four parts", sign(t, key, hdr, valid) + ".x", 0, CodeMalformed},
		{"garbage", "!!!.@@@.###", 0, CodeMalformed},
		{"oversized", strings.Repeat("a", MaxTokenSize) + "..", 0, CodeMalformed},
		{"header not JSON", b64([]byte("nope")) + "." + b64([]byte("{}")) + ".", 0, CodeMalformed},
		{"alg none", b64(mustJSON(t, with(hdr, "alg", "none"))) + "." + b64(mustJSON(t, valid)) + ".", 0, CodeAlgorithm},
		{"alg none signed", sign(t, key, with(hdr, "alg", "none"), valid), 0, CodeAlgorithm},
		{"alg missing", sign(t, key, with(hdr, "alg", nil), valid), 0, CodeAlgorithm},
		{"alg HS256 keyed with the public key", signHS256(t, key.public(), with(hdr, "alg", "HS256"), valid), 0, CodeAlgorithm},
		{"alg RS256", sign(t, key, with(hdr, "alg", "RS256"), valid), 0, CodeAlgorithm},
		{"alg Ed25519 spelled differently", sign(t, key, with(hdr, "alg", "eddsa"), valid), 0, CodeAlgorithm},
		{"typ missing", sign(t, key, with(hdr, "typ", nil), valid), 0, CodeType},
		{"typ JWT", sign(t, key, with(hdr, "typ", "JWT"), valid), 0, CodeType},
		{"kid missing", sign(t, key, with(hdr, "kid", nil), valid), 0, CodeMalformed},
		{"kid not a string", sign(t, key, with(hdr, "kid", 7), valid), 0, CodeMalformed},
		{"crit header", sign(t, key, with(hdr, "crit", []string{"exp"}), valid), 0, CodeMalformed},
		{"b64 header", sign(t, key, with(hdr, "b64", false), valid), 0, CodeMalformed},
		{"embedded jwk", sign(t, key, with(hdr, "jwk", map[string]any{"kty": "OKP"}), valid), 0, CodeMalformed},
		{"unknown kid", sign(t, key, with(hdr, "kid", "key-9"), valid), 0, CodeUnknownKey},
		{"signed by another key", sign(t, other, hdr, valid), 0, CodeSignature},
		{"tampered payload", tamperedPayload, 0, CodeSignature},
		{"re-encoded header", tamperedHeader, 0, CodeSignature},
		{"truncated signature", truncatedSig, 0, CodeSignature},
		{"claims not an object", sign(t, key, hdr, []int{1}), 0, CodeMalformed},
		{"iat not an integer", sign(t, key, hdr, with(valid, "iat", 1.5)), 0, CodeMalformed},
		{"exp as string", sign(t, key, hdr, with(valid, "exp", "soon")), 0, CodeMalformed},
		{"exp negative", sign(t, key, hdr, with(valid, "exp", -1)), 0, CodeMalformed},
		{"exp in year 10000", sign(t, key, hdr, with(valid, "exp", int64(253402300800))), 0, CodeMalformed},
		{"aud as array", sign(t, key, hdr, with(valid, "aud", []string{"edu"})), 0, CodeMalformed},
		{"jti too long", sign(t, key, hdr, with(valid, "jti", strings.Repeat("j", MaxIDLength+1))), 0, CodeMalformed},
		{"other issuer", sign(t, key, hdr, with(valid, "iss", "https://evil.test")), 0, CodeIssuer},
		{"other audience", sign(t, key, hdr, with(valid, "aud", "civil")), 0, CodeAudience},
		{"lifetime over five minutes", sign(t, key, hdr, with(valid, "exp", t0.Add(5*time.Minute+time.Second).Unix())), 0, CodeLifetime},
		{"nbf long before exp", sign(t, key, hdr, with(with(valid, "nbf", t0.Add(-10*time.Minute).Unix()), "exp", t0.Add(time.Minute).Unix())), 0, CodeLifetime},
		{"exp at iat", sign(t, key, hdr, with(valid, "exp", t0.Unix())), 0, CodeLifetime},
		{"exp before iat", sign(t, key, hdr, with(valid, "exp", t0.Add(-time.Second).Unix())), 0, CodeLifetime},
		{"expired", sign(t, key, hdr, valid), 2*time.Minute + DefaultLeeway, CodeExpired},
		{"long expired", sign(t, key, hdr, valid), time.Hour, CodeExpired},
		{"not yet valid (nbf)", sign(t, key, hdr, with(with(valid, "nbf", t0.Add(time.Minute).Unix()), "exp", t0.Add(3*time.Minute).Unix())), 0, CodeNotYetValid},
		{"issued in the future", sign(t, key, hdr, with(with(with(valid, "iat", t0.Add(time.Minute).Unix()), "nbf", t0.Add(time.Minute).Unix()), "exp", t0.Add(3*time.Minute).Unix())), 0, CodeNotYetValid},
	}
	for _, claim := range []string{"iss", "aud", "sub", "iat", "nbf", "exp", "jti", "req", "dt", "cid", "aid", "pur"} {
		tests = append(tests, struct {
			name  string
			token string
			at    time.Duration
			code  Code
		}{"missing " + claim, sign(t, key, hdr, with(valid, claim, nil)), 0, CodeMalformed})
		if claim != "iat" && claim != "nbf" && claim != "exp" {
			tests = append(tests, struct {
				name  string
				token string
				at    time.Duration
				code  Code
			}{"empty " + claim, sign(t, key, hdr, with(valid, claim, "")), 0, CodeMalformed})
		}
	}

	keys, err := ParseKeySet(jwks(t, key))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{now: t0.Add(tc.at)}
			replay := NewMemoryReplayCache(0, clock.Now)
			v, err := NewVerifier(Config{Department: "edu", Issuer: "https://gateway.test", Keys: keys, Replay: replay, Now: clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			claims, err := v.Verify(context.Background(), tc.token)
			if got := CodeOf(err); got != tc.code {
				t.Fatalf("code %q (%v), want %q", got, err, tc.code)
			}
			if claims != nil {
				t.Error("claims returned with an error")
			}
			if replay.Len() != 0 {
				t.Error("a refused ticket was marked used")
			}
			if strings.Contains(err.Error(), "did:eidgate") {
				t.Errorf("error %q reveals the eID", err)
			}
		})
	}
}

func TestLeeway(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// Just before exp + leeway: accepted.
	f.clock.now = t0.Add(2*time.Minute + DefaultLeeway - time.Second)
	if _, err := f.verifier.Verify(ctx, sign(t, f.key, defaultHeader("key-1"), claimsAt(t0))); err != nil {
		t.Errorf("ticket within the leeway after exp: %v", err)
	}
	// A gateway clock slightly ahead: nbf 20 s in the future is accepted.
	f.clock.now = t0.Add(-20 * time.Second)
	if _, err := f.verifier.Verify(ctx, sign(t, f.key, defaultHeader("key-1"), claimsAt(t0))); err != nil {
		t.Errorf("ticket within the leeway before nbf: %v", err)
	}
	f.clock.now = t0.Add(-DefaultLeeway - time.Second)
	if _, err := f.verifier.Verify(ctx, sign(t, f.key, defaultHeader("key-1"), claimsAt(t0))); CodeOf(err) != CodeNotYetValid {
		t.Errorf("ticket beyond the leeway before nbf: %v", err)
	}

	for _, leeway := range []time.Duration{-time.Second, MaxLeeway + time.Second} {
		if _, err := NewVerifier(Config{Department: "edu", Keys: &KeySet{}, Leeway: leeway}); err == nil {
			t.Errorf("leeway %s accepted", leeway)
		}
	}
}

func TestReplayRefused(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	token := sign(t, f.key, defaultHeader("key-1"), claimsAt(t0))
	if _, err := f.verifier.Verify(ctx, token); err != nil {
		t.Fatal(err)
	}
	if _, err := f.verifier.Verify(ctx, token); CodeOf(err) != CodeReplayed {
		t.Fatalf("second use: %v, want %s", err, CodeReplayed)
	}
	// Still refused near the end of its validity.
	f.clock.Advance(2*time.Minute + DefaultLeeway - time.Second)
	if _, err := f.verifier.Verify(ctx, token); CodeOf(err) != CodeReplayed {
		t.Fatalf("late second use: %v, want %s", err, CodeReplayed)
	}
	// After that it is expired; the cache has forgotten it, the clock has not.
	f.clock.Advance(time.Second)
	if _, err := f.verifier.Verify(ctx, token); CodeOf(err) != CodeExpired {
		t.Fatalf("use after expiry: %v, want %s", err, CodeExpired)
	}
	if n := f.replay.Len(); n != 0 {
		t.Errorf("replay cache still holds %d ids after they expired", n)
	}
}

func TestRefusedTicketIsNotConsumed(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	token := sign(t, f.key, defaultHeader("key-1"), claimsAt(t0))
	if _, err := f.verifier.VerifyFor(ctx, token, "civil"); CodeOf(err) != CodeAudience {
		t.Fatalf("wrong department: %v", err)
	}
	if _, err := f.verifier.Verify(ctx, token); err != nil {
		t.Fatalf("the addressed department was refused after a wrong one tried: %v", err)
	}
}

func TestConcurrentUseAcceptsExactlyOnce(t *testing.T) {
	f := newFixture(t)
	token := sign(t, f.key, defaultHeader("key-1"), claimsAt(t0))
	var ok, replayed atomic.Int32
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.verifier.Verify(context.Background(), token)
			switch CodeOf(err) {
			case "":
				ok.Add(1)
			case CodeReplayed:
				replayed.Add(1)
			default:
				t.Errorf("unexpected: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1 || replayed.Load() != 31 {
		t.Errorf("accepted %d times, refused as replay %d times", ok.Load(), replayed.Load())
	}
}

func TestReplayCacheBounded(t *testing.T) {
	clock := &fakeClock{now: t0}
	c := NewMemoryReplayCache(3, clock.Now)
	ctx := context.Background()
	for i, id := range []string{"a", "b", "c"} {
		if seen, err := c.Seen(ctx, id, t0.Add(time.Duration(i+1)*time.Minute)); seen || err != nil {
			t.Fatalf("Seen(%s) = %v, %v", id, seen, err)
		}
	}
	if _, err := c.Seen(ctx, "d", t0.Add(time.Minute)); !errors.Is(err, ErrReplayCacheFull) {
		t.Fatalf("full cache took another id: %v", err)
	}
	if seen, _ := c.Seen(ctx, "a", t0.Add(time.Minute)); !seen {
		t.Error("a full cache forgot a live id")
	}
	clock.Advance(time.Minute) // "a" expires
	if seen, err := c.Seen(ctx, "d", t0.Add(2*time.Minute)); seen || err != nil {
		t.Fatalf("after eviction Seen(d) = %v, %v", seen, err)
	}
	if c.Len() != 3 {
		t.Errorf("Len = %d, want 3", c.Len())
	}
	clock.Advance(time.Hour)
	if c.Len() != 0 {
		t.Errorf("Len after every id expired = %d", c.Len())
	}

	// A full cache makes verification fail closed.
	f := newFixture(t)
	full := NewMemoryReplayCache(1, f.clock.Now)
	v, err := NewVerifier(Config{Department: "edu", Keys: mustKeySet(t, f.key), Replay: full, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(ctx, sign(t, f.key, defaultHeader("key-1"), claimsAt(t0))); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(ctx, sign(t, f.key, defaultHeader("key-1"), claimsAt(t0))); CodeOf(err) != CodeUnavailable {
		t.Errorf("full replay cache: %v, want %s", err, CodeUnavailable)
	}
}

type failingReplay struct{}

func (failingReplay) Seen(context.Context, string, time.Time) (bool, error) {
	return false, errors.New("redis: connection refused")
}

func TestReplayCacheFailureFailsClosed(t *testing.T) {
	f := newFixture(t)
	v, err := NewVerifier(Config{Department: "edu", Keys: mustKeySet(t, f.key), Replay: failingReplay{}, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), sign(t, f.key, defaultHeader("key-1"), claimsAt(t0))); CodeOf(err) != CodeUnavailable {
		t.Errorf("got %v, want %s", err, CodeUnavailable)
	}
}

func TestVerifyNeedsDepartment(t *testing.T) {
	f := newFixture(t)
	v, err := NewVerifier(Config{Keys: mustKeySet(t, f.key), Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), sign(t, f.key, defaultHeader("key-1"), claimsAt(t0))); err == nil {
		t.Error("a verifier without a department accepted a ticket")
	}
	if _, err := NewVerifier(Config{Department: "edu"}); err == nil {
		t.Error("a verifier without keys was built")
	}
}

func TestClaimsJSON(t *testing.T) {
	c := Claims{Issuer: "i", Audience: "a", Subject: "did:x:1", IssuedAt: t0, NotBefore: t0, Expiry: t0.Add(time.Minute),
		ID: "j", Requester: "r", DataType: "d", ConsentID: "c", AccessID: "x", Purpose: "p"}
	data, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"iss":"i","aud":"a","sub":"did:x:1","iat":1772357400,"nbf":1772357400,"exp":1772357460,"jti":"j","req":"r","dt":"d","cid":"c","aid":"x","pur":"p"}`
	if string(data) != want {
		t.Errorf("got  %s\nwant %s", data, want)
	}
	back, err := decodeClaims(data)
	if err != nil {
		t.Errorf("err = %v, want nil; round trip: %+v, %v", err, back, err)
	} else if *back != c {
		t.Errorf("*back = %v, want c; round trip: %+v, %v", *back, back, err)
	}
}

func mustKeySet(t testing.TB, keys ...testKey) *KeySet {
	t.Helper()
	set, err := ParseKeySet(jwks(t, keys...))
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func FuzzVerify(f *testing.F) {
	key := newTestKey(f, "key-1")
	keys := mustKeySet(f, key)
	claims := claimsAt(t0)
	valid := sign(f, key, defaultHeader("key-1"), claims)
	f.Add(valid)
	f.Add(sign(f, key, with(defaultHeader("key-1"), "alg", "none"), claims))
	f.Add(signHS256(f, key.public(), with(defaultHeader("key-1"), "alg", "HS256"), claims))
	f.Add(sign(f, key, defaultHeader("key-1"), with(claims, "exp", "x")))
	f.Add("eyJhbGciOiJFZERTQSJ9..")
	f.Add("...")
	f.Add("")
	f.Fuzz(func(t *testing.T, token string) {
		clock := &fakeClock{now: t0}
		v, err := NewVerifier(Config{Department: "edu", Keys: keys, Replay: NewMemoryReplayCache(0, clock.Now), Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		got, err := v.Verify(context.Background(), token)
		if err != nil {
			code := CodeOf(err)
			if code == "" || code == CodeUnavailable || got != nil {
				t.Fatalf("bad failure: code %q claims %v err %v", code, got, err)
			}
			return
		}
		// Nothing can be accepted but a ticket the key signed: the fuzzer
		// holds only the one valid token (and its base64 re-spellings).
		if got.ID != claims["jti"] {
			t.Fatalf("got.ID = %v, want claims[\"jti\"]; accepted a ticket the gateway never signed: %+v", got.ID, got)
		}
		if got.Audience != "edu" {
			t.Fatalf("got.Audience = %q, want \"edu\"; accepted a ticket the gateway never signed: %+v", got.Audience, got)
		}
	})
}
