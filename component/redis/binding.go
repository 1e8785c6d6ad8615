package redis

import (
	"context"
	"errors"
	"fmt"

	goredis "github.com/redis/go-redis/v9"

	"github.com/statecar/statecar/component"
	"github.com/statecar/statecar/component/binding"
)

func init() {
	binding.Register("bindings.redis", func(ctx context.Context, spec component.Spec, env component.Env) (binding.Output, error) {
		return OpenBinding(ctx, spec, env)
	})
}

// OpIncrement is bindings.redis's INCR operation.
const OpIncrement = "increment"

// Binding is the "bindings.redis" output binding (components-contrib
// bindings/redis): create (SET, with an optional ttl), get (GET, or GETDEL
// with metadata delete=true), delete (DEL) and increment (INCR, with an
// optional ttl) of the key in the request's "key" metadata.
type Binding struct {
	client goredis.UniversalClient
}

// OpenBinding connects to Redis as the component spec says (the metadata
// of state.redis, with contrib's defaults for a binding: no legacy names,
// backoff 8 ms to 512 ms) and checks the connection with PING.
func OpenBinding(ctx context.Context, spec component.Spec, env component.Env) (*Binding, error) {
	_, c, _, err := openPinged(ctx, spec, env, parseBindingConfig, func(hosts string, err error) error {
		return fmt.Errorf("redis binding: error connecting to redis at %s: %s", hosts, err)
	})
	if err != nil {
		return nil, err
	}
	b := &Binding{client: c}
	return b, nil
}

// Operations implements binding.Output.
func (b *Binding) Operations() []string {
	return []string{binding.OpCreate, binding.OpDelete, binding.OpGet, OpIncrement}
}

// Invoke implements binding.Output with contrib's semantics: a get of a
// missing key is an empty response (HTTP 200 with no body), create,
// delete and increment return nothing (HTTP 204).
func (b *Binding) Invoke(ctx context.Context, req *binding.InvokeRequest) (*binding.InvokeResponse, error) {
	key := req.Metadata["key"]
	if key == "" {
		return nil, errors.New("redis binding: missing key in request metadata")
	}
	switch req.Operation {
	case binding.OpDelete:
		return nil, b.client.Del(ctx, key).Err()
	case binding.OpGet:
		var v string
		var err error
		if req.Metadata["delete"] == "true" {
			v, err = b.client.GetDel(ctx, key).Result()
		} else {
			v, err = b.client.Get(ctx, key).Result()
		}
		if errors.Is(err, goredis.Nil) {
			return &binding.InvokeResponse{}, nil
		}
		if err != nil {
			return nil, err
		}
		return &binding.InvokeResponse{Data: []byte(v)}, nil
	case binding.OpCreate:
		if err := b.client.Set(ctx, key, req.Data, 0).Err(); err != nil {
			return nil, err
		}
		return nil, b.expire(ctx, req.Metadata, key)
	case OpIncrement:
		if err := b.client.Incr(ctx, key).Err(); err != nil {
			return nil, err
		}
		return nil, b.expire(ctx, req.Metadata, key)
	}
	return nil, fmt.Errorf("invalid operation type: %s", req.Operation)
}

// expire applies the request's ttl after the write, as contrib does (two
// commands: a failure of the second leaves the value without the TTL).
func (b *Binding) expire(ctx context.Context, meta map[string]string, key string) error {
	ttl, ok, err := binding.TTL(meta)
	if err != nil || !ok {
		return err
	}
	return b.client.Do(ctx, "EXPIRE", key, int64(ttl.Seconds())).Err()
}

// Client returns the underlying go-redis client (for tests and tools).
func (b *Binding) Client() goredis.UniversalClient { return b.client }

// Close implements binding.Output.
func (b *Binding) Close() error { return b.client.Close() }
