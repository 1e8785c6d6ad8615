package shard

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Index returns the shard of key among n shards: xxhash64(key) mod n.
// FROZEN: changing it moves keys between shards of existing stores; the
// golden file testdata/routing.golden guards it. Allocation-free.
func Index(key []byte, n int) int {
	return IndexOfHash(xxhash.Sum64(key), n)
}

// IndexOfHash is Index for a key whose xxhash64 h the caller already has
// (kv's read cache reuses the hash). FROZEN with Index.
func IndexOfHash(h uint64, n int) int { return int(h % uint64(n)) }

// Key spaces inside every shard's Pebble. FROZEN (on disk).
const (
	// PrefixData prefixes user keys: 'd' + key -> encoded value (kv owns the
	// value format).
	PrefixData byte = 'd'
	// PrefixExpiry prefixes the expiry index: 'x' + expireAt (8 bytes BE,
	// unix nanos) + seq (8 bytes BE) + key -> empty.
	PrefixExpiry byte = 'x'
	// PrefixMeta prefixes engine metadata.
	PrefixMeta byte = 'm'
)

// AppliedKey holds the last applied WAL sequence number (8 bytes LE). It
// is written in the same Pebble batch as the data it covers (Invariant 2).
var AppliedKey = []byte("mapplied")

// manifest file name and format (one line, FROZEN):
//
//	statecar-kv v1 shards=<n>
const manifestName = "SHARDS"

// ErrShardCount is wrapped when the requested shard count differs from
// the one the store was created with.
var ErrShardCount = errors.New("shard: shard count mismatch")

// Options configure Open.
type Options struct {
	FS        vfs.FS // nil = vfs.Default
	CacheSize int64  // shared block cache bytes; 0 = 64 MiB
	Logger    *slog.Logger
	// BeforeFlush, if set, is called by Pebble (with its mutex held) before
	// it flushes memtables to disk. kv uses it in relaxed mode to fsync the
	// WAL first, so no shard persists a write the WAL could still lose.
	BeforeFlush func()
	// OnFlushError, if set, is called (from a Pebble goroutine) when a
	// memtable flush of shard i fails. Writes to that shard will stall
	// once its memtables fill; kv stops writing when it hears of it.
	OnFlushError func(i int, err error)
}

// memTableStopWrites is Pebble's MemTableStopWritesThreshold for shards:
// room for a few memtables so that a failing flush is reported (and kv
// stops applying) well before Pebble stalls writes.
const memTableStopWrites = 4

// Shard is one Pebble instance.
type Shard struct {
	// DB is the shard's Pebble, opened with DisableWAL. Safe for
	// concurrent use; the caller serialises applies that must be ordered.
	DB *pebble.DB
	// Applied is the last applied sequence number read at Open.
	Applied uint64
}

// Set is the fixed set of shards of one store.
type Set struct {
	Shards []*Shard
	cache  interface{ Unref() }
}

