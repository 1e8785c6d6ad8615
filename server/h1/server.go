package h1

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/statecar/statecar/internal/busypoll"
)

// Config configures a Server. Zero values take the defaults documented per field.
type Config struct {
	Addrs             []string      // host:port listeners ("" host = all interfaces) or "unix:///path/to.sock"; one gnet engine serving all
	Router            *Router       // required
	MaxBodySize       int64         // --max-body-size; default 4 MiB
	MaxHeaderBytes    int           // --read-buffer-size; default 4 KiB. Like Go, request line + headers may use MaxHeaderBytes+4096 bytes; over → 431 and close
	MaxHeaderCount    int           // default 100; over → 431 and close
	ReadHeaderTimeout time.Duration // default 10s: a request whose headers are not complete in time is closed (slowloris)
	ReadBodyTimeout   time.Duration // default 60s: a body not complete in time is closed
	IdleTimeout       time.Duration // keep-alive idle; default 120s
	MaxConns          int           // cap on open connections, default 10000; over → accepted then closed
	EventLoops        int           // 0 = GOMAXPROCS
	LockOSThread      bool          // pin each event loop to an OS thread (gnet.WithLockOSThread)
	Logger            *slog.Logger  // default slog.Default()
	// SpinWorker, when positive, lets a worker that finished a blocking
	// request wait up to this long for the next one by spinning instead of
	// parking (see spinSlot); 0 = off, at most MaxSpinWorker. Meant for
	// stores across the network, where every request is blocking and a
	// parked worker's wake-up is on the critical path. Outcomes are counted
	// in statecar_http_spin_worker_total{result="hit"|"miss"}.
	SpinWorker time.Duration
}

const (
	defaultMaxBody      = 4 << 20
	defaultMaxHeader    = 4 << 10
	defaultMaxHdrCount  = 100
	defaultHeaderTO     = 10 * time.Second
	defaultBodyTO       = 60 * time.Second
	defaultIdleTO       = 120 * time.Second
	defaultMaxConns     = 10000
	lingerTime          = 500 * time.Millisecond // like Go's rstAvoidanceDelay
	maxOutboundBacklog  = 4 << 20                // stop reading pipelined requests above this
	maxChunkLine        = 4096                   // Go's maxLineLength for chunk-size lines
	maxRetainedBuf      = 256 << 10              // larger per-connection/task buffers are dropped after use
	workerIdle          = 30 * time.Second       // an idle blocking-task worker exits after this
	spinMaxScore        = 8                      // spinSlot: hits and misses move the score within these bounds;
	spinMinScore        = -8                     // at the floor the worker spins only once per spinProbe tries
	spinProbe           = 64                     // (the floor's probe interval)
	fdReserve           = 256                    // file descriptors kept free for the rest of the process
	maxTick             = time.Second
	minTick             = 5 * time.Millisecond
	shutdownPollInitial = time.Millisecond
)

// MaxSpinWorker bounds Config.SpinWorker: a longer spin costs a core for a
// request that a parked worker would serve just as well.
const MaxSpinWorker = 2 * time.Millisecond

// Server is an HTTP/1.1 server on a gnet engine.
//
// Start and Shutdown may be called from any goroutine (once each). Request
// processing happens on the engine's event loops and, for blocking routes, on
// one worker goroutine per in-flight request. Server implements
// gnet.EventHandler: its On* methods are called by gnet only.
type Server struct {
	gnet.BuiltinEventEngine

	cfg    Config
	lim    limits
	router *Router
	log    *slog.Logger
	tick   time.Duration

	eng     gnet.Engine   // set in OnBoot, before started is closed
	addrs   []net.Addr    // set in OnBoot, before started is closed
	bootErr error         // set in OnBoot, before started is closed
	started chan struct{} // closed by the first OnTick (engine running) or by OnBoot on error
	done    chan struct{} // closed when the engine has stopped
	runErr  error         // written before done is closed

	now     atomic.Int64           // coarse clock (unix nanos), updated by the ticker
	date    atomic.Pointer[[]byte] // "Date: ...\r\n", updated by the ticker
	dateSec int64                  // ticker goroutine only
	once    sync.Once              // closes started

	startCalled atomic.Bool
	startedOK   atomic.Bool  // Start returned nil
	nconns      atomic.Int64 // open connections
	inflight    atomic.Int64 // blocking requests whose response is not yet written
	stopping    atomic.Bool  // Shutdown called

	regMu sync.Mutex
	reg   []*connState // guarded by regMu: open connections, for the ticker and Shutdown

	// gate guards calls into gnet from outside the event loops (AsyncWrite,
	// Wake): they write to the poller's eventfd, which gnet closes when the
	// engine stops; after that the fd number may belong to another file. Such
	// calls hold gate.RLock and skip when gate.stopped; OnShutdown sets it.
	gate struct {
		sync.RWMutex
		stopped bool
	}

	tasks sync.Pool  // *task
	work  chan *task // unbuffered: idle task workers wait here
	quit  chan struct{}

	spin spinSlot // hands blocking tasks to a spinning worker (Config.SpinWorker)

	logPanic throttle
}

