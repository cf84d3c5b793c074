package load

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Histogram records durations lock-free in log-linear buckets (64 per power of two: at most 1.6% relative
// error), from 1 ns to about 5 hours. The zero value is ready to use; it may be shared by goroutines.
type Histogram struct {
	counts [histBuckets]atomic.Uint64
	n      atomic.Uint64
	sum    atomic.Uint64 // nanoseconds
	max    atomic.Int64
}

const (
	histSubBits = 7 // 2^7 = 128 exact values below 128 ns, then 64 buckets per power of two
	histBuckets = (64 - histSubBits + 2) << (histSubBits - 1)
)

func histIndex(v uint64) int {
	if v < 1<<histSubBits {
		return int(v)
	}
	e := bits.Len64(v) - histSubBits
	return e<<(histSubBits-1) + int(v>>e)
}

// histUpper is the largest value that lands in bucket i.
func histUpper(i int) uint64 {
	if i < 1<<histSubBits {
		return uint64(i)
	}
	e := i>>(histSubBits-1) - 1
	m := uint64(i - e<<(histSubBits-1))
	return (m+1)<<e - 1
}

// Record adds one duration (negative durations count as 0).
func (h *Histogram) Record(d time.Duration) {
	v := max(int64(d), 0)
	h.counts[histIndex(uint64(v))].Add(1)
	h.n.Add(1)
	h.sum.Add(uint64(v))
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			return
		}
	}
}

// Count is the number of recorded durations.
func (h *Histogram) Count() uint64 { return h.n.Load() }

// Quantile returns the duration below which a fraction q of the recorded ones lie (the bucket's upper
// bound, capped by the maximum); 0 when nothing was recorded.
func (h *Histogram) Quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	rank = min(max(rank, 1), n)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			return min(time.Duration(histUpper(i)), time.Duration(h.max.Load()))
		}
	}
	return time.Duration(h.max.Load())
}

// Summary is the latency figures of a Histogram, in milliseconds for the report.
type Summary struct {
	Count  uint64  `json:"count"`
	MeanMS float64 `json:"meanMs"`
	P50MS  float64 `json:"p50Ms"`
	P95MS  float64 `json:"p95Ms"`
	P99MS  float64 `json:"p99Ms"`
	MaxMS  float64 `json:"maxMs"`
	// Percentiles is the distribution at the fixed quantiles of percentileQs (for charts: bench/chart).
	Percentiles []Percentile `json:"percentiles,omitempty"`
}

// Percentile is the duration below which a fraction Q of the recorded ones lie.
type Percentile struct {
	Q  float64 `json:"q"`
	MS float64 `json:"ms"`
}

// percentileQs are spaced for a log axis of 1/(1-q), where the tail of a latency distribution shows.
var percentileQs = []float64{0.001, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.98, 0.99, 0.995, 0.998, 0.999, 0.9995, 0.9999, 0.99999}

// Summary computes the figures.
func (h *Histogram) Summary() *Summary {
	n := h.n.Load()
	if n == 0 {
		return nil
	}
	s := &Summary{
		Count: n, MeanMS: ms(time.Duration(h.sum.Load() / n)),
		P50MS: ms(h.Quantile(0.50)), P95MS: ms(h.Quantile(0.95)), P99MS: ms(h.Quantile(0.99)),
		MaxMS: ms(time.Duration(h.max.Load())),
	}
	for _, q := range percentileQs {
		if float64(n)*(1-q) < 1 { // beyond the samples: the maximum says it
			break
		}
		s.Percentiles = append(s.Percentiles, Percentile{Q: q, MS: ms(h.Quantile(q))})
	}
	return s
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

// bitset is a growable set of small non-negative integers (message ordinals). Not safe for concurrent use.
type bitset []uint64

func (b *bitset) set(i int) (was bool) {
	w := i >> 6
	if w >= len(*b) {
		*b = append(*b, make([]uint64, w-len(*b)+1+len(*b)/2)...)
	}
	m := uint64(1) << (i & 63)
	was = (*b)[w]&m != 0
	(*b)[w] |= m
	return was
}

func (b bitset) has(i int) bool {
	w := i >> 6
	return w < len(b) && b[w]&(1<<(i&63)) != 0
}

// missing counts the members of a that are not in b.
func (a bitset) missing(b bitset) int {
	n := 0
	for i, w := range a {
		if i < len(b) {
			w &^= b[i]
		}
		n += bits.OnesCount64(w)
	}
	return n
}

func (a bitset) count() int {
	n := 0
	for _, w := range a {
		n += bits.OnesCount64(w)
	}
	return n
}
