package bench

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"strconv"
)

// Dist names a key distribution.
type Dist string

// Key distributions.
const (
	DistUniform Dist = "uniform" // every key equally likely
	DistZipf    Dist = "zipf"    // YCSB scrambled zipfian, theta = ZipfTheta
)

// ZipfTheta is the skew of the zipfian distribution (YCSB's default): the
// most popular key is drawn about 2^0.99 times as often as the second.
const ZipfTheta = 0.99

// KeyGen draws key numbers in [0, n). It is not safe for concurrent use; each
// worker makes its own with NewKeyGen (the zeta constants are shared through
// a ZipfTable so that 10^7 keys are summed once).
type KeyGen struct {
	rng  *rand.Rand
	n    uint64
	zipf *ZipfTable // nil for uniform
	seq  *seqKeys   // if set, keys are handed out in order (preload)
}

// ZipfTable holds the constants of a zipfian distribution over n items,
// computed once (O(n)) and shared read-only by every worker.
type ZipfTable struct {
	n                      uint64
	mul                    uint64 // Scramble multiplier for n
	theta, alpha, zetan    float64
	eta, half2theta, zeta2 float64
}

// NewZipfTable computes the constants for n items (n >= 1) and skew theta in
// (0, 1), following Gray et al., "Quickly generating billion-record synthetic
// databases" (the generator YCSB uses).
func NewZipfTable(n uint64, theta float64) *ZipfTable {
	zeta := func(n uint64) float64 {
		var s float64
		for i := uint64(1); i <= n; i++ {
			s += 1 / math.Pow(float64(i), theta)
		}
		return s
	}
	t := &ZipfTable{n: n, theta: theta, mul: scrambleMul(n)}
	t.zetan = zeta(n)
	t.zeta2 = zeta(2)
	t.alpha = 1 / (1 - theta)
	t.half2theta = 1 + math.Pow(0.5, theta)
	t.eta = (1 - math.Pow(2/float64(n), 1-theta)) / (1 - t.zeta2/t.zetan)
	return t
}

// rank draws a popularity rank in [0, n): 0 is the most popular item.
func (t *ZipfTable) rank(u float64) uint64 {
	uz := u * t.zetan
	if uz < 1 {
		return 0
	}
	if uz < t.half2theta {
		return 1
	}
	r := uint64(float64(t.n) * math.Pow(t.eta*u-t.eta+1, t.alpha))
	if r >= t.n {
		r = t.n - 1
	}
	return r
}

// NewKeyGen returns a generator over n keys (n >= 1) seeded with seed. For
// DistZipf, table must have been made for the same n.
func NewKeyGen(dist Dist, n uint64, seed uint64, table *ZipfTable) (*KeyGen, error) {
	if n == 0 {
		return nil, fmt.Errorf("cannot draw keys: key space is empty")
	}
	g := &KeyGen{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), n: n}
	switch dist {
	case DistUniform, "":
	case DistZipf:
		if table == nil || table.n != n {
			return nil, fmt.Errorf("cannot draw zipfian keys: table is for another key space")
		}
		g.zipf = table
	default:
		return nil, fmt.Errorf("cannot draw keys: unknown distribution %q (want uniform or zipf)", dist)
	}
	return g, nil
}

// Next returns the next key number. Zipfian ranks are scrambled with a
// bijective hash of the rank so that popular keys are spread over the whole
// key space (and so over a store's shards), as YCSB's scrambled zipfian
// does; the popularity of rank r is kept by key Scramble(r, n).
func (g *KeyGen) Next() uint64 {
	if g.seq != nil {
		k := g.seq.next
		if g.seq.next+1 < g.seq.end {
			g.seq.next++
		}
		return k
	}
	if g.zipf == nil {
		return g.rng.Uint64N(g.n)
	}
	return scramble(g.zipf.rank(g.rng.Float64()), g.n, g.zipf.mul)
}

// Float64 returns a uniform number in [0, 1) from the generator's source
// (used to pick an operation of a mix without a second source).
func (g *KeyGen) Float64() float64 { return g.rng.Float64() }

// Scramble maps rank r in [0, n) to a key number in [0, n), bijectively: an
// affine permutation r -> (a*r + c) mod n with a coprime to n.
func Scramble(r, n uint64) uint64 {
	if n <= 1 {
		return 0
	}
	return scramble(r, n, scrambleMul(n))
}

func scramble(r, n, a uint64) uint64 {
	if n <= 1 {
		return 0
	}
	hi, lo := bits.Mul64(a, r%n)
	_, rem := bits.Div64(hi, lo, n) // hi < n because a, r < n
	return (rem + 7919%n) % n
}

// scrambleMul returns a large odd multiplier coprime to n.
func scrambleMul(n uint64) uint64 {
	a := uint64(0x9e3779b97f4a7c15) % n
	if a == 0 {
		a = 1
	}
	for gcd(a, n) != 1 {
		a++
		if a >= n {
			a = 1
		}
	}
	return a
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// AppendKey appends the text of key number k ("k" followed by k in decimal,
// e.g. "k123") to dst. It does not allocate when dst has room.
func AppendKey(dst []byte, prefix string, k uint64) []byte {
	dst = append(dst, prefix...)
	return strconv.AppendUint(dst, k, 10)
}
