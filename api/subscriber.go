package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/statecar/statecar/component"
	"github.com/statecar/statecar/component/pubsub"
)

// Subscription types as /v1.0/metadata names them.
const (
	SubscriptionDeclarative  = "DECLARATIVE"
	SubscriptionProgrammatic = "PROGRAMMATIC"
)

// Rule is one route of a subscription: events for which Match is true (or
// every event when Match is nil) go to Path.
type Rule struct {
	Match *Expr
	Path  string
}

// Subscription is one subscription of the app to a topic (daprd's
// rtpubsub.Subscription), declarative (a Subscription resource) or
// programmatic (the app's /dapr/subscribe or ListTopicSubscriptions).
type Subscription struct {
	// Name is the resource name of a declarative subscription.
	Name            string
	PubsubName      string
	Topic           string
	Metadata        map[string]string
	Rules           []Rule
	DeadLetterTopic string
	// BulkSubscribe is set when the subscription asks for bulk delivery,
	// which statecar does not implement: such subscriptions are not
	// started (an error is logged).
	BulkSubscribe bool
	// Scopes are the app IDs a declarative subscription applies to (empty:
	// all).
	Scopes []string
	Type   string
}

// NewRule compiles a routing rule (daprd's CreateRoutingRule: a blank
// match means "always").
func NewRule(match, path string) (Rule, error) {
	m := strings.TrimSpace(match)
	if m == "" {
		return Rule{Path: path}, nil
	}
	e, err := CompileExpr(m)
	if err != nil {
		return Rule{}, err
	}
	return Rule{Match: e, Path: path}, nil
}

// TopicEvent is one event to deliver to the app.
type TopicEvent struct {
	PubsubName string
	Topic      string
	// Path is the app route the rules selected.
	Path string
	// CloudEvent is the envelope (decoded; for a raw payload, the
	// envelope daprd builds around it).
	CloudEvent map[string]any
	// Data is the HTTP body: the envelope's JSON as the broker carried it.
	Data []byte
	// Metadata is the message metadata (sent as HTTP headers or gRPC
	// metadata), including pubsubName.
	Metadata map[string]string
}

// Outcome is what the app made of a delivery.
type Outcome uint8

// Outcomes, as daprd's postmen tell them apart.
const (
	// OutcomeSuccess: delivered.
	OutcomeSuccess Outcome = iota
	// OutcomeRetry: the app failed or asked for RETRY.
	OutcomeRetry
	// OutcomeDrop: the app answered DROP (metric status "success").
	OutcomeDrop
	// OutcomeDropNotFound: the HTTP app answered 404.
	OutcomeDropNotFound
	// OutcomeIgnored: the gRPC app does not implement OnTopicEvent; the
	// message counts as dropped but is acknowledged without a dead letter.
	OutcomeIgnored
	// OutcomeStreamDrop: a streaming subscriber answered DROP (daprd's
	// streaming postman counts it with an empty metric status).
	OutcomeStreamDrop
)

// App is the application as the subscriber reaches it (the app channel).
type App interface {
	// WaitReady returns once the app accepts connections (daprd waits for
	// the app port before it asks for subscriptions) or ctx is done.
	WaitReady(ctx context.Context) error
	// Subscriptions asks the app for its programmatic subscriptions.
	Subscriptions(ctx context.Context) ([]Subscription, error)
	// DeliverTopicEvent delivers ev; err explains a retry.
	DeliverTopicEvent(ctx context.Context, ev *TopicEvent) (Outcome, error)
}

// SubscriberConfig configures NewSubscriber.
type SubscriberConfig struct {
	AppID, Namespace string
	PubSub           *PubSub
	// Declarative are the Subscription resources (already filtered by
	// namespace; scopes are applied here).
	Declarative []Subscription
	// App is the app channel; nil when there is none (no --app-port):
	// nothing is subscribed then, as in daprd.
	App App
	// DisableProgrammatic skips /dapr/subscribe (--disable-init-endpoints).
	DisableProgrammatic bool
	Logger              *slog.Logger
}

