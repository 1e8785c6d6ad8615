package e2e

import (
	"context"
	"testing"
	"time"

	commonv1pb "github.com/dapr/dapr/pkg/proto/common/v1"
	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/statecar/statecar/internal/testutil"
)

// TestCryptoAbsent: statecar loads no crypto components. Encrypt and
// decrypt answer as daprd without them (500
// ERR_CRYPTO_PROVIDERS_NOT_CONFIGURED; over gRPC after daprd's checks of
// the stream's first message); the subtle crypto API as daprd's default
// build, which leaves it out (501 ERR_API_UNIMPLEMENTED after the body).
func TestCryptoAbsent(t *testing.T) {
	sc := testutil.Start(t, testutil.Options{AppID: "nocrypto"})
	notConfigured := `{"errorCode":"ERR_CRYPTO_PROVIDERS_NOT_CONFIGURED","message":"crypto providers not configured"}`
	unimplemented := `{"errorCode":"ERR_API_UNIMPLEMENTED","message":"this API is currently not implemented"}`
	steps := []step{
		req("PUT", "/v1.0-alpha1/crypto/keys/encrypt", `plain`, 500, notConfigured).h("dapr-key-name: k", "dapr-key-wrap-algorithm: RSA"),
		req("PUT", "/v1.0-alpha1/crypto/keys/encrypt", `plain`, 500, notConfigured),
		req("PUT", "/v1.0-alpha1/crypto/keys/decrypt", `cipher`, 500, notConfigured),
		req("POST", "/v1.0-alpha1/crypto/keys/encrypt", `x`, 404,
			`{"errorCode":"ERR_DIRECT_INVOKE","message":"failed getting app id either from the URL path or the header dapr-app-id"}`),
		req("POST", "/v1.0-alpha1/subtlecrypto/keys/sign", `{bad`, 400, "").any(),
	}
	for _, op := range []string{"getkey", "encrypt", "decrypt", "wrapkey", "unwrapkey", "sign", "verify"} {
		steps = append(steps, req("POST", "/v1.0-alpha1/subtlecrypto/keys/"+op, `{}`, 501, unimplemented))
	}
	runSteps(t, target{addr: sc.Addr(), sc: sc}, nil, steps)

	conn, err := grpc.NewClient(sc.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := runtimev1pb.NewDaprClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	encrypt := func(first *runtimev1pb.EncryptRequest) error {
		st, err := c.EncryptAlpha1(ctx)
		if err != nil {
			return err
		}
		if first != nil {
			if err := st.Send(first); err != nil {
				return err
			}
		}
		_ = st.CloseSend()
		_, err = st.Recv()
		return err
	}
	payload := &commonv1pb.StreamPayload{Data: []byte("hi")}
	for _, e := range []struct {
		name string
		err  error
		code codes.Code
		msg  string
	}{
		{"no message", encrypt(nil), codes.Internal, "failed to perform operation: error receiving the first message: EOF"},
		{"no options", encrypt(&runtimev1pb.EncryptRequest{Payload: payload}), codes.InvalidArgument, "invalid request: first message does not contain the required options"},
		{"no key", encrypt(&runtimev1pb.EncryptRequest{Options: &runtimev1pb.EncryptRequestOptions{ComponentName: "keys"}}), codes.InvalidArgument,
			"invalid request: missing property 'keyName' in the options message"},
		{"no algorithm", encrypt(&runtimev1pb.EncryptRequest{Options: &runtimev1pb.EncryptRequestOptions{ComponentName: "keys", KeyName: "k"}}), codes.InvalidArgument,
			"invalid request: missing property 'keyWrapAlgorithm' in the options message"},
		{"complete", encrypt(&runtimev1pb.EncryptRequest{Options: &runtimev1pb.EncryptRequestOptions{ComponentName: "keys", KeyName: "k", KeyWrapAlgorithm: "RSA"}, Payload: payload}),
			codes.Internal, "crypto providers not configured"},
		{"SubtleSignAlpha1", second(c.SubtleSignAlpha1(ctx, &runtimev1pb.SubtleSignRequest{ComponentName: "keys"})), codes.Unimplemented, "this API is currently not implemented"},
		{"SubtleGetKeyAlpha1", second(c.SubtleGetKeyAlpha1(ctx, &runtimev1pb.SubtleGetKeyRequest{ComponentName: "keys"})), codes.Unimplemented, "this API is currently not implemented"},
	} {
		if st, _ := status.FromError(e.err); st.Code() != e.code || st.Message() != e.msg {
			t.Errorf("%s: %v, want %v %q", e.name, e.err, e.code, e.msg)
		}
	}
	dst, err := c.DecryptAlpha1(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := dst.Send(&runtimev1pb.DecryptRequest{Options: &runtimev1pb.DecryptRequestOptions{ComponentName: "keys"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := dst.Recv(); status.Code(err) != codes.Internal || status.Convert(err).Message() != "crypto providers not configured" {
		t.Errorf("DecryptAlpha1: %v", err)
	}
}
