package h1

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var long = flag.Bool("long", false, "run the long torture variants (more connections, requests and garbage)")

// scale returns n, or n*100 with -long.
func scale(n int) int {
	if *long {
		return n * 100
	}
	return n
}

// testServer is a Server on 127.0.0.1:0 with a router of test routes.
type testServer struct {
	*Server
	addr   string
	gate   chan struct{} // /gate waits on it
	entry  chan struct{} // /gate signals entry
	tooBig chan bool     // /echo reports BodyTooLarge
}

func startServer(t *testing.T, mod func(*Config)) *testServer {
	t.Helper()
	ts := &testServer{gate: make(chan struct{}), entry: make(chan struct{}, 16), tooBig: make(chan bool, 16)}
	rt := NewRouter()
	rt.Handle("GET", "/v1.0/healthz", func(w *Response, _ *Request) { w.SetStatus(204) }, false)
	echo := func(prefix string) HandlerFunc {
		return func(w *Response, r *Request) {
			select {
			case ts.tooBig <- r.BodyTooLarge():
			default:
			}
			if r.BodyTooLarge() {
				w.AddHeader("Content-Type", "application/json")
				w.SetStatus(400)
				_, _ = w.WriteString(`{"errorCode":"ERR_MALFORMED_REQUEST","message":"stream too large"}`)
				return
			}
			ct, _ := r.Header("content-type")
			w.AddHeaderBytes("content-type", ct)
			_, _ = w.WriteString(prefix)
			_, _ = w.Write(r.Body())
		}
	}
	rt.Handle("POST", "/echo", echo(""), false)
	rt.Handle("PUT", "/echo", echo(""), false)
	rt.Handle("POST", "/becho", echo("B:"), true)
	rt.Handle("GET", "/sleep/{ms}", func(w *Response, r *Request) {
		ms, _ := strconv.Atoi(string(r.Param(0)))
		time.Sleep(time.Duration(ms) * time.Millisecond)
		fmt.Fprintf(w, "slept %d", ms)
	}, true)
	rt.Handle("GET", "/inline/{v}", func(w *Response, r *Request) { fmt.Fprintf(w, "inline %s", r.Param(0)) }, false)
	rt.Handle("GET", "/gate", func(w *Response, _ *Request) {
		ts.entry <- struct{}{}
		<-ts.gate
		_, _ = w.WriteString("through the gate")
	}, true)
	rt.Handle("GET", "/panic", func(*Response, *Request) { panic("boom") }, false)
	rt.Handle("GET", "/bpanic", func(*Response, *Request) { panic("boom") }, true)
	rt.Handle("GET", "/big/{n}", func(w *Response, r *Request) {
		n, _ := strconv.Atoi(string(r.Param(0)))
		w.AddHeader("Content-Type", "application/octet-stream")
		_, _ = w.Write(bytes.Repeat([]byte{'x'}, n))
	}, false)
	rt.Handle("GET", "/bbig/{n}", func(w *Response, r *Request) {
		n, _ := strconv.Atoi(string(r.Param(0)))
		w.AddHeader("Content-Type", "application/octet-stream")
		_, _ = w.Write(bytes.Repeat([]byte{'y'}, n))
	}, true)
	rt.Handle("GET", "/hdrs", func(w *Response, _ *Request) {
		w.AddHeader("traceparent", "00-0")
		w.AddHeader("etag", "7")
		w.AddHeader("Content-Type", "application/json")
		w.AddHeader("metadata.ttlExpireTime", "x\r\nInjected: 1")
		_, _ = w.WriteString(`"v"`)
	}, false)
	rt.Handle("GET", "/sniff", func(w *Response, _ *Request) { _, _ = w.WriteString("<html><body>x") }, false)
	rt.NotFound(func(w *Response, _ *Request) {
		w.AddHeader("Content-Type", "application/json")
		w.SetStatus(404)
		_, _ = w.WriteString(`{"errorCode":"ERR_DIRECT_INVOKE","message":"failed getting app id either from the URL path or the header dapr-app-id"}`)
	}, false)
	cfg := Config{
		Addrs:      []string{"127.0.0.1:0"},
		Router:     rt,
		EventLoops: 2,
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	ts.Server = s
	ts.addr = s.Addrs()[0].String()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return ts
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	// A guard against a hung test, not a timing assertion.
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	return c
}

// readResp reads one response from br with Go's parser.
func readResp(t *testing.T, br *bufio.Reader, method string) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// expectEOF asserts that the server closes c without sending anything more.
func expectEOF(t *testing.T, r io.Reader) {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil && !errors.Is(err, net.ErrClosed) && !isReset(err) {
		t.Fatalf("want EOF, got %v (after %q)", err, b)
	}
	if len(b) > 0 {
		t.Fatalf("want EOF, got extra bytes %q", b)
	}
}

func isReset(err error) bool { return err != nil && strings.Contains(err.Error(), "connection reset") }

var dateRe = `Date: [A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT\r\n`

func TestExactResponses(t *testing.T) {
	ts := startServer(t, nil)
	c := dial(t, ts.addr)
	br := bufio.NewReader(c)
	readRaw := func(req string, re string) {
		t.Helper()
		if _, err := c.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		// Read the head, then Content-Length bytes.
		var head bytes.Buffer
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			head.WriteString(line)
			if line == "\r\n" {
				break
			}
		}
		msg := head.String()
		if m := regexp.MustCompile(`Content-Length: (\d+)`).FindStringSubmatch(msg); m != nil && !strings.HasPrefix(req, "HEAD") {
			n, _ := strconv.Atoi(m[1])
			body := make([]byte, n)
			if _, err := io.ReadFull(br, body); err != nil {
				t.Fatal(err)
			}
			msg += string(body)
		}
		if !regexp.MustCompile(`^` + re + `$`).MatchString(msg) {
			t.Fatalf("response %q does not match %q", msg, re)
		}
	}
	readRaw("GET /v1.0/healthz HTTP/1.1\r\nHost: x\r\n\r\n", `HTTP/1\.1 204 No Content\r\n`+dateRe+`\r\n`)
	// Handler headers canonicalised and sorted like Go, CR/LF in values neutralised.
	readRaw("GET /hdrs HTTP/1.1\r\nHost: x\r\n\r\n", `HTTP/1\.1 200 OK\r\nContent-Type: application/json\r\nEtag: 7\r\n`+
		`Metadata\.ttlexpiretime: x  Injected: 1\r\nTraceparent: 00-0\r\n`+dateRe+`Content-Length: 3\r\n\r\n"v"`)
	readRaw("GET /sniff HTTP/1.1\r\nHost: x\r\n\r\n", `HTTP/1\.1 200 OK\r\n`+dateRe+`Content-Length: 13\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body>x`)
	readRaw("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", `HTTP/1\.1 404 Not Found\r\nContent-Type: application/json\r\n`+dateRe+
		`Content-Length: 118\r\n\r\n\{"errorCode":"ERR_DIRECT_INVOKE","message":"failed getting app id either from the URL path or the header dapr-app-id"\}`)
	readRaw("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", `HTTP/1\.1 200 OK\r\nContent-Type: \r\n`+dateRe+`Content-Length: 0\r\n\r\n`)
	readRaw("HEAD /v1.0/state/s/k HTTP/1.1\r\nHost: x\r\n\r\n", `HTTP/1\.1 404 Not Found\r\nContent-Type: application/json\r\n`+dateRe+`Content-Length: 118\r\n\r\n`)
}

