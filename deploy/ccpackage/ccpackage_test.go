package ccpackage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type entry struct {
	hdr  tar.Header
	data []byte
}

// untar returns the entries of a gzipped tar in order, with the gzip header.
func untar(t testing.TB, data []byte) (gzip.Header, []entry) {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var out []entry
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, entry{*hdr, b})
	}
	return gz.Header, out
}

func names(es []entry) []string {
	var n []string
	for _, e := range es {
		n = append(n, e.hdr.Name)
	}
	return n
}

func jsonKeys(t testing.TB, raw []byte) []string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func TestBuildPlainLayout(t *testing.T) {
	pkg, err := Build(Spec{Label: "eidgate_1.0.0", Address: "127.0.0.1:9999"})
	if err != nil {
		t.Fatal(err)
	}
	gzHdr, outer := untar(t, pkg)
	if gzHdr.Name != "" {
		t.Errorf("gzHdr.Name = %q, want \"\"; gzip header carries build facts: %+v", gzHdr.Name, gzHdr)
	} else if !gzHdr.ModTime.IsZero() {
		t.Errorf("gzHdr.ModTime.IsZero() is false; gzip header carries build facts: %+v", gzHdr)
	} else if gzHdr.Comment != "" {
		t.Errorf("gzHdr.Comment = %q, want \"\"; gzip header carries build facts: %+v", gzHdr.Comment, gzHdr)
	}
	if got, want := names(outer), []string{"metadata.json", "code.tar.gz"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("package entries %v, want %v", got, want)
	}
	for _, e := range outer {
		checkHeader(t, e.hdr)
	}
	var meta map[string]string
	if err := json.Unmarshal(outer[0].data, &meta); err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"type": "ccaas", "label": "eidgate_1.0.0"}; !reflect.DeepEqual(meta, want) {
		t.Errorf("metadata.json = %v, want %v", meta, want)
	}

	_, inner := untar(t, outer[1].data)
	if got := names(inner); !reflect.DeepEqual(got, []string{"connection.json"}) {
		t.Fatalf("code.tar.gz entries %v", got)
	}
	checkHeader(t, inner[0].hdr)
	wantKeys := []string{"address", "client_auth_required", "client_cert", "client_key", "dial_timeout", "root_cert", "tls_required"}
	if got := jsonKeys(t, inner[0].data); !reflect.DeepEqual(got, wantKeys) {
		t.Errorf("connection.json keys %v, want %v", got, wantKeys)
	}
	if want := readTestdata(t, "connection-plain.golden.json"); !bytes.Equal(inner[0].data, want) {
		t.Errorf("connection.json =\n%s\nwant\n%s", inner[0].data, want)
	}
}

func checkHeader(t *testing.T, h tar.Header) {
	t.Helper()
	if h.Typeflag != tar.TypeReg {
		t.Errorf("%s: type %c, want regular file", h.Name, h.Typeflag)
	}
	if h.Mode != 0o100644 || h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
		t.Errorf("%s: mode %o uid %d gid %d uname %q gname %q", h.Name, h.Mode, h.Uid, h.Gid, h.Uname, h.Gname)
	}
	if !h.ModTime.Equal(time.Unix(0, 0)) {
		t.Errorf("%s: mtime %v, want the epoch", h.Name, h.ModTime)
	}
}

