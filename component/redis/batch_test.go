package redis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/statecar/statecar/component"
)

// TestGetBatchesUnderConcurrency: 64 goroutines reading different keys at
// once share round trips (fewer pipelines than Gets), and every caller
// still gets exactly its own key's value, ETag and expiry — hashes written
// by statecar, plain strings (the WRONGTYPE fallback), missing keys and
// broken hashes mixed in the same batches.
func TestGetBatchesUnderConcurrency(t *testing.T) {
	s := newStore(t, nil)
	r := raw(t)
	ctx := context.Background()
	const keys = 64
	etags := make([]string, keys)
	for i := 0; i < keys; i++ {
		k := fmt.Sprintf("batch||k%d", i)
		switch i % 4 {
		case 0, 1: // statecar hash (1: with a TTL)
			md := map[string]string{}
			if i%4 == 1 {
				md["ttlInSeconds"] = "3600"
			}
			if err := s.Set(ctx, &component.SetRequest{Key: k, Value: []byte(fmt.Sprintf(`"v%d"`, i)), Metadata: md}); err != nil {
				t.Fatal(err)
			}
			var g component.GetResponse
			if err := s.Get(ctx, &component.GetRequest{Key: []byte(k)}, &g); err != nil || !g.Found {
				t.Fatalf("get %s: %v %v", k, g.Found, err)
			}
			etags[i] = string(g.ETag)
		case 2: // a plain string, as an older client left it
			if err := r.Set(ctx, k, fmt.Sprintf(`"v%d"`, i), 0).Err(); err != nil {
				t.Fatal(err)
			}
		case 3: // missing
			r.Del(ctx, k)
		}
	}
	r.HSet(ctx, "batch||broken", "data", `"x"`) // no version field

	b0, k0 := s.batch.batches.Load(), s.batch.calls.Load()
	var wg sync.WaitGroup
	errs := make(chan error, keys+1)
	for i := 0; i < keys; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			k := fmt.Sprintf("batch||k%d", i)
			var g component.GetResponse
			for n := 0; n < 200; n++ {
				if err := s.Get(ctx, &component.GetRequest{Key: []byte(k)}, &g); err != nil {
					errs <- fmt.Errorf("%s: %v", k, err)
					return
				}
				want := fmt.Sprintf(`"v%d"`, i)
				switch i % 4 {
				case 0, 1:
					if !g.Found || string(g.Data) != want || string(g.ETag) != etags[i] || (i%4 == 1) == g.Expiry.IsZero() {
						errs <- fmt.Errorf("%s: found %v data %q etag %q expiry %v", k, g.Found, g.Data, g.ETag, g.Expiry)
						return
					}
				case 2:
					if !g.Found || string(g.Data) != want {
						errs <- fmt.Errorf("%s (string): found %v data %q", k, g.Found, g.Data)
						return
					}
				case 3:
					if g.Found {
						errs <- fmt.Errorf("%s (missing): found %q", k, g.Data)
						return
					}
				}
			}
		}(i)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		var g component.GetResponse
		for n := 0; n < 200; n++ {
			if err := s.Get(ctx, &component.GetRequest{Key: []byte("batch||broken")}, &g); err == nil || err.Error() != errBrokenHash.Error() {
				errs <- fmt.Errorf("broken hash: %v", err)
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	batches, got := s.batch.batches.Load()-b0, s.batch.calls.Load()-k0
	if got != (keys+1)*200 {
		t.Fatalf("%d Gets went through the batcher, want %d", got, (keys+1)*200)
	}
	if batches >= got {
		t.Fatalf("%d round trips for %d concurrent Gets: no batching", batches, got)
	}
	t.Logf("%d Gets in %d round trips (%.1f per trip)", got, batches, float64(got)/float64(batches))
	s.batch.mu.Lock()
	busy, queued := s.batch.busy, len(s.batch.queue)
	s.batch.mu.Unlock()
	if busy || queued != 0 {
		t.Fatalf("after the load: busy %v, %d queued", busy, queued)
	}
}

// TestGetBatchServerDown: with Redis unreachable every Get of a batch fails
// with an error (none hangs, none succeeds), and the batcher is idle after.
func TestGetBatchServerDown(t *testing.T) {
	s := newStoreAt(t, srv.Addr, map[string]string{"redisMaxRetries": "-1", "dialTimeout": "200ms"})
	s.client.Close() // every command now fails with "redis: client is closed"
	var wg sync.WaitGroup
	var mu sync.Mutex
	fails := 0
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var g component.GetResponse
			err := s.Get(context.Background(), &component.GetRequest{Key: []byte(fmt.Sprintf("down||%d", i))}, &g)
			mu.Lock()
			if err != nil && !g.Found {
				fails++
			}
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	if fails != 32 {
		t.Fatalf("%d of 32 Gets failed with the client closed", fails)
	}
	if s.batch.busy || len(s.batch.queue) != 0 {
		t.Fatal("batcher not idle after the failures")
	}
}

// TestScriptBatchesUnderConcurrency: concurrent writes share round trips
// and keep their semantics: of 32 first-write creates of one key exactly
// one wins and the others get the first-write error; 32 writers of their
// own keys each read back their own value; and after SCRIPT FLUSH (the
// server lost the script) batched writes still succeed.
func TestScriptBatchesUnderConcurrency(t *testing.T) {
	s := newStore(t, nil)
	r := raw(t)
	ctx := context.Background()
	r.Del(ctx, "sbatch||fw")
	b0, c0 := s.batch.batches.Load(), s.batch.calls.Load()
	const n = 32
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, fwErrs := 0, 0
	var other []error
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			err := s.Set(ctx, &component.SetRequest{Key: "sbatch||fw", Value: []byte(fmt.Sprintf(`"w%d"`, i)),
				Options: component.StateOptions{Concurrency: component.FirstWrite}})
			mu.Lock()
			defer mu.Unlock()
			var ee *component.ETagError
			switch {
			case err == nil:
				wins++
			case errors.As(err, &ee) && errors.Is(err, component.ErrFirstWriteExists):
				fwErrs++
			default:
				other = append(other, err)
			}
		}(i)
	}
	close(start)
	wg.Wait()
	if wins != 1 || fwErrs != n-1 || len(other) != 0 {
		t.Fatalf("first-write race: %d wins, %d first-write errors, other %v", wins, fwErrs, other)
	}

	write := func(round int) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				k := fmt.Sprintf("sbatch||k%d", i)
				for j := 0; j < 20; j++ {
					v := fmt.Sprintf(`"r%d-%d-%d"`, round, i, j)
					if err := s.Set(ctx, &component.SetRequest{Key: k, Value: []byte(v)}); err != nil {
						errs <- err
						return
					}
					var g component.GetResponse
					if err := s.Get(ctx, &component.GetRequest{Key: []byte(k)}, &g); err != nil || string(g.Data) != v {
						errs <- fmt.Errorf("%s: read %q, %v after writing %s", k, g.Data, err, v)
						return
					}
				}
			}(i)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	}
	write(1)
	if err := r.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	write(2)
	batches, got := s.batch.batches.Load()-b0, s.batch.calls.Load()-c0
	if batches >= got {
		t.Fatalf("%d round trips for %d concurrent calls: no batching", batches, got)
	}
	t.Logf("%d calls in %d round trips", got, batches)
}

