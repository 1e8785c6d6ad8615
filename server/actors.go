package server

import (
	"net/http"

	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"

	"github.com/statecar/statecar/api"
)

// The Actors API routes (other-building-blocks.md §6; daprd
// pkg/api/http/actors.go). statecar has no actor runtime: it answers as
// daprd without --placement-host-address, 400 ERR_ACTOR_NO_PLACEMENT,
// after the checks daprd makes first on each route (the reserved workflow
// actor types, the body, the reminder or timer name).

// matchActor matches /v1.0/actors/{actorType}/{actorId}/...: params are
// the actor type, the actor ID and the method, key or name.
func matchActor(method string, segs []string, params routeParams) (routeID, routeParams) {
	params[0], params[1] = segs[2], segs[3]
	postPut := method == http.MethodPost || method == http.MethodPut
	if len(segs) == 5 {
		if segs[4] == "state" && postPut {
			return routeActorStateTx, params
		}
		return routeNone, params
	}
	params[2] = segs[5]
	switch segs[4] {
	case "method":
		switch method {
		case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete:
			return routeActorMethod, params
		}
	case "state":
		if method == http.MethodGet {
			return routeActorStateGet, params
		}
	case "reminders":
		switch {
		case postPut:
			return routeActorReminderSet, params
		case method == http.MethodDelete:
			return routeActorReminderDelete, params
		case method == http.MethodGet:
			return routeActorReminderGet, params
		}
	case "timers":
		switch {
		case postPut:
			return routeActorTimerSet, params
		case method == http.MethodDelete:
			return routeActorTimerDelete, params
		}
	}
	return routeNone, params
}

// actorAnswer writes the first failing check's error, or daprd's
// ERR_ACTOR_NO_PLACEMENT when all pass.
func (s *Runtime) actorAnswer(w response, checks ...func() *api.Error) {
	sc := getScratch()
	defer putScratch(sc)
	for _, c := range checks {
		if e := c(); e != nil {
			s.writeError(w, e, sc)
			return
		}
	}
	s.writeError(w, api.NewActorNoPlacement(), sc)
}

func rejectInternal(r request) func() *api.Error {
	return func() *api.Error { return api.RejectInternalActorType(string(r.param(0))) }
}

// actorBody decodes the body as daprd's json.Decoder does.
func actorBody(r request, into any) func() *api.Error {
	return func() *api.Error {
		if r.bodyTooLarge() {
			return api.NewBodyTooLarge()
		}
		return api.DecodeActorBody(r.body(), into)
	}
}

func actorName(r request) func() *api.Error {
	return func() *api.Error {
		if err := api.ValidateName(string(r.param(2))); err != nil {
			return api.NewBadRequest(err.Error())
		}
		return nil
	}
}

// handleActorMethod is GET|POST|PUT|DELETE
// /v1.0/actors/{type}/{id}/method/{method}: daprd asks the actor router
// before anything else.
func (s *Runtime) handleActorMethod(w response, _ request) { s.actorAnswer(w) }

// handleActorStateGet is GET /v1.0/actors/{type}/{id}/state/{key}.
func (s *Runtime) handleActorStateGet(w response, r request) { s.actorAnswer(w, rejectInternal(r)) }

// handleActorStateTx is POST|PUT /v1.0/actors/{type}/{id}/state with a
// JSON array of operations.
func (s *Runtime) handleActorStateTx(w response, r request) {
	var ops []api.TransactionalOperation
	s.actorAnswer(w, rejectInternal(r), actorBody(r, &ops))
}

// handleActorReminderSet is POST|PUT
// /v1.0/actors/{type}/{id}/reminders/{name}.
func (s *Runtime) handleActorReminderSet(w response, r request) {
	var req api.CreateReminderRequest
	s.actorAnswer(w, rejectInternal(r), actorBody(r, &req), actorName(r))
}

// handleActorTimerSet is POST|PUT /v1.0/actors/{type}/{id}/timers/{name}.
func (s *Runtime) handleActorTimerSet(w response, r request) {
	var req api.CreateTimerRequest
	s.actorAnswer(w, rejectInternal(r), actorBody(r, &req), actorName(r))
}

// handleActorReminderDelete is DELETE
// /v1.0/actors/{type}/{id}/reminders/{name}, a universal handler (a
// protojson body, if any, first).
func (s *Runtime) handleActorReminderDelete(w response, r request) {
	s.actorAnswer(w, func() *api.Error { return universalBody(r, &runtimev1pb.UnregisterActorReminderRequest{}) }, rejectInternal(r))
}

// handleActorTimerDelete is DELETE /v1.0/actors/{type}/{id}/timers/{name},
// a universal handler.
func (s *Runtime) handleActorTimerDelete(w response, r request) {
	s.actorAnswer(w, func() *api.Error { return universalBody(r, &runtimev1pb.UnregisterActorTimerRequest{}) }, rejectInternal(r))
}

// handleActorReminderGet is GET /v1.0/actors/{type}/{id}/reminders/{name},
// a universal handler that skips the body.
func (s *Runtime) handleActorReminderGet(w response, r request) { s.actorAnswer(w, rejectInternal(r)) }
