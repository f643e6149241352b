package mapping

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"strconv"
	"strings"
	"sync"
)

// Domain-separation labels of the keyed hashes. A blinded document index and
// an account hash can never collide even under the same key.
const (
	blindLabel   = "eidgate/blind/v1"
	accountLabel = "eidgate/account/v1"
	// evidenceLabel keys the hash of a guardian relation's evidence
	// reference.
	evidenceLabel = "eidgate/evidence/v1"
)

// KeySize is the size of every blinding key in bytes.
const KeySize = 32

// Index is a blinded document index in its on-chain form: the key version
// and 64 lowercase hex characters of HMAC-SHA256. It has the fields and JSON
// of the chaincode's model.BlindedIndex, so model.BlindedIndex(idx) converts.
type Index struct {
	KeyVersion string `json:"key_version"`
	Value      string `json:"value"`
}

// Keyring holds the versioned blinding keys: the current version blinds new
// documents, every version is used for lookups so that indexes written before
// a rotation still resolve. A Keyring is immutable and safe for concurrent
// use; AddVersion, WithCurrent and WithoutVersion return a new Keyring.
//
// Key material never leaves a Keyring: String, every fmt verb, slog and
// encoding/json show only the versions.
type Keyring struct {
	current string
	keys    []*versionKey // newest (highest version number) first
}

type versionKey struct {
	version string
	n       int // the number of the version, v12 → 12
	key     []byte
	pool    sync.Pool // of *hmacScratch keyed with key
}

// hmacScratch is a reusable HMAC-SHA256 state with its message and sum
// buffers, so blinding allocates only its hex result.
type hmacScratch struct {
	h   hash.Hash
	msg []byte
	sum [sha256.Size]byte
}

func newVersionKey(version string, key []byte) (*versionKey, error) {
	n, ok := versionNumber(version)
	if !ok {
		return nil, errors.New("a key version looks like v1, v2, … (v and a number without leading zeros)")
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("key %s has %d bytes, want %d", version, len(key), KeySize)
	}
	zero := true
	for _, b := range key {
		zero = zero && b == 0
	}
	if zero {
		return nil, fmt.Errorf("key %s is all zero bytes; generate one with crypto/rand", version)
	}
	vk := &versionKey{version: version, n: n, key: append([]byte(nil), key...)}
	vk.pool.New = func() any {
		return &hmacScratch{h: hmac.New(sha256.New, vk.key), msg: make([]byte, 0, 128)}
	}
	return vk, nil
}

// versionNumber parses "v<N>", N from 1 to 999999 without leading zeros.
func versionNumber(v string) (int, bool) {
	if len(v) < 2 || len(v) > 7 || v[0] != 'v' || v[1] == '0' || !isDigits(v[1:]) {
		return 0, false
	}
	n, err := strconv.Atoi(v[1:])
	return n, err == nil
}

// NewKeyring builds a keyring from version → 32-byte key. current must be
// one of the versions.
func NewKeyring(current string, keys map[string][]byte) (*Keyring, error) {
	vks := make([]*versionKey, 0, len(keys))
	for v, k := range keys {
		vk, err := newVersionKey(v, k)
		if err != nil {
			return nil, err
		}
		vks = append(vks, vk)
	}
	return buildKeyring(current, vks)
}

func buildKeyring(current string, vks []*versionKey) (*Keyring, error) {
	if len(vks) == 0 {
		return nil, errors.New("a keyring needs at least one key")
	}
	sorted := make([]*versionKey, 0, len(vks))
	for _, vk := range vks {
		i := 0
		for i < len(sorted) && sorted[i].n > vk.n {
			i++
		}
		if i < len(sorted) && sorted[i].n == vk.n {
			return nil, fmt.Errorf("key version %s appears twice", vk.version)
		}
		sorted = append(sorted, nil)
		copy(sorted[i+1:], sorted[i:])
		sorted[i] = vk
	}
	for i := range sorted {
		for j := i + 1; j < len(sorted); j++ {
			if hmac.Equal(sorted[i].key, sorted[j].key) {
				return nil, fmt.Errorf("key versions %s and %s have the same key; a new version needs a new key", sorted[i].version, sorted[j].version)
			}
		}
	}
	k := &Keyring{current: current, keys: sorted}
	if k.find(current) == nil {
		return nil, fmt.Errorf("current key version %q is not in the keyring (versions %s)", current, strings.Join(k.Versions(), ", "))
	}
	return k, nil
}

func (k *Keyring) find(version string) *versionKey {
	for _, vk := range k.keys {
		if vk.version == version {
			return vk
		}
	}
	return nil
}

// Current is the version that blinds new documents.
func (k *Keyring) Current() string { return k.current }

// Versions lists every version, newest (highest number) first.
func (k *Keyring) Versions() []string {
	vs := make([]string, len(k.keys))
	for i, vk := range k.keys {
		vs[i] = vk.version
	}
	return vs
}

// NextVersion is the version after the newest one, for a rotation.
func (k *Keyring) NextVersion() string { return "v" + strconv.Itoa(k.keys[0].n+1) }

// AddVersion returns a keyring with one more version, made current when
// makeCurrent is true. A rotation first adds the new version everywhere (so
// every replica resolves both), then makes it current, re-blinds, and finally
// drops the old one with WithoutVersion.
func (k *Keyring) AddVersion(version string, key []byte, makeCurrent bool) (*Keyring, error) {
	vk, err := newVersionKey(version, key)
	if err != nil {
		return nil, err
	}
	current := k.current
	if makeCurrent {
		current = version
	}
	return buildKeyring(current, append(append([]*versionKey(nil), k.keys...), vk))
}

