package postgres

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/statecar/statecar/component"
	"github.com/statecar/statecar/component/configstore"
)

func init() {
	f := func(ctx context.Context, spec component.Spec, env component.Env) (configstore.Store, error) {
		return OpenConfiguration(ctx, spec, env)
	}
	configstore.Register("configuration.postgresql", f)
	configstore.Register("configuration.postgres", f) // daprd registers both names
}

// maxIdentifierLength is contrib's bound on table and channel names.
const maxIdentifierLength = 64

var (
	confKeyChars  = regexp.MustCompile(`^[a-zA-Z0-9./_]*$`)
	confNameChars = regexp.MustCompile(`^[a-z0-9./_]*$`)
)

// ConfigStore is the configuration store configuration.postgresql
// (alias configuration.postgres), as components-contrib 1.18 implements
// it: items are rows (key, value, version, metadata) of a table the
// operator creates, and subscriptions LISTEN on a channel that the
// operator's trigger notifies with {"data": <row>}.
//
// Concurrency: subs is guarded by mu; each subscription holds one pool
// connection and one goroutine, which delivers its events in order.
type ConfigStore struct {
	db      *pgxpool.Pool
	table   string
	channel string
	log     *slog.Logger

	mu     sync.Mutex
	subs   map[string]*pgConfSub
	closed bool
}

type pgConfSub struct {
	channel string
	keys    []string
	cancel  context.CancelFunc
	done    chan struct{}
}

// OpenConfiguration connects a configuration.postgresql store: the
// connection metadata of state.postgresql (connectionString, maxConns,
// connectionMaxIdleTime, queryExecMode, timeout …) plus table (required)
// and notifyChannel (alias pgNotifyChannel). The table must exist.
func OpenConfiguration(ctx context.Context, spec component.Spec, env component.Env) (*ConfigStore, error) {
	table, _ := metaLookup(spec, "table")
	if table == "" {
		return nil, errors.New("missing postgreSQL configuration table name")
	}
	if len(table) > maxIdentifierLength {
		return nil, fmt.Errorf("table name is too long - tableName : '%s'. max allowed field length is %d", table, maxIdentifierLength)
	}
	if !confNameChars.MatchString(table) {
		return nil, fmt.Errorf("invalid table name '%s'. non-alphanumerics or upper cased table names are not supported", table)
	}
	channel, _ := metaLookup(spec, "notifyChannel", "pgNotifyChannel")
	if channel != "" {
		if err := checkChannel(channel); err != nil {
			return nil, err
		}
	}
	// The state store's metadata rules cover the connection; its table
	// names are not this store's, so they are dropped first.
	cs := spec
	cs.Metadata = make(map[string]string, len(spec.Metadata))
	for k, v := range spec.Metadata {
		switch strings.ToLower(k) {
		case "tablename", "metadatatablename", "table", "notifychannel", "pgnotifychannel", "cleanupinterval", "cleanupintervalinseconds":
			continue
		case "connmaxidletime": // contrib's legacy alias
			if _, ok := spec.Meta("connectionMaxIdleTime"); !ok {
				cs.Metadata["connectionMaxIdleTime"] = v
			}
			continue
		}
		cs.Metadata[k] = v
	}
	cfg, err := parseConfig(cs)
	if err != nil {
		return nil, err
	}
	log := env.Logger
	if log == nil {
		log = slog.Default()
	}
	cctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	db, err := pgxpool.NewWithConfig(cctx, cfg.pool)
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL configuration store connection error: %w", err)
	}
	if err := db.Ping(cctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("PostgreSQL configuration store ping error: %w", err)
	}
	var exists bool
	if err := db.QueryRow(cctx, "SELECT EXISTS (SELECT FROM pg_tables where tablename = $1)", table).Scan(&exists); err != nil {
		db.Close()
		return nil, fmt.Errorf("error in checking if configtable '%s' exists: '%w'", table, err)
	}
	if !exists {
		db.Close()
		return nil, fmt.Errorf("postgreSQL configuration table '%s' does not exist", table)
	}
	return &ConfigStore{db: db, table: table, channel: channel, log: log, subs: map[string]*pgConfSub{}}, nil
}

func checkChannel(ch string) error {
	if len(ch) > maxIdentifierLength {
		return fmt.Errorf("notifyChannel name is too long - %q. max allowed length is %d", ch, maxIdentifierLength)
	}
	if !confNameChars.MatchString(ch) {
		return fmt.Errorf("invalid notifyChannel name %q. non-alphanumerics or upper cased names are not supported", ch)
	}
	return nil
}

// Get returns the rows of keys (every row for none), one per key: the row
// with the highest numeric version (a version that is not a number counts
// as -1; the first row wins a tie), as contrib's getUniqueItemPerKey.
//
// Request metadata adds contrib's clause "AND $n = $m" per pair, which
// compares the two bound strings (the name and the value), not a column:
// it filters every row out unless name equals value. It is kept as contrib
// has it, so that the same request returns the same rows.
func (s *ConfigStore) Get(ctx context.Context, keys []string, meta map[string]string) (map[string]*configstore.Item, error) {
	for _, k := range keys {
		if !confKeyChars.MatchString(k) {
			return nil, fmt.Errorf("invalid key : '%v'", k)
		}
	}
	q := "SELECT * FROM " + s.table
	var args []any
	if len(keys) > 0 {
		ph := make([]string, len(keys))
		for i, k := range keys {
			args = append(args, k)
			ph[i] = "$" + strconv.Itoa(i+1)
		}
		q += " WHERE KEY IN (" + strings.Join(ph, " , ") + ")"
		names := make([]string, 0, len(meta))
		for k := range meta {
			names = append(names, k)
		}
		slices.Sort(names)
		for _, k := range names {
			n := len(args)
			q += " AND $" + strconv.Itoa(n+1) + " = $" + strconv.Itoa(n+2)
			args = append(args, k, meta[k])
		}
	}
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("error in querying configuration store: '%w'", err)
	}
	type row struct {
		key  string
		item *configstore.Item
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		it := &configstore.Item{}
		var key string
		var md map[string]string
		if err := r.Scan(&key, &it.Value, &it.Version, &md); err != nil {
			return row{}, fmt.Errorf("error in reading data from configuration store: '%w'", err)
		}
		it.Metadata = md
		return row{key, it}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("unable to parse response from configuration store - %w", err)
	}
	items := make(map[string]*configstore.Item, len(got))
	best := map[string]int{}
	for _, r := range got {
		v := numericVersion(r.item.Version)
		if _, seen := items[r.key]; !seen || v > best[r.key] {
			items[r.key], best[r.key] = r.item, v
		}
	}
	return items, nil
}

