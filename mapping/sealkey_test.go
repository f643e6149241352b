package mapping

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSealingKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "sealing.json")
	sk, err := GenerateSealingKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Fatalf("sealing key file mode %04o, want 0600", st.Mode().Perm())
	}
	loaded, err := LoadSealingKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.Fingerprint() != sk.Fingerprint() {
		t.Fatal("loaded key differs from the generated one")
	}
	if _, err := GenerateSealingKeyFile(path); err == nil {
		t.Fatal("GenerateSealingKeyFile replaced an existing file")
	}

	// A document sealed under the generated key opens under the loaded one.
	doc, _ := Parse(Input{Type: Passport, Number: "L898902C3", Country: "USA"}, testNow)
	sd := &StoredDocument{Ref: "doc_1", Type: string(Passport), Country: "USA"}
	sd.Sealed = sk.sealDocument(doc, sd.Ref)
	back, err := loaded.openDocument(sd)
	if err != nil || !back.Equal(doc) {
		t.Fatalf("opened %v %v", back, err)
	}

	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSealingKeyFile(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("group-readable key file: %v", err)
	}
}

func TestSealingKeyFromEnvAndErrors(t *testing.T) {
	raw := NewKey()
	env := base64.RawURLEncoding.EncodeToString(raw)
	sk, err := LoadSealingKey(" "+env+" ", "/nonexistent")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := NewSealingKey(raw)
	if sk.Fingerprint() != want.Fingerprint() {
		t.Fatal("the environment value gives another key")
	}
	tests := []struct {
		name string
		err  func() error
	}{
		{"short env", func() error { _, err := ParseSealingKeyEnv(base64.StdEncoding.EncodeToString(raw[:16])); return err }},
		{"not base64", func() error { _, err := ParseSealingKeyEnv("!" + env); return err }},
		{"zero key", func() error { _, err := NewSealingKey(make([]byte, 32)); return err }},
		{"nothing", func() error { _, err := LoadSealingKey("", ""); return err }},
		{"blinding key file", func() error {
			k, _ := NewKeyring("v1", map[string][]byte{"v1": raw})
			_, err := ParseSealingKeyFile(k.keyFileBytes())
			return err
		}},
		{"syntax", func() error {
			_, err := ParseSealingKeyFile([]byte(`{"format":"eidgate-sealing-key/v1","key":` + env + `}`))
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.err()
			if err == nil {
				t.Fatal("accepted")
			}
			if strings.Contains(err.Error(), env) || strings.Contains(err.Error(), env[:12]) {
				t.Fatalf("error quotes the key: %v", err)
			}
		})
	}
}

// A sealed number opens only for the row it was sealed for.
func TestSealedNumberIsBoundToItsRow(t *testing.T) {
	sk, _ := NewSealingKey(NewKey())
	doc, _ := Parse(Input{Type: CNResident, Number: residentNumber(1)}, testNow)
	sealed := sk.sealDocument(doc, "doc_a")
	if again := sk.sealDocument(doc, "doc_a"); string(again) == string(sealed) {
		t.Fatal("two sealings of one number are equal (nonce reuse)")
	}
	if strings.Contains(string(sealed), residentNumber(1)) {
		t.Fatal("the sealed value holds the number")
	}
	other, _ := NewSealingKey(NewKey())
	for name, sd := range map[string]*StoredDocument{
		"other ref":  {Ref: "doc_b", Type: string(CNResident), Sealed: sealed},
		"other type": {Ref: "doc_a", Type: string(HKMOTWResidence), Sealed: sealed},
		"truncated":  {Ref: "doc_a", Type: string(CNResident), Sealed: sealed[:10]},
		"flipped":    {Ref: "doc_a", Type: string(CNResident), Sealed: append(append([]byte(nil), sealed[:len(sealed)-1]...), sealed[len(sealed)-1]^1)},
	} {
		if _, err := sk.openDocument(sd); err == nil {
			t.Fatalf("%s: opened", name)
		}
	}
	if _, err := other.openDocument(&StoredDocument{Ref: "doc_a", Type: string(CNResident), Sealed: sealed}); err == nil {
		t.Fatal("opened under another key")
	}
}

func TestSealingKeyNeverShowsKey(t *testing.T) {
	raw := NewKey()
	sk, _ := NewSealingKey(raw)
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("key", "k", sk)
	js, _ := json.Marshal(sk)
	for _, out := range []string{fmt.Sprint(sk), fmt.Sprintf("%#v %+v %x %q", sk, sk, sk, sk), logged.String(), string(js)} {
		if strings.Contains(out, base64.StdEncoding.EncodeToString(raw)[:12]) || strings.Contains(out, fmt.Sprintf("%x", raw)[:12]) {
			t.Fatalf("key material shown: %s", out)
		}
		if !strings.Contains(out, sk.Fingerprint()) {
			t.Fatalf("fingerprint missing: %s", out)
		}
	}
}
