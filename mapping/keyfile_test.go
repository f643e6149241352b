package mapping

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGenerateAndLoadKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "blinding.json")
	k, err := GenerateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %04o, want 0600", st.Mode().Perm())
	}
	if dst, _ := os.Stat(filepath.Dir(path)); dst.Mode().Perm() != 0o700 {
		t.Fatalf("key dir mode %04o, want 0700", dst.Mode().Perm())
	}
	loaded, err := LoadKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := Parse(Input{Type: CNResident, Number: "11010519491231002X"}, testNow)
	a, _ := k.Blind(doc)
	b, _ := loaded.Blind(doc)
	if a != b || a.KeyVersion != "v1" {
		t.Fatalf("generated %v, loaded %v", a, b)
	}
	if _, err := GenerateKeyFile(path); err == nil {
		t.Fatal("GenerateKeyFile replaced an existing key file")
	}
	again, _ := LoadKeyFile(path)
	if c, _ := again.Blind(doc); c != a {
		t.Fatal("refused GenerateKeyFile changed the keys")
	}
	// Two generated files hold different keys.
	other, err := GenerateKeyFile(filepath.Join(t.TempDir(), "other.json"))
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := other.Blind(doc); c == a {
		t.Fatal("two generated keys are equal")
	}
}

func TestRotateThroughKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "blinding.json")
	k1, err := GenerateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := k1.AddVersion(k1.NextVersion(), NewKey(), true)
	if err != nil {
		t.Fatal(err)
	}
	if err := k2.WriteKeyFile(path); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Fatalf("rewritten key file mode %04o", st.Mode().Perm())
	}
	loaded, err := LoadKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.Current() != "v2" || fmt.Sprint(loaded.Versions()) != "[v2 v1]" {
		t.Fatalf("loaded %v", loaded)
	}
	doc, _ := Parse(Input{Type: TWPermit, Number: "12345678"}, testNow)
	want, _ := k2.BlindAll(doc)
	got, _ := loaded.BlindAll(doc)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("reloaded keys blind differently")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
}

func TestLoadKeyFileRefusesLoosePermissions(t *testing.T) {
	if os.Getuid() == 0 {
		// root reads any file, but the mode check is ours, not the kernel's.
		t.Log("running as root; the check does not depend on access rights")
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o660, 0o644, 0o602} {
		path := filepath.Join(t.TempDir(), "blinding.json")
		if _, err := GenerateKeyFile(path); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, err := LoadKeyFile(path)
		if err == nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("mode %04o: err = %v, want a refusal naming chmod 600", mode, err)
		}
	}
	path := filepath.Join(t.TempDir(), "blinding.json")
	if _, err := GenerateKeyFile(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o400); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKeyFile(path); err != nil {
		t.Errorf("mode 0400 refused: %v", err)
	}
	if _, err := LoadKeyFile(t.TempDir()); err == nil {
		t.Error("a directory was accepted as key file")
	}
	if _, err := LoadKeyFile(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("a missing file was accepted")
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func TestParseKeyFile(t *testing.T) {
	key1, key2 := NewKey(), NewKey()
	good := fmt.Sprintf(`{"format":"eidgate-blinding-keys/v1","current":"v2","keys":[{"version":"v1","key":%q},{"version":"v2","key":%q}]}`, b64(key1), b64(key2))
	k, err := ParseKeyFile([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if k.Current() != "v2" || fmt.Sprint(k.Versions()) != "[v2 v1]" {
		t.Fatalf("parsed %v", k)
	}
	for name, data := range map[string]string{
		"empty":           ``,
		"not json":        `v1:` + b64(key1),
		"wrong format":    strings.Replace(good, "eidgate-blinding-keys/v1", "other/v1", 1),
		"unknown field":   strings.Replace(good, `"current"`, `"extra":1,"current"`, 1),
		"trailing data":   good + `{}`,
		"no keys":         `{"format":"eidgate-blinding-keys/v1","current":"v1","keys":[]}`,
		"current missing": strings.Replace(good, `"current":"v2"`, `"current":"v3"`, 1),
		"duplicate":       strings.Replace(good, `"version":"v2"`, `"version":"v1"`, 1),
		"short key":       strings.Replace(good, b64(key2), b64(key2[:31]), 1),
		"not base64":      strings.Replace(good, b64(key2), "!!!!", 1),
		"wrong type":      strings.Replace(good, `"current":"v2"`, `"current":2`, 1),
		"bad version":     strings.Replace(good, `"version":"v2"`, `"version":"`+b64(key2)+`"`, 1),
	} {
		_, err := ParseKeyFile([]byte(data))
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		for _, key := range [][]byte{key1, key2} {
			if strings.Contains(err.Error(), b64(key)) || strings.Contains(err.Error(), b64(key)[:12]) {
				t.Errorf("%s: error shows key material: %v", name, err)
			}
		}
	}
}

func TestParseKeysEnv(t *testing.T) {
	key1, key2 := NewKey(), NewKey()
	for name, value := range map[string]string{
		"std":           "v2:" + b64(key2) + ",v1:" + b64(key1),
		"spaces":        " v2 : " + b64(key2) + " , v1:" + b64(key1) + " ",
		"raw url":       "v2:" + base64.RawURLEncoding.EncodeToString(key2) + ",v1:" + base64.URLEncoding.EncodeToString(key1),
		"unpadded std ": "v2:" + base64.RawStdEncoding.EncodeToString(key2) + ",v1:" + b64(key1),
	} {
		k, err := ParseKeysEnv(value)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if k.Current() != "v2" || fmt.Sprint(k.Versions()) != "[v2 v1]" {
			t.Fatalf("%s: %v", name, k)
		}
	}
	// The first entry is current even when it is not the newest.
	k, err := ParseKeysEnv("v1:" + b64(key1) + ",v2:" + b64(key2))
	if err != nil || k.Current() != "v1" {
		t.Fatalf("first entry not current: %v %v", k, err)
	}
	for name, value := range map[string]string{
		"empty":         "",
		"blank":         "  ",
		"no colon":      b64(key1),
		"trailing":      "v1:" + b64(key1) + ",",
		"bad version":   "key1:" + b64(key1),
		"duplicate":     "v1:" + b64(key1) + ",v1:" + b64(key2),
		"same key":      "v1:" + b64(key1) + ",v2:" + b64(key1),
		"short":         "v1:" + b64(key1[:20]),
		"not base64":    "v1:" + strings.Repeat("*", 44),
		"swapped parts": b64(key1) + ":v1",
	} {
		_, err := ParseKeysEnv(value)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		for _, key := range [][]byte{key1, key2} {
			if strings.Contains(err.Error(), b64(key)[:12]) {
				t.Errorf("%s: error shows key material: %v", name, err)
			}
		}
		if !strings.Contains(err.Error(), EnvBlindingKeys) {
			t.Errorf("%s: error does not name %s: %v", name, EnvBlindingKeys, err)
		}
	}
}

func TestLoadKeyringPrefersEnv(t *testing.T) {
	path := filepath.Join(t.TempDir(), "blinding.json")
	fileKeys, err := GenerateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	env := "v7:" + b64(NewKey())
	k, err := LoadKeyring(env, path)
	if err != nil || k.Current() != "v7" {
		t.Fatalf("env not preferred: %v %v", k, err)
	}
	k, err = LoadKeyring("", path)
	if err != nil || k.Current() != fileKeys.Current() {
		t.Fatalf("file not used: %v %v", k, err)
	}
	if _, err := LoadKeyring("", ""); err == nil {
		t.Fatal("no source accepted")
	}
}
