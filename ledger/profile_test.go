package ledger

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testCreds writes a CA, a certificate and its key (PKCS#8, as Fabric CA and
// cryptogen write them) and a second unrelated key.
type testCreds struct {
	caPEM, certPEM, keyPEM, otherKeyPEM []byte
}

func newTestCreds(t testing.TB) testCreds {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "agent"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, DNSNames: []string{"localhost"},
	}
	caCert, _ := x509.ParseCertificate(caDER)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	pk8 := func(k *ecdsa.PrivateKey) []byte {
		b, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: b})
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	return testCreds{
		caPEM:       pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		certPEM:     pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:      pk8(key),
		otherKeyPEM: pk8(other),
	}
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestLoadProfile(t *testing.T) {
	creds := newTestCreds(t)
	const base = `
peer:
  endpoint: localhost:7051
  tlsCACert: tls/ca.pem
msp:
  id: PlatformMSP
  dir: msp
channel: eidgate
chaincode: eidgate
timeouts:
  commitStatus: 2s
`
	tests := []struct {
		name    string
		yaml    string // "" means no profile file
		files   map[string][]byte
		wantErr string // substring; "" means success
		check   func(*testing.T, *Profile)
	}{
		{
			name: "msp folder",
			yaml: base,
			files: map[string][]byte{
				"tls/ca.pem": creds.caPEM, "msp/signcerts/cert.pem": creds.certPEM,
				"msp/keystore/a_sk": creds.otherKeyPEM, "msp/keystore/b_sk": creds.keyPEM,
			},
			check: func(t *testing.T, p *Profile) {
				if got := p.timeouts(); got.CommitStatus != 2*time.Second {
					t.Errorf("got.CommitStatus = %v, want 2*time.Second; timeouts = %+v, want commitStatus 2s and default endorse", got.CommitStatus, got)
				} else if got.Endorse != DefaultEndorseTimeout {
					t.Errorf("got.Endorse = %v, want DefaultEndorseTimeout; timeouts = %+v, want commitStatus 2s and default endorse", got.Endorse, got)
				}
				if _, _, err := p.signer(); err != nil {
					t.Errorf("signer: %v (keystore key matching the certificate should be chosen)", err)
				}
			},
		},
		{
			name: "explicit cert and key",
			yaml: strings.Replace(base, "  dir: msp\n", "  cert: id/cert.pem\n  key: id/key.pem\n", 1),
			files: map[string][]byte{
				"tls/ca.pem": creds.caPEM, "id/cert.pem": creds.certPEM, "id/key.pem": creds.keyPEM,
			},
		},
		{name: "missing file", wantErr: "file does not exist"},
		{
			name:    "missing fields",
			yaml:    "peer:\n  endpoint: localhost:7051\n",
			wantErr: "missing fields: peer.tlsCACert, msp.id, msp.dir (or msp.cert and msp.key), channel, chaincode",
		},
		{
			name:    "unknown field",
			yaml:    base + "chanel: typo\n",
			wantErr: "field chanel not found",
		},
		{
			name: "key not matching certificate",
			yaml: base,
			files: map[string][]byte{
				"tls/ca.pem": creds.caPEM, "msp/signcerts/cert.pem": creds.certPEM,
				"msp/keystore/k_sk": creds.otherKeyPEM,
			},
			wantErr: "does not match certificate",
		},
		{
			name: "bad PEM certificate",
			yaml: base,
			files: map[string][]byte{
				"tls/ca.pem": creds.caPEM, "msp/signcerts/cert.pem": []byte("not a certificate"),
				"msp/keystore/k_sk": creds.keyPEM,
			},
			wantErr: "not PEM encoded",
		},
		{
			name: "bad PEM TLS CA",
			yaml: base,
			files: map[string][]byte{
				"tls/ca.pem": []byte("garbage"), "msp/signcerts/cert.pem": creds.certPEM,
				"msp/keystore/k_sk": creds.keyPEM,
			},
			wantErr: "peer.tlsCACert",
		},
		{
			name: "empty keystore",
			yaml: base,
			files: map[string][]byte{
				"tls/ca.pem": creds.caPEM, "msp/signcerts/cert.pem": creds.certPEM,
				"msp/keystore/.keep": nil,
			},
			wantErr: "not PEM encoded",
		},
		{
			name: "no signcerts",
			yaml: base,
			files: map[string][]byte{
				"tls/ca.pem": creds.caPEM, "msp/keystore/k_sk": creds.keyPEM,
			},
			wantErr: "signcerts/ does not exist",
		},
		{
			name: "client TLS half configured",
			yaml: strings.Replace(base, "  tlsCACert: tls/ca.pem\n", "  tlsCACert: tls/ca.pem\n  clientCert: tls/client.pem\n", 1),
			files: map[string][]byte{
				"tls/ca.pem": creds.caPEM, "msp/signcerts/cert.pem": creds.certPEM, "msp/keystore/k_sk": creds.keyPEM,
			},
			wantErr: "must be set together",
		},
		{
			name: "mutual TLS",
			yaml: strings.Replace(base, "  tlsCACert: tls/ca.pem\n", "  tlsCACert: tls/ca.pem\n  clientCert: tls/client.pem\n  clientKey: tls/client.key\n", 1),
			files: map[string][]byte{
				"tls/ca.pem": creds.caPEM, "tls/client.pem": creds.certPEM, "tls/client.key": creds.keyPEM,
				"msp/signcerts/cert.pem": creds.certPEM, "msp/keystore/k_sk": creds.keyPEM,
			},
			check: func(t *testing.T, p *Profile) {
				cfg, err := p.tlsConfig()
				if err != nil || len(cfg.Certificates) != 1 || cfg.ServerName != "localhost" {
					t.Errorf("tlsConfig = %v, %v; want one client certificate and server name localhost", cfg, err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, data := range tt.files {
				writeFile(t, filepath.Join(dir, name), data)
			}
			path := filepath.Join(dir, "profile.yaml")
			if tt.yaml != "" {
				writeFile(t, path, []byte(tt.yaml))
			}
			p, err := LoadProfile(path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("LoadProfile error = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadProfile: %v", err)
			}
			if tt.check != nil {
				tt.check(t, p)
			}
		})
	}
}

func TestProfileMarshalRoundTrip(t *testing.T) {
	creds := newTestCreds(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "ca.pem"), creds.caPEM)
	writeFile(t, filepath.Join(dir, "msp/signcerts/c.pem"), creds.certPEM)
	writeFile(t, filepath.Join(dir, "msp/keystore/k_sk"), creds.keyPEM)
	in := &Profile{
		Peer:      PeerProfile{Endpoint: "127.0.0.1:7051", HostOverride: "peer0.platform", TLSCACert: filepath.Join(dir, "ca.pem")},
		MSP:       MSPProfile{ID: "PlatformMSP", Dir: filepath.Join(dir, "msp")},
		Channel:   "eidgate",
		Chaincode: "eidgate",
		Timeouts:  TimeoutsProfile{CommitStatus: 3 * time.Second},
	}
	raw, err := in.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "profile.yaml")
	writeFile(t, path, raw)
	out, err := LoadProfile(path)
	if err != nil {
		t.Fatalf("LoadProfile of marshalled profile: %v\n%s", err, raw)
	}
	out.dir = ""
	if out.Peer != in.Peer {
		t.Errorf("out.Peer = %v, want in.Peer; round trip changed the profile:\n in %+v\nout %+v", out.Peer, in, out)
	} else if out.MSP != in.MSP {
		t.Errorf("out.MSP = %v, want in.MSP; round trip changed the profile:\n in %+v\nout %+v", out.MSP, in, out)
	} else if out.Channel != in.Channel {
		t.Errorf("out.Channel = %v, want in.Channel; round trip changed the profile:\n in %+v\nout %+v", out.Channel, in, out)
	} else if out.Chaincode != in.Chaincode {
		t.Errorf("out.Chaincode = %v, want in.Chaincode; round trip changed the profile:\n in %+v\nout %+v", out.Chaincode, in, out)
	} else if out.Timeouts != in.Timeouts {
		t.Errorf("out.Timeouts = %v, want in.Timeouts; round trip changed the profile:\n in %+v\nout %+v", out.Timeouts, in, out)
	}
}
