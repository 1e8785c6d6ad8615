package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/VictoriaMetrics/metrics"

	"github.com/statecar/statecar/api"
	"github.com/statecar/statecar/component"
	"github.com/statecar/statecar/component/embedded"
)

// fakeReq and fakeResp drive serve without a transport.
type fakeReq struct {
	meth, path string
	hdr        map[string]string
	q          [][2]string
	data       []byte
	params     routeParams
}

func (f *fakeReq) method() string           { return f.meth }
func (f *fakeReq) rawPath() string          { return f.path }
func (f *fakeReq) body() []byte             { return f.data }
func (f *fakeReq) bodyTooLarge() bool       { return false }
func (f *fakeReq) param(i int) []byte       { return bytesOf(f.params[i]) }
func (f *fakeReq) context() context.Context { return context.Background() }
func (f *fakeReq) setParams(p routeParams)  { f.params = p }
func (f *fakeReq) rawQuery() string {
	var b strings.Builder
	for _, kv := range f.q {
		b.WriteString(kv[0] + "=" + kv[1] + "&")
	}
	return b.String()
}
func (f *fakeReq) header(n string) ([]byte, bool) {
	for k, v := range f.hdr {
		if strings.EqualFold(k, n) {
			return bytesOf(v), true
		}
	}
	return nil, false
}
func (f *fakeReq) chunked() bool                  { return false }
func (f *fakeReq) callerContext() context.Context { return context.Background() }
func (f *fakeReq) decodedPath() (string, bool) {
	p, err := url.PathUnescape(f.path)
	return p, err == nil
}
func (f *fakeReq) visitHeaders(fn func(n, v []byte)) {
	for k, v := range f.hdr {
		fn(bytesOf(k), bytesOf(v))
	}
}
func (f *fakeReq) visitQuery(fn func(n, v []byte)) {
	for _, kv := range f.q {
		fn(bytesOf(kv[0]), bytesOf(kv[1]))
	}
}
func (f *fakeReq) queryValue(n string) ([]byte, bool) {
	for _, kv := range f.q {
		if kv[0] == n {
			return bytesOf(kv[1]), true
		}
	}
	return nil, false
}

type fakeResp struct {
	code  int
	hdr   [][2]string
	out   []byte
	arena []byte // header values written by addHeaderBytes
}

func (f *fakeResp) setStatus(c int) { f.code = c }
func (f *fakeResp) status() int     { return f.code }
func (f *fakeResp) addHeader(n, v string) {
	f.hdr = append(f.hdr, [2]string{n, v})
}
func (f *fakeResp) addHeaderBytes(n string, v []byte) {
	// Copy into a preallocated arena so that the fake itself does not
	// allocate in the allocation test.
	start := len(f.arena)
	f.arena = append(f.arena, v...)
	f.hdr = append(f.hdr, [2]string{n, unsafe.String(unsafe.SliceData(f.arena[start:]), len(v))})
}
func (f *fakeResp) write(p []byte) { f.out = append(f.out, p...) }
func (f *fakeResp) size() int      { return len(f.out) }
func (f *fakeResp) reset() {
	f.code, f.hdr, f.out = 0, f.hdr[:0], f.out[:0]
	if cap(f.arena) < 4096 {
		f.arena = make([]byte, 0, 4096)
	}
	f.arena = f.arena[:0]
}
func (f *fakeResp) get(n string) string {
	for _, h := range f.hdr {
		if h[0] == n {
			return h[1]
		}
	}
	return ""
}

