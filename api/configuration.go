package api

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/statecar/statecar/component/configstore"
)

// Error codes of the Configuration API (daprd pkg/messages/errorcodes;
// category "configuration" in dapr_error_code_total).
const (
	CodeConfigNotConfigured = "ERR_CONFIGURATION_STORE_NOT_CONFIGURED"
	CodeConfigNotFound      = "ERR_CONFIGURATION_STORE_NOT_FOUND"
	CodeConfigGet           = "ERR_CONFIGURATION_GET"
	CodeConfigSubscribe     = "ERR_CONFIGURATION_SUBSCRIBE"
	CodeConfigUnsubscribe   = "ERR_CONFIGURATION_UNSUBSCRIBE"
)

func configErr(httpStatus int, code codes.Code, tag, msg string) *Error {
	e := basic(httpStatus, code, tag, msg)
	e.category = "configuration"
	return e
}

// ConfigStore is one loaded configuration store as the Configuration API
// serves it.
type ConfigStore struct {
	Name  string
	Store configstore.Store
}

// ConfigurationConfig configures NewConfiguration.
type ConfigurationConfig struct {
	AppID, Namespace string
	Stores           []ConfigStore
	// LatencyBuckets are the dapr_component_configuration_latencies
	// buckets in ms (nil: daprd's defaults).
	LatencyBuckets []float64
	// DisableMetrics turns off dapr_component_configuration_* recording.
	DisableMetrics bool
}

// The operations of dapr_component_configuration_* (daprd diagnostics:
// Get, ConfigurationSubscribe, ConfigurationUnsubscribe).
const (
	confOpGet = iota
	confOpSubscribe
	confOpUnsubscribe
	confOps
)

var confOpNames = [confOps]string{"get", "subscribe", "unsubscribe"}

// Configuration serves the Configuration API (other-building-blocks.md §1)
// over the loaded configuration stores.
//
// The store table is immutable after NewConfiguration. The stream table
// (gRPC SubscribeConfiguration streams by subscription ID, daprd's
// CompStore configuration subscriptions) is guarded by mu. HTTP
// subscriptions live in the stores themselves under a context that Close
// cancels: daprd keeps them until they are unsubscribed or the sidecar
// stops.
type Configuration struct {
	stores map[string]*confEntry

	// base is the parent context of HTTP subscriptions; cancel ends them.
	base   context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	streams map[string]chan struct{} // gRPC subscription ID -> stop
}

type confEntry struct {
	ConfigStore
	ops componentOps // indexed by confOpGet, confOpSubscribe, confOpUnsubscribe
}

// NewConfiguration builds the Configuration API. Its metric series are
// created here, so that they exist (at 0) from the start.
func NewConfiguration(cfg ConfigurationConfig) *Configuration {
	c := &Configuration{stores: make(map[string]*confEntry, len(cfg.Stores)), streams: map[string]chan struct{}{}}
	c.base, c.cancel = context.WithCancel(context.Background())
	buckets := cfg.LatencyBuckets
	if buckets == nil {
		buckets = defaultLatencyBuckets
	}
	for _, st := range cfg.Stores {
		e := &confEntry{ConfigStore: st}
		if !cfg.DisableMetrics {
			e.ops = newComponentOps("dapr_component_configuration", cfg.AppID, cfg.Namespace, st.Name, confOpNames[:], buckets)
		}
		c.stores[st.Name] = e
	}
	return c
}

// CheckStore validates store as daprd does before every Configuration API
// call: 500 ERR_CONFIGURATION_STORE_NOT_CONFIGURED when no configuration
// store is loaded at all (gRPC FailedPrecondition), then 400
// ERR_CONFIGURATION_STORE_NOT_FOUND for an unknown name (gRPC
// InvalidArgument; daprd's rich error says 500 for HTTP there, but its gRPC
// path never reaches HTTP). A nil *Configuration has no stores.
func (c *Configuration) CheckStore(store string) *Error {
	_, err := c.lookup(store)
	return err
}

func (c *Configuration) lookup(store string) (*confEntry, *Error) {
	if c == nil || len(c.stores) == 0 {
		return nil, configErr(http.StatusInternalServerError, codes.FailedPrecondition, CodeConfigNotConfigured, "configuration stores not configured")
	}
	e, ok := c.stores[store]
	if !ok {
		return nil, configErr(http.StatusBadRequest, codes.InvalidArgument, CodeConfigNotFound, "configuration store "+store+" not found")
	}
	return e, nil
}

// Get returns the items of keys (every item for no keys) from store:
// daprd's GetConfiguration. An empty map means "none" (HTTP 204).
func (c *Configuration) Get(ctx context.Context, store string, keys []string, meta map[string]string) (map[string]*configstore.Item, *Error) {
	e, err := c.lookup(store)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	items, gerr := e.Store.Get(ctx, keys, meta)
	e.ops.record(confOpGet, start, gerr == nil)
	if gerr != nil {
		return nil, configErr(http.StatusInternalServerError, codes.Internal, CodeConfigGet,
			fmt.Sprintf("failed to get %s from Configuration store %s: %v", keysText(keys), store, gerr))
	}
	return items, nil
}

// keysText formats keys as daprd's %s of a []string does ("[a b]").
func keysText(keys []string) string { return fmt.Sprintf("%s", keys) }

// SubscribeHTTP subscribes to keys of store for the HTTP API: the
// subscription outlives the request, until UnsubscribeHTTP or Close, as in
// daprd. h receives every update event.
func (c *Configuration) SubscribeHTTP(store string, keys []string, meta map[string]string, h configstore.Handler) (string, *Error) {
	return c.subscribe(c.base, store, keys, meta, h, http.StatusInternalServerError)
}

