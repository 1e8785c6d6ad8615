package api

import (
	"bytes"
	"errors"
	"net/http"
	"strings"

	"google.golang.org/grpc/codes"

	"github.com/statecar/statecar/component"
)

var sepBytes = []byte("||")

// storeFailure maps a store error to daprd's status for a handler whose
// error code is tag and whose message starts with prefix: ETag mismatch →
// 409/Aborted, invalid ETag → 400/InvalidArgument, anything else →
// 500/Internal.
func storeFailure(err error, tag, prefix string) *Error {
	msg := prefix + err.Error()
	var ee *component.ETagError
	if errors.As(err, &ee) {
		switch ee.Kind {
		case component.ETagMismatch:
			return basic(http.StatusConflict, codes.Aborted, tag, msg)
		case component.ETagInvalid:
			return basic(http.StatusBadRequest, codes.InvalidArgument, tag, msg)
		}
	}
	return basic(http.StatusInternalServerError, codes.Internal, tag, msg)
}

// singleErr unwraps a one-item *BulkError, so that a single-item save or
// delete reports the store's error without the bulk wrapper.
func singleErr(err error, n int) error {
	var be *component.BulkError
	if n == 1 && errors.As(err, &be) && len(be.Errs) == 1 {
		return be.Errs[0]
	}
	return err
}

// mergeMeta returns item metadata with url metadata layered on top (URL
// wins). It returns one of its arguments when the other is empty; stores
// must not mutate metadata maps.
func mergeMeta(item, url Metadata) Metadata {
	if len(url) == 0 {
		return item
	}
	if len(item) == 0 {
		return url
	}
	out := make(Metadata, len(item)+len(url))
	for k, v := range item {
		out[k] = v
	}
	for k, v := range url {
		out[k] = v
	}
	return out
}

// etagPtr turns "" into nil (empty ETag = no ETag).
func etagPtr(p *string) *string {
	if p == nil || *p == "" {
		return nil
	}
	return p
}

func hasSep(key string) bool { return strings.Contains(key, "||") }

func hasSepBytes(key []byte) bool { return bytes.Contains(key, sepBytes) }

// appendDataJSON appends stored bytes as a JSON value for bulk get and
// query bodies: valid JSON is compacted and HTML-escaped exactly like
// json.Encoder does for a json.RawMessage; anything else (raw bytes written
// over gRPC) becomes a JSON string of the bytes (daprd sends an empty body
// instead; see docs/compatibility.md).
func appendDataJSON(dst, data []byte) []byte {
	if out, ok := appendCompact(dst, data); ok {
		return out
	}
	return appendJSONString(dst, data)
}

// canonicalValue returns the bytes to store for a JSON value given over
// HTTP (raw is the "value" member; nil or absent = null).
func canonicalValue(raw []byte) []byte {
	if len(raw) == 0 {
		return []byte("null")
	}
	out, err := Canonicalize(make([]byte, 0, len(raw)), raw)
	if err != nil {
		// encoding/json already validated raw; cannot happen.
		panic("BUG: cannot canonicalise a value accepted by encoding/json: " + err.Error())
	}
	return out
}
