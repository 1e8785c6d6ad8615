package postgres

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/statecar/statecar/component"
)

// TestServerRestart kills PostgreSQL (immediate shutdown, crash recovery on
// restart) under load: requests fail while it is down, succeed again after,
// and no acknowledged write is lost.
func TestServerRestart(t *testing.T) {
	s := open(t, "", map[string]string{"timeout": "2"})
	ctx := context.Background()
	var (
		mu    sync.Mutex
		acked = map[string]string{} // guarded by mu
		ackN  atomic.Int64
		errN  atomic.Int64
		stop  atomic.Bool
		wg    sync.WaitGroup
	)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				k, v := fmt.Sprintf("fault-%d-%d", w, i), fmt.Sprintf(`"v%d"`, i)
				// Alternate single saves and two-item transactions.
				var err error
				if i%2 == 0 {
					err = set(s, k, v, nil, nil, component.StateOptions{})
				} else {
					err = s.Multi(ctx, &component.TransactionRequest{Operations: []component.Operation{
						{Kind: component.OpUpsert, Set: component.SetRequest{Key: k, Value: []byte(v)}},
						{Kind: component.OpUpsert, Set: component.SetRequest{Key: k + "-b", Value: []byte(v)}},
					}})
				}
				if err != nil {
					errN.Add(1)
					time.Sleep(5 * time.Millisecond)
					continue
				}
				mu.Lock()
				acked[k] = v
				if i%2 == 1 {
					acked[k+"-b"] = v
				}
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
	srv.Kill()
	waitFor("errors while down", func() bool { return errN.Load() >= 20 })
	var resp component.GetResponse
	if err := s.Get(ctx, &component.GetRequest{Key: []byte("fault-0-0")}, &resp); err == nil {
		t.Fatalf("Get succeeded while the server is down")
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	after := ackN.Load()
	waitFor("writes after the restart", func() bool { return ackN.Load() >= after+200 })
	stop.Store(true)
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	keys := make([]string, 0, len(acked))
	for k := range acked {
		keys = append(keys, k)
	}
	got, err := s.BulkGet(ctx, keys, nil, 0)
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
