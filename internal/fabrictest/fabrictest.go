// Package fabrictest runs a real Hyperledger Fabric 2.5 network for tests,
// through deploy/fabric/network.sh, from the release directory named by
// EIDGATE_TEST_FABRIC (the layout of Fabric's release archives: bin/,
// config/, builders/ccaas/).
//
// Without EIDGATE_TEST_FABRIC a test that asks for a network skips with a
// message. When EIDGATE_TEST_FABRIC_REQUIRED=true (CI sets it when the
// Fabric archive is present) a missing or unusable release is a failure,
// so a suite can never be skipped there by accident.
//
// Each network gets its own temp work dir and a port offset no other
// network of this machine holds (a lock file per offset, and a check that
// every port is free), so several test processes and a developer's own
// network run side by side. Cleanup stops every process and checks that no
// port of the network still listens.
package fabrictest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Environment variables read by the package.
const (
	// EnvRelease names the Fabric release dir (bin/, config/, builders/ccaas/).
	EnvRelease = "EIDGATE_TEST_FABRIC"
	// EnvRequired, when "true", makes a missing release a test failure.
	EnvRequired = "EIDGATE_TEST_FABRIC_REQUIRED"
)

// binaries the network needs from the release.
var releaseBinaries = []string{"peer", "orderer", "osnadmin", "configtxgen", "configtxlator", "cryptogen", "fabric-ca-server", "fabric-ca-client"}

