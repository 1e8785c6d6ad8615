package grpcserver

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/protobuf/proto"
)

// rawCaller sends one pre-encoded unary request at a time over one HTTP/2
// connection and reads its reply, allocating nothing itself, so that
// AllocsPerRun and -benchmem see the server's allocations alone.
type rawCaller struct {
	nc    net.Conn
	first []byte // request header block that fills the server's HPACK table
	block []byte // the same headers as indexed fields (every later request)
	msg   []byte // the gRPC message
	out   []byte
	in    []byte
	n     int
	id    uint32
	// dec, when not nil, decodes every response header block (grpc-go's
	// server indexes and Huffman-codes its fields); nil scans for the
	// literal grpc-status the statecar transport sends, allocating nothing.
	dec    *hpack.Decoder
	status string
}

func newRawCaller(tb testing.TB, addr, method string, req proto.Message) *rawCaller {
	tb.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = nc.Close() })
	c := &rawCaller{nc: nc, in: make([]byte, 1<<20), id: 1}
	// Like a real client: the first request adds its fields to the HPACK
	// dynamic table, later ones refer to them by index.
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	fields := []hpack.HeaderField{{Name: ":method", Value: "POST"}, {Name: ":scheme", Value: "http"}, {Name: ":path", Value: method},
		{Name: ":authority", Value: "x"}, {Name: "content-type", Value: "application/grpc"}, {Name: "te", Value: "trailers"}, {Name: "user-agent", Value: "raw"}}
	for _, f := range fields {
		_ = enc.WriteField(f)
	}
	c.first = append([]byte(nil), buf.Bytes()...)
	buf.Reset()
	for _, f := range fields {
		_ = enc.WriteField(f)
	}
	c.block = append([]byte(nil), buf.Bytes()...)
	raw, err := proto.Marshal(req)
	if err != nil {
		tb.Fatal(err)
	}
	c.msg = binary.BigEndian.AppendUint32([]byte{0}, uint32(len(raw)))
	c.msg = append(c.msg, raw...)
	// Preface, empty SETTINGS, SETTINGS ack (for the server's), and a
	// large connection window so that replies never wait.
	c.out = append(c.out, h2Preface...)
	c.out = appendFrameHeader(c.out, 0, frameSettings, 0, 0)
	c.out = appendFrameHeader(c.out, 0, frameSettings, flagAck, 0)
	c.out = appendWindowUpdate(c.out, 0, 1<<30)
	if _, err := nc.Write(c.out); err != nil {
		tb.Fatal(err)
	}
	_ = nc.SetDeadline(time.Now().Add(time.Minute))
	return c
}

// call sends one request and reads frames until its stream ends; it
// returns the grpc-status byte of the trailers ('0' for OK) or 0.
func (c *rawCaller) call() byte {
	id := c.id
	c.id += 2
	block := c.block
	if id == 1 {
		block = c.first
	}
	c.out = appendFrameHeader(c.out[:0], len(block), frameHeaders, flagEndHeaders, id)
	c.out = append(c.out, block...)
	c.out = appendFrameHeader(c.out, len(c.msg), frameData, flagEndStream, id)
	c.out = append(c.out, c.msg...)
	if _, err := c.nc.Write(c.out); err != nil {
		return 0
	}
	for {
		for c.n >= h2FrameHeaderLen {
			length := int(c.in[0])<<16 | int(c.in[1])<<8 | int(c.in[2])
			if c.n < h2FrameHeaderLen+length {
				break
			}
			typ, flags := c.in[3], c.in[4]
			sid := binary.BigEndian.Uint32(c.in[5:]) & 0x7fffffff
			p := c.in[h2FrameHeaderLen : h2FrameHeaderLen+length]
			var st byte
			done := sid == id && flags&flagEndStream != 0 && (typ == frameHeaders || typ == frameData)
			if typ == frameHeaders && c.dec != nil {
				c.status = ""
				if _, err := c.dec.Write(p); err != nil {
					return 0
				}
				if done && len(c.status) > 0 {
					st = c.status[0]
				}
			} else if done && typ == frameHeaders {
				// "grpc-status" literal: 0x00, len 11, name, len, value.
				for i := 0; i+13 < len(p); i++ {
					if p[i] == 11 && string(p[i+1:i+12]) == "grpc-status" {
						st = p[i+13]
						break
					}
				}
			}
			c.n = copy(c.in, c.in[h2FrameHeaderLen+length:c.n])
			if done {
				return st
			}
		}
		m, err := c.nc.Read(c.in[c.n:])
		if err != nil && err != io.EOF {
			return 0
		}
		if m == 0 {
			return 0
		}
		c.n += m
	}
}

// TestFastPathAllocs gates the allocations of one GetState through the
// statecar transport, end to end on a real connection (the caller itself
// allocates nothing). All 11 are the generated handler's and the api's:
// the request message, its key string, grpc.UnaryServerInfo and the
// handler closure (generated code), the response message and its ETag
// string, and three in api.State.Get. The transport adds none: streams
// are recycled, and the metadata and context of a call are shared with
// the previous call of the connection when its headers were the same.
func TestFastPathAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector; the plain run asserts")
	}
	srv, _ := startTransport(t, TransportStatecar, "", 0)
	c := newRawCaller(t, srv.Addrs()[0].String(), "/dapr.proto.runtime.v1.Dapr/GetState",
		&runtimev1pb.GetStateRequest{StoreName: "statestore", Key: "seed"})
	if st := c.call(); st != '0' {
		t.Fatalf("GetState: grpc-status %q", st)
	}
	n := testing.AllocsPerRun(500, func() {
		if st := c.call(); st != '0' {
			t.Fatalf("GetState: grpc-status %q", st)
		}
	})
	t.Logf("allocations per GetState through the transport: %.1f", n)
	if n > 11 {
		t.Fatalf("GetState through the transport allocates %.1f times, want <= 11", n)
	}
}

// BenchmarkTransport measures one GetState at a time through each
// transport with the non-allocating raw caller.
func BenchmarkTransport(b *testing.B) {
	for _, tr := range []string{TransportStatecar, TransportGRPCGo} {
		b.Run(tr, func(b *testing.B) {
			srv, _ := startTransport(b, tr, "", 0)
			c := newRawCaller(b, srv.Addrs()[0].String(), "/dapr.proto.runtime.v1.Dapr/GetState",
				&runtimev1pb.GetStateRequest{StoreName: "statestore", Key: "seed"})
			if tr == TransportGRPCGo {
				c.dec = hpack.NewDecoder(4096, func(f hpack.HeaderField) {
					if f.Name == "grpc-status" {
						c.status = f.Value
					}
				})
			}
			b.ReportAllocs()
			for b.Loop() {
				if st := c.call(); st != '0' {
					b.Fatalf("grpc-status %q", st)
				}
			}
		})
	}
}
