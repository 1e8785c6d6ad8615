package bench

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestHistIndexUpper(t *testing.T) {
	vs := []int64{0, 1, 2, 127, 128, 255, 256, 257, 383, 384, 511, 512, 1000, 1 << 20, 1<<40 + 12345, math.MaxInt64}
	for _, v := range vs {
		i := histIndex(v)
		if i < 0 || i >= histBuckets {
			t.Fatalf("histIndex(%d) = %d out of range", v, i)
		}
		up := histUpper(i)
		if up < v {
			t.Fatalf("histUpper(histIndex(%d)) = %d < v", v, up)
		}
		if histIndex(up) != i {
			t.Fatalf("histIndex(histUpper(%d)) = %d", i, histIndex(up))
		}
		if v >= 256 && float64(up-v) > float64(v)/histSub {
			t.Fatalf("bucket of %d too wide: upper %d", v, up)
		}
	}
	// Buckets are contiguous: each bucket's lower bound is the previous upper + 1.
	for i := 1; i < histBuckets; i++ {
		if histIndex(histUpper(i-1)+1) != i {
			t.Fatalf("gap after bucket %d", i-1)
		}
	}
}

// oracle returns the order statistic of rank ceil(q*n) of sorted.
func oracle(sorted []int64, q float64) int64 {
	rank := int(math.Ceil(q * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

func TestHistogramQuantilesAgainstOracle(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	f := func(name string, gen func() int64, n int) {
		t.Helper()
		var h Histogram
		vals := make([]int64, n)
		for i := range vals {
			vals[i] = gen()
			h.Record(vals[i])
		}
		slices.Sort(vals)
		for _, q := range []float64{0, 0.001, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999, 1} {
			want := oracle(vals, q)
			got := h.Quantile(q)
			if got < want || float64(got-want) > float64(want)/histSub {
				t.Errorf("%s: Quantile(%v) = %d, oracle %d", name, q, got, want)
			}
		}
		if h.Min() != vals[0] || h.Max() != vals[n-1] || h.Count() != uint64(n) {
			t.Errorf("%s: min/max/count = %d/%d/%d, want %d/%d/%d", name, h.Min(), h.Max(), h.Count(), vals[0], vals[n-1], n)
		}
	}
	f("small exact", func() int64 { return r.Int64N(256) }, 10000)
	f("uniform us", func() int64 { return 1000 + r.Int64N(1_000_000) }, 50000)
	f("lognormal", func() int64 { return int64(math.Exp(10 + 2*r.NormFloat64())) }, 50000)
	f("bimodal", func() int64 {
		if r.IntN(100) == 0 {
			return 50_000_000 + r.Int64N(1000)
		}
		return 20_000 + r.Int64N(500)
	}, 20000)
	f("single", func() int64 { return 123456 }, 1)
}

func TestHistogramMergeEqualsCombined(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var a, b, all Histogram
	for i := range 20000 {
		v := int64(r.ExpFloat64() * 1e6)
		all.Record(v)
		if i%3 == 0 {
			a.Record(v)
		} else {
			b.Record(v)
		}
	}
	a.Merge(&b)
	if a.counts != all.counts || a.Count() != all.Count() || a.Min() != all.Min() || a.Max() != all.Max() {
		t.Fatal("merged histogram differs from the combined one")
	}
	if math.Abs(a.Mean()-all.Mean()) > 1e-6*all.Mean() {
		t.Fatalf("mean %v, want %v", a.Mean(), all.Mean())
	}
	var empty Histogram
	if empty.Quantile(0.5) != 0 || empty.Mean() != 0 {
		t.Fatal("empty histogram should report zeros")
	}
	a.Reset()
	if a.Count() != 0 || a.Quantile(0.99) != 0 {
		t.Fatal("Reset did not empty the histogram")
	}
}

func TestHistogramNegativeIsZero(t *testing.T) {
	var h Histogram
	h.Record(-5)
	if h.Min() != 0 || h.Max() != 0 || h.Quantile(1) != 0 {
		t.Fatalf("negative value recorded as %d..%d", h.Min(), h.Max())
	}
}

func TestHistogramRecordAllocs(t *testing.T) {
	h := new(Histogram)
	v := int64(1)
	if n := testing.AllocsPerRun(1000, func() { h.Record(v); v = v*3 + 1 }); n != 0 {
		t.Fatalf("Record allocates %v times", n)
	}
}
