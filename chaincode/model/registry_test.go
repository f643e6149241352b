package model_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"

	"github.com/eidgate/eidgate/chaincode/model"
)

func TestDepartmentValidate(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pemText, _ := model.MarshalPublicKey(&key.PublicKey)
	good := model.Department{ID: "edu-bureau", Name: "教育局", MSPID: "EduMSP",
		Endpoints:   []string{"https://edu.example.gov.cn/api", "http://127.0.0.1:8443/x"},
		SigningKeys: []model.SigningKey{{KID: "k1", PublicKeyPEM: pemText}}}
	if err := good.Validate(); err != nil {
		t.Fatalf("good: %v", err)
	}
	cases := []struct {
		f     func(*model.Department)
		field string
	}{
		{func(d *model.Department) { d.ID = "e" }, "id"},
		{func(d *model.Department) { d.ID = "-edu" }, "id"},
		{func(d *model.Department) { d.Name = " 教育局" }, "name"},
		{func(d *model.Department) { d.Name = strings.Repeat("a", 201) }, "name"},
		{func(d *model.Department) { d.NameEN = "a\tb" }, "name_en"},
		{func(d *model.Department) { d.MSPID = "Edu MSP" }, "msp_id"},
		{func(d *model.Department) { d.Endpoints = []string{"https://user:pw@x/"} }, "endpoints[0]"},
		{func(d *model.Department) { d.Endpoints = []string{"/relative"} }, "endpoints[0]"},
		{func(d *model.Department) { d.Endpoints = []string{"https://x/a", "https://x/a"} }, "endpoints[1]"},
		{func(d *model.Department) { d.SigningKeys = append(d.SigningKeys, d.SigningKeys[0]) }, "signing_keys[1].kid"},
		{func(d *model.Department) { d.SigningKeys = []model.SigningKey{{KID: "k 1", PublicKeyPEM: pemText}} }, "signing_keys[0].kid"},
		{func(d *model.Department) {
			d.SigningKeys = []model.SigningKey{{KID: "k1", PublicKeyPEM: pemText, Status: "lost"}}
		}, "signing_keys[0].status"},
		{func(d *model.Department) {
			d.SigningKeys = []model.SigningKey{{KID: "k1", PublicKeyPEM: pemText + "junk"}}
		}, "signing_keys[0].public_key_pem"},
		{func(d *model.Department) { d.Status = "closed" }, "status"},
	}
	for i, c := range cases {
		d := good
		d.SigningKeys = append([]model.SigningKey(nil), good.SigningKeys...)
		c.f(&d)
		err := d.Validate()
		if model.CodeOf(err) != model.CodeInvalid || !strings.Contains(err.Error(), c.field) {
			t.Errorf("case %d: %v, want INVALID naming %s", i, err, c.field)
		}
	}
}

func TestDataTypeValidate(t *testing.T) {
	good := model.DataType{Code: "edu.degree_level", Name: "学历", Schema: `{"type":"object"}`, Owners: []string{"edu"}}
	if err := good.Validate(); err != nil {
		t.Fatalf("good: %v", err)
	}
	for _, code := range []string{"edu", "Edu.degree", "edu.", ".edu", "edu.Degree", "edu.1st", "edu..degree"} {
		d := good
		d.Code = code
		if err := d.Validate(); model.CodeOf(err) != model.CodeInvalid {
			t.Errorf("code %q accepted", code)
		}
	}
	for _, schema := range []string{"", "null", "[]", `"x"`, "{", "{} {}"} {
		d := good
		d.Schema = schema
		if err := d.Validate(); model.CodeOf(err) != model.CodeInvalid || !strings.Contains(err.Error(), "schema") {
			t.Errorf("schema %q: %v", schema, err)
		}
	}
	d := good
	d.Owners = []string{"edu", "edu"}
	if err := d.Validate(); err == nil || !strings.Contains(err.Error(), "owners[1]") {
		t.Errorf("duplicate owner: %v", err)
	}
	if got := model.SortedOwners([]string{"hr", "edu"}); got[0] != "edu" || got[1] != "hr" {
		t.Errorf("SortedOwners: %v", got)
	}
}

