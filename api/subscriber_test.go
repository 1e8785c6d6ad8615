package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/statecar/statecar/component/pubsub"
)

// fakeApp answers deliveries with outcome(ev) and records them.
type fakeApp struct {
	subs    []Subscription
	outcome func(ev *TopicEvent) Outcome
	mu      sync.Mutex
	got     []*TopicEvent
	notify  chan *TopicEvent
	block   chan struct{} // when set, deliveries wait for it
}

func newFakeApp(subs ...Subscription) *fakeApp {
	return &fakeApp{subs: subs, notify: make(chan *TopicEvent, 100)}
}

func (a *fakeApp) WaitReady(context.Context) error { return nil }
func (a *fakeApp) Subscriptions(context.Context) ([]Subscription, error) {
	return a.subs, nil
}
func (a *fakeApp) DeliverTopicEvent(_ context.Context, ev *TopicEvent) (Outcome, error) {
	if a.block != nil {
		<-a.block
	}
	a.mu.Lock()
	a.got = append(a.got, ev)
	a.mu.Unlock()
	a.notify <- ev
	if a.outcome != nil {
		o := a.outcome(ev)
		if o == OutcomeRetry {
			return o, errors.New("app failed")
		}
		return o, nil
	}
	return OutcomeSuccess, nil
}

func (a *fakeApp) next(t *testing.T) *TopicEvent {
	t.Helper()
	select {
	case ev := <-a.notify:
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no delivery")
		return nil
	}
}

func (a *fakeApp) none(t *testing.T) {
	t.Helper()
	select {
	case ev := <-a.notify:
		t.Fatalf("unexpected delivery to %s of %s", ev.Path, ev.Data)
	case <-time.After(100 * time.Millisecond):
	}
}