func newTestRuntime(t testing.TB, cfg Config) *Runtime {
	t.Helper()
	st, err := embedded.OpenMemory(nil)
	if err != nil {
		t.Fatal(err)
	}
	state, err := api.New(api.Config{AppID: "myapp", Stores: []api.StoreEntry{{Spec: component.Spec{Name: "statestore", Type: "state.in-memory", Version: "v1"}, Store: st}}, DisableMetrics: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = state.Close() })
	if cfg.AppID == "" {
		cfg.AppID = "myapp"
	}
	rt, err := New(cfg, state, state.Components())
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

func do(rt *Runtime, meth, path string, body string, hdr map[string]string, q ...[2]string) *fakeResp {
	w := &fakeResp{}
	rt.serve(w, &fakeReq{meth: meth, path: cleanPath(path), hdr: hdr, q: q, data: []byte(body)}, false)
	return w
}

func TestMatch(t *testing.T) {
	f := func(method, path string, want routeID, p0, p1 string) {
		t.Helper()
		id, params := match(method, cleanPath(path))
		if id != want || (want != routeNone && (params[0] != p0 || params[1] != p1)) {
			t.Fatalf("match(%s %s) = %d %q, want %d [%q %q]", method, path, id, params, want, p0, p1)
		}
	}
	f("GET", "/v1.0/healthz", routeHealthz, "", "")
	f("POST", "/v1.0/healthz", routeNone, "", "")
	f("GET", "/v1.0/healthz/outbound", routeHealthzOutbound, "", "")
	f("GET", "/v1.0/metadata", routeMetadataGet, "", "")
	f("PUT", "/v1.0/metadata/k1", routeMetadataPut, "k1", "")
	f("POST", "/v1.0/shutdown", routeShutdown, "", "")
	f("GET", "/v1.0/shutdown", routeNone, "", "")
	f("POST", "/v1.0/state/s", routeStateSave, "s", "")
	f("PUT", "/v1.0/state/s/", routeStateSave, "s", "")
	f("GET", "/v1.0/state/s", routeNone, "", "")
	f("GET", "/v1.0/state/s/k", routeStateGet, "s", "k")
	f("GET", "//v1.0//state/s//k9", routeStateGet, "s", "k9")
	f("GET", "/v1.0/state/s/bulk", routeStateGet, "s", "bulk")
	f("POST", "/v1.0/state/s/bulk", routeStateBulk, "s", "bulk")
	f("PUT", "/v1.0/state/s/transaction", routeStateTx, "s", "transaction")
	f("DELETE", "/v1.0/state/s/k", routeStateDelete, "s", "k")
	f("POST", "/v1.0/state/s/k", routeNone, "", "")
	f("GET", "/v1.0/state/s/a/b", routeNone, "", "")
	f("POST", "/v1.0-alpha1/state/s/query", routeStateQuery, "s", "")
	f("POST", "/v1.0/state/s/query", routeNone, "", "")
	f("HEAD", "/v1.0/state/s/k", routeNone, "", "")
	f("GET", "/v1.0/state/s/k/x/y/z", routeNone, "", "")
}

func TestMetricPath(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		if got := metricPath(in); got != want {
			t.Fatalf("metricPath(%q) = %q, want %q", in, got, want)
		}
	}
	f("/v1.0/state/statestore/mykey", "/v1.0/state/statestore")
	f("/v1.0/state/statestore", "/v1.0/state/statestore")
	f("/v1.0-alpha1/state/statestore/query", "/v1.0-alpha1/state/statestore")
	f("/v1.0/metadata/k", "/v1.0/metadata/k")
	f("/v1.0/healthz", "/v1.0/healthz")
}

