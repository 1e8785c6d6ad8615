package appchannel

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	commonv1pb "github.com/dapr/dapr/pkg/proto/common/v1"
	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/statecar/statecar/api"
)

func channelFor(t *testing.T, srv *httptest.Server, token string) *Channel {
	t.Helper()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	return New(Config{Port: p, Token: token})
}

func TestHTTPSubscriptions(t *testing.T) {
	var gotHdr http.Header
	body := `[{"pubsubname":"ps","topic":"a","route":"/a","metadata":{"rawPayload":"true"},"deadLetterTopic":"dl"},
	          {"pubsubname":"ps","topic":"b","routes":{"rules":[{"match":"event.type == \"x\"","path":"/x"}],"default":"/b"},"route":"/ignored"},
	          {"pubsubname":"ps","topic":"c"},
	          {"pubsubname":"ps","topic":"d","route":"/d","bulkSubscribe":{"enabled":true}}]`
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/dapr/subscribe" {
			t.Errorf("%s %s", r.Method, r.URL.Path)
		}
		gotHdr = r.Header.Clone()
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	defer srv.Close()
	app := channelFor(t, srv, "apptoken").PubSub("myapp")
	subs, err := app.Subscriptions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if gotHdr.Get("dapr-app-id") != "myapp" || gotHdr.Get("Content-Type") != "application/json" || gotHdr.Get("dapr-api-token") != "apptoken" {
		t.Fatalf("headers %v", gotHdr)
	}
	// "c" has no route at all: returned without rules (the subscriber
	// drops it, as daprd's filterSubscriptions).
	if len(subs) != 4 || subs[2].Topic != "c" || len(subs[2].Rules) != 0 {
		t.Fatalf("%+v", subs)
	}
	a, b, d := subs[0], subs[1], subs[3]
	if a.Topic != "a" || len(a.Rules) != 1 || a.Rules[0].Path != "/a" || a.Rules[0].Match != nil || a.Metadata["rawPayload"] != "true" || a.DeadLetterTopic != "dl" {
		t.Fatalf("a: %+v", a)
	}
	if len(b.Rules) != 2 || b.Rules[0].Path != "/x" || b.Rules[0].Match.String() != `event.type == "x"` || b.Rules[1].Path != "/b" {
		t.Fatalf("b: %+v", b)
	}
	if !d.BulkSubscribe {
		t.Fatalf("d: %+v", d)
	}

	status, body = http.StatusNotFound, "no"
	if subs, err := app.Subscriptions(context.Background()); err != nil || len(subs) != 0 {
		t.Fatalf("404: %v %v", subs, err)
	}
	status, body = http.StatusOK, ""
	if subs, err := app.Subscriptions(context.Background()); err != nil || len(subs) != 0 {
		t.Fatalf("empty: %v %v", subs, err)
	}
	status, body = http.StatusOK, "{"
	if _, err := app.Subscriptions(context.Background()); err == nil {
		t.Fatal("bad JSON accepted")
	}
	status, body = http.StatusOK, `[{"pubsubname":"ps","topic":"a","routes":{"rules":[{"match":"event.type ==","path":"/x"}]}}]`
	if _, err := app.Subscriptions(context.Background()); err == nil {
		t.Fatal("bad match expression accepted")
	}
	status = http.StatusInternalServerError
	if _, err := app.Subscriptions(context.Background()); err == nil {
		t.Fatal("500 accepted")
	}
}

