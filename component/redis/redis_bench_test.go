package redis

import (
	"context"
	"encoding/csv"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/statecar/statecar/component"
	"github.com/statecar/statecar/internal/storetest"
)

func benchStore(b *testing.B) *Store {
	return newStore(b, nil)
}

var value100 = []byte(strings.Repeat("x", 98))

// BenchmarkStore measures Get and Set through state.redis with 100-byte
// values, from one goroutine (latency) and from 32 (throughput, p50/p99).
func BenchmarkStore(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	val := append([]byte{'"'}, append(value100, '"')...)
	const nkeys = 1000
	for i := 0; i < nkeys; i++ {
		if err := set(s, fmt.Sprintf("bench||%d", i), string(val), nil, nil, component.StateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	keys := make([][]byte, nkeys)
	skeys := make([]string, nkeys)
	for i := range keys {
		skeys[i] = fmt.Sprintf("bench||%d", i)
		keys[i] = []byte(skeys[i])
	}
	b.Run("op=get/clients=1", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(val)))
		var resp component.GetResponse
		req := &component.GetRequest{}
		storetest.BenchSerial(b, func(i int) error {
			req.Key = keys[i%nkeys]
			return s.Get(ctx, req, &resp)
		})
	})
	b.Run("op=set/clients=1", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(val)))
		storetest.BenchSerial(b, func(i int) error {
			return s.BulkSet(ctx, []component.SetRequest{{Key: skeys[i%nkeys], Value: val}})
		})
	})
	b.Run("op=get/clients=32", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(val)))
		storetest.BenchParallel(b, func(i int) error {
			var resp component.GetResponse
			return s.Get(ctx, &component.GetRequest{Key: keys[i%nkeys]}, &resp)
		})
	})
	b.Run("op=set/clients=32", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(val)))
		storetest.BenchParallel(b, func(i int) error {
			return s.BulkSet(ctx, []component.SetRequest{{Key: skeys[i%nkeys], Value: val}})
		})
	})
}

// BenchmarkRawClient is the same workload with plain go-redis GET/SET on
// string keys: the round trip the store adds its work to.
func BenchmarkRawClient(b *testing.B) {
	s := benchStore(b)
	c := s.Client()
	ctx := context.Background()
	const nkeys = 1000
	keys := make([]string, nkeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("rawbench:%d", i)
		c.Set(ctx, keys[i], value100, 0)
	}
	b.Run("op=get/clients=1", func(b *testing.B) {
		b.ReportAllocs()
		storetest.BenchSerial(b, func(i int) error { return c.Get(ctx, keys[i%nkeys]).Err() })
	})
	b.Run("op=set/clients=1", func(b *testing.B) {
		b.ReportAllocs()
		storetest.BenchSerial(b, func(i int) error { return c.Set(ctx, keys[i%nkeys], value100, 0).Err() })
	})
	b.Run("op=get/clients=32", func(b *testing.B) {
		b.ReportAllocs()
		storetest.BenchParallel(b, func(i int) error { return c.Get(ctx, keys[i%nkeys]).Err() })
	})
	b.Run("op=set/clients=32", func(b *testing.B) {
		b.ReportAllocs()
		storetest.BenchParallel(b, func(i int) error { return c.Set(ctx, keys[i%nkeys], value100, 0).Err() })
	})
}

// BenchmarkRedisBenchmarkTool runs redis-benchmark -c 32 -d 100 against the
// same server and reports its figures (b.N is ignored: the tool's request
// count is fixed at 100000 per command).
func BenchmarkRedisBenchmarkTool(b *testing.B) {
	testsrvRequireBench(b)
	path, err := exec.LookPath("redis-benchmark")
	if err != nil {
		b.Skip("redis-benchmark not installed")
	}
	host, port, _ := strings.Cut(srv.Addr, ":")
	out, err := exec.Command(path, "-h", host, "-p", port, "-c", "32", "-d", "100", "-n", "100000", "-t", "get,set", "--csv", "--precision", "3").Output()
	if err != nil {
		b.Fatalf("redis-benchmark: %v", err)
	}
	recs, err := csv.NewReader(strings.NewReader(string(out))).ReadAll()
	if err != nil || len(recs) < 2 {
		b.Fatalf("redis-benchmark output %q: %v", out, err)
	}
	head := recs[0]
	col := func(name string) int {
		for i, h := range head {
			if h == name {
				return i
			}
		}
		b.Fatalf("no column %s in %v", name, head)
		return -1
	}
	for _, r := range recs[1:] {
		name := strings.ToLower(r[col("test")])
		b.Run("op="+name+"/clients=32", func(b *testing.B) {
			rps, _ := strconv.ParseFloat(r[col("rps")], 64)
			p50, _ := strconv.ParseFloat(r[col("p50_latency_ms")], 64)
			p99, _ := strconv.ParseFloat(r[col("p99_latency_ms")], 64)
			b.ReportMetric(1e9/rps, "ns/op")
			b.ReportMetric(p50*1000, "p50-us")
			b.ReportMetric(p99*1000, "p99-us")
		})
	}
}

func testsrvRequireBench(b *testing.B) {
	newStore(b, nil) // skips or fails like the tests when redis-server is absent
}
