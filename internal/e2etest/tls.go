package e2etest

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/eidgate/eidgate/internal/devcrypto"
)

// ServerTLS is a throw-away CA and a server certificate for 127.0.0.1
// issued by it, written as PEM files for --tls-cert and --tls-key.
type ServerTLS struct {
	CertFile string
	KeyFile  string
	// Roots trusts the CA that issued the certificate.
	Roots *x509.CertPool
}

// NewServerTLS issues the certificate into a temporary directory.
func NewServerTLS(tb testing.TB) ServerTLS {
	tb.Helper()
	ca, err := devcrypto.NewCA("GatewayTestMSP", "gateway.test")
	if err != nil {
		tb.Fatal(err)
	}
	id, err := ca.Issue(devcrypto.IssueOptions{
		CommonName: "127.0.0.1", Server: true,
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	})
	if err != nil {
		tb.Fatal(err)
	}
	dir := tb.TempDir()
	out := ServerTLS{CertFile: filepath.Join(dir, "server.pem"), KeyFile: filepath.Join(dir, "server-key.pem"), Roots: x509.NewCertPool()}
	if err := os.WriteFile(out.CertFile, id.CertPEM, 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(out.KeyFile, id.KeyPEM, 0o600); err != nil {
		tb.Fatal(err)
	}
	out.Roots.AddCert(ca.Cert)
	return out
}

// ClientConfig trusts the server certificate and, when cert is not nil,
// presents it as the client certificate whatever CAs the server names.
func (s ServerTLS) ClientConfig(cert *tls.Certificate) *tls.Config {
	cfg := &tls.Config{RootCAs: s.Roots, MinVersion: tls.VersionTLS12}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
	}
	return cfg
}

// MSPCertificate loads the signing certificate and key of a Fabric MSP
// folder (signcerts/, keystore/) as a TLS client certificate.
func MSPCertificate(tb testing.TB, mspDir, mspID string) tls.Certificate {
	tb.Helper()
	id, err := devcrypto.LoadIdentity(mspDir, mspID)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := tls.X509KeyPair(id.CertPEM, id.KeyPEM)
	if err != nil {
		tb.Fatal(err)
	}
	return cert
}