// connState is the per-connection state. Unless noted, fields are used only on
// the connection's event loop.
type connState struct {
	c    gnet.Conn
	rd   *reader
	resp Response
	out  []byte // responses not yet handed to gnet

	regIdx int // guarded by Server.regMu

	// deadline is when the connection times out (coarse unix nanos, 0 = none).
	// Written on the event loop, read by the ticker goroutine.
	deadline atomic.Int64
	// poke asks the ticker to wake the connection on every tick (closing with
	// unsent output, or paused by output backpressure). Same access as deadline.
	poke atomic.Bool

	timer   timerKind
	closing bool // the last response is written; discard input until EOF / linger
	clean   bool // closing: the whole request was read, an immediate close is safe
	shutWr  bool // closing: write side shut down

	// A blocking request runs on a task goroutine; these fields are shared
	// with it.
	inflight atomic.Bool  // a blocking request of this connection is running
	pending  atomic.Bool  // traffic arrived while inflight: the task must Wake the loop
	finish   atomic.Int32 // set by the task: 1 = close (request fully read), 2 = close (unclean)
	fd       int          // the socket, for the task's direct write (immutable)
	wmu      sync.Mutex   // held by the task around its direct write and by OnClose
	closed   bool         // guarded by wmu: OnClose ran; the fd may be reused, never write to it

	// ctx is the connection's context, made on first use by a handler
	// (Request.Context) and cancelled by OnClose, so that work done for a
	// caller that went away can stop (net/http cancels a request's context
	// the same way). Guarded by ctxMu; cancelled is set by OnClose.
	ctxMu     sync.Mutex
	ctx       context.Context
	cancel    context.CancelFunc
	cancelled bool
}

// context returns the connection's context (see connState.ctx). (any
// goroutine)
func (cs *connState) context() context.Context {
	cs.ctxMu.Lock()
	defer cs.ctxMu.Unlock()
	if cs.ctx == nil {
		cs.ctx, cs.cancel = context.WithCancel(context.Background())
		if cs.cancelled {
			cs.cancel()
		}
	}
	return cs.ctx
}

// cancelContext cancels the connection's context, now or when it is made.
// (event loop, OnClose)
func (cs *connState) cancelContext() {
	cs.ctxMu.Lock()
	cs.cancelled = true
	if cs.cancel != nil {
		cs.cancel()
	}
	cs.ctxMu.Unlock()
}

type timerKind uint8

const (
	tNone timerKind = iota
	tIdle
	tHead
	tBody
	tDrain
)

// NewServer validates cfg, fills defaults and returns a Server ready to Start.
func NewServer(cfg Config) (*Server, error) {
	if cfg.Router == nil {
		return nil, errors.New("cannot create HTTP server: Config.Router is nil")
	}
	cfg.Router.ensureNotFound()
	if len(cfg.Addrs) == 0 {
		return nil, errors.New("cannot create HTTP server: no listen address")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxBodySize <= 0 {
		cfg.MaxBodySize = defaultMaxBody
	}
	if cfg.MaxHeaderBytes <= 0 {
		cfg.MaxHeaderBytes = defaultMaxHeader
	}
	if cfg.MaxHeaderCount <= 0 {
		cfg.MaxHeaderCount = defaultMaxHdrCount
	}
	if cfg.ReadHeaderTimeout <= 0 {
		cfg.ReadHeaderTimeout = defaultHeaderTO
	}
	if cfg.ReadBodyTimeout <= 0 {
		cfg.ReadBodyTimeout = defaultBodyTO
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = defaultIdleTO
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = defaultMaxConns
	}
	// Keep connections below the file descriptor limit: gnet stops the whole
	// engine when accept(2) fails with EMFILE.
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) == nil && rl.Cur != unix.RLIM_INFINITY {
		if limit := int64(rl.Cur) - fdReserve; int64(cfg.MaxConns) > limit {
			cfg.MaxConns = int(max(limit, 1))
			cfg.Logger.Warn("h1: MaxConns lowered to stay under the open files limit", "maxConns", cfg.MaxConns, "nofile", rl.Cur)
		}
	}
	if cfg.EventLoops <= 0 {
		cfg.EventLoops = runtime.GOMAXPROCS(0)
	}
	cfg.SpinWorker = min(max(cfg.SpinWorker, 0), MaxSpinWorker)
	s := &Server{
		cfg:     cfg,
		router:  cfg.Router,
		log:     cfg.Logger,
		started: make(chan struct{}),
		done:    make(chan struct{}),
		work:    make(chan *task),
		quit:    make(chan struct{}),
		lim: limits{
			maxHead:  cfg.MaxHeaderBytes + 4096,
			maxHdrs:  cfg.MaxHeaderCount,
			maxBody:  cfg.MaxBodySize,
			maxChunk: maxChunkLine,
		},
	}
	s.tick = maxTick
	for _, d := range []time.Duration{cfg.ReadHeaderTimeout, cfg.ReadBodyTimeout, cfg.IdleTimeout} {
		s.tick = min(s.tick, d/4)
	}
	s.tick = max(s.tick, minTick)
	s.updateClock(time.Now())
	s.tasks.New = func() any { t := &task{s: s}; t.cb = t.written; return t }
	if cfg.SpinWorker > 0 {
		s.spin.hits = metrics.GetOrCreateCounter(`statecar_http_spin_worker_total{result="hit"}`)
		s.spin.misses = metrics.GetOrCreateCounter(`statecar_http_spin_worker_total{result="miss"}`)
	}
	return s, nil
}