func TestKeepAliveWithNetHTTP(t *testing.T) {
	ts := startServer(t, nil)
	tr := &http.Transport{MaxIdleConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr}
	reused := 0
	for i := 0; i < 50; i++ {
		trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
			if info.Reused {
				reused++
			}
		}}
		var req *http.Request
		body := fmt.Sprintf("payload-%d", i)
		switch i % 3 {
		case 0:
			req, _ = http.NewRequest("GET", "http://"+ts.addr+"/v1.0/healthz", nil)
		case 1:
			req, _ = http.NewRequest("POST", "http://"+ts.addr+"/echo", strings.NewReader(body))
		default:
			req, _ = http.NewRequest("POST", "http://"+ts.addr+"/becho", strings.NewReader(body))
		}
		req = req.WithContext(httptrace.WithClientTrace(context.Background(), trace))
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch i % 3 {
		case 0:
			if resp.StatusCode != 204 || len(b) != 0 {
				t.Fatalf("healthz: %d %q", resp.StatusCode, b)
			}
		case 1:
			if resp.StatusCode != 200 || string(b) != body {
				t.Fatalf("echo: %d %q", resp.StatusCode, b)
			}
		default:
			if resp.StatusCode != 200 || string(b) != "B:"+body {
				t.Fatalf("becho: %d %q", resp.StatusCode, b)
			}
		}
	}
	if reused != 49 {
		t.Fatalf("connection reused %d times, want 49", reused)
	}
}

