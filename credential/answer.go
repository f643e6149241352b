package credential

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/credential/sdjwt"
	"github.com/eidgate/eidgate/routing"
	"github.com/eidgate/eidgate/routing/digest"
)

// A yes/no answer is a VC issued by the provider department that holds the
// record: its subject is the resident, its claim the catalogued predicate
// and the answer, its evidence the route entry (data type, version, digest)
// the answer was computed from. It carries no record content. The provider
// signs it because it is the only party that sees the record: the answer is
// its statement about its own signed data, checkable against the same DID
// document and ledger as its credentials, while the gateway never holds the
// record (a gateway signature could only attest what the provider told it).

// Codes of predicate answers.
const (
	CodePredicateUnknown  = "predicate_unknown"        // the data type catalogues no such predicate
	CodeNotApplicable     = "predicate_not_applicable" // the record lacks a claim the predicate compares
	CodeSourceMismatch    = "source_mismatch"          // the record is not the one the route entry's digest names
	TypeRouteEvidence     = "RouteEntryEvidence"
	answerDefaultValidity = 24 * time.Hour
)

// AnswerTemplate is what the provider answers.
type AnswerTemplate struct {
	Subject     string // the resident's eID
	DataType    model.DataType
	PredicateID string
	Route       model.RouteEntry // the route entry of the record
	// The record: either its JSON with the salt of its route digest, or the
	// credential (SD-JWT with every disclosure) whose digest the route holds.
	Record     json.RawMessage
	Salt       string
	Credential string
	Audience   string // the requester's DID; the JWT aud
	AccessID   string // the access record of the question
	At         time.Time
	ValidFor   time.Duration // default 24 hours
}

// Answer is a signed yes/no answer.
type Answer struct {
	ID     string
	Token  string
	Digest string
	Answer bool
}

// AnswerPredicate evaluates a catalogued predicate over the provider's
// record, after checking the record is the one the route entry's digest
// names, and signs the answer.
func AnswerPredicate(s Signer, t AnswerTemplate) (*Answer, error) {
	const op = "credential.AnswerPredicate"
	p, ok := t.DataType.Predicate(t.PredicateID)
	if !ok {
		return nil, routing.Errorf(routing.KindNotFound, op, "data type %s catalogues no predicate %q", t.DataType.Code, t.PredicateID).WithCode(CodePredicateUnknown)
	}
	cond, err := model.ParseCondition(p.Expression)
	if err != nil {
		return nil, routing.Invalid(op, "predicate", "the catalogued predicate cannot be parsed").WithCode(CodePredicateUnknown)
	}
	record, err := sourceRecord(t)
	if err != nil {
		return nil, err
	}
	yes, err := cond.Evaluate(record, t.At)
	if errors.Is(err, model.ErrClaimMissing) {
		return nil, routing.Errorf(routing.KindConflict, op, "the record does not hold what predicate %s asks about", p.ID).WithCode(CodeNotApplicable)
	}
	if err != nil {
		return nil, routing.Wrap(op, err)
	}
	valid := t.ValidFor
	if valid <= 0 {
		valid = answerDefaultValidity
	}
	id := NewID()
	vc := map[string]any{
		"@context":   []string{ContextV2},
		"id":         id,
		"type":       []string{TypeVC, TypeAnswer},
		"issuer":     model.IssuerDID(s.Department),
		"validFrom":  model.FormatTime(t.At),
		"validUntil": model.FormatTime(t.At.Add(valid)),
		"credentialSubject": map[string]any{
			"id": t.Subject,
			"predicate": map[string]any{"id": p.ID, "dataType": t.DataType.Code, "name": p.Name, "nameEn": p.NameEN,
				"expression": p.Expression},
			"answer": yes,
		},
		"evidence": []map[string]any{{"type": []string{TypeRouteEvidence}, "dataType": t.Route.DataType,
			"provider": t.Route.Provider, "version": t.Route.Version, "digest": t.Route.Digest, "accessId": t.AccessID}},
		"iat": t.At.Unix(),
	}
	if t.Audience != "" {
		vc["aud"] = t.Audience
	}
	token, err := sdjwt.Issue(s.Key, sdjwt.Header{Typ: TypHeader, Cty: CtyHeader, Kid: s.vmID()}, vc, nil)
	if err != nil {
		return nil, routing.Wrap(op, err)
	}
	return &Answer{ID: id, Token: token, Digest: DigestOf(strings.TrimSuffix(token, "~")), Answer: yes}, nil
}

func sourceRecord(t AnswerTemplate) (map[string]json.RawMessage, error) {
	const op = "credential.AnswerPredicate"
	if t.Route.EID != t.Subject || t.Route.DataType != t.DataType.Code || t.Route.Status != model.RouteValid {
		return nil, routing.Invalid(op, "route", "the route entry is not a valid entry of this resident and data type").WithCode(CodeSourceMismatch)
	}
	var raw json.RawMessage
	if t.Credential != "" {
		tok, err := sdjwt.Parse(t.Credential)
		if err != nil {
			return nil, err
		}
		if DigestOf(tok.JWS.Raw) != t.Route.Digest {
			return nil, routing.Invalid(op, "credential", "the credential is not the one the route entry names").WithCode(CodeSourceMismatch)
		}
		proc, err := tok.Process()
		if err != nil {
			return nil, err
		}
		raw, _ = json.Marshal(proc.Claims["credentialSubject"])
	} else {
		salt, err := base64.RawURLEncoding.Strict().DecodeString(t.Salt)
		if err != nil || digest.Verify(t.Record, salt, t.Route.Digest) != nil {
			return nil, routing.Invalid(op, "record", "the record is not the one the route entry's digest names").WithCode(CodeSourceMismatch)
		}
		raw = t.Record
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, routing.Invalid(op, "record", "the record is not a JSON object").WithCode(CodeSourceMismatch)
	}
	return m, nil
}