func mustRule(t *testing.T, match, path string) Rule {
	t.Helper()
	r, err := NewRule(match, path)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// startSubscriber runs a subscriber over an in-memory broker "ps".
func startSubscriber(t *testing.T, app *fakeApp, decl []Subscription, meta map[string]string) (*PubSub, *Subscriber) {
	t.Helper()
	mem := pubsub.NewMemory(nil)
	p := NewPubSub(PubSubConfig{AppID: "myapp", Brokers: []PubSubEntry{{Name: "ps", Broker: mem, Metadata: meta}}, DisableMetrics: true})
	s := NewSubscriber(SubscriberConfig{AppID: "myapp", PubSub: p, Declarative: decl, App: app})
	s.Start()
	select {
	case <-s.Started():
	case <-time.After(5 * time.Second):
		t.Fatal("subscriber did not start")
	}
	t.Cleanup(func() { s.Stop(context.Background()); _ = p.Close() })
	return p, s
}

func publishJSON(t *testing.T, p *PubSub, topic, data string, meta map[string]string) {
	t.Helper()
	if e := p.Publish(context.Background(), &PublishRequest{PubsubName: "ps", Topic: topic, ContentType: "application/json", Data: []byte(data), Metadata: meta}); e != nil {
		t.Fatal(httpBody(e))
	}
}

func TestSubscriberRouting(t *testing.T) {
	app := newFakeApp(Subscription{PubsubName: "ps", Topic: "orders", Rules: []Rule{
		mustRule(t, `event.data.kind == "big" && event.data.n > 10`, "/big"),
		mustRule(t, `event.type == "custom"`, "/custom"),
		mustRule(t, "", "/orders"),
	}})
	decl := []Subscription{
		{Name: "d1", PubsubName: "ps", Topic: "decl", Rules: []Rule{mustRule(t, "", "/decl")}},
		{Name: "d2", PubsubName: "ps", Topic: "orders", Rules: []Rule{mustRule(t, "", "/replaced")}}, // the app's wins
		{Name: "d3", PubsubName: "ps", Topic: "scoped", Rules: []Rule{mustRule(t, "", "/scoped")}, Scopes: []string{"other"}},
		{Name: "d4", PubsubName: "ps", Topic: "nomatch", Rules: []Rule{mustRule(t, `event.data.x == 1`, "/x")}},
	}
	p, s := startSubscriber(t, app, decl, nil)

	publishJSON(t, p, "orders", `{"kind":"big","n":11}`, nil)
	if ev := app.next(t); ev.Path != "/big" || ev.Topic != "orders" || ev.PubsubName != "ps" || ev.Metadata["pubsubName"] != "ps" {
		t.Fatalf("big: %+v", ev)
	}
	publishJSON(t, p, "orders", `{"kind":"big","n":3}`, map[string]string{"cloudevent.type": "custom"})
	if ev := app.next(t); ev.Path != "/custom" || ev.Metadata["cloudevent.type"] != "custom" {
		t.Fatalf("custom: %+v", ev)
	}
	publishJSON(t, p, "orders", `{"kind":"small","plain":true}`, nil)
	ev := app.next(t)
	if ev.Path != "/orders" {
		t.Fatalf("default: %+v", ev)
	}
	// The body is the envelope the broker carried.
	var ce map[string]any
	if err := json.Unmarshal(ev.Data, &ce); err != nil || ce["data"].(map[string]any)["plain"] != true || ce["source"] != "myapp" {
		t.Fatalf("body %s", ev.Data)
	}
	publishJSON(t, p, "decl", `1`, nil)
	if ev := app.next(t); ev.Path != "/decl" {
		t.Fatalf("declarative: %+v", ev)
	}
	publishJSON(t, p, "scoped", `1`, nil)
	publishJSON(t, p, "nomatch", `{"x":2}`, nil)
	app.none(t)
	publishJSON(t, p, "nomatch", `{"x":1}`, nil)
	if ev := app.next(t); ev.Path != "/x" {
		t.Fatalf("rule: %+v", ev)
	}

	subs := s.Subscriptions()
	if len(subs) != 3 {
		t.Fatalf("subscriptions %+v", subs)
	}
	// Declarative first, the programmatic one replacing d2 in place.
	if subs[0].Topic != "decl" || subs[0].Type != SubscriptionDeclarative ||
		subs[1].Topic != "orders" || subs[1].Type != SubscriptionProgrammatic || len(subs[1].Rules) != 3 ||
		subs[2].Topic != "nomatch" {
		t.Fatalf("subscriptions %+v", subs)
	}
	if subs[1].Rules[0].Match.String() != `event.data.kind == "big" && event.data.n > 10` {
		t.Fatalf("rule text %q", subs[1].Rules[0].Match)
	}
}

func TestSubscriberDeadLetter(t *testing.T) {
	outcomes := map[string]Outcome{"retry": OutcomeRetry, "drop": OutcomeDrop, "404": OutcomeDropNotFound, "ignored": OutcomeIgnored}
	app := newFakeApp(
		Subscription{PubsubName: "ps", Topic: "in", DeadLetterTopic: "dead", Rules: []Rule{mustRule(t, "", "/in")}},
		// rawPayload: the dead letters arrive as they were published,
		// base64 in a fresh envelope (an expired one would be dropped
		// again otherwise).
		Subscription{PubsubName: "ps", Topic: "dead", Metadata: map[string]string{"rawPayload": "true"}, Rules: []Rule{mustRule(t, "", "/dead")}},
		Subscription{PubsubName: "ps", Topic: "nodlq", Rules: []Rule{mustRule(t, "", "/nodlq")}},
	)
	app.outcome = func(ev *TopicEvent) Outcome {
		var ce map[string]any
		_ = json.Unmarshal(ev.Data, &ce)
		if s, _ := ce["data"].(string); ev.Path != "/dead" {
			return outcomes[s]
		}
		return OutcomeSuccess
	}
	p, _ := startSubscriber(t, app, nil, nil)
	for _, kind := range []string{"retry", "drop", "404"} {
		publishJSON(t, p, "in", `"`+kind+`"`, nil)
		if ev := app.next(t); ev.Path != "/in" {
			t.Fatalf("%s: first delivery to %s", kind, ev.Path)
		}
		ev := app.next(t)
		// The dead letter is the original message, envelope and all.
		if ce := deadLetter(t, ev); ev.Path != "/dead" || ce["data"] != kind || ce["topic"] != "in" {
			t.Fatalf("%s: dead letter %s %s", kind, ev.Path, ev.Data)
		}
	}
	// Not implemented (gRPC Unimplemented): acknowledged, no dead letter.
	publishJSON(t, p, "in", `"ignored"`, nil)
	app.next(t)
	app.none(t)
	// An expired event is dropped before delivery, to the dead letter topic.
	publishJSON(t, p, "in", `"late"`, map[string]string{"ttlInSeconds": "1"})
	app.next(t) // delivered at once: not yet expired
	pub := func(topic, data string) {
		env := map[string]any{"id": "x", "specversion": "1.0", "data": data, "datacontenttype": "text/plain",
			"expiration": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)}
		b, _ := json.Marshal(env)
		if e := p.Publish(context.Background(), &PublishRequest{PubsubName: "ps", Topic: topic, Data: b, Metadata: map[string]string{"rawPayload": "true"}}); e != nil {
			t.Fatal(e)
		}
	}
	pub("in", "expired")
	if ev := app.next(t); ev.Path != "/dead" || deadLetter(t, ev)["data"] != "expired" {
		t.Fatalf("expired event went to %s", ev.Path)
	}
	pub("nodlq", "expired")
	app.none(t)
	// Not a CloudEvent (published raw) on a subscription without
	// rawPayload: to the dead letter topic as it came.
	if e := p.Publish(context.Background(), &PublishRequest{PubsubName: "ps", Topic: "in", Data: []byte("not json"), Metadata: map[string]string{"rawPayload": "true"}}); e != nil {
		t.Fatal(e)
	}
	if ev := app.next(t); ev.Path != "/dead" {
		t.Fatalf("unparsable event went to %s", ev.Path)
	} else if b, _ := base64.StdEncoding.DecodeString(rawEnvelope(t, ev)["data_base64"].(string)); string(b) != "not json" {
		t.Fatalf("dead letter %q", b)
	}
	app.none(t)
}

