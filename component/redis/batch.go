package redis

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Automatic pipelining of reads and writes.
//
// Under concurrency every Get paid for its own round trip: a write(2) to
// Redis (on loopback the sender also pays Redis's wake-up and TCP receive
// path), a read(2) of the reply, and Redis's per-call overhead. A CPU
// profile of the sidecar at 32 connections put 26 % of its CPU in the
// write(2) to Redis alone. The batcher sends the calls that arrive while a
// round trip is in flight together, as one pipeline, in the manner of a
// group commit:
//
//   - a call that finds no round trip in flight leads at once with a batch
//     of itself: alone, it costs exactly what it did before (no hand-off,
//     no waiting);
//   - a call that arrives while one is in flight queues and parks;
//   - when a round trip ends, its leader wakes its batch's waiters and, if
//     calls have queued meanwhile, makes the first of them the leader of a
//     batch of all of them (at most maxBatch; the rest wait for the next).
//
// A call is a Get (HMGET data version + the expiry read of one key), one
// applyScript run (EVALSHA: a save, delete, bulk write or transaction,
// atomic on its own as before) or, for pubsub.redis, one XADD of a publish. One batch is one go-redis pipeline of the
// calls' commands in arrival order, so per call the commands and replies
// are exactly those of an unbatched call, and every reply is decoded by
// its own caller (fillHash, run). Pipelining changes nothing about
// atomicity: each script still runs alone on the server; two calls in one
// batch were concurrent, so either order is one they could have had. On a
// cluster, go-redis splits the pipeline by node. A batch runs under its
// leader's context without the leader's cancellation (the others depend
// on it); go-redis's read and write timeouts bound it.
//
// Ordering: a call is sent no earlier than it was made, so a read issued
// after a write was acknowledged sees that write, as before.
type batcher struct {
	// client sends the pipelines; expiry queues a Get's expiry read (set
	// by the state store; pubsub.redis batches only XADDs).
	client goredis.UniversalClient
	expiry func(ctx context.Context, pipe goredis.Pipeliner, key string) *goredis.DurationCmd
	mu     sync.Mutex
	// busy is whether a batch is in flight (its leader owns the queue's
	// hand-over). queue holds the calls waiting for the next batch.
	busy  bool
	queue []*call
	// batches and calls count round trips and the calls they carried.
	batches, calls atomic.Uint64
}

// maxBatch bounds the calls of one pipeline.
const maxBatch = 128

// call is one Get or script run in a batch. done carries the wake-up: lead
// is set when the receiver must lead the batch in calls (itself first).
type call struct {
	key  string // Get: the key; its replies land in hm and ex
	hm   *goredis.SliceCmd
	ex   *goredis.DurationCmd
	keys []string // script run: KEYS and ARGV of applyScript; reply in ev
	args []any
	ev   *goredis.Cmd
	xadd *goredis.XAddArgs // XADD (pubsub.redis Publish); reply in xr
	xr   *goredis.StringCmd

	done  chan struct{}
	lead  bool
	calls []*call
}

var calls = sync.Pool{New: func() any { return &call{done: make(chan struct{}, 1)} }}

// get sends key's reads in some batch and returns once their replies are
// in c.hm and c.ex. The caller must release c (putCall) after decoding them.
func (b *batcher) get(ctx context.Context, key string) *call {
	c := calls.Get().(*call)
	c.key = key
	b.do(ctx, c)
	return c
}

// script runs applyScript with keys and args in some batch and returns once
// its reply is in c.ev. The caller must release c (putCall).
func (b *batcher) script(ctx context.Context, keys []string, args []any) *call {
	c := calls.Get().(*call)
	c.keys, c.args = keys, args
	b.do(ctx, c)
	return c
}

// xAdd runs XADD a in some batch and returns once its reply is in c.xr.
// The caller must release c (putCall).
func (b *batcher) xAdd(ctx context.Context, a *goredis.XAddArgs) *call {
	c := calls.Get().(*call)
	c.xadd = a
	b.do(ctx, c)
	return c
}

func (b *batcher) do(ctx context.Context, c *call) {
	b.mu.Lock()
	if b.busy {
		b.queue = append(b.queue, c)
		b.mu.Unlock()
		<-c.done
		if c.lead {
			b.lead(ctx, c.calls)
		}
		return
	}
	b.busy = true
	b.mu.Unlock()
	one := [1]*call{c}
	b.lead(ctx, one[:])
}

// lead runs one batch (calls[0] is the caller's own), wakes its other
// members and hands the queue to a new leader or ends the busy period.
func (b *batcher) lead(ctx context.Context, calls []*call) {
	b.send(context.WithoutCancel(ctx), calls)
	b.batches.Add(1)
	b.calls.Add(uint64(len(calls)))

	b.mu.Lock()
	var next []*call
	if len(b.queue) > 0 {
		n := min(len(b.queue), maxBatch)
		next = append([]*call(nil), b.queue[:n]...) // one allocation per batch of several
		b.queue = b.queue[:copy(b.queue, b.queue[n:])]
	} else {
		b.busy = false
	}
	b.mu.Unlock()

	for _, c := range calls[1:] {
		c.lead = false
		c.done <- struct{}{}
	}
	if next != nil {
		l := next[0]
		l.lead, l.calls = true, next
		l.done <- struct{}{}
	}
}

// send runs one pipeline of calls' commands. A panic on the way (a hook,
// a bug in a client library) becomes every call's error instead of leaving
// the batch's waiters, and every later call of the store, parked for good.
func (b *batcher) send(ctx context.Context, calls []*call) {
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		err := fmt.Errorf("redis store: pipeline failed: panic: %v", p)
		for _, c := range calls {
			if c.xadd != nil {
				c.xr = goredis.NewStringCmd(ctx)
				c.xr.SetErr(err)
				continue
			}
			if c.keys != nil {
				c.ev = goredis.NewCmd(ctx)
				c.ev.SetErr(err)
				continue
			}
			c.hm, c.ex = goredis.NewSliceCmd(ctx), goredis.NewDurationCmd(ctx, time.Millisecond)
			c.hm.SetErr(err)
			c.ex.SetErr(err)
		}
	}()
	pipe := b.client.Pipeline()
	for _, c := range calls {
		if c.xadd != nil {
			c.xr = pipe.XAdd(ctx, c.xadd)
			continue
		}
		if c.keys != nil {
			c.ev = pipe.EvalSha(ctx, applyScript.Hash(), c.keys, c.args...)
			continue
		}
		c.hm = pipe.HMGet(ctx, c.key, "data", "version")
		c.ex = b.expiry(ctx, pipe, c.key)
	}
	_, _ = pipe.Exec(ctx) // each command carries its own error
}

// putCall returns c to the pool once its caller has decoded the replies.
func putCall(c *call) {
	c.key, c.hm, c.ex, c.lead, c.calls = "", nil, nil, false, nil
	c.keys, c.args, c.ev = nil, nil, nil
	c.xadd, c.xr = nil, nil
	calls.Put(c)
}
