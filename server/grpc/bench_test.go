package grpcserver

import (
	"context"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"

	commonv1pb "github.com/dapr/dapr/pkg/proto/common/v1"
	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/statecar/statecar/api"
)

// benchServer starts a server with metrics on over one in-memory store
// holding keys k0..k999 (100-byte values) and returns conns client
// connections.
func benchServer(tb testing.TB, conns int) (*daprAPI, []runtimev1pb.DaprClient) {
	tb.Helper()
	st, err := api.New(api.Config{AppID: "benchapp", Stores: []api.StoreEntry{entry("statestore", openStore(tb, "statestore"))}, DisableMetrics: true})
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := New(Config{Addrs: []string{"127.0.0.1:0"}, State: st, AppID: "benchapp", Logger: quiet, Transport: testTransport})
	if err != nil {
		tb.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(srv.Stop)
	val := make([]byte, 100)
	items := make([]api.Item, 1000)
	for i := range items {
		items[i] = api.Item{Key: "k" + strconv.Itoa(i), Value: val}
	}
	if e := st.Save(context.Background(), "statestore", items); e != nil {
		tb.Fatal(e)
	}
	var clients []runtimev1pb.DaprClient
	for range conns {
		conn, err := grpc.NewClient(srv.Addrs()[0].String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { _ = conn.Close() })
		clients = append(clients, runtimev1pb.NewDaprClient(conn))
	}
	return srv.dapr, clients
}

// runParallel runs op from 32 goroutines spread over the clients.
func runParallel(b *testing.B, clients []runtimev1pb.DaprClient, op func(c runtimev1pb.DaprClient, i int) error) {
	b.ReportAllocs()
	// RunParallel starts p*GOMAXPROCS goroutines; aim for 32 callers.
	p := max(1, 32/max(1, runtimeGOMAXPROCS()))
	b.SetParallelism(p)
	var next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		id := int(next.Add(1))
		c := clients[id%len(clients)]
		i := id * 7919
		for pb.Next() {
			i++
			if err := op(c, i); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkGRPC measures whole RPCs over loopback TCP (client included):
// 32 concurrent callers over 1 and 8 connections.
func BenchmarkGRPC(b *testing.B) {
	for _, conns := range []int{1, 8} {
		_, clients := benchServer(b, conns)
		name := "conns=" + strconv.Itoa(conns)
		b.Run("GetState/"+name, func(b *testing.B) {
			runParallel(b, clients, func(c runtimev1pb.DaprClient, i int) error {
				_, err := c.GetState(context.Background(), &runtimev1pb.GetStateRequest{StoreName: "statestore", Key: "k" + strconv.Itoa(i%1000)})
				return err
			})
		})
		val := make([]byte, 100)
		b.Run("SaveState/"+name, func(b *testing.B) {
			runParallel(b, clients, func(c runtimev1pb.DaprClient, i int) error {
				_, err := c.SaveState(context.Background(), &runtimev1pb.SaveStateRequest{StoreName: "statestore",
					States: []*commonv1pb.StateItem{{Key: "k" + strconv.Itoa(i%1000), Value: val}}})
				return err
			})
		})
	}
}

// BenchmarkHandler measures the server side only: interceptor (metrics)
// plus handler, without transport.
func BenchmarkHandler(b *testing.B) {
	d, _ := benchServer(b, 1)
	ic := &interceptor{metrics: newRPCMetrics("benchapp", nil)}
	info := &grpc.UnaryServerInfo{FullMethod: "/dapr.proto.runtime.v1.Dapr/GetState"}
	req := &runtimev1pb.GetStateRequest{StoreName: "statestore", Key: "k1"}
	h := func(ctx context.Context, r any) (any, error) {
		return d.GetState(ctx, r.(*runtimev1pb.GetStateRequest))
	}
	b.Run("GetState", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ic.unary(context.Background(), req, info, h); err != nil {
				b.Fatal(err)
			}
		}
	})
	sinfo := &grpc.UnaryServerInfo{FullMethod: "/dapr.proto.runtime.v1.Dapr/SaveState"}
	sreq := &runtimev1pb.SaveStateRequest{StoreName: "statestore", States: []*commonv1pb.StateItem{{Key: "k1", Value: make([]byte, 100)}}}
	sh := func(ctx context.Context, r any) (any, error) {
		return d.SaveState(ctx, r.(*runtimev1pb.SaveStateRequest))
	}
	b.Run("SaveState", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ic.unary(context.Background(), sreq, sinfo, sh); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestInterceptorAllocs: the interceptor (token check off, metrics on)
// adds no allocation to a call once its series exist.
func TestInterceptorAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector; the plain run asserts")
	}
	ic := &interceptor{metrics: newRPCMetrics("allocapp", nil)}
	info := &grpc.UnaryServerInfo{FullMethod: "/dapr.proto.runtime.v1.Dapr/GetState"}
	req := &runtimev1pb.GetStateRequest{StoreName: "statestore", Key: "k1"}
	resp := &runtimev1pb.GetStateResponse{Data: []byte("value"), Etag: "1"}
	h := func(context.Context, any) (any, error) { return resp, nil }
	ctx := context.Background()
	if _, err := ic.unary(ctx, req, info, h); err != nil { // creates the series
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(200, func() { _, _ = ic.unary(ctx, req, info, h) }); n != 0 {
		t.Fatalf("interceptor with metrics allocates %.1f times per call", n)
	}
	// With the token check on and a matching token in the metadata.
	ic.token = "tok"
	ctx = metadataCtx("tok")
	if n := testing.AllocsPerRun(200, func() {
		if _, err := ic.unary(ctx, req, info, h); err != nil {
			t.Fatal(err)
		}
	}); n > 1 {
		t.Fatalf("token check allocates %.1f times per call, want <= 1 (grpc-go copies the value slice)", n)
	}
}

func runtimeGOMAXPROCS() int { return runtime.GOMAXPROCS(0) }

// metadataCtx is a server-side context carrying the API token.
func metadataCtx(token string) context.Context {
	return metadata.NewIncomingContext(context.Background(), metadata.Pairs(apiTokenKey, token))
}

// TestHandlerAllocs gates what the handlers add to the api calls they
// wrap: GetState at most two allocations (the response message and the
// ETag string), SaveState of one item none.
func TestHandlerAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector; the plain run asserts")
	}
	d, _ := benchServer(t, 1)
	ctx := context.Background()
	getReq := &runtimev1pb.GetStateRequest{StoreName: "statestore", Key: "k1"}
	apiGet := testing.AllocsPerRun(200, func() {
		if _, e := d.state.Get(ctx, "statestore", "k1", "", nil); e != nil {
			t.Fatal(e)
		}
	})
	handlerGet := testing.AllocsPerRun(200, func() {
		if _, err := d.GetState(ctx, getReq); err != nil {
			t.Fatal(err)
		}
	})
	if extra := handlerGet - apiGet; extra > 2 {
		t.Fatalf("GetState handler adds %.1f allocations to api.Get (%.1f), want <= 2", extra, apiGet)
	}

	val := make([]byte, 100)
	saveReq := &runtimev1pb.SaveStateRequest{StoreName: "statestore", States: []*commonv1pb.StateItem{{Key: "k1", Value: val}}}
	items := []api.Item{{Key: "k1", Value: val}}
	apiSave := testing.AllocsPerRun(200, func() {
		if e := d.state.Save(ctx, "statestore", items); e != nil {
			t.Fatal(e)
		}
	})
	handlerSave := testing.AllocsPerRun(200, func() {
		if _, err := d.SaveState(ctx, saveReq); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("allocations: api.Get %.1f, GetState %.1f, api.Save %.1f, SaveState %.1f", apiGet, handlerGet, apiSave, handlerSave)
	// Engine allocations vary a little from run to run (group commit);
	// allow half an allocation of noise.
	if extra := handlerSave - apiSave; extra > 0.5 {
		t.Fatalf("SaveState handler adds %.1f allocations to api.Save (%.1f), want 0", extra, apiSave)
	}
}
