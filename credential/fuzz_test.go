package credential_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/eidgate/eidgate/credential"
)

// FuzzVerify feeds arbitrary tokens to the verifier with a real proof
// bundle: it never panics, never errors (the bundle is offline evidence),
// and a token that is not the issued one is never valid.
func FuzzVerify(f *testing.F) {
	w := newWorld(f)
	iss := w.issue("k1", nil)
	f.Add(iss.Token, false)
	f.Add(w.present(iss.Token, "degree"), true)
	f.Add("eyJhbGciOiJub25lIn0.e30.~", false)
	f.Fuzz(func(t *testing.T, token string, presentation bool) {
		req := credential.Request{Token: token, Presentation: presentation, Audience: "did:eidgate:dept:hrss", Nonce: "n-0123456789"}
		r, err := w.verifier().Verify(context.Background(), &w.bundle, req)
		if err != nil {
			t.Fatalf("offline verification errored: %v", err)
		}
		if r.Code == "" {
			t.Fatalf("r.Code == \"\", want it different; result without code or checks: %+v", r)
		}
		if len(r.Checks) == 0 {
			t.Fatalf("len(r.Checks) == 0, want it different; result without code or checks: %+v", r)
		}
		for _, c := range r.Checks {
			if !c.Passed && (c.Code == "" || c.Code == "ok") {
				t.Fatalf("failed check without a code: %+v", c)
			}
		}
	})
}

// FuzzVerificationFile: the file `eidgate verify` reads decodes or is
// refused, and whatever decodes verifies without panicking.
func FuzzVerificationFile(f *testing.F) {
	w := newWorld(f)
	iss := w.issue("k1", nil)
	b, _ := json.Marshal(credential.VerificationFile{Credential: iss.Token, Bundle: &w.bundle})
	f.Add(b)
	f.Add([]byte(`{"presentation":"x","bundle":{"issuers":[{"didDocument":{"id":"did:eidgate:dept:edu-bureau","verificationMethod":[{"id":"x","type":"JsonWebKey","publicKeyJwk":{"kty":"EC"}}]}}]}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var vf credential.VerificationFile
		if json.Unmarshal(raw, &vf) != nil || vf.Bundle == nil {
			return
		}
		tok := vf.Credential
		if tok == "" {
			tok = vf.Presentation
		}
		if _, err := w.verifier().Verify(context.Background(), vf.Bundle, credential.Request{Token: tok, Presentation: vf.Presentation != "",
			Audience: vf.Audience, Nonce: vf.Nonce}); err != nil {
			t.Fatalf("offline verification errored: %v", err)
		}
	})
}
