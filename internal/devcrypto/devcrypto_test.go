package devcrypto

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
)

func TestIssueWriteLoad(t *testing.T) {
	ca, err := NewCA("EduMSP", "edu.example")
	if err != nil {
		t.Fatal(err)
	}
	id, err := ca.Issue(IssueOptions{CommonName: "edu-system", OU: OUClient, Attrs: map[string]string{"eidgate.role": "department", "eidgate.dept": "edu"}})
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	if _, err := id.Cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Fatalf("issued certificate does not chain to its CA: %v", err)
	}
	attrs, err := Attributes(id.Cert)
	if err != nil || attrs["eidgate.role"] != "department" || attrs["eidgate.dept"] != "edu" {
		t.Fatalf("attributes %v %v", attrs, err)
	}

	dir := t.TempDir()
	msp := filepath.Join(dir, "msp")
	if err := WriteMSP(msp, ca, ca, id); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"cacerts/ca.pem", "signcerts/cert.pem", "keystore/priv_sk", "tlscacerts/tlsca.pem", "config.yaml"} {
		if _, err := os.Stat(filepath.Join(msp, f)); err != nil {
			t.Errorf("MSP folder misses %s", f)
		}
	}
	if st, _ := os.Stat(filepath.Join(msp, "keystore/priv_sk")); st.Mode().Perm() != 0o600 {
		t.Errorf("private key mode %v", st.Mode().Perm())
	}
	back, err := LoadIdentity(msp, "EduMSP")
	if err != nil || !back.Key.Equal(id.Key) || !back.Cert.Equal(id.Cert) {
		t.Fatalf("load identity: %v", err)
	}

	if err := WriteCA(filepath.Join(dir, "ca"), ca); err != nil {
		t.Fatal(err)
	}
	ca2, err := LoadCA(filepath.Join(dir, "ca"), "EduMSP", "edu.example")
	if err != nil || !ca2.Key.Equal(ca.Key) {
		t.Fatalf("load CA: %v", err)
	}
	if _, err := ca2.Issue(IssueOptions{CommonName: "again"}); err != nil {
		t.Fatal(err)
	}
}

func TestNoAttributes(t *testing.T) {
	ca, _ := NewCA("M", "m.example")
	id, _ := ca.Issue(IssueOptions{CommonName: "peer0", OU: OUPeer})
	if attrs, err := Attributes(id.Cert); err != nil || attrs != nil {
		t.Fatalf("attrs %v %v", attrs, err)
	}
}