// Start starts the engine and returns once every address is listening, or
// with the listen error (a port in use is an error).
func (s *Server) Start() error {
	if !s.startCalled.CompareAndSwap(false, true) {
		return errors.New("cannot start HTTP server: already started")
	}
	addrs := make([]string, len(s.cfg.Addrs))
	for i, a := range s.cfg.Addrs {
		if strings.HasPrefix(a, "unix://") {
			addrs[i] = a
		} else {
			addrs[i] = "tcp://" + a
		}
	}
	go func() {
		err := gnet.Rotate(s, addrs,
			gnet.WithNumEventLoop(s.cfg.EventLoops),
			gnet.WithLockOSThread(s.cfg.LockOSThread),
			gnet.WithReuseAddr(true),
			gnet.WithTicker(true),
			gnet.WithTCPKeepAlive(15*time.Second),
			gnet.WithTCPKeepInterval(15*time.Second),
			gnet.WithTCPKeepCount(9),
			gnet.WithLogger(gnetLogger{s.log}),
		)
		if err == nil && !s.stopping.Load() && s.bootErr == nil {
			// gnet stops the whole engine when accept(2) fails (EMFILE...).
			err = errors.New("gnet engine stopped unexpectedly")
		}
		if err != nil && s.startedOK.Load() {
			s.log.Error("h1: HTTP server stopped", "error", err)
		}
		s.runErr = err
		close(s.quit) // idle workers exit
		close(s.done)
	}()
	select {
	case <-s.started:
		if s.bootErr != nil {
			<-s.done
			return s.bootErr
		}
		s.startedOK.Store(true)
		return nil
	case <-s.done:
		if s.bootErr != nil {
			return s.bootErr
		}
		if s.runErr != nil {
			return fmt.Errorf("cannot listen on %s: %w", strings.Join(s.cfg.Addrs, ","), listenCause(s.cfg.Addrs, s.runErr))
		}
		return errors.New("cannot start HTTP server: engine stopped")
	}
}

// listenCause explains a failed engine start. gnet reports a port that is
// already in use as a confusing "setsockopt: bad file descriptor"; binding
// each TCP address with net.Listen once more yields the real reason
// ("bind: address already in use"). Without a better reason err is kept.
func listenCause(addrs []string, err error) error {
	for _, a := range addrs {
		if strings.HasPrefix(a, "unix://") {
			continue
		}
		ln, lerr := net.Listen("tcp", strings.TrimPrefix(a, "tcp://"))
		if lerr != nil {
			return lerr
		}
		_ = ln.Close()
	}
	return err
}

// Done is closed when the engine has stopped: after Shutdown, or on its own
// after a fatal error (gnet stops the engine when accept(2) fails, e.g. when
// the process runs out of file descriptors). The owner should treat the
// latter as fatal.
func (s *Server) Done() <-chan struct{} { return s.done }

// Err returns why the engine stopped on its own (nil while it runs and after a
// clean Shutdown).
func (s *Server) Err() error {
	select {
	case <-s.done:
		if s.stopping.Load() {
			return nil
		}
		return s.runErr
	default:
		return nil
	}
}

// Addrs returns the bound listener addresses (valid after Start returned nil).
func (s *Server) Addrs() []net.Addr { return s.addrs }

