// Package gosdk is statecar's end-to-end suite for the gRPC API, driven by
// the official Dapr Go SDK (github.com/dapr/go-sdk v1.14.2, gRPC only). It
// is a separate Go module so that the SDK's dependency graph (dapr/dapr
// v1.17.0, grpc v1.78.0, durabletask-go, ...) stays out of the sidecar's
// go.mod.
//
// What it owns: building the real binary once (`go build ./cmd/statecar`
// from the repository root, or the prebuilt $STATECAR_BIN), starting it on
// free loopback ports (HTTP, gRPC, metrics) with a temporary --data-dir and
// a resources folder holding two state.pebble stores (statestore,
// querystore), and the tests: string/JSON/binary values, bulk get with
// misses, delete and bulk delete, ETag flows with first-write and
// last-write, transactions (atomic on failure), TTL (ttlExpireTime and
// expiry), query with paging, errors, GetMetadata/SetMetadata,
// dapr_grpc_io_server_* metrics, DAPR_API_TOKEN, and the Shutdown RPC
// (the process exits 0).
//
// Invariants:
//  1. A test talks to the sidecar only through the SDK's client (plus plain
//     HTTP for healthz, cross-protocol reads and metrics).
//  2. Every started sidecar is killed at the end of the test that started
//     it; its output is printed when that test failed.
//  3. No assertion depends on timing: waits (readiness, expiry, exit) poll
//     with generous deadlines that only guard against hangs.
//
// Run with `cd tests/gosdk && go test ./...`. Tests run sequentially on
// the test goroutine; the sidecar's output is collected by exec's copying
// goroutines into a mutex-guarded buffer.
package gosdk
