package h1

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// fakeIn is an inbound over a byte slice. In copy mode Peek returns a fresh
// copy that is poisoned by the next Discard, the way gnet recycles the copy it
// returns for non-contiguous buffers: a view used after Discard shows up as
// 'X' bytes in the transcript.
type fakeIn struct {
	data     []byte
	copyMode bool
	last     []byte
}

func (f *fakeIn) InboundBuffered() int { return len(f.data) }

func (f *fakeIn) Peek(n int) ([]byte, error) {
	if n > len(f.data) {
		panic("peek beyond buffered")
	}
	if !f.copyMode {
		return f.data[:n], nil
	}
	f.last = append([]byte(nil), f.data[:n]...)
	return f.last, nil
}

func (f *fakeIn) Discard(n int) (int, error) {
	for i := range f.last {
		f.last[i] = 'X'
	}
	f.last = nil
	f.data = f.data[n:]
	return n, nil
}

var testLimits = limits{maxHead: 512, maxHdrs: 8, maxBody: 64, maxChunk: 32}

func describe(r *Request) string {
	var hb strings.Builder
	r.VisitHeaders(func(n, v []byte) { fmt.Fprintf(&hb, "%s=%s;", n, v) })
	return fmt.Sprintf("%s %s ?%s v1.%d ka=%v cl=%d ch=%v big=%v e100=%v e417=%v [%s] %q",
		r.Method(), r.RawPath(), r.RawQuery(), r.minor, r.keepAlive, r.contentLength, r.chunked,
		r.bodyTooLarge, r.expect100, r.expectFailed, hb.String(), r.Body())
}

// transcript feeds pieces to a reader like the server does and records every
// request (described before done) and the final error, stopping where the
// server would close the connection.
func transcript(pieces [][]byte, copyMode bool) []string {
	rd := newReader(testLimits)
	f := &fakeIn{copyMode: copyMode}
	var out []string
	for _, p := range pieces {
		f.data = append(f.data, p...)
		for {
			switch rd.next(f) {
			case resMore:
			case resErr:
				return append(out, fmt.Sprintf("ERR %d", rd.err))
			case resDone:
				r := &rd.req
				out = append(out, describe(r))
				closeAfter := !r.keepAlive || r.bodyTooLarge || r.expectFailed
				rd.done(f)
				if closeAfter {
					return out
				}
				continue
			}
			break
		}
	}
	return out
}

type parseCase struct {
	name string
	in   string
	want []string // transcript; a single "ERR n" for rejects
}

const hostH = "Host: h\r\n"

