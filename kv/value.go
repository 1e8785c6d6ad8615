package kv

import (
	"encoding/binary"
	"errors"

	"github.com/klauspost/compress/s2"
)

// Value format on disk (the Pebble value of a data key), version 1.
// FROZEN: stored in every shard.
//
//	+---------+-------+-----------+----------------------+--------------+
//	| version | flags | seq       | expireAt             | value        |
//	| 1 byte  | 1 B   | 8 B LE    | 8 B LE, if flagTTL   | rest         |
//	+---------+-------+-----------+----------------------+--------------+
//
// version is 1. flags:
//
//	bit 0 (flagS2)  value is s2-compressed (block format)
//	bit 1 (flagTTL) expireAt (int64 unix nanoseconds) is present
//	bit 2 (flagBinary) reserved: value is opaque bytes (not JSON); unused
//	other bits must be zero.
//
// seq is the sequence number of the batch that wrote the value: its ETag.
const (
	valueVersion byte = 1

	flagS2     byte = 1 << 0
	flagTTL    byte = 1 << 1
	flagBinary byte = 1 << 2
	flagsKnown      = flagS2 | flagTTL | flagBinary

	valueHeaderMin = 10
	valueHeaderTTL = 18
)

var errBadValue = errors.New("kv: bad value header")

// valueHeader is the decoded header of a stored value.
type valueHeader struct {
	flags    byte
	seq      uint64
	expireAt int64
}

// headerLen returns the encoded header length for flags.
func headerLen(flags byte) int {
	if flags&flagTTL != 0 {
		return valueHeaderTTL
	}
	return valueHeaderMin
}

// putValueHeader writes the header into dst, which must have headerLen bytes.
func putValueHeader(dst []byte, h valueHeader) {
	dst[0] = valueVersion
	dst[1] = h.flags
	binary.LittleEndian.PutUint64(dst[2:10], h.seq)
	if h.flags&flagTTL != 0 {
		binary.LittleEndian.PutUint64(dst[10:18], uint64(h.expireAt))
	}
}

// appendValue appends header + stored bytes to dst.
func appendValue(dst []byte, h valueHeader, stored []byte) []byte {
	n := headerLen(h.flags)
	off := len(dst)
	dst = append(dst, make([]byte, n)...)
	putValueHeader(dst[off:], h)
	return append(dst, stored...)
}

// decodeValueHeader splits raw into its header and the stored bytes (still
// compressed when flagS2 is set).
func decodeValueHeader(raw []byte) (valueHeader, []byte, error) {
	if len(raw) < valueHeaderMin || raw[0] != valueVersion || raw[1]&^flagsKnown != 0 {
		return valueHeader{}, nil, errBadValue
	}
	h := valueHeader{flags: raw[1], seq: binary.LittleEndian.Uint64(raw[2:10])}
	if h.flags&flagTTL != 0 {
		if len(raw) < valueHeaderTTL {
			return valueHeader{}, nil, errBadValue
		}
		h.expireAt = int64(binary.LittleEndian.Uint64(raw[10:18]))
		return h, raw[valueHeaderTTL:], nil
	}
	return h, raw[valueHeaderMin:], nil
}

// appendStoredValue appends the plain value of stored bytes to dst.
func appendStoredValue(dst []byte, flags byte, stored []byte) ([]byte, error) {
	if flags&flagS2 == 0 {
		return append(dst, stored...), nil
	}
	n, err := s2.DecodedLen(stored)
	if err != nil || n > 1<<30 {
		return dst, errBadValue
	}
	off := len(dst)
	if cap(dst)-off < n {
		nd := make([]byte, off, off+n)
		copy(nd, dst)
		dst = nd
	}
	out, err := s2.Decode(dst[off:off+n], stored)
	if err != nil || len(out) != n {
		return dst, errBadValue
	}
	return dst[:off+n], nil
}

// DecodeValue decodes a stored value (exported for tools and fuzzing): the
// ETag, expiry and the plain value appended to dst.
func DecodeValue(raw, dst []byte) (etag uint64, expireAt int64, value []byte, err error) {
	h, stored, err := decodeValueHeader(raw)
	if err != nil {
		return 0, 0, dst, err
	}
	value, err = appendStoredValue(dst, h.flags, stored)
	return h.seq, h.expireAt, value, err
}
