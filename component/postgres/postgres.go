package postgres

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/statecar/statecar/component"
)

func init() {
	f := func(ctx context.Context, spec component.Spec, env component.Env) (component.Store, error) {
		s, err := Open(ctx, spec, env)
		if err != nil {
			return nil, err
		}
		if s.cfg.v2 {
			return s, nil
		}
		return &QueryStore{s}, nil
	}
	component.RegisterState("state.postgresql", f)
	component.RegisterState("state.postgres", f)
}

var (
	featuresV1 = []component.Feature{component.FeatureETag, component.FeatureTransactional, component.FeatureTTL, component.FeatureQueryAPI}
	featuresV2 = []component.Feature{component.FeatureETag, component.FeatureTransactional, component.FeatureTTL}
)

// errNoItemUpdated is daprd's text for a write that changed no row without
// an ETag involved.
var errNoItemUpdated = errors.New("no item was updated")

// Store is a state.postgresql store (v1 or v2). It does not offer the query
// API itself; QueryStore (v1) does. See the package documentation.
type Store struct {
	name string
	cfg  *config
	db   *pgxpool.Pool
	log  *slog.Logger
	q    queries
	m    *storeMetrics

	closeOnce sync.Once
	gcStop    chan struct{} // closed by Close; nil when cleanup is disabled
	gcDone    chan struct{} // closed when the cleanup goroutine returns
}

// QueryStore is a v1 store with the query API (component.Querier).
type QueryStore struct{ *Store }

// Query implements component.Querier.
func (s *QueryStore) Query(ctx context.Context, req *component.QueryRequest) (*component.QueryResponse, error) {
	return s.Store.RunQuery(ctx, req)
}

// queries are the SQL texts of one store, built once from its table names.
// Parameters: v1 ($1 key, $2 value, $3 isbinary, $4 ttl, $5 etag);
// v2 ($1 key, $2 value, $3 ttl, $4 etag).
type queries struct {
	get, bulkGet         string // $1 key | $1 keys
	upsert, upsertFirst  string
	update               string
	current              string // $1 key -> etag text of the live row
	live                 string // $1 key -> whether a live row exists
	del, delETag         string // $1 key [, $2 etag]
	lastCleanup, cleanup string
}

func buildQueries(c *config) queries {
	t, m := c.table, c.metaTable
	if c.v2 {
		live := `(expires_at IS NULL OR expires_at >= now())`
		exp := `now() + $3::bigint * interval '1 second'`
		return queries{
			get:     `SELECT value, false, etag::text, expires_at FROM ` + t + ` WHERE key = $1 AND ` + live,
			bulkGet: `SELECT key, value, false, etag::text, expires_at FROM ` + t + ` WHERE key = ANY($1) AND ` + live,
			upsert: `INSERT INTO ` + t + ` AS t (key, value, etag, expires_at) VALUES ($1, $2, gen_random_uuid(), ` + exp + `)
ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = now(), etag = gen_random_uuid(), expires_at = excluded.expires_at`,
			update: `UPDATE ` + t + ` SET value = $2, updated_at = now(), etag = gen_random_uuid(), expires_at = ` + exp + `
WHERE key = $1 AND etag = $4::text::uuid AND ` + live,
			current:     `SELECT etag::text FROM ` + t + ` WHERE key = $1 AND ` + live,
			live:        `SELECT EXISTS (SELECT 1 FROM ` + t + ` WHERE key = $1 AND ` + live + `)`,
			del:         `DELETE FROM ` + t + ` WHERE key = $1`,
			delETag:     `DELETE FROM ` + t + ` WHERE key = $1 AND etag = $2::text::uuid AND ` + live,
			lastCleanup: lastCleanupSQL(m, "last-cleanup-state-v2-"+c.tablePrefix),
			cleanup:     `DELETE FROM ` + t + ` WHERE expires_at IS NOT NULL AND expires_at < now()`,
		}
	}
	live := `(expiredate IS NULL OR expiredate >= CURRENT_TIMESTAMP)`
	exp := `CURRENT_TIMESTAMP + $4::bigint * interval '1 second'`
	q := queries{
		get:     `SELECT value, isbinary, xmin::text, expiredate FROM ` + t + ` WHERE key = $1 AND ` + live,
		bulkGet: `SELECT key, value, isbinary, xmin::text, expiredate FROM ` + t + ` WHERE key = ANY($1) AND ` + live,
		upsert: `INSERT INTO ` + t + ` AS t (key, value, isbinary, expiredate) VALUES ($1, $2::text::jsonb, $3, ` + exp + `)
ON CONFLICT (key) DO UPDATE SET value = excluded.value, isbinary = excluded.isbinary, updatedate = CURRENT_TIMESTAMP, expiredate = excluded.expiredate`,
		update: `UPDATE ` + t + ` SET value = $2::text::jsonb, isbinary = $3, updatedate = CURRENT_TIMESTAMP, expiredate = ` + exp + `
WHERE key = $1 AND xmin = $5::text::xid AND (expiredate IS NULL OR expiredate > CURRENT_TIMESTAMP)`,
		current:     `SELECT xmin::text FROM ` + t + ` WHERE key = $1 AND ` + live,
		live:        `SELECT EXISTS (SELECT 1 FROM ` + t + ` WHERE key = $1 AND ` + live + `)`,
		del:         `DELETE FROM ` + t + ` WHERE key = $1`,
		delETag:     `DELETE FROM ` + t + ` WHERE key = $1 AND xmin = $2::text::xid AND ` + live,
		lastCleanup: lastCleanupSQL(m, "last-cleanup"),
		cleanup:     `DELETE FROM ` + t + ` WHERE expiredate IS NOT NULL AND expiredate < now()`,
	}
	return q
}

