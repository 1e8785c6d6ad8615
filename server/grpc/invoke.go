package grpcserver

import (
	"context"
	"strconv"

	commonv1pb "github.com/dapr/dapr/pkg/proto/common/v1"
	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/statecar/statecar/api"
)

// InvokeService is daprd's deprecated service invocation RPC (pkg/api/grpc
// InvokeService): the message goes to the target with the call's incoming
// metadata. An HTTP callee's status is returned in the dapr-http-status
// header, and a non-2xx one as the error daprd builds for it (the mapped
// code, the status text and an ErrorInfo with the code and the first 63
// bytes of the body); a gRPC callee's status, headers and trailers are
// returned as they are.
func (d *daprAPI) InvokeService(ctx context.Context, in *runtimev1pb.InvokeServiceRequest) (*commonv1pb.InvokeResponse, error) {
	msg := in.GetMessage()
	mr := &api.MethodRequest{
		Verb:        msg.GetHttpExtension().GetVerb().String(),
		Method:      msg.GetMethod(),
		RawQuery:    msg.GetHttpExtension().GetQuerystring(),
		ContentType: msg.GetContentType(),
		Body:        msg.GetData().GetValue(),
		TypeURL:     msg.GetData().GetTypeUrl(),
		// daprd forwards the message as it is: an HTTP callee refuses one
		// without http_extension, a gRPC app gets none.
		NoHTTPExtension: msg.GetHttpExtension() == nil,
	}
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if d.cfg.APIToken != "" {
			md = md.Copy()
			md.Delete("dapr-api-token") // daprd's token check removes it
		}
		mr.Header = md
	}
	resp, e := d.invoker().Invoke(ctx, in.GetId(), mr)
	if e != nil {
		return nil, fail(e)
	}
	out := &commonv1pb.InvokeResponse{Data: &anypb.Any{TypeUrl: resp.TypeURL, Value: resp.Body}, ContentType: resp.ContentType}
	header := api.ToGRPCMetadata(resp.Header)
	var err error
	if resp.HTTP {
		header.Set("dapr-http-status", strconv.Itoa(resp.Status))
		err = api.ErrorFromHTTPResponse(resp.Status, string(resp.Body))
	} else {
		if len(resp.Trailer) > 0 {
			_ = grpc.SetTrailer(ctx, api.ToGRPCMetadata(resp.Trailer))
		}
		if codes.Code(resp.Status) != codes.OK {
			err = status.ErrorProto(&spb.Status{Code: int32(resp.Status), Message: resp.Message, Details: resp.Details})
		}
	}
	_ = grpc.SetHeader(ctx, header)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// invoker is Config.Invoker, or one without an app channel.
func (d *daprAPI) invoker() *api.Invoker {
	if d.cfg.Invoker != nil {
		return d.cfg.Invoker
	}
	return d.noInvoker
}
