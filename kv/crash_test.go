package kv

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

var long = flag.Bool("long", false, "run long crash and fault-injection variants")

const crashWriters = 4

// crashBatch fills b with batch i of writer g: put g/i/{a,b,c} = "g-i" and
// delete the keys of batch i-2.
func crashBatch(b *Batch, g, i int) {
	b.Reset()
	v := []byte(fmt.Sprintf("%d-%d", g, i))
	for _, s := range []string{"a", "b", "c"} {
		b.Put([]byte(fmt.Sprintf("w%d/%06d/%s", g, i, s)), v, Cond{}, 0)
	}
	if i >= 2 {
		for _, s := range []string{"a", "b", "c"} {
			b.Delete([]byte(fmt.Sprintf("w%d/%06d/%s", g, i-2, s)), Cond{})
		}
	}
}

// checkCrashState verifies the store after a crash: every batch in full or
// not at all, a prefix of each writer's batches, nothing deleted returning,
// and (when acked != nil) every acknowledged batch present.
func checkCrashState(t *testing.T, db *DB, acked []int) (maxETag uint64) {
	t.Helper()
	type kv struct {
		etag uint64
		val  string
	}
	seen := map[int]map[int]map[string]kv{}
	err := db.Scan([]byte("w"), func(k []byte, it Item) bool {
		var g, i int
		var s string
		parts := strings.Split(string(k), "/")
		fmt.Sscanf(parts[0], "w%d", &g)
		fmt.Sscanf(parts[1], "%d", &i)
		s = parts[2]
		if seen[g] == nil {
			seen[g] = map[int]map[string]kv{}
		}
		if seen[g][i] == nil {
			seen[g][i] = map[string]kv{}
		}
		seen[g][i][s] = kv{it.ETag, string(it.Value)}
		maxETag = max(maxETag, it.ETag)
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	for g := 0; g < crashWriters; g++ {
		m := -1
		for i := range seen[g] {
			m = max(m, i)
		}
		if acked != nil && m < acked[g] {
			t.Fatalf("writer %d: acknowledged batch %d lost (latest present %d)", g, acked[g], m)
		}
		for i, keys := range seen[g] {
			if i != m && i != m-1 {
				t.Fatalf("writer %d: batch %d present but batch %d deleted it", g, i, m)
			}
			if len(keys) != 3 {
				t.Fatalf("writer %d: batch %d partially present: %v", g, i, keys)
			}
			want := fmt.Sprintf("%d-%d", g, i)
			if keys["a"].val != want || keys["a"].etag != keys["b"].etag || keys["b"].etag != keys["c"].etag {
				t.Fatalf("writer %d: batch %d inconsistent: %v", g, i, keys)
			}
		}
		if m >= 1 {
			if seen[g][m-1] == nil {
				t.Fatalf("writer %d: batch %d missing below present batch %d", g, m-1, m)
			}
			if seen[g][m-1]["a"].etag >= seen[g][m]["a"].etag {
				t.Fatalf("writer %d: ETags not increasing", g)
			}
		}
	}
	return maxETag
}

func TestCrashRecovery(t *testing.T) {
	iters := 12
	if *long {
		iters = 200
	}
	for _, mode := range []Durability{Sync, Relaxed} {
		for it := 0; it < iters; it++ {
			rng := rand.New(rand.NewPCG(uint64(it), uint64(mode)+1))
			fs := vfs.NewCrashableMem()
			db := openMem(t, fs, Options{Shards: 3, Durability: mode, WALSegmentSize: 16 << 10})
			var acked [crashWriters]atomic.Int64
			for g := range acked {
				acked[g].Store(-1)
			}
			var stop atomic.Bool
			var wg sync.WaitGroup
			for g := 0; g < crashWriters; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var b Batch
					for i := 0; !stop.Load(); i++ {
						crashBatch(&b, g, i)
						if _, err := db.Apply(&b); err != nil {
							if !errors.Is(err, ErrClosed) {
								t.Error(err)
							}
							return
						}
						acked[g].Store(int64(i))
					}
				}()
			}
			target := int64(rng.IntN(400))
			for {
				var sum int64
				for g := range acked {
					sum += acked[g].Load() + 1
				}
				if sum >= target {
					break
				}
			}
			ackedAtCrash := make([]int, crashWriters)
			for g := range acked {
				ackedAtCrash[g] = int(acked[g].Load())
			}
			clone := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: rng.IntN(100), RNG: rng})
			stop.Store(true)
			wg.Wait()
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			db2 := openMem(t, clone, Options{})
			var want []int
			if mode == Sync {
				want = ackedAtCrash
			}
			maxETag := checkCrashState(t, db2, want)
			var b Batch
			b.Put([]byte("after"), []byte("x"), Cond{}, 0)
			if seq := mustApply(t, db2, &b); seq <= maxETag {
				t.Fatalf("new seq %d not above existing ETag %d", seq, maxETag)
			}
			db2.Close()
		}
	}
}

// TestFaultInjection fails the n-th WAL write, sync, rename, create or
// preallocate. The store must stop accepting writes, never acknowledge a
// batch it did not persist, and reopen with everything acknowledged.
func TestFaultInjection(t *testing.T) {
	maxN := 40
	if *long {
		maxN = 150
	}
	for n := int64(1); n <= int64(maxN); n++ {
		base := vfs.NewCrashableMem()
		var count atomic.Int64
		var fired atomic.Bool
		inj := errorfs.InjectorFunc(func(op errorfs.Op) error {
			if !strings.Contains(op.Path, "wal") {
				return nil
			}
			switch op.Kind {
			case errorfs.OpFileWrite, errorfs.OpFileWriteAt, errorfs.OpFileSync, errorfs.OpFileSyncData,
				errorfs.OpRename, errorfs.OpCreate, errorfs.OpFilePreallocate, errorfs.OpOpenDir:
				if count.Add(1) == n {
					fired.Store(true)
					return errorfs.ErrInjected
				}
			}
			return nil
		})
		fs := errorfs.Wrap(base, inj)
		db, err := Open("db", Options{FS: fs, Shards: 3, SweepInterval: -1})
		acked := []int{-1, -1, -1, -1}
		if err == nil {
			var b Batch
			failed := false
			for i := 0; i < 30; i++ {
				crashBatch(&b, 0, i)
				if _, err := db.Apply(&b); err != nil {
					if !errors.Is(err, errorfs.ErrInjected) {
						t.Fatalf("n=%d: unexpected error %v", n, err)
					}
					failed = true
					// Fail-stop: nothing is accepted afterwards.
					crashBatch(&b, 1, 0)
					if _, err := db.Apply(&b); err == nil {
						t.Fatalf("n=%d: write accepted after a WAL failure", n)
					}
					break
				}
				acked[0] = i
			}
			if fired.Load() != failed {
				t.Fatalf("n=%d: injected=%v but apply failed=%v", n, fired.Load(), failed)
			}
			db.Close()
		}
		// Power loss: only synced data survives. Reopen without faults.
		clone := base.CrashClone(vfs.CrashCloneCfg{})
		db2, err := Open("db", Options{FS: clone, SweepInterval: -1})
		if err != nil {
			t.Fatalf("n=%d: reopen: %v", n, err)
		}
		checkCrashState(t, db2, acked)
		var b Batch
		crashBatch(&b, 2, 0)
		if _, err := db2.Apply(&b); err != nil {
			t.Fatalf("n=%d: write after reopen: %v", n, err)
		}
		db2.Close()
		if !fired.Load() {
			break // past the last fallible op of the workload
		}
	}
}
