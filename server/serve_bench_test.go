package server

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/statecar/statecar/internal/appchannel"
)

// The benchmarks of this file drive the route glue through serve (the
// middleware chain, the handler, api.State and the state.in-memory store)
// with the fake request/response of server_test.go, metrics on: what one
// request costs the sidecar above the transport. Bodies are those of
// bench/wrk (100-byte values over 10,000 keys).

// benchValue is a JSON string of 98 characters: a stored value of 100 bytes.
var benchValue = `"` + strings.Repeat("v", 98) + `"`

func newBenchRuntime(b *testing.B) *Runtime {
	b.Helper()
	rt := newTestRuntime(b, Config{MetricsEnabled: true, Metrics: MetricsOptions{IncreasedCardinality: true, LatencyBuckets: DefaultLatencyBuckets}})
	rt.metrics = newHTTPMetrics("bench", rt.cfg.Metrics)
	var body strings.Builder
	for blk := range 100 {
		body.Reset()
		body.WriteByte('[')
		for i := range 100 {
			if i > 0 {
				body.WriteByte(',')
			}
			body.WriteString(`{"key":"k` + strconv.Itoa(blk*100+i) + `","value":` + benchValue + `}`)
		}
		body.WriteByte(']')
		if w := do(rt, "POST", "/v1.0/state/statestore", body.String(), nil); w.code != http.StatusNoContent {
			b.Fatalf("preload: %d %s", w.code, w.out)
		}
	}
	return rt
}

// benchServe runs reqs round-robin through serve and checks the status of
// the last one.
func benchServe(b *testing.B, rt *Runtime, reqs []*fakeReq, want int) {
	w := &fakeResp{hdr: make([][2]string, 0, 8), out: make([]byte, 0, 64<<10)}
	for _, r := range reqs { // warm pools and metric series
		w.reset()
		rt.serve(w, r, false)
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		w.reset()
		rt.serve(w, reqs[i%len(reqs)], false)
		i++
	}
	if w.code != want {
		b.Fatalf("status %d, want %d: %s", w.code, want, w.out)
	}
}

// benchKeys returns n pseudo-random key numbers below 10,000.
func benchKeys(n int) []int {
	ks := make([]int, n)
	x := uint32(2463534242)
	for i := range ks {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		ks[i] = int(x % 10000)
	}
	return ks
}

func BenchmarkServeSave(b *testing.B) {
	rt := newBenchRuntime(b)
	var reqs []*fakeReq
	for _, k := range benchKeys(64) {
		reqs = append(reqs, &fakeReq{meth: "POST", path: "/v1.0/state/statestore",
			data: []byte(`[{"key":"k` + strconv.Itoa(k) + `","value":` + benchValue + `}]`)})
	}
	benchServe(b, rt, reqs, http.StatusNoContent)
}

func BenchmarkServeBulkGet100(b *testing.B) {
	rt := newBenchRuntime(b)
	var reqs []*fakeReq
	ks := benchKeys(16 * 100)
	for i := range 16 {
		var body strings.Builder
		body.WriteString(`{"keys":[`)
		for j, k := range ks[i*100 : (i+1)*100] {
			if j > 0 {
				body.WriteByte(',')
			}
			body.WriteString(`"k` + strconv.Itoa(k) + `"`)
		}
		body.WriteString(`]}`)
		reqs = append(reqs, &fakeReq{meth: "POST", path: "/v1.0/state/statestore/bulk", data: []byte(body.String())})
	}
	benchServe(b, rt, reqs, http.StatusOK)
}

func BenchmarkServeTransaction10(b *testing.B) {
	rt := newBenchRuntime(b)
	var reqs []*fakeReq
	ks := benchKeys(16 * 10)
	for i := range 16 {
		var body strings.Builder
		body.WriteString(`{"operations":[`)
		for j, k := range ks[i*10 : (i+1)*10] {
			if j > 0 {
				body.WriteByte(',')
			}
			body.WriteString(`{"operation":"upsert","request":{"key":"k` + strconv.Itoa(k) + `","value":` + benchValue + `}}`)
		}
		body.WriteString(`]}`)
		reqs = append(reqs, &fakeReq{meth: "POST", path: "/v1.0/state/statestore/transaction", data: []byte(body.String())})
	}
	benchServe(b, rt, reqs, http.StatusNoContent)
}

func BenchmarkServeGetRandom(b *testing.B) {
	rt := newBenchRuntime(b)
	var reqs []*fakeReq
	for _, k := range benchKeys(64) {
		reqs = append(reqs, &fakeReq{meth: "GET", path: "/v1.0/state/statestore/k" + strconv.Itoa(k)})
	}
	benchServe(b, rt, reqs, http.StatusOK)
}

// BenchmarkServeInvoke is one service invocation of the own HTTP app
// (POST /v1.0/invoke/myapp/method/orders, 100-byte body) through serve:
// the route glue, header conversion and the app channel's net/http client,
// with a loopback httptest app answering 100 bytes.
func BenchmarkServeInvoke(b *testing.B) {
	reply := []byte(strings.Repeat("r", 100))
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(reply)
	}))
	b.Cleanup(app.Close)
	port := app.Listener.Addr().(*net.TCPAddr).Port
	ch := appchannel.New(appchannel.Config{Port: port})
	b.Cleanup(func() { _ = ch.Close() })
	rt := newTestRuntime(b, Config{AppChannel: ch, AppPort: port})
	req := &fakeReq{meth: "POST", path: "/v1.0/invoke/myapp/method/orders", data: []byte(benchValue),
		hdr: map[string]string{"Content-Type": "application/json", "User-Agent": "bench"}}
	benchServe(b, rt, []*fakeReq{req}, http.StatusOK)
}

// BenchmarkInvokePeerNetHTTP is the floor of BenchmarkServeInvoke: the same
// POST to the same kind of app with a bare net/http client, no sidecar.
func BenchmarkInvokePeerNetHTTP(b *testing.B) {
	reply := []byte(strings.Repeat("r", 100))
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(reply)
	}))
	b.Cleanup(app.Close)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	body := []byte(benchValue)
	b.ReportAllocs()
	for b.Loop() {
		resp, err := client.Post(app.URL+"/orders", "application/json", strings.NewReader(string(body)))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
}
