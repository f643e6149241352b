package deploy

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eidgate/eidgate/cache"
	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/internal/e2etest"
	"github.com/eidgate/eidgate/internal/fabrictest"
	"github.com/eidgate/eidgate/internal/testenv"
	"github.com/eidgate/eidgate/routing/digest"
	"github.com/eidgate/eidgate/store/storetest"
)

// revocationBound is how soon a revocation through one replica must stop
// resolves at every other replica (docs/operations.md, replicas).
const revocationBound = time.Second

// department is a department the operator registers, with the API key it
// calls with and the key it signs route statements with.
type department struct {
	id, name, msp string
	kid           string
	signer        *ecdsa.PrivateKey
	key           string // API key token
}

func (d *department) as(official string) who { return who{apiKey: d.key, official: official} }

func newDepartment(t testing.TB, id, name, msp string) *department {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &department{id: id, name: name, msp: msp, kid: id + "-2026", signer: k}
}

func (d *department) registration(t testing.TB) map[string]any {
	der, err := x509.MarshalPKIXPublicKey(&d.signer.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]any{
		"id": d.id, "name": d.name, "msp_id": d.msp,
		"endpoints":    []string{"https://" + d.id + ".records.example/api"},
		"signing_keys": []map[string]any{{"kid": d.kid, "public_key_pem": string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))}},
	}
}

// operatorSuite is the state the steps of TestOperatorPathOnRealFabric
// build on.
type operatorSuite struct {
	t       testing.TB
	n       *fabrictest.Network
	c       *client
	a, b    *gatewayProc
	keys    []string // the key settings init-keys printed, shared by the replicas
	admin   who
	pg      string
	redis   string
	edu     *department
	civil   *department
	health  *department
	doc     map[string]any // the resident's identity document
	eid     string
	me      who // the resident's session
	timings []string
}

// TestOperatorPathOnRealFabric is the operator's path of docs/operations.md
// on real Fabric binaries, step by step on one network: up, deploy, deploy
// again (no change), the gateway on --ledger fabric, the setup from nothing
// through the CLI and the API, the resolve flow with the resident's proof
// checked against the anchor read from a department's peer, a second
// replica (revocation, tickets across replicas), a chaincode upgrade under
// resolve load, a new department organisation joining the channel while the
// gateway serves, two peers down and back, and down.
func TestOperatorPathOnRealFabric(t *testing.T) {
	s := newOperatorSuite(t)
	defer func() { t.Logf("step timings:\n  %s", strings.Join(s.timings, "\n  ")) }()

	steps := []struct {
		name string
		run  func(t testing.TB)
	}{
		{"deploy", s.deploy},
		{"gateway", s.startGateway},
		{"setup", s.setup},
		{"resolve", s.resolve},
		{"proof", s.proof},
		{"replica", s.replica},
		{"upgrade", s.upgrade},
		{"addorg", s.addOrg},
		{"outage", s.outage},
		{"down", s.down},
	}
	for _, st := range steps {
		start := time.Now()
		ok := t.Run(st.name, func(t *testing.T) { st.run(t) })
		s.timings = append(s.timings, fmt.Sprintf("%-8s %6.1fs", st.name, time.Since(start).Seconds()))
		if !ok {
			t.FailNow()
		}
	}
}

// newOperatorSuite brings a network up (not deployed yet) with the
// PostgreSQL and Redis its gateways will share.
func newOperatorSuite(t testing.TB) *operatorSuite {
	fabrictest.Release(t) // skips (or fails in CI) before the build
	bins := fabrictest.Build(t)
	s := &operatorSuite{t: t, pg: storetest.Postgres(t).DSN}
	s.redis = withRedisDB(t, testenv.Redis(t), 14)
	e2etest.FlushRedisPrefix(t, s.redis, cache.DefaultPrefix)
	s.n = fabrictest.Start(t, fabrictest.Options{Binaries: bins})
	s.c = newClient(t)
	return s
}