// lastCleanupSQL is daprd's cleanup coordination statement: it moves the
// row forward only if the last cleanup is older than $1 milliseconds.
func lastCleanupSQL(meta, key string) string {
	return fmt.Sprintf(`INSERT INTO %[1]s (key, value) VALUES ('%[2]s', now()::text)
ON CONFLICT (key) DO UPDATE SET value = now()::text
WHERE (EXTRACT('epoch' FROM now() - %[1]s.value::timestamp with time zone) * 1000)::bigint > $1`, meta, key)
}

// upsertFirstSuffix limits an upsert to absent or expired rows.
func upsertFirstSuffix(v2 bool) string {
	if v2 {
		return ` WHERE (t.expires_at IS NOT NULL AND t.expires_at < now())`
	}
	return ` WHERE (t.expiredate IS NOT NULL AND t.expiredate < CURRENT_TIMESTAMP)`
}

// Open connects, pings, migrates the schema and starts the cleanup, as
// daprd's Init does. The factory registered for "state.postgresql" wraps a
// v1 store in QueryStore.
func Open(ctx context.Context, spec component.Spec, env component.Env) (*Store, error) {
	cfg, err := parseConfig(spec)
	if err != nil {
		return nil, err
	}
	log := env.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &Store{name: spec.Name, cfg: cfg, log: log, q: buildQueries(cfg)}
	s.q.upsertFirst = s.q.upsert + upsertFirstSuffix(cfg.v2)
	cctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	if s.db, err = pgxpool.NewWithConfig(cctx, cfg.pool); err != nil {
		return nil, fmt.Errorf("failed to connect to the database: %w", err)
	}
	if err := s.db.Ping(cctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("failed to ping the database: %w", err)
	}
	if err := s.migrate(ctx); err != nil {
		s.db.Close()
		return nil, err
	}
	s.m = newStoreMetrics(spec.Name, s)
	if cfg.cleanupInterval > 0 {
		s.gcStop, s.gcDone = make(chan struct{}), make(chan struct{})
		go s.cleanupLoop()
	}
	return s, nil
}

// Features implements component.Store.
func (s *Store) Features() []component.Feature {
	if s.cfg.v2 {
		return featuresV2
	}
	return featuresV1
}

// Pool returns the connection pool (for tests and tools).
func (s *Store) Pool() *pgxpool.Pool { return s.db }

