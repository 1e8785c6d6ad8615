package grpcserver

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// Flow-control windows the transport grants its peers: 1 MiB per stream and
// 8 MiB per connection, as the grpc-go configuration this transport
// replaces (fixed windows; a sidecar's peer is local).
const (
	h2StreamWindow = 1 << 20
	h2ConnWindow   = 8 << 20
	// h2ReadBuf is the connection read buffer: several frames of the
	// largest accepted size.
	h2ReadBuf = 64 << 10
	// h2MaxQueued bounds the bytes queued for the socket. The reader stops
	// taking new frames while more are waiting, so a peer that does not
	// read its replies cannot make the server buffer without limit.
	h2MaxQueued = 16 << 20
	// h2DefaultMaxHeaderList is grpc-go's default server
	// MaxHeaderListSize (16 MiB).
	h2DefaultMaxHeaderList = 16 << 20
	// h2MaxPingStrikes is grpc-go's maxPingStrikes.
	h2MaxPingStrikes = 2
)

// h2conn is one HTTP/2 connection of the statecar transport.
//
// Goroutines: serve runs the reader (frame parsing, HPACK decoding, inline
// RPCs); RPCs that may block run on worker goroutines; whoever queues bytes
// may become the flusher. The fields above mu are owned by the reader
// goroutine; the ones below it are guarded by mu.
//
// Invariants:
//  1. Frames are queued on out whole and in order under mu, so a header
//     block and its CONTINUATION frames are never interleaved with others.
//  2. A stream's DATA never exceeds the peer's connection or stream window:
//     what does not fit waits on stream.pending (with the trailers after
//     it) until a WINDOW_UPDATE or SETTINGS frame opens the window.
//  3. A stream leaves streams exactly once: when its END_STREAM (or
//     RST_STREAM) is queued by the server or a RST_STREAM arrives; a reply
//     for a stream that has left is dropped.
type h2conn struct {
	t   *h2transport
	nc  net.Conn
	ctx context.Context // cancelled when the connection ends
	end context.CancelFunc

	rbuf  []byte
	dec   *hpack.Decoder
	hdr   headerBlock
	maxHL int // accepted header list size

	// free holds fast-path streams whose RPC ran inline and ended, for
	// reuse; mdFields, md and mdCtx cache the metadata of the last request
	// (a client sends the same headers on every call: the context and its
	// metadata are shared, read-only, by the calls that match).
	free     []*h2stream
	mdFields []hpack.HeaderField
	md       metadata.MD
	mdCtx    context.Context

	lastStream  uint32 // highest client stream id seen
	connUnacked int    // received connection bytes not yet credited back
	connRecvWin int    // what the peer may still send on the connection
	lastPingAt  time.Time
	pingStrikes int

	mu sync.Mutex
	// out holds queued frames; spare is the other buffer of the pair the
	// flusher swaps.
	out, spare []byte
	flushing   bool
	drained    *sync.Cond // signalled when a flush empties out
	werr       error
	closed     bool
	goingAway  bool // GOAWAY queued: no new streams
	streams    map[uint32]*h2stream
	blocked    []*h2stream // streams with pending DATA, in arrival order
	sendWin    int         // connection send window
	peerWin    int         // peer's SETTINGS_INITIAL_WINDOW_SIZE
	peerFrame  int         // peer's SETTINGS_MAX_FRAME_SIZE
	resetPing  bool        // data or headers sent since the last ping
	idleSince  time.Time   // when streams last became empty
	pingOut    bool        // a keepalive ping awaits its ack
	pingSentAt time.Time
	kaTimer    *time.Timer

	// lastRead is when the reader last got bytes (Unix ns), for keepalive.
	lastRead atomic.Int64
}

// headerBlock collects a HEADERS frame and its CONTINUATIONs.
type headerBlock struct {
	active    bool
	stream    uint32
	endStream bool
	trailers  bool // the block ends the body of an open stream
	discard   bool // decode only (hpack state), then drop
	fields    []hpack.HeaderField
	size      int
	truncated bool
	badOrder  bool // a pseudo-header after a regular one, unknown or repeated pseudo-header, bad name
}