// Shutdown stops accepting (new connections are accepted and closed at once),
// lets in-flight requests, blocking ones included, finish and their responses
// be written (with Connection: close), closes idle connections, then stops the
// engine. It returns when done or when ctx ends (then remaining connections
// are closed anyway). Do not call it synchronously from a handler: it waits
// for that handler's own request (start it on another goroutine).
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopping.Store(true)
	if !s.startCalled.Load() {
		return nil
	}
	select {
	case <-s.started:
	case <-s.done:
		return nil
	}
	var err error
	wait := shutdownPollInitial
	for s.inflight.Load() > 0 || s.nconns.Load() > 0 {
		s.wakeAll()
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-t.C:
		}
		t.Stop()
		if err != nil {
			break
		}
		wait = min(wait*2, 100*time.Millisecond)
	}
	stopCtx, cancel := context.WithCancel(context.Background())
	cancel() // Engine.Stop only needs to trigger the shutdown; we wait on done
	_ = s.eng.Stop(stopCtx)
	select {
	case <-s.done:
	case <-ctx.Done():
		if err == nil {
			err = ctx.Err()
		}
	}
	return err
}

func (s *Server) wakeAll() {
	s.gate.RLock()
	if !s.gate.stopped {
		s.regMu.Lock()
		for _, cs := range s.reg {
			_ = cs.c.Wake(nil)
		}
		s.regMu.Unlock()
	}
	s.gate.RUnlock()
}

// OnShutdown closes the gate before gnet closes its pollers. (gnet)
func (s *Server) OnShutdown(gnet.Engine) {
	s.gate.Lock()
	s.gate.stopped = true
	s.gate.Unlock()
}

// OnBoot records the engine and the bound addresses. (gnet callback)
func (s *Server) OnBoot(eng gnet.Engine) gnet.Action {
	s.eng = eng
	for _, a := range s.cfg.Addrs {
		network := "tcp"
		if p, ok := strings.CutPrefix(a, "unix://"); ok {
			network, a = "unix", p
		}
		fd, err := eng.DupListener(network, a)
		if err != nil {
			s.bootErr = fmt.Errorf("cannot inspect listener %s: %w", a, err)
			break
		}
		sa, err := unix.Getsockname(fd)
		_ = unix.Close(fd)
		if err != nil {
			s.bootErr = fmt.Errorf("cannot inspect listener %s: %w", a, err)
			break
		}
		s.addrs = append(s.addrs, sockaddrToNet(sa))
	}
	if s.bootErr != nil {
		s.once.Do(func() { close(s.started) })
		return gnet.Shutdown
	}
	return gnet.None
}

func sockaddrToNet(sa unix.Sockaddr) net.Addr {
	switch a := sa.(type) {
	case *unix.SockaddrUnix:
		return &net.UnixAddr{Name: a.Name, Net: "unix"}
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(append([]byte(nil), a.Addr[:]...)), Port: a.Port}
	case *unix.SockaddrInet6:
		return &net.TCPAddr{IP: net.IP(append([]byte(nil), a.Addr[:]...)), Port: a.Port}
	}
	return &net.TCPAddr{}
}

// OnTick updates the clock and Date, and wakes connections whose deadline
// passed or that asked for polling. (gnet ticker goroutine)
func (s *Server) OnTick() (time.Duration, gnet.Action) {
	now := time.Now()
	s.updateClock(now)
	s.once.Do(func() { close(s.started) })
	n := now.UnixNano()
	stopping := s.stopping.Load()
	s.gate.RLock()
	if !s.gate.stopped {
		s.regMu.Lock()
		for _, cs := range s.reg {
			if d := cs.deadline.Load(); d != 0 && n >= d || cs.poke.Load() || stopping {
				_ = cs.c.Wake(nil)
			}
		}
		s.regMu.Unlock()
	}
	s.gate.RUnlock()
	return s.tick, gnet.None
}

func (s *Server) updateClock(now time.Time) {
	s.now.Store(now.UnixNano())
	if sec := now.Unix(); sec != s.dateSec {
		s.dateSec = sec
		b := append([]byte("Date: "), now.UTC().Format(http.TimeFormat)...)
		b = append(b, '\r', '\n')
		s.date.Store(&b)
	}
}

func (s *Server) dateLine() []byte { return *s.date.Load() }

// OnOpen sets up a connection, or closes it at once over MaxConns or while
// shutting down. (event loop)
func (s *Server) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	if n := s.nconns.Add(1); n > int64(s.cfg.MaxConns) || s.stopping.Load() {
		return nil, gnet.Close
	}
	cs := &connState{c: c, rd: newReader(s.lim), fd: c.Fd()}
	remote := c.RemoteAddr()
	if a, ok := remote.(*net.TCPAddr); ok && a.Zone != "" {
		cp := *a
		cp.Zone = strings.Clone(a.Zone) // gnet recycles zone bytes on close
		remote = &cp
	}
	cs.rd.req.remote = remote
	cs.setTimer(s, tHead) // like Go, ReadHeaderTimeout runs from accept
	c.SetContext(cs)
	s.regMu.Lock()
	cs.regIdx = len(s.reg)
	s.reg = append(s.reg, cs)
	s.regMu.Unlock()
	return nil, gnet.None
}

