package h1

import (
	"bytes"
)

// inbound is the part of gnet.Conn the reader uses. Peek may return a view of
// the connection's buffer or (when the buffered bytes are not contiguous) a
// pooled copy; either way it is valid only until the next Discard.
type inbound interface {
	InboundBuffered() int
	Peek(n int) ([]byte, error)
	Discard(n int) (int, error)
}

// limits are the parser limits derived from Config.
type limits struct {
	maxHead  int   // request line + headers incl. the final CRLF CRLF
	maxHdrs  int   // header lines
	maxBody  int64 // body bytes (de-chunked)
	maxChunk int   // longest chunk-size line
}

// parseErr is why a request was rejected before reaching a handler. Each kind
// has a fixed reply that matches Go's net/http (see errorReplies).
type parseErr uint8

const (
	errNone              parseErr = iota
	errBadRequest                 // 400 Bad Request
	errMissingHost                // 400 Bad Request: missing required Host header
	errMalformedHost              // 400 Bad Request: malformed Host header
	errHeaderTooBig               // 431 Request Header Fields Too Large
	errUnsupportedTE              // 501 Not Implemented, Unsupported transfer encoding
	errVersion                    // 505 HTTP Version Not Supported: unsupported protocol version
	errInvalidHeaderName          // 400 Bad Request: invalid header name
)

// result is the outcome of reader.next.
type result uint8

const (
	resMore result = iota // need more bytes
	resDone               // rd.req is complete; call done after the handler
	resErr                // rd.err says why; the connection must be closed
)

type readState uint8

const (
	stHead  readState = iota // waiting for a complete header block
	stBody                   // headers parsed (owned copy), waiting for the Content-Length body
	stChunk                  // decoding a chunked body
)

type chunkPhase uint8

const (
	chSize chunkPhase = iota
	chData
	chDataEnd
	chTrailer
)

// reader turns the bytes of one connection into requests, one at a time.
// It is used only by the connection's event loop.
//
// Fast path: a request whose head and body are both buffered is parsed in
// place; rd.req's views point into the Peek result, which stays valid until
// done() discards it. Slow path: when the body has not fully arrived, the head
// is copied into hdrOwned and discarded, and the body is awaited (CL) or decoded
// incrementally into chunkBody (chunked).
type reader struct {
	lim limits
	req Request

	st        readState
	scanned   int   // stHead: bytes already checked for bare LF / the terminator
	consumed  int   // bytes to discard in done()
	need      int64 // stBody: body length
	want100   bool  // the caller should send "100 Continue" if it has not yet
	sent100   bool
	afterPOST bool // the previous request was a POST (see next)
	err       parseErr

	hdrOwned  []byte
	chunkBody []byte
	phase     chunkPhase
	remain    int64 // bytes left in the current chunk
	excess    int64 // chunk overhead not matched by data (Go's non-data check)
	trailer   int   // trailer bytes so far
}

func newReader(lim limits) *reader {
	rd := &reader{lim: lim}
	rd.req.hdrs = make([]headerSpan, 0, 16)
	rd.req.contentLength = -1
	return rd
}

// idle reports whether no byte of a next request has been consumed.
func (rd *reader) idle() bool { return rd.st == stHead }

