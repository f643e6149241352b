package credentialtest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"sort"
	"sync"
	"time"

	"github.com/eidgate/eidgate/credential"
	"github.com/eidgate/eidgate/routing"
)

// Store is an in-memory credential.Store with the same contract as the
// database one: each method is atomic, indexes are never handed out twice.
type Store struct {
	mu          sync.Mutex
	lists       map[string]*credential.StatusList // issuer|list
	used        map[string]map[int]bool           // issuer|list → allocated indexes
	credentials map[string]credential.IssuedCredential
	challenges  map[string]*challenge
	// Fail, when set, makes every call fail as a database that is down.
	Fail bool
}

type challenge struct {
	credential.Challenge
	used bool
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{lists: map[string]*credential.StatusList{}, used: map[string]map[int]bool{},
		credentials: map[string]credential.IssuedCredential{}, challenges: map[string]*challenge{}}
}

func (s *Store) down() error {
	if s.Fail {
		return routing.Unavailable("credentialtest.Store", "database_unavailable", "the database is unavailable", nil)
	}
	return nil
}

func notFound(what string) error {
	return routing.Errorf(routing.KindNotFound, "credentialtest.Store", "%s not found", what)
}

// AllocateStatus implements credential.Store. A list is full at three
// quarters of its size, so random picks stay cheap.
func (s *Store) AllocateStatus(_ context.Context, issuer, purpose string, size int, newListID func() string, pick func(int) int) (credential.StatusRef, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.down(); err != nil {
		return credential.StatusRef{}, err
	}
	var l *credential.StatusList
	keys := make([]string, 0, len(s.lists))
	for k := range s.lists {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		c := s.lists[k]
		if c.Issuer == issuer && c.Purpose == purpose && c.Allocated < c.Size*3/4 {
			l = c
			break
		}
	}
	if l == nil {
		l = &credential.StatusList{Issuer: issuer, ListID: newListID(), Purpose: purpose, Size: size, Bits: make([]byte, size/8)}
		s.lists[issuer+"|"+l.ListID] = l
		s.used[issuer+"|"+l.ListID] = map[int]bool{}
	}
	used := s.used[issuer+"|"+l.ListID]
	for {
		i := pick(l.Size)
		if i >= 0 && i < l.Size && !used[i] {
			used[i] = true
			l.Allocated++
			return credential.StatusRef{Purpose: purpose, ListID: l.ListID, Index: i}, nil
		}
	}
}

// UpdateStatusList implements credential.Store.
func (s *Store) UpdateStatusList(_ context.Context, issuer, listID string, change func(*credential.StatusList) (bool, error)) (*credential.StatusList, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.down(); err != nil {
		return nil, err
	}
	l, ok := s.lists[issuer+"|"+listID]
	if !ok {
		return nil, notFound("status list")
	}
	cp := *l
	cp.Bits = append([]byte(nil), l.Bits...)
	changed, err := change(&cp)
	if err != nil {
		return nil, err
	}
	if changed {
		*l = cp
	}
	out := *l
	return &out, nil
}

// GetStatusList implements credential.Store.
func (s *Store) GetStatusList(_ context.Context, issuer, listID string) (*credential.StatusList, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.down(); err != nil {
		return nil, err
	}
	l, ok := s.lists[issuer+"|"+listID]
	if !ok {
		return nil, notFound("status list")
	}
	out := *l
	out.Bits = append([]byte(nil), l.Bits...)
	return &out, nil
}

// MarkStatusAnchored implements credential.Store.
func (s *Store) MarkStatusAnchored(_ context.Context, issuer, listID string, version uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.down(); err != nil {
		return err
	}
	if l, ok := s.lists[issuer+"|"+listID]; ok && version > l.Anchored {
		l.Anchored = version
	}
	return nil
}

// SaveCredential implements credential.Store.
func (s *Store) SaveCredential(_ context.Context, c credential.IssuedCredential) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.down(); err != nil {
		return err
	}
	s.credentials[c.ID] = c
	return nil
}

// GetCredential implements credential.Store.
func (s *Store) GetCredential(_ context.Context, id string) (*credential.IssuedCredential, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.down(); err != nil {
		return nil, err
	}
	c, ok := s.credentials[id]
	if !ok {
		return nil, notFound("credential")
	}
	return &c, nil
}

// ListCredentials implements credential.Store: newest first.
func (s *Store) ListCredentials(_ context.Context, eid string) ([]credential.IssuedCredential, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.down(); err != nil {
		return nil, err
	}
	out := []credential.IssuedCredential{}
	for _, c := range s.credentials {
		if c.EID == eid {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].IssuedAt.After(out[j].IssuedAt) || out[i].ID < out[j].ID })
	return out, nil
}

// SetCredentialStatus implements credential.Store.
func (s *Store) SetCredentialStatus(_ context.Context, id string, revoked, suspended bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.down(); err != nil {
		return err
	}
	c, ok := s.credentials[id]
	if !ok {
		return notFound("credential")
	}
	c.Revoked, c.Suspended = revoked, suspended
	s.credentials[id] = c
	return nil
}

// SaveChallenge implements credential.Store.
func (s *Store) SaveChallenge(_ context.Context, c credential.Challenge) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.down(); err != nil {
		return err
	}
	s.challenges[c.Nonce] = &challenge{Challenge: c}
	return nil
}

// ConsumeChallenge implements credential.Store.
func (s *Store) ConsumeChallenge(_ context.Context, nonce, verifier string, at time.Time) (*credential.Challenge, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.down(); err != nil {
		return nil, err
	}
	c, ok := s.challenges[nonce]
	if !ok || c.used || c.Verifier != verifier || at.After(c.ExpiresAt) {
		return nil, routing.Errorf(routing.KindConflict, "credentialtest.Store", "no open challenge").WithCode(credential.CodeChallenge)
	}
	c.used = true
	out := c.Challenge
	return &out, nil
}

// Keys holds departments' issuing keys.
type Keys struct {
	mu   sync.Mutex
	keys map[string]kidKey
}

type kidKey struct {
	kid string
	key crypto.Signer
}

// NewKeys returns an empty key holder.
func NewKeys() *Keys { return &Keys{keys: map[string]kidKey{}} }

// Put sets a department's key.
func (k *Keys) Put(dept, kid string, key crypto.Signer) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.keys[dept] = kidKey{kid, key}
}

// IssuerKey implements credential.IssuerKeys.
func (k *Keys) IssuerKey(_ context.Context, dept string) (string, crypto.Signer, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	v, ok := k.keys[dept]
	if !ok {
		return "", nil, notFound("issuer key")
	}
	return v.kid, v.key, nil
}

// Holders makes and keeps one holder key per resident.
type Holders struct {
	mu   sync.Mutex
	keys map[string]*ecdsa.PrivateKey
}

// NewHolders returns an empty holder key store.
func NewHolders() *Holders { return &Holders{keys: map[string]*ecdsa.PrivateKey{}} }

// HolderKey implements credential.HolderKeys.
func (h *Holders) HolderKey(_ context.Context, eid string) (crypto.Signer, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	k, ok := h.keys[eid]
	if !ok {
		k, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		h.keys[eid] = k
	}
	return k, nil
}

// AccessLog keeps appended access records in memory.
type AccessLog struct {
	mu      sync.Mutex
	Records []*routing.AccessRecord
}

// AppendAccess implements credential.AccessLog.
func (a *AccessLog) AppendAccess(_ context.Context, recs []*routing.AccessRecord) ([]error, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.Records = append(a.Records, recs...)
	return make([]error, len(recs)), nil
}

// Len is the number of records.
func (a *AccessLog) Len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.Records)
}