func TestStateRoutesThroughServe(t *testing.T) {
	rt := newTestRuntime(t, Config{})
	w := do(rt, "POST", "/v1.0/state/statestore", `[{"key":"k1","value":{"a":1}}]`, nil, [2]string{"metadata.ttlInSeconds", "100"})
	if w.code != 204 || w.get("Content-Type") != "" {
		t.Fatalf("save: %d %q", w.code, w.out)
	}
	w = do(rt, "GET", "/v1.0/state/statestore/k1", "", map[string]string{"traceparent": "00-abc-def-01"})
	if w.code != 200 || string(w.out) != `{"a":1}` || w.get("Content-Type") != "application/json" || w.get("Etag") == "" ||
		w.get("Metadata.ttlexpiretime") == "" || w.get("Traceparent") != "00-abc-def-01" {
		t.Fatalf("get: %d %q %v", w.code, w.out, w.hdr)
	}
	w = do(rt, "GET", "/v1.0/state/statestore/missing", "", nil)
	if w.code != 204 || w.get("Content-Type") != "" || w.get("Traceparent") != string(zeroTraceparent) {
		t.Fatalf("miss: %d %v", w.code, w.hdr)
	}
	w = do(rt, "POST", "/v1.0/state/statestore/bulk", `{"keys":["k1","nope"]}`, nil)
	if w.code != 200 || !bytes.HasPrefix(w.out, []byte(`[{"key":"k1","data":{"a":1}`)) || !bytes.HasSuffix(w.out, []byte("]\n")) {
		t.Fatalf("bulk: %d %q", w.code, w.out)
	}
	w = do(rt, "DELETE", "/v1.0/state/statestore/k1", "", map[string]string{"If-Match": "nope"})
	if w.code != 409 || w.get("Content-Type") != "application/json" || !bytes.Contains(w.out, []byte("ERR_STATE_DELETE")) {
		t.Fatalf("delete mismatch: %d %q", w.code, w.out)
	}
	w = do(rt, "POST", "/v1.0/state/statestore/transaction", `{"operations":[{"operation":"delete","request":{"key":"k1"}}]}`, nil)
	if w.code != 204 {
		t.Fatalf("tx: %d %q", w.code, w.out)
	}
	w = do(rt, "GET", "/v1.0/state/statestore/k1", "", nil)
	if w.code != 204 {
		t.Fatalf("after tx delete: %d %q", w.code, w.out)
	}
	w = do(rt, "GET", "/v1.0/state/nostore/k", "", nil)
	if w.code != 400 || !bytes.Contains(w.out, []byte(`"ERR_STATE_STORE_NOT_FOUND"`)) {
		t.Fatalf("no store: %d %q", w.code, w.out)
	}
	w = do(rt, "GET", "/v1.0/state/statestore/a%zz", "", nil)
	if w.code != 400 || w.get("Content-Type") != ctPlainText || !strings.HasPrefix(string(w.out), `failed to unescape request parameter "key". Error: `) {
		t.Fatalf("bad escape: %d %q", w.code, w.out)
	}
	w = do(rt, "POST", "/v1.0/state/statestore/k", "", nil)
	if w.code != 404 || string(w.out) != `{"errorCode":"ERR_DIRECT_INVOKE","message":"failed getting app id either from the URL path or the header dapr-app-id"}` || w.get("Content-Type") != "application/json" {
		t.Fatalf("fallback: %d %q", w.code, w.out)
	}
}

func TestHealthAndMetadata(t *testing.T) {
	rt := newTestRuntime(t, Config{AppPort: 1, AppChannelAddress: "127.0.0.1", EnabledFeatures: []string{"SchedulerReminders"}})
	w := do(rt, "GET", "/v1.0/healthz", "", nil)
	if w.code != 500 || string(w.out) != string(bodyNotReady) {
		t.Fatalf("healthz before ready: %d %q", w.code, w.out)
	}
	w = do(rt, "GET", "/v1.0/healthz/outbound", "", nil)
	if w.code != 500 || string(w.out) != string(bodyOutboundNotReady) {
		t.Fatalf("outbound before ready: %d %q", w.code, w.out)
	}
	rt.ready.Store(true) // MarkReady without the app probe
	if w = do(rt, "GET", "/v1.0/healthz/outbound", "", nil); w.code != 204 || len(w.out) != 0 {
		t.Fatalf("outbound ready: %d %q", w.code, w.out)
	}
	if w = do(rt, "GET", "/v1.0/healthz", "", nil); w.code != 500 {
		t.Fatalf("healthz must wait for the app port: %d", w.code)
	}
	rt.appReady.Store(true)
	if w = do(rt, "GET", "/v1.0/healthz", "", nil); w.code != 204 {
		t.Fatalf("healthz ready: %d", w.code)
	}
	if w = do(rt, "GET", "/v1.0/healthz", "", nil, [2]string{"appid", "other"}); w.code != 500 || string(w.out) != string(bodyAppIDNotMatch) {
		t.Fatalf("healthz appid: %d %q", w.code, w.out)
	}
	if w = do(rt, "GET", "/v1.0/healthz", "", nil, [2]string{"appid", "myapp"}); w.code != 204 {
		t.Fatalf("healthz appid ok: %d", w.code)
	}
	if w = do(rt, "PUT", "/v1.0/metadata/myKey", "hello-value", nil); w.code != 204 {
		t.Fatalf("put metadata: %d", w.code)
	}
	w = do(rt, "GET", "/v1.0/metadata", "", nil)
	want := `{"id":"myapp","runtimeVersion":"1.18.3","enabledFeatures":["SchedulerReminders"],"components":[{"name":"statestore","type":"state.in-memory","version":"v1","capabilities":["ETAG","TRANSACTIONAL","TTL","QUERY_API","ACTOR"]}],"extended":{"daprRuntimeVersion":"1.18.3","myKey":"hello-value"},"appConnectionProperties":{"port":1,"protocol":"http","channelAddress":"127.0.0.1"},"actorRuntime":{"runtimeStatus":"DISABLED","hostReady":false,"placement":"placement: disconnected"},"workflows":{}}` + "\n"
	if w.code != 200 || string(w.out) != want {
		t.Fatalf("metadata:\n%s\nwant\n%s", w.out, want)
	}
	var js map[string]any
	if err := json.Unmarshal(w.out, &js); err != nil {
		t.Fatal(err)
	}
	if p := rt.MetadataProto(); p.Id != "myapp" || p.ExtendedMetadata["myKey"] != "hello-value" || len(p.RegisteredComponents) != 1 {
		t.Fatalf("proto metadata %v", p)
	}
}

