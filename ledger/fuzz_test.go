package ledger

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Peer messages come from outside: the kind and text must come from the
// message itself and never panic.
func FuzzChaincodeMessage(f *testing.F) {
	for _, s := range []string{
		"chaincode response 500, NOT_FOUND: consent c-1 does not exist",
		"INVALID:", "xINVALID: no", "CONFLICT: a FORBIDDEN: b", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, m string) {
		kind, text, ok := chaincodeMessage(m)
		if !ok {
			return
		}
		if kind == "" || text == "" {
			t.Fatalf("chaincodeMessage(%q) = %q, %q", m, kind, text)
		}
		if !strings.Contains(m, strings.TrimSpace(text)) && !strings.Contains(strings.ToLower(m), text) {
			t.Fatalf("text %q not taken from message %q", text, m)
		}
	})
}

// Connection profiles are operator input: any bytes give a profile or an
// error, never a panic.
func FuzzLoadProfile(f *testing.F) {
	f.Add([]byte("peer:\n  endpoint: localhost:7051\n  tlsCACert: ca.pem\nmsp:\n  id: A\n  dir: msp\nchannel: c\nchaincode: cc\n"))
	f.Add([]byte("timeouts:\n  evaluate: -1s\n"))
	f.Add([]byte("{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "p.yaml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		p, err := LoadProfile(path)
		if err == nil && p.Channel == "" {
			t.Fatalf("profile without channel accepted")
		}
	})
}