// next tries to complete one request from in.
func (rd *reader) next(in inbound) result {
	switch rd.st {
	case stBody:
		if int64(in.InboundBuffered()) < rd.need {
			return resMore
		}
		buf, _ := in.Peek(int(rd.need))
		rd.req.body = buf[:len(buf):len(buf)]
		rd.consumed = int(rd.need)
		return resDone
	case stChunk:
		return rd.readChunks(in)
	}

	n := in.InboundBuffered()
	if n == 0 {
		return resMore
	}
	buf, _ := in.Peek(n)
	// Like Go's server, tolerate up to 4 CR/LF bytes before the request line,
	// and only after a POST (old clients sent an extra CRLF after the body).
	if rd.afterPOST {
		k := 0
		for k < len(buf) && k < 4 && (buf[k] == '\r' || buf[k] == '\n') {
			k++
		}
		if k == len(buf) && k < 4 {
			return resMore // Go peeks 4 bytes before deciding
		}
		rd.afterPOST = false
		if k > 0 {
			_, _ = in.Discard(k)
			if n -= k; n == 0 {
				return resMore
			}
			buf, _ = in.Peek(n)
		}
	}
	// Only the first maxHead bytes are examined, so the outcome does not
	// depend on how the bytes were split into reads.
	scan := buf
	if len(scan) > rd.lim.maxHead {
		scan = scan[:rd.lim.maxHead]
	}
	end := -1
	for i := rd.scanned; i < len(scan); {
		j := bytes.IndexByte(scan[i:], '\n')
		if j < 0 {
			break
		}
		j += i
		if j == 0 || buf[j-1] != '\r' {
			return rd.fail(errBadRequest) // bare LF
		}
		if j >= 3 && buf[j-3] == '\r' && buf[j-2] == '\n' {
			end = j + 1
			break
		}
		i = j + 1
		rd.scanned = i
	}
	if end < 0 {
		if len(buf) > rd.lim.maxHead {
			return rd.fail(errHeaderTooBig)
		}
		return resMore
	}
	rd.scanned = 0
	r := &rd.req
	r.buf = buf
	if e := r.parseHead(end, rd.lim.maxHdrs); e != errNone {
		return rd.fail(e)
	}
	switch {
	case r.expectFailed:
		rd.consumed = end
		return resDone
	case r.chunked:
		rd.ownHead(in, end)
		rd.st, rd.phase, rd.remain, rd.excess, rd.trailer = stChunk, chSize, 0, 0, 0
		rd.chunkBody = rd.chunkBody[:0]
		rd.want100 = r.expect100 && r.ProtoAtLeast(1, 1)
		return rd.readChunks(in)
	case r.contentLength > rd.lim.maxBody:
		r.bodyTooLarge = true
		rd.consumed = end
		return resDone
	case r.contentLength <= 0:
		rd.consumed = end
		return resDone
	case int64(len(buf)-end) >= r.contentLength:
		cl := end + int(r.contentLength)
		r.body = buf[end:cl:cl]
		rd.consumed = cl
		return resDone
	default:
		rd.ownHead(in, end)
		rd.st, rd.need = stBody, r.contentLength
		rd.want100 = r.expect100 && r.ProtoAtLeast(1, 1)
		return rd.next(in)
	}
}

// ownHead copies the head into hdrOwned, re-points the request at it and
// discards it from in.
func (rd *reader) ownHead(in inbound, end int) {
	rd.hdrOwned = append(rd.hdrOwned[:0], rd.req.buf[:end]...)
	rd.req.buf = rd.hdrOwned
	_, _ = in.Discard(end)
}

func (rd *reader) fail(e parseErr) result {
	rd.err = e
	return resErr
}

// done finishes the request returned by next: it discards its bytes and
// resets the reader for the next request.
func (rd *reader) done(in inbound) {
	rd.afterPOST = string(rd.req.view(rd.req.meth)) == "POST" // before Discard invalidates the view
	if rd.consumed > 0 {
		_, _ = in.Discard(rd.consumed)
	}
	rd.consumed, rd.st, rd.want100, rd.sent100, rd.scanned = 0, stHead, false, false, 0
	rd.req.reset()
	if cap(rd.chunkBody) > maxRetainedBuf {
		rd.chunkBody = nil // do not pin a large upload buffer for the connection's life
	}
}

