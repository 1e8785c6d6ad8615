package grpcserver

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	commonv1pb "github.com/dapr/dapr/pkg/proto/common/v1"
	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip" // registers gzip on both sides
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/statecar/statecar/api"
)

// startTransport starts a server on transport tr over a fresh in-memory
// store holding "seed" and returns a client connection to it.
func startTransport(t testing.TB, tr, token string, maxHL int) (*Server, *grpc.ClientConn) {
	t.Helper()
	st, err := api.New(api.Config{AppID: testApp, Stores: []api.StoreEntry{entry("statestore", openStore(t, "statestore"))}, DisableMetrics: true})
	if err != nil {
		t.Fatal(err)
	}
	if e := st.Save(context.Background(), "statestore", []api.Item{{Key: "seed", Value: []byte(`"v"`)}, {Key: "big", Value: bytes.Repeat([]byte("x"), 300<<10)}}); e != nil {
		t.Fatal(e)
	}
	return serveAndDial(t, Config{
		Addrs: []string{"127.0.0.1:0"}, State: st, AppID: testApp, APIToken: token, MaxMsgSize: 1 << 20,
		MaxHeaderListSize: maxHL, DisableMetrics: true, Logger: quiet, Transport: tr,
		Metadata: func() *runtimev1pb.GetMetadataResponse { return &runtimev1pb.GetMetadataResponse{Id: testApp} },
	})
}

// outcome is what a call returned, in comparable form.
type outcome struct {
	code    codes.Code
	msg     string
	details string // the status details, decoded (describe)
	reply   string
}

func outcomeOf(reply proto.Message, err error) outcome {
	if err != nil {
		st := status.Convert(err)
		return outcome{code: st.Code(), msg: st.Message(), details: strings.Join(describe(st), "\n")}
	}
	raw, _ := proto.MarshalOptions{Deterministic: true}.Marshal(reply)
	return outcome{reply: string(raw)}
}

