package e2e

import (
	"context"
	"testing"
	"time"

	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/statecar/statecar/internal/testutil"
)

// TestJobsAbsent: statecar has no scheduler client, so the Jobs API
// answers as daprd without --scheduler-host-address: daprd's validation
// (a job, a name, a schedule or due time, no name in the HTTP body), then
// "scheduler clients are disabled", all as dapr/kit rich errors whose
// ErrorInfo carries the app ID and daprd's runtime namespace.
func TestJobsAbsent(t *testing.T) {
	sc := testutil.Start(t, testutil.Options{AppID: "nojobs", Env: []string{"NAMESPACE=prod"}})
	rich := func(reason, msg string, meta string) string {
		return `{"errorCode":"` + reason + `","message":"` + msg + `","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","domain":"dapr.io","metadata":` +
			meta + `,"reason":"` + reason + `"}]}`
	}
	meta := `{"appID":"nojobs","namespace":"prod"}`
	var steps []step
	for _, v := range []string{"/v1.0-alpha1", "/v1.0"} {
		steps = append(steps,
			req("POST", v+"/jobs/j1", `{"schedule":"@every 1m","repeats":3,"data":{"task":"x"}}`, 500,
				rich("DAPR_SCHEDULER_SCHEDULE_JOB", "failed to schedule job due to: scheduler clients are disabled", meta)),
			req("POST", v+"/jobs/j1", `{"dueTime":"10s"}`, 500,
				rich("DAPR_SCHEDULER_SCHEDULE_JOB", "failed to schedule job due to: scheduler clients are disabled", meta)),
			req("POST", v+"/jobs/j1", `{"data":"no schedule"}`, 400, rich("DAPR_SCHEDULER_SCHEDULE_EMPTY", "Schedule is empty", meta)),
			req("POST", v+"/jobs/j1", ``, 400, rich("DAPR_SCHEDULER_SCHEDULE_EMPTY", "Schedule is empty", meta)),
			req("POST", v+"/jobs/j1", `{"name":"j1","dueTime":"1s"}`, 400,
				rich("DAPR_SCHEDULER_JOB_NAME", "Set the job name in the url only", `{"appID":"nojobs"}`)),
			req("POST", v+"/jobs/%20", `{"dueTime":"1s"}`, 400, rich("DAPR_SCHEDULER_JOB_NAME_EMPTY", "Name is empty", meta)),
			req("GET", v+"/jobs/j1", ``, 500, rich("DAPR_SCHEDULER_GET_JOB", "failed to get job due to: scheduler clients are disabled", meta)),
			req("DELETE", v+"/jobs/j1", ``, 500, rich("DAPR_SCHEDULER_DELETE_JOB", "failed to delete job due to: scheduler clients are disabled", meta)),
			req("PUT", v+"/jobs/j1", `{}`, 404,
				`{"errorCode":"ERR_DIRECT_INVOKE","message":"failed getting app id either from the URL path or the header dapr-app-id"}`),
		)
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
	every := "@every 1s"
	for _, e := range []struct {
		name   string
		err    error
		code   codes.Code
		reason string
		msg    string
	}{
		{"ScheduleJob", second(c.ScheduleJob(ctx, &runtimev1pb.ScheduleJobRequest{Job: &runtimev1pb.Job{Name: "j", Schedule: &every}})),
			codes.Internal, "DAPR_SCHEDULER_SCHEDULE_JOB", "failed to schedule job due to: scheduler clients are disabled"},
		{"ScheduleJob no job", second(c.ScheduleJob(ctx, &runtimev1pb.ScheduleJobRequest{})), codes.InvalidArgument, "DAPR_SCHEDULER_EMPTY", "Job is empty"},
		{"ScheduleJob no name", second(c.ScheduleJob(ctx, &runtimev1pb.ScheduleJobRequest{Job: &runtimev1pb.Job{Schedule: &every}})),
			codes.InvalidArgument, "DAPR_SCHEDULER_JOB_NAME_EMPTY", "Name is empty"},
		{"GetJob", second(c.GetJob(ctx, &runtimev1pb.GetJobRequest{Name: "j"})), codes.Internal, "DAPR_SCHEDULER_GET_JOB", "failed to get job due to: scheduler clients are disabled"},
		{"DeleteJob empty", second(c.DeleteJob(ctx, &runtimev1pb.DeleteJobRequest{})), codes.InvalidArgument, "DAPR_SCHEDULER_JOB_NAME_EMPTY", "Name is empty"},
		{"DeleteJobsByPrefix", second(c.DeleteJobsByPrefix(ctx, &runtimev1pb.DeleteJobsByPrefixRequest{})), codes.Internal, "DAPR_SCHEDULER_DELETE_JOB",
			"failed to delete job due to: scheduler clients are disabled"},
		{"ListJobs", second(c.ListJobs(ctx, &runtimev1pb.ListJobsRequest{})), codes.Internal, "DAPR_SCHEDULER_LIST_JOBS", "failed to list jobs due to: scheduler clients are disabled"},
	} {
		st, _ := status.FromError(e.err)
		var ei *errdetails.ErrorInfo
		for _, d := range st.Details() {
			if v, ok := d.(*errdetails.ErrorInfo); ok {
				ei = v
			}
		}
		if st.Code() != e.code || st.Message() != e.msg || ei == nil || ei.GetReason() != e.reason || ei.GetMetadata()["appID"] != "nojobs" || ei.GetMetadata()["namespace"] != "prod" {
			t.Errorf("%s: %v (details %v), want %v %q with reason %s", e.name, e.err, st.Details(), e.code, e.msg, e.reason)
		}
	}
}
