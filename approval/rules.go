package approval

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"

	"github.com/eidgate/eidgate/accounts"
	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/routing"
)

// Standing rules signed by the resident, and rule proofs anyone can check.
//
// Creating a rule signs the rule.create statement of its terms as the
// gateway prepared them (valid_from fixed at the ceremony's start); the
// ceremony keeps those terms, so what is recorded is exactly what was
// signed. Revoking signs the rule.revoke statement of the rule's terms.

// Rules moves standing rules (*routing.RuleService).
type Rules interface {
	Prepare(ctx context.Context, eid string, d routing.RuleDraft) (model.RuleDraft, error)
	CreateSigned(ctx context.Context, eid string, d model.RuleDraft, a model.PasskeyApproval) (*model.StandingRule, error)
	CheckRevoke(ctx context.Context, eid, id string) (*model.StandingRule, error)
	RevokeSigned(ctx context.Context, eid, id string, a model.PasskeyApproval) (*model.StandingRule, error)
	ForResident(ctx context.Context, eid, id string) (*model.StandingRule, error)
}

// RuleProofFormat names the rule proof file format.
const RuleProofFormat = "eidgate-rule-proof/v1"

// ruleCeremony is what a rule signing ceremony remembers: the rule (empty
// when creating), the terms to record when creating, the nonce and the
// digest signed.
type ruleCeremony struct {
	Rule   string           `json:"rule,omitempty"`
	Draft  *model.RuleDraft `json:"draft,omitempty"`
	Nonce  string           `json:"nonce"`
	Digest string           `json:"digest"`
}

// draftRule is the rule draft d describes, as far as its terms go.
func draftRule(d model.RuleDraft) model.StandingRule {
	return model.StandingRule{EID: d.EID, Departments: d.Departments, Roles: d.Roles, DataTypes: d.DataTypes,
		PurposeCode: d.PurposeCode, Note: d.Note, ValidFrom: d.ValidFrom, ValidUntil: d.ValidUntil, MaxUses: d.MaxUses}
}

// BeginRuleCreate checks the resident's draft and starts their signature
// of the rule.create statement of its terms.
func (s *Service) BeginRuleCreate(ctx context.Context, eid string, d routing.RuleDraft) (*Challenge, error) {
	const op = "approval.BeginRuleCreate"
	rules := s.cfg.Rules
	ld, err := rules.Prepare(ctx, eid, d)
	if err != nil {
		return nil, err
	}
	return s.beginRule(ctx, op, eid, model.StatementRuleCreate, draftRule(ld), ruleCeremony{Draft: &ld})
}

// BeginRuleRevoke starts the resident's signature of the rule.revoke
// statement of their active rule id.
func (s *Service) BeginRuleRevoke(ctx context.Context, eid, id string) (*Challenge, error) {
	const op = "approval.BeginRuleRevoke"
	rules := s.cfg.Rules
	r, err := rules.CheckRevoke(ctx, eid, id)
	if err != nil {
		return nil, err
	}
	return s.beginRule(ctx, op, eid, model.StatementRuleRevoke, *r, ruleCeremony{Rule: id})
}

func (s *Service) beginRule(ctx context.Context, op, eid, kind string, r model.StandingRule, cc ruleCeremony) (*Challenge, error) {
	n := make([]byte, 16)
	if _, err := rand.Read(n); err != nil {
		return nil, routing.Wrap(op, err)
	}
	st := model.RuleStatement(kind, r, eid, base64.RawURLEncoding.EncodeToString(n))
	canonical, err := st.Canonical()
	if err != nil {
		return nil, routing.Wrap(op, err)
	}
	d, err := st.Digest()
	if err != nil {
		return nil, routing.Wrap(op, err)
	}
	cc.Nonce, cc.Digest = st.Nonce, model.FormatDigest(d)
	raw, _ := json.Marshal(cc)
	opts, err := s.cfg.Signer.BeginSigning(ctx, accounts.KindResident, eid, kind, d[:], string(raw))
	if err != nil {
		return nil, err
	}
	return &Challenge{Options: opts, Statement: st, Canonical: string(canonical), Digest: cc.Digest}, nil
}

// FinishRuleCreate checks the resident's answer to a BeginRuleCreate
// ceremony and records the rule with the signature, exactly with the terms
// signed. Nothing changes when any check fails.
func (s *Service) FinishRuleCreate(ctx context.Context, eid string, body []byte) (*model.StandingRule, error) {
	const op = "approval.FinishRuleCreate"
	rules := s.cfg.Rules
	var cc ruleCeremony
	accept := func(context string) error {
		if err := json.Unmarshal([]byte(context), &cc); err != nil || cc.Draft == nil || cc.Draft.EID != eid {
			return termsMismatch(op, "this signature answers a request to sign other terms")
		}
		return s.sameDigest(op, model.RuleStatement(model.StatementRuleCreate, draftRule(*cc.Draft), eid, cc.Nonce), cc.Digest)
	}
	a, err := s.finishRule(ctx, eid, model.StatementRuleCreate, body, accept, &cc)
	if err != nil {
		return nil, err
	}
	out, err := rules.CreateSigned(ctx, eid, *cc.Draft, a)
	if err != nil {
		return nil, refused(op, err)
	}
	return out, nil
}