var parseCases = []parseCase{
	{"get", "GET /v1.0/healthz HTTP/1.1\r\n" + hostH + "\r\n",
		[]string{`GET /v1.0/healthz ? v1.1 ka=true cl=-1 ch=false big=false e100=false e417=false [Host=h;] ""`}},
	{"query and spaces in values", "GET /a/b?x=1&y=%20 HTTP/1.1\r\nHost:   h  \r\nX-A:\t v \t\r\n\r\n",
		[]string{`GET /a/b ?x=1&y=%20 v1.1 ka=true cl=-1 ch=false big=false e100=false e417=false [Host=h;X-A=v;] ""`}},
	{"post cl", "POST /p HTTP/1.1\r\nhost: h\r\ncontent-length: 5\r\n\r\nhello",
		[]string{`POST /p ? v1.1 ka=true cl=5 ch=false big=false e100=false e417=false [host=h;content-length=5;] "hello"`}},
	{"pipelined", "GET /1 HTTP/1.1\r\n" + hostH + "\r\nPOST /2 HTTP/1.1\r\n" + hostH + "Content-Length: 2\r\n\r\nabGET /3 HTTP/1.1\r\n" + hostH + "Connection: close\r\n\r\n",
		[]string{
			`GET /1 ? v1.1 ka=true cl=-1 ch=false big=false e100=false e417=false [Host=h;] ""`,
			`POST /2 ? v1.1 ka=true cl=2 ch=false big=false e100=false e417=false [Host=h;Content-Length=2;] "ab"`,
			`GET /3 ? v1.1 ka=false cl=-1 ch=false big=false e100=false e417=false [Host=h;Connection=close;] ""`,
		}},
	{"chunked with extension and trailer", "POST /c HTTP/1.1\r\n" + hostH + "Transfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\nA \r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n",
		[]string{`POST /c ? v1.1 ka=true cl=-1 ch=true big=false e100=false e417=false [Host=h;Transfer-Encoding=chunked;] "abc0123456789"`}},
	{"http/1.0 default close", "GET / HTTP/1.0\r\n\r\n",
		[]string{`GET / ? v1.0 ka=false cl=-1 ch=false big=false e100=false e417=false [] ""`}},
	{"http/1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\nGET /b HTTP/1.0\r\n\r\n",
		[]string{
			`GET / ? v1.0 ka=true cl=-1 ch=false big=false e100=false e417=false [Connection=Keep-Alive;] ""`,
			`GET /b ? v1.0 ka=false cl=-1 ch=false big=false e100=false e417=false [] ""`,
		}},
	{"connection token list", "GET / HTTP/1.1\r\n" + hostH + "Connection: keep-alive, CLOSE\r\n\r\n",
		[]string{`GET / ? v1.1 ka=false cl=-1 ch=false big=false e100=false e417=false [Host=h;Connection=keep-alive, CLOSE;] ""`}},
	{"leading empty line rejected", "\r\nGET / HTTP/1.1\r\n" + hostH + "\r\n", []string{"ERR 1"}},
	{"CRLF after a POST body tolerated", "POST / HTTP/1.1\r\n" + hostH + "Content-Length: 1\r\n\r\nx\r\nGET / HTTP/1.1\r\n" + hostH + "\r\n",
		[]string{
			`POST / ? v1.1 ka=true cl=1 ch=false big=false e100=false e417=false [Host=h;Content-Length=1;] "x"`,
			`GET / ? v1.1 ka=true cl=-1 ch=false big=false e100=false e417=false [Host=h;] ""`,
		}},
	{"only 4 CR/LF after a POST", "POST / HTTP/1.1\r\n" + hostH + "Content-Length: 1\r\n\r\nx\r\n\r\n\r\nGET / HTTP/1.1\r\n" + hostH + "\r\n",
		[]string{`POST / ? v1.1 ka=true cl=1 ch=false big=false e100=false e417=false [Host=h;Content-Length=1;] "x"`, "ERR 1"}},
	{"expect 100-continue", "PUT /x HTTP/1.1\r\n" + hostH + "Expect: 100-continue\r\nContent-Length: 1\r\n\r\nz",
		[]string{`PUT /x ? v1.1 ka=true cl=1 ch=false big=false e100=true e417=false [Host=h;Expect=100-continue;Content-Length=1;] "z"`}},
	{"expect other", "PUT /x HTTP/1.1\r\n" + hostH + "Expect: fancy\r\nContent-Length: 1\r\n\r\nz",
		[]string{`PUT /x ? v1.1 ka=true cl=1 ch=false big=false e100=false e417=true [Host=h;Expect=fancy;Content-Length=1;] ""`}},
	{"identical duplicate cl", "POST / HTTP/1.1\r\n" + hostH + "Content-Length: 1\r\nContent-Length: 1\r\n\r\nq",
		[]string{`POST / ? v1.1 ka=true cl=1 ch=false big=false e100=false e417=false [Host=h;Content-Length=1;Content-Length=1;] "q"`}},
	{"cl body too large", "POST / HTTP/1.1\r\n" + hostH + "Content-Length: 65\r\n\r\n" + strings.Repeat("a", 65),
		[]string{`POST / ? v1.1 ka=true cl=65 ch=false big=true e100=false e417=false [Host=h;Content-Length=65;] ""`}},
	{"cl body at limit", "POST / HTTP/1.1\r\n" + hostH + "Content-Length: 64\r\n\r\n" + strings.Repeat("a", 64),
		[]string{`POST / ? v1.1 ka=true cl=64 ch=false big=false e100=false e417=false [Host=h;Content-Length=64;] "` + strings.Repeat("a", 64) + `"`}},
	{"chunked body too large", "POST / HTTP/1.1\r\n" + hostH + "Transfer-Encoding: chunked\r\n\r\n20\r\n" + strings.Repeat("a", 32) + "\r\n21\r\n",
		[]string{`POST / ? v1.1 ka=true cl=-1 ch=true big=true e100=false e417=false [Host=h;Transfer-Encoding=chunked;] ""`}},
	{"absolute form", "GET http://example.com/v1.0/x?q=1 HTTP/1.1\r\n" + hostH + "\r\n",
		[]string{`GET /v1.0/x ?q=1 v1.1 ka=true cl=-1 ch=false big=false e100=false e417=false [Host=h;] ""`}},
	{"asterisk", "OPTIONS * HTTP/1.1\r\n" + hostH + "\r\n",
		[]string{`OPTIONS * ? v1.1 ka=true cl=-1 ch=false big=false e100=false e417=false [Host=h;] ""`}},
	{"http/1.2 treated as 1.x", "GET / HTTP/1.2\r\n" + hostH + "\r\n",
		[]string{`GET / ? v1.2 ka=true cl=-1 ch=false big=false e100=false e417=false [Host=h;] ""`}},

	// Rejects.
	{"two different CLs", "POST / HTTP/1.1\r\n" + hostH + "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", []string{"ERR 1"}},
	{"CL and TE", "POST / HTTP/1.1\r\n" + hostH + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", []string{"ERR 1"}},
	{"TE and CL", "POST / HTTP/1.1\r\n" + hostH + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", []string{"ERR 1"}},
	{"TE gzip", "POST / HTTP/1.1\r\n" + hostH + "Transfer-Encoding: gzip\r\n\r\n", []string{"ERR 5"}},
	{"TE twice", "POST / HTTP/1.1\r\n" + hostH + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", []string{"ERR 5"}},
	{"TE list", "POST / HTTP/1.1\r\n" + hostH + "Transfer-Encoding: gzip, chunked\r\n\r\n", []string{"ERR 5"}},
	{"TE in 1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", []string{"ERR 1"}},
	{"obs-fold", "GET / HTTP/1.1\r\n" + hostH + "X-A: 1\r\n  folded\r\n\r\n", []string{"ERR 1"}},
	{"space before first header", "GET / HTTP/1.1\r\n Host: h\r\n\r\n", []string{"ERR 1"}},
	{"bare LF in headers", "GET / HTTP/1.1\r\nHost: h\nX: 1\r\n\r\n", []string{"ERR 1"}},
	{"bare LF request line", "GET / HTTP/1.1\n" + hostH + "\r\n", []string{"ERR 1"}},
	{"bare LF terminator", "GET / HTTP/1.1\r\n" + hostH + "\n", []string{"ERR 1"}},
	{"bare CR in value", "GET / HTTP/1.1\r\n" + hostH + "X: a\rb\r\n\r\n", []string{"ERR 1"}},
	{"space before colon", "GET / HTTP/1.1\r\n" + hostH + "X-A : 1\r\n\r\n", []string{"ERR 7"}},
	{"CL error after TE error is 501", "POST / HTTP/1.1\r\n" + hostH + "Content-Length: x\r\nTransfer-Encoding: gzip\r\n\r\n", []string{"ERR 5"}},
	{"version checked after headers", "GET / HTTP/2.0\r\nX-A: a\x01\r\n\r\n", []string{"ERR 1"}},
	{"version before host", "GET / HTTP/2.0\r\n\r\n", []string{"ERR 6"}},
	{"no colon", "GET / HTTP/1.1\r\n" + hostH + "X-A\r\n\r\n", []string{"ERR 1"}},
	{"ctl in value", "GET / HTTP/1.1\r\n" + hostH + "X-A: a\x01b\r\n\r\n", []string{"ERR 1"}},
	{"del in value", "GET / HTTP/1.1\r\n" + hostH + "X-A: a\x7fb\r\n\r\n", []string{"ERR 1"}},
	{"bad method char", "G(T / HTTP/1.1\r\n" + hostH + "\r\n", []string{"ERR 1"}},
	{"empty method", " / HTTP/1.1\r\n" + hostH + "\r\n", []string{"ERR 1"}},
	{"double space", "GET  / HTTP/1.1\r\n" + hostH + "\r\n", []string{"ERR 1"}},
	{"no version", "GET /\r\n" + hostH + "\r\n", []string{"ERR 1"}},
	{"bad version", "GET / HTTP/1.x\r\n" + hostH + "\r\n", []string{"ERR 1"}},
	{"lowercase version", "GET / http/1.1\r\n" + hostH + "\r\n", []string{"ERR 1"}},
	{"version 2", "GET / HTTP/2.0\r\n" + hostH + "\r\n", []string{"ERR 6"}},
	{"bad escape in path", "GET /a%zz HTTP/1.1\r\n" + hostH + "\r\n", []string{"ERR 1"}},
	{"truncated escape in path", "GET /a% HTTP/1.1\r\n" + hostH + "\r\n", []string{"ERR 1"}},
	{"relative target", "GET a/b HTTP/1.1\r\n" + hostH + "\r\n", []string{"ERR 1"}},
	{"ctl in target", "GET /a\x01 HTTP/1.1\r\n" + hostH + "\r\n", []string{"ERR 1"}},
	{"bad CL sign", "POST / HTTP/1.1\r\n" + hostH + "Content-Length: +3\r\n\r\nabc", []string{"ERR 1"}},
	{"empty CL", "POST / HTTP/1.1\r\n" + hostH + "Content-Length: \r\n\r\n", []string{"ERR 1"}},
	{"huge CL", "POST / HTTP/1.1\r\n" + hostH + "Content-Length: 99999999999999999999\r\n\r\n", []string{"ERR 1"}},
	{"missing host", "GET / HTTP/1.1\r\n\r\n", []string{"ERR 2"}},
	{"two hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", []string{"ERR 1"}},
	{"malformed host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", []string{"ERR 3"}},
	{"too many headers", "GET / HTTP/1.1\r\n" + hostH + strings.Repeat("X: 1\r\n", 8) + "\r\n", []string{"ERR 4"}},
	{"huge header line", "GET / HTTP/1.1\r\n" + hostH + "X: " + strings.Repeat("a", 600) + "\r\n\r\n", []string{"ERR 4"}},
	{"huge request line", "GET /" + strings.Repeat("a", 600) + " HTTP/1.1\r\n" + hostH + "\r\n", []string{"ERR 4"}},
	{"bad chunk size", "POST / HTTP/1.1\r\n" + hostH + "Transfer-Encoding: chunked\r\n\r\nzz\r\n", []string{"ERR 1"}},
	{"empty chunk size", "POST / HTTP/1.1\r\n" + hostH + "Transfer-Encoding: chunked\r\n\r\n\r\n", []string{"ERR 1"}},
	{"negative chunk size", "POST / HTTP/1.1\r\n" + hostH + "Transfer-Encoding: chunked\r\n\r\n-1\r\n", []string{"ERR 1"}},
	{"overflowing chunk size", "POST / HTTP/1.1\r\n" + hostH + "Transfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n", []string{"ERR 1"}},
	{"chunk data without CRLF", "POST / HTTP/1.1\r\n" + hostH + "Transfer-Encoding: chunked\r\n\r\n1\r\naXY0\r\n\r\n", []string{"ERR 1"}},
	{"chunk line bare LF", "POST / HTTP/1.1\r\n" + hostH + "Transfer-Encoding: chunked\r\n\r\n1\na\r\n0\r\n\r\n", []string{"ERR 1"}},
	{"chunk line too long", "POST / HTTP/1.1\r\n" + hostH + "Transfer-Encoding: chunked\r\n\r\n1;" + strings.Repeat("e", 40) + "\r\na\r\n0\r\n\r\n", []string{"ERR 1"}},
	{"bad trailer", "POST / HTTP/1.1\r\n" + hostH + "Transfer-Encoding: chunked\r\n\r\n0\r\nnot a trailer\r\n\r\n", []string{"ERR 1"}},
}

func TestParseTable(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			for _, cm := range []bool{false, true} {
				got := transcript([][]byte{[]byte(tc.in)}, cm)
				if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
					t.Fatalf("copyMode=%v\n got: %q\nwant: %q", cm, got, tc.want)
				}
				// Byte by byte must give the same result.
				var pieces [][]byte
				for i := 0; i < len(tc.in); i++ {
					pieces = append(pieces, []byte{tc.in[i]})
				}
				if got := transcript(pieces, cm); strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
					t.Fatalf("byte by byte, copyMode=%v\n got: %q\nwant: %q", cm, got, tc.want)
				}
			}
		})
	}
}