// Subscriber runs the app's subscriptions: it reads every broker topic the
// app subscribed to and delivers the events to the app (daprd's
// processor/subscriber and runtime/subscription). It is safe for
// concurrent use.
//
// Delivery follows daprd without resiliency policies: one attempt per
// message; a failed or dropped delivery goes to the dead-letter topic when
// the subscription has one, otherwise the broker decides (see package
// component/pubsub).
type Subscriber struct {
	cfg SubscriberConfig
	log *slog.Logger

	mu      sync.Mutex
	subs    []Subscription  // what /v1.0/metadata lists
	streams []*Subscription // the streaming subscriptions open now
	cancel  context.CancelFunc
	closing chan struct{} // closed by Stop: handlers refuse new messages
	started chan struct{} // closed once the subscriptions are running

	// drain runs the shutdown; drain.ctx is every delivery's context (a
	// delivery outlives its subscription's cancellation while the sidecar
	// drains).
	drain drain
}

// NewSubscriber builds the subscriber; Start begins delivering.
func NewSubscriber(cfg SubscriberConfig) *Subscriber {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Subscriber{cfg: cfg, log: cfg.Logger, closing: make(chan struct{}), started: make(chan struct{})}
	s.drain.init()
	for _, d := range cfg.Declarative {
		if len(d.Scopes) > 0 && !slices.Contains(d.Scopes, cfg.AppID) {
			continue
		}
		d.Type = SubscriptionDeclarative
		s.subs = append(s.subs, d)
	}
	return s
}

// Subscriptions lists the subscriptions for /v1.0/metadata: declarative
// ones first, a programmatic one replacing a declarative one of the same
// broker and topic (daprd's ListTypedSubscriptions).
func (s *Subscriber) Subscriptions() []Subscription {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := dedupe(s.subs, func(x Subscription) string { return x.PubsubName + "||" + x.Topic })
	for _, st := range s.streams {
		out = append(out, *st) // every stream, after the others (daprd's order)
	}
	return out
}

// dedupe keeps the first of each key, replaced in place by a later
// programmatic one.
func dedupe(subs []Subscription, key func(Subscription) string) []Subscription {
	var out []Subscription
	taken := map[string]int{}
	for _, x := range subs {
		k := key(x)
		if i, ok := taken[k]; ok {
			if x.Type == SubscriptionProgrammatic {
				out[i] = x
			}
			continue
		}
		taken[k] = len(out)
		out = append(out, x)
	}
	return out
}

// Started is closed once the subscriptions run (or were given up).
func (s *Subscriber) Started() <-chan struct{} { return s.started }

// Start waits (in the background) for the app, asks it for its
// subscriptions and subscribes to every topic.
func (s *Subscriber) Start() {
	if s == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.mu.Lock()
	s.cancel = cancel
	s.mu.Unlock()
	if len(s.cfg.PubSub.Names()) == 0 {
		close(s.started)
		return
	}
	if s.cfg.App == nil {
		s.log.Warn("app channel not initialized, make sure -app-port is specified if pubsub subscription is required")
		close(s.started)
		return
	}
	go s.run(ctx)
}

