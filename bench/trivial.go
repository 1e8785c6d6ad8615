package bench

import (
	"bytes"
	"context"
	"errors"
	"net"
	"sync"

	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// trivialReply is the whole response of the trivial responder.
var trivialReply = []byte("HTTP/1.1 204 No Content\r\n\r\n")

// TrivialServer is an HTTP/1.1 responder that answers every request with
// "204 No Content" and does nothing else. Driving it shows the most the
// load generator itself can send on this machine. One goroutine serves
// each connection; Close stops the listener and every connection.
type TrivialServer struct {
	ln net.Listener
	wg sync.WaitGroup
	mu struct {
		sync.Mutex
		conns map[net.Conn]struct{} // open connections, closed by Close
	}
}

// ServeTrivial listens on addr ("127.0.0.1:0" for a free port) and serves
// until Close.
func ServeTrivial(addr string) (*TrivialServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &TrivialServer{ln: ln}
	s.mu.conns = map[net.Conn]struct{}{}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Addr returns the listening address.
func (s *TrivialServer) Addr() string { return s.ln.Addr().String() }

// Close stops the server and waits for its goroutines.
func (s *TrivialServer) Close() error {
	err := s.ln.Close()
	s.mu.Lock()
	for c := range s.mu.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

func (s *TrivialServer) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.mu.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			serveTrivialConn(c)
			s.mu.Lock()
			delete(s.mu.conns, c)
			s.mu.Unlock()
			_ = c.Close()
		}()
	}
}

// serveTrivialConn answers pipelined requests on c until it fails.
func serveTrivialConn(c net.Conn) {
	buf := make([]byte, 64<<10)
	out := make([]byte, 0, 4096)
	r, w := 0, 0
	for {
		// Answer every complete request in buf[r:w].
		for {
			n, err := requestLen(buf[r:w])
			if err != nil {
				return
			}
			if n == 0 {
				break
			}
			r += n
			out = append(out, trivialReply...)
		}
		if len(out) > 0 {
			if _, err := c.Write(out); err != nil {
				return
			}
			out = out[:0]
		}
		if r == w {
			r, w = 0, 0
		} else if w == len(buf) {
			if r == 0 {
				return // request larger than the buffer
			}
			w = copy(buf, buf[r:w])
			r = 0
		}
		m, err := c.Read(buf[w:])
		if m == 0 && err != nil {
			return
		}
		w += m
	}
}

// requestLen returns the length of the complete request at the start of b,
// 0 if b holds only part of one.
func requestLen(b []byte) (int, error) {
	end := bytes.Index(b, crlfcrlf)
	if end < 0 {
		return 0, nil
	}
	n := end + 4
	rest := b[:end+2]
	for len(rest) > 0 {
		var line []byte
		line, rest, _ = bytes.Cut(rest, crlf)
		name, value, ok := bytes.Cut(line, colon)
		if ok && asciiEqualFold(name, "content-length") {
			cl, ok := parseDecimal(bytes.TrimSpace(value))
			if !ok {
				return 0, errors.New("bad content-length")
			}
			if int64(len(b)-n) < cl {
				return 0, nil
			}
			return n + int(cl), nil
		}
	}
	return n, nil
}

// trivialDapr answers every state RPC at once with an empty reply.
type trivialDapr struct {
	runtimev1pb.UnimplementedDaprServer
}

func (trivialDapr) GetState(context.Context, *runtimev1pb.GetStateRequest) (*runtimev1pb.GetStateResponse, error) {
	return &runtimev1pb.GetStateResponse{}, nil
}

func (trivialDapr) GetBulkState(context.Context, *runtimev1pb.GetBulkStateRequest) (*runtimev1pb.GetBulkStateResponse, error) {
	return &runtimev1pb.GetBulkStateResponse{}, nil
}

func (trivialDapr) SaveState(context.Context, *runtimev1pb.SaveStateRequest) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func (trivialDapr) DeleteState(context.Context, *runtimev1pb.DeleteStateRequest) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func (trivialDapr) ExecuteStateTransaction(context.Context, *runtimev1pb.ExecuteStateTransactionRequest) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func (trivialDapr) QueryStateAlpha1(context.Context, *runtimev1pb.QueryStateRequest) (*runtimev1pb.QueryStateResponse, error) {
	return &runtimev1pb.QueryStateResponse{}, nil
}

// ServeTrivialGRPC serves a Dapr gRPC API whose state RPCs do nothing, on
// addr, until the returned server is stopped; it is the gRPC counterpart of
// ServeTrivial. It returns the listening address.
func ServeTrivialGRPC(addr string) (*grpc.Server, string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", err
	}
	s := grpc.NewServer()
	runtimev1pb.RegisterDaprServer(s, trivialDapr{})
	go func() { _ = s.Serve(ln) }()
	return s, ln.Addr().String(), nil
}
