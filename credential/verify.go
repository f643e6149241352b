package credential

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/credential/sdjwt"
	"github.com/eidgate/eidgate/credential/statuslist"
	"github.com/eidgate/eidgate/routing"
)

// Check names, in the order the verifier runs them.
const (
	CheckFormat      = "format"      // an SD-JWT of a W3C VC, ES256, within limits
	CheckIssuer      = "issuer"      // the issuer DID and key resolve from the ledger
	CheckSignature   = "signature"   // the issuer's signature
	CheckIssuerKey   = "issuer_key"  // the key was active when the credential was issued, and is not revoked
	CheckDisclosures = "disclosures" // every disclosure is the issuer's, none repeated
	CheckValidity    = "validity"    // validFrom ≤ now ≤ validUntil
	CheckKeyBinding  = "key_binding" // the holder bound this presentation to the verifier's nonce and audience
	CheckRevocation  = "status.revocation"
	CheckSuspension  = "status.suspension"
	CheckAnchor      = "anchor" // the ledger's route entry holds this credential's digest, signed by the issuer
)

// Stable codes of failed checks (besides those of sdjwt and statuslist).
const (
	CodeUnsupportedType   = "unsupported_type"         // typ other than vc+sd-jwt (e.g. dc+sd-jwt)
	CodeVCMalformed       = "vc_malformed"             // not a VC 2.0 document
	CodeIssuerUnknown     = "issuer_unknown"           // the issuer is not a department on the ledger
	CodeIssuerKeyUnknown  = "issuer_key_unknown"       // kid names no key of the issuer
	CodeIssuerKeyRetired  = "issuer_key_retired"       // issued after the key was retired
	CodeIssuerKeyNotYet   = "issuer_key_not_yet_valid" // issued before the key was registered
	CodeIssuerKeyRevoked  = "issuer_key_revoked"       // the key was revoked: nothing it signed is trusted
	CodeExpired           = "expired"
	CodeNotYetValid       = "not_yet_valid"
	CodeRevoked           = "revoked"
	CodeSuspended         = "suspended"
	CodeStatusUnknown     = "status_unknown"           // the status list could not be had (offline, no bundle entry)
	CodeStatusListInvalid = "status_list_invalid"      // the status list credential does not verify
	CodeStatusNotAnchored = "status_list_not_anchored" // the served list is not the one the ledger anchors
	CodeAnchorMissing     = "anchor_missing"           // no route entry holds this credential's digest
	CodeAnchorInvalid     = "anchor_invalid"           // the route entry's signature does not verify
	CodeAnchorRevoked     = "anchor_revoked"           // the issuer revoked the route entry
	CodeAnchorUnknown     = "anchor_unknown"           // no anchor evidence (offline, no bundle entry)
	CodeVerified          = "verified"
)

// Check is the outcome of one check.
type Check struct {
	Name    string `json:"name"`
	Passed  bool   `json:"passed"`
	Code    string `json:"code"` // "ok" when passed
	Message string `json:"message"`
}

// StatusResult is the status a list gives a credential.
type StatusResult struct {
	Purpose string `json:"purpose"`
	List    string `json:"list"`
	Index   int    `json:"index"`
	Set     bool   `json:"set"`
	// ListVersion is the ledger's anchored version of the list checked.
	ListVersion uint64 `json:"list_version,omitempty"`
}

// AnchorResult describes the route entry that anchors the credential.
type AnchorResult struct {
	EID         string `json:"eid"`
	DataType    string `json:"data_type"`
	Provider    string `json:"provider"`
	Version     uint64 `json:"version"`
	Digest      string `json:"digest"`
	Status      string `json:"status"`
	PublishedAt string `json:"published_at"`
	TxID        string `json:"tx_id"`
	Superseded  bool   `json:"superseded"` // a newer version of the route exists
}

