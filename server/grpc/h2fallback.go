package grpcserver

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// errStreamGone is what a fallback handler's reads and writes return once
// its stream was reset or its connection closed.
var errStreamGone = errors.New("grpc transport: stream closed")

// startFallback hands st to grpc-go (grpc.Server.ServeHTTP) on a new
// goroutine. initial is the body received so far (the reader keeps
// pushing the rest). Called by the reader goroutine.
func (c *h2conn) startFallback(st *h2stream, initial []byte) {
	hdr := make(http.Header, len(st.headers)+4)
	if st.headers != nil {
		for _, f := range st.headers {
			if !f.IsPseudo() {
				hdr.Add(f.Name, f.Value)
			}
		}
	} else {
		// A fast-path stream turned out not to be one message: rebuild the
		// headers from its metadata (whose -bin values were decoded).
		for k, vs := range st.md {
			if strings.HasPrefix(k, ":") {
				continue
			}
			for _, v := range vs {
				if strings.HasSuffix(k, "-bin") {
					v = base64.RawStdEncoding.EncodeToString([]byte(v))
				}
				hdr.Add(k, v)
			}
		}
		if st.hasTimeout {
			hdr.Set("Grpc-Timeout", st.rawTimeout)
		}
	}
	st.desc = nil
	fb := &fallbackBody{st: st, free: len(initial), buf: append([]byte(nil), initial...)}
	fb.cond = sync.NewCond(&fb.mu)
	ctx, cancel := context.WithCancel(c.ctx)
	ctx = context.WithValue(ctx, http.LocalAddrContextKey, c.nc.LocalAddr())
	c.mu.Lock()
	// Bytes taken in on the fast path and not yet credited are credited
	// now; what the handler reads from here on is credited as it reads.
	c.creditLocked(st, st.recvUnacked)
	st.recvUnacked = 0
	st.fb = fb
	st.cancel = cancel
	gone := st.gone
	c.mu.Unlock()
	if gone {
		cancel()
		return
	}
	path := st.method
	u := &url.URL{Path: path}
	if pu, err := url.ParseRequestURI(path); err == nil {
		u = pu
	}
	req := (&http.Request{
		Method:        st.httpMethod,
		URL:           u,
		Proto:         "HTTP/2.0",
		ProtoMajor:    2,
		Header:        hdr,
		Body:          fb,
		ContentLength: -1,
		Host:          st.authority,
		RemoteAddr:    c.nc.RemoteAddr().String(),
		RequestURI:    path,
	}).WithContext(ctx)
	w := &fallbackWriter{st: st, h: http.Header{}}
	go func() {
		defer cancel()
		c.t.s.srv.ServeHTTP(w, req)
		w.finish()
		c.flush()
	}()
}

// fallbackBody is the request body of a fallback stream: the reader pushes
// DATA payloads, the handler reads them, and what it reads is credited
// back to the peer's stream window.
type fallbackBody struct {
	st     *h2stream
	mu     sync.Mutex
	cond   *sync.Cond
	buf    []byte
	free   int // leading bytes of buf already credited (taken in on the fast path)
	done   bool
	closed bool // Close was called: reads fail, pushes are credited and dropped
	err    error
}

func (b *fallbackBody) push(p []byte, padding int) {
	if padding > 0 {
		c := b.st.c
		c.mu.Lock()
		c.creditLocked(b.st, padding)
		c.mu.Unlock()
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		b.credit(len(p))
		return
	}
	b.buf = append(b.buf, p...)
	b.mu.Unlock()
	b.cond.Signal()
}

func (b *fallbackBody) finish() {
	b.mu.Lock()
	b.done = true
	b.mu.Unlock()
	b.cond.Broadcast()
}

func (b *fallbackBody) abort() {
	b.mu.Lock()
	if b.err == nil {
		b.err = errStreamGone
	}
	b.mu.Unlock()
	b.cond.Broadcast()
}

