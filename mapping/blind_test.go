package mapping

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"testing"
)

type blindVectors struct {
	Keys  map[string]string `json:"keys"`
	Blind []struct {
		Type    DocType `json:"type"`
		Country string  `json:"country"`
		Number  string  `json:"number"`
		V1      string  `json:"v1"`
		V2      string  `json:"v2"`
	} `json:"blind"`
	Account []struct {
		Department string `json:"department"`
		Account    string `json:"account"`
		V1         string `json:"v1"`
		V2         string `json:"v2"`
	} `json:"account"`
}

func loadBlindVectors(t testing.TB) blindVectors {
	t.Helper()
	data, err := os.ReadFile("testdata/blind_vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v blindVectors
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// testKeyring has the keys of testdata/blind_vectors.json, v2 current.
func testKeyring(t testing.TB) *Keyring {
	t.Helper()
	v := loadBlindVectors(t)
	k, err := ParseKeysEnv("v2:" + v.Keys["v2"] + ",v1:" + v.Keys["v1"])
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var hex64 = regexp.MustCompile(`^[0-9a-f]{64}$`)

// The vectors were computed with an independent implementation (Python's
// hmac) from the documented encoding, so they pin the on-chain format.
func TestBlindMatchesVectors(t *testing.T) {
	v := loadBlindVectors(t)
	k := testKeyring(t)
	for _, bv := range v.Blind {
		doc, err := Parse(Input{Type: bv.Type, Number: bv.Number, Country: bv.Country}, testNow)
		if err != nil {
			t.Fatal(err)
		}
		cur, err := k.Blind(doc)
		if err != nil {
			t.Fatal(err)
		}
		if cur != (Index{KeyVersion: "v2", Value: bv.V2}) {
			t.Errorf("%s: Blind = %+v, want v2 %s", bv.Number, cur, bv.V2)
		}
		all, err := k.BlindAll(doc)
		if err != nil {
			t.Fatal(err)
		}
		want := []Index{{"v2", bv.V2}, {"v1", bv.V1}}
		if fmt.Sprint(all) != fmt.Sprint(want) {
			t.Errorf("%s: BlindAll = %v, want %v", bv.Number, all, want)
		}
		if one, _ := k.BlindVersion(doc, "v1"); one.Value != bv.V1 || !hex64.MatchString(one.Value) {
			t.Errorf("%s: BlindVersion v1 = %v", bv.Number, one)
		}
	}
	for _, av := range v.Account {
		if got := k.AccountHash(av.Department, av.Account); got != av.V2 {
			t.Errorf("AccountHash(%s, %s) = %s, want %s", av.Department, av.Account, got, av.V2)
		}
		all := k.AccountHashAll(av.Department, av.Account)
		if len(all) != 2 || all[1] != (Index{"v1", av.V1}) {
			t.Errorf("AccountHashAll = %v", all)
		}
	}
}

func TestIndexJSONIsOnChainForm(t *testing.T) {
	j, _ := json.Marshal(Index{KeyVersion: "v1", Value: strings.Repeat("ab", 32)})
	if string(j) != `{"key_version":"v1","value":"`+strings.Repeat("ab", 32)+`"}` {
		t.Fatalf("index json %s", j)
	}
}

func TestBlindSeparatesFields(t *testing.T) {
	k := testKeyring(t)
	parse := func(typ DocType, num, country string) Document {
		t.Helper()
		d, err := Parse(Input{Type: typ, Number: num, Country: country}, testNow)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	seen := map[string]string{}
	for _, d := range []Document{
		parse(CNPassport, "E12345678", ""),
		parse(Passport, "E12345678", "USA"),
		parse(Passport, "E12345678", "GBR"),
		parse(Passport, "E1234567", "USA"),
		parse(CNHKMOPass, "C12345678", ""),
		parse(Passport, "C12345678", "CAN"),
	} {
		idx, _ := k.Blind(d)
		if prev, ok := seen[idx.Value]; ok {
			t.Fatalf("%v and %s share an index", d, prev)
		}
		seen[idx.Value] = d.String()
	}
	// An account hash never equals a document index, even for equal strings.
	acct := k.AccountHash("cn-passport", "E12345678")
	if _, ok := seen[acct]; ok {
		t.Fatal("account hash collides with a document index")
	}
	if k.AccountHash("ab", "c") == k.AccountHash("a", "bc") {
		t.Fatal("account fields are not separated")
	}
}

func TestBlindZeroDocument(t *testing.T) {
	k := testKeyring(t)
	if _, err := k.Blind(Document{}); err == nil {
		t.Fatal("zero document blinded")
	}
	if _, err := k.BlindAll(Document{}); err == nil {
		t.Fatal("zero document blinded")
	}
	if _, err := k.BlindVersion(Document{}, "v1"); err == nil {
		t.Fatal("zero document blinded")
	}
}

// A rotation: v1 only → v2 added (not current) → v2 current → v1 retired.
// At every step a document indexed under the previous current version still
// resolves through BlindAll.
func TestRotationKeepsIndexesResolvable(t *testing.T) {
	k1, err := NewKeyring("v1", map[string][]byte{"v1": NewKey()})
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := Parse(Input{Type: CNResident, Number: "11010519491231002X"}, testNow)
	stored, _ := k1.Blind(doc) // written on chain under v1

	k2, err := k1.AddVersion("v2", NewKey(), false)
	if err != nil {
		t.Fatal(err)
	}
	if k2.Current() != "v1" || fmt.Sprint(k2.Versions()) != "[v2 v1]" {
		t.Fatalf("after AddVersion: %v", k2)
	}
	if k1.Current() != "v1" || len(k1.Versions()) != 1 {
		t.Fatal("AddVersion changed the receiver")
	}
	k3, err := k2.WithCurrent("v2")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []*Keyring{k2, k3} {
		all, _ := k.BlindAll(doc)
		if len(all) != 2 || all[0].KeyVersion != "v2" || all[1] != stored {
			t.Fatalf("%v: BlindAll = %v, want v2 then stored %v", k, all, stored)
		}
	}
	now, _ := k3.Blind(doc)
	if now.KeyVersion != "v2" || now.Value == stored.Value {
		t.Fatalf("new current index %v", now)
	}
	if _, err := k3.WithoutVersion("v2"); err == nil {
		t.Fatal("removed the current version")
	}
	k4, err := k3.WithoutVersion("v1")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(k4.Versions()) != "[v2]" || k4.NextVersion() != "v3" {
		t.Fatalf("after retiring v1: %v next %s", k4, k4.NextVersion())
	}
}

func TestNewKeyringRejects(t *testing.T) {
	key := NewKey()
	for name, tc := range map[string]struct {
		current string
		keys    map[string][]byte
	}{
		"empty":           {"v1", map[string][]byte{}},
		"current missing": {"v2", map[string][]byte{"v1": key}},
		"short key":       {"v1", map[string][]byte{"v1": key[:16]}},
		"zero key":        {"v1", map[string][]byte{"v1": make([]byte, 32)}},
		"bad version":     {"k1", map[string][]byte{"k1": key}},
		"leading zero":    {"v01", map[string][]byte{"v01": key}},
		"v0":              {"v0", map[string][]byte{"v0": key}},
		"same key twice":  {"v1", map[string][]byte{"v1": key, "v2": key}},
	} {
		if _, err := NewKeyring(tc.current, tc.keys); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	k, _ := NewKeyring("v1", map[string][]byte{"v1": key})
	if _, err := k.AddVersion("v1", NewKey(), false); err == nil {
		t.Error("AddVersion accepted a duplicate version")
	}
}

func TestVersionsOrderNumerically(t *testing.T) {
	keys := map[string][]byte{}
	for _, v := range []string{"v2", "v10", "v9", "v1"} {
		keys[v] = NewKey()
	}
	k, err := NewKeyring("v9", keys)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(k.Versions()) != "[v10 v9 v2 v1]" {
		t.Fatalf("versions %v", k.Versions())
	}
}

func TestKeyringNeverShowsKeys(t *testing.T) {
	v := loadBlindVectors(t)
	k := testKeyring(t)
	var logBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("keys", "keyring", k)
	j, err := json.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	outs := []string{k.String(), fmt.Sprintf("%v %+v %#v %s %x %q", k, k, k, k, k, k), logBuf.String(), string(j),
		fmt.Sprintf("%+v", struct{ k *Keyring }{k})}
	if string(j) != `{"current":"v2","versions":["v2","v1"]}` {
		t.Errorf("json %s", j)
	}
	for _, enc := range v.Keys {
		raw, _ := base64.StdEncoding.DecodeString(enc)
		for _, out := range outs {
			if strings.Contains(out, enc) || strings.Contains(out, fmt.Sprintf("%x", raw)) || strings.Contains(out, string(raw[1:])) {
				t.Errorf("output shows key material: %s", out)
			}
		}
	}
}

// One Keyring serves every request goroutine; pooled HMAC state must never
// mix two documents.
func TestBlindConcurrently(t *testing.T) {
	k := testKeyring(t)
	v := loadBlindVectors(t)
	docs := make([]Document, len(v.Blind))
	for i, bv := range v.Blind {
		docs[i], _ = Parse(Input{Type: bv.Type, Number: bv.Number, Country: bv.Country}, testNow)
	}
	done := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func(g int) {
			for i := 0; i < 500; i++ {
				j := (g + i) % len(docs)
				idx, _ := k.Blind(docs[j])
				if idx.Value != v.Blind[j].V2 {
					done <- fmt.Errorf("goroutine %d: %s blinded to %s", g, docs[j], idx.Value)
					return
				}
			}
			done <- nil
		}(g)
	}
	for g := 0; g < 8; g++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