// Open opens (creating when absent) n shards under dir. n == 0 means the
// existing count, or 4 for a new store. A different non-zero n than the
// store was created with is an error wrapping ErrShardCount.
func Open(dir string, n int, o Options) (*Set, error) {
	fs := o.FS
	if fs == nil {
		fs = vfs.Default
	}
	if n < 0 || n > 4096 {
		return nil, fmt.Errorf("cannot open shards: invalid shard count %d", n)
	}
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create %s: %w", dir, err)
	}
	have, err := readManifest(fs, dir)
	if err != nil {
		return nil, err
	}
	switch {
	case have == 0:
		if n == 0 {
			n = 4
		}
		if err := writeManifest(fs, dir, n); err != nil {
			return nil, err
		}
	case n == 0:
		n = have
	case n != have:
		return nil, fmt.Errorf("%w: store %s was created with %d shards, %d requested; open it with Shards: 0 or %d",
			ErrShardCount, dir, have, n, have)
	}
	cs := o.CacheSize
	if cs <= 0 {
		cs = 64 << 20
	}
	cache := pebble.NewCache(cs)
	s := &Set{cache: cache}
	lg := o.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	for i := 0; i < n; i++ {
		po := &pebble.Options{
			FS:         fs,
			DisableWAL: true,
			Cache:      cache,
			Logger:     pebbleLogger{l: lg, last: new(atomic.Int64), drop: new(atomic.Int64)},
		}
		po.MemTableStopWritesThreshold = memTableStopWrites
		el := &pebble.EventListener{}
		if o.BeforeFlush != nil {
			f := o.BeforeFlush
			el.FlushBegin = func(pebble.FlushInfo) { f() }
		}
		if o.OnFlushError != nil {
			f, idx := o.OnFlushError, i
			el.FlushEnd = func(fi pebble.FlushInfo) {
				// "empty table" (unexported in Pebble) is a flush with
				// nothing to write, not a failure.
				if fi.Err != nil && fi.Err.Error() != "pebble: empty table" {
					f(idx, fi.Err)
				}
			}
		}
		po.EventListener = el
		db, err := pebble.Open(fs.PathJoin(dir, fmt.Sprintf("shard-%03d", i)), po)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("cannot open shard %d: %w", i, err)
		}
		sh := &Shard{DB: db}
		sh.Applied, err = ReadApplied(db)
		if err != nil {
			db.Close()
			s.Close()
			return nil, fmt.Errorf("cannot read shard %d: %w", i, err)
		}
		s.Shards = append(s.Shards, sh)
	}
	// Make the shard directories' entries and dir itself durable.
	for _, d := range []string{dir, fs.PathDir(dir)} {
		if err := syncDir(fs, d); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// ReadApplied reads the applied sequence number of db (0 if unset).
func ReadApplied(db *pebble.DB) (uint64, error) {
	v, c, err := db.Get(AppliedKey)
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer c.Close()
	if len(v) != 8 {
		return 0, fmt.Errorf("bad applied seq of %d bytes", len(v))
	}
	return binary.LittleEndian.Uint64(v), nil
}

// SetApplied records seq as applied in b (same batch as the data).
func SetApplied(b *pebble.Batch, seq uint64) {
	var v [8]byte
	binary.LittleEndian.PutUint64(v[:], seq)
	_ = b.Set(AppliedKey, v[:], nil)
}

// Close closes every shard and releases the cache.
func (s *Set) Close() error {
	var first error
	for _, sh := range s.Shards {
		if err := sh.DB.Close(); err != nil && first == nil {
			first = fmt.Errorf("cannot close shard: %w", err)
		}
	}
	s.Shards = nil
	if s.cache != nil {
		s.cache.Unref()
		s.cache = nil
	}
	return first
}

// AppendDataKey appends 'd'+key to dst.
func AppendDataKey(dst, key []byte) []byte {
	dst = append(dst, PrefixData)
	return append(dst, key...)
}

// AppendExpiryKey appends the expiry index key for (expireAt, seq, key).
func AppendExpiryKey(dst []byte, expireAt int64, seq uint64, key []byte) []byte {
	dst = append(dst, PrefixExpiry)
	dst = binary.BigEndian.AppendUint64(dst, uint64(expireAt))
	dst = binary.BigEndian.AppendUint64(dst, seq)
	return append(dst, key...)
}

// ParseExpiryKey splits an expiry index key; ok is false if malformed.
func ParseExpiryKey(k []byte) (expireAt int64, seq uint64, key []byte, ok bool) {
	if len(k) < 17 || k[0] != PrefixExpiry {
		return 0, 0, nil, false
	}
	return int64(binary.BigEndian.Uint64(k[1:9])), binary.BigEndian.Uint64(k[9:17]), k[17:], true
}

func readManifest(fs vfs.FS, dir string) (int, error) {
	f, err := fs.Open(fs.PathJoin(dir, manifestName))
	if err != nil {
		if _, serr := fs.Stat(fs.PathJoin(dir, manifestName)); serr != nil {
			return 0, nil // absent: a new store
		}
		return 0, fmt.Errorf("cannot open shard manifest: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return 0, fmt.Errorf("cannot read shard manifest: %w", err)
	}
	line := strings.TrimSpace(string(b))
	rest, ok := strings.CutPrefix(line, "statecar-kv v1 shards=")
	if !ok {
		return 0, fmt.Errorf("cannot parse shard manifest %s: %q", fs.PathJoin(dir, manifestName), line)
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("cannot parse shard manifest %s: %q", fs.PathJoin(dir, manifestName), line)
	}
	return n, nil
}

// writeManifest writes the manifest atomically: tmp, fsync, rename, fsync dir.
func writeManifest(fs vfs.FS, dir string, n int) error {
	tmp := fs.PathJoin(dir, manifestName+".tmp")
	f, err := fs.Create(tmp, vfs.WriteCategoryUnspecified)
	if err != nil {
		return fmt.Errorf("cannot create shard manifest: %w", err)
	}
	if _, err := fmt.Fprintf(f, "statecar-kv v1 shards=%d\n", n); err != nil {
		f.Close()
		return fmt.Errorf("cannot write shard manifest: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("cannot sync shard manifest: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("cannot close shard manifest: %w", err)
	}
	if err := fs.Rename(tmp, fs.PathJoin(dir, manifestName)); err != nil {
		return fmt.Errorf("cannot rename shard manifest: %w", err)
	}
	return syncDir(fs, dir)
}

func syncDir(fs vfs.FS, dir string) error {
	if dir == "" {
		dir = "."
	}
	d, err := fs.OpenDir(dir)
	if err != nil {
		return fmt.Errorf("cannot open %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("cannot sync %s: %w", dir, err)
	}
	return nil
}

// pebbleLogger routes Pebble's logs to slog (info at debug level). Error
// lines are throttled: a failing disk makes Pebble retry (and log) a flush
// many times a second.
type pebbleLogger struct {
	l    *slog.Logger
	last *atomic.Int64 // unix nanos of the last error line logged
	drop *atomic.Int64 // error lines suppressed since
}

const pebbleErrorEvery = int64(time.Second)

// Infof logs at debug level.
func (p pebbleLogger) Infof(format string, args ...interface{}) {
	if p.l.Enabled(context.Background(), slog.LevelDebug) {
		p.l.Debug("pebble: " + fmt.Sprintf(format, args...))
	}
}

// Errorf logs at error level.
func (p pebbleLogger) Errorf(format string, args ...interface{}) {
	now := time.Now().UnixNano()
	last := p.last.Load()
	if now-last < pebbleErrorEvery || !p.last.CompareAndSwap(last, now) {
		p.drop.Add(1)
		return
	}
	if n := p.drop.Swap(0); n > 0 {
		p.l.Error("pebble: "+fmt.Sprintf(format, args...), "suppressed", n)
		return
	}
	p.l.Error("pebble: " + fmt.Sprintf(format, args...))
}

// Fatalf logs and panics, as Pebble expects.
func (p pebbleLogger) Fatalf(format string, args ...interface{}) {
	p.l.Error("pebble: fatal: " + fmt.Sprintf(format, args...))
	panic(fmt.Sprintf(format, args...))
}
