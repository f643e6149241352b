package devnet

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/eidgate/eidgate/internal/devcrypto"
)

// The dev crypto material lives under <data dir>/crypto in the folder
// layout Fabric's cryptogen produces, one directory per organisation:
//
//	crypto/<org>/ca/{ca.pem,ca_sk}              enrollment CA
//	crypto/<org>/tlsca/{ca.pem,ca_sk}           TLS CA
//	crypto/<org>/users/<name>/msp/…             client identities
//	crypto/<org>/users/<name>/tls/{ca.crt,client.crt,client.key}
//	crypto/platform/peers/peer0/{msp,tls}/…     the devnet peer
//	crypto/platform/orderers/orderer0/msp/…     the devnet ordering node
//
// Every directory is written under a temporary name and renamed into
// place, so a crash never leaves half an organisation or identity behind.

// Platform organisation and its built-in identities.
const (
	PlatformOrg = "platform"
	AdminName   = "admin"
	AgentName   = "agent"
	// DepartmentSystemName is the identity created for every department
	// organisation: the department's own system.
	DepartmentSystemName = "system"

	peerName    = "peer0"
	ordererName = "orderer0"
	domainRoot  = "eidgate.local"
)

// Certificate attributes the eidgate chaincode reads.
const (
	AttrRole       = "eidgate.role"
	AttrDepartment = "eidgate.dept"
)

var nameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// Identity is a client identity issued by an organisation's CA.
type Identity struct {
	Org    string // organisation id, e.g. "platform" or a department id
	Name   string
	MSPID  string
	MSPDir string // signcerts/, keystore/, cacerts/, tlscacerts/, config.yaml
	// TLSCert and TLSKey are the client TLS certificate and key issued by
	// the organisation's TLS CA (for peers that require client certificates).
	TLSCert string
	TLSKey  string
}

// orgCrypto is an organisation's CAs.
type orgCrypto struct {
	id     string
	mspID  string
	domain string
	dir    string
	ca     *devcrypto.CA
	tlsCA  *devcrypto.CA
}

func (o *orgCrypto) material() orgMaterial {
	return orgMaterial{mspID: o.mspID, caPEM: o.ca.CertPEM(), tlsCAPEM: o.tlsCA.CertPEM()}
}

func orgDomain(id string) string { return id + "." + domainRoot }

// cryptoDir manages <data dir>/crypto.
type cryptoDir struct{ root string }

func (cd cryptoDir) orgDir(id string) string { return filepath.Join(cd.root, id) }

// removeTemporaries deletes directories left by an interrupted write.
func (cd cryptoDir) removeTemporaries() error {
	return filepath.WalkDir(cd.root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() && strings.Contains(d.Name(), ".tmp-") {
			if err := os.RemoveAll(path); err != nil {
				return err
			}
			return filepath.SkipDir
		}
		return nil
	})
}

// writeAtomically builds a directory with fill and renames it to dir.
func writeAtomically(dir string, fill func(tmp string) error) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	var suffix [6]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(dir), "."+filepath.Base(dir)+".tmp-"+hex.EncodeToString(suffix[:]))
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	if err := fill(tmp); err != nil {
		_ = os.RemoveAll(tmp)
		return err
	}
	if err := syncDir(tmp); err != nil {
		_ = os.RemoveAll(tmp)
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		_ = os.RemoveAll(tmp)
		return err
	}
	return syncDir(filepath.Dir(dir))
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// ensureOrg creates an organisation's CAs (and, via extra, its built-in
// identities) once, and loads them.
func (cd cryptoDir) ensureOrg(id, mspID string, extra func(tmp string, o *orgCrypto) error) (*orgCrypto, error) {
	dir := cd.orgDir(id)
	domain := orgDomain(id)
	if !exists(dir) {
		err := writeAtomically(dir, func(tmp string) error {
			ca, err := devcrypto.NewCA(mspID, domain)
			if err != nil {
				return err
			}
			tlsCA, err := devcrypto.NewCA(mspID, "tls."+domain)
			if err != nil {
				return err
			}
			if err := devcrypto.WriteCA(filepath.Join(tmp, "ca"), ca); err != nil {
				return err
			}
			if err := devcrypto.WriteCA(filepath.Join(tmp, "tlsca"), tlsCA); err != nil {
				return err
			}
			if extra == nil {
				return nil
			}
			return extra(tmp, &orgCrypto{id: id, mspID: mspID, domain: domain, dir: tmp, ca: ca, tlsCA: tlsCA})
		})
		if err != nil {
			return nil, fmt.Errorf("create crypto material of %s: %w", id, err)
		}
	}
	ca, err := devcrypto.LoadCA(filepath.Join(dir, "ca"), mspID, domain)
	if err != nil {
		return nil, fmt.Errorf("load CA of %s: %w", id, err)
	}
	tlsCA, err := devcrypto.LoadCA(filepath.Join(dir, "tlsca"), mspID, "tls."+domain)
	if err != nil {
		return nil, fmt.Errorf("load TLS CA of %s: %w", id, err)
	}
	if ca.Cert.Subject.CommonName != "ca."+domain {
		return nil, fmt.Errorf("crypto material of %s belongs to %s", id, ca.Cert.Subject.CommonName)
	}
	return &orgCrypto{id: id, mspID: mspID, domain: domain, dir: dir, ca: ca, tlsCA: tlsCA}, nil
}

