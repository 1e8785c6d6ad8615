package gosdk

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"
)

// TestSecrets reads secrets of a secretstores.local.env store through the
// Go SDK's GetSecret and GetBulkSecret (gRPC).
func TestSecrets(t *testing.T) {
	sc := startSidecar(t, "GOSDK_SECRET=s3cret", "DAPR_GOSDK_HIDDEN=x")
	c := newClient(t, sc)
	ctx := context.Background()

	got, err := c.GetSecret(ctx, "envsecrets", "GOSDK_SECRET", nil)
	if err != nil || len(got) != 1 || got["GOSDK_SECRET"] != "s3cret" {
		t.Fatalf("GetSecret = %v, %v; want {GOSDK_SECRET: s3cret}", got, err)
	}
	got, err = c.GetSecret(ctx, "envsecrets", "GOSDK_UNSET", map[string]string{"namespace": "x"})
	if err != nil || len(got) != 1 || got["GOSDK_UNSET"] != "" {
		t.Fatalf("GetSecret of an unset variable = %v, %v; want {GOSDK_UNSET: \"\"}", got, err)
	}
	bulk, err := c.GetBulkSecret(ctx, "envsecrets", nil)
	if err != nil || bulk["GOSDK_SECRET"]["GOSDK_SECRET"] != "s3cret" {
		t.Fatalf("GetBulkSecret = %v, %v", bulk["GOSDK_SECRET"], err)
	}
	if _, ok := bulk["DAPR_GOSDK_HIDDEN"]; ok {
		t.Fatal("GetBulkSecret returned a DAPR_ variable")
	}
	_, err = c.GetSecret(ctx, "nope", "GOSDK_SECRET", nil)
	wantCode(t, err, codes.InvalidArgument, "failed finding secret store with key nope")
}
