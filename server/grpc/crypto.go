package grpcserver

import (
	"context"
	"fmt"
	"time"

	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc"

	"github.com/statecar/statecar/api"
)

// The Cryptography API over gRPC. statecar loads no crypto components:
// EncryptAlpha1 and DecryptAlpha1 check their first message as daprd does
// and then fail with "crypto providers not configured"; the Subtle*
// RPCs answer as daprd's default build, which leaves them out
// (Unimplemented "this API is currently not implemented").

// cryptoFirstChunkTimeout is how long daprd waits for a stream's first
// message.
const cryptoFirstChunkTimeout = 5 * time.Second

// cryptoFirstMessage receives the stream's first message as daprd's
// cryptoGetFirstChunk does.
func cryptoFirstMessage(stream grpc.ServerStream, m any) *api.Error {
	ctx, cancel := context.WithTimeout(stream.Context(), cryptoFirstChunkTimeout)
	defer cancel()
	ch := make(chan error, 1)
	go func() { ch <- stream.RecvMsg(m) }()
	select {
	case <-ctx.Done():
		return api.NewBadRequest(fmt.Sprintf("error waiting for first message: %v", ctx.Err()))
	case err := <-ch:
		if err != nil {
			return api.NewCryptoOperation(fmt.Errorf("error receiving the first message: %w", err))
		}
	}
	return nil
}

// EncryptAlpha1 fails after daprd's checks of the options.
func (d *daprAPI) EncryptAlpha1(stream runtimev1pb.Dapr_EncryptAlpha1Server) error {
	var req runtimev1pb.EncryptRequest
	if e := cryptoFirstMessage(stream, &req); e != nil {
		return fail(e)
	}
	switch o := req.GetOptions(); {
	case o == nil:
		return fail(api.NewBadRequest("first message does not contain the required options"))
	case o.GetKeyName() == "":
		return fail(api.NewBadRequest("missing property 'keyName' in the options message"))
	case o.GetKeyWrapAlgorithm() == "":
		return fail(api.NewBadRequest("missing property 'keyWrapAlgorithm' in the options message"))
	}
	return fail(api.NewCryptoProvidersNotConfigured())
}

// DecryptAlpha1 fails after daprd's check of the options.
func (d *daprAPI) DecryptAlpha1(stream runtimev1pb.Dapr_DecryptAlpha1Server) error {
	var req runtimev1pb.DecryptRequest
	if e := cryptoFirstMessage(stream, &req); e != nil {
		return fail(e)
	}
	if req.GetOptions() == nil {
		return fail(api.NewBadRequest("first message does not contain the required options"))
	}
	return fail(api.NewCryptoProvidersNotConfigured())
}

// SubtleGetKeyAlpha1 is not in daprd's default build.
func (d *daprAPI) SubtleGetKeyAlpha1(context.Context, *runtimev1pb.SubtleGetKeyRequest) (*runtimev1pb.SubtleGetKeyResponse, error) {
	return nil, fail(api.NewAPIUnimplemented())
}

// SubtleEncryptAlpha1 is not in daprd's default build.
func (d *daprAPI) SubtleEncryptAlpha1(context.Context, *runtimev1pb.SubtleEncryptRequest) (*runtimev1pb.SubtleEncryptResponse, error) {
	return nil, fail(api.NewAPIUnimplemented())
}

// SubtleDecryptAlpha1 is not in daprd's default build.
func (d *daprAPI) SubtleDecryptAlpha1(context.Context, *runtimev1pb.SubtleDecryptRequest) (*runtimev1pb.SubtleDecryptResponse, error) {
	return nil, fail(api.NewAPIUnimplemented())
}

// SubtleWrapKeyAlpha1 is not in daprd's default build.
func (d *daprAPI) SubtleWrapKeyAlpha1(context.Context, *runtimev1pb.SubtleWrapKeyRequest) (*runtimev1pb.SubtleWrapKeyResponse, error) {
	return nil, fail(api.NewAPIUnimplemented())
}

// SubtleUnwrapKeyAlpha1 is not in daprd's default build.
func (d *daprAPI) SubtleUnwrapKeyAlpha1(context.Context, *runtimev1pb.SubtleUnwrapKeyRequest) (*runtimev1pb.SubtleUnwrapKeyResponse, error) {
	return nil, fail(api.NewAPIUnimplemented())
}

// SubtleSignAlpha1 is not in daprd's default build.
func (d *daprAPI) SubtleSignAlpha1(context.Context, *runtimev1pb.SubtleSignRequest) (*runtimev1pb.SubtleSignResponse, error) {
	return nil, fail(api.NewAPIUnimplemented())
}

// SubtleVerifyAlpha1 is not in daprd's default build.
func (d *daprAPI) SubtleVerifyAlpha1(context.Context, *runtimev1pb.SubtleVerifyRequest) (*runtimev1pb.SubtleVerifyResponse, error) {
	return nil, fail(api.NewAPIUnimplemented())
}
