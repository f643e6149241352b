package devnet_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/eidgate/eidgate/chaincode"
	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/ledger"
	"github.com/eidgate/eidgate/ledger/devnet"
	"github.com/eidgate/eidgate/routing"
	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// majorityNetwork is the consortium of deploy/fabric/configtx.yaml on the
// devnet: the platform and two departments, each with a peer, and the
// chaincode under MAJORITY Endorsement (two of three organisations).
func majorityNetwork(t *testing.T, dir string) *devnet.Peer {
	t.Helper()
	cc, err := chaincode.NewChaincode(devnet.DefaultPlatformMSPID)
	if err != nil {
		t.Fatal(err)
	}
	return openPeer(t, dir, func(c *devnet.Config) {
		c.Orgs = []devnet.OrgConfig{{ID: "edu-bureau", Peer: true}, {ID: "civil-affairs", Peer: true}}
		c.Endorsement = devnet.EndorseMajority
		c.Chaincodes[devnet.DefaultChaincode] = cc
		c.ProfileChaincode = devnet.DefaultChaincode
	})
}

// endorsers lists the MSP ids of a prepared transaction's endorsements.
func endorsers(t *testing.T, tx *client.Transaction) []string {
	t.Helper()
	raw, err := tx.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	var pt gateway.PreparedTransaction
	var payload common.Payload
	var txn peer.Transaction
	var cap peer.ChaincodeActionPayload
	if err := proto.Unmarshal(raw, &pt); err != nil {
		t.Fatal(err)
	}
	if err := proto.Unmarshal(pt.GetEnvelope().GetPayload(), &payload); err != nil {
		t.Fatal(err)
	}
	if err := proto.Unmarshal(payload.GetData(), &txn); err != nil {
		t.Fatal(err)
	}
	if err := proto.Unmarshal(txn.GetActions()[0].GetPayload(), &cap); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range cap.GetAction().GetEndorsements() {
		var sid msp.SerializedIdentity
		if err := proto.Unmarshal(e.GetEndorser(), &sid); err != nil {
			t.Fatal(err)
		}
		out = append(out, sid.GetMspid())
	}
	slices.Sort(out)
	return out
}

// endorseAs endorses Put(key) with the raw fabric-gateway client,
// optionally naming the endorsing organisations.
func endorseAs(t *testing.T, c *ledger.Client, key string, orgs ...string) (*client.Transaction, error) {
	t.Helper()
	opts := []client.ProposalOption{client.WithArguments(key, "v")}
	if len(orgs) > 0 {
		opts = append(opts, client.WithEndorsingOrganizations(orgs...))
	}
	proposal, err := c.Network().GetContract(testChaincode).NewProposal("Put", opts...)
	if err != nil {
		t.Fatal(err)
	}
	return proposal.Endorse()
}

