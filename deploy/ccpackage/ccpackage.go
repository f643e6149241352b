// Package ccpackage builds and reads chaincode-as-a-service (CCaaS) packages
// for Hyperledger Fabric 2.5 peers.
//
// A CCaaS package is what `peer lifecycle chaincode install` takes and what
// fabric-samples test-network/scripts/deployCCAAS.sh writes: a gzipped tar
// holding metadata.json ({"type":"ccaas","label":…}) and code.tar.gz, itself a
// gzipped tar holding connection.json. The peer hands the package to the
// ccaas_builder shipped with Fabric (builders/ccaas/bin), whose detect step
// accepts type "ccaas" in any case, whose build step treats every string field
// of connection.json as a Go template over CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG,
// and whose release step hands connection.json to the peer
// (core/container/externalbuilder/instance.go), which dials the address.
//
// Build is deterministic: the same Spec gives the same bytes, and so the same
// package ID (label + ":" + hex SHA-256 of the package file, as Fabric's
// core/chaincode/persistence computes it), which every organisation can then
// check independently before approving a chaincode definition.
package ccpackage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"time"
)

// File names inside the package, as Fabric's core/chaincode/persistence
// (MetadataFile, CodePackageFile) and the ccaas_builder expect them.
const (
	MetadataFile   = "metadata.json"
	CodeFile       = "code.tar.gz"
	ConnectionFile = "connection.json"
)

// Type is the metadata type the ccaas_builder's detect step claims.
const Type = "ccaas"

// DefaultDialTimeout is the dial timeout written when the Spec leaves it zero;
// deployCCAAS.sh writes the same "10s". (The peer itself falls back to 3s when
// the field is absent.)
const DefaultDialTimeout = 10 * time.Second

// Limits on what Read accepts, so a hostile package cannot exhaust memory or
// time when it is inspected: the size of one file, the decompressed size of
// one archive, and its number of entries. Real CCaaS packages are a few KB.
const (
	MaxFileSize    = 4 << 20
	maxArchiveSize = 2 * MaxFileSize
	maxEntries     = 16
)

// Errors returned by this package; match them with errors.Is.
var (
	ErrLabel   = errors.New("invalid package label")
	ErrAddress = errors.New("invalid chaincode address")
	ErrTimeout = errors.New("invalid dial timeout")
	ErrTLS     = errors.New("invalid TLS material")
	ErrPackage = errors.New("malformed chaincode package")
)

// labelPattern is Fabric 2.5's persistence.LabelRegexp. Go's [[:alnum:]] is
// ASCII only, as in the peer.
var labelPattern = regexp.MustCompile(`^[[:alnum:]][[:alnum:]_.+-]*$`)

// ValidateLabel reports whether label is a package label the peer accepts.
func ValidateLabel(label string) error {
	if !labelPattern.MatchString(label) {
		return fmt.Errorf("%w %q: it must start with a letter or digit and hold only letters, digits and . + - _", ErrLabel, label)
	}
	return nil
}

// Metadata is metadata.json.
type Metadata struct {
	Type  string `json:"type"`
	Label string `json:"label"`
}

// Connection is connection.json with the field names of the ccaas_builder's
// build step and of the peer's ChaincodeServerUserData. The TLS fields hold
// PEM text, not file paths.
type Connection struct {
	Address            string `json:"address"`
	DialTimeout        string `json:"dial_timeout"`
	TLSRequired        bool   `json:"tls_required"`
	ClientAuthRequired bool   `json:"client_auth_required"`
	ClientKey          string `json:"client_key"`
	ClientCert         string `json:"client_cert"`
	RootCert           string `json:"root_cert"`
}

// TLS is the material the peer needs to reach a chaincode server over TLS.
type TLS struct {
	// RootCert is the PEM certificate of the CA that issued the chaincode
	// server's TLS certificate (CHAINCODE_TLS_CERT on the chaincode side).
	RootCert []byte
	// ClientCert and ClientKey are the PEM certificate and key the peer
	// presents when the chaincode server requires client authentication
	// (CHAINCODE_CLIENT_CA_CERT on the chaincode side must trust its issuer).
	// Both or neither; both means client_auth_required.
	ClientCert []byte
	ClientKey  []byte
}

// Spec describes the package to build.
type Spec struct {
	// Label names the package on the peer, e.g. "eidgate_1.2.0".
	Label string
	// Address is HOST:PORT of the chaincode server as the peer dials it. The
	// ccaas_builder treats it as a Go template over
	// CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG, so "{{.peername}}_eidgate:9999"
	// is allowed.
	Address string
	// DialTimeout is how long the peer waits to connect; zero means
	// DefaultDialTimeout.
	DialTimeout time.Duration
	// TLS, when set, makes the peer dial with TLS.
	TLS *TLS
}