func (s *operatorSuite) deploy(t testing.TB) {
	out := s.n.Must(t, "deploy")
	if !strings.Contains(out, "committed at sequence 1") {
		t.Fatalf("deploy:\n%s", out)
	}
	if out := s.n.Must(t, "deploy"); !strings.Contains(out, "nothing to change") {
		t.Fatalf("second deploy:\n%s", out)
	}
}

// gatewayArgs are the settings of docs/operations.md §8 for a replica.
func (s *operatorSuite) gatewayArgs(dataDir, replica string) []string {
	return []string{
		"--data-dir", dataDir, "--db", s.pg, "--redis", s.redis,
		"--ledger", "fabric", "--fabric-profile", s.n.AgentProfile(), "--fabric-admin-profile", s.n.AdminProfile(),
		"--replica", replica, "--log-level", "info",
		// The suite revokes and asks again for the same consent (the
		// revocation, then the upgrade under load), so it runs without the
		// cool-off after a revocation; the cool-off has its own tests.
		"--consent-cool-off", "0s",
	}
}

// startGateway creates the keys the replicas share, once, as
// docs/operations.md §8 says (`eidgate admin init-keys`, whose output is the
// settings naming the files), and starts gateway A with them.
func (s *operatorSuite) startGateway(t testing.TB) {
	out := runEidgate(t, s.n.Binaries.Eidgate, "", "admin", "init-keys", "--dir", filepath.Join(s.t.TempDir(), "keys"))
	for _, line := range strings.Fields(out) {
		if name, path, ok := strings.Cut(line, "="); ok && strings.HasPrefix(name, "EIDGATE_") && strings.HasSuffix(name, "_FILE") {
			if _, err := os.Stat(path); err != nil {
				t.Fatalf("init-keys printed %s: %v", line, err)
			}
			s.keys = append(s.keys, line)
		}
	}
	// Ticket, blinding, sealing, pseudonym, page and holder keys.
	if len(s.keys) != 6 {
		t.Fatalf("init-keys printed %d key settings, want 6:\n%s", len(s.keys), out)
	}
	s.a = startGateway(s.t, s.n.Binaries.Eidgate, "gateway-a", s.keys, s.gatewayArgs(filepath.Join(s.t.TempDir(), "gateway-a"), "gateway-a")...)
	r := s.c.expect(http.StatusOK, s.a.url, who{}, http.MethodGet, "/readyz", nil)
	if r.get("ready") != true {
		t.Fatalf("readyz: %s", r)
	}
}

// setup is the operator's setup from nothing: the first console account
// from the host, then departments, a data type, the policy, a resident's
// eID and activation, API keys and the provider's signed digest, all
// through the API.
func (s *operatorSuite) setup(t testing.TB) {
	c, gw := s.c, s.a.url
	password := "Operator-Passw0rd-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	runEidgate(t, s.n.Binaries.Eidgate, password+"\n", "admin", "create-user", "ops-admin", "--role", "admin",
		"--data-dir", filepath.Join(s.t.TempDir(), "admin-tool"), "--db", s.pg, "--redis", s.redis,
		"--ledger", "fabric", "--fabric-profile", s.n.AgentProfile(), "--fabric-admin-profile", s.n.AdminProfile())
	s.admin = c.session(gw, "/v1/admin/login", map[string]any{"username": "ops-admin", "password": password})

	s.edu = newDepartment(t, "edu-bureau", "市教育局", "EduBureauMSP")
	s.civil = newDepartment(t, "civil-affairs", "市民政局", "CivilAffairsMSP")
	for _, d := range []*department{s.edu, s.civil} {
		s.registerDepartment(t, d)
	}
	c.expect(http.StatusCreated, gw, s.admin, http.MethodPost, "/v1/admin/datatypes", map[string]any{
		"code": "edu.degree", "name": "学位证书", "owners": []string{"edu-bureau"},
		"schema": `{"type":"object","required":["name","degree"],"properties":{"name":{"type":"string"},"degree":{"type":"string"}}}`,
	})
	c.expect(http.StatusCreated, gw, s.admin, http.MethodPost, "/v1/admin/policies/rules", map[string]any{
		"kind": "p", "subject": "civil-affairs", "object": "edu.degree", "action": "employment", "effect": "allow",
	})

	// The KYC counter creates the resident's eID; the resident activates
	// the account with the one-time code.
	s.doc = map[string]any{"type": "cn-resident", "number": gb11643("11010519900307123")}
	r := c.expect(http.StatusCreated, gw, s.admin, http.MethodPost, "/v1/admin/eids", map[string]any{"documents": []any{s.doc}})
	s.eid = r.str("eid")
	s.me = c.session(gw, "/v1/me/activate", map[string]any{
		"document": s.doc, "code": r.str("activation_code"), "password": "Resident-Passw0rd-42",
	})

	s.publish(t, s.edu, "edu.degree", map[string]any{"name": "Wang Fang", "degree": "master"})
}

