package api_test

import (
	"context"
	"strings"
	"testing"

	"github.com/statecar/statecar/api"
	"github.com/statecar/statecar/component"
)

// sinkStore is a component.Store that records the last BulkSet/BulkGet and
// allocates nothing, so that allocation tests count the API layer alone.
type sinkStore struct {
	keys  []string
	vals  [][]byte
	items []component.BulkGetItem
}

func (s *sinkStore) Features() []component.Feature { return nil }
func (s *sinkStore) Get(context.Context, *component.GetRequest, *component.GetResponse) error {
	return nil
}
func (s *sinkStore) BulkGet(_ context.Context, keys []string, _ map[string]string, _ int) ([]component.BulkGetItem, error) {
	s.items = s.items[:0]
	for _, k := range keys {
		s.items = append(s.items, component.BulkGetItem{Key: k})
	}
	return s.items, nil
}
func (s *sinkStore) BulkSet(_ context.Context, reqs []component.SetRequest) error {
	s.keys, s.vals = s.keys[:0], s.vals[:0]
	for _, r := range reqs {
		s.keys = append(s.keys, r.Key)
		s.vals = append(s.vals, r.Value)
	}
	return nil
}
func (s *sinkStore) BulkDelete(context.Context, []component.DeleteRequest) error { return nil }
func (s *sinkStore) Multi(context.Context, *component.TransactionRequest) error  { return nil }
func (s *sinkStore) Close() error                                                { return nil }

func newSinkState(tb testing.TB) (*api.State, *sinkStore) {
	tb.Helper()
	st := &sinkStore{keys: make([]string, 0, 128), vals: make([][]byte, 0, 128), items: make([]component.BulkGetItem, 0, 128)}
	s, err := api.New(api.Config{AppID: "myapp", Stores: []api.StoreEntry{{
		Spec: component.Spec{Name: "statestore", Type: "state.sink"}, Store: st,
	}}})
	if err != nil {
		tb.Fatal(err)
	}
	return s, st
}

// TestHTTPSaveAllocs gates the API layer's own allocations on the save
// path, metrics on: a one-item save costs the key string and the one
// buffer of prefixed keys (items, store requests and canonical values come
// from a pool); a three-item save costs one more per extra key.
func TestHTTPSaveAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	s, st := newSinkState(t)
	ctx := context.Background()
	store := []byte("statestore")
	f := func(body string, want float64, wantKeys []string, wantVals []string) {
		t.Helper()
		b := []byte(body)
		if err := s.HTTPSave(ctx, store, b, false, nil); err != nil {
			t.Fatal(err)
		}
		n := testing.AllocsPerRun(200, func() {
			if err := s.HTTPSave(ctx, store, b, false, nil); err != nil {
				t.Fatal(err)
			}
		})
		if n > want {
			t.Errorf("HTTPSave(%s): %v allocs per call, want <= %v", body, n, want)
		}
		if strings.Join(st.keys, " ") != strings.Join(wantKeys, " ") {
			t.Errorf("keys %q, want %q", st.keys, wantKeys)
		}
		for i, v := range st.vals {
			if string(v) != wantVals[i] {
				t.Errorf("value %d = %s, want %s", i, v, wantVals[i])
			}
		}
	}
	v100 := `"` + strings.Repeat("v", 98) + `"`
	f(`[{"key":"k1","value":`+v100+`}]`, 2, []string{"myapp||k1"}, []string{v100})
	f(`[{"key":"a","value":{"z":1,"a":"<"}},{"key":"b","value":null},{"key":"c"}]`, 4,
		[]string{"myapp||a", "myapp||b", "myapp||c"}, []string{`{"a":"\u003c","z":1}`, "null", "null"})
}

// TestHTTPBulkGetAllocs gates the API layer's allocations per bulk get: one
// string per requested key plus a constant, not two or three per key.
func TestHTTPBulkGetAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	s, st := newSinkState(t)
	ctx := context.Background()
	var b strings.Builder
	b.WriteString(`{"keys":[`)
	for i := range 100 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"key` + string(rune('a'+i%26)) + `"`)
	}
	b.WriteString(`]}`)
	body := []byte(b.String())
	dst := make([]byte, 0, 8<<10)
	n := testing.AllocsPerRun(100, func() {
		var err *api.Error
		if dst, err = s.HTTPBulkGet(ctx, []byte("statestore"), body, false, nil, dst[:0]); err != nil {
			t.Fatal(err)
		}
	})
	if n > 100+4 {
		t.Errorf("HTTPBulkGet of 100 keys: %v allocs per call, want <= 104", n)
	}
	if len(st.items) != 100 || st.items[99].Key != "myapp||keyv" {
		t.Fatalf("store saw %d keys, last %q", len(st.items), st.items[len(st.items)-1].Key)
	}
	if !strings.HasPrefix(string(dst), `[{"key":"keya"},{"key":"keyb"}`) {
		t.Fatalf("body %.60s", dst)
	}
}