func TestAccessAnchorValidate(t *testing.T) {
	root := strings.Repeat("ab", 32)
	cs := model.DeriveConsentID("a")
	good := model.AccessAnchor{BatchID: "gw-1:000042", MerkleRoot: root, Count: 3, FirstSeq: 10, LastSeq: 14,
		ConsentUses: []model.ConsentUse{{ConsentID: cs, Uses: 2}}}
	if err := good.Validate(); err != nil {
		t.Fatalf("good: %v", err)
	}
	max := model.AccessAnchor{BatchID: "b", MerkleRoot: root, Count: ^uint64(0), FirstSeq: 0, LastSeq: ^uint64(0)}
	if err := max.Validate(); err != nil {
		t.Fatalf("full range: %v", err)
	}
	cases := []struct {
		f     func(*model.AccessAnchor)
		field string
	}{
		{func(a *model.AccessAnchor) { a.BatchID = "" }, "batch_id"},
		{func(a *model.AccessAnchor) { a.MerkleRoot = strings.ToUpper(root) }, "merkle_root"},
		{func(a *model.AccessAnchor) { a.Count = 0 }, "count"},
		{func(a *model.AccessAnchor) { a.Count = 6 }, "sequence range"},
		{func(a *model.AccessAnchor) { a.ConsentUses = []model.ConsentUse{{ConsentID: "c1", Uses: 1}} }, "consent_uses[0].consent_id"},
		{func(a *model.AccessAnchor) { a.ConsentUses = []model.ConsentUse{{ConsentID: cs, Uses: 0}} }, "consent_uses[0].uses"},
		{func(a *model.AccessAnchor) {
			a.ConsentUses = []model.ConsentUse{{ConsentID: cs, Uses: 1}, {ConsentID: cs, Uses: 1}}
		}, "consent_uses[1].consent_id"},
		{func(a *model.AccessAnchor) {
			a.ConsentUses = []model.ConsentUse{{ConsentID: cs, Uses: ^uint64(0)}, {ConsentID: model.DeriveConsentID("b"), Uses: 2}}
		}, "add up"},
	}
	for i, c := range cases {
		a := good
		c.f(&a)
		err := a.Validate()
		if model.CodeOf(err) != model.CodeInvalid || !strings.Contains(err.Error(), c.field) {
			t.Errorf("case %d: %v, want INVALID naming %s", i, err, c.field)
		}
	}
	later := good
	later.AnchoredAt, later.TxID, later.Submitter = "2026-01-01T00:00:00Z", "tx", "PlatformMSP/agent"
	if !good.SameContent(later) {
		t.Error("anchoring metadata changes the content")
	}
	other := good
	other.ConsentUses = []model.ConsentUse{{ConsentID: cs, Uses: 1}}
	if good.SameContent(other) {
		t.Error("different consent uses are the same content")
	}
}

func TestResolutionShape(t *testing.T) {
	id := model.Identity{ID: model.DeriveEID("t", 0), Status: model.EIDMerged, MergedInto: model.DeriveEID("t", 1),
		Indexes: []model.BlindedIndex{{KeyVersion: "v1", Value: strings.Repeat("0", 64)}}, CreatedAt: "2026-01-01T00:00:00Z", UpdatedAt: "2026-01-02T00:00:00Z", TxID: "tx9"}
	b, _ := json.Marshal(id.Resolution(model.DeriveEID("t", 2), nil))
	var doc map[string]map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if ctx := doc["didDocument"]["@context"].([]any); ctx[0] != model.DIDContext {
		t.Errorf("@context: %v", ctx)
	}
	meta := doc["didDocumentMetadata"]
	if meta["deactivated"] != true || meta["canonicalId"] != model.DeriveEID("t", 2) || meta["versionId"] != "tx9" || meta["created"] != id.CreatedAt {
		t.Errorf("metadata: %v", meta)
	}
	if doc["didResolutionMetadata"]["contentType"] != model.DIDContentType {
		t.Errorf("resolution metadata: %v", doc["didResolutionMetadata"])
	}
	if strings.Contains(string(b), strings.Repeat("0", 64)) {
		t.Error("resolution reveals an index")
	}
	active := model.Identity{ID: id.ID, Status: model.EIDActive, MergedFrom: []string{model.DeriveEID("t", 3)}}
	r := active.Resolution(active.ID, nil)
	if r.DIDDocumentMetadata.Deactivated {
		t.Errorf("r.DIDDocumentMetadata.Deactivated is true; active resolution: %+v", r)
	} else if r.DIDDocumentMetadata.CanonicalID != "" {
		t.Errorf("r.DIDDocumentMetadata.CanonicalID = %q, want \"\"; active resolution: %+v", r.DIDDocumentMetadata.CanonicalID, r)
	} else if len(r.DIDDocument.AlsoKnownAs) != 1 {
		t.Errorf("len(r.DIDDocument.AlsoKnownAs) = %v, want 1; active resolution: %+v", len(r.DIDDocument.AlsoKnownAs), r)
	}
}

func TestErrors(t *testing.T) {
	err := model.Invalid("indexes[%d].value must be hex", 3)
	if err.Error() != "INVALID: indexes[3].value must be hex" || model.CodeOf(err) != model.CodeInvalid {
		t.Fatalf("%v", err)
	}
	wrapped := model.Prefixed(err, "items[7]")
	if wrapped.Error() != "INVALID: items[7]: indexes[3].value must be hex" || model.CodeOf(wrapped) != model.CodeInvalid {
		t.Fatalf("%v", wrapped)
	}
	for msg, want := range map[string]model.Code{
		"NOT_FOUND: consent x":                                   model.CodeNotFound,
		"error managing parameter param0. INVALID: argument":     model.CodeInvalid,
		"chaincode response 500, CONFLICT: x, then FORBIDDEN: y": model.CodeConflict,
		"REINVALID: x":  "",
		"plain failure": "",
	} {
		if got := model.CodeOf(errString(msg)); got != want {
			t.Errorf("CodeOf(%q) = %q, want %q", msg, got, want)
		}
	}
	if got := model.Mask(strings.Repeat("ab", 32)); got != "abababab…" {
		t.Errorf("Mask: %s", got)
	}
	if got := model.Mask("short"); got != "*****" {
		t.Errorf("Mask short: %s", got)
	}
}

type errString string

func (e errString) Error() string { return string(e) }
