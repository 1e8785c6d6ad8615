package kv

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/statecar/statecar/shard"
	"github.com/statecar/statecar/wal"
)

// Durability selects when Apply returns.
type Durability uint8

// Durability modes.
const (
	Sync    Durability = iota // default: Apply returns after the fsync covering the batch
	Relaxed                   // Apply returns after write(2); fsync every SyncInterval
)

// Defaults.
const (
	DefaultShards            = 4
	DefaultSyncInterval      = 10 * time.Millisecond
	DefaultSweepInterval     = time.Second
	DefaultCompressThreshold = 1024
	defaultWALCompress       = 4096
	sweepBatch               = 512
)

// Options configure Open.
type Options struct {
	FS                vfs.FS           // nil = vfs.Default; vfs.NewMem() gives an in-memory DB
	Shards            int              // fixed at creation; 0 = default (4), or "whatever exists" on reopen; a different non-zero value on reopen is an error
	Durability        Durability       // Sync (default) or Relaxed
	SyncInterval      time.Duration    // Relaxed only; default 10ms
	SweepInterval     time.Duration    // TTL sweeper period; 0 = default 1s; <0 disables the sweeper
	Now               func() time.Time // clock for TTL; nil = time.Now
	CacheSize         int64            // Pebble block cache bytes shared by shards; 0 = default (64 MiB)
	WALSegmentSize    int64            // 0 = default (64 MiB)
	CompressThreshold int              // values of at least this many bytes are compressed when it pays; 0 = default (1 KiB); <0 = never
	ReadCacheSize     int64            // bytes of recently read values kept in front of the shards (see readCache); 0 = default (32 MiB); <0 = none
	Logger            *slog.Logger     // nil = discard

	// syncHook is wal.Options.SyncHook, for tests in this package.
	syncHook func() error
	// cacheStripeBytes overrides the read cache's per-stripe budget, for
	// tests in this package that want evictions with few keys.
	cacheStripeBytes int64
}

// Item is a stored value with its metadata.
type Item struct {
	Value    []byte // appended to the caller's dst by Get; owned by the caller
	ETag     uint64 // sequence number of the write that produced the value (>= 1)
	ExpireAt int64  // unix nanoseconds; 0 = no expiry
}

// Result is one answer of GetMany.
type Result struct {
	Item
	Found bool
}

// pend is the latest sequenced-but-unapplied write of a key.
type pend struct {
	seq      uint64
	expireAt int64
	del      bool
}

// queued is a sequenced batch waiting for its WAL ack and apply.
type queued struct {
	seq uint64
	b   *Batch
}

// paddedRW is a shard's visibility lock, padded against false sharing.
type paddedRW struct {
	sync.RWMutex
	_ [64 - 24]byte
}

// DB is an open store. All methods are safe for concurrent use.
//
// Commit pipeline (see doc.go for the invariants):
//
//	Apply (caller goroutine)   under commit: check conditions against
//	                           pending + Pebble, take seq, wal.Append,
//	                           record pending writes, enqueue; then wait.
//	wal flusher goroutine      write + fsync a group, OnAck(seq)
//	applier goroutine          apply acked batches to the shards in seq
//	                           order (shard write locks held across the
//	                           group), drop their pending entries, wake
//	                           the writers.
type DB struct {
	opts   Options
	now    func() time.Time
	n      int
	shards *shard.Set
	dbs    []*pebble.DB
	log    *wal.Log
	logp   atomic.Pointer[wal.Log] // log, for Pebble's flush hook (set after replay)

	// vis[i] guards visibility of shard i: the applier holds the write
	// locks of every shard a group touches while it commits, readers hold
	// the read lock(s) while they read, so no reader sees part of a batch.
	vis []paddedRW
	// caches[i] is shard i's read cache, consistent with it under vis[i]
	// (see readCache); nil when Options.ReadCacheSize < 0.
	caches []*readCache

	// commit guards the sequencing state. Held briefly by Apply and by the
	// applier; never across I/O other than Pebble point reads.
	commit struct {
		sync.Mutex
		nextSeq uint64
		pending map[string]pend
		queue   []queued // in seq order
		keyBuf  []byte
		fatal   error // sticky: the WAL failed
		closed  bool
	}

	ackSeq  atomic.Uint64 // highest seq the WAL let us acknowledge
	applied atomic.Uint64 // highest seq applied to the shards
	fatal   atomic.Pointer[error]
	// shardErr is set when a shard cannot flush: from then on the applier
	// touches no shard (Pebble would stall it) and fails every batch.
	shardErr atomic.Pointer[error]
	closed   atomic.Bool // set first thing in Close; readers check it under vis

	ackCh       chan struct{} // cap 1: wakes the applier
	stopCh      chan struct{}
	applierDone chan struct{}

	ckptCh   chan struct{} // cap 1: wakes the checkpointer
	ckptWant atomic.Uint64 // newest seq marked in every shard, to checkpoint
	ckptDone chan struct{}

	sweepStop chan struct{}
	sweepDone chan struct{}
	sweepMu   sync.Mutex // serialises Sweep; Close takes it to wait out a running one

	keyPool sync.Pool // *[]byte scratch for data keys

	// applier-owned
	group     []queued
	pbs       []*pebble.Batch
	sinceCkpt int64

	m struct {
		applies, batchOps, swept, sweeps, ckpts, condFails atomic.Uint64
	}
}

