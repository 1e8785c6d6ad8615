package embedded

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/statecar/statecar/component"
	"github.com/statecar/statecar/component/query"
	"github.com/statecar/statecar/internal/quantity"
	"github.com/statecar/statecar/kv"
)

// Store types registered by this package.
const (
	TypePebble   = "state.pebble"
	TypeInMemory = "state.in-memory"
)

func init() {
	component.RegisterState(TypePebble, func(ctx context.Context, spec component.Spec, env component.Env) (component.Store, error) {
		return openFromSpec(spec, env, false)
	})
	component.RegisterState(TypeInMemory, func(ctx context.Context, spec component.Spec, env component.Env) (component.Store, error) {
		return openFromSpec(spec, env, true)
	})
}

// Store is a component.Store on the kv engine. All methods are safe for
// concurrent use.
type Store struct {
	db  *kv.DB
	now func() time.Time // the same clock as the kv.DB's
}

var features = []component.Feature{component.FeatureETag, component.FeatureTransactional, component.FeatureTTL, component.FeatureQueryAPI}

// Open opens a store on the kv engine in dir with opts (opts.FS =
// vfs.NewMem() gives an in-memory store).
func Open(dir string, opts kv.Options) (*Store, error) {
	db, err := kv.Open(dir, opts)
	if err != nil {
		return nil, err
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Store{db: db, now: now}, nil
}

// OpenMemory opens an in-memory store (state.in-memory) with the given
// clock (nil = time.Now).
func OpenMemory(now func() time.Time) (*Store, error) {
	return Open("mem", kv.Options{FS: vfs.NewMem(), Now: now})
}

// openFromSpec builds kv.Options from component metadata (see doc.go).
func openFromSpec(spec component.Spec, env component.Env, memory bool) (*Store, error) {
	if err := component.CheckVersion(spec); err != nil {
		return nil, err
	}
	opts, dir, err := optionsFromSpec(spec, env)
	if err != nil {
		return nil, err
	}
	if memory {
		opts.FS = vfs.NewMem()
		dir = "mem"
	}
	if env.Logger != nil {
		opts.Logger = env.Logger.With("component", spec.Name)
	}
	s, err := Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("cannot open %s store %s: %w", spec.Type, spec.Name, err)
	}
	return s, nil
}

func optionsFromSpec(spec component.Spec, env component.Env) (kv.Options, string, error) {
	var opts kv.Options
	dir := filepath.Join(env.DataDir, spec.Name)
	if v, ok := spec.Meta("dataDir"); ok && v != "" {
		dir = v
	}
	if v, ok := spec.Meta("shards"); ok && v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return opts, "", fmt.Errorf("invalid metadata shards %q: must be a positive integer", v)
		}
		opts.Shards = n
	}
	if v, ok := spec.Meta("durability"); ok && v != "" {
		switch strings.ToLower(v) {
		case "sync":
			opts.Durability = kv.Sync
		case "relaxed":
			opts.Durability = kv.Relaxed
		default:
			return opts, "", fmt.Errorf("invalid metadata durability %q: must be sync or relaxed", v)
		}
	}
	for _, d := range []struct {
		name string
		dst  *time.Duration
	}{{"syncInterval", &opts.SyncInterval}, {"sweepInterval", &opts.SweepInterval}} {
		if v, ok := spec.Meta(d.name); ok && v != "" {
			dur, err := time.ParseDuration(v)
			if err != nil {
				return opts, "", fmt.Errorf("invalid metadata %s %q: %w", d.name, v, err)
			}
			*d.dst = dur
		}
	}
	if v, ok := spec.Meta("cacheSize"); ok && v != "" {
		n, err := quantity.Parse(v)
		if err != nil || n < 0 {
			return opts, "", fmt.Errorf("invalid metadata cacheSize %q: must be a byte quantity such as 64Mi", v)
		}
		opts.CacheSize = n
	}
	if v, ok := spec.Meta("readCacheSize"); ok && v != "" {
		n, err := quantity.Parse(v)
		if err != nil || n < 0 {
			return opts, "", fmt.Errorf("invalid metadata readCacheSize %q: must be a byte quantity such as 32Mi (0 turns the read cache off)", v)
		}
		opts.ReadCacheSize = n
		if n == 0 {
			opts.ReadCacheSize = -1
		}
	}
	if v, ok := spec.Meta("walSegmentSize"); ok && v != "" {
		n, err := quantity.Parse(v)
		if err != nil || n < minWALSegmentSize {
			return opts, "", fmt.Errorf("invalid metadata walSegmentSize %q: must be a byte quantity of at least 1Mi such as 64Mi", v)
		}
		opts.WALSegmentSize = n
	}
	return opts, dir, nil
}

// minWALSegmentSize is the smallest walSegmentSize accepted: the engine
// checkpoints (flushes every shard) once per segment of WAL written, so tiny
// segments would flush all the time.
const minWALSegmentSize = 1 << 20

