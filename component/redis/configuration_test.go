package redis

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/statecar/statecar/component"
	"github.com/statecar/statecar/component/configstore"
	"github.com/statecar/statecar/internal/testsrv"
)

// eventWait bounds every wait for a subscription event.
const eventWait = 5 * time.Second

// quietWait is how long a test watches for an event that must not come.
const quietWait = 300 * time.Millisecond

func cfgKey(t testing.TB) string {
	return fmt.Sprintf("cfg-%s-%d", strings.ReplaceAll(t.Name(), "/", "-"), keySeq.Add(1))
}

func newConfigStore(t testing.TB, md map[string]string) *ConfigStore {
	t.Helper()
	testsrv.Require(t, srvErr)
	return newConfigStoreAt(t, srv.Addr, md, nil)
}

func newConfigStoreAt(t testing.TB, addr string, md map[string]string, log *slog.Logger) *ConfigStore {
	t.Helper()
	meta := map[string]string{"redisHost": addr}
	for k, v := range md {
		meta[k] = v
	}
	s, err := OpenConfiguration(context.Background(), component.Spec{Name: "cfgtest", Type: "configuration.redis", Metadata: meta}, component.Env{Logger: log})
	if err != nil {
		t.Fatalf("OpenConfiguration: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// rawDB is a plain client on database db of the package's server.
func rawDB(t testing.TB, db int) *goredis.Client {
	c := goredis.NewClient(&goredis.Options{Addr: srv.Addr, DB: db})
	t.Cleanup(func() { c.Close() })
	return c
}

func mustDo(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// recorder is a handler that queues the events it receives.
type recorder chan *configstore.UpdateEvent

func newRecorder() recorder { return make(recorder, 100) }

func (r recorder) handle(_ context.Context, e *configstore.UpdateEvent) error {
	r <- e
	return nil
}

// next waits for the next event.
func (r recorder) next(t testing.TB) *configstore.UpdateEvent {
	t.Helper()
	select {
	case e := <-r:
		return e
	case <-time.After(eventWait):
		t.Fatalf("no event within %v", eventWait)
		return nil
	}
}

// nextFor waits for the next event about key, skipping events about other
// keys (written by other tests to the shared server).
func (r recorder) nextFor(t testing.TB, key string) *configstore.UpdateEvent {
	t.Helper()
	deadline := time.After(eventWait)
	for {
		select {
		case e := <-r:
			if _, ok := e.Items[key]; ok {
				return e
			}
		case <-deadline:
			t.Fatalf("no event for %s within %v", key, eventWait)
			return nil
		}
	}
}

// none checks that no event arrives for a while.
func (r recorder) none(t testing.TB) {
	t.Helper()
	select {
	case e := <-r:
		t.Fatalf("unexpected event %+v", items(e))
	case <-time.After(quietWait):
	}
}

// items renders an event's items as key=value/version for messages and
// comparisons.
func items(e *configstore.UpdateEvent) map[string]string {
	m := map[string]string{}
	for k, it := range e.Items {
		if it == nil {
			m[k] = "<nil>"
			continue
		}
		m[k] = it.Value + "/" + it.Version
	}
	return m
}

func wantEvent(t testing.TB, e *configstore.UpdateEvent, id string, want map[string]string) {
	t.Helper()
	if e.ID != id {
		t.Fatalf("event ID %q, want %q", e.ID, id)
	}
	if got := items(e); !reflect.DeepEqual(got, want) {
		t.Fatalf("event items %v, want %v", got, want)
	}
}

// numSub is PUBSUB NUMSUB of channel.
func numSub(t testing.TB, c *goredis.Client, channel string) int64 {
	t.Helper()
	m, err := c.PubSubNumSub(context.Background(), channel).Result()
	mustDo(t, err)
	return m[channel]
}

// waitNumSub polls until PUBSUB NUMSUB of channel is want (a closed
// connection is dropped by the server asynchronously).
func waitNumSub(t testing.TB, c *goredis.Client, channel string, want int64) {
	t.Helper()
	deadline := time.Now().Add(eventWait)
	for {
		n := numSub(t, c, channel)
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("PUBSUB NUMSUB %s = %d, want %d", channel, n, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func getItems(t testing.TB, s *ConfigStore, keys ...string) map[string]string {
	t.Helper()
	m, err := s.Get(context.Background(), keys, map[string]string{"ignored": "x"})
	if err != nil {
		t.Fatalf("Get(%v): %v", keys, err)
	}
	return items(&configstore.UpdateEvent{Items: m})
}

func TestConfigurationRegistered(t *testing.T) {
	testsrv.Require(t, srvErr)
	found := false
	for _, typ := range configstore.Types() {
		found = found || typ == "configuration.redis"
	}
	if !found {
		t.Fatalf("configuration.redis not in %v", configstore.Types())
	}
	st, err := configstore.Open(context.Background(), component.Spec{Name: "c", Type: "configuration.redis", Metadata: map[string]string{"redisHost": srv.Addr}}, component.Env{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer st.Close()
	if _, ok := st.(*ConfigStore); !ok {
		t.Fatalf("Open returned %T", st)
	}
}

func TestConfigurationConnectError(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	mustDo(t, err)
	addr := l.Addr().String()
	l.Close()
	_, err = OpenConfiguration(context.Background(), component.Spec{Name: "c", Type: "configuration.redis",
		Metadata: map[string]string{"redisHost": addr, "dialTimeout": "200ms"}}, component.Env{})
	want := "redis store: error connecting to redis at " + addr + ": "
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("got %v, want an error starting %q", err, want)
	}
}

// TestConfigurationDefaults checks daprd's configuration-store defaults:
// retries 3, backoff 8 ms to 2 s, and the state store's legacy names
// maxRetries/maxRetryBackoff not read.
func TestConfigurationDefaults(t *testing.T) {
	cfg, err := parseConfigurationConfig(component.Spec{Metadata: map[string]string{
		"redisHost": "h", "maxRetries": "9", "maxRetryBackoff": "5000000000",
	}})
	mustDo(t, err)
	if cfg.maxRetries != 3 || cfg.minRetryBackoff != 8*time.Millisecond || cfg.maxRetryBackoff != 2*time.Second {
		t.Fatalf("defaults: retries %d, backoff %v..%v", cfg.maxRetries, cfg.minRetryBackoff, cfg.maxRetryBackoff)
	}
	cfg, err = parseConfigurationConfig(component.Spec{Metadata: map[string]string{
		"redisHost": "h", "redisMaxRetries": "5", "redisMinRetryInterval": "100", "redisMaxRetryInterval": "0",
	}})
	mustDo(t, err)
	if cfg.maxRetries != 5 || cfg.minRetryBackoff != 100*time.Millisecond || cfg.maxRetryBackoff != 512*time.Millisecond {
		t.Fatalf("set: retries %d, backoff %v..%v", cfg.maxRetries, cfg.minRetryBackoff, cfg.maxRetryBackoff)
	}
	cfg, err = parseConfigurationConfig(component.Spec{Metadata: map[string]string{"redisHost": "h", "redisMinRetryInterval": "0"}})
	mustDo(t, err)
	if cfg.minRetryBackoff != 8*time.Millisecond {
		t.Fatalf("redisMinRetryInterval=0: %v, want go-redis's 8ms", cfg.minRetryBackoff)
	}
}

func TestConfigurationSplitValue(t *testing.T) {
	for in, want := range map[string][2]string{
		"v":       {"v", ""},
		"v||1":    {"v", "1"},
		"a||b||c": {"a", "b"},
		"||7":     {"", "7"},
		"":        {"", ""},
		"a|b":     {"a|b", ""},
	} {
		v, ver := splitConfigValue(in)
		if v != want[0] || ver != want[1] {
			t.Errorf("splitConfigValue(%q) = %q, %q; want %q, %q", in, v, ver, want[0], want[1])
		}
	}
}

func TestConfigurationGet(t *testing.T) {
	s := newConfigStore(t, nil)
	ctx := context.Background()
	rc := rawDB(t, 0)
	k1, k2, k3, kEmpty, kNoValue, kHash, kMissing := cfgKey(t), cfgKey(t), cfgKey(t), cfgKey(t), cfgKey(t), cfgKey(t), cfgKey(t)
	mustDo(t, rc.Set(ctx, k1, "v1||3", 0).Err())
	mustDo(t, rc.Set(ctx, k2, "v2", 0).Err())
	mustDo(t, rc.Set(ctx, k3, "a||b||c", 0).Err())
	mustDo(t, rc.Set(ctx, kEmpty, "", 0).Err())
	mustDo(t, rc.Set(ctx, kNoValue, "||7", 0).Err())
	mustDo(t, rc.HSet(ctx, kHash, "data", "x").Err())

	if got, want := getItems(t, s, k1), map[string]string{k1: "v1/3"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("one key: %v, want %v", got, want)
	}
	got := getItems(t, s, k1, k2, k3, kEmpty, kNoValue, kHash, kMissing)
	want := map[string]string{k1: "v1/3", k2: "v2/", k3: "a/b"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("many keys: %v, want %v", got, want)
	}
	if got := getItems(t, s, kMissing); len(got) != 0 {
		t.Fatalf("missing key: %v", got)
	}
}

// TestConfigurationGetAll reads every key of a database of its own.
func TestConfigurationGetAll(t *testing.T) {
	s := newConfigStore(t, map[string]string{"redisDB": "7"})
	ctx := context.Background()
	rc := rawDB(t, 7)
	mustDo(t, rc.FlushDB(ctx).Err())
	mustDo(t, rc.Set(ctx, "a", "1||v1", 0).Err())
	mustDo(t, rc.Set(ctx, "b", "2", 0).Err())
	mustDo(t, rc.Set(ctx, "empty", "", 0).Err())
	mustDo(t, rc.HSet(ctx, "hash", "f", "x").Err())
	mustDo(t, rc.RPush(ctx, "list", "x").Err())
	want := map[string]string{"a": "1/v1", "b": "2/"}
	if got := getItems(t, s); !reflect.DeepEqual(got, want) {
		t.Fatalf("all keys: %v, want %v", got, want)
	}
	if got := getItems(t, s, []string{}...); !reflect.DeepEqual(got, want) {
		t.Fatalf("all keys (empty slice): %v, want %v", got, want)
	}
}

func TestConfigurationGetError(t *testing.T) {
	s := newConfigStore(t, map[string]string{"redisMaxRetries": "0"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Get(ctx, []string{"k"}, nil)
	want := "fail to get configuration for redis key=k, error is "
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("got %v, want an error starting %q", err, want)
	}
}

// TestConfigurationSubscribeOneKey also checks that Subscribe returns with
// the subscription in place: the write right after it is delivered.
func TestConfigurationSubscribeOneKey(t *testing.T) {
	s := newConfigStore(t, nil)
	ctx := context.Background()
	rc := rawDB(t, 0)
	k, other := cfgKey(t), cfgKey(t)
	rec := newRecorder()
	id, err := s.Subscribe(ctx, []string{k}, nil, rec.handle)
	mustDo(t, err)
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(id) {
		t.Fatalf("subscription ID %q is not a UUID v4", id)
	}
	if n := numSub(t, rc, "__keyspace@0__:"+k); n != 1 {
		t.Fatalf("PUBSUB NUMSUB right after Subscribe: %d, want 1", n)
	}
	if cfg, err := rc.ConfigGet(ctx, "notify-keyspace-events").Result(); err != nil || len(cfg["notify-keyspace-events"]) == 0 || !strings.Contains(cfg["notify-keyspace-events"], "K") {
		t.Fatalf("notify-keyspace-events not enabled: %v %v", cfg, err)
	}
	mustDo(t, rc.Set(ctx, other, "x", 0).Err())
	mustDo(t, rc.Set(ctx, k, "v||1", 0).Err())
	wantEvent(t, rec.next(t), id, map[string]string{k: "v/1"})
	mustDo(t, rc.Set(ctx, k, "w", 0).Err())
	wantEvent(t, rec.next(t), id, map[string]string{k: "w/"})
	mustDo(t, rc.Del(ctx, k).Err())
	e := rec.next(t)
	wantEvent(t, e, id, map[string]string{k: "/"})
	if it := e.Items[k]; it == nil || it.Value != "" || it.Version != "" || len(it.Metadata) != 0 {
		t.Fatalf("deleted key: item %+v, want an empty item", it)
	}
	// An expiring key is delivered on EXPIRE and again (empty) when it
	// expires.
	mustDo(t, rc.Set(ctx, k, "t||2", 50*time.Millisecond).Err())
	wantEvent(t, rec.next(t), id, map[string]string{k: "t/2"})
	for {
		e := rec.next(t)
		if items(e)[k] == "/" {
			break
		}
		wantEvent(t, e, id, map[string]string{k: "t/2"}) // the "expire" notification of SET PX
	}
	rec.none(t)
}

func TestConfigurationSubscribeAll(t *testing.T) {
	s := newConfigStore(t, nil)
	ctx := context.Background()
	rc := rawDB(t, 0)
	k := cfgKey(t)
	rec := newRecorder()
	id, err := s.Subscribe(ctx, nil, nil, rec.handle)
	mustDo(t, err)
	mustDo(t, rc.Set(ctx, k, "all||9", 0).Err())
	wantEvent(t, rec.nextFor(t, k), id, map[string]string{k: "all/9"})
	mustDo(t, rc.Del(ctx, k).Err())
	wantEvent(t, rec.nextFor(t, k), id, map[string]string{k: "/"})
	k2 := cfgKey(t)
	mustDo(t, rc.Set(ctx, k2, "two", 0).Err())
	wantEvent(t, rec.nextFor(t, k2), id, map[string]string{k2: "two/"})
}

// TestConfigurationSubscribeTwoKeys subscribes to two keys at once: each
// change arrives as its own event, in order, and other keys are not
// delivered.
func TestConfigurationSubscribeTwoKeys(t *testing.T) {
	s := newConfigStore(t, nil)
	ctx := context.Background()
	rc := rawDB(t, 0)
	a, b, c := cfgKey(t), cfgKey(t), cfgKey(t)
	rec := newRecorder()
	id, err := s.Subscribe(ctx, []string{a, b, a}, nil, rec.handle)
	mustDo(t, err)
	// The store reads a key when its notification arrives (as contrib
	// does), so each change is awaited before the next one: a SET followed
	// at once by a DEL may legitimately be read as the deleted value.
	mustDo(t, rc.Set(ctx, a, "A", 0).Err())
	wantEvent(t, rec.next(t), id, map[string]string{a: "A/"})
	mustDo(t, rc.Set(ctx, b, "B||2", 0).Err())
	wantEvent(t, rec.next(t), id, map[string]string{b: "B/2"})
	// c is not subscribed: the next event is a's deletion, not c.
	mustDo(t, rc.Set(ctx, c, "C", 0).Err())
	mustDo(t, rc.Del(ctx, a).Err())
	wantEvent(t, rec.next(t), id, map[string]string{a: "/"})
	rec.none(t)
}

// TestConfigurationSerialDelivery checks that a slow handler is not called
// concurrently for one subscription.
func TestConfigurationSerialDelivery(t *testing.T) {
	s := newConfigStore(t, nil)
	ctx := context.Background()
	rc := rawDB(t, 0)
	a, b := cfgKey(t), cfgKey(t)
	var mu sync.Mutex
	inFlight, maxInFlight, calls := 0, 0, 0
	done := make(chan struct{}, 10)
	_, err := s.Subscribe(ctx, []string{a, b}, nil, func(context.Context, *configstore.UpdateEvent) error {
		mu.Lock()
		inFlight++
		calls++
		maxInFlight = max(maxInFlight, inFlight)
		mu.Unlock()
		time.Sleep(20 * time.Millisecond)
		mu.Lock()
		inFlight--
		mu.Unlock()
		done <- struct{}{}
		return nil
	})
	mustDo(t, err)
	for i := 0; i < 3; i++ {
		mustDo(t, rc.Set(ctx, a, "x", 0).Err())
		mustDo(t, rc.Set(ctx, b, "y", 0).Err())
	}
	for i := 0; i < 6; i++ {
		select {
		case <-done:
		case <-time.After(eventWait):
			t.Fatalf("only %d of 6 events", i)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if maxInFlight != 1 {
		t.Fatalf("handler ran %d at once", maxInFlight)
	}
}

// TestConfigurationHandlerError logs a handler error and keeps delivering.
func TestConfigurationHandlerError(t *testing.T) {
	testsrv.Require(t, srvErr)
	var buf syncBuffer
	s := newConfigStoreAt(t, srv.Addr, nil, slog.New(slog.NewTextHandler(&buf, nil)))
	ctx := context.Background()
	rc := rawDB(t, 0)
	k := cfgKey(t)
	rec := newRecorder()
	first := true
	_, err := s.Subscribe(ctx, []string{k}, nil, func(ctx context.Context, e *configstore.UpdateEvent) error {
		if first {
			first = false
			return errors.New("app is down")
		}
		return rec.handle(ctx, e)
	})
	mustDo(t, err)
	mustDo(t, rc.Set(ctx, k, "1", 0).Err())
	mustDo(t, rc.Set(ctx, k, "2", 0).Err())
	if got := items(rec.next(t)); got[k] != "2/" {
		t.Fatalf("second event %v", got)
	}
	if !strings.Contains(buf.String(), "fail to call handler to notify event for configuration update subscribe: app is down") {
		t.Fatalf("handler error not logged: %q", buf.String())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestConfigurationUnsubscribe(t *testing.T) {
	s := newConfigStore(t, nil)
	ctx := context.Background()
	rc := rawDB(t, 0)
	k := cfgKey(t)
	rec := newRecorder()
	id, err := s.Subscribe(ctx, []string{k}, nil, rec.handle)
	mustDo(t, err)
	rec2 := newRecorder()
	id2, err := s.Subscribe(ctx, []string{k}, nil, rec2.handle)
	mustDo(t, err)
	if id == id2 {
		t.Fatalf("two subscriptions share ID %s", id)
	}
	mustDo(t, rc.Set(ctx, k, "1", 0).Err())
	wantEvent(t, rec.next(t), id, map[string]string{k: "1/"})
	wantEvent(t, rec2.next(t), id2, map[string]string{k: "1/"})

	mustDo(t, s.Unsubscribe(ctx, id))
	mustDo(t, rc.Set(ctx, k, "2", 0).Err())
	wantEvent(t, rec2.next(t), id2, map[string]string{k: "2/"}) // the other subscription lives on
	rec.none(t)
	waitNumSub(t, rc, "__keyspace@0__:"+k, 1)

	if err := s.Unsubscribe(ctx, id); err == nil || err.Error() != "subscription with id "+id+" does not exist" {
		t.Fatalf("second Unsubscribe: %v", err)
	}
	if err := s.Unsubscribe(ctx, "nope"); err == nil || err.Error() != "subscription with id nope does not exist" {
		t.Fatalf("unknown id: %v", err)
	}
}

// TestConfigurationContextEnds ends a subscription with its context: its
// connection is closed and its ID is forgotten.
func TestConfigurationContextEnds(t *testing.T) {
	s := newConfigStore(t, nil)
	rc := rawDB(t, 0)
	k := cfgKey(t)
	rec := newRecorder()
	ctx, cancel := context.WithCancel(context.Background())
	id, err := s.Subscribe(ctx, []string{k}, nil, rec.handle)
	mustDo(t, err)
	cancel()
	waitNumSub(t, rc, "__keyspace@0__:"+k, 0)
	mustDo(t, rc.Set(context.Background(), k, "1", 0).Err())
	rec.none(t)
	// The ID is forgotten once the subscription's goroutines have ended
	// (just after its connection closed); Unsubscribe of it then fails.
	deadline := time.Now().Add(eventWait)
	for {
		s.mu.Lock()
		_, live := s.subs[id]
		s.mu.Unlock()
		if !live {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the ended subscription is still registered")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := s.Unsubscribe(context.Background(), id); err == nil {
		t.Fatal("Unsubscribe of an ended subscription succeeded")
	}
}

func TestConfigurationClose(t *testing.T) {
	testsrv.Require(t, srvErr)
	s, err := OpenConfiguration(context.Background(), component.Spec{Name: "c", Type: "configuration.redis", Metadata: map[string]string{"redisHost": srv.Addr}}, component.Env{})
	mustDo(t, err)
	ctx := context.Background()
	rc := rawDB(t, 0)
	a, b := cfgKey(t), cfgKey(t)
	rec := newRecorder()
	_, err = s.Subscribe(ctx, []string{a}, nil, rec.handle)
	mustDo(t, err)
	_, err = s.Subscribe(ctx, []string{b}, nil, rec.handle)
	mustDo(t, err)
	if numSub(t, rc, "__keyspace@0__:"+a) != 1 || numSub(t, rc, "__keyspace@0__:"+b) != 1 {
		t.Fatal("subscriptions not in place")
	}
	mustDo(t, s.Close())
	waitNumSub(t, rc, "__keyspace@0__:"+a, 0)
	waitNumSub(t, rc, "__keyspace@0__:"+b, 0)
	mustDo(t, rc.Set(ctx, a, "1", 0).Err())
	rec.none(t)
	if _, err := s.Subscribe(ctx, []string{a}, nil, rec.handle); err == nil {
		t.Fatal("Subscribe after Close succeeded")
	}
}

// TestConfigurationDB subscribes on redisDB 4: the channel is
// __keyspace@4__, and a write to the same key in database 0 is not seen.
func TestConfigurationDB(t *testing.T) {
	s := newConfigStore(t, map[string]string{"redisDB": "4"})
	ctx := context.Background()
	rc0, rc4 := rawDB(t, 0), rawDB(t, 4)
	k := cfgKey(t)
	rec := newRecorder()
	id, err := s.Subscribe(ctx, []string{k}, nil, rec.handle)
	mustDo(t, err)
	if numSub(t, rc0, "__keyspace@4__:"+k) != 1 || numSub(t, rc0, "__keyspace@0__:"+k) != 0 {
		t.Fatal("not subscribed to __keyspace@4__")
	}
	mustDo(t, rc0.Set(ctx, k, "db0", 0).Err())
	mustDo(t, rc4.Set(ctx, k, "db4||1", 0).Err())
	wantEvent(t, rec.next(t), id, map[string]string{k: "db4/1"})
	rec.none(t)
	if got := getItems(t, s, k); got[k] != "db4/1" {
		t.Fatalf("Get on DB 4: %v", got)
	}

	all := newRecorder()
	id, err = s.Subscribe(ctx, nil, nil, all.handle)
	mustDo(t, err)
	mustDo(t, rc0.Set(ctx, k, "db0-again", 0).Err())
	mustDo(t, rc4.Del(ctx, k).Err())
	wantEvent(t, all.next(t), id, map[string]string{k: "/"})
}

// TestConfigurationCluster runs on a two-master cluster: Get without keys
// reads both nodes, and subscriptions see keys on either node.
func TestConfigurationCluster(t *testing.T) {
	c, err := testsrv.StartRedisCluster(2)
	testsrv.Require(t, err)
	defer c.Close()
	s := newConfigStoreAt(t, c.Addrs(), map[string]string{"redisType": "cluster"}, nil)
	ctx := context.Background()
	// Keys on the first (slots 0-8191) and second node.
	var k0, k1 string
	for i := 0; k0 == "" || k1 == ""; i++ {
		k := fmt.Sprintf("ck%d", i)
		if keySlot(k) < 8192 && k0 == "" {
			k0 = k
		} else if keySlot(k) >= 8192 && k1 == "" {
			k1 = k
		}
	}
	cc := s.Client()

	recKeys, recAll := newRecorder(), newRecorder()
	idKeys, err := s.Subscribe(ctx, []string{k0, k1}, nil, recKeys.handle)
	mustDo(t, err)
	idAll, err := s.Subscribe(ctx, nil, nil, recAll.handle)
	mustDo(t, err)

	mustDo(t, cc.Set(ctx, k0, "zero||0", 0).Err())
	wantEvent(t, recKeys.next(t), idKeys, map[string]string{k0: "zero/0"})
	wantEvent(t, recAll.next(t), idAll, map[string]string{k0: "zero/0"})
	mustDo(t, cc.Set(ctx, k1, "one||1", 0).Err())
	wantEvent(t, recKeys.next(t), idKeys, map[string]string{k1: "one/1"})
	wantEvent(t, recAll.next(t), idAll, map[string]string{k1: "one/1"})

	if got, want := getItems(t, s), map[string]string{k0: "zero/0", k1: "one/1"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Get all on the cluster: %v, want %v", got, want)
	}
	mustDo(t, s.Unsubscribe(ctx, idKeys))
	mustDo(t, cc.Del(ctx, k1).Err())
	wantEvent(t, recAll.next(t), idAll, map[string]string{k1: "/"})
	recKeys.none(t)
}

// delayProxy forwards loopback TCP connections to addr, holding every
// client-to-server chunk for delay (server-to-client is not delayed).
func delayProxy(t testing.TB, addr string, delay time.Duration) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	mustDo(t, err)
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", addr)
			if err != nil {
				c.Close()
				continue
			}
			go func() {
				defer c.Close()
				defer u.Close()
				buf := make([]byte, 64<<10)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						time.Sleep(delay)
						if _, werr := u.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
			go func() {
				defer c.Close()
				defer u.Close()
				buf := make([]byte, 64<<10)
				for {
					n, err := u.Read(buf)
					if n > 0 {
						if _, werr := c.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return l.Addr().String()
}

// TestConfigurationSubscribeAcknowledged reaches Redis through a link
// that delays the store's commands by 200 ms: a write made (directly)
// right after Subscribe returns is still delivered, because Subscribe
// waits for the server's acknowledgement rather than only sending
// SUBSCRIBE (daprd subscribes in a goroutine and can miss it).
func TestConfigurationSubscribeAcknowledged(t *testing.T) {
	testsrv.Require(t, srvErr)
	s := newConfigStoreAt(t, delayProxy(t, srv.Addr, 200*time.Millisecond), nil, nil)
	ctx := context.Background()
	rc := rawDB(t, 0)
	for _, keys := range [][]string{{cfgKey(t)}, nil} {
		k := cfgKey(t)
		if keys != nil {
			k = keys[0]
		}
		rec := newRecorder()
		id, err := s.Subscribe(ctx, keys, nil, rec.handle)
		mustDo(t, err)
		mustDo(t, rc.Set(ctx, k, "early", 0).Err())
		wantEvent(t, rec.nextFor(t, k), id, map[string]string{k: "early/"})
		mustDo(t, s.Unsubscribe(ctx, id))
	}
}
