package accounts

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/url"
	"slices"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/routing"
)

// Passkeys (WebAuthn) for residents and staff.
//
// Every ceremony (registration, sign-in, signing a statement) starts with
// a challenge the gateway stores in the database with what it is for and
// whose it is; the answer is checked against that record, which is used up
// at the first answer and expires after CeremonyTTL. Residents' passkeys
// are also put on the ledger (their public keys become verification
// methods of the resident's DID document) so that what a resident signs
// with them can be checked by anyone; staff passkeys stay in the database.
//
// Passkeys are discoverable (resident keys) and always verify the user
// (PIN or biometrics): a sign-in needs no user name, and a signature shows
// the person, not just the device, approved.

// Defaults.
const (
	DefaultCeremonyTTL = 2 * time.Minute
	MaxCeremonyTTL     = 10 * time.Minute
	MaxPasskeyName     = 64
	maxCeremonyBody    = 64 << 10
)

// PasskeysConfig configures the passkey service.
type PasskeysConfig struct {
	Store  PasskeyStore
	Ledger PasskeyLedger // where residents' keys go; required
	// Sessions ends an account's sessions when its passkeys are revoked at
	// the counter; optional.
	Sessions SessionRevoker
	Clock    routing.Clock
	Logger   *slog.Logger

	// RPID is the WebAuthn relying party id: the gateway's host name or a
	// registrable domain above it ("localhost" in development). Origins
	// are the exact origins the portal and console are served from.
	RPID        string
	RPName      string
	Origins     []string
	CeremonyTTL time.Duration
}

// Passkeys runs WebAuthn ceremonies and keeps accounts' passkeys.
type Passkeys struct {
	cfg PasskeysConfig
	wa  *webauthn.WebAuthn
}

// CheckRelyingParty validates a relying party id and its origins, with
// messages for an operator: the RP ID must be a DNS name (not an IP
// address) or localhost, and every origin https on the RP ID or a name
// under it, or http on localhost.
func CheckRelyingParty(rpID string, origins []string) error {
	const op = "accounts.NewPasskeys"
	if !model.ValidRPID(rpID) {
		return routing.Invalid(op, "rp_id", "the WebAuthn RP ID %q must be a lowercase DNS name with a dot (not an IP address) or localhost", rpID)
	}
	if len(origins) == 0 {
		return routing.Invalid(op, "origins", "name at least one WebAuthn origin (the portal's URL scheme, host and port, e.g. https://%s)", rpID)
	}
	for _, o := range origins {
		u, err := url.Parse(o)
		if err != nil || u.Scheme == "" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return routing.Invalid(op, "origins", "the WebAuthn origin %q must be scheme://host[:port] with nothing after it", o)
		}
		if !model.OriginAllowed(o, rpID) {
			return routing.Invalid(op, "origins", "the WebAuthn origin %q does not belong to RP ID %q: it must be https on %s or a name under it (http only for localhost)", o, rpID, rpID)
		}
	}
	return nil
}

// NewPasskeys returns the passkey service; it refuses a missing store or
// ledger and a relying party that browsers would refuse.
func NewPasskeys(cfg PasskeysConfig) (*Passkeys, error) {
	const op = "accounts.NewPasskeys"
	if cfg.Store == nil {
		return nil, routing.MissingDependency(op, "PasskeysConfig.Store")
	}
	if cfg.Ledger == nil {
		return nil, routing.MissingDependency(op, "PasskeysConfig.Ledger")
	}
	if err := CheckRelyingParty(cfg.RPID, cfg.Origins); err != nil {
		return nil, err
	}
	if cfg.Clock == nil {
		cfg.Clock = routing.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.RPName == "" {
		cfg.RPName = "eidgate"
	}
	if cfg.CeremonyTTL <= 0 {
		cfg.CeremonyTTL = DefaultCeremonyTTL
	}
	if cfg.CeremonyTTL > MaxCeremonyTTL {
		return nil, routing.Invalid(op, "ceremony_ttl", "a WebAuthn ceremony may last at most %s", MaxCeremonyTTL)
	}
	wa, err := webauthn.New(&webauthn.Config{
		RPID: cfg.RPID, RPDisplayName: cfg.RPName, RPOrigins: slices.Clone(cfg.Origins),
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey: protocol.ResidentKeyRequirementRequired, RequireResidentKey: protocol.ResidentKeyRequired(),
			UserVerification: protocol.VerificationRequired,
		},
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Timeout: cfg.CeremonyTTL, TimeoutUVD: cfg.CeremonyTTL},
			Registration: webauthn.TimeoutConfig{Timeout: cfg.CeremonyTTL, TimeoutUVD: cfg.CeremonyTTL},
		},
	})
	if err != nil {
		return nil, routing.Invalid(op, "rp_id", "the WebAuthn relying party is not usable: %v", err)
	}
	return &Passkeys{cfg: cfg, wa: wa}, nil
}

