package api

import (
	"sync"
	"unsafe"

	"github.com/statecar/statecar/api/internal/state"
	"github.com/statecar/statecar/component"
)

// saveScratch is the reusable memory of one HTTPSave call: the decoded
// items, the store requests and the canonical values. It is owned by one
// call between getSaveScratch and putSaveScratch; nothing taken from it
// outlives the call (doc.go Invariant 7; the store has returned, and
// stores do not keep SetRequest values after BulkSet returns).
type saveScratch struct {
	items []state.SetRequest
	reqs  []component.SetRequest
	vals  []byte
}

var savePool = sync.Pool{New: func() any { return new(saveScratch) }}

// maxPooledSave bounds what a pooled saveScratch keeps: a call with a
// larger body drops its buffers instead of pinning them in the pool.
const (
	maxPooledSaveItems = 1024
	maxPooledSaveBytes = 64 << 10
)

func getSaveScratch() *saveScratch { return savePool.Get().(*saveScratch) }

func putSaveScratch(sc *saveScratch) {
	if cap(sc.items) > maxPooledSaveItems || cap(sc.reqs) > maxPooledSaveItems {
		sc.items, sc.reqs = nil, nil
	}
	if cap(sc.vals) > maxPooledSaveBytes {
		sc.vals = nil
	}
	// Drop references to the request body, metadata maps and values.
	clear(sc.items[:cap(sc.items)])
	clear(sc.reqs[:cap(sc.reqs)])
	sc.items, sc.reqs, sc.vals = sc.items[:0], sc.reqs[:0], sc.vals[:0]
	savePool.Put(sc)
}

// appendKey appends prefix+key to kb and returns it as a string view of
// kb's new bytes. Bytes once handed out are never written again: append
// only writes past them, and when it reallocates, earlier views keep the
// old array alive unchanged. kb must be a fresh heap buffer of the call,
// never pooled, so the views may be retained like any string (errors,
// stores). Sizing kb for every key up front turns one allocation per key
// into one per request.
func appendKey(kb []byte, prefix, key string) ([]byte, string) {
	start := len(kb)
	kb = append(kb, prefix...)
	kb = append(kb, key...)
	if len(kb) == start {
		return kb, ""
	}
	return kb, unsafe.String(&kb[start], len(kb)-start)
}

// appendCanonicalValue appends the bytes to store for a JSON value given
// over HTTP (raw is the "value" member; nil or absent = null), like
// canonicalValue.
func appendCanonicalValue(dst, raw []byte) []byte {
	if len(raw) == 0 {
		return append(dst, "null"...)
	}
	out, err := Canonicalize(dst, raw)
	if err != nil {
		// encoding/json already validated raw; cannot happen.
		panic("BUG: cannot canonicalise a value accepted by encoding/json: " + err.Error())
	}
	return out
}
