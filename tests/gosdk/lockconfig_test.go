package gosdk

import (
	"context"
	"testing"
	"time"

	dapr "github.com/dapr/go-sdk/client"
	"google.golang.org/grpc/codes"
)

// TestRedisBuildingBlocks drives the Distributed Lock API (lock.redis),
// the Configuration API (configuration.redis) and output bindings
// (bindings.redis) through the Go SDK's TryLockAlpha1, UnlockAlpha1,
// GetConfigurationItem(s), SubscribeConfigurationItems,
// UnsubscribeConfigurationItems and InvokeBinding, over one real
// redis-server.
func TestRedisBuildingBlocks(t *testing.T) {
	r := startRedis(t)
	extra := componentYAML("redislock", "lock.redis", map[string]string{"redisHost": r.Addr}) + "---\n" +
		componentYAML("redisconf", "configuration.redis", map[string]string{"redisHost": r.Addr}) + "---\n" +
		componentYAML("redisbinding", "bindings.redis", map[string]string{"redisHost": r.Addr})
	sc := startSidecarWith(t, extra)
	c := newClient(t, sc)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	t.Run("lock", func(t *testing.T) {
		got, err := c.TryLockAlpha1(ctx, "redislock", &dapr.LockRequest{ResourceID: "order-1", LockOwner: "worker-a", ExpiryInSeconds: 30})
		if err != nil || !got.Success {
			t.Fatalf("TryLockAlpha1 = %+v, %v; want success", got, err)
		}
		if v := r.get(t, "lock||myapp||order-1"); v != "worker-a" {
			t.Fatalf("Redis lock||myapp||order-1 = %q, want worker-a", v)
		}
		got, err = c.TryLockAlpha1(ctx, "redislock", &dapr.LockRequest{ResourceID: "order-1", LockOwner: "worker-b", ExpiryInSeconds: 30})
		if err != nil || got.Success {
			t.Fatalf("TryLockAlpha1 of a held lock = %+v, %v; want no success", got, err)
		}
		for _, w := range []struct {
			owner string
			code  int32
			name  string
		}{{"worker-b", 2, "LOCK_BELONGS_TO_OTHERS"}, {"worker-a", 0, "SUCCESS"}, {"worker-a", 1, "LOCK_DOES_NOT_EXIST"}} {
			u, err := c.UnlockAlpha1(ctx, "redislock", &dapr.UnlockRequest{ResourceID: "order-1", LockOwner: w.owner})
			if err != nil || u.StatusCode != w.code || u.Status != w.name {
				t.Fatalf("UnlockAlpha1 by %s = %+v, %v; want %d %s", w.owner, u, err, w.code, w.name)
			}
		}
		_, err = c.TryLockAlpha1(ctx, "redislock", &dapr.LockRequest{ResourceID: "order-1", LockOwner: "worker-a"})
		wantCode(t, err, codes.InvalidArgument, "ExpiryInSeconds is not positive in lock store redislock")
		_, err = c.UnlockAlpha1(ctx, "nolock", &dapr.UnlockRequest{ResourceID: "order-1", LockOwner: "worker-a"})
		wantCode(t, err, codes.InvalidArgument, "lock store nolock not found")
	})

	t.Run("configuration", func(t *testing.T) {
		if _, err := r.do("SET", "feature-x", "on||3"); err != nil {
			t.Fatal(err)
		}
		item, err := c.GetConfigurationItem(ctx, "redisconf", "feature-x")
		if err != nil || item == nil || item.Value != "on" || item.Version != "3" {
			t.Fatalf("GetConfigurationItem = %+v, %v; want on/3", item, err)
		}
		items, err := c.GetConfigurationItems(ctx, "redisconf", []string{"feature-x", "missing"})
		if err != nil || len(items) != 1 || items["feature-x"].Value != "on" {
			t.Fatalf("GetConfigurationItems = %v, %v", items, err)
		}
		_, err = c.GetConfigurationItems(ctx, "noconf", nil)
		wantCode(t, err, codes.InvalidArgument, "configuration store noconf not found")

		type update struct {
			id    string
			items map[string]*dapr.ConfigurationItem
		}
		updates := make(chan update, 16)
		id, err := c.SubscribeConfigurationItems(ctx, "redisconf", []string{"feature-x"}, func(id string, items map[string]*dapr.ConfigurationItem) {
			updates <- update{id, items}
		})
		if err != nil || len(id) != 36 {
			t.Fatalf("SubscribeConfigurationItems = %q, %v", id, err)
		}
		if _, err := r.do("SET", "feature-x", "off||4"); err != nil {
			t.Fatal(err)
		}
		select {
		case u := <-updates:
			if it := u.items["feature-x"]; u.id != id || it == nil || it.Value != "off" || it.Version != "4" {
				t.Fatalf("update %s %v, want %s feature-x=off/4", u.id, u.items, id)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no configuration update within 10 s")
		}
		if err := c.UnsubscribeConfigurationItems(ctx, "redisconf", id); err != nil {
			t.Fatalf("UnsubscribeConfigurationItems: %v", err)
		}
		if err := c.UnsubscribeConfigurationItems(ctx, "redisconf", id); err == nil {
			t.Fatal("a second UnsubscribeConfigurationItems of the same ID succeeded")
		}
	})

	t.Run("binding", func(t *testing.T) {
		err := c.InvokeOutputBinding(ctx, &dapr.InvokeBindingRequest{Name: "redisbinding", Operation: "create", Data: []byte("hello"), Metadata: map[string]string{"key": "greeting"}})
		if err != nil {
			t.Fatalf("InvokeOutputBinding create: %v", err)
		}
		if v := r.get(t, "greeting"); v != "hello" {
			t.Fatalf("Redis greeting = %q", v)
		}
		ev, err := c.InvokeBinding(ctx, &dapr.InvokeBindingRequest{Name: "redisbinding", Operation: "get", Metadata: map[string]string{"key": "greeting", "delete": "true"}})
		if err != nil || string(ev.Data) != "hello" {
			t.Fatalf("InvokeBinding get = %+v, %v", ev, err)
		}
		if v := r.get(t, "greeting"); v != "" {
			t.Fatalf("greeting left after get with delete: %q", v)
		}
		_, err = c.InvokeBinding(ctx, &dapr.InvokeBindingRequest{Name: "redisbinding", Operation: "list", Metadata: map[string]string{"key": "k"}})
		wantCode(t, err, codes.Internal, "error invoking output binding redisbinding: binding redisbinding does not support operation list. supported operations:create delete get increment")
	})
}
