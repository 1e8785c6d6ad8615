package wal

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// ErrCorruption is wrapped by every error that reports a damaged log.
var ErrCorruption = errors.New("wal: corruption")

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("wal: closed")

// DefaultSegmentSize is the segment size used when Options.SegmentSize is 0.
const DefaultSegmentSize = 64 << 20

const (
	segmentSuffix = ".wal"
	preallocName  = "prealloc.tmp"
)

// Options configure a Log.
type Options struct {
	// FS is the filesystem; nil means vfs.Default.
	FS vfs.FS
	// Dir is the directory holding the segments; created if missing.
	Dir string
	// SegmentSize is the soft size of a segment: a new one is started once
	// the current one reaches it. 0 = DefaultSegmentSize.
	SegmentSize int64
	// SyncInterval 0 means every group is fsynced before it is acknowledged
	// (Invariant 1). A positive value acknowledges a group after write(2)
	// and fsyncs at most this often (relaxed durability).
	SyncInterval time.Duration
	// CompressThreshold: payloads of at least this many bytes are
	// s2-compressed when that saves 1/8. <= 0 disables compression.
	CompressThreshold int
	// OnAck is called by the flusher goroutine, in order, with the highest
	// sequence number that may now be acknowledged (synced, or written in
	// relaxed mode). It must not block for long and must not call Append.
	OnAck func(seq uint64)
	// OnFail is called once by the flusher goroutine when the log fails
	// (fail-stop). Records above the last OnAck are lost.
	OnFail func(err error)
	// SyncHook, if set, is called by the flusher before every fsync; a
	// non-nil error fails the sync (tests stall or fail syncs with it).
	SyncHook func() error
	// Logger receives rare events (recovery, truncation); nil = discard.
	Logger *slog.Logger
}

// Metrics are cumulative counters of a Log.
type Metrics struct {
	Fsyncs       uint64        // fsyncs of segment data
	FsyncTime    time.Duration // total time spent in those fsyncs
	FsyncMax     time.Duration // longest fsync
	Groups       uint64        // group writes
	Records      uint64        // records written
	MaxGroup     uint64        // most records in one group
	BytesWritten uint64        // encoded bytes written
	Segments     int           // live segment files
	SegmentBytes int64         // bytes in live segments (written part)
	ReplayBytes  int64         // bytes read at Open
	ReplayTime   time.Duration
}

type segment struct {
	firstSeq uint64
	name     string
	size     int64 // bytes of data (for the current one: written so far)
}

// Log is a segmented write-ahead log with group commit. Append may be
// called from any goroutine; callers serialise Append calls themselves so
// that sequence numbers arrive in order (kv does it under its commit mutex).
// One flusher goroutine owns the segment file.
type Log struct {
	opts Options
	fs   vfs.FS

	notify  chan struct{} // cap 1: wakes the flusher
	syncReq chan struct{} // cap 1: asks the flusher for an fsync (SyncNow)
	closeCh chan struct{}
	doneCh  chan struct{}

	// mu guards the queue shared by appenders and the flusher.
	mu struct {
		sync.Mutex
		pending  []byte // encoded records not yet handed to the flusher
		nPending uint64
		lastSeq  uint64 // last appended seq
		err      error  // sticky failure (fail-stop) or ErrClosed
		closing  bool
		synced   *sync.Cond // broadcast after every fsync and on failure
	}

	// segMu guards segs (flusher, Truncate and Metrics).
	segMu struct {
		sync.Mutex
		segs []segment // ordered by firstSeq; the last is current once opened
	}

	// Owned by the flusher goroutine only.
	cur       vfs.File
	curOff    int64
	spare     []byte
	unsynced  bool
	lastWrote uint64

	durable atomic.Uint64 // highest synced seq
	written atomic.Uint64 // highest seq handed to write(2)
	failed  atomic.Bool

	m struct {
		fsyncs, groups, records, maxGroup, bytes atomic.Uint64
		fsyncNanos, fsyncMax                     atomic.Int64
	}
	replayBytes int64
	replayTime  time.Duration
}

