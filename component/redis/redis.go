package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/statecar/statecar/component"
)

func init() {
	component.RegisterState("state.redis", func(ctx context.Context, spec component.Spec, env component.Env) (component.Store, error) {
		return New(ctx, spec, env)
	})
}

// ErrCrossSlot is returned by Multi on a Redis Cluster when the keys of one
// transaction hash to different slots (Invariant 4). Use a hash tag
// ("{user1}a", "{user1}b") to keep keys of one transaction in one slot.
var ErrCrossSlot = errors.New("redis store: cannot execute transaction: keys span several cluster slots (use a {hash tag} to keep them in one slot)")

// features are the capabilities of state.redis as daprd reports them
// without RedisJSON (KEYS_LIKE is not offered by statecar).
var features = []component.Feature{component.FeatureETag, component.FeatureTransactional, component.FeatureTTL}

// Store is a state.redis store. See the package documentation.
type Store struct {
	name     string
	cfg      *config
	client   goredis.UniversalClient
	log      *slog.Logger
	replicas int // connected replicas seen at init (WAIT on strong consistency)
	// pexpiretime is whether the server has PEXPIRETIME (Redis >= 7);
	// otherwise reads use PTTL relative to the local clock.
	pexpiretime bool
	m           *storeMetrics
	batch       batcher // automatic pipelining of Get and script runs (batch.go)
}

// openPinged is how the configuration store, the lock store and the
// output binding start: the version check, the metadata (parse), the
// client, and a PING within one init step (dial + read timeout). A failed
// PING closes the client and is worded by pingErr (hosts is the address
// list), as each contrib component words it.
func openPinged(ctx context.Context, spec component.Spec, env component.Env, parse func(component.Spec) (*config, error),
	pingErr func(hosts string, err error) error) (*config, goredis.UniversalClient, *slog.Logger, error) {
	if err := component.CheckVersion(spec); err != nil {
		return nil, nil, nil, err
	}
	cfg, err := parse(spec)
	if err != nil {
		return nil, nil, nil, err
	}
	log := env.Logger
	if log == nil {
		log = slog.Default()
	}
	setClientLogger(log)
	c := newClient(cfg)
	pctx, cancel := context.WithTimeout(ctx, initStepTimeout(cfg))
	defer cancel()
	if err := c.Ping(pctx).Err(); err != nil {
		c.Close()
		return nil, nil, nil, pingErr(strings.Join(cfg.addrs, ","), err)
	}
	return cfg, c, log, nil
}

// New connects to Redis as the component spec says and checks the
// connection with PING.
func New(ctx context.Context, spec component.Spec, env component.Env) (*Store, error) {
	if err := component.CheckVersion(spec); err != nil {
		return nil, err
	}
	cfg, err := parseConfig(spec)
	if err != nil {
		return nil, err
	}
	log := env.Logger
	if log == nil {
		log = slog.Default()
	}
	setClientLogger(log)
	s := &Store{name: spec.Name, cfg: cfg, log: log}
	s.client = newClient(cfg)
	s.batch.client, s.batch.expiry = s.client, s.expiryCmd
	if v, ok := metaLookup(spec, "queryIndexes"); ok && v != "" {
		log.Warn("redis store: queryIndexes is ignored: statecar does not offer the query API on Redis", "component", spec.Name)
	}
	// Each init round trip may need a dial and a reply: it gets its own
	// bound of dialTimeout + readTimeout (the whole sequence under
	// dialTimeout failed on a server slower than that in total).
	step := initStepTimeout(cfg)
	run := func(f func(ctx context.Context) error) error {
		sctx, cancel := context.WithTimeout(ctx, step)
		defer cancel()
		return f(sctx)
	}
	if err := run(func(ctx context.Context) error { return s.client.Ping(ctx).Err() }); err != nil {
		s.client.Close()
		return nil, fmt.Errorf("redis store: error connecting to redis at %s: %w", strings.Join(cfg.addrs, ","), err)
	}
	for _, sc := range []*goredis.Script{applyScript, getScript} {
		if err := run(func(ctx context.Context) error { return sc.Load(ctx, s.client).Err() }); err != nil {
			s.client.Close()
			return nil, fmt.Errorf("redis store: cannot load script: %w", err)
		}
	}
	perr := run(func(ctx context.Context) error { return s.client.PExpireTime(ctx, "statecar-pexpiretime-probe").Err() })
	s.pexpiretime = perr == nil
	if !cfg.cluster {
		_ = run(func(ctx context.Context) error {
			info, err := s.client.Info(ctx, "replication").Result()
			if err == nil {
				s.replicas = connectedReplicas(info)
			}
			return err
		})
	}
	s.m = newStoreMetrics(spec.Name, s)
	return s, nil
}

