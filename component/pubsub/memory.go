package pubsub

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/statecar/statecar/component"
)

func init() {
	Register("pubsub.in-memory", func(_ context.Context, _ component.Spec, env component.Env) (PubSub, error) {
		return NewMemory(env.Logger), nil
	})
}

// Memory is "pubsub.in-memory" (components-contrib pubsub/in-memory over
// common/eventbus with wildcards on): messages go to every subscription of
// the topic in this process only, nothing is stored. A subscription topic
// ending in "*" receives every topic it prefixes (but not the prefix
// itself). Each subscription gets its messages one at a time, in publish
// order; Publish waits while the previous message of a subscription is
// still being handled (the bus's backpressure), then returns without
// waiting for the handlers. A handler error is logged and the message is
// gone.
type Memory struct {
	log *slog.Logger

	mu     sync.Mutex // guards subs and closed
	subs   []*memSub
	closed bool
	wg     sync.WaitGroup // handler goroutines
}

type memSub struct {
	topic string
	ctx   context.Context
	h     Handler
	busy  sync.Mutex // held while a message of this subscription is handled
}

// NewMemory returns an empty bus logging handler errors to log (nil:
// slog.Default).
func NewMemory(log *slog.Logger) *Memory {
	if log == nil {
		log = slog.Default()
	}
	return &Memory{log: log}
}

// Features implements PubSub.
func (m *Memory) Features() []string { return []string{FeatureSubscribeWildcards} }

func (s *memSub) matches(topic string) bool {
	if s.topic == topic {
		return true
	}
	prefix, ok := strings.CutSuffix(s.topic, "*")
	return ok && strings.HasPrefix(topic, prefix) && topic != prefix
}

// Publish implements PubSub.
func (m *Memory) Publish(_ context.Context, req *PublishRequest) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	var targets []*memSub
	for _, s := range m.subs {
		if s.matches(req.Topic) && s.ctx.Err() == nil {
			targets = append(targets, s)
		}
	}
	m.wg.Add(len(targets))
	m.mu.Unlock()
	for _, s := range targets {
		s.busy.Lock() // in order, one at a time per subscription
		// No content type: contrib's bus carries data and metadata only.
		msg := &Message{Topic: req.Topic, Data: req.Data, Metadata: req.Metadata}
		go func() {
			defer m.wg.Done()
			defer s.busy.Unlock()
			if err := s.h(s.ctx, msg); err != nil {
				m.log.Error(fmt.Sprintf("in-memory pubsub: handler of topic %s: %v", msg.Topic, err))
			}
		}()
	}
	return nil
}

// Subscribe implements PubSub. The subscription ends when ctx is done.
func (m *Memory) Subscribe(ctx context.Context, req SubscribeRequest, h Handler) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	s := &memSub{topic: req.Topic, ctx: ctx, h: h}
	m.subs = append(m.subs, s)
	context.AfterFunc(ctx, func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		for i, x := range m.subs {
			if x == s {
				m.subs = append(m.subs[:i], m.subs[i+1:]...)
				break
			}
		}
	})
	return nil
}

// Close implements PubSub: later publishes fail and Close waits for the
// handlers in flight.
func (m *Memory) Close() error {
	m.mu.Lock()
	m.closed = true
	m.subs = nil
	m.mu.Unlock()
	m.wg.Wait()
	return nil
}
