package grpcserver

import (
	"context"

	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/statecar/statecar/api"
)

// The Workflow API over gRPC: daprd's engine runs on actors, so without a
// placement service every RPC fails with Unavailable "placement service
// is not configured" (ERR_ACTOR_NO_PLACEMENT) before any other check, and
// statecar, which has no workflow engine, answers the same.

// StartWorkflowAlpha1 fails: no workflow engine.
func (d *daprAPI) StartWorkflowAlpha1(context.Context, *runtimev1pb.StartWorkflowRequest) (*runtimev1pb.StartWorkflowResponse, error) {
	return nil, fail(api.NewActorNoPlacement())
}

// GetWorkflowAlpha1 fails: no workflow engine.
func (d *daprAPI) GetWorkflowAlpha1(context.Context, *runtimev1pb.GetWorkflowRequest) (*runtimev1pb.GetWorkflowResponse, error) {
	return nil, fail(api.NewActorNoPlacement())
}

// PurgeWorkflowAlpha1 fails: no workflow engine.
func (d *daprAPI) PurgeWorkflowAlpha1(context.Context, *runtimev1pb.PurgeWorkflowRequest) (*emptypb.Empty, error) {
	return nil, fail(api.NewActorNoPlacement())
}

// TerminateWorkflowAlpha1 fails: no workflow engine.
func (d *daprAPI) TerminateWorkflowAlpha1(context.Context, *runtimev1pb.TerminateWorkflowRequest) (*emptypb.Empty, error) {
	return nil, fail(api.NewActorNoPlacement())
}

// PauseWorkflowAlpha1 fails: no workflow engine.
func (d *daprAPI) PauseWorkflowAlpha1(context.Context, *runtimev1pb.PauseWorkflowRequest) (*emptypb.Empty, error) {
	return nil, fail(api.NewActorNoPlacement())
}

// ResumeWorkflowAlpha1 fails: no workflow engine.
func (d *daprAPI) ResumeWorkflowAlpha1(context.Context, *runtimev1pb.ResumeWorkflowRequest) (*emptypb.Empty, error) {
	return nil, fail(api.NewActorNoPlacement())
}

// RaiseEventWorkflowAlpha1 fails: no workflow engine.
func (d *daprAPI) RaiseEventWorkflowAlpha1(context.Context, *runtimev1pb.RaiseEventWorkflowRequest) (*emptypb.Empty, error) {
	return nil, fail(api.NewActorNoPlacement())
}

// StartWorkflowBeta1 fails: no workflow engine.
func (d *daprAPI) StartWorkflowBeta1(context.Context, *runtimev1pb.StartWorkflowRequest) (*runtimev1pb.StartWorkflowResponse, error) {
	return nil, fail(api.NewActorNoPlacement())
}

// GetWorkflowBeta1 fails: no workflow engine.
func (d *daprAPI) GetWorkflowBeta1(context.Context, *runtimev1pb.GetWorkflowRequest) (*runtimev1pb.GetWorkflowResponse, error) {
	return nil, fail(api.NewActorNoPlacement())
}

// PurgeWorkflowBeta1 fails: no workflow engine.
func (d *daprAPI) PurgeWorkflowBeta1(context.Context, *runtimev1pb.PurgeWorkflowRequest) (*emptypb.Empty, error) {
	return nil, fail(api.NewActorNoPlacement())
}

// TerminateWorkflowBeta1 fails: no workflow engine.
func (d *daprAPI) TerminateWorkflowBeta1(context.Context, *runtimev1pb.TerminateWorkflowRequest) (*emptypb.Empty, error) {
	return nil, fail(api.NewActorNoPlacement())
}

// PauseWorkflowBeta1 fails: no workflow engine.
func (d *daprAPI) PauseWorkflowBeta1(context.Context, *runtimev1pb.PauseWorkflowRequest) (*emptypb.Empty, error) {
	return nil, fail(api.NewActorNoPlacement())
}

// ResumeWorkflowBeta1 fails: no workflow engine.
func (d *daprAPI) ResumeWorkflowBeta1(context.Context, *runtimev1pb.ResumeWorkflowRequest) (*emptypb.Empty, error) {
	return nil, fail(api.NewActorNoPlacement())
}

// RaiseEventWorkflowBeta1 fails: no workflow engine.
func (d *daprAPI) RaiseEventWorkflowBeta1(context.Context, *runtimev1pb.RaiseEventWorkflowRequest) (*emptypb.Empty, error) {
	return nil, fail(api.NewActorNoPlacement())
}
