package wal

import (
	"bytes"
	"testing"
)

// FuzzDecodeRecord: DecodeRecord never panics, and whatever it accepts
// round-trips: a plain record re-encodes to the same bytes, and any
// accepted payload re-encodes (with and without compression) and decodes
// back to itself.
func FuzzDecodeRecord(f *testing.F) {
	f.Add(EncodeRecord(nil, 1, []byte("hello"), 0))
	f.Add(EncodeRecord(nil, 1<<33, bytes.Repeat([]byte("xyz"), 200), 16))
	f.Add(EncodeRecord(nil, 5, nil, 0))
	f.Add(make([]byte, HeaderSize))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, buf []byte) {
		seq, payload, n, _, err := DecodeRecord(buf, nil)
		if err != nil {
			return
		}
		if n < HeaderSize || n > len(buf) {
			t.Fatalf("n=%d out of range", n)
		}
		if buf[8] == TypeBatch {
			if re := EncodeRecord(nil, seq, payload, 0); !bytes.Equal(re, buf[:n]) {
				t.Fatalf("plain record does not re-encode identically")
			}
		}
		for _, th := range []int{0, 1} {
			re := EncodeRecord(nil, seq, payload, th)
			s2, p2, n2, _, err := DecodeRecord(re, nil)
			if err != nil || s2 != seq || !bytes.Equal(p2, payload) || n2 != len(re) {
				t.Fatalf("re-encoded record does not decode back: %v", err)
			}
		}
	})
}