func TestAPIToken(t *testing.T) {
	rt := newTestRuntime(t, Config{APIToken: "tok"})
	rt.MarkReady()
	if w := do(rt, "GET", "/v1.0/metadata", "", nil); w.code != 401 || string(w.out) != "invalid api token\n" || w.get("Content-Type") != ctPlainText {
		t.Fatalf("no token: %d %q", w.code, w.out)
	}
	if w := do(rt, "GET", "/v1.0/nothing", "", nil); w.code != 401 {
		t.Fatalf("unknown route without token: %d", w.code)
	}
	if w := do(rt, "GET", "/v1.0/metadata", "", map[string]string{"dapr-api-token": "tok"}); w.code != 200 {
		t.Fatalf("token: %d", w.code)
	}
	if w := do(rt, "GET", "/v1.0/healthz", "", nil); w.code != 204 {
		t.Fatalf("healthz exempt: %d", w.code)
	}
	if w := do(rt, "GET", "/v1.0/healthz/outbound", "", nil); w.code != 204 {
		t.Fatalf("outbound exempt: %d", w.code)
	}
	if w := do(rt, "POST", "/v1.0/shutdown", "", nil); w.code != 401 {
		t.Fatalf("shutdown needs the token: %d", w.code)
	}
}

func TestAPIAllowDeny(t *testing.T) {
	rt := newTestRuntime(t, Config{APIAllowed: []APIRule{{Name: "state", Version: "v1.0", Protocol: "http"}}})
	rt.MarkReady()
	if w := do(rt, "GET", "/v1.0/metadata", "", nil); w.code != 404 {
		t.Fatalf("metadata not allowed: %d", w.code)
	}
	if w := do(rt, "GET", "/v1.0/state/statestore/k", "", nil); w.code != 204 {
		t.Fatalf("state allowed: %d", w.code)
	}
	if w := do(rt, "GET", "/v1.0/healthz", "", nil); w.code != 204 {
		t.Fatalf("healthz always allowed: %d", w.code)
	}
	rt2 := newTestRuntime(t, Config{APIDenied: []APIRule{{Name: "state", Version: "v1", Protocol: "HTTP"}}})
	if w := do(rt2, "GET", "/v1.0/state/statestore/k", "", nil); w.code != 404 {
		t.Fatalf("state denied: %d", w.code)
	}
	if w := do(rt2, "POST", "/v1.0-alpha1/state/statestore/query", "{}", nil); w.code == 404 {
		t.Fatalf("the alpha query group (v1alpha1) is not denied by a v1 rule: %d", w.code)
	}
	// lock and unlock are two groups, as in daprd: allowing one leaves the
	// other out.
	rt4 := newTestRuntime(t, Config{APIAllowed: []APIRule{{Name: "lock", Version: "v1alpha1", Protocol: "http"}}})
	if w := do(rt4, "POST", "/v1.0-alpha1/lock/l", `{"expiryInSeconds":1}`, nil); w.code != 500 || !strings.Contains(string(w.out), "ERR_LOCK_STORE_NOT_CONFIGURED") {
		t.Fatalf("lock allowed: %d %s", w.code, w.out)
	}
	if w := do(rt4, "POST", "/v1.0-alpha1/unlock/l", `{}`, nil); w.code != 404 {
		t.Fatalf("unlock not allowed by a lock rule: %d", w.code)
	}
	// publish v1alpha1 allows the alpha bulk route only.
	rt5 := newTestRuntime(t, Config{APIAllowed: []APIRule{{Name: "publish", Version: "v1alpha1", Protocol: "http"}}})
	if w := do(rt5, "POST", "/v1.0-alpha1/publish/bulk/ps/t", `[]`, nil); w.code != 404 || !strings.Contains(string(w.out), "ERR_PUBSUB_NOT_FOUND") {
		t.Fatalf("bulk publish allowed: %d %s", w.code, w.out)
	}
	// Without "invoke" in the allowlist daprd has no fallback route: chi
	// answers.
	if w := do(rt5, "POST", "/v1.0/publish/ps/t", `x`, nil); w.code != 404 || string(w.out) != "404 page not found\n" {
		t.Fatalf("publish v1 not allowed by a v1alpha1 rule: %d %s", w.code, w.out)
	}
	if w := do(rt5, "GET", "/v1.0-alpha1/publish/bulk/ps/t", ``, nil); w.code != 405 || w.get("Allow") != "PUT" && w.get("Allow") != "POST" {
		t.Fatalf("wrong method without the fallback: %d %v", w.code, w.hdr)
	}
	rt6 := newTestRuntime(t, Config{APIAllowed: []APIRule{{Name: "publish", Version: "v1alpha1", Protocol: "http"}, {Name: "invoke", Version: "v1", Protocol: "http"}}})
	if w := do(rt6, "POST", "/v1.0/publish/ps/t", `x`, nil); w.code != 404 || !strings.Contains(string(w.out), "ERR_DIRECT_INVOKE") {
		t.Fatalf("publish v1 not allowed, invoke allowed: %d %s", w.code, w.out)
	}
	// Rules of another protocol (or none) do not apply to HTTP.
	rt3 := newTestRuntime(t, Config{APIAllowed: []APIRule{{Name: "state", Version: "v1", Protocol: "grpc"}}, APIDenied: []APIRule{{Name: "metadata", Version: "v1"}}})
	if w := do(rt3, "GET", "/v1.0/metadata", "", nil); w.code != 200 {
		t.Fatalf("grpc/empty-protocol rules must not apply to HTTP: %d", w.code)
	}
}

