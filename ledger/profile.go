package ledger

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"gopkg.in/yaml.v3"
)

// Default per-phase timeouts, the values fabric-samples' application-gateway-go uses.
const (
	DefaultEvaluateTimeout     = 5 * time.Second
	DefaultEndorseTimeout      = 15 * time.Second
	DefaultSubmitTimeout       = 5 * time.Second
	DefaultCommitStatusTimeout = time.Minute
	DefaultDialTimeout         = 10 * time.Second
)

// Profile is a connection profile: where the peer is and who we are on it.
//
// Relative paths are resolved against the directory of the profile file.
type Profile struct {
	Peer      PeerProfile     `yaml:"peer"`
	MSP       MSPProfile      `yaml:"msp"`
	Channel   string          `yaml:"channel"`
	Chaincode string          `yaml:"chaincode"`
	Timeouts  TimeoutsProfile `yaml:"timeouts"`

	dir string
}

// PeerProfile locates the gateway peer.
type PeerProfile struct {
	// Endpoint is host:port of the peer's gateway service.
	Endpoint string `yaml:"endpoint"`
	// HostOverride is the TLS server name when it differs from the endpoint host
	// (e.g. peer0.org1.example.com reached through localhost).
	HostOverride string `yaml:"hostOverride,omitempty"`
	// TLSCACert is the PEM file of the CA that issued the peer's TLS certificate.
	TLSCACert string `yaml:"tlsCACert"`
	// ClientCert and ClientKey enable mutual TLS; both or neither.
	ClientCert string `yaml:"clientCert,omitempty"`
	ClientKey  string `yaml:"clientKey,omitempty"`
}

// MSPProfile names the signing identity: either an MSP folder (signcerts/,
// keystore/) or explicit certificate and key files.
type MSPProfile struct {
	ID   string `yaml:"id"`
	Dir  string `yaml:"dir,omitempty"`
	Cert string `yaml:"cert,omitempty"`
	Key  string `yaml:"key,omitempty"`
}

// TimeoutsProfile holds the per-phase timeouts; zero means the default.
type TimeoutsProfile struct {
	Dial         time.Duration `yaml:"dial,omitempty"`
	Evaluate     time.Duration `yaml:"evaluate,omitempty"`
	Endorse      time.Duration `yaml:"endorse,omitempty"`
	Submit       time.Duration `yaml:"submit,omitempty"`
	CommitStatus time.Duration `yaml:"commitStatus,omitempty"`
}

// LoadProfile reads and validates a YAML connection profile. The referenced
// certificates and keys are read and checked (PEM well formed, key matching
// certificate) so a bad profile fails at start, not at the first transaction.
func LoadProfile(path string) (*Profile, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("ledger profile %s: file does not exist", path)
		}
		return nil, fmt.Errorf("ledger profile %s: %w", path, err)
	}
	var p Profile
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("ledger profile %s: %w", path, err)
	}
	abs, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("ledger profile %s: %w", path, err)
	}
	p.dir = abs
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("ledger profile %s: %w", path, err)
	}
	return &p, nil
}

// Validate checks that every required field is set and that the referenced
// credentials load. It is called by LoadProfile and Dial.
func (p *Profile) Validate() error {
	var missing []string
	if p.Peer.Endpoint == "" {
		missing = append(missing, "peer.endpoint")
	}
	if p.Peer.TLSCACert == "" {
		missing = append(missing, "peer.tlsCACert")
	}
	if p.MSP.ID == "" {
		missing = append(missing, "msp.id")
	}
	if p.MSP.Dir == "" && (p.MSP.Cert == "" || p.MSP.Key == "") {
		missing = append(missing, "msp.dir (or msp.cert and msp.key)")
	}
	if p.Channel == "" {
		missing = append(missing, "channel")
	}
	if p.Chaincode == "" {
		missing = append(missing, "chaincode")
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing fields: %s", strings.Join(missing, ", "))
	}
	if (p.Peer.ClientCert == "") != (p.Peer.ClientKey == "") {
		return errors.New("peer.clientCert and peer.clientKey must be set together")
	}
	for name, d := range map[string]time.Duration{
		"timeouts.dial": p.Timeouts.Dial, "timeouts.evaluate": p.Timeouts.Evaluate,
		"timeouts.endorse": p.Timeouts.Endorse, "timeouts.submit": p.Timeouts.Submit,
		"timeouts.commitStatus": p.Timeouts.CommitStatus,
	} {
		if d < 0 {
			return fmt.Errorf("%s must not be negative", name)
		}
	}
	if _, err := p.tlsConfig(); err != nil {
		return err
	}
	if _, _, err := p.signer(); err != nil {
		return err
	}
	return nil
}

func (p *Profile) path(name string) string {
	if name == "" || filepath.IsAbs(name) || p.dir == "" {
		return name
	}
	return filepath.Join(p.dir, name)
}