// InlineReads implements component.InlineReader: a Get reads memory and
// local pages only (no network, no fsync), so the HTTP transport may serve
// it on its event loop.
func (s *Store) InlineReads() bool { return true }

// Features implements component.Store.
func (s *Store) Features() []component.Feature { return features }

// Close implements component.Store.
func (s *Store) Close() error { return s.db.Close() }

// DB returns the underlying engine (for metrics).
func (s *Store) DB() *kv.DB { return s.db }

// Get implements component.Store. It does not allocate when resp's buffers
// have room.
func (s *Store) Get(_ context.Context, req *component.GetRequest, resp *component.GetResponse) error {
	it, found, err := s.db.Get(req.Key, resp.Data[:0])
	resp.Data = it.Value
	if err != nil {
		return err
	}
	resp.Found = found
	resp.ETag = resp.ETag[:0]
	resp.Expiry = time.Time{}
	if found {
		resp.ETag = strconv.AppendUint(resp.ETag, it.ETag, 10)
		if it.ExpireAt != 0 {
			resp.Expiry = time.Unix(0, it.ExpireAt)
		}
	}
	return nil
}

// BulkGet implements component.Store (parallelism is the engine's: one
// reader per shard).
func (s *Store) BulkGet(_ context.Context, keys []string, _ map[string]string, _ int) ([]component.BulkGetItem, error) {
	bk := make([][]byte, len(keys))
	for i, k := range keys {
		bk[i] = keyBytes(k) // GetMany only reads keys during the call
	}
	res, err := s.db.GetMany(bk)
	if err != nil {
		return nil, err
	}
	out := make([]component.BulkGetItem, len(keys))
	for i, r := range res {
		out[i] = component.BulkGetItem{Key: keys[i], Found: r.Found}
		if r.Found {
			out[i].Data = r.Value
			out[i].ETag = strconv.FormatUint(r.ETag, 10)
			if r.ExpireAt != 0 {
				out[i].Expiry = time.Unix(0, r.ExpireAt)
			}
		}
	}
	return out, nil
}

// expireAt parses ttlInSeconds like daprd's in-memory store: strconv.Atoi,
// values <= 0 mean no expiry, and an empty value is no value.
func (s *Store) expireAt(md map[string]string) (int64, error) {
	v := md["ttlInSeconds"]
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, err
	}
	if n <= 0 {
		return 0, nil
	}
	// Expiry is kept in Unix nanoseconds, which end in April 2262: a TTL
	// past that is held at the last representable instant instead of
	// wrapping into the past (docs/compatibility.md).
	now := s.now().UnixNano()
	if int64(n) > (math.MaxInt64-now)/int64(time.Second) {
		return math.MaxInt64, nil
	}
	return now + int64(n)*int64(time.Second), nil
}

// cond builds the kv condition for an ETag / concurrency pair. A
// non-numeric or zero ETag becomes CondETag 0, which never matches.
func cond(etag *string, concurrency string) kv.Cond {
	if etag != nil && *etag != "" {
		n, err := strconv.ParseUint(*etag, 10, 64)
		if err != nil {
			n = 0
		}
		return kv.Cond{Kind: kv.CondETag, ETag: n}
	}
	if concurrency == component.FirstWrite {
		return kv.Cond{Kind: kv.CondNotExists}
	}
	return kv.Cond{}
}

// condErrors converts a kv condition failure into daprd's in-memory texts;
// etags[i] is the ETag given for op i.
func condErrors(err error, etags []*string) []error {
	var ce *kv.ConditionError
	if !errors.As(err, &ce) {
		return nil
	}
	out := make([]error, 0, len(ce.Failures))
	for _, f := range ce.Failures {
		key := string(f.Key)
		switch f.Reason {
		case kv.NotFound:
			out = append(out, component.NewETagNotFoundError(key))
		case kv.Mismatch:
			expect := ""
			if f.Index < len(etags) && etags[f.Index] != nil {
				expect = *etags[f.Index]
			}
			out = append(out, component.NewETagMismatchError(key, strconv.FormatUint(f.Current, 10), expect))
		default:
			out = append(out, component.NewFirstWriteError())
		}
	}
	return out
}

// apply runs b and maps condition failures: with single (one-item
// requests, transactions) the first failure as an *ETagError, otherwise a
// *BulkError of all failures (daprd's multi-item shape).
func (s *Store) apply(b *kv.Batch, etags []*string, single bool) error {
	_, err := s.db.Apply(b)
	if err == nil {
		return nil
	}
	errs := condErrors(err, etags)
	if errs == nil {
		return err
	}
	if single {
		return errs[0]
	}
	return &component.BulkError{Errs: errs}
}

// batchBuf is a reusable batch and its per-op ETags. Owned by one call
// between getBatch and putBatch.
type batchBuf struct {
	b     kv.Batch
	etags []*string
}

