package sdjwt

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"sort"
	"strings"
)

// Limits on an SD-JWT received from outside.
const (
	MaxTokenSize      = 256 << 10 // the whole compact form
	MaxDisclosures    = 256
	MaxDisclosureSize = 16 << 10
	maxDepth          = 16
)

// Disclosure is one selectively disclosable claim (RFC 9901 §4.2): an
// object property [salt, name, value] or an array element [salt, value].
type Disclosure struct {
	Encoded string // base64url of the JSON array, exactly as issued
	Digest  string // base64url(SHA-256(Encoded))
	Salt    string
	Name    string // "" for an array element
	IsArray bool
	Value   json.RawMessage
}

// NewDisclosure makes an object-property disclosure with a fresh 128-bit
// salt (RFC 9901 §9.3 asks for at least 128 bits).
func NewDisclosure(name string, value any) (Disclosure, error) {
	if name == "_sd" || name == "..." || name == "" {
		return Disclosure{}, errorf(CodeDisclosure, "a claim name may not be empty, _sd or ...")
	}
	salt := make([]byte, 16)
	_, _ = rand.Read(salt) // crypto/rand never fails; it crashes first
	v, err := json.Marshal(value)
	if err != nil {
		return Disclosure{}, err
	}
	arr, err := json.Marshal([]any{b64.EncodeToString(salt), name, json.RawMessage(v)})
	if err != nil {
		return Disclosure{}, err
	}
	enc := b64.EncodeToString(arr)
	return Disclosure{Encoded: enc, Digest: digestOf(enc), Salt: b64.EncodeToString(salt), Name: name, Value: v}, nil
}

func digestOf(encoded string) string {
	sum := sha256.Sum256([]byte(encoded))
	return b64.EncodeToString(sum[:])
}

// ParseDisclosure decodes one disclosure.
func ParseDisclosure(enc string) (Disclosure, error) {
	if len(enc) > MaxDisclosureSize {
		return Disclosure{}, errorf(CodeTooLarge, "a disclosure is larger than %d bytes", MaxDisclosureSize)
	}
	raw, err := b64.DecodeString(enc)
	if err != nil {
		return Disclosure{}, errorf(CodeDisclosure, "a disclosure is not base64url")
	}
	var arr []json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&arr); err != nil || dec.More() || (len(arr) != 2 && len(arr) != 3) {
		return Disclosure{}, errorf(CodeDisclosure, "a disclosure must be a JSON array of 2 or 3 elements")
	}
	d := Disclosure{Encoded: enc, Digest: digestOf(enc), IsArray: len(arr) == 2}
	if json.Unmarshal(arr[0], &d.Salt) != nil {
		return Disclosure{}, errorf(CodeDisclosure, "a disclosure's salt must be a string")
	}
	d.Value = arr[len(arr)-1]
	if !d.IsArray {
		if json.Unmarshal(arr[1], &d.Name) != nil {
			return Disclosure{}, errorf(CodeDisclosure, "a disclosure's claim name must be a string")
		}
		if d.Name == "_sd" || d.Name == "..." {
			return Disclosure{}, errorf(CodeDisclosure, "a disclosure may not name the claim _sd or ...")
		}
	}
	if !json.Valid(d.Value) {
		return Disclosure{}, errorf(CodeDisclosure, "a disclosure's value is not JSON")
	}
	return d, nil
}

// Token is an SD-JWT or SD-JWT+KB in parsed compact form.
type Token struct {
	JWS         *JWS
	Disclosures []Disclosure
	KB          *JWS   // the key binding JWT, nil when absent
	KBInput     string // everything before the KB-JWT, including the last "~"
}

// Parse splits a compact SD-JWT (<JWS>~<disclosure>~…~) or SD-JWT+KB
// (<JWS>~…~<KB-JWT>) and decodes its parts. It checks the form and the
// algorithm; signatures and digests are checked by Verify and Process.
func Parse(s string) (*Token, error) {
	if len(s) > MaxTokenSize {
		return nil, errorf(CodeTooLarge, "the SD-JWT is larger than %d bytes", MaxTokenSize)
	}
	s = strings.TrimSpace(s)
	parts := strings.Split(s, "~")
	if len(parts) < 2 {
		return nil, errorf(CodeMalformed, "an SD-JWT is a JWS followed by ~-separated disclosures and ends with ~ or a key binding JWT")
	}
	if len(parts)-2 > MaxDisclosures {
		return nil, errorf(CodeTooLarge, "the SD-JWT has more than %d disclosures", MaxDisclosures)
	}
	jws, err := ParseJWS(parts[0])
	if err != nil {
		return nil, err
	}
	t := &Token{JWS: jws}
	seen := make(map[string]bool, len(parts))
	for _, enc := range parts[1 : len(parts)-1] {
		if enc == "" {
			return nil, errorf(CodeMalformed, "an SD-JWT has an empty disclosure")
		}
		d, err := ParseDisclosure(enc)
		if err != nil {
			return nil, err
		}
		if seen[d.Digest] {
			return nil, errorf(CodeDisclosureRepeated, "a disclosure appears twice")
		}
		seen[d.Digest] = true
		t.Disclosures = append(t.Disclosures, d)
	}
	if last := parts[len(parts)-1]; last != "" {
		kb, err := ParseJWS(last)
		if err != nil {
			return nil, errorf(CodeKBInvalid, "the key binding JWT is not an ES256 JWS")
		}
		t.KB = kb
		t.KBInput = s[:len(s)-len(last)]
	}
	return t, nil
}

