package bench

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestHistogramQuantilesWithinBucketPrecision(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	h := NewHistogram()
	var all []time.Duration
	for range 100_000 {
		// Log-uniform from 1 µs to 1 s, as request latencies spread.
		d := time.Duration(float64(time.Microsecond) * math.Pow(10, rng.Float64()*6))
		h.Record(d)
		all = append(all, d)
	}
	slices.Sort(all)
	for _, q := range []float64{0.01, 0.5, 0.9, 0.99, 0.999, 1} {
		want := all[max(int(q*float64(len(all)))-1, 0)]
		got := h.Quantile(q)
		if rel := float64(got-want) / float64(want); rel < -0.02 || rel > 0.02 {
			t.Errorf("q%.3f = %s, exact %s (%.2f%% off)", q, got, want, rel*100)
		}
	}
	if h.Count() != 100_000 || h.Max() != all[len(all)-1] {
		t.Errorf("count %d max %s, want 100000 and %s", h.Count(), h.Max(), all[len(all)-1])
	}
}

func TestHistogramBuckets(t *testing.T) {
	tests := []struct {
		name string
		vals []time.Duration
		q    float64
		want time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"small values are exact", []time.Duration{3, 5, 7}, 0.5, 5},
		{"one value", []time.Duration{12 * time.Millisecond}, 0.99, 12 * time.Millisecond},
		{"negative counts as zero", []time.Duration{-5}, 1, 0},
		{"largest value caps the bucket edge", []time.Duration{time.Second, time.Second + 1}, 1, time.Second + 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := NewHistogram()
			for _, v := range tc.vals {
				h.Record(v)
			}
			if got := h.Quantile(tc.q); got != tc.want {
				t.Errorf("Quantile(%v) = %d, want %d", tc.q, got, tc.want)
			}
		})
	}
}

func TestHistogramIndexIsMonotonicAndCoversValues(t *testing.T) {
	prev := -1
	for _, v := range []uint64{0, 1, 127, 128, 129, 255, 256, 1000, 1 << 20, 1<<20 + 1, 1 << 40, 1<<63 - 1} {
		i := histIndex(v)
		if i < prev || i >= histBuckets {
			t.Fatalf("index(%d) = %d after %d (buckets %d)", v, i, prev, histBuckets)
		}
		if up := histUpper(i); up < v || (v >= histSub && float64(up-v) > float64(v)/64) {
			t.Fatalf("value %d in bucket %d whose upper edge is %d", v, i, up)
		}
		prev = i
	}
}

func TestHistogramMerge(t *testing.T) {
	a, b := NewHistogram(), NewHistogram()
	for i := range 100 {
		a.Record(time.Duration(i) * time.Millisecond)
		b.Record(time.Duration(100+i) * time.Millisecond)
	}
	a.Merge(b)
	a.Merge(NewHistogram())
	if a.Count() != 200 || a.Max() != 199*time.Millisecond {
		t.Fatalf("merged count %d max %s", a.Count(), a.Max())
	}
	if p50 := a.Quantile(0.5); p50 < 98*time.Millisecond || p50 > 101*time.Millisecond {
		t.Fatalf("merged p50 %s, want about 99 ms", p50)
	}
}
