package embedded

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/statecar/statecar/component"
	"github.com/statecar/statecar/kv"
)

func TestRegistered(t *testing.T) {
	for _, typ := range []string{TypePebble, TypeInMemory, "STATE.IN-MEMORY"} {
		if _, ok := component.LookupState(typ); !ok {
			t.Fatalf("%s not registered", typ)
		}
	}
}

func TestOptionsFromSpec(t *testing.T) {
	spec := component.Spec{Name: "s", Metadata: map[string]string{
		"DATADIR": "/tmp/x", "shards": "8", "Durability": "Relaxed", "syncInterval": "5ms", "sweepInterval": "-1s", "cacheSize": "32Mi", "WALSEGMENTSIZE": "8Mi", "readCacheSize": "0",
	}}
	opts, dir, err := optionsFromSpec(spec, component.Env{DataDir: "/data"})
	if err != nil {
		t.Fatal(err)
	}
	if dir != "/tmp/x" || opts.Shards != 8 || opts.Durability != kv.Relaxed || opts.SyncInterval != 5*time.Millisecond ||
		opts.SweepInterval != -time.Second || opts.CacheSize != 32<<20 || opts.WALSegmentSize != 8<<20 || opts.ReadCacheSize != -1 {
		t.Fatalf("options %+v dir %s", opts, dir)
	}
	_, dir, err = optionsFromSpec(component.Spec{Name: "s"}, component.Env{DataDir: "/data"})
	if err != nil || dir != "/data/s" {
		t.Fatalf("default dir %q %v", dir, err)
	}
	for name, bad := range map[string]string{"shards": "0", "durability": "fast", "syncInterval": "5", "cacheSize": "lots", "walSegmentSize": "4Ki", "readCacheSize": "-1"} {
		_, _, err := optionsFromSpec(component.Spec{Name: "s", Metadata: map[string]string{name: bad}}, component.Env{})
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Fatalf("%s=%s: err %v", name, bad, err)
		}
	}
}

func TestFactories(t *testing.T) {
	ctx := context.Background()
	f, _ := component.LookupState(TypePebble)
	dir := t.TempDir()
	st, err := f(ctx, component.Spec{Name: "p", Type: TypePebble, Metadata: map[string]string{"shards": "2"}}, component.Env{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.BulkSet(ctx, []component.SetRequest{{Key: "k", Value: []byte(`"v"`)}}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	// Reopen: the acknowledged write survived.
	st, err = f(ctx, component.Spec{Name: "p", Type: TypePebble}, component.Env{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	var resp component.GetResponse
	if err := st.Get(ctx, &component.GetRequest{Key: []byte("k")}, &resp); err != nil || !resp.Found || string(resp.Data) != `"v"` {
		t.Fatalf("after reopen: %v %q %v", resp.Found, resp.Data, err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f(ctx, component.Spec{Name: "p", Type: TypePebble, Version: "v9"}, component.Env{DataDir: dir}); err == nil {
		t.Fatal("version v9 accepted")
	}
	m, _ := component.LookupState(TypeInMemory)
	st, err = m(ctx, component.Spec{Name: "m", Type: TypeInMemory, Metadata: map[string]string{"dataDir": "/nonexistent/never"}}, component.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if got := component.Capabilities(st.Features()); strings.Join(got, ",") != "ETAG,TRANSACTIONAL,TTL,QUERY_API,ACTOR" {
		t.Fatalf("capabilities %v", got)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestETagTexts(t *testing.T) {
	ctx := context.Background()
	s, err := OpenMemory(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	zero, bad := "0", "abc"
	if err := s.BulkSet(ctx, []component.SetRequest{{Key: "k", Value: []byte("1")}}); err != nil {
		t.Fatal(err)
	}
	var resp component.GetResponse
	if err := s.Get(ctx, &component.GetRequest{Key: []byte("k")}, &resp); err != nil {
		t.Fatal(err)
	}
	cur := string(resp.ETag)
	for _, etag := range []*string{&zero, &bad} {
		err := s.BulkSet(ctx, []component.SetRequest{{Key: "k", Value: []byte("2"), ETag: etag}})
		want := "possible etag mismatch. error from state store: state etag not match for key=k: current=" + cur + ", expect=" + *etag
		if err == nil || err.Error() != want {
			t.Fatalf("etag %q: %v, want %q", *etag, err, want)
		}
	}
	err = s.Multi(ctx, &component.TransactionRequest{Operations: []component.Operation{
		{Kind: component.OpDelete, Delete: component.DeleteRequest{Key: "missing", ETag: &bad}},
	}})
	if err == nil || err.Error() != "possible etag mismatch. error from state store: state not exist or expired for key=missing" {
		t.Fatalf("multi: %v", err)
	}
	// Nothing of a failed multi-item delete is deleted.
	err = s.BulkDelete(ctx, []component.DeleteRequest{{Key: "k"}, {Key: "missing", ETag: &bad}})
	var be *component.BulkError
	if err == nil || !errors.As(err, &be) {
		t.Fatalf("bulk delete: %v", err)
	}
	if err := s.Get(ctx, &component.GetRequest{Key: []byte("k")}, &resp); err != nil || !resp.Found {
		t.Fatal("k deleted by a failed bulk delete")
	}
}
