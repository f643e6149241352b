package keydir_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/credential/credentialtest"
	"github.com/eidgate/eidgate/credential/keydir"
	"github.com/eidgate/eidgate/internal/safefile"
	"github.com/eidgate/eidgate/routing"
)

func writeKey(t *testing.T, dir, dept string, key *ecdsa.PrivateKey, sec1 bool) {
	t.Helper()
	var block *pem.Block
	if sec1 {
		der, _ := x509.MarshalECPrivateKey(key)
		block = &pem.Block{Type: "EC PRIVATE KEY", Bytes: der}
	} else {
		der, _ := x509.MarshalPKCS8PrivateKey(key)
		block = &pem.Block{Type: "PRIVATE KEY", Bytes: der}
	}
	if err := safefile.WriteSecret(filepath.Join(dir, dept+".pem"), pem.EncodeToMemory(block)); err != nil {
		t.Fatal(err)
	}
}

func TestIssuerKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := credentialtest.NewLedger(t, time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	edu := l.RegisterDepartment("edu-bureau")
	hrss := l.RegisterDepartment("hrss")
	dir := t.TempDir()
	writeKey(t, dir, "edu-bureau", edu, false)
	writeKey(t, dir, "hrss", hrss, true)
	d, err := keydir.New(dir, l)
	if err != nil {
		t.Fatal(err)
	}
	for dept, want := range map[string]*ecdsa.PrivateKey{"edu-bureau": edu, "hrss": hrss} {
		kid, key, err := d.IssuerKey(ctx, dept)
		if err != nil || kid != dept+"-k1" || !key.Public().(*ecdsa.PublicKey).Equal(&want.PublicKey) {
			t.Fatalf("%s: %s %v", dept, kid, err)
		}
	}
	if _, _, err := d.IssuerKey(ctx, "civil-affairs"); routing.KindOf(err) != routing.KindNotFound {
		t.Fatalf("no file: %v", err)
	}
	if _, _, err := d.IssuerKey(ctx, "../etc"); routing.KindOf(err) != routing.KindInvalid {
		t.Fatalf("path: %v", err)
	}
	// A key that is not the department's active key on the ledger.
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	l.RegisterDepartment("civil-affairs")
	writeKey(t, dir, "civil-affairs", other, false)
	if _, _, err := d.IssuerKey(ctx, "civil-affairs"); routing.KindOf(err) != routing.KindNotFound {
		t.Fatalf("foreign key: %v", err)
	}
	// Retired on the ledger: no longer used.
	dep, _ := l.GetDepartment(ctx, "hrss")
	dep.SigningKeys[0].Status = model.KeyRetired
	l.UpdateDepartment(*dep)
	if _, _, err := d.IssuerKey(ctx, "hrss"); routing.KindOf(err) != routing.KindNotFound {
		t.Fatalf("retired key: %v", err)
	}
	// A key file others may read is refused.
	if err := os.Chmod(filepath.Join(dir, "edu-bureau.pem"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.IssuerKey(ctx, "edu-bureau"); routing.KindOf(err) != routing.KindInternal {
		t.Fatalf("world-readable key: %v", err)
	}
	if err := safefile.WriteSecret(filepath.Join(dir, "edu-bureau.pem"), []byte("junk")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.IssuerKey(ctx, "edu-bureau"); routing.KindOf(err) != routing.KindInternal || routing.MessageOf(err) != "the key file of department edu-bureau is not a P-256 private key" {
		t.Fatalf("junk: %v", err)
	}
}
