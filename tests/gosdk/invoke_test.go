package gosdk

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"

	dapr "github.com/dapr/go-sdk/client"
	"github.com/dapr/go-sdk/service/common"
	daprgrpc "github.com/dapr/go-sdk/service/grpc"
	daprhttp "github.com/dapr/go-sdk/service/http"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestServiceInvocationSDK: the Go SDK's InvokeMethod, InvokeMethodWithContent
// and InvokeMethodWithCustomContent (the InvokeService RPC) reach a handler
// added with AddServiceInvocationHandler on the SDK's gRPC and HTTP app
// services, through the sidecar of the same app id; the handler's data
// and content type come back, and an unknown method is the app's error.
func TestServiceInvocationSDK(t *testing.T) {
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
			if err := svc.AddServiceInvocationHandler("/echo", func(_ context.Context, in *common.InvocationEvent) (*common.Content, error) {
				return &common.Content{ContentType: "text/plain",
					Data: []byte(in.Verb + " " + in.QueryString + " " + in.ContentType + " " + string(in.Data))}, nil
			}); err != nil {
				t.Fatal(err)
			}
			go func() {
				if err := svc.Start(); err != nil && !errors.Is(err, http.ErrServerClosed) {
					t.Errorf("app service: %v", err)
				}
			}()
			t.Cleanup(func() { _ = svc.GracefulStop() })
			sc := startSidecarArgs(t, "", []string{"--app-port", strconv.Itoa(port), "--app-protocol", proto})
			c := newClient(t, sc)
			ctx := context.Background()
			out, err := c.InvokeMethodWithContent(ctx, sc.AppID, "echo", "post", &dapr.DataContent{ContentType: "application/json", Data: []byte(`{"a":1}`)})
			if err != nil {
				t.Fatal(err)
			}
			if got := string(out); !strings.HasPrefix(got, "POST ") || !strings.HasSuffix(got, ` application/json {"a":1}`) {
				t.Fatalf("InvokeMethodWithContent: %q", got)
			}
			out, err = c.InvokeMethodWithCustomContent(ctx, sc.AppID, "echo", "put", "application/json", map[string]int{"n": 2})
			if err != nil || !strings.HasSuffix(string(out), `{"n":2}`) {
				t.Fatalf("InvokeMethodWithCustomContent: %q %v", out, err)
			}
			out, err = c.InvokeMethod(ctx, sc.AppID, "echo", "get")
			if err != nil || !strings.HasPrefix(string(out), "GET ") {
				t.Fatalf("InvokeMethod: %q %v", out, err)
			}
			_, err = c.InvokeMethod(ctx, sc.AppID, "nothing-here", "get")
			if err == nil {
				t.Fatal("an unknown method succeeded")
			}
			// The HTTP service answers 404 (NotFound); the gRPC service an
			// error status of its own.
			if proto == "http" && status.Code(err) != codes.NotFound {
				t.Fatalf("unknown method: %v", err)
			}
			_, err = c.InvokeMethod(ctx, "someone-else", "echo", "get")
			if st := status.Convert(err); st.Code() != codes.Internal || st.Message() != "failed to invoke, id: someone-else, err: couldn't find service: someone-else" {
				t.Fatalf("other app: %v", err)
			}
		})
	}
}