func (s *Subscriber) run(ctx context.Context) {
	defer close(s.started)
	if err := s.cfg.App.WaitReady(ctx); err != nil {
		return
	}
	if s.cfg.DisableProgrammatic {
		s.log.Warn("Skipping programmatic subscription loading (see 'disable-init-endpoints' flag/annotation)")
	} else {
		prog, err := s.programmatic(ctx)
		if err != nil {
			s.log.Error(fmt.Sprintf("error getting topics from app: %s", err))
		}
		byPubsub := map[string][]string{}
		var order []string
		kept := prog[:0]
		for _, x := range prog {
			if len(x.Rules) == 0 {
				s.log.Warn(fmt.Sprintf("topic %s has an empty routes. removing from subscriptions list", x.Topic))
				continue
			}
			kept = append(kept, x)
		}
		prog = kept
		for i := range prog {
			prog[i].Type = SubscriptionProgrammatic
			if _, ok := byPubsub[prog[i].PubsubName]; !ok {
				order = append(order, prog[i].PubsubName)
			}
			byPubsub[prog[i].PubsubName] = append(byPubsub[prog[i].PubsubName], prog[i].Topic)
		}
		for _, ps := range order {
			s.log.Info(fmt.Sprintf("app is subscribed to the following topics: [%s] through pubsub=%s", strings.Join(byPubsub[ps], " "), ps))
		}
		s.mu.Lock()
		s.subs = append(s.subs, prog...)
		s.mu.Unlock()
	}
	for _, name := range s.cfg.PubSub.Names() {
		s.mu.Lock()
		var mine []Subscription
		for _, x := range s.subs {
			if x.PubsubName == name {
				mine = append(mine, x)
			}
		}
		s.mu.Unlock()
		for _, sub := range dedupe(mine, func(x Subscription) string { return x.Topic }) {
			if err := s.startOne(ctx, sub); err != nil {
				s.log.Error(fmt.Sprintf("Failed to start subscription for pubsub %s, topic %s: %s", name, sub.Topic, err))
				if !errors.Is(err, errNotRetried) {
					go s.retry(ctx, sub)
				}
			}
		}
	}
}

var errNotRetried = errors.New("not retried")

// programmatic asks the app for its subscriptions with daprd's built-in
// initialization retries (3 retries, 500 ms growing by 1.5).
func (s *Subscriber) programmatic(ctx context.Context) ([]Subscription, error) {
	d := 500 * time.Millisecond
	for attempt := 0; ; attempt++ {
		subs, err := s.cfg.App.Subscriptions(ctx)
		if err == nil || attempt == 3 {
			return subs, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(d):
		}
		d = d * 3 / 2
	}
}

// retry starts sub again with exponential backoff (daprd retries forever,
// 0.5 s growing to 60 s) until it succeeds or the subscriber stops.
func (s *Subscriber) retry(ctx context.Context, sub Subscription) {
	d := 500 * time.Millisecond
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(d):
		}
		err := s.startOne(ctx, sub)
		if err == nil {
			s.log.Info(fmt.Sprintf("Successfully started subscription after retry for pubsub %s, topic %s", sub.PubsubName, sub.Topic))
			return
		}
		s.log.Error(fmt.Sprintf("Retry failed for subscription pubsub %s, topic %s: %s. Will retry.", sub.PubsubName, sub.Topic, err))
		d = min(d*3/2, 60*time.Second)
	}
}

func (s *Subscriber) startOne(ctx context.Context, sub Subscription) error {
	p := s.cfg.PubSub
	b := p.lookup(sub.PubsubName)
	if b == nil {
		return fmt.Errorf("pubsub '%s' not found: %w", sub.PubsubName, errNotRetried)
	}
	if !b.allowedOp(sub.Topic, b.scopedSubs) {
		return fmt.Errorf("subscription to topic '%s' on pubsub '%s' is not allowed: %w", sub.Topic, sub.PubsubName, errNotRetried)
	}
	if sub.BulkSubscribe {
		return fmt.Errorf("failed to bulk subscribe to topic %s: bulk subscribe is not supported by statecar: %w", sub.Topic, errNotRetried)
	}
	topic := sub.Topic
	if b.namespaced {
		topic = s.cfg.Namespace + topic
	}
	err := b.ps.Subscribe(ctx, pubsub.SubscribeRequest{Topic: topic, Metadata: sub.Metadata}, func(hctx context.Context, msg *pubsub.Message) error {
		return s.handle(hctx, b, sub, msg, s.cfg.App.DeliverTopicEvent, s.stopping)
	})
	if err != nil {
		return fmt.Errorf("failed to subscribe to topic %s: %w", sub.Topic, err)
	}
	return nil
}

// SubscriptionStreaming is the type of a gRPC streaming subscription in
// /v1.0/metadata.
const SubscriptionStreaming = "STREAMING"

// ErrSubscriberClosed: a streaming subscription asked for after Stop.
var ErrSubscriberClosed = errors.New("subscriber is closed")