// initStepTimeout bounds one round trip of New: a dial plus a reply, with
// the default timeouts (5 s, 3 s) where the metadata disables them.
func initStepTimeout(c *config) time.Duration {
	d, r := c.dialTimeout, c.readTimeout
	if d <= 0 {
		d = 5 * time.Second
	}
	if r <= 0 {
		r = 3 * time.Second
	}
	return d + r
}

// respVersion is the protocol the clients speak. statecar uses no RESP3
// feature (push notifications, client-side caching), and RESP2 spares
// every connection the HELLO 3 handshake and every pipeline go-redis's
// check for pending push notifications (about 4 % of the sidecar's CPU on
// a Redis GET). Replies are read the same way either way.
const respVersion = 2

func newClient(c *config) goredis.UniversalClient {
	// With busy-polling on, statecar dials (and does TLS) itself; otherwise
	// go-redis's own dialer is used (nil).
	var dial func(ctx context.Context, network, addr string) (net.Conn, error)
	if c.busyPoll > 0 {
		dial = pollDialer(max(c.dialTimeout, 0), c.busyPoll, c.tls) // -1: no dial timeout
	}
	if c.cluster {
		return goredis.NewClusterClient(&goredis.ClusterOptions{
			Addrs: c.addrs, Username: c.username, Password: c.password,
			MaxRetries: c.maxRetries, MinRetryBackoff: c.minRetryBackoff, MaxRetryBackoff: c.maxRetryBackoff,
			DialTimeout: c.dialTimeout, ReadTimeout: c.readTimeout, WriteTimeout: c.writeTimeout,
			PoolSize: c.poolSize, MinIdleConns: c.minIdleConns, PoolTimeout: c.poolTimeout,
			ConnMaxLifetime: c.connMaxLifetime, ConnMaxIdleTime: c.connMaxIdleTime,
			TLSConfig: c.tls, Protocol: respVersion, Dialer: dial,
		})
	}
	if c.failover {
		return goredis.NewFailoverClient(&goredis.FailoverOptions{
			MasterName: c.sentinelMaster, SentinelAddrs: c.addrs,
			SentinelUsername: c.sentinelUsername, SentinelPassword: c.sentinelPassword,
			Username: c.username, Password: c.password, DB: c.db,
			MaxRetries: c.maxRetries, MinRetryBackoff: c.minRetryBackoff, MaxRetryBackoff: c.maxRetryBackoff,
			DialTimeout: c.dialTimeout, ReadTimeout: c.readTimeout, WriteTimeout: c.writeTimeout,
			PoolSize: c.poolSize, MinIdleConns: c.minIdleConns, PoolTimeout: c.poolTimeout,
			ConnMaxLifetime: c.connMaxLifetime, ConnMaxIdleTime: c.connMaxIdleTime,
			TLSConfig: c.tls, Protocol: respVersion, Dialer: dial,
		})
	}
	return goredis.NewClient(&goredis.Options{
		Addr: c.addrs[0], Username: c.username, Password: c.password, DB: c.db,
		MaxRetries: c.maxRetries, MinRetryBackoff: c.minRetryBackoff, MaxRetryBackoff: c.maxRetryBackoff,
		DialTimeout: c.dialTimeout, ReadTimeout: c.readTimeout, WriteTimeout: c.writeTimeout,
		PoolSize: c.poolSize, MinIdleConns: c.minIdleConns, PoolTimeout: c.poolTimeout,
		ConnMaxLifetime: c.connMaxLifetime, ConnMaxIdleTime: c.connMaxIdleTime,
		TLSConfig: c.tls, Protocol: respVersion, Dialer: dial,
	})
}

// connectedReplicas reads connected_slaves from INFO replication.
func connectedReplicas(info string) int {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "connected_slaves:"); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return 0
}

// Features implements component.Store.
func (s *Store) Features() []component.Feature { return features }

