package redis

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/statecar/statecar/component"
	"github.com/statecar/statecar/internal/testsrv"
)

// TestServerRestart kills Redis (AOF, appendfsync always) under load and
// starts it again: requests fail while it is down, succeed again after, and
// no acknowledged write is lost.
func TestServerRestart(t *testing.T) {
	r, err := testsrv.StartRedis(testsrv.RedisOptions{AppendOnly: true})
	testsrv.Require(t, err)
	defer r.Close()
	s := newStoreAt(t, r.Addr, map[string]string{"dialTimeout": "200ms", "readTimeout": "1s", "redisMaxRetries": "1"})
	ctx := context.Background()

	var (
		mu      sync.Mutex
		acked   = map[string]string{} // guarded by mu
		ackN    atomic.Int64
		errN    atomic.Int64
		stop    atomic.Bool
		wg      sync.WaitGroup
		workers = 4
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				k, v := fmt.Sprintf("fault-%d-%d", w, i), fmt.Sprintf("v%d", i)
				if err := set(s, k, v, nil, nil, component.StateOptions{}); err != nil {
					errN.Add(1)
					time.Sleep(5 * time.Millisecond)
					continue
				}
				mu.Lock()
				acked[k] = v
				mu.Unlock()
				ackN.Add(1)
			}
		}()
	}
	waitFor := func(what string, cond func() bool) {
		for i := 0; !cond(); i++ {
			if i > 6000 {
				stop.Store(true)
				wg.Wait()
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor("writes before the crash", func() bool { return ackN.Load() >= 200 })
	r.Kill()
	waitFor("errors while down", func() bool { return errN.Load() >= 20 })
	var resp component.GetResponse
	if err := s.Get(ctx, &component.GetRequest{Key: []byte("fault-0-0")}, &resp); err == nil {
		t.Fatalf("Get succeeded while the server is down")
	}
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	after := ackN.Load()
	waitFor("writes after the restart", func() bool { return ackN.Load() >= after+200 })
	stop.Store(true)
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	items := make([]string, 0, len(acked))
	for k := range acked {
		items = append(items, k)
	}
	got, err := s.BulkGet(ctx, items, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range got {
		if !it.Found || string(it.Data) != acked[it.Key] {
			t.Fatalf("acknowledged write lost: %s = %q (found %v), want %q", it.Key, it.Data, it.Found, acked[it.Key])
		}
	}
	t.Logf("%d acknowledged writes verified, %d errors while down", len(acked), errN.Load())
}
