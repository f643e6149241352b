package credential

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"time"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/credential/sdjwt"
	"github.com/eidgate/eidgate/credential/statuslist"
	"github.com/eidgate/eidgate/routing"
)

// Config wires a Service.
type Config struct {
	Ledger  Ledger
	Store   Store
	Access  AccessLog
	Keys    IssuerKeys
	Holders HolderKeys
	Answers Answerer
	Cache   routing.Cache
	Clock   routing.Clock
	// BaseURL is the gateway's public URL; status lists and schemas are
	// served under it.
	BaseURL string
	// StatusListSize is the entries per status list (default the
	// specification's minimum, 131,072).
	StatusListSize int
	// CacheTTL bounds how long a cached DID document or status list lives
	// if its invalidation event were lost (default 5 minutes).
	CacheTTL time.Duration
	// ChallengeTTL is how long a verifier's nonce stays usable (default 5
	// minutes).
	ChallengeTTL time.Duration
	// PseudonymKey keys the officials' pseudonyms in the access records of
	// presentations, as the resolver's do (routing.OfficialPseudonym), so
	// the resident's log shows the verifying official the same way.
	PseudonymKey []byte
}

// Service issues, revokes, presents and verifies credentials and answers
// yes/no questions; the gateway's handlers call one method each.
type Service struct {
	cfg      Config
	verifier *Verifier
}

// NewService builds the service; it refuses missing dependencies.
func NewService(cfg Config) (*Service, error) {
	var missing []string
	for name, ok := range map[string]bool{
		"Ledger": cfg.Ledger != nil, "Store": cfg.Store != nil, "Access": cfg.Access != nil, "Keys": cfg.Keys != nil,
		"Holders": cfg.Holders != nil, "Answers": cfg.Answers != nil, "Cache": cfg.Cache != nil, "Clock": cfg.Clock != nil,
	} {
		if !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("credential.NewService: missing %s", strings.Join(sortStrings(missing), ", "))
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("credential.NewService: BaseURL must be the gateway's absolute http(s) URL")
	}
	if cfg.StatusListSize == 0 {
		cfg.StatusListSize = statuslist.MinSize
	}
	if _, err := statuslist.New(cfg.StatusListSize); err != nil {
		return nil, fmt.Errorf("credential.NewService: StatusListSize: %s", routing.MessageOf(err))
	}
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = 5 * time.Minute
	}
	if cfg.ChallengeTTL <= 0 {
		cfg.ChallengeTTL = 5 * time.Minute
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	return &Service{cfg: cfg, verifier: &Verifier{Clock: cfg.Clock}}, nil
}

func sortStrings(s []string) []string {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}

// Cache keys. Invalidate drops exactly these on ledger events.
func keyIssuerDID(dept string) string          { return "issuerdid:" + dept }
func keyStatusList(issuer, list string) string { return "statuslist:" + issuer + ":" + list }

// SchemaURL is where the gateway serves a data type's JSON Schema.
func (s *Service) SchemaURL(code string) string {
	return s.cfg.BaseURL + "/v1/datatypes/" + code + "/schema"
}

// --- issuer DIDs ---

// ResolveIssuer resolves an issuer DID (did:eidgate:dept:<id>) from the
// ledger, through the cache that department events invalidate.
func (s *Service) ResolveIssuer(ctx context.Context, did string) (*model.DIDResolution, error) {
	dept, ok := model.ParseIssuerDID(did)
	if !ok {
		return nil, routing.Invalid("credential.ResolveIssuer", "did", "not an issuer DID (did:eidgate:dept:<department id>)").WithCode("invalid_did")
	}
	return s.resolveDept(ctx, dept)
}

func (s *Service) resolveDept(ctx context.Context, dept string) (*model.DIDResolution, error) {
	key := keyIssuerDID(dept)
	if b, ok, err := s.cfg.Cache.Get(ctx, key); err == nil && ok {
		var res model.DIDResolution
		if json.Unmarshal(b, &res) == nil {
			return &res, nil
		}
	}
	d, err := s.cfg.Ledger.GetDepartment(ctx, dept)
	if err != nil {
		return nil, routing.Wrap("credential.ResolveIssuer", err)
	}
	res := d.IssuerResolution()
	if b, err := json.Marshal(res); err == nil {
		_ = s.cfg.Cache.Set(ctx, key, b, s.cfg.CacheTTL) // a failing cache is skipped
	}
	return &res, nil
}