// Result is a verifier's answer: what the credential says and every check.
type Result struct {
	Valid      bool            `json:"valid"`
	Code       string          `json:"code"` // the first failed check's code, or "verified"
	Kind       string          `json:"kind"` // "credential" or "presentation"
	ID         string          `json:"id,omitempty"`
	Types      []string        `json:"types,omitempty"`
	Issuer     string          `json:"issuer,omitempty"`     // the issuer DID
	Department string          `json:"department,omitempty"` // the issuing department
	KeyID      string          `json:"key_id,omitempty"`     // the verification method
	Subject    string          `json:"subject,omitempty"`    // the resident's eID
	DataType   string          `json:"data_type,omitempty"`
	Claims     json.RawMessage `json:"claims,omitempty"`    // the disclosed subject claims (id left out)
	Disclosed  []string        `json:"disclosed,omitempty"` // their names
	ValidFrom  string          `json:"valid_from,omitempty"`
	ValidUntil string          `json:"valid_until,omitempty"`
	IssuedAt   string          `json:"issued_at,omitempty"`
	Digest     string          `json:"digest,omitempty"`
	Audience   string          `json:"audience,omitempty"` // of the key binding
	Nonce      string          `json:"nonce,omitempty"`
	SDHash     string          `json:"sd_hash,omitempty"` // identifies one presentation
	Status     []StatusResult  `json:"status"`
	Anchor     *AnchorResult   `json:"anchor,omitempty"`
	// Answer is set for a yes/no answer: the predicate and the answer.
	Answer *AnswerResult `json:"answer,omitempty"`
	Checks []Check       `json:"checks"`
}

// AnswerResult is what a yes/no answer says.
type AnswerResult struct {
	PredicateID string `json:"predicate_id"`
	Name        string `json:"name"`
	NameEN      string `json:"name_en,omitempty"`
	Answer      bool   `json:"answer"`
	Audience    string `json:"audience,omitempty"`
	AccessID    string `json:"access_id,omitempty"`
	// Digest and Version name the route entry the answer was computed from.
	Digest  string `json:"digest"`
	Version uint64 `json:"version"`
}

func (r *Result) pass(name, msg string) {
	r.Checks = append(r.Checks, Check{Name: name, Passed: true, Code: "ok", Message: msg})
}

func (r *Result) fail(name, code, msg string) {
	r.Checks = append(r.Checks, Check{Name: name, Code: code, Message: msg})
	if r.Code == "" || r.Code == CodeVerified {
		r.Code = code
	}
	r.Valid = false
}

func (r *Result) failErr(name string, err error) {
	r.fail(name, routing.CodeOf(err), routing.MessageOf(err))
}

// Evidence is what a verifier consults besides the token: the ledger and
// the gateway online, or a proof bundle offline. A method answers a
// *routing.Error of kind not_found when it has no such thing; any other
// error means the evidence could not be had (a dependency is down), and
// Verify returns it rather than guessing.
type Evidence interface {
	// ResolveIssuer returns the DID resolution of a department's issuer DID.
	ResolveIssuer(ctx context.Context, dept string) (*model.DIDResolution, error)
	// StatusList returns the status list credential served at url.
	StatusList(ctx context.Context, url string) (string, error)
	// StatusListAnchor returns the ledger's newest anchor of a list.
	StatusListAnchor(ctx context.Context, issuer, listID string) (*model.StatusListAnchor, error)
	// RouteAnchor returns the route entry (current or historic) of eid,
	// data type and provider whose digest is digest.
	RouteAnchor(ctx context.Context, eid, dataType, provider, digest string) (*AnchorProof, error)
}

// AnchorProof is a route entry from the ledger, as GetRoutes or
// GetRouteHistory returned it.
type AnchorProof struct {
	Route      model.RouteEntry `json:"route"`
	Superseded bool             `json:"superseded"`
}

// Request is one verification.
type Request struct {
	Token string // a credential (SD-JWT) or presentation (SD-JWT+KB)
	// Presentation requires a key binding JWT for Audience and Nonce. A
	// credential without one is then refused (kb_missing).
	Presentation bool
	Audience     string
	Nonce        string
	// SkipAnchor leaves out the ledger check (for a yes/no answer, whose
	// evidence names the route instead, and for tests).
	SkipAnchor bool
}

// Verifier checks credentials and presentations. Its zero value is not
// usable: Clock is required.
type Verifier struct {
	Clock routing.Clock
	// KBMaxAge bounds how old a key binding JWT may be (default 5 minutes);
	// KBSkew how far in the future it may claim to be (default 1 minute).
	KBMaxAge time.Duration
	KBSkew   time.Duration
}

