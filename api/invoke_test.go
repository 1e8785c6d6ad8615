package api

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// daprd's TestFindTargetIDAndMethod table (pkg/api/http), plus the cases
// statecar's router hands it.
func TestFindInvokeTarget(t *testing.T) {
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("dapr-app-id:auth"))
	for _, tc := range []struct {
		name, path, appID, authz string
		target, method           string
		fromHeader               bool
	}{
		{"dapr-app-id header", "/foo/bar", "myapp", "", "myapp", "foo/bar", true},
		{"basic auth", "/foo/bar", "", auth, "auth", "foo/bar", false},
		{"header before basic auth", "/foo/bar", "myapp", auth, "myapp", "foo/bar", true},
		{"path", "/v1.0/invoke/myapp/method/foo", "", "", "myapp", "foo", false},
		{"basic auth before path", "/v1.0/invoke/myapp/method/foo", "", auth, "auth", "v1.0/invoke/myapp/method/foo", false},
		{"'/' method", "/v1.0/invoke/myapp/method/", "", "", "myapp", "", false},
		{"missing method", "/v1.0/invoke/myapp/method", "", "", "", "", false},
		{"http target unescaped", "/v1.0/invoke/http://example.com/method/foo", "", "", "http://example.com", "foo", false},
		{"https target unescaped", "/v1.0/invoke/https://example.com/method/foo", "", "", "https://example.com", "foo", false},
		{"https target partly escaped", "/v1.0/invoke/https%3A/%2Fexample.com/method/foo", "", "", "https://example.com", "foo", false},
		{"extra slashes", "///foo//bar", "myapp", "", "myapp", "foo/bar", true},
		{"slashes before invoke", "//v1.0//invoke/myapp/method/a/b", "", "", "myapp", "a/b", false},
		{"method with slashes and dots", "/v1.0/invoke/myapp/method/a/./b/../c", "", "", "myapp", "a/c", false},
		{"namespaced", "/v1.0/invoke/myapp.ns/method/x", "", "", "myapp.ns", "x", false},
		{"another API", "/v1.0/state/s/k/x", "", "", "", "", false},
		{"basic auth, other user", "/x", "", "Basic " + base64.StdEncoding.EncodeToString([]byte("bob:auth")), "", "", false},
		{"basic auth, bad base64", "/x", "", "Basic !!", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target, method, fromHeader := FindInvokeTarget(tc.path, tc.appID, tc.authz)
			if target != tc.target || method != tc.method || fromHeader != tc.fromHeader {
				t.Fatalf("FindInvokeTarget(%q) = %q, %q, %v; want %q, %q, %v", tc.path, target, method, fromHeader, tc.target, tc.method, tc.fromHeader)
			}
		})
	}
}

