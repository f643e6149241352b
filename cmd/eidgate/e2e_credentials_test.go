package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eidgate/eidgate/credential"
	"github.com/eidgate/eidgate/credential/sdjwt"
)

// graduateCredential returns the graduate's (resident 0's) degree
// credential id from the wallet.
func graduateCredential(t *testing.T, s *stack, me caller) (id, token string) {
	t.Helper()
	r := s.do(me, http.MethodGet, "/v1/me/credentials", nil)
	list, _ := r.body["credentials"].([]any)
	if r.status != http.StatusOK || len(list) != 1 {
		t.Fatalf("wallet: %d %v", r.status, r.body)
	}
	c := list[0].(map[string]any)
	if c["issuer"] != "edu-bureau" || c["data_type"] != "edu.degree" || c["status"] != "valid" || c["type_name_en"] != "Degree certificate" {
		t.Fatalf("wallet entry in plain words: %v", c)
	}
	id = c["id"].(string)
	r = s.do(me, http.MethodGet, "/v1/me/credentials/"+url.PathEscape(id), nil)
	if r.status != http.StatusOK {
		t.Fatalf("wallet credential: %d %v", r.status, r.body)
	}
	return id, r.str("token")
}

// challenge is a verifier's challenge as the API answers it.
func challenge(t *testing.T, s *stack, dept caller) (nonce, audience, requestURI string) {
	t.Helper()
	r := s.do(dept, http.MethodPost, "/v1/credentials/challenges", map[string]string{"purpose": "employment"})
	if r.status != http.StatusCreated {
		t.Fatalf("challenge: %d %v", r.status, r.body)
	}
	return r.str("nonce"), r.str("audience"), r.str("request_uri")
}

// present builds the graduate's presentation for a challenge as the
// portal does on the phone.
func present(t *testing.T, s *stack, me caller, id, nonce, audience string, disclose ...string) string {
	t.Helper()
	r := s.do(me, http.MethodPost, "/v1/me/credentials/"+url.PathEscape(id)+"/present", map[string]any{"disclose": disclose, "nonce": nonce, "audience": audience})
	if r.status != http.StatusOK || !strings.HasPrefix(r.str("verify_url"), s.base+"/portal/verify#t=") {
		t.Fatalf("present: %d %v", r.status, r.body)
	}
	return r.str("presentation")
}

func accessOutcomes(t *testing.T, s *stack, me caller) map[string]map[string]any {
	t.Helper()
	r := s.do(me, http.MethodGet, "/v1/me/access", nil)
	out := map[string]map[string]any{}
	list, _ := r.body["access"].([]any)
	for _, a := range list {
		a := a.(map[string]any)
		if _, seen := out[a["outcome"].(string)]; !seen {
			out[a["outcome"].(string)] = a
		}
	}
	return out
}