// TestTransportsAgree runs the same calls against statecar's transport and
// grpc-go's and requires identical answers: the fast path for the common
// calls, and the hand-over to grpc-go for everything else (unknown
// methods, streams, reflection, compression, oversized messages).
func TestTransportsAgree(t *testing.T) {
	_, ours := startTransport(t, TransportStatecar, "tok", 0)
	_, theirs := startTransport(t, TransportGRPCGo, "tok", 0)
	withToken := metadata.AppendToOutgoingContext(context.Background(), "dapr-api-token", "tok")
	get := func(key string) *runtimev1pb.GetStateRequest {
		return &runtimev1pb.GetStateRequest{StoreName: "statestore", Key: key}
	}
	type call struct {
		name string
		run  func(conn *grpc.ClientConn) outcome
	}
	unary := func(method string, ctx context.Context, req, resp proto.Message, opts ...grpc.CallOption) func(*grpc.ClientConn) outcome {
		return func(conn *grpc.ClientConn) outcome {
			r := proto.Clone(resp)
			proto.Reset(r)
			err := conn.Invoke(ctx, "/dapr.proto.runtime.v1.Dapr/"+method, req, r, opts...)
			return outcomeOf(r, err)
		}
	}
	calls := []call{
		{"get", unary("GetState", withToken, get("seed"), &runtimev1pb.GetStateResponse{})},
		{"get missing key", unary("GetState", withToken, get("nope"), &runtimev1pb.GetStateResponse{})},
		{"get bad key", unary("GetState", withToken, get("a||b"), &runtimev1pb.GetStateResponse{})},
		{"get unknown store", unary("GetState", withToken, &runtimev1pb.GetStateRequest{StoreName: "x", Key: "k"}, &runtimev1pb.GetStateResponse{})},
		{"get big value", unary("GetState", withToken, get("big"), &runtimev1pb.GetStateResponse{})},
		{"get without token", unary("GetState", context.Background(), get("seed"), &runtimev1pb.GetStateResponse{})},
		{"get gzip", unary("GetState", withToken, get("seed"), &runtimev1pb.GetStateResponse{}, grpc.UseCompressor("gzip"))},
		{"get deadline", func(conn *grpc.ClientConn) outcome {
			ctx, cancel := context.WithTimeout(withToken, time.Hour)
			defer cancel()
			return unary("GetState", ctx, get("seed"), &runtimev1pb.GetStateResponse{})(conn)
		}},
		{"get binary metadata", unary("GetState", metadata.AppendToOutgoingContext(withToken, "x-trace-bin", "\x00\xff"), get("seed"), &runtimev1pb.GetStateResponse{})},
		{"save stale etag", unary("SaveState", withToken, &runtimev1pb.SaveStateRequest{StoreName: "statestore", States: []*commonv1pb.StateItem{
			{Key: "seed", Value: []byte(`1`), Etag: &commonv1pb.Etag{Value: "999"}}}}, &emptypb.Empty{})},
		{"save too large", unary("SaveState", withToken, &runtimev1pb.SaveStateRequest{StoreName: "statestore", States: []*commonv1pb.StateItem{
			{Key: "k", Value: make([]byte, 2<<20)}}}, &emptypb.Empty{})},
		{"bulk get", unary("GetBulkState", withToken, &runtimev1pb.GetBulkStateRequest{StoreName: "statestore", Keys: []string{"seed", "nope"}}, &runtimev1pb.GetBulkStateResponse{})},
		{"publish without brokers", unary("PublishEvent", withToken, &runtimev1pb.PublishEventRequest{PubsubName: "p", Topic: "t"}, &emptypb.Empty{})},
		{"unimplemented unary", unary("GetActorState", withToken, &runtimev1pb.GetActorStateRequest{ActorType: "t", ActorId: "i", Key: "k"}, &runtimev1pb.GetActorStateResponse{})},
		{"unknown method", unary("NoSuchMethod", withToken, &emptypb.Empty{}, &emptypb.Empty{})},
		{"unknown service", func(conn *grpc.ClientConn) outcome {
			err := conn.Invoke(withToken, "/no.Such/Method", &emptypb.Empty{}, &emptypb.Empty{})
			return outcomeOf(nil, err)
		}},
		{"server stream", func(conn *grpc.ClientConn) outcome {
			s, err := runtimev1pb.NewDaprClient(conn).SubscribeConfiguration(withToken, &runtimev1pb.SubscribeConfigurationRequest{StoreName: "c"})
			if err != nil {
				return outcomeOf(nil, err)
			}
			_, err = s.Recv()
			return outcomeOf(nil, err)
		}},
		{"reflection", func(conn *grpc.ClientConn) outcome {
			s, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(withToken)
			if err != nil {
				return outcomeOf(nil, err)
			}
			if err := s.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
				return outcomeOf(nil, err)
			}
			r, err := s.Recv()
			_ = s.CloseSend()
			return outcomeOf(r, err)
		}},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			a, b := c.run(ours), c.run(theirs)
			if a != b {
				t.Fatalf("transports disagree:\n statecar %d %q reply %d bytes details %q\n grpc-go  %d %q reply %d bytes details %q",
					a.code, a.msg, len(a.reply), a.details, b.code, b.msg, len(b.reply), b.details)
			}
		})
	}
}

// rawClient speaks HTTP/2 frames to a server directly.
type rawClient struct {
	t   *testing.T
	nc  net.Conn
	fr  *http2.Framer
	enc *hpack.Encoder
	buf bytes.Buffer
}

