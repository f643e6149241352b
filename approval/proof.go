package approval

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/routing"
)

// ProofFormat names the consent proof file format.
const ProofFormat = "eidgate-consent-proof/v1"

// MaxProofBytes bounds a consent proof file.
const MaxProofBytes = 256 << 10

// ConsentProof is everything needed to check, without eidgate, that a
// resident approved a consent's terms: the consent as the ledger holds it
// (terms, assurances, signature records) and the resident's passkeys that
// signed, as registered on the ledger, with where on the ledger to find
// both again.
type ConsentProof struct {
	Format     string          `json:"format"`
	Consent    model.Consent   `json:"consent"`
	Passkeys   []model.Passkey `json:"passkeys"`
	Ledger     LedgerRef       `json:"ledger"`
	ExportedAt string          `json:"exported_at"`
}

// LedgerRef says where the proof's records are: the channel and chaincode,
// the consent's key (its id) and the resident's DID, whose document lists
// the keys.
type LedgerRef struct {
	Channel   string `json:"channel"`
	Chaincode string `json:"chaincode"`
	DID       string `json:"did"`
}

// ParseProof reads a consent proof file strictly: the known format, no
// unknown members, one JSON value.
func ParseProof(raw []byte) (*ConsentProof, error) {
	const op = "approval.ParseProof"
	if len(raw) > MaxProofBytes {
		return nil, routing.Invalid(op, "proof", "a consent proof is at most %d bytes", MaxProofBytes)
	}
	var p ConsentProof
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, routing.Invalid(op, "proof", "not a consent proof: %v", jsonProblem(err))
	}
	if dec.More() {
		return nil, routing.Invalid(op, "proof", "not a consent proof: data after the JSON value")
	}
	if p.Format != ProofFormat {
		return nil, routing.Invalid(op, "format", "the format must be %q", ProofFormat)
	}
	if !model.ValidConsentID(p.Consent.ID) || !model.ValidDID(p.Consent.EID) {
		return nil, routing.Invalid(op, "consent", "the proof's consent has no valid id or eID")
	}
	if len(p.Passkeys) > model.MaxPasskeysPerEID*4 {
		return nil, routing.Invalid(op, "passkeys", "too many passkeys")
	}
	return &p, nil
}

func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("invalid JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("%s has the wrong type", te.Field)
	}
	return err.Error()
}

// SignatureCheck is the result of checking one decision of a consent.
type SignatureCheck struct {
	// Assurance is the decision's assurance as recorded: passkey or
	// password-only.
	Assurance string `json:"assurance"`
	// Verified: the resident's signature over this decision's statement
	// verifies with their registered key.
	Verified  bool   `json:"verified"`
	Key       string `json:"key,omitempty"`
	Algorithm string `json:"algorithm,omitempty"`
	SignedAt  string `json:"signed_at,omitempty"`
	Digest    string `json:"digest,omitempty"`
	// Reason says why it did not verify (an assertion_* reason or a
	// proof problem), or that a password-only decision carries nothing to
	// verify.
	Reason string `json:"reason,omitempty"`
}

// Report is what checking a consent proof found.
type Report struct {
	Format   string             `json:"format"`
	Consent  string             `json:"consent"`
	Resident string             `json:"resident"`
	Status   string             `json:"status"`
	Terms    model.ConsentTerms `json:"terms"`
	Grant    *SignatureCheck    `json:"grant,omitempty"`
	Revoke   *SignatureCheck    `json:"revocation,omitempty"`
	// SignedByResident: the grant carries the resident's signature over
	// exactly these terms and it verifies.
	SignedByResident bool `json:"signed_by_resident"`
	// Valid: every signature in the proof verifies (a password-only
	// consent is valid but not signed by the resident).
	Valid bool `json:"valid"`
	// Ledger is the comparison with the ledger, when one was made.
	Ledger *LedgerCheck `json:"ledger,omitempty"`
}

// LedgerCheck compares a proof with the ledger.
type LedgerCheck struct {
	Checked  bool     `json:"checked"`
	Matches  bool     `json:"matches"`
	Problems []string `json:"problems,omitempty"`
}

// Password-only decisions carry nothing the resident signed.
const reasonPasswordOnly = "password-only: the platform recorded this decision for a signed-in resident; nothing the resident signed shows they approved these terms"