var batchPool = sync.Pool{New: func() any { return new(batchBuf) }}

// maxPooledBatch bounds the memory a pooled batch keeps.
const maxPooledBatch = 1 << 20

func getBatch(n int) *batchBuf {
	bb := batchPool.Get().(*batchBuf)
	bb.b.Reset()
	if cap(bb.etags) < n {
		bb.etags = make([]*string, n)
	} else {
		bb.etags = bb.etags[:n]
	}
	return bb
}

// putBatch returns bb to the pool; kv.Apply has returned, so the engine no
// longer uses the batch (condition errors own copies of their keys).
func putBatch(bb *batchBuf) {
	clear(bb.etags)
	if cap(bb.etags) > 1024 || bb.b.Len() > 1024 {
		return
	}
	bb.b.Reset()
	batchPool.Put(bb)
}

// keyBytes views a string's bytes without copying; kv.Batch copies them.
func keyBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// BulkSet implements component.Store: every condition is checked first and
// nothing is written if any fails.
func (s *Store) BulkSet(_ context.Context, reqs []component.SetRequest) error {
	bb := getBatch(len(reqs))
	defer putBatch(bb)
	b, etags := &bb.b, bb.etags
	size := 0
	for i := range reqs {
		size += len(reqs[i].Key) + len(reqs[i].Value)
	}
	if size > maxPooledBatch {
		b = new(kv.Batch) // do not let the pool keep a huge buffer
	}
	for i := range reqs {
		r := &reqs[i]
		if err := component.CheckOptions(r.Options); err != nil {
			return err
		}
		exp, err := s.expireAt(r.Metadata)
		if err != nil {
			return err
		}
		etags[i] = r.ETag
		b.Put(keyBytes(r.Key), r.Value, cond(r.ETag, r.Options.Concurrency), exp)
	}
	return s.apply(b, etags, len(etags) == 1)
}

// BulkDelete implements component.Store, all-or-nothing like BulkSet.
func (s *Store) BulkDelete(_ context.Context, reqs []component.DeleteRequest) error {
	bb := getBatch(len(reqs))
	defer putBatch(bb)
	b, etags := &bb.b, bb.etags
	for i := range reqs {
		r := &reqs[i]
		if err := component.CheckOptions(r.Options); err != nil {
			return err
		}
		etags[i] = r.ETag
		b.Delete(keyBytes(r.Key), cond(r.ETag, r.Options.Concurrency))
	}
	return s.apply(b, etags, len(etags) == 1)
}

// Multi implements component.Store: one atomic batch; the first failed
// condition is reported (daprd's in-memory store stops at the first).
func (s *Store) Multi(_ context.Context, req *component.TransactionRequest) error {
	bb := getBatch(len(req.Operations))
	defer putBatch(bb)
	b, etags := &bb.b, bb.etags
	for i := range req.Operations {
		op := &req.Operations[i]
		switch op.Kind {
		case component.OpUpsert:
			r := &op.Set
			if err := component.CheckOptions(r.Options); err != nil {
				return err
			}
			exp, err := s.expireAt(r.Metadata)
			if err != nil {
				return err
			}
			etags[i] = r.ETag
			b.Put(keyBytes(r.Key), r.Value, cond(r.ETag, r.Options.Concurrency), exp)
		case component.OpDelete:
			r := &op.Delete
			if err := component.CheckOptions(r.Options); err != nil {
				return err
			}
			etags[i] = r.ETag
			b.Delete(keyBytes(r.Key), cond(r.ETag, r.Options.Concurrency))
		default:
			return fmt.Errorf("cannot execute operation %d: unknown kind %d", i, op.Kind)
		}
	}
	if b.Len() == 0 {
		return nil
	}
	return s.apply(b, etags, true)
}

// Query implements component.Querier: a scan of every live key evaluated
// with query.Execute (no prefix filtering, like daprd's stores).
func (s *Store) Query(_ context.Context, req *component.QueryRequest) (*component.QueryResponse, error) {
	q, ok := req.Query.(*query.Query)
	if !ok {
		return nil, fmt.Errorf("cannot query: unexpected query type %T", req.Query)
	}
	var items []query.Item
	err := s.db.Scan(nil, func(key []byte, it kv.Item) bool {
		items = append(items, query.Item{Key: string(key), Data: append([]byte(nil), it.Value...), ETag: strconv.FormatUint(it.ETag, 10)})
		return true
	})
	if err != nil {
		return nil, err
	}
	page, token, err := query.Execute(q, items)
	if err != nil {
		return nil, err
	}
	resp := &component.QueryResponse{Token: token, Results: make([]component.QueryItem, len(page))}
	for i, it := range page {
		resp.Results[i] = component.QueryItem{Key: it.Key, Data: it.Data, ETag: it.ETag}
	}
	return resp, nil
}
