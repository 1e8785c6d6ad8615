package redis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/statecar/statecar/component"
	"github.com/statecar/statecar/component/pubsub"
	"github.com/statecar/statecar/internal/testsrv"
)

// psWait bounds every wait for a delivery or a state of the server.
const psWait = 10 * time.Second

func psTopic(t testing.TB) string {
	return fmt.Sprintf("ps-%s-%d", strings.ReplaceAll(t.Name(), "/", "-"), keySeq.Add(1))
}

func newPubSub(t testing.TB, md map[string]string) *PubSub {
	t.Helper()
	testsrv.Require(t, srvErr)
	return newPubSubEnv(t, md, component.Env{AppID: "psapp"})
}

func newPubSubEnv(t testing.TB, md map[string]string, env component.Env) *PubSub {
	t.Helper()
	meta := map[string]string{"redisHost": srv.Addr}
	for k, v := range md {
		meta[k] = v
	}
	p, err := OpenPubSub(context.Background(), component.Spec{Name: "ps", Type: "pubsub.redis", Metadata: meta}, env)
	if err != nil {
		t.Fatalf("OpenPubSub: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// waitUntil polls cond until it holds, failing the test after psWait.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(psWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func publish(t testing.TB, p *PubSub, topic, data string, md map[string]string) {
	t.Helper()
	if err := p.Publish(context.Background(), &pubsub.PublishRequest{Topic: topic, Data: []byte(data), Metadata: md}); err != nil {
		t.Fatalf("Publish %q: %v", data, err)
	}
}

func subscribe(t testing.TB, p *PubSub, ctx context.Context, topic string, h pubsub.Handler) {
	t.Helper()
	if err := p.Subscribe(ctx, pubsub.SubscribeRequest{Topic: topic}, h); err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
}

// pendingCount is the size of group's pending list on stream.
func pendingCount(t testing.TB, rc *goredis.Client, stream, group string) int64 {
	t.Helper()
	res, err := rc.XPending(context.Background(), stream, group).Result()
	if err != nil {
		t.Fatalf("XPENDING %s %s: %v", stream, group, err)
	}
	return res.Count
}

// blockedClients is the server's number of clients in a blocking command.
func blockedClients(t testing.TB, rc *goredis.Client) int {
	t.Helper()
	info, err := rc.Info(context.Background(), "clients").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "blocked_clients:"); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	t.Fatalf("no blocked_clients in INFO clients: %q", info)
	return 0
}

// msgLog records the messages a handler received.
type msgLog struct {
	mu   sync.Mutex
	msgs []pubsub.Message
}

func (l *msgLog) handle(_ context.Context, m *pubsub.Message) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, *m)
	return nil
}

func (l *msgLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.msgs)
}

// counts is how many times each payload was received.
func (l *msgLog) counts() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := map[string]int{}
	for _, m := range l.msgs {
		c[string(m.Data)]++
	}
	return c
}

// TestPubSubPublishStream checks the stream entries Publish writes: the
// field data, and metadata (the JSON of the request's metadata) unless the
// metadata is nil.
func TestPubSubPublishStream(t *testing.T) {
	p := newPubSub(t, nil)
	rc := rawDB(t, 0)
	topic := psTopic(t)
	publish(t, p, topic, "hello", map[string]string{"b": "two", "a": "1"})
	publish(t, p, topic, "bare", nil)
	publish(t, p, topic, "", map[string]string{})
	entries, err := rc.XRange(context.Background(), topic, "-", "+").Result()
	mustDo(t, err)
	want := []map[string]any{
		{"data": "hello", "metadata": `{"a":"1","b":"two"}`},
		{"data": "bare"},
		{"data": "", "metadata": "{}"},
	}
	if len(entries) != len(want) {
		t.Fatalf("%d entries, want %d: %v", len(entries), len(want), entries)
	}
	for i, e := range entries {
		if fmt.Sprint(e.Values) != fmt.Sprint(want[i]) {
			t.Errorf("entry %d: %v, want %v", i, e.Values, want[i])
		}
	}
	// Publish creates no consumer group.
	if groups, err := rc.XInfoGroups(context.Background(), topic).Result(); err != nil || len(groups) != 0 {
		t.Errorf("groups after Publish: %v %v", groups, err)
	}
}

