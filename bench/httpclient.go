package bench

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// errShortResponse is returned by parseResponse when buf does not yet hold
// a whole response; the caller reads more and parses again.
var errShortResponse = errors.New("bench: response incomplete")

// maxResponse bounds one response (headers plus body) held in memory.
const maxResponse = 64 << 20

// RespReader reads HTTP/1.1 responses from a keep-alive byte stream into one
// reused buffer. It is owned by one goroutine. The Body of a returned
// Response is a view into the buffer, valid only until the next call to
// Next (as with bufio.Reader.ReadSlice). In steady state Next does not
// allocate: the buffer grows only when a response does not fit.
type RespReader struct {
	src  io.Reader
	buf  []byte
	r, w int // unread bytes are buf[r:w]
}

// Response is one parsed HTTP response.
type Response struct {
	Status int
	// Body is the response body, de-chunked; a view into the reader's
	// buffer, valid until the next Next.
	Body []byte
	// Close reports a "Connection: close" header: the server will close
	// the connection after this response.
	Close bool
}

// NewRespReader returns a reader over src with an initial buffer of size
// bytes (at least 4 KiB).
func NewRespReader(src io.Reader, size int) *RespReader {
	if size < 4096 {
		size = 4096
	}
	return &RespReader{src: src, buf: make([]byte, size)}
}

// Next reads and returns the next response.
func (rr *RespReader) Next() (Response, error) {
	if rr.r == rr.w {
		rr.r, rr.w = 0, 0
	}
	for {
		resp, n, err := parseResponse(rr.buf[rr.r:rr.w])
		if err == nil {
			rr.r += n
			return resp, nil
		}
		if err != errShortResponse {
			return Response{}, err
		}
		if rr.w == len(rr.buf) { // no room left: compact or grow
			if rr.r > 0 {
				rr.w = copy(rr.buf, rr.buf[rr.r:rr.w])
				rr.r = 0
			} else {
				if len(rr.buf) >= maxResponse {
					return Response{}, fmt.Errorf("cannot read response: larger than %d bytes", maxResponse)
				}
				nb := make([]byte, 2*len(rr.buf))
				rr.w = copy(nb, rr.buf[rr.r:rr.w])
				rr.r = 0
				rr.buf = nb
			}
		}
		m, err := rr.src.Read(rr.buf[rr.w:])
		rr.w += m
		if err != nil && m == 0 {
			if err == io.EOF {
				if rr.w > rr.r {
					return Response{}, fmt.Errorf("cannot read response: %w", io.ErrUnexpectedEOF)
				}
				return Response{}, io.EOF
			}
			return Response{}, fmt.Errorf("cannot read response: %w", err)
		}
	}
}

// parseResponse parses one response at the start of b. It returns the
// response and the number of bytes it occupies, errShortResponse when b is
// a prefix of a response, or another error when b cannot be one. A chunked
// body is de-chunked in place, so b is modified only once it is complete.
func parseResponse(b []byte) (Response, int, error) {
	end := bytes.Index(b, crlfcrlf)
	if end < 0 {
		if len(b) > 0 && !bytes.HasPrefix(b, httpSlash[:min(len(b), len(httpSlash))]) {
			return Response{}, 0, fmt.Errorf("cannot parse response: not HTTP: %q", b[:min(len(b), 16)])
		}
		return Response{}, 0, errShortResponse
	}
	head := b[:end+2] // status line and headers, each ending in CRLF
	bodyStart := end + 4

	// Status line: HTTP/1.x SP 3DIGIT [SP reason] CRLF
	line, rest, _ := bytes.Cut(head, crlf)
	if len(line) < 12 || !bytes.HasPrefix(line, httpSlash) || line[6] != '.' || line[8] != ' ' ||
		(len(line) > 12 && line[12] != ' ') {
		return Response{}, 0, fmt.Errorf("cannot parse response: bad status line %q", line)
	}
	status := 0
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return Response{}, 0, fmt.Errorf("cannot parse response: bad status line %q", line)
		}
		status = status*10 + int(c-'0')
	}
	resp := Response{Status: status}

	contentLength := int64(-1)
	chunked := false
	for len(rest) > 0 {
		line, rest, _ = bytes.Cut(rest, crlf)
		if len(line) == 0 {
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			return Response{}, 0, fmt.Errorf("cannot parse response: obsolete line folding")
		}
		name, value, ok := bytes.Cut(line, colon)
		if !ok {
			return Response{}, 0, fmt.Errorf("cannot parse response: bad header line %q", line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case asciiEqualFold(name, "content-length"):
			n, ok := parseDecimal(value)
			if !ok {
				return Response{}, 0, fmt.Errorf("cannot parse response: bad Content-Length %q", value)
			}
			if contentLength >= 0 && contentLength != n {
				return Response{}, 0, fmt.Errorf("cannot parse response: conflicting Content-Length headers")
			}
			contentLength = n
		case asciiEqualFold(name, "transfer-encoding"):
			if asciiEqualFold(value, "chunked") {
				chunked = true
			} else if !asciiEqualFold(value, "identity") {
				return Response{}, 0, fmt.Errorf("cannot parse response: unsupported Transfer-Encoding %q", value)
			}
		case asciiEqualFold(name, "connection"):
			if asciiEqualFold(value, "close") {
				resp.Close = true
			}
		}
	}

	switch {
	case status/100 == 1 || status == 204 || status == 304:
		return resp, bodyStart, nil
	case chunked:
		if contentLength >= 0 {
			return Response{}, 0, fmt.Errorf("cannot parse response: both Content-Length and chunked")
		}
		n, size, err := scanChunked(b[bodyStart:])
		if err != nil {
			return Response{}, 0, err
		}
		resp.Body = dechunk(b[bodyStart:bodyStart+n], size)
		return resp, bodyStart + n, nil
	case contentLength >= 0:
		if int64(len(b)-bodyStart) < contentLength {
			return Response{}, 0, errShortResponse
		}
		resp.Body = b[bodyStart : bodyStart+int(contentLength)]
		return resp, bodyStart + int(contentLength), nil
	default:
		return Response{}, 0, fmt.Errorf("cannot parse response: no Content-Length on a keep-alive response")
	}
}