// Open recovers the log in opts.Dir and starts its flusher. For every
// record with seq >= replayFrom it calls fn, in order; payload is valid
// only during the call. A torn tail in the last segment is zeroed (made
// durable) and logged; a bad record anywhere else fails Open with an error
// wrapping ErrCorruption naming the file and offset. lastSeq is the
// sequence number of the last valid record (0 when the log is empty); the
// first Append must use a larger one.
func Open(opts Options, replayFrom uint64, fn func(seq uint64, payload []byte) error) (l *Log, lastSeq uint64, err error) {
	if opts.FS == nil {
		opts.FS = vfs.Default
	}
	if opts.SegmentSize <= 0 {
		opts.SegmentSize = DefaultSegmentSize
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	l = &Log{
		opts:    opts,
		fs:      opts.FS,
		notify:  make(chan struct{}, 1),
		syncReq: make(chan struct{}, 1),
		closeCh: make(chan struct{}),
		doneCh:  make(chan struct{}),
	}
	if err := l.fs.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, 0, fmt.Errorf("cannot create WAL dir %s: %w", opts.Dir, err)
	}
	// Make the directory itself durable (its entry in the parent).
	if err := syncDirPath(l.fs, l.fs.PathDir(opts.Dir)); err != nil {
		return nil, 0, err
	}
	start := time.Now()
	lastSeq, err = l.recover(replayFrom, fn)
	if err != nil {
		return nil, 0, err
	}
	l.replayTime = time.Since(start)
	l.mu.lastSeq = lastSeq
	l.mu.synced = sync.NewCond(&l.mu)
	l.lastWrote = lastSeq
	l.written.Store(lastSeq)
	l.durable.Store(lastSeq)
	go l.flushLoop()
	return l, lastSeq, nil
}

func (l *Log) listSegments() ([]segment, error) {
	names, err := l.fs.List(l.opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("cannot list WAL dir %s: %w", l.opts.Dir, err)
	}
	var segs []segment
	for _, n := range names {
		if n == preallocName {
			_ = l.fs.Remove(l.fs.PathJoin(l.opts.Dir, n))
			continue
		}
		if !strings.HasSuffix(n, segmentSuffix) || len(n) != 16+len(segmentSuffix) {
			continue
		}
		v, perr := strconv.ParseUint(n[:16], 16, 64)
		if perr != nil {
			continue
		}
		segs = append(segs, segment{firstSeq: v, name: n})
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i].firstSeq < segs[j].firstSeq })
	return segs, nil
}

// recover reads every segment, validating it, and replays records.
func (l *Log) recover(replayFrom uint64, fn func(uint64, []byte) error) (uint64, error) {
	segs, err := l.listSegments()
	if err != nil {
		return 0, err
	}
	var lastSeq uint64
	var buf, scratch []byte
	for i := range segs {
		s := &segs[i]
		path := l.fs.PathJoin(l.opts.Dir, s.name)
		f, err := l.fs.Open(path)
		if err != nil {
			return 0, fmt.Errorf("cannot open WAL segment %s: %w", path, err)
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return 0, fmt.Errorf("cannot stat WAL segment %s: %w", path, err)
		}
		size := st.Size()
		if int64(cap(buf)) < size {
			buf = make([]byte, size)
		}
		buf = buf[:size]
		_, err = io.ReadFull(f, buf)
		f.Close()
		if err != nil {
			return 0, fmt.Errorf("cannot read WAL segment %s: %w", path, err)
		}
		l.replayBytes += size
		last := i == len(segs)-1
		off := 0
		first := true
		for off < len(buf) {
			seq, payload, n, sc, derr := DecodeRecord(buf[off:], scratch)
			scratch = sc
			if derr == nil && first && seq != s.firstSeq {
				derr = errBadRecord
			}
			if derr == nil && lastSeq != 0 && seq != lastSeq+1 {
				return 0, fmt.Errorf("%w: segment %s offset %d: sequence %d follows %d (records missing); "+
					"restore the data directory from a backup or remove the damaged segment and everything after it, accepting data loss",
					ErrCorruption, path, off, seq, lastSeq)
			}
			if derr != nil {
				if last {
					// Torn tail of the last segment: an unsynced write cut
					// by a crash. Nothing after it was ever acknowledged.
					if !isZero(buf[off:]) {
						l.opts.Logger.Warn("wal: truncating torn tail", "segment", path, "offset", off, "bytes", len(buf)-off)
						if terr := l.zeroTail(path, int64(off), int64(len(buf)-off)); terr != nil {
							return 0, terr
						}
					}
					break
				}
				if errors.Is(derr, errZeroHeader) && !first {
					break // end of a rolled segment's data (preallocated zeros)
				}
				return 0, fmt.Errorf("%w: segment %s offset %d: bad record (checksum, length or type) before the last segment; "+
					"restore the data directory from a backup or remove the damaged segment and everything after it, accepting data loss",
					ErrCorruption, path, off)
			}
			first = false
			if seq >= replayFrom && fn != nil {
				if err := fn(seq, payload); err != nil {
					return 0, fmt.Errorf("cannot replay WAL record %d: %w", seq, err)
				}
			}
			lastSeq = seq
			off += n
		}
		s.size = int64(off)
		if int64(off) < size && !first {
			// Records then zeros (sized up front, or a torn tail just
			// zeroed): cut the zeros, best effort (setSize).
			l.shrinkFile(path, int64(off))
		}
		if first && last {
			// An empty last segment: remove it; the next write starts a new one.
			if err := l.fs.Remove(path); err != nil {
				return 0, fmt.Errorf("cannot remove empty WAL segment %s: %w", path, err)
			}
			segs = segs[:i]
			break
		}
	}
	l.segMu.segs = segs
	return lastSeq, nil
}

