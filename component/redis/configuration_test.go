package redis

import (
	"context"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/statecar/statecar/component"
	"github.com/statecar/statecar/component/configstore"
)

func openConf(t *testing.T, md map[string]string) (*ConfigStore, *goredis.Client) {
	t.Helper()
	newStore(t, nil) // checks the server is up
	meta := map[string]string{"redisHost": srv.Addr}
	for k, v := range md {
		meta[k] = v
	}
	s, err := configstore.Open(context.Background(), component.Spec{Name: "conf", Type: "configuration.redis", Metadata: meta}, component.Env{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	db := 0
	if v, ok := md["redisDB"]; ok && v == "3" {
		db = 3
	}
	c := goredis.NewClient(&goredis.Options{Addr: srv.Addr, DB: db})
	t.Cleanup(func() { _ = c.Close() })
	return s.(*ConfigStore), c
}

func recv(t *testing.T, ch <-chan *configstore.UpdateEvent) *configstore.UpdateEvent {
	t.Helper()
	select {
	case ev := <-ch:
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no update event within 5 s")
	}
	return nil
}

func TestConfigurationGet(t *testing.T) {
	s, c := openConf(t, nil)
	ctx := context.Background()
	p := strings.ReplaceAll(t.Name(), "/", "-") + "-"
	c.Set(ctx, p+"a", "va||1", 0)
	c.Set(ctx, p+"b", "vb", 0)
	c.Set(ctx, p+"e", "||9", 0)
	c.HSet(ctx, p+"h", "data", "x")
	items, err := s.Get(ctx, []string{p + "a", p + "b", p + "e", p + "h", p + "missing"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || items[p+"a"].Value != "va" || items[p+"a"].Version != "1" || items[p+"b"].Value != "vb" || items[p+"b"].Version != "" {
		t.Fatalf("items: %+v", items)
	}
	all, err := s.Get(ctx, nil, nil)
	if err != nil || all[p+"a"] == nil || all[p+"b"] == nil || all[p+"h"] != nil {
		t.Fatalf("all keys: %v %v", all, err)
	}
}

func TestConfigurationSubscribe(t *testing.T) {
	s, c := openConf(t, map[string]string{"redisDB": "3"})
	ctx := context.Background()
	p := strings.ReplaceAll(t.Name(), "/", "-") + "-"
	ch := make(chan *configstore.UpdateEvent, 16)
	h := func(_ context.Context, ev *configstore.UpdateEvent) error { ch <- ev; return nil }
	id, err := s.Subscribe(ctx, []string{p + "a", p + "b"}, nil, h)
	if err != nil || len(id) != 36 {
		t.Fatalf("subscribe: %q %v", id, err)
	}
	c.Set(ctx, p+"a", "v1||1", 0) // right after Subscribe returned: delivered
	ev := recv(t, ch)
	if ev.ID != id || ev.Items[p+"a"].Value != "v1" || ev.Items[p+"a"].Version != "1" {
		t.Fatalf("event: %+v", ev)
	}
	c.Set(ctx, p+"other", "x", 0) // not subscribed
	c.Del(ctx, p+"b")             // no such key: no event
	c.Set(ctx, p+"b", "vb", 0)
	if ev := recv(t, ch); ev.Items[p+"b"] == nil || ev.Items[p+"b"].Value != "vb" {
		t.Fatalf("event b: %+v", ev)
	}
	c.Del(ctx, p+"a")
	if ev := recv(t, ch); ev.Items[p+"a"] == nil || ev.Items[p+"a"].Value != "" {
		t.Fatalf("delete event: %+v", ev)
	}

	all := make(chan *configstore.UpdateEvent, 16)
	id2, err := s.Subscribe(ctx, nil, nil, func(_ context.Context, ev *configstore.UpdateEvent) error { all <- ev; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Unsubscribe(ctx, id); err != nil {
		t.Fatal(err)
	}
	c.Set(ctx, p+"z", "vz", 0)
	if ev := recv(t, all); ev.ID != id2 || ev.Items[p+"z"].Value != "vz" {
		t.Fatalf("all-keys event: %+v", ev)
	}
	select {
	case ev := <-ch:
		t.Fatalf("event after unsubscribe: %+v", ev)
	case <-time.After(200 * time.Millisecond):
	}
	if err := s.Unsubscribe(ctx, id); err == nil || err.Error() != "subscription with id "+id+" does not exist" {
		t.Fatalf("second unsubscribe: %v", err)
	}
	// Close ends the remaining subscription (it returns, so its goroutine
	// ended).
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Subscribe(ctx, nil, nil, func(context.Context, *configstore.UpdateEvent) error { return nil }); err == nil {
		t.Fatal("subscribe after Close succeeded")
	}
}
