package gosdk

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dapr "github.com/dapr/go-sdk/client"
	"github.com/dapr/go-sdk/service/common"
	daprgrpc "github.com/dapr/go-sdk/service/grpc"
	daprhttp "github.com/dapr/go-sdk/service/http"
	"google.golang.org/grpc/codes"
)

// events collects what the SDK service's handlers received.
type events struct {
	mu  sync.Mutex
	got map[string][]*common.TopicEvent
	ch  chan string
}

func newEvents() *events {
	return &events{got: map[string][]*common.TopicEvent{}, ch: make(chan string, 64)}
}

func (e *events) handler(name string, drop bool) common.TopicEventHandler {
	return func(_ context.Context, ev *common.TopicEvent) (bool, error) {
		e.mu.Lock()
		e.got[name] = append(e.got[name], ev)
		e.mu.Unlock()
		e.ch <- name
		if drop {
			return false, errors.New("dropped by the handler") // retry=false: DROP
		}
		return false, nil
	}
}

// wait returns once n events arrived.
func (e *events) wait(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		select {
		case <-e.ch:
		case <-time.After(15 * time.Second):
			t.Fatalf("%d of %d events arrived: %v", i, n, e.snapshot())
		}
	}
}

func (e *events) snapshot() map[string]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string]int{}
	for k, v := range e.got {
		out[k] = len(v)
	}
	return out
}

func (e *events) of(name string) []*common.TopicEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]*common.TopicEvent(nil), e.got[name]...)
}

// TestPubSubSDK publishes through the Go SDK client (PublishEvent,
// PublishEvents) to pubsub.redis on a real redis-server and receives with
// the SDK's own gRPC and HTTP app services (service/grpc, service/http):
// their subscriptions (ListTopicSubscriptions, /dapr/subscribe), typed
// data, routing rules and a dead-letter topic, and daprd's errors.
func TestPubSubSDK(t *testing.T) {
	for _, proto := range []string{"grpc", "http"} {
		t.Run(proto, func(t *testing.T) { testPubSubSDK(t, proto) })
	}
}