// TestPubSubSubscribeDelivers: messages published before (the group starts
// at the beginning of the stream) and after Subscribe are delivered with
// their topic, data and metadata, and acknowledged.
func TestPubSubSubscribeDelivers(t *testing.T) {
	p := newPubSub(t, map[string]string{"consumerID": "c1"})
	rc := rawDB(t, 0)
	topic := psTopic(t)
	publish(t, p, topic, "early", map[string]string{"n": "0"})
	var l msgLog
	subscribe(t, p, context.Background(), topic, l.handle)
	if groups, err := rc.XInfoGroups(context.Background(), topic).Result(); err != nil || len(groups) != 1 || groups[0].Name != "c1" {
		t.Fatalf("groups after Subscribe: %v %v", groups, err)
	}
	for i := 1; i <= 3; i++ {
		publish(t, p, topic, "m"+strconv.Itoa(i), map[string]string{"n": strconv.Itoa(i)})
	}
	publish(t, p, topic, "nometa", nil)
	waitUntil(t, "5 deliveries", func() bool { return l.len() >= 5 })
	waitUntil(t, "an empty pending list", func() bool { return pendingCount(t, rc, topic, "c1") == 0 })
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.msgs) != 5 {
		t.Fatalf("%d deliveries, want 5: %v", len(l.msgs), l.msgs)
	}
	byData := map[string]pubsub.Message{}
	for _, m := range l.msgs {
		if m.Topic != topic {
			t.Errorf("message %q on topic %q, want %q", m.Data, m.Topic, topic)
		}
		byData[string(m.Data)] = m
	}
	for i, d := range []string{"early", "m1", "m2", "m3"} {
		m, ok := byData[d]
		if !ok {
			t.Errorf("message %q not delivered", d)
			continue
		}
		if fmt.Sprint(m.Metadata) != fmt.Sprint(map[string]string{"n": strconv.Itoa(i)}) {
			t.Errorf("message %q metadata %v", d, m.Metadata)
		}
	}
	if m, ok := byData["nometa"]; !ok || m.Metadata != nil {
		t.Errorf("message without metadata: %+v (delivered %v)", m, ok)
	}
}

// TestPubSubConsumerGroups: brokers with different consumerIDs each get
// every message; brokers with the same consumerID share them, each
// message delivered once.
func TestPubSubConsumerGroups(t *testing.T) {
	testsrv.Require(t, srvErr)
	rc := rawDB(t, 0)
	topic := psTopic(t)
	var g1, g2, g3 msgLog
	a := newPubSub(t, map[string]string{"consumerID": "g1"})
	b := newPubSub(t, map[string]string{"consumerID": "g2"})
	c1 := newPubSub(t, map[string]string{"consumerID": "g3"})
	c2 := newPubSub(t, map[string]string{"consumerID": "g3"})
	subscribe(t, a, context.Background(), topic, g1.handle)
	subscribe(t, b, context.Background(), topic, g2.handle)
	subscribe(t, c1, context.Background(), topic, g3.handle)
	subscribe(t, c2, context.Background(), topic, g3.handle)
	const n = 30
	for i := range n {
		publish(t, a, topic, strconv.Itoa(i), nil)
	}
	for _, g := range []struct {
		name string
		l    *msgLog
	}{{"g1", &g1}, {"g2", &g2}, {"g3", &g3}} {
		waitUntil(t, g.name+" deliveries", func() bool { return g.l.len() >= n })
		// Once nothing is pending every handler call has returned, and
		// nothing can be delivered again.
		waitUntil(t, g.name+" acknowledgements", func() bool { return pendingCount(t, rc, topic, g.name) == 0 })
		c := g.l.counts()
		if len(c) != n || g.l.len() != n {
			t.Errorf("%s: %d deliveries of %d distinct messages, want %d of %d", g.name, g.l.len(), len(c), n, n)
		}
	}
}

// TestPubSubDefaultConsumerID: without consumerID metadata the group is
// named after the app ID.
func TestPubSubDefaultConsumerID(t *testing.T) {
	testsrv.Require(t, srvErr)
	p := newPubSubEnv(t, map[string]string{"consumerID": "  "}, component.Env{AppID: "myapp"})
	rc := rawDB(t, 0)
	topic := psTopic(t)
	subscribe(t, p, context.Background(), topic, func(context.Context, *pubsub.Message) error { return nil })
	if groups, err := rc.XInfoGroups(context.Background(), topic).Result(); err != nil || len(groups) != 1 || groups[0].Name != "myapp" {
		t.Fatalf("groups: %v %v, want one named myapp", groups, err)
	}
}

