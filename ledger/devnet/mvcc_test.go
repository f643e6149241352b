package devnet_test

import (
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/eidgate/eidgate/ledger/devnet"
	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
)

// TestConcurrentIncrementsConflictAndRetry has many clients increment one
// counter at once through the real client: the peer lets exactly one
// writer of a read version commit and flags the others
// MVCC_READ_CONFLICT; a bounded retry with a fresh proposal eventually
// succeeds for every client, and the counter equals the number of
// successful increments.
func TestConcurrentIncrementsConflictAndRetry(t *testing.T) {
	p := openPeer(t, "", nil)
	c := inProcess(t, p, devnet.PlatformOrg, devnet.AgentName)
	contract := c.Network().GetContract(testChaincode)

	const clients, maxAttempts = 12, 40
	var conflicts, successes atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for attempt := 0; attempt < maxAttempts; attempt++ {
				_, err := contract.SubmitTransaction("Incr", "hot")
				if err == nil {
					successes.Add(1)
					return
				}
				var ce *client.CommitError
				if !errors.As(err, &ce) || ce.Code != peer.TxValidationCode_MVCC_READ_CONFLICT {
					errs <- err
					return
				}
				conflicts.Add(1)
			}
			errs <- errors.New("no success after the attempt bound")
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if conflicts.Load() == 0 {
		t.Fatal("no MVCC conflict among concurrent increments of one key")
	}
	raw, err := contract.EvaluateTransaction("Get", "hot")
	if err != nil {
		t.Fatal(err)
	}
	if got := string(raw); got != strconv.Itoa(clients) || successes.Load() != clients {
		t.Fatalf("counter %s after %d successes, want %d", got, successes.Load(), clients)
	}
	t.Logf("%d increments, %d conflicts retried", successes.Load(), conflicts.Load())
}