// Client returns the underlying go-redis client (for tests and tools).
func (s *Store) Client() goredis.UniversalClient { return s.client }

// Close implements component.Store. Redis acknowledged every write already.
func (s *Store) Close() error {
	s.m.close()
	return s.client.Close()
}

// Get implements component.Store: HMGET data version and PEXPIRETIME in
// one pipelined round trip (no script: it is the cheapest read for the
// server). A key of another type (WRONGTYPE) is read again with getScript,
// which handles daprd's legacy string values.
func (s *Store) Get(ctx context.Context, req *component.GetRequest, resp *component.GetResponse) error {
	start := time.Now()
	defer s.m.Get.UpdateDuration(start)
	key := string(req.Key)
	c := s.batch.get(ctx, key) // one pipeline with the calls in flight beside it (batch.go)
	err := s.fillHash(ctx, key, c.hm, c.ex, start, resp)
	putCall(c)
	if err != nil {
		if errors.Is(err, errBrokenHash) {
			return err
		}
		return fmt.Errorf("cannot get key %s: %w", key, err)
	}
	return nil
}

// errBrokenHash is daprd's text for a hash without data or version.
var errBrokenHash = errors.New("required hash field 'data' or 'version' was not found")

// expiryCmd queues the expiry read of key on pipe.
func (s *Store) expiryCmd(ctx context.Context, pipe goredis.Pipeliner, key string) *goredis.DurationCmd {
	if s.pexpiretime {
		return pipe.PExpireTime(ctx, key)
	}
	return pipe.PTTL(ctx, key)
}

// fillHash decodes the replies of HMGET data version and the expiry read
// into resp, falling back to getScript for keys that are not hashes.
func (s *Store) fillHash(ctx context.Context, key string, hm *goredis.SliceCmd, ex *goredis.DurationCmd, start time.Time, resp *component.GetResponse) error {
	resp.Found = false
	resp.Data = resp.Data[:0]
	resp.ETag = resp.ETag[:0]
	resp.Expiry = time.Time{}
	if err := hm.Err(); err != nil {
		if !goredis.HasErrorPrefix(err, "WRONGTYPE") {
			return err
		}
		v, err := getScript.Run(ctx, s.client, []string{key}).Result()
		if err != nil {
			return err
		}
		return fillGet(v, resp)
	}
	vals := hm.Val()
	if len(vals) != 2 {
		return fmt.Errorf("BUG: HMGET returned %d values", len(vals))
	}
	data, hasData := vals[0].(string)
	ver, hasVer := vals[1].(string)
	switch {
	case !hasData && !hasVer:
		return nil // no such key
	case !hasData || !hasVer:
		return errBrokenHash
	}
	exp, err := ex.Result()
	if err != nil {
		return err
	}
	resp.Found = true
	resp.Data = append(resp.Data, data...)
	resp.ETag = append(resp.ETag, ver...)
	if exp > 0 {
		if s.pexpiretime {
			resp.Expiry = time.UnixMilli(exp.Milliseconds())
		} else {
			resp.Expiry = start.Add(exp)
		}
	}
	return nil
}

// fillGet decodes a getScript reply into resp.
func fillGet(v any, resp *component.GetResponse) error {
	resp.Found = false
	resp.Data = resp.Data[:0]
	resp.ETag = resp.ETag[:0]
	resp.Expiry = time.Time{}
	arr, ok := v.([]any)
	if !ok || len(arr) == 0 {
		return fmt.Errorf("BUG: unexpected get script reply %T", v)
	}
	kind, _ := arr[0].(int64)
	switch kind {
	case getMissing:
		return nil
	case getBroken:
		return errBrokenHash
	case getHash, getString:
		if len(arr) != 4 {
			return fmt.Errorf("BUG: unexpected get script reply of %d elements", len(arr))
		}
	default:
		return fmt.Errorf("BUG: unexpected get script kind %d", kind)
	}
	data, _ := arr[1].(string)
	ver, _ := arr[2].(string)
	expMs, _ := arr[3].(int64)
	resp.Found = true
	resp.Data = append(resp.Data, data...)
	resp.ETag = append(resp.ETag, ver...)
	if expMs > 0 {
		resp.Expiry = time.UnixMilli(expMs)
	}
	return nil
}