// StartStream starts a streaming subscription (gRPC
// SubscribeTopicEventsAlpha1): the events of pubsubName/topic go to
// deliver, whose outcome counts as an app's would. It is listed in
// /v1.0/metadata (type STREAMING) until stop is called. Closed is closed
// when the subscriber stops (the stream must then end). An unknown broker
// is daprd's ERR_PUBSUB_NOT_FOUND.
func (s *Subscriber) StartStream(sub Subscription, deliver func(ctx context.Context, ev *TopicEvent) (Outcome, error)) (stop func(), e *Error, err error) {
	if s == nil {
		return nil, nil, ErrSubscriberClosed
	}
	if s.drain.stopping() {
		return nil, errPubSubMetadata("", nil, ErrSubscriberClosed), nil
	}
	b := s.cfg.PubSub.lookup(sub.PubsubName)
	if b == nil {
		return nil, errPubSubNotFound(sub.PubsubName, nil), nil
	}
	if !b.allowedOp(sub.Topic, b.scopedSubs) {
		return nil, nil, fmt.Errorf("failed to create subscription for %s: subscription to topic '%s' on pubsub '%s' is not allowed", sub.PubsubName, sub.Topic, sub.PubsubName)
	}
	sub.Type = SubscriptionStreaming
	sub.Rules = []Rule{{Path: "/"}}
	ctx, cancel := context.WithCancel(context.Background())
	topic := sub.Topic
	if b.namespaced {
		topic = s.cfg.Namespace + topic
	}
	entry := &sub
	var ending atomic.Bool
	if err := b.ps.Subscribe(ctx, pubsub.SubscribeRequest{Topic: topic, Metadata: sub.Metadata}, func(hctx context.Context, msg *pubsub.Message) error {
		return s.handle(hctx, b, sub, msg, deliver, ending.Load)
	}); err != nil {
		cancel()
		return nil, nil, fmt.Errorf("failed to create subscription for %s: failed to subscribe to topic %s: %w", sub.PubsubName, sub.Topic, err)
	}
	s.mu.Lock()
	s.streams = append(s.streams, entry)
	s.mu.Unlock()
	s.log.Info(fmt.Sprintf("Subscribing to pubsub '%s' topic '%s'", sub.PubsubName, sub.Topic))
	return func() {
		ending.Store(true)
		cancel()
		s.mu.Lock()
		defer s.mu.Unlock()
		for i, x := range s.streams {
			if x == entry {
				s.streams = append(s.streams[:i], s.streams[i+1:]...)
				break
			}
		}
	}, nil, nil
}

// Closed is closed when the subscriber stops.
func (s *Subscriber) Closed() <-chan struct{} { return s.closing }

// Stop ends every subscription: no new message is taken, and Stop waits
// until the deliveries in flight are done or ctx ends.
func (s *Subscriber) Stop(ctx context.Context) {
	if s == nil {
		return
	}
	if !s.drain.stop() {
		return
	}
	s.mu.Lock()
	close(s.closing)
	cancel := s.cancel
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	s.drain.wait(ctx)
}

// stopping reports whether Stop was called.
func (s *Subscriber) stopping() bool { return s.drain.stopping() }

// deliverFunc sends one event to its consumer (the app channel, or a
// streaming subscriber).
type deliverFunc func(ctx context.Context, ev *TopicEvent) (Outcome, error)

