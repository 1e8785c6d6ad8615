// Package grpcserver is statecar's gRPC API server: the service
// dapr.proto.runtime.v1.Dapr on --dapr-grpc-port, wire-compatible with
// daprd (see shared/spec/state-grpc.md), built on grpc-go and Dapr's own
// generated code (github.com/dapr/dapr/pkg/proto/runtime/v1).
//
// What it owns:
//   - the listeners and the grpc.Server (keepalive, message size limits,
//     server reflection as daprd registers it; no grpc.health.v1 service,
//     which daprd's API port does not offer either; a pool of reused
//     stream workers so that RPCs do not pay a stack copy each);
//   - the conversion between Dapr's protobuf messages and the typed family
//     of package api (State.Get, BulkGet, Save, Delete, BulkDelete,
//     Transaction, Query), plus GetMetadata, SetMetadata and Shutdown, which
//     it delegates to callbacks from Config;
//   - the Configuration API allow/deny lists for gRPC, the dapr-api-token
//     check and the dapr_grpc_io_server_* metrics, done by one interceptor
//     in daprd's order.
//
// It owns no Dapr semantics: every validation, key prefix, ETag rule and
// error text comes from package api, whose *api.Error carries the exact
// gRPC status (code, message, google.rpc details).
//
// Invariants:
//  1. Every RPC other than the ten implemented ones answers
//     codes.Unimplemented with "method <Name> not implemented" (the embedded
//     runtimev1pb.UnimplementedDaprServer), never a partial behaviour.
//  2. When Config.APIToken is set, no handler runs for a call without the
//     matching dapr-api-token metadata; such calls get daprd's
//     Unauthenticated status. Calls outside the API allow/deny lists get
//     Unimplemented "Not Implemented" before the token is looked at.
//     Neither is counted in the metrics (daprd's interceptor order: lists,
//     auth, metrics).
//  3. Every error a state handler returns is an *api.Error converted with
//     GRPCStatus and counted once with api.CountError.
//  4. A handler never keeps a reference to its request or response after
//     it returns; responses may alias request bytes and values returned by
//     api (both outlive the marshalling of the reply).
//
// Goroutines: New and Start are called by the sidecar's main goroutine;
// grpc-go runs each RPC on its own goroutine, so handlers, the interceptor
// and the metrics are safe for concurrent use. GracefulStop and Stop may be
// called from any goroutine (for example the one running Config.Shutdown).
package grpcserver
