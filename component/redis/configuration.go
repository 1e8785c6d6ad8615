package redis

import (
	"context"
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

// ConfigStore is the "configuration.redis" configuration store: a Redis
// string "value||version" per configuration key, changes pushed by Redis
// keyspace notifications. See the package documentation.
type ConfigStore struct {
	name   string
	cfg    *config
	client goredis.UniversalClient
	log    *slog.Logger

	mu     sync.Mutex
	subs   map[string]*configSub // by subscription ID
	closed bool
	wg     sync.WaitGroup // one per live subscription
}

// configSub is one subscription: its goroutines end when ctx is cancelled.
type configSub struct {
	cancel context.CancelFunc
}

// keyspacePrefix starts every keyspace notification channel:
// "__keyspace@<db>__:<key>".
const keyspacePrefix = "__keyspace@"

// configSeparator splits a stored string into value and version.
const configSeparator = "||"

// keyspaceEvents is what Subscribe sets notify-keyspace-events to, as
// daprd does: keyspace channels (K) for generic commands (g: DEL, EXPIRE,
// RENAME, ...), string commands ($), expiry (x) and eviction (e).
const keyspaceEvents = "Kg$xe"

// OpenConfiguration connects to Redis as the component spec says (the
// metadata of state.redis, with daprd's defaults for a configuration
// store) and checks the connection with PING.
func OpenConfiguration(ctx context.Context, spec component.Spec, env component.Env) (*ConfigStore, error) {
	cfg, c, log, err := openPinged(ctx, spec, env, parseConfigurationConfig, func(hosts string, err error) error {
		return fmt.Errorf("redis store: error connecting to redis at %s: %s", hosts, err)
	})
	if err != nil {
		return nil, err
	}
	s := &ConfigStore{name: spec.Name, cfg: cfg, client: c, log: log.With("component", spec.Name), subs: map[string]*configSub{}}
	return s, nil
}

// parseConfigurationConfig is parseConfig with the differences of
// components-contrib's ParseClientFromProperties for a configuration store:
// the legacy names maxRetries and maxRetryBackoff are not read (they are
// state and lock store names), and the retry backoff defaults are 8 ms
// (min) and 2 s (max) instead of the state store's 2 s and 512 ms.
// redisMaxRetries defaults to 3 for both.
func parseConfigurationConfig(spec component.Spec) (*config, error) {
	return parseContribConfig(spec, 2*time.Second)
}

// parseBindingConfig is parseConfig as contrib parses an output binding:
// no legacy names and go-redis's own backoff (8 ms to 512 ms).
func parseBindingConfig(spec component.Spec) (*config, error) {
	return parseContribConfig(spec, 512*time.Millisecond)
}

// parseContribConfig is parseConfig without the state store's legacy names
// and its 2 s minimum backoff: the minimum defaults to 8 ms, the maximum
// to maxBackoff.
func parseContribConfig(spec component.Spec, maxBackoff time.Duration) (*config, error) {
	md := make(map[string]string, len(spec.Metadata))
	for k, v := range spec.Metadata {
		if strings.EqualFold(k, "maxRetries") || strings.EqualFold(k, "maxRetryBackoff") {
			continue
		}
		md[k] = v
	}
	spec.Metadata = md
	cfg, err := parseConfig(spec)
	if err != nil {
		return nil, err
	}
	// An explicit 0 is go-redis's default (8 ms min, 512 ms max) in daprd;
	// parseConfig already maps a max of 0 to 512 ms.
	if v, ok := metaLookup(spec, "redisMinRetryInterval"); !ok {
		cfg.minRetryBackoff = 8 * time.Millisecond
	} else if d, _ := parseDuration("redisMinRetryInterval", v); d == 0 {
		cfg.minRetryBackoff = 8 * time.Millisecond
	}
	if _, ok := metaLookup(spec, "redisMaxRetryInterval"); !ok {
		cfg.maxRetryBackoff = maxBackoff
	}
	return cfg, nil
}

// Client returns the underlying go-redis client (for tests and tools).
func (s *ConfigStore) Client() goredis.UniversalClient { return s.client }

// Get implements configstore.Store. Without keys it reads every key (KEYS *,
// on every master of a cluster). Each key is read with GET; a missing key
// and a key that is not a string (WRONGTYPE) are skipped, and so is an item
// whose value is empty. meta is ignored, as in daprd.
func (s *ConfigStore) Get(ctx context.Context, keys []string, _ map[string]string) (map[string]*configstore.Item, error) {
	if len(keys) == 0 {
		var err error
		if keys, err = s.allKeys(ctx); err != nil {
			s.log.Error(fmt.Sprintf("failed to all keys, error is %s", err))
			return nil, err
		}
	}
	items := make(map[string]*configstore.Item, len(keys))
	for _, k := range keys {
		v, err := s.client.Get(ctx, k).Result()
		if err != nil {
			if errors.Is(err, goredis.Nil) {
				s.log.Warn(fmt.Sprintf("redis key %s does not exist, ignore it", k))
				continue
			}
			if strings.Contains(err.Error(), "WRONGTYPE") {
				s.log.Warn(fmt.Sprintf("redis key %s 's type is not supported, ignore it", k))
				continue
			}
			return nil, fmt.Errorf("fail to get configuration for redis key=%s, error is %s", k, err)
		}
		value, version := splitConfigValue(v)
		if value != "" {
			items[k] = &configstore.Item{Value: value, Version: version, Metadata: map[string]string{}}
		}
	}
	return items, nil
}

// allKeys runs KEYS * (on each master of a cluster: daprd asks one node).
func (s *ConfigStore) allKeys(ctx context.Context) ([]string, error) {
	cc, ok := s.client.(*goredis.ClusterClient)
	if !ok {
		return s.client.Keys(ctx, "*").Result()
	}
	var mu sync.Mutex
	var all []string
	err := cc.ForEachMaster(ctx, func(ctx context.Context, c *goredis.Client) error {
		ks, err := c.Keys(ctx, "*").Result()
		mu.Lock()
		all = append(all, ks...)
		mu.Unlock()
		return err
	})
	return all, err
}

// splitConfigValue splits "value||version" as daprd does (strings.Split:
// the first part is the value, the second the version, any further parts
// are dropped; without a separator the version is "").
func splitConfigValue(v string) (value, version string) {
	parts := strings.Split(v, configSeparator)
	if len(parts) == 1 {
		return parts[0], ""
	}
	return parts[0], parts[1]
}

// keyspaceChannel is the keyspace notification channel of key (or pattern).
func keyspaceChannel(db int, key string) string {
	return keyspacePrefix + strconv.Itoa(db) + "__:" + key
}

// keyFromChannel is the key a keyspace notification channel names.
func keyFromChannel(db int, channel string) (string, error) {
	prefix := keyspacePrefix + strconv.Itoa(db) + "__:"
	i := strings.Index(channel, prefix)
	if i == -1 {
		return "", fmt.Errorf("wrong format of event channel, it should start with '%s': eventChannel=%s", prefix, channel)
	}
	// daprd slices from len(prefix), not from i+len(prefix); the same for
	// a channel that starts with the prefix, the only kind Redis sends.
	return channel[len(prefix):], nil
}

// subTarget is one pubsub connection of a subscription: the client to
// subscribe with, and the channels (or the pattern) on it.
type subTarget struct {
	client   goredis.UniversalClient
	channels []string
	pattern  bool
}

// Subscribe implements configstore.Store. It enables keyspace
// notifications (CONFIG SET notify-keyspace-events Kg$xe; an error is
// ignored, as in daprd, for servers where CONFIG is disabled and the
// setting is made by the operator), then subscribes to
// __keyspace@<db>__:<key> for each key, or to the pattern
// __keyspace@<db>__:* without keys. On every notification the changed key
// is read with Get and delivered to h; a key that is gone (deleted,
// expired, or no longer a non-empty string) is delivered as an empty Item.
// Events of one subscription are delivered one at a time, in the order
// Redis sent them (per node on a cluster).
//
// Unlike daprd, Subscribe returns only after Redis has acknowledged every
// SUBSCRIBE/PSUBSCRIBE, so a write made after Subscribe returns is
// delivered (daprd subscribes in a goroutine and returns at once, so an
// early write can be missed), and a failure to subscribe is returned
// (daprd returns an ID and go-redis keeps retrying in the background).
//
// Redis Cluster: keyspace notifications are local to the node that owns
// the key, and go-redis's ClusterClient.Subscribe connects to the master
// owning the slot of the channel name ("__keyspace@0__:<key>", not of the
// key), PSubscribe to a random node; daprd (which uses them) thus sees only
// the changes of keys that happen to live on that node. statecar instead
// subscribes on the master of each key's own slot (MasterForKey) and, for
// all keys, on every master (ForEachMaster), with one connection per node.
// The node is chosen at Subscribe: after a resharding or a failover that
// moves a key to another node, its changes are no longer seen until the
// app subscribes again.
func (s *ConfigStore) Subscribe(ctx context.Context, keys []string, _ map[string]string, h configstore.Handler) (string, error) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return "", errors.New("redis store: the configuration store is closed")
	}
	id, err := component.NewUUID()
	if err != nil {
		return "", err
	}
	s.enableKeyspaceEvents(ctx)
	targets, err := s.subTargets(ctx, keys)
	if err != nil {
		return "", err
	}
	sctx, cancel := context.WithCancel(ctx)
	var pubsubs []*goredis.PubSub
	var pending [][]*goredis.Message
	fail := func(err error) (string, error) {
		cancel()
		for _, p := range pubsubs {
			p.Close()
		}
		return "", err
	}
	for _, t := range targets {
		p, early, err := s.subscribeTarget(sctx, t)
		if err != nil {
			return fail(fmt.Errorf("redis store: cannot subscribe to %s: %w", strings.Join(t.channels, ","), err))
		}
		pubsubs = append(pubsubs, p)
		pending = append(pending, early)
	}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fail(errors.New("redis store: the configuration store is closed"))
	}
	s.subs[id] = &configSub{cancel: cancel}
	s.wg.Add(1)
	s.mu.Unlock()

	var deliver sync.Mutex // one event at a time across the nodes of a cluster
	var readers sync.WaitGroup
	for i, p := range pubsubs {
		readers.Add(1)
		go func() {
			defer readers.Done()
			defer p.Close()
			for _, m := range pending[i] {
				s.handleChange(sctx, &deliver, id, m.Channel, h)
			}
			ch := p.Channel()
			for {
				select {
				case <-sctx.Done():
					return
				case m, ok := <-ch:
					if !ok {
						return
					}
					// A message that raced with Unsubscribe (both ready
					// in the select) is not delivered.
					if sctx.Err() != nil {
						return
					}
					s.handleChange(sctx, &deliver, id, m.Channel, h)
				}
			}
		}()
	}
	go func() {
		readers.Wait()
		cancel()
		s.mu.Lock()
		delete(s.subs, id)
		s.mu.Unlock()
		s.wg.Done()
	}()
	return id, nil
}

