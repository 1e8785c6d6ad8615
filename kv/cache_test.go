package kv

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestReadCacheCoherent walks one cached key through every way it can
// change and checks that Get never answers from a stale entry.
func TestReadCacheCoherent(t *testing.T) {
	clk := &fakeClock{}
	clk.ns.Store(1_000_000)
	db := openMem(t, vfs.NewMem(), Options{Shards: 2, Now: clk.Now, SweepInterval: -1, CompressThreshold: 64})
	defer db.Close()
	k := []byte("coherent")
	get := func(want string, wantETag uint64) {
		t.Helper()
		it, found, err := db.Get(k, nil)
		if err != nil {
			t.Fatal(err)
		}
		if want == "" {
			if found {
				t.Fatalf("Get = %q (etag %d), want not found", it.Value, it.ETag)
			}
			return
		}
		if !found || string(it.Value) != want || it.ETag != wantETag {
			t.Fatalf("Get = %q etag %d found %v, want %q etag %d", it.Value, it.ETag, found, want, wantETag)
		}
	}
	put := func(v string, c Cond, exp int64) (uint64, error) {
		var b Batch
		b.Put(k, []byte(v), c, exp)
		return db.Apply(&b)
	}

	s1, _ := put("one", Cond{}, 0)
	get("one", s1)
	get("one", s1) // from the cache now
	if m := db.Metrics(); m.CacheHits == 0 || m.CacheEntries != 1 {
		t.Fatalf("after two reads: hits %d entries %d, want > 0 and 1", m.CacheHits, m.CacheEntries)
	}
	s2, _ := put("two", Cond{}, 0)
	get("two", s2)
	// A failed condition changes nothing.
	if _, err := put("three", Cond{Kind: CondETag, ETag: s1}, 0); !errors.As(err, new(*ConditionError)) {
		t.Fatalf("stale ETag: %v", err)
	}
	get("two", s2)
	// Compressed values go through the cache too.
	big := string(bytes.Repeat([]byte("compressible "), 40))
	s3, _ := put(big, Cond{Kind: CondETag, ETag: s2}, 0)
	get(big, s3)
	get(big, s3)
	// Two writes of the key in one batch: the last wins.
	var b Batch
	b.Put(k, []byte("first"), Cond{}, 0)
	b.Put(k, []byte("second"), Cond{}, 0)
	s4 := mustApply(t, db, &b)
	get("second", s4)
	// Delete, and put again.
	b.Reset()
	b.Delete(k, Cond{})
	mustApply(t, db, &b)
	get("", 0)
	get("", 0)
	s5, _ := put("again", Cond{Kind: CondNotExists}, 0)
	get("again", s5)
	// TTL: expires in the cache as in the shard, and the sweeper's delete
	// removes the entry.
	s6, _ := put("short", Cond{}, clk.ns.Load()+int64(time.Second))
	get("short", s6)
	get("short", s6)
	clk.Add(2 * time.Second)
	get("", 0)
	if n, err := db.Sweep(); err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v; want 1", n, err)
	}
	if m := db.Metrics(); m.CacheEntries != 0 {
		t.Fatalf("cache holds %d entries after the sweep removed the key", m.CacheEntries)
	}
	get("", 0)
	// GetMany answers from the same cache.
	s7, _ := put("many", Cond{}, 0)
	get("many", s7)
	res, err := db.GetMany([][]byte{k, []byte("absent")})
	if err != nil || !res[0].Found || string(res[0].Value) != "many" || res[0].ETag != s7 || res[1].Found {
		t.Fatalf("GetMany = %+v, %v", res, err)
	}
}

// TestReadCacheBounded reads far more than the budget and checks the
// cache stays within it and keeps answering correctly.
func TestReadCacheBounded(t *testing.T) {
	const budget = 256 << 10
	db := openMem(t, vfs.NewMem(), Options{Shards: 4, ReadCacheSize: budget})
	defer db.Close()
	val := bytes.Repeat([]byte("x"), 900)
	var b Batch
	etags := map[string]uint64{}
	for i := 0; i < 4000; i++ {
		if i%100 == 0 && b.Len() > 0 {
			mustApply(t, db, &b)
			b.Reset()
		}
		b.Put([]byte(fmt.Sprintf("k%05d", i)), val, Cond{}, 0)
	}
	last := mustApply(t, db, &b)
	// Round 0 reads everything (the cache fills and evicts), rounds 1 to 3
	// a hot set of 40 keys that fits.
	for round := 0; round < 4; round++ {
		n := 4000
		if round > 0 {
			n = 40
		}
		for i := 0; i < n; i++ {
			k := fmt.Sprintf("k%05d", i)
			it, found, err := db.Get([]byte(k), nil)
			if err != nil || !found || !bytes.Equal(it.Value, val) {
				t.Fatalf("round %d: Get %s = %v %v", round, k, found, err)
			}
			if round > 0 && it.ETag != etags[k] {
				t.Fatalf("Get %s: etag %d, then %d", k, etags[k], it.ETag)
			}
			etags[k] = it.ETag
		}
	}
	if etags["k03999"] != last {
		t.Fatalf("etag of the last key %d, want %d", etags["k03999"], last)
	}
	m := db.Metrics()
	if m.CacheBytes > budget || m.CacheEntries == 0 || m.CacheEntries >= 4000 {
		t.Fatalf("cache: %d entries, %d bytes; want some entries within %d bytes", m.CacheEntries, m.CacheBytes, budget)
	}
	if m.CacheMisses < 4000 || m.CacheHits < 40 {
		t.Fatalf("hits %d misses %d", m.CacheHits, m.CacheMisses)
	}
}

// TestReadCacheOff checks ReadCacheSize < 0 keeps every read on the shard.
func TestReadCacheOff(t *testing.T) {
	db := openMem(t, vfs.NewMem(), Options{Shards: 2, ReadCacheSize: -1})
	defer db.Close()
	var b Batch
	b.Put([]byte("k"), []byte("v"), Cond{}, 0)
	mustApply(t, db, &b)
	for range 3 {
		if it, ok, err := db.Get([]byte("k"), nil); !ok || err != nil || string(it.Value) != "v" {
			t.Fatalf("Get = %q %v %v", it.Value, ok, err)
		}
	}
	if m := db.Metrics(); m.CacheHits != 0 || m.CacheEntries != 0 {
		t.Fatalf("cache used while off: %+v", m)
	}
}
