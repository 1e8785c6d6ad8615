package redis

import (
	"context"
	"crypto/tls"
	"net"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"golang.org/x/sys/unix"
)

// Busy-polling the reply.
//
// At low load a Redis round trip through the sidecar paid for a wake-up
// that a direct client does not: statecar writes the command, its goroutine
// parks on the netpoller, the thread finds nothing else to do and its CPU
// goes idle; the reply then has to wake that CPU again. On the virtual
// machines measured here that cost statecar about 80 µs p50 at one request
// at a time: +172 µs over a raw Redis round trip without busy-polling, +92
// µs with it, the same as a do-nothing TCP proxy (socat) in that run
// (docs/benchmarks.md, "Busy-polling the Redis reply").
//
// pollConn therefore reads a reply with non-blocking read(2) calls for at
// most the component's busyPoll budget (default DefaultBusyPoll) before it
// falls back to the ordinary blocking read, the way SO_BUSY_POLL does in
// the kernel for devices that support it. The spin yields the processor
// (runtime.Gosched) between attempts, so runnable goroutines still run.
// Two bounds keep it cheap:
//
//   - at most one goroutine of the process spins at a time (pollSpinners):
//     under load the CPUs are busy anyway and every other read blocks at
//     once;
//   - a connection whose replies keep arriving after the budget (a Redis
//     farther away than the budget) stops spinning: poll.score falls by one
//     per miss and rises by one per hit, spinning stops at pollMinScore and
//     is retried once every pollProbe reads.
//
// Deadlines set by go-redis (SetReadDeadline) are enforced by the blocking
// read; the spin itself is shorter than any sensible read timeout.

// DefaultBusyPoll is the busy-poll budget of a reply when the component's
// busyPoll metadata is not set.
const DefaultBusyPoll = 200 * time.Microsecond

// maxBusyPoll bounds the busyPoll metadata: longer spins cost a core for
// replies that a blocking read would wait for just as well.
const maxBusyPoll = 5 * time.Millisecond

const (
	pollMaxScore = 8
	pollMinScore = -8
	pollProbe    = 64
)

// pollSpinners is 1 while some goroutine of the process busy-polls a reply.
var pollSpinners atomic.Int32

// Busy-poll outcomes of the whole process: a hit found the reply within
// the budget, a miss fell back to the blocking read.
var (
	pollHits   = metrics.GetOrCreateCounter(`statecar_store_redis_busy_poll_total{result="hit"}`)
	pollMisses = metrics.GetOrCreateCounter(`statecar_store_redis_busy_poll_total{result="miss"}`)
)

// pollConn is a TCP connection whose Read busy-polls for up to budget.
type pollConn struct {
	*net.TCPConn
	rc     syscall.RawConn
	budget time.Duration
	// The rest is touched only by Read; go-redis never reads one
	// connection from two goroutines at once.
	score int
	reads uint32
	// One non-blocking read(2) of p into n, rerr; bound once so that the
	// spin loop allocates nothing (a fresh closure per rc.Read would).
	p      []byte
	n      int
	rerr   error
	readFn func(fd uintptr) bool
}

func newPollConn(tc *net.TCPConn, rc syscall.RawConn, budget time.Duration) *pollConn {
	c := &pollConn{TCPConn: tc, rc: rc, budget: budget}
	c.readFn = func(fd uintptr) bool {
		c.n, c.rerr = unix.Read(int(fd), c.p)
		return true // never wait here
	}
	return c
}

// pollDialer returns a go-redis Dialer whose connections busy-poll their
// replies for up to budget, with go-redis's own dial settings (timeout,
// TCP keep-alive) and, when tlsConf is set, TLS over the polled socket.
func pollDialer(timeout, budget time.Duration, tlsConf *tls.Config) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{
		Timeout:         timeout,
		KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: 30 * time.Second, Interval: 5 * time.Second, Count: 3},
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if tc, ok := c.(*net.TCPConn); ok {
			if rc, err := tc.SyscallConn(); err == nil {
				c = newPollConn(tc, rc, budget)
			}
		}
		if tlsConf == nil {
			return c, nil
		}
		// As tls.DialWithDialer (go-redis's own dialer): the server name
		// defaults to the host dialled, the dial timeout bounds the handshake.
		conf := tlsConf
		if conf.ServerName == "" {
			conf = conf.Clone()
			conf.ServerName, _, _ = net.SplitHostPort(addr)
		}
		if timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		tc := tls.Client(c, conf)
		if err := tc.HandshakeContext(ctx); err != nil {
			c.Close()
			return nil, err
		}
		return tc, nil
	}
}

// Read implements net.Conn.
func (c *pollConn) Read(p []byte) (int, error) {
	c.reads++
	if len(p) == 0 || (c.score <= pollMinScore && c.reads%pollProbe != 0) || !pollSpinners.CompareAndSwap(0, 1) {
		return c.TCPConn.Read(p)
	}
	n, ok := c.spin(p)
	pollSpinners.Store(0)
	if ok {
		pollHits.Inc()
		c.score = min(c.score+1, pollMaxScore)
		return n, nil
	}
	pollMisses.Inc()
	c.score = max(c.score-1, pollMinScore)
	return c.TCPConn.Read(p)
}

// spin reads p without blocking until data arrives (ok) or the budget is
// spent, the socket reports anything but "no data yet" (end of stream,
// an error), or the descriptor is gone; those cases are left to the
// blocking read, which reports them as net.Conn does.
func (c *pollConn) spin(p []byte) (n int, ok bool) {
	c.p = p
	defer func() { c.p = nil }()
	var end time.Time
	for {
		if err := c.rc.Read(c.readFn); err != nil {
			return 0, false
		}
		if c.rerr == nil && c.n > 0 {
			return c.n, true
		}
		if c.rerr != unix.EAGAIN {
			return 0, false
		}
		now := time.Now()
		if end.IsZero() {
			end = now.Add(c.budget)
		} else if now.After(end) {
			return 0, false
		}
		runtime.Gosched()
	}
}
