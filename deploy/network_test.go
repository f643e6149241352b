package deploy

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eidgate/eidgate/deploy/ccpackage"
	"github.com/eidgate/eidgate/ledger"
	"gopkg.in/yaml.v3"
)

// networkPorts are the 127.0.0.1 ports network.sh waits for: CAs, orderers
// (general and admin), peers and the chaincode server.
var networkPorts = []string{
	"7054", "8054", "9054",
	"7050", "7053", "8050", "8053", "9050", "9053",
	"7051", "8051", "9051",
	"9999",
}

// TestNetworkScriptLifecycle runs network.sh up, deploy, deploy (upgrade)
// and down against stand-ins for the Fabric binaries
// (testdata/fabric-stubs) while this test listens on the node ports. It
// checks the orchestration a real network depends on: what is started with
// which settings, the channel joins, the CCaaS lifecycle with a new sequence
// per deploy, package IDs agreeing with the peer's calculation, and a clean
// teardown.
func TestNetworkScriptLifecycle(t *testing.T) {
	for _, tool := range []string{"bash", "tar", "sha256sum", "awk", "sed", "od"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	for _, port := range networkPorts {
		ln, err := net.Listen("tcp", "127.0.0.1:"+port)
		if err != nil {
			t.Skipf("port %s is busy, cannot stand in for the node: %v", port, err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}

	tmp := t.TempDir()
	stubs, err := filepath.Abs("testdata/fabric-stubs")
	if err != nil {
		t.Fatal(err)
	}
	fabric := filepath.Join(tmp, "fabric")
	writeFile(t, filepath.Join(fabric, "config", "orderer.yaml"), "General:\n    ListenPort: 7050\n")
	writeFile(t, filepath.Join(fabric, "config", "core.yaml"), sampleCoreYAML)
	writeFile(t, filepath.Join(fabric, "builders", "ccaas", "bin", "detect"), "#!/bin/sh\nexit 0\n")
	if err := os.Chmod(filepath.Join(fabric, "builders", "ccaas", "bin", "detect"), 0o755); err != nil {
		t.Fatal(err)
	}
	eidgate := filepath.Join(tmp, "eidgate")
	build := exec.Command("go", "build", "-o", eidgate, "../cmd/eidgate")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	state := filepath.Join(tmp, "state")
	if err := os.Mkdir(state, 0o755); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(tmp, "network")
	env := append(os.Environ(),
		"PATH="+stubs+string(os.PathListSeparator)+os.Getenv("PATH"),
		"STUB_STATE="+state,
		"EIDGATE_NETWORK_DIR="+work,
		"FABRIC_CFG_DIR="+filepath.Join(fabric, "config"),
		"CCAAS_BUILDER_DIR="+filepath.Join(fabric, "builders", "ccaas"),
		"EIDGATE_BIN="+eidgate,
		"EIDGATE_CHAINCODE_BIN="+filepath.Join(stubs, "eidgate-chaincode"),
	)
	script := func(extraEnv []string, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "bash", append([]string{"fabric/network.sh"}, args...)...)
		cmd.Env = append(append([]string{}, env...), extraEnv...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Fatalf("network.sh %v: %v\n%s", args, err, out.String())
		}
		return out.String()
	}
	t.Cleanup(func() {
		if _, err := os.Stat(work); err == nil {
			cmd := exec.Command("bash", "fabric/network.sh", "down")
			cmd.Env = env
			_ = cmd.Run()
		}
	})
	calls := func() string {
		b, _ := os.ReadFile(filepath.Join(state, "calls"))
		return string(b)
	}

	script(nil, "up")
	log := calls()
	for _, want := range []string{
		"cryptogen generate --config=",
		"--id.attrs eidgate.role=agent:ecert",
		"--id.attrs eidgate.role=admin:ecert",
		"--id.attrs eidgate.role=department:ecert,eidgate.dept=edu-bureau:ecert",
		"--id.attrs eidgate.role=department:ecert,eidgate.dept=civil-affairs:ecert",
		"orderer port=7050 admin=127.0.0.1:7053 bootstrap=none participation=true",
		"orderer port=9050 admin=127.0.0.1:9053 bootstrap=none participation=true",
		"configtxgen -profile eidgate -outputBlock " + filepath.Join(work, "channel-artifacts", "eidgate.block") + " -channelID eidgate CFG=" + work,
		"osnadmin channel join --channelID eidgate",
		`builder-config={"peername":"peer0platform"}`,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("up did not run %q; calls:\n%s", want, log)
		}
	}
	if n := strings.Count(log, "osnadmin channel join"); n != 3 {
		t.Errorf("%d orderers joined, want 3", n)
	}
	if n := strings.Count(log, "peer channel join -b"); n != 3 {
		t.Errorf("%d peers joined, want 3", n)
	}
	// The configtx copy points the nodes at 127.0.0.1, nothing else changed.
	cfg, err := os.ReadFile(filepath.Join(work, "configtx.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(cfg, []byte("Host: peer0.")) || bytes.Contains(cfg, []byte("- orderer0.orderer.eidgate.example:7050")) || !bytes.Contains(cfg, []byte("MSPDir: crypto-config/peerOrganizations/platform.eidgate.example/msp")) {
		t.Errorf("configtx.yaml copy not rewritten as expected")
	}
	// Each peer's core.yaml names the local ccaas builder.
	core := documents(t, filepath.Join(work, "nodes", "peer0.platform", "core.yaml"))[0]
	b := get(t, core, "chaincode", "externalBuilders", 0)
	if str(t, b, "path") != filepath.Join(fabric, "builders", "ccaas") || get(t, b, "propagateEnvironment", 0) != "CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG" {
		t.Errorf("core.yaml builder %v", b)
	}
	if str(t, core, "chaincode", "installTimeout") != "300s" {
		t.Errorf("core.yaml lost the keys after externalBuilders")
	}
	// Gateway profiles have the ledger.Profile shape.
	for _, name := range []string{"platform-agent", "platform-platform-admin", "edubureau-department", "civilaffairs-department"} {
		raw, err := os.ReadFile(filepath.Join(work, "gateway", name+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		var p ledger.Profile
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		dec.KnownFields(true)
		if err := dec.Decode(&p); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if p.Channel != "eidgate" || p.Chaincode != "eidgate" || p.MSP.Dir == "" || p.Peer.HostOverride == "" {
			t.Errorf("%s: %+v", name, p)
		}
	}

	out := script(nil, "deploy")
	pkg, err := os.ReadFile(filepath.Join(work, "chaincode", "eidgate.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	first := ccpackage.PackageID("eidgate_1.0", pkg)
	log = calls()
	for _, want := range []string{
		"chaincode address=127.0.0.1:9999 id=" + first + " core=" + first + " tls_disabled=true",
		"--package-id " + first + " --sequence 1",
		"commit -o 127.0.0.1:7050",
		"--sequence 1 --peerAddresses 127.0.0.1:7051",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("deploy did not run %q; output:\n%s\ncalls:\n%s", want, out, log)
		}
	}
	if n := strings.Count(log, "lifecycle chaincode install"); n != 3 {
		t.Errorf("%d installs, want one per peer", n)
	}

	script([]string{"CC_VERSION=1.1"}, "deploy")
	pkg, err = os.ReadFile(filepath.Join(work, "chaincode", "eidgate.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	second := ccpackage.PackageID("eidgate_1.1", pkg)
	log = calls()
	if !strings.Contains(log, "--version 1.1 --package-id "+second+" --sequence 2") || !strings.Contains(log, "id="+second) {
		t.Errorf("upgrade did not approve %s at sequence 2; calls:\n%s", second, log)
	}

	script(nil, "down")
	if _, err := os.Stat(work); !os.IsNotExist(err) {
		t.Errorf("down left %s behind", work)
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// sampleCoreYAML is the chaincode section of Fabric 2.5's sampleconfig
// core.yaml around externalBuilders, as the release ships it.
const sampleCoreYAML = `peer:
    id: jdoe
chaincode:
    node:
        # This is an image based on node:$(NODE_VER)-alpine
        runtime: $(DOCKER_NS)/fabric-nodeenv:$(TWO_DIGIT_VERSION)

    # List of directories to treat as external builders and launchers for
    # chaincode. The external builder detection processing will iterate over the
    # builders in the order specified below.
    # If you don't need to fallback to the default Docker builder, also unconfigure vm.endpoint above.
    # To override this property via env variable use CORE_CHAINCODE_EXTERNALBUILDERS: [{name: x, path: dir1}, {name: y, path: dir2}]
    externalBuilders:
       - name: ccaas_builder
         path: /opt/hyperledger/ccaas_builder
         propagateEnvironment:
           - CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG


    # The maximum duration to wait for the chaincode build and install process
    # to complete.
    installTimeout: 300s
`