// readChunks decodes as much of a chunked body as is buffered.
func (rd *reader) readChunks(in inbound) result {
	r := &rd.req
	for {
		n := in.InboundBuffered()
		if n == 0 {
			return resMore
		}
		switch rd.phase {
		case chSize:
			buf, _ := in.Peek(min(n, rd.lim.maxChunk+2))
			i := bytes.IndexByte(buf, '\n')
			if i < 0 {
				if len(buf) > rd.lim.maxChunk {
					return rd.fail(errBadRequest)
				}
				return resMore
			}
			if i == 0 || buf[i-1] != '\r' {
				return rd.fail(errBadRequest)
			}
			line := buf[:i-1]
			if bytes.IndexByte(line, '\r') >= 0 || len(line) >= rd.lim.maxChunk {
				return rd.fail(errBadRequest)
			}
			rd.excess += int64(i + 1)
			for len(line) > 0 && (line[len(line)-1] == ' ' || line[len(line)-1] == '\t') {
				line = line[:len(line)-1]
			}
			if k := bytes.IndexByte(line, ';'); k >= 0 {
				line = line[:k]
			}
			size, ok := parseHex(line)
			if !ok {
				return rd.fail(errBadRequest)
			}
			rd.excess -= 16 + 2*size
			if rd.excess < 0 {
				rd.excess = 0
			}
			if rd.excess > 16*1024 {
				return rd.fail(errBadRequest)
			}
			_, _ = in.Discard(i + 1)
			if size == 0 {
				rd.phase = chTrailer
				continue
			}
			if int64(len(rd.chunkBody))+size > rd.lim.maxBody {
				r.bodyTooLarge = true
				r.body = nil
				return resDone
			}
			rd.phase, rd.remain = chData, size
		case chData:
			k := n
			if int64(k) > rd.remain {
				k = int(rd.remain)
			}
			buf, _ := in.Peek(k)
			rd.chunkBody = append(rd.chunkBody, buf...)
			_, _ = in.Discard(k)
			if rd.remain -= int64(k); rd.remain == 0 {
				rd.phase = chDataEnd
			}
		case chDataEnd:
			if n < 2 {
				return resMore
			}
			buf, _ := in.Peek(2)
			if buf[0] != '\r' || buf[1] != '\n' {
				return rd.fail(errBadRequest)
			}
			_, _ = in.Discard(2)
			rd.phase = chSize
		case chTrailer:
			buf, _ := in.Peek(min(n, rd.lim.maxHead+2))
			i := bytes.IndexByte(buf, '\n')
			if i < 0 {
				if len(buf) > rd.lim.maxHead {
					return rd.fail(errBadRequest)
				}
				return resMore
			}
			if i == 0 || buf[i-1] != '\r' {
				return rd.fail(errBadRequest)
			}
			line := buf[:i-1]
			if rd.trailer += i + 1; rd.trailer > rd.lim.maxHead {
				return rd.fail(errBadRequest)
			}
			if len(line) > 0 && !validTrailerLine(line) {
				return rd.fail(errBadRequest)
			}
			_, _ = in.Discard(i + 1)
			if len(line) == 0 {
				r.body = rd.chunkBody[:len(rd.chunkBody):len(rd.chunkBody)]
				return resDone
			}
		}
	}
}

func validTrailerLine(line []byte) bool {
	c := bytes.IndexByte(line, ':')
	if c <= 0 || !isToken(line[:c]) {
		return false
	}
	for _, b := range line[c+1:] {
		if !validHeaderValueByte(b) {
			return false
		}
	}
	return true
}

// parseHex parses a chunk size like Go's parseHexUint (1..16 hex digits).
func parseHex(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 15 {
		// 16 hex digits would overflow int64 sizes used here; Go also rejects
		// such sizes when reading (they can never be satisfied).
		return 0, false
	}
	var n int64
	for _, b := range v {
		if !ishex(b) {
			return 0, false
		}
		n = n<<4 | int64(unhex(b))
	}
	return n, true
}

// tokenTable marks RFC 9110 tchar bytes.
var tokenTable = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !tokenTable[c] {
			return false
		}
	}
	return true
}

