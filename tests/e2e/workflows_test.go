//lint:file-ignore SA1019 the alpha1 workflow RPCs are deprecated, and daprd still serves them.

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/statecar/statecar/internal/testutil"
)

// TestWorkflowsAbsent: statecar has no workflow engine; every Workflow API
// route of the three versions answers as daprd without a placement
// service (whose engine runs on actors): 400 ERR_ACTOR_NO_PLACEMENT, gRPC
// Unavailable, after the protojson body of the routes that decode one.
func TestWorkflowsAbsent(t *testing.T) {
	sc := testutil.Start(t, testutil.Options{AppID: "nowf"})
	noPlacement := `{"errorCode":"ERR_ACTOR_NO_PLACEMENT","message":"placement service is not configured"}`
	var steps []step
	for _, v := range []string{"/v1.0-alpha1", "/v1.0-beta1", "/v1.0"} {
		base := v + "/workflows/dapr"
		steps = append(steps,
			req("POST", base+"/OrderFlow/start?instanceID=o-1", `{"any":"input"}`, 400, noPlacement),
			req("POST", base+"/OrderFlow/start", `not json: the input as it is`, 400, noPlacement),
			req("GET", base+"/o-1", ``, 400, noPlacement),
			req("POST", base+"/o-1/raiseEvent/approved", `{bad`, 400, noPlacement),
			req("POST", base+"/o-1/pause", ``, 400, noPlacement),
			req("POST", base+"/o-1/resume", `{}`, 400, noPlacement),
			req("POST", base+"/o-1/terminate", ``, 400, noPlacement),
			req("POST", base+"/o-1/purge", ``, 400, noPlacement),
			req("DELETE", base+"/o-1", ``, 404,
				`{"errorCode":"ERR_DIRECT_INVOKE","message":"failed getting app id either from the URL path or the header dapr-app-id"}`),
		)
	}
	steps = append(steps,
		req("GET", "/v1.0-alpha2/workflows/dapr/o-1", ``, 404,
			`{"errorCode":"ERR_DIRECT_INVOKE","message":"failed getting app id either from the URL path or the header dapr-app-id"}`),
		req("POST", "/v1.0/workflows/dapr/o-1/restart", ``, 404,
			`{"errorCode":"ERR_DIRECT_INVOKE","message":"failed getting app id either from the URL path or the header dapr-app-id"}`),
	)
	runSteps(t, target{addr: sc.Addr(), sc: sc}, nil, steps)
	for _, p := range []string{"/v1.0/workflows/dapr/o-1/pause", "/v1.0/workflows/dapr/o-1"} {
		// Universal handlers decode the body first.
		resp, err := rawDo(sc.Addr(), map[bool]string{true: "POST", false: "GET"}[strings.HasSuffix(p, "pause")], p, nil, "{bad")
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != 400 || !strings.HasPrefix(string(resp.Body), `{"errorCode":"ERR_MALFORMED_REQUEST","message":"failed deserializing HTTP body: proto:`) {
			t.Errorf("%s with a bad body: %d %s", p, resp.Status, resp.Body)
		}
	}

	conn, err := grpc.NewClient(sc.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := runtimev1pb.NewDaprClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for name, err := range map[string]error{
		"StartWorkflowBeta1":       second(c.StartWorkflowBeta1(ctx, &runtimev1pb.StartWorkflowRequest{WorkflowComponent: "dapr", WorkflowName: "w"})),
		"GetWorkflowBeta1":         second(c.GetWorkflowBeta1(ctx, &runtimev1pb.GetWorkflowRequest{InstanceId: "i"})),
		"TerminateWorkflowAlpha1":  second(c.TerminateWorkflowAlpha1(ctx, &runtimev1pb.TerminateWorkflowRequest{InstanceId: "i"})),
		"RaiseEventWorkflowBeta1":  second(c.RaiseEventWorkflowBeta1(ctx, &runtimev1pb.RaiseEventWorkflowRequest{InstanceId: "i", EventName: "e"})),
		"PurgeWorkflowBeta1":       second(c.PurgeWorkflowBeta1(ctx, &runtimev1pb.PurgeWorkflowRequest{InstanceId: "i"})),
		"PauseWorkflowAlpha1":      second(c.PauseWorkflowAlpha1(ctx, &runtimev1pb.PauseWorkflowRequest{InstanceId: "i"})),
		"ResumeWorkflowBeta1":      second(c.ResumeWorkflowBeta1(ctx, &runtimev1pb.ResumeWorkflowRequest{InstanceId: "i"})),
		"StartWorkflowAlpha1 (id)": second(c.StartWorkflowAlpha1(ctx, &runtimev1pb.StartWorkflowRequest{InstanceId: "bad id!"})),
	} {
		if st, _ := status.FromError(err); st.Code() != codes.Unavailable || st.Message() != "placement service is not configured" {
			t.Errorf("%s: %v", name, err)
		}
	}
}
