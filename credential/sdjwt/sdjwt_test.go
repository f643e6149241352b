package sdjwt_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/eidgate/eidgate/credential/sdjwt"
	"github.com/eidgate/eidgate/routing"
)

// The issuer key of RFC 9901 Appendix A.5.
var rfcIssuer = sdjwt.JWK{Kty: "EC", Crv: "P-256", X: "b28d4MwZMjw8-00CG4xfnn9SLMVMM19SlqZpVb_uNtQ", Y: "Xv5zWwuoaTgdS6hV43yI6gBwTnjukmFQQnJ_kCxzqk8"}

func read(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func issuerKey(t testing.TB) *ecdsa.PublicKey {
	t.Helper()
	pub, err := rfcIssuer.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

func holderOf(t testing.TB, tok *sdjwt.Token) *ecdsa.PublicKey {
	t.Helper()
	var p struct {
		Cnf struct {
			JWK sdjwt.JWK `json:"jwk"`
		} `json:"cnf"`
	}
	if err := json.Unmarshal(tok.JWS.Payload, &p); err != nil {
		t.Fatal(err)
	}
	pub, err := p.Cnf.JWK.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

func code(err error) string { return routing.CodeOf(err) }

// The published RFC 9901 example verifies with the published key and
// processes to the claims the RFC lists.
func TestRFC9901Issuance(t *testing.T) {
	t.Parallel()
	tok, err := sdjwt.Parse(read(t, "rfc9901_simple_issuance.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.JWS.Verify(issuerKey(t)); err != nil {
		t.Fatal(err)
	}
	if len(tok.Disclosures) != 10 || tok.KB != nil {
		t.Fatalf("%d disclosures, kb %v", len(tok.Disclosures), tok.KB != nil)
	}
	p, err := tok.Process()
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(p.Claims)
	for _, want := range []string{`"given_name":"John"`, `"email":"johndoe@example.com"`, `"nationalities":["US","DE"]`,
		`"updated_at":1570000000`, `"phone_number_verified":true`, `"country":"US"`} {
		if !strings.Contains(string(got), want) {
			t.Errorf("processed claims lack %s: %s", want, got)
		}
	}
	if strings.Contains(string(got), "_sd") {
		t.Errorf("processed claims keep _sd: %s", got)
	}
}

func TestRFC9901Presentation(t *testing.T) {
	t.Parallel()
	tok, err := sdjwt.Parse(read(t, "rfc9901_simple_presentation.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.JWS.Verify(issuerKey(t)); err != nil {
		t.Fatal(err)
	}
	p, err := tok.Process()
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(p.Claims)
	if !strings.Contains(string(got), `"nationalities":["US"]`) || strings.Contains(string(got), "email") || !strings.Contains(string(got), `"given_name":"John"`) {
		t.Fatalf("processed: %s", got)
	}
	check := sdjwt.KeyBindingCheck{Holder: holderOf(t, tok), Audience: "https://verifier.example.org", Nonce: "1234567890",
		At: time.Unix(1748536865, 0).Add(time.Minute), MaxAge: 5 * time.Minute, Skew: time.Minute}
	if _, err := tok.VerifyKeyBinding(check); err != nil {
		t.Fatal(err)
	}
	bad := check
	bad.Nonce = "other"
	if _, err := tok.VerifyKeyBinding(bad); code(err) != sdjwt.CodeKBNonce {
		t.Errorf("wrong nonce: %v", err)
	}
	bad = check
	bad.Audience = "https://evil.example"
	if _, err := tok.VerifyKeyBinding(bad); code(err) != sdjwt.CodeKBAudience {
		t.Errorf("wrong audience: %v", err)
	}
	bad = check
	bad.At = check.At.Add(time.Hour)
	if _, err := tok.VerifyKeyBinding(bad); code(err) != sdjwt.CodeKBStale {
		t.Errorf("stale: %v", err)
	}
}

// The SD-JWT VC draft's example is an SD-JWT like any other: it verifies
// with the same published key, including its key binding.
func TestSDJWTVCExamples(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"sdjwtvc_issuance.txt", "sdjwtvc_presentation.txt"} {
		tok, err := sdjwt.Parse(read(t, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if tok.JWS.Header.Typ != "dc+sd-jwt" {
			t.Errorf("%s: typ %q", name, tok.JWS.Header.Typ)
		}
		if err := tok.JWS.Verify(issuerKey(t)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		p, err := tok.Process()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if tok.KB != nil {
			var kb sdjwt.KBPayload
			_ = json.Unmarshal(tok.KB.Payload, &kb)
			if _, err := tok.VerifyKeyBinding(sdjwt.KeyBindingCheck{Holder: holderOf(t, tok), Audience: "https://example.com/verifier",
				Nonce: "1234567890", At: time.Unix(kb.IAT, 0), MaxAge: time.Minute}); err != nil {
				t.Fatalf("%s key binding: %v", name, err)
			}
			if len(p.Disclosed) != 2 {
				t.Errorf("%s disclosed %v", name, p.Disclosed)
			}
		}
	}
}

// Tampering with a published SD-JWT is caught with a stable code.
func TestTampering(t *testing.T) {
	t.Parallel()
	issued := read(t, "rfc9901_simple_issuance.txt")
	parts := strings.Split(issued, "~")
	jws := parts[0]
	extra, _ := sdjwt.NewDisclosure("email", "attacker@example.com")
	forged := base64.RawURLEncoding.EncodeToString([]byte(`["2GLC42sKQveCfGfryNRN9w", "given_name", "Jane"]`))
	cases := []struct {
		name, token, code string
		atProcess         bool
	}{
		{"extra disclosure", jws + "~" + parts[1] + "~" + extra.Encoded + "~", sdjwt.CodeDisclosureUnused, true},
		{"altered disclosure value", jws + "~" + forged + "~", sdjwt.CodeDisclosureUnused, true},
		{"repeated disclosure", jws + "~" + parts[1] + "~" + parts[1] + "~", sdjwt.CodeDisclosureRepeated, false},
		{"disclosure not base64url", jws + "~a+b~", sdjwt.CodeDisclosure, false},
		{"disclosure of one element", jws + "~" + base64.RawURLEncoding.EncodeToString([]byte(`["s"]`)) + "~", sdjwt.CodeDisclosure, false},
		{"disclosure naming _sd", jws + "~" + base64.RawURLEncoding.EncodeToString([]byte(`["s","_sd",1]`)) + "~", sdjwt.CodeDisclosure, false},
		{"no tilde", jws, sdjwt.CodeMalformed, false},
		{"empty disclosure", jws + "~~", sdjwt.CodeMalformed, false},
		{"too large", jws + "~" + strings.Repeat("A", sdjwt.MaxTokenSize) + "~", sdjwt.CodeTooLarge, false},
		{"too many disclosures", jws + strings.Repeat("~"+parts[1], sdjwt.MaxDisclosures+1) + "~", sdjwt.CodeTooLarge, false},
		{"bad key binding", jws + "~eyJhbGciOiJub25lIn0.e30.", sdjwt.CodeKBInvalid, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tok, err := sdjwt.Parse(c.token)
			if !c.atProcess {
				if code(err) != c.code {
					t.Fatalf("parse: %v, want %s", err, c.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tok.Process(); code(err) != c.code {
				t.Fatalf("process: %v, want %s", err, c.code)
			}
		})
	}
}

// Algorithm confusion: none, HS256 and a header claiming ES256 over a
// non-ES256 signature are all refused before any key is consulted.
func TestAlgorithmConfusion(t *testing.T) {
	t.Parallel()
	enc := base64.RawURLEncoding
	payload := enc.EncodeToString([]byte(`{"iss":"x"}`))
	for name, header := range map[string]string{
		"none":      `{"alg":"none"}`,
		"HS256":     `{"alg":"HS256"}`,
		"ES384":     `{"alg":"ES384"}`,
		"lowercase": `{"alg":"es256"}`,
		"missing":   `{"typ":"vc+sd-jwt"}`,
	} {
		tok := enc.EncodeToString([]byte(header)) + "." + payload + "." + enc.EncodeToString(make([]byte, 64)) + "~"
		if _, err := sdjwt.Parse(tok); code(err) != sdjwt.CodeAlgorithm {
			t.Errorf("%s: %v", name, err)
		}
	}
	crit := enc.EncodeToString([]byte(`{"alg":"ES256","crit":["x"]}`)) + "." + payload + "." + enc.EncodeToString(make([]byte, 64)) + "~"
	if _, err := sdjwt.Parse(crit); code(err) != sdjwt.CodeMalformed {
		t.Errorf("crit: %v", err)
	}
	// A JWK that is an HMAC secret or a private key is no verification key.
	for name, k := range map[string]sdjwt.JWK{
		"oct":      {Kty: "oct"},
		"P-384":    {Kty: "EC", Crv: "P-384", X: rfcIssuer.X, Y: rfcIssuer.Y},
		"private":  {Kty: "EC", Crv: "P-256", X: rfcIssuer.X, Y: rfcIssuer.Y, D: "AAAA"},
		"off":      {Kty: "EC", Crv: "P-256", X: rfcIssuer.X, Y: rfcIssuer.X},
		"RS256":    {Kty: "EC", Crv: "P-256", X: rfcIssuer.X, Y: rfcIssuer.Y, Alg: "RS256"},
		"short x":  {Kty: "EC", Crv: "P-256", X: "AA", Y: rfcIssuer.Y},
		"no alg":   {Kty: "EC", Crv: "P-256", X: rfcIssuer.X, Y: "!!"},
		"overlong": {Kty: "EC", Crv: "P-256", X: rfcIssuer.X + "AA", Y: rfcIssuer.Y},
	} {
		if _, err := k.PublicKey(); code(err) != sdjwt.CodeKey {
			t.Errorf("%s: %v", name, err)
		}
	}
	// The published token does not verify with another P-256 key.
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tok, _ := sdjwt.Parse(read(t, "rfc9901_simple_issuance.txt"))
	if err := tok.JWS.Verify(&other.PublicKey); code(err) != sdjwt.CodeSignature {
		t.Errorf("other key: %v", err)
	}
}

// Issue, present a subset with key binding, and verify: the round trip
// of this package's own output.
func TestIssuePresentVerify(t *testing.T) {
	t.Parallel()
	issuer, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	holder, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	hj, _ := sdjwt.PublicJWK(&holder.PublicKey)
	subject, ds, err := sdjwt.Conceal(map[string]any{"id": "did:x", "degree": "bachelor", "major": "law", "gpa": 3.5}, "id")
	if err != nil {
		t.Fatal(err)
	}
	payload := map[string]any{"iss": "did:x:issuer", "credentialSubject": subject, "cnf": map[string]any{"jwk": hj}}
	issued, err := sdjwt.Issue(issuer, sdjwt.Header{Typ: "vc+sd-jwt"}, payload, ds)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := sdjwt.Parse(issued)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	pres, err := sdjwt.Present(tok, func(d sdjwt.Disclosure) bool { return d.Name == "degree" }, holder, "did:eidgate:dept:hr", "n-1", now)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := sdjwt.Parse(pres)
	if err != nil {
		t.Fatal(err)
	}
	if err := pt.JWS.Verify(&issuer.PublicKey); err != nil {
		t.Fatal(err)
	}
	p, err := pt.Process()
	if err != nil {
		t.Fatal(err)
	}
	cs := p.Claims["credentialSubject"].(map[string]any)
	if cs["degree"] != "bachelor" {
		t.Fatalf("cs[\"degree\"] = %q, want \"bachelor\"; processed: %+v %v", cs["degree"], cs, p.Disclosed)
	}
	if cs["major"] != nil {
		t.Fatalf("cs[\"major\"] = %v, want nil; processed: %+v %v", cs["major"], cs, p.Disclosed)
	}
	if cs["id"] != "did:x" {
		t.Fatalf("cs[\"id\"] = %q, want \"did:x\"; processed: %+v %v", cs["id"], cs, p.Disclosed)
	}
	if len(p.Disclosed) != 1 {
		t.Fatalf("len(p.Disclosed) = %v, want 1; processed: %+v %v", len(p.Disclosed), cs, p.Disclosed)
	}
	if p.Disclosed[0] != "credentialSubject.degree" {
		t.Fatalf("p.Disclosed[0] = %q, want \"credentialSubject.degree\"; processed: %+v %v", p.Disclosed[0], cs, p.Disclosed)
	}
	if _, err := pt.VerifyKeyBinding(sdjwt.KeyBindingCheck{Holder: &holder.PublicKey, Audience: "did:eidgate:dept:hr", Nonce: "n-1", At: now, MaxAge: time.Minute}); err != nil {
		t.Fatal(err)
	}
	// A disclosure added after key binding breaks sd_hash.
	i := strings.LastIndex(pres, "~")
	var extra string
	for _, d := range tok.Disclosures {
		if d.Name == "major" {
			extra = d.Encoded
		}
	}
	spliced, _ := sdjwt.Parse(pres[:i+1] + extra + "~" + pres[i+1:])
	if _, err := spliced.VerifyKeyBinding(sdjwt.KeyBindingCheck{Holder: &holder.PublicKey, Audience: "did:eidgate:dept:hr", Nonce: "n-1", At: now, MaxAge: time.Minute}); code(err) != sdjwt.CodeKBHash {
		t.Fatalf("spliced disclosure: %v", err)
	}
	// Another holder's key does not bind.
	if _, err := pt.VerifyKeyBinding(sdjwt.KeyBindingCheck{Holder: &issuer.PublicKey, Audience: "did:eidgate:dept:hr", Nonce: "n-1", At: now, MaxAge: time.Minute}); code(err) != sdjwt.CodeKBInvalid {
		t.Fatalf("other holder: %v", err)
	}
}
