package kv_test

import (
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"github.com/statecar/statecar/kv"
)

// applyBound is a liveness bound (not a performance figure): a write on a
// failing disk must be answered, with an error or not, well within it.
const applyBound = 10 * time.Second

// TestShardDiskFull fails every write of a shard's sstables (Pebble's
// flushes) with ENOSPC-like errors, the way a full disk does once the WAL
// segment is already preallocated (tests/torture, issue #7). Wanted: every
// Apply returns (an error is fine), reads keep working, and after the disk
// recovers and the store is reopened every acknowledged batch is there and
// writes succeed.
//
// The engine handles it by fail-stop: Pebble reports the failed flush
// (shard.Options.OnFlushError) long before its memtables fill and stall
// writes, and from then on kv applies nothing more, so neither the applier
// nor the readers ever wait inside Pebble's write stall.
func TestShardDiskFull(t *testing.T) {
	mem := vfs.NewCrashableMem()
	var full atomic.Bool
	inj := errorfs.InjectorFunc(func(op errorfs.Op) error {
		if full.Load() && strings.HasSuffix(op.Path, ".sst") {
			switch op.Kind {
			case errorfs.OpCreate, errorfs.OpFileWrite, errorfs.OpFileWriteAt, errorfs.OpFileSync, errorfs.OpFileSyncData:
				return errorfs.ErrInjected
			}
		}
		return nil
	})
	db, err := kv.Open("db", kv.Options{FS: errorfs.Wrap(mem, inj), Shards: 1, SweepInterval: -1, CompressThreshold: -1})
	if err != nil {
		t.Fatal(err)
	}
	full.Store(true)
	rng := rand.New(rand.NewPCG(3, 4))
	val := make([]byte, 128<<10)
	acked := map[string]bool{}
	stuck := false
	for i := 0; i < 400 && !stuck; i++ {
		for j := range val {
			val[j] = byte(rng.Uint32())
		}
		k := "k" + strconv.Itoa(i)
		var b kv.Batch
		b.Put([]byte(k), val, kv.Cond{}, 0)
		done := make(chan error, 1)
		go func() { _, err := db.Apply(&b); done <- err }()
		select {
		case err := <-done:
			if err == nil {
				acked[k] = true
			} else if !errors.Is(err, errorfs.ErrInjected) {
				t.Logf("apply %s: %v", k, err)
			}
		case <-time.After(applyBound):
			stuck = true
			t.Errorf("Apply of %s (after %d acknowledged 128 KiB writes) did not return within %v while the shard cannot flush", k, len(acked), applyBound)
		}
	}
	// Reads keep working.
	read := make(chan error, 1)
	go func() { _, _, err := db.Get([]byte("k0"), nil); read <- err }()
	select {
	case err := <-read:
		if err != nil {
			t.Errorf("Get on a full disk: %v", err)
		}
	case <-time.After(applyBound):
		t.Errorf("Get did not return within %v while the shard cannot flush", applyBound)
	}
	if stuck {
		// The stuck store cannot be closed; what reached the WAL is checked
		// from a crash image below (the disk has "recovered": no faults).
	} else {
		full.Store(false)
		db.Close()
	}
	db2, err := kv.Open("db", kv.Options{FS: mem.CrashClone(vfs.CrashCloneCfg{}), SweepInterval: -1})
	if err != nil {
		t.Fatalf("reopen after the disk recovered: %v", err)
	}
	defer db2.Close()
	for k := range acked {
		if _, found, err := db2.Get([]byte(k), nil); err != nil || !found {
			t.Errorf("acknowledged %s lost after reopen (found %v, err %v)", k, found, err)
		}
	}
	var b kv.Batch
	b.Put([]byte("after"), []byte("1"), kv.Cond{}, 0)
	if _, err := db2.Apply(&b); err != nil {
		t.Errorf("write after reopen: %v", err)
	}
}

// TestWALFaultReadsKeepWorking fails the n-th WAL write or fsync (as a full
// or failing disk does) for every step of a small workload. Wanted, beyond
// kv's own TestFaultInjection: the failing Apply returns, reads of every
// acknowledged key keep returning their exact values while the store is
// fail-stopped, and after reopening a crash image every acknowledged value
// is intact and writes succeed.
func TestWALFaultReadsKeepWorking(t *testing.T) {
	for n := int64(1); n <= 30; n++ {
		base := vfs.NewCrashableMem()
		var count atomic.Int64
		var fired atomic.Bool
		inj := errorfs.InjectorFunc(func(op errorfs.Op) error {
			if !strings.Contains(op.Path, "wal") {
				return nil
			}
			switch op.Kind {
			case errorfs.OpFileWrite, errorfs.OpFileWriteAt, errorfs.OpFileSync, errorfs.OpFileSyncData:
				if count.Add(1) == n {
					fired.Store(true)
					return errorfs.ErrInjected
				}
			}
			return nil
		})
		db, err := kv.Open("db", kv.Options{FS: errorfs.Wrap(base, inj), Shards: 3, SweepInterval: -1})
		if err != nil {
			t.Fatalf("n=%d: open: %v", n, err)
		}
		acked := map[string]string{}
		failedAt := -1
		for i := 0; i < 20 && failedAt < 0; i++ {
			var b kv.Batch
			for j := range 3 {
				b.Put([]byte("k"+strconv.Itoa(i)+"-"+strconv.Itoa(j)), []byte(strconv.Itoa(i*10+j)), kv.Cond{}, 0)
			}
			done := make(chan error, 1)
			go func() { _, err := db.Apply(&b); done <- err }()
			select {
			case err := <-done:
				if err != nil {
					failedAt = i
					continue
				}
				for j := range 3 {
					acked["k"+strconv.Itoa(i)+"-"+strconv.Itoa(j)] = strconv.Itoa(i*10 + j)
				}
			case <-time.After(applyBound):
				t.Fatalf("n=%d: Apply %d did not return within %v after a WAL fault", n, i, applyBound)
			}
		}
		if fired.Load() != (failedAt >= 0) {
			t.Fatalf("n=%d: fault fired %v, Apply failed at %d", n, fired.Load(), failedAt)
		}
		for k, v := range acked {
			it, found, err := db.Get([]byte(k), nil)
			if err != nil || !found || string(it.Value) != v {
				t.Fatalf("n=%d: read of acknowledged %s while fail-stopped: %q found %v err %v", n, k, it.Value, found, err)
			}
		}
		db.Close()
		db2, err := kv.Open("db", kv.Options{FS: base.CrashClone(vfs.CrashCloneCfg{}), SweepInterval: -1})
		if err != nil {
			t.Fatalf("n=%d: reopen: %v", n, err)
		}
		for k, v := range acked {
			it, found, err := db2.Get([]byte(k), nil)
			if err != nil || !found || string(it.Value) != v {
				t.Fatalf("n=%d: acknowledged %s after reopen: %q found %v err %v", n, k, it.Value, found, err)
			}
		}
		var b kv.Batch
		b.Put([]byte("after"), []byte("1"), kv.Cond{}, 0)
		if _, err := db2.Apply(&b); err != nil {
			t.Fatalf("n=%d: write after reopen: %v", n, err)
		}
		db2.Close()
		if !fired.Load() {
			break
		}
	}
}