// Release returns the Fabric release dir named by EIDGATE_TEST_FABRIC after
// checking it holds the binaries, sample config and ccaas builder. It skips
// the test when the variable is unset, unless EIDGATE_TEST_FABRIC_REQUIRED
// is true; an unusable release is always a failure.
func Release(t testing.TB) string {
	t.Helper()
	dir := os.Getenv(EnvRelease)
	if dir == "" {
		if os.Getenv(EnvRequired) == "true" {
			t.Fatalf("%s=true but %s is unset: the real-Fabric tests must run here", EnvRequired, EnvRelease)
		}
		t.Skipf("skipping: no Fabric release (set %s to an unpacked Fabric 2.5 release dir with bin/, config/ and builders/ccaas/)", EnvRelease)
	}
	if err := CheckRelease(dir); err != nil {
		t.Fatalf("%s=%s: %v", EnvRelease, dir, err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// CheckRelease reports what a Fabric release dir lacks.
func CheckRelease(dir string) error {
	var missing []string
	for _, b := range releaseBinaries {
		if fi, err := os.Stat(filepath.Join(dir, "bin", b)); err != nil || fi.Mode()&0o111 == 0 {
			missing = append(missing, "bin/"+b)
		}
	}
	for _, f := range []string{"config/core.yaml", "config/orderer.yaml", "builders/ccaas/bin/detect"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("not a Fabric release dir, missing %s", strings.Join(missing, ", "))
	}
	return nil
}

// RepoRoot is the root of the eidgate module (the nearest go.mod above the
// working directory).
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.HasPrefix(b, []byte("module github.com/eidgate/eidgate\n")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("not inside the eidgate module")
		}
		dir = parent
	}
}

// Binaries are the eidgate programs a network runs.
type Binaries struct {
	Eidgate   string // eidgate (packages the chaincode; the gateway)
	Chaincode string // eidgate-chaincode (the chaincode server)
}

// Build builds eidgate and eidgate-chaincode from the repository into a
// temp dir of t.
func Build(t testing.TB) Binaries {
	t.Helper()
	dir := t.TempDir()
	b := Binaries{Eidgate: filepath.Join(dir, "eidgate"), Chaincode: filepath.Join(dir, "eidgate-chaincode")}
	cmd := exec.Command("go", "build", "-o", dir+string(os.PathSeparator), "./cmd/eidgate", "./cmd/eidgate-chaincode")
	cmd.Dir = RepoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return b
}

// Options shape a network.
type Options struct {
	// Orderers is 3 (Raft, the default) or 1.
	Orderers int
	// Deploy runs `network.sh deploy` after up.
	Deploy bool
	// Binaries to use; built from the repository when empty.
	Binaries Binaries
	// Dir is the work dir; a new temp dir when empty.
	Dir string
}

// Network is a running network.
type Network struct {
	// Dir is the work dir: gateway/ profiles, identities/, crypto-config/, logs/.
	Dir string
	// Offset is the port offset of every node.
	Offset int
	// Release is the Fabric release dir.
	Release  string
	Binaries Binaries

	script string
	env    []string
	lock   *os.File
	down   bool
}

// Offsets tried in turn. Each network spans ports 7050+offset to
// 10054+offset; these keep below Linux's ephemeral range (32768-) first.
var offsets = []int{10000, 14000, 18000, 22000, 26000, 30000, 34000, 38000, 42000, 46000, 50000}

// Start brings a network up (and deploys the chaincode when asked) and
// registers its teardown with t.Cleanup. It skips as Release does.
func Start(t testing.TB, opt Options) *Network {
	t.Helper()
	release := Release(t)
	if _, err := exec.LookPath("jq"); err != nil {
		t.Fatalf("jq is not installed; network.sh needs it")
	}
	if opt.Orderers == 0 {
		opt.Orderers = 3
	}
	if opt.Binaries.Eidgate == "" {
		opt.Binaries = Build(t)
	}
	dir := opt.Dir
	if dir == "" {
		dir = filepath.Join(t.TempDir(), "network")
	}
	n := &Network{
		Dir: dir, Release: release, Binaries: opt.Binaries,
		script: filepath.Join(RepoRoot(t), "deploy", "fabric", "network.sh"),
	}
	t.Cleanup(func() { n.cleanup(t) })
	for _, off := range offsets {
		lock, ok := lockOffset(off)
		if !ok {
			continue
		}
		n.lock, n.Offset = lock, off
		n.env = n.environ(opt.Orderers)
		out, err := n.Run(context.Background(), "up")
		if err == nil {
			break
		}
		_, _ = n.Run(context.Background(), "down")
		n.unlock()
		if strings.Contains(out, "ports already in use") {
			t.Logf("port offset %d is taken: %s", off, lastLine(out))
			continue
		}
		t.Fatalf("network.sh up: %v\n%s", err, out)
	}
	if n.lock == nil {
		t.Fatal("no free port offset for a Fabric network")
	}
	if opt.Deploy {
		n.Must(t, "deploy")
	}
	return n
}

func (n *Network) environ(orderers int) []string {
	env := os.Environ()
	for i, kv := range env {
		if strings.HasPrefix(kv, "PATH=") {
			env[i] = "PATH=" + filepath.Join(n.Release, "bin") + string(os.PathListSeparator) + strings.TrimPrefix(kv, "PATH=")
		}
	}
	return append(env,
		"EIDGATE_NETWORK_DIR="+n.Dir,
		"EIDGATE_PORT_OFFSET="+strconv.Itoa(n.Offset),
		"ORDERERS="+strconv.Itoa(orderers),
		"FABRIC_CFG_DIR="+filepath.Join(n.Release, "config"),
		"CCAAS_BUILDER_DIR="+filepath.Join(n.Release, "builders", "ccaas"),
		"EIDGATE_BIN="+n.Binaries.Eidgate,
		"EIDGATE_CHAINCODE_BIN="+n.Binaries.Chaincode,
	)
}

// Env is the environment network.sh runs with: the release's bin/ first on
// PATH, and the network's settings.
func (n *Network) Env() []string { return append([]string(nil), n.env...) }

// Run runs network.sh with args (and extra NAME=VALUE settings in ctx's
// command) and returns its combined output.
func (n *Network) Run(ctx context.Context, args ...string) (string, error) {
	return n.RunEnv(ctx, nil, args...)
}

// RunEnv runs network.sh with extra environment settings.
func (n *Network) RunEnv(ctx context.Context, extra []string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{n.script}, args...)...)
	cmd.Env = append(n.Env(), extra...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// Must runs network.sh with args and fails t when it fails.
func (n *Network) Must(t testing.TB, args ...string) string {
	t.Helper()
	out, err := n.Run(context.Background(), args...)
	if err != nil {
		t.Fatalf("network.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// Profile is the path of the connection profile of identity name of org
// (e.g. "platform", "agent"): gateway/<org>-<name>.yaml.
func (n *Network) Profile(org, name string) string {
	return filepath.Join(n.Dir, "gateway", org+"-"+name+".yaml")
}

// AgentProfile is the gateway's own identity (eidgate.role=agent).
func (n *Network) AgentProfile() string { return n.Profile("platform", "agent") }

// AdminProfile is the platform's eidgate administrator (eidgate.role=admin).
func (n *Network) AdminProfile() string { return n.Profile("platform", "platform-admin") }

// Org is a peer organisation of the network.
type Org struct {
	Key, MSPID, Domain string
	Peer               string // host:port of its peer
	PeerOperations     string // host:port of the peer's operations endpoint
	CA                 string // host:port of its Fabric CA
	Dept               string // eidgate department id; empty for the platform
}

// PeerTLSCA is the path of the CA certificate of the org's peer TLS certificate.
func (n *Network) PeerTLSCA(o Org) string {
	return filepath.Join(n.Dir, "crypto-config", "peerOrganizations", o.Domain, "peers", "peer0."+o.Domain, "tls", "ca.crt")
}

// AdminMSP is the org's Fabric administrator MSP folder (cryptogen's Admin@).
func (n *Network) AdminMSP(o Org) string {
	return filepath.Join(n.Dir, "crypto-config", "peerOrganizations", o.Domain, "users", "Admin@"+o.Domain, "msp")
}

// IdentityMSP is the MSP folder of a client identity the org's Fabric CA enrolled.
func (n *Network) IdentityMSP(o Org, name string) string {
	return filepath.Join(n.Dir, "identities", o.Key, name, "msp")
}

// OrdererTLSCA is the path of the orderers' TLS CA certificate.
func (n *Network) OrdererTLSCA() string {
	return filepath.Join(n.Dir, "crypto-config", "ordererOrganizations", "orderer.eidgate.example", "tlsca", "tlsca.orderer.eidgate.example-cert.pem")
}

// Orgs lists the peer organisations, addorg's included, from the work dir.
func (n *Network) Orgs(t testing.TB) []Org {
	t.Helper()
	var orgs []Org
	for _, f := range n.records(t, "orgs", 9) {
		orgs = append(orgs, Org{
			Key: f[0], MSPID: f[1], Domain: f[2],
			Peer: "127.0.0.1:" + f[3], PeerOperations: "127.0.0.1:" + f[5], CA: "127.0.0.1:" + f[6], Dept: f[8],
		})
	}
	return orgs
}

// Org returns the organisation with key (e.g. "edubureau").
func (n *Network) Org(t testing.TB, key string) Org {
	t.Helper()
	for _, o := range n.Orgs(t) {
		if o.Key == key {
			return o
		}
	}
	t.Fatalf("no organisation %s in the network", key)
	return Org{}
}

// Orderer is an ordering node.
type Orderer struct {
	Name, Address, Admin, Operations string // host:port each
}

// Orderers lists the ordering nodes.
func (n *Network) Orderers(t testing.TB) []Orderer {
	t.Helper()
	var out []Orderer
	for _, f := range n.records(t, "orderers", 4) {
		out = append(out, Orderer{Name: f[0], Address: "127.0.0.1:" + f[1], Admin: "127.0.0.1:" + f[2], Operations: "127.0.0.1:" + f[3]})
	}
	return out
}

func (n *Network) records(t testing.TB, file string, fields int) [][]string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(n.Dir, file))
	if err != nil {
		t.Fatalf("network records: %v", err)
	}
	var out [][]string
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		f := strings.Split(line, "|")
		if len(f) != fields {
			t.Fatalf("%s: malformed record %q", file, line)
		}
		out = append(out, f)
	}
	return out
}

// PeerCLI returns a `peer` command run as the Fabric identity in mspDir
// of org, against org's peer (TLS checked against its own CA). args are
// the peer CLI's arguments, e.g. "chaincode", "query", ….
func (n *Network) PeerCLI(ctx context.Context, o Org, mspDir string, args ...string) *exec.Cmd {
	return n.PeerCLIAt(ctx, o, o, mspDir, args...)
}

// PeerCLIAt returns a `peer` command run as the identity in mspDir of org
// id against the peer of org peer: e.g. the platform's agent reading the
// ledger at a department's peer.
func (n *Network) PeerCLIAt(ctx context.Context, peer, id Org, mspDir string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(n.Release, "bin", "peer"), args...)
	cmd.Env = append(n.Env(),
		"FABRIC_CFG_PATH="+filepath.Join(n.Dir, "nodes", "peer0."+peer.Key),
		"FABRIC_LOGGING_SPEC=warning",
		"CORE_PEER_LOCALMSPID="+id.MSPID,
		"CORE_PEER_MSPCONFIGPATH="+mspDir,
		"CORE_PEER_ADDRESS="+peer.Peer,
		"CORE_PEER_TLS_ENABLED=true",
		"CORE_PEER_TLS_ROOTCERT_FILE="+n.PeerTLSCA(peer),
	)
	return cmd
}