// enableKeyspaceEvents sets notify-keyspace-events (on every node of a
// cluster), ignoring errors as daprd does.
func (s *ConfigStore) enableKeyspaceEvents(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, initStepTimeout(s.cfg))
	defer cancel()
	if cc, ok := s.client.(*goredis.ClusterClient); ok {
		_ = cc.ForEachShard(cctx, func(ctx context.Context, c *goredis.Client) error {
			return c.ConfigSet(ctx, "notify-keyspace-events", keyspaceEvents).Err()
		})
		return
	}
	_ = s.client.ConfigSet(cctx, "notify-keyspace-events", keyspaceEvents).Err()
}

// subTargets says which connections a subscription to keys needs: one on
// the client, or on a cluster one per master involved.
func (s *ConfigStore) subTargets(ctx context.Context, keys []string) ([]subTarget, error) {
	db := s.cfg.db
	cc, isCluster := s.client.(*goredis.ClusterClient)
	if len(keys) == 0 {
		all := []string{keyspaceChannel(db, "*")}
		if !isCluster {
			return []subTarget{{client: s.client, channels: all, pattern: true}}, nil
		}
		var mu sync.Mutex
		var ts []subTarget
		err := cc.ForEachMaster(ctx, func(ctx context.Context, c *goredis.Client) error {
			mu.Lock()
			ts = append(ts, subTarget{client: c, channels: all, pattern: true})
			mu.Unlock()
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("redis store: cannot list the cluster masters: %w", err)
		}
		return ts, nil
	}
	var chans, uniq []string
	seen := map[string]bool{}
	for _, k := range keys {
		if c := keyspaceChannel(db, k); !seen[c] {
			seen[c] = true
			chans = append(chans, c)
			uniq = append(uniq, k)
		}
	}
	if !isCluster {
		return []subTarget{{client: s.client, channels: chans}}, nil
	}
	byNode := map[*goredis.Client]int{} // node -> index in ts
	var ts []subTarget
	for i, k := range uniq {
		node, err := cc.MasterForKey(ctx, k)
		if err != nil {
			return nil, fmt.Errorf("redis store: cannot find the cluster node of key %s: %w", k, err)
		}
		j, ok := byNode[node]
		if !ok {
			j = len(ts)
			byNode[node] = j
			ts = append(ts, subTarget{client: node})
		}
		ts[j].channels = append(ts[j].channels, chans[i])
	}
	return ts, nil
}

// subscribeTarget opens the pubsub connection of t, sends SUBSCRIBE (or
// PSUBSCRIBE) and waits for Redis to acknowledge every channel. Messages
// read while waiting (none in practice: Redis replies to one command
// before it publishes anything else on the connection) are returned to be
// delivered first.
func (s *ConfigStore) subscribeTarget(ctx context.Context, t subTarget) (*goredis.PubSub, []*goredis.Message, error) {
	var p *goredis.PubSub
	var err error
	if t.pattern {
		p = t.client.PSubscribe(ctx)
		err = p.PSubscribe(ctx, t.channels...)
	} else {
		p = t.client.Subscribe(ctx)
		err = p.Subscribe(ctx, t.channels...)
	}
	if err != nil {
		p.Close()
		return nil, nil, err
	}
	deadline := time.Now().Add(initStepTimeout(s.cfg))
	acked := map[string]bool{}
	var early []*goredis.Message
	for len(acked) < len(t.channels) {
		left := time.Until(deadline)
		if left <= 0 {
			p.Close()
			return nil, nil, errors.New("timed out waiting for the subscription to be acknowledged")
		}
		msg, err := p.ReceiveTimeout(ctx, left)
		if err != nil {
			p.Close()
			return nil, nil, err
		}
		switch m := msg.(type) {
		case *goredis.Subscription:
			if m.Kind == "subscribe" || m.Kind == "psubscribe" {
				acked[m.Channel] = true
			}
		case *goredis.Message:
			early = append(early, m)
		}
	}
	return p, early, nil
}

// handleChange delivers the change of the key that channel names: its
// item, or an empty item when it is gone. A Get error is logged and the
// event dropped, as in daprd.
func (s *ConfigStore) handleChange(ctx context.Context, deliver *sync.Mutex, id, channel string, h configstore.Handler) {
	key, err := keyFromChannel(s.cfg.db, channel)
	if err != nil {
		s.log.Error(fmt.Sprintf("parse redis key failed: %s", err))
		return
	}
	deliver.Lock()
	defer deliver.Unlock()
	if ctx.Err() != nil {
		return
	}
	items, err := s.Get(ctx, []string{key}, nil)
	if err != nil {
		s.log.Error(fmt.Sprintf("get response from redis failed: %s", err))
		return
	}
	if len(items) == 0 {
		items = map[string]*configstore.Item{key: {}}
	}
	if err := h(ctx, &configstore.UpdateEvent{ID: id, Items: items}); err != nil {
		s.log.Error(fmt.Sprintf("fail to call handler to notify event for configuration update subscribe: %s", err))
	}
}

// Unsubscribe implements configstore.Store: it cancels subscription id. A
// handler call in progress finishes; no event is delivered after
// Unsubscribe returns. An unknown id (never issued, already unsubscribed,
// or ended with its context) is an error.
func (s *ConfigStore) Unsubscribe(_ context.Context, id string) error {
	s.mu.Lock()
	sub, ok := s.subs[id]
	delete(s.subs, id)
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("subscription with id %s does not exist", id)
	}
	sub.cancel()
	return nil
}

// Close implements configstore.Store: it cancels every subscription, waits
// for their goroutines (and so for a handler call in progress: do not call
// Close from a handler) and closes the client. Close must be called once.
func (s *ConfigStore) Close() error {
	s.mu.Lock()
	s.closed = true
	for id, sub := range s.subs {
		sub.cancel()
		delete(s.subs, id)
	}
	s.mu.Unlock()
	s.wg.Wait()
	return s.client.Close()
}