// h2stream is one request stream. Fields above the blank line are owned by
// whichever goroutine owns the stream's request (the reader until the RPC
// is dispatched, then the RPC); the rest are guarded by conn.mu.
type h2stream struct {
	c           *h2conn
	id          uint32
	method      string
	contentType string
	md          metadata.MD
	mdCtx       context.Context // the connection's context with md
	dec         func(any) error // st.decode, bound once
	timeout     time.Duration
	hasTimeout  bool
	rawTimeout  string
	desc        *grpc.MethodDesc // nil: fallback
	body        []byte
	fb          *fallbackBody // non-nil once the stream is served by grpc-go
	authority   string
	scheme      string
	httpMethod  string
	headers     []hpack.HeaderField // kept for the fallback request

	recvWin     int  // what the peer may still send on this stream
	recvUnacked int  // received, not yet credited back (fast path)
	remoteDone  bool // END_STREAM received (written by the reader only)
	sendWin     int
	pending     []byte // DATA payload waiting for window
	pendingEnd  bool   // END_STREAM goes on the last pending DATA (no trailers)
	trailers    []byte // trailer header block to send after pending
	gone        bool   // left streams
	onBlocked   bool
	cancel      context.CancelFunc
}

// serve runs the connection until it ends.
func (c *h2conn) serve() {
	defer c.shutdown(nil)
	_ = c.nc.SetReadDeadline(time.Now().Add(120 * time.Second)) // grpc-go's ConnectionTimeout
	pre := make([]byte, len(h2Preface))
	if _, err := io.ReadFull(c.nc, pre); err != nil || string(pre) != h2Preface {
		return
	}
	_ = c.nc.SetReadDeadline(time.Time{})
	c.mu.Lock()
	c.queueSettingsLocked()
	c.mu.Unlock()
	c.flush()

	n := 0
	for {
		m, err := c.nc.Read(c.rbuf[n:])
		if m > 0 {
			c.lastRead.Store(time.Now().UnixNano())
		}
		n += m
		p := 0
		for n-p >= h2FrameHeaderLen {
			length := int(c.rbuf[p])<<16 | int(c.rbuf[p+1])<<8 | int(c.rbuf[p+2])
			if length > h2MaxFrame {
				c.connError(h2ConnError{errCodeFrameSize, "frame too large"})
				return
			}
			if n-p < h2FrameHeaderLen+length {
				break
			}
			typ, flags := c.rbuf[p+3], c.rbuf[p+4]
			id := binary.BigEndian.Uint32(c.rbuf[p+5:]) & 0x7fffffff
			payload := c.rbuf[p+h2FrameHeaderLen : p+h2FrameHeaderLen+length]
			p += h2FrameHeaderLen + length
			if ferr := c.frame(typ, flags, id, payload); ferr != nil {
				var ce h2ConnError
				if errors.As(ferr, &ce) {
					c.connError(ce)
				}
				return
			}
		}
		copy(c.rbuf, c.rbuf[p:n])
		n -= p
		c.flush()
		if err != nil {
			return
		}
		c.waitQueue()
	}
}

// waitQueue blocks the reader while too many bytes wait for the socket.
func (c *h2conn) waitQueue() {
	c.mu.Lock()
	for len(c.out) > h2MaxQueued && c.werr == nil && !c.closed {
		c.drained.Wait()
	}
	c.mu.Unlock()
}

// queueSettingsLocked queues the server's SETTINGS and connection window.
func (c *h2conn) queueSettingsLocked() {
	n := 6
	if c.maxHL > 0 {
		n = 12
	}
	c.out = appendFrameHeader(c.out, n, frameSettings, 0, 0)
	c.out = binary.BigEndian.AppendUint16(c.out, settingInitialWindowSize)
	c.out = binary.BigEndian.AppendUint32(c.out, h2StreamWindow)
	if c.maxHL > 0 {
		c.out = binary.BigEndian.AppendUint16(c.out, settingMaxHeaderListSize)
		c.out = binary.BigEndian.AppendUint32(c.out, uint32(c.maxHL))
	}
	c.out = appendWindowUpdate(c.out, 0, h2ConnWindow-h2DefaultWindow)
	c.connRecvWin = h2ConnWindow
}