// Invalidate drops the cached entries a committed change set affects: the
// issuer DID of a changed department (a key retired or revoked) and a
// re-anchored status list. Every replica calls it for every chaincode
// event, so a revocation is seen everywhere within the event delivery time.
func (s *Service) Invalidate(ctx context.Context, cs model.ChangeSet) error {
	var keys []string
	for _, c := range cs.Changes {
		switch c.Kind {
		case model.KindDepartment:
			keys = append(keys, keyIssuerDID(c.ID))
		case model.KindStatusList:
			keys = append(keys, keyStatusList(c.Department, c.ID))
		}
	}
	if len(keys) == 0 {
		return nil
	}
	return s.cfg.Cache.Delete(ctx, keys...)
}

// --- issuing ---

// IssueRequest is a department's request to issue a credential.
type IssueRequest struct {
	Issuer     string          // the issuing department (the caller)
	Subject    string          // the resident's eID
	DataType   string          // a data type the issuer owns
	Claims     json.RawMessage // the record
	Holder     *sdjwt.JWK      // the resident's holder key; nil uses the key the portal holds for them
	ValidUntil time.Time       // zero: no end
}

// Issue signs a credential with the issuer's key, gives it a revocation
// and a suspension entry, anchors its digest as the route entry's new
// version on the ledger, and keeps the resident's copy. The credential is
// returned only once its route is on the ledger.
func (s *Service) Issue(ctx context.Context, req IssueRequest) (*IssuedCredential, error) {
	const op = "credential.Issue"
	now := s.cfg.Clock.Now().UTC().Truncate(time.Second)
	dt, err := s.checkIssue(ctx, req)
	if err != nil {
		return nil, err
	}
	signer, err := s.signer(ctx, req.Issuer)
	if err != nil {
		return nil, err
	}
	holder, err := s.holderJWK(ctx, req)
	if err != nil {
		return nil, err
	}
	version, err := s.nextVersion(ctx, req)
	if err != nil {
		return nil, err
	}
	id := NewID()
	var refs []StatusRef
	var entries []StatusEntry
	for _, purpose := range []string{model.StatusRevocation, model.StatusSuspension} {
		ref, err := s.cfg.Store.AllocateStatus(ctx, req.Issuer, purpose, s.cfg.StatusListSize, newListID(purpose), randomIndex)
		if err != nil {
			return nil, routing.Wrap(op, err)
		}
		refs = append(refs, ref)
		entries = append(entries, StatusEntryFor(StatusListURL(s.cfg.BaseURL, req.Issuer, ref.ListID), purpose, ref.Index))
		if err := s.ensureListPublished(ctx, signer, ref.ListID); err != nil {
			return nil, err
		}
	}
	iss, err := Issue(signer, Template{ID: id, Subject: req.Subject, DataType: *dt, SchemaURL: s.SchemaURL(dt.Code),
		Claims: req.Claims, Holder: holder, Status: entries, IssuedAt: now, ValidFrom: now, ValidUntil: req.ValidUntil, Version: version})
	if err != nil {
		return nil, err
	}
	if _, err := s.cfg.Ledger.PublishRoutes(ctx, []model.SignedRoute{iss.Route}); err != nil {
		return nil, routing.Wrap(op, err)
	}
	rec := IssuedCredential{ID: id, Issuer: req.Issuer, EID: req.Subject, DataType: dt.Code, Version: version,
		Digest: iss.Digest, Token: iss.Token, Status: refs, IssuedAt: now, ValidUntil: req.ValidUntil}
	if err := s.cfg.Store.SaveCredential(ctx, rec); err != nil {
		return nil, routing.Wrap(op, err)
	}
	return &rec, nil
}

