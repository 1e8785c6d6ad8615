package server

import (
	"net/http"

	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/protobuf/proto"

	"github.com/statecar/statecar/api"
)

// The Workflow API routes (other-building-blocks.md §8; daprd
// pkg/api/http/workflow.go) under /v1.0-alpha1, /v1.0-beta1 and /v1.0.
// daprd's workflow engine runs on actors; without a placement service
// every call fails with ERR_ACTOR_NO_PLACEMENT before anything else is
// checked, and so does statecar's, which has no workflow engine. The
// universal handlers decode a protojson body first (start and raiseEvent
// take the body as the input or event as it is).

// matchWorkflow matches {version}/workflows/{component}/{instanceID}[/op]
// and {version}/workflows/{component}/{instanceID}/raiseEvent/{event}.
func matchWorkflow(method string, segs []string, params routeParams) (routeID, routeParams) {
	var id routeID
	switch segs[0] {
	case "v1.0-alpha1":
		id = routeWorkflowAlpha1
	case "v1.0-beta1":
		id = routeWorkflowBeta1
	case "v1.0":
		id = routeWorkflow
	default:
		return routeNone, params
	}
	params[0], params[1] = segs[2], segs[3]
	switch {
	case len(segs) == 4 && method == http.MethodGet:
		return id, params
	case len(segs) == 5 && method == http.MethodPost && workflowBody(segs[4]) != nil:
		return id, params
	case len(segs) == 6 && method == http.MethodPost && segs[4] == "raiseEvent":
		params[2] = segs[5]
		return id, params
	}
	return routeNone, params
}

// workflowBody returns the request type an operation's protojson body is
// decoded into (an empty message for start, whose body is the input), or
// nil for a path that is no operation.
func workflowBody(op string) proto.Message {
	switch op {
	case "start":
		return &runtimev1pb.StartWorkflowRequest{}
	case "pause":
		return &runtimev1pb.PauseWorkflowRequest{}
	case "resume":
		return &runtimev1pb.ResumeWorkflowRequest{}
	case "terminate":
		return &runtimev1pb.TerminateWorkflowRequest{}
	case "purge":
		return &runtimev1pb.PurgeWorkflowRequest{}
	}
	return nil
}

// handleWorkflow answers every workflow route.
func (s *Runtime) handleWorkflow(w response, r request) {
	sc := getScratch()
	defer putScratch(sc)
	ps := splitPath(r.rawPath())
	var body proto.Message
	switch {
	case ps.n == 4:
		body = &runtimev1pb.GetWorkflowRequest{}
	case ps.n == 5 && ps.s[4] != "start":
		body = workflowBody(ps.s[4])
	}
	if body != nil {
		if e := universalBody(r, body); e != nil {
			s.writeError(w, e, sc)
			return
		}
	}
	s.writeError(w, api.NewActorNoPlacement(), sc)
}
