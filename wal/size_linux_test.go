package wal

import (
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestSegmentsSizedOnDisk: on a real filesystem every segment is created at
// its full size (records, then zeros), and recovery reads such segments
// back whole, treats the zero tail as the end of the data, truncates a torn
// record inside it and goes on appending.
func TestSegmentsSizedOnDisk(t *testing.T) {
	t.Chdir(t.TempDir()) // the harness uses the relative directory "wal"
	fs := vfs.Default
	const seg = 64 << 10
	writeN(t, fs, seg, 1, 300)
	segs := segNames(t, fs)
	if len(segs) < 2 {
		t.Fatalf("want several segments, got %v", segs)
	}
	for _, s := range segs {
		if sz := fileSize(t, fs, s); sz < seg {
			t.Fatalf("segment %s is %d bytes on disk, want at least %d (sized up front)", s, sz, seg)
		}
	}
	got, l, last, err := replayAll(t, fs, 1, seg)
	if err != nil {
		t.Fatal(err)
	}
	checkRecs(t, got, 1, 300)
	if last != 300 {
		t.Fatalf("last %d", last)
	}
	written := l.Metrics().SegmentBytes
	l.Close()

	// A torn record just past the last good one, inside the zero tail.
	segs = segNames(t, fs)
	lastSeg := segs[len(segs)-1]
	h := newHarness()
	l, _, err = Open(h.opts(fs, seg), ^uint64(0), nil)
	if err != nil {
		t.Fatal(err)
	}
	var dataEnd int64
	l.segMu.Lock()
	for _, s := range l.segMu.segs {
		if s.name == lastSeg {
			dataEnd = s.size
		}
	}
	l.segMu.Unlock()
	l.Close()
	if dataEnd == 0 || dataEnd >= seg {
		t.Fatalf("data end of %s = %d (segment bytes %d)", lastSeg, dataEnd, written)
	}
	r := EncodeRecord(nil, 301, []byte("torn record payload"), 0)
	corrupt(t, fs, lastSeg, dataEnd, r[:len(r)/2])
	got, l, last, err = replayAll(t, fs, 1, seg)
	if err != nil {
		t.Fatal(err)
	}
	checkRecs(t, got, 1, 300)
	if last != 300 {
		t.Fatalf("last after torn tail %d", last)
	}
	l.Close()
	writeN(t, fs, seg, 301, 20)
	got, l, _, err = replayAll(t, fs, 1, seg)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	checkRecs(t, got, 1, 320)
}
