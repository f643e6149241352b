package credential

import (
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/routing"
)

// HolderKeyStore keeps residents' sealed holder keys.
type HolderKeyStore interface {
	// GetHolderKey returns a resident's sealed key, or a *routing.Error of
	// kind not_found.
	GetHolderKey(ctx context.Context, eid string) ([]byte, error)
	// PutHolderKey stores sealed as the resident's key unless one is
	// stored already, and returns the stored one: when two replicas make a
	// key at once, both use the first.
	PutHolderKey(ctx context.Context, eid string, sealed []byte) ([]byte, error)
}

// SealedHolders is the portal's custodial wallet: one P-256 holder key per
// resident, made on first use, kept in the database sealed with AES-256-GCM
// under a gateway secret and bound to the eID (the eID is the additional
// data, so a sealed key moved to another resident does not open). A
// resident whose phone holds its own key passes its public JWK at issuance
// instead and never needs this.
type SealedHolders struct {
	store HolderKeyStore
	aead  cipher.AEAD
}

var _ HolderKeys = (*SealedHolders)(nil)

// NewSealedHolders seals with a 32-byte key.
func NewSealedHolders(store HolderKeyStore, sealingKey []byte) (*SealedHolders, error) {
	if store == nil {
		return nil, errors.New("credential.NewSealedHolders: a store is required")
	}
	if len(sealingKey) != 32 {
		return nil, errors.New("credential.NewSealedHolders: the sealing key must be 32 bytes")
	}
	block, err := aes.NewCipher(sealingKey)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &SealedHolders{store: store, aead: aead}, nil
}

const holderAAD = "eidgate-holder-key-v1\x00"

// HolderKey implements HolderKeys.
func (h *SealedHolders) HolderKey(ctx context.Context, eid string) (crypto.Signer, error) {
	const op = "credential.HolderKey"
	if !model.ValidDID(eid) {
		return nil, routing.Invalid(op, "eid", "not an eID")
	}
	sealed, err := h.store.GetHolderKey(ctx, eid)
	if routing.IsKind(err, routing.KindNotFound) {
		if sealed, err = h.create(ctx, eid); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, routing.Wrap(op, err)
	}
	return h.open(eid, sealed)
}

func (h *SealedHolders) create(ctx context.Context, eid string) ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, routing.Wrap("credential.HolderKey", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, routing.Wrap("credential.HolderKey", err)
	}
	nonce := make([]byte, h.aead.NonceSize())
	_, _ = rand.Read(nonce)
	sealed := h.aead.Seal(nonce, nonce, der, []byte(holderAAD+eid))
	stored, err := h.store.PutHolderKey(ctx, eid, sealed)
	return stored, routing.Wrap("credential.HolderKey", err)
}

func (h *SealedHolders) open(eid string, sealed []byte) (crypto.Signer, error) {
	const op = "credential.HolderKey"
	n := h.aead.NonceSize()
	if len(sealed) < n {
		return nil, &routing.Error{Kind: routing.KindInternal, Op: op, Message: "the resident's holder key is damaged"}
	}
	der, err := h.aead.Open(nil, sealed[:n], sealed[n:], []byte(holderAAD+eid))
	if err != nil {
		return nil, &routing.Error{Kind: routing.KindInternal, Op: op, Message: "the resident's holder key does not open with this gateway's sealing key", Err: err}
	}
	key, err := x509.ParsePKCS8PrivateKey(der)
	if ec, ok := key.(*ecdsa.PrivateKey); err == nil && ok {
		return ec, nil
	}
	return nil, &routing.Error{Kind: routing.KindInternal, Op: op, Message: "the resident's holder key is damaged"}
}
