package h1

import (
	"bytes"
	"context"
	"net"
)

// span is a [s, e) range of Request.buf.
type span struct{ s, e int }

type headerSpan struct{ name, value span }

// maxParams bounds the number of {param} segments in a route pattern.
const maxParams = 8

// Request is a parsed request. All []byte fields and results are views valid
// only until the handler returns (or, for a Blocking route, they are owned by
// the request for the handler's lifetime: the server copies what it must).
//
// A Request is owned by one connection (inline routes, event-loop goroutine) or
// by one blocking task (its goroutine); it is never shared between goroutines.
type Request struct {
	// buf holds the request line and headers; spans index it. It is a view of
	// gnet's inbound buffer (fast path) or an owned copy.
	buf   []byte
	head  span // request line + headers, up to and including the final CRLF CRLF
	meth  span
	path  span // raw path as sent (no query)
	query span // raw query (no '?'); s == e when absent
	hdrs  []headerSpan
	body  []byte

	contentLength int64 // -1 when absent
	major, minor  uint8
	chunked       bool
	keepAlive     bool
	expect100     bool
	expectFailed  bool // an Expect header other than 100-continue (417)
	bodyTooLarge  bool

	// Routing results (set by Router.route).
	ep       *endpoint
	params   [maxParams][]byte
	nparams  int
	paramErr error

	// scratch holds decoded params, the cleaned path and decoded query
	// parts. It is append-only while a handler runs, so earlier views stay valid.
	scratch []byte

	remote net.Addr
	// cs is the connection of a blocking request (nil inline).
	cs *connState
}

// reset clears the request for reuse, keeping its buffers.
func (r *Request) reset() {
	hdrs, scratch := r.hdrs[:0], r.scratch[:0]
	remote := r.remote
	*r = Request{hdrs: hdrs, scratch: scratch, remote: remote, contentLength: -1}
}

func (r *Request) view(s span) []byte { return r.buf[s.s:s.e:s.e] }

// Method returns the request method as sent (case-sensitive).
func (r *Request) Method() []byte { return r.view(r.meth) }

// RawPath returns the escaped path as sent, without the query.
func (r *Request) RawPath() []byte { return r.view(r.path) }

// RawQuery returns the raw query string, without '?'.
func (r *Request) RawQuery() []byte { return r.view(r.query) }

// Header returns the value of the first header named name (ASCII
// case-insensitive). ok is true for a present-but-empty header. Values are
// trimmed of surrounding spaces and tabs.
func (r *Request) Header(name string) (value []byte, ok bool) {
	for i := range r.hdrs {
		h := &r.hdrs[i]
		if h.name.e-h.name.s == len(name) && equalFoldString(r.buf[h.name.s:h.name.e], name) {
			return r.view(h.value), true
		}
	}
	return nil, false
}

// VisitHeaders calls fn for each header in the order received, with the name
// as sent (not canonicalised) and the trimmed value.
func (r *Request) VisitHeaders(fn func(name, value []byte)) {
	for i := range r.hdrs {
		h := &r.hdrs[i]
		fn(r.view(h.name), r.view(h.value))
	}
}

// Context returns a context cancelled when the client's connection closes
// (for blocking routes; inline routes, which never wait, get
// context.Background). The context is the connection's: it outlives one
// request on a kept-alive connection. It is made on first use, so routes
// that never ask pay nothing.
func (r *Request) Context() context.Context {
	if r.cs == nil {
		return context.Background()
	}
	return r.cs.context()
}

// Chunked reports whether the body came with Transfer-Encoding: chunked
// (net/http's ContentLength -1).
func (r *Request) Chunked() bool { return r.chunked }

// Body returns the request body (de-chunked). It is empty when BodyTooLarge.
func (r *Request) Body() []byte { return r.body }

// BodyTooLarge reports that the body exceeded Config.MaxBodySize: Body() is
// empty and the connection is closed after the response.
func (r *Request) BodyTooLarge() bool { return r.bodyTooLarge }

// Param returns the i-th {param} of the matched route, decoded with
// url.QueryUnescape rules ('+' becomes a space). It returns nil when i is out
// of range.
func (r *Request) Param(i int) []byte {
	if i < 0 || i >= r.nparams {
		return nil
	}
	return r.params[i]
}

// NumParams returns the number of parameters of the matched route.
func (r *Request) NumParams() int { return r.nparams }

// RemoteAddr returns the peer address of the connection.
func (r *Request) RemoteAddr() net.Addr { return r.remote }

// ProtoAtLeast reports whether the request's HTTP version is at least major.minor.
func (r *Request) ProtoAtLeast(major, minor int) bool {
	return int(r.major) > major || int(r.major) == major && int(r.minor) >= minor
}

// VisitQuery calls fn for each query parameter in order, name and value
// decoded with url.QueryUnescape rules. Like Go's url.ParseQuery, pairs with an
// invalid escape or containing ';' are skipped, as are empty pairs. The views
// passed to fn stay valid until the handler returns.
func (r *Request) VisitQuery(fn func(name, value []byte)) {
	q := r.view(r.query)
	for len(q) > 0 {
		var k, v []byte
		var ok bool
		if k, v, q, ok = nextQueryPair(q); !ok {
			continue
		}
		dk, ok := r.unescapeQuery(k)
		if !ok {
			continue
		}
		dv, ok := r.unescapeQuery(v)
		if !ok {
			continue
		}
		fn(dk, dv)
	}
}

// QueryValue returns the decoded value of the first query parameter whose
// decoded name equals name (see VisitQuery for the decoding rules).
func (r *Request) QueryValue(name string) (value []byte, ok bool) {
	q := r.view(r.query)
	for len(q) > 0 {
		var k, v []byte
		var ok bool
		if k, v, q, ok = nextQueryPair(q); !ok {
			continue
		}
		if !needsQueryUnescape(k) {
			if string(k) != name {
				continue
			}
		} else {
			dk, ok := r.unescapeQuery(k)
			if !ok || string(dk) != name {
				continue
			}
		}
		dv, ok := r.unescapeQuery(v)
		if !ok {
			continue
		}
		return dv, true
	}
	return nil, false
}

// nextQueryPair splits the first name=value pair off the raw query q (as
// Go's url.ParseQuery does) and returns the rest; ok is false for a pair to
// skip (empty, or containing ';').
func nextQueryPair(q []byte) (k, v, rest []byte, ok bool) {
	pair := q
	if i := bytes.IndexByte(q, '&'); i >= 0 {
		pair, rest = q[:i], q[i+1:]
	}
	if len(pair) == 0 || bytes.IndexByte(pair, ';') >= 0 {
		return nil, nil, rest, false
	}
	k = pair
	if i := bytes.IndexByte(pair, '='); i >= 0 {
		k, v = pair[:i], pair[i+1:]
	}
	return k, v, rest, true
}

// unescapeQuery decodes s into scratch (or returns s itself when nothing needs
// decoding).
func (r *Request) unescapeQuery(s []byte) ([]byte, bool) {
	if !needsQueryUnescape(s) {
		return s[:len(s):len(s)], true
	}
	start := len(r.scratch)
	out, _, ok := appendQueryUnescape(r.scratch, s)
	if !ok {
		return nil, false
	}
	r.scratch = out
	return out[start:len(out):len(out)], true
}

// equalFoldString reports whether b and s are equal under ASCII case folding.
func equalFoldString(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		x, y := b[i], s[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