// daprd's TestNormalizeMethod (pkg/messaging/method).
func TestNormalizeMethod(t *testing.T) {
	for _, bad := range []string{"a#b", "a?b", "a\x00b", "a\x01b", "a\x1fb", "a\x7fb", "a\nb"} {
		if _, err := NormalizeMethod(bad); err == nil {
			t.Errorf("NormalizeMethod(%q) accepted", bad)
		}
	}
	for in, want := range map[string]string{
		"a%2Fb": "a%2Fb", `a"b`: `a"b`, "a*b": "a*b", `a\b`: `a\b`,
		"../../etc/passwd": "etc/passwd", "a/../../b": "b", "..": "", ".": "", "": "",
		"a//b/": "a/b", "/a": "/a",
	} {
		got, err := NormalizeMethod(in)
		if err != nil || got != want {
			t.Errorf("NormalizeMethod(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestToHTTPHeaders(t *testing.T) {
	in := http.Header{
		"Content-Type":       {"text/plain"},
		"Content-Length":     {"5"},
		"Connection":         {"keep-alive, X-Hop"},
		"X-Hop":              {"1"},
		"Keep-Alive":         {"timeout=5"},
		"Te":                 {"trailers"},
		"Traceparent":        {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
		"Tracestate":         {"a=b"},
		"Baggage":            {"k=v", "ignored"},
		"X-Custom":           {"1", "2"},
		"Grpc-Timeout":       {"1S"},
		"Destination-App-Id": {"x"},
		"Thing-Bin":          {"AAE="},
		"Accept":             {"*/*"},
	}
	got := http.Header{}
	th := ToHTTPHeaders(in, got.Add)
	want := http.Header{"Baggage": {"k=v"}, "X-Custom": {"1", "2"}, "Dapr-Grpc-Timeout": {"1S"}, "Accept": {"*/*"}}
	if !equalHeaders(got, want) {
		t.Fatalf("headers %v, want %v", got, want)
	}
	if th.Traceparent != in.Get("Traceparent") || th.Tracestate != "a=b" {
		t.Fatalf("trace headers %+v", th)
	}
	// gRPC metadata (lower-case keys) from a gRPC caller.
	got = http.Header{}
	ToHTTPHeaders(metadata.MD{":authority": {"localhost:1"}, "content-type": {"application/grpc"}, "user-agent": {"grpc-go/1"}, "grpc-accept-encoding": {"gzip"}}, got.Add)
	want = http.Header{"Dapr-Authority": {"localhost:1"}, "User-Agent": {"grpc-go/1"}, "Dapr-Grpc-Accept-Encoding": {"gzip"}}
	if !equalHeaders(got, want) {
		t.Fatalf("from metadata %v, want %v", got, want)
	}
}

func TestToGRPCMetadata(t *testing.T) {
	md := ToGRPCMetadata(map[string][]string{
		"Content-Type": {"text/plain"}, "Accept": {"*/*"}, "X-Custom": {"1"}, "Traceparent": {"x"},
		"thing-bin": {"\x00\x01"}, "user-agent": {"ua"}, "destination-app-id": {"x"},
	})
	want := metadata.MD{"dapr-content-type": {"text/plain"}, "dapr-accept": {"*/*"}, "x-custom": {"1"},
		"thing-bin": {"\x00\x01"}, "user-agent": {"ua"}}
	if len(md) != len(want) {
		t.Fatalf("metadata %v, want %v", md, want)
	}
	for k, v := range want {
		if !slices.Equal(md[k], v) {
			t.Fatalf("metadata %v, want %v", md, want)
		}
	}
}

func TestInvokeVerbAndStatusMaps(t *testing.T) {
	for in, want := range map[string]string{"get": "GET", "PATCH": "PATCH", "PROPFIND": "POST", "NONE": "POST", "options": "OPTIONS"} {
		if got := InvokeVerb(in); got != want {
			t.Errorf("InvokeVerb(%q) = %q, want %q", in, got, want)
		}
	}
	if HTTPStatusFromCode(codes.NotFound) != 404 || HTTPStatusFromCode(codes.FailedPrecondition) != 400 || HTTPStatusFromCode(codes.DataLoss) != 500 {
		t.Fatal("HTTPStatusFromCode")
	}
	if CodeFromHTTPStatus(204) != codes.OK || CodeFromHTTPStatus(400) != codes.Internal || CodeFromHTTPStatus(418) != codes.Unknown {
		t.Fatal("CodeFromHTTPStatus")
	}
	if ErrorFromHTTPResponse(201, "") != nil {
		t.Fatal("2xx is not an error")
	}
	err := ErrorFromHTTPResponse(404, strings.Repeat("x", 100))
	st := status.Convert(err)
	if st.Code() != codes.NotFound || st.Message() != "Not Found" || len(st.Details()) != 1 {
		t.Fatalf("status %v", st)
	}
	ei := st.Details()[0].(*errdetails.ErrorInfo)
	if ei.Reason != "Not Found" || ei.Domain != "dapr.io" || ei.Metadata["http.code"] != "404" || ei.Metadata["http.error_message"] != strings.Repeat("x", 63) {
		t.Fatalf("ErrorInfo %v", ei)
	}
}

type fakeInvokeApp struct {
	got  *MethodRequest
	resp *MethodResponse
	err  error
}

func (f *fakeInvokeApp) InvokeMethod(_ context.Context, r *MethodRequest, _ int64) (*MethodResponse, error) {
	f.got = r
	return f.resp, f.err
}

func TestInvokerTargets(t *testing.T) {
	var seen *http.Request
	var seenBody string
	ext := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r
		b, _ := io.ReadAll(r.Body)
		seenBody = string(b)
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
			return
		}
		if r.URL.Path == "/big" {
			_, _ = w.Write(make([]byte, 2000))
			return
		}
		w.Header().Set("X-Ext", "1")
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte("ext:" + r.URL.Path))
	}))
	defer ext.Close()
	app := &fakeInvokeApp{resp: &MethodResponse{HTTP: true, Status: 200, Body: []byte("local")}}
	v := NewInvoker(InvokerConfig{AppID: "me", App: app, MaxBodySize: 1000,
		Endpoints: []HTTPEndpoint{{Name: "ep", BaseURL: ext.URL + "/base", Headers: http.Header{"X-Ep": {"secret"}, "X-Custom": {"replaced"}}}}})
	defer v.Close()
	if got := v.Endpoints(); !slices.Equal(got, []string{"ep"}) {
		t.Fatalf("Endpoints %v", got)
	}
	ctx := context.Background()

	// Own app id, with and without a namespace (daprd's mDNS ignores it).
	for _, target := range []string{"me", "me.ns", "me.other"} {
		resp, e := v.Invoke(ctx, target, &MethodRequest{Verb: "GET", Method: "a/../b"})
		if e != nil || string(resp.Body) != "local" || app.got.Method != "b" {
			t.Fatalf("%s: %v %v %+v", target, resp, e, app.got)
		}
	}
	// The app channel's error.
	app.err = errors.New("boom")
	if _, e := v.Invoke(ctx, "me", &MethodRequest{Verb: "GET", Method: "x"}); e == nil || e.Message() != "failed to invoke, id: me, err: boom" || e.HTTPStatus() != 500 {
		t.Fatalf("app error: %v", e)
	}
	app.err = nil

	// External URL: headers forwarded, redirects not followed.
	resp, e := v.Invoke(ctx, ext.URL, &MethodRequest{Verb: "PUT", Method: "p/q", RawQuery: "a=1", ContentType: "application/json",
		Header: http.Header{"X-Custom": {"c"}, "Connection": {"close"}}, Body: []byte(`{}`)})
	if e != nil || resp.Status != 202 || string(resp.Body) != "ext:/p/q" || resp.ContentType != "text/plain" || resp.Header["X-Ext"][0] != "1" {
		t.Fatalf("external: %+v %v", resp, e)
	}
	if seen.Method != "PUT" || seen.URL.RawQuery != "a=1" || seen.Header.Get("X-Custom") != "c" || seen.Header.Get("Content-Type") != "application/json" || seenBody != "{}" {
		t.Fatalf("external saw %s %s %v %q", seen.Method, seen.URL, seen.Header, seenBody)
	}
	resp, e = v.Invoke(ctx, ext.URL, &MethodRequest{Verb: "GET", Method: "redirect"})
	if e != nil || resp.Status != http.StatusFound {
		t.Fatalf("redirect: %+v %v", resp, e)
	}
	if _, e = v.Invoke(ctx, ext.URL, &MethodRequest{Verb: "GET", Method: "big"}); e == nil || !strings.Contains(e.Message(), "stream too large") {
		t.Fatalf("big response: %v", e)
	}

	// HTTPEndpoint by name: base URL path kept, its headers set last.
	resp, e = v.Invoke(ctx, "ep", &MethodRequest{Verb: "POST", Method: "m", Header: http.Header{"X-Custom": {"caller"}}})
	if e != nil || string(resp.Body) != "ext:/base/m" || seen.Header.Get("X-Ep") != "secret" || seen.Header.Get("X-Custom") != "replaced" {
		t.Fatalf("endpoint: %+v %v %v", resp, e, seen.Header)
	}

	// Failures, with daprd's messages.
	for target, want := range map[string]string{
		"other": "failed to invoke, id: other, err: couldn't find service: other",
		"a.b.c": "failed to invoke, id: a.b.c, err: invalid app id a.b.c",
	} {
		_, e := v.Invoke(ctx, target, &MethodRequest{Verb: "GET", Method: "x"})
		if e == nil || e.Message() != want || e.ErrorCode() != CodeDirectInvoke || e.Category() != "service-invocation" {
			t.Errorf("%s: %v, want %s", target, e, want)
		}
	}
	_, e = v.Invoke(ctx, "me", &MethodRequest{Verb: "GET", Method: "a?b"})
	if e == nil || e.Message() != `failed to invoke, id: me, err: rpc error: code = InvalidArgument desc = invalid method: method contains forbidden character: "a?b"` {
		t.Fatalf("bad method: %v", e)
	}
	noApp := NewInvoker(InvokerConfig{AppID: "me"})
	if _, e := noApp.Invoke(ctx, "me", &MethodRequest{Verb: "GET"}); e == nil || e.Message() != "failed to invoke, id: me, err: cannot invoke local endpoint: app channel not initialized" {
		t.Fatalf("no app channel: %v", e)
	}
	if e := NewDirectInvoke("x", status.Error(codes.PermissionDenied, "no")); e.HTTPStatus() != 403 {
		t.Fatal("PermissionDenied is 403")
	}
	if e := NewDirectInvokeNoAppID(); e.HTTPStatus() != 404 || e.GRPCCode() != codes.NotFound {
		t.Fatal("no app id")
	}
}

