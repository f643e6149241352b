package approval_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol"

	"github.com/eidgate/eidgate/accounts"
	"github.com/eidgate/eidgate/approval"
	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/internal/passkeytest"
	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/routing/routingtest"
	"github.com/eidgate/eidgate/store"
	"github.com/eidgate/eidgate/store/storetest"
)

const (
	rpID   = "eid.example.gov.cn"
	origin = "https://eid.example.gov.cn"
)

var (
	alice = model.DeriveEID("approval", 0)
	bob   = model.DeriveEID("approval", 1)
	quiet = slog.New(slog.NewTextHandler(io.Discard, nil))
)

type env struct {
	t        *testing.T
	clock    *routingtest.Clock
	ledger   *routingtest.Ledger
	passkeys *accounts.Passkeys
	consents *routing.ConsentService
	rules    *routing.RuleService
	svc      *approval.Service
	keys     map[string]*passkeytest.Credential
}

func newEnv(t *testing.T, d storetest.DB) *env {
	t.Helper()
	clock := routingtest.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	l := routingtest.NewLedger(clock)
	for _, e := range []string{alice, bob} {
		l.PutIdentity(model.Identity{ID: e, Status: model.EIDActive})
	}
	l.PutDepartment(model.Department{ID: "hrss", Name: "HR", MSPID: "HrMSP", Status: model.DepartmentActive})
	l.PutDataType(model.DataType{Code: "edu.degree", Name: "Degree", Owners: []string{"edu"}, Status: model.DataTypeActive})
	db := d.OpenWith(t, store.Config{Clock: clock})
	pk, err := accounts.NewPasskeys(accounts.PasskeysConfig{Store: db, Ledger: l, Clock: clock, Logger: quiet, RPID: rpID, Origins: []string{origin}})
	if err != nil {
		t.Fatal(err)
	}
	dir, err := routing.NewDirectory(routing.DirectoryConfig{Registry: l, EIDs: l, Routes: l, Consents: l, Passkeys: l, Cache: routingtest.NewCache(), Clock: clock, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := routing.NewConsentService(routing.ConsentConfig{Ledger: l, Dir: dir, Policy: allowAll{}, Clock: clock, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	rules, err := routing.NewRuleService(routing.RuleConfig{Ledger: l, Dir: dir, Policy: allowAll{}, Clock: clock, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	reps, err := routing.NewRepresentations(l, cs, clock)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := approval.New(approval.Config{Signer: pk, Consents: cs, Ledger: l, Rules: rules, Representations: reps, Clock: clock, Channel: "eidgate", Chaincode: "eidgate"})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, clock: clock, ledger: l, passkeys: pk, consents: cs, rules: rules, svc: svc, keys: map[string]*passkeytest.Credential{}}
	for _, who := range []string{alice, bob} {
		e.keys[who] = e.register(who)
	}
	return e
}

func (e *env) register(eid string) *passkeytest.Credential {
	ctx := context.Background()
	opts, err := e.passkeys.BeginRegistration(ctx, accounts.KindResident, eid, "")
	if err != nil {
		e.t.Fatal(err)
	}
	c := passkeytest.New(passkeytest.ES256, []byte(opts.Response.User.ID.(protocol.URLEncodedBase64)))
	if _, err := e.passkeys.FinishRegistration(ctx, accounts.KindResident, eid, c.Register(rpID, origin, opts.Response.Challenge, passkeytest.Options{}), ""); err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) request(eid string, maxUses uint64) *model.Consent {
	c, err := e.consents.Request(context.Background(), "hrss", routing.ConsentDraft{EID: eid, DataTypes: []string{"edu.degree"},
		PurposeCode: "employment", PurposeText: "核实应聘者学历", ValidUntil: e.clock.Now().Add(30 * 24 * time.Hour), MaxUses: maxUses})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// verifiedProof exports the proof of eid's consent id as a file would
// carry it, reads it back and verifies it offline and on the ledger.
func (e *env) verifiedProof(eid, id string) (*approval.ConsentProof, *approval.Report) {
	e.t.Helper()
	ctx := context.Background()
	p, err := e.svc.ProofForResident(ctx, eid, id)
	if err != nil {
		e.t.Fatal(err)
	}
	raw, _ := json.Marshal(p)
	parsed, err := approval.ParseProof(raw)
	if err != nil {
		e.t.Fatal(err)
	}
	r, err := e.svc.VerifyProof(ctx, parsed)
	if err != nil {
		e.t.Fatal(err)
	}
	return parsed, r
}

// sign answers ch with eid's passkey.
func (e *env) sign(eid string, ch *approval.Challenge, o passkeytest.Options) []byte {
	return e.keys[eid].Assert(rpID, origin, ch.Options.Response.Challenge, o).JSON()
}

func TestSignedGrantAndRevocation(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		c := e.request(alice, 3)
		ch, err := e.svc.BeginConsent(ctx, alice, c.ID, "grant")
		if err != nil {
			t.Fatal(err)
		}
		// The challenge is the statement's digest, and the statement names
		// exactly the consent's terms.
		sum, _ := ch.Statement.Digest()
		if string(ch.Options.Response.Challenge) != string(sum[:]) {
			t.Fatalf("string(ch.Options.Response.Challenge) != string(sum[:]); challenge: %+v", ch)
		}
		if ch.Digest != model.FormatDigest(sum) {
			t.Fatalf("ch.Digest = %v, want model.FormatDigest(sum); challenge: %+v", ch.Digest, ch)
		}
		if ch.Statement.Terms.(model.ConsentTerms).PurposeText != "核实应聘者学历" {
			t.Fatalf("ch.Statement.Terms.(model.ConsentTerms).PurposeText = %q, want \"核实应聘者学历\"; challenge: %+v", ch.Statement.Terms.(model.ConsentTerms).PurposeText, ch)
		}
		if !strings.Contains(ch.Canonical, `"type":"consent.grant"`) {
			t.Fatalf("strings.Contains(ch.Canonical, `\"type\":\"consent.grant\"`) is false; challenge: %+v", ch)
		}
		got, err := e.svc.FinishConsent(ctx, alice, c.ID, "grant", e.sign(alice, ch, passkeytest.Options{}))
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != model.ConsentActive {
			t.Fatalf("got.Status = %v, want model.ConsentActive; granted: %+v", got.Status, got)
		}
		if got.GrantAssurance != model.AssurancePasskey {
			t.Fatalf("got.GrantAssurance = %v, want model.AssurancePasskey; granted: %+v", got.GrantAssurance, got)
		}
		e.clock.Advance(time.Hour)
		ch, _ = e.svc.BeginConsent(ctx, alice, c.ID, "revoke")
		if _, err := e.svc.FinishConsent(ctx, alice, c.ID, "revoke", e.sign(alice, ch, passkeytest.Options{})); err != nil {
			t.Fatal(err)
		}

		_, r := e.verifiedProof(alice, c.ID)
		if !r.Valid {
			t.Fatalf("r.Valid is false; report: %+v %+v %+v %+v", r, r.Grant, r.Revoke, r.Ledger)
		}
		if !r.SignedByResident {
			t.Fatalf("r.SignedByResident is false; report: %+v %+v %+v %+v", r, r.Grant, r.Revoke, r.Ledger)
		}
		if !r.Grant.Verified {
			t.Fatalf("r.Grant.Verified is false; report: %+v %+v %+v %+v", r, r.Grant, r.Revoke, r.Ledger)
		}
		if r.Revoke == nil {
			t.Fatalf("r.Revoke is nil; report: %+v %+v %+v %+v", r, r.Grant, r.Revoke, r.Ledger)
		}
		if !r.Revoke.Verified {
			t.Fatalf("r.Revoke.Verified is false; report: %+v %+v %+v %+v", r, r.Grant, r.Revoke, r.Ledger)
		}
		if !r.Ledger.Matches {
			t.Fatalf("r.Ledger.Matches is false; report: %+v %+v %+v %+v", r, r.Grant, r.Revoke, r.Ledger)
		}
		if r.Terms.MaxUses != 3 {
			t.Fatalf("r.Terms.MaxUses = %v, want 3; report: %+v %+v %+v %+v", r.Terms.MaxUses, r, r.Grant, r.Revoke, r.Ledger)
		}
		if r.Grant.Algorithm != model.AlgES256 {
			t.Fatalf("r.Grant.Algorithm = %v, want model.AlgES256; report: %+v %+v %+v %+v", r.Grant.Algorithm, r, r.Grant, r.Revoke, r.Ledger)
		}
		// The department that asked gets the same proof; another does not.
		if _, err := e.svc.ProofForDepartment(ctx, "hrss", c.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.ProofForDepartment(ctx, "civil", c.ID); !routing.IsKind(err, routing.KindNotFound) {
			t.Fatalf("another department: %v", err)
		}
		if _, err := e.svc.ProofForResident(ctx, bob, c.ID); !routing.IsKind(err, routing.KindNotFound) {
			t.Fatalf("another resident: %v", err)
		}
	})
}

// Every change to a signed proof is caught offline, and the ledger
// comparison names what differs.
func TestTamperedProofs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite(t))
	ctx := context.Background()
	c := e.request(alice, 3)
	ch, _ := e.svc.BeginConsent(ctx, alice, c.ID, "grant")
	if _, err := e.svc.FinishConsent(ctx, alice, c.ID, "grant", e.sign(alice, ch, passkeytest.Options{})); err != nil {
		t.Fatal(err)
	}
	good, err := e.svc.ProofForResident(ctx, alice, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	other := e.keys[bob].JWK()
	for _, tc := range []struct {
		name   string
		change func(p *approval.ConsentProof)
		reason string
	}{
		{"more uses", func(p *approval.ConsentProof) { p.Consent.MaxUses = 30 }, model.AssertionWrongChallenge},
		{"other purpose text", func(p *approval.ConsentProof) { p.Consent.PurposeText = "营销" }, model.AssertionWrongChallenge},
		{"longer window", func(p *approval.ConsentProof) { p.Consent.ValidUntil = "2027-03-01T09:00:00Z" }, model.AssertionWrongChallenge},
		{"other requester", func(p *approval.ConsentProof) { p.Consent.Requester = "civil" }, model.AssertionWrongChallenge},
		{"another key", func(p *approval.ConsentProof) { p.Passkeys[0].PublicKeyJWK = other }, model.AssertionBadSignature},
		{"no key", func(p *approval.ConsentProof) { p.Passkeys = nil }, "is not among the proof's passkeys"},
		{"signed before the key", func(p *approval.ConsentProof) { p.Passkeys[0].RegisteredAt = "2027-01-01T00:00:00Z" }, model.AssertionKeyNotActive},
		{"signature flipped", func(p *approval.ConsentProof) {
			s := *p.Consent.GrantSignature
			s.Signature = flip(s.Signature)
			p.Consent.GrantSignature = &s
		}, model.AssertionBadSignature},
		{"other signer", func(p *approval.ConsentProof) {
			s := *p.Consent.GrantSignature
			s.Signer = bob
			p.Consent.GrantSignature = &s
		}, "the signer is not the consent's resident"},
		{"signature dropped", func(p *approval.ConsentProof) { p.Consent.GrantSignature = nil }, "carries no signature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, _ := json.Marshal(good)
			var p approval.ConsentProof
			_ = json.Unmarshal(raw, &p)
			tc.change(&p)
			r := approval.Verify(&p)
			if r.Valid {
				t.Fatalf("r.Valid is true; report: %+v, grant %+v", r, r.Grant)
			}
			if r.SignedByResident {
				t.Fatalf("r.SignedByResident is true; report: %+v, grant %+v", r, r.Grant)
			}
			if !strings.Contains(r.Grant.Reason, tc.reason) {
				t.Fatalf("strings.Contains(r.Grant.Reason, tc.reason) is false; report: %+v, grant %+v", r, r.Grant)
			}
			lc, err := approval.CompareWithLedger(ctx, e.ledger, &p)
			if err != nil {
				t.Fatal(err)
			}
			if tc.name != "no key" && lc.Matches {
				t.Fatalf("the ledger agrees with a tampered proof: %+v", lc)
			}
		})
	}
	// A password-only consent is valid and marked as not signed.
	pw := e.request(alice, 1)
	if _, err := e.consents.Grant(ctx, alice, pw.ID, "portal"); err != nil {
		t.Fatal(err)
	}
	p, _ := e.svc.ProofForResident(ctx, alice, pw.ID)
	r := approval.Verify(p)
	if !r.Valid {
		t.Fatalf("r.Valid is false; password-only report: %+v %+v", r, r.Grant)
	}
	if r.SignedByResident {
		t.Fatalf("r.SignedByResident is true; password-only report: %+v %+v", r, r.Grant)
	}
	if r.Grant.Assurance != model.AssurancePassword {
		t.Fatalf("r.Grant.Assurance = %v, want model.AssurancePassword; password-only report: %+v %+v", r.Grant.Assurance, r, r.Grant)
	}
	if !strings.Contains(r.Grant.Reason, "password-only") {
		t.Fatalf("strings.Contains(r.Grant.Reason, \"password-only\") is false; password-only report: %+v %+v", r, r.Grant)
	}
}

func flip(s string) string {
	b := []byte(s)
	if b[10] == 'A' {
		b[10] = 'B'
	} else {
		b[10] = 'A'
	}
	return string(b)
}

// Answers that do not fit the ceremony are refused with stable codes and
// change nothing on the ledger.
func TestSigningRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite(t))
	ctx := context.Background()
	a := e.request(alice, 3)
	b := e.request(alice, 5)
	bobs := e.request(bob, 1)
	active := e.request(alice, 9)
	if _, err := e.consents.Grant(ctx, alice, active.ID, "portal"); err != nil {
		t.Fatal(err)
	}
	chA, _ := e.svc.BeginConsent(ctx, alice, a.ID, "grant")
	chB, _ := e.svc.BeginConsent(ctx, alice, b.ID, "grant")
	for _, tc := range []struct {
		name                 string
		who, consent, action string
		body                 func() []byte
		code                 string
	}{
		{"a signature of A's terms sent for B", alice, b.ID, "grant", func() []byte { return e.sign(alice, chA, passkeytest.Options{}) }, approval.CodeTermsMismatch},
		{"a grant's ceremony answered as a revocation", alice, a.ID, "revoke", func() []byte { return e.sign(alice, chB, passkeytest.Options{}) }, "consent_state"},
		{"a revocation's ceremony answered as a grant", alice, b.ID, "grant", func() []byte {
			ch, err := e.svc.BeginConsent(ctx, alice, active.ID, "revoke")
			if err != nil {
				t.Fatal(err)
			}
			return e.sign(alice, ch, passkeytest.Options{})
		}, accounts.CodeCeremonyMismatch},
		{"another resident's passkey", alice, a.ID, "grant", func() []byte {
			ch, _ := e.svc.BeginConsent(ctx, alice, a.ID, "grant")
			return e.keys[bob].Assert(rpID, origin, ch.Options.Response.Challenge, passkeytest.Options{}).JSON()
		}, accounts.CodeWrongUser},
		{"bob answers at alice's consent", bob, a.ID, "grant", func() []byte {
			ch, _ := e.svc.BeginConsent(ctx, bob, bobs.ID, "grant")
			return e.sign(bob, ch, passkeytest.Options{})
		}, "not_found"},
		{"unknown action", alice, a.ID, "approve", func() []byte { return nil }, approval.CodeUnknownAction},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.svc.FinishConsent(ctx, tc.who, tc.consent, tc.action, tc.body())
			if routing.CodeOf(err) != tc.code {
				t.Fatalf("got %v, want %s", err, tc.code)
			}
			for _, id := range []string{a.ID, b.ID, bobs.ID} {
				if c, _ := e.ledger.GetConsent(ctx, id); c.Status != model.ConsentRequested {
					t.Fatalf("%s is %s", id, c.Status)
				}
			}
		})
	}
	if _, err := e.svc.BeginConsent(ctx, alice, a.ID, "revoke"); routing.CodeOf(err) != "consent_state" {
		t.Fatalf("revoking a request: %v", err)
	}
	if _, err := e.svc.BeginConsent(ctx, bob, a.ID, "grant"); !routing.IsKind(err, routing.KindNotFound) {
		t.Fatalf("bob begins on alice's consent: %v", err)
	}
}

