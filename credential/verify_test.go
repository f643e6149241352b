package credential_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/credential"
	"github.com/eidgate/eidgate/credential/sdjwt"
	"github.com/eidgate/eidgate/routing"
)

func verify(t testing.TB, w *world, req credential.Request) *credential.Result {
	t.Helper()
	r, err := w.verifier().Verify(context.Background(), &w.bundle, req)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return r
}

func presentation(tok string) credential.Request {
	return credential.Request{Token: tok, Presentation: true, Audience: "did:eidgate:dept:hrss", Nonce: "n-0123456789"}
}

func TestIssueAndVerifyCredential(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	iss := w.issue("k1", nil)
	if !strings.HasSuffix(iss.Token, "~") || strings.Count(iss.Token, "~") != 6 {
		t.Fatalf("token has %d parts", strings.Count(iss.Token, "~"))
	}
	if iss.Route.Statement.Digest != iss.Digest {
		t.Fatalf("iss.Route.Statement.Digest = %v, want iss.Digest; route statement %+v", iss.Route.Statement.Digest, iss.Route)
	}
	if iss.Route.Statement.Schema != "vc+sd-jwt:edu.degree" {
		t.Fatalf("iss.Route.Statement.Schema = %q, want \"vc+sd-jwt:edu.degree\"; route statement %+v", iss.Route.Statement.Schema, iss.Route)
	}
	if iss.Route.KID != "k1" {
		t.Fatalf("iss.Route.KID = %q, want \"k1\"; route statement %+v", iss.Route.KID, iss.Route)
	}
	w.now = w.now.Add(time.Hour)
	r := verify(t, w, credential.Request{Token: iss.Token})
	if !r.Valid {
		t.Fatalf("r.Valid is false; not valid: %+v", r.Checks)
	}
	if r.Code != credential.CodeVerified {
		t.Fatalf("r.Code = %v, want credential.CodeVerified; not valid: %+v", r.Code, r.Checks)
	}
	if r.Subject != subject {
		t.Fatalf("r.Subject = %v, want subject; result: %+v", r.Subject, r)
	}
	if r.Issuer != "did:eidgate:dept:edu-bureau" {
		t.Fatalf("r.Issuer = %q, want \"did:eidgate:dept:edu-bureau\"; result: %+v", r.Issuer, r)
	}
	if r.DataType != "edu.degree" {
		t.Fatalf("r.DataType = %q, want \"edu.degree\"; result: %+v", r.DataType, r)
	}
	if len(r.Disclosed) != 5 {
		t.Fatalf("len(r.Disclosed) = %v, want 5; result: %+v", len(r.Disclosed), r)
	}
	if r.KeyID != "did:eidgate:dept:edu-bureau#k1" {
		t.Fatalf("r.KeyID = %q, want \"did:eidgate:dept:edu-bureau#k1\"; result: %+v", r.KeyID, r)
	}
	if r.Anchor == nil {
		t.Fatalf("r.Anchor is nil; result: %+v", r)
	}
	if r.Anchor.Version != 2 {
		t.Fatalf("r.Anchor.Version = %v, want 2; result: %+v", r.Anchor.Version, r)
	}
	if len(r.Status) != 2 {
		t.Fatalf("len(r.Status) = %v, want 2; result: %+v", len(r.Status), r)
	}
	var claims map[string]string
	_ = json.Unmarshal(r.Claims, &claims)
	if claims["degree"] != "bachelor" || claims["institution"] != "北京大学" {
		t.Fatalf("claims %s", r.Claims)
	}
	names := []string{}
	for _, c := range r.Checks {
		names = append(names, c.Name)
	}
	want := "format issuer signature issuer_key disclosures validity status.revocation status.suspension anchor"
	if strings.Join(names, " ") != want {
		t.Fatalf("checks %v", names)
	}
}

func TestPresentation(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	iss := w.issue("k1", nil)
	p := w.present(iss.Token, "degree", "institution")
	r := verify(t, w, presentation(p))
	if !r.Valid {
		t.Fatalf("r.Valid is false; presentation: %+v", r.Checks)
	}
	if r.Kind != "presentation" {
		t.Fatalf("r.Kind = %q, want \"presentation\"; presentation: %+v", r.Kind, r.Checks)
	}
	if r.Audience != "did:eidgate:dept:hrss" {
		t.Fatalf("r.Audience = %q, want \"did:eidgate:dept:hrss\"; presentation: %+v", r.Audience, r.Checks)
	}
	if r.SDHash == "" {
		t.Fatalf("r.SDHash == \"\", want it different; presentation: %+v", r.Checks)
	}
	if string(r.Claims) != `{"degree":"bachelor","institution":"北京大学"}` {
		t.Fatalf("disclosed %s", r.Claims)
	}
	if _, err := credential.Present(iss.Token, credential.PresentOptions{Disclose: []string{"salary"}, Holder: w.holder, Audience: "a", Nonce: "n", At: w.now}); routing.CodeOf(err) != credential.CodeUnknownClaim {
		t.Fatalf("unknown claim: %v", err)
	}
	if _, err := credential.Present(p, credential.PresentOptions{Holder: w.holder, Audience: "a", Nonce: "n", At: w.now}); routing.CodeOf(err) != sdjwt.CodeKBUnexpected {
		t.Fatalf("re-presenting: %v", err)
	}
}