// Connection validates s and returns the connection.json it describes.
func (s Spec) Connection() (Connection, error) {
	if err := validateAddress(s.Address); err != nil {
		return Connection{}, err
	}
	timeout := s.DialTimeout
	if timeout == 0 {
		timeout = DefaultDialTimeout
	}
	if timeout < 0 {
		return Connection{}, fmt.Errorf("%w %s: must be positive", ErrTimeout, timeout)
	}
	c := Connection{Address: s.Address, DialTimeout: timeout.String()}
	if s.TLS == nil {
		return c, nil
	}
	if err := s.TLS.validate(); err != nil {
		return Connection{}, err
	}
	c.TLSRequired = true
	c.RootCert = string(s.TLS.RootCert)
	if len(s.TLS.ClientCert) > 0 {
		c.ClientAuthRequired = true
		c.ClientCert = string(s.TLS.ClientCert)
		c.ClientKey = string(s.TLS.ClientKey)
	}
	return c, nil
}

func validateAddress(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%w %q: want HOST:PORT (%v)", ErrAddress, addr, err)
	}
	if host == "" {
		return fmt.Errorf("%w %q: the host is empty", ErrAddress, addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%w %q: the port must be a number from 1 to 65535", ErrAddress, addr)
	}
	// The ccaas_builder parses every string field as a text/template with
	// missingkey=error; a malformed template would only fail at install time.
	if strings.Contains(addr, "{{") {
		if _, err := template.New("address").Option("missingkey=error").Parse(addr); err != nil {
			return fmt.Errorf("%w %q: not a valid builder template: %v", ErrAddress, addr, err)
		}
	}
	return nil
}

func (t *TLS) validate() error {
	if len(t.RootCert) == 0 {
		return fmt.Errorf("%w: the root certificate is required when TLS is on", ErrTLS)
	}
	if err := checkCertificatesPEM("root certificate", t.RootCert); err != nil {
		return err
	}
	// Template syntax in PEM would break the builder; PEM never holds it,
	// but a wrong file might.
	for name, v := range map[string][]byte{"root certificate": t.RootCert, "client certificate": t.ClientCert, "client key": t.ClientKey} {
		if bytes.Contains(v, []byte("{{")) {
			return fmt.Errorf("%w: the %s contains \"{{\", which the ccaas_builder would read as a template", ErrTLS, name)
		}
	}
	if (len(t.ClientCert) == 0) != (len(t.ClientKey) == 0) {
		return fmt.Errorf("%w: the client certificate and client key must be given together", ErrTLS)
	}
	if len(t.ClientCert) == 0 {
		return nil
	}
	if err := checkCertificatesPEM("client certificate", t.ClientCert); err != nil {
		return err
	}
	if _, err := tls.X509KeyPair(t.ClientCert, t.ClientKey); err != nil {
		return fmt.Errorf("%w: client certificate and key: %v", ErrTLS, err)
	}
	return nil
}

func checkCertificatesPEM(what string, data []byte) error {
	rest := data
	n := 0
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return fmt.Errorf("%w: the %s holds a PEM block of type %q, want CERTIFICATE", ErrTLS, what, block.Type)
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return fmt.Errorf("%w: the %s: %v", ErrTLS, what, err)
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("%w: the %s is not a PEM certificate", ErrTLS, what)
	}
	return nil
}

// Build validates spec and returns the package file's bytes.
func Build(spec Spec) ([]byte, error) {
	if err := ValidateLabel(spec.Label); err != nil {
		return nil, err
	}
	conn, err := spec.Connection()
	if err != nil {
		return nil, err
	}
	connJSON, err := marshalJSON(conn)
	if err != nil {
		return nil, err
	}
	code, err := tarGz([]file{{ConnectionFile, connJSON}})
	if err != nil {
		return nil, err
	}
	metaJSON, err := marshalJSON(Metadata{Type: Type, Label: spec.Label})
	if err != nil {
		return nil, err
	}
	// metadata.json first, then code.tar.gz: the order deployCCAAS.sh and
	// `peer lifecycle chaincode package` use.
	return tarGz([]file{{MetadataFile, metaJSON}, {CodeFile, code}})
}

// PackageID is the ID the peer gives the installed package:
// label + ":" + hex SHA-256 of the package file.
func PackageID(label string, pkg []byte) string {
	sum := sha256.Sum256(pkg)
	return label + ":" + hex.EncodeToString(sum[:])
}

func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

type file struct {
	name string
	data []byte
}

// epoch is the fixed modification time of every entry; a zero time would be
// written as the epoch too, but saying so keeps the intent visible.
var epoch = time.Unix(0, 0).UTC()