// TestPubSubHandlerErrorAcked: as in contrib, a handler error before the
// processing timeout still acknowledges the message; it is not redelivered.
func TestPubSubHandlerErrorAcked(t *testing.T) {
	p := newPubSub(t, map[string]string{"consumerID": "c", "processingTimeout": "200", "redeliverInterval": "100"})
	rc := rawDB(t, 0)
	topic := psTopic(t)
	var calls atomic.Int32
	subscribe(t, p, context.Background(), topic, func(context.Context, *pubsub.Message) error {
		calls.Add(1)
		return errors.New("boom")
	})
	publish(t, p, topic, "x", nil)
	waitUntil(t, "the handler call", func() bool { return calls.Load() >= 1 })
	waitUntil(t, "the acknowledgement", func() bool { return pendingCount(t, rc, topic, "c") == 0 })
	if n := calls.Load(); n != 1 {
		t.Fatalf("handler called %d times, want 1", n)
	}
}

// TestPubSubRedelivery: a message whose handler outlives processingTimeout
// (and then fails) stays pending and is claimed and delivered again by the
// reclaim loop.
func TestPubSubRedelivery(t *testing.T) {
	p := newPubSub(t, map[string]string{"consumerID": "c", "processingTimeout": "200", "redeliverInterval": "100"})
	rc := rawDB(t, 0)
	topic := psTopic(t)
	var calls atomic.Int32
	var hadDeadline atomic.Bool
	second := make(chan string, 1)
	subscribe(t, p, context.Background(), topic, func(ctx context.Context, m *pubsub.Message) error {
		if calls.Add(1) == 1 {
			_, ok := ctx.Deadline()
			hadDeadline.Store(ok)
			<-ctx.Done()
			return ctx.Err()
		}
		second <- string(m.Data)
		return nil
	})
	publish(t, p, topic, "slow", nil)
	select {
	case d := <-second:
		if d != "slow" {
			t.Fatalf("redelivered %q", d)
		}
	case <-time.After(psWait):
		t.Fatalf("not redelivered (handler calls: %d)", calls.Load())
	}
	if !hadDeadline.Load() {
		t.Error("the handler's context had no deadline (processingTimeout)")
	}
	waitUntil(t, "the acknowledgement", func() bool { return pendingCount(t, rc, topic, "c") == 0 })
	if n := calls.Load(); n != 2 {
		t.Fatalf("handler called %d times, want 2", n)
	}
}

// TestPubSubReclaimDropsGone: a pending entry whose message was deleted
// leaves the pending list and is not delivered again.
func TestPubSubReclaimDropsGone(t *testing.T) {
	p := newPubSub(t, map[string]string{"consumerID": "c", "processingTimeout": "200", "redeliverInterval": "100"})
	rc := rawDB(t, 0)
	ctx := context.Background()
	topic := psTopic(t)
	var calls atomic.Int32
	started := make(chan struct{}, 1)
	subscribe(t, p, ctx, topic, func(ctx context.Context, m *pubsub.Message) error {
		calls.Add(1)
		started <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	})
	publish(t, p, topic, "doomed", nil)
	select {
	case <-started:
	case <-time.After(psWait):
		t.Fatal("not delivered")
	}
	entries, err := rc.XRange(ctx, topic, "-", "+").Result()
	if err != nil || len(entries) != 1 {
		t.Fatalf("XRANGE: %v %v", entries, err)
	}
	mustDo(t, rc.XDel(ctx, topic, entries[0].ID).Err())
	waitUntil(t, "an empty pending list", func() bool { return pendingCount(t, rc, topic, "c") == 0 })
	if n := calls.Load(); n != 1 {
		t.Fatalf("handler called %d times, want 1", n)
	}
}