// Verify runs every check and returns the result. It returns an error only
// when evidence could not be had (kind unavailable or internal); anything
// wrong with the token itself is a failed check.
func (v *Verifier) Verify(ctx context.Context, ev Evidence, req Request) (*Result, error) {
	r := &Result{Valid: true, Code: CodeVerified, Kind: "credential", Status: []StatusResult{}}
	if req.Presentation {
		r.Kind = "presentation"
	}
	err := v.verify(ctx, ev, req, r)
	if err != nil {
		return nil, err
	}
	if r.Valid {
		r.Code = CodeVerified
	}
	return r, nil
}

// payload is the part of a VC the verifier reads.
type payload struct {
	Context    []string        `json:"@context"`
	ID         string          `json:"id"`
	Type       []string        `json:"type"`
	Issuer     string          `json:"issuer"`
	ValidFrom  string          `json:"validFrom"`
	ValidUntil string          `json:"validUntil"`
	Subject    json.RawMessage `json:"credentialSubject"`
	Schema     json.RawMessage `json:"credentialSchema"`
	Status     json.RawMessage `json:"credentialStatus"`
	IAT        int64           `json:"iat"`
	Cnf        *struct {
		JWK sdjwt.JWK `json:"jwk"`
	} `json:"cnf"`
	Evidence []json.RawMessage `json:"evidence"`
}

func (v *Verifier) verify(ctx context.Context, ev Evidence, req Request, r *Result) error {
	now := v.Clock.Now()
	tok, err := sdjwt.Parse(req.Token)
	if err != nil {
		r.failErr(CheckFormat, err)
		return nil
	}
	if tok.JWS.Header.Typ != TypHeader {
		r.fail(CheckFormat, CodeUnsupportedType, "the credential must be a W3C VC secured as vc+sd-jwt")
		return nil
	}
	var p payload
	if json.Unmarshal(tok.JWS.Payload, &p) != nil || len(p.Context) == 0 || p.Context[0] != ContextV2 || !contains(p.Type, TypeVC) || p.IAT == 0 {
		r.fail(CheckFormat, CodeVCMalformed, "the payload is not a Verifiable Credentials 2.0 document with iat")
		return nil
	}
	r.ID, r.Types, r.Issuer, r.ValidFrom, r.ValidUntil = p.ID, p.Type, p.Issuer, p.ValidFrom, p.ValidUntil
	r.IssuedAt = model.FormatTime(time.Unix(p.IAT, 0))
	r.Digest = DigestOf(tok.JWS.Raw)
	r.pass(CheckFormat, "a W3C VC 2.0 secured as vc+sd-jwt with ES256")

	dept, key, res, ok, err := v.issuerKey(ctx, ev, tok, p, r)
	if err != nil || !ok {
		return err
	}
	r.Department = dept
	if err := tok.JWS.Verify(key.pub); err != nil {
		r.failErr(CheckSignature, err)
		return nil
	}
	r.pass(CheckSignature, "signed by "+r.KeyID)
	v.checkKeyLifecycle(key.life, time.Unix(p.IAT, 0), r)

	proc, err := tok.Process()
	if err != nil {
		r.failErr(CheckDisclosures, err)
		return nil
	}
	r.pass(CheckDisclosures, strconv.Itoa(len(proc.Disclosed))+" claims disclosed, each covered by the issuer's signature")
	subject, _ := proc.Claims["credentialSubject"].(map[string]any)
	if subject == nil {
		r.fail(CheckFormat, CodeVCMalformed, "the credential has no credentialSubject object")
		return nil
	}
	r.Subject, _ = subject["id"].(string)
	v.readSubject(subject, proc.Disclosed, r)
	r.DataType = dataTypeOf(p.Schema)
	anchorDigest := r.Digest
	if contains(p.Type, TypeAnswer) {
		if !readAnswer(tok.JWS.Payload, subject, r) {
			r.fail(CheckFormat, CodeVCMalformed, "the answer names no predicate, answer or route evidence")
			return nil
		}
		anchorDigest = r.Answer.Digest
	}
	v.checkValidity(p, now, r)
	v.checkKeyBinding(tok, p, req, now, r)
	if err := v.checkStatus(ctx, ev, p, dept, r); err != nil {
		return err
	}
	if !req.SkipAnchor {
		return v.checkAnchor(ctx, ev, dept, res, anchorDigest, r)
	}
	return nil
}

