package grpcserver

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	commonv1pb "github.com/dapr/dapr/pkg/proto/common/v1"
	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"

	"github.com/statecar/statecar/api"
	"github.com/statecar/statecar/component"
	"github.com/statecar/statecar/internal/busypoll"
)

// remoteLike hides the in-memory store's InlineReader: to the servers it
// looks like a remote store, so that every RPC of it runs on a worker.
type remoteLike struct{ component.Store }

// startSpin serves one store (remote-looking when remote) on statecar's
// transport with the given SpinWorker.
func startSpin(t *testing.T, remote bool, spin time.Duration) (*Server, runtimev1pb.DaprClient) {
	t.Helper()
	var s component.Store = openStore(t, "statestore")
	if remote {
		s = remoteLike{s}
	}
	st, err := api.New(api.Config{AppID: testApp, Stores: []api.StoreEntry{entry("statestore", s)}, DisableMetrics: true})
	if err != nil {
		t.Fatal(err)
	}
	srv, conn := serveAndDial(t, Config{Addrs: []string{"127.0.0.1:0"}, State: st, AppID: testApp, MaxMsgSize: 1 << 20,
		DisableMetrics: true, Logger: quiet, Transport: TransportStatecar, SpinWorker: spin})
	return srv, runtimev1pb.NewDaprClient(conn)
}

// TestSpinWorkerDefaults: the transport's workers spin by default only
// when a store is remote; a negative SpinWorker turns it off, one above
// MaxSpinWorker fails New.
func TestSpinWorkerDefaults(t *testing.T) {
	for _, tc := range []struct {
		remote bool
		spin   time.Duration
		want   time.Duration
	}{
		{false, 0, 0},
		{true, 0, busypoll.DefaultBudget},
		{true, -1, 0},
		{false, time.Millisecond, time.Millisecond},
		{true, MaxSpinWorker, MaxSpinWorker},
	} {
		srv, _ := startSpin(t, tc.remote, tc.spin)
		if got := srv.h2.spinBudget; got != tc.want {
			t.Errorf("remote %v SpinWorker %v: budget %v, want %v", tc.remote, tc.spin, got, tc.want)
		}
		if (srv.h2.spin.Hits != nil) != (tc.want > 0) {
			t.Errorf("remote %v SpinWorker %v: counters registered %v", tc.remote, tc.spin, srv.h2.spin.Hits != nil)
		}
	}
	st, err := api.New(api.Config{AppID: testApp, Stores: []api.StoreEntry{entry("statestore", openStore(t, "statestore"))}, DisableMetrics: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{State: st, SpinWorker: MaxSpinWorker + 1}); err == nil {
		t.Fatal("New accepted SpinWorker above MaxSpinWorker")
	}
}

// TestSpinWorkerServes runs RPCs of a remote-looking store through
// workers that spin: one at a time (where the spinner takes most of them)
// and many at once. Every answer must be right, the spinner must have
// taken some RPCs, and the in-flight count must return to zero.
func TestSpinWorkerServes(t *testing.T) {
	srv, client := startSpin(t, true, MaxSpinWorker)
	ctx := context.Background()
	hits0 := srv.h2.spin.Hits.Get()
	for i := 0; i < 200; i++ {
		key, val := fmt.Sprintf("k%d", i), fmt.Sprintf(`"v%d"`, i)
		if _, err := client.SaveState(ctx, &runtimev1pb.SaveStateRequest{StoreName: "statestore",
			States: []*commonv1pb.StateItem{{Key: key, Value: []byte(val)}}}); err != nil {
			t.Fatalf("save %d: %v", i, err)
		}
		r, err := client.GetState(ctx, &runtimev1pb.GetStateRequest{StoreName: "statestore", Key: key})
		if err != nil || string(r.GetData()) != val {
			t.Fatalf("get %d: %q, %v", i, r.GetData(), err)
		}
	}
	if srv.h2.spin.Hits.Get() == hits0 {
		t.Fatal("400 sequential RPCs of a remote store, none taken by the spinning worker")
	}
	t.Logf("spinner took %d of 400 sequential RPCs", srv.h2.spin.Hits.Get()-hits0)

	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				key, val := fmt.Sprintf("g%d-%d", g, i), fmt.Sprintf(`"g%d"`, i)
				if _, err := client.SaveState(ctx, &runtimev1pb.SaveStateRequest{StoreName: "statestore",
					States: []*commonv1pb.StateItem{{Key: key, Value: []byte(val)}}}); err != nil {
					errs <- err
					return
				}
				r, err := client.GetState(ctx, &runtimev1pb.GetStateRequest{StoreName: "statestore", Key: key})
				if err != nil || string(r.GetData()) != val {
					errs <- fmt.Errorf("g%d get %d: %q, %v", g, i, r.GetData(), err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// A worker ends an RPC's count just after flushing its reply.
	for end := time.Now().Add(2 * time.Second); srv.h2.inflight.Load() != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("in-flight count %d after every RPC was answered", srv.h2.inflight.Load())
		}
	}
}
