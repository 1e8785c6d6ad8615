package server

import (
	"net/http"
	"strings"

	internalv1pb "github.com/dapr/dapr/pkg/proto/internals/v1"
	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"

	"github.com/statecar/statecar/api"
)

// The Jobs API routes (other-building-blocks.md §7; daprd
// pkg/api/http/jobs.go): POST, GET and DELETE /v1.0-alpha1/jobs/{name}
// and /v1.0/jobs/{name}, answered as daprd without a scheduler (api.Jobs).

func (s *Runtime) jobs() *api.Jobs {
	if s.cfg.Jobs != nil {
		return s.cfg.Jobs
	}
	return api.NewJobs(s.cfg.AppID, "default")
}

// handleJobs serves the three methods. Scheduling decodes the protojson
// JobHTTPRequest body, whose name must stay empty (the path names the job,
// trimmed of spaces); get and delete skip the body.
func (s *Runtime) handleJobs(w response, r request) {
	sc := getScratch()
	defer putScratch(sc)
	name := string(r.param(0))
	var e *api.Error
	switch r.method() {
	case http.MethodPost:
		var in internalv1pb.JobHTTPRequest
		if e = universalBody(r, &in); e != nil {
			break
		}
		if in.GetName() != "" {
			e = api.NewSchedulerURLName(s.cfg.AppID)
			break
		}
		e = s.jobs().Schedule(&runtimev1pb.ScheduleJobRequest{Job: &runtimev1pb.Job{Name: strings.TrimSpace(name),
			Schedule: in.Schedule, DueTime: in.DueTime, Repeats: in.Repeats, Ttl: in.Ttl}})
	case http.MethodGet:
		e = s.jobs().Get(name)
	default:
		e = s.jobs().Delete(name)
	}
	s.writeError(w, e, sc)
}