func (s *Service) checkIssue(ctx context.Context, req IssueRequest) (*model.DataType, error) {
	const op = "credential.Issue"
	switch {
	case !model.ValidDepartmentID(req.Issuer):
		return nil, routing.Invalid(op, "issuer", "issuer must be a department id")
	case !model.ValidDID(req.Subject):
		return nil, routing.Invalid(op, "subject", "subject must be a resident's eID")
	case !model.ValidDataTypeCode(req.DataType):
		return nil, routing.Invalid(op, "data_type", "data_type must be a data type code")
	case !req.ValidUntil.IsZero() && !req.ValidUntil.After(s.cfg.Clock.Now()):
		return nil, routing.Invalid(op, "valid_until", "valid_until must lie in the future")
	}
	dt, err := s.cfg.Ledger.GetDataType(ctx, req.DataType)
	if err != nil {
		return nil, routing.Wrap(op, err)
	}
	if dt.Status != model.DataTypeActive {
		return nil, routing.Errorf(routing.KindConflict, op, "data type %s is retired", dt.Code).WithCode("data_type_retired")
	}
	if !dt.OwnedBy(req.Issuer) {
		return nil, routing.Errorf(routing.KindForbidden, op, "department %s does not hold %s records", req.Issuer, dt.Code).WithCode("not_an_owner")
	}
	id, err := s.cfg.Ledger.GetEID(ctx, req.Subject)
	if err != nil {
		return nil, routing.Wrap(op, err)
	}
	if id.Status != model.EIDActive {
		return nil, routing.Errorf(routing.KindConflict, op, "the eID is %s", id.Status).WithCode("eid_inactive")
	}
	return dt, nil
}

// signer returns the issuer's key, checked against the ledger: an active
// department whose active key has the same public key.
func (s *Service) signer(ctx context.Context, dept string) (Signer, error) {
	const op = "credential.signer"
	kid, key, err := s.cfg.Keys.IssuerKey(ctx, dept)
	if routing.IsKind(err, routing.KindNotFound) {
		return Signer{}, routing.Errorf(routing.KindConflict, op, "the gateway holds no signing key of department %s", dept).WithCode("issuer_key_unavailable")
	}
	if err != nil {
		return Signer{}, routing.Wrap(op, err)
	}
	d, err := s.cfg.Ledger.GetDepartment(ctx, dept)
	if err != nil {
		return Signer{}, routing.Wrap(op, err)
	}
	if !d.Active() {
		return Signer{}, routing.Errorf(routing.KindForbidden, op, "department %s is suspended", dept).WithCode("department_suspended")
	}
	k, ok := d.Key(kid)
	pub, _ := key.Public().(*ecdsa.PublicKey)
	reg, err := model.ParsePublicKey(k.PublicKeyPEM)
	if !ok || k.Status != model.KeyActive || err != nil || pub == nil || !pub.Equal(reg) {
		return Signer{}, routing.Errorf(routing.KindConflict, op, "the gateway's key %s of department %s is not an active key on the ledger", kid, dept).WithCode("issuer_key_unavailable")
	}
	return Signer{Department: dept, KID: kid, Key: key}, nil
}

func (s *Service) holderJWK(ctx context.Context, req IssueRequest) (sdjwt.JWK, error) {
	if req.Holder != nil {
		if _, err := req.Holder.PublicKey(); err != nil {
			return sdjwt.JWK{}, routing.Invalid("credential.Issue", "holder_jwk", "%s", routing.MessageOf(err)).WithCode(sdjwt.CodeKey)
		}
		return *req.Holder, nil
	}
	key, err := s.cfg.Holders.HolderKey(ctx, req.Subject)
	if err != nil {
		return sdjwt.JWK{}, routing.Wrap("credential.Issue", err)
	}
	pub, ok := key.Public().(*ecdsa.PublicKey)
	if !ok {
		return sdjwt.JWK{}, routing.Errorf(routing.KindInternal, "credential.Issue", "the holder key is not a P-256 key")
	}
	return sdjwt.PublicJWK(pub)
}