// OnClose forgets the connection. (event loop)
func (s *Server) OnClose(c gnet.Conn, _ error) gnet.Action {
	s.nconns.Add(-1)
	cs, _ := c.Context().(*connState)
	if cs == nil {
		return gnet.None
	}
	s.regMu.Lock()
	last := len(s.reg) - 1
	s.reg[cs.regIdx] = s.reg[last]
	s.reg[cs.regIdx].regIdx = cs.regIdx
	s.reg[last] = nil
	s.reg = s.reg[:last]
	s.regMu.Unlock()
	cs.wmu.Lock()
	cs.closed = true // gnet closes the fd right after OnClose
	cs.wmu.Unlock()
	cs.cancelContext()
	c.SetContext(nil)
	return gnet.None
}

// OnTraffic reads and answers every complete request buffered on c, in order.
// (event loop)
func (s *Server) OnTraffic(c gnet.Conn) (action gnet.Action) {
	cs, _ := c.Context().(*connState)
	if cs == nil {
		return gnet.Close
	}
	defer func() {
		if p := recover(); p != nil {
			if s.logPanic.allow() {
				s.log.Error("h1: panic while serving a connection; closing it", "panic", p)
			}
			action = gnet.Close
		}
	}()
	return s.serve(cs)
}

func (cs *connState) setTimer(s *Server, k timerKind) {
	if cs.timer == k {
		return
	}
	cs.timer = k
	var d time.Duration
	switch k {
	case tNone:
		cs.deadline.Store(0)
		return
	case tIdle:
		d = s.cfg.IdleTimeout
	case tHead:
		d = s.cfg.ReadHeaderTimeout
	case tBody:
		d = s.cfg.ReadBodyTimeout
	case tDrain:
		d = s.cfg.IdleTimeout
	}
	cs.deadline.Store(s.now.Load() + int64(d))
}

func (s *Server) serve(cs *connState) gnet.Action {
	c := cs.c
	if f := cs.finish.Swap(0); f != 0 {
		cs.closing, cs.clean = true, f == 1
	}
	if cs.closing {
		return s.linger(cs)
	}
	if cs.inflight.Load() || cs.poke.Load() {
		// Requests wait in gnet's buffer; bound what a client may pile up.
		if c.InboundBuffered() > maxPendingInbound(s.lim) {
			return gnet.Close
		}
		if cs.inflight.Load() {
			cs.pending.Store(true)
			if cs.inflight.Load() {
				return gnet.None // the task will Wake us
			}
			// The task finished meanwhile: go on.
			if f := cs.finish.Swap(0); f != 0 {
				cs.closing, cs.clean = true, f == 1
				return s.linger(cs)
			}
		}
	}
	if d := cs.deadline.Load(); d != 0 && s.now.Load() >= d {
		return gnet.Close // header, body or idle timeout: close without a reply, like Go
	}
	rd := cs.rd
	cs.poke.Store(false)
loop:
	for {
		if c.OutboundBuffered() > maxOutboundBacklog {
			cs.poke.Store(true) // resume on a tick once the client reads
			break
		}
		switch rd.next(c) {
		case resMore:
			if rd.want100 && !rd.sent100 {
				rd.sent100 = true
				cs.out = append(cs.out, continueReply...)
			}
			switch {
			case !rd.idle():
				cs.setTimer(s, tBody)
			case c.InboundBuffered() > 0:
				cs.setTimer(s, tHead)
			case s.stopping.Load():
				if !s.flush(cs) {
					return gnet.Close
				}
				return s.closeNow(cs)
			default:
				cs.setTimer(s, tIdle)
			}
			break loop
		case resErr:
			cs.out = append(cs.out, errorReplies[rd.err]...)
			cs.closing = true
			break loop
		case resDone:
			if !s.handle(cs) {
				return gnet.None // a blocking request took over the connection
			}
			if cs.closing {
				break loop
			}
		}
	}
	if !s.flush(cs) {
		return gnet.Close
	}
	if cs.closing {
		return s.linger(cs)
	}
	return gnet.None
}

// maxPendingInbound bounds the bytes a connection may buffer while its
// requests wait (blocking request in flight, or output backpressure).
func maxPendingInbound(l limits) int { return 2 * (l.maxHead + int(l.maxBody)) }

// flush hands the pending output to gnet; false means the write failed and
// gnet already closed the connection.
func (s *Server) flush(cs *connState) bool {
	if len(cs.out) == 0 {
		return true
	}
	_, err := cs.c.Write(cs.out)
	cs.out = cs.out[:0]
	if cap(cs.out) > maxRetainedBuf {
		cs.out = nil // gnet has copied what it could not send; do not pin a large buffer
	}
	return err == nil
}

