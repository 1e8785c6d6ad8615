package redis

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/statecar/statecar/component"
	"github.com/statecar/statecar/component/lockstore"
	"github.com/statecar/statecar/internal/testsrv"
)

func newLockStoreAt(t testing.TB, addr string, md map[string]string) (*LockStore, error) {
	t.Helper()
	meta := map[string]string{"redisHost": addr}
	for k, v := range md {
		meta[k] = v
	}
	s, err := OpenLock(context.Background(), component.Spec{Name: "locktest", Type: "lock.redis", Metadata: meta}, component.Env{})
	if err == nil {
		t.Cleanup(func() { s.Close() })
	}
	return s, err
}

// TestLockTryAndUnlock covers contrib's semantics: SET NX EX holding the
// owner, and the compare-and-delete unlock with its three outcomes.
func TestLockTryAndUnlock(t *testing.T) {
	testsrv.Require(t, srvErr)
	s, err := newLockStoreAt(t, srv.Addr, nil)
	mustDo(t, err)
	ctx := context.Background()
	rc := rawDB(t, 0)
	k := cfgKey(t)

	ok, err := s.TryLock(ctx, k, "owner1", 30)
	if err != nil || !ok {
		t.Fatalf("first TryLock: %v %v", ok, err)
	}
	if v := rc.Get(ctx, k).Val(); v != "owner1" {
		t.Fatalf("stored owner %q, want owner1", v)
	}
	if ttl := rc.TTL(ctx, k).Val(); ttl <= 0 || ttl > 30*time.Second {
		t.Fatalf("TTL %v, want (0, 30s]", ttl)
	}
	if ok, err := s.TryLock(ctx, k, "owner2", 30); err != nil || ok {
		t.Fatalf("TryLock of a held lock: %v %v, want false", ok, err)
	}
	if ok, err := s.TryLock(ctx, k, "owner1", 30); err != nil || ok {
		t.Fatalf("TryLock by the holder again: %v %v, want false (not reentrant)", ok, err)
	}
	if st, err := s.Unlock(ctx, k, "owner2"); err != nil || st != lockstore.LockBelongsToOthers {
		t.Fatalf("Unlock by another owner: %v %v", st, err)
	}
	if v := rc.Get(ctx, k).Val(); v != "owner1" {
		t.Fatalf("lock lost after a foreign unlock: %q", v)
	}
	if st, err := s.Unlock(ctx, k, "owner1"); err != nil || st != lockstore.Success {
		t.Fatalf("Unlock by the holder: %v %v", st, err)
	}
	if n := rc.Exists(ctx, k).Val(); n != 0 {
		t.Fatal("key left after unlock")
	}
	if st, err := s.Unlock(ctx, k, "owner1"); err != nil || st != lockstore.LockDoesNotExist {
		t.Fatalf("Unlock of a free lock: %v %v", st, err)
	}
	if ok, err := s.TryLock(ctx, k, "owner2", 30); err != nil || !ok {
		t.Fatalf("TryLock after unlock: %v %v", ok, err)
	}
}

// TestLockExpiry: a lock lapses after its expiry and another owner takes
// it (real time, one second).
func TestLockExpiry(t *testing.T) {
	testsrv.Require(t, srvErr)
	s, err := newLockStoreAt(t, srv.Addr, nil)
	mustDo(t, err)
	ctx := context.Background()
	k := cfgKey(t)
	if ok, err := s.TryLock(ctx, k, "a", 1); err != nil || !ok {
		t.Fatalf("TryLock: %v %v", ok, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, err := s.TryLock(ctx, k, "b", 1)
		mustDo(t, err)
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the lock never expired")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if st, err := s.Unlock(ctx, k, "a"); err != nil || st != lockstore.LockBelongsToOthers {
		t.Fatalf("Unlock by the lapsed owner: %v %v", st, err)
	}
}

// TestLockRace: of N owners racing for one lock exactly one wins.
func TestLockRace(t *testing.T) {
	testsrv.Require(t, srvErr)
	s, err := newLockStoreAt(t, srv.Addr, nil)
	mustDo(t, err)
	k := cfgKey(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			ok, err := s.TryLock(context.Background(), k, "owner"+string(rune('A'+i)), 30)
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d winners, want 1", wins)
	}
}

// TestLockRefusedSetups: Redis Cluster and a master with replicas outside
// failover mode are refused at init, with contrib's texts; a server that
// is down is an init error too.
func TestLockRefusedSetups(t *testing.T) {
	testsrv.Require(t, srvErr)
	cl, err := testsrv.StartRedis(testsrv.RedisOptions{Cluster: true})
	testsrv.Require(t, err)
	defer cl.Close()
	if _, err := newLockStoreAt(t, cl.Addr, map[string]string{"redisType": "cluster"}); err == nil || err.Error() != "this component does not support connecting to Redis Cluster" {
		t.Errorf("cluster: %v", err)
	}

	master, err := testsrv.StartRedis(testsrv.RedisOptions{})
	testsrv.Require(t, err)
	defer master.Close()
	replica, err := testsrv.StartRedis(testsrv.RedisOptions{ReplicaOf: master.Addr})
	testsrv.Require(t, err)
	defer replica.Close()
	if _, err := newLockStoreAt(t, master.Addr, nil); err == nil || err.Error() != "replication is not supported" {
		t.Errorf("master with a replica: %v", err)
	}

	down := master.Addr
	master.Close()
	if _, err := newLockStoreAt(t, down, map[string]string{"redisMaxRetries": "0", "dialTimeout": "500ms"}); err == nil || !strings.HasPrefix(err.Error(), "error connecting to Redis: ") {
		t.Errorf("server down: %v", err)
	}
}

// TestLockServerDown: while Redis is down, TryLock and Unlock fail with
// the client's error (the API turns it into ERR_TRY_LOCK / ERR_UNLOCK)
// rather than answering false.
func TestLockServerDown(t *testing.T) {
	r, err := testsrv.StartRedis(testsrv.RedisOptions{})
	testsrv.Require(t, err)
	defer r.Close()
	s, err := newLockStoreAt(t, r.Addr, map[string]string{"redisMaxRetries": "0"})
	mustDo(t, err)
	r.Close()
	ctx := context.Background()
	if ok, err := s.TryLock(ctx, "k", "o", 5); err == nil || ok {
		t.Errorf("TryLock with Redis down: %v %v", ok, err)
	}
	if st, err := s.Unlock(ctx, "k", "o"); err == nil || st != lockstore.InternalError {
		t.Errorf("Unlock with Redis down: %v %v", st, err)
	}
}
