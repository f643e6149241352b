package devnet

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// signer signs the way Fabric's BCCSP does: ECDSA over the SHA-256 digest,
// DER encoded, with S normalised to the lower half of the order (peers
// reject high-S signatures).
type signer struct {
	key        *ecdsa.PrivateKey
	serialized []byte // msp.SerializedIdentity bytes
}

func (s *signer) sign(msg []byte) ([]byte, error) {
	digest := sha256.Sum256(msg)
	return signDigestLowS(s.key, digest[:])
}

func signDigestLowS(key *ecdsa.PrivateKey, digest []byte) ([]byte, error) {
	der, err := ecdsa.SignASN1(rand.Reader, key, digest)
	if err != nil {
		return nil, err
	}
	r, sv, err := parseECDSASignature(der)
	if err != nil {
		return nil, err
	}
	n := key.Params().N
	if sv.Cmp(halfOrder(n)) <= 0 {
		return der, nil
	}
	sv.Sub(n, sv)
	return marshalECDSASignature(r, sv), nil
}

func halfOrder(n *big.Int) *big.Int { return new(big.Int).Rsh(n, 1) }

func parseECDSASignature(der []byte) (*big.Int, *big.Int, error) {
	var inner cryptobyte.String
	r, s := new(big.Int), new(big.Int)
	in := cryptobyte.String(der)
	if !in.ReadASN1(&inner, asn1.SEQUENCE) || !in.Empty() ||
		!inner.ReadASN1Integer(r) || !inner.ReadASN1Integer(s) || !inner.Empty() {
		return nil, nil, errors.New("failed unmashalling signature [invalid DER encoding]")
	}
	if r.Sign() <= 0 {
		return nil, nil, errors.New("invalid signature, R must be larger than zero")
	}
	if s.Sign() <= 0 {
		return nil, nil, errors.New("invalid signature, S must be larger than zero")
	}
	return r, s, nil
}

func marshalECDSASignature(r, s *big.Int) []byte {
	var b cryptobyte.Builder
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1BigInt(r)
		b.AddASN1BigInt(s)
	})
	out, err := b.Bytes()
	if err != nil {
		panic(err) // two positive integers always encode
	}
	return out
}

// errInvalidSignature is what a Fabric MSP identity reports for a signature
// that does not verify.
//
//lint:ignore ST1005 Fabric's own message, which clients may match
var errInvalidSignature = errors.New("The signature is invalid")

// verifySignature checks sig over msg with pub the way Fabric's BCCSP does:
// DER decoding, low-S required, then ECDSA over SHA-256(msg).
func verifySignature(pub *ecdsa.PublicKey, msg, sig []byte) error {
	r, s, err := parseECDSASignature(sig)
	if err != nil {
		return fmt.Errorf("could not determine if signature is valid: %w", err)
	}
	if half := halfOrder(pub.Params().N); s.Cmp(half) > 0 {
		//lint:ignore ST1005 Fabric's own message (bccsp/sw/ecdsa.go)
		return fmt.Errorf("Invalid S. Must be smaller than half the order [%s][%s].", s, half)
	}
	digest := sha256.Sum256(msg)
	if !ecdsa.Verify(pub, digest[:], r, s) {
		return errInvalidSignature
	}
	return nil
}
