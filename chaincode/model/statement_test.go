package model_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gowebpki/jcs"

	"github.com/eidgate/eidgate/chaincode/model"
)

// independentDigest computes a statement's digest with an independent
// RFC 8785 implementation (gowebpki/jcs) over encoding/json's rendering.
func independentDigest(t testing.TB, st model.Statement) (string, [32]byte) {
	t.Helper()
	raw, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	canon, err := jcs.Transform(raw)
	if err != nil {
		t.Fatal(err)
	}
	return string(canon), sha256.Sum256(append([]byte(model.StatementDomain+"\x00"), canon...))
}

func sampleConsent() model.Consent {
	return model.Consent{
		ID: model.DeriveConsentID("tx1"), EID: model.DeriveEID("tx0", 0), Requester: "hrss", Provider: "edubureau",
		DataTypes: []string{"edu.transcript", "edu.degree"}, PurposeCode: "employment",
		PurposeText: "核实应聘者学历 \"quoted\" \\ <tag> & \u2028", ValidFrom: "2026-03-01T09:00:00Z",
		ValidUntil: "2026-04-01T09:00:00Z", MaxUses: 3, Status: model.ConsentRequested,
	}
}

// TestStatementVector pins the canonical form and digest of one statement
// (testdata/statement_vector.json, for other implementations) and checks
// them against an independent JCS implementation.
func TestStatementVector(t *testing.T) {
	var v struct {
		Statement struct {
			Type, Subject, Signer, Nonce string
		}
		Consent   model.Consent `json:"consent"`
		Canonical string        `json:"canonical"`
		Digest    string        `json:"digest"`
	}
	b, err := os.ReadFile("testdata/statement_vector.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	st := model.ConsentStatement(v.Statement.Type, v.Consent, v.Statement.Signer, v.Statement.Nonce)
	canon, err := st.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	d, err := st.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if string(canon) != v.Canonical || model.FormatDigest(d) != v.Digest {
		t.Fatalf("vector:\n got %s\n     %s\nwant %s\n     %s", canon, model.FormatDigest(d), v.Canonical, v.Digest)
	}
	ic, id := independentDigest(t, st)
	if ic != v.Canonical || "sha256:"+hex.EncodeToString(id[:]) != v.Digest {
		t.Fatalf("independent JCS disagrees:\n%s", ic)
	}
}

// TestStatementMatchesIndependentJCS compares the canonical form with
// gowebpki/jcs on generated terms with awkward text.
func TestStatementMatchesIndependentJCS(t *testing.T) {
	alphabet := []rune("aZ09 \"\\/\b\f\n\r\t\x00\x01\x1f\x7f<>&'é中文\u2028\u2029\U0001F600\ufeff")
	r := rand.New(rand.NewPCG(1, 2))
	text := func() string {
		var b strings.Builder
		for range r.IntN(12) {
			b.WriteRune(alphabet[r.IntN(len(alphabet))])
		}
		return b.String()
	}
	for i := range 2000 {
		c := sampleConsent()
		c.PurposeText, c.Requester, c.Provider = text(), text(), text()
		c.DataTypes = []string{text(), text()}
		c.MaxUses = r.Uint64N(1 << 53)
		if i%7 == 0 {
			c.DataTypes = nil
		}
		st := model.ConsentStatement(model.StatementConsentRevoke, c, text(), text())
		canon, err := st.Canonical()
		if err != nil {
			t.Fatal(err)
		}
		if ic, _ := independentDigest(t, st); ic != string(canon) {
			t.Fatalf("case %d:\n ours %q\n jcs  %q", i, canon, ic)
		}
	}
}

func TestStatementDigestBindsEveryTerm(t *testing.T) {
	base := sampleConsent()
	digest := func(kind string, c model.Consent, signer, nonce string) [32]byte {
		d, err := model.ConsentStatement(kind, c, signer, nonce).Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	ref := digest(model.StatementConsentGrant, base, base.EID, "n")
	reordered := base
	reordered.DataTypes = []string{"edu.degree", "edu.transcript"}
	if digest(model.StatementConsentGrant, reordered, base.EID, "n") != ref {
		t.Error("the order of data types changes the digest")
	}
	changed := map[string]func(*model.Consent){
		"id":           func(c *model.Consent) { c.ID = model.DeriveConsentID("other") },
		"requester":    func(c *model.Consent) { c.Requester = "civil" },
		"provider":     func(c *model.Consent) { c.Provider = "*" },
		"data types":   func(c *model.Consent) { c.DataTypes = []string{"edu.degree"} },
		"purpose":      func(c *model.Consent) { c.PurposeCode = "marketing" },
		"purpose text": func(c *model.Consent) { c.PurposeText += "." },
		"valid from":   func(c *model.Consent) { c.ValidFrom = "2026-03-01T09:00:01Z" },
		"valid until":  func(c *model.Consent) { c.ValidUntil = "2027-04-01T09:00:00Z" },
		"max uses":     func(c *model.Consent) { c.MaxUses = 0 },
		"subject":      func(c *model.Consent) { c.EID = model.DeriveEID("tx9", 0) },
	}
	for name, f := range changed {
		c := base
		f(&c)
		if digest(model.StatementConsentGrant, c, base.EID, "n") == ref {
			t.Errorf("changing the %s keeps the digest", name)
		}
	}
	if digest(model.StatementConsentRevoke, base, base.EID, "n") == ref {
		t.Error("a revocation has the grant's digest")
	}
	if digest(model.StatementConsentGrant, base, model.DeriveEID("g", 0), "n") == ref {
		t.Error("another signer has the same digest")
	}
	if digest(model.StatementConsentGrant, base, base.EID, "m") == ref {
		t.Error("another nonce has the same digest")
	}
	// Status, uses and decision fields are not terms.
	decided := base
	decided.Status, decided.Uses, decided.DecidedAt = model.ConsentActive, 2, "2026-03-02T00:00:00Z"
	if digest(model.StatementConsentGrant, decided, base.EID, "n") != ref {
		t.Error("the consent's state changes the digest")
	}
}

func TestStatementRefusesWhatJCSCannotHold(t *testing.T) {
	c := sampleConsent()
	c.MaxUses = 1 << 53
	if _, err := model.ConsentStatement(model.StatementConsentGrant, c, c.EID, "n").Digest(); err == nil {
		t.Error("a max_uses above 2^53-1 was accepted")
	}
	c = sampleConsent()
	c.PurposeText = "bad \xff"
	if utf8.ValidString(c.PurposeText) {
		t.Fatal("test text is valid")
	}
	if _, err := model.ConsentStatement(model.StatementConsentGrant, c, c.EID, "n").Canonical(); err == nil {
		t.Error("invalid UTF-8 was accepted")
	}
	if _, err := (model.Statement{Type: "x"}).Canonical(); err == nil {
		t.Error("a statement without terms was accepted")
	}
}

func sampleRule() model.StandingRule {
	return model.StandingRule{
		ID: model.DeriveRuleID("tx1"), EID: model.DeriveEID("tx0", 0), Departments: []string{"hrss", "civil"},
		Roles: []string{"hospital", "employer-hr"}, DataTypes: []string{"health.allergies", "edu.degree"}, PurposeCode: "emergency_care",
		Note: "hospitals \"in an emergency\" \\ 急救", ValidFrom: "2026-03-01T09:00:00Z", ValidUntil: "2027-03-01T09:00:00Z", MaxUses: 5,
		Status: model.RuleActive,
	}
}

// A rule statement's canonical form agrees with an independent JCS
// implementation, and its digest binds every term (not uses or status).
func TestRuleStatement(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	alphabet := []rune("aZ09 \"\\/\b\n\x00\x1f\x7f<>&é中\u2028\U0001F600")
	text := func() string {
		var b strings.Builder
		for range r.IntN(10) {
			b.WriteRune(alphabet[r.IntN(len(alphabet))])
		}
		return b.String()
	}
	for i := range 1000 {
		rl := sampleRule()
		rl.Note, rl.PurposeCode = text(), text()
		rl.Departments, rl.Roles, rl.DataTypes = []string{text()}, []string{text(), text()}, []string{text()}
		if i%5 == 0 {
			rl.Departments = nil
		}
		rl.MaxUses = r.Uint64N(1 << 53)
		st := model.RuleStatement(model.StatementRuleRevoke, rl, text(), text())
		canon, err := st.Canonical()
		if err != nil {
			t.Fatal(err)
		}
		if ic, _ := independentDigest(t, st); ic != string(canon) {
			t.Fatalf("case %d:\n ours %q\n jcs  %q", i, canon, ic)
		}
	}

	base := sampleRule()
	digest := func(kind string, rl model.StandingRule) [32]byte {
		d, err := model.RuleStatement(kind, rl, base.EID, "n").Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	ref := digest(model.StatementRuleRevoke, base)
	for name, f := range map[string]func(*model.StandingRule){
		"id":          func(rl *model.StandingRule) { rl.ID = model.DeriveRuleID("other") },
		"departments": func(rl *model.StandingRule) { rl.Departments = []string{"hrss"} },
		"roles":       func(rl *model.StandingRule) { rl.Roles = nil },
		"data types":  func(rl *model.StandingRule) { rl.DataTypes = []string{"edu.degree"} },
		"purpose":     func(rl *model.StandingRule) { rl.PurposeCode = "employment" },
		"note":        func(rl *model.StandingRule) { rl.Note += "." },
		"valid from":  func(rl *model.StandingRule) { rl.ValidFrom = "2026-03-01T09:00:01Z" },
		"valid until": func(rl *model.StandingRule) { rl.ValidUntil = "2028-03-01T09:00:00Z" },
		"max uses":    func(rl *model.StandingRule) { rl.MaxUses = 0 },
		"subject":     func(rl *model.StandingRule) { rl.EID = model.DeriveEID("tx9", 0) },
	} {
		rl := base
		f(&rl)
		if digest(model.StatementRuleRevoke, rl) == ref {
			t.Errorf("changing the %s keeps the digest", name)
		}
	}
	reordered, used := base, base
	reordered.Roles = []string{"employer-hr", "hospital"}
	used.Uses, used.Status = 3, model.RuleRevoked
	if digest(model.StatementRuleRevoke, reordered) != ref || digest(model.StatementRuleRevoke, used) != ref {
		t.Error("list order, uses or status change the digest")
	}
	// A creation's statement names no rule id: the id comes later.
	created := base
	created.ID = ""
	if digest(model.StatementRuleCreate, base) != digest(model.StatementRuleCreate, created) || digest(model.StatementRuleCreate, base) == ref {
		t.Error("rule.create must not depend on the id, and must differ from rule.revoke")
	}
}