func TestPublicPortRoutes(t *testing.T) {
	rt := newTestRuntime(t, Config{APIToken: "tok"})
	rt.MarkReady()
	pub := func(meth, path string) *fakeResp {
		w := &fakeResp{}
		rt.serve(w, &fakeReq{meth: meth, path: cleanPath(path)}, true)
		return w
	}
	if w := pub("GET", "/v1.0/metadata"); w.code != 200 {
		t.Fatalf("public metadata (no token needed): %d", w.code)
	}
	if w := pub("GET", "/v1.0/state/statestore/k"); w.code != 404 || string(w.out) != "404 page not found\n" {
		t.Fatalf("public state: %d %q", w.code, w.out)
	}
	if w := pub("GET", "/v1.0/healthz"); w.code != 204 || w.get("Traceparent") != "" {
		t.Fatalf("public healthz: %d %v", w.code, w.hdr)
	}
}

// TestPublicPortMethodNotAllowed: the public port has no fallback route, so
// daprd's router (chi) answers a served path with another method 405, one
// Allow header per method and no body; a method chi does not know gets 405
// without Allow on any path; other paths stay 404 page not found.
func TestPublicPortMethodNotAllowed(t *testing.T) {
	rt := newTestRuntime(t, Config{APIDenied: []APIRule{{Name: "metadata", Version: "v1", Protocol: "http"}}})
	rtAll := newTestRuntime(t, Config{})
	for _, rt := range []*Runtime{rt, rtAll} {
		rt.MarkReady()
	}
	pub := func(rt *Runtime, meth, path string) *fakeResp {
		w := &fakeResp{}
		rt.serve(w, &fakeReq{meth: meth, path: cleanPath(path)}, true)
		return w
	}
	for _, c := range []struct {
		rt         *Runtime
		meth, path string
		code       int
		allow      string
	}{
		{rtAll, "POST", "/v1.0/healthz", 405, "GET"},
		{rtAll, "HEAD", "/v1.0/healthz/outbound", 405, "GET"},
		{rtAll, "POST", "/v1.0//healthz/", 405, "GET"},
		{rtAll, "PUT", "/v1.0/metadata", 405, "GET"},
		{rtAll, "GET", "/v1.0/metadata/k", 405, "PUT"},
		{rtAll, "FOO", "/v1.0/healthz", 405, ""},
		{rtAll, "FOO", "/nope", 405, ""},
		{rtAll, "POST", "/v1.0/state/statestore", 404, ""},
		{rtAll, "GET", "/v1.0/healthz/outbound/x", 404, ""},
		{rt, "PUT", "/v1.0/metadata", 404, ""}, // denied: not served at all
		{rt, "POST", "/v1.0/healthz", 405, "GET"},
	} {
		w := pub(c.rt, c.meth, c.path)
		var allow []string
		for _, h := range w.hdr {
			if h[0] == "Allow" {
				allow = append(allow, h[1])
			}
		}
		if w.code != c.code || strings.Join(allow, ",") != c.allow {
			t.Errorf("public %s %s: %d Allow %q, want %d %q", c.meth, c.path, w.code, allow, c.code, c.allow)
		}
		if c.code == 405 && (len(w.out) != 0 || w.get("Content-Type") != "") {
			t.Errorf("public %s %s: 405 with body %q / Content-Type %q", c.meth, c.path, w.out, w.get("Content-Type"))
		}
	}
}