// nextVersion is one more than the route entry's current version.
func (s *Service) nextVersion(ctx context.Context, req IssueRequest) (uint64, error) {
	entries, err := s.cfg.Ledger.GetRoutes(ctx, req.Subject, req.DataType)
	if err != nil {
		return 0, routing.Wrap("credential.Issue", err)
	}
	var v uint64
	for _, e := range entries {
		if e.Provider == req.Issuer && e.Version > v {
			v = e.Version
		}
	}
	return v + 1, nil
}

// newListID names a new list: "r"/"s" and 12 random hex digits.
func newListID(purpose string) func() string {
	return func() string {
		var b [6]byte
		_, _ = rand.Read(b[:])
		return purpose[:1] + hex.EncodeToString(b[:])
	}
}

// randomIndex picks an index uniformly at random, so an index says nothing
// about when a credential was issued or how many were (Bitstring Status
// List §2.1: "Implementations SHOULD assign indexes randomly").
func randomIndex(size int) int {
	n, err := rand.Int(rand.Reader, big.NewInt(int64(size)))
	if err != nil {
		var b [8]byte
		_, _ = rand.Read(b[:])
		return int(binary.BigEndian.Uint64(b[:]) % uint64(size))
	}
	return int(n.Int64())
}

// ensureListPublished signs and anchors a list that has no version yet
// (a list just created), so every entry handed out points to a list a
// verifier can fetch and check.
func (s *Service) ensureListPublished(ctx context.Context, signer Signer, listID string) error {
	l, err := s.cfg.Store.GetStatusList(ctx, signer.Department, listID)
	if err != nil {
		return routing.Wrap("credential.Issue", err)
	}
	if l.Version > 0 && l.Anchored >= l.Version {
		return nil
	}
	_, err = s.changeList(ctx, signer, listID, func(*statuslist.List) bool { return l.Version == 0 })
	return err
}

// --- status ---

// Status actions.
const (
	ActionRevoke    = "revoke"
	ActionSuspend   = "suspend"
	ActionReinstate = "reinstate"
)

// SetStatus revokes, suspends or reinstates a credential of issuer. A
// revocation is final; reinstating clears a suspension. The list is signed
// again and anchored on the ledger before SetStatus returns; its event
// tells every replica to drop the cached list.
func (s *Service) SetStatus(ctx context.Context, issuer, credentialID, action string) (*IssuedCredential, error) {
	const op = "credential.SetStatus"
	c, err := s.cfg.Store.GetCredential(ctx, credentialID)
	if routing.IsKind(err, routing.KindNotFound) || (err == nil && c.Issuer != issuer) {
		return nil, routing.Errorf(routing.KindNotFound, op, "department %s issued no credential %s", issuer, credentialID).WithCode("credential_not_found")
	}
	if err != nil {
		return nil, routing.Wrap(op, err)
	}
	purpose, value := model.StatusSuspension, true
	switch action {
	case ActionRevoke:
		purpose = model.StatusRevocation
	case ActionSuspend:
	case ActionReinstate:
		value = false
		if c.Revoked {
			return nil, routing.Errorf(routing.KindConflict, op, "a revoked credential cannot be reinstated").WithCode("credential_revoked")
		}
	default:
		return nil, routing.Invalid(op, "action", "action must be revoke, suspend or reinstate")
	}
	signer, err := s.signer(ctx, issuer)
	if err != nil {
		return nil, err
	}
	for _, ref := range c.Status {
		if ref.Purpose != purpose {
			continue
		}
		if _, err := s.changeList(ctx, signer, ref.ListID, func(l *statuslist.List) bool {
			was, _ := l.Get(ref.Index)
			_ = l.Set(ref.Index, value)
			return was != value
		}); err != nil {
			return nil, err
		}
	}
	switch action {
	case ActionRevoke:
		c.Revoked = true
	case ActionSuspend:
		c.Suspended = true
	default:
		c.Suspended = false
	}
	if err := s.cfg.Store.SetCredentialStatus(ctx, c.ID, c.Revoked, c.Suspended); err != nil {
		return nil, routing.Wrap(op, err)
	}
	return c, nil
}