// TestPubSubGroupRecreated: after the group is destroyed, the poll loop
// (NOGROUP) creates it again, from the start of the stream.
func TestPubSubGroupRecreated(t *testing.T) {
	p := newPubSub(t, map[string]string{"consumerID": "c"})
	rc := rawDB(t, 0)
	ctx := context.Background()
	topic := psTopic(t)
	var l msgLog
	subscribe(t, p, ctx, topic, l.handle)
	publish(t, p, topic, "before", nil)
	waitUntil(t, "the first delivery", func() bool { return l.len() == 1 })
	waitUntil(t, "the acknowledgement", func() bool { return pendingCount(t, rc, topic, "c") == 0 })
	mustDo(t, rc.XGroupDestroy(ctx, topic, "c").Err())
	waitUntil(t, "the group again", func() bool {
		groups, err := rc.XInfoGroups(ctx, topic).Result()
		return err == nil && len(groups) == 1 && groups[0].Name == "c"
	})
	publish(t, p, topic, "after", nil)
	waitUntil(t, "the deliveries after the group came back", func() bool {
		c := l.counts()
		return c["before"] == 2 && c["after"] == 1
	})
}

// TestPubSubMaxLenApprox: with maxLenApprox the stream is trimmed (by
// whole nodes, MAXLEN ~); without it, it is not.
func TestPubSubMaxLenApprox(t *testing.T) {
	trimmed := newPubSub(t, map[string]string{"maxLenApprox": "10"})
	plain := newPubSub(t, nil)
	rc := rawDB(t, 0)
	ctx := context.Background()
	t1, t2 := psTopic(t), psTopic(t)
	const n = 500
	for i := range n {
		publish(t, trimmed, t1, strconv.Itoa(i), nil)
		publish(t, plain, t2, strconv.Itoa(i), nil)
	}
	if l := rc.XLen(ctx, t1).Val(); l < 10 || l > 200 {
		t.Errorf("XLEN with maxLenApprox=10 after %d: %d", n, l)
	}
	if l := rc.XLen(ctx, t2).Val(); l != n {
		t.Errorf("XLEN without maxLenApprox after %d: %d", n, l)
	}
}

// TestPubSubStreamTTL: with streamTTL, XADD trims entries older than the
// TTL (MINID ~: whole nodes).
func TestPubSubStreamTTL(t *testing.T) {
	p := newPubSub(t, map[string]string{"streamTTL": "1h"})
	rc := rawDB(t, 0)
	ctx := context.Background()
	topic := psTopic(t)
	// 150 entries from 1970: a full node of 100 and half of the next one.
	for i := 1; i <= 150; i++ {
		mustDo(t, rc.XAdd(ctx, &goredis.XAddArgs{Stream: topic, ID: "1-" + strconv.Itoa(i), Values: []any{"data", "old"}}).Err())
	}
	publish(t, p, topic, "new", nil)
	if l := rc.XLen(ctx, topic).Val(); l != 51 {
		t.Errorf("XLEN after a publish with streamTTL: %d, want 51 (the old full node trimmed)", l)
	}
	last, err := rc.XRevRangeN(ctx, topic, "+", "-", 1).Result()
	if err != nil || len(last) != 1 || last[0].Values["data"] != "new" {
		t.Errorf("last entry %v %v", last, err)
	}
	s := streamSettings{streamTTL: time.Hour}
	now := time.UnixMilli(10_000_000_000)
	if got, want := s.minID(now), "9996400000-1"; got != want {
		t.Errorf("minID %q, want %q", got, want)
	}
	if got := (&streamSettings{}).minID(now); got != "" {
		t.Errorf("minID without streamTTL %q", got)
	}
}

// TestPubSubCancel: cancelling Subscribe's context ends the subscription
// at once, its blocked XREADGROUP included, so the next message goes to
// another subscriber of the group.
func TestPubSubCancel(t *testing.T) {
	p1 := newPubSub(t, map[string]string{"consumerID": "c"})
	rc := rawDB(t, 0)
	topic := psTopic(t)
	var l1, l2 msgLog
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	subscribe(t, p1, ctx, topic, l1.handle)
	publish(t, p1, topic, "m1", nil)
	waitUntil(t, "the first delivery", func() bool { return l1.len() == 1 })
	waitUntil(t, "a blocked XREADGROUP", func() bool { return blockedClients(t, rc) == 1 })
	cancel()
	waitUntil(t, "no blocked XREADGROUP after the cancellation", func() bool { return blockedClients(t, rc) == 0 })

	p2 := newPubSub(t, map[string]string{"consumerID": "c"})
	subscribe(t, p2, context.Background(), topic, l2.handle)
	publish(t, p1, topic, "m2", nil)
	waitUntil(t, "the delivery to the second subscriber", func() bool { return l2.len() == 1 })
	waitUntil(t, "the acknowledgement", func() bool { return pendingCount(t, rc, topic, "c") == 0 })
	if c := l1.counts(); len(c) != 1 || c["m1"] != 1 {
		t.Errorf("cancelled subscriber received %v", c)
	}
	if c := l2.counts(); len(c) != 1 || c["m2"] != 1 {
		t.Errorf("second subscriber received %v", c)
	}
}

