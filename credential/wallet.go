package credential

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/credential/sdjwt"
	"github.com/eidgate/eidgate/routing"
)

// Wallet statuses, as the resident reads them.
const (
	WalletValid     = "valid"
	WalletSuspended = "suspended"
	WalletRevoked   = "revoked"
	WalletExpired   = "expired"
)

// WalletClaim is one claim of a credential in plain words: its label from
// the data type's JSON Schema ("title", and "x-title-en" for English) and
// its value as text.
type WalletClaim struct {
	Name    string `json:"name"`
	Label   string `json:"label"`
	LabelEN string `json:"label_en"`
	Value   string `json:"value"`
}

// WalletEntry is a credential as the resident's wallet shows it: who
// issued it, what it says, until when, and its status; never JSON.
type WalletEntry struct {
	ID           string        `json:"id"`
	Issuer       string        `json:"issuer"` // department id
	IssuerDID    string        `json:"issuer_did"`
	IssuerName   string        `json:"issuer_name"`
	IssuerNameEN string        `json:"issuer_name_en"`
	DataType     string        `json:"data_type"`
	TypeName     string        `json:"type_name"`
	TypeNameEN   string        `json:"type_name_en"`
	Claims       []WalletClaim `json:"claims"`
	IssuedAt     time.Time     `json:"issued_at"`
	ValidUntil   time.Time     `json:"valid_until,omitzero"`
	Status       string        `json:"status"`
	Version      uint64        `json:"version"`
	Digest       string        `json:"digest"`
}

// Wallet lists the resident's credentials in plain words, newest first.
func (s *Service) Wallet(ctx context.Context, eid string) ([]WalletEntry, error) {
	list, err := s.Credentials(ctx, eid)
	if err != nil {
		return nil, err
	}
	out := make([]WalletEntry, 0, len(list))
	for i := range list {
		e, err := s.walletEntry(ctx, &list[i])
		if err != nil {
			return nil, err
		}
		out = append(out, *e)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].IssuedAt.After(out[j].IssuedAt) })
	return out, nil
}

// WalletCredential is one of the resident's credentials: the plain-words
// entry, the compact token (every disclosure) and its proof bundle.
type WalletCredential struct {
	WalletEntry
	Token     string       `json:"token"`
	MediaType string       `json:"media_type"`
	Bundle    *ProofBundle `json:"bundle"`
}

// WalletCredential returns one of the resident's credentials with its
// token and proof bundle (for download and offline verification).
func (s *Service) WalletCredential(ctx context.Context, eid, id string) (*WalletCredential, error) {
	c, err := s.Credential(ctx, eid, id)
	if err != nil {
		return nil, err
	}
	e, err := s.walletEntry(ctx, c)
	if err != nil {
		return nil, err
	}
	b, err := s.Bundle(ctx, c.Token)
	if err != nil {
		return nil, err
	}
	return &WalletCredential{WalletEntry: *e, Token: c.Token, MediaType: MediaType, Bundle: b}, nil
}

func (s *Service) walletEntry(ctx context.Context, c *IssuedCredential) (*WalletEntry, error) {
	const op = "credential.Wallet"
	e := &WalletEntry{ID: c.ID, Issuer: c.Issuer, IssuerDID: model.IssuerDID(c.Issuer), DataType: c.DataType,
		IssuedAt: c.IssuedAt, ValidUntil: c.ValidUntil, Version: c.Version, Digest: c.Digest, Claims: []WalletClaim{}}
	e.IssuerName, e.IssuerNameEN = c.Issuer, c.Issuer
	if d, err := s.cfg.Ledger.GetDepartment(ctx, c.Issuer); err == nil {
		e.IssuerName, e.IssuerNameEN = d.Name, d.NameEN
	} else if !routing.IsKind(err, routing.KindNotFound) {
		return nil, routing.Wrap(op, err)
	}
	var labels map[string][2]string
	e.TypeName, e.TypeNameEN = c.DataType, c.DataType
	if dt, err := s.cfg.Ledger.GetDataType(ctx, c.DataType); err == nil {
		e.TypeName, e.TypeNameEN = dt.Name, dt.NameEN
		labels = ClaimLabels(dt.Schema)
	} else if !routing.IsKind(err, routing.KindNotFound) {
		return nil, routing.Wrap(op, err)
	}
	claims, err := TokenClaims(c.Token)
	if err != nil {
		return nil, err
	}
	e.Claims = LabelClaims(claims, labels)
	switch {
	case c.Revoked:
		e.Status = WalletRevoked
	case c.Suspended:
		e.Status = WalletSuspended
	case !c.ValidUntil.IsZero() && !s.cfg.Clock.Now().Before(c.ValidUntil):
		e.Status = WalletExpired
	default:
		e.Status = WalletValid
	}
	return e, nil
}