func rawEnvelope(t *testing.T, ev *TopicEvent) map[string]any {
	t.Helper()
	var ce map[string]any
	if err := json.Unmarshal(ev.Data, &ce); err != nil {
		t.Fatalf("%s: %v", ev.Data, err)
	}
	return ce
}

// deadLetter decodes the original envelope of a dead letter delivered raw.
func deadLetter(t *testing.T, ev *TopicEvent) map[string]any {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(rawEnvelope(t, ev)["data_base64"].(string))
	if err != nil {
		t.Fatal(err)
	}
	var ce map[string]any
	if err := json.Unmarshal(b, &ce); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return ce
}

func TestSubscriberRawPayload(t *testing.T) {
	app := newFakeApp(Subscription{PubsubName: "ps", Topic: "raw", Metadata: map[string]string{"rawPayload": "true"}, Rules: []Rule{mustRule(t, "", "/raw")}})
	p, _ := startSubscriber(t, app, nil, nil)
	if e := p.Publish(context.Background(), &PublishRequest{PubsubName: "ps", Topic: "raw", Data: []byte{0xff, 'a'},
		Metadata: map[string]string{"rawPayload": "true"}}); e != nil {
		t.Fatal(e)
	}
	ev := app.next(t)
	var ce map[string]any
	if err := json.Unmarshal(ev.Data, &ce); err != nil {
		t.Fatal(err)
	}
	if ce["data_base64"] != "/2E=" || ce["datacontenttype"] != "application/octet-stream" || ce["topic"] != "raw" || ce["source"] != "Dapr" {
		t.Fatalf("raw envelope %v", ce)
	}
	if !uuidRE.MatchString(ce["id"].(string)) {
		t.Fatalf("id %v", ce["id"])
	}
}

func TestSubscriberScopesAndBulk(t *testing.T) {
	app := newFakeApp(
		Subscription{PubsubName: "ps", Topic: "denied", Rules: []Rule{mustRule(t, "", "/d")}},
		Subscription{PubsubName: "ps", Topic: "bulk", BulkSubscribe: true, Rules: []Rule{mustRule(t, "", "/b")}},
		Subscription{PubsubName: "ps", Topic: "ok", Rules: []Rule{mustRule(t, "", "/ok")}},
		Subscription{PubsubName: "nope", Topic: "ok", Rules: []Rule{mustRule(t, "", "/nope")}},
		Subscription{PubsubName: "ps", Topic: "noroutes"}, // dropped: no routes
	)
	p, s := startSubscriber(t, app, nil, map[string]string{"subscriptionScopes": "myapp=bulk,ok"})
	publishJSON(t, p, "denied", "1", nil)
	publishJSON(t, p, "bulk", "1", nil)
	publishJSON(t, p, "ok", "1", nil)
	if ev := app.next(t); ev.Path != "/ok" {
		t.Fatalf("delivered to %s", ev.Path)
	}
	app.none(t)
	if n := len(s.Subscriptions()); n != 4 {
		t.Fatalf("metadata lists %d subscriptions, want all 4 (daprd lists what the app declared)", n)
	}
}