// handle routes and answers the request rd.req. It returns false when the
// request was handed to a blocking task (the connection waits for it).
func (s *Server) handle(cs *connState) bool {
	rd := cs.rd
	req := &rd.req
	keep := req.keepAlive && !req.bodyTooLarge && !s.stopping.Load()
	isHead := string(req.view(req.meth)) == "HEAD"
	w := &cs.resp
	w.reset()
	if req.expectFailed {
		w.SetStatus(http.StatusExpectationFailed)
		w.AddHeader("Connection", "close")
		cs.out = appendResponse(cs.out, req, w, s.dateLine(), false, isHead)
		rd.done(cs.c)
		cs.closing = true
		return true
	}
	if string(req.view(req.path)) == "*" && string(req.view(req.meth)) == "OPTIONS" {
		// Go's server answers "OPTIONS *" itself, before any handler or middleware.
		cs.out = appendOptionsStar(cs.out, req, s.dateLine(), keep)
		rd.done(cs.c)
		if !keep {
			cs.closing, cs.clean = true, !req.bodyTooLarge
		}
		return true
	}
	s.router.route(req)
	if req.ep.blocking {
		t := s.tasks.Get().(*task)
		t.load(cs, req, keep, isHead)
		rd.done(cs.c)
		if !s.flush(cs) {
			t.release()
			return false
		}
		// Nothing else writes to the connection while the task runs, so
		// when gnet holds no unsent output the task may write its response
		// to the socket itself (see task.deliver).
		t.direct = cs.c.OutboundBuffered() == 0
		cs.pending.Store(cs.c.InboundBuffered() > 0) // pipelined requests wait
		cs.inflight.Store(true)
		cs.setTimer(s, tNone)
		s.inflight.Add(1)
		s.dispatch(t)
		return false
	}
	cs.setTimer(s, tNone)
	s.invoke(w, req)
	keep = keep && !w.close
	cs.out = appendResponse(cs.out, req, w, s.dateLine(), keep, isHead)
	if cap(w.body) > maxRetainedBuf {
		w.body = nil
	}
	if !keep {
		cs.closing = true
		cs.clean = !req.bodyTooLarge
	}
	rd.done(cs.c)
	return true
}

// invoke runs the route's handler chain; a panic becomes a 500 and closes the
// connection.
func (s *Server) invoke(w *Response, r *Request) {
	defer func() {
		if p := recover(); p != nil {
			if s.logPanic.allow() {
				s.log.Error("h1: handler panic", "panic", p, "method", string(r.Method()), "path", string(r.RawPath()))
			}
			w.reset()
			w.SetStatus(http.StatusInternalServerError)
			w.close = true
		}
	}()
	r.ep.h(w, r)
}

// closeNow closes a connection whose output is handed to gnet.
func (s *Server) closeNow(cs *connState) gnet.Action {
	cs.closing, cs.clean = true, true
	return s.linger(cs)
}

// linger drives a closing connection: wait until gnet has sent all output,
// then close at once if the request was fully read and nothing else arrived;
// otherwise shut down the write side and discard input until the peer closes
// or lingerTime passes, so that the peer reads the reply instead of a reset.
func (s *Server) linger(cs *connState) gnet.Action {
	c := cs.c
	if n := c.InboundBuffered(); n > 0 {
		_, _ = c.Discard(n)
		cs.clean = false
	}
	now := s.now.Load()
	if !cs.shutWr {
		if c.OutboundBuffered() > 0 {
			cs.setTimer(s, tDrain)
			cs.poke.Store(true)
			if d := cs.deadline.Load(); now >= d {
				return gnet.Close // the peer does not read
			}
			return gnet.None
		}
		if cs.clean {
			return gnet.Close
		}
		_ = unix.Shutdown(c.Fd(), unix.SHUT_WR)
		cs.shutWr = true
		cs.poke.Store(false)
		cs.timer = tNone
		cs.deadline.Store(now + int64(lingerTime))
		return gnet.None
	}
	if now >= cs.deadline.Load() {
		return gnet.Close
	}
	return gnet.None
}

// dispatch hands t to an idle worker goroutine, or starts one. Workers are
// reused so that a blocking request costs no goroutine creation and no
// allocation; one that has been idle for workerIdle exits.
func (s *Server) dispatch(t *task) {
	if s.spin.offer(t) {
		return
	}
	select {
	case s.work <- t:
	default:
		go s.worker(t)
	}
}

func (s *Server) worker(t *task) {
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		t.run()
		// Spin only when no other blocking request is in flight: under
		// load the event loops find parked workers without a wake-up
		// cost that matters, and a spinning worker would take CPU from
		// the requests being served (−5 to −12 % req/s at 32 connections
		// on state.redis when every finished worker tried to spin).
		if s.cfg.SpinWorker > 0 && s.inflight.Load() == 0 {
			if next := s.spin.wait(s.cfg.SpinWorker, &s.stopping); next != nil {
				t = next
				continue
			}
		}
		idle.Reset(workerIdle)
		select {
		case t = <-s.work:
		case <-idle.C:
			return
		case <-s.quit:
			return
		}
	}
}

