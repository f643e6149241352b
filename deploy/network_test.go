package deploy

import (
	"context"
	"encoding/json"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/eidgate/eidgate/internal/fabrictest"
	"github.com/eidgate/eidgate/ledger"
)

// TestNetworkScriptOnRealFabric runs deploy/fabric/network.sh on the real
// Fabric binaries (EIDGATE_TEST_FABRIC): up, every node healthy, identity
// folders usable by the peer CLI, deploy, deploy again changing nothing, a
// deploy resumed after an approval that a failed run left behind, a
// chaincode server restarted by deploy, a new organisation by addorg, and
// down leaving no process and no port.
func TestNetworkScriptOnRealFabric(t *testing.T) {
	n := fabrictest.Start(t, fabrictest.Options{})
	ctx := context.Background()
	platform := n.Org(t, "platform")

	checkHealthy(t, n, 9)

	// The profiles load as ledger.Profile and name 127.0.0.1 with no TLS
	// host override: the node certificates name 127.0.0.1.
	for _, p := range []string{"platform-agent", "platform-platform-admin", "edubureau-department", "civilaffairs-department"} {
		prof, err := ledger.LoadProfile(filepath.Join(n.Dir, "gateway", p+".yaml"))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if prof.Peer.HostOverride != "" {
			t.Errorf("prof.Peer.HostOverride = %q, want \"\"; %s: peer %+v", prof.Peer.HostOverride, p, prof.Peer)
		} else if !strings.HasPrefix(prof.Peer.Endpoint, "127.0.0.1:") {
			t.Errorf("strings.HasPrefix(prof.Peer.Endpoint, \"127.0.0.1:\") is false; %s: peer %+v", p, prof.Peer)
		}
	}

	// Every enrolled identity folder works with the peer CLI as it is.
	for _, id := range []struct{ org, name string }{{"platform", "agent"}, {"platform", "platform-admin"}, {"edubureau", "department"}, {"civilaffairs", "department"}} {
		o := n.Org(t, id.org)
		if out, err := n.PeerCLI(ctx, o, n.IdentityMSP(o, id.name), "channel", "getinfo", "-c", "eidgate").CombinedOutput(); err != nil {
			t.Errorf("peer channel getinfo as %s/%s: %v\n%s", id.org, id.name, err, out)
		}
	}

	// fabric-ca/enroll-identity.sh, as an organisation runs it against its
	// CA with a registrar, writes a folder the peer CLI takes as it is.
	out := filepath.Join(t.TempDir(), "extra-agent")
	enroll := exec.Command("bash", "fabric/fabric-ca/enroll-identity.sh", "--ca-url", "http://"+platform.CA,
		"--registrar-home", filepath.Join(n.Dir, "identities", "platform", "ca-admin"),
		"--name", "extra-agent", "--role", "agent", "--out", out)
	enroll.Env = n.Env()
	if b, err := enroll.CombinedOutput(); err != nil {
		t.Fatalf("enroll-identity.sh: %v\n%s", err, b)
	}
	if b, err := n.PeerCLI(ctx, platform, filepath.Join(out, "msp"), "channel", "getinfo", "-c", "eidgate").CombinedOutput(); err != nil {
		t.Errorf("peer channel getinfo with enroll-identity.sh's folder: %v\n%s", err, b)
	}

	n.Must(t, "deploy")
	if got := committed(t, n, platform); got != "1.0 1" {
		t.Fatalf("after deploy: committed %q, want version 1.0 sequence 1", got)
	}
	height := blockHeight(t, n, platform)
	out = n.Must(t, "deploy")
	if !strings.Contains(out, "nothing to change") || blockHeight(t, n, platform) != height {
		t.Errorf("a second deploy changed the channel (height %d → %d):\n%s", height, blockHeight(t, n, platform), out)
	}
	queryAs := func(o fabrictest.Org, msp string) error {
		out, err := n.PeerCLI(ctx, o, msp, "chaincode", "query", "-C", "eidgate", "-n", "eidgate",
			"-c", `{"Args":["org.hyperledger.fabric:GetMetadata"]}`).CombinedOutput()
		if err != nil {
			return &cliError{err, out}
		}
		return nil
	}
	if err := queryAs(platform, n.IdentityMSP(platform, "agent")); err != nil {
		t.Errorf("the agent's folder cannot query the chaincode: %v", err)
	}

	// A run that stopped after one organisation approved sequence 2: the
	// next deploy approves for the others and commits, instead of failing
	// on "attempted to redefine uncommitted sequence".
	ports := n.Ports(t)
	ccPort := ports[len(ports)-10] + 2 // the chaincode server of sequence 2
	pkg := filepath.Join(t.TempDir(), "eidgate.tar.gz")
	id, err := exec.Command(n.Binaries.Eidgate, "chaincode", "package", "--address", "127.0.0.1:"+strconv.Itoa(ccPort),
		"--label", "eidgate_1.1", "-o", pkg).Output()
	if err != nil {
		t.Fatal(err)
	}
	packageID := strings.TrimSpace(string(id))
	for _, args := range [][]string{
		{"lifecycle", "chaincode", "install", pkg},
		{"lifecycle", "chaincode", "approveformyorg", "-o", n.Orderers(t)[0].Address, "--tls", "--cafile", n.OrdererTLSCA(),
			"--channelID", "eidgate", "--name", "eidgate", "--version", "1.1", "--package-id", packageID, "--sequence", "2"},
	} {
		if out, err := n.PeerCLI(ctx, platform, n.AdminMSP(platform), args...).CombinedOutput(); err != nil {
			t.Fatalf("peer %s: %v\n%s", args[2], err, out)
		}
	}
	out, err = n.RunEnv(ctx, []string{"CC_VERSION=1.1"}, "deploy")
	if err != nil {
		t.Fatalf("deploy after a partial run: %v\n%s", err, out)
	}
	if !strings.Contains(out, "PlatformMSP already approved 1.1 at sequence 2") || committed(t, n, platform) != "1.1 2" {
		t.Errorf("deploy did not resume at sequence 2 (committed %q):\n%s", committed(t, n, platform), out)
	}
	if procs := n.Processes(); procs["chaincode-s1"] != 0 || procs["chaincode-s2"] == 0 {
		t.Errorf("after the upgrade the chaincode servers are %v, want only chaincode-s2", procs)
	}

	// A crashed chaincode server is started again by deploy, which changes
	// nothing on the channel.
	n.Must(t, "stop", "chaincode-s2")
	if queryAs(platform, n.IdentityMSP(platform, "agent")) == nil {
		t.Fatal("the chaincode answered with its server stopped")
	}
	height = blockHeight(t, n, platform)
	out = n.Must(t, "deploy") // CC_VERSION defaults to the committed version
	if !strings.Contains(out, "nothing to change") || committed(t, n, platform) != "1.1 2" || blockHeight(t, n, platform) != height {
		t.Errorf("deploy after a chaincode crash changed the definition (now %q):\n%s", committed(t, n, platform), out)
	}
	if err := queryAs(platform, n.IdentityMSP(platform, "agent")); err != nil {
		t.Errorf("deploy did not restart the chaincode server: %v", err)
	}

	// A fourth organisation joins by a channel configuration update.
	out = n.Must(t, "addorg", "healthbureau", "HealthBureauMSP", "health-bureau")
	health := n.Org(t, "healthbureau")
	if health.MSPID != "HealthBureauMSP" {
		t.Fatalf("health.MSPID = %q, want \"HealthBureauMSP\"; new org %+v", health.MSPID, health)
	}
	if health.Dept != "health-bureau" {
		t.Fatalf("health.Dept = %q, want \"health-bureau\"; new org %+v", health.Dept, health)
	}
	if err := queryAs(health, n.IdentityMSP(health, "department")); err != nil {
		t.Errorf("the new department's identity cannot query its own peer: %v\n%s", err, out)
	}
	if got := committed(t, n, health); got == "" {
		t.Errorf("the new peer reports no committed definition")
	}
	checkHealthy(t, n, 11)
	if again := n.Must(t, "addorg", "healthbureau", "HealthBureauMSP", "health-bureau"); !strings.Contains(again, "already a member") {
		t.Errorf("addorg run twice did not notice the member:\n%s", again)
	}

	n.Down(t)
}