// Close stops the cleanup and closes the pool. PostgreSQL committed every
// acknowledged write already.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if s.gcStop != nil {
			close(s.gcStop)
			<-s.gcDone
		}
		s.m.close()
		s.db.Close()
	})
	return nil
}

// querier is what a pool and a transaction share.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// decodeValue turns a stored value into the bytes the API gets: v1 rows
// with isbinary hold a base64 JSON string.
func decodeValue(dst, value []byte, isBinary bool) ([]byte, error) {
	if !isBinary {
		return append(dst, value...), nil
	}
	var s string
	if err := json.Unmarshal(value, &s); err != nil {
		return dst, fmt.Errorf("failed to unmarshal JSON data: %w", err)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return dst, fmt.Errorf("failed to decode base64 data: %w", err)
	}
	return append(dst, b...), nil
}

// Get implements component.Store.
func (s *Store) Get(ctx context.Context, req *component.GetRequest, resp *component.GetResponse) error {
	start := time.Now()
	defer s.m.Get.UpdateDuration(start)
	ctx, cancel := context.WithTimeout(ctx, s.cfg.timeout)
	defer cancel()
	resp.Found = false
	resp.Data = resp.Data[:0]
	resp.ETag = resp.ETag[:0]
	resp.Expiry = time.Time{}
	var (
		value    []byte
		isBinary bool
		etag     string
		exp      pgtype.Timestamptz
	)
	err := s.db.QueryRow(ctx, s.q.get, string(req.Key)).Scan(&value, &isBinary, &etag, &exp)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cannot get key %s: %w", req.Key, err)
	}
	if resp.Data, err = decodeValue(resp.Data, value, isBinary); err != nil {
		return err
	}
	resp.Found = true
	resp.ETag = append(resp.ETag, etag...)
	if exp.Valid {
		resp.Expiry = exp.Time
	}
	return nil
}

// BulkGet implements component.Store with one query; items come back in
// request order (daprd returns database order).
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
	ctx, cancel := context.WithTimeout(ctx, s.cfg.timeout)
	defer cancel()
	rows, err := s.db.Query(ctx, s.q.bulkGet, keys)
	if err != nil {
		return nil, fmt.Errorf("cannot bulk get: %w", err)
	}
	defer rows.Close()
	found := make(map[string]component.BulkGetItem, len(keys))
	for rows.Next() {
		var (
			it       component.BulkGetItem
			value    []byte
			isBinary bool
			exp      pgtype.Timestamptz
		)
		if err := rows.Scan(&it.Key, &value, &isBinary, &it.ETag, &exp); err != nil {
			return nil, fmt.Errorf("cannot bulk get: %w", err)
		}
		if it.Data, err = decodeValue(nil, value, isBinary); err != nil {
			it.Error, it.ETag = err.Error(), ""
		} else {
			it.Found = true
			if exp.Valid {
				it.Expiry = exp.Time
			}
		}
		found[it.Key] = it
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot bulk get: %w", err)
	}
	for i, k := range keys {
		if it, ok := found[k]; ok {
			out[i] = it
		}
	}
	return out, nil
}

// parseTTL reads ttlInSeconds like components-contrib's utils.ParseTTL:
// an integer in [-1, 2^31-1]; nil when absent, empty or <= 0 (no expiry).
func parseTTL(md map[string]string) (*int64, error) {
	v, ok := md["ttlInSeconds"]
	if !ok {
		for k, x := range md {
			if strings.EqualFold(k, "ttlInSeconds") {
				v, ok = x, true
				break
			}
		}
	}
	if !ok || v == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("error parsing TTL: incorrect value for metadata 'ttlInSeconds': %w", err)
	}
	if n < -1 || n > 1<<31-1 {
		return nil, errors.New("error parsing TTL: incorrect value for metadata 'ttlInSeconds': must be -1 or greater")
	}
	if n <= 0 {
		return nil, nil
	}
	return &n, nil
}