// panicHook panics in the pipeline of every Get while armed.
type panicHook struct{ armed *atomic.Bool }

func (h panicHook) DialHook(next goredis.DialHook) goredis.DialHook          { return next }
func (h panicHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook { return next }
func (h panicHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		if h.armed.Load() {
			panic("injected")
		}
		return next(ctx, cmds)
	}
}

// TestBatchPanicFailsCalls: a panic inside a batch's pipeline fails that
// batch's calls with an error (none hangs) and the store serves the next
// calls normally.
func TestBatchPanicFailsCalls(t *testing.T) {
	s := newStore(t, nil)
	ctx := context.Background()
	if err := s.Set(ctx, &component.SetRequest{Key: "panic||k", Value: []byte(`"v"`)}); err != nil {
		t.Fatal(err)
	}
	var armed atomic.Bool
	s.client.AddHook(panicHook{&armed})
	armed.Store(true)
	var wg sync.WaitGroup
	var fails atomic.Int32
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var g component.GetResponse
			if err := s.Get(ctx, &component.GetRequest{Key: []byte("panic||k")}, &g); err != nil && strings.Contains(err.Error(), "panic: injected") {
				fails.Add(1)
			}
		}()
	}
	wg.Wait()
	if fails.Load() != 16 {
		t.Fatalf("%d of 16 Gets failed with the injected panic", fails.Load())
	}
	if err := s.Set(ctx, &component.SetRequest{Key: "panic||k2", Value: []byte(`"w"`)}); err == nil || !strings.Contains(err.Error(), "panic: injected") {
		t.Fatalf("Set during the panic: %v", err)
	}
	armed.Store(false)
	var g component.GetResponse
	if err := s.Get(ctx, &component.GetRequest{Key: []byte("panic||k")}, &g); err != nil || string(g.Data) != `"v"` {
		t.Fatalf("Get after the panic: %q, %v", g.Data, err)
	}
}
