package bench

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"
)

type respCase struct {
	raw    string
	status int
	body   string
	close  bool
}

var respCases = []respCase{
	{"HTTP/1.1 204 No Content\r\n\r\n", 204, "", false},
	{"HTTP/1.1 204 No Content\r\nEtag: 1\r\nTraceparent: 00-0-0-00\r\n\r\n", 204, "", false},
	{"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 3\r\n\r\n\"v\"", 200, `"v"`, false},
	{"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", 200, "", false},
	{"HTTP/1.1 200\r\nCONTENT-LENGTH:  5 \r\n\r\nhello", 200, "hello", false},
	{"HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok", 200, "ok", true},
	{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok", 200, "ok", false},
	{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n[1,\r\n2\r\n2]\r\n0\r\n\r\n", 200, "[1,2]", false},
	{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nA;ext=1\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\n", 200, "0123456789", false},
	{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 200, "", false},
	{"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: 53\r\n\r\n{\"errorCode\":\"ERR_MALFORMED_REQUEST\",\"message\":\"EOF\"}", 400, `{"errorCode":"ERR_MALFORMED_REQUEST","message":"EOF"}`, false},
	{"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", 304, "", false},
}

var respRejects = []string{
	"HTTX/1.1 200 OK\r\n\r\n",
	"HTTP/1.1 2x0 OK\r\n\r\n",
	"HTTP/1.1 200OK\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc",
	"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nX: a\r\n folded\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nno colon\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\n\r\n", // keep-alive response without a length
	"garbage",
}

func TestParseResponseTable(t *testing.T) {
	for _, c := range respCases {
		b := []byte(c.raw)
		resp, n, err := parseResponse(b)
		if err != nil {
			t.Errorf("%q: %v", c.raw, err)
			continue
		}
		if n != len(c.raw) || resp.Status != c.status || string(resp.Body) != c.body || resp.Close != c.close {
			t.Errorf("%q: got n=%d status=%d body=%q close=%v", c.raw, n, resp.Status, resp.Body, resp.Close)
		}
		// Every proper prefix is incomplete, never an error or a response.
		for i := range len(c.raw) {
			if _, _, err := parseResponse([]byte(c.raw[:i])); err != errShortResponse {
				t.Errorf("%q: prefix of %d bytes: err %v, want incomplete", c.raw, i, err)
				break
			}
		}
	}
}

func TestParseResponseRejects(t *testing.T) {
	for _, raw := range respRejects {
		if _, _, err := parseResponse([]byte(raw)); err == nil || err == errShortResponse {
			t.Errorf("%q: accepted (err %v)", raw, err)
		}
	}
}

// TestRespReaderStream feeds all table responses back to back (pipelined)
// through readers that split the stream at every byte and at arbitrary
// points, and checks that the same responses come out.
func TestRespReaderStream(t *testing.T) {
	var stream strings.Builder
	for _, c := range respCases {
		if !c.close {
			stream.WriteString(c.raw)
		}
	}
	check := func(name string, src io.Reader, bufSize int) {
		t.Helper()
		rr := NewRespReader(src, bufSize)
		for _, c := range respCases {
			if c.close {
				continue
			}
			resp, err := rr.Next()
			if err != nil {
				t.Fatalf("%s: %q: %v", name, c.raw, err)
			}
			if resp.Status != c.status || string(resp.Body) != c.body {
				t.Fatalf("%s: %q: got %d %q", name, c.raw, resp.Status, resp.Body)
			}
		}
		if _, err := rr.Next(); err != io.EOF {
			t.Fatalf("%s: after the last response: %v, want EOF", name, err)
		}
	}
	s := stream.String()
	check("whole", strings.NewReader(s), 4096)
	check("one byte at a time", iotest.OneByteReader(strings.NewReader(s)), 4096)
	check("half reads", iotest.HalfReader(strings.NewReader(s)), 4096)
	for split := 1; split < len(s); split += 7 {
		check("split", io.MultiReader(strings.NewReader(s[:split]), strings.NewReader(s[split:])), 4096)
	}
	// A body far larger than the initial buffer makes it grow.
	big := strings.Repeat("x", 100000)
	rr := NewRespReader(iotest.HalfReader(strings.NewReader("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"+big)), 4096)
	resp, err := rr.Next()
	if err != nil || string(resp.Body) != big {
		t.Fatalf("big body: err %v, %d bytes", err, len(resp.Body))
	}
}

func TestRespReaderTruncated(t *testing.T) {
	rr := NewRespReader(strings.NewReader("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"), 4096)
	if _, err := rr.Next(); err == nil || !strings.Contains(err.Error(), "unexpected EOF") {
		t.Fatalf("truncated body: %v", err)
	}
}

// loopReader returns the same bytes forever.
type loopReader struct {
	b []byte
	i int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], l.b[l.i:])
		n += c
		l.i = (l.i + c) % len(l.b)
	}
	return n, nil
}