// Ports lists every port the network's nodes may listen on (network.sh ports).
func (n *Network) Ports(t testing.TB) []int {
	t.Helper()
	out := n.Must(t, "ports")
	var ports []int
	for _, f := range strings.Fields(out) {
		p, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("network.sh ports: %q", out)
		}
		ports = append(ports, p)
	}
	return ports
}

// Listening returns the ports of ports that accept a connection on 127.0.0.1.
func Listening(ports []int) []int {
	var open []int
	for _, p := range ports {
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)), 500*time.Millisecond)
		if err == nil {
			c.Close()
			open = append(open, p)
		}
	}
	return open
}

// Processes returns the PIDs network.sh recorded that are still alive.
func (n *Network) Processes() map[string]int {
	alive := map[string]int{}
	files, _ := filepath.Glob(filepath.Join(n.Dir, "pids", "*.pid"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			continue
		}
		if processAlive(pid) {
			alive[strings.TrimSuffix(filepath.Base(f), ".pid")] = pid
		}
	}
	return alive
}

func processAlive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// The state follows the command name in parentheses; Z is a zombie.
	if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z'
	}
	return true
}

// Down stops the network (network.sh down) and checks that none of its
// processes is left and none of its ports listens. Cleanup calls it too.
func (n *Network) Down(t testing.TB) {
	t.Helper()
	if n.down {
		return
	}
	ports := n.Ports(t)
	procs := n.Processes()
	out, err := n.Run(context.Background(), "down")
	n.down = true
	n.unlock()
	if err != nil {
		t.Errorf("network.sh down: %v\n%s", err, out)
	}
	for name, pid := range procs {
		if processAlive(pid) {
			t.Errorf("%s (pid %d) still runs after down", name, pid)
		}
	}
	if open := Listening(ports); len(open) > 0 {
		t.Errorf("ports still listening after down: %v", open)
	}
	if _, err := os.Stat(n.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("down left %s behind", n.Dir)
	}
}