func dialRaw(t *testing.T, addr string, settings ...http2.Setting) *rawClient {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(nc, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	c := &rawClient{t: t, nc: nc, fr: http2.NewFramer(nc, nc)}
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.enc = hpack.NewEncoder(&c.buf)
	if err := c.fr.WriteSettings(settings...); err != nil {
		t.Fatal(err)
	}
	return c
}

// headerBlock encodes a request header block for method with extra fields.
func (c *rawClient) headerBlock(method string, extra ...string) []byte {
	c.buf.Reset()
	fields := []string{":method", "POST", ":scheme", "http", ":path", method, ":authority", "x", "content-type", "application/grpc", "te", "trailers"}
	fields = append(fields, extra...)
	for i := 0; i < len(fields); i += 2 {
		_ = c.enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	return append([]byte(nil), c.buf.Bytes()...)
}

// grpcMessage frames m as one uncompressed gRPC message.
func grpcMessage(t *testing.T, m proto.Message) []byte {
	raw, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	out := []byte{0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(out[1:], uint32(len(raw)))
	return append(out, raw...)
}

// exchange is what the client read for one stream.
type exchange struct {
	headers  []hpack.HeaderField
	trailers []hpack.HeaderField
	data     []byte
	rst      http2.ErrCode
	gotRST   bool
	goAway   *http2.GoAwayFrame
	maxData  int // largest DATA frame
}

func field(fs []hpack.HeaderField, name string) string {
	for _, f := range fs {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

// read reads frames until stream id ends (END_STREAM or RST_STREAM) or the
// connection gets GOAWAY. It acks SETTINGS and answers nothing else;
// onData, when not nil, sees every DATA frame of the stream.
func (c *rawClient) read(id uint32, onData func(*http2.DataFrame)) exchange {
	c.t.Helper()
	var ex exchange
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			c.t.Fatalf("read frame: %v", err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = c.fr.WriteSettingsAck()
			}
		case *http2.MetaHeadersFrame:
			if f.StreamID != id {
				continue
			}
			if ex.headers == nil {
				ex.headers = f.Fields
			} else {
				ex.trailers = f.Fields
			}
			if f.StreamEnded() {
				return ex
			}
		case *http2.DataFrame:
			if f.StreamID != id {
				continue
			}
			ex.data = append(ex.data, f.Data()...)
			ex.maxData = max(ex.maxData, len(f.Data()))
			if onData != nil {
				onData(f)
			}
			if f.StreamEnded() {
				return ex
			}
		case *http2.RSTStreamFrame:
			if f.StreamID == id {
				ex.rst, ex.gotRST = f.ErrCode, true
				return ex
			}
		case *http2.GoAwayFrame:
			ex.goAway = f
			return ex
		}
	}
}

func getStateMsg(t *testing.T, key string) []byte {
	return grpcMessage(t, &runtimev1pb.GetStateRequest{StoreName: "statestore", Key: key})
}

// TestRawFraming drives both transports with hand-made frames and expects
// the same behaviour from each (the expectations are grpc-go's).
func TestRawFraming(t *testing.T) {
	for _, tr := range []string{TransportStatecar, TransportGRPCGo} {
		t.Run(tr, func(t *testing.T) { testRawFraming(t, tr) })
	}
}

func testRawFraming(t *testing.T, tr string) {
	srv, _ := startTransport(t, tr, "", 4096)
	addr := srv.Addrs()[0].String()
	const getState = "/dapr.proto.runtime.v1.Dapr/GetState"

	t.Run("split headers, padded 1-byte data frames", func(t *testing.T) {
		c := dialRaw(t, addr)
		block := c.headerBlock(getState)
		if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block[:3], PadLength: 7}); err != nil {
			t.Fatal(err)
		}
		if err := c.fr.WriteContinuation(1, true, block[3:]); err != nil {
			t.Fatal(err)
		}
		msg := getStateMsg(t, "seed")
		for i := range msg {
			if err := c.fr.WriteDataPadded(1, i == len(msg)-1, msg[i:i+1], []byte{0, 0}); err != nil {
				t.Fatal(err)
			}
		}
		ex := c.read(1, nil)
		if field(ex.trailers, "grpc-status") != "0" || field(ex.headers, ":status") != "200" {
			t.Fatalf("headers %v trailers %v", ex.headers, ex.trailers)
		}
		var resp runtimev1pb.GetStateResponse
		if err := proto.Unmarshal(ex.data[5:], &resp); err != nil || string(resp.Data) != `"v"` {
			t.Fatalf("reply %q: %v", resp.Data, err)
		}
	})

	t.Run("flow control on a large reply", func(t *testing.T) {
		// A 100-byte stream window: the server may send no more until the
		// client credits what it read.
		c := dialRaw(t, addr, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 100})
		if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: c.headerBlock(getState), EndHeaders: true}); err != nil {
			t.Fatal(err)
		}
		if err := c.fr.WriteData(1, true, getStateMsg(t, "big")); err != nil {
			t.Fatal(err)
		}
		window := 100
		connWindow := 65535
		ex := c.read(1, func(f *http2.DataFrame) {
			n := len(f.Data())
			window -= n
			connWindow -= n
			if window < 0 || connWindow < 0 {
				t.Fatalf("server overran the window: stream %d conn %d", window, connWindow)
			}
			if n > 0 {
				_ = c.fr.WriteWindowUpdate(1, uint32(n))
				_ = c.fr.WriteWindowUpdate(0, uint32(n))
				window += n
				connWindow += n
			}
		})
		if field(ex.trailers, "grpc-status") != "0" {
			t.Fatalf("trailers %v", ex.trailers)
		}
		var resp runtimev1pb.GetStateResponse
		if err := proto.Unmarshal(ex.data[5:], &resp); err != nil || len(resp.Data) != 300<<10 {
			t.Fatalf("reply of %d bytes: %v", len(resp.Data), err)
		}
		if ex.maxData > 100 {
			t.Fatalf("a DATA frame of %d bytes with a 100-byte window", ex.maxData)
		}
	})

	t.Run("ping and settings are acked", func(t *testing.T) {
		c := dialRaw(t, addr)
		if err := c.fr.WritePing(false, [8]byte{1, 2, 3, 4, 5, 6, 7, 8}); err != nil {
			t.Fatal(err)
		}
		var settingsAck, pingAck bool
		for !settingsAck || !pingAck {
			f, err := c.fr.ReadFrame()
			if err != nil {
				t.Fatal(err)
			}
			switch f := f.(type) {
			case *http2.SettingsFrame:
				if f.IsAck() {
					settingsAck = true
				} else {
					_ = c.fr.WriteSettingsAck()
				}
			case *http2.PingFrame:
				if !f.IsAck() || f.Data != [8]byte{1, 2, 3, 4, 5, 6, 7, 8} {
					t.Fatalf("ping reply %+v", f)
				}
				pingAck = true
			}
		}
	})

	t.Run("too many pings", func(t *testing.T) {
		c := dialRaw(t, addr)
		for i := range 5 {
			if err := c.fr.WritePing(false, [8]byte{byte(i)}); err != nil {
				break // the server may already have closed
			}
		}
		ex := c.read(0, nil)
		if ex.goAway == nil || ex.goAway.ErrCode != http2.ErrCodeEnhanceYourCalm || string(ex.goAway.DebugData()) != "too_many_pings" {
			t.Fatalf("want GOAWAY ENHANCE_YOUR_CALM too_many_pings, got %+v", ex.goAway)
		}
	})

	streamErrors := []struct {
		name  string
		extra []string
		want  http2.ErrCode
	}{
		{"connection header", []string{"connection", "close"}, http2.ErrCodeProtocol},
		{"upper-case header name", []string{"X-Big", "1"}, http2.ErrCodeProtocol},
		{"header list too large", []string{"x-a", strings.Repeat("a", 2000), "x-b", strings.Repeat("b", 2000), "x-c", strings.Repeat("c", 2000)}, http2.ErrCodeFrameSize},
	}
	for _, tc := range streamErrors {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, addr)
			if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: c.headerBlock(getState, tc.extra...), EndHeaders: true}); err != nil {
				t.Fatal(err)
			}
			if err := c.fr.WriteData(1, true, getStateMsg(t, "seed")); err != nil {
				t.Fatal(err)
			}
			ex := c.read(1, nil)
			if !ex.gotRST || ex.rst != tc.want {
				t.Fatalf("want RST_STREAM %v, got %+v", tc.want, ex)
			}
			// The connection still serves the next stream.
			if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: c.headerBlock(getState), EndHeaders: true}); err != nil {
				t.Fatal(err)
			}
			if err := c.fr.WriteData(3, true, getStateMsg(t, "seed")); err != nil {
				t.Fatal(err)
			}
			if ex := c.read(3, nil); field(ex.trailers, "grpc-status") != "0" {
				t.Fatalf("next stream: %+v", ex)
			}
		})
	}

	t.Run("request larger than the stream window", func(t *testing.T) {
		// 1 MiB + 5 bytes of request against a 1 MiB stream window: the
		// server must credit the window as it takes the bytes in.
		c := dialRaw(t, addr)
		if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: c.headerBlock("/dapr.proto.runtime.v1.Dapr/SaveState"), EndHeaders: true}); err != nil {
			t.Fatal(err)
		}
		msg := grpcMessage(t, &runtimev1pb.SaveStateRequest{StoreName: "statestore", States: []*commonv1pb.StateItem{{Key: "huge", Value: make([]byte, 1<<20-64)}}})
		// Ack the server's SETTINGS (which grant the 1 MiB stream window)
		// before writing, so that the reading goroutine never writes.
		for {
			f, err := c.fr.ReadFrame()
			if err != nil {
				t.Fatal(err)
			}
			if sf, ok := f.(*http2.SettingsFrame); ok && !sf.IsAck() {
				_ = c.fr.WriteSettingsAck()
				break
			}
		}
		done := make(chan exchange, 1)
		go func() { done <- c.read(1, nil) }()
		for len(msg) > 0 {
			n := min(len(msg), 16<<10)
			if err := c.fr.WriteData(1, n == len(msg), msg[:n]); err != nil {
				t.Fatal(err)
			}
			msg = msg[n:]
		}
		if ex := <-done; field(ex.trailers, "grpc-status") != "0" {
			t.Fatalf("SaveState of a 1 MiB message: %+v", ex)
		}
	})

	t.Run("client reset of a stream", func(t *testing.T) {
		c := dialRaw(t, addr)
		if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: c.headerBlock(getState), EndHeaders: true}); err != nil {
			t.Fatal(err)
		}
		_ = c.fr.WriteData(1, false, getStateMsg(t, "seed")[:3])
		_ = c.fr.WriteRSTStream(1, http2.ErrCodeCancel)
		if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: c.headerBlock(getState), EndHeaders: true}); err != nil {
			t.Fatal(err)
		}
		_ = c.fr.WriteData(3, true, getStateMsg(t, "seed"))
		if ex := c.read(3, nil); field(ex.trailers, "grpc-status") != "0" {
			t.Fatalf("stream after a reset: %+v", ex)
		}
	})

	t.Run("bad preface", func(t *testing.T) {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.WriteString(nc, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		if _, err := io.ReadAll(nc); err != nil && !errors.Is(err, io.EOF) {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("connection left open after a bad preface")
			}
		}
	})

	t.Run("request framing errors go to grpc-go", func(t *testing.T) {
		cases := []struct {
			name string
			body []byte
			code string
			msg  string
		}{
			{"no message", nil, "13", "cardinality violation: received no request message from non-client-streaming RPC"},
			{"truncated message", getStateMsg(t, "seed")[:6], "13", "unexpected EOF"},
			{"two messages", append(getStateMsg(t, "seed"), getStateMsg(t, "seed")...), "13", "cardinality violation: received multiple request messages for non-client-streaming RPC"},
		}
		for _, tc := range cases {
			c := dialRaw(t, addr)
			if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: c.headerBlock(getState), EndHeaders: true, EndStream: tc.body == nil}); err != nil {
				t.Fatal(err)
			}
			if tc.body != nil {
				_ = c.fr.WriteData(1, true, tc.body)
			}
			ex := c.read(1, nil)
			tr := ex.trailers
			if tr == nil {
				tr = ex.headers
			}
			if got, msg := field(tr, "grpc-status"), field(tr, "grpc-message"); got != tc.code || !strings.Contains(decodeGrpcMessage(msg), tc.msg) {
				t.Errorf("%s: got %s %q, want %s %q", tc.name, got, msg, tc.code, tc.msg)
			}
		}
	})
}