func FuzzParseProof(f *testing.F) {
	f.Add([]byte(`{"format":"eidgate-consent-proof/v1","consent":{"id":"cs-000000000000000000000000","eid":"did:eidgate:00000000000000000000000000000000"},"passkeys":[]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := approval.ParseProof(raw)
		if err != nil {
			return
		}
		r := approval.Verify(p)
		if r.SignedByResident && !r.Valid {
			t.Fatal("signed but not valid")
		}
	})
}

// allowAll is a policy that allows every request (these tests are about
// the resident's signature, not the policy).
type allowAll struct{}

func (allowAll) Decide(context.Context, string, string, string) (routing.Decision, error) {
	return routing.Decision{Allowed: true, Version: 1}, nil
}

// A guardian signs the ward's consent with their own passkey under a
// relation; the proof names them, verifies offline and matches the
// ledger; once the relation has expired nothing changes.
func TestGuardianSignsForWard(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		// bob is the parent of alice, born 2010-03-01 (of age 2028-02-29T16:00Z).
		rep, err := e.ledger.RegisterRepresentation(ctx, model.RepresentationDraft{Ward: alice, Guardian: bob, Kind: model.RepresentationParent,
			Evidence:      model.RepresentationEvidence{Kind: "birth_certificate", HashedRef: "v1:" + strings.Repeat("a", 64), MaskedRef: "N1****9"},
			WardBirthDate: "2010-03-01", Officer: "officer.li"})
		if err != nil {
			t.Fatal(err)
		}
		// Someone who is not alice's guardian: not found, nothing signed.
		c := e.request(alice, 0)
		if _, err := e.svc.BeginConsentForWard(ctx, alice, bob, c.ID, "grant"); !routing.IsKind(err, routing.KindNotFound) {
			t.Fatalf("alice acting for bob: %v", err)
		}
		ch, err := e.svc.BeginConsentForWard(ctx, bob, alice, c.ID, "grant")
		if err != nil {
			t.Fatal(err)
		}
		if ch.Statement.Signer != bob || ch.Statement.Subject != alice || ch.Statement.Representation != rep.ID ||
			!strings.Contains(ch.Canonical, `"representation":"`+rep.ID+`"`) {
			t.Fatalf("statement: %+v %s", ch.Statement, ch.Canonical)
		}
		got, err := e.svc.FinishConsentForWard(ctx, bob, alice, c.ID, "grant", e.sign(bob, ch, passkeytest.Options{}))
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != model.ConsentActive || got.DecidedByGuardian != bob || got.DecidedUnder != rep.ID {
			t.Fatalf("granted: %+v", got)
		}
		parsed, r := e.verifiedProof(alice, c.ID)
		if !r.Valid || !r.SignedByGuardian || r.SignedByResident || r.Guardian != bob || r.Representation != rep.ID || !r.Ledger.Matches {
			t.Fatalf("report: %+v %+v %+v", r, r.Grant, r.Ledger)
		}
		// Without the relation in the proof, the guardian's signature does
		// not show the resident's consent.
		parsed.Representations = nil
		if r := approval.Verify(parsed); r.Valid || r.SignedByGuardian {
			t.Fatalf("without the relation: %+v %+v", r, r.Grant)
		}

		// alice comes of age: bob can no longer act; nothing changes.
		e.clock.Advance(time.Date(2028, 2, 29, 16, 0, 0, 0, time.UTC).Sub(e.clock.Now()))
		if _, err := e.svc.BeginConsentForWard(ctx, bob, alice, c.ID, "revoke"); routing.CodeOf(err) != routing.CodeRepresentationExpired {
			t.Fatalf("after alice came of age: %v", err)
		}
		if after, _ := e.ledger.GetConsent(ctx, c.ID); after.Status != model.ConsentActive {
			t.Fatalf("changed: %+v", after)
		}
	})
}