// spinSlot hands blocking tasks from the event loops to a worker that
// spins for them (Config.SpinWorker) instead of parking. A parked worker
// costs its wake-up on every request: the event loop's hand-off makes the
// runtime wake a thread, on a virtual machine often a halted vCPU, while
// the request waits; a spinning worker takes the task from the slot with
// no wake-up at all.
//
// Protocol: at most one worker spins (spinning, set while it holds the
// busypoll token). An offer that sees spinning CASes its task into hot
// (nil → t), then re-reads spinning: still set means the spinner will take
// t (it clears spinning before its final Swap of hot, so that Swap comes
// after the CAS); cleared means the spinner may have left, and the offer
// takes t back with CAS(t → nil) — if that fails the spinner got it.
// Either way exactly one of them runs t (TestSpinSlotExactlyOnce).
//
// Spinning is bounded like internal/busypoll's reads, whose single
// process-wide token it shares (at most one goroutine of the process
// spins): the spin yields the processor between checks, and when the next
// task keeps arriving after the budget (low load) the slot stops spinning
// and only probes once every spinProbe waits.
type spinSlot struct {
	hot      atomic.Pointer[task]
	spinning atomic.Bool
	score    atomic.Int32 // > spinMinScore: spinning pays (tasks came within the budget)
	tries    atomic.Uint32
	hits     *metrics.Counter // may be nil
	misses   *metrics.Counter // may be nil
}

// offer hands t to the spinning worker and reports whether it took it;
// false leaves t to the caller. (event loop)
func (sp *spinSlot) offer(t *task) bool {
	if !sp.spinning.Load() || !sp.hot.CompareAndSwap(nil, t) {
		return false
	}
	return sp.spinning.Load() || !sp.hot.CompareAndSwap(t, nil)
}

// wait spins for an offered task for at most budget, or until stop is
// set, and returns it; nil when none came (or another goroutine holds the
// spinning token), and the caller parks as usual. (task goroutine)
func (sp *spinSlot) wait(budget time.Duration, stop *atomic.Bool) *task {
	n := sp.tries.Add(1)
	if sp.score.Load() <= spinMinScore && n%spinProbe != 0 {
		return nil
	}
	if !busypoll.TryAcquire() {
		return nil
	}
	// The token makes this goroutine the process's only spinner until its
	// Release: it alone sets spinning and updates score meanwhile.
	sp.spinning.Store(true)
	end := time.Now().Add(budget)
	for i := 1; sp.hot.Load() == nil; i++ {
		if i%8 == 0 && (stop.Load() || time.Now().After(end)) {
			break
		}
		runtime.Gosched()
	}
	sp.spinning.Store(false)
	t := sp.hot.Swap(nil) // after the Store: see the protocol above
	if sc := sp.score.Load(); t != nil {
		sp.score.Store(min(sc+1, spinMaxScore))
	} else {
		sp.score.Store(max(sc-1, spinMinScore))
	}
	busypoll.Release()
	if t != nil {
		if sp.hits != nil {
			sp.hits.Inc()
		}
	} else if sp.misses != nil {
		sp.misses.Inc()
	}
	return t
}

// task runs one blocking request on a worker goroutine.
type task struct {
	s      *Server
	cs     *connState
	c      gnet.Conn
	buf    []byte
	req    Request
	resp   Response
	out    []byte
	keep   bool
	isHead bool
	direct bool               // the task may write to the socket itself
	cb     gnet.AsyncCallback // t.written, bound once
}

// load copies src (views into gnet's buffer) into the task. (event loop)
func (t *task) load(cs *connState, src *Request, keep, isHead bool) {
	t.cs, t.c, t.keep, t.isHead = cs, cs.c, keep, isHead
	r := &t.req
	r.reset()
	t.buf = append(t.buf[:0], src.buf[:src.head.e]...)
	bs := len(t.buf)
	t.buf = append(t.buf, src.body...)
	r.buf = t.buf
	r.body = t.buf[bs:len(t.buf):len(t.buf)]
	r.head, r.meth, r.path, r.query = src.head, src.meth, src.path, src.query
	r.cs = cs
	r.hdrs = append(r.hdrs, src.hdrs...)
	r.contentLength, r.major, r.minor = src.contentLength, src.major, src.minor
	r.chunked, r.keepAlive, r.expect100, r.bodyTooLarge = src.chunked, src.keepAlive, src.expect100, src.bodyTooLarge
	r.remote = src.remote
	t.s.router.route(r)
}

