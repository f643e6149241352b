package credential_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"testing"
	"time"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/credential"
	"github.com/eidgate/eidgate/credential/sdjwt"
	"github.com/eidgate/eidgate/credential/statuslist"
	"github.com/eidgate/eidgate/routing"
)

const (
	base    = "https://gw.example.gov.cn"
	eduID   = "edu-bureau"
	subject = "did:eidgate:0123456789abcdef0123456789abcdef"
)

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

const degreeSchema = `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object",` +
	`"required":["name","degree","major","institution","awarded"],"properties":{"name":{"type":"string"},` +
	`"degree":{"type":"string","enum":["bachelor","master","doctor"]},"major":{"type":"string"},` +
	`"institution":{"type":"string"},"awarded":{"type":"string","format":"date"}},"additionalProperties":false}`

var degreeType = model.DataType{Code: "edu.degree", Name: "学位证书", Schema: degreeSchema, Owners: []string{eduID},
	Predicates: []model.Predicate{
		{ID: "bachelor_or_higher", Name: "本科及以上学位", NameEN: "Holds a bachelor's degree or higher",
			Expression: `{"claim":"degree","op":"in","values":["bachelor","master","doctor"]}`},
		{ID: "graduated_before_2010", Name: "2010年前毕业", Expression: `{"claim":"awarded","op":"lt","value":"2010-01-01"}`},
		{ID: "has_gpa", Name: "有绩点", Expression: `{"claim":"gpa","op":"gte","value":3}`},
	}}

const degreeRecord = `{"name":"王小明","degree":"bachelor","major":"计算机科学与技术","institution":"北京大学","awarded":"2012-07-01"}`

// world is an issuer on a pretend ledger: its department record, status
// lists and route entries, served as a proof bundle.
type world struct {
	t      testing.TB
	now    time.Time
	dept   model.Department
	keys   map[string]*ecdsa.PrivateKey
	holder *ecdsa.PrivateKey
	lists  map[string]*statuslist.List // purpose → list
	bundle credential.ProofBundle
}

func newWorld(t testing.TB) *world {
	t.Helper()
	w := &world{t: t, now: t0, keys: map[string]*ecdsa.PrivateKey{}, lists: map[string]*statuslist.List{}}
	w.holder = mustKey()
	w.dept = model.Department{ID: eduID, Name: "市教育局", MSPID: "EduBureauMSP", Status: model.DepartmentActive,
		CreatedAt: model.FormatTime(t0), UpdatedAt: model.FormatTime(t0)}
	w.addKey("k1", t0)
	for _, p := range []string{model.StatusRevocation, model.StatusSuspension} {
		l, err := statuslist.New(statuslist.MinSize)
		if err != nil {
			t.Fatal(err)
		}
		w.lists[p] = l
	}
	w.publishLists()
	return w
}

func mustKey() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

func (w *world) addKey(kid string, at time.Time) {
	k := mustKey()
	pemText, _ := model.MarshalPublicKey(&k.PublicKey)
	w.keys[kid] = k
	w.dept.SigningKeys = append(w.dept.SigningKeys, model.SigningKey{KID: kid, PublicKeyPEM: pemText, Status: model.KeyActive, ValidFrom: model.FormatTime(at)})
	w.refreshDID()
}

func (w *world) setKey(kid string, f func(k *model.SigningKey)) {
	for i := range w.dept.SigningKeys {
		if w.dept.SigningKeys[i].KID == kid {
			f(&w.dept.SigningKeys[i])
		}
	}
	w.refreshDID()
}

func (w *world) refreshDID() {
	w.bundle.Issuers = []model.DIDResolution{w.dept.IssuerResolution()}
}

func (w *world) signer(kid string) credential.Signer {
	return credential.Signer{Department: eduID, KID: kid, Key: w.keys[kid]}
}

func listID(purpose string) string { return purpose[:1] + "1" }

func (w *world) listURL(purpose string) string {
	return credential.StatusListURL(base, eduID, listID(purpose))
}

// publishLists signs both lists and anchors them (a new version each time).
func (w *world) publishLists() {
	w.bundle.StatusLists = nil
	for _, p := range []string{model.StatusRevocation, model.StatusSuspension} {
		slc, err := credential.IssueStatusList(w.signer("k1"), w.listURL(p), p, w.lists[p], w.now)
		if err != nil {
			w.t.Fatal(err)
		}
		w.bundle.StatusLists = append(w.bundle.StatusLists, credential.BundledStatusList{URL: w.listURL(p), Credential: slc.Token,
			Anchor: model.StatusListAnchor{Issuer: eduID, ListID: listID(p), Purpose: p, Version: uint64(w.now.Unix()), Digest: slc.Digest, Size: statuslist.MinSize}})
	}
}

func (w *world) holderJWK() sdjwt.JWK {
	j, err := sdjwt.PublicJWK(&w.holder.PublicKey)
	if err != nil {
		w.t.Fatal(err)
	}
	return j
}

// issue signs a degree credential with key kid and anchors its route.
func (w *world) issue(kid string, edit func(*credential.Template)) *credential.Issued {
	w.t.Helper()
	tpl := credential.Template{
		Subject: subject, DataType: degreeType, SchemaURL: base + "/v1/datatypes/edu.degree/schema",
		Claims: json.RawMessage(degreeRecord), Holder: w.holderJWK(),
		Status: []credential.StatusEntry{
			credential.StatusEntryFor(w.listURL(model.StatusRevocation), model.StatusRevocation, 94567),
			credential.StatusEntryFor(w.listURL(model.StatusSuspension), model.StatusSuspension, 23452),
		},
		IssuedAt: w.now, ValidFrom: w.now, ValidUntil: w.now.AddDate(5, 0, 0), Version: 2,
	}
	if edit != nil {
		edit(&tpl)
	}
	iss, err := credential.Issue(w.signer(kid), tpl)
	if err != nil {
		w.t.Fatalf("issue: %v", err)
	}
	st := iss.Route.Statement
	w.bundle.Anchors = append(w.bundle.Anchors, credential.AnchorProof{Route: model.RouteEntry{
		EID: st.EID, DataType: st.DataType, Provider: st.Provider, Version: st.Version, Digest: st.Digest, Schema: st.Schema,
		KID: iss.Route.KID, Signature: iss.Route.Signature, Status: model.RouteValid,
		PublishedAt: model.FormatTime(w.now), UpdatedAt: model.FormatTime(w.now), TxID: "tx-" + iss.ID[9:17]}})
	return iss
}

func (w *world) verifier() *credential.Verifier {
	return &credential.Verifier{Clock: routing.ClockFunc(func() time.Time { return w.now })}
}

func (w *world) present(token string, names ...string) string {
	w.t.Helper()
	p, err := credential.Present(token, credential.PresentOptions{Disclose: names, Holder: w.holder,
		Audience: "did:eidgate:dept:hrss", Nonce: "n-0123456789", At: w.now})
	if err != nil {
		w.t.Fatalf("present: %v", err)
	}
	return p
}
