package api

import (
	"bytes"
	"strconv"
	"unicode/utf8"

	daprhttp "github.com/statecar/statecar/api/internal/daprhttp"
	"github.com/statecar/statecar/api/internal/state"
)

// fastDecodeSave decodes a save body of the common shape without
// reflection, appending to items. It reports false whenever the input is
// anything it does not handle exactly like encoding/json's streaming
// decoder would (errors, escaped or non-ASCII field names, duplicate
// fields, unexpected types, null items or metadata values); the caller then
// falls back to encoding/json, which is the reference. FuzzFastSave checks
// that every accepted input decodes identically.
//
// Item Value spans alias body.
func fastDecodeSave(body []byte, items []state.SetRequest) ([]state.SetRequest, bool) {
	p := fastParser{c: canonicalizer{in: body}}
	p.c.skipWS()
	ok := p.elements(func() bool {
		var it state.SetRequest
		if !p.item(&it) {
			return false
		}
		items = append(items, it)
		return true
	})
	return items, ok
}

type fastParser struct {
	c canonicalizer // cursor and string decoding (c.in, c.pos)
}

func (p *fastParser) eat(b byte) bool {
	if p.c.pos < len(p.c.in) && p.c.in[p.c.pos] == b {
		p.c.pos++
		return true
	}
	return false
}

func (p *fastParser) peek() byte {
	if p.c.pos < len(p.c.in) {
		return p.c.in[p.c.pos]
	}
	return 0
}

// name reads an object member name that is plain ASCII without escapes and
// the following ':'; it returns the name's bytes.
func (p *fastParser) name() ([]byte, bool) {
	if !p.eat('"') {
		return nil, false
	}
	start := p.c.pos
	for p.c.pos < len(p.c.in) {
		b := p.c.in[p.c.pos]
		if b == '"' {
			n := p.c.in[start:p.c.pos]
			p.c.pos++
			p.c.skipWS()
			return n, p.eat(':')
		}
		if b == '\\' || b < 0x20 || b >= 0x80 {
			return nil, false
		}
		p.c.pos++
	}
	return nil, false
}

// str decodes a JSON string value (escapes handled like encoding/json).
// A string of printable ASCII without escapes (keys, ETags, options: the
// common case) costs one allocation, the string itself.
func (p *fastParser) str() (string, bool) {
	if p.peek() != '"' {
		return "", false
	}
	in := p.c.in
	for i := p.c.pos + 1; i < len(in); i++ {
		b := in[i]
		if b == '"' {
			s := string(in[p.c.pos+1 : i])
			p.c.pos = i + 1
			return s, true
		}
		if b == '\\' || b < 0x20 || b >= utf8.RuneSelf {
			break // escapes, control bytes, UTF-8: the full decoder
		}
	}
	buf, err := p.c.unquote(nil)
	if err != nil {
		return "", false
	}
	return string(buf), true
}

// null consumes a null literal.
func (p *fastParser) null() bool {
	in := p.c.in[p.c.pos:]
	if len(in) >= 4 && string(in[:4]) == "null" {
		p.c.pos += 4
		return true
	}
	return false
}

// skip validates and skips one JSON value at nesting depth, returning its
// span.
func (p *fastParser) skip(depth int) ([]byte, bool) {
	v := validator{in: p.c.in, pos: p.c.pos}
	start := p.c.pos
	if !v.value(depth) {
		return nil, false
	}
	p.c.pos = v.pos
	return p.c.in[start:v.pos], true
}

// asciiFold reports whether name equals lower (an ASCII lower-case field
// name) ignoring ASCII case.
func asciiFold(name []byte, lower string) bool {
	if len(name) != len(lower) {
		return false
	}
	for i := range len(name) {
		b := name[i]
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if b != lower[i] {
			return false
		}
	}
	return true
}

// seq iterates the elements of an array (open '[', close ']') or the
// members of an object ('{', '}'); fn is called with the cursor on each
// element or member name (whitespace skipped) and must consume it.
func (p *fastParser) seq(open, close byte, fn func() bool) bool {
	if !p.eat(open) {
		return false
	}
	p.c.skipWS()
	if p.eat(close) {
		return true
	}
	for {
		p.c.skipWS()
		if !fn() {
			return false
		}
		p.c.skipWS()
		if p.eat(',') {
			continue
		}
		return p.eat(close)
	}
}