func TestBuildTLS(t *testing.T) {
	ca := readTestdata(t, "ca.pem")
	cert := readTestdata(t, "client.pem")
	key := readTestdata(t, "client.key")
	for _, tc := range []struct {
		name       string
		tls        TLS
		clientAuth bool
	}{
		{"server TLS only", TLS{RootCert: ca}, false},
		{"mutual TLS", TLS{RootCert: ca, ClientCert: cert, ClientKey: key}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tlsCfg := tc.tls
			pkg, err := Build(Spec{Label: "eidgate_1.0.0", Address: "eidgate-chaincode.platform.svc:9999", DialTimeout: 15 * time.Second, TLS: &tlsCfg})
			if err != nil {
				t.Fatal(err)
			}
			p, err := Read(pkg)
			if err != nil {
				t.Fatal(err)
			}
			c := p.Connection
			if !c.TLSRequired {
				t.Errorf("c.TLSRequired is false; connection %+v", c)
			} else if c.ClientAuthRequired != tc.clientAuth {
				t.Errorf("c.ClientAuthRequired = %v, want tc.clientAuth; connection %+v", c.ClientAuthRequired, c)
			} else if c.DialTimeout != "15s" {
				t.Errorf("c.DialTimeout = %q, want \"15s\"; connection %+v", c.DialTimeout, c)
			}
			if c.RootCert != string(ca) {
				t.Errorf("root_cert is not the CA's PEM text: %q", c.RootCert)
			}
			if !strings.HasPrefix(c.RootCert, "-----BEGIN CERTIFICATE-----") {
				t.Errorf("root_cert does not hold PEM text")
			}
			if tc.clientAuth {
				if c.ClientCert != string(cert) || c.ClientKey != string(key) {
					t.Errorf("client cert/key are not the PEM text given")
				}
			} else if c.ClientCert != "" || c.ClientKey != "" {
				t.Errorf("client cert/key set without client auth")
			}
		})
	}
}

func TestBuildIsDeterministic(t *testing.T) {
	spec := Spec{Label: "eidgate_2.1.0", Address: "{{.peername}}_eidgate:9999", TLS: &TLS{RootCert: readTestdata(t, "ca.pem")}}
	a, err := Build(spec)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Build(spec)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("two builds of the same spec differ")
	}
	sum := sha256.Sum256(a)
	if got, want := PackageID(spec.Label, a), "eidgate_2.1.0:"+hex.EncodeToString(sum[:]); got != want {
		t.Errorf("PackageID = %s, want %s", got, want)
	}
	p, err := Read(a)
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != PackageID(spec.Label, a) {
		t.Errorf("Read ID %s", p.ID)
	}
	for _, other := range []Spec{
		{Label: "eidgate_2.1.1", Address: spec.Address, TLS: spec.TLS},
		{Label: spec.Label, Address: "{{.peername}}_eidgate:9998", TLS: spec.TLS},
		{Label: spec.Label, Address: spec.Address},
		{Label: spec.Label, Address: spec.Address, TLS: spec.TLS, DialTimeout: time.Second},
	} {
		c, err := Build(other)
		if err != nil {
			t.Fatal(err)
		}
		if PackageID(other.Label, c) == p.ID {
			t.Errorf("%+v gives the same package ID as %+v", other, spec)
		}
	}
}

func TestValidateLabel(t *testing.T) {
	for _, tc := range []struct {
		label string
		ok    bool
	}{
		{"eidgate", true},
		{"eidgate_1.0.0", true},
		{"E1+build.7-rc_2", true},
		{"0", true},
		{"", false},
		{"_eidgate", false},
		{".eidgate", false},
		{"-eidgate", false},
		{"+eidgate", false},
		{"eid gate", false},
		{"eidgate:1", false},
		{"eidgate/1", false},
		{"éidgate", false},
		{"eidgate\n", false},
	} {
		err := ValidateLabel(tc.label)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateLabel(%q) = %v, want ok=%v", tc.label, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrLabel) {
			t.Errorf("ValidateLabel(%q) error %v is not ErrLabel", tc.label, err)
		}
		if _, err := Build(Spec{Label: tc.label, Address: "127.0.0.1:9999"}); (err == nil) != tc.ok {
			t.Errorf("Build with label %q: %v, want ok=%v", tc.label, err, tc.ok)
		}
	}
}

