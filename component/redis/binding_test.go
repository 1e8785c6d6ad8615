package redis

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/statecar/statecar/component"
	"github.com/statecar/statecar/component/binding"
	"github.com/statecar/statecar/internal/testsrv"
)

func newBinding(t *testing.T) *Binding {
	t.Helper()
	testsrv.Require(t, srvErr)
	b, err := OpenBinding(context.Background(), component.Spec{Name: "rb", Type: "bindings.redis", Metadata: map[string]string{"redisHost": srv.Addr}}, component.Env{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func invoke(t *testing.T, b *Binding, op, key string, data string, meta map[string]string) (*binding.InvokeResponse, error) {
	t.Helper()
	m := map[string]string{"key": key}
	for k, v := range meta {
		m[k] = v
	}
	return b.Invoke(context.Background(), &binding.InvokeRequest{Operation: op, Data: []byte(data), Metadata: m})
}

// TestBindingOperations covers contrib's bindings.redis: create, get
// (empty response for a missing key), get with delete=true (GETDEL),
// delete, increment, and ttl on create and increment.
func TestBindingOperations(t *testing.T) {
	b := newBinding(t)
	rc := rawDB(t, 0)
	ctx := context.Background()
	k := cfgKey(t)

	if resp, err := invoke(t, b, "create", k, `{"a":1}`, nil); err != nil || resp != nil {
		t.Fatalf("create: %v %v", resp, err)
	}
	if v := rc.Get(ctx, k).Val(); v != `{"a":1}` {
		t.Fatalf("stored %q", v)
	}
	if ttl := rc.TTL(ctx, k).Val(); ttl != -1 {
		t.Fatalf("TTL without ttl metadata: %v", ttl)
	}
	resp, err := invoke(t, b, "get", k, "", nil)
	if err != nil || resp == nil || string(resp.Data) != `{"a":1}` {
		t.Fatalf("get: %v %v", resp, err)
	}
	resp, err = invoke(t, b, "get", k, "", map[string]string{"delete": "true"})
	if err != nil || string(resp.Data) != `{"a":1}` || rc.Exists(ctx, k).Val() != 0 {
		t.Fatalf("get with delete: %v %v (exists %d)", resp, err, rc.Exists(ctx, k).Val())
	}
	resp, err = invoke(t, b, "get", k, "", nil)
	if err != nil || resp == nil || resp.Data != nil {
		t.Fatalf("get of a missing key: %+v %v, want an empty response", resp, err)
	}

	if _, err := invoke(t, b, "create", k, "v", map[string]string{"ttlInSeconds": "100"}); err != nil {
		t.Fatal(err)
	}
	if ttl := rc.TTL(ctx, k).Val(); ttl <= 90*time.Second || ttl > 100*time.Second {
		t.Fatalf("TTL after ttlInSeconds=100: %v", ttl)
	}
	if _, err := invoke(t, b, "delete", k, "", nil); err != nil || rc.Exists(ctx, k).Val() != 0 {
		t.Fatalf("delete: %v", err)
	}

	for i := 0; i < 3; i++ {
		if _, err := invoke(t, b, OpIncrement, k, "", map[string]string{"ttl": "1m"}); err != nil {
			t.Fatal(err)
		}
	}
	if v := rc.Get(ctx, k).Val(); v != "3" {
		t.Fatalf("after 3 increments: %q", v)
	}
	if ttl := rc.TTL(ctx, k).Val(); ttl <= 50*time.Second || ttl > time.Minute {
		t.Fatalf("TTL after ttl=1m: %v", ttl)
	}
}

func TestBindingErrors(t *testing.T) {
	b := newBinding(t)
	rc := rawDB(t, 0)
	k := cfgKey(t)
	if _, err := b.Invoke(context.Background(), &binding.InvokeRequest{Operation: "get", Metadata: map[string]string{}}); err == nil || err.Error() != "redis binding: missing key in request metadata" {
		t.Errorf("no key: %v", err)
	}
	if _, err := invoke(t, b, "list", k, "", nil); err == nil || err.Error() != "invalid operation type: list" {
		t.Errorf("list: %v", err)
	}
	// A bad ttl fails the call after the write, as in contrib.
	if _, err := invoke(t, b, "create", k, "v", map[string]string{"ttl": "soon"}); err == nil || err.Error() != "ttl value must be a valid integer: actual is 'soon'" {
		t.Errorf("bad ttl: %v", err)
	}
	if v := rc.Get(context.Background(), k).Val(); v != "v" {
		t.Errorf("value after a bad ttl: %q", v)
	}
	if _, err := invoke(t, b, OpIncrement, k, "", nil); err == nil || !strings.Contains(err.Error(), "not an integer") {
		t.Errorf("increment of a non-number: %v", err)
	}
	if got := strings.Join(b.Operations(), " "); got != "create delete get increment" {
		t.Errorf("operations %q", got)
	}
	_, err := OpenBinding(context.Background(), component.Spec{Name: "rb", Type: "bindings.redis", Metadata: map[string]string{"redisHost": "127.0.0.1:1", "redisMaxRetries": "0", "dialTimeout": "200ms"}}, component.Env{})
	if err == nil || !strings.HasPrefix(err.Error(), "redis binding: error connecting to redis at 127.0.0.1:1: ") {
		t.Errorf("server down at init: %v", err)
	}
}

// TestBindingDefaults: contrib parses bindings.redis without the state
// store's legacy names and with go-redis's backoff, 8 ms to 512 ms.
func TestBindingDefaults(t *testing.T) {
	cfg, err := parseBindingConfig(component.Spec{Metadata: map[string]string{
		"redisHost": "h", "maxRetries": "9", "maxRetryBackoff": "5000000000",
	}})
	mustDo(t, err)
	if cfg.maxRetries != 3 || cfg.minRetryBackoff != 8*time.Millisecond || cfg.maxRetryBackoff != 512*time.Millisecond {
		t.Fatalf("defaults: retries %d, backoff %v..%v", cfg.maxRetries, cfg.minRetryBackoff, cfg.maxRetryBackoff)
	}
	cfg, err = parseBindingConfig(component.Spec{Metadata: map[string]string{
		"redisHost": "h", "redisMaxRetries": "1", "redisMinRetryInterval": "20ms", "redisMaxRetryInterval": "1s",
	}})
	mustDo(t, err)
	if cfg.maxRetries != 1 || cfg.minRetryBackoff != 20*time.Millisecond || cfg.maxRetryBackoff != time.Second {
		t.Fatalf("set: retries %d, backoff %v..%v", cfg.maxRetries, cfg.minRetryBackoff, cfg.maxRetryBackoff)
	}
}
