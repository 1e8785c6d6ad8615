package h1

import (
	"strings"
	"testing"
)

func TestResponseFraming(t *testing.T) {
	rd := newReader(testLimits)
	f := &fakeIn{data: []byte("GET / HTTP/1.1\r\nHost: h\r\n\r\n")}
	if rd.next(f) != resDone {
		t.Fatal("parse")
	}
	date := []byte("Date: D\r\n")
	f2 := func(build func(w *Response), keep, head bool, want string) {
		t.Helper()
		var w Response
		w.reset()
		build(&w)
		if got := string(appendResponse(nil, &rd.req, &w, date, keep, head)); got != want {
			t.Errorf("got  %q\nwant %q", got, want)
		}
	}
	f2(func(w *Response) {
		w.AddHeader("content-length", "99")
		w.AddHeader("transfer-encoding", "chunked")
		w.AddHeader("x-b", " two ")
		w.AddHeader("X-A", "one")
		w.AddHeader("x-b", "three")
		_, _ = w.WriteString("{}")
	}, true, false, "HTTP/1.1 200 OK\r\nX-A: one\r\nX-B: two\r\nX-B: three\r\nDate: D\r\nContent-Length: 2\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}")
	f2(func(w *Response) { w.AddHeader("Date", "mine"); w.SetStatus(304) }, true, false, "HTTP/1.1 304 Not Modified\r\nDate: mine\r\n\r\n")
	f2(func(w *Response) { w.SetStatus(299) }, false, false, "HTTP/1.1 299 status code 299\r\nDate: D\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	f2(func(w *Response) { w.SetStatus(42) }, true, false, "HTTP/1.1 500 Internal Server Error\r\nDate: D\r\nContent-Length: 0\r\n\r\n")
	f2(func(w *Response) { w.AddHeader("Connection", "close") }, false, false, "HTTP/1.1 200 OK\r\nConnection: close\r\nDate: D\r\nContent-Length: 0\r\n\r\n")
	f2(func(w *Response) { w.AddHeader("Content-Type", "a/b"); _, _ = w.WriteString("body") }, true, true, "HTTP/1.1 200 OK\r\nContent-Type: a/b\r\nDate: D\r\nContent-Length: 4\r\n\r\n")
	f2(func(w *Response) { w.AddHeader("bad key", "v"); w.SetStatus(204); _, _ = w.WriteString("dropped") }, true, false, "HTTP/1.1 204 No Content\r\nbad key: v\r\nDate: D\r\n\r\n")
	if !strings.HasPrefix(string(appendCanonicalKey(nil, "metadata.ttlExpireTime")), "Metadata.ttlexpiretime") {
		t.Error("canonical key")
	}
}