// frame handles one frame. A returned h2ConnError ends the connection with
// GOAWAY; any other error ends it silently.
func (c *h2conn) frame(typ, flags byte, id uint32, p []byte) error {
	if c.hdr.active && (typ != frameContinuation || id != c.hdr.stream) {
		return h2ConnError{errCodeProtocol, "expected CONTINUATION"}
	}
	switch typ {
	case frameData:
		return c.data(flags, id, p)
	case frameHeaders:
		return c.headers(flags, id, p)
	case frameContinuation:
		if !c.hdr.active {
			return h2ConnError{errCodeProtocol, "unexpected CONTINUATION"}
		}
		return c.fragment(p, flags&flagEndHeaders != 0)
	case framePriority:
		if id == 0 {
			return h2ConnError{errCodeProtocol, "PRIORITY on stream 0"}
		}
		if len(p) != 5 {
			c.reset(id, errCodeFrameSize)
		}
	case frameRSTStream:
		if id == 0 || len(p) != 4 {
			return h2ConnError{errCodeProtocol, "bad RST_STREAM"}
		}
		if id > c.lastStream {
			return h2ConnError{errCodeProtocol, "RST_STREAM on idle stream"}
		}
		c.peerReset(id)
	case frameSettings:
		return c.settings(flags, id, p)
	case framePushPromise:
		return h2ConnError{errCodeProtocol, "PUSH_PROMISE from client"}
	case framePing:
		return c.ping(flags, id, p)
	case frameGoAway:
		if id != 0 {
			return h2ConnError{errCodeProtocol, "GOAWAY on a stream"}
		}
		// The peer will open no new streams; the connection ends when it
		// closes its side.
	case frameWindowUpdate:
		return c.windowUpdate(id, p)
	}
	return nil // unknown frame types are ignored (RFC 9113 §5.5)
}

// unpad strips padding (and the priority block of HEADERS).
func unpad(flags byte, p []byte, prio bool) ([]byte, bool) {
	if flags&flagPadded != 0 {
		if len(p) < 1 {
			return nil, false
		}
		pad := int(p[0])
		p = p[1:]
		if pad > len(p) {
			return nil, false
		}
		p = p[:len(p)-pad]
	}
	if prio && flags&flagPriority != 0 {
		if len(p) < 5 {
			return nil, false
		}
		p = p[5:]
	}
	return p, true
}

func (c *h2conn) headers(flags byte, id uint32, p []byte) error {
	if id == 0 || id%2 == 0 {
		return h2ConnError{errCodeProtocol, "bad HEADERS stream id"}
	}
	frag, ok := unpad(flags, p, true)
	if !ok {
		return h2ConnError{errCodeProtocol, "bad HEADERS padding"}
	}
	c.hdr = headerBlock{active: true, stream: id, endStream: flags&flagEndStream != 0, fields: c.hdr.fields[:0]}
	switch {
	case id > c.lastStream:
		c.mu.Lock()
		c.lastStream = id
		away := c.goingAway
		c.mu.Unlock()
		if away {
			c.hdr.discard = true
			c.reset(id, errCodeRefusedStream)
		}
	default:
		c.mu.Lock()
		st := c.streams[id]
		c.mu.Unlock()
		switch {
		case st != nil && !st.remoteDone: // remoteDone is written by this goroutine only
			if !c.hdr.endStream {
				return h2ConnError{errCodeProtocol, "trailers without END_STREAM"}
			}
			c.hdr.trailers, c.hdr.discard = true, true
		default:
			c.hdr.discard = true
			if st == nil {
				c.reset(id, errCodeStreamClosed)
			}
		}
	}
	return c.fragment(frag, flags&flagEndHeaders != 0)
}

// fragment decodes one header block fragment.
func (c *h2conn) fragment(p []byte, end bool) error {
	if _, err := c.dec.Write(p); err != nil {
		return h2ConnError{errCodeCompression, "hpack: " + err.Error()}
	}
	if !end {
		return nil
	}
	if err := c.dec.Close(); err != nil {
		return h2ConnError{errCodeCompression, "hpack: " + err.Error()}
	}
	c.hdr.active = false
	return c.endHeaders()
}

// emit collects one decoded header field (hpack emit function).
func (c *h2conn) emit(f hpack.HeaderField) {
	h := &c.hdr
	if h.discard || h.truncated {
		return
	}
	h.size += len(f.Name) + len(f.Value) + 32
	if h.size > c.maxHeaderList() {
		h.truncated = true
		return
	}
	if f.IsPseudo() {
		if len(h.fields) > 0 && !h.fields[len(h.fields)-1].IsPseudo() {
			h.badOrder = true
		}
	} else if !validHeaderName(f.Name) {
		h.badOrder = true
	}
	h.fields = append(h.fields, f)
}

