package postgres

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
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

// benchSerial runs op from one goroutine, recording each latency.
func benchSerial(b *testing.B, op func(i int) error) {
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

// benchParallel runs op from 32 goroutines.
func benchParallel(b *testing.B, op func(i int) error) {
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

// BenchmarkStore measures Get and Set through state.postgresql (v1 and v2)
// with 100-byte values, from one goroutine and from 32, beside the same
// primary-key SELECT / UPSERT issued with plain pgx.
func BenchmarkStore(b *testing.B) {
	ctx := context.Background()
	val := []byte(`"` + strings.Repeat("x", 98) + `"`)
	const nkeys = 1000
	for _, v := range []string{"v1", "v2"} {
		s := open(b, v, map[string]string{"maxConns": "32"})
		keys := make([]string, nkeys)
		bkeys := make([][]byte, nkeys)
		for i := range keys {
			keys[i] = fmt.Sprintf("bench||%d", i)
			bkeys[i] = []byte(keys[i])
			mustSet(b, s, keys[i], string(val))
		}
		b.Run("version="+v+"/op=get/clients=1", func(b *testing.B) {
			b.ReportAllocs()
			var resp component.GetResponse
			req := &component.GetRequest{}
			benchSerial(b, func(i int) error {
				req.Key = bkeys[i%nkeys]
				return s.Get(ctx, req, &resp)
			})
		})
		b.Run("version="+v+"/op=set/clients=1", func(b *testing.B) {
			b.ReportAllocs()
			benchSerial(b, func(i int) error {
				return s.BulkSet(ctx, []component.SetRequest{{Key: keys[i%nkeys], Value: val}})
			})
		})
		b.Run("version="+v+"/op=get/clients=32", func(b *testing.B) {
			b.ReportAllocs()
			benchParallel(b, func(i int) error {
				var resp component.GetResponse
				return s.Get(ctx, &component.GetRequest{Key: bkeys[i%nkeys]}, &resp)
			})
		})
		b.Run("version="+v+"/op=set/clients=32", func(b *testing.B) {
			b.ReportAllocs()
			benchParallel(b, func(i int) error {
				return s.BulkSet(ctx, []component.SetRequest{{Key: keys[i%nkeys], Value: val}})
			})
		})
		if v == "v1" {
			db, tb := s.Pool(), s.cfg.table
			b.Run("version=raw/op=get/clients=1", func(b *testing.B) {
				b.ReportAllocs()
				var out []byte
				benchSerial(b, func(i int) error {
					return db.QueryRow(ctx, `SELECT value FROM `+tb+` WHERE key = $1`, keys[i%nkeys]).Scan(&out)
				})
			})
			b.Run("version=raw/op=set/clients=1", func(b *testing.B) {
				b.ReportAllocs()
				benchSerial(b, func(i int) error {
					_, err := db.Exec(ctx, `UPDATE `+tb+` SET value = $2::text::jsonb WHERE key = $1`, keys[i%nkeys], string(val))
					return err
				})
			})
		}
	}
}
