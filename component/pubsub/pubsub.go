package pubsub

import (
	"context"
	"errors"
	"fmt"

	"github.com/statecar/statecar/component"
)

// Features a broker may report (contrib's pubsub.Feature values, as they
// appear in /v1.0/metadata).
const (
	// FeatureMessageTTL: the broker expires messages itself (metadata
	// ttlInSeconds); without it the runtime writes an "expiration" into the
	// CloudEvent and drops expired events on delivery.
	FeatureMessageTTL = "MESSAGE_TTL"
	// FeatureSubscribeWildcards: topics may contain broker wildcards.
	FeatureSubscribeWildcards = "SUBSCRIBE_WILDCARDS"
	// FeatureBulkPublish: the broker publishes many messages in one call.
	FeatureBulkPublish = "BULK_PUBLISH"
)

// PublishRequest is one message to publish.
type PublishRequest struct {
	Topic string
	Data  []byte
	// Metadata is the request metadata (metadata.* query parameters, or the
	// gRPC request's metadata map). Brokers that carry metadata with the
	// message (Redis Streams, the in-memory bus) hand it to subscribers.
	Metadata map[string]string
	// ContentType is the content type of a raw payload ("" = not set).
	ContentType string
}

// Message is one message delivered to a Handler.
type Message struct {
	Topic    string
	Data     []byte
	Metadata map[string]string
	// ContentType is set when the broker carries one ("" = none).
	ContentType string
}

// Handler processes one message. A nil error means done (acknowledged);
// what an error means is the broker's rule (see the package doc).
type Handler func(ctx context.Context, msg *Message) error

// SubscribeRequest names the topic to read and the subscription's
// metadata (from the subscription, not from the component).
type SubscribeRequest struct {
	Topic    string
	Metadata map[string]string
}

// PubSub is a broker. Implementations are safe for concurrent use.
type PubSub interface {
	// Features lists the broker's Feature* values.
	Features() []string
	// Publish sends req; it returns after the broker accepted it.
	Publish(ctx context.Context, req *PublishRequest) error
	// Subscribe starts delivering the messages of req.Topic to h, on the
	// broker's own goroutines, until ctx is cancelled or the broker is
	// closed. It returns once the subscription is established (a message
	// published after Subscribe returns is delivered).
	Subscribe(ctx context.Context, req SubscribeRequest, h Handler) error
	// Close stops all subscriptions, waits for their handlers to return and
	// releases the broker's connections.
	Close() error
}

// Factory opens a broker from its component spec.
type Factory func(ctx context.Context, spec component.Spec, env component.Env) (PubSub, error)

var registry = component.NewRegistry[Factory]("pubsub")

// Register makes a broker type ("pubsub.redis") available to Open. It
// panics when typ is registered twice.
func Register(typ string, f Factory) { registry.Register(typ, f) }

// Types returns the registered types, sorted.
func Types() []string { return registry.Types() }

// ErrUnknownType is returned by Open for a type nobody registered.
var ErrUnknownType = errors.New("couldn't find message bus")

// ErrClosed is returned by Publish and Subscribe after Close (contrib's
// "component is closed").
var ErrClosed = errors.New("component is closed")

// Open creates the broker of spec.Type.
func Open(ctx context.Context, spec component.Spec, env component.Env) (PubSub, error) {
	f, ok := registry.Lookup(spec.Type)
	if !ok {
		return nil, fmt.Errorf("%w %s/%s", ErrUnknownType, spec.Type, spec.Version)
	}
	return f(ctx, spec, env)
}
