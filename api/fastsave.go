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
	if !p.eat('[') {
		return items, false
	}
	p.c.skipWS()
	if p.eat(']') {
		return items, true
	}
	for {
		p.c.skipWS()
		var it state.SetRequest
		if !p.item(&it) {
			return items, false
		}
		items = append(items, it)
		p.c.skipWS()
		if p.eat(',') {
			continue
		}
		return items, p.eat(']')
	}
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

// members iterates an object's members; fn is called with the cursor on
// the member's value and must consume it.
func (p *fastParser) members(fn func(name []byte) bool) bool {
	if !p.eat('{') {
		return false
	}
	p.c.skipWS()
	if p.eat('}') {
		return true
	}
	for {
		p.c.skipWS()
		n, ok := p.name()
		if !ok {
			return false
		}
		p.c.skipWS()
		if !fn(n) {
			return false
		}
		p.c.skipWS()
		if p.eat(',') {
			continue
		}
		return p.eat('}')
	}
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

func (p *fastParser) item(it *state.SetRequest) bool {
	var seen int
	once := func(bit int) bool {
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	}
	return p.members(func(n []byte) bool {
		switch {
		case asciiFold(n, "key"):
			if !once(seenKey) {
				return false
			}
			if p.null() {
				return true
			}
			s, ok := p.str()
			it.Key = s
			return ok
		case asciiFold(n, "value"):
			if !once(seenValue) {
				return false
			}
			v, ok := p.skip(2)
			it.Value = v
			return ok
		case asciiFold(n, "etag"):
			if !once(seenETag) {
				return false
			}
			if p.null() {
				return true
			}
			s, ok := p.str()
			it.ETag = &s
			return ok
		case asciiFold(n, "metadata"):
			if !once(seenMetadata) {
				return false
			}
			if p.null() {
				return true
			}
			if p.peek() != '{' {
				return false
			}
			it.Metadata = map[string]string{}
			return p.metadata(it.Metadata)
		case asciiFold(n, "options"):
			if !once(seenOptions) {
				return false
			}
			if p.null() {
				return true
			}
			return p.members(func(on []byte) bool {
				var dst *string
				switch {
				case asciiFold(on, "concurrency"):
					if !once(seenConcurrency) {
						return false
					}
					dst = &it.Options.Concurrency
				case asciiFold(on, "consistency"):
					if !once(seenConsistency) {
						return false
					}
					dst = &it.Options.Consistency
				default:
					_, ok := p.skip(3)
					return ok
				}
				if p.null() {
					return true
				}
				s, ok := p.str()
				*dst = s
				return ok
			})
		case asciiFold(n, "contenttype"):
			if !once(seenContentType) {
				return false
			}
			if p.null() {
				return true
			}
			s, ok := p.str()
			it.ContentType = &s
			return ok
		default:
			_, ok := p.skip(2)
			return ok
		}
	})
}

// metadata decodes an object of string values into m (names may be any
// JSON string; a later duplicate overwrites, as in encoding/json).
func (p *fastParser) metadata(m map[string]string) bool {
	if !p.eat('{') {
		return false
	}
	p.c.skipWS()
	if p.eat('}') {
		return true
	}
	for {
		p.c.skipWS()
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
		p.c.skipWS()
		if p.eat(',') {
			continue
		}
		return p.eat('}')
	}
}

var quote = []byte{'"'}

// fastDecodeBulk decodes a bulk get body of the common shape
// ({"keys":[strings],"parallelism":int,"metadata":{strings}}) without
// reflection. Like fastDecodeSave it reports false for anything it does not
// decode exactly like encoding/json (FuzzFastBulk checks it).
func fastDecodeBulk(body []byte, req *daprhttp.BulkGetRequest) bool {
	p := fastParser{c: canonicalizer{in: body}}
	p.c.skipWS()
	var seen int
	return p.members(func(n []byte) bool {
		switch {
		case asciiFold(n, "keys"):
			if seen&seenKey != 0 {
				return false
			}
			seen |= seenKey
			if p.null() {
				return true
			}
			if !p.eat('[') {
				return false
			}
			// Size the slice once: the strings left in the body bound
			// the keys (at most 1024 up front; append grows beyond).
			req.Keys = make([]string, 0, min(bytes.Count(p.c.in[p.c.pos:], quote)/2, 1024))
			p.c.skipWS()
			if p.eat(']') {
				return true
			}
			for {
				p.c.skipWS()
				k, ok := p.str()
				if !ok {
					return false
				}
				req.Keys = append(req.Keys, k)
				p.c.skipWS()
				if p.eat(',') {
					continue
				}
				return p.eat(']')
			}
		case asciiFold(n, "parallelism"):
			if seen&seenValue != 0 {
				return false
			}
			seen |= seenValue
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
			if seen&seenMetadata != 0 {
				return false
			}
			seen |= seenMetadata
			if p.null() {
				return true
			}
			if p.peek() != '{' {
				return false
			}
			req.Metadata = map[string]string{}
			return p.metadata(req.Metadata)
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
	var seen int
	return p.members(func(n []byte) bool {
		switch {
		case asciiFold(n, "operations"):
			if seen&seenKey != 0 {
				return false
			}
			seen |= seenKey
			if p.null() {
				return true
			}
			if !p.eat('[') {
				return false
			}
			req.Operations = make([]daprhttp.TransactionOperation, 0, min(bytes.Count(p.c.in[p.c.pos:], opField), 1024))
			p.c.skipWS()
			if p.eat(']') {
				return true
			}
			for {
				p.c.skipWS()
				var op daprhttp.TransactionOperation
				if !p.txOp(&op) {
					return false
				}
				req.Operations = append(req.Operations, op)
				p.c.skipWS()
				if p.eat(',') {
					continue
				}
				return p.eat(']')
			}
		case asciiFold(n, "metadata"):
			if seen&seenMetadata != 0 {
				return false
			}
			seen |= seenMetadata
			if p.null() {
				return true
			}
			if p.peek() != '{' {
				return false
			}
			req.Metadata = map[string]string{}
			return p.metadata(req.Metadata)
		default:
			_, ok := p.skip(1)
			return ok
		}
	})
}

// txOp decodes one operation object: "operation" a string, "request" an
// object (anything else: false).
func (p *fastParser) txOp(op *daprhttp.TransactionOperation) bool {
	var seen int
	return p.members(func(n []byte) bool {
		switch {
		case asciiFold(n, "operation"):
			if seen&seenKey != 0 || p.peek() != '"' {
				return false
			}
			seen |= seenKey
			s, ok := p.str()
			op.Operation = s
			return ok
		case asciiFold(n, "request"):
			if seen&seenValue != 0 || p.peek() != '{' {
				return false
			}
			seen |= seenValue
			v, ok := p.skip(3)
			op.Request = v
			return ok
		default:
			_, ok := p.skip(3)
			return ok
		}
	})
}