// Every way a credential or presentation can be bad fails with its code.
func TestVerifyRefuses(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		setup func(w *world) credential.Request
		check string
		code  string
	}{
		{"wrong nonce", func(w *world) credential.Request {
			r := presentation(w.present(w.issue("k1", nil).Token, "degree"))
			r.Nonce = "n-other"
			return r
		}, credential.CheckKeyBinding, sdjwt.CodeKBNonce},
		{"wrong audience", func(w *world) credential.Request {
			r := presentation(w.present(w.issue("k1", nil).Token, "degree"))
			r.Audience = "did:eidgate:dept:civil-affairs"
			return r
		}, credential.CheckKeyBinding, sdjwt.CodeKBAudience},
		{"credential where a presentation is due", func(w *world) credential.Request {
			return presentation(w.issue("k1", nil).Token)
		}, credential.CheckKeyBinding, sdjwt.CodeKBMissing},
		{"stale key binding", func(w *world) credential.Request {
			p := w.present(w.issue("k1", nil).Token, "degree")
			w.now = w.now.Add(time.Hour)
			return presentation(p)
		}, credential.CheckKeyBinding, sdjwt.CodeKBStale},
		{"extra disclosure", func(w *world) credential.Request {
			iss := w.issue("k1", nil)
			d, _ := sdjwt.NewDisclosure("degree", "doctor")
			parts := strings.Split(iss.Token, "~")
			return credential.Request{Token: parts[0] + "~" + d.Encoded + "~"}
		}, credential.CheckDisclosures, sdjwt.CodeDisclosureUnused},
		{"disclosure spliced after key binding", func(w *world) credential.Request {
			iss := w.issue("k1", nil)
			p := w.present(iss.Token, "degree")
			tok, _ := sdjwt.Parse(iss.Token)
			var major string
			for _, d := range tok.Disclosures {
				if d.Name == "major" {
					major = d.Encoded
				}
			}
			i := strings.LastIndex(p, "~")
			return presentation(p[:i+1] + major + "~" + p[i+1:])
		}, credential.CheckKeyBinding, sdjwt.CodeKBHash},
		{"expired", func(w *world) credential.Request {
			tok := w.issue("k1", func(t *credential.Template) { t.ValidUntil = w.now.Add(time.Hour) }).Token
			w.now = w.now.Add(2 * time.Hour)
			return credential.Request{Token: tok}
		}, credential.CheckValidity, credential.CodeExpired},
		{"not yet valid", func(w *world) credential.Request {
			return credential.Request{Token: w.issue("k1", func(t *credential.Template) { t.ValidFrom = w.now.Add(time.Hour) }).Token}
		}, credential.CheckValidity, credential.CodeNotYetValid},
		{"revoked", func(w *world) credential.Request {
			tok := w.issue("k1", nil).Token
			_ = w.lists[model.StatusRevocation].Set(94567, true)
			w.now = w.now.Add(time.Second)
			w.publishLists()
			return credential.Request{Token: tok}
		}, credential.CheckRevocation, credential.CodeRevoked},
		{"suspended", func(w *world) credential.Request {
			tok := w.issue("k1", nil).Token
			_ = w.lists[model.StatusSuspension].Set(23452, true)
			w.now = w.now.Add(time.Second)
			w.publishLists()
			return credential.Request{Token: tok}
		}, credential.CheckSuspension, credential.CodeSuspended},
		{"status list not the anchored one", func(w *world) credential.Request {
			tok := w.issue("k1", nil).Token
			w.bundle.StatusLists[0].Anchor.Digest = model.DigestPrefix + strings.Repeat("0", 64)
			return credential.Request{Token: tok}
		}, credential.CheckRevocation, credential.CodeStatusNotAnchored},
		{"status list missing from the bundle", func(w *world) credential.Request {
			tok := w.issue("k1", nil).Token
			w.bundle.StatusLists = w.bundle.StatusLists[1:]
			return credential.Request{Token: tok}
		}, credential.CheckRevocation, credential.CodeStatusUnknown},
		{"issued after its key was retired", func(w *world) credential.Request {
			w.setKey("k1", func(k *model.SigningKey) { k.Status, k.RetiredAt = model.KeyRetired, model.FormatTime(w.now) })
			w.now = w.now.Add(time.Minute)
			return credential.Request{Token: w.issue("k1", nil).Token}
		}, credential.CheckIssuerKey, credential.CodeIssuerKeyRetired},
		{"signed with a revoked key", func(w *world) credential.Request {
			tok := w.issue("k1", nil).Token
			w.setKey("k1", func(k *model.SigningKey) {
				k.Status, k.RevokedAt = model.KeyRevoked, model.FormatTime(w.now.Add(time.Hour))
			})
			return credential.Request{Token: tok}
		}, credential.CheckIssuerKey, credential.CodeIssuerKeyRevoked},
		{"unknown key", func(w *world) credential.Request {
			w.keys["k9"] = mustKey()
			return credential.Request{Token: w.issue("k9", nil).Token}
		}, credential.CheckIssuer, credential.CodeIssuerKeyUnknown},
		{"unknown issuer", func(w *world) credential.Request {
			tok := w.issue("k1", nil).Token
			w.bundle.Issuers = nil
			return credential.Request{Token: tok}
		}, credential.CheckIssuer, credential.CodeIssuerUnknown},
		{"key of another department", func(w *world) credential.Request {
			s := w.signer("k1")
			s.Department = "civil-affairs"
			iss, err := credential.Issue(s, credential.Template{Subject: subject, DataType: degreeType, SchemaURL: base + "/v1/datatypes/edu.degree/schema",
				Claims: json.RawMessage(degreeRecord), Holder: w.holderJWK(), IssuedAt: w.now, ValidFrom: w.now, Version: 1})
			if err != nil {
				t.Fatal(err)
			}
			return credential.Request{Token: iss.Token}
		}, credential.CheckIssuer, credential.CodeIssuerUnknown},
		{"not anchored", func(w *world) credential.Request {
			tok := w.issue("k1", nil).Token
			w.bundle.Anchors = nil
			return credential.Request{Token: tok}
		}, credential.CheckAnchor, credential.CodeAnchorMissing},
		{"route entry revoked", func(w *world) credential.Request {
			tok := w.issue("k1", nil).Token
			w.bundle.Anchors[0].Route.Status = model.RouteRevoked
			return credential.Request{Token: tok}
		}, credential.CheckAnchor, credential.CodeAnchorRevoked},
		{"route signature forged", func(w *world) credential.Request {
			tok := w.issue("k1", nil).Token
			w.bundle.Anchors[0].Route.Version = 7
			return credential.Request{Token: tok}
		}, credential.CheckAnchor, credential.CodeAnchorInvalid},
		{"signature over altered payload", func(w *world) credential.Request {
			tok := w.issue("k1", nil).Token
			parts := strings.Split(tok, ".")
			payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
			payload = []byte(strings.Replace(string(payload), `"validFrom":"2026`, `"validFrom":"2025`, 1))
			parts[1] = base64.RawURLEncoding.EncodeToString(payload)
			return credential.Request{Token: strings.Join(parts, ".")}
		}, credential.CheckSignature, sdjwt.CodeSignature},
		{"alg none", func(w *world) credential.Request {
			return credential.Request{Token: reheader(w.issue("k1", nil).Token, `{"alg":"none","typ":"vc+sd-jwt"}`, nil)}
		}, credential.CheckFormat, sdjwt.CodeAlgorithm},
		{"HS256 keyed with the issuer's public key", func(w *world) credential.Request {
			jwk, _ := json.Marshal(w.bundle.Issuers[0].DIDDocument.VerificationMethod[0].PublicKeyJWK)
			return credential.Request{Token: reheader(w.issue("k1", nil).Token,
				`{"alg":"HS256","typ":"vc+sd-jwt","kid":"did:eidgate:dept:edu-bureau#k1"}`, jwk)}
		}, credential.CheckFormat, sdjwt.CodeAlgorithm},
		{"SD-JWT VC instead of a W3C VC", func(w *world) credential.Request {
			tok, _ := sdjwt.Parse(w.issue("k1", nil).Token)
			jws, err := sdjwt.SignJWS(w.keys["k1"], sdjwt.Header{Typ: "dc+sd-jwt", Kid: "did:eidgate:dept:edu-bureau#k1"}, tok.JWS.Payload)
			if err != nil {
				t.Fatal(err)
			}
			return credential.Request{Token: jws + "~"}
		}, credential.CheckFormat, credential.CodeUnsupportedType},
		{"oversized", func(w *world) credential.Request {
			return credential.Request{Token: w.issue("k1", nil).Token + strings.Repeat("A", sdjwt.MaxTokenSize)}
		}, credential.CheckFormat, sdjwt.CodeTooLarge},
		{"not a token", func(w *world) credential.Request {
			return credential.Request{Token: "hello"}
		}, credential.CheckFormat, sdjwt.CodeMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			r := verify(t, w, c.setup(w))
			if r.Valid {
				t.Fatalf("valid: %+v", r.Checks)
			}
			if r.Code != c.code {
				t.Fatalf("code %q, want %q; checks %+v", r.Code, c.code, r.Checks)
			}
			last := r.Checks[len(r.Checks)-1]
			found := false
			for _, ch := range r.Checks {
				found = found || (ch.Name == c.check && !ch.Passed && ch.Code == c.code)
			}
			if !found {
				t.Fatalf("no failed %s check with %s (last %+v)", c.check, c.code, last)
			}
		})
	}
}