// changeList applies change to a list, signs the new version in the same
// store transaction, then anchors it on the ledger and drops the cached
// copy. A version that could not be anchored stays in the store and is
// anchored by the next change or PublishPending.
func (s *Service) changeList(ctx context.Context, signer Signer, listID string, change func(*statuslist.List) bool) (*StatusList, error) {
	const op = "credential.changeList"
	now := s.cfg.Clock.Now().UTC().Truncate(time.Second)
	l, err := s.cfg.Store.UpdateStatusList(ctx, signer.Department, listID, func(l *StatusList) (bool, error) {
		bits, err := statuslist.FromBytes(l.Bits)
		if err != nil {
			return false, err
		}
		if !change(bits) {
			return false, nil
		}
		slc, err := IssueStatusList(signer, StatusListURL(s.cfg.BaseURL, l.Issuer, l.ListID), l.Purpose, bits, now)
		if err != nil {
			return false, err
		}
		l.Bits, l.Version, l.Token, l.Digest, l.UpdatedAt = bits.Bytes(), l.Version+1, slc.Token, slc.Digest, now
		return true, nil
	})
	if err != nil {
		return nil, routing.Wrap(op, err)
	}
	return l, s.anchorList(ctx, l)
}

func (s *Service) anchorList(ctx context.Context, l *StatusList) error {
	const op = "credential.anchorList"
	if l.Anchored >= l.Version {
		return nil
	}
	if _, err := s.cfg.Ledger.AnchorStatusList(ctx, model.StatusListAnchor{Issuer: l.Issuer, ListID: l.ListID, Purpose: l.Purpose,
		Version: l.Version, Digest: l.Digest, Size: uint64(l.Size)}); err != nil {
		return routing.Wrap(op, err)
	}
	if err := s.cfg.Store.MarkStatusAnchored(ctx, l.Issuer, l.ListID, l.Version); err != nil {
		return routing.Wrap(op, err)
	}
	_ = s.cfg.Cache.Delete(ctx, keyStatusList(l.Issuer, l.ListID))
	return nil
}

// StatusListCredential returns the signed status list the gateway serves
// at StatusListURL(issuer, listID): the newest version, through the cache
// that AnchorStatusList events invalidate.
func (s *Service) StatusListCredential(ctx context.Context, issuer, listID string) (string, error) {
	const op = "credential.StatusListCredential"
	if !model.ValidDepartmentID(issuer) || !model.ValidKID(listID) {
		return "", routing.Errorf(routing.KindNotFound, op, "no such status list").WithCode("status_list_not_found")
	}
	key := keyStatusList(issuer, listID)
	if b, ok, err := s.cfg.Cache.Get(ctx, key); err == nil && ok {
		return string(b), nil
	}
	l, err := s.cfg.Store.GetStatusList(ctx, issuer, listID)
	if routing.IsKind(err, routing.KindNotFound) || (err == nil && l.Version == 0) {
		return "", routing.Errorf(routing.KindNotFound, op, "no such status list").WithCode("status_list_not_found")
	}
	if err != nil {
		return "", routing.Wrap(op, err)
	}
	if l.Anchored >= l.Version {
		_ = s.cfg.Cache.Set(ctx, key, []byte(l.Token), s.cfg.CacheTTL)
	}
	return l.Token, nil
}

// --- holding and presenting ---

// Credentials lists a resident's credentials.
func (s *Service) Credentials(ctx context.Context, eid string) ([]IssuedCredential, error) {
	list, err := s.cfg.Store.ListCredentials(ctx, eid)
	return list, routing.Wrap("credential.Credentials", err)
}

// Credential returns one of a resident's credentials.
func (s *Service) Credential(ctx context.Context, eid, id string) (*IssuedCredential, error) {
	c, err := s.cfg.Store.GetCredential(ctx, id)
	if routing.IsKind(err, routing.KindNotFound) || (err == nil && c.EID != eid) {
		return nil, routing.Errorf(routing.KindNotFound, "credential.Credential", "no such credential").WithCode("credential_not_found")
	}
	return c, routing.Wrap("credential.Credential", err)
}

