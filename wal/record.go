package wal

import (
	"encoding/binary"
	"errors"
	"hash/crc32"

	"github.com/klauspost/compress/s2"
)

// Record format, version 1. FROZEN: these constants are on disk; changing
// any of them needs a new record type and a reader for the old one.
//
//	+----------+----------+------+------------+---------------------+
//	| crc32c   | length   | type | seqnum     | payload             |
//	| 4 bytes  | 4 bytes  | 1 B  | 8 bytes    | length bytes        |
//	+----------+----------+------+------------+---------------------+
//	  uint32 LE  uint32 LE          uint64 LE
//
// crc32c (Castagnoli) covers every byte after itself: length, type, seqnum
// and payload. length is the stored payload length (after compression).
//
// type:
//
//	0  reserved: a zero header (crc, length and type all zero) marks the end
//	   of the data in a segment; the rest of a preallocated segment is zeros.
//	1  TypeBatch: the payload is stored as given.
//	2  TypeBatchS2: the payload is s2-compressed (klauspost/compress/s2,
//	   block format); the decoded payload is what the writer appended.
//
// Records never span segments. Sequence numbers are strictly increasing by
// one from record to record, across segment boundaries too.
const (
	HeaderSize = 17 // crc(4) + length(4) + type(1) + seqnum(8)

	TypeBatch   byte = 1
	TypeBatchS2 byte = 2

	// MaxPayload bounds the stored payload length of one record (1 GiB).
	MaxPayload = 1 << 30
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// errBadRecord is returned by DecodeRecord for any malformed record.
var errBadRecord = errors.New("wal: bad record")

// errZeroHeader is returned by DecodeRecord when the header is all zeros:
// the end of the written data of a segment.
var errZeroHeader = errors.New("wal: zero header")

// appendRecord appends the encoding of one record with the stored payload
// (already compressed when typ is TypeBatchS2) to dst.
func appendRecord(dst []byte, typ byte, seq uint64, stored []byte) []byte {
	off := len(dst)
	dst = append(dst, make([]byte, HeaderSize)...)
	dst = append(dst, stored...)
	h := dst[off:]
	binary.LittleEndian.PutUint32(h[4:8], uint32(len(stored)))
	h[8] = typ
	binary.LittleEndian.PutUint64(h[9:17], seq)
	binary.LittleEndian.PutUint32(h[0:4], crc32.Checksum(h[4:], crcTable))
	return dst
}

// EncodeRecord appends one record for seq and payload to dst, compressing
// the payload with s2 when len(payload) >= compressThreshold (>0) and the
// result is at least 1/8 smaller. It is the writer's encoding, exposed for
// tests and tools.
func EncodeRecord(dst []byte, seq uint64, payload []byte, compressThreshold int) []byte {
	if compressThreshold > 0 && len(payload) >= compressThreshold {
		n := s2.MaxEncodedLen(len(payload))
		if n > 0 {
			off := len(dst) + HeaderSize
			need := off + n
			if cap(dst) < need {
				nd := make([]byte, len(dst), need+need/4)
				copy(nd, dst)
				dst = nd
			}
			enc := s2.Encode(dst[off:need], payload)
			if len(enc) < len(payload)-len(payload)/8 {
				// enc lives in place at dst[off:]; fill the header in front.
				dst = dst[:off+len(enc)]
				h := dst[off-HeaderSize:]
				binary.LittleEndian.PutUint32(h[4:8], uint32(len(enc)))
				h[8] = TypeBatchS2
				binary.LittleEndian.PutUint64(h[9:17], seq)
				binary.LittleEndian.PutUint32(h[0:4], crc32.Checksum(h[4:], crcTable))
				return dst
			}
		}
	}
	return appendRecord(dst, TypeBatch, seq, payload)
}

// DecodeRecord decodes the record at the start of buf. It returns the
// sequence number, the payload (decompressed into scratch[:0] when the
// record is compressed, else a view into buf), the total encoded size n,
// and scratch for reuse. A zero header yields errZeroHeader; anything else
// malformed (short, bad checksum, unknown type, bad compression) yields
// errBadRecord.
func DecodeRecord(buf, scratch []byte) (seq uint64, payload []byte, n int, newScratch []byte, err error) {
	if len(buf) < HeaderSize {
		if isZero(buf) {
			return 0, nil, 0, scratch, errZeroHeader
		}
		return 0, nil, 0, scratch, errBadRecord
	}
	crc := binary.LittleEndian.Uint32(buf[0:4])
	length := binary.LittleEndian.Uint32(buf[4:8])
	typ := buf[8]
	if crc == 0 && length == 0 && typ == 0 {
		return 0, nil, 0, scratch, errZeroHeader
	}
	if length > MaxPayload || int(length) > len(buf)-HeaderSize {
		return 0, nil, 0, scratch, errBadRecord
	}
	n = HeaderSize + int(length)
	if crc32.Checksum(buf[4:n], crcTable) != crc {
		return 0, nil, 0, scratch, errBadRecord
	}
	seq = binary.LittleEndian.Uint64(buf[9:17])
	stored := buf[HeaderSize:n]
	switch typ {
	case TypeBatch:
		return seq, stored, n, scratch, nil
	case TypeBatchS2:
		dl, derr := s2.DecodedLen(stored)
		if derr != nil || dl > MaxPayload {
			return 0, nil, 0, scratch, errBadRecord
		}
		if cap(scratch) < dl {
			scratch = make([]byte, dl)
		}
		out, derr := s2.Decode(scratch[:dl], stored)
		if derr != nil {
			return 0, nil, 0, scratch, errBadRecord
		}
		return seq, out, n, scratch, nil
	default:
		return 0, nil, 0, scratch, errBadRecord
	}
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