// FinishRuleRevoke checks the resident's answer to a BeginRuleRevoke
// ceremony for rule id and revokes it with the signature.
func (s *Service) FinishRuleRevoke(ctx context.Context, eid, id string, body []byte) (*model.StandingRule, error) {
	const op = "approval.FinishRuleRevoke"
	rules := s.cfg.Rules
	r, err := rules.CheckRevoke(ctx, eid, id)
	if err != nil {
		return nil, err
	}
	var cc ruleCeremony
	accept := func(context string) error {
		if err := json.Unmarshal([]byte(context), &cc); err != nil || cc.Rule != id {
			return termsMismatch(op, "this signature answers a request to sign another standing rule's terms")
		}
		return s.sameDigest(op, model.RuleStatement(model.StatementRuleRevoke, *r, eid, cc.Nonce), cc.Digest)
	}
	a, err := s.finishRule(ctx, eid, model.StatementRuleRevoke, body, accept, &cc)
	if err != nil {
		return nil, err
	}
	out, err := rules.RevokeSigned(ctx, eid, id, a)
	if err != nil {
		return nil, refused(op, err)
	}
	return out, nil
}

// sameDigest refuses a ceremony whose recorded digest is not statement
// st's: the terms changed since they were signed.
func (s *Service) sameDigest(op string, st model.Statement, want string) error {
	d, err := st.Digest()
	if err != nil {
		return routing.Wrap(op, err)
	}
	if model.FormatDigest(d) != want {
		return termsMismatch(op, "the standing rule's terms are not the ones you signed")
	}
	return nil
}

func (s *Service) finishRule(ctx context.Context, eid, kind string, body []byte, accept func(string) error, cc *ruleCeremony) (model.PasskeyApproval, error) {
	signed, err := s.cfg.Signer.FinishSigning(ctx, accounts.KindResident, eid, kind, body, accept)
	if err != nil {
		return model.PasskeyApproval{}, err
	}
	if signed.Passkey.KeyID == "" {
		return model.PasskeyApproval{}, routing.Errorf(routing.KindInternal, "approval.finishRule", "the passkey has no key on the ledger")
	}
	enc := base64.RawURLEncoding.EncodeToString
	return model.PasskeyApproval{Key: model.PasskeyMethodID(eid, signed.Passkey.KeyID), Nonce: cc.Nonce,
		AuthenticatorData: enc(signed.AuthenticatorData), ClientDataJSON: enc(signed.ClientDataJSON), Signature: enc(signed.Signature)}, nil
}

// RuleProof is everything needed to check, without eidgate, that a
// resident approved a standing rule's terms (and its revocation): the rule
// as the ledger holds it and the resident's passkeys that signed.
type RuleProof struct {
	Format     string             `json:"format"`
	Rule       model.StandingRule `json:"rule"`
	Passkeys   []model.Passkey    `json:"passkeys"`
	Ledger     LedgerRef          `json:"ledger"`
	ExportedAt string             `json:"exported_at"`
}

// RuleReport is what checking a rule proof found.
type RuleReport struct {
	Format   string          `json:"format"`
	Rule     string          `json:"rule"`
	Resident string          `json:"resident"`
	Status   string          `json:"status"`
	Terms    model.RuleTerms `json:"terms"`
	Creation *SignatureCheck `json:"creation"`
	Revoke   *SignatureCheck `json:"revocation,omitempty"`
	// SignedByResident: the creation carries the resident's signature
	// over exactly these terms and it verifies.
	SignedByResident bool         `json:"signed_by_resident"`
	Valid            bool         `json:"valid"`
	Ledger           *LedgerCheck `json:"ledger,omitempty"`
}

// RuleLedger reads a rule proof's records from the ledger.
type RuleLedger interface {
	GetStandingRule(ctx context.Context, id string) (*model.StandingRule, error)
	ListPasskeys(ctx context.Context, eid string) ([]model.Passkey, error)
}

// ParseRuleProof reads a rule proof file strictly.
func ParseRuleProof(raw []byte) (*RuleProof, error) {
	const op = "approval.ParseRuleProof"
	if len(raw) > MaxProofBytes {
		return nil, routing.Invalid(op, "proof", "a rule proof is at most %d bytes", MaxProofBytes)
	}
	var p RuleProof
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, routing.Invalid(op, "proof", "not a rule proof: %v", jsonProblem(err))
	}
	if dec.More() {
		return nil, routing.Invalid(op, "proof", "not a rule proof: data after the JSON value")
	}
	if p.Format != RuleProofFormat {
		return nil, routing.Invalid(op, "format", "the format must be %q", RuleProofFormat)
	}
	if !model.ValidRuleID(p.Rule.ID) || !model.ValidDID(p.Rule.EID) {
		return nil, routing.Invalid(op, "rule", "the proof's standing rule has no valid id or eID")
	}
	if len(p.Passkeys) > model.MaxPasskeysPerEID*4 {
		return nil, routing.Invalid(op, "passkeys", "too many passkeys")
	}
	return &p, nil
}

