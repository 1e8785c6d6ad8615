package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/statecar/statecar/component"
	"github.com/statecar/statecar/component/configstore"
)

func init() {
	f := func(ctx context.Context, spec component.Spec, env component.Env) (configstore.Store, error) {
		s, err := OpenConfiguration(ctx, spec, env)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	configstore.Register("configuration.postgresql", f)
	configstore.Register("configuration.postgres", f)
}

const (
	// cfgQueryTableExists is daprd's check that the table exists (any
	// schema: pg_tables.tablename only).
	cfgQueryTableExists = "SELECT EXISTS (SELECT FROM pg_tables where tablename = $1)"
	// cfgMaxIdentLength is daprd's limit on the table and channel names.
	cfgMaxIdentLength = 64
)

var (
	cfgAllowedKey   = regexp.MustCompile(`^[a-zA-Z0-9./_]*$`)
	cfgAllowedIdent = regexp.MustCompile(`^[a-z0-9./_]*$`)
)

// cfgConfig is the parsed metadata of a configuration.postgresql component.
type cfgConfig struct {
	pool          *pgxpool.Config
	table         string
	notifyChannel string // "" = taken from the request metadata
	timeout       time.Duration
}

// parseKitDuration reads a duration as dapr kit's metadata decoder does: a
// Go duration string, else an integer number of seconds; "" is 0.
func parseKitDuration(name, v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err == nil {
		return d, nil
	}
	n, errInt := strconv.ParseInt(v, 10, 0)
	if errInt != nil {
		return 0, fmt.Errorf("invalid value for '%s': %w", name, err)
	}
	return time.Duration(n) * time.Second, nil
}

func validNotifyChannel(ch string) error {
	if len(ch) > cfgMaxIdentLength {
		return fmt.Errorf("notifyChannel name is too long - %q. max allowed length is %d", ch, cfgMaxIdentLength)
	}
	if !cfgAllowedIdent.MatchString(ch) {
		return fmt.Errorf("invalid notifyChannel name %q. non-alphanumerics or upper cased names are not supported", ch)
	}
	return nil
}

// parseConfigurationConfig validates the metadata in daprd's order: the
// component's own fields first, then the connection metadata.
func parseConfigurationConfig(spec component.Spec) (*cfgConfig, error) {
	c := &cfgConfig{timeout: defaultTimeout}
	var err error
	if v, ok := metaLookup(spec, "timeout", "timeoutInSeconds"); ok {
		// As kit decodes it, a present but empty value is 0 (and so too
		// small), not the default.
		if c.timeout, err = parseKitDuration("timeout", v); err != nil {
			return nil, err
		}
	}
	c.table, _ = metaLookup(spec, "table")
	c.notifyChannel, _ = metaLookup(spec, "notifyChannel", "pgNotifyChannel")
	if c.table == "" {
		return nil, errors.New("missing postgreSQL configuration table name")
	}
	if len(c.table) > cfgMaxIdentLength {
		return nil, fmt.Errorf("table name is too long - tableName : '%s'. max allowed field length is %d", c.table, cfgMaxIdentLength)
	}
	if !cfgAllowedIdent.MatchString(c.table) {
		return nil, fmt.Errorf("invalid table name '%s'. non-alphanumerics or upper cased table names are not supported", c.table)
	}
	if c.notifyChannel != "" {
		if err := validNotifyChannel(c.notifyChannel); err != nil {
			return nil, err
		}
	}
	if c.timeout < time.Second {
		return nil, errors.New("invalid value for 'timeout': must be greater than 1s")
	}
	// daprd's text when no connection metadata is given at all.
	empty := true
	for _, n := range []string{"connectionString", "url", "host", "hostaddr", "port", "database", "user", "password", "sslRootCert"} {
		if v, _ := metaLookup(spec, n); v != "" {
			empty = false
		}
	}
	if empty {
		return nil, errors.New("failed to build connection string")
	}
	if c.pool, err = parsePool(spec); err != nil {
		return nil, err
	}
	// connMaxIdleTime is daprd's deprecated alias of connectionMaxIdleTime,
	// used when the latter is absent or zero.
	if v, ok := metaLookup(spec, "connMaxIdleTime"); ok {
		old, err := parseKitDuration("connMaxIdleTime", v)
		if err != nil {
			return nil, err
		}
		cur, _ := metaLookup(spec, "connectionMaxIdleTime")
		if d, _ := parseKitDuration("connectionMaxIdleTime", cur); d == 0 && old > 0 {
			c.pool.MaxConnIdleTime = old
		}
	}
	return c, nil
}

var _ configstore.Store = (*ConfigStore)(nil)

// ConfigStore is a configuration.postgresql store: items are the rows
// (key, value, version, metadata) of one table, and subscriptions LISTEN
// on a channel the table's trigger notifies. See the package
// documentation.
type ConfigStore struct {
	cfg *cfgConfig
	db  *pgxpool.Pool
	log *slog.Logger

	mu     sync.Mutex
	subs   map[string]*cfgSubscription
	closed bool
	wg     sync.WaitGroup // one per subscription goroutine

	closeOnce sync.Once
}

type cfgSubscription struct {
	id      string
	channel string
	keys    []string
	cancel  context.CancelFunc
	done    chan struct{} // closed when the goroutine has returned
}

// handlerCtxKey marks the context a handler gets, so that an Unsubscribe
// of its own subscription from inside the handler does not wait for itself.
type handlerCtxKey struct{}

// OpenConfiguration connects, pings and checks that the table exists, as
// daprd's Init does.
func OpenConfiguration(ctx context.Context, spec component.Spec, env component.Env) (*ConfigStore, error) {
	cfg, err := parseConfigurationConfig(spec)
	if err != nil {
		return nil, err
	}
	log := env.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &ConfigStore{cfg: cfg, log: log.With("component", spec.Name), subs: map[string]*cfgSubscription{}}
	cctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	if s.db, err = pgxpool.NewWithConfig(cctx, cfg.pool); err != nil {
		return nil, fmt.Errorf("PostgreSQL configuration store connection error: %w", err)
	}
	if err := s.db.Ping(cctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("PostgreSQL configuration store ping error: %w", err)
	}
	var exists bool
	if err := s.db.QueryRow(ctx, cfgQueryTableExists, cfg.table).Scan(&exists); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("error in checking if configtable '%s' exists: '%w'", cfg.table, err)
	}
	if !exists {
		s.db.Close()
		return nil, fmt.Errorf("postgreSQL configuration table '%s' does not exist", cfg.table)
	}
	return s, nil
}