func TestSubscriberStopWaitsForDeliveries(t *testing.T) {
	app := newFakeApp(Subscription{PubsubName: "ps", Topic: "t", Rules: []Rule{mustRule(t, "", "/t")}})
	app.block = make(chan struct{})
	mem := pubsub.NewMemory(nil)
	p := NewPubSub(PubSubConfig{AppID: "myapp", Brokers: []PubSubEntry{{Name: "ps", Broker: mem}}, DisableMetrics: true})
	s := NewSubscriber(SubscriberConfig{AppID: "myapp", PubSub: p, App: app})
	s.Start()
	<-s.Started()
	publishJSON(t, p, "t", "1", nil)
	time.Sleep(50 * time.Millisecond) // the delivery is now blocked in the app
	stopped := make(chan struct{})
	go func() { s.Stop(context.Background()); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("Stop returned while a delivery was in flight")
	case <-time.After(100 * time.Millisecond):
	}
	close(app.block)
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("Stop did not return after the delivery finished")
	}
	app.next(t)
	// After Stop nothing is delivered.
	publishJSON(t, p, "t", "2", nil)
	app.none(t)
	_ = p.Close()
}

func TestSubscriberWithoutApp(t *testing.T) {
	mem := pubsub.NewMemory(nil)
	p := NewPubSub(PubSubConfig{AppID: "myapp", Brokers: []PubSubEntry{{Name: "ps", Broker: mem}}, DisableMetrics: true})
	decl := []Subscription{{Name: "d", PubsubName: "ps", Topic: "t", Rules: []Rule{{Path: "/t"}}}}
	s := NewSubscriber(SubscriberConfig{AppID: "myapp", PubSub: p, Declarative: decl})
	s.Start()
	<-s.Started()
	// Listed (daprd loads them) but nothing subscribes without an app.
	if subs := s.Subscriptions(); len(subs) != 1 || subs[0].Type != SubscriptionDeclarative {
		t.Fatalf("%+v", subs)
	}
	s.Stop(context.Background())
	_ = p.Close()
}