// Open opens or creates the store in dir.
func Open(dir string, opts Options) (*DB, error) {
	if opts.FS == nil {
		opts.FS = vfs.Default
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.SyncInterval <= 0 {
		opts.SyncInterval = DefaultSyncInterval
	}
	if opts.SweepInterval == 0 {
		opts.SweepInterval = DefaultSweepInterval
	}
	if opts.CompressThreshold == 0 {
		opts.CompressThreshold = DefaultCompressThreshold
	}
	if opts.WALSegmentSize <= 0 {
		opts.WALSegmentSize = wal.DefaultSegmentSize
	}
	db := &DB{
		opts:        opts,
		now:         opts.Now,
		ackCh:       make(chan struct{}, 1),
		stopCh:      make(chan struct{}),
		applierDone: make(chan struct{}),
		ckptCh:      make(chan struct{}, 1),
		ckptDone:    make(chan struct{}),
		sweepStop:   make(chan struct{}),
		sweepDone:   make(chan struct{}),
	}
	if db.now == nil {
		db.now = time.Now
	}
	db.keyPool.New = func() any { b := make([]byte, 0, 256); return &b }
	so := shard.Options{FS: opts.FS, CacheSize: opts.CacheSize, Logger: opts.Logger}
	if opts.Durability == Relaxed {
		// Invariant 5: a shard never persists a record the WAL may lose.
		so.BeforeFlush = func() {
			if l := db.logp.Load(); l != nil {
				if err := l.SyncNow(); err != nil {
					db.opts.Logger.Error("kv: cannot sync WAL before a shard flush", "err", err)
				}
			}
		}
	}
	so.OnFlushError = func(i int, err error) {
		db.shardFail(fmt.Errorf("cannot flush shard %d (is the disk full?): %w", i, err))
	}
	set, err := shard.Open(dir, opts.Shards, so)
	if err != nil {
		return nil, fmt.Errorf("cannot open kv store %s: %w", dir, err)
	}
	db.shards = set
	db.n = len(set.Shards)
	db.vis = make([]paddedRW, db.n)
	if opts.ReadCacheSize == 0 {
		opts.ReadCacheSize = DefaultReadCacheSize
		db.opts.ReadCacheSize = opts.ReadCacheSize
	}
	if opts.ReadCacheSize > 0 {
		for range db.n {
			c := newReadCache(opts.ReadCacheSize / int64(db.n))
			if opts.cacheStripeBytes > 0 {
				c.perLimit = opts.cacheStripeBytes
			}
			db.caches = append(db.caches, c)
		}
	}
	db.pbs = make([]*pebble.Batch, db.n)
	minApplied, maxApplied := ^uint64(0), uint64(0)
	for _, s := range set.Shards {
		db.dbs = append(db.dbs, s.DB)
		minApplied = min(minApplied, s.Applied)
		maxApplied = max(maxApplied, s.Applied)
	}

	// Replay the WAL above each shard's applied seq.
	rp := newReplayer(db)
	lg, walLast, err := wal.Open(wal.Options{
		FS:                opts.FS,
		Dir:               opts.FS.PathJoin(dir, "wal"),
		SegmentSize:       opts.WALSegmentSize,
		SyncInterval:      db.walSyncInterval(),
		CompressThreshold: defaultWALCompress,
		OnAck:             db.onAck,
		OnFail:            db.onFail,
		SyncHook:          opts.syncHook,
		Logger:            opts.Logger,
	}, minApplied+1, rp.record)
	if err == nil {
		err = rp.finish()
	}
	if err != nil {
		if lg != nil {
			_ = lg.Close()
		}
		_ = set.Close()
		if errors.Is(err, wal.ErrCorruption) && !errors.Is(err, ErrCorruption) {
			err = fmt.Errorf("%w: %w", ErrCorruption, err)
		}
		return nil, fmt.Errorf("cannot open kv store %s: %w", dir, err)
	}
	db.log = lg
	db.logp.Store(lg)
	last := max(walLast, maxApplied)
	db.commit.nextSeq = last + 1
	db.commit.pending = make(map[string]pend)
	db.ackSeq.Store(last)
	db.applied.Store(last)
	go db.applyLoop()
	go db.checkpointLoop()
	if opts.SweepInterval > 0 {
		go db.sweepLoop()
	} else {
		close(db.sweepDone)
	}
	return db, nil
}

func (db *DB) walSyncInterval() time.Duration {
	if db.opts.Durability == Relaxed {
		return db.opts.SyncInterval
	}
	return 0
}

// replayer applies WAL records at Open, batching Pebble commits.
type replayer struct {
	db      *DB
	applied []uint64
	pbs     []*pebble.Batch
	last    []uint64
}

func newReplayer(db *DB) *replayer {
	r := &replayer{db: db, pbs: make([]*pebble.Batch, db.n), last: make([]uint64, db.n)}
	for _, s := range db.shards.Shards {
		r.applied = append(r.applied, s.Applied)
	}
	return r
}

func (r *replayer) record(seq uint64, payload []byte) error {
	err := forEachOp(payload, func(o *decodedOp) error {
		i := shard.Index(o.key, r.db.n)
		if seq <= r.applied[i] {
			return nil
		}
		if r.pbs[i] == nil {
			r.pbs[i] = r.db.dbs[i].NewBatch()
		}
		addOp(r.pbs[i], seq, o)
		r.last[i] = seq
		return nil
	})
	if err != nil {
		return fmt.Errorf("%w: WAL record %d: %w", ErrCorruption, seq, err)
	}
	for i, b := range r.pbs {
		if b != nil && b.Len() > 4<<20 {
			if err := r.commit(i); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *replayer) commit(i int) error {
	b := r.pbs[i]
	shard.SetApplied(b, r.last[i])
	if err := r.db.dbs[i].Apply(b, pebble.NoSync); err != nil {
		return fmt.Errorf("cannot apply replayed batch to shard %d: %w", i, err)
	}
	_ = b.Close()
	r.pbs[i] = nil
	return nil
}

func (r *replayer) finish() error {
	for i, b := range r.pbs {
		if b != nil {
			if err := r.commit(i); err != nil {
				return err
			}
		}
	}
	return nil
}

// addOp adds one decoded op, written by batch seq, to a shard's Pebble batch.
func addOp(pb *pebble.Batch, seq uint64, o *decodedOp) {
	switch o.kind {
	case opPut:
		h := valueHeader{flags: o.vflags, seq: seq, expireAt: o.expireAt}
		hl := headerLen(h.flags)
		d := pb.SetDeferred(1+len(o.key), hl+len(o.stored))
		d.Key[0] = shard.PrefixData
		copy(d.Key[1:], o.key)
		putValueHeader(d.Value, h)
		copy(d.Value[hl:], o.stored)
		_ = d.Finish()
		if o.expireAt != 0 {
			var kb [17]byte
			ek := shard.AppendExpiryKey(kb[:0], o.expireAt, seq, nil)
			d := pb.SetDeferred(len(ek)+len(o.key), 0)
			copy(d.Key, ek)
			copy(d.Key[len(ek):], o.key)
			_ = d.Finish()
		}
	case opDelete:
		d := pb.DeleteDeferred(1 + len(o.key))
		d.Key[0] = shard.PrefixData
		copy(d.Key[1:], o.key)
		_ = d.Finish()
	}
}

func (db *DB) onAck(seq uint64) {
	db.ackSeq.Store(seq)
	select {
	case db.ackCh <- struct{}{}:
	default:
	}
}

// shardFail stops all writes when a shard cannot flush: its memtables
// would fill and Pebble would stall the applier (and, through the
// visibility locks, the readers) for good. Batches not yet applied fail;
// they are in the WAL and may reappear, whole, after a reopen. Reads of
// what is applied keep working. Called from Pebble's goroutines.
func (db *DB) shardFail(err error) {
	if db.shardErr.CompareAndSwap(nil, &err) {
		db.opts.Logger.Error("kv: shard failure; writes are refused until the store is reopened", "err", err)
		db.fatal.CompareAndSwap(nil, &err)
		select {
		case db.ackCh <- struct{}{}:
		default:
		}
	}
}

func (db *DB) onFail(err error) {
	db.fatal.Store(&err)
	db.opts.Logger.Error("kv: write-ahead log failed; writes are refused until the store is reopened", "err", err)
	select {
	case db.ackCh <- struct{}{}:
	default:
	}
}

// Err returns the failure that stopped writes (WAL write or fsync failed,
// or a shard cannot flush), or nil while the store accepts writes. Reads
// keep working either way; reopen the store to write again. Health checks
// may report it.
func (db *DB) Err() error {
	if p := db.fatal.Load(); p != nil {
		return *p
	}
	return nil
}

// Apply writes b atomically: see the package documentation. It returns the
// batch's sequence number, the ETag of every value it wrote.
func (db *DB) Apply(b *Batch) (seq uint64, err error) {
	for i := range b.ops {
		if b.ops[i].cond.Kind > CondNotExists {
			return 0, fmt.Errorf("cannot apply: op %d: unknown condition kind %d", i, b.ops[i].cond.Kind)
		}
	}
	seq, _, err = db.apply(b)
	return seq, err
}

func (db *DB) apply(b *Batch) (uint64, int, error) {
	if len(b.ops) == 0 {
		if db.closed.Load() {
			return 0, 0, ErrClosed
		}
		return 0, 0, nil
	}
	if b.done == nil {
		b.done = make(chan error, 1)
	}
	soft := false
	for i := range b.ops {
		if b.ops[i].cond.Kind == condSeq {
			soft = true
		}
	}
	if !soft {
		b.skip = nil
		b.encodePayload(db.opts.CompressThreshold)
		if len(b.rec) > wal.MaxPayload {
			return 0, 0, fmt.Errorf("cannot apply: batch of %d bytes exceeds the %d-byte WAL record limit", len(b.rec), wal.MaxPayload)
		}
	}
	now := db.now().UnixNano()

	c := &db.commit
	c.Lock()
	if c.closed {
		c.Unlock()
		return 0, 0, ErrClosed
	}
	if c.fatal != nil {
		err := c.fatal
		c.Unlock()
		return 0, 0, err
	}
	if p := db.fatal.Load(); p != nil {
		c.fatal = *p
		c.Unlock()
		return 0, 0, *p
	}
	fails, nskip, err := db.checkLocked(b, now, soft)
	if err != nil {
		c.Unlock()
		return 0, 0, err
	}
	if len(fails) > 0 {
		c.Unlock()
		db.m.condFails.Add(1)
		out := make([]Failure, len(fails))
		for i, f := range fails {
			f.Key = append([]byte(nil), f.Key...)
			out[i] = f
		}
		return 0, 0, &ConditionError{Failures: out}
	}
	if soft {
		if nskip == len(b.ops) {
			c.Unlock()
			return 0, 0, nil
		}
		b.encodePayload(db.opts.CompressThreshold)
	}
	seq := c.nextSeq
	if err := db.log.Append(seq, b.rec); err != nil {
		c.fatal = err
		c.Unlock()
		return 0, 0, err
	}
	c.nextSeq++
	for i := range b.ops {
		if b.skip != nil && b.skip[i] {
			continue
		}
		o := &b.ops[i]
		c.pending[string(b.key(i))] = pend{seq: seq, expireAt: o.expireAt, del: o.kind == opDelete}
	}
	c.queue = append(c.queue, queued{seq: seq, b: b})
	c.Unlock()

	err = <-b.done
	if err != nil {
		return 0, 0, err
	}
	db.m.applies.Add(1)
	db.m.batchOps.Add(uint64(len(b.ops) - nskip))
	return seq, len(b.ops) - nskip, nil
}

// checkLocked checks every condition of b against the latest state.
// REQUIRES: db.commit held.
func (db *DB) checkLocked(b *Batch, now int64, soft bool) ([]Failure, int, error) {
	fails := b.fails[:0]
	nskip := 0
	if soft {
		b.skip = b.skip[:0]
		for range b.ops {
			b.skip = append(b.skip, false)
		}
	}
	for i := range b.ops {
		o := &b.ops[i]
		if o.cond.Kind == CondNone {
			continue
		}
		seq, exp, exists, err := db.stateLocked(b.key(i))
		if err != nil {
			return nil, 0, err
		}
		live := exists && (exp == 0 || exp > now)
		switch o.cond.Kind {
		case CondETag:
			if !live {
				fails = append(fails, Failure{Index: i, Key: b.key(i), Reason: NotFound})
			} else if seq != o.cond.ETag {
				fails = append(fails, Failure{Index: i, Key: b.key(i), Reason: Mismatch, Current: seq})
			}
		case CondNotExists:
			if live {
				fails = append(fails, Failure{Index: i, Key: b.key(i), Reason: Exists, Current: seq})
			}
		case condSeq:
			// Only a value that is still the one indexed (same seq) and
			// expired now: one batch may put a key twice with different
			// expiries, and both index entries carry the batch's seq.
			if !exists || live || seq != o.cond.ETag {
				b.skip[i] = true
				nskip++
			}
		default:
			return nil, 0, fmt.Errorf("kv: unknown condition kind %d", o.cond.Kind)
		}
	}
	b.fails = fails
	return fails, nskip, nil
}

// stateLocked returns the latest state of key: pending writes first, then
// the shard. REQUIRES: db.commit held.
func (db *DB) stateLocked(key []byte) (seq uint64, expireAt int64, exists bool, err error) {
	if p, ok := db.commit.pending[string(key)]; ok {
		return p.seq, p.expireAt, !p.del, nil
	}
	i := shard.Index(key, db.n)
	db.commit.keyBuf = shard.AppendDataKey(db.commit.keyBuf[:0], key)
	raw, closer, err := db.dbs[i].Get(db.commit.keyBuf)
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, 0, false, nil
	}
	if err != nil {
		return 0, 0, false, fmt.Errorf("cannot read shard %d: %w", i, err)
	}
	defer closer.Close()
	h, _, err := decodeValueHeader(raw)
	if err != nil {
		return 0, 0, false, fmt.Errorf("%w: shard %d key %q: %w", ErrCorruption, i, key, err)
	}
	return h.seq, h.expireAt, true, nil
}

// applyLoop is the applier goroutine.
func (db *DB) applyLoop() {
	defer close(db.applierDone)
	for {
		stopping := false
		select {
		case <-db.ackCh:
		case <-db.stopCh:
			stopping = true
		}
		fatal := db.fatal.Load()
		ack := db.ackSeq.Load()
		if db.shardErr.Load() != nil {
			ack = 0 // apply nothing more; fail everything queued
		}
		db.commit.Lock()
		q := db.commit.queue
		n := 0
		for n < len(q) && q[n].seq <= ack {
			n++
		}
		db.group = append(db.group[:0], q[:n]...)
		var rest []queued
		if fatal != nil || stopping {
			rest = append(rest, q[n:]...)
			q = q[:0]
		} else {
			q = q[:copy(q, q[n:])]
		}
		db.commit.queue = q
		db.commit.Unlock()

		if len(db.group) > 0 {
			err := db.applyGroup(db.group)
			if err != nil {
				// The batches are durable in the WAL but not applied: the
				// store must be reopened (replay applies them).
				db.onFail(fmt.Errorf("cannot apply to shards: %w", err))
			}
			for _, g := range db.group {
				g.b.done <- err
			}
			clear(db.group)
		}
		for _, g := range rest {
			var err error = ErrClosed
			if fatal != nil {
				err = *fatal
			}
			g.b.done <- err
		}
		if stopping {
			return
		}
	}
}

// applyGroup applies acked batches, in seq order, to the shards.
// Invariant 2: records reach the shards in seq order.
func (db *DB) applyGroup(group []queued) error {
	last := group[len(group)-1].seq
	if invariants {
		prev := db.applied.Load()
		for _, g := range group {
			if g.seq <= prev {
				panic(fmt.Sprintf("BUG: kv: applying seq %d after %d (Invariant 2)", g.seq, prev))
			}
			prev = g.seq
		}
	}
	for _, g := range group {
		seq := g.seq
		db.sinceCkpt += int64(len(g.b.rec))
		err := forEachOp(g.b.rec, func(o *decodedOp) error {
			i := shard.Index(o.key, db.n)
			if db.pbs[i] == nil {
				db.pbs[i] = db.dbs[i].NewBatch()
			}
			addOp(db.pbs[i], seq, o)
			return nil
		})
		if err != nil {
			panic("BUG: kv: cannot decode own payload: " + err.Error())
		}
	}
	// Make the group visible atomically across the shards it touches.
	for i, pb := range db.pbs {
		if pb != nil {
			shard.SetApplied(pb, last)
			db.vis[i].Lock()
		}
	}
	var err error
	for i, pb := range db.pbs {
		if pb != nil && err == nil {
			err = db.dbs[i].Apply(pb, pebble.NoSync)
		}
	}
	db.applied.Store(last)
	db.updateCaches(group, err)
	for i, pb := range db.pbs {
		if pb != nil {
			db.vis[i].Unlock()
			_ = pb.Close()
			db.pbs[i] = nil
		}
	}
	if err != nil {
		return err
	}
	// Drop pending entries that these batches wrote last.
	db.commit.Lock()
	for _, g := range group {
		_ = forEachOp(g.b.rec, func(o *decodedOp) error {
			if p, ok := db.commit.pending[string(o.key)]; ok && p.seq == g.seq {
				delete(db.commit.pending, string(o.key))
			}
			return nil
		})
	}
	db.commit.Unlock()
	if db.sinceCkpt >= db.opts.WALSegmentSize {
		db.sinceCkpt = 0
		db.markCheckpoint(last)
	}
	return nil
}

// updateCaches brings the read caches of the shards a group touched up to
// date: applied (err == nil) writes overwrite or drop cached keys in seq
// order; after a failed apply, whose effect on the shards is unknown, those
// caches are emptied. REQUIRES: the applier, holding vis[i] for writing for
// every shard with db.pbs[i] != nil.
func (db *DB) updateCaches(group []queued, err error) {
	if db.caches == nil {
		return
	}
	if err != nil {
		for i, pb := range db.pbs {
			if pb != nil {
				db.caches[i].reset()
			}
		}
		return
	}
	for _, g := range group {
		seq := g.seq
		_ = forEachOp(g.b.rec, func(o *decodedOp) error {
			h := xxhash.Sum64(o.key)
			c := db.caches[shard.IndexOfHash(h, db.n)]
			if o.kind == opPut {
				c.put(o.key, h, o.vflags, seq, o.expireAt, o.stored)
			} else {
				c.remove(o.key, h)
			}
			return nil
		})
	}
}

// markCheckpoint records seq as applied in every shard (the applier is the
// only writer of AppliedKey) and asks the checkpointer to flush and
// truncate the WAL.
func (db *DB) markCheckpoint(seq uint64) {
	for i := range db.dbs {
		pb := db.dbs[i].NewBatch()
		shard.SetApplied(pb, seq)
		if err := db.dbs[i].Apply(pb, pebble.NoSync); err != nil {
			db.opts.Logger.Error("kv: cannot mark checkpoint", "shard", i, "err", err)
			_ = pb.Close()
			return
		}
		_ = pb.Close()
	}
	db.ckptWant.Store(seq)
	select {
	case db.ckptCh <- struct{}{}:
	default: // a checkpoint is pending; it will read the newest ckptWant
	}
}

// finalCheckpoint marks and flushes every shard and truncates the WAL.
// Called by Close after the applier stopped. Failures are logged: the WAL
// still holds everything.
func (db *DB) finalCheckpoint() {
	seq := db.applied.Load()
	for i, d := range db.dbs {
		pb := d.NewBatch()
		shard.SetApplied(pb, seq)
		err := d.Apply(pb, pebble.NoSync)
		_ = pb.Close()
		if err == nil {
			err = d.Flush()
		}
		if err != nil {
			db.opts.Logger.Error("kv: cannot checkpoint shard at close", "shard", i, "err", err)
			return
		}
	}
	if _, err := db.log.Truncate(seq); err != nil {
		db.opts.Logger.Error("kv: cannot truncate WAL at close", "err", err)
	}
}

// checkpointLoop flushes the shards and truncates the WAL (Invariant 3).
func (db *DB) checkpointLoop() {
	defer close(db.ckptDone)
	for range db.ckptCh {
		seq := db.ckptWant.Load()
		ok := true
		for i, d := range db.dbs {
			if err := d.Flush(); err != nil {
				db.opts.Logger.Error("kv: cannot flush shard", "shard", i, "err", err)
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		if _, err := db.log.Truncate(seq); err != nil {
			db.opts.Logger.Error("kv: cannot truncate WAL", "err", err)
			continue
		}
		db.m.ckpts.Add(1)
	}
}

func (db *DB) getKeyBuf() *[]byte { return db.keyPool.Get().(*[]byte) }

// Get appends the value to dst[:0] and returns it in it.Value. found is false
// when the key is absent or expired (per Options.Now). 0 allocs when dst has room.
func (db *DB) Get(key, dst []byte) (it Item, found bool, err error) {
	h := xxhash.Sum64(key) // once: the shard and the read cache stripe
	i := shard.IndexOfHash(h, db.n)
	now := db.now().UnixNano()
	db.vis[i].RLock()
	if db.closed.Load() {
		db.vis[i].RUnlock()
		return Item{}, false, ErrClosed
	}
	if e := db.cacheLookup(i, key, h); e != nil {
		it, found, err = db.fromEntry(i, key, e, dst[:0], now)
		db.vis[i].RUnlock()
		return it, found, err
	}
	kb := db.getKeyBuf()
	*kb = shard.AppendDataKey((*kb)[:0], key)
	it, found, err = db.getLocked(i, *kb, h, dst[:0], now)
	db.vis[i].RUnlock()
	db.keyPool.Put(kb)
	return it, found, err
}

// fromEntry returns the value of a cache entry. REQUIRES: db.vis[i]
// read-locked (the entry cannot change meanwhile).
func (db *DB) fromEntry(i int, key []byte, e *cacheEntry, dst []byte, now int64) (Item, bool, error) {
	if e.expireAt != 0 && e.expireAt <= now {
		return Item{Value: dst}, false, nil
	}
	v, err := appendStoredValue(dst, e.flags, e.stored)
	if err != nil {
		return Item{Value: dst}, false, fmt.Errorf("%w: shard %d key %q: %w", ErrCorruption, i, key, err)
	}
	return Item{Value: v, ETag: e.seq, ExpireAt: e.expireAt}, true, nil
}

// getLocked reads dkey from shard i, and caches what it found (kh is the
// xxhash64 of the user key). REQUIRES: db.vis[i] read-locked.
func (db *DB) getLocked(i int, dkey []byte, kh uint64, dst []byte, now int64) (Item, bool, error) {
	raw, closer, err := db.dbs[i].Get(dkey)
	if err != nil {
		if errors.Is(err, pebble.ErrNotFound) {
			return Item{Value: dst}, false, nil
		}
		return Item{Value: dst}, false, fmt.Errorf("cannot read shard %d: %w", i, err)
	}
	h, stored, err := decodeValueHeader(raw)
	if err != nil {
		closer.Close()
		return Item{Value: dst}, false, fmt.Errorf("%w: shard %d key %q: %w", ErrCorruption, i, dkey[1:], err)
	}
	if db.caches != nil {
		db.caches[i].fill(dkey[1:], kh, h, stored)
	}
	if h.expireAt != 0 && h.expireAt <= now {
		closer.Close()
		return Item{Value: dst}, false, nil
	}
	v, err := appendStoredValue(dst, h.flags, stored)
	closer.Close()
	if err != nil {
		return Item{Value: dst}, false, fmt.Errorf("%w: shard %d key %q: %w", ErrCorruption, i, dkey[1:], err)
	}
	return Item{Value: v, ETag: h.seq, ExpireAt: h.expireAt}, true, nil
}

// cacheLookup returns shard i's cache entry of key, or nil. REQUIRES:
// db.vis[i] read-locked.
func (db *DB) cacheLookup(i int, key []byte, h uint64) *cacheEntry {
	if db.caches == nil {
		return nil
	}
	return db.caches[i].lookup(key, h)
}

// GetMany reads shards in parallel and returns one Result per key, in the
// caller's order. It sees one consistent state: no batch in part.
func (db *DB) GetMany(keys [][]byte) ([]Result, error) {
	res := make([]Result, len(keys))
	if len(keys) == 0 {
		return res, nil
	}
	idx := make([]int32, len(keys))
	hs := make([]uint64, len(keys)) // key hashes: the shard, then the cache stripe
	used := make([]bool, db.n)
	nUsed := 0
	for k, key := range keys {
		hs[k] = xxhash.Sum64(key)
		i := shard.IndexOfHash(hs[k], db.n)
		idx[k] = int32(i)
		if !used[i] {
			used[i] = true
			nUsed++
		}
	}
	now := db.now().UnixNano()
	for i := range used {
		if used[i] {
			db.vis[i].RLock()
		}
	}
	defer func() {
		for i := range used {
			if used[i] {
				db.vis[i].RUnlock()
			}
		}
	}()
	if db.closed.Load() {
		return nil, ErrClosed
	}
	readShard := func(i int) error {
		// Values of one shard share one buffer: few allocations per call.
		var kb, vals []byte
		ends := make([]int, 0, len(keys))
		for k, key := range keys {
			if int(idx[k]) != i {
				continue
			}
			start := len(vals)
			var it Item
			var found bool
			var err error
			if e := db.cacheLookup(i, key, hs[k]); e != nil {
				it, found, err = db.fromEntry(i, key, e, vals, now)
			} else {
				kb = shard.AppendDataKey(kb[:0], key)
				it, found, err = db.getLocked(i, kb, hs[k], vals, now)
			}
			if err != nil {
				return err
			}
			vals = it.Value
			it.Value = nil
			res[k] = Result{Item: it, Found: found}
			ends = append(ends, start, len(vals))
		}
		j := 0
		for k := range keys {
			if int(idx[k]) == i {
				if res[k].Found {
					res[k].Value = vals[ends[j]:ends[j+1]:ends[j+1]]
				}
				j += 2
			}
		}
		return nil
	}
	if nUsed == 1 || len(keys) < 8 {
		for i := range used {
			if used[i] {
				if err := readShard(i); err != nil {
					return nil, err
				}
			}
		}
		return res, nil
	}
	var wg sync.WaitGroup
	errs := make([]error, db.n)
	for i := range used {
		if used[i] {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = readShard(i)
			}()
		}
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return res, nil
}

// Scan calls fn for every live key with the prefix, merged across shards in key
// order; key and it.Value are valid only during fn; return false to stop.
// It reads one consistent state taken when Scan starts.
func (db *DB) Scan(prefix []byte, fn func(key []byte, it Item) bool) error {
	lower := shard.AppendDataKey(nil, prefix)
	upper := prefixEnd(lower)
	iters := make([]*pebble.Iterator, 0, db.n)
	for i := range db.vis {
		db.vis[i].RLock()
	}
	var err error
	if db.closed.Load() {
		err = ErrClosed
	} else {
		for i := range db.dbs {
			var it *pebble.Iterator
			it, err = db.dbs[i].NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
			if err != nil {
				break
			}
			iters = append(iters, it)
		}
	}
	for i := range db.vis {
		db.vis[i].RUnlock()
	}
	defer func() {
		for _, it := range iters {
			_ = it.Close()
		}
	}()
	if err != nil {
		if err == ErrClosed {
			return err
		}
		return fmt.Errorf("cannot scan: %w", err)
	}
	now := db.now().UnixNano()
	valid := make([]bool, len(iters))
	for i, it := range iters {
		valid[i] = it.First()
	}
	var vbuf []byte
	for {
		best := -1
		for i, it := range iters {
			if valid[i] && (best < 0 || bytes.Compare(it.Key(), iters[best].Key()) < 0) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		it := iters[best]
		raw, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("cannot scan: %w", err)
		}
		h, stored, err := decodeValueHeader(raw)
		if err != nil {
			return fmt.Errorf("%w: key %q: %w", ErrCorruption, it.Key()[1:], err)
		}
		if h.expireAt == 0 || h.expireAt > now {
			vbuf, err = appendStoredValue(vbuf[:0], h.flags, stored)
			if err != nil {
				return fmt.Errorf("%w: key %q: %w", ErrCorruption, it.Key()[1:], err)
			}
			if !fn(it.Key()[1:], Item{Value: vbuf, ETag: h.seq, ExpireAt: h.expireAt}) {
				return nil
			}
		}
		valid[best] = it.Next()
	}
	for _, it := range iters {
		if err := it.Error(); err != nil {
			return fmt.Errorf("cannot scan: %w", err)
		}
	}
	return nil
}

// prefixEnd returns the smallest key greater than every key with prefix p
// (p is never empty here: it starts with the data prefix byte).
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for len(end) > 0 {
		if end[len(end)-1] < 0xff {
			end[len(end)-1]++
			return end
		}
		end = end[:len(end)-1]
	}
	return nil
}

// Close makes every acknowledged write durable, stops the sweeper and
// closes the store. Calls after the first return nil.
func (db *DB) Close() error {
	if db.closed.Swap(true) {
		return nil
	}
	close(db.sweepStop)
	<-db.sweepDone
	// A barrier: a Sweep called by someone else finishes first.
	db.sweepMu.Lock()
	db.sweepMu.Unlock() //lint:ignore SA2001 the lock is the barrier
	db.commit.Lock()
	db.commit.closed = true
	db.commit.Unlock()
	// Flush and sync everything queued; OnAck releases the writers.
	walErr := db.log.Close()
	close(db.stopCh)
	<-db.applierDone
	close(db.ckptCh)
	<-db.ckptDone
	if walErr == nil && db.fatal.Load() == nil {
		// Checkpoint so the next Open replays nothing: Pebble's memtables
		// are not logged (DisableWAL) and would otherwise be rebuilt from
		// the WAL.
		db.finalCheckpoint()
	}
	for i := range db.vis {
		db.vis[i].Lock()
	}
	err := db.shards.Close()
	for i := range db.vis {
		db.vis[i].Unlock()
	}
	if walErr != nil {
		return fmt.Errorf("cannot close kv store: %w", walErr)
	}
	if err != nil {
		return fmt.Errorf("cannot close kv store: %w", err)
	}
	return nil
}