// TestGraduateBackgroundCheck is the demo scenario: the graduate holds a
// degree credential from the education bureau; human resources verifies it
// from a presentation made on the graduate's phone, by a resolve under
// consent (proxy mode checks the credential against the route), and asks
// "bachelor's degree or higher?" as a yes/no. All three are in the
// graduate's access log, anchored, with proofs that verify.
func TestGraduateBackgroundCheck(t *testing.T) {
	t.Parallel()
	s := startDemo(t, nil)
	hrss := s.dept("hrss")
	grad := s.demo.Residents[0]
	me := s.resident(0)

	// demo.json lists the sample credentials, one compact token per file.
	var file string
	for _, c := range s.demo.Credentials {
		if c.EID == grad.EID && c.Type == "edu.degree" {
			file = c.Path
		}
	}
	if file == "" {
		t.Fatalf("file == \"\", want it different; demo.json credentials = %+v", s.demo.Credentials)
	}
	if filepath.IsAbs(file) {
		t.Fatalf("filepath.IsAbs(file) is true; demo.json credentials = %+v", s.demo.Credentials)
	}
	raw, err := os.ReadFile(filepath.Join(s.m.Config.DataDir, file))
	if err != nil || strings.Count(string(raw), "~") != 6 || strings.ContainsAny(string(raw), " \n{") {
		t.Fatalf("%s: %v %q", file, err, raw)
	}
	id, token := graduateCredential(t, s, me)
	if token != string(raw) {
		t.Error("the wallet holds another credential than the demo wrote")
	}

	// 1. A presentation made on the graduate's phone, verified by HR.
	nonce, aud, uri := challenge(t, s, hrss)
	if !strings.HasPrefix(uri, s.base+"/portal/present?") || !strings.Contains(uri, url.QueryEscape(nonce)) {
		t.Fatalf("request_uri %q", uri)
	}
	pres := present(t, s, me, id, nonce, aud, "degree", "institution")
	r := s.do(hrss, http.MethodPost, "/v1/credentials/verify", map[string]string{"presentation": pres, "nonce": nonce})
	if r.status != http.StatusOK || r.body["valid"] != true || mustJSON(r.body["disclosed"]) != `["degree","institution"]` {
		t.Fatalf("HR verifies the presentation: %d %v", r.status, r.body)
	}
	if strings.Contains(mustJSON(r.body["claims"]), "计算机") {
		t.Error("an undisclosed claim (major) reached the verifier")
	}
	if r = s.do(hrss, http.MethodPost, "/v1/credentials/verify", map[string]string{"presentation": pres, "nonce": nonce}); r.status != http.StatusConflict || r.errCode() != credential.CodeChallenge {
		t.Fatalf("a replayed presentation: %d %v", r.status, r.body)
	}

	// 2. A resolve under consent; proxy mode checks the credential.
	px := resolveBody(grad, "edu.degree", "employment")
	px["mode"] = "proxy"
	r = s.do(hrss, http.MethodPost, "/v1/routes/resolve", px)
	if r.status != http.StatusForbidden || r.errCode() != "consent_required" {
		t.Fatalf("resolve without consent: %d %v", r.status, r.body)
	}
	if g := s.do(me, http.MethodPost, "/v1/me/consents/"+r.str("error", "details", "consent_id")+"/grant", nil); g.status != http.StatusOK {
		t.Fatalf("grant: %d %v", g.status, g.body)
	}
	r = s.do(hrss, http.MethodPost, "/v1/routes/resolve", px)
	if r.status != http.StatusOK || r.str("record", "credential") != token || r.str("record", "digest") != r.str("digest") || !strings.HasPrefix(r.str("schema"), "vc+sd-jwt:") {
		t.Fatalf("proxy resolve of a credential route: %d %v", r.status, r.body)
	}

	// 3. A yes/no question: the provider signs the answer, no record leaves.
	r = s.do(hrss, http.MethodPost, "/v1/credentials/ask", map[string]any{"subject": map[string]string{"eid": grad.EID},
		"data_type": "edu.degree", "predicate": "bachelor_or_higher", "purpose": "employment"})
	if r.status != http.StatusOK || r.body["answer"] != true || r.str("result", "code") != "verified" {
		t.Fatalf("ask: %d %v", r.status, r.body)
	}
	if tok := r.str("token"); strings.Contains(tok, "~ey") || decodedContains(tok, "北京大学") {
		t.Error("the answer carries record content")
	}
	// An uncatalogued predicate is refused before anything is recorded.
	q := s.do(hrss, http.MethodPost, "/v1/credentials/ask", map[string]any{"subject": map[string]string{"eid": grad.EID},
		"data_type": "edu.degree", "predicate": "no_such_question", "purpose": "employment"})
	if q.status != http.StatusNotFound || q.errCode() != credential.CodePredicateUnknown {
		t.Fatalf("an uncatalogued predicate: %d %v", q.status, q.body)
	}

	// All three in the graduate's access log, anchored, with proofs.
	want := []string{credential.OutcomePresentation, "issued", "question_issued"}
	deadline := time.Now().Add(30 * time.Second)
	var got map[string]map[string]any
	for time.Now().Before(deadline) {
		got = accessOutcomes(t, s, me)
		done := true
		for _, o := range want {
			done = done && got[o] != nil && got[o]["anchored"] == true
		}
		if done {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, o := range want {
		a := got[o]
		if a == nil || a["anchored"] != true {
			t.Fatalf("access log lacks an anchored %s record: %v", o, got)
		}
		if a["requester"] != "hrss" || a["provider"] != "edu-bureau" || a["data_type"] != "edu.degree" {
			t.Errorf("%s record: %v", o, a)
		}
		// The verifying official appears as the same keyed pseudonym as
		// for a resolve, never as the staff id.
		if off, _ := a["official"].(string); !strings.HasPrefix(off, "official-") || off != got["issued"]["official"] {
			t.Errorf("%s record's official %q (the resolve's: %v)", o, off, got["issued"]["official"])
		}
		if p := s.do(me, http.MethodGet, "/v1/me/access/"+a["id"].(string)+"/proof", nil); p.status != http.StatusOK || p.body["verified"] != true {
			t.Errorf("%s proof: %d %v", o, p.status, p.body)
		}
	}
}

// decodedContains reports whether any base64url part of a compact token
// decodes to text containing s.
func decodedContains(token, s string) bool {
	for _, part := range strings.FieldsFunc(token, func(r rune) bool { return r == '.' || r == '~' }) {
		if b, err := base64.RawURLEncoding.DecodeString(part); err == nil && strings.Contains(string(b), s) {
			return true
		}
	}
	return false
}

// resign re-signs a compact credential's JWS after edit changed its
// header, with key (ES256), keeping the disclosures.
func resign(t *testing.T, token string, edit func(h map[string]any), key *ecdsa.PrivateKey) string {
	t.Helper()
	jws, rest, _ := strings.Cut(token, "~")
	parts := strings.Split(jws, ".")
	hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
	var h map[string]any
	if err := json.Unmarshal(hb, &h); err != nil {
		t.Fatal(err)
	}
	edit(h)
	hb, _ = json.Marshal(h)
	input := base64.RawURLEncoding.EncodeToString(hb) + "." + parts[1]
	var sig []byte
	switch h["alg"] {
	case "ES256":
		sum := sha256.Sum256([]byte(input))
		r, s, err := ecdsa.Sign(rand.Reader, key, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		sig = append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
	case "HS256":
		// Algorithm confusion: the issuer's public key as an HMAC secret.
		der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
		m := hmac.New(sha256.New, der)
		m.Write([]byte(input))
		sig = m.Sum(nil)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig) + "~" + rest
}

// TestCredentialBadInputThroughTheAPI sends what an attacker or a broken
// wallet would, through the department API and the public verifier: each
// is refused with its stable code and nothing is recorded as verified.
func TestCredentialBadInputThroughTheAPI(t *testing.T) {
	t.Parallel()
	s := startDemo(t, nil)
	hrss, edu := s.dept("hrss"), s.dept("edu-bureau")
	me := s.resident(0)
	id, token := graduateCredential(t, s, me)
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := sdjwt.NewDisclosure("degree", "doctor")
	if err != nil {
		t.Fatal(err)
	}
	presentations := func() int64 {
		return queryInt(t, s.m.db, `SELECT COUNT(*) FROM access_records WHERE outcome = ?`, credential.OutcomePresentation)
	}

	// Presentations checked against HR's challenge.
	for _, tc := range []struct {
		name string
		make func(nonce, aud string) string
		code string
	}{
		{"tampered disclosure", func(n, a string) string {
			parts := strings.Split(present(t, s, me, id, n, a, "degree"), "~")
			parts[1] = forged.Encoded
			return strings.Join(parts, "~")
		}, "disclosure_unreferenced"},
		{"extra disclosure after binding", func(n, a string) string {
			p := present(t, s, me, id, n, a, "degree")
			i := strings.LastIndex(p, "~")
			return p[:i+1] + forged.Encoded + "~" + p[i+1:]
		}, "disclosure_unreferenced"},
		{"wrong nonce", func(n, a string) string { return present(t, s, me, id, "n-someone-elses", a, "degree") }, "kb_nonce_mismatch"},
		{"wrong audience", func(n, a string) string { return present(t, s, me, id, n, "did:eidgate:dept:civil-affairs", "degree") }, "kb_audience_mismatch"},
		{"credential without key binding", func(string, string) string { return token }, "kb_missing"},
		{"unknown issuer key", func(n, a string) string {
			return resign(t, present(t, s, me, id, n, a, "degree"), func(h map[string]any) { h["kid"] = "did:eidgate:dept:edu-bureau#stolen" }, other)
		}, "issuer_key_unknown"},
		{"signature by another key", func(n, a string) string {
			return resign(t, present(t, s, me, id, n, a, "degree"), func(map[string]any) {}, other)
		}, "signature_invalid"},
		{"algorithm confusion (HS256)", func(n, a string) string {
			return resign(t, present(t, s, me, id, n, a, "degree"), func(h map[string]any) { h["alg"] = "HS256" }, other)
		}, "alg_not_allowed"},
		{"alg none", func(n, a string) string {
			p := present(t, s, me, id, n, a, "degree")
			hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"vc+sd-jwt"}`))
			parts := strings.SplitN(p, ".", 3)
			return hdr + "." + parts[1] + "." + parts[2]
		}, "alg_not_allowed"},
		{"oversized", func(n, a string) string {
			return present(t, s, me, id, n, a, "degree") + strings.Repeat("A", 300<<10)
		}, "too_large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nonce, aud, _ := challenge(t, s, hrss)
			before := presentations()
			r := s.do(hrss, http.MethodPost, "/v1/credentials/verify", map[string]string{"presentation": tc.make(nonce, aud), "nonce": nonce})
			if r.status != http.StatusOK || r.body["valid"] != false || r.body["code"] != tc.code {
				t.Fatalf("got %d valid=%v code=%v, want 200 valid=false code=%s", r.status, r.body["valid"], r.body["code"], tc.code)
			}
			if after := presentations(); after != before {
				t.Fatalf("an invalid presentation was recorded (%d → %d)", before, after)
			}
			// The nonce stays usable: a valid presentation still verifies.
			if r := s.do(hrss, http.MethodPost, "/v1/credentials/verify", map[string]string{"presentation": present(t, s, me, id, nonce, aud, "degree"), "nonce": nonce}); r.body["valid"] != true {
				t.Fatalf("the challenge was spent by an invalid presentation: %v", r.body)
			}
		})
	}

	// Issuing refuses bad claims and other departments' data types.
	issue := func(c caller, claims map[string]any) reply {
		return s.do(c, http.MethodPost, "/v1/credentials", map[string]any{"subject": map[string]string{"eid": s.demo.Residents[1].EID}, "data_type": "edu.degree", "claims": claims})
	}
	good := map[string]any{"name": "李华", "degree": "master", "major": "公共管理", "institution": "复旦大学", "awarded": "2010-06-30"}
	if r := issue(edu, map[string]any{"name": "李华", "degree": "kindergarten", "major": "x", "institution": "y", "awarded": "2010-06-30"}); r.status != http.StatusBadRequest || r.errCode() != "schema_invalid" {
		t.Errorf("claims against the schema: %d %v", r.status, r.body)
	}
	if r := issue(hrss, good); r.status != http.StatusForbidden || r.errCode() != "not_an_owner" {
		t.Errorf("another department's data type: %d %v", r.status, r.body)
	}

	// Suspended, reinstated, revoked and expired, for HR and for anyone.
	check := func(tok, code string) {
		t.Helper()
		for _, c := range []struct {
			who  caller
			path string
		}{{hrss, "/v1/credentials/verify"}, {caller{}, "/v1/verify/public"}} {
			r := s.do(c.who, http.MethodPost, c.path, map[string]string{"credential": tok})
			if r.status != http.StatusOK || r.body["code"] != code || (r.body["valid"] == true) != (code == "verified") {
				t.Errorf("%s: %d valid=%v code=%v, want %s", c.path, r.status, r.body["valid"], r.body["code"], code)
			}
		}
	}
	setStatus := func(action string, want int) {
		t.Helper()
		if r := s.do(edu, http.MethodPost, "/v1/credentials/"+url.PathEscape(id)+"/"+action, map[string]string{"reason": "registry check"}); r.status != want {
			t.Fatalf("%s: %d %v", action, r.status, r.body)
		}
	}
	check(token, "verified")
	setStatus("suspend", http.StatusOK)
	check(token, "suspended")
	setStatus("reinstate", http.StatusOK)
	check(token, "verified")
	setStatus("revoke", http.StatusOK)
	check(token, "revoked")
	if r := s.do(edu, http.MethodPost, "/v1/credentials/"+url.PathEscape(id)+"/reinstate", map[string]string{"reason": "undo"}); r.status != http.StatusConflict || r.errCode() != "credential_revoked" {
		t.Errorf("reinstating a revoked credential: %d %v", r.status, r.body)
	}
	if r := s.do(hrss, http.MethodPost, "/v1/credentials/"+url.PathEscape(id)+"/suspend", map[string]string{"reason": "not mine"}); r.status != http.StatusNotFound || r.errCode() != "credential_not_found" {
		t.Errorf("another department changing the status: %d %v", r.status, r.body)
	}
	good["awarded"] = "2010-06-30"
	r := s.do(edu, http.MethodPost, "/v1/credentials", map[string]any{"subject": map[string]string{"eid": s.demo.Residents[1].EID}, "data_type": "edu.degree",
		"claims": good, "valid_until": time.Now().Add(2 * time.Second).UTC().Format(time.RFC3339)})
	if r.status != http.StatusCreated {
		t.Fatalf("issue: %d %v", r.status, r.body)
	}
	short := r.str("token")
	time.Sleep(3 * time.Second)
	check(short, "expired")
}