// elements iterates an array's elements; fn is called with the cursor on
// the element and must consume it.
func (p *fastParser) elements(fn func() bool) bool {
	return p.seq('[', ']', fn)
}

// members iterates an object's members; fn is called with the cursor on
// the member's value and must consume it.
func (p *fastParser) members(fn func(name []byte) bool) bool {
	return p.seq('{', '}', func() bool {
		n, ok := p.name()
		if !ok {
			return false
		}
		p.c.skipWS()
		return fn(n)
	})
}

const (
	seenKey = 1 << iota
	seenValue
	seenETag
	seenMetadata
	seenOptions
	seenContentType
	seenConcurrency
	seenConsistency
)

// seenSet records which fields of an object were decoded (seen* bits).
type seenSet int

// once marks bit and reports whether it was not yet marked (a duplicate
// field makes the fast decoders fall back).
func (s *seenSet) once(bit int) bool {
	if int(*s)&bit != 0 {
		return false
	}
	*s |= seenSet(bit)
	return true
}

// nullableStr decodes a string into *dst; null leaves *dst untouched, as
// encoding/json does.
func (p *fastParser) nullableStr(dst *string) bool {
	if p.null() {
		return true
	}
	s, ok := p.str()
	*dst = s
	return ok
}

// nullableStrPtr decodes a string into a new *dst; null leaves *dst
// untouched, as encoding/json does.
func (p *fastParser) nullableStrPtr(dst **string) bool {
	if p.null() {
		return true
	}
	s, ok := p.str()
	*dst = &s
	return ok
}

// arrayOrNull consumes a null (false, true) or reports an array ahead
// without consuming it (true, true); anything else is (false, false).
func (p *fastParser) arrayOrNull() (arr, ok bool) {
	if p.null() {
		return false, true
	}
	arr = p.peek() == '['
	return arr, arr
}

// nullableMetadata decodes an object of string values into a new *dst;
// null leaves *dst untouched, as encoding/json does.
func (p *fastParser) nullableMetadata(dst *map[string]string) bool {
	if p.null() {
		return true
	}
	if p.peek() != '{' {
		return false
	}
	*dst = map[string]string{}
	return p.metadata(*dst)
}

func (p *fastParser) item(it *state.SetRequest) bool {
	var seen seenSet
	return p.members(func(n []byte) bool {
		switch {
		case asciiFold(n, "key"):
			return seen.once(seenKey) && p.nullableStr(&it.Key)
		case asciiFold(n, "value"):
			if !seen.once(seenValue) {
				return false
			}
			v, ok := p.skip(2)
			it.Value = v
			return ok
		case asciiFold(n, "etag"):
			return seen.once(seenETag) && p.nullableStrPtr(&it.ETag)
		case asciiFold(n, "metadata"):
			return seen.once(seenMetadata) && p.nullableMetadata(&it.Metadata)
		case asciiFold(n, "options"):
			if !seen.once(seenOptions) {
				return false
			}
			if p.null() {
				return true
			}
			return p.members(func(on []byte) bool {
				switch {
				case asciiFold(on, "concurrency"):
					return seen.once(seenConcurrency) && p.nullableStr(&it.Options.Concurrency)
				case asciiFold(on, "consistency"):
					return seen.once(seenConsistency) && p.nullableStr(&it.Options.Consistency)
				default:
					_, ok := p.skip(3)
					return ok
				}
			})
		case asciiFold(n, "contenttype"):
			return seen.once(seenContentType) && p.nullableStrPtr(&it.ContentType)
		default:
			_, ok := p.skip(2)
			return ok
		}
	})
}

// metadata decodes an object of string values into m (names may be any
// JSON string; a later duplicate overwrites, as in encoding/json).
func (p *fastParser) metadata(m map[string]string) bool {
	return p.seq('{', '}', func() bool {
		k, ok := p.str()
		if !ok {
			return false
		}
		p.c.skipWS()
		if !p.eat(':') {
			return false
		}
		p.c.skipWS()
		v, ok := p.str()
		if !ok {
			return false
		}
		m[k] = v
		return true
	})
}