// parseETag checks an ETag's syntax: v1 a uint32 (else ETagInvalid, 400),
// v2 a UUID (else an ETag mismatch, 409, as in daprd).
func (s *Store) parseETag(etag string) (string, error) {
	if s.cfg.v2 {
		u, err := parseUUID(etag)
		if err != nil {
			return "", component.NewETagError(component.ETagMismatch, err)
		}
		return u, nil
	}
	n, err := strconv.ParseUint(etag, 10, 32)
	if err != nil {
		return "", component.NewETagError(component.ETagInvalid, err)
	}
	return strconv.FormatUint(n, 10), nil
}

// encode returns the value parameter: v2 bytes verbatim; v1 JSON text, or a
// base64 JSON string with isbinary for bytes that are not JSON.
func (s *Store) encode(v []byte) (any, bool) {
	if s.cfg.v2 {
		if v == nil {
			v = []byte{}
		}
		return v, false
	}
	if json.Valid(v) {
		return string(v), false
	}
	b, _ := json.Marshal(base64.StdEncoding.EncodeToString(v))
	return string(b), true
}

// etagFailure builds the error for a conditional write that changed no row.
func (s *Store) etagFailure(ctx context.Context, q querier, key, given string) error {
	var cur string
	err := q.QueryRow(ctx, s.q.current, key).Scan(&cur)
	if errors.Is(err, pgx.ErrNoRows) {
		return component.NewETagNotFoundError(key)
	}
	if err != nil {
		return fmt.Errorf("cannot read the current etag of %s: %w", key, err)
	}
	return component.NewETagMismatchError(key, cur, given)
}

// doSet runs one save on q (the pool or a transaction).
func (s *Store) doSet(ctx context.Context, q querier, r *component.SetRequest) error {
	if err := component.CheckOptions(r.Options); err != nil {
		return err
	}
	ttl, err := parseTTL(r.Metadata)
	if err != nil {
		return err
	}
	val, isBinary := s.encode(r.Value)
	var args []any
	if r.ETag != nil {
		etag, err := s.parseETag(*r.ETag)
		if err != nil {
			return err
		}
		if s.cfg.v2 {
			args = []any{r.Key, val, ttl, etag}
		} else {
			args = []any{r.Key, val, isBinary, ttl, etag}
		}
		tag, err := q.Exec(ctx, s.q.update, args...)
		if err != nil {
			return fmt.Errorf("cannot save key %s: %w", r.Key, err)
		}
		if tag.RowsAffected() != 1 {
			return s.etagFailure(ctx, q, r.Key, *r.ETag)
		}
		return nil
	}
	if s.cfg.v2 {
		args = []any{r.Key, val, ttl}
	} else {
		args = []any{r.Key, val, isBinary, ttl}
	}
	sql := s.q.upsert
	if r.Options.Concurrency == component.FirstWrite {
		sql = s.q.upsertFirst
	}
	tag, err := q.Exec(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("cannot save key %s: %w", r.Key, err)
	}
	if tag.RowsAffected() != 1 {
		if r.Options.Concurrency == component.FirstWrite {
			return component.NewFirstWriteError()
		}
		return errNoItemUpdated
	}
	return nil
}

// doDelete runs one delete on q. Unknown concurrency and consistency
// values are ignored, as daprd's PostgreSQL store does (stores.md §1; a
// save rejects them); first-write is still honoured.
func (s *Store) doDelete(ctx context.Context, q querier, r *component.DeleteRequest) error {
	if r.ETag != nil {
		etag, err := s.parseETag(*r.ETag)
		if err != nil {
			return err
		}
		tag, err := q.Exec(ctx, s.q.delETag, r.Key, etag)
		if err != nil {
			return fmt.Errorf("cannot delete key %s: %w", r.Key, err)
		}
		if tag.RowsAffected() != 1 {
			return s.etagFailure(ctx, q, r.Key, *r.ETag)
		}
		return nil
	}
	if r.Options.Concurrency == component.FirstWrite {
		var live bool
		if err := q.QueryRow(ctx, s.q.live, r.Key).Scan(&live); err != nil {
			return fmt.Errorf("cannot delete key %s: %w", r.Key, err)
		}
		if live {
			return component.NewFirstWriteError()
		}
		return nil
	}
	if _, err := q.Exec(ctx, s.q.del, r.Key); err != nil {
		return fmt.Errorf("cannot delete key %s: %w", r.Key, err)
	}
	return nil
}

