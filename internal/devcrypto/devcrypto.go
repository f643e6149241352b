// Package devcrypto issues the development identities of the embedded
// ledger and of tests: one certificate authority per organisation, and
// client, admin, peer and TLS certificates laid out in the MSP folder
// structure that Fabric uses (cacerts/, signcerts/, keystore/, tlscacerts/,
// config.yaml with NodeOUs).
//
// Client attributes are encoded the way Fabric CA encodes them: an X.509
// extension with OID 1.2.3.4.5.6.7.8.1 whose value is the raw JSON
// {"attrs":{"name":"value",…}}, so the chaincode reads them with
// fabric-chaincode-go's cid package exactly as it reads a real Fabric CA
// enrollment certificate.
//
// It is for development networks only: keys are written unencrypted.
package devcrypto

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// AttrOID is the certificate extension in which Fabric CA stores attributes.
var AttrOID = asn1.ObjectIdentifier{1, 2, 3, 4, 5, 6, 7, 8, 1}

// Node OU values of a Fabric MSP with NodeOUs enabled.
const (
	OUClient  = "client"
	OUPeer    = "peer"
	OUAdmin   = "admin"
	OUOrderer = "orderer"
)

// validity of issued development certificates.
const validity = 10 * 365 * 24 * time.Hour

// CA is an organisation's certificate authority.
type CA struct {
	MSPID  string
	Domain string
	Cert   *x509.Certificate
	Key    *ecdsa.PrivateKey
}

// Identity is an issued certificate with its private key.
type Identity struct {
	MSPID   string
	Cert    *x509.Certificate
	Key     *ecdsa.PrivateKey
	CertPEM []byte
	KeyPEM  []byte // PKCS #8
}

// IssueOptions describe a certificate to issue.
type IssueOptions struct {
	CommonName string
	// OU is the node OU (client, peer, admin, orderer); empty for TLS certificates.
	OU string
	// Attrs are Fabric CA attributes, e.g. {"eidgate.role": "agent"}.
	Attrs map[string]string
	// Server and Client select the TLS extended key usages; a certificate
	// with neither is a signing (enrollment) certificate.
	Server, Client bool
	DNSNames       []string
	IPAddresses    []net.IP
}

// NewCA creates a self-signed ECDSA P-256 CA for an organisation.
func NewCA(mspID, domain string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now().Add(-time.Hour).UTC()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "ca." + domain, Organization: []string{domain}},
		NotBefore:             now,
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		SubjectKeyId:          ski(&key.PublicKey),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{MSPID: mspID, Domain: domain, Cert: cert, Key: key}, nil
}

// CertPEM is the CA certificate in PEM form.
func (ca *CA) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
}

// Issue signs a new certificate for a fresh P-256 key.
func (ca *CA) Issue(o IssueOptions) (*Identity, error) {
	if o.CommonName == "" {
		return nil, errors.New("devcrypto: common name required")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now().Add(-time.Hour).UTC()
	subject := pkix.Name{CommonName: o.CommonName, Organization: []string{ca.Domain}}
	if o.OU != "" {
		subject.OrganizationalUnit = []string{o.OU}
	}
	tmpl := &x509.Certificate{
		SerialNumber:   serial(),
		Subject:        subject,
		NotBefore:      now,
		NotAfter:       now.Add(validity),
		KeyUsage:       x509.KeyUsageDigitalSignature,
		SubjectKeyId:   ski(&key.PublicKey),
		AuthorityKeyId: ca.Cert.SubjectKeyId,
		DNSNames:       o.DNSNames,
		IPAddresses:    o.IPAddresses,
	}
	if o.Server {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	if o.Client {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	}
	if len(o.Attrs) > 0 {
		// encoding/json sorts map keys, so the extension is deterministic.
		val, err := json.Marshal(struct {
			Attrs map[string]string `json:"attrs"`
		}{o.Attrs})
		if err != nil {
			return nil, err
		}
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: AttrOID, Value: val})
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return &Identity{
		MSPID:   ca.MSPID,
		Cert:    cert,
		Key:     key,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}, nil
}

// Attributes returns the Fabric CA attributes of a certificate, or nil.
func Attributes(cert *x509.Certificate) (map[string]string, error) {
	for _, ext := range cert.Extensions {
		if ext.Id.Equal(AttrOID) {
			var v struct {
				Attrs map[string]string `json:"attrs"`
			}
			if err := json.Unmarshal(ext.Value, &v); err != nil {
				return nil, fmt.Errorf("devcrypto: attribute extension: %w", err)
			}
			return v.Attrs, nil
		}
	}
	return nil, nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return n
}

func ski(pub *ecdsa.PublicKey) []byte {
	raw, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		panic(err)
	}
	sum := sha256.Sum256(raw)
	return sum[:]
}