// handle is daprd's subscription handler for one message. closing reports
// whether the subscription is ending (the subscriber stops, or a stream
// ends): a message refused or failed then is left to the
// broker, never sent to the dead-letter topic (daprd's closed check).
func (s *Subscriber) handle(ctx context.Context, b *broker, sub Subscription, msg *pubsub.Message, deliver deliverFunc, closing func() bool) error {
	if closing() || !s.drain.enter() {
		// Not taken. Wait for the subscription's end (Stop cancels it
		// next) and fail with it, so that the broker keeps the message:
		// Redis Streams acknowledge an error while the context lives.
		<-ctx.Done()
		return ctx.Err()
	}
	defer s.drain.leave()

	p := s.cfg.PubSub
	name := b.name
	md := make(map[string]string, len(msg.Metadata)+2)
	for k, v := range msg.Metadata {
		md[k] = v
	}
	if msg.ContentType != "" {
		md["content-type"] = msg.ContentType
	}
	contentType, ok := md["content-type"]
	if !ok {
		contentType = "application/json"
	}
	md["pubsubName"] = name
	topic := msg.Topic
	if b.namespaced {
		topic = strings.Replace(topic, s.cfg.Namespace, "", 1)
	}
	dlq := func() bool {
		if sub.DeadLetterTopic == "" {
			return false
		}
		err := p.PublishDeadLetter(context.WithoutCancel(ctx), name, sub.DeadLetterTopic, &pubsub.Message{Topic: msg.Topic, Data: msg.Data, Metadata: md, ContentType: msg.ContentType})
		if err != nil {
			s.log.Error(fmt.Sprintf("error sending message to dead letter, origin topic: %s dead letter topic %s err: %v", topic, sub.DeadLetterTopic, err))
			return false
		}
		return true
	}
	// fail is an error before delivery: to the dead-letter topic if any
	// (counted as a drop), else back to the broker (a retry).
	fail := func(err error) error {
		if dlq() {
			p.RecordIngress(name, "drop", "", topic, 0)
			return nil
		}
		p.RecordIngress(name, "retry", "", topic, 0)
		return err
	}

	raw, err := rawPayload(sub.Metadata)
	if err != nil {
		s.log.Error(fmt.Sprintf("error deserializing pubsub metadata: %s", err))
		return fail(err)
	}
	var ce map[string]any
	data := msg.Data
	switch {
	case raw:
		id, _ := component.NewUUID()
		ce = map[string]any{ceID: id, ceSpecVersion: ceSpecVersion10, ceDataContentType: "application/octet-stream",
			ceSource: defaultCESource, ceType: defaultCEType, ceTopic: topic, cePubsub: name,
			ceDataBase64: base64.StdEncoding.EncodeToString(msg.Data)}
		if v, ok := md[ceTraceID]; ok {
			ce[ceTraceID] = v
		}
		if v, ok := md[ceTraceParent]; ok {
			ce[ceTraceParent] = v
			ce[ceTraceID] = v
		}
		if v, ok := md[ceTraceState]; ok {
			ce[ceTraceState] = v
		}
		if data, err = json.Marshal(ce); err != nil {
			return fail(err)
		}
	case isBinaryContentType(contentType):
		ce = map[string]any{}
		for k, v := range md {
			if rest, ok := strings.CutPrefix(strings.ToLower(k), "ce_"); ok {
				ce[rest] = v
			}
		}
		ce[ceData] = msg.Data
		ce[ceDataContentType] = contentType
	default:
		if err := json.Unmarshal(msg.Data, &ce); err != nil {
			s.log.Error(fmt.Sprintf("error deserializing cloud event in pubsub %s and topic %s: %s", name, topic, err))
			return fail(err)
		}
		if ce == nil { // the JSON null: delivered as daprd does, with no fields
			ce = map[string]any{}
		}
		if _, ok := ce[ceTraceID]; !ok {
			if v, ok := md[ceTraceID]; ok {
				ce[ceTraceID] = v
			}
		}
		if _, ok := ce[ceTraceParent]; !ok {
			if v, ok := md[ceTraceParent]; ok {
				ce[ceTraceParent] = v
				ce[ceTraceID] = v
			}
		}
		if _, ok := ce[ceTraceState]; !ok {
			if v, ok := md[ceTraceState]; ok {
				ce[ceTraceState] = v
			}
		}
	}

	if hasExpired(ce) {
		s.log.Warn(fmt.Sprintf("dropping expired pub/sub event %v as of %v", ce[ceID], ce[ceExpiration]))
		p.RecordIngress(name, "drop", "", topic, 0)
		dlq()
		return nil
	}
	path, match, err := matchRoute(sub.Rules, ce)
	if err != nil {
		s.log.Error(fmt.Sprintf("error finding matching route for event %v in pubsub %s and topic %s: %s", ce[ceID], name, topic, err))
		return fail(err)
	}
	if !match {
		p.RecordIngress(name, "drop", "success", topic, 0)
		dlq()
		return nil
	}

	start := time.Now()
	out, derr := deliver(s.drain.ctx, &TopicEvent{PubsubName: name, Topic: topic, Path: path,
		CloudEvent: ce, Data: data, Metadata: md})
	elapsed := time.Since(start)
	// ending: the subscription is closing and the delivery failed: no dead
	// letter and no error the broker would take as handled; the message
	// stays pending (daprd blocks on the handler context there too). A
	// DROP, 404 or Unimplemented answer is still honoured.
	ending := func() error {
		<-ctx.Done()
		return ctx.Err()
	}
	switch out {
	case OutcomeSuccess:
		p.RecordIngress(name, "success", "", topic, elapsed)
		return nil
	case OutcomeIgnored:
		s.log.Warn(fmt.Sprintf("non-retriable error returned from app while processing pub/sub event %v: %v", ce[ceID], derr))
		p.RecordIngress(name, "drop", "", topic, elapsed)
		return nil
	case OutcomeDrop, OutcomeDropNotFound, OutcomeStreamDrop:
		switch out {
		case OutcomeDrop:
			s.log.Warn(fmt.Sprintf("DROP status returned from app while processing pub/sub event %v", ce[ceID]))
			p.RecordIngress(name, "drop", "success", topic, elapsed)
		case OutcomeStreamDrop:
			s.log.Warn(fmt.Sprintf("DROP status returned from app while processing pub/sub event %v", ce[ceID]))
			p.RecordIngress(name, "drop", "", topic, elapsed)
		default:
			s.log.Error(fmt.Sprintf("non-retriable error returned from app while processing pub/sub event %v: %v", ce[ceID], derr))
			p.RecordIngress(name, "drop", "", topic, elapsed)
		}
		if sub.DeadLetterTopic != "" && !dlq() {
			if s.stopping() || closing() {
				return ending()
			}
			// daprd tries the dead-letter topic once more outside its
			// policy runner before giving the message back.
			if dlq() {
				p.RecordIngress(name, "drop", "", topic, 0)
				return nil
			}
			p.RecordIngress(name, "retry", "", topic, 0)
			return errMessageDropped
		}
		return nil
	}
	if s.stopping() || closing() {
		return ending()
	}
	p.RecordIngress(name, "retry", "", topic, elapsed)
	if derr == nil {
		derr = errors.New("retry")
	}
	s.log.Warn(fmt.Sprintf("retriable error returned from app while processing pub/sub event %v, topic: %v: %v", ce[ceID], topic, derr))
	if dlq() {
		p.RecordIngress(name, "drop", "", topic, 0)
		return nil
	}
	return derr
}

var errMessageDropped = errors.New("pubsub message dropped")

// hasExpired is contrib's HasExpired: an RFC 3339 "expiration" in the past.
func hasExpired(ce map[string]any) bool {
	e, ok := ce[ceExpiration]
	if !ok || e == "" {
		return false
	}
	t, err := time.Parse(time.RFC3339, fmt.Sprintf("%s", e))
	if err != nil {
		return false
	}
	return t.UTC().Before(time.Now().UTC())
}

// matchRoute is daprd's findMatchingRoute: the first rule whose match is
// empty or true over {"event": ce}.
func matchRoute(rules []Rule, ce map[string]any) (string, bool, error) {
	if len(rules) == 0 {
		return "", false, nil
	}
	vars := map[string]any{"event": ce}
	for _, r := range rules {
		if r.Match == nil || r.Match.String() == "" {
			return r.Path, true, nil
		}
		ok, err := r.Match.Eval(vars)
		if err != nil {
			return "", false, err
		}
		if ok {
			return r.Path, true, nil
		}
	}
	return "", false, nil
}
