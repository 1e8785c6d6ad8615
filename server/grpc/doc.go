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
//   - statecar's own HTTP/2 transport (h2*.go, the default; Config.Transport
//     "grpc-go" turns it off). It serves the unary Dapr methods called the
//     usual way by running their generated handlers with the same
//     interceptor, reads of in-memory stores inline on the connection's
//     reader, and hands every other request, with the bytes already
//     received, to the grpc.Server through ServeHTTP. It speaks HTTP/2 as
//     grpc-go's server does (SETTINGS, flow control both ways, keepalive
//     pings and their enforcement, GOAWAY on graceful stop, RST_STREAM for
//     malformed streams); see h2conn.go for its invariants;
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
//
//  1. Every RPC other than the implemented ones (state, secrets,
//     configuration, metadata, shutdown) answers
//     codes.Unimplemented with "method <Name> not implemented" (the embedded
//     runtimev1pb.UnimplementedDaprServer), never a partial behaviour.
//
//  2. When Config.APIToken is set, no handler runs for a call without the
//     matching dapr-api-token metadata; such calls get daprd's
//     Unauthenticated status. Calls outside the API allow/deny lists get
//     Unimplemented "Not Implemented" before the token is looked at.
//     Neither is counted in the metrics (daprd's interceptor order: lists,
//     auth, metrics).
//
//  3. Every error a state handler returns is an *api.Error converted with
//     GRPCStatus and counted once with api.CountGRPCError (not at all when
//     the status has no error code, as daprd).
//
//  4. A handler never keeps a reference to its request or response after
//     it returns; responses may alias request bytes and values returned by
//     api (both outlive the marshalling of the reply).
//
//  5. Both transports give the same answer to the same request: what the
//     statecar transport does not handle itself is grpc-go's to answer
//     (TestTransportsAgree, TestRawFraming).
//
// Goroutines: New and Start are called by the sidecar's main goroutine;
// RPCs run on a connection's reader (inline reads), on stream workers, or on
// goroutines of their own, so handlers, the interceptor and the metrics are
// safe for concurrent use. GracefulStop and Stop may be
// called from any goroutine (for example the one running Config.Shutdown).
package grpcserver
