package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eidgate/eidgate/deploy/ccpackage"
)

// ccTestdata is the TLS material the ccpackage tests use.
func ccTestdata(name string) string {
	return filepath.Join("..", "..", "deploy", "ccpackage", "testdata", name)
}

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestChaincodePackageCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.tar.gz"), filepath.Join(dir, "b.tar.gz")
	args := []string{"chaincode", "package", "--address", "127.0.0.1:9999", "--label", "eidgate_1.0.0"}
	code, out, errOut := runCLI(t, append(args, "-o", a)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	pkg, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ccpackage.Read(pkg)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out) != p.ID || !strings.HasPrefix(p.ID, "eidgate_1.0.0:") {
		t.Errorf("printed %q, package ID %q", out, p.ID)
	}
	if p.Metadata.Type != "ccaas" {
		t.Errorf("p.Metadata.Type = %q, want \"ccaas\"; package %+v", p.Metadata.Type, p)
	} else if p.Connection.Address != "127.0.0.1:9999" {
		t.Errorf("p.Connection.Address = %q, want \"127.0.0.1:9999\"; package %+v", p.Connection.Address, p)
	} else if p.Connection.DialTimeout != "10s" {
		t.Errorf("p.Connection.DialTimeout = %q, want \"10s\"; package %+v", p.Connection.DialTimeout, p)
	} else if p.Connection.TLSRequired {
		t.Errorf("p.Connection.TLSRequired is true; package %+v", p)
	}
	if fi, _ := os.Stat(a); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", fi.Mode())
	}

	// Same flags, another file: same bytes and ID.
	if code, out2, errOut := runCLI(t, append(args, "--output", b)...); code != 0 || out2 != out {
		t.Fatalf("second run: exit %d, printed %q (first %q): %s", code, out2, out, errOut)
	}
	pkg2, _ := os.ReadFile(b)
	if !bytes.Equal(pkg, pkg2) {
		t.Error("the same flags gave different package bytes")
	}
}

func TestChaincodePackageCommandMutualTLS(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "eidgate.tar.gz")
	code, stdout, errOut := runCLI(t, "chaincode", "package",
		"--address", "eidgate-chaincode:9999", "--label", "eidgate_2", "-o", out, "--dial-timeout", "20s",
		"--tls", "--root-cert", ccTestdata("ca.pem"),
		"--client-auth", "--client-cert", ccTestdata("client.pem"), "--client-key", ccTestdata("client.key"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	pkg, _ := os.ReadFile(out)
	p, err := ccpackage.Read(pkg)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := os.ReadFile(ccTestdata("ca.pem"))
	key, _ := os.ReadFile(ccTestdata("client.key"))
	c := p.Connection
	if !c.TLSRequired {
		t.Errorf("c.TLSRequired is false; connection %+v", c)
	} else if !c.ClientAuthRequired {
		t.Errorf("c.ClientAuthRequired is false; connection %+v", c)
	} else if c.RootCert != string(ca) {
		t.Errorf("c.RootCert = %v, want string(ca); connection %+v", c.RootCert, c)
	} else if c.ClientKey != string(key) {
		t.Errorf("c.ClientKey = %v, want string(key); connection %+v", c.ClientKey, c)
	} else if c.DialTimeout != "20s" {
		t.Errorf("c.DialTimeout = %q, want \"20s\"; connection %+v", c.DialTimeout, c)
	}
	if fi, _ := os.Stat(out); fi.Mode().Perm() != 0o600 {
		t.Errorf("a package holding a private key has mode %v, want 0600", fi.Mode().Perm())
	}
	if strings.TrimSpace(stdout) != p.ID {
		t.Errorf("printed %q, want %q", stdout, p.ID)
	}

	// inspect prints the ID and never the key.
	code, stdout, errOut = runCLI(t, "chaincode", "inspect", out)
	if code != 0 {
		t.Fatalf("inspect exit %d: %s", code, errOut)
	}
	var got struct {
		PackageID  string               `json:"package_id"`
		Connection ccpackage.Connection `json:"connection"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("inspect output %q: %v", stdout, err)
	}
	if got.PackageID != p.ID || got.Connection.ClientKey != "(redacted)" || strings.Contains(stdout, "PRIVATE KEY") {
		t.Errorf("inspect printed %s", stdout)
	}
}

func TestChaincodePackageCommandUsage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := filepath.Join(dir, "p.tar.gz")
	base := []string{"chaincode", "package", "--address", "cc:9999", "--label", "eidgate_1", "-o", out}
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no address", []string{"chaincode", "package", "--label", "x", "-o", out}, 2, "--address"},
		{"no output", []string{"chaincode", "package", "--address", "cc:1", "--label", "x"}, 2, "--output"},
		{"bad label", []string{"chaincode", "package", "--address", "cc:1", "--label", "-x", "-o", out}, 2, "invalid package label"},
		{"bad address", []string{"chaincode", "package", "--address", "cc", "--label", "x", "-o", out}, 2, "invalid chaincode address"},
		{"zero timeout", append(base, "--dial-timeout", "0s"), 2, "--dial-timeout"},
		{"root cert without tls", append(base, "--root-cert", ccTestdata("ca.pem")), 2, "need --tls"},
		{"tls without root", append(base, "--tls"), 2, "--root-cert"},
		{"client auth without files", append(base, "--tls", "--root-cert", ccTestdata("ca.pem"), "--client-auth"), 2, "--client-cert"},
		{"client files without client auth", append(base, "--tls", "--root-cert", ccTestdata("ca.pem"), "--client-cert", ccTestdata("client.pem")), 2, "need --client-auth"},
		{"missing root file", append(base, "--tls", "--root-cert", filepath.Join(dir, "nope.pem")), 2, "does not exist"},
		{"root not PEM", append(base, "--tls", "--root-cert", ccTestdata("client.key")), 2, "invalid TLS material"},
		{"unwritable output", []string{"chaincode", "package", "--address", "cc:1", "--label", "x", "-o", filepath.Join(dir, "no", "dir", "p.tar.gz")}, 1, "chaincode package"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, errOut := runCLI(t, tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.msg) {
				t.Fatalf("exit %d, stderr %q; want exit %d mentioning %q", code, errOut, tc.code, tc.msg)
			}
			if stdout != "" {
				t.Errorf("printed %q on failure", stdout)
			}
		})
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a failed run left a package behind")
	}
}

func TestChaincodeInspectRejectsBadPackage(t *testing.T) {
	t.Parallel()
	bad := filepath.Join(t.TempDir(), "bad.tar.gz")
	if err := os.WriteFile(bad, []byte("not a package"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCLI(t, "chaincode", "inspect", bad); code != 1 || !strings.Contains(errOut, "malformed chaincode package") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}