// readAnswer fills r.Answer from a yes/no answer's subject and evidence.
func readAnswer(payloadJSON []byte, subject map[string]any, r *Result) bool {
	var p struct {
		Aud      string `json:"aud"`
		Evidence []struct {
			Type     []string `json:"type"`
			DataType string   `json:"dataType"`
			Provider string   `json:"provider"`
			Version  uint64   `json:"version"`
			Digest   string   `json:"digest"`
			AccessID string   `json:"accessId"`
		} `json:"evidence"`
	}
	if json.Unmarshal(payloadJSON, &p) != nil || len(p.Evidence) != 1 || !contains(p.Evidence[0].Type, TypeRouteEvidence) {
		return false
	}
	pred, _ := subject["predicate"].(map[string]any)
	yes, ok := subject["answer"].(bool)
	if pred == nil || !ok {
		return false
	}
	str := func(k string) string { s, _ := pred[k].(string); return s }
	e := p.Evidence[0]
	r.DataType = e.DataType
	r.Answer = &AnswerResult{PredicateID: str("id"), Name: str("name"), NameEN: str("nameEn"), Answer: yes,
		Audience: p.Aud, AccessID: e.AccessID, Digest: e.Digest, Version: e.Version}
	return r.Answer.PredicateID != "" && str("dataType") == e.DataType && model.ValidDigest(e.Digest)
}

type issuerKey struct {
	pub  *ecdsa.PublicKey
	life model.KeyLifecycle
	kid  string
}

func (v *Verifier) issuerKey(ctx context.Context, ev Evidence, tok *sdjwt.Token, p payload, r *Result) (string, issuerKey, *model.DIDResolution, bool, error) {
	dept, ok := model.ParseIssuerDID(p.Issuer)
	did, frag, hasFrag := strings.Cut(tok.JWS.Header.Kid, "#")
	if !ok || !hasFrag || did != p.Issuer || frag == "" {
		r.fail(CheckIssuer, CodeIssuerUnknown, "the issuer must be an eidgate department DID and kid one of its keys")
		return "", issuerKey{}, nil, false, nil
	}
	r.KeyID = tok.JWS.Header.Kid
	res, err := ev.ResolveIssuer(ctx, dept)
	if routing.IsKind(err, routing.KindNotFound) {
		r.fail(CheckIssuer, CodeIssuerUnknown, "the issuer "+p.Issuer+" is not registered on the ledger")
		return "", issuerKey{}, nil, false, nil
	}
	if err != nil {
		return "", issuerKey{}, nil, false, err
	}
	k, ok := findKey(res, r.KeyID)
	if !ok {
		r.fail(CheckIssuer, CodeIssuerKeyUnknown, "the issuer has no key "+r.KeyID)
		return "", issuerKey{}, nil, false, nil
	}
	r.pass(CheckIssuer, "issuer "+p.Issuer+" resolved from the ledger")
	return dept, k, res, true, nil
}

func findKey(res *model.DIDResolution, id string) (issuerKey, bool) {
	if res == nil || res.DIDDocument.ID == "" {
		return issuerKey{}, false
	}
	for _, vm := range res.DIDDocument.VerificationMethod {
		if vm.ID != id || vm.Type != model.VerificationMethodJWK {
			continue
		}
		pub, err := jwkOf(vm.PublicKeyJWK).PublicKey()
		if err != nil {
			return issuerKey{}, false
		}
		k := issuerKey{pub: pub, kid: id, life: model.KeyLifecycle{ID: id, Status: model.KeyActive}}
		for _, h := range res.DIDDocumentMetadata.KeyHistory {
			if h.ID == id {
				k.life = h
			}
		}
		if vm.Revoked != "" && k.life.RevokedAt == "" {
			k.life.Status, k.life.RevokedAt = model.KeyRevoked, vm.Revoked
		}
		return k, true
	}
	return issuerKey{}, false
}

func jwkOf(k model.JWK) sdjwt.JWK {
	return sdjwt.JWK{Kty: k.Kty, Crv: k.Crv, X: k.X, Y: k.Y, Alg: k.Alg}
}