func TestHTTPDeliverOutcomes(t *testing.T) {
	var mu sync.Mutex
	var last *http.Request
	var lastBody []byte
	answer := func(w http.ResponseWriter) {}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		last, lastBody = r, b
		mu.Unlock()
		answer(w)
	}))
	defer srv.Close()
	app := channelFor(t, srv, "").PubSub("myapp")
	ev := &api.TopicEvent{PubsubName: "ps", Topic: "t", Path: "orders", Data: []byte(`{"id":"1"}`),
		CloudEvent: map[string]any{"id": "1"}, Metadata: map[string]string{"pubsubName": "ps", "rawpayload": "true", "content-type": "x/y"}}
	tests := []struct {
		status int
		body   string
		want   api.Outcome
	}{
		{200, "", api.OutcomeSuccess},
		{204, "", api.OutcomeSuccess},
		{200, "not json", api.OutcomeSuccess},
		{200, `{"status":"SUCCESS"}`, api.OutcomeSuccess},
		{200, `{"status":""}`, api.OutcomeSuccess},
		{200, `{"status":"RETRY"}`, api.OutcomeRetry},
		{200, `{"status":"DROP"}`, api.OutcomeDrop},
		{200, `{"status":"drop"}`, api.OutcomeRetry}, // case-sensitive
		{200, `{"status":"MAYBE"}`, api.OutcomeRetry},
		{404, "", api.OutcomeDropNotFound},
		{500, "", api.OutcomeRetry},
		{301, "", api.OutcomeRetry},
	}
	for _, tt := range tests {
		answer = func(w http.ResponseWriter) {
			w.WriteHeader(tt.status)
			_, _ = io.WriteString(w, tt.body)
		}
		got, err := app.DeliverTopicEvent(context.Background(), ev)
		if got != tt.want {
			t.Errorf("%d %q: %v (%v), want %v", tt.status, tt.body, got, err, tt.want)
		}
		if (got == api.OutcomeRetry || got == api.OutcomeDropNotFound) != (err != nil) {
			t.Errorf("%d %q: err %v with outcome %v", tt.status, tt.body, err, got)
		}
	}
	mu.Lock()
	if last.Method != http.MethodPost || last.URL.Path != "/orders" || last.Header.Get("Content-Type") != "application/cloudevents+json" ||
		last.Header.Get("pubsubname") != "ps" || last.Header.Get("rawpayload") != "true" || string(lastBody) != `{"id":"1"}` {
		t.Errorf("request %s %s %v %s", last.Method, last.URL, last.Header, lastBody)
	}
	mu.Unlock()
	srv.Close()
	if got, err := app.DeliverTopicEvent(context.Background(), ev); got != api.OutcomeRetry || err == nil {
		t.Errorf("app down: %v %v", got, err)
	}
}

// topicApp is a gRPC app.
type topicApp struct {
	runtimev1pb.UnimplementedAppCallbackServer
	mu     sync.Mutex
	got    []*runtimev1pb.TopicEventRequest
	md     []metadata.MD
	status runtimev1pb.TopicEventResponse_TopicEventResponseStatus
	err    error
	list   func() (*runtimev1pb.ListTopicSubscriptionsResponse, error)
}

func (a *topicApp) OnTopicEvent(ctx context.Context, in *runtimev1pb.TopicEventRequest) (*runtimev1pb.TopicEventResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.got = append(a.got, in)
	a.md = append(a.md, md)
	if a.err != nil {
		return nil, a.err
	}
	return &runtimev1pb.TopicEventResponse{Status: a.status}, nil
}

func (a *topicApp) ListTopicSubscriptions(context.Context, *emptypb.Empty) (*runtimev1pb.ListTopicSubscriptionsResponse, error) {
	return a.list()
}

func (a *topicApp) OnInvoke(context.Context, *commonv1pb.InvokeRequest) (*commonv1pb.InvokeResponse, error) {
	return &commonv1pb.InvokeResponse{}, nil
}

