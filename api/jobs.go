package api

import (
	"net/http"

	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc/codes"
)

// The Jobs API is not implemented: daprd keeps jobs in the scheduler
// service, and statecar has no scheduler client. Jobs answers as daprd
// does when no --scheduler-host-address is given ("Scheduler disabled"):
// the request is validated as daprd validates it (pkg/api/universal/
// jobs.go), then the call fails as daprd's disabled scheduler clients make
// it fail at once, with "scheduler clients are disabled". Every error is a
// dapr/kit rich error (category "job") whose ErrorInfo carries the app ID
// and namespace.

// Error codes (ErrorInfo reasons) of the Jobs API.
const (
	CodeSchedulerScheduleJob   = "DAPR_SCHEDULER_SCHEDULE_JOB"
	CodeSchedulerJobName       = "DAPR_SCHEDULER_JOB_NAME"
	CodeSchedulerJobNameEmpty  = "DAPR_SCHEDULER_JOB_NAME_EMPTY"
	CodeSchedulerGetJob        = "DAPR_SCHEDULER_GET_JOB"
	CodeSchedulerListJobs      = "DAPR_SCHEDULER_LIST_JOBS"
	CodeSchedulerDeleteJob     = "DAPR_SCHEDULER_DELETE_JOB"
	CodeSchedulerEmpty         = "DAPR_SCHEDULER_EMPTY"
	CodeSchedulerScheduleEmpty = "DAPR_SCHEDULER_SCHEDULE_EMPTY"
)

// errSchedulerDisabled is the error of daprd's scheduler clients without
// scheduler addresses.
const errSchedulerDisabled = "scheduler clients are disabled"

// Jobs serves the Jobs API without a scheduler. It is immutable and safe
// for concurrent use.
type Jobs struct {
	meta map[string]string // appID, namespace
}

// NewJobs builds the Jobs API of appID. namespace is daprd's runtime
// namespace: env NAMESPACE, "default" when it is not set.
func NewJobs(appID, namespace string) *Jobs {
	return &Jobs{meta: map[string]string{"appID": appID, "namespace": namespace}}
}

func jobErr(httpStatus int, code codes.Code, reason, msg string, meta map[string]string) *Error {
	return &Error{status: httpStatus, code: code, tag: reason, msg: msg, grpcMsg: msg, rich: true, category: "job",
		details: []detail{{kind: detailErrorInfo, reason: reason, meta: sortedMeta(meta)}}}
}

// empty is daprd's apierrors.Empty: 400 "{name} is empty".
func (j *Jobs) empty(name, reason string) *Error {
	return jobErr(http.StatusBadRequest, codes.InvalidArgument, reason, name+" is empty", j.meta)
}

// disabled is the scheduler call's failure: 500 (gRPC Internal) with
// daprd's "failed to {what} due to: scheduler clients are disabled".
func (j *Jobs) disabled(reason, what string) *Error {
	return jobErr(http.StatusInternalServerError, codes.Internal, reason, "failed to "+what+" due to: "+errSchedulerDisabled, j.meta)
}

// NewSchedulerURLName is daprd's SchedulerURLName: 400 "Set the job name
// in the url only" for an HTTP body that names the job (ErrorInfo with the
// app ID only).
func NewSchedulerURLName(appID string) *Error {
	return jobErr(http.StatusBadRequest, codes.InvalidArgument, CodeSchedulerJobName, "Set the job name in the url only", map[string]string{"appID": appID})
}

// Schedule validates a job as daprd does (a job, a name, a schedule or due
// time) and fails to schedule it.
func (j *Jobs) Schedule(req *runtimev1pb.ScheduleJobRequest) *Error {
	job := req.GetJob()
	switch {
	case job == nil:
		return j.empty("Job", CodeSchedulerEmpty)
	case job.GetName() == "":
		return j.empty("Name", CodeSchedulerJobNameEmpty)
	case job.Schedule == nil && job.DueTime == nil:
		return j.empty("Schedule", CodeSchedulerScheduleEmpty)
	}
	return j.disabled(CodeSchedulerScheduleJob, "schedule job")
}

// Get fails to get job name.
func (j *Jobs) Get(name string) *Error {
	if name == "" {
		return j.empty("Name", CodeSchedulerJobNameEmpty)
	}
	return j.disabled(CodeSchedulerGetJob, "get job")
}

// Delete fails to delete job name.
func (j *Jobs) Delete(name string) *Error {
	if name == "" {
		return j.empty("Name", CodeSchedulerJobNameEmpty)
	}
	return j.disabled(CodeSchedulerDeleteJob, "delete job")
}

// DeleteByPrefix fails to delete the jobs of a name prefix.
func (j *Jobs) DeleteByPrefix() *Error { return j.disabled(CodeSchedulerDeleteJob, "delete job") }

// List fails to list the jobs.
func (j *Jobs) List() *Error { return j.disabled(CodeSchedulerListJobs, "list jobs") }