// BulkGet implements component.Store: one round trip. On a single node the
// reads run inside MULTI/EXEC, so the items are one consistent snapshot;
// on a cluster they are pipelined per node.
func (s *Store) BulkGet(ctx context.Context, keys []string, _ map[string]string, _ int) ([]component.BulkGetItem, error) {
	start := time.Now()
	defer s.m.BulkGet.UpdateDuration(start)
	out := make([]component.BulkGetItem, len(keys))
	for i, k := range keys {
		out[i].Key = k
	}
	if len(keys) == 0 {
		return out, nil
	}
	var pipe goredis.Pipeliner
	if s.cfg.cluster {
		pipe = s.client.Pipeline()
	} else {
		pipe = s.client.TxPipeline()
	}
	hms := make([]*goredis.SliceCmd, len(keys))
	exs := make([]*goredis.DurationCmd, len(keys))
	for i, k := range keys {
		hms[i] = pipe.HMGet(ctx, k, "data", "version")
		exs[i] = s.expiryCmd(ctx, pipe, k)
	}
	if _, err := pipe.Exec(ctx); err != nil && isConnError(err) {
		return nil, fmt.Errorf("cannot bulk get: %w", err)
	}
	var resp component.GetResponse
	for i, k := range keys {
		err := s.fillHash(ctx, k, hms[i], exs[i], start, &resp)
		if err != nil {
			if isConnError(err) {
				return nil, fmt.Errorf("cannot bulk get: %w", err)
			}
			out[i].Error = err.Error()
			continue
		}
		if resp.Found {
			out[i].Found = true
			out[i].Data = append([]byte(nil), resp.Data...)
			out[i].ETag = string(resp.ETag)
			out[i].Expiry = resp.Expiry
		}
	}
	return out, nil
}

// isConnError reports whether err is a transport failure rather than a
// per-key script error (which Redis returns as an error reply).
func isConnError(err error) bool {
	var re goredis.Error
	return !errors.As(err, &re)
}

// op is one write prepared for applyScript.
type op struct {
	key  string
	kind string // argSet | argDelete
	etag string // "" = none
	fw   string // fwNone | fwCheck | fwField
	ttl  int64
	data []byte
	// origETag is the ETag as the client gave it, for error texts.
	origETag string
	// strong asks for WAIT on replicas after the write.
	strong bool
}

// maxTTL bounds ttlInSeconds (about 68 years) so that EXPIRE cannot fail.
const maxTTL = 1<<31 - 1

// ttlFor returns the TTL in seconds a save applies: the request's
// ttlInSeconds, else the component default, else 0 (no expiry). An empty
// ttlInSeconds is no ttlInSeconds, as in daprd's parseTTL.
func (s *Store) ttlFor(md map[string]string) (int64, error) {
	v, ok := md["ttlInSeconds"]
	if !ok {
		for k, x := range md {
			if strings.EqualFold(k, "ttlInSeconds") {
				v, ok = x, true
				break
			}
		}
	}
	if ok && v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("failed to parse ttl from metadata: %w", err)
		}
		if n > maxTTL {
			// EXPIRE would fail inside the script after the write.
			return 0, fmt.Errorf("failed to parse ttl from metadata: ttlInSeconds %d is larger than %d", n, maxTTL)
		}
		return n, nil
	}
	if s.cfg.defaultTTL != nil {
		return *s.cfg.defaultTTL, nil
	}
	return 0, nil
}

// setOp validates a save and turns it into an op. inTx selects the
// first-write flag (transactions do not add the "first-write" field).
func (s *Store) setOp(r *component.SetRequest, inTx bool) (op, error) {
	if err := component.CheckOptions(r.Options); err != nil {
		return op{}, err
	}
	o := op{key: r.Key, kind: argSet, fw: fwNone, data: r.Value, strong: r.Options.Consistency == component.Strong}
	if r.ETag != nil {
		n, err := strconv.Atoi(*r.ETag)
		if err != nil {
			return op{}, component.NewETagError(component.ETagInvalid, err)
		}
		o.etag = strconv.Itoa(n)
		o.origETag = *r.ETag
	}
	if r.Options.Concurrency == component.FirstWrite {
		if inTx {
			o.fw = fwCheck
		} else {
			o.fw = fwField
		}
	}
	ttl, err := s.ttlFor(r.Metadata)
	if err != nil {
		return op{}, err
	}
	o.ttl = ttl
	if o.data == nil {
		o.data = []byte{}
	}
	return o, nil
}