func (v *Verifier) checkKeyLifecycle(life model.KeyLifecycle, issued time.Time, r *Result) {
	if life.RevokedAt != "" || life.Status == model.KeyRevoked {
		r.fail(CheckIssuerKey, CodeIssuerKeyRevoked, "the issuer revoked key "+life.ID+" at "+life.RevokedAt+"; nothing it signed is trusted")
		return
	}
	if from, err := model.ParseTime(life.ValidFrom); err == nil && issued.Before(from) {
		r.fail(CheckIssuerKey, CodeIssuerKeyNotYet, "the credential claims to be issued before key "+life.ID+" was registered")
		return
	}
	if until, err := model.ParseTime(life.RetiredAt); err == nil && !issued.Before(until) {
		r.fail(CheckIssuerKey, CodeIssuerKeyRetired, "the credential was issued after key "+life.ID+" was retired at "+life.RetiredAt)
		return
	}
	msg := "issued while key " + life.ID + " was active"
	if life.RetiredAt != "" {
		msg += " (retired since " + life.RetiredAt + ")"
	}
	r.pass(CheckIssuerKey, msg)
}

func (v *Verifier) readSubject(subject map[string]any, disclosed []string, r *Result) {
	claims := make(map[string]any, len(subject))
	for k, val := range subject {
		if k != "id" {
			claims[k] = val
		}
	}
	r.Claims, _ = json.Marshal(claims)
	for _, d := range disclosed {
		if name, ok := strings.CutPrefix(d, "credentialSubject."); ok && !strings.Contains(name, ".") {
			r.Disclosed = append(r.Disclosed, name)
		}
	}
	sort.Strings(r.Disclosed)
}

func (v *Verifier) checkValidity(p payload, now time.Time, r *Result) {
	from, err := time.Parse(time.RFC3339, p.ValidFrom)
	if err != nil {
		r.fail(CheckValidity, CodeVCMalformed, "validFrom is not a date-time")
		return
	}
	if now.Before(from) {
		r.fail(CheckValidity, CodeNotYetValid, "the credential is valid from "+p.ValidFrom)
		return
	}
	if p.ValidUntil != "" {
		until, err := time.Parse(time.RFC3339, p.ValidUntil)
		if err != nil {
			r.fail(CheckValidity, CodeVCMalformed, "validUntil is not a date-time")
			return
		}
		if now.After(until) {
			r.fail(CheckValidity, CodeExpired, "the credential expired at "+p.ValidUntil)
			return
		}
	}
	r.pass(CheckValidity, "within its validity period")
}