// TestPubSubClose: Close ends a subscription blocked in XREADGROUP (BLOCK
// 0) at once, waits for a running handler (whose acknowledgement still
// goes through), and Publish and Subscribe then fail with ErrClosed.
func TestPubSubClose(t *testing.T) {
	testsrv.Require(t, srvErr)
	p, err := OpenPubSub(context.Background(), component.Spec{Name: "ps", Type: "pubsub.redis", Metadata: map[string]string{"redisHost": srv.Addr, "consumerID": "c"}}, component.Env{})
	mustDo(t, err)
	rc := rawDB(t, 0)
	topic, idle := psTopic(t), psTopic(t)
	started := make(chan struct{})
	release := make(chan struct{})
	var returned atomic.Bool
	subscribe(t, p, context.Background(), topic, func(context.Context, *pubsub.Message) error {
		close(started)
		<-release // ignores its context
		returned.Store(true)
		return nil
	})
	subscribe(t, p, context.Background(), idle, func(context.Context, *pubsub.Message) error { return nil })
	publish(t, p, topic, "m", nil)
	select {
	case <-started:
	case <-time.After(psWait):
		t.Fatal("not delivered")
	}
	waitUntil(t, "a blocked XREADGROUP per subscription", func() bool { return blockedClients(t, rc) == 2 })
	closed := make(chan error, 1)
	go func() { closed <- p.Close() }()
	// Let Close get to its wait before the handler returns: a Close that
	// did not wait would have closed the client, and the acknowledgement
	// would fail.
	time.Sleep(50 * time.Millisecond)
	close(release)
	select {
	case err := <-closed:
		mustDo(t, err)
	case <-time.After(psWait):
		t.Fatal("Close did not return")
	}
	if !returned.Load() {
		t.Fatal("Close returned before the handler")
	}
	if n := pendingCount(t, rc, topic, "c"); n != 0 {
		t.Fatalf("pending after Close: %d, want 0 (the handler's acknowledgement)", n)
	}
	waitUntil(t, "no blocked XREADGROUP after Close", func() bool { return blockedClients(t, rc) == 0 })
	if err := p.Publish(context.Background(), &pubsub.PublishRequest{Topic: topic, Data: []byte("x")}); !errors.Is(err, pubsub.ErrClosed) {
		t.Errorf("Publish after Close: %v", err)
	}
	if err := p.Subscribe(context.Background(), pubsub.SubscribeRequest{Topic: topic}, func(context.Context, *pubsub.Message) error { return nil }); !errors.Is(err, pubsub.ErrClosed) {
		t.Errorf("Subscribe after Close: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestPubSubCluster: with redisType=cluster the broker publishes, reads
// and acknowledges through the cluster client, and Close ends the blocked
// read.
func TestPubSubCluster(t *testing.T) {
	r, err := testsrv.StartRedis(testsrv.RedisOptions{Cluster: true})
	testsrv.Require(t, err)
	defer r.Close()
	p, err := OpenPubSub(context.Background(), component.Spec{Name: "ps", Type: "pubsub.redis", Metadata: map[string]string{
		"redisHost": r.Addr, "redisType": "cluster", "consumerID": "c",
	}}, component.Env{})
	mustDo(t, err)
	defer p.Close()
	rc := goredis.NewClient(&goredis.Options{Addr: r.Addr})
	defer rc.Close()
	topic := psTopic(t)
	var l msgLog
	subscribe(t, p, context.Background(), topic, l.handle)
	publish(t, p, topic, "m", map[string]string{"k": "v"})
	waitUntil(t, "the delivery", func() bool { return l.len() == 1 })
	waitUntil(t, "the acknowledgement", func() bool { return pendingCount(t, rc, topic, "c") == 0 })
	l.mu.Lock()
	m := l.msgs[0]
	l.mu.Unlock()
	if string(m.Data) != "m" || m.Metadata["k"] != "v" || m.Topic != topic {
		t.Errorf("delivered %+v", m)
	}
	closed := make(chan error, 1)
	go func() { closed <- p.Close() }()
	select {
	case err := <-closed:
		mustDo(t, err)
	case <-time.After(psWait):
		t.Fatal("Close did not return")
	}
}

// TestPubSubRegistered: pubsub.Open finds pubsub.redis; it reports no
// features, as contrib.
func TestPubSubRegistered(t *testing.T) {
	testsrv.Require(t, srvErr)
	if !slices.Contains(pubsub.Types(), "pubsub.redis") {
		t.Fatalf("pubsub.redis not registered: %v", pubsub.Types())
	}
	b, err := pubsub.Open(context.Background(), component.Spec{Name: "ps", Type: "pubsub.redis", Metadata: map[string]string{"redisHost": srv.Addr}}, component.Env{AppID: "a"})
	mustDo(t, err)
	defer b.Close()
	if _, ok := b.(*PubSub); !ok {
		t.Fatalf("Open returned %T", b)
	}
	if f := b.Features(); len(f) != 0 {
		t.Errorf("features %v, want none", f)
	}
}

// TestPubSubMetadata: contrib's pubsub defaults, the decoding of each
// setting, and its decoding errors.
func TestPubSubMetadata(t *testing.T) {
	spec := func(md map[string]string) component.Spec {
		return component.Spec{Name: "ps", Type: "pubsub.redis", Metadata: md}
	}
	s, err := parseStreamSettings(spec(map[string]string{"redisHost": "h"}), "app1")
	mustDo(t, err)
	want := streamSettings{consumerID: "app1", processingTimeout: time.Minute, redeliverInterval: 15 * time.Second, queueDepth: 100, concurrency: 10}
	if fmt.Sprint(s) != fmt.Sprint(want) {
		t.Errorf("defaults\n got %+v\nwant %+v", s, want)
	}

	s, err = parseStreamSettings(spec(map[string]string{
		"ConsumerID": "grp", "processingtimeout": "250", "REDELIVERINTERVAL": "120", "queueDepth": "5",
		"concurrency": "2", "maxLenApprox": "1000", "streamTTL": "90m", "readTimeout": "2s",
	}), "app1")
	mustDo(t, err)
	want = streamSettings{consumerID: "grp", processingTimeout: 250 * time.Millisecond, redeliverInterval: 120 * time.Millisecond,
		queueDepth: 5, concurrency: 2, maxLenApprox: 1000, streamTTL: 90 * time.Minute, block: 2 * time.Second}
	if fmt.Sprint(s) != fmt.Sprint(want) {
		t.Errorf("set\n got %+v\nwant %+v", s, want)
	}

	// Durations as Go durations; redeliverInterval only as milliseconds
	// (contrib does not decode it otherwise): "5s" keeps the default.
	s, err = parseStreamSettings(spec(map[string]string{"processingTimeout": "1m30s", "redeliverInterval": "5s", "streamTTL": "1500", "readTimeout": "700"}), "")
	mustDo(t, err)
	if s.processingTimeout != 90*time.Second || s.redeliverInterval != 15*time.Second || s.streamTTL != 1500*time.Millisecond || s.block != 700*time.Millisecond {
		t.Errorf("durations: %+v", s)
	}
	if len(s.warnings) != 1 || !strings.Contains(s.warnings[0], `redeliverInterval "5s"`) {
		t.Errorf("warnings %q", s.warnings)
	}
	s, err = parseStreamSettings(spec(map[string]string{"processingTimeout": "0", "redeliverInterval": "0", "readTimeout": "-1"}), "")
	mustDo(t, err)
	if s.processingTimeout != 0 || s.redeliverInterval != 0 || s.block != 0 {
		t.Errorf("zeros: %+v", s)
	}

	for _, c := range []struct {
		md   map[string]string
		want string
	}{
		{map[string]string{"queueDepth": "-1"}, `error decoding 'queueDepth': invalid uint "-1"`},
		{map[string]string{"concurrency": "many"}, `error decoding 'concurrency': invalid uint "many"`},
		{map[string]string{"maxLenApprox": "1.5"}, `error decoding 'maxLenApprox': invalid int64 "1.5"`},
		{map[string]string{"processingTimeout": "soon"}, `error decoding 'processingTimeout': invalid duration "soon"`},
		{map[string]string{"streamTTL": "30d"}, `error decoding 'streamTTL': invalid duration "30d"`},
		{map[string]string{"queueDepth": ""}, `error decoding 'queueDepth': invalid uint ""`},
	} {
		_, err := parseStreamSettings(spec(c.md), "")
		want := "redis client configuration error: decode failed. 1 error(s) decoding:\n\n* " + c.want
		if err == nil || err.Error() != want {
			t.Errorf("%v: %v\nwant %s", c.md, err, want)
		}
	}
	_, err = parseStreamSettings(spec(map[string]string{"streamTTL": "x", "concurrency": "-2"}), "")
	if want := "redis client configuration error: decode failed. 2 error(s) decoding:\n\n" +
		"* error decoding 'concurrency': invalid uint \"-2\"\n* error decoding 'streamTTL': invalid duration \"x\""; err == nil || err.Error() != want {
		t.Errorf("two errors: %v", err)
	}

	// Through OpenPubSub: a bad setting fails before any connection.
	_, err = OpenPubSub(context.Background(), spec(map[string]string{"redisHost": "127.0.0.1:1", "queueDepth": "x"}), component.Env{})
	if err == nil || !strings.Contains(err.Error(), `invalid uint "x"`) {
		t.Errorf("OpenPubSub with a bad queueDepth: %v", err)
	}
	// The connection metadata is contrib's for a pub/sub component: no
	// legacy names, backoff 8 ms to 512 ms.
	cfg, err := parseContribConfig(spec(map[string]string{"redisHost": "h", "maxRetries": "9"}), 512*time.Millisecond)
	mustDo(t, err)
	if cfg.maxRetries != 3 || cfg.minRetryBackoff != 8*time.Millisecond || cfg.maxRetryBackoff != 512*time.Millisecond {
		t.Errorf("connection defaults: retries %d, backoff %v..%v", cfg.maxRetries, cfg.minRetryBackoff, cfg.maxRetryBackoff)
	}
}

// TestPubSubConnectFailure: contrib's wording when PING fails at init.
func TestPubSubConnectFailure(t *testing.T) {
	_, err := OpenPubSub(context.Background(), component.Spec{Name: "ps", Type: "pubsub.redis", Metadata: map[string]string{
		"redisHost": "127.0.0.1:1", "redisMaxRetries": "0", "dialTimeout": "200ms",
	}}, component.Env{})
	if err == nil || !strings.HasPrefix(err.Error(), "redis streams: error connecting to redis at 127.0.0.1:1: ") {
		t.Fatalf("server down at init: %v", err)
	}
}

// TestPubSubPublishPipelined: concurrent publishes share round trips (one
// pipeline for the XADDs in flight together) and each still lands as its
// own stream entry with its own fields; a failing one (a wrong-type key)
// fails alone.
func TestPubSubPublishPipelined(t *testing.T) {
	p := newPubSub(t, nil)
	rc := rawDB(t, 0)
	topic := psTopic(t)
	mustDo(t, rc.Set(context.Background(), topic+"-notastream", "x", 0).Err())
	b0, c0 := p.batch.batches.Load(), p.batch.calls.Load()
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n+1)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- p.Publish(context.Background(), &pubsub.PublishRequest{Topic: topic, Data: []byte(strconv.Itoa(i)), Metadata: map[string]string{"i": strconv.Itoa(i)}})
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		err := p.Publish(context.Background(), &pubsub.PublishRequest{Topic: topic + "-notastream", Data: []byte("x")})
		if err == nil || !strings.Contains(err.Error(), "redis streams: error from publish: WRONGTYPE") {
			errs <- fmt.Errorf("publish to a string key: %v", err)
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	entries, err := rc.XRange(context.Background(), topic, "-", "+").Result()
	mustDo(t, err)
	seen := map[string]bool{}
	for _, e := range entries {
		d, _ := e.Values["data"].(string)
		if e.Values["metadata"] != `{"i":"`+d+`"}` || seen[d] {
			t.Fatalf("entry %v", e.Values)
		}
		seen[d] = true
	}
	if len(seen) != n {
		t.Fatalf("%d entries, want %d", len(seen), n)
	}
	batches, got := p.batch.batches.Load()-b0, p.batch.calls.Load()-c0
	if got != n+1 || batches >= got {
		t.Fatalf("%d publishes in %d round trips: no pipelining", got, batches)
	}
	t.Logf("%d publishes in %d round trips", got, batches)
}
