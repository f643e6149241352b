// Package keydir gives the credential service the issuing keys a gateway
// holds on departments' behalf, from a directory of PEM files, one per
// department: <dir>/<department id>.pem, a PKCS#8 ("PRIVATE KEY") or SEC 1
// ("EC PRIVATE KEY") ECDSA P-256 private key — the layout `eidgate serve
// --demo` keeps its departments' route-signing keys in. A file must pass the
// secret-file rule (internal/safefile). The key id is the department's
// active key on the ledger with the same public key, so a file alone names
// its key and a retired or revoked key signs nothing.
package keydir

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"path/filepath"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/credential"
	"github.com/eidgate/eidgate/internal/safefile"
	"github.com/eidgate/eidgate/routing"
)

// Departments reads a department from the ledger.
type Departments interface {
	GetDepartment(ctx context.Context, id string) (*model.Department, error)
}

// Dir is a directory of department keys.
type Dir struct {
	path   string
	ledger Departments
}

var _ credential.IssuerKeys = (*Dir)(nil)

const op = "keydir.IssuerKey"

// New returns the key directory at path, whose key ids come from ledger.
func New(path string, ledger Departments) (*Dir, error) {
	if path == "" || ledger == nil {
		return nil, errors.New("keydir.New: a directory and a ledger are required")
	}
	return &Dir{path: path, ledger: ledger}, nil
}

// IssuerKey implements credential.IssuerKeys: not_found when the directory
// holds no key of the department or the key is not an active key of it on
// the ledger.
func (d *Dir) IssuerKey(ctx context.Context, dept string) (string, crypto.Signer, error) {
	if !model.ValidDepartmentID(dept) {
		return "", nil, routing.Invalid(op, "department", "not a department id")
	}
	raw, err := safefile.ReadSecret(filepath.Join(d.path, dept+".pem"))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", nil, routing.Errorf(routing.KindNotFound, op, "no signing key of department %s is held here", dept)
	case errors.Is(err, safefile.ErrInsecure):
		return "", nil, &routing.Error{Kind: routing.KindInternal, Op: op, Message: "the key file of department " + dept + " is readable by others; it is not used", Err: err}
	case err != nil:
		return "", nil, routing.Unavailable(op, "key_unavailable", "the key file of department "+dept+" cannot be read", err)
	}
	key, err := parse(raw)
	if err != nil {
		return "", nil, &routing.Error{Kind: routing.KindInternal, Op: op, Message: "the key file of department " + dept + " is not a P-256 private key", Err: err}
	}
	dep, err := d.ledger.GetDepartment(ctx, dept)
	if err != nil {
		return "", nil, routing.Wrap(op, err)
	}
	for _, k := range dep.SigningKeys {
		pub, err := model.ParsePublicKey(k.PublicKeyPEM)
		if err == nil && k.Status == model.KeyActive && pub.Equal(&key.PublicKey) {
			return k.KID, key, nil
		}
	}
	return "", nil, routing.Errorf(routing.KindNotFound, op, "the key held for department %s is not one of its active keys on the ledger", dept)
}

func parse(raw []byte) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(raw)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, errors.New("not a private key block")
	}
	if err != nil {
		return nil, err
	}
	ec, ok := key.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, errors.New("not an ECDSA P-256 key")
	}
	return ec, nil
}