func (c *h2conn) maxHeaderList() int {
	if c.maxHL > 0 {
		return c.maxHL
	}
	return h2DefaultMaxHeaderList
}

// endHeaders acts on a complete header block.
func (c *h2conn) endHeaders() error {
	h := &c.hdr
	id := h.stream
	if h.trailers {
		c.mu.Lock()
		st := c.streams[id]
		c.mu.Unlock()
		if st != nil {
			c.endOfBody(st)
		}
		return nil
	}
	if h.discard {
		return nil
	}
	if h.truncated {
		// grpc-go: RST_STREAM FRAME_SIZE_ERROR when the list is too large.
		c.reset(id, errCodeFrameSize)
		return nil
	}
	if h.badOrder {
		c.reset(id, errCodeProtocol)
		return nil
	}
	st := c.newStream(id)
	fast := true
	authorities := 0
	for _, f := range h.fields {
		switch f.Name {
		case ":method":
			st.httpMethod = f.Value
		case ":path":
			st.method = f.Value
		case ":scheme":
			st.scheme = f.Value
		case ":authority":
			st.authority = f.Value
			authorities++
		case "content-type":
			st.contentType = f.Value
		case "connection":
			// grpc-go (gRFC A41): a Connection header makes the request
			// malformed.
			c.reset(id, errCodeProtocol)
			return nil
		case "grpc-timeout":
			d, ok := grpcTimeout(f.Value)
			if !ok {
				fast = false
			}
			st.timeout, st.hasTimeout, st.rawTimeout = d, true, f.Value
		case "grpc-encoding":
			if f.Value != "identity" {
				fast = false
			}
		case "host":
			fast = false
		default:
			if strings.HasPrefix(f.Name, ":") {
				c.reset(id, errCodeProtocol)
				return nil
			}
		}
	}
	switch st.contentType {
	case "application/grpc", "application/grpc+proto":
	default:
		fast = false
	}
	if st.httpMethod != "POST" || authorities != 1 {
		fast = false
	}
	if fast {
		st.desc = c.t.fast[st.method]
		if st.desc == nil {
			fast = false
		}
	}
	if fast {
		st.md, st.mdCtx, fast = c.metadataOf(h.fields)
	}
	c.mu.Lock()
	if c.streams == nil {
		c.mu.Unlock()
		return errors.New("connection closed")
	}
	st.sendWin = c.peerWin
	c.streams[id] = st
	c.mu.Unlock()
	if !fast {
		st.desc = nil
		st.headers = append([]hpack.HeaderField(nil), h.fields...)
		c.startFallback(st, nil)
	}
	if h.endStream {
		c.endOfBody(st)
	}
	return nil
}

// newStream returns a fresh stream, reusing a recycled one when it can.
func (c *h2conn) newStream(id uint32) *h2stream {
	var st *h2stream
	if n := len(c.free); n > 0 {
		st = c.free[n-1]
		c.free[n-1] = nil
		c.free = c.free[:n-1]
	} else {
		st = &h2stream{c: c}
		st.dec = st.decode
	}
	st.id, st.recvWin = id, h2StreamWindow
	return st
}

// recycle keeps st for reuse once nothing refers to it any more: it ran
// inline on the reader, left the stream table, and waits for no window.
func (c *h2conn) recycle(st *h2stream) {
	c.mu.Lock()
	ok := st.gone && !st.onBlocked && st.fb == nil && len(c.free) < 64
	c.mu.Unlock()
	if !ok {
		return
	}
	body := st.body[:0]
	if cap(body) > 64<<10 {
		body = nil
	}
	*st = h2stream{c: c, body: body, dec: st.dec}
	c.free = append(c.free, st)
}

// metadataOf returns the request metadata of fields and a context (the
// connection's) carrying it, shared with the previous request when the
// fields that make up metadata were the same (the path and a varying
// grpc-timeout do not count). ok is false when they do not convert.
func (c *h2conn) metadataOf(fields []hpack.HeaderField) (metadata.MD, context.Context, bool) {
	if c.md != nil && sameMetadata(fields, c.mdFields) {
		return c.md, c.mdCtx, true
	}
	md, ok := incomingMD(fields)
	if !ok {
		return nil, nil, false
	}
	c.mdFields = c.mdFields[:0]
	for _, f := range fields {
		if inMetadata(f.Name) {
			c.mdFields = append(c.mdFields, f)
		}
	}
	c.md, c.mdCtx = md, metadata.NewIncomingContext(c.ctx, md)
	return c.md, c.mdCtx, true
}