func (n *Network) cleanup(t testing.TB) {
	if n.down || n.lock == nil {
		n.unlock()
		return
	}
	if t.Failed() {
		n.logTails(t)
	}
	n.Down(t)
}

// logTails logs the end of every node's log, so a failure explains itself.
func (n *Network) logTails(t testing.TB) {
	files, _ := filepath.Glob(filepath.Join(n.Dir, "logs", "*.log"))
	for _, f := range files {
		lines := tail(f, 25)
		if len(lines) > 0 {
			t.Logf("--- %s (last %d lines)\n%s", filepath.Base(f), len(lines), strings.Join(lines, "\n"))
		}
	}
}

func tail(path string, n int) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return lines
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// lockOffset takes the machine-wide lock of a port offset: a lock file in
// the temp dir held with flock for the network's life (released when the
// process ends, however it ends).
func lockOffset(off int) (*os.File, bool) {
	f, err := os.OpenFile(filepath.Join(os.TempDir(), fmt.Sprintf("eidgate-fabric-offset-%d.lock", off)), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, false
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, false
	}
	return f, true
}

func (n *Network) unlock() {
	if n.lock != nil {
		_ = syscall.Flock(int(n.lock.Fd()), syscall.LOCK_UN)
		n.lock.Close()
		n.lock = nil
	}
}