func (v *Verifier) checkKeyBinding(tok *sdjwt.Token, p payload, req Request, now time.Time, r *Result) {
	if !req.Presentation {
		if tok.KB != nil {
			r.fail(CheckKeyBinding, sdjwt.CodeKBUnexpected, "a key binding JWT was sent where a credential was expected")
		}
		return
	}
	if p.Cnf == nil {
		r.fail(CheckKeyBinding, sdjwt.CodeNoHolderKey, "the credential names no holder key")
		return
	}
	holder, err := p.Cnf.JWK.PublicKey()
	if err != nil {
		r.failErr(CheckKeyBinding, err)
		return
	}
	kb, err := tok.VerifyKeyBinding(sdjwt.KeyBindingCheck{Holder: holder, Audience: req.Audience, Nonce: req.Nonce, At: now,
		MaxAge: orDefault(v.KBMaxAge, 5*time.Minute), Skew: orDefault(v.KBSkew, time.Minute)})
	if kb != nil {
		r.Audience, r.Nonce, r.SDHash = kb.Aud, kb.Nonce, kb.SDHash
	}
	if err != nil {
		r.failErr(CheckKeyBinding, err)
		return
	}
	r.pass(CheckKeyBinding, "presented by the holder to "+req.Audience+" for this nonce")
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func (v *Verifier) checkStatus(ctx context.Context, ev Evidence, p payload, dept string, r *Result) error {
	entries, err := statusEntries(p.Status)
	if err != nil {
		r.fail(CheckRevocation, CodeVCMalformed, "credentialStatus is not a list of BitstringStatusListEntry")
		return nil
	}
	for _, e := range entries {
		name := "status." + e.StatusPurpose
		if e.StatusPurpose != model.StatusRevocation && e.StatusPurpose != model.StatusSuspension {
			continue // other purposes (refresh, message) do not decide validity
		}
		if err := v.checkEntry(ctx, ev, e, name, dept, r); err != nil {
			return err
		}
	}
	return nil
}

func statusEntries(raw json.RawMessage) ([]StatusEntry, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var list []StatusEntry
	if raw[0] == '{' {
		var one StatusEntry
		if err := json.Unmarshal(raw, &one); err != nil {
			return nil, err
		}
		list = []StatusEntry{one}
	} else if err := json.Unmarshal(raw, &list); err != nil {
		return nil, err
	}
	for _, e := range list {
		if e.Type != TypeStatus {
			return nil, errors.New("not a BitstringStatusListEntry")
		}
	}
	return list, nil
}

func (v *Verifier) checkEntry(ctx context.Context, ev Evidence, e StatusEntry, name, dept string, r *Result) error {
	index, err := strconv.Atoi(e.StatusListIndex)
	issuer, listID, ok := ParseStatusListURL(e.StatusListCredential)
	if err != nil || index < 0 || !ok {
		r.fail(name, CodeVCMalformed, "the status entry does not name an eidgate status list and index")
		return nil
	}
	if issuer != dept {
		r.fail(name, CodeStatusListInvalid, "the status list belongs to another department than the credential's issuer")
		return nil
	}
	token, err := ev.StatusList(ctx, e.StatusListCredential)
	if routing.IsKind(err, routing.KindNotFound) {
		r.fail(name, CodeStatusUnknown, "the status list "+e.StatusListCredential+" could not be had")
		return nil
	}
	if err != nil {
		return err
	}
	list, digest, ok, err := v.statusList(ctx, ev, token, issuer, e.StatusPurpose, name, r)
	if err != nil || !ok {
		return err
	}
	anchor, err := ev.StatusListAnchor(ctx, issuer, listID)
	if routing.IsKind(err, routing.KindNotFound) {
		r.fail(name, CodeStatusNotAnchored, "the ledger anchors no status list "+listID+" of "+issuer)
		return nil
	}
	if err != nil {
		return err
	}
	if anchor.Digest != digest || anchor.Purpose != e.StatusPurpose {
		r.fail(name, CodeStatusNotAnchored, "the status list is not the version the ledger anchors")
		return nil
	}
	set, err := list.Get(index)
	if err != nil {
		r.failErr(name, err)
		return nil
	}
	r.Status = append(r.Status, StatusResult{Purpose: e.StatusPurpose, List: e.StatusListCredential, Index: index, Set: set, ListVersion: anchor.Version})
	switch {
	case set && e.StatusPurpose == model.StatusRevocation:
		r.fail(name, CodeRevoked, "the issuer revoked this credential")
	case set:
		r.fail(name, CodeSuspended, "the issuer suspended this credential")
	default:
		r.pass(name, "not "+map[string]string{model.StatusRevocation: "revoked", model.StatusSuspension: "suspended"}[e.StatusPurpose]+
			" (list version "+strconv.FormatUint(anchor.Version, 10)+" anchored on the ledger)")
	}
	return nil
}

// statusList verifies a status list credential: vc+sd-jwt signed by a
// valid key of the credential's issuer, of type BitstringStatusListCredential
// for purpose, with a well-formed list.
func (v *Verifier) statusList(ctx context.Context, ev Evidence, token, issuer, purpose, name string, r *Result) (*statuslist.List, string, bool, error) {
	bad := func(msg string) (*statuslist.List, string, bool, error) {
		r.fail(name, CodeStatusListInvalid, msg)
		return nil, "", false, nil
	}
	tok, err := sdjwt.Parse(token)
	if err != nil || tok.JWS.Header.Typ != TypHeader || len(tok.Disclosures) != 0 || tok.KB != nil {
		return bad("the status list is not a vc+sd-jwt credential")
	}
	var p struct {
		Type    []string `json:"type"`
		Issuer  string   `json:"issuer"`
		IAT     int64    `json:"iat"`
		Subject struct {
			Type    string `json:"type"`
			Purpose string `json:"statusPurpose"`
			List    string `json:"encodedList"`
		} `json:"credentialSubject"`
	}
	if json.Unmarshal(tok.JWS.Payload, &p) != nil || !contains(p.Type, TypeList) || p.Subject.Type != TypeListSub {
		return bad("the status list credential is not a BitstringStatusListCredential")
	}
	if p.Issuer != model.IssuerDID(issuer) || !strings.HasPrefix(tok.JWS.Header.Kid, p.Issuer+"#") {
		return bad("the status list is not issued by the list's department")
	}
	if p.Subject.Purpose != purpose {
		return bad("the status list is for another purpose (STATUS_VERIFICATION_ERROR)")
	}
	res, err := ev.ResolveIssuer(ctx, issuer)
	if err != nil && !routing.IsKind(err, routing.KindNotFound) {
		return nil, "", false, err
	}
	key, ok := findKey(res, tok.JWS.Header.Kid)
	if !ok || tok.JWS.Verify(key.pub) != nil {
		return bad("the status list's signature does not verify with a key of its issuer")
	}
	probe := &Result{Valid: true}
	v.checkKeyLifecycle(key.life, time.Unix(p.IAT, 0), probe)
	if !probe.Valid {
		return bad("the status list was signed with a key that was not valid then")
	}
	list, err := statuslist.Decode(p.Subject.List)
	if err != nil {
		r.failErr(name, err)
		return nil, "", false, nil
	}
	return list, DigestOf(tok.JWS.Raw), true, nil
}

func (v *Verifier) checkAnchor(ctx context.Context, ev Evidence, dept string, res *model.DIDResolution, digest string, r *Result) error {
	if r.Subject == "" || r.DataType == "" {
		r.fail(CheckAnchor, CodeAnchorMissing, "the credential names no subject or data type to find its route entry by")
		return nil
	}
	proof, err := ev.RouteAnchor(ctx, r.Subject, r.DataType, dept, digest)
	if routing.IsKind(err, routing.KindNotFound) {
		r.fail(CheckAnchor, CodeAnchorMissing, "no route entry on the ledger holds this credential's digest")
		return nil
	}
	if err != nil {
		return err
	}
	e := proof.Route
	key, keyFound := findKey(res, model.VerificationMethodID(dept, e.KID))
	r.Anchor = &AnchorResult{EID: e.EID, DataType: e.DataType, Provider: e.Provider, Version: e.Version, Digest: e.Digest,
		Status: e.Status, PublishedAt: e.PublishedAt, TxID: e.TxID, Superseded: proof.Superseded}
	switch {
	case e.Digest != digest || e.EID != r.Subject || e.DataType != r.DataType || e.Provider != dept:
		r.fail(CheckAnchor, CodeAnchorMissing, "the route entry offered is not this credential's")
	case !keyFound || key.life.Status == model.KeyRevoked:
		r.fail(CheckAnchor, CodeAnchorInvalid, "the route entry is not signed by a valid key of the issuer")
	case model.VerifyRouteKey(key.pub, e.Signed()) != nil:
		r.fail(CheckAnchor, CodeAnchorInvalid, "the route entry's signature does not verify")
	case e.Status == model.RouteRevoked && !proof.Superseded:
		r.fail(CheckAnchor, CodeAnchorRevoked, "the issuer revoked the route entry of this credential")
	default:
		msg := "anchored on the ledger as version " + strconv.FormatUint(e.Version, 10) + " of the route, transaction " + e.TxID
		if proof.Superseded {
			msg += " (a newer version has been published since)"
		}
		if _, offline := ev.(*ProofBundle); offline {
			// A bundle holds the ledger's state as the gateway read it, with
			// no block proof (docs/credentials.md §7).
			msg += ", as the proof bundle states (it carries no block proof: check the transaction online for the ledger's newest state)"
		}
		r.pass(CheckAnchor, msg)
	}
	return nil
}

// dataTypeOf reads the data type code from a credentialSchema URL
// (…/datatypes/<code>/schema).
func dataTypeOf(raw json.RawMessage) string {
	var ref SchemaRef
	if json.Unmarshal(raw, &ref) != nil {
		return ""
	}
	path := strings.TrimSuffix(ref.ID, "/schema")
	i := strings.LastIndex(path, "/datatypes/")
	if i < 0 {
		return ""
	}
	code := path[i+len("/datatypes/"):]
	if !model.ValidDataTypeCode(code) {
		return ""
	}
	return code
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