// RPID is the relying party id the passkeys are bound to.
func (p *Passkeys) RPID() string { return p.cfg.RPID }

// credentialParameters are the key types eidgate registers: those the
// ledger can check (ES256, EdDSA, RS256), ES256 first.
var credentialParameters = []protocol.CredentialParameter{
	{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgES256},
	{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgEdDSA},
	{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgRS256},
}

// waUser presents an account to go-webauthn.
type waUser struct {
	handle  []byte
	name    string
	display string
	creds   []webauthn.Credential
}

func (u *waUser) WebAuthnID() []byte                         { return u.handle }
func (u *waUser) WebAuthnName() string                       { return u.name }
func (u *waUser) WebAuthnDisplayName() string                { return u.display }
func (u *waUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

func checkKind(op, kind string) error {
	if kind != KindResident && kind != KindAdmin {
		return routing.Invalid(op, "kind", "unknown account kind")
	}
	return nil
}

// user loads (or creates) the account's handle and its active passkeys.
func (p *Passkeys) user(ctx context.Context, kind, subject, display string) (*waUser, []Passkey, error) {
	handle := make([]byte, 32)
	if _, err := rand.Read(handle); err != nil {
		return nil, nil, err
	}
	u, err := p.cfg.Store.EnsurePasskeyUser(ctx, PasskeyUser{Kind: kind, Subject: subject, Handle: handle, CreatedAt: p.cfg.Clock.Now().UTC()})
	if err != nil {
		return nil, nil, err
	}
	all, err := p.cfg.Store.ListPasskeys(ctx, kind, subject)
	if err != nil {
		return nil, nil, err
	}
	if display == "" {
		display = subject
	}
	wu := &waUser{handle: u.Handle, name: subject, display: display}
	var active []Passkey
	for _, k := range all {
		if k.Active() {
			active = append(active, k)
			wu.creds = append(wu.creds, k.credential())
		}
	}
	return wu, active, nil
}

func (k Passkey) credential() webauthn.Credential {
	var transports []protocol.AuthenticatorTransport
	for _, t := range k.Transports {
		transports = append(transports, protocol.AuthenticatorTransport(t))
	}
	return webauthn.Credential{
		ID: k.ID, PublicKey: k.PublicKey, AttestationFormat: k.AttestationFormat, Transport: transports,
		Flags: webauthn.CredentialFlags{UserPresent: true, UserVerified: true,
			BackupEligible: k.BackupEligible, BackupState: k.BackupState},
		Authenticator: webauthn.Authenticator{AAGUID: k.AAGUID, SignCount: k.SignCount},
	}
}

// startCeremony stores a ceremony for session with purpose, account and
// context.
func (p *Passkeys) startCeremony(ctx context.Context, s *webauthn.SessionData, purpose, kind, subject, context string) error {
	raw, err := json.Marshal(s)
	if err != nil {
		return err
	}
	now := p.cfg.Clock.Now().UTC()
	return p.cfg.Store.PutCeremony(ctx, Ceremony{Challenge: s.Challenge, Purpose: purpose, Kind: kind, Subject: subject,
		Session: raw, Context: context, CreatedAt: now, ExpiresAt: now.Add(p.cfg.CeremonyTTL)})
}

// BeginRegistration starts registering a passkey for an account that is
// signed in: the options for navigator.credentials.create(). display is
// the name the authenticator shows for the account.
func (p *Passkeys) BeginRegistration(ctx context.Context, kind, subject, display string) (*protocol.CredentialCreation, error) {
	const op = "accounts.BeginPasskeyRegistration"
	if err := checkKind(op, kind); err != nil {
		return nil, err
	}
	u, active, err := p.user(ctx, kind, subject, display)
	if err != nil {
		return nil, routing.Wrap(op, err)
	}
	if kind == KindResident && len(active) >= model.MaxPasskeysPerEID {
		return nil, newErr(routing.KindConflict, CodePasskeyLimit, op, fmt.Sprintf("an account holds at most %d passkeys; remove one first", model.MaxPasskeysPerEID))
	}
	exclude := make([]protocol.CredentialDescriptor, 0, len(u.creds))
	for _, c := range u.creds {
		exclude = append(exclude, c.Descriptor())
	}
	creation, session, err := p.wa.BeginRegistration(u,
		webauthn.WithCredentialParameters(credentialParameters), webauthn.WithExclusions(exclude),
		webauthn.WithExtensions(webauthn.WithExtensionCredProps()))
	if err != nil {
		return nil, routing.Wrap(op, err)
	}
	if err := p.startCeremony(ctx, session, CeremonyRegister, kind, subject, ""); err != nil {
		return nil, routing.Wrap(op, err)
	}
	return creation, nil
}

// PasskeyInfo is a passkey as an account holder sees it.
type PasskeyInfo struct {
	ID             string    `json:"id"` // credential id, base64url
	Name           string    `json:"name"`
	KeyID          string    `json:"key_id,omitempty"`    // on the ledger (residents)
	MethodID       string    `json:"method_id,omitempty"` // the DID URL of the key (residents)
	Algorithm      string    `json:"algorithm"`
	BackupEligible bool      `json:"backup_eligible"`
	BackedUp       bool      `json:"backed_up"`
	SignCount      uint32    `json:"sign_count"`
	CreatedAt      time.Time `json:"created_at"`
	LastUsedAt     time.Time `json:"last_used_at,omitzero"`
	RevokedAt      time.Time `json:"revoked_at,omitzero"`
	RevokedReason  string    `json:"revoked_reason,omitempty"`
}

func algorithmName(alg int64) string {
	switch webauthncose.COSEAlgorithmIdentifier(alg) {
	case webauthncose.AlgES256:
		return model.AlgES256
	case webauthncose.AlgEdDSA:
		return model.AlgEdDSA
	case webauthncose.AlgRS256:
		return model.AlgRS256
	}
	return fmt.Sprint(alg)
}

// Info is the passkey as its holder sees it.
func (k Passkey) Info() PasskeyInfo {
	i := PasskeyInfo{ID: base64.RawURLEncoding.EncodeToString(k.ID), Name: k.Name, KeyID: k.KeyID,
		Algorithm: algorithmName(k.Algorithm), BackupEligible: k.BackupEligible, BackedUp: k.BackupState, SignCount: k.SignCount,
		CreatedAt: k.CreatedAt, LastUsedAt: k.LastUsedAt, RevokedAt: k.RevokedAt, RevokedReason: k.RevokedReason}
	if k.KeyID != "" {
		i.MethodID = model.PasskeyMethodID(k.Subject, k.KeyID)
	}
	return i
}

// FinishRegistration checks the browser's answer to a registration
// ceremony of the account and keeps the new passkey; a resident's key is
// put on the ledger first, so it is never usable before anyone can check
// it. name labels the key for its holder ("phone", "laptop").
func (p *Passkeys) FinishRegistration(ctx context.Context, kind, subject string, body []byte, name string) (*PasskeyInfo, error) {
	const op = "accounts.FinishPasskeyRegistration"
	if err := checkKind(op, kind); err != nil {
		return nil, err
	}
	name, err := passkeyName(op, name)
	if err != nil {
		return nil, err
	}
	if len(body) == 0 || len(body) > maxCeremonyBody {
		return nil, malformed(op, "the body must be the credential the browser created")
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(body)
	if err != nil {
		return nil, malformed(op, "the body is not a WebAuthn credential: "+protocolDetail(err))
	}
	_, session, err := p.consume(ctx, op, parsed.Response.CollectedClientData.Challenge, CeremonyRegister, kind, subject)
	if err != nil {
		return nil, err
	}
	if err := p.checkClient(op, parsed.Response.CollectedClientData.Origin, parsed.Response.AttestationObject.AuthData.RPIDHash,
		parsed.Response.AttestationObject.AuthData.Flags); err != nil {
		return nil, err
	}
	u, _, err := p.user(ctx, kind, subject, "")
	if err != nil {
		return nil, routing.Wrap(op, err)
	}
	cred, err := p.wa.CreateCredential(u, *session, parsed)
	if err != nil {
		return nil, newErr(routing.KindInvalid, CodePasskeyInvalid, op, "the new passkey could not be verified: "+protocolDetail(err))
	}
	now := p.cfg.Clock.Now().UTC()
	k := Passkey{
		ID: cred.ID, Kind: kind, Subject: subject, UserHandle: u.handle, PublicKey: cred.PublicKey,
		Algorithm: int64(cred.Attestation.PublicKeyAlgorithm), AAGUID: cred.Authenticator.AAGUID,
		AttestationFormat: cred.AttestationFormat, SignCount: cred.Authenticator.SignCount,
		BackupEligible: cred.Flags.BackupEligible, BackupState: cred.Flags.BackupState, Name: name, CreatedAt: now,
	}
	for _, t := range cred.Transport {
		k.Transports = append(k.Transports, string(t))
	}
	if prev, err := p.cfg.Store.GetPasskey(ctx, cred.ID); err == nil && prev != nil {
		return nil, newErr(routing.KindConflict, CodePasskeyExists, op, "this passkey is registered already")
	}
	if kind == KindResident {
		if err := p.putOnLedger(ctx, op, &k); err != nil {
			return nil, err
		}
	}
	if err := p.cfg.Store.AddPasskey(ctx, k); err != nil {
		if kind == KindResident {
			p.retireOnLedger(ctx, subject, []string{k.KeyID}, "not_stored")
		}
		return nil, routing.Wrap(op, err)
	}
	info := k.Info()
	return &info, nil
}

func passkeyName(op, name string) (string, error) {
	if name == "" {
		return "passkey", nil
	}
	if len([]rune(name)) > MaxPasskeyName || !printable(name) {
		e := newErr(routing.KindInvalid, CodeInvalidName, op, fmt.Sprintf("a passkey's name is at most %d printable characters", MaxPasskeyName))
		e.Field = "name"
		return "", e
	}
	return name, nil
}

func printable(s string) bool {
	for _, r := range s {
		if r < ' ' || r == 0x7f {
			return false
		}
	}
	return true
}

// putOnLedger registers a resident's new key on the ledger and records its
// key id.
func (p *Passkeys) putOnLedger(ctx context.Context, op string, k *Passkey) error {
	jwk, err := coseJWK(k.PublicKey)
	if err != nil {
		return newErr(routing.KindInvalid, CodePasskeyUnsupported, op, "this kind of passkey cannot be used here: "+err.Error())
	}
	reg := model.PasskeyRegistration{EID: k.Subject, CredentialID: base64.RawURLEncoding.EncodeToString(k.ID),
		PublicKeyJWK: jwk, RPID: p.cfg.RPID}
	if err := reg.Validate(); err != nil {
		return newErr(routing.KindInvalid, CodePasskeyUnsupported, op, "this kind of passkey cannot be used here")
	}
	on, err := p.cfg.Ledger.RegisterPasskey(ctx, reg)
	if err != nil {
		return routing.Wrap(op, err)
	}
	k.KeyID = on.KeyID()
	return nil
}

func (p *Passkeys) retireOnLedger(ctx context.Context, eid string, keyIDs []string, reason string) {
	if _, err := p.cfg.Ledger.RetirePasskeys(ctx, eid, keyIDs, reason); err != nil {
		p.cfg.Logger.Error("retiring passkeys on the ledger failed", "keys", len(keyIDs), "reason", reason, "err", err)
	}
}

// coseJWK renders a COSE public key as the JWK the ledger keeps.
func coseJWK(cose []byte) (model.JWK, error) {
	key, err := webauthncose.ParsePublicKey(cose)
	if err != nil {
		return model.JWK{}, err
	}
	enc := base64.RawURLEncoding.EncodeToString
	switch k := key.(type) {
	case webauthncose.EC2PublicKeyData:
		if webauthncose.COSEAlgorithmIdentifier(k.Algorithm) != webauthncose.AlgES256 || len(k.XCoord) != 32 || len(k.YCoord) != 32 {
			return model.JWK{}, errors.New("only P-256 keys with ES256")
		}
		return model.JWK{Kty: "EC", Crv: "P-256", X: enc(k.XCoord), Y: enc(k.YCoord), Alg: model.AlgES256}, nil
	case webauthncose.OKPPublicKeyData:
		if webauthncose.COSEAlgorithmIdentifier(k.Algorithm) != webauthncose.AlgEdDSA || len(k.XCoord) != 32 {
			return model.JWK{}, errors.New("only Ed25519 keys with EdDSA")
		}
		return model.JWK{Kty: "OKP", Crv: "Ed25519", X: enc(k.XCoord), Alg: model.AlgEdDSA}, nil
	case webauthncose.RSAPublicKeyData:
		if webauthncose.COSEAlgorithmIdentifier(k.Algorithm) != webauthncose.AlgRS256 {
			return model.JWK{}, errors.New("only RSA keys with RS256")
		}
		n := new(big.Int).SetBytes(k.Modulus).Bytes()
		e := new(big.Int).SetBytes(k.Exponent).Bytes()
		return model.JWK{Kty: "RSA", N: enc(n), E: enc(e), Alg: model.AlgRS256}, nil
	}
	return model.JWK{}, errors.New("unsupported key type")
}

// BeginLogin starts a sign-in with a discoverable passkey: the options for
// navigator.credentials.get() name no account; the authenticator offers
// the person's passkeys for this site. kind says where they sign in (the
// portal or the console).
func (p *Passkeys) BeginLogin(ctx context.Context, kind string) (*protocol.CredentialAssertion, error) {
	const op = "accounts.BeginPasskeyLogin"
	if err := checkKind(op, kind); err != nil {
		return nil, err
	}
	assertion, session, err := p.wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, routing.Wrap(op, err)
	}
	if err := p.startCeremony(ctx, session, CeremonyLogin, kind, "", ""); err != nil {
		return nil, routing.Wrap(op, err)
	}
	return assertion, nil
}

// FinishLogin checks the answer to a sign-in ceremony and returns the
// account the passkey belongs to.
func (p *Passkeys) FinishLogin(ctx context.Context, kind string, body []byte) (string, *PasskeyInfo, error) {
	const op = "accounts.FinishPasskeyLogin"
	if err := checkKind(op, kind); err != nil {
		return "", nil, err
	}
	parsed, err := parseAssertion(op, body)
	if err != nil {
		return "", nil, err
	}
	_, session, err := p.consume(ctx, op, parsed.Response.CollectedClientData.Challenge, CeremonyLogin, kind, "")
	if err != nil {
		return "", nil, err
	}
	k, err := p.verifyAssertion(ctx, op, session, parsed, kind, "")
	if err != nil {
		return "", nil, err
	}
	info := k.Info()
	return k.Subject, &info, nil
}

// Signed is a statement signed with an account's passkey: the key and the
// three parts of the WebAuthn assertion, and the ceremony's context.
type Signed struct {
	Passkey           Passkey
	Context           string
	AuthenticatorData []byte
	ClientDataJSON    []byte
	Signature         []byte
}

// BeginSigning starts a ceremony in which the account signs challenge (a
// statement digest) for purpose with one of its passkeys; context records
// what the statement is about, for FinishSigning's caller.
func (p *Passkeys) BeginSigning(ctx context.Context, kind, subject, purpose string, challenge []byte, context string) (*protocol.CredentialAssertion, error) {
	const op = "accounts.BeginSigning"
	if err := checkKind(op, kind); err != nil {
		return nil, err
	}
	u, _, err := p.user(ctx, kind, subject, "")
	if err != nil {
		return nil, routing.Wrap(op, err)
	}
	if len(u.creds) == 0 {
		return nil, newErr(routing.KindConflict, CodeNoPasskey, op, "register a passkey first; without one you cannot sign")
	}
	assertion, session, err := p.wa.BeginLogin(u, webauthn.WithChallenge(challenge),
		webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, routing.Wrap(op, err)
	}
	if err := p.startCeremony(ctx, session, purpose, kind, subject, context); err != nil {
		return nil, routing.Wrap(op, err)
	}
	return assertion, nil
}

// FinishSigning checks the answer to a signing ceremony of the account for
// purpose and returns the signature. accept, when set, sees the ceremony's
// context first and may refuse it (say, a statement about another record)
// before the assertion is checked or the key's use recorded. The ceremony
// is used up whatever the outcome.
func (p *Passkeys) FinishSigning(ctx context.Context, kind, subject, purpose string, body []byte, accept func(context string) error) (*Signed, error) {
	const op = "accounts.FinishSigning"
	if err := checkKind(op, kind); err != nil {
		return nil, err
	}
	parsed, err := parseAssertion(op, body)
	if err != nil {
		return nil, err
	}
	cer, session, err := p.consume(ctx, op, parsed.Response.CollectedClientData.Challenge, purpose, kind, subject)
	if err != nil {
		return nil, err
	}
	if accept != nil {
		if err := accept(cer.Context); err != nil {
			return nil, err
		}
	}
	k, err := p.verifyAssertion(ctx, op, session, parsed, kind, subject)
	if err != nil {
		return nil, err
	}
	raw := parsed.Raw.AssertionResponse
	return &Signed{Passkey: *k, Context: cer.Context, AuthenticatorData: raw.AuthenticatorData,
		ClientDataJSON: raw.ClientDataJSON, Signature: raw.Signature}, nil
}

func parseAssertion(op string, body []byte) (*protocol.ParsedCredentialAssertionData, error) {
	if len(body) == 0 || len(body) > maxCeremonyBody {
		return nil, malformed(op, "the body must be the assertion the browser made")
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(body)
	if err != nil {
		return nil, malformed(op, "the body is not a WebAuthn assertion: "+protocolDetail(err))
	}
	return parsed, nil
}

// consume uses up the ceremony the answer's challenge names; it must be
// for purpose and the account (subject "" for a sign-in).
func (p *Passkeys) consume(ctx context.Context, op, challenge, purpose, kind, subject string) (*Ceremony, *webauthn.SessionData, error) {
	if challenge == "" || len(challenge) > 256 {
		return nil, nil, newErr(routing.KindInvalid, CodeChallengeUnknown, op, "the answer names no challenge eidgate issued")
	}
	now := p.cfg.Clock.Now().UTC()
	cer, fresh, err := p.cfg.Store.ConsumeCeremony(ctx, challenge, now)
	if err != nil && !routing.IsKind(err, routing.KindNotFound) {
		return nil, nil, routing.Wrap(op, err)
	}
	switch {
	case cer == nil:
		return nil, nil, newErr(routing.KindInvalid, CodeChallengeUnknown, op, "the answer names no challenge eidgate issued")
	case !fresh && !cer.UsedAt.IsZero():
		return nil, nil, newErr(routing.KindConflict, CodeChallengeUsed, op, "this challenge was answered already; a passkey answer counts once")
	case !fresh:
		return nil, nil, newErr(routing.KindInvalid, CodeChallengeExpired, op, "the challenge has expired; start again")
	}
	if cer.Purpose != purpose || cer.Kind != kind || cer.Subject != subject {
		return nil, nil, newErr(routing.KindForbidden, CodeCeremonyMismatch, op, "the challenge was issued for another act or account")
	}
	var session webauthn.SessionData
	if err := json.Unmarshal(cer.Session, &session); err != nil {
		return nil, nil, routing.Wrap(op, err)
	}
	return cer, &session, nil
}

// checkClient checks the parts of an answer that get precise error codes:
// the origin, the RP ID and that the user was verified.
func (p *Passkeys) checkClient(op, origin string, rpIDHash []byte, flags protocol.AuthenticatorFlags) error {
	if !slices.Contains(p.cfg.Origins, origin) {
		return newErr(routing.KindForbidden, CodeOriginMismatch, op, "the passkey answered for another origin than this site")
	}
	want := sha256.Sum256([]byte(p.cfg.RPID))
	if !bytes.Equal(rpIDHash, want[:]) {
		return newErr(routing.KindForbidden, CodeRPIDMismatch, op, "the passkey answered for another relying party than "+p.cfg.RPID)
	}
	if !flags.HasUserPresent() || !flags.HasUserVerified() {
		return newErr(routing.KindForbidden, CodeUserNotVerified, op, "the passkey did not verify you (PIN or biometrics); try again")
	}
	return nil
}

// verifyAssertion checks an assertion against the stored key: the key must
// be active and the account's (subject "" accepts any account of kind,
// for a sign-in), the signature valid, the counter moving forward. It
// records the use.
func (p *Passkeys) verifyAssertion(ctx context.Context, op string, session *webauthn.SessionData, parsed *protocol.ParsedCredentialAssertionData, kind, subject string) (*Passkey, error) {
	k, err := p.cfg.Store.GetPasskey(ctx, parsed.RawID)
	if err != nil && !routing.IsKind(err, routing.KindNotFound) {
		return nil, routing.Wrap(op, err)
	}
	if k == nil || !k.Active() {
		return nil, newErr(routing.KindUnauthenticated, CodeUnknownCredential, op, "this passkey is not registered here or was revoked")
	}
	if k.Kind != kind || (subject != "" && k.Subject != subject) {
		return nil, newErr(routing.KindForbidden, CodeWrongUser, op, "this passkey belongs to another account")
	}
	if uh := parsed.Response.UserHandle; len(uh) > 0 && !bytes.Equal(uh, k.UserHandle) {
		return nil, newErr(routing.KindForbidden, CodeWrongUser, op, "the passkey names another account")
	}
	if err := p.checkClient(op, parsed.Response.CollectedClientData.Origin, parsed.Response.AuthenticatorData.RPIDHash,
		parsed.Response.AuthenticatorData.Flags); err != nil {
		return nil, err
	}
	u, _, err := p.user(ctx, k.Kind, k.Subject, "")
	if err != nil {
		return nil, routing.Wrap(op, err)
	}
	var cred *webauthn.Credential
	if len(session.UserID) == 0 {
		cred, err = p.wa.ValidateDiscoverableLogin(func(_, _ []byte) (webauthn.User, error) { return u, nil }, *session, parsed)
	} else {
		cred, err = p.wa.ValidateLogin(u, *session, parsed)
	}
	if err != nil {
		return nil, newErr(routing.KindUnauthenticated, CodeAssertionInvalid, op, "the passkey's answer does not verify: "+protocolDetail(err))
	}
	if cred.Authenticator.CloneWarning {
		p.cfg.Logger.Warn("passkey signature counter went backwards; refused", "kind", k.Kind,
			"stored", k.SignCount, "got", parsed.Response.AuthenticatorData.Counter)
		return nil, newErr(routing.KindForbidden, CodeCounterRegressed, op,
			"this passkey's signature counter went backwards, a sign of a copied key; use another passkey or ask the service counter")
	}
	now := p.cfg.Clock.Now().UTC()
	ok, err := p.cfg.Store.RecordPasskeyUse(ctx, k.ID, k.SignCount, cred.Authenticator.SignCount, cred.Flags.BackupState, now)
	if err != nil {
		return nil, routing.Wrap(op, err)
	}
	if !ok {
		return nil, newErr(routing.KindForbidden, CodeCounterRegressed, op, "this passkey was used by another request at the same time; try again")
	}
	k.SignCount, k.BackupState, k.LastUsedAt = cred.Authenticator.SignCount, cred.Flags.BackupState, now
	return k, nil
}

// protocolDetail is the safe detail of a go-webauthn error.
func protocolDetail(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.Details != "" {
		return pe.Details
	}
	return "malformed"
}

func malformed(op, msg string) error {
	return newErr(routing.KindInvalid, CodePasskeyMalformed, op, msg)
}

// List returns an account's passkeys, revoked ones included.
func (p *Passkeys) List(ctx context.Context, kind, subject string) ([]PasskeyInfo, error) {
	const op = "accounts.ListPasskeys"
	if err := checkKind(op, kind); err != nil {
		return nil, err
	}
	ks, err := p.cfg.Store.ListPasskeys(ctx, kind, subject)
	if err != nil {
		return nil, routing.Wrap(op, err)
	}
	out := make([]PasskeyInfo, 0, len(ks))
	for _, k := range ks {
		out = append(out, k.Info())
	}
	return out, nil
}

// CountActive is how many passkeys the account can use.
func (p *Passkeys) CountActive(ctx context.Context, kind, subject string) (int, error) {
	ks, err := p.cfg.Store.ListPasskeys(ctx, kind, subject)
	if err != nil {
		return 0, routing.Wrap("accounts.CountActivePasskeys", err)
	}
	n := 0
	for _, k := range ks {
		if k.Active() {
			n++
		}
	}
	return n, nil
}

// Remove revokes one of the account's passkeys at its holder's request. The
// last way to sign in (no password, no other passkey) cannot be removed.
func (p *Passkeys) Remove(ctx context.Context, kind, subject, id string) error {
	const op = "accounts.RemovePasskey"
	if err := checkKind(op, kind); err != nil {
		return err
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(id)
	if err != nil || len(raw) == 0 {
		return newErr(routing.KindNotFound, CodePasskeyNotFound, op, "no such passkey")
	}
	ks, err := p.cfg.Store.ListPasskeys(ctx, kind, subject)
	if err != nil {
		return routing.Wrap(op, err)
	}
	var target *Passkey
	others := 0
	for i := range ks {
		switch {
		case bytes.Equal(ks[i].ID, raw) && ks[i].Active():
			target = &ks[i]
		case ks[i].Active():
			others++
		}
	}
	if target == nil {
		return newErr(routing.KindNotFound, CodePasskeyNotFound, op, "no such passkey")
	}
	if others == 0 {
		hasPW, err := p.cfg.Store.HasPassword(ctx, kind, subject)
		if err != nil {
			return routing.Wrap(op, err)
		}
		if !hasPW {
			return newErr(routing.KindConflict, CodeLastSignInMethod, op, "this is your only way to sign in; add another passkey first")
		}
	}
	return p.revoke(ctx, op, kind, subject, [][]byte{raw}, []string{target.KeyID}, "removed")
}

// RevokeAll revokes every passkey of an account (a resident who lost them,
// at the counter, before a new activation code is issued) and ends its
// sessions.
func (p *Passkeys) RevokeAll(ctx context.Context, kind, subject, reason string) error {
	const op = "accounts.RevokeAllPasskeys"
	if err := checkKind(op, kind); err != nil {
		return err
	}
	if err := p.revoke(ctx, op, kind, subject, nil, nil, reason); err != nil {
		return err
	}
	if p.cfg.Sessions != nil {
		return routing.Wrap(op, p.cfg.Sessions.RevokeAllFor(ctx, subject))
	}
	return nil
}

// revoke stops the keys in the database first (they no longer sign in or
// sign) and then retires residents' keys on the ledger; an empty list
// means all. A ledger that fails is reported: the keys are already
// unusable here, and retiring again later is harmless.
func (p *Passkeys) revoke(ctx context.Context, op, kind, subject string, ids [][]byte, keyIDs []string, reason string) error {
	if ids == nil {
		// All of them: an account that never had a passkey (a first
		// activation code) costs no ledger transaction.
		ks, err := p.cfg.Store.ListPasskeys(ctx, kind, subject)
		if err != nil || len(ks) == 0 {
			return routing.Wrap(op, err)
		}
		keyIDs = nil
	}
	if _, err := p.cfg.Store.RevokePasskeys(ctx, kind, subject, ids, reason, p.cfg.Clock.Now().UTC()); err != nil {
		return routing.Wrap(op, err)
	}
	if kind != KindResident {
		return nil
	}
	_, err := p.cfg.Ledger.RetirePasskeys(ctx, subject, keyIDs, reason)
	return routing.Wrap(op, err)
}