// validHeaderValueByte matches net/textproto: VCHAR, SP, HTAB and obs-text.
func validHeaderValueByte(c byte) bool {
	return c >= 0x20 && c != 0x7f || c == '\t'
}

// validHostByte mirrors golang.org/x/net/http/httpguts.validHostByte.
var validHostByte = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!$%&'()*+,-.:;=[]_~" {
		t[c] = true
	}
	return t
}()

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// hasToken reports whether the comma-separated list v contains token tok
// (ASCII case-insensitive), like httpguts.HeaderValuesContainsToken.
func hasToken(v []byte, tok string) bool {
	for len(v) > 0 {
		var part []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			part, v = v[:i], v[i+1:]
		} else {
			part, v = v, nil
		}
		if equalFoldString(trimOWS(part), tok) {
			return true
		}
	}
	return false
}

// parseHead parses r.buf[:end] (request line and headers ending in CRLF CRLF;
// no bare LF inside, already checked) into r. Errors are reported in the
// order Go's server finds them: request line, header syntax, Host count,
// transfer coding, Content-Length, protocol version, Host presence and form,
// header names with spaces.
func (r *Request) parseHead(end, maxHdrs int) parseErr {
	b := r.buf[:end]
	r.head = span{0, end}
	le := bytes.IndexByte(b, '\n') - 1 // line end (the CR)
	line := b[:le]

	// Request line: method SP request-target SP HTTP-version.
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 {
		return errBadRequest
	}
	if !isToken(line[:sp1]) {
		return errBadRequest
	}
	r.meth = span{0, sp1}
	sp2 := bytes.IndexByte(line[sp1+1:], ' ')
	if sp2 < 0 {
		return errBadRequest
	}
	ts, te := sp1+1, sp1+1+sp2
	if !r.parseVersion(line[te+1:]) {
		return errBadRequest
	}
	if e := r.parseTarget(ts, te); e != errNone {
		return e
	}

	// Header fields.
	var (
		clSeen, clBad, connClose, connKeep bool
		expectSeen, hostBad, nameSpace     bool
		clVal                              []byte
		teCount                            int
		teBad                              bool
		hostCount                          int
	)
	pos := le + 2
	for {
		nl := bytes.IndexByte(b[pos:], '\n') + pos
		line := b[pos : nl-1]
		if len(line) == 0 {
			break
		}
		start := pos
		pos = nl + 1
		if line[0] == ' ' || line[0] == '\t' {
			return errBadRequest // obs-fold or whitespace before the first field
		}
		c := bytes.IndexByte(line, ':')
		if c <= 0 {
			return errBadRequest
		}
		name := line[:c]
		for _, ch := range name {
			if !tokenTable[ch] {
				if ch != ' ' {
					return errBadRequest
				}
				nameSpace = true // textproto accepts it; the server then rejects it
			}
		}
		for _, ch := range line[c+1:] {
			if !validHeaderValueByte(ch) {
				return errBadRequest
			}
		}
		if len(r.hdrs) >= maxHdrs {
			return errHeaderTooBig
		}
		val := trimOWS(line[c+1:])
		vs := start + offsetIn(line, val)
		r.hdrs = append(r.hdrs, headerSpan{name: span{start, start + c}, value: span{vs, vs + len(val)}})

		switch len(name) {
		case 4:
			if equalFoldString(name, "host") {
				hostCount++
				for _, ch := range val {
					if !validHostByte[ch] {
						hostBad = true
					}
				}
			}
		case 6:
			if equalFoldString(name, "expect") && !expectSeen {
				expectSeen = true
				if hasToken(val, "100-continue") {
					r.expect100 = true
				} else if len(val) > 0 {
					r.expectFailed = true
				}
			}
		case 10:
			if equalFoldString(name, "connection") {
				if hasToken(val, "close") {
					connClose = true
				}
				if hasToken(val, "keep-alive") {
					connKeep = true
				}
			}
		case 14:
			if equalFoldString(name, "content-length") {
				if clSeen {
					if !bytes.Equal(val, clVal) {
						clBad = true
					}
					continue
				}
				clSeen, clVal = true, val
				n, ok := parseContentLength(val)
				if !ok {
					clBad = true
				}
				r.contentLength = n
			}
		case 17:
			if equalFoldString(name, "transfer-encoding") {
				teCount++
				if !equalFoldString(val, "chunked") {
					teBad = true
				}
			}
		}
	}
	http11 := r.ProtoAtLeast(1, 1)
	switch {
	case hostCount > 1:
		return errBadRequest
	case teCount > 0 && !http11:
		return errBadRequest // Go ignores Transfer-Encoding in HTTP/1.0; we refuse the ambiguity
	case teCount > 1 || teBad:
		return errUnsupportedTE
	case clBad:
		return errBadRequest
	case teCount == 1 && clSeen:
		return errBadRequest // Content-Length with Transfer-Encoding: a smuggling shape
	case r.major != 1:
		return errVersion
	case hostCount == 0 && http11:
		return errMissingHost
	case hostBad:
		return errMalformedHost
	case nameSpace:
		return errInvalidHeaderName
	}
	if teCount == 1 {
		r.chunked = true
		r.contentLength = -1
	} else if !clSeen {
		r.contentLength = -1
	}
	if http11 {
		r.keepAlive = !connClose
	} else {
		r.keepAlive = connKeep && !connClose
	}
	if !r.expect100 || r.contentLength == 0 || !http11 {
		r.expect100 = false
	}
	return errNone
}

