package bench

import (
	"math"
	"math/bits"
)

// Histogram layout (log-linear, HDR style).
//
// Values are non-negative int64 (nanoseconds, by convention). Values below
// 2*histSub are counted exactly, one bucket each. Above that, every power of
// two [2^e, 2^(e+1)) is split into histSub equal sub-buckets, so a recorded
// value is known to within 1/histSub (0.79%) of itself:
//
//	v < 256:        index = v
//	v >= 256:       shift = bits.Len64(v) - 8   (so v>>shift is in [128, 256))
//	                index = 128*shift + v>>shift
//
// The largest index (v = MaxInt64) is 128*55 + 255 = 7295.
const (
	histSubBits = 7
	histSub     = 1 << histSubBits                       // sub-buckets per power of two
	histBuckets = histSub*(63-histSubBits-1) + 2*histSub // 7296
)

// Histogram is a log-linear latency histogram with a relative error below
// 1/128. The zero value is ready to use. It is not safe for concurrent use:
// each load worker owns one and the runner merges them after the run.
// Record does not allocate.
type Histogram struct {
	counts [histBuckets]uint64
	n      uint64
	sum    float64 // sum of recorded values, for the mean
	min    int64
	max    int64
}

// histIndex returns the bucket of v (v >= 0).
func histIndex(v int64) int {
	u := uint64(v)
	if u < 2*histSub {
		return int(u)
	}
	shift := bits.Len64(u) - (histSubBits + 1)
	return histSub*shift + int(u>>uint(shift))
}

// histUpper returns the largest value that falls into bucket i.
func histUpper(i int) int64 {
	if i < 2*histSub {
		return int64(i)
	}
	shift := i/histSub - 1
	m := int64(i - histSub*shift)
	return (m+1)<<uint(shift) - 1
}

// Record adds one value; negative values count as 0.
func (h *Histogram) Record(v int64) {
	if v < 0 {
		v = 0
	}
	h.counts[histIndex(v)]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
	h.sum += float64(v)
}

// Count returns the number of recorded values.
func (h *Histogram) Count() uint64 { return h.n }

// Min returns the smallest recorded value (0 when empty).
func (h *Histogram) Min() int64 { return h.min }

// Max returns the largest recorded value (0 when empty).
func (h *Histogram) Max() int64 { return h.max }

// Mean returns the arithmetic mean of the recorded values (0 when empty).
func (h *Histogram) Mean() float64 {
	if h.n == 0 {
		return 0
	}
	return h.sum / float64(h.n)
}

// Merge adds every value recorded in o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.n += o.n
	h.sum += o.sum
}

// Reset forgets every recorded value.
func (h *Histogram) Reset() { *h = Histogram{} }

// Quantile returns the value at quantile q in [0, 1]: the smallest bucket
// bound at or above the value of rank ceil(q*n) (1-based) in sorted order,
// clamped to [Min, Max]. The result is never below the true value and
// exceeds it by less than 1/128 of it.
func (h *Histogram) Quantile(q float64) int64 {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	if rank < 1 {
		rank = 1
	}
	if rank > h.n {
		rank = h.n
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			v := histUpper(i)
			if v > h.max {
				v = h.max
			}
			if v < h.min {
				v = h.min
			}
			return v
		}
	}
	return h.max
}

// Buckets returns the non-empty buckets as (upper bound, count) pairs in
// increasing order; it is what a result file stores so that histograms of
// several runs can be merged later.
func (h *Histogram) Buckets() [][2]int64 {
	var out [][2]int64
	for i, c := range h.counts {
		if c != 0 {
			out = append(out, [2]int64{histUpper(i), int64(c)})
		}
	}
	return out
}