func TestCompileExpr(t *testing.T) {
	e, err := CompileExpr(`event.type == "a" && has(event.data.x)`)
	if err != nil {
		t.Fatal(err)
	}
	ok, err := e.Eval(map[string]any{"event": map[string]any{"type": "a", "data": map[string]any{"x": 1.0}}})
	if err != nil || !ok {
		t.Fatalf("%v %v", ok, err)
	}
	if ok, _ := e.Eval(map[string]any{"event": map[string]any{"type": "b", "data": map[string]any{"x": 1.0}}}); ok {
		t.Fatal("matched type b")
	}
	if _, err := CompileExpr(`event.type ==`); err == nil {
		t.Fatal("bad syntax compiled")
	}
	n, err := CompileExpr(`event.type`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Eval(map[string]any{"event": map[string]any{"type": "x"}}); err == nil ||
		err.Error() != "the result of match expression event.type was not a boolean" {
		t.Fatalf("non-boolean: %v", err)
	}
}

// TestSubscriberBulkBinaryEntry: a bulk-published octet-stream entry is a
// CloudEvent on the broker (its data in data_base64); the in-memory broker
// does not carry the entry's content type, so the subscriber reads the
// envelope rather than a raw binary message.
func TestSubscriberBulkBinaryEntry(t *testing.T) {
	app := newFakeApp(Subscription{PubsubName: "ps", Topic: "bin", Rules: []Rule{mustRule(t, `event.type == "com.dapr.event.sent"`, "/bin")}})
	p, _ := startSubscriber(t, app, nil, nil)
	if _, e := p.BulkPublish(context.Background(), &BulkPublishRequest{PubsubName: "ps", Topic: "bin",
		Entries: []BulkEntry{{EntryID: "1", Event: []byte{1, 2, 3}, ContentType: "application/octet-stream"}}}); e != nil {
		t.Fatal(httpBody(e))
	}
	ev := app.next(t)
	if ev.Path != "/bin" || ev.CloudEvent["data_base64"] != "AQID" || ev.CloudEvent["datacontenttype"] != "application/octet-stream" || ev.CloudEvent["id"] == nil {
		t.Fatalf("%+v", ev.CloudEvent)
	}
}

// TestSubscriberNullEvent: a message whose body is the JSON null is
// delivered (daprd's json.Unmarshal gives an empty event, not an error).
func TestSubscriberNullEvent(t *testing.T) {
	app := newFakeApp(Subscription{PubsubName: "ps", Topic: "n", Rules: []Rule{mustRule(t, "", "/n")}})
	p, _ := startSubscriber(t, app, nil, nil)
	if e := p.Publish(context.Background(), &PublishRequest{PubsubName: "ps", Topic: "n", Data: []byte("null"), Metadata: map[string]string{"rawPayload": "true"}}); e != nil {
		t.Fatal(e)
	}
	if ev := app.next(t); ev.Path != "/n" || string(ev.Data) != "null" {
		t.Fatalf("%+v", ev)
	}
}

// flakyDLQ is the in-memory bus whose first publish to "dead" fails.
type flakyDLQ struct {
	*pubsub.Memory
	failed atomic.Bool
}

func (f *flakyDLQ) Publish(ctx context.Context, r *pubsub.PublishRequest) error {
	if r.Topic == "dead" && f.failed.CompareAndSwap(false, true) {
		return errors.New("dead letter broker hiccup")
	}
	return f.Memory.Publish(ctx, r)
}

// TestSubscriberDeadLetterRetried: a DROP whose dead-letter publish fails
// is tried once more (daprd's second attempt after its policy runner).
func TestSubscriberDeadLetterRetried(t *testing.T) {
	app := newFakeApp(
		Subscription{PubsubName: "ps", Topic: "in", DeadLetterTopic: "dead", Rules: []Rule{mustRule(t, "", "/in")}},
		Subscription{PubsubName: "ps", Topic: "dead", Rules: []Rule{mustRule(t, "", "/dead")}},
	)
	app.outcome = func(ev *TopicEvent) Outcome {
		if ev.Path == "/in" {
			return OutcomeDrop
		}
		return OutcomeSuccess
	}
	broker := &flakyDLQ{Memory: pubsub.NewMemory(nil)}
	p := NewPubSub(PubSubConfig{AppID: "myapp", Brokers: []PubSubEntry{{Name: "ps", Broker: broker}}, DisableMetrics: true})
	s := NewSubscriber(SubscriberConfig{AppID: "myapp", PubSub: p, App: app})
	s.Start()
	<-s.Started()
	t.Cleanup(func() { s.Stop(context.Background()); _ = p.Close() })
	publishJSON(t, p, "in", `"x"`, nil)
	if ev := app.next(t); ev.Path != "/in" {
		t.Fatalf("%s", ev.Path)
	}
	if ev := app.next(t); ev.Path != "/dead" {
		t.Fatalf("the dead letter was not retried: %s", ev.Path)
	}
	if !broker.failed.Load() {
		t.Fatal("the first dead-letter publish did not fail")
	}
}

// TestSubscriberDropDuringStop: a DROP answered while the subscriber drains
// is still honoured: the event goes to the dead-letter topic and counts as
// handled (only failures are left to the broker while stopping).
func TestSubscriberDropDuringStop(t *testing.T) {
	app := newFakeApp(Subscription{PubsubName: "ps", Topic: "in", DeadLetterTopic: "dead", Rules: []Rule{mustRule(t, "", "/in")}})
	app.block = make(chan struct{})
	app.outcome = func(*TopicEvent) Outcome { return OutcomeDrop }
	mem := pubsub.NewMemory(nil)
	p := NewPubSub(PubSubConfig{AppID: "myapp", Brokers: []PubSubEntry{{Name: "ps", Broker: mem}}, DisableMetrics: true})
	dead := make(chan string, 2)
	if err := mem.Subscribe(context.Background(), pubsub.SubscribeRequest{Topic: "dead"}, func(_ context.Context, m *pubsub.Message) error {
		dead <- string(m.Data)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	s := NewSubscriber(SubscriberConfig{AppID: "myapp", PubSub: p, App: app})
	s.Start()
	<-s.Started()
	publishJSON(t, p, "in", `"x"`, nil)
	time.Sleep(50 * time.Millisecond) // the delivery waits in the app
	stopped := make(chan struct{})
	go func() { s.Stop(context.Background()); close(stopped) }()
	time.Sleep(50 * time.Millisecond)
	close(app.block)
	select {
	case d := <-dead:
		if !strings.Contains(d, `"data":"x"`) {
			t.Fatalf("dead letter %s", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the DROP during the drain was not dead-lettered")
	}
	<-stopped
	_ = p.Close()
}
