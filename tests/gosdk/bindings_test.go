package gosdk

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/dapr/go-sdk/service/common"
	daprgrpc "github.com/dapr/go-sdk/service/grpc"
	daprhttp "github.com/dapr/go-sdk/service/http"
)

// TestInputBindingSDK: a bindings.cron input binding reaches the Go SDK's
// gRPC and HTTP app services through AddBindingInvocationHandler (their
// ListInputBindings and OPTIONS answers are how statecar learns that the
// app takes the binding), with the tick's metadata.
func TestInputBindingSDK(t *testing.T) {
	for _, proto := range []string{"grpc", "http"} {
		t.Run(proto, func(t *testing.T) {
			lis, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			port := lis.Addr().(*net.TCPAddr).Port
			var svc common.Service
			if proto == "grpc" {
				svc = daprgrpc.NewServiceWithListener(lis)
			} else {
				_ = lis.Close()
				svc = daprhttp.NewService("127.0.0.1:" + strconv.Itoa(port))
			}
			got := make(chan *common.BindingEvent, 16)
			if err := svc.AddBindingInvocationHandler("tick", func(_ context.Context, in *common.BindingEvent) ([]byte, error) {
				got <- in
				return nil, nil
			}); err != nil {
				t.Fatal(err)
			}
			go func() {
				if err := svc.Start(); err != nil && !errors.Is(err, http.ErrServerClosed) {
					t.Errorf("app service: %v", err)
				}
			}()
			t.Cleanup(func() { _ = svc.GracefulStop() })
			extra := componentYAML("tick", "bindings.cron", map[string]string{"schedule": "@every 1s"}) + "---\n" +
				componentYAML("untaken", "bindings.cron", map[string]string{"schedule": "@every 1s"})
			sc := startSidecarArgs(t, extra, []string{"--app-port", strconv.Itoa(port), "--app-protocol", proto})
			for i := range 2 {
				select {
				case ev := <-got:
					if ev.Metadata["timeZone"] == "" && ev.Metadata["Timezone"] == "" {
						t.Errorf("event %d metadata %v", i, ev.Metadata)
					}
				case <-time.After(15 * time.Second):
					t.Fatalf("event %d not delivered", i)
				}
			}
			c := newClient(t, sc)
			md, err := c.GetMetadata(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			caps := map[string][]string{}
			for _, comp := range md.RegisteredComponents {
				caps[comp.Name] = comp.Capabilities
			}
			if len(caps["tick"]) != 1 || caps["tick"][0] != "INPUT_BINDING" {
				t.Errorf("capabilities %v", caps)
			}
		})
	}
}