// deleteOp validates a delete and turns it into an op. A non-integer ETag
// is compared as given and so fails with a mismatch (409), as in daprd.
func deleteOp(r *component.DeleteRequest) (op, error) {
	if err := component.CheckOptions(r.Options); err != nil {
		return op{}, err
	}
	o := op{key: r.Key, kind: argDelete, fw: fwNone, data: []byte{}, strong: r.Options.Consistency == component.Strong}
	if r.ETag != nil {
		o.origETag = *r.ETag
		if n, err := strconv.Atoi(*r.ETag); err == nil {
			o.etag = strconv.Itoa(n)
		} else {
			o.etag = *r.ETag
		}
		if o.etag == "" {
			o.etag = " " // never equal to a version
		}
	}
	if r.Options.Concurrency == component.FirstWrite {
		o.fw = fwCheck
	}
	return o, nil
}

// failure is one failed condition reported by applyScript.
type failure struct {
	idx  int // 0-based op index
	code int64
	cur  string
}

// run executes ops in one applyScript call. It returns the failed
// conditions (nothing was written then) or a transport/server error.
func (s *Store) run(ctx context.Context, ops []op) ([]failure, error) {
	keys := make([]string, len(ops))
	args := make([]any, 0, len(ops)*argsPerOp)
	strong := false
	for i := range ops {
		o := &ops[i]
		keys[i] = o.key
		args = append(args, o.kind, o.etag, o.fw, o.ttl, o.data)
		strong = strong || o.strong
	}
	if strong && s.replicas > 0 {
		return s.runStrong(ctx, keys, args)
	}
	c := s.batch.script(ctx, keys, args) // EVALSHA, pipelined with the calls beside it
	v, err := c.ev.Result()
	putCall(c)
	if err != nil && goredis.HasErrorPrefix(err, "NOSCRIPT") {
		// The server lost its scripts (restart, SCRIPT FLUSH): EVALSHA, then
		// EVAL, on its own.
		v, err = applyScript.Run(ctx, s.client, keys, args...).Result()
	}
	if err != nil {
		return nil, err
	}
	return scriptFailures(v)
}

// runStrong runs the script and WAIT in one pipeline, hence on one
// connection: WAIT covers only the writes of the connection it is sent on,
// so a WAIT on another pooled connection (as a separate call could get)
// would not wait for this write. Strong writes are not batched.
func (s *Store) runStrong(ctx context.Context, keys []string, args []any) ([]failure, error) {
	send := func(eval func(pipe goredis.Pipeliner) *goredis.Cmd) (any, error) {
		pipe := s.client.Pipeline()
		ev := eval(pipe)
		wait := pipe.Do(ctx, "WAIT", s.replicas, 1000)
		_, _ = pipe.Exec(ctx)
		v, err := ev.Result()
		if err == nil && wait.Err() != nil {
			if n, ok := v.(int64); ok && n == 0 {
				return nil, fmt.Errorf("cannot wait for replicas: %w", wait.Err())
			}
		}
		return v, err
	}
	v, err := send(func(p goredis.Pipeliner) *goredis.Cmd { return applyScript.EvalSha(ctx, p, keys, args...) })
	if err != nil && goredis.HasErrorPrefix(err, "NOSCRIPT") {
		v, err = send(func(p goredis.Pipeliner) *goredis.Cmd { return applyScript.Eval(ctx, p, keys, args...) })
	}
	if err != nil {
		return nil, err
	}
	return scriptFailures(v)
}

// scriptFailures decodes an applyScript reply: 0 when everything was
// written, else the failed conditions (nothing was written).
func scriptFailures(v any) ([]failure, error) {
	if n, ok := v.(int64); ok && n == 0 {
		return nil, nil
	}
	arr, ok := v.([]any)
	if !ok || len(arr)%3 != 0 || len(arr) == 0 {
		return nil, fmt.Errorf("BUG: unexpected apply script reply %v", v)
	}
	fails := make([]failure, 0, len(arr)/3)
	for i := 0; i < len(arr); i += 3 {
		idx, _ := arr[i].(int64)
		code, _ := arr[i+1].(int64)
		cur, _ := arr[i+2].(string)
		fails = append(fails, failure{idx: int(idx) - 1, code: code, cur: cur})
	}
	return fails, nil
}

