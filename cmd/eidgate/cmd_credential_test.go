package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eidgate/eidgate/credential/sdjwt"
)

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// payloadID reads the credential id from a compact token's payload.
func payloadID(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(strings.SplitN(token, "~", 2)[0], ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	return p.ID
}

// TestCredentialCommandsAndOfflineVerify drives the CLI beside a running
// demo gateway: a department issues a credential bound to a holder key
// from a file, the holder presents it offline, `eidgate verify` checks the
// presentation online and a verification file with its proof bundle
// offline, and exit codes follow the verdict: 0 valid, 1 invalid, revoked
// or suspended, 2 usage error.
func TestCredentialCommandsAndOfflineVerify(t *testing.T) {
	t.Parallel()
	s := startDemo(t, func(c *Config) { c.DevnetListen = "127.0.0.1:0" })
	data, base := s.m.Config.DataDir, s.m.URL()
	dir := t.TempDir()
	tools := []string{"--data-dir", data, "--public-url", base}

	// The demo's sample credential verifies online.
	if code, out, errOut := runTool(t, "", append([]string{"verify", filepath.Join(data, s.demo.Credentials[0].Path)}, tools...)...); code != 0 || !strings.Contains(out, `"code": "verified"`) {
		t.Fatalf("verify the demo credential: %d %s %s", code, out, errOut)
	}

	// Issue with a holder key of the resident's own.
	holder, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwk, err := sdjwt.PublicJWK(&holder.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	jb, _ := json.Marshal(jwk)
	der, _ := x509.MarshalPKCS8PrivateKey(holder)
	keyFile := writeFile(t, dir, "holder.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	claims := writeFile(t, dir, "claims.json", []byte(`{"name":"李华","degree":"master","major":"公共管理","institution":"复旦大学","awarded":"2010-06-30"}`))
	eid := s.demo.Residents[1].EID
	code, out, errOut := runTool(t, "", append([]string{"credential", "issue", "--dept", "edu-bureau", "--eid", eid, "--type", "edu.degree",
		"--claims", claims, "--holder-jwk", writeFile(t, dir, "holder.jwk", jb)}, tools...)...)
	token := strings.TrimSpace(out)
	if code != 0 || !strings.HasPrefix(token, "ey") || !strings.HasSuffix(token, "~") {
		t.Fatalf("credential issue: %d %q %s", code, out, errOut)
	}
	tokenFile := writeFile(t, dir, "degree.sd-jwt", []byte(token+"\n"))

	// Refusals and usage errors.
	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"claims against the schema", []string{"credential", "issue", "--dept", "edu-bureau", "--eid", eid, "--type", "edu.degree",
			"--claims", writeFile(t, dir, "bad.json", []byte(`{"degree":"kindergarten"}`))}, 1},
		{"not the data type's owner", []string{"credential", "issue", "--dept", "hrss", "--eid", eid, "--type", "edu.degree", "--claims", claims}, 1},
		{"missing flags", []string{"credential", "issue", "--dept", "edu-bureau"}, 2},
		{"unknown flag", []string{"credential", "issue", "--colour", "red"}, 2},
		{"claims not JSON", []string{"credential", "issue", "--dept", "edu-bureau", "--eid", eid, "--type", "edu.degree",
			"--claims", writeFile(t, dir, "notjson.txt", []byte("degree=master"))}, 2},
	} {
		args := tc.args
		if tc.code == 1 {
			args = append(args, tools...)
		}
		if code, out, errOut := runTool(t, "", args...); code != tc.code {
			t.Errorf("%s: exit %d, want %d (%s %s)", tc.name, code, tc.code, out, errOut)
		}
	}

	// The holder presents offline; verify checks it online.
	aud, nonce := "did:eidgate:dept:hrss", "n-cli-test-nonce"
	code, out, errOut = runTool(t, "", "credential", "present", "--token", tokenFile, "--disclose", "degree,institution",
		"--nonce", nonce, "--audience", aud, "--holder-key", keyFile)
	if code != 0 || strings.Count(out, "~") != 3 {
		t.Fatalf("credential present: %d %q %s", code, out, errOut)
	}
	presFile := writeFile(t, dir, "presentation.txt", []byte(out))
	verify := func(file string, extra ...string) (int, string) {
		t.Helper()
		code, out, errOut := runTool(t, "", append(append([]string{"verify", file}, extra...), tools...)...)
		if code == 2 {
			t.Logf("usage: %s", errOut)
		}
		return code, out
	}
	if code, out := verify(presFile, "--audience", aud, "--nonce", nonce); code != 0 || !strings.Contains(out, `"disclosed": [`) {
		t.Fatalf("verify the presentation: %d %s", code, out)
	}
	if code, out := verify(presFile, "--audience", aud, "--nonce", "n-another"); code != 1 || !strings.Contains(out, "kb_nonce_mismatch") {
		t.Fatalf("verify with another nonce: %d %s", code, out)
	}
	if code, _ := verify(presFile); code != 2 {
		t.Fatalf("a presentation without --audience/--nonce: exit %d, want 2", code)
	}

	// A verification file with its proof bundle checks offline: no data
	// dir, no gateway.
	me := s.resident(1)
	id := payloadID(t, token)
	r := s.do(me, http.MethodGet, "/v1/me/credentials/"+url.PathEscape(id), nil)
	if r.status != http.StatusOK {
		t.Fatalf("wallet credential: %d %v", r.status, r.body)
	}
	vf, _ := json.Marshal(map[string]any{"credential": token, "bundle": r.body["bundle"]})
	vfFile := writeFile(t, dir, "verification.json", vf)
	if code, out, errOut := runTool(t, "", "verify", vfFile, "--data-dir", filepath.Join(dir, "nothing-here")); code != 0 || !strings.Contains(out, `"valid": true`) ||
		!strings.Contains(out, "no block proof") {
		t.Fatalf("offline verification file: %d %s %s", code, out, errOut)
	}
	bundleFile := writeFile(t, dir, "bundle.json", mustMarshal(t, r.body["bundle"]))
	if code, out, _ := runTool(t, "", "verify", tokenFile, "--bundle", bundleFile); code != 0 {
		t.Fatalf("offline with --bundle: %d %s", code, out)
	}
	if code, out, errOut := runTool(t, "", append([]string{"credential", "revoke", "--dept", "edu-bureau", id}, tools...)...); code != 0 || !strings.Contains(out, `"revoked":true`) {
		t.Fatalf("credential revoke: %d %s %s", code, out, errOut)
	}
	if code, out := verify(tokenFile); code != 1 || !strings.Contains(out, `"code": "revoked"`) {
		t.Fatalf("verify a revoked credential: %d %s", code, out)
	}
	// The old bundle still holds the list before the revocation: offline,
	// it cannot know better (docs/credentials.md: a bundle proves what it
	// holds, not that it is the newest); a fresh bundle says revoked.
	if code, out, _ := runTool(t, "", "verify", vfFile); code != 0 {
		t.Fatalf("the bundle from before the revocation: %d %s (offline, it proves the list it holds)", code, out)
	}
	r = s.do(me, http.MethodGet, "/v1/me/credentials/"+url.PathEscape(id), nil)
	fresh := writeFile(t, dir, "fresh.json", mustMarshal(t, map[string]any{"credential": token, "bundle": r.body["bundle"]}))
	if code, out, _ := runTool(t, "", "verify", fresh); code != 1 || !strings.Contains(out, `"code": "revoked"`) {
		t.Fatalf("offline with a fresh bundle of a revoked credential: %d %s", code, out)
	}
	// A tampered token in a verification file.
	tampered := strings.Replace(token, ".", ".x", 1)
	tf := writeFile(t, dir, "tampered.json", mustMarshal(t, map[string]any{"credential": tampered, "bundle": r.body["bundle"]}))
	if code, out, _ := runTool(t, "", "verify", tf); code != 1 {
		t.Fatalf("offline tampered: %d %s", code, out)
	}
	for _, args := range [][]string{{"verify"}, {"verify", filepath.Join(dir, "missing")}, {"verify", vfFile, "--bundle", bundleFile},
		{"verify", writeFile(t, dir, "garbage.json", []byte(`{"credential": 7}`))}} {
		if code, _, _ := runTool(t, "", args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
