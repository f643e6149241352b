package approval

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"

	"github.com/eidgate/eidgate/accounts"
	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/routing"
)

// Stable error codes.
const (
	// CodeTermsMismatch: the signature answers a ceremony for another
	// consent, or the consent's terms are not the ones signed.
	CodeTermsMismatch = "consent_terms_mismatch"
	// CodeSignatureRefused: the ledger refused the signature.
	CodeSignatureRefused = "consent_signature_refused"
	// CodeUnknownAction: neither grant nor revoke.
	CodeUnknownAction = "unknown_action"
)

// Signer runs signing ceremonies (*accounts.Passkeys).
type Signer interface {
	BeginSigning(ctx context.Context, kind, subject, purpose string, challenge []byte, context string) (*protocol.CredentialAssertion, error)
	FinishSigning(ctx context.Context, kind, subject, purpose string, body []byte, accept func(context string) error) (*accounts.Signed, error)
}

// Consents moves consents (*routing.ConsentService).
type Consents interface {
	ForResident(ctx context.Context, eid, id string) (*model.Consent, error)
	ForDepartment(ctx context.Context, dept, id string) (*model.Consent, error)
	CheckTransition(ctx context.Context, eid, id, kind string) (*model.Consent, error)
	GrantSigned(ctx context.Context, eid, id string, a model.PasskeyApproval) (*model.Consent, error)
	RevokeSigned(ctx context.Context, eid, id string, a model.PasskeyApproval) (*model.Consent, error)
}

// Ledger reads what a proof is made of, straight from the ledger (the
// ledger client).
type Ledger interface {
	GetConsent(ctx context.Context, id string) (*model.Consent, error)
	GetStandingRule(ctx context.Context, id string) (*model.StandingRule, error)
	ListPasskeys(ctx context.Context, eid string) ([]model.Passkey, error)
	GetRepresentation(ctx context.Context, id string) (*model.Representation, error)
}

// Representations says under which relation a guardian may act for a
// ward now (*routing.Representations).
type Representations interface {
	ActingFor(ctx context.Context, guardian, ward string) (*model.Representation, error)
}

// Config is what the service is built from.
type Config struct {
	Signer   Signer   // required
	Consents Consents // required
	Ledger   Ledger   // required
	Rules    Rules    // required
	// Representations lets guardians sign for their wards (required).
	Representations Representations
	Clock           routing.Clock
	// Channel and Chaincode name where the proofs' records live.
	Channel, Chaincode string
}

// Service obtains residents' signatures over consent terms and exports and
// checks consent proofs.
type Service struct{ cfg Config }

// New checks cfg and builds the service.
func New(cfg Config) (*Service, error) {
	const op = "approval.New"
	switch {
	case cfg.Signer == nil:
		return nil, routing.MissingDependency(op, "a signer (the passkey service)")
	case cfg.Consents == nil:
		return nil, routing.MissingDependency(op, "the consent service")
	case cfg.Ledger == nil:
		return nil, routing.MissingDependency(op, "a ledger reader")
	case cfg.Rules == nil:
		return nil, routing.MissingDependency(op, "the rule service")
	case cfg.Representations == nil:
		return nil, routing.MissingDependency(op, "the representation service")
	}
	if cfg.Clock == nil {
		cfg.Clock = routing.SystemClock{}
	}
	return &Service{cfg: cfg}, nil
}

// Actions on a consent and the statement each signs.
var actions = map[string]string{"grant": model.StatementConsentGrant, "revoke": model.StatementConsentRevoke}

func statementKind(op, action string) (string, error) {
	kind, ok := actions[action]
	if !ok {
		e := routing.Invalid(op, "action", `the action must be "grant" or "revoke"`)
		return "", e.WithCode(CodeUnknownAction)
	}
	return kind, nil
}

// transition is the statement type of action and the resident's consent,
// which must allow it now.
func (s *Service) transition(ctx context.Context, op, eid, id, action string) (string, *model.Consent, error) {
	kind, err := statementKind(op, action)
	if err != nil {
		return "", nil, err
	}
	c, err := s.cfg.Consents.CheckTransition(ctx, eid, id, kind)
	return kind, c, err
}

// Challenge is what the resident's browser needs to sign: the WebAuthn
// options (their challenge is Digest) and the statement, in full and in
// its canonical form, so the client can show and check what is signed.
type Challenge struct {
	Options   *protocol.CredentialAssertion `json:"options"`
	Statement model.Statement               `json:"statement"`
	Canonical string                        `json:"canonical"`
	Digest    string                        `json:"digest"`
}

// ceremonyContext is what a signing ceremony remembers of its statement.
type ceremonyContext struct {
	Consent string `json:"consent"`
	Nonce   string `json:"nonce"`
	Digest  string `json:"digest"`
}

// signer is who signs a consent decision: the resident (rep empty) or
// their guardian under relation rep.
type signer struct{ eid, rep string }

func (g signer) statement(kind string, c model.Consent, nonce string) model.Statement {
	if g.rep == "" {
		return model.ConsentStatement(kind, c, g.eid, nonce)
	}
	return model.GuardianConsentStatement(kind, c, g.eid, nonce, g.rep)
}

// BeginConsent starts the resident's signature of action ("grant" or
// "revoke") on their consent id: a fresh nonce makes the statement, whose
// digest becomes a single-use WebAuthn challenge.
func (s *Service) BeginConsent(ctx context.Context, eid, id, action string) (*Challenge, error) {
	return s.begin(ctx, "approval.BeginConsent", eid, id, action, signer{eid: eid})
}