func TestMajorityEndorsementAcrossOrganisations(t *testing.T) {
	t.Parallel()
	p := majorityNetwork(t, "")
	agent := inProcess(t, p, devnet.PlatformOrg, devnet.AgentName)
	ctx := context.Background()
	platform, edu, civil := devnet.DefaultPlatformMSPID, "EduBureauMSP", "CivilAffairsMSP"

	// All peers up: the gateway's own peer and the first department's.
	tx, err := endorseAs(t, agent, "all-up")
	if err != nil {
		t.Fatal(err)
	}
	if got := endorsers(t, tx); !slices.Equal(got, []string{edu, platform}) {
		t.Fatalf("endorsements from %v, want the platform and one department", got)
	}
	if _, err := tx.Submit(); err != nil {
		t.Fatal(err)
	}
	put(t, agent, "k1", "v1")

	// One department down: the other one endorses.
	if err := p.StopPeer("edu-bureau"); err != nil {
		t.Fatal(err)
	}
	tx, err = endorseAs(t, agent, "edu-down")
	if err != nil {
		t.Fatal(err)
	}
	if got := endorsers(t, tx); !slices.Equal(got, []string{civil, platform}) {
		t.Fatalf("endorsements from %v with edu down, want the platform and civil affairs", got)
	}

	// Two of three down: no set of live peers meets MAJORITY.
	if err := p.StopPeer("civil-affairs"); err != nil {
		t.Fatal(err)
	}
	_, err = endorseAs(t, agent, "two-down")
	wantStatus(t, err, codes.FailedPrecondition, "no combination of peers can be derived which satisfy the endorsement policy: no peer combination can satisfy the endorsement policy", "")
	_, err = agent.Network().GetContract(testChaincode).SubmitTransaction("Put", "x", "y")
	if st := status.Code(err); st != codes.FailedPrecondition {
		t.Fatalf("submit with two peers down: %v", err)
	}
	// The typed client answers ledger_unavailable with Fabric's reason.
	admin := inProcess(t, p, devnet.PlatformOrg, devnet.AdminName)
	_, err = admin.RegisterDepartment(ctx, model.Department{ID: "edu-bureau", Name: "Education Bureau", MSPID: edu})
	var re *routing.Error
	if !errors.As(err, &re) || re.Code != ledger.CodeUnavailable || !strings.Contains(re.Details[ledger.DetailReason], "no combination of peers") {
		t.Fatalf("typed write with two peers down: %v, want ledger_unavailable naming Fabric's reason", err)
	}
	if _, err := admin.GetDepartment(ctx, "edu-bureau"); routing.KindOf(err) != routing.KindNotFound {
		t.Fatalf("the refused write left something: %v", err)
	}
	// Reads need the gateway's own peer only.
	if v, err := agent.Network().GetContract(testChaincode).EvaluateTransaction("Get", "k1"); err != nil || string(v) != "v1" {
		t.Fatalf("read with two peers down: %q %v", v, err)
	}
	// Naming a stopped organisation: no endorser found.
	_, err = endorseAs(t, agent, "named", platform, edu)
	wantStatus(t, err, codes.Unavailable, "failed to find any endorsing peers for org(s): "+edu, "")

	// Back up: writes commit again.
	if err := p.StartPeer("edu-bureau"); err != nil {
		t.Fatal(err)
	}
	put(t, agent, "k2", "v2")
	if err := p.StopPeer(devnet.PlatformOrg); err == nil {
		t.Fatal("stopping the platform peer (the gateway's own) was accepted")
	}

	// The committer checks the policy: endorsed by the platform alone (the
	// client named it), the transaction is ordered and marked invalid.
	tx, err = endorseAs(t, agent, "platform-only", platform)
	if err != nil {
		t.Fatal(err)
	}
	if got := endorsers(t, tx); !slices.Equal(got, []string{platform}) {
		t.Fatalf("endorsements %v, want the platform's only", got)
	}
	commit, err := tx.Submit()
	if err != nil {
		t.Fatal(err)
	}
	st, err := commit.Status()
	if err != nil {
		t.Fatalf("err = %v, want nil; commit status %+v %v, want ENDORSEMENT_POLICY_FAILURE", err, st, err)
	}
	if st.Code != peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE {
		t.Fatalf("st.Code = %v, want peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE; commit status %+v %v, want ENDORSEMENT_POLICY_FAILURE", st.Code, st, err)
	}
	rep, err := p.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Codes["ENDORSEMENT_POLICY_FAILURE"] != 1 {
		t.Fatalf("verify codes %v, want one ENDORSEMENT_POLICY_FAILURE replayed", rep.Codes)
	}
}

// TestMajorityNeedsEnoughPeers: with MAJORITY over three organisations
// and only the platform running a peer, no write can be endorsed.
func TestMajorityNeedsEnoughPeers(t *testing.T) {
	t.Parallel()
	p := openPeer(t, "", func(c *devnet.Config) {
		c.Orgs = []devnet.OrgConfig{{ID: "edu-bureau"}, {ID: "civil-affairs"}}
		c.Endorsement = devnet.EndorseMajority
	})
	agent := inProcess(t, p, devnet.PlatformOrg, devnet.AgentName)
	_, err := endorseAs(t, agent, "lonely")
	wantStatus(t, err, codes.FailedPrecondition, "no combination of peers can be derived which satisfy the endorsement policy: no peer combination can satisfy the endorsement policy", "")
}

// TestEndorsementPolicyChangeRedefinesChaincode: a ledger made under the
// platform-only policy, reopened under MAJORITY, commits the chaincode's
// definition at the next sequence; history written before stays valid.
func TestEndorsementPolicyChangeRedefinesChaincode(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := openPeer(t, dir, func(c *devnet.Config) {
		c.Orgs = []devnet.OrgConfig{{ID: "edu-bureau"}, {ID: "civil-affairs"}}
	})
	put(t, inProcess(t, p, devnet.PlatformOrg, devnet.AgentName), "before", "1")
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	p = majorityNetwork(t, dir)
	agent := inProcess(t, p, devnet.PlatformOrg, devnet.AgentName)
	tx, err := endorseAs(t, agent, "after")
	if err != nil {
		t.Fatal(err)
	}
	if got := endorsers(t, tx); len(got) != 2 {
		t.Fatalf("endorsements %v after the change, want two organisations", got)
	}
	put(t, agent, "after", "2")
	rep, err := p.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Codes["VALID"] != rep.Transactions {
		t.Fatalf("codes %v", rep.Codes)
	}
}
