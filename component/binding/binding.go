package binding

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/statecar/statecar/component"
)

// The operations most bindings share (contrib's OperationKind values); a
// binding may define others.
const (
	OpGet    = "get"
	OpCreate = "create"
	OpDelete = "delete"
	OpList   = "list"
)

// InvokeRequest is one call of an output binding.
type InvokeRequest struct {
	Data      []byte
	Metadata  map[string]string
	Operation string
}

// InvokeResponse is what a binding returns; a nil *InvokeResponse means
// "nothing" (HTTP 204), an empty one an empty 200.
type InvokeResponse struct {
	Data     []byte
	Metadata map[string]string
}

// Output is an output binding. Implementations are safe for concurrent
// use.
type Output interface {
	// Operations lists the operations Invoke accepts.
	Operations() []string
	// Invoke runs req (whose Operation is one of Operations).
	Invoke(ctx context.Context, req *InvokeRequest) (*InvokeResponse, error)
	// Close releases the binding's connections.
	Close() error
}

// Factory opens a binding from its component spec.
type Factory func(ctx context.Context, spec component.Spec, env component.Env) (Output, error)

var registry = component.NewRegistry[Factory]("binding")

// Register makes an output binding type ("bindings.redis") available to
// Open. It panics when typ is registered twice.
func Register(typ string, f Factory) { registry.Register(typ, f) }

// Types returns the registered types, sorted.
func Types() []string { return registry.Types() }

// ErrUnknownType is returned by Open for a type nobody registered (daprd's
// registry text for a binding that is neither input nor output).
var ErrUnknownType = errors.New("couldn't find output binding")

// Open creates the binding of spec.Type.
func Open(ctx context.Context, spec component.Spec, env component.Env) (Output, error) {
	f, ok := registry.Lookup(spec.Type)
	if !ok {
		return nil, fmt.Errorf("%w %s/%s", ErrUnknownType, spec.Type, spec.Version)
	}
	return f(ctx, spec, env)
}

// TTL reads a request's time to live as contrib's metadata.TryGetTTL does:
// "ttl" or else "ttlInSeconds" (names case-insensitive), a Go duration or a
// positive number of seconds; ok is false when absent or empty.
func TTL(meta map[string]string) (d time.Duration, ok bool, err error) {
	val, found := lookupFold(meta, "ttl")
	if !found {
		val, _ = lookupFold(meta, "ttlInSeconds")
	}
	if val == "" {
		return 0, false, nil
	}
	if d, err := time.ParseDuration(val); err == nil {
		return max(d, 0), true, nil
	}
	n, err := strconv.ParseInt(val, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("ttl value must be a valid integer: actual is '%s'", val)
	}
	if n <= 0 {
		return 0, false, fmt.Errorf("ttl value must be higher than zero: actual is '%d'", n)
	}
	d = time.Duration(n) * time.Second
	if d/time.Second != time.Duration(n) {
		d = math.MaxInt64 // overflow, as contrib clamps it
	}
	return d, true, nil
}

func lookupFold(m map[string]string, name string) (string, bool) {
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}

// ReadResponse is one event an input binding read.
type ReadResponse struct {
	Data     []byte
	Metadata map[string]string
}

// InputHandler hands one event to the app; it returns the app's answer.
// An error tells the binding that the event was not handled (what it does
// then is the binding's rule).
type InputHandler func(ctx context.Context, ev *ReadResponse) ([]byte, error)

// Input is an input binding: it reads events from its source and hands
// them to a handler. Implementations are safe for concurrent use.
type Input interface {
	// Read starts reading, on the binding's own goroutines, until ctx is
	// done or the binding is closed; it returns once reading has started.
	Read(ctx context.Context, h InputHandler) error
	// Close stops reading and waits for the handlers in flight.
	Close() error
}

// InputFactory opens an input binding from its component spec.
type InputFactory func(ctx context.Context, spec component.Spec, env component.Env) (Input, error)

var inputs = component.NewRegistry[InputFactory]("input binding")

// RegisterInput makes an input binding type ("bindings.cron") available to
// OpenInput. It panics when typ is registered twice.
func RegisterInput(typ string, f InputFactory) { inputs.Register(typ, f) }

// InputTypes returns the registered input binding types, sorted.
func InputTypes() []string { return inputs.Types() }

// OpenInput creates the input binding of spec.Type.
func OpenInput(ctx context.Context, spec component.Spec, env component.Env) (Input, error) {
	f, ok := inputs.Lookup(spec.Type)
	if !ok {
		return nil, fmt.Errorf("couldn't find input binding %s/%s", spec.Type, spec.Version)
	}
	return f(ctx, spec, env)
}
