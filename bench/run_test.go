package bench

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

func TestRunClosedLoopAgainstTrivial(t *testing.T) {
	s, err := ServeTrivial("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mix, _ := ParseMix("get:50,save:20,msave:10,bulk:10,tx:5,query:3,delete:2")
	var begins, ends int
	res, err := Run(t.Context(), Config{
		Target: s.Addr(), Mix: mix, Conns: 4, Duration: 200 * time.Millisecond, Warmup: 50 * time.Millisecond,
		Size: 64, Keys: 1000, Dist: DistZipf, Preload: true, Label: "trivial",
		OnMeasure: func(begin bool) {
			if begin {
				begins++
			} else {
				ends++
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests == 0 || res.Errors != 0 || res.Status["204"] != res.Requests {
		t.Fatalf("requests %d, errors %d, status %v", res.Requests, res.Errors, res.Status)
	}
	if begins != 1 || ends != 1 {
		t.Fatalf("OnMeasure called %d/%d times", begins, ends)
	}
	if res.Throughput != float64(res.Requests)/0.2 || res.Latency.P50 <= 0 || res.Latency.P99 < res.Latency.P50 {
		t.Fatalf("throughput %v, latency %+v", res.Throughput, res.Latency)
	}
	if res.System != "trivial" || res.Workload != mix.String() || res.Conns != 4 || res.Dist != "zipf" {
		t.Fatalf("result header %+v", res)
	}
}

func TestRunOpenLoopSendsAtRate(t *testing.T) {
	s, err := ServeTrivial("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mix, _ := ParseMix("get")
	// 2000 req/s for 250 ms = 500 planned requests; the open loop never
	// sends more than planned, and any it could not send in time (a slow
	// machine) are counted as unsent.
	res, err := Run(t.Context(), Config{Target: s.Addr(), Mix: mix, Conns: 3, Rate: 2000, Duration: 250 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests+res.Unsent != 500 || res.Status["unsent"] != res.Unsent || res.Errors != res.Unsent {
		t.Fatalf("open loop: %d sent + %d unsent (errors %d), want the 500 planned", res.Requests, res.Unsent, res.Errors)
	}
	// Service time is measured from the actual send: never above the
	// latency from the planned send at any quantile.
	if res.Service == nil || res.Service.P50 <= 0 || res.Service.P50 > res.Latency.P50 || res.Service.Max > res.Latency.Max {
		t.Fatalf("service %+v, latency %+v", res.Service, res.Latency)
	}
	closed, err := Run(t.Context(), Config{Target: s.Addr(), Mix: mix, Conns: 1, Duration: 50 * time.Millisecond})
	if err != nil || closed.Service != nil {
		t.Fatalf("closed loop: service %+v, %v; want none (latency is the service time)", closed.Service, err)
	}
}

func TestRunReportsErrorStatusesAndDialFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	mix, _ := ParseMix("get")
	if _, err := Run(t.Context(), Config{Target: addr, Mix: mix, Duration: 50 * time.Millisecond}); err == nil {
		t.Fatal("Run against a closed port succeeded")
	}
	if _, err := Run(t.Context(), Config{Target: addr, Proto: "udp", Mix: mix}); err == nil {
		t.Fatal("unknown proto accepted")
	}
}

// fakeDapr is a gRPC State API that counts calls and fails deletes.
type fakeDapr struct {
	runtimev1pb.UnimplementedDaprServer
	mu    sync.Mutex
	saves int
	items int
}

func (f *fakeDapr) GetState(context.Context, *runtimev1pb.GetStateRequest) (*runtimev1pb.GetStateResponse, error) {
	return &runtimev1pb.GetStateResponse{Data: []byte(`"v"`), Etag: "1"}, nil
}

func (f *fakeDapr) SaveState(_ context.Context, r *runtimev1pb.SaveStateRequest) (*emptypb.Empty, error) {
	f.mu.Lock()
	f.saves++
	f.items += len(r.States)
	f.mu.Unlock()
	return &emptypb.Empty{}, nil
}

func (f *fakeDapr) DeleteState(context.Context, *runtimev1pb.DeleteStateRequest) (*emptypb.Empty, error) {
	return nil, status.Error(codes.Aborted, "etag mismatch")
}

func TestRunGRPC(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	fake := &fakeDapr{}
	runtimev1pb.RegisterDaprServer(srv, fake)
	go func() { _ = srv.Serve(ln) }()
	defer srv.Stop()

	mix, _ := ParseMix("get:2,delete:1")
	res, err := Run(t.Context(), Config{
		Target: ln.Addr().String(), Proto: "grpc", Mix: mix, Conns: 3, Channels: 2,
		Duration: 200 * time.Millisecond, Keys: 250, Preload: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	ok, aborted := res.Status["grpc:OK"], res.Status["grpc:Aborted"]
	if ok == 0 || aborted == 0 || ok+aborted != res.Requests || res.Errors != aborted {
		t.Fatalf("status %v, requests %d, errors %d", res.Status, res.Requests, res.Errors)
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if fake.items != 250 || fake.saves != 3 { // preload: 100 + 100 + 50
		t.Fatalf("preload saved %d items in %d requests, want 250 in 3", fake.items, fake.saves)
	}
}

func TestRunAgainstTrivialGRPC(t *testing.T) {
	s, addr, err := ServeTrivialGRPC("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	mix, _ := ParseMix("get:3,save:1,msave:1,bulk:1,tx:1,query:1,delete:1")
	res, err := Run(t.Context(), Config{Target: addr, Proto: "grpc", Mix: mix, Conns: 2, Duration: 150 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests == 0 || res.Errors != 0 || res.Status["grpc:OK"] != res.Requests {
		t.Fatalf("requests %d, errors %d, status %v", res.Requests, res.Errors, res.Status)
	}
}
