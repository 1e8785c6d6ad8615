package storetest

import (
	"context"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/statecar/statecar/component"
)

// latencies collects per-operation durations from parallel goroutines and
// reports their p50/p99 as benchmark metrics.
type latencies struct {
	mu  sync.Mutex
	all []time.Duration // guarded by mu
}

func (l *latencies) add(d []time.Duration) {
	l.mu.Lock()
	l.all = append(l.all, d...)
	l.mu.Unlock()
}

func (l *latencies) report(b *testing.B) {
	if len(l.all) == 0 {
		return
	}
	sort.Slice(l.all, func(i, j int) bool { return l.all[i] < l.all[j] })
	b.ReportMetric(float64(l.all[len(l.all)/2].Microseconds()), "p50-us")
	b.ReportMetric(float64(l.all[len(l.all)*99/100].Microseconds()), "p99-us")
}

// BenchSerial runs op b.N times from one goroutine, recording each latency
// (Invariant 1). An error fails the benchmark.
func BenchSerial(b *testing.B, op func(i int) error) {
	var lat latencies
	local := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if err := op(i); err != nil {
			b.Fatal(err)
		}
		local = append(local, time.Since(start))
	}
	b.StopTimer()
	lat.add(local)
	lat.report(b)
}

// BenchParallel runs op from 32 goroutines (like redis-benchmark -c 32 or
// pgbench -c 32); i counts the calls of each goroutine.
func BenchParallel(b *testing.B, op func(i int) error) {
	var lat latencies
	b.SetParallelism(32 / max(1, runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		local := make([]time.Duration, 0, 1024)
		i := 0
		for pb.Next() {
			start := time.Now()
			if err := op(i); err != nil {
				b.Error(err)
				return
			}
			local = append(local, time.Since(start))
			i++
		}
		lat.add(local)
	})
	b.StopTimer()
	lat.report(b)
}

// Server is a database server a test can crash and start again on the same
// address and data (testsrv.Redis, testsrv.Postgres).
type Server interface {
	Kill()
	Start() error
}

// KillDuringWrites runs four writers against s, kills srv after 200
// acknowledged writes, waits for 20 failed ones, checks that a Get fails
// while srv is down, starts srv again, waits for 200 more acknowledged
// writes and then checks every acknowledged item with one BulkGet
// (Invariant 2). write performs write i of worker w and returns the items
// it acknowledged (key to stored value) or the error.
func KillDuringWrites(t *testing.T, s component.Store, srv Server, write func(w, i int) (map[string]string, error)) {
	t.Helper()
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
				items, err := write(w, i)
				if err != nil {
					errN.Add(1)
					time.Sleep(5 * time.Millisecond)
					continue
				}
				mu.Lock()
				for k, v := range items {
					acked[k] = v
				}
				mu.Unlock()
				ackN.Add(1)
			}
		}()
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
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
		stop.Store(true)
		wg.Wait()
		t.Fatalf("Get succeeded while the server is down")
	}
	if err := srv.Start(); err != nil {
		stop.Store(true)
		wg.Wait()
		t.Fatal(err)
	}
	after := ackN.Load()
	waitFor("writes after the restart", func() bool { return ackN.Load() >= after+200 })
	stop.Store(true)
	wg.Wait()

	keys := make([]string, 0, len(acked))
	for k := range acked {
		keys = append(keys, k)
	}
	got, err := s.BulkGet(ctx, keys, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(keys) {
		t.Fatalf("BulkGet returned %d items for %d keys", len(got), len(keys))
	}
	for _, it := range got {
		if !it.Found || string(it.Data) != acked[it.Key] {
			t.Fatalf("acknowledged write lost: %s = %q (found %v), want %q", it.Key, it.Data, it.Found, acked[it.Key])
		}
	}
	t.Logf("%d acknowledged writes verified, %d errors while down", len(acked), errN.Load())
}
