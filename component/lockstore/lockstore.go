package lockstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/statecar/statecar/component"
)

// Status is the outcome of Unlock, with components-contrib's numbers (they
// are also the gRPC UnlockResponse.Status values, and HTTP writes them as
// numbers).
type Status int32

// The Unlock outcomes.
const (
	Success             Status = 0
	LockDoesNotExist    Status = 1
	LockBelongsToOthers Status = 2
	InternalError       Status = 3
)

// Store is a lock store. Implementations are safe for concurrent use.
type Store interface {
	// TryLock takes the lock on resource for owner for expiry seconds
	// (expiry > 0) if nobody holds it, and reports whether it did. It
	// never waits for the lock.
	TryLock(ctx context.Context, resource, owner string, expiry int32) (bool, error)
	// Unlock releases the lock on resource if owner holds it.
	Unlock(ctx context.Context, resource, owner string) (Status, error)
	// Close releases the store's connections.
	Close() error
}

// Factory opens a store from its component spec.
type Factory func(ctx context.Context, spec component.Spec, env component.Env) (Store, error)

var registry = component.NewRegistry[Factory]("lock store")

// Register makes a store type ("lock.redis") available to Open. It panics
// when typ is registered twice.
func Register(typ string, f Factory) { registry.Register(typ, f) }

// Types returns the registered types, sorted.
func Types() []string { return registry.Types() }

// ErrUnknownType is returned by Open for a type nobody registered.
var ErrUnknownType = errors.New("couldn't find lock store")

// Open creates the store of spec.Type.
func Open(ctx context.Context, spec component.Spec, env component.Env) (Store, error) {
	f, ok := registry.Lookup(spec.Type)
	if !ok {
		return nil, fmt.Errorf("%w %s/%s", ErrUnknownType, spec.Type, spec.Version)
	}
	return f(ctx, spec, env)
}

// The key scheme of lock resources (daprd pkg/components/lock): the
// resource ID is stored under "lock||<prefix>||<resource>", where the
// prefix follows the component's keyPrefix metadata.
const (
	keyPrefixMeta = "keyprefix"
	separator     = "||"
)

// KeyPrefix reads a lock component's keyPrefix strategy from its metadata
// (the name case-insensitively, the value lower-cased; "appid" by
// default). A strategy that contains "||" is an init error, with daprd's
// text.
func KeyPrefix(meta map[string]string) (string, error) {
	strategy := "appid"
	for k, v := range meta {
		if strings.ToLower(k) == keyPrefixMeta {
			strategy = strings.ToLower(v)
			break
		}
	}
	if err := checkKey(strategy); err != nil {
		return "", fmt.Errorf("failed to save lock keyprefix: %s", err)
	}
	return strategy, nil
}

// Key returns the stored key of resource in store under strategy, daprd's
// GetModifiedLockKey: "none" gives lock||resource, "name" lock||store||
// resource, "appid" lock||appID||resource (lock||resource without an app
// ID), anything else lock||strategy||resource. A resource that contains
// "||" is an error, with daprd's text.
func Key(strategy, resource, store, appID string) (string, error) {
	if err := checkKey(resource); err != nil {
		return "", err
	}
	switch strategy {
	case "none":
		return "lock" + separator + resource, nil
	case "name":
		return "lock" + separator + store + separator + resource, nil
	case "appid":
		if appID == "" {
			return "lock" + separator + resource, nil
		}
		return "lock" + separator + appID + separator + resource, nil
	default:
		return "lock" + separator + strategy + separator + resource, nil
	}
}

func checkKey(key string) error {
	if strings.Contains(key, separator) {
		return fmt.Errorf("input key/keyPrefix '%s' can't contain '%s'", key, separator)
	}
	return nil
}
