package grpcserver

import (
	"context"

	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"

	"github.com/statecar/statecar/api"
)

// The Jobs API over gRPC, answered as daprd without a scheduler (api.Jobs).

func (d *daprAPI) jobs() *api.Jobs {
	if d.cfg.Jobs != nil {
		return d.cfg.Jobs
	}
	return api.NewJobs(d.cfg.AppID, "default")
}

// ScheduleJob validates the job and fails: no scheduler.
func (d *daprAPI) ScheduleJob(_ context.Context, in *runtimev1pb.ScheduleJobRequest) (*runtimev1pb.ScheduleJobResponse, error) {
	return nil, fail(d.jobs().Schedule(in))
}

// GetJob fails: no scheduler.
func (d *daprAPI) GetJob(_ context.Context, in *runtimev1pb.GetJobRequest) (*runtimev1pb.GetJobResponse, error) {
	return nil, fail(d.jobs().Get(in.GetName()))
}

// DeleteJob fails: no scheduler.
func (d *daprAPI) DeleteJob(_ context.Context, in *runtimev1pb.DeleteJobRequest) (*runtimev1pb.DeleteJobResponse, error) {
	return nil, fail(d.jobs().Delete(in.GetName()))
}

// ScheduleJobAlpha1 validates the job and fails: no scheduler.
func (d *daprAPI) ScheduleJobAlpha1(_ context.Context, in *runtimev1pb.ScheduleJobRequest) (*runtimev1pb.ScheduleJobResponse, error) {
	return nil, fail(d.jobs().Schedule(in))
}

// GetJobAlpha1 fails: no scheduler.
func (d *daprAPI) GetJobAlpha1(_ context.Context, in *runtimev1pb.GetJobRequest) (*runtimev1pb.GetJobResponse, error) {
	return nil, fail(d.jobs().Get(in.GetName()))
}

// DeleteJobAlpha1 fails: no scheduler.
func (d *daprAPI) DeleteJobAlpha1(_ context.Context, in *runtimev1pb.DeleteJobRequest) (*runtimev1pb.DeleteJobResponse, error) {
	return nil, fail(d.jobs().Delete(in.GetName()))
}

// DeleteJobsByPrefix fails: no scheduler.
func (d *daprAPI) DeleteJobsByPrefix(context.Context, *runtimev1pb.DeleteJobsByPrefixRequest) (*runtimev1pb.DeleteJobsByPrefixResponse, error) {
	return nil, fail(d.jobs().DeleteByPrefix())
}

// DeleteJobsByPrefixAlpha1 fails: no scheduler.
func (d *daprAPI) DeleteJobsByPrefixAlpha1(context.Context, *runtimev1pb.DeleteJobsByPrefixRequestAlpha1) (*runtimev1pb.DeleteJobsByPrefixResponseAlpha1, error) {
	return nil, fail(d.jobs().DeleteByPrefix())
}

// ListJobs fails: no scheduler.
func (d *daprAPI) ListJobs(context.Context, *runtimev1pb.ListJobsRequest) (*runtimev1pb.ListJobsResponse, error) {
	return nil, fail(d.jobs().List())
}

// ListJobsAlpha1 fails: no scheduler.
func (d *daprAPI) ListJobsAlpha1(context.Context, *runtimev1pb.ListJobsRequestAlpha1) (*runtimev1pb.ListJobsResponseAlpha1, error) {
	return nil, fail(d.jobs().List())
}