func TestShutdownRoute(t *testing.T) {
	rt := newTestRuntime(t, Config{})
	if w := do(rt, "POST", "/v1.0/shutdown", "", nil); w.code != 204 {
		t.Fatalf("shutdown: %d", w.code)
	}
	<-rt.ShutdownRequested() // fails by timeout if never requested
	rt.Shutdown()            // idempotent
}

// TestShutdownRouteForced: dapr-force-shutdown: true (any case) calls
// ForceShutdown instead of the graceful shutdown (daprd 1.18); another value
// shuts down gracefully.
func TestShutdownRouteForced(t *testing.T) {
	forced := make(chan struct{})
	rt := newTestRuntime(t, Config{ForceShutdown: func() { close(forced) }})
	if w := do(rt, "POST", "/v1.0/shutdown", "", map[string]string{"Dapr-Force-Shutdown": "TRUE"}); w.code != 204 || len(w.out) != 0 {
		t.Fatalf("forced shutdown: %d %q", w.code, w.out)
	}
	select {
	case <-forced:
	case <-time.After(5 * time.Second):
		t.Fatal("ForceShutdown not called")
	}
	select {
	case <-rt.ShutdownRequested():
		t.Fatal("a forced shutdown also requested the graceful one")
	default:
	}
	rt2 := newTestRuntime(t, Config{ForceShutdown: func() { t.Error("ForceShutdown called for dapr-force-shutdown: no") }})
	if w := do(rt2, "POST", "/v1.0/shutdown", "", map[string]string{"dapr-force-shutdown": "no"}); w.code != 204 {
		t.Fatalf("shutdown: %d", w.code)
	}
	<-rt2.ShutdownRequested()
	time.Sleep(2 * ForceExitDelay) // a wrong ForceShutdown call would come by now
}

func TestGetAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	rt := newTestRuntime(t, Config{MetricsEnabled: true, Metrics: MetricsOptions{IncreasedCardinality: true}})
	rt.metrics = newHTTPMetrics("allocs-test", rt.cfg.Metrics)
	if w := do(rt, "POST", "/v1.0/state/statestore", `[{"key":"k","value":"v"}]`, nil); w.code != 204 {
		t.Fatalf("save: %d", w.code)
	}
	req := &fakeReq{meth: "GET", path: "/v1.0/state/statestore/k"}
	miss := &fakeReq{meth: "GET", path: "/v1.0/state/statestore/nokey"}
	w := &fakeResp{hdr: make([][2]string, 0, 8), out: make([]byte, 0, 64)}
	for _, r := range []*fakeReq{req, miss} {
		rt.serve(w, r, false) // warm pools and series
		w.reset()
		n := testing.AllocsPerRun(200, func() {
			w.reset()
			rt.serve(w, r, false)
		})
		if n != 0 {
			t.Errorf("GET %s: %v allocs per request, want 0", r.path, n)
		}
	}
}