var quote = []byte{'"'}

// fastDecodeBulk decodes a bulk get body of the common shape
// ({"keys":[strings],"parallelism":int,"metadata":{strings}}) without
// reflection. Like fastDecodeSave it reports false for anything it does not
// decode exactly like encoding/json (FuzzFastBulk checks it).
func fastDecodeBulk(body []byte, req *daprhttp.BulkGetRequest) bool {
	p := fastParser{c: canonicalizer{in: body}}
	p.c.skipWS()
	var seen seenSet
	return p.members(func(n []byte) bool {
		switch {
		case asciiFold(n, "keys"):
			if !seen.once(seenKey) {
				return false
			}
			if arr, ok := p.arrayOrNull(); !arr {
				return ok
			}
			// Size the slice once: the strings left in the body bound
			// the keys (at most 1024 up front; append grows beyond).
			req.Keys = make([]string, 0, min(bytes.Count(p.c.in[p.c.pos:], quote)/2, 1024))
			return p.elements(func() bool {
				k, ok := p.str()
				if !ok {
					return false
				}
				req.Keys = append(req.Keys, k)
				return true
			})
		case asciiFold(n, "parallelism"):
			if !seen.once(seenValue) {
				return false
			}
			start := p.c.pos
			end := scanNumber(p.c.in, start)
			if end < 0 {
				return false
			}
			for _, b := range p.c.in[start:end] {
				if b == '.' || b == 'e' || b == 'E' {
					return false
				}
			}
			v, err := strconv.ParseInt(unsafeString(p.c.in[start:end]), 10, 0)
			if err != nil {
				return false
			}
			p.c.pos = end
			req.Parallelism = int(v)
			return true
		case asciiFold(n, "metadata"):
			return seen.once(seenMetadata) && p.nullableMetadata(&req.Metadata)
		default:
			_, ok := p.skip(1)
			return ok
		}
	})
}

var opField = []byte(`"operation"`)

// fastDecodeTx decodes a transaction body of the common shape
// ({"operations":[{"operation":string,"request":object}],"metadata":{strings}})
// without reflection. Each Request is the span of the request object in
// body (encoding/json copies it; the span is only read during the call).
// Like fastDecodeSave it reports false for anything it does not decode
// exactly like encoding/json (nulls, duplicate fields, escaped or
// non-ASCII names); FuzzFastTx checks it.
func fastDecodeTx(body []byte, req *daprhttp.TransactionBody) bool {
	p := fastParser{c: canonicalizer{in: body}}
	p.c.skipWS()
	var seen seenSet
	return p.members(func(n []byte) bool {
		switch {
		case asciiFold(n, "operations"):
			if !seen.once(seenKey) {
				return false
			}
			if arr, ok := p.arrayOrNull(); !arr {
				return ok
			}
			req.Operations = make([]daprhttp.TransactionOperation, 0, min(bytes.Count(p.c.in[p.c.pos:], opField), 1024))
			return p.elements(func() bool {
				var op daprhttp.TransactionOperation
				if !p.txOp(&op) {
					return false
				}
				req.Operations = append(req.Operations, op)
				return true
			})
		case asciiFold(n, "metadata"):
			return seen.once(seenMetadata) && p.nullableMetadata(&req.Metadata)
		default:
			_, ok := p.skip(1)
			return ok
		}
	})
}

// txOp decodes one operation object: "operation" a string, "request" an
// object (anything else: false).
func (p *fastParser) txOp(op *daprhttp.TransactionOperation) bool {
	var seen seenSet
	return p.members(func(n []byte) bool {
		switch {
		case asciiFold(n, "operation"):
			if !seen.once(seenKey) || p.peek() != '"' {
				return false
			}
			s, ok := p.str()
			op.Operation = s
			return ok
		case asciiFold(n, "request"):
			if !seen.once(seenValue) || p.peek() != '{' {
				return false
			}
			v, ok := p.skip(3)
			op.Request = v
			return ok
		default:
			_, ok := p.skip(3)
			return ok
		}
	})
}
