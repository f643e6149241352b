package deploy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/eidgate/eidgate/chaincode/model"
	"github.com/eidgate/eidgate/ledger"
)

// BenchmarkWaitedWritesOnRealFabric measures, on a fresh 3-orderer network
// with the orderer batch settings of deploy/fabric/configtx.yaml
// (EIDGATE_BATCH_TIMEOUT and EIDGATE_BATCH_MAX_MESSAGES override them),
// what a person waits for and what anchoring gets:
//
//   - consent-grant: a resident's grant through the gateway, answered once
//     the grant is committed;
//   - admin-write: an administrator's data type change through the gateway;
//   - anchor-burst: 200 anchoring transactions submitted at once by the
//     gateway's identity: committed transactions per block, committed
//     transactions per second, and how long a burst took to commit.
//
// Latencies are reported as p50-ms and p99-ms over the iterations, e.g.
// go test -run '^$' -bench WaitedWrites -benchtime 40x ./deploy/
func BenchmarkWaitedWritesOnRealFabric(b *testing.B) {
	s := newOperatorSuite(b)
	s.deploy(b)
	s.startGateway(b)
	s.setup(b)
	gw := s.a.url
	consentID := s.consent(b, gw, s.civil, "edu.degree")

	b.Run("consent-grant", func(b *testing.B) {
		var waits []time.Duration
		for b.Loop() {
			b.StopTimer()
			s.c.expect(http.StatusOK, gw, s.me, http.MethodPost, "/v1/me/consents/"+consentID+"/revoke", nil)
			r := s.c.do(gw, s.civil.as("clerk.li"), http.MethodPost, "/v1/routes/resolve", s.resolveBody("edu.degree"))
			consentID = r.str("error", "details", "consent_id")
			if r.code() != "consent_required" || consentID == "" {
				b.Fatalf("resolve after revocation: %s", r)
			}
			b.StartTimer()
			start := time.Now()
			s.c.expect(http.StatusOK, gw, s.me, http.MethodPost, "/v1/me/consents/"+consentID+"/grant", nil)
			waits = append(waits, time.Since(start))
		}
		reportLatency(b, waits)
	})

	b.Run("admin-write", func(b *testing.B) {
		var waits []time.Duration
		i := 0
		for b.Loop() {
			i++
			start := time.Now()
			s.c.expect(http.StatusOK, gw, s.admin, http.MethodPut, "/v1/admin/datatypes/edu.degree", map[string]any{
				"code": "edu.degree", "name": fmt.Sprintf("学位证书 %d", i), "owners": []string{"edu-bureau"},
				"schema": `{"type":"object","required":["name","degree"],"properties":{"name":{"type":"string"},"degree":{"type":"string"}}}`,
			})
			waits = append(waits, time.Since(start))
		}
		reportLatency(b, waits)
	})

	b.Run("anchor-burst", func(b *testing.B) {
		const burst = 200
		prof, err := ledger.LoadProfile(s.n.AgentProfile())
		if err != nil {
			b.Fatal(err)
		}
		agent, err := ledger.Dial(context.Background(), prof)
		if err != nil {
			b.Fatal(err)
		}
		defer agent.Close()
		platform := s.n.Org(b, "platform")
		var txs, blocks int
		var waits []time.Duration
		var took time.Duration
		for b.Loop() {
			before := blockHeight(b, s.n, platform)
			start := time.Now()
			var wg sync.WaitGroup
			errs := make(chan error, burst)
			for range burst {
				wg.Add(1)
				go func() {
					defer wg.Done()
					root := make([]byte, 32)
					_, _ = rand.Read(root)
					_, _, err := agent.AnchorAccessBatch(context.Background(), model.AccessAnchor{
						BatchID: "bench-" + hex.EncodeToString(root[:8]), MerkleRoot: hex.EncodeToString(root),
						Count: 64, FirstSeq: 1, LastSeq: 64,
					})
					errs <- err
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					b.Fatalf("anchor: %v", err)
				}
			}
			waits = append(waits, time.Since(start))
			took += time.Since(start)
			txs += burst
			blocks += blockHeight(b, s.n, platform) - before
		}
		b.ReportMetric(float64(txs)/float64(blocks), "tx/block")
		b.ReportMetric(float64(txs)/took.Seconds(), "tx/s")
		reportLatency(b, waits)
	})
}

// reportLatency reports the median and 99th percentile of waits in ms.
func reportLatency(b *testing.B, waits []time.Duration) {
	if len(waits) == 0 {
		return
	}
	slices.Sort(waits)
	at := func(q float64) float64 {
		return float64(waits[min(len(waits)-1, int(q*float64(len(waits))))].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
}
