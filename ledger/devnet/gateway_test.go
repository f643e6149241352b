package devnet_test

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eidgate/eidgate/ledger"
	"github.com/eidgate/eidgate/ledger/devnet"
	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"google.golang.org/protobuf/proto"
)

func TestRoundTripOverTLSAndInProcess(t *testing.T) {
	p := openPeer(t, "", nil)
	for name, c := range map[string]interface {
		Network() *client.Network
	}{
		"tls":        overTLS(t, p, devnet.PlatformOrg, devnet.AgentName),
		"in-process": inProcess(t, p, devnet.PlatformOrg, devnet.AgentName),
	} {
		t.Run(name, func(t *testing.T) {
			contract := c.Network().GetContract(testChaincode)
			if _, err := contract.SubmitTransaction("Put", "k-"+name, "v1"); err != nil {
				t.Fatalf("submit: %v", err)
			}
			got, err := contract.EvaluateTransaction("Get", "k-"+name)
			if err != nil {
				t.Fatalf("evaluate: %v", err)
			}
			if string(got) != "v1" {
				t.Fatalf("Get = %q, want v1", got)
			}
		})
	}
}

func TestLedgerOperations(t *testing.T) {
	p := openPeer(t, "", nil)
	c := inProcess(t, p, devnet.PlatformOrg, devnet.AgentName)
	contract := c.Network().GetContract(testChaincode)
	submit := func(fn string, args ...string) {
		t.Helper()
		if _, err := contract.SubmitTransaction(fn, args...); err != nil {
			t.Fatalf("%s %v: %v", fn, args, err)
		}
	}
	evaluate := func(fn string, args ...string) string {
		t.Helper()
		out, err := contract.EvaluateTransaction(fn, args...)
		if err != nil {
			t.Fatalf("%s %v: %v", fn, args, err)
		}
		return string(out)
	}
	submit("Put", "h", "1")
	submit("Put", "h", "2")
	submit("Del", "h")
	submit("Put", "h", "3")
	if got := evaluate("History", "h"); got != `["3","(deleted)","2","1"]` {
		t.Fatalf("history %s, want newest first with the delete", got)
	}
	submit("Put", "a/1", "x")
	submit("Put", "a/2", "x")
	submit("Put", "b/1", "x")
	if got := evaluate("Keys", "a/", "a/~"); got != `["a/1","a/2"]` {
		t.Fatalf("range %s", got)
	}
	if _, err := contract.EvaluateTransaction("Get", "missing"); err == nil || !strings.Contains(err.Error(), "chaincode response 500, NOT_FOUND: key missing does not exist") {
		t.Fatalf("missing key: %v", err)
	}

	height, err := c.BlockHeight(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if height != p.Height() {
		t.Fatalf("qscc height %d, peer height %d", height, p.Height())
	}
	raw, err := c.Network().GetContract("qscc").EvaluateTransaction("GetChainInfo", p.Channel())
	if err != nil {
		t.Fatal(err)
	}
	var info common.BlockchainInfo
	if err := proto.Unmarshal(raw, &info); err != nil {
		t.Fatal(err)
	}
	lastRaw, err := c.Network().GetContract("qscc").EvaluateTransaction("GetBlockByNumber", p.Channel(), strconv.FormatUint(height-1, 10))
	if err != nil {
		t.Fatal(err)
	}
	var last common.Block
	if err := proto.Unmarshal(lastRaw, &last); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(last.GetHeader().GetPreviousHash(), info.GetPreviousBlockHash()) || len(info.GetCurrentBlockHash()) != 32 {
		t.Fatalf("chain info %x/%x does not match block %d", info.GetCurrentBlockHash(), info.GetPreviousBlockHash(), height-1)
	}
	if _, err := c.Network().GetContract("qscc").EvaluateTransaction("GetChainInfo", "nochannel"); err == nil || !strings.Contains(err.Error(), "chaincode response 500, Invalid chain ID, nochannel") {
		t.Fatalf("qscc on another channel: %v", err)
	}
}

func TestIdentitiesAndProfiles(t *testing.T) {
	dir := t.TempDir()
	p := openPeer(t, dir, func(c *devnet.Config) { c.RequireClientCert = true })
	if _, err := p.IssueIdentity("edu", "clerk", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := p.IssueIdentity(devnet.PlatformOrg, "ops", map[string]string{"eidgate.role": "admin"}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ org, name, want string }{
		{devnet.PlatformOrg, devnet.AgentName, "PlatformMSP/agent/"},
		{devnet.PlatformOrg, devnet.AdminName, "PlatformMSP/admin/"},
		{devnet.PlatformOrg, "ops", "PlatformMSP/admin/"},
		{"edu", devnet.DepartmentSystemName, "EduMSP/department/edu"},
		{"edu", "clerk", "EduMSP/department/edu"},
	} {
		c := overTLS(t, p, tt.org, tt.name) // mutual TLS: the profile carries the client certificate
		got, err := c.Network().GetContract(testChaincode).EvaluateTransaction("Whoami")
		if err != nil {
			t.Fatalf("%s/%s: %v", tt.org, tt.name, err)
		}
		if string(got) != tt.want {
			t.Fatalf("%s/%s is %q, want %q", tt.org, tt.name, got, tt.want)
		}
	}
	if _, err := p.IssueIdentity("edu", "../escape", nil); err == nil {
		t.Fatal("an identity name with a path was accepted")
	}
	if _, err := p.Profile("nosuch", "x"); err == nil {
		t.Fatal("profile of an unknown organisation")
	}
	names, err := p.Identities("edu")
	if err != nil || strings.Join(names, ",") != "clerk,system" {
		t.Fatalf("edu identities %v %v", names, err)
	}

	// Without a client certificate the TLS listener refuses the caller.
	prof, err := p.Profile(devnet.PlatformOrg, devnet.AgentName)
	if err != nil {
		t.Fatal(err)
	}
	prof.Peer.ClientCert, prof.Peer.ClientKey = "", ""
	prof.Timeouts.Dial = time.Second
	if _, err := ledger.Dial(context.Background(), prof); err == nil {
		t.Fatal("dial without a client certificate succeeded")
	}
}

func TestRestartKeepsCryptoAndAddsOrganisations(t *testing.T) {
	dir := t.TempDir()
	p := openPeer(t, dir, nil)
	c := inProcess(t, p, devnet.PlatformOrg, devnet.AgentName)
	put(t, c, "before", "1")
	height := p.Height()
	_ = c.Close()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	// A second department joins: the peer appends a configuration block.
	p = openPeer(t, dir, func(cfg *devnet.Config) { cfg.Orgs = append(cfg.Orgs, devnet.OrgConfig{ID: "hr"}) })
	if p.Height() != height+1 {
		t.Fatalf("height %d after adding an organisation, want %d", p.Height(), height+1)
	}
	hr := inProcess(t, p, "hr", devnet.DepartmentSystemName)
	got, err := hr.Network().GetContract(testChaincode).EvaluateTransaction("Get", "before")
	if err != nil || string(got) != "1" {
		t.Fatalf("hr reads %q %v", got, err)
	}
	// The original identities still work: the crypto material was reused.
	edu := inProcess(t, p, "edu", devnet.DepartmentSystemName)
	put(t, edu, "after", "2")
	if _, err := p.Verify(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestSecondPeerOnTheSameDataDirIsRefused(t *testing.T) {
	dir := t.TempDir()
	openPeer(t, dir, nil)
	_, err := devnet.Open(context.Background(), devnet.Config{DataDir: dir, Chaincodes: nil})
	if err == nil || !strings.Contains(err.Error(), "in use by another process") {
		t.Fatalf("second Open on a data dir in use: %v", err)
	}
}