// BeginConsentForWard starts a guardian's signature of action on their
// ward's consent id: the statement names the guardian as signer, the
// ward as subject and the relation valid now; the guardian signs with
// their own passkey.
func (s *Service) BeginConsentForWard(ctx context.Context, guardian, ward, id, action string) (*Challenge, error) {
	const op = "approval.BeginConsentForWard"
	r, err := s.cfg.Representations.ActingFor(ctx, guardian, ward)
	if err != nil {
		return nil, err
	}
	return s.begin(ctx, op, ward, id, action, signer{eid: guardian, rep: r.ID})
}

func (s *Service) begin(ctx context.Context, op, eid, id, action string, g signer) (*Challenge, error) {
	kind, c, err := s.transition(ctx, op, eid, id, action)
	if err != nil {
		return nil, err
	}
	n := make([]byte, 16)
	if _, err := rand.Read(n); err != nil {
		return nil, routing.Wrap(op, err)
	}
	st := g.statement(kind, *c, base64.RawURLEncoding.EncodeToString(n))
	canonical, err := st.Canonical()
	if err != nil {
		return nil, routing.Wrap(op, err)
	}
	d, err := st.Digest()
	if err != nil {
		return nil, routing.Wrap(op, err)
	}
	cc, _ := json.Marshal(ceremonyContext{Consent: id, Nonce: st.Nonce, Digest: model.FormatDigest(d)})
	opts, err := s.cfg.Signer.BeginSigning(ctx, accounts.KindResident, g.eid, kind, d[:], string(cc))
	if err != nil {
		return nil, err
	}
	return &Challenge{Options: opts, Statement: st, Canonical: string(canonical), Digest: model.FormatDigest(d)}, nil
}

// FinishConsent checks the resident's answer to a ceremony BeginConsent
// started for the same consent and action, and records the grant or
// revocation with the signature on the ledger. Nothing changes when any
// check fails.
func (s *Service) FinishConsent(ctx context.Context, eid, id, action string, body []byte) (*model.Consent, error) {
	return s.finish(ctx, "approval.FinishConsent", eid, id, action, body, signer{eid: eid})
}

// FinishConsentForWard checks a guardian's answer to a ceremony
// BeginConsentForWard started, and records the decision on the ledger
// naming the guardian and the relation; the chaincode refuses it when the
// relation is not valid at the transaction time.
func (s *Service) FinishConsentForWard(ctx context.Context, guardian, ward, id, action string, body []byte) (*model.Consent, error) {
	const op = "approval.FinishConsentForWard"
	r, err := s.cfg.Representations.ActingFor(ctx, guardian, ward)
	if err != nil {
		return nil, err
	}
	out, err := s.finish(ctx, op, ward, id, action, body, signer{eid: guardian, rep: r.ID})
	return out, routing.Refused(err)
}

func (s *Service) finish(ctx context.Context, op, eid, id, action string, body []byte, g signer) (*model.Consent, error) {
	kind, c, err := s.transition(ctx, op, eid, id, action)
	if err != nil {
		return nil, err
	}
	var cc ceremonyContext
	// The ceremony must be for this consent's statement as it stands: a
	// signature of other terms is refused before the passkey's use counts.
	accept := func(context string) error {
		if err := json.Unmarshal([]byte(context), &cc); err != nil || cc.Consent != id {
			return termsMismatch(op, "this signature answers a request to sign another consent's terms")
		}
		d, err := g.statement(kind, *c, cc.Nonce).Digest()
		if err != nil {
			return routing.Wrap(op, err)
		}
		if model.FormatDigest(d) != cc.Digest {
			return termsMismatch(op, "the consent's terms are not the ones you signed")
		}
		return nil
	}
	signed, err := s.cfg.Signer.FinishSigning(ctx, accounts.KindResident, g.eid, kind, body, accept)
	if err != nil {
		return nil, err
	}
	if signed.Passkey.KeyID == "" {
		return nil, routing.Errorf(routing.KindInternal, op, "the passkey has no key on the ledger")
	}
	enc := base64.RawURLEncoding.EncodeToString
	a := model.PasskeyApproval{Key: model.PasskeyMethodID(g.eid, signed.Passkey.KeyID), Nonce: cc.Nonce,
		AuthenticatorData: enc(signed.AuthenticatorData), ClientDataJSON: enc(signed.ClientDataJSON), Signature: enc(signed.Signature),
		Representation: g.rep}
	var out *model.Consent
	if kind == model.StatementConsentGrant {
		out, err = s.cfg.Consents.GrantSigned(ctx, eid, id, a)
	} else {
		out, err = s.cfg.Consents.RevokeSigned(ctx, eid, id, a)
	}
	if err != nil {
		return nil, refused(op, err)
	}
	return out, nil
}

func termsMismatch(op, msg string) error {
	return (&routing.Error{Kind: routing.KindForbidden, Op: op, Message: msg}).WithCode(CodeTermsMismatch)
}

// refused gives a chaincode refusal of the signature its own code; other
// errors (the ledger down, a state conflict) keep theirs.
func refused(op string, err error) error {
	var e *routing.Error
	k := routing.KindOf(err)
	if (k == routing.KindInvalid || k == routing.KindForbidden) && strings.Contains(routing.MessageOf(err), "assertion_") {
		e = &routing.Error{Kind: routing.KindForbidden, Code: CodeSignatureRefused, Op: op,
			Message: "the ledger refused the signature: " + routing.MessageOf(err), Err: err}
		return e
	}
	return err
}

// now is the service's time in the ledger's text form.
func (s *Service) now() string { return s.cfg.Clock.Now().UTC().Format(time.RFC3339) }