// writeUser writes users/<name>/{msp,tls} of an organisation under base.
func writeUser(base string, o *orgCrypto, name, ou string, attrs map[string]string) error {
	id, err := o.ca.Issue(devcrypto.IssueOptions{CommonName: name + "@" + o.domain, OU: ou, Attrs: attrs})
	if err != nil {
		return err
	}
	if err := devcrypto.WriteMSP(filepath.Join(base, "msp"), o.ca, o.tlsCA, id); err != nil {
		return err
	}
	tlsID, err := o.tlsCA.Issue(devcrypto.IssueOptions{CommonName: name + "@" + o.domain, Client: true})
	if err != nil {
		return err
	}
	return writeTLSDir(filepath.Join(base, "tls"), o.tlsCA, tlsID, "client")
}

func writeTLSDir(dir string, tlsCA *devcrypto.CA, id *devcrypto.Identity, kind string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files := []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{"ca.crt", tlsCA.CertPEM(), 0o644},
		{kind + ".crt", id.CertPEM, 0o644},
		{kind + ".key", id.KeyPEM, 0o600},
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return err
		}
	}
	return nil
}

// writeNode writes the MSP folder of a peer or orderer node.
func writeNode(dir string, o *orgCrypto, name, ou string) error {
	id, err := o.ca.Issue(devcrypto.IssueOptions{CommonName: name + "." + o.domain, OU: ou})
	if err != nil {
		return err
	}
	return devcrypto.WriteMSP(filepath.Join(dir, "msp"), o.ca, o.tlsCA, id)
}

// peerTLSHosts are the names the peer's TLS certificate must cover.
func peerTLSHosts(o *orgCrypto, listen string) (dns []string, ips []net.IP) {
	dns = []string{"localhost", peerName + "." + o.domain}
	ips = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	if host, _, err := net.SplitHostPort(listen); err == nil && host != "" {
		if ip := net.ParseIP(host); ip != nil {
			if !ip.IsUnspecified() {
				ips = append(ips, ip)
			}
		} else {
			dns = append(dns, host)
		}
	}
	return dns, ips
}

// ensurePeerTLS issues the peer's TLS server certificate when it is
// missing or does not cover the listen address.
func ensurePeerTLS(o *orgCrypto, listen string) (certPath, keyPath string, err error) {
	dir := filepath.Join(o.dir, "peers", peerName, "tls")
	certPath, keyPath = filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	dns, ips := peerTLSHosts(o, listen)
	if raw, err := os.ReadFile(certPath); err == nil {
		if id, err := devcrypto.ParseIdentity(o.mspID, raw, mustRead(keyPath)); err == nil && covers(id, dns, ips) {
			return certPath, keyPath, nil
		}
	}
	id, err := o.tlsCA.Issue(devcrypto.IssueOptions{CommonName: peerName + "." + o.domain, Server: true, Client: true, DNSNames: dns, IPAddresses: ips})
	if err != nil {
		return "", "", err
	}
	err = writeAtomically(dir, func(tmp string) error { return writeTLSDir(tmp, o.tlsCA, id, "server") })
	if err != nil && exists(dir) {
		// Replace the outdated directory: move it aside first.
		old := dir + ".tmp-old"
		if err := os.Rename(dir, old); err != nil {
			return "", "", err
		}
		err = writeAtomically(dir, func(tmp string) error { return writeTLSDir(tmp, o.tlsCA, id, "server") })
		_ = os.RemoveAll(old)
	}
	if err != nil {
		return "", "", fmt.Errorf("peer TLS certificate: %w", err)
	}
	return certPath, keyPath, nil
}

func mustRead(path string) []byte {
	b, _ := os.ReadFile(path)
	return b
}

func covers(id *devcrypto.Identity, dns []string, ips []net.IP) bool {
	for _, h := range dns {
		if id.Cert.VerifyHostname(h) != nil {
			return false
		}
	}
	for _, ip := range ips {
		if id.Cert.VerifyHostname(ip.String()) != nil {
			return false
		}
	}
	return true
}

// userIdentity describes users/<name> of an organisation.
func userIdentity(o *orgCrypto, root, name string) *Identity {
	base := filepath.Join(root, o.id, "users", name)
	return &Identity{
		Org: o.id, Name: name, MSPID: o.mspID,
		MSPDir:  filepath.Join(base, "msp"),
		TLSCert: filepath.Join(base, "tls", "client.crt"),
		TLSKey:  filepath.Join(base, "tls", "client.key"),
	}
}

// issueUser creates users/<name> once; an existing identity is returned
// as it is.
func (cd cryptoDir) issueUser(o *orgCrypto, name, ou string, attrs map[string]string) (*Identity, error) {
	if !nameRe.MatchString(name) {
		return nil, fmt.Errorf("identity name %q: want lower-case letters, digits, '.', '_' or '-'", name)
	}
	dir := filepath.Join(cd.orgDir(o.id), "users", name)
	if !exists(dir) {
		if err := writeAtomically(dir, func(tmp string) error { return writeUser(tmp, o, name, ou, attrs) }); err != nil {
			return nil, fmt.Errorf("issue identity %s/%s: %w", o.id, name, err)
		}
	}
	return userIdentity(o, cd.root, name), nil
}

// users lists the identities of an organisation.
func (cd cryptoDir) users(orgID string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(cd.orgDir(orgID), "users"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}