func (p *Profile) timeouts() TimeoutsProfile {
	t := p.Timeouts
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&t.Dial, DefaultDialTimeout)
	def(&t.Evaluate, DefaultEvaluateTimeout)
	def(&t.Endorse, DefaultEndorseTimeout)
	def(&t.Submit, DefaultSubmitTimeout)
	def(&t.CommitStatus, DefaultCommitStatusTimeout)
	return t
}

// tlsConfig builds the client TLS configuration from the profile.
func (p *Profile) tlsConfig() (*tls.Config, error) {
	caPEM, err := readPEMFile("peer.tlsCACert", p.path(p.Peer.TLSCACert))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("peer.tlsCACert %s: no PEM certificate found", p.Peer.TLSCACert)
	}
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12, ServerName: p.Peer.HostOverride}
	if cfg.ServerName == "" {
		host := p.Peer.Endpoint
		if h, _, ok := strings.Cut(strings.TrimPrefix(host, "dns:///"), ":"); ok {
			host = h
		}
		cfg.ServerName = host
	}
	if p.Peer.ClientCert != "" {
		certPEM, err := readPEMFile("peer.clientCert", p.path(p.Peer.ClientCert))
		if err != nil {
			return nil, err
		}
		keyPEM, err := readPEMFile("peer.clientKey", p.path(p.Peer.ClientKey))
		if err != nil {
			return nil, err
		}
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("peer client TLS certificate and key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// signer loads the MSP identity: certificate and the private key matching it.
func (p *Profile) signer() (*x509.Certificate, crypto.PrivateKey, error) {
	certPath, keyPaths, err := p.credentialPaths()
	if err != nil {
		return nil, nil, err
	}
	certPEM, err := readPEMFile("msp certificate", certPath)
	if err != nil {
		return nil, nil, err
	}
	cert, err := identity.CertificateFromPEM(certPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("msp certificate %s: %w", certPath, err)
	}
	var lastErr error
	for _, kp := range keyPaths {
		keyPEM, err := readPEMFile("msp private key", kp)
		if err != nil {
			lastErr = err
			continue
		}
		key, err := identity.PrivateKeyFromPEM(keyPEM)
		if err != nil {
			lastErr = fmt.Errorf("msp private key %s: %w", kp, err)
			continue
		}
		if !keyMatches(cert, key) {
			lastErr = fmt.Errorf("msp private key %s does not match certificate %s", kp, certPath)
			continue
		}
		return cert, key, nil
	}
	return nil, nil, lastErr
}

// credentialPaths returns the certificate file and candidate key files. In an
// MSP folder the keystore may hold several keys (e.g. after re-enrolment); the
// one matching signcerts/ is used.
func (p *Profile) credentialPaths() (string, []string, error) {
	if p.MSP.Dir == "" {
		return p.path(p.MSP.Cert), []string{p.path(p.MSP.Key)}, nil
	}
	dir := p.path(p.MSP.Dir)
	certPath := p.path(p.MSP.Cert)
	if certPath == "" {
		certs, err := listFiles(filepath.Join(dir, "signcerts"))
		if err != nil {
			return "", nil, fmt.Errorf("msp.dir %s: %w", p.MSP.Dir, err)
		}
		if len(certs) != 1 {
			return "", nil, fmt.Errorf("msp.dir %s: signcerts/ must hold exactly one certificate, found %d", p.MSP.Dir, len(certs))
		}
		certPath = certs[0]
	}
	if p.MSP.Key != "" {
		return certPath, []string{p.path(p.MSP.Key)}, nil
	}
	keys, err := listFiles(filepath.Join(dir, "keystore"))
	if err != nil {
		return "", nil, fmt.Errorf("msp.dir %s: %w", p.MSP.Dir, err)
	}
	if len(keys) == 0 {
		return "", nil, fmt.Errorf("msp.dir %s: keystore/ holds no key", p.MSP.Dir)
	}
	return certPath, keys, nil
}

func listFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s does not exist", filepath.Base(dir)+"/")
		}
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.Type().IsRegular() {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(out)
	return out, nil
}

func readPEMFile(what, path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s %s: file does not exist", what, path)
		}
		return nil, fmt.Errorf("%s %s: %w", what, path, err)
	}
	if block, _ := pem.Decode(raw); block == nil {
		return nil, fmt.Errorf("%s %s: not PEM encoded", what, path)
	}
	return raw, nil
}

func keyMatches(cert *x509.Certificate, key crypto.PrivateKey) bool {
	type publicKeyer interface{ Public() crypto.PublicKey }
	pk, ok := key.(publicKeyer)
	if !ok {
		return false
	}
	switch pub := pk.Public().(type) {
	case *ecdsa.PublicKey:
		return pub.Equal(cert.PublicKey)
	case ed25519.PublicKey:
		return pub.Equal(cert.PublicKey)
	case *rsa.PublicKey:
		return pub.Equal(cert.PublicKey)
	}
	return false
}

// Marshal renders the profile as YAML, e.g. for `eidgate devnet` to print a
// profile a gateway can load. Paths are written as given.
func (p *Profile) Marshal() ([]byte, error) {
	return yaml.Marshal(p)
}
