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
	Format   string          `json:"format"`
	Consent  model.Consent   `json:"consent"`
	Passkeys []model.Passkey `json:"passkeys"`
	// Representations are the relations under which guardians signed
	// decisions of the consent for its resident, as the ledger has them.
	Representations []model.Representation `json:"representations,omitempty"`
	Ledger          LedgerRef              `json:"ledger"`
	ExportedAt      string                 `json:"exported_at"`
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
	if len(p.Representations) > 2 {
		return nil, routing.Invalid(op, "representations", "a consent has at most two signed decisions, so at most two relations")
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
	// SignedByGuardian: the grant carries the signature of the guardian
	// named (their eID) over exactly these terms, under relation
	// Representation, valid when the ledger accepted it, and it verifies.
	SignedByGuardian bool   `json:"signed_by_guardian"`
	Guardian         string `json:"guardian,omitempty"`
	Representation   string `json:"representation,omitempty"`
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
		if sig := c.GrantSignature; r.Grant.Verified && sig.Representation != "" {
			r.SignedByGuardian, r.Guardian, r.Representation = true, sig.Signer, sig.Representation
		} else {
			r.SignedByResident = r.Grant.Verified
		}
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
	}, func(sig *model.PasskeySignature) bool { return guardianMaySign(p, sig) })
}

// checkSignature checks one signed decision about subject's record: the
// signature record must be of statement kind, by the subject, at the
// decision's time, with one of keys, over the statement rebuilt from the
// record's terms.
//
// mayAct, when not nil, says whether a signer other than the subject could
// sign for them (a guardian under a relation the proof holds).
func checkSignature(keys []model.Passkey, subject, kind, assurance string, sig *model.PasskeySignature, decidedAt string,
	statement func(signer, nonce string) model.Statement, mayAct func(*model.PasskeySignature) bool) *SignatureCheck {
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
	case sig.Signer != subject && (sig.Representation == "" || mayAct == nil):
		sc.Reason = "the signer is not the " + recordOwner(kind)
		return sc
	case sig.Signer == subject && sig.Representation != "":
		sc.Reason = "the resident signed naming a relation"
		return sc
	case sig.Signer != subject && !mayAct(sig):
		sc.Reason = "the proof holds no relation " + sig.Representation + " letting the signer act for the resident when they signed"
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
	st := statement(sig.Signer, sig.Nonce)
	st.Representation = sig.Representation
	got, err := model.CheckApproval(key, st, sig.Approval(), sig.SignedAt)
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

// guardianMaySign reports whether the proof holds the relation the
// signature names, between the consent's resident and the signer, valid
// at the time of signing.
func guardianMaySign(p *ConsentProof, sig *model.PasskeySignature) bool {
	i := slices.IndexFunc(p.Representations, func(r model.Representation) bool { return r.ID == sig.Representation })
	if i < 0 {
		return false
	}
	r := p.Representations[i]
	at, err := model.ParseTime(sig.SignedAt)
	if err != nil || r.Ward != p.Consent.EID || r.Guardian != sig.Signer {
		return false
	}
	// The relation may have ended since; it must have been valid then.
	if r.EndedAt != "" {
		if ended, err := model.ParseTime(r.EndedAt); err == nil && !at.Before(ended) {
			return false
		}
		r.Status = model.RepresentationActive
	}
	ok, _ := r.ValidAt(at)
	return ok
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
	byOwner := map[string][]model.Passkey{}
	var owners []string
	for _, k := range p.Passkeys {
		if _, ok := byOwner[k.EID]; !ok {
			owners = append(owners, k.EID)
		}
		byOwner[k.EID] = append(byOwner[k.EID], k)
	}
	// The signers' keys: the resident's, and a guardian's who signed.
	for _, eid := range owners {
		keys, err := l.ListPasskeys(ctx, eid)
		if err != nil && !routing.IsKind(err, routing.KindNotFound) {
			return nil, err
		}
		lc.Problems = append(lc.Problems, keyProblems(keys, byOwner[eid])...)
	}
	for _, r := range p.Representations {
		on, err := l.GetRepresentation(ctx, r.ID)
		if err != nil && !routing.IsKind(err, routing.KindNotFound) {
			return nil, err
		}
		if on == nil || relationTerms(*on) != relationTerms(r) || (on.EndedAt != "" && r.EndedAt != "" && on.EndedAt != r.EndedAt) {
			lc.Problems = append(lc.Problems, "relation "+r.ID+" is not on the ledger as the proof says")
		}
	}
	lc.Matches = len(lc.Problems) == 0
	return lc, nil
}

// relationTerms is what a proof relies on in a relation: who, what kind,
// on what evidence, in which window (not a later end).
func relationTerms(r model.Representation) model.Representation {
	return model.Representation{ID: r.ID, Ward: r.Ward, Guardian: r.Guardian, Kind: r.Kind, Evidence: r.Evidence,
		WardBirthDate: r.WardBirthDate, ValidFrom: r.ValidFrom, ValidUntil: r.ValidUntil, RegisteredAt: r.RegisteredAt}
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
	var all []model.Passkey
	var reps []model.Representation
	for _, sig := range []*model.PasskeySignature{on.GrantSignature, on.RevokeSignature} {
		if sig == nil {
			continue
		}
		// The signer's keys: the resident's, or a guardian's.
		keys, err := s.cfg.Ledger.ListPasskeys(ctx, sig.Signer)
		if err != nil {
			return nil, routing.Wrap(op, err)
		}
		all = append(all, keys...)
		if sig.Representation != "" && !slices.ContainsFunc(reps, func(r model.Representation) bool { return r.ID == sig.Representation }) {
			r, err := s.cfg.Ledger.GetRepresentation(ctx, sig.Representation)
			if err != nil {
				return nil, routing.Wrap(op, err)
			}
			reps = append(reps, *r)
		}
	}
	return &ConsentProof{Format: ProofFormat, Consent: on.Assured(), Passkeys: signingKeys(all, on.GrantSignature, on.RevokeSignature), Representations: reps,
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
