package grpcserver

import (
	"context"
	"encoding/base64"
	"errors"
	"net"
	"strconv"
	"sync"
	"time"

	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// h2transport is statecar's own HTTP/2 server transport for the gRPC API.
//
// The unary methods of dapr.proto.runtime.v1.Dapr, called the common way
// (POST, content-type application/grpc or application/grpc+proto, no
// compression, a well-formed grpc-timeout, exactly one message), run on a
// fast path: the connection's reader decodes the request and, for a read of
// a store that serves reads from memory, runs the generated method handler
// with the server's interceptor in place and writes the reply in the same
// batch as the other replies of that read. RPCs that may block (writes,
// remote stores) run on a pool of worker goroutines. Everything else —
// streaming RPCs, server reflection, unknown methods, compressed or
// malformed requests, non-gRPC requests — is handed, bytes and all, to
// grpc-go's own server through grpc.Server.ServeHTTP, so that its answer is
// grpc-go's, to the byte.
//
// Compared with grpc-go's transport, a fast-path RPC costs no goroutine
// hand-off to a stream worker and another to the loopy writer, and one
// write(2) carries the replies of every request that arrived in one read.
type h2transport struct {
	s       *Server
	fast    map[string]*grpc.MethodDesc // full method name -> unary method
	inline  map[string]bool             // full method name -> run on the reader
	maxRecv int
	maxSend int
	// unaryInt is the server's interceptor, bound once (a method value
	// taken per call would allocate).
	unaryInt grpc.UnaryServerInterceptor

	minPingTime time.Duration // keepalive enforcement MinTime
	kaTime      time.Duration // ping after this much silence
	kaTimeout   time.Duration // close when the ping is not answered in time
	maxIdle     time.Duration // GOAWAY after this long without streams

	work     chan *h2stream // worker pool queue, set by start
	stopOnce sync.Once      // closes work

	mu struct {
		sync.Mutex
		conns   map[*h2conn]struct{}
		lns     []net.Listener
		closing bool
	}
	conns   sync.WaitGroup // connection goroutines
	workers sync.WaitGroup
}

func newH2Transport(s *Server) *h2transport {
	t := &h2transport{
		s:           s,
		fast:        map[string]*grpc.MethodDesc{},
		inline:      map[string]bool{},
		maxRecv:     s.cfg.MaxMsgSize,
		maxSend:     s.cfg.MaxMsgSize,
		minPingTime: 8 * time.Second,
		kaTime:      10 * time.Second,
		kaTimeout:   5 * time.Second,
		maxIdle:     3 * time.Minute,
		unaryInt:    s.ic.unary,
	}
	desc := &runtimev1pb.Dapr_ServiceDesc
	for i := range desc.Methods {
		m := &desc.Methods[i]
		t.fast["/"+desc.ServiceName+"/"+m.MethodName] = m
	}
	// InvokeBinding and InvokeService send response headers (and
	// InvokeService trailers) with grpc.SetHeader/SetTrailer, which the
	// fast path does not carry: grpc-go's server answers them.
	delete(t.fast, "/"+desc.ServiceName+"/InvokeBinding")
	delete(t.fast, "/"+desc.ServiceName+"/InvokeService")
	// A GetState of stores that read from memory never waits: it runs on
	// the reader, like the HTTP API's inline GET.
	if s.cfg.State.InlineReads() {
		t.inline["/"+desc.ServiceName+"/GetState"] = true
	}
	t.mu.conns = map[*h2conn]struct{}{}
	return t
}

// start starts the worker pool and one accept loop per listener.
func (t *h2transport) start(lns []net.Listener, workers int) {
	work := make(chan *h2stream)
	t.work = work
	for range workers {
		t.workers.Add(1)
		go func() {
			defer t.workers.Done()
			for st := range work {
				t.runUnary(st)
			}
		}()
	}
	t.mu.Lock()
	t.mu.lns = lns
	t.mu.Unlock()
	for _, l := range lns {
		t.s.serving.Add(1)
		go func() {
			defer t.s.serving.Done()
			t.accept(l)
		}()
	}
}

func (t *h2transport) accept(l net.Listener) {
	var delay time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			t.mu.Lock()
			closing := t.mu.closing
			t.mu.Unlock()
			if closing || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: back off as net/http.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			t.s.log.Error("gRPC accept error", "err", err)
			time.Sleep(delay)
			continue
		}
		delay = 0
		c := t.newConn(nc)
		if c == nil {
			_ = nc.Close()
			continue
		}
		go func() {
			defer t.conns.Done()
			c.serve()
		}()
	}
}

