package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/statecar/statecar/component"
	"github.com/statecar/statecar/internal/testsrv"
)

// TestCluster runs the store with redisType=cluster on a one-node Redis
// Cluster, where multi-key scripts must keep to one slot (Invariant 4).
func TestCluster(t *testing.T) {
	r, err := testsrv.StartRedis(testsrv.RedisOptions{Cluster: true})
	testsrv.Require(t, err)
	defer r.Close()
	s := newStoreAt(t, r.Addr, map[string]string{"redisType": "cluster"})
	ctx := context.Background()
	if keySlot("a") == keySlot("b") {
		t.Fatal("test keys share a slot")
	}
	up := func(k, v string, etag *string) component.Operation {
		return component.Operation{Kind: component.OpUpsert, Set: component.SetRequest{Key: k, Value: []byte(v), ETag: etag}}
	}

	// Transactions: one slot is atomic, several slots fail before writing.
	err = s.Multi(ctx, &component.TransactionRequest{Operations: []component.Operation{up("a", "1", nil), up("b", "1", nil)}})
	if !errors.Is(err, ErrCrossSlot) {
		t.Fatalf("cross-slot transaction: %v", err)
	}
	if get(t, s, "a").Found || get(t, s, "b").Found {
		t.Fatal("cross-slot transaction wrote something")
	}
	err = s.Multi(ctx, &component.TransactionRequest{Operations: []component.Operation{up("{o1}a", "1", nil), up("{o1}b", "1", ptr("3"))}})
	wantETagErr(t, err, component.ETagMismatch, "")
	if get(t, s, "{o1}a").Found {
		t.Fatal("failed same-slot transaction wrote something")
	}
	if err := s.Multi(ctx, &component.TransactionRequest{Operations: []component.Operation{up("{o1}a", "1", nil), up("{o1}b", "2", nil)}}); err != nil {
		t.Fatalf("same-slot transaction: %v", err)
	}
	if string(get(t, s, "{o1}b").Data) != "2" {
		t.Fatal("same-slot transaction lost a write")
	}

	// Bulk saves across slots run per item: the good item is written.
	err = s.BulkSet(ctx, []component.SetRequest{{Key: "a", Value: []byte("x")}, {Key: "b", Value: []byte("y"), ETag: ptr("9")}})
	var be *component.BulkError
	if !errors.As(err, &be) || len(be.Errs) != 1 {
		t.Fatalf("cross-slot bulk save: %v", err)
	}
	if string(get(t, s, "a").Data) != "x" || get(t, s, "b").Found {
		t.Fatal("cross-slot bulk save: unexpected state")
	}
	// Same slot: atomic.
	err = s.BulkSet(ctx, []component.SetRequest{{Key: "{o2}a", Value: []byte("x")}, {Key: "{o2}b", Value: []byte("y"), ETag: ptr("9")}})
	if !errors.As(err, &be) || get(t, s, "{o2}a").Found {
		t.Fatalf("same-slot bulk save not atomic: %v", err)
	}
	if err := s.BulkDelete(ctx, []component.DeleteRequest{{Key: "a"}, {Key: "{o1}a"}}); err != nil {
		t.Fatalf("cross-slot bulk delete: %v", err)
	}
	items, err := s.BulkGet(ctx, []string{"a", "{o1}b", "b"}, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if items[0].Found || string(items[1].Data) != "2" || items[2].Found {
		t.Fatalf("bulk get %+v", items)
	}
}

// TestClusterThreeNodes runs the store on a Redis Cluster of three masters:
// keys land on the node that owns their slot (go-redis follows the slot
// map), a bulk get spans the nodes in one call, a same-slot transaction is
// atomic, a cross-slot one fails before writing, and a bulk delete reaches
// every node.
func TestClusterThreeNodes(t *testing.T) {
	c, err := testsrv.StartRedisCluster(3)
	testsrv.Require(t, err)
	defer c.Close()
	s := newStoreAt(t, c.Addrs(), map[string]string{"redisType": "cluster"})
	ctx := context.Background()
	const n = 60
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("app||k%d", i)
		if err := set(s, keys[i], strconv.Itoa(i), nil, nil, component.StateOptions{}); err != nil {
			t.Fatalf("save %s: %v", keys[i], err)
		}
	}
	// Every node holds some of the keys, and each key is on the node that
	// owns its slot, in daprd's hash layout.
	for ni, node := range c.Nodes {
		raw := goredis.NewClient(&goredis.Options{Addr: node.Addr})
		size, err := raw.DBSize(ctx).Result()
		if err != nil || size == 0 {
			raw.Close()
			t.Fatalf("node %d holds %d keys (%v)", ni, size, err)
		}
		lo, hi := ni*16384/3, (ni+1)*16384/3-1
		for i, k := range keys {
			if sl := int(keySlot(k)); sl < lo || sl > hi {
				continue
			}
			m, err := raw.HGetAll(ctx, k).Result()
			if err != nil || m["data"] != strconv.Itoa(i) || m["version"] != "1" {
				raw.Close()
				t.Fatalf("node %d, key %s: %v %v", ni, k, m, err)
			}
		}
		raw.Close()
	}
	items, err := s.BulkGet(ctx, append(keys, "app||missing"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, it := range items[:n] {
		if !it.Found || string(it.Data) != strconv.Itoa(i) || it.ETag != "1" {
			t.Fatalf("bulk item %d: %+v", i, it)
		}
	}
	if items[n].Found {
		t.Fatalf("missing key found: %+v", items[n])
	}

	up := func(k, v string, etag *string) component.Operation {
		return component.Operation{Kind: component.OpUpsert, Set: component.SetRequest{Key: k, Value: []byte(v), ETag: etag}}
	}
	// keys[0] and keys[1] are on different slots (and likely nodes).
	if keySlot(keys[0]) == keySlot(keys[1]) {
		t.Fatal("test keys share a slot")
	}
	err = s.Multi(ctx, &component.TransactionRequest{Operations: []component.Operation{up(keys[0], "x", nil), up(keys[1], "x", nil)}})
	if !errors.Is(err, ErrCrossSlot) {
		t.Fatalf("cross-slot transaction: %v", err)
	}
	if string(get(t, s, keys[0]).Data) != "0" || string(get(t, s, keys[1]).Data) != "1" {
		t.Fatal("cross-slot transaction wrote something")
	}
	a, b := "app||{order42}a", "app||{order42}b"
	if err := s.Multi(ctx, &component.TransactionRequest{Operations: []component.Operation{up(a, "1", nil), up(b, "1", ptr("7"))}}); err == nil {
		t.Fatal("same-slot transaction with a bad ETag succeeded")
	}
	if get(t, s, a).Found {
		t.Fatal("failed same-slot transaction wrote something")
	}
	if err := s.Multi(ctx, &component.TransactionRequest{Operations: []component.Operation{up(a, "1", nil), up(b, "2", nil)}}); err != nil {
		t.Fatalf("same-slot transaction: %v", err)
	}
	if string(get(t, s, a).Data) != "1" || string(get(t, s, b).Data) != "2" {
		t.Fatal("same-slot transaction lost a write")
	}

	var dels []component.DeleteRequest
	for _, k := range keys {
		dels = append(dels, component.DeleteRequest{Key: k})
	}
	if err := s.BulkDelete(ctx, dels); err != nil {
		t.Fatalf("bulk delete across nodes: %v", err)
	}
	for ni, node := range c.Nodes {
		raw := goredis.NewClient(&goredis.Options{Addr: node.Addr})
		size, _ := raw.DBSize(ctx).Result()
		raw.Close()
		want := int64(0)
		if int(keySlot(a)) >= ni*16384/3 && int(keySlot(a)) <= (ni+1)*16384/3-1 {
			want = 2 // the two {order42} keys
		}
		if size != want {
			t.Fatalf("node %d holds %d keys after the bulk delete, want %d", ni, size, want)
		}
	}
}