// decodeGrpcMessage undoes grpc-message percent-encoding.
func decodeGrpcMessage(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			var v byte
			for _, h := range s[i+1 : i+3] {
				v <<= 4
				switch {
				case h >= '0' && h <= '9':
					v |= byte(h - '0')
				case h >= 'A' && h <= 'F':
					v |= byte(h - 'A' + 10)
				}
			}
			b = append(b, v)
			i += 2
			continue
		}
		b = append(b, s[i])
	}
	return string(b)
}

func TestEncodeGrpcMessage(t *testing.T) {
	for in, want := range map[string]string{
		"":              "",
		"plain text":    "plain text",
		"100%":          "100%25",
		"line\nbreak":   "line%0Abreak",
		"héllo":         "h%C3%A9llo",
		"bad\xffutf8":   "bad%EF%BF%BDutf8",
		"tab\there~end": "tab%09here~end",
	} {
		if got := encodeGrpcMessage(in); got != want {
			t.Errorf("encodeGrpcMessage(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestGRPCTimeout(t *testing.T) {
	for in, want := range map[string]time.Duration{"1S": time.Second, "250m": 250 * time.Millisecond, "99999999n": 99999999, "3H": 3 * time.Hour, "7u": 7 * time.Microsecond, "2M": 2 * time.Minute} {
		if d, ok := grpcTimeout(in); !ok || d != want {
			t.Errorf("grpcTimeout(%q) = %v %v, want %v", in, d, ok, want)
		}
	}
	for _, bad := range []string{"", "1", "1x", "123456789S", "-1S", "S"} {
		if _, ok := grpcTimeout(bad); ok {
			t.Errorf("grpcTimeout(%q) accepted", bad)
		}
	}
}

// TestMetadataNotShared: calls on one connection share a cached metadata
// map only when their metadata headers are the same; a deadline (whose
// grpc-timeout differs on every call) does not count, a token does.
func TestMetadataNotShared(t *testing.T) {
	_, conn := startTransport(t, TransportStatecar, "tok", 0)
	client := runtimev1pb.NewDaprClient(conn)
	for i := range 20 {
		tok := "tok"
		if i%3 == 1 {
			tok = "wrong"
		}
		ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(context.Background(), "dapr-api-token", tok), time.Duration(i+1)*time.Minute)
		_, err := client.GetState(ctx, &runtimev1pb.GetStateRequest{StoreName: "statestore", Key: "seed"})
		cancel()
		if want := tok == "tok"; (err == nil) != want {
			t.Fatalf("call %d with token %q: %v", i, tok, err)
		}
	}
}
