package appchannel

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	commonv1pb "github.com/dapr/dapr/pkg/proto/common/v1"
	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

func TestHTTPInputBindings(t *testing.T) {
	var mu sync.Mutex
	var last *http.Request
	var lastBody string
	optionsStatus, postStatus := 200, 200
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		last, lastBody = r, string(b)
		mu.Unlock()
		if r.Method == http.MethodOptions {
			w.WriteHeader(optionsStatus)
			return
		}
		w.WriteHeader(postStatus)
		_, _ = io.WriteString(w, "app says hi")
	}))
	defer srv.Close()
	app := channelFor(t, srv, "tok").Bindings()
	ctx := context.Background()
	for _, tt := range []struct {
		status int
		want   bool
	}{{200, true}, {204, true}, {405, true}, {404, false}, {500, false}} {
		optionsStatus = tt.status
		ok, err := app.InputBindingSubscribed(ctx, "tick", "/ticks")
		if err != nil || ok != tt.want {
			t.Errorf("OPTIONS %d: %v %v, want %v", tt.status, ok, err, tt.want)
		}
	}
	mu.Lock()
	if last.Method != http.MethodOptions || last.URL.Path != "/ticks" || last.Header.Get("dapr-api-token") != "tok" {
		t.Errorf("OPTIONS request %s %s %v", last.Method, last.URL, last.Header)
	}
	mu.Unlock()

	resp, err := app.DeliverBinding(ctx, "tick", "ticks", []byte(`{"a":1}`), map[string]string{"readTimeUTC": "now", "timeZone": "UTC"})
	if err != nil || string(resp.Body) != "app says hi" || len(resp.To) != 0 {
		t.Fatalf("deliver: %+v %v", resp, err)
	}
	mu.Lock()
	if last.Method != http.MethodPost || last.URL.Path != "/ticks" || last.Header.Get("Content-Type") != "application/json" ||
		last.Header.Get("readTimeUTC") != "now" || last.Header.Get("timeZone") != "UTC" || lastBody != `{"a":1}` {
		t.Errorf("POST %s %s %v %q", last.Method, last.URL, last.Header, lastBody)
	}
	mu.Unlock()
	postStatus = 500
	if _, err := app.DeliverBinding(ctx, "tick", "ticks", nil, nil); err == nil ||
		err.Error() != "fails to send binding event to http app channel, status code: 500 body: app says hi" {
		t.Fatalf("500: %v", err)
	}
	srv.Close()
	if _, err := app.InputBindingSubscribed(ctx, "tick", "/ticks"); err == nil {
		t.Fatal("OPTIONS to a dead app succeeded")
	}
}

// bindingApp is a gRPC app taking binding events.
type bindingApp struct {
	runtimev1pb.UnimplementedAppCallbackServer
	mu   sync.Mutex
	got  []*runtimev1pb.BindingEventRequest
	list func() (*runtimev1pb.ListInputBindingsResponse, error)
}

func (a *bindingApp) ListInputBindings(context.Context, *emptypb.Empty) (*runtimev1pb.ListInputBindingsResponse, error) {
	return a.list()
}

func (a *bindingApp) OnBindingEvent(_ context.Context, in *runtimev1pb.BindingEventRequest) (*runtimev1pb.BindingEventResponse, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.got = append(a.got, in)
	if in.GetName() == "fail" {
		return nil, status.Error(codes.Internal, "no")
	}
	return &runtimev1pb.BindingEventResponse{Data: []byte(`{"x":1}`), To: []string{"out"}, Concurrency: runtimev1pb.BindingEventResponse_PARALLEL,
		StoreName: "st", States: []*commonv1pb.StateItem{{Key: "k"}}}, nil
}

func TestGRPCInputBindings(t *testing.T) {
	calls := 0
	impl := &bindingApp{list: func() (*runtimev1pb.ListInputBindingsResponse, error) {
		calls++
		return &runtimev1pb.ListInputBindingsResponse{Bindings: []string{"tick"}}, nil
	}}
	c := startGRPCApp(t, impl)
	app := c.Bindings()
	ctx := context.Background()
	if ok, err := app.InputBindingSubscribed(ctx, "tick", "tick"); !ok || err != nil {
		t.Fatalf("tick: %v %v", ok, err)
	}
	if ok, _ := app.InputBindingSubscribed(ctx, "other", "other"); ok {
		t.Fatal("other subscribed")
	}
	if calls != 1 {
		t.Fatalf("ListInputBindings called %d times, want once", calls)
	}
	resp, err := app.DeliverBinding(ctx, "tick", "tick", []byte("d"), map[string]string{"k": "v"})
	if err != nil || string(resp.Body) != `{"x":1}` || len(resp.To) != 1 || !resp.Parallel || resp.StateStore != "st" {
		t.Fatalf("deliver: %+v %v", resp, err)
	}
	impl.mu.Lock()
	if in := impl.got[0]; in.GetName() != "tick" || string(in.GetData()) != "d" || in.GetMetadata()["k"] != "v" {
		t.Errorf("event %v", in)
	}
	impl.mu.Unlock()
	if _, err := app.DeliverBinding(ctx, "fail", "fail", nil, nil); err == nil {
		t.Fatal("a failing app succeeded")
	}
	// An app without ListInputBindings takes none.
	impl2 := &bindingApp{list: func() (*runtimev1pb.ListInputBindingsResponse, error) {
		return nil, status.Error(codes.Unimplemented, "")
	}}
	if ok, err := startGRPCApp(t, impl2).Bindings().InputBindingSubscribed(ctx, "tick", "tick"); ok || err != nil {
		t.Fatalf("unimplemented: %v %v", ok, err)
	}
}