// String returns the compact form without key binding (the SD-JWT as
// issued, or the part a KB-JWT covers).
func (t *Token) String() string {
	var b strings.Builder
	b.WriteString(t.JWS.Raw)
	b.WriteByte('~')
	for _, d := range t.Disclosures {
		b.WriteString(d.Encoded)
		b.WriteByte('~')
	}
	return b.String()
}

// Processed is the result of replacing digests by disclosed claims.
type Processed struct {
	Claims map[string]any // the payload with disclosures applied, _sd and _sd_alg removed
	// Disclosed lists the paths of disclosed claims, "credentialSubject.degree"
	// for object properties and "nationalities[0]" for array elements, in
	// payload order.
	Disclosed []string
}

// Process applies the token's disclosures to its (verified) payload per RFC
// 9901 §7.1: every disclosure must be referenced exactly once, a digest may
// appear only once, a disclosed name may not clash with a plain claim, and
// unknown digests (decoys or undisclosed claims) are dropped.
func (t *Token) Process() (*Processed, error) {
	payload, err := decodeObject(t.JWS.Payload)
	if err != nil {
		return nil, err
	}
	if alg, ok := payload["_sd_alg"]; ok && alg != "sha-256" {
		return nil, errorf(CodeHashAlg, "_sd_alg must be sha-256")
	}
	delete(payload, "_sd_alg")
	p := &processor{byDigest: make(map[string]*Disclosure, len(t.Disclosures)), seen: map[string]bool{}}
	for i := range t.Disclosures {
		p.byDigest[t.Disclosures[i].Digest] = &t.Disclosures[i]
	}
	claims, err := p.object(payload, "", 0)
	if err != nil {
		return nil, err
	}
	if len(p.used) != len(t.Disclosures) {
		return nil, errorf(CodeDisclosureUnused, "a disclosure is not referenced by the signed payload")
	}
	return &Processed{Claims: claims, Disclosed: p.paths}, nil
}

type processor struct {
	byDigest map[string]*Disclosure
	seen     map[string]bool // digests met anywhere
	used     []string
	paths    []string
}

func (p *processor) object(m map[string]any, path string, depth int) (map[string]any, error) {
	if depth > maxDepth {
		return nil, errorf(CodeTooLarge, "the payload nests deeper than %d levels", maxDepth)
	}
	out := make(map[string]any, len(m))
	keys := make([]string, 0, len(m))
	for k := range m {
		if k != "_sd" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		v, err := p.value(m[k], join(path, k), depth+1)
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	sd, ok := m["_sd"]
	if !ok {
		return out, nil
	}
	list, ok := sd.([]any)
	if !ok {
		return nil, errorf(CodeMalformed, "_sd must be an array of digests")
	}
	for _, x := range list {
		dg, ok := x.(string)
		if !ok {
			return nil, errorf(CodeMalformed, "_sd must be an array of digests")
		}
		d, err := p.take(dg)
		if err != nil {
			return nil, err
		}
		if d == nil {
			continue // a decoy, or a claim the holder did not disclose
		}
		if d.IsArray {
			return nil, errorf(CodeDisclosure, "an array-element disclosure is referenced from an object")
		}
		if _, clash := out[d.Name]; clash {
			return nil, errorf(CodeClaimClash, "a disclosed claim already exists in its object")
		}
		val, err := p.disclosed(d, join(path, d.Name), depth)
		if err != nil {
			return nil, err
		}
		out[d.Name] = val
	}
	return out, nil
}

func (p *processor) array(a []any, path string, depth int) ([]any, error) {
	if depth > maxDepth {
		return nil, errorf(CodeTooLarge, "the payload nests deeper than %d levels", maxDepth)
	}
	out := make([]any, 0, len(a))
	for _, el := range a {
		if m, ok := el.(map[string]any); ok && len(m) == 1 {
			if ref, ok := m["..."]; ok {
				dg, ok := ref.(string)
				if !ok {
					return nil, errorf(CodeMalformed, "an array element digest must be a string")
				}
				d, err := p.take(dg)
				if err != nil {
					return nil, err
				}
				if d == nil {
					continue
				}
				if !d.IsArray {
					return nil, errorf(CodeDisclosure, "an object-property disclosure is referenced from an array")
				}
				val, err := p.disclosed(d, path+"["+itoa(len(out))+"]", depth)
				if err != nil {
					return nil, err
				}
				out = append(out, val)
				continue
			}
		}
		v, err := p.value(el, path+"["+itoa(len(out))+"]", depth+1)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func (p *processor) value(v any, path string, depth int) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		return p.object(x, path, depth)
	case []any:
		return p.array(x, path, depth)
	}
	return v, nil
}

// take returns the disclosure a digest names (nil for a decoy) and refuses
// a digest met twice.
func (p *processor) take(dg string) (*Disclosure, error) {
	if p.seen[dg] {
		return nil, errorf(CodeDisclosureRepeated, "a digest appears twice in the payload")
	}
	p.seen[dg] = true
	d := p.byDigest[dg]
	if d != nil {
		p.used = append(p.used, dg)
	}
	return d, nil
}

func (p *processor) disclosed(d *Disclosure, path string, depth int) (any, error) {
	v, err := decodeAny(d.Value)
	if err != nil {
		return nil, err
	}
	p.paths = append(p.paths, path)
	return p.value(v, path, depth+1)
}

func decodeAny(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, errorf(CodeDisclosure, "a disclosure's value is not JSON")
	}
	return v, nil
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}
