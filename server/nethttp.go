package server

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"unsafe"
)

// httpRequest adapts a net/http request to the route handlers. It is used
// by the public port, and by the HTTP API until/unless the h1 transport
// serves it.
type httpRequest struct {
	r        *http.Request
	path     string
	params   routeParams
	data     []byte
	tooLarge bool
	query    [][2]string // parsed once, in order
	qparsed  bool
}

func (q *httpRequest) method() string           { return q.r.Method }
func (q *httpRequest) rawPath() string          { return q.path }
func (q *httpRequest) body() []byte             { return q.data }
func (q *httpRequest) bodyTooLarge() bool       { return q.tooLarge }
func (q *httpRequest) context() context.Context { return q.r.Context() }
func (q *httpRequest) setParams(p routeParams)  { q.params = p }
func (q *httpRequest) rawQuery() string         { return q.r.URL.RawQuery }
func (q *httpRequest) param(i int) []byte       { return bytesOf(q.params[i]) }
func (q *httpRequest) chunked() bool            { return q.r.ContentLength < 0 }
func (q *httpRequest) callerContext() context.Context {
	return q.r.Context()
}
func (q *httpRequest) decodedPath() (string, bool) {
	return q.r.URL.Path, true
}
func (q *httpRequest) visitHeaders(fn func(n, v []byte)) {
	for k, vs := range q.r.Header {
		for _, v := range vs {
			fn(bytesOf(k), bytesOf(v))
		}
	}
}
func (q *httpRequest) header(name string) ([]byte, bool) {
	vs, ok := q.r.Header[http.CanonicalHeaderKey(name)]
	if !ok || len(vs) == 0 {
		return nil, false
	}
	return bytesOf(vs[0]), true
}

func (q *httpRequest) parseQuery() {
	if q.qparsed {
		return
	}
	q.qparsed = true
	raw := q.r.URL.RawQuery
	for raw != "" {
		var kv string
		kv, raw, _ = strings.Cut(raw, "&")
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		k, err1 := queryUnescape(k)
		v, err2 := queryUnescape(v)
		if err1 != nil || err2 != nil {
			continue
		}
		q.query = append(q.query, [2]string{k, v})
	}
}

func (q *httpRequest) visitQuery(fn func(name, value []byte)) {
	q.parseQuery()
	for _, kv := range q.query {
		fn(bytesOf(kv[0]), bytesOf(kv[1]))
	}
}

func (q *httpRequest) queryValue(name string) ([]byte, bool) {
	q.parseQuery()
	for _, kv := range q.query {
		if kv[0] == name {
			return bytesOf(kv[1]), true
		}
	}
	return nil, false
}

// bytesOf returns a read-only view of s (handlers and api never modify
// request bytes).
func bytesOf(s string) []byte {
	if s == "" {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// httpResponse buffers a handler's answer for net/http.
type httpResponse struct {
	w    http.ResponseWriter
	code int
	n    int
	hdr  bool
}

func (p *httpResponse) setStatus(code int) { p.code = code }
func (p *httpResponse) status() int {
	if p.code == 0 {
		return http.StatusOK
	}
	return p.code
}
func (p *httpResponse) addHeader(name, value string) {
	p.w.Header()[name] = append(p.w.Header()[name], value)
}
func (p *httpResponse) addHeaderBytes(name string, v []byte) {
	p.addHeader(name, string(v))
}
func (p *httpResponse) flushHeader() {
	if !p.hdr {
		p.hdr = true
		p.w.WriteHeader(p.status())
	}
}
func (p *httpResponse) write(b []byte) {
	p.flushHeader()
	n, _ := p.w.Write(b)
	p.n += n
}
func (p *httpResponse) size() int { return p.n }

var bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// netHTTPHandler serves the API (public=false) or the public port.
func (s *Runtime) netHTTPHandler(public bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := &httpRequest{r: r, path: cleanPath(r.URL.EscapedPath())}
		bp := bodyPool.Get().(*[]byte)
		defer func() {
			if cap(*bp) <= 1<<20 {
				*bp = (*bp)[:0]
				bodyPool.Put(bp)
			}
		}()
		if r.Body != nil {
			limit := s.cfg.MaxBodySize
			if limit <= 0 {
				limit = 4 << 20
			}
			buf := (*bp)[:0]
			lr := io.LimitReader(r.Body, limit+1)
			for {
				if len(buf) == cap(buf) {
					buf = append(buf, 0)[:len(buf)]
				}
				n, err := lr.Read(buf[len(buf):cap(buf)])
				buf = buf[:len(buf)+n]
				if err != nil {
					break
				}
			}
			if int64(len(buf)) > limit {
				req.tooLarge = true
				buf = buf[:limit]
				w.Header().Set("Connection", "close")
			}
			*bp = buf
			req.data = buf
		}
		resp := &httpResponse{w: w}
		s.serve(resp, req, public)
		resp.flushHeader()
	})
}

func queryUnescape(s string) (string, error) {
	if !strings.ContainsAny(s, "%+") {
		return s, nil
	}
	return urlQueryUnescape(s)
}
