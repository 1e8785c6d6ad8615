package grpcserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	commonv1pb "github.com/dapr/dapr/pkg/proto/common/v1"
	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/statecar/statecar/api"
	"github.com/statecar/statecar/component"
	_ "github.com/statecar/statecar/component/embedded" // registers state.in-memory
	"github.com/statecar/statecar/component/secretstore"
)

const testApp = "myapp"

// testTransport is the transport the suite runs on: statecar's by default,
// grpc-go's with STATECAR_GRPC_TRANSPORT=grpc-go (scripts/test.sh runs the
// package both ways).
var testTransport = os.Getenv("STATECAR_GRPC_TRANSPORT")

// quiet drops the servers' log lines in tests.
var quiet = slog.New(slog.DiscardHandler)

// openStore opens a fresh state.in-memory store (the engine on an
// in-memory filesystem).
func openStore(t testing.TB, name string) component.Store {
	t.Helper()
	f, ok := component.LookupState("state.in-memory")
	if !ok {
		t.Fatal("state.in-memory is not registered")
	}
	st, err := f(context.Background(), component.Spec{Name: name, Type: "state.in-memory", Metadata: map[string]string{}},
		component.Env{AppID: testApp, DataDir: t.TempDir(), Logger: quiet})
	if err != nil {
		t.Fatalf("cannot open state.in-memory: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// without hides some features of a store, and its Query method (only the
// component.Store methods are promoted), like daprd's in-memory store which
// cannot query.
type without struct {
	component.Store
	hide []component.Feature
}

func (s without) Features() []component.Feature {
	var out []component.Feature
	for _, f := range s.Store.Features() {
		if !slices.Contains(s.hide, f) {
			out = append(out, f)
		}
	}
	return out
}

func noQuery(s component.Store) component.Store {
	return without{s, []component.Feature{component.FeatureQueryAPI}}
}

func noTx(s component.Store) component.Store {
	return without{s, []component.Feature{component.FeatureTransactional, component.FeatureQueryAPI}}
}

// maxOps limits transactions to 2 operations.
type maxOps struct{ component.Store }

func (maxOps) MultiMaxSize() int { return 2 }

// broken fails every call with a plain store error.
type broken struct{ component.Store }

var errBroken = errors.New("disk on fire")

func (broken) Get(context.Context, *component.GetRequest, *component.GetResponse) error {
	return errBroken
}
func (broken) BulkSet(context.Context, []component.SetRequest) error       { return errBroken }
func (broken) BulkDelete(context.Context, []component.DeleteRequest) error { return errBroken }
func (broken) BulkGet(context.Context, []string, map[string]string, int) ([]component.BulkGetItem, error) {
	return nil, errBroken
}
func (broken) Multi(context.Context, *component.TransactionRequest) error { return errBroken }

// badETag rejects every write and delete with an ETagInvalid error.
type badETag struct{ component.Store }

func (badETag) BulkSet(context.Context, []component.SetRequest) error {
	return component.NewETagError(component.ETagInvalid, errors.New("etag is not a number"))
}

func (badETag) BulkDelete(context.Context, []component.DeleteRequest) error {
	return component.NewETagError(component.ETagInvalid, errors.New("etag is not a number"))
}

// testEnv is a running server with a client.
type testEnv struct {
	srv    *Server
	client runtimev1pb.DaprClient
	conn   *grpc.ClientConn

	setKey, setVal string
	shutdowns      atomic.Int32
	forced         chan struct{} // receives one value per ForceShutdown call
}

// startEnv serves stores (name -> store) on 127.0.0.1:0.
func startEnv(t *testing.T, token string, stores ...api.StoreEntry) *testEnv {
	t.Helper()
	return startEnvWith(t, token, nil, stores...)
}

// startEnvWith is startEnv with a Secrets API.
func startEnvWith(t *testing.T, token string, secrets *api.Secrets, stores ...api.StoreEntry) *testEnv {
	t.Helper()
	st, err := api.New(api.Config{AppID: testApp, Stores: stores, DisableMetrics: true})
	if err != nil {
		t.Fatal(err)
	}
	env := &testEnv{forced: make(chan struct{}, 4)}
	cfg := Config{
		Addrs:      []string{"127.0.0.1:0"},
		State:      st,
		Secrets:    secrets,
		AppID:      testApp,
		APIToken:   token,
		MaxMsgSize: 64 << 10,
		Metadata: func() *runtimev1pb.GetMetadataResponse {
			return &runtimev1pb.GetMetadataResponse{Id: testApp, ExtendedMetadata: map[string]string{env.setKey: env.setVal}}
		},
		SetMetadata:   func(k, v string) { env.setKey, env.setVal = k, v },
		Shutdown:      func() { env.shutdowns.Add(1) },
		ForceShutdown: func() { env.forced <- struct{}{} },
		Logger:        quiet,
		Transport:     testTransport,
	}
	srv, conn := serveAndDial(t, cfg)
	env.srv, env.conn, env.client = srv, conn, runtimev1pb.NewDaprClient(conn)
	return env
}

// serveAndDial starts a server from cfg (stopped at cleanup) and dials it.
func serveAndDial(t testing.TB, cfg Config) (*Server, *grpc.ClientConn) {
	t.Helper()
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(srv.Addrs()[0].String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return srv, conn
}

func entry(name string, s component.Store) api.StoreEntry {
	return api.StoreEntry{Spec: component.Spec{Name: name, Type: "state.in-memory", Metadata: map[string]string{}}, Store: s}
}

// describe renders a status's details in a stable, comparable form.
func describe(st *status.Status) []string {
	var out []string
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			keys := make([]string, 0, len(d.Metadata))
			for k := range d.Metadata {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			var kv []string
			for _, k := range keys {
				kv = append(kv, k+"="+d.Metadata[k])
			}
			out = append(out, fmt.Sprintf("ErrorInfo{%s %s [%s]}", d.Domain, d.Reason, strings.Join(kv, " ")))
		case *errdetails.ResourceInfo:
			out = append(out, fmt.Sprintf("ResourceInfo{%s %s}", d.ResourceType, d.ResourceName))
		case *errdetails.BadRequest:
			for _, v := range d.FieldViolations {
				out = append(out, fmt.Sprintf("BadRequest{%s: %s}", v.Field, v.Description))
			}
		case *errdetails.Help:
			for _, l := range d.Links {
				out = append(out, "Help{"+l.Url+"}")
			}
		case error:
			out = append(out, "undecodable: "+d.Error())
		default:
			out = append(out, fmt.Sprintf("%T", d))
		}
	}
	return out
}

// wantStatus checks err against code, message and details.
func wantStatus(t *testing.T, err error, code codes.Code, msg string, details ...string) {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok {
		t.Fatalf("not a status error: %v", err)
	}
	if st.Code() != code || st.Message() != msg {
		t.Fatalf("got %s %q, want %s %q", st.Code(), st.Message(), code, msg)
	}
	got := describe(st)
	if strings.Join(got, "\n") != strings.Join(details, "\n") {
		t.Fatalf("details of %q:\n got  %q\n want %q", msg, got, details)
	}
}

func basicInfo(reason string) string { return "ErrorInfo{dapr.io " + reason + " []}" }

func save(t *testing.T, env *testEnv, items ...*commonv1pb.StateItem) error {
	t.Helper()
	_, err := env.client.SaveState(context.Background(), &runtimev1pb.SaveStateRequest{StoreName: "statestore", States: items})
	return err
}

func mustSave(t *testing.T, env *testEnv, items ...*commonv1pb.StateItem) {
	t.Helper()
	if err := save(t, env, items...); err != nil {
		t.Fatalf("SaveState: %v", err)
	}
}

func get(t *testing.T, env *testEnv, key string) *runtimev1pb.GetStateResponse {
	t.Helper()
	resp, err := env.client.GetState(context.Background(), &runtimev1pb.GetStateRequest{StoreName: "statestore", Key: key})
	if err != nil {
		t.Fatalf("GetState %s: %v", key, err)
	}
	return resp
}

// TestExamples replays the observed examples of state-grpc.md §6.
func TestExamples(t *testing.T) {
	env := startEnv(t, "", entry("statestore", noQuery(openStore(t, "statestore"))))
	ctx := context.Background()

	mustSave(t, env, &commonv1pb.StateItem{Key: "g1", Value: []byte("hello")})
	g1 := get(t, env, "g1")
	if string(g1.Data) != "hello" || g1.Etag == "" || len(g1.Metadata) != 0 {
		t.Fatalf("GetState g1 = %v", g1)
	}

	mustSave(t, env, &commonv1pb.StateItem{Key: "g2", Value: []byte(`{"b": 1, "a": 2}`), Metadata: map[string]string{"contentType": "application/json"}})
	if g2 := get(t, env, "g2"); string(g2.Data) != `{"a":2,"b":1}` {
		t.Fatalf("GetState g2 data = %q", g2.Data)
	}

	if m := get(t, env, "missing"); len(m.Data) != 0 || m.Etag != "" || m.Metadata != nil {
		t.Fatalf("GetState missing = %v, want empty", m)
	}

	_, err := env.client.GetState(ctx, &runtimev1pb.GetStateRequest{StoreName: "nostore", Key: "g1"})
	wantStatus(t, err, codes.InvalidArgument, "state store nostore is not found", basicInfo("DAPR_STATE_NOT_FOUND"))

	err = save(t, env, &commonv1pb.StateItem{Key: "g1", Value: []byte("x"), Etag: &commonv1pb.Etag{Value: "bad"}})
	wantStatus(t, err, codes.Aborted,
		"failed saving state in state store statestore: possible etag mismatch. error from state store: state etag not match for key=myapp||g1: current="+g1.Etag+", expect=bad",
		basicInfo("ERR_STATE_SAVE"))

	err = save(t, env, &commonv1pb.StateItem{Key: "g1", Value: []byte("x"), Options: &commonv1pb.StateOptions{Concurrency: commonv1pb.StateOptions_CONCURRENCY_FIRST_WRITE}})
	wantStatus(t, err, codes.Aborted,
		"failed saving state in state store statestore: possible etag mismatch. error from state store: item already exists and no etag was passed",
		basicInfo("ERR_STATE_SAVE"))

	if _, err := env.client.DeleteState(ctx, &runtimev1pb.DeleteStateRequest{StoreName: "statestore", Key: "missing"}); err != nil {
		t.Fatalf("DeleteState missing: %v", err)
	}

	bulk, err := env.client.GetBulkState(ctx, &runtimev1pb.GetBulkStateRequest{StoreName: "statestore", Keys: []string{"g1", "g2", "missing"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range bulk.Items {
		got = append(got, fmt.Sprintf("%s=%q etag:%v err:%q", it.Key, it.Data, it.Etag != "", it.Error))
	}
	want := []string{`g1="hello" etag:true err:""`, `g2="{\"a\":2,\"b\":1}" etag:true err:""`, `missing="" etag:false err:""`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("GetBulkState:\n got  %q\n want %q", got, want)
	}

	_, err = env.client.ExecuteStateTransaction(ctx, &runtimev1pb.ExecuteStateTransactionRequest{StoreName: "statestore",
		Operations: []*runtimev1pb.TransactionalStateOperation{{OperationType: "bogus", Request: &commonv1pb.StateItem{Key: "t"}}}})
	wantStatus(t, err, codes.Unimplemented, "operation type bogus not supported", basicInfo("ERR_NOT_SUPPORTED_STATE_OPERATION"))

	_, err = env.client.ExecuteStateTransaction(ctx, &runtimev1pb.ExecuteStateTransactionRequest{StoreName: "statestore",
		Operations: []*runtimev1pb.TransactionalStateOperation{{OperationType: "upsert", Request: &commonv1pb.StateItem{Key: "g1", Value: []byte("v"), Etag: &commonv1pb.Etag{Value: "bad"}}}}})
	wantStatus(t, err, codes.Internal,
		"error while executing state transaction: possible etag mismatch. error from state store: state etag not match for key=myapp||g1: current="+g1.Etag+", expect=bad",
		basicInfo("ERR_STATE_TRANSACTION"))

	_, err = env.client.QueryStateAlpha1(ctx, &runtimev1pb.QueryStateRequest{StoreName: "statestore", Query: "{}"})
	wantStatus(t, err, codes.Internal, "state store does not support querying",
		"ResourceInfo{state statestore}", basicInfo("DAPR_STATE_QUERYING_NOT_SUPPORTED"))
}

// TestErrorRows covers the remaining rows of state-grpc.md §5.
func TestErrorRows(t *testing.T) {
	mem := openStore(t, "statestore")
	env := startEnv(t, "",
		entry("statestore", mem),
		entry("notx", noTx(openStore(t, "notx"))),
		entry("small", maxOps{openStore(t, "small")}),
		entry("broken", broken{openStore(t, "broken")}),
		entry("badetag", badETag{openStore(t, "badetag")}),
	)
	ctx := context.Background()
	mustSave(t, env, &commonv1pb.StateItem{Key: "k", Value: []byte("v")})

	illegal := []string{"BadRequest{a||b: input key/keyPrefix 'a||b' can't contain '||'}", "ResourceInfo{state statestore}", basicInfo("DAPR_STATE_ILLEGAL_KEY")}
	_, err := env.client.GetState(ctx, &runtimev1pb.GetStateRequest{StoreName: "statestore", Key: "a||b"})
	wantStatus(t, err, codes.InvalidArgument, "input key/keyPrefix 'a||b' can't contain '||'", illegal...)
	err = save(t, env, &commonv1pb.StateItem{Key: "a||b", Value: []byte("v")})
	wantStatus(t, err, codes.InvalidArgument, "input key/keyPrefix 'a||b' can't contain '||'", illegal...)

	_, err = env.client.DeleteState(ctx, &runtimev1pb.DeleteStateRequest{StoreName: "statestore", Key: "a||b"})
	wantStatus(t, err, codes.InvalidArgument, "input key/keyPrefix 'a||b' can't contain '||'", illegal...)
	_, err = env.client.GetBulkState(ctx, &runtimev1pb.GetBulkStateRequest{StoreName: "statestore", Keys: []string{"k", "a||b"}})
	wantStatus(t, err, codes.InvalidArgument, "input key/keyPrefix 'a||b' can't contain '||'", illegal...)
	_, err = env.client.DeleteBulkState(ctx, &runtimev1pb.DeleteBulkStateRequest{StoreName: "statestore", States: []*commonv1pb.StateItem{{Key: "a||b"}}})
	wantStatus(t, err, codes.InvalidArgument, "input key/keyPrefix 'a||b' can't contain '||'", illegal...)
	// In a transaction too (state-grpc.md §5: field = the key; daprd's
	// gRPC handler returns GetModifiedStateKey's error as it is, where
	// only the HTTP handler re-wraps it with the key already blanked).
	_, err = env.client.ExecuteStateTransaction(ctx, &runtimev1pb.ExecuteStateTransactionRequest{StoreName: "statestore",
		Operations: []*runtimev1pb.TransactionalStateOperation{{OperationType: "upsert", Request: &commonv1pb.StateItem{Key: "a||b"}}}})
	wantStatus(t, err, codes.InvalidArgument, "input key/keyPrefix 'a||b' can't contain '||'", illegal...)

	// ETag invalid (a store-defined format check): InvalidArgument.
	_, err = env.client.SaveState(ctx, &runtimev1pb.SaveStateRequest{StoreName: "badetag", States: []*commonv1pb.StateItem{{Key: "k", Etag: &commonv1pb.Etag{Value: "x"}}}})
	wantStatus(t, err, codes.InvalidArgument, "failed saving state in state store badetag: invalid etag value: etag is not a number", basicInfo("ERR_STATE_SAVE"))
	_, err = env.client.DeleteState(ctx, &runtimev1pb.DeleteStateRequest{StoreName: "badetag", Key: "k", Etag: &commonv1pb.Etag{Value: "x"}})
	wantStatus(t, err, codes.InvalidArgument, "failed deleting state with key k: invalid etag value: etag is not a number", basicInfo("ERR_STATE_DELETE"))
	_, err = env.client.DeleteBulkState(ctx, &runtimev1pb.DeleteBulkStateRequest{StoreName: "badetag", States: []*commonv1pb.StateItem{{Key: "k", Etag: &commonv1pb.Etag{Value: "x"}}}})
	wantStatus(t, err, codes.InvalidArgument, "failed deleting state in state store badetag: invalid etag value: etag is not a number", basicInfo("ERR_STATE_BULK_DELETE"))

	err = save(t, env, &commonv1pb.StateItem{Key: "ok", Value: []byte("v")}, &commonv1pb.StateItem{Key: "", Value: []byte("v")})
	wantStatus(t, err, codes.InvalidArgument, "state key cannot be empty", basicInfo("ERR_STATE_SAVE"))
	if m := get(t, env, "ok"); len(m.Data) != 0 {
		t.Fatalf("an item of a rejected save was written: %q", m.Data)
	}

	err = save(t, env, &commonv1pb.StateItem{Key: "j", Value: []byte("not json"), Metadata: map[string]string{"contentType": "application/json"}})
	wantStatus(t, err, codes.Unknown, "invalid character 'o' in literal null (expecting 'u')")

	err = save(t, env, &commonv1pb.StateItem{Key: "k", Value: []byte("v"), Options: &commonv1pb.StateOptions{Concurrency: commonv1pb.StateOptions_StateConcurrency(7)}})
	if err != nil {
		t.Fatalf("unknown concurrency enum values map to \"\" as in daprd: %v", err)
	}
	etag := get(t, env, "k").Etag

	_, err = env.client.DeleteState(ctx, &runtimev1pb.DeleteStateRequest{StoreName: "statestore", Key: "k", Etag: &commonv1pb.Etag{Value: "bad"}})
	wantStatus(t, err, codes.Aborted,
		"failed deleting state with key k: possible etag mismatch. error from state store: state etag not match for key=myapp||k: current="+etag+", expect=bad",
		basicInfo("ERR_STATE_DELETE"))

	_, err = env.client.DeleteBulkState(ctx, &runtimev1pb.DeleteBulkStateRequest{StoreName: "statestore",
		States: []*commonv1pb.StateItem{{Key: "k", Etag: &commonv1pb.Etag{Value: "bad"}}}})
	wantStatus(t, err, codes.Aborted,
		"failed deleting state in state store statestore: possible etag mismatch. error from state store: state etag not match for key=myapp||k: current="+etag+", expect=bad",
		basicInfo("ERR_STATE_BULK_DELETE"))

	_, err = env.client.GetState(ctx, &runtimev1pb.GetStateRequest{StoreName: "broken", Key: "k"})
	wantStatus(t, err, codes.Internal, "fail to get k from state store broken: disk on fire", basicInfo("ERR_STATE_GET"))
	_, err = env.client.SaveState(ctx, &runtimev1pb.SaveStateRequest{StoreName: "broken", States: []*commonv1pb.StateItem{{Key: "k"}}})
	wantStatus(t, err, codes.Internal, "failed saving state in state store broken: disk on fire", basicInfo("ERR_STATE_SAVE"))
	_, err = env.client.DeleteState(ctx, &runtimev1pb.DeleteStateRequest{StoreName: "broken", Key: "k"})
	wantStatus(t, err, codes.Internal, "failed deleting state with key k: disk on fire", basicInfo("ERR_STATE_DELETE"))
	_, err = env.client.DeleteBulkState(ctx, &runtimev1pb.DeleteBulkStateRequest{StoreName: "broken", States: []*commonv1pb.StateItem{{Key: "k"}}})
	wantStatus(t, err, codes.Internal, "failed deleting state in state store broken: disk on fire", basicInfo("ERR_STATE_BULK_DELETE"))
	_, err = env.client.ExecuteStateTransaction(ctx, &runtimev1pb.ExecuteStateTransactionRequest{StoreName: "broken",
		Operations: []*runtimev1pb.TransactionalStateOperation{{OperationType: "delete", Request: &commonv1pb.StateItem{Key: "k"}}}})
	wantStatus(t, err, codes.Internal, "error while executing state transaction: disk on fire", basicInfo("ERR_STATE_TRANSACTION"))

	_, err = env.client.ExecuteStateTransaction(ctx, &runtimev1pb.ExecuteStateTransactionRequest{StoreName: "notx"})
	wantStatus(t, err, codes.Unimplemented, "state store notx doesn't support transactions",
		"Help{https://docs.dapr.io/reference/components-reference/supported-state-stores/}", "ResourceInfo{state notx}", basicInfo("DAPR_STATE_TRANSACTIONS_NOT_SUPPORTED"))

	three := []*runtimev1pb.TransactionalStateOperation{
		{OperationType: "upsert", Request: &commonv1pb.StateItem{Key: "a"}},
		{OperationType: "upsert", Request: &commonv1pb.StateItem{Key: "b"}},
		{OperationType: "delete", Request: &commonv1pb.StateItem{Key: "c"}},
	}
	_, err = env.client.ExecuteStateTransaction(ctx, &runtimev1pb.ExecuteStateTransactionRequest{StoreName: "small", Operations: three})
	wantStatus(t, err, codes.InvalidArgument, "the transaction contains 3 operations, which is more than what the state store supports: 2",
		"ResourceInfo{state small}", "ErrorInfo{dapr.io DAPR_STATE_TOO_MANY_TRANSACTIONS [currentOpsTransaction=3 maxOpsPerTransaction=2]}")

	_, err = env.client.QueryStateAlpha1(ctx, &runtimev1pb.QueryStateRequest{StoreName: "nostore", Query: "{}"})
	wantStatus(t, err, codes.InvalidArgument, "state store nostore is not found", basicInfo("DAPR_STATE_NOT_FOUND"))
}

// TestNotConfigured: with no state store at all, every state RPC fails
// with FailedPrecondition.
func TestNotConfigured(t *testing.T) {
	env := startEnv(t, "")
	ctx := context.Background()
	want := func(err error) {
		t.Helper()
		wantStatus(t, err, codes.FailedPrecondition, "state store statestore is not configured", basicInfo("DAPR_STATE_NOT_CONFIGURED"))
	}
	_, err := env.client.GetState(ctx, &runtimev1pb.GetStateRequest{StoreName: "statestore", Key: "k"})
	want(err)
	_, err = env.client.GetBulkState(ctx, &runtimev1pb.GetBulkStateRequest{StoreName: "statestore", Keys: []string{"k"}})
	want(err)
	_, err = env.client.SaveState(ctx, &runtimev1pb.SaveStateRequest{StoreName: "statestore"})
	want(err)
	_, err = env.client.DeleteState(ctx, &runtimev1pb.DeleteStateRequest{StoreName: "statestore", Key: "k"})
	want(err)
	_, err = env.client.DeleteBulkState(ctx, &runtimev1pb.DeleteBulkStateRequest{StoreName: "statestore"})
	want(err)
	_, err = env.client.ExecuteStateTransaction(ctx, &runtimev1pb.ExecuteStateTransactionRequest{StoreName: "statestore"})
	want(err)
	_, err = env.client.QueryStateAlpha1(ctx, &runtimev1pb.QueryStateRequest{StoreName: "statestore", Query: "{}"})
	want(err)
}

// TestBehaviours covers the per-RPC rules of state-grpc.md §4 not in the
// examples: empty requests, TTL metadata, raw transaction values, deletes.
func TestBehaviours(t *testing.T) {
	env := startEnv(t, "", entry("statestore", openStore(t, "statestore")))
	ctx := context.Background()

	if err := save(t, env); err != nil {
		t.Fatalf("SaveState with no items: %v", err)
	}
	if resp, err := env.client.GetBulkState(ctx, &runtimev1pb.GetBulkStateRequest{StoreName: "statestore"}); err != nil || len(resp.Items) != 0 {
		t.Fatalf("GetBulkState with no keys = %v, %v", resp, err)
	}

	before := time.Now().UTC().Truncate(time.Second)
	mustSave(t, env, &commonv1pb.StateItem{Key: "ttl", Value: []byte("v"), Metadata: map[string]string{"ttlInSeconds": "100"}})
	md := get(t, env, "ttl").Metadata
	exp, err := time.Parse(time.RFC3339, md["ttlExpireTime"])
	if err != nil || len(md) != 1 || !strings.HasSuffix(md["ttlExpireTime"], "Z") {
		t.Fatalf("GetState metadata = %v (%v), want one RFC 3339 UTC ttlExpireTime", md, err)
	}
	if exp.Before(before.Add(99*time.Second)) || exp.After(time.Now().Add(101*time.Second)) {
		t.Fatalf("ttlExpireTime %v is not 100 s after the write", exp)
	}
	bulk, err := env.client.GetBulkState(ctx, &runtimev1pb.GetBulkStateRequest{StoreName: "statestore", Keys: []string{"ttl"}})
	if err != nil || len(bulk.Items) != 1 || bulk.Items[0].Metadata["ttlExpireTime"] != md["ttlExpireTime"] {
		t.Fatalf("GetBulkState ttl = %v, %v", bulk, err)
	}

	// Transaction upserts store raw bytes even with contentType json;
	// top-level metadata does not set a TTL.
	_, err = env.client.ExecuteStateTransaction(ctx, &runtimev1pb.ExecuteStateTransactionRequest{StoreName: "statestore",
		Metadata: map[string]string{"ttlInSeconds": "100"},
		Operations: []*runtimev1pb.TransactionalStateOperation{
			{OperationType: "upsert", Request: &commonv1pb.StateItem{Key: "tx1", Value: []byte(`{"b": 1}`), Metadata: map[string]string{"contentType": "application/json"}}},
			{OperationType: "delete", Request: &commonv1pb.StateItem{Key: "ttl"}},
		}})
	if err != nil {
		t.Fatal(err)
	}
	if r := get(t, env, "tx1"); string(r.Data) != `{"b": 1}` || r.Metadata != nil {
		t.Fatalf("tx1 = %q %v, want raw bytes and no TTL", r.Data, r.Metadata)
	}
	if r := get(t, env, "ttl"); len(r.Data) != 0 {
		t.Fatalf("ttl not deleted by the transaction: %q", r.Data)
	}
	if _, err = env.client.ExecuteStateTransaction(ctx, &runtimev1pb.ExecuteStateTransactionRequest{StoreName: "statestore"}); err != nil {
		t.Fatalf("empty transaction: %v", err)
	}

	// ETag flow: the current ETag succeeds and changes the ETag; an empty
	// Etag value means none.
	mustSave(t, env, &commonv1pb.StateItem{Key: "e", Value: []byte("1")})
	e1 := get(t, env, "e").Etag
	mustSave(t, env, &commonv1pb.StateItem{Key: "e", Value: []byte("2"), Etag: &commonv1pb.Etag{Value: e1}})
	e2 := get(t, env, "e").Etag
	if e2 == e1 || e2 == "" {
		t.Fatalf("ETag not renewed by a write: %q -> %q", e1, e2)
	}
	mustSave(t, env, &commonv1pb.StateItem{Key: "e", Value: []byte("3"), Etag: &commonv1pb.Etag{}})
	e3 := get(t, env, "e").Etag
	if _, err := env.client.DeleteState(ctx, &runtimev1pb.DeleteStateRequest{StoreName: "statestore", Key: "e", Etag: &commonv1pb.Etag{Value: e3}}); err != nil {
		t.Fatalf("DeleteState with the current ETag: %v", err)
	}
	if r := get(t, env, "e"); len(r.Data) != 0 {
		t.Fatalf("e not deleted: %q", r.Data)
	}

	// Bulk delete, values ignored.
	mustSave(t, env, &commonv1pb.StateItem{Key: "d1", Value: []byte("1")}, &commonv1pb.StateItem{Key: "d2", Value: []byte("2")})
	if _, err := env.client.DeleteBulkState(ctx, &runtimev1pb.DeleteBulkStateRequest{StoreName: "statestore",
		States: []*commonv1pb.StateItem{{Key: "d1", Value: []byte("ignored")}, {Key: "d2"}, {Key: "never"}}}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"d1", "d2"} {
		if r := get(t, env, k); len(r.Data) != 0 {
			t.Fatalf("%s not deleted", k)
		}
	}
}

func TestMetadataAndShutdown(t *testing.T) {
	env := startEnv(t, "")
	ctx := context.Background()
	if _, err := env.client.SetMetadata(ctx, &runtimev1pb.SetMetadataRequest{Key: "", Value: "ignored"}); err != nil {
		t.Fatal(err)
	}
	if env.setKey != "" || env.setVal != "" {
		t.Fatalf("an empty key reached SetMetadata: %q=%q", env.setKey, env.setVal)
	}
	if _, err := env.client.SetMetadata(ctx, &runtimev1pb.SetMetadataRequest{Key: "k", Value: "v"}); err != nil {
		t.Fatal(err)
	}
	md, err := env.client.GetMetadata(ctx, &runtimev1pb.GetMetadataRequest{})
	if err != nil || md.Id != testApp || md.ExtendedMetadata["k"] != "v" {
		t.Fatalf("GetMetadata = %v, %v", md, err)
	}
	if _, err := env.client.Shutdown(ctx, &runtimev1pb.ShutdownRequest{}); err != nil {
		t.Fatal(err)
	}
	// The shutdown callback runs on its own goroutine; GracefulStop
	// returning proves the server itself drained.
	if err := env.srv.GracefulStop(ctx); err != nil {
		t.Fatal(err)
	}
	for env.shutdowns.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	if n := env.shutdowns.Load(); n != 1 {
		t.Fatalf("Shutdown callback ran %d times", n)
	}
}

func TestUnimplemented(t *testing.T) {
	env := startEnv(t, "")
	// PublishEvent is implemented: without pub/sub components it is
	// daprd's not-found error.
	_, err := env.client.PublishEvent(context.Background(), &runtimev1pb.PublishEventRequest{PubsubName: "p", Topic: "t"})
	wantStatus(t, err, codes.InvalidArgument, "pubsub p is not found", "ErrorInfo{dapr.io DAPR_PUBSUB_NOT_FOUND []}")
	st, err := env.client.SubscribeActorEventsAlpha1(context.Background())
	if err == nil {
		_, err = st.Recv()
	}
	wantStatus(t, err, codes.Unimplemented, "method SubscribeActorEventsAlpha1 not implemented")
	// The actor RPCs answer as daprd without a placement service.
	_, err = env.client.GetActorState(context.Background(), &runtimev1pb.GetActorStateRequest{ActorType: "t", ActorId: "i", Key: "k"})
	wantStatus(t, err, codes.Unavailable, "placement service is not configured")
	// InvokeBinding is implemented: without bindings it is daprd's error.
	_, err = env.client.InvokeBinding(context.Background(), &runtimev1pb.InvokeBindingRequest{Name: "b", Operation: "create"})
	wantStatus(t, err, codes.Internal, "error invoking output binding b: couldn't find output binding b", "ErrorInfo{dapr.io ERR_INVOKE_OUTPUT_BINDING []}")
}

// TestSecrets: GetSecret and GetBulkSecret with daprd's statuses, over a
// local.env store with a scope that denies one secret.
func TestSecrets(t *testing.T) {
	ctx := context.Background()
	env := startEnv(t, "")
	_, err := env.client.GetSecret(ctx, &runtimev1pb.GetSecretRequest{StoreName: "s", Key: "k"})
	wantStatus(t, err, codes.FailedPrecondition, "secret store is not configured")
	_, err = env.client.GetBulkSecret(ctx, &runtimev1pb.GetBulkSecretRequest{StoreName: "s"})
	wantStatus(t, err, codes.FailedPrecondition, "secret store is not configured")

	vars := map[string]string{"ONE": "1", "TWO": "2", "DAPR_API_TOKEN": "hidden"}
	store, err := secretstore.Open("secretstores.local.env", "v1", nil, secretstore.Options{
		Lookup:  func(k string) (string, bool) { v, ok := vars[k]; return v, ok },
		Environ: func() []string { return []string{"ONE=1", "TWO=2", "DAPR_API_TOKEN=hidden"} },
	})
	if err != nil {
		t.Fatal(err)
	}
	sec := api.NewSecrets(api.SecretsConfig{AppID: testApp, DisableMetrics: true, Stores: []api.SecretStore{
		{Name: "env", Store: store, Allowed: func(n string) bool { return n != "TWO" }}}})
	env = startEnvWith(t, "", sec)
	res, err := env.client.GetSecret(ctx, &runtimev1pb.GetSecretRequest{StoreName: "env", Key: "ONE"})
	if err != nil || len(res.GetData()) != 1 || res.GetData()["ONE"] != "1" {
		t.Fatalf("GetSecret(ONE) = %v, %v", res, err)
	}
	_, err = env.client.GetSecret(ctx, &runtimev1pb.GetSecretRequest{StoreName: "env", Key: "TWO"})
	wantStatus(t, err, codes.PermissionDenied, `access denied by policy to get "TWO" from "env"`)
	_, err = env.client.GetSecret(ctx, &runtimev1pb.GetSecretRequest{StoreName: "nope", Key: "ONE"})
	wantStatus(t, err, codes.InvalidArgument, "failed finding secret store with key nope")
	bulk, err := env.client.GetBulkSecret(ctx, &runtimev1pb.GetBulkSecretRequest{StoreName: "env"})
	if err != nil || len(bulk.GetData()) != 1 || bulk.GetData()["ONE"].GetSecrets()["ONE"] != "1" {
		t.Fatalf("GetBulkSecret = %v, %v; want ONE only (TWO denied, DAPR_* hidden)", bulk, err)
	}
}

func TestAPIToken(t *testing.T) {
	env := startEnv(t, "s3cret", entry("statestore", openStore(t, "statestore")))
	req := &runtimev1pb.GetStateRequest{StoreName: "statestore", Key: "k"}

	_, err := env.client.GetState(context.Background(), req)
	wantStatus(t, err, codes.Unauthenticated, "Unauthorized",
		"ErrorInfo{dapr.io Unauthorized [http.code=401 http.error_message=missing api token in request metadata]}")

	bad := metadata.AppendToOutgoingContext(context.Background(), "dapr-api-token", "wrong")
	_, err = env.client.GetState(bad, req)
	wantStatus(t, err, codes.Unauthenticated, "Unauthorized",
		"ErrorInfo{dapr.io Unauthorized [http.code=401 http.error_message=authentication error: api token mismatch]}")

	_, err = env.client.GetMetadata(bad, &runtimev1pb.GetMetadataRequest{})
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("GetMetadata without the token: %v", err)
	}

	good := metadata.AppendToOutgoingContext(context.Background(), "dapr-api-token", "s3cret")
	if _, err := env.client.GetState(good, req); err != nil {
		t.Fatalf("GetState with the token: %v", err)
	}
}

func TestMaxMessageSize(t *testing.T) {
	env := startEnv(t, "", entry("statestore", openStore(t, "statestore")))
	err := save(t, env, &commonv1pb.StateItem{Key: "big", Value: make([]byte, 65<<10)})
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("oversized SaveState: %v, want ResourceExhausted", err)
	}
	mustSave(t, env, &commonv1pb.StateItem{Key: "fits", Value: make([]byte, 60<<10)})
}

func TestStartErrors(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	st, _ := api.New(api.Config{AppID: testApp, DisableMetrics: true})
	srv, err := New(Config{Addrs: []string{l.Addr().String()}, State: st, DisableMetrics: true, Logger: quiet, Transport: testTransport})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err == nil || !strings.Contains(err.Error(), "could not listen on any endpoint") {
		t.Fatalf("Start on a used port: %v", err)
	}
	// One usable address out of two is enough, as in daprd.
	srv2, err := New(Config{Addrs: []string{l.Addr().String(), "127.0.0.1:0"}, State: st, DisableMetrics: true, Logger: quiet, Transport: testTransport})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv2.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv2.Stop()
	if n := len(srv2.Addrs()); n != 1 {
		t.Fatalf("Addrs = %d listeners, want 1", n)
	}
	if err := srv2.Start(); err == nil {
		t.Fatal("second Start succeeded")
	}
	if _, err := New(Config{}); err == nil {
		t.Fatal("New without State succeeded")
	}
}

func TestMetrics(t *testing.T) {
	env := startEnv(t, "", entry("statestore", openStore(t, "statestore")))
	// The server under test counts under app id myapp; other tests of this
	// package use the same id, so compare deltas.
	const getOK = `{app_id="myapp",grpc_server_method="/dapr.proto.runtime.v1.Dapr/GetState",grpc_server_status="OK"}`
	const saveAborted = `{app_id="myapp",grpc_server_method="/dapr.proto.runtime.v1.Dapr/SaveState",grpc_server_status="Aborted"}`
	const saveBytes = `{app_id="myapp",grpc_server_method="/dapr.proto.runtime.v1.Dapr/SaveState"}`
	count := func(name string) uint64 { return metrics.GetOrCreateCounter(name).Get() }
	getBefore := count(metricCompleted + getOK)
	abortedBefore := count(metricCompleted + saveAborted)

	mustSave(t, env, &commonv1pb.StateItem{Key: "m", Value: []byte("v")})
	for range 3 {
		get(t, env, "m")
	}
	err := save(t, env, &commonv1pb.StateItem{Key: "m", Value: []byte("v"), Etag: &commonv1pb.Etag{Value: "bad"}})
	if status.Code(err) != codes.Aborted {
		t.Fatal(err)
	}
	if d := count(metricCompleted+getOK) - getBefore; d != 3 {
		t.Fatalf("GetState OK counted %d times, want 3", d)
	}
	if d := count(metricCompleted+saveAborted) - abortedBefore; d != 1 {
		t.Fatalf("SaveState Aborted counted %d times, want 1", d)
	}

	var sb strings.Builder
	metrics.WritePrometheus(&sb, false)
	out := sb.String()
	for _, want := range []string{
		metricLatency + `_bucket{app_id="myapp",grpc_server_method="/dapr.proto.runtime.v1.Dapr/GetState",grpc_server_status="OK",le="1"}`,
		metricLatency + `_count` + getOK,
		metricRecvBytes + `_bucket{app_id="myapp",grpc_server_method="/dapr.proto.runtime.v1.Dapr/SaveState",le="1024"}`,
		metricSentBytes + `_count` + saveBytes,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics output lacks %s", want)
		}
	}
}

func TestAPIAccessLists(t *testing.T) {
	st, err := api.New(api.Config{AppID: testApp, Stores: []api.StoreEntry{entry("statestore", openStore(t, "statestore"))}, DisableMetrics: true})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{
		Addrs: []string{"127.0.0.1:0"}, State: st, AppID: testApp, APIToken: "tok", DisableMetrics: true, Logger: quiet, Transport: testTransport,
		APIAllowed: []APIRule{{Name: "state", Version: "v1", Protocol: "grpc"}, {Name: "metadata", Version: "v1", Protocol: "http"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	conn, err := grpc.NewClient(srv.Addrs()[0].String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := runtimev1pb.NewDaprClient(conn)
	ctx := metadata.AppendToOutgoingContext(context.Background(), "dapr-api-token", "tok")
	if _, err := c.GetState(ctx, &runtimev1pb.GetStateRequest{StoreName: "statestore", Key: "k"}); err != nil {
		t.Fatalf("allowed GetState: %v", err)
	}
	// Not allowed for gRPC (the metadata rule is for HTTP); the list is
	// checked before the token.
	_, err = c.GetMetadata(context.Background(), &runtimev1pb.GetMetadataRequest{})
	wantStatus(t, err, codes.Unimplemented, "Not Implemented",
		"ErrorInfo{dapr.io Not Implemented [http.code=501 http.error_message=requested endpoint is not available]}")

	if a := newACL(nil, []APIRule{{Name: "state", Version: "v1alpha1", Protocol: "grpc"}}); a.check("/dapr.proto.runtime.v1.Dapr/QueryStateAlpha1") == nil ||
		a.check("/dapr.proto.runtime.v1.Dapr/GetState") != nil || a.check("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo") != nil {
		t.Fatal("deny list: QueryStateAlpha1 must be denied, GetState and non-Dapr methods allowed")
	}
	if newACL([]APIRule{{Name: "state", Version: "v1", Protocol: "http"}}, nil) != nil {
		t.Fatal("HTTP-only rules must not create a gRPC access list")
	}
}

// TestQuery runs QueryStateAlpha1 on a store with QUERY_API.
func TestQuery(t *testing.T) {
	env := startEnv(t, "", entry("statestore", openStore(t, "statestore")))
	ctx := context.Background()
	js := map[string]string{"contentType": "application/json"}
	mustSave(t, env,
		&commonv1pb.StateItem{Key: "1", Value: []byte(`{"state":"WA","person":{"id":1036}}`), Metadata: js},
		&commonv1pb.StateItem{Key: "2", Value: []byte(`{"state":"OR","person":{"id":1028}}`), Metadata: js},
		&commonv1pb.StateItem{Key: "3", Value: []byte(`{"state":"WA","person":{"id":1071}}`), Metadata: js},
	)
	q := func(query string) (*runtimev1pb.QueryStateResponse, error) {
		return env.client.QueryStateAlpha1(ctx, &runtimev1pb.QueryStateRequest{StoreName: "statestore", Query: query})
	}
	resp, err := q(`{"filter":{"EQ":{"state":"WA"}},"sort":[{"key":"person.id","order":"DESC"}],"page":{"limit":1}}`)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Results) != 1 || resp.Results[0].Key != "3" || resp.Token != "1" || resp.Results[0].Etag == "" ||
		string(resp.Results[0].Data) != `{"person":{"id":1071},"state":"WA"}` {
		t.Fatalf("page 1 = %v", resp)
	}
	resp, err = q(`{"filter":{"EQ":{"state":"WA"}},"sort":[{"key":"person.id","order":"DESC"}],"page":{"limit":1,"token":"1"}}`)
	if err != nil || len(resp.Results) != 1 || resp.Results[0].Key != "1" {
		t.Fatalf("page 2 = %v, %v", resp, err)
	}
	resp, err = q(`{"filter":{"EQ":{"state":"NY"}}}`)
	if err != nil || len(resp.Results) != 0 || resp.Token != "" {
		t.Fatalf("no match = %v, %v", resp, err)
	}
	_, err = q(`{"filter":{"AND":[{"EQ":{"a":1}}]}}`)
	wantStatus(t, err, codes.Internal, "state store statestore query failed: failed to parse JSON query body: AND filter must contain at least two entries",
		"ResourceInfo{state statestore}", basicInfo("DAPR_STATE_QUERY_FAILED"))
	_, err = q(``)
	wantStatus(t, err, codes.Internal, "state store statestore query failed: failed to parse JSON query body: unexpected end of JSON input",
		"ResourceInfo{state statestore}", basicInfo("DAPR_STATE_QUERY_FAILED"))
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu  sync.Mutex // guards buf
	buf strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestAPILogging(t *testing.T) {
	var out syncBuffer
	st, err := api.New(api.Config{AppID: testApp, Stores: []api.StoreEntry{entry("statestore", openStore(t, "statestore"))}, DisableMetrics: true})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{Addrs: []string{"127.0.0.1:0"}, State: st, AppID: testApp, DisableMetrics: true, Logger: quiet, Transport: testTransport,
		APILogger: slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "duration" {
				return slog.Attr{}
			}
			return a
		}}))})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	conn, err := grpc.NewClient(srv.Addrs()[0].String(), grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithUserAgent("tester"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := runtimev1pb.NewDaprClient(conn)
	if _, err := c.GetState(context.Background(), &runtimev1pb.GetStateRequest{StoreName: "statestore", Key: "k"}); err != nil {
		t.Fatal(err)
	}
	_, _ = c.GetState(context.Background(), &runtimev1pb.GetStateRequest{StoreName: "nostore", Key: "k"})
	got := out.String()
	for _, want := range []string{
		`level=INFO msg="gRPC API Called" code=0 method=/dapr.proto.runtime.v1.Dapr/GetState useragent="tester grpc-go/`,
		`level=INFO msg="gRPC API Called" code=3 method=/dapr.proto.runtime.v1.Dapr/GetState useragent="tester grpc-go/`,
	} {
		if !strings.Contains(got, want) {
			t.Fatalf("API log lacks %q:\n%s", want, got)
		}
	}
}

func TestUnixSocket(t *testing.T) {
	st, _ := api.New(api.Config{AppID: testApp, DisableMetrics: true})
	sock := filepath.Join(t.TempDir(), "dapr-myapp-grpc.socket")
	srv, err := New(Config{UnixSocket: sock, Addrs: []string{"127.0.0.1:0"}, State: st, AppID: testApp, DisableMetrics: true, Logger: quiet, Transport: testTransport})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	if a := srv.Addrs(); len(a) != 1 || a[0].Network() != "unix" {
		t.Fatalf("Addrs = %v, want only the unix socket", a)
	}
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	md, err := runtimev1pb.NewDaprClient(conn).GetMetadata(context.Background(), &runtimev1pb.GetMetadataRequest{})
	if err != nil || md.Id != testApp {
		t.Fatalf("GetMetadata over the unix socket = %v, %v", md, err)
	}
}

// TestConcurrentFirstWrite: of concurrent first-write saves of one new key
// over gRPC, exactly one succeeds; the others are Aborted.
func TestConcurrentFirstWrite(t *testing.T) {
	env := startEnv(t, "", entry("statestore", openStore(t, "statestore")))
	const n = 16
	errs := make(chan error, n)
	var start sync.WaitGroup
	start.Add(1)
	for i := range n {
		go func() {
			start.Wait()
			errs <- save(t, env, &commonv1pb.StateItem{Key: "race", Value: []byte(strconv.Itoa(i)),
				Options: &commonv1pb.StateOptions{Concurrency: commonv1pb.StateOptions_CONCURRENCY_FIRST_WRITE}})
		}()
	}
	start.Done()
	var ok, aborted int
	for range n {
		switch err := <-errs; status.Code(err) {
		case codes.OK:
			ok++
		case codes.Aborted:
			aborted++
		default:
			t.Errorf("unexpected result: %v", err)
		}
	}
	if ok != 1 || aborted != n-1 {
		t.Fatalf("%d saves succeeded and %d were aborted, want 1 and %d", ok, aborted, n-1)
	}
}

// TestLargeValues round-trips a value larger than the flow-control windows
// and close to the default 4 MiB message limit.
func TestLargeValues(t *testing.T) {
	st, err := api.New(api.Config{AppID: testApp, Stores: []api.StoreEntry{entry("statestore", openStore(t, "statestore"))}, DisableMetrics: true})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{Addrs: []string{"127.0.0.1:0"}, State: st, AppID: testApp, DisableMetrics: true, Logger: quiet, Transport: testTransport})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	conn, err := grpc.NewClient(srv.Addrs()[0].String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(8<<20)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := runtimev1pb.NewDaprClient(conn)
	big := make([]byte, 4<<20-1024)
	for i := range big {
		big[i] = byte(i * 7)
	}
	ctx := context.Background()
	if _, err := c.SaveState(ctx, &runtimev1pb.SaveStateRequest{StoreName: "statestore", States: []*commonv1pb.StateItem{{Key: "big", Value: big}}}); err != nil {
		t.Fatal(err)
	}
	resp, err := c.GetState(ctx, &runtimev1pb.GetStateRequest{StoreName: "statestore", Key: "big"})
	if err != nil || !bytes.Equal(resp.Data, big) {
		t.Fatalf("GetState big: %d bytes, %v", len(resp.GetData()), err)
	}
	// Over the limit both ways: a request, and a response (two big values).
	_, err = c.SaveState(ctx, &runtimev1pb.SaveStateRequest{StoreName: "statestore", States: []*commonv1pb.StateItem{{Key: "big2", Value: make([]byte, 4<<20)}}})
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("5 MiB request: %v, want ResourceExhausted", err)
	}
	if _, err := c.SaveState(ctx, &runtimev1pb.SaveStateRequest{StoreName: "statestore", States: []*commonv1pb.StateItem{{Key: "big2", Value: big}}}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetBulkState(ctx, &runtimev1pb.GetBulkStateRequest{StoreName: "statestore", Keys: []string{"big", "big2"}})
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("8 MiB response: %v, want ResourceExhausted", err)
	}
}

// TestErrorCodeMetric: with recordErrorCodes on, every error a state RPC
// returns is counted once in dapr_error_code_total.
func TestErrorCodeMetric(t *testing.T) {
	api.SetTelemetry(api.Telemetry{AppID: "errapp", RecordErrorCodes: true})
	defer api.SetTelemetry(api.Telemetry{})
	env := startEnv(t, "", entry("statestore", openStore(t, "statestore")))
	name := `dapr_error_code_total{app_id="errapp",category="state",error_code="ERR_STATE_STORE_NOT_FOUND"}`
	before := metrics.GetOrCreateCounter(name).Get()
	for range 2 {
		_, err := env.client.GetState(context.Background(), &runtimev1pb.GetStateRequest{StoreName: "nostore", Key: "k"})
		if status.Code(err) != codes.InvalidArgument {
			t.Fatal(err)
		}
	}
	if d := metrics.GetOrCreateCounter(name).Get() - before; d != 2 {
		t.Fatalf("%s grew by %d, want 2", name, d)
	}

	// The errors daprd returns as they are (no error code: SaveState's JSON
	// decode error, GetBulkState's store failure) are not counted: daprd's
	// interceptor records only errors that carry one.
	env = startEnv(t, "", entry("statestore", openStore(t, "statestore")), entry("broken", broken{openStore(t, "broken")}))
	counted := map[string]uint64{}
	for _, code := range []string{"ERR_STATE_SAVE", "ERR_STATE_BULK_GET"} {
		counted[code] = metrics.GetOrCreateCounter(`dapr_error_code_total{app_id="errapp",category="state",error_code="` + code + `"}`).Get()
	}
	err := save(t, env, &commonv1pb.StateItem{Key: "j", Value: []byte("no"), Metadata: map[string]string{"contentType": "application/json"}})
	wantStatus(t, err, codes.Unknown, "invalid character 'o' in literal null (expecting 'u')")
	_, err = env.client.GetBulkState(context.Background(), &runtimev1pb.GetBulkStateRequest{StoreName: "broken", Keys: []string{"k"}})
	wantStatus(t, err, codes.Unknown, "disk on fire")
	for code, n := range counted {
		if d := metrics.GetOrCreateCounter(`dapr_error_code_total{app_id="errapp",category="state",error_code="`+code+`"}`).Get() - n; d != 0 {
			t.Fatalf("%s counted %d times for an error without an error code", code, d)
		}
	}
}

// blocking holds every Get until release is closed or the call's context
// ends; entered receives one value per Get that started.
type blocking struct {
	component.Store
	entered chan struct{}
	release chan struct{}
}

func (b blocking) Get(ctx context.Context, req *component.GetRequest, resp *component.GetResponse) error {
	b.entered <- struct{}{}
	select {
	case <-b.release:
		return b.Store.Get(ctx, req, resp)
	case <-ctx.Done():
		return ctx.Err()
	}
}

func TestGracefulStop(t *testing.T) {
	for _, expire := range []bool{false, true} {
		t.Run("expire="+strconv.FormatBool(expire), func(t *testing.T) {
			b := blocking{Store: openStore(t, "statestore"), entered: make(chan struct{}, 1), release: make(chan struct{})}
			env := startEnv(t, "", entry("statestore", b))
			rpcErr := make(chan error, 1)
			go func() {
				_, err := env.client.GetState(context.Background(), &runtimev1pb.GetStateRequest{StoreName: "statestore", Key: "k"})
				rpcErr <- err
			}()
			<-b.entered // the RPC is in flight
			ctx, cancel := context.WithCancel(context.Background())
			stopped := make(chan error, 1)
			go func() { stopped <- env.srv.GracefulStop(ctx) }()
			if expire {
				cancel() // the drain deadline passes: in-flight RPCs are cut
				if err := <-stopped; !errors.Is(err, context.Canceled) {
					t.Fatalf("GracefulStop = %v, want context.Canceled", err)
				}
				if err := <-rpcErr; err == nil {
					t.Fatal("the in-flight RPC succeeded after a forced stop")
				}
				return
			}
			defer cancel()
			// Wait until GracefulStop has closed the listener, so that the
			// RPC below finishes while the server is draining.
			for {
				c, err := net.Dial("tcp", env.srv.Addrs()[0].String())
				if err != nil {
					break
				}
				c.Close()
				time.Sleep(time.Millisecond)
			}
			select {
			case err := <-stopped:
				t.Fatalf("GracefulStop returned (%v) with an RPC in flight", err)
			default:
			}
			close(b.release) // the in-flight RPC finishes normally
			if err := <-rpcErr; err != nil {
				t.Fatalf("in-flight RPC during GracefulStop: %v", err)
			}
			if err := <-stopped; err != nil {
				t.Fatalf("GracefulStop = %v", err)
			}
			// No new calls are accepted afterwards.
			if _, err := env.client.GetMetadata(context.Background(), &runtimev1pb.GetMetadataRequest{}); status.Code(err) != codes.Unavailable {
				t.Fatalf("call after GracefulStop: %v, want Unavailable", err)
			}
		})
	}
}

func TestForceShutdown(t *testing.T) {
	env := startEnv(t, "")
	ctx := metadata.AppendToOutgoingContext(context.Background(), "dapr-force-shutdown", "TRUE")
	if _, err := env.client.Shutdown(ctx, &runtimev1pb.ShutdownRequest{}); err != nil {
		t.Fatal(err)
	}
	<-env.forced
	if n := env.shutdowns.Load(); n != 0 {
		t.Fatalf("a forced shutdown also ran the graceful one (%d)", n)
	}
	// "false" is a graceful shutdown.
	ctx = metadata.AppendToOutgoingContext(context.Background(), "dapr-force-shutdown", "false")
	if _, err := env.client.Shutdown(ctx, &runtimev1pb.ShutdownRequest{}); err != nil {
		t.Fatal(err)
	}
	for env.shutdowns.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	select {
	case <-env.forced:
		t.Fatal("dapr-force-shutdown: false forced an exit")
	default:
	}
}

// TestGracefulStopDeliversLastReply: a Shutdown RPC whose callback stops
// the server at once (as the sidecar does) still gets its OK. The stream
// leaves the table when its trailers are queued, before they are written;
// GracefulStop must write them before closing the connection. A test hook
// widens that window, so the test fails every time without the fix.
func TestGracefulStopDeliversLastReply(t *testing.T) {
	st, err := api.New(api.Config{AppID: testApp, DisableMetrics: true})
	if err != nil {
		t.Fatal(err)
	}
	// Widen the window between queueing the reply and writing it, so that
	// GracefulStop (started by the Shutdown callback) runs inside it.
	testHookReplied = func() { time.Sleep(20 * time.Millisecond) }
	defer func() { testHookReplied = nil }()
	for i := 0; i < 10; i++ {
		var srv *Server
		ready := make(chan struct{})
		stopped := make(chan error, 1)
		cfg := Config{Addrs: []string{"127.0.0.1:0"}, State: st, AppID: testApp, MaxMsgSize: 64 << 10,
			Logger: quiet, Transport: testTransport,
			Shutdown: func() {
				<-ready
				stopped <- srv.GracefulStop(context.Background())
			}}
		var conn *grpc.ClientConn
		srv, conn = serveAndDial(t, cfg)
		close(ready)
		if _, err := runtimev1pb.NewDaprClient(conn).Shutdown(context.Background(), &runtimev1pb.ShutdownRequest{}); err != nil {
			t.Fatalf("run %d: Shutdown: %v", i, err)
		}
		if err := <-stopped; err != nil {
			t.Fatalf("run %d: GracefulStop: %v", i, err)
		}
		_ = conn.Close()
	}
}
