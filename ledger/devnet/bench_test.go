package devnet_test

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/eidgate/eidgate/ledger"
	"github.com/eidgate/eidgate/ledger/devnet"
)

// benchConcurrent runs b.N calls of op over workers goroutines and reports
// calls per second and the p50/p99 latency of one call.
func benchConcurrent(b *testing.B, workers int, unit string, op func(i int) error) {
	b.Helper()
	lat := make([]time.Duration, b.N)
	var next, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	b.ResetTimer()
	cpu0 := processCPU()
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				t0 := time.Now()
				if err := op(i); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := processCPU() - cpu0
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d of %d calls failed, first: %v", n, b.N, firstErr.Load())
	}
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), unit+"/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	// CPU time per call (client and peer, user and system) is the figure
	// least disturbed by other load on a shared machine.
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-us/"+unit)
}

// processCPU is the user plus system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSubmit measures committed transactions per second with 32
// concurrent submitters through the real ledger client (endorse, submit,
// commit status), each writing its own keys, and the latency of one
// submission until its commit status arrives: in process, and over TLS on
// loopback (real gRPC, as a client in another process would see it).
func BenchmarkSubmit(b *testing.B) {
	p := openPeer(b, "", nil)
	for _, conn := range []struct {
		name string
		dial func(testing.TB, *devnet.Peer, string, string) *ledger.Client
	}{
		{"in-process-32", func(t testing.TB, p *devnet.Peer, org, name string) *ledger.Client { return inProcess(t, p, org, name) }},
		{"tls-loopback-32", overTLS},
	} {
		contract := conn.dial(b, p, devnet.PlatformOrg, devnet.AgentName).Network().GetContract(testChaincode)
		b.Run(conn.name, func(b *testing.B) {
			benchConcurrent(b, 32, "tx", func(i int) error {
				_, err := contract.SubmitTransaction("Put", fmt.Sprintf("%s-%d", conn.name, i), "value")
				return err
			})
		})
	}
}

// BenchmarkEvaluate measures evaluations per second with 32 concurrent
// callers in process.
func BenchmarkEvaluate(b *testing.B) {
	p := openPeer(b, "", func(c *devnet.Config) { c.Listen = "" })
	c := inProcess(b, p, devnet.PlatformOrg, devnet.AgentName)
	contract := c.Network().GetContract(testChaincode)
	put(b, c, "k", "v")
	b.Run("in-process-32", func(b *testing.B) {
		benchConcurrent(b, 32, "eval", func(int) error {
			_, err := contract.EvaluateTransaction("Get", "k")
			return err
		})
	})
}

// BenchmarkSubmitSerial is one submitter: the latency floor of a
// submission (endorse, submit, batch timeout, commit, commit status).
func BenchmarkSubmitSerial(b *testing.B) {
	p := openPeer(b, "", func(c *devnet.Config) { c.Listen = "" })
	c := inProcess(b, p, devnet.PlatformOrg, devnet.AgentName)
	contract := c.Network().GetContract(testChaincode)
	benchConcurrent(b, 1, "tx", func(i int) error {
		_, err := contract.SubmitTransaction("Put", fmt.Sprintf("serial-%d", i), "value")
		return err
	})
}

// BenchmarkSubmitMajority is BenchmarkSubmit in process under MAJORITY
// Endorsement of three organisations, each with a peer: two endorsements
// per transaction (the platform's and one department's) and the
// committer's policy evaluation over them.
func BenchmarkSubmitMajority(b *testing.B) {
	p := openPeer(b, "", func(c *devnet.Config) {
		c.Listen = ""
		c.Orgs = []devnet.OrgConfig{{ID: "edu-bureau", Peer: true}, {ID: "civil-affairs", Peer: true}}
		c.Endorsement = devnet.EndorseMajority
	})
	contract := inProcess(b, p, devnet.PlatformOrg, devnet.AgentName).Network().GetContract(testChaincode)
	b.Run("in-process-32", func(b *testing.B) {
		benchConcurrent(b, 32, "tx", func(i int) error {
			_, err := contract.SubmitTransaction("Put", fmt.Sprintf("majority-%d", i), "value")
			return err
		})
	})
}
