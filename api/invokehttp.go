package api

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/anypb"
)

// MethodRequest is one service invocation of a method: what daprd's
// InvokeMethodRequest carries to an app channel.
type MethodRequest struct {
	// Verb is the upper-case HTTP verb ("NONE" passes a gRPC caller's
	// missing HTTP extension through, as daprd does).
	Verb string
	// Method is the method, normalised (no leading slash needed).
	Method string
	// RawQuery is the query string, as the caller wrote it.
	RawQuery    string
	ContentType string
	// Header holds the caller's HTTP headers or gRPC metadata as received
	// (without dapr-app-id when it named the target, and without
	// dapr-api-token when the API token is checked); the channel converts
	// them as daprd does (ToHTTPHeaders, ToGRPCMetadata).
	Header map[string][]string
	Body   []byte
	// TypeURL is the type of a gRPC caller's data (InvokeRequest.data).
	TypeURL string
	// NoHTTPExtension tells that a gRPC caller sent no http_extension: an
	// HTTP callee refuses the call, a gRPC app gets none.
	NoHTTPExtension bool
}

// ProtobufContentType is the content type daprd gives data that carries a
// type URL (a packed protobuf Any).
const ProtobufContentType = "application/x-protobuf"

// MethodResponse is the callee's answer.
type MethodResponse struct {
	// HTTP tells that the callee answered over HTTP: Status is then an
	// HTTP status; otherwise it is a gRPC code, with Message and Details.
	HTTP    bool
	Status  int
	Message string
	Details []*anypb.Any
	// Header is the HTTP response's header, or the gRPC header metadata
	// (lower-case keys), as received; Trailer the gRPC trailer metadata.
	Header      map[string][]string
	Trailer     metadata.MD
	ContentType string
	Body        []byte
	TypeURL     string
}

// ErrStreamTooLarge is the cause of an invocation whose request or
// response body exceeds --max-body-size (daprd's streamutils error text).
var ErrStreamTooLarge = errors.New("stream too large")