// shrinkFile cuts the segment at path to size (see setSize); a failure
// is logged and changes nothing else.
func (l *Log) shrinkFile(path string, size int64) {
	f, err := l.fs.OpenReadWrite(path, vfs.WriteCategoryUnspecified)
	if err == nil {
		err = setSize(f, size)
		f.Close()
	}
	if err != nil {
		l.opts.Logger.Warn("wal: cannot cut a segment to its data", "segment", path, "err", err)
	}
}

// zeroTail overwrites the torn tail with zeros and syncs it.
func (l *Log) zeroTail(path string, off, n int64) error {
	f, err := l.fs.OpenReadWrite(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return fmt.Errorf("cannot open WAL segment %s to truncate its torn tail: %w", path, err)
	}
	defer f.Close()
	z := make([]byte, min(n, 1<<20))
	for n > 0 {
		c := min(n, int64(len(z)))
		if _, err := f.WriteAt(z[:c], off); err != nil {
			return fmt.Errorf("cannot truncate torn tail of WAL segment %s: %w", path, err)
		}
		off += c
		n -= c
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("cannot sync WAL segment %s: %w", path, err)
	}
	return nil
}

// Append queues one record. The caller must pass strictly increasing seq
// values (normally last+1) and must not call Append concurrently with
// itself out of seq order. It returns at once; the record is acknowledged
// through Options.OnAck. After a failure every Append returns the failure.
func (l *Log) Append(seq uint64, payload []byte) error {
	l.mu.Lock()
	if l.mu.err != nil || l.mu.closing {
		err := l.mu.err
		l.mu.Unlock()
		if err == nil {
			err = ErrClosed
		}
		return err
	}
	if seq <= l.mu.lastSeq {
		l.mu.Unlock()
		panic(fmt.Sprintf("BUG: wal: append seq %d after %d", seq, l.mu.lastSeq))
	}
	l.mu.pending = EncodeRecord(l.mu.pending, seq, payload, l.opts.CompressThreshold)
	l.mu.nPending++
	l.mu.lastSeq = seq
	l.mu.Unlock()
	select {
	case l.notify <- struct{}{}:
	default:
	}
	return nil
}

// Err returns the sticky failure of the log, if any.
func (l *Log) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.err == ErrClosed {
		return nil
	}
	return l.mu.err
}

// DurableSeq returns the highest sequence number known to be fsynced.
func (l *Log) DurableSeq() uint64 { return l.durable.Load() }