func TestBuildRejects(t *testing.T) {
	ca := readTestdata(t, "ca.pem")
	cert := readTestdata(t, "client.pem")
	key := readTestdata(t, "client.key")
	other := readTestdata(t, "other.key")
	for _, tc := range []struct {
		name string
		spec Spec
		want error
	}{
		{"empty address", Spec{Address: ""}, ErrAddress},
		{"no port", Spec{Address: "chaincode"}, ErrAddress},
		{"empty host", Spec{Address: ":9999"}, ErrAddress},
		{"port zero", Spec{Address: "chaincode:0"}, ErrAddress},
		{"port too big", Spec{Address: "chaincode:70000"}, ErrAddress},
		{"named port", Spec{Address: "chaincode:grpc"}, ErrAddress},
		{"broken template", Spec{Address: "{{.peername_eidgate:9999"}, ErrAddress},
		{"negative timeout", Spec{Address: "chaincode:9999", DialTimeout: -time.Second}, ErrTimeout},
		{"TLS without root", Spec{Address: "chaincode:9999", TLS: &TLS{}}, ErrTLS},
		{"root not PEM", Spec{Address: "chaincode:9999", TLS: &TLS{RootCert: []byte("not a cert")}}, ErrTLS},
		{"root is a key", Spec{Address: "chaincode:9999", TLS: &TLS{RootCert: key}}, ErrTLS},
		{"cert without key", Spec{Address: "chaincode:9999", TLS: &TLS{RootCert: ca, ClientCert: cert}}, ErrTLS},
		{"key without cert", Spec{Address: "chaincode:9999", TLS: &TLS{RootCert: ca, ClientKey: key}}, ErrTLS},
		{"key does not match", Spec{Address: "chaincode:9999", TLS: &TLS{RootCert: ca, ClientCert: cert, ClientKey: other}}, ErrTLS},
		{"template braces in PEM", Spec{Address: "chaincode:9999", TLS: &TLS{RootCert: append(append([]byte{}, ca...), "{{x}}"...)}}, ErrTLS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.spec.Label = "eidgate_1"
			_, err := Build(tc.spec)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Build error %v, want %v", err, tc.want)
			}
		})
	}
}

// tarGzEntries writes a package the way shell tools do, for Read tests.
func tarGzEntries(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		h := e.hdr
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		h.Size = int64(len(e.data))
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func regular(name, data string) entry { return entry{tar.Header{Name: name}, []byte(data)} }

// TestReadShellBuiltPackage reads a package laid out as deployCCAAS.sh builds
// it with tar: code.tar.gz holds "./" and "./connection.json".
func TestReadShellBuiltPackage(t *testing.T) {
	code := tarGzEntries(t,
		entry{tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755}, nil},
		regular("./connection.json", `{"address":"peer0org1_basic_ccaas:9999","dial_timeout":"10s","tls_required":false}`),
	)
	pkg := tarGzEntries(t,
		regular("metadata.json", `{"type":"CCaaS","label":"basic_1.0"}`),
		entry{tar.Header{Name: "code.tar.gz"}, code},
	)
	p, err := Read(pkg)
	if err != nil {
		t.Fatal(err)
	}
	if p.Metadata.Label != "basic_1.0" {
		t.Errorf("p.Metadata.Label = %q, want \"basic_1.0\"; read %+v", p.Metadata.Label, p)
	} else if p.Connection.Address != "peer0org1_basic_ccaas:9999" {
		t.Errorf("p.Connection.Address = %q, want \"peer0org1_basic_ccaas:9999\"; read %+v", p.Connection.Address, p)
	} else if p.Connection.TLSRequired {
		t.Errorf("p.Connection.TLSRequired is true; read %+v", p)
	}
	if !strings.HasPrefix(p.ID, "basic_1.0:") || len(p.ID) != len("basic_1.0:")+64 {
		t.Errorf("ID %s", p.ID)
	}
}

