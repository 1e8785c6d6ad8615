package configstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/statecar/statecar/component"
)

// Item is one configuration item. The JSON names and omitempty rules are
// daprd's (components-contrib configuration.Item): they are the HTTP
// response and the update-event body the app receives.
type Item struct {
	Value    string            `json:"value,omitempty"`
	Version  string            `json:"version,omitempty"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

// UpdateEvent is what a subscription delivers: the subscription ID and the
// changed items by key. A deleted key arrives with an empty Item.
type UpdateEvent struct {
	ID    string           `json:"id"`
	Items map[string]*Item `json:"items"`
}

// Handler receives the update events of one subscription. A store calls it
// from its own goroutine, one event at a time per subscription.
type Handler func(ctx context.Context, e *UpdateEvent) error

// Store is a configuration store. Its methods are safe for concurrent use.
type Store interface {
	// Get returns the items of keys (every item when keys is empty). A
	// missing key is absent from the map, not an error.
	Get(ctx context.Context, keys []string, meta map[string]string) (map[string]*Item, error)
	// Subscribe starts delivering changes of keys (every key when keys is
	// empty) to h and returns the subscription ID. The subscription lives
	// until Unsubscribe, until ctx is cancelled, or until Close.
	Subscribe(ctx context.Context, keys []string, meta map[string]string, h Handler) (string, error)
	// Unsubscribe stops subscription id; an unknown id is an error.
	Unsubscribe(ctx context.Context, id string) error
	// Close stops every subscription and releases the connections.
	Close() error
}

// Factory creates a configuration store from its component spec.
type Factory func(ctx context.Context, spec component.Spec, env component.Env) (Store, error)

var registry = component.NewRegistry[Factory]("configuration store")

// Register registers a configuration store type (e.g.
// "configuration.redis"). Types are matched case-insensitively.
// Registering a type twice panics.
func Register(typ string, f Factory) { registry.Register(typ, f) }

// Types lists the registered types, sorted.
func Types() []string { return registry.Types() }

// ErrUnknownType is returned by Open for an unregistered type; its text is
// completed with the type and version.
var ErrUnknownType = errors.New("couldn't find configuration store")

// Open creates the store that spec.Type names.
func Open(ctx context.Context, spec component.Spec, env component.Env) (Store, error) {
	f, ok := registry.Lookup(spec.Type)
	if !ok {
		return nil, fmt.Errorf("%w %s/%s", ErrUnknownType, spec.Type, spec.Version)
	}
	return f(ctx, spec, env)
}