// reheader swaps a token's JWS header; with hmacKey it signs HS256 with it
// (the algorithm-confusion attack), otherwise it leaves an empty signature.
func reheader(token, header string, hmacKey []byte) string {
	parts := strings.SplitN(token, "~", 2)
	jws := strings.Split(parts[0], ".")
	jws[0] = base64.RawURLEncoding.EncodeToString([]byte(header))
	jws[2] = ""
	if hmacKey != nil {
		m := hmac.New(sha256.New, hmacKey)
		m.Write([]byte(jws[0] + "." + jws[1]))
		jws[2] = base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	return strings.Join(jws, ".") + "~" + parts[1]
}

// A credential issued while its key was active still verifies after the
// key is retired, for its validity period.
func TestRetiredKeyStillVerifies(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	tok := w.issue("k1", nil).Token
	w.now = w.now.Add(24 * time.Hour)
	w.setKey("k1", func(k *model.SigningKey) { k.Status, k.RetiredAt = model.KeyRetired, model.FormatTime(w.now) })
	w.addKey("k2", w.now)
	w.now = w.now.Add(time.Hour)
	r := verify(t, w, credential.Request{Token: tok})
	if !r.Valid {
		t.Fatalf("retired key: %+v", r.Checks)
	}
	if got := r.Checks[3]; got.Name != credential.CheckIssuerKey {
		t.Fatalf("got.Name = %v, want credential.CheckIssuerKey; issuer_key check %+v", got.Name, got)
	} else if !strings.Contains(got.Message, "retired since") {
		t.Fatalf("strings.Contains(got.Message, \"retired since\") is false; issuer_key check %+v", got)
	}
	if r := verify(t, w, credential.Request{Token: w.issue("k2", nil).Token}); !r.Valid {
		t.Fatalf("new key: %+v", r.Checks)
	}
}

func TestIssueRefusesBadClaims(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cases := map[string]struct {
		claims, code string
	}{
		"enum":           {`{"name":"王小明","degree":"secret-value","major":"x","institution":"y","awarded":"2012-07-01"}`, credential.CodeSchema},
		"format date":    {`{"name":"王小明","degree":"bachelor","major":"x","institution":"y","awarded":"secret-value"}`, credential.CodeSchema},
		"missing":        {`{"name":"王小明"}`, credential.CodeSchema},
		"extra property": {`{"name":"王小明","degree":"bachelor","major":"x","institution":"y","awarded":"2012-07-01","id":"x"}`, credential.CodeSchema},
		"not an object":  {`["secret-value"]`, credential.CodeSchema},
		"not JSON":       {`{`, credential.CodeSchema},
	}
	for name, c := range cases {
		_, err := credential.Issue(w.signer("k1"), credential.Template{Subject: subject, DataType: degreeType, SchemaURL: "https://x/v1/datatypes/edu.degree/schema",
			Claims: json.RawMessage(c.claims), Holder: w.holderJWK(), IssuedAt: w.now, ValidFrom: w.now, Version: 1})
		if routing.CodeOf(err) != c.code || routing.KindOf(err) != routing.KindInvalid {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if strings.Contains(routing.MessageOf(err), "secret-value") {
			t.Errorf("%s: the message quotes the record: %s", name, routing.MessageOf(err))
		}
	}
	_, err := credential.Issue(w.signer("k1"), credential.Template{Subject: "did:example:x", DataType: degreeType, Claims: json.RawMessage(degreeRecord), Holder: w.holderJWK()})
	if routing.KindOf(err) != routing.KindInvalid {
		t.Errorf("bad subject: %v", err)
	}
	_, err = credential.Issue(w.signer("k1"), credential.Template{Subject: subject, DataType: degreeType, Claims: json.RawMessage(degreeRecord), Holder: sdjwt.JWK{Kty: "oct"}})
	if routing.CodeOf(err) != sdjwt.CodeKey {
		t.Errorf("bad holder key: %v", err)
	}
}
