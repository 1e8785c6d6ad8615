package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	commonv1pb "github.com/dapr/dapr/pkg/proto/common/v1"
	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/statecar/statecar/internal/testutil"
)

// echoApp answers every request with what it received, as JSON-ish text
// the steps match: "METHOD /path?query|content-type|body|h=v;h=v" for the
// headers the test cares about. /status/{code} answers that code without
// a content type; /typed answers 201 with a type and a custom header.
func echoApp(t *testing.T, name string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var hs []string
		for _, h := range []string{"X-Custom", "Dapr-App-Id", "Dapr-Api-Token", "Authorization", "X-Ep", "Traceparent", "Connection-Token"} {
			if v := r.Header.Values(h); len(v) > 0 {
				hs = append(hs, strings.ToLower(h)+"="+strings.Join(v, ","))
			}
		}
		out := fmt.Sprintf("%s:%s %s|%s|%s|%s", name, r.Method, r.URL.RequestURI(), r.Header.Get("Content-Type"), b, strings.Join(hs, ";"))
		switch {
		case strings.HasPrefix(r.URL.Path, "/status/"):
			code, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/status/"))
			w.Header()["Content-Type"] = nil // no type, and no sniffing by net/http
			w.WriteHeader(code)
		case r.URL.Path == "/typed":
			w.Header().Set("Content-Type", "text/x-typed")
			w.Header().Set("X-Reply", "r1")
			w.Header().Set("Grpc-Thing", "g")
			w.WriteHeader(http.StatusCreated)
		case r.URL.Path == "/redirect":
			w.Header().Set("Location", "/elsewhere")
			w.WriteHeader(http.StatusFound)
		}
		_, _ = w.Write([]byte(out))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func portOf(srv *httptest.Server) string {
	return strconv.Itoa(srv.Listener.Addr().(*net.TCPAddr).Port)
}

// TestInvokeHTTPApp is service invocation on the binary with an HTTP app
// (other-building-blocks.md §3): the three ways of naming the target
// (path, dapr-app-id header, Basic authentication), the method, query,
// body, content type and headers forwarded, the app's status, headers and
// body returned verbatim (a failed answer without a type as JSON), an
// HTTPEndpoint resource with its headers (one from a secret store), an
// external URL, and daprd's errors.
func TestInvokeHTTPApp(t *testing.T) {
	app := echoApp(t, "app")
	ext := echoApp(t, "ext")
	dir := t.TempDir()
	testutil.WriteComponent(t, dir, "envsecrets", "secretstores.local.env", nil)
	testutil.WriteFile(t, dir, "endpoint.yaml", `apiVersion: dapr.io/v1alpha1
kind: HTTPEndpoint
metadata:
  name: extsvc
spec:
  baseUrl: `+ext.URL+`/base
  headers:
  - name: X-Ep
    value: plain
  - name: X-Custom
    secretKeyRef:
      name: INVOKE_TEST_SECRET
      key: INVOKE_TEST_SECRET
auth:
  secretStore: envsecrets
---
apiVersion: dapr.io/v1alpha1
kind: HTTPEndpoint
metadata:
  name: otherapp-only
spec:
  baseUrl: http://127.0.0.1:1
scopes: [someoneelse]
`)
	sc := testutil.Start(t, testutil.Options{AppID: "invapp", ResourcesDir: dir, Env: []string{"INVOKE_TEST_SECRET=from-secret"},
		ExtraArgs: []string{"--app-port", portOf(app)}})
	basic := "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("dapr-app-id:invapp"))
	extEsc := strings.ReplaceAll(strings.ReplaceAll(ext.URL, ":", "%3A"), "/", "%2F")
	runSteps(t, target{addr: sc.Addr(), sc: sc}, nil, []step{
		req("POST", "/v1.0/invoke/invapp/method/orders/1?x=1&y=%20", "hello", 200,
			"app:POST /orders/1?x=1&y=%20|text/plain|hello|x-custom=a,b", "Content-Type: text/plain; charset=utf-8").
			h("Content-Type: text/plain", "X-Custom: a", "X-Custom: b").note("path form; query as written; headers forwarded"),
		req("PUT", "/v1.0/invoke/invapp.default/method/n", "", 200, "app:PUT /n|||").note("app.namespace"),
		req("GET", "/some/path?q=1", "", 200, "app:GET /some/path?q=1|||").h("dapr-app-id: invapp").
			note("dapr-app-id header: the path is the method; the header is not forwarded"),
		req("DELETE", "/a//b/../c", "", 200, "app:DELETE /a/c|||authorization="+strings.TrimPrefix(basic, "Authorization: ")).h(basic).
			note("Basic authentication names the target; Authorization is forwarded"),
		req("PATCH", "/v1.0/invoke/invapp/method/typed", "{}", 201, "app:PATCH /typed|application/json|{}|",
			"Content-Type: text/x-typed", "X-Reply: r1", "Dapr-Grpc-Thing: g", "!Grpc-Thing").h("Content-Type: application/json").
			note("status, type and headers returned; grpc-* prefixed"),
		req("GET", "/v1.0/invoke/invapp/method/status/418", "", 418, "app:GET /status/418|||", "Content-Type: application/json").
			note("a failed answer without a type is JSON (daprd's raw error response)"),
		req("GET", "/v1.0/invoke/invapp/method/status/204", "", 204, "", "!Content-Type"),
		req("GET", "/v1.0/invoke/invapp/method/redirect", "", 302, "app:GET /redirect|||", "Location: /elsewhere").
			note("redirects are not followed"),
		req("GET", "/v1.0/invoke/extsvc/method/m?z=9", "", 200, "ext:GET /base/m?z=9|||x-custom=from-secret;x-ep=plain").h("X-Custom: caller").
			note("HTTPEndpoint: base URL, its headers replace the caller's"),
		req("POST", "/v1.0/invoke/"+extEsc+"/method/x", "b", 200, "ext:POST /x||b|x-custom=c").h("X-Custom: c").
			note("external URL, escaped"),
		req("GET", "/v1.0/invoke/otherapp-only/method/x", "", 500,
			`{"errorCode":"ERR_DIRECT_INVOKE","message":"failed to invoke, id: otherapp-only, err: couldn't find service: otherapp-only"}`).
			note("an endpoint scoped to another app is not loaded"),
		req("GET", "/v1.0/invoke/nobody/method/x", "", 500,
			`{"errorCode":"ERR_DIRECT_INVOKE","message":"failed to invoke, id: nobody, err: couldn't find service: nobody"}`, "Content-Type: application/json"),
		req("GET", "/v1.0/invoke/a.b.c/method/x", "", 500,
			`{"errorCode":"ERR_DIRECT_INVOKE","message":"failed to invoke, id: a.b.c, err: invalid app id a.b.c"}`),
		req("GET", "/v1.0/invoke/invapp/method/a%3Fb", "", 500,
			`{"errorCode":"ERR_DIRECT_INVOKE","message":"failed to invoke, id: invapp, err: rpc error: code = InvalidArgument desc = invalid method: method contains forbidden character: \"a?b\""}`),
		req("GET", "/v1.0/invoke/invapp", "", 404,
			`{"errorCode":"ERR_DIRECT_INVOKE","message":"failed getting app id either from the URL path or the header dapr-app-id"}`),
		req("GET", "/v1.0/metadata", "", 200, "{{~any}}\"httpEndpoints\":[{\"name\":\"extsvc\"}],\"appConnectionProperties\"{{~any}}"),
	})
	// Calls that leave the sidecar (HTTPEndpoints, external URLs) are
	// counted in daprd's service invocation series; the own app is not.
	m := scrape(t, sc)
	for _, want := range []string{
		`dapr_runtime_service_invocation_req_sent_total{app_id="invapp",dst_app_id="extsvc",type="unary"} 1`,
		`dapr_runtime_service_invocation_res_recv_total{app_id="invapp",src_app_id="extsvc",status="200",type="unary"} 1`,
		`dapr_runtime_service_invocation_res_recv_latency_ms_count{app_id="invapp",src_app_id="extsvc",status="200"} 1`,
		`dapr_runtime_service_invocation_req_sent_total{app_id="invapp",dst_app_id="` + ext.URL + `",type="unary"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s:\n%s", want, grepLines(m, "service_invocation"))
		}
	}
	if strings.Contains(m, `dst_app_id="invapp"`) {
		t.Errorf("the own app counted as a remote call:\n%s", grepLines(m, "service_invocation"))
	}
	// A chunked request is streamed in daprd: a failed answer is passed on
	// as it is (no JSON type, nothing counted).
	resp, err := http.Post(sc.URL("/v1.0/invoke/invapp/method/status/418"), "", io.MultiReader(strings.NewReader("chunk")))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 418 || string(body) != "app:POST /status/418||chunk|" || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("chunked: %d %v %q", resp.StatusCode, resp.Header, body)
	}
	// The app is down: the transport error.
	app.Close()
	r, err := rawDo(sc.Addr(), "GET", "/v1.0/invoke/invapp/method/x", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != 500 || !strings.HasPrefix(string(r.Body), `{"errorCode":"ERR_DIRECT_INVOKE","message":"failed to invoke, id: invapp, err: Get \"http://127.0.0.1:`) {
		t.Fatalf("app down: %d %s", r.Status, r.Body)
	}
	if code := sc.Stop(); code != 0 {
		t.Errorf("exit %d:\n%s", code, sc.Output())
	}
}

// TestInvokeAPIToken: with DAPR_API_TOKEN the invocation needs the token,
// and the app does not receive it (daprd's token middleware removes it);
// APP_API_TOKEN is sent to the app instead.
func TestInvokeAPIToken(t *testing.T) {
	app := echoApp(t, "app")
	sc := testutil.Start(t, testutil.Options{AppID: "tokapp", Env: []string{"DAPR_API_TOKEN=secret1", "APP_API_TOKEN=apptok"},
		ExtraArgs: []string{"--app-port", portOf(app)}})
	runSteps(t, target{addr: sc.Addr(), sc: sc}, nil, []step{
		req("GET", "/v1.0/invoke/tokapp/method/x", "", 401, "invalid api token\n"),
		req("GET", "/v1.0/invoke/tokapp/method/x", "", 200, "app:GET /x|||dapr-api-token=apptok").h("dapr-api-token: secret1"),
	})
}

// TestInvokeNoAppChannel: without --app-port the own app id cannot be
// invoked (daprd's message), while the other routes still answer.
func TestInvokeNoAppChannel(t *testing.T) {
	sc := testutil.Start(t, testutil.Options{AppID: "lonely"})
	runSteps(t, target{addr: sc.Addr(), sc: sc}, nil, []step{
		req("POST", "/v1.0/invoke/lonely/method/x", "", 500,
			`{"errorCode":"ERR_DIRECT_INVOKE","message":"failed to invoke, id: lonely, err: cannot invoke local endpoint: app channel not initialized"}`),
		req("GET", "/v1.0/nothing", "", 404,
			`{"errorCode":"ERR_DIRECT_INVOKE","message":"failed getting app id either from the URL path or the header dapr-app-id"}`),
	})
	// gRPC InvokeService: codes.Internal with the same message.
	conn, err := grpc.NewClient(sc.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = runtimev1pb.NewDaprClient(conn).InvokeService(context.Background(), &runtimev1pb.InvokeServiceRequest{Id: "lonely",
		Message: &commonv1pb.InvokeRequest{Method: "x"}})
	if st := status.Convert(err); st.Code() != codes.Internal ||
		st.Message() != "failed to invoke, id: lonely, err: cannot invoke local endpoint: app channel not initialized" {
		t.Fatalf("InvokeService: %v", err)
	}
}

// invokeGRPCApp is a gRPC app whose OnInvoke echoes the call and, for
// method "fail", answers NotFound with an ErrorInfo.
type invokeGRPCApp struct {
	runtimev1pb.UnimplementedAppCallbackServer
}

func (a *invokeGRPCApp) OnInvoke(ctx context.Context, in *commonv1pb.InvokeRequest) (*commonv1pb.InvokeResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	_ = grpc.SetHeader(ctx, metadata.Pairs("x-reply", "h1"))
	_ = grpc.SetTrailer(ctx, metadata.Pairs("x-trailer", "t1"))
	if in.GetMethod() == "md" {
		keys := make([]string, 0, len(md))
		for k := range md {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return &commonv1pb.InvokeResponse{Data: &anypb.Any{Value: []byte(strings.Join(keys, ","))}}, nil
	}
	if in.GetMethod() == "packed" {
		return &commonv1pb.InvokeResponse{Data: &anypb.Any{TypeUrl: "type.googleapis.com/x.Y", Value: []byte{8, 1}}, ContentType: "ignored/type"}, nil
	}
	if in.GetMethod() == "fail" {
		st, _ := status.New(codes.NotFound, "no such thing").WithDetails(&errdetails.ErrorInfo{Reason: "NOPE", Domain: "app"})
		return nil, st.Err()
	}
	out := fmt.Sprintf("%s %s q=%s ct=%s data=%s x-custom=%s dapr-accept=%s", in.GetHttpExtension().GetVerb(), in.GetMethod(),
		in.GetHttpExtension().GetQuerystring(), in.GetContentType(), in.GetData().GetValue(), strings.Join(md.Get("x-custom"), ","),
		strings.Join(md.Get("dapr-accept"), ","))
	return &commonv1pb.InvokeResponse{Data: &anypb.Any{Value: []byte(out)}, ContentType: "text/x-grpc-app"}, nil
}

// TestInvokeGRPCApp: with --app-protocol grpc an invocation is
// AppCallback.OnInvoke (verb, method, query, content type, data, headers
// as metadata with daprd's dapr- prefix for permanent HTTP names); the
// answer comes back over HTTP (200 with the app's type, its header
// metadata as headers; a failed status as HTTP status with the status as
// JSON) and over gRPC InvokeService (message, headers, trailers, the
// status as it is), and an HTTP app's answer over InvokeService carries
// dapr-http-status and daprd's error for a non-2xx status.
func TestInvokeGRPCApp(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gsrv := grpc.NewServer()
	runtimev1pb.RegisterAppCallbackServer(gsrv, &invokeGRPCApp{})
	hs := health.NewServer()
	healthpb.RegisterHealthServer(gsrv, hs)
	go func() { _ = gsrv.Serve(ln) }()
	t.Cleanup(gsrv.Stop)
	sc := testutil.Start(t, testutil.Options{AppID: "grpcinv",
		ExtraArgs: []string{"--app-port", strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), "--app-protocol", "grpc"}})
	runSteps(t, target{addr: sc.Addr(), sc: sc}, nil, []step{
		req("PUT", "/v1.0/invoke/grpcinv/method/do/it?a=1", "payload", 200,
			"PUT do/it q=a=1 ct=text/plain data=payload x-custom=c dapr-accept=*/*", "Content-Type: text/x-grpc-app", "X-Reply: h1", "!X-Trailer").
			h("Content-Type: text/plain", "X-Custom: c", "Accept: */*"),
		req("GET", "/v1.0/invoke/grpcinv/method/md", "", 200, "{{~any}}grpc-trace-bin,{{~any}}traceparent,{{~any}}").
			h("traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01").note("the caller's trace context reaches the app"),
		req("GET", "/v1.0/invoke/grpcinv/method/packed", "", 200, "\x08\x01", "Content-Type: application/x-protobuf").
			note("data with a type URL is application/x-protobuf"),
		req("GET", "/v1.0/invoke/grpcinv/method/fail", "", 404, `{"code":{{~any}}5,{{~any}}"message":{{~any}}"no such thing",{{~any}}"NOPE"{{~any}}`,
			"Content-Type: text/plain; charset=utf-8"),
	})

	conn, err := grpc.NewClient(sc.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := runtimev1pb.NewDaprClient(conn)
	ctx := metadata.AppendToOutgoingContext(context.Background(), "x-custom", "g")
	var header, trailer metadata.MD
	resp, err := client.InvokeService(ctx, &runtimev1pb.InvokeServiceRequest{Id: "grpcinv", Message: &commonv1pb.InvokeRequest{
		Method: "m", Data: &anypb.Any{Value: []byte("d")}, ContentType: "text/plain",
		HttpExtension: &commonv1pb.HTTPExtension{Verb: commonv1pb.HTTPExtension_POST, Querystring: "k=v"}}},
		grpc.Header(&header), grpc.Trailer(&trailer))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(resp.GetData().GetValue()); got != "POST m q=k=v ct=text/plain data=d x-custom=g dapr-accept=" || resp.GetContentType() != "text/x-grpc-app" {
		t.Fatalf("InvokeService: %q %q", got, resp.GetContentType())
	}
	if j(header, "x-reply") != "h1" || j(trailer, "x-trailer") != "t1" {
		t.Fatalf("header %v trailer %v", header, trailer)
	}
	_, err = client.InvokeService(ctx, &runtimev1pb.InvokeServiceRequest{Id: "grpcinv", Message: &commonv1pb.InvokeRequest{Method: "fail"}})
	st := status.Convert(err)
	if st.Code() != codes.NotFound || st.Message() != "no such thing" || len(st.Details()) != 1 {
		t.Fatalf("InvokeService fail: %v", st)
	}

	// gRPC proxying: a service the sidecar does not serve, with dapr-app-id.
	pctx := metadata.AppendToOutgoingContext(context.Background(), "dapr-app-id", "grpcinv", "x-custom", "p")
	header, trailer = nil, nil
	pr, err := runtimev1pb.NewAppCallbackClient(conn).OnInvoke(pctx, &commonv1pb.InvokeRequest{Method: "md"}, grpc.Header(&header), grpc.Trailer(&trailer))
	if err != nil {
		t.Fatal(err)
	}
	if keys := string(pr.GetData().GetValue()); strings.Contains(keys, "dapr-app-id") || !strings.Contains(keys, "x-custom") {
		t.Fatalf("proxied metadata keys %s", keys)
	}
	if j(header, "x-reply") != "h1" || j(trailer, "x-trailer") != "t1" {
		t.Fatalf("proxied header %v trailer %v", header, trailer)
	}
	_, err = runtimev1pb.NewAppCallbackClient(conn).OnInvoke(pctx, &commonv1pb.InvokeRequest{Method: "fail"})
	if st := status.Convert(err); st.Code() != codes.NotFound || st.Message() != "no such thing" || len(st.Details()) != 1 {
		t.Fatalf("proxied failure: %v", st)
	}
	_, err = runtimev1pb.NewAppCallbackClient(conn).OnInvoke(context.Background(), &commonv1pb.InvokeRequest{Method: "md"})
	if st := status.Convert(err); st.Code() != codes.Unknown || st.Message() != "failed to proxy request: required metadata dapr-callee-app-id or dapr-app-id not found" {
		t.Fatalf("no app id: %v", st)
	}
	_, err = runtimev1pb.NewAppCallbackClient(conn).OnInvoke(metadata.AppendToOutgoingContext(context.Background(), "dapr-app-id", "other"), &commonv1pb.InvokeRequest{Method: "md"})
	if st := status.Convert(err); st.Code() != codes.Unknown || st.Message() != "couldn't find service: other" {
		t.Fatalf("other app: %v", st)
	}
	// A server stream through the proxy.
	wctx, wcancel := context.WithCancel(pctx)
	defer wcancel()
	watch, err := healthpb.NewHealthClient(conn).Watch(wctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if m, err := watch.Recv(); err != nil || m.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("watch: %v %v", m, err)
	}
	hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	if m, err := watch.Recv(); err != nil || m.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("watch update: %v %v", m, err)
	}
	wcancel()
	if code := sc.Stop(); code != 0 {
		t.Errorf("exit %d:\n%s", code, sc.Output())
	}

	// gRPC caller, HTTP app.
	app := echoApp(t, "app")
	sc = testutil.Start(t, testutil.Options{AppID: "httpinv", ExtraArgs: []string{"--app-port", portOf(app)}})
	conn2, err := grpc.NewClient(sc.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	client = runtimev1pb.NewDaprClient(conn2)
	header = nil
	resp, err = client.InvokeService(ctx, &runtimev1pb.InvokeServiceRequest{Id: "httpinv", Message: &commonv1pb.InvokeRequest{
		Method: "typed", Data: &anypb.Any{Value: []byte("x")}, ContentType: "text/plain",
		HttpExtension: &commonv1pb.HTTPExtension{Verb: commonv1pb.HTTPExtension_PUT, Querystring: "a=b"}}}, grpc.Header(&header))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(resp.GetData().GetValue()); got != "app:PUT /typed?a=b|text/plain|x|x-custom=g" || resp.GetContentType() != "text/x-typed" {
		t.Fatalf("HTTP app over InvokeService: %q %q", got, resp.GetContentType())
	}
	if j(header, "dapr-http-status") != "201" || j(header, "x-reply") != "r1" || j(header, "dapr-content-type") != "text/x-typed" ||
		len(header.Get("dapr-content-length")) != 0 {
		t.Fatalf("header %v", header)
	}
	_, err = client.InvokeService(ctx, &runtimev1pb.InvokeServiceRequest{Id: "httpinv", Message: &commonv1pb.InvokeRequest{Method: "typed"}})
	if st := status.Convert(err); st.Code() != codes.Internal ||
		st.Message() != "failed to invoke, id: httpinv, err: rpc error: code = InvalidArgument desc = missing HTTP extension field" {
		t.Fatalf("no http_extension: %v", st)
	}
	header = nil
	_, err = client.InvokeService(ctx, &runtimev1pb.InvokeServiceRequest{Id: "httpinv", Message: &commonv1pb.InvokeRequest{Method: "status/404",
		HttpExtension: &commonv1pb.HTTPExtension{Verb: commonv1pb.HTTPExtension_GET}}}, grpc.Header(&header))
	st = status.Convert(err)
	if st.Code() != codes.NotFound || st.Message() != "Not Found" || len(st.Details()) != 1 || j(header, "dapr-http-status") != "404" {
		t.Fatalf("HTTP 404 over InvokeService: %v %v", st, header)
	}
	ei := st.Details()[0].(*errdetails.ErrorInfo)
	if ei.Metadata["http.code"] != "404" || ei.Metadata["http.error_message"] != "app:GET /status/404|||x-custom=g" {
		t.Fatalf("ErrorInfo %v", ei)
	}
}

// j joins the values of metadata key k.
func j(md metadata.MD, k string) string { return strings.Join(md.Get(k), ",") }

// TestInvokeCallerGone: when the HTTP caller closes its connection during
// an invocation, the call to the app is cancelled (daprd passes the
// request's context on), so a slow app is not kept waiting for nobody.
func TestInvokeCallerGone(t *testing.T) {
	started, cancelled := make(chan struct{}, 1), make(chan struct{}, 1)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		select {
		case <-r.Context().Done():
			cancelled <- struct{}{}
		case <-time.After(20 * time.Second):
		}
	}))
	t.Cleanup(app.Close)
	sc := testutil.Start(t, testutil.Options{AppID: "goneapp", ExtraArgs: []string{"--app-port", portOf(app)}})
	conn, err := net.Dial("tcp", sc.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, "GET /v1.0/invoke/goneapp/method/hang HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the app was not called")
	}
	conn.Close()
	select {
	case <-cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("the app's request was not cancelled after the caller left")
	}
	// The sidecar still serves.
	r, err := rawDo(sc.Addr(), "GET", "/v1.0/healthz", nil, "")
	if err != nil || r.Status != 204 {
		t.Fatalf("healthz after: %v %v", r, err)
	}
}

// TestInvokeH2CApp: with --app-protocol h2c the app is called over HTTP/2
// without TLS (prior knowledge), as daprd's h2c app client does.
func TestInvokeH2CApp(t *testing.T) {
	app := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = fmt.Fprintf(w, "%s %s proto=%d", r.Method, r.URL.Path, r.ProtoMajor)
	}))
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	app.Config.Protocols = &p
	app.Start()
	t.Cleanup(app.Close)
	sc := testutil.Start(t, testutil.Options{AppID: "h2capp", ExtraArgs: []string{"--app-port", portOf(app), "--app-protocol", "h2c"}})
	runSteps(t, target{addr: sc.Addr(), sc: sc}, nil, []step{
		req("POST", "/v1.0/invoke/h2capp/method/a/b", "x", 200, "POST /a/b proto=2", "Content-Type: text/plain"),
		req("GET", "/v1.0/metadata", "", 200, `{{~any}}"appConnectionProperties":{"port":`+portOf(app)+`,"protocol":"h2c"{{~any}}`),
	})
}
