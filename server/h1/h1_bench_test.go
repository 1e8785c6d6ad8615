package h1

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

var (
	blockingPOST = []byte("POST /blocking/statestore HTTP/1.1\r\nHost: localhost:3500\r\nContent-Length: 2\r\n\r\n{}")
	benchGET     = []byte("GET /v1.0/state/statestore/key-123?metadata.partitionKey=p HTTP/1.1\r\nHost: localhost:3500\r\nUser-Agent: Go-http-client/1.1\r\nAccept-Encoding: gzip\r\n\r\n")
	benchPOST    = []byte("POST /v1.0/state/statestore HTTP/1.1\r\nHost: localhost:3500\r\nUser-Agent: Go-http-client/1.1\r\nContent-Length: 32\r\nContent-Type: application/json\r\nAccept-Encoding: gzip\r\n\r\n[{\"key\":\"key-123\",\"value\":\"v1\"}]")
)

func benchRouter() *Router {
	rt := NewRouter()
	rt.Handle("GET", "/v1.0/state/{storeName}/{key}", func(w *Response, r *Request) {
		w.AddHeader("Content-Type", "application/json")
		w.AddHeader("Etag", "1")
		_, _ = w.Write(r.Param(1))
	}, false)
	rt.Handle("POST", "/v1.0/state/{storeName}", func(w *Response, r *Request) {
		if len(r.Body()) == 0 {
			w.SetStatus(400)
			return
		}
		w.SetStatus(204)
	}, false)
	rt.Handle("POST", "/blocking/{storeName}", func(w *Response, r *Request) { w.SetStatus(204) }, true)
	rt.Handle("GET", "/v1.0/healthz", func(w *Response, _ *Request) { w.SetStatus(204) }, false)
	return rt
}

func BenchmarkParse(b *testing.B) {
	rt := benchRouter()
	for _, bc := range []struct {
		name string
		in   []byte
	}{{"GET", benchGET}, {"POST", benchPOST}} {
		b.Run(bc.name, func(b *testing.B) {
			rd := newReader(limits{maxHead: 8192, maxHdrs: 100, maxBody: 4 << 20, maxChunk: 4096})
			f := &fakeIn{}
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.in)))
			for b.Loop() {
				f.data = bc.in
				if rd.next(f) != resDone {
					b.Fatal("not parsed")
				}
				rt.route(&rd.req)
				rd.done(f)
			}
		})
	}
}

func BenchmarkWriteResponse(b *testing.B) {
	rd := newReader(limits{maxHead: 8192, maxHdrs: 100, maxBody: 4 << 20, maxChunk: 4096})
	f := &fakeIn{data: benchGET}
	if rd.next(f) != resDone {
		b.Fatal("not parsed")
	}
	var w Response
	date := []byte("Date: Sun, 22 Nov 2026 02:25:45 GMT\r\n")
	var out []byte
	b.ReportAllocs()
	for b.Loop() {
		w.reset()
		w.AddHeader("Content-Type", "application/json")
		w.AddHeader("Etag", "12345")
		w.AddHeader("Traceparent", "00-00000000000000000000000000000000-0000000000000000-00")
		_, _ = w.WriteString(`{"a":1}`)
		out = appendResponse(out[:0], &rd.req, &w, date, true, false)
	}
}

// roundTripper sends one fixed request per call on a warm connection and
// reads the fixed-size response.
type roundTripper struct {
	c    net.Conn
	req  []byte
	resp []byte
}

func newRoundTripper(tb testing.TB, addr string, req []byte) *roundTripper {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	if _, err := c.Write(req); err != nil {
		tb.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReaderSize(c, 1), nil) // unbuffered: nothing over-read
	if err != nil {
		tb.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		tb.Fatalf("status %d", resp.StatusCode)
	}
	// The response size is constant (the Date header has a fixed width):
	// measure it once from a raw exchange.
	if _, err := c.Write(req); err != nil {
		tb.Fatal(err)
	}
	buf := make([]byte, 4096)
	n := 0
	for {
		m, err := c.Read(buf[n:])
		if err != nil {
			tb.Fatal(err)
		}
		n += m
		if i := indexHeadEnd(buf[:n]); i > 0 && n >= i+len(body) {
			break
		}
	}
	return &roundTripper{c: c, req: req, resp: buf[:n]}
}

func indexHeadEnd(b []byte) int {
	for i := 3; i < len(b); i++ {
		if b[i] == '\n' && b[i-1] == '\r' && b[i-2] == '\n' && b[i-3] == '\r' {
			return i + 1
		}
	}
	return -1
}

func (rt *roundTripper) do(tb testing.TB) {
	if _, err := rt.c.Write(rt.req); err != nil {
		tb.Fatal(err)
	}
	if _, err := io.ReadFull(rt.c, rt.resp); err != nil {
		tb.Fatal(err)
	}
}

// startBenchServer starts a one-loop server on benchRouter; spin is its
// Config.SpinWorker.
func startBenchServer(tb testing.TB, spin time.Duration) string {
	s, err := NewServer(Config{Addrs: []string{"127.0.0.1:0"}, Router: benchRouter(), EventLoops: 1, SpinWorker: spin})
	if err != nil {
		tb.Fatal(err)
	}
	if err := s.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Shutdown(tb.Context()) })
	return s.Addrs()[0].String()
}

func BenchmarkRoundTrip(b *testing.B) {
	addr := startBenchServer(b, 0)
	spinAddr := startBenchServer(b, benchSpin)
	for _, bc := range []struct {
		name, addr string
		req        []byte
	}{
		{"inline-GET", addr, benchGET}, {"inline-POST", addr, benchPOST}, {"blocking-POST", addr, blockingPOST},
		{"blocking-POST-spin", spinAddr, blockingPOST}, // the worker spins for the next request (spinSlot)
	} {
		b.Run(bc.name, func(b *testing.B) {
			rt := newRoundTripper(b, bc.addr, bc.req)
			b.ReportAllocs()
			for b.Loop() {
				rt.do(b)
			}
		})
	}
}

// TestServeAllocs checks that a small GET and POST on a warm connection
// allocate nothing, end to end (client and server share the process; the raw
// client itself does not allocate), inline and on a blocking route.
func TestServeAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	addr := startBenchServer(t, 0)
	spinAddr := startBenchServer(t, benchSpin)
	for _, c := range []struct {
		addr string
		req  []byte
	}{{addr, benchGET}, {addr, benchPOST}, {addr, blockingPOST}, {spinAddr, blockingPOST}} {
		rt := newRoundTripper(t, c.addr, c.req)
		for i := 0; i < 100; i++ {
			rt.do(t)
		}
		if n := testing.AllocsPerRun(2000, func() { rt.do(t) }); n != 0 {
			t.Errorf("%s (spinning worker %v): %v allocs per request, want 0", c.req[:4], c.addr == spinAddr, n)
		}
	}
}

// benchSpin is the spin budget of the benchmarks' spinning server
// (server.DefaultSpinWorker's value).
const benchSpin = 200 * time.Microsecond