// offsetIn returns the offset of sub within s; sub must be a subslice of s.
func offsetIn(s, sub []byte) int { return cap(s) - cap(sub) }

func parseContentLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func (r *Request) parseVersion(v []byte) bool {
	if len(v) != 8 || string(v[:5]) != "HTTP/" || v[6] != '.' ||
		v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9' {
		return false
	}
	r.major, r.minor = v[5]-'0', v[7]-'0'
	return true
}

// parseTarget splits the request-target r.buf[ts:te] into path and query and
// validates it the way Go's url.ParseRequestURI does for the forms we serve.
func (r *Request) parseTarget(ts, te int) parseErr {
	t := r.buf[ts:te]
	if len(t) == 0 {
		return errBadRequest
	}
	for _, c := range t {
		if c < 0x20 || c == 0x7f {
			return errBadRequest
		}
	}
	ps := ts
	switch {
	case t[0] == '/':
	case len(t) == 1 && t[0] == '*':
		r.path = span{ts, te}
		r.query = span{te, te}
		return errNone
	default:
		// absolute-form: scheme ":" ["//" authority] path
		i := 0
		for i < len(t) && (t[i] >= 'a' && t[i] <= 'z' || t[i] >= 'A' && t[i] <= 'Z' ||
			i > 0 && (t[i] >= '0' && t[i] <= '9' || t[i] == '+' || t[i] == '-' || t[i] == '.')) {
			i++
		}
		if i == 0 || i >= len(t) || t[i] != ':' {
			return errBadRequest
		}
		i++
		if i+1 < len(t) && t[i] == '/' && t[i+1] == '/' {
			i += 2
			for i < len(t) && t[i] != '/' && t[i] != '?' {
				i++
			}
		} else if i < len(t) && t[i] != '/' {
			// opaque URI: no path
			r.path = span{te, te}
			r.query = span{te, te}
			return errNone
		}
		ps = ts + i
	}
	pe, qs := te, te
	if q := bytes.IndexByte(r.buf[ps:te], '?'); q >= 0 {
		pe, qs = ps+q, ps+q+1
	}
	r.path = span{ps, pe}
	r.query = span{qs, te}
	if !validPathEscapes(r.buf[ps:pe]) {
		return errBadRequest
	}
	return errNone
}