func TestParseContinueSignal(t *testing.T) {
	rd := newReader(testLimits)
	f := &fakeIn{data: []byte("PUT /x HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")}
	if res := rd.next(f); res != resMore || !rd.want100 {
		t.Fatalf("res=%v want100=%v, want more and a 100-continue", res, rd.want100)
	}
	f.data = append(f.data, "abc"...)
	if res := rd.next(f); res != resDone || string(rd.req.Body()) != "abc" {
		t.Fatalf("res=%v body=%q", res, rd.req.Body())
	}
	if h, ok := rd.req.Header("expect"); !ok || string(h) != "100-continue" {
		t.Fatalf("owned head lost: %q %v", h, ok)
	}
}

func TestRequestQuery(t *testing.T) {
	rd := newReader(testLimits)
	f := &fakeIn{data: []byte("GET /p?metadata.a=1&b=x+y%21&bad=%zz&;k=v&&metadata.a=2&c&%41=%42 HTTP/1.1\r\nHost: h\r\nEmpty:\r\n\r\n")}
	if rd.next(f) != resDone {
		t.Fatal("not parsed")
	}
	r := &rd.req
	var got []string
	r.VisitQuery(func(n, v []byte) { got = append(got, string(n)+"="+string(v)) })
	want := "metadata.a=1|b=x y!|metadata.a=2|c=|A=B"
	if strings.Join(got, "|") != want {
		t.Fatalf("VisitQuery: got %q want %q", strings.Join(got, "|"), want)
	}
	for _, c := range []struct {
		name, want string
		ok         bool
	}{{"metadata.a", "1", true}, {"b", "x y!", true}, {"A", "B", true}, {"c", "", true}, {"bad", "", false}, {"zz", "", false}} {
		v, ok := r.QueryValue(c.name)
		if ok != c.ok || string(v) != c.want {
			t.Errorf("QueryValue(%q) = %q,%v want %q,%v", c.name, v, ok, c.want, c.ok)
		}
	}
	if v, ok := r.Header("EMPTY"); !ok || len(v) != 0 {
		t.Errorf("empty header: %q %v", v, ok)
	}
	if _, ok := r.Header("missing"); ok {
		t.Error("missing header reported present")
	}
}