// Verify checks a consent proof with nothing but its content: each signed
// decision's statement is rebuilt from the consent's terms, the signer and
// the signature's nonce, its digest recomputed and the WebAuthn assertion
// checked with the signer's key from the proof, which must have been
// active when the ledger accepted the signature.
func Verify(p *ConsentProof) *Report {
	c := p.Consent
	r := &Report{Format: p.Format, Consent: c.ID, Resident: c.EID, Status: c.Status, Terms: model.TermsOf(c), Valid: true}
	if g := c.GrantedWith(); g != "" {
		r.Grant = checkDecision(p, model.StatementConsentGrant, g, c.GrantSignature, c.DecidedAt)
		r.SignedByResident = r.Grant.Verified
	}
	if v := c.RevokedWith(); v != "" {
		r.Revoke = checkDecision(p, model.StatementConsentRevoke, v, c.RevokeSignature, c.RevokedAt)
	}
	for _, sc := range []*SignatureCheck{r.Grant, r.Revoke} {
		if sc != nil && sc.Assurance == model.AssurancePasskey && !sc.Verified {
			r.Valid = false
		}
	}
	return r
}

func checkDecision(p *ConsentProof, kind, assurance string, sig *model.PasskeySignature, decidedAt string) *SignatureCheck {
	return checkSignature(p.Passkeys, p.Consent.EID, kind, assurance, sig, decidedAt, func(signer, nonce string) model.Statement {
		return model.ConsentStatement(kind, p.Consent, signer, nonce)
	})
}

// checkSignature checks one signed decision about subject's record: the
// signature record must be of statement kind, by the subject, at the
// decision's time, with one of keys, over the statement rebuilt from the
// record's terms.
func checkSignature(keys []model.Passkey, subject, kind, assurance string, sig *model.PasskeySignature, decidedAt string,
	statement func(signer, nonce string) model.Statement) *SignatureCheck {
	sc := &SignatureCheck{Assurance: assurance}
	if assurance != model.AssurancePasskey {
		if sig != nil {
			sc.Reason = "a signature is attached to a decision not marked as signed"
		} else {
			sc.Reason = reasonPasswordOnly
		}
		return sc
	}
	if sig == nil {
		sc.Reason = "the decision is marked as signed but carries no signature"
		return sc
	}
	sc.Key, sc.SignedAt, sc.Digest = sig.Key, sig.SignedAt, sig.Digest
	switch {
	case sig.Statement != kind:
		sc.Reason = "the signature is for a " + sig.Statement + " statement, not " + kind
		return sc
	case sig.Signer != subject:
		sc.Reason = "the signer is not the " + recordOwner(kind)
		return sc
	case sig.SignedAt != decidedAt:
		sc.Reason = "the signature's time is not the decision's"
		return sc
	}
	i := slices.IndexFunc(keys, func(k model.Passkey) bool { return k.ID == sig.Key })
	if i < 0 {
		sc.Reason = "the signing key " + sig.Key + " is not among the proof's passkeys"
		return sc
	}
	key := keys[i]
	sc.Algorithm = key.PublicKeyJWK.Alg
	got, err := model.CheckApproval(key, statement(sig.Signer, sig.Nonce), sig.Approval(), sig.SignedAt)
	if err != nil {
		var ae *model.AssertionError
		if errors.As(err, &ae) {
			sc.Reason = ae.Reason
		} else {
			sc.Reason = err.Error()
		}
		return sc
	}
	if got.Digest != sig.Digest {
		sc.Reason = "the recorded digest is not the statement's"
		return sc
	}
	sc.Verified = true
	return sc
}

// CompareWithLedger checks that the proof says what the ledger says: the
// consent's terms, decisions and signatures, and each of the proof's keys
// (its public key, relying party and registration; a key may have been
// retired since).
func CompareWithLedger(ctx context.Context, l Ledger, p *ConsentProof) (*LedgerCheck, error) {
	on, err := l.GetConsent(ctx, p.Consent.ID)
	if routing.IsKind(err, routing.KindNotFound) {
		return &LedgerCheck{Checked: true, Problems: []string{"the ledger has no consent " + p.Consent.ID}}, nil
	}
	if err != nil {
		return nil, err
	}
	lc := &LedgerCheck{Checked: true}
	if !sameDecisions(*on, p.Consent) {
		lc.Problems = append(lc.Problems, "the consent's terms or decisions differ from the ledger's")
	}
	keys, err := l.ListPasskeys(ctx, p.Consent.EID)
	if err != nil && !routing.IsKind(err, routing.KindNotFound) {
		return nil, err
	}
	lc.Problems = append(lc.Problems, keyProblems(keys, p.Passkeys)...)
	lc.Matches = len(lc.Problems) == 0
	return lc, nil
}

