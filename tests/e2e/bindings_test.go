package e2e

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	goredis "github.com/redis/go-redis/v9"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/statecar/statecar/internal/testutil"
)

// TestBindingsAPI runs the output Bindings API (other-building-blocks.md
// §5.1) on the binary over bindings.redis: every operation, daprd's data
// encoding, its errors and their order, metrics, metadata, the gRPC
// InvokeBinding, the direction metadata, and a binding type statecar does
// not implement (skipped, not fatal).
func TestBindingsAPI(t *testing.T) {
	r, rc := startRedisWithClient(t)
	ctx := context.Background()

	dir := t.TempDir()
	testutil.WriteComponent(t, dir, "rb", "bindings.redis", map[string]string{"redisHost": r.Addr})
	testutil.WriteComponent(t, dir, "inonly", "bindings.redis", map[string]string{"redisHost": r.Addr, "direction": "input"})
	testutil.WriteComponent(t, dir, "tick", "bindings.kafka", map[string]string{"brokers": "localhost:9092"})
	conf := testutil.WriteConfiguration(t, t.TempDir(), "c", "metrics:\n  recordErrorCodes: true")
	sc := testutil.Start(t, testutil.Options{AppID: "bapp", ResourcesDir: dir, ConfigFile: conf})
	tg := target{addr: sc.Addr(), sc: sc}
	ct := "Content-Type: application/json"
	call := func(name, body string, status int, resp string, want ...string) step {
		return req("POST", "/v1.0/bindings/"+name, body, status, resp, want...)
	}
	fail := func(name, body, msg string) step {
		return call(name, body, 500, `{"errorCode":"ERR_INVOKE_OUTPUT_BINDING","message":"error invoking output binding `+name+`: `+msg+`"}`, ct)
	}
	runSteps(t, tg, nil, []step{
		// data is re-encoded with encoding/json: keys sorted, HTML escaped.
		call("rb", `{"data":{"b":1,"a":"<x>"},"metadata":{"key":"obj"},"operation":"create"}`, 204, ""),
		call("rb", `{"data":{"b":1,"a":"<x>"},"metadata":{"key":"obj"},"operation":"get"}`, 200, `{"a":"\u003cx\u003e","b":1}`, ct),
		req("PUT", "/v1.0/bindings/rb", `{"data":"hi","metadata":{"key":"str"},"operation":"create"}`, 204, ""),
		call("rb", `{"metadata":{"key":"str"},"operation":"get"}`, 200, `"hi"`, ct),
		call("rb", `{"data":12345678901234567890.5,"metadata":{"key":"num"},"operation":"create"} trailing`, 204, ""),
		call("rb", `{"metadata":{"key":"nodata"},"operation":"create"}`, 204, ""),
		call("rb", `{"metadata":{"key":"missing"},"operation":"get"}`, 200, "", ct),
		call("rb", `{"metadata":{"key":"ctr","ttl":"1h"},"operation":"increment"}`, 204, ""),
		call("rb", `{"metadata":{"key":"ctr"},"operation":"increment"}`, 204, ""),
		call("rb", `{"metadata":{"key":"ctr"},"operation":"get"}`, 200, `2`, ct),
		call("rb", `{"metadata":{"key":"str"},"operation":"delete"}`, 204, ""),
		call("rb", `{"metadata":{"key":"str"},"operation":"get"}`, 200, ""),

		// Errors, in daprd's order: the body, the operation, the binding,
		// the operation's support, then the binding's own.
		call("rb", ``, 400, `{"errorCode":"ERR_MALFORMED_REQUEST","message":"failed deserializing HTTP body: EOF"}`, ct),
		call("rb", `{"metadata":{"key":1}}`, 400,
			`{"errorCode":"ERR_MALFORMED_REQUEST","message":"failed deserializing HTTP body: json: cannot unmarshal number into Go struct field OutputBindingRequest.metadata of type string"}`),
		fail("nob", `{"metadata":{"key":"k"}}`, "operation field is missing from request"),
		fail("nob", `{"operation":"get"}`, "couldn't find output binding nob"),
		fail("inonly", `{"operation":"get"}`, "couldn't find output binding inonly"),
		fail("tick", `{"operation":"get"}`, "couldn't find output binding tick"),
		fail("rb", `{"operation":"list","metadata":{"key":"k"}}`, "binding rb does not support operation list. supported operations:create delete get increment"),
		fail("rb", `{"operation":"get"}`, "redis binding: missing key in request metadata"),
		req("GET", "/v1.0/bindings/rb", "", 404,
			`{"errorCode":"ERR_DIRECT_INVOKE","message":"failed getting app id either from the URL path or the header dapr-app-id"}`),
	})
	for k, want := range map[string]string{
		"obj":    `{"a":"\u003cx\u003e","b":1}`,
		"num":    `12345678901234567890.5`, // daprd rounds it through float64
		"nodata": `null`,
	} {
		if v := rc.Get(ctx, k).Val(); v != want {
			t.Errorf("Redis %s = %q, want %q", k, v, want)
		}
	}
	if ttl := rc.TTL(ctx, "ctr").Val(); ttl <= 59*time.Minute || ttl > time.Hour {
		t.Errorf("TTL of ctr %v, want about 1h", ttl)
	}

	grpcBinding(t, sc, rc)

	md, err := rawDo(sc.Addr(), "GET", "/v1.0/metadata", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`{"name":"rb","type":"bindings.redis","version":"v1","capabilities":["OUTPUT_BINDING"]}`, `{"name":"inonly","type":"bindings.redis","version":"v1"}`} {
		if !strings.Contains(string(md.Body), want) {
			t.Errorf("metadata lacks %s:\n%s", want, md.Body)
		}
	}
	if strings.Contains(string(md.Body), `"tick"`) {
		t.Errorf("metadata lists the skipped bindings.kafka:\n%s", md.Body)
	}
	// HTTP and gRPC calls count alike (4 + 1 creates; 6 + 1 errors).
	metrics := scrape(t, sc)
	for _, want := range []string{
		`dapr_component_output_binding_count{app_id="bapp",component="rb",namespace="",operation="create",success="true"} 5`,
		`dapr_component_output_binding_count{app_id="bapp",component="rb",namespace="",operation="get",success="true"} 6`,
		`dapr_component_output_binding_count{app_id="bapp",component="rb",namespace="",operation="get",success="false"} 1`,
		`dapr_component_output_binding_count{app_id="bapp",component="rb",namespace="",operation="list",success="false"} 1`,
		`dapr_component_output_binding_count{app_id="bapp",component="nob",namespace="",operation="",success="false"} 1`,
		`dapr_error_code_total{app_id="bapp",category="binding",error_code="ERR_INVOKE_OUTPUT_BINDING"} 7`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s:\n%s", want, grepLines(metrics, "binding"))
		}
	}
	if !strings.Contains(sc.Output(), "Component tick (bindings.kafka/v1) is not supported by statecar") {
		t.Errorf("no warning for the skipped bindings.kafka:\n%s", sc.Output())
	}
	if code := sc.Stop(); code != 0 {
		t.Errorf("exit code %d; output:\n%s", code, sc.Output())
	}
}

