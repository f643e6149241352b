package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eidgate/eidgate/chaincode"
	"github.com/eidgate/eidgate/internal/demo"
	"github.com/eidgate/eidgate/internal/fabrictest"
	"github.com/eidgate/eidgate/ledger"
	"github.com/eidgate/eidgate/ledger/devnet"
	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
)

// fabricNetwork is a Fabric network for the gateway's --ledger fabric: a
// devnet serving TLS in which every demo department runs its own peer and
// the chaincode is endorsed under MAJORITY Endorsement, as on the
// consortium deploy/fabric/configtx.yaml defines.
type fabricNetwork struct {
	peer         *devnet.Peer
	agent, admin string // connection profiles
}

func startFabricNetwork(t *testing.T) *fabricNetwork {
	t.Helper()
	cc, err := chaincode.NewChaincode(devnet.DefaultPlatformMSPID)
	if err != nil {
		t.Fatal(err)
	}
	orgs := make([]devnet.OrgConfig, len(demo.Departments))
	for i, d := range demo.Departments {
		orgs[i] = devnet.OrgConfig{ID: d.ID, MSPID: d.MSPID, Peer: true}
	}
	p, err := devnet.Open(context.Background(), devnet.Config{
		DataDir: t.TempDir(), Listen: "127.0.0.1:0", Orgs: orgs, Endorsement: devnet.EndorseMajority,
		Chaincodes: map[string]shim.Chaincode{ChaincodeName: cc},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	n := &fabricNetwork{peer: p}
	if n.agent, err = p.WriteProfile(devnet.PlatformOrg, devnet.AgentName); err != nil {
		t.Fatal(err)
	}
	if n.admin, err = p.WriteProfile(devnet.PlatformOrg, devnet.AdminName); err != nil {
		t.Fatal(err)
	}
	return n
}

// onFabric configures a gateway for the network: the agent profile, and
// the admin profile when admin is set.
func (n *fabricNetwork) onFabric(dataDir string, admin bool, demo bool) Config {
	cfg := DefaultConfig()
	cfg.Listen, cfg.DataDir, cfg.LogLevel, cfg.Demo = "127.0.0.1:0", dataDir, "warn", demo
	cfg.Ledger, cfg.FabricProfile = "fabric", n.agent
	if admin {
		cfg.FabricAdminProfile = n.admin
	}
	return cfg
}

// TestDemoOnAFabricNetwork: `serve --demo --ledger fabric` loads the demo
// consortium onto a network it did not create, a restart reuses it, and a
// second gateway on a fresh data dir loads it again on the same ledger
// (adding its own department keys); the resolve flow works on each.
func TestDemoOnAFabricNetwork(t *testing.T) {
	t.Parallel()
	testDemoOnNetwork(t, startFabricNetwork(t))
}

// TestDemoOnRealFabric is the same on a real Fabric 2.5 network brought up
// by deploy/fabric/network.sh (when EIDGATE_TEST_FABRIC names a release).
func TestDemoOnRealFabric(t *testing.T) {
	t.Parallel()
	net := fabrictest.Start(t, fabrictest.Options{Deploy: true})
	testDemoOnNetwork(t, &fabricNetwork{agent: net.AgentProfile(), admin: net.AdminProfile()})
}

func testDemoOnNetwork(t *testing.T, n *fabricNetwork) {
	dir := t.TempDir()
	first := NewMain(n.onFabric(dir, true, true))
	if err := first.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	info := *first.Demo()
	s := newStack(t, first, first.Demo(), nil)
	waitStatus(t, s, "/readyz", http.StatusOK, time.Minute)
	grantDegree(t, s)
	if r := s.do(s.dept("hrss"), http.MethodPost, "/v1/routes/resolve", resolveBody(info.Residents[0], "edu.degree", "employment")); r.status != http.StatusOK || r.str("ticket") == "" {
		t.Fatalf("resolve on the Fabric network: %d %v", r.status, r.body)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	// Restart on the same data dir: nothing is loaded twice.
	again := newTestMain(t, n.onFabric(dir, true, true))
	if again.Demo().Residents[0].EID != info.Residents[0].EID || again.Demo().Departments[0].APIKey != info.Departments[0].APIKey {
		t.Fatal("restart loaded the demo again")
	}
	s = newStack(t, again, again.Demo(), nil)
	// Until its first anchoring round the gateway issues no ticket.
	waitStatus(t, s, "/readyz", http.StatusOK, time.Minute)
	if r := s.do(s.dept("hrss"), http.MethodPost, "/v1/routes/resolve", resolveBody(info.Residents[0], "edu.degree", "employment")); r.status != http.StatusOK {
		t.Fatalf("resolve after the restart: %d %v", r.status, r.body)
	}

	// Another data dir, the same ledger: the departments exist; this
	// gateway's keys join them and its records are published.
	other := newTestMain(t, n.onFabric(t.TempDir(), true, true))
	so := newStack(t, other, other.Demo(), nil)
	waitStatus(t, so, "/readyz", http.StatusOK, time.Minute)
	grantDegree(t, so)
	if r := so.do(so.dept("hrss"), http.MethodPost, "/v1/routes/resolve", resolveBody(other.Demo().Residents[0], "edu.degree", "employment")); r.status != http.StatusOK {
		t.Fatalf("resolve through a second demo on the same ledger: %d %v", r.status, r.body)
	}
}

// TestLedgerWriteWithoutEndorsersAnswers503: with two departments' peers
// down no set of live peers meets MAJORITY Endorsement; a consent grant
// (a ledger write a resident waits on) is 503 ledger_unavailable with
// Retry-After and Fabric's reason, and the consent stays requested. With
// the peers back the same grant succeeds.
func TestLedgerWriteWithoutEndorsersAnswers503(t *testing.T) {
	t.Parallel()
	n := startFabricNetwork(t)
	m := newTestMain(t, n.onFabric(t.TempDir(), true, true))
	s := newStack(t, m, m.Demo(), nil)
	r := s.do(s.dept("hrss"), http.MethodPost, "/v1/routes/resolve", resolveBody(m.Demo().Residents[0], "edu.degree", "employment"))
	consentID := r.str("error", "details", "consent_id")
	if r.status != http.StatusForbidden || consentID == "" {
		t.Fatalf("resolve without consent: %d %v", r.status, r.body)
	}
	me := s.resident(0)
	for _, org := range []string{"edu-bureau", "civil-affairs"} {
		if err := n.peer.StopPeer(org); err != nil {
			t.Fatal(err)
		}
	}
	r = s.do(me, http.MethodPost, "/v1/me/consents/"+consentID+"/grant", nil)
	if r.status != http.StatusServiceUnavailable || r.errCode() != ledger.CodeUnavailable || r.header.Get("Retry-After") == "" {
		t.Fatalf("grant with two peers down: %d %v (Retry-After %q), want 503 ledger_unavailable", r.status, r.body, r.header.Get("Retry-After"))
	}
	if reason := r.str("error", "details", ledger.DetailReason); !strings.Contains(reason, "no combination of peers can be derived which satisfy the endorsement policy") {
		t.Errorf("details.reason %q, want Fabric's refusal", reason)
	}
	if phase := r.str("error", "details", ledger.DetailPhase); phase != "endorse" {
		t.Errorf("details.phase %q, want endorse", phase)
	}
	if r = s.do(s.dept("hrss"), http.MethodGet, "/v1/consents/"+consentID, nil); r.status != http.StatusOK || r.str("status") != "requested" {
		t.Fatalf("the consent after the refused grant: %d %v, want requested", r.status, r.body)
	}
	for _, org := range []string{"edu-bureau", "civil-affairs"} {
		if err := n.peer.StartPeer(org); err != nil {
			t.Fatal(err)
		}
	}
	if r = s.do(me, http.MethodPost, "/v1/me/consents/"+consentID+"/grant", nil); r.status != http.StatusOK {
		t.Fatalf("grant with the peers back: %d %v", r.status, r.body)
	}
}

// TestRegistryChangeWithoutAdminIdentity: a gateway on a Fabric network
// started without --fabric-admin-profile refuses to register a department
// with a message naming the setting, instead of the chaincode's FORBIDDEN.
func TestRegistryChangeWithoutAdminIdentity(t *testing.T) {
	t.Parallel()
	n := startFabricNetwork(t)
	m := newTestMain(t, n.onFabric(t.TempDir(), false, false))
	if _, err := m.admins.CreateAdmin(context.Background(), "root", "Correct-horse-9", "admin"); err != nil {
		t.Fatal(err)
	}
	s := newStack(t, m, &demo.Info{Admin: demo.StaffLogin{Username: "root", Password: "Correct-horse-9"}}, nil)
	r := s.do(s.admin(), http.MethodPost, "/v1/admin/departments", map[string]any{
		"id": "edu-bureau", "name": "市教育局", "msp_id": "EduBureauMSP", "endpoints": []string{"https://edu.example/records"},
	})
	msg, _ := r.body["error"].(map[string]any)["message"].(string)
	if r.status != http.StatusServiceUnavailable || r.errCode() != CodeAdminIdentityMissing ||
		!strings.Contains(msg, "--fabric-admin-profile") || !strings.Contains(msg, "EIDGATE_FABRIC_ADMIN_PROFILE") {
		t.Fatalf("register a department without the admin identity: %d %v", r.status, r.body)
	}
	// Reads work: the agent identity serves them.
	if r = s.do(s.admin(), http.MethodGet, "/v1/admin/departments", nil); r.status != http.StatusOK {
		t.Fatalf("list departments: %d %v", r.status, r.body)
	}
}