func (s *operatorSuite) registerDepartment(t testing.TB, d *department) {
	gw := s.a.url
	s.c.expect(http.StatusCreated, gw, s.admin, http.MethodPost, "/v1/admin/departments", d.registration(t))
	r := s.c.expect(http.StatusCreated, gw, s.admin, http.MethodPost, "/v1/admin/departments/"+d.id+"/apikeys",
		map[string]any{"name": d.id + " records system"})
	d.key = r.str("token")
}

// publish has department d publish a signed route statement for the
// resident's record of dataType: digest of the record with a fresh salt,
// signed with d's registered key.
func (s *operatorSuite) publish(t testing.TB, d *department, dataType string, record map[string]any) {
	raw, err := json.Marshal(record)
	if err != nil {
		t.Fatal(err)
	}
	dg, err := digest.Compute(raw, digest.NewSalt())
	if err != nil {
		t.Fatal(err)
	}
	signed, err := model.SignRoute(d.signer, d.kid, model.RouteStatement{
		EID: s.eid, DataType: dataType, Provider: d.id, Version: 1, Digest: dg, Schema: dataType + "/1",
	})
	if err != nil {
		t.Fatal(err)
	}
	r := s.c.expect(http.StatusOK, s.a.url, d.as("batch-publisher"), http.MethodPost, "/v1/routes", map[string]any{"routes": []any{signed}})
	if !strings.Contains(string(r.raw), `"outcome":"published"`) {
		t.Fatalf("publish: %s", r)
	}
}

func (s *operatorSuite) resolveBody(dataType string) map[string]any {
	return map[string]any{"subject": map[string]any{"document": s.doc}, "data_type": dataType, "purpose": "employment"}
}

// consent has requester ask for dataType at gw until the resident must
// consent, and the resident grant it; it returns the consent id.
func (s *operatorSuite) consent(t testing.TB, gw string, requester *department, dataType string) string {
	r := s.c.do(gw, requester.as("clerk.li"), http.MethodPost, "/v1/routes/resolve", s.resolveBody(dataType))
	id := r.str("error", "details", "consent_id")
	if r.status != http.StatusForbidden || r.code() != "consent_required" || id == "" {
		t.Fatalf("resolve without consent: %s", r)
	}
	if r = s.c.do(gw, s.me, http.MethodGet, "/v1/me/consents", nil); !strings.Contains(string(r.raw), id) {
		t.Fatalf("the resident does not see consent request %s: %s", id, r)
	}
	if r = s.c.do(gw, s.me, http.MethodPost, "/v1/me/consents/"+id+"/grant", nil); r.status != http.StatusOK || r.str("status") != "active" {
		t.Fatalf("grant: %s", r)
	}
	return id
}

// ticket resolves dataType for requester at gw and checks the answer.
func (s *operatorSuite) ticket(t testing.TB, gw string, requester, provider *department, dataType string) reply {
	r := s.c.do(gw, requester.as("clerk.li"), http.MethodPost, "/v1/routes/resolve", s.resolveBody(dataType))
	if r.status != http.StatusOK || r.str("eid") != s.eid || r.str("provider", "id") != provider.id || r.str("ticket") == "" {
		t.Fatalf("resolve with consent: %s", r)
	}
	return r
}

// introspect has provider introspect ticket at gw and returns "active".
func (s *operatorSuite) introspect(t testing.TB, gw string, provider *department, ticket string) bool {
	r := s.c.expect(http.StatusOK, gw, provider.as("records-service"), http.MethodPost, "/v1/tickets/introspect", map[string]any{"token": ticket})
	return r.get("active") == true
}

