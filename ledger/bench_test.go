package ledger

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// benchConcurrent runs b.N calls of op spread over workers goroutines and
// reports ops/s and the p50/p99 latency of one call.
func benchConcurrent(b *testing.B, workers int, unit string, op func(ctx context.Context, i int) error) {
	b.Helper()
	ctx := context.Background()
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	var failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	b.ResetTimer()
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
				if err := op(ctx, i); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d of %d calls failed, first: %v", n, b.N, firstErr.Load())
	}
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), unit+"/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkClientOverhead measures the client's own cost per submission and
// evaluation (signing, protobuf, TLS round trips) against the loopback
// scripted peer, which answers at once. Ledger throughput against the devnet
// is measured by BenchmarkDevnet*.
func BenchmarkClientOverhead(b *testing.B) {
	sp := &scriptedPeer{
		evaluate: func(string) ([]byte, error) { return []byte(`{}`), nil },
		endorse:  func(string) ([]byte, error) { return []byte(`{}`), nil },
	}
	p := startScriptedPeer(b, sp)
	c, err := Dial(context.Background(), p)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.Run("submit-32", func(b *testing.B) {
		benchConcurrent(b, 32, "tx", func(ctx context.Context, _ int) error {
			_, err := c.submit(ctx, "bench", "Noop")
			return err
		})
	})
	b.Run("evaluate-32", func(b *testing.B) {
		benchConcurrent(b, 32, "eval", func(ctx context.Context, _ int) error {
			_, err := c.evaluate(ctx, "bench", "Noop")
			return err
		})
	})
}
