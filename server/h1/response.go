package h1

import (
	"net/http"
	"strconv"
)

type respHeader struct {
	start, nameEnd, end int // "Name: value\r\n" is hdr[start:end]; name is hdr[start:nameEnd]
}

// Response accumulates a response; the server writes it after the handler returns.
// The server adds Date (cached, updated once a second) and Content-Length itself,
// plus "Connection: close" when it will close. A 204/304 has no body and no
// Content-Length, like Go's net/http.
//
// A Response belongs to the goroutine running the handler; it is not safe for
// concurrent use.
type Response struct {
	status  int
	hdr     []byte // serialised handler headers
	entries []respHeader
	body    []byte

	hasContentType bool
	hasConnClose   bool // the handler set "Connection: close" itself
	hasDate        bool // the handler set Date itself
	close          bool // close the connection after this response
}

func (w *Response) reset() {
	w.status = 200
	w.hdr = w.hdr[:0]
	w.entries = w.entries[:0]
	w.body = w.body[:0]
	w.hasContentType = false
	w.hasConnClose = false
	w.hasDate = false
	w.close = false
}

// SetStatus sets the status code (default 200). Codes outside 100..999 are
// written as 500.
func (w *Response) SetStatus(code int) { w.status = code }

// Status returns the status code set so far.
func (w *Response) Status() int { return w.status }

// AddHeader adds a response header. The name is canonicalised like Go's
// http.Header (so "etag" is sent as "Etag"); CR and LF in the value become spaces
// and surrounding spaces are trimmed, as net/http does when writing.
// Content-Length and Transfer-Encoding are ignored (the server frames the body
// itself); a Date set here replaces the server's.
func (w *Response) AddHeader(name, value string) {
	start := len(w.hdr)
	w.hdr = appendCanonicalKey(w.hdr, name)
	nameEnd := len(w.hdr)
	if n := string(w.hdr[start:nameEnd]); n == "Content-Length" || n == "Transfer-Encoding" {
		w.hdr = w.hdr[:start]
		return
	}
	w.hdr = append(w.hdr, ':', ' ')
	i, j := 0, len(value)
	for i < j && (value[i] == ' ' || value[i] == '\t') {
		i++
	}
	for j > i && (value[j-1] == ' ' || value[j-1] == '\t') {
		j--
	}
	for ; i < j; i++ {
		c := value[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		w.hdr = append(w.hdr, c)
	}
	w.hdr = append(w.hdr, '\r', '\n')
	w.entries = append(w.entries, respHeader{start, nameEnd, len(w.hdr)})
	w.noteHeader(w.hdr[start:nameEnd], w.hdr[nameEnd+2:len(w.hdr)-2])
}

// AddHeaderBytes is AddHeader with a []byte value.
func (w *Response) AddHeaderBytes(name string, value []byte) {
	w.AddHeader(name, unsafeString(value))
}

func (w *Response) noteHeader(name, value []byte) {
	switch {
	case string(name) == "Content-Type":
		w.hasContentType = true
	case string(name) == "Date":
		w.hasDate = true
	case string(name) == "Connection" && hasToken(value, "close"):
		w.close, w.hasConnClose = true, true
	}
}

// Write appends p to the body.
func (w *Response) Write(p []byte) (int, error) {
	w.body = append(w.body, p...)
	return len(p), nil
}

// WriteString appends s to the body.
func (w *Response) WriteString(s string) (int, error) {
	w.body = append(w.body, s...)
	return len(s), nil
}

// BodyLen returns the number of body bytes written so far.
func (w *Response) BodyLen() int { return len(w.body) }

// appendCanonicalKey appends textproto.CanonicalMIMEHeaderKey(s).
func appendCanonicalKey(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if !tokenTable[s[i]] {
			return append(dst, s...) // Go leaves invalid keys unchanged
		}
	}
	upper := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		} else if !upper && 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
		upper = c == '-'
	}
	return dst
}

// bodyAllowed reports whether a response with this status may carry a body.
func bodyAllowed(code int) bool {
	return !(code >= 100 && code <= 199 || code == 204 || code == 304)
}

