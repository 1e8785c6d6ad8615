package wal

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

var long = flag.Bool("long", false, "run long crash variants")

// harness collects acks and failures of a Log.
type harness struct {
	mu     sync.Mutex
	cond   *sync.Cond
	acked  uint64
	failed error
}

func newHarness() *harness {
	h := &harness{}
	h.cond = sync.NewCond(&h.mu)
	return h
}

func (h *harness) opts(fs vfs.FS, seg int64) Options {
	return Options{
		FS: fs, Dir: "wal", SegmentSize: seg,
		OnAck: func(s uint64) {
			h.mu.Lock()
			if s <= h.acked {
				panic("acks out of order")
			}
			h.acked = s
			h.cond.Broadcast()
			h.mu.Unlock()
		},
		OnFail: func(err error) {
			h.mu.Lock()
			h.failed = err
			h.cond.Broadcast()
			h.mu.Unlock()
		},
	}
}

// wait blocks until seq is acked or the log failed.
func (h *harness) wait(seq uint64) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	for h.acked < seq && h.failed == nil {
		h.cond.Wait()
	}
	if h.acked >= seq {
		return nil
	}
	return h.failed
}

func payloadFor(seq uint64) []byte {
	n := int(seq%97) + 1
	if seq%10 == 0 {
		n = 5000 // compressible: exercises TypeBatchS2
	}
	return bytes.Repeat([]byte{byte(seq)}, n)
}

type rec struct {
	seq     uint64
	payload []byte
}

func replayAll(t *testing.T, fs vfs.FS, from uint64, seg int64) ([]rec, *Log, uint64, error) {
	t.Helper()
	var got []rec
	h := newHarness()
	l, last, err := Open(h.opts(fs, seg), from, func(seq uint64, p []byte) error {
		got = append(got, rec{seq, append([]byte(nil), p...)})
		return nil
	})
	return got, l, last, err
}