// inTx runs fn in one database transaction, committed only if fn returns
// nil (Invariant 2).
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("cannot begin transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("cannot commit transaction: %w", err)
	}
	return nil
}

// isETagErr reports whether err is a failed condition (the transaction can
// go on checking the other items).
func isETagErr(err error) bool {
	var ee *component.ETagError
	return errors.As(err, &ee)
}

// BulkSet implements component.Store: one item is a plain save; several run
// in one transaction, every failed condition is reported in a BulkError and
// nothing is written.
func (s *Store) BulkSet(ctx context.Context, reqs []component.SetRequest) error {
	start := time.Now()
	defer s.m.Set.UpdateDuration(start)
	ctx, cancel := context.WithTimeout(ctx, s.cfg.timeout)
	defer cancel()
	return bulk(ctx, s, reqs, s.doSet)
}

// bulk runs do for every request: one request directly on the pool;
// several in one transaction that checks every item, reports each failed
// condition in a *component.BulkError and then writes nothing (any other
// error stops at once).
func bulk[R any](ctx context.Context, s *Store, reqs []R, do func(context.Context, querier, *R) error) error {
	switch len(reqs) {
	case 0:
		return nil
	case 1:
		return do(ctx, s.db, &reqs[0])
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var errs []error
		for i := range reqs {
			if err := do(ctx, tx, &reqs[i]); err != nil {
				if !isETagErr(err) {
					return err
				}
				errs = append(errs, err)
			}
		}
		if len(errs) > 0 {
			return &component.BulkError{Errs: errs}
		}
		return nil
	})
}

// BulkDelete implements component.Store like BulkSet.
func (s *Store) BulkDelete(ctx context.Context, reqs []component.DeleteRequest) error {
	start := time.Now()
	defer s.m.Delete.UpdateDuration(start)
	ctx, cancel := context.WithTimeout(ctx, s.cfg.timeout)
	defer cancel()
	return bulk(ctx, s, reqs, s.doDelete)
}