// nodeOUConfig is the config.yaml of an MSP folder with NodeOUs enabled.
const nodeOUConfig = `NodeOUs:
  Enable: true
  ClientOUIdentifier:
    Certificate: cacerts/ca.pem
    OrganizationalUnitIdentifier: client
  PeerOUIdentifier:
    Certificate: cacerts/ca.pem
    OrganizationalUnitIdentifier: peer
  AdminOUIdentifier:
    Certificate: cacerts/ca.pem
    OrganizationalUnitIdentifier: admin
  OrdererOUIdentifier:
    Certificate: cacerts/ca.pem
    OrganizationalUnitIdentifier: orderer
`

// WriteMSP writes an identity's MSP folder: cacerts/ca.pem,
// signcerts/cert.pem, keystore/priv_sk, tlscacerts/tlsca.pem (when tlsCA is
// set) and config.yaml. Private keys are written 0600.
func WriteMSP(dir string, ca *CA, tlsCA *CA, id *Identity) error {
	files := []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{"cacerts/ca.pem", ca.CertPEM(), 0o644},
		{"signcerts/cert.pem", id.CertPEM, 0o644},
		{"keystore/priv_sk", id.KeyPEM, 0o600},
		{"config.yaml", []byte(nodeOUConfig), 0o644},
	}
	if tlsCA != nil {
		files = append(files, struct {
			path string
			data []byte
			mode os.FileMode
		}{"tlscacerts/tlsca.pem", tlsCA.CertPEM(), 0o644})
	}
	for _, f := range files {
		if err := writeFile(filepath.Join(dir, f.path), f.data, f.mode); err != nil {
			return err
		}
	}
	return nil
}

// WriteCA stores a CA's certificate (ca.pem) and key (ca_sk, 0600) in dir so
// that it can issue further identities after a restart.
func WriteCA(dir string, ca *CA) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(ca.Key)
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, "ca.pem"), ca.CertPEM(), 0o644); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, "ca_sk"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
}

// LoadCA reads a CA written by WriteCA.
func LoadCA(dir, mspID, domain string) (*CA, error) {
	cert, err := readCert(filepath.Join(dir, "ca.pem"))
	if err != nil {
		return nil, err
	}
	key, err := readKey(filepath.Join(dir, "ca_sk"))
	if err != nil {
		return nil, err
	}
	return &CA{MSPID: mspID, Domain: domain, Cert: cert, Key: key}, nil
}

// LoadIdentity reads signcerts/cert.pem and keystore/priv_sk of an MSP folder
// written by WriteMSP.
func LoadIdentity(mspDir, mspID string) (*Identity, error) {
	certPEM, err := os.ReadFile(filepath.Join(mspDir, "signcerts", "cert.pem"))
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(filepath.Join(mspDir, "keystore", "priv_sk"))
	if err != nil {
		return nil, err
	}
	return ParseIdentity(mspID, certPEM, keyPEM)
}

// ParseIdentity builds an Identity from PEM certificate and PKCS #8 key.
func ParseIdentity(mspID string, certPEM, keyPEM []byte) (*Identity, error) {
	cert, err := parseCert(certPEM)
	if err != nil {
		return nil, err
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, err
	}
	return &Identity{MSPID: mspID, Cert: cert, Key: key, CertPEM: certPEM, KeyPEM: keyPEM}, nil
}

func readCert(path string) (*x509.Certificate, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := parseCert(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

func parseCert(raw []byte) (*x509.Certificate, error) {
	b, _ := pem.Decode(raw)
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, errors.New("devcrypto: no PEM certificate")
	}
	return x509.ParseCertificate(b.Bytes)
}

func readKey(path string) (*ecdsa.PrivateKey, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	k, err := parseKey(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

func parseKey(raw []byte) (*ecdsa.PrivateKey, error) {
	b, _ := pem.Decode(raw)
	if b == nil {
		return nil, errors.New("devcrypto: no PEM private key")
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		if ek, err2 := x509.ParseECPrivateKey(b.Bytes); err2 == nil {
			return ek, nil
		}
		return nil, err
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("devcrypto: key is %T, want ECDSA", k)
	}
	return ek, nil
}

func writeFile(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, data, mode)
}
