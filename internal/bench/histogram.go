package bench

import (
	"math"
	"math/bits"
	"time"
)

// histSubBits sets the precision: each power of two is split into
// 2^(histSubBits-1) buckets, so a bucket is at most 1/64 (1.6 %) wide
// relative to its values, as an HDR histogram with two significant digits.
const histSubBits = 7

const (
	histSub     = 1 << histSubBits
	histHalf    = histSub / 2
	histBuckets = (64-histSubBits)*histHalf + histSub
)

// Histogram records durations in log-linear buckets: exact below 128 ns,
// then within 1.6 %. It is not safe for concurrent use; give each worker
// its own and Merge them.
type Histogram struct {
	counts [histBuckets]uint64
	n      uint64
	sum    float64
	min    int64
	max    int64
}

// NewHistogram returns an empty histogram.
func NewHistogram() *Histogram { return &Histogram{min: math.MaxInt64} }

func histIndex(v uint64) int {
	if v < histSub {
		return int(v)
	}
	shift := bits.Len64(v) - histSubBits
	return shift*histHalf + int(v>>uint(shift))
}

// histUpper is the largest value bucket i holds.
func histUpper(i int) uint64 {
	if i < histSub {
		return uint64(i)
	}
	shift := i/histHalf - 1
	m := uint64(i - shift*histHalf)
	return (m+1)<<uint(shift) - 1
}

// Record adds one duration; negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	v := max(int64(d), 0)
	h.counts[histIndex(uint64(v))]++
	h.n++
	h.sum += float64(v)
	h.min = min(h.min, v)
	h.max = max(h.max, v)
}

// Merge adds o's counts into h.
func (h *Histogram) Merge(o *Histogram) {
	if o == nil || o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	h.min = min(h.min, o.min)
	h.max = max(h.max, o.max)
}

// Count is the number of recorded values.
func (h *Histogram) Count() uint64 { return h.n }

// Max is the largest recorded value.
func (h *Histogram) Max() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.max)
}

// Mean is the average recorded value.
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.n))
}

// Quantile returns the value at or below which a fraction q of the values
// lie, as the upper edge of its bucket (never above the largest value).
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	q = min(max(q, 0), 1)
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(max(int64(histUpper(i)), h.min), h.max))
		}
	}
	return time.Duration(h.max)
}

// Millis converts a duration to milliseconds for the report.
func Millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
