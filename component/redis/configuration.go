package redis

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/statecar/statecar/component"
	"github.com/statecar/statecar/component/configstore"
)

func init() {
	configstore.Register("configuration.redis", func(ctx context.Context, spec component.Spec, env component.Env) (configstore.Store, error) {
		return OpenConfiguration(ctx, spec, env)
	})
}

// ConfigStore is the configuration store configuration.redis, as
// components-contrib 1.18 implements it: an item is the string key
// holding "value||version"; subscriptions follow Redis keyspace
// notifications (__keyspace@<db>__:<key>), which the store switches on
// with CONFIG SET notify-keyspace-events Kg$xe.
//
// Concurrency: subs (subscription ID -> cancel and done) is guarded by mu;
// each subscription runs one goroutine that delivers its events one at a
// time, in order.
type ConfigStore struct {
	client goredis.UniversalClient
	db     int
	log    *slog.Logger

	mu     sync.Mutex
	subs   map[string]*confSub
	closed bool
}

type confSub struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// OpenConfiguration connects a configuration.redis store (the connection
// metadata of state.redis: redisHost, redisPassword, redisDB, TLS,
// failover, cluster, timeouts, pool sizes) and pings the server.
func OpenConfiguration(ctx context.Context, spec component.Spec, env component.Env) (*ConfigStore, error) {
	cfg, err := parseConfig(spec)
	if err != nil {
		return nil, err
	}
	if _, ok := metaLookup(spec, "redisMaxRetries", "maxRetries"); !ok {
		cfg.maxRetries = 3 // components-contrib's legacy default for configuration stores
	}
	log := env.Logger
	if log == nil {
		log = slog.Default()
	}
	setClientLogger(log)
	s := &ConfigStore{client: newClient(cfg), db: cfg.db, log: log, subs: map[string]*confSub{}}
	pctx, cancel := context.WithTimeout(ctx, initStepTimeout(cfg))
	defer cancel()
	if err := s.client.Ping(pctx).Err(); err != nil {
		_ = s.client.Close()
		return nil, fmt.Errorf("redis store: error connecting to redis at %s: %s", strings.Join(cfg.addrs, ","), err)
	}
	return s, nil
}

// splitValue splits "value||version" as contrib does (strings.Split: the
// first two parts).
func splitValue(v string) (value, version string) {
	parts := strings.Split(v, "||")
	if len(parts) == 1 {
		return parts[0], ""
	}
	return parts[0], parts[1]
}

// Get returns the items of keys (KEYS * for none). A missing key and a key
// of another type than string are skipped; so is an empty value.
func (s *ConfigStore) Get(ctx context.Context, keys []string, _ map[string]string) (map[string]*configstore.Item, error) {
	if len(keys) == 0 {
		all, err := s.client.Keys(ctx, "*").Result()
		if err != nil {
			return nil, err
		}
		keys = all
	}
	items := make(map[string]*configstore.Item, len(keys))
	for _, k := range keys {
		v, err := s.client.Get(ctx, k).Result()
		if err != nil {
			if errors.Is(err, goredis.Nil) {
				continue
			}
			if strings.Contains(err.Error(), "WRONGTYPE") {
				s.log.Warn("redis key " + k + " 's type is not supported, ignore it")
				continue
			}
			return nil, fmt.Errorf("fail to get configuration for redis key=%s, error is %s", k, err)
		}
		value, version := splitValue(v)
		if value != "" {
			items[k] = &configstore.Item{Value: value, Version: version, Metadata: map[string]string{}}
		}
	}
	return items, nil
}

// newID returns a random UUID v4 string.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	const hex = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hex[c>>4], hex[c&15])
	}
	return string(out)
}

// Subscribe subscribes to the keyspace channels of keys (a pattern for
// every key when keys is empty). Unlike contrib, it returns only once Redis
// has acknowledged the subscription, so that a write right after Subscribe
// returns is delivered. On Redis Cluster, keyspace notifications are local
// to a node: the subscription sees the changes of the node its pub/sub
// connection lands on (go-redis picks the node of the channel's slot), as
// with contrib.
func (s *ConfigStore) Subscribe(ctx context.Context, keys []string, meta map[string]string, h configstore.Handler) (string, error) {
	actx, acancel := context.WithTimeout(ctx, 10*time.Second)
	defer acancel()
	_ = s.client.ConfigSet(actx, "notify-keyspace-events", "Kg$xe").Err() // contrib ignores the error too (e.g. CONFIG disabled)
	prefix := "__keyspace@" + strconv.Itoa(s.db) + "__:"
	var ps *goredis.PubSub
	if len(keys) == 0 {
		ps = s.client.PSubscribe(ctx, prefix+"*")
	} else {
		chans := make([]string, len(keys))
		for i, k := range keys {
			chans[i] = prefix + k
		}
		ps = s.client.Subscribe(ctx, chans...)
	}
	// Wait for every acknowledgement before returning.
	want := max(len(keys), 1)
	for range want {
		if _, err := ps.Receive(actx); err != nil {
			_ = ps.Close()
			return "", err
		}
	}
	id := newID()
	sctx, cancel := context.WithCancel(ctx)
	// go-redis reads a PubSub without watching the context (it only takes
	// deadlines from it): closing the PubSub is what ends a blocked
	// ReceiveMessage.
	sub := &confSub{cancel: func() { cancel(); _ = ps.Close() }, done: make(chan struct{})}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		cancel()
		_ = ps.Close()
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
		defer ps.Close()
		go func() { // a cancelled parent context (a gone gRPC stream) ends it too
			<-sctx.Done()
			_ = ps.Close()
		}()
		for {
			msg, err := ps.ReceiveMessage(sctx)
			if err != nil {
				if sctx.Err() != nil {
					return
				}
				// The server went away: go-redis redials and resubscribes
				// on the next receive.
				s.log.Warn("redis configuration subscription: " + err.Error())
				select {
				case <-sctx.Done():
					return
				case <-time.After(100 * time.Millisecond):
				}
				continue
			}
			key, ok := strings.CutPrefix(msg.Channel, prefix)
			if !ok {
				continue
			}
			items, gerr := s.Get(sctx, []string{key}, meta)
			if gerr != nil {
				s.log.Error("get response from redis failed: " + gerr.Error())
				continue
			}
			if len(items) == 0 {
				items = map[string]*configstore.Item{key: {}}
			}
			if herr := h(sctx, &configstore.UpdateEvent{ID: id, Items: items}); herr != nil {
				s.log.Error("fail to call handler to notify event for configuration update subscribe: " + herr.Error())
			}
		}
	}()
	return id, nil
}

// Unsubscribe ends subscription id and waits for its goroutine.
func (s *ConfigStore) Unsubscribe(_ context.Context, id string) error {
	s.mu.Lock()
	sub, ok := s.subs[id]
	delete(s.subs, id)
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("subscription with id %s does not exist", id)
	}
	sub.cancel()
	<-sub.done
	return nil
}

// Close ends every subscription and closes the client.
func (s *ConfigStore) Close() error {
	s.mu.Lock()
	s.closed = true
	subs := s.subs
	s.subs = map[string]*confSub{}
	s.mu.Unlock()
	for _, sub := range subs {
		sub.cancel()
		<-sub.done
	}
	return s.client.Close()
}