// subscribe is daprd's subscribe step of both transports: the store's
// Subscribe, recorded as operation "subscribe"; a failure is
// ERR_CONFIGURATION_SUBSCRIBE (HTTP 500, gRPC InvalidArgument).
func (c *Configuration) subscribe(ctx context.Context, store string, keys []string, meta map[string]string, h configstore.Handler, status int) (string, *Error) {
	e, err := c.lookup(store)
	if err != nil {
		return "", err
	}
	start := time.Now()
	id, serr := e.Store.Subscribe(ctx, keys, meta, h)
	e.ops.record(confOpSubscribe, start, serr == nil)
	if serr != nil {
		return "", configErr(status, codes.InvalidArgument, CodeConfigSubscribe,
			fmt.Sprintf("failed to subscribe %s from Configuration store %s: %v", keysText(keys), store, serr))
	}
	return id, nil
}

// UnsubscribeHTTP ends subscription id of store (HTTP
// .../{id}/unsubscribe). A failure returns daprd's message text
// ("failed to unsubscribe to configuration request {id}: {err}"), which
// the HTTP handler writes without an error code, as daprd does.
func (c *Configuration) UnsubscribeHTTP(ctx context.Context, store, id string) (failure string, e *Error) {
	ent, err := c.lookup(store)
	if err != nil {
		return "", err
	}
	return c.unsubscribe(ctx, ent, id), nil
}

func (c *Configuration) unsubscribe(ctx context.Context, e *confEntry, id string) string {
	start := time.Now()
	uerr := e.Store.Unsubscribe(ctx, id)
	e.ops.record(confOpUnsubscribe, start, uerr == nil)
	if uerr != nil {
		return fmt.Sprintf("failed to unsubscribe to configuration request %s: %v", id, uerr)
	}
	return ""
}

// Stream is one gRPC SubscribeConfiguration stream's subscription.
type Stream struct {
	c     *Configuration
	e     *confEntry
	ID    string
	stop  chan struct{}
	once  sync.Once
	ready chan struct{}
}

// SubscribeStream subscribes for a gRPC SubscribeConfiguration stream whose
// context is ctx. Events reach send only after Ready is called (daprd sends
// the subscription ID first). The caller waits on Stopped or ctx, then calls
// End.
func (c *Configuration) SubscribeStream(ctx context.Context, store string, keys []string, meta map[string]string, send func(*configstore.UpdateEvent) error) (*Stream, *Error) {
	e, err := c.lookup(store)
	if err != nil {
		return nil, err
	}
	st := &Stream{c: c, e: e, stop: make(chan struct{}), ready: make(chan struct{})}
	var sendMu sync.Mutex // a gRPC stream's Send is not safe for concurrent use
	h := func(ctx context.Context, ev *configstore.UpdateEvent) error {
		select {
		case <-st.ready:
		case <-ctx.Done():
			return ctx.Err()
		}
		sendMu.Lock()
		defer sendMu.Unlock()
		return send(ev)
	}
	id, err := c.subscribe(ctx, store, keys, meta, h, http.StatusInternalServerError)
	if err != nil {
		return nil, err
	}
	st.ID = id
	c.mu.Lock()
	c.streams[id] = st.stop
	c.mu.Unlock()
	return st, nil
}

// Ready lets events through (after the ID message was sent).
func (st *Stream) Ready() { st.once.Do(func() { close(st.ready) }) }

// Stopped is closed when UnsubscribeStream or Close ends the stream.
func (st *Stream) Stopped() <-chan struct{} { return st.stop }

// End unsubscribes in the store (with a fresh context: the stream's is
// usually done) and forgets the stream.
func (st *Stream) End() {
	st.Ready()
	st.c.unsubscribe(context.Background(), st.e, st.ID)
	st.c.mu.Lock()
	if ch, ok := st.c.streams[st.ID]; ok && ch == st.stop {
		delete(st.c.streams, st.ID)
	}
	st.c.mu.Unlock()
}

// UnsubscribeStream is gRPC UnsubscribeConfiguration (deprecated in daprd):
// it stops the SubscribeConfiguration stream of id. It returns daprd's
// failure message, or "" on success; the failure counts as
// ERR_CONFIGURATION_UNSUBSCRIBE, as daprd records it.
func (c *Configuration) UnsubscribeStream(id string) string {
	var stop chan struct{}
	if c != nil {
		c.mu.Lock()
		stop = c.streams[id]
		delete(c.streams, id)
		c.mu.Unlock()
	}
	if stop == nil {
		CountErrorCode("configuration", CodeConfigUnsubscribe)
		return fmt.Sprintf("failed to unsubscribe to configuration request %s: subscription does not exist", id)
	}
	close(stop)
	return ""
}

// StopSubscriptions ends every subscription: the HTTP ones' context is
// cancelled and every SubscribeConfiguration stream is stopped, so that a
// graceful gRPC stop does not wait for streams that never end (daprd's
// DeleteAllConfigurationSubscribe at API close). Idempotent.
func (c *Configuration) StopSubscriptions() {
	if c == nil {
		return
	}
	c.cancel()
	c.mu.Lock()
	for id, stop := range c.streams {
		close(stop)
		delete(c.streams, id)
	}
	c.mu.Unlock()
}

// Close ends every subscription and closes the stores.
func (c *Configuration) Close() error {
	if c == nil {
		return nil
	}
	c.StopSubscriptions()
	var first error
	for _, e := range c.stores {
		if err := e.Store.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