// VerifyRule checks a rule proof with nothing but its content: each signed
// decision's statement is rebuilt from the rule's terms, its digest
// recomputed and the WebAuthn assertion checked with the signer's key.
func VerifyRule(p *RuleProof) *RuleReport {
	r := p.Rule
	rep := &RuleReport{Format: p.Format, Rule: r.ID, Resident: r.EID, Status: r.Status, Terms: model.RuleTermsOf(r), Valid: true}
	assurance := r.Assurance
	if assurance == "" {
		assurance = model.AssurancePassword
	}
	rep.Creation = checkSignature(p.Passkeys, r.EID, model.StatementRuleCreate, assurance, r.Signature, r.CreatedAt, func(signer, nonce string) model.Statement {
		return model.RuleStatement(model.StatementRuleCreate, r, signer, nonce)
	}, nil)
	rep.SignedByResident = rep.Creation.Verified
	if v := r.RevokedWith(); v != "" {
		rep.Revoke = checkSignature(p.Passkeys, r.EID, model.StatementRuleRevoke, v, r.RevokeSignature, r.RevokedAt, func(signer, nonce string) model.Statement {
			return model.RuleStatement(model.StatementRuleRevoke, r, signer, nonce)
		}, nil)
	}
	for _, sc := range []*SignatureCheck{rep.Creation, rep.Revoke} {
		if sc != nil && sc.Assurance == model.AssurancePasskey && !sc.Verified {
			rep.Valid = false
		}
	}
	return rep
}

// CompareRuleWithLedger checks that a rule proof says what the ledger says:
// the rule's terms, decisions and signatures, and the proof's keys.
func CompareRuleWithLedger(ctx context.Context, l RuleLedger, p *RuleProof) (*LedgerCheck, error) {
	on, err := l.GetStandingRule(ctx, p.Rule.ID)
	if routing.IsKind(err, routing.KindNotFound) {
		return &LedgerCheck{Checked: true, Problems: []string{"the ledger has no standing rule " + p.Rule.ID}}, nil
	}
	if err != nil {
		return nil, err
	}
	lc := &LedgerCheck{Checked: true}
	if !sameRuleDecisions(*on, p.Rule) {
		lc.Problems = append(lc.Problems, "the standing rule's terms or decisions differ from the ledger's")
	}
	keys, err := l.ListPasskeys(ctx, p.Rule.EID)
	if err != nil && !routing.IsKind(err, routing.KindNotFound) {
		return nil, err
	}
	lc.Problems = append(lc.Problems, keyProblems(keys, p.Passkeys)...)
	lc.Matches = len(lc.Problems) == 0
	return lc, nil
}

// sameRuleDecisions compares what a rule proof relies on: terms, eID,
// decisions and signatures (not uses).
func sameRuleDecisions(a, b model.StandingRule) bool {
	view := func(r model.StandingRule) []byte {
		raw, _ := json.Marshal([]any{model.RuleTermsOf(r), r.EID, r.Status, r.Assurance, r.Signature, r.CreatedAt,
			r.RevokedAt, r.RevokedWith(), r.RevokeSignature})
		return raw
	}
	return bytes.Equal(view(a), view(b))
}

// exportRule builds the proof of rule id, read from the ledger.
func (s *Service) exportRule(ctx context.Context, id string) (*RuleProof, error) {
	const op = "approval.RuleProof"
	on, err := s.cfg.Ledger.GetStandingRule(ctx, id)
	if err != nil {
		return nil, routing.Wrap(op, err)
	}
	all, err := s.cfg.Ledger.ListPasskeys(ctx, on.EID)
	if err != nil {
		return nil, routing.Wrap(op, err)
	}
	return &RuleProof{Format: RuleProofFormat, Rule: *on, Passkeys: signingKeys(all, on.Signature, on.RevokeSignature),
		Ledger: LedgerRef{Channel: s.cfg.Channel, Chaincode: s.cfg.Chaincode, DID: on.EID}, ExportedAt: s.now()}, nil
}

// RuleProofForResident exports the proof of a resident's own standing rule.
func (s *Service) RuleProofForResident(ctx context.Context, eid, id string) (*RuleProof, error) {
	if _, err := s.cfg.Rules.ForResident(ctx, eid, id); err != nil {
		return nil, err
	}
	return s.exportRule(ctx, id)
}

// RuleProof exports the proof of any standing rule (auditors).
func (s *Service) RuleProof(ctx context.Context, id string) (*RuleProof, error) {
	if !model.ValidRuleID(id) {
		return nil, routing.Invalid("approval.RuleProof", "id", "not a standing rule id")
	}
	return s.exportRule(ctx, id)
}

// VerifyRuleProof checks a rule proof offline (VerifyRule) and then against
// the ledger.
func (s *Service) VerifyRuleProof(ctx context.Context, p *RuleProof) (*RuleReport, error) {
	r := VerifyRule(p)
	lc, err := CompareRuleWithLedger(ctx, s.cfg.Ledger, p)
	if err != nil {
		return nil, routing.Wrap("approval.VerifyRuleProof", err)
	}
	r.Ledger = lc
	return r, nil
}
