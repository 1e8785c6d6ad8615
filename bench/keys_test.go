package bench

import (
	"math"
	"strings"
	"testing"
)

func TestZipfSanity(t *testing.T) {
	const n, draws = 1000, 300000
	tab := NewZipfTable(n, ZipfTheta)
	g, err := NewKeyGen(DistZipf, n, 42, tab)
	if err != nil {
		t.Fatal(err)
	}
	counts := make([]int, n)
	for range draws {
		k := g.Next()
		if k >= n {
			t.Fatalf("key %d out of range", k)
		}
		counts[k]++
	}
	byRank := func(r uint64) int { return counts[Scramble(r, n)] }
	// The most popular rank is the most frequent key.
	for k, c := range counts {
		if c > byRank(0) {
			t.Fatalf("key %d drawn %d times, more than rank 0 (%d)", k, c, byRank(0))
		}
	}
	// Rank 0 vs rank 1: about 2^theta.
	ratio := float64(byRank(0)) / float64(byRank(1))
	if want := math.Pow(2, ZipfTheta); math.Abs(ratio-want) > 0.15*want {
		t.Errorf("rank0/rank1 = %.2f, want about %.2f", ratio, want)
	}
	// The share of the top 10 ranks matches the zipf law.
	top, want := 0, 0.0
	for r := uint64(0); r < 10; r++ {
		top += byRank(r)
		want += 1 / math.Pow(float64(r+1), ZipfTheta)
	}
	want /= tab.zetan
	if got := float64(top) / draws; math.Abs(got-want) > 0.1*want {
		t.Errorf("top-10 share %.3f, want about %.3f", got, want)
	}
	// Popularity decreases from rank 0 to rank 100 on average (coarse bins).
	bin := func(lo, hi uint64) float64 {
		s := 0
		for r := lo; r < hi; r++ {
			s += byRank(r)
		}
		return float64(s) / float64(hi-lo)
	}
	if !(bin(0, 10) > bin(10, 100) && bin(10, 100) > bin(100, 1000)) {
		t.Errorf("popularity not decreasing: %.1f %.1f %.1f", bin(0, 10), bin(10, 100), bin(100, 1000))
	}
}

func TestUniformCoversKeySpace(t *testing.T) {
	const n, draws = 100, 200000
	g, err := NewKeyGen(DistUniform, n, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	counts := make([]int, n)
	for range draws {
		counts[g.Next()]++
	}
	for k, c := range counts {
		if math.Abs(float64(c)-draws/n) > 0.15*draws/n {
			t.Fatalf("key %d drawn %d times, want about %d", k, c, draws/n)
		}
	}
}

func TestKeyGenDeterministic(t *testing.T) {
	a, _ := NewKeyGen(DistUniform, 1<<40, 9, nil)
	b, _ := NewKeyGen(DistUniform, 1<<40, 9, nil)
	for range 100 {
		if a.Next() != b.Next() {
			t.Fatal("same seed, different keys")
		}
	}
}

func TestKeyGenErrors(t *testing.T) {
	f := func(dist Dist, n uint64, tab *ZipfTable, wantErr string) {
		t.Helper()
		_, err := NewKeyGen(dist, n, 1, tab)
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("NewKeyGen(%q, %d) error %v, want %q", dist, n, err, wantErr)
		}
	}
	f(DistUniform, 0, nil, "empty")
	f("pareto", 10, nil, "unknown distribution")
	f(DistZipf, 10, nil, "another key space")
	f(DistZipf, 10, NewZipfTable(11, ZipfTheta), "another key space")
}

func TestScrambleIsPermutation(t *testing.T) {
	for _, n := range []uint64{1, 2, 3, 10, 97, 1000, 4096, 12345} {
		seen := make([]bool, n)
		for r := range n {
			k := Scramble(r, n)
			if k >= n || seen[k] {
				t.Fatalf("n=%d: Scramble(%d) = %d repeats or out of range", n, r, k)
			}
			seen[k] = true
		}
	}
}

func TestAppendKeyAllocs(t *testing.T) {
	buf := make([]byte, 0, 32)
	if got := string(AppendKey(buf, "k", 1234567)); got != "k1234567" {
		t.Fatalf("AppendKey = %q", got)
	}
	g, _ := NewKeyGen(DistZipf, 1000, 1, NewZipfTable(1000, ZipfTheta))
	if n := testing.AllocsPerRun(1000, func() { buf = AppendKey(buf[:0], "k", g.Next()) }); n != 0 {
		t.Fatalf("key generation allocates %v times", n)
	}
}