func startGRPCApp(t *testing.T, impl runtimev1pb.AppCallbackServer) *Channel {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	runtimev1pb.RegisterAppCallbackServer(gs, impl)
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)
	c := New(Config{Protocol: "grpc", Port: lis.Addr().(*net.TCPAddr).Port, Token: "tok"})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestGRPCSubscriptionsAndDelivery(t *testing.T) {
	impl := &topicApp{list: func() (*runtimev1pb.ListTopicSubscriptionsResponse, error) {
		return &runtimev1pb.ListTopicSubscriptionsResponse{Subscriptions: []*runtimev1pb.TopicSubscription{
			{PubsubName: "ps", Topic: "a", DeadLetterTopic: "dl", Metadata: map[string]string{"k": "v"}},
			{PubsubName: "ps", Topic: "b", Routes: &runtimev1pb.TopicRoutes{Rules: []*runtimev1pb.TopicRule{{Match: `event.type == "x"`, Path: "/x"}}, Default: "/b"}},
		}}, nil
	}}
	c := startGRPCApp(t, impl)
	app := c.PubSub("myapp")
	if err := app.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	subs, err := app.Subscriptions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// No routes: one rule with an empty path (daprd's parseRoutingRulesGRPC).
	if len(subs) != 2 || len(subs[0].Rules) != 1 || subs[0].Rules[0].Path != "" || subs[0].DeadLetterTopic != "dl" ||
		len(subs[1].Rules) != 2 || subs[1].Rules[1].Path != "/b" {
		t.Fatalf("%+v", subs)
	}
	impl.list = func() (*runtimev1pb.ListTopicSubscriptionsResponse, error) {
		return nil, status.Error(codes.Unimplemented, "no")
	}
	if subs, err := app.Subscriptions(context.Background()); err != nil || subs != nil {
		t.Fatalf("unimplemented: %v %v", subs, err)
	}

	data := []byte(`{"data":{"big":12345678901234567890},"datacontenttype":"application/json","id":"e1","source":"src","specversion":"1.0","type":"t","topic":"orders","pubsubname":"ps","traceid":"","custom":"c"}`)
	var ce map[string]any
	_ = json.Unmarshal(data, &ce)
	ev := &api.TopicEvent{PubsubName: "ps", Topic: "orders", Path: "/x", Data: data, CloudEvent: ce,
		Metadata: map[string]string{"pubsubName": "ps", "k": "v"}}
	for _, tt := range []struct {
		status runtimev1pb.TopicEventResponse_TopicEventResponseStatus
		err    error
		want   api.Outcome
	}{
		{runtimev1pb.TopicEventResponse_SUCCESS, nil, api.OutcomeSuccess},
		{runtimev1pb.TopicEventResponse_RETRY, nil, api.OutcomeRetry},
		{runtimev1pb.TopicEventResponse_DROP, nil, api.OutcomeDrop},
		{0, status.Error(codes.Unimplemented, "x"), api.OutcomeIgnored},
		{0, status.Error(codes.Internal, "x"), api.OutcomeRetry},
	} {
		impl.mu.Lock()
		impl.status, impl.err = tt.status, tt.err
		impl.mu.Unlock()
		if got, _ := app.DeliverTopicEvent(context.Background(), ev); got != tt.want {
			t.Errorf("%v %v: %v, want %v", tt.status, tt.err, got, tt.want)
		}
	}
	impl.mu.Lock()
	defer impl.mu.Unlock()
	in := impl.got[0]
	if in.GetId() != "e1" || in.GetSource() != "src" || in.GetType() != "t" || in.GetSpecVersion() != "1.0" ||
		in.GetDataContentType() != "application/json" || in.GetTopic() != "orders" || in.GetPubsubName() != "ps" || in.GetPath() != "/x" {
		t.Errorf("envelope %v", in)
	}
	// JSON data keeps its digits; the rest of the envelope is extensions.
	if string(in.GetData()) != `{"big":12345678901234567890}` {
		t.Errorf("data %s", in.GetData())
	}
	ext := in.GetExtensions().AsMap()
	if ext["custom"] != "c" || ext["topic"] != "orders" || ext["id"] != nil || ext["data"] != nil {
		t.Errorf("extensions %v", ext)
	}
	md := impl.md[0]
	if md.Get("pubsubname")[0] != "ps" || md.Get("k")[0] != "v" || md.Get("dapr-api-token")[0] != "tok" {
		t.Errorf("metadata %v", md)
	}
}

func TestTopicEventRequestData(t *testing.T) {
	for _, tt := range []struct {
		ce   map[string]any
		want string
		err  bool
	}{
		{map[string]any{"datacontenttype": "text/plain", "data": "hi"}, "hi", false},
		{map[string]any{"datacontenttype": "text/plain", "data": 5.0}, "", true},
		{map[string]any{"data_base64": "aGk="}, "hi", false},
		{map[string]any{"data_base64": 1.0}, "", true},
		{map[string]any{"data_base64": "%%"}, "", true},
		{map[string]any{"datacontenttype": "application/octet-stream", "data": "x"}, "", false},
	} {
		req, err := TopicEventRequest(&api.TopicEvent{CloudEvent: tt.ce, Metadata: map[string]string{}})
		if (err != nil) != tt.err || (err == nil && string(req.GetData()) != tt.want) {
			t.Errorf("%v: %v %v", tt.ce, req, err)
		}
	}
}