func writeN(t *testing.T, fs vfs.FS, seg int64, first, n uint64) {
	t.Helper()
	h := newHarness()
	l, last, err := Open(h.opts(fs, seg), ^uint64(0), nil)
	if err != nil {
		t.Fatal(err)
	}
	if last != first-1 {
		t.Fatalf("last = %d, want %d", last, first-1)
	}
	for s := first; s < first+n; s++ {
		if err := l.Append(s, payloadFor(s)); err != nil {
			t.Fatal(err)
		}
		if err := h.wait(s); err != nil { // one group each: many segments
			t.Fatal(err)
		}
	}
	if err := h.wait(first + n - 1); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

func checkRecs(t *testing.T, got []rec, from, to uint64) {
	t.Helper()
	if uint64(len(got)) != to-from+1 {
		t.Fatalf("replayed %d records, want %d (%d..%d)", len(got), to-from+1, from, to)
	}
	for i, r := range got {
		want := from + uint64(i)
		if r.seq != want || !bytes.Equal(r.payload, payloadFor(want)) {
			t.Fatalf("record %d: seq %d (want %d), payload ok=%v", i, r.seq, want, bytes.Equal(r.payload, payloadFor(want)))
		}
	}
}

func TestRecordRoundTrip(t *testing.T) {
	f := func(seq uint64, payload []byte, threshold int, wantType byte) {
		t.Helper()
		enc := EncodeRecord([]byte("prefix"), seq, payload, threshold)
		if string(enc[:6]) != "prefix" {
			t.Fatal("prefix clobbered")
		}
		if enc[6+8] != wantType {
			t.Fatalf("type %d, want %d", enc[6+8], wantType)
		}
		s, p, n, _, err := DecodeRecord(enc[6:], nil)
		if err != nil || s != seq || !bytes.Equal(p, payload) || n != len(enc)-6 {
			t.Fatalf("decode: seq %d err %v n %d", s, err, n)
		}
		// Every strict prefix is rejected, every single-bit flip too.
		for i := 0; i < len(enc)-6; i++ {
			if _, _, _, _, err := DecodeRecord(enc[6:6+i], nil); err == nil {
				t.Fatalf("prefix of %d bytes accepted", i)
			}
		}
		for i := 6; i < len(enc); i++ {
			c := append([]byte(nil), enc[6:]...)
			c[i-6] ^= 0x10
			if _, _, _, _, err := DecodeRecord(c, nil); err == nil {
				t.Fatalf("bit flip at %d accepted", i-6)
			}
		}
	}
	f(1, []byte("hello"), 0, TypeBatch)
	f(1<<40, nil, 0, TypeBatch)
	f(7, bytes.Repeat([]byte("abc"), 100), 64, TypeBatchS2)
	rnd := make([]byte, 300)
	for i := range rnd {
		rnd[i] = byte(rand.Uint32())
	}
	f(9, rnd, 64, TypeBatch) // incompressible: stored plain
	if _, _, _, _, err := DecodeRecord(make([]byte, 40), nil); !errors.Is(err, errZeroHeader) {
		t.Fatalf("zeros: %v", err)
	}
}

func TestAppendReplaySegments(t *testing.T) {
	fs := vfs.NewMem()
	writeN(t, fs, 4096, 1, 300)
	writeN(t, fs, 4096, 301, 50) // reopen continues
	got, l, last, err := replayAll(t, fs, 1, 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	checkRecs(t, got, 1, 350)
	if last != 350 {
		t.Fatalf("last %d", last)
	}
	if m := l.Metrics(); m.Segments < 5 {
		t.Fatalf("expected several segments, got %d", m.Segments)
	}
	names, _ := fs.List("wal")
	for _, n := range names {
		if !strings.HasSuffix(n, ".wal") || len(n) != 20 {
			t.Fatalf("unexpected file %q", n)
		}
	}
	// replayFrom skips earlier records.
	l.Close()
	got, l2, _, err := replayAll(t, fs, 200, 4096)
	if err != nil {
		t.Fatal(err)
	}
	l2.Close()
	checkRecs(t, got, 200, 350)
}

func segNames(t *testing.T, fs vfs.FS) []string {
	names, err := fs.List("wal")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range names {
		if strings.HasSuffix(n, ".wal") {
			out = append(out, n)
		}
	}
	// List order is not guaranteed; names sort by first seq.
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func corrupt(t *testing.T, fs vfs.FS, name string, off int64, b []byte) {
	t.Helper()
	f, err := fs.OpenReadWrite("wal/"+name, vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
	f.Sync()
	f.Close()
}

func fileSize(t *testing.T, fs vfs.FS, name string) int64 {
	st, err := fs.Stat("wal/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

func TestTornTailTruncated(t *testing.T) {
	for _, tc := range []struct {
		name string
		mut  func(fs vfs.FS, seg string, size int64)
	}{
		{"garbage-last-bytes", func(fs vfs.FS, seg string, size int64) { corrupt(t, fs, seg, size-3, []byte{1, 2, 3}) }},
		{"partial-record", func(fs vfs.FS, seg string, size int64) {
			// Append half a record after the valid data.
			r := EncodeRecord(nil, 101, []byte("torn record payload"), 0)
			corrupt(t, fs, seg, size, r[:len(r)/2])
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := vfs.NewMem()
			writeN(t, fs, 1<<20, 1, 100)
			segs := segNames(t, fs)
			last := segs[len(segs)-1]
			size := fileSize(t, fs, last)
			tc.mut(fs, last, size)
			got, l, lastSeq, err := replayAll(t, fs, 1, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			want := uint64(100)
			if tc.name == "garbage-last-bytes" {
				want = 99 // the last record was damaged
			}
			checkRecs(t, got, 1, want)
			if lastSeq != want {
				t.Fatalf("last %d want %d", lastSeq, want)
			}
			// Appends continue after the truncated tail and survive reopen.
			h := newHarness()
			l.Close()
			l, _, err = Open(h.opts(fs, 1<<20), ^uint64(0), nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := l.Append(want+1, payloadFor(want+1)); err != nil {
				t.Fatal(err)
			}
			if err := h.wait(want + 1); err != nil {
				t.Fatal(err)
			}
			l.Close()
			got, l, _, err = replayAll(t, fs, 1, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			l.Close()
			checkRecs(t, got, 1, want+1)
		})
	}
}

func TestMidLogCorruptionRefused(t *testing.T) {
	fs := vfs.NewMem()
	writeN(t, fs, 4096, 1, 200)
	segs := segNames(t, fs)
	if len(segs) < 3 {
		t.Fatalf("want >= 3 segments, got %d", len(segs))
	}
	corrupt(t, fs, segs[1], 30, []byte{0xde, 0xad})
	_, _, _, err := replayAll(t, fs, 1, 4096)
	if !errors.Is(err, ErrCorruption) {
		t.Fatalf("want ErrCorruption, got %v", err)
	}
	for _, want := range []string{segs[1], "offset", "restore"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q does not mention %q", err, want)
		}
	}
}

func TestMissingSegmentRefused(t *testing.T) {
	fs := vfs.NewMem()
	writeN(t, fs, 4096, 1, 200)
	segs := segNames(t, fs)
	if err := fs.Remove("wal/" + segs[1]); err != nil {
		t.Fatal(err)
	}
	_, _, _, err := replayAll(t, fs, 1, 4096)
	if !errors.Is(err, ErrCorruption) || !strings.Contains(err.Error(), "records missing") {
		t.Fatalf("want gap corruption, got %v", err)
	}
}

func TestZeroedMiddleRefused(t *testing.T) {
	// Zeros at the start of a non-last segment look like "no data", but the
	// sequence gap into the next segment gives it away.
	fs := vfs.NewMem()
	writeN(t, fs, 4096, 1, 200)
	segs := segNames(t, fs)
	corrupt(t, fs, segs[1], 0, make([]byte, 64))
	_, _, _, err := replayAll(t, fs, 1, 4096)
	if !errors.Is(err, ErrCorruption) {
		t.Fatalf("want ErrCorruption, got %v", err)
	}
}

func TestTruncate(t *testing.T) {
	fs := vfs.NewMem()
	writeN(t, fs, 4096, 1, 300)
	h := newHarness()
	l, _, err := Open(h.opts(fs, 4096), ^uint64(0), nil)
	if err != nil {
		t.Fatal(err)
	}
	before := len(segNames(t, fs))
	n, err := l.Truncate(150)
	if err != nil || n == 0 {
		t.Fatalf("truncate removed %d: %v", n, err)
	}
	l.Close()
	after := segNames(t, fs)
	if len(after) != before-n {
		t.Fatalf("segments %d -> %d, removed %d", before, len(after), n)
	}
	// Everything after 150 is still there and the log opens.
	got, l, _, err := replayAll(t, fs, 151, 4096)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	checkRecs(t, got, 151, 300)
	var first uint64
	fmt.Sscanf(after[0], "%016x.wal", &first)
	if first > 151 {
		t.Fatalf("segment holding 151 deleted: first is %d", first)
	}
}

func TestGroupCommitAndStalledSync(t *testing.T) {
	fs := vfs.NewMem()
	h := newHarness()
	o := h.opts(fs, 1<<20)
	gate := make(chan struct{})
	entered := make(chan struct{}, 100)
	o.SyncHook = func() error { entered <- struct{}{}; <-gate; return nil }
	l, _, err := Open(o, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Append(1, []byte("a")); err != nil {
		t.Fatal(err)
	}
	<-entered // the flusher is stalled inside the first sync
	// While it is stalled, writers keep appending without blocking.
	for s := uint64(2); s <= 50; s++ {
		if err := l.Append(s, []byte("b")); err != nil {
			t.Fatal(err)
		}
	}
	h.mu.Lock()
	if h.acked != 0 {
		t.Fatal("acked before the sync completed")
	}
	h.mu.Unlock()
	close(gate)
	if err := h.wait(50); err != nil {
		t.Fatal(err)
	}
	m := l.Metrics()
	if m.MaxGroup < 49 || m.Fsyncs > 3 {
		t.Fatalf("group commit: max group %d, fsyncs %d", m.MaxGroup, m.Fsyncs)
	}
	l.Close()
}

func TestFailStop(t *testing.T) {
	fs := vfs.NewMem()
	h := newHarness()
	o := h.opts(fs, 1<<20)
	var fail sync.Once
	syncs := 0
	o.SyncHook = func() error {
		syncs++
		if syncs == 3 {
			var err error
			fail.Do(func() { err = errors.New("injected sync failure") })
			return err
		}
		return nil
	}
	l, _, err := Open(o, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	var seq uint64
	var failedAt uint64
	for seq = 1; seq <= 10; seq++ {
		if err := l.Append(seq, payloadFor(seq)); err != nil {
			failedAt = seq
			break
		}
		if err := h.wait(seq); err != nil {
			if !strings.Contains(err.Error(), "injected sync failure") {
				t.Fatalf("unexpected error %v", err)
			}
			failedAt = seq
			break
		}
	}
	if failedAt != 3 {
		t.Fatalf("failed at %d, want 3", failedAt)
	}
	h.mu.Lock()
	if h.acked != 2 {
		t.Fatalf("acked %d: the failed sync's record must not be acked", h.acked)
	}
	h.mu.Unlock()
	if err := l.Append(seq+1, []byte("x")); err == nil {
		t.Fatal("append after failure succeeded")
	}
	if err := l.Close(); err == nil {
		t.Fatal("close should report the failure")
	}
	// Reopen works; acked records are there.
	got, l, last, err := replayAll(t, fs, 1, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if last < 2 {
		t.Fatalf("last %d", last)
	}
	checkRecs(t, got[:2], 1, 2)
}

// TestCrashClone appends concurrently-acked records and clones the FS at a
// random moment, keeping a random share of unsynced blocks; every acked
// record must come back, in order, followed by nothing torn.
func TestCrashClone(t *testing.T) {
	iters := 30
	if testing.Short() {
		iters = 5
	}
	if *long {
		iters = 500
	}
	for it := 0; it < iters; it++ {
		rng := rand.New(rand.NewPCG(uint64(it), 7))
		fs := vfs.NewCrashableMem()
		h := newHarness()
		l, _, err := Open(h.opts(fs, 8192), 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		crashAt := 1 + rng.IntN(300)
		var clone *vfs.MemFS
		var ackedAtCrash uint64
		for s := uint64(1); s <= 300; s++ {
			if err := l.Append(s, payloadFor(s)); err != nil {
				t.Fatal(err)
			}
			if s%7 == 0 {
				h.wait(s)
			}
			if int(s) == crashAt {
				h.mu.Lock()
				ackedAtCrash = h.acked
				h.mu.Unlock()
				clone = fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: rng.IntN(100), RNG: rng})
			}
		}
		l.Close()
		got, l2, _, err := replayAll(t, clone, 1, 8192)
		if err != nil {
			t.Fatalf("iter %d: reopen after crash: %v", it, err)
		}
		l2.Close()
		if uint64(len(got)) < ackedAtCrash {
			t.Fatalf("iter %d: %d records after crash, %d were acked", it, len(got), ackedAtCrash)
		}
		checkRecs(t, got, 1, uint64(len(got)))
	}
}

func TestRelaxedSyncNow(t *testing.T) {
	fs := vfs.NewCrashableMem()
	h := newHarness()
	o := h.opts(fs, 1<<20)
	o.SyncInterval = time.Hour // never on its own during the test
	l, _, err := Open(o, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	for s := uint64(1); s <= 10; s++ {
		if err := l.Append(s, payloadFor(s)); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.wait(10); err != nil { // acked after write(2)
		t.Fatal(err)
	}
	if d := l.DurableSeq(); d >= 10 {
		t.Fatalf("relaxed mode synced early: durable %d", d)
	}
	// Nothing synced yet: a power loss keeps nothing.
	got, l2, _, err := replayAll(t, fs.CrashClone(vfs.CrashCloneCfg{}), 1, 1<<20)
	if err != nil || len(got) != 0 {
		t.Fatalf("before SyncNow: %d records, %v", len(got), err)
	}
	l2.Close()
	if err := l.SyncNow(); err != nil {
		t.Fatal(err)
	}
	if d := l.DurableSeq(); d != 10 {
		t.Fatalf("durable %d after SyncNow", d)
	}
	got, l2, _, err = replayAll(t, fs.CrashClone(vfs.CrashCloneCfg{}), 1, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	l2.Close()
	checkRecs(t, got, 1, 10)
	l.Close()
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed)) }