func numericVersion(v string) int {
	n, err := strconv.Atoi(v)
	if err != nil {
		return -1
	}
	return n
}

func newConfID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Subscribe LISTENs on the notify channel (component metadata, else the
// request's pgNotifyChannel) and delivers the rows of keys (every key when
// keys is empty) that the channel's notifications carry. Unlike contrib it
// returns once LISTEN has run, so an update right after Subscribe returns
// is delivered.
func (s *ConfigStore) Subscribe(ctx context.Context, keys []string, meta map[string]string, h configstore.Handler) (string, error) {
	ch := s.channel
	if ch == "" {
		for k, v := range meta {
			if strings.EqualFold(k, "pgNotifyChannel") {
				ch = v
				break
			}
		}
	}
	if ch == "" {
		return "", fmt.Errorf("unable to subscribe to %q. notifyChannel must be set in component metadata or request metadata", s.table)
	}
	if err := checkChannel(ch); err != nil {
		return "", err
	}
	sctx, cancel := context.WithCancel(ctx)
	conn, err := s.db.Acquire(sctx)
	if err != nil {
		cancel()
		return "", fmt.Errorf("error acquiring connection: %w", err)
	}
	if _, err := conn.Exec(sctx, "listen "+ch); err != nil {
		conn.Release()
		cancel()
		return "", fmt.Errorf("error listening to channel: %w", err)
	}
	id := newConfID()
	sub := &pgConfSub{channel: ch, keys: slices.Clone(keys), cancel: cancel, done: make(chan struct{})}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		cancel()
		conn.Release()
		return "", errors.New("configuration store is closed")
	}
	s.subs[id] = sub
	s.mu.Unlock()
	go func() {
		defer close(sub.done)
		defer func() {
			s.mu.Lock()
			if s.subs[id] == sub {
				delete(s.subs, id)
			}
			s.mu.Unlock()
		}()
		defer func() {
			// The connection goes back to the pool without its LISTEN; a
			// connection broken by the cancellation is closed instead.
			_, _ = conn.Exec(context.Background(), "UNLISTEN "+ch)
			conn.Release()
		}()
		for {
			n, err := conn.Conn().WaitForNotification(sctx)
			if err != nil {
				if sctx.Err() == nil {
					s.log.Error("error waiting for notification: " + err.Error())
				}
				return
			}
			ev := s.decode(id, sub, n.Payload)
			if ev == nil {
				continue
			}
			if herr := h(sctx, ev); herr != nil {
				s.log.Error("failed to call notify event handler : " + herr.Error())
			}
		}
	}()
	return id, nil
}

// decode turns a notification payload {"data":{"key":…,"value":…,
// "version":…,"metadata":{…}}} (field names case-insensitive) into an
// event, or nil when it is malformed or for a key the subscription does
// not follow.
func (s *ConfigStore) decode(id string, sub *pgConfSub, payload string) *configstore.UpdateEvent {
	var p map[string]json.RawMessage
	if err := json.Unmarshal([]byte(payload), &p); err != nil {
		s.log.Error("error in unmarshal: " + err.Error())
		return nil
	}
	var row map[string]any
	if err := json.Unmarshal(p["data"], &row); err != nil || row == nil {
		s.log.Info("unknown format of data received in notify event - '" + payload + "'")
		return nil
	}
	var key string
	it := &configstore.Item{Metadata: map[string]string{}}
	for k, v := range row {
		switch strings.ToLower(k) {
		case "key":
			key, _ = v.(string)
		case "value":
			it.Value, _ = v.(string)
		case "version":
			it.Version, _ = v.(string)
		case "metadata":
			if m, ok := v.(map[string]any); ok {
				for mk, mv := range m {
					if str, ok := mv.(string); ok {
						it.Metadata[mk] = str
					}
				}
			}
		}
	}
	if len(sub.keys) > 0 && !slices.Contains(sub.keys, key) {
		return nil
	}
	return &configstore.UpdateEvent{ID: id, Items: map[string]*configstore.Item{key: it}}
}

// Unsubscribe ends subscription id (its LISTEN connection is released).
func (s *ConfigStore) Unsubscribe(_ context.Context, id string) error {
	s.mu.Lock()
	sub, ok := s.subs[id]
	delete(s.subs, id)
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("unable to find subscription with ID : %v", id)
	}
	sub.cancel()
	<-sub.done
	return nil
}

// Close ends every subscription and closes the pool.
func (s *ConfigStore) Close() error {
	s.mu.Lock()
	s.closed = true
	subs := s.subs
	s.subs = map[string]*pgConfSub{}
	s.mu.Unlock()
	for _, sub := range subs {
		sub.cancel()
		<-sub.done
	}
	s.db.Close()
	return nil
}
