package grpcserver

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// HTTP/2 wire constants (RFC 9113 §6, §7, §11.2) used by the statecar
// transport.
const (
	h2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

	frameData         = 0x0
	frameHeaders      = 0x1
	framePriority     = 0x2
	frameRSTStream    = 0x3
	frameSettings     = 0x4
	framePushPromise  = 0x5
	framePing         = 0x6
	frameGoAway       = 0x7
	frameWindowUpdate = 0x8
	frameContinuation = 0x9

	flagEndStream  = 0x1
	flagAck        = 0x1
	flagEndHeaders = 0x4
	flagPadded     = 0x8
	flagPriority   = 0x20

	errCodeNo             = 0x0
	errCodeProtocol       = 0x1
	errCodeFlowControl    = 0x3
	errCodeStreamClosed   = 0x5
	errCodeFrameSize      = 0x6
	errCodeRefusedStream  = 0x7
	errCodeCompression    = 0x9
	errCodeEnhanceYourCal = 0xb

	settingEnablePush        = 0x2
	settingInitialWindowSize = 0x4
	settingMaxFrameSize      = 0x5
	settingMaxHeaderListSize = 0x6

	// h2DefaultWindow is the initial flow-control window of RFC 9113 §6.9.2.
	h2DefaultWindow = 65535
	// h2MaxWindow is the largest legal flow-control window (2^31-1).
	h2MaxWindow = 1<<31 - 1
	// h2MaxFrame is the frame payload size the transport accepts (the
	// protocol default, as grpc-go's server) and the size it starts sending
	// with until the peer's SETTINGS say otherwise.
	h2MaxFrame = 16384
	// h2FrameHeaderLen is the size of a frame header.
	h2FrameHeaderLen = 9
)

// h2ConnError is a connection error (RFC 9113 §5.4.1): the connection ends
// with a GOAWAY carrying code.
type h2ConnError struct {
	code   uint32
	reason string
}

func (e h2ConnError) Error() string {
	return fmt.Sprintf("http2 connection error %d: %s", e.code, e.reason)
}

// appendFrameHeader appends a frame header.
func appendFrameHeader(b []byte, length int, typ, flags byte, stream uint32) []byte {
	return append(b, byte(length>>16), byte(length>>8), byte(length), typ, flags,
		byte(stream>>24)&0x7f, byte(stream>>16), byte(stream>>8), byte(stream))
}

// appendRST appends a RST_STREAM frame.
func appendRST(b []byte, stream, code uint32) []byte {
	b = appendFrameHeader(b, 4, frameRSTStream, 0, stream)
	return binary.BigEndian.AppendUint32(b, code)
}

// appendWindowUpdate appends a WINDOW_UPDATE frame.
func appendWindowUpdate(b []byte, stream uint32, incr int) []byte {
	b = appendFrameHeader(b, 4, frameWindowUpdate, 0, stream)
	return binary.BigEndian.AppendUint32(b, uint32(incr)&0x7fffffff)
}

// appendGoAway appends a GOAWAY frame.
func appendGoAway(b []byte, last, code uint32, debug string) []byte {
	b = appendFrameHeader(b, 8+len(debug), frameGoAway, 0, 0)
	b = binary.BigEndian.AppendUint32(b, last&0x7fffffff)
	b = binary.BigEndian.AppendUint32(b, code)
	return append(b, debug...)
}

// appendHPACKInt appends an HPACK integer with an n-bit prefix whose high
// bits are first (RFC 7541 §5.1).
func appendHPACKInt(b []byte, first byte, n uint, v uint64) []byte {
	max := uint64(1)<<n - 1
	if v < max {
		return append(b, first|byte(v))
	}
	b = append(b, first|byte(max))
	v -= max
	for v >= 128 {
		b = append(b, byte(v&0x7f)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// appendHPACKString appends a raw (not Huffman-coded) string literal.
func appendHPACKString(b []byte, s string) []byte {
	b = appendHPACKInt(b, 0, 7, uint64(len(s)))
	return append(b, s...)
}

// appendHPACKField appends a "literal header field without indexing, new
// name" (RFC 7541 §6.2.2). The transport never adds to the peer's dynamic
// table, so its header blocks are valid whatever table size the peer set.
func appendHPACKField(b []byte, name, value string) []byte {
	b = append(b, 0)
	b = appendHPACKString(b, name)
	return appendHPACKString(b, value)
}

// hpackStatus200 is ":status: 200" (static table index 8).
const hpackStatus200 = "\x88"

// appendResponseHeaders appends the header block of a gRPC response:
// :status 200 and content-type.
func appendResponseHeaders(b []byte, contentType string) []byte {
	b = append(b, hpackStatus200...)
	// content-type is static table index 31: literal without indexing,
	// indexed name (4-bit prefix).
	b = appendHPACKInt(b, 0, 4, 31)
	return appendHPACKString(b, contentType)
}

// grpcTimeout parses a grpc-timeout header value exactly as grpc-go's
// decodeTimeout; ok is false when grpc-go would reject it.
func grpcTimeout(s string) (d time.Duration, ok bool) {
	size := len(s)
	if size < 2 || size > 9 {
		return 0, false
	}
	var unit time.Duration
	switch s[size-1] {
	case 'H':
		unit = time.Hour
	case 'M':
		unit = time.Minute
	case 'S':
		unit = time.Second
	case 'm':
		unit = time.Millisecond
	case 'u':
		unit = time.Microsecond
	case 'n':
		unit = time.Nanosecond
	default:
		return 0, false
	}
	t, err := strconv.ParseUint(s[:size-1], 10, 64)
	if err != nil {
		return 0, false
	}
	const maxHours = 1<<63/uint64(time.Hour) - 1
	if unit == time.Hour && t > maxHours {
		return time.Duration(1<<63 - 1), true
	}
	return unit * time.Duration(t), true
}

// encodeGrpcMessage percent-encodes a grpc-message value exactly as grpc-go
// (internal/transport/http_util.go), including its handling of invalid
// UTF-8 (each bad byte becomes %EF%BF%BD).
func encodeGrpcMessage(msg string) string {
	i := 0
	for ; i < len(msg); i++ {
		if c := msg[i]; c < ' ' || c > '~' || c == '%' {
			break
		}
	}
	if i == len(msg) {
		return msg
	}
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(msg)+16)
	for len(msg) > 0 {
		r, size := utf8.DecodeRuneInString(msg)
		msg = msg[size:]
		for _, c := range []byte(string(r)) {
			if size == 1 && c >= ' ' && c <= '~' && c != '%' {
				b = append(b, c)
				continue
			}
			b = append(b, '%', hex[c>>4], hex[c&0xf])
		}
	}
	return string(b)
}

// validHeaderName reports whether a regular (non-pseudo) header name is a
// lower-case token, as RFC 9113 §8.2.1 requires.
func validHeaderName(n string) bool {
	if n == "" {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' || c == '_' || c == '.' || c == '!' || c == '#' || c == '$' || c == '&' ||
			c == '\'' || c == '*' || c == '+' || c == '^' || c == '`' || c == '|' || c == '~':
		default:
			return false
		}
	}
	return true
}