func (l *Log) flushLoop() {
	defer close(l.doneCh)
	var tick <-chan time.Time
	if l.opts.SyncInterval > 0 {
		t := time.NewTicker(l.opts.SyncInterval)
		defer t.Stop()
		tick = t.C
	}
	closing := false
	for {
		syncNow := false
		if !closing {
			select {
			case <-l.notify:
			case <-tick:
				syncNow = true
			case <-l.syncReq:
				syncNow = true
			case <-l.closeCh:
				closing = true
			}
		}
		l.mu.Lock()
		buf := l.mu.pending
		n := l.mu.nPending
		last := l.mu.lastSeq
		l.mu.pending = l.spare[:0]
		l.mu.nPending = 0
		l.mu.Unlock()
		l.spare = buf
		if l.failed.Load() {
			if closing {
				return
			}
			continue
		}
		if len(buf) > 0 {
			if err := l.write(buf, last-n+1); err != nil {
				l.fail(err)
				continue
			}
			l.m.groups.Add(1)
			l.m.records.Add(n)
			l.m.bytes.Add(uint64(len(buf)))
			if n > l.m.maxGroup.Load() {
				l.m.maxGroup.Store(n)
			}
			l.lastWrote = last
			l.written.Store(last)
			l.unsynced = true
		}
		if l.unsynced && (l.opts.SyncInterval <= 0 || syncNow || closing) {
			if err := l.sync(); err != nil {
				l.fail(err)
				continue
			}
		}
		if len(buf) > 0 && l.opts.OnAck != nil {
			l.opts.OnAck(last) // Invariant 1: after the sync in sync mode.
		}
		if closing {
			l.mu.Lock()
			more := len(l.mu.pending) > 0
			l.mu.Unlock()
			if !more {
				if l.cur != nil {
					if !l.unsynced {
						_ = setSize(l.cur, l.curOff) // clean close: everything is synced
					}
					_ = l.cur.Close()
					l.cur = nil
				}
				return
			}
		}
	}
}

func (l *Log) fail(err error) {
	l.failed.Store(true)
	l.mu.Lock()
	if l.mu.err == nil || l.mu.err == ErrClosed {
		l.mu.err = fmt.Errorf("wal: log failed, reopen required: %w", err)
	}
	ferr := l.mu.err
	l.mu.pending = l.mu.pending[:0]
	l.mu.nPending = 0
	l.mu.synced.Broadcast()
	l.mu.Unlock()
	l.opts.Logger.Error("wal: fail-stop", "err", err)
	if l.opts.OnFail != nil {
		l.opts.OnFail(ferr)
	}
}

func (l *Log) sync() error {
	if l.opts.SyncHook != nil {
		if err := l.opts.SyncHook(); err != nil {
			return fmt.Errorf("cannot sync WAL: %w", err)
		}
	}
	// gofail: var walBeforeSync struct{}
	start := time.Now()
	if err := l.cur.SyncData(); err != nil {
		return fmt.Errorf("cannot sync WAL: %w", err)
	}
	d := int64(time.Since(start))
	l.m.fsyncNanos.Add(d)
	if d > l.m.fsyncMax.Load() {
		l.m.fsyncMax.Store(d) // only the flusher writes it
	}
	l.m.fsyncs.Add(1)
	l.unsynced = false
	l.durable.Store(l.lastWrote)
	l.mu.Lock()
	l.mu.synced.Broadcast()
	l.mu.Unlock()
	return nil
}