// tarGz writes files, in order, as a gzipped USTAR archive with fixed
// metadata: mode 0644, uid/gid 0, no owner names, mtime at the epoch, and a
// gzip header without name or mtime. Nothing of the building machine leaks
// into the bytes.
func tarGz(files []file) ([]byte, error) {
	var buf bytes.Buffer
	gz, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	gz.Header = gzip.Header{OS: 255} // unknown OS, no name, no mtime
	tw := tar.NewWriter(gz)
	for _, f := range files {
		hdr := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     f.name,
			Size:     int64(len(f.data)),
			Mode:     0o100644, // regular file, rw-r--r--, as `peer lifecycle chaincode package` writes it
			ModTime:  epoch,
			Format:   tar.FormatUSTAR,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("tar header %s: %w", f.name, err)
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, fmt.Errorf("tar %s: %w", f.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Package is a package read back by Read.
type Package struct {
	ID         string
	Metadata   Metadata
	Connection Connection
}

// Read parses a CCaaS package the way the peer and the ccaas_builder would
// and checks it: only regular files, metadata.json and code.tar.gz present, a
// valid label, type "ccaas" (any case), and a connection.json the peer can
// use (an address, a parseable dial timeout, PEM text when TLS is on).
func Read(pkg []byte) (*Package, error) {
	files, err := readTarGz(pkg, "package", false)
	if err != nil {
		return nil, err
	}
	metaJSON, ok := files[MetadataFile]
	if !ok {
		return nil, fmt.Errorf("%w: no %s", ErrPackage, MetadataFile)
	}
	code, ok := files[CodeFile]
	if !ok {
		return nil, fmt.Errorf("%w: no %s", ErrPackage, CodeFile)
	}
	var meta Metadata
	if err := json.Unmarshal(metaJSON, &meta); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrPackage, MetadataFile, err)
	}
	if err := ValidateLabel(meta.Label); err != nil {
		return nil, err
	}
	if !strings.EqualFold(meta.Type, Type) {
		return nil, fmt.Errorf("%w: type %q, the ccaas_builder only claims %q", ErrPackage, meta.Type, Type)
	}
	codeFiles, err := readTarGz(code, CodeFile, true)
	if err != nil {
		return nil, err
	}
	connJSON, ok := codeFiles[ConnectionFile]
	if !ok {
		return nil, fmt.Errorf("%w: %s holds no %s", ErrPackage, CodeFile, ConnectionFile)
	}
	var conn Connection
	if err := json.Unmarshal(connJSON, &conn); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrPackage, ConnectionFile, err)
	}
	if conn.Address == "" {
		return nil, fmt.Errorf("%w: %s has no address", ErrPackage, ConnectionFile)
	}
	if conn.DialTimeout != "" {
		if _, err := time.ParseDuration(conn.DialTimeout); err != nil {
			return nil, fmt.Errorf("%w: %s dial_timeout %q: %v", ErrPackage, ConnectionFile, conn.DialTimeout, err)
		}
	}
	if conn.TLSRequired {
		if conn.RootCert == "" {
			return nil, fmt.Errorf("%w: %s requires TLS but has no root_cert", ErrPackage, ConnectionFile)
		}
		if conn.ClientAuthRequired && (conn.ClientCert == "" || conn.ClientKey == "") {
			return nil, fmt.Errorf("%w: %s requires client auth but lacks client_cert or client_key", ErrPackage, ConnectionFile)
		}
	}
	return &Package{ID: PackageID(meta.Label, pkg), Metadata: meta, Connection: conn}, nil
}

// readTarGz returns the regular files of a gzipped tar by name. Like the
// peer's package parser it rejects any entry that is not a regular file. For
// code.tar.gz (rootDir true) the "./" entry that `tar -C dir -czf … .` writes
// is skipped, since the peer's Untar accepts it, and a leading "./" is dropped
// from names.
func readTarGz(data []byte, what string, rootDir bool) (map[string][]byte, error) {
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not gzip: %v", ErrPackage, what, err)
	}
	defer gz.Close()
	tr := tar.NewReader(io.LimitReader(gz, maxArchiveSize))
	files := map[string][]byte{}
	for entries := 0; ; entries++ {
		if entries == maxEntries {
			return nil, fmt.Errorf("%w: %s has more than %d entries", ErrPackage, what, maxEntries)
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrPackage, what, err)
		}
		name := hdr.Name
		if rootDir {
			name = strings.TrimPrefix(name, "./")
			if hdr.Typeflag == tar.TypeDir && (name == "" || name == ".") {
				continue
			}
		}
		if hdr.Typeflag != tar.TypeReg {
			return nil, fmt.Errorf("%w: %s entry %q is not a regular file", ErrPackage, what, hdr.Name)
		}
		if hdr.Size > MaxFileSize {
			return nil, fmt.Errorf("%w: %s entry %q is larger than %d bytes", ErrPackage, what, hdr.Name, MaxFileSize)
		}
		if _, dup := files[name]; dup {
			return nil, fmt.Errorf("%w: %s holds %q twice", ErrPackage, what, name)
		}
		b, err := io.ReadAll(io.LimitReader(tr, MaxFileSize+1))
		if err != nil {
			return nil, fmt.Errorf("%w: %s entry %q: %v", ErrPackage, what, hdr.Name, err)
		}
		files[name] = b
	}
	return files, nil
}
