package api

import (
	"context"
	"sync"
	"sync/atomic"
)

// drain is the shutdown discipline shared by the runners that deliver to
// the app (Subscriber, InputBindings): once stop is called no new delivery
// is taken, the deliveries in flight finish, and when the caller's
// deadline passes first they are cancelled through ctx (their messages or
// events stay with the broker or binding) so that closing the components
// never waits for them.
//
// Invariant: a delivery runs between a successful enter and its leave, with
// ctx as its context; enter and stop are ordered by mu, so a delivery that
// entered is always waited for.
type drain struct {
	mu       sync.Mutex
	stopped  bool
	flag     atomic.Bool // mirrors stopped, readable without mu
	inflight sync.WaitGroup
	// ctx is the context of every delivery: not the broker's or binding's
	// (those are cancelled first when stopping, while deliveries finish),
	// cancelled by wait once its deadline has passed.
	ctx    context.Context
	cancel context.CancelFunc
}

func (d *drain) init() { d.ctx, d.cancel = context.WithCancel(context.Background()) }

// enter registers a delivery; false once stop was called.
func (d *drain) enter() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return false
	}
	d.inflight.Add(1)
	return true
}

// leave ends a delivery that entered.
func (d *drain) leave() { d.inflight.Done() }

// stop refuses new deliveries; it reports false when already stopped.
func (d *drain) stop() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return false
	}
	d.stopped = true
	d.flag.Store(true)
	return true
}

// stopping reports whether stop was called.
func (d *drain) stopping() bool { return d.flag.Load() }

// wait returns once the deliveries in flight are done; when ctx ends first
// it cancels them and then waits for them to return.
func (d *drain) wait(ctx context.Context) {
	done := make(chan struct{})
	go func() { d.inflight.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		d.cancel()
		<-done
	}
}
