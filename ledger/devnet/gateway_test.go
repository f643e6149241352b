package devnet_test

import (
	"context"
	"testing"
	"time"

	"github.com/eidgate/eidgate/ledger/devnet"
	"github.com/hyperledger/fabric-gateway/pkg/client"
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
	_ = context.Background
	_ = time.Second
}