// NewChallenge gives a verifier department a nonce for one presentation,
// with the audience the holder must bind it to (the verifier's DID).
func (s *Service) NewChallenge(ctx context.Context, verifier, purpose string) (*Challenge, error) {
	const op = "credential.NewChallenge"
	if !model.ValidDepartmentID(verifier) {
		return nil, routing.Invalid(op, "verifier", "verifier must be a department id")
	}
	if !model.ValidPurposeCode(purpose) {
		return nil, routing.Invalid(op, "purpose", "purpose must be a purpose code")
	}
	var b [24]byte
	_, _ = rand.Read(b[:])
	now := s.cfg.Clock.Now().UTC()
	c := Challenge{Nonce: "n-" + hex.EncodeToString(b[:]), Verifier: verifier, Audience: model.IssuerDID(verifier), Purpose: purpose,
		CreatedAt: now, ExpiresAt: now.Add(s.cfg.ChallengeTTL)}
	if err := s.cfg.Store.SaveChallenge(ctx, c); err != nil {
		return nil, routing.Wrap(op, err)
	}
	return &c, nil
}

// PresentRequest is a resident's choice of what to show a verifier.
type PresentRequest struct {
	EID          string
	CredentialID string
	Disclose     []string
	Audience     string
	Nonce        string
}

// Present builds a presentation of one of the resident's credentials with
// the claims they picked, bound to the verifier's nonce and audience with
// the holder key the portal keeps for them.
func (s *Service) Present(ctx context.Context, req PresentRequest) (string, error) {
	c, err := s.Credential(ctx, req.EID, req.CredentialID)
	if err != nil {
		return "", err
	}
	key, err := s.cfg.Holders.HolderKey(ctx, req.EID)
	if err != nil {
		return "", routing.Wrap("credential.Present", err)
	}
	return Present(c.Token, PresentOptions{Disclose: req.Disclose, Holder: key, Audience: req.Audience, Nonce: req.Nonce, At: s.cfg.Clock.Now()})
}

// --- verifying ---

// Verify checks a credential (presentation false) or presentation against
// the ledger and the gateway's status lists. Nothing is recorded.
func (s *Service) Verify(ctx context.Context, token string, presentation bool, audience, nonce string) (*Result, error) {
	return s.verifier.Verify(ctx, s.evidence(), Request{Token: token, Presentation: presentation, Audience: audience, Nonce: nonce})
}

// PresentationRequest is a verifier department's presentation to check.
type PresentationRequest struct {
	Verifier  string // the calling department
	Official  string
	RequestID string
	Nonce     string // the challenge the department obtained
	Token     string
}

// Outcomes of access records that credentials leave.
const (
	OutcomePresentation = "presentation_verified"
	OutcomeAnswer       = "predicate_answered"
)

// CodeChallenge is the code of a nonce that is unknown, used, expired or
// another verifier's.
const CodeChallenge = "challenge_invalid"

// VerifyPresentation checks a presentation made for the verifier's
// challenge. A valid one is the resident's authorisation: its use is
// written durably as an access record (anchored in the same Merkle batches
// as resolves, shown in the resident's access log) before the result is
// returned. An invalid one records nothing and leaves the nonce unused.
func (s *Service) VerifyPresentation(ctx context.Context, req PresentationRequest) (*Result, error) {
	const op = "credential.VerifyPresentation"
	now := s.cfg.Clock.Now()
	r, err := s.verifier.Verify(ctx, s.evidence(), Request{Token: req.Token, Presentation: true,
		Audience: model.IssuerDID(req.Verifier), Nonce: req.Nonce})
	if err != nil || !r.Valid {
		return r, err
	}
	ch, err := s.cfg.Store.ConsumeChallenge(ctx, req.Nonce, req.Verifier, now)
	if err != nil {
		if routing.IsKind(err, routing.KindUnavailable) {
			return nil, err
		}
		return nil, routing.Errorf(routing.KindConflict, op, "the nonce is not an open challenge of %s", req.Verifier).WithCode(CodeChallenge)
	}
	rec := &routing.AccessRecord{
		ID: routing.NewTimeOrderedID("acc_", now), CreatedAt: now, RequestID: req.RequestID, Requester: req.Verifier, Official: req.Official,
		OfficialRef: routing.OfficialPseudonym(s.cfg.PseudonymKey, req.Verifier, req.Official),
		Provider:    r.Department, EID: r.Subject, DataType: r.DataType, Purpose: ch.Purpose, Outcome: OutcomePresentation,
		Reason: "disclosed: " + strings.Join(r.Disclosed, ","), TicketID: "kb:" + r.SDHash, Digest: r.Digest,
	}
	if r.Anchor != nil {
		rec.RouteVersion = r.Anchor.Version
	}
	rec.ComputeLeafHash()
	per, err := s.cfg.Access.AppendAccess(ctx, []*routing.AccessRecord{rec})
	if err == nil && len(per) > 0 {
		err = per[0]
	}
	if err != nil {
		return nil, routing.Wrap(op, err)
	}
	return r, nil
}