// Pool returns the connection pool (for tests and tools).
func (s *ConfigStore) Pool() *pgxpool.Pool { return s.db }

// cfgQuery builds daprd's Get query.
func cfgQuery(table string, keys []string, meta map[string]string) (string, []any) {
	if len(keys) == 0 {
		// daprd ignores the request metadata without keys.
		return "SELECT * FROM " + table, nil
	}
	var b strings.Builder
	params := make([]any, 0, len(keys)+2*len(meta))
	b.WriteString("SELECT * FROM " + table + " WHERE KEY IN (")
	for i, k := range keys {
		if i > 0 {
			b.WriteString(" , ")
		}
		params = append(params, k)
		b.WriteString("$" + strconv.Itoa(len(params)))
	}
	b.WriteString(")")
	// daprd's metadata clause: "AND $n = $n+1" per request metadata pair,
	// binding the pair's name and value. It compares the two parameters
	// with each other, not a column: any pair whose name differs from its
	// value makes the query return no row, a pair with equal name and value
	// filters nothing. Reproduced as is for compatibility.
	for k, v := range meta {
		params = append(params, k, v)
		b.WriteString(" AND $" + strconv.Itoa(len(params)-1) + " = $" + strconv.Itoa(len(params)))
	}
	return b.String(), params
}

// numericVersion is daprd's getNumericVersion: the version as an integer,
// -1 when it is not one.
func numericVersion(v string) int {
	n, err := strconv.Atoi(v)
	if err != nil {
		return -1
	}
	return n
}

