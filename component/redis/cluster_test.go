package redis

import (
	"context"
	"errors"
	"testing"

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