// --- yes/no answers ---

// AskRequest is a question the gateway has already authorised (policy
// and consent, as for a resolve) and recorded under AccessID.
type AskRequest struct {
	Requester   string
	EID         string
	DataType    string
	PredicateID string
	AccessID    string
	Ticket      string
}

// CodeAnswerInvalid is the code of a provider's answer that does not verify.
const CodeAnswerInvalid = "answer_invalid"

// Ask gets the provider's signed yes/no answer and checks it before handing
// it on: issued by the route's provider, about this resident, predicate and
// requester, computed from the route entry the ledger holds now.
func (s *Service) Ask(ctx context.Context, req AskRequest) (*Result, string, error) {
	const op = "credential.Ask"
	dt, err := s.cfg.Ledger.GetDataType(ctx, req.DataType)
	if err != nil {
		return nil, "", routing.Wrap(op, err)
	}
	if _, ok := dt.Predicate(req.PredicateID); !ok {
		return nil, "", routing.Errorf(routing.KindNotFound, op, "data type %s catalogues no predicate %q", dt.Code, req.PredicateID).WithCode(CodePredicateUnknown)
	}
	entries, err := s.cfg.Ledger.GetRoutes(ctx, req.EID, req.DataType)
	if err != nil {
		return nil, "", routing.Wrap(op, err)
	}
	var route *model.RouteEntry
	for i := range entries {
		if entries[i].Status == model.RouteValid && (route == nil || entries[i].PublishedAt > route.PublishedAt) {
			route = &entries[i]
		}
	}
	if route == nil {
		return nil, "", routing.Errorf(routing.KindNotFound, op, "no provider holds a valid %s record of this resident", dt.Code).WithCode("no_route")
	}
	token, err := s.cfg.Answers.Answer(ctx, Question{Provider: route.Provider, EID: req.EID, DataType: req.DataType,
		PredicateID: req.PredicateID, Requester: req.Requester, AccessID: req.AccessID, Ticket: req.Ticket})
	if err != nil {
		return nil, "", routing.Wrap(op, err)
	}
	r, err := s.verifier.Verify(ctx, s.evidence(), Request{Token: token})
	if err != nil {
		return nil, "", err
	}
	bad := func(why string) (*Result, string, error) {
		return nil, "", (&routing.Error{Kind: routing.KindBadGateway, Op: op, Message: "the provider's answer " + why}).WithCode(CodeAnswerInvalid)
	}
	switch {
	case !r.Valid:
		return bad("does not verify (" + r.Code + ")")
	case r.Answer == nil || r.Answer.PredicateID != req.PredicateID:
		return bad("answers another question")
	case r.Department != route.Provider || r.Subject != req.EID || r.DataType != req.DataType:
		return bad("is not the route provider's answer about this resident")
	case r.Answer.Digest != route.Digest || r.Anchor == nil || r.Anchor.Superseded:
		return bad("was not computed from the record the ledger names now")
	case r.Answer.Audience != model.IssuerDID(req.Requester) || r.Answer.AccessID != req.AccessID:
		return bad("is addressed to another question")
	}
	return r, token, nil
}

// --- evidence ---