// Get implements configstore.Store. For a key held by several rows, the row
// with the highest numeric version wins (a non-numeric version counts as
// -1; on a tie the first row read wins), as daprd's getUniqueItemPerKey.
func (s *ConfigStore) Get(ctx context.Context, keys []string, meta map[string]string) (map[string]*configstore.Item, error) {
	for _, k := range keys {
		if !cfgAllowedKey.MatchString(k) {
			return nil, fmt.Errorf("invalid key : '%v'", k)
		}
	}
	sql, params := cfgQuery(s.cfg.table, keys, meta)
	rows, err := s.db.Query(ctx, sql, params...)
	if err != nil {
		return nil, fmt.Errorf("error in querying configuration store: '%w'", err)
	}
	defer rows.Close()
	items := map[string]*configstore.Item{}
	best := map[string]int{}
	for rows.Next() {
		var key string
		it := &configstore.Item{}
		if err := rows.Scan(&key, &it.Value, &it.Version, &it.Metadata); err != nil {
			return nil, fmt.Errorf("unable to parse response from configuration store - error in reading data from configuration store: '%w'", err)
		}
		n := numericVersion(it.Version)
		if cur, ok := best[key]; !ok || n > cur {
			items[key], best[key] = it, n
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("unable to parse response from configuration store - %w", err)
	}
	return items, nil
}

// subscriptionID is component.NewUUID with contrib's error text.
func subscriptionID() (string, error) {
	id, err := component.NewUUID()
	if err != nil {
		return "", fmt.Errorf("unable to generate subscription id - %w", err)
	}
	return id, nil
}

// Subscribe implements configstore.Store. The channel is the component's
// notifyChannel, else the request metadata "pgNotifyChannel" (any case).
// The subscription holds one pool connection that LISTENs on the channel.
//
// Unlike daprd, which runs LISTEN on its goroutine after Subscribe has
// returned (so a change made right after Subscribe may be missed), LISTEN
// has completed when Subscribe returns: every change committed after that
// is delivered.
func (s *ConfigStore) Subscribe(ctx context.Context, keys []string, meta map[string]string, h configstore.Handler) (string, error) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return "", errors.New("configuration store is closed")
	}
	// Component metadata first, then the request metadata (daprd keeps
	// the latter for backwards compatibility).
	channel := s.cfg.notifyChannel
	if channel == "" {
		for k, v := range meta {
			if strings.EqualFold(k, "pgNotifyChannel") {
				channel = v
				break
			}
		}
	}
	if channel == "" {
		return "", fmt.Errorf("unable to subscribe to %q. notifyChannel must be set in component metadata or request metadata", s.cfg.table)
	}
	if err := validNotifyChannel(channel); err != nil {
		return "", err
	}
	id, err := subscriptionID()
	if err != nil {
		return "", err
	}

	// daprd acquires the connection and runs LISTEN on the subscription's
	// goroutine, only logging a failure; here both happen before Subscribe
	// returns, within the component's timeout, and a failure is returned.
	lctx, lcancel := context.WithTimeout(ctx, s.cfg.timeout)
	defer lcancel()
	conn, err := s.db.Acquire(lctx)
	if err != nil {
		return "", fmt.Errorf("error acquiring connection: %w", err)
	}
	if _, err = conn.Exec(lctx, "listen "+channel); err != nil {
		// It may listen nonetheless: do not pool it.
		_ = conn.Hijack().Close(context.Background())
		return "", fmt.Errorf("error listening to channel: %w", err)
	}

	sctx, cancel := context.WithCancel(ctx)
	sub := &cfgSubscription{id: id, channel: channel, keys: slices.Clone(keys), cancel: cancel, done: make(chan struct{})}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		cancel()
		s.unlisten(conn, channel)
		return "", errors.New("configuration store is closed")
	}
	s.subs[id] = sub
	s.wg.Add(1)
	s.mu.Unlock()
	go s.listen(sctx, conn, sub, h)
	return id, nil
}

// listen delivers the notifications of one subscription until its context
// ends, then UNLISTENs and returns the connection to the pool.
func (s *ConfigStore) listen(ctx context.Context, conn *pgxpool.Conn, sub *cfgSubscription, h configstore.Handler) {
	defer s.wg.Done()
	defer close(sub.done)
	defer func() {
		s.mu.Lock()
		if s.subs[sub.id] == sub {
			delete(s.subs, sub.id)
		}
		s.mu.Unlock()
		sub.cancel()
	}()
	defer s.unlisten(conn, sub.channel)
	hctx := context.WithValue(ctx, handlerCtxKey{}, sub)
	for {
		n, err := conn.Conn().WaitForNotification(ctx)
		if err == nil && ctx.Err() != nil {
			return // a notification buffered before the end
		}
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("error waiting for notification", "channel", sub.channel, "error", err)
			}
			return
		}
		if n.Channel != sub.channel {
			continue
		}
		key, it, ok := s.parseNotification(n.Payload)
		if !ok || !s.active(sub) {
			continue
		}
		if len(sub.keys) > 0 && !slices.Contains(sub.keys, key) {
			continue
		}
		ev := &configstore.UpdateEvent{ID: sub.id, Items: map[string]*configstore.Item{key: it}}
		if err := h(hctx, ev); err != nil {
			s.log.Error("failed to call notify event handler", "subscription", sub.id, "error", err)
		}
	}
}