// Read implements io.Reader.
func (b *fallbackBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	for len(b.buf) == 0 && !b.done && b.err == nil {
		b.cond.Wait()
	}
	if b.err != nil {
		b.mu.Unlock()
		return 0, b.err
	}
	if len(b.buf) == 0 {
		b.mu.Unlock()
		return 0, io.EOF
	}
	n := copy(p, b.buf)
	b.buf = b.buf[n:]
	credit := n
	if b.free > 0 {
		f := min(b.free, n)
		b.free -= f
		credit -= f
	}
	done := b.done
	b.mu.Unlock()
	if credit > 0 && !done {
		c := b.st.c
		c.mu.Lock()
		c.creditLocked(b.st, credit)
		c.mu.Unlock()
		c.flush()
	}
	return n, nil
}

// errBodyClosed is what reads return after the handler closed the body.
var errBodyClosed = errors.New("grpc transport: request body closed")

// Close implements io.Closer. grpc-go closes the body when the handler has
// returned and then waits for its reader goroutine, so a read blocked on
// a client that has not half-closed (a bidi stream ended by the server)
// must return now. What the client still sends is credited back at once
// and dropped.
func (b *fallbackBody) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	if b.err == nil {
		b.err = errBodyClosed
	}
	credit := len(b.buf) - b.free
	b.buf, b.free = nil, 0
	b.mu.Unlock()
	b.cond.Broadcast()
	b.credit(credit)
	return nil
}

// credit returns n bytes to the peer's stream and connection windows.
func (b *fallbackBody) credit(n int) {
	if n <= 0 {
		return
	}
	c := b.st.c
	c.mu.Lock()
	c.creditLocked(b.st, n)
	c.mu.Unlock()
	c.flush()
}

// fallbackWriter is the http.ResponseWriter of a fallback stream. grpc-go
// calls it from the ServeHTTP goroutine only.
type fallbackWriter struct {
	st       *h2stream
	h        http.Header
	wrote    bool
	declared []string // names listed in the Trailer header
}

// Header implements http.ResponseWriter.
func (w *fallbackWriter) Header() http.Header { return w.h }

// WriteHeader implements http.ResponseWriter.
func (w *fallbackWriter) WriteHeader(code int) {
	if w.wrote {
		return
	}
	w.wrote = true
	block := appendHPACKField(nil, ":status", strconv.Itoa(code))
	for k, vs := range w.h {
		if k == "Trailer" {
			for _, v := range vs {
				for _, n := range strings.Split(v, ",") {
					if n = strings.TrimSpace(n); n != "" {
						w.declared = append(w.declared, http.CanonicalHeaderKey(n))
					}
				}
			}
			continue
		}
		if strings.HasPrefix(k, http.TrailerPrefix) || !sendable(k) {
			continue
		}
		for _, v := range vs {
			block = appendHPACKField(block, strings.ToLower(k), v)
		}
	}
	c := w.st.c
	c.mu.Lock()
	if !w.st.gone {
		c.queueHeadersLocked(w.st.id, block, false)
	}
	c.mu.Unlock()
}

// sendable reports whether a response header may go on an HTTP/2 stream.
func sendable(k string) bool {
	switch k {
	case "Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Upgrade", "Content-Length":
		return false
	}
	return true
}

// Write implements http.ResponseWriter; it waits while more than 1 MiB of
// the stream's data is held back by flow control.
func (w *fallbackWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	c := w.st.c
	c.mu.Lock()
	for len(w.st.pending) > 1<<20 && !w.st.gone && !c.closed {
		c.drained.Wait()
	}
	if w.st.gone || c.closed {
		c.mu.Unlock()
		return 0, errStreamGone
	}
	c.queueDataLocked(w.st, p, false)
	c.mu.Unlock()
	return len(p), nil
}

// Flush implements http.Flusher.
func (w *fallbackWriter) Flush() {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	w.st.c.flush()
}

// finish ends the stream after ServeHTTP returned: trailers when the
// handler set any, an empty END_STREAM DATA frame otherwise.
func (w *fallbackWriter) finish() {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	var block []byte
	for _, n := range w.declared {
		for _, v := range w.h[n] {
			block = appendHPACKField(block, strings.ToLower(n), v)
		}
	}
	for k, vs := range w.h {
		if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
			for _, v := range vs {
				block = appendHPACKField(block, strings.ToLower(name), v)
			}
		}
	}
	c := w.st.c
	c.mu.Lock()
	if !w.st.gone {
		if block != nil {
			c.queueTrailersLocked(w.st, block)
		} else {
			c.queueDataLocked(w.st, nil, true)
		}
	}
	c.mu.Unlock()
}
