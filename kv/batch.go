package kv

import (
	"encoding/binary"
	"errors"

	"github.com/klauspost/compress/s2"
)

// CondKind is the kind of condition on one op.
type CondKind uint8

// Condition kinds.
const (
	CondNone      CondKind = iota
	CondETag               // the key must exist (not expired) and its ETag must equal Cond.ETag
	CondNotExists          // the key must be absent or expired
	// condSeq (internal, sweeper): the stored value must be expired and have
	// ETag Cond.ETag; a failing op is skipped instead of failing the batch.
	condSeq
)

// Cond is an optional condition on one op, checked against the state before
// the batch.
type Cond struct {
	Kind CondKind
	ETag uint64
}

const (
	opPut    byte = 1
	opDelete byte = 2
)

type op struct {
	kind       byte
	cond       Cond
	koff, klen int
	voff, vlen int
	expireAt   int64
}

// Batch is a list of puts and deletes applied atomically by DB.Apply. The
// zero value is ready; Reset makes it reusable. A Batch is not safe for
// concurrent use and must not be changed while Apply runs.
type Batch struct {
	ops []op
	buf []byte // copies of keys and values

	// Used by Apply; owned by the goroutine calling Apply.
	rec   []byte     // WAL payload
	fails []Failure  // scratch for condition checks
	skip  []bool     // soft-failed ops (sweeper)
	done  chan error // completion of the current Apply; cap 1
}

// Put sets key to value, under condition c, expiring at expireAt (unix
// nanoseconds; 0 = never; a negative value is taken as 1, long expired).
// key and value are copied.
func (b *Batch) Put(key, value []byte, c Cond, expireAt int64) {
	if expireAt < 0 {
		expireAt = 1
	}
	koff := len(b.buf)
	b.buf = append(b.buf, key...)
	voff := len(b.buf)
	b.buf = append(b.buf, value...)
	b.ops = append(b.ops, op{kind: opPut, cond: c, koff: koff, klen: len(key), voff: voff, vlen: len(value), expireAt: expireAt})
}

// Delete deletes key under condition c. key is copied. Deleting an absent
// key is not an error.
func (b *Batch) Delete(key []byte, c Cond) {
	koff := len(b.buf)
	b.buf = append(b.buf, key...)
	b.ops = append(b.ops, op{kind: opDelete, cond: c, koff: koff, klen: len(key)})
}

// Len returns the number of ops.
func (b *Batch) Len() int { return len(b.ops) }

// Reset empties the batch, keeping its memory.
func (b *Batch) Reset() {
	b.ops = b.ops[:0]
	b.buf = b.buf[:0]
}

func (b *Batch) key(i int) []byte {
	o := &b.ops[i]
	return b.buf[o.koff : o.koff+o.klen : o.koff+o.klen]
}

func (b *Batch) value(i int) []byte {
	o := &b.ops[i]
	return b.buf[o.voff : o.voff+o.vlen : o.voff+o.vlen]
}

// WAL payload of one batch, version 1. FROZEN (on disk in the WAL):
//
//	version  1 byte (1)
//	count    uvarint
//	count ops:
//	  kind   1 byte: 1 put, 2 delete
//	  klen   uvarint, key
//	  put only:
//	    vflags  1 byte (value flags: flagS2, flagTTL)
//	    expire  uvarint (uint64 of expireAt; 0 = none)
//	    vlen    uvarint, stored value bytes (compressed when flagS2)
//
// The sequence number is the WAL record's.
const payloadVersion byte = 1

var errBadPayload = errors.New("kv: bad WAL payload")

// encodePayload builds b.rec from the ops not marked in skip.
func (b *Batch) encodePayload(compressThreshold int) {
	n := 0
	for i := range b.ops {
		if b.skip == nil || !b.skip[i] {
			n++
		}
	}
	rec := append(b.rec[:0], payloadVersion)
	rec = binary.AppendUvarint(rec, uint64(n))
	for i := range b.ops {
		if b.skip != nil && b.skip[i] {
			continue
		}
		o := &b.ops[i]
		rec = append(rec, o.kind)
		rec = binary.AppendUvarint(rec, uint64(o.klen))
		rec = append(rec, b.key(i)...)
		if o.kind != opPut {
			continue
		}
		var flags byte
		if o.expireAt != 0 {
			flags |= flagTTL
		}
		v := b.value(i)
		if compressThreshold > 0 && len(v) >= compressThreshold {
			// Compress in place after a provisional header.
			hdr := len(rec)
			rec = append(rec, flags|flagS2)
			rec = binary.AppendUvarint(rec, uint64(o.expireAt))
			max := s2.MaxEncodedLen(len(v))
			var lb [binary.MaxVarintLen64]byte
			// Reserve the largest varint for the length, then shift down.
			lenOff := len(rec)
			rec = append(rec, lb[:]...)
			dataOff := len(rec)
			if cap(rec) < dataOff+max {
				nr := make([]byte, dataOff, (dataOff+max)*5/4)
				copy(nr, rec)
				rec = nr
			}
			enc := s2.Encode(rec[dataOff:dataOff+max], v)
			if len(enc) < len(v)-len(v)/8 {
				ln := binary.PutUvarint(lb[:], uint64(len(enc)))
				rec = rec[:dataOff+len(enc)]
				copy(rec[lenOff:], lb[:ln])
				copy(rec[lenOff+ln:], rec[dataOff:]) // memmove down
				rec = rec[:lenOff+ln+len(enc)]
				continue
			}
			rec = rec[:hdr] // not worth it: store plain
		}
		rec = append(rec, flags)
		rec = binary.AppendUvarint(rec, uint64(o.expireAt))
		rec = binary.AppendUvarint(rec, uint64(len(v)))
		rec = append(rec, v...)
	}
	b.rec = rec
}

// decodedOp is one op of a WAL payload; slices view the payload.
type decodedOp struct {
	kind     byte
	key      []byte
	vflags   byte
	expireAt int64
	stored   []byte
}

// forEachOp decodes payload and calls fn for every op in order.
func forEachOp(payload []byte, fn func(o *decodedOp) error) error {
	if len(payload) < 1 || payload[0] != payloadVersion {
		return errBadPayload
	}
	p := payload[1:]
	n, k := binary.Uvarint(p)
	if k <= 0 {
		return errBadPayload
	}
	p = p[k:]
	var o decodedOp
	for i := uint64(0); i < n; i++ {
		if len(p) < 1 {
			return errBadPayload
		}
		o = decodedOp{kind: p[0]}
		p = p[1:]
		kl, k := binary.Uvarint(p)
		if k <= 0 || kl > uint64(len(p)-k) {
			return errBadPayload
		}
		o.key = p[k : k+int(kl)]
		p = p[k+int(kl):]
		switch o.kind {
		case opDelete:
		case opPut:
			if len(p) < 1 {
				return errBadPayload
			}
			o.vflags = p[0]
			if o.vflags&^(flagS2|flagTTL) != 0 {
				return errBadPayload
			}
			p = p[1:]
			e, k := binary.Uvarint(p)
			if k <= 0 {
				return errBadPayload
			}
			o.expireAt = int64(e)
			p = p[k:]
			vl, k := binary.Uvarint(p)
			if k <= 0 || vl > uint64(len(p)-k) {
				return errBadPayload
			}
			o.stored = p[k : k+int(vl)]
			p = p[k+int(vl):]
		default:
			return errBadPayload
		}
		if err := fn(&o); err != nil {
			return err
		}
	}
	if len(p) != 0 {
		return errBadPayload
	}
	return nil
}