// run executes the handler and delivers the response. (task goroutine)
func (t *task) run() {
	s := t.s
	t.resp.reset()
	s.invoke(&t.resp, &t.req)
	t.keep = t.keep && !t.resp.close && !s.stopping.Load()
	t.out = appendResponse(t.out[:0], &t.req, &t.resp, s.dateLine(), t.keep, t.isHead)
	t.deliver()
}

// deliver writes the response. Fast path: one write(2) on the socket from
// this goroutine, allowed because gnet holds no unsent output for the
// connection and the event loop does not write to it while the task runs;
// OnClose cannot close the fd during the write (wmu). Otherwise, or for what
// the socket did not take, AsyncWrite hands the bytes to the event loop.
// (task goroutine)
func (t *task) deliver() {
	s, cs := t.s, t.cs
	rest := t.out
	if t.direct {
		cs.wmu.Lock()
		if cs.closed {
			cs.wmu.Unlock()
			s.inflight.Add(-1)
			t.release()
			return
		}
		var n int
		var err error
		for {
			n, err = unix.Write(cs.fd, rest)
			if err != unix.EINTR {
				break
			}
		}
		cs.wmu.Unlock()
		if n > 0 {
			rest = rest[n:]
		}
		switch {
		case err != nil && err != unix.EAGAIN:
			t.complete(false, false) // broken connection: let the loop close it
			return
		case len(rest) == 0:
			t.complete(t.keep, !t.req.bodyTooLarge)
			return
		}
	}
	err := net.ErrClosed
	s.gate.RLock()
	if !s.gate.stopped {
		err = t.c.AsyncWrite(rest, t.cb)
	}
	s.gate.RUnlock()
	if err != nil {
		// The engine is stopping; the connection is being closed.
		s.inflight.Add(-1)
		t.release()
	}
}

// complete ends a task whose response the socket took in full, without the
// event loop: it re-arms the idle timer or asks the loop to close, and wakes
// the loop if it has something to do. (task goroutine)
func (t *task) complete(keep, clean bool) {
	s, cs := t.s, t.cs
	t.release()
	if keep {
		cs.deadline.Store(s.now.Load() + int64(s.cfg.IdleTimeout))
	} else if clean {
		cs.finish.Store(1)
	} else {
		cs.finish.Store(2)
	}
	cs.inflight.Store(false)
	s.inflight.Add(-1)
	if cs.pending.Swap(false) || !keep || s.stopping.Load() {
		s.gate.RLock()
		if !s.gate.stopped {
			_ = cs.c.Wake(nil)
		}
		s.gate.RUnlock()
	}
}

// written resumes the connection after the response was handed to gnet.
// (event loop)
func (t *task) written(c gnet.Conn, err error) error {
	s, cs, keep, clean := t.s, t.cs, t.keep, !t.req.bodyTooLarge
	t.release()
	s.inflight.Add(-1)
	cs.inflight.Store(false)
	cs.pending.Store(false)
	if err != nil {
		return nil // connection already closed
	}
	if !keep {
		cs.closing, cs.clean = true, clean
		_ = c.Wake(nil)
		return nil
	}
	if c.InboundBuffered() == 0 && !s.stopping.Load() {
		cs.setTimer(s, tIdle)
		return nil
	}
	_ = c.Wake(nil)
	return nil
}

func (t *task) release() {
	t.cs, t.c = nil, nil
	t.req.reset()
	if cap(t.buf) > maxRetainedBuf {
		t.buf = nil
	}
	if cap(t.out) > maxRetainedBuf {
		t.out = nil
	}
	if cap(t.resp.body) > maxRetainedBuf {
		t.resp.body = nil
	}
	t.s.tasks.Put(t)
}

// throttle allows one event per second.
type throttle struct{ last atomic.Int64 }

func (t *throttle) allow() bool {
	now := time.Now().Unix()
	last := t.last.Load()
	return now != last && t.last.CompareAndSwap(last, now)
}

// gnetLogger sends gnet's own logs to slog.
type gnetLogger struct{ l *slog.Logger }

func (g gnetLogger) Debugf(f string, a ...any) { g.l.Debug(fmt.Sprintf(f, a...), "component", "gnet") }
func (g gnetLogger) Infof(f string, a ...any)  { g.l.Debug(fmt.Sprintf(f, a...), "component", "gnet") }
func (g gnetLogger) Warnf(f string, a ...any)  { g.l.Warn(fmt.Sprintf(f, a...), "component", "gnet") }
func (g gnetLogger) Errorf(f string, a ...any) { g.l.Error(fmt.Sprintf(f, a...), "component", "gnet") }
func (g gnetLogger) Fatalf(f string, a ...any) { g.l.Error(fmt.Sprintf(f, a...), "component", "gnet") }