// appendResponse serialises w for req into dst, the way Go's net/http would
// write it: status line, handler headers sorted by name (stable), Date,
// Content-Length, a sniffed Content-Type when none was set, Connection.
// keepAlive tells whether the connection stays open after this response.
func appendResponse(dst []byte, req *Request, w *Response, date []byte, keepAlive, isHead bool) []byte {
	code := w.status
	if code < 100 || code > 999 {
		code = 500
	}
	if req.major == 1 && req.minor == 0 {
		dst = append(dst, "HTTP/1.0 "...)
	} else {
		dst = append(dst, "HTTP/1.1 "...)
	}
	dst = strconv.AppendInt(dst, int64(code), 10)
	dst = append(dst, ' ')
	if text := http.StatusText(code); text != "" {
		dst = append(dst, text...)
	} else {
		dst = append(dst, "status code "...)
		dst = strconv.AppendInt(dst, int64(code), 10)
	}
	dst = append(dst, '\r', '\n')

	w.sortEntries()
	for _, e := range w.entries {
		dst = append(dst, w.hdr[e.start:e.end]...)
	}
	if !w.hasDate {
		dst = append(dst, date...)
	}
	allowed := bodyAllowed(code)
	if allowed && (!isHead || len(w.body) > 0) {
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, int64(len(w.body)), 10)
		dst = append(dst, '\r', '\n')
	}
	if allowed && !w.hasContentType && len(w.body) > 0 {
		dst = append(dst, "Content-Type: "...)
		dst = append(dst, http.DetectContentType(w.body)...)
		dst = append(dst, '\r', '\n')
	}
	if !keepAlive {
		if req.minor >= 1 && !w.hasConnClose {
			dst = append(dst, "Connection: close\r\n"...)
		}
	} else if req.minor == 0 {
		dst = append(dst, "Connection: keep-alive\r\n"...)
	}
	dst = append(dst, '\r', '\n')
	if allowed && !isHead {
		dst = append(dst, w.body...)
	}
	return dst
}

// sortEntries sorts the headers by name (insertion sort, stable), as Go's
// Header.Write does.
func (w *Response) sortEntries() {
	e := w.entries
	for i := 1; i < len(e); i++ {
		for j := i; j > 0 && string(w.hdr[e[j].start:e[j].nameEnd]) < string(w.hdr[e[j-1].start:e[j-1].nameEnd]); j-- {
			e[j], e[j-1] = e[j-1], e[j]
		}
	}
}

// Fixed replies to requests rejected before a handler, byte-identical to Go's
// net/http (server.go, conn.serve).
const errorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

var errorReplies = [...]string{
	errBadRequest:        "HTTP/1.1 400 Bad Request" + errorHeaders + "400 Bad Request",
	errMissingHost:       "HTTP/1.1 400 Bad Request: missing required Host header" + errorHeaders + "400 Bad Request: missing required Host header",
	errMalformedHost:     "HTTP/1.1 400 Bad Request: malformed Host header" + errorHeaders + "400 Bad Request: malformed Host header",
	errHeaderTooBig:      "HTTP/1.1 431 Request Header Fields Too Large" + errorHeaders + "431 Request Header Fields Too Large",
	errUnsupportedTE:     "HTTP/1.1 501 Not Implemented" + errorHeaders + "Unsupported transfer encoding",
	errInvalidHeaderName: "HTTP/1.1 400 Bad Request: invalid header name" + errorHeaders + "400 Bad Request: invalid header name",
	errVersion:           "HTTP/1.1 505 HTTP Version Not Supported: unsupported protocol version" + errorHeaders + "505 HTTP Version Not Supported: unsupported protocol version",
}

const continueReply = "HTTP/1.1 100 Continue\r\n\r\n"

// appendOptionsStar appends Go's globalOptionsHandler reply to "OPTIONS *".
func appendOptionsStar(dst []byte, req *Request, date []byte, keepAlive bool) []byte {
	if req.major == 1 && req.minor == 0 {
		dst = append(dst, "HTTP/1.0 200 OK\r\n"...)
	} else {
		dst = append(dst, "HTTP/1.1 200 OK\r\n"...)
	}
	dst = append(dst, "Content-Length: 0\r\n"...)
	dst = append(dst, date...)
	if !keepAlive {
		if req.minor >= 1 {
			dst = append(dst, "Connection: close\r\n"...)
		}
	} else if req.minor == 0 {
		dst = append(dst, "Connection: keep-alive\r\n"...)
	}
	return append(dst, '\r', '\n')
}