// sameMetadata reports whether the metadata fields of fields are exactly
// prev (the metadata fields of an earlier request, in order).
func sameMetadata(fields, prev []hpack.HeaderField) bool {
	i := 0
	for _, f := range fields {
		if !inMetadata(f.Name) {
			continue
		}
		if i == len(prev) || prev[i].Name != f.Name || prev[i].Value != f.Value {
			return false
		}
		i++
	}
	return i == len(prev)
}

// inMetadata reports whether grpc-go's server puts a request header into
// the call's metadata: every regular header but the reserved ones
// (user-agent, content-type and grpc-accept-encoding are kept), and of the
// pseudo-headers only :authority.
func inMetadata(name string) bool {
	switch name {
	case ":authority", "content-type", "user-agent", "grpc-accept-encoding":
		return true
	case "te", "grpc-message-type", "grpc-encoding", "grpc-message", "grpc-status", "grpc-timeout", "grpc-status-details-bin":
		return false
	}
	return !strings.HasPrefix(name, ":")
}

// incomingMD builds the request metadata the way grpc-go's server does:
// every regular header except the reserved ones (user-agent kept), plus
// :authority; -bin values base64-decoded. ok is false when a -bin value
// does not decode (grpc-go answers those itself).
func incomingMD(fields []hpack.HeaderField) (metadata.MD, bool) {
	md := make(metadata.MD, len(fields))
	for _, f := range fields {
		if !inMetadata(f.Name) {
			continue
		}
		v := f.Value
		if strings.HasSuffix(f.Name, "-bin") {
			var b []byte
			var err error
			if len(v)%4 == 0 {
				b, err = base64.StdEncoding.DecodeString(v)
			} else {
				b, err = base64.RawStdEncoding.DecodeString(v)
			}
			if err != nil {
				return nil, false
			}
			v = string(b)
		}
		md[f.Name] = append(md[f.Name], v)
	}
	return md, true
}

func (c *h2conn) data(flags byte, id uint32, p []byte) error {
	if id == 0 {
		return h2ConnError{errCodeProtocol, "DATA on stream 0"}
	}
	if id > c.lastStream {
		return h2ConnError{errCodeProtocol, "DATA on idle stream"}
	}
	// Connection flow control counts the whole payload, padding included.
	c.connRecvWin -= len(p)
	if c.connRecvWin < 0 {
		return h2ConnError{errCodeFlowControl, "connection window exceeded"}
	}
	c.connUnacked += len(p)
	if c.connUnacked >= h2ConnWindow/4 {
		c.mu.Lock()
		c.out = appendWindowUpdate(c.out, 0, c.connUnacked)
		c.mu.Unlock()
		c.connRecvWin += c.connUnacked
		c.connUnacked = 0
	}
	c.mu.Lock()
	st := c.streams[id]
	if st == nil || st.remoteDone {
		c.mu.Unlock()
		return nil // a stream that ended or was reset; its bytes are dropped
	}
	st.recvWin -= len(p)
	if st.recvWin < 0 {
		c.resetLocked(id, errCodeFlowControl)
		c.mu.Unlock()
		return nil
	}
	c.mu.Unlock()
	body, ok := unpad(flags, p, false)
	if !ok {
		return h2ConnError{errCodeProtocol, "bad DATA padding"}
	}
	if st.fb != nil {
		// Stream credit comes back as the handler reads; padding at once.
		st.fb.push(body, len(p)-len(body))
	} else {
		st.body = append(st.body, body...)
		if !st.oneMessagePossible(c.t.maxRecv) {
			st.recvUnacked += len(p) - len(body) // padding is never read
			c.startFallback(st, st.body)
			st.body = nil
		} else if flags&flagEndStream == 0 {
			c.mu.Lock()
			st.recvUnacked += len(p)
			if st.recvUnacked >= h2StreamWindow/4 {
				c.creditLocked(st, st.recvUnacked)
				st.recvUnacked = 0
			}
			c.mu.Unlock()
		}
	}
	if flags&flagEndStream != 0 {
		c.endOfBody(st)
	}
	return nil
}