func testPubSubSDK(t *testing.T, proto string) {
	r := startRedis(t)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := lis.Addr().(*net.TCPAddr).Port
	var svc common.Service
	if proto == "grpc" {
		svc = daprgrpc.NewServiceWithListener(lis)
	} else {
		_ = lis.Close() // the HTTP service listens itself
		svc = daprhttp.NewService("127.0.0.1:" + strconv.Itoa(port))
	}
	ev := newEvents()
	add := func(sub *common.Subscription, name string, drop bool) {
		if err := svc.AddTopicEventHandler(sub, ev.handler(name, drop)); err != nil {
			t.Fatal(err)
		}
	}
	add(&common.Subscription{PubsubName: "redispubsub", Topic: "orders", Route: "/orders"}, "orders", false)
	add(&common.Subscription{PubsubName: "redispubsub", Topic: "orders", Route: "/vip", Match: `event.type == "vip.order"`, Priority: 1}, "vip", false)
	add(&common.Subscription{PubsubName: "redispubsub", Topic: "fragile", Route: "/fragile", DeadLetterTopic: "dead"}, "fragile", true)
	add(&common.Subscription{PubsubName: "redispubsub", Topic: "dead", Route: "/dead"}, "dead", false)
	go func() {
		if err := svc.Start(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("app service: %v", err)
		}
	}()
	t.Cleanup(func() { _ = svc.GracefulStop() })

	extra := componentYAML("redispubsub", "pubsub.redis", map[string]string{"redisHost": r.Addr})
	sc := startSidecarArgs(t, extra, []string{"--app-port", strconv.Itoa(port), "--app-protocol", proto})
	c := newClient(t, sc)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// The app's subscriptions are read once its port is open.
	deadline := time.Now().Add(15 * time.Second)
	for {
		md, err := c.GetMetadata(ctx)
		if err == nil && len(md.Subscriptions) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("subscriptions never listed: %+v %v", md, err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	type order struct {
		ID  int  `json:"id"`
		VIP bool `json:"vip"`
	}
	if err := c.PublishEvent(ctx, "redispubsub", "orders", order{ID: 1}); err != nil {
		t.Fatal(err)
	}
	if err := c.PublishEvent(ctx, "redispubsub", "orders", order{ID: 2, VIP: true},
		dapr.PublishEventWithMetadata(map[string]string{"cloudevent.type": "vip.order"})); err != nil {
		t.Fatal(err)
	}
	if err := c.PublishEvent(ctx, "redispubsub", "orders", "just text", dapr.PublishEventWithContentType("text/plain")); err != nil {
		t.Fatal(err)
	}
	ev.wait(t, 3)
	orders, vip := ev.of("orders"), ev.of("vip")
	if len(orders) != 2 || len(vip) != 1 {
		t.Fatalf("orders %d, vip %d: %v", len(orders), len(vip), ev.snapshot())
	}
	var got order
	if err := vip[0].Struct(&got); err != nil || got.ID != 2 || !got.VIP || vip[0].Type != "vip.order" || vip[0].Source != "myapp" || vip[0].Topic != "orders" {
		t.Errorf("vip event %+v (%v)", vip[0], err)
	}
	texts := 0
	for _, e := range orders {
		if s, ok := e.Data.(string); ok && s == "just text" && e.DataContentType == "text/plain" {
			texts++
		}
	}
	if texts != 1 {
		t.Errorf("text event not received as text: %+v %+v", orders[0], orders[1])
	}

	// The handler drops; the dead-letter topic's handler gets the event.
	if err := c.PublishEvent(ctx, "redispubsub", "fragile", map[string]any{"n": 1}); err != nil {
		t.Fatal(err)
	}
	ev.wait(t, 2)
	d := ev.of("dead")
	if len(d) != 1 {
		t.Fatalf("dead letters %v", ev.snapshot())
	}
	// gRPC names the topic the event came from (TopicEventRequest.topic);
	// the HTTP SDK reads the envelope, which keeps the original topic.
	wantTopic := map[string]string{"grpc": "dead", "http": "fragile"}[proto]
	if m, _ := d[0].Data.(map[string]any); d[0].Topic != wantTopic || m["n"] != 1.0 || d[0].Source != "myapp" {
		t.Fatalf("dead letter %+v", d[0])
	}

	res := c.PublishEvents(ctx, "redispubsub", "orders", []any{order{ID: 10}, order{ID: 11}, order{ID: 12, VIP: true}})
	if res.Error != nil || len(res.FailedEvents) != 0 {
		t.Fatalf("PublishEvents: %+v", res)
	}
	ev.wait(t, 3)
	if n, v := len(ev.of("orders")), len(ev.of("vip")); n != 5 || v != 1 {
		t.Errorf("after bulk: %d orders, %d vip; want 5 and 1", n, v)
	}

	err = c.PublishEvent(ctx, "nopubsub", "orders", "x")
	wantCode(t, err, codes.InvalidArgument, "pubsub nopubsub is not found")
	res = c.PublishEvents(ctx, "nopubsub", "orders", []any{"x"})
	if res.Error == nil || len(res.FailedEvents) != 1 {
		t.Fatalf("PublishEvents to an unknown pubsub: %+v", res)
	}
	// A clean stop while subscriptions run.
	if err := c.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if code := sc.waitExit(t); code != 0 {
		t.Fatalf("exit code %d after Shutdown, want 0", code)
	}
}

// TestPubSubStreaming: the Go SDK's streaming subscriptions
// (SubscribeTopicEventsAlpha1: Subscribe / Receive / Success and
// SubscribeWithHandler) on pubsub.in-memory, without an app port: events
// arrive on the stream, a DROP goes to the dead-letter topic, the open
// streams are listed in the metadata as STREAMING, an unknown pubsub is
// daprd's error, and the sidecar exits cleanly with streams open.
func TestPubSubStreaming(t *testing.T) {
	extra := componentYAML("mem", "pubsub.in-memory", nil)
	sc := startSidecarWith(t, extra)
	c := newClient(t, sc)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	sub, err := c.Subscribe(ctx, dapr.SubscriptionOptions{PubsubName: "mem", Topic: "orders"})
	if err != nil {
		t.Fatal(err)
	}
	dead := "orders-dead"
	dropped := make(chan *common.TopicEvent, 4)
	closeDrop, err := c.SubscribeWithHandler(ctx, dapr.SubscriptionOptions{PubsubName: "mem", Topic: "fragile", DeadLetterTopic: &dead},
		func(*common.TopicEvent) common.SubscriptionResponseStatus {
			return common.SubscriptionResponseStatusDrop
		})
	if err != nil {
		t.Fatal(err)
	}
	closeDead, err := c.SubscribeWithHandler(ctx, dapr.SubscriptionOptions{PubsubName: "mem", Topic: dead},
		func(e *common.TopicEvent) common.SubscriptionResponseStatus {
			dropped <- e
			return common.SubscriptionResponseStatusSuccess
		})
	if err != nil {
		t.Fatal(err)
	}
	md, err := c.GetMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The SDK's metadata type drops the subscription type; the three
	// streams are the only subscriptions (no app port).
	topics := map[string]bool{}
	for _, s := range md.Subscriptions {
		topics[s.Topic] = true
	}
	if len(md.Subscriptions) != 3 || !topics["orders"] || !topics["fragile"] || !topics[dead] {
		t.Fatalf("metadata subscriptions %+v", md.Subscriptions)
	}

	if err := c.PublishEvent(ctx, "mem", "orders", map[string]any{"id": 7}); err != nil {
		t.Fatal(err)
	}
	msg, err := sub.Receive()
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := msg.Data.(map[string]any); m["id"] != 7.0 || msg.Topic != "orders" || msg.PubsubName != "mem" || msg.Source != "myapp" {
		t.Fatalf("event %+v", msg.TopicEvent)
	}
	if err := msg.Success(); err != nil {
		t.Fatal(err)
	}
	if err := c.PublishEvent(ctx, "mem", "fragile", "bad input", dapr.PublishEventWithContentType("text/plain")); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-dropped:
		if e.Data != "bad input" || e.Topic != dead {
			t.Fatalf("dead letter %+v", e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no dead letter")
	}
	_ = closeDrop()
	_ = closeDead()

	_, err = c.Subscribe(ctx, dapr.SubscriptionOptions{PubsubName: "nope", Topic: "orders"})
	if err == nil || !strings.Contains(err.Error(), "pubsub nope is not found") {
		t.Fatalf("unknown pubsub: %v", err)
	}
	// The stream still open when the sidecar shuts down ends, and the
	// shutdown is clean.
	if err := c.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if code := sc.waitExit(t); code != 0 {
		t.Fatalf("exit code %d with a stream open", code)
	}
	if _, err := sub.Receive(); err == nil {
		t.Fatal("the stream did not end at shutdown")
	}
}