// keyProblems compares a proof's keys with the ledger's: public key,
// relying party and registration (a key may have been retired since).
func keyProblems(onLedger, inProof []model.Passkey) []string {
	var out []string
	for _, k := range inProof {
		i := slices.IndexFunc(onLedger, func(x model.Passkey) bool { return x.ID == k.ID })
		if i < 0 || onLedger[i].PublicKeyJWK != k.PublicKeyJWK || onLedger[i].RPID != k.RPID || onLedger[i].RegisteredAt != k.RegisteredAt ||
			(k.RetiredAt != "" && onLedger[i].RetiredAt != k.RetiredAt) {
			out = append(out, "passkey "+k.ID+" is not registered on the ledger as the proof says")
		}
	}
	return out
}

// sameDecisions compares what a proof relies on: the terms, the eID, the
// decisions and their signatures (not uses or later expiry).
func sameDecisions(a, b model.Consent) bool {
	ja, _ := json.Marshal(decisionView(a))
	jb, _ := json.Marshal(decisionView(b))
	return bytes.Equal(ja, jb)
}

func decisionView(c model.Consent) any {
	c = c.Assured()
	return struct {
		Terms                   model.ConsentTerms
		EID, Decided, Revoked   string
		Grant, Revoke           string
		GrantSig, RevokeSig     *model.PasskeySignature
		DecisionMethod, Request string
	}{model.TermsOf(c), c.EID, c.DecidedAt, c.RevokedAt, c.GrantAssurance, c.RevokeAssurance,
		c.GrantSignature, c.RevokeSignature, c.DecisionMethod, c.RequestedAt}
}

// export builds the proof of consent c, reading the signer's keys from the
// ledger.
func (s *Service) export(ctx context.Context, c *model.Consent) (*ConsentProof, error) {
	const op = "approval.Proof"
	on, err := s.cfg.Ledger.GetConsent(ctx, c.ID) // fresh from the ledger, not a cache
	if err != nil {
		return nil, routing.Wrap(op, err)
	}
	all, err := s.cfg.Ledger.ListPasskeys(ctx, on.EID)
	if err != nil {
		return nil, routing.Wrap(op, err)
	}
	return &ConsentProof{Format: ProofFormat, Consent: on.Assured(), Passkeys: signingKeys(all, on.GrantSignature, on.RevokeSignature),
		Ledger:     LedgerRef{Channel: s.cfg.Channel, Chaincode: s.cfg.Chaincode, DID: on.EID},
		ExportedAt: s.now()}, nil
}

// ProofForResident exports the proof of a resident's own consent.
func (s *Service) ProofForResident(ctx context.Context, eid, id string) (*ConsentProof, error) {
	c, err := s.cfg.Consents.ForResident(ctx, eid, id)
	if err != nil {
		return nil, err
	}
	return s.export(ctx, c)
}

// ProofForDepartment exports the proof of a consent the department
// requested or provides under.
func (s *Service) ProofForDepartment(ctx context.Context, dept, id string) (*ConsentProof, error) {
	c, err := s.cfg.Consents.ForDepartment(ctx, dept, id)
	if err != nil {
		return nil, err
	}
	return s.export(ctx, c)
}

// Proof exports the proof of any consent (auditors).
func (s *Service) Proof(ctx context.Context, id string) (*ConsentProof, error) {
	if !model.ValidConsentID(id) {
		return nil, routing.Invalid("approval.Proof", "id", "not a consent id")
	}
	c, err := s.cfg.Ledger.GetConsent(ctx, id)
	if err != nil {
		return nil, routing.Wrap("approval.Proof", err)
	}
	return s.export(ctx, c)
}

// VerifyProof checks a proof offline (Verify) and then against the ledger.
func (s *Service) VerifyProof(ctx context.Context, p *ConsentProof) (*Report, error) {
	r := Verify(p)
	lc, err := CompareWithLedger(ctx, s.cfg.Ledger, p)
	if err != nil {
		return nil, routing.Wrap("approval.VerifyProof", err)
	}
	r.Ledger = lc
	return r, nil
}

// signingKeys are the keys among all that made sigs (nil ones skipped).
func signingKeys(all []model.Passkey, sigs ...*model.PasskeySignature) []model.Passkey {
	used := []model.Passkey{}
	for _, sig := range sigs {
		if sig == nil {
			continue
		}
		if i := slices.IndexFunc(all, func(k model.Passkey) bool { return k.ID == sig.Key }); i >= 0 &&
			!slices.ContainsFunc(used, func(k model.Passkey) bool { return k.ID == sig.Key }) {
			used = append(used, all[i])
		}
	}
	return used
}

// recordOwner names whose record a statement kind concerns, for reasons.
func recordOwner(kind string) string {
	if strings.HasPrefix(kind, "rule.") {
		return "standing rule's resident"
	}
	return "consent's resident"
}