// unlisten stops listening on a subscription's connection and releases it;
// a connection that cannot be cleaned is closed rather than pooled.
func (s *ConfigStore) unlisten(conn *pgxpool.Conn, channel string) {
	if conn.Conn().IsClosed() {
		conn.Release()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.timeout)
	defer cancel()
	if _, err := conn.Exec(ctx, "UNLISTEN "+channel); err != nil {
		s.log.Warn("error un-listening to channel", "channel", channel, "error", err)
		c := conn.Hijack()
		_ = c.Close(ctx)
		return
	}
	// pgx keeps notifications that arrived during a query (here: before
	// UNLISTEN took effect) and would hand them to the next
	// WaitForNotification on this connection, i.e. to a later
	// subscription: drop them. With a done context, WaitForNotification
	// returns the buffered ones and then fails without I/O.
	done, stop := context.WithCancel(context.Background())
	stop()
	for {
		if _, err := conn.Conn().WaitForNotification(done); err != nil {
			break
		}
	}
	conn.Release()
}

func (s *ConfigStore) active(sub *cfgSubscription) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.subs[sub.id] == sub
}

// parseNotification reads a trigger's payload: {"data": {"key", "value",
// "version", "metadata"}} with field names in any case, as daprd. Payloads
// daprd would not deliver (bad JSON, "data" not an object) are logged and
// skipped; so are fields of the wrong JSON type, on which daprd panics.
func (s *ConfigStore) parseNotification(payload string) (string, *configstore.Item, bool) {
	var msg map[string]any
	if err := json.Unmarshal([]byte(payload), &msg); err != nil {
		s.log.Error("error in unmarshal of a notification", "error", err)
		return "", nil, false
	}
	row, ok := msg["data"].(map[string]any)
	if !ok {
		s.log.Info("unknown format of data received in notify event", "payload", payload)
		return "", nil, false
	}
	var key string
	it := &configstore.Item{Metadata: map[string]string{}}
	for k, v := range row {
		var dst *string
		switch strings.ToLower(k) {
		case "key":
			dst = &key
		case "value":
			dst = &it.Value
		case "version":
			dst = &it.Version
		case "metadata":
			if v == nil {
				continue
			}
			m, ok := v.(map[string]any)
			if !ok {
				s.log.Warn("notification metadata is not an object", "payload", payload)
				return "", nil, false
			}
			for mk, mv := range m {
				str, ok := mv.(string)
				if !ok {
					s.log.Warn("notification metadata value is not a string", "payload", payload)
					return "", nil, false
				}
				it.Metadata[mk] = str
			}
			continue
		default:
			continue
		}
		str, ok := v.(string)
		if !ok {
			s.log.Warn("notification field is not a string", "field", k, "payload", payload)
			return "", nil, false
		}
		*dst = str
	}
	return key, it, true
}

// Unsubscribe implements configstore.Store: it stops the listener, which
// UNLISTENs on its connection, and waits until the listener has returned,
// so the handler is not called after Unsubscribe returns (unless ctx ends
// first). Called from the subscription's own handler with the handler's
// context, it does not wait.
func (s *ConfigStore) Unsubscribe(ctx context.Context, id string) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errors.New("configuration store is closed")
	}
	sub := s.subs[id]
	if sub == nil {
		s.mu.Unlock()
		return fmt.Errorf("unable to find subscription with ID : %v", id)
	}
	delete(s.subs, id)
	s.mu.Unlock()
	sub.cancel()
	if ctx.Value(handlerCtxKey{}) == sub {
		return nil
	}
	select {
	case <-sub.done:
	case <-ctx.Done():
	}
	return nil
}

// Close implements configstore.Store: it stops every subscription, waits
// for their goroutines and closes the pool. Calls after the first do
// nothing.
func (s *ConfigStore) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		for _, sub := range s.subs {
			sub.cancel()
		}
		s.mu.Unlock()
		s.wg.Wait()
		s.db.Close()
	})
	return nil
}
