package busypoll

import (
	"runtime"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// MaxSlotSpin bounds a Slot's spin budget (the servers' SpinWorker
// settings): a longer spin costs a core for a request that a parked worker
// would serve just as well.
const MaxSlotSpin = 2 * time.Millisecond

// Slot hands work items (a blocking request) from the goroutine that
// parsed them to a worker goroutine that spins for them instead of
// parking. A parked worker costs its wake-up on every request: the
// hand-off makes the runtime wake a thread, on a virtual machine often a
// halted vCPU, while the request waits; a spinning worker takes the item
// from the slot with no wake-up at all. The HTTP server (server/h1) and
// the gRPC transport (server/grpc) each have one.
//
// Protocol: at most one goroutine spins (spinning is set while it holds
// the process's busy-polling token, TryAcquire). An Offer that sees
// spinning CASes its item into hot (nil → t), then re-reads spinning:
// still set means the spinner will take t (it clears spinning before its
// final Swap of hot, so that Swap comes after the CAS); cleared means the
// spinner may have left, and the offer takes t back with CAS(t → nil) — if
// that fails the spinner got it. Either way exactly one of them runs t
// (TestSlotExactlyOnce).
//
// Spinning is bounded like Conn's reads, whose single process-wide token
// it shares (at most one goroutine of the process spins): the spin yields
// the processor between checks, and when the next item keeps arriving
// after the budget (low load) the slot stops spinning and only probes once
// every 64 waits.
//
// The zero Slot is ready to use; Hits and Misses may be set before first
// use to count Wait's outcomes.
type Slot[T any] struct {
	hot      atomic.Pointer[T]
	spinning atomic.Bool
	score    atomic.Int32 // > minScore: spinning pays (items came within the budget)
	tries    atomic.Uint32
	// Hits and Misses count the Waits that got an item and those that did
	// not; nil counts nothing. Set them before the slot is shared.
	Hits, Misses *metrics.Counter
}

// Offer hands t to the spinning worker and reports whether it took it;
// false leaves t to the caller. It never blocks and does not allocate.
func (sp *Slot[T]) Offer(t *T) bool {
	if !sp.spinning.Load() || !sp.hot.CompareAndSwap(nil, t) {
		return false
	}
	return sp.spinning.Load() || !sp.hot.CompareAndSwap(t, nil)
}

// Wait spins for an offered item for at most budget, or until stop is
// set, and returns it; nil when none came (or another goroutine holds the
// spinning token, or the slot has stopped spinning for now), and the
// caller parks as usual.
func (sp *Slot[T]) Wait(budget time.Duration, stop *atomic.Bool) *T {
	n := sp.tries.Add(1)
	if sp.score.Load() <= minScore && n%probe != 0 {
		return nil
	}
	if !TryAcquire() {
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
		sp.score.Store(min(sc+1, maxScore))
	} else {
		sp.score.Store(max(sc-1, minScore))
	}
	Release()
	if t != nil {
		if sp.Hits != nil {
			sp.Hits.Inc()
		}
	} else if sp.Misses != nil {
		sp.Misses.Inc()
	}
	return t
}

// Spinning reports whether a goroutine is spinning in Wait right now.
func (sp *Slot[T]) Spinning() bool { return sp.spinning.Load() }

// Tries is the number of Wait calls so far.
func (sp *Slot[T]) Tries() uint32 { return sp.tries.Load() }
