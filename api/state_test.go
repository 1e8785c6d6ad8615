package api_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/statecar/statecar/api"
	"github.com/statecar/statecar/component"
	"github.com/statecar/statecar/component/embedded"
)

func newState(tb testing.TB, metrics bool) *api.State {
	tb.Helper()
	st, err := embedded.OpenMemory(nil)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := api.New(api.Config{AppID: "myapp", DisableMetrics: !metrics, Stores: []api.StoreEntry{{
		Spec: component.Spec{Name: "statestore", Type: "state.in-memory"}, Store: st,
	}}})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// The GET hit path performs no allocation with a reused GetResult, metrics
// on (doc.go invariant 5).
func TestHTTPGetAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	s := newState(t, true)
	ctx := context.Background()
	store, key := []byte("statestore"), []byte("k")
	if err := s.HTTPSave(ctx, store, []byte(`[{"key":"k","value":{"a":"some value"}}]`), false, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.HTTPSave(ctx, store, []byte(`[{"key":"t","value":1}]`), false, api.Metadata{"ttlInSeconds": "100"}); err != nil {
		t.Fatal(err)
	}
	var out api.GetResult
	for _, k := range [][]byte{key, []byte("t"), []byte("missing")} {
		if err := s.HTTPGet(ctx, store, k, nil, nil, &out); err != nil { // warm the buffers
			t.Fatal(err)
		}
		allocs := testing.AllocsPerRun(200, func() {
			if err := s.HTTPGet(ctx, store, k, nil, nil, &out); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Fatalf("HTTPGet %s: %v allocs per run, want 0", k, allocs)
		}
	}
	if err := s.HTTPGet(ctx, store, key, nil, nil, &out); err != nil || string(out.Data) != `{"a":"some value"}` {
		t.Fatalf("get: %q %v", out.Data, err)
	}
}

func TestComponentsAndClose(t *testing.T) {
	st, err := embedded.OpenMemory(nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := api.New(api.Config{AppID: "a", DisableMetrics: true, Stores: []api.StoreEntry{
		{Spec: component.Spec{Name: "x", Type: "state.in-memory", Version: "v1"}, Store: st},
	}})
	if err != nil {
		t.Fatal(err)
	}
	cs := s.Components()
	if len(cs) != 1 || cs[0].Version != "v1" || len(cs[0].Capabilities) != 5 || cs[0].Capabilities[4] != "ACTOR" {
		t.Fatalf("components %+v", cs)
	}
	if _, err := api.New(api.Config{Stores: []api.StoreEntry{{Spec: component.Spec{Name: "x"}, Store: st}, {Spec: component.Spec{Name: "x"}, Store: st}}}); err == nil {
		t.Fatal("duplicate store names accepted")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOriginalKey(t *testing.T) {
	for in, want := range map[string]string{"k": "k", "app||k": "k", "a||b||c": "b", "a||b||c||d": "b", "app||": "", "||k": "k"} {
		if got := api.OriginalKey(in); got != want {
			t.Fatalf("OriginalKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func BenchmarkHTTPGet(b *testing.B) {
	for _, size := range []int{16, 1024} {
		b.Run("value="+strconv.Itoa(size)+"B", func(b *testing.B) {
			s := newState(b, true)
			ctx := context.Background()
			store, key := []byte("statestore"), []byte("k")
			val := make([]byte, size-2)
			for i := range val {
				val[i] = 'x'
			}
			if err := s.HTTPSave(ctx, store, []byte(`[{"key":"k","value":"`+string(val)+`"}]`), false, nil); err != nil {
				b.Fatal(err)
			}
			var out api.GetResult
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := s.HTTPGet(ctx, store, key, nil, nil, &out); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkHTTPSave(b *testing.B) {
	for _, size := range []int{16, 1024} {
		b.Run("value="+strconv.Itoa(size)+"B", func(b *testing.B) {
			s := newState(b, true)
			ctx := context.Background()
			store := []byte("statestore")
			val := make([]byte, size-2)
			for i := range val {
				val[i] = 'x'
			}
			body := []byte(`[{"key":"k","value":"` + string(val) + `"}]`)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := s.HTTPSave(ctx, store, body, false, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkHTTPBulkGet(b *testing.B) {
	s := newState(b, true)
	ctx := context.Background()
	store := []byte("statestore")
	if err := s.HTTPSave(ctx, store, []byte(`[{"key":"a","value":{"x":1}},{"key":"b","value":"v"},{"key":"c","value":[1,2,3]}]`), false, nil); err != nil {
		b.Fatal(err)
	}
	body := []byte(`{"keys":["a","b","c","missing"]}`)
	var dst []byte
	b.ReportAllocs()
	for b.Loop() {
		var err *api.Error
		if dst, err = s.HTTPBulkGet(ctx, store, body, false, nil, dst[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHTTPGetParallel(b *testing.B) {
	s := newState(b, true)
	ctx := context.Background()
	store := []byte("statestore")
	if err := s.HTTPSave(ctx, store, []byte(`[{"key":"k","value":{"a":"some value"}}]`), false, nil); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var out api.GetResult
		key := []byte("k")
		for pb.Next() {
			if err := s.HTTPGet(ctx, store, key, nil, nil, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkHTTPTransaction(b *testing.B) {
	s := newState(b, true)
	ctx := context.Background()
	store := []byte("statestore")
	body := []byte(`{"operations":[{"operation":"upsert","request":{"key":"a","value":{"n":1}}},{"operation":"upsert","request":{"key":"b","value":"x"}},{"operation":"delete","request":{"key":"c"}}]}`)
	b.ReportAllocs()
	for b.Loop() {
		if err := s.HTTPTransaction(ctx, store, body, false, nil); err != nil {
			b.Fatal(err)
		}
	}
}
