package grpcserver

import (
	"context"

	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/statecar/statecar/api"
)

// The Actors API over gRPC. statecar has no actor runtime: as daprd
// without a placement address, every RPC fails with Unavailable "placement
// service is not configured" (ERR_ACTOR_NO_PLACEMENT), after the check
// that the actor type is not one of the workflow runtime's (InvokeActor
// asks the actor router first, so it fails at once).

// noActors answers an actor RPC on actorType.
func (d *daprAPI) noActors(actorType string) error {
	if e := api.RejectInternalActorType(actorType); e != nil {
		return fail(e)
	}
	return fail(api.NewActorNoPlacement())
}

// InvokeActor fails: no actor runtime.
func (d *daprAPI) InvokeActor(context.Context, *runtimev1pb.InvokeActorRequest) (*runtimev1pb.InvokeActorResponse, error) {
	return nil, fail(api.NewActorNoPlacement())
}

// GetActorState fails: no actor runtime.
func (d *daprAPI) GetActorState(_ context.Context, in *runtimev1pb.GetActorStateRequest) (*runtimev1pb.GetActorStateResponse, error) {
	return nil, d.noActors(in.GetActorType())
}

// ExecuteActorStateTransaction fails: no actor runtime.
func (d *daprAPI) ExecuteActorStateTransaction(_ context.Context, in *runtimev1pb.ExecuteActorStateTransactionRequest) (*emptypb.Empty, error) {
	return nil, d.noActors(in.GetActorType())
}

// RegisterActorTimer fails: no actor runtime.
func (d *daprAPI) RegisterActorTimer(_ context.Context, in *runtimev1pb.RegisterActorTimerRequest) (*emptypb.Empty, error) {
	return nil, d.noActors(in.GetActorType())
}

// UnregisterActorTimer fails: no actor runtime.
func (d *daprAPI) UnregisterActorTimer(_ context.Context, in *runtimev1pb.UnregisterActorTimerRequest) (*emptypb.Empty, error) {
	return nil, d.noActors(in.GetActorType())
}

// RegisterActorReminder fails: no actor runtime.
func (d *daprAPI) RegisterActorReminder(_ context.Context, in *runtimev1pb.RegisterActorReminderRequest) (*emptypb.Empty, error) {
	return nil, d.noActors(in.GetActorType())
}

// UnregisterActorReminder fails: no actor runtime.
func (d *daprAPI) UnregisterActorReminder(_ context.Context, in *runtimev1pb.UnregisterActorReminderRequest) (*emptypb.Empty, error) {
	return nil, d.noActors(in.GetActorType())
}

// UnregisterActorRemindersByType fails: no actor runtime.
func (d *daprAPI) UnregisterActorRemindersByType(_ context.Context, in *runtimev1pb.UnregisterActorRemindersByTypeRequest) (*runtimev1pb.UnregisterActorRemindersByTypeResponse, error) {
	return nil, d.noActors(in.GetActorType())
}

// ListActorReminders fails: no actor runtime.
func (d *daprAPI) ListActorReminders(_ context.Context, in *runtimev1pb.ListActorRemindersRequest) (*runtimev1pb.ListActorRemindersResponse, error) {
	return nil, d.noActors(in.GetActorType())
}

// GetActorReminder fails: no actor runtime.
func (d *daprAPI) GetActorReminder(_ context.Context, in *runtimev1pb.GetActorReminderRequest) (*runtimev1pb.GetActorReminderResponse, error) {
	return nil, d.noActors(in.GetActorType())
}
