package kv

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

var benchSink atomic.Uint64

func benchKey(i int) []byte { return []byte(fmt.Sprintf("bench/key/%08d", i)) }

func fillDB(b *testing.B, db *DB, n, size int) {
	b.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	val := make([]byte, size)
	var bt Batch
	for i := 0; i < n; i++ {
		for j := range val {
			val[j] = 'a' + byte(rng.IntN(26)) // random: the WAL does not shrink
		}
		bt.Put(benchKey(i), val, Cond{}, 0)
		if bt.Len() == 100 || i == n-1 {
			if _, err := db.Apply(&bt); err != nil {
				b.Fatal(err)
			}
			bt.Reset()
		}
	}
}

// BenchmarkGet reads random 100-byte values with a reused dst.
// BenchmarkGet reads through the read cache (the default); BenchmarkGetNoCache
// reads every value from Pebble.
func BenchmarkGet(b *testing.B)        { benchGet(b, 0) }
func BenchmarkGetNoCache(b *testing.B) { benchGet(b, -1) }

func benchGet(b *testing.B, readCache int64) {
	db, err := Open(b.TempDir(), Options{SweepInterval: -1, ReadCacheSize: readCache})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	const n = 10000
	fillDB(b, db, n, 100)
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = benchKey(i)
	}
	b.Run("size=100B/serial", func(b *testing.B) {
		dst := make([]byte, 0, 256)
		b.ReportAllocs()
		b.SetBytes(100)
		for i := 0; b.Loop(); i++ {
			it, _, _ := db.Get(keys[i%n], dst)
			benchSink.Add(it.ETag)
		}
	})
	b.Run("size=100B/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(100)
		b.RunParallel(func(pb *testing.PB) {
			dst := make([]byte, 0, 256)
			i := 0
			for pb.Next() {
				it, _, _ := db.Get(keys[i%n], dst)
				benchSink.Add(it.ETag)
				i += 7
			}
		})
	})
}

func benchApply(b *testing.B, mode Durability, writers, keysPerBatch int) {
	db, err := Open(b.TempDir(), Options{Durability: mode, SweepInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	val := bytes.Repeat([]byte{'v'}, 100)
	var ctr atomic.Int64
	before := db.Metrics()
	b.ReportAllocs()
	work := func(bt *Batch) {
		bt.Reset()
		base := int(ctr.Add(1)) * keysPerBatch
		for k := 0; k < keysPerBatch; k++ {
			bt.Put(benchKey((base+k)%100000), val, Cond{}, 0)
		}
		if _, err := db.Apply(bt); err != nil {
			b.Error(err)
		}
	}
	if writers == 1 {
		var bt Batch
		for b.Loop() {
			work(&bt)
		}
	} else {
		b.SetParallelism(max(1, writers/runtime.GOMAXPROCS(0)))
		b.RunParallel(func(pb *testing.PB) {
			var bt Batch
			for pb.Next() {
				work(&bt)
			}
		})
	}
	b.StopTimer()
	after := db.Metrics()
	if g := after.Groups - before.Groups; g > 0 {
		b.ReportMetric(float64(after.Applies-before.Applies)/float64(g), "batches/group")
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "batches/s")
	if f := after.Fsyncs - before.Fsyncs; f > 0 {
		b.ReportMetric(float64(after.FsyncTime-before.FsyncTime)/float64(f)/1e3, "us/fsync")
		b.ReportMetric(float64(f)/b.Elapsed().Seconds(), "fsyncs/s")
	}
}

// BenchmarkApply: synced and relaxed single-key batches with 1, 8 and 64
// concurrent writers, and 10-key cross-shard batches, on the real disk.
func BenchmarkApply(b *testing.B) {
	for _, mode := range []struct {
		name string
		d    Durability
	}{{"sync", Sync}, {"relaxed", Relaxed}} {
		for _, w := range []int{1, 8, 64} {
			b.Run(fmt.Sprintf("mode=%s/keys=1/writers=%d", mode.name, w), func(b *testing.B) { benchApply(b, mode.d, w, 1) })
		}
		b.Run(fmt.Sprintf("mode=%s/keys=10/writers=8", mode.name), func(b *testing.B) { benchApply(b, mode.d, 8, 10) })
	}
}

func BenchmarkGetMany(b *testing.B) {
	db, err := Open(b.TempDir(), Options{SweepInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	fillDB(b, db, 10000, 100)
	keys := make([][]byte, 100)
	for i := range keys {
		keys[i] = benchKey(i * 97)
	}
	b.ReportAllocs()
	for b.Loop() {
		res, err := db.GetMany(keys)
		if err != nil || !res[99].Found {
			b.Fatal(err)
		}
	}
}

func BenchmarkScan(b *testing.B) {
	db, err := Open(b.TempDir(), Options{SweepInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	fillDB(b, db, 10000, 100)
	b.ReportAllocs()
	b.SetBytes(10000 * 100)
	for b.Loop() {
		n := 0
		if err := db.Scan([]byte("bench/"), func(k []byte, it Item) bool { n++; return true }); err != nil || n != 10000 {
			b.Fatal(n, err)
		}
	}
}

// BenchmarkReplay measures Open over an unflushed WAL (in memory, so this is
// the CPU cost of reading, checking and applying records).
func BenchmarkReplay(b *testing.B) {
	fs := vfs.NewCrashableMem()
	db, err := Open("db", Options{FS: fs, SweepInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	fillDB(b, db, 100000, 100)
	// A crash image that keeps everything written: memtables unflushed.
	img := fs.CrashClone(vfs.CrashCloneCfg{})
	db.Close()
	var walBytes int64
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		c := img.CrashClone(vfs.CrashCloneCfg{})
		b.StartTimer()
		db, err := Open("db", Options{FS: c, SweepInterval: -1})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		walBytes = db.Metrics().ReplayBytes
		db.Close()
		b.StartTimer()
	}
	b.SetBytes(walBytes)
}
