// Command eidgate-chaincode runs the eidgate contract as an external
// chaincode service (chaincode as a service) for Fabric 2.5 peers.
//
// Environment:
//
//	CHAINCODE_SERVER_ADDRESS   host:port to listen on (required)
//	CHAINCODE_ID               the package id the peer assigned on install (required)
//	CHAINCODE_TLS_DISABLED     "true" (default) or "false"
//	CHAINCODE_TLS_KEY          PEM private key file (TLS only)
//	CHAINCODE_TLS_CERT         PEM certificate file (TLS only)
//	CHAINCODE_CLIENT_CA_CERT   PEM CA file to verify peers (TLS only; optional, enables client authentication)
//	EIDGATE_PLATFORM_MSPID     MSP whose identities may act as admin or agent (default PlatformMSP)
package main

import (
	"errors"
	"fmt"
	"log"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"

	"github.com/eidgate/eidgate/chaincode"
)

func main() {
	server, err := newServer(os.LookupEnv, os.ReadFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "eidgate-chaincode:", err)
		os.Exit(2)
	}
	log.Print(startLine(server, debug.ReadBuildInfo))
	if err := server.Start(); err != nil {
		log.Fatalf("eidgate-chaincode: %v", err)
	}
}

// Version is the build's version, set with -ldflags "-X main.Version=…";
// without it the module version and VCS revision of the build are shown.
var Version = ""

// startLine says what runs: the package the peer installed (its label is
// the part of CHAINCODE_ID before the hash, e.g. eidgate_1.1), the build,
// the contract API version and where it listens.
func startLine(s *shim.ChaincodeServer, buildInfo func() (*debug.BuildInfo, bool)) string {
	return fmt.Sprintf("eidgate-chaincode package %s (label %s), build %s, contract API %s, listening on %s, TLS %s",
		s.CCID, packageLabel(s.CCID), buildVersion(buildInfo), chaincode.Version, s.Address, tlsState(s))
}

// packageLabel is the label of a package id "label:sha256hex".
func packageLabel(ccid string) string {
	if i := strings.LastIndexByte(ccid, ':'); i > 0 {
		return ccid[:i]
	}
	return ccid
}

// buildVersion is Version, else the module version and VCS revision the
// Go toolchain recorded.
func buildVersion(buildInfo func() (*debug.BuildInfo, bool)) string {
	if Version != "" {
		return Version
	}
	bi, ok := buildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	var rev, modified string
	for _, kv := range bi.Settings {
		switch kv.Key {
		case "vcs.revision":
			rev = kv.Value
		case "vcs.modified":
			if kv.Value == "true" {
				modified = "+modified"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" {
		v += " " + rev + modified
	}
	return v
}

func tlsState(s *shim.ChaincodeServer) string {
	switch {
	case s.TLSProps.Disabled:
		return "off"
	case len(s.TLSProps.ClientCACerts) > 0:
		return "on, client certificates required"
	default:
		return "on"
	}
}

// newServer builds the chaincode server from the environment, reporting
// every missing or unreadable setting at once.
func newServer(lookup func(string) (string, bool), readFile func(string) ([]byte, error)) (*shim.ChaincodeServer, error) {
	var problems []string
	get := func(name string) string {
		v, _ := lookup(name)
		return strings.TrimSpace(v)
	}
	required := func(name, what string) string {
		v := get(name)
		if v == "" {
			problems = append(problems, fmt.Sprintf("%s is not set (%s)", name, what))
		}
		return v
	}
	address := required("CHAINCODE_SERVER_ADDRESS", "the host:port the peer connects to")
	ccid := required("CHAINCODE_ID", "the package id from `peer lifecycle chaincode queryinstalled`")
	if address != "" && !strings.Contains(address, ":") {
		problems = append(problems, fmt.Sprintf("CHAINCODE_SERVER_ADDRESS %q is not host:port", address))
	}

	tlsDisabled := true
	if v := get("CHAINCODE_TLS_DISABLED"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			problems = append(problems, fmt.Sprintf("CHAINCODE_TLS_DISABLED %q is not true or false", v))
		}
		tlsDisabled = b || err != nil
	}
	props := shim.TLSProperties{Disabled: tlsDisabled}
	if !tlsDisabled {
		read := func(name string, need bool) []byte {
			path := get(name)
			if path == "" {
				if need {
					problems = append(problems, fmt.Sprintf("%s is not set (required when CHAINCODE_TLS_DISABLED=false)", name))
				}
				return nil
			}
			b, err := readFile(path)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", name, err))
			}
			return b
		}
		props.Key = read("CHAINCODE_TLS_KEY", true)
		props.Cert = read("CHAINCODE_TLS_CERT", true)
		props.ClientCACerts = read("CHAINCODE_CLIENT_CA_CERT", false)
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "; "))
	}

	cc, err := chaincode.NewChaincode(get("EIDGATE_PLATFORM_MSPID"))
	if err != nil {
		return nil, fmt.Errorf("build the contract: %w", err)
	}
	return &shim.ChaincodeServer{CCID: ccid, Address: address, CC: cc, TLSProps: props}, nil
}