func TestPipeliningOrder(t *testing.T) {
	ts := startServer(t, nil)
	c := dial(t, ts.addr)
	// Blocking requests sleep longest first; inline ones are instant: responses
	// must still come back in request order.
	var reqs bytes.Buffer
	var want []string
	for i, p := range []string{"/sleep/60", "/inline/a", "/sleep/30", "/inline/b", "/sleep/0", "/becho", "/inline/c", "/v1.0/healthz"} {
		if p == "/becho" {
			fmt.Fprintf(&reqs, "POST /becho HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n%d", i)
			want = append(want, fmt.Sprintf("B:%d", i))
			continue
		}
		fmt.Fprintf(&reqs, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", p)
		switch {
		case strings.HasPrefix(p, "/sleep/"):
			want = append(want, "slept "+p[7:])
		case strings.HasPrefix(p, "/inline/"):
			want = append(want, "inline "+p[8:])
		default:
			want = append(want, "")
		}
	}
	if _, err := c.Write(reqs.Bytes()); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	for i, w := range want {
		method := "GET"
		_, body := readResp(t, br, method)
		if body != w {
			t.Fatalf("response %d: %q want %q", i, body, w)
		}
	}
}

func TestChunkedUpload(t *testing.T) {
	ts := startServer(t, nil)
	// Go's client sends a body of unknown length chunked.
	pr, pw := io.Pipe()
	go func() {
		for i := 0; i < 20; i++ {
			fmt.Fprintf(pw, "part%02d;", i)
		}
		pw.Close()
	}()
	resp, err := http.Post("http://"+ts.addr+"/becho", "text/plain", pr)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var want strings.Builder
	for i := 0; i < 20; i++ {
		fmt.Fprintf(&want, "part%02d;", i)
	}
	if resp.StatusCode != 200 || string(b) != "B:"+want.String() {
		t.Fatalf("got %d %q", resp.StatusCode, b)
	}
	// Raw: extensions, trailers, then a keep-alive request on the same conn.
	c := dial(t, ts.addr)
	br := bufio.NewReader(c)
	fmt.Fprint(c, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4;a=b\r\nwiki\r\n5\r\npedia\r\n0\r\nExpires: never\r\n\r\n")
	if _, body := readResp(t, br, "POST"); body != "wikipedia" {
		t.Fatalf("raw chunked: %q", body)
	}
	fmt.Fprint(c, "GET /inline/z HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, body := readResp(t, br, "GET"); body != "inline z" {
		t.Fatalf("after chunked: %q", body)
	}
}

func TestExpectContinue(t *testing.T) {
	ts := startServer(t, nil)
	c := dial(t, ts.addr)
	br := bufio.NewReader(c)
	fmt.Fprint(c, "PUT /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
	line, err := br.ReadString('\n')
	if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("got %q, %v", line, err)
	}
	if line, _ = br.ReadString('\n'); line != "\r\n" {
		t.Fatalf("got %q after 100 Continue", line)
	}
	fmt.Fprint(c, "hello")
	if resp, body := readResp(t, br, "PUT"); resp.StatusCode != 200 || body != "hello" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	// Go's client waits for the 100 Continue before sending the body.
	tr := &http.Transport{ExpectContinueTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest("PUT", "http://"+ts.addr+"/echo", strings.NewReader("with expect"))
	req.Header.Set("Expect", "100-continue")
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "with expect" {
		t.Fatalf("got %q", b)
	}
	// Any other expectation: 417 and close, like Go.
	c2 := dial(t, ts.addr)
	fmt.Fprint(c2, "PUT /echo HTTP/1.1\r\nHost: x\r\nExpect: magic\r\nContent-Length: 1\r\n\r\nz")
	br2 := bufio.NewReader(c2)
	resp2, _ := readResp(t, br2, "PUT")
	if resp2.StatusCode != 417 || !resp2.Close {
		t.Fatalf("got %d %v", resp2.StatusCode, resp2.Header)
	}
	expectEOF(t, br2)
}

func TestHTTP10(t *testing.T) {
	ts := startServer(t, nil)
	c := dial(t, ts.addr)
	fmt.Fprint(c, "GET /inline/x HTTP/1.0\r\n\r\n")
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^HTTP/1\.0 200 OK\r\n` + dateRe + `Content-Length: 8\r\nContent-Type: text/plain; charset=utf-8\r\n\r\ninline x$`).Match(b) {
		t.Fatalf("HTTP/1.0: %q", b)
	}
	c2 := dial(t, ts.addr)
	br := bufio.NewReader(c2)
	for i := 0; i < 2; i++ {
		fmt.Fprint(c2, "GET /inline/y HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
		resp, body := readResp(t, br, "GET")
		if body != "inline y" || resp.Header.Get("Connection") != "keep-alive" {
			t.Fatalf("1.0 keep-alive: %q %v", body, resp.Header)
		}
	}
}

func TestRejectsWithGoReplies(t *testing.T) {
	ts := startServer(t, nil)
	const eh = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"
	cases := []struct{ req, want string }{
		{"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", "HTTP/1.1 400 Bad Request" + eh + "400 Bad Request"},
		{"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "HTTP/1.1 400 Bad Request" + eh + "400 Bad Request"},
		{"GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n", "HTTP/1.1 400 Bad Request" + eh + "400 Bad Request"},
		{"GET / HTTP/1.1\nHost: x\n\n", "HTTP/1.1 400 Bad Request" + eh + "400 Bad Request"},
		{"GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 400 Bad Request: missing required Host header" + eh + "400 Bad Request: missing required Host header"},
		{"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", "HTTP/1.1 400 Bad Request: malformed Host header" + eh + "400 Bad Request: malformed Host header"},
		{"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", "HTTP/1.1 501 Not Implemented" + eh + "Unsupported transfer encoding"},
		{"GET / HTTP/3.0\r\nHost: x\r\n\r\n", "HTTP/1.1 505 HTTP Version Not Supported: unsupported protocol version" + eh + "505 HTTP Version Not Supported: unsupported protocol version"},
		{"GET / HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("a", 9000) + "\r\n\r\n", "HTTP/1.1 431 Request Header Fields Too Large" + eh + "431 Request Header Fields Too Large"},
		{"GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 400 Bad Request" + eh + "400 Bad Request"},
		{"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n", "HTTP/1.1 400 Bad Request" + eh + "400 Bad Request"},
	}
	for _, tc := range cases {
		c := dial(t, ts.addr)
		if _, err := c.Write([]byte(tc.req)); err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(c)
		if err != nil && !isReset(err) {
			t.Fatalf("%q: %v", tc.req[:20], err)
		}
		if string(b) != tc.want {
			t.Errorf("%q:\n got %q\nwant %q", tc.req[:min(40, len(tc.req))], b, tc.want)
		}
	}
	// The server is unharmed.
	resp, err := http.Get("http://" + ts.addr + "/inline/ok")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

func TestHeaderLimitFollowsGo(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxHeaderBytes = 1024 })
	// Like Go, the limit is MaxHeaderBytes + 4096 bytes of request line and headers.
	ok := "GET /inline/h HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("a", 4500) + "\r\n\r\n"
	c := dial(t, ts.addr)
	fmt.Fprint(c, ok)
	if resp, body := readResp(t, bufio.NewReader(c), "GET"); resp.StatusCode != 200 || body != "inline h" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	req, _ := http.NewRequest("GET", "http://"+ts.addr+"/inline/h", nil)
	req.Header.Set("X-Big", strings.Repeat("b", 6000))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 431 {
		t.Fatalf("got %d want 431", resp.StatusCode)
	}
}

func TestBodyTooLarge(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxBodySize = 1000 })
	for _, chunked := range []bool{false, true} {
		var body io.Reader = bytes.NewReader(bytes.Repeat([]byte("a"), 200000))
		if chunked {
			body = io.MultiReader(body) // unknown length: chunked
		}
		resp, err := http.Post("http://"+ts.addr+"/echo", "application/json", body)
		if err != nil {
			t.Fatalf("chunked=%v: %v", chunked, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(b), "stream too large") || !resp.Close {
			t.Fatalf("chunked=%v: %d %q close=%v", chunked, resp.StatusCode, b, resp.Close)
		}
		if !<-ts.tooBig {
			t.Fatal("handler did not see BodyTooLarge")
		}
	}
	// At the limit is fine.
	resp, err := http.Post("http://"+ts.addr+"/echo", "a/b", bytes.NewReader(bytes.Repeat([]byte("a"), 1000)))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(b) != 1000 || <-ts.tooBig {
		t.Fatalf("at limit: %d %d", resp.StatusCode, len(b))
	}
}

func TestTimeoutsCloseSlowClients(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.ReadHeaderTimeout = 150 * time.Millisecond
		c.ReadBodyTimeout = 150 * time.Millisecond
		c.IdleTimeout = 150 * time.Millisecond
	})
	// Slowloris: an unfinished head.
	c := dial(t, ts.addr)
	fmt.Fprint(c, "GET /inline/x HTTP/1.1\r\nHost: x\r\n")
	expectEOF(t, c)
	// A body that never completes.
	c = dial(t, ts.addr)
	fmt.Fprint(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
	expectEOF(t, c)
	// A connection that never sends anything.
	c = dial(t, ts.addr)
	expectEOF(t, c)
	// Idle after a response.
	c = dial(t, ts.addr)
	br := bufio.NewReader(c)
	fmt.Fprint(c, "GET /inline/x HTTP/1.1\r\nHost: x\r\n\r\n")
	readResp(t, br, "GET")
	expectEOF(t, br)
	// Idle after a blocking route's response (written by the worker itself).
	c = dial(t, ts.addr)
	br = bufio.NewReader(c)
	fmt.Fprint(c, "POST /becho HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nq")
	if _, body := readResp(t, br, "POST"); body != "B:q" {
		t.Fatalf("got %q", body)
	}
	expectEOF(t, br)
}

func TestConnectionCap(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxConns = 2 })
	var held []*bufio.Reader
	for i := 0; i < 2; i++ {
		c := dial(t, ts.addr)
		br := bufio.NewReader(c)
		fmt.Fprint(c, "GET /inline/x HTTP/1.1\r\nHost: x\r\n\r\n")
		readResp(t, br, "GET")
		held = append(held, br)
	}
	c := dial(t, ts.addr)
	fmt.Fprint(c, "GET /inline/x HTTP/1.1\r\nHost: x\r\n\r\n")
	expectEOF(t, c)
	_ = held
}

func TestPanicsAnswer500(t *testing.T) {
	ts := startServer(t, nil)
	for _, p := range []string{"/panic", "/bpanic"} {
		resp, err := http.Get("http://" + ts.addr + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 500 || !resp.Close {
			t.Fatalf("%s: %d close=%v", p, resp.StatusCode, resp.Close)
		}
	}
	resp, err := http.Get("http://" + ts.addr + "/inline/alive")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatal(resp.StatusCode)
	}
}

func TestLargeResponseThenClose(t *testing.T) {
	ts := startServer(t, nil)
	const n = 8 << 20
	c := dial(t, ts.addr)
	fmt.Fprint(c, "GET /big/8388608 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	time.Sleep(50 * time.Millisecond) // let gnet's outbound buffer fill before we read
	resp, body := readResp(t, bufio.NewReader(c), "GET")
	if resp.StatusCode != 200 || len(body) != n || !resp.Close {
		t.Fatalf("got %d, %d bytes, close=%v", resp.StatusCode, len(body), resp.Close)
	}
	expectEOF(t, c)
}

func TestShutdownWaitsForInflight(t *testing.T) {
	ts := startServer(t, nil)
	idle := dial(t, ts.addr)
	fmt.Fprint(idle, "GET /inline/x HTTP/1.1\r\nHost: x\r\n\r\n")
	ibr := bufio.NewReader(idle)
	readResp(t, ibr, "GET")

	c := dial(t, ts.addr)
	fmt.Fprint(c, "GET /gate HTTP/1.1\r\nHost: x\r\n\r\n")
	<-ts.entry
	done := make(chan error, 1)
	go func() { done <- ts.Shutdown(context.Background()) }()
	// The idle connection is closed while the blocking request still runs.
	expectEOF(t, ibr)
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v before the in-flight request finished", err)
	default:
	}
	close(ts.gate)
	resp, body := readResp(t, bufio.NewReader(c), "GET")
	if resp.StatusCode != 200 || body != "through the gate" || !resp.Close {
		t.Fatalf("in-flight: %d %q close=%v", resp.StatusCode, body, resp.Close)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := net.Dial("tcp", ts.addr); err == nil {
		t.Fatal("still accepting after Shutdown")
	}
}

func TestStartErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s, err := NewServer(Config{Addrs: []string{ln.Addr().String()}, Router: NewRouter(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err == nil {
		_ = s.Shutdown(context.Background())
		t.Fatal("Start on a port in use succeeded")
	} else if !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("Start on a port in use: %v, want the bind error", err)
	}
	if _, err := NewServer(Config{Addrs: []string{"127.0.0.1:0"}}); err == nil {
		t.Fatal("NewServer without a router succeeded")
	}
}

func TestManyConnectionsConcurrently(t *testing.T) {
	ts := startServer(t, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			cl := &http.Client{Transport: tr}
			for i := 0; i < scale(30); i++ {
				path, want := "/echo", fmt.Sprintf("g%d-%d", g, i)
				if i%2 == 1 {
					path = "/becho"
				}
				resp, err := cl.Post("http://"+ts.addr+path, "text/plain", strings.NewReader(want))
				if err != nil {
					errs <- err
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if path == "/becho" {
					want = "B:" + want
				}
				if string(b) != want {
					errs <- fmt.Errorf("got %q want %q", b, want)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestFragmentedWrites sends pipelined requests in small fragments, so that
// gnet hands them over in pieces and Peek often returns a copy of a
// non-contiguous buffer; every response must still be right and in order.
func TestFragmentedWrites(t *testing.T) {
	ts := startServer(t, nil)
	c := dial(t, ts.addr)
	var stream bytes.Buffer
	var want []string
	for i := 0; i < 12; i++ {
		switch i % 4 {
		case 0:
			fmt.Fprintf(&stream, "GET /inline/%d HTTP/1.1\r\nHost: x\r\nX-Pad: %s\r\n\r\n", i, strings.Repeat("p", i*7))
			want = append(want, fmt.Sprintf("inline %d", i))
		case 1:
			fmt.Fprintf(&stream, "POST /becho HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nb%03d", i)
			want = append(want, fmt.Sprintf("B:b%03d", i))
		case 2:
			fmt.Fprintf(&stream, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nc%d\r\n3;e=1\r\nxyz\r\n0\r\n\r\n", i%10)
			want = append(want, fmt.Sprintf("c%dxyz", i%10))
		default:
			fmt.Fprintf(&stream, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\ne%04d", i)
			want = append(want, fmt.Sprintf("e%04d", i))
		}
	}
	done := make(chan error, 1)
	go func() {
		b := stream.Bytes()
		for i := 0; len(b) > 0; i++ {
			n := min(1+i%7, len(b))
			if _, err := c.Write(b[:n]); err != nil {
				done <- err
				return
			}
			b = b[n:]
			if i%3 == 0 {
				time.Sleep(200 * time.Microsecond)
			}
		}
		done <- nil
	}()
	br := bufio.NewReader(c)
	for i, w := range want {
		if _, body := readResp(t, br, "GET"); body != w {
			t.Fatalf("response %d: %q want %q", i, body, w)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestShutdownDeadlineWithInflight: when ctx ends before a blocking request
// finishes, Shutdown still stops the engine and returns ctx's error; the late
// task must not touch the stopped engine (see Server.gate).
func TestShutdownDeadlineWithInflight(t *testing.T) {
	ts := startServer(t, nil)
	c := dial(t, ts.addr)
	fmt.Fprint(c, "GET /gate HTTP/1.1\r\nHost: x\r\n\r\n")
	<-ts.entry
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := ts.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v, want deadline exceeded", err)
	}
	select {
	case <-ts.done:
	case <-time.After(10 * time.Second):
		t.Fatal("engine did not stop")
	}
	close(ts.gate)
	for ts.inflight.Load() != 0 {
		time.Sleep(time.Millisecond)
	}
	expectEOF(t, c)
}

// TestGarbageDoesNotHurt throws random bytes and mutated requests at the
// server on concurrent connections; it must stay healthy for others.
func TestGarbageDoesNotHurt(t *testing.T) {
	ts := startServer(t, nil)
	seeds := make([][]byte, 0, len(parseCases))
	for _, pc := range parseCases {
		seeds = append(seeds, []byte(pc.in))
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			rnd := uint64(g*7919 + 1)
			next := func() uint64 { rnd ^= rnd << 13; rnd ^= rnd >> 7; rnd ^= rnd << 17; return rnd }
			for i := 0; i < scale(10); i++ {
				c, err := net.Dial("tcp", ts.addr)
				if err != nil {
					t.Error(err)
					return
				}
				_ = c.SetDeadline(time.Now().Add(20 * time.Second))
				msg := append([]byte(nil), seeds[next()%uint64(len(seeds))]...)
				for k := 0; k < 1+int(next()%8); k++ {
					if len(msg) > 0 {
						msg[next()%uint64(len(msg))] = byte(next())
					}
				}
				if next()%4 == 0 {
					msg = append(msg, bytes.Repeat([]byte{byte(next())}, int(next()%20000))...)
				}
				_, _ = c.Write(msg)
				_ = c.(*net.TCPConn).CloseWrite()
				_, _ = io.Copy(io.Discard, c)
				_ = c.Close()
			}
		}(g)
	}
	wg.Wait()
	resp, err := http.Get("http://" + ts.addr + "/inline/alive")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "inline alive" {
		t.Fatalf("got %q", b)
	}
}

func TestListenAllInterfacesAndTwoAddrs(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.Addrs = []string{":0", "127.0.0.1:0"} })
	if len(ts.Addrs()) != 2 {
		t.Fatalf("Addrs = %v", ts.Addrs())
	}
	for _, a := range ts.Addrs() {
		port := a.(*net.TCPAddr).Port
		if port == 0 {
			t.Fatalf("unbound port in %v", ts.Addrs())
		}
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/inline/p", port))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "inline p" {
			t.Fatalf("%v: %q", a, b)
		}
	}
}

func TestUnixSocket(t *testing.T) {
	sock := t.TempDir() + "/h1.sock"
	ts := startServer(t, func(c *Config) { c.Addrs = []string{"unix://" + sock} })
	if a, ok := ts.Addrs()[0].(*net.UnixAddr); !ok || a.Name != sock {
		t.Fatalf("Addrs = %v", ts.Addrs())
	}
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Post("http://x/becho", "a/b", strings.NewReader("over unix"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "B:over unix" {
		t.Fatalf("got %q", b)
	}
}

// TestBlockingLargeResponse: the socket cannot take 8 MiB at once, so the
// task's direct write is partial and the rest goes through AsyncWrite; the
// connection then serves the next requests (pipelined before and after).
func TestBlockingLargeResponse(t *testing.T) {
	ts := startServer(t, nil)
	c := dial(t, ts.addr)
	fmt.Fprint(c, "GET /bbig/8388608 HTTP/1.1\r\nHost: x\r\n\r\nGET /inline/next HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(50 * time.Millisecond) // let the socket buffers fill before reading
	br := bufio.NewReader(c)
	if resp, body := readResp(t, br, "GET"); resp.StatusCode != 200 || len(body) != 8<<20 || strings.Trim(body, "y") != "" {
		t.Fatalf("big: %d, %d bytes", resp.StatusCode, len(body))
	}
	if _, body := readResp(t, br, "GET"); body != "inline next" {
		t.Fatalf("next: %q", body)
	}
	fmt.Fprint(c, "POST /becho HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
	if _, body := readResp(t, br, "POST"); body != "B:abc" {
		t.Fatalf("after: %q", body)
	}
}

func TestDoneAndErr(t *testing.T) {
	ts := startServer(t, nil)
	select {
	case <-ts.Done():
		t.Fatal("Done closed while running")
	default:
	}
	if err := ts.Err(); err != nil {
		t.Fatal(err)
	}
	if err := ts.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-ts.Done()
	if err := ts.Err(); err != nil {
		t.Fatalf("Err after a clean Shutdown: %v", err)
	}
}
