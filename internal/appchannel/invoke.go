package appchannel

import (
	"context"
	"errors"
	"net/http"

	commonv1pb "github.com/dapr/dapr/pkg/proto/common/v1"
	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/statecar/statecar/api"
)

// Invoker returns the channel as an api.InvokeApp; nil when c is nil.
func (c *Channel) Invoker() api.InvokeApp {
	if c == nil {
		return nil
	}
	return c
}

// Conn returns the app's gRPC connection and API token for proxied gRPC
// calls (grpcserver.ProxyApp), whatever --app-protocol says, as daprd
// dials the app for them; Unavailable without an app channel.
func (c *Channel) Conn() (*grpc.ClientConn, string, error) {
	if c == nil {
		return nil, "", status.Error(codes.Unavailable, "failed to proxy request: app channel not initialized")
	}
	conn, err := c.grpcConn()
	return conn, c.cfg.Token, err
}

// InvokeMethod calls the app's method: over HTTP, {verb} {base}/{method}?{query}
// with the forwarded headers, Content-Type and the app token; over gRPC,
// AppCallback.OnInvoke with the headers as metadata (daprd's
// pkg/channel/http and pkg/channel/grpc invokeMethodV1). The response body
// is read up to limit bytes (0: 4 MiB).
func (c *Channel) InvokeMethod(ctx context.Context, r *api.MethodRequest, limit int64) (*api.MethodResponse, error) {
	if c.IsGRPC() {
		return c.invokeMethodGRPC(ctx, r, limit)
	}
	var extra http.Header
	if c.cfg.Token != "" {
		extra = http.Header{http.CanonicalHeaderKey(tokenHeader): {c.cfg.Token}}
	}
	return api.DoHTTP(ctx, c.client, c.base, r, extra, limit)
}

func (c *Channel) invokeMethodGRPC(ctx context.Context, r *api.MethodRequest, limit int64) (*api.MethodResponse, error) {
	conn, err := c.grpcConn()
	if err != nil {
		return nil, errors.New("error getting app connection: " + err.Error())
	}
	md := api.ToGRPCMetadata(r.Header)
	api.TraceMetadata(r.Header, md)
	if c.cfg.Token != "" {
		md.Set(tokenHeader, c.cfg.Token)
	}
	// daprd calls the app with a fresh context carrying only the metadata
	// (context.Background in invokeMethodV1): the caller's cancellation
	// still applies here, which is what a caller expects.
	ctx = metadata.NewOutgoingContext(ctx, md)
	// daprd always sends data (ProtoWithData), empty or not.
	in := &commonv1pb.InvokeRequest{Method: r.Method, ContentType: r.ContentType,
		Data: &anypb.Any{TypeUrl: r.TypeURL, Value: r.Body}}
	if !r.NoHTTPExtension {
		verb := commonv1pb.HTTPExtension_Verb(commonv1pb.HTTPExtension_Verb_value[r.Verb])
		in.HttpExtension = &commonv1pb.HTTPExtension{Verb: verb, Querystring: r.RawQuery}
	}
	if limit <= 0 {
		limit = maxResponse
	}
	var header, trailer metadata.MD
	resp, err := runtimev1pb.NewAppCallbackClient(conn).OnInvoke(ctx, in, grpc.Header(&header), grpc.Trailer(&trailer),
		grpc.MaxCallRecvMsgSize(int(limit)), grpc.MaxCallSendMsgSize(int(limit)))
	out := &api.MethodResponse{Status: int(codes.OK), Header: header, Trailer: trailer}
	if err != nil {
		st := status.Convert(err)
		out.Status, out.Message, out.Details = int(st.Code()), st.Message(), st.Proto().GetDetails()
		return out, nil
	}
	out.ContentType = resp.GetContentType()
	out.Body = resp.GetData().GetValue()
	out.TypeURL = resp.GetData().GetTypeUrl()
	return out, nil
}