// TokenClaims returns the subject claims (id left out) a credential's
// disclosures carry.
func TokenClaims(token string) (map[string]json.RawMessage, error) {
	tok, err := sdjwt.Parse(token)
	if err != nil {
		return nil, err
	}
	p, err := tok.Process()
	if err != nil {
		return nil, err
	}
	subj, _ := p.Claims["credentialSubject"].(map[string]any)
	out := map[string]json.RawMessage{}
	for k, v := range subj {
		if k == "id" {
			continue
		}
		b, _ := json.Marshal(v)
		out[k] = b
	}
	return out, nil
}

// ClaimLabels reads each property's labels from a JSON Schema: "title"
// (the data type's language, zh-CN in eidgate's catalogue) and
// "x-title-en"; a property without them is labelled with its name.
func ClaimLabels(schema string) map[string][2]string {
	var s struct {
		Properties map[string]struct {
			Title   string `json:"title"`
			TitleEN string `json:"x-title-en"`
		} `json:"properties"`
	}
	out := map[string][2]string{}
	if json.Unmarshal([]byte(schema), &s) != nil {
		return out
	}
	for name, p := range s.Properties {
		zh, en := p.Title, p.TitleEN
		if en == "" {
			en = name
		}
		if zh == "" {
			zh = en
		}
		out[name] = [2]string{zh, en}
	}
	return out
}

// LabelClaims turns claims into labelled text, in the order of their
// names.
func LabelClaims(claims map[string]json.RawMessage, labels map[string][2]string) []WalletClaim {
	names := make([]string, 0, len(claims))
	for k := range claims {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make([]WalletClaim, 0, len(names))
	for _, n := range names {
		l, ok := labels[n]
		if !ok {
			l = [2]string{n, n}
		}
		out = append(out, WalletClaim{Name: n, Label: l[0], LabelEN: l[1], Value: ClaimText(claims[n])})
	}
	return out
}

// ClaimText renders a JSON value as text: strings bare, numbers and
// booleans as written, anything else as compact JSON.
func ClaimText(raw json.RawMessage) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return string(raw)
	}
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case nil:
		return ""
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			b, _ := json.Marshal(e)
			parts[i] = ClaimText(b)
		}
		return strings.Join(parts, ", ")
	}
	b, _ := json.Marshal(v)
	return fmt.Sprint(string(b))
}

// Schema returns a data type's JSON Schema, the credentialSchema of its
// credentials.
func (s *Service) Schema(ctx context.Context, code string) (json.RawMessage, error) {
	const op = "credential.Schema"
	if !model.ValidDataTypeCode(code) {
		return nil, routing.Errorf(routing.KindNotFound, op, "no such data type").WithCode("not_found")
	}
	dt, err := s.cfg.Ledger.GetDataType(ctx, code)
	if err != nil {
		return nil, routing.Wrap(op, err)
	}
	return json.RawMessage(dt.Schema), nil
}

// BaseURL is the gateway's public URL the service names in credentials.
func (s *Service) BaseURL() string { return s.cfg.BaseURL }

// VerifyToken checks a credential or presentation for anyone (the public
// verifier page, a department's check of a credential): nothing is
// recorded. A token with a key binding JWT is a presentation; when no
// audience and nonce are given, the ones it is bound to are taken as
// given, so the binding is checked (holder key, sd_hash, age) but not
// against a challenge, and the result says for whom it was made.
func (s *Service) VerifyToken(ctx context.Context, token, audience, nonce string) (*Result, error) {
	presentation := false
	if tok, err := sdjwt.Parse(token); err == nil && tok.KB != nil {
		presentation = true
		if audience == "" && nonce == "" {
			var kb struct {
				Aud   string `json:"aud"`
				Nonce string `json:"nonce"`
			}
			_ = json.Unmarshal(tok.KB.Payload, &kb)
			audience, nonce = kb.Aud, kb.Nonce
		}
	}
	return s.Verify(ctx, token, presentation, audience, nonce)
}