// oneMessagePossible reports whether the body so far can still be exactly
// one uncompressed message within the size limit (the fast path's only
// shape; anything else is grpc-go's to answer).
func (st *h2stream) oneMessagePossible(max int) bool {
	if len(st.body) < 5 {
		return true
	}
	if st.body[0] != 0 {
		return false
	}
	n := int(binary.BigEndian.Uint32(st.body[1:5]))
	return n <= max && len(st.body) <= 5+n
}

// creditLocked gives n bytes of stream window back to the peer.
func (c *h2conn) creditLocked(st *h2stream, n int) {
	if n <= 0 || st.gone {
		return
	}
	st.recvWin += n
	c.out = appendWindowUpdate(c.out, st.id, n)
}

// endOfBody handles the client's END_STREAM.
func (c *h2conn) endOfBody(st *h2stream) {
	c.mu.Lock()
	st.remoteDone = true
	c.mu.Unlock()
	if st.fb != nil {
		st.fb.finish()
		return
	}
	if len(st.body) < 5 || len(st.body) != 5+int(binary.BigEndian.Uint32(st.body[1:5])) {
		c.startFallback(st, st.body)
		st.fb.finish()
		st.body = nil
		return
	}
	c.t.dispatch(st)
}

// peerReset handles RST_STREAM from the client.
func (c *h2conn) peerReset(id uint32) {
	c.mu.Lock()
	if st := c.streams[id]; st != nil {
		c.forgetLocked(st)
	}
	c.mu.Unlock()
}

// reset queues RST_STREAM for id and forgets the stream.
func (c *h2conn) reset(id uint32, code uint32) {
	c.mu.Lock()
	c.resetLocked(id, code)
	c.mu.Unlock()
}

// resetLocked is reset with c.mu held.
func (c *h2conn) resetLocked(id uint32, code uint32) {
	c.out = appendRST(c.out, id, code)
	if st := c.streams[id]; st != nil {
		c.forgetLocked(st)
	}
}

// forgetLocked ends st without sending anything: it leaves the table, its
// queued bytes are dropped and its RPC is cancelled.
func (c *h2conn) forgetLocked(st *h2stream) {
	c.removeLocked(st)
	st.remoteDone = true
	st.pending, st.trailers = nil, nil
	if st.fb != nil {
		st.fb.abort()
	}
	if st.cancel != nil {
		st.cancel()
	}
}

// removeLocked takes st out of the stream table (Invariant 3).
func (c *h2conn) removeLocked(st *h2stream) {
	if st.gone {
		return
	}
	st.gone = true
	delete(c.streams, st.id)
	if len(c.streams) == 0 {
		c.idleSince = time.Now()
		c.drained.Broadcast() // GracefulStop waits for streams to end
	}
}