func TestRespReaderAllocs(t *testing.T) {
	for _, raw := range []string{respCases[2].raw, respCases[7].raw} {
		rr := NewRespReader(&loopReader{b: []byte(raw)}, 4096)
		if n := testing.AllocsPerRun(1000, func() {
			if _, err := rr.Next(); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("%q: Next allocates %v times", raw, n)
		}
	}
}

func TestAppendRequestAllocsAndShape(t *testing.T) {
	shape := &reqShape{store: "my store", keyPrefix: "k", batch: 3, pay: NewPayload(16, 1)}
	d := &httpDriver{shape: shape, host: "127.0.0.1:3500", store: "my%20store", wbuf: make([]byte, 0, 4096), bbuf: make([]byte, 0, 4096)}
	g, _ := NewKeyGen(DistUniform, 1000, 1, nil)
	for op := Op(0); op < numOps; op++ {
		req := d.appendRequest(nil, op, g)
		head, body, ok := bytes.Cut(req, []byte("\r\n\r\n"))
		if !ok {
			t.Fatalf("%v: no end of head in %q", op, req)
		}
		r, err := http.ReadRequest(bufioReader(req))
		if err != nil {
			t.Fatalf("%v: net/http cannot read %q: %v", op, head, err)
		}
		if int(r.ContentLength) != len(body) && !(r.ContentLength == 0 && len(body) == 0) {
			t.Fatalf("%v: Content-Length %d, body %d bytes", op, r.ContentLength, len(body))
		}
		wantPath := map[Op]string{
			OpGet: "/v1.0/state/my%20store/k", OpDelete: "/v1.0/state/my%20store/k",
			OpSave: "/v1.0/state/my%20store", OpMSave: "/v1.0/state/my%20store",
			OpBulk: "/v1.0/state/my%20store/bulk", OpTx: "/v1.0/state/my%20store/transaction",
			OpQuery: "/v1.0-alpha1/state/my%20store/query",
		}[op]
		if !strings.HasPrefix(r.URL.EscapedPath(), wantPath) {
			t.Fatalf("%v: path %q, want prefix %q", op, r.URL.EscapedPath(), wantPath)
		}
		if len(body) > 0 && !jsonValid(body) {
			t.Fatalf("%v: body is not JSON: %s", op, body)
		}
		if n := testing.AllocsPerRun(200, func() { d.wbuf = d.appendRequest(d.wbuf[:0], op, g) }); n != 0 {
			t.Errorf("%v: building a request allocates %v times", op, n)
		}
	}
}

// TestHTTPConnAgainstNetHTTP drives a net/http server that answers in the
// ways daprd does (Content-Length, chunked, 204) through HTTPConn.
func TestHTTPConnAgainstNetHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1.0/state/s/missing":
			w.WriteHeader(204)
		case "/v1.0/state/s/big":
			w.Header().Set("Content-Type", "application/json")
			for range 100 { // no Content-Length: net/http chunks it
				_, _ = w.Write([]byte(strings.Repeat("a", 1000)))
				w.(http.Flusher).Flush()
			}
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`"v"`))
		}
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	c, err := DialHTTP(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range 3 {
		for _, tc := range []struct {
			path   string
			status int
			n      int
		}{{"/v1.0/state/s/k", 200, 3}, {"/v1.0/state/s/missing", 204, 0}, {"/v1.0/state/s/big", 200, 100000}} {
			resp, err := c.RoundTrip([]byte("GET " + tc.path + " HTTP/1.1\r\nHost: " + addr + "\r\n\r\n"))
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != tc.status || len(resp.Body) != tc.n {
				t.Fatalf("%s: %d with %d bytes, want %d with %d", tc.path, resp.Status, len(resp.Body), tc.status, tc.n)
			}
		}
	}
}

func TestTrivialServerRequestLen(t *testing.T) {
	f := func(in string, want int, wantErr bool) {
		t.Helper()
		n, err := requestLen([]byte(in))
		if n != want || (err != nil) != wantErr {
			t.Errorf("requestLen(%q) = %d, %v; want %d, err %v", in, n, err, want, wantErr)
		}
	}
	f("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27, false)
	f("GET / HTTP/1.1\r\nHost: x\r\n", 0, false)
	f("POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nab", 0, false)
	f("POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET", 41, false)
	f("POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n", 0, true)
}
