package busypoll

import (
	"net"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"golang.org/x/sys/unix"
)

// DefaultBudget is the busy-poll budget a store uses when its metadata
// does not set one.
const DefaultBudget = 200 * time.Microsecond

// MaxBudget bounds a configured budget: longer spins cost a core for data
// that a blocking read would wait for just as well.
const MaxBudget = 5 * time.Millisecond

const (
	maxScore = 8
	minScore = -8
	probe    = 64
)

// spinners is 1 while some goroutine of the process busy-polls.
var spinners atomic.Int32

// TryAcquire takes the process's single busy-polling token: true means the
// caller may spin until it calls Release; false means some other goroutine
// is spinning and the caller should block instead. Every spinner of the
// process (the store connections here, the HTTP server's waiting worker)
// shares this one token, so that at most one goroutine spins at a time.
func TryAcquire() bool { return spinners.CompareAndSwap(0, 1) }

// Release returns the token taken by a successful TryAcquire.
func Release() { spinners.Store(0) }

// Counters are a store's busy-poll outcomes: a hit found the data within
// the budget, a miss fell back to the blocking read.
type Counters struct{ Hits, Misses *metrics.Counter }

// NewCounters registers (or finds) the outcome counters of one store type:
// statecar_store_<store>_busy_poll_total{result="hit"|"miss"}.
func NewCounters(store string) Counters {
	return Counters{
		Hits:   metrics.GetOrCreateCounter(`statecar_store_` + store + `_busy_poll_total{result="hit"}`),
		Misses: metrics.GetOrCreateCounter(`statecar_store_` + store + `_busy_poll_total{result="miss"}`),
	}
}

// Conn is a TCP connection whose Read busy-polls for up to its budget.
type Conn struct {
	*net.TCPConn
	rc     syscall.RawConn
	budget time.Duration
	ctr    Counters
	// The rest is touched only by Read (one reader at a time).
	score int
	reads uint32
	// One non-blocking read(2) of p into n, rerr; bound once so that the
	// spin loop allocates nothing (a fresh closure per rc.Read would).
	p      []byte
	n      int
	rerr   error
	readFn func(fd uintptr) bool
}

// Wrap returns c busy-polling its reads for up to budget, or c itself when
// budget is 0 or c is not a TCP connection (a Unix socket, say).
func Wrap(c net.Conn, budget time.Duration, ctr Counters) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok || budget <= 0 {
		return c
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	pc := &Conn{TCPConn: tc, rc: rc, budget: budget, ctr: ctr}
	pc.readFn = func(fd uintptr) bool {
		pc.n, pc.rerr = unix.Read(int(fd), pc.p)
		return true // never wait here
	}
	return pc
}

// Read implements net.Conn.
func (c *Conn) Read(p []byte) (int, error) {
	c.reads++
	if len(p) == 0 || (c.score <= minScore && c.reads%probe != 0) || !TryAcquire() {
		return c.TCPConn.Read(p)
	}
	n, ok := c.spin(p)
	Release()
	if ok {
		c.ctr.Hits.Inc()
		c.score = min(c.score+1, maxScore)
		return n, nil
	}
	c.ctr.Misses.Inc()
	c.score = max(c.score-1, minScore)
	return c.TCPConn.Read(p)
}

// spin reads p without blocking until data arrives (ok) or the budget is
// spent, the socket reports anything but "no data yet" (end of stream,
// an error), or the descriptor is gone; those cases are left to the
// blocking read, which reports them as net.Conn does.
func (c *Conn) spin(p []byte) (n int, ok bool) {
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