type cliError struct {
	err error
	out []byte
}

func (e *cliError) Error() string { return e.err.Error() + ": " + strings.TrimSpace(string(e.out)) }

var healthLine = regexp.MustCompile(`(?m)^(\S+)\s+(\d{3})$`)

// checkHealthy runs network.sh health and checks want nodes answer 200,
// and asks one peer's /healthz directly.
func checkHealthy(t *testing.T, n *fabrictest.Network, want int) {
	t.Helper()
	out, err := n.Run(context.Background(), "health")
	lines := healthLine.FindAllStringSubmatch(out, -1)
	if err != nil || len(lines) != want {
		t.Fatalf("network.sh health (want %d nodes at 200): %v\n%s", want, err, out)
	}
	for _, l := range lines {
		if l[2] != "200" {
			t.Errorf("%s /healthz answered %s", l[1], l[2])
		}
	}
	resp, err := http.Get("http://" + n.Org(t, "platform").PeerOperations + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Status string }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Errorf("err = %v, want nil; peer /healthz: %d %+v %v", err, resp.StatusCode, body, err)
	} else if resp.StatusCode != http.StatusOK {
		t.Errorf("resp.StatusCode = %v, want http.StatusOK; peer /healthz: %d %+v %v", resp.StatusCode, resp.StatusCode, body, err)
	} else if body.Status != "OK" {
		t.Errorf("body.Status = %q, want \"OK\"; peer /healthz: %d %+v %v", body.Status, resp.StatusCode, body, err)
	}
}

// committed is "VERSION SEQUENCE" of the committed eidgate definition as
// org's peer reports it.
func committed(t *testing.T, n *fabrictest.Network, o fabrictest.Org) string {
	t.Helper()
	out, err := n.PeerCLI(context.Background(), o, n.AdminMSP(o), "lifecycle", "chaincode", "querycommitted",
		"--channelID", "eidgate", "--name", "eidgate", "--output", "json").Output()
	if err != nil {
		return ""
	}
	var def struct {
		Version  string `json:"version"`
		Sequence int    `json:"sequence"`
	}
	if err := json.Unmarshal(out, &def); err != nil {
		t.Fatalf("querycommitted: %v\n%s", err, out)
	}
	return def.Version + " " + strconv.Itoa(def.Sequence)
}

// blockHeight is the channel's height at org's peer.
func blockHeight(t testing.TB, n *fabrictest.Network, o fabrictest.Org) int {
	t.Helper()
	out, err := n.PeerCLI(context.Background(), o, n.AdminMSP(o), "channel", "getinfo", "-c", "eidgate").Output()
	if err != nil {
		t.Fatalf("peer channel getinfo: %v", err)
	}
	var info struct {
		Height int `json:"height"`
	}
	s := string(out)
	if i := strings.IndexByte(s, '{'); i >= 0 {
		s = s[i:]
	}
	if err := json.Unmarshal([]byte(s), &info); err != nil {
		t.Fatalf("peer channel getinfo: %v\n%s", err, out)
	}
	return info.Height
}