func (t *h2transport) newConn(nc net.Conn) *h2conn {
	ctx, cancel := context.WithCancel(context.Background())
	c := &h2conn{t: t, nc: nc, ctx: ctx, end: cancel, rbuf: make([]byte, h2ReadBuf), maxHL: t.s.cfg.MaxHeaderListSize}
	c.dec = hpack.NewDecoder(4096, c.emit)
	c.dec.SetMaxStringLength(c.maxHeaderList())
	c.drained = sync.NewCond(&c.mu)
	c.streams = map[uint32]*h2stream{}
	c.sendWin, c.peerWin, c.peerFrame = h2DefaultWindow, h2DefaultWindow, h2MaxFrame
	c.idleSince = time.Now()
	c.lastRead.Store(time.Now().UnixNano())
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mu.closing {
		cancel()
		return nil
	}
	t.mu.conns[c] = struct{}{}
	t.conns.Add(1)
	c.mu.Lock()
	c.kaTimer = time.AfterFunc(time.Second, c.keepalive)
	c.mu.Unlock()
	return c
}

func (t *h2transport) forget(c *h2conn) {
	t.mu.Lock()
	delete(t.mu.conns, c)
	t.mu.Unlock()
}

// dispatch runs a complete fast-path request: inline when it cannot block,
// else on a worker (a new goroutine when all are busy, as grpc-go).
func (t *h2transport) dispatch(st *h2stream) {
	if t.inline[st.method] {
		t.runUnary(st)
		st.c.recycle(st)
		return
	}
	select {
	case t.work <- st:
	default:
		go t.runUnary(st)
	}
}

// runUnary calls the generated method handler with the server's
// interceptor and queues the reply.
func (t *h2transport) runUnary(st *h2stream) {
	c := st.c
	inline := t.inline[st.method]
	ctx := st.mdCtx
	var cancel context.CancelFunc
	switch {
	case st.hasTimeout:
		ctx, cancel = context.WithTimeout(ctx, st.timeout)
	case !inline:
		ctx, cancel = context.WithCancel(ctx)
	}
	if cancel != nil {
		c.mu.Lock()
		gone := st.gone
		st.cancel = cancel
		c.mu.Unlock()
		if gone {
			cancel()
			return
		}
		defer cancel()
	}
	resp, err := st.desc.Handler(t.s.dapr, ctx, st.dec, t.unaryInt)
	t.reply(st, resp, err)
	if testHookReplied != nil {
		testHookReplied()
	}
	if !inline {
		c.flush()
	}
}

// testHookReplied, set by tests only, runs between queueing a fast-path
// reply and writing it: the window in which GracefulStop sees the stream
// gone while its bytes still wait.
var testHookReplied func()

// decode is the handler's request decoder (grpc-go's, message text
// included).
func (st *h2stream) decode(in any) error {
	if err := proto.Unmarshal(st.body[5:], in.(proto.Message)); err != nil {
		return status.Errorf(codes.Internal, "grpc: failed to unmarshal the received message: %v", err)
	}
	return nil
}

// replyBufs recycles reply buffers.
var replyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// okTrailers is the trailer block of a successful RPC.
var okTrailers = appendHPACKField(nil, "grpc-status", "0")

// reply queues the response of a fast-path RPC.
func (t *h2transport) reply(st *h2stream, resp any, err error) {
	c := st.c
	bp := replyBufs.Get().(*[]byte)
	defer replyBufs.Put(bp)
	if err == nil {
		b := append((*bp)[:0], 0, 0, 0, 0, 0)
		b, err = proto.MarshalOptions{}.MarshalAppend(b, resp.(proto.Message))
		switch {
		case err != nil:
			err = status.Errorf(codes.Internal, "grpc: error while marshaling: %v", err)
		case len(b)-5 > t.maxSend:
			err = status.Errorf(codes.ResourceExhausted, "trying to send message larger than max (%d vs. %d)", len(b)-5, t.maxSend)
		default:
			n := len(b) - 5
			b[1], b[2], b[3], b[4] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
			*bp = b[:0]
			c.mu.Lock()
			if !st.gone {
				c.queueHeadersLocked(st.id, t.responseHeaders(st), false)
				c.queueDataLocked(st, b, false)
				c.queueTrailersLocked(st, okTrailers)
			}
			c.mu.Unlock()
			return
		}
	}
	s, ok := status.FromError(err)
	if !ok {
		s = status.FromContextError(err)
	}
	block := appendStatus(append((*bp)[:0], t.responseHeaders(st)...), s)
	*bp = block[:0]
	c.mu.Lock()
	if !st.gone {
		c.queueHeadersLocked(st.id, block, true) // trailers-only
		c.endLocked(st)
	}
	c.mu.Unlock()
}

