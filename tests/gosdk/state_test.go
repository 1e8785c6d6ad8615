package gosdk

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	dapr "github.com/dapr/go-sdk/client"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const store = "statestore"

// newClient connects the official Go SDK to the sidecar's gRPC port.
func newClient(t *testing.T, s *sidecar) dapr.Client {
	t.Helper()
	c, err := dapr.NewClientWithAddress(s.GRPCAddr())
	if err != nil {
		t.Fatalf("cannot connect the SDK: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// wantCode fails t unless err carries the gRPC code and its message
// contains msg.
func wantCode(t *testing.T, err error, code codes.Code, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s %q", code, msg)
	}
	st, _ := status.FromError(err)
	if status.Code(err) != code || !strings.Contains(st.Message(), msg) {
		t.Fatalf("error %v: want code %s with %q", err, code, msg)
	}
}

func mustGet(t *testing.T, c dapr.Client, key string) *dapr.StateItem {
	t.Helper()
	it, err := c.GetState(context.Background(), store, key, nil)
	if err != nil {
		t.Fatalf("GetState %s: %v", key, err)
	}
	return it
}

// TestSDK runs the state API through the official Go SDK against one
// sidecar; every subtest uses its own keys.
func TestSDK(t *testing.T) {
	sc := startSidecar(t)
	c := newClient(t, sc)
	ctx := context.Background()

	t.Run("SaveGetString", func(t *testing.T) {
		if err := c.SaveState(ctx, store, "str", []byte("hello"), nil); err != nil {
			t.Fatal(err)
		}
		it := mustGet(t, c, "str")
		if string(it.Value) != "hello" || it.Etag == "" || it.Key != "str" {
			t.Fatalf("GetState = %+v", it)
		}
		if len(it.Metadata) != 0 {
			t.Fatalf("metadata of a key without TTL: %v", it.Metadata)
		}
	})

	t.Run("SaveGetJSON", func(t *testing.T) {
		meta := map[string]string{"contentType": "application/json"}
		if err := c.SaveState(ctx, store, "json", []byte(`{"b": 1, "a": [1.50, "x<y"]}`), meta); err != nil {
			t.Fatal(err)
		}
		// Re-serialised like daprd: keys sorted, compact, HTML-escaped.
		if got := string(mustGet(t, c, "json").Value); got != `{"a":[1.5,"x\u003cy"],"b":1}` {
			t.Fatalf("GetState json = %s", got)
		}
		err := c.SaveState(ctx, store, "json", []byte("not json"), meta)
		wantCode(t, err, codes.Unknown, "invalid character 'o' in literal null (expecting 'u')")
	})

	t.Run("SaveGetBinary", func(t *testing.T) {
		bin := make([]byte, 256)
		for i := range bin {
			bin[i] = byte(i)
		}
		if err := c.SaveState(ctx, store, "bin", bin, nil); err != nil {
			t.Fatal(err)
		}
		if got := mustGet(t, c, "bin").Value; !bytes.Equal(got, bin) {
			t.Fatalf("binary value changed: %x", got)
		}
		// The same bytes over HTTP, verbatim.
		resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(sc.HTTPPort) + "/v1.0/state/statestore/bin")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !bytes.Equal(body, bin) {
			t.Fatalf("HTTP GET of a gRPC-written value: %d %x", resp.StatusCode, body)
		}
	})

	t.Run("CrossProtocol", func(t *testing.T) {
		// An HTTP save stores JSON text; gRPC reads those bytes, quotes
		// included (state-grpc.md §7).
		body := `[{"key":"fromhttp","value":"value1"},{"key":"fromhttp2","value":{"b":1,"a":2}}]`
		resp, err := http.Post("http://127.0.0.1:"+strconv.Itoa(sc.HTTPPort)+"/v1.0/state/statestore", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("HTTP save: %d", resp.StatusCode)
		}
		if got := string(mustGet(t, c, "fromhttp").Value); got != `"value1"` {
			t.Fatalf("gRPC read of an HTTP string value = %s", got)
		}
		if got := string(mustGet(t, c, "fromhttp2").Value); got != `{"a":2,"b":1}` {
			t.Fatalf("gRPC read of an HTTP object value = %s", got)
		}
	})

	t.Run("GetMissing", func(t *testing.T) {
		it := mustGet(t, c, "never-written")
		if it.Value != nil || it.Etag != "" {
			t.Fatalf("missing key = %+v, want empty", it)
		}
	})

	t.Run("BulkSaveGet", func(t *testing.T) {
		err := c.SaveBulkState(ctx, store,
			&dapr.SetStateItem{Key: "b1", Value: []byte("one")},
			&dapr.SetStateItem{Key: "b2", Value: []byte(`"two"`)},
			&dapr.SetStateItem{Key: "b3", Value: []byte("{}"), Metadata: map[string]string{"contentType": "application/json"}},
		)
		if err != nil {
			t.Fatal(err)
		}
		items, err := c.GetBulkState(ctx, store, []string{"b3", "nope", "b1", "b2"}, nil, 2)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, it := range items {
			got = append(got, it.Key+"="+string(it.Value)+" etag:"+strconv.FormatBool(it.Etag != "")+" err:"+it.Error)
		}
		want := []string{"b3={} etag:true err:", "nope= etag:false err:", "b1=one etag:true err:", `b2="two" etag:true err:`}
		if !slices.Equal(got, want) {
			t.Fatalf("GetBulkState:\n got  %q\n want %q", got, want)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		if err := c.SaveState(ctx, store, "del", []byte("x"), nil); err != nil {
			t.Fatal(err)
		}
		if err := c.DeleteState(ctx, store, "del", nil); err != nil {
			t.Fatal(err)
		}
		if it := mustGet(t, c, "del"); it.Value != nil {
			t.Fatalf("deleted key still reads %q", it.Value)
		}
		if err := c.DeleteState(ctx, store, "del", nil); err != nil {
			t.Fatalf("deleting a missing key: %v", err)
		}
	})

	t.Run("BulkDelete", func(t *testing.T) {
		err := c.SaveBulkState(ctx, store, &dapr.SetStateItem{Key: "bd1", Value: []byte("1")}, &dapr.SetStateItem{Key: "bd2", Value: []byte("2")})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.DeleteBulkState(ctx, store, []string{"bd1", "bd2", "bd-missing"}, nil); err != nil {
			t.Fatal(err)
		}
		items, err := c.GetBulkState(ctx, store, []string{"bd1", "bd2"}, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			if it.Value != nil {
				t.Fatalf("%s survived the bulk delete", it.Key)
			}
		}
	})

	t.Run("ETag", func(t *testing.T) {
		if err := c.SaveState(ctx, store, "et", []byte("v1"), nil); err != nil {
			t.Fatal(err)
		}
		e1 := mustGet(t, c, "et").Etag
		if err := c.SaveStateWithETag(ctx, store, "et", []byte("v2"), e1, nil); err != nil {
			t.Fatalf("save with the current ETag: %v", err)
		}
		e2 := mustGet(t, c, "et").Etag
		if e2 == e1 {
			t.Fatalf("ETag unchanged by a write: %s", e2)
		}
		// Stale ETag, last-write (the SDK default) and first-write alike.
		err := c.SaveStateWithETag(ctx, store, "et", []byte("v3"), e1, nil)
		wantCode(t, err, codes.Aborted, "failed saving state in state store statestore: possible etag mismatch")
		err = c.SaveStateWithETag(ctx, store, "et", []byte("v3"), e1, nil, dapr.WithConcurrency(dapr.StateConcurrencyFirstWrite))
		wantCode(t, err, codes.Aborted, "possible etag mismatch")
		if got := string(mustGet(t, c, "et").Value); got != "v2" {
			t.Fatalf("a failed save changed the value to %q", got)
		}
		// first-write without ETag: only for a new key.
		err = c.SaveState(ctx, store, "et", []byte("v4"), nil, dapr.WithConcurrency(dapr.StateConcurrencyFirstWrite))
		wantCode(t, err, codes.Aborted, "item already exists and no etag was passed")
		if err := c.SaveState(ctx, store, "et-new", []byte("n"), nil, dapr.WithConcurrency(dapr.StateConcurrencyFirstWrite)); err != nil {
			t.Fatalf("first-write of a new key: %v", err)
		}
		// last-write without ETag always wins.
		if err := c.SaveState(ctx, store, "et", []byte("v5"), nil, dapr.WithConcurrency(dapr.StateConcurrencyLastWrite)); err != nil {
			t.Fatal(err)
		}
		// An ETag on a missing key fails.
		err = c.SaveStateWithETag(ctx, store, "et-absent", []byte("x"), "1", nil)
		wantCode(t, err, codes.Aborted, "possible etag mismatch")
		// Deletes check the ETag too.
		err = c.DeleteStateWithETag(ctx, store, "et", &dapr.ETag{Value: e1}, nil, nil)
		wantCode(t, err, codes.Aborted, "failed deleting state with key et: possible etag mismatch")
		cur := mustGet(t, c, "et").Etag
		if err := c.DeleteStateWithETag(ctx, store, "et", &dapr.ETag{Value: cur}, nil, &dapr.StateOptions{Concurrency: dapr.StateConcurrencyFirstWrite}); err != nil {
			t.Fatalf("delete with the current ETag: %v", err)
		}
		if it := mustGet(t, c, "et"); it.Value != nil {
			t.Fatal("et survived its delete")
		}
		// Bulk delete with a stale ETag fails as a whole.
		if err := c.SaveState(ctx, store, "et-b", []byte("b"), nil); err != nil {
			t.Fatal(err)
		}
		err = c.DeleteBulkStateItems(ctx, store, []*dapr.DeleteStateItem{{Key: "et-b", Etag: &dapr.ETag{Value: "999999999"}}})
		wantCode(t, err, codes.Aborted, "failed deleting state in state store statestore: possible etag mismatch")
		it, err := c.GetStateWithConsistency(ctx, store, "et-b", nil, dapr.StateConsistencyEventual)
		if err != nil || string(it.Value) != "b" {
			t.Fatalf("et-b after a failed bulk delete = %+v, %v", it, err)
		}
	})

	t.Run("Transaction", func(t *testing.T) {
		if err := c.SaveState(ctx, store, "tx-old", []byte("old"), nil); err != nil {
			t.Fatal(err)
		}
		ops := []*dapr.StateOperation{
			{Type: dapr.StateOperationTypeUpsert, Item: &dapr.SetStateItem{Key: "tx1", Value: []byte("a")}},
			{Type: dapr.StateOperationTypeUpsert, Item: &dapr.SetStateItem{Key: "tx2", Value: []byte("b"), Metadata: map[string]string{"ttlInSeconds": "100"}}},
			{Type: dapr.StateOperationTypeDelete, Item: &dapr.SetStateItem{Key: "tx-old"}},
		}
		if err := c.ExecuteStateTransaction(ctx, store, nil, ops); err != nil {
			t.Fatal(err)
		}
		if string(mustGet(t, c, "tx1").Value) != "a" || mustGet(t, c, "tx-old").Value != nil {
			t.Fatal("transaction not applied")
		}
		if mustGet(t, c, "tx2").Metadata["ttlExpireTime"] == "" {
			t.Fatal("per-operation ttlInSeconds not applied")
		}
		// A stale ETag fails the whole transaction with Internal.
		e := mustGet(t, c, "tx1").Etag
		bad := []*dapr.StateOperation{
			{Type: dapr.StateOperationTypeUpsert, Item: &dapr.SetStateItem{Key: "tx3", Value: []byte("c")}},
			{Type: dapr.StateOperationTypeUpsert, Item: &dapr.SetStateItem{Key: "tx1", Value: []byte("z"), Etag: &dapr.ETag{Value: e + "0"}}},
		}
		err := c.ExecuteStateTransaction(ctx, store, nil, bad)
		wantCode(t, err, codes.Internal, "error while executing state transaction: possible etag mismatch")
		if mustGet(t, c, "tx3").Value != nil || string(mustGet(t, c, "tx1").Value) != "a" {
			t.Fatal("a failed transaction was partly applied")
		}
	})

	t.Run("TTL", func(t *testing.T) {
		before := time.Now().UTC().Truncate(time.Second)
		if err := c.SaveState(ctx, store, "ttl", []byte("v"), map[string]string{"ttlInSeconds": "100"}); err != nil {
			t.Fatal(err)
		}
		it := mustGet(t, c, "ttl")
		exp, err := time.Parse(time.RFC3339, it.Metadata["ttlExpireTime"])
		if err != nil || !strings.HasSuffix(it.Metadata["ttlExpireTime"], "Z") {
			t.Fatalf("ttlExpireTime %q: %v", it.Metadata["ttlExpireTime"], err)
		}
		if exp.Before(before.Add(99*time.Second)) || exp.After(time.Now().Add(101*time.Second)) {
			t.Fatalf("ttlExpireTime %v is not 100 s after the write", exp)
		}
		items, err := c.GetBulkState(ctx, store, []string{"ttl"}, nil, 0)
		if err != nil || len(items) != 1 || items[0].Metadata["ttlExpireTime"] != it.Metadata["ttlExpireTime"] {
			t.Fatalf("bulk ttl item = %+v, %v", items, err)
		}
		// Writing without ttlInSeconds removes the TTL.
		if err := c.SaveState(ctx, store, "ttl", []byte("v"), nil); err != nil {
			t.Fatal(err)
		}
		if md := mustGet(t, c, "ttl").Metadata; md["ttlExpireTime"] != "" {
			t.Fatalf("TTL kept after a write without ttlInSeconds: %v", md)
		}
		// A 1 s TTL expires: poll until the key reads as missing.
		if err := c.SaveState(ctx, store, "ttl-short", []byte("v"), map[string]string{"ttlInSeconds": "1"}); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(20 * time.Second); mustGet(t, c, "ttl-short").Value != nil; time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("ttl-short never expired")
			}
		}
	})

	t.Run("Query", func(t *testing.T) {
		meta := map[string]string{"contentType": "application/json"}
		docs := map[string]string{
			"q1": `{"person":{"org":"Dev Ops","id":1036},"city":"Seattle","state":"WA"}`,
			"q2": `{"person":{"org":"Hardware","id":1028},"city":"Portland","state":"OR"}`,
			"q3": `{"person":{"org":"Finance","id":1071},"city":"Sacramento","state":"CA"}`,
			"q4": `{"person":{"org":"Dev Ops","id":1042},"city":"Spokane","state":"WA"}`,
		}
		for k, v := range docs {
			if err := c.SaveState(ctx, "querystore", k, []byte(v), meta); err != nil {
				t.Fatal(err)
			}
		}
		q := `{"filter":{"EQ":{"state":"WA"}},"sort":[{"key":"person.id","order":"DESC"}],"page":{"limit":1}}`
		resp, err := c.QueryStateAlpha1(ctx, "querystore", q, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Results) != 1 || resp.Results[0].Key != "q4" || resp.Token != "1" || resp.Results[0].Etag == "" {
			t.Fatalf("page 1 = %+v", resp)
		}
		if !strings.Contains(string(resp.Results[0].Value), `"city":"Spokane"`) {
			t.Fatalf("q4 value = %s", resp.Results[0].Value)
		}
		q = `{"filter":{"EQ":{"state":"WA"}},"sort":[{"key":"person.id","order":"DESC"}],"page":{"limit":1,"token":"1"}}`
		if resp, err = c.QueryStateAlpha1(ctx, "querystore", q, nil); err != nil || len(resp.Results) != 1 || resp.Results[0].Key != "q1" {
			t.Fatalf("page 2 = %+v, %v", resp, err)
		}
		resp, err = c.QueryStateAlpha1(ctx, "querystore", `{"filter":{"EQ":{"state":"NY"}}}`, nil)
		if err != nil || len(resp.Results) != 0 {
			t.Fatalf("no match = %+v, %v", resp, err)
		}
		_, err = c.QueryStateAlpha1(ctx, "querystore", `{"filter":{"AND":[{"EQ":{"a":1}}]}}`, nil)
		wantCode(t, err, codes.Internal, "state store querystore query failed: failed to parse JSON query body: AND filter must contain at least two entries")
	})

	t.Run("Errors", func(t *testing.T) {
		_, err := c.GetState(ctx, "nostore", "k", nil)
		wantCode(t, err, codes.InvalidArgument, "state store nostore is not found")
		err = c.SaveState(ctx, store, "a||b", []byte("v"), nil)
		wantCode(t, err, codes.InvalidArgument, "input key/keyPrefix 'a||b' can't contain '||'")
		err = c.PublishEvent(ctx, "pubsub", "topic", []byte("x"))
		wantCode(t, err, codes.InvalidArgument, "pubsub pubsub is not found")
	})

	t.Run("Metadata", func(t *testing.T) {
		if err := c.SetMetadata(ctx, "sdkKey", "sdkValue"); err != nil {
			t.Fatal(err)
		}
		md, err := c.GetMetadata(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if md.ID != "myapp" || md.ExtendedMetadata["sdkKey"] != "sdkValue" {
			t.Fatalf("GetMetadata id=%q extended=%v", md.ID, md.ExtendedMetadata)
		}
		var found bool
		for _, comp := range md.RegisteredComponents {
			if comp.Name != store {
				continue
			}
			found = true
			if comp.Type != "state.pebble" {
				t.Fatalf("statestore type %q", comp.Type)
			}
			for _, capability := range []string{"ETAG", "TRANSACTIONAL", "TTL", "QUERY_API", "ACTOR"} {
				if !slices.Contains(comp.Capabilities, capability) {
					t.Fatalf("statestore capabilities %v lack %s", comp.Capabilities, capability)
				}
			}
			if comp.Capabilities[len(comp.Capabilities)-1] != "ACTOR" {
				t.Fatalf("ACTOR must come last (daprd appends it): %v", comp.Capabilities)
			}
		}
		if !found {
			t.Fatalf("statestore not among the components: %+v", md.RegisteredComponents)
		}
	})

	t.Run("Metrics", func(t *testing.T) {
		resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(sc.MetricsPort) + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, want := range []string{
			`dapr_grpc_io_server_completed_rpcs{app_id="myapp",grpc_server_method="/dapr.proto.runtime.v1.Dapr/SaveState",grpc_server_status="OK"}`,
			`dapr_grpc_io_server_completed_rpcs{app_id="myapp",grpc_server_method="/dapr.proto.runtime.v1.Dapr/SaveState",grpc_server_status="Aborted"}`,
			`dapr_grpc_io_server_server_latency_bucket{app_id="myapp",grpc_server_method="/dapr.proto.runtime.v1.Dapr/GetState",grpc_server_status="OK",le="1"}`,
			`dapr_grpc_io_server_received_bytes_per_rpc_count{app_id="myapp",grpc_server_method="/dapr.proto.runtime.v1.Dapr/GetState"}`,
		} {
			if !bytes.Contains(body, []byte(want)) {
				t.Errorf("metrics lack %s", want)
			}
		}
	})
}

// TestAPIToken: with DAPR_API_TOKEN set on the sidecar, the SDK needs the
// same token.
func TestAPIToken(t *testing.T) {
	sc := startSidecar(t, "DAPR_API_TOKEN=tok-123")
	c := newClient(t, sc)
	ctx := context.Background()
	c.WithAuthToken("")
	err := c.SaveState(ctx, store, "k", []byte("v"), nil)
	wantCode(t, err, codes.Unauthenticated, "Unauthorized")
	c.WithAuthToken("wrong")
	_, err = c.GetState(ctx, store, "k", nil)
	wantCode(t, err, codes.Unauthenticated, "Unauthorized")
	c.WithAuthToken("tok-123")
	if err := c.SaveState(ctx, store, "k", []byte("v"), nil); err != nil {
		t.Fatalf("with the token: %v", err)
	}
}

// TestShutdown: the Shutdown RPC answers OK and the process exits 0.
func TestShutdown(t *testing.T) {
	sc := startSidecar(t)
	c := newClient(t, sc)
	if err := c.SaveState(context.Background(), store, "k", []byte("v"), nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if code := sc.waitExit(t); code != 0 {
		t.Fatalf("exit code %d after Shutdown, want 0", code)
	}
}
