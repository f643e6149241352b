package deploy

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eidgate/eidgate/gateway"
	"github.com/eidgate/eidgate/gateway/openapitest"
)

// gatewayProc is an `eidgate serve` process started as an operator would.
type gatewayProc struct {
	name string
	url  string
	cmd  *exec.Cmd
	log  string
	done chan error
}

// freePort is a loopback port nothing listens on right now.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// operatorEnv is the process environment without any EIDGATE_* setting of
// the test run, so a gateway sees only what the test gives it.
func operatorEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "EIDGATE_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// runEidgate runs an eidgate command to completion with stdin and returns
// its standard output.
func runEidgate(t testing.TB, bin, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = operatorEnv()
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("eidgate %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// startGateway runs `eidgate serve` with env (NAME=VALUE settings) and args
// on a free port and waits until /readyz answers 200. Cleanup stops it with
// SIGTERM.
func startGateway(t testing.TB, bin, name string, env []string, args ...string) *gatewayProc {
	t.Helper()
	port := freePort(t)
	g := &gatewayProc{
		name: name, url: "http://127.0.0.1:" + strconv.Itoa(port),
		log: filepath.Join(t.TempDir(), name+".log"), done: make(chan error, 1),
	}
	logf, err := os.Create(g.log)
	if err != nil {
		t.Fatal(err)
	}
	g.cmd = exec.Command(bin, append([]string{"serve", "--listen", "127.0.0.1:" + strconv.Itoa(port)}, args...)...)
	g.cmd.Env = operatorEnv(env...)
	g.cmd.Stdout, g.cmd.Stderr = logf, logf
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { g.done <- g.cmd.Wait(); logf.Close() }()
	t.Cleanup(func() {
		g.stop(t)
		if t.Failed() {
			t.Logf("--- %s log (last lines)\n%s", name, strings.Join(tailLines(g.log, 40), "\n"))
		}
	})
	deadline := time.Now().Add(90 * time.Second)
	for {
		select {
		case err := <-g.done:
			g.done <- err
			t.Fatalf("gateway %s exited: %v\n%s", name, err, strings.Join(tailLines(g.log, 40), "\n"))
		default:
		}
		resp, err := http.Get(g.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return g
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway %s not ready after 90s\n%s", name, strings.Join(tailLines(g.log, 40), "\n"))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// stop ends the gateway with SIGTERM (SIGKILL after 20 s).
func (g *gatewayProc) stop(t testing.TB) {
	if g.cmd.Process == nil {
		return
	}
	select {
	case err := <-g.done:
		g.done <- err
		return
	default:
	}
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-g.done:
		g.done <- err
	case <-time.After(20 * time.Second):
		t.Errorf("gateway %s ignored SIGTERM for 20s", g.name)
		_ = g.cmd.Process.Kill()
		g.done <- <-g.done
	}
}

func tailLines(path string, n int) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}

// client drives a gateway's HTTP API; every exchange is checked against
// the OpenAPI document.
type client struct {
	t    testing.TB
	http *http.Client
}

func newClient(t testing.TB) *client {
	v := openapitest.MustNew(t, gateway.OpenAPISpec())
	t.Cleanup(func() { v.Check(t) })
	return &client{t: t, http: v.Client(&http.Client{Timeout: 60 * time.Second})}
}

// who sends a request: a department (API key and official), a browser
// session (cookie and CSRF token), or nobody.
type who struct {
	apiKey, official string
	cookie, csrf     string
	cookieName       string // the portal's or the console's session cookie
}

type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

func (r reply) code() string { return r.str("error", "code") }

func (r reply) str(path ...string) string {
	v, _ := r.get(path...).(string)
	return v
}

func (r reply) get(path ...string) any {
	var v any = r.body
	for _, p := range path {
		m, _ := v.(map[string]any)
		v = m[p]
	}
	return v
}

func (r reply) String() string { return fmt.Sprintf("%d %s", r.status, bytes.TrimSpace(r.raw)) }

// send makes one request; err is a transport failure.
func (c *client) send(base string, w who, method, path string, body any) (reply, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return reply{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		return reply{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if w.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+w.apiKey)
		req.Header.Set("X-Eidgate-Official", w.official)
	}
	if w.cookie != "" {
		req.Header.Set("Cookie", w.cookieName+"="+w.cookie)
		if method != http.MethodGet {
			req.Header.Set("X-CSRF-Token", w.csrf)
		}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, err
	}
	r := reply{status: resp.StatusCode, header: resp.Header, raw: raw, body: map[string]any{}}
	_ = json.Unmarshal(raw, &r.body)
	return r, nil
}

// do makes one request and fails the test on a transport failure.
func (c *client) do(base string, w who, method, path string, body any) reply {
	c.t.Helper()
	r, err := c.send(base, w, method, path, body)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// expect makes one request and fails the test unless it answers status.
func (c *client) expect(status int, base string, w who, method, path string, body any) reply {
	c.t.Helper()
	r := c.do(base, w, method, path, body)
	if r.status != status {
		c.t.Fatalf("%s %s: %s, want %d", method, path, r, status)
	}
	return r
}

// session signs in at path and returns the session.
func (c *client) session(base, path string, body any) who {
	c.t.Helper()
	r := c.expect(http.StatusOK, base, who{}, http.MethodPost, path, body)
	for _, ck := range (&http.Response{Header: r.header}).Cookies() {
		if ck.Name == gateway.SessionCookie || ck.Name == gateway.ConsoleSessionCookie {
			return who{cookie: ck.Value, cookieName: ck.Name, csrf: r.str("csrf_token")}
		}
	}
	c.t.Fatalf("%s set no session cookie", path)
	return who{}
}

// gb11643 completes a 17-digit body into a mainland resident ID number
// with its GB 11643-1999 check character.
func gb11643(body string) string {
	weights := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, w := range weights {
		sum += int(body[i]-'0') * w
	}
	return body + string("10X98765432"[sum%11])
}

// verifyTicket checks a ticket's EdDSA signature against the gateway's
// published JWKS with crypto/ed25519 alone (not eidgate's verifier), and
// returns its claims.
func verifyTicket(t testing.TB, jwks []byte, ticket string) map[string]any {
	t.Helper()
	parts := strings.Split(ticket, ".")
	if len(parts) != 3 {
		t.Fatalf("ticket is not a compact JWS: %d parts", len(parts))
	}
	var header struct{ Alg, Typ, Kid string }
	decodeSegment(t, parts[0], &header)
	if header.Alg != "EdDSA" {
		t.Fatalf("header.Alg = %q, want \"EdDSA\"; ticket header %+v", header.Alg, header)
	}
	if header.Typ != "eidgate-ticket+jwt" {
		t.Fatalf("header.Typ = %q, want \"eidgate-ticket+jwt\"; ticket header %+v", header.Typ, header)
	}
	if header.Kid == "" {
		t.Fatalf("header.Kid == \"\", want it different; ticket header %+v", header)
	}
	var set struct {
		Keys []struct{ Kty, Crv, Kid, X, Alg string }
	}
	if err := json.Unmarshal(jwks, &set); err != nil {
		t.Fatalf("JWKS: %v", err)
	}
	var pub ed25519.PublicKey
	for _, k := range set.Keys {
		if k.Kid == header.Kid && k.Kty == "OKP" && k.Crv == "Ed25519" {
			x, err := base64.RawURLEncoding.DecodeString(k.X)
			if err != nil || len(x) != ed25519.PublicKeySize {
				t.Fatalf("JWKS key %s: %v", k.Kid, err)
			}
			pub = x
		}
	}
	if pub == nil {
		t.Fatalf("the JWKS has no key %s", header.Kid)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	if !ed25519.Verify(pub, []byte(parts[0]+"."+parts[1]), sig) {
		t.Fatal("the ticket's signature does not verify with the published key")
	}
	var claims map[string]any
	decodeSegment(t, parts[1], &claims)
	return claims
}

func decodeSegment(t testing.TB, seg string, v any) {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatalf("JWS segment: %v", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("JWS segment: %v", err)
	}
}

// leafHash is the documented leaf hash of an access record's fields:
// SHA-256(0x00 ‖ for each field: 4-byte big-endian length ‖ UTF-8 bytes).
func leafHash(fields []string) []byte {
	h := sha256.New()
	h.Write([]byte{0})
	for _, f := range fields {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(f)))
		h.Write(n[:])
		h.Write([]byte(f))
	}
	return h.Sum(nil)
}

// rootFromInclusionProof is RFC 9162 §2.1.3.2: the root a leaf hash and
// its audit path imply.
func rootFromInclusionProof(index, size uint64, leaf []byte, path [][]byte) ([]byte, error) {
	if index >= size {
		return nil, errors.New("leaf index beyond the tree")
	}
	node := func(l, r []byte) []byte {
		h := sha256.New()
		h.Write([]byte{1})
		h.Write(l)
		h.Write(r)
		return h.Sum(nil)
	}
	fn, sn, r := index, size-1, leaf
	for _, p := range path {
		if sn == 0 {
			return nil, errors.New("audit path too long")
		}
		if fn&1 == 1 || fn == sn {
			r = node(p, r)
			for fn&1 == 0 && fn != 0 {
				fn >>= 1
				sn >>= 1
			}
		} else {
			r = node(r, p)
		}
		fn >>= 1
		sn >>= 1
	}
	if sn != 0 {
		return nil, errors.New("audit path too short")
	}
	return r, nil
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("hex %q: %v", s, err)
	}
	return b
}

// withRedisDB is rawURL on another database number, so the gateways of
// this suite share nothing with gateways other packages' tests run at the
// same time under the same key prefix.
func withRedisDB(t testing.TB, rawURL string, db int) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + strconv.Itoa(db)
	return u.String()
}