// Bundle gathers the proof bundle of a credential (issuer DID document,
// status lists with their anchors, the route entry), so it can be verified
// offline.
func (s *Service) Bundle(ctx context.Context, token string) (*ProofBundle, error) {
	const op = "credential.Bundle"
	tok, err := sdjwt.Parse(token)
	if err != nil {
		return nil, err
	}
	var p payload
	if err := json.Unmarshal(tok.JWS.Payload, &p); err != nil {
		return nil, routing.Invalid(op, "credential", "the credential payload is not JSON").WithCode(CodeVCMalformed)
	}
	dept, ok := model.ParseIssuerDID(p.Issuer)
	if !ok {
		return nil, routing.Invalid(op, "credential", "the credential's issuer is no eidgate department").WithCode(CodeIssuerUnknown)
	}
	ev := s.evidence()
	b := &ProofBundle{Issuers: []model.DIDResolution{}, StatusLists: []BundledStatusList{}, Anchors: []AnchorProof{}}
	res, err := ev.ResolveIssuer(ctx, dept)
	if err != nil {
		return nil, routing.Wrap(op, err)
	}
	b.Issuers = append(b.Issuers, *res)
	entries, _ := statusEntries(p.Status)
	for _, e := range entries {
		issuer, listID, ok := ParseStatusListURL(e.StatusListCredential)
		if !ok {
			continue
		}
		tokList, err := ev.StatusList(ctx, e.StatusListCredential)
		if err != nil {
			return nil, routing.Wrap(op, err)
		}
		a, err := ev.StatusListAnchor(ctx, issuer, listID)
		if err != nil {
			return nil, routing.Wrap(op, err)
		}
		b.StatusLists = append(b.StatusLists, BundledStatusList{URL: e.StatusListCredential, Credential: tokList, Anchor: *a})
	}
	var subj struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(p.Subject, &subj)
	if proof, err := ev.RouteAnchor(ctx, subj.ID, dataTypeOf(p.Schema), dept, DigestOf(tok.JWS.Raw)); err == nil {
		b.Anchors = append(b.Anchors, *proof)
	} else if !routing.IsKind(err, routing.KindNotFound) {
		return nil, routing.Wrap(op, err)
	}
	return b, nil
}

func (s *Service) evidence() Evidence { return liveEvidence{s} }

// liveEvidence is Evidence from the ledger and the gateway's own store.
type liveEvidence struct{ s *Service }

func (e liveEvidence) ResolveIssuer(ctx context.Context, dept string) (*model.DIDResolution, error) {
	return e.s.resolveDept(ctx, dept)
}

// StatusList serves lists of this gateway only; a list elsewhere is not
// fetched (the verifier reports status_unknown).
func (e liveEvidence) StatusList(ctx context.Context, u string) (string, error) {
	issuer, listID, ok := ParseStatusListURL(u)
	if !ok || StatusListURL(e.s.cfg.BaseURL, issuer, listID) != u {
		return "", routing.Errorf(routing.KindNotFound, "credential.StatusList", "not a status list of this gateway")
	}
	return e.s.StatusListCredential(ctx, issuer, listID)
}

func (e liveEvidence) StatusListAnchor(ctx context.Context, issuer, listID string) (*model.StatusListAnchor, error) {
	return e.s.cfg.Ledger.GetStatusListAnchor(ctx, issuer, listID)
}

func (e liveEvidence) RouteAnchor(ctx context.Context, eid, dataType, provider, digest string) (*AnchorProof, error) {
	const op = "credential.RouteAnchor"
	entries, err := e.s.cfg.Ledger.GetRoutes(ctx, eid, dataType)
	if err != nil && !routing.IsKind(err, routing.KindNotFound) {
		return nil, err
	}
	for _, r := range entries {
		if r.Provider == provider && r.Digest == digest {
			return &AnchorProof{Route: r}, nil
		}
	}
	hist, err := e.s.cfg.Ledger.GetRouteHistory(ctx, eid, dataType, provider)
	if err != nil && !routing.IsKind(err, routing.KindNotFound) {
		return nil, err
	}
	for _, h := range hist {
		if h.Entry != nil && h.Entry.Digest == digest {
			return &AnchorProof{Route: *h.Entry, Superseded: true}, nil
		}
	}
	return nil, routing.Errorf(routing.KindNotFound, op, "no route entry holds the digest")
}