// failErr turns a failed condition into the ETagError daprd's reference
// store gives.
func failErr(o *op, f failure) error {
	switch f.code {
	case codeNotFound:
		return component.NewETagNotFoundError(o.key)
	case codeMismatch:
		return component.NewETagMismatchError(o.key, f.cur, o.origETag)
	case codeFirstWrite:
		return component.NewFirstWriteError()
	case codeBadVersion:
		return fmt.Errorf("cannot save key %s: its version field %q is not an integer", o.key, f.cur)
	}
	return fmt.Errorf("BUG: unknown apply script code %d", f.code)
}

// apply runs ops atomically and maps failures: one op gives its own error,
// several give a *component.BulkError.
func (s *Store) apply(ctx context.Context, ops []op, what string) error {
	fails, err := s.run(ctx, ops)
	if err != nil {
		return fmt.Errorf("cannot %s: %w", what, err)
	}
	if len(fails) == 0 {
		return nil
	}
	if len(ops) == 1 {
		return failErr(&ops[0], fails[0])
	}
	errs := make([]error, len(fails))
	for i, f := range fails {
		errs[i] = failErr(&ops[f.idx], f)
	}
	return &component.BulkError{Errs: errs}
}

// applyBulk is apply, except on a cluster with keys in several slots, where
// each op runs on its own (Invariant 4).
func (s *Store) applyBulk(ctx context.Context, ops []op, what string) error {
	if len(ops) == 0 {
		return nil
	}
	if !s.cfg.cluster || len(ops) < 2 || sameSlot(ops) {
		return s.apply(ctx, ops, what)
	}
	var errs []error
	for i := range ops {
		if err := s.apply(ctx, ops[i:i+1], what); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return &component.BulkError{Errs: errs}
	}
	return nil
}

// BulkSet implements component.Store: all items in one atomic script.
func (s *Store) BulkSet(ctx context.Context, reqs []component.SetRequest) error {
	start := time.Now()
	defer s.m.Set.UpdateDuration(start)
	ops := make([]op, len(reqs))
	for i := range reqs {
		o, err := s.setOp(&reqs[i], false)
		if err != nil {
			return err
		}
		ops[i] = o
	}
	return s.applyBulk(ctx, ops, "save state")
}

// Set saves one item (a BulkSet of one).
func (s *Store) Set(ctx context.Context, req *component.SetRequest) error {
	start := time.Now()
	defer s.m.Set.UpdateDuration(start)
	o, err := s.setOp(req, false)
	if err != nil {
		return err
	}
	return s.apply(ctx, []op{o}, "save state")
}

// BulkDelete implements component.Store: all items in one atomic script.
func (s *Store) BulkDelete(ctx context.Context, reqs []component.DeleteRequest) error {
	start := time.Now()
	defer s.m.Delete.UpdateDuration(start)
	ops := make([]op, len(reqs))
	for i := range reqs {
		o, err := deleteOp(&reqs[i])
		if err != nil {
			return err
		}
		ops[i] = o
	}
	return s.applyBulk(ctx, ops, "delete state")
}

// Multi implements component.Store: the whole transaction is one script
// (Invariant 1); on a cluster its keys must share a slot (ErrCrossSlot).
// A failed condition is returned as the ETagError of the first failing
// operation.
func (s *Store) Multi(ctx context.Context, req *component.TransactionRequest) error {
	start := time.Now()
	defer s.m.Multi.UpdateDuration(start)
	if len(req.Operations) == 0 {
		return nil
	}
	ops := make([]op, len(req.Operations))
	for i := range req.Operations {
		var o op
		var err error
		switch r := &req.Operations[i]; r.Kind {
		case component.OpUpsert:
			o, err = s.setOp(&r.Set, true)
		case component.OpDelete:
			o, err = deleteOp(&r.Delete)
		default:
			err = fmt.Errorf("unsupported operation kind %d", r.Kind)
		}
		if err != nil {
			return err
		}
		ops[i] = o
	}
	if s.cfg.cluster && !sameSlot(ops) {
		return ErrCrossSlot
	}
	fails, err := s.run(ctx, ops)
	if err != nil {
		return fmt.Errorf("cannot execute state transaction: %w", err)
	}
	if len(fails) > 0 {
		return failErr(&ops[fails[0].idx], fails[0])
	}
	return nil
}