func TestReadRejects(t *testing.T) {
	goodCode := tarGzEntries(t, regular("connection.json", `{"address":"cc:9999","dial_timeout":"10s"}`))
	meta := regular("metadata.json", `{"type":"ccaas","label":"eidgate_1"}`)
	code := func(b []byte) entry { return entry{tar.Header{Name: "code.tar.gz"}, b} }
	conn := func(s string) entry { return code(tarGzEntries(t, regular("connection.json", s))) }
	var many []entry
	for i := 0; i < maxEntries+1; i++ {
		many = append(many, regular(strings.Repeat("x", i+1), "{}"))
	}
	for _, tc := range []struct {
		name string
		pkg  []byte
		want error
	}{
		{"not gzip", []byte("plain text"), ErrPackage},
		{"too many entries", tarGzEntries(t, append([]entry{meta, code(goodCode)}, many...)...), ErrPackage},
		{"oversized entry", tarGzEntries(t, meta, code(goodCode), regular("big", strings.Repeat("a", MaxFileSize+1))), ErrPackage},
		{"no metadata", tarGzEntries(t, code(goodCode)), ErrPackage},
		{"no code", tarGzEntries(t, meta), ErrPackage},
		{"metadata not JSON", tarGzEntries(t, regular("metadata.json", "{"), code(goodCode)), ErrPackage},
		{"bad label", tarGzEntries(t, regular("metadata.json", `{"type":"ccaas","label":"_x"}`), code(goodCode)), ErrLabel},
		{"golang type", tarGzEntries(t, regular("metadata.json", `{"type":"golang","label":"x"}`), code(goodCode)), ErrPackage},
		{"directory in outer tar", tarGzEntries(t, entry{tar.Header{Name: "./", Typeflag: tar.TypeDir}, nil}, meta, code(goodCode)), ErrPackage},
		{"symlink", tarGzEntries(t, meta, code(goodCode), entry{tar.Header{Name: "x", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}, nil}), ErrPackage},
		{"code not gzip", tarGzEntries(t, meta, code([]byte("x"))), ErrPackage},
		{"no connection.json", tarGzEntries(t, meta, code(tarGzEntries(t, regular("other.json", "{}")))), ErrPackage},
		{"no address", tarGzEntries(t, meta, conn(`{"dial_timeout":"10s"}`)), ErrPackage},
		{"bad dial timeout", tarGzEntries(t, meta, conn(`{"address":"cc:1","dial_timeout":"soon"}`)), ErrPackage},
		{"TLS without root", tarGzEntries(t, meta, conn(`{"address":"cc:1","tls_required":true}`)), ErrPackage},
		{"client auth without key", tarGzEntries(t, meta, conn(`{"address":"cc:1","tls_required":true,"root_cert":"x","client_auth_required":true,"client_cert":"y"}`)), ErrPackage},
		{"duplicate metadata", tarGzEntries(t, meta, meta, code(goodCode)), ErrPackage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read(tc.pkg)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Read error %v, want %v", err, tc.want)
			}
		})
	}
}

func FuzzRead(f *testing.F) {
	pkg, err := Build(Spec{Label: "eidgate_1", Address: "127.0.0.1:9999"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(pkg)
	f.Add([]byte{})
	f.Add([]byte{0x1f, 0x8b})
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Read(data)
		if err != nil {
			return
		}
		if err := ValidateLabel(p.Metadata.Label); err != nil {
			t.Fatalf("accepted an invalid label: %v", err)
		}
		if p.ID != PackageID(p.Metadata.Label, data) {
			t.Fatalf("p.ID = %v, want PackageID(p.Metadata.Label, data); accepted package has ID %q, connection %+v", p.ID, p.ID, p.Connection)
		}
		if p.Connection.Address == "" {
			t.Fatalf("p.Connection.Address == \"\", want it different; accepted package has ID %q, connection %+v", p.ID, p.Connection)
		}
	})
}

func BenchmarkBuildMutualTLS(b *testing.B) {
	spec := Spec{Label: "eidgate_1.0.0", Address: "eidgate-chaincode:9999", TLS: &TLS{
		RootCert: readTestdata(b, "ca.pem"), ClientCert: readTestdata(b, "client.pem"), ClientKey: readTestdata(b, "client.key"),
	}}
	for b.Loop() {
		if _, err := Build(spec); err != nil {
			b.Fatal(err)
		}
	}
}