func BenchmarkServeGet(b *testing.B) {
	rt := newTestRuntime(b, Config{MetricsEnabled: true, Metrics: MetricsOptions{IncreasedCardinality: true}})
	rt.metrics = newHTTPMetrics("bench", rt.cfg.Metrics)
	do(rt, "POST", "/v1.0/state/statestore", `[{"key":"k","value":{"hello":"world"}}]`, nil)
	req := &fakeReq{meth: "GET", path: "/v1.0/state/statestore/k"}
	w := &fakeResp{hdr: make([][2]string, 0, 8), out: make([]byte, 0, 64)}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w.reset()
		rt.serve(w, req, false)
	}
	if w.code != http.StatusOK {
		b.Fatalf("status %d", w.code)
	}
}

func TestHTTPMetricsLabels(t *testing.T) {
	scrape := func() string {
		var b bytes.Buffer
		metrics.WritePrometheus(&b, false)
		return b.String()
	}
	m := newHTTPMetrics("lbl-app", MetricsOptions{IncreasedCardinality: true, LatencyBuckets: []float64{1, 5}})
	m.record("GET", "/v1.0/state/s/key1", 200, 0, 3, nowFunc())
	m.record("GET", "/v1.0/state/s/key2", 200, 0, 3, nowFunc())
	m.record("BREW", "/x", 404, 0, 3, nowFunc())
	out := scrape()
	for _, want := range []string{
		`dapr_http_server_request_count{app_id="lbl-app",method="GET",path="/v1.0/state/s",status="200"} 2`,
		`dapr_http_server_response_count{app_id="lbl-app",method="GET",path="/v1.0/state/s",status="200"} 2`,
		`dapr_http_server_request_count{app_id="lbl-app",method="UNKNOWN",path="/x",status="404"} 1`,
		`dapr_http_server_latency_bucket{app_id="lbl-app",method="GET",path="/v1.0/state/s",status="200",le="5"} 2`,
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("exposition lacks %q", want)
		}
	}
	m2 := newHTTPMetrics("lbl-app2", MetricsOptions{IncreasedCardinality: false, ExcludeVerbs: true, LatencyBuckets: DefaultLatencyBuckets})
	m2.record("GET", "/v1.0/state/s/key1", 204, 0, 0, nowFunc())
	out = scrape()
	if !strings.Contains(out, `dapr_http_server_request_count{app_id="lbl-app2",method="",path="",status="204"} 1`) ||
		strings.Contains(out, `dapr_http_server_response_count{app_id="lbl-app2"`) {
		t.Fatalf("low-cardinality series wrong:\n%s", out)
	}
}

func TestHTTPMetricsPathMatching(t *testing.T) {
	m := newHTTPMetrics("pm-app", MetricsOptions{IncreasedCardinality: false, PathMatching: []string{"/v1.0/state/{store}/{key}"}, LatencyBuckets: DefaultLatencyBuckets})
	f := func(in, want string) {
		t.Helper()
		if got := m.metricsPath(in); got != want {
			t.Fatalf("metricsPath(%q) = %q, want %q", in, got, want)
		}
	}
	f("/v1.0/state/s/k1", "/v1.0/state/{store}/{key}")
	f("/v1.0/metadata", "")
	legacy := newHTTPMetrics("pm-app2", MetricsOptions{IncreasedCardinality: true, PathMatching: []string{"/v1.0/state/{store}/{key}"}, LatencyBuckets: DefaultLatencyBuckets})
	if got := legacy.metricsPath("/v1.0/metadata"); got != "/v1.0/metadata" {
		t.Fatalf("legacy fallback = %q", got)
	}
	if got := legacy.metricsPath("/v1.0/state/s/k"); got != "/v1.0/state/{store}/{key}" {
		t.Fatalf("legacy match = %q", got)
	}
}