// SyncNow blocks until every record already handed to write(2) is fsynced
// (relaxed mode syncs only on its interval otherwise). kv calls it before
// Pebble flushes a memtable, so a shard never persists a record the WAL
// could still lose. It returns the log's failure, if any. Any goroutine
// except the flusher (OnAck/OnFail callbacks must not call it).
func (l *Log) SyncNow() error {
	target := l.written.Load()
	if l.durable.Load() >= target {
		return nil
	}
	select {
	case l.syncReq <- struct{}{}:
	default:
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.durable.Load() < target {
		if l.mu.err != nil {
			return l.mu.err
		}
		if l.mu.closing {
			// Close syncs everything before the flusher exits.
			l.mu.Unlock()
			<-l.doneCh
			l.mu.Lock()
			if l.durable.Load() >= target {
				return nil
			}
			if l.mu.err != nil {
				return l.mu.err
			}
			return ErrClosed
		}
		l.mu.synced.Wait()
	}
	return nil
}

// write writes one group; firstSeq is the seq of its first record.
func (l *Log) write(buf []byte, firstSeq uint64) error {
	if l.cur == nil || l.curOff >= l.opts.SegmentSize {
		if err := l.rollover(firstSeq); err != nil {
			return err
		}
	}
	if _, err := l.cur.Write(buf); err != nil {
		return fmt.Errorf("cannot write WAL: %w", err)
	}
	l.curOff += int64(len(buf))
	l.segMu.Lock()
	l.segMu.segs[len(l.segMu.segs)-1].size = l.curOff
	l.segMu.Unlock()
	return nil
}

// rollover syncs and closes the current segment, then creates the next:
// preallocate, size it to the whole segment (setSize), fsync,
// rename to its final name, fsync the directory.
func (l *Log) rollover(firstSeq uint64) error {
	if l.cur != nil {
		if l.unsynced {
			if err := l.sync(); err != nil {
				return err
			}
		}
		if err := setSize(l.cur, l.curOff); err != nil {
			l.opts.Logger.Warn("wal: cannot cut a rolled segment to its data", "err", err)
		}
		if err := l.cur.Close(); err != nil {
			return fmt.Errorf("cannot close WAL segment: %w", err)
		}
		l.cur = nil
	}
	tmp := l.fs.PathJoin(l.opts.Dir, preallocName)
	f, err := l.fs.Create(tmp, vfs.WriteCategoryUnspecified)
	if err != nil {
		return fmt.Errorf("cannot create WAL segment: %w", err)
	}
	if err := f.Preallocate(0, l.opts.SegmentSize); err != nil {
		f.Close()
		return fmt.Errorf("cannot preallocate WAL segment: %w", err)
	}
	if err := setSize(f, l.opts.SegmentSize); err != nil {
		f.Close()
		return fmt.Errorf("cannot size WAL segment: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("cannot sync WAL segment: %w", err)
	}
	name := fmt.Sprintf("%016x%s", firstSeq, segmentSuffix)
	if err := l.fs.Rename(tmp, l.fs.PathJoin(l.opts.Dir, name)); err != nil {
		f.Close()
		return fmt.Errorf("cannot rename WAL segment: %w", err)
	}
	if err := l.syncDir(); err != nil {
		f.Close()
		return err
	}
	l.cur = f
	l.curOff = 0
	l.segMu.Lock()
	l.segMu.segs = append(l.segMu.segs, segment{firstSeq: firstSeq, name: name})
	l.segMu.Unlock()
	return nil
}

func (l *Log) syncDir() error { return syncDirPath(l.fs, l.opts.Dir) }

func syncDirPath(fs vfs.FS, dir string) error {
	if dir == "" {
		dir = "."
	}
	d, err := fs.OpenDir(dir)
	if err != nil {
		return fmt.Errorf("cannot open WAL dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("cannot sync WAL dir: %w", err)
	}
	return nil
}

// Truncate deletes segments whose records all have seq <= upTo: the caller
// guarantees every shard has durably applied (flushed) them (Invariant 3).
// The current segment is never deleted. Safe from any goroutine.
func (l *Log) Truncate(upTo uint64) (removed int, err error) {
	for {
		l.segMu.Lock()
		segs := l.segMu.segs
		if len(segs) < 2 || segs[1].firstSeq-1 > upTo {
			l.segMu.Unlock()
			return removed, nil
		}
		s := segs[0]
		l.segMu.Unlock()
		// Oldest first, one directory sync each: a crash never leaves a gap.
		if err := l.fs.Remove(l.fs.PathJoin(l.opts.Dir, s.name)); err != nil {
			return removed, fmt.Errorf("cannot remove WAL segment %s: %w", s.name, err)
		}
		if err := l.syncDir(); err != nil {
			return removed, err
		}
		l.segMu.Lock()
		l.segMu.segs = slices.Delete(l.segMu.segs, 0, 1)
		l.segMu.Unlock()
		removed++
		l.opts.Logger.Debug("wal: removed segment", "segment", s.name)
	}
}

// Close writes and syncs every queued record, then stops the flusher. It
// returns the log's failure, if any.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.mu.closing {
		l.mu.Unlock()
		return nil
	}
	l.mu.closing = true
	l.mu.Unlock()
	close(l.closeCh)
	<-l.doneCh
	l.mu.Lock()
	err := l.mu.err
	if err == nil {
		l.mu.err = ErrClosed
	}
	l.mu.Unlock()
	if l.cur != nil {
		_ = l.cur.Close()
		l.cur = nil
	}
	return err
}

// Metrics returns the log's counters.
func (l *Log) Metrics() Metrics {
	m := Metrics{
		Fsyncs:       l.m.fsyncs.Load(),
		FsyncTime:    time.Duration(l.m.fsyncNanos.Load()),
		FsyncMax:     time.Duration(l.m.fsyncMax.Load()),
		Groups:       l.m.groups.Load(),
		Records:      l.m.records.Load(),
		MaxGroup:     l.m.maxGroup.Load(),
		BytesWritten: l.m.bytes.Load(),
		ReplayBytes:  l.replayBytes,
		ReplayTime:   l.replayTime,
	}
	l.segMu.Lock()
	m.Segments = len(l.segMu.segs)
	for _, s := range l.segMu.segs {
		m.SegmentBytes += s.size
	}
	l.segMu.Unlock()
	return m
}