// DoHTTP sends r to base (an http(s) URL without a trailing path) with
// client, extra headers set last (an HTTPEndpoint's headers, the app token),
// and returns the response with its body read up to limit bytes.
func DoHTTP(ctx context.Context, client *http.Client, base string, r *MethodRequest, extra http.Header, limit int64) (*MethodResponse, error) {
	// daprd's HTTP channel checks (pkg/channel/http InvokeMethod).
	if r.NoHTTPExtension {
		return nil, status.Error(codes.InvalidArgument, "missing HTTP extension field")
	}
	if r.Verb == "NONE" || r.Verb == http.MethodConnect {
		return nil, status.Error(codes.InvalidArgument, "invalid HTTP verb")
	}
	var u strings.Builder
	u.WriteString(base)
	if len(r.Method) > 0 && r.Method[0] != '/' {
		u.WriteByte('/')
	}
	u.WriteString(r.Method)
	if r.RawQuery != "" {
		u.WriteByte('?')
		u.WriteString(r.RawQuery)
	}
	req, err := http.NewRequestWithContext(ctx, r.Verb, u.String(), bytes.NewReader(r.Body))
	if err != nil {
		return nil, err
	}
	th := ToHTTPHeaders(r.Header, req.Header.Add)
	if th.Traceparent != "" {
		req.Header.Set("traceparent", th.Traceparent)
	}
	if th.Tracestate != "" {
		req.Header.Set("tracestate", th.Tracestate)
	}
	if r.TypeURL != "" {
		req.Header.Set("Content-Type", ProtobufContentType)
	} else if r.ContentType != "" {
		req.Header.Set("Content-Type", r.ContentType)
	} else {
		req.Header.Del("Content-Type")
	}
	for k, vs := range extra {
		for _, v := range vs {
			req.Header.Set(k, v)
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if limit <= 0 {
		limit = 4 << 20
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, err
	}
	if int64(len(body)) > limit {
		return nil, ErrStreamTooLarge
	}
	return &MethodResponse{HTTP: true, Status: resp.StatusCode, Header: endToEnd(resp.Header),
		ContentType: resp.Header.Get("Content-Type"), Body: body}, nil
}

// endToEnd is h without Content-Length, the hop-by-hop headers and those
// the Connection header names (daprd's copyHeader and its Content-Length
// removal).
func endToEnd(h http.Header) http.Header {
	nominated := connectionTokens(h)
	out := make(http.Header, len(h))
	for k, vs := range h {
		if name := strings.ToLower(k); name == "content-length" || isHopByHop(name) || slices.Contains(nominated, name) {
			continue
		}
		out[k] = vs
	}
	return out
}

// TraceMetadata is daprd's processHTTPToGRPCTraceHeader and
// processGRPCToGRPCTraceHeader for a caller's trace context (md: HTTP
// headers or gRPC metadata), adding to out what a gRPC callee gets: a gRPC
// caller's grpc-trace-bin is forwarded as it is, with the traceparent it
// encodes; otherwise a valid traceparent is sent in daprd's rendering
// (version 00), with the tracestate and as grpc-trace-bin. Without a trace
// context it adds nothing (statecar starts no spans of its own).
func TraceMetadata(md map[string][]string, out metadata.MD) {
	var tp, ts, bin string
	for k, vs := range md {
		if len(vs) == 0 {
			continue
		}
		switch strings.ToLower(k) {
		case "traceparent":
			tp = vs[0]
		case "tracestate":
			ts = vs[0]
		case "grpc-trace-bin":
			bin = vs[0]
		}
	}
	if bin != "" {
		if tid, sid, flags, ok := spanContextFromBinary([]byte(bin)); ok && !(allZero(tid) && allZero(sid) && flags == 0) {
			out.Set("traceparent", w3c(tid, sid, flags))
		}
		out.Set("grpc-trace-bin", bin)
		return
	}
	tid, sid, flags, ok := parseTraceparent(tp)
	if !ok {
		return
	}
	out.Set("traceparent", w3c(tid, sid, flags))
	if ts != "" && len(ts) <= 512 {
		out.Set("tracestate", ts)
	}
	b := make([]byte, 0, 29)
	b = append(b, 0, 0)
	b = append(b, tid...)
	b = append(b, 1)
	b = append(b, sid...)
	b = append(b, 2, flags)
	out.Set("grpc-trace-bin", string(b))
}

// parseTraceparent is daprd's SpanContextFromW3CString: version (two hex
// digits, at most fe; exactly four parts for 00), lower-case trace and span
// IDs that are not all zero, flags.
func parseTraceparent(h string) (tid, sid []byte, flags byte, ok bool) {
	parts := strings.Split(h, "-")
	if len(parts) < 4 || len(parts[0]) != 2 {
		return nil, nil, 0, false
	}
	ver, err := hex.DecodeString(parts[0])
	if err != nil || ver[0] > 254 || ver[0] == 0 && len(parts) != 4 {
		return nil, nil, 0, false
	}
	if len(parts[1]) != 32 || len(parts[2]) != 16 || !lowerHex(parts[1]) || !lowerHex(parts[2]) {
		return nil, nil, 0, false
	}
	tid, _ = hex.DecodeString(parts[1])
	sid, _ = hex.DecodeString(parts[2])
	opts, err := hex.DecodeString(parts[3])
	if err != nil || len(opts) < 1 || allZero(tid) || allZero(sid) {
		return nil, nil, 0, false
	}
	return tid, sid, opts[0], true
}

// spanContextFromBinary is daprd's SpanContextFromBinary (OpenCensus's
// format): version 0, field 0 with the trace ID, then optionally field 1
// with the span ID and field 2 with the flags.
func spanContextFromBinary(b []byte) (tid, sid []byte, flags byte, ok bool) {
	if len(b) == 0 || b[0] != 0 {
		return nil, nil, 0, false
	}
	b = b[1:]
	if len(b) < 17 || b[0] != 0 {
		return nil, nil, 0, false
	}
	tid, b = b[1:17], b[17:]
	sid = make([]byte, 8)
	if len(b) >= 9 && b[0] == 1 {
		copy(sid, b[1:9])
		b = b[9:]
	}
	if len(b) >= 2 && b[0] == 2 {
		flags = b[1]
	}
	return tid, sid, flags, true
}

// w3c is daprd's SpanContextToW3CString.
func w3c(tid, sid []byte, flags byte) string {
	return "00-" + hex.EncodeToString(tid) + "-" + hex.EncodeToString(sid) + "-" + hex.EncodeToString([]byte{flags})
}

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// TraceHeaders are the W3C trace context headers of an invocation's caller,
// which the callee receives (daprd continues the caller's trace).
type TraceHeaders struct{ Traceparent, Tracestate string }

// ToHTTPHeaders is daprd's InternalMetadataToHTTPHeader: md (HTTP headers
// or gRPC metadata) as HTTP headers, without the trace headers (returned),
// Content-Type, Content-Length, keys ending in -bin, destination-app-id,
// hop-by-hop headers and those the Connection header nominates; gRPC
// reserved names get a "dapr-" prefix (grpc-* -> dapr-grpc-*, :authority ->
// dapr-authority).
func ToHTTPHeaders(md map[string][]string, add func(name, value string)) TraceHeaders {
	var th TraceHeaders
	nominated := connectionTokens(md)
	for k, vs := range md {
		if len(vs) == 0 {
			continue
		}
		name := strings.ToLower(k)
		switch name {
		case "traceparent":
			th.Traceparent = vs[0]
			continue
		case "tracestate":
			th.Tracestate = vs[0]
			continue
		case "grpc-trace-bin", "destination-app-id":
			continue
		case "baggage":
			add("baggage", vs[0])
			continue
		case "content-type", "content-length":
			continue
		}
		if strings.HasSuffix(name, "-bin") || isHopByHop(name) || slices.Contains(nominated, name) {
			continue
		}
		switch {
		case name == ":method" || name == ":scheme" || name == ":path" || name == ":authority":
			name = "dapr-" + name[1:]
		case strings.HasPrefix(name, "grpc-"):
			name = "dapr-" + name
		}
		for _, v := range vs {
			add(name, v)
		}
	}
	return th
}

// ToGRPCMetadata is daprd's InternalMetadataToGrpcMetadata with HTTP header
// conversion: md as gRPC metadata, without the trace headers and
// destination-app-id; IANA permanent HTTP header names (in their canonical
// form) get a "dapr-" prefix. (daprd base64-decodes the values of keys
// ending in "-bin", which its internal metadata holds encoded: values
// pass through unchanged either way.)
func ToGRPCMetadata(md map[string][]string) metadata.MD {
	out := metadata.MD{}
	for k, vs := range md {
		name := strings.ToLower(k)
		switch name {
		case "traceparent", "tracestate", "grpc-trace-bin", "destination-app-id":
			continue
		}
		if isPermanentHTTPHeader(k) {
			name = "dapr-" + name
		}
		out.Append(name, vs...)
	}
	return out
}

// connectionTokens are the header names (lower case) that md's
// Connection headers nominate as hop-by-hop (RFC 7230 §6.1).
func connectionTokens(md map[string][]string) []string {
	var out []string
	for k, vs := range md {
		if !strings.EqualFold(k, "Connection") {
			continue
		}
		for _, v := range vs {
			for _, tok := range strings.Split(v, ",") {
				if tok = strings.TrimSpace(tok); tok != "" {
					out = append(out, strings.ToLower(tok))
				}
			}
		}
	}
	return out
}

func isHopByHop(name string) bool {
	switch name {
	case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade",
		"http2-settings", "te", "trailer", "proxy-authorization", "proxy-authenticate":
		return true
	}
	return false
}

// isPermanentHTTPHeader is daprd's list (IANA permanent request headers),
// matched on the canonical form only, as daprd matches it.
func isPermanentHTTPHeader(h string) bool {
	switch h {
	case "Accept", "Accept-Charset", "Accept-Language", "Accept-Ranges", "Connection", "Keep-Alive",
		"Proxy-Connection", "Transfer-Encoding", "Upgrade", "Cache-Control", "Content-Type",
		"Content-Length", "Cookie", "Date", "Expect", "From", "Host", "If-Match", "If-Modified-Since",
		"If-None-Match", "If-Schedule-Tag-Match", "If-Unmodified-Since", "Max-Forwards", "Origin",
		"Pragma", "Referer", "Via", "Warning":
		return true
	}
	return false
}