var (
	headersGRPC  = appendResponseHeaders(nil, "application/grpc")
	headersProto = appendResponseHeaders(nil, "application/grpc+proto")
)

func (t *h2transport) responseHeaders(st *h2stream) []byte {
	if st.contentType == "application/grpc+proto" {
		return headersProto
	}
	return headersGRPC
}

// appendStatus appends grpc-status, grpc-message and
// grpc-status-details-bin as grpc-go writes them.
func appendStatus(b []byte, s *status.Status) []byte {
	b = appendHPACKField(b, "grpc-status", codeString(s.Code()))
	if m := s.Message(); m != "" {
		b = appendHPACKField(b, "grpc-message", encodeGrpcMessage(m))
	}
	if p := s.Proto(); p != nil && len(p.Details) > 0 {
		if raw, err := proto.Marshal(p); err == nil {
			b = appendHPACKField(b, "grpc-status-details-bin", base64.RawStdEncoding.EncodeToString(raw))
		}
	}
	return b
}

var codeStrings = func() (s [17]string) {
	for i := range s {
		s[i] = strconv.Itoa(i)
	}
	return s
}()

// codeString is grpc-status's value for c (grpc-go: fmt "%d").
func codeString(c codes.Code) string {
	if int(c) < len(codeStrings) {
		return codeStrings[c]
	}
	return strconv.FormatUint(uint64(c), 10)
}

// goAway starts a graceful close of every connection: GOAWAY with the last
// stream each has seen; streams already open run to their end.
func (t *h2transport) goAway() []*h2conn {
	t.mu.Lock()
	t.mu.closing = true
	lns := t.mu.lns
	conns := make([]*h2conn, 0, len(t.mu.conns))
	for c := range t.mu.conns {
		conns = append(conns, c)
	}
	t.mu.Unlock()
	for _, l := range lns {
		_ = l.Close()
	}
	for _, c := range conns {
		c.mu.Lock()
		if !c.goingAway {
			c.goingAway = true
			c.out = appendGoAway(c.out, c.lastStream, errCodeNo, "")
		}
		c.mu.Unlock()
		c.flush()
	}
	return conns
}

// gracefulStop sends GOAWAY everywhere and closes each connection once its
// streams have ended; ctx ending first closes the rest at once.
func (t *h2transport) gracefulStop(ctx context.Context) error {
	conns := t.goAway()
	done := make(chan struct{})
	go func() {
		for _, c := range conns {
			c.mu.Lock()
			for len(c.streams) > 0 && !c.closed {
				c.drained.Wait()
			}
			c.mu.Unlock()
			c.writeOut()
			c.shutdown(nil)
		}
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		t.stop()
		<-done
		err = ctx.Err()
	}
	t.conns.Wait()
	t.stopWorkers()
	return err
}

// stop closes every listener and connection at once.
func (t *h2transport) stop() {
	for _, c := range t.goAway() {
		c.shutdown(nil)
	}
	t.conns.Wait()
	t.stopWorkers()
}

// stopWorkers ends the worker pool once every reader has stopped (no
// dispatch can follow). Safe to call more than once and before start.
func (t *h2transport) stopWorkers() {
	t.stopOnce.Do(func() {
		if t.work != nil {
			close(t.work)
		}
	})
	t.workers.Wait()
}

// keepalive is the connection's once-a-second timer: daprd's server
// keepalive (ping after 10 s of silence, close when it is not answered in
// 5 s) and idle limit (GOAWAY after 3 minutes without streams).
func (c *h2conn) keepalive() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	now := time.Now()
	last := time.Unix(0, c.lastRead.Load())
	t := c.t
	switch {
	case len(c.streams) == 0 && now.Sub(c.idleSince) >= t.maxIdle:
		c.goingAway = true
		c.out = appendGoAway(c.out, c.lastStream, errCodeNo, "max_idle")
		c.mu.Unlock()
		c.flush()
		c.shutdown(nil)
		return
	case c.pingOut:
		if last.Before(c.pingSentAt) && now.Sub(c.pingSentAt) >= t.kaTimeout {
			c.mu.Unlock()
			c.shutdown(nil)
			return
		}
		if !last.Before(c.pingSentAt) {
			c.pingOut = false
		}
	case now.Sub(last) >= t.kaTime:
		c.pingOut, c.pingSentAt = true, now
		c.out = appendFrameHeader(c.out, 8, framePing, 0, 0)
		c.out = append(c.out, 0, 0, 0, 0, 0, 0, 0, 0)
		c.mu.Unlock()
		c.flush()
		c.mu.Lock()
	}
	if !c.closed {
		c.kaTimer.Reset(time.Second)
	}
	c.mu.Unlock()
}