// WithCurrent returns a keyring whose current version is version.
func (k *Keyring) WithCurrent(version string) (*Keyring, error) {
	return buildKeyring(version, k.keys)
}

// WithoutVersion returns a keyring without version, which must not be the
// current one.
func (k *Keyring) WithoutVersion(version string) (*Keyring, error) {
	if version == k.current {
		return nil, fmt.Errorf("key version %s is current; make another version current first", version)
	}
	if k.find(version) == nil {
		return nil, fmt.Errorf("key version %q is not in the keyring", version)
	}
	rest := make([]*versionKey, 0, len(k.keys)-1)
	for _, vk := range k.keys {
		if vk.version != version {
			rest = append(rest, vk)
		}
	}
	return buildKeyring(k.current, rest)
}

// Blind returns the index of doc under the current key.
//
// The index is HMAC-SHA256(key, m) in lowercase hex, where m is
//
//	"eidgate/blind/v1" 0x00
//	u32be(len(type))    type       e.g. "cn-resident"
//	u32be(len(country)) country    passports' issuing state, else empty
//	u32be(len(number))  number     the normalised number
//
// with every field length-prefixed, so no two different documents share m.
func (k *Keyring) Blind(doc Document) (Index, error) {
	if doc.IsZero() {
		return Index{}, errors.New("mapping: cannot blind the zero Document")
	}
	return k.find(k.current).blind(doc), nil
}

// BlindAll returns the index of doc under every key version, newest first.
// Lookups try each, so a document indexed before a rotation still resolves.
func (k *Keyring) BlindAll(doc Document) ([]Index, error) {
	if doc.IsZero() {
		return nil, errors.New("mapping: cannot blind the zero Document")
	}
	out := make([]Index, len(k.keys))
	for i, vk := range k.keys {
		out[i] = vk.blind(doc)
	}
	return out, nil
}

// BlindVersion returns the index of doc under one named version.
func (k *Keyring) BlindVersion(doc Document, version string) (Index, error) {
	if doc.IsZero() {
		return Index{}, errors.New("mapping: cannot blind the zero Document")
	}
	vk := k.find(version)
	if vk == nil {
		return Index{}, fmt.Errorf("mapping: key version %q is not in the keyring", version)
	}
	return vk.blind(doc), nil
}

// AccountHash is the keyed hash (64 lowercase hex) of a department's local
// account id under the current key, so that account ids never appear on
// chain. The message is "eidgate/account/v1" 0x00 u32be(len(department))
// department u32be(len(localAccountID)) localAccountID; callers validate
// both values (non-empty, the department's registered id).
func (k *Keyring) AccountHash(department, localAccountID string) string {
	return k.find(k.current).sum(accountLabel, department, localAccountID)
}

// EvidenceHash is the keyed hash of the reference of a guardian
// relation's evidence (a birth certificate or court order number), so the
// reference never reaches the ledger: "<key version>:<64 hex>" under the
// current key over "eidgate/evidence/v1" 0x00 and the length-prefixed
// kind, ward eID and folded reference.
func (k *Keyring) EvidenceHash(kind, ward, reference string) string {
	vk := k.find(k.current)
	return vk.version + ":" + vk.sum(evidenceLabel, kind, ward, fold(reference))
}

// AccountHashAll returns the account hash under every version, newest first,
// for lookups during a rotation.
func (k *Keyring) AccountHashAll(department, localAccountID string) []Index {
	out := make([]Index, len(k.keys))
	for i, vk := range k.keys {
		out[i] = Index{KeyVersion: vk.version, Value: vk.sum(accountLabel, department, localAccountID)}
	}
	return out
}

func (vk *versionKey) blind(doc Document) Index {
	return Index{KeyVersion: vk.version, Value: vk.sum(blindLabel, string(doc.d.typ), doc.d.country, doc.d.number)}
}

func (vk *versionKey) sum(label string, fields ...string) string {
	s := vk.pool.Get().(*hmacScratch)
	m := append(s.msg[:0], label...)
	m = append(m, 0)
	for _, f := range fields {
		m = binary.BigEndian.AppendUint32(m, uint32(len(f)))
		m = append(m, f...)
	}
	s.h.Reset()
	s.h.Write(m)
	out := hex.EncodeToString(s.h.Sum(s.sum[:0]))
	if cap(m) <= 1024 { // keep a scratch buffer grown by an odd long account id from pinning memory
		s.msg = m
	}
	vk.pool.Put(s)
	return out
}

// String shows the versions only, never key material.
func (k *Keyring) String() string {
	if k == nil {
		return "keyring(nil)"
	}
	return "keyring(current=" + k.current + ", versions=" + strings.Join(k.Versions(), ",") + ")"
}

// Format prints String for every verb, so no verb reaches the keys.
func (k *Keyring) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(k.String())) }

// GoString is String, for %#v.
func (k *Keyring) GoString() string { return k.String() }

// LogValue records the versions only.
func (k *Keyring) LogValue() slog.Value {
	if k == nil {
		return slog.StringValue("keyring(nil)")
	}
	return slog.GroupValue(slog.String("current", k.current), slog.String("versions", strings.Join(k.Versions(), ",")))
}

// MarshalJSON encodes the versions only; use WriteKeyFile to store keys.
func (k *Keyring) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Current  string   `json:"current"`
		Versions []string `json:"versions"`
	}{k.current, k.Versions()})
}