func (s *operatorSuite) resolve(t testing.TB) {
	gw := s.a.url
	s.consent(t, gw, s.civil, "edu.degree")
	r := s.ticket(t, gw, s.civil, s.edu, "edu.degree")
	jwks := s.c.expect(http.StatusOK, gw, who{}, http.MethodGet, "/.well-known/jwks.json", nil)
	claims := verifyTicket(t, jwks.raw, r.str("ticket"))
	if claims["aud"] != "edu-bureau" || claims["sub"] != s.eid || claims["dt"] != "edu.degree" || claims["req"] != "civil-affairs" {
		t.Errorf("ticket claims %v", claims)
	}
	if !s.introspect(t, gw, s.edu, r.str("ticket")) {
		t.Fatal("the provider's first introspection of a fresh ticket is inactive")
	}
	if s.introspect(t, gw, s.edu, r.str("ticket")) {
		t.Fatal("a ticket introspected twice is still active")
	}
}

// proof checks the resident's proof of an access without trusting the
// gateway: the leaf hash from the documented fields, the root from the
// audit path (RFC 9162), and that root against the anchor read from a
// department's peer with the peer CLI.
func (s *operatorSuite) proof(t testing.TB) {
	gw := s.a.url
	var accessID string
	deadline := time.Now().Add(60 * time.Second)
	for accessID == "" {
		r := s.c.expect(http.StatusOK, gw, s.me, http.MethodGet, "/v1/me/access?outcome=issued", nil)
		list, _ := r.get("access").([]any)
		for _, a := range list {
			if a := a.(map[string]any); a["anchored"] == true {
				accessID, _ = a["id"].(string)
			}
		}
		if accessID == "" {
			if time.Now().After(deadline) {
				t.Fatalf("no issued access anchored after 60s: %s", r)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	r := s.c.expect(http.StatusOK, gw, s.me, http.MethodGet, "/v1/me/access/"+accessID+"/proof", nil)
	var p struct {
		BatchID string `json:"batch_id"`
		Proof   struct {
			LeafIndex uint64   `json:"leaf_index"`
			TreeSize  uint64   `json:"tree_size"`
			LeafHash  string   `json:"leaf_hash"`
			AuditPath []string `json:"audit_path"`
			Root      string   `json:"root"`
		} `json:"proof"`
		LeafFields []string `json:"leaf_fields"`
	}
	if err := json.Unmarshal(r.raw, &p); err != nil {
		t.Fatal(err)
	}
	if got := leafHash(p.LeafFields); !bytes.Equal(got, mustHex(t, p.Proof.LeafHash)) {
		t.Errorf("leaf hash of the fields %x, proof says %s", got, p.Proof.LeafHash)
	}
	var path [][]byte
	for _, h := range p.Proof.AuditPath {
		path = append(path, mustHex(t, h))
	}
	root, err := rootFromInclusionProof(p.Proof.LeafIndex, p.Proof.TreeSize, mustHex(t, p.Proof.LeafHash), path)
	if err != nil {
		t.Fatalf("proof: %v", err)
	}

	// A separate read of the anchor: the platform's agent identity asks the
	// education bureau's peer through the peer CLI.
	platform, edu := s.n.Org(t, "platform"), s.n.Org(t, "edubureau")
	out, err := s.n.PeerCLIAt(context.Background(), edu, platform, s.n.IdentityMSP(platform, "agent"),
		"chaincode", "query", "-C", "eidgate", "-n", "eidgate", "-c", `{"Args":["GetAnchor","`+p.BatchID+`"]}`).CombinedOutput()
	if err != nil {
		t.Fatalf("GetAnchor at the education bureau's peer: %v\n%s", err, out)
	}
	var anchor struct {
		BatchID    string `json:"batch_id"`
		MerkleRoot string `json:"merkle_root"`
		Count      uint64 `json:"count"`
	}
	if err := json.Unmarshal(out, &anchor); err != nil {
		t.Fatalf("anchor: %v\n%s", err, out)
	}
	if anchor.BatchID != p.BatchID {
		t.Fatalf("anchor.BatchID = %v, want p.BatchID; the proof implies root %x over %d records; the ledger anchors %+v", anchor.BatchID, root, p.Proof.TreeSize, anchor)
	}
	if anchor.MerkleRoot != fmt.Sprintf("%x", root) {
		t.Fatalf("anchor.MerkleRoot = %v, want fmt.Sprintf(\"%%x\", root); the proof implies root %x over %d records; the ledger anchors %+v", anchor.MerkleRoot, root, p.Proof.TreeSize, anchor)
	}
	if anchor.Count != p.Proof.TreeSize {
		t.Fatalf("anchor.Count = %v, want p.Proof.TreeSize; the proof implies root %x over %d records; the ledger anchors %+v", anchor.Count, root, p.Proof.TreeSize, anchor)
	}
}

// replica starts a second gateway configured as docs/operations.md says
// for replicas (the same database, Redis and key settings, its own data
// dir), then: both publish the same JWKS, a ticket from either replica is
// accepted once across both, and a revocation through one stops resolves
// at the other within the bound.
func (s *operatorSuite) replica(t testing.TB) {
	s.b = startGateway(s.t, s.n.Binaries.Eidgate, "gateway-b", s.keys, s.gatewayArgs(filepath.Join(s.t.TempDir(), "gateway-b"), "gateway-b")...)
	a, b := s.a.url, s.b.url
	if ja, jb := s.c.expect(http.StatusOK, a, who{}, http.MethodGet, "/.well-known/jwks.json", nil), s.c.expect(http.StatusOK, b, who{}, http.MethodGet, "/.well-known/jwks.json", nil); !bytes.Equal(ja.raw, jb.raw) {
		t.Fatalf("the replicas publish different ticket keys:\nA %s\nB %s", ja.raw, jb.raw)
	}

	// A ticket issued by one replica is accepted once, at either.
	fromA := s.ticket(t, a, s.civil, s.edu, "edu.degree").str("ticket")
	if !s.introspect(t, b, s.edu, fromA) || s.introspect(t, a, s.edu, fromA) {
		t.Fatal("a ticket from A is not accepted exactly once across A and B")
	}
	fromB := s.ticket(t, b, s.civil, s.edu, "edu.degree").str("ticket")
	if !s.introspect(t, a, s.edu, fromB) || s.introspect(t, b, s.edu, fromB) {
		t.Fatal("a ticket from B is not accepted exactly once across B and A")
	}

	// The resident revokes through A; B refuses within the bound.
	consents := s.c.expect(http.StatusOK, a, s.me, http.MethodGet, "/v1/me/consents", nil)
	var id string
	for _, c := range consents.get("consents").([]any) {
		if c := c.(map[string]any); c["status"] == "active" {
			id, _ = c["id"].(string)
		}
	}
	if id == "" {
		t.Fatalf("no active consent: %s", consents)
	}
	s.c.expect(http.StatusOK, a, s.me, http.MethodPost, "/v1/me/consents/"+id+"/revoke", nil)
	revoked := time.Now()
	// The decision counts from when a request is sent. The refusal is
	// consent_revoked (the cool-off keeps the department from asking the
	// resident again at once) or, with no cool-off, consent_required.
	var refusedAfter, answeredAfter time.Duration = -1, -1
	for time.Since(revoked) < 5*revocationBound {
		sent := time.Now()
		r := s.c.do(b, s.civil.as("clerk.li"), http.MethodPost, "/v1/routes/resolve", s.resolveBody("edu.degree"))
		if r.status == http.StatusForbidden && (r.code() == "consent_revoked" || r.code() == "consent_required") {
			refusedAfter, answeredAfter = sent.Sub(revoked), time.Since(revoked)
			break
		}
		if r.status != http.StatusOK {
			t.Fatalf("resolve at B after the revocation: %s", r)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if refusedAfter < 0 || refusedAfter > revocationBound {
		t.Fatalf("B still resolved requests sent %v after the revocation through A (bound %v)", refusedAfter, revocationBound)
	}
	t.Logf("B refused a request sent %v after the revocation through A (answered after %v)", refusedAfter, answeredAfter)
}

// load resolves continuously through the given gateways until stopped and
// counts the answers.
type load struct {
	stop     chan struct{}
	wg       sync.WaitGroup
	mu       sync.Mutex
	ok       int
	failures []string
}

func (s *operatorSuite) startLoad(gateways []string, requester *department, dataType string) *load {
	l := &load{stop: make(chan struct{})}
	plain := &http.Client{Timeout: 60 * time.Second}
	body, _ := json.Marshal(s.resolveBody(dataType))
	for i, gw := range gateways {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for n := 0; ; n++ {
				select {
				case <-l.stop:
					return
				default:
				}
				req, _ := http.NewRequest(http.MethodPost, gw+"/v1/routes/resolve", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+requester.key)
				req.Header.Set("X-Eidgate-Official", "load-"+strconv.Itoa(i))
				resp, err := plain.Do(req)
				l.mu.Lock()
				if err != nil {
					l.failures = append(l.failures, err.Error())
				} else {
					raw, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
						l.ok++
					} else {
						l.failures = append(l.failures, fmt.Sprintf("%s: %d %s", gw, resp.StatusCode, bytes.TrimSpace(raw)))
					}
				}
				l.mu.Unlock()
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	return l
}

// finish stops the load and fails t on any failed resolve.
func (l *load) finish(t testing.TB, what string) {
	close(l.stop)
	l.wg.Wait()
	if len(l.failures) > 0 {
		t.Errorf("%d of %d resolves failed during %s; first: %s", len(l.failures), l.ok+len(l.failures), what, l.failures[0])
	}
	if l.ok == 0 {
		t.Errorf("no resolve succeeded during %s", what)
	}
	t.Logf("%d resolves during %s, %d failed", l.ok+len(l.failures), what, len(l.failures))
}

// upgrade commits a new chaincode version (a new sequence) while both
// replicas serve resolves: none fails.
func (s *operatorSuite) upgrade(t testing.TB) {
	s.consent(t, s.a.url, s.civil, "edu.degree")
	l := s.startLoad([]string{s.a.url, s.b.url}, s.civil, "edu.degree")
	time.Sleep(time.Second)
	out, err := s.n.RunEnv(context.Background(), []string{"CC_VERSION=1.1"}, "deploy")
	time.Sleep(2 * time.Second)
	l.finish(t, "the chaincode upgrade")
	if err != nil || !strings.Contains(out, "committed at sequence 2") {
		t.Fatalf("upgrade: %v\n%s", err, out)
	}
}

// addOrg: the health bureau's organisation joins the channel by a
// configuration update while the gateways serve; then the department is
// registered, publishes its data and resolves.
func (s *operatorSuite) addOrg(t testing.TB) {
	l := s.startLoad([]string{s.a.url, s.b.url}, s.civil, "edu.degree")
	out, err := s.n.Run(context.Background(), "addorg", "healthbureau", "HealthBureauMSP", "health-bureau")
	l.finish(t, "the new organisation's joining")
	if err != nil {
		t.Fatalf("addorg: %v\n%s", err, out)
	}

	gw := s.a.url
	s.health = newDepartment(t, "health-bureau", "市卫生健康委员会", "HealthBureauMSP")
	s.registerDepartment(t, s.health)
	s.c.expect(http.StatusCreated, gw, s.admin, http.MethodPost, "/v1/admin/datatypes", map[string]any{
		"code": "health.vaccination", "name": "疫苗接种记录", "owners": []string{"health-bureau"},
		"schema": `{"type":"object","required":["vaccine"],"properties":{"vaccine":{"type":"string"}}}`,
	})
	for _, rule := range []map[string]any{
		{"kind": "p", "subject": "civil-affairs", "object": "health.vaccination", "action": "employment", "effect": "allow"},
		{"kind": "p", "subject": "health-bureau", "object": "edu.degree", "action": "employment", "effect": "allow"},
	} {
		s.c.expect(http.StatusCreated, gw, s.admin, http.MethodPost, "/v1/admin/policies/rules", rule)
	}
	s.publish(t, s.health, "health.vaccination", map[string]any{"vaccine": "MMR"})

	// Its data is resolved by another department, and it resolves.
	s.consent(t, gw, s.civil, "health.vaccination")
	if r := s.ticket(t, gw, s.civil, s.health, "health.vaccination"); !s.introspect(t, s.b.url, s.health, r.str("ticket")) {
		t.Fatal("the new department's introspection of its ticket is inactive")
	}
	s.consent(t, s.b.url, s.health, "edu.degree")
	if r := s.ticket(t, s.b.url, s.health, s.edu, "edu.degree"); !s.introspect(t, gw, s.edu, r.str("ticket")) {
		t.Fatal("a ticket the new department obtained is inactive at the provider")
	}
}

// outage: with four organisations, MAJORITY endorsement needs three peers.
// One department peer down: writes still commit (the new organisation's
// peer endorses). Two down: a write a person waits on answers 503 with
// Retry-After; when they return, writes commit again.
func (s *operatorSuite) outage(t testing.TB) {
	gw := s.a.url
	requestConsent := func(dataType string) reply {
		return s.c.do(gw, s.civil.as("clerk.li"), http.MethodPost, "/v1/routes/resolve", s.resolveBody(dataType))
	}
	// A data type the resident has not consented to: the resolve opens a
	// consent request on the ledger, a write.
	s.c.expect(http.StatusCreated, gw, s.admin, http.MethodPost, "/v1/admin/policies/rules",
		map[string]any{"kind": "p", "subject": "civil-affairs", "object": "*", "action": "employment", "effect": "allow"})
	for _, code := range []string{"edu.transcript", "edu.thesis", "edu.diploma"} {
		s.c.expect(http.StatusCreated, gw, s.admin, http.MethodPost, "/v1/admin/datatypes", map[string]any{
			"code": code, "name": code, "owners": []string{"edu-bureau"}, "schema": `{"type":"object"}`,
		})
		s.publish(t, s.edu, code, map[string]any{"n": code})
	}

	s.n.Must(t, "stop", "peer0.edubureau")
	if r := requestConsent("edu.transcript"); r.status != http.StatusForbidden || r.code() != "consent_required" {
		t.Fatalf("a write with one department peer down: %s", r)
	}

	s.n.Must(t, "stop", "peer0.civilaffairs")
	r := requestConsent("edu.thesis")
	if r.status != http.StatusServiceUnavailable || r.code() != "ledger_unavailable" || r.header.Get("Retry-After") == "" ||
		!strings.Contains(r.str("error", "details", "reason"), "endorsement") {
		t.Fatalf("a write with two of four peers down: %s (Retry-After %q), want 503 ledger_unavailable with Fabric's reason and Retry-After", r, r.header.Get("Retry-After"))
	}
	t.Logf("two peers down: %s", r)
	if r := s.c.do(gw, s.admin, http.MethodPost, "/v1/admin/datatypes", map[string]any{
		"code": "edu.award", "name": "award", "owners": []string{"edu-bureau"}, "schema": `{"type":"object"}`,
	}); r.status != http.StatusServiceUnavailable || r.code() != "ledger_unavailable" || r.header.Get("Retry-After") == "" {
		t.Fatalf("an admin write with two of four peers down: %s, want 503 with Retry-After", r)
	}

	s.n.Must(t, "start", "peer0.edubureau")
	s.n.Must(t, "start", "peer0.civilaffairs")
	deadline := time.Now().Add(90 * time.Second)
	for {
		r := requestConsent("edu.diploma")
		if r.status == http.StatusForbidden && r.code() == "consent_required" {
			break
		}
		if r.status != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("a write after the peers returned: %s", r)
		}
		time.Sleep(time.Second)
	}
}

// down stops the gateways and the network: no process, no listening port.
func (s *operatorSuite) down(t testing.TB) {
	s.b.stop(t)
	s.a.stop(t)
	s.n.Down(t)
	for _, g := range []*gatewayProc{s.a, s.b} {
		if _, err := http.Get(g.url + "/healthz"); err == nil {
			t.Errorf("%s still answers after it stopped", g.name)
		}
	}
}