// fakeEngine is an engine whose fail-stop state the test sets.
type fakeEngine struct{ err error }

func (e *fakeEngine) EngineMetrics() map[string]float64 { return nil }
func (e *fakeEngine) EngineErr() error                  { return e.err }

// TestHealthzFailedEngine: a store whose engine has failed (fail-stop, e.g.
// a full disk) makes /v1.0/healthz 500 so that an orchestrator restarts the
// sidecar; outbound health stays 204 because reads still work.
func TestHealthzFailedEngine(t *testing.T) {
	rt := newTestRuntime(t, Config{})
	good, bad := &fakeEngine{}, &fakeEngine{}
	rt.setHealthers(map[string]EngineMetricser{"a": good, "b": bad})
	rt.ready.Store(true)
	rt.appReady.Store(true)
	if w := do(rt, "GET", "/v1.0/healthz", "", nil); w.code != 204 {
		t.Fatalf("healthy engines: %d %q", w.code, w.out)
	}
	bad.err = errors.New("kv: cannot flush shard 0 (is the disk full?)")
	w := do(rt, "GET", "/v1.0/healthz", "", nil)
	if want := `{"errorCode":"ERR_HEALTH_NOT_READY","message":"dapr is not ready: [state store b]"}`; w.code != 500 || string(w.out) != want {
		t.Fatalf("failed engine: %d %q, want 500 %s", w.code, w.out, want)
	}
	if w := do(rt, "GET", "/v1.0/healthz/outbound", "", nil); w.code != 204 {
		t.Fatalf("outbound with a failed engine: %d", w.code)
	}
}

// remoteStore hides the embedded store's InlineReads, like a network store.
type remoteStore struct{ component.Store }

// TestGetBlockingFollowsStores: GET of a key runs on the event loop only
// when every store reads inline (the embedded engine); one remote store
// (Redis, PostgreSQL) moves it off the loop. Writes are always off it.
func TestGetBlockingFollowsStores(t *testing.T) {
	rt := newTestRuntime(t, Config{})
	if rt.routeBlocking(routeStateGet) || !rt.routeBlocking(routeStateSave) || rt.routeBlocking(routeHealthz) {
		t.Fatalf("embedded store: get blocking %v, save blocking %v, healthz blocking %v",
			rt.routeBlocking(routeStateGet), rt.routeBlocking(routeStateSave), rt.routeBlocking(routeHealthz))
	}
	local, err := embedded.OpenMemory(nil)
	if err != nil {
		t.Fatal(err)
	}
	remote, err := embedded.OpenMemory(nil)
	if err != nil {
		t.Fatal(err)
	}
	state, err := api.New(api.Config{AppID: "myapp", DisableMetrics: true, Stores: []api.StoreEntry{
		{Spec: component.Spec{Name: "local", Type: "state.in-memory"}, Store: local},
		{Spec: component.Spec{Name: "remote", Type: "state.redis"}, Store: remoteStore{remote}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = state.Close() })
	mixed, err := New(Config{AppID: "myapp"}, state, state.Components())
	if err != nil {
		t.Fatal(err)
	}
	if !mixed.routeBlocking(routeStateGet) {
		t.Fatal("a remote store must move GET off the event loop")
	}
	// The HTTP workers spin for the next request only with a remote store,
	// unless configured otherwise.
	if d := rt.spinWorker(); d != 0 {
		t.Fatalf("embedded stores: spin worker %v, want off", d)
	}
	if d := mixed.spinWorker(); d != DefaultSpinWorker {
		t.Fatalf("remote store: spin worker %v, want %v", d, DefaultSpinWorker)
	}
	mixed.cfg.HTTPSpinWorker = -1
	if d := mixed.spinWorker(); d != 0 {
		t.Fatalf("remote store, HTTPSpinWorker -1: spin worker %v, want off", d)
	}
	rt.cfg.HTTPSpinWorker = time.Millisecond
	if d := rt.spinWorker(); d != time.Millisecond {
		t.Fatalf("embedded stores, HTTPSpinWorker 1ms: spin worker %v", d)
	}
}
