package kv

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// fakeClock is a settable clock for TTL tests.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) Now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Add(d time.Duration) { c.ns.Add(int64(d)) }

func openMem(t testing.TB, fs vfs.FS, o Options) *DB {
	t.Helper()
	o.FS = fs
	if o.SweepInterval == 0 {
		o.SweepInterval = -1
	}
	db, err := Open("db", o)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func mustApply(t testing.TB, db *DB, b *Batch) uint64 {
	t.Helper()
	seq, err := db.Apply(b)
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

func TestConditionsTable(t *testing.T) {
	clk := &fakeClock{}
	clk.ns.Store(1000)
	db := openMem(t, vfs.NewMem(), Options{Shards: 3, Now: clk.Now})
	defer db.Close()
	var b Batch
	b.Put([]byte("a"), []byte("1"), Cond{}, 0)
	b.Put([]byte("ttl"), []byte("t"), Cond{}, 2000)
	s1 := mustApply(t, db, &b)

	f := func(name string, build func(b *Batch), wantErr []Failure) {
		t.Helper()
		var b Batch
		build(&b)
		_, err := db.Apply(&b)
		if wantErr == nil {
			if err != nil {
				t.Fatalf("%s: unexpected %v", name, err)
			}
			return
		}
		var ce *ConditionError
		if !errors.As(err, &ce) || !errors.Is(err, ErrConditionFailed) {
			t.Fatalf("%s: want ConditionError, got %v", name, err)
		}
		if len(ce.Failures) != len(wantErr) {
			t.Fatalf("%s: failures %+v, want %+v", name, ce.Failures, wantErr)
		}
		for i, w := range wantErr {
			g := ce.Failures[i]
			if g.Index != w.Index || string(g.Key) != string(w.Key) || g.Reason != w.Reason || g.Current != w.Current {
				t.Fatalf("%s: failure %d = %+v, want %+v", name, i, g, w)
			}
			if !strings.Contains(err.Error(), string(w.Key)) {
				t.Fatalf("%s: error text %q lacks key", name, err)
			}
		}
	}
	f("etag ok", func(b *Batch) { b.Put([]byte("x"), nil, Cond{Kind: CondNotExists}, 0) }, nil)
	f("exists", func(b *Batch) { b.Put([]byte("a"), nil, Cond{Kind: CondNotExists}, 0) },
		[]Failure{{Index: 0, Key: []byte("a"), Reason: Exists, Current: s1}})
	f("mismatch+notfound, all listed", func(b *Batch) {
		b.Put([]byte("zz"), nil, Cond{}, 0)
		b.Put([]byte("a"), nil, Cond{Kind: CondETag, ETag: 999}, 0)
		b.Delete([]byte("nope"), Cond{Kind: CondETag, ETag: 1})
	}, []Failure{{Index: 1, Key: []byte("a"), Reason: Mismatch, Current: s1}, {Index: 2, Key: []byte("nope"), Reason: NotFound}})
	if _, ok, _ := db.Get([]byte("zz"), nil); ok {
		t.Fatal("failed batch wrote zz")
	}
	f("empty batch is a no-op", func(b *Batch) {}, nil)
	var bad Batch
	bad.Put([]byte("a"), nil, Cond{Kind: condSeq}, 0)
	if _, err := db.Apply(&bad); err == nil || !strings.Contains(err.Error(), "unknown condition kind") {
		t.Fatalf("internal condition kind accepted: %v", err)
	}
	f("delete absent is fine", func(b *Batch) { b.Delete([]byte("never"), Cond{}) }, nil)
	f("conditions see state before the batch", func(b *Batch) {
		b.Put([]byte("new"), []byte("1"), Cond{Kind: CondNotExists}, 0)
		b.Put([]byte("new"), []byte("2"), Cond{Kind: CondNotExists}, 0)
	}, nil)
	it, ok, _ := db.Get([]byte("new"), nil)
	if !ok || string(it.Value) != "2" {
		t.Fatalf("later op must win: %q", it.Value)
	}
	// Expiry: live before, gone at expireAt.
	f("ttl live", func(b *Batch) { b.Put([]byte("ttl"), []byte("t"), Cond{Kind: CondETag, ETag: s1}, 2000) }, nil)
	it, _, _ = db.Get([]byte("ttl"), nil)
	clk.ns.Store(2000)
	if _, ok, _ := db.Get([]byte("ttl"), nil); ok {
		t.Fatal("expired key visible")
	}
	f("etag on expired", func(b *Batch) { b.Delete([]byte("ttl"), Cond{Kind: CondETag, ETag: it.ETag}) },
		[]Failure{{Index: 0, Key: []byte("ttl"), Reason: NotFound}})
	f("create over expired", func(b *Batch) { b.Put([]byte("ttl"), []byte("n"), Cond{Kind: CondNotExists}, 0) }, nil)
}

// model is the reference the randomized test compares against.
type mval struct {
	val  string
	etag uint64
	exp  int64
}

// modelCaches are the read cache settings the model test runs with: the
// default, none, and one so small that entries are evicted all the time.
var modelCaches = []struct {
	name        string
	size, strip int64
}{{"cache=default", 0, 0}, {"cache=off", -1, 0}, {"cache=tiny", 1 << 20, 150}}

func TestModelRandomized(t *testing.T) {
	for _, shards := range []int{1, 3, 8} {
		for _, cc := range modelCaches {
			t.Run(fmt.Sprintf("shards=%d/%s", shards, cc.name), func(t *testing.T) {
				testModel(t, shards, cc.size, cc.strip)
			})
		}
	}
}

func testModel(t *testing.T, shards int, cacheSize, cacheStripe int64) {
	rng := rand.New(rand.NewPCG(uint64(shards), 42))
	clk := &fakeClock{}
	clk.ns.Store(1_000_000)
	fs := vfs.NewMem()
	o := Options{Shards: shards, Now: clk.Now, CompressThreshold: 64, WALSegmentSize: 16 << 10, ReadCacheSize: cacheSize, cacheStripeBytes: cacheStripe}
	db := openMem(t, fs, o)
	defer func() { db.Close() }()
	model := map[string]mval{}
	live := func(k string) (mval, bool) {
		v, ok := model[k]
		if !ok || (v.exp != 0 && v.exp <= clk.ns.Load()) {
			return mval{}, false
		}
		return v, true
	}
	keys := make([]string, 40)
	for i := range keys {
		keys[i] = fmt.Sprintf("%c/k%02d", 'a'+i%3, i)
	}
	var lastSeq uint64
	var hits, evictions uint64 // read cache figures, summed over reopens
	steps := 3000
	if testing.Short() {
		steps = 600
	}
	if *long {
		steps = 50000
	}
	var b Batch
	for step := 0; step < steps; step++ {
		switch r := rng.IntN(100); {
		case r < 55: // apply
			b.Reset()
			n := 1 + rng.IntN(5)
			type mop struct {
				k   string
				del bool
				v   string
				exp int64
				c   Cond
			}
			var ops []mop
			for j := 0; j < n; j++ {
				k := keys[rng.IntN(len(keys))]
				op := mop{k: k, del: rng.IntN(4) == 0}
				switch rng.IntN(4) {
				case 1:
					op.c = Cond{Kind: CondNotExists}
				case 2:
					cur := model[k].etag
					if rng.IntN(3) == 0 {
						cur = uint64(rng.IntN(int(lastSeq) + 2))
					}
					op.c = Cond{Kind: CondETag, ETag: cur}
				}
				if !op.del {
					op.v = strings.Repeat(fmt.Sprintf("v%d-%d.", step, j), 1+rng.IntN(30))
					if rng.IntN(3) == 0 {
						op.exp = clk.ns.Load() + int64(1+rng.IntN(5))*1000
					}
					b.Put([]byte(k), []byte(op.v), op.c, op.exp)
				} else {
					b.Delete([]byte(k), op.c)
				}
				ops = append(ops, op)
			}
			var want []Failure
			for j, op := range ops {
				cur, ok := live(op.k)
				switch op.c.Kind {
				case CondETag:
					if !ok {
						want = append(want, Failure{Index: j, Key: []byte(op.k), Reason: NotFound})
					} else if cur.etag != op.c.ETag {
						want = append(want, Failure{Index: j, Key: []byte(op.k), Reason: Mismatch, Current: cur.etag})
					}
				case CondNotExists:
					if ok {
						want = append(want, Failure{Index: j, Key: []byte(op.k), Reason: Exists, Current: cur.etag})
					}
				}
			}
			seq, err := db.Apply(&b)
			if len(want) > 0 {
				var ce *ConditionError
				if !errors.As(err, &ce) || len(ce.Failures) != len(want) {
					t.Fatalf("step %d: want %d failures, got %v", step, len(want), err)
				}
				for j := range want {
					g, w := ce.Failures[j], want[j]
					if g.Index != w.Index || g.Reason != w.Reason || g.Current != w.Current || !bytes.Equal(g.Key, w.Key) {
						t.Fatalf("step %d: failure %+v want %+v", step, g, w)
					}
				}
				continue
			}
			if err != nil {
				t.Fatalf("step %d: %v", step, err)
			}
			if seq <= lastSeq {
				t.Fatalf("step %d: seq %d not above %d", step, seq, lastSeq)
			}
			lastSeq = seq
			for _, op := range ops {
				if op.del {
					delete(model, op.k)
				} else {
					model[op.k] = mval{val: op.v, etag: seq, exp: op.exp}
				}
			}
		case r < 70: // get
			k := keys[rng.IntN(len(keys))]
			it, ok, err := db.Get([]byte(k), make([]byte, 3))
			if err != nil {
				t.Fatal(err)
			}
			w, wok := live(k)
			if ok != wok || (ok && (string(it.Value) != w.val || it.ETag != w.etag || it.ExpireAt != w.exp)) {
				t.Fatalf("step %d: get %s = %v %q %d, want %v %q %d", step, k, ok, it.Value, it.ETag, wok, w.val, w.etag)
			}
		case r < 78: // getmany
			var ks [][]byte
			for j := 0; j < 1+rng.IntN(12); j++ {
				ks = append(ks, []byte(keys[rng.IntN(len(keys))]))
			}
			res, err := db.GetMany(ks)
			if err != nil || len(res) != len(ks) {
				t.Fatal(err)
			}
			for j, r := range res {
				w, wok := live(string(ks[j]))
				if r.Found != wok || (wok && (string(r.Value) != w.val || r.ETag != w.etag)) {
					t.Fatalf("step %d: getmany %s = %v %q %d, want %v %+v (now %d)", step, ks[j], r.Found, r.Value, r.ETag, wok, w, clk.ns.Load())
				}
			}
		case r < 85: // scan
			prefix := []string{"", "a/", "b/k1", "c/", "zz"}[rng.IntN(5)]
			var got []string
			err := db.Scan([]byte(prefix), func(k []byte, it Item) bool {
				got = append(got, fmt.Sprintf("%s=%s@%d", k, it.Value, it.ETag))
				return true
			})
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for k := range model {
				if w, ok := live(k); ok && strings.HasPrefix(k, prefix) {
					want = append(want, fmt.Sprintf("%s=%s@%d", k, w.val, w.etag))
				}
			}
			sort.Strings(want)
			if !slices.Equal(got, want) {
				t.Fatalf("step %d: scan %q\n got %v\nwant %v", step, prefix, got, want)
			}
		case r < 93: // time passes
			clk.Add(time.Duration(rng.IntN(2000)))
		case r < 97: // sweep
			if _, err := db.Sweep(); err != nil {
				t.Fatal(err)
			}
			for k, v := range model {
				if v.exp != 0 && v.exp <= clk.ns.Load() {
					delete(model, k)
				}
			}
		default: // reopen
			m := db.Metrics()
			hits, evictions = hits+m.CacheHits, evictions+m.CacheEvictions
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			db = openMem(t, fs, Options{Now: clk.Now, CompressThreshold: 64, WALSegmentSize: 16 << 10, ReadCacheSize: cacheSize, cacheStripeBytes: cacheStripe})
		}
	}
	if cacheStripe > 0 {
		m := db.Metrics()
		hits, evictions = hits+m.CacheHits, evictions+m.CacheEvictions
		if evictions == 0 || hits == 0 {
			t.Fatalf("tiny cache: %d hits, %d evictions; the test wants both", hits, evictions)
		}
	}
	// Every key is gone from disk once swept: nothing expired left.
	clk.Add(time.Hour)
	if _, err := db.Sweep(); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range db.dbs {
		it, _ := d.NewIter(nil)
		for ok := it.First(); ok; ok = it.Next() {
			if it.Key()[0] == 'x' {
				n++
			}
		}
		it.Close()
	}
	if n != 0 {
		t.Fatalf("%d expiry index entries left after a full sweep", n)
	}

}

func TestSweeperConditional(t *testing.T) {
	clk := &fakeClock{}
	clk.ns.Store(100)
	db := openMem(t, vfs.NewMem(), Options{Shards: 2, Now: clk.Now})
	defer db.Close()
	var b Batch
	for i := 0; i < 1200; i++ { // more than one sweep batch
		b.Put([]byte(fmt.Sprintf("k%d", i)), []byte("v"), Cond{}, 200)
	}
	mustApply(t, db, &b)
	// Rewrite k7 without expiry, and k8 with a later one, before the sweep.
	b.Reset()
	b.Put([]byte("k7"), []byte("keep"), Cond{}, 0)
	b.Put([]byte("k8"), []byte("later"), Cond{}, 500)
	mustApply(t, db, &b)
	clk.ns.Store(300)
	n, err := db.Sweep()
	if err != nil || n != 1198 {
		t.Fatalf("swept %d, %v", n, err)
	}
	clk.ns.Store(100) // even with the clock back, swept keys are gone
	if _, ok, _ := db.Get([]byte("k1"), nil); ok {
		t.Fatal("swept key still present")
	}
	if it, ok, _ := db.Get([]byte("k7"), nil); !ok || string(it.Value) != "keep" {
		t.Fatal("rewritten key was swept")
	}
	if it, ok, _ := db.Get([]byte("k8"), nil); !ok || string(it.Value) != "later" {
		t.Fatal("re-expired key swept early")
	}
	m := db.Metrics()
	if m.KeysSwept != 1198 || m.Sweeps != 1 {
		t.Fatalf("metrics %+v", m)
	}
}

func TestBackgroundSweeper(t *testing.T) {
	clk := &fakeClock{}
	clk.ns.Store(100)
	db := openMem(t, vfs.NewMem(), Options{Shards: 2, Now: clk.Now, SweepInterval: time.Millisecond})
	defer db.Close()
	var b Batch
	b.Put([]byte("a"), []byte("v"), Cond{}, 150)
	mustApply(t, db, &b)
	clk.ns.Store(200)
	// Wait (without a deadline assertion) until the sweeper has run.
	for db.Metrics().KeysSwept == 0 {
		time.Sleep(time.Millisecond)
	}
	b.Reset()
	b.Put([]byte("a"), []byte("v2"), Cond{Kind: CondNotExists}, 0)
	mustApply(t, db, &b)
}

func TestConcurrentCreateOneWins(t *testing.T) {
	db := openMem(t, vfs.NewMem(), Options{Shards: 4})
	defer db.Close()
	const writers, rounds = 8, 100
	wins := make([]atomic.Int32, rounds)
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var b Batch
			for r := 0; r < rounds; r++ {
				b.Reset()
				b.Put([]byte(fmt.Sprintf("key%d", r)), []byte{byte(w)}, Cond{Kind: CondNotExists}, 0)
				_, err := db.Apply(&b)
				if err == nil {
					wins[r].Add(1)
				} else if !errors.Is(err, ErrConditionFailed) {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	for r := range wins {
		if n := wins[r].Load(); n != 1 {
			t.Fatalf("round %d: %d winners", r, n)
		}
	}
}

func TestConcurrentETagCounter(t *testing.T) {
	db := openMem(t, vfs.NewMem(), Options{Shards: 3})
	defer db.Close()
	var b0 Batch
	b0.Put([]byte("ctr"), []byte("0"), Cond{}, 0)
	mustApply(t, db, &b0)
	var succ atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var b Batch
			for i := 0; i < 150; i++ {
				it, _, err := db.Get([]byte("ctr"), nil)
				if err != nil {
					t.Error(err)
					return
				}
				var v int
				fmt.Sscan(string(it.Value), &v)
				b.Reset()
				b.Put([]byte("ctr"), []byte(fmt.Sprint(v+1)), Cond{Kind: CondETag, ETag: it.ETag}, 0)
				if _, err := db.Apply(&b); err == nil {
					succ.Add(1)
				} else if !errors.Is(err, ErrConditionFailed) {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	it, _, _ := db.Get([]byte("ctr"), nil)
	if string(it.Value) != fmt.Sprint(succ.Load()) {
		t.Fatalf("counter %s, successes %d (lost update)", it.Value, succ.Load())
	}
}

// TestAtomicVisibility: a writer sets 10 keys (spread over shards) to the
// same value per batch; readers must never see a mix.
func TestAtomicVisibility(t *testing.T) {
	for _, cc := range modelCaches {
		t.Run(cc.name, func(t *testing.T) {
			testAtomicVisibility(t, Options{Shards: 8, ReadCacheSize: cc.size, cacheStripeBytes: cc.strip})
		})
	}
}

func testAtomicVisibility(t *testing.T, o Options) {
	db := openMem(t, vfs.NewMem(), o)
	defer db.Close()
	keys := make([][]byte, 10)
	for i := range keys {
		keys[i] = []byte(fmt.Sprintf("vis/%d", i))
	}
	var b Batch
	for _, k := range keys {
		b.Put(k, []byte("0000"), Cond{}, 0)
	}
	mustApply(t, db, &b)
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var b Batch
		for i := 1; i <= 300; i++ {
			b.Reset()
			for _, k := range keys {
				b.Put(k, []byte(fmt.Sprintf("%04d", i)), Cond{}, 0)
			}
			if _, err := db.Apply(&b); err != nil {
				t.Error(err)
			}
		}
		stop.Store(true)
	}()
	check := func(what string, vals []string) {
		for _, v := range vals[1:] {
			if v != vals[0] {
				t.Errorf("%s saw a partial batch: %v", what, vals)
				stop.Store(true)
				return
			}
		}
	}
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				switch r {
				case 0:
					res, err := db.GetMany(keys)
					if err != nil {
						t.Error(err)
						return
					}
					vals := make([]string, len(res))
					for i := range res {
						vals[i] = string(res[i].Value)
					}
					check("GetMany", vals)
				case 1:
					var vals []string
					db.Scan([]byte("vis/"), func(k []byte, it Item) bool { vals = append(vals, string(it.Value)); return true })
					check("Scan", vals)
				case 2:
					// Sequential Gets: later keys are never older.
					prev := ""
					for _, k := range keys {
						it, _, _ := db.Get(k, nil)
						if string(it.Value) < prev {
							t.Errorf("Get saw %s after %s", it.Value, prev)
							stop.Store(true)
						}
						prev = string(it.Value)
					}
				}
			}
		}()
	}
	wg.Wait()
}

func TestETagsMonotonicAcrossRestart(t *testing.T) {
	fs := vfs.NewMem()
	db := openMem(t, fs, Options{Shards: 2})
	var b Batch
	b.Put([]byte("a"), []byte("1"), Cond{}, 0)
	s1 := mustApply(t, db, &b)
	b.Reset()
	b.Delete([]byte("a"), Cond{})
	s2 := mustApply(t, db, &b)
	db.Close()
	db = openMem(t, fs, Options{})
	defer db.Close()
	b.Reset()
	b.Put([]byte("a"), []byte("1"), Cond{}, 0)
	s3 := mustApply(t, db, &b)
	if !(s1 < s2 && s2 < s3) {
		t.Fatalf("seqs %d %d %d not increasing across restart", s1, s2, s3)
	}
	if _, err := Open("db", Options{FS: fs, Shards: 5}); err == nil || !strings.Contains(err.Error(), "shard count") {
		t.Fatalf("want shard count mismatch, got %v", err)
	}
}

func TestClosed(t *testing.T) {
	db := openMem(t, vfs.NewMem(), Options{})
	db.Close()
	var b Batch
	b.Put([]byte("a"), nil, Cond{}, 0)
	if _, err := db.Apply(&b); !errors.Is(err, ErrClosed) {
		t.Fatalf("apply: %v", err)
	}
	if _, _, err := db.Get([]byte("a"), nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("get: %v", err)
	}
	if _, err := db.GetMany([][]byte{[]byte("a")}); !errors.Is(err, ErrClosed) {
		t.Fatalf("getmany: %v", err)
	}
	if err := db.Scan(nil, func([]byte, Item) bool { return true }); !errors.Is(err, ErrClosed) {
		t.Fatalf("scan: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestCompressedValues(t *testing.T) {
	db := openMem(t, vfs.NewMem(), Options{CompressThreshold: 100})
	defer db.Close()
	big := bytes.Repeat([]byte("compress me please "), 200)
	var b Batch
	b.Put([]byte("big"), big, Cond{}, 0)
	mustApply(t, db, &b)
	it, ok, err := db.Get([]byte("big"), make([]byte, 0, 10))
	if err != nil || !ok || !bytes.Equal(it.Value, big) {
		t.Fatal("compressed value does not round trip")
	}
	if sz := db.Metrics().WALBytes; sz > uint64(len(big))/2 {
		t.Fatalf("WAL holds %d bytes for a %d-byte compressible value", sz, len(big))
	}
}

func TestGetAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	for _, size := range []int64{0, -1} { // read cache hit; no cache (shard read)
		db := openMem(t, vfs.NewMem(), Options{Shards: 4, ReadCacheSize: size})
		var b Batch
		b.Put([]byte("key-0001"), bytes.Repeat([]byte{'v'}, 100), Cond{}, 0)
		mustApply(t, db, &b)
		dst := make([]byte, 0, 256)
		key := []byte("key-0001")
		a := testing.AllocsPerRun(1000, func() {
			it, ok, err := db.Get(key, dst)
			if !ok || err != nil || len(it.Value) != 100 {
				panic("bad get")
			}
		})
		if a != 0 {
			t.Fatalf("ReadCacheSize %d: Get allocates %v per call", size, a)
		}
		db.Close()
	}
}

func TestCheckpointTruncatesWAL(t *testing.T) {
	fs := vfs.NewMem()
	db := openMem(t, fs, Options{Shards: 2, WALSegmentSize: 8 << 10})
	var b Batch
	val := bytes.Repeat([]byte{'x'}, 500)
	for i := 0; i < 400; i++ {
		b.Reset()
		b.Put([]byte(fmt.Sprintf("k%d", i%50)), val, Cond{}, 0)
		mustApply(t, db, &b)
	}
	// The checkpointer runs in the background; wait for it.
	for db.Metrics().Checkpoints == 0 {
		time.Sleep(time.Millisecond)
	}
	for db.Metrics().WALSegments > 3 {
		time.Sleep(time.Millisecond)
	}
	db.Close()
	db = openMem(t, fs, Options{})
	defer db.Close()
	for i := 0; i < 50; i++ {
		if _, ok, _ := db.Get([]byte(fmt.Sprintf("k%d", i)), nil); !ok {
			t.Fatalf("k%d lost after truncation", i)
		}
	}
	if rb := db.Metrics().ReplayBytes; rb > 64<<10 {
		t.Fatalf("replayed %d bytes: WAL not truncated", rb)
	}
}

// TestNotVisibleBeforeFsync stalls the WAL fsync: a batch must stay
// invisible to readers until its fsync completes, yet conditions of later
// batches must already see it (sequenced but not applied).
func TestNotVisibleBeforeFsync(t *testing.T) {
	gate := make(chan struct{})
	entered := make(chan struct{}, 16)
	var stall atomic.Bool
	o := Options{Shards: 3}
	o.syncHook = func() error {
		if stall.Load() {
			entered <- struct{}{}
			<-gate
		}
		return nil
	}
	db := openMem(t, vfs.NewMem(), o)
	defer db.Close()
	stall.Store(true)
	done := make(chan error, 1)
	go func() {
		var b Batch
		b.Put([]byte("k1"), []byte("v"), Cond{Kind: CondNotExists}, 0)
		b.Put([]byte("k2"), []byte("v"), Cond{}, 0)
		_, err := db.Apply(&b)
		done <- err
	}()
	<-entered // the batch is written, its fsync is stalled
	if _, ok, _ := db.Get([]byte("k1"), nil); ok {
		t.Fatal("batch visible before its fsync")
	}
	if res, _ := db.GetMany([][]byte{[]byte("k1"), []byte("k2")}); res[0].Found || res[1].Found {
		t.Fatal("batch visible to GetMany before its fsync")
	}
	// A competing create of k1 must already lose.
	var b Batch
	b.Put([]byte("k1"), []byte("other"), Cond{Kind: CondNotExists}, 0)
	if _, err := db.Apply(&b); !errors.Is(err, ErrConditionFailed) {
		t.Fatalf("competing create: %v", err)
	}
	select {
	case err := <-done:
		t.Fatalf("Apply returned before its fsync: %v", err)
	default:
	}
	stall.Store(false)
	close(gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if it, ok, _ := db.Get([]byte("k1"), nil); !ok || string(it.Value) != "v" {
		t.Fatal("batch invisible after Apply returned")
	}
}

// TestFsyncFailureFailStop: a failed fsync fails the waiting batch and all
// later ones; reads still work; reopening recovers every acked batch.
func TestFsyncFailureFailStop(t *testing.T) {
	fs := vfs.NewMem()
	var fail atomic.Bool
	o := Options{Shards: 2}
	o.syncHook = func() error {
		if fail.Load() {
			return errors.New("injected fsync failure")
		}
		return nil
	}
	db := openMem(t, fs, o)
	var b Batch
	b.Put([]byte("a"), []byte("1"), Cond{}, 0)
	mustApply(t, db, &b)
	if db.Err() != nil || db.Metrics().Failed {
		t.Fatal("healthy store reports a failure")
	}
	fail.Store(true)
	b.Reset()
	b.Put([]byte("b"), []byte("2"), Cond{}, 0)
	if _, err := db.Apply(&b); err == nil || !strings.Contains(err.Error(), "injected fsync failure") {
		t.Fatalf("want the fsync error, got %v", err)
	}
	fail.Store(false)
	if _, err := db.Apply(&b); err == nil {
		t.Fatal("write accepted after a failed fsync")
	}
	if _, ok, _ := db.Get([]byte("b"), nil); ok {
		t.Fatal("batch whose fsync failed is visible")
	}
	if err := db.Err(); err == nil || !strings.Contains(err.Error(), "injected fsync failure") || !db.Metrics().Failed {
		t.Fatalf("Err() = %v after a failed fsync", err)
	}
	if _, ok, err := db.Get([]byte("a"), nil); !ok || err != nil {
		t.Fatalf("reads must keep working: %v", err)
	}
	db.Close()
	db = openMem(t, fs, Options{})
	defer db.Close()
	if _, ok, _ := db.Get([]byte("a"), nil); !ok {
		t.Fatal("acked batch lost")
	}
	mustApply(t, db, &b)
}