// Multi implements component.Store. One operation runs directly. Several
// run in one database transaction in two phases: every condition (ETag,
// first-write) is checked against the state before the transaction, with
// the rows locked (SELECT ... FOR UPDATE), and only then are the operations
// applied in order, so a later operation on a key overrides an earlier one.
// The first error rolls everything back and is returned.
func (s *Store) Multi(ctx context.Context, req *component.TransactionRequest) error {
	start := time.Now()
	defer s.m.Multi.UpdateDuration(start)
	ctx, cancel := context.WithTimeout(ctx, s.cfg.timeout)
	defer cancel()
	ops := req.Operations
	switch len(ops) {
	case 0:
		return nil
	case 1:
		switch o := &ops[0]; o.Kind {
		case component.OpUpsert:
			return s.doSet(ctx, s.db, &o.Set)
		case component.OpDelete:
			return s.doDelete(ctx, s.db, &o.Delete)
		}
		return fmt.Errorf("unsupported operation kind %d", ops[0].Kind)
	}
	// Validate everything before talking to the database.
	for i := range ops {
		o := &ops[i]
		var err error
		switch o.Kind {
		case component.OpUpsert:
			if err = component.CheckOptions(o.Set.Options); err == nil {
				_, err = parseTTL(o.Set.Metadata)
			}
			if err == nil && o.Set.ETag != nil {
				_, err = s.parseETag(*o.Set.ETag)
			}
		case component.OpDelete:
			// Options are not validated on deletes (doDelete).
			if o.Delete.ETag != nil {
				_, err = s.parseETag(*o.Delete.ETag)
			}
		default:
			err = fmt.Errorf("unsupported operation kind %d", o.Kind)
		}
		if err != nil {
			return err
		}
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		// Phase 1: conditions against the state before the transaction.
		for i := range ops {
			key, etag, concurrency := opCondition(&ops[i])
			if etag != nil {
				want, _ := s.parseETag(*etag)
				var cur string
				err := tx.QueryRow(ctx, s.q.current+" FOR UPDATE", key).Scan(&cur)
				if errors.Is(err, pgx.ErrNoRows) {
					return component.NewETagNotFoundError(key)
				}
				if err != nil {
					return fmt.Errorf("cannot check the etag of %s: %w", key, err)
				}
				if cur != want {
					return component.NewETagMismatchError(key, cur, *etag)
				}
			} else if concurrency == component.FirstWrite {
				var live bool
				if err := tx.QueryRow(ctx, s.q.live, key).Scan(&live); err != nil {
					return fmt.Errorf("cannot check key %s: %w", key, err)
				}
				if live {
					return component.NewFirstWriteError()
				}
			}
		}
		// Phase 2: apply in order, unconditionally, except that a
		// first-write insert still refuses a row another client created
		// since phase 1.
		touched := make(map[string]bool, len(ops))
		for i := range ops {
			o := &ops[i]
			if o.Kind == component.OpDelete {
				if _, err := tx.Exec(ctx, s.q.del, o.Delete.Key); err != nil {
					return fmt.Errorf("cannot delete key %s: %w", o.Delete.Key, err)
				}
				touched[o.Delete.Key] = true
				continue
			}
			r := &o.Set
			ttl, _ := parseTTL(r.Metadata)
			val, isBinary := s.encode(r.Value)
			args := []any{r.Key, val, isBinary, ttl}
			if s.cfg.v2 {
				args = []any{r.Key, val, ttl}
			}
			first := r.ETag == nil && r.Options.Concurrency == component.FirstWrite && !touched[r.Key]
			sql := s.q.upsert
			if first {
				sql = s.q.upsertFirst
			}
			tag, err := tx.Exec(ctx, sql, args...)
			if err != nil {
				return fmt.Errorf("cannot save key %s: %w", r.Key, err)
			}
			if first && tag.RowsAffected() != 1 {
				return component.NewFirstWriteError()
			}
			touched[r.Key] = true
		}
		return nil
	})
}

// opCondition returns the key, ETag and concurrency of an operation.
func opCondition(o *component.Operation) (string, *string, string) {
	if o.Kind == component.OpDelete {
		return o.Delete.Key, o.Delete.ETag, o.Delete.Options.Concurrency
	}
	return o.Set.Key, o.Set.ETag, o.Set.Options.Concurrency
}

// CleanupExpired runs one cleanup round as daprd does: move the metadata
// table's last-cleanup row forward if the last cleanup (by any sidecar) is
// older than the interval, and only then delete expired rows. It returns
// the number of rows deleted.
func (s *Store) CleanupExpired(ctx context.Context) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.timeout)
	defer cancel()
	tag, err := s.db.Exec(ctx, s.q.lastCleanup, s.cfg.cleanupInterval.Milliseconds()-100)
	if err != nil {
		return 0, fmt.Errorf("cannot update last cleanup time: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return 0, nil
	}
	tag, err = s.db.Exec(ctx, s.q.cleanup)
	if err != nil {
		return 0, fmt.Errorf("cannot delete expired rows: %w", err)
	}
	s.m.cleaned.Add(int(tag.RowsAffected()))
	return tag.RowsAffected(), nil
}

// cleanupLoop runs CleanupExpired every interval until Close (Invariant 4).
func (s *Store) cleanupLoop() {
	defer close(s.gcDone)
	// ctx is cancelled by Close, so a cleanup stuck on an unreachable
	// server does not delay Close by the request timeout.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.gcStop:
			cancel()
		case <-ctx.Done():
		}
	}()
	t := time.NewTicker(s.cfg.cleanupInterval)
	defer t.Stop()
	for {
		select {
		case <-s.gcStop:
			return
		case <-t.C:
			if n, err := s.CleanupExpired(ctx); err != nil {
				if ctx.Err() != nil {
					return
				}
				s.log.Warn("postgres store: cleanup failed", "component", s.name, "error", err)
			} else if n > 0 {
				s.log.Debug("postgres store: deleted expired rows", "component", s.name, "rows", n)
			}
		}
	}
}