func (c *h2conn) settings(flags byte, id uint32, p []byte) error {
	if id != 0 {
		return h2ConnError{errCodeProtocol, "SETTINGS on a stream"}
	}
	if flags&flagAck != 0 {
		if len(p) != 0 {
			return h2ConnError{errCodeFrameSize, "SETTINGS ack with payload"}
		}
		return nil
	}
	if len(p)%6 != 0 {
		return h2ConnError{errCodeFrameSize, "bad SETTINGS length"}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for ; len(p) > 0; p = p[6:] {
		v := binary.BigEndian.Uint32(p[2:])
		switch binary.BigEndian.Uint16(p) {
		case settingInitialWindowSize:
			if v > h2MaxWindow {
				return h2ConnError{errCodeFlowControl, "bad SETTINGS_INITIAL_WINDOW_SIZE"}
			}
			delta := int(v) - c.peerWin
			c.peerWin = int(v)
			for _, st := range c.streams {
				st.sendWin += delta
				if st.sendWin > h2MaxWindow {
					return h2ConnError{errCodeFlowControl, "stream window overflow"}
				}
			}
		case settingMaxFrameSize:
			if v < h2MaxFrame || v > 1<<24-1 {
				return h2ConnError{errCodeProtocol, "bad SETTINGS_MAX_FRAME_SIZE"}
			}
			c.peerFrame = int(v)
		case settingEnablePush:
			if v > 1 {
				return h2ConnError{errCodeProtocol, "bad SETTINGS_ENABLE_PUSH"}
			}
		}
	}
	c.out = appendFrameHeader(c.out, 0, frameSettings, flagAck, 0)
	c.drainBlockedLocked()
	return nil
}

func (c *h2conn) ping(flags byte, id uint32, p []byte) error {
	if id != 0 {
		return h2ConnError{errCodeProtocol, "PING on a stream"}
	}
	if len(p) != 8 {
		return h2ConnError{errCodeFrameSize, "bad PING length"}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if flags&flagAck != 0 {
		c.pingOut = false
		return nil
	}
	// grpc-go's keepalive enforcement (http2_server.go handlePing): pings
	// closer together than MinTime while nothing was sent in between are
	// strikes; more than two end the connection.
	c.out = appendFrameHeader(c.out, 8, framePing, flagAck, 0)
	c.out = append(c.out, p...)
	now := time.Now()
	defer func() { c.lastPingAt = now }()
	if c.resetPing {
		c.resetPing = false
		c.pingStrikes = 0
		return nil
	}
	if !c.lastPingAt.IsZero() && c.lastPingAt.Add(c.t.minPingTime).After(now) {
		c.pingStrikes++
	}
	if c.pingStrikes > h2MaxPingStrikes {
		return h2ConnError{errCodeEnhanceYourCal, "too_many_pings"}
	}
	return nil
}

func (c *h2conn) windowUpdate(id uint32, p []byte) error {
	if len(p) != 4 {
		return h2ConnError{errCodeFrameSize, "bad WINDOW_UPDATE length"}
	}
	incr := int(binary.BigEndian.Uint32(p) & 0x7fffffff)
	c.mu.Lock()
	defer c.mu.Unlock()
	if id == 0 {
		if incr == 0 {
			return h2ConnError{errCodeProtocol, "zero WINDOW_UPDATE"}
		}
		c.sendWin += incr
		if c.sendWin > h2MaxWindow {
			return h2ConnError{errCodeFlowControl, "connection window overflow"}
		}
		c.drainBlockedLocked()
		return nil
	}
	st := c.streams[id]
	if st == nil {
		if id > c.lastStream {
			return h2ConnError{errCodeProtocol, "WINDOW_UPDATE on idle stream"}
		}
		return nil
	}
	if incr == 0 {
		c.resetLocked(id, errCodeProtocol)
		return nil
	}
	st.sendWin += incr
	if st.sendWin > h2MaxWindow {
		c.resetLocked(id, errCodeFlowControl)
		return nil
	}
	c.drainBlockedLocked()
	return nil
}

// queueHeadersLocked queues a header block as HEADERS plus CONTINUATION
// frames within the peer's frame size (Invariant 1).
func (c *h2conn) queueHeadersLocked(id uint32, block []byte, endStream bool) {
	flags := byte(0)
	if endStream {
		flags |= flagEndStream
	}
	typ := byte(frameHeaders)
	for {
		n := min(len(block), c.peerFrame)
		f := flags
		if n == len(block) {
			f |= flagEndHeaders
		}
		c.out = appendFrameHeader(c.out, n, typ, f, id)
		c.out = append(c.out, block[:n]...)
		block = block[n:]
		if len(block) == 0 {
			break
		}
		typ, flags = frameContinuation, 0
	}
	c.resetPing = true
}

// queueDataLocked sends as much of data as the windows allow and keeps the
// rest on st.pending (Invariant 2). end puts END_STREAM on the last frame.
func (c *h2conn) queueDataLocked(st *h2stream, data []byte, end bool) {
	if len(st.pending) > 0 || st.trailers != nil {
		st.pending = append(st.pending, data...)
		st.pendingEnd = st.pendingEnd || end
		return
	}
	if rest := c.sendDataLocked(st, data, end); len(rest) > 0 {
		st.pending = append(st.pending[:0], rest...)
		st.pendingEnd = end
		c.block(st)
	}
}

// sendDataLocked queues DATA frames for as much of data as fits the
// windows and returns what does not. end sets END_STREAM on the frame that
// carries the last byte (or on an empty frame when data is empty).
func (c *h2conn) sendDataLocked(st *h2stream, data []byte, end bool) []byte {
	if len(data) == 0 {
		if end {
			c.out = appendFrameHeader(c.out, 0, frameData, flagEndStream, st.id)
			c.endLocked(st)
		}
		return nil
	}
	for len(data) > 0 {
		n := min(len(data), c.peerFrame, c.sendWin, st.sendWin)
		if n <= 0 {
			return data
		}
		flags := byte(0)
		if end && n == len(data) {
			flags = flagEndStream
		}
		c.out = appendFrameHeader(c.out, n, frameData, flags, st.id)
		c.out = append(c.out, data[:n]...)
		c.sendWin -= n
		st.sendWin -= n
		data = data[n:]
		c.resetPing = true
	}
	if end {
		c.endLocked(st)
	}
	return nil
}

// block puts st on the list of streams waiting for window.
func (c *h2conn) block(st *h2stream) {
	if !st.onBlocked {
		st.onBlocked = true
		c.blocked = append(c.blocked, st)
	}
}

// drainBlockedLocked sends what the windows now allow of every blocked
// stream, in order.
func (c *h2conn) drainBlockedLocked() {
	keep := c.blocked[:0]
	for _, st := range c.blocked {
		if st.gone || (len(st.pending) == 0 && st.trailers == nil) {
			st.onBlocked = false
			continue
		}
		rest := c.sendDataLocked(st, st.pending, st.pendingEnd && st.trailers == nil)
		if len(rest) > 0 {
			st.pending = rest
			keep = append(keep, st)
			continue
		}
		st.pending = nil
		if st.trailers != nil {
			tr := st.trailers
			st.trailers = nil
			c.queueHeadersLocked(st.id, tr, true)
			c.endLocked(st)
		}
		st.onBlocked = false
	}
	for i := len(keep); i < len(c.blocked); i++ {
		c.blocked[i] = nil
	}
	c.blocked = keep
	c.drained.Broadcast() // fallback writers wait for their pending bytes
}

// queueTrailersLocked queues the trailers (END_STREAM) after any pending
// DATA.
func (c *h2conn) queueTrailersLocked(st *h2stream, block []byte) {
	if len(st.pending) > 0 {
		st.trailers = block
		c.block(st)
		return
	}
	c.queueHeadersLocked(st.id, block, true)
	c.endLocked(st)
}

// endLocked records that END_STREAM went out for st. When the client has
// not ended its side, grpc-go sends RST_STREAM NO_ERROR after the trailers
// so that the client stops sending; so does this transport.
func (c *h2conn) endLocked(st *h2stream) {
	if !st.remoteDone {
		c.out = appendRST(c.out, st.id, errCodeNo)
	}
	c.removeLocked(st)
}

// flush writes the queued bytes unless another goroutine is already doing
// so (that one will write them too).
func (c *h2conn) flush() {
	c.mu.Lock()
	if c.flushing {
		c.mu.Unlock()
		return
	}
	c.flushing = true
	for len(c.out) > 0 && c.werr == nil {
		b := c.out
		c.out = c.spare[:0]
		c.mu.Unlock()
		_, err := c.nc.Write(b)
		c.mu.Lock()
		if cap(b) <= 1<<20 {
			c.spare = b[:0]
		} else {
			c.spare = nil
		}
		if err != nil && c.werr == nil {
			c.werr = err
		}
	}
	c.flushing = false
	c.drained.Broadcast()
	c.mu.Unlock()
}

// writeOut returns once every queued byte has been written (or writing
// failed, or the connection closed). A stream leaves the stream table when
// its trailers are queued, before they are written, so GracefulStop calls
// this before closing the connection: the last replies reach the client.
func (c *h2conn) writeOut() {
	for {
		c.flush()
		c.mu.Lock()
		for c.flushing && !c.closed {
			c.drained.Wait()
		}
		done := len(c.out) == 0 || c.closed || c.werr != nil
		c.mu.Unlock()
		if done {
			return
		}
	}
}

// connError sends GOAWAY and ends the connection.
func (c *h2conn) connError(e h2ConnError) {
	c.mu.Lock()
	c.out = appendGoAway(c.out, c.lastStream, e.code, e.reason)
	c.goingAway = true
	c.mu.Unlock()
	c.flush()
}

// shutdown closes the connection and cancels every stream.
func (c *h2conn) shutdown(err error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	if c.kaTimer != nil {
		c.kaTimer.Stop()
	}
	streams := c.streams
	c.streams = nil
	c.drained.Broadcast()
	c.mu.Unlock()
	_ = c.nc.Close()
	c.end()
	for _, st := range streams {
		if st.fb != nil {
			st.fb.abort()
		}
		if st.cancel != nil {
			st.cancel()
		}
	}
	c.t.forget(c)
}