func equalHeaders(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

func TestTraceMetadata(t *testing.T) {
	const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-03"
	tid := []byte{0x0a, 0xf7, 0x65, 0x19, 0x16, 0xcd, 0x43, 0xdd, 0x84, 0x48, 0xeb, 0x21, 0x1c, 0x80, 0x31, 0x9c}
	sid := []byte{0xb7, 0xad, 0x6b, 0x71, 0x69, 0x20, 0x33, 0x31}
	bin := string(append(append(append(append([]byte{0, 0}, tid...), 1), sid...), 2, 3))
	md := metadata.MD{}
	TraceMetadata(http.Header{"Traceparent": {tp}, "Tracestate": {"a=b"}}, md)
	if j := md.Get("traceparent"); len(j) != 1 || j[0] != tp || md.Get("tracestate")[0] != "a=b" || md.Get("grpc-trace-bin")[0] != bin {
		t.Fatalf("from traceparent: %v", md)
	}
	// A version above 00 with extra parts is accepted and rendered as 00.
	md = metadata.MD{}
	TraceMetadata(http.Header{"Traceparent": {"01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra"}}, md)
	if j := md.Get("traceparent"); len(j) != 1 || j[0] != "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" {
		t.Fatalf("version 01: %v", md)
	}
	for _, bad := range []string{
		"", "zz-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		"ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
		"00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
		"00-00000000000000000000000000000000-b7ad6b7169203331-01",
		"00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-",
	} {
		md = metadata.MD{}
		TraceMetadata(http.Header{"Traceparent": {bad}, "Tracestate": {"a=b"}}, md)
		if len(md) != 0 {
			t.Errorf("%q gave %v", bad, md)
		}
	}
	// A gRPC caller's binary context wins and is forwarded as it is, also
	// when it carries a trace ID only.
	md = metadata.MD{}
	TraceMetadata(metadata.MD{"grpc-trace-bin": {bin}, "traceparent": {"00-11111111111111111111111111111111-2222222222222222-01"}}, md)
	if md.Get("traceparent")[0] != tp || md.Get("grpc-trace-bin")[0] != bin || len(md.Get("tracestate")) != 0 {
		t.Fatalf("from grpc-trace-bin: %v", md)
	}
	short := string(append([]byte{0, 0}, tid...))
	md = metadata.MD{}
	TraceMetadata(metadata.MD{"grpc-trace-bin": {short}}, md)
	if md.Get("traceparent")[0] != "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-00" || md.Get("grpc-trace-bin")[0] != short {
		t.Fatalf("short grpc-trace-bin: %v", md)
	}
	md = metadata.MD{}
	TraceMetadata(metadata.MD{"grpc-trace-bin": {"\x01junk"}}, md)
	if len(md.Get("traceparent")) != 0 || md.Get("grpc-trace-bin")[0] != "\x01junk" {
		t.Fatalf("undecodable grpc-trace-bin: %v", md)
	}
}
