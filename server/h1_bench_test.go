package server

import (
	"bytes"
	"context"
	"net"
	"strconv"
	"testing"
)

// startH1 serves rt's API on a free loopback port with the h1 transport.
func startH1(tb testing.TB, rt *Runtime) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	rt.cfg.HTTPPort = port
	rt.cfg.APIListenAddresses = []string{"127.0.0.1"}
	rt.cfg.HTTPEventLoops = 1
	if err := rt.startAPI(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = rt.Stop(context.Background()) })
	return "127.0.0.1:" + strconv.Itoa(port)
}

// roundTrip writes req and reads one response into buf (no allocation:
// it parses Content-Length by hand). It returns the status code.
func roundTrip(tb testing.TB, c net.Conn, req, buf []byte) int {
	if _, err := c.Write(req); err != nil {
		tb.Fatal(err)
	}
	n := 0
	for {
		m, err := c.Read(buf[n:])
		if err != nil {
			tb.Fatal(err)
		}
		n += m
		end := bytes.Index(buf[:n], []byte("\r\n\r\n"))
		if end < 0 {
			continue
		}
		cl := 0
		if i := bytes.Index(buf[:end], []byte("Content-Length: ")); i >= 0 {
			j := i + len("Content-Length: ")
			for ; buf[j] >= '0' && buf[j] <= '9'; j++ {
				cl = cl*10 + int(buf[j]-'0')
			}
		}
		if n >= end+4+cl {
			code := int(buf[9]-'0')*100 + int(buf[10]-'0')*10 + int(buf[11]-'0')
			return code
		}
	}
}

// TestH1EndToEnd checks the h1 wiring in process: routes, fallback and the
// token middleware.
func TestH1EndToEnd(t *testing.T) {
	rt := newTestRuntime(t, Config{APIToken: "tok"})
	rt.MarkReady()
	addr := startH1(t, rt)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 64<<10)
	f := func(req string, want int, wantBody string) {
		t.Helper()
		if got := roundTrip(t, c, []byte(req), buf); got != want {
			t.Fatalf("%q: status %d, want %d", req, got, want)
		}
		if wantBody != "" && !bytes.Contains(buf, []byte(wantBody)) {
			t.Fatalf("%q: response lacks %q", req, wantBody)
		}
	}
	body := `[{"key":"k","value":"v"}]`
	f("POST /v1.0/state/statestore HTTP/1.1\r\nHost: x\r\ndapr-api-token: tok\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body, 204, "")
	f("GET /v1.0/state/statestore/k HTTP/1.1\r\nHost: x\r\ndapr-api-token: tok\r\n\r\n", 200, "\r\nEtag: ")
	f("GET /v1.0/state/statestore/k HTTP/1.1\r\nHost: x\r\n\r\n", 401, "invalid api token")
	f("GET /v1.0/healthz HTTP/1.1\r\nHost: x\r\n\r\n", 204, "")
	f("POST /v1.0/state/statestore/k HTTP/1.1\r\nHost: x\r\ndapr-api-token: tok\r\nContent-Length: 0\r\n\r\n", 404, "ERR_DIRECT_INVOKE")
	f("GET /v1.0/metadata HTTP/1.1\r\nHost: x\r\ndapr-api-token: tok\r\n\r\n", 200, `"id":"myapp"`)
}

// BenchmarkH1Get measures a keep-alive GET hit through the real h1
// transport over loopback; allocs/op counts every goroutine of the process
// (client included, which allocates nothing).
func BenchmarkH1Get(b *testing.B) {
	rt := newTestRuntime(b, Config{MetricsEnabled: true, Metrics: MetricsOptions{IncreasedCardinality: true, LatencyBuckets: DefaultLatencyBuckets}})
	rt.metrics = newHTTPMetrics("h1bench", rt.cfg.Metrics)
	rt.MarkReady()
	addr := startH1(b, rt)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 64<<10)
	body := `[{"key":"k","value":{"hello":"world"}}]`
	if code := roundTrip(b, c, []byte("POST /v1.0/state/statestore HTTP/1.1\r\nHost: x\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body), buf); code != 204 {
		b.Fatalf("save: %d", code)
	}
	req := []byte("GET /v1.0/state/statestore/k HTTP/1.1\r\nHost: x\r\n\r\n")
	for range 100 {
		roundTrip(b, c, req, buf)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if code := roundTrip(b, c, req, buf); code != 200 {
			b.Fatalf("status %d", code)
		}
	}
}