// scanChunked checks that b starts with a complete chunked body and returns
// its length in b and the length of the de-chunked data, without changing b.
func scanChunked(b []byte) (n, size int, err error) {
	p := 0
	for {
		i := bytes.Index(b[p:], crlf)
		if i < 0 {
			return 0, 0, errShortResponse
		}
		szText := b[p : p+i]
		if j := bytes.IndexByte(szText, ';'); j >= 0 {
			szText = szText[:j]
		}
		sz, ok := parseHex(bytes.TrimSpace(szText))
		if !ok {
			return 0, 0, fmt.Errorf("cannot parse response: bad chunk size %q", b[p:p+i])
		}
		p += i + 2
		if sz == 0 {
			// Trailer section: header lines, then an empty line.
			for {
				i := bytes.Index(b[p:], crlf)
				if i < 0 {
					return 0, 0, errShortResponse
				}
				p += i + 2
				if i == 0 {
					return p, size, nil
				}
			}
		}
		if sz > maxResponse || len(b)-p < sz+2 {
			if sz > maxResponse {
				return 0, 0, fmt.Errorf("cannot parse response: chunk of %d bytes", sz)
			}
			return 0, 0, errShortResponse
		}
		if b[p+sz] != '\r' || b[p+sz+1] != '\n' {
			return 0, 0, fmt.Errorf("cannot parse response: chunk not followed by CRLF")
		}
		p += sz + 2
		size += sz
	}
}

// dechunk moves the data of the complete chunked body b (checked by
// scanChunked) to its front and returns it.
func dechunk(b []byte, size int) []byte {
	out, p := 0, 0
	for out < size {
		i := bytes.Index(b[p:], crlf)
		szText := b[p : p+i]
		if j := bytes.IndexByte(szText, ';'); j >= 0 {
			szText = szText[:j]
		}
		sz, _ := parseHex(bytes.TrimSpace(szText))
		p += i + 2
		out += copy(b[out:], b[p:p+sz])
		p += sz + 2
	}
	return b[:size]
}

var (
	crlf      = []byte("\r\n")
	crlfcrlf  = []byte("\r\n\r\n")
	colon     = []byte(":")
	httpSlash = []byte("HTTP/1")
)

func asciiEqualFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

func parseDecimal(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func parseHex(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 8 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		switch {
		case '0' <= c && c <= '9':
			n = n<<4 | int(c-'0')
		case 'a' <= c && c <= 'f':
			n = n<<4 | int(c-'a'+10)
		case 'A' <= c && c <= 'F':
			n = n<<4 | int(c-'A'+10)
		default:
			return 0, false
		}
	}
	return n, true
}

// HTTPConn is one keep-alive HTTP/1.1 client connection, owned by one
// worker goroutine. Requests are written whole with one Write and responses
// are read with a RespReader, so a round trip does not allocate.
type HTTPConn struct {
	addr string
	c    net.Conn
	rd   *RespReader
}

// DialHTTP connects to addr (host:port).
func DialHTTP(addr string) (*HTTPConn, error) {
	h := &HTTPConn{addr: addr}
	if err := h.redial(); err != nil {
		return nil, err
	}
	return h, nil
}

func (h *HTTPConn) redial() error {
	if h.c != nil {
		_ = h.c.Close()
		h.c = nil
	}
	c, err := net.DialTimeout("tcp", h.addr, 5*time.Second)
	if err != nil {
		return fmt.Errorf("cannot connect to %s: %w", h.addr, err)
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	h.c = c
	if h.rd == nil {
		h.rd = NewRespReader(c, 64<<10)
	} else {
		h.rd.src, h.rd.r, h.rd.w = c, 0, 0
	}
	return nil
}

// RoundTrip writes the complete request req and reads its response. On a
// transport error the connection is re-established before RoundTrip
// returns, so the next call can proceed; the error is still returned.
func (h *HTTPConn) RoundTrip(req []byte) (Response, error) {
	if h.c == nil {
		if err := h.redial(); err != nil {
			return Response{}, err
		}
	}
	if _, err := h.c.Write(req); err != nil {
		_ = h.redial()
		return Response{}, fmt.Errorf("cannot write request: %w", err)
	}
	resp, err := h.rd.Next()
	if err != nil {
		_ = h.redial()
		return Response{}, err
	}
	if resp.Close {
		_ = h.c.Close()
		h.c = nil
	}
	return resp, nil
}

// Close closes the connection.
func (h *HTTPConn) Close() error {
	if h.c == nil {
		return nil
	}
	err := h.c.Close()
	h.c = nil
	return err
}