// grpcBinding calls InvokeBinding on a sidecar with the "rb" binding: the
// data bytes are stored as sent (no JSON re-encoding over gRPC).
func grpcBinding(t *testing.T, sc *testutil.Sidecar, rc *goredis.Client) {
	t.Helper()
	conn, err := grpc.NewClient(sc.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := runtimev1pb.NewDaprClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.InvokeBinding(ctx, &runtimev1pb.InvokeBindingRequest{Name: "rb", Operation: "create", Data: []byte("raw <bytes>"), Metadata: map[string]string{"key": "g"}}); err != nil {
		t.Fatalf("InvokeBinding create: %v", err)
	}
	if v := rc.Get(ctx, "g").Val(); v != "raw <bytes>" {
		t.Errorf("Redis g = %q", v)
	}
	got, err := c.InvokeBinding(ctx, &runtimev1pb.InvokeBindingRequest{Name: "rb", Operation: "get", Metadata: map[string]string{"key": "g"}})
	if err != nil || string(got.GetData()) != "raw <bytes>" {
		t.Errorf("InvokeBinding get: %v %v", got, err)
	}
	_, err = c.InvokeBinding(ctx, &runtimev1pb.InvokeBindingRequest{Name: "nob", Operation: "get"})
	if st, _ := status.FromError(err); st.Code() != codes.Internal || st.Message() != "error invoking output binding nob: couldn't find output binding nob" {
		t.Errorf("InvokeBinding of an unknown binding: %v", err)
	}
}

// TestLocalStorageBinding runs bindings.localstorage on the binary: a JSON
// string is stored unquoted (base64 decoded when valid), create answers the
// relative name, get reads it back, list answers absolute paths, and the
// errors are contrib's inside daprd's ERR_INVOKE_OUTPUT_BINDING.
func TestLocalStorageBinding(t *testing.T) {
	root := t.TempDir()
	dir := t.TempDir()
	testutil.WriteComponent(t, dir, "files", "bindings.localstorage", map[string]string{"rootPath": root})
	sc := testutil.Start(t, testutil.Options{AppID: "lsapp", ResourcesDir: dir})
	ct := "Content-Type: application/json"
	call := func(body string, status int, resp string) step {
		return req("POST", "/v1.0/bindings/files", body, status, resp, ct)
	}
	abs := filepath.Join(root, "notes", "a.txt")
	runSteps(t, target{addr: sc.Addr(), sc: sc}, nil, []step{
		call(`{"operation":"create","data":"hello","metadata":{"fileName":"notes/a.txt"}}`, 200, `{"fileName":"notes/a.txt"}`),
		call(`{"operation":"create","data":{"k":[1,2]},"metadata":{"fileName":"doc.json"}}`, 200, `{"fileName":"doc.json"}`),
		call(`{"operation":"get","metadata":{"fileName":"notes/a.txt"}}`, 200, `hello`),
		call(`{"operation":"get","metadata":{"fileName":"doc.json"}}`, 200, `{"k":[1,2]}`),
		call(`{"operation":"list","metadata":{"fileName":"notes"}}`, 200, `["`+abs+`"]`),
		req("POST", "/v1.0/bindings/files", `{"operation":"delete","metadata":{"fileName":"notes/a.txt"}}`, 204, "", "!Content-Type"),
		call(`{"operation":"get","metadata":{"fileName":"notes/a.txt"}}`, 500,
			`{"errorCode":"ERR_INVOKE_OUTPUT_BINDING","message":"error invoking output binding files: file not found: `+abs+`"}`),
		call(`{"operation":"increment"}`, 500,
			`{"errorCode":"ERR_INVOKE_OUTPUT_BINDING","message":"error invoking output binding files: binding files does not support operation increment. supported operations:create get list delete"}`),
	})
	md, err := rawDo(sc.Addr(), "GET", "/v1.0/metadata", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"name":"files","type":"bindings.localstorage","version":"v1","capabilities":["OUTPUT_BINDING"]}`; !strings.Contains(string(md.Body), want) {
		t.Errorf("metadata lacks %s:\n%s", want, md.Body)
	}
}

// TestHTTPBinding runs bindings.http on the binary against a local HTTP
// server: the request as the server sees it, the response body as the
// answer and the response status and headers as metadata.<name> headers,
// on a 2xx and on an error status alike.
func TestHTTPBinding(t *testing.T) {
	var mu sync.Mutex
	var got []string
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.RequestURI()+" "+r.Header.Get("X-Api-Key")+" "+string(b))
		mu.Unlock()
		w.Header().Set("X-Served-By", "web")
		if r.URL.Path == "/missing" {
			w.WriteHeader(http.StatusNotFound)
		}
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	defer web.Close()
	dir := t.TempDir()
	testutil.WriteComponent(t, dir, "web", "bindings.http", map[string]string{"url": web.URL})
	sc := testutil.Start(t, testutil.Options{AppID: "httpapp", ResourcesDir: dir})
	ct := "Content-Type: application/json"
	runSteps(t, target{addr: sc.Addr(), sc: sc}, nil, []step{
		req("POST", "/v1.0/bindings/web", `{"operation":"post","data":{"n":1},"metadata":{"path":"/items","X-Api-Key":"k1"}}`, 200, `{"ok":true}`,
			ct, "metadata.statusCode: 200", "metadata.status: 200 OK", "metadata.X-Served-By: web"),
		req("POST", "/v1.0/bindings/web", `{"operation":"get","metadata":{"path":"missing"}}`, 500,
			`{"errorCode":"ERR_INVOKE_OUTPUT_BINDING","message":"error invoking output binding web: received status code 404"}`,
			ct, "metadata.statusCode: 404", "metadata.X-Served-By: web"),
	})
	// Over gRPC the response metadata are metadata.<name> headers too, on
	// the error as well.
	conn, err := grpc.NewClient(sc.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := runtimev1pb.NewDaprClient(conn)
	for _, path := range []string{"grpc", "missing"} {
		var hdr metadata.MD
		resp, err := c.InvokeBinding(context.Background(), &runtimev1pb.InvokeBindingRequest{Name: "web", Operation: "get", Metadata: map[string]string{"path": path}}, grpc.Header(&hdr))
		wantCode := "200"
		if path == "missing" {
			wantCode = "404"
			if st, _ := status.FromError(err); st.Code() != codes.Internal || st.Message() != "error invoking output binding web: received status code 404" {
				t.Errorf("gRPC InvokeBinding of /missing: %v", err)
			}
		} else if err != nil || string(resp.GetData()) != `{"ok":true}` || resp.GetMetadata()["statusCode"] != "200" {
			t.Errorf("gRPC InvokeBinding: %v %v", resp, err)
		}
		if v := hdr.Get("metadata.statuscode"); len(v) != 1 || v[0] != wantCode {
			t.Errorf("gRPC %s: header metadata.statuscode %v, want %s (headers %v)", path, v, wantCode, hdr)
		}
		if v := hdr.Get("metadata.x-served-by"); len(v) != 1 || v[0] != "web" {
			t.Errorf("gRPC %s: header metadata.x-served-by %v", path, v)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{`POST /items k1 {"n":1}`, "GET /missing  ", "GET /grpc  ", "GET /missing  "}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("the server saw %q, want %q", got, want)
	}
}