func TestParseAllocs(t *testing.T) {
	get := []byte("GET /v1.0/state/store/key?metadata.x=1 HTTP/1.1\r\nHost: localhost:3500\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
	post := []byte("POST /v1.0/state/store HTTP/1.1\r\nHost: localhost:3500\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n[{\"key\":\"k\",\"value\":\"v1\"}]\n")
	rt := NewRouter()
	rt.Handle("GET", "/v1.0/state/{store}/{key}", func(*Response, *Request) {}, false)
	rt.Handle("POST", "/v1.0/state/{store}", func(*Response, *Request) {}, false)
	for _, in := range [][]byte{get, post} {
		rd := newReader(limits{maxHead: 8192, maxHdrs: 100, maxBody: 4 << 20, maxChunk: 4096})
		f := &fakeIn{}
		n := testing.AllocsPerRun(200, func() {
			f.data = in
			if rd.next(f) != resDone {
				t.Fatal("not parsed")
			}
			rt.route(&rd.req)
			if rd.req.ep == rt.notFound {
				t.Fatal("not routed")
			}
			_, _ = rd.req.QueryValue("metadata.x")
			rd.done(f)
		})
		if n != 0 {
			t.Errorf("%q: %v allocs per parse, want 0", in[:4], n)
		}
	}
}

func FuzzParseRequest(f *testing.F) {
	for _, tc := range parseCases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 2048 {
			return
		}
		whole := transcript([][]byte{in}, false)
		for _, cm := range []bool{false, true} {
			for i := 1; i < len(in); i++ {
				got := transcript([][]byte{in[:i], in[i:]}, cm)
				if strings.Join(got, "\n") != strings.Join(whole, "\n") {
					t.Fatalf("split at %d (copyMode=%v):\n got: %q\nwhole: %q", i, cm, got, whole)
				}
			}
		}
		for _, line := range whole {
			if bytes.Contains([]byte(line), []byte("XXXX")) && !bytes.Contains(in, []byte("XXXX")) {
				t.Fatalf("view used after discard: %q", line)
			}
		}
	})
}
