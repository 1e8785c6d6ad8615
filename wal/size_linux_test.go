package wal

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestSegmentsSizedOnDisk: on a real filesystem the segment being written
// is its full size from the start (records, then zeros); a segment done
// with (rolled over or closed) is cut back to its records; and recovery of
// a full-size segment left by a crash reads its records, treats the zero
// tail as the end of the data, truncates a torn record inside it, cuts the
// file back, and appending goes on.
func TestSegmentsSizedOnDisk(t *testing.T) {
	t.Chdir(t.TempDir()) // the harness uses the relative directory "wal"
	fs := vfs.Default
	const seg = 64 << 10

	// While open, the current segment is sized up front.
	h := newHarness()
	l, _, err := Open(h.opts(fs, seg), ^uint64(0), nil)
	if err != nil {
		t.Fatal(err)
	}
	for s := uint64(1); s <= 300; s++ {
		if err := l.Append(s, payloadFor(s)); err != nil {
			t.Fatal(err)
		}
		if err := h.wait(s); err != nil {
			t.Fatal(err)
		}
	}
	segs := segNames(t, fs)
	if len(segs) < 2 {
		t.Fatalf("want several segments, got %v", segs)
	}
	if sz := fileSize(t, fs, segs[len(segs)-1]); sz < seg {
		t.Fatalf("open segment is %d bytes on disk, want at least %d (sized up front)", sz, seg)
	}
	// Rolled segments are cut to their records.
	dataSize := map[string]int64{}
	l.segMu.Lock()
	for _, s := range l.segMu.segs {
		dataSize[s.name] = s.size
	}
	l.segMu.Unlock()
	for _, s := range segs[:len(segs)-1] {
		if sz := fileSize(t, fs, s); sz != dataSize[s] {
			t.Fatalf("rolled segment %s is %d bytes on disk, its records %d", s, sz, dataSize[s])
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	last := segs[len(segs)-1]
	dataEnd := fileSize(t, fs, last)
	if dataEnd >= seg || dataEnd == 0 {
		t.Fatalf("closed segment %s is %d bytes, want its records only", last, dataEnd)
	}
	got, l, lastSeq, err := replayAll(t, fs, 1, seg)
	if err != nil {
		t.Fatal(err)
	}
	checkRecs(t, got, 1, 300)
	if lastSeq != 300 {
		t.Fatalf("last %d", lastSeq)
	}
	l.Close()

	// The state a crash leaves: the last segment at its full size, a torn
	// record just past the last good one.
	path := filepath.Join("wal", last)
	if err := os.Truncate(path, seg); err != nil {
		t.Fatal(err)
	}
	r := EncodeRecord(nil, 301, []byte("torn record payload"), 0)
	corrupt(t, fs, last, dataEnd, r[:len(r)/2])
	got, l, lastSeq, err = replayAll(t, fs, 1, seg)
	if err != nil {
		t.Fatal(err)
	}
	checkRecs(t, got, 1, 300)
	if lastSeq != 300 {
		t.Fatalf("last after torn tail %d", lastSeq)
	}
	l.Close()
	if sz := fileSize(t, fs, last); sz != dataEnd {
		t.Fatalf("after recovery %s is %d bytes, want %d (cut to its records)", last, sz, dataEnd)
	}
	writeN(t, fs, seg, 301, 20)
	got, l, _, err = replayAll(t, fs, 1, seg)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	checkRecs(t, got, 1, 320)
}
