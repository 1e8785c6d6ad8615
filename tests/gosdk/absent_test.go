package gosdk

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	dapr "github.com/dapr/go-sdk/client"
	"google.golang.org/grpc/codes"
)

// TestAbsentBuildingBlocksSDK: the Go SDK's actor, jobs and crypto calls
// get daprd's answers for those building blocks switched off (no
// placement service, no scheduler, no crypto components), which is what
// statecar serves until it implements them.
func TestAbsentBuildingBlocksSDK(t *testing.T) {
	sc := startSidecarWith(t, "")
	c := newClient(t, sc)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	_, err := c.InvokeActor(ctx, &dapr.InvokeActorRequest{ActorType: "Cart", ActorID: "c1", Method: "add", Data: []byte(`{"n":1}`)})
	wantCode(t, err, codes.Unavailable, "placement service is not configured")
	_, err = c.GetActorState(ctx, &dapr.GetActorStateRequest{ActorType: "Cart", ActorID: "c1", KeyName: "k"})
	wantCode(t, err, codes.Unavailable, "placement service is not configured")
	err = c.RegisterActorReminder(ctx, &dapr.RegisterActorReminderRequest{ActorType: "Cart", ActorID: "c1", Name: "r", DueTime: "1s", Period: "5s"})
	wantCode(t, err, codes.Unavailable, "placement service is not configured")

	err = c.ScheduleJobAlpha1(ctx, dapr.NewJob("nightly", dapr.WithJobSchedule("@daily")))
	wantCode(t, err, codes.Internal, "failed to schedule job due to: scheduler clients are disabled")
	err = c.ScheduleJobAlpha1(ctx, dapr.NewJob("nightly"))
	wantCode(t, err, codes.InvalidArgument, "Schedule is empty")
	_, err = c.GetJobAlpha1(ctx, "nightly")
	wantCode(t, err, codes.Internal, "failed to get job due to: scheduler clients are disabled")
	err = c.DeleteJobAlpha1(ctx, "nightly")
	wantCode(t, err, codes.Internal, "failed to delete job due to: scheduler clients are disabled")

	out, err := c.Encrypt(ctx, strings.NewReader("secret"), dapr.EncryptOptions{ComponentName: "keys", KeyName: "k", KeyWrapAlgorithm: "RSA-OAEP-256"})
	if err == nil {
		_, err = io.ReadAll(out)
	}
	if err == nil || !strings.Contains(err.Error(), "crypto providers not configured") {
		t.Errorf("Encrypt: %v, want crypto providers not configured", err)
	}
}
