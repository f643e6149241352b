package devnet_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eidgate/eidgate/ledger"
	"github.com/eidgate/eidgate/ledger/devnet"
	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
)

const crashChildEnv = "DEVNET_CRASH_CHILD_DIR"

// TestCrashChild is the child half of TestCrashSafety: it serves a devnet
// on loopback until it is killed. It does nothing in a normal test run.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashChildEnv)
	if dir == "" {
		t.Skip("runs only as the child of TestCrashSafety")
	}
	p := openPeer(t, dir, nil)
	profile, err := p.WriteProfile(devnet.PlatformOrg, devnet.AgentName)
	if err != nil {
		t.Fatal(err)
	}
	ready := filepath.Join(dir, "ready")
	if err := os.WriteFile(ready+".tmp", []byte(profile), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(ready+".tmp", ready); err != nil {
		t.Fatal(err)
	}
	select {} // until SIGKILL
}

// seenTx is a transaction whose commit status a client received.
type seenTx struct {
	id    string
	code  peer.TxValidationCode
	block uint64
}

// TestCrashSafety kills a devnet serving real clients with SIGKILL at a
// random moment, restarts it on the same data dir, and checks that every
// transaction a client saw committed is in the ledger with the same code
// and block, that world state equals a replay of the blocks, and that the
// hash chain verifies. Several rounds grow one ledger.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes")
	}
	dir := t.TempDir()
	var seen []seenTx
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	for round := 0; round < 3; round++ {
		_ = os.Remove(filepath.Join(dir, "ready"))
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		profile := waitReady(t, dir, cmd)
		c := dialProfile(t, profile)
		load := 300*time.Millisecond + time.Duration(rng.Int64N(int64(1200*time.Millisecond)))
		got := driveLoad(c, round, load, func() {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Errorf("kill: %v", err)
			}
		})
		_ = cmd.Wait()
		_ = c.Close()
		if len(got) == 0 {
			t.Fatalf("round %d: no transaction committed before the kill", round)
		}
		seen = append(seen, got...)
		t.Logf("round %d: killed after %v, %d commit statuses seen so far", round, load, len(seen))
	}

	p := openPeer(t, dir, func(c *devnet.Config) { c.Listen = "" })
	f := &signedFlow{t: t, id: platformIdentity(t, dir, "users/agent"), p: p}
	f.rc = newRawClient(t, p, f.id)
	for _, s := range seen {
		st := f.status(s.id)
		if st.Code != s.code || st.BlockNumber != s.block {
			t.Fatalf("tx %s: ledger says %s in block %d, the client saw %s in block %d", s.id, st.Code, st.BlockNumber, s.code, s.block)
		}
	}
	rep, err := p.Verify(context.Background())
	if err != nil {
		t.Fatalf("after the crashes: %v", err)
	}
	t.Logf("verified %d blocks, %d transactions (%d valid), %d state keys", rep.Blocks, rep.Transactions, rep.Valid, rep.StateKeys)
	// The ledger keeps working.
	c := inProcess(t, p, devnet.PlatformOrg, devnet.AgentName)
	put(t, c, "after-crash", "ok")
}

func waitReady(t *testing.T, dir string, cmd *exec.Cmd) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(filepath.Join(dir, "ready")); err == nil {
			return string(b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	t.Fatal("child devnet did not become ready")
	return ""
}

func dialProfile(t *testing.T, path string) *ledger.Client {
	t.Helper()
	prof, err := ledger.LoadProfile(path)
	if err != nil {
		t.Fatal(err)
	}
	prof.Timeouts.CommitStatus = 5 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := ledger.Dial(ctx, prof)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// driveLoad runs writers (read-modify-write on shared counters and fresh
// keys) until the kill happens and returns the commit statuses received.
func driveLoad(c *ledger.Client, round int, after time.Duration, kill func()) []seenTx {
	contract := c.Network().GetContract(testChaincode)
	var mu sync.Mutex
	var seen []seenTx
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				fn, args := "Put", []string{fmt.Sprintf("r%d-w%d-%d", round, w, i), "v"}
				if i%2 == 0 {
					fn, args = "Incr", []string{fmt.Sprintf("counter-%d", w%3)}
				}
				proposal, err := contract.NewProposal(fn, client.WithArguments(args...))
				if err != nil {
					return
				}
				tx, err := proposal.Endorse()
				if err != nil {
					continue
				}
				commit, err := tx.Submit()
				if err != nil {
					continue
				}
				st, err := commit.Status()
				if err != nil {
					continue // the peer died before answering
				}
				mu.Lock()
				seen = append(seen, seenTx{id: st.TransactionID, code: st.Code, block: st.BlockNumber})
				mu.Unlock()
			}
		}()
	}
	time.Sleep(after)
	kill()
	close(stop)
	wg.Wait()
	return seen
}
