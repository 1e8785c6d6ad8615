package grpcserver

import (
	"context"
	"errors"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/statecar/statecar/api"
)

// gRPC proxying (daprd pkg/messaging/grpc_proxy.go and
// pkg/api/grpc/proxy): a call of a service the server does not know, with
// the metadata dapr-callee-app-id or dapr-app-id, is forwarded message by
// message to the target app's gRPC server and its answer (headers,
// messages, trailers, status) is returned as it is. statecar reaches its
// own app only: any other app id fails as an unresolvable name does.

// ProxyApp is the app's gRPC connection for proxied calls (the app
// channel); Conn fails when there is no app channel.
type ProxyApp interface {
	// Conn returns the connection to the app's gRPC server and the app API
	// token to send ("" for none).
	Conn() (conn *grpc.ClientConn, token string, err error)
}

// frame is one message passed through without decoding.
type frame struct{ payload []byte }

// proxyCodec passes frames through and encodes everything else with
// grpc-go's proto codec (daprd's codec.Proxy, here as the server's codec
// and the proxied calls' codec rather than a global registration).
type proxyCodec struct{ proto encoding.CodecV2 }

func newProxyCodec() proxyCodec { return proxyCodec{proto: encoding.GetCodecV2("proto")} }

func (c proxyCodec) Marshal(v any) (mem.BufferSlice, error) {
	if f, ok := v.(*frame); ok {
		return mem.BufferSlice{mem.SliceBuffer(f.payload)}, nil
	}
	return c.proto.Marshal(v)
}

func (c proxyCodec) Unmarshal(data mem.BufferSlice, v any) error {
	if f, ok := v.(*frame); ok {
		f.payload = data.Materialize()
		return nil
	}
	return c.proto.Unmarshal(data, v)
}

func (proxyCodec) Name() string { return "proto" }

var proxyDesc = &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}

// proxy is the server's UnknownServiceHandler.
func (s *Server) proxy(_ any, ss grpc.ServerStream) error {
	full, ok := grpc.MethodFromServerStream(ss)
	if !ok {
		return status.Errorf(codes.Internal, "full method name not found in stream")
	}
	ctx := ss.Context()
	md, _ := metadata.FromIncomingContext(ctx)
	v := md["dapr-callee-app-id"]
	if len(v) == 0 {
		v = md["dapr-app-id"]
		if len(v) == 0 {
			return errors.New("failed to proxy request: required metadata dapr-callee-app-id or dapr-app-id not found")
		}
	}
	if err := s.dapr.invoker().ProxyTarget(v[0]); err != nil {
		return err
	}
	if _, err := api.NormalizeMethod(full); err != nil {
		return status.Errorf(codes.InvalidArgument, "invalid method: %v", err)
	}
	if s.cfg.ProxyApp == nil {
		return status.Error(codes.Unavailable, "failed to proxy request: app channel not initialized")
	}
	conn, token, err := s.cfg.ProxyApp.Conn()
	if err != nil {
		return err
	}
	out := md.Copy()
	delete(out, "dapr-api-token")
	out.Delete("dapr-app-id")
	if token != "" {
		out.Set("dapr-api-token", token)
	}
	cctx, cancel := context.WithCancel(metadata.NewOutgoingContext(ctx, out))
	defer cancel()
	opts := []grpc.CallOption{grpc.ForceCodecV2(newProxyCodec())}
	if n := s.cfg.MaxMsgSize; n > 0 {
		opts = append(opts, grpc.MaxCallRecvMsgSize(n), grpc.MaxCallSendMsgSize(n))
	}
	cs, err := grpc.NewClientStream(cctx, proxyDesc, conn, full, opts...)
	if err != nil {
		return err
	}
	// Client to app: every message, then CloseSend. App to client: the
	// header, every message, and the trailer with the status.
	c2s := make(chan error, 1)
	go func() {
		for {
			f := &frame{}
			if err := ss.RecvMsg(f); err != nil {
				if errors.Is(err, io.EOF) {
					c2s <- cs.CloseSend()
				} else {
					c2s <- err
				}
				return
			}
			if err := cs.SendMsg(f); err != nil {
				// The app ended the call (SendMsg reports io.EOF, the
				// status comes from RecvMsg): stop sending, silently, as
				// daprd's proxy does.
				return
			}
		}
	}()
	// s2c reports how the app side ended: fromApp when cs.RecvMsg failed
	// (the app's status; its trailer is complete and may be read), else
	// sending to the caller failed (the app's stream may still be open).
	type s2cEnd struct {
		err     error
		fromApp bool
	}
	s2c := make(chan s2cEnd, 1)
	go func() {
		// Header blocks until the app sent its header (or the call ended,
		// which RecvMsg then reports).
		if h, err := cs.Header(); err == nil && len(h) > 0 {
			if err := ss.SendHeader(h); err != nil {
				s2c <- s2cEnd{err: err}
				return
			}
		}
		for {
			f := &frame{}
			if err := cs.RecvMsg(f); err != nil {
				s2c <- s2cEnd{err: err, fromApp: true}
				return
			}
			if err := ss.SendMsg(f); err != nil {
				s2c <- s2cEnd{err: err}
				return
			}
		}
	}()
	for {
		select {
		case err := <-c2s:
			if err != nil {
				// The caller's stream failed (it went away, or a message
				// was too large): end the call with that status, as daprd.
				cancel()
				if _, ok := status.FromError(err); ok {
					return err
				}
				return status.Errorf(codes.Internal, "failed proxying server-to-client: %v", err)
			}
			c2s = nil // half-closed; wait for the app's end
		case end := <-s2c:
			if !end.fromApp {
				cancel() // the caller is gone: end the app's call
				return end.err
			}
			ss.SetTrailer(cs.Trailer())
			if errors.Is(end.err, io.EOF) {
				return nil
			}
			return end.err
		}
	}
}
